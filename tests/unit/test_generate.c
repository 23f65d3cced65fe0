/* The generation loop on a real model: greedy output equal to llama2.c's
 * reference ids, determinism per seed, the step API against the whole loop,
 * KV-cache prefix reuse, stop strings, limits, cancel and deadline.
 *
 * The model comes from LLORCH_TEST_MODEL (tests/generate.bats converts
 * stories260K and runs this binary with it); without it the
 * binary says so on stderr and runs only the tests that need no model.
 *
 * Run as `test_generate --generate MODEL [options]` it is also the
 * in-process reference for the shell pipeline test: it prints the text
 * llorch_generate() produced (see usage_driver below). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "internal.h"
#include "utf8.h"

typedef struct {
	llorch_model *model;
	llorch_ctx *ctx;
} fixture;

static const char *model_path(void)
{
	const char *p = getenv("LLORCH_TEST_MODEL");
	return p && *p ? p : NULL;
}

static int setup(void **state)
{
	static fixture f;
	const char *path = model_path();

	*state = NULL;
	if (llorch_model_load(path, &f.model) != LLORCH_OK) {
		fprintf(stderr, "test_generate: cannot load %s: %s\n", path, llorch_last_error());
		return -1;
	}
	llorch_ctx_params cp = llorch_ctx_default_params();
	cp.n_threads = 1;
	if (llorch_ctx_new(f.model, &cp, &f.ctx) != LLORCH_OK) {
		fprintf(stderr, "test_generate: cannot create a context: %s\n", llorch_last_error());
		return -1;
	}
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	if (f) {
		llorch_ctx_free(f->ctx);
		llorch_model_free(f->model);
	}
	return 0;
}

typedef struct {
	int32_t ids[1024];
	int n;
	char text[16384];
	size_t len;
	int stop_after; /* cancel after this many tokens; 0: never */
} collected;

static bool collect(const llorch_gen_token *t, void *user)
{
	collected *c = user;
	if (t->token >= 0 && c->n < 1024)
		c->ids[c->n++] = t->token;
	assert_true(c->len + t->text_len < sizeof c->text);
	memcpy(c->text + c->len, t->text, t->text_len);
	c->len += t->text_len;
	c->text[c->len] = '\0';
	return !(c->stop_after && c->n >= c->stop_after);
}

static llorch_gen_params greedy(int32_t max_tokens)
{
	llorch_gen_params p = llorch_gen_default_params();
	p.max_tokens = max_tokens;
	p.sampling.temperature = 0.0f;
	return p;
}

static void run(fixture *f, const char *prompt, const llorch_gen_params *p, collected *c,
		llorch_gen_result *r)
{
	memset(c, 0, sizeof *c);
	assert_int_equal(llorch_generate(f->ctx, prompt, strlen(prompt), p, collect, c, r), LLORCH_OK);
}

/* llama2.c run.c, -t 0 -n 256 from BOS: expected_greedy_ids.json */
static void test_greedy_matches_reference(void **state)
{
	fixture *f = *state;
	const char *shared = getenv("LLORCH_SHARED");
	char path[4096];
	snprintf(path, sizeof path, "%s/data/llama2c-stories260K/expected_greedy_ids.json",
			shared ? shared : "../shared");
	json_error_t err;
	json_t *j = json_load_file(path, 0, &err);
	if (!j) {
		fprintf(stderr, "test_generate: %s missing; reference ids not checked\n", path);
		skip();
	}
	json_t *ids = json_object_get(json_array_get(j, 0), "all_ids");
	assert_true(json_array_size(ids) == 257);
	collected c;
	llorch_gen_result r;
	llorch_gen_params p = greedy(256);
	run(f, "", &p, &c, &r);
	assert_int_equal(r.prompt_tokens, 1);
	assert_int_equal(r.tokens_out, 256);
	assert_string_equal(llorch_stop_reason_str(r.stop_reason), "MAX_TOKENS");
	assert_int_equal(c.n, 256);
	for (int i = 0; i < 256; i++)
		assert_int_equal(c.ids[i], json_integer_value(json_array_get(ids, (size_t)i + 1)));
	json_decref(j);
}

static void test_seeds(void **state)
{
	fixture *f = *state;
	llorch_gen_params p = llorch_gen_default_params();
	p.max_tokens = 40;
	p.sampling.temperature = 1.0f;
	collected a, b, d;
	llorch_gen_result ra, rb, rd;
	p.sampling.seed = 1234;
	run(f, "Once upon a time", &p, &a, &ra);
	run(f, "Once upon a time", &p, &b, &rb);
	p.sampling.seed = 1235;
	run(f, "Once upon a time", &p, &d, &rd);
	assert_int_equal(a.n, b.n);
	assert_memory_equal(a.ids, b.ids, sizeof a.ids[0] * (size_t)a.n);
	assert_string_equal(a.text, b.text);
	assert_int_equal(ra.seed, 1234);
	assert_true(a.n != d.n || memcmp(a.ids, d.ids, sizeof a.ids[0] * (size_t)a.n) != 0);
	/* the second run reused the cached prompt */
	assert_true(rb.cached_tokens > 0);
	assert_int_equal(rb.cached_tokens, rb.prompt_tokens - 1);
}

/* start / sample / eval by hand gives what llorch_generate gives. */
static void test_step_api(void **state)
{
	fixture *f = *state;
	llorch_gen_params p = llorch_gen_default_params();
	p.max_tokens = 30;
	p.sampling.temperature = 0.8f;
	p.sampling.top_k = 40;
	p.sampling.seed = 99;
	p.n_logprobs = 3;
	collected whole;
	llorch_gen_result rw;
	run(f, "The cat", &p, &whole, &rw);

	llorch_ctx_truncate(f->ctx, 0);
	llorch_gen *g;
	assert_int_equal(llorch_gen_start(f->ctx, "The cat", 7, &p, &g), LLORCH_OK);
	assert_int_equal(llorch_gen_prompt_tokens(g), rw.prompt_tokens);
	collected steps = {0};
	bool done = false;
	while (!done) {
		llorch_gen_token t;
		assert_int_equal(llorch_gen_sample(g, &t, &done), LLORCH_OK);
		assert_true(t.logprob <= 0.0f);
		assert_int_equal(t.n_top, 3);
		assert_true(t.top_logprobs[0] >= t.top_logprobs[1] && t.top_logprobs[1] >= t.top_logprobs[2]);
		assert_true(t.logprob <= t.top_logprobs[0]);
		collect(&t, &steps);
		if (!done)
			assert_int_equal(llorch_gen_eval(g), LLORCH_OK);
	}
	llorch_gen_result rs;
	llorch_gen_result_get(g, &rs);
	assert_int_equal(rs.cached_tokens, 0);
	llorch_gen_free(g);
	assert_int_equal(steps.n, whole.n);
	assert_memory_equal(steps.ids, whole.ids, sizeof whole.ids[0] * (size_t)whole.n);
	assert_string_equal(steps.text, whole.text);
	assert_int_equal(rs.tokens_out, 30);
}

static void test_stop_string(void **state)
{
	fixture *f = *state;
	collected free_run, stopped;
	llorch_gen_result r;
	llorch_gen_params p = greedy(60);
	run(f, "Once upon a time", &p, &free_run, &r);
	/* a stop string from the middle of the greedy text */
	const char *mid = free_run.text + free_run.len / 2;
	char stop[8];
	memcpy(stop, mid, 5);
	stop[5] = '\0';
	const char *stops[2] = {"never appears \x01", stop};
	p.stop = stops;
	p.n_stop = 2;
	run(f, "Once upon a time", &p, &stopped, &r);
	assert_string_equal(llorch_stop_reason_str(r.stop_reason), "STOP_SEQUENCE");
	assert_int_equal(r.stop_index, 1);
	size_t before = (size_t)(strstr(free_run.text, stop) - free_run.text);
	assert_int_equal(stopped.len, before);
	assert_memory_equal(stopped.text, free_run.text, before);
	assert_null(strstr(stopped.text, stop));
	assert_true(r.tokens_out < 60);
}

static void test_limits(void **state)
{
	fixture *f = *state;
	llorch_gen *g = NULL;
	int32_t n_ctx = llorch_ctx_n_ctx(f->ctx);
	llorch_gen_params p = greedy(n_ctx);
	/* prompt + max_tokens over the context: RANGE, nothing evaluated */
	int32_t past = llorch_ctx_n_past(f->ctx);
	assert_int_equal(llorch_gen_start(f->ctx, "Hi", 2, &p, &g), LLORCH_E_RANGE);
	assert_null(g);
	assert_int_equal(llorch_ctx_n_past(f->ctx), past);
	p.max_tokens = 0;
	assert_int_equal(llorch_gen_start(f->ctx, "Hi", 2, &p, &g), LLORCH_E_INVALID);
	p = greedy(5);
	p.add_bos = 0;
	assert_int_equal(llorch_gen_start(f->ctx, "", 0, &p, &g), LLORCH_E_INVALID);
	int32_t bad[2] = {1, 1 << 20};
	assert_int_equal(llorch_gen_start_tokens(f->ctx, bad, 2, &p, &g), LLORCH_E_RANGE);
	p.sampling.top_p = 2.0f;
	assert_int_equal(llorch_gen_start(f->ctx, "Hi", 2, &p, &g), LLORCH_E_INVALID);
	p = greedy(5);
	p.n_logprobs = LLORCH_MAX_LOGPROBS + 1;
	assert_int_equal(llorch_gen_start(f->ctx, "Hi", 2, &p, &g), LLORCH_E_INVALID);

	/* max_tokens */
	collected c;
	llorch_gen_result r;
	p = greedy(7);
	run(f, "Hi", &p, &c, &r);
	assert_int_equal(r.tokens_out, 7);
	assert_int_equal(c.n, 7);
	assert_string_equal(llorch_stop_reason_str(r.stop_reason), "MAX_TOKENS");
	/* sampling before evaluating is a usage error */
	assert_int_equal(llorch_gen_start(f->ctx, "Hi", 2, &p, &g), LLORCH_OK);
	llorch_gen_token t;
	bool done;
	assert_int_equal(llorch_gen_sample(g, &t, &done), LLORCH_OK);
	assert_int_equal(llorch_gen_sample(g, &t, &done), LLORCH_E_INVALID);
	llorch_gen_free(g);
}

static void test_cancel_and_deadline(void **state)
{
	fixture *f = *state;
	collected c;
	llorch_gen_result r;
	llorch_gen_params p = greedy(50);
	memset(&c, 0, sizeof c);
	c.stop_after = 3;
	assert_int_equal(llorch_generate(f->ctx, "Hi", 2, &p, collect, &c, &r), LLORCH_OK);
	assert_string_equal(llorch_stop_reason_str(r.stop_reason), "CANCELLED");
	assert_int_equal(r.tokens_out, 3);

	/* a deadline already past: the prefill is cut short, nothing sampled */
	llorch_ctx_truncate(f->ctx, 0);
	p.deadline_ns = llorch_now_ns() - 1;
	memset(&c, 0, sizeof c);
	assert_int_equal(llorch_generate(f->ctx, "Once upon a time there was", 26, &p, collect, &c, &r),
			LLORCH_OK);
	assert_string_equal(llorch_stop_reason_str(r.stop_reason), "TIMEOUT");
	assert_int_equal(r.tokens_out, 0);
	assert_int_equal(c.n, 0);

	/* cancel before the first sample: CANCELLED, and the context is fine */
	llorch_gen *g;
	p = greedy(5);
	assert_int_equal(llorch_gen_start(f->ctx, "Hi", 2, &p, &g), LLORCH_OK);
	llorch_gen_cancel(g);
	llorch_gen_token t;
	bool done;
	assert_int_equal(llorch_gen_sample(g, &t, &done), LLORCH_OK);
	assert_true(done);
	assert_int_equal(t.token, -1);
	llorch_gen_result_get(g, &r);
	assert_string_equal(llorch_stop_reason_str(r.stop_reason), "CANCELLED");
	llorch_gen_free(g);
	run(f, "Hi", &p, &c, &r);
	assert_int_equal(r.tokens_out, 5);
}

/* Two generations stepped together through llorch_gen_eval_batch give
 * what each gives alone. */
static void test_eval_batch(void **state)
{
	fixture *f = *state;
	llorch_ctx *c2;
	llorch_ctx_params cp = llorch_ctx_default_params();
	cp.n_threads = 1;
	assert_int_equal(llorch_ctx_new(f->model, &cp, &c2), LLORCH_OK);
	llorch_gen_params p = greedy(20);
	collected alone[2];
	llorch_gen_result r;
	const char *prompts[2] = {"Once upon a time", "The dog"};
	for (int i = 0; i < 2; i++)
		run(f, prompts[i], &p, &alone[i], &r);

	llorch_gen *g[2];
	llorch_ctx_truncate(f->ctx, 0);
	assert_int_equal(llorch_gen_start(f->ctx, prompts[0], strlen(prompts[0]), &p, &g[0]), LLORCH_OK);
	assert_int_equal(llorch_gen_start(c2, prompts[1], strlen(prompts[1]), &p, &g[1]), LLORCH_OK);
	collected both[2] = {0};
	bool done[2] = {false, false};
	while (!done[0] || !done[1]) {
		llorch_gen *pending[2];
		int32_t n = 0;
		for (int i = 0; i < 2; i++) {
			if (done[i])
				continue;
			llorch_gen_token t;
			assert_int_equal(llorch_gen_sample(g[i], &t, &done[i]), LLORCH_OK);
			collect(&t, &both[i]);
			if (!done[i])
				pending[n++] = g[i];
		}
		if (n)
			assert_int_equal(llorch_gen_eval_batch(pending, n), LLORCH_OK);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(both[i].n, alone[i].n);
		assert_memory_equal(both[i].ids, alone[i].ids, sizeof both[i].ids[0] * (size_t)both[i].n);
		assert_string_equal(both[i].text, alone[i].text);
		llorch_gen_free(g[i]);
	}
	/* the same context twice is refused */
	llorch_gen *h[2];
	assert_int_equal(llorch_gen_start(c2, "a", 1, &p, &h[0]), LLORCH_OK);
	h[1] = h[0];
	llorch_gen_token t;
	bool d;
	assert_int_equal(llorch_gen_sample(h[0], &t, &d), LLORCH_OK);
	assert_int_equal(llorch_gen_eval_batch(h, 2), LLORCH_E_INVALID);
	llorch_gen_free(h[0]);
	llorch_ctx_free(c2);
}

/* Hot sampling reaches the byte-fallback tokens: every piece streamed must
 * be valid UTF-8 on its own, and together they must be the decoded ids
 * (where those bytes are valid UTF-8 at all). */
static void test_streamed_text_is_utf8(void **state)
{
	fixture *f = *state;
	const llorch_tokenizer *tok = llorch_model_tokenizer(f->model);
	int bytes_seen = 0;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		llorch_gen *g;
		llorch_gen_params p = llorch_gen_default_params();
		p.max_tokens = 120;
		p.sampling.temperature = 2.0f;
		p.sampling.seed = seed;
		assert_int_equal(llorch_gen_start(f->ctx, "", 0, &p, &g), LLORCH_OK);
		collected c = {0};
		bool done = false;
		while (!done) {
			llorch_gen_token t;
			assert_int_equal(llorch_gen_sample(g, &t, &done), LLORCH_OK);
			assert_true(utf8_valid((const unsigned char *)t.text, t.text_len));
			size_t plen;
			const char *piece = t.token >= 0 ? llorch_token_piece(tok, t.token, &plen) : NULL;
			bytes_seen += piece && strncmp(piece, "<0x", 3) == 0;
			collect(&t, &c);
			if (!done)
				assert_int_equal(llorch_gen_eval(g), LLORCH_OK);
		}
		llorch_gen_free(g);
		int32_t ids[1025] = {1};
		memcpy(ids + 1, c.ids, sizeof c.ids[0] * (size_t)c.n);
		char *text;
		size_t len;
		assert_int_equal(llorch_detokenize(tok, ids, (size_t)c.n + 1, false, &text, &len), LLORCH_OK);
		if (utf8_valid((const unsigned char *)text, len)) {
			assert_int_equal(len, c.len);
			assert_memory_equal(text, c.text, len);
		}
		free(text);
	}
	printf("# %d byte-fallback tokens sampled\n", bytes_seen);
	assert_true(bytes_seen > 0);
}

static void test_stop_reason_names(void **state)
{
	(void)state;
	assert_string_equal(llorch_stop_reason_str(LLORCH_STOP_MAX_TOKENS), "MAX_TOKENS");
	assert_string_equal(llorch_stop_reason_str(LLORCH_STOP_EOS), "EOS");
	assert_string_equal(llorch_stop_reason_str(LLORCH_STOP_SEQUENCE), "STOP_SEQUENCE");
	assert_string_equal(llorch_stop_reason_str(LLORCH_STOP_CANCELLED), "CANCELLED");
	assert_string_equal(llorch_stop_reason_str(LLORCH_STOP_TIMEOUT), "TIMEOUT");
	assert_string_equal(llorch_stop_reason_str(LLORCH_STOP_NONE), "NONE");
	llorch_gen_params p = llorch_gen_default_params();
	assert_int_equal(p.max_tokens, 256);
	assert_int_equal(p.add_bos, -1);
	assert_true(p.sampling.temperature == 1.0f);
}

/* ---- driver mode ---- */

static const char usage_driver[] =
	"usage: test_generate --generate MODEL [-p PROMPT] [-n MAX_TOKENS] [-T TEMP] [-s SEED]\n"
	"                     [-k TOP_K] [--top-p P] [--stop STR]... [--stop-token ID] [--ids]\n"
	"Prints the text llorch_generate() produces (one context, one thread).\n"
	"--stop-token ID ends the output before that token (as llama2.c's run.c\n"
	"stops at BOS); --ids prints the sampled ids, one line, instead.\n";

typedef struct {
	int32_t stop_token;
	bool ids;
	bool stopped;
} driver;

static bool driver_token(const llorch_gen_token *t, void *user)
{
	driver *d = user;
	if (d->stopped)
		return false;
	if (d->stop_token >= 0 && t->token == d->stop_token) {
		d->stopped = true;
		return false;
	}
	if (d->ids && t->token >= 0)
		printf("%d ", (int)t->token);
	if (!d->ids)
		fwrite(t->text, 1, t->text_len, stdout);
	return true;
}

static int drive(int argc, char **argv)
{
	const char *prompt = "", *stops[LLORCH_MAX_STOP];
	llorch_gen_params p = llorch_gen_default_params();
	driver d = {.stop_token = -1};
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--ids") == 0) {
			d.ids = true;
			continue;
		}
		if (!v)
			goto usage;
		i++;
		if (strcmp(a, "-p") == 0)
			prompt = v;
		else if (strcmp(a, "-n") == 0)
			p.max_tokens = atoi(v);
		else if (strcmp(a, "-T") == 0)
			p.sampling.temperature = strtof(v, NULL);
		else if (strcmp(a, "-s") == 0)
			p.sampling.seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "-k") == 0)
			p.sampling.top_k = atoi(v);
		else if (strcmp(a, "--top-p") == 0)
			p.sampling.top_p = strtof(v, NULL);
		else if (strcmp(a, "--stop") == 0 && p.n_stop < LLORCH_MAX_STOP)
			stops[p.n_stop++] = v;
		else if (strcmp(a, "--stop-token") == 0)
			d.stop_token = atoi(v);
		else
			goto usage;
	}
	p.stop = stops;
	llorch_model *m;
	llorch_ctx *c;
	llorch_ctx_params cp = llorch_ctx_default_params();
	cp.n_threads = 1;
	if (llorch_model_load(argv[2], &m) != LLORCH_OK || llorch_ctx_new(m, &cp, &c) != LLORCH_OK) {
		fprintf(stderr, "test_generate: %s\n", llorch_last_error());
		return 65;
	}
	llorch_gen_result r;
	llorch_status st = llorch_generate(c, prompt, strlen(prompt), &p, driver_token, &d, &r);
	if (d.ids)
		putchar('\n');
	if (st != LLORCH_OK)
		fprintf(stderr, "test_generate: %s\n", llorch_last_error());
	fprintf(stderr, "test_generate: %s, %d tokens, prompt %d\n", llorch_stop_reason_str(r.stop_reason),
			(int)r.tokens_out, (int)r.prompt_tokens);
	llorch_ctx_free(c);
	llorch_model_free(m);
	return st == LLORCH_OK && fflush(stdout) == 0 ? 0 : 65;
usage:
	fputs(usage_driver, stderr);
	return 64;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--generate") == 0) {
		return drive(argc, argv);
	}
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(test_stop_reason_names),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	if (!model_path()) {
		/* prove counts cmocka's skips as failures: run only what needs no model */
		fprintf(stderr, "test_generate: LLORCH_TEST_MODEL not set (tests/generate.bats sets it); "
				"model tests not run here\n");
		return cmocka_run_group_tests(plain, NULL, NULL);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_reason_names),
		cmocka_unit_test(test_greedy_matches_reference),
		cmocka_unit_test(test_seeds),
		cmocka_unit_test(test_step_api),
		cmocka_unit_test(test_stop_string),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_cancel_and_deadline),
		cmocka_unit_test(test_eval_batch),
		cmocka_unit_test(test_streamed_text_is_utf8),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
