/* IEEE half (fp16) and bfloat16 <-> fp32 conversions, in integer arithmetic so
 * the results do not depend on the FPU's rounding mode or on F16C. They agree
 * bit for bit with F16C's _cvtss_sh(x, round-to-nearest-even) and with ggml's
 * ggml_compute_fp32_to_fp16, including NaN, which becomes sign | 0x7e00 as in
 * ggml (a quiet NaN; the payload is not kept). fp16_to_fp32 likewise matches
 * _cvtsh_ss for all 65536 inputs (an offline exhaustive comparison). */
#include <string.h>

#include "internal.h"

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

static float f32_from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

float llorch_fp16_to_fp32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ff;

	if (exp == 0x1f) /* inf, or NaN with its payload, made quiet as F16C does */
		return f32_from_bits(sign | 0x7f800000 | (man << 13) | (man ? 0x400000 : 0));
	if (exp != 0)
		return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
	if (man == 0)
		return f32_from_bits(sign);
	/* A subnormal half is man * 2^-24: normalise it for fp32. */
	exp = 113;
	while (!(man & 0x400)) {
		man <<= 1;
		exp--;
	}
	return f32_from_bits(sign | (exp << 23) | ((man & 0x3ff) << 13));
}

/* Shifts m right by s bits, rounding to nearest, ties to even. */
static uint32_t shift_round_even(uint32_t m, uint32_t s)
{
	uint32_t kept, rest, half;

	if (s == 0)
		return m;
	if (s > 31)
		return 0;
	kept = m >> s;
	rest = m & ((1u << s) - 1);
	half = 1u << (s - 1);
	if (rest > half || (rest == half && (kept & 1)))
		kept++;
	return kept;
}

uint16_t llorch_fp32_to_fp16(float f)
{
	uint32_t u = f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t exp = (u >> 23) & 0xff;
	uint32_t man = u & 0x7fffff;
	int32_t e;

	if (exp == 0xff)
		return sign | (man ? 0x7e00 : 0x7c00);
	e = (int32_t)exp - 127 + 15; /* the half's biased exponent */
	if (e >= 0x1f)
		return sign | 0x7c00;
	if (e <= 0) {
		/* Subnormal half (or zero): the value is (1.man) * 2^(e-1-10+...);
		 * shift the 24-bit significand so that one unit is 2^-24. A
		 * rounding carry into bit 10 correctly yields the smallest
		 * normal. fp32 subnormals are far below half's range. */
		if (exp == 0)
			return sign;
		return sign | (uint16_t)shift_round_even(man | 0x800000, (uint32_t)(14 - e));
	}
	/* Normal: round 23 mantissa bits to 10; a carry out of the mantissa
	 * bumps the exponent, and past the largest finite value gives inf. */
	return sign | (uint16_t)(((uint32_t)e << 10) + shift_round_even(man, 13));
}

float llorch_bf16_to_fp32(uint16_t h)
{
	return f32_from_bits((uint32_t)h << 16);
}

uint16_t llorch_fp32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);

	if ((u & 0x7fffffff) > 0x7f800000) /* NaN: truncate, forced quiet */
		return (uint16_t)((u >> 16) | 0x40);
	return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}
