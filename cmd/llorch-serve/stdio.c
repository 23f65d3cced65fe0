/* --stdio: the generation service over NDJSON. Each stdin line is an
 * /execute body; each event is one stdout line carrying "job_id". Lines run
 * concurrently up to --slots; when every slot and the queue are taken the
 * reader waits (back-pressure, never 503). At EOF the running jobs finish,
 * then the worker exits 0. Socket mode is this behind socat:
 *   socat UNIX-LISTEN:/path.sock,fork EXEC:'llorch-serve --stdio -m M' */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "../common/cli.h"
#include "../common/ndjson.h"
#include "serve.h"

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool out_failed;

static void write_line(const char *s, size_t n)
{
	pthread_mutex_lock(&out_mu);
	if (!atomic_load(&out_failed) &&
			(fwrite(s, 1, n, stdout) != n || putc('\n', stdout) == EOF || fflush(stdout) != 0))
		atomic_store(&out_failed, true);
	pthread_mutex_unlock(&out_mu);
}

static void line_emit(job *j, const char *type, const char *json, size_t len, bool terminal)
{
	(void)j;
	(void)type;
	(void)terminal;
	write_line(json, len);
}

/* Nobody reads a broken stdout: cancel rather than compute for nobody. */
static bool line_alive(job *j)
{
	(void)j;
	return !atomic_load(&out_failed);
}

static void line_release(job *j)
{
	job_free(j);
}

static const job_sink stdio_sink = {line_emit, line_alive, line_release};

/* The terminal error line of a line that never became a job. */
static void reject(unsigned long long lineno, const char *job_id, const char *code,
		const char *message, int status, const char *errors_json)
{
	strbuf b = {0};

	strbuf_puts(&b, "{\"type\":\"error\",\"job_id\":");
	if (job_id)
		sb_json_str(&b, job_id, strlen(job_id));
	else
		strbuf_puts(&b, "null");
	strbuf_printf(&b, ",\"line\":%llu,\"code\":\"%s\",\"message\":", lineno, code);
	sb_json_str(&b, message, strlen(message));
	strbuf_printf(&b, ",\"retriable\":false,\"status\":%d", status);
	if (errors_json && !strncmp(errors_json, "{\"errors\":", 10)) {
		/* {"errors":[...]} -> ,"errors":[...] */
		strbuf_puts(&b, ",");
		strbuf_append(&b, errors_json + 1, strlen(errors_json) - 2);
	}
	strbuf_puts(&b, "}");
	if (!b.failed)
		write_line(b.p, b.len);
	strbuf_free(&b);
	slog(LLORCH_LOG_INFO, "error", "job_id", 's', job_id, "code", 's', code,
			"line", 'i', (int64_t)lineno, "message", 's', message, NULL);
}

/* The job_id of a rejected line, when it has a usable one. */
static char *line_job_id(const char *line, size_t len)
{
	json_t *v = json_loadb(line, len, 0, NULL);
	const json_t *id = json_is_object(v) ? json_object_get(v, "job_id") : NULL;
	char *s = NULL;

	if (json_is_string(id) && json_string_length(id) > 0 && json_string_length(id) <= 256 &&
			strlen(json_string_value(id)) == json_string_length(id))
		s = strdup(json_string_value(id));
	json_decref(v);
	return s;
}

static void reject_invalid(unsigned long long lineno, const char *line, size_t len,
		const llorch_request_errors *err)
{
	char *id = line_job_id(line, len);
	char *ej = llorch_request_errors_json(err);
	char msg[400];

	if (err->verdict == LLORCH_REQ_PROBLEMS && err->n_problems > 1)
		snprintf(msg, sizeof msg, "%.300s (and %zu more problems)", err->problems[0].message,
				err->n_problems - 1 + err->n_dropped);
	else if (err->verdict == LLORCH_REQ_PROBLEMS && err->n_problems == 1)
		snprintf(msg, sizeof msg, "%s", err->problems[0].message);
	else
		snprintf(msg, sizeof msg, "%s", err->message);
	reject(lineno, id, "INVALID_REQUEST", msg, llorch_request_http_status(err), ej);
	free(ej);
	free(id);
}

static void *drain_on_signal(void *arg)
{
	worker *w = arg;
	int sig = signals_wait();

	if (sig == 0)
		return NULL; /* the input ended first */
	slog(LLORCH_LOG_INFO, "shutdown", "signal", 's', signals_name(sig), NULL);
	atomic_store(&w->state, WORKER_DRAINING);
	sched_drain(w->sched, (int64_t)(w->opts->shutdown_timeout * 1000));
	/* the reader may be blocked on stdin: end the process from here */
	exit(atomic_load(&out_failed) ? EX_IOERR : cli_close_stdout());
}

int stdio_run(worker *w)
{
	ndjson_reader r;
	const char *line;
	size_t len;
	ndjson_read_result res;
	pthread_t sig_thread;
	llorch_request_errors *err = malloc(sizeof *err);
	int rc = 0;

	if (!err || pthread_create(&sig_thread, NULL, drain_on_signal, w) != 0) {
		free(err);
		fprintf(stderr, "llorch-serve: cannot start\n");
		return EX_OSERR;
	}
	ndjson_reader_init(&r, stdin, (size_t)w->opts->max_body);
	while ((res = ndjson_read(&r, &line, &len)) != NDJSON_EOF && !atomic_load(&out_failed)) {
		llorch_request req;
		job *j;
		bool oom;
		submit_result sr;
		char msg[160];

		if (res == NDJSON_IOERR) {
			fprintf(stderr, "llorch-serve: reading standard input failed\n");
			rc = EX_IOERR;
			break;
		}
		if (res == NDJSON_TOO_LONG) {
			snprintf(msg, sizeof msg, "the line is longer than %ld bytes", w->opts->max_body);
			reject(r.lineno, NULL, "INVALID_REQUEST", msg, 413, NULL);
			continue;
		}
		if (llorch_request_decode(line, len, w->n_vocab, &req, err) != LLORCH_REQ_OK) {
			reject_invalid(r.lineno, line, len, err);
			continue;
		}
		j = job_new(w, &req, err, &oom);
		if (!j) {
			if (oom)
				reject(r.lineno, req.job_id, "OUT_OF_MEMORY", "out of memory", 503, NULL);
			else
				reject_invalid(r.lineno, line, len, err);
			llorch_request_free(&req);
			continue;
		}
		j->ndjson = true;
		j->sink = &stdio_sink;
		snprintf(j->correlation_id, sizeof j->correlation_id, "line-%llu", r.lineno);
		sr = sched_submit(w->sched, j, true);
		if (sr == SUBMIT_DUPLICATE) {
			snprintf(msg, sizeof msg, "a job with this job_id is already running");
			reject(r.lineno, j->req.job_id, "DUPLICATE_JOB_ID", msg, 409, NULL);
			job_free(j);
		} else if (sr != SUBMIT_OK) {
			reject(r.lineno, j->req.job_id, "SHUTTING_DOWN", "the worker is shutting down",
					503, NULL);
			job_free(j);
			break;
		}
	}
	ndjson_reader_free(&r);
	free(err);
	sched_wait_idle(w->sched);
	/* the signal thread ends the process itself when a signal came first;
	 * else this wakes it to return */
	signals_wake();
	pthread_join(sig_thread, NULL);
	if (atomic_load(&out_failed) && !rc) {
		fprintf(stderr, "llorch-serve: write error on standard output\n");
		rc = EX_IOERR;
	}
	return rc;
}
