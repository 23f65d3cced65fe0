/* The activations' formulas, written once for every vector width
 * (act_avx2.c, act_avx512.c); each width brings its intrinsics and its
 * exp, and loads and stores its own way. */
#ifndef LLORCH_ACT_FORMULA_H
#define LLORCH_ACT_FORMULA_H

/* GELU, tanh form: 0.5 v (1 + tanh(u)) = v / (1 + e^(-2u)), u = sqrt(2/pi)
 * (v + 0.044715 v^3). */
#define LLORCH_GELU(SET1, MUL, FMADD, ADD, DIV, EXP, v)                                   \
	DIV((v), ADD(SET1(1.0f), EXP(MUL(SET1(-2.0f * 0.79788456080286535588f),              \
			MUL((v), FMADD(MUL(SET1(0.044715f), (v)), (v), SET1(1.0f)))))))

/* SiLU(g) * up = g / (1 + e^-g) * up. */
#define LLORCH_SILU_MUL(SET1, SUB, MUL, ADD, DIV, EXP, g, up)                             \
	MUL(DIV((g), ADD(SET1(1.0f), EXP(SUB(SET1(0.0f), (g))))), (up))

#endif
