/* -p PROMPT: one generation in-process with llorch_generate, its text
 * streamed to stdout as it comes (flushed per token), for shell users and
 * `make run`. The same request given to /execute or --stdio with the same
 * seed prints the same text. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "../common/cli.h"
#include "serve.h"

static bool print_token(const llorch_gen_token *tok, void *user)
{
	bool *failed = user;

	if (tok->text_len && (fwrite(tok->text, 1, tok->text_len, stdout) != tok->text_len ||
			fflush(stdout) != 0))
		*failed = true;
	return !*failed;
}

int oneshot_run(worker *w)
{
	const serve_opts *o = w->opts;
	llorch_request req = {
		.max_tokens = (int32_t)o->max_tokens, .temperature = (float)o->temperature,
		.top_p = (float)o->top_p, .top_k = (int32_t)o->top_k, .min_p = (float)o->min_p,
		.repetition_penalty = (float)o->repetition_penalty, .n_stop = o->n_stop,
	};
	llorch_ctx_params cp = llorch_ctx_default_params();
	llorch_ctx *ctx = NULL;
	llorch_gen_params p;
	llorch_gen_result res;
	llorch_status st;
	uint64_t seed = o->has_seed ? o->seed : (llorch_random_seed() & LLORCH_REQ_RANDOM_SEED_MASK);
	bool failed = false;

	cp.n_ctx = (int32_t)o->ctx;
	cp.n_threads = (int32_t)o->threads;
	cp.kv_type = o->kv_type;
	st = llorch_ctx_new(w->model, &cp, &ctx);
	if (st != LLORCH_OK)
		cli_die_status(st, "context");
	if (!o->has_max_tokens) {
		/* like a request without max_tokens: as far as the context goes */
		int32_t *ids = NULL;
		size_t n = 0;
		int32_t n_ctx = llorch_ctx_n_ctx(ctx);

		if (llorch_tokenize(w->tok, o->prompt, strlen(o->prompt),
				llorch_tokenizer_adds_bos(w->tok), false, &ids, &n) == LLORCH_OK &&
				n < (size_t)n_ctx && (size_t)req.max_tokens > n_ctx - n)
			req.max_tokens = (int32_t)(n_ctx - n);
		free(ids);
	}
	p = request_gen_params(&req, seed, o->stop);
	if (o->job_timeout > 0)
		p.deadline_ns = now_ns() + (int64_t)(o->job_timeout * 1e9);
	st = llorch_generate(ctx, o->prompt, strlen(o->prompt), &p, print_token, &failed, &res);
	llorch_ctx_free(ctx);
	if (failed) {
		cli_warn("write error on standard output");
		return EX_IOERR;
	}
	if (st != LLORCH_OK)
		cli_die_status(st, "generate");
	if (isatty(STDOUT_FILENO))
		putchar('\n');
	if (o->verbose)
		fprintf(stderr, "llorch-serve: seed %llu, %d prompt tokens, %d tokens in %.1f ms "
			"(%.1f tokens/s), prefill %.1f ms, stop %s\n", (unsigned long long)seed,
			res.prompt_tokens, res.tokens_out, res.decode_ns / 1e6,
			res.decode_ns > 0 ? res.tokens_out * 1e9 / (double)res.decode_ns : 0.0,
			res.prefill_ns / 1e6, llorch_stop_reason_str(res.stop_reason));
	return cli_close_stdout();
}
