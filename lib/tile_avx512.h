/* The register tile shared by the AVX-512 GEMM and attention kernels;
 * include only from *_avx512.c. */
#ifndef LLORCH_TILE_AVX512_H
#define LLORCH_TILE_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* c0[m], c1[m] += A[m][k] * B[k][0..15], B[k][16..31] for k in k0..k1-1
 * and m in 0..mr-1: rows of A lda floats apart, B (k1, 32) packed. Each k
 * loads two vectors of B and broadcasts mr values of A, so that the FMA
 * units, not the loads, set the pace. mr is a constant after inlining. */
static inline __attribute__((always_inline)) void llorch_tile32(int mr, const float *A,
		int64_t lda, const float *B, int64_t k0, int64_t k1, __m512 *c0, __m512 *c1)
{
	for (int64_t k = k0; k < k1; k++) {
		__m512 b0 = _mm512_loadu_ps(B + 32 * k), b1 = _mm512_loadu_ps(B + 32 * k + 16);
#pragma GCC unroll 12
		for (int m = 0; m < mr; m++) {
			__m512 a = _mm512_set1_ps(A[m * lda + k]);
			c0[m] = _mm512_fmadd_ps(a, b0, c0[m]);
			c1[m] = _mm512_fmadd_ps(a, b1, c1[m]);
		}
	}
}

#endif
