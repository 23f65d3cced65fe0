/* The text hold-back of generation: stop strings split across tokens,
 * overlapping prefixes, several stop strings, UTF-8 cut between tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stopstr.h"

typedef struct {
	char text[4096];
	size_t len;
	int matched;
	int matched_at_push; /* index of the push that matched, else -1 */
} stream;

/* Pushes the pieces (NULL-ended), then finishes; collects all released text. */
static stream run(const char *const *stops, size_t n_stop, const char *const *pieces)
{
	llorch_stopstr s;
	stream r = {.matched = -1, .matched_at_push = -1};
	assert_int_equal(llorch_stopstr_init(&s, stops, n_stop), LLORCH_OK);
	for (int i = 0; pieces[i]; i++) {
		const char *out;
		size_t out_len;
		llorch_status st;
		int m = llorch_stopstr_push(&s, pieces[i], strlen(pieces[i]), &out, &out_len, &st);
		assert_int_equal(st, LLORCH_OK);
		assert_true(r.len + out_len < sizeof r.text);
		memcpy(r.text + r.len, out, out_len);
		r.len += out_len;
		if (m >= 0) {
			assert_int_equal(r.matched, -1);
			r.matched = m;
			r.matched_at_push = i;
		}
	}
	const char *out;
	size_t out_len;
	assert_int_equal(llorch_stopstr_finish(&s, &out, &out_len), LLORCH_OK);
	memcpy(r.text + r.len, out, out_len);
	r.len += out_len;
	r.text[r.len] = '\0';
	llorch_stopstr_free(&s);
	return r;
}

static void test_split_across_tokens(void **state)
{
	(void)state;
	const char *stops[] = {"world"};
	const char *pieces[] = {"hel", "lo wo", "rld", "!", NULL};
	stream r = run(stops, 1, pieces);
	assert_string_equal(r.text, "hello ");
	assert_int_equal(r.matched, 0);
	assert_int_equal(r.matched_at_push, 2);
}

static void test_held_back_until_it_cannot_match(void **state)
{
	(void)state;
	llorch_stopstr s;
	const char *stops[] = {"STOP"};
	const char *out;
	size_t n;
	llorch_status st;
	assert_int_equal(llorch_stopstr_init(&s, stops, 1), LLORCH_OK);
	assert_int_equal(llorch_stopstr_push(&s, "go ST", 5, &out, &n, &st), -1);
	assert_int_equal(n, 3); /* "go " out, "ST" held */
	assert_memory_equal(out, "go ", 3);
	assert_int_equal(llorch_stopstr_push(&s, "O", 1, &out, &n, &st), -1);
	assert_int_equal(n, 0);
	assert_int_equal(llorch_stopstr_push(&s, "ol", 2, &out, &n, &st), -1);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "STOol", 5);
	llorch_stopstr_free(&s);
}

static void test_overlapping_prefix(void **state)
{
	(void)state;
	const char *stops[] = {"ab"};
	const char *pieces[] = {"a", "a", "b", "c", NULL};
	stream r = run(stops, 1, pieces);
	assert_string_equal(r.text, "a");
	assert_int_equal(r.matched, 0);
	/* one piece */
	const char *one[] = {"aab", NULL};
	r = run(stops, 1, one);
	assert_string_equal(r.text, "a");
	/* self-overlapping stop string */
	const char *stops2[] = {"aab"};
	const char *p2[] = {"a", "a", "a", "b", NULL};
	r = run(stops2, 1, p2);
	assert_string_equal(r.text, "a");
	assert_int_equal(r.matched, 0);
}

static void test_several_stop_strings(void **state)
{
	(void)state;
	const char *stops[] = {"xyz", "yq", "END"};
	const char *pieces[] = {"axy", "q tail", NULL};
	stream r = run(stops, 3, pieces);
	assert_string_equal(r.text, "ax");
	assert_int_equal(r.matched, 1);
	/* the first to complete wins, even when another started earlier, and
	 * however the text is cut */
	const char *stops2[] = {"abcd", "bc"};
	const char *p2[] = {"xab", "cd", NULL};
	r = run(stops2, 2, p2);
	assert_string_equal(r.text, "xa");
	assert_int_equal(r.matched, 1);
	const char *p2b[] = {"xabcd", NULL};
	r = run(stops2, 2, p2b);
	assert_string_equal(r.text, "xa");
	/* same end: the earlier start; same start and end: the lower index */
	const char *stops3[] = {"bc", "abc", "abc"};
	const char *p3[] = {"zabc", NULL};
	r = run(stops3, 3, p3);
	assert_string_equal(r.text, "z");
	assert_int_equal(r.matched, 1);
}

static void test_stop_at_start(void **state)
{
	(void)state;
	const char *stops[] = {"Hi"};
	const char *pieces[] = {"Hi", " there", NULL};
	stream r = run(stops, 1, pieces);
	assert_int_equal(r.len, 0);
	assert_int_equal(r.matched, 0);
	assert_int_equal(r.matched_at_push, 0);
}

static void test_no_stop_releases_everything(void **state)
{
	(void)state;
	const char *stops[] = {"world"};
	const char *pieces[] = {"hello", " wor", NULL};
	stream r = run(stops, 1, pieces);
	assert_string_equal(r.text, "hello wor"); /* the held "wor" comes out at the end */
	assert_int_equal(r.matched, -1);
	const char *none[] = {"plain", " text", NULL};
	r = run(NULL, 0, none);
	assert_string_equal(r.text, "plain text");
}

static void test_utf8_split_with_stop(void **state)
{
	(void)state;
	/* "é" (c3 a9) cut between tokens, then a stop string starting with it */
	const char *stops[] = {"\xc3\xa9!"};
	const char *pieces[] = {"caf", "\xc3", "\xa9", "!", NULL};
	stream r = run(stops, 1, pieces);
	assert_string_equal(r.text, "caf");
	assert_int_equal(r.matched, 0);

	/* "€" (e2 82 ac) in three tokens: nothing until it is whole */
	llorch_stopstr s;
	const char *stops2[] = {"zz"};
	const char *out;
	size_t n;
	llorch_status st;
	assert_int_equal(llorch_stopstr_init(&s, stops2, 1), LLORCH_OK);
	llorch_stopstr_push(&s, "a\xe2", 2, &out, &n, &st);
	assert_int_equal(n, 1);
	llorch_stopstr_push(&s, "\x82", 1, &out, &n, &st);
	assert_int_equal(n, 0);
	llorch_stopstr_push(&s, "\xac z", 3, &out, &n, &st);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "\xe2\x82\xac ", 4);
	/* a stop string that shares a prefix byte with a multibyte char */
	llorch_stopstr_free(&s);
	const char *stops3[] = {"\xe2\x82\xac\xe2\x82\xac"};
	const char *p3[] = {"1", "\xe2\x82", "\xac\xe2", "\x82\xac", "2", NULL};
	r = run(stops3, 1, p3);
	assert_string_equal(r.text, "1");
	const char *p4[] = {"1", "\xe2\x82", "\xac\xe2", "\x82\xad", "2", NULL};
	r = run(stops3, 1, p4);
	assert_string_equal(r.text, "1\xe2\x82\xac\xe2\x82\xad" "2");
}

static void test_invalid_bytes_become_replacement(void **state)
{
	(void)state;
	/* an invalid byte; a character cut short at the end (one U+FFFD for
	 * the whole maximal subpart, as Unicode recommends) */
	const char *pieces[] = {"a\xff", "b\xe2\x82", NULL};
	stream r = run(NULL, 0, pieces);
	assert_string_equal(r.text, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	/* overlong and surrogate forms are invalid too */
	const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", NULL};
	r = run(NULL, 0, bad);
	assert_int_equal(r.len, 15);
}

static void test_bad_stop_strings(void **state)
{
	(void)state;
	llorch_stopstr s;
	const char *empty[] = {""};
	assert_int_equal(llorch_stopstr_init(&s, empty, 1), LLORCH_E_INVALID);
	const char *bad[] = {"ok", "\xa9x"};
	assert_int_equal(llorch_stopstr_init(&s, bad, 2), LLORCH_E_INVALID);
	const char *many[] = {"a", "b", "c", "d", "e"};
	assert_int_equal(llorch_stopstr_init(&s, many, 5), LLORCH_E_INVALID);
	char *longs = malloc(LLORCH_STOP_MAX_BYTES + 2);
	memset(longs, 'x', LLORCH_STOP_MAX_BYTES + 1);
	longs[LLORCH_STOP_MAX_BYTES + 1] = '\0';
	const char *lp[] = {longs};
	assert_int_equal(llorch_stopstr_init(&s, lp, 1), LLORCH_E_INVALID);
	free(longs);
}

/* Against a brute-force model: random text over a small alphabet, cut at
 * random places, with random stop strings. The released text must be the
 * text up to the match that completes first (then the earliest start, then
 * the lowest index), or all of it. */
static void test_random_against_reference(void **state)
{
	(void)state;
	srand(9);
	for (int round = 0; round < 3000; round++) {
		char text[64], stop_buf[3][6];
		const char *stops[3];
		int len = 1 + rand() % 40, n_stop = rand() % 4;
		for (int i = 0; i < len; i++)
			text[i] = "abc"[rand() % 3];
		text[len] = '\0';
		for (int k = 0; k < n_stop; k++) {
			int sl = 1 + rand() % 4;
			for (int i = 0; i < sl; i++)
				stop_buf[k][i] = "abc"[rand() % 3];
			stop_buf[k][sl] = '\0';
			stops[k] = stop_buf[k];
		}
		/* reference */
		int ref_at = len, ref_k = -1;
		for (int end = 1; end <= len && ref_k < 0; end++)
			for (int at = 0; at < end && ref_k < 0; at++)
				for (int k = 0; k < n_stop; k++)
					if ((int)strlen(stops[k]) == end - at &&
					    strncmp(text + at, stops[k], (size_t)(end - at)) == 0) {
						ref_at = at;
						ref_k = k;
						break;
					}
		/* cut into pieces */
		char piece_buf[64][64];
		const char *pieces[65];
		int np = 0;
		for (int at = 0; at < len;) {
			int pl = 1 + rand() % 5;
			if (pl > len - at)
				pl = len - at;
			memcpy(piece_buf[np], text + at, (size_t)pl);
			piece_buf[np][pl] = '\0';
			pieces[np] = piece_buf[np];
			np++;
			at += pl;
		}
		pieces[np] = NULL;
		stream r = run(n_stop ? stops : NULL, (size_t)n_stop, pieces);
		assert_int_equal(r.matched, ref_k);
		assert_int_equal(r.len, ref_at);
		assert_memory_equal(r.text, text, (size_t)ref_at);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_across_tokens),
		cmocka_unit_test(test_held_back_until_it_cannot_match),
		cmocka_unit_test(test_overlapping_prefix),
		cmocka_unit_test(test_several_stop_strings),
		cmocka_unit_test(test_stop_at_start),
		cmocka_unit_test(test_no_stop_releases_everything),
		cmocka_unit_test(test_utf8_split_with_stop),
		cmocka_unit_test(test_invalid_bytes_become_replacement),
		cmocka_unit_test(test_bad_stop_strings),
		cmocka_unit_test(test_random_against_reference),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
