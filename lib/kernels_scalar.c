/* Portable row kernels: the fallback on CPUs without AVX2, and the baseline
 * the SIMD kernels are tested against besides the double-precision
 * reference. Quantized weights use the same integer dot products with
 * quantized activations as the SIMD kernels, so that all levels agree to
 * float rounding. */
#include <math.h>

#include "kernels_impl.h"

static void rows_f32(const uint8_t *W, size_t row_bytes, const void *xv, int64_t n,
		float *y, int64_t n_rows)
{
	const float *x = xv;

	for (int64_t r = 0; r < n_rows; r++) {
		const float *w = (const float *)(const void *)(W + (size_t)r * row_bytes);
		float acc[8] = {0};
		int64_t i = 0;
		for (; i + 8 <= n; i += 8)
			for (int k = 0; k < 8; k++)
				acc[k] += w[i + k] * x[i + k];
		for (; i < n; i++)
			acc[0] += w[i] * x[i];
		y[r] += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
	}
}

static void rows_f16(const uint8_t *W, size_t row_bytes, const void *xv, int64_t n,
		float *y, int64_t n_rows)
{
	const float *x = xv;

	for (int64_t r = 0; r < n_rows; r++) {
		const uint8_t *w = W + (size_t)r * row_bytes;
		float acc[4] = {0};
		int64_t i = 0;
		for (; i + 4 <= n; i += 4)
			for (int k = 0; k < 4; k++)
				acc[k] += llorch_kh_fp16(llorch_kh_load16(w + 2 * (i + k))) * x[i + k];
		for (; i < n; i++)
			acc[0] += llorch_kh_fp16(llorch_kh_load16(w + 2 * i)) * x[i];
		y[r] += (acc[0] + acc[1]) + (acc[2] + acc[3]);
	}
}

static void rows_bf16(const uint8_t *W, size_t row_bytes, const void *xv, int64_t n,
		float *y, int64_t n_rows)
{
	const float *x = xv;

	for (int64_t r = 0; r < n_rows; r++) {
		const uint8_t *w = W + (size_t)r * row_bytes;
		float acc[4] = {0};
		int64_t i = 0;
		for (; i + 4 <= n; i += 4)
			for (int k = 0; k < 4; k++)
				acc[k] += llorch_kh_bf16(llorch_kh_load16(w + 2 * (i + k))) * x[i + k];
		for (; i < n; i++)
			acc[0] += llorch_kh_bf16(llorch_kh_load16(w + 2 * i)) * x[i];
		y[r] += (acc[0] + acc[1]) + (acc[2] + acc[3]);
	}
}

static void rows_q8_0(const uint8_t *W, size_t row_bytes, const void *xv, int64_t n,
		float *y, int64_t n_rows)
{
	const llorch_block_q8a *x = xv;
	int64_t nb = n / 32;

	for (int64_t r = 0; r < n_rows; r++) {
		const llorch_block_q8_0 *w = (const llorch_block_q8_0 *)(const void *)(W + (size_t)r * row_bytes);
		float acc = 0;
		for (int64_t b = 0; b < nb; b++) {
			int32_t s = 0;
			for (int k = 0; k < 32; k++)
				s += (int32_t)w[b].qs[k] * x[b].qs[k];
			acc += llorch_kh_fp16(w[b].d) * x[b].d * (float)s;
		}
		y[r] += acc;
	}
}

static void rows_q4_0(const uint8_t *W, size_t row_bytes, const void *xv, int64_t n,
		float *y, int64_t n_rows)
{
	const llorch_block_q8a *x = xv;
	int64_t nb = n / 32;

	for (int64_t r = 0; r < n_rows; r++) {
		const llorch_block_q4_0 *w = (const llorch_block_q4_0 *)(const void *)(W + (size_t)r * row_bytes);
		float acc = 0;
		for (int64_t b = 0; b < nb; b++) {
			int32_t s = 0;
			for (int k = 0; k < 16; k++) {
				s += (int32_t)(w[b].qs[k] & 0x0f) * x[b].qs[k];
				s += (int32_t)(w[b].qs[k] >> 4) * x[b].qs[k + 16];
			}
			/* sum((nib - 8) * q) * dx = s * dx - 8 * (dx * sum(q)) */
			float dw = llorch_kh_fp16(w[b].d);
			acc += dw * (x[b].d * (float)s - 8.0f * x[b].s);
		}
		y[r] += acc;
	}
}

/* As ggml's quantize_row_q8_0_ref: d = amax / 127, q = round(x / d). */
void llorch_quantize_act_scalar(const float *x, llorch_block_q8a *out, int64_t n)
{
	for (int64_t b = 0; b < n / 32; b++) {
		const float *xb = x + 32 * b;
		float amax = 0;
		int32_t sum = 0;
		for (int k = 0; k < 32; k++)
			amax = fmaxf(amax, fabsf(xb[k]));
		float d = amax / 127.0f;
		float id = d != 0 ? 1.0f / d : 0.0f;
		for (int k = 0; k < 32; k++) {
			int q = (int)lrintf(xb[k] * id);
			out[b].qs[k] = (int8_t)q;
			sum += q;
		}
		out[b].d = d;
		out[b].s = d * (float)sum;
	}
}

void llorch_dequantize_scalar(int kt, const uint8_t *src, float *dst, int64_t n)
{
	switch (kt) {
	case LLORCH_KT_F32:
		memcpy(dst, src, (size_t)n * sizeof *dst);
		break;
	case LLORCH_KT_F16:
		for (int64_t i = 0; i < n; i++)
			dst[i] = llorch_kh_fp16(llorch_kh_load16(src + 2 * i));
		break;
	case LLORCH_KT_BF16:
		for (int64_t i = 0; i < n; i++)
			dst[i] = llorch_kh_bf16(llorch_kh_load16(src + 2 * i));
		break;
	case LLORCH_KT_Q8_0: {
		const llorch_block_q8_0 *w = (const llorch_block_q8_0 *)(const void *)src;
		for (int64_t b = 0; b < n / 32; b++) {
			float d = llorch_kh_fp16(w[b].d);
			for (int k = 0; k < 32; k++)
				dst[32 * b + k] = d * (float)w[b].qs[k];
		}
		break;
	}
	case LLORCH_KT_Q4_0: {
		const llorch_block_q4_0 *w = (const llorch_block_q4_0 *)(const void *)src;
		for (int64_t b = 0; b < n / 32; b++) {
			float d = llorch_kh_fp16(w[b].d);
			for (int k = 0; k < 16; k++) {
				dst[32 * b + k] = d * (float)((w[b].qs[k] & 0x0f) - 8);
				dst[32 * b + k + 16] = d * (float)((w[b].qs[k] >> 4) - 8);
			}
		}
		break;
	}
	default:
		break;
	}
}

/* Value i of a cache of kernel type kt (F32, F16 or Q8_0) as float. */
static inline float kv_value(int kt, const void *p, int64_t i)
{
	if (kt == LLORCH_KT_Q8_0) {
		const uint8_t *b = (const uint8_t *)p + (size_t)(i / 32) * sizeof(llorch_block_q8_0);
		return llorch_kh_fp16(llorch_kh_load16(b)) * (float)(int8_t)b[2 + i % 32];
	}
	if (kt == LLORCH_KT_F16)
		return llorch_kh_fp16(((const uint16_t *)p)[i]);
	return ((const float *)p)[i];
}

void llorch_attn_row_scalar(int kt, const float *q, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t n_kv, float scale, float *scores, float *out)
{
	float max = -INFINITY, sum = 0;

	for (int64_t j = 0; j < n_kv; j++) {
		float s = 0;
		for (int64_t d = 0; d < hd; d++)
			s += q[d] * kv_value(kt, k, j * kv_stride + d);
		scores[j] = s * scale;
		max = fmaxf(max, scores[j]);
	}
	for (int64_t j = 0; j < n_kv; j++) {
		scores[j] = expf(scores[j] - max);
		sum += scores[j];
	}
	memset(out, 0, (size_t)hd * sizeof *out);
	for (int64_t j = 0; j < n_kv; j++) {
		float p = scores[j] / sum;
		for (int64_t d = 0; d < hd; d++)
			out[d] += p * kv_value(kt, v, j * kv_stride + d);
	}
}

void llorch_to_f16_scalar(const float *src, uint16_t *dst, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		dst[i] = llorch_fp32_to_fp16(src[i]);
}

void llorch_add_scalar(float *x, const float *b, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		x[i] += b[i];
}

void llorch_layernorm_scalar(float *y, const float *x, const float *w, const float *b,
		int64_t n, float eps)
{
	/* Two passes in double: the mean first, then the centred variance, which
	 * stays accurate when the mean is large against the spread. */
	double mean = 0, var = 0;

	for (int64_t i = 0; i < n; i++)
		mean += x[i];
	mean /= (double)n;
	for (int64_t i = 0; i < n; i++) {
		double d = x[i] - mean;
		var += d * d;
	}
	var /= (double)n;
	float inv = (float)(1.0 / sqrt(var + eps));
	float m = (float)mean;
	for (int64_t i = 0; i < n; i++) {
		float v = (x[i] - m) * inv * w[i];
		y[i] = b ? v + b[i] : v;
	}
}

void llorch_rmsnorm_scalar(float *y, const float *x, const float *w, int64_t n, float eps)
{
	double ss = 0;

	for (int64_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	float inv = (float)(1.0 / sqrt(ss / (double)n + eps));
	for (int64_t i = 0; i < n; i++)
		y[i] = x[i] * inv * w[i];
}

float llorch_max_scalar(const float *x, int64_t n)
{
	float mx = -INFINITY;

	for (int64_t i = 0; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	return mx;
}

double llorch_sum_exp_scalar(const float *x, int64_t n, float mx)
{
	double sum = 0.0;

	for (int64_t i = 0; i < n; i++)
		if (x[i] > -INFINITY)
			sum += expf(x[i] - mx);
	return sum;
}

int64_t llorch_find_above_scalar(const float *x, int64_t n, float bar)
{
	int64_t i = 0;

	while (i < n && !(x[i] > bar))
		i++;
	return i;
}

void llorch_gelu_scalar(float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		float v = x[i];
		x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286535588f * v * (1.0f + 0.044715f * v * v)));
	}
}

void llorch_silu_mul_scalar(float *gate, const float *up, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

const llorch_kernel_set llorch_kernels_scalar = {
	.name = "scalar",
	.rows = { rows_f32, rows_f16, rows_bf16, rows_q8_0, rows_q4_0 },
	.quantize_act = llorch_quantize_act_scalar,
	.dequantize = llorch_dequantize_scalar,
	.attn_row = llorch_attn_row_scalar,
	.to_f16 = llorch_to_f16_scalar,
	.gelu = llorch_gelu_scalar,
	.silu_mul = llorch_silu_mul_scalar,
	.add = llorch_add_scalar,
	.layernorm = llorch_layernorm_scalar,
	.rmsnorm = llorch_rmsnorm_scalar,
	.max = llorch_max_scalar,
	.sum_exp = llorch_sum_exp_scalar,
	.find_above = llorch_find_above_scalar,
};
