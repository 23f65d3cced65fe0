/* The tokenizer's representation, shared by tokenizer.c (loading, special
 * tokens, decoding), tok_gpt2.c and tok_spm.c (encoding). Internal. */
#ifndef LLORCH_TOKENIZER_INTERNAL_H
#define LLORCH_TOKENIZER_INTERNAL_H

#include "internal.h"

/* GGUF token_type values (llama.cpp's llama_token_type). */
enum {
	TOK_TYPE_UNDEFINED = 0,
	TOK_TYPE_NORMAL = 1,
	TOK_TYPE_UNKNOWN = 2,
	TOK_TYPE_CONTROL = 3,
	TOK_TYPE_USER_DEFINED = 4,
	TOK_TYPE_UNUSED = 5,
	TOK_TYPE_BYTE = 6,
};

/* Largest vocabulary we accept: ids are int32 and offsets uint32. */
#define TOK_MAX_VOCAB (1 << 24)

typedef struct {
	uint32_t off, len;         /* the vocab string in t->text */
	uint32_t dec_off, dec_len; /* the bytes it decodes to, in t->dec */
	float score;               /* SentencePiece merge priority */
	int32_t type;              /* TOK_TYPE_* */
} tok_entry;

/* A merge rule of byte-level BPE: (a, b) -> id at priority rank. */
typedef struct {
	int32_t a, b, id, rank;
} tok_merge;

struct llorch_tokenizer {
	llorch_tokenizer_kind kind;
	int32_t n_vocab;
	tok_entry *tok;
	char *text;          /* vocab strings, each NUL-terminated */
	unsigned char *dec;  /* decoded bytes of every token */
	int32_t *index;      /* vocab string -> id: open addressing, -1 empty */
	size_t index_mask;
	tok_merge *merges;   /* open addressing on (a, b); id -1 empty */
	size_t merges_mask;
	int32_t n_merges;
	/* GPT-2: the token of each byte's unicode stand-in; SentencePiece: the
	 * <0xNN> byte-fallback token; -1 when the vocab has none. */
	int32_t byte_id[256];
	int32_t bos, eos, unk, pad;
	bool add_bos, add_space_prefix;
	/* SentencePiece: no mergeable piece has '▁' after another character,
	 * so words (runs of '▁' and what follows) merge independently */
	bool spm_split_words;
	/* Tokens matched as a whole in the input: CONTROL/UNKNOWN and the
	 * BOS/EOS/PAD ids with parse_special, USER_DEFINED always; longest first. */
	int32_t *matchable;   /* grouped by first byte, longest first */
	size_t n_matchable;
	uint32_t match_start[257]; /* matchable[match_start[b]...] start with b */
	uint8_t match_first[256]; /* bit 0: some special starts with this byte,
				     bit 1: some user-defined token does */
	void *regex;       /* GPT-2 pre-tokenizer (pcre2_code) */
	bool regex_jit;
};

/* What the loaders gather before the tokenizer is built. */
typedef struct {
	llorch_tokenizer_kind kind;
	size_t n_vocab;
	const char *const *tokens;
	const size_t *token_lens;
	const float *scores;        /* may be NULL */
	const int32_t *types;       /* may be NULL: all NORMAL */
	size_t n_merges;            /* GPT-2: merges "a b", by rank */
	const char *const *merges;
	const size_t *merge_lens;
	int64_t bos, eos, unk, pad; /* -1 when absent */
	int add_bos;                /* -1: the kind's default */
	int add_space_prefix;       /* -1: the kind's default */
} tok_spec;

llorch_status tok_build(const tok_spec *spec, llorch_tokenizer **out);

/* The id of the vocab string s (len bytes), or -1. */
int32_t tok_find(const llorch_tokenizer *t, const char *s, size_t len);
/* The rule merging tokens a and b, or NULL. */
const tok_merge *tok_find_merge(const llorch_tokenizer *t, int32_t a, int32_t b);

/* A growable array of ids being produced by an encoder. */
typedef struct {
	int32_t *v;
	size_t n, cap;
} tok_ids;

llorch_status tok_ids_push(tok_ids *o, int32_t id);

/* A candidate merge in the merge loops' priority queue: the lowest key
 * first (GPT-2: the merge rank; SentencePiece: minus the score), then the
 * leftmost. The other fields let the loop tell a stale entry. */
typedef struct {
	float key;
	int32_t left, right;
	int32_t a, b;
} tok_cand;

typedef struct {
	tok_cand *v; /* room for as many entries as the loop can queue */
	size_t n;
} tok_heap;

void tok_heap_push(tok_heap *h, tok_cand c);
tok_cand tok_heap_pop(tok_heap *h);

/* Words repeat a lot in real text: the encoders remember the tokens of
 * short words for the length of one call. NULL (no cache) for short texts;
 * every function accepts NULL. */
typedef struct tok_cache tok_cache;
tok_cache *tok_cache_new(size_t text_len);
void tok_cache_free(tok_cache *c);
/* On a hit, appends the word's tokens to out (*st: the push's status). */
bool tok_cache_get(tok_cache *c, const void *word, size_t n, tok_ids *out, llorch_status *st);
void tok_cache_put(tok_cache *c, const void *word, size_t n, const int32_t *ids, size_t k);

/* Encoders of one run of plain text (no special tokens in it). For
 * SentencePiece, prefix_space adds the dummy-prefix space. */
llorch_status tok_gpt2_encode(const llorch_tokenizer *t, const char *text, size_t len,
		tok_ids *out);
llorch_status tok_spm_encode(const llorch_tokenizer *t, const char *text, size_t len,
		bool prefix_space, tok_ids *out);

/* Compiles the GPT-2 pre-tokenizer into t->regex. */
llorch_status tok_gpt2_init(llorch_tokenizer *t);
void tok_gpt2_free(llorch_tokenizer *t);

/* GPT-2's byte <-> unicode stand-in mapping (bytes_to_unicode()). */
uint32_t tok_gpt2_byte_to_cp(unsigned char b);
/* The byte a stand-in code point maps back to, or -1. */
int tok_gpt2_cp_to_byte(uint32_t cp);

#endif
