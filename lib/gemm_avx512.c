/* AVX-512 single-precision GEMM micro-kernel for prompt processing:
 * Y (n_tok, 32-column panel) = X (n_tok, K) . P, where P is a panel of 32
 * weight rows packed as (K, 32) floats (kernels.c packs it, dequantizing
 * any weight type). A 12 x 32 tile of Y lives in 24 registers for the whole
 * K loop; each k step loads two vectors of P and broadcasts twelve values of
 * X, so the FMA units, not the loads, set the pace.
 *
 * Ours rather than BLAS: OpenBLAS picks its kernels by CPU model and falls
 * back to AVX2 ones (or is forced there with OPENBLAS_CORETYPE), which run
 * at half the rate on CPUs with full-width AVX-512. */
#include <immintrin.h>

#include "kernels_impl.h"
#include "tile_avx512.h"

#define MR 12

/* Rows t .. t + mr - 1 of Y; mr is a constant after inlining. */
static inline __attribute__((always_inline)) void tile(int mr, const float *X, int64_t K,
		const float *P, float *Y, int64_t ldy, __mmask16 m0, __mmask16 m1)
{
	__m512 c0[MR], c1[MR];

#pragma GCC unroll 12
	for (int m = 0; m < mr; m++) {
		c0[m] = _mm512_setzero_ps();
		c1[m] = _mm512_setzero_ps();
	}
	llorch_tile32(mr, X, K, P, 0, K, c0, c1);
#pragma GCC unroll 12
	for (int m = 0; m < mr; m++) {
		_mm512_mask_storeu_ps(Y + m * ldy, m0, c0[m]);
		_mm512_mask_storeu_ps(Y + m * ldy + 16, m1, c1[m]);
	}
}

void llorch_gemm_panel_avx512(const float *X, int64_t n_tok, int64_t K, const float *P,
		int n_cols, float *Y, int64_t ldy)
{
	__mmask16 m0 = (__mmask16)(n_cols >= 16 ? 0xffff : (1u << n_cols) - 1);
	__mmask16 m1 = (__mmask16)(n_cols >= 32 ? 0xffff : n_cols <= 16 ? 0 : (1u << (n_cols - 16)) - 1);
	int64_t t = 0;

	for (; t + MR <= n_tok; t += MR)
		tile(MR, X + t * K, K, P, Y + t * ldy, ldy, m0, m1);
	switch (n_tok - t) {
	case 11: tile(11, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	case 10: tile(10, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	case 9: tile(9, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	case 8: tile(8, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	case 7: tile(7, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	case 6: tile(6, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	case 5: tile(5, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	case 4: tile(4, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	case 3: tile(3, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	case 2: tile(2, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	case 1: tile(1, X + t * K, K, P, Y + t * ldy, ldy, m0, m1); break;
	default: break;
	}
}

/* r[i] = column i of the 16 x 16 matrix whose rows are r[0..15]. The
 * loops are unrolled so that r and t are registers, not arrays on the
 * stack (GCC -O2 kept the loops, and with them the arrays in memory). */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16])
{
	__m512 t[16];

#pragma GCC unroll 16
	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
	}
#pragma GCC unroll 16
	for (int i = 0; i < 16; i += 4) {
		__m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
		__m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
		r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
		r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
		r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
		r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
	}
#pragma GCC unroll 16
	for (int i = 0; i < 4; i++) {
		t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
		t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
		t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
		t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
	}
#pragma GCC unroll 16
	for (int i = 0; i < 8; i++) {
		r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
		r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
	}
}

/* Floats each row is prefetched ahead while packing: two cache lines. The
 * sixteen rows are read side by side, a line of each at a time, which the
 * hardware prefetchers serve poorly; asking early keeps more of the rows'
 * lines in flight (F32 GPT-2 prompts: packing 14% -> 8% of the time). */
#define PACK_AHEAD 32

/* Values i .. i + 15 (masked) of a row of kernel type kt as floats; kt is
 * a constant after inlining. */
static inline __attribute__((always_inline)) __m512 load16(int kt, const void *row, int64_t i,
		__mmask16 m)
{
	if (kt == LLORCH_KT_F32)
		return _mm512_maskz_loadu_ps(m, (const float *)row + i);
	__m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i);
	if (kt == LLORCH_KT_F16)
		return _mm512_cvtph_ps(h);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Where a missing row (past the panel's last) is read from with an empty
 * mask: the load touches nothing, but its address must be a real one. */
static const float no_row[16];

/* Every index into r[] below is a constant once the loops are unrolled, so
 * the block stays in registers: with the stores' count left to a run-time
 * loop (the last block of a row may be short) the compiler had kept r[] on
 * the stack, and packing ran at 1.8 values per cycle from L1. */
static inline __attribute__((always_inline)) void pack16(int kt, const void *const rows[16],
		int64_t n, float *P)
{
	size_t size = kt == LLORCH_KT_F32 ? 4 : 2;

	for (int64_t i = 0; i < n; i += 16) {
		int64_t left = n - i;
		__mmask16 m = (__mmask16)(left >= 16 ? 0xffff : (1u << left) - 1);
		__m512 r[16];

#pragma GCC unroll 16
		for (int c = 0; c < 16; c++) {
			const void *row = rows[c] ? rows[c] : no_row;
			if (rows[c] && i + PACK_AHEAD < n)
				_mm_prefetch((const char *)rows[c] + (size_t)(i + PACK_AHEAD) * size,
						_MM_HINT_T0);
			r[c] = load16(kt, row, rows[c] ? i : 0, rows[c] ? m : 0);
		}
		transpose16(r);
#pragma GCC unroll 16
		for (int k = 0; k < 16; k++)
			if (k < left)
				_mm512_storeu_ps(P + (i + k) * 32, r[k]);
	}
}

/* Half a panel, 16 x 16 blocks transposed in registers: a scalar copy
 * with a stride of 32 floats cost a tenth of a prompt's time. Half-float
 * rows are converted on the way, without a pass through memory. */
void llorch_pack16_avx512(int kt, const void *const rows[16], int64_t n, float *P)
{
	switch (kt) {
	case LLORCH_KT_F16: pack16(LLORCH_KT_F16, rows, n, P); break;
	case LLORCH_KT_BF16: pack16(LLORCH_KT_BF16, rows, n, P); break;
	default: pack16(LLORCH_KT_F32, rows, n, P); break;
	}
}
