/* AVX-512 activations of the feed-forward block: GELU (tanh form) and
 * SiLU(gate) * up, through the vector exp instead of libm's tanhf/expf,
 * which dominated GPT-2 prompts after the matrix products. */
#include <immintrin.h>

#include "kernels_impl.h"
#include "vexp_avx512.h"

static inline __mmask16 tail_mask(int64_t n)
{
	return (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
}

/* 0.5 x (1 + tanh(u)) = x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3) */
void llorch_gelu_avx512(float *x, int64_t n)
{
	const __m512 c = _mm512_set1_ps(-2.0f * 0.79788456080286535588f);
	const __m512 a = _mm512_set1_ps(0.044715f), one = _mm512_set1_ps(1.0f);

	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 v = _mm512_maskz_loadu_ps(m, x + i);
		__m512 u = _mm512_mul_ps(v, _mm512_fmadd_ps(_mm512_mul_ps(a, v), v, one));
		__m512 e = llorch_vexp512(_mm512_mul_ps(c, u));
		_mm512_mask_storeu_ps(x + i, m, _mm512_div_ps(v, _mm512_add_ps(one, e)));
	}
}

/* gate / (1 + e^-gate) * up */
void llorch_silu_mul_avx512(float *gate, const float *up, int64_t n)
{
	const __m512 one = _mm512_set1_ps(1.0f);

	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 g = _mm512_maskz_loadu_ps(m, gate + i);
		__m512 e = llorch_vexp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
		__m512 s = _mm512_div_ps(g, _mm512_add_ps(one, e));
		_mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, up + i)));
	}
}
