/* The worker's model: loaded once, shared read-only by every slot. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "serve.h"

int worker_load(worker *w)
{
	const serve_opts *o = w->opts;
	char abs[PATH_MAX];
	llorch_status st;
	size_t n;

	slog(LLORCH_LOG_INFO, "model_load_start", "model_path", 's', o->model_path, NULL);
	st = llorch_model_load(o->model_path, &w->model);
	if (st != LLORCH_OK) {
		const char *msg = llorch_last_error();

		slog(LLORCH_LOG_ERROR, "error", "stage", 's', "model_load", "model_path", 's',
				o->model_path, "message", 's', *msg ? msg : llorch_status_str(st), NULL);
		fprintf(stderr, "llorch-serve: %s: %s\n", o->model_path,
				*msg ? msg : llorch_status_str(st));
		return llorch_status_exit_code(st);
	}
	w->tok = llorch_model_tokenizer(w->model);
	w->n_vocab = llorch_model_hparams(w->model)->n_vocab;
	w->model_name = strdup(llorch_model_name(w->model));
	n = strlen("file:") + PATH_MAX + 1;
	w->model_ref = malloc(n);
	if (!w->model_name || !w->model_ref) {
		fprintf(stderr, "llorch-serve: out of memory\n");
		return EX_OSERR;
	}
	snprintf(w->model_ref, n, "file:%s", realpath(o->model_path, abs) ? abs : o->model_path);
	w->memory_bytes = llorch_model_file_bytes(w->model);
	slog(LLORCH_LOG_INFO, "model_load_progress", "stage", 's', "weights",
			"bytes", 'i', (int64_t)w->memory_bytes, NULL);
	return 0;
}

void worker_free(worker *w)
{
	llorch_model_free(w->model);
	free(w->model_name);
	free(w->model_ref);
	w->model = NULL;
	w->model_name = w->model_ref = NULL;
}

llorch_gen_params request_gen_params(const llorch_request *r, uint64_t seed,
		const char *const *stop)
{
	llorch_gen_params p = llorch_gen_default_params();

	p.max_tokens = r->max_tokens;
	p.sampling.temperature = r->temperature;
	p.sampling.top_k = r->top_k;
	p.sampling.top_p = r->top_p;
	p.sampling.min_p = r->min_p;
	/* the contract's range starts at 0; a factor of 0 would divide by zero,
	 * so 0 means "off", as 1 does */
	p.sampling.repetition_penalty = r->repetition_penalty > 0 ? r->repetition_penalty : 1.0f;
	p.sampling.seed = seed;
	p.stop = stop;
	p.n_stop = r->n_stop;
	p.add_bos = -1;
	p.parse_special = false;
	return p;
}
