/* Sampling (part of llorch.h). Each step is a pure function of the candidates,
 * the parameters and, for the draw, a uniform number, so each can be tested
 * alone. Order, as the worker contract fixes it:
 * repetition penalty -> temperature -> top-k -> top-p -> min-p -> draw. */
#ifndef LLORCH_SAMPLER_H
#define LLORCH_SAMPLER_H

typedef struct {
	float temperature;        /* 0: greedy (argmax, ties to the lowest id) */
	int32_t top_k;            /* 0: off */
	float top_p;              /* 1: off */
	float min_p;              /* 0: off */
	float repetition_penalty; /* 1 or 0: off (the worker contract allows 0..2) */
	int32_t repeat_last_n;    /* tokens of history penalised; -1: all; default 64 */
	uint64_t seed;
} llorch_sampler_params;

/* temperature 1, top_k 0, top_p 1, min_p 0, repetition_penalty 1,
 * repeat_last_n 64, seed 0 (a seed like any other: pass llorch_random_seed()
 * for a fresh one). */
llorch_sampler_params llorch_sampler_default_params(void);
/* INVALID, naming the field, unless temperature >= 0, top_k >= 0, top_p and
 * min_p in [0, 1], repetition_penalty >= 0 (all finite), repeat_last_n >= -1. */
llorch_status llorch_sampler_params_check(const llorch_sampler_params *p);

/* Counter-based uniform draw in [0, 1): depends only on (seed, step), so a
 * generation is reproducible when split across processes or resumed. */
double llorch_rng_uniform(uint64_t seed, uint64_t step);
/* A fresh seed from the OS (getrandom), for requests that give none. */
uint64_t llorch_random_seed(void);

typedef struct {
	int32_t id;
	float logit;
	float p; /* filled by the steps that need probabilities */
} llorch_candidate;

/* NaN logits count as -inf in every step. The p field is scratch. */

/* logit > 0 ? logit / penalty : logit * penalty, once per distinct id in
 * history. A penalty of 1 or 0 (or not finite) changes nothing. */
void llorch_sample_repetition_penalty(llorch_candidate *c, size_t n,
		const int32_t *history, size_t n_history, float penalty);
void llorch_sample_temperature(llorch_candidate *c, size_t n, float temperature);
/* These sort c by logit (descending, ties by id) and return the kept count.
 * Off (k <= 0 or k >= n; p >= 1; min_p <= 0), they leave c as it is and
 * return n. top-k selects in O(n) and sorts only the k kept; top-p sorts only
 * tokens that can be in the nucleus. At least one candidate is always kept;
 * c beyond the kept count is scratch afterwards. */
size_t llorch_sample_top_k(llorch_candidate *c, size_t n, int32_t k);
size_t llorch_sample_top_p(llorch_candidate *c, size_t n, float p);
size_t llorch_sample_min_p(llorch_candidate *c, size_t n, float p);
/* Softmax over the kept candidates (fills p) and the inverse-CDF draw with u
 * in [0,1), in the order of c. -1 when no candidate has a finite logit. */
int32_t llorch_sample_draw(llorch_candidate *c, size_t n, double u);
/* The whole order on a candidate list (any order, e.g. sparse): temperature
 * 0 is greedy (argmax, ties to the lowest id), else the draw uses
 * llorch_rng_uniform(p->seed, step) over the kept candidates in id order,
 * so the token does not depend on the order of c: a sparse list holding the
 * top k ids draws what the full vector draws with top_k <= k. history is the token sequence so far;
 * its last repeat_last_n entries are penalised. -1 (RANGE) when every logit
 * is -inf or NaN. p must have passed llorch_sampler_params_check(). */
int32_t llorch_sample_chain(llorch_candidate *c, size_t n, const llorch_sampler_params *p,
		const int32_t *history, size_t n_history, uint64_t step);

#define LLORCH_SAMPLER_MAX_TOP 20

/* The ids of the k highest of x (n), best first: NaN below every number
 * (-inf too), ties to the lower id; k is cut to n. Returns how many there
 * are (k or n). For passing on only the top of the logits (llorch-forward
 * -k): one heap of k ids and a vector scan for the next value above its
 * worst. */
size_t llorch_logits_top(const float *x, size_t n, size_t k, int32_t *ids);

/* The whole chain with reusable scratch. */
typedef struct llorch_sampler llorch_sampler;
llorch_status llorch_sampler_new(int32_t n_vocab, llorch_sampler **out);
void llorch_sampler_free(llorch_sampler *s);
/* Picks the next token for draw number `step`; -1 on error (bad
 * parameters, or no finite logit: see llorch_last_error()). logprob (may be NULL): log
 * probability of the chosen token under the full softmax of the raw logits
 * at temperature 1. top_ids/top_logprobs (may be NULL): the n_top most likely
 * alternatives under the same distribution. */
int32_t llorch_sampler_sample(llorch_sampler *s, const llorch_sampler_params *p,
		const float *logits, const int32_t *history, size_t n_history, uint64_t step,
		float *logprob, int32_t n_top, int32_t *top_ids, float *top_logprobs);

#endif
