/* Samplers and the counter-based RNG: exact behaviour of each step,
 * statistical agreement of seeded draws with the softmax, determinism.
 *
 * Statistical tests use Pearson's chi-square against the expected counts.
 * The draws are seeded, so every run sees the same numbers; the bounds are
 * the 0.999 quantiles of the chi-square distribution for the test's degrees
 * of freedom (a correct sampler fails one with probability 1e-3 for a fresh
 * seed set; a wrong one, e.g. softmax off by a factor, fails by orders of
 * magnitude). The measured values are printed as TAP comments. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "internal.h"

/* chi-square 0.999 quantiles by degrees of freedom */
#define CHI2_999_DF2 13.816
#define CHI2_999_DF3 16.266
#define CHI2_999_DF7 24.322
#define CHI2_999_DF99 148.23

#define N_DRAWS 100000

static void softmax(const float *l, int n, float t, double *p)
{
	double mx = -INFINITY, sum = 0;
	for (int i = 0; i < n; i++)
		if (l[i] / t > mx)
			mx = l[i] / t;
	for (int i = 0; i < n; i++)
		sum += p[i] = isfinite(l[i]) ? exp(l[i] / t - mx) : 0.0;
	for (int i = 0; i < n; i++)
		p[i] /= sum;
}

static double chi_square(const long *count, const double *p, int n, long total, int *df)
{
	double chi = 0;
	*df = -1;
	for (int i = 0; i < n; i++) {
		if (p[i] == 0.0)
			continue;
		double e = p[i] * (double)total;
		chi += (count[i] - e) * (count[i] - e) / e;
		++*df;
	}
	return chi;
}

static void test_rng_uniform(void **state)
{
	(void)state;
	long bins[100] = {0};
	double p[100];
	for (int i = 0; i < 100; i++)
		p[i] = 0.01;
	for (uint64_t step = 0; step < N_DRAWS; step++) {
		double u = llorch_rng_uniform(42, step);
		assert_true(u >= 0.0 && u < 1.0);
		/* 53 bits: u * 2^53 is an integer */
		assert_true(ldexp(u, 53) == floor(ldexp(u, 53)));
		bins[(int)(u * 100)]++;
	}
	int df;
	double chi = chi_square(bins, p, 100, N_DRAWS, &df);
	printf("# rng: chi-square %.2f over 100 bins, %d draws (bound %.2f, df %d)\n", chi,
			N_DRAWS, CHI2_999_DF99, df);
	assert_true(chi < CHI2_999_DF99);
	/* the same (seed, step) is the same number; neighbours are not */
	assert_true(llorch_rng_uniform(7, 3) == llorch_rng_uniform(7, 3));
	assert_true(llorch_rng_uniform(7, 3) != llorch_rng_uniform(8, 3));
	assert_true(llorch_rng_uniform(7, 3) != llorch_rng_uniform(7, 4));
	assert_true(llorch_rng_uniform(1, 0) != llorch_rng_uniform(0, 1));
	assert_true(llorch_random_seed() != llorch_random_seed());
}

static const float dist8[8] = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f, 1.5f, -2.0f};

static long draws(const llorch_sampler_params *sp, const float *logits, int n, long *count,
		bool vary_seed)
{
	llorch_sampler *s;
	assert_int_equal(llorch_sampler_new(n, &s), LLORCH_OK);
	llorch_sampler_params p = *sp;
	memset(count, 0, sizeof *count * (size_t)n);
	for (long i = 0; i < N_DRAWS; i++) {
		if (vary_seed)
			p.seed = (uint64_t)i * 7919u + 1;
		int32_t id = llorch_sampler_sample(s, &p, logits, NULL, 0, vary_seed ? 0 : (uint64_t)i,
				NULL, 0, NULL, NULL);
		assert_true(id >= 0 && id < n);
		count[id]++;
	}
	llorch_sampler_free(s);
	return N_DRAWS;
}

static void check_softmax_fit(const char *what, float t, bool vary_seed)
{
	llorch_sampler_params sp = llorch_sampler_default_params();
	sp.temperature = t;
	sp.seed = 1234;
	long count[8];
	double p[8];
	long total = draws(&sp, dist8, 8, count, vary_seed);
	softmax(dist8, 8, t, p);
	int df;
	double chi = chi_square(count, p, 8, total, &df);
	printf("# %s: chi-square %.2f, %ld draws, %s (bound %.2f, df %d)\n", what, chi, total,
			vary_seed ? "one per seed" : "one seed, consecutive steps", CHI2_999_DF7, df);
	assert_int_equal(df, 7);
	assert_true(chi < CHI2_999_DF7);
}

static void test_temperature_one_matches_softmax(void **state)
{
	(void)state;
	check_softmax_fit("temperature 1", 1.0f, false);
	check_softmax_fit("temperature 1", 1.0f, true);
}

static void test_temperature_scales(void **state)
{
	(void)state;
	check_softmax_fit("temperature 0.5", 0.5f, false);
	check_softmax_fit("temperature 1.7", 1.7f, false);
	/* a wrong temperature must not pass the same bound */
	llorch_sampler_params sp = llorch_sampler_default_params();
	sp.temperature = 0.5f;
	long count[8];
	double p[8];
	int df;
	long total = draws(&sp, dist8, 8, count, false);
	softmax(dist8, 8, 1.0f, p);
	assert_true(chi_square(count, p, 8, total, &df) > 10 * CHI2_999_DF7);
}

static void test_greedy(void **state)
{
	(void)state;
	llorch_sampler *s;
	llorch_sampler_params sp = llorch_sampler_default_params();
	sp.temperature = 0.0f;
	assert_int_equal(llorch_sampler_new(6, &s), LLORCH_OK);
	float l[6] = {0.5f, 3.0f, NAN, 3.0f, -INFINITY, 1.0f};
	for (uint64_t step = 0; step < 5; step++)
		assert_int_equal(llorch_sampler_sample(s, &sp, l, NULL, 0, step, NULL, 0, NULL, NULL), 1);
	/* NaN is -inf, not a winner */
	float n[6] = {NAN, -1.0f, -INFINITY, -0.5f, NAN, -3.0f};
	assert_int_equal(llorch_sampler_sample(s, &sp, n, NULL, 0, 0, NULL, 0, NULL, NULL), 3);
	/* nothing finite: a defined error, for greedy and for the draw */
	float none[6] = {NAN, -INFINITY, -INFINITY, NAN, -INFINITY, -INFINITY};
	assert_int_equal(llorch_sampler_sample(s, &sp, none, NULL, 0, 0, NULL, 0, NULL, NULL), -1);
	assert_non_null(strstr(llorch_last_error(), "-inf"));
	sp.temperature = 1.0f;
	assert_int_equal(llorch_sampler_sample(s, &sp, none, NULL, 0, 0, NULL, 0, NULL, NULL), -1);
	/* +inf takes all the probability */
	float inf[6] = {1.0f, INFINITY, 2.0f, NAN, 0.0f, 5.0f};
	for (uint64_t step = 0; step < 50; step++)
		assert_int_equal(llorch_sampler_sample(s, &sp, inf, NULL, 0, step, NULL, 0, NULL, NULL), 1);
	llorch_sampler_free(s);
}

static void test_bad_params(void **state)
{
	(void)state;
	llorch_sampler *s;
	assert_int_equal(llorch_sampler_new(4, &s), LLORCH_OK);
	float l[4] = {0, 1, 2, 3};
	llorch_sampler_params bad[6];
	for (int i = 0; i < 6; i++)
		bad[i] = llorch_sampler_default_params();
	bad[0].temperature = -1.0f;
	bad[1].top_p = 1.5f;
	bad[2].min_p = NAN;
	bad[3].repetition_penalty = -0.5f;
	bad[4].top_k = -2;
	bad[5].repeat_last_n = -5;
	for (int i = 0; i < 6; i++) {
		assert_int_equal(llorch_sampler_params_check(&bad[i]), LLORCH_E_INVALID);
		assert_int_equal(llorch_sampler_sample(s, &bad[i], l, NULL, 0, 0, NULL, 0, NULL, NULL), -1);
	}
	llorch_sampler_params ok = llorch_sampler_default_params();
	assert_int_equal(llorch_sampler_params_check(&ok), LLORCH_OK);
	llorch_sampler_free(s);
	assert_int_equal(llorch_sampler_new(0, &s), LLORCH_E_INVALID);
	assert_null(s);
}

static void fill(llorch_candidate *c, const float *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c[i] = (llorch_candidate){.id = (int32_t)i, .logit = l[i]};
}

static void test_top_k(void **state)
{
	(void)state;
	llorch_candidate c[8];
	fill(c, dist8, 8);
	assert_int_equal(llorch_sample_top_k(c, 8, 3), 3);
	assert_int_equal(c[0].id, 4);
	assert_int_equal(c[1].id, 1);
	assert_int_equal(c[2].id, 6);
	fill(c, dist8, 8);
	assert_int_equal(llorch_sample_top_k(c, 8, 0), 8); /* off: unchanged */
	assert_int_equal(c[0].id, 0);
	/* ties by id */
	float tie[5] = {1, 2, 2, 2, 0};
	fill(c, tie, 5);
	assert_int_equal(llorch_sample_top_k(c, 5, 2), 2);
	assert_int_equal(c[0].id, 1);
	assert_int_equal(c[1].id, 2);

	/* the chain never emits an excluded token, and the kept ones follow
	 * the renormalised softmax */
	llorch_sampler_params sp = llorch_sampler_default_params();
	sp.top_k = 3;
	long count[8];
	long total = draws(&sp, dist8, 8, count, false);
	float kept[8];
	for (int i = 0; i < 8; i++)
		kept[i] = (i == 4 || i == 1 || i == 6) ? dist8[i] : -INFINITY;
	double p[8];
	softmax(kept, 8, 1.0f, p);
	for (int i = 0; i < 8; i++)
		if (p[i] == 0.0)
			assert_int_equal(count[i], 0);
	int df;
	double chi = chi_square(count, p, 8, total, &df);
	printf("# top-k 3: chi-square %.2f (bound %.2f, df %d)\n", chi, CHI2_999_DF2, df);
	assert_int_equal(df, 2);
	assert_true(chi < CHI2_999_DF2);
}

static void test_top_p(void **state)
{
	(void)state;
	/* probabilities 0.4 0.3 0.2 0.1 (ids shuffled) */
	float l[4] = {logf(0.2f), logf(0.4f), logf(0.1f), logf(0.3f)};
	llorch_candidate c[4];
	fill(c, l, 4);
	assert_int_equal(llorch_sample_top_p(c, 4, 0.65f), 2); /* 0.4 + 0.3 >= 0.65 */
	assert_int_equal(c[0].id, 1);
	assert_int_equal(c[1].id, 3);
	fill(c, l, 4);
	assert_int_equal(llorch_sample_top_p(c, 4, 0.75f), 3);
	fill(c, l, 4);
	assert_int_equal(llorch_sample_top_p(c, 4, 0.0f), 1);
	assert_int_equal(c[0].id, 1);
	fill(c, l, 4);
	assert_int_equal(llorch_sample_top_p(c, 4, 1.0f), 4);

	llorch_sampler_params sp = llorch_sampler_default_params();
	sp.top_p = 0.65f;
	long count[4];
	long total = draws(&sp, l, 4, count, false);
	assert_int_equal(count[0], 0);
	assert_int_equal(count[2], 0);
	double p[4] = {0, 0.4 / 0.7, 0, 0.3 / 0.7};
	int df;
	double chi = chi_square(count, p, 4, total, &df);
	printf("# top-p 0.65: chi-square %.2f (bound 10.83, df %d)\n", chi, df);
	assert_true(chi < 10.828); /* df 1 */
}

static void test_min_p(void **state)
{
	(void)state;
	float l[4] = {logf(0.2f), logf(0.4f), logf(0.1f), logf(0.3f)};
	llorch_candidate c[4];
	fill(c, l, 4);
	/* keep p >= 0.45 * 0.4 = 0.18: ids 1, 3, 0 */
	assert_int_equal(llorch_sample_min_p(c, 4, 0.45f), 3);
	assert_int_equal(c[0].id, 1);
	assert_int_equal(c[1].id, 3);
	assert_int_equal(c[2].id, 0);
	fill(c, l, 4);
	assert_int_equal(llorch_sample_min_p(c, 4, 1.0f), 1);
	fill(c, l, 4);
	assert_int_equal(llorch_sample_min_p(c, 4, 0.0f), 4);

	llorch_sampler_params sp = llorch_sampler_default_params();
	sp.min_p = 0.6f; /* keeps 0.4 and 0.3 */
	long count[4];
	long total = draws(&sp, l, 4, count, false);
	assert_int_equal(count[0], 0);
	assert_int_equal(count[2], 0);
	double p[4] = {0, 0.4 / 0.7, 0, 0.3 / 0.7};
	int df;
	double chi = chi_square(count, p, 4, total, &df);
	printf("# min-p 0.6: chi-square %.2f (bound 10.83, df %d)\n", chi, df);
	assert_true(chi < 10.828);
}

static void test_repetition_penalty(void **state)
{
	(void)state;
	float l[5] = {2.0f, -1.0f, 1.0f, 0.5f, 3.0f};
	llorch_candidate c[5];
	fill(c, l, 5);
	int32_t hist[6] = {0, 1, 0, 0, 1, 77}; /* repeats count once; 77 is not a candidate */
	llorch_sample_repetition_penalty(c, 5, hist, 6, 2.0f);
	assert_true(c[0].logit == 1.0f);
	assert_true(c[1].logit == -2.0f);
	assert_true(c[2].logit == 1.0f);
	assert_true(c[4].logit == 3.0f);
	/* the same on a list in another order (sparse input) */
	llorch_candidate r[3] = {{.id = 4, .logit = 3.0f}, {.id = 0, .logit = 2.0f}, {.id = 1, .logit = -1.0f}};
	llorch_sample_repetition_penalty(r, 3, hist, 6, 2.0f);
	assert_true(r[0].logit == 3.0f && r[1].logit == 1.0f && r[2].logit == -2.0f);

	/* greedy changes its mind under a penalty on the window only */
	llorch_sampler *s;
	assert_int_equal(llorch_sampler_new(5, &s), LLORCH_OK);
	llorch_sampler_params sp = llorch_sampler_default_params();
	sp.temperature = 0.0f;
	sp.repetition_penalty = 1.5f;
	int32_t h[3] = {4, 2, 2};
	assert_int_equal(llorch_sampler_sample(s, &sp, l, h, 3, 0, NULL, 0, NULL, NULL), 0);
	sp.repeat_last_n = 2; /* 4 falls out of the window */
	assert_int_equal(llorch_sampler_sample(s, &sp, l, h, 3, 0, NULL, 0, NULL, NULL), 4);
	sp.repeat_last_n = 0;
	assert_int_equal(llorch_sampler_sample(s, &sp, l, h, 3, 0, NULL, 0, NULL, NULL), 4);
	sp.repeat_last_n = -1;
	assert_int_equal(llorch_sampler_sample(s, &sp, l, h, 3, 0, NULL, 0, NULL, NULL), 0);
	sp.repetition_penalty = 0.0f; /* off, as the worker contract's range allows */
	assert_int_equal(llorch_sampler_sample(s, &sp, l, h, 3, 0, NULL, 0, NULL, NULL), 4);
	llorch_sampler_free(s);
}

static void test_draw_inverse_cdf(void **state)
{
	(void)state;
	float l[3] = {0.0f, 0.0f, logf(2.0f)}; /* 0.25 0.25 0.5 */
	llorch_candidate c[3];
	fill(c, l, 3);
	assert_int_equal(llorch_sample_draw(c, 3, 0.0), 0);
	assert_int_equal(llorch_sample_draw(c, 3, 0.2499), 0);
	assert_int_equal(llorch_sample_draw(c, 3, 0.2501), 1);
	assert_int_equal(llorch_sample_draw(c, 3, 0.5001), 2);
	assert_int_equal(llorch_sample_draw(c, 3, 0.9999999), 2);
	assert_true(fabsf(c[2].p - 0.5f) < 1e-6f);
	assert_int_equal(llorch_sample_draw(c, 0, 0.5), -1);
}

static void test_determinism_and_seeds(void **state)
{
	(void)state;
	enum { V = 512, STEPS = 64 };
	float *l = malloc(sizeof *l * V);
	srand(3);
	for (int i = 0; i < V; i++)
		l[i] = (float)((double)rand() / RAND_MAX) * 4.0f;
	llorch_sampler *s;
	assert_int_equal(llorch_sampler_new(V, &s), LLORCH_OK);
	llorch_sampler_params sp = llorch_sampler_default_params();
	sp.top_k = 100;
	sp.top_p = 0.9f;
	int32_t a[STEPS], b[STEPS], d[STEPS];
	for (int i = 0; i < STEPS; i++) {
		sp.seed = 11;
		a[i] = llorch_sampler_sample(s, &sp, l, a, (size_t)i, (uint64_t)i, NULL, 0, NULL, NULL);
		sp.seed = 12;
		d[i] = llorch_sampler_sample(s, &sp, l, d, (size_t)i, (uint64_t)i, NULL, 0, NULL, NULL);
	}
	/* step n alone decides draw n: replay in reverse order */
	for (int i = STEPS - 1; i >= 0; i--) {
		sp.seed = 11;
		b[i] = llorch_sampler_sample(s, &sp, l, a, (size_t)i, (uint64_t)i, NULL, 0, NULL, NULL);
	}
	assert_memory_equal(a, b, sizeof a);
	int differ = 0;
	for (int i = 0; i < STEPS; i++)
		differ += a[i] != d[i];
	assert_true(differ > STEPS / 2);
	llorch_sampler_free(s);
	free(l);
}

static void test_logprobs(void **state)
{
	(void)state;
	llorch_sampler *s;
	assert_int_equal(llorch_sampler_new(8, &s), LLORCH_OK);
	llorch_sampler_params sp = llorch_sampler_default_params();
	sp.temperature = 0.0f;
	float lp;
	int32_t ids[3];
	float lps[3];
	assert_int_equal(llorch_sampler_sample(s, &sp, dist8, NULL, 0, 0, &lp, 3, ids, lps), 4);
	double p[8];
	softmax(dist8, 8, 1.0f, p);
	assert_true(fabs(lp - log(p[4])) < 1e-5);
	assert_int_equal(ids[0], 4);
	assert_int_equal(ids[1], 1);
	assert_int_equal(ids[2], 6);
	assert_true(fabs(lps[1] - log(p[1])) < 1e-5);
	/* more alternatives than tokens: the rest are -1 */
	int32_t many[10];
	float mlp[10];
	llorch_sampler *s2;
	assert_int_equal(llorch_sampler_new(2, &s2), LLORCH_OK);
	float two[2] = {0, 1};
	assert_int_equal(llorch_sampler_sample(s2, &sp, two, NULL, 0, 0, NULL, 10, many, mlp), 1);
	assert_int_equal(many[1], 0);
	assert_int_equal(many[2], -1);
	llorch_sampler_free(s2);
	llorch_sampler_free(s);
}

/* llorch_sampler_sample takes top-k of few of many straight from the
 * logits (and greedy from a max); the candidate chain is the reference. On
 * logits with many ties, NaN, -inf and +inf, over temperatures, k, top-p,
 * min-p, and repetition penalties over histories with repeats and ids out
 * of range, both draw the same token at every step. */
static void test_sampler_equals_chain(void **state)
{
	enum { V = 4096 };
	static const float temps[] = {0.0f, 0.5f, 0.8f, 1.0f, 1.7f};
	static const int32_t ks[] = {0, 1, 2, 40, V / 64, V / 64 + 1};
	static const float top_ps[] = {1.0f, 0.9f};
	static const float min_ps[] = {0.0f, 0.05f};
	static const float penalties[] = {1.0f, 1.3f, 0.7f};
	static const int32_t lasts[] = {64, -1, 3};
	const int32_t history[] = {7, 7, 4095, -1, V + 3, 100, 7, 2, 0, 3000};
	const size_t n_history = sizeof history / sizeof *history;
	float *l = malloc(sizeof *l * V);
	llorch_candidate *c = malloc(sizeof *c * V);
	llorch_sampler *s;
	long cases = 0, fast_tokens = 0;

	(void)state;
	assert_non_null(l);
	assert_non_null(c);
	assert_int_equal(llorch_sampler_new(V, &s), LLORCH_OK);
	srand(11);
	for (int variant = 0; variant < 5; variant++) {
		for (int i = 0; i < V; i++) /* 1/8 steps: ties everywhere */
			l[i] = (float)(rand() % 160) / 8.0f - 14.0f;
		/* penalised tokens at the top, where the penalty decides; in
		 * variant 4 every logit is negative, which a penalty multiplies */
		l[2] = l[100] = 5.875f;
		l[3000] = 5.75f;
		if (variant == 4)
			for (int i = 0; i < V; i++)
				l[i] -= 6.0f;
		if (variant >= 1)
			for (int i = 0; i < V; i += 97) {
				l[i] = NAN;
				l[i + 1] = -INFINITY;
			}
		if (variant == 2)
			l[7] = l[4000] = INFINITY; /* 7 is penalised: +inf stays +inf */
		if (variant == 3)
			for (int i = 0; i < 50; i++) /* the first k candidates are NaN */
				l[i] = NAN;
		for (size_t a = 0; a < sizeof temps / sizeof *temps; a++)
		for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
		for (size_t d = 0; d < sizeof top_ps / sizeof *top_ps; d++)
		for (size_t e = 0; e < sizeof min_ps / sizeof *min_ps; e++)
		for (size_t f = 0; f < sizeof penalties / sizeof *penalties; f++)
		for (size_t g = 0; g < sizeof lasts / sizeof *lasts; g++) {
			llorch_sampler_params sp = llorch_sampler_default_params();
			sp.temperature = temps[a];
			sp.top_k = ks[b];
			sp.top_p = top_ps[d];
			sp.min_p = min_ps[e];
			sp.repetition_penalty = penalties[f];
			sp.repeat_last_n = lasts[g];
			sp.seed = 99;
			for (uint64_t step = 0; step < 4; step++) {
				for (int i = 0; i < V; i++)
					c[i] = (llorch_candidate){.id = i, .logit = isnan(l[i]) ? -INFINITY : l[i]};
				int32_t want = llorch_sample_chain(c, V, &sp, history, n_history, step);
				int32_t got = llorch_sampler_sample(s, &sp, l, history, n_history, step, NULL, 0,
						NULL, NULL);
				if (got != want)
					fail_msg("variant %d, T %g, k %d, top-p %g, min-p %g, penalty %g over %d, step %d: "
							"%d, the chain draws %d", variant, (double)sp.temperature,
							(int)sp.top_k, (double)sp.top_p, (double)sp.min_p,
							(double)sp.repetition_penalty, (int)sp.repeat_last_n, (int)step,
							(int)got, (int)want);
				cases++;
				fast_tokens += sp.temperature > 0.0f && sp.top_k > 0 && sp.top_k <= V / 64;
			}
		}
	}
	printf("# %ld draws the same as the chain's, %ld of them through top-k of the logits\n", cases,
			fast_tokens);
	llorch_sampler_free(s);
	free(c);
	free(l);
}

static const float *top_ref_x;

/* larger first, NaN last, ties to the lower id */
static int cmp_top_ref(const void *pa, const void *pb)
{
	int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
	float xa = top_ref_x[a], xb = top_ref_x[b];

	if (isnan(xa) != isnan(xb))
		return isnan(xa) ? 1 : -1;
	if (!isnan(xa) && xa != xb)
		return xa > xb ? -1 : 1;
	return (a > b) - (a < b);
}

/* llorch_logits_top against a full sort, on vectors with ties, NaN
 * (also among the first k, where the heap starts), -inf and +inf. */
static void test_logits_top(void **state)
{
	enum { N = 3000 };
	float *x = malloc(sizeof *x * N);
	int32_t *ref = malloc(sizeof *ref * N), *got = malloc(sizeof *got * (N + 3));
	const size_t ns[] = {1, 2, 7, 11, 64, N};

	(void)state;
	srand(21);
	for (int variant = 0; variant < 4; variant++)
	for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
		size_t n = ns[a];
		for (size_t i = 0; i < n; i++)
			x[i] = (float)(rand() % 64) / 4.0f - 8.0f;
		if (variant >= 1)
			for (size_t i = 0; i < n; i += 5)
				x[i] = NAN;
		if (variant >= 2 && n > 3) {
			x[n - 1] = INFINITY;
			x[n / 2] = -INFINITY;
			x[1] = -INFINITY;
		}
		if (variant == 3)
			for (size_t i = 0; i < n; i++)
				x[i] = i % 2 ? NAN : -INFINITY;
		for (size_t i = 0; i < n; i++)
			ref[i] = (int32_t)i;
		top_ref_x = x;
		qsort(ref, n, sizeof *ref, cmp_top_ref);
		const size_t ks[] = {0, 1, 2, 5, 40, n - 1, n, n + 3};
		for (size_t b = 0; b < sizeof ks / sizeof *ks; b++) {
			size_t want = ks[b] < n ? ks[b] : n;
			assert_int_equal(llorch_logits_top(x, n, ks[b], got), want);
			for (size_t i = 0; i < want; i++)
				if (got[i] != ref[i])
					fail_msg("variant %d, n %zu, k %zu: #%zu is %d, want %d", variant, n, ks[b], i,
							(int)got[i], (int)ref[i]);
		}
	}
	free(got);
	free(ref);
	free(x);
}

static int cmp_desc(const void *pa, const void *pb)
{
	const llorch_candidate *a = pa, *b = pb;
	if (a->logit != b->logit)
		return a->logit > b->logit ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* On a GPT-2-sized vocabulary, top-k and top-p agree with a full sort and
 * cost a fraction of one; the timings are printed for the record. */
static void test_large_vocab(void **state)
{
	(void)state;
	enum { V = 50257, ROUNDS = 100 };
	float *l = malloc(sizeof *l * V);
	llorch_candidate *c = malloc(sizeof *c * V), *ref = malloc(sizeof *ref * V);
	srand(5);
	for (int i = 0; i < V; i++) /* a peaked, LM-like spread, with ties */
		l[i] = (float)(int)((float)((double)rand() / RAND_MAX) * 2000.0f) / 100.0f - 12.0f;
	fill(ref, l, V);
	double t0 = now_s();
	qsort(ref, V, sizeof *ref, cmp_desc);
	double t_sort = now_s() - t0;

	fill(c, l, V);
	assert_int_equal(llorch_sample_top_k(c, V, 40), 40);
	for (int i = 0; i < 40; i++)
		assert_int_equal(c[i].id, ref[i].id);

	fill(c, l, V);
	size_t kept = llorch_sample_top_p(c, V, 0.9f);
	double total = 0, cum = 0;
	for (int i = 0; i < V; i++)
		total += exp(ref[i].logit - ref[0].logit);
	size_t want = 0;
	while (cum < 0.9 * total)
		cum += exp(ref[want++].logit - ref[0].logit);
	assert_int_equal(kept, want);
	for (size_t i = 0; i < kept; i++)
		assert_int_equal(c[i].id, ref[i].id);

	llorch_sampler *s;
	assert_int_equal(llorch_sampler_new(V, &s), LLORCH_OK);
	float *zipf = malloc(sizeof *zipf * V);
	/* Zipf-like, as a language model's next-token distribution: the logit
	 * of rank r is -1.1 log r, ranks scattered over the ids */
	for (int i = 0; i < V; i++)
		zipf[((size_t)i * 7919u) % V] = -1.1f * logf((float)(i + 1));
	const struct {
		const char *name;
		int32_t k;
		float p, mp, t;
	} cfg[] = {
		{"greedy", 0, 1.0f, 0.0f, 0.0f},
		{"temperature 1, no filter", 0, 1.0f, 0.0f, 1.0f},
		{"top-k 40", 40, 1.0f, 0.0f, 0.8f},
		{"top-p 0.95", 0, 0.95f, 0.0f, 0.8f},
		{"top-k 40 + top-p 0.95 + min-p 0.05", 40, 0.95f, 0.05f, 0.8f},
		{"min-p 0.05", 0, 1.0f, 0.05f, 0.8f},
	};
	printf("# full qsort of %d logits: %.3f ms\n", V, t_sort * 1e3);
	for (size_t j = 0; j < sizeof cfg / sizeof cfg[0]; j++) {
		llorch_sampler_params sp = llorch_sampler_default_params();
		sp.top_k = cfg[j].k;
		sp.top_p = cfg[j].p;
		sp.min_p = cfg[j].mp;
		sp.temperature = cfg[j].t;
		for (int d = 0; d < 2; d++) {
			const float *x = d ? zipf : l;
			t0 = now_s();
			for (int r = 0; r < ROUNDS; r++)
				assert_true(llorch_sampler_sample(s, &sp, x, NULL, 0, (uint64_t)r, NULL, 0,
						NULL, NULL) >= 0);
			printf("# sampler on %d logits (%s), %s: %.3f ms per token\n", V,
					d ? "zipf" : "flat", cfg[j].name, (now_s() - t0) / ROUNDS * 1e3);
		}
	}
	free(zipf);
	llorch_sampler_free(s);
	free(l);
	free(c);
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng_uniform),
		cmocka_unit_test(test_temperature_one_matches_softmax),
		cmocka_unit_test(test_temperature_scales),
		cmocka_unit_test(test_greedy),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_top_k),
		cmocka_unit_test(test_top_p),
		cmocka_unit_test(test_min_p),
		cmocka_unit_test(test_repetition_penalty),
		cmocka_unit_test(test_draw_inverse_cdf),
		cmocka_unit_test(test_determinism_and_seeds),
		cmocka_unit_test(test_logprobs),
		cmocka_unit_test(test_sampler_equals_chain),
		cmocka_unit_test(test_logits_top),
		cmocka_unit_test(test_large_vocab),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
