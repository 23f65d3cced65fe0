/* Byte buffers, JSON string literals, timestamps and random ids: the small
 * text tools every part of the worker writes its output with. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "serve.h"

static bool sb_reserve(sbuf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return false;
	if (extra > SIZE_MAX - b->len - 1) {
		b->oom = true;
		return false;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void sb_put(sbuf *b, const void *s, size_t n)
{
	if (!sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sb_puts(sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

void sb_printf(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sb_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sb_free(sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
			(len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

void sb_json_str(sbuf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	sb_put(b, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];
		size_t len = utf8_seq(s + i, n - i);
		char esc[8];

		if (len > 1 || (len == 1 && c >= 0x20 && c != '"' && c != '\\')) {
			i += len;
			run += len;
			continue;
		}
		sb_put(b, s + i - run, run);
		run = 0;
		if (len == 0)
			sb_put(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
		else if (c == '"')
			sb_put(b, "\\\"", 2);
		else if (c == '\\')
			sb_put(b, "\\\\", 2);
		else if (c == '\n')
			sb_put(b, "\\n", 2);
		else if (c == '\r')
			sb_put(b, "\\r", 2);
		else if (c == '\t')
			sb_put(b, "\\t", 2);
		else {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			sb_put(b, esc, 6);
		}
		i++;
	}
	sb_put(b, s + i - run, run);
	sb_put(b, "\"", 1);
}

void format_utc(char *buf, size_t cap, bool ms)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms)
		snprintf(buf, cap, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
	else
		snprintf(buf, cap, "%sZ", base);
}

void random_hex_id(char *buf33)
{
	unsigned char r[16];
	size_t got = 0;

	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);

		if (n <= 0) {
			/* no entropy source: the clock still gives a unique-enough id */
			uint64_t t = (uint64_t)now_ns() ^ ((uint64_t)clock() << 32);

			for (; got < sizeof r; got++, t = t * 6364136223846793005u + 1442695040888963407u)
				r[got] = (unsigned char)(t >> 56);
			break;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(buf33 + 2 * i, 3, "%02x", r[i]);
}
