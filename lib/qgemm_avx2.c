/* Integer GEMM for prompts with Q8_0 and Q4_0 weights at AVX2 width (CPUs
 * without AVX-512): Y (n_tok, 32-column panel) = X . W^T with X quantized
 * to 8 bits per 32-block as the decode kernels quantize it, on the panel
 * layout of qgemm_pack.h (one broadcast of four activation bytes serves 8
 * columns of a register).
 *
 * vpmaddubsw multiplies unsigned by signed bytes into 16-bit pair sums,
 * saturating. Q4_0: the nibbles (0..15) are the unsigned side and the
 * activations (|q| <= 127) the signed one, so a pair sum is at most
 * 2 * 15 * 127 and a block's eight groups add up in 16 bits (30480 at
 * most) before one widening vpmaddwd; the nibbles' offset is
 * -8 * dw * (dx * sum(q)), one multiply-add per block and token from the
 * activations' stored d * sum(q). Q8_0: |w| against q with w's sign
 * (|w| <= 128, so a pair sum stays within 32512), widened per group.
 * Per block and token: y += (dw * dx) * float(dot).
 *
 * Against the float path it replaces (dequantized rows, OpenBLAS sgemm),
 * GPT-2 124M pp512 on two threads at LLORCH_SIMD=avx2, medians of five
 * interleaved rounds: Q4_0 1047 -> 1334 tok/s, Q8_0 1057 -> 1213
 * (llama.cpp built for AVX2: 1115 and 1018). Three tokens a tile: two
 * measured 7% slower for Q4_0, four and six no better for Q8_0.
 *
 * The activations come as they are (qgemm_x_signed; the AVX-512 kernel
 * takes them biased by +128): with an XOR per broadcast to unbias them,
 * Q8_0 ran at 1135 tok/s (Q4_0 the same). */
#include <immintrin.h>

#include "kernels_impl.h"
#include "qgemm_pack.h"

/* Tokens per register tile (qgemm_panel gets at least
 * LLORCH_QGEMM_MIN_TOK); Q4_0 takes 16 columns per token (two registers of
 * 16-bit sums and two of float ones: 12 of the 16 registers), Q8_0 8. */
#define MR 3
_Static_assert(MR <= LLORCH_QGEMM_MIN_TOK, "a tile fits the fewest tokens");

/* Four activation bytes (k = 4g .. 4g + 3) in every lane: one load. */
static inline __m256i x4(const llorch_block_q8a *xb, int g)
{
	return _mm256_broadcastd_epi32(_mm_loadu_si32(xb->qs + 4 * g));
}

/* Lanes below n of 8 as a maskstore mask. */
static inline __m256i lanes(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* MR tokens x 16 columns (c0 .. c0 + 15; n of them kept) of a Q4_0 panel. */
static inline __attribute__((always_inline)) void tile_q4(const llorch_block_q8a *X,
		int64_t nb, const uint8_t *P, int c0, float *Y, int64_t ldy, int n)
{
	const __m256i ones = _mm256_set1_epi16(1);
	__m256 acc[MR][2];

	_Pragma("GCC unroll 3") for (int m = 0; m < MR; m++)
		acc[m][0] = acc[m][1] = _mm256_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *blk = P + (size_t)b * LLORCH_QPANEL_BLOCK_BYTES, *p = blk + 4 * c0;
		__m256i s[MR][2];
		_Pragma("GCC unroll 3") for (int m = 0; m < MR; m++)
			s[m][0] = s[m][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
		for (int g = 0; g < NG; g++) {
			__m256i w0 = _mm256_load_si256((const __m256i *)(const void *)(p + 128 * g));
			__m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(p + 128 * g + 32));
			_Pragma("GCC unroll 3") for (int m = 0; m < MR; m++) {
				__m256i x = x4(&X[m * nb + b], g);
				s[m][0] = _mm256_add_epi16(s[m][0], _mm256_maddubs_epi16(w0, x));
				s[m][1] = _mm256_add_epi16(s[m][1], _mm256_maddubs_epi16(w1, x));
			}
		}
		__m256 d0 = _mm256_loadu_ps((const float *)(const void *)(blk + OFF_SCALE + 4 * c0));
		__m256 d1 = _mm256_loadu_ps((const float *)(const void *)(blk + OFF_SCALE + 4 * c0 + 32));
		_Pragma("GCC unroll 3") for (int m = 0; m < MR; m++) {
			const llorch_block_q8a *xb = &X[m * nb + b];
			__m256 dx = _mm256_set1_ps(xb->d), off = _mm256_set1_ps(-8.0f * xb->s);
			acc[m][0] = _mm256_fmadd_ps(_mm256_mul_ps(d0, dx),
					_mm256_cvtepi32_ps(_mm256_madd_epi16(s[m][0], ones)), acc[m][0]);
			acc[m][0] = _mm256_fmadd_ps(d0, off, acc[m][0]);
			acc[m][1] = _mm256_fmadd_ps(_mm256_mul_ps(d1, dx),
					_mm256_cvtepi32_ps(_mm256_madd_epi16(s[m][1], ones)), acc[m][1]);
			acc[m][1] = _mm256_fmadd_ps(d1, off, acc[m][1]);
		}
	}
	__m256i k0 = lanes(n), k1 = lanes(n - 8);
	_Pragma("GCC unroll 3") for (int m = 0; m < MR; m++) {
		_mm256_maskstore_ps(Y + m * ldy + c0, k0, acc[m][0]);
		_mm256_maskstore_ps(Y + m * ldy + c0 + 8, k1, acc[m][1]);
	}
}

/* MR tokens x 8 columns (c0 .. c0 + 7; n of them kept) of a Q8_0 panel. */
static inline __attribute__((always_inline)) void tile_q8(const llorch_block_q8a *X,
		int64_t nb, const uint8_t *P, int c0, float *Y, int64_t ldy, int n)
{
	const __m256i ones = _mm256_set1_epi16(1);
	__m256 acc[MR];

	_Pragma("GCC unroll 3") for (int m = 0; m < MR; m++)
		acc[m] = _mm256_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *blk = P + (size_t)b * LLORCH_QPANEL_BLOCK_BYTES;
		__m256i s[MR];
		_Pragma("GCC unroll 3") for (int m = 0; m < MR; m++)
			s[m] = _mm256_setzero_si256();
#pragma GCC unroll 8
		for (int g = 0; g < NG; g++) {
			__m256i w = _mm256_load_si256((const __m256i *)(const void *)(blk + 128 * g + 4 * c0));
			__m256i aw = _mm256_sign_epi8(w, w);
			_Pragma("GCC unroll 3") for (int m = 0; m < MR; m++) {
				__m256i x = _mm256_sign_epi8(x4(&X[m * nb + b], g), w);
				s[m] = _mm256_add_epi32(s[m], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, x), ones));
			}
		}
		__m256 d = _mm256_loadu_ps((const float *)(const void *)(blk + OFF_SCALE + 4 * c0));
		_Pragma("GCC unroll 3") for (int m = 0; m < MR; m++)
			acc[m] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(X[m * nb + b].d)),
					_mm256_cvtepi32_ps(s[m]), acc[m]);
	}
	__m256i k = lanes(n);
	_Pragma("GCC unroll 3") for (int m = 0; m < MR; m++)
		_mm256_maskstore_ps(Y + m * ldy + c0, k, acc[m]);
}

void llorch_qgemm_panel_avx2(int kt, const uint8_t *W, size_t row_bytes, int n_cols,
		const llorch_block_q8a *X, int64_t n_tok, int64_t nb, void *scratch,
		float *Y, int64_t ldy)
{
	uint8_t *P = scratch;
	bool q4 = kt == LLORCH_KT_Q4_0;
	int step = q4 ? 16 : 8;

	/* columns past the last row: zero weights and scales */
	if (n_cols < LLORCH_PANEL)
		memset(P, 0, (size_t)nb * LLORCH_QPANEL_BLOCK_BYTES);
	for (int c = 0; c < n_cols; c++)
		pack_row(q4, W + (size_t)c * row_bytes, nb, c, P);
	for (int c0 = 0; c0 < n_cols; c0 += step)
		/* The last tile ends at the last token, overlapping the one
		 * before: its rows are recomputed to the same values. */
		for (int64_t t = 0; t < n_tok; t += MR) {
			int64_t t0 = t + MR <= n_tok ? t : n_tok - MR;
			if (q4)
				tile_q4(X + t0 * nb, nb, P, c0, Y + t0 * ldy, ldy, n_cols - c0);
			else
				tile_q8(X + t0 * nb, nb, P, c0, Y + t0 * ldy, ldy, n_cols - c0);
		}
}
