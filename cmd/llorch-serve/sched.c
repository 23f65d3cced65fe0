/* The scheduler: one inference thread owns every slot (a KV cache over the
 * one shared model). Each round it admits queued jobs into free slots and
 * prefills them, then samples one token for every running job and evaluates
 * all of their next tokens in one batched decode step, so that the weights
 * are read once per step however many slots run.
 *
 * Front ends talk to it only through sched_submit / sched_cancel and the
 * job's sink; the lock guards the queue, the registry of live jobs and the
 * slot bookkeeping, never a forward pass. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* How often the scheduler asks a sink whether its client is still there. */
#define ALIVE_CHECK_NS (20 * 1000000LL)

typedef struct {
	sched *s;
	int index;
	llorch_ctx *ctx;
	job *job;                  /* NULL: free */
	llorch_gen *gen;
	bool fresh;                /* admitted, not yet started */
	int32_t events;            /* token events sent: the next "i" */
	int64_t start_ns;
	int64_t alive_checked_ns;
	strbuf text;                 /* generated text, with --log-prompts */
} slot;

struct sched {
	worker *w;
	pthread_mutex_t mu;
	pthread_cond_t work;       /* a job arrived, or draining/quitting */
	pthread_cond_t space;      /* the queue shrank, or everything finished */
	slot *slots;
	int n_slots;
	int busy;
	job *q_head, *q_tail;
	int q_len, q_max;
	job *registry;             /* queued and running jobs */
	int live;                  /* jobs whose terminal event is not out yet */
	bool draining, quit;
	int64_t cancel_at_ns;      /* draining: cancel what still runs after this */
	bool thread_started;
	pthread_t thread;
	llorch_gen **ready;        /* scratch: generations to evaluate this step */
};

/* ---- events ---- */

static void event_head(strbuf *b, const job *j, const char *type)
{
	strbuf_printf(b, "{\"type\":\"%s\"", type);
	if (j->ndjson) {
		strbuf_puts(b, ",\"job_id\":");
		sb_json_str(b, j->req.job_id, strlen(j->req.job_id));
	}
}

static void emit(job *j, const char *type, strbuf *b, bool terminal)
{
	strbuf_puts(b, "}");
	if (!b->failed)
		j->sink->emit(j, type, b->p, b->len, terminal);
	else if (terminal)
		j->sink->emit(j, "error", "{\"type\":\"error\",\"code\":\"OUT_OF_MEMORY\","
				"\"message\":\"out of memory\",\"retriable\":true}", 76, true);
	strbuf_free(b);
}

static void emit_started(sched *s, job *j)
{
	strbuf b = {0};
	char ts[32];

	format_utc(ts, sizeof ts, false);
	strbuf_puts(&b, "{\"type\":\"started\",\"job_id\":");
	sb_json_str(&b, j->req.job_id, strlen(j->req.job_id));
	strbuf_puts(&b, ",\"model\":");
	sb_json_str(&b, s->w->model_name, strlen(s->w->model_name));
	strbuf_printf(&b, ",\"started_at\":\"%s\",\"seed\":%" PRIu64 ",\"prompt_tokens\":%zu",
			ts, j->seed, j->n_tokens);
	emit(j, "started", &b, false);
}

static void emit_token(job *j, const char *text, size_t len, int32_t i)
{
	strbuf b = {0};

	event_head(&b, j, "token");
	strbuf_puts(&b, ",\"t\":");
	sb_json_str(&b, text, len);
	strbuf_printf(&b, ",\"i\":%d", i);
	emit(j, "token", &b, false);
}

/* The terminal events are built first and sent by retire(), after the job's
 * slot and id are free again: a client that has read its end may at once
 * send the next job (even with the same id) and find room for it. */
static void build_end(job *j, const llorch_gen_result *r, strbuf *ev)
{
	strbuf b = {0};

	event_head(&b, j, "end");
	strbuf_printf(&b, ",\"tokens_out\":%d,\"decode_time_ms\":%" PRId64 ",\"stop_reason\":\"%s\"",
			r->tokens_out, r->decode_ns / 1000000, llorch_stop_reason_str(r->stop_reason));
	if (r->stop_reason == LLORCH_STOP_SEQUENCE && r->stop_index >= 0 &&
			(size_t)r->stop_index < j->req.n_stop) {
		const char *m = j->req.stop[r->stop_index];

		strbuf_puts(&b, ",\"stop_sequence_matched\":");
		sb_json_str(&b, m, strlen(m));
	}
	*ev = b;
}

static void build_error(job *j, const char *code, const char *message, bool retriable,
		int32_t tokens_out, strbuf *ev)
{
	strbuf b = {0};

	event_head(&b, j, "error");
	strbuf_printf(&b, ",\"code\":\"%s\",\"message\":", code);
	sb_json_str(&b, message, strlen(message));
	strbuf_printf(&b, ",\"retriable\":%s", retriable ? "true" : "false");
	if (tokens_out >= 0)
		strbuf_printf(&b, ",\"tokens_out\":%d", tokens_out);
	*ev = b;
}

/* ---- bookkeeping ---- */

/* The sink says the client is gone: cancel, once, and say so. */
static void mark_disconnected(job *j)
{
	int none = CANCEL_NONE;

	if (atomic_compare_exchange_strong(&j->cancel, &none, CANCEL_DISCONNECT))
		slog(LLORCH_LOG_INFO, "cancel", "job_id", 's', j->req.job_id,
				"correlation_id", 's', j->correlation_id[0] ? j->correlation_id : NULL,
				"reason", 's', "client disconnected", NULL);
}

static void registry_remove_locked(sched *s, job *j)
{
	for (job **p = &s->registry; *p; p = &(*p)->reg_next)
		if (*p == j) {
			*p = j->reg_next;
			break;
		}
}

typedef enum { OUT_SUCCESS, OUT_ERROR, OUT_CANCELLED, OUT_TIMEOUT } outcome;

static const char *const outcome_names[] = {"success", "error", "cancelled", "timeout"};

/* The job has ended: count it, log it, free its slot (sl, when it had one)
 * and its id, then send its terminal event ev and hand it back. */
static void retire(sched *s, job *j, slot *sl, outcome oc, const llorch_gen_result *r,
		const char *type, strbuf *ev)
{
	int64_t start_ns = sl ? sl->start_ns : 0;
	const strbuf *text = sl ? &sl->text : NULL;

	serve_metrics *m = &s->w->metrics;
	int64_t end = now_ns();
	int64_t ms = start_ns ? (end - start_ns) / 1000000 : 0;
	int32_t out = r ? r->tokens_out : 0;

	switch (oc) {
	case OUT_SUCCESS: atomic_fetch_add(&m->requests_success, 1); break;
	case OUT_ERROR: atomic_fetch_add(&m->requests_error, 1); break;
	case OUT_CANCELLED: atomic_fetch_add(&m->requests_cancelled, 1); break;
	case OUT_TIMEOUT: atomic_fetch_add(&m->requests_timeout, 1); break;
	}
	if (start_ns) {
		atomic_fetch_add(&m->tokens_generated, (uint64_t)(out > 0 ? out : 0));
		metrics_observe_ms(m, (uint64_t)ms);
	}
	slog(LLORCH_LOG_INFO, "execute_end", "job_id", 's', j->req.job_id,
			"correlation_id", 's', j->correlation_id[0] ? j->correlation_id : NULL,
			"outcome", 's', outcome_names[oc],
			"stop_reason", 's', r ? llorch_stop_reason_str(r->stop_reason) : NULL,
			"prompt_tokens", 'i', (int64_t)j->n_tokens,
			"cached_tokens", 'i', r ? (int64_t)r->cached_tokens : (int64_t)0,
			"tokens_out", 'i', (int64_t)out,
			"duration_ms", 'i', ms,
			"decode_ms", 'i', r ? r->decode_ns / 1000000 : (int64_t)0,
			"tokens_per_second", 'f', r && r->decode_ns > 0 ? out * 1e9 / (double)r->decode_ns : 0.0,
			"text", 's', text && text->p ? text->p : NULL, NULL);
	pthread_mutex_lock(&s->mu);
	registry_remove_locked(s, j);
	if (sl) {
		sl->job = NULL;
		sl->fresh = false;
		s->busy--;
	}
	pthread_cond_broadcast(&s->space);
	pthread_mutex_unlock(&s->mu);
	emit(j, type, ev, true);
	j->sink->release(j);
	/* only now may a drain that waits for every terminal event return */
	pthread_mutex_lock(&s->mu);
	s->live--;
	pthread_cond_broadcast(&s->space);
	pthread_mutex_unlock(&s->mu);
}

static const char *cancel_message(int why)
{
	return why == CANCEL_SHUTDOWN ? "the worker is shutting down" :
		why == CANCEL_DISCONNECT ? "the client disconnected" : "cancelled by request";
}

/* Ends a job that never reached a slot. */
static void drop_unstarted(sched *s, job *j)
{
	int why = atomic_load(&j->cancel);
	strbuf ev;

	if (why == CANCEL_NONE && j->deadline_ns && now_ns() >= j->deadline_ns) {
		build_error(j, "TIMEOUT", "the job's deadline passed while it waited for a slot",
				false, 0, &ev);
		retire(s, j, NULL, OUT_TIMEOUT, NULL, "error", &ev);
		return;
	}
	build_error(j, "CANCELLED", cancel_message(why), why == CANCEL_SHUTDOWN, 0, &ev);
	retire(s, j, NULL, OUT_CANCELLED, NULL, "error", &ev);
}

static bool unstartable(const job *j, int64_t now)
{
	return atomic_load(&j->cancel) != CANCEL_NONE || (j->deadline_ns && now >= j->deadline_ns);
}

/* Takes out of the queue the jobs that will never run (cancelled, client
 * gone, deadline passed) onto *dead; the caller ends them unlocked. */
static void sweep_queue_locked(sched *s, job **dead, int64_t now, bool check_alive)
{
	job **p = &s->q_head, *prev = NULL;

	while (*p) {
		job *j = *p;

		if (check_alive && atomic_load(&j->cancel) == CANCEL_NONE && !j->sink->alive(j))
			mark_disconnected(j);
		if (unstartable(j, now)) {
			*p = j->next;
			s->q_len--;
			j->next = *dead;
			*dead = j;
			continue;
		}
		prev = j;
		p = &j->next;
	}
	s->q_tail = prev;
}

static void admit_locked(sched *s)
{
	for (int i = 0; i < s->n_slots && s->q_head; i++) {
		slot *sl = &s->slots[i];
		job *j;

		if (sl->job)
			continue;
		j = s->q_head;
		s->q_head = j->next;
		if (!s->q_head)
			s->q_tail = NULL;
		s->q_len--;
		j->next = NULL;
		sl->job = j;
		sl->fresh = true;
		s->busy++;
		pthread_cond_broadcast(&s->space);
	}
}

/* After retire(): the generation and the logged text go too. */
static void free_slot(slot *sl)
{
	llorch_gen_free(sl->gen);
	sl->gen = NULL;
	strbuf_free(&sl->text);
}

/* ---- running jobs ---- */

static bool draining_expired(sched *s)
{
	bool expired;

	pthread_mutex_lock(&s->mu);
	expired = s->draining && now_ns() >= s->cancel_at_ns;
	pthread_mutex_unlock(&s->mu);
	return expired;
}

/* Polled by the forward pass between layers and prompt batches, so that a
 * cancel, a deadline or a departed client also stops a long prefill. */
static bool slot_abort(void *user)
{
	slot *sl = user;
	job *j = sl->job;
	int64_t now;

	if (!j)
		return false;
	if (atomic_load(&j->cancel) != CANCEL_NONE)
		return true;
	now = now_ns();
	if (j->deadline_ns && now >= j->deadline_ns)
		return true;
	if (now - sl->alive_checked_ns >= ALIVE_CHECK_NS) {
		sl->alive_checked_ns = now;
		if (!j->sink->alive(j)) {
			mark_disconnected(j);
			return true;
		}
		if (draining_expired(sl->s)) {
			atomic_store(&j->cancel, CANCEL_SHUTDOWN);
			return true;
		}
	}
	return false;
}

static void end_cancelled(sched *s, slot *sl, const llorch_gen_result *r)
{
	job *j = sl->job;
	int why = atomic_load(&j->cancel);
	strbuf ev;

	if (why == CANCEL_NONE && j->deadline_ns && now_ns() >= j->deadline_ns) {
		build_error(j, "TIMEOUT", "the job's deadline passed", false, r->tokens_out, &ev);
		retire(s, j, sl, OUT_TIMEOUT, r, "error", &ev);
		return;
	}
	build_error(j, "CANCELLED", cancel_message(why), why == CANCEL_SHUTDOWN, r->tokens_out, &ev);
	retire(s, j, sl, OUT_CANCELLED, r, "error", &ev);
}

static void end_failed(sched *s, slot *sl, llorch_status st, const llorch_gen_result *r)
{
	char msg[512];
	strbuf ev;

	snprintf(msg, sizeof msg, "inference failed: %s",
			*llorch_last_error() ? llorch_last_error() : llorch_status_str(st));
	slog(LLORCH_LOG_ERROR, "error", "job_id", 's', sl->job->req.job_id,
			"correlation_id", 's', sl->job->correlation_id[0] ? sl->job->correlation_id : NULL,
			"message", 's', msg, NULL);
	build_error(sl->job, st == LLORCH_E_NOMEM ? "OUT_OF_MEMORY" : "INFERENCE_FAILED", msg,
			st == LLORCH_E_NOMEM, r ? r->tokens_out : 0, &ev);
	retire(s, sl->job, sl, OUT_ERROR, r, "error", &ev);
}

static void finish(sched *s, slot *sl)
{
	llorch_gen_result r;
	strbuf ev;

	llorch_gen_result_get(sl->gen, &r);
	switch (r.stop_reason) {
	case LLORCH_STOP_CANCELLED:
		end_cancelled(s, sl, &r);
		break;
	case LLORCH_STOP_TIMEOUT:
		build_error(sl->job, "TIMEOUT", "the job's deadline passed", false, r.tokens_out, &ev);
		retire(s, sl->job, sl, OUT_TIMEOUT, &r, "error", &ev);
		break;
	default:
		build_end(sl->job, &r, &ev);
		retire(s, sl->job, sl, OUT_SUCCESS, &r, "end", &ev);
		break;
	}
	free_slot(sl);
}

static void start_job(sched *s, slot *sl)
{
	job *j = sl->job;
	const char *stop[LLORCH_REQ_MAX_STOP];
	llorch_gen_params p;
	llorch_status st;
	int64_t now = now_ns();
	char seed[24];

	snprintf(seed, sizeof seed, "%" PRIu64, j->seed);
	sl->fresh = false;
	sl->events = 0;
	sl->start_ns = now;
	sl->alive_checked_ns = now;
	for (size_t i = 0; i < j->req.n_stop; i++)
		stop[i] = j->req.stop[i];
	p = request_gen_params(&j->req, j->seed, stop);
	p.deadline_ns = j->deadline_ns;
	emit_started(s, j);
	atomic_fetch_add(&s->w->metrics.tokens_in, j->n_tokens);
	slog(LLORCH_LOG_INFO, "execute_start", "job_id", 's', j->req.job_id,
			"correlation_id", 's', j->correlation_id[0] ? j->correlation_id : NULL,
			"slot", 'i', (int64_t)sl->index, "prompt_tokens", 'i', (int64_t)j->n_tokens,
			"max_tokens", 'i', (int64_t)j->req.max_tokens, "seed", 's', seed,
			"queued_ms", 'i', (now - j->accepted_ns) / 1000000,
			"prompt", 's', s->w->opts->log_prompts ? j->req.prompt : NULL, NULL);
	if (!s->w->opts->prompt_cache)
		llorch_ctx_truncate(sl->ctx, 0);
	st = llorch_gen_start_tokens(sl->ctx, j->tokens, j->n_tokens, &p, &sl->gen);
	if (st == LLORCH_OK)
		return;
	llorch_gen_free(sl->gen);
	sl->gen = NULL;
	if (st == LLORCH_E_CANCELLED || st == LLORCH_E_TIMEOUT) {
		llorch_gen_result r = {.stop_reason = LLORCH_STOP_CANCELLED, .tokens_out = 0};

		/* the partly filled cache is no prefix of anything: forget it */
		llorch_ctx_truncate(sl->ctx, 0);
		end_cancelled(s, sl, &r);
	} else {
		end_failed(s, sl, st, NULL);
	}
	free_slot(sl);
}

/* One token for every running job, then one batched decode step. */
static void step(sched *s)
{
	int n_ready = 0;
	llorch_status st;
	int64_t now = now_ns();
	bool expired = draining_expired(s);

	for (int i = 0; i < s->n_slots; i++) {
		slot *sl = &s->slots[i];
		llorch_gen_token tok;
		bool done = false;
		job *j = sl->job;

		if (!sl->gen)
			continue;
		if (expired && atomic_load(&j->cancel) == CANCEL_NONE)
			atomic_store(&j->cancel, CANCEL_SHUTDOWN);
		if (atomic_load(&j->cancel) == CANCEL_NONE && now - sl->alive_checked_ns >= ALIVE_CHECK_NS) {
			sl->alive_checked_ns = now;
			if (!j->sink->alive(j))
				mark_disconnected(j);
		}
		if (atomic_load(&j->cancel) != CANCEL_NONE)
			llorch_gen_cancel(sl->gen);
		st = llorch_gen_sample(sl->gen, &tok, &done);
		if (st != LLORCH_OK) {
			llorch_gen_result r;

			llorch_gen_result_get(sl->gen, &r);
			end_failed(s, sl, st, &r);
			free_slot(sl);
			continue;
		}
		if (tok.text_len > 0) {
			emit_token(j, tok.text, tok.text_len, sl->events++);
			if (s->w->opts->log_prompts)
				strbuf_append(&sl->text, tok.text, tok.text_len);
		}
		if (done)
			finish(s, sl);
		else
			s->ready[n_ready++] = sl->gen;
	}
	if (n_ready == 0)
		return;
	/* One generation alone goes through the plain decode, exactly as the
	 * in-process loop (and the one-shot mode) runs it. */
	st = n_ready == 1 ? llorch_gen_eval(s->ready[0]) : llorch_gen_eval_batch(s->ready, n_ready);
	if (st == LLORCH_OK)
		return;
	for (int i = 0; i < s->n_slots; i++) {
		slot *sl = &s->slots[i];

		for (int k = 0; k < n_ready; k++)
			if (sl->gen && sl->gen == s->ready[k]) {
				llorch_gen_result r;

				llorch_gen_result_get(sl->gen, &r);
				end_failed(s, sl, st, &r);
				free_slot(sl);
				break;
			}
	}
}

static void end_dead(sched *s, job *dead)
{
	while (dead) {
		job *next = dead->next;

		drop_unstarted(s, dead);
		dead = next;
	}
}

static void *run(void *arg)
{
	sched *s = arg;
	int64_t swept = 0;
	struct sched_param sp = {.sched_priority = 0};

	/* a long computation: let the HTTP thread (and /health) preempt it
	 * when both want the CPU; its share of the CPU stays the same */
	pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);

	for (;;) {
		job *dead = NULL;
		int64_t now;
		bool quit = false;

		pthread_mutex_lock(&s->mu);
		for (;;) {
			now = now_ns();
			if (s->draining && now >= s->cancel_at_ns)
				for (job *j = s->q_head; j; j = j->next)
					atomic_store(&j->cancel, CANCEL_SHUTDOWN);
			sweep_queue_locked(s, &dead, now, now - swept >= ALIVE_CHECK_NS);
			if (now - swept >= ALIVE_CHECK_NS)
				swept = now;
			admit_locked(s);
			quit = s->quit && s->live == 0;
			if (s->busy > 0 || dead || quit)
				break;
			if (s->draining) {
				struct timespec ts;

				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += 50 * 1000000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&s->work, &s->mu, &ts);
			} else {
				pthread_cond_wait(&s->work, &s->mu);
			}
		}
		pthread_mutex_unlock(&s->mu);
		end_dead(s, dead);
		if (quit)
			break;
		for (int i = 0; i < s->n_slots; i++)
			if (s->slots[i].fresh)
				start_job(s, &s->slots[i]);
		step(s);
	}
	return NULL;
}

/* ---- the front ends' side ---- */

int sched_new(worker *w, sched **out)
{
	sched *s = calloc(1, sizeof *s);
	llorch_ctx_params cp = llorch_ctx_default_params();
	const serve_opts *o = w->opts;

	*out = NULL;
	if (!s)
		return -1;
	s->w = w;
	s->n_slots = (int)o->slots;
	s->q_max = (int)o->queue;
	s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
	s->ready = calloc((size_t)s->n_slots, sizeof *s->ready);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->space, NULL);
	if (!s->slots || !s->ready) {
		sched_free(s);
		return -1;
	}
	cp.n_ctx = (int32_t)o->ctx;
	cp.n_threads = (int32_t)o->threads;
	cp.kv_type = o->kv_type;
	for (int i = 0; i < s->n_slots; i++) {
		slot *sl = &s->slots[i];
		llorch_status st = llorch_ctx_new(w->model, &cp, &sl->ctx);

		sl->s = s;
		sl->index = i;
		if (st != LLORCH_OK) {
			const char *msg = llorch_last_error();

			slog(LLORCH_LOG_ERROR, "error", "stage", 's', "context", "slot", 'i', (int64_t)i,
					"message", 's', *msg ? msg : llorch_status_str(st), NULL);
			fprintf(stderr, "llorch-serve: slot %d: %s\n", i, *msg ? msg : llorch_status_str(st));
			sched_free(s);
			return llorch_status_exit_code(st);
		}
		llorch_ctx_set_abort(sl->ctx, slot_abort, sl);
		w->memory_bytes += llorch_ctx_memory_bytes(sl->ctx);
		w->n_ctx = llorch_ctx_n_ctx(sl->ctx);
		slog(LLORCH_LOG_INFO, "model_load_progress", "stage", 's', "context",
				"slot", 'i', (int64_t)i, "n_ctx", 'i', (int64_t)w->n_ctx,
				"bytes", 'i', (int64_t)llorch_ctx_memory_bytes(sl->ctx), NULL);
	}
	*out = s;
	return 0;
}

int sched_start(sched *s)
{
	if (pthread_create(&s->thread, NULL, run, s) != 0)
		return -1;
	s->thread_started = true;
	return 0;
}

static bool registered_locked(sched *s, const char *id)
{
	for (job *j = s->registry; j; j = j->reg_next)
		if (!strcmp(j->req.job_id, id))
			return true;
	return false;
}

submit_result sched_submit(sched *s, job *j, bool wait)
{
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->draining || s->quit) {
			pthread_mutex_unlock(&s->mu);
			return SUBMIT_DRAINING;
		}
		if (registered_locked(s, j->req.job_id)) {
			pthread_mutex_unlock(&s->mu);
			return SUBMIT_DUPLICATE;
		}
		if (s->busy + s->q_len < s->n_slots + s->q_max)
			break;
		if (!wait) {
			pthread_mutex_unlock(&s->mu);
			return SUBMIT_FULL;
		}
		pthread_cond_wait(&s->space, &s->mu);
	}
	j->next = NULL;
	j->queued_ns = now_ns();
	if (s->q_tail)
		s->q_tail->next = j;
	else
		s->q_head = j;
	s->q_tail = j;
	s->q_len++;
	j->reg_next = s->registry;
	s->registry = j;
	s->live++;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	return SUBMIT_OK;
}

bool sched_cancel(sched *s, const char *job_id, int why)
{
	bool found = false;

	pthread_mutex_lock(&s->mu);
	for (job *j = s->registry; j; j = j->reg_next)
		if (!strcmp(j->req.job_id, job_id)) {
			int none = CANCEL_NONE;

			atomic_compare_exchange_strong(&j->cancel, &none, why);
			found = true;
		}
	/* a queued job ends at the scheduler's next round; wake it if idle */
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	return found;
}

void sched_counts(sched *s, int *busy, int *queued)
{
	pthread_mutex_lock(&s->mu);
	*busy = s->busy;
	*queued = s->q_len;
	pthread_mutex_unlock(&s->mu);
}

void sched_drain(sched *s, int64_t grace_ms)
{
	pthread_mutex_lock(&s->mu);
	if (!s->draining) {
		s->draining = true;
		s->cancel_at_ns = now_ns() + grace_ms * 1000000;
	}
	pthread_cond_broadcast(&s->work);
	while (s->live > 0 && s->thread_started)
		pthread_cond_wait(&s->space, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

void sched_wait_idle(sched *s)
{
	pthread_mutex_lock(&s->mu);
	while (s->live > 0 && s->thread_started)
		pthread_cond_wait(&s->space, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

void sched_free(sched *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->mu);
		s->quit = true;
		s->draining = true;
		s->cancel_at_ns = now_ns();
		pthread_cond_broadcast(&s->work);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	for (int i = 0; s->slots && i < s->n_slots; i++) {
		llorch_gen_free(s->slots[i].gen);
		llorch_ctx_free(s->slots[i].ctx);
		strbuf_free(&s->slots[i].text);
	}
	free(s->slots);
	free(s->ready);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->space);
	free(s);
}
