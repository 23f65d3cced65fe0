/* AVX-512 element-wise kernels: residual adds, the norms, the
 * activations of the feed-forward block: GELU (tanh form) and
 * SiLU(gate) * up, through the vector exp instead of libm's tanhf/expf,
 * which dominated GPT-2 prompts after the matrix products; and the f16
 * conversion of the rows an f16 KV cache stores. */
#include <immintrin.h>
#include <math.h>

#include "kernels_impl.h"
#include "act_formula.h"
#include "vexp_avx512.h"

static inline __mmask16 tail_mask(int64_t n)
{
	return (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
}

void llorch_gelu_avx512(float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 v = _mm512_maskz_loadu_ps(m, x + i);
		_mm512_mask_storeu_ps(x + i, m, LLORCH_GELU(_mm512_set1_ps, _mm512_mul_ps,
				_mm512_fmadd_ps, _mm512_add_ps, _mm512_div_ps, llorch_vexp512, v));
	}
}

void llorch_silu_mul_avx512(float *gate, const float *up, int64_t n)
{
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 g = _mm512_maskz_loadu_ps(m, gate + i), u = _mm512_maskz_loadu_ps(m, up + i);
		_mm512_mask_storeu_ps(gate + i, m, LLORCH_SILU_MUL(_mm512_set1_ps, _mm512_sub_ps,
				_mm512_mul_ps, _mm512_add_ps, _mm512_div_ps, llorch_vexp512, g, u));
	}
}

/* vmaxps returns its second operand when the first is NaN: NaN skipped */
float llorch_max_avx512(const float *x, int64_t n)
{
	const __m512 ninf = _mm512_set1_ps(-INFINITY);
	__m512 m0 = ninf, m1 = ninf;
	int64_t i = 0;

	for (; i + 32 <= n; i += 32) {
		m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
		m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
	}
	for (; i < n; i += 16)
		m0 = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i), m0);
	return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

/* Summed in double, 8 lanes of each half, as the scalar kernel sums in
 * double: 50k terms in float would lose digits of the log-probabilities. */
double llorch_sum_exp_avx512(const float *x, int64_t n, float mx)
{
	const __m512 m = _mm512_set1_ps(mx), ninf = _mm512_set1_ps(-INFINITY);
	__m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();

	for (int64_t i = 0; i < n; i += 16) {
		__m512 v = _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i);
		/* false for NaN and -inf, which add nothing */
		__mmask16 live = _mm512_cmp_ps_mask(v, ninf, _CMP_GT_OQ);
		__m512 e = _mm512_maskz_mov_ps(live, llorch_vexp512(_mm512_sub_ps(v, m)));
		s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
		s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
	}
	return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

int64_t llorch_find_above_avx512(const float *x, int64_t n, float bar)
{
	const __m512 b = _mm512_set1_ps(bar);
	int64_t i = 0;

	for (; i + 32 <= n; i += 32) {
		__mmask16 m0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), b, _CMP_GT_OQ);
		__mmask16 m1 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 16), b, _CMP_GT_OQ);
		if (m0 | m1)
			return i + (m0 ? __builtin_ctz(m0) : 16 + __builtin_ctz(m1));
	}
	for (; i < n; i += 16) {
		__mmask16 m = _mm512_mask_cmp_ps_mask(tail_mask(n - i),
				_mm512_maskz_loadu_ps(tail_mask(n - i), x + i), b, _CMP_GT_OQ);
		if (m)
			return i + __builtin_ctz(m);
	}
	return n;
}

/* vcvtps2ph rounds to nearest even and keeps subnormals, as
 * llorch_fp32_to_fp16 does: the same bits at every level. */
void llorch_to_f16_avx512(const float *src, uint16_t *dst, int64_t n)
{
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i),
				_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
		_mm256_mask_storeu_epi16(dst + i, m, h);
	}
}

void llorch_add_avx512(float *x, const float *b, int64_t n)
{
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		_mm512_mask_storeu_ps(x + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i),
				_mm512_maskz_loadu_ps(m, b + i)));
	}
}

/* sum (x_i - c)^p over x (n) in double, p 1 or 2 (c subtracted for p 2 only),
 * eight lanes of each half of a vector. */
static double sum_pd(const float *x, int64_t n, double c, int p)
{
	__m512d s0 = _mm512_setzero_pd(), s1 = s0, vc = _mm512_set1_pd(c);

	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 v = _mm512_maskz_loadu_ps(m, x + i);
		__m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
		__m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
		if (p == 2) {
			lo = _mm512_maskz_sub_pd((__mmask8)m, lo, vc);
			hi = _mm512_maskz_sub_pd((__mmask8)(m >> 8), hi, vc);
			s0 = _mm512_fmadd_pd(lo, lo, s0);
			s1 = _mm512_fmadd_pd(hi, hi, s1);
		} else {
			s0 = _mm512_add_pd(s0, lo);
			s1 = _mm512_add_pd(s1, hi);
		}
	}
	return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

/* As llorch_layernorm_scalar: the mean, then the centred variance, in
 * double; the scaling in float in the same order, so that only the sums'
 * last bits can differ. */
void llorch_layernorm_avx512(float *y, const float *x, const float *w, const float *b,
		int64_t n, float eps)
{
	double mean = sum_pd(x, n, 0, 1) / (double)n;
	double var = sum_pd(x, n, mean, 2) / (double)n;
	__m512 inv = _mm512_set1_ps((float)(1.0 / sqrt(var + eps))), vm = _mm512_set1_ps((float)mean);

	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm),
				inv), _mm512_maskz_loadu_ps(m, w + i));
		if (b)
			v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, b + i));
		_mm512_mask_storeu_ps(y + i, m, v);
	}
}

void llorch_rmsnorm_avx512(float *y, const float *x, const float *w, int64_t n, float eps)
{
	double ss = sum_pd(x, n, 0, 2);
	__m512 inv = _mm512_set1_ps((float)(1.0 / sqrt(ss / (double)n + eps)));

	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		_mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_mul_ps(
				_mm512_maskz_loadu_ps(m, x + i), inv), _mm512_maskz_loadu_ps(m, w + i)));
	}
}
