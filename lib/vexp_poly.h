/* The range reduction and polynomial of the vector exps, written once for
 * every vector width (vexp_avx512.h, kernels_avx2.c); each width clamps x
 * and applies 2^n its own way. */
#ifndef LLORCH_VEXP_POLY_H
#define LLORCH_VEXP_POLY_H

/* x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, so r is exact to
 * float precision), and p = e^r by its degree-6 Taylor polynomial
 * (relative error below 2e-7 there), so e^x = 2^n p. T is the vector type;
 * SET1, MUL, ROUND (with an imm8), FNMADD and FMADD its intrinsics. */
#define LLORCH_VEXP_NP(T, SET1, MUL, ROUND, FNMADD, FMADD, x, n, p)                        \
	do {                                                                               \
		(n) = ROUND(MUL((x), SET1(1.44269504088896341f)),                          \
				_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);            \
		T r_ = FNMADD((n), SET1(0.693359375f), (x));                               \
		r_ = FNMADD((n), SET1(-2.12194440e-4f), r_);                               \
		(p) = SET1(1.0f / 720);                                                    \
		(p) = FMADD((p), r_, SET1(1.0f / 120));                                    \
		(p) = FMADD((p), r_, SET1(1.0f / 24));                                     \
		(p) = FMADD((p), r_, SET1(1.0f / 6));                                      \
		(p) = FMADD((p), r_, SET1(0.5f));                                          \
		(p) = FMADD((p), r_, SET1(1.0f));                                          \
		(p) = FMADD((p), r_, SET1(1.0f));                                          \
	} while (0)

#endif
