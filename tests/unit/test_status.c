/* Status codes, exit-code mapping and the last-error message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sysexits.h>
#include <cmocka.h>

#include "internal.h"

static void test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(llorch_status_exit_code(LLORCH_OK), 0);
	assert_int_equal(llorch_status_exit_code(LLORCH_E_FORMAT), EX_DATAERR);
	assert_int_equal(llorch_status_exit_code(LLORCH_E_INVALID), EX_USAGE);
	assert_int_equal(llorch_status_exit_code(LLORCH_E_NOTFOUND), EX_NOINPUT);
	assert_int_equal(llorch_status_exit_code(LLORCH_E_IO), EX_IOERR);
}

static void test_last_error(void **state)
{
	(void)state;
	assert_int_equal(llorch_error(LLORCH_E_RANGE, "token %d out of range", 7), LLORCH_E_RANGE);
	assert_string_equal(llorch_last_error(), "token 7 out of range");
	assert_string_equal(llorch_status_str(LLORCH_E_RANGE), "out of range");
}

static int logged;
static void count_log(llorch_log_level level, const char *msg, void *user)
{
	(void)level;
	(void)msg;
	*(int *)user += 1;
}

static void test_log_callback(void **state)
{
	(void)state;
	llorch_set_log(count_log, &logged);
	llorch_log(LLORCH_LOG_INFO, "hello %s", "world");
	llorch_set_log(NULL, NULL);
	llorch_log(LLORCH_LOG_INFO, "silent");
	assert_int_equal(logged, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_last_error),
		cmocka_unit_test(test_log_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
