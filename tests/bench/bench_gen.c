/* The driver's generation modes: the in-process generation loop that the
 * overhead section of `make bench` compares llorch-serve's HTTP/SSE path and
 * the three-tool pipeline against, and decode speed versus the depth of the
 * KV cache (the plot of tokens/s over context length). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- gen ---- */

typedef struct {
	double t_first, t_last; /* arrival of the first and the last sampled token */
	int32_t steps;
	char *text;
	size_t len, cap;
	bool failed;
} gen_trace;

static bool on_token(const llorch_gen_token *tok, void *user)
{
	gen_trace *tr = user;
	double t = seconds();

	if (tok->token >= 0) {
		if (tr->steps++ == 0)
			tr->t_first = t;
	}
	tr->t_last = t;
	if (tok->text_len > tr->cap - tr->len) {
		size_t cap = tr->cap ? tr->cap : 4096;
		while (cap - tr->len < tok->text_len)
			cap *= 2;
		char *p = realloc(tr->text, cap);
		if (!p) {
			tr->failed = true;
			return false;
		}
		tr->text = p;
		tr->cap = cap;
	}
	memcpy(tr->text + tr->len, tok->text, tok->text_len);
	tr->len += tok->text_len;
	return true;
}

/* Each run generates from an empty KV cache with a context of the model's
 * length, as llorch-serve's default slot does. tok_s counts the steps after
 * the first sampled token over the time from its arrival to the last
 * token's: the steady decode rate, free of prompt and start-up time, which
 * is what tests/bench/overhead.sh measures on the HTTP and pipeline paths
 * too. An unmeasured generation comes first. */
int run_gen(const gen_opts *o)
{
	llorch_model *m;
	llorch_ctx *c;
	llorch_ctx_params cp = llorch_ctx_default_params();
	llorch_gen_params p = llorch_gen_default_params();
	gen_trace tr = {0};

	if (llorch_model_load(o->model, &m) != LLORCH_OK)
		die(o->model);
	cp.n_threads = o->threads;
	cp.kv_type = o->kv_type;
	if (llorch_ctx_new(m, &cp, &c) != LLORCH_OK)
		die("context");
	p.max_tokens = o->n_gen;
	p.sampling.temperature = (float)o->temperature;
	p.sampling.top_k = o->top_k;
	p.sampling.seed = o->seed;
	/* warm-up, as a server that has answered before is warm: the first
	 * pass over the KV cache's positions pays their page faults */
	if (llorch_generate(c, o->prompt, strlen(o->prompt), &p, NULL, NULL, NULL) != LLORCH_OK)
		die("generate");
	for (int r = 0; r < o->runs; r++) {
		llorch_gen_result res;
		tr.steps = 0;
		tr.len = 0;
		if (llorch_ctx_truncate(c, 0) != LLORCH_OK)
			die("truncate");
		double t0 = seconds();
		if (llorch_generate(c, o->prompt, strlen(o->prompt), &p, on_token, &tr, &res) != LLORCH_OK)
			die("generate");
		if (tr.failed) {
			fprintf(stderr, "bench: out of memory\n");
			return 1;
		}
		double span = tr.t_last - tr.t_first;
		printf("{\"run\":%d,\"tokens\":%d,\"tok_s\":%.2f,\"first_token_ms\":%.1f,\"stop\":\"%s\"}\n",
				r, res.tokens_out,
				res.tokens_out > 1 && span > 0 ? (res.tokens_out - 1) / span : 0.0,
				(tr.t_first - t0) * 1e3, llorch_stop_reason_str(res.stop_reason));
		fflush(stdout);
	}
	if (o->text_out) {
		FILE *f = fopen(o->text_out, "wb");
		if (!f || fwrite(tr.text ? tr.text : "", 1, tr.len, f) != tr.len || fclose(f) != 0) {
			perror(o->text_out);
			return 1;
		}
	}
	free(tr.text);
	llorch_ctx_free(c);
	llorch_model_free(m);
	return 0;
}

/* ---- depth ---- */

/* For each depth: fill the KV cache with that many random tokens (one
 * prompt eval), then time n_gen single-token steps after them; medians of
 * runs. A depth that leaves no room for n_gen steps is lowered to fit. */
int run_depth(const gen_opts *o)
{
	llorch_model *m;
	llorch_ctx_params cp = llorch_ctx_default_params();
	llorch_ctx *c;
	double tg[MAX_RUNS];

	if (llorch_model_load(o->model, &m) != LLORCH_OK)
		die(o->model);
	int32_t V = llorch_model_hparams(m)->n_vocab;
	cp.n_threads = o->threads;
	cp.kv_type = o->kv_type;
	if (llorch_ctx_new(m, &cp, &c) != LLORCH_OK)
		die("context");
	int32_t n_ctx = llorch_ctx_n_ctx(c);
	if (o->n_gen >= n_ctx) {
		fprintf(stderr, "bench: %d decode steps do not fit the context (%d)\n", o->n_gen, n_ctx);
		return 64;
	}
	int32_t *toks = malloc(sizeof *toks * (size_t)n_ctx);
	float *logits = malloc(sizeof *logits * (size_t)V);
	if (!toks || !logits) {
		fprintf(stderr, "bench: out of memory\n");
		return 1;
	}
	/* warm-up: the first steps of a process run slower (page faults, caches) */
	for (int32_t i = 0; i < 8 && i < n_ctx; i++) {
		int32_t tok = random_token(V);
		if (llorch_ctx_eval(c, &tok, 1, logits, false) != LLORCH_OK)
			die("decode eval");
	}
	const char *s = o->depths;
	while (*s) {
		char *end;
		long d = strtol(s, &end, 10);
		if (end == s || d < 0 || (*end && *end != ',')) {
			fprintf(stderr, "bench: bad depth list '%s'\n", o->depths);
			return 64;
		}
		s = *end ? end + 1 : end;
		if (d > n_ctx - o->n_gen)
			d = n_ctx - o->n_gen;
		for (int r = 0; r < o->runs; r++) {
			if (llorch_ctx_truncate(c, 0) != LLORCH_OK)
				die("truncate");
			for (int32_t i = 0; i < d; i++)
				toks[i] = random_token(V);
			if (d > 0 && llorch_ctx_eval(c, toks, (int32_t)d, NULL, false) != LLORCH_OK)
				die("prompt eval");
			double t = seconds();
			for (int32_t i = 0; i < o->n_gen; i++) {
				int32_t tok = random_token(V);
				if (llorch_ctx_eval(c, &tok, 1, logits, false) != LLORCH_OK)
					die("decode eval");
			}
			tg[r] = o->n_gen / (seconds() - t);
		}
		printf("{\"depth\":%ld,\"n_gen\":%d,\"tg_tok_s\":%.2f}\n", d, o->n_gen, median(tg, o->runs));
		fflush(stdout);
	}
	free(toks);
	free(logits);
	llorch_ctx_free(c);
	llorch_model_free(m);
	return 0;
}
