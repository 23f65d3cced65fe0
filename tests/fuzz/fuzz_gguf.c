/* libFuzzer harness for the GGUF reader: parse the input as a buffer, then
 * read every metadata entry through every getter (by index and by key) and
 * touch every byte of every tensor, so a pointer the reader hands out that
 * is out of bounds shows up under ASan.
 *
 *   make fuzz && build-fuzz/fuzz_gguf -max_total_time=120 CORPUS_DIR SEED_DIR
 * Seeds: tests/data/gguf-malformed/, or all variants from
 *   GGUF_MALFORMED_DUMP=DIR build/tests/test_gguf_malformed */
#include <stdlib.h>
#include <string.h>

#include "llorch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void touch(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0;

	for (size_t i = 0; i < n; i++)
		h = h * 31 + b[i];
	sink += h;
}

static void walk_kv(const llorch_gguf *g, int64_t i)
{
	const char *key = llorch_gguf_kv_key(g, i), *s;
	llorch_gguf_vtype elem;
	uint64_t n, u;
	int64_t iv;
	double f;
	bool b;
	size_t len;
	const void *arr;

	touch(key, strlen(key) + 1);
	sink += (uint64_t)llorch_gguf_kv_type(g, i);
	sink += strlen(llorch_gguf_vtype_name(llorch_gguf_kv_type(g, i)));
	if (llorch_gguf_find_key(g, key) != i)
		abort();
	if (llorch_gguf_kv_int(g, i, &iv) == LLORCH_OK)
		sink += (uint64_t)iv;
	if (llorch_gguf_kv_uint64(g, i, &u) == LLORCH_OK)
		sink += u;
	if (llorch_gguf_kv_float(g, i, &f) == LLORCH_OK)
		sink += (uint64_t)(f == f);
	if (llorch_gguf_kv_bool(g, i, &b) == LLORCH_OK)
		sink += b;
	if (llorch_gguf_kv_string(g, i, &s, &len) == LLORCH_OK)
		touch(s, len + 1);
	(void)llorch_gguf_get_int(g, key, &iv);
	(void)llorch_gguf_get_float(g, key, &f);
	(void)llorch_gguf_get_bool(g, key, &b);
	if (llorch_gguf_get_string(g, key, &s, &len) == LLORCH_OK)
		touch(s, len + 1);
	if (llorch_gguf_kv_array_info(g, i, &elem, &n) != LLORCH_OK)
		return;
	for (int t = 0; t < LLORCH_GGUF_VTYPE_COUNT; t++) {
		llorch_status st = llorch_gguf_kv_array(g, i, (llorch_gguf_vtype)t, &arr, &n);

		if (st != LLORCH_OK)
			continue;
		if (t == LLORCH_GGUF_STRING) {
			for (uint64_t j = 0; j < n; j++) {
				const char *p = ((const char *const *)arr)[j];

				if (llorch_gguf_kv_array_string(g, i, j, &s, &len) != LLORCH_OK || s != p)
					abort();
				touch(s, len + 1);
			}
		} else {
			size_t esize = t == LLORCH_GGUF_BOOL || t <= LLORCH_GGUF_INT8 ? 1 :
				t <= LLORCH_GGUF_INT16 ? 2 : t <= LLORCH_GGUF_FLOAT32 ? 4 : 8;

			touch(arr, (size_t)n * esize);
		}
		(void)llorch_gguf_get_array(g, key, (llorch_gguf_vtype)t, &arr, &n);
	}
	(void)llorch_gguf_kv_array_string(g, i, n, &s, &len);
	(void)llorch_gguf_get_array_string(g, key, 0, &s, &len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	llorch_gguf *g = NULL;

	if (llorch_gguf_load_buffer(data, size, &g) != LLORCH_OK) {
		if (g)
			abort();
		return 0;
	}
	sink += llorch_gguf_version(g) + llorch_gguf_alignment(g) + llorch_gguf_data_offset(g);
	if (llorch_gguf_file_size(g) != size)
		abort();
	for (int64_t i = 0; i < llorch_gguf_n_kv(g); i++)
		walk_kv(g, i);
	for (int64_t i = 0; i < llorch_gguf_n_tensors(g); i++) {
		const llorch_gguf_tensor *t = llorch_gguf_tensor_at(g, i);
		size_t row;

		if (llorch_gguf_find_tensor(g, t->name) != t)
			abort();
		if ((const uint8_t *)t->data < data || t->nbytes > size ||
				(const uint8_t *)t->data - data > (ptrdiff_t)(size - t->nbytes))
			abort();
		touch(t->data, t->nbytes);
		sink += strlen(llorch_dtype_name(t->type));
		if (llorch_dtype_row_bytes(t->type, t->ne[0], &row) != LLORCH_OK)
			abort();
		/* Dequantize the first row of the types the compute path runs. */
		if (llorch_dtype_supported(t->type) && t->ne[0] <= 4096) {
			float *out = malloc((size_t)t->ne[0] * sizeof *out);

			if (out && row <= t->nbytes)
				(void)llorch_dequantize_row(t->type, t->data, out, t->ne[0]);
			free(out);
		}
	}
	llorch_gguf_free(g);
	return 0;
}
