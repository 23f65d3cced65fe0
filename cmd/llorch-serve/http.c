/* The HTTP front end, on libmicrohttpd.
 *
 * Why libmicrohttpd: a mature C parser (we write none ourselves), every
 * client-controlled limit is a daemon option (connection timeout against
 * slowloris, connection count, per-connection memory that bounds the
 * headers), a pre-bound listening socket can be handed in (so we learn "port
 * in use" ourselves and report port 0's pick), and suspend/resume lets the
 * inference thread produce tokens while MHD's one polling thread sends them:
 * no thread per client, and /health never waits for a forward pass.
 *
 * A stream's life: the handler validates everything, tokenizes, submits the
 * job and queues a chunked response whose reader drains the stream's buffer
 * of SSE frames; with the buffer empty the reader suspends the connection and
 * the scheduler resumes it when it appends the next event. A suspended
 * connection is not polled, so MHD cannot see the client leave; the
 * scheduler asks (alive(): a MSG_PEEK on the socket reads 0 at EOF) every
 * 20 ms and between prompt batches. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>

#include "serve.h"

struct http_server {
	worker *w;
	struct MHD_Daemon *d;
	int fd;
	bool fd_owned;             /* closed by us after quiesce */
	int port;
	char uri[128];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open_streams;
};

/* The SSE side of one job. References: the response (until MHD frees it),
 * the scheduler (until release), the request (until completed). */
typedef struct {
	job *job;
	http_server *h;
	pthread_mutex_t mu;
	strbuf buf;
	size_t off;
	bool finished;             /* the terminal event is in buf */
	bool suspended;
	struct MHD_Connection *conn;
	int fd;                    /* -1 once the connection is done */
	int refs;
} stream;

enum route { R_NONE, R_HEALTH, R_METRICS, R_EXECUTE, R_CANCEL, R_SHUTDOWN };

typedef struct {
	char cid[132];
	enum route route;
	strbuf body;
	size_t discarded;          /* body bytes beyond the limit */
	stream *st;
} req_ctx;

/* ---- streams ---- */

static void stream_unref(stream *st)
{
	http_server *h = st->h;
	int left;

	pthread_mutex_lock(&st->mu);
	left = --st->refs;
	pthread_mutex_unlock(&st->mu);
	if (left > 0)
		return;
	job_free(st->job);
	strbuf_free(&st->buf);
	pthread_mutex_destroy(&st->mu);
	free(st);
	pthread_mutex_lock(&h->mu);
	h->open_streams--;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static void sse_emit(job *j, const char *type, const char *json, size_t len, bool terminal)
{
	stream *st = j->sink_data;

	pthread_mutex_lock(&st->mu);
	if (st->off == st->buf.len) {
		st->buf.len = 0;
		st->off = 0;
	}
	strbuf_printf(&st->buf, "event: %s\ndata: ", type);
	strbuf_append(&st->buf, json, len);
	strbuf_append(&st->buf, "\n\n", 2);
	if (terminal)
		st->finished = true;
	if (st->suspended) {
		st->suspended = false;
		MHD_resume_connection(st->conn);
	}
	pthread_mutex_unlock(&st->mu);
}

static bool sse_alive(job *j)
{
	stream *st = j->sink_data;
	bool alive = true;
	char c;

	pthread_mutex_lock(&st->mu);
	if (st->fd < 0) {
		alive = st->finished;
	} else {
		ssize_t n = recv(st->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			alive = false;
	}
	pthread_mutex_unlock(&st->mu);
	return alive;
}

static void sse_release(job *j)
{
	stream_unref(j->sink_data);
}

static const job_sink http_sink = {sse_emit, sse_alive, sse_release};

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	stream *st = cls;
	ssize_t n;

	(void)pos;
	pthread_mutex_lock(&st->mu);
	if (st->buf.failed) {
		pthread_mutex_unlock(&st->mu);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (st->off < st->buf.len) {
		size_t k = st->buf.len - st->off;

		if (k > max)
			k = max;
		memcpy(out, st->buf.p + st->off, k);
		st->off += k;
		n = (ssize_t)k;
	} else if (st->finished) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		/* nothing yet: sleep until the scheduler's next event */
		st->suspended = true;
		MHD_suspend_connection(st->conn);
		n = 0;
	}
	pthread_mutex_unlock(&st->mu);
	return n;
}

static void sse_free(void *cls)
{
	stream_unref(cls);
}

/* ---- answers ---- */

static enum MHD_Result answer_raw(struct MHD_Connection *c, const req_ctx *rc, unsigned status,
		const char *type, char *body, const char *hname, const char *hval)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!body)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Correlation-ID", rc->cid);
	if (hname)
		MHD_add_response_header(r, hname, hval);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer_json(struct MHD_Connection *c, const req_ctx *rc, unsigned status,
		char *body)
{
	return answer_raw(c, rc, status, "application/json", body, NULL, NULL);
}

static char *error_body(const char *code, const char *message, int retriable)
{
	strbuf b = {0};

	strbuf_printf(&b, "{\"error\":{\"code\":\"%s\",\"message\":", code);
	sb_json_str(&b, message, strlen(message));
	if (retriable >= 0)
		strbuf_printf(&b, ",\"retriable\":%s", retriable ? "true" : "false");
	strbuf_puts(&b, "}}");
	if (b.failed) {
		strbuf_free(&b);
		return NULL;
	}
	return b.p;
}

static enum MHD_Result answer_error(struct MHD_Connection *c, const req_ctx *rc, unsigned status,
		const char *code, const char *message, int retriable)
{
	slog(status >= 500 ? LLORCH_LOG_WARN : LLORCH_LOG_INFO, "error", "correlation_id", 's',
			rc->cid, "code", 's', code, "status", 'i', (int64_t)status, "message", 's', message,
			NULL);
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		return answer_raw(c, rc, status, "application/json",
				error_body(code, message, retriable), MHD_HTTP_HEADER_RETRY_AFTER, "1");
	return answer_json(c, rc, status, error_body(code, message, retriable));
}

/* ---- endpoints ---- */

static enum MHD_Result do_health(http_server *h, struct MHD_Connection *c, const req_ctx *rc)
{
	worker *w = h->w;
	int state = atomic_load(&w->state);
	int busy = 0, queued = 0;
	strbuf b = {0};

	if (state == WORKER_LOADING)
		return answer_json(c, rc, MHD_HTTP_SERVICE_UNAVAILABLE, strdup("{\"status\":\"loading\"}"));
	if (state == WORKER_DRAINING)
		return answer_json(c, rc, MHD_HTTP_SERVICE_UNAVAILABLE, strdup("{\"status\":\"draining\"}"));
	sched_counts(w->sched, &busy, &queued);
	strbuf_printf(&b, "{\"status\":\"healthy\",\"model_loaded\":true,\"vram_bytes\":0,"
		"\"memory_type\":\"cpu\",\"memory_architecture\":\"cpu\",\"memory_bytes\":%zu,"
		"\"model\":", w->memory_bytes);
	sb_json_str(&b, w->model_name, strlen(w->model_name));
	strbuf_printf(&b, ",\"vocab_size\":%d,\"context_length\":%d,\"capabilities\":[\"text-gen\"],"
		"\"protocol\":\"sse\",\"slots_total\":%ld,\"slots_busy\":%d,\"queue_depth\":%d,"
		"\"uptime_seconds\":%lld}", w->n_vocab, w->n_ctx, w->opts->slots, busy, queued,
		(long long)((now_ns() / 1000000 - w->started_ms) / 1000));
	if (b.failed) {
		strbuf_free(&b);
		return MHD_NO;
	}
	return answer_json(c, rc, MHD_HTTP_OK, b.p);
}

static enum MHD_Result do_metrics(http_server *h, struct MHD_Connection *c, const req_ctx *rc)
{
	return answer_raw(c, rc, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			metrics_render(h->w), NULL, NULL);
}

static void count_rejected(http_server *h)
{
	atomic_fetch_add(&h->w->metrics.requests_error, 1);
}

static enum MHD_Result do_execute(http_server *h, struct MHD_Connection *c, req_ctx *rc)
{
	worker *w = h->w;
	llorch_request req;
	llorch_request_errors *err;
	const union MHD_ConnectionInfo *ci;
	struct MHD_Response *r;
	stream *st;
	job *j;
	bool oom;
	submit_result sr;
	enum MHD_Result ret;

	if (atomic_load(&w->state) != WORKER_READY) {
		count_rejected(h);
		if (atomic_load(&w->state) == WORKER_LOADING)
			return answer_error(c, rc, MHD_HTTP_SERVICE_UNAVAILABLE, "LOADING",
					"the model is still loading", 1);
		return answer_error(c, rc, MHD_HTTP_SERVICE_UNAVAILABLE, "SHUTTING_DOWN",
				"the worker is shutting down", 1);
	}
	err = malloc(sizeof *err);
	if (!err)
		return MHD_NO;
	if (llorch_request_decode(rc->body.p ? rc->body.p : "", rc->body.len, w->n_vocab, &req, err)
			!= LLORCH_REQ_OK) {
		count_rejected(h);
		slog(LLORCH_LOG_INFO, "error", "correlation_id", 's', rc->cid, "code", 's',
				"INVALID_REQUEST", "status", 'i', (int64_t)llorch_request_http_status(err), NULL);
		ret = answer_json(c, rc, (unsigned)llorch_request_http_status(err),
				llorch_request_errors_json(err));
		free(err);
		return ret;
	}
	j = job_new(w, &req, err, &oom);
	if (!j) {
		llorch_request_free(&req);
		count_rejected(h);
		if (oom) {
			free(err);
			return answer_error(c, rc, MHD_HTTP_SERVICE_UNAVAILABLE, "OUT_OF_MEMORY",
					"out of memory", 1);
		}
		ret = answer_json(c, rc, (unsigned)llorch_request_http_status(err),
				llorch_request_errors_json(err));
		free(err);
		return ret;
	}
	free(err);
	st = calloc(1, sizeof *st);
	if (!st) {
		job_free(j);
		return MHD_NO;
	}
	pthread_mutex_init(&st->mu, NULL);
	st->job = j;
	st->h = h;
	st->conn = c;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	st->fd = ci ? ci->connect_fd : -1;
	st->refs = 3;
	snprintf(j->correlation_id, sizeof j->correlation_id, "%s", rc->cid);
	j->sink = &http_sink;
	j->sink_data = st;
	pthread_mutex_lock(&h->mu);
	h->open_streams++;
	pthread_mutex_unlock(&h->mu);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, st, sse_free);
	if (!r) {
		st->refs = 1;
		stream_unref(st);
		return MHD_NO;
	}
	sr = sched_submit(w->sched, j, false);
	if (sr != SUBMIT_OK) {
		char msg[400];
		const char *code = sr == SUBMIT_DUPLICATE ? "DUPLICATE_JOB_ID" :
			sr == SUBMIT_DRAINING ? "SHUTTING_DOWN" : "ALL_SLOTS_BUSY";
		unsigned status = sr == SUBMIT_DUPLICATE ? MHD_HTTP_CONFLICT :
			MHD_HTTP_SERVICE_UNAVAILABLE;

		if (sr == SUBMIT_DUPLICATE)
			snprintf(msg, sizeof msg, "a job with job_id '%.300s' is already queued or running",
					j->req.job_id);
		else if (sr == SUBMIT_DRAINING)
			snprintf(msg, sizeof msg, "the worker is shutting down");
		else
			snprintf(msg, sizeof msg, "all %ld slots are busy and %ld requests are queued",
					w->opts->slots, w->opts->queue);
		/* the scheduler never saw it: the response holds the last reference */
		st->refs = 1;
		MHD_destroy_response(r);
		count_rejected(h);
		return answer_error(c, rc, status, code, msg, sr != SUBMIT_DUPLICATE);
	}
	rc->st = st;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Correlation-ID", rc->cid);
	/* proxies (nginx) must not buffer the stream */
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	if (ret != MHD_YES)
		atomic_store(&j->cancel, CANCEL_DISCONNECT);
	return ret;
}

static enum MHD_Result do_cancel(http_server *h, struct MHD_Connection *c, const req_ctx *rc)
{
	json_error_t je;
	json_t *root = json_loadb(rc->body.p ? rc->body.p : "", rc->body.len,
			JSON_REJECT_DUPLICATES, &je);
	const json_t *id;
	char msg[320];
	strbuf b = {0};
	bool found = false;

	if (!root) {
		snprintf(msg, sizeof msg, "the body is not valid JSON: %s (line %d, column %d)",
				je.text, je.line, je.column);
		return answer_error(c, rc, MHD_HTTP_BAD_REQUEST, "INVALID_REQUEST", msg, -1);
	}
	id = json_object_get(root, "job_id");
	if (!json_is_object(root) || !json_is_string(id) || json_string_length(id) == 0) {
		const char *what = !json_is_object(root) ? "the body must be a JSON object" :
			!id ? "job_id is required" : !json_is_string(id) ? "job_id must be a string" :
			"job_id must not be empty";

		json_decref(root);
		if (what[0] == 't')
			return answer_error(c, rc, MHD_HTTP_UNPROCESSABLE_CONTENT, "INVALID_REQUEST", what, -1);
		strbuf_puts(&b, "{\"errors\":[{\"field\":\"job_id\",\"constraint\":");
		strbuf_puts(&b, !id ? "\"required\"" : !json_is_string(id) ? "\"type(string)\"" : "\"non_empty\"");
		strbuf_puts(&b, ",\"message\":");
		sb_json_str(&b, what, strlen(what));
		strbuf_puts(&b, "}]}");
		return answer_json(c, rc, json_is_string(id) ? MHD_HTTP_BAD_REQUEST :
				MHD_HTTP_UNPROCESSABLE_CONTENT, b.failed ? NULL : b.p);
	}
	if (h->w->sched)
		found = sched_cancel(h->w->sched, json_string_value(id), CANCEL_CLIENT);
	slog(LLORCH_LOG_INFO, "cancel", "job_id", 's', json_string_value(id), "correlation_id", 's',
			rc->cid, "found", 's', found ? "true" : "false", NULL);
	strbuf_puts(&b, "{\"status\":\"accepted\",\"job_id\":");
	sb_json_str(&b, json_string_value(id), json_string_length(id));
	strbuf_printf(&b, ",\"found\":%s}", found ? "true" : "false");
	json_decref(root);
	return answer_json(c, rc, MHD_HTTP_ACCEPTED, b.failed ? NULL : b.p);
}

static enum MHD_Result do_shutdown(struct MHD_Connection *c, const req_ctx *rc)
{
	enum MHD_Result ret = answer_json(c, rc, MHD_HTTP_ACCEPTED,
			strdup("{\"status\":\"shutting_down\"}"));

	slog(LLORCH_LOG_INFO, "shutdown", "correlation_id", 's', rc->cid, "reason", 's',
			"POST /shutdown", NULL);
	/* the main thread waits for it: the same drain as SIGTERM */
	signals_request_shutdown();
	return ret;
}

/* ---- request plumbing ---- */

static bool valid_correlation_id(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		char ch = s[n];

		if (n >= 128 || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
				(ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return n > 0;
}

/* Compares in time that depends only on the lengths, not on where the
 * first difference is. */
static bool ct_equal(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	unsigned char diff = (unsigned char)(na != nb);

	for (size_t i = 0; i < nb; i++)
		diff |= (unsigned char)((i < na ? (unsigned char)a[i] : 0) ^ (unsigned char)b[i]);
	return diff == 0;
}

static bool authorized(http_server *h, struct MHD_Connection *c)
{
	const char *key = h->w->opts->api_key;
	const char *got;
	char want[600];

	if (!key)
		return true;
	got = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	snprintf(want, sizeof want, "Bearer %s", key);
	return got && ct_equal(got, want);
}

static bool json_content_type(struct MHD_Connection *c)
{
	const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen("application/json");

	return t && !strncasecmp(t, "application/json", n) &&
		(t[n] == '\0' || t[n] == ';' || t[n] == ' ' || t[n] == '\t');
}

static enum route route_of(const char *url)
{
	if (!strcmp(url, "/health"))
		return R_HEALTH;
	if (!strcmp(url, "/metrics"))
		return R_METRICS;
	if (!strcmp(url, "/execute"))
		return R_EXECUTE;
	if (!strcmp(url, "/cancel"))
		return R_CANCEL;
	if (!strcmp(url, "/shutdown"))
		return R_SHUTDOWN;
	return R_NONE;
}

/* Everything that can be judged from the request line and the headers. */
static enum MHD_Result on_headers(http_server *h, struct MHD_Connection *c, req_ctx *rc,
		const char *url, const char *method, bool *answered)
{
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	const char *len;
	char msg[160];

	*answered = true;
	rc->route = route_of(url);
	if (rc->route == R_NONE) {
		snprintf(msg, sizeof msg, "no such endpoint: %.100s", url);
		return answer_error(c, rc, MHD_HTTP_NOT_FOUND, "NOT_FOUND", msg, -1);
	}
	if (rc->route == R_HEALTH || rc->route == R_METRICS) {
		if (!get)
			return answer_raw(c, rc, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
					error_body("METHOD_NOT_ALLOWED", "use GET", -1), "Allow", "GET, HEAD");
	} else if (strcmp(method, "POST")) {
		return answer_raw(c, rc, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
				error_body("METHOD_NOT_ALLOWED", "use POST", -1), "Allow", "POST");
	}
	if (rc->route != R_HEALTH && !authorized(h, c)) {
		if (rc->route == R_EXECUTE)
			count_rejected(h);
		return answer_raw(c, rc, MHD_HTTP_UNAUTHORIZED, "application/json",
				error_body("UNAUTHORIZED", "missing or wrong API key (Authorization: Bearer KEY)", -1),
				MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	}
	/* GET routes and /shutdown answer once the request is read whole, so
	 * that the connection can be kept alive */
	if (rc->route == R_HEALTH || rc->route == R_METRICS || rc->route == R_SHUTDOWN) {
		*answered = false;
		return MHD_YES;
	}
	if (!json_content_type(c)) {
		if (rc->route == R_EXECUTE)
			count_rejected(h);
		return answer_error(c, rc, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "INVALID_REQUEST",
				"the body must be Content-Type: application/json", -1);
	}
	len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len && MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return answer_error(c, rc, MHD_HTTP_BAD_REQUEST, "INVALID_REQUEST",
				"Content-Length and Transfer-Encoding together are ambiguous", -1);
	if (len && strtoull(len, NULL, 10) > (unsigned long long)h->w->opts->max_body) {
		if (rc->route == R_EXECUTE)
			count_rejected(h);
		snprintf(msg, sizeof msg, "the body must be at most %ld bytes", h->w->opts->max_body);
		return answer_error(c, rc, MHD_HTTP_CONTENT_TOO_LARGE, "INVALID_REQUEST", msg, -1);
	}
	*answered = false;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
		const char *method, const char *version, const char *upload, size_t *upload_size,
		void **con_cls)
{
	http_server *h = cls;
	req_ctx *rc = *con_cls;
	size_t limit = (size_t)h->w->opts->max_body;
	char msg[160];

	(void)version;
	if (!rc) {
		const char *cid;
		bool answered;
		enum MHD_Result ret;

		rc = calloc(1, sizeof *rc);
		if (!rc)
			return MHD_NO;
		*con_cls = rc;
		cid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Correlation-ID");
		if (valid_correlation_id(cid))
			snprintf(rc->cid, sizeof rc->cid, "%s", cid);
		else
			random_hex_id(rc->cid);
		ret = on_headers(h, c, rc, url, method, &answered);
		if (answered)
			return ret;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (rc->discarded || rc->body.len + n > limit) {
			rc->discarded += n;
			/* a client that keeps sending far past the limit is cut off */
			return rc->discarded > 16 * limit ? MHD_NO : MHD_YES;
		}
		strbuf_append(&rc->body, upload, n);
		return rc->body.failed ? MHD_NO : MHD_YES;
	}
	if (rc->discarded) {
		if (rc->route == R_EXECUTE)
			count_rejected(h);
		snprintf(msg, sizeof msg, "the body must be at most %zu bytes", limit);
		return answer_error(c, rc, MHD_HTTP_CONTENT_TOO_LARGE, "INVALID_REQUEST", msg, -1);
	}
	switch (rc->route) {
	case R_HEALTH: return do_health(h, c, rc);
	case R_METRICS: return do_metrics(h, c, rc);
	case R_SHUTDOWN: return do_shutdown(c, rc);
	case R_EXECUTE: return do_execute(h, c, rc);
	default: return do_cancel(h, c, rc);
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
		enum MHD_RequestTerminationCode toe)
{
	req_ctx *rc = *con_cls;
	stream *st;

	(void)cls;
	(void)c;
	if (!rc)
		return;
	*con_cls = NULL;
	st = rc->st;
	if (st) {
		bool finished;

		pthread_mutex_lock(&st->mu);
		st->fd = -1;
		finished = st->finished;
		pthread_mutex_unlock(&st->mu);
		if (!finished || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
			int none = CANCEL_NONE;

			if (atomic_compare_exchange_strong(&st->job->cancel, &none, CANCEL_DISCONNECT))
				slog(LLORCH_LOG_INFO, "cancel", "job_id", 's', st->job->req.job_id,
						"correlation_id", 's', rc->cid, "reason", 's', "client disconnected",
						NULL);
		}
		stream_unref(st);
	}
	strbuf_free(&rc->body);
	free(rc);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	slog(LLORCH_LOG_DEBUG, "http", "message", 's', msg, NULL);
}

/* ---- the listening socket ---- */

static void describe(http_server *h, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
		h->port = ntohs(a->sin6_port);
		snprintf(h->uri, sizeof h->uri, "http://[%s]:%d", host, h->port);
	} else {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
		h->port = ntohs(a->sin_port);
		snprintf(h->uri, sizeof h->uri, "http://%s:%d", host, h->port);
	}
}

static int bind_listen(http_server *h, const serve_opts *o)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char port[16];
	int rc, err = 0;

	snprintf(port, sizeof port, "%ld", o->port);
	rc = getaddrinfo(o->host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "llorch-serve: --host %s: %s\n", o->host, gai_strerror(rc));
		return EX_USAGE;
	}
	h->fd = -1;
	for (ai = res; ai; ai = ai->ai_next) {
		int one = 1;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				ai->ai_protocol);

		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) {
			h->fd = fd;
			break;
		}
		err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (h->fd < 0) {
		fprintf(stderr, "llorch-serve: cannot listen on %s port %ld: %s\n", o->host, o->port,
				strerror(err));
		slog(LLORCH_LOG_ERROR, "error", "stage", 's', "listen", "message", 's', strerror(err),
				NULL);
		return err == EADDRINUSE ? EX_TEMPFAIL : err == EACCES ? EX_NOPERM : EX_OSERR;
	}
	h->fd_owned = true;
	getsockname(h->fd, (struct sockaddr *)&ss, &sl);
	describe(h, &ss);
	return 0;
}

static int adopt_listen_fd(http_server *h, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int acc = 0;
	socklen_t al = sizeof acc;

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) != 0 || !acc ||
			getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
			(ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
		fprintf(stderr, "llorch-serve: --listen-fd %d: not a listening TCP socket\n", fd);
		return EX_USAGE;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	h->fd = fd;
	h->fd_owned = true;
	describe(h, &ss);
	return 0;
}

int http_start(worker *w, http_server **out)
{
	const serve_opts *o = w->opts;
	http_server *h = calloc(1, sizeof *h);
	int rc;

	*out = NULL;
	if (!h)
		return EX_OSERR;
	h->w = w;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	rc = o->listen_fd >= 0 ? adopt_listen_fd(h, (int)o->listen_fd) : bind_listen(h, o);
	if (rc) {
		http_stop(h);
		return rc;
	}
	h->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
			MHD_OPTION_LISTEN_SOCKET, h->fd,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->idle_timeout,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)o->max_header,
			MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
			MHD_OPTION_END);
	if (!h->d) {
		fprintf(stderr, "llorch-serve: cannot start the HTTP server\n");
		http_stop(h);
		return EX_OSERR;
	}
	*out = h;
	return 0;
}

const char *http_uri(const http_server *h)
{
	return h->uri;
}

int http_port(const http_server *h)
{
	return h->port;
}

void http_quiesce(http_server *h)
{
	if (!h || !h->d || !h->fd_owned)
		return;
	if (MHD_quiesce_daemon(h->d) >= 0) {
		close(h->fd);
		h->fd_owned = false;
	}
}

void http_wait_streams(http_server *h, int64_t ms)
{
	struct timespec ts;

	if (!h)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&h->mu);
	while (h->open_streams > 0)
		if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&h->mu);
}

void http_stop(http_server *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	if (h->fd_owned && h->fd >= 0)
		close(h->fd);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}
