/* Tensor element types: names and block layouts as ggml defines them, and the
 * reference row conversions of the types the compute path runs.
 *
 * The block sizes and bytes come from ggml's type_traits (ggml/src/ggml.c) and
 * the block structs of ggml/src/ggml-common.h, checked by compiling that header
 * (ggml-org/ggml @d99724f, 2026-08-21) and printing sizeof of each block.
 * Ids 4, 5, 31..33 and 36..38 are types ggml removed; they stay unknown. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

struct dtype_info {
	const char *name;
	uint32_t block_size; /* elements per block */
	uint32_t block_bytes;
};

#define QK_K 256

static const struct dtype_info dtypes[LLORCH_DT_COUNT] = {
	[LLORCH_DT_F32] = { "f32", 1, 4 },
	[LLORCH_DT_F16] = { "f16", 1, 2 },
	[LLORCH_DT_Q4_0] = { "q4_0", 32, 18 },
	[LLORCH_DT_Q4_1] = { "q4_1", 32, 20 },
	[LLORCH_DT_Q5_0] = { "q5_0", 32, 22 },
	[LLORCH_DT_Q5_1] = { "q5_1", 32, 24 },
	[LLORCH_DT_Q8_0] = { "q8_0", 32, 34 },
	[LLORCH_DT_Q8_1] = { "q8_1", 32, 36 },
	[LLORCH_DT_Q2_K] = { "q2_K", QK_K, 84 },
	[LLORCH_DT_Q3_K] = { "q3_K", QK_K, 110 },
	[LLORCH_DT_Q4_K] = { "q4_K", QK_K, 144 },
	[LLORCH_DT_Q5_K] = { "q5_K", QK_K, 176 },
	[LLORCH_DT_Q6_K] = { "q6_K", QK_K, 210 },
	[LLORCH_DT_Q8_K] = { "q8_K", QK_K, 292 },
	[LLORCH_DT_IQ2_XXS] = { "iq2_xxs", QK_K, 66 },
	[LLORCH_DT_IQ2_XS] = { "iq2_xs", QK_K, 74 },
	[LLORCH_DT_IQ3_XXS] = { "iq3_xxs", QK_K, 98 },
	[LLORCH_DT_IQ1_S] = { "iq1_s", QK_K, 50 },
	[LLORCH_DT_IQ4_NL] = { "iq4_nl", 32, 18 },
	[LLORCH_DT_IQ3_S] = { "iq3_s", QK_K, 110 },
	[LLORCH_DT_IQ2_S] = { "iq2_s", QK_K, 82 },
	[LLORCH_DT_IQ4_XS] = { "iq4_xs", QK_K, 136 },
	[LLORCH_DT_I8] = { "i8", 1, 1 },
	[LLORCH_DT_I16] = { "i16", 1, 2 },
	[LLORCH_DT_I32] = { "i32", 1, 4 },
	[LLORCH_DT_I64] = { "i64", 1, 8 },
	[LLORCH_DT_F64] = { "f64", 1, 8 },
	[LLORCH_DT_IQ1_M] = { "iq1_m", QK_K, 56 },
	[LLORCH_DT_BF16] = { "bf16", 1, 2 },
	[LLORCH_DT_TQ1_0] = { "tq1_0", QK_K, 54 },
	[LLORCH_DT_TQ2_0] = { "tq2_0", QK_K, 66 },
	[LLORCH_DT_MXFP4] = { "mxfp4", 32, 17 },
};

static const struct dtype_info *dtype_info(llorch_dtype t)
{
	if ((unsigned)t >= LLORCH_DT_COUNT || !dtypes[t].name)
		return NULL;
	return &dtypes[t];
}

const char *llorch_dtype_name(llorch_dtype t)
{
	const struct dtype_info *d = dtype_info(t);

	return d ? d->name : "?";
}

bool llorch_dtype_from_name(const char *name, llorch_dtype *out)
{
	if (!name)
		return false;
	for (int t = 0; t < LLORCH_DT_COUNT; t++) {
		if (dtypes[t].name && strcasecmp(dtypes[t].name, name) == 0) {
			*out = (llorch_dtype)t;
			return true;
		}
	}
	return false;
}

bool llorch_dtype_known(llorch_dtype t)
{
	return dtype_info(t) != NULL;
}

size_t llorch_dtype_block_size(llorch_dtype t)
{
	const struct dtype_info *d = dtype_info(t);

	return d ? d->block_size : 0;
}

size_t llorch_dtype_block_bytes(llorch_dtype t)
{
	const struct dtype_info *d = dtype_info(t);

	return d ? d->block_bytes : 0;
}

llorch_status llorch_dtype_row_bytes(llorch_dtype t, int64_t n, size_t *out)
{
	const struct dtype_info *d = dtype_info(t);
	size_t bytes;

	if (!d)
		return llorch_error(LLORCH_E_UNSUPPORTED, "unknown tensor type %d", (int)t);
	if (n < 0)
		return llorch_error(LLORCH_E_INVALID, "negative element count %lld", (long long)n);
	if ((uint64_t)n % d->block_size != 0)
		return llorch_error(LLORCH_E_FORMAT, "%lld elements are not a whole number of %s blocks of %u",
				(long long)n, d->name, (unsigned)d->block_size);
	if ((uint64_t)n / d->block_size > SIZE_MAX ||
			!llorch_mul_size((size_t)((uint64_t)n / d->block_size), d->block_bytes, &bytes))
		return llorch_error(LLORCH_E_RANGE, "%lld %s elements overflow the address space",
				(long long)n, d->name);
	*out = bytes;
	return LLORCH_OK;
}

bool llorch_dtype_supported(llorch_dtype t)
{
	return t == LLORCH_DT_F32 || t == LLORCH_DT_F16 || t == LLORCH_DT_BF16 ||
		t == LLORCH_DT_Q8_0 || t == LLORCH_DT_Q4_0;
}

/* Blocks and halves go through memcpy: tensor data in a GGUF file with a
 * small general.alignment may sit at an odd address.
 *
 * ggml's quantizers cast float to int8_t. For finite inputs the value always
 * fits; for NaN, inf or values past int8 (a NaN in a Q8_0 block makes ggml's
 * MAX() forget the maximum so far) the cast is undefined in C, and on x86
 * compiles to a truncation to int32 (INT32_MIN when out of range) whose low
 * byte is kept. We do exactly that, on every platform, in defined C. */
static int to_int8_like_x86(float x)
{
	uint32_t i = 0x80000000u;

	if (x > -2147483648.0f && x < 2147483648.0f)
		i = (uint32_t)(int32_t)x;
	i &= 0xff;
	return i >= 128 ? (int)i - 256 : (int)i;
}

/* quantize_row_q8_0_ref: d = amax / 127, q = round(x / d), the scale for the
 * division kept in fp32 (not the stored fp16). */
static void quantize_q8_0(const float *x, uint8_t *dst, int64_t nb)
{
	llorch_block_q8_0 y;

	for (int64_t i = 0; i < nb; i++) {
		const float *xb = x + i * LLORCH_QK8_0;
		float amax = 0.0f;

		/* ggml's MAX(a, b) macro, whose NaN behaviour we keep too. */
		for (int j = 0; j < LLORCH_QK8_0; j++)
			amax = amax > fabsf(xb[j]) ? amax : fabsf(xb[j]);
		const float d = amax / 127;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;

		y.d = llorch_fp32_to_fp16(d);
		for (int j = 0; j < LLORCH_QK8_0; j++) {
			const float x0 = xb[j] * id;

			y.qs[j] = (int8_t)to_int8_like_x86(roundf(x0));
		}
		memcpy(dst + i * (int64_t)sizeof y, &y, sizeof y);
	}
}

/* quantize_row_q4_0_ref: d = (the value of largest magnitude) / -8, so that
 * value maps to nibble 0 exactly; q = min(15, (int8)(x / d + 8.5)). */
static void quantize_q4_0(const float *x, uint8_t *dst, int64_t nb)
{
	llorch_block_q4_0 y;

	for (int64_t i = 0; i < nb; i++) {
		const float *xb = x + i * LLORCH_QK4_0;
		float amax = 0.0f, max = 0.0f;

		for (int j = 0; j < LLORCH_QK4_0; j++) {
			if (amax < fabsf(xb[j])) {
				amax = fabsf(xb[j]);
				max = xb[j];
			}
		}
		const float d = max / -8;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;

		y.d = llorch_fp32_to_fp16(d);
		for (int j = 0; j < LLORCH_QK4_0 / 2; j++) {
			/* Separate statements: no fused multiply-add may change
			 * the rounding. */
			const float x0 = xb[j] * id;
			const float x1 = xb[LLORCH_QK4_0 / 2 + j] * id;
			int q0 = to_int8_like_x86(x0 + 8.5f);
			int q1 = to_int8_like_x86(x1 + 8.5f);

			/* ggml stores MIN(15, int8) in a uint8_t: keep its bits. */
			uint8_t n0 = (uint8_t)(q0 < 15 ? q0 : 15);
			uint8_t n1 = (uint8_t)(q1 < 15 ? q1 : 15);

			y.qs[j] = (uint8_t)(n0 | (n1 << 4));
		}
		memcpy(dst + i * (int64_t)sizeof y, &y, sizeof y);
	}
}

static void dequantize_q8_0(const uint8_t *src, float *y, int64_t nb)
{
	llorch_block_q8_0 x;

	for (int64_t i = 0; i < nb; i++) {
		memcpy(&x, src + i * (int64_t)sizeof x, sizeof x);
		const float d = llorch_fp16_to_fp32(x.d);

		for (int j = 0; j < LLORCH_QK8_0; j++)
			y[i * LLORCH_QK8_0 + j] = x.qs[j] * d;
	}
}

static void dequantize_q4_0(const uint8_t *src, float *y, int64_t nb)
{
	llorch_block_q4_0 x;

	for (int64_t i = 0; i < nb; i++) {
		memcpy(&x, src + i * (int64_t)sizeof x, sizeof x);
		const float d = llorch_fp16_to_fp32(x.d);

		for (int j = 0; j < LLORCH_QK4_0 / 2; j++) {
			y[i * LLORCH_QK4_0 + j] = ((x.qs[j] & 0x0f) - 8) * d;
			y[i * LLORCH_QK4_0 + LLORCH_QK4_0 / 2 + j] = ((x.qs[j] >> 4) - 8) * d;
		}
	}
}

static void f32_to_f32(const uint8_t *src, float *dst, int64_t n)
{
	memmove(dst, src, (size_t)n * sizeof(float));
}

static void f32_from_f32(const float *src, uint8_t *dst, int64_t n)
{
	memmove(dst, src, (size_t)n * sizeof(float));
}

static void halves_to_f32(const uint8_t *src, float *dst, int64_t n, float (*cvt)(uint16_t))
{
	for (int64_t i = 0; i < n; i++) {
		uint16_t h;

		memcpy(&h, src + 2 * i, sizeof h);
		dst[i] = cvt(h);
	}
}

static void halves_from_f32(const float *src, uint8_t *dst, int64_t n, uint16_t (*cvt)(float))
{
	for (int64_t i = 0; i < n; i++) {
		uint16_t h = cvt(src[i]);

		memcpy(dst + 2 * i, &h, sizeof h);
	}
}

static void f16_to_f32(const uint8_t *src, float *dst, int64_t n)
{
	halves_to_f32(src, dst, n, llorch_fp16_to_fp32);
}

static void f16_from_f32(const float *src, uint8_t *dst, int64_t n)
{
	halves_from_f32(src, dst, n, llorch_fp32_to_fp16);
}

static void bf16_to_f32(const uint8_t *src, float *dst, int64_t n)
{
	halves_to_f32(src, dst, n, llorch_bf16_to_fp32);
}

static void bf16_from_f32(const float *src, uint8_t *dst, int64_t n)
{
	halves_from_f32(src, dst, n, llorch_fp32_to_bf16);
}

static void q8_0_to_f32(const uint8_t *src, float *dst, int64_t n)
{
	dequantize_q8_0(src, dst, n / LLORCH_QK8_0);
}

static void q8_0_from_f32(const float *src, uint8_t *dst, int64_t n)
{
	quantize_q8_0(src, dst, n / LLORCH_QK8_0);
}

static void q4_0_to_f32(const uint8_t *src, float *dst, int64_t n)
{
	dequantize_q4_0(src, dst, n / LLORCH_QK4_0);
}

static void q4_0_from_f32(const float *src, uint8_t *dst, int64_t n)
{
	quantize_q4_0(src, dst, n / LLORCH_QK4_0);
}

/* The row conversions of the supported types, n elements at a time. */
static const struct {
	void (*to_f32)(const uint8_t *src, float *dst, int64_t n);
	void (*from_f32)(const float *src, uint8_t *dst, int64_t n);
} codecs[LLORCH_DT_COUNT] = {
	[LLORCH_DT_F32] = { f32_to_f32, f32_from_f32 },
	[LLORCH_DT_F16] = { f16_to_f32, f16_from_f32 },
	[LLORCH_DT_BF16] = { bf16_to_f32, bf16_from_f32 },
	[LLORCH_DT_Q8_0] = { q8_0_to_f32, q8_0_from_f32 },
	[LLORCH_DT_Q4_0] = { q4_0_to_f32, q4_0_from_f32 },
};

static llorch_status check_row(llorch_dtype t, int64_t n, const void *src, const void *dst)
{
	if (!src || !dst || n < 0)
		return llorch_error(LLORCH_E_INVALID, "row conversion: bad arguments");
	if (!llorch_dtype_supported(t))
		return llorch_error(LLORCH_E_UNSUPPORTED, "no row conversion for tensor type %s",
				llorch_dtype_name(t));
	if (n % (int64_t)llorch_dtype_block_size(t) != 0)
		return llorch_error(LLORCH_E_INVALID, "%lld elements are not a whole number of %s blocks",
				(long long)n, llorch_dtype_name(t));
	return LLORCH_OK;
}

llorch_status llorch_dequantize_row(llorch_dtype t, const void *src, float *dst, int64_t n)
{
	llorch_status st = check_row(t, n, src, dst);

	if (st == LLORCH_OK)
		codecs[t].to_f32(src, dst, n);
	return st;
}

llorch_status llorch_quantize_row(llorch_dtype t, const float *src, void *dst, int64_t n)
{
	llorch_status st = check_row(t, n, src, dst);

	if (st == LLORCH_OK)
		codecs[t].from_f32(src, dst, n);
	return st;
}
