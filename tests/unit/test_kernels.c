/* The compute kernels against the double-precision reference: every weight
 * type, matvec and matmul, odd shapes, 1..4 threads, every SIMD level this
 * CPU runs. Tolerances are error bounds computed from the data, not fudge
 * factors: float rounding of the sums, plus for quantized weights the error of
 * quantizing x to 8 bits per block (at most half a step of amax/127). */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>
#include <time.h>

#include "kernels_impl.h"

static const char *const levels[] = {"scalar", "avx2", "avx512-novnni", "avx512"};
static const llorch_dtype types[] = {
	LLORCH_DT_F32, LLORCH_DT_F16, LLORCH_DT_BF16, LLORCH_DT_Q8_0, LLORCH_DT_Q4_0,
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible across runs and platforms */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static float rnd_unit(void)
{
	return (float)rnd() / 4294967296.0f * 2.0f - 1.0f;
}

/* A half with a random sign and mantissa and an exponent field in [lo, hi]. */
static uint16_t rnd_half(int lo, int hi)
{
	uint32_t e = (uint32_t)lo + rnd() % (uint32_t)(hi - lo + 1);
	return (uint16_t)((rnd() & 0x8000) | (e << 10) | (rnd() & 0x3ff));
}

static size_t row_bytes(llorch_dtype t, int64_t n)
{
	size_t b = 0;

	assert_int_equal(llorch_dtype_row_bytes(t, n, &b), LLORCH_OK);
	return b;
}

/* Random weights of type t, (n_out, n_in), with a few zero rows and edge
 * values (int8 -128, half subnormals). */
static void *random_weights(llorch_dtype t, int64_t n_in, int64_t n_out)
{
	size_t rb = row_bytes(t, n_in);
	uint8_t *w = malloc(rb * (size_t)n_out);

	assert_non_null(w);
	for (int64_t r = 0; r < n_out; r++) {
		uint8_t *row = w + rb * (size_t)r;
		for (int64_t i = 0; i < n_in; i++) {
			switch (t) {
			case LLORCH_DT_F32: {
				float v = rnd_unit();
				memcpy(row + 4 * i, &v, 4);
				break;
			}
			case LLORCH_DT_F16: {
				uint16_t h = i % 97 == 5 ? (uint16_t)(rnd() & 0x83ff) : rnd_half(10, 16);
				memcpy(row + 2 * i, &h, 2);
				break;
			}
			case LLORCH_DT_BF16: {
				uint16_t h = (uint16_t)((rnd() & 0x8000) | ((120 + rnd() % 9) << 7) | (rnd() & 0x7f));
				memcpy(row + 2 * i, &h, 2);
				break;
			}
			default:
				break;
			}
		}
		if (t == LLORCH_DT_Q8_0) {
			llorch_block_q8_0 *b = (llorch_block_q8_0 *)(void *)row;
			for (int64_t k = 0; k < n_in / 32; k++) {
				b[k].d = rnd_half(5, 10);
				for (int q = 0; q < 32; q++)
					b[k].qs[q] = (int8_t)(q == 7 ? -128 : (int)(rnd() % 256) - 128);
			}
		} else if (t == LLORCH_DT_Q4_0) {
			llorch_block_q4_0 *b = (llorch_block_q4_0 *)(void *)row;
			for (int64_t k = 0; k < n_in / 32; k++) {
				b[k].d = rnd_half(5, 10);
				for (int q = 0; q < 16; q++)
					b[k].qs[q] = (uint8_t)rnd();
			}
		}
		if (r % 13 == 12)
			memset(row, 0, rb);
	}
	return w;
}

/* x with a different scale per 32-block, so that per-block quantization of
 * the activations matters. */
static float *random_x(int64_t n)
{
	float *x = malloc((size_t)n * sizeof *x);

	assert_non_null(x);
	for (int64_t b = 0; b < n; b += 32) {
		float scale = ldexpf(1.0f, (int)(rnd() % 9) - 4);
		for (int64_t i = b; i < b + 32 && i < n; i++)
			x[i] = scale * rnd_unit();
	}
	return x;
}

static bool is_quant(llorch_dtype t)
{
	return t == LLORCH_DT_Q8_0 || t == LLORCH_DT_Q4_0;
}

/* Error bounds per output row: float accumulation over n_in terms, and for
 * quantized weights sum |w_i| * step_i / 2 with step = amax(block) / 127. */
static void bounds(llorch_dtype t, const void *W, const float *x, int64_t n_in, int64_t n_out,
		double *tol)
{
	size_t rb = row_bytes(t, n_in);
	float *w = malloc((size_t)n_in * sizeof *w);

	assert_non_null(w);
	float *amax = calloc((size_t)(n_in / 32 + 1), sizeof *amax);

	assert_non_null(amax);
	for (int64_t i = 0; i < n_in; i++)
		amax[i / 32] = fmaxf(amax[i / 32], fabsf(x[i]));
	for (int64_t r = 0; r < n_out; r++) {
		double mag = 0, qerr = 0;
		assert_int_equal(llorch_dequantize_row(t, (const uint8_t *)W + rb * (size_t)r, w, n_in), LLORCH_OK);
		for (int64_t i = 0; i < n_in; i++) {
			mag += fabs((double)w[i] * x[i]);
			if (is_quant(t))
				qerr += fabs((double)w[i]) * (amax[i / 32] / 127.0) * 0.5;
		}
		tol[r] = mag * (2.0 + (double)n_in) * 1.2e-7 + qerr * 1.001 + 1e-30;
	}
	free(amax);
	free(w);
}

static void check_close(const char *what, llorch_dtype t, int threads, int64_t n_in, int64_t row,
		float got, float want, double tol)
{
	if (!(fabs((double)got - (double)want) <= tol)) {
		print_error("%s %s level %s threads %d n_in %lld row %lld: got %.9g want %.9g (tol %.3g)\n",
				what, llorch_dtype_name(t), llorch_simd_level(), threads,
				(long long)n_in, (long long)row, got, want, tol);
		fail();
	}
}

static void check_matvec(llorch_dtype t, int64_t n_in, int64_t n_out, llorch_threadpool *pool)
{
	void *W = random_weights(t, n_in, n_out);
	float *x = random_x(n_in);
	float *y = malloc((size_t)n_out * sizeof *y), *yr = malloc((size_t)n_out * sizeof *yr);
	double *tol = malloc((size_t)n_out * sizeof *tol);

	assert_true(y && yr && tol);
	llorch_matvec_ref(t, W, x, yr, n_in, n_out);
	bounds(t, W, x, n_in, n_out, tol);
	for (int64_t r = 0; r < n_out; r++)
		y[r] = NAN;
	llorch_matvec(pool, t, W, x, y, n_in, n_out);
	for (int64_t r = 0; r < n_out; r++)
		check_close("matvec", t, llorch_threadpool_size(pool), n_in, r, y[r], yr[r], tol[r]);
	free(tol);
	free(yr);
	free(y);
	free(x);
	free(W);
}

static void check_matmul(llorch_dtype t, int64_t n_in, int64_t n_out, int64_t n_tok,
		llorch_threadpool *pool)
{
	void *W = random_weights(t, n_in, n_out);
	float *X = random_x(n_in * n_tok);
	size_t ny = (size_t)(n_out * n_tok);
	float *Y = malloc(ny * sizeof *Y), *yr = malloc((size_t)n_out * sizeof *yr);
	double *tol = malloc((size_t)n_out * sizeof *tol);

	assert_true(Y && yr && tol);
	for (size_t i = 0; i < ny; i++)
		Y[i] = NAN;
	llorch_matmul(pool, t, W, X, Y, n_in, n_out, n_tok);
	for (int64_t k = 0; k < n_tok; k++) {
		llorch_matvec_ref(t, W, X + k * n_in, yr, n_in, n_out);
		bounds(t, W, X + k * n_in, n_in, n_out, tol);
		for (int64_t r = 0; r < n_out; r++)
			check_close("matmul", t, llorch_threadpool_size(pool), n_in, r,
					Y[k * n_out + r], yr[r], tol[r]);
	}
	free(tol);
	free(yr);
	free(Y);
	free(X);
	free(W);
}

static void for_each_level(void (*fn)(llorch_threadpool *const *pools))
{
	llorch_threadpool *pools[4];

	for (int n = 1; n <= 4; n++)
		assert_int_equal(llorch_threadpool_new(n, &pools[n - 1]), LLORCH_OK);
	for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
		if (!llorch_simd_set(levels[l])) {
			fprintf(stderr, "# SIMD level %s: not supported by this CPU, skipped\n", levels[l]);
			continue;
		}
		assert_true(strncmp(llorch_simd_level(), levels[l], strlen(llorch_simd_level())) == 0);
		fn(pools);
	}
	for (int n = 1; n <= 4; n++)
		llorch_threadpool_free(pools[n - 1]);
}

static void matvec_all(llorch_threadpool *const *pools)
{
	static const int64_t n_ins[] = {32, 96, 768, 8192 + 160};
	static const int64_t n_outs[] = {1, 5, 67, 301};

	for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
		for (size_t a = 0; a < sizeof n_ins / sizeof *n_ins; a++)
			for (size_t b = 0; b < sizeof n_outs / sizeof *n_outs; b++)
				for (int n = 0; n < 4; n++)
					if (n_ins[a] * n_outs[b] <= 600000 || n == 1)
						check_matvec(types[ti], n_ins[a], n_outs[b], pools[n]);
	/* float weights take any row length: vector bodies plus scalar tails */
	for (size_t ti = 0; ti < 3; ti++)
		for (int64_t n_in = 1; n_in <= 41; n_in += 4)
			check_matvec(types[ti], n_in, 9, pools[n_in % 4]);
}

static void test_matvec(void **state)
{
	(void)state;
	for_each_level(matvec_all);
}

/* llorch_matvec_parts gives each part exactly llorch_matvec's result: five
 * parts of mixed types and sizes (more than one run's worth, one empty). */
static void matvec_parts_all(llorch_threadpool *const *pools)
{
	enum { N_PARTS = 5 };
	static const int64_t n_outs[N_PARTS] = {67, 0, 301, 5, 130};
	const int64_t n_in = 768;
	llorch_matvec_part parts[N_PARTS];
	float *want[N_PARTS];
	float *x = random_x(n_in);

	for (int n = 0; n < 4; n++) {
		for (int i = 0; i < N_PARTS; i++) {
			llorch_dtype t = types[(size_t)(i + n) % (sizeof types / sizeof *types)];
			size_t ny = (size_t)(n_outs[i] > 0 ? n_outs[i] : 1);
			parts[i] = (llorch_matvec_part){t, random_weights(t, n_in, n_outs[i]),
				malloc(ny * sizeof(float)), n_outs[i]};
			want[i] = malloc(ny * sizeof(float));
			assert_true(parts[i].y && want[i]);
			for (int64_t r = 0; r < n_outs[i]; r++)
				parts[i].y[r] = NAN;
			llorch_matvec(pools[0], t, parts[i].W, x, want[i], n_in, n_outs[i]);
		}
		llorch_matvec_parts(pools[n], x, n_in, parts, N_PARTS);
		for (int i = 0; i < N_PARTS; i++) {
			for (int64_t r = 0; r < n_outs[i]; r++)
				check_close("matvec_parts", parts[i].type, n + 1, n_in, r,
						parts[i].y[r], want[i][r], 0);
			free(want[i]);
			free(parts[i].y);
			free((void *)parts[i].W);
		}
	}
	free(x);
}

/* llorch_matmul_parts gives each part exactly llorch_matmul's result, for
 * a batched decode step's few tokens (one pool run) and for more. */
static void matmul_parts_all(llorch_threadpool *const *pools)
{
	enum { N_PARTS = 3 };
	static const int64_t n_outs[N_PARTS] = {67, 0, 130};
	static const int64_t n_toks[] = {1, 2, 4, 8, 9};
	const int64_t n_in = 96;

	for (size_t k = 0; k < sizeof n_toks / sizeof *n_toks; k++) {
		int64_t n_tok = n_toks[k];
		llorch_matvec_part parts[N_PARTS];
		float *want[N_PARTS];
		float *X = random_x(n_in * n_tok);
		for (int i = 0; i < N_PARTS; i++) {
			llorch_dtype t = types[(k + (size_t)i) % (sizeof types / sizeof *types)];
			size_t ny = (size_t)((n_outs[i] > 0 ? n_outs[i] : 1) * n_tok);
			parts[i] = (llorch_matvec_part){t, random_weights(t, n_in, n_outs[i]),
				malloc(ny * sizeof(float)), n_outs[i]};
			want[i] = malloc(ny * sizeof(float));
			assert_true(parts[i].y && want[i]);
			llorch_matmul(pools[0], t, parts[i].W, X, want[i], n_in, n_outs[i], n_tok);
		}
		llorch_matmul_parts(pools[k % 4], X, n_tok, n_in, parts, N_PARTS);
		for (int i = 0; i < N_PARTS; i++) {
			assert_memory_equal(parts[i].y, want[i],
					(size_t)(n_outs[i] * n_tok) * sizeof(float));
			free(want[i]);
			free(parts[i].y);
			free((void *)parts[i].W);
		}
		free(X);
	}
}

static void test_matmul_parts(void **state)
{
	(void)state;
	for_each_level(matmul_parts_all);
}

static void test_matvec_parts(void **state)
{
	(void)state;
	for_each_level(matvec_parts_all);
}

static void matmul_all(llorch_threadpool *const *pools)
{
	static const int64_t n_toks[] = {1, 2, 3, 4, 5, 8, 17, 67};

	for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
		for (size_t k = 0; k < sizeof n_toks / sizeof *n_toks; k++) {
			check_matmul(types[ti], 96, 37, n_toks[k], pools[k % 4]);
			if (k % 3 == 0)
				check_matmul(types[ti], 800 - 32, 131, n_toks[k], pools[(k + 1) % 4]);
			if (ti < 3)
				check_matmul(types[ti], 45 + 2 * (int64_t)k, 33, n_toks[k], pools[k % 4]);
		}
}

/* A few vectors: W is taken in row chunks and x in segments; both cross. */
static void matmul_few_all(llorch_threadpool *const *pools)
{
	for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
		check_matmul(types[ti], 2144, 301, 5, pools[ti % 4]);
}

/* Weights converted for OpenBLAS (where the level has no GEMM of its own)
 * go 8 MiB of floats per call: a chunk of 544 rows of 4096 takes two
 * calls, 512 rows and 32. */
static void matmul_conv_blocks_all(llorch_threadpool *const *pools)
{
	check_matmul(LLORCH_DT_F16, 4096, 2100, 9, pools[1]);
}

static void test_matmul_conv_blocks(void **state)
{
	(void)state;
	for_each_level(matmul_conv_blocks_all);
}

static void test_matmul_few_long_rows(void **state)
{
	(void)state;
	for_each_level(matmul_few_all);
}

static void test_matmul(void **state)
{
	(void)state;
	for_each_level(matmul_all);
}

/* sum(w * q) over block b of row `row` (type t) and activation quants q:
 * the exact integer dot product of the quantized operands. */
static int32_t block_dot(llorch_dtype t, const uint8_t *row, int64_t b, const int8_t *q)
{
	int32_t dot = 0;

	for (int i = 0; i < 32; i++) {
		int w;
		if (t == LLORCH_DT_Q8_0) {
			w = ((const llorch_block_q8_0 *)(const void *)row)[b].qs[i];
		} else {
			uint8_t byte = ((const llorch_block_q4_0 *)(const void *)row)[b].qs[i % 16];
			w = (i < 16 ? byte & 0x0f : byte >> 4) - 8;
		}
		dot += w * q[i];
	}
	return dot;
}

static uint16_t block_scale(llorch_dtype t, const uint8_t *row, int64_t b)
{
	return t == LLORCH_DT_Q8_0 ? ((const llorch_block_q8_0 *)(const void *)row)[b].d
			: ((const llorch_block_q4_0 *)(const void *)row)[b].d;
}

/* The integer prompt GEMM: every element against the sum over blocks of
 * dw * dx * (exact integer dot) with x quantized as the decode kernels do,
 * within the float rounding of that sum alone (far below the quantization
 * bound check_matmul allows); bit-identical with 1..4 threads. */
static void check_matmul_int8(llorch_dtype t, int64_t n_in, int64_t n_out, int64_t n_tok,
		llorch_threadpool *const *pools)
{
	int64_t nb = n_in / 32;
	size_t rb = row_bytes(t, n_in), ny = (size_t)(n_out * n_tok);
	uint8_t *W = random_weights(t, n_in, n_out);
	float *X = random_x(n_in * n_tok);
	float *Y[4];
	llorch_block_q8a *xq = malloc((size_t)nb * sizeof *xq);

	assert_non_null(xq);
	memset(X + n_in, 0, 32 * sizeof *X);    /* token 1, block 0: d = 0 */
	X[3 * n_in + 5] = 1e30f;                /* token 3: one huge value */
	for (int n = 0; n < 4; n++) {
		Y[n] = malloc(ny * sizeof *Y[n]);
		assert_non_null(Y[n]);
		for (size_t i = 0; i < ny; i++)
			Y[n][i] = NAN;
		llorch_matmul(pools[n], t, W, X, Y[n], n_in, n_out, n_tok);
		if (n > 0)
			assert_memory_equal(Y[n], Y[0], ny * sizeof *Y[n]);
	}
	for (int64_t k = 0; k < n_tok; k++) {
		llorch_quantize_act_scalar(X + k * n_in, xq, n_in);
		for (int64_t r = 0; r < n_out; r++) {
			const uint8_t *row = W + rb * (size_t)r;
			double want = 0, mag = 0;
			for (int64_t b = 0; b < nb; b++) {
				double term = (double)llorch_kh_fp16(block_scale(t, row, b)) * xq[b].d *
					block_dot(t, row, b, xq[b].qs);
				want += term;
				mag += fabs(term);
			}
			check_close("int8 matmul", t, 4, n_in, r, Y[0][k * n_out + r], (float)want,
					mag * (double)(nb + 3) * 1.2e-7 + 1e-30);
		}
	}
	for (int n = 0; n < 4; n++)
		free(Y[n]);
	free(xq);
	free(X);
	free(W);
}

/* Shapes that cut the 32-row panel and the 6-token tile, odd block counts,
 * a thread with no panel (67 rows on 4 threads). Only where the level has
 * the integer GEMM (AVX-512 VNNI). */
static void test_matmul_int8(void **state)
{
	static const int64_t n_ins[] = {32, 96, 768, 2144};
	static const int64_t n_outs[] = {1, 17, 32, 67, 131};
	static const int64_t n_toks[] = {9, 13, 67};
	const char *now = llorch_simd_level();
	llorch_threadpool *pools[4];

	(void)state;
#if defined(__x86_64__) && defined(__GNUC__)
	if (!llorch_simd_set("avx512") || !__builtin_cpu_supports("avx512vnni"))
		skip();
#else
	skip();
#endif
	for (int n = 1; n <= 4; n++)
		assert_int_equal(llorch_threadpool_new(n, &pools[n - 1]), LLORCH_OK);
	for (int ti = 3; ti < 5; ti++)
		for (size_t a = 0; a < sizeof n_ins / sizeof *n_ins; a++)
			for (size_t b = 0; b < sizeof n_outs / sizeof *n_outs; b++)
				check_matmul_int8(types[ti], n_ins[a], n_outs[b],
						n_toks[(a + b) % (sizeof n_toks / sizeof *n_toks)], pools);
	for (int n = 1; n <= 4; n++)
		llorch_threadpool_free(pools[n - 1]);
	assert_true(llorch_simd_set(now));
}

/* The kernel sets with multi-vector kernels, by the name llorch_simd_set
 * takes; checked only where this CPU runs them. */
static const struct {
	const char *level;
	const llorch_kernel_set *set;
	bool vnni;
} multi_sets[] = {
	{"avx2", &llorch_kernels_avx2, false},
	{"avx512-novnni", &llorch_kernels_avx512, false},
	{"avx512", &llorch_kernels_avx512_vnni, true},
};

static bool cpu_has_vnni(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512vnni");
#else
	return false;
#endif
}

/* One multi-vector kernel call (n_x vectors, n_rows rows of n_in values)
 * against the single-vector kernel on each vector, bit for bit, on outputs
 * that start from y0 (the kernels add), and against the reference within
 * the error bound when y0 is zero. Strides leave gaps, to catch a kernel
 * that assumes packed vectors. */
static void check_rows_multi(const llorch_kernel_set *ks, llorch_dtype t, int n_x, int64_t n_in,
		int64_t n_rows, bool from_zero)
{
	int kt = t == LLORCH_DT_Q8_0 ? LLORCH_KT_Q8_0 : LLORCH_KT_Q4_0;
	int64_t nb = n_in / 32, xs = nb + 1, ys = n_rows + 3;
	size_t ny = (size_t)(n_x * ys);
	void *W = random_weights(t, n_in, n_rows);
	float *x = random_x(n_in * n_x);
	llorch_block_q8a *xq = malloc((size_t)(n_x * xs) * sizeof *xq);
	float *y = malloc(ny * sizeof *y), *want = malloc(ny * sizeof *want);
	float *yr = malloc((size_t)n_rows * sizeof *yr);
	double *tol = malloc((size_t)n_rows * sizeof *tol);

	assert_true(xq && y && want && yr && tol);
	for (size_t i = 0; i < ny; i++)
		y[i] = want[i] = from_zero ? 0.0f : rnd_unit();
	for (int v = 0; v < n_x; v++) {
		ks->quantize_act(x + v * n_in, xq + v * xs, n_in);
		ks->rows[kt](W, row_bytes(t, n_in), xq + v * xs, n_in, want + v * ys, n_rows);
	}
	ks->rows_multi[kt](W, row_bytes(t, n_in), xq, xs, n_x, n_in, y, ys, n_rows);
	if (memcmp(y, want, ny * sizeof *y) != 0) {
		print_error("rows_multi %s level %s n_x %d n_in %lld rows %lld: not bit-identical "
				"to the single-vector kernel\n", llorch_dtype_name(t), ks->name, n_x,
				(long long)n_in, (long long)n_rows);
		fail();
	}
	for (int v = 0; v < n_x && from_zero; v++) {
		llorch_matvec_ref(t, W, x + v * n_in, yr, n_in, n_rows);
		bounds(t, W, x + v * n_in, n_in, n_rows, tol);
		for (int64_t r = 0; r < n_rows; r++)
			check_close("rows_multi", t, 1, n_in, r, y[v * ys + r], yr[r], tol[r]);
	}
	free(tol);
	free(yr);
	free(want);
	free(y);
	free(xq);
	free(x);
	free(W);
}

/* n_x = 1..8 (more than one pass of the kernel's vector group), odd block
 * counts (the tail block), rows longer than a segment (LLORCH_SEG_VALUES,
 * which kernels.c never passes, but the contract allows), row counts off
 * the row group. */
static void test_rows_multi(void **state)
{
	static const int64_t n_ins[] = {32, 64, 96, 768, 32 * 37, 32 * 133};
	static const int64_t n_rows[] = {1, 3, 4, 5, 7, 13};
	const char *now = llorch_simd_level();
	const llorch_dtype qt[] = {LLORCH_DT_Q8_0, LLORCH_DT_Q4_0};

	(void)state;
	for (size_t l = 0; l < sizeof multi_sets / sizeof *multi_sets; l++) {
		if (!llorch_simd_set(multi_sets[l].level) || (multi_sets[l].vnni && !cpu_has_vnni())) {
			fprintf(stderr, "# SIMD level %s: not supported by this CPU, skipped\n",
					multi_sets[l].level);
			continue;
		}
		for (size_t ti = 0; ti < 2; ti++) {
			assert_non_null(multi_sets[l].set->rows_multi[ti ? LLORCH_KT_Q4_0 : LLORCH_KT_Q8_0]);
			for (int n_x = 1; n_x <= LLORCH_MULTI_MAX; n_x++)
				for (size_t a = 0; a < sizeof n_ins / sizeof *n_ins; a++)
					for (size_t b = 0; b < sizeof n_rows / sizeof *n_rows; b++)
						check_rows_multi(multi_sets[l].set, qt[ti], n_x, n_ins[a],
								n_rows[b], (a + b + (size_t)n_x) % 2 == 0);
		}
	}
	assert_true(llorch_simd_set(now));
}

/* The float multi-vector kernels against the one-vector kernel, bit for
 * bit, where the vectors together outgrow L1 and the rows are taken in
 * blocks a segment at a time (kernels_rows.h): rows that end inside a
 * segment, on a vector's tail and on a scalar tail, row counts across the
 * row blocks, 2..8 vectors (two groups), x 64-byte aligned or not. */
static void test_rows_multi_float_long(void **state)
{
	static const int64_t n_ins[] = {2048 + 64, 3072, 5632, 4096 + 64 * 3 + 16 + 5};
	static const int64_t n_rows[] = {1, 7, 9, 17};
	static const struct {
		const char *level;
		const llorch_kernel_set *set;
	} sets[] = {{"avx2", &llorch_kernels_avx2}, {"avx512", &llorch_kernels_avx512}};
	const llorch_dtype ft[] = {LLORCH_DT_F32, LLORCH_DT_F16, LLORCH_DT_BF16};
	const int kts[] = {LLORCH_KT_F32, LLORCH_KT_F16, LLORCH_KT_BF16};
	const char *now = llorch_simd_level();
	int tested = 0;

	(void)state;
	for (size_t l = 0; l < sizeof sets / sizeof *sets; l++) {
		if (!llorch_simd_set(sets[l].level) ||
				strncmp(llorch_simd_level(), sets[l].level, strlen(sets[l].level)) != 0) {
			fprintf(stderr, "# SIMD level %s: not supported by this CPU, skipped\n",
					sets[l].level);
			continue;
		}
		for (size_t ti = 0; ti < 3; ti++)
			for (size_t a = 0; a < sizeof n_ins / sizeof *n_ins; a++) {
				int64_t n_in = n_ins[a], nr = n_rows[(a + ti) % 4];
				int n_x = 2 + (int)((a + ti + l) % 7);
				size_t rb = row_bytes(ft[ti], n_in);
				void *W = random_weights(ft[ti], n_in, nr);
				size_t xbytes = (size_t)(n_in * n_x + 16) * sizeof(float);
				float *xa = aligned_alloc(64, (xbytes + 63) / 64 * 64);
				assert_non_null(xa);
				/* aligned, or 16 bytes off as malloc gives */
				float *x = xa + ((a + ti) % 2 ? 4 : 0);
				float *r = random_x(n_in * n_x);
				memcpy(x, r, (size_t)(n_in * n_x) * sizeof *x);
				float *y = malloc((size_t)(nr * n_x) * sizeof *y);
				float *want = malloc((size_t)(nr * n_x) * sizeof *want);
				assert_true(y && want);
				for (int64_t i = 0; i < nr * n_x; i++)
					y[i] = want[i] = rnd_unit();
				for (int t = 0; t < n_x; t++)
					sets[l].set->rows[kts[ti]](W, rb, x + t * n_in, n_in, want + t * nr, nr);
				sets[l].set->rows_multi[kts[ti]](W, rb, x, n_in, n_x, n_in, y, nr, nr);
				if (memcmp(y, want, (size_t)(nr * n_x) * sizeof *y) != 0) {
					print_error("float rows_multi %s level %s n_in %lld rows %lld "
							"vectors %d: not bit-identical to one vector at a "
							"time\n", llorch_dtype_name(ft[ti]), sets[l].level,
							(long long)n_in, (long long)nr, n_x);
					fail();
				}
				tested++;
				free(want);
				free(y);
				free(r);
				free(xa);
				free(W);
			}
	}
	assert_true(llorch_simd_set(now));
	if (!tested)
		skip();
}

/* The long-row kernels against the row kernel called segment by segment
 * (as with several vectors), bit for bit: rows of 1..3 segments and a
 * partial one, odd block counts (Q8_0's tail block, Q4_0's lone blocks),
 * row counts off the row group; past LLORCH_LONG_ROW_VALUES they fall back
 * to the segment passes. */
static void test_rows_long(void **state)
{
	static const int64_t n_ins[] = {LLORCH_SEG_VALUES + 32, 5632, LLORCH_SEG_VALUES + 32 * 37,
		3 * LLORCH_SEG_VALUES + 32 * 3, LLORCH_LONG_ROW_VALUES, LLORCH_LONG_ROW_VALUES + 32 * 5};
	static const int64_t n_rows[] = {1, 5, 7, 13};
	const llorch_dtype qt[] = {LLORCH_DT_Q8_0, LLORCH_DT_Q4_0};
	const char *now = llorch_simd_level();
	int tested = 0;

	(void)state;
	for (size_t l = 0; l < sizeof multi_sets / sizeof *multi_sets; l++) {
		const llorch_kernel_set *ks = multi_sets[l].set;
		if (multi_sets[l].vnni && !cpu_has_vnni()) {
			fprintf(stderr, "# SIMD level %s: not supported by this CPU, skipped\n",
					multi_sets[l].level);
			continue;
		}
		if (!llorch_simd_set(multi_sets[l].level))
			continue;
		for (size_t ti = 0; ti < 2; ti++) {
			int kt = ti ? LLORCH_KT_Q4_0 : LLORCH_KT_Q8_0;
			if (!ks->rows_long[kt])
				continue;
			for (size_t a = 0; a < sizeof n_ins / sizeof *n_ins; a++) {
				int64_t n_in = n_ins[a], nr = n_rows[(a + ti) % 4];
				size_t rb = row_bytes(qt[ti], n_in);
				void *W = random_weights(qt[ti], n_in, nr);
				float *x = random_x(n_in);
				llorch_block_q8a *xq = malloc((size_t)(n_in / 32) * sizeof *xq);
				float *y = malloc((size_t)nr * sizeof *y), *want = malloc((size_t)nr * sizeof *want);
				assert_true(xq && y && want);
				for (int64_t r = 0; r < nr; r++)
					y[r] = want[r] = rnd_unit();
				ks->quantize_act(x, xq, n_in);
				for (int64_t s = 0; s < n_in; s += LLORCH_SEG_VALUES) {
					int64_t n = n_in - s < LLORCH_SEG_VALUES ? n_in - s : LLORCH_SEG_VALUES;
					ks->rows[kt]((const uint8_t *)W + row_bytes(qt[ti], s), rb, xq + s / 32, n,
							want, nr);
				}
				ks->rows_long[kt](W, rb, xq, n_in, y, nr);
				if (memcmp(y, want, (size_t)nr * sizeof *y) != 0) {
					print_error("rows_long %s level %s n_in %lld rows %lld: not bit-identical "
							"to the row kernel segment by segment\n",
							llorch_dtype_name(qt[ti]), ks->name, (long long)n_in,
							(long long)nr);
					fail();
				}
				tested++;
				free(want);
				free(y);
				free(xq);
				free(x);
				free(W);
			}
		}
	}
	assert_true(llorch_simd_set(now));
	if (!tested)
		skip();
}

/* Through the public entry points at every level (the multi-vector kernels,
 * or where a level has none the single-vector kernel per vector): n_tok <=
 * LLORCH_MULTI_MAX vectors in one llorch_matmul give each vector exactly
 * what llorch_matvec gives it alone, whatever the thread count, with rows
 * longer than a segment. */
static void batch_equals_single_all(llorch_threadpool *const *pools)
{
	/* 101: float rows with scalar tails */
	static const int64_t n_ins[] = {96, 800 - 32, LLORCH_SEG_VALUES + 32 * 5, 101};
	const int64_t n_out = 67;

	for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
		for (size_t a = 0; a < sizeof n_ins / sizeof *n_ins; a++) {
			int64_t n_in = n_ins[a];
			if (is_quant(types[ti]) && n_in % 32)
				continue;
			int n_tok = 1 + (int)((ti + a) % LLORCH_MULTI_MAX);
			void *W = random_weights(types[ti], n_in, n_out);
			float *X = random_x(n_in * n_tok);
			float *Y = malloc((size_t)(n_out * n_tok) * sizeof *Y);
			float *y1 = malloc((size_t)n_out * sizeof *y1);
			assert_true(Y && y1);
			llorch_matmul(pools[(ti + a) % 4], types[ti], W, X, Y, n_in, n_out, n_tok);
			for (int k = 0; k < n_tok; k++) {
				llorch_matvec(pools[a % 4], types[ti], W, X + k * n_in, y1, n_in, n_out);
				for (int64_t r = 0; r < n_out; r++)
					check_close("batch vs single", types[ti], (int)(a % 4) + 1, n_in, r,
							Y[k * n_out + r], y1[r], 0);
				assert_memory_equal(Y + k * n_out, y1, (size_t)n_out * sizeof *y1);
			}
			free(y1);
			free(Y);
			free(X);
			free(W);
		}
}

static void test_batch_equals_single(void **state)
{
	(void)state;
	for_each_level(batch_equals_single_all);
}

/* Whether Y (n_tok, n_out) is want within the rounding of the bias's
 * addition to each sum: OpenBLAS's products (a prompt's weights at the
 * levels without a GEMM of their own for the type) start the sum from the
 * bias instead of adding it after, and the two orders round differently,
 * by a few units in the last place of the terms' magnitude (twice that
 * through GELU, whose slope stays below 1.13). */
static void check_bias_rounding(llorch_dtype t, const void *W, const float *X, const float *b,
		int64_t n_in, int64_t n_out, int64_t n_tok, const float *Y, const float *want)
{
	size_t rb = row_bytes(t, n_in);
	float *w = malloc((size_t)n_in * sizeof *w);

	assert_non_null(w);
	for (int64_t r = 0; r < n_out; r++) {
		assert_int_equal(llorch_dequantize_row(t, (const uint8_t *)W + rb * (size_t)r, w, n_in),
				LLORCH_OK);
		for (int64_t k = 0; k < n_tok; k++) {
			double mag = fabs((double)b[r]);
			for (int64_t i = 0; i < n_in; i++)
				mag += fabs((double)w[i] * X[k * n_in + i]);
			check_close("matmul_ep", t, 0, n_in, r, Y[k * n_out + r], want[k * n_out + r],
					mag * 16 * FLT_EPSILON);
		}
	}
	free(w);
}

/* llorch_matmul_ep gives exactly llorch_matmul followed by llorch_vec_add
 * and llorch_vec_gelu on every row, with each thread count (the same for
 * both: OpenBLAS, at the levels without AVX-512, does not give the same
 * bits for every split of the columns), in each of the products' paths: one
 * vector, a few (multi-vector kernels), and a prompt's GEMM (float panels,
 * or the integer GEMM for quantized types); a prompt's within the rounding
 * of the bias's addition, since its GEMM may be OpenBLAS's
 * (check_bias_rounding). */
static void epilogue_all(llorch_threadpool *const *pools)
{
	static const int64_t n_toks[] = {1, 3, LLORCH_MULTI_MAX + 1, 40};
	static const int64_t n_ins[] = {96, LLORCH_SEG_VALUES + 32 * 5};
	const int64_t n_out = 67;
	float *b = random_x(n_out);

	for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
		for (size_t a = 0; a < sizeof n_ins / sizeof *n_ins; a++)
			for (size_t k = 0; k < sizeof n_toks / sizeof *n_toks; k++) {
				int64_t n_in = n_ins[a], n_tok = n_toks[k];
				void *W = random_weights(types[ti], n_in, n_out);
				float *X = random_x(n_in * n_tok);
				size_t ny = (size_t)(n_out * n_tok);
				float *Y = malloc(ny * sizeof *Y), *want = malloc(ny * sizeof *want);
				assert_true(Y && want);
				for (int act = 0; act < 2; act++) {
					llorch_epilogue ep = {
						.bias = b, .act = act ? LLORCH_ACT_GELU : LLORCH_ACT_NONE,
					};
					llorch_matmul(pools[(k + a + ti) % 4], types[ti], W, X, want, n_in,
							n_out, n_tok);
					for (int64_t t = 0; t < n_tok; t++) {
						llorch_vec_add(want + t * n_out, b, n_out);
						if (act)
							llorch_vec_gelu(want + t * n_out, n_out);
					}
					llorch_matmul_ep(pools[(k + a + ti) % 4], types[ti], W, X, Y, n_in,
							n_out, n_tok, &ep);
					if (n_tok > LLORCH_MULTI_MAX)
						check_bias_rounding(types[ti], W, X, b, n_in, n_out, n_tok,
								Y, want);
					else
						assert_memory_equal(Y, want, ny * sizeof *Y);
				}
				free(want);
				free(Y);
				free(X);
				free(W);
			}
	free(b);
}

static void test_matmul_epilogue(void **state)
{
	(void)state;
	for_each_level(epilogue_all);
}

/* Attention against the double-precision reference: the result is a
 * weighted mean of v, so its error is bounded by the probabilities' relative
 * error times max |v|. That error comes from exp (1e-6), the float sum of
 * n_kv weights, and the scores: a float sum of hd products, whatever its
 * order, with at most 18 + hd / 16 roundings on the way to each (blocks or
 * lanes of 16, then their sum), is off by up to that many units of
 * roundoff of scale * sum |q_d k_d|, and an error e in the scores moves
 * the weights by a factor of up to exp(2e). */
static double attn_tol(const float *q, const float *k, int64_t stride, int64_t hd,
		int64_t n_kv, float scale, float vmax)
{
	double smax = 0;

	for (int64_t j = 0; j < n_kv; j++) {
		double s = 0;
		for (int64_t d = 0; d < hd; d++)
			s += fabs((double)q[d] * k[j * stride + d]);
		smax = fmax(smax, s * fabs(scale));
	}
	double score_err = (18.0 + (double)(hd + 15) / 16) * 6e-8 * smax;
	return ((4.0 + (double)n_kv) * 1.2e-7 + 1e-6 + 2.0 * score_err) * vmax + 1e-30;
}

/* Bytes of n values of a cache of kv_type. */
static size_t cache_bytes(llorch_dtype kv_type, int64_t n)
{
	size_t b = 0;

	assert_int_equal(llorch_dtype_row_bytes(kv_type, n, &b), LLORCH_OK);
	return b;
}

/* The cache in the type under test: kv (n floats) rounded to f16 or q8_0
 * in place, so that the float copy holds the very values the typed copy
 * returned holds; the float array itself for F32. */
static void *cache_of(llorch_dtype kv_type, float *kv, int64_t n)
{
	if (kv_type == LLORCH_DT_F32)
		return kv;
	if (kv_type == LLORCH_DT_Q8_0) {
		void *c = malloc(cache_bytes(kv_type, n));
		assert_non_null(c);
		llorch_vec_to_q8_0(kv, c, n);
		assert_int_equal(llorch_dequantize_row(kv_type, c, kv, n), LLORCH_OK);
		return c;
	}
	uint16_t *h = malloc((size_t)n * sizeof *h);
	assert_non_null(h);
	for (int64_t i = 0; i < n; i++) {
		h[i] = llorch_fp32_to_fp16(kv[i]);
		kv[i] = llorch_fp16_to_fp32(h[i]);
	}
	return h;
}

static const llorch_dtype kv_types[] = {LLORCH_DT_F32, LLORCH_DT_F16, LLORCH_DT_Q8_0};

/* Cache rows stride values apart, a multiple of 32 for q8_0 (whose head
 * sizes are too), past the head's hd values. */
static int64_t cache_stride(llorch_dtype kv_type, int64_t hd)
{
	return kv_type == LLORCH_DT_Q8_0 ? 3 * hd + 32 : 3 * hd + 5;
}

static const char *attn_name(llorch_dtype kv_type, bool tile)
{
	if (kv_type == LLORCH_DT_F32)
		return tile ? "attn_tile" : "attn";
	if (kv_type == LLORCH_DT_F16)
		return tile ? "attn_tile f16" : "attn f16";
	return tile ? "attn_tile q8_0" : "attn q8_0";
}

static void attn_all(llorch_threadpool *const *pools)
{
	static const int64_t hds[] = {1, 16, 32, 37, 64, 80, 128};
	static const int64_t n_kvs[] = {1, 2, 17, 300};

	(void)pools;
	for (size_t ti = 0; ti < sizeof kv_types / sizeof *kv_types; ti++)
	for (size_t a = 0; a < sizeof hds / sizeof *hds; a++)
		for (size_t b = 0; b < sizeof n_kvs / sizeof *n_kvs; b++) {
			llorch_dtype kt = kv_types[ti];
			if (kt == LLORCH_DT_Q8_0 && hds[a] % 32 != 0)
				continue;
			int64_t hd = hds[a], n_kv = n_kvs[b], stride = cache_stride(kt, hd);
			float *q = random_x(hd), *kv = random_x(2 * n_kv * stride);
			float *k = kv, *v = kv + n_kv * stride;
			void *cache = cache_of(kt, kv, 2 * n_kv * stride);
			const void *kc = cache, *vc = (const char *)cache + cache_bytes(kt, n_kv * stride);
			float *scores = malloc((size_t)n_kv * sizeof *scores);
			float *out = malloc((size_t)hd * sizeof *out), *want = malloc((size_t)hd * sizeof *want);
			float *want_t = malloc((size_t)hd * sizeof *want_t);
			float vmax = 0;
			assert_true(scores && out && want && want_t);
			for (int64_t i = 0; i < n_kv * stride; i++)
				vmax = fmaxf(vmax, fabsf(v[i]));
			/* a large scale makes the softmax peaky: max subtraction matters */
			float scale = b % 2 ? 4.0f : 0.125f;
			llorch_attn_row(kt, q, kc, vc, stride, hd, n_kv, scale, scores, out);
			llorch_attn_row_ref(LLORCH_DT_F32, q, k, v, stride, hd, n_kv, scale, want);
			/* the reference reads the typed cache as the float one */
			llorch_attn_row_ref(kt, q, kc, vc, stride, hd, n_kv, scale, want_t);
			assert_memory_equal(want, want_t, (size_t)hd * sizeof *want);
			for (int64_t d = 0; d < hd; d++)
				check_close(attn_name(kt, false), LLORCH_DT_F32, 1, hd,
						d, out[d], want[d],
						attn_tol(q, k, stride, hd, n_kv, scale, vmax));
			if (cache != kv)
				free(cache);
			free(want_t);
			free(want);
			free(out);
			free(scores);
			free(kv);
			free(q);
		}
}

static void test_attn_row(void **state)
{
	(void)state;
	for_each_level(attn_all);
}

/* Tiles of query rows against the reference row by row, each row over its
 * own causal prefix: tiles at the start of the cache and further in, full,
 * ragged and single-row, head sizes across vector tails. */
static void attn_tile_all(llorch_threadpool *const *pools)
{
	/* 160: past a kernel's 128 values of keys converted at a time */
	static const int64_t hds[] = {1, 16, 32, 37, 64, 80, 128, 160};
	static const struct { int64_t pos0; int n_q; } tiles[] = {
		{0, 1}, {0, 5}, {0, LLORCH_ATTN_TILE}, {3, LLORCH_ATTN_TILE}, {11, 1},
		{40, 17}, {100, LLORCH_ATTN_TILE - 1}, {290, 13},
	};

	(void)pools;
	for (size_t ti = 0; ti < sizeof kv_types / sizeof *kv_types; ti++)
	for (size_t a = 0; a < sizeof hds / sizeof *hds; a++)
		for (size_t b = 0; b < sizeof tiles / sizeof *tiles; b++) {
			llorch_dtype kt = kv_types[ti];
			if (kt == LLORCH_DT_Q8_0 && hds[a] % 32 != 0)
				continue;
			int64_t hd = hds[a], pos0 = tiles[b].pos0, n_kv = pos0 + tiles[b].n_q;
			int n_q = tiles[b].n_q;
			int64_t stride = cache_stride(kt, hd), q_stride = hd + 3, out_stride = 2 * hd + 1;
			float *q = random_x(q_stride * n_q), *kv = random_x(2 * n_kv * stride);
			float *k = kv, *v = kv + n_kv * stride;
			void *cache = cache_of(kt, kv, 2 * n_kv * stride);
			const void *kc = cache, *vc = (const char *)cache + cache_bytes(kt, n_kv * stride);
			float *scratch = malloc(llorch_attn_tile_scratch(hd, n_kv) * sizeof *scratch);
			float *out = malloc((size_t)(out_stride * n_q) * sizeof *out);
			float *want = malloc((size_t)hd * sizeof *want);
			float vmax = 0;
			assert_true(scratch && out && want);
			for (int64_t i = 0; i < n_kv * stride; i++)
				vmax = fmaxf(vmax, fabsf(v[i]));
			for (int64_t i = 0; i < out_stride * n_q; i++)
				out[i] = NAN;
			float scale = b % 2 ? 4.0f : 0.125f;
			llorch_attn_tile(kt, q, q_stride, kc, vc, stride, hd, pos0, n_q, scale, scratch,
					out, out_stride);
			for (int i = 0; i < n_q; i++) {
				const float *qi = q + i * q_stride;
				double tol = attn_tol(qi, k, stride, hd, pos0 + i + 1, scale, vmax);
				llorch_attn_row_ref(LLORCH_DT_F32, qi, k, v, stride, hd, pos0 + i + 1, scale,
						want);
				for (int64_t d = 0; d < hd; d++)
					check_close(attn_name(kt, true),
							LLORCH_DT_F32, 1, hd, pos0 + i, out[i * out_stride + d],
							want[d], tol);
				/* the gaps between output rows are left alone */
				for (int64_t d = hd; d < out_stride && i + 1 < n_q; d++)
					assert_true(isnan(out[i * out_stride + d]));
			}
			if (cache != kv)
				free(cache);
			free(want);
			free(out);
			free(scratch);
			free(kv);
			free(q);
		}
}

static void test_attn_tile(void **state)
{
	(void)state;
	for_each_level(attn_tile_all);
}

/* The f16 rows a cache stores: every level gives llorch_fp32_to_fp16's
 * bits, over normal, subnormal, overflowing and halfway values and across
 * a vector tail. */
static void to_f16_all(llorch_threadpool *const *pools)
{
	static const float special[] = {
		0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65520.0f, 1e6f, -1e6f, 6.1e-5f, 5.96e-8f,
		2.98e-8f, 1e-10f, 1.00048828125f, 1.00146484375f, INFINITY, -INFINITY,
	};
	int64_t n = 16 * 7 + 5;
	float *x = random_x(n);
	uint16_t *got = malloc((size_t)n * sizeof *got);

	(void)pools;
	assert_true(x && got);
	for (size_t i = 0; i < sizeof special / sizeof *special; i++)
		x[3 * i] = special[i];
	for (int64_t i = 0; i < n; i++)
		if (i % 3)
			x[i] *= i % 2 ? 1e-6f : 300.0f;
	for (int64_t len = 0; len <= n; len += len < 40 ? 1 : 17) {
		memset(got, 0xab, (size_t)n * sizeof *got);
		llorch_vec_to_f16(x, got, len);
		for (int64_t i = 0; i < len; i++)
			if (got[i] != llorch_fp32_to_fp16(x[i]))
				fail_msg("%s: to_f16(%a) = 0x%04x, want 0x%04x", llorch_simd_level(),
						(double)x[i], got[i], llorch_fp32_to_fp16(x[i]));
		for (int64_t i = len; i < n; i++)
			assert_int_equal(got[i], 0xabab);
	}
	free(got);
	free(x);
}

static void test_to_f16(void **state)
{
	(void)state;
	for_each_level(to_f16_all);
}

/* The q8_0 rows a cache stores, every level against the rule written out
 * in double (d = amax / 127 in float, x times 1 / d in float, to the
 * nearest integer with ties to even, d then f16): blocks with exact ties
 * (amax 127, so d = 1), zeros, tiny and huge values. Finite values only:
 * a NaN's or an infinity's block differs between levels (how the maximum
 * skips a NaN, how a NaN quotient converts), and the pass is lost anyway. */
static void to_q8_0_all(llorch_threadpool *const *pools)
{
	static const float ties[] = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f};
	int64_t n = 32 * 9;
	float *x = random_x(n);
	llorch_block_q8_0 *got = malloc((size_t)(n / 32) * sizeof *got);

	(void)pools;
	assert_true(x && got);
	for (size_t i = 0; i < sizeof ties / sizeof *ties; i++)
		x[i] = ties[i];
	for (int64_t i = 32; i < 64; i++)
		x[i] = 0.0f;
	for (int64_t i = 64; i < 96; i++)
		x[i] *= 1e-30f;
	for (int64_t i = 96; i < 128; i++)
		x[i] *= 1e30f;
	for (int64_t i = 192; i < n; i++)
		x[i] *= (float)(i % 7) * 3.0f;
	for (int64_t len = 0; len <= n; len += 32) {
		memset(got, 0xab, (size_t)(n / 32) * sizeof *got);
		llorch_vec_to_q8_0(x, got, len);
		for (int64_t b = 0; b < len / 32; b++) {
			const float *xb = x + 32 * b;
			float amax = 0;
			for (int k = 0; k < 32; k++)
				amax = fmaxf(amax, fabsf(xb[k]));
			float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
			assert_int_equal(got[b].d, llorch_fp32_to_fp16(d));
			for (int k = 0; k < 32; k++) {
				double t = (double)(xb[k] * id);
				int want = (int)nearbyint(t);
				if (got[b].qs[k] != want)
					fail_msg("%s: block %lld value %d (%a): %d, want %d",
							llorch_simd_level(), (long long)b, k,
							(double)xb[k], got[b].qs[k], want);
			}
		}
		for (int64_t b = len / 32; b < n / 32; b++)
			assert_int_equal(got[b].d, 0xabab);
	}
	/* the ties: d = 1, x / d exactly halfway */
	llorch_vec_to_q8_0(x, got, 32);
	assert_int_equal(got[0].d, llorch_fp32_to_fp16(1.0f));
	static const int8_t even[] = {127, 0, 2, 2, 0, -2, -2, 126};
	assert_memory_equal(got[0].qs, even, sizeof even);
	free(got);
	free(x);
}

static void test_to_q8_0(void **state)
{
	(void)state;
	for_each_level(to_q8_0_all);
}

/* Activations against the double-precision reference, over a range wide
 * enough to reach both tails (exp overflow and underflow) and across a
 * vector tail: relative error 2e-6; GELU's tanh form in float also loses
 * 1 + tanh(u) to cancellation far left, an absolute error of ulp(1) * |x|. */
static void act_all(llorch_threadpool *const *pools)
{
	enum { N = 1000 + 13 };
	float x[N], up[N], a[N], b[N];

	(void)pools;
	for (int i = 0; i < N; i++) {
		x[i] = (float)(i - N / 2) * 0.2f + 0.01f * rnd_unit();
		up[i] = rnd_unit();
	}
	x[0] = 0.0f;
	memcpy(a, x, sizeof a);
	memcpy(b, x, sizeof b);
	llorch_vec_gelu(a, N);
	llorch_vec_gelu_ref(b, N);
	for (int i = 0; i < N; i++)
		check_close("gelu", LLORCH_DT_F32, 1, N, i, a[i], b[i],
				2e-6 * fabs(b[i]) + 1.2e-7 * fabs(x[i]) + 1e-30);
	memcpy(a, x, sizeof a);
	memcpy(b, x, sizeof b);
	llorch_vec_silu_mul(a, up, N);
	llorch_vec_silu_mul_ref(b, up, N);
	for (int i = 0; i < N; i++)
		check_close("silu_mul", LLORCH_DT_F32, 1, N, i, a[i], b[i], 2e-6 * fabs(b[i]) + 1e-30);
}

/* Adds exactly; the norms against double precision, on rows whose mean is
 * large against their spread (the centred variance must not cancel) and
 * across vector tails: the float scaling rounds three times (1.2e-7 each
 * relative to |(x - mean) * inv * w|) after the mean itself is rounded to
 * float (|mean - (float)mean| * inv * |w|); the sums in double add nothing
 * visible. */
static void norms_all(llorch_threadpool *const *pools)
{
	static const int64_t ns[] = {1, 15, 16, 17, 768, 1000};

	(void)pools;
	for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
		int64_t n = ns[a];
		float *x = random_x(n), *w = random_x(n), *b = random_x(n);
		float *y = malloc((size_t)n * sizeof *y), *z = malloc((size_t)n * sizeof *z);
		assert_true(y && z);
		for (int64_t i = 0; i < n; i++)
			x[i] += 100.0f;
		memcpy(y, x, (size_t)n * sizeof *y);
		llorch_vec_add(y, b, n);
		for (int64_t i = 0; i < n; i++)
			assert_true(y[i] == x[i] + b[i]);

		double mean = 0, var = 0, ss = 0;
		for (int64_t i = 0; i < n; i++)
			mean += x[i];
		mean /= (double)n;
		for (int64_t i = 0; i < n; i++) {
			var += (x[i] - mean) * (x[i] - mean);
			ss += (double)x[i] * x[i];
		}
		double inv = 1.0 / sqrt(var / (double)n + 1e-5), rinv = 1.0 / sqrt(ss / (double)n + 1e-5);
		double mean_err = fabs(mean - (double)(float)mean) * 1.01;
		for (int with_b = 0; with_b < 2; with_b++) {
			llorch_vec_layernorm(y, x, w, with_b ? b : NULL, n, 1e-5f);
			for (int64_t i = 0; i < n; i++) {
				double v = (x[i] - mean) * inv * w[i], want = v + (with_b ? b[i] : 0);
				check_close("layernorm", LLORCH_DT_F32, 1, n, i, y[i], (float)want,
						fabs(v) * 4e-7 + fabs(want) * 1.2e-7 +
						mean_err * inv * fabs(w[i]) + 1e-30);
			}
		}
		memcpy(z, x, (size_t)n * sizeof *z);
		llorch_vec_rmsnorm(z, z, w, n, 1e-5f);   /* in place */
		for (int64_t i = 0; i < n; i++) {
			double want = x[i] * rinv * w[i];
			check_close("rmsnorm", LLORCH_DT_F32, 1, n, i, z[i], (float)want,
					fabs(want) * 4e-7 + 1e-30);
		}
		free(z);
		free(y);
		free(b);
		free(w);
		free(x);
	}
}

static void test_norms(void **state)
{
	(void)state;
	for_each_level(norms_all);
}

static void test_activations(void **state)
{
	(void)state;
	for_each_level(act_all);
}

/* The sampler's passes over the vocabulary against plain loops: the max
 * and the first index above a bar exactly, log-sum-exp within 2e-6 of the
 * double-precision reference (a tenth of what a logprob prints), on
 * ordinary logits and with NaN, -inf and +inf among them. */
static void check_reductions(const float *x, int64_t n)
{
	float mx = -INFINITY, want = llorch_vec_log_sum_exp_ref(x, n), got = llorch_vec_log_sum_exp(x, n);
	bool has_inf = false;

	for (int64_t i = 0; i < n; i++) {
		mx = x[i] > mx ? x[i] : mx;
		has_inf |= x[i] == INFINITY;
	}
	assert_true(llorch_vec_max(x, n) == mx);
	if (has_inf || mx == -INFINITY) {
		assert_true(got == mx && want == mx);
	} else if (!(fabsf(got - want) <= 2e-6f * fmaxf(1.0f, fabsf(want)))) {
		fail_msg("log_sum_exp over %lld: %.9g, want %.9g", (long long)n, (double)got, (double)want);
	}
	const float bars[] = {-INFINITY, -1.0f, 0.0f, 0.5f, mx, INFINITY, NAN};
	for (size_t b = 0; b < sizeof bars / sizeof *bars; b++) {
		int64_t first = 0;
		while (first < n && !(x[first] > bars[b]))
			first++;
		assert_int_equal(llorch_vec_find_above(x, n, bars[b]), first);
	}
}

static void reductions_all(llorch_threadpool *const *pools)
{
	static const int64_t ns[] = {0, 1, 5, 16, 17, 31, 32, 33, 100, 50257};

	(void)pools;
	for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
		int64_t n = ns[k];
		float *x = random_x(n > 0 ? n : 1);
		for (int64_t i = 0; i < n; i++)
			x[i] = 8.0f * x[i] - 2.0f; /* logits of a few units, as a model's */
		check_reductions(x, n);
		if (n >= 5) {
			x[n / 2] = NAN;
			x[n - 1] = -INFINITY;
			x[1] = NAN;
			check_reductions(x, n);
			x[n - 2] = INFINITY;
			check_reductions(x, n);
			for (int64_t i = 0; i < n; i++)
				x[i] = i % 3 ? -INFINITY : NAN;
			check_reductions(x, n);
		}
		free(x);
	}
}

static void test_sampler_reductions(void **state)
{
	(void)state;
	for_each_level(reductions_all);
}

/* The kernels' own half conversion, for every bit pattern. */
static void test_fp16_all_values(void **state)
{
	(void)state;
	for (uint32_t h = 0; h < 65536; h++) {
		uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
		float want, got = llorch_kh_fp16((uint16_t)h);
		if (e == 0x1f) {
			assert_true(m ? isnan(got) : isinf(got));
			continue;
		}
		want = e ? ldexpf((float)(m | 0x400), (int)e - 25) : ldexpf((float)m, -24);
		if (h & 0x8000)
			want = -want;
		assert_true(memcmp(&got, &want, sizeof got) == 0);
	}
}

/* Each level's activation quantizer matches the portable one bit for bit. */
static void test_quantize_act_levels(void **state)
{
	enum { N = 32 * 40 };
	const llorch_kernel_set *sets[] = {&llorch_kernels_avx2, &llorch_kernels_avx512};
	const char *names[] = {"avx2", "avx512"};
	const char *now = llorch_simd_level();
	float *x = random_x(N);
	llorch_block_q8a want[N / 32], got[N / 32];

	(void)state;
	for (int i = 32; i < 64; i++)
		x[i] = 0;                /* an all-zero block: d = 0 */
	x[70] = 1e30f;                   /* one huge value squashes its block */
	x[100] = -0.5f * x[101];         /* a tie after scaling is not special */
	llorch_quantize_act_scalar(x, want, N);
	for (int l = 0; l < 2; l++) {
		if (!llorch_simd_set(names[l]))
			continue;
		memset(got, 0x55, sizeof got);
		sets[l]->quantize_act(x, got, N);
		for (int b = 0; b < N / 32; b++) {
			assert_memory_equal(got[b].qs, want[b].qs, 32);
			assert_true(got[b].d == want[b].d);
			assert_true(got[b].s == want[b].s);
		}
	}
	assert_true(llorch_simd_set(now));
	free(x);
}

/* The kernel sets' index of a weight type. */
static int kernel_type(llorch_dtype t)
{
	switch (t) {
	case LLORCH_DT_F16: return LLORCH_KT_F16;
	case LLORCH_DT_BF16: return LLORCH_KT_BF16;
	case LLORCH_DT_Q8_0: return LLORCH_KT_Q8_0;
	case LLORCH_DT_Q4_0: return LLORCH_KT_Q4_0;
	default: return LLORCH_KT_F32;
	}
}

/* Each level's row dequantizer (the prompts' weights to float) gives
 * llorch_dequantize_row's bits, every weight type, rows with a float tail. */
static void test_dequantize_levels(void **state)
{
	enum { N = 32 * 9, TAIL = 32 * 9 - 5 };
	const llorch_kernel_set *sets[] = {&llorch_kernels_scalar, &llorch_kernels_avx2,
		&llorch_kernels_avx512};
	const char *names[] = {"scalar", "avx2", "avx512"};
	const char *now = llorch_simd_level();
	float *x = random_x(N), want[N], got[N];
	uint8_t row[N * 4];

	(void)state;
	x[3] = 1e30f;
	x[40] = -0.0f;
	for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
		llorch_dtype t = types[ti];
		bool quant = t == LLORCH_DT_Q8_0 || t == LLORCH_DT_Q4_0;
		int64_t n = quant ? N : TAIL;
		assert_int_equal(llorch_quantize_row(t, x, row, n), LLORCH_OK);
		assert_int_equal(llorch_dequantize_row(t, row, want, n), LLORCH_OK);
		for (int l = 0; l < 3; l++) {
			if (!llorch_simd_set(names[l]))
				continue;
			memset(got, 0x55, sizeof got);
			sets[l]->dequantize(kernel_type(t), row, got, n);
			if (memcmp(got, want, (size_t)n * sizeof *got) != 0)
				fail_msg("%s: dequantize %s differs", names[l], llorch_dtype_name(t));
		}
	}
	assert_true(llorch_simd_set(now));
	free(x);
}

static void test_weight_bytes(void **state)
{
	(void)state;
	assert_int_equal(llorch_weight_bytes(LLORCH_DT_F32, 64, 3), 64 * 4 * 3);
	assert_int_equal(llorch_weight_bytes(LLORCH_DT_F16, 64, 3), 64 * 2 * 3);
	assert_int_equal(llorch_weight_bytes(LLORCH_DT_BF16, 64, 3), 64 * 2 * 3);
	assert_int_equal(llorch_weight_bytes(LLORCH_DT_Q8_0, 64, 3), 2 * 34 * 3);
	assert_int_equal(llorch_weight_bytes(LLORCH_DT_Q4_0, 64, 3), 2 * 18 * 3);
	assert_int_equal(llorch_weight_bytes(LLORCH_DT_Q4_K, 256, 3), 0);
}

static void test_simd_level_names(void **state)
{
	const char *now;

	(void)state;
	now = llorch_simd_level();
	assert_true(strcmp(now, "scalar") == 0 || strcmp(now, "avx2") == 0 ||
			strcmp(now, "avx512") == 0);
	assert_false(llorch_simd_set("sse9"));
	assert_true(llorch_simd_set("scalar"));
	assert_string_equal(llorch_simd_level(), "scalar");
	assert_true(llorch_simd_set(now));
}

/* Threads of this process, from /proc (-1 where there is none). */
static int process_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Once the kernels are chosen no OpenBLAS server thread is left: a
 * multi-threaded OpenBLAS starts them with the process, and they would
 * spin beside our pool (kernels.c). */
static void test_no_blas_threads(void **state)
{
	(void)state;
	(void)llorch_simd_level();
	if (process_threads() < 0)
		skip();
	/* A joined thread stays in /proc/self/task until the kernel has
	 * finished its exit, which on a busy machine takes a moment (CI saw 2
	 * once): wait up to a second. Live OpenBLAS server threads would not
	 * leave. */
	int n = process_threads();
	for (int i = 0; i < 100 && n != 1; i++) {
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
		n = process_threads();
	}
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fp16_all_values),
		cmocka_unit_test(test_weight_bytes),
		cmocka_unit_test(test_quantize_act_levels),
		cmocka_unit_test(test_dequantize_levels),
		cmocka_unit_test(test_simd_level_names),
		cmocka_unit_test(test_no_blas_threads),
		cmocka_unit_test(test_matvec),
		cmocka_unit_test(test_matvec_parts),
		cmocka_unit_test(test_matmul_parts),
		cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_matmul_few_long_rows),
		cmocka_unit_test(test_matmul_conv_blocks),
		cmocka_unit_test(test_matmul_int8),
		cmocka_unit_test(test_rows_multi),
		cmocka_unit_test(test_rows_long),
		cmocka_unit_test(test_rows_multi_float_long),
		cmocka_unit_test(test_batch_equals_single),
		cmocka_unit_test(test_matmul_epilogue),
		cmocka_unit_test(test_attn_row),
		cmocka_unit_test(test_to_q8_0),
		cmocka_unit_test(test_attn_tile),
		cmocka_unit_test(test_to_f16),
		cmocka_unit_test(test_activations),
		cmocka_unit_test(test_sampler_reductions),
		cmocka_unit_test(test_norms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
