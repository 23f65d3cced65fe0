/* Internal compute kernels behind the forward pass; not installed.
 *
 * Every optimised kernel has a naive scalar reference beside it (the _ref
 * functions), and tests compare them. Weight matrices are (n_out, n_in) in
 * ggml order: n_out rows of n_in values of type t, rows contiguous, n_in a
 * multiple of the type's block size.
 */
#ifndef LLORCH_KERNELS_H
#define LLORCH_KERNELS_H

#include "internal.h"
#include "threadpool.h"

/* y (n_out) = W (n_out, n_in) . x (n_in), reference: dequantize each row and
 * accumulate in double. */
void llorch_matvec_ref(llorch_dtype t, const void *W, const float *x, float *y,
		int64_t n_in, int64_t n_out);

/* y (n_out) = W (n_out, n_in) . x (n_in), fast and threaded over rows on pool
 * (NULL: the calling thread alone). */
void llorch_matvec(llorch_threadpool *pool, llorch_dtype t, const void *W,
		const float *x, float *y, int64_t n_in, int64_t n_out);

/* One of several products with the same x: y (n_out) = W (n_out, n_in) . x. */
typedef struct {
	llorch_dtype type;
	const void *W;
	float *y;
	int64_t n_out;
} llorch_matvec_part;

/* llorch_matvec for each part, with the same results, in one pool run (per
 * four parts) instead of one each: Llama's q, k and v, or its gate and up,
 * cost one wake-up and one wait per token instead of three or two. */
void llorch_matvec_parts(llorch_threadpool *pool, const float *x, int64_t n_in,
		const llorch_matvec_part *parts, int n_parts);

/* llorch_matmul for each part (y (n_tok, n_out)), with the same results; a
 * few tokens (a batched decode step) take one pool run per four parts. */
void llorch_matmul_parts(llorch_threadpool *pool, const float *X, int64_t n_tok, int64_t n_in,
		const llorch_matvec_part *parts, int n_parts);

/* Y (n_tok, n_out) = X (n_tok, n_in) . W^T: prompt processing as matrix-matrix
 * work (sgemm for F32, dequantised tiles or own kernels otherwise). */
void llorch_matmul(llorch_threadpool *pool, llorch_dtype t, const void *W,
		const float *X, float *Y, int64_t n_in, int64_t n_out, int64_t n_tok);

/* What a product does to its outputs: Y[t] += bias (n_out, or NULL), then
 * the activation. */
typedef enum { LLORCH_ACT_NONE, LLORCH_ACT_GELU } llorch_act;
typedef struct {
	const float *bias;
	llorch_act act;
} llorch_epilogue;
/* llorch_matmul, then ep (NULL: none) on every row of Y, with the bits of
 * llorch_vec_add and llorch_vec_gelu after it; each thread applies it to
 * the columns it computed while they are in its cache, where a pass after
 * the product ran on one thread and read half of Y from the other core. */
void llorch_matmul_ep(llorch_threadpool *pool, llorch_dtype t, const void *W,
		const float *X, float *Y, int64_t n_in, int64_t n_out, int64_t n_tok,
		const llorch_epilogue *ep);

/* Attention of one query row over one head's cache: out (hd) =
 * sum_j softmax_j(scale * q . k_j) * v_j for j in 0..n_kv-1, where
 * k_j = k + j * kv_stride and v_j = v + j * kv_stride (hd values each, of
 * type kv_type: F32, F16, or Q8_0 with hd and kv_stride multiples of 32;
 * kv_stride counts values, not bytes).
 * scores: n_kv floats of scratch. n_kv >= 1. */
void llorch_attn_row(llorch_dtype kv_type, const float *q, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t n_kv, float scale, float *scores, float *out);
/* Prefetches the first keys (up to LLORCH_ATTN_LEAD of n_kv) of a cache
 * laid out as for llorch_attn_row, for a unit of attention about to run. */
#define LLORCH_ATTN_LEAD 16
void llorch_attn_prefetch(llorch_dtype kv_type, const void *k, int64_t kv_stride, int64_t hd,
		int64_t n_kv);
/* Query rows per llorch_attn_tile. */
#define LLORCH_ATTN_TILE 32

/* Floats of scratch llorch_attn_tile needs with head size hd and keys up
 * to n_kv (also enough for llorch_attn_row over n_kv keys). */
static inline size_t llorch_attn_tile_scratch(int64_t hd, int64_t n_kv)
{
	return (size_t)LLORCH_ATTN_TILE * (size_t)(hd + n_kv);
}

/* Causal attention of n_q (1..LLORCH_ATTN_TILE) consecutive query rows of
 * one head at positions pos0 .. pos0 + n_q - 1 of one cache: row i (at
 * q + i * q_stride, hd floats) attends to keys 0 .. pos0 + i as
 * llorch_attn_row does, into out + i * out_stride. A prompt's attention as
 * matrix-matrix work: each key and value read serves the whole tile.
 * scratch: llorch_attn_tile_scratch(hd, pos0 + n_q) floats. */
void llorch_attn_tile(llorch_dtype kv_type, const float *q, int64_t q_stride, const void *k,
		const void *v, int64_t kv_stride, int64_t hd, int64_t pos0, int n_q, float scale,
		float *scratch, float *out, int64_t out_stride);
/* llorch_attn_row in double precision, plain loops. */
void llorch_attn_row_ref(llorch_dtype kv_type, const float *q, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t n_kv, float scale, float *out);
/* dst (n) = src as f16, rounded to nearest even (llorch_fp32_to_fp16's
 * bits): the rows an f16 KV cache stores. */
void llorch_vec_to_f16(const float *src, uint16_t *dst, int64_t n);
/* dst (n / 32 blocks) = src (n, a multiple of 32) as q8_0: the rows a q8_0
 * KV cache stores. The quants are the activation quantizer's (d = amax /
 * 127, x / d rounded to nearest even; for finite x the same bits at every
 * level), the scale d then rounded to f16. */
void llorch_vec_to_q8_0(const float *src, llorch_block_q8_0 *dst, int64_t n);

/* log(sum_i e^(x_i)) over x (n), NaN counted as -inf: +inf when some x_i is
 * +inf, -inf when every x_i is -inf or NaN (or n is 0). The sampler's
 * normaliser for log-probabilities, once per token over the vocabulary:
 * libm's expf made it most of the time between two tokens. */
float llorch_vec_log_sum_exp(const float *x, int64_t n);
/* The largest x_i of x (n), NaN skipped: -inf when there is none. */
float llorch_vec_max(const float *x, int64_t n);
/* The index of the first x_i > bar in x (n), n when there is none (NaN is
 * never above): the sampler's pass over the vocabulary for top-k. */
int64_t llorch_vec_find_above(const float *x, int64_t n, float bar);
float llorch_vec_log_sum_exp_ref(const float *x, int64_t n);
/* In place: x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))). */
void llorch_vec_gelu(float *x, int64_t n);
/* gate (n) = gate / (1 + exp(-gate)) * up */
void llorch_vec_silu_mul(float *gate, const float *up, int64_t n);
/* x (n) += b (n) */
void llorch_vec_add(float *x, const float *b, int64_t n);
/* y (n) = (x - mean) / sqrt(var + eps) * w + b (b may be NULL), the mean and
 * the centred variance summed in double. y may be x. */
void llorch_vec_layernorm(float *y, const float *x, const float *w, const float *b,
		int64_t n, float eps);
/* y (n) = x / sqrt(mean(x^2) + eps) * w, the sum in double. y may be x. */
void llorch_vec_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);
/* The same in double precision. */
void llorch_vec_gelu_ref(float *x, int64_t n);
void llorch_vec_silu_mul_ref(float *gate, const float *up, int64_t n);

/* Bytes one matvec reads from W. */
size_t llorch_weight_bytes(llorch_dtype t, int64_t n_in, int64_t n_out);

/* The SIMD level chosen at run time: "avx512", "avx2" or "scalar".
 * LLORCH_SIMD=scalar|avx2|avx512 in the environment caps it (for tests). */
const char *llorch_simd_level(void);

/* Switches to the named level ("scalar", "avx2", "avx512"; "avx512-novnni"
 * forgoes VNNI and still reports "avx512") if this CPU runs it; false
 * otherwise. For tests and benchmarks: not safe while kernels run
 * in other threads. */
bool llorch_simd_set(const char *level);

#endif
