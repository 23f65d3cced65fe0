/* AVX2 + FMA + F16C row kernels. Decode is bound by reading the weights.
 * The quantized kernels take four rows per pass over x: each load of x's
 * quantized blocks serves four rows, and four independent accumulator
 * chains hide the FMA latency. The float kernels (kernels_rows.h) read one
 * row at a time, straight through, with four accumulators along it: x comes
 * from L1 either way, and one sequential stream per thread read F32 and F16
 * rows from memory 0-25% faster than four interleaved ones. */
#include <immintrin.h>
#include <math.h>

#include "kernels_impl.h"
#include "vexp_avx2.h"

static inline __m256 load_f16x8(const uint8_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

static inline __m256 load_bf16x8(const uint8_t *p)
{
	__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
	return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

static inline float fp16_scalar(uint16_t h)
{
	return _cvtsh_ss(h);
}

#define VEC __m256
#define VW 8
#define VZERO _mm256_setzero_ps
#define VLOADX _mm256_loadu_ps
#define VFMA _mm256_fmadd_ps
#define VHSUM llorch_hsum8
#define VADD _mm256_add_ps
/* Software prefetching LLORCH_PREFETCH_BYTES ahead, as at AVX-512: without
 * it the float rows of several vectors, slower per byte than one vector's,
 * waited on memory (TinyLlama f16 four streams at this level 31 -> 47-51
 * tok/s, GPT-2 f16 390-403 -> 448-482, Llama 110M f32 280 -> 341-346; one
 * stream the same or 1-5% faster). */
#define VPREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
/* ...but not F32 rows for one vector: on a Zen 3 (AVX2 only) two threads
 * streaming them read 27-31 GB/s with the prefetches and 30-35 without
 * (F16: 30-32 with, 27-29 without; F32 for four vectors the same either
 * way), and llama-110M f32 decode was at 0.88x llama.cpp's. */
#define FLOAT_PREFETCH(ELEM, NX) ((ELEM) != 4 || (NX) > 1)
#define VNX 2
#include "kernels_rows.h"

static inline __m256 load_f32x8(const uint8_t *p)
{
	return _mm256_loadu_ps((const float *)(const void *)p);
}

FLOAT_ROWS_KERNEL(rows_f32, 4, load_f32x8, llorch_kh_f32_at)
FLOAT_ROWS_KERNEL(rows_f16, 2, load_f16x8, llorch_kh_f16_at)
FLOAT_ROWS_KERNEL(rows_bf16, 2, load_bf16x8, llorch_kh_bf16_at)

/* Sum of u8 * s8 products of 32 pairs, as 8 int32 lanes. */
static inline __m256i dot_u8s8(__m256i u, __m256i s)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* The 32 nibbles of a Q4_0 block as bytes 0..15 in x's order: low nibbles
 * are values 0..15, high nibbles 16..31 (the prompts' dequantizer; the row
 * kernels are lib/q4_avx2.c). */
static inline __m256i unpack_q4(const uint8_t *qs)
{
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)qs);
	__m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
	return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* Q8_0 rows for n_x vectors (xs blocks apart; results ys apart). Per row
 * group the vectors are taken two at a time, each weight block
 * loaded and unpacked once for both, the group's rows coming from L1 after
 * the first pair; each (row, vector) sum is the same operations in the
 * same order whatever n_x is, so the same bits alone or in a batch (with
 * n_x 1, a constant after inlining, the second vector's work is dead code
 * and goes). Batched decode at this level had run the one-vector kernel
 * per vector: four GPT-2 q4_0 streams 1.04x one, now 1.35x (q8_0 1.21x,
 * now 1.62x). Prefetching: lines a
 * group on or further (LLORCH_PREFETCH_BYTES), in memory order when the
 * rows are read whole (the group's rows are adjacent), as
 * kernels_quant_avx512.c does. The loops over the group's four rows are
 * unrolled so that the accumulators stay in registers: rolled, each
 * block's multiply-add went through the stack (from L2, cycles per 4 rows
 * x 4 blocks: one vector 63 -> 50, four 182 -> 165; GPT-2 q8_0 four
 * streams at the AVX2 level 549-574 -> 591-636 tok/s, 3 rounds). */
__attribute__((always_inline)) static inline void rows_q8_multi(const uint8_t *W, size_t rb,
		const llorch_block_q8a *x, int64_t xs, int n_x, int64_t n, float *y, int64_t ys,
		int64_t n_rows)
{
	const size_t bs = sizeof(llorch_block_q8_0);
	int64_t nb = n / 32;
	size_t pf = llorch_prefetch_distance(rb);
	bool lin = (size_t)nb * bs == rb;

	for (int64_t r = 0; r < n_rows; r += LLORCH_ROWS) {
		const uint8_t *w[LLORCH_ROWS];
		int nr = llorch_row_group(W, rb, r, n_rows, w);
		for (int t0 = 0; t0 < n_x; t0 += 2) {
			bool two = t0 + 1 < n_x;
			const llorch_block_q8a *x0 = x + t0 * xs, *x1 = two ? x0 + xs : x0;
			__m256 acc0[LLORCH_ROWS], acc1[LLORCH_ROWS];
			_Pragma("GCC unroll 4")
			for (int k = 0; k < LLORCH_ROWS; k++)
				acc0[k] = acc1[k] = _mm256_setzero_ps();
			for (int64_t b = 0; b < nb; b++) {
				__m256i xq0 = _mm256_loadu_si256((const __m256i *)(const void *)x0[b].qs);
				__m256i xq1 = _mm256_loadu_si256((const __m256i *)(const void *)x1[b].qs);
				if (t0 == 0)
					llorch_prefetch_step(w, w[0], bs, b, pf, lin);
				_Pragma("GCC unroll 4")
				for (int k = 0; k < LLORCH_ROWS; k++) {
					const uint8_t *blk = w[k] + bs * (size_t)b;
					float dw = fp16_scalar(llorch_kh_load16(blk));
					/* signed x signed through maddubs: |w| * (x with w's sign) */
					__m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
					__m256i aw = _mm256_sign_epi8(wv, wv);
					__m256 d0 = _mm256_cvtepi32_ps(dot_u8s8(aw, _mm256_sign_epi8(xq0, wv)));
					__m256 d1 = _mm256_cvtepi32_ps(dot_u8s8(aw, _mm256_sign_epi8(xq1, wv)));
					acc0[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x0[b].d), d0, acc0[k]);
					acc1[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x1[b].d), d1, acc1[k]);
				}
			}
			for (int k = 0; k < nr; k++) {
				y[t0 * ys + r + k] += llorch_hsum8(acc0[k]);
				if (two)
					y[(t0 + 1) * ys + r + k] += llorch_hsum8(acc1[k]);
			}
		}
	}
}

static void rows_q8_0_multi(const uint8_t *W, size_t rb, const void *x, int64_t xs, int n_x,
		int64_t n, float *y, int64_t ys, int64_t n_rows)
{
	rows_q8_multi(W, rb, x, xs, n_x, n, y, ys, n_rows);
}

static void rows_q8_0(const uint8_t *W, size_t rb, const void *x, int64_t n, float *y,
		int64_t n_rows)
{
	rows_q8_multi(W, rb, x, 0, 1, n, y, 0, n_rows);
}

/* Rows to float for the prompts' matrix products (OpenBLAS at this
 * level), as llorch_dequantize_scalar bit for bit (one multiply d * q per
 * value): the scalar loop took 4% of a GPT-2 q8_0 pp512. */
static void dequantize(int kt, const uint8_t *src, float *dst, int64_t n)
{
	int64_t i = 0;

	switch (kt) {
	case LLORCH_KT_F16:
		for (; i + 8 <= n; i += 8)
			_mm256_storeu_ps(dst + i, load_f16x8(src + 2 * i));
		break;
	case LLORCH_KT_BF16:
		for (; i + 8 <= n; i += 8)
			_mm256_storeu_ps(dst + i, load_bf16x8(src + 2 * i));
		break;
	case LLORCH_KT_Q8_0:
		for (; i < n; i += 32) {
			const uint8_t *blk = src + (size_t)(i / 32) * sizeof(llorch_block_q8_0);
			__m256 d = _mm256_set1_ps(fp16_scalar(llorch_kh_load16(blk)));
			for (int h = 0; h < 4; h++) {
				__m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(blk + 2 + 8 * h));
				_mm256_storeu_ps(dst + i + 8 * h,
						_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
			}
		}
		break;
	case LLORCH_KT_Q4_0:
		for (; i < n; i += 32) {
			const uint8_t *blk = src + (size_t)(i / 32) * sizeof(llorch_block_q4_0);
			__m256 d = _mm256_set1_ps(fp16_scalar(llorch_kh_load16(blk)));
			__m256i q = _mm256_sub_epi8(unpack_q4(blk + 2), _mm256_set1_epi8(8));
			__m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
			__m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
			for (int h = 0; h < 4; h++)
				_mm256_storeu_ps(dst + i + 8 * h, _mm256_mul_ps(d,
						_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[h]))));
		}
		break;
	default:
		break;
	}
	/* F32 rows and the tails of float rows */
	if (i < n)
		llorch_dequantize_scalar(kt, src + (kt == LLORCH_KT_F32 ? 4 : 2) * i, dst + i, n - i);
}

/* As llorch_quantize_act_scalar, bit for bit (see kernels_avx512.c). */
static void quantize_act(const float *x, llorch_block_q8a *out, int64_t n)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);

	for (int64_t b = 0; b < n / 32; b++) {
		__m256 v[4], m;
		__m256i q[4];
		for (int k = 0; k < 4; k++)
			v[k] = _mm256_loadu_ps(x + 32 * b + 8 * k);
		m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
				_mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
		__m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
		h = _mm_max_ps(h, _mm_movehl_ps(h, h));
		h = _mm_max_ss(h, _mm_movehdup_ps(h));
		float d = _mm_cvtss_f32(h) / 127.0f;
		__m256 id = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
		for (int k = 0; k < 4; k++)
			q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], id));
		__m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
		/* packs works within 128-bit lanes; the permute restores order */
		__m256i p16 = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
		__m256i p8 = _mm256_packs_epi16(p16, p16b);
		p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
		_mm256_storeu_si256((__m256i *)(void *)out[b].qs, p8);
		out[b].d = d;
		out[b].s = d * (float)llorch_hsum8_epi32(sum);
	}
}

/* F16C rounds to nearest even and keeps subnormals, as
 * llorch_fp32_to_fp16 does: the same bits at every level. */
static void to_f16(const float *src, uint16_t *dst, int64_t n)
{
	int64_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(void *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i),
				_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	llorch_to_f16_scalar(src + i, dst + i, n - i);
}

/* The sampler's passes over the vocabulary (see kernels_impl.h), eight
 * floats at a time, the tail scalar: without them an AVX2-only CPU spent
 * 0.2 ms a GPT-2 token in expf for the log-probabilities. */

/* vmaxps returns its second operand when the first is NaN: NaN skipped */
static float max_avx2(const float *x, int64_t n)
{
	__m256 m = _mm256_set1_ps(-INFINITY);
	int64_t i = 0;

	for (; i + 8 <= n; i += 8)
		m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);
	__m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
	h = _mm_max_ps(h, _mm_movehl_ps(h, h));
	h = _mm_max_ss(h, _mm_movehdup_ps(h));
	float mx = _mm_cvtss_f32(h);
	for (; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	return mx;
}

static double sum_exp_avx2(const float *x, int64_t n, float mx)
{
	const __m256 m = _mm256_set1_ps(mx), ninf = _mm256_set1_ps(-INFINITY);
	__m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
	int64_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);
		/* false for NaN and -inf, which add nothing */
		__m256 live = _mm256_cmp_ps(v, ninf, _CMP_GT_OQ);
		__m256 e = _mm256_and_ps(live, llorch_vexp256(_mm256_sub_ps(_mm256_and_ps(live, v), m)));
		s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
		s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
	}
	__m256d s = _mm256_add_pd(s0, s1);
	__m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
	double sum = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
	return sum + llorch_sum_exp_scalar(x + i, n - i, mx);
}

static int64_t find_above_avx2(const float *x, int64_t n, float bar)
{
	const __m256 b = _mm256_set1_ps(bar);
	int64_t i = 0;

	for (; i + 8 <= n; i += 8) {
		int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), b, _CMP_GT_OQ));
		if (m)
			return i + __builtin_ctz((unsigned)m);
	}
	return i + llorch_find_above_scalar(x + i, n - i, bar);
}

const llorch_kernel_set llorch_kernels_avx2 = {
	.name = "avx2",
	.rows = { rows_f32, rows_f16, rows_bf16, rows_q8_0, llorch_rows_q4_0_avx2 },
	.rows_multi = { rows_f32_multi, rows_f16_multi, rows_bf16_multi, rows_q8_0_multi,
		llorch_rows_q4_0_avx2_multi },
	.quantize_act = quantize_act,
	.dequantize = dequantize,
	.qgemm_panel = llorch_qgemm_panel_avx2,
	.qgemm_x_signed = true,
	.attn_row = llorch_attn_row_avx2,
	.attn_tile = llorch_attn_tile_avx2,
	.to_f16 = to_f16,
	.gelu = llorch_gelu_avx2,
	.silu_mul = llorch_silu_mul_avx2,
	.add = llorch_add_avx2,
	.layernorm = llorch_layernorm_avx2,
	.rmsnorm = llorch_rmsnorm_avx2,
	.max = max_avx2,
	.sum_exp = sum_exp_avx2,
	.find_above = find_above_avx2,
};
