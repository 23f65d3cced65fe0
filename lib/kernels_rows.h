/* The four-rows-per-pass float kernel shared by the SIMD levels. The file
 * including this defines the vector type and operations first:
 *   VEC, VW (floats per vector), VZERO(), VLOADX(const float *),
 *   VFMA(a, b, acc), VHSUM(v) -> float
 * and optionally VPREFETCH(const uint8_t *) for weights about to be read,
 * and passes LOADW(const uint8_t *) -> VEC and SCALAR(const uint8_t *) ->
 * float for the weight type to FLOAT_ROWS_KERNEL. */
#ifndef LLORCH_KERNELS_ROWS_H
#define LLORCH_KERNELS_ROWS_H

#include "kernels_impl.h"

#ifndef VPREFETCH
#define VPREFETCH(p) ((void)(p))
#endif

#define FLOAT_ROWS_KERNEL(NAME, ELEM, LOADW, SCALAR)                                      \
	static void NAME(const uint8_t *W, size_t rb, const void *xv, int64_t n, float *y, \
			int64_t n_rows)                                                   \
	{                                                                                 \
		const float *x = xv;                                                      \
		for (int64_t r = 0; r < n_rows; r += LLORCH_ROWS) {                       \
			const uint8_t *w[LLORCH_ROWS];                                    \
			int nr = llorch_row_group(W, rb, r, n_rows, w);                   \
			VEC a0 = VZERO(), a1 = a0, a2 = a0, a3 = a0;                      \
			int64_t i = 0;                                                    \
			for (; i + VW <= n; i += VW) {                                    \
				VEC xx = VLOADX(x + i);                                   \
				for (int k = 0; k < LLORCH_ROWS; k++)                     \
					VPREFETCH(w[k] + ELEM * i);                       \
				a0 = VFMA(LOADW(w[0] + ELEM * i), xx, a0);                \
				a1 = VFMA(LOADW(w[1] + ELEM * i), xx, a1);                \
				a2 = VFMA(LOADW(w[2] + ELEM * i), xx, a2);                \
				a3 = VFMA(LOADW(w[3] + ELEM * i), xx, a3);                \
			}                                                                 \
			float s[LLORCH_ROWS] = {VHSUM(a0), VHSUM(a1), VHSUM(a2), VHSUM(a3)}; \
			for (; i < n; i++)                                                \
				for (int k = 0; k < LLORCH_ROWS; k++)                     \
					s[k] += SCALAR(w[k] + ELEM * i) * x[i];           \
			for (int k = 0; k < nr; k++)                                      \
				y[r + k] += s[k];                                         \
		}                                                                         \
	}

#endif
