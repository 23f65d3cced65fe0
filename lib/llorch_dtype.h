/* Tensor element types: block layouts exactly as ggml defines them, and
 * reference (scalar) conversions (part of llorch.h). */
#ifndef LLORCH_DTYPE_H
#define LLORCH_DTYPE_H

#define LLORCH_QK8_0 32
#define LLORCH_QK4_0 32

/* Q8_0: one fp16 scale d, 32 int8 quants; x = d * q. */
typedef struct {
	uint16_t d;
	int8_t qs[LLORCH_QK8_0];
} llorch_block_q8_0;

/* Q4_0: one fp16 scale d, 16 bytes of nibbles; value j (< 16) is the low
 * nibble of qs[j], value j + 16 the high nibble; x = d * (nibble - 8). */
typedef struct {
	uint16_t d;
	uint8_t qs[LLORCH_QK4_0 / 2];
} llorch_block_q4_0;

/* "f32", "q8_0"...; "?" for an unknown id. */
const char *llorch_dtype_name(llorch_dtype t);
/* Parses a name as above (case-insensitive). */
bool llorch_dtype_from_name(const char *name, llorch_dtype *out);
/* False for ids the reader does not know. */
bool llorch_dtype_known(llorch_dtype t);
/* Elements per block (1 for plain types) and bytes per block; 0 if unknown. */
size_t llorch_dtype_block_size(llorch_dtype t);
size_t llorch_dtype_block_bytes(llorch_dtype t);
/* Bytes of n elements; FORMAT if n is not a multiple of the block size, RANGE on overflow. */
llorch_status llorch_dtype_row_bytes(llorch_dtype t, int64_t n, size_t *out);
/* F32, F16, BF16, Q8_0, Q4_0: the types the compute path runs. */
bool llorch_dtype_supported(llorch_dtype t);

float llorch_fp16_to_fp32(uint16_t h);
uint16_t llorch_fp32_to_fp16(float f);  /* round to nearest even */
float llorch_bf16_to_fp32(uint16_t h);
uint16_t llorch_fp32_to_bf16(float f);  /* round to nearest even, NaN kept */

/* Reference conversions of n elements (n a multiple of the block size) for the
 * supported types. Quantization follows ggml's reference quantize_row_*_ref. */
llorch_status llorch_dequantize_row(llorch_dtype t, const void *src, float *dst, int64_t n);
llorch_status llorch_quantize_row(llorch_dtype t, const float *src, void *dst, int64_t n);

#endif
