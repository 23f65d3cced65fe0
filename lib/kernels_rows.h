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
 * (LLORCH_PREFETCH_BYTES ahead in the row, or past its end into the next)
 * and FLOAT_PREFETCH(ELEM, NX), whether to use it,
 * and passes LOADW(const uint8_t *) -> VEC and SCALAR(const uint8_t *) ->
 * float for the weight type to FLOAT_ROWS_KERNEL. */
#ifndef LLORCH_KERNELS_ROWS_H
#define LLORCH_KERNELS_ROWS_H

#include "kernels_impl.h"

#ifndef VPREFETCH
#define VPREFETCH(p) ((void)(p))
#endif
/* Whether rows of ELEM-byte values are prefetched when NX vectors share
 * them (a constant after inlining); a level may narrow it. */
#ifndef FLOAT_PREFETCH
#define FLOAT_PREFETCH(ELEM, NX) 1
#endif

/* Several vectors are read from L1 once per weight vector loaded; when
 * together they outgrow FLOAT_X_L1_BYTES, rows are taken in blocks of
 * FLOAT_SEG_ROWS, FLOAT_SEG values at a time (NAME##_multi_seg). */
#define FLOAT_X_L1_BYTES (32 * 1024)
#define FLOAT_SEG 1024
#define FLOAT_SEG_ROWS 8

/* segments end where NAME##_nx's main loop steps do (4 * VW <= 64 values) */
_Static_assert(FLOAT_SEG % 64 == 0, "FLOAT_SEG: a multiple of 64 values");

static inline bool float_rows_segmented(int64_t n, int nx)
{
	return n * nx * (int64_t)sizeof(float) > FLOAT_X_L1_BYTES;
}

/* acc (up to NX vectors x 4) from the sums st kept between segments, or
 * zeros when first. */
__attribute__((always_inline)) static inline void float_rows_resume(VEC acc[4][4], const VEC *st,
		const int NX, bool first)
{
	_Pragma("GCC unroll 4")
	for (int t = 0; t < NX; t++)
		_Pragma("GCC unroll 4")
		for (int a = 0; a < 4; a++)
			acc[t][a] = first ? VZERO() : st[4 * t + a];
}

/* One body for one vector (NAME, a llorch_rows_fn) and several (NAME##_multi,
 * a llorch_rows_multi_fn), so a (row, vector) gets the same bits alone or in
 * a batch. */
#define FLOAT_ROWS_KERNEL(NAME, ELEM, LOADW, SCALAR)                                      \
	/* Values [i0, i1) of a row (i0 and, but at the row's end, i1 multiples   \
	 * of 4 * VW) added to the sums st kept between segments (zero when      \
	 * first): the steps of NAME##_nx's main loop, in its order. */          \
	__attribute__((always_inline)) static inline void NAME##_seg(             \
			const uint8_t *w, size_t pf, const float *x, int64_t xs,  \
			const int NX, int64_t i0, int64_t i1, VEC *st, bool first) \
	{                                                                         \
		VEC acc[4][4];                                                    \
		float_rows_resume(acc, st, NX, first);                            \
		for (int64_t i = i0; i + 4 * VW <= i1; i += 4 * VW) {             \
			_Pragma("GCC unroll 4")                                   \
			for (int a = 0; a < 4; a++) {                             \
				if (FLOAT_PREFETCH(ELEM, NX))                     \
					VPREFETCH(w + ELEM * (i + a * VW) + pf);  \
				VEC wv = LOADW(w + ELEM * (i + a * VW));          \
				_Pragma("GCC unroll 4")                           \
				for (int t = 0; t < NX; t++)                      \
					acc[t][a] = VFMA(wv, VLOADX(x + t * xs + i + a * VW), acc[t][a]); \
			}                                                         \
		}                                                                 \
		_Pragma("GCC unroll 4")                                           \
		for (int t = 0; t < NX; t++)                                      \
			_Pragma("GCC unroll 4")                                   \
			for (int a = 0; a < 4; a++)                               \
				st[4 * t + a] = acc[t][a];                        \
	}                                                                         \
                                                                                  \
	/* The row's end from i (where the main loop stopped) with the sums st:   \
	 * NAME##_nx's tail and reduction. */                                     \
	__attribute__((always_inline)) static inline void NAME##_fin(             \
			const uint8_t *w, const float *x, int64_t xs, const int NX, \
			int64_t i, int64_t n, const VEC *st, float *y, int64_t ys) \
	{                                                                         \
		VEC acc[4][4];                                                    \
		float_rows_resume(acc, st, NX, false);                            \
		for (; i + VW <= n; i += VW) {                                    \
			VEC wv = LOADW(w + ELEM * i);                             \
			_Pragma("GCC unroll 4")                                   \
			for (int t = 0; t < NX; t++)                              \
				acc[t][0] = VFMA(wv, VLOADX(x + t * xs + i), acc[t][0]); \
		}                                                                 \
		_Pragma("GCC unroll 4")                                           \
		for (int t = 0; t < NX; t++) {                                    \
			float s = VHSUM(VADD(VADD(acc[t][0], acc[t][1]),          \
						VADD(acc[t][2], acc[t][3])));     \
			for (int64_t j = i; j < n; j++)                           \
				s += SCALAR(w + ELEM * j) * x[t * xs + j];        \
			y[t * ys] += s;                                           \
		}                                                                 \
	}                                                                         \
                                                                                  \
	/* A whole row: its main loop (prefetching LLORCH_PREFETCH_BYTES on, into  \
	 * the next rows), then its tail. */                                      \
	__attribute__((always_inline)) static inline void NAME##_nx(              \
			const uint8_t *w, const float *x, int64_t xs, const int NX, \
			int64_t n, float *y, int64_t ys)                           \
	{                                                                         \
		VEC st[16];    /* [vector][(i / VW) mod 4] */                     \
		NAME##_seg(w, LLORCH_PREFETCH_BYTES, x, xs, NX, 0, n, st, true);  \
		NAME##_fin(w, x, xs, NX, n / (4 * VW) * (4 * VW), n, st, y, ys);  \
	}                                                                         \
                                                                                  \
	/* Several vectors whose rows outgrow the L1 cache together: blocks of    \
	 * FLOAT_SEG_ROWS rows taken FLOAT_SEG values at a time, each segment of  \
	 * x then read from L1 for all of the block's rows, the rows' sums kept   \
	 * between segments, so the bits are NAME##_nx's. A row's segment         \
	 * prefetches the next row's (rb on), which comes next; its own row's     \
	 * next bytes come only a block later. */                                 \
	static void NAME##_multi_seg(const uint8_t *W, size_t rb, const float *x,  \
			int64_t xs, int nx, int64_t n, float *y, int64_t ys,      \
			int64_t n_rows)                                           \
	{                                                                         \
		VEC st[FLOAT_SEG_ROWS][16];                                       \
		int64_t n4 = n / (4 * VW) * (4 * VW);                             \
		for (int64_t r0 = 0; r0 < n_rows; r0 += FLOAT_SEG_ROWS) {         \
			int nr = n_rows - r0 < FLOAT_SEG_ROWS ? (int)(n_rows - r0) : FLOAT_SEG_ROWS; \
			const uint8_t *w0 = W + rb * (size_t)r0;                  \
			for (int64_t s = 0; s < n; s += FLOAT_SEG) {              \
				int64_t e = n - s < FLOAT_SEG ? n : s + FLOAT_SEG; \
				for (int k = 0; k < nr; k++) {                    \
					const uint8_t *w = w0 + rb * (size_t)k;   \
					switch (nx) {                             \
					case 1: NAME##_seg(w, rb, x, xs, 1, s, e, st[k], s == 0); break; \
					case 2: NAME##_seg(w, rb, x, xs, 2, s, e, st[k], s == 0); break; \
					case 3: NAME##_seg(w, rb, x, xs, 3, s, e, st[k], s == 0); break; \
					default: NAME##_seg(w, rb, x, xs, VNX, s, e, st[k], s == 0); break; \
					}                                         \
				}                                                 \
			}                                                         \
			for (int k = 0; k < nr; k++) {                            \
				const uint8_t *w = w0 + rb * (size_t)k;           \
				float *yk = y + r0 + k;                           \
				switch (nx) {                                     \
				case 1: NAME##_fin(w, x, xs, 1, n4, n, st[k], yk, ys); break; \
				case 2: NAME##_fin(w, x, xs, 2, n4, n, st[k], yk, ys); break; \
				case 3: NAME##_fin(w, x, xs, 3, n4, n, st[k], yk, ys); break; \
				default: NAME##_fin(w, x, xs, VNX, n4, n, st[k], yk, ys); break; \
				}                                                 \
			}                                                         \
		}                                                                 \
	}                                                                         \
                                                                                  \
	static void NAME##_multi(const uint8_t *W, size_t rb, const void *xv, int64_t xs, \
			int n_x, int64_t n, float *y, int64_t ys, int64_t n_rows)         \
	{                                                                                 \
		const float *x = xv;                                                      \
		if (n_x > 1 && float_rows_segmented(n, n_x < VNX ? n_x : VNX)) {                     \
			for (int t = 0; t < n_x; t += VNX)                                \
				NAME##_multi_seg(W, rb, x + t * xs, xs, n_x - t < VNX ? n_x - t : VNX, n, \
						y + t * ys, ys, n_rows);                  \
			return;                                                           \
		}                                                                         \
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
