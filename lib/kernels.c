/* Kernel dispatch: the instruction set chosen once at run time, matrix-vector
 * products threaded over rows, and matrix-matrix products for prompts.
 *
 * Matrix-matrix products: with AVX-512, our own GEMM (gemm_avx512.c) on
 * panels of 32 weight rows dequantized to float; elsewhere OpenBLAS sgemm on
 * tiles of dequantized rows. OpenBLAS chooses its kernels by CPU model, and
 * on recent AMD parts (or with OPENBLAS_CORETYPE=Haswell, as some
 * environments set) runs AVX2 code at ~60% of what our kernel does.
 *
 * BLAS threading policy. Debian's OpenBLAS (openblas-pthread) runs its own
 * worker threads, which busy-wait for a long time after each call. Next to
 * our pool on few cores they would fight our workers for the CPU between
 * calls. So OpenBLAS is kept single-threaded (openblas_set_num_threads(1),
 * once, as the program starts) and our pool does the threading: each pool
 * thread runs its own sgemm on its slice of W's rows. One set of threads,
 * one place that decides how many. Its server threads are stopped as well
 * (blas_thread_shutdown_, which a single-threaded OpenBLAS never needs
 * again): they start with the process and spin on sched_yield for their
 * first ~70 ms, on the cores a tool's first prompt runs on (GPT-2 q8_0's
 * first 64-token prompt ran at half speed in 3 of 6 starts).
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "kernels_impl.h"

/* OpenBLAS-specific; weak so that another CBLAS still links (it then runs
 * with its own threading defaults). */
extern void openblas_set_num_threads(int n) __attribute__((weak));
extern int blas_thread_shutdown_(void) __attribute__((weak));

static const llorch_kernel_set *active;
static pthread_once_t active_once = PTHREAD_ONCE_INIT;

static bool cpu_has_avx2(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	unsigned a, b, c, d;

	/* F16C by cpuid: clang's __builtin_cpu_supports does not know it. */
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_F16C))
		return false;
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

static bool cpu_has_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
		__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
		__builtin_cpu_supports("avx512dq");
#else
	return false;
#endif
}

static bool cpu_has_vnni(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
#else
	return false;
#endif
}

/* The best level this CPU runs, capped by LLORCH_SIMD. */
static void choose_kernels(void)
{
	const char *cap = getenv("LLORCH_SIMD");

	if (openblas_set_num_threads)
		openblas_set_num_threads(1);
	if (blas_thread_shutdown_)
		blas_thread_shutdown_();
	active = &llorch_kernels_scalar;
	if (cap && strcmp(cap, "scalar") == 0)
		return;
	if (cpu_has_avx2())
		active = &llorch_kernels_avx2;
	if (cap && strcmp(cap, "avx2") == 0)
		return;
	if (cpu_has_avx512())
		active = cpu_has_vnni() ? &llorch_kernels_avx512_vnni : &llorch_kernels_avx512;
}

static const llorch_kernel_set *kernels(void)
{
	pthread_once(&active_once, choose_kernels);
	return active;
}

/* The choice made as the program starts rather than at the first kernel
 * call: OpenBLAS's constructor (a shared library's, run before ours) has
 * just started its server threads, which spin on sched_yield for ~70 ms
 * unless stopped. A tool that used no kernel until its first input line
 * (llorch-sample, llorch-tokenize) had them spinning on the cores the
 * other stages of a pipeline run on: llorch-tokenize took 61 ms of CPU
 * at 1.76 CPUs to tokenize one word; llorch-sample in the generation loop
 * ran beside a spinning thread for its first ~20 tokens. */
__attribute__((constructor)) static void kernels_at_start(void)
{
	(void)kernels();
}

const char *llorch_simd_level(void)
{
	return kernels()->name;
}

bool llorch_simd_set(const char *level)
{
	kernels();
	if (strcmp(level, "scalar") == 0)
		active = &llorch_kernels_scalar;
	else if (strcmp(level, "avx2") == 0 && cpu_has_avx2())
		active = &llorch_kernels_avx2;
	else if (strcmp(level, "avx512") == 0 && cpu_has_avx512())
		active = cpu_has_vnni() ? &llorch_kernels_avx512_vnni : &llorch_kernels_avx512;
	else if (strcmp(level, "avx512-novnni") == 0 && cpu_has_avx512())
		active = &llorch_kernels_avx512;
	else
		return false;
	return true;
}

static int kernel_index(llorch_dtype t)
{
	switch (t) {
	case LLORCH_DT_F32: return LLORCH_KT_F32;
	case LLORCH_DT_F16: return LLORCH_KT_F16;
	case LLORCH_DT_BF16: return LLORCH_KT_BF16;
	case LLORCH_DT_Q8_0: return LLORCH_KT_Q8_0;
	case LLORCH_DT_Q4_0: return LLORCH_KT_Q4_0;
	default: return -1;
	}
}

static bool is_quantized(int kt)
{
	return kt == LLORCH_KT_Q8_0 || kt == LLORCH_KT_Q4_0;
}

size_t llorch_weight_bytes(llorch_dtype t, int64_t n_in, int64_t n_out)
{
	int kt = kernel_index(t);

	if (kt < 0 || n_in < 0 || n_out < 0)
		return 0;
	return llorch_kt_bytes(kt, n_in) * (size_t)n_out;
}

/* Rows are split into one contiguous range per thread (up to this many
 * ranges), each dealt out in grains from its own counter: a thread reads
 * its rows as one stream, so its prefetches run on from one grain into the
 * next, where grains from one shared counter went to the threads in turn
 * and each began with a few KiB of demand misses (GPT-2's 768x768 q4_0
 * matrix: 21 GB/s from memory on two threads, against 29 on one). A thread
 * done with its range takes grains from the others', so that one started
 * late (woken from sleep, preempted) keeps nobody waiting. */
#define LLORCH_RANGES_MAX 8
typedef struct {
	alignas(64) atomic_llong next;   /* first row not yet taken */
	int64_t end;
} grain_range;

/* Several vectors at once (a batched decode step, a short prompt): Y
 * (n_x, n_out) = X (n_x, n_in) . W^T, threaded over W's rows. */
typedef struct {
	const llorch_kernel_set *ks;
	int kt;
	const uint8_t *W;
	const float *x;   /* (n_x, n_in) */
	float *y;         /* (n_x, n_out) */
	int64_t n_in, n_out, n_x;
	size_t row_bytes;
	int64_t grain;       /* rows taken at a time, a multiple of LLORCH_ROWS */
	int n_ranges;
	grain_range range[LLORCH_RANGES_MAX];
	const llorch_epilogue *ep;   /* or NULL */
} matvec_job;

/* The epilogue on Y[:, r0..r1) (n_x rows of ldy): each element's bias add
 * and activation by the same kernel-set code as llorch_vec_add and
 * llorch_vec_gelu, which are element-wise, so the bits are those of the
 * separate passes however the rows were split. */
static void epilogue(const llorch_kernel_set *ks, const llorch_epilogue *ep, float *Y,
		int64_t ldy, int64_t n_x, int64_t r0, int64_t r1)
{
	if (!ep || r1 <= r0)
		return;
	for (int64_t t = 0; t < n_x; t++) {
		float *y = Y + t * ldy + r0;
		if (ep->bias)
			ks->add(y, ep->bias + r0, r1 - r0);
		if (ep->act == LLORCH_ACT_GELU)
			ks->gelu(y, r1 - r0);
	}
}

/* With several vectors and no multi-vector kernel for the type, rows are
 * taken a chunk of this many bytes at a time and every vector runs over the
 * chunk while it is in L2: W is read from memory once per call, not once
 * per vector. */
#define LLORCH_CHUNK_BYTES (64 * 1024)

/* x quantized, segment by segment, for the quantized kernels. A thread
 * keeps the last segment across its grains (and across the parts of
 * llorch_matvec_parts, which share x): with rows of up to LLORCH_SEG_VALUES
 * values it quantizes each vector once per call, not once per grain. */
typedef struct {
	const float *x;   /* NULL: nothing held */
	int64_t n_in, n_x, s, n;   /* the values [s, s + n) of each vector held */
	llorch_block_q8a q[LLORCH_MULTI_MAX * LLORCH_SEG_BLOCKS];   /* (n_x, n / 32) */
} xq_cache;

/* Values [s, s + n) of each of x's vectors, quantized; n_x * n fits q. */
static const llorch_block_q8a *quantized_segment(const matvec_job *j, xq_cache *c, int64_t s,
		int64_t n)
{
	if (c->x != j->x || c->n_in != j->n_in || c->n_x != j->n_x || c->s != s || c->n != n) {
		for (int64_t t = 0; t < j->n_x; t++)
			j->ks->quantize_act(j->x + t * j->n_in + s, c->q + t * (n / 32), n);
		c->x = j->x;
		c->n_in = j->n_in;
		c->n_x = j->n_x;
		c->s = s;
		c->n = n;
	}
	return c->q;
}

/* Rows per pass of long_rows without a rows_long kernel. */
#define LONG_ROWS_CHUNK 16

/* One vector and rows longer than a segment: x is quantized whole (the
 * cache has room for LLORCH_MULTI_MAX segments of one vector). The level's
 * rows_long kernel, where it has one, reads each row group whole, segment
 * after segment, as one stream (TinyLlama's 5632-long q4_0 and q8_0 rows:
 * 31-37 -> 44-46 GB/s, on par with 2048-long ones); else a few rows at a
 * time have all their segments summed before the next rows, instead of
 * one segment pass over all the rows (5632-long Q8_0 rows ran at 32 GB/s
 * that way, against 40 for 2048-long ones). Each row still gets its sums
 * segment by segment, in order, as with several vectors: the same bits. */
static void long_rows(const matvec_job *j, int64_t r0, int64_t r1, xq_cache *c)
{
	llorch_rows_fn rows = j->ks->rows[j->kt];
	const llorch_block_q8a *xq = quantized_segment(j, c, 0, j->n_in);

	if (j->ks->rows_long[j->kt] && j->n_in <= LLORCH_LONG_ROW_VALUES) {
		j->ks->rows_long[j->kt](j->W + (size_t)r0 * j->row_bytes, j->row_bytes, xq, j->n_in,
				j->y + r0, r1 - r0);
		return;
	}
	for (int64_t rc = r0; rc < r1; rc += LONG_ROWS_CHUNK) {
		int64_t nr = r1 - rc < LONG_ROWS_CHUNK ? r1 - rc : LONG_ROWS_CHUNK;
		for (int64_t s = 0; s < j->n_in; s += LLORCH_SEG_VALUES) {
			int64_t n = j->n_in - s < LLORCH_SEG_VALUES ? j->n_in - s : LLORCH_SEG_VALUES;
			rows(j->W + (size_t)rc * j->row_bytes + llorch_kt_bytes(j->kt, s), j->row_bytes,
					xq + s / 32, n, j->y + rc, nr);
		}
	}
}

/* Y[:, r0..r1) for this thread. Quantized rows are taken in segments of the
 * same length whatever n_x is, so that each (row, vector) sum is made of the
 * same partial sums alone or in a batch. */
static void matvec_rows(const matvec_job *j, int64_t r0, int64_t r1, xq_cache *c)
{
	bool quant = is_quantized(j->kt);
	int64_t seg = quant ? LLORCH_SEG_VALUES : j->n_in;
	int64_t chunk = r1 - r0;
	llorch_rows_fn rows = j->ks->rows[j->kt];
	llorch_rows_multi_fn multi = j->n_x > 1 ? j->ks->rows_multi[j->kt] : NULL;

	if (r1 <= r0)
		return;
	if (j->n_x > 1 && !multi && j->row_bytes > 0) {
		chunk = (int64_t)(LLORCH_CHUNK_BYTES / j->row_bytes) / LLORCH_ROWS * LLORCH_ROWS;
		if (chunk < LLORCH_ROWS)
			chunk = LLORCH_ROWS;
	}
	for (int64_t t = 0; t < j->n_x; t++)
		memset(j->y + t * j->n_out + r0, 0, (size_t)(r1 - r0) * sizeof *j->y);
	if (quant && j->n_x == 1 && j->n_in > seg && j->n_in <= LLORCH_MULTI_MAX * LLORCH_SEG_VALUES) {
		long_rows(j, r0, r1, c);
		return;
	}
	for (int64_t s = 0; s < j->n_in; s += seg) {
		int64_t n = j->n_in - s < seg ? j->n_in - s : seg;
		const llorch_block_q8a *xq = quant ? quantized_segment(j, c, s, n) : NULL;
		if (multi) {
			multi(j->W + (size_t)r0 * j->row_bytes + llorch_kt_bytes(j->kt, s), j->row_bytes,
					quant ? (const void *)xq : (const void *)(j->x + s),
					quant ? n / 32 : j->n_in, (int)j->n_x, n, j->y + r0, j->n_out,
					r1 - r0);
			continue;
		}
		for (int64_t rc = r0; rc < r1; rc += chunk) {
			int64_t nr = r1 - rc < chunk ? r1 - rc : chunk;
			const uint8_t *W = j->W + (size_t)rc * j->row_bytes + llorch_kt_bytes(j->kt, s);
			for (int64_t t = 0; t < j->n_x; t++) {
				const void *xt = quant ? (const void *)(xq + t * (n / 32))
						: (const void *)(j->x + t * j->n_in + s);
				rows(W, j->row_bytes, xt, n, j->y + t * j->n_out + rc, nr);
			}
		}
	}
}

/* Thread ith's grains: its own range first, then what is left of the
 * others' (see grain_range). A grain that does not follow the thread's
 * last one starts with a prefetch of its first LLORCH_PREFETCH_BYTES, the
 * kernels' own prefetches then running ahead. Each row is computed whole
 * by one thread, so results do not depend on which. */
static void take_grains(matvec_job *j, xq_cache *c, int ith)
{
	int64_t last = -1;

	for (int k = 0; k < j->n_ranges; k++) {
		grain_range *g = &j->range[(ith + k) % j->n_ranges];
		for (;;) {
			int64_t r0 = atomic_fetch_add_explicit(&g->next, j->grain, memory_order_relaxed);
			if (r0 >= g->end)
				break;
			int64_t r1 = g->end - r0 < j->grain ? g->end : r0 + j->grain;
			if (r0 != last) {
				size_t n = (size_t)(r1 - r0) * j->row_bytes;
				llorch_prefetch_rows(j->W + (size_t)r0 * j->row_bytes, 0,
						n < LLORCH_PREFETCH_BYTES ? n : LLORCH_PREFETCH_BYTES, 0, 1);
			}
			matvec_rows(j, r0, r1, c);
			epilogue(j->ks, j->ep, j->y, j->n_out, j->n_x, r0, r1);
			last = r1;
		}
	}
}

static void matvec_worker(void *arg, int ith, int nth)
{
	xq_cache c;

	(void)nth;
	c.x = NULL;
	take_grains(arg, &c, ith);
}

static void matvec_job_init(matvec_job *j, int nth, int kt, const void *W, const float *x,
		float *y, int64_t n_in, int64_t n_out, int64_t n_x, const llorch_epilogue *ep)
{
	*j = (matvec_job){
		.ks = kernels(), .kt = kt, .W = W, .x = x, .y = y,
		.n_in = n_in, .n_out = n_out, .n_x = n_x, .row_bytes = llorch_kt_bytes(kt, n_in),
		.ep = ep,
	};
	/* About four grains per thread, at least 32 rows: each grain has the
	 * kernels prepare x afresh, which must stay small beside its rows (16
	 * grains per thread measured no better). */
	j->grain = (n_out / (4 * nth) + LLORCH_ROWS - 1) / LLORCH_ROWS * LLORCH_ROWS;
	if (j->grain < 32)
		j->grain = 32;
	j->n_ranges = nth < LLORCH_RANGES_MAX ? nth : LLORCH_RANGES_MAX;
	for (int i = 0; i < j->n_ranges; i++) {
		atomic_init(&j->range[i].next, n_out * i / j->n_ranges / LLORCH_ROWS * LLORCH_ROWS);
		j->range[i].end = i + 1 < j->n_ranges ?
			n_out * (i + 1) / j->n_ranges / LLORCH_ROWS * LLORCH_ROWS : n_out;
	}
}

/* Below this many multiply-adds (a 512x512 matrix, a few microseconds from
 * L2) waking the pool and waiting for it costs about as much as it saves;
 * a tiny model's decode then runs on the calling thread alone. */
#define LLORCH_MATVEC_MIN_WORK (1 << 18)

static void matvec_multi(llorch_threadpool *pool, int kt, const void *W, const float *x,
		float *y, int64_t n_in, int64_t n_out, int64_t n_x, const llorch_epilogue *ep)
{
	matvec_job j;
	int nth = llorch_threadpool_size(pool);

	matvec_job_init(&j, nth, kt, W, x, y, n_in, n_out, n_x, ep);
	if (n_in * n_out * n_x < LLORCH_MATVEC_MIN_WORK || nth == 1)
		matvec_worker(&j, 0, 1);
	else
		llorch_threadpool_run(pool, matvec_worker, &j);
}

/* Products sharing x in one pool run: each thread drains the parts in
 * order, moving on to the next as soon as the current one has no grain
 * left, so nobody waits between parts. */
#define LLORCH_PARTS_MAX 4
typedef struct {
	matvec_job part[LLORCH_PARTS_MAX];
	int n;
} matvec_parts_job;

static void parts_worker(void *arg, int ith, int nth)
{
	matvec_parts_job *pj = arg;
	xq_cache c;

	(void)nth;
	c.x = NULL;
	for (int i = 0; i < pj->n; i++)
		take_grains(&pj->part[i], &c, ith);
}

static void parts_run(llorch_threadpool *pool, const float *x, int64_t n_x, int64_t n_in,
		const llorch_matvec_part *parts, int n_parts)
{
	int nth = llorch_threadpool_size(pool);

	for (int first = 0; first < n_parts; first += LLORCH_PARTS_MAX) {
		matvec_parts_job pj = {.n = 0};
		int64_t work = 0;
		for (int i = first; i < n_parts && pj.n < LLORCH_PARTS_MAX; i++) {
			int kt = kernel_index(parts[i].type);
			if (kt < 0 || parts[i].n_out <= 0)
				continue;
			matvec_job_init(&pj.part[pj.n++], nth, kt, parts[i].W, x, parts[i].y,
					n_in, parts[i].n_out, n_x, NULL);
			work += n_in * parts[i].n_out * n_x;
		}
		if (work < LLORCH_MATVEC_MIN_WORK || nth == 1)
			parts_worker(&pj, 0, 1);
		else
			llorch_threadpool_run(pool, parts_worker, &pj);
	}
}

void llorch_matvec_parts(llorch_threadpool *pool, const float *x, int64_t n_in,
		const llorch_matvec_part *parts, int n_parts)
{
	parts_run(pool, x, 1, n_in, parts, n_parts);
}

void llorch_matmul_parts(llorch_threadpool *pool, const float *X, int64_t n_tok, int64_t n_in,
		const llorch_matvec_part *parts, int n_parts)
{
	if (n_tok <= 0)
		return;
	if (n_tok <= LLORCH_MULTI_MAX) {
		parts_run(pool, X, n_tok, n_in, parts, n_parts);
		return;
	}
	for (int i = 0; i < n_parts; i++)
		llorch_matmul(pool, parts[i].type, parts[i].W, X, parts[i].y, n_in, parts[i].n_out,
				n_tok);
}

void llorch_matvec(llorch_threadpool *pool, llorch_dtype t, const void *W,
		const float *x, float *y, int64_t n_in, int64_t n_out)
{
	int kt = kernel_index(t);

	if (kt < 0 || n_out <= 0)
		return;
	matvec_multi(pool, kt, W, x, y, n_in, n_out, 1, NULL);
}

/* Matrix-matrix: each thread takes a slice of W's rows (whole columns of Y)
 * and runs single-threaded sgemm on it; other types are dequantized a tile
 * of rows at a time into a per-thread buffer first. */
typedef struct {
	const llorch_kernel_set *ks;
	int kt;
	const uint8_t *W;
	const float *X;
	float *Y;
	int64_t n_in, n_out, n_tok;
	size_t row_bytes;
	int64_t tile_rows;
	int64_t conv_rows;   /* OpenBLAS on converted weights: rows per sgemm call */
	atomic_llong next;   /* own GEMM: the first row of the next panel to take */
	const llorch_epilogue *ep;   /* or NULL */
} matmul_job;

/* Y[:, r0..r0+n) = X . W[r0..r0+n)^T with W as float (n, n_in), added to
 * what Y holds if accumulate. */
static void sgemm_rows(const matmul_job *j, const float *Wf, int64_t r0, int64_t n,
		bool accumulate)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)j->n_tok, (int)n, (int)j->n_in,
			1.0f, j->X, (int)j->n_in, Wf, (int)j->n_in, accumulate ? 1.0f : 0.0f,
			j->Y + r0, (int)j->n_out);
}

/* Y[:, r0..r1) = the epilogue's bias: the product is then added to it
 * (beta 1), which replaces OpenBLAS's pass that zeroes Y and the pass that
 * added the bias to the product, a block of Y that had left L2. */
static void fill_bias(const matmul_job *j, int64_t r0, int64_t r1)
{
	for (int64_t t = 0; t < j->n_tok; t++)
		memcpy(j->Y + t * j->n_out + r0, j->ep->bias + r0, (size_t)(r1 - r0) * sizeof(float));
}

/* Without a tile buffer: the row kernels, a few tokens at a time. */
static void matmul_rows_by_token(const matmul_job *j, int64_t r0, int64_t r1)
{
	xq_cache c;

	c.x = NULL;
	for (int64_t t = 0; t < j->n_tok; t += LLORCH_MULTI_MAX) {
		matvec_job mj = {
			.ks = j->ks, .kt = j->kt, .W = j->W, .x = j->X + t * j->n_in,
			.y = j->Y + t * j->n_out, .n_in = j->n_in, .n_out = j->n_out,
			.n_x = j->n_tok - t < LLORCH_MULTI_MAX ? j->n_tok - t : LLORCH_MULTI_MAX,
			.row_bytes = j->row_bytes,
		};
		matvec_rows(&mj, r0, r1, &c);
	}
}

/* Values of a row packed per pass: 16 rows' worth of floats stay in L1. */
#define LLORCH_PACK_CHUNK 256

/* P (n_in, LLORCH_PANEL) = rows r .. r + n - 1 of W as float, transposed;
 * rows past n are zeros. Float and half rows are read in place, quantized
 * ones dequantized a chunk at a time into buf (16 * LLORCH_PACK_CHUNK
 * floats). */
static void pack_panel(const matmul_job *j, int64_t r, int n, float *P, float *buf)
{
	for (int half = 0; half < LLORCH_PANEL; half += 16)
		for (int64_t k0 = 0; k0 < j->n_in; k0 += LLORCH_PACK_CHUNK) {
			int64_t kn = j->n_in - k0 < LLORCH_PACK_CHUNK ? j->n_in - k0 : LLORCH_PACK_CHUNK;
			const void *rows[16];
			bool quant = is_quantized(j->kt);
			for (int c = 0; c < 16; c++) {
				const uint8_t *w = j->W + (size_t)(r + half + c) * j->row_bytes +
					llorch_kt_bytes(j->kt, k0);
				float *dst = buf + c * LLORCH_PACK_CHUNK;
				if (half + c >= n) {
					rows[c] = NULL;
				} else if (!quant) {
					rows[c] = w;
				} else {
					j->ks->dequantize(j->kt, w, dst, kn);
					rows[c] = dst;
				}
			}
			j->ks->pack16(quant ? LLORCH_KT_F32 : j->kt, rows, kn,
					P + k0 * LLORCH_PANEL + half);
		}
}

/* Own GEMM: each panel of 32 weight rows is dequantized and packed as
 * (n_in, 32) floats, then multiplied with all of X. Panels are taken from
 * a shared counter, so that a thread that starts late or is preempted
 * takes fewer; each is computed whole by one thread, so the result does
 * not depend on which. */
static void matmul_panels(matmul_job *j)
{
	size_t k = (size_t)j->n_in;
	float *P = malloc((k * LLORCH_PANEL + 16 * LLORCH_PACK_CHUNK) * sizeof *P);

	for (;;) {
		int64_t r = atomic_fetch_add_explicit(&j->next, LLORCH_PANEL, memory_order_relaxed);
		if (r >= j->n_out)
			break;
		int n = j->n_out - r < LLORCH_PANEL ? (int)(j->n_out - r) : LLORCH_PANEL;
		if (P) {
			pack_panel(j, r, n, P, P + k * LLORCH_PANEL);
			j->ks->gemm_panel(j->X, j->n_tok, j->n_in, P, n, j->Y + r, j->n_out);
		} else {
			matmul_rows_by_token(j, r, r + n);
		}
		epilogue(j->ks, j->ep, j->Y, j->n_out, j->n_tok, r, r + n);
	}
	free(P);
}

/* Y[:, r0..r1) by OpenBLAS (see above), with the epilogue's bias. Weights
 * of other types are converted to float conv_rows at a time, each block
 * one sgemm call. */
static void blas_rows(const matmul_job *j, int64_t r0, int64_t r1)
{
	bool bias = j->ep && j->ep->bias;
	int64_t conv = r1 - r0 < j->conv_rows ? r1 - r0 : j->conv_rows;
	float *tile = NULL;

	if (j->kt != LLORCH_KT_F32 &&
	    !(tile = malloc((size_t)conv * (size_t)j->n_in * sizeof *tile))) {
		matmul_rows_by_token(j, r0, r1);
		for (int64_t t = 0; bias && t < j->n_tok; t++)
			j->ks->add(j->Y + t * j->n_out + r0, j->ep->bias + r0, r1 - r0);
		return;
	}
	if (bias)
		fill_bias(j, r0, r1);
	if (!tile) {
		sgemm_rows(j, (const float *)(const void *)(j->W + (size_t)r0 * j->row_bytes), r0,
				r1 - r0, bias);
		return;
	}
	for (int64_t r = r0; r < r1; r += conv) {
		int64_t n = r1 - r < conv ? r1 - r : conv;
		for (int64_t i = 0; i < n; i++)
			j->ks->dequantize(j->kt, j->W + (size_t)(r + i) * j->row_bytes,
					tile + i * j->n_in, j->n_in);
		sgemm_rows(j, tile, r, n, bias);
	}
	free(tile);
}

/* Without a GEMM kernel at this level: OpenBLAS, on chunks of rows taken
 * from a shared counter (blas_rows takes a chunk a tile at a time). The
 * chunks' bounds depend on the matrix's shape alone, so every sgemm call,
 * and every element of Y, is the same whatever the thread count: with a
 * range per thread, some elements came out of OpenBLAS summed in another
 * order with 1 and with 3 threads (the scalar and AVX2 levels; found by
 * running test_forward at those levels, tests/simd-levels.bats). */
static void matmul_worker(void *arg, int ith, int nth)
{
	matmul_job *j = arg;

	(void)ith;
	(void)nth;
	if (j->ks->gemm_panel && j->ks->pack16) {
		matmul_panels(j);
		return;
	}
	/* a quarter of the rows (a multiple of 32), or a tile if more: sgemm
	 * packs X once per call, and a call per tile cost F32 and F16 pp512
	 * 4-5% at the AVX2 level */
	int64_t chunk = (j->n_out / 4 + LLORCH_PANEL - 1) / LLORCH_PANEL * LLORCH_PANEL;
	if (chunk < j->tile_rows)
		chunk = j->tile_rows;
	/* blas_rows adds the bias */
	llorch_epilogue act = {.bias = NULL, .act = j->ep ? j->ep->act : LLORCH_ACT_NONE};
	for (;;) {
		int64_t r0 = atomic_fetch_add_explicit(&j->next, chunk, memory_order_relaxed);
		if (r0 >= j->n_out)
			break;
		int64_t r1 = j->n_out - r0 < chunk ? j->n_out : r0 + chunk;
		blas_rows(j, r0, r1);
		epilogue(j->ks, j->ep ? &act : NULL, j->Y, j->n_out, j->n_tok, r0, r1);
	}
}

/* Quantized weights where the level has an integer GEMM: X is quantized to
 * activation blocks once per call (as the decode kernels quantize x, split
 * over the pool by tokens), then the threads take panels of 32 rows from a
 * shared counter (as matvec takes grains: a thread that starts late takes
 * fewer) and run qgemm_panel on each. Every element of Y is computed the
 * same way whatever the thread count. */
typedef struct {
	const matmul_job *j;
	llorch_block_q8a *xq;   /* (n_tok, n_in / 32), quants biased by +128 (see qgemm_x_signed) */
	int64_t nb;
	atomic_llong next;      /* first row of the next panel not yet taken */
} qgemm_job;

static void qgemm_quantize_worker(void *arg, int ith, int nth)
{
	const qgemm_job *q = arg;
	const matmul_job *j = q->j;

	for (int64_t t = j->n_tok * ith / nth; t < j->n_tok * (ith + 1) / nth; t++) {
		llorch_block_q8a *xb = q->xq + t * q->nb;
		j->ks->quantize_act(j->X + t * j->n_in, xb, j->n_in);
		if (j->ks->qgemm_x_signed)
			continue;
		for (int64_t b = 0; b < q->nb; b++)
			for (int i = 0; i < 32; i++)
				xb[b].qs[i] = (int8_t)(uint8_t)((uint8_t)xb[b].qs[i] ^ 0x80u);
	}
}

static void qgemm_worker(void *arg, int ith, int nth)
{
	qgemm_job *q = arg;
	const matmul_job *j = q->j;
	void *P = aligned_alloc(64, (size_t)q->nb * LLORCH_QPANEL_BLOCK_BYTES);

	(void)ith;
	(void)nth;
	for (;;) {
		int64_t r = atomic_fetch_add_explicit(&q->next, LLORCH_PANEL, memory_order_relaxed);
		int64_t n = j->n_out - r < LLORCH_PANEL ? j->n_out - r : LLORCH_PANEL;
		if (r >= j->n_out)
			break;
		if (P)
			j->ks->qgemm_panel(j->kt, j->W + (size_t)r * j->row_bytes, j->row_bytes,
					(int)n, q->xq, j->n_tok, q->nb, P, j->Y + r, j->n_out);
		else
			matmul_rows_by_token(j, r, r + n);
		epilogue(j->ks, j->ep, j->Y, j->n_out, j->n_tok, r, r + n);
	}
	free(P);
}

/* False (nothing done) when the level has no integer GEMM, there are too
 * few tokens for its tile, or memory is short: the float path runs. */
static bool matmul_qgemm(llorch_threadpool *pool, const matmul_job *j)
{
	qgemm_job q = {.j = j, .nb = j->n_in / 32};

	if (!is_quantized(j->kt) || !j->ks->qgemm_panel || q.nb <= 0 ||
			j->n_tok < LLORCH_QGEMM_MIN_TOK)
		return false;
	q.xq = malloc((size_t)j->n_tok * (size_t)q.nb * sizeof *q.xq);
	if (!q.xq)
		return false;
	atomic_init(&q.next, 0);
	llorch_threadpool_run(pool, qgemm_quantize_worker, &q);
	llorch_threadpool_run(pool, qgemm_worker, &q);
	free(q.xq);
	return true;
}

void llorch_matmul(llorch_threadpool *pool, llorch_dtype t, const void *W,
		const float *X, float *Y, int64_t n_in, int64_t n_out, int64_t n_tok)
{
	llorch_matmul_ep(pool, t, W, X, Y, n_in, n_out, n_tok, NULL);
}

void llorch_matmul_ep(llorch_threadpool *pool, llorch_dtype t, const void *W,
		const float *X, float *Y, int64_t n_in, int64_t n_out, int64_t n_tok,
		const llorch_epilogue *ep)
{
	int kt = kernel_index(t);
	/* About 1 MiB of floats: the smallest chunk of rows OpenBLAS's
	 * products take (matmul_worker). */
	int64_t tile_rows = ((int64_t)(1 << 18) / (n_in > 0 ? n_in : 1) + 15) / 16 * 16;
	/* Weights converted for OpenBLAS: 8 MiB of floats per sgemm call. Each
	 * call packs all of X again; with 1 MiB blocks TinyLlama's f16 pp512
	 * spent 14% of its time packing X (n_in 2048: 128 rows a call), with
	 * 8 MiB 4.5% (the profile's samples -8%). */
	int64_t conv_rows = ((int64_t)(1 << 21) / (n_in > 0 ? n_in : 1) + 15) / 16 * 16;
	matmul_job j = {
		.ks = kernels(), .kt = kt, .W = W, .X = X, .Y = Y,
		.n_in = n_in, .n_out = n_out, .n_tok = n_tok, .row_bytes = llorch_kt_bytes(kt, n_in),
		.tile_rows = tile_rows, .conv_rows = conv_rows, .ep = ep,
	};

	atomic_init(&j.next, 0);
	if (kt < 0 || n_out <= 0 || n_tok <= 0)
		return;
	if (n_tok <= LLORCH_MULTI_MAX) {
		matvec_multi(pool, kt, W, X, Y, n_in, n_out, n_tok, ep);
		return;
	}
	if (matmul_qgemm(pool, &j))
		return;
	llorch_threadpool_run(pool, matmul_worker, &j);
}

void llorch_attn_row(llorch_dtype kv_type, const float *q, const void *k, const void *v,
		int64_t kv_stride, int64_t hd, int64_t n_kv, float scale, float *scores, float *out)
{
	kernels()->attn_row(kernel_index(kv_type), q, k, v, kv_stride, hd, n_kv, scale, scores, out);
}

void llorch_attn_prefetch(llorch_dtype kv_type, const void *k, int64_t kv_stride, int64_t hd,
		int64_t n_kv)
{
	int kt = kernel_index(kv_type);

	llorch_prefetch_rows(k, llorch_kt_bytes(kt, kv_stride), llorch_kt_bytes(kt, hd), 0,
			n_kv < LLORCH_ATTN_LEAD ? n_kv : LLORCH_ATTN_LEAD);
}

void llorch_attn_tile(llorch_dtype kv_type, const float *q, int64_t q_stride, const void *k,
		const void *v, int64_t kv_stride, int64_t hd, int64_t pos0, int n_q, float scale,
		float *scratch, float *out, int64_t out_stride)
{
	const llorch_kernel_set *ks = kernels();
	int kt = kernel_index(kv_type);

	if (ks->attn_tile) {
		ks->attn_tile(kt, q, q_stride, k, v, kv_stride, hd, pos0, n_q, scale, scratch, out,
				out_stride);
		return;
	}
	for (int i = 0; i < n_q; i++)
		ks->attn_row(kt, q + i * q_stride, k, v, kv_stride, hd, pos0 + i + 1, scale, scratch,
				out + i * out_stride);
}

void llorch_vec_to_f16(const float *src, uint16_t *dst, int64_t n)
{
	kernels()->to_f16(src, dst, n);
}

void llorch_vec_to_q8_0(const float *src, llorch_block_q8_0 *dst, int64_t n)
{
	const llorch_kernel_set *ks = kernels();
	llorch_block_q8a buf[8];

	for (int64_t i = 0; i < n; i += 8 * LLORCH_QK8_0) {
		int64_t m = n - i < 8 * LLORCH_QK8_0 ? n - i : 8 * LLORCH_QK8_0;
		ks->quantize_act(src + i, buf, m);
		for (int64_t b = 0; b < m / LLORCH_QK8_0; b++) {
			llorch_block_q8_0 *o = dst + i / LLORCH_QK8_0 + b;
			o->d = llorch_fp32_to_fp16(buf[b].d);
			memcpy(o->qs, buf[b].qs, sizeof o->qs);
		}
	}
}

void llorch_vec_add(float *x, const float *b, int64_t n)
{
	kernels()->add(x, b, n);
}

void llorch_vec_layernorm(float *y, const float *x, const float *w, const float *b,
		int64_t n, float eps)
{
	kernels()->layernorm(y, x, w, b, n, eps);
}

void llorch_vec_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
	kernels()->rmsnorm(y, x, w, n, eps);
}

void llorch_vec_gelu(float *x, int64_t n)
{
	kernels()->gelu(x, n);
}

void llorch_vec_silu_mul(float *gate, const float *up, int64_t n)
{
	kernels()->silu_mul(gate, up, n);
}

float llorch_vec_max(const float *x, int64_t n)
{
	return kernels()->max(x, n);
}

int64_t llorch_vec_find_above(const float *x, int64_t n, float bar)
{
	return kernels()->find_above(x, n, bar);
}

float llorch_vec_log_sum_exp(const float *x, int64_t n)
{
	const llorch_kernel_set *k = kernels();
	float mx = k->max(x, n);

	if (!isfinite(mx))
		return mx;
	return mx + (float)log(k->sum_exp(x, n, mx));
}
