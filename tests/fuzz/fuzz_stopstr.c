/* libFuzzer harness for the stop-string / UTF-8 hold-back of generated text.
 * Input: a byte n (stop strings: n % 5), then n stop strings and the text
 * pieces, all separated by 0xFF bytes. Checks, on any input: what comes out
 * is valid UTF-8 and never contains a stop string; for valid UTF-8 text,
 * what comes out is the text up to where a stop string first completes
 * (all of it when none does), however the pieces cut it.
 *
 *   make fuzz && build-fuzz/fuzz_stopstr -max_total_time=60 */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "stopstr.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid(const char *s, size_t n)
{
	return utf8_valid((const unsigned char *)s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	size_t n_stop = data[0] % 5, at = 1;
	char *stops[LLORCH_MAX_STOP] = {0};
	size_t stop_len[LLORCH_MAX_STOP] = {0};
	for (size_t k = 0; k < n_stop; k++) {
		size_t end = at;
		while (end < size && data[end] != 0xff)
			end++;
		stops[k] = calloc(1, end - at + 1);
		memcpy(stops[k], data + at, end - at);
		stop_len[k] = strlen(stops[k]);
		at = end < size ? end + 1 : end;
	}
	llorch_stopstr s;
	if (llorch_stopstr_init(&s, (const char *const *)stops, n_stop) != LLORCH_OK)
		goto out;

	char *text = malloc(size + 1), *got = malloc(size * 3 + 16);
	size_t text_len = 0, got_len = 0;
	int matched = -1;
	while (at <= size && matched < 0) {
		size_t end = at;
		while (end < size && data[end] != 0xff)
			end++;
		const char *o;
		size_t ol;
		llorch_status st;
		memcpy(text + text_len, data + at, end - at);
		text_len += end - at;
		matched = llorch_stopstr_push(&s, (const char *)data + at, end - at, &o, &ol, &st);
		if (st != LLORCH_OK)
			abort();
		memcpy(got + got_len, o, ol);
		got_len += ol;
		at = end + 1;
	}
	const char *o;
	size_t ol;
	if (llorch_stopstr_finish(&s, &o, &ol) != LLORCH_OK)
		abort();
	memcpy(got + got_len, o, ol);
	got_len += ol;
	got[got_len] = '\0';

	if (!valid(got, got_len))
		abort();
	for (size_t k = 0; k < n_stop; k++)
		if (stop_len[k] <= got_len && memmem(got, got_len, stops[k], stop_len[k]))
			abort();
	if (valid(text, text_len)) {
		/* the reference: the first end offset where a stop string completes */
		size_t want = text_len;
		int want_k = -1;
		for (size_t e = 1; e <= text_len && want_k < 0; e++)
			for (size_t k = 0; k < n_stop; k++)
				if (stop_len[k] <= e && memcmp(text + e - stop_len[k], stops[k], stop_len[k]) == 0 &&
				    (want_k < 0 || e - stop_len[k] < want)) {
					want = e - stop_len[k];
					want_k = (int)k;
				}
		if (want_k != matched || got_len != want || memcmp(got, text, want) != 0)
			abort();
	}
	free(text);
	free(got);
	llorch_stopstr_free(&s);
out:
	for (size_t k = 0; k < n_stop; k++)
		free(stops[k]);
	return 0;
}
