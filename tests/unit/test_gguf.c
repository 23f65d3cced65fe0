/* GGUF reader: a hand-assembled file with every value type and a few tensors,
 * typed getters and their type errors, v2, custom alignment, the mmap path,
 * and the real llama.cpp vocab files from the shared data. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "gguf_bytes.h"

static const char *const words[] = { "hello", "", "w\xc3\xb6rld", "a b" };

/* A v3 file with one key of each type, three arrays, and three tensors whose
 * offsets are not in file order: t.f32 (4, 2) f32 at 64, t.q8 (32) q8_0 at 0,
 * t.f16 (8) f16 at 128. */
static void build_sample(struct gbytes *b, uint32_t version, uint32_t alignment)
{
	const int64_t ne_f32[2] = { 4, 2 }, ne_q8[1] = { 32 }, ne_f16[1] = { 8 };
	uint64_t n_kv = 18 + (alignment ? 1 : 0);
	size_t align = alignment ? alignment : 32;

	gb_header(b, version, 3, n_kv);
	gb_key(b, "general.architecture", LLORCH_GGUF_STRING);
	gb_str(b, "llama");
	if (alignment) {
		gb_key(b, "general.alignment", LLORCH_GGUF_UINT32);
		gb_u32(b, alignment);
	}
	gb_key(b, "u8", LLORCH_GGUF_UINT8);
	gb_u8(b, 200);
	gb_key(b, "i8", LLORCH_GGUF_INT8);
	gb_u8(b, (uint8_t)-5);
	gb_key(b, "u16", LLORCH_GGUF_UINT16);
	gb_u16(b, 65535);
	gb_key(b, "i16", LLORCH_GGUF_INT16);
	gb_u16(b, (uint16_t)-300);
	gb_key(b, "u32", LLORCH_GGUF_UINT32);
	gb_u32(b, 4000000000u);
	gb_key(b, "i32", LLORCH_GGUF_INT32);
	gb_u32(b, (uint32_t)-70000);
	gb_key(b, "f32", LLORCH_GGUF_FLOAT32);
	gb_f32(b, 0.1f);
	gb_key(b, "bool", LLORCH_GGUF_BOOL);
	gb_u8(b, 1);
	gb_key(b, "u64", LLORCH_GGUF_UINT64);
	gb_u64(b, UINT64_MAX);
	gb_key(b, "i64", LLORCH_GGUF_INT64);
	gb_u64(b, (uint64_t)INT64_MIN);
	gb_key(b, "f64", LLORCH_GGUF_FLOAT64);
	gb_f64(b, -2.5e300);
	gb_key(b, "str.nul", LLORCH_GGUF_STRING);
	gb_u64(b, 3);
	gb_raw(b, "a\0b", 3);
	gb_key(b, "arr.words", LLORCH_GGUF_ARRAY);
	gb_u32(b, LLORCH_GGUF_STRING);
	gb_u64(b, 4);
	for (int i = 0; i < 4; i++)
		gb_str(b, words[i]);
	gb_key(b, "arr.i32", LLORCH_GGUF_ARRAY);
	gb_u32(b, LLORCH_GGUF_INT32);
	gb_u64(b, 3);
	gb_u32(b, 1);
	gb_u32(b, (uint32_t)-2);
	gb_u32(b, 3);
	gb_key(b, "arr.bool", LLORCH_GGUF_ARRAY);
	gb_u32(b, LLORCH_GGUF_BOOL);
	gb_u64(b, 2);
	gb_u8(b, 0);
	gb_u8(b, 1);
	gb_key(b, "arr.empty", LLORCH_GGUF_ARRAY);
	gb_u32(b, LLORCH_GGUF_FLOAT32);
	gb_u64(b, 0);
	gb_key(b, "arr.f64", LLORCH_GGUF_ARRAY);
	gb_u32(b, LLORCH_GGUF_FLOAT64);
	gb_u64(b, 2);
	gb_f64(b, 1.5);
	gb_f64(b, -0.25);

	gb_tensor(b, "t.f32", 2, ne_f32, LLORCH_DT_F32, 64);
	gb_tensor(b, "t.q8", 1, ne_q8, LLORCH_DT_Q8_0, 0);
	gb_tensor(b, "t.f16", 1, ne_f16, LLORCH_DT_F16, 128);
	gb_pad(b, align);
	size_t data = b->len;
	/* q8_0 block at 0 (34 bytes), f32 at 64 (32 bytes), f16 at 128 (16). */
	for (int i = 0; i < 34; i++)
		gb_u8(b, (uint8_t)i);
	gb_pad(b, 32);
	while (b->len < data + 64)
		gb_u8(b, 0);
	for (int i = 0; i < 8; i++)
		gb_f32(b, (float)i + 0.5f);
	while (b->len < data + 128)
		gb_u8(b, 0);
	for (int i = 0; i < 8; i++)
		gb_u16(b, llorch_fp32_to_fp16((float)-i));
}

static void check_sample(const llorch_gguf *g, uint32_t version, size_t align)
{
	int64_t iv;
	uint64_t uv, n;
	double fv;
	bool bv;
	const char *s;
	size_t len;
	const void *data;
	llorch_gguf_vtype elem;

	assert_int_equal(llorch_gguf_version(g), version);
	assert_int_equal(llorch_gguf_alignment(g), align);
	assert_int_equal(llorch_gguf_data_offset(g) % align, 0);
	assert_int_equal(llorch_gguf_n_kv(g), align != 32 ? 19 : 18);

	assert_status(llorch_gguf_get_string(g, "general.architecture", &s, &len), LLORCH_OK);
	assert_string_equal(s, "llama");
	assert_int_equal(len, 5);
	assert_status(llorch_gguf_get_int(g, "u8", &iv), LLORCH_OK);
	assert_int_equal(iv, 200);
	assert_status(llorch_gguf_get_int(g, "i8", &iv), LLORCH_OK);
	assert_int_equal(iv, -5);
	assert_status(llorch_gguf_get_int(g, "u16", &iv), LLORCH_OK);
	assert_int_equal(iv, 65535);
	assert_status(llorch_gguf_get_int(g, "i16", &iv), LLORCH_OK);
	assert_int_equal(iv, -300);
	assert_status(llorch_gguf_get_int(g, "u32", &iv), LLORCH_OK);
	assert_int_equal(iv, 4000000000ll);
	assert_status(llorch_gguf_get_int(g, "i32", &iv), LLORCH_OK);
	assert_int_equal(iv, -70000);
	assert_status(llorch_gguf_get_int(g, "i64", &iv), LLORCH_OK);
	assert_true(iv == INT64_MIN);
	assert_status(llorch_gguf_get_float(g, "f32", &fv), LLORCH_OK);
	assert_true(fv == (double)0.1f);
	assert_status(llorch_gguf_get_float(g, "f64", &fv), LLORCH_OK);
	assert_true(fv == -2.5e300);
	assert_status(llorch_gguf_get_bool(g, "bool", &bv), LLORCH_OK);
	assert_true(bv);
	/* A string with a NUL inside keeps its length. */
	assert_status(llorch_gguf_get_string(g, "str.nul", &s, &len), LLORCH_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "a\0b", 4);

	/* u64 beyond int64: RANGE through get_int, fine through kv_uint64. */
	assert_status(llorch_gguf_get_int(g, "u64", &iv), LLORCH_E_RANGE);
	assert_int_equal(llorch_gguf_kv_uint64(g, llorch_gguf_find_key(g, "u64"), &uv), LLORCH_OK);
	assert_true(uv == UINT64_MAX);
	assert_int_equal(llorch_gguf_kv_uint64(g, llorch_gguf_find_key(g, "i8"), &uv), LLORCH_E_RANGE);

	/* Arrays. */
	int64_t wi = llorch_gguf_find_key(g, "arr.words");
	assert_true(wi >= 0);
	assert_int_equal(llorch_gguf_kv_type(g, wi), LLORCH_GGUF_ARRAY);
	assert_status(llorch_gguf_kv_array_info(g, wi, &elem, &n), LLORCH_OK);
	assert_int_equal(elem, LLORCH_GGUF_STRING);
	assert_int_equal(n, 4);
	for (uint64_t i = 0; i < 4; i++) {
		assert_status(llorch_gguf_get_array_string(g, "arr.words", i, &s, &len), LLORCH_OK);
		assert_string_equal(s, words[i]);
		assert_int_equal(len, strlen(words[i]));
	}
	assert_status(llorch_gguf_get_array_string(g, "arr.words", 4, &s, &len), LLORCH_E_RANGE);
	assert_status(llorch_gguf_get_array(g, "arr.words", LLORCH_GGUF_STRING, &data, &n), LLORCH_OK);
	assert_string_equal(((const char *const *)data)[2], words[2]);

	assert_status(llorch_gguf_get_array(g, "arr.i32", LLORCH_GGUF_INT32, &data, &n), LLORCH_OK);
	assert_int_equal(n, 3);
	assert_int_equal(((const int32_t *)data)[1], -2);
	assert_int_equal((uintptr_t)data % 4, 0);
	assert_status(llorch_gguf_get_array(g, "arr.bool", LLORCH_GGUF_BOOL, &data, &n), LLORCH_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(data, "\0\1", 2);
	assert_status(llorch_gguf_get_array(g, "arr.empty", LLORCH_GGUF_FLOAT32, &data, &n), LLORCH_OK);
	assert_int_equal(n, 0);
	assert_status(llorch_gguf_get_array(g, "arr.f64", LLORCH_GGUF_FLOAT64, &data, &n), LLORCH_OK);
	assert_int_equal((uintptr_t)data % 8, 0);
	assert_true(((const double *)data)[1] == -0.25);

	/* Tensors, by index and by name. */
	assert_int_equal(llorch_gguf_n_tensors(g), 3);
	const llorch_gguf_tensor *t = llorch_gguf_find_tensor(g, "t.f32");
	assert_non_null(t);
	assert_ptr_equal(t, llorch_gguf_tensor_at(g, 0));
	assert_int_equal(t->type, LLORCH_DT_F32);
	assert_int_equal(t->n_dims, 2);
	assert_int_equal(t->ne[0], 4);
	assert_int_equal(t->ne[1], 2);
	assert_int_equal(t->ne[2], 1);
	assert_int_equal(t->ne[3], 1);
	assert_int_equal(t->offset, 64);
	assert_int_equal(t->nbytes, 32);
	float f[8];
	memcpy(f, t->data, sizeof f);
	assert_true(f[0] == 0.5f && f[7] == 7.5f);
	t = llorch_gguf_find_tensor(g, "t.q8");
	assert_non_null(t);
	assert_int_equal(t->nbytes, 34);
	assert_int_equal(((const uint8_t *)t->data)[33], 33);
	t = llorch_gguf_find_tensor(g, "t.f16");
	assert_non_null(t);
	assert_int_equal(t->nbytes, 16);
	uint16_t h;
	memcpy(&h, (const uint8_t *)t->data + 14, 2);
	assert_true(llorch_fp16_to_fp32(h) == -7.0f);
	assert_null(llorch_gguf_find_tensor(g, "t.missing"));
	assert_null(llorch_gguf_tensor_at(g, 3));
	assert_null(llorch_gguf_tensor_at(g, -1));
}

static void test_sample_v3(void **state)
{
	struct gbytes b = { 0 };
	llorch_gguf *g = NULL;

	(void)state;
	build_sample(&b, 3, 0);
	assert_status(llorch_gguf_load_buffer(b.p, b.len, &g), LLORCH_OK);
	assert_int_equal(llorch_gguf_file_size(g), b.len);
	check_sample(g, 3, 32);
	llorch_gguf_free(g);
	gb_free(&b);
}

static void test_sample_v2_alignment_64(void **state)
{
	struct gbytes b = { 0 };
	llorch_gguf *g = NULL;

	(void)state;
	build_sample(&b, 2, 64);
	assert_status(llorch_gguf_load_buffer(b.p, b.len, &g), LLORCH_OK);
	check_sample(g, 2, 64);
	llorch_gguf_free(g);
	gb_free(&b);
}

static void test_type_errors(void **state)
{
	struct gbytes b = { 0 };
	llorch_gguf *g = NULL;
	int64_t iv;
	double fv;
	bool bv;
	const char *s;
	size_t len;
	const void *data;
	uint64_t n;

	(void)state;
	build_sample(&b, 3, 0);
	assert_status(llorch_gguf_load_buffer(b.p, b.len, &g), LLORCH_OK);
	assert_status(llorch_gguf_get_int(g, "f32", &iv), LLORCH_E_TYPE);
	assert_non_null(strstr(llorch_last_error(), "'f32'"));
	assert_non_null(strstr(llorch_last_error(), "float32"));
	assert_status(llorch_gguf_get_int(g, "bool", &iv), LLORCH_E_TYPE);
	assert_status(llorch_gguf_get_int(g, "general.architecture", &iv), LLORCH_E_TYPE);
	assert_status(llorch_gguf_get_float(g, "u32", &fv), LLORCH_E_TYPE);
	assert_status(llorch_gguf_get_bool(g, "u8", &bv), LLORCH_E_TYPE);
	assert_status(llorch_gguf_get_string(g, "arr.words", &s, &len), LLORCH_E_TYPE);
	assert_non_null(strstr(llorch_last_error(), "array of string"));
	assert_status(llorch_gguf_get_array(g, "arr.i32", LLORCH_GGUF_UINT32, &data, &n), LLORCH_E_TYPE);
	assert_status(llorch_gguf_get_array(g, "u32", LLORCH_GGUF_UINT32, &data, &n), LLORCH_E_TYPE);
	assert_status(llorch_gguf_get_array_string(g, "arr.i32", 0, &s, &len), LLORCH_E_TYPE);
	assert_status(llorch_gguf_get_int(g, "nope", &iv), LLORCH_E_NOTFOUND);
	assert_non_null(strstr(llorch_last_error(), "'nope'"));
	assert_int_equal(llorch_gguf_find_key(g, "nope"), -1);
	assert_int_equal(llorch_gguf_find_key(g, ""), -1);
	assert_status(llorch_gguf_kv_int(g, 99, &iv), LLORCH_E_NOTFOUND);
	assert_status(llorch_gguf_kv_int(g, -1, &iv), LLORCH_E_NOTFOUND);
	assert_null(llorch_gguf_kv_key(g, 99));
	assert_int_equal(llorch_gguf_kv_type(g, 99), LLORCH_GGUF_VTYPE_COUNT);
	assert_status(llorch_gguf_kv_array_info(g, 0, NULL, NULL), LLORCH_E_TYPE);
	assert_string_equal(llorch_gguf_vtype_name(LLORCH_GGUF_FLOAT64), "float64");
	assert_string_equal(llorch_gguf_vtype_name(LLORCH_GGUF_VTYPE_COUNT), "?");
	llorch_gguf_free(g);
	gb_free(&b);
}

static void test_load_file(void **state)
{
	struct gbytes b = { 0 };
	llorch_gguf *g = NULL;
	char path[] = "/tmp/llorch-test-gguf-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	build_sample(&b, 3, 0);
	assert_int_equal(gb_write_file(&b, path), 0);
	assert_status(llorch_gguf_load(path, &g), LLORCH_OK);
	check_sample(g, 3, 32);
	llorch_gguf_free(g);

	/* A truncated file names its path in the message. */
	b.len -= 1;
	assert_int_equal(gb_write_file(&b, path), 0);
	assert_status(llorch_gguf_load(path, &g), LLORCH_E_FORMAT);
	assert_null(g);
	assert_non_null(strstr(llorch_last_error(), path));
	assert_non_null(strstr(llorch_last_error(), "past the end"));
	b.len = 0;
	assert_int_equal(gb_write_file(&b, path), 0);
	assert_status(llorch_gguf_load(path, &g), LLORCH_E_FORMAT);
	unlink(path);
	assert_status(llorch_gguf_load(path, &g), LLORCH_E_NOTFOUND);
	assert_status(llorch_gguf_load("/", &g), LLORCH_E_IO);
	llorch_gguf_free(NULL);
	gb_free(&b);
}

/* Metadata checks for the real files, one line each. */
static void want_string(const llorch_gguf *g, const char *key, const char *want)
{
	const char *s;
	size_t len;

	assert_status(llorch_gguf_get_string(g, key, &s, &len), LLORCH_OK);
	assert_string_equal(s, want);
	assert_int_equal(len, strlen(want));
}

static void want_int(const llorch_gguf *g, const char *key, int64_t want)
{
	int64_t v;

	assert_status(llorch_gguf_get_int(g, key, &v), LLORCH_OK);
	assert_int_equal(v, want);
}

static void want_element(const llorch_gguf *g, const char *key, uint64_t i, const char *want)
{
	const char *s;
	size_t len;

	assert_status(llorch_gguf_get_array_string(g, key, i, &s, &len), LLORCH_OK);
	assert_string_equal(s, want);
}

static void want_array(const llorch_gguf *g, const char *key, llorch_gguf_vtype elem,
		uint64_t want_n, const void **data)
{
	uint64_t n;

	assert_status(llorch_gguf_get_array(g, key, elem, data, &n), LLORCH_OK);
	assert_int_equal(n, want_n);
}

static void test_gpt2_vocab(void **state)
{
	char *path = gb_shared_path("llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
	llorch_gguf *g = NULL;
	uint64_t n;
	const void *data;
	double eps;

	(void)state;
	if (!path) {
		skip();
		return;
	}
	int64_t t0 = llorch_now_ns();
	assert_status(llorch_gguf_load(path, &g), LLORCH_OK);
	int64_t t1 = llorch_now_ns();
	fprintf(stderr, "# loaded %s in %.2f ms\n", path, (double)(t1 - t0) / 1e6);
	assert_int_equal(llorch_gguf_version(g), 3);
	assert_int_equal(llorch_gguf_n_tensors(g), 0);
	want_string(g, "tokenizer.ggml.model", "gpt2");
	want_string(g, "tokenizer.ggml.pre", "gpt-2");
	want_array(g, "tokenizer.ggml.tokens", LLORCH_GGUF_STRING, 50257, &data);
	want_element(g, "tokenizer.ggml.tokens", 50256, "<|endoftext|>");
	want_element(g, "tokenizer.ggml.tokens", 0, "!");
	want_array(g, "tokenizer.ggml.merges", LLORCH_GGUF_STRING, 50000, &data);
	want_element(g, "tokenizer.ggml.merges", 0, "\xc4\xa0 t"); /* "Ġ t", the first line of vocab.bpe */
	assert_status(llorch_gguf_kv_array_info(g, llorch_gguf_find_key(g, "tokenizer.ggml.token_type"), NULL, &n), LLORCH_OK);
	assert_int_equal(n, 50257);
	want_int(g, "tokenizer.ggml.bos_token_id", 50256);
	want_int(g, "tokenizer.ggml.eos_token_id", 50256);
	want_string(g, "general.architecture", "gpt2");
	want_string(g, "general.name", "gpt-2");
	want_int(g, "gpt2.context_length", 1024);
	assert_status(llorch_gguf_get_float(g, "gpt2.attention.layer_norm_epsilon", &eps), LLORCH_OK);
	assert_true(eps == (double)1e-5f);
	llorch_gguf_free(g);
	free(path);
}

static void test_llama_vocab(void **state)
{
	char *path = gb_shared_path("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
	llorch_gguf *g = NULL;
	const void *data;
	bool bv;

	(void)state;
	if (!path) {
		skip();
		return;
	}
	assert_status(llorch_gguf_load(path, &g), LLORCH_OK);
	want_string(g, "tokenizer.ggml.model", "llama");
	want_array(g, "tokenizer.ggml.tokens", LLORCH_GGUF_STRING, 32000, &data);
	want_element(g, "tokenizer.ggml.tokens", 1, "<s>");
	want_element(g, "tokenizer.ggml.tokens", 13, "<0x0A>");
	want_array(g, "tokenizer.ggml.scores", LLORCH_GGUF_FLOAT32, 32000, &data);
	assert_true(((const float *)data)[0] == 0.0f);
	assert_true(((const float *)data)[31999] < 0.0f);
	want_array(g, "tokenizer.ggml.token_type", LLORCH_GGUF_INT32, 32000, &data);
	assert_int_equal(((const int32_t *)data)[0], 2); /* <unk>: UNKNOWN */
	assert_int_equal(((const int32_t *)data)[1], 3); /* <s>: CONTROL */
	want_int(g, "tokenizer.ggml.bos_token_id", 1);
	want_int(g, "tokenizer.ggml.eos_token_id", 2);
	want_int(g, "tokenizer.ggml.unknown_token_id", 0);
	assert_status(llorch_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &bv), LLORCH_OK);
	assert_true(bv);
	assert_status(llorch_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &bv), LLORCH_OK);
	assert_false(bv);
	want_string(g, "general.name", "llama-spm");
	want_int(g, "llama.vocab_size", 32000);
	llorch_gguf_free(g);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_v3),
		cmocka_unit_test(test_sample_v2_alignment_64),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_gpt2_vocab),
		cmocka_unit_test(test_llama_vocab),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
