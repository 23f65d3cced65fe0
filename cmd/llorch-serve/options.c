/* Command-line flags and their environment variables. Every flag --foo-bar
 * also reads LLORCH_FOO_BAR (and the original worker's MODEL_PATH, PORT,
 * WORKER_ID, CALLBACK_URL); the environment is applied first, so a flag
 * wins. A bad value names its source and exits 64. */
#define _GNU_SOURCE
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cli.h"
#include "serve.h"

enum {
	OPT_HOST = 256, OPT_PORT, OPT_LISTEN_FD, OPT_WORKER_ID, OPT_CALLBACK_URL,
	OPT_CALLBACK_TIMEOUT, OPT_SLOTS, OPT_QUEUE, OPT_API_KEY, OPT_MAX_BODY, OPT_MAX_HEADER,
	OPT_MAX_CONNECTIONS, OPT_IDLE_TIMEOUT, OPT_JOB_TIMEOUT, OPT_SHUTDOWN_TIMEOUT,
	OPT_PROMPT_CACHE, OPT_NO_PROMPT_CACHE, OPT_LOG_PROMPTS, OPT_LOG_LEVEL, OPT_STDIO,
	OPT_TEMPERATURE, OPT_TOP_K, OPT_TOP_P, OPT_MIN_P, OPT_REPEAT_PENALTY, OPT_STOP,
	OPT_KV_TYPE,
};

static const struct option long_opts[] = {
	{"model", required_argument, NULL, 'm'},
	{"host", required_argument, NULL, OPT_HOST},
	{"port", required_argument, NULL, OPT_PORT},
	{"listen-fd", required_argument, NULL, OPT_LISTEN_FD},
	{"worker-id", required_argument, NULL, OPT_WORKER_ID},
	{"callback-url", required_argument, NULL, OPT_CALLBACK_URL},
	{"callback-timeout", required_argument, NULL, OPT_CALLBACK_TIMEOUT},
	{"threads", required_argument, NULL, 't'},
	{"ctx", required_argument, NULL, 'c'},
	{"kv-type", required_argument, NULL, OPT_KV_TYPE},
	{"slots", required_argument, NULL, OPT_SLOTS},
	{"queue", required_argument, NULL, OPT_QUEUE},
	{"api-key", required_argument, NULL, OPT_API_KEY},
	{"max-body", required_argument, NULL, OPT_MAX_BODY},
	{"max-header", required_argument, NULL, OPT_MAX_HEADER},
	{"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
	{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
	{"job-timeout", required_argument, NULL, OPT_JOB_TIMEOUT},
	{"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT},
	{"prompt-cache", no_argument, NULL, OPT_PROMPT_CACHE},
	{"no-prompt-cache", no_argument, NULL, OPT_NO_PROMPT_CACHE},
	{"log-prompts", no_argument, NULL, OPT_LOG_PROMPTS},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"stdio", no_argument, NULL, OPT_STDIO},
	{"prompt", required_argument, NULL, 'p'},
	{"max-tokens", required_argument, NULL, 'n'},
	{"temperature", required_argument, NULL, OPT_TEMPERATURE},
	{"temp", required_argument, NULL, OPT_TEMPERATURE},
	{"seed", required_argument, NULL, 's'},
	{"top-k", required_argument, NULL, OPT_TOP_K},
	{"top-p", required_argument, NULL, OPT_TOP_P},
	{"min-p", required_argument, NULL, OPT_MIN_P},
	{"repeat-penalty", required_argument, NULL, OPT_REPEAT_PENALTY},
	{"stop", required_argument, NULL, OPT_STOP},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static const char short_opts[] = "m:t:c:p:n:s:vhV";

static const char usage_text[] =
	"Usage: llorch-serve -m MODEL [--port N] [OPTION]...    HTTP worker (SSE)\n"
	"       llorch-serve -m MODEL --stdio [OPTION]...       NDJSON jobs on stdin\n"
	"       llorch-serve -m MODEL -p PROMPT [OPTION]...     one prompt, text on stdout\n"
	"\n"
	"Serves a GGUF model: POST /execute streams tokens as Server-Sent Events;\n"
	"GET /health, GET /metrics, POST /cancel, POST /shutdown. Each flag also\n"
	"reads LLORCH_<FLAG> from the environment (--max-body: LLORCH_MAX_BODY); a\n"
	"flag wins over the environment.\n"
	"\n"
	"Model and compute:\n"
	"  -m, --model PATH          GGUF model (also MODEL_PATH)\n"
	"  -t, --threads N           threads per forward pass (0: all cores) [0]\n"
	"  -c, --ctx N               context length per slot (0: the model's) [0]\n"
	"      --kv-type TYPE        KV cache values: f32, f16 (half the memory,\n"
	"                            faster decode on long contexts) or q8_0 (a\n"
	"                            quarter; head size a multiple of 32) [f32]\n"
	"      --slots N             concurrent generations, each with its own KV cache [1]\n"
	"      --queue N             requests waiting for a slot before 503 [8]\n"
	"      --prompt-cache        reuse a slot's KV cache for a shared prompt prefix\n"
	"      --no-prompt-cache     evaluate every prompt from scratch (default)\n"
	"HTTP:\n"
	"      --host ADDR           address to listen on [127.0.0.1]\n"
	"      --port N              port, 0 for any free one (also PORT) [8080]\n"
	"      --listen-fd N         serve on this already-listening socket instead\n"
	"      --worker-id ID        name in the ready line, callback and logs (also WORKER_ID)\n"
	"      --callback-url URL    POST the ready callback here (also CALLBACK_URL)\n"
	"      --callback-timeout S  give up on the callback after S seconds [5]\n"
	"      --api-key KEY         require 'Authorization: Bearer KEY' (not on /health)\n"
	"      --max-body BYTES      largest request body, else 413 [1048576]\n"
	"      --max-header BYTES    memory per connection, bounds the headers [32768]\n"
	"      --max-connections N   open connections at once [64]\n"
	"      --idle-timeout S      close a connection idle this long (slowloris) [30]\n"
	"      --job-timeout S       per-job deadline from acceptance, 0: none [600]\n"
	"      --shutdown-timeout S  on SIGTERM, let jobs finish this long, then cancel [5]\n"
	"Logs (JSON lines on stderr):\n"
	"      --log-level LEVEL     debug, info, warn or error [info]\n"
	"      --log-prompts         also log prompts and generated text\n"
	"Batch and one-shot:\n"
	"      --stdio               read /execute bodies as NDJSON lines on stdin,\n"
	"                            write events as NDJSON lines on stdout\n"
	"  -p, --prompt TEXT         generate once, print the continuation, exit\n"
	"  -n, --max-tokens N        tokens to generate with -p [2048]\n"
	"      --temperature T       0: greedy [1.0]\n"
	"  -s, --seed N              random seed (u64) [random]\n"
	"      --top-k N, --top-p P, --min-p P, --repeat-penalty R\n"
	"      --stop STR            stop string (up to 4)\n"
	"  -v, --verbose             one-shot: seed and speed on stderr\n"
	"  -h, --help                this help\n"
	"  -V, --version             version\n"
	"\n"
	"Exit status: 0 success, 64 usage, 65 bad model, 66 no model file,\n"
	"69 ready callback failed, 71 system error, 74 output error, 75 port in use.\n"
	"See llorch-serve(1).\n";

static const char *source_name(const struct option *lo, char *buf, size_t cap, bool from_env,
		const char *env)
{
	if (from_env)
		snprintf(buf, cap, "%s", env);
	else
		snprintf(buf, cap, "--%s", lo->name);
	return buf;
}

static long need_long(const char *v, long long lo, long long hi, const char *src)
{
	long long x;

	if (!cli_parse_long(v, lo, hi, &x))
		cli_usage("%s: expected an integer in %lld..%lld, got '%s'", src, lo, hi, v);
	return (long)x;
}

static double need_double(const char *v, double lo, double hi, const char *src)
{
	double x;

	if (!cli_parse_double(v, lo, hi, &x))
		cli_usage("%s: expected a number in %g..%g, got '%s'", src, lo, hi, v);
	return x;
}

static bool need_bool(const char *v, const char *src)
{
	if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
		return true;
	if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
		return false;
	cli_usage("%s: expected 1/0, true/false, yes/no or on/off, got '%s'", src, v);
}

static void set_option(serve_opts *o, int id, const char *v, const char *src)
{
	switch (id) {
	case 'm': o->model_path = v; break;
	case OPT_HOST: o->host = v; break;
	case OPT_PORT: o->port = need_long(v, 0, 65535, src); break;
	case OPT_LISTEN_FD: o->listen_fd = need_long(v, 0, 1 << 20, src); break;
	case OPT_WORKER_ID:
		if (!*v || strlen(v) > 256)
			cli_usage("%s: expected 1 to 256 bytes", src);
		o->worker_id = v;
		break;
	case OPT_CALLBACK_URL:
		if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
			cli_usage("%s: expected an http:// or https:// URL, got '%s'", src, v);
		o->callback_url = v;
		break;
	case OPT_CALLBACK_TIMEOUT: o->callback_timeout = need_double(v, 0.1, 600, src); break;
	case 't': o->threads = need_long(v, 0, 1024, src); break;
	case 'c': o->ctx = need_long(v, 0, LLORCH_MAX_CTX, src); break;
	case OPT_KV_TYPE: o->kv_type = cli_parse_kv_type(v, src); break;
	case OPT_SLOTS: o->slots = need_long(v, 1, 64, src); break;
	case OPT_QUEUE: o->queue = need_long(v, 0, 4096, src); break;
	case OPT_API_KEY:
		if (!*v)
			cli_usage("%s: the key must not be empty", src);
		o->api_key = v;
		break;
	case OPT_MAX_BODY: o->max_body = need_long(v, 1024, 64L << 20, src); break;
	case OPT_MAX_HEADER: o->max_header = need_long(v, 4096, 1L << 20, src); break;
	case OPT_MAX_CONNECTIONS: o->max_connections = need_long(v, 1, 10000, src); break;
	case OPT_IDLE_TIMEOUT: o->idle_timeout = need_long(v, 1, 86400, src); break;
	case OPT_JOB_TIMEOUT: o->job_timeout = need_double(v, 0, 86400 * 7, src); break;
	case OPT_SHUTDOWN_TIMEOUT: o->shutdown_timeout = need_double(v, 0, 3600, src); break;
	case OPT_PROMPT_CACHE: o->prompt_cache = v ? need_bool(v, src) : true; break;
	case OPT_NO_PROMPT_CACHE: o->prompt_cache = v ? !need_bool(v, src) : false; break;
	case OPT_LOG_PROMPTS: o->log_prompts = v ? need_bool(v, src) : true; break;
	case OPT_LOG_LEVEL:
		if (!strcmp(v, "debug")) o->log_level = LLORCH_LOG_DEBUG;
		else if (!strcmp(v, "info")) o->log_level = LLORCH_LOG_INFO;
		else if (!strcmp(v, "warn")) o->log_level = LLORCH_LOG_WARN;
		else if (!strcmp(v, "error")) o->log_level = LLORCH_LOG_ERROR;
		else cli_usage("%s: expected debug, info, warn or error, got '%s'", src, v);
		break;
	case OPT_STDIO: o->stdio = v ? need_bool(v, src) : true; break;
	case 'p': o->prompt = v; break;
	case 'n':
		o->max_tokens = need_long(v, 1, LLORCH_MAX_CTX, src);
		o->has_max_tokens = true;
		break;
	case OPT_TEMPERATURE: o->temperature = need_double(v, 0, 2, src); break;
	case 's':
		if (!cli_parse_u64(v, &o->seed))
			cli_usage("%s: expected an integer in 0..18446744073709551615, got '%s'", src, v);
		o->has_seed = true;
		break;
	case OPT_TOP_K: o->top_k = need_long(v, 0, INT32_MAX, src); break;
	case OPT_TOP_P: o->top_p = need_double(v, 0, 1, src); break;
	case OPT_MIN_P: o->min_p = need_double(v, 0, 1, src); break;
	case OPT_REPEAT_PENALTY: o->repetition_penalty = need_double(v, 0, 2, src); break;
	case OPT_STOP:
		if (!*v || strlen(v) > LLORCH_REQ_MAX_STOP_LEN)
			cli_usage("%s: a stop string has 1 to %d bytes", src, LLORCH_REQ_MAX_STOP_LEN);
		if (o->n_stop == LLORCH_REQ_MAX_STOP)
			cli_usage("%s: at most %d stop strings", src, LLORCH_REQ_MAX_STOP);
		o->stop[o->n_stop++] = v;
		break;
	case 'v': o->verbose = v ? need_bool(v, src) : true; break;
	default: break;
	}
}

/* LLORCH_<LONG_NAME>; the original worker's names for four of them. */
static void apply_env(serve_opts *o)
{
	static const struct {
		int id;
		const char *alias;
	} aliases[] = {
		{'m', "MODEL_PATH"}, {OPT_PORT, "PORT"}, {OPT_WORKER_ID, "WORKER_ID"},
		{OPT_CALLBACK_URL, "CALLBACK_URL"},
	};

	for (const struct option *lo = long_opts; lo->name; lo++) {
		char env[64], src[80];
		const char *v, *alias = NULL;
		size_t i;

		if (lo->val == 'h' || lo->val == 'V' || lo->val == 'p' || !strcmp(lo->name, "temp"))
			continue;
		snprintf(env, sizeof env, "LLORCH_");
		for (i = 0; lo->name[i] && i + 8 < sizeof env; i++)
			env[7 + i] = lo->name[i] == '-' ? '_' : (char)toupper((unsigned char)lo->name[i]);
		env[7 + i] = '\0';
		for (i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
			if (aliases[i].id == lo->val)
				alias = aliases[i].alias;
		v = cli_getenv(env, alias, (const char *)NULL);
		if (!v)
			continue;
		/* the alias's name when only the alias is set */
		if (!getenv(env) || !*getenv(env))
			snprintf(env, sizeof env, "%s", alias);
		set_option(o, lo->val, v, source_name(lo, src, sizeof src, true, env));
	}
}

void serve_opts_parse(serve_opts *o, int argc, char **argv)
{
	int c;
	char src[80];
	bool argv_stop = false;

	*o = (serve_opts){
		.host = "127.0.0.1", .port = 8080, .listen_fd = -1, .callback_timeout = 5,
		.slots = 1, .queue = 8, .max_body = 1L << 20, .max_header = 32768,
		.max_connections = 64, .idle_timeout = 30, .job_timeout = 600,
		.shutdown_timeout = 5, .log_level = LLORCH_LOG_INFO,
		.max_tokens = LLORCH_REQ_MAX_TOKENS, .temperature = 1.0, .top_p = 1.0,
		.repetition_penalty = 1.0,
	};
	apply_env(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		const struct option *lo = long_opts;

		if (c == '?') {
			if (optopt)
				cli_usage("unknown or incomplete option '-%c'", optopt);
			cli_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
		if (c == 'h') {
			fputs(usage_text, stdout);
			exit(cli_close_stdout());
		}
		if (c == 'V')
			cli_version();
		while (lo->name && lo->val != c)
			lo++;
		/* --stop on the command line replaces LLORCH_STOP, as any flag does */
		if (c == OPT_STOP && !argv_stop) {
			argv_stop = true;
			o->n_stop = 0;
		}
		set_option(o, c, optarg, source_name(lo, src, sizeof src, false, NULL));
	}
	if (optind < argc)
		cli_usage("unexpected argument '%s'", argv[optind]);
	if (!o->model_path)
		cli_usage("no model: give -m/--model (or LLORCH_MODEL, MODEL_PATH)");
	if (!o->worker_id) {
		static char id[32];

		snprintf(id, sizeof id, "llorch-%ld", (long)getpid());
		o->worker_id = id;
	}
	if (o->stdio && o->prompt)
		cli_usage("--stdio and -p/--prompt are different modes: give one");
}
