/* A growable byte buffer that the tools build their output lines in; the
 * append functions keep it NUL-terminated. A failed allocation sets failed and makes every later
 * append a no-op, so writers check once, at the end. */
#ifndef LLORCH_STRBUF_H
#define LLORCH_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
	char *p;      /* NULL until the first append */
	size_t len, cap;
	bool failed;  /* an allocation failed; the contents are short */
} strbuf;

/* Room for extra more bytes (and a NUL) past len, for writers that fill
 * p + len themselves and then advance len. false once an allocation failed. */
bool strbuf_reserve(strbuf *b, size_t extra);
void strbuf_append(strbuf *b, const void *s, size_t n);
void strbuf_puts(strbuf *b, const char *s);
void strbuf_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_free(strbuf *b);

#endif
