/* Stop-string and UTF-8 hold-back for streamed generation; see stopstr.h. */
#include <stdlib.h>
#include <string.h>

#include "stopstr.h"

size_t llorch_utf8_seq_len(const unsigned char *s, size_t n, bool *incomplete)
{
	*incomplete = false;
	if (n == 0)
		return 0;
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
	if (c < 0x80)
		return 1;
	else if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0; /* no overlong forms */
		if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f; /* nothing above U+10FFFF */
	} else
		return 0;
	for (size_t i = 1; i < need; i++) {
		if (i >= n) {
			*incomplete = true;
			return 0;
		}
		unsigned char b = s[i];
		if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
			return 0;
	}
	return need;
}

static bool grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 64;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return false;
		n *= 2;
	}
	char *p = realloc(*buf, n);
	if (!p)
		return false;
	*buf = p;
	*cap = n;
	return true;
}

static bool valid_utf8(const char *s, size_t n)
{
	bool inc;
	for (size_t i = 0; i < n;) {
		size_t k = llorch_utf8_seq_len((const unsigned char *)s + i, n - i, &inc);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

llorch_status llorch_stopstr_init(llorch_stopstr *s, const char *const *stop, size_t n_stop)
{
	memset(s, 0, sizeof *s);
	s->matched = -1;
	if (n_stop > LLORCH_MAX_STOP)
		return llorch_error(LLORCH_E_INVALID, "at most %d stop strings (got %zu)", LLORCH_MAX_STOP,
				n_stop);
	if (n_stop && !stop)
		return llorch_error(LLORCH_E_INVALID, "stop strings missing");
	for (size_t i = 0; i < n_stop; i++) {
		size_t len = stop[i] ? strlen(stop[i]) : 0;
		if (len == 0 || len > LLORCH_STOP_MAX_BYTES || !valid_utf8(stop[i], len)) {
			llorch_stopstr_free(s);
			return llorch_error(LLORCH_E_INVALID,
					"stop string %zu must be 1..%d bytes of valid UTF-8", i,
					LLORCH_STOP_MAX_BYTES);
		}
		s->stop[i] = malloc(len + 1);
		if (!s->stop[i]) {
			llorch_stopstr_free(s);
			return llorch_error(LLORCH_E_NOMEM, "out of memory for stop strings");
		}
		memcpy(s->stop[i], stop[i], len + 1);
		s->stop_len[i] = len;
		s->n_stop = i + 1;
	}
	return LLORCH_OK;
}

void llorch_stopstr_free(llorch_stopstr *s)
{
	for (size_t i = 0; i < LLORCH_MAX_STOP; i++)
		free(s->stop[i]);
	free(s->held);
	free(s->out);
	memset(s, 0, sizeof *s);
	s->matched = -1;
}

void llorch_stopstr_reset(llorch_stopstr *s)
{
	s->held_len = 0;
	s->out_len = 0;
	s->matched = -1;
}

/* Copies held[0..n) to out, replacing invalid UTF-8 with U+FFFD. */
static bool release(llorch_stopstr *s, size_t n)
{
	static const char fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};
	size_t worst;

	s->out_len = 0;
	if (!llorch_mul_size(n, 3, &worst) || !grow(&s->out, &s->out_cap, worst + 1))
		return false;
	const unsigned char *p = (const unsigned char *)s->held;
	for (size_t i = 0; i < n;) {
		bool inc;
		size_t k = llorch_utf8_seq_len(p + i, n - i, &inc);
		if (k == 0) {
			memcpy(s->out + s->out_len, fffd, 3);
			s->out_len += 3;
			i++;
			continue;
		}
		memcpy(s->out + s->out_len, p + i, k);
		s->out_len += k;
		i += k;
	}
	s->out[s->out_len] = '\0';
	memmove(s->held, s->held + n, s->held_len - n);
	s->held_len -= n;
	return true;
}

/* Where a complete character that is cut short at the end of held starts
 * (held_len when the end is not inside one). */
static size_t incomplete_tail(const llorch_stopstr *s)
{
	const unsigned char *p = (const unsigned char *)s->held;
	size_t n = s->held_len;
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		unsigned char c = p[n - back];
		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		bool inc;
		llorch_utf8_seq_len(p + n - back, back, &inc);
		return inc ? n - back : n;
	}
	return n;
}

int llorch_stopstr_push(llorch_stopstr *s, const char *bytes, size_t len,
		const char **out, size_t *out_len, llorch_status *st)
{
	size_t need;

	*st = LLORCH_OK;
	*out = "";
	*out_len = 0;
	s->out_len = 0;
	if (s->matched >= 0 || len == 0)
		return -1;
	if (!llorch_add_size(s->held_len, len, &need) || !grow(&s->held, &s->held_cap, need)) {
		*st = llorch_error(LLORCH_E_NOMEM, "out of memory holding back generated text");
		return -1;
	}
	/* Only a match that ends in the new bytes is new: search from where the
	 * longest stop string could have started. */
	size_t old = s->held_len;
	memcpy(s->held + old, bytes, len);
	s->held_len += len;

	/* The stream stops where a stop string first completes: the smallest
	 * end, then the earliest start, then the lowest index. Only matches that
	 * end in the new bytes are new. */
	size_t best_at = SIZE_MAX, best_end = SIZE_MAX;
	int best = -1;
	for (size_t k = 0; k < s->n_stop; k++) {
		size_t sl = s->stop_len[k];
		size_t from = old + 1 > sl ? old + 1 - sl : 0;
		for (size_t at = from; at + sl <= s->held_len; at++) {
			if (at + sl > best_end || (at + sl == best_end && at >= best_at))
				break;
			if (memcmp(s->held + at, s->stop[k], sl) == 0) {
				best_at = at;
				best_end = at + sl;
				best = (int)k;
				break;
			}
		}
	}
	size_t keep_from;
	if (best >= 0) {
		s->matched = best;
		s->held_len = best_at; /* the stop string and all after it are dropped */
		keep_from = best_at;
	} else {
		/* the longest suffix that is a proper prefix of a stop string */
		keep_from = s->held_len;
		for (size_t k = 0; k < s->n_stop; k++) {
			size_t sl = s->stop_len[k];
			size_t max = sl - 1 < s->held_len ? sl - 1 : s->held_len;
			for (size_t l = max; l > 0 && s->held_len - l < keep_from; l--)
				if (memcmp(s->held + s->held_len - l, s->stop[k], l) == 0) {
					keep_from = s->held_len - l;
					break;
				}
		}
		size_t tail = incomplete_tail(s);
		if (tail < keep_from)
			keep_from = tail;
	}
	if (!release(s, keep_from)) {
		*st = llorch_error(LLORCH_E_NOMEM, "out of memory releasing generated text");
		return -1;
	}
	if (best >= 0)
		s->held_len = 0;
	*out = s->out;
	*out_len = s->out_len;
	return best;
}

llorch_status llorch_stopstr_finish(llorch_stopstr *s, const char **out, size_t *out_len)
{
	*out = "";
	*out_len = 0;
	if (s->matched >= 0 || s->held_len == 0)
		return LLORCH_OK;
	if (!release(s, s->held_len))
		return llorch_error(LLORCH_E_NOMEM, "out of memory releasing generated text");
	*out = s->out;
	*out_len = s->out_len;
	return LLORCH_OK;
}
