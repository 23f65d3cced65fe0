/* SentencePiece BPE, as sentencepiece's bpe_model.cc and llama.cpp's
 * llm_tokenizer_spm encode: spaces become U+2581 ('▁'), a dummy-prefix space
 * goes first, the text splits into characters, and the adjacent pair whose
 * concatenation is the vocabulary piece with the highest score merges first
 * (leftmost on ties) until no pair is a piece. A piece typed UNUSED is split
 * back into what it was merged from; a character with no piece falls back to
 * its <0xNN> byte tokens, or to the unknown token. Invalid UTF-8 bytes are
 * characters of their own, so they reach byte fallback.
 *
 * When no piece holds a '▁' right after another character (true of
 * vocabularies trained with split_by_whitespace, as Llama's), no merge can
 * cross the start of a word, so each word is merged on its own: the same
 * result, with small heaps that stay in cache. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "utf8.h"

typedef struct {
	uint32_t start, len; /* bytes of the escaped text */
	int32_t prev, next;  /* -1 at the ends */
	int32_t node;        /* merge tree of this symbol */
} spm_sym;

typedef struct {
	int32_t left, right; /* children; -1 for a character */
	uint32_t start, len;
} spm_node;

static const char spm_space[] = "\xE2\x96\x81"; /* U+2581 '▁' */

typedef struct {
	const llorch_tokenizer *t;
	const char *s; /* the escaped text */
	spm_sym *sym;
	spm_node *node;
	int32_t n_node;
	tok_heap heap;
	int32_t *stack; /* for resegment() */
	size_t cap;     /* the arrays have room for a segment of cap bytes */
} spm_work;

/* Room for a segment of n bytes: at most one symbol per byte; each merge
 * adds a node and queues at most two pairs; the resegment stack never holds
 * more entries than there are nodes. Sized per segment (a word, usually),
 * not per text. */
static llorch_status spm_reserve(spm_work *w, size_t n)
{
	void *sym, *node, *heap, *stack;

	if (n <= w->cap)
		return LLORCH_OK;
	sym = realloc(w->sym, n * sizeof *w->sym);
	if (sym)
		w->sym = sym;
	node = realloc(w->node, 2 * n * sizeof *w->node);
	if (node)
		w->node = node;
	heap = realloc(w->heap.v, 3 * n * sizeof *w->heap.v);
	if (heap)
		w->heap.v = heap;
	stack = realloc(w->stack, (2 * n + 2) * sizeof *w->stack);
	if (stack)
		w->stack = stack;
	if (!sym || !node || !heap || !stack)
		return llorch_error(LLORCH_E_NOMEM, "out of memory to tokenize a %zu-byte word", n);
	w->cap = n;
	return LLORCH_OK;
}

/* The id of a piece that merging may produce (not a control, byte or
 * unknown token, as in sentencepiece), or -1. */
static int32_t mergeable_piece(const llorch_tokenizer *t, const char *s, size_t len)
{
	int32_t id = tok_find(t, s, len);

	if (id < 0)
		return -1;
	switch (t->tok[id].type) {
	case TOK_TYPE_NORMAL:
	case TOK_TYPE_USER_DEFINED:
	case TOK_TYPE_UNUSED:
	case TOK_TYPE_UNDEFINED:
		return id;
	}
	return -1;
}

static void queue_pair(spm_work *w, int32_t left)
{
	int32_t right = w->sym[left].next;
	uint32_t size;
	int32_t id;

	if (right < 0)
		return;
	size = w->sym[left].len + w->sym[right].len;
	id = mergeable_piece(w->t, w->s + w->sym[left].start, size);
	/* a: the size when queued, so that stale entries can be told */
	if (id >= 0)
		tok_heap_push(&w->heap, (tok_cand){-w->t->tok[id].score, left, right,
			(int32_t)size, id});
}

/* Byte fallback for a character that is no piece. */
static llorch_status emit_unknown(const llorch_tokenizer *t, const char *s, size_t len,
		bool *prev_unk, tok_ids *out)
{
	llorch_status st;

	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)s[i];
		int32_t id = t->byte_id[b];

		if (id >= 0) {
			if ((st = tok_ids_push(out, id)) != LLORCH_OK)
				return st;
			*prev_unk = false;
			continue;
		}
		if (t->unk < 0)
			return llorch_error(LLORCH_E_UNSUPPORTED, "cannot encode byte 0x%02X: the "
					"vocabulary has neither its byte token nor an unknown token", b);
		/* a run of unknown text is one unknown token, as in sentencepiece */
		if (!*prev_unk && (st = tok_ids_push(out, t->unk)) != LLORCH_OK)
			return st;
		*prev_unk = true;
	}
	return LLORCH_OK;
}

/* Outputs the tokens of one final symbol, splitting UNUSED pieces back into
 * their parts (an explicit stack: merge trees can be as deep as the text). */
static llorch_status resegment(spm_work *w, int32_t root, int32_t *stack, bool *prev_unk,
		tok_ids *out)
{
	size_t sp = 0;
	llorch_status st;

	stack[sp++] = root;
	while (sp) {
		const spm_node *n = &w->node[stack[--sp]];
		int32_t id = mergeable_piece(w->t, w->s + n->start, n->len);

		if (id >= 0 && w->t->tok[id].type != TOK_TYPE_UNUSED) {
			if ((st = tok_ids_push(out, id)) != LLORCH_OK)
				return st;
			*prev_unk = false;
		} else if (n->left >= 0) {
			stack[sp++] = n->right;
			stack[sp++] = n->left;
		} else if ((st = emit_unknown(w->t, w->s + n->start, n->len, prev_unk, out))
				!= LLORCH_OK) {
			return st;
		}
	}
	return LLORCH_OK;
}

/* Encodes the symbols of one segment s[0, n) of the escaped text. */
static llorch_status spm_run(spm_work *w, const char *s, size_t n, bool *prev_unk,
		tok_ids *out)
{
	size_t n_sym = 0;
	llorch_status st = spm_reserve(w, n);

	if (st != LLORCH_OK)
		return st;
	w->s = s;
	w->heap.n = 0;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_char_len((const unsigned char *)s + i, n - i);

		if (k == 0)
			k = 1;
		w->node[n_sym] = (spm_node){-1, -1, (uint32_t)i, (uint32_t)k};
		w->sym[n_sym] = (spm_sym){(uint32_t)i, (uint32_t)k, (int32_t)n_sym - 1,
			i + k < n ? (int32_t)n_sym + 1 : -1, (int32_t)n_sym};
		n_sym++;
		i += k;
	}
	w->n_node = (int32_t)n_sym;
	for (size_t i = 0; i + 1 < n_sym; i++)
		queue_pair(w, (int32_t)i);
	while (w->heap.n) {
		tok_cand c = tok_heap_pop(&w->heap);
		spm_sym *l = &w->sym[c.left], *r = &w->sym[c.right];
		uint32_t size = (uint32_t)c.a;

		if (l->len == 0 || r->len == 0 || l->next != c.right || l->len + r->len != size)
			continue;
		w->node[w->n_node] = (spm_node){l->node, r->node, l->start, size};
		l->node = w->n_node++;
		l->len = size;
		l->next = r->next;
		if (r->next >= 0)
			w->sym[r->next].prev = c.left;
		r->len = 0;
		if (l->prev >= 0)
			queue_pair(w, l->prev);
		queue_pair(w, c.left);
	}
	for (int32_t i = 0; n_sym && i >= 0 && st == LLORCH_OK; i = w->sym[i].next)
		st = resegment(w, w->sym[i].node, w->stack, prev_unk, out);
	return st;
}

static bool memchr_i32(const int32_t *v, size_t n, int32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* Where the next segment starts after from: at a '▁' that follows another
 * character (when the vocabulary allows cutting there), else n. */
static size_t segment_end(const llorch_tokenizer *t, const char *s, size_t from, size_t n)
{
	if (!t->spm_split_words)
		return n;
	for (size_t i = from + 1; i + 3 <= n; i++)
		if (memcmp(s + i, spm_space, 3) == 0 && (i < 3 || memcmp(s + i - 3, spm_space, 3) != 0))
			return i;
	return n;
}

llorch_status tok_spm_encode(const llorch_tokenizer *t, const char *text, size_t len,
		bool prefix_space, tok_ids *out)
{
	spm_work w = {.t = t};
	char *s;
	tok_cache *cache;
	size_t n = 0, cap;
	bool prev_unk = false;
	llorch_status st = LLORCH_OK;

	if (len > (SIZE_MAX - 3) / 3 || len > INT32_MAX / 8)
		return llorch_error(LLORCH_E_RANGE, "text of %zu bytes is too long to tokenize", len);
	cap = 3 * len + 3;
	s = malloc(cap);
	if (!s)
		return llorch_error(LLORCH_E_NOMEM, "out of memory to tokenize %zu bytes", len);
	if (prefix_space) {
		memcpy(s, spm_space, 3);
		n = 3;
	}
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ' ') {
			memcpy(s + n, spm_space, 3);
			n += 3;
		} else {
			s[n++] = text[i];
		}
	}
	cache = t->spm_split_words ? tok_cache_new(n) : NULL;
	for (size_t from = 0; from < n && st == LLORCH_OK;) {
		size_t end = segment_end(t, s, from, n), before = out->n;

		if (tok_cache_get(cache, s + from, end - from, out, &st)) {
			prev_unk = false;
		} else {
			st = spm_run(&w, s + from, end - from, &prev_unk, out);
			/* a word's tokens depend on what came before only through
			 * runs of unknown text */
			if (st == LLORCH_OK && out->n > before && !prev_unk &&
					!memchr_i32(out->v + before, out->n - before, t->unk))
				tok_cache_put(cache, s + from, end - from, out->v + before,
						out->n - before);
		}
		from = end;
	}
	tok_cache_free(cache);
	free(w.sym);
	free(w.node);
	free(w.heap.v);
	free(w.stack);
	free(s);
	return st;
}
