/* What every llorch tool does the same way: diagnostics on stderr prefixed
 * with the program name, sysexits exit codes, --version, number parsing,
 * checking that stdout really got written. */
#ifndef LLORCH_CLI_H
#define LLORCH_CLI_H

#include <stdbool.h>
#include <stdnoreturn.h>

#include "llorch.h"

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* Sets the program name for messages and routes library logs to stderr
 * (warnings and errors; everything with cli_set_verbose(true)). */
void cli_init(const char *prog);
void cli_set_verbose(bool verbose);
const char *cli_prog(void);

/* "prog: message" on stderr. */
void cli_warn(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "prog: message" on stderr, then exit(code). */
noreturn void cli_die(int code, const char *fmt, ...) CLI_PRINTF(2, 3);
/* A usage error: the message and a hint to --help, exit 64. */
noreturn void cli_usage(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Dies with the exit code for st and "what: <last library error>". */
noreturn void cli_die_status(llorch_status st, const char *what);

/* "prog (llorch) VERSION" on stdout, exit 0. */
noreturn void cli_version(void);

/* Strict parsing: the whole string, in [min, max]. */
bool cli_parse_long(const char *s, long long min, long long max, long long *out);
bool cli_parse_u64(const char *s, unsigned long long *out);
bool cli_parse_double(const char *s, double min, double max, double *out);

/* The argument of --max-line, the NDJSON line limit every filter tool takes:
 * a byte count in [1, 2^40], else a usage error (exit 64). */
size_t cli_parse_max_line(const char *arg);

/* The argument of --kv-type (src names it in the message): f32, f16 or
 * q8_0, else a usage error (exit 64). */
llorch_dtype cli_parse_kv_type(const char *arg, const char *src);

/* The value of the first set environment variable among names (NULL-ended). */
const char *cli_getenv(const char *name, ...);

/* Flushes and closes stdout; returns 0, or 74 (EX_IOERR) with a message when
 * anything written was lost (a full disk, a closed pipe). */
int cli_close_stdout(void);

#endif
