/* The persistent thread pool: every thread index runs exactly once per run(),
 * runs follow each other without losing or repeating work, the pool
 * shuts down cleanly whether or not it ever ran, and workers placed on a
 * CPU of their own at the start are left free to move after it. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <time.h>
#include <cmocka.h>

#include "threadpool.h"

typedef struct {
	atomic_int calls[8];
	atomic_int bad_nth;
	int expect_nth;
	long sum;         /* written by thread 0 only */
} count_job;

static void count_fn(void *arg, int ith, int nth)
{
	count_job *j = arg;

	if (nth != j->expect_nth || ith < 0 || ith >= nth)
		atomic_fetch_add(&j->bad_nth, 1);
	else
		atomic_fetch_add(&j->calls[ith], 1);
	if (ith == 0)
		j->sum++;
}

static void test_each_index_once_per_run(void **state)
{
	(void)state;
	for (int n = 1; n <= 4; n++) {
		llorch_threadpool *p = NULL;
		count_job j = {.expect_nth = n};
		int runs = 2000;

		assert_int_equal(llorch_threadpool_new(n, &p), LLORCH_OK);
		assert_int_equal(llorch_threadpool_size(p), n);
		for (int r = 0; r < runs; r++)
			llorch_threadpool_run(p, count_fn, &j);
		llorch_threadpool_free(p);
		assert_int_equal(atomic_load(&j.bad_nth), 0);
		for (int i = 0; i < n; i++)
			assert_int_equal(atomic_load(&j.calls[i]), runs);
		assert_int_equal(j.sum, runs);
	}
}

/* Workers that went to sleep between runs must wake for the next one. */
static void test_wakes_after_sleeping(void **state)
{
	llorch_threadpool *p = NULL;
	count_job j = {.expect_nth = 3};
	struct timespec pause = {0, 5 * 1000 * 1000};

	(void)state;
	assert_int_equal(llorch_threadpool_new(3, &p), LLORCH_OK);
	for (int r = 0; r < 4; r++) {
		nanosleep(&pause, NULL);
		llorch_threadpool_run(p, count_fn, &j);
	}
	llorch_threadpool_free(p);
	for (int i = 0; i < 3; i++)
		assert_int_equal(atomic_load(&j.calls[i]), 4);
}

/* A worker much slower than the caller: run() must wait for it. */
typedef struct {
	atomic_int done;
} slow_job;

static void slow_fn(void *arg, int ith, int nth)
{
	slow_job *j = arg;
	struct timespec pause = {0, 2 * 1000 * 1000};

	(void)nth;
	if (ith == 1)
		nanosleep(&pause, NULL);
	atomic_fetch_add(&j->done, 1);
}

static void test_waits_for_slow_worker(void **state)
{
	llorch_threadpool *p = NULL;
	slow_job j = {0};

	(void)state;
	assert_int_equal(llorch_threadpool_new(2, &p), LLORCH_OK);
	for (int r = 1; r <= 3; r++) {
		llorch_threadpool_run(p, slow_fn, &j);
		assert_int_equal(atomic_load(&j.done), 2 * r);
	}
	llorch_threadpool_free(p);
}

static void test_new_free_and_limits(void **state)
{
	llorch_threadpool *p = (llorch_threadpool *)&p;

	(void)state;
	assert_int_equal(llorch_threadpool_new(0, &p), LLORCH_E_INVALID);
	assert_null(p);
	assert_int_equal(llorch_threadpool_new(4, &p), LLORCH_OK);
	llorch_threadpool_free(p);
	llorch_threadpool_free(NULL);
	assert_int_equal(llorch_threadpool_size(NULL), 1);
	assert_true(llorch_ncpu() >= 1);
}

static void test_null_pool_runs_inline(void **state)
{
	count_job j = {.expect_nth = 1};

	(void)state;
	llorch_threadpool_run(NULL, count_fn, &j);
	assert_int_equal(atomic_load(&j.calls[0]), 1);
	assert_int_equal(atomic_load(&j.bad_nth), 0);
}

typedef struct {
	cpu_set_t mask[4];
	int got[4];
} mask_job;

static void mask_fn(void *arg, int ith, int nth)
{
	mask_job *j = arg;

	(void)nth;
	j->got[ith] = sched_getaffinity(0, sizeof j->mask[ith], &j->mask[ith]) == 0;
}

/* Whatever CPU a worker started on, inside a job its affinity is the
 * creator's: with all of this process's CPUs, and again with the creator
 * restricted to two and to one (then nothing is placed). */
static void test_workers_keep_callers_cpus(void **state)
{
	cpu_set_t all, want;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
	for (int limit = 0; limit < 3; limit++) {
		want = all;
		if (limit) {
			int keep = limit == 1 ? 2 : 1, k = 0;
			CPU_ZERO(&want);
			for (int c = 0; c < CPU_SETSIZE && k < keep; c++)
				if (CPU_ISSET(c, &all)) {
					CPU_SET(c, &want);
					k++;
				}
			assert_int_equal(sched_setaffinity(0, sizeof want, &want), 0);
		}
		for (int n = 2; n <= 4; n++) {
			llorch_threadpool *p = NULL;
			mask_job j = {.got = {0}};

			assert_int_equal(llorch_threadpool_new(n, &p), LLORCH_OK);
			for (int r = 0; r < 3; r++) {
				llorch_threadpool_run(p, mask_fn, &j);
				for (int i = 0; i < n; i++) {
					assert_true(j.got[i]);
					assert_true(CPU_EQUAL(&j.mask[i], &want));
				}
			}
			llorch_threadpool_free(p);
		}
	}
	assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_index_once_per_run),
		cmocka_unit_test(test_wakes_after_sleeping),
		cmocka_unit_test(test_waits_for_slow_worker),
		cmocka_unit_test(test_new_free_and_limits),
		cmocka_unit_test(test_null_pool_runs_inline),
		cmocka_unit_test(test_workers_keep_callers_cpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
