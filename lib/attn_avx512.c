/* AVX-512 attention of one query row over one head's KV cache (see
 * llorch_attn_row): scores four keys at a time, a vector exp for the
 * softmax, and the weighted sum of values kept in registers across all keys
 * (64 values of the head per pass) instead of read and written per key. */
#include <math.h>
#include <immintrin.h>

#include "kernels_impl.h"
#include "vexp_avx512.h"

static inline __mmask16 tail_mask(int64_t n)
{
	return (__mmask16)(n <= 0 ? 0 : n >= 16 ? 0xffff : (1u << n) - 1);
}

/* q . k over hd values, masked loads for the tail. */
static inline float dot(const float *q, const float *k, int64_t hd)
{
	__m512 acc = _mm512_setzero_ps();

	for (int64_t d = 0; d < hd; d += 16) {
		__mmask16 m = tail_mask(hd - d);
		acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), _mm512_maskz_loadu_ps(m, k + d), acc);
	}
	return _mm512_reduce_add_ps(acc);
}

/* The lane sums of four vectors, as one: cheaper than four reductions. */
static inline __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
	__m256 b0 = _mm256_add_ps(_mm512_castps512_ps256(a0), _mm512_extractf32x8_ps(a0, 1));
	__m256 b1 = _mm256_add_ps(_mm512_castps512_ps256(a1), _mm512_extractf32x8_ps(a1, 1));
	__m256 b2 = _mm256_add_ps(_mm512_castps512_ps256(a2), _mm512_extractf32x8_ps(a2, 1));
	__m256 b3 = _mm256_add_ps(_mm512_castps512_ps256(a3), _mm512_extractf32x8_ps(a3, 1));
	__m256 h = _mm256_hadd_ps(_mm256_hadd_ps(b0, b1), _mm256_hadd_ps(b2, b3));
	return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* scores[j..j+3] = scale * q . k_j for four keys, each load of q serving
 * four keys. */
static inline void dot4(const float *q, const float *k, int64_t kv_stride, int64_t hd,
		float scale, float *scores)
{
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;

	for (int64_t d = 0; d < hd; d += 16) {
		__mmask16 m = tail_mask(hd - d);
		__m512 qv = _mm512_maskz_loadu_ps(m, q + d);
		a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + d), a0);
		a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + kv_stride + d), a1);
		a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + 2 * kv_stride + d), a2);
		a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + 3 * kv_stride + d), a3);
	}
	_mm_storeu_ps(scores, _mm_mul_ps(reduce4(a0, a1, a2, a3), _mm_set1_ps(scale)));
}

void llorch_attn_row_avx512(const float *q, const float *k, const float *v, int64_t kv_stride,
		int64_t hd, int64_t n_kv, float scale, float *scores, float *out)
{
	int64_t j = 0;

	for (; j + 4 <= n_kv; j += 4)
		dot4(q, k + j * kv_stride, kv_stride, hd, scale, scores + j);
	for (; j < n_kv; j++)
		scores[j] = dot(q, k + j * kv_stride, hd) * scale;
	__m512 vmax = _mm512_set1_ps(-INFINITY);
	for (j = 0; j < n_kv; j += 16)
		vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, tail_mask(n_kv - j), scores + j));
	vmax = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));

	__m512 vsum = _mm512_setzero_ps();
	for (j = 0; j < n_kv; j += 16) {
		__mmask16 m = tail_mask(n_kv - j);
		__m512 e = llorch_vexp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + j), vmax));
		e = _mm512_maskz_mov_ps(m, e);
		_mm512_mask_storeu_ps(scores + j, m, e);
		vsum = _mm512_add_ps(vsum, e);
	}
	__m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));

	/* out, 64 values at a time, accumulated over every key in registers */
	for (int64_t d = 0; d < hd; d += 64) {
		__mmask16 m0 = tail_mask(hd - d), m1 = tail_mask(hd - d - 16);
		__mmask16 m2 = tail_mask(hd - d - 32), m3 = tail_mask(hd - d - 48);
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (j = 0; j < n_kv; j++) {
			const float *vj = v + j * kv_stride + d;
			__m512 p = _mm512_set1_ps(scores[j]);
			a0 = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(m0, vj), a0);
			a1 = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(m1, vj + 16), a1);
			a2 = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(m2, vj + 32), a2);
			a3 = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(m3, vj + 48), a3);
		}
		_mm512_mask_storeu_ps(out + d, m0, _mm512_mul_ps(a0, inv));
		_mm512_mask_storeu_ps(out + d + 16, m1, _mm512_mul_ps(a1, inv));
		_mm512_mask_storeu_ps(out + d + 32, m2, _mm512_mul_ps(a2, inv));
		_mm512_mask_storeu_ps(out + d + 48, m3, _mm512_mul_ps(a3, inv));
	}
}
