/* The ready callback to the pool manager, with libcurl: one POST, retried
 * with a doubling back-off until a total time budget runs out. libcurl
 * because it is the HTTP client every Debian box has, with per-attempt
 * connect and total timeouts, and it keeps us from writing a second HTTP
 * parser (libmicrohttpd is a server only). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <curl/curl.h>

#include "serve.h"

static size_t discard(char *p, size_t size, size_t n, void *user)
{
	(void)p;
	(void)user;
	return size * n;
}

static char *callback_body(worker *w, const char *uri)
{
	strbuf b = {0};
	const char *id = w->opts->worker_id;

	strbuf_puts(&b, "{\"worker_id\":");
	sb_json_str(&b, id, strlen(id));
	strbuf_puts(&b, ",\"model_ref\":");
	sb_json_str(&b, w->model_ref, strlen(w->model_ref));
	strbuf_printf(&b, ",\"vram_bytes\":0,\"memory_bytes\":%zu,\"memory_architecture\":\"cpu\","
		"\"worker_type\":\"cpu\",\"capabilities\":[\"text-gen\"],\"uri\":", w->memory_bytes);
	sb_json_str(&b, uri, strlen(uri));
	strbuf_puts(&b, "}");
	if (b.failed) {
		strbuf_free(&b);
		return NULL;
	}
	return b.p;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

int callback_send(worker *w, const char *uri)
{
	const char *url = w->opts->callback_url;
	int64_t budget_ms = (int64_t)(w->opts->callback_timeout * 1000);
	int64_t t0 = now_ns() / 1000000, backoff = 100;
	char *body;
	struct curl_slist *hdr = NULL;
	char errbuf[CURL_ERROR_SIZE], last[CURL_ERROR_SIZE + 64] = "";
	CURL *curl;
	int attempt = 0, rc = EX_UNAVAILABLE;

	if (!url)
		return 0;
	body = callback_body(w, uri);
	curl = curl_easy_init();
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	if (!body || !curl || !hdr) {
		snprintf(last, sizeof last, "out of memory");
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	for (;;) {
		int64_t left = budget_ms - (now_ns() / 1000000 - t0);
		long status = 0;
		CURLcode cc;

		if (left <= 0)
			break;
		attempt++;
		errbuf[0] = '\0';
		curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(left < 2000 ? left : 2000));
		curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(left < 1000 ? left : 1000));
		cc = curl_easy_perform(curl);
		if (cc == CURLE_OK) {
			curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
			if (status >= 200 && status < 300) {
				slog(LLORCH_LOG_INFO, "callback", "url", 's', url, "status", 'i',
						(int64_t)status, "attempts", 'i', (int64_t)attempt, NULL);
				rc = 0;
				goto out;
			}
			snprintf(last, sizeof last, "HTTP status %ld", status);
		} else {
			snprintf(last, sizeof last, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		}
		slog(LLORCH_LOG_WARN, "callback_retry", "url", 's', url, "attempt", 'i',
				(int64_t)attempt, "message", 's', last, NULL);
		left = budget_ms - (now_ns() / 1000000 - t0);
		if (left <= 0)
			break;
		sleep_ms(backoff < left ? backoff : left);
		backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
	}
out:
	if (rc) {
		slog(LLORCH_LOG_ERROR, "error", "stage", 's', "callback", "url", 's', url,
				"attempts", 'i', (int64_t)attempt, "message", 's', last, NULL);
		fprintf(stderr, "llorch-serve: ready callback to %s failed after %d attempts: %s\n",
				url, attempt, last);
	}
	curl_slist_free_all(hdr);
	if (curl)
		curl_easy_cleanup(curl);
	free(body);
	return rc;
}
