/* Shared CLI behaviour; see cli.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"

static const char *prog = "llorch";
static bool verbose;

static void log_to_stderr(llorch_log_level level, const char *msg, void *user)
{
	static const char *names[] = {"debug", "info", "warning", "error"};

	(void)user;
	if (level < LLORCH_LOG_WARN && !verbose)
		return;
	fprintf(stderr, "%s: %s: %s\n", prog, names[level], msg);
}

void cli_init(const char *name)
{
	prog = name;
	llorch_set_log(log_to_stderr, NULL);
}

void cli_set_verbose(bool v)
{
	verbose = v;
}

const char *cli_prog(void)
{
	return prog;
}

static void vwarn(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void cli_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(code);
}

void cli_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	exit(EX_USAGE);
}

void cli_die_status(llorch_status st, const char *what)
{
	const char *msg = llorch_last_error();

	cli_die(llorch_status_exit_code(st), "%s: %s", what, *msg ? msg : llorch_status_str(st));
}

void cli_version(void)
{
	printf("%s (llorch) %s\n", prog, LLORCH_VERSION);
	exit(cli_close_stdout());
}

bool cli_parse_long(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool cli_parse_u64(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

bool cli_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return false;
	*out = v;
	return true;
}

size_t cli_parse_max_line(const char *arg)
{
	long long v;

	if (!cli_parse_long(arg, 1, 1ll << 40, &v))
		cli_usage("--max-line: '%s' is not a byte count in [1, 2^40]", arg);
	return (size_t)v;
}

llorch_dtype cli_parse_kv_type(const char *arg, const char *src)
{
	if (strcmp(arg, "f32") == 0)
		return LLORCH_DT_F32;
	if (strcmp(arg, "f16") == 0)
		return LLORCH_DT_F16;
	if (strcmp(arg, "q8_0") == 0)
		return LLORCH_DT_Q8_0;
	cli_usage("%s: '%s' is not a KV cache type (f32, f16 or q8_0)", src, arg);
}

const char *cli_getenv(const char *name, ...)
{
	va_list ap;
	const char *v = NULL;

	va_start(ap, name);
	for (; name; name = va_arg(ap, const char *)) {
		v = getenv(name);
		if (v && *v)
			break;
		v = NULL;
	}
	va_end(ap);
	return v;
}

int cli_close_stdout(void)
{
	int err = fflush(stdout) != 0 || ferror(stdout);

	if (fclose(stdout) != 0)
		err = 1;
	if (err) {
		fprintf(stderr, "%s: write error on standard output: %s\n", prog, strerror(errno));
		return EX_IOERR;
	}
	return 0;
}
