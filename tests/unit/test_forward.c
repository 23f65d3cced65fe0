/* The forward pass: element-wise ops against hand-computed values, the fast
 * path against the reference path on random models of every weight type,
 * KV-cache reuse, context limits, batched decode, abort and dump hooks,
 * and model validation errors. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "ops.h"

#define CLOSE(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

/* ---- ops ---- */

static void test_layernorm(void **state)
{
	(void)state;
	float x[4] = { 1, 2, 3, 4 }, w[4] = { 1, 1, 1, 2 }, b[4] = { 0, 0, 0, 0.5f }, y[4];
	/* mean 2.5, variance 1.25: (x - 2.5) / sqrt(1.25) */
	llorch_layernorm(y, x, w, b, 4, 0);
	CLOSE(y[0], -1.3416408, 1e-6);
	CLOSE(y[1], -0.4472136, 1e-6);
	CLOSE(y[2], 0.4472136, 1e-6);
	CLOSE(y[3], 2 * 1.3416408 + 0.5, 1e-6);
	/* eps enters under the root: 1 / sqrt(1.25 + 0.75) */
	llorch_layernorm(y, x, w, NULL, 4, 0.75f);
	CLOSE(y[0], -1.5 / sqrt(2.0), 1e-6);
}

static void test_rmsnorm(void **state)
{
	(void)state;
	float x[4] = { 1, 2, 3, 4 }, w[4] = { 1, 1, 1, 0.5f }, y[4];
	/* mean square 7.5 */
	llorch_rmsnorm(y, x, w, 4, 0);
	CLOSE(y[0], 0.3651484, 1e-6);
	CLOSE(y[2], 1.0954451, 1e-6);
	CLOSE(y[3], 0.7302967, 1e-6);
	llorch_rmsnorm(x, x, w, 4, 0);   /* in place */
	CLOSE(x[1], 0.7302967, 1e-6);
}

static void test_softmax(void **state)
{
	(void)state;
	float x[4] = { 1, 2, 3, -INFINITY };
	llorch_softmax(x, 4);
	CLOSE(x[0], 0.09003057, 1e-7);
	CLOSE(x[1], 0.24472847, 1e-7);
	CLOSE(x[2], 0.66524096, 1e-7);
	assert_true(x[3] == 0);
	/* large values must not overflow */
	float y[2] = { 1000, 1000 };
	llorch_softmax(y, 2);
	CLOSE(y[0], 0.5, 1e-7);
	float z[2] = { -INFINITY, -INFINITY };
	llorch_softmax(z, 2);
	assert_true(z[0] == 0 && z[1] == 0);
}

static void test_gelu_silu(void **state)
{
	(void)state;
	/* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed by hand */
	float x[4] = { 0, 1, -1, 2 };
	llorch_gelu(x, 4);
	CLOSE(x[0], 0, 1e-7);
	CLOSE(x[1], 0.8411920, 1e-6);
	CLOSE(x[2], -0.1588080, 1e-6);
	CLOSE(x[3], 1.9545977, 1e-6);
	float g[2] = { 1, -2 }, u[2] = { 2, 3 };
	/* silu(1) = 1 / (1 + e^-1) = 0.7310586; silu(-2) = -2 / (1 + e^2) */
	llorch_silu_mul(g, u, 2);
	CLOSE(g[0], 2 * 0.7310586, 1e-6);
	CLOSE(g[1], 3 * -0.2384058, 1e-6);
}

static void test_rope(void **state)
{
	(void)state;
	/* two heads of 4; pair 0 turns by pos * 1, pair 1 by pos * 10000^(-1/2) */
	float x[8] = { 1, 0, 1, 0, 0, 1, 2, 3 };
	llorch_rope(x, 2, 4, 4, 1, 10000);
	CLOSE(x[0], cos(1.0), 1e-6);
	CLOSE(x[1], sin(1.0), 1e-6);
	CLOSE(x[2], cos(0.01), 1e-6);
	CLOSE(x[3], sin(0.01), 1e-6);
	CLOSE(x[4], -sin(1.0), 1e-6);
	CLOSE(x[5], cos(1.0), 1e-6);
	CLOSE(x[6], 2 * cos(0.01) - 3 * sin(0.01), 1e-6);
	CLOSE(x[7], 2 * sin(0.01) + 3 * cos(0.01), 1e-6);
	/* rope_dim 2 of head_dim 4: the second pair stays; position 0 is identity */
	float y[4] = { 1, 2, 3, 4 };
	llorch_rope(y, 1, 4, 2, 3, 10000);
	CLOSE(y[0], cos(3.0) - 2 * sin(3.0), 1e-6);
	assert_true(y[2] == 3 && y[3] == 4);
	float z[4] = { 1, 2, 3, 4 };
	llorch_rope(z, 1, 4, 4, 0, 10000);
	assert_true(z[0] == 1 && z[1] == 2 && z[2] == 3 && z[3] == 4);
	/* rotate-half pairs (0, 2) and (1, 3): not the same thing */
	float a[4] = { 1, 0, 0, 0 }, b[4] = { 1, 0, 0, 0 };
	llorch_rope(a, 1, 4, 4, 1, 10000);
	llorch_rope_neox(b, 1, 4, 4, 1, 10000);
	CLOSE(b[2], sin(1.0), 1e-6);
	assert_true(fabsf(a[1] - b[1]) > 0.5f);
	/* with the angles computed once (as a pass does per row): bit-identical */
	float cs[6], p[12], q[12], r[12], u[12];
	for (int i = 0; i < 12; i++)
		p[i] = q[i] = r[i] = u[i] = 0.1f * (float)i - 0.3f;
	llorch_rope_angles(cs, 6, 77, 500000.0f);
	llorch_rope(p, 2, 6, 6, 77, 500000.0f);
	llorch_rope_cs(q, 2, 6, 6, cs);
	assert_memory_equal(p, q, sizeof p);
	llorch_rope_neox(r, 2, 6, 6, 77, 500000.0f);
	llorch_rope_neox_cs(u, 2, 6, 6, cs);
	assert_memory_equal(r, u, sizeof r);
	assert_true(memcmp(p, r, sizeof p) != 0);
}

/* ---- random models written with the GGUF writer ---- */

typedef struct {
	const char *arch;
	llorch_dtype type;
	int embd, head, head_kv, layer, ff, vocab, ctx;
	bool untied;
	/* corruptions for the validation tests */
	const char *skip_tensor;  /* leave this one out */
	const char *bad_shape;    /* give this one a wrong shape */
	int head_count_override;
	int block_count_override;
	bool moe;                 /* an expert count: refused */
} spec;

typedef struct {
	void *bufs[64];
	int n;
	uint64_t rng;
} arena;

static float rnd(arena *a)
{
	/* xorshift64*: a fixed stream, so models are the same every run */
	a->rng ^= a->rng >> 12;
	a->rng ^= a->rng << 25;
	a->rng ^= a->rng >> 27;
	return (float)((a->rng * 2685821657736338717ull) >> 40) / (float)(1 << 24) * 2 - 1;
}

static void add(llorch_gguf_writer *w, arena *a, const spec *s, const char *name,
		llorch_dtype type, int64_t n_in, int64_t n_out, float mean, float spread)
{
	if (s->skip_tensor && strcmp(name, s->skip_tensor) == 0)
		return;
	if (s->bad_shape && strcmp(name, s->bad_shape) == 0)
		n_out += 1;
	size_t n = (size_t)(n_in * n_out), bytes;
	float *f = malloc(n * sizeof *f);
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		f[i] = mean + spread * rnd(a);
	assert_int_equal(llorch_dtype_row_bytes(type, n_in, &bytes), LLORCH_OK);
	bytes *= (size_t)n_out;
	void *q = malloc(bytes);
	assert_non_null(q);
	for (int64_t r = 0; r < n_out; r++)
		assert_int_equal(llorch_quantize_row(type, f + r * n_in,
				(char *)q + (size_t)r * (bytes / (size_t)n_out), n_in), LLORCH_OK);
	free(f);
	int64_t ne[2] = { n_in, n_out };
	assert_int_equal(llorch_gguf_add_tensor(w, name, type, n_out == 1 ? 1 : 2, ne, q, bytes),
			LLORCH_OK);
	assert_true(a->n < (int)(sizeof a->bufs / sizeof a->bufs[0]));
	a->bufs[a->n++] = q;
}

static void write_model(const spec *s, const char *path)
{
	llorch_gguf_writer *w;
	arena a = { .rng = 0x9E3779B97F4A7C15ull };
	char key[96], name[64];
	bool gpt2 = strcmp(s->arch, "gpt2") == 0;
	int kv = s->embd / s->head * s->head_kv;
	float ws = 1.0f / sqrtf((float)s->embd);

	assert_int_equal(llorch_gguf_writer_new(&w), LLORCH_OK);
	llorch_gguf_set_string(w, "general.architecture", s->arch);
#define KEY(k) (snprintf(key, sizeof key, "%s." k, s->arch), key)
	llorch_gguf_set_u32(w, KEY("context_length"), (uint32_t)s->ctx);
	llorch_gguf_set_u32(w, KEY("embedding_length"), (uint32_t)s->embd);
	llorch_gguf_set_u32(w, KEY("block_count"),
			(uint32_t)(s->block_count_override ? s->block_count_override : s->layer));
	llorch_gguf_set_u32(w, KEY("feed_forward_length"), (uint32_t)s->ff);
	llorch_gguf_set_u32(w, KEY("attention.head_count"),
			(uint32_t)(s->head_count_override ? s->head_count_override : s->head));
	llorch_gguf_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->head_kv);
	if (gpt2) {
		llorch_gguf_set_f32(w, KEY("attention.layer_norm_epsilon"), 1e-5f);
	} else {
		llorch_gguf_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
		llorch_gguf_set_f32(w, KEY("rope.freq_base"), 10000.0f);
		if (s->moe)
			llorch_gguf_set_u32(w, KEY("expert_count"), 8);
	}
#undef KEY
	add(w, &a, s, "token_embd.weight", s->type, s->embd, s->vocab, 0, 1);
	if (gpt2)
		add(w, &a, s, "position_embd.weight", LLORCH_DT_F32, s->embd, s->ctx, 0, 0.5f);
	for (int i = 0; i < s->layer; i++) {
#define T(n) (snprintf(name, sizeof name, "blk.%d." n, i), name)
		add(w, &a, s, T("attn_norm.weight"), LLORCH_DT_F32, s->embd, 1, 1, 0.3f);
		if (gpt2) {
			add(w, &a, s, T("attn_norm.bias"), LLORCH_DT_F32, s->embd, 1, 0, 0.3f);
			add(w, &a, s, T("attn_qkv.weight"), s->type, s->embd, s->embd + 2 * kv, 0, ws);
			add(w, &a, s, T("attn_qkv.bias"), LLORCH_DT_F32, s->embd + 2 * kv, 1, 0, 0.3f);
		} else {
			add(w, &a, s, T("attn_q.weight"), s->type, s->embd, s->embd, 0, ws);
			add(w, &a, s, T("attn_k.weight"), s->type, s->embd, kv, 0, ws);
			add(w, &a, s, T("attn_v.weight"), s->type, s->embd, kv, 0, ws);
		}
		add(w, &a, s, T("attn_output.weight"), s->type, s->embd, s->embd, 0, ws);
		if (gpt2)
			add(w, &a, s, T("attn_output.bias"), LLORCH_DT_F32, s->embd, 1, 0, 0.3f);
		add(w, &a, s, T("ffn_norm.weight"), LLORCH_DT_F32, s->embd, 1, 1, 0.3f);
		if (gpt2)
			add(w, &a, s, T("ffn_norm.bias"), LLORCH_DT_F32, s->embd, 1, 0, 0.3f);
		else
			add(w, &a, s, T("ffn_gate.weight"), s->type, s->embd, s->ff, 0, ws);
		add(w, &a, s, T("ffn_up.weight"), s->type, s->embd, s->ff, 0, ws);
		if (gpt2)
			add(w, &a, s, T("ffn_up.bias"), LLORCH_DT_F32, s->ff, 1, 0, 0.3f);
		add(w, &a, s, T("ffn_down.weight"), s->type, s->ff, s->embd, 0,
				1.0f / sqrtf((float)s->ff));
		if (gpt2)
			add(w, &a, s, T("ffn_down.bias"), LLORCH_DT_F32, s->embd, 1, 0, 0.3f);
#undef T
	}
	add(w, &a, s, "output_norm.weight", LLORCH_DT_F32, s->embd, 1, 1, 0.3f);
	if (gpt2)
		add(w, &a, s, "output_norm.bias", LLORCH_DT_F32, s->embd, 1, 0, 0.3f);
	if (s->untied)
		add(w, &a, s, "output.weight", s->type, s->embd, s->vocab, 0, ws);
	assert_int_equal(llorch_gguf_writer_write(w, path), LLORCH_OK);
	llorch_gguf_writer_free(w);
	for (int i = 0; i < a.n; i++)
		free(a.bufs[i]);
}

static spec small(const char *arch, llorch_dtype type)
{
	return (spec){ .arch = arch, .type = type, .embd = 64, .head = 4, .head_kv = 2,
		.layer = 2, .ff = 96, .vocab = 96, .ctx = 48, .untied = true };
}

static char tmpdir[64];

static llorch_model *load_spec(const spec *s)
{
	char path[128];
	llorch_model *m = NULL;

	snprintf(path, sizeof path, "%s/m.gguf", tmpdir);
	write_model(s, path);
	llorch_status st = llorch_model_load(path, &m);
	if (st != LLORCH_OK)
		fail_msg("load: %s", llorch_last_error());
	return m;
}

static llorch_ctx *new_ctx(const llorch_model *m, int threads, int n_ctx, int n_batch)
{
	llorch_ctx_params p = llorch_ctx_default_params();
	llorch_ctx *c = NULL;

	p.n_threads = threads;
	p.n_ctx = n_ctx;
	p.n_batch = n_batch;
	assert_int_equal(llorch_ctx_new(m, &p, &c), LLORCH_OK);
	return c;
}

static double max_rel(const float *a, const float *b, size_t n)
{
	double d = 0, scale = 1e-30;

	for (size_t i = 0; i < n; i++) {
		if (fabs(b[i]) > scale)
			scale = fabs(b[i]);
		if (fabs((double)a[i] - b[i]) > d)
			d = fabs((double)a[i] - b[i]);
	}
	return d / scale;
}

static const int32_t seq[] = { 1, 5, 9, 3, 90, 27, 64, 2, 0, 95, 17, 33 };
#define N_SEQ ((int32_t)(sizeof seq / sizeof seq[0]))

/* Prefill (matrix-matrix), then decode one token at a time (matrix-vector),
 * fast and reference, all positions. */
static void check_fast_vs_ref(const char *arch, llorch_dtype type)
{
	spec s = small(arch, type);
	llorch_model *m = load_spec(&s);
	int32_t V = llorch_model_hparams(m)->n_vocab;
	float *fast = calloc((size_t)N_SEQ * (size_t)V, sizeof(float));
	float *ref = calloc((size_t)N_SEQ * (size_t)V, sizeof(float));
	llorch_ctx *cf = new_ctx(m, 2, 0, 0), *cr = new_ctx(m, 1, 0, 0);
	bool quant = type == LLORCH_DT_Q8_0 || type == LLORCH_DT_Q4_0;

	/* 8 positions at once, then one at a time */
	assert_int_equal(llorch_ctx_eval(cf, seq, 8, fast, true), LLORCH_OK);
	for (int32_t i = 8; i < N_SEQ; i++)
		assert_int_equal(llorch_ctx_eval(cf, seq + i, 1, fast + (size_t)i * (size_t)V, false),
				LLORCH_OK);
	assert_int_equal(llorch_ctx_eval_ref(cr, seq, N_SEQ, ref, true), LLORCH_OK);
	assert_int_equal(llorch_ctx_n_past(cf), N_SEQ);
	double prefill = max_rel(fast, ref, (size_t)8 * (size_t)V);
	double decode = max_rel(fast + (size_t)8 * (size_t)V, ref + (size_t)8 * (size_t)V,
			(size_t)(N_SEQ - 8) * (size_t)V);
	/* quantized weights meet int8-quantized activations in the fast kernels
	 * (as in ggml); the reference keeps float activations */
	double tol = quant ? 3e-2 : 1e-4;
	if (prefill > tol || decode > tol)
		fail_msg("%s %s: prefill %g decode %g", arch, llorch_dtype_name(type), prefill, decode);
	llorch_ctx_free(cf);
	llorch_ctx_free(cr);
	llorch_model_free(m);
	free(fast);
	free(ref);
}

static void test_fast_vs_ref(void **state)
{
	static const llorch_dtype types[] = { LLORCH_DT_F32, LLORCH_DT_F16, LLORCH_DT_BF16,
		LLORCH_DT_Q8_0, LLORCH_DT_Q4_0 };
	(void)state;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		check_fast_vs_ref("gpt2", types[i]);
		check_fast_vs_ref("llama", types[i]);
	}
}

/* Same calls in the same shapes: bit-identical, with any thread count, and
 * after a truncation that throws away a different continuation. */
static void test_prefix_reuse_and_determinism(void **state)
{
	(void)state;
	for (int arch = 0; arch < 2; arch++) {
		spec s = small(arch ? "llama" : "gpt2", LLORCH_DT_F32);
		llorch_model *m = load_spec(&s);
		int32_t V = llorch_model_hparams(m)->n_vocab;
		float *a = malloc((size_t)V * sizeof *a), *b = malloc((size_t)V * sizeof *b);
		float *c3 = malloc((size_t)V * sizeof *c3);
		llorch_ctx *fresh = new_ctx(m, 1, 0, 0), *reused = new_ctx(m, 2, 0, 0);
		llorch_ctx *other = new_ctx(m, 3, 0, 0);
		int32_t junk[5] = { 7, 7, 8, 9, 10 };

		assert_int_equal(llorch_ctx_eval(fresh, seq, 5, NULL, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(fresh, seq + 5, 4, a, false), LLORCH_OK);

		assert_int_equal(llorch_ctx_eval(reused, seq, 5, NULL, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(reused, junk, 5, NULL, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_truncate(reused, 11), LLORCH_E_RANGE);
		assert_memory_equal(llorch_ctx_tokens(reused), seq, 5 * sizeof *seq);
		assert_memory_equal(llorch_ctx_tokens(reused) + 5, junk, sizeof junk);
		assert_int_equal(llorch_ctx_truncate(reused, 5), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(reused, seq + 5, 4, b, false), LLORCH_OK);
		assert_memory_equal(a, b, (size_t)V * sizeof *a);
		/* the context says which ids its cache holds, whichever path filled it */
		assert_memory_equal(llorch_ctx_tokens(reused), seq, 9 * sizeof *seq);
		assert_int_equal(llorch_ctx_truncate(reused, 7), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval_ref(reused, junk, 2, NULL, false), LLORCH_OK);
		assert_memory_equal(llorch_ctx_tokens(reused) + 7, junk, 2 * sizeof *junk);

		assert_int_equal(llorch_ctx_eval(other, seq, 5, NULL, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(other, seq + 5, 4, c3, false), LLORCH_OK);
		assert_memory_equal(a, c3, (size_t)V * sizeof *a);

		/* one token after a reused prefix, in the same shapes */
		assert_int_equal(llorch_ctx_truncate(other, 5), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(other, seq + 5, 3, NULL, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(other, junk, 2, NULL, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_truncate(other, 8), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(other, seq + 8, 1, c3, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_truncate(fresh, 0), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(fresh, seq, 5, NULL, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(fresh, seq + 5, 3, NULL, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(fresh, seq + 8, 1, a, false), LLORCH_OK);
		assert_memory_equal(a, c3, (size_t)V * sizeof *a);
		llorch_ctx_free(fresh);
		llorch_ctx_free(reused);
		llorch_ctx_free(other);
		llorch_model_free(m);
		free(a);
		free(b);
		free(c3);
	}
}

static void test_all_logits_and_batches(void **state)
{
	(void)state;
	spec s = small("llama", LLORCH_DT_F32);
	llorch_model *m = load_spec(&s);
	int32_t V = llorch_model_hparams(m)->n_vocab;
	float *all = malloc((size_t)N_SEQ * (size_t)V * sizeof *all);
	float *all3 = malloc((size_t)N_SEQ * (size_t)V * sizeof *all3);
	float *last = malloc((size_t)V * sizeof *last);
	llorch_ctx *c = new_ctx(m, 2, 0, 0), *c3 = new_ctx(m, 2, 0, 5);

	assert_int_equal(llorch_ctx_eval(c, seq, N_SEQ, all, true), LLORCH_OK);
	assert_int_equal(llorch_ctx_truncate(c, 0), LLORCH_OK);
	assert_int_equal(llorch_ctx_eval(c, seq, N_SEQ, last, false), LLORCH_OK);
	/* the last row alone goes through matrix-vector, all rows matrix-matrix */
	assert_true(max_rel(last, all + (size_t)(N_SEQ - 1) * (size_t)V, (size_t)V) < 1e-5);
	/* prompt in batches of 5 (5 + 5 + 2) agrees with one batch */
	assert_int_equal(llorch_ctx_eval(c3, seq, N_SEQ, all3, true), LLORCH_OK);
	assert_true(max_rel(all3, all, (size_t)N_SEQ * (size_t)V) < 1e-5);
	llorch_ctx_free(c);
	llorch_ctx_free(c3);
	llorch_model_free(m);
	free(all);
	free(all3);
	free(last);
}

/* A prompt long enough for several tiles of attention rows (a full one,
 * one across the end), after a short first chunk so that the tiles start
 * mid-cache: against the reference, and bit-identical with 1 and 3
 * threads. Grouped-query heads of 16 values (small()). */
static void test_long_prompt_tiles(void **state)
{
	enum { N_FIRST = 5, N_LONG = 40 };
	int32_t toks[N_FIRST + N_LONG];

	(void)state;
	for (int32_t i = 0; i < N_FIRST + N_LONG; i++)
		toks[i] = seq[i % N_SEQ] ^ (i / N_SEQ);
	for (int arch = 0; arch < 2; arch++) {
		spec s = small(arch ? "llama" : "gpt2", LLORCH_DT_F32);
		llorch_model *m = load_spec(&s);
		size_t V = (size_t)llorch_model_hparams(m)->n_vocab, n = N_FIRST + N_LONG;
		float *a = malloc(n * V * sizeof *a), *b = malloc(n * V * sizeof *b);
		float *ref = malloc(n * V * sizeof *ref);
		llorch_ctx *c1 = new_ctx(m, 1, 0, 0), *c3 = new_ctx(m, 3, 0, 0);
		llorch_ctx *cr = new_ctx(m, 1, 0, 0);

		assert_true(a && b && ref);
		assert_int_equal(llorch_ctx_eval(c1, toks, N_FIRST, a, true), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(c1, toks + N_FIRST, N_LONG, a + N_FIRST * V, true),
				LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(c3, toks, N_FIRST, b, true), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(c3, toks + N_FIRST, N_LONG, b + N_FIRST * V, true),
				LLORCH_OK);
		assert_memory_equal(a, b, n * V * sizeof *a);
		assert_int_equal(llorch_ctx_eval_ref(cr, toks, (int32_t)n, ref, true), LLORCH_OK);
		double err = max_rel(a, ref, n * V);
		if (err > 1e-4)
			fail_msg("%s: long prompt %g from the reference", s.arch, err);
		llorch_ctx_free(c1);
		llorch_ctx_free(c3);
		llorch_ctx_free(cr);
		llorch_model_free(m);
		free(a);
		free(b);
		free(ref);
	}
}

static llorch_ctx *new_ctx_kv(const llorch_model *m, int threads, llorch_dtype kv_type)
{
	llorch_ctx_params p = llorch_ctx_default_params();
	llorch_ctx *c = NULL;

	p.n_threads = threads;
	p.kv_type = kv_type;
	assert_int_equal(llorch_ctx_new(m, &p, &c), LLORCH_OK);
	assert_int_equal(llorch_ctx_kv_type(c), kv_type);
	return c;
}

/* A typed KV cache (f16, q8_0): the fast pass (prompt tiles, then
 * one-token decode, on 3 threads) against the reference with the same
 * cache type, which rounds each stored key and value by the type's rule
 * written out; against an f32 cache it differs (the rounding is real) but
 * little; the cache bytes drop by the type's size. */
static void check_kv_type(const char *arch, llorch_dtype kt, int32_t embd, double max_off)
{
	enum { N_PROMPT = 40, N_DECODE = 5, N = N_PROMPT + N_DECODE };
	int32_t toks[N];
	spec s = small(arch, LLORCH_DT_F32);

	for (int32_t i = 0; i < N; i++)
		toks[i] = seq[i % N_SEQ] ^ (i / N_SEQ);
	s.embd = embd;
	llorch_model *m = load_spec(&s);
	size_t V = (size_t)llorch_model_hparams(m)->n_vocab;
	float *a = malloc(N * V * sizeof *a), *ref = malloc(N * V * sizeof *ref);
	float *f32 = malloc(N * V * sizeof *f32);
	llorch_ctx *c = new_ctx_kv(m, 3, kt), *cr = new_ctx_kv(m, 1, kt);
	llorch_ctx *c32 = new_ctx_kv(m, 3, LLORCH_DT_F32);

	assert_true(a && ref && f32);
	assert_int_equal(llorch_ctx_eval(c, toks, N_PROMPT, a, true), LLORCH_OK);
	assert_int_equal(llorch_ctx_eval(c32, toks, N_PROMPT, f32, true), LLORCH_OK);
	for (int32_t i = N_PROMPT; i < N; i++) {
		assert_int_equal(llorch_ctx_eval(c, toks + i, 1, a + i * V, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(c32, toks + i, 1, f32 + i * V, false), LLORCH_OK);
	}
	assert_int_equal(llorch_ctx_eval_ref(cr, toks, N, ref, true), LLORCH_OK);
	double err = max_rel(a, ref, N * V), off = max_rel(a, f32, N * V);
	print_message("# %s %s cache: %.3g from the reference, %.3g from the f32 cache\n", arch,
			llorch_dtype_name(kt), err, off);
	if (err > 1e-4)
		fail_msg("%s: %s cache %g from the reference", arch, llorch_dtype_name(kt), err);
	if (off == 0 || off > max_off)
		fail_msg("%s: %s cache %g from the f32 cache", arch, llorch_dtype_name(kt), off);
	/* (layers, head_kv, n_ctx, head_dim) keys and values: 2 bytes each, or
	 * 34 a block of 32, instead of 4 */
	size_t values = (size_t)s.layer * (size_t)llorch_ctx_n_ctx(c) * 2 *
		(size_t)(s.embd / s.head * s.head_kv);
	size_t bytes = kt == LLORCH_DT_F16 ? values * 2 : values / 32 * 34;
	assert_int_equal(llorch_ctx_memory_bytes(c32) - llorch_ctx_memory_bytes(c),
			values * 4 - bytes);
	llorch_ctx_free(c);
	llorch_ctx_free(cr);
	llorch_ctx_free(c32);
	free(a);
	free(ref);
	free(f32);
	llorch_model_free(m);
}

static void test_kv_types(void **state)
{
	(void)state;
	for (int arch = 0; arch < 2; arch++) {
		const char *name = arch ? "llama" : "gpt2";
		check_kv_type(name, LLORCH_DT_F16, 64, 1e-2);
		/* head size 32: q8_0 blocks are whole heads */
		check_kv_type(name, LLORCH_DT_Q8_0, 128, 2e-2);

		/* q8_0 needs head sizes that are multiples of 32; types other
		 * than f32, f16 and q8_0 are refused */
		spec s = small(name, LLORCH_DT_F32);
		llorch_model *m = load_spec(&s);
		llorch_ctx_params p = llorch_ctx_default_params();
		llorch_ctx *c = NULL;
		p.kv_type = LLORCH_DT_Q8_0;
		assert_int_equal(llorch_ctx_new(m, &p, &c), LLORCH_E_UNSUPPORTED);
		assert_non_null(strstr(llorch_last_error(), "KV cache type q8_0 needs a head size "
				"that is a multiple of 32; this model's is 16"));
		p.kv_type = LLORCH_DT_Q4_0;
		assert_int_equal(llorch_ctx_new(m, &p, &c), LLORCH_E_RANGE);
		assert_non_null(strstr(llorch_last_error(), "KV cache type q4_0"));
		p.kv_type = (llorch_dtype)12345;
		assert_int_equal(llorch_ctx_new(m, &p, &c), LLORCH_E_RANGE);
		assert_null(c);
		llorch_model_free(m);
	}
}

static void test_range_errors(void **state)
{
	(void)state;
	spec s = small("gpt2", LLORCH_DT_F32);
	llorch_model *m = load_spec(&s);
	llorch_ctx *c = new_ctx(m, 1, 10, 0);
	int32_t V = llorch_model_hparams(m)->n_vocab;
	float *lg = malloc((size_t)V * sizeof *lg);
	int32_t bad[3] = { 1, V, 2 }, neg[1] = { -1 };

	assert_int_equal(llorch_ctx_n_ctx(c), 10);
	assert_int_equal(llorch_ctx_eval(c, bad, 3, lg, false), LLORCH_E_RANGE);
	assert_non_null(strstr(llorch_last_error(), "out of range"));
	assert_int_equal(llorch_ctx_eval_ref(c, neg, 1, lg, false), LLORCH_E_RANGE);
	assert_int_equal(llorch_ctx_n_past(c), 0);
	assert_int_equal(llorch_ctx_eval(c, seq, 8, lg, false), LLORCH_OK);
	/* 8 + 3 > 10: nothing evaluated */
	assert_int_equal(llorch_ctx_eval(c, seq, 3, lg, false), LLORCH_E_RANGE);
	assert_int_equal(llorch_ctx_n_past(c), 8);
	assert_int_equal(llorch_ctx_eval(c, seq, 2, lg, false), LLORCH_OK);
	assert_int_equal(llorch_ctx_eval(c, seq, 1, lg, false), LLORCH_E_RANGE);
	assert_int_equal(llorch_ctx_eval(c, seq, 0, lg, false), LLORCH_E_INVALID);
	llorch_ctx_free(c);
	/* gpt2's learned positions end at its context length */
	llorch_ctx_params p = llorch_ctx_default_params();
	p.n_ctx = s.ctx + 1;
	assert_int_equal(llorch_ctx_new(m, &p, &c), LLORCH_E_RANGE);
	llorch_model_free(m);
	free(lg);
}

static void test_eval_batch(void **state)
{
	(void)state;
	spec s = small("llama", LLORCH_DT_F32);
	llorch_model *m = load_spec(&s);
	int32_t V = llorch_model_hparams(m)->n_vocab;
	llorch_ctx *cs[3], *single = new_ctx(m, 2, 0, 0);
	float *lb = malloc(3 * (size_t)V * sizeof *lb), *ls = malloc((size_t)V * sizeof *ls);
	int32_t next[3] = { 4, 40, 80 };

	for (int i = 0; i < 3; i++) {
		cs[i] = new_ctx(m, 2, 0, i == 0 ? 2 : 0);   /* ctx 0's scratch: 2 rows */
		assert_int_equal(llorch_ctx_eval(cs[i], seq + i, 3 + i, NULL, false), LLORCH_OK);
	}
	assert_int_equal(llorch_ctx_eval_batch(cs, next, 3, lb), LLORCH_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(llorch_ctx_n_past(cs[i]), 4 + i);
		assert_int_equal(llorch_ctx_tokens(cs[i])[3 + i], next[i]);
		assert_int_equal(llorch_ctx_truncate(single, 0), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(single, seq + i, 3 + i, NULL, false), LLORCH_OK);
		assert_int_equal(llorch_ctx_eval(single, next + i, 1, ls, false), LLORCH_OK);
		assert_true(max_rel(lb + (size_t)i * (size_t)V, ls, (size_t)V) < 1e-5);
	}
	llorch_ctx *dup[2] = { cs[0], cs[0] };
	assert_int_equal(llorch_ctx_eval_batch(dup, next, 2, lb), LLORCH_E_INVALID);
	int32_t bad[3] = { 1, V, 1 };
	assert_int_equal(llorch_ctx_eval_batch(cs, bad, 3, lb), LLORCH_E_RANGE);
	assert_int_equal(llorch_ctx_n_past(cs[0]), 4);
	for (int i = 0; i < 3; i++)
		llorch_ctx_free(cs[i]);
	llorch_ctx_free(single);
	llorch_model_free(m);
	free(lb);
	free(ls);
}

static int abort_after;
static bool abort_cb(void *user)
{
	(void)user;
	return --abort_after < 0;
}

typedef struct {
	int calls, embd, layer_out, logits;
	int max_layer;
} dump_count;

static void dump_cb(const char *name, int32_t layer, int32_t pos, const float *x, int64_t n,
		void *user)
{
	dump_count *d = user;
	(void)pos;
	(void)x;
	d->calls++;
	d->embd += strcmp(name, "embd") == 0 && n == 64;
	d->layer_out += strcmp(name, "layer_out") == 0;
	d->logits += strcmp(name, "logits") == 0 && n == 96;
	if (layer > d->max_layer)
		d->max_layer = layer;
}

static void test_abort_and_dump(void **state)
{
	(void)state;
	spec s = small("gpt2", LLORCH_DT_F16);
	llorch_model *m = load_spec(&s);
	llorch_ctx *c = new_ctx(m, 2, 0, 4);
	dump_count d = { 0 };

	/* cancelled in the second prompt batch: only the first batch is kept */
	abort_after = 3;
	llorch_ctx_set_abort(c, abort_cb, NULL);
	assert_int_equal(llorch_ctx_eval(c, seq, 8, NULL, false), LLORCH_E_CANCELLED);
	assert_int_equal(llorch_ctx_n_past(c), 4);
	llorch_ctx_set_abort(c, NULL, NULL);
	llorch_ctx_set_dump(c, dump_cb, &d);
	assert_int_equal(llorch_ctx_eval(c, seq + 4, 3, NULL, false), LLORCH_OK);
	assert_int_equal(d.embd, 3);
	assert_int_equal(d.layer_out, 3 * 2);
	assert_int_equal(d.logits, 3);
	assert_int_equal(d.max_layer, 1);
	assert_int_equal(d.calls, 3 * (1 + 5 * 2 + 2));
	d = (dump_count){ 0 };
	assert_int_equal(llorch_ctx_eval_ref(c, seq, 1, NULL, false), LLORCH_OK);
	assert_int_equal(d.calls, 1 + 5 * 2 + 2);
	llorch_ctx_free(c);
	llorch_model_free(m);
}

/* The fault hook breaks one step of the fast path; fast vs ref must notice. */
static double faulty_error(const char *fault, const char *arch)
{
	spec s = small(arch, LLORCH_DT_F32);
	llorch_model *m = load_spec(&s);
	int32_t V = llorch_model_hparams(m)->n_vocab;
	float *fast = malloc((size_t)V * sizeof *fast), *ref = malloc((size_t)V * sizeof *ref);

	setenv("LLORCH_DEBUG_FAULT", fault, 1);
	llorch_ctx *cf = new_ctx(m, 2, 0, 0);
	unsetenv("LLORCH_DEBUG_FAULT");
	llorch_ctx *cr = new_ctx(m, 1, 0, 0);
	assert_int_equal(llorch_ctx_eval(cf, seq, 6, fast, false), LLORCH_OK);
	assert_int_equal(llorch_ctx_eval_ref(cr, seq, 6, ref, false), LLORCH_OK);
	double e = max_rel(fast, ref, (size_t)V);
	llorch_ctx_free(cf);
	llorch_ctx_free(cr);
	llorch_model_free(m);
	free(fast);
	free(ref);
	return e;
}

static void test_fault_hooks(void **state)
{
	(void)state;
	assert_true(faulty_error("gelu", "gpt2") > 1e-3);
	assert_true(faulty_error("bias", "gpt2") > 1e-3);
	assert_true(faulty_error("rope", "llama") > 1e-3);
	/* and with no fault the same comparison passes */
	assert_true(faulty_error("", "llama") < 1e-5);
}

static void expect_load_error(const spec *s, llorch_status want, const char *needle)
{
	char path[128];
	llorch_model *m = NULL;

	snprintf(path, sizeof path, "%s/bad.gguf", tmpdir);
	write_model(s, path);
	assert_int_equal(llorch_model_load(path, &m), want);
	assert_null(m);
	if (!strstr(llorch_last_error(), needle))
		fail_msg("error '%s' does not name '%s'", llorch_last_error(), needle);
}

static void test_validation(void **state)
{
	(void)state;
	spec s = small("llama", LLORCH_DT_Q8_0);
	s.skip_tensor = "blk.1.ffn_gate.weight";
	expect_load_error(&s, LLORCH_E_FORMAT, "blk.1.ffn_gate.weight");
	s = small("gpt2", LLORCH_DT_F32);
	s.bad_shape = "blk.0.attn_qkv.weight";
	expect_load_error(&s, LLORCH_E_FORMAT, "blk.0.attn_qkv.weight");
	s = small("gpt2", LLORCH_DT_F32);
	s.bad_shape = "output_norm.bias";
	expect_load_error(&s, LLORCH_E_FORMAT, "output_norm.bias");
	s = small("llama", LLORCH_DT_F32);
	s.head_count_override = 3;    /* 64 is not a multiple of 3 */
	expect_load_error(&s, LLORCH_E_FORMAT, "head_count");
	s = small("llama", LLORCH_DT_F32);
	s.head_kv = 3;                /* 4 heads do not split into 3 groups */
	expect_load_error(&s, LLORCH_E_FORMAT, "head_count_kv");
	s = small("llama", LLORCH_DT_F32);
	s.block_count_override = LLORCH_MAX_LAYERS + 1;
	expect_load_error(&s, LLORCH_E_FORMAT, "block_count");
	s = small("llama", LLORCH_DT_F32);
	s.moe = true;
	expect_load_error(&s, LLORCH_E_UNSUPPORTED, "expert_count");
	/* a tied model: no output.weight */
	s = small("gpt2", LLORCH_DT_Q4_0);
	s.untied = false;
	llorch_model *m = load_spec(&s);
	assert_true(llorch_model_hparams(m)->tied_output);
	assert_string_equal(llorch_model_arch_name(m), "gpt2");
	assert_string_equal(llorch_model_name(m), "m");
	assert_null(llorch_model_tokenizer(m));
	assert_true(llorch_model_weight_bytes(m) < llorch_model_file_bytes(m));
	llorch_model_free(m);
}

static int setup(void **state)
{
	(void)state;
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/test_forward.XXXXXX", t && strlen(t) < 32 ? t : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];
	(void)state;
	snprintf(path, sizeof path, "%s/m.gguf", tmpdir);
	unlink(path);
	snprintf(path, sizeof path, "%s/bad.gguf", tmpdir);
	unlink(path);
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layernorm),
		cmocka_unit_test(test_rmsnorm),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_gelu_silu),
		cmocka_unit_test(test_rope),
		cmocka_unit_test(test_fast_vs_ref),
		cmocka_unit_test(test_prefix_reuse_and_determinism),
		cmocka_unit_test(test_all_logits_and_batches),
		cmocka_unit_test(test_long_prompt_tiles),
		cmocka_unit_test(test_kv_types),
		cmocka_unit_test(test_range_errors),
		cmocka_unit_test(test_eval_batch),
		cmocka_unit_test(test_abort_and_dump),
		cmocka_unit_test(test_fault_hooks),
		cmocka_unit_test(test_validation),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
