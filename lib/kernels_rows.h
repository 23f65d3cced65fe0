/* The four-rows-per-pass float kernels shared by the SIMD levels. The file
 * including this defines the vector type and operations first:
 *   VEC, VW (floats per vector), VZERO(), VLOADX(const float *),
 *   VFMA(a, b, acc), VHSUM(v) -> float, VNX (vectors per pass: 4 rows x
 *   VNX accumulators, at most 4, must fit the registers)
 * and optionally VPREFETCH(const uint8_t *) for weights to be read soon
 * (the next group's, in memory order: see kernels_quant_avx512.c),
 * and passes LOADW(const uint8_t *) -> VEC and SCALAR(const uint8_t *) ->
 * float for the weight type to FLOAT_ROWS_KERNEL. */
#ifndef LLORCH_KERNELS_ROWS_H
#define LLORCH_KERNELS_ROWS_H

#include "kernels_impl.h"

#ifndef VPREFETCH
#define VPREFETCH(p) ((void)(p))
#endif

/* One body for one vector (NAME, a llorch_rows_fn) and several (NAME##_multi,
 * a llorch_rows_multi_fn): per pass over a group of four rows, each weight
 * vector is loaded (and converted) once for up to VNX vectors of x, so a
 * (row, vector) gets the same bits alone or in a batch. */
#define FLOAT_ROWS_KERNEL(NAME, ELEM, LOADW, SCALAR)                                      \
	__attribute__((always_inline)) static inline void NAME##_nx(                      \
			const uint8_t *const *w, const float *x, int64_t xs, const int NX, \
			int64_t n, float *y, int64_t ys, int nr, const uint8_t *ahead)    \
	{                                                                                 \
		VEC acc[LLORCH_ROWS][4];    /* NX <= VNX <= 4 */                          \
		_Pragma("GCC unroll 4")                                                   \
		for (int k = 0; k < LLORCH_ROWS; k++)                                     \
			_Pragma("GCC unroll 4")                                           \
			for (int t = 0; t < NX; t++)                                      \
				acc[k][t] = VZERO();                                      \
		int64_t i = 0;                                                            \
		for (; i + VW <= n; i += VW) {                                            \
			VEC wv[LLORCH_ROWS];                                              \
			_Pragma("GCC unroll 4")                                           \
			for (int k = 0; k < LLORCH_ROWS; k++) {                           \
				VPREFETCH(ahead + ELEM * (LLORCH_ROWS * i + VW * k));     \
				wv[k] = LOADW(w[k] + ELEM * i);                           \
			}                                                                 \
			_Pragma("GCC unroll 4")                                           \
			for (int t = 0; t < NX; t++) {                                    \
				VEC xx = VLOADX(x + t * xs + i);                          \
				_Pragma("GCC unroll 4")                                   \
				for (int k = 0; k < LLORCH_ROWS; k++)                     \
					acc[k][t] = VFMA(wv[k], xx, acc[k][t]);           \
			}                                                                 \
		}                                                                         \
		/* whole loops, constant indices: acc stays in registers */               \
		_Pragma("GCC unroll 4")                                                   \
		for (int k = 0; k < LLORCH_ROWS; k++)                                     \
			_Pragma("GCC unroll 4")                                           \
			for (int t = 0; t < NX; t++) {                                    \
				if (k >= nr)                                              \
					continue;                                         \
				float s = VHSUM(acc[k][t]);                               \
				for (int64_t j = i; j < n; j++)                           \
					s += SCALAR(w[k] + ELEM * j) * x[t * xs + j];     \
				y[t * ys + k] += s;                                       \
			}                                                                 \
	}                                                                                 \
                                                                                          \
	static void NAME##_multi(const uint8_t *W, size_t rb, const void *xv, int64_t xs, \
			int n_x, int64_t n, float *y, int64_t ys, int64_t n_rows)         \
	{                                                                                 \
		const float *x = xv;                                                      \
		size_t group = rb * LLORCH_ROWS;                                          \
		size_t pf = group ? (LLORCH_PREFETCH_BYTES + group - 1) / group * group : 0; \
		for (int64_t r = 0; r < n_rows; r += LLORCH_ROWS) {                       \
			const uint8_t *w[LLORCH_ROWS];                                    \
			int nr = llorch_row_group(W, rb, r, n_rows, w);                   \
			const uint8_t *ahead = w[0] + pf;                                 \
			for (int t = 0; t < n_x; t += VNX) {                              \
				const float *xt = x + t * xs;                             \
				float *yt = y + t * ys + r;                               \
				switch (n_x - t < VNX ? n_x - t : VNX) {                  \
				case 1: NAME##_nx(w, xt, xs, 1, n, yt, ys, nr, ahead); break;    \
				case 2: NAME##_nx(w, xt, xs, 2, n, yt, ys, nr, ahead); break;    \
				case 3: NAME##_nx(w, xt, xs, 3, n, yt, ys, nr, ahead); break;    \
				default: NAME##_nx(w, xt, xs, VNX, n, yt, ys, nr, ahead); break; \
				}                                                         \
			}                                                                 \
		}                                                                         \
	}                                                                                 \
                                                                                          \
	static void NAME(const uint8_t *W, size_t rb, const void *x, int64_t n, float *y,  \
			int64_t n_rows)                                                   \
	{                                                                                 \
		NAME##_multi(W, rb, x, 0, 1, n, y, 0, n_rows);                            \
	}

#endif
