/* AVX-512 (F, BW, VL, DQ) row kernels: 16 floats or two quantized blocks per
 * register, four rows per pass over x (see kernels_avx2.c for why). Where the
 * CPU has AVX-512 VNNI, the quantized kernels use vpdpbusd, one instruction
 * for the u8 x s8 dot product that otherwise takes two; that variant is
 * compiled with a target attribute and chosen at run time. */
#include <immintrin.h>

#include "kernels_impl.h"

/* The quantized kernels spend enough time per byte that the hardware
 * prefetchers fall behind on rows streamed from memory; asking for the
 * line this far ahead of each row measured 20-50% faster single-threaded. */
#define PREFETCH_BYTES 8192

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
#define VPREFETCH(p) _mm_prefetch((const char *)(p) + PREFETCH_BYTES, _MM_HINT_T0)
#include "kernels_rows.h"

FLOAT_ROWS_KERNEL(rows_f32, 4, load_f32x16, llorch_kh_f32_at)
FLOAT_ROWS_KERNEL(rows_f16, 2, load_f16x16, llorch_kh_f16_at)
FLOAT_ROWS_KERNEL(rows_bf16, 2, load_bf16x16, llorch_kh_bf16_at)

/* Two 32-byte quant arrays (blocks b and b + 1) in one register. */
static inline __m512i load2(const int8_t *lo, const int8_t *hi)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)lo);
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)hi);
	return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

/* The nibbles of Q4_0 blocks b and b + 1 as bytes, in the order
 * [b low 16 | b+1 low 16 | b high 16 | b+1 high 16]: one shift for both
 * blocks. x_nibble_order() puts x's blocks in the same order, and the int32
 * lanes of the dot product then alternate blocks every four. */
static inline __m512i unpack2_q4(const uint8_t *lo, const uint8_t *hi)
{
	__m256i v = _mm256_inserti128_si256(
			_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)lo)),
			_mm_loadu_si128((const __m128i *)(const void *)hi), 1);
	__m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1);
	return _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
}

/* [xb 0..15 | xb1 0..15 | xb 16..31 | xb1 16..31] from [xb | xb1]. */
static inline __m512i x_nibble_order(__m512i x)
{
	return _mm512_permutexvar_epi64(_mm512_set_epi64(7, 6, 3, 2, 5, 4, 1, 0), x);
}

/* [d0 x 8 | d1 x 8] as floats from two fp16 scales: broadcast the halves,
 * convert all 16 at once. */
static inline __m512 scales2_f16(const uint16_t *d0, const uint16_t *d1)
{
	__m128i a = _mm_set1_epi16((short)*d0), b = _mm_set1_epi16((short)*d1);
	return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1));
}

/* The same in the nibble order of unpack2_q4: [d0 x 4 | d1 x 4] twice. */
static inline __m512 scales2_f16_q4(const uint16_t *d0, const uint16_t *d1)
{
	__m128i ab = _mm_unpacklo_epi64(_mm_set1_epi16((short)*d0), _mm_set1_epi16((short)*d1));
	return _mm512_cvtph_ps(_mm256_broadcastsi128_si256(ab));
}

/* u8 x s8 products of 64 pairs summed in groups of four onto acc: 16 int32
 * lanes, 0..7 from the first block, 8..15 from the second. */
static inline __m512i dot_u8s8_bw(__m512i acc, __m512i u, __m512i s)
{
	return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
}

__attribute__((target("avx512vnni")))
static inline __m512i dot_u8s8_vnni(__m512i acc, __m512i u, __m512i s)
{
	return _mm512_dpbusd_epi32(acc, u, s);
}

/* x with w's sign, so that |w| * sign_x(x, w) = w * x (x is never -128). */
static inline __m512i sign_x(__m512i x, __m512i w)
{
	return _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(w), _mm512_setzero_si512(), x);
}

static inline int32_t hsum_epi32_256(__m256i s)
{
	__m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
	return _mm_cvtsi128_si32(h);
}

/* The last block of an odd block count, at AVX2 width: its contribution
 * dw * dx * sum(w * q) (for Q4_0 with the nibble offset of 8 removed). */
static inline float tail_block(bool q4, const uint8_t *blk, const llorch_block_q8a *x)
{
	__m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)x->qs);
	__m256i p;
	float dw = _cvtsh_ss(llorch_kh_load16(blk));

	if (q4) {
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2));
		__m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b),
				_mm256_set1_epi8(0x0f));
		p = _mm256_maddubs_epi16(nib, xv);
	} else {
		__m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
		p = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv));
	}
	float dot = (float)hsum_epi32_256(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
	return q4 ? dw * (x->d * dot - 8.0f * x->s) : dw * x->d * dot;
}

/* The quantized kernels, one body for Q8_0 and Q4_0 (Q4 a constant, so
 * the compiler drops the other type's branches), instantiated with and
 * without VNNI. Per pair of blocks the work shared by the four rows (x, its
 * scales, and for Q4_0 the nibble offset 8 * sum(x), which seeds the integer
 * accumulator) is done once. Blocks are BS bytes: an fp16 scale, then the
 * quants. */
#define Q_KERNEL(NAME, Q4, DOT, ATTR)                                                     \
	ATTR static void NAME(const uint8_t *W, size_t rb, const void *xv, int64_t n,     \
			float *y, int64_t n_rows)                                         \
	{                                                                                 \
		const llorch_block_q8a *x = xv;                                           \
		const size_t BS = Q4 ? sizeof(llorch_block_q4_0) : sizeof(llorch_block_q8_0); \
		int64_t nb = n / 32;                                                      \
		for (int64_t r = 0; r < n_rows; r += LLORCH_ROWS) {                       \
			const uint8_t *w[LLORCH_ROWS];                                    \
			__m512 acc[LLORCH_ROWS];                                          \
			int nr = llorch_row_group(W, rb, r, n_rows, w);                   \
			for (int k = 0; k < LLORCH_ROWS; k++)                             \
				acc[k] = _mm512_setzero_ps();                             \
			int64_t b = 0;                                                    \
			for (; b + 2 <= nb; b += 2) {                                     \
				__m512i xq = load2(x[b].qs, x[b + 1].qs), off = xq;       \
				__m512 dx;                                                \
				if (Q4) {                                                 \
					xq = x_nibble_order(xq);                          \
					off = _mm512_sub_epi32(_mm512_setzero_si512(),    \
						DOT(_mm512_setzero_si512(), _mm512_set1_epi8(8), xq)); \
					__m256 dx4 = _mm256_insertf128_ps(_mm256_set1_ps(x[b].d), \
							_mm_set1_ps(x[b + 1].d), 1);      \
					dx = _mm512_insertf32x8(_mm512_castps256_ps512(dx4), dx4, 1); \
				} else {                                                  \
					dx = _mm512_insertf32x8(_mm512_set1_ps(x[b].d),   \
							_mm256_set1_ps(x[b + 1].d), 1);   \
				}                                                         \
				_Pragma("GCC unroll 4")                                   \
				for (int k = 0; k < LLORCH_ROWS; k++) {                   \
					const uint8_t *b0 = w[k] + BS * (size_t)b, *b1 = b0 + BS; \
					_mm_prefetch((const char *)b0 + PREFETCH_BYTES, _MM_HINT_T0); \
					__m512 d;                                         \
					__m512i p;                                        \
					if (Q4) {                                         \
						d = scales2_f16_q4((const uint16_t *)(const void *)b0, \
								(const uint16_t *)(const void *)b1); \
						p = DOT(off, unpack2_q4(b0 + 2, b1 + 2), xq); \
					} else {                                          \
						__m512i wq = load2((const int8_t *)b0 + 2, (const int8_t *)b1 + 2); \
						d = scales2_f16((const uint16_t *)(const void *)b0, \
								(const uint16_t *)(const void *)b1); \
						p = DOT(_mm512_setzero_si512(), _mm512_abs_epi8(wq), sign_x(xq, wq)); \
					}                                                 \
					acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(dx, d), _mm512_cvtepi32_ps(p), acc[k]); \
				}                                                         \
			}                                                                 \
			for (int k = 0; k < nr; k++) {                                    \
				float s = _mm512_reduce_add_ps(acc[k]);                   \
				if (b < nb)                                               \
					s += tail_block(Q4, w[k] + BS * (size_t)b, &x[b]); \
				y[r + k] += s;                                            \
			}                                                                 \
		}                                                                         \
	}

Q_KERNEL(rows_q8_0_bw, 0, dot_u8s8_bw, )
Q_KERNEL(rows_q4_0_bw, 1, dot_u8s8_bw, )
Q_KERNEL(rows_q8_0_vnni, 0, dot_u8s8_vnni, __attribute__((target("avx512vnni"))))
Q_KERNEL(rows_q4_0_vnni, 1, dot_u8s8_vnni, __attribute__((target("avx512vnni"))))

/* The multi-vector kernels (llorch_rows_multi_fn). Per pair of blocks of a
 * group of four rows, the weights are loaded and unpacked and their scales
 * converted once, then dotted with up to MULTI_NX vectors: 4 x 4 float
 * accumulators take 16 of the 32 registers, the rows' unpacked weights and
 * scales 8 more. Each (row, vector) accumulator takes exactly Q_KERNEL's
 * float operations in Q_KERNEL's order, on the same integer sums, so the
 * results are bit-identical to the single-vector kernel's. Only how the
 * integer sums are reached may differ: with VNNI, Q8_0 dots x + 128
 * (unsigned) with w (signed) and seeds the sum with -128 * sum(w), once per
 * row, where the single-vector kernel moves w's sign onto x (an operation
 * per row and vector). Without VNNI that would overflow maddubs' int16
 * pairs, so the BW variant keeps the sign trick. */
#define MULTI_NX 4

#define Q_MULTI_KERNEL(NAME, Q4, DOT, XU, ATTR)                                           \
	ATTR __attribute__((always_inline)) static inline void NAME##_nx(                 \
			const uint8_t *const *w, const llorch_block_q8a *x, int64_t xs,   \
			const int NX, int64_t nb, float *y, int64_t ys, int nr)           \
	{                                                                                 \
		const size_t BS = Q4 ? sizeof(llorch_block_q4_0) : sizeof(llorch_block_q8_0); \
		__m512 acc[LLORCH_ROWS][MULTI_NX];                                        \
		_Pragma("GCC unroll 4")                                                   \
		for (int k = 0; k < LLORCH_ROWS; k++)                                     \
			_Pragma("GCC unroll 4")                                           \
			for (int t = 0; t < NX; t++)                                      \
				acc[k][t] = _mm512_setzero_ps();                          \
		int64_t b = 0;                                                            \
		for (; b + 2 <= nb; b += 2) {                                             \
			__m512i wq[LLORCH_ROWS], wo[LLORCH_ROWS];                         \
			__m512 d[LLORCH_ROWS];                                            \
			_Pragma("GCC unroll 4")                                           \
			for (int k = 0; k < LLORCH_ROWS; k++) {                           \
				const uint8_t *b0 = w[k] + BS * (size_t)b, *b1 = b0 + BS; \
				_mm_prefetch((const char *)b0 + PREFETCH_BYTES, _MM_HINT_T0); \
				if (Q4) {                                                 \
					d[k] = scales2_f16_q4((const uint16_t *)(const void *)b0, \
							(const uint16_t *)(const void *)b1); \
					wq[k] = unpack2_q4(b0 + 2, b1 + 2);               \
					wo[k] = wq[k];                                    \
				} else {                                                  \
					d[k] = scales2_f16((const uint16_t *)(const void *)b0, \
							(const uint16_t *)(const void *)b1); \
					wq[k] = load2((const int8_t *)b0 + 2, (const int8_t *)b1 + 2); \
					wo[k] = XU ? _mm512_sub_epi32(_mm512_setzero_si512(), \
							DOT(_mm512_setzero_si512(), _mm512_set1_epi8(-128), wq[k])) \
						: _mm512_abs_epi8(wq[k]);                 \
				}                                                         \
			}                                                                 \
			_Pragma("GCC unroll 4")                                           \
			for (int t = 0; t < NX; t++) {                                    \
				const llorch_block_q8a *xt = x + t * xs;                  \
				__m512i xq = load2(xt[b].qs, xt[b + 1].qs), off = xq;     \
				__m512 dx;                                                \
				if (Q4) {                                                 \
					xq = x_nibble_order(xq);                          \
					off = _mm512_sub_epi32(_mm512_setzero_si512(),    \
						DOT(_mm512_setzero_si512(), _mm512_set1_epi8(8), xq)); \
					__m256 dx4 = _mm256_insertf128_ps(_mm256_set1_ps(xt[b].d), \
							_mm_set1_ps(xt[b + 1].d), 1);     \
					dx = _mm512_insertf32x8(_mm512_castps256_ps512(dx4), dx4, 1); \
				} else {                                                  \
					dx = _mm512_insertf32x8(_mm512_set1_ps(xt[b].d),  \
							_mm256_set1_ps(xt[b + 1].d), 1);  \
					if (XU)                                           \
						xq = _mm512_xor_si512(xq, _mm512_set1_epi8(-128)); \
				}                                                         \
				_Pragma("GCC unroll 4")                                   \
				for (int k = 0; k < LLORCH_ROWS; k++) {                   \
					__m512i p;                                        \
					if (Q4)                                           \
						p = DOT(off, wq[k], xq);                  \
					else if (XU)                                      \
						p = DOT(wo[k], xq, wq[k]);                \
					else                                              \
						p = DOT(_mm512_setzero_si512(), wo[k], sign_x(xq, wq[k])); \
					acc[k][t] = _mm512_fmadd_ps(_mm512_mul_ps(dx, d[k]), \
							_mm512_cvtepi32_ps(p), acc[k][t]); \
				}                                                         \
			}                                                                 \
		}                                                                         \
		for (int k = 0; k < nr; k++)                                              \
			for (int t = 0; t < NX; t++) {                                    \
				float s = _mm512_reduce_add_ps(acc[k][t]);                \
				if (b < nb)                                               \
					s += tail_block(Q4, w[k] + BS * (size_t)b, &x[t * xs + b]); \
				y[t * ys + k] += s;                                       \
			}                                                                 \
	}                                                                                 \
                                                                                          \
	ATTR static void NAME(const uint8_t *W, size_t rb, const llorch_block_q8a *x,     \
			int64_t xs, int n_x, int64_t n, float *y, int64_t ys, int64_t n_rows) \
	{                                                                                 \
		for (int64_t r = 0; r < n_rows; r += LLORCH_ROWS) {                       \
			const uint8_t *w[LLORCH_ROWS];                                    \
			int nr = llorch_row_group(W, rb, r, n_rows, w);                   \
			for (int t = 0; t < n_x; t += MULTI_NX) {                         \
				const llorch_block_q8a *xt = x + t * xs;                  \
				float *yt = y + t * ys + r;                               \
				switch (n_x - t < MULTI_NX ? n_x - t : MULTI_NX) {        \
				case 1: NAME##_nx(w, xt, xs, 1, n / 32, yt, ys, nr); break; \
				case 2: NAME##_nx(w, xt, xs, 2, n / 32, yt, ys, nr); break; \
				case 3: NAME##_nx(w, xt, xs, 3, n / 32, yt, ys, nr); break; \
				default: NAME##_nx(w, xt, xs, 4, n / 32, yt, ys, nr); break; \
				}                                                         \
			}                                                                 \
		}                                                                         \
	}

Q_MULTI_KERNEL(multi_q8_0_bw, 0, dot_u8s8_bw, 0, )
Q_MULTI_KERNEL(multi_q4_0_bw, 1, dot_u8s8_bw, 0, )
Q_MULTI_KERNEL(multi_q8_0_vnni, 0, dot_u8s8_vnni, 1, __attribute__((target("avx512vnni"))))
Q_MULTI_KERNEL(multi_q4_0_vnni, 1, dot_u8s8_vnni, 1, __attribute__((target("avx512vnni"))))

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
	.rows = { rows_f32, rows_f16, rows_bf16, rows_q8_0_bw, rows_q4_0_bw },
	.rows_multi = { [LLORCH_KT_Q8_0] = multi_q8_0_bw, [LLORCH_KT_Q4_0] = multi_q4_0_bw },
	.quantize_act = quantize_act,
	.dequantize = dequantize,
	.gemm_panel = llorch_gemm_panel_avx512,
	.attn_row = llorch_attn_row_avx512,
	.gelu = llorch_gelu_avx512,
	.silu_mul = llorch_silu_mul_avx512,
};

const llorch_kernel_set llorch_kernels_avx512_vnni = {
	.name = "avx512",
	.rows = { rows_f32, rows_f16, rows_bf16, rows_q8_0_vnni, rows_q4_0_vnni },
	.rows_multi = { [LLORCH_KT_Q8_0] = multi_q8_0_vnni, [LLORCH_KT_Q4_0] = multi_q4_0_vnni },
	.quantize_act = quantize_act,
	.dequantize = dequantize,
	.gemm_panel = llorch_gemm_panel_avx512,
	.qgemm_panel = llorch_qgemm_panel_avx512,
	.attn_row = llorch_attn_row_avx512,
	.gelu = llorch_gelu_avx512,
	.silu_mul = llorch_silu_mul_avx512,
};
