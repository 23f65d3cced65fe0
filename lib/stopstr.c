/* Stop-string and UTF-8 hold-back for streamed generation; see stopstr.h. */
#include <stdlib.h>
#include <string.h>

#include "stopstr.h"
#include "utf8.h"

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
		if (len == 0 || len > LLORCH_STOP_MAX_BYTES ||
		    !utf8_valid((const unsigned char *)stop[i], len)) {
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

/* Copies held[0..n) to out, each ill-formed sequence replaced by one U+FFFD
 * (as the streaming decoder does). */
static bool release(llorch_stopstr *s, size_t n)
{
	size_t worst;

	s->out_len = 0;
	if (!llorch_mul_size(n, 3, &worst) || !grow(&s->out, &s->out_cap, worst + 1))
		return false;
	const unsigned char *p = (const unsigned char *)s->held;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_char_len(p + i, n - i);
		if (k == 0) {
			memcpy(s->out + s->out_len, UTF8_REPLACEMENT, 3);
			s->out_len += 3;
			i += utf8_bad_len(p + i, n - i);
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

/* Where a character cut short at the end of held starts (held_len when the
 * end is not inside one): it may still be completed by the next bytes. */
static size_t incomplete_tail(const llorch_stopstr *s)
{
	const unsigned char *p = (const unsigned char *)s->held;
	size_t n = s->held_len;

	for (size_t back = n < 3 ? n : 3; back > 0; back--)
		if (utf8_partial_len(p + n - back, back) == back)
			return n - back;
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
