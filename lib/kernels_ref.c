/* The naive reference kernels: each weight row dequantized with the dtype
 * module's reference conversion, products accumulated in double. Slow on
 * purpose; only tests and the reference forward pass call them. */
#include <stdlib.h>

#include "kernels.h"

/* Rows are dequantized a chunk at a time so that any row length works with a
 * fixed buffer. The chunk is a multiple of every block size. */
#define REF_CHUNK 1024

void llorch_matvec_ref(llorch_dtype t, const void *W, const float *x, float *y,
		int64_t n_in, int64_t n_out)
{
	size_t row_bytes, chunk_bytes;
	float buf[REF_CHUNK];

	if (llorch_dtype_row_bytes(t, n_in, &row_bytes) != LLORCH_OK ||
	    llorch_dtype_row_bytes(t, REF_CHUNK, &chunk_bytes) != LLORCH_OK)
		return;
	for (int64_t r = 0; r < n_out; r++) {
		const uint8_t *row = (const uint8_t *)W + (size_t)r * row_bytes;
		double acc = 0;
		for (int64_t i = 0; i < n_in; i += REF_CHUNK) {
			int64_t n = n_in - i < REF_CHUNK ? n_in - i : REF_CHUNK;
			if (llorch_dequantize_row(t, row + (size_t)(i / REF_CHUNK) * chunk_bytes, buf, n) != LLORCH_OK)
				return;
			for (int64_t k = 0; k < n; k++)
				acc += (double)buf[k] * (double)x[i + k];
		}
		y[r] = (float)acc;
	}
}
