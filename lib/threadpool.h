/* A persistent pool of worker threads; not installed. No thread is created
 * per call: workers sleep between jobs. */
#ifndef LLORCH_THREADPOOL_H
#define LLORCH_THREADPOOL_H

#include "internal.h"

typedef struct llorch_threadpool llorch_threadpool;

/* n_threads includes the caller, which works as thread 0 during run(). */
llorch_status llorch_threadpool_new(int n_threads, llorch_threadpool **out);
void llorch_threadpool_free(llorch_threadpool *p);
int llorch_threadpool_size(const llorch_threadpool *p);
/* Runs fn(arg, ith, nth) for ith in 0..nth-1 on the pool and waits for all.
 * Not reentrant: one run() at a time per pool. */
void llorch_threadpool_run(llorch_threadpool *p, void (*fn)(void *arg, int ith, int nth), void *arg);

/* The cores available to this process (sched_getaffinity), at least 1. */
int llorch_ncpu(void);

#endif
