/* A persistent pool of worker threads.
 *
 * A decode step runs a hundred or more small jobs (one per matrix-vector
 * product), each a few microseconds to a millisecond long, so waking the
 * workers must cost far less than a job. Workers therefore spin for a short
 * while on the job generation counter after finishing a job, and only then
 * sleep on a condition variable; the caller does the same while waiting for
 * the last worker. The spin is bounded in time (SPIN_NS) so that an idle pool
 * costs no CPU, yields the core after a few microseconds (backoff_step), and
 * is skipped when there are more threads than cores.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "threadpool.h"

/* How long an idle thread polls before sleeping: longer than the gap between
 * two jobs of one forward pass, far shorter than a scheduler time slice. */
#define SPIN_NS 200000

typedef struct {
	llorch_threadpool *pool;
	int ith;
	bool placed;             /* started on one CPU: widen to allowed after */
} worker_arg;

struct llorch_threadpool {
	int n_threads;           /* including the caller */
	pthread_t *threads;      /* n_threads - 1 workers */
	worker_arg *args;
	pthread_mutex_t mu;
	pthread_cond_t wake;     /* workers: a new generation or stop */
	pthread_cond_t done;     /* caller: pending reached 0 */
	void (*fn)(void *arg, int ith, int nth);
	void *arg;
	atomic_uint generation;  /* bumped once per run(); workers run each once */
	atomic_int pending;      /* workers still inside the current job */
	atomic_bool stop;
	int64_t spin_ns;         /* 0 when threads outnumber cores */
	int n_started;           /* workers actually created */
	cpu_set_t allowed;       /* the caller's CPUs, when the workers were placed */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Waiting without sleeping: a few microseconds of pause instructions, then
 * sched_yield() until spin_ns is over, so that on a loaded machine the
 * thread being waited for gets the core instead of us burning it. */
typedef struct {
	int64_t spin_ns;
	int64_t deadline;
	unsigned i;
} backoff;

#define PAUSE_ROUNDS 2048

/* False once the time to spin is over: then sleep. */
static bool backoff_step(backoff *b)
{
	if (b->spin_ns <= 0)
		return false;
	if (++b->i < PAUSE_ROUNDS) {
		cpu_relax();
		return true;
	}
	if ((b->i & 7) == 0) {
		int64_t now = llorch_now_ns();
		if (b->deadline == 0)
			b->deadline = now + b->spin_ns;
		else if (now > b->deadline)
			return false;
	}
	sched_yield();
	return true;
}

/* Polls *gen until it differs from seen, for at most about spin_ns;
 * returns the value last read. */
static unsigned spin_for_generation(atomic_uint *gen, unsigned seen, int64_t spin_ns)
{
	backoff b = {.spin_ns = spin_ns};

	for (;;) {
		unsigned g = atomic_load_explicit(gen, memory_order_acquire);
		if (g != seen || !backoff_step(&b))
			return g;
	}
}

static void *worker_main(void *p)
{
	worker_arg *wa = p;
	llorch_threadpool *pool = wa->pool;
	unsigned seen = 0;

	/* Started where placed (see place_worker); from here on the scheduler
	 * may move it like any thread. */
	if (wa->placed)
		sched_setaffinity(0, sizeof pool->allowed, &pool->allowed);
	for (;;) {
		unsigned g = spin_for_generation(&pool->generation, seen, pool->spin_ns);
		if (g == seen) {
			pthread_mutex_lock(&pool->mu);
			while ((g = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stop))
				pthread_cond_wait(&pool->wake, &pool->mu);
			pthread_mutex_unlock(&pool->mu);
		}
		if (atomic_load(&pool->stop))
			return NULL;
		seen = g;
		pool->fn(pool->arg, wa->ith, pool->n_threads);
		if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&pool->mu);
			pthread_cond_signal(&pool->done);
			pthread_mutex_unlock(&pool->mu);
		}
	}
}

static void stop_workers(llorch_threadpool *p)
{
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, true);
	atomic_fetch_add(&p->generation, 1);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n_started; i++)
		pthread_join(p->threads[i], NULL);
}

/* Where worker ith starts: the ith allowed CPU after the caller's. Left to
 * the scheduler, a new worker started on its creator's CPU and stayed
 * there, both threads at half speed, for the first 60-100 ms of every
 * process (a spinning thread is always cache-hot, so the load balancer
 * would not move it), which is most of a short prompt's time. Only the
 * start is chosen: the worker then widens its affinity to all of the
 * caller's CPUs (worker_main). */
static bool place_worker(llorch_threadpool *p, int ith, pthread_attr_t *attr)
{
	int here = sched_getcpu(), n = CPU_COUNT(&p->allowed), pos = 0, k = 0;
	cpu_set_t one;

	if (here < 0 || n < 2 || !CPU_ISSET(here, &p->allowed))
		return false;
	for (int c = 0; c < here; c++)
		pos += CPU_ISSET(c, &p->allowed) ? 1 : 0;
	pos = (pos + ith) % n;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &p->allowed))
			continue;
		if (k++ == pos) {
			CPU_ZERO(&one);
			CPU_SET(c, &one);
			return pthread_attr_setaffinity_np(attr, sizeof one, &one) == 0;
		}
	}
	return false;
}

llorch_status llorch_threadpool_new(int n_threads, llorch_threadpool **out)
{
	llorch_threadpool *p;
	int rc;

	*out = NULL;
	if (n_threads < 1 || n_threads > 1024)
		return llorch_error(LLORCH_E_INVALID, "thread count %d out of range 1..1024", n_threads);
	p = calloc(1, sizeof *p);
	if (!p)
		return llorch_error(LLORCH_E_NOMEM, "thread pool: out of memory");
	p->n_threads = n_threads;
	if (sched_getaffinity(0, sizeof p->allowed, &p->allowed) != 0)
		CPU_ZERO(&p->allowed);
	/* A spinning thread would take the core from the one it waits for. */
	p->spin_ns = n_threads <= (CPU_COUNT(&p->allowed) > 0 ? CPU_COUNT(&p->allowed) : 1) ?
		SPIN_NS : 0;
	atomic_init(&p->generation, 0);
	atomic_init(&p->pending, 0);
	atomic_init(&p->stop, false);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	if (n_threads > 1) {
		p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
		p->args = calloc((size_t)n_threads - 1, sizeof *p->args);
		if (!p->threads || !p->args) {
			llorch_threadpool_free(p);
			return llorch_error(LLORCH_E_NOMEM, "thread pool: out of memory");
		}
	}
	for (int i = 0; i < n_threads - 1; i++) {
		pthread_attr_t attr;
		p->args[i].pool = p;
		p->args[i].ith = i + 1;
		pthread_attr_init(&attr);
		p->args[i].placed = p->spin_ns > 0 && place_worker(p, i + 1, &attr);
		rc = pthread_create(&p->threads[i], &attr, worker_main, &p->args[i]);
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			llorch_threadpool_free(p);
			return llorch_error(LLORCH_E_NOMEM, "thread pool: cannot create thread %d: %s",
					i + 1, strerror(rc));
		}
		p->n_started++;
	}
	*out = p;
	return LLORCH_OK;
}

void llorch_threadpool_free(llorch_threadpool *p)
{
	if (!p)
		return;
	stop_workers(p);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p->args);
	free(p->threads);
	free(p);
}

int llorch_threadpool_size(const llorch_threadpool *p)
{
	return p ? p->n_threads : 1;
}

void llorch_threadpool_run(llorch_threadpool *p, void (*fn)(void *arg, int ith, int nth), void *arg)
{
	if (!p || p->n_threads == 1) {
		fn(arg, 0, 1);
		return;
	}
	p->fn = fn;
	p->arg = arg;
	atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_relaxed);
	/* The release increment publishes fn, arg and pending to spinning
	 * workers; the broadcast under the mutex reaches sleeping ones. */
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);

	fn(arg, 0, p->n_threads);

	backoff b = {.spin_ns = p->spin_ns};
	while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) {
		if (!backoff_step(&b)) {
			pthread_mutex_lock(&p->mu);
			while (atomic_load(&p->pending) != 0)
				pthread_cond_wait(&p->done, &p->mu);
			pthread_mutex_unlock(&p->mu);
			break;
		}
	}
}

int llorch_ncpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return n;
	}
	return 1;
}
