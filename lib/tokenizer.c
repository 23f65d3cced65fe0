/* The tokenizer common to both kinds: building it from a vocabulary, lookup
 * tables, special tokens in the input, encode dispatch and decoding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "utf8.h"

/* What SentencePiece prints for the unknown token (" ⁇ "). */
static const char spm_unk_surface[] = " \xE2\x81\x87 ";
static const char spm_space[] = "\xE2\x96\x81"; /* U+2581 '▁' */

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3u;
	}
	return h ^ (h >> 29);
}

static uint64_t hash_pair(int32_t a, int32_t b)
{
	uint64_t h = (uint64_t)(uint32_t)a * 0x9E3779B97F4A7C15u ^ (uint32_t)b;

	h *= 0xBF58476D1CE4E5B9u;
	return h ^ (h >> 31);
}

/* Half-empty tables with a good hash have chains of a few dozen at most:
 * a longer one means strings chosen to collide, which would make loading
 * and encoding quadratic. */
#define MAX_PROBES 4096

/* A power of two at least twice n (load factor <= 1/2). */
static size_t table_size(size_t n)
{
	size_t c = 16;

	while (c < 2 * n)
		c *= 2;
	return c;
}

int32_t tok_find(const llorch_tokenizer *t, const char *s, size_t len)
{
	size_t i = (size_t)hash_bytes(s, len) & t->index_mask;

	for (;;) {
		int32_t id = t->index[i];

		if (id < 0)
			return -1;
		if (t->tok[id].len == len && memcmp(t->text + t->tok[id].off, s, len) == 0)
			return id;
		i = (i + 1) & t->index_mask;
	}
}

const tok_merge *tok_find_merge(const llorch_tokenizer *t, int32_t a, int32_t b)
{
	size_t i;

	if (!t->merges)
		return NULL;
	i = (size_t)hash_pair(a, b) & t->merges_mask;
	for (;;) {
		const tok_merge *m = &t->merges[i];

		if (m->id < 0)
			return NULL;
		if (m->a == a && m->b == b)
			return m;
		i = (i + 1) & t->merges_mask;
	}
}

llorch_status tok_ids_push(tok_ids *o, int32_t id)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		int32_t *v;

		if (cap > SIZE_MAX / sizeof *v)
			return llorch_error(LLORCH_E_NOMEM, "token list too long");
		v = realloc(o->v, cap * sizeof *v);
		if (!v)
			return llorch_error(LLORCH_E_NOMEM, "out of memory for %zu tokens", cap);
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = id;
	return LLORCH_OK;
}

static bool cand_before(const tok_cand *x, const tok_cand *y)
{
	return x->key < y->key || (x->key == y->key && x->left < y->left);
}

void tok_heap_push(tok_heap *h, tok_cand c)
{
	size_t i = h->n++;

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!cand_before(&c, &h->v[p]))
			break;
		h->v[i] = h->v[p];
		i = p;
	}
	h->v[i] = c;
}

tok_cand tok_heap_pop(tok_heap *h)
{
	tok_cand top = h->v[0], last = h->v[--h->n];
	size_t i = 0, n = h->n;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && cand_before(&h->v[c + 1], &h->v[c]))
			c++;
		if (!cand_before(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (n)
		h->v[i] = last;
	return top;
}

#define CACHE_WORD_MAX 32
#define CACHE_SLOTS 4096

typedef struct {
	uint64_t hash; /* 0: empty */
	uint8_t len, n_ids;
	unsigned char word[CACHE_WORD_MAX];
	int32_t ids[CACHE_WORD_MAX];
} cache_slot;

struct tok_cache {
	size_t mask;
	cache_slot slot[];
};

tok_cache *tok_cache_new(size_t text_len)
{
	size_t n = 64;
	tok_cache *c;

	/* a cache costs more than it saves on a few words; about one slot
	 * per 16 bytes of text, so that clearing it stays cheap */
	if (text_len <= 8 * CACHE_WORD_MAX)
		return NULL;
	while (n < CACHE_SLOTS && n * 16 < text_len)
		n *= 2;
	c = calloc(1, sizeof *c + n * sizeof *c->slot);
	if (c)
		c->mask = n - 1;
	return c;
}

void tok_cache_free(tok_cache *c)
{
	free(c);
}

static uint64_t word_hash(const void *s, size_t n)
{
	return hash_bytes(s, n) | 1;
}

bool tok_cache_get(tok_cache *c, const void *word, size_t n, tok_ids *out, llorch_status *st)
{
	const cache_slot *slot;
	uint64_t h;

	if (!c || n > CACHE_WORD_MAX)
		return false;
	h = word_hash(word, n);
	slot = &c->slot[h & c->mask];
	if (slot->hash != h || slot->len != n || memcmp(slot->word, word, n) != 0)
		return false;
	*st = LLORCH_OK;
	for (size_t i = 0; i < slot->n_ids && *st == LLORCH_OK; i++)
		*st = tok_ids_push(out, slot->ids[i]);
	return true;
}

void tok_cache_put(tok_cache *c, const void *word, size_t n, const int32_t *ids, size_t k)
{
	cache_slot *slot;
	uint64_t h;

	if (!c || n > CACHE_WORD_MAX || k > CACHE_WORD_MAX)
		return;
	h = word_hash(word, n);
	slot = &c->slot[h & c->mask];
	slot->hash = h;
	slot->len = (uint8_t)n;
	slot->n_ids = (uint8_t)k;
	memcpy(slot->word, word, n);
	memcpy(slot->ids, ids, k * sizeof *ids);
}

/* "<0xNN>" with exactly two hex digits: the byte, else -1. */
static int parse_byte_token(const char *s, size_t len)
{
	int v = 0;

	if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	for (int i = 3; i < 5; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else
			return -1;
	}
	return v;
}

static bool is_plain_type(int32_t type)
{
	return type == TOK_TYPE_NORMAL || type == TOK_TYPE_USER_DEFINED ||
		type == TOK_TYPE_UNUSED || type == TOK_TYPE_UNDEFINED;
}

/* Appends the bytes token id decodes to (before any dummy-prefix handling). */
static size_t decoded_form(const llorch_tokenizer *t, const tok_entry *e, unsigned char *out)
{
	const unsigned char *s = (const unsigned char *)t->text + e->off;
	size_t n = 0;

	if (t->kind == LLORCH_TOK_SPM) {
		int b;

		if (e->type == TOK_TYPE_UNKNOWN) {
			memcpy(out, spm_unk_surface, sizeof spm_unk_surface - 1);
			return sizeof spm_unk_surface - 1;
		}
		if (e->type == TOK_TYPE_BYTE && (b = parse_byte_token((const char *)s, e->len)) >= 0) {
			out[0] = (unsigned char)b;
			return 1;
		}
		if (!is_plain_type(e->type)) {
			memcpy(out, s, e->len);
			return e->len;
		}
		for (size_t i = 0; i < e->len;) {
			if (e->len - i >= 3 && memcmp(s + i, spm_space, 3) == 0) {
				out[n++] = ' ';
				i += 3;
			} else {
				out[n++] = s[i++];
			}
		}
		return n;
	}
	if (e->type == TOK_TYPE_CONTROL || e->type == TOK_TYPE_USER_DEFINED ||
			e->type == TOK_TYPE_UNKNOWN) {
		memcpy(out, s, e->len);
		return e->len;
	}
	/* Byte-level BPE: every character stands for one byte; anything else
	 * (invalid UTF-8, characters outside the mapping) is kept as it is. */
	for (size_t i = 0; i < e->len;) {
		size_t k = utf8_char_len(s + i, e->len - i);
		int b = k ? tok_gpt2_cp_to_byte(utf8_decode(s + i, k)) : -1;

		if (b >= 0) {
			out[n++] = (unsigned char)b;
			i += k;
		} else if (k) {
			memcpy(out + n, s + i, k);
			n += k;
			i += k;
		} else {
			out[n++] = s[i++];
		}
	}
	return n;
}

static bool id_ok(const llorch_tokenizer *t, int64_t id)
{
	return id >= 0 && id < t->n_vocab;
}

/* Sort keys for the matchable tokens: by first byte, then longest first,
 * then by id. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_parse_special(const llorch_tokenizer *t, int32_t id)
{
	int32_t type = t->tok[id].type;

	return type == TOK_TYPE_CONTROL || type == TOK_TYPE_UNKNOWN || id == t->bos ||
		id == t->eos || id == t->unk || id == t->pad;
}

static llorch_status build_matchable(llorch_tokenizer *t)
{
	size_t n = 0;
	uint64_t *keys;

	for (int32_t id = 0; id < t->n_vocab; id++)
		if (t->tok[id].len > 0 && (is_parse_special(t, id) ||
				t->tok[id].type == TOK_TYPE_USER_DEFINED))
			n++;
	if (n == 0)
		return LLORCH_OK;
	t->matchable = malloc(n * sizeof *t->matchable);
	keys = malloc(n * sizeof *keys);
	if (!t->matchable || !keys) {
		free(keys);
		return llorch_error(LLORCH_E_NOMEM, "out of memory for special tokens");
	}
	for (int32_t id = 0; id < t->n_vocab; id++) {
		const tok_entry *e = &t->tok[id];
		unsigned char first;

		if (e->len == 0)
			continue;
		first = (unsigned char)t->text[e->off];
		if (is_parse_special(t, id))
			t->match_first[first] |= 1;
		else if (e->type == TOK_TYPE_USER_DEFINED)
			t->match_first[first] |= 2;
		else
			continue;
		/* first: 8 bits; lengths are below 2^30; ids below 2^24 */
		keys[t->n_matchable++] = (uint64_t)first << 54 |
			(uint64_t)((1u << 30) - 1 - e->len) << 24 | (uint32_t)id;
	}
	qsort(keys, n, sizeof *keys, cmp_u64);
	for (size_t i = 0; i < n; i++)
		t->matchable[i] = (int32_t)(keys[i] & 0xFFFFFF);
	for (size_t b = 0, i = 0; b <= 256; b++) {
		while (i < n && keys[i] >> 54 < b)
			i++;
		t->match_start[b] = (uint32_t)i;
	}
	free(keys);
	return LLORCH_OK;
}

static llorch_status build_merges(llorch_tokenizer *t, const tok_spec *s)
{
	size_t skipped = 0;

	if (s->n_merges == 0)
		return LLORCH_OK;
	if (s->n_merges > TOK_MAX_VOCAB)
		return llorch_error(LLORCH_E_FORMAT, "%zu merges: more than the %d we accept",
				s->n_merges, TOK_MAX_VOCAB);
	t->merges_mask = table_size(s->n_merges) - 1;
	t->merges = malloc((t->merges_mask + 1) * sizeof *t->merges);
	if (!t->merges)
		return llorch_error(LLORCH_E_NOMEM, "out of memory for %zu merges", s->n_merges);
	for (size_t i = 0; i <= t->merges_mask; i++)
		t->merges[i].id = -1;
	for (size_t r = 0; r < s->n_merges; r++) {
		const char *m = s->merges[r];
		size_t len = s->merge_lens[r], sp;
		int32_t a, b, id;
		char buf[512];
		char *joined = buf;
		size_t i;

		/* The separator is the first space after the first byte, as the
		 * reference readers split ("a b"); a token may begin with a space. */
		for (sp = 1; sp < len && m[sp] != ' '; sp++)
			;
		if (len < 3 || sp >= len - 1)
			return llorch_error(LLORCH_E_FORMAT,
					"merge %zu is not two tokens separated by a space", r);
		a = tok_find(t, m, sp);
		b = tok_find(t, m + sp + 1, len - sp - 1);
		if (len - 1 > sizeof buf && !(joined = malloc(len - 1)))
			return llorch_error(LLORCH_E_NOMEM, "out of memory");
		memcpy(joined, m, sp);
		memcpy(joined + sp, m + sp + 1, len - sp - 1);
		id = a >= 0 && b >= 0 ? tok_find(t, joined, len - 1) : -1;
		if (joined != buf)
			free(joined);
		if (id < 0) {
			/* A rule whose parts or result are not tokens can never
			 * produce a token id: it is dropped. */
			skipped++;
			continue;
		}
		i = (size_t)hash_pair(a, b) & t->merges_mask;
		for (size_t probes = 0; t->merges[i].id >= 0 &&
				!(t->merges[i].a == a && t->merges[i].b == b); probes++) {
			if (probes > MAX_PROBES)
				return llorch_error(LLORCH_E_FORMAT, "merge %zu: the merges collide "
						"in the hash table (crafted?)", r);
			i = (i + 1) & t->merges_mask;
		}
		if (t->merges[i].id >= 0)
			continue; /* a repeated rule keeps its first (best) rank */
		t->merges[i] = (tok_merge){a, b, id, (int32_t)r};
		t->n_merges++;
	}
	if (skipped)
		llorch_log(LLORCH_LOG_WARN, "tokenizer: %zu of %zu merges name strings that are "
				"not tokens; ignored", skipped, s->n_merges);
	return LLORCH_OK;
}

static llorch_status build_bytes(llorch_tokenizer *t, const tok_spec *s)
{
	for (int i = 0; i < 256; i++)
		t->byte_id[i] = -1;
	if (t->kind == LLORCH_TOK_GPT2) {
		for (int b = 0; b < 256; b++) {
			unsigned char u[4];
			size_t k = utf8_encode(tok_gpt2_byte_to_cp((unsigned char)b), u);

			t->byte_id[b] = tok_find(t, (const char *)u, k);
			if (t->byte_id[b] < 0 && t->unk < 0)
				return llorch_error(LLORCH_E_FORMAT, "GPT-2 vocabulary has no token "
						"for byte 0x%02X and no unknown token", b);
		}
		return LLORCH_OK;
	}
	for (int32_t id = 0; id < t->n_vocab; id++) {
		const tok_entry *e = &t->tok[id];
		int b;

		if (s->types && e->type != TOK_TYPE_BYTE)
			continue;
		b = parse_byte_token(t->text + e->off, e->len);
		if (b >= 0 && t->byte_id[b] < 0)
			t->byte_id[b] = id;
	}
	return LLORCH_OK;
}

/* True when no piece that merging can produce holds a '▁' right after
 * another character. */
static bool spm_words_independent(const llorch_tokenizer *t)
{
	for (int32_t id = 0; id < t->n_vocab; id++) {
		const tok_entry *e = &t->tok[id];
		const char *s = t->text + e->off;

		if (!is_plain_type(e->type))
			continue;
		for (size_t i = 1; i + 3 <= e->len; i++)
			if (memcmp(s + i, spm_space, 3) == 0 &&
					(i < 3 || memcmp(s + i - 3, spm_space, 3) != 0))
				return false;
	}
	return true;
}

static llorch_status build_index(llorch_tokenizer *t)
{
	size_t dups = 0;

	t->index_mask = table_size((size_t)t->n_vocab) - 1;
	t->index = malloc((t->index_mask + 1) * sizeof *t->index);
	if (!t->index)
		return llorch_error(LLORCH_E_NOMEM, "out of memory for the vocabulary index");
	memset(t->index, 0xff, (t->index_mask + 1) * sizeof *t->index);
	for (int32_t id = 0; id < t->n_vocab; id++) {
		const tok_entry *e = &t->tok[id];
		const char *s = t->text + e->off;
		size_t i;

		if (e->len == 0)
			continue; /* an empty token can never be produced by encoding */
		i = (size_t)hash_bytes(s, e->len) & t->index_mask;
		for (size_t probes = 0; t->index[i] >= 0; probes++) {
			const tok_entry *o = &t->tok[t->index[i]];

			if (o->len == e->len && memcmp(t->text + o->off, s, e->len) == 0)
				break;
			if (probes > MAX_PROBES)
				return llorch_error(LLORCH_E_FORMAT, "token %d: the vocabulary's "
						"strings collide in the hash table (crafted?)", id);
			i = (i + 1) & t->index_mask;
		}
		if (t->index[i] >= 0) {
			dups++; /* the first id of a repeated string is the one encoded */
			continue;
		}
		t->index[i] = id;
	}
	if (dups)
		llorch_log(LLORCH_LOG_WARN, "tokenizer: %zu tokens repeat an earlier token's "
				"string; encoding uses the first", dups);
	return LLORCH_OK;
}

static llorch_status build_strings(llorch_tokenizer *t, const tok_spec *s)
{
	size_t text_size = 0, dec_size = 0, dec_max = 0;
	unsigned char *scratch;

	for (size_t i = 0; i < s->n_vocab; i++) {
		size_t len = s->token_lens[i];

		if (!s->tokens[i] && len)
			return llorch_error(LLORCH_E_INVALID, "token %zu has no string", i);
		/* below 2^30 bytes: the special-token sort keys rely on it */
		if (len >= (1u << 30) || !llorch_add_size(text_size, len + 1, &text_size))
			return llorch_error(LLORCH_E_FORMAT, "token %zu is too long", i);
		/* decoding never grows a token by more than a constant: GPT-2
		 * shrinks, '▁' -> ' ' shrinks, UNK becomes 5 bytes */
		if (len + sizeof spm_unk_surface > dec_max)
			dec_max = len + sizeof spm_unk_surface;
	}
	if (text_size > UINT32_MAX)
		return llorch_error(LLORCH_E_FORMAT, "vocabulary strings total %zu bytes, too many",
				text_size);
	t->text = malloc(text_size ? text_size : 1);
	scratch = malloc(dec_max);
	if (!t->text || !scratch) {
		free(scratch);
		return llorch_error(LLORCH_E_NOMEM, "out of memory for the vocabulary");
	}
	text_size = 0;
	for (size_t i = 0; i < s->n_vocab; i++) {
		size_t len = s->token_lens[i];
		int32_t type = s->types ? s->types[i] : TOK_TYPE_NORMAL;

		if (type < TOK_TYPE_UNDEFINED || type > TOK_TYPE_BYTE)
			type = TOK_TYPE_NORMAL; /* a type we do not know is an ordinary token */
		if (len)
			memcpy(t->text + text_size, s->tokens[i], len);
		t->text[text_size + len] = '\0';
		t->tok[i] = (tok_entry){.off = (uint32_t)text_size, .len = (uint32_t)len,
			.score = s->scores ? s->scores[i] : 0.0f, .type = type};
		if (isnan(t->tok[i].score))
			t->tok[i].score = -INFINITY; /* merged last, and the queue stays ordered */
		text_size += len + 1;
	}
	for (size_t i = 0; i < s->n_vocab; i++)
		if (!llorch_add_size(dec_size, decoded_form(t, &t->tok[i], scratch), &dec_size))
			break;
	if (dec_size > UINT32_MAX) {
		free(scratch);
		return llorch_error(LLORCH_E_FORMAT, "vocabulary too large");
	}
	t->dec = malloc(dec_size ? dec_size : 1);
	if (!t->dec) {
		free(scratch);
		return llorch_error(LLORCH_E_NOMEM, "out of memory for the vocabulary");
	}
	dec_size = 0;
	for (size_t i = 0; i < s->n_vocab; i++) {
		size_t k = decoded_form(t, &t->tok[i], scratch);

		memcpy(t->dec + dec_size, scratch, k);
		t->tok[i].dec_off = (uint32_t)dec_size;
		t->tok[i].dec_len = (uint32_t)k;
		dec_size += k;
	}
	free(scratch);
	return LLORCH_OK;
}

static int32_t special_id(llorch_tokenizer *t, int64_t id, const char *what)
{
	if (id < 0)
		return -1;
	if (!id_ok(t, id)) {
		llorch_log(LLORCH_LOG_WARN, "tokenizer: %s token id %lld is not in the vocabulary "
				"of %d; ignored", what, (long long)id, t->n_vocab);
		return -1;
	}
	return (int32_t)id;
}

llorch_status tok_build(const tok_spec *s, llorch_tokenizer **out)
{
	llorch_tokenizer *t;
	llorch_status st;

	*out = NULL;
	if (s->kind != LLORCH_TOK_GPT2 && s->kind != LLORCH_TOK_SPM)
		return llorch_error(LLORCH_E_INVALID, "unknown tokenizer kind %d", (int)s->kind);
	if (s->n_vocab == 0)
		return llorch_error(LLORCH_E_FORMAT, "the vocabulary is empty");
	if (s->n_vocab > TOK_MAX_VOCAB)
		return llorch_error(LLORCH_E_FORMAT, "vocabulary of %zu tokens: more than the %d "
				"we accept", s->n_vocab, TOK_MAX_VOCAB);
	t = calloc(1, sizeof *t);
	if (!t)
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	t->kind = s->kind;
	t->n_vocab = (int32_t)s->n_vocab;
	t->tok = calloc(s->n_vocab, sizeof *t->tok);
	if (!t->tok) {
		free(t);
		return llorch_error(LLORCH_E_NOMEM, "out of memory for %zu tokens", s->n_vocab);
	}
	t->bos = special_id(t, s->bos, "BOS");
	t->eos = special_id(t, s->eos, "EOS");
	t->unk = special_id(t, s->unk, "unknown");
	t->pad = special_id(t, s->pad, "padding");
	t->add_bos = s->add_bos >= 0 ? s->add_bos != 0 : s->kind == LLORCH_TOK_SPM;
	t->add_space_prefix = s->add_space_prefix >= 0 ? s->add_space_prefix != 0
		: s->kind == LLORCH_TOK_SPM;
	if ((st = build_strings(t, s)) != LLORCH_OK || (st = build_index(t)) != LLORCH_OK ||
			(st = build_merges(t, s)) != LLORCH_OK ||
			(st = build_bytes(t, s)) != LLORCH_OK ||
			(st = build_matchable(t)) != LLORCH_OK ||
			(t->kind == LLORCH_TOK_GPT2 && (st = tok_gpt2_init(t)) != LLORCH_OK)) {
		llorch_tokenizer_free(t);
		return st;
	}
	if (t->kind == LLORCH_TOK_SPM)
		t->spm_split_words = spm_words_independent(t);
	if (t->kind == LLORCH_TOK_GPT2 && t->n_merges == 0)
		llorch_log(LLORCH_LOG_WARN, "tokenizer: GPT-2 vocabulary without merges: "
				"text encodes byte by byte");
	*out = t;
	return LLORCH_OK;
}

void llorch_tokenizer_free(llorch_tokenizer *t)
{
	if (!t)
		return;
	tok_gpt2_free(t);
	free(t->tok);
	free(t->text);
	free(t->dec);
	free(t->index);
	free(t->merges);
	free(t->matchable);
	free(t);
}

llorch_tokenizer_kind llorch_tokenizer_kind_of(const llorch_tokenizer *t)
{
	return t->kind;
}

int32_t llorch_tokenizer_n_vocab(const llorch_tokenizer *t)
{
	return t->n_vocab;
}

int32_t llorch_tokenizer_bos(const llorch_tokenizer *t)
{
	return t->bos;
}

int32_t llorch_tokenizer_eos(const llorch_tokenizer *t)
{
	return t->eos;
}

int32_t llorch_tokenizer_unk(const llorch_tokenizer *t)
{
	return t->unk;
}

int32_t llorch_tokenizer_pad(const llorch_tokenizer *t)
{
	return t->pad;
}

bool llorch_tokenizer_adds_bos(const llorch_tokenizer *t)
{
	return t->add_bos && t->bos >= 0;
}

bool llorch_tokenizer_is_special(const llorch_tokenizer *t, int32_t id)
{
	return id_ok(t, id) && is_parse_special(t, id);
}

const char *llorch_token_piece(const llorch_tokenizer *t, int32_t id, size_t *len)
{
	if (!id_ok(t, id))
		return NULL;
	if (len)
		*len = t->tok[id].len;
	return t->text + t->tok[id].off;
}

const char *llorch_token_text(const llorch_tokenizer *t, int32_t id, size_t *len)
{
	if (!id_ok(t, id))
		return NULL;
	if (len)
		*len = t->tok[id].dec_len;
	return (const char *)t->dec + t->tok[id].dec_off;
}

/* The first token (longest at the earliest position) matched as a whole in
 * text[from, len): its id and *at, or -1. */
static int32_t next_match(const llorch_tokenizer *t, const char *text, size_t from, size_t len,
		bool parse_special, size_t *at)
{
	unsigned mask = parse_special ? 3 : 2;

	if (t->n_matchable == 0)
		return -1;
	for (size_t i = from; i < len; i++) {
		if (!(t->match_first[(unsigned char)text[i]] & mask))
			continue;
		for (size_t k = t->match_start[(unsigned char)text[i]];
				k < t->match_start[(unsigned char)text[i] + 1]; k++) {
			int32_t id = t->matchable[k];
			const tok_entry *e = &t->tok[id];

			if (!parse_special && e->type != TOK_TYPE_USER_DEFINED)
				continue;
			if (e->len <= len - i && memcmp(text + i, t->text + e->off, e->len) == 0) {
				*at = i;
				return id;
			}
		}
	}
	return -1;
}

static llorch_status encode_plain(const llorch_tokenizer *t, const char *text, size_t len,
		bool prefix_space, tok_ids *out)
{
	if (len == 0)
		return LLORCH_OK;
	if (t->kind == LLORCH_TOK_GPT2)
		return tok_gpt2_encode(t, text, len, out);
	return tok_spm_encode(t, text, len, prefix_space && t->add_space_prefix, out);
}

llorch_status llorch_tokenize(const llorch_tokenizer *t, const char *text, size_t len,
		bool add_bos, bool parse_special, int32_t **ids, size_t *n_ids)
{
	tok_ids out = {0};
	llorch_status st = LLORCH_OK;
	/* As llama.cpp and Hugging Face do, text after a special token gets the
	 * dummy-prefix space again; user-defined tokens do not reset it. */
	bool after_special = true;
	size_t pos = 0;

	*ids = NULL;
	*n_ids = 0;
	if (!text && len)
		return llorch_error(LLORCH_E_INVALID, "tokenize: NULL text");
	if (add_bos && t->bos >= 0)
		st = tok_ids_push(&out, t->bos);
	while (st == LLORCH_OK && pos < len) {
		size_t at = len;
		int32_t id = next_match(t, text, pos, len, parse_special, &at);

		st = encode_plain(t, text + pos, at - pos, after_special, &out);
		if (at > pos)
			after_special = false;
		if (st != LLORCH_OK || id < 0)
			break;
		st = tok_ids_push(&out, id);
		if (is_parse_special(t, id))
			after_special = true;
		pos = at + t->tok[id].len;
	}
	if (st != LLORCH_OK) {
		free(out.v);
		return st;
	}
	if (!out.v) {
		/* a valid pointer even for no tokens, so callers can free() it */
		out.v = malloc(sizeof *out.v);
		if (!out.v)
			return llorch_error(LLORCH_E_NOMEM, "out of memory");
	}
	*ids = out.v;
	*n_ids = out.n;
	return LLORCH_OK;
}

/* ---- decoding ---- */

/* Tokens that decode to nothing unless special tokens are rendered. */
static bool is_invisible(const llorch_tokenizer *t, int32_t id)
{
	return is_parse_special(t, id) && t->tok[id].type != TOK_TYPE_UNKNOWN && id != t->unk;
}

/* The bytes of token id in a decoded text; *at_start tracks whether nothing
 * has been output yet, where SentencePiece drops the dummy-prefix space. */
static const unsigned char *piece_bytes(const llorch_tokenizer *t, int32_t id,
		bool render_special, bool *at_start, size_t *len)
{
	const tok_entry *e = &t->tok[id];
	const unsigned char *p = t->dec + e->dec_off;
	size_t n = e->dec_len;

	if (!render_special && is_invisible(t, id)) {
		*len = 0;
		return p;
	}
	if (*at_start && t->kind == LLORCH_TOK_SPM && t->add_space_prefix &&
			is_plain_type(e->type) && n > 0 && p[0] == ' ') {
		p++;
		n--;
		*at_start = false;
	}
	if (n > 0)
		*at_start = false;
	*len = n;
	return p;
}

static llorch_status append(char **out, size_t *len, size_t *cap, const void *p, size_t n)
{
	size_t need;

	if (!llorch_add_size(*len, n + 1, &need))
		return llorch_error(LLORCH_E_NOMEM, "decoded text too long");
	if (need > *cap) {
		size_t c = *cap ? *cap : 64;
		char *b;

		while (c < need)
			c = c > SIZE_MAX / 2 ? need : c * 2;
		b = realloc(*out, c);
		if (!b)
			return llorch_error(LLORCH_E_NOMEM, "out of memory for %zu bytes", c);
		*out = b;
		*cap = c;
	}
	if (n)
		memcpy(*out + *len, p, n);
	*len += n;
	(*out)[*len] = '\0';
	return LLORCH_OK;
}

llorch_status llorch_detokenize(const llorch_tokenizer *t, const int32_t *ids, size_t n,
		bool render_special, char **text, size_t *len)
{
	char *buf = NULL;
	size_t blen = 0, cap = 0;
	bool at_start = true;
	llorch_status st;

	*text = NULL;
	*len = 0;
	if (!ids && n)
		return llorch_error(LLORCH_E_INVALID, "detokenize: NULL ids");
	for (size_t i = 0; i < n; i++)
		if (!id_ok(t, ids[i]))
			return llorch_error(LLORCH_E_RANGE, "token id %d at index %zu is out of "
					"range (vocabulary of %d)", ids[i], i, t->n_vocab);
	if ((st = append(&buf, &blen, &cap, NULL, 0)) != LLORCH_OK)
		return st;
	for (size_t i = 0; i < n; i++) {
		size_t k;
		const unsigned char *p = piece_bytes(t, ids[i], render_special, &at_start, &k);

		if ((st = append(&buf, &blen, &cap, p, k)) != LLORCH_OK) {
			free(buf);
			return st;
		}
	}
	*text = buf;
	*len = blen;
	return LLORCH_OK;
}

/* ---- streaming decoder ---- */

struct llorch_detok {
	const llorch_tokenizer *t;
	bool at_start;
	unsigned char held[4]; /* an incomplete UTF-8 character */
	size_t n_held;
};

llorch_status llorch_detok_new(const llorch_tokenizer *t, llorch_detok **out)
{
	llorch_detok *d;

	*out = NULL;
	if (!t)
		return llorch_error(LLORCH_E_INVALID, "detok: NULL tokenizer");
	d = calloc(1, sizeof *d);
	if (!d)
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	d->t = t;
	d->at_start = true;
	*out = d;
	return LLORCH_OK;
}

void llorch_detok_free(llorch_detok *d)
{
	free(d);
}

void llorch_detok_reset(llorch_detok *d, bool at_start)
{
	d->at_start = at_start;
	d->n_held = 0;
}

/* Emits the complete characters of s; invalid bytes become U+FFFD; an
 * incomplete character at the end is kept in d->held. */
static llorch_status emit_valid(llorch_detok *d, const unsigned char *s, size_t n,
		char **out, size_t *out_len, size_t *out_cap)
{
	size_t i = 0, run = 0;
	llorch_status st;

	while (i < n) {
		size_t k = s[i] < 0x80 ? 1 : utf8_char_len(s + i, n - i);

		if (k) {
			i += k;
			continue;
		}
		if ((st = append(out, out_len, out_cap, s + run, i - run)) != LLORCH_OK)
			return st;
		if (utf8_partial_len(s + i, n - i)) {
			memcpy(d->held, s + i, n - i);
			d->n_held = n - i;
			return LLORCH_OK;
		}
		if ((st = append(out, out_len, out_cap, UTF8_REPLACEMENT, 3)) != LLORCH_OK)
			return st;
		i += utf8_bad_len(s + i, n - i);
		run = i;
	}
	return append(out, out_len, out_cap, s + run, n - run);
}

llorch_status llorch_detok_push(llorch_detok *d, int32_t id,
		char **out, size_t *out_len, size_t *out_cap)
{
	const unsigned char *p;
	size_t n, need;
	unsigned char small[64];
	unsigned char *buf;
	llorch_status st;

	if (!id_ok(d->t, id))
		return llorch_error(LLORCH_E_RANGE, "token id %d is out of range (vocabulary of %d)",
				id, d->t->n_vocab);
	p = piece_bytes(d->t, id, false, &d->at_start, &n);
	if (*out == NULL && (st = append(out, out_len, out_cap, NULL, 0)) != LLORCH_OK)
		return st;
	if (d->n_held == 0)
		return emit_valid(d, p, n, out, out_len, out_cap);
	need = d->n_held + n;
	buf = need <= sizeof small ? small : malloc(need);
	if (!buf)
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	memcpy(buf, d->held, d->n_held);
	memcpy(buf + d->n_held, p, n);
	d->n_held = 0;
	st = emit_valid(d, buf, need, out, out_len, out_cap);
	if (buf != small)
		free(buf);
	return st;
}

llorch_status llorch_detok_flush(llorch_detok *d, char **out, size_t *out_len, size_t *out_cap)
{
	llorch_status st = append(out, out_len, out_cap, UTF8_REPLACEMENT, d->n_held ? 3 : 0);

	d->n_held = 0;
	return st;
}
