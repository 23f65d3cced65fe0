/* GGUF writer: write -> read -> compare everything (all value types, string
 * arrays, tensors with padding), key replacement and removal, refusals, a
 * byte-identical copy of llama.cpp's GPT-2 vocab file, temp-file safety. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "gguf_bytes.h"

static char dir[] = "/tmp/llorch-test-gguf-write-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	(void)state;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	return rmdir(dir);
}

/* A path in the test directory, valid until the next call with the same slot. */
static const char *tmp_path(int slot, const char *name)
{
	static char paths[2][512];

	snprintf(paths[slot], sizeof paths[slot], "%s/%s", dir, name);
	return paths[slot];
}

static size_t count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

/* Asserts that a and b hold the same metadata (in order) and tensors. */
static void assert_same_gguf(const llorch_gguf *a, const llorch_gguf *b)
{
	assert_int_equal(llorch_gguf_n_kv(a), llorch_gguf_n_kv(b));
	for (int64_t i = 0; i < llorch_gguf_n_kv(a); i++) {
		llorch_gguf_vtype t = llorch_gguf_kv_type(a, i), ea, eb;
		uint64_t na, nb, ua, ub;
		const char *sa, *sb;
		size_t la, lb;
		const void *da, *db;

		assert_string_equal(llorch_gguf_kv_key(a, i), llorch_gguf_kv_key(b, i));
		assert_int_equal(t, llorch_gguf_kv_type(b, i));
		switch (t) {
		case LLORCH_GGUF_STRING:
			assert_status(llorch_gguf_kv_string(a, i, &sa, &la), LLORCH_OK);
			assert_status(llorch_gguf_kv_string(b, i, &sb, &lb), LLORCH_OK);
			assert_int_equal(la, lb);
			assert_memory_equal(sa, sb, la + 1);
			break;
		case LLORCH_GGUF_ARRAY:
			assert_status(llorch_gguf_kv_array_info(a, i, &ea, &na), LLORCH_OK);
			assert_status(llorch_gguf_kv_array_info(b, i, &eb, &nb), LLORCH_OK);
			assert_int_equal(ea, eb);
			assert_int_equal(na, nb);
			if (ea == LLORCH_GGUF_STRING) {
				for (uint64_t j = 0; j < na; j++) {
					assert_status(llorch_gguf_kv_array_string(a, i, j, &sa, &la), LLORCH_OK);
					assert_status(llorch_gguf_kv_array_string(b, i, j, &sb, &lb), LLORCH_OK);
					assert_int_equal(la, lb);
					assert_memory_equal(sa, sb, la);
				}
			} else {
				size_t es = ea == LLORCH_GGUF_BOOL || ea <= LLORCH_GGUF_INT8 ? 1 :
					ea <= LLORCH_GGUF_INT16 ? 2 :
					ea <= LLORCH_GGUF_FLOAT32 ? 4 : 8;

				assert_status(llorch_gguf_kv_array(a, i, ea, &da, &na), LLORCH_OK);
				assert_status(llorch_gguf_kv_array(b, i, eb, &db, &nb), LLORCH_OK);
				if (na)
					assert_memory_equal(da, db, (size_t)na * es);
			}
			break;
		case LLORCH_GGUF_FLOAT32:
		case LLORCH_GGUF_FLOAT64: {
			double fa, fb;

			assert_status(llorch_gguf_kv_float(a, i, &fa), LLORCH_OK);
			assert_status(llorch_gguf_kv_float(b, i, &fb), LLORCH_OK);
			assert_memory_equal(&fa, &fb, sizeof fa);
			break;
		}
		case LLORCH_GGUF_BOOL: {
			bool ba, bb;

			assert_status(llorch_gguf_kv_bool(a, i, &ba), LLORCH_OK);
			assert_status(llorch_gguf_kv_bool(b, i, &bb), LLORCH_OK);
			assert_int_equal(ba, bb);
			break;
		}
		default:
			/* Integers: compare as int64 when both fit, else as uint64. */
			if (llorch_gguf_kv_uint64(a, i, &ua) == LLORCH_OK) {
				assert_status(llorch_gguf_kv_uint64(b, i, &ub), LLORCH_OK);
				assert_true(ua == ub);
			} else {
				int64_t ia, ib;

				assert_status(llorch_gguf_kv_int(a, i, &ia), LLORCH_OK);
				assert_status(llorch_gguf_kv_int(b, i, &ib), LLORCH_OK);
				assert_true(ia == ib);
			}
			break;
		}
	}
	assert_int_equal(llorch_gguf_n_tensors(a), llorch_gguf_n_tensors(b));
	for (int64_t i = 0; i < llorch_gguf_n_tensors(a); i++) {
		const llorch_gguf_tensor *x = llorch_gguf_tensor_at(a, i);
		const llorch_gguf_tensor *y = llorch_gguf_tensor_at(b, i);

		assert_string_equal(x->name, y->name);
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->n_dims, y->n_dims);
		assert_memory_equal(x->ne, y->ne, sizeof x->ne);
		assert_int_equal(x->nbytes, y->nbytes);
		assert_memory_equal(x->data, y->data, x->nbytes);
	}
}

static const char *const toks[] = { "a", "", "<0x0A>", "\xe2\x96\x81the", "x\0y" };
static const size_t tok_lens[] = { 1, 0, 6, 6, 3 };

static void fill_writer(llorch_gguf_writer *w, float *f32, llorch_block_q8_0 *q8,
		llorch_block_q4_0 *q4, uint16_t *bf16)
{
	const uint8_t u8s[3] = { 0, 255, 7 };
	const int8_t i8s[2] = { -128, 127 };
	const uint16_t u16s[2] = { 1, 65535 };
	const int16_t i16s[2] = { -32768, 5 };
	const uint32_t u32s[2] = { 0, 4294967295u };
	const int32_t i32s[3] = { -1, 0, 2147483647 };
	const float f32s[2] = { 1.5f, -0.0f };
	const bool bools[3] = { true, false, true };
	const uint64_t u64s[1] = { UINT64_MAX };
	const int64_t i64s[2] = { INT64_MIN, 42 };
	const double f64s[2] = { 3.141592653589793, -1e-300 };
	const int64_t ne_f32[2] = { 5, 3 }, ne_q8[2] = { 64, 2 }, ne_q4[1] = { 32 },
		ne_bf16[4] = { 2, 1, 3, 1 };

	assert_status(llorch_gguf_set_string(w, "general.architecture", "llama"), LLORCH_OK);
	assert_status(llorch_gguf_set_u32(w, "u32", 4000000000u), LLORCH_OK);
	assert_status(llorch_gguf_set_i32(w, "i32", -7), LLORCH_OK);
	assert_status(llorch_gguf_set_u64(w, "u64", UINT64_MAX), LLORCH_OK);
	assert_status(llorch_gguf_set_f32(w, "f32", 1e-3f), LLORCH_OK);
	assert_status(llorch_gguf_set_bool(w, "bool", false), LLORCH_OK);
	assert_status(llorch_gguf_set_string(w, "empty", ""), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.u8", LLORCH_GGUF_UINT8, u8s, 3), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.i8", LLORCH_GGUF_INT8, i8s, 2), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.u16", LLORCH_GGUF_UINT16, u16s, 2), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.i16", LLORCH_GGUF_INT16, i16s, 2), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.u32", LLORCH_GGUF_UINT32, u32s, 2), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.i32", LLORCH_GGUF_INT32, i32s, 3), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.f32", LLORCH_GGUF_FLOAT32, f32s, 2), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.bool", LLORCH_GGUF_BOOL, bools, 3), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.u64", LLORCH_GGUF_UINT64, u64s, 1), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.i64", LLORCH_GGUF_INT64, i64s, 2), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.f64", LLORCH_GGUF_FLOAT64, f64s, 2), LLORCH_OK);
	assert_status(llorch_gguf_set_array(w, "a.none", LLORCH_GGUF_INT32, NULL, 0), LLORCH_OK);
	assert_status(llorch_gguf_set_array_strings(w, "tokens", toks, tok_lens, 5), LLORCH_OK);
	assert_status(llorch_gguf_set_array_strings(w, "words", toks, NULL, 4), LLORCH_OK);

	for (int i = 0; i < 128; i++)
		f32[i] = (float)(i % 17) - 8.25f;
	assert_status(llorch_quantize_row(LLORCH_DT_Q8_0, f32, q8, 128), LLORCH_OK);
	assert_status(llorch_quantize_row(LLORCH_DT_Q4_0, f32, q4, 32), LLORCH_OK);
	assert_status(llorch_quantize_row(LLORCH_DT_BF16, f32, bf16, 6), LLORCH_OK);
	assert_status(llorch_gguf_add_tensor(w, "w.f32", LLORCH_DT_F32, 2, ne_f32, f32, 60), LLORCH_OK);
	assert_status(llorch_gguf_add_tensor(w, "w.q8", LLORCH_DT_Q8_0, 2, ne_q8, q8, 136), LLORCH_OK);
	assert_status(llorch_gguf_add_tensor(w, "w.q4", LLORCH_DT_Q4_0, 1, ne_q4, q4, 18), LLORCH_OK);
	assert_status(llorch_gguf_add_tensor(w, "w.bf16", LLORCH_DT_BF16, 4, ne_bf16, bf16, 12), LLORCH_OK);
}

static void test_round_trip(void **state)
{
	llorch_gguf_writer *w = NULL;
	llorch_gguf *g = NULL;
	float f32[128];
	llorch_block_q8_0 q8[4];
	llorch_block_q4_0 q4[1];
	uint16_t bf16[6];
	const char *path = tmp_path(0, "rt.gguf");
	const void *data;
	const char *s;
	size_t len;
	uint64_t n, u;
	int64_t iv;
	double fv;
	bool bv;

	(void)state;
	assert_status(llorch_gguf_writer_new(&w), LLORCH_OK);
	fill_writer(w, f32, q8, q4, bf16);
	assert_status(llorch_gguf_writer_write(w, path), LLORCH_OK);
	llorch_gguf_writer_free(w);
	assert_int_equal(count_files(), 1); /* no temporary left behind */

	assert_status(llorch_gguf_load(path, &g), LLORCH_OK);
	assert_int_equal(llorch_gguf_version(g), 3);
	assert_int_equal(llorch_gguf_alignment(g), 32);
	assert_int_equal(llorch_gguf_n_kv(g), 21);
	assert_string_equal(llorch_gguf_kv_key(g, 0), "general.architecture");
	assert_string_equal(llorch_gguf_kv_key(g, 20), "words");
	assert_status(llorch_gguf_get_int(g, "u32", &iv), LLORCH_OK);
	assert_int_equal(iv, 4000000000ll);
	assert_int_equal(llorch_gguf_kv_type(g, llorch_gguf_find_key(g, "u32")), LLORCH_GGUF_UINT32);
	assert_status(llorch_gguf_get_int(g, "i32", &iv), LLORCH_OK);
	assert_int_equal(iv, -7);
	assert_status(llorch_gguf_kv_uint64(g, llorch_gguf_find_key(g, "u64"), &u), LLORCH_OK);
	assert_true(u == UINT64_MAX);
	assert_status(llorch_gguf_get_float(g, "f32", &fv), LLORCH_OK);
	assert_true(fv == (double)1e-3f);
	assert_status(llorch_gguf_get_bool(g, "bool", &bv), LLORCH_OK);
	assert_false(bv);
	assert_status(llorch_gguf_get_string(g, "empty", &s, &len), LLORCH_OK);
	assert_int_equal(len, 0);
	assert_status(llorch_gguf_get_array(g, "a.i64", LLORCH_GGUF_INT64, &data, &n), LLORCH_OK);
	assert_true(((const int64_t *)data)[0] == INT64_MIN);
	assert_status(llorch_gguf_get_array(g, "a.f64", LLORCH_GGUF_FLOAT64, &data, &n), LLORCH_OK);
	assert_true(((const double *)data)[1] == -1e-300);
	assert_status(llorch_gguf_get_array(g, "a.bool", LLORCH_GGUF_BOOL, &data, &n), LLORCH_OK);
	assert_memory_equal(data, "\1\0\1", 3);
	assert_status(llorch_gguf_get_array(g, "a.none", LLORCH_GGUF_INT32, &data, &n), LLORCH_OK);
	assert_int_equal(n, 0);
	for (uint64_t i = 0; i < 5; i++) {
		assert_status(llorch_gguf_get_array_string(g, "tokens", i, &s, &len), LLORCH_OK);
		assert_int_equal(len, tok_lens[i]);
		assert_memory_equal(s, toks[i], len);
	}
	assert_status(llorch_gguf_get_array_string(g, "words", 3, &s, &len), LLORCH_OK);
	assert_string_equal(s, toks[3]);

	/* Tensors: aligned offsets in order, zero padding between them. */
	assert_int_equal(llorch_gguf_n_tensors(g), 4);
	assert_int_equal(llorch_gguf_data_offset(g) % 32, 0);
	static const uint64_t offsets[4] = { 0, 64, 224, 256 };
	for (int64_t i = 0; i < 4; i++) {
		const llorch_gguf_tensor *t = llorch_gguf_tensor_at(g, i);

		assert_int_equal(t->offset, offsets[i]);
		const uint8_t *pad = (const uint8_t *)t->data + t->nbytes;
		for (size_t k = t->nbytes; k % 32; k++, pad++)
			assert_int_equal(*pad, 0);
	}
	const llorch_gguf_tensor *t = llorch_gguf_find_tensor(g, "w.bf16");
	assert_non_null(t);
	assert_int_equal(t->n_dims, 4);
	assert_int_equal(t->ne[2], 3);
	assert_memory_equal(t->data, bf16, 12);
	t = llorch_gguf_find_tensor(g, "w.q8");
	assert_memory_equal(t->data, q8, 136);
	assert_int_equal(llorch_gguf_file_size(g), llorch_gguf_data_offset(g) + 288);

	/* Copy every key and tensor into a second file: same content. */
	assert_status(llorch_gguf_writer_new(&w), LLORCH_OK);
	for (int64_t i = 0; i < llorch_gguf_n_kv(g); i++)
		assert_status(llorch_gguf_copy_kv(w, g, i), LLORCH_OK);
	for (int64_t i = 0; i < llorch_gguf_n_tensors(g); i++) {
		t = llorch_gguf_tensor_at(g, i);
		assert_status(llorch_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne,
				t->data, t->nbytes), LLORCH_OK);
	}
	assert_status(llorch_gguf_copy_kv(w, g, 99), LLORCH_E_NOTFOUND);
	const char *path2 = tmp_path(1, "rt2.gguf");
	assert_status(llorch_gguf_writer_write(w, path2), LLORCH_OK);
	llorch_gguf_writer_free(w);
	llorch_gguf *g2 = NULL;
	assert_status(llorch_gguf_load(path2, &g2), LLORCH_OK);
	assert_same_gguf(g, g2);
	llorch_gguf_free(g2);
	llorch_gguf_free(g);
	unlink(path);
	unlink(path2);
}

static void test_replace_remove_alignment(void **state)
{
	llorch_gguf_writer *w = NULL;
	llorch_gguf *g = NULL;
	const char *path = tmp_path(0, "rr.gguf");
	const float x[3] = { 1, 2, 3 };
	const int64_t ne[1] = { 3 };
	const char *s;
	size_t len;
	int64_t iv;

	(void)state;
	assert_status(llorch_gguf_writer_new(&w), LLORCH_OK);
	assert_status(llorch_gguf_set_u32(w, "a", 1), LLORCH_OK);
	assert_status(llorch_gguf_set_u32(w, "b", 2), LLORCH_OK);
	assert_status(llorch_gguf_set_string(w, "a", "now a string"), LLORCH_OK);
	assert_status(llorch_gguf_set_u32(w, "c", 3), LLORCH_OK);
	assert_status(llorch_gguf_remove_key(w, "b"), LLORCH_OK);
	assert_status(llorch_gguf_remove_key(w, "b"), LLORCH_E_NOTFOUND);
	assert_status(llorch_gguf_set_u32(w, "general.alignment", 64), LLORCH_OK);
	assert_status(llorch_gguf_add_tensor(w, "x", LLORCH_DT_F32, 1, ne, x, 12), LLORCH_OK);
	assert_status(llorch_gguf_add_tensor(w, "y", LLORCH_DT_F32, 1, ne, x, 12), LLORCH_OK);
	assert_status(llorch_gguf_writer_write(w, path), LLORCH_OK);
	/* Writing twice replaces the file. */
	assert_status(llorch_gguf_writer_write(w, path), LLORCH_OK);
	assert_int_equal(count_files(), 1);
	llorch_gguf_writer_free(w);

	assert_status(llorch_gguf_load(path, &g), LLORCH_OK);
	assert_int_equal(llorch_gguf_n_kv(g), 3);
	assert_string_equal(llorch_gguf_kv_key(g, 0), "a");
	assert_status(llorch_gguf_get_string(g, "a", &s, &len), LLORCH_OK);
	assert_string_equal(s, "now a string");
	assert_status(llorch_gguf_get_int(g, "b", &iv), LLORCH_E_NOTFOUND);
	assert_status(llorch_gguf_get_int(g, "c", &iv), LLORCH_OK);
	assert_int_equal(llorch_gguf_alignment(g), 64);
	assert_int_equal(llorch_gguf_data_offset(g) % 64, 0);
	assert_int_equal(llorch_gguf_find_tensor(g, "y")->offset, 64);
	assert_int_equal(llorch_gguf_file_size(g), llorch_gguf_data_offset(g) + 128);
	llorch_gguf_free(g);
	unlink(path);
}

static void test_refusals(void **state)
{
	llorch_gguf_writer *w = NULL;
	const float x[64] = { 0 };
	const int64_t ne1[1] = { 3 }, ne_zero[2] = { 3, 0 }, ne_q[1] = { 33 },
		ne_big[4] = { INT64_MAX, 2, 1, 1 };
	const uint8_t bad_bool[2] = { 1, 2 };
	char long_name[65];
	const char *path = tmp_path(0, "refused.gguf");

	(void)state;
	memset(long_name, 'n', 64);
	long_name[64] = '\0';
	assert_status(llorch_gguf_writer_new(&w), LLORCH_OK);
	assert_status(llorch_gguf_set_u32(w, "", 1), LLORCH_E_INVALID);
	assert_status(llorch_gguf_set_u32(w, NULL, 1), LLORCH_E_INVALID);
	assert_status(llorch_gguf_set_string(w, "s", NULL), LLORCH_E_INVALID);
	assert_status(llorch_gguf_set_array(w, "b", LLORCH_GGUF_BOOL, bad_bool, 2), LLORCH_E_INVALID);
	assert_status(llorch_gguf_set_array(w, "s", LLORCH_GGUF_STRING, x, 1), LLORCH_E_INVALID);
	assert_status(llorch_gguf_set_array(w, "s", LLORCH_GGUF_ARRAY, x, 1), LLORCH_E_INVALID);
	assert_status(llorch_gguf_set_array(w, "s", LLORCH_GGUF_UINT8, x, 1ull << 40), LLORCH_E_INVALID);
	assert_status(llorch_gguf_add_tensor(w, "", LLORCH_DT_F32, 1, ne1, x, 12), LLORCH_E_INVALID);
	assert_status(llorch_gguf_add_tensor(w, long_name, LLORCH_DT_F32, 1, ne1, x, 12), LLORCH_E_INVALID);
	long_name[63] = '\0';
	assert_status(llorch_gguf_add_tensor(w, long_name, LLORCH_DT_F32, 1, ne1, x, 12), LLORCH_OK);
	assert_status(llorch_gguf_add_tensor(w, long_name, LLORCH_DT_F32, 1, ne1, x, 12), LLORCH_E_INVALID);
	assert_status(llorch_gguf_add_tensor(w, "t", LLORCH_DT_F32, 1, ne1, x, 8), LLORCH_E_INVALID);
	assert_non_null(strstr(llorch_last_error(), "need 12"));
	assert_status(llorch_gguf_add_tensor(w, "t", LLORCH_DT_F32, 0, ne1, x, 12), LLORCH_E_INVALID);
	assert_status(llorch_gguf_add_tensor(w, "t", LLORCH_DT_F32, 5, ne_big, x, 12), LLORCH_E_INVALID);
	assert_status(llorch_gguf_add_tensor(w, "t", LLORCH_DT_F32, 2, ne_zero, x, 0), LLORCH_E_INVALID);
	assert_status(llorch_gguf_add_tensor(w, "t", LLORCH_DT_F32, 4, ne_big, x, 12), LLORCH_E_INVALID);
	assert_status(llorch_gguf_add_tensor(w, "t", LLORCH_DT_Q8_0, 1, ne_q, x, 34), LLORCH_E_INVALID);
	assert_status(llorch_gguf_add_tensor(w, "t", (llorch_dtype)4, 1, ne1, x, 12), LLORCH_E_INVALID);
	assert_status(llorch_gguf_add_tensor(w, "t", LLORCH_DT_F32, 1, ne1, NULL, 12), LLORCH_E_INVALID);

	/* A general.alignment the reader would reject is refused at write
	 * time, and nothing is left behind. */
	assert_status(llorch_gguf_set_u64(w, "general.alignment", 32), LLORCH_OK);
	assert_status(llorch_gguf_writer_write(w, path), LLORCH_E_INVALID);
	assert_status(llorch_gguf_set_u32(w, "general.alignment", 48), LLORCH_OK);
	assert_status(llorch_gguf_writer_write(w, path), LLORCH_E_INVALID);
	assert_status(llorch_gguf_set_u32(w, "general.alignment", 32), LLORCH_OK);
	assert_status(llorch_gguf_writer_write(w, "/nonexistent-dir/x.gguf"), LLORCH_E_IO);
	assert_status(llorch_gguf_writer_write(w, ""), LLORCH_E_INVALID);
	assert_int_equal(count_files(), 0);
	llorch_gguf_writer_free(w);
	llorch_gguf_writer_free(NULL);
}

/* Copying every key of one of llama.cpp's vocab files reproduces it byte for
 * byte: the writer's encoding is exactly ggml's. */
static void copy_vocab(const char *rel)
{
	char *src = gb_shared_path(rel);
	llorch_gguf_writer *w = NULL;
	llorch_gguf *g = NULL, *g2 = NULL;
	const char *path = tmp_path(0, "copy.gguf");

	if (!src) {
		skip();
		return;
	}
	assert_status(llorch_gguf_load(src, &g), LLORCH_OK);
	assert_status(llorch_gguf_writer_new(&w), LLORCH_OK);
	int64_t t0 = llorch_now_ns();
	for (int64_t i = 0; i < llorch_gguf_n_kv(g); i++)
		assert_status(llorch_gguf_copy_kv(w, g, i), LLORCH_OK);
	assert_status(llorch_gguf_writer_write(w, path), LLORCH_OK);
	fprintf(stderr, "# copied and wrote %s in %.2f ms\n", rel,
			(double)(llorch_now_ns() - t0) / 1e6);
	llorch_gguf_writer_free(w);
	assert_status(llorch_gguf_load(path, &g2), LLORCH_OK);
	assert_int_equal(llorch_gguf_file_size(g2), llorch_gguf_file_size(g));
	FILE *a = fopen(src, "rb"), *b = fopen(path, "rb");
	assert_non_null(a);
	assert_non_null(b);
	size_t n = llorch_gguf_file_size(g);
	char *ba = malloc(n), *bb = malloc(n);
	assert_int_equal(fread(ba, 1, n, a), n);
	assert_int_equal(fread(bb, 1, n, b), n);
	assert_memory_equal(ba, bb, n);
	free(ba);
	free(bb);
	fclose(a);
	fclose(b);
	assert_same_gguf(g, g2);
	llorch_gguf_free(g2);
	llorch_gguf_free(g);
	unlink(path);
	free(src);
}

static void test_copy_gpt2_vocab(void **state)
{
	(void)state;
	copy_vocab("llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
}

static void test_copy_llama_vocab(void **state)
{
	(void)state;
	copy_vocab("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_replace_remove_alignment),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_copy_gpt2_vocab),
		cmocka_unit_test(test_copy_llama_vocab),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
