/* Loads of KV cache values at AVX2 width, shared by the row and tile
 * attention kernels (attn_avx2.c, attn_tile_avx2.c); include only from
 * *_avx2.c. */
#ifndef LLORCH_ATTN_AVX2_H
#define LLORCH_ATTN_AVX2_H

#include <immintrin.h>

#include "attn_impl.h"

/* Values i .. i + 7 of an f32 or f16 row at p, as float. */
static inline __attribute__((always_inline)) __m256 llorch_kv_load8(int kt, const void *p,
		int64_t i)
{
	if (kt == LLORCH_KT_F16)
		return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)
				((const uint16_t *)p + i)));
	return _mm256_loadu_ps((const float *)p + i);
}

/* A q8_0 block's scale in every lane; its quants 8 h .. 8 h + 7 as
 * float, not yet scaled. */
static inline __attribute__((always_inline)) __m256 llorch_q8_scale8(const uint8_t *blk)
{
	return _mm256_set1_ps(_cvtsh_ss(llorch_kh_load16(blk)));
}

static inline __attribute__((always_inline)) __m256 llorch_q8_quants8(const uint8_t *blk, int h)
{
	return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
			_mm_loadl_epi64((const __m128i *)(const void *)(blk + 2 + 8 * h))));
}

#endif
