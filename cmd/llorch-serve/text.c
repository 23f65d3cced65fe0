/* JSON string literals, timestamps and random ids: the small
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

void sb_json_str(strbuf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	strbuf_append(b, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];
		size_t len = utf8_char_len(s + i, n - i);
		char esc[8];

		if (len > 1 || (len == 1 && c >= 0x20 && c != '"' && c != '\\')) {
			i += len;
			run += len;
			continue;
		}
		strbuf_append(b, s + i - run, run);
		run = 0;
		if (len == 0) {
			strbuf_append(b, UTF8_REPLACEMENT, 3);
			i += utf8_bad_len(s + i, n - i);
			continue;
		}
		if (c == '"')
			strbuf_append(b, "\\\"", 2);
		else if (c == '\\')
			strbuf_append(b, "\\\\", 2);
		else if (c == '\n')
			strbuf_append(b, "\\n", 2);
		else if (c == '\r')
			strbuf_append(b, "\\r", 2);
		else if (c == '\t')
			strbuf_append(b, "\\t", 2);
		else {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			strbuf_append(b, esc, 6);
		}
		i++;
	}
	strbuf_append(b, s + i - run, run);
	strbuf_append(b, "\"", 1);
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
