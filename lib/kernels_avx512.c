/* AVX-512 (F, BW, VL, DQ) kernels: float row kernels (16 floats per
 * register, one row at a time; see kernels_avx2.c for why),
 * activation quantization, dequantization for GEMM panels, and the kernel
 * sets. The quantized row kernels are in kernels_quant_avx512.c. */
#include <immintrin.h>

#include "kernels_impl.h"


static inline __m512 load_f32x16(const uint8_t *p)
{
	return _mm512_loadu_ps((const void *)p);
}

static inline __m512 load_f16x16(const uint8_t *p)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}

static inline __m512 load_bf16x16(const uint8_t *p)
{
	__m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)p));
	return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

#define VEC __m512
#define VW 16
#define VZERO _mm512_setzero_ps
#define VLOADX _mm512_loadu_ps
#define VFMA _mm512_fmadd_ps
#define VHSUM _mm512_reduce_add_ps
#define VADD _mm512_add_ps
#define VPREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#define VNX 4
#include "kernels_rows.h"

FLOAT_ROWS_KERNEL(rows_f32, 4, load_f32x16, llorch_kh_f32_at)
FLOAT_ROWS_KERNEL(rows_f16, 2, load_f16x16, llorch_kh_f16_at)
FLOAT_ROWS_KERNEL(rows_bf16, 2, load_bf16x16, llorch_kh_bf16_at)

/* As llorch_quantize_act_scalar, bit for bit: the same amax, d and 1 / d,
 * and round-to-nearest-even conversion (lrintf's default mode). */
static void quantize_act(const float *x, llorch_block_q8a *out, int64_t n)
{
	const __m512 sign = _mm512_set1_ps(-0.0f);

	for (int64_t b = 0; b < n / 32; b++) {
		__m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
		__m512 m = _mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1));
		float amax = _mm512_reduce_max_ps(m);
		float d = amax / 127.0f;
		__m512 id = _mm512_set1_ps(d != 0 ? 1.0f / d : 0.0f);
		__m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id));
		__m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
		_mm_storeu_si128((__m128i *)(void *)out[b].qs, _mm512_cvtepi32_epi8(q0));
		_mm_storeu_si128((__m128i *)(void *)(out[b].qs + 16), _mm512_cvtepi32_epi8(q1));
		out[b].d = d;
		out[b].s = d * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
	}
}

/* Rows to float for packing GEMM panels: with the portable conversion the
 * packing, not the multiply, would bound F16 and quantized prompts. */
static void dequantize(int kt, const uint8_t *src, float *dst, int64_t n)
{
	int64_t i = 0;

	switch (kt) {
	case LLORCH_KT_F16:
		for (; i + 16 <= n; i += 16)
			_mm512_storeu_ps(dst + i, load_f16x16(src + 2 * i));
		break;
	case LLORCH_KT_BF16:
		for (; i + 16 <= n; i += 16)
			_mm512_storeu_ps(dst + i, load_bf16x16(src + 2 * i));
		break;
	case LLORCH_KT_Q8_0:
		for (; i < n; i += 32) {
			const uint8_t *blk = src + (size_t)(i / 32) * sizeof(llorch_block_q8_0);
			__m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
			__m512 d = _mm512_set1_ps(_cvtsh_ss(llorch_kh_load16(blk)));
			_mm512_storeu_ps(dst + i, _mm512_mul_ps(d, _mm512_cvtepi32_ps(
					_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)))));
			_mm512_storeu_ps(dst + i + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(
					_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)))));
		}
		break;
	case LLORCH_KT_Q4_0:
		for (; i < n; i += 32) {
			const uint8_t *blk = src + (size_t)(i / 32) * sizeof(llorch_block_q4_0);
			__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2));
			__m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f));
			__m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
			__m512 d = _mm512_set1_ps(_cvtsh_ss(llorch_kh_load16(blk)));
			__m512i eight = _mm512_set1_epi32(8);
			_mm512_storeu_ps(dst + i, _mm512_mul_ps(d, _mm512_cvtepi32_ps(
					_mm512_sub_epi32(_mm512_cvtepu8_epi32(lo), eight))));
			_mm512_storeu_ps(dst + i + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(
					_mm512_sub_epi32(_mm512_cvtepu8_epi32(hi), eight))));
		}
		break;
	default:
		break;
	}
	/* F32 rows and the tails of float rows */
	if (i < n)
		llorch_dequantize_scalar(kt, src + (kt == LLORCH_KT_F32 ? 4 : 2) * i, dst + i, n - i);
}

const llorch_kernel_set llorch_kernels_avx512 = {
	.name = "avx512",
	.rows = { rows_f32, rows_f16, rows_bf16, llorch_rows_q8_0_avx512, llorch_rows_q4_0_avx512 },
	.rows_multi = {
		rows_f32_multi, rows_f16_multi, rows_bf16_multi, llorch_rows_q8_0_avx512_multi, llorch_rows_q4_0_avx512_multi,
	},
	.rows_long = {
		[LLORCH_KT_Q8_0] = llorch_rows_q8_0_avx512_long, [LLORCH_KT_Q4_0] = llorch_rows_q4_0_avx512_long,
	},
	.quantize_act = quantize_act,
	.dequantize = dequantize,
	.gemm_panel = llorch_gemm_panel_avx512,
	.pack16 = llorch_pack16_avx512,
	.attn_row = llorch_attn_row_avx512,
	.attn_tile = llorch_attn_tile_avx512,
	.to_f16 = llorch_to_f16_avx512,
	.gelu = llorch_gelu_avx512,
	.silu_mul = llorch_silu_mul_avx512,
	.add = llorch_add_avx512,
	.layernorm = llorch_layernorm_avx512,
	.rmsnorm = llorch_rmsnorm_avx512,
	.max = llorch_max_avx512,
	.sum_exp = llorch_sum_exp_avx512,
	.find_above = llorch_find_above_avx512,
};

const llorch_kernel_set llorch_kernels_avx512_vnni = {
	.name = "avx512",
	.rows = { rows_f32, rows_f16, rows_bf16, llorch_rows_q8_0_vnni, llorch_rows_q4_0_vnni },
	.rows_multi = {
		rows_f32_multi, rows_f16_multi, rows_bf16_multi, llorch_rows_q8_0_vnni_multi, llorch_rows_q4_0_vnni_multi,
	},
	.rows_long = {
		[LLORCH_KT_Q8_0] = llorch_rows_q8_0_vnni_long, [LLORCH_KT_Q4_0] = llorch_rows_q4_0_vnni_long,
	},
	.quantize_act = quantize_act,
	.dequantize = dequantize,
	.gemm_panel = llorch_gemm_panel_avx512,
	.qgemm_panel = llorch_qgemm_panel_avx512,
	.pack16 = llorch_pack16_avx512,
	.attn_row = llorch_attn_row_avx512,
	.attn_tile = llorch_attn_tile_avx512,
	.to_f16 = llorch_to_f16_avx512,
	.gelu = llorch_gelu_avx512,
	.silu_mul = llorch_silu_mul_avx512,
	.add = llorch_add_avx512,
	.layernorm = llorch_layernorm_avx512,
	.rmsnorm = llorch_rmsnorm_avx512,
	.max = llorch_max_avx512,
	.sum_exp = llorch_sum_exp_avx512,
	.find_above = llorch_find_above_avx512,
};
