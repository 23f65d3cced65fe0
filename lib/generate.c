/* The generation loop: prompt -> tokens -> prefill (reusing the KV cache's
 * common prefix) -> sample / decode until EOS, max_tokens, a stop string, a
 * deadline or a cancel. Text leaves as valid UTF-8, held back while it may
 * still become a stop string (stopstr.c). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "stopstr.h"

/* ---- the generation ----------------------------------------------------- */

struct llorch_gen {
	llorch_ctx *ctx;
	const llorch_tokenizer *tok;
	int32_t n_vocab;
	int32_t eos;
	llorch_gen_params params; /* stop points at nothing: the copies are in stop */
	llorch_sampler *sampler;
	llorch_detok *detok;
	llorch_stopstr stop;
	int32_t *tokens; /* (n_prompt + max_tokens): the prompt, then sampled ids */
	int32_t n_tokens;
	int32_t n_prompt;
	float *logits; /* (n_vocab): of the last evaluated position */
	bool prefilled;
	bool failed;
	int32_t pending; /* sampled, not yet evaluated; -1 */
	atomic_bool cancel;
	llorch_gen_result res;
	char *piece; /* bytes decoded by the last step */
	size_t piece_len, piece_cap;
	char *emit; /* text released by the last step */
	size_t emit_len, emit_cap;
	int32_t top_ids[LLORCH_MAX_LOGPROBS];
	float top_lps[LLORCH_MAX_LOGPROBS];
};

const char *llorch_stop_reason_str(llorch_stop_reason r)
{
	switch (r) {
	case LLORCH_STOP_NONE:
		return "NONE";
	case LLORCH_STOP_MAX_TOKENS:
		return "MAX_TOKENS";
	case LLORCH_STOP_EOS:
		return "EOS";
	case LLORCH_STOP_SEQUENCE:
		return "STOP_SEQUENCE";
	case LLORCH_STOP_CANCELLED:
		return "CANCELLED";
	case LLORCH_STOP_TIMEOUT:
		return "TIMEOUT";
	}
	return "NONE";
}

llorch_gen_params llorch_gen_default_params(void)
{
	return (llorch_gen_params){
		.max_tokens = 256,
		.sampling = llorch_sampler_default_params(),
		.stop = NULL,
		.n_stop = 0,
		.deadline_ns = 0,
		.add_bos = -1,
		.parse_special = false,
		.n_logprobs = 0,
	};
}

static llorch_status check_params(const llorch_gen_params *p)
{
	if (!p)
		return llorch_error(LLORCH_E_INVALID, "no generation parameters");
	if (p->max_tokens < 1)
		return llorch_error(LLORCH_E_INVALID, "max_tokens must be >= 1 (got %d)", (int)p->max_tokens);
	if (p->n_stop > LLORCH_MAX_STOP)
		return llorch_error(LLORCH_E_INVALID, "at most %d stop strings (got %zu)", LLORCH_MAX_STOP,
				p->n_stop);
	if (p->add_bos < -1 || p->add_bos > 1)
		return llorch_error(LLORCH_E_INVALID, "add_bos must be -1, 0 or 1 (got %d)", p->add_bos);
	if (p->n_logprobs < 0 || p->n_logprobs > LLORCH_MAX_LOGPROBS)
		return llorch_error(LLORCH_E_INVALID, "n_logprobs must be in 0..%d (got %d)",
				LLORCH_MAX_LOGPROBS, (int)p->n_logprobs);
	return llorch_sampler_params_check(&p->sampling);
}

static bool gen_abort(void *user)
{
	llorch_gen *g = user;

	if (atomic_load(&g->cancel))
		return true;
	return g->params.deadline_ns && llorch_now_ns() >= g->params.deadline_ns;
}

/* Appends bytes to a growable buffer (NUL-terminated). */
static bool append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	size_t need;
	if (!llorch_add_size(*len, n, &need) || !llorch_add_size(need, 1, &need))
		return false;
	if (need > *cap) {
		size_t c = *cap ? *cap : 64;
		while (c < need)
			c = c > SIZE_MAX / 2 ? need : c * 2;
		char *p = realloc(*buf, c);
		if (!p)
			return false;
		*buf = p;
		*cap = c;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

/* What both starts check first; *out is NULL on any failure. */
static llorch_status check_start(llorch_ctx *c, const void *input, size_t n,
		const llorch_gen_params *p, llorch_gen **out)
{
	if (!out)
		return llorch_error(LLORCH_E_INVALID, "llorch_gen_start: no output pointer");
	*out = NULL;
	if (!c || (n && !input))
		return llorch_error(LLORCH_E_INVALID, "llorch_gen_start: missing context or prompt");
	return check_params(p);
}

llorch_status llorch_gen_start_tokens(llorch_ctx *c, const int32_t *tokens, size_t n,
		const llorch_gen_params *p, llorch_gen **out)
{
	llorch_status st;

	if ((st = check_start(c, tokens, n, p, out)) != LLORCH_OK)
		return st;
	if (n == 0)
		return llorch_error(LLORCH_E_INVALID, "the prompt has no tokens");
	const llorch_model *m = llorch_ctx_model(c);
	const llorch_tokenizer *tok = llorch_model_tokenizer(m);
	int32_t n_vocab = llorch_model_hparams(m)->n_vocab;
	int32_t n_ctx = llorch_ctx_n_ctx(c);
	for (size_t i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= n_vocab)
			return llorch_error(LLORCH_E_RANGE, "prompt token %zu: id %d is out of range (vocabulary %d)",
					i, (int)tokens[i], (int)n_vocab);
	if (n > (size_t)n_ctx || (int64_t)n + p->max_tokens > n_ctx)
		return llorch_error(LLORCH_E_RANGE,
				"prompt (%zu tokens) + max_tokens (%d) do not fit the context (%d positions)", n,
				(int)p->max_tokens, (int)n_ctx);

	llorch_gen *g = calloc(1, sizeof *g);
	if (!g)
		return llorch_error(LLORCH_E_NOMEM, "out of memory for a generation");
	g->ctx = c;
	g->tok = tok;
	g->n_vocab = n_vocab;
	g->eos = llorch_tokenizer_eos(tok);
	g->params = *p;
	g->params.stop = NULL;
	g->params.n_stop = 0;
	g->n_prompt = (int32_t)n;
	g->pending = -1;
	g->res.stop_index = -1;
	g->res.prompt_tokens = (int32_t)n;
	g->res.seed = p->sampling.seed;
	atomic_init(&g->cancel, false);
	if ((st = llorch_stopstr_init(&g->stop, p->stop, p->n_stop)) != LLORCH_OK) {
		free(g);
		return st;
	}
	g->tokens = malloc(sizeof *g->tokens * (n + (size_t)p->max_tokens));
	g->logits = malloc(sizeof *g->logits * (size_t)n_vocab);
	if (!g->tokens || !g->logits) {
		llorch_gen_free(g);
		return llorch_error(LLORCH_E_NOMEM, "out of memory for a generation");
	}
	if ((st = llorch_sampler_new(n_vocab, &g->sampler)) != LLORCH_OK ||
	    (st = llorch_detok_new(tok, &g->detok)) != LLORCH_OK) {
		llorch_gen_free(g);
		return st;
	}
	memcpy(g->tokens, tokens, sizeof *tokens * n);
	g->n_tokens = (int32_t)n;
	/* The first piece after BOS starts the text (SentencePiece then drops
	 * its dummy-prefix space, as the reference decoder does). */
	llorch_detok_reset(g->detok, tokens[n - 1] == llorch_tokenizer_bos(tok));

	/* Reuse the longest common prefix already in the KV cache, but always
	 * evaluate at least the last prompt token: its logits start sampling. */
	int32_t known = llorch_ctx_n_past(c);
	const int32_t *cached = llorch_ctx_tokens(c);
	int32_t lcp = 0;
	while (lcp < known && lcp < g->n_prompt - 1 && cached[lcp] == tokens[lcp])
		lcp++;
	if (llorch_ctx_n_past(c) > lcp && (st = llorch_ctx_truncate(c, lcp)) != LLORCH_OK) {
		llorch_gen_free(g);
		return st;
	}
	g->res.cached_tokens = lcp;
	*out = g;
	return LLORCH_OK;
}

llorch_status llorch_gen_start(llorch_ctx *c, const char *prompt, size_t len,
		const llorch_gen_params *p, llorch_gen **out)
{
	llorch_status st;

	if ((st = check_start(c, prompt, len, p, out)) != LLORCH_OK)
		return st;
	const llorch_tokenizer *tok = llorch_model_tokenizer(llorch_ctx_model(c));
	bool bos = p->add_bos < 0 ? llorch_tokenizer_adds_bos(tok) : p->add_bos == 1;
	int32_t *ids = NULL;
	size_t n = 0;
	if ((st = llorch_tokenize(tok, prompt ? prompt : "", len, bos, p->parse_special, &ids, &n)) != LLORCH_OK)
		return st;
	st = llorch_gen_start_tokens(c, ids, n, p, out);
	free(ids);
	return st;
}

void llorch_gen_free(llorch_gen *g)
{
	if (!g)
		return;
	llorch_sampler_free(g->sampler);
	llorch_detok_free(g->detok);
	llorch_stopstr_free(&g->stop);
	free(g->tokens);
	free(g->logits);
	free(g->piece);
	free(g->emit);
	free(g);
}

void llorch_gen_cancel(llorch_gen *g)
{
	if (g)
		atomic_store(&g->cancel, true);
}

void llorch_gen_result_get(const llorch_gen *g, llorch_gen_result *r)
{
	*r = g->res;
}

int32_t llorch_gen_prompt_tokens(const llorch_gen *g)
{
	return g->n_prompt;
}

/* Runs eval with our abort check (whole positions before an abort stay). */
static llorch_status eval_tokens(llorch_gen *g, const int32_t *ids, int32_t n)
{
	llorch_ctx_set_abort(g->ctx, gen_abort, g);
	llorch_status st = llorch_ctx_eval(g->ctx, ids, n, g->logits, false);
	llorch_ctx_set_abort(g->ctx, NULL, NULL);
	return st;
}

llorch_status llorch_gen_prefill(llorch_gen *g)
{
	if (!g)
		return llorch_error(LLORCH_E_INVALID, "llorch_gen_prefill: no generation");
	if (g->prefilled || g->failed || g->res.stop_reason != LLORCH_STOP_NONE)
		return LLORCH_OK;
	int64_t t0 = llorch_now_ns();
	int32_t from = g->res.cached_tokens;
	llorch_status st = eval_tokens(g, g->tokens + from, g->n_prompt - from);
	g->res.prefill_ns += llorch_now_ns() - t0;
	if (st == LLORCH_E_CANCELLED && gen_abort(g))
		return LLORCH_OK; /* the next sample step ends the generation */
	if (st != LLORCH_OK) {
		g->failed = true;
		return st;
	}
	g->prefilled = true;
	return LLORCH_OK;
}

/* The end of the stream: releases what the decoder and the matcher hold. */
static llorch_status finish_text(llorch_gen *g)
{
	const char *out;
	size_t out_len;
	llorch_status st;

	g->piece_len = 0;
	if ((st = llorch_detok_flush(g->detok, &g->piece, &g->piece_len, &g->piece_cap)) != LLORCH_OK)
		return st;
	int m = llorch_stopstr_push(&g->stop, g->piece, g->piece_len, &out, &out_len, &st);
	if (st != LLORCH_OK)
		return st;
	if (!append(&g->emit, &g->emit_len, &g->emit_cap, out, out_len))
		return llorch_error(LLORCH_E_NOMEM, "out of memory for generated text");
	if (m >= 0) {
		g->res.stop_reason = LLORCH_STOP_SEQUENCE;
		g->res.stop_index = m;
		return LLORCH_OK;
	}
	if ((st = llorch_stopstr_finish(&g->stop, &out, &out_len)) != LLORCH_OK)
		return st;
	if (!append(&g->emit, &g->emit_len, &g->emit_cap, out, out_len))
		return llorch_error(LLORCH_E_NOMEM, "out of memory for generated text");
	return LLORCH_OK;
}

static llorch_status end_with(llorch_gen *g, llorch_stop_reason why, llorch_gen_token *tok, bool *done)
{
	llorch_status st = finish_text(g);
	if (g->res.stop_reason == LLORCH_STOP_NONE)
		g->res.stop_reason = why;
	tok->text = g->emit ? g->emit : "";
	tok->text_len = g->emit_len;
	*done = true;
	return st;
}

llorch_status llorch_gen_sample(llorch_gen *g, llorch_gen_token *tok, bool *done)
{
	llorch_status st;

	if (!g || !tok || !done)
		return llorch_error(LLORCH_E_INVALID, "llorch_gen_sample: missing argument");
	*tok = (llorch_gen_token){.token = -1, .text = "", .text_len = 0};
	*done = false;
	g->emit_len = 0;
	if (g->res.stop_reason != LLORCH_STOP_NONE) {
		*done = true;
		return LLORCH_OK;
	}
	if (g->failed)
		return llorch_error(LLORCH_E_INVALID, "the generation failed earlier");
	if (atomic_load(&g->cancel))
		return end_with(g, LLORCH_STOP_CANCELLED, tok, done);
	if (g->params.deadline_ns && llorch_now_ns() >= g->params.deadline_ns)
		return end_with(g, LLORCH_STOP_TIMEOUT, tok, done);
	if (g->pending >= 0)
		return llorch_error(LLORCH_E_INVALID, "the sampled token must be evaluated before the next sample");
	if (!g->prefilled) {
		if ((st = llorch_gen_prefill(g)) != LLORCH_OK)
			return st;
		if (!g->prefilled) /* interrupted by a cancel or the deadline */
			return end_with(g, atomic_load(&g->cancel) ? LLORCH_STOP_CANCELLED : LLORCH_STOP_TIMEOUT,
					tok, done);
	}

	int64_t t0 = llorch_now_ns();
	uint64_t step = (uint64_t)(g->n_tokens - g->n_prompt);
	int32_t n_top = g->params.n_logprobs;
	float logprob = 0.0f;
	int32_t id = llorch_sampler_sample(g->sampler, &g->params.sampling, g->logits, g->tokens,
			(size_t)g->n_tokens, step, &logprob, n_top, g->top_ids, g->top_lps);
	if (id < 0) {
		g->failed = true;
		return LLORCH_E_RANGE;
	}
	tok->token = id;
	tok->logprob = logprob;
	tok->n_top = n_top;
	tok->top_ids = n_top ? g->top_ids : NULL;
	tok->top_logprobs = n_top ? g->top_lps : NULL;
	if (id == g->eos) {
		st = end_with(g, LLORCH_STOP_EOS, tok, done);
		g->res.decode_ns += llorch_now_ns() - t0;
		return st;
	}
	g->tokens[g->n_tokens++] = id;
	g->res.tokens_out++;

	const char *out;
	size_t out_len;
	g->piece_len = 0;
	if ((st = llorch_detok_push(g->detok, id, &g->piece, &g->piece_len, &g->piece_cap)) != LLORCH_OK) {
		g->failed = true;
		return st;
	}
	int m = llorch_stopstr_push(&g->stop, g->piece, g->piece_len, &out, &out_len, &st);
	if (st != LLORCH_OK || !append(&g->emit, &g->emit_len, &g->emit_cap, out, out_len)) {
		g->failed = true;
		return st != LLORCH_OK ? st : llorch_error(LLORCH_E_NOMEM, "out of memory for generated text");
	}
	tok->text = g->emit;
	tok->text_len = g->emit_len;
	if (m >= 0) {
		g->res.stop_reason = LLORCH_STOP_SEQUENCE;
		g->res.stop_index = m;
		*done = true;
	} else if (g->res.tokens_out >= g->params.max_tokens) {
		st = end_with(g, LLORCH_STOP_MAX_TOKENS, tok, done);
	} else {
		g->pending = id;
	}
	g->res.decode_ns += llorch_now_ns() - t0;
	return st;
}

llorch_status llorch_gen_eval(llorch_gen *g)
{
	if (!g || g->pending < 0)
		return llorch_error(LLORCH_E_INVALID, "llorch_gen_eval: no sampled token to evaluate");
	int64_t t0 = llorch_now_ns();
	int32_t id = g->pending;
	g->pending = -1;
	llorch_status st = eval_tokens(g, &id, 1);
	g->res.decode_ns += llorch_now_ns() - t0;
	if (st == LLORCH_E_CANCELLED && gen_abort(g))
		return LLORCH_OK; /* the next sample step ends the generation */
	if (st != LLORCH_OK)
		g->failed = true;
	return st;
}

llorch_status llorch_gen_eval_batch(llorch_gen *const *gs, int32_t n)
{
	if (!gs || n < 1)
		return llorch_error(LLORCH_E_INVALID, "llorch_gen_eval_batch: no generations");
	for (int32_t i = 0; i < n; i++) {
		if (!gs[i] || gs[i]->pending < 0)
			return llorch_error(LLORCH_E_INVALID, "llorch_gen_eval_batch: generation %d has no sampled token",
					(int)i);
		if (llorch_ctx_model(gs[i]->ctx) != llorch_ctx_model(gs[0]->ctx))
			return llorch_error(LLORCH_E_INVALID, "llorch_gen_eval_batch: generations of different models");
		for (int32_t j = 0; j < i; j++)
			if (gs[j]->ctx == gs[i]->ctx)
				return llorch_error(LLORCH_E_INVALID,
						"llorch_gen_eval_batch: generations %d and %d share a context", (int)j, (int)i);
	}
	if (n == 1)
		return llorch_gen_eval(gs[0]);

	size_t n_vocab = (size_t)gs[0]->n_vocab, rows;
	if (!llorch_mul_size(n_vocab, (size_t)n, &rows))
		return llorch_error(LLORCH_E_NOMEM, "llorch_gen_eval_batch: batch too large");
	llorch_ctx **ctxs = malloc(sizeof *ctxs * (size_t)n);
	int32_t *ids = malloc(sizeof *ids * (size_t)n);
	float *logits = malloc(sizeof *logits * rows);
	if (!ctxs || !ids || !logits) {
		free(ctxs);
		free(ids);
		free(logits);
		return llorch_error(LLORCH_E_NOMEM, "llorch_gen_eval_batch: out of memory");
	}
	for (int32_t i = 0; i < n; i++) {
		ctxs[i] = gs[i]->ctx;
		ids[i] = gs[i]->pending;
	}
	int64_t t0 = llorch_now_ns();
	llorch_status st = llorch_ctx_eval_batch(ctxs, ids, n, logits);
	int64_t dt = llorch_now_ns() - t0;
	for (int32_t i = 0; i < n; i++) {
		llorch_gen *g = gs[i];
		g->pending = -1;
		g->res.decode_ns += dt;
		if (st == LLORCH_OK)
			memcpy(g->logits, logits + (size_t)i * n_vocab, sizeof *logits * n_vocab);
		else
			g->failed = true;
	}
	free(ctxs);
	free(ids);
	free(logits);
	return st;
}

llorch_status llorch_generate(llorch_ctx *c, const char *prompt, size_t len,
		const llorch_gen_params *p, llorch_gen_on_token on_token, void *user,
		llorch_gen_result *res)
{
	llorch_gen *g;
	llorch_status st = llorch_gen_start(c, prompt, len, p, &g);

	if (res) {
		memset(res, 0, sizeof *res);
		res->stop_index = -1;
	}
	if (st != LLORCH_OK)
		return st;
	for (;;) {
		llorch_gen_token tok;
		bool done;
		if ((st = llorch_gen_sample(g, &tok, &done)) != LLORCH_OK)
			break;
		if ((tok.token >= 0 || tok.text_len > 0) && on_token && !on_token(&tok, user) && !done) {
			llorch_gen_cancel(g);
			continue; /* the next sample step ends it, releasing held text */
		}
		if (done)
			break;
		if ((st = llorch_gen_eval(g)) != LLORCH_OK)
			break;
	}
	if (res)
		llorch_gen_result_get(g, res);
	llorch_gen_free(g);
	return st;
}
