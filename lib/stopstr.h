/* The text hold-back of generation (internal): bytes go in as tokens decode,
 * text comes out only when it is valid UTF-8 and can no longer be the start
 * of a stop string; a stop string itself never comes out.
 *
 * The matcher sees the stream as one byte string, whatever the cuts between
 * pushes. The stream ends where a stop string first completes (the smallest
 * end offset; ties: the earliest start, then the lower index); failing that, it holds the longest suffix that is a proper prefix of some stop
 * string, and the bytes of a UTF-8 character not yet complete. Everything
 * before is released, each ill-formed UTF-8 sequence replaced by U+FFFD. */
#ifndef LLORCH_STOPSTR_H
#define LLORCH_STOPSTR_H

#include "internal.h"

#define LLORCH_STOP_MAX_BYTES 4096

typedef struct {
	char *stop[LLORCH_MAX_STOP];
	size_t stop_len[LLORCH_MAX_STOP];
	size_t n_stop;
	char *held; /* bytes not yet released */
	size_t held_len, held_cap;
	char *out; /* the text released by the last call */
	size_t out_len, out_cap;
	int matched; /* index of the stop string found, else -1 */
} llorch_stopstr;

/* Copies the stop strings: each 1..LLORCH_STOP_MAX_BYTES bytes of valid
 * UTF-8, at most LLORCH_MAX_STOP of them (else INVALID). */
llorch_status llorch_stopstr_init(llorch_stopstr *s, const char *const *stop, size_t n_stop);
void llorch_stopstr_free(llorch_stopstr *s);
/* Starts a new stream with the same stop strings. */
void llorch_stopstr_reset(llorch_stopstr *s);

/* Appends len bytes; out, out_len: the text released now (valid until the
 * next call). Returns the index of a stop string that has just matched (the
 * stream is over: text from the match on is dropped), else -1. After a match
 * further pushes release nothing. NOMEM is reported through *st. */
int llorch_stopstr_push(llorch_stopstr *s, const char *bytes, size_t len,
		const char **out, size_t *out_len, llorch_status *st);
/* The end of the stream without a match: releases all that is held (an
 * incomplete character becomes U+FFFD). */
llorch_status llorch_stopstr_finish(llorch_stopstr *s, const char **out, size_t *out_len);

#endif
