/* libFuzzer harness for the tokenizers. The first byte picks what to do:
 *  - encode the rest with the GPT-2 or Llama vocabulary (from
 *    $LLORCH_SHARED/data/llama.cpp-vocab, default ../shared), with or
 *    without BOS and special-token parsing, decode the ids, check the round
 *    trip and that the streaming decoder yields valid UTF-8 matching the
 *    one-shot decode;
 *  - or build a vocabulary from the rest (a hostile one: lines are tokens,
 *    after a line "#merges" they are merges) and encode and decode with it.
 *
 *   make fuzz && build-fuzz/fuzz_tokenize -max_total_time=120 CORPUS_DIR */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static llorch_tokenizer *load(const char *name)
{
	const char *shared = getenv("LLORCH_SHARED");
	char path[4096];
	llorch_gguf *g;
	llorch_tokenizer *t = NULL;

	snprintf(path, sizeof path, "%s/data/llama.cpp-vocab/%s", shared ? shared : "../shared",
			name);
	if (llorch_gguf_load(path, &g) != LLORCH_OK) {
		fprintf(stderr, "fuzz_tokenize: cannot load %s: %s\n", path, llorch_last_error());
		abort();
	}
	if (llorch_tokenizer_load(g, &t) != LLORCH_OK)
		abort();
	llorch_gguf_free(g);
	return t;
}

/* The streaming decode of ids must be valid UTF-8 and equal to the one-shot
 * decode with ill-formed sequences replaced. */
static void check_stream(const llorch_tokenizer *t, const int32_t *ids, size_t n,
		const char *text, size_t len)
{
	llorch_detok *d;
	char *out = NULL, *want = malloc(3 * len + 1);
	size_t out_len = 0, cap = 0, w = 0;

	if (!want || llorch_detok_new(t, &d) != LLORCH_OK)
		abort();
	for (size_t i = 0; i < n; i++)
		if (llorch_detok_push(d, ids[i], &out, &out_len, &cap) != LLORCH_OK)
			abort();
	if (llorch_detok_flush(d, &out, &out_len, &cap) != LLORCH_OK)
		abort();
	for (size_t i = 0; i < len;) {
		size_t k = utf8_char_len((const unsigned char *)text + i, len - i);

		if (k) {
			memcpy(want + w, text + i, k);
			w += k;
			i += k;
		} else {
			memcpy(want + w, UTF8_REPLACEMENT, 3);
			w += 3;
			i += utf8_bad_len((const unsigned char *)text + i, len - i);
		}
	}
	if (!utf8_valid((const unsigned char *)out, out_len) || out_len != w ||
			(w && memcmp(out, want, w) != 0))
		abort();
	llorch_detok_free(d);
	free(out);
	free(want);
}

static void encode_decode(const llorch_tokenizer *t, const char *s, size_t n, bool bos,
		bool special, bool known_vocab)
{
	int32_t *ids;
	size_t k, len, skip;
	char *text;
	bool exact;

	if (llorch_tokenize(t, s, n, bos, special, &ids, &k) != LLORCH_OK)
		return; /* only a vocabulary that cannot encode some byte refuses */
	for (size_t i = 0; i < k; i++)
		if (ids[i] < 0 || ids[i] >= llorch_tokenizer_n_vocab(t))
			abort();
	/* the BOS we asked for is not part of the text (with special, it would
	 * render) */
	skip = bos && k > 0 && ids[0] == llorch_tokenizer_bos(t);
	if (llorch_detokenize(t, ids + skip, k - skip, special, &text, &len) != LLORCH_OK)
		abort();
	/* GPT-2 gives back any bytes; SentencePiece too, unless the text starts
	 * with a space (the dummy prefix) or holds its space sign U+2581, or
	 * special tokens were parsed (text after them gets the prefix) */
	exact = known_vocab && (t->kind == LLORCH_TOK_GPT2 ||
		(!special && (n == 0 || s[0] != ' ') && !memmem(s, n, "\xE2\x96\x81", 3)));
	if (exact && (len != n || (n && memcmp(text, s, n) != 0)))
		abort();
	if (!special)
		check_stream(t, ids + skip, k - skip, text, len);
	free(text);
	free(ids);
}

/* A vocabulary from the input: lines are tokens until "#merges". */
static void hostile(llorch_tokenizer_kind kind, const char *s, size_t n)
{
	const char *toks[256], *merges[256];
	size_t lens[256], mlens[256], nt = 0, nm = 0;
	int32_t types[256];
	float scores[256];
	bool in_merges = false;
	llorch_tokenizer *t;

	for (size_t i = 0; i < n;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (s + i)) : n - i;

		if (len == 7 && memcmp(s + i, "#merges", 7) == 0)
			in_merges = true;
		else if (in_merges && nm < 256)
			merges[nm] = s + i, mlens[nm++] = len;
		else if (!in_merges && nt < 256)
			toks[nt] = s + i, lens[nt] = len,
			types[nt] = len ? (unsigned char)s[i] % 8 : 1,
			scores[nt] = len ? (float)((signed char)s[i + len - 1]) : 0, nt++;
		i += len + 1;
	}
	if (tok_build(&(tok_spec){.kind = kind, .n_vocab = nt, .tokens = toks, .token_lens = lens,
			.scores = scores, .types = types, .n_merges = nm, .merges = merges,
			.merge_lens = mlens, .bos = nt > 1 ? 1 : -1, .eos = nt > 2 ? 2 : -1,
			.unk = nt ? 0 : -1, .pad = -1, .add_bos = -1, .add_space_prefix = -1},
			&t) != LLORCH_OK)
		return;
	encode_decode(t, s, n, true, false, false);
	encode_decode(t, s, n, false, true, false);
	llorch_tokenizer_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static llorch_tokenizer *gpt2, *spm;
	const char *s = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;
	uint8_t op;

	if (!gpt2) {
		gpt2 = load("ggml-vocab-gpt-2.gguf");
		spm = load("ggml-vocab-llama-spm.gguf");
	}
	if (size == 0)
		return 0;
	op = data[0];
	switch (op & 3) {
	case 0:
		encode_decode(gpt2, s, n, op & 4, op & 8, true);
		break;
	case 1:
		encode_decode(spm, s, n, op & 4, op & 8, true);
		break;
	default:
		hostile(op & 1 ? LLORCH_TOK_SPM : LLORCH_TOK_GPT2, s, n);
		break;
	}
	return 0;
}
