/* Logs: one JSON object per line on stderr, so that a supervisor can parse
 * them; written whole under a lock so that lines of different threads never
 * mix. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "serve.h"

static const char *log_worker_id = "";
static int log_level = LLORCH_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void slog_init(const char *worker_id, int level)
{
	log_worker_id = worker_id;
	log_level = level;
}

void slog(int level, const char *event, ...)
{
	char ts[40];
	strbuf b = {0};
	va_list ap;
	const char *key;

	if (level < log_level)
		return;
	format_utc(ts, sizeof ts, true);
	strbuf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, level_names[level & 3]);
	sb_json_str(&b, event, strlen(event));
	strbuf_puts(&b, ",\"worker_id\":");
	sb_json_str(&b, log_worker_id, strlen(log_worker_id));
	va_start(ap, event);
	while ((key = va_arg(ap, const char *))) {
		int kind = va_arg(ap, int);

		if (kind == 's') {
			const char *v = va_arg(ap, const char *);

			if (!v)
				continue;
			strbuf_puts(&b, ",");
			sb_json_str(&b, key, strlen(key));
			strbuf_puts(&b, ":");
			sb_json_str(&b, v, strlen(v));
		} else if (kind == 'i') {
			strbuf_printf(&b, ",\"%s\":%lld", key, (long long)va_arg(ap, int64_t));
		} else {
			strbuf_printf(&b, ",\"%s\":%.6g", key, va_arg(ap, double));
		}
	}
	va_end(ap);
	strbuf_puts(&b, "}\n");
	if (!b.failed) {
		pthread_mutex_lock(&log_mu);
		fwrite(b.p, 1, b.len, stderr);
		fflush(stderr);
		pthread_mutex_unlock(&log_mu);
	}
	strbuf_free(&b);
}

void slog_library(llorch_log_level level, const char *msg, void *user)
{
	(void)user;
	slog((int)level, "library", "message", 's', msg, NULL);
}
