/* Vector math shared by the AVX-512 files; include only from *_avx512.c. */
#ifndef LLORCH_VEXP_AVX512_H
#define LLORCH_VEXP_AVX512_H

#include <immintrin.h>

#include "vexp_poly.h"

/* e^x, 16 at a time (LLORCH_VEXP_NP), times 2^n by vscalefps, which gives
 * 0 and inf at the ends instead of wrapping the exponent. */
static inline __m512 llorch_vexp512(__m512 x)
{
	__m512 n, p;

	x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f));
	LLORCH_VEXP_NP(__m512, _mm512_set1_ps, _mm512_mul_ps, _mm512_roundscale_ps, _mm512_fnmadd_ps,
			_mm512_fmadd_ps, x, n, p);
	return _mm512_scalef_ps(p, n);
}

#endif
