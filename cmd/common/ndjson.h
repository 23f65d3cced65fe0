/* Newline-delimited JSON on stdin/stdout, as every llorch tool speaks it:
 * one compact JSON object per line, flushed after each line; lines longer
 * than a limit are rejected without being buffered whole; a bad line gets an
 * error object in its place and processing goes on. */
#ifndef LLORCH_NDJSON_H
#define LLORCH_NDJSON_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

#define NDJSON_DEFAULT_MAX_LINE (64u << 20) /* 64 MiB: room for all-position logits */

typedef struct {
	FILE *in;
	char *buf;
	size_t len, cap;
	size_t max_line;
	unsigned long long lineno; /* of the line last returned, from 1 */
} ndjson_reader;

void ndjson_reader_init(ndjson_reader *r, FILE *in, size_t max_line);
void ndjson_reader_free(ndjson_reader *r);

typedef enum {
	NDJSON_LINE = 1,     /* *line (NUL-terminated, no '\n') holds len bytes */
	NDJSON_EOF = 0,
	NDJSON_TOO_LONG = 2, /* the line was over max_line and has been skipped */
	NDJSON_IOERR = -1,
} ndjson_read_result;

/* Blank lines (only spaces, tabs, '\r') are skipped. A final line without
 * '\n' counts. */
ndjson_read_result ndjson_read(ndjson_reader *r, const char **line, size_t *len);

/* Parses one line that must hold a JSON object (duplicate keys rejected).
 * NULL with a message in err on failure. */
json_t *ndjson_parse_object(const char *line, size_t len, char *err, size_t errlen);

/* Locates, by a lexical scan only, the member name of the line's top-level
 * object when its value is a string without escapes: true with the offsets
 * of the value's first byte and of its closing quote. It lets a tool take a
 * megabyte base64 string out of a line before the JSON parser copies and
 * checks it byte by byte; the rest of the line must still be parsed, which
 * reports whatever is wrong with it. */
bool ndjson_find_raw_string(const char *line, size_t len, const char *name, size_t *start,
		size_t *end);

/* Writes v compactly plus '\n' and flushes. 0, or -1 on a write error. */
int ndjson_write(FILE *out, const json_t *v);

/* As ndjson_write, the line encoded once and written first, whole, to the
 * file descriptor fd (when fd >= 0): llorch-sample --loop sends it back to
 * llorch-forward before its own reader gets it. 0; -2 writing fd failed
 * (nothing went to out); -1 encoding or writing out failed. */
int ndjson_write_tee(FILE *out, int fd, const json_t *v);

/* Writes all n bytes to fd, through short writes and signals; false with
 * errno set when a write fails. */
bool ndjson_write_fd(int fd, const char *p, size_t n);

/* When fd is a pipe (Linux), asks for a capacity of bytes, so that a tool
 * writing lines of all the logits (268 KB in base64 for GPT-2) puts one in
 * with one write, without waking its reader four times along the way. */
void ndjson_widen_pipe(int fd, int bytes);

/* The error object for a bad line: a copy of the input's fields (input may
 * be NULL when the line was not JSON) with "error": {"code", "message"}
 * set. Codes used across the tools are listed in llorch(7). */
json_t *ndjson_error(const json_t *input, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Answers one input line: 0 answered, 1 an error object was written in its
 * place, -1 writing failed. */
typedef int (*ndjson_answer_fn)(const char *line, size_t len, void *user);

/* The loop of a filter tool: each line of in goes to answer, in order; a
 * line over max_line gets a line_too_long error object. in must not have
 * been read from: its buffer is set to 256 KiB first. Returns the exit
 * code: 0, 65 (EX_DATAERR) when some line got an error object, 74
 * (EX_IOERR, with a message on stderr) when reading or writing failed. */
int ndjson_filter(FILE *in, size_t max_line, ndjson_answer_fn answer, void *user);

/* Answers a line over max_line in its place (by ndjson_write_too_long or
 * otherwise): 1 done, -1 writing failed. */
typedef int (*ndjson_skip_fn)(unsigned long long lineno, size_t max_line, void *user);

/* As ndjson_filter, with skip answering the lines over max_line: a tool
 * that keeps count of the lines it gets back (llorch-sample --loop) sees
 * every one. */
int ndjson_filter_skips(FILE *in, size_t max_line, ndjson_answer_fn answer, ndjson_skip_fn skip,
		void *user);

/* The line_too_long error object for line lineno (of file, when not NULL:
 * its name starts the message), written to out: 0, or -1 when writing
 * failed. */
int ndjson_write_too_long(FILE *out, const char *file, unsigned long long lineno, size_t max_line);

#endif
