/* Tokenizers: the shared test vectors, special tokens, invalid UTF-8, the
 * streaming decoder, hostile vocabularies, GGUF metadata errors and speed. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "tokenizer_internal.h"
#include "gguf_bytes.h"

static llorch_tokenizer *gpt2, *gpt2_files, *spm;

static llorch_tokenizer *load_gguf_tokenizer(const char *rel)
{
	char *path = gb_shared_path(rel);
	llorch_gguf *g;
	llorch_tokenizer *t = NULL;

	if (!path)
		return NULL;
	assert_status(llorch_gguf_load(path, &g), LLORCH_OK);
	assert_status(llorch_tokenizer_load(g, &t), LLORCH_OK);
	llorch_gguf_free(g);
	free(path);
	return t;
}

static int setup(void **state)
{
	char *enc = gb_shared_path("gpt2-tokenizer/encoder.json");
	char *bpe = gb_shared_path("gpt2-tokenizer/vocab.bpe");

	(void)state;
	gpt2 = load_gguf_tokenizer("llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
	spm = load_gguf_tokenizer("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
	if (enc && bpe && llorch_tokenizer_load_gpt2_files(enc, bpe, &gpt2_files) != LLORCH_OK)
		return -1;
	free(enc);
	free(bpe);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	llorch_tokenizer_free(gpt2);
	llorch_tokenizer_free(gpt2_files);
	llorch_tokenizer_free(spm);
	return 0;
}

#define NEED(t) do { if (!(t)) { skip(); } } while (0)

/* Encodes and checks against want (n ids). */
static void expect_ids(const llorch_tokenizer *t, const char *text, size_t len, bool bos,
		bool special, const int32_t *want, size_t n)
{
	int32_t *ids;
	size_t got;

	assert_status(llorch_tokenize(t, text, len, bos, special, &ids, &got), LLORCH_OK);
	if (got != n || (n && memcmp(ids, want, n * sizeof *ids) != 0)) {
		print_message("input \"%.*s\": got", (int)len, text);
		for (size_t i = 0; i < got; i++)
			print_message(" %d", ids[i]);
		print_message("\n");
	}
	assert_int_equal(got, n);
	if (n)
		assert_memory_equal(ids, want, n * sizeof *ids);
	free(ids);
}

/* Decodes and checks against want. */
static void expect_text(const llorch_tokenizer *t, const int32_t *ids, size_t n, bool render,
		const char *want, size_t want_len)
{
	char *text;
	size_t len;

	assert_status(llorch_detokenize(t, ids, n, render, &text, &len), LLORCH_OK);
	if (len != want_len || (len && memcmp(text, want, len) != 0))
		print_message("decoded \"%s\", wanted \"%.*s\"\n", text, (int)want_len, want);
	assert_int_equal(len, want_len);
	if (len)
		assert_memory_equal(text, want, len);
	assert_int_equal(text[len], '\0');
	free(text);
}

static int32_t *json_ids(json_t *a, size_t *n)
{
	int32_t *v = malloc((json_array_size(a) + 1) * sizeof *v);
	size_t i;
	json_t *x;

	assert_non_null(v);
	json_array_foreach(a, i, x)
		v[i] = (int32_t)json_integer_value(x);
	*n = json_array_size(a);
	return v;
}

static json_t *load_vectors(const char *rel)
{
	char *path = gb_shared_path(rel);
	json_error_t je;
	json_t *j;

	if (!path)
		return NULL;
	j = json_load_file(path, 0, &je);
	free(path);
	assert_non_null(j);
	return j;
}

/* Runs the cases of a vector file: with_bos for the Llama files (BOS first). */
static void run_encode_cases(const llorch_tokenizer *t, json_t *cases, bool with_bos)
{
	size_t i;
	json_t *c;

	json_array_foreach(cases, i, c) {
		json_t *in = json_object_get(c, "input");
		size_t n;
		int32_t *want = json_ids(json_object_get(c, "expected_ids"), &n);
		bool special = json_is_true(json_object_get(c, "allowed_special"));

		expect_ids(t, json_string_value(in), json_string_length(in), with_bos, special,
				want, n);
		/* and back: the text again (BOS renders as nothing, a parsed
		 * special token as its text) */
		expect_text(t, want, n, special, json_string_value(in), json_string_length(in));
		free(want);
	}
}

static void test_vectors_tiktoken(void **state)
{
	json_t *j = load_vectors("test-vectors/tiktoken_gpt2.json");

	(void)state;
	NEED(j && gpt2 && gpt2_files);
	run_encode_cases(gpt2, json_object_get(j, "cases"), false);
	run_encode_cases(gpt2_files, json_object_get(j, "cases"), false);
	json_decref(j);
}

static void test_vectors_llama2c(void **state)
{
	json_t *j = load_vectors("test-vectors/llama2c_test_c_llama2_vocab.json");

	(void)state;
	NEED(j && spm);
	assert_true(llorch_tokenizer_adds_bos(spm));
	run_encode_cases(spm, json_object_get(j, "cases"), true);
	json_decref(j);
}

/* A copy of t built with another add_space_prefix. */
static llorch_tokenizer *with_space_prefix(const llorch_tokenizer *t, bool on)
{
	size_t n = (size_t)t->n_vocab;
	const char **toks = malloc(n * sizeof *toks);
	size_t *lens = malloc(n * sizeof *lens);
	float *scores = malloc(n * sizeof *scores);
	int32_t *types = malloc(n * sizeof *types);
	llorch_tokenizer *out;

	assert_true(toks && lens && scores && types);
	for (size_t i = 0; i < n; i++) {
		toks[i] = llorch_token_piece(t, (int32_t)i, &lens[i]);
		scores[i] = t->tok[i].score;
		types[i] = t->tok[i].type;
	}
	assert_status(tok_build(&(tok_spec){.kind = t->kind, .n_vocab = n, .tokens = toks,
		.token_lens = lens, .scores = scores, .types = types, .bos = t->bos, .eos = t->eos,
		.unk = t->unk, .pad = t->pad, .add_bos = t->add_bos, .add_space_prefix = on},
		&out), LLORCH_OK);
	free(toks);
	free(lens);
	free(scores);
	free(types);
	return out;
}

static void test_vectors_llama_tokenizer_js(void **state)
{
	json_t *j = load_vectors("test-vectors/llama_tokenizer_js_llama2_vocab.json");
	llorch_tokenizer *no_prefix;
	size_t i;
	json_t *c;

	(void)state;
	NEED(j && spm);
	run_encode_cases(spm, json_object_get(j, "encode_cases"), true);
	/* The library's decode flags map onto ours: add_bos_token=false renders
	 * a leading BOS as text (render_special), add_preceding_space is the
	 * vocabulary's add_space_prefix. */
	no_prefix = with_space_prefix(spm, false);
	json_array_foreach(json_object_get(j, "decode_cases"), i, c) {
		size_t n;
		int32_t *ids = json_ids(json_object_get(c, "ids"), &n);
		json_t *want = json_object_get(c, "expected_text");
		bool render = !json_is_true(json_object_get(c, "add_bos_token"));
		bool prefix = json_is_true(json_object_get(c, "add_preceding_space"));

		expect_text(prefix ? spm : no_prefix, ids, n, render, json_string_value(want),
				json_string_length(want));
		free(ids);
	}
	llorch_tokenizer_free(no_prefix);
	json_decref(j);
}

static void test_specials(void **state)
{
	static const char txt[] = "hello <|endoftext|>";
	const int32_t plain[] = {31373, 1279, 91, 437, 1659, 5239, 91, 29},
		parsed[] = {31373, 220, 50256};
	const int32_t s_parsed[] = {1, 22172, 1, 259, 2},
		s_plain[] = {1, 22172, 29966, 29879, 2565, 29879, 29958};

	(void)state;
	NEED(gpt2 && spm);
	assert_int_equal(llorch_tokenizer_kind_of(gpt2), LLORCH_TOK_GPT2);
	assert_int_equal(llorch_tokenizer_n_vocab(gpt2), 50257);
	assert_int_equal(llorch_tokenizer_bos(gpt2), 50256);
	assert_int_equal(llorch_tokenizer_eos(gpt2), 50256);
	assert_false(llorch_tokenizer_adds_bos(gpt2));
	assert_true(llorch_tokenizer_is_special(gpt2, 50256));
	assert_false(llorch_tokenizer_is_special(gpt2, 31373));
	assert_false(llorch_tokenizer_is_special(gpt2, -1));
	assert_false(llorch_tokenizer_is_special(gpt2, 50257));
	expect_ids(gpt2, txt, strlen(txt), false, false, plain, 8);
	/* \s is Unicode White_Space, as in tiktoken: U+FEFF is not a space
	 * (JavaScript's \s says it is), U+180E neither (PCRE2's \s says it is),
	 * U+0085 is */
	expect_ids(gpt2, "a \xEF\xBB\xBF" "b", 6, false, false,
			(const int32_t[]){64, 27332, 119, 123, 65}, 5);
	expect_ids(gpt2, "was \xE1\xA0\x8E", 7, false, false,
			(const int32_t[]){9776, 28053, 254, 236}, 4);
	expect_ids(gpt2, "x \xC2\x85y", 5, false, false,
			(const int32_t[]){87, 220, 126, 227, 88}, 5);
	expect_ids(gpt2, txt, strlen(txt), false, true, parsed, 3);
	/* special tokens decode to nothing unless rendered */
	expect_text(gpt2, parsed, 3, false, "hello ", 6);
	expect_text(gpt2, parsed, 3, true, txt, strlen(txt));

	assert_int_equal(llorch_tokenizer_kind_of(spm), LLORCH_TOK_SPM);
	assert_int_equal(llorch_tokenizer_bos(spm), 1);
	assert_int_equal(llorch_tokenizer_eos(spm), 2);
	assert_int_equal(llorch_tokenizer_unk(spm), 0);
	assert_true(llorch_tokenizer_is_special(spm, 1));
	assert_true(llorch_tokenizer_is_special(spm, 0));
	/* "<s>" in the text: a BOS with --special (the text after it gets the
	 * dummy prefix again, as llama.cpp does), else plain text */
	expect_ids(spm, "hello<s></s>", 12, true, false, s_plain, 7);
	expect_ids(spm, "hello<s> </s>", 13, true, true, s_parsed, 5);
	/* no BOS when asked for none, and none for an empty text either */
	expect_ids(spm, "hello", 5, false, false, s_parsed + 1, 1);
	expect_ids(spm, "", 0, false, false, NULL, 0);
	expect_ids(gpt2, "", 0, true, false, parsed + 2, 1);
	/* the unknown token renders as SentencePiece does */
	expect_text(spm, (const int32_t[]){0, 22172}, 2, false, " \xE2\x81\x87  hello", 11);
}

static void test_pieces(void **state)
{
	size_t len;
	const char *p;

	(void)state;
	NEED(gpt2 && spm);
	p = llorch_token_piece(gpt2, 262, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "\xC4\xA0the", 5); /* "Ġthe" */
	p = llorch_token_text(gpt2, 262, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(p, " the", 4);
	assert_null(llorch_token_piece(gpt2, 50257, &len));
	assert_null(llorch_token_text(gpt2, -1, &len));
	p = llorch_token_piece(spm, 13, &len);
	assert_string_equal(p, "<0x0A>");
	p = llorch_token_text(spm, 13, &len);
	assert_int_equal(len, 1);
	assert_int_equal(p[0], '\n');
	p = llorch_token_text(spm, 278, &len); /* "▁the" */
	assert_int_equal(len, 4);
	assert_memory_equal(p, " the", 4);
	p = llorch_token_text(spm, 1, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "<s>", 3);
}

/* Round trip of arbitrary bytes, valid UTF-8 or not. */
static void roundtrip(const llorch_tokenizer *t, const char *s, size_t n)
{
	int32_t *ids;
	size_t k, len;
	char *text;

	assert_status(llorch_tokenize(t, s, n, true, false, &ids, &k), LLORCH_OK);
	assert_status(llorch_detokenize(t, ids, k, false, &text, &len), LLORCH_OK);
	if (len != n || memcmp(text, s, n) != 0)
		print_message("round trip of %zu bytes gave %zu bytes\n", n, len);
	assert_int_equal(len, n);
	assert_memory_equal(text, s, n);
	free(ids);
	free(text);
}

static void test_invalid_utf8(void **state)
{
	static const char *const cases[] = {
		"\xff", "a\xffz", "\xc3", "\xc3(", "\xe2\x82", "\xe2\x82 x", "\xf0\x9f\xa6",
		"\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\x80\x80\x80", " \xfe  \xff\n",
		"caf\xc3\xa9 \xe9t\xe9", "\xf0\x9f\xa6\x99\xf0\x9f",
	};
	/* SentencePiece: byte fallback for each invalid byte */
	const int32_t ff[] = {1, 29871, 258}, mixed[] = {1, 263, 258, 29920};
	char buf[256];

	(void)state;
	NEED(gpt2 && spm);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		roundtrip(gpt2, cases[i], strlen(cases[i]));
		/* SentencePiece's dummy prefix: a text starting with a space
		 * loses it when decoded, as the reference's does */
		if (cases[i][0] != ' ')
			roundtrip(spm, cases[i], strlen(cases[i]));
	}
	expect_ids(spm, "\xff", 1, true, false, ff, 3);
	expect_ids(spm, "a\xffz", 3, true, false, mixed, 4);
	/* NUL and every byte value */
	for (int i = 0; i < 256; i++)
		buf[i] = (char)(255 - i);
	roundtrip(gpt2, buf, 256);
	roundtrip(spm, buf, 256);
	roundtrip(gpt2, "a\0b", 3);
	roundtrip(spm, "a\0b", 3);
}

/* Pushes ids one at a time; returns the concatenated output. */
static char *stream(const llorch_tokenizer *t, const int32_t *ids, size_t n, bool flush,
		size_t *len)
{
	llorch_detok *d;
	char *out = NULL;
	size_t cap = 0;

	*len = 0;
	assert_status(llorch_detok_new(t, &d), LLORCH_OK);
	for (size_t i = 0; i < n; i++)
		assert_status(llorch_detok_push(d, ids[i], &out, len, &cap), LLORCH_OK);
	if (flush)
		assert_status(llorch_detok_flush(d, &out, len, &cap), LLORCH_OK);
	llorch_detok_free(d);
	return out;
}

static void test_stream(void **state)
{
	/* BOS, "▁", then the four byte tokens of U+1F999 '🦙', then "▁I" */
	const int32_t llama[] = {1, 29871, 243, 162, 169, 156, 306};
	llorch_detok *d;
	char *out = NULL;
	size_t len = 0, cap = 0;

	(void)state;
	NEED(spm);
	assert_status(llorch_detok_new(spm, &d), LLORCH_OK);
	assert_status(llorch_detok_push(d, llama[0], &out, &len, &cap), LLORCH_OK);
	assert_int_equal(len, 0);
	assert_status(llorch_detok_push(d, llama[1], &out, &len, &cap), LLORCH_OK);
	assert_int_equal(len, 0); /* the dummy-prefix space after BOS is dropped */
	for (int i = 2; i < 5; i++) {
		assert_status(llorch_detok_push(d, llama[i], &out, &len, &cap), LLORCH_OK);
		assert_int_equal(len, 0); /* a partial character is held */
	}
	assert_status(llorch_detok_push(d, llama[5], &out, &len, &cap), LLORCH_OK);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "\xf0\x9f\xa6\x99", 4);
	assert_status(llorch_detok_push(d, llama[6], &out, &len, &cap), LLORCH_OK);
	assert_string_equal(out, "\xf0\x9f\xa6\x99 I");
	/* a character cut short by the end: flush makes it U+FFFD */
	assert_status(llorch_detok_push(d, 243, &out, &len, &cap), LLORCH_OK);
	assert_status(llorch_detok_push(d, 162, &out, &len, &cap), LLORCH_OK);
	assert_string_equal(out, "\xf0\x9f\xa6\x99 I");
	assert_status(llorch_detok_flush(d, &out, &len, &cap), LLORCH_OK);
	assert_string_equal(out, "\xf0\x9f\xa6\x99 I\xEF\xBF\xBD");
	/* an impossible byte comes out at once, as U+FFFD; a partial one
	 * followed by something that cannot continue it too */
	llorch_detok_reset(d, false);
	len = 0;
	assert_status(llorch_detok_push(d, 258 /* <0xFF> */, &out, &len, &cap), LLORCH_OK);
	assert_string_equal(out, "\xEF\xBF\xBD");
	assert_status(llorch_detok_push(d, 243, &out, &len, &cap), LLORCH_OK);
	assert_status(llorch_detok_push(d, 306, &out, &len, &cap), LLORCH_OK);
	assert_string_equal(out, "\xEF\xBF\xBD\xEF\xBF\xBD I");
	/* not at the start: the space of "▁I" stays */
	assert_int_equal(llorch_detok_push(d, 32000, &out, &len, &cap), LLORCH_E_RANGE);
	llorch_detok_free(d);
	free(out);

	/* streaming equals one-shot decoding for valid text */
	out = stream(spm, llama, 7, true, &len);
	expect_text(spm, llama, 7, false, out, len);
	free(out);
}

static void test_detokenize_range(void **state)
{
	char *text = (char *)1;
	size_t len;

	(void)state;
	NEED(gpt2);
	assert_int_equal(llorch_detokenize(gpt2, (const int32_t[]){1, 50257}, 2, false, &text,
			&len), LLORCH_E_RANGE);
	assert_null(text);
	assert_non_null(strstr(llorch_last_error(), "50257"));
	assert_int_equal(llorch_detokenize(gpt2, (const int32_t[]){-5}, 1, false, &text, &len),
			LLORCH_E_RANGE);
	expect_text(gpt2, NULL, 0, false, "", 0);
}

/* ---- hostile vocabularies, built directly ---- */

static llorch_status build(llorch_tokenizer_kind kind, const char *const *toks, size_t n,
		const int32_t *types, const float *scores, const char *const *merges,
		size_t n_merges, int64_t unk, llorch_tokenizer **t)
{
	size_t lens[64], mlens[64];

	assert_true(n <= 64 && n_merges <= 64);
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(toks[i]);
	for (size_t i = 0; i < n_merges; i++)
		mlens[i] = strlen(merges[i]);
	return tok_build(&(tok_spec){.kind = kind, .n_vocab = n, .tokens = toks,
		.token_lens = lens, .scores = scores, .types = types, .n_merges = n_merges,
		.merges = merges, .merge_lens = mlens, .bos = -1, .eos = -1, .unk = unk,
		.pad = -1, .add_bos = -1, .add_space_prefix = -1}, t);
}

static void test_hostile_gpt2(void **state)
{
	/* a GPT-2 vocab whose bytes are missing: needs an unknown token */
	const char *toks[] = {"a", "b", "ab", "", "ab", "<unk>", "xy"};
	const char *bad_merges[] = {"a b", "ab"};
	const char *odd_merges[] = {"a b", "x y", "a ab", "a  b", "a b"};
	const int32_t types[] = {1, 1, 1, 1, 1, 2, 4};
	llorch_tokenizer *t;

	(void)state;
	assert_int_equal(build(LLORCH_TOK_GPT2, toks, 5, NULL, NULL, NULL, 0, -1, &t),
			LLORCH_E_FORMAT);
	assert_non_null(strstr(llorch_last_error(), "byte"));
	/* a merge without a space is an error */
	assert_int_equal(build(LLORCH_TOK_GPT2, toks, 6, types, NULL, bad_merges, 2, 5, &t),
			LLORCH_E_FORMAT);
	assert_non_null(strstr(llorch_last_error(), "merge 1"));
	/* merges naming no token are dropped; the repeated one keeps rank 0;
	 * the duplicate "ab" (id 4) is never produced; empty token 3 neither */
	assert_status(build(LLORCH_TOK_GPT2, toks, 7, types, NULL, odd_merges, 5, 5, &t),
			LLORCH_OK);
	assert_int_equal(t->n_merges, 1);
	expect_ids(t, "abab c", 6, false, false, (const int32_t[]){2, 2, 5, 5}, 4);
	/* a USER_DEFINED token is matched whole even without parse_special */
	expect_ids(t, "axyb", 4, false, false, (const int32_t[]){0, 6, 1}, 3);
	expect_text(t, (const int32_t[]){0, 6, 1}, 3, false, "axyb", 4);
	expect_text(t, (const int32_t[]){2, 3, 4}, 3, false, "abab", 4);
	llorch_tokenizer_free(t);
	/* empty and oversized vocabularies */
	assert_int_equal(build(LLORCH_TOK_GPT2, toks, 0, NULL, NULL, NULL, 0, -1, &t),
			LLORCH_E_FORMAT);
	assert_int_equal(tok_build(&(tok_spec){.kind = LLORCH_TOK_GPT2,
		.n_vocab = (size_t)TOK_MAX_VOCAB + 1}, &t), LLORCH_E_FORMAT);
	assert_int_equal(tok_build(&(tok_spec){.kind = 7, .n_vocab = 1}, &t), LLORCH_E_INVALID);
}

static void test_hostile_spm(void **state)
{
	/* byte tokens must be exactly <0xNN> with type BYTE */
	const char *toks[] = {"<unk>", "<s>", "</s>", "<0x41>", "<0x4>", "<0x041>", "<0xGG>",
		"\xE2\x96\x81", "a", "\xE2\x96\x81" "a", "<0x42>", "ab", "<0x0a>"};
	const int32_t types[] = {2, 3, 3, 6, 6, 6, 6, 1, 1, 1, 1, 5, 6};
	const float scores[] = {0, 0, 0, 0, 0, 0, 0, -1, -2, -3, 0, 1, 0};
	const char *nofallback[] = {"a", "b", "\xE2\x96\x81"};
	llorch_tokenizer *t;

	(void)state;
	assert_status(build(LLORCH_TOK_SPM, toks, 13, types, scores, NULL, 0, 0, &t), LLORCH_OK);
	assert_int_equal(t->byte_id['A'], 3);
	assert_int_equal(t->byte_id['\n'], 12);
	assert_int_equal(t->byte_id['B'], -1); /* "<0x42>" is a NORMAL token */
	/* 'A' by byte fallback, "xy" with no byte tokens: one unknown for the
	 * run; "ab" (score 1) merges before "▁a" (score -3) but is UNUSED, so
	 * it splits back into "a" and "b" (unknown), as in sentencepiece */
	expect_ids(t, "aA xy", 5, false, false, (const int32_t[]){9, 3, 7, 0}, 4);
	expect_ids(t, "ab", 2, false, false, (const int32_t[]){7, 8, 0}, 3);
	/* the strict parse: "<0x4>" decodes as its text, not a byte */
	expect_text(t, (const int32_t[]){4, 3, 12}, 3, false, "<0x4>A\n", 7);
	llorch_tokenizer_free(t);
	/* no byte fallback and no unknown token: unencodable text is an error */
	assert_status(build(LLORCH_TOK_SPM, nofallback, 3, NULL, NULL, NULL, 0, -1, &t),
			LLORCH_OK);
	expect_ids(t, "ab", 2, false, false, (const int32_t[]){2, 0, 1}, 3);
	{
		int32_t *ids = NULL;
		size_t n;

		assert_int_equal(llorch_tokenize(t, "abc", 3, false, false, &ids, &n),
				LLORCH_E_UNSUPPORTED);
		assert_null(ids);
	}
	llorch_tokenizer_free(t);
}

/* ---- GGUF metadata problems ---- */

static llorch_status load_bytes(struct gbytes *b, llorch_tokenizer **t)
{
	llorch_gguf *g;
	llorch_status st = llorch_gguf_load_buffer(b->p, b->len, &g);

	*t = NULL;
	if (st == LLORCH_OK) {
		st = llorch_tokenizer_load(g, t);
		llorch_gguf_free(g);
	}
	gb_free(b);
	return st;
}

static void kv_model(struct gbytes *b, const char *model)
{
	gb_key(b, "tokenizer.ggml.model", LLORCH_GGUF_STRING);
	gb_str(b, model);
}

static void kv_tokens(struct gbytes *b, const char *const *toks, uint64_t n)
{
	gb_key(b, "tokenizer.ggml.tokens", LLORCH_GGUF_ARRAY);
	gb_u32(b, LLORCH_GGUF_STRING);
	gb_u64(b, n);
	for (uint64_t i = 0; i < n; i++)
		gb_str(b, toks[i]);
}

static void test_gguf_errors(void **state)
{
	const char *toks[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81" "a", "a"};
	struct gbytes b = {0};
	llorch_tokenizer *t;

	(void)state;
	gb_header(&b, 3, 0, 0);
	assert_int_equal(load_bytes(&b, &t), LLORCH_E_FORMAT);
	assert_non_null(strstr(llorch_last_error(), "tokenizer"));

	gb_header(&b, 3, 0, 2);
	kv_model(&b, "bert");
	kv_tokens(&b, toks, 5);
	assert_int_equal(load_bytes(&b, &t), LLORCH_E_UNSUPPORTED);
	assert_non_null(strstr(llorch_last_error(), "bert"));

	gb_header(&b, 3, 0, 1);
	kv_model(&b, "llama");
	assert_int_equal(load_bytes(&b, &t), LLORCH_E_FORMAT);
	assert_non_null(strstr(llorch_last_error(), "tokens"));

	/* tokens of the wrong type */
	gb_header(&b, 3, 0, 2);
	kv_model(&b, "llama");
	gb_key(&b, "tokenizer.ggml.tokens", LLORCH_GGUF_ARRAY);
	gb_u32(&b, LLORCH_GGUF_INT32);
	gb_u64(&b, 1);
	gb_u32(&b, 7);
	assert_int_equal(load_bytes(&b, &t), LLORCH_E_TYPE);

	/* scores that do not match the tokens */
	gb_header(&b, 3, 0, 3);
	kv_model(&b, "llama");
	kv_tokens(&b, toks, 5);
	gb_key(&b, "tokenizer.ggml.scores", LLORCH_GGUF_ARRAY);
	gb_u32(&b, LLORCH_GGUF_FLOAT32);
	gb_u64(&b, 2);
	gb_f32(&b, 0);
	gb_f32(&b, 0);
	assert_int_equal(load_bytes(&b, &t), LLORCH_E_FORMAT);
	assert_non_null(strstr(llorch_last_error(), "scores"));

	/* a BOS id out of range is ignored; the rest works */
	gb_header(&b, 3, 0, 3);
	kv_model(&b, "llama");
	kv_tokens(&b, toks, 5);
	gb_key(&b, "tokenizer.ggml.bos_token_id", LLORCH_GGUF_UINT32);
	gb_u32(&b, 99);
	assert_status(load_bytes(&b, &t), LLORCH_OK);
	assert_int_equal(llorch_tokenizer_bos(t), -1);
	assert_int_equal(llorch_tokenizer_eos(t), 2);
	expect_ids(t, "a", 1, true, false, (const int32_t[]){3}, 1);
	llorch_tokenizer_free(t);

	/* another model's pre-tokenizer */
	gb_header(&b, 3, 0, 3);
	kv_model(&b, "gpt2");
	kv_tokens(&b, toks, 5);
	gb_key(&b, "tokenizer.ggml.pre", LLORCH_GGUF_STRING);
	gb_str(&b, "llama-bpe");
	assert_int_equal(load_bytes(&b, &t), LLORCH_E_UNSUPPORTED);
	assert_non_null(strstr(llorch_last_error(), "llama-bpe"));

	/* a merge that is not two tokens */
	gb_header(&b, 3, 0, 3);
	kv_model(&b, "gpt2");
	kv_tokens(&b, toks, 5);
	gb_key(&b, "tokenizer.ggml.merges", LLORCH_GGUF_ARRAY);
	gb_u32(&b, LLORCH_GGUF_STRING);
	gb_u64(&b, 1);
	gb_str(&b, "ab");
	assert_int_equal(load_bytes(&b, &t), LLORCH_E_FORMAT);
}

/* ---- speed ---- */

#if defined(__SANITIZE_ADDRESS__)
#define SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOW_BUILD 1
#endif
#endif
#ifndef SLOW_BUILD
#define SLOW_BUILD 0
#endif

/* About 1 MB of English-like prose, the same every time. */
static char *english(size_t *len)
{
	static const char *const words[] = {
		"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was",
		"with", "be", "by", "on", "not", "he", "I", "this", "are", "or", "his", "from",
		"at", "which", "but", "have", "an", "had", "they", "you", "were", "their", "one",
		"all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will",
		"would", "who", "so", "no", "government", "information", "development",
		"understanding", "Washington", "December", "tokenizer", "don't", "it's",
		"1998", "42", "however", "Nevertheless", "extraordinary", "children",
	};
	size_t cap = 1 << 20, n = 0;
	char *s = malloc(cap + 64);
	uint32_t x = 12345;

	assert_non_null(s);
	while (n < cap) {
		const char *w;

		x = x * 1103515245u + 12345u;
		w = words[(x >> 8) % (sizeof words / sizeof *words)];
		n += (size_t)sprintf(s + n, "%s%s", w, (x >> 24) % 17 == 0 ? ".\n" :
				(x >> 24) % 7 == 0 ? ", " : " ");
	}
	*len = n;
	return s;
}

static double time_encode(const llorch_tokenizer *t, const char *s, size_t n, size_t *n_ids)
{
	int32_t *ids;
	int64_t t0 = llorch_now_ns();

	assert_status(llorch_tokenize(t, s, n, false, false, &ids, n_ids), LLORCH_OK);
	free(ids);
	return (double)(llorch_now_ns() - t0) / 1e9;
}

static void test_speed(void **state)
{
	size_t n, n_ids;
	char *s;
	double sec, limit = SLOW_BUILD ? 20.0 : 1.0;

	(void)state;
	NEED(gpt2 && spm);
	s = english(&n);
	sec = time_encode(gpt2, s, n, &n_ids);
	print_message("# GPT-2: %zu bytes of English -> %zu tokens in %.3f s (%.1f MB/s)\n",
			n, n_ids, sec, (double)n / sec / 1e6);
	assert_true(sec < limit);
	roundtrip(gpt2, s, n);
	sec = time_encode(spm, s, n, &n_ids);
	print_message("# SentencePiece: %zu bytes of English -> %zu tokens in %.3f s "
			"(%.1f MB/s)\n", n, n_ids, sec, (double)n / sec / 1e6);
	assert_true(sec < limit);
	/* one word of 1 MB, and 1 MB of spaces: about a million merges in one
	 * heap, around a second; quadratic work would take hours */
	memset(s, 'a', n);
	assert_true(time_encode(gpt2, s, n, &n_ids) < 5 * limit);
	assert_true(time_encode(spm, s, n, &n_ids) < 5 * limit);
	memset(s, ' ', n);
	assert_true(time_encode(gpt2, s, n, &n_ids) < 5 * limit);
	assert_true(time_encode(spm, s, n, &n_ids) < 5 * limit);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_tiktoken),
		cmocka_unit_test(test_vectors_llama2c),
		cmocka_unit_test(test_vectors_llama_tokenizer_js),
		cmocka_unit_test(test_specials),
		cmocka_unit_test(test_pieces),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_detokenize_range),
		cmocka_unit_test(test_hostile_gpt2),
		cmocka_unit_test(test_hostile_spm),
		cmocka_unit_test(test_gguf_errors),
		cmocka_unit_test(test_speed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
