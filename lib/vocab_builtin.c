/* Small built-in tokenizers for random models made without a vocab file.
 * Each is a complete, working tokenizer of its kind: every byte string
 * encodes (GPT-2 through its 256 byte tokens, SentencePiece through byte
 * fallback), and a handful of merges make BPE merging actually happen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert_internal.h"

#define MAX_BUILTIN_TOKENS 512
#define MAX_PIECE 16

typedef struct {
	char text[MAX_BUILTIN_TOKENS][MAX_PIECE];
	const char *ptrs[MAX_BUILTIN_TOKENS];
	float scores[MAX_BUILTIN_TOKENS];
	int32_t types[MAX_BUILTIN_TOKENS];
	int32_t n;
} builtin_vocab;

static void add_token(builtin_vocab *v, const char *s, float score, int32_t type)
{
	snprintf(v->text[v->n], MAX_PIECE, "%s", s);
	v->ptrs[v->n] = v->text[v->n];
	v->scores[v->n] = score;
	v->types[v->n] = type;
	v->n++;
}

static void utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		out[1] = '\0';
	} else {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		out[2] = '\0';
	}
}

/* ---- GPT-2 ---- */

/* GPT-2 spells bytes as printable code points: printable Latin-1 bytes stand
 * for themselves, the others (controls, space, ...) map to U+0100 onwards in
 * byte order; ids 0..255 list the printable ones first, as encoder.json does. */
static void gpt2_byte_tokens(builtin_vocab *v)
{
	bool printable[256] = {false};
	uint32_t next = 256;

	for (int b = 0; b < 256; b++)
		printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
	for (int b = 0; b < 256; b++) {
		char s[4];

		if (!printable[b])
			continue;
		utf8_put(s, (uint32_t)b);
		add_token(v, s, 0.0f, LLORCH_TOKEN_NORMAL);
	}
	for (int b = 0; b < 256; b++) {
		char s[4];

		if (printable[b])
			continue;
		utf8_put(s, next++);
		add_token(v, s, 0.0f, LLORCH_TOKEN_NORMAL);
	}
}

/* Frequent English pairs; "Ġ" (U+0120) is GPT-2's space. Each merge's parts
 * are byte tokens or results of earlier merges. */
static const char *const gpt2_merges[] = {
	"Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he", "e r", "Ġ s", "a t",
	"Ġ w", "Ġ o", "e n", "Ġ c", "i t", "i s", "a n", "o r", "e s", "Ġ b",
	"e d", "Ġ f", "in g", "Ġ p", "o u", "Ġa n", "a l", "a r", "Ġt o", "Ġ m",
	"Ġo f", "Ġ in", "Ġ d", "Ġ h", "Ġan d",
};

static llorch_status gpt2_vocab(llorch_gguf_writer *w, builtin_vocab *v)
{
	const size_t n_merges = sizeof gpt2_merges / sizeof gpt2_merges[0];
	llorch_status st;
	int32_t eot;

	gpt2_byte_tokens(v);
	for (size_t i = 0; i < n_merges; i++) {
		char merged[MAX_PIECE];
		const char *sp = strchr(gpt2_merges[i], ' ');

		snprintf(merged, sizeof merged, "%.*s%s", (int)(sp - gpt2_merges[i]), gpt2_merges[i], sp + 1);
		add_token(v, merged, 0.0f, LLORCH_TOKEN_NORMAL);
	}
	eot = v->n;
	add_token(v, "<|endoftext|>", 0.0f, LLORCH_TOKEN_CONTROL);
	if (!w)
		return LLORCH_OK;
	if ((st = llorch_gguf_set_string(w, "tokenizer.ggml.model", "gpt2")) ||
	    (st = llorch_gguf_set_string(w, "tokenizer.ggml.pre", "gpt-2")) ||
	    (st = llorch_gguf_set_array_strings(w, "tokenizer.ggml.tokens", v->ptrs, NULL, (uint64_t)v->n)) ||
	    (st = llorch_gguf_set_array(w, "tokenizer.ggml.token_type", LLORCH_GGUF_INT32, v->types, (uint64_t)v->n)) ||
	    (st = llorch_gguf_set_array_strings(w, "tokenizer.ggml.merges", gpt2_merges, NULL, n_merges)) ||
	    (st = llorch_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)eot)) ||
	    (st = llorch_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eot)))
		return st;
	return LLORCH_OK;
}

/* ---- SentencePiece (llama) ---- */

/* Pieces that pairwise merges of earlier vocab pieces reach; "▁" (U+2581) is
 * SentencePiece's space. Earlier pieces score higher, so merge first. */
static const char *const spm_pieces[] = {
	"▁t", "he", "▁a", "in", "re", "on", "▁the", "er", "▁s", "at", "▁w", "▁o",
	"en", "it", "is", "an", "or", "es", "ed", "ing", "▁to", "▁an", "▁and", "▁of",
};

static llorch_status llama_vocab(llorch_gguf_writer *w, builtin_vocab *v)
{
	add_token(v, "<unk>", 0.0f, LLORCH_TOKEN_UNKNOWN);
	add_token(v, "<s>", 0.0f, LLORCH_TOKEN_CONTROL);
	add_token(v, "</s>", 0.0f, LLORCH_TOKEN_CONTROL);
	for (int b = 0; b < 256; b++) {
		char s[8];

		snprintf(s, sizeof s, "<0x%02X>", b);
		add_token(v, s, 0.0f, LLORCH_TOKEN_BYTE);
	}
	for (size_t i = 0; i < sizeof spm_pieces / sizeof spm_pieces[0]; i++)
		add_token(v, spm_pieces[i], -(float)(i + 1), LLORCH_TOKEN_NORMAL);
	/* Single characters score lowest, as in a trained SentencePiece model. */
	add_token(v, "▁", -1000.0f, LLORCH_TOKEN_NORMAL);
	for (int c = '!'; c <= '~'; c++) {
		char s[2] = {(char)c, '\0'};

		add_token(v, s, -1000.0f - (float)(c - '!' + 1), LLORCH_TOKEN_NORMAL);
	}
	if (!w)
		return LLORCH_OK;
	return llorch_write_spm_vocab(w, v->ptrs, NULL, v->scores, v->types, v->n);
}

llorch_status llorch_write_spm_vocab(llorch_gguf_writer *w, const char *const *pieces,
		const size_t *lens, const float *scores, const int32_t *types, int64_t n)
{
	llorch_status st;

	if ((st = llorch_gguf_set_string(w, "tokenizer.ggml.model", "llama")) ||
	    (st = llorch_gguf_set_string(w, "tokenizer.ggml.pre", "default")) ||
	    (st = llorch_gguf_set_array_strings(w, "tokenizer.ggml.tokens", pieces, lens, (uint64_t)n)) ||
	    (st = llorch_gguf_set_array(w, "tokenizer.ggml.scores", LLORCH_GGUF_FLOAT32, scores, (uint64_t)n)) ||
	    (st = llorch_gguf_set_array(w, "tokenizer.ggml.token_type", LLORCH_GGUF_INT32, types, (uint64_t)n)) ||
	    (st = llorch_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1)) ||
	    (st = llorch_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2)) ||
	    (st = llorch_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 0)) ||
	    (st = llorch_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", true)) ||
	    (st = llorch_gguf_set_bool(w, "tokenizer.ggml.add_eos_token", false)))
		return st;
	return LLORCH_OK;
}

llorch_status llorch_builtin_vocab(llorch_gguf_writer *w, llorch_arch arch, int32_t *n_vocab)
{
	builtin_vocab *v;
	llorch_status st;

	if (arch != LLORCH_ARCH_GPT2 && arch != LLORCH_ARCH_LLAMA)
		return llorch_error(LLORCH_E_INVALID, "built-in vocab: unknown architecture %d", (int)arch);
	v = calloc(1, sizeof *v);
	if (!v)
		return llorch_error(LLORCH_E_NOMEM, "built-in vocab: out of memory");
	st = arch == LLORCH_ARCH_GPT2 ? gpt2_vocab(w, v) : llama_vocab(w, v);
	if (st == LLORCH_OK && n_vocab)
		*n_vocab = v->n;
	free(v);
	return st;
}
