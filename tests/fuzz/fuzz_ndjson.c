/* libFuzzer harness for the tools' NDJSON input: the line reader (over a
 * memory stream, with a small line limit so that over-long lines are hit),
 * the object parser, the lexical scan that takes a base64 "logits" string
 * out of a line (ndjson_find_raw_string), and both logits decoders. Checks,
 * on any input: a returned line is within the limit, NUL-terminated and
 * free of '\n'; a raw string found by the scan lies inside the line, is
 * closed by a quote and holds no quote or backslash, and when the line is
 * valid JSON it is exactly the member's value the parser sees; a decoded
 * base64 string holds no more floats than its bytes allow; what
 * ndjson_write writes of a parsed object parses back to it.
 *
 *   make fuzz && build-fuzz/fuzz_ndjson -max_total_time=60 */
#define _GNU_SOURCE /* fmemopen */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cmd/common/logits_codec.h"
#include "../../cmd/common/ndjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINE 2048

static void check_raw_string(const char *line, size_t len, json_t *obj)
{
	size_t start, end;
	char err[256];
	float *f = NULL;
	size_t n = 0;

	if (!ndjson_find_raw_string(line, len, "logits", &start, &end))
		return;
	if (!(start > 0 && start <= end && end < len && line[end] == '"' && line[start - 1] == '"'))
		abort();
	if (memchr(line + start, '"', end - start) || memchr(line + start, '\\', end - start))
		abort();
	if (obj) {
		json_t *v = json_object_get(obj, "logits");
		if (!json_is_string(v) || json_string_length(v) != end - start ||
				memcmp(json_string_value(v), line + start, end - start) != 0)
			abort();
	}
	if (codec_decode_base64_floats(line + start, end - start, &f, &n, err, sizeof err) &&
			n * 4 > (end - start) / 4 * 3)
		abort();
	free(f);
}

/* What ndjson_write makes of a parsed object, alone and beside copies of
 * itself (past the writer's 8 KiB buffer), is one line that parses back
 * to the same values. */
static void check_write(json_t *obj)
{
	for (int copies = 0; copies <= 8; copies += 8) {
		json_t *w = copies ? json_array() : json_incref(obj);
		for (int i = 0; i < copies; i++)
			json_array_append(w, obj);
		char *buf = NULL;
		size_t n = 0;
		FILE *out = open_memstream(&buf, &n);
		if (!out || !w)
			abort();
		if (ndjson_write(out, w) != 0)
			abort();
		fclose(out);
		if (n == 0 || buf[n - 1] != '\n' || memchr(buf, '\n', n - 1))
			abort();
		json_error_t je;
		json_t *back = json_loadb(buf, n - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		/* reals are written with 9 significant digits: compare the
		 * second writing with the first */
		if (!back)
			abort();
		char *again = json_dumps(back, JSON_COMPACT | JSON_REAL_PRECISION(9) | JSON_ENCODE_ANY);
		if (!again || strlen(again) != n - 1 || memcmp(again, buf, n - 1) != 0)
			abort();
		free(again);
		json_decref(back);
		free(buf);
		json_decref(w);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *in;
	ndjson_reader r;
	const char *line;
	size_t len;
	ndjson_read_result rc;

	if (size == 0 || size > 1 << 16)
		return 0;
	in = fmemopen((void *)(uintptr_t)data, size, "r");
	if (!in)
		return 0;
	ndjson_reader_init(&r, in, MAX_LINE);
	while ((rc = ndjson_read(&r, &line, &len)) != NDJSON_EOF && rc != NDJSON_IOERR) {
		if (rc != NDJSON_LINE)
			continue;
		if (len > MAX_LINE || line[len] != '\0' || memchr(line, '\n', len))
			abort();
		char err[256];
		json_t *obj = ndjson_parse_object(line, len, err, sizeof err);
		check_raw_string(line, len, obj);
		if (obj)
			check_write(obj);
		if (obj) {
			json_t *v = json_object_get(obj, "logits");
			float *f = NULL;
			size_t n = 0;
			if (v && codec_decode_floats(v, &f, &n, err, sizeof err))
				free(f);
			json_decref(obj);
		}
	}
	ndjson_reader_free(&r);
	fclose(in);
	return 0;
}
