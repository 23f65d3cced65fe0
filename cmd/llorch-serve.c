/* llorch-serve: the inference worker. One process, one model kept in memory,
 * generation served three ways: HTTP with Server-Sent Events (the worker
 * contract a pool manager spawns), NDJSON on stdin/stdout (--stdio, batch or
 * behind socat), and one prompt to plain text (-p). See llorch-serve(1). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <curl/curl.h>

#include "common/cli.h"
#include "llorch-serve/serve.h"

static int load(worker *w, bool with_sched)
{
	int rc = worker_load(w);

	if (rc)
		return rc;
	if (with_sched) {
		rc = sched_new(w, &w->sched);
		if (rc)
			return rc < 0 ? EX_OSERR : rc;
		if (sched_start(w->sched) != 0) {
			fprintf(stderr, "llorch-serve: cannot start the inference thread\n");
			return EX_OSERR;
		}
	}
	slog(LLORCH_LOG_INFO, "model_load_complete", "model", 's', w->model_name,
			"memory_bytes", 'i', (int64_t)w->memory_bytes, "n_ctx", 'i', (int64_t)w->n_ctx,
			"load_ms", 'i', now_ns() / 1000000 - w->started_ms, NULL);
	return 0;
}

static void print_ready(const worker *w, const http_server *h)
{
	strbuf b = {0};

	strbuf_puts(&b, "{\"event\":\"ready\",\"worker_id\":");
	sb_json_str(&b, w->opts->worker_id, strlen(w->opts->worker_id));
	strbuf_puts(&b, ",\"uri\":");
	sb_json_str(&b, http_uri(h), strlen(http_uri(h)));
	strbuf_printf(&b, ",\"port\":%d}\n", http_port(h));
	if (!b.failed) {
		fputs(b.p, stdout);
		fflush(stdout);
	}
	strbuf_free(&b);
}

static int serve_http(worker *w)
{
	const serve_opts *o = w->opts;
	http_server *h = NULL;
	int rc, sig;

	slog(LLORCH_LOG_INFO, "startup", "version", 's', LLORCH_VERSION, "pid", 'i',
			(int64_t)getpid(), "host", 's', o->host, "port", 'i', (int64_t)o->port,
			"slots", 'i', (int64_t)o->slots, "queue", 'i', (int64_t)o->queue,
			"model_path", 's', o->model_path, NULL);
	/* the server first, so that /health can say "loading" while we load */
	rc = http_start(w, &h);
	if (rc)
		return rc;
	rc = load(w, true);
	if (rc) {
		http_stop(h);
		sched_free(w->sched);
		return rc;
	}
	atomic_store(&w->state, WORKER_READY);
	rc = callback_send(w, http_uri(h));
	if (rc) {
		atomic_store(&w->state, WORKER_DRAINING);
		http_quiesce(h);
		sched_drain(w->sched, 0);
		http_wait_streams(h, 1000);
		http_stop(h);
		sched_free(w->sched);
		return rc;
	}
	print_ready(w, h);
	slog(LLORCH_LOG_INFO, "ready", "uri", 's', http_uri(h), "port", 'i', (int64_t)http_port(h),
			NULL);

	sig = signals_wait();
	slog(LLORCH_LOG_INFO, "shutdown", "signal", 's', signals_name(sig),
			"grace_ms", 'i', (int64_t)(o->shutdown_timeout * 1000), NULL);
	atomic_store(&w->state, WORKER_DRAINING);
	http_quiesce(h);
	sched_drain(w->sched, (int64_t)(o->shutdown_timeout * 1000));
	/* every job has its terminal event; give the streams a moment to send it */
	http_wait_streams(h, 2000);
	http_stop(h);
	sched_free(w->sched);
	w->sched = NULL;
	slog(LLORCH_LOG_INFO, "shutdown", "stage", 's', "complete", NULL);
	return 0;
}

int main(int argc, char **argv)
{
	serve_opts o;
	worker w = {0};
	int rc;

	cli_init("llorch-serve");
	serve_opts_parse(&o, argc, argv);
	/* one-shot keeps the default SIGINT: Ctrl-C just stops it */
	if (o.prompt)
		signal(SIGPIPE, SIG_IGN);
	else if (signals_install() != 0) {
		fprintf(stderr, "llorch-serve: cannot install signal handlers\n");
		return EX_OSERR;
	}

	w.opts = &o;
	w.started_ms = now_ns() / 1000000;
	atomic_init(&w.state, WORKER_LOADING);
	/* one-shot users read text: only warnings and errors as JSON logs */
	slog_init(o.worker_id, o.prompt && o.log_level < LLORCH_LOG_WARN ? LLORCH_LOG_WARN : o.log_level);
	llorch_set_log(slog_library, NULL);

	if (o.prompt) {
		rc = load(&w, false);
		if (!rc)
			rc = oneshot_run(&w);
	} else if (o.stdio) {
		rc = load(&w, true);
		if (!rc) {
			atomic_store(&w.state, WORKER_READY);
			rc = stdio_run(&w);
		}
		sched_free(w.sched);
		if (!rc)
			rc = cli_close_stdout();
	} else {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = serve_http(&w);
		curl_global_cleanup();
		if (!rc)
			rc = cli_close_stdout();
	}
	worker_free(&w);
	return rc;
}
