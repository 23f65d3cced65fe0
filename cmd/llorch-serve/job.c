/* A job: a checked request plus what the worker adds before it is queued
 * (its tokens, its seed, its deadline). Tokenizing here, in the front end's
 * thread, lets a prompt that does not fit the context be refused before any
 * stream starts, and keeps the inference thread for inference. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

job *job_new(worker *w, llorch_request *req, llorch_request_errors *err, bool *oom)
{
	job *j;
	int32_t *ids = NULL;
	size_t n = 0;
	llorch_status st;
	int32_t n_ctx = w->n_ctx;

	*oom = false;
	st = llorch_tokenize(w->tok, req->prompt, req->prompt_len, llorch_tokenizer_adds_bos(w->tok),
			false, &ids, &n);
	if (st != LLORCH_OK) {
		*oom = st == LLORCH_E_NOMEM;
		if (!*oom)
			llorch_request_add_problem(err, "prompt", "tokenize", NULL,
					"the prompt could not be tokenized: %s", llorch_last_error());
		free(ids);
		return NULL;
	}
	/* without an explicit max_tokens, generate as far as the context goes */
	if (!req->has_max_tokens && n < (size_t)n_ctx && (size_t)req->max_tokens > n_ctx - n)
		req->max_tokens = (int32_t)(n_ctx - n);
	if ((size_t)req->max_tokens > (size_t)n_ctx || n > (size_t)(n_ctx - req->max_tokens)) {
		char c[48], v[24];

		snprintf(c, sizeof c, "fits_context(%d)", n_ctx);
		if (req->has_max_tokens) {
			snprintf(v, sizeof v, "%d", req->max_tokens);
			llorch_request_add_problem(err, "max_tokens", c, v,
					"the prompt (%zu tokens) plus max_tokens (%d) must fit the context of %d tokens",
					n, req->max_tokens, n_ctx);
		} else {
			snprintf(v, sizeof v, "%zu", n);
			llorch_request_add_problem(err, "prompt", c, v,
					"the prompt (%zu tokens) leaves no room in the context of %d tokens",
					n, n_ctx);
		}
		free(ids);
		return NULL;
	}
	j = calloc(1, sizeof *j);
	if (!j) {
		*oom = true;
		free(ids);
		return NULL;
	}
	j->req = *req;
	memset(req, 0, sizeof *req);
	j->tokens = ids;
	j->n_tokens = n;
	j->seed = j->req.has_seed ? j->req.seed : (llorch_random_seed() & LLORCH_REQ_RANDOM_SEED_MASK);
	j->accepted_ns = now_ns();
	if (w->opts->job_timeout > 0)
		j->deadline_ns = j->accepted_ns + (int64_t)(w->opts->job_timeout * 1e9);
	atomic_init(&j->cancel, CANCEL_NONE);
	return j;
}

void job_free(job *j)
{
	if (!j)
		return;
	llorch_request_free(&j->req);
	free(j->tokens);
	free(j);
}
