/* Integer GEMM for prompts with Q8_0 and Q4_0 weights (AVX-512 VNNI):
 * Y (n_tok, 32-column panel) = X . W^T with X quantized to 8 bits per
 * 32-block exactly as the decode kernels quantize it, so that prompts have
 * decode's numerics rather than float's. (Not bit for bit: the row kernels
 * sum the block products in another order.) One vpdpbusd multiplies and
 * adds 64 u8 x s8 pairs, four times the multiply-adds of an FP32 FMA.
 *
 * Panel layout (packed once per 32 weight rows, used by every token): per
 * block of 32 k values, eight groups of four k, each two vectors of 16
 * columns x 4 bytes, so that one broadcast of four activation bytes serves
 * 16 columns; then per 16 columns the int32 offset correction and the fp16
 * weight scales as floats.
 *
 * vpdpbusd multiplies unsigned by signed bytes. The activations are the
 * unsigned side, biased by +128 (kernels.c stores them so); the weights stay
 * signed (Q4_0 nibbles minus 8), and each column's integer accumulator
 * starts at -128 * sum(w) over the block, so that it ends at the exact dot
 * product sum(w * x). Per block and token: y += (dw * dx) * float(dot). */
#include <immintrin.h>

#include "kernels_impl.h"
#include "qgemm_pack.h"

/* Tokens per register tile; qgemm_panel needs at least this many. */
#define MR LLORCH_QGEMM_MIN_TOK

/* A packed block made ready for the tiles: Q4_0's offset 8 removed, and
 * each column's correction -128 * sum(w) for the activations' bias. */
__attribute__((target("avx512vnni")))
static void finish_block(bool q4, uint8_t *dst)
{
	for (int v = 0; v < 2; v++) {
		__m512i sum = _mm512_setzero_si512();
		for (int g = 0; g < NG; g++) {
			uint8_t *p = dst + 128 * g + 64 * v;
			__m512i w = _mm512_load_si512((const void *)p);
			if (q4) {
				w = _mm512_sub_epi8(w, _mm512_set1_epi8(8));
				_mm512_store_si512((void *)p, w);
			}
			sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8((char)0x80), w);
		}
		_mm512_store_si512((void *)(dst + OFF_SEED + 64 * v),
				_mm512_sub_epi32(_mm512_setzero_si512(), sum));
	}
}

/* MR rows (tokens) of Y for the packed panel P; X rows are nb blocks
 * apart. */
__attribute__((target("avx512vnni")))
static inline __attribute__((always_inline)) void tile(const llorch_block_q8a *X,
		int64_t nb, const uint8_t *P, float *Y, int64_t ldy, __mmask16 m0, __mmask16 m1)
{
	__m512 c0[MR], c1[MR];

#pragma GCC unroll 6
	for (int m = 0; m < MR; m++) {
		c0[m] = _mm512_setzero_ps();
		c1[m] = _mm512_setzero_ps();
	}
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *p = P + (size_t)b * LLORCH_QPANEL_BLOCK_BYTES;
		__m512i i0[MR], i1[MR];
		__m512i s0 = _mm512_load_si512((const void *)(p + OFF_SEED));
		__m512i s1 = _mm512_load_si512((const void *)(p + OFF_SEED + 64));
#pragma GCC unroll 6
		for (int m = 0; m < MR; m++) {
			i0[m] = s0;
			i1[m] = s1;
		}
#pragma GCC unroll 8
		for (int g = 0; g < NG; g++) {
			__m512i w0 = _mm512_load_si512((const void *)(p + 128 * g));
			__m512i w1 = _mm512_load_si512((const void *)(p + 128 * g + 64));
#pragma GCC unroll 6
			for (int m = 0; m < MR; m++) {
				int32_t xv;
				memcpy(&xv, X[m * nb + b].qs + 4 * g, sizeof xv);
				__m512i x = _mm512_set1_epi32(xv);
				i0[m] = _mm512_dpbusd_epi32(i0[m], x, w0);
				i1[m] = _mm512_dpbusd_epi32(i1[m], x, w1);
			}
		}
		__m512 d0 = _mm512_load_ps((const void *)(p + OFF_SCALE));
		__m512 d1 = _mm512_load_ps((const void *)(p + OFF_SCALE + 64));
#pragma GCC unroll 6
		for (int m = 0; m < MR; m++) {
			__m512 dx = _mm512_set1_ps(X[m * nb + b].d);
			c0[m] = _mm512_fmadd_ps(_mm512_mul_ps(d0, dx), _mm512_cvtepi32_ps(i0[m]), c0[m]);
			c1[m] = _mm512_fmadd_ps(_mm512_mul_ps(d1, dx), _mm512_cvtepi32_ps(i1[m]), c1[m]);
		}
	}
#pragma GCC unroll 6
	for (int m = 0; m < MR; m++) {
		_mm512_mask_storeu_ps(Y + m * ldy, m0, c0[m]);
		_mm512_mask_storeu_ps(Y + m * ldy + 16, m1, c1[m]);
	}
}

__attribute__((target("avx512vnni")))
void llorch_qgemm_panel_avx512(int kt, const uint8_t *W, size_t row_bytes, int n_cols,
		const llorch_block_q8a *X, int64_t n_tok, int64_t nb, void *scratch,
		float *Y, int64_t ldy)
{
	uint8_t *P = scratch;
	uint32_t cols = (uint32_t)((1ull << n_cols) - 1);
	bool q4 = kt == LLORCH_KT_Q4_0;

	/* columns past the last row: zero weights and scales */
	if (n_cols < LLORCH_PANEL)
		memset(P, 0, (size_t)nb * LLORCH_QPANEL_BLOCK_BYTES);
	for (int c = 0; c < n_cols; c++)
		pack_row(q4, W + (size_t)c * row_bytes, nb, c, P);
	for (int64_t b = 0; b < nb; b++)
		finish_block(q4, P + (size_t)b * LLORCH_QPANEL_BLOCK_BYTES);
	/* The last tile ends at the last token, overlapping the one before:
	 * its rows are recomputed to the same values, and no tile is short. */
	for (int64_t t = 0; t < n_tok; t += MR) {
		int64_t t0 = t + MR <= n_tok ? t : n_tok - MR;
		tile(X + t0 * nb, nb, P, Y + t0 * ldy, ldy, (__mmask16)cols, (__mmask16)(cols >> 16));
	}
}
