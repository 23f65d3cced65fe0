/* AVX2 element-wise kernels, as act_avx512.c's 8 wide: the activations of
 * the feed-forward block, GELU (tanh form) and SiLU(gate) * up, through the
 * 8-wide vector exp instead of libm's tanhf, expm1f and expf (at the AVX2
 * level those took a fifth of a GPT-2 q8_0 pp512, perf); residual adds
 * and the norms (3% of it). The tail goes through the same vector code,
 * masked, so that a value's result does not depend on where it sits in
 * the array. */
#include <immintrin.h>
#include <math.h>

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

void llorch_add_avx2(float *x, const float *b, int64_t n)
{
	for (int64_t i = 0; i < n; i += 8) {
		__m256i m = tail_mask8(n - i);
		_mm256_maskstore_ps(x + i, m, _mm256_add_ps(_mm256_maskload_ps(x + i, m),
				_mm256_maskload_ps(b + i, m)));
	}
}

/* sum (x_i - c)^p over x (n) in double, p 1 or 2 (c subtracted for p 2
 * only), four lanes of each half of a vector; masked lanes load 0 and, for
 * p 2, are masked after the subtraction. */
static double sum_pd(const float *x, int64_t n, double c, int p)
{
	__m256d s0 = _mm256_setzero_pd(), s1 = s0, vc = _mm256_set1_pd(c);

	for (int64_t i = 0; i < n; i += 8) {
		__m256i m = tail_mask8(n - i);
		__m256 v = _mm256_maskload_ps(x + i, m);
		__m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
		__m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
		if (p == 2) {
			__m256d mlo = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)));
			__m256d mhi = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1)));
			lo = _mm256_and_pd(mlo, _mm256_sub_pd(lo, vc));
			hi = _mm256_and_pd(mhi, _mm256_sub_pd(hi, vc));
			s0 = _mm256_fmadd_pd(lo, lo, s0);
			s1 = _mm256_fmadd_pd(hi, hi, s1);
		} else {
			s0 = _mm256_add_pd(s0, lo);
			s1 = _mm256_add_pd(s1, hi);
		}
	}
	__m256d t = _mm256_add_pd(s0, s1);
	__m128d h = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));
	return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

void llorch_layernorm_avx2(float *y, const float *x, const float *w, const float *b,
		int64_t n, float eps)
{
	double mean = sum_pd(x, n, 0, 1) / (double)n;
	double var = sum_pd(x, n, mean, 2) / (double)n;
	__m256 inv = _mm256_set1_ps((float)(1.0 / sqrt(var + eps))), vm = _mm256_set1_ps((float)mean);

	for (int64_t i = 0; i < n; i += 8) {
		__m256i m = tail_mask8(n - i);
		__m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm),
				inv), _mm256_maskload_ps(w + i, m));
		if (b)
			v = _mm256_add_ps(v, _mm256_maskload_ps(b + i, m));
		_mm256_maskstore_ps(y + i, m, v);
	}
}

void llorch_rmsnorm_avx2(float *y, const float *x, const float *w, int64_t n, float eps)
{
	double ss = sum_pd(x, n, 0, 2);
	__m256 inv = _mm256_set1_ps((float)(1.0 / sqrt(ss / (double)n + eps)));

	for (int64_t i = 0; i < n; i += 8) {
		__m256i m = tail_mask8(n - i);
		_mm256_maskstore_ps(y + i, m, _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(x + i, m),
				inv), _mm256_maskload_ps(w + i, m)));
	}
}
