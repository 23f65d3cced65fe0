/* Private to the kernel files: the per-instruction-set kernel table that
 * kernels.c dispatches to, and the activation block format. */
#ifndef LLORCH_KERNELS_IMPL_H
#define LLORCH_KERNELS_IMPL_H

#include <string.h>

#include "kernels.h"

/* Activations for the quantized dot products: x is quantized on the fly, 32
 * values at a time, to int8 with a float scale (as ggml's Q8_0, but with a
 * float scale and the precomputed d * sum(qs), which the Q4_0 kernels need
 * to remove the nibbles' offset of 8). x ~= d * qs. */
typedef struct {
	float d;
	float s;       /* d * sum(qs) */
	int8_t qs[32];
} llorch_block_q8a;

/* Activation blocks quantized per pass over x: kernels.c feeds long rows to
 * the row kernels in segments of this many values (per vector, however many
 * vectors) so that the quantized x fits a fixed stack buffer (40 KiB for
 * LLORCH_MULTI_MAX vectors; the AVX-512 kernels prepare up to four of them
 * in 48 KiB more). Rows up to this long are read in one pass, which decode
 * from memory needs: 2048 cost GPT-2's 3072-long rows 15-20%. */
#define LLORCH_SEG_VALUES 4096
#define LLORCH_SEG_BLOCKS (LLORCH_SEG_VALUES / 32)
/* The longest rows the rows_long kernels read in one pass. */
#define LLORCH_LONG_ROW_VALUES (4 * LLORCH_SEG_VALUES)

/* Indices into the row-kernel table. */
enum { LLORCH_KT_F32, LLORCH_KT_F16, LLORCH_KT_BF16, LLORCH_KT_Q8_0, LLORCH_KT_Q4_0, LLORCH_KT_N };

/* y[r] += dot(row r of W, x) for r in 0..n_rows-1, over n values (a multiple
 * of 32 for the quantized types). W points at the first value of the segment
 * in row 0; rows are row_bytes apart. x is float * (n) for float weights,
 * const llorch_block_q8a * (n / 32) for quantized ones. */
typedef void (*llorch_rows_fn)(const uint8_t *W, size_t row_bytes, const void *x,
		int64_t n, float *y, int64_t n_rows);

/* Up to this many vectors go through the row kernels at once (a batched
 * decode step, a short prompt) rather than through GEMM. */
#define LLORCH_MULTI_MAX 8

/* The row kernels for several activation vectors at once:
 * y[t * y_stride + r] += dot(row r of W, vector t) for t in 0..n_x-1
 * (n_x <= LLORCH_MULTI_MAX) and r in 0..n_rows-1, vector t starting at
 * x + t * x_stride (in floats for float weights, in blocks for quantized
 * ones, as for llorch_rows_fn). Each weight vector or block is loaded and
 * converted or unpacked once for all the vectors. Per (row, vector) the
 * result is bit-identical to the single-vector kernel's (the same float
 * operations in the same order), so that a sequence decodes to the same
 * tokens alone or in a batch. */
typedef void (*llorch_rows_multi_fn)(const uint8_t *W, size_t row_bytes, const void *x,
		int64_t x_stride, int n_x, int64_t n, float *y, int64_t y_stride, int64_t n_rows);

typedef struct {
	const char *name;
	llorch_rows_fn rows[LLORCH_KT_N];
	/* NULL where a level has none (scalar):
	 * kernels.c then runs rows[] once per vector over chunks of rows that
	 * stay in L2. */
	llorch_rows_multi_fn rows_multi[LLORCH_KT_N];
	/* Optional, for quantized types: one vector's rows of more than
	 * LLORCH_SEG_VALUES and up to LLORCH_LONG_ROW_VALUES values, each row
	 * group read whole in one pass, the sum of each segment added to y in
	 * turn: the same bits as rows[] called segment by segment. */
	llorch_rows_fn rows_long[LLORCH_KT_N];
	/* x (n, a multiple of 32) -> n / 32 activation blocks. */
	void (*quantize_act)(const float *x, llorch_block_q8a *out, int64_t n);
	/* dst (n) = W row src (n values of the kernel's type) as float; n a
	 * multiple of 32 for quantized types. */
	void (*dequantize)(int kt, const uint8_t *src, float *dst, int64_t n);
	/* Optional (else sgemm): Y (n_tok, n_cols <= 32; rows ldy apart) =
	 * X (n_tok, K) . P with P a panel of 32 weight rows packed as (K, 32). */
	void (*gemm_panel)(const float *X, int64_t n_tok, int64_t K, const float *P,
			int n_cols, float *Y, int64_t ldy);
	/* Optional (else gemm_panel on dequantized weights), for Q8_0 and Q4_0:
	 * Y (n_tok >= LLORCH_QGEMM_MIN_TOK, n_cols <= 32; rows ldy apart) = X . W^T over n_cols rows
	 * of W (type kt, rows row_bytes apart), X given
	 * as n_tok rows of nb activation blocks whose quants are stored biased
	 * by +128 (read as unsigned bytes) unless qgemm_x_signed; scratch:
	 * 64-byte aligned, nb * LLORCH_QPANEL_BLOCK_BYTES. */
	void (*qgemm_panel)(int kt, const uint8_t *W, size_t row_bytes, int n_cols,
			const llorch_block_q8a *X, int64_t n_tok, int64_t nb, void *scratch,
			float *Y, int64_t ldy);
	bool qgemm_x_signed;
	/* With gemm_panel: P[i * LLORCH_PANEL + r] = rows[r][i] for i in 0..n-1
	 * and r in 0..15 (half a panel), the rows' values of kernel type kt
	 * (F32, F16 or BF16) as float; a NULL row packs as zeros. */
	void (*pack16)(int kt, const void *const rows[16], int64_t n, float *P);
	/* llorch_attn_row at this level, over a cache of kernel type kt (F32,
	 * F16, or Q8_0 with hd and kv_stride multiples of 32) */
	void (*attn_row)(int kt, const float *q, const void *k, const void *v, int64_t kv_stride,
			int64_t hd, int64_t n_kv, float scale, float *scores, float *out);
	/* Optional (else attn_row per row): llorch_attn_tile at this level */
	void (*attn_tile)(int kt, const float *q, int64_t q_stride, const void *k, const void *v,
			int64_t kv_stride, int64_t hd, int64_t pos0, int n_q, float scale,
			float *scratch, float *out, int64_t out_stride);
	/* dst (n) = src as f16, rounded to nearest even: a KV cache row stored */
	void (*to_f16)(const float *src, uint16_t *dst, int64_t n);
	void (*gelu)(float *x, int64_t n);
	void (*silu_mul)(float *gate, const float *up, int64_t n);
	/* llorch_vec_add, llorch_vec_layernorm, llorch_vec_rmsnorm */
	void (*add)(float *x, const float *b, int64_t n);
	void (*layernorm)(float *y, const float *x, const float *w, const float *b, int64_t n,
			float eps);
	void (*rmsnorm)(float *y, const float *x, const float *w, int64_t n, float eps);
	/* The largest x_i of x (n), NaN skipped: -inf when there is none. */
	float (*max)(const float *x, int64_t n);
	/* The sum over x (n) of e^(x_i - mx), in double; NaN and -inf add 0.
	 * mx is finite and no x_i is above it. */
	double (*sum_exp)(const float *x, int64_t n, float mx);
	/* The index of the first x_i > bar in x (n), n when there is none. */
	int64_t (*find_above)(const float *x, int64_t n, float bar);
} llorch_kernel_set;

void llorch_add_scalar(float *x, const float *b, int64_t n);
void llorch_layernorm_scalar(float *y, const float *x, const float *w, const float *b,
		int64_t n, float eps);
void llorch_rmsnorm_scalar(float *y, const float *x, const float *w, int64_t n, float eps);
void llorch_add_avx2(float *x, const float *b, int64_t n);
void llorch_layernorm_avx2(float *y, const float *x, const float *w, const float *b,
		int64_t n, float eps);
void llorch_rmsnorm_avx2(float *y, const float *x, const float *w, int64_t n, float eps);
void llorch_add_avx512(float *x, const float *b, int64_t n);
void llorch_layernorm_avx512(float *y, const float *x, const float *w, const float *b,
		int64_t n, float eps);
void llorch_rmsnorm_avx512(float *y, const float *x, const float *w, int64_t n, float eps);
float llorch_max_scalar(const float *x, int64_t n);
double llorch_sum_exp_scalar(const float *x, int64_t n, float mx);
float llorch_max_avx512(const float *x, int64_t n);
double llorch_sum_exp_avx512(const float *x, int64_t n, float mx);
int64_t llorch_find_above_scalar(const float *x, int64_t n, float bar);
int64_t llorch_find_above_avx512(const float *x, int64_t n, float bar);
void llorch_gelu_scalar(float *x, int64_t n);
void llorch_silu_mul_scalar(float *gate, const float *up, int64_t n);
void llorch_gelu_avx2(float *x, int64_t n);
void llorch_silu_mul_avx2(float *gate, const float *up, int64_t n);
void llorch_gelu_avx512(float *x, int64_t n);
void llorch_silu_mul_avx512(float *gate, const float *up, int64_t n);
void llorch_attn_row_scalar(int kt, const float *q, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t n_kv, float scale, float *scores, float *out);
void llorch_to_f16_scalar(const float *src, uint16_t *dst, int64_t n);
void llorch_rows_q4_0_avx2(const uint8_t *W, size_t rb, const void *x, int64_t n, float *y,
		int64_t n_rows);
void llorch_rows_q4_0_avx2_multi(const uint8_t *W, size_t rb, const void *x, int64_t xs,
		int n_x, int64_t n, float *y, int64_t ys, int64_t n_rows);
void llorch_attn_row_avx2(int kt, const float *q, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t n_kv, float scale, float *scores, float *out);
void llorch_attn_tile_avx2(int kt, const float *q, int64_t q_stride, const void *k,
		const void *v, int64_t kv_stride, int64_t hd, int64_t pos0, int n_q, float scale,
		float *scratch, float *out, int64_t out_stride);
void llorch_attn_row_avx512(int kt, const float *q, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t n_kv, float scale, float *scores, float *out);
void llorch_attn_tile_avx512(int kt, const float *q, int64_t q_stride, const void *k,
		const void *v, int64_t kv_stride, int64_t hd, int64_t pos0, int n_q, float scale,
		float *scratch, float *out, int64_t out_stride);
void llorch_to_f16_avx512(const float *src, uint16_t *dst, int64_t n);

#define LLORCH_PANEL 32

/* A 32-row panel of quantized weights packed for qgemm_panel, per block. */
#define LLORCH_QPANEL_BLOCK_BYTES 1280
#define LLORCH_QGEMM_MIN_TOK 6

void llorch_qgemm_panel_avx2(int kt, const uint8_t *W, size_t row_bytes, int n_cols,
		const llorch_block_q8a *X, int64_t n_tok, int64_t nb, void *scratch,
		float *Y, int64_t ldy);
void llorch_qgemm_panel_avx512(int kt, const uint8_t *W, size_t row_bytes, int n_cols,
		const llorch_block_q8a *X, int64_t n_tok, int64_t nb, void *scratch,
		float *Y, int64_t ldy);

/* kernels_quant_avx512.c, per type and without and with VNNI: NAME (a
 * llorch_rows_fn), NAME_multi (a llorch_rows_multi_fn), NAME_long (a
 * rows_long kernel, also a llorch_rows_fn). */
#define LLORCH_QUANT_ROWS_DECL(NAME)                                                      \
	void NAME(const uint8_t *W, size_t row_bytes, const void *x, int64_t n, float *y, \
			int64_t n_rows);                                                  \
	void NAME##_multi(const uint8_t *W, size_t row_bytes, const void *x,              \
			int64_t x_stride, int n_x, int64_t n, float *y, int64_t y_stride, \
			int64_t n_rows);                                                  \
	void NAME##_long(const uint8_t *W, size_t row_bytes, const void *x, int64_t n,    \
			float *y, int64_t n_rows);
LLORCH_QUANT_ROWS_DECL(llorch_rows_q8_0_avx512)
LLORCH_QUANT_ROWS_DECL(llorch_rows_q4_0_avx512)
LLORCH_QUANT_ROWS_DECL(llorch_rows_q8_0_vnni)
LLORCH_QUANT_ROWS_DECL(llorch_rows_q4_0_vnni)

void llorch_gemm_panel_avx512(const float *X, int64_t n_tok, int64_t K, const float *P,
		int n_cols, float *Y, int64_t ldy);
void llorch_pack16_avx512(int kt, const void *const rows[16], int64_t n, float *P);

/* The portable implementations, shared by every level where SIMD would not
 * pay: x is quantized once per matvec, tiles are dequantized once per
 * prompt batch. */
void llorch_quantize_act_scalar(const float *x, llorch_block_q8a *out, int64_t n);
void llorch_dequantize_scalar(int kt, const uint8_t *src, float *dst, int64_t n);

extern const llorch_kernel_set llorch_kernels_scalar;
extern const llorch_kernel_set llorch_kernels_avx2;
extern const llorch_kernel_set llorch_kernels_avx512;
extern const llorch_kernel_set llorch_kernels_avx512_vnni;

/* Rows per pass of the SIMD kernels: each load of x serves this many rows. */
#define LLORCH_ROWS 4

/* The row kernels spend enough time per byte that the hardware prefetchers
 * fall behind on rows streamed from memory; asking for lines at least this
 * many bytes ahead (float kernels: further along the row, or past its end
 * into the next; quantized ones: of the row group that far on) measured
 * 20-50% faster single-threaded. */
#define LLORCH_PREFETCH_BYTES 8192

/* Pointers to rows r .. r + LLORCH_ROWS - 1 of W; those at or past n_rows
 * alias row r, so that a kernel's last group runs the full-width code and
 * stores only the first (returned) count of results. */
static inline int llorch_row_group(const uint8_t *W, size_t rb, int64_t r, int64_t n_rows,
		const uint8_t **w)
{
	int nr = n_rows - r < LLORCH_ROWS ? (int)(n_rows - r) : LLORCH_ROWS;

	for (int k = 0; k < LLORCH_ROWS; k++)
		w[k] = W + rb * (size_t)(r + (k < nr ? k : 0));
	return nr;
}

/* The quantized row kernels' prefetches for step i of a row group (rows
 * w, the group's first byte lp), step bytes a row: every line of the
 * bytes the step reads, pf bytes on (LLORCH_PREFETCH_BYTES rounded up to
 * whole groups), in memory order when the rows are read whole (lin: the
 * group's rows are adjacent). A step may be longer than a line (AVX-512
 * Q8_0: 68 bytes a row), where one prefetch a row and step would leave
 * lines out, which then cost a demand miss each. always_inline: GCC 12 takes a function that only prefetches
 * for one without side effects and drops its calls. */
__attribute__((always_inline)) static inline void llorch_prefetch_step(const uint8_t *const *w,
		const uint8_t *lp, size_t step, int64_t i, size_t pf, bool lin)
{
	if (lin) {
		const char *p = (const char *)lp + pf + LLORCH_ROWS * step * (size_t)i;
		for (size_t o = 0; o < LLORCH_ROWS * step; o += 64)
			__builtin_prefetch(p + o, 0, 3);
		return;
	}
	for (int k = 0; k < LLORCH_ROWS; k++) {
		const char *p = (const char *)w[k] + pf + step * (size_t)i;
		for (size_t o = 0; o < step; o += 64)
			__builtin_prefetch(p + o, 0, 3);
		__builtin_prefetch(p + step - 1, 0, 3);
	}
}

/* llorch_prefetch_step's pf for rows of rb bytes: LLORCH_PREFETCH_BYTES
 * rounded up to whole row groups, so that a row's prefetch lands on the
 * same row of a later group. */
static inline size_t llorch_prefetch_distance(size_t rb)
{
	size_t group = rb * LLORCH_ROWS;

	return group ? (LLORCH_PREFETCH_BYTES + group - 1) / group * group : 0;
}

/* Rows j0 .. j1 - 1 (rows stride bytes apart from p), bytes of each, on
 * their way to L1: for attention, the keys or values of a few positions
 * ahead; for a grain of weights, the start of one run. Always inlined: a
 * call in the attention loops spills their accumulators (every vector
 * register is caller-saved), which cost 40% of decode at depth 512. */
static inline __attribute__((always_inline)) void llorch_prefetch_rows(const void *p,
		size_t stride, size_t bytes, int64_t j0, int64_t j1)
{
	for (int64_t j = j0; j < j1; j++) {
		const char *row = (const char *)p + (size_t)j * stride;
		for (size_t o = 0; o < bytes; o += 64)
			__builtin_prefetch(row + o, 0, 3);
		__builtin_prefetch(row + bytes - 1, 0, 3);
	}
}

/* Bytes of n values of kernel type kt (n a multiple of 32 when quantized);
 * inlined, so that a kernel whose kt is a constant gets a constant. */
static inline size_t llorch_kt_bytes(int kt, int64_t n)
{
	switch (kt) {
	case LLORCH_KT_F32: return (size_t)n * 4;
	case LLORCH_KT_F16:
	case LLORCH_KT_BF16: return (size_t)n * 2;
	case LLORCH_KT_Q8_0: return (size_t)(n / 32) * sizeof(llorch_block_q8_0);
	case LLORCH_KT_Q4_0: return (size_t)(n / 32) * sizeof(llorch_block_q4_0);
	default: return 0;
	}
}

/* IEEE half and bfloat16 to float, bit exact, for the portable kernels. */
static inline float llorch_kh_fp16(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ff;
	uint32_t bits;
	float f;

	if (exp == 0x1f) {
		bits = sign | 0x7f800000 | (man << 13);
	} else if (exp != 0) {
		bits = sign | ((exp + 112) << 23) | (man << 13);
	} else if (man == 0) {
		bits = sign;
	} else {
		/* subnormal half: normalise into a float */
		int e = -1;
		do {
			e++;
			man <<= 1;
		} while (!(man & 0x400));
		bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
	}
	memcpy(&f, &bits, sizeof f);
	return f;
}

static inline float llorch_kh_bf16(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, sizeof f);
	return f;
}

static inline uint16_t llorch_kh_load16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

/* One weight as float, for the kernels' scalar tails. */
static inline float llorch_kh_f32_at(const uint8_t *p)
{
	float f;

	memcpy(&f, p, sizeof f);
	return f;
}

static inline float llorch_kh_f16_at(const uint8_t *p)
{
	return llorch_kh_fp16(llorch_kh_load16(p));
}

static inline float llorch_kh_bf16_at(const uint8_t *p)
{
	return llorch_kh_bf16(llorch_kh_load16(p));
}

#endif
