/* Counters and the Prometheus text page of GET /metrics. Plain atomics: the
 * scheduler thread counts, the HTTP thread reads, nobody waits. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdlib.h>

#include "serve.h"

/* Upper bounds (ms) of the inference-duration histogram; +Inf follows. */
static const uint64_t bucket_le[] = {10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
#define N_BUCKETS (sizeof bucket_le / sizeof bucket_le[0])

void metrics_observe_ms(serve_metrics *m, uint64_t ms)
{
	size_t i = 0;

	while (i < N_BUCKETS && ms > bucket_le[i])
		i++;
	atomic_fetch_add(&m->hist_bucket[i], 1);
	atomic_fetch_add(&m->hist_sum_ms, ms);
	atomic_fetch_add(&m->hist_count, 1);
}

char *metrics_render(worker *w)
{
	serve_metrics *m = &w->metrics;
	strbuf b = {0};
	uint64_t cum = 0;
	int busy = 0, queued = 0;

	if (w->sched)
		sched_counts(w->sched, &busy, &queued);
	strbuf_puts(&b, "# HELP worker_requests_total Generation requests by outcome.\n"
		"# TYPE worker_requests_total counter\n");
	strbuf_printf(&b, "worker_requests_total{outcome=\"success\"} %" PRIu64 "\n",
			atomic_load(&m->requests_success));
	strbuf_printf(&b, "worker_requests_total{outcome=\"error\"} %" PRIu64 "\n",
			atomic_load(&m->requests_error));
	strbuf_printf(&b, "worker_requests_total{outcome=\"cancelled\"} %" PRIu64 "\n",
			atomic_load(&m->requests_cancelled));
	strbuf_printf(&b, "worker_requests_total{outcome=\"timeout\"} %" PRIu64 "\n",
			atomic_load(&m->requests_timeout));
	strbuf_printf(&b, "# HELP worker_tokens_in_total Prompt tokens evaluated.\n"
		"# TYPE worker_tokens_in_total counter\n"
		"worker_tokens_in_total %" PRIu64 "\n", atomic_load(&m->tokens_in));
	strbuf_printf(&b, "# HELP worker_tokens_generated_total Tokens sampled.\n"
		"# TYPE worker_tokens_generated_total counter\n"
		"worker_tokens_generated_total %" PRIu64 "\n", atomic_load(&m->tokens_generated));
	strbuf_puts(&b, "# HELP worker_inference_duration_ms Time from a job's start to its end.\n"
		"# TYPE worker_inference_duration_ms histogram\n");
	for (size_t i = 0; i <= N_BUCKETS; i++) {
		cum += atomic_load(&m->hist_bucket[i]);
		if (i < N_BUCKETS)
			strbuf_printf(&b, "worker_inference_duration_ms_bucket{le=\"%" PRIu64 "\"} %" PRIu64 "\n",
					bucket_le[i], cum);
		else
			strbuf_printf(&b, "worker_inference_duration_ms_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	strbuf_printf(&b, "worker_inference_duration_ms_sum %" PRIu64 "\n"
		"worker_inference_duration_ms_count %" PRIu64 "\n",
		atomic_load(&m->hist_sum_ms), cum);
	strbuf_printf(&b, "# HELP worker_uptime_seconds Seconds since the worker started.\n"
		"# TYPE worker_uptime_seconds gauge\n"
		"worker_uptime_seconds %" PRId64 "\n", (now_ns() / 1000000 - w->started_ms) / 1000);
	strbuf_printf(&b, "# HELP worker_memory_bytes Model file plus KV caches and scratch.\n"
		"# TYPE worker_memory_bytes gauge\n"
		"worker_memory_bytes %zu\n", w->memory_bytes);
	strbuf_printf(&b, "# HELP worker_slots_busy Slots running a generation.\n"
		"# TYPE worker_slots_busy gauge\n"
		"worker_slots_busy %d\n", busy);
	strbuf_printf(&b, "# HELP worker_queue_depth Requests waiting for a slot.\n"
		"# TYPE worker_queue_depth gauge\n"
		"worker_queue_depth %d\n", queued);
	if (b.failed) {
		strbuf_free(&b);
		return NULL;
	}
	return b.p;
}
