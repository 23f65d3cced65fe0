/* NDJSON reading and writing; see ndjson.h. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "ndjson.h"

void ndjson_reader_init(ndjson_reader *r, FILE *in, size_t max_line)
{
	memset(r, 0, sizeof *r);
	r->in = in;
	r->max_line = max_line ? max_line : NDJSON_DEFAULT_MAX_LINE;
}

void ndjson_reader_free(ndjson_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->len = 0;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Reads up to '\n' into r->buf, growing it geometrically but never past
 * max_line + 1; a longer line is consumed and dropped. The caller holds the
 * stream's lock: lines of logits run to megabytes, and a locked getc per
 * byte cost more than the rest of llorch-sample's work on them. */
static ndjson_read_result read_locked(ndjson_reader *r, const char **line, size_t *len)
{
	for (;;) {
		bool too_long = false, any = false;
		int c;

		r->len = 0;
		while ((c = getc_unlocked(r->in)) != EOF) {
			any = true;
			if (c == '\n')
				break;
			if (too_long)
				continue;
			if (r->len + 1 >= r->cap) {
				size_t ncap = r->cap ? r->cap * 2 : 4096;
				char *nb;

				if (ncap > r->max_line + 2)
					ncap = r->max_line + 2;
				if (r->len + 1 >= ncap) {
					too_long = true;
					continue;
				}
				nb = realloc(r->buf, ncap);
				if (!nb)
					return NDJSON_IOERR;
				r->buf = nb;
				r->cap = ncap;
			}
			r->buf[r->len++] = (char)c;
		}
		if (c == EOF && ferror(r->in))
			return NDJSON_IOERR;
		if (!any)
			return NDJSON_EOF;
		r->lineno++;
		if (too_long || r->len > r->max_line)
			return NDJSON_TOO_LONG;
		if (blank(r->buf, r->len)) {
			if (c == EOF)
				return NDJSON_EOF;
			continue;
		}
		r->buf[r->len] = '\0';
		*line = r->buf;
		*len = r->len;
		return NDJSON_LINE;
	}
}

ndjson_read_result ndjson_read(ndjson_reader *r, const char **line, size_t *len)
{
	flockfile(r->in);
	ndjson_read_result res = read_locked(r, line, len);
	funlockfile(r->in);
	return res;
}

json_t *ndjson_parse_object(const char *line, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);

	if (!v) {
		snprintf(err, errlen, "invalid JSON at column %d: %s", je.column, je.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		snprintf(err, errlen, "expected a JSON object");
		json_decref(v);
		return NULL;
	}
	return v;
}

/* The offset of the closing quote of the string whose contents start at i
 * (n when it is unterminated); *escaped tells whether it holds a backslash. */
static size_t string_end(const char *p, size_t n, size_t i, bool *escaped)
{
	*escaped = false;
	while (i < n) {
		const char *q = memchr(p + i, '"', n - i);
		if (!q)
			return n;
		size_t e = (size_t)(q - p);
		const char *b = memchr(p + i, '\\', e - i);
		if (!b)
			return e;
		*escaped = true;
		i = (size_t)(b - p) + 2; /* past the escaped character, maybe a quote */
	}
	return n;
}

bool ndjson_find_raw_string(const char *p, size_t n, const char *name, size_t *start,
		size_t *end)
{
	enum { OTHER, KEY, COLON, VALUE } want = OTHER; /* in the top-level object */
	size_t klen = strlen(name), i = 0;
	bool match = false, escaped;
	long depth = 0;

	while (i < n) {
		char c = p[i];

		if (c == '"') {
			size_t e = string_end(p, n, i + 1, &escaped);
			if (e >= n)
				return false;
			if (depth == 1 && want == KEY) {
				match = !escaped && e - i - 1 == klen && memcmp(p + i + 1, name, klen) == 0;
				want = COLON;
			} else if (depth == 1 && want == VALUE) {
				if (match && !escaped) {
					*start = i + 1;
					*end = e;
					return true;
				}
				want = OTHER;
			}
			i = e + 1;
			continue;
		}
		switch (c) {
		case '{':
		case '[':
			if (depth == 0 && c == '[')
				return false;
			if (depth == 1)
				want = OTHER;
			if (++depth == 1)
				want = KEY;
			break;
		case '}':
		case ']':
			if (--depth < 1)
				return false;
			break;
		case ',':
			if (depth == 1)
				want = KEY;
			break;
		case ':':
			if (depth == 1 && want == COLON)
				want = VALUE;
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			break;
		default:
			if (depth == 1)
				want = OTHER; /* a number or a literal */
			break;
		}
		i++;
	}
	return false;
}

int ndjson_write(FILE *out, const json_t *v)
{
	if (json_dumpf(v, out, JSON_COMPACT | JSON_REAL_PRECISION(9)) != 0)
		return -1;
	if (putc('\n', out) == EOF || fflush(out) != 0)
		return -1;
	return 0;
}

json_t *ndjson_error(const json_t *input, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *o = input ? json_copy((json_t *)input) : json_object();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!o)
		return NULL;
	json_object_set_new(o, "error", json_pack("{s:s, s:s}", "code", code, "message", msg));
	return o;
}

int ndjson_filter(FILE *in, size_t max_line, ndjson_answer_fn answer, void *user)
{
	ndjson_reader r;
	const char *line;
	size_t len;
	bool failed = false;
	int rc = 0;

	ndjson_reader_init(&r, in, max_line);
	for (;;) {
		ndjson_read_result res = ndjson_read(&r, &line, &len);
		if (res == NDJSON_EOF)
			break;
		if (res == NDJSON_IOERR) {
			cli_warn("error reading the input");
			rc = EX_IOERR;
			break;
		}
		int lr;
		if (res == NDJSON_TOO_LONG) {
			json_t *err = ndjson_error(NULL, "line_too_long", "line %llu is longer than %zu bytes",
					r.lineno, r.max_line);
			lr = !err || ndjson_write(stdout, err) < 0 ? -1 : 1;
			json_decref(err);
		} else {
			lr = answer(line, len, user);
		}
		if (lr < 0) {
			cli_warn("error writing stdout");
			rc = EX_IOERR;
			break;
		}
		failed |= lr > 0;
	}
	ndjson_reader_free(&r);
	return rc ? rc : failed ? EX_DATAERR : 0;
}
