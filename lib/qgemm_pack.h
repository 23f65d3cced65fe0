/* The packed weight panel of the integer prompt GEMMs (qgemm_avx512.c,
 * qgemm_avx2.c): per block of 32 k values, eight groups of four k, each 32
 * columns x 4 bytes (column c at 4c); then per column an int32 offset
 * correction (OFF_SEED, where a kernel uses one) and the fp16 weight scale
 * as a float (OFF_SCALE). */
#ifndef LLORCH_QGEMM_PACK_H
#define LLORCH_QGEMM_PACK_H

#include <string.h>
#include <immintrin.h>

#include "kernels_impl.h"

#define NG 8                                  /* groups of 4 k in a block */
#define OFF_SEED (2 * NG * 64)                /* int32 x 32 corrections */
#define OFF_SCALE (OFF_SEED + 2 * 64)         /* float x 32 weight scales */
_Static_assert(OFF_SCALE + 2 * 64 == LLORCH_QPANEL_BLOCK_BYTES, "panel block layout");

/* Packing reads the weights from memory once; asking for them this far
 * ahead (as the decode kernels do) measured 10-20% faster products for
 * 32-64 tokens, where packing weighs most, with weights not in cache. */
#define PACK_PREFETCH 8192

/* Row c of the panel (type kt, nb blocks) into P: per block, its fp16
 * scale as a float and four k values per 32-bit lane of column c (Q4_0
 * nibbles as they are, offset included). The rows of a panel are adjacent
 * in memory and read in order, which the prefetchers follow; gathering
 * across rows measured three times slower. */
static inline void pack_row(bool q4, const uint8_t *row, int64_t nb, int c, uint8_t *P)
{
	const size_t bs = q4 ? sizeof(llorch_block_q4_0) : sizeof(llorch_block_q8_0);
	uint8_t *col = P + 64 * (c / 16) + 4 * (c % 16);

	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *blk = row + bs * (size_t)b;
		uint8_t *dst = col + (size_t)b * LLORCH_QPANEL_BLOCK_BYTES;
		_mm_prefetch((const char *)blk + PACK_PREFETCH, _MM_HINT_T0);
		float d = _cvtsh_ss(llorch_kh_load16(blk));
		memcpy(dst + OFF_SCALE, &d, sizeof d);
		if (q4) {
			for (int g = 0; g < NG / 2; g++) {
				uint32_t v, lo, hi;
				memcpy(&v, blk + 2 + 4 * g, sizeof v);
				lo = v & 0x0f0f0f0fu;
				hi = (v >> 4) & 0x0f0f0f0fu;
				memcpy(dst + 128 * g, &lo, sizeof lo);
				memcpy(dst + 128 * (g + NG / 2), &hi, sizeof hi);
			}
		} else {
			for (int g = 0; g < NG; g++)
				memcpy(dst + 128 * g, blk + 2 + 4 * g, 4);
		}
	}
}

#endif
