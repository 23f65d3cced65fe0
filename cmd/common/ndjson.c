/* NDJSON reading and writing; see ndjson.h. */
#define _GNU_SOURCE /* memrchr */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

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

/* fgets that says how many bytes it stored, NUL bytes included: the room is
 * filled with a non-zero byte first, so the last NUL in it is the one fgets
 * ended the string with. false when nothing was read (end or error). */
static bool fgets_n(FILE *in, char *buf, size_t room, size_t *got)
{
	if (room > INT_MAX)
		room = INT_MAX;
	memset(buf, 0x7f, room);
	if (!fgets(buf, (int)room, in))
		return false;
	const char *end = memrchr(buf, '\0', room);
	*got = end ? (size_t)(end - buf) : room - 1;
	return true;
}

/* Reads up to '\n' into r->buf, growing it geometrically but never past
 * max_line + 1; a longer line is consumed and dropped. fgets finds the
 * newline in stdio's buffer with memchr: lines of logits run to megabytes,
 * and a byte at a time cost more than the rest of llorch-sample's work on
 * them. The pieces grow with the line (4 KiB, then doubling), so that a
 * short line does not pay for filling a large buffer. */
ndjson_read_result ndjson_read(ndjson_reader *r, const char **line, size_t *len)
{
	for (;;) {
		bool too_long = false, any = false, newline = false;
		size_t piece = 4096, got;

		r->len = 0;
		while (!newline) {
			if (too_long) {
				/* the rest of a long line: read and forget */
				char skip[4096];
				if (!fgets_n(r->in, skip, sizeof skip, &got))
					break;
				newline = got > 0 && skip[got - 1] == '\n';
				continue;
			}
			if (r->cap - r->len < 2) {
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
			size_t room = r->cap - r->len < piece ? r->cap - r->len : piece;
			if (!fgets_n(r->in, r->buf + r->len, room, &got))
				break;
			any = true;
			r->len += got;
			if (got > 0 && r->buf[r->len - 1] == '\n') {
				r->len--;
				newline = true;
			}
			if (piece < ((size_t)1 << 20))
				piece *= 2;
		}
		any = any || too_long;
		if (!newline && ferror(r->in))
			return NDJSON_IOERR;
		if (!any)
			return NDJSON_EOF;
		r->lineno++;
		if (too_long || r->len > r->max_line)
			return NDJSON_TOO_LONG;
		if (blank(r->buf, r->len)) {
			if (!newline)
				return NDJSON_EOF;
			continue;
		}
		r->buf[r->len] = '\0';
		*line = r->buf;
		*len = r->len;
		return NDJSON_LINE;
	}
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

bool ndjson_write_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* The line is encoded into memory and written at once: json_dumpf hands
 * stdio every key, number and comma as a call of its own (4% of
 * llorch-sample's time in the generation loop). */
int ndjson_write_tee(FILE *out, int fd, const json_t *v)
{
	const size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(9);
	char small[8192], *buf = small;
	size_t n = json_dumpb(v, small, sizeof small - 1, flags);

	if (n == 0)
		return -1;
	if (n > sizeof small - 1) {
		if (!(buf = malloc(n + 1)))
			return -1;
		if (json_dumpb(v, buf, n, flags) != n) {
			free(buf);
			return -1;
		}
	}
	buf[n] = '\n';
	int rc = 0;
	if (fd >= 0 && !ndjson_write_fd(fd, buf, n + 1))
		rc = -2;
	else if (fwrite(buf, 1, n + 1, out) != n + 1 || fflush(out) != 0)
		rc = -1;
	if (buf != small)
		free(buf);
	return rc;
}

int ndjson_write(FILE *out, const json_t *v)
{
	return ndjson_write_tee(out, -1, v) < 0 ? -1 : 0;
}

void ndjson_widen_pipe(int fd, int bytes)
{
#ifdef F_SETPIPE_SZ
	struct stat st;

	/* best effort: the kernel caps it at fs.pipe-max-size */
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fcntl(fd, F_GETPIPE_SZ) < bytes)
		(void)fcntl(fd, F_SETPIPE_SZ, bytes);
#else
	(void)fd;
	(void)bytes;
#endif
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

int ndjson_write_too_long(FILE *out, const char *file, unsigned long long lineno, size_t max_line)
{
	json_t *err = ndjson_error(NULL, "line_too_long", "%s%sline %llu is longer than %zu bytes",
			file ? file : "", file ? ": " : "", lineno, max_line);
	int rc = err ? ndjson_write(out, err) : -1;
	json_decref(err);
	return rc;
}

int ndjson_filter(FILE *in, size_t max_line, ndjson_answer_fn answer, void *user)
{
	return ndjson_filter_skips(in, max_line, answer, NULL, user);
}

int ndjson_filter_skips(FILE *in, size_t max_line, ndjson_answer_fn answer, ndjson_skip_fn skip,
		void *user)
{
	ndjson_reader r;
	const char *line;
	size_t len;
	bool failed = false;
	int rc = 0;

	/* stdio reads a pipe 4 KiB at a time: 67 reads for one line of GPT-2's
	 * logits in base64. Nothing has read from in yet, so its buffer may be
	 * set (glibc ignores the size without a buffer); once per process, as
	 * the buffer lives as long as the stream. */
	static char inbuf[(size_t)1 << 18];
	static bool buffered;
	if (!buffered) {
		buffered = true;
		setvbuf(in, inbuf, _IOFBF, sizeof inbuf);
	}
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
		if (res == NDJSON_TOO_LONG && skip) {
			lr = skip(r.lineno, r.max_line, user);
		} else if (res == NDJSON_TOO_LONG) {
			lr = ndjson_write_too_long(stdout, NULL, r.lineno, r.max_line) < 0 ? -1 : 1;
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
