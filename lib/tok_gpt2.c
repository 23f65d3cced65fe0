/* GPT-2 byte-level BPE: the pre-tokenizer regex splits the text into words,
 * each word's bytes become their unicode stand-in tokens, and merges apply
 * by rank, lowest first (leftmost on ties).
 *
 * The regex runs on PCRE2 because it is the one engine at hand with full
 * Unicode property classes (\p{L}, \p{N} with UCP), a
 * JIT, and a mode (PCRE2_MATCH_INVALID_UTF) that matches inside invalid
 * UTF-8 without failing: invalid bytes simply never match. Hand-written
 * classifiers would need their own Unicode tables and would drift from the
 * reference; POSIX regex has no \p{} at all. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* GPT-2's pattern, with \s spelt out as the Unicode White_Space property,
 * which is what the reference engines match (Python's regex, Rust's regex in
 * tiktoken and Hugging Face): PCRE2's own \s also takes U+180E. */
#define WS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
	"\\x{202F}\\x{205F}\\x{3000}"
static const char gpt2_pattern[] =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+"
	"|[" WS "]+(?![^" WS "])|[" WS "]+";

/* bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the
 * other 68 bytes map in order to U+0100 and up. */
static bool byte_printable(unsigned b)
{
	return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

uint32_t tok_gpt2_byte_to_cp(unsigned char b)
{
	uint32_t n = 0;

	if (byte_printable(b))
		return b;
	for (unsigned i = 0; i < b; i++)
		if (!byte_printable(i))
			n++;
	return 256 + n;
}

int tok_gpt2_cp_to_byte(uint32_t cp)
{
	uint32_t n = 0;

	if (cp < 256)
		return byte_printable(cp) ? (int)cp : -1;
	for (unsigned b = 0; b < 256; b++)
		if (!byte_printable(b) && 256 + n++ == cp)
			return (int)b;
	return -1;
}

llorch_status tok_gpt2_init(llorch_tokenizer *t)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)gpt2_pattern, PCRE2_ZERO_TERMINATED,
			PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);

	if (!re) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(err, msg, sizeof msg);
		return llorch_error(LLORCH_E_UNSUPPORTED, "PCRE2 rejects the GPT-2 pattern at %zu: %s",
				(size_t)off, (const char *)msg);
	}
	t->regex_jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
	t->regex = re;
	return LLORCH_OK;
}

void tok_gpt2_free(llorch_tokenizer *t)
{
	pcre2_code_free(t->regex);
	t->regex = NULL;
}

/* ---- BPE of one word ---- */

typedef struct {
	int32_t id;
	int32_t prev, next; /* -1 at the ends */
} bpe_sym;

typedef struct {
	bpe_sym *sym;
	tok_heap heap;
	size_t sym_cap, heap_cap;
} bpe_work;

static void queue_pair(const llorch_tokenizer *t, bpe_work *w, int32_t left)
{
	int32_t right = w->sym[left].next;
	const tok_merge *m;

	if (right < 0)
		return;
	m = tok_find_merge(t, w->sym[left].id, w->sym[right].id);
	/* ranks are below 2^24, exact as a float key */
	if (m)
		tok_heap_push(&w->heap, (tok_cand){(float)m->rank, left, right, m->a, m->b});
}

static llorch_status work_reserve(bpe_work *w, size_t n)
{
	/* each merge queues at most two new pairs: n - 1 + 2 (n - 1) entries */
	size_t heap_need = 3 * n;

	if (n > INT32_MAX / 4)
		return llorch_error(LLORCH_E_RANGE, "a word of %zu bytes is too long", n);
	if (n > w->sym_cap) {
		bpe_sym *s = realloc(w->sym, n * sizeof *s);

		if (!s)
			return llorch_error(LLORCH_E_NOMEM, "out of memory for a %zu-byte word", n);
		w->sym = s;
		w->sym_cap = n;
	}
	if (heap_need > w->heap_cap) {
		tok_cand *h = realloc(w->heap.v, heap_need * sizeof *h);

		if (!h)
			return llorch_error(LLORCH_E_NOMEM, "out of memory for a %zu-byte word", n);
		w->heap.v = h;
		w->heap_cap = heap_need;
	}
	return LLORCH_OK;
}

static llorch_status bpe_word(const llorch_tokenizer *t, bpe_work *w,
		const unsigned char *s, size_t n, tok_ids *out)
{
	llorch_status st = work_reserve(w, n);

	if (st != LLORCH_OK)
		return st;
	for (size_t i = 0; i < n; i++) {
		int32_t id = t->byte_id[s[i]];

		w->sym[i] = (bpe_sym){id >= 0 ? id : t->unk, (int32_t)i - 1,
			i + 1 < n ? (int32_t)i + 1 : -1};
	}
	w->heap.n = 0;
	for (size_t i = 0; i + 1 < n; i++)
		queue_pair(t, w, (int32_t)i);
	while (w->heap.n) {
		tok_cand c = tok_heap_pop(&w->heap);
		bpe_sym *l = &w->sym[c.left];
		int32_t r = l->next;
		const tok_merge *m;

		if (l->id != c.a || r < 0 || w->sym[r].id != c.b)
			continue;
		m = tok_find_merge(t, c.a, c.b);
		l->id = m->id;
		l->next = w->sym[r].next;
		if (l->next >= 0)
			w->sym[l->next].prev = c.left;
		w->sym[r].id = -1;
		if (l->prev >= 0)
			queue_pair(t, w, l->prev);
		queue_pair(t, w, c.left);
	}
	for (int32_t i = 0; i >= 0; i = w->sym[i].next)
		if ((st = tok_ids_push(out, w->sym[i].id)) != LLORCH_OK)
			return st;
	return LLORCH_OK;
}

static llorch_status encode_word(const llorch_tokenizer *t, bpe_work *w, tok_cache *cache,
		const unsigned char *s, size_t n, tok_ids *out)
{
	size_t before = out->n;
	llorch_status st;

	if (tok_cache_get(cache, s, n, out, &st))
		return st;
	if ((st = bpe_word(t, w, s, n, out)) != LLORCH_OK)
		return st;
	tok_cache_put(cache, s, n, out->v + before, out->n - before);
	return LLORCH_OK;
}

/* Splits text with the pre-tokenizer and encodes each piece. Bytes that are
 * not valid UTF-8 match no part of the pattern; each such byte is a word of
 * its own. */
llorch_status tok_gpt2_encode(const llorch_tokenizer *t, const char *text, size_t len,
		tok_ids *out)
{
	const pcre2_code *re = t->regex;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	const unsigned char *s = (const unsigned char *)text;
	bpe_work w = {0};
	tok_cache *cache = tok_cache_new(len);
	llorch_status st = LLORCH_OK;
	size_t pos = 0;

	if (!md) {
		tok_cache_free(cache);
		return llorch_error(LLORCH_E_NOMEM, "out of memory for a regex match");
	}
	while (pos < len && st == LLORCH_OK) {
		int rc = pcre2_match(re, s, len, pos, 0, md, NULL);
		size_t start = len, end = len;

		if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter's stack is on the heap */
			rc = pcre2_match(re, s, len, pos, PCRE2_NO_JIT, md, NULL);

		if (rc >= 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

			start = ov[0];
			end = ov[1];
		} else if (rc != PCRE2_ERROR_NOMATCH) {
			PCRE2_UCHAR msg[256];

			pcre2_get_error_message(rc, msg, sizeof msg);
			st = llorch_error(LLORCH_E_UNSUPPORTED, "pre-tokenizer failed at byte %zu: %s",
					pos, (const char *)msg);
			break;
		}
		for (; pos < start && st == LLORCH_OK; pos++)
			st = encode_word(t, &w, NULL, s + pos, 1, out);
		if (st != LLORCH_OK || start >= len)
			break;
		if (end <= start)
			end = start + 1; /* the pattern cannot match empty; be safe anyway */
		st = encode_word(t, &w, cache, s + start, end - start, out);
		pos = end;
	}
	pcre2_match_data_free(md);
	free(w.sym);
	free(w.heap.v);
	tok_cache_free(cache);
	return st;
}
