/* Status codes, the thread-local last error, and the log callback. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <sysexits.h>
#include <time.h>

#include "internal.h"

static _Thread_local char last_error[1024];
static llorch_log_fn log_fn;
static void *log_user;

const char *llorch_status_str(llorch_status st)
{
	switch (st) {
	case LLORCH_OK: return "ok";
	case LLORCH_E_INVALID: return "invalid argument";
	case LLORCH_E_NOMEM: return "out of memory";
	case LLORCH_E_IO: return "I/O error";
	case LLORCH_E_FORMAT: return "format error";
	case LLORCH_E_UNSUPPORTED: return "unsupported";
	case LLORCH_E_NOTFOUND: return "not found";
	case LLORCH_E_TYPE: return "type mismatch";
	case LLORCH_E_RANGE: return "out of range";
	case LLORCH_E_CANCELLED: return "cancelled";
	case LLORCH_E_TIMEOUT: return "timed out";
	}
	return "unknown status";
}

int llorch_status_exit_code(llorch_status st)
{
	switch (st) {
	case LLORCH_OK: return 0;
	case LLORCH_E_INVALID: return EX_USAGE;
	case LLORCH_E_NOMEM: return EX_OSERR;
	case LLORCH_E_IO: return EX_IOERR;
	case LLORCH_E_NOTFOUND: return EX_NOINPUT;
	case LLORCH_E_FORMAT:
	case LLORCH_E_UNSUPPORTED:
	case LLORCH_E_TYPE:
	case LLORCH_E_RANGE: return EX_DATAERR;
	case LLORCH_E_CANCELLED:
	case LLORCH_E_TIMEOUT: return EX_TEMPFAIL;
	}
	return EX_SOFTWARE;
}

const char *llorch_last_error(void)
{
	return last_error;
}

llorch_status llorch_error(llorch_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	if (log_fn)
		log_fn(LLORCH_LOG_DEBUG, last_error, log_user);
	return st;
}

void llorch_set_log(llorch_log_fn fn, void *user)
{
	log_fn = fn;
	log_user = user;
}

void llorch_log(llorch_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_fn(level, msg, log_user);
}

int64_t llorch_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t llorch_now_ms(void)
{
	return llorch_now_ns() / 1000000;
}
