/* AVX-512 attention of one query row over one head's KV cache (see
 * llorch_attn_row): scores four keys at a time, a vector exp for the
 * softmax, and the weighted sum of values kept in registers across all keys
 * (64 values of the head per pass) instead of read and written per key.
 * The cache holds f32, f16 or q8_0 (converted as loaded: one-token decode
 * reads the whole cache per layer, so fewer bytes is what counts); each
 * body is inlined once per type so that the type is a constant. */
#include <math.h>
#include <immintrin.h>

#include "attn_impl.h"
#include "tile_avx512.h"
#include "vexp_avx512.h"

static inline __mmask16 tail_mask(int64_t n)
{
	return (__mmask16)(n <= 0 ? 0 : n >= 16 ? 0xffff : (1u << n) - 1);
}

#define INLINE static inline __attribute__((always_inline))

/* A q8_0 block's scale in every lane. */
INLINE __m512 q8_scale(const uint8_t *blk)
{
	return _mm512_cvtph_ps(_mm256_set1_epi16((short)llorch_kh_load16(blk)));
}

/* Quants 16 h .. 16 h + 15 of a q8_0 block as float, not yet scaled. */
INLINE __m512 q8_quants(const uint8_t *blk, int h)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
			_mm_loadu_si128((const __m128i *)(const void *)(blk + 2 + 16 * h))));
}

/* Cache values i .. i + 15 (lanes of m) of a row at p, as float; for q8_0,
 * i a multiple of 16 and all 16 lanes (hd is a multiple of 32). */
INLINE __m512 load_kv(int kt, const void *p, int64_t i, __mmask16 m)
{
	if (kt == LLORCH_KT_Q8_0) {
		const uint8_t *b = llorch_q8_block(p, i / 32);
		return _mm512_mul_ps(q8_quants(b, (int)(i % 32) / 16), q8_scale(b));
	}
	if (kt == LLORCH_KT_F16)
		return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i));
	return _mm512_maskz_loadu_ps(m, (const float *)p + i);
}

/* q . k over hd values, masked loads for the tail. */
INLINE float dot(int kt, const float *q, const void *k, int64_t hd)
{
	__m512 acc = _mm512_setzero_ps();

	for (int64_t d = 0; d < hd; d += 16) {
		__mmask16 m = tail_mask(hd - d);
		acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), load_kv(kt, k, d, m), acc);
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
INLINE void dot4(int kt, const float *q, const void *k, int64_t kv_stride, int64_t hd,
		float scale, float *scores)
{
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	const void *k1 = llorch_kv_row(kt, k, 1, kv_stride), *k2 = llorch_kv_row(kt, k, 2, kv_stride);
	const void *k3 = llorch_kv_row(kt, k, 3, kv_stride);

	for (int64_t d = 0; d < hd; d += 16) {
		__mmask16 m = tail_mask(hd - d);
		__m512 qv = _mm512_maskz_loadu_ps(m, q + d);
		a0 = _mm512_fmadd_ps(qv, load_kv(kt, k, d, m), a0);
		a1 = _mm512_fmadd_ps(qv, load_kv(kt, k1, d, m), a1);
		a2 = _mm512_fmadd_ps(qv, load_kv(kt, k2, d, m), a2);
		a3 = _mm512_fmadd_ps(qv, load_kv(kt, k3, d, m), a3);
	}
	_mm_storeu_ps(scores, _mm_mul_ps(reduce4(a0, a1, a2, a3), _mm_set1_ps(scale)));
}

/* dot4 for a q8_0 cache: per block of 32 values, q . quants, then times
 * the block's scale, once (a scale per 16 values doubled the kernel's
 * operations; it ran at 31 GB/s where f16 ran at 43). */
INLINE void dot4_q8(const float *q, const void *k, int64_t kv_stride, int64_t hd, float scale,
		float *scores)
{
	__m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
		_mm512_setzero_ps()};

	for (int64_t b = 0; b < hd / 32; b++) {
		__m512 q0 = _mm512_loadu_ps(q + 32 * b), q1 = _mm512_loadu_ps(q + 32 * b + 16);
#pragma GCC unroll 4
		for (int m = 0; m < 4; m++) {
			const uint8_t *blk = llorch_q8_block(llorch_kv_row(LLORCH_KT_Q8_0, k, m, kv_stride), b);
			__m512 t = _mm512_fmadd_ps(q1, q8_quants(blk, 1),
					_mm512_mul_ps(q0, q8_quants(blk, 0)));
			a[m] = _mm512_fmadd_ps(q8_scale(blk), t, a[m]);
		}
	}
	_mm_storeu_ps(scores, _mm_mul_ps(reduce4(a[0], a[1], a[2], a[3]), _mm_set1_ps(scale)));
}

/* Adds key j's weight p times its values in blocks b, b + 1 (nb of them)
 * to a[0 .. 2 nb - 1]. */
INLINE void weigh_q8_key(const void *v, int64_t kv_stride, int64_t j, int64_t b, int nb,
		float p, __m512 *a)
{
	const uint8_t *blk = llorch_q8_block(llorch_kv_row(LLORCH_KT_Q8_0, v, j, kv_stride), b);
	__m512 vp = _mm512_set1_ps(p);

#pragma GCC unroll 2
	for (int h = 0; h < nb; h++) {
		const uint8_t *bh = blk + (size_t)h * sizeof(llorch_block_q8_0);
		__m512 pd = _mm512_mul_ps(vp, q8_scale(bh));
		a[2 * h] = _mm512_fmadd_ps(pd, q8_quants(bh, 0), a[2 * h]);
		a[2 * h + 1] = _mm512_fmadd_ps(pd, q8_quants(bh, 1), a[2 * h + 1]);
	}
}

/* out values of blocks b .. b + nb - 1 (nb 1 or 2, a constant after
 * inlining, so that the accumulators stay in registers: with nb a variable
 * they went to the stack, 24.5 against 17.3 cycles per key and head).
 * Two keys a step, even and odd keys in their own accumulators: over
 * caches in DRAM 5.9-6.2 ns per key and head where one key a step took
 * 6.5-6.7. */
INLINE void weigh_q8_pass(const float *scores, const void *v, int64_t kv_stride, int64_t hd,
		int64_t n_kv, int64_t b, int nb, __m512 inv, float *out)
{
	__m512 e[4], o[4];

#pragma GCC unroll 4
	for (int u = 0; u < 4; u++)
		e[u] = o[u] = _mm512_setzero_ps();
	int64_t j = 0;
	for (; j + 2 <= n_kv; j += 2) {
		if (b == 0)
			llorch_kv_prefetch(LLORCH_KT_Q8_0, v, kv_stride, hd, j + LLORCH_KV_AHEAD_Q8,
					j + LLORCH_KV_AHEAD_Q8 + 2, n_kv);
		weigh_q8_key(v, kv_stride, j, b, nb, scores[j], e);
		weigh_q8_key(v, kv_stride, j + 1, b, nb, scores[j + 1], o);
	}
	if (j < n_kv)
		weigh_q8_key(v, kv_stride, j, b, nb, scores[j], e);
#pragma GCC unroll 4
	for (int u = 0; u < 2 * nb; u++)
		_mm512_storeu_ps(out + 32 * b + 16 * u, _mm512_mul_ps(_mm512_add_ps(e[u], o[u]), inv));
}

/* out (hd) = sum over keys of scores[j] v_j for a q8_0 cache, two blocks
 * (64 values) per pass, each block's weight p_j d made once. */
INLINE void weigh_q8(const float *scores, const void *v, int64_t kv_stride, int64_t hd,
		int64_t n_kv, __m512 inv, float *out)
{
	for (int64_t b = 0; b < hd / 32; b += 2) {
		if (b + 1 < hd / 32)
			weigh_q8_pass(scores, v, kv_stride, hd, n_kv, b, 2, inv, out);
		else
			weigh_q8_pass(scores, v, kv_stride, hd, n_kv, b, 1, inv, out);
	}
}

INLINE void attn_row(int kt, const float *q, const void *k, const void *v, int64_t kv_stride,
		int64_t hd, int64_t n_kv, float scale, float *scores, float *out)
{
	int64_t j = 0;

	llorch_kv_prefetch(kt, k, kv_stride, hd, 0, LLORCH_KV_AHEAD_OF(kt), n_kv);
	for (j = 0; j + 4 <= n_kv; j += 4) {
		llorch_kv_prefetch(kt, k, kv_stride, hd, j + LLORCH_KV_AHEAD_OF(kt), j + LLORCH_KV_AHEAD_OF(kt) + 4, n_kv);
		if (kt == LLORCH_KT_Q8_0)
			dot4_q8(q, llorch_kv_row(kt, k, j, kv_stride), kv_stride, hd, scale, scores + j);
		else
			dot4(kt, q, llorch_kv_row(kt, k, j, kv_stride), kv_stride, hd, scale, scores + j);
	}
	for (; j < n_kv; j++)
		scores[j] = dot(kt, q, llorch_kv_row(kt, k, j, kv_stride), hd) * scale;
	llorch_kv_prefetch(kt, v, kv_stride, hd, 0, LLORCH_KV_AHEAD_OF(kt), n_kv);
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
	if (kt == LLORCH_KT_Q8_0) {
		weigh_q8(scores, v, kv_stride, hd, n_kv, inv, out);
		return;
	}

	/* out, 64 values at a time, accumulated over every key in registers */
	for (int64_t d = 0; d < hd; d += 64) {
		__mmask16 m0 = tail_mask(hd - d), m1 = tail_mask(hd - d - 16);
		__mmask16 m2 = tail_mask(hd - d - 32), m3 = tail_mask(hd - d - 48);
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (j = 0; j < n_kv; j++) {
			const void *vj = llorch_kv_row(kt, v, j, kv_stride);
			__m512 p = _mm512_set1_ps(scores[j]);
			if (d == 0)
				llorch_kv_prefetch(kt, v, kv_stride, hd, j + LLORCH_KV_AHEAD, j + LLORCH_KV_AHEAD + 1, n_kv);
			a0 = _mm512_fmadd_ps(p, load_kv(kt, vj, d, m0), a0);
			a1 = _mm512_fmadd_ps(p, load_kv(kt, vj, d + 16, m1), a1);
			a2 = _mm512_fmadd_ps(p, load_kv(kt, vj, d + 32, m2), a2);
			a3 = _mm512_fmadd_ps(p, load_kv(kt, vj, d + 48, m3), a3);
		}
		_mm512_mask_storeu_ps(out + d, m0, _mm512_mul_ps(a0, inv));
		_mm512_mask_storeu_ps(out + d + 16, m1, _mm512_mul_ps(a1, inv));
		_mm512_mask_storeu_ps(out + d + 32, m2, _mm512_mul_ps(a2, inv));
		_mm512_mask_storeu_ps(out + d + 48, m3, _mm512_mul_ps(a3, inv));
	}
}

void llorch_attn_row_avx512(int kt, const float *q, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t n_kv, float scale, float *scores, float *out)
{
	if (kt == LLORCH_KT_F16)
		attn_row(LLORCH_KT_F16, q, k, v, kv_stride, hd, n_kv, scale, scores, out);
	else if (kt == LLORCH_KT_Q8_0)
		attn_row(LLORCH_KT_Q8_0, q, k, v, kv_stride, hd, n_kv, scale, scores, out);
	else
		attn_row(LLORCH_KT_F32, q, k, v, kv_stride, hd, n_kv, scale, scores, out);
}

/* ---- tiles of query rows (llorch_attn_tile) ----
 * Scores are computed as S^T (n_kv, 32): key j in a row, the tile's 32
 * queries in its two vectors, so that q . k for twelve keys at a time is
 * the GEMM micro-kernel's register tile (K rows broadcast, the transposed
 * Q tile loaded), and the softmax of each query runs down a lane. */

#define KEYS 12
#define QGROUP 6

/* Lanes of a 32-query tile that see key j: query i at pos0 + i sees keys
 * up to pos0 + i. */
static inline __mmask32 causal_lanes(int64_t j, int64_t pos0)
{
	int64_t past = j - pos0;

	return past <= 0 ? 0xffffffffu : past >= 32 ? 0 : (__mmask32)(0xffffffffu << past);
}

/* S rows j .. j + mr - 1 = scale * K . Qt, masked keys -inf; mr constant
 * after inlining. The sums over the head run in blocks of 16 values added
 * up in S: each sum rounds about as often as the row kernel's lane sums. */
INLINE void score_keys(int kt, int mr, const void *k, int64_t kv_stride, int64_t hd,
		const float *Qt, int64_t j, int64_t pos0, float scale, float *S, __m512 *max0,
		__m512 *max1)
{
	const void *kj = llorch_kv_row(kt, k, j, kv_stride);
	float *Sj = S + 32 * j;

	for (int64_t d0 = 0; d0 < hd; d0 += 16) {
		int64_t d1 = hd - d0 < 16 ? hd : d0 + 16;
		__m512 c0[KEYS], c1[KEYS];
#pragma GCC unroll 12
		for (int m = 0; m < mr; m++)
			c0[m] = c1[m] = _mm512_setzero_ps();
		if (kt != LLORCH_KT_F32) {
			/* the keys' 16 values as float, for the tile to broadcast */
			float kf[KEYS * 16];
			__mmask16 dm = tail_mask(d1 - d0);
#pragma GCC unroll 12
			for (int m = 0; m < mr; m++)
				_mm512_storeu_ps(kf + 16 * m, load_kv(kt, llorch_kv_row(kt, kj, m, kv_stride), d0, dm));
			llorch_tile32(mr, kf, 16, Qt + 32 * d0, 0, d1 - d0, c0, c1);
		} else {
			llorch_tile32(mr, kj, kv_stride, Qt, d0, d1, c0, c1);
		}
		if (d0 > 0) {
#pragma GCC unroll 12
			for (int m = 0; m < mr; m++) {
				c0[m] = _mm512_add_ps(_mm512_loadu_ps(Sj + 32 * m), c0[m]);
				c1[m] = _mm512_add_ps(_mm512_loadu_ps(Sj + 32 * m + 16), c1[m]);
			}
		}
		if (d1 < hd) {
#pragma GCC unroll 12
			for (int m = 0; m < mr; m++) {
				_mm512_storeu_ps(Sj + 32 * m, c0[m]);
				_mm512_storeu_ps(Sj + 32 * m + 16, c1[m]);
			}
			continue;
		}
		const __m512 vscale = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 12
		for (int m = 0; m < mr; m++) {
			__mmask32 lanes = causal_lanes(j + m, pos0);
			__m512 s0 = _mm512_mask_mul_ps(ninf, (__mmask16)lanes, c0[m], vscale);
			__m512 s1 = _mm512_mask_mul_ps(ninf, (__mmask16)(lanes >> 16), c1[m], vscale);
			_mm512_storeu_ps(Sj + 32 * m, s0);
			_mm512_storeu_ps(Sj + 32 * m + 16, s1);
			*max0 = _mm512_max_ps(*max0, s0);
			*max1 = _mm512_max_ps(*max1, s1);
		}
	}
}

/* out rows i0 .. i0 + ng - 1 = (P . V) / sum over keys 0 .. n_kv - 1, 64
 * values of the head per pass in registers; ng constant after inlining. */
INLINE void weigh_values(int kt, int ng, const float *S, const void *v, int64_t kv_stride,
		int64_t hd, int64_t n_kv, int i0, const float *inv, float *out, int64_t out_stride)
{
	for (int64_t d = 0; d < hd; d += 64) {
		__mmask16 m0 = tail_mask(hd - d), m1 = tail_mask(hd - d - 16);
		__mmask16 m2 = tail_mask(hd - d - 32), m3 = tail_mask(hd - d - 48);
		__m512 a0[QGROUP], a1[QGROUP], a2[QGROUP], a3[QGROUP];

#pragma GCC unroll 6
		for (int g = 0; g < ng; g++) {
			a0[g] = _mm512_setzero_ps();
			a1[g] = a0[g];
			a2[g] = a0[g];
			a3[g] = a0[g];
		}
		for (int64_t j = 0; j < n_kv; j++) {
			const void *vj = llorch_kv_row(kt, v, j, kv_stride);
			const float *pj = S + 32 * j + i0;
			__m512 v0 = load_kv(kt, vj, d, m0), v1 = load_kv(kt, vj, d + 16, m1);
			__m512 v2 = load_kv(kt, vj, d + 32, m2), v3 = load_kv(kt, vj, d + 48, m3);
#pragma GCC unroll 6
			for (int g = 0; g < ng; g++) {
				__m512 p = _mm512_set1_ps(pj[g]);
				a0[g] = _mm512_fmadd_ps(p, v0, a0[g]);
				a1[g] = _mm512_fmadd_ps(p, v1, a1[g]);
				a2[g] = _mm512_fmadd_ps(p, v2, a2[g]);
				a3[g] = _mm512_fmadd_ps(p, v3, a3[g]);
			}
		}
#pragma GCC unroll 6
		for (int g = 0; g < ng; g++) {
			float *o = out + (int64_t)(i0 + g) * out_stride + d;
			__m512 s = _mm512_set1_ps(inv[i0 + g]);
			_mm512_mask_storeu_ps(o, m0, _mm512_mul_ps(a0[g], s));
			_mm512_mask_storeu_ps(o + 16, m1, _mm512_mul_ps(a1[g], s));
			_mm512_mask_storeu_ps(o + 32, m2, _mm512_mul_ps(a2[g], s));
			_mm512_mask_storeu_ps(o + 48, m3, _mm512_mul_ps(a3[g], s));
		}
	}
}

/* weigh_values for a q8_0 cache, QGROUP_Q8 queries and one block (32
 * values) per pass: a block's conversion (scale, two widenings, two
 * multiplies) serves twice the queries it does in weigh_values, where it
 * had made pp512 of GPT-2 q8_0 10% slower than with an f16 cache. */
#define QGROUP_Q8 12

INLINE void weigh_values_q8(const float *S, const void *v, int64_t kv_stride, int64_t hd,
		int64_t n_kv, int i0, const float *inv, float *out, int64_t out_stride)
{
	for (int64_t b = 0; b < hd / 32; b++) {
		__m512 a0[QGROUP_Q8], a1[QGROUP_Q8];

#pragma GCC unroll 12
		for (int g = 0; g < QGROUP_Q8; g++)
			a0[g] = a1[g] = _mm512_setzero_ps();
		for (int64_t j = 0; j < n_kv; j++) {
			const uint8_t *blk = llorch_q8_block(llorch_kv_row(LLORCH_KT_Q8_0, v, j, kv_stride), b);
			const float *pj = S + 32 * j + i0;
			__m512 d = q8_scale(blk);
			__m512 v0 = _mm512_mul_ps(q8_quants(blk, 0), d);
			__m512 v1 = _mm512_mul_ps(q8_quants(blk, 1), d);
#pragma GCC unroll 12
			for (int g = 0; g < QGROUP_Q8; g++) {
				__m512 p = _mm512_set1_ps(pj[g]);
				a0[g] = _mm512_fmadd_ps(p, v0, a0[g]);
				a1[g] = _mm512_fmadd_ps(p, v1, a1[g]);
			}
		}
#pragma GCC unroll 12
		for (int g = 0; g < QGROUP_Q8; g++) {
			float *o = out + (int64_t)(i0 + g) * out_stride + 32 * b;
			__m512 sc = _mm512_set1_ps(inv[i0 + g]);
			_mm512_storeu_ps(o, _mm512_mul_ps(a0[g], sc));
			_mm512_storeu_ps(o + 16, _mm512_mul_ps(a1[g], sc));
		}
	}
}

INLINE void attn_tile(int kt, const float *q, int64_t q_stride, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t pos0, int n_q, float scale, float *scratch,
		float *out, int64_t out_stride)
{
	float *Qt = scratch, *S = scratch + 32 * hd;  /* (hd, 32), (n_kv, 32) */
	int64_t n_kv = pos0 + n_q;
	const void *rows[32];

	for (int i = 0; i < 32; i++)
		rows[i] = i < n_q ? q + i * q_stride : NULL;
	llorch_pack16_avx512(LLORCH_KT_F32, rows, hd, Qt);
	llorch_pack16_avx512(LLORCH_KT_F32, rows + 16, hd, Qt + 16);

	__m512 max0 = _mm512_set1_ps(-INFINITY), max1 = max0;
	int64_t j = 0;
	for (; j + KEYS <= n_kv; j += KEYS)
		score_keys(kt, KEYS, k, kv_stride, hd, Qt, j, pos0, scale, S, &max0, &max1);
	for (; j < n_kv; j++)
		score_keys(kt, 1, k, kv_stride, hd, Qt, j, pos0, scale, S, &max0, &max1);

	/* e = exp(s - max) down each lane, masked keys exactly 0; four partial
	 * sums per lane keep the float sum's error small on long contexts */
	__m512 sum0[4], sum1[4];
	for (int u = 0; u < 4; u++)
		sum0[u] = sum1[u] = _mm512_setzero_ps();
	for (j = 0; j < n_kv; j++) {
		__mmask32 lanes = causal_lanes(j, pos0);
		float *s = S + 32 * j;
		__m512 e0 = _mm512_maskz_mov_ps((__mmask16)lanes,
				llorch_vexp512(_mm512_sub_ps(_mm512_loadu_ps(s), max0)));
		__m512 e1 = _mm512_maskz_mov_ps((__mmask16)(lanes >> 16),
				llorch_vexp512(_mm512_sub_ps(_mm512_loadu_ps(s + 16), max1)));
		_mm512_storeu_ps(s, e0);
		_mm512_storeu_ps(s + 16, e1);
		sum0[j & 3] = _mm512_add_ps(sum0[j & 3], e0);
		sum1[j & 3] = _mm512_add_ps(sum1[j & 3], e1);
	}
	float inv[32];
	_mm512_storeu_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(
			_mm512_add_ps(sum0[0], sum0[1]), _mm512_add_ps(sum0[2], sum0[3]))));
	_mm512_storeu_ps(inv + 16, _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(
			_mm512_add_ps(sum1[0], sum1[1]), _mm512_add_ps(sum1[2], sum1[3]))));

	/* query i needs keys up to pos0 + i: later ones weigh 0 */
	int i0 = 0;
	if (kt == LLORCH_KT_Q8_0)
		for (; i0 + QGROUP_Q8 <= n_q; i0 += QGROUP_Q8)
			weigh_values_q8(S, v, kv_stride, hd, pos0 + i0 + QGROUP_Q8, i0, inv, out,
					out_stride);
	for (; i0 < n_q; i0 += QGROUP) {
		int ng = n_q - i0 < QGROUP ? n_q - i0 : QGROUP;
		int64_t nk = pos0 + i0 + ng;
#define WEIGH(NG) weigh_values(kt, NG, S, v, kv_stride, hd, nk, i0, inv, out, out_stride)
		LLORCH_CONST_1_TO_6(ng, WEIGH);
#undef WEIGH
	}
}

void llorch_attn_tile_avx512(int kt, const float *q, int64_t q_stride, const void *k,
		const void *v, int64_t kv_stride, int64_t hd, int64_t pos0, int n_q, float scale,
		float *scratch, float *out, int64_t out_stride)
{
	if (kt == LLORCH_KT_F16)
		attn_tile(LLORCH_KT_F16, q, q_stride, k, v, kv_stride, hd, pos0, n_q, scale, scratch,
				out, out_stride);
	else if (kt == LLORCH_KT_Q8_0)
		attn_tile(LLORCH_KT_Q8_0, q, q_stride, k, v, kv_stride, hd, pos0, n_q, scale, scratch,
				out, out_stride);
	else
		attn_tile(LLORCH_KT_F32, q, q_stride, k, v, kv_stride, hd, pos0, n_q, scale, scratch,
				out, out_stride);
}
