/* Model-file makers through the library: the writer's fill callback, random
 * models (determinism, shapes, bad parameters), the built-in tokenizers
 * through the real tokenizer, quantization round trips. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <dirent.h>

#include "internal.h"

static char dir[64];

static const char *tmp_path(const char *name)
{
	static char path[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
	return path[k];
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/test_convert.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *names[] = {"fill.gguf", "bad.gguf", "a.gguf", "b.gguf", "c.gguf",
		"q8.gguf", "q4.gguf", "v.gguf"};

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		unlink(tmp_path(names[i]));
	return rmdir(dir);
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Entries in the scratch directory, "." and ".." aside. */
static int files_in_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- the writer's fill callback ---- */

static int fills;

static llorch_status fill_ramp(void *user, void *dst, size_t nbytes)
{
	float *f = dst;

	fills++;
	for (size_t i = 0; i < nbytes / sizeof *f; i++)
		f[i] = (float)i * *(const float *)user;
	return LLORCH_OK;
}

static llorch_status fill_fails(void *user, void *dst, size_t nbytes)
{
	(void)user;
	memset(dst, 0, nbytes);
	return llorch_error(LLORCH_E_RANGE, "generator gave up");
}

static void test_fill_writes_what_the_callback_makes(void **state)
{
	llorch_gguf_writer *w;
	llorch_gguf *g;
	const llorch_gguf_tensor *t;
	static const float ref[6] = {10, 11, 12, 13, 14, 15};
	const int64_t ne[2] = {3, 2}, ne1[1] = {6};
	float scale = 0.5f;

	(void)state;
	fills = 0;
	assert_int_equal(llorch_gguf_writer_new(&w), LLORCH_OK);
	assert_int_equal(llorch_gguf_add_tensor(w, "plain", LLORCH_DT_F32, 1, ne1, ref, sizeof ref), LLORCH_OK);
	assert_int_equal(llorch_gguf_add_tensor_fill(w, "ramp", LLORCH_DT_F32, 2, ne, fill_ramp, &scale), LLORCH_OK);
	/* The same checks as add_tensor: duplicate names, bad shapes. */
	assert_int_equal(llorch_gguf_add_tensor_fill(w, "ramp", LLORCH_DT_F32, 2, ne, fill_ramp, &scale), LLORCH_E_INVALID);
	assert_int_equal(llorch_gguf_add_tensor_fill(w, "odd", LLORCH_DT_Q8_0, 2, ne, fill_ramp, &scale), LLORCH_E_INVALID);
	assert_int_equal(llorch_gguf_add_tensor_fill(w, "nofill", LLORCH_DT_F32, 2, ne, NULL, NULL), LLORCH_E_INVALID);
	assert_int_equal(fills, 0); /* nothing is made before the write */
	assert_int_equal(llorch_gguf_writer_write(w, tmp_path("fill.gguf")), LLORCH_OK);
	assert_int_equal(fills, 1);
	llorch_gguf_writer_free(w);

	assert_int_equal(llorch_gguf_load(tmp_path("fill.gguf"), &g), LLORCH_OK);
	assert_int_equal(llorch_gguf_n_tensors(g), 2);
	t = llorch_gguf_find_tensor(g, "ramp");
	assert_non_null(t);
	assert_int_equal(t->nbytes, 6 * sizeof(float));
	for (int i = 0; i < 6; i++)
		assert_true(((const float *)t->data)[i] == 0.5f * (float)i);
	assert_memory_equal(llorch_gguf_find_tensor(g, "plain")->data, ref, sizeof ref);
	llorch_gguf_free(g);
}

static void test_failing_fill_fails_the_write_and_leaves_no_file(void **state)
{
	llorch_gguf_writer *w;
	const int64_t ne[1] = {32};

	(void)state;
	assert_int_equal(llorch_gguf_writer_new(&w), LLORCH_OK);
	assert_int_equal(llorch_gguf_add_tensor_fill(w, "t", LLORCH_DT_F32, 1, ne, fill_fails, NULL), LLORCH_OK);
	assert_int_equal(llorch_gguf_writer_write(w, tmp_path("bad.gguf")), LLORCH_E_RANGE);
	assert_string_equal(llorch_last_error(), "generator gave up");
	llorch_gguf_writer_free(w);
	assert_int_equal(access(tmp_path("bad.gguf"), F_OK), -1);
	assert_int_equal(files_in_dir(), 1); /* fill.gguf; no temporary file left */
}

/* ---- random models ---- */

static void test_random_is_deterministic(void **state)
{
	llorch_random_params p = llorch_random_default_params(LLORCH_ARCH_LLAMA);
	unsigned char *a, *b, *c;
	size_t na, nb, nc;

	(void)state;
	p.type = LLORCH_DT_Q4_0;
	p.n_head_kv = 2;
	p.seed = 1234567890123ull;
	assert_int_equal(llorch_model_random(&p, tmp_path("a.gguf")), LLORCH_OK);
	assert_int_equal(llorch_model_random(&p, tmp_path("b.gguf")), LLORCH_OK);
	p.seed++;
	assert_int_equal(llorch_model_random(&p, tmp_path("c.gguf")), LLORCH_OK);
	a = read_all(tmp_path("a.gguf"), &na);
	b = read_all(tmp_path("b.gguf"), &nb);
	c = read_all(tmp_path("c.gguf"), &nc);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	assert_int_equal(na, nc);
	assert_true(memcmp(a, c, na) != 0);
	free(a);
	free(b);
	free(c);
}

static void test_random_rejects_bad_shapes(void **state)
{
	llorch_random_params p = llorch_random_default_params(LLORCH_ARCH_LLAMA), q;
	const char *out = tmp_path("bad.gguf");

	(void)state;
	q = p, q.n_embd = 0;
	assert_int_equal(llorch_model_random(&q, out), LLORCH_E_INVALID);
	q = p, q.n_head = 3;
	assert_int_equal(llorch_model_random(&q, out), LLORCH_E_INVALID);
	q = p, q.n_head_kv = 3;
	assert_int_equal(llorch_model_random(&q, out), LLORCH_E_INVALID);
	q = p, q.n_layer = LLORCH_MAX_LAYERS + 1;
	assert_int_equal(llorch_model_random(&q, out), LLORCH_E_INVALID);
	q = p, q.n_ctx = LLORCH_MAX_CTX + 1;
	assert_int_equal(llorch_model_random(&q, out), LLORCH_E_INVALID);
	q = p, q.type = LLORCH_DT_Q4_K;
	assert_int_equal(llorch_model_random(&q, out), LLORCH_E_INVALID);
	q = p, q.type = (llorch_dtype)99;
	assert_int_equal(llorch_model_random(&q, out), LLORCH_E_INVALID);
	q = p, q.arch = (llorch_arch)7;
	assert_int_equal(llorch_model_random(&q, out), LLORCH_E_INVALID);
	q = llorch_random_default_params(LLORCH_ARCH_GPT2), q.n_head_kv = 2;
	assert_int_equal(llorch_model_random(&q, out), LLORCH_E_INVALID);
	assert_int_equal(llorch_model_random(NULL, out), LLORCH_E_INVALID);
	assert_int_equal(llorch_model_random(&p, NULL), LLORCH_E_INVALID);
	assert_int_equal(access(out, F_OK), -1);
}

/* ---- built-in tokenizers ---- */

static void roundtrip(llorch_arch arch, const char *text, size_t min_merged)
{
	llorch_random_params p = llorch_random_default_params(arch);
	llorch_gguf *g;
	llorch_tokenizer *t;
	int32_t *ids;
	size_t n, len, n_bytes = 0;
	char *back;

	assert_int_equal(llorch_model_random(&p, tmp_path("v.gguf")), LLORCH_OK);
	assert_int_equal(llorch_gguf_load(tmp_path("v.gguf"), &g), LLORCH_OK);
	assert_int_equal(llorch_tokenizer_load(g, &t), LLORCH_OK);
	llorch_gguf_free(g);
	assert_int_equal(llorch_tokenize(t, text, strlen(text), false, false, &ids, &n), LLORCH_OK);
	assert_int_equal(llorch_detokenize(t, ids, n, false, &back, &len), LLORCH_OK);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(back, text, len);
	/* Merges happened: fewer tokens than bytes... */
	assert_true(n + min_merged <= strlen(text));
	/* ...and bytes outside the pieces went through byte tokens. */
	for (size_t i = 0; i < n; i++) {
		size_t plen;
		const char *piece = llorch_token_piece(t, ids[i], &plen);

		assert_non_null(piece);
		if (arch == LLORCH_ARCH_LLAMA && plen == 6 && !strncmp(piece, "<0x", 3))
			n_bytes++;
	}
	if (arch == LLORCH_ARCH_LLAMA)
		assert_true(n_bytes >= 3); /* "é" and "\xff" have no pieces */
	free(ids);
	free(back);
	llorch_tokenizer_free(t);
}

static void test_builtin_tokenizers_work(void **state)
{
	(void)state;
	roundtrip(LLORCH_ARCH_GPT2, "the cat and the hat, in the end\n\xff caf\xc3\xa9", 6);
	roundtrip(LLORCH_ARCH_LLAMA, "the cat and the hat, in the end\n\xff caf\xc3\xa9", 6);
}

/* ---- quantization ---- */

static void test_quantize_round_trip(void **state)
{
	llorch_random_params p = llorch_random_default_params(LLORCH_ARCH_GPT2);
	llorch_gguf *f32, *q8;
	int64_t kept = -1;
	float *a, *b;

	(void)state;
	p.n_embd = 48; /* rows of 48 cannot be Q8_0: those tensors stay */
	p.n_head = 4;
	p.n_ff = 64;
	assert_int_equal(llorch_model_random(&p, tmp_path("a.gguf")), LLORCH_OK);
	assert_int_equal(llorch_model_quantize(tmp_path("a.gguf"), tmp_path("q8.gguf"), LLORCH_DT_Q8_0, &kept), LLORCH_OK);
	assert_int_equal(kept, 8); /* token/position embeddings, per block qkv, attn_output, ffn_up */
	assert_int_equal(llorch_model_quantize(tmp_path("a.gguf"), tmp_path("q4.gguf"), LLORCH_DT_Q4_K, NULL), LLORCH_E_INVALID);
	assert_int_equal(llorch_model_quantize(tmp_path("nosuch.gguf"), tmp_path("q4.gguf"), LLORCH_DT_Q8_0, NULL), LLORCH_E_NOTFOUND);

	assert_int_equal(llorch_gguf_load(tmp_path("a.gguf"), &f32), LLORCH_OK);
	assert_int_equal(llorch_gguf_load(tmp_path("q8.gguf"), &q8), LLORCH_OK);
	assert_int_equal(llorch_gguf_n_tensors(f32), llorch_gguf_n_tensors(q8));
	for (int64_t i = 0; i < llorch_gguf_n_tensors(f32); i++) {
		const llorch_gguf_tensor *x = llorch_gguf_tensor_at(f32, i), *y = llorch_gguf_tensor_at(q8, i);
		int64_t n = x->ne[0] * x->ne[1];

		assert_string_equal(x->name, y->name);
		assert_int_equal(y->type, x->ne[0] % 32 == 0 && x->n_dims == 2 ? LLORCH_DT_Q8_0 : LLORCH_DT_F32);
		a = malloc((size_t)n * sizeof *a);
		b = malloc((size_t)n * sizeof *b);
		assert_int_equal(llorch_dequantize_row(x->type, x->data, a, n), LLORCH_OK);
		assert_int_equal(llorch_dequantize_row(y->type, y->data, b, n), LLORCH_OK);
		for (int64_t j = 0; j < n; j += 32) {
			float amax = 0;

			for (int64_t k = j; k < j + 32 && k < n; k++)
				amax = fmaxf(amax, fabsf(a[k]));
			for (int64_t k = j; k < j + 32 && k < n; k++)
				/* half a step, and the fp16 rounding of the scale over 127 steps */
				assert_true(fabsf(a[k] - b[k]) <= amax / 127.0f * 0.57f + 1e-7f);
		}
		free(a);
		free(b);
	}
	llorch_gguf_free(f32);
	llorch_gguf_free(q8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_writes_what_the_callback_makes),
		cmocka_unit_test(test_failing_fill_fails_the_write_and_leaves_no_file),
		cmocka_unit_test(test_random_is_deterministic),
		cmocka_unit_test(test_random_rejects_bad_shapes),
		cmocka_unit_test(test_builtin_tokenizers_work),
		cmocka_unit_test(test_quantize_round_trip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
