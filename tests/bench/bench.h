/* What the benchmark driver's modes share (bench.c, bench_gen.c). */
#ifndef LLORCH_BENCH_H
#define LLORCH_BENCH_H

#include <stdint.h>

#include "llorch.h"

#define MAX_RUNS 15

/* Prints "bench: WHAT: the library's last error" and exits 1. */
_Noreturn void die(const char *what);
/* Sorts v (n values) and returns its median. */
double median(double *v, int n);
double seconds(void);
/* A pseudo-random token id below n_vocab from a fixed-seed generator. */
int32_t random_token(int32_t n_vocab);

typedef struct {
	const char *model;
	const char *prompt; /* gen */
	const char *text_out; /* gen: the generated text is written here */
	const char *depths; /* depth: comma-separated KV-cache depths */
	int threads, n_gen, runs, top_k;
	double temperature;
	uint64_t seed;
	llorch_dtype kv_type;
} gen_opts;

/* bench gen: llorch_generate's tokens/s, one JSON line per run. */
int run_gen(const gen_opts *o);
/* bench depth: decode tokens/s with DEPTH tokens already in the KV cache,
 * one JSON line per depth. */
int run_depth(const gen_opts *o);

#endif
