/* Loads a tokenizer from GGUF metadata (tokenizer.ggml.*), as llama.cpp
 * writes it. Only metadata is read: a vocab-only file works. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define KEY(x) "tokenizer.ggml." x

/* An optional integer key: *v stays as it is when absent. */
static llorch_status opt_int(const llorch_gguf *g, const char *key, int64_t *v)
{
	llorch_status st = llorch_gguf_get_int(g, key, v);

	return st == LLORCH_E_NOTFOUND ? LLORCH_OK : st;
}

static llorch_status opt_bool(const llorch_gguf *g, const char *key, int *v)
{
	bool b;
	llorch_status st = llorch_gguf_get_bool(g, key, &b);

	if (st == LLORCH_OK)
		*v = b;
	return st == LLORCH_E_NOTFOUND ? LLORCH_OK : st;
}

/* An optional per-token array of n elements of type elem; NULL when absent. */
static llorch_status opt_array(const llorch_gguf *g, const char *key, llorch_gguf_vtype elem,
		size_t n, const void **data)
{
	uint64_t m;
	llorch_status st = llorch_gguf_get_array(g, key, elem, data, &m);

	*data = st == LLORCH_OK ? *data : NULL;
	if (st == LLORCH_E_NOTFOUND)
		return LLORCH_OK;
	if (st != LLORCH_OK)
		return st;
	if (m != n) {
		*data = NULL;
		return llorch_error(LLORCH_E_FORMAT, "%s has %llu entries for %zu tokens", key,
				(unsigned long long)m, n);
	}
	return LLORCH_OK;
}

/* Pointers to the n strings of an array key (owned by g). */
static llorch_status string_array(const llorch_gguf *g, const char *key, size_t max,
		const char ***strs, size_t **lens, size_t *n)
{
	int64_t i = llorch_gguf_find_key(g, key);
	llorch_gguf_vtype elem;
	uint64_t m;
	llorch_status st;

	*strs = NULL;
	*lens = NULL;
	*n = 0;
	if (i < 0)
		return llorch_error(LLORCH_E_NOTFOUND, "GGUF has no %s", key);
	if ((st = llorch_gguf_kv_array_info(g, i, &elem, &m)) != LLORCH_OK)
		return st;
	if (elem != LLORCH_GGUF_STRING)
		return llorch_error(LLORCH_E_TYPE, "%s is an array of %s, not of strings", key,
				llorch_gguf_vtype_name(elem));
	if (m > max)
		return llorch_error(LLORCH_E_FORMAT, "%s has %llu entries: more than the %zu we "
				"accept", key, (unsigned long long)m, max);
	*strs = malloc((m ? m : 1) * sizeof **strs);
	*lens = malloc((m ? m : 1) * sizeof **lens);
	if (!*strs || !*lens)
		return llorch_error(LLORCH_E_NOMEM, "out of memory for %s", key);
	for (uint64_t j = 0; j < m; j++)
		if ((st = llorch_gguf_kv_array_string(g, i, j, &(*strs)[j], &(*lens)[j]))
				!= LLORCH_OK)
			return st;
	*n = (size_t)m;
	return LLORCH_OK;
}

llorch_status llorch_tokenizer_load(const llorch_gguf *g, llorch_tokenizer **out)
{
	tok_spec s = {.bos = -1, .eos = -1, .unk = -1, .pad = -1, .add_bos = -1,
		.add_space_prefix = -1};
	const char *model;
	size_t model_len;
	const char **tokens = NULL, **merges = NULL;
	size_t *token_lens = NULL, *merge_lens = NULL, n_merges = 0;
	const void *scores = NULL, *types = NULL;
	llorch_status st;

	*out = NULL;
	if (!g)
		return llorch_error(LLORCH_E_INVALID, "tokenizer: NULL GGUF");
	st = llorch_gguf_get_string(g, KEY("model"), &model, &model_len);
	/* a model file without its tokenizer is bad data, not a missing file */
	if (st == LLORCH_E_NOTFOUND)
		return llorch_error(LLORCH_E_FORMAT, "GGUF has no tokenizer (no " KEY("model") ")");
	if (st != LLORCH_OK)
		return st;
	if (strcmp(model, "gpt2") == 0) {
		const char *pre;
		size_t pre_len;

		s.kind = LLORCH_TOK_GPT2;
		/* byte-level BPE vocabularies of other models (Llama 3, Qwen...)
		 * split words with other patterns: refuse them rather than give
		 * wrong ids */
		st = llorch_gguf_get_string(g, KEY("pre"), &pre, &pre_len);
		if (st == LLORCH_OK && strcmp(pre, "gpt-2") != 0 && strcmp(pre, "gpt2") != 0)
			return llorch_error(LLORCH_E_UNSUPPORTED, "pre-tokenizer " KEY("pre") "=\"%s\" "
					"is not supported (only gpt-2 is)", pre);
		if (st != LLORCH_OK && st != LLORCH_E_NOTFOUND)
			return st;
	} else if (strcmp(model, "llama") == 0) {
		s.kind = LLORCH_TOK_SPM;
		/* llama.cpp's defaults for SentencePiece vocabularies */
		s.bos = 1;
		s.eos = 2;
		s.unk = 0;
	} else {
		return llorch_error(LLORCH_E_UNSUPPORTED, "tokenizer model \"%s\" is not supported "
				"(gpt2 and llama are)", model);
	}
	st = string_array(g, KEY("tokens"), TOK_MAX_VOCAB, &tokens, &token_lens, &s.n_vocab);
	if (st == LLORCH_E_NOTFOUND)
		st = LLORCH_E_FORMAT;
	if (st != LLORCH_OK)
		goto out;
	if ((st = opt_array(g, KEY("scores"), LLORCH_GGUF_FLOAT32, s.n_vocab, &scores))
			!= LLORCH_OK ||
			(st = opt_array(g, KEY("token_type"), LLORCH_GGUF_INT32, s.n_vocab, &types))
			!= LLORCH_OK)
		goto out;
	if (s.kind == LLORCH_TOK_SPM && !scores)
		llorch_log(LLORCH_LOG_WARN, "tokenizer: no " KEY("scores") ": merges go left to right");
	if (s.kind == LLORCH_TOK_GPT2) {
		st = string_array(g, KEY("merges"), TOK_MAX_VOCAB, &merges, &merge_lens, &n_merges);
		if (st == LLORCH_E_NOTFOUND)
			st = LLORCH_OK;
		if (st != LLORCH_OK)
			goto out;
	}
	if ((st = opt_int(g, KEY("bos_token_id"), &s.bos)) != LLORCH_OK ||
			(st = opt_int(g, KEY("eos_token_id"), &s.eos)) != LLORCH_OK ||
			(st = opt_int(g, KEY("unknown_token_id"), &s.unk)) != LLORCH_OK ||
			(st = opt_int(g, KEY("padding_token_id"), &s.pad)) != LLORCH_OK ||
			(st = opt_bool(g, KEY("add_bos_token"), &s.add_bos)) != LLORCH_OK ||
			(st = opt_bool(g, KEY("add_space_prefix"), &s.add_space_prefix)) != LLORCH_OK)
		goto out;
	if (s.n_vocab > 0 && s.unk >= (int64_t)s.n_vocab)
		s.unk = -1;
	s.tokens = tokens;
	s.token_lens = token_lens;
	s.scores = scores;
	s.types = types;
	s.merges = merges;
	s.merge_lens = merge_lens;
	s.n_merges = n_merges;
	st = tok_build(&s, out);
out:
	free(tokens);
	free(token_lens);
	free(merges);
	free(merge_lens);
	return st;
}
