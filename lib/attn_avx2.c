/* AVX2 attention of one query row over one head's KV cache (see
 * llorch_attn_row), the AVX-512 kernel's shape 8 floats wide: scores four
 * keys at a time, a vector exp for the softmax, and the weighted sum of
 * values kept in registers across all keys, 32 values of the head per
 * pass. The cache holds f32, f16 or q8_0, converted as loaded (q8_0: each
 * block's sum scaled once); each body is inlined once per type. Head sizes
 * that are not a multiple of 8 take the scalar kernel. */
#include <math.h>
#include <immintrin.h>

#include "attn_avx2.h"
#include "vexp_avx2.h"

#define INLINE static inline __attribute__((always_inline))

/* q . k over one q8_0 block of k (32 values), scaled by its d. */
INLINE __m256 q8_dot_block(const float *q, const uint8_t *blk)
{
	__m256 t = _mm256_mul_ps(_mm256_loadu_ps(q), llorch_q8_quants8(blk, 0));

	t = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8), llorch_q8_quants8(blk, 1), t);
	t = _mm256_fmadd_ps(_mm256_loadu_ps(q + 16), llorch_q8_quants8(blk, 2), t);
	t = _mm256_fmadd_ps(_mm256_loadu_ps(q + 24), llorch_q8_quants8(blk, 3), t);
	return _mm256_mul_ps(t, llorch_q8_scale8(blk));
}

/* The lane sums of four vectors, as one. */
INLINE __m128 reduce4(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
	__m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));

	return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* scores[j .. j + n - 1] (n 1 or 4, a constant after inlining) = scale *
 * q . k_j, each load of q serving the n keys. */
INLINE void score_keys(int kt, int n, const float *q, const void *k, int64_t kv_stride,
		int64_t hd, float scale, float *scores)
{
	const void *k1 = llorch_kv_row(kt, k, n > 1 ? 1 : 0, kv_stride);
	const void *k2 = llorch_kv_row(kt, k, n > 2 ? 2 : 0, kv_stride);
	const void *k3 = llorch_kv_row(kt, k, n > 3 ? 3 : 0, kv_stride);
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;

	if (kt == LLORCH_KT_Q8_0) {
		for (int64_t b = 0; b < hd / 32; b++) {
			a0 = _mm256_add_ps(a0, q8_dot_block(q + 32 * b, llorch_q8_block(k, b)));
			if (n > 1) {
				a1 = _mm256_add_ps(a1, q8_dot_block(q + 32 * b, llorch_q8_block(k1, b)));
				a2 = _mm256_add_ps(a2, q8_dot_block(q + 32 * b, llorch_q8_block(k2, b)));
				a3 = _mm256_add_ps(a3, q8_dot_block(q + 32 * b, llorch_q8_block(k3, b)));
			}
		}
	} else {
		for (int64_t d = 0; d < hd; d += 8) {
			__m256 qv = _mm256_loadu_ps(q + d);
			a0 = _mm256_fmadd_ps(qv, llorch_kv_load8(kt, k, d), a0);
			if (n > 1) {
				a1 = _mm256_fmadd_ps(qv, llorch_kv_load8(kt, k1, d), a1);
				a2 = _mm256_fmadd_ps(qv, llorch_kv_load8(kt, k2, d), a2);
				a3 = _mm256_fmadd_ps(qv, llorch_kv_load8(kt, k3, d), a3);
			}
		}
	}
	if (n > 1)
		_mm_storeu_ps(scores, _mm_mul_ps(reduce4(a0, a1, a2, a3), _mm_set1_ps(scale)));
	else
		scores[0] = llorch_hsum8(a0) * scale;
}

/* out[d0 .. d0 + 8 nv - 1] = inv * sum over keys of scores[j] v_j (nv 1 or
 * 4 vectors, a constant after inlining, so that the accumulators stay in
 * registers); for q8_0, d0 a multiple of 32 and nv 4: one block. */
INLINE void weigh(int kt, int nv, const float *scores, const void *v, int64_t kv_stride,
		int64_t hd, int64_t n_kv, int64_t d0, __m256 inv, float *out)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;

	for (int64_t j = 0; j < n_kv; j++) {
		const void *vj = llorch_kv_row(kt, v, j, kv_stride);
		__m256 p = _mm256_set1_ps(scores[j]);
		if (d0 == 0)
			llorch_kv_prefetch(kt, v, kv_stride, hd, j + LLORCH_KV_AHEAD_OF(kt), j + LLORCH_KV_AHEAD_OF(kt) + 1,
					n_kv);
		if (kt == LLORCH_KT_Q8_0) {
			const uint8_t *blk = llorch_q8_block(vj, d0 / 32);
			__m256 pd = _mm256_mul_ps(p, llorch_q8_scale8(blk));
			a0 = _mm256_fmadd_ps(pd, llorch_q8_quants8(blk, 0), a0);
			a1 = _mm256_fmadd_ps(pd, llorch_q8_quants8(blk, 1), a1);
			a2 = _mm256_fmadd_ps(pd, llorch_q8_quants8(blk, 2), a2);
			a3 = _mm256_fmadd_ps(pd, llorch_q8_quants8(blk, 3), a3);
		} else {
			a0 = _mm256_fmadd_ps(p, llorch_kv_load8(kt, vj, d0), a0);
			if (nv > 1) {
				a1 = _mm256_fmadd_ps(p, llorch_kv_load8(kt, vj, d0 + 8), a1);
				a2 = _mm256_fmadd_ps(p, llorch_kv_load8(kt, vj, d0 + 16), a2);
				a3 = _mm256_fmadd_ps(p, llorch_kv_load8(kt, vj, d0 + 24), a3);
			}
		}
	}
	_mm256_storeu_ps(out + d0, _mm256_mul_ps(a0, inv));
	if (nv > 1) {
		_mm256_storeu_ps(out + d0 + 8, _mm256_mul_ps(a1, inv));
		_mm256_storeu_ps(out + d0 + 16, _mm256_mul_ps(a2, inv));
		_mm256_storeu_ps(out + d0 + 24, _mm256_mul_ps(a3, inv));
	}
}

INLINE void attn_row(int kt, const float *q, const void *k, const void *v, int64_t kv_stride,
		int64_t hd, int64_t n_kv, float scale, float *scores, float *out)
{
	int64_t j;

	llorch_kv_prefetch(kt, k, kv_stride, hd, 0, LLORCH_KV_AHEAD_OF(kt), n_kv);
	for (j = 0; j + 4 <= n_kv; j += 4) {
		llorch_kv_prefetch(kt, k, kv_stride, hd, j + LLORCH_KV_AHEAD_OF(kt), j + LLORCH_KV_AHEAD_OF(kt) + 4, n_kv);
		score_keys(kt, 4, q, llorch_kv_row(kt, k, j, kv_stride), kv_stride, hd, scale, scores + j);
	}
	for (; j < n_kv; j++)
		score_keys(kt, 1, q, llorch_kv_row(kt, k, j, kv_stride), kv_stride, hd, scale, scores + j);
	llorch_kv_prefetch(kt, v, kv_stride, hd, 0, LLORCH_KV_AHEAD_OF(kt), n_kv);

	/* the maximum 8 wide (fmaxf was a libm call a score) */
	__m256 vmax = _mm256_set1_ps(-INFINITY), vsum = _mm256_setzero_ps();
	for (j = 0; j + 8 <= n_kv; j += 8)
		vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(scores + j));
	__m128 h = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
	h = _mm_max_ps(h, _mm_movehl_ps(h, h));
	float max = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
	for (; j < n_kv; j++)
		max = scores[j] > max ? scores[j] : max;
	vmax = _mm256_set1_ps(max);
	for (j = 0; j + 8 <= n_kv; j += 8) {
		__m256 e = llorch_vexp256(_mm256_sub_ps(_mm256_loadu_ps(scores + j), vmax));
		_mm256_storeu_ps(scores + j, e);
		vsum = _mm256_add_ps(vsum, e);
	}
	float sum = llorch_hsum8(vsum);
	for (; j < n_kv; j++) {
		scores[j] = expf(scores[j] - max);
		sum += scores[j];
	}
	__m256 inv = _mm256_set1_ps(1.0f / sum);

	int64_t d = 0;
	for (; d + 32 <= hd; d += 32)
		weigh(kt, 4, scores, v, kv_stride, hd, n_kv, d, inv, out);
	for (; d < hd; d += 8)
		weigh(kt, 1, scores, v, kv_stride, hd, n_kv, d, inv, out);
}

void llorch_attn_row_avx2(int kt, const float *q, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t n_kv, float scale, float *scores, float *out)
{
	if (hd % 8 != 0)
		llorch_attn_row_scalar(kt, q, k, v, kv_stride, hd, n_kv, scale, scores, out);
	else if (kt == LLORCH_KT_F16)
		attn_row(LLORCH_KT_F16, q, k, v, kv_stride, hd, n_kv, scale, scores, out);
	else if (kt == LLORCH_KT_Q8_0)
		attn_row(LLORCH_KT_Q8_0, q, k, v, kv_stride, hd, n_kv, scale, scores, out);
	else
		attn_row(LLORCH_KT_F32, q, k, v, kv_stride, hd, n_kv, scale, scores, out);
}
