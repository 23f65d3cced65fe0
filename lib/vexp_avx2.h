/* Vector math shared by the AVX2 files; include only from *_avx2.c. */
#ifndef LLORCH_VEXP_AVX2_H
#define LLORCH_VEXP_AVX2_H

#include <immintrin.h>

#include "vexp_poly.h"

/* e^x, 8 at a time (LLORCH_VEXP_NP), 2^n made in the exponent field. x is
 * clamped to [-87, 88]: e^-87 is 1.6e-38 (a normal float, and nothing
 * next to a softmax's maximum's 1), e^88 is 1.7e38 (finite, and anything
 * over 1 + e^88 is 0 to float precision). */
static inline __m256 llorch_vexp256(__m256 x)
{
	__m256 n, p;

	x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
	LLORCH_VEXP_NP(__m256, _mm256_set1_ps, _mm256_mul_ps, _mm256_round_ps, _mm256_fnmadd_ps,
			_mm256_fmadd_ps, x, n, p);
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* The sum of a vector's 8 lanes. */
static inline float llorch_hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* The sum of a vector's 8 int32 lanes. */
static inline int32_t llorch_hsum8_epi32(__m256i v)
{
	__m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
	return _mm_cvtsi128_si32(h);
}

#endif
