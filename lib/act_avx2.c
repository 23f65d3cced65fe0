/* AVX2 activations of the feed-forward block, GELU (tanh form) and
 * SiLU(gate) * up, through the 8-wide vector exp instead of libm's tanhf,
 * expm1f and expf: at the AVX2 level those took a fifth of a GPT-2 q8_0
 * pp512 (perf). The tail goes through the same vector code, masked, so
 * that a value's result does not depend on where it sits in the array. */
#include <immintrin.h>

#include "kernels_impl.h"
#include "act_formula.h"
#include "vexp_avx2.h"

/* Lanes 0 .. n - 1 (n < 8 for a tail; 8 for all) as a maskload mask. */
static inline __m256i tail_mask8(int64_t n)
{
	const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);

	return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), lanes);
}

void llorch_gelu_avx2(float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i += 8) {
		__m256i m = tail_mask8(n - i);
		__m256 v = _mm256_maskload_ps(x + i, m);
		_mm256_maskstore_ps(x + i, m, LLORCH_GELU(_mm256_set1_ps, _mm256_mul_ps,
				_mm256_fmadd_ps, _mm256_add_ps, _mm256_div_ps, llorch_vexp256, v));
	}
}

void llorch_silu_mul_avx2(float *gate, const float *up, int64_t n)
{
	for (int64_t i = 0; i < n; i += 8) {
		__m256i m = tail_mask8(n - i);
		__m256 g = _mm256_maskload_ps(gate + i, m), u = _mm256_maskload_ps(up + i, m);
		_mm256_maskstore_ps(gate + i, m, LLORCH_SILU_MUL(_mm256_set1_ps, _mm256_sub_ps,
				_mm256_mul_ps, _mm256_add_ps, _mm256_div_ps, llorch_vexp256, g, u));
	}
}
