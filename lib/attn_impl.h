/* What the attention kernels of every width share (attn_avx2.c,
 * attn_avx512.c): where a cache row is, and what to prefetch ahead. */
#ifndef LLORCH_ATTN_IMPL_H
#define LLORCH_ATTN_IMPL_H

#include "kernels_impl.h"

/* Keys ahead of the one being read that are prefetched. A head's keys are
 * one run now (llorch_kv_at), but a run is short (128 KiB of f16 at 1024
 * positions) and the hardware prefetchers ramp up at each start: in a
 * kernel benchmark over 144 runs of 992 keys, an f16 cache read 1.2-1.4x
 * faster with this than without (f32 about 1.1x); 64 or 128 keys ahead
 * did not differ from 32 by more than this VM's swings of bandwidth. */
#define LLORCH_KV_AHEAD 32
/* For q8_0, 68-byte rows (hd 64): about the same 4 KiB ahead as f16's 32
 * keys (32 and 128 keys measured the same in that benchmark). */
#define LLORCH_KV_AHEAD_Q8 64
#define LLORCH_KV_AHEAD_OF(kt) ((kt) == LLORCH_KT_Q8_0 ? LLORCH_KV_AHEAD_Q8 : LLORCH_KV_AHEAD)

/* Row j of a cache whose rows are kv_stride values apart. */
static inline __attribute__((always_inline)) const void *llorch_kv_row(int kt, const void *p,
		int64_t j, int64_t kv_stride)
{
	return (const char *)p + llorch_kt_bytes(kt, j * kv_stride);
}

/* Rows j0 .. j1 - 1 (below n_kv) of a head's cache, hd values each. */
static inline __attribute__((always_inline)) void llorch_kv_prefetch(int kt, const void *p,
		int64_t kv_stride, int64_t hd, int64_t j0, int64_t j1, int64_t n_kv)
{
	llorch_prefetch_rows(p, llorch_kt_bytes(kt, kv_stride), llorch_kt_bytes(kt, hd), j0,
			j1 < n_kv ? j1 : n_kv);
}

/* Block b of a q8_0 row at p. */
static inline __attribute__((always_inline)) const uint8_t *llorch_q8_block(const void *p,
		int64_t b)
{
	return (const uint8_t *)p + (size_t)b * sizeof(llorch_block_q8_0);
}

/* CALL(n) with n (1..6; above 6 as 6, below 1 as 1) a constant, so that a
 * kernel inlined with it keeps its accumulators in registers. */
#define LLORCH_CONST_1_TO_6(n, CALL)      \
	do {                              \
		switch (n) {              \
		case 6: CALL(6); break;   \
		case 5: CALL(5); break;   \
		case 4: CALL(4); break;   \
		case 3: CALL(3); break;   \
		case 2: CALL(2); break;   \
		default: CALL(1); break;  \
		}                         \
	} while (0)

#endif
