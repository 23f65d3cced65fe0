/* AVX2 + FMA + F16C row kernels. Decode is bound by reading the weights, so
 * every kernel takes four rows per pass over x: each load of x (or of its
 * quantized blocks) serves four rows, and four independent accumulator chains
 * hide the FMA latency. */
#include <immintrin.h>

#include "kernels_impl.h"

#define ROWS 4

static inline float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline __m256 load_f16x8(const uint8_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

static inline __m256 load_bf16x8(const uint8_t *p)
{
	__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
	return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

static inline float fp16_scalar(uint16_t h)
{
	return _cvtsh_ss(h);
}

/* The float kernels differ only in how 8 weights are loaded. */
#define FLOAT_ROWS_KERNEL(NAME, ELEM, LOAD8, SCALAR)                                      \
	static void NAME(const uint8_t *W, size_t rb, const void *xv, int64_t n, float *y, \
			int64_t n_rows)                                                   \
	{                                                                                 \
		const float *x = xv;                                                      \
		int64_t r = 0;                                                            \
		for (; r + ROWS <= n_rows; r += ROWS) {                                   \
			const uint8_t *w0 = W + rb * (size_t)r, *w1 = w0 + rb;            \
			const uint8_t *w2 = w1 + rb, *w3 = w2 + rb;                       \
			__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;       \
			int64_t i = 0;                                                    \
			for (; i + 8 <= n; i += 8) {                                      \
				__m256 xx = _mm256_loadu_ps(x + i);                       \
				a0 = _mm256_fmadd_ps(LOAD8(w0 + ELEM * i), xx, a0);       \
				a1 = _mm256_fmadd_ps(LOAD8(w1 + ELEM * i), xx, a1);       \
				a2 = _mm256_fmadd_ps(LOAD8(w2 + ELEM * i), xx, a2);       \
				a3 = _mm256_fmadd_ps(LOAD8(w3 + ELEM * i), xx, a3);       \
			}                                                                 \
			float s0 = hsum8(a0), s1 = hsum8(a1), s2 = hsum8(a2), s3 = hsum8(a3); \
			for (; i < n; i++) {                                              \
				s0 += SCALAR(w0 + ELEM * i) * x[i];                       \
				s1 += SCALAR(w1 + ELEM * i) * x[i];                       \
				s2 += SCALAR(w2 + ELEM * i) * x[i];                       \
				s3 += SCALAR(w3 + ELEM * i) * x[i];                       \
			}                                                                 \
			y[r] += s0;                                                       \
			y[r + 1] += s1;                                                   \
			y[r + 2] += s2;                                                   \
			y[r + 3] += s3;                                                   \
		}                                                                         \
		for (; r < n_rows; r++) {                                                 \
			const uint8_t *w0 = W + rb * (size_t)r;                           \
			__m256 a0 = _mm256_setzero_ps();                                  \
			int64_t i = 0;                                                    \
			for (; i + 8 <= n; i += 8)                                        \
				a0 = _mm256_fmadd_ps(LOAD8(w0 + ELEM * i), _mm256_loadu_ps(x + i), a0); \
			float s0 = hsum8(a0);                                             \
			for (; i < n; i++)                                                \
				s0 += SCALAR(w0 + ELEM * i) * x[i];                       \
			y[r] += s0;                                                       \
		}                                                                         \
	}

static inline __m256 load_f32x8(const uint8_t *p)
{
	return _mm256_loadu_ps((const float *)(const void *)p);
}

static inline float f32_at(const uint8_t *p)
{
	float f;

	memcpy(&f, p, sizeof f);
	return f;
}

static inline float f16_at(const uint8_t *p)
{
	return fp16_scalar(llorch_kh_load16(p));
}

static inline float bf16_at(const uint8_t *p)
{
	return llorch_kh_bf16(llorch_kh_load16(p));
}

FLOAT_ROWS_KERNEL(rows_f32, 4, load_f32x8, f32_at)
FLOAT_ROWS_KERNEL(rows_f16, 2, load_f16x8, f16_at)
FLOAT_ROWS_KERNEL(rows_bf16, 2, load_bf16x8, bf16_at)

/* Sum of u8 * s8 products of 32 pairs, as 8 int32 lanes. */
static inline __m256i dot_u8s8(__m256i u, __m256i s)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* Signed int8 x signed int8 through maddubs: |w| * (x with w's sign). */
static inline __m256 dot_q8(const int8_t *wq, __m256i xq)
{
	__m256i w = _mm256_loadu_si256((const __m256i *)(const void *)wq);
	return _mm256_cvtepi32_ps(dot_u8s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(xq, w)));
}

/* The 32 nibbles of a Q4_0 block as bytes 0..15 in x's order: low nibbles
 * are values 0..15, high nibbles 16..31. */
static inline __m256i unpack_q4(const uint8_t *qs)
{
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)qs);
	__m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
	return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

static void rows_q8_0(const uint8_t *W, size_t rb, const void *xv, int64_t n, float *y,
		int64_t n_rows)
{
	const llorch_block_q8a *x = xv;
	int64_t nb = n / 32, r = 0;

	for (; r + ROWS <= n_rows; r += ROWS) {
		const llorch_block_q8_0 *w[ROWS];
		__m256 acc[ROWS];
		for (int k = 0; k < ROWS; k++) {
			w[k] = (const llorch_block_q8_0 *)(const void *)(W + rb * (size_t)(r + k));
			acc[k] = _mm256_setzero_ps();
		}
		for (int64_t b = 0; b < nb; b++) {
			__m256i xq = _mm256_loadu_si256((const __m256i *)(const void *)x[b].qs);
			for (int k = 0; k < ROWS; k++) {
				__m256 d = _mm256_set1_ps(fp16_scalar(w[k][b].d) * x[b].d);
				acc[k] = _mm256_fmadd_ps(d, dot_q8(w[k][b].qs, xq), acc[k]);
			}
		}
		for (int k = 0; k < ROWS; k++)
			y[r + k] += hsum8(acc[k]);
	}
	for (; r < n_rows; r++) {
		const llorch_block_q8_0 *w = (const llorch_block_q8_0 *)(const void *)(W + rb * (size_t)r);
		__m256 acc = _mm256_setzero_ps();
		for (int64_t b = 0; b < nb; b++) {
			__m256i xq = _mm256_loadu_si256((const __m256i *)(const void *)x[b].qs);
			__m256 d = _mm256_set1_ps(fp16_scalar(w[b].d) * x[b].d);
			acc = _mm256_fmadd_ps(d, dot_q8(w[b].qs, xq), acc);
		}
		y[r] += hsum8(acc);
	}
}

/* sum((nib - 8) * q) * dw * dx = dw * (dx * sum(nib * q) - 8 * s): the
 * unsigned nibbles go straight into maddubs, the offset is one scalar FMA. */
static void rows_q4_0(const uint8_t *W, size_t rb, const void *xv, int64_t n, float *y,
		int64_t n_rows)
{
	const llorch_block_q8a *x = xv;
	int64_t nb = n / 32, r = 0;

	for (; r + ROWS <= n_rows; r += ROWS) {
		const llorch_block_q4_0 *w[ROWS];
		__m256 acc[ROWS];
		float corr[ROWS];
		for (int k = 0; k < ROWS; k++) {
			w[k] = (const llorch_block_q4_0 *)(const void *)(W + rb * (size_t)(r + k));
			acc[k] = _mm256_setzero_ps();
			corr[k] = 0;
		}
		for (int64_t b = 0; b < nb; b++) {
			__m256i xq = _mm256_loadu_si256((const __m256i *)(const void *)x[b].qs);
			for (int k = 0; k < ROWS; k++) {
				float dw = fp16_scalar(w[k][b].d);
				__m256 dot = _mm256_cvtepi32_ps(dot_u8s8(unpack_q4(w[k][b].qs), xq));
				acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x[b].d), dot, acc[k]);
				corr[k] += dw * x[b].s;
			}
		}
		for (int k = 0; k < ROWS; k++)
			y[r + k] += hsum8(acc[k]) - 8.0f * corr[k];
	}
	for (; r < n_rows; r++) {
		const llorch_block_q4_0 *w = (const llorch_block_q4_0 *)(const void *)(W + rb * (size_t)r);
		__m256 acc = _mm256_setzero_ps();
		float corr = 0;
		for (int64_t b = 0; b < nb; b++) {
			__m256i xq = _mm256_loadu_si256((const __m256i *)(const void *)x[b].qs);
			float dw = fp16_scalar(w[b].d);
			__m256 dot = _mm256_cvtepi32_ps(dot_u8s8(unpack_q4(w[b].qs), xq));
			acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * x[b].d), dot, acc);
			corr += dw * x[b].s;
		}
		y[r] += hsum8(acc) - 8.0f * corr;
	}
}

const llorch_kernel_set llorch_kernels_avx2 = {
	.name = "avx2",
	.rows = { rows_f32, rows_f16, rows_bf16, rows_q8_0, rows_q4_0 },
	.quantize_act = llorch_quantize_act_scalar,
	.dequantize = llorch_dequantize_scalar,
};
