/* The benchmark driver behind `make bench` (tests/bench/run): measures one
 * model through the library directly, or the machine's memory read
 * bandwidth, and prints one JSON object per line.
 *
 *   bench stream [-t THREADS] [-M MIB] [-r PASSES]
 *       {"threads":2,"stream_gbs":44.1,"simd":"avx512"}: read bandwidth of
 *       our thread pool streaming a buffer of MIB MiB (default 1024; median
 *       of PASSES passes, 1 to 5, default 5), and the kernels' level.
 *   bench model -m MODEL.gguf [-t THREADS] [-p 512] [-n 128] [-b 4] [-r 3]
 *       prompt tokens/s (one eval of -p tokens from an empty context), decode
 *       tokens/s (-n single-token evals from an empty context, logits each
 *       step), batched decode tokens/s (-b contexts stepped together with
 *       llorch_ctx_eval_batch), cold-start ms to first token (model load,
 *       context, 16-token prompt), peak RSS; medians of -r runs, after a
 *       warm-up of the contexts (not of the cold start). Tokens are
 *       pseudo-random ids from a fixed seed. With -S MIB, the read bandwidth
 *       (as bench stream, over MIB MiB, in another process) right before
 *       and right after each decode run, the higher of the two, and that
 *       run's tokens/s over its bound (bandwidth / weight bytes):
 *       "stream_gbs" and "tg_of_bound", medians. In each run the one-stream
 *       and the batched decode steps take turns (16 of each at a time), and
 *       "batch_x" is the median of the runs' own ratios of the two, so that
 *       a drift of the bandwidth between them does not become the ratio.
 *   bench gen -m MODEL.gguf -P PROMPT [-t THREADS] [-n 128] [-T 0] [-k 0]
 *             [-s 1] [-r 3] [-o TEXT_FILE]
 *       the in-process generation loop (llorch_generate, as llorch-serve runs
 *       it): per run {"run":0,"tokens":128,"tok_s":...,"first_token_ms":...,
 *       "stop":"MAX_TOKENS"}; tok_s is (tokens - 1) over the time from the
 *       first sampled token to the last. -o writes the last run's text.
 *   bench depth -m MODEL.gguf [-t THREADS] [-d 0,128,256,512,1024] [-n 32]
 *       [-r 3]
 *       decode tokens/s with DEPTH positions already in the KV cache:
 *       {"depth":128,"n_gen":32,"tg_tok_s":...} per depth (lowered to fit
 *       the model's context). */
#define _GNU_SOURCE
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "kernels.h"
#include "threadpool.h"

#define MAX_BATCH 16
/* Decode steps of one kind before the other's turn (see run_model). */
#define DECODE_TURN 16

extern char **environ;

_Noreturn void die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, llorch_last_error());
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double seconds(void)
{
	return (double)llorch_now_ns() * 1e-9;
}

/* ---- stream ---- */

typedef struct {
	const uint64_t *buf;
	size_t n;          /* uint64 words */
	uint64_t sink[64]; /* per thread, a cache line apart */
} stream_job;

static void stream_worker(void *arg, int ith, int nth)
{
	stream_job *j = arg;
	size_t a = j->n * (size_t)ith / (size_t)nth, b = j->n * (size_t)(ith + 1) / (size_t)nth;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;

	/* Prefetched as far ahead as the row kernels do (8 KiB): without it
	 * this loop read less than f32 decode does, and the bound was low. */
	for (size_t i = a; i + 4 <= b; i += 4) {
		if (i % 8 == 0)
			__builtin_prefetch(j->buf + i + 1024);
		s0 ^= j->buf[i];
		s1 ^= j->buf[i + 1];
		s2 ^= j->buf[i + 2];
		s3 ^= j->buf[i + 3];
	}
	j->sink[(ith % 8) * 8] = s0 ^ s1 ^ s2 ^ s3;
}

/* A buffer of mib MiB to stream, and a pool of threads to read it. */
typedef struct {
	stream_job j;
	uint64_t *buf;
	size_t bytes;
	llorch_threadpool *pool;
} stream_meter;

static void stream_meter_new(stream_meter *sm, int threads, int mib)
{
	sm->bytes = (size_t)mib << 20;
	sm->j = (stream_job){.n = sm->bytes / 8};
	if (!(sm->buf = malloc(sm->bytes))) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < sm->j.n; i++)
		sm->buf[i] = i * 0x9e3779b97f4a7c15ull;
	sm->j.buf = sm->buf;
	if (llorch_threadpool_new(threads, &sm->pool) != LLORCH_OK)
		die("thread pool");
}

static void stream_meter_free(stream_meter *sm)
{
	llorch_threadpool_free(sm->pool);
	free(sm->buf);
}

/* GB/s, the median of passes passes over the buffer. */
static double stream_gbs(stream_meter *sm, int passes)
{
	double gbs[5];

	for (int r = 0; r < passes && r < 5; r++) {
		double t = seconds();
		llorch_threadpool_run(sm->pool, stream_worker, &sm->j);
		gbs[r] = (double)sm->bytes / (seconds() - t) * 1e-9;
	}
	return median(gbs, passes < 5 ? passes : 5);
}

/* stream_gbs (median of 3 passes) in another process, so that the buffer
 * does not count in this process's peak RSS: this program run again as
 * `bench stream`, by posix_spawn, which shares the address space until the
 * exec. A fork() here made every page of ours copy-on-write until its
 * next write, and the prompt runs after it paid a fault per page: GPT-2
 * q8_0's pp512 read 3700 tok/s against 4750 in a process without it. */
static double stream_gbs_apart(int threads, int mib)
{
	char name[] = "bench", mode[] = "stream", t_opt[] = "-t", m_opt[] = "-M", r_opt[] = "-r";
	char passes[] = "3", t[16], m[16], out[256];
	char *argv[] = {name, mode, t_opt, t, m_opt, m, r_opt, passes, NULL};
	posix_spawn_file_actions_t fa;
	int fd[2], status;
	size_t len = 0;
	ssize_t got;
	pid_t pid;

	snprintf(t, sizeof t, "%d", threads);
	snprintf(m, sizeof m, "%d", mib);
	if (pipe(fd) != 0 || posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, fd[1], 1) != 0 ||
	    posix_spawn_file_actions_addclose(&fa, fd[0]) != 0 ||
	    posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ) != 0) {
		perror("bench: stream");
		exit(1);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fd[1]);
	while (len < sizeof out - 1 && (got = read(fd[0], out + len, sizeof out - 1 - len)) > 0)
		len += (size_t)got;
	out[len] = '\0';
	close(fd[0]);
	const char *v = strstr(out, "\"stream_gbs\":");
	double gbs = v ? strtod(v + strlen("\"stream_gbs\":"), NULL) : 0;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    gbs <= 0) {
		fprintf(stderr, "bench: the bandwidth measurement failed\n");
		exit(1);
	}
	return gbs;
}

static int run_stream(int threads, int mib, int passes)
{
	stream_meter sm;

	stream_meter_new(&sm, threads, mib);
	printf("{\"threads\":%d,\"stream_gbs\":%.2f,\"simd\":\"%s\"}\n", threads,
			stream_gbs(&sm, passes), llorch_simd_level());
	stream_meter_free(&sm);
	return 0;
}

/* ---- model ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

int32_t random_token(int32_t n_vocab)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (int32_t)(((rng * 0x2545f4914f6cdd1dull) >> 33) % (uint64_t)n_vocab);
}

typedef struct {
	const char *path;
	int threads, n_prompt, n_gen, n_batch, runs;
	int stream_mib;   /* > 0: measure the bandwidth before each decode run */
	llorch_dtype kv_type;
} model_opts;

static llorch_ctx *new_ctx(const llorch_model *m, const model_opts *o, int32_t n_ctx)
{
	llorch_ctx_params p = llorch_ctx_default_params();
	llorch_ctx *c;

	p.n_ctx = n_ctx;
	p.n_threads = o->threads;
	p.n_batch = o->n_prompt > 0 ? o->n_prompt : 512;
	p.kv_type = o->kv_type;
	if (llorch_ctx_new(m, &p, &c) != LLORCH_OK)
		die("context");
	return c;
}

/* Cold start as a tool invocation sees it: load, context, 16-token prompt. */
static double first_token_ms(const model_opts *o)
{
	int64_t t0 = llorch_now_ns();
	llorch_model *m;
	int32_t toks[16];

	if (llorch_model_load(o->path, &m) != LLORCH_OK)
		die(o->path);
	const llorch_hparams *hp = llorch_model_hparams(m);
	float *logits = malloc((size_t)hp->n_vocab * sizeof *logits);
	llorch_ctx *c = new_ctx(m, o, 64);
	for (int i = 0; i < 16; i++)
		toks[i] = random_token(hp->n_vocab);
	if (!logits || llorch_ctx_eval(c, toks, 16, logits, false) != LLORCH_OK)
		die("eval");
	double ms = (double)(llorch_now_ns() - t0) * 1e-6;
	llorch_ctx_free(c);
	llorch_model_free(m);
	free(logits);
	return ms;
}

static int run_model(const model_opts *o)
{
	double pp[MAX_RUNS], tg[MAX_RUNS], bt[MAX_RUNS], ttft[MAX_RUNS];
	double gbs[MAX_RUNS], of_bound[MAX_RUNS], batch_x[MAX_RUNS];
	llorch_model *m;
	llorch_ctx *ctxs[MAX_BATCH];
	struct rusage ru;

	for (int r = 0; r < o->runs; r++)
		ttft[r] = first_token_ms(o);
	if (llorch_model_load(o->path, &m) != LLORCH_OK)
		die(o->path);
	const llorch_hparams *hp = llorch_model_hparams(m);
	int32_t V = hp->n_vocab;
	int32_t n_ctx = o->n_prompt > o->n_gen ? o->n_prompt : o->n_gen;
	if (n_ctx > hp->n_ctx_train)
		n_ctx = hp->n_ctx_train;
	int32_t n_prompt = o->n_prompt < n_ctx ? o->n_prompt : n_ctx;
	int32_t n_gen = o->n_gen < n_ctx ? o->n_gen : n_ctx;
	float *logits = malloc((size_t)V * (size_t)o->n_batch * sizeof *logits);
	int32_t *toks = malloc((size_t)((n_prompt > n_gen ? n_prompt : n_gen) + MAX_BATCH) * sizeof *toks);
	if (!logits || !toks) {
		fprintf(stderr, "bench: out of memory\n");
		return 1;
	}
	llorch_ctx *c = new_ctx(m, o, n_ctx);
	size_t wbytes = llorch_model_weight_bytes(m);
	/* batched decode: n_batch streams, each its own context */
	int nb = o->n_batch;
	for (int i = 0; i < nb; i++)
		ctxs[i] = new_ctx(m, o, n_ctx);

	/* A warm-up, as llama-bench runs one. The first pass over the weights
	 * maps the file's pages into this process, and the first use of a
	 * cache position faults its memory in (a 2 MiB page zeroed a fault):
	 * runs of one process each (tests/bench/run --compare) would pay both
	 * in every figure. The prompt takes the positions the prompt runs use,
	 * and a prompt of n_gen tokens in each stream's context those of the
	 * batched decode. */
	for (int32_t i = 0; i < (n_prompt > n_gen ? n_prompt : n_gen); i++)
		toks[i] = random_token(V);
	if (llorch_ctx_eval(c, toks, n_prompt, logits, false) != LLORCH_OK ||
	    llorch_ctx_truncate(c, 0) != LLORCH_OK)
		die("warm-up");
	for (int i = 0; i < nb; i++)
		if (llorch_ctx_eval(ctxs[i], toks, n_gen, logits, false) != LLORCH_OK ||
		    llorch_ctx_truncate(ctxs[i], 0) != LLORCH_OK)
			die("warm-up");

	for (int r = 0; r < o->runs; r++) {
		for (int32_t i = 0; i < n_prompt; i++)
			toks[i] = random_token(V);
		if (llorch_ctx_truncate(c, 0) != LLORCH_OK)
			die("truncate");
		double t = seconds();
		if (llorch_ctx_eval(c, toks, n_prompt, logits, false) != LLORCH_OK)
			die("prompt eval");
		pp[r] = n_prompt / (seconds() - t);

		if (llorch_ctx_truncate(c, 0) != LLORCH_OK)
			die("truncate");
		for (int i = 0; i < nb; i++)
			if (llorch_ctx_truncate(ctxs[i], 0) != LLORCH_OK)
				die("truncate");
		/* The VM's bandwidth drifts (33 to 76 GB/s seen in one hour):
		 * each decode run is set against the bandwidth measured right
		 * before it... */
		gbs[r] = o->stream_mib > 0 ? stream_gbs_apart(o->threads, o->stream_mib) : 0;
		/* ...and it drifts within seconds: the one-stream steps and the
		 * batched ones take turns, DECODE_TURN of each, so that both see
		 * the same machine and their ratio is not that of two moments
		 * (TinyLlama f16: 3.1x in alternating processes, 2.45x with each
		 * half of the run in one piece) */
		double t_one = 0, t_batch = 0;
		for (int32_t s0 = 0; s0 < n_gen; s0 += DECODE_TURN) {
			int32_t s1 = n_gen - s0 < DECODE_TURN ? n_gen : s0 + DECODE_TURN;
			t = seconds();
			for (int32_t i = s0; i < s1; i++) {
				int32_t tok = random_token(V);
				if (llorch_ctx_eval(c, &tok, 1, logits, false) != LLORCH_OK)
					die("decode eval");
			}
			t_one += seconds() - t;
			t = seconds();
			for (int32_t i = s0; i < s1; i++) {
				for (int k = 0; k < nb; k++)
					toks[k] = random_token(V);
				if (llorch_ctx_eval_batch(ctxs, toks, nb, logits) != LLORCH_OK)
					die("batch eval");
			}
			t_batch += seconds() - t;
		}
		tg[r] = n_gen / t_one;
		bt[r] = (double)n_gen * nb / t_batch;
		/* and after it: the higher of the two is the bound, so that a
		 * rise in bandwidth during the run does not count for us */
		if (o->stream_mib > 0) {
			double after = stream_gbs_apart(o->threads, o->stream_mib);
			if (after > gbs[r])
				gbs[r] = after;
		}
		of_bound[r] = gbs[r] > 0 ? tg[r] / (gbs[r] * 1e9 / (double)wbytes) : 0;
		batch_x[r] = bt[r] / tg[r];
	}
	llorch_ctx_free(c);
	for (int i = 0; i < nb; i++)
		llorch_ctx_free(ctxs[i]);

	getrusage(RUSAGE_SELF, &ru);
	printf("{\"model\":\"%s\",\"threads\":%d,\"simd\":\"%s\",\"weight_bytes\":%zu,"
			"\"n_prompt\":%d,\"n_gen\":%d,\"pp_tok_s\":%.2f,\"tg_tok_s\":%.2f,"
			"\"batch\":%d,\"batch_tok_s\":%.2f,\"batch_x\":%.3f,\"first_token_ms\":%.1f,\"peak_rss_kb\":%ld,"
			"\"stream_gbs\":%.2f,\"tg_of_bound\":%.4f,\"kv_type\":\"%s\"}\n",
			llorch_model_name(m), o->threads, llorch_simd_level(),
			wbytes, n_prompt, n_gen, median(pp, o->runs),
			median(tg, o->runs), nb, median(bt, o->runs), median(batch_x, o->runs),
			median(ttft, o->runs),
			ru.ru_maxrss, median(gbs, o->runs), median(of_bound, o->runs),
			llorch_dtype_name(o->kv_type));
	llorch_model_free(m);
	free(toks);
	free(logits);
	return 0;
}

static int usage(void)
{
	fputs("usage: bench stream [-t THREADS] [-M MIB] [-r PASSES]\n"
	      "       bench model -m MODEL.gguf [-t THREADS] [-p N_PROMPT] [-n N_GEN]"
	      " [-b BATCH] [-r RUNS] [-S MIB] [-K KV_TYPE]\n"
	      "       bench gen -m MODEL.gguf -P PROMPT [-t THREADS] [-n N_GEN] [-T TEMP]"
	      " [-k TOP_K] [-s SEED] [-r RUNS] [-o TEXT_FILE] [-K KV_TYPE]\n"
	      "       bench depth -m MODEL.gguf [-t THREADS] [-d DEPTH,...] [-n N_GEN] [-r RUNS]"
	      " [-K KV_TYPE]\n",
	      stderr);
	return 64;
}

int main(int argc, char **argv)
{
	model_opts o = {.threads = 0, .n_prompt = 512, .n_gen = 128, .n_batch = 4, .runs = 3};
	gen_opts g = {.depths = "0,128,256,512,1024", .n_gen = -1, .seed = 1};
	int opt, mib = 1024, passes = 5;

	if (argc < 2)
		return usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "m:t:p:n:b:r:P:o:d:T:k:s:M:S:K:")) != -1) {
		switch (opt) {
		case 'm': o.path = optarg; break;
		case 't': o.threads = atoi(optarg); break;
		case 'p': o.n_prompt = atoi(optarg); break;
		case 'n': o.n_gen = g.n_gen = atoi(optarg); break;
		case 'b': o.n_batch = atoi(optarg); break;
		case 'r': o.runs = passes = atoi(optarg); break;
		case 'P': g.prompt = optarg; break;
		case 'o': g.text_out = optarg; break;
		case 'd': g.depths = optarg; break;
		case 'T': g.temperature = atof(optarg); break;
		case 'k': g.top_k = atoi(optarg); break;
		case 's': g.seed = strtoull(optarg, NULL, 10); break;
		case 'M': mib = atoi(optarg); break;
		case 'S': o.stream_mib = atoi(optarg); break;
		case 'K':
			if (!llorch_dtype_from_name(optarg, &o.kv_type))
				return usage();
			g.kv_type = o.kv_type;
			break;
		default: return usage();
		}
	}
	if (o.threads <= 0)
		o.threads = llorch_ncpu();
	if (strcmp(argv[1], "stream") == 0)
		return mib >= 1 && mib <= 65536 && passes >= 1 && passes <= 5 ?
			run_stream(o.threads, mib, passes) : usage();
	if (!o.path || o.runs < 1 || o.runs > MAX_RUNS)
		return usage();
	g.model = o.path;
	g.threads = o.threads;
	g.runs = o.runs;
	if (strcmp(argv[1], "gen") == 0) {
		if (g.n_gen < 0)
			g.n_gen = 128;
		if (!g.prompt || g.n_gen < 1 || g.top_k < 0 || g.temperature < 0)
			return usage();
		return run_gen(&g);
	}
	if (strcmp(argv[1], "depth") == 0) {
		if (g.n_gen < 0)
			g.n_gen = 32;
		return g.n_gen < 1 ? usage() : run_depth(&g);
	}
	if (strcmp(argv[1], "model") != 0 || o.n_prompt < 1 || o.n_gen < 1 ||
	    o.n_batch < 1 || o.n_batch > MAX_BATCH)
		return usage();
	return run_model(&o);
}
