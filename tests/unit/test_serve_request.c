/* The /execute request decoder: defaults, every field's checks, all problems
 * at once, the status each answer gets, and the exact error body. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "llorch.h"

#define VOCAB 512

static llorch_request req;
static llorch_request_errors err;

static llorch_request_verdict decode(const char *body)
{
	llorch_request_free(&req);
	return llorch_request_decode(body, strlen(body), VOCAB, &req, &err);
}

static const llorch_request_problem *problem(const char *field)
{
	for (size_t i = 0; i < err.n_problems; i++)
		if (!strcmp(err.problems[i].field, field))
			return &err.problems[i];
	return NULL;
}

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(decode("{\"job_id\":\"j1\",\"prompt\":\"Hello\",\"extra\":[1,{}]}"),
			LLORCH_REQ_OK);
	assert_string_equal(req.job_id, "j1");
	assert_string_equal(req.prompt, "Hello");
	assert_int_equal(req.prompt_len, 5);
	assert_int_equal(req.max_tokens, 2048);
	assert_false(req.has_max_tokens);
	assert_true(req.temperature == 1.0f);
	assert_true(req.top_p == 1.0f);
	assert_int_equal(req.top_k, 0);
	assert_true(req.min_p == 0.0f);
	assert_true(req.repetition_penalty == 1.0f);
	assert_false(req.has_seed);
	assert_int_equal(req.n_stop, 0);
}

static void test_all_fields(void **state)
{
	(void)state;
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\",\"max_tokens\":7,"
			"\"temperature\":0,\"seed\":42,\"top_p\":0.5,\"top_k\":512,\"min_p\":1,"
			"\"repetition_penalty\":2,\"stop\":[\"a\",\"\\n\\n\"]}"), LLORCH_REQ_OK);
	assert_int_equal(req.max_tokens, 7);
	assert_true(req.has_max_tokens);
	assert_true(req.temperature == 0.0f);
	assert_true(req.has_seed);
	assert_int_equal(req.seed, 42);
	assert_true(req.top_p == 0.5f);
	assert_int_equal(req.top_k, VOCAB);
	assert_true(req.min_p == 1.0f);
	assert_true(req.repetition_penalty == 2.0f);
	assert_int_equal(req.n_stop, 2);
	assert_string_equal(req.stop[1], "\n\n");
}

static void test_null_means_default(void **state)
{
	(void)state;
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\",\"seed\":null,\"stop\":null}"),
			LLORCH_REQ_OK);
	assert_false(req.has_seed);
}

static void test_u64_seed(void **state)
{
	(void)state;
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\",\"seed\":18446744073709551615}"),
			LLORCH_REQ_OK);
	assert_true(req.seed == UINT64_MAX);
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\",\"seed\":9223372036854775808}"),
			LLORCH_REQ_OK);
	assert_true(req.seed == (UINT64_C(1) << 63));
	/* inside a string nothing is rewritten */
	assert_int_equal(decode("{\"job_id\":\"9223372036854775808\",\"prompt\":\"p\"}"), LLORCH_REQ_OK);
	assert_string_equal(req.job_id, "9223372036854775808");
	/* beyond u64: not JSON we can read */
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\",\"seed\":18446744073709551616}"),
			LLORCH_REQ_NOT_JSON);
	/* a big max_tokens is a range problem, not a crash */
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\",\"max_tokens\":9223372036854775808}"),
			LLORCH_REQ_PROBLEMS);
	assert_string_equal(problem("max_tokens")->value, "9223372036854775808");
	assert_string_equal(problem("max_tokens")->message,
			"max_tokens must be at most 2048 (got 9223372036854775808)");
	/* negative seeds are out of range */
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\",\"seed\":-1}"), LLORCH_REQ_PROBLEMS);
	assert_string_equal(problem("seed")->constraint, "range(0..=18446744073709551615)");
}

static void test_contract_example(void **state)
{
	char *body;

	(void)state;
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\",\"max_tokens\":5000}"),
			LLORCH_REQ_PROBLEMS);
	assert_int_equal(llorch_request_http_status(&err), 400);
	body = llorch_request_errors_json(&err);
	assert_string_equal(body, "{\"errors\":[{\"field\":\"max_tokens\",\"constraint\":"
			"\"range(1..=2048)\",\"message\":\"max_tokens must be at most 2048 (got 5000)\","
			"\"value\":\"5000\"}]}");
	free(body);
}

static void test_all_problems_at_once(void **state)
{
	(void)state;
	assert_int_equal(decode("{\"job_id\":\"\",\"prompt\":\"\",\"max_tokens\":0,"
			"\"temperature\":2.5,\"top_p\":1.5,\"top_k\":513,\"min_p\":-0.1,"
			"\"repetition_penalty\":3,\"stop\":[\"a\",\"b\",\"c\",\"d\",\"\"]}"),
			LLORCH_REQ_PROBLEMS);
	assert_int_equal(llorch_request_http_status(&err), 400);
	assert_string_equal(problem("job_id")->constraint, "non_empty");
	assert_string_equal(problem("prompt")->constraint, "length(1..=32768)");
	assert_string_equal(problem("prompt")->value, "0");
	assert_string_equal(problem("max_tokens")->message, "max_tokens must be at least 1 (got 0)");
	assert_string_equal(problem("temperature")->constraint, "range(0.0..=2.0)");
	assert_string_equal(problem("temperature")->message,
			"temperature must be between 0.0 and 2.0 (got 2.5)");
	assert_string_equal(problem("top_p")->constraint, "range(0.0..=1.0)");
	assert_string_equal(problem("top_k")->constraint, "range(0..=512)");
	assert_string_equal(problem("min_p")->value, "-0.1");
	assert_string_equal(problem("repetition_penalty")->constraint, "range(0.0..=2.0)");
	assert_string_equal(problem("stop")->constraint, "max_count(4)");
	assert_string_equal(problem("stop")->value, "5");
	assert_string_equal(problem("stop[4]")->constraint, "non_empty");
	assert_int_equal(err.n_problems, 10);
	assert_null(req.job_id);
}

static void test_shape_problems_are_422(void **state)
{
	const llorch_request_problem *p;

	(void)state;
	assert_int_equal(decode("{\"prompt\":5,\"max_tokens\":\"10\",\"temperature\":1e9,"
			"\"stop\":\"x\"}"), LLORCH_REQ_PROBLEMS);
	assert_int_equal(llorch_request_http_status(&err), 422);
	p = problem("job_id");
	assert_string_equal(p->constraint, "required");
	assert_string_equal(p->message, "job_id is required");
	assert_false(p->has_value);
	p = problem("prompt");
	assert_string_equal(p->constraint, "type(string)");
	assert_string_equal(p->message, "prompt must be a string (got integer)");
	assert_string_equal(p->value, "5");
	assert_string_equal(problem("max_tokens")->constraint, "type(integer)");
	assert_string_equal(problem("max_tokens")->value, "\"10\"");
	assert_string_equal(problem("stop")->constraint, "type(array)");
	/* a range problem beside them is still listed */
	assert_non_null(problem("temperature"));
	/* 2.0 for an integer field is a type problem */
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\",\"max_tokens\":2.0}"),
			LLORCH_REQ_PROBLEMS);
	assert_string_equal(problem("max_tokens")->constraint, "type(integer)");
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\",\"stop\":[1]}"), LLORCH_REQ_PROBLEMS);
	assert_string_equal(problem("stop[0]")->constraint, "type(string)");
}

static void test_not_json(void **state)
{
	char *body;

	(void)state;
	assert_int_equal(decode("{\"job_id\":"), LLORCH_REQ_NOT_JSON);
	assert_int_equal(llorch_request_http_status(&err), 400);
	body = llorch_request_errors_json(&err);
	assert_non_null(strstr(body, "{\"error\":{\"code\":\"INVALID_REQUEST\",\"message\":\"the body is not valid JSON"));
	free(body);
	assert_int_equal(decode(""), LLORCH_REQ_NOT_JSON);
	assert_int_equal(decode("{\"job_id\":\"a\",\"job_id\":\"b\",\"prompt\":\"p\"}"), LLORCH_REQ_NOT_JSON);
	assert_int_equal(decode("{\"job_id\":\"\xff\",\"prompt\":\"p\"}"), LLORCH_REQ_NOT_JSON);
	assert_int_equal(decode("[1,2]"), LLORCH_REQ_NOT_OBJECT);
	assert_int_equal(llorch_request_http_status(&err), 422);
	assert_string_equal(err.message, "the body must be a JSON object (got array)");
}

static void test_lengths(void **state)
{
	size_t n = 32768 + 64;
	char *body = malloc(n * 3 + 64), *p;

	(void)state;
	/* 32768 three-byte characters are a valid prompt: length counts characters */
	p = body + sprintf(body, "{\"job_id\":\"j\",\"prompt\":\"");
	for (size_t i = 0; i < 32768; i++)
		p += sprintf(p, "\xe2\x82\xac");
	strcpy(p, "\"}");
	assert_int_equal(decode(body), LLORCH_REQ_OK);
	assert_int_equal(req.prompt_len, 32768 * 3);
	/* one more is too many */
	strcpy(p, "x\"}");
	assert_int_equal(decode(body), LLORCH_REQ_PROBLEMS);
	assert_string_equal(problem("prompt")->value, "32769");
	/* job_id: 256 bytes fine, 257 not */
	p = body + sprintf(body, "{\"prompt\":\"p\",\"job_id\":\"");
	memset(p, 'a', 256);
	strcpy(p + 256, "\"}");
	assert_int_equal(decode(body), LLORCH_REQ_OK);
	memset(p, 'a', 257);
	strcpy(p + 257, "\"}");
	assert_int_equal(decode(body), LLORCH_REQ_PROBLEMS);
	assert_string_equal(problem("job_id")->constraint, "max_length(256)");
	/* a stop string of 101 bytes */
	p = body + sprintf(body, "{\"job_id\":\"j\",\"prompt\":\"p\",\"stop\":[\"");
	memset(p, 's', 101);
	strcpy(p + 101, "\"]}");
	assert_int_equal(decode(body), LLORCH_REQ_PROBLEMS);
	assert_string_equal(problem("stop[0]")->constraint, "max_length(100)");
	assert_string_equal(problem("stop[0]")->message, "stop[0] must be at most 100 bytes (got 101)");
	free(body);
}

static void test_value_is_truncated(void **state)
{
	char body[600], *p;

	(void)state;
	p = body + sprintf(body, "{\"job_id\":\"j\",\"prompt\":[\"");
	memset(p, 'x', 400);
	strcpy(p + 400, "\"]}");
	assert_int_equal(decode(body), LLORCH_REQ_PROBLEMS);
	assert_true(strlen(problem("prompt")->value) < sizeof problem("prompt")->value);
	assert_non_null(strstr(problem("prompt")->value, "..."));
}

static void test_add_problem(void **state)
{
	(void)state;
	assert_int_equal(decode("{\"job_id\":\"j\",\"prompt\":\"p\"}"), LLORCH_REQ_OK);
	llorch_request_add_problem(&err, "max_tokens", "fits_context(64)", "60",
			"the prompt (%d tokens) plus max_tokens (%d) must fit", 10, 60);
	assert_int_equal(err.verdict, LLORCH_REQ_PROBLEMS);
	assert_int_equal(llorch_request_http_status(&err), 400);
	assert_string_equal(problem("max_tokens")->value, "60");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_fields),
		cmocka_unit_test(test_null_means_default),
		cmocka_unit_test(test_u64_seed),
		cmocka_unit_test(test_contract_example),
		cmocka_unit_test(test_all_problems_at_once),
		cmocka_unit_test(test_shape_problems_are_422),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_value_is_truncated),
		cmocka_unit_test(test_add_problem),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	llorch_request_free(&req);
	return rc;
}
