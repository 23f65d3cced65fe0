/* The naive reference kernels: each weight row dequantized with the dtype
 * module's reference conversion, products accumulated in double. Slow on
 * purpose; only tests and the reference forward pass call them. */
#include <math.h>
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

/* Value i of a cache of type t (F32, F16 or Q8_0). */
static double kv_value(llorch_dtype t, const void *p, int64_t i)
{
	if (t == LLORCH_DT_Q8_0) {
		const llorch_block_q8_0 *b = (const llorch_block_q8_0 *)p + i / LLORCH_QK8_0;
		return (double)llorch_fp16_to_fp32(b->d) * b->qs[i % LLORCH_QK8_0];
	}
	if (t == LLORCH_DT_F16)
		return llorch_fp16_to_fp32(((const uint16_t *)p)[i]);
	return ((const float *)p)[i];
}

void llorch_attn_row_ref(llorch_dtype kv_type, const float *q, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t n_kv, float scale, float *out)
{
	double max = -INFINITY, sum = 0;

	for (int64_t j = 0; j < n_kv; j++) {
		double s = 0;
		for (int64_t d = 0; d < hd; d++)
			s += (double)q[d] * kv_value(kv_type, k, j * kv_stride + d);
		max = fmax(max, s * scale);
	}
	for (int64_t d = 0; d < hd; d++)
		out[d] = 0;
	double *acc = calloc((size_t)hd, sizeof *acc);
	if (!acc)
		return;
	for (int64_t j = 0; j < n_kv; j++) {
		double s = 0;
		for (int64_t d = 0; d < hd; d++)
			s += (double)q[d] * kv_value(kv_type, k, j * kv_stride + d);
		double p = exp(s * scale - max);
		sum += p;
		for (int64_t d = 0; d < hd; d++)
			acc[d] += p * kv_value(kv_type, v, j * kv_stride + d);
	}
	for (int64_t d = 0; d < hd; d++)
		out[d] = (float)(acc[d] / sum);
	free(acc);
}

float llorch_vec_log_sum_exp_ref(const float *x, int64_t n)
{
	double mx = -INFINITY, sum = 0.0;

	for (int64_t i = 0; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	if (!isfinite(mx))
		return (float)mx;
	for (int64_t i = 0; i < n; i++)
		if (x[i] > -INFINITY)
			sum += exp((double)x[i] - mx);
	return (float)(mx + log(sum));
}

void llorch_vec_gelu_ref(float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		double v = x[i];
		x[i] = (float)(0.5 * v * (1.0 + tanh(0.79788456080286535588 * (v + 0.044715 * v * v * v))));
	}
}

void llorch_vec_silu_mul_ref(float *gate, const float *up, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		double g = gate[i];
		gate[i] = (float)(g / (1.0 + exp(-g)) * up[i]);
	}
}
