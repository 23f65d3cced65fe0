/* AVX2 attention of a tile of consecutive query rows (llorch_attn_tile),
 * for CPUs without AVX-512: the prompt's attention as two small GEMMs in
 * registers instead of a row at a time, so that a key or value row loaded
 * (and converted, for f16 and q8_0) serves many queries.
 *
 * A tile of up to 32 rows runs as halves of 16 queries. Scores are S^T
 * (n_kv, 16): key j in a row, the 16 queries in its two vectors, six keys
 * at a time as the AVX2 GEMM micro-kernel's 6 x 16 register tile (keys
 * broadcast, the transposed queries loaded); each query's softmax runs
 * down a lane. The values are weighed six queries by 16 values of the head
 * at a time, the same 6 x 16 tile. Head sizes that are not a multiple of
 * 8 take the row kernel. */
#include <math.h>
#include <immintrin.h>

#include "attn_avx2.h"
#include "vexp_avx2.h"

#define INLINE static inline __attribute__((always_inline))

#define HALF 16      /* queries per register tile */
#define KEYS 6       /* keys per score tile */
#define QGROUP 6     /* queries per value tile */
#define CHUNK 128    /* values of the head converted per key at a time */

/* Values i .. i + 7 of a cache row at p as float; for q8_0, i a multiple
 * of 8. */
INLINE __m256 load8(int kt, const void *p, int64_t i)
{
	if (kt == LLORCH_KT_Q8_0) {
		const uint8_t *b = llorch_q8_block(p, i / 32);
		return _mm256_mul_ps(llorch_q8_quants8(b, (int)(i % 32) / 8), llorch_q8_scale8(b));
	}
	return llorch_kv_load8(kt, p, i);
}

/* c0[m], c1[m] += A[m][k] * B[k][0..7], B[k][8..15] for k in 0..n-1 and m
 * in 0..mr-1: rows of A lda floats apart, B (n, 16); mr constant after
 * inlining. */
INLINE void tile16(int mr, const float *A, int64_t lda, const float *B, int64_t n, __m256 *c0,
		__m256 *c1)
{
	for (int64_t k = 0; k < n; k++) {
		__m256 b0 = _mm256_loadu_ps(B + HALF * k), b1 = _mm256_loadu_ps(B + HALF * k + 8);
#pragma GCC unroll 6
		for (int m = 0; m < mr; m++) {
			__m256 a = _mm256_broadcast_ss(A + m * lda + k);
			c0[m] = _mm256_fmadd_ps(a, b0, c0[m]);
			c1[m] = _mm256_fmadd_ps(a, b1, c1[m]);
		}
	}
}

/* Lanes (of queries pos0 .. pos0 + 15) that see key j, as a float mask:
 * query i sees keys up to pos0 + i. */
INLINE void causal_lanes(int64_t j, int64_t pos0, __m256 *m0, __m256 *m1)
{
	const __m256 iota0 = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
	const __m256 iota1 = _mm256_setr_ps(8, 9, 10, 11, 12, 13, 14, 15);
	int64_t past = j - pos0;
	__m256 p = _mm256_set1_ps((float)(past < -1 ? -1 : past > HALF ? HALF : past));

	*m0 = _mm256_cmp_ps(iota0, p, _CMP_GE_OQ);
	*m1 = _mm256_cmp_ps(iota1, p, _CMP_GE_OQ);
}

/* S rows j .. j + mr - 1 = scale * K . Qt, keys a query does not see
 * -inf; mr constant after inlining. */
INLINE void score_keys(int kt, int mr, const void *k, int64_t kv_stride, int64_t hd,
		const float *Qt, int64_t j, int64_t pos0, float scale, float *S, __m256 *max0,
		__m256 *max1)
{
	const void *kj = llorch_kv_row(kt, k, j, kv_stride);
	__m256 c0[KEYS], c1[KEYS];

#pragma GCC unroll 6
	for (int m = 0; m < mr; m++)
		c0[m] = c1[m] = _mm256_setzero_ps();
	if (kt == LLORCH_KT_F32) {
		tile16(mr, kj, kv_stride, Qt, hd, c0, c1);
	} else {
		/* the keys' values as float, CHUNK at a time, for the tile to
		 * broadcast */
		float kf[KEYS * CHUNK];
		for (int64_t d0 = 0; d0 < hd; d0 += CHUNK) {
			int64_t n = hd - d0 < CHUNK ? hd - d0 : CHUNK;
			for (int m = 0; m < mr; m++) {
				const void *row = llorch_kv_row(kt, kj, m, kv_stride);
				for (int64_t d = 0; d < n; d += 8)
					_mm256_storeu_ps(kf + CHUNK * m + d, load8(kt, row, d0 + d));
			}
			tile16(mr, kf, CHUNK, Qt + HALF * d0, n, c0, c1);
		}
	}
	const __m256 vscale = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY);
#pragma GCC unroll 6
	for (int m = 0; m < mr; m++) {
		__m256 l0, l1;
		causal_lanes(j + m, pos0, &l0, &l1);
		__m256 s0 = _mm256_blendv_ps(ninf, _mm256_mul_ps(c0[m], vscale), l0);
		__m256 s1 = _mm256_blendv_ps(ninf, _mm256_mul_ps(c1[m], vscale), l1);
		_mm256_storeu_ps(S + HALF * (j + m), s0);
		_mm256_storeu_ps(S + HALF * (j + m) + 8, s1);
		*max0 = _mm256_max_ps(*max0, s0);
		*max1 = _mm256_max_ps(*max1, s1);
	}
}

/* out rows i0 .. i0 + ng - 1, values d .. d + 15, = (P . V) * inv over
 * keys 0 .. n_kv - 1; ng constant after inlining. */
INLINE void weigh_values(int kt, int ng, const float *S, const void *v, int64_t kv_stride,
		int64_t hd, int64_t n_kv, int i0, const float *inv, float *out, int64_t out_stride)
{
	for (int64_t d = 0; d < hd; d += 16) {
		bool two = d + 8 < hd;
		__m256 a0[QGROUP], a1[QGROUP];

#pragma GCC unroll 6
		for (int g = 0; g < ng; g++)
			a0[g] = a1[g] = _mm256_setzero_ps();
		for (int64_t j = 0; j < n_kv; j++) {
			const void *vj = llorch_kv_row(kt, v, j, kv_stride);
			const float *pj = S + HALF * j + i0;
			__m256 v0 = load8(kt, vj, d), v1 = two ? load8(kt, vj, d + 8) : v0;
#pragma GCC unroll 6
			for (int g = 0; g < ng; g++) {
				__m256 p = _mm256_broadcast_ss(pj + g);
				a0[g] = _mm256_fmadd_ps(p, v0, a0[g]);
				a1[g] = _mm256_fmadd_ps(p, v1, a1[g]);
			}
		}
#pragma GCC unroll 6
		for (int g = 0; g < ng; g++) {
			float *o = out + (int64_t)(i0 + g) * out_stride + d;
			__m256 s = _mm256_broadcast_ss(inv + i0 + g);
			_mm256_storeu_ps(o, _mm256_mul_ps(a0[g], s));
			if (two)
				_mm256_storeu_ps(o + 8, _mm256_mul_ps(a1[g], s));
		}
	}
}

/* Queries pos0 .. pos0 + n_q - 1 (n_q <= HALF); scratch: Qt (hd, 16),
 * then S (pos0 + n_q, 16). */
INLINE void attn_half(int kt, const float *q, int64_t q_stride, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t pos0, int n_q, float scale, float *scratch,
		float *out, int64_t out_stride)
{
	float *Qt = scratch, *S = scratch + HALF * hd;
	int64_t n_kv = pos0 + n_q;

	/* queries past n_q are zeros: their lanes are computed, never stored */
	for (int64_t d = 0; d < hd; d++)
		for (int i = 0; i < HALF; i++)
			Qt[HALF * d + i] = i < n_q ? q[i * q_stride + d] : 0.0f;

	__m256 max0 = _mm256_set1_ps(-INFINITY), max1 = max0;
	int64_t j = 0;
	for (; j + KEYS <= n_kv; j += KEYS)
		score_keys(kt, KEYS, k, kv_stride, hd, Qt, j, pos0, scale, S, &max0, &max1);
	for (; j < n_kv; j++)
		score_keys(kt, 1, k, kv_stride, hd, Qt, j, pos0, scale, S, &max0, &max1);

	/* e = exp(s - max) down each lane, keys not seen exactly 0 (exp of
	 * -inf); four partial sums per lane keep the float sum's error small
	 * on long contexts */
	__m256 sum0[4], sum1[4];
	for (int u = 0; u < 4; u++)
		sum0[u] = sum1[u] = _mm256_setzero_ps();
	for (j = 0; j < n_kv; j++) {
		float *s = S + HALF * j;
		__m256 l0, l1;
		causal_lanes(j, pos0, &l0, &l1);
		__m256 e0 = _mm256_and_ps(l0, llorch_vexp256(_mm256_sub_ps(_mm256_loadu_ps(s), max0)));
		__m256 e1 = _mm256_and_ps(l1, llorch_vexp256(_mm256_sub_ps(_mm256_loadu_ps(s + 8),
				max1)));
		_mm256_storeu_ps(s, e0);
		_mm256_storeu_ps(s + 8, e1);
		sum0[j & 3] = _mm256_add_ps(sum0[j & 3], e0);
		sum1[j & 3] = _mm256_add_ps(sum1[j & 3], e1);
	}
	float inv[HALF];
	const __m256 one = _mm256_set1_ps(1.0f);
	_mm256_storeu_ps(inv, _mm256_div_ps(one, _mm256_add_ps(_mm256_add_ps(sum0[0], sum0[1]),
			_mm256_add_ps(sum0[2], sum0[3]))));
	_mm256_storeu_ps(inv + 8, _mm256_div_ps(one, _mm256_add_ps(_mm256_add_ps(sum1[0], sum1[1]),
			_mm256_add_ps(sum1[2], sum1[3]))));

	/* query i needs keys up to pos0 + i: later ones weigh 0 */
	for (int i0 = 0; i0 < n_q; i0 += QGROUP) {
		int ng = n_q - i0 < QGROUP ? n_q - i0 : QGROUP;
		int64_t nk = pos0 + i0 + ng;
#define WEIGH(NG) weigh_values(kt, NG, S, v, kv_stride, hd, nk, i0, inv, out, out_stride)
		LLORCH_CONST_1_TO_6(ng, WEIGH);
#undef WEIGH
	}
}

INLINE void attn_tile(int kt, const float *q, int64_t q_stride, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t pos0, int n_q, float scale, float *scratch,
		float *out, int64_t out_stride)
{
	for (int h = 0; h < n_q; h += HALF)
		attn_half(kt, q + h * q_stride, q_stride, k, v, kv_stride, hd, pos0 + h,
				n_q - h < HALF ? n_q - h : HALF, scale, scratch, out + h * out_stride,
				out_stride);
}

void llorch_attn_tile_avx2(int kt, const float *q, int64_t q_stride, const void *k,
		const void *v, int64_t kv_stride, int64_t hd, int64_t pos0, int n_q, float scale,
		float *scratch, float *out, int64_t out_stride)
{
	if (hd % 8 != 0) {
		for (int i = 0; i < n_q; i++)
			llorch_attn_row_avx2(kt, q + i * q_stride, k, v, kv_stride, hd, pos0 + i + 1,
					scale, scratch, out + i * out_stride);
	} else if (kt == LLORCH_KT_F16) {
		attn_tile(LLORCH_KT_F16, q, q_stride, k, v, kv_stride, hd, pos0, n_q, scale, scratch,
				out, out_stride);
	} else if (kt == LLORCH_KT_Q8_0) {
		attn_tile(LLORCH_KT_Q8_0, q, q_stride, k, v, kv_stride, hd, pos0, n_q, scale, scratch,
				out, out_stride);
	} else {
		attn_tile(LLORCH_KT_F32, q, q_stride, k, v, kv_stride, hd, pos0, n_q, scale, scratch,
				out, out_stride);
	}
}
