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
#include "utf8.h"

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

void sb_json_str(sbuf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	sb_put(b, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];
		size_t len = utf8_char_len(s + i, n - i);
		char esc[8];

		if (len > 1 || (len == 1 && c >= 0x20 && c != '"' && c != '\\')) {
			i += len;
			run += len;
			continue;
		}
		sb_put(b, s + i - run, run);
		run = 0;
		if (len == 0) {
			sb_put(b, UTF8_REPLACEMENT, 3);
			i += utf8_bad_len(s + i, n - i);
			continue;
		}
		if (c == '"')
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
