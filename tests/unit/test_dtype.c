/* Tensor element types: the ggml block table, fp16/bf16 conversions (edge
 * cases and an exhaustive round trip), and Q8_0/Q4_0 blocks computed by hand
 * from ggml's reference quantizers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "gguf_bytes.h"

static uint32_t bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static float from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static void test_table(void **state)
{
	/* (id, name, block size, block bytes) from ggml's type_traits. */
	static const struct { int id; const char *name; size_t bs, bb; } want[] = {
		{ 0, "f32", 1, 4 }, { 1, "f16", 1, 2 }, { 2, "q4_0", 32, 18 },
		{ 3, "q4_1", 32, 20 }, { 6, "q5_0", 32, 22 }, { 7, "q5_1", 32, 24 },
		{ 8, "q8_0", 32, 34 }, { 9, "q8_1", 32, 36 }, { 10, "q2_K", 256, 84 },
		{ 11, "q3_K", 256, 110 }, { 12, "q4_K", 256, 144 }, { 13, "q5_K", 256, 176 },
		{ 14, "q6_K", 256, 210 }, { 15, "q8_K", 256, 292 }, { 16, "iq2_xxs", 256, 66 },
		{ 17, "iq2_xs", 256, 74 }, { 18, "iq3_xxs", 256, 98 }, { 19, "iq1_s", 256, 50 },
		{ 20, "iq4_nl", 32, 18 }, { 21, "iq3_s", 256, 110 }, { 22, "iq2_s", 256, 82 },
		{ 23, "iq4_xs", 256, 136 }, { 24, "i8", 1, 1 }, { 25, "i16", 1, 2 },
		{ 26, "i32", 1, 4 }, { 27, "i64", 1, 8 }, { 28, "f64", 1, 8 },
		{ 29, "iq1_m", 256, 56 }, { 30, "bf16", 1, 2 }, { 34, "tq1_0", 256, 54 },
		{ 35, "tq2_0", 256, 66 }, { 39, "mxfp4", 32, 17 },
	};
	static const int unknown[] = { 4, 5, 31, 32, 33, 36, 37, 38, 40, 41, 1000, -1 };
	llorch_dtype t;

	(void)state;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		t = (llorch_dtype)want[i].id;
		assert_true(llorch_dtype_known(t));
		assert_string_equal(llorch_dtype_name(t), want[i].name);
		assert_int_equal(llorch_dtype_block_size(t), want[i].bs);
		assert_int_equal(llorch_dtype_block_bytes(t), want[i].bb);
		assert_true(llorch_dtype_from_name(want[i].name, &t));
		assert_int_equal(t, want[i].id);
	}
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		t = (llorch_dtype)unknown[i];
		assert_false(llorch_dtype_known(t));
		assert_string_equal(llorch_dtype_name(t), "?");
		assert_int_equal(llorch_dtype_block_size(t), 0);
		assert_int_equal(llorch_dtype_block_bytes(t), 0);
		assert_false(llorch_dtype_supported(t));
	}
	assert_true(llorch_dtype_from_name("Q4_K", &t));
	assert_int_equal(t, LLORCH_DT_Q4_K);
	assert_true(llorch_dtype_from_name("BF16", &t));
	assert_int_equal(t, LLORCH_DT_BF16);
	assert_false(llorch_dtype_from_name("q4_2", &t));
	assert_false(llorch_dtype_from_name("?", &t));
	assert_false(llorch_dtype_from_name("", &t));
	assert_true(llorch_dtype_supported(LLORCH_DT_Q8_0));
	assert_false(llorch_dtype_supported(LLORCH_DT_Q4_1));
	assert_int_equal(sizeof(llorch_block_q8_0), 34);
	assert_int_equal(sizeof(llorch_block_q4_0), 18);
}

static void test_row_bytes(void **state)
{
	size_t n;

	(void)state;
	assert_status(llorch_dtype_row_bytes(LLORCH_DT_Q8_0, 64, &n), LLORCH_OK);
	assert_int_equal(n, 68);
	assert_status(llorch_dtype_row_bytes(LLORCH_DT_Q6_K, 512, &n), LLORCH_OK);
	assert_int_equal(n, 420);
	assert_status(llorch_dtype_row_bytes(LLORCH_DT_F32, 0, &n), LLORCH_OK);
	assert_int_equal(n, 0);
	assert_status(llorch_dtype_row_bytes(LLORCH_DT_Q4_0, 33, &n), LLORCH_E_FORMAT);
	assert_status(llorch_dtype_row_bytes(LLORCH_DT_F64, INT64_MAX, &n), LLORCH_E_RANGE);
	assert_status(llorch_dtype_row_bytes(LLORCH_DT_F32, -1, &n), LLORCH_E_INVALID);
	assert_status(llorch_dtype_row_bytes((llorch_dtype)4, 32, &n), LLORCH_E_UNSUPPORTED);
}

static void test_fp16_edges(void **state)
{
	(void)state;
	assert_int_equal(llorch_fp32_to_fp16(0.0f), 0x0000);
	assert_int_equal(llorch_fp32_to_fp16(-0.0f), 0x8000);
	assert_int_equal(llorch_fp32_to_fp16(1.0f), 0x3c00);
	assert_int_equal(llorch_fp32_to_fp16(-2.0f), 0xc000);
	assert_int_equal(llorch_fp32_to_fp16(65504.0f), 0x7bff);
	/* Halfway between 65504 and 65536 (the next step): even -> inf. */
	assert_int_equal(llorch_fp32_to_fp16(65519.996f), 0x7bff);
	assert_int_equal(llorch_fp32_to_fp16(65520.0f), 0x7c00);
	assert_int_equal(llorch_fp32_to_fp16(1e6f), 0x7c00);
	assert_int_equal(llorch_fp32_to_fp16(-INFINITY), 0xfc00);
	assert_int_equal(llorch_fp32_to_fp16(INFINITY), 0x7c00);
	assert_int_equal(llorch_fp32_to_fp16(NAN) & 0x7fff, 0x7e00);
	assert_int_equal(llorch_fp32_to_fp16(from_bits(0xff800001)), 0xfe00); /* -sNaN */
	/* Subnormals: the smallest is 2^-24; half of it rounds to even (0),
	 * just above half rounds up. */
	assert_int_equal(llorch_fp32_to_fp16(ldexpf(1.0f, -24)), 0x0001);
	assert_int_equal(llorch_fp32_to_fp16(ldexpf(1.0f, -25)), 0x0000);
	assert_int_equal(llorch_fp32_to_fp16(ldexpf(1.5f, -25)), 0x0001);
	assert_int_equal(llorch_fp32_to_fp16(ldexpf(3.0f, -25)), 0x0002); /* 1.5 units: tie to even */
	assert_int_equal(llorch_fp32_to_fp16(ldexpf(5.0f, -25)), 0x0002); /* 2.5 units: tie to even */
	assert_int_equal(llorch_fp32_to_fp16(-ldexpf(1.0f, -24)), 0x8001);
	assert_int_equal(llorch_fp32_to_fp16(ldexpf(1023.0f, -24)), 0x03ff); /* largest subnormal */
	assert_int_equal(llorch_fp32_to_fp16(ldexpf(1023.5f, -24)), 0x0400); /* rounds into normal */
	assert_int_equal(llorch_fp32_to_fp16(ldexpf(1.0f, -14)), 0x0400);
	assert_int_equal(llorch_fp32_to_fp16(from_bits(0x00000001)), 0x0000); /* fp32 subnormal */
	/* 1 + 2^-11 is halfway between 1 and 1 + 2^-10: even (1). 1 + 3*2^-11:
	 * halfway between odd and even: up. */
	assert_int_equal(llorch_fp32_to_fp16(1.0f + ldexpf(1.0f, -11)), 0x3c00);
	assert_int_equal(llorch_fp32_to_fp16(1.0f + ldexpf(3.0f, -11)), 0x3c02);
	assert_int_equal(llorch_fp32_to_fp16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)), 0x3c01);

	assert_true(llorch_fp16_to_fp32(0x7bff) == 65504.0f);
	assert_true(llorch_fp16_to_fp32(0x0001) == ldexpf(1.0f, -24));
	assert_true(llorch_fp16_to_fp32(0x03ff) == ldexpf(1023.0f, -24));
	assert_int_equal(bits(llorch_fp16_to_fp32(0x8000)), 0x80000000);
	assert_true(isinf(llorch_fp16_to_fp32(0xfc00)) && llorch_fp16_to_fp32(0xfc00) < 0);
	assert_true(isnan(llorch_fp16_to_fp32(0x7e00)));
	assert_true(isnan(llorch_fp16_to_fp32(0x7c01))); /* signalling NaN stays NaN */
}

/* Every half converts to fp32 and back unchanged (NaNs stay NaN), and the
 * midpoint between two neighbours rounds to the even one. */
static void test_fp16_exhaustive(void **state)
{
	(void)state;
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = llorch_fp16_to_fp32((uint16_t)h);
		bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);

		if (nan) {
			assert_true(isnan(f));
			assert_int_equal(llorch_fp32_to_fp16(f), (h & 0x8000) | 0x7e00);
			continue;
		}
		assert_int_equal(llorch_fp32_to_fp16(f), h);
		if ((h & 0x7fff) >= 0x7bff)
			continue;
		/* h and h + 1 (same sign) are neighbours: their midpoint is exact
		 * in fp32 and must round to whichever is even. */
		float next = llorch_fp16_to_fp32((uint16_t)(h + 1));
		float mid = (f + next) / 2;
		uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;

		assert_int_equal(llorch_fp32_to_fp16(mid), even);
		assert_int_equal(llorch_fp32_to_fp16(nextafterf(mid, f)), h);
		assert_int_equal(llorch_fp32_to_fp16(nextafterf(mid, next)), h + 1);
	}
}

static void test_bf16(void **state)
{
	(void)state;
	assert_int_equal(llorch_fp32_to_bf16(1.0f), 0x3f80);
	assert_int_equal(llorch_fp32_to_bf16(-0.0f), 0x8000);
	assert_int_equal(llorch_fp32_to_bf16(from_bits(0x3f808000)), 0x3f80); /* tie, even */
	assert_int_equal(llorch_fp32_to_bf16(from_bits(0x3f818000)), 0x3f82); /* tie, odd: up */
	assert_int_equal(llorch_fp32_to_bf16(from_bits(0x3f808001)), 0x3f81);
	assert_int_equal(llorch_fp32_to_bf16(from_bits(0x7f7fffff)), 0x7f80); /* max rounds to inf */
	assert_int_equal(llorch_fp32_to_bf16(INFINITY), 0x7f80);
	assert_int_equal(llorch_fp32_to_bf16(from_bits(0x7f800001)), 0x7fc0); /* NaN kept, quiet */
	assert_int_equal(llorch_fp32_to_bf16(from_bits(0xffc12345)), 0xffc1);
	assert_true(llorch_bf16_to_fp32(0x3f80) == 1.0f);
	assert_true(llorch_bf16_to_fp32(0xc2f7) == -123.5f);
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = llorch_bf16_to_fp32((uint16_t)h);

		if (isnan(f))
			assert_int_equal(llorch_fp32_to_bf16(f), h | 0x40);
		else
			assert_int_equal(llorch_fp32_to_bf16(f), h);
	}
}

/* Q8_0 with amax 127: d = 1 exactly, so q = roundf(x), halves away from 0. */
static void test_q8_0_block(void **state)
{
	float x[64] = { -127.0f, 0.4f, 0.5f, 0.6f, -0.5f, 1.5f, 2.5f, -2.5f, 100.2f, 126.5f };
	static const int8_t want[10] = { -127, 0, 1, 1, -1, 2, 3, -3, 100, 127 };
	llorch_block_q8_0 q[2];
	float y[64];

	(void)state;
	/* Second block all zero: d = 0, every q 0. */
	assert_status(llorch_quantize_row(LLORCH_DT_Q8_0, x, q, 64), LLORCH_OK);
	assert_int_equal(q[0].d, 0x3c00);
	for (int j = 0; j < 10; j++)
		assert_int_equal(q[0].qs[j], want[j]);
	for (int j = 10; j < 32; j++)
		assert_int_equal(q[0].qs[j], 0);
	assert_int_equal(q[1].d, 0);
	for (int j = 0; j < 32; j++)
		assert_int_equal(q[1].qs[j], 0);
	assert_status(llorch_dequantize_row(LLORCH_DT_Q8_0, q, y, 64), LLORCH_OK);
	for (int j = 0; j < 10; j++)
		assert_true(y[j] == (float)want[j]);

	/* amax 2: d = 2/127 = 2^-6 * 1.00787, stored as fp16 0x2408; the
	 * quantization divides by the fp32 d: q = round(x * 63.5). */
	float x2[32] = { 2.0f, -0.75f, 0.5f, 0.01f };
	assert_status(llorch_quantize_row(LLORCH_DT_Q8_0, x2, q, 32), LLORCH_OK);
	assert_int_equal(q[0].d, llorch_fp32_to_fp16(2.0f / 127));
	assert_int_equal(q[0].d, 0x2408);
	assert_int_equal(q[0].qs[0], 127);
	assert_int_equal(q[0].qs[1], -48); /* -47.625 */
	assert_int_equal(q[0].qs[2], 32);  /* 31.75 */
	assert_int_equal(q[0].qs[3], 1);   /* 0.635 */
	assert_status(llorch_dequantize_row(LLORCH_DT_Q8_0, q, y, 32), LLORCH_OK);
	assert_true(y[0] == 127 * llorch_fp16_to_fp32(0x2408));

	assert_status(llorch_quantize_row(LLORCH_DT_Q8_0, x, q, 31), LLORCH_E_INVALID);
	assert_status(llorch_quantize_row(LLORCH_DT_Q4_1, x, q, 32), LLORCH_E_UNSUPPORTED);
}

/* Q4_0: d = (value of largest magnitude) / -8; nibble = min(15, (int)(x/d + 8.5)). */
static void test_q4_0_block(void **state)
{
	float x[32] = { -8.0f, 7.0f, 0.4f, 0.5f, -0.6f, 7.4f, -7.5f, 3.0f };
	llorch_block_q4_0 q;
	float y[32];

	(void)state;
	/* max = -8: d = 1, id = 1. Element j is in the low nibble of qs[j],
	 * element j + 16 in the high nibble (here 0 -> nibble 8). */
	assert_status(llorch_quantize_row(LLORCH_DT_Q4_0, x, &q, 32), LLORCH_OK);
	assert_int_equal(q.d, 0x3c00);
	static const uint8_t want[8] = { 0, 15, 8, 9, 7, 15, 1, 11 };
	for (int j = 0; j < 8; j++)
		assert_int_equal(q.qs[j], want[j] | (8 << 4));
	for (int j = 8; j < 16; j++)
		assert_int_equal(q.qs[j], 8 | (8 << 4));
	assert_status(llorch_dequantize_row(LLORCH_DT_Q4_0, &q, y, 32), LLORCH_OK);
	assert_true(y[0] == -8.0f && y[1] == 7.0f && y[3] == 1.0f && y[6] == -7.0f && y[16] == 0.0f);

	/* max = +8: d = -1, so x = -8 gives 16.5 -> 16, clamped to 15; the
	 * high half holds x[16..31]. */
	float x2[32] = { 8.0f, -8.0f, 0.0f, 2.0f };
	x2[16] = -3.0f;
	x2[31] = 5.0f;
	assert_status(llorch_quantize_row(LLORCH_DT_Q4_0, x2, &q, 32), LLORCH_OK);
	assert_int_equal(q.d, 0xbc00);
	assert_int_equal(q.qs[0], 0 | (11 << 4));
	assert_int_equal(q.qs[1], 15 | (8 << 4));
	assert_int_equal(q.qs[2], 8 | (8 << 4));
	assert_int_equal(q.qs[3], 6 | (8 << 4));
	assert_int_equal(q.qs[15], 8 | (3 << 4));
	assert_status(llorch_dequantize_row(LLORCH_DT_Q4_0, &q, y, 32), LLORCH_OK);
	assert_true(y[0] == 8.0f && y[1] == -7.0f && y[16] == -3.0f && y[31] == 5.0f);

	/* All zero: d = 0 / -8 = -0 (as in ggml), nibbles 8. */
	memset(x2, 0, sizeof x2);
	assert_status(llorch_quantize_row(LLORCH_DT_Q4_0, x2, &q, 32), LLORCH_OK);
	assert_int_equal(q.d, 0x8000);
	assert_int_equal(q.qs[5], 0x88);
}

/* Non-finite inputs never trap or go undefined (checked under UBSan). */
static void test_quantize_nonfinite(void **state)
{
	float x[32] = { NAN, 1.0f, INFINITY, -2.0f };
	llorch_block_q8_0 q8;
	llorch_block_q4_0 q4;

	(void)state;
	assert_status(llorch_quantize_row(LLORCH_DT_Q8_0, x, &q8, 32), LLORCH_OK);
	assert_status(llorch_quantize_row(LLORCH_DT_Q4_0, x, &q4, 32), LLORCH_OK);
	x[0] = 1e38f;
	x[1] = -3e38f;
	assert_status(llorch_quantize_row(LLORCH_DT_Q8_0, x, &q8, 32), LLORCH_OK);
	assert_status(llorch_quantize_row(LLORCH_DT_Q4_0, x, &q4, 32), LLORCH_OK);

	/* ggml's quirk, kept: MAX(amax, NaN) is NaN, and the next element then
	 * replaces it, so here amax = 5 and 100 / (5/127) = 2540 is cast to
	 * int8 as x86 does it (the low byte of the int32: 0xec, -20); NaN -> 0. */
	float y[32] = { 100.0f, NAN, 5.0f };
	assert_status(llorch_quantize_row(LLORCH_DT_Q8_0, y, &q8, 32), LLORCH_OK);
	assert_int_equal(q8.d, llorch_fp32_to_fp16(5.0f / 127));
	assert_int_equal(q8.qs[0], -20);
	assert_int_equal(q8.qs[1], 0);
	assert_int_equal(q8.qs[2], 127);
	assert_int_equal(q8.qs[3], 0);
}

static void test_plain_rows(void **state)
{
	const float x[4] = { 1.0f, -2.5f, 65504.0f, 1e-8f };
	uint16_t h[4];
	float y[4];

	(void)state;
	assert_status(llorch_quantize_row(LLORCH_DT_F16, x, h, 4), LLORCH_OK);
	assert_int_equal(h[0], 0x3c00);
	assert_int_equal(h[2], 0x7bff);
	assert_status(llorch_dequantize_row(LLORCH_DT_F16, h, y, 4), LLORCH_OK);
	assert_true(y[1] == -2.5f && y[2] == 65504.0f && y[3] == 0.0f);
	assert_status(llorch_quantize_row(LLORCH_DT_BF16, x, h, 4), LLORCH_OK);
	assert_int_equal(h[1], 0xc020);
	assert_status(llorch_dequantize_row(LLORCH_DT_BF16, h, y, 4), LLORCH_OK);
	assert_true(y[0] == 1.0f && y[1] == -2.5f);
	assert_status(llorch_dequantize_row(LLORCH_DT_F32, x, y, 4), LLORCH_OK);
	assert_memory_equal(x, y, sizeof x);
	assert_status(llorch_dequantize_row(LLORCH_DT_F32, NULL, y, 4), LLORCH_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_row_bytes),
		cmocka_unit_test(test_fp16_edges),
		cmocka_unit_test(test_fp16_exhaustive),
		cmocka_unit_test(test_bf16),
		cmocka_unit_test(test_q8_0_block),
		cmocka_unit_test(test_q4_0_block),
		cmocka_unit_test(test_quantize_nonfinite),
		cmocka_unit_test(test_plain_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
