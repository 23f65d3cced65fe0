/* Sampling steps as pure functions of (candidates, parameters, uniform draw),
 * and the chain that runs them in the worker contract's order:
 * repetition penalty -> temperature -> top-k -> top-p -> min-p -> draw.
 *
 * Hostile logits: NaN counts as -inf everywhere; +inf tokens share all the
 * probability among themselves; when every logit is -inf or NaN nothing can
 * be drawn and the chain fails with RANGE rather than inventing a token.
 *
 * Large vocabularies: top-k selects in one pass through a heap of k (or by
 * quickselect when k is not small against n) and sorts only the k
 * survivors; top-p first drops tokens that cannot be in the nucleus, then
 * sorts the rest in growing chunks until the nucleus is complete. The
 * sampler object (llorch_sampler_sample), which a generation loop calls
 * between two forward passes while the other threads wait, goes faster
 * still where it can: greedy and small top-k read the logits with vector
 * kernels instead of building a candidate per token, and the
 * log-probabilities' normaliser uses the vector exp. 0.33 -> 0.03 ms a
 * token for top-k 40 on GPT-2's 50257 logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"

static inline float logit_key(float x)
{
	return isnan(x) ? -INFINITY : x;
}

/* The order every step sorts by: logit descending, ties by id ascending. */
static inline bool ranks_before(const llorch_candidate *a, const llorch_candidate *b)
{
	float ka = logit_key(a->logit), kb = logit_key(b->logit);

	if (ka != kb)
		return ka > kb;
	return a->id < b->id;
}

static int cmp_id(const void *pa, const void *pb)
{
	const llorch_candidate *a = pa, *b = pb;

	return (a->id > b->id) - (a->id < b->id);
}

/* The draw walks the kept candidates in id order, so that the token does
 * not depend on the order they came in (dense, sparse, sorted by a filter
 * or not): a sparse top-N list and the full vector draw the same token. */
static void order_by_id(llorch_candidate *c, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (c[i].id < c[i - 1].id) {
			qsort(c, n, sizeof *c, cmp_id);
			return;
		}
}

static int cmp_rank(const void *pa, const void *pb)
{
	const llorch_candidate *a = pa, *b = pb;

	if (ranks_before(a, b))
		return -1;
	return ranks_before(b, a) ? 1 : 0;
}

static inline void swap_cand(llorch_candidate *a, llorch_candidate *b)
{
	llorch_candidate t = *a;
	*a = *b;
	*b = t;
}

static void sort_rank(llorch_candidate *c, size_t n)
{
	if (n > 1)
		qsort(c, n, sizeof *c, cmp_rank);
}

/* Restores the heap order of h[0..n) below i: a parent never ranks before
 * its children, so h[0] is the worst of the heap. */
static void sift_worst_up(llorch_candidate *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < n && ranks_before(&h[w], &h[l]))
			w = l;
		if (r < n && ranks_before(&h[w], &h[r]))
			w = r;
		if (w == i)
			return;
		swap_cand(&h[i], &h[w]);
		i = w;
	}
}

/* select_best for k much smaller than n (top-k 40 of a vocabulary): one
 * pass that keeps the k best seen so far in a heap at the front, its worst
 * at the root, so that nearly every candidate costs one comparison. Whoever
 * leaves the heap takes the newcomer's place: c stays a permutation. */
static void select_best_heap(llorch_candidate *c, size_t n, size_t k)
{
	for (size_t i = k / 2; i-- > 0;)
		sift_worst_up(c, k, i);
	for (size_t i = k; i < n; i++)
		if (ranks_before(&c[i], &c[0])) {
			swap_cand(&c[i], &c[0]);
			sift_worst_up(c, k, 0);
		}
}

/* Moves the k best candidates (in rank order) into c[0..k), in no
 * particular order, the others behind them. Few of many: a heap (one pass);
 * else quickselect with a median-of-three pivot, where a depth limit falls
 * back to sorting, so crafted inputs cannot make it quadratic. */
static void select_best(llorch_candidate *c, size_t n, size_t k)
{
	size_t lo = 0, hi = n;
	int depth = 8;

	if (k == 0 || k >= n)
		return;
	if (k <= n / 64) {
		select_best_heap(c, n, k);
		return;
	}
	for (size_t m = n; m > 1; m >>= 1)
		depth += 2;
	while (hi - lo > 16) {
		if (depth-- == 0) {
			sort_rank(c + lo, hi - lo);
			return;
		}
		size_t mid = lo + (hi - lo) / 2;
		if (ranks_before(&c[mid], &c[lo]))
			swap_cand(&c[mid], &c[lo]);
		if (ranks_before(&c[hi - 1], &c[lo]))
			swap_cand(&c[hi - 1], &c[lo]);
		if (ranks_before(&c[hi - 1], &c[mid]))
			swap_cand(&c[hi - 1], &c[mid]);
		/* c[lo] >= c[mid] >= c[hi-1] in rank; the median is the pivot. */
		swap_cand(&c[mid], &c[hi - 1]);
		llorch_candidate pivot = c[hi - 1];
		size_t store = lo;
		for (size_t i = lo; i < hi - 1; i++)
			if (ranks_before(&c[i], &pivot))
				swap_cand(&c[i], &c[store++]);
		swap_cand(&c[store], &c[hi - 1]);
		if (k == store || k == store + 1)
			return;
		if (k < store)
			hi = store;
		else
			lo = store + 1;
	}
	sort_rank(c + lo, hi - lo);
}

static float max_key(const llorch_candidate *c, size_t n)
{
	float mx = -INFINITY;

	for (size_t i = 0; i < n; i++) {
		float k = logit_key(c[i].logit);
		if (k > mx)
			mx = k;
	}
	return mx;
}

/* Unnormalised weight exp(logit - max); with a +inf maximum, the +inf
 * tokens share the mass equally. */
static inline float weight_of(float logit, float mx)
{
	float k = logit_key(logit);

	if (mx == INFINITY)
		return k == INFINITY ? 1.0f : 0.0f;
	return k == -INFINITY ? 0.0f : expf(k - mx);
}

void llorch_sample_repetition_penalty(llorch_candidate *c, size_t n,
		const int32_t *history, size_t n_history, float penalty)
{
	if (n == 0 || n_history == 0 || !(penalty > 0.0f) || penalty == 1.0f || !isfinite(penalty))
		return;
	/* Candidates usually come in id order (c[id].id == id), so a lookup is
	 * direct; otherwise (a sparse or sorted list) it is a linear search.
	 * The p field marks tokens already penalised, so repeats count once. */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t h = 0; h < n_history; h++) {
			int32_t id = history[h];
			size_t at = n;
			if (id >= 0 && (size_t)id < n && c[id].id == id) {
				at = (size_t)id;
			} else {
				for (size_t i = 0; i < n; i++)
					if (c[i].id == id) {
						at = i;
						break;
					}
			}
			if (at == n)
				continue;
			llorch_candidate *t = &c[at];
			if (pass == 0) {
				t->p = 0.0f;
			} else if (pass == 1) {
				if (t->p != 0.0f)
					continue;
				t->p = 1.0f;
				float x = logit_key(t->logit);
				t->logit = x > 0.0f ? x / penalty : x * penalty;
			} else {
				t->p = 0.0f;
			}
		}
	}
}

void llorch_sample_temperature(llorch_candidate *c, size_t n, float temperature)
{
	if (!(temperature > 0.0f) || temperature == 1.0f || !isfinite(temperature))
		return;
	for (size_t i = 0; i < n; i++)
		c[i].logit = logit_key(c[i].logit) / temperature;
}

size_t llorch_sample_top_k(llorch_candidate *c, size_t n, int32_t k)
{
	if (k <= 0 || (size_t)k >= n)
		return n;
	select_best(c, n, (size_t)k);
	sort_rank(c, (size_t)k);
	return (size_t)k;
}

size_t llorch_sample_top_p(llorch_candidate *c, size_t n, float p)
{
	if (n == 0 || !(p < 1.0f))
		return n;
	if (!(p > 0.0f)) {
		select_best(c, n, 1);
		return 1;
	}
	float mx = max_key(c, n);
	if (mx == -INFINITY)
		return n; /* nothing has probability: leave it to the draw to fail */
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		c[i].p = weight_of(c[i].logit, mx);
		total += c[i].p;
	}
	/* A token with probability below (1-p)/(n-1) cannot be in the nucleus:
	 * all such tokens together weigh less than 1-p, and every token above
	 * the bar ranks before them (the bound llama2.c's sample_topp uses). */
	size_t m = n;
	if (n > 1) {
		double bar = (1.0 - p) / (double)(n - 1) * total;
		m = 0;
		for (size_t i = 0; i < n; i++)
			if (c[i].p >= bar)
				swap_cand(&c[i], &c[m++]);
		if (m == 0)
			m = n;
	}
	/* Sort the survivors in growing chunks until the mass reaches p. */
	double want = (double)p * total, cum = 0.0;
	size_t sorted = 0, chunk = 64;
	while (sorted < m) {
		size_t take = m - sorted < chunk ? m - sorted : chunk;
		select_best(c + sorted, m - sorted, take);
		sort_rank(c + sorted, take);
		for (size_t i = sorted; i < sorted + take; i++) {
			cum += c[i].p;
			if (cum >= want) {
				for (size_t j = 0; j <= i; j++)
					c[j].p = (float)(c[j].p / total);
				return i + 1;
			}
		}
		sorted += take;
		chunk *= 4;
	}
	for (size_t j = 0; j < m; j++)
		c[j].p = (float)(c[j].p / total);
	return m;
}

/* Keeps tokens with p_i >= p * p_max, in their order (a stable compaction,
 * so a list in id order stays in id order). */
static size_t min_p_filter(llorch_candidate *c, size_t n, float p)
{
	if (n == 0 || !(p > 0.0f))
		return n;
	float mx = max_key(c, n);
	if (mx == -INFINITY)
		return n;
	/* p_i / p_max = exp(l_i - l_max) needs no softmax. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (weight_of(c[i].logit, mx) >= p)
			c[m++] = c[i];
	return m;
}

size_t llorch_sample_min_p(llorch_candidate *c, size_t n, float p)
{
	if (n == 0 || !(p > 0.0f))
		return n;
	size_t m = min_p_filter(c, n, p);
	sort_rank(c, m);
	return m;
}

int32_t llorch_sample_draw(llorch_candidate *c, size_t n, double u)
{
	float mx = max_key(c, n);
	if (n == 0 || mx == -INFINITY)
		return -1;
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		c[i].p = weight_of(c[i].logit, mx);
		total += c[i].p;
	}
	if (!(u > 0.0))
		u = 0.0;
	double target = u * total, cum = 0.0;
	size_t last = 0;
	int32_t chosen = -1;
	for (size_t i = 0; i < n; i++) {
		if (c[i].p == 0.0f)
			continue;
		cum += c[i].p;
		last = i;
		if (chosen < 0 && target < cum)
			chosen = c[i].id;
	}
	for (size_t i = 0; i < n; i++)
		c[i].p = (float)(c[i].p / total);
	/* Rounding can leave target at the very top of the sum: take the last
	 * token that has any probability. */
	return chosen >= 0 ? chosen : c[last].id;
}

/* Greedy: the highest logit, ties to the lowest id, whatever the order of c. */
static int32_t argmax(const llorch_candidate *c, size_t n)
{
	const llorch_candidate *best = NULL;

	for (size_t i = 0; i < n; i++) {
		if (logit_key(c[i].logit) == -INFINITY)
			continue;
		if (!best || ranks_before(&c[i], best))
			best = &c[i];
	}
	return best ? best->id : -1;
}

llorch_sampler_params llorch_sampler_default_params(void)
{
	return (llorch_sampler_params){
		.temperature = 1.0f,
		.top_k = 0,
		.top_p = 1.0f,
		.min_p = 0.0f,
		.repetition_penalty = 1.0f,
		.repeat_last_n = 64,
		.seed = 0,
	};
}

llorch_status llorch_sampler_params_check(const llorch_sampler_params *p)
{
	if (!p)
		return llorch_error(LLORCH_E_INVALID, "no sampler parameters");
	if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
		return llorch_error(LLORCH_E_INVALID, "temperature must be a finite number >= 0 (got %g)",
				(double)p->temperature);
	if (p->top_k < 0)
		return llorch_error(LLORCH_E_INVALID, "top_k must be >= 0 (got %d)", (int)p->top_k);
	if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
		return llorch_error(LLORCH_E_INVALID, "top_p must be in [0, 1] (got %g)", (double)p->top_p);
	if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
		return llorch_error(LLORCH_E_INVALID, "min_p must be in [0, 1] (got %g)", (double)p->min_p);
	/* 0 is accepted as "off", like top_k and min_p: the worker contract's
	 * range is 0..2, and a division by 0 means nothing useful. */
	if (!(p->repetition_penalty >= 0.0f) || !isfinite(p->repetition_penalty))
		return llorch_error(LLORCH_E_INVALID, "repetition_penalty must be a finite number >= 0 (got %g)",
				(double)p->repetition_penalty);
	if (p->repeat_last_n < -1)
		return llorch_error(LLORCH_E_INVALID, "repeat_last_n must be >= -1 (got %d)",
				(int)p->repeat_last_n);
	return LLORCH_OK;
}

/* The history the penalty looks at: the last repeat_last_n tokens. */
static size_t penalty_window(const llorch_sampler_params *p, const int32_t **history,
		size_t n_history)
{
	if (p->repeat_last_n >= 0 && n_history > (size_t)p->repeat_last_n) {
		*history += n_history - (size_t)p->repeat_last_n;
		n_history = (size_t)p->repeat_last_n;
	}
	return n_history;
}

/* The chain after top-k: top-p, min-p, the draw. */
static int32_t draw_from_kept(llorch_candidate *c, size_t kept, const llorch_sampler_params *p,
		uint64_t step)
{
	kept = llorch_sample_top_p(c, kept, p->top_p);
	/* min-p last and unsorted: the draw orders by id anyway */
	kept = min_p_filter(c, kept, p->min_p);
	order_by_id(c, kept);
	int32_t id = llorch_sample_draw(c, kept, llorch_rng_uniform(p->seed, step));
	if (id < 0)
		llorch_error(LLORCH_E_RANGE, "no token can be sampled: every logit is -inf or NaN");
	return id;
}

int32_t llorch_sample_chain(llorch_candidate *c, size_t n, const llorch_sampler_params *p,
		const int32_t *history, size_t n_history, uint64_t step)
{
	n_history = penalty_window(p, &history, n_history);
	llorch_sample_repetition_penalty(c, n, history, n_history, p->repetition_penalty);
	if (p->temperature != 0.0f) {
		llorch_sample_temperature(c, n, p->temperature);
		return draw_from_kept(c, llorch_sample_top_k(c, n, p->top_k), p, step);
	}
	int32_t id = argmax(c, n);
	if (id < 0)
		llorch_error(LLORCH_E_RANGE, "no token can be sampled: every logit is -inf or NaN");
	return id;
}

/* x[a] ranks before x[b]: larger first, NaN last, ties to the lower id. */
static inline bool value_before(const float *x, int32_t a, int32_t b)
{
	bool na = isnan(x[a]), nb = isnan(x[b]);

	if (na != nb)
		return nb;
	if (!na && x[a] != x[b])
		return x[a] > x[b];
	return a < b;
}

/* sift_worst_up for a heap of ids ranked by value_before */
static void sift_worst_id_up(const float *x, int32_t *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < n && value_before(x, h[w], h[l]))
			w = l;
		if (r < n && value_before(x, h[w], h[r]))
			w = r;
		if (w == i)
			return;
		int32_t t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

size_t llorch_logits_top(const float *x, size_t n, size_t k, int32_t *ids)
{
	if (k > n)
		k = n;
	if (k == 0)
		return 0;
	for (size_t i = 0; i < k; i++)
		ids[i] = (int32_t)i;
	for (size_t i = k / 2; i-- > 0;)
		sift_worst_id_up(x, ids, k, i);
	for (size_t i = k; i < n; i++) {
		float bar = x[ids[0]];
		if (isnan(bar)) {
			/* the worst kept is NaN: every number beats it */
			if (isnan(x[i]))
				continue;
		} else {
			/* ahead of the worst kept only when strictly above it: a
			 * tie loses to its lower id, NaN to every number */
			i += (size_t)llorch_vec_find_above(x + i, (int64_t)(n - i), bar);
			if (i >= n)
				break;
		}
		ids[0] = (int32_t)i;
		sift_worst_id_up(x, ids, k, 0);
	}
	/* the worst to the end, one at a time: best first */
	for (size_t m = k - 1; m > 0; m--) {
		int32_t t = ids[0];
		ids[0] = ids[m];
		ids[m] = t;
		sift_worst_id_up(x, ids, m, 0);
	}
	return k;
}

struct llorch_sampler {
	int32_t n_vocab;
	llorch_candidate *cand; /* (n_vocab) */
	float *penalised;       /* (n_vocab) the logits after the repetition penalty */
};

/* The logits as the chain's penalty step leaves them: logits itself when
 * it changes nothing, else a copy with each token of the window penalised
 * once (from its own logit, so repeats in the window change nothing). */
static const float *penalise(llorch_sampler *s, const llorch_sampler_params *p,
		const float *logits, const int32_t *history, size_t n_history)
{
	float penalty = p->repetition_penalty;

	n_history = penalty_window(p, &history, n_history);
	if (n_history == 0 || !(penalty > 0.0f) || penalty == 1.0f || !isfinite(penalty))
		return logits;
	memcpy(s->penalised, logits, (size_t)s->n_vocab * sizeof *logits);
	for (size_t h = 0; h < n_history; h++) {
		int32_t id = history[h];
		if (id < 0 || id >= s->n_vocab)
			continue;
		float x = logit_key(logits[id]);
		s->penalised[id] = x > 0.0f ? x / penalty : x * penalty;
	}
	return s->penalised;
}

/* The candidate top-k leaves (llorch_sample_temperature's scaling, when it
 * scales). */
static inline llorch_candidate scaled(int32_t id, float x, float temperature)
{
	float k = logit_key(x);

	if (temperature > 0.0f && temperature != 1.0f)
		k /= temperature;
	return (llorch_candidate){.id = id, .logit = k, .p = 0.0f};
}

/* Temperature then top-k of the whole vocabulary, for k few of many (the
 * usual top-k 40), without a candidate per token: c[0..k) as
 * llorch_sample_temperature and llorch_sample_top_k would leave them, the
 * k best in rank order. A heap of the best so far, its worst at the root,
 * as select_best_heap; a logit x no larger than the raw logit behind the
 * root cannot beat it (x / T rounds to at most the root's key, and a tie
 * loses: the root came first, with a lower id), so nearly every logit
 * costs one float comparison instead of a candidate, a division and a
 * rank comparison: a tenth of the time on GPT-2's 50257 logits. */
static void top_k_of_logits(llorch_candidate *c, const float *x, int32_t n, int32_t k,
		float temperature)
{
	for (int32_t i = 0; i < k; i++)
		c[i] = scaled(i, x[i], temperature);
	for (int32_t i = k / 2; i-- > 0;)
		sift_worst_up(c, (size_t)k, (size_t)i);
	float bar = logit_key(x[c[0].id]);
	for (int64_t i = k; (i += llorch_vec_find_above(x + i, n - i, bar)) < n; i++) {
		llorch_candidate t = scaled((int32_t)i, x[i], temperature);
		if (!ranks_before(&t, &c[0]))
			continue;
		c[0] = t;
		sift_worst_up(c, (size_t)k, 0);
		bar = logit_key(x[c[0].id]);
	}
	sort_rank(c, (size_t)k);
}

llorch_status llorch_sampler_new(int32_t n_vocab, llorch_sampler **out)
{
	*out = NULL;
	if (n_vocab <= 0)
		return llorch_error(LLORCH_E_INVALID, "sampler: vocabulary size must be > 0 (got %d)",
				(int)n_vocab);
	llorch_sampler *s = calloc(1, sizeof *s);
	if (!s)
		return llorch_error(LLORCH_E_NOMEM, "sampler: out of memory");
	s->n_vocab = n_vocab;
	s->cand = calloc((size_t)n_vocab, sizeof *s->cand);
	s->penalised = malloc((size_t)n_vocab * sizeof *s->penalised);
	if (!s->cand || !s->penalised) {
		llorch_sampler_free(s);
		return llorch_error(LLORCH_E_NOMEM, "sampler: out of memory for %d candidates", (int)n_vocab);
	}
	*out = s;
	return LLORCH_OK;
}

void llorch_sampler_free(llorch_sampler *s)
{
	if (!s)
		return;
	free(s->cand);
	free(s->penalised);
	free(s);
}

/* The n_top best raw logits by insertion into a short sorted list: O(n) for
 * the usual case where most logits lose to the current n_top-th. */
static void top_alternatives(const float *logits, int32_t n_vocab, float lse, int32_t n_top,
		int32_t *ids, float *lps)
{
	llorch_candidate best[LLORCH_SAMPLER_MAX_TOP];
	int32_t have = 0;

	for (int32_t i = 0; i < n_vocab; i++) {
		llorch_candidate x = {.id = i, .logit = logit_key(logits[i])};
		if (have == n_top && !ranks_before(&x, &best[have - 1]))
			continue;
		int32_t at = have < n_top ? have++ : n_top - 1;
		while (at > 0 && ranks_before(&x, &best[at - 1])) {
			best[at] = best[at - 1];
			at--;
		}
		best[at] = x;
	}
	for (int32_t i = 0; i < have; i++) {
		ids[i] = best[i].id;
		lps[i] = best[i].logit - lse;
	}
	for (int32_t i = have; i < n_top; i++) {
		ids[i] = -1;
		lps[i] = -INFINITY;
	}
}

int32_t llorch_sampler_sample(llorch_sampler *s, const llorch_sampler_params *p,
		const float *logits, const int32_t *history, size_t n_history, uint64_t step,
		float *logprob, int32_t n_top, int32_t *top_ids, float *top_logprobs)
{
	if (!s || !logits || (n_history && !history)) {
		llorch_error(LLORCH_E_INVALID, "sampler: missing argument");
		return -1;
	}
	if (llorch_sampler_params_check(p) != LLORCH_OK)
		return -1;
	if (n_top < 0 || n_top > LLORCH_SAMPLER_MAX_TOP || (n_top > 0 && (!top_ids || !top_logprobs))) {
		llorch_error(LLORCH_E_INVALID, "sampler: n_top must be in 0..%d with output arrays",
				LLORCH_SAMPLER_MAX_TOP);
		return -1;
	}
	int32_t id = -1;
	bool penalised = p->repetition_penalty != 1.0f && p->repetition_penalty != 0.0f &&
			 n_history > 0 && p->repeat_last_n != 0;
	if (p->temperature == 0.0f && !penalised) {
		/* Greedy without a penalty needs no candidate list: the first
		 * token at the largest logit (the lowest id on ties; never NaN). */
		float best = llorch_vec_max(logits, s->n_vocab);
		if (best > -INFINITY)
			for (id = 0; logits[id] != best; id++)
				;
		if (id < 0)
			llorch_error(LLORCH_E_RANGE, "no token can be sampled: every logit is -inf or NaN");
	} else if (p->temperature > 0.0f && p->top_k > 0 && p->top_k <= s->n_vocab / 64) {
		const float *x = penalise(s, p, logits, history, n_history);
		top_k_of_logits(s->cand, x, s->n_vocab, p->top_k, p->temperature);
		id = draw_from_kept(s->cand, (size_t)p->top_k, p, step);
	} else {
		for (int32_t i = 0; i < s->n_vocab; i++)
			s->cand[i] = (llorch_candidate){.id = i, .logit = logit_key(logits[i]), .p = 0.0f};
		id = llorch_sample_chain(s->cand, (size_t)s->n_vocab, p, history, n_history, step);
	}
	if (id < 0)
		return -1;
	if (logprob || n_top > 0) {
		float lse = llorch_vec_log_sum_exp(logits, s->n_vocab);
		if (logprob) {
			float x = logit_key(logits[id]);
			/* With +inf logits, each +inf token has probability 1/count. */
			if (lse == INFINITY) {
				int32_t count = 0;
				for (int32_t i = 0; i < s->n_vocab; i++)
					count += logits[i] == INFINITY;
				*logprob = x == INFINITY ? -logf((float)count) : -INFINITY;
			} else {
				*logprob = x - lse;
			}
		}
		if (n_top > 0)
			top_alternatives(logits, s->n_vocab, lse == INFINITY ? 0.0f : lse, n_top,
					top_ids, top_logprobs);
	}
	return id;
}
