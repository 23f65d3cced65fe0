/* The float row kernels shared by the SIMD levels: a row at a time, read
 * straight through with four accumulators along it (lanes of values i with
 * (i / VW) mod 4 = a go to accumulator a), each weight vector loaded (and
 * converted) once for up to VNX vectors of x. The file including this
 * defines the vector type and operations first:
 *   VEC, VW (floats per vector), VZERO(), VLOADX(const float *),
 *   VFMA(a, b, acc), VADD(a, b), VHSUM(v) -> float, VNX (vectors of x per
 *   pass over a row, at most 4: 4 x VNX accumulators must fit the
 *   registers)
 * and optionally VPREFETCH(const uint8_t *) for weights to be read soon
 * (LLORCH_PREFETCH_BYTES ahead in the row, or past its end into the next),
 * and passes LOADW(const uint8_t *) -> VEC and SCALAR(const uint8_t *) ->
 * float for the weight type to FLOAT_ROWS_KERNEL. */
#ifndef LLORCH_KERNELS_ROWS_H
#define LLORCH_KERNELS_ROWS_H

#include "kernels_impl.h"

#ifndef VPREFETCH
#define VPREFETCH(p) ((void)(p))
#endif

/* One body for one vector (NAME, a llorch_rows_fn) and several (NAME##_multi,
 * a llorch_rows_multi_fn), so a (row, vector) gets the same bits alone or in
 * a batch. */
#define FLOAT_ROWS_KERNEL(NAME, ELEM, LOADW, SCALAR)                                      \
	__attribute__((always_inline)) static inline void NAME##_nx(                      \
			const uint8_t *w, const float *x, int64_t xs, const int NX,        \
			int64_t n, float *y, int64_t ys)                                   \
	{                                                                                 \
		VEC acc[4][4];    /* [vector][(i / VW) mod 4] */                          \
		_Pragma("GCC unroll 4")                                                   \
		for (int t = 0; t < NX; t++)                                              \
			_Pragma("GCC unroll 4")                                           \
			for (int a = 0; a < 4; a++)                                       \
				acc[t][a] = VZERO();                                      \
		int64_t i = 0;                                                            \
		for (; i + 4 * VW <= n; i += 4 * VW) {                                    \
			_Pragma("GCC unroll 4")                                           \
			for (int a = 0; a < 4; a++) {                                     \
				VPREFETCH(w + ELEM * (i + a * VW) + LLORCH_PREFETCH_BYTES); \
				VEC wv = LOADW(w + ELEM * (i + a * VW));                  \
				_Pragma("GCC unroll 4")                                   \
				for (int t = 0; t < NX; t++)                              \
					acc[t][a] = VFMA(wv, VLOADX(x + t * xs + i + a * VW), acc[t][a]); \
			}                                                                 \
		}                                                                         \
		for (; i + VW <= n; i += VW) {                                            \
			VEC wv = LOADW(w + ELEM * i);                                     \
			_Pragma("GCC unroll 4")                                           \
			for (int t = 0; t < NX; t++)                                      \
				acc[t][0] = VFMA(wv, VLOADX(x + t * xs + i), acc[t][0]);  \
		}                                                                         \
		_Pragma("GCC unroll 4")                                                   \
		for (int t = 0; t < NX; t++) {                                            \
			float s = VHSUM(VADD(VADD(acc[t][0], acc[t][1]),                  \
						VADD(acc[t][2], acc[t][3])));             \
			for (int64_t j = i; j < n; j++)                                   \
				s += SCALAR(w + ELEM * j) * x[t * xs + j];                \
			y[t * ys] += s;                                                   \
		}                                                                         \
	}                                                                                 \
                                                                                          \
	static void NAME##_multi(const uint8_t *W, size_t rb, const void *xv, int64_t xs, \
			int n_x, int64_t n, float *y, int64_t ys, int64_t n_rows)         \
	{                                                                                 \
		const float *x = xv;                                                      \
		for (int64_t r = 0; r < n_rows; r++) {                                    \
			const uint8_t *w = W + rb * (size_t)r;                            \
			for (int t = 0; t < n_x; t += VNX) {                              \
				const float *xt = x + t * xs;                             \
				float *yt = y + t * ys + r;                               \
				switch (n_x - t < VNX ? n_x - t : VNX) {                  \
				case 1: NAME##_nx(w, xt, xs, 1, n, yt, ys); break;        \
				case 2: NAME##_nx(w, xt, xs, 2, n, yt, ys); break;        \
				case 3: NAME##_nx(w, xt, xs, 3, n, yt, ys); break;        \
				default: NAME##_nx(w, xt, xs, VNX, n, yt, ys); break;     \
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
