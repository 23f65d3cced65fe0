/* llorch-serve's parts and how they talk: options, JSON logs, the scheduler
 * that owns the model's slots, and the front ends that feed it (HTTP/SSE,
 * NDJSON on stdio, one-shot text). */
#ifndef LLORCH_SERVE_H
#define LLORCH_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <time.h>

#include "llorch.h"
#include "../common/strbuf.h"

/* Monotonic clock. */
static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- options (options.c) ---- */

typedef struct {
	const char *model_path;
	const char *host;
	long port;
	long listen_fd;            /* -1: bind host:port ourselves */
	const char *worker_id;
	const char *callback_url;
	double callback_timeout;   /* seconds, all attempts together */
	long threads;
	long ctx;
	llorch_dtype kv_type;      /* the KV cache's: F32, F16 or Q8_0 */
	long slots;
	long queue;
	const char *api_key;
	long max_body;             /* bytes */
	long max_header;           /* bytes: libmicrohttpd's per-connection memory */
	long max_connections;
	long idle_timeout;         /* seconds */
	double job_timeout;        /* seconds; 0: none */
	double shutdown_timeout;   /* seconds */
	bool prompt_cache;
	bool log_prompts;
	int log_level;             /* LLORCH_LOG_* */
	bool stdio;
	/* one-shot mode: -p and the sampling flags */
	const char *prompt;
	long max_tokens;
	bool has_max_tokens;       /* -n given: else as far as the context goes */
	double temperature, top_p, min_p, repetition_penalty;
	long top_k;
	bool has_seed;
	unsigned long long seed;
	const char *stop[LLORCH_REQ_MAX_STOP];
	size_t n_stop;
	bool verbose;
} serve_opts;

/* Defaults, then the environment, then argv (a flag wins); exits 64 on a
 * usage error, 0 after --help/--version. */
void serve_opts_parse(serve_opts *o, int argc, char **argv);

/* ---- JSON logs on stderr (log.c) ---- */

void slog_init(const char *worker_id, int level);
/* One JSON object per line: ts, level, event, worker_id, then the pairs
 * given as (key, kind, value) triples ending with NULL; kind 's' a string
 * (NULL skips the pair), 'i' an int64_t, 'f' a double. */
void slog(int level, const char *event, ...);
/* Library messages (llorch_log) as "library" events. */
void slog_library(llorch_log_level level, const char *msg, void *user);

/* ---- the worker: model, slots, counters (worker.c) ---- */

typedef struct {
	_Atomic uint64_t requests_success, requests_error, requests_cancelled, requests_timeout;
	_Atomic uint64_t tokens_in, tokens_generated;
	_Atomic uint64_t hist_bucket[12]; /* cumulative at render time, see metrics.c */
	_Atomic uint64_t hist_count;
	_Atomic uint64_t hist_sum_ms;
} serve_metrics;

typedef enum { WORKER_LOADING = 0, WORKER_READY, WORKER_DRAINING } worker_state;

typedef struct sched sched;

typedef struct {
	const serve_opts *opts;
	_Atomic int state;
	int64_t started_ms;
	llorch_model *model;
	const llorch_tokenizer *tok;
	char *model_name;
	char *model_ref;           /* "file:/abs/path.gguf" */
	int32_t n_vocab;
	int32_t n_ctx;
	size_t memory_bytes;
	sched *sched;
	serve_metrics metrics;
} worker;

/* Loads the model and one context per slot (logging the stages); exit code
 * on failure (65 bad model, 66 missing, ...), else 0. */
int worker_load(worker *w);
void worker_free(worker *w);
void metrics_observe_ms(serve_metrics *m, uint64_t ms);
/* The Prometheus text page, malloc'd. */
char *metrics_render(worker *w);

/* ---- jobs and the scheduler (job.c, sched.c) ---- */

typedef struct job job;

/* Where a job's events go. Called from the scheduler thread. */
typedef struct {
	/* one event: its type ("started", "token", "end", "error") and JSON data */
	void (*emit)(job *j, const char *type, const char *json, size_t len, bool terminal);
	/* false when the client is known to be gone */
	bool (*alive)(job *j);
	/* the scheduler is done with the job */
	void (*release)(job *j);
} job_sink;

enum { CANCEL_NONE = 0, CANCEL_CLIENT, CANCEL_DISCONNECT, CANCEL_SHUTDOWN };

struct job {
	llorch_request req;
	char correlation_id[132];
	int32_t *tokens;           /* the tokenized prompt */
	size_t n_tokens;
	uint64_t seed;
	int64_t accepted_ns;
	int64_t deadline_ns;       /* 0: none */
	bool ndjson;               /* events carry "job_id" (stdio) */
	_Atomic int cancel;        /* CANCEL_* */
	const job_sink *sink;
	void *sink_data;
	job *next;                 /* in the queue */
	job *reg_next;             /* in the registry */
	int64_t queued_ns;
};

/* A job from a decoded request: tokenizes the prompt and checks that it plus
 * max_tokens fits the context (a problem in err otherwise). Takes ownership
 * of req's strings on success. NULL on failure (err set, or *oom). */
job *job_new(worker *w, llorch_request *req, llorch_request_errors *err, bool *oom);
void job_free(job *j);

typedef enum {
	SUBMIT_OK = 0,
	SUBMIT_FULL,               /* every slot busy and the queue full */
	SUBMIT_DRAINING,           /* shutting down */
	SUBMIT_DUPLICATE,          /* a job with this id is queued or running */
} submit_result;

int sched_new(worker *w, sched **out);
/* Starts the inference thread. */
int sched_start(sched *s);
/* wait: block while full instead of answering SUBMIT_FULL (stdio). */
submit_result sched_submit(sched *s, job *j, bool wait);
/* Cancels the queued or running job with this id; false when none. */
bool sched_cancel(sched *s, const char *job_id, int why);
void sched_counts(sched *s, int *busy, int *queued);
/* Stops accepting, lets jobs finish until grace_ms has passed, then cancels
 * the rest; returns when every job has had its terminal event. */
void sched_drain(sched *s, int64_t grace_ms);
/* Waits for the queue and the slots to empty (stdio EOF). */
void sched_wait_idle(sched *s);
void sched_free(sched *s);

/* ---- event text (events.c) ---- */

/* s as a JSON string literal appended to b; invalid UTF-8 becomes U+FFFD. */
void sb_json_str(strbuf *b, const char *s, size_t n);

/* "2026-11-22T10:00:00Z" (with milliseconds when ms) of the real-time clock. */
void format_utc(char *buf, size_t cap, bool ms);
/* A random identifier: 32 lowercase hex digits. */
void random_hex_id(char *buf33);

/* ---- signals (signals.c) ---- */

/* SIGTERM/SIGINT handlers and SIGPIPE ignored; -1 on failure. */
int signals_install(void);
/* Blocks until SIGTERM, SIGINT or a shutdown request (the signal number),
 * or signals_wake() (0). */
int signals_wait(void);
void signals_wake(void);
/* The same as SIGTERM, from inside (POST /shutdown). */
void signals_request_shutdown(void);
const char *signals_name(int sig);

/* ---- front ends ---- */

/* HTTP (http.c): binds, serves /health while loading, then everything. */
typedef struct http_server http_server;
/* Exit code on failure (75 port in use, 64 bad address, 71 other). */
int http_start(worker *w, http_server **out);
const char *http_uri(const http_server *h);
int http_port(const http_server *h);
/* Stops accepting connections (draining). */
void http_quiesce(http_server *h);
/* Waits up to ms for open event streams to be flushed to their clients. */
void http_wait_streams(http_server *h, int64_t ms);
void http_stop(http_server *h);

/* The ready callback (callback.c): 0, or 69 after the retries failed. */
int callback_send(worker *w, const char *uri);

/* NDJSON over stdin/stdout (stdio.c): exit code. */
int stdio_run(worker *w);

/* One prompt, text on stdout (oneshot.c): exit code. */
int oneshot_run(worker *w);

/* Gen params for a request (shared by every mode, so that the same request
 * gives the same tokens whichever way it comes in). */
llorch_gen_params request_gen_params(const llorch_request *r, uint64_t seed,
		const char *const *stop);

#endif
