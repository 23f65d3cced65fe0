/* llorch-sample: NDJSON in, NDJSON out. Each object carries "tokens" (the
 * sequence so far) and the next-token "logits" (as llorch-forward writes
 * them); it is written back with the sampled "token" appended to "tokens".
 * The draw for a step depends only on (seed, step), so a generation split
 * into one process per step, or a llorch-forward | llorch-sample loop,
 * draws exactly what llorch_generate() draws. With --loop FIFO it closes
 * that loop itself: it sends the lines of its FILEs into the FIFO that
 * llorch-forward reads, one generation at a time, and every answer not done
 * back the same way. See llorch-sample(1). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/logits_codec.h"
#include "common/ndjson.h"
#include "llorch.h"
#include "stopstr.h"

static const char usage_text[] =
	"Usage: llorch-sample [OPTION]...\n"
	"       llorch-sample [OPTION]... --loop FIFO FILE...\n"
	"Reads NDJSON objects with \"tokens\" and next-token \"logits\" on stdin and writes\n"
	"each back with the sampled \"token\" appended to \"tokens\" (\"logits\" dropped).\n"
	"Fields of a line (\"temperature\", \"seed\", \"max_tokens\", ...) override the flags.\n"
	"\n"
	"  -m, --model FILE         GGUF model or vocabulary: adds \"text\", ends at EOS\n"
	"  -T, --temperature T      0 is greedy (default 1)\n"
	"  -k, --top-k K            keep the K most likely tokens (default 0: off)\n"
	"  -p, --top-p P            keep the smallest set with mass >= P (default 1: off)\n"
	"      --min-p M            keep tokens with p >= M * p_max (default 0: off)\n"
	"  -r, --repeat-penalty R   penalise tokens of the recent history (1 or 0: off)\n"
	"      --repeat-last-n N    history length penalised, -1 all (default 64)\n"
	"  -s, --seed S             seed of the draws (default: random, then reported)\n"
	"  -n, --max-tokens N       done after N sampled tokens (default 0: no limit)\n"
	"  -S, --stop STRING        with -m: done before STRING appears (up to 4 times)\n"
	"      --keep-logits        keep \"logits\" in the output\n"
	"      --max-line BYTES     longest input line accepted (default 64 MiB)\n"
	"  -L, --loop FIFO          close the loop: send each line of the FILEs (a\n"
	"                           generation's start) and each answer not done into\n"
	"                           FIFO, which llorch-forward reads; all answers also\n"
	"                           go to stdout; FIFO is closed after the last one\n"
	"  -v, --verbose            log on stderr\n"
	"  -h, --help               show this help and exit\n"
	"  -V, --version            show the version and exit\n"
	"\n"
	"Exit status: 0 all lines answered, 65 some line got an error object (or a bad\n"
	"model), 64 usage, 66 model or FILE not found, 74 I/O error.\n";

typedef struct {
	const char *model_path;
	llorch_sampler_params sp;
	long long max_tokens;
	const char *stop[LLORCH_MAX_STOP];
	size_t n_stop;
	bool keep_logits, verbose;
	unsigned long long max_line;
	const char *loop_path;    /* --loop */
	char *const *start_files; /* its FILEs */
	int n_start;
} options;

/* --loop: the FIFO back into llorch-forward and the FILEs whose lines start
 * generations. One line is in the loop at a time: the next generation
 * starts when the one before is done, so llorch-forward's KV cache serves
 * each in turn, and neither pipe can fill up with lines nobody reads. */
typedef struct {
	int fd;           /* the FIFO, -1 when closed (or without --loop) */
	int next_file;    /* the next of the FILEs to open */
	FILE *in;         /* the FILE being read, or NULL */
	const char *name; /* its name */
	ndjson_reader r;
	bool waiting;     /* a line sent into the loop has not come back */
	int status;       /* 0, or the exit code the FILEs or the FIFO call for */
} loop_state;

typedef struct {
	options opt;
	llorch_tokenizer *tok; /* with -m */
	int32_t n_vocab;       /* with -m, else 0 */
	llorch_detok *detok;
	llorch_candidate *cand;
	size_t cand_cap;
	char *text; /* the decoded bytes of one step */
	size_t text_len, text_cap;
	char *prev; /* the decoded bytes of the tokens sampled before */
	size_t prev_len, prev_cap;
	/* The decoder and the stop-string hold-back as they stand after the
	 * tokens of the last answer (its line's and the one it sampled), when
	 * that generation goes on (memo_n > 0): the next line of the same loop
	 * carries them again, and only what it adds needs decoding. */
	llorch_stopstr hold;
	bool hold_ready;
	int32_t *memo;
	size_t memo_n, memo_cap, memo_prompt;
	int32_t *ids; /* the line's tokens */
	size_t ids_cap;
	char *out; /* the text this step releases */
	size_t out_len, out_cap;
	const char *raw_logits; /* the line's base64 "logits", taken out before parsing */
	size_t raw_len;
	loop_state loop;
} state;

/* A base64 "logits" string at least this long skips the JSON parser. */
#define RAW_LOGITS_MIN 1024

static void parse_options(int argc, char **argv, options *o)
{
	enum { OPT_MIN_P = 256, OPT_LAST_N, OPT_KEEP, OPT_MAX_LINE };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "temperature", required_argument, NULL, 'T' },
		{ "top-k", required_argument, NULL, 'k' },
		{ "top-p", required_argument, NULL, 'p' },
		{ "min-p", required_argument, NULL, OPT_MIN_P },
		{ "repeat-penalty", required_argument, NULL, 'r' },
		{ "repeat-last-n", required_argument, NULL, OPT_LAST_N },
		{ "seed", required_argument, NULL, 's' },
		{ "max-tokens", required_argument, NULL, 'n' },
		{ "stop", required_argument, NULL, 'S' },
		{ "keep-logits", no_argument, NULL, OPT_KEEP },
		{ "max-line", required_argument, NULL, OPT_MAX_LINE },
		{ "loop", required_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_seed = false;
	double d;
	long long ll;
	unsigned long long u;
	int c;

	o->sp = llorch_sampler_default_params();
	o->max_line = NDJSON_DEFAULT_MAX_LINE;
	while ((c = getopt_long(argc, argv, "m:T:k:p:r:s:n:S:L:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->model_path = optarg;
			break;
		case 'T':
			if (!cli_parse_double(optarg, 0.0, 1e6, &d))
				cli_usage("--temperature: expected a number >= 0, got '%s'", optarg);
			o->sp.temperature = (float)d;
			break;
		case 'k':
			if (!cli_parse_long(optarg, 0, INT32_MAX, &ll))
				cli_usage("--top-k: expected an integer >= 0, got '%s'", optarg);
			o->sp.top_k = (int32_t)ll;
			break;
		case 'p':
			if (!cli_parse_double(optarg, 0.0, 1.0, &d))
				cli_usage("--top-p: expected a number in [0, 1], got '%s'", optarg);
			o->sp.top_p = (float)d;
			break;
		case OPT_MIN_P:
			if (!cli_parse_double(optarg, 0.0, 1.0, &d))
				cli_usage("--min-p: expected a number in [0, 1], got '%s'", optarg);
			o->sp.min_p = (float)d;
			break;
		case 'r':
			if (!cli_parse_double(optarg, 0.0, 1e6, &d))
				cli_usage("--repeat-penalty: expected a number >= 0, got '%s'", optarg);
			o->sp.repetition_penalty = (float)d;
			break;
		case OPT_LAST_N:
			if (!cli_parse_long(optarg, -1, INT32_MAX, &ll))
				cli_usage("--repeat-last-n: expected an integer >= -1, got '%s'", optarg);
			o->sp.repeat_last_n = (int32_t)ll;
			break;
		case 's':
			if (!cli_parse_u64(optarg, &u))
				cli_usage("--seed: expected an unsigned 64-bit integer, got '%s'", optarg);
			o->sp.seed = u;
			have_seed = true;
			break;
		case 'n':
			if (!cli_parse_long(optarg, 0, INT32_MAX, &ll))
				cli_usage("--max-tokens: expected an integer >= 0, got '%s'", optarg);
			o->max_tokens = ll;
			break;
		case 'S':
			if (o->n_stop == LLORCH_MAX_STOP)
				cli_usage("--stop: at most %d stop strings", LLORCH_MAX_STOP);
			o->stop[o->n_stop++] = optarg;
			break;
		case OPT_KEEP:
			o->keep_logits = true;
			break;
		case OPT_MAX_LINE:
			o->max_line = cli_parse_max_line(optarg);
			break;
		case 'L':
			o->loop_path = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(cli_close_stdout());
		case 'V':
			cli_version();
		default:
			cli_usage("unknown option");
		}
	}
	if (o->loop_path) {
		if (optind == argc)
			cli_usage("--loop needs FILEs, whose lines start the generations");
		for (int i = optind; i < argc; i++)
			if (strcmp(argv[i], "-") == 0)
				cli_usage("--loop: a FILE cannot be '-': standard input carries "
					  "llorch-forward's answers");
		o->start_files = argv + optind;
		o->n_start = argc - optind;
	} else if (optind < argc) {
		cli_usage("unexpected argument '%s' (FILEs go with --loop)", argv[optind]);
	}
	if (o->n_stop && !o->model_path)
		cli_usage("--stop needs -m: stop strings are matched in the text");
	/* One seed for the whole run, so that every line of a generation (and
	 * the next pass of a loop, which reads it back) draws from the same
	 * stream. 63 bits: it stays a JSON integer. */
	if (!have_seed)
		o->sp.seed = llorch_random_seed() & INT64_MAX;
}

typedef struct {
	const char *code;
	char msg[512];
} line_error;

#define FAIL(e, c, ...) (snprintf((e)->msg, sizeof (e)->msg, __VA_ARGS__), (e)->code = (c), false)

/* Optional number field: absent leaves *out alone. */
static bool get_number(const json_t *in, const char *key, float *out, line_error *e)
{
	const json_t *v = json_object_get(in, key);
	if (!v)
		return true;
	if (!json_is_number(v))
		return FAIL(e, "bad_request", "\"%s\" must be a number", key);
	*out = (float)json_number_value(v);
	return true;
}

static bool get_int(const json_t *in, const char *key, long long min, long long max, long long *out,
		bool *present, line_error *e)
{
	const json_t *v = json_object_get(in, key);
	if (present)
		*present = v != NULL;
	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return FAIL(e, "bad_request", "\"%s\" must be an integer in %lld..%lld", key, min, max);
	*out = json_integer_value(v);
	return true;
}

/* A seed is a JSON integer >= 0, or a decimal string for the whole u64 range. */
static bool get_seed(const json_t *in, uint64_t *seed, line_error *e)
{
	const json_t *v = json_object_get(in, "seed");
	unsigned long long u;

	if (!v)
		return true;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*seed = (uint64_t)json_integer_value(v);
		return true;
	}
	if (json_is_string(v) && cli_parse_u64(json_string_value(v), &u)) {
		*seed = u;
		return true;
	}
	return FAIL(e, "bad_request", "\"seed\" must be an integer in 0..2^64-1 (a string above 2^63-1)");
}

/* A token array kept from line to line, grown (doubling) to hold need. */
static bool grow_ids(int32_t **ids, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	int32_t *p = realloc(*ids, need * 2 * sizeof *p);
	if (!p)
		return false;
	*ids = p;
	*cap = need * 2;
	return true;
}

/* The line's "tokens", checked, into s->ids (kept from line to line: a
 * fresh array each line, past a few hundred tokens, was a large request
 * that made malloc consolidate all the small blocks the parser had
 * freed: 5% of this tool's time in the generation loop). */
static bool read_tokens(state *s, const json_t *in, size_t *n, line_error *e)
{
	const json_t *arr = json_object_get(in, "tokens");
	if (!arr)
		return FAIL(e, "bad_request", "no \"tokens\" field");
	if (!json_is_array(arr))
		return FAIL(e, "bad_request", "\"tokens\" is not an array");
	size_t len = json_array_size(arr);
	if (!grow_ids(&s->ids, &s->ids_cap, len + 1))
		return FAIL(e, "internal", "out of memory for %zu tokens", len);
	for (size_t i = 0; i < len; i++) {
		const json_t *t = json_array_get(arr, i);
		long long v = json_is_integer(t) ? json_integer_value(t) : -1;
		if (v < 0 || v > INT32_MAX || (s->n_vocab && v >= s->n_vocab)) {
			if (!json_is_integer(t))
				return FAIL(e, "bad_request", "\"tokens\"[%zu] is not an integer", i);
			return FAIL(e, "token_out_of_range", "\"tokens\"[%zu] = %lld is not a token id%s", i, v,
					s->n_vocab ? " of the model's vocabulary" : "");
		}
		s->ids[i] = (int32_t)v;
	}
	*n = len;
	return true;
}

static bool grow_cand(state *s, size_t n, line_error *e)
{
	if (n <= s->cand_cap)
		return true;
	llorch_candidate *c = realloc(s->cand, n * sizeof *c);
	if (!c)
		return FAIL(e, "internal", "out of memory for %zu candidates", n);
	s->cand = c;
	s->cand_cap = n;
	return true;
}

/* One logit of a sparse pair: a number, null (NaN), "inf" or "-inf". */
static bool sparse_value(const json_t *v, float *out)
{
	if (json_is_number(v))
		*out = (float)json_number_value(v);
	else if (json_is_null(v))
		*out = NAN;
	else if (json_is_string(v) && strcmp(json_string_value(v), "inf") == 0)
		*out = INFINITY;
	else if (json_is_string(v) && strcmp(json_string_value(v), "-inf") == 0)
		*out = -INFINITY;
	else
		return false;
	return true;
}

static int cmp_id(const void *a, const void *b)
{
	int32_t x = ((const llorch_candidate *)a)->id, y = ((const llorch_candidate *)b)->id;
	return (x > y) - (x < y);
}

/* "logits" as candidates: a dense vector (JSON array or base64) gives ids
 * 0..n-1; a sparse [[id, logit], ...] list gives only the ids listed. */
static bool read_logits(state *s, const json_t *in, size_t *n_out, line_error *e)
{
	const json_t *v = json_object_get(in, "logits");
	char err[256];

	if (!v)
		return FAIL(e, "bad_request", "no \"logits\" field");
	if (json_is_array(v) && json_array_size(v) > 0 && json_is_array(json_array_get(v, 0))) {
		size_t n = json_array_size(v);
		if (!grow_cand(s, n, e))
			return false;
		for (size_t i = 0; i < n; i++) {
			const json_t *pair = json_array_get(v, i);
			const json_t *id = json_array_get(pair, 0);
			float x;
			if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_integer(id) ||
			    !sparse_value(json_array_get(pair, 1), &x))
				return FAIL(e, "bad_request", "\"logits\"[%zu] is not an [id, logit] pair", i);
			long long t = json_integer_value(id);
			if (t < 0 || t > INT32_MAX || (s->n_vocab && t >= s->n_vocab))
				return FAIL(e, "token_out_of_range", "\"logits\"[%zu]: id %lld is out of range", i, t);
			s->cand[i] = (llorch_candidate){ .id = (int32_t)t, .logit = x };
		}
		/* duplicates would count twice in the softmax */
		llorch_candidate *sorted = malloc(n * sizeof *sorted);
		if (!sorted)
			return FAIL(e, "internal", "out of memory");
		memcpy(sorted, s->cand, n * sizeof *sorted);
		qsort(sorted, n, sizeof *sorted, cmp_id);
		for (size_t i = 1; i < n; i++)
			if (sorted[i].id == sorted[i - 1].id) {
				int32_t dup = sorted[i].id;
				free(sorted);
				return FAIL(e, "bad_request", "\"logits\": id %d appears twice", (int)dup);
			}
		free(sorted);
		*n_out = n;
		return true;
	}
	float *x = NULL;
	size_t n = 0;
	bool raw = s->raw_logits && json_is_string(v) && json_string_length(v) == 0;
	if (raw ? !codec_decode_base64_floats(s->raw_logits, s->raw_len, &x, &n, err, sizeof err) :
			!codec_decode_floats(v, &x, &n, err, sizeof err))
		return FAIL(e, "bad_request", "\"logits\": %s", err);
	if (n == 0 || (s->n_vocab && n != (size_t)s->n_vocab) || n > INT32_MAX) {
		free(x);
		if (n == 0)
			return FAIL(e, "bad_request", "\"logits\" is empty");
		return FAIL(e, "bad_request", "\"logits\" has %zu values; the vocabulary has %d", n,
				(int)s->n_vocab);
	}
	if (!grow_cand(s, n, e)) {
		free(x);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		s->cand[i] = (llorch_candidate){ .id = (int32_t)i, .logit = x[i] };
	free(x);
	*n_out = n;
	return true;
}

/* The stop strings of a line: its "stop" array, else the --stop options. */
static bool read_stops(const state *s, const json_t *in, const char **stops, size_t *n,
		line_error *e)
{
	const json_t *v = json_object_get(in, "stop");

	if (!v) {
		memcpy(stops, s->opt.stop, sizeof s->opt.stop);
		*n = s->opt.n_stop;
		return true;
	}
	if (!json_is_array(v) || json_array_size(v) > LLORCH_MAX_STOP)
		return FAIL(e, "bad_request", "\"stop\" must be an array of at most %d strings", LLORCH_MAX_STOP);
	for (size_t i = 0; i < json_array_size(v); i++) {
		stops[i] = json_string_value(json_array_get(v, i));
		if (!stops[i])
			return FAIL(e, "bad_request", "\"stop\"[%zu] is not a string", i);
	}
	*n = json_array_size(v);
	if (*n && !s->tok)
		return FAIL(e, "bad_request", "\"stop\" needs a model (-m) to match text");
	return true;
}

static bool append_bytes(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
	size_t need;
	if (!llorch_add_size(*len, n, &need) || !llorch_add_size(need, 1, &need))
		return false;
	if (need > *cap) {
		char *b = realloc(*buf, need * 2);
		if (!b)
			return false;
		*buf = b;
		*cap = need * 2;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

/* Whether the stop strings are those the hold-back matches. */
static bool same_stops(const llorch_stopstr *h, const char *const *stops, size_t n_stop)
{
	if (h->n_stop != n_stop)
		return false;
	for (size_t i = 0; i < n_stop; i++)
		if (strcmp(h->stop[i], stops[i]) != 0)
			return false;
	return true;
}

/* Remembers ids[0..n) and next as the tokens the decoder and the hold-back
 * have seen (false: out of memory, and nothing is remembered). */
static bool remember(state *s, const int32_t *ids, size_t n, int32_t next, size_t prompt)
{
	s->memo_n = 0;
	if (!grow_ids(&s->memo, &s->memo_cap, n + 1))
		return false;
	memcpy(s->memo, ids, n * sizeof *ids);
	s->memo[n] = next;
	s->memo_n = n + 1;
	s->memo_prompt = prompt;
	return true;
}

/* The text this step releases, exactly as the in-process loop streams it:
 * the tokens sampled before go through a streaming decoder (which starts a
 * text when the prompt ends in BOS) and the stop-string hold-back; what
 * the new token adds to the released text is this step's. Both depend only
 * on the bytes, not on how tokens cut them. At the end the held text comes
 * out. *matched: the stop string found, else -1.
 *
 * A line that continues the generation of the one before (its tokens those
 * of the last answer and more, the same prompt and stop strings) starts
 * from where that answer left the decoder and the hold-back; any other
 * line replays its sampled tokens from the prompt on. Replaying every line
 * made a generation's decoding quadratic: at 512 tokens, 14% of this
 * tool's time in the generation loop. */
static bool step_text(state *s, const int32_t *ids, size_t prompt, size_t n, int32_t next,
		bool at_eos, bool done, const char *const *stops, size_t n_stop, int *matched,
		line_error *e)
{
	llorch_status st = LLORCH_OK;
	const char *o;
	size_t ol, from = prompt;

	*matched = -1;
	if (s->memo_n && s->memo_prompt == prompt && n >= s->memo_n &&
			memcmp(ids, s->memo, s->memo_n * sizeof *ids) == 0 &&
			same_stops(&s->hold, stops, n_stop)) {
		from = s->memo_n;
	} else {
		if (s->hold_ready)
			llorch_stopstr_free(&s->hold);
		s->hold_ready = false;
		if (llorch_stopstr_init(&s->hold, stops, n_stop) != LLORCH_OK)
			return FAIL(e, "bad_request", "\"stop\": %s", llorch_last_error());
		s->hold_ready = true;
		llorch_detok_reset(s->detok, prompt == 0 || ids[prompt - 1] == llorch_tokenizer_bos(s->tok));
	}
	s->memo_n = 0;
	s->prev_len = s->text_len = s->out_len = 0;
	for (size_t i = from; i < n && st == LLORCH_OK; i++)
		st = llorch_detok_push(s->detok, ids[i], &s->prev, &s->prev_len, &s->prev_cap);
	if (st == LLORCH_OK && !at_eos)
		st = llorch_detok_push(s->detok, next, &s->text, &s->text_len, &s->text_cap);
	if (st == LLORCH_OK && done)
		st = llorch_detok_flush(s->detok, &s->text, &s->text_len, &s->text_cap);
	bool ok = st == LLORCH_OK;
	if (ok && s->prev_len)
		*matched = llorch_stopstr_push(&s->hold, s->prev, s->prev_len, &o, &ol, &st);
	if (ok && st == LLORCH_OK && *matched < 0 && s->text_len) {
		*matched = llorch_stopstr_push(&s->hold, s->text, s->text_len, &o, &ol, &st);
		ok = append_bytes(&s->out, &s->out_len, &s->out_cap, o, ol);
	}
	if (ok && st == LLORCH_OK && *matched < 0 && done) {
		st = llorch_stopstr_finish(&s->hold, &o, &ol);
		ok = append_bytes(&s->out, &s->out_len, &s->out_cap, o, ol);
	}
	if (!ok || st != LLORCH_OK)
		return FAIL(e, "internal", "decoding: %s", ok ? llorch_last_error() : "out of memory");
	/* a generation that goes on: remembered (without memory, the next
	 * line replays as every line once did) */
	if (!done && *matched < 0 && !at_eos)
		(void)remember(s, ids, n, next, prompt);
	return true;
}

static bool answer(state *s, json_t *in, line_error *e)
{
	size_t n = 0, n_cand = 0;
	llorch_sampler_params sp = s->opt.sp;
	long long ll, prompt, step, max_tokens = s->opt.max_tokens;
	bool have_prompt, have_step;
	const char *stops[LLORCH_MAX_STOP];
	size_t n_stop = 0;
	int matched = -1;

	if (!read_tokens(s, in, &n, e))
		return false;
	const int32_t *ids = s->ids;
	ll = sp.top_k;
	bool ok = get_number(in, "temperature", &sp.temperature, e) &&
		  get_int(in, "top_k", 0, INT32_MAX, &ll, NULL, e) &&
		  get_number(in, "top_p", &sp.top_p, e) && get_number(in, "min_p", &sp.min_p, e) &&
		  get_number(in, "repetition_penalty", &sp.repetition_penalty, e) && get_seed(in, &sp.seed, e);
	sp.top_k = (int32_t)ll;
	ll = sp.repeat_last_n;
	ok = ok && get_int(in, "repeat_last_n", -1, INT32_MAX, &ll, NULL, e);
	sp.repeat_last_n = (int32_t)ll;
	prompt = (long long)n;
	ok = ok && get_int(in, "prompt_tokens", 0, (long long)n, &prompt, &have_prompt, e);
	step = (long long)n - prompt;
	ok = ok && get_int(in, "step", 0, INT64_MAX, &step, &have_step, e) &&
	     get_int(in, "max_tokens", 0, INT32_MAX, &max_tokens, NULL, e);
	if (ok && llorch_sampler_params_check(&sp) != LLORCH_OK)
		ok = FAIL(e, "bad_request", "%s", llorch_last_error());
	ok = ok && read_stops(s, in, stops, &n_stop, e) && read_logits(s, in, &n_cand, e);
	if (!ok)
		return false;
	int32_t id = llorch_sample_chain(s->cand, n_cand, &sp, ids, n, (uint64_t)step);
	if (id < 0)
		return FAIL(e, "bad_logits", "%s", llorch_last_error());
	bool eos = s->tok && id == llorch_tokenizer_eos(s->tok);
	bool at_max = max_tokens > 0 && (long long)n + 1 - prompt >= max_tokens;
	const char *reason = eos ? "EOS" : at_max ? "MAX_TOKENS" : NULL;
	if (s->tok && !step_text(s, ids, (size_t)prompt, n, id, eos, reason != NULL, stops, n_stop,
			&matched, e))
		return false;
	if (matched >= 0)
		reason = "STOP_SEQUENCE";

	json_t *tokens = json_object_get(in, "tokens");
	int rc = json_array_append_new(tokens, json_integer(id));
	rc |= json_object_set_new(in, "token", json_integer(id));
	if (!have_prompt)
		rc |= json_object_set_new(in, "prompt_tokens", json_integer(prompt));
	if (sp.seed <= (uint64_t)INT64_MAX) {
		rc |= json_object_set_new(in, "seed", json_integer((json_int_t)sp.seed));
	} else {
		char buf[32];
		snprintf(buf, sizeof buf, "%" PRIu64, sp.seed);
		rc |= json_object_set_new(in, "seed", json_string(buf));
	}
	if (have_step)
		rc |= json_object_set_new(in, "step", json_integer(step + 1));
	if (s->tok)
		rc |= json_object_set_new(in, "text", json_stringn(s->out ? s->out : "", s->out_len));
	rc |= json_object_set_new(in, "done", json_boolean(reason != NULL));
	if (reason)
		rc |= json_object_set_new(in, "stop_reason", json_string(reason));
	else
		json_object_del(in, "stop_reason");
	if (matched >= 0)
		rc |= json_object_set_new(in, "stop_index", json_integer(matched));
	if (!s->opt.keep_logits)
		json_object_del(in, "logits");
	if (rc)
		return FAIL(e, "internal", "out of memory for the answer");
	return true;
}

/* The exit code that says more of two: an I/O error, then a missing FILE,
 * then a bad line. */
static int status_rank(int code)
{
	return code == EX_IOERR ? 3 : code == EX_NOINPUT ? 2 : code == EX_DATAERR ? 1 : 0;
}

static int worse_status(int a, int b)
{
	return status_rank(b) > status_rank(a) ? b : a;
}

/* Opens the FIFO for writing: it blocks until llorch-forward opens it for
 * reading (as the shell does for "<FIFO" as the pipeline starts). */
static void loop_open(state *s)
{
	const char *path = s->opt.loop_path;
	struct stat st;
	int fd;

	if (stat(path, &st) != 0)
		cli_die(errno == ENOENT ? EX_NOINPUT : EX_IOERR, "--loop %s: %s", path, strerror(errno));
	if (!S_ISFIFO(st.st_mode))
		cli_usage("--loop %s: not a FIFO (make one with mkfifo, and have llorch-forward read it)",
				path);
	do
		fd = open(path, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		cli_die(EX_IOERR, "--loop %s: %s", path, strerror(errno));
	s->loop.fd = fd;
}

static void loop_close(loop_state *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->waiting = false;
}

static void loop_write_failed(state *s)
{
	cli_warn("--loop %s: %s", s->opt.loop_path, strerror(errno));
	s->loop.status = worse_status(s->loop.status, EX_IOERR);
	loop_close(&s->loop);
}

/* Starts the next generation: its line from the FILEs goes into the loop.
 * When the FILEs are used up the FIFO is closed, so that llorch-forward
 * reaches the end of its input, and llorch-sample then the end of its own.
 * A line over --max-line never reaches llorch-forward: it is answered here.
 * false when writing stdout failed. */
static bool loop_next(state *s)
{
	loop_state *l = &s->loop;
	const char *line;
	size_t len;

	while (l->fd >= 0) {
		if (!l->in) {
			if (l->next_file == s->opt.n_start) {
				loop_close(l);
				break;
			}
			l->name = s->opt.start_files[l->next_file++];
			if (!(l->in = fopen(l->name, "r"))) {
				cli_warn("%s: %s", l->name, strerror(errno));
				l->status = worse_status(l->status, errno == ENOENT ? EX_NOINPUT : EX_IOERR);
				continue;
			}
			ndjson_reader_init(&l->r, l->in, (size_t)s->opt.max_line);
		}
		ndjson_read_result res = ndjson_read(&l->r, &line, &len);
		if (res == NDJSON_LINE) {
			/* the reader's buffer has room past the line for its '\n',
			 * so it goes in one write, and llorch-forward wakes once */
			l->r.buf[len] = '\n';
			if (!ndjson_write_fd(l->fd, l->r.buf, len + 1))
				loop_write_failed(s);
			else
				l->waiting = true;
			break;
		}
		if (res == NDJSON_TOO_LONG) {
			if (ndjson_write_too_long(stdout, l->name, l->r.lineno, l->r.max_line) < 0)
				return false;
			l->status = worse_status(l->status, EX_DATAERR);
			continue;
		}
		if (res == NDJSON_IOERR) {
			cli_warn("%s: read error", l->name);
			l->status = worse_status(l->status, EX_IOERR);
		}
		ndjson_reader_free(&l->r);
		fclose(l->in);
		l->in = NULL;
	}
	return true;
}

/* One input line: 0 answered, 1 error object written, -1 output failed. */
static int process_line(const char *line, size_t len, void *user)
{
	state *s = user;
	char perr[256];
	line_error e = { 0 };
	json_t *out = NULL;
	char *rest = NULL;
	size_t vs, ve;
	int rc;
	/* one line is in the loop at a time: this is its answer */
	bool ours = s->loop.waiting;

	s->loop.waiting = false;

	/* GPT-2's logits in base64 are 268 KB a line: parsing them as a JSON
	 * string (a copy, a UTF-8 check) cost more than all else llorch-sample
	 * does, so the string is cut out and decoded where it lies, and the
	 * parser sees "logits":"" */
	s->raw_logits = NULL;
	if (!s->opt.keep_logits && len > RAW_LOGITS_MIN &&
			ndjson_find_raw_string(line, len, "logits", &vs, &ve) && ve - vs >= RAW_LOGITS_MIN &&
			(rest = malloc(len - (ve - vs) + 1))) {
		memcpy(rest, line, vs);
		memcpy(rest + vs, line + ve, len - ve);
		rest[len - (ve - vs)] = '\0';
		s->raw_logits = line + vs;
		s->raw_len = ve - vs;
		line = rest;
		len -= ve - vs;
	}
	json_t *in = ndjson_parse_object(line, len, perr, sizeof perr);

	if (!in) {
		out = ndjson_error(NULL, "bad_json", "%s", perr);
		rc = 1;
	} else if (ours && json_object_get(in, "error")) {
		/* llorch-forward could not answer: that generation ends here,
		 * with the reason it gave */
		json_object_del(in, "logits");
		rc = 1;
	} else {
		json_object_del(in, "error");
		const json_t *done = json_object_get(in, "done");
		if (json_is_true(done)) {
			/* a finished generation passes through, so loops may overrun */
			if (!s->opt.keep_logits)
				json_object_del(in, "logits");
			rc = 0;
		} else if (answer(s, in, &e)) {
			rc = 0;
		} else {
			json_object_del(in, "logits");
			out = ndjson_error(in, e.code, "%s", e.msg);
			rc = 1;
		}
	}
	const json_t *res = out ? out : in;
	bool again = ours && rc == 0 && !json_is_true(json_object_get(res, "done"));
	int wr = ndjson_write_tee(stdout, again ? s->loop.fd : -1, res);
	if (wr == -2) {
		loop_write_failed(s);
		wr = ndjson_write(stdout, res);
	} else if (wr == 0 && again) {
		s->loop.waiting = true;
	}
	if (wr < 0 || (ours && !s->loop.waiting && !loop_next(s)))
		rc = -1;
	json_decref(out);
	json_decref(in);
	free(rest);
	s->raw_logits = NULL;
	return rc;
}

/* A line over --max-line, answered unread: when it is the loop's line
 * come back, its generation ends there. */
static int process_too_long(unsigned long long lineno, size_t max_line, void *user)
{
	state *s = user;
	bool ours = s->loop.waiting;

	s->loop.waiting = false;
	if (ndjson_write_too_long(stdout, NULL, lineno, max_line) < 0 || (ours && !loop_next(s)))
		return -1;
	return 1;
}

static void load(state *s)
{
	llorch_gguf *g;
	llorch_status st;

	if (!s->opt.model_path)
		return;
	if ((st = llorch_gguf_load(s->opt.model_path, &g)) != LLORCH_OK)
		cli_die_status(st, s->opt.model_path);
	st = llorch_tokenizer_load(g, &s->tok);
	llorch_gguf_free(g);
	if (st != LLORCH_OK)
		cli_die_status(st, "cannot load the tokenizer");
	if ((st = llorch_detok_new(s->tok, &s->detok)) != LLORCH_OK)
		cli_die_status(st, "cannot create the decoder");
	s->n_vocab = llorch_tokenizer_n_vocab(s->tok);
	if (s->opt.verbose)
		cli_warn("%s: vocabulary of %d tokens, EOS %d", s->opt.model_path, (int)s->n_vocab,
				(int)llorch_tokenizer_eos(s->tok));
}

int main(int argc, char **argv)
{
	state s = { 0 };

	cli_init("llorch-sample");
	parse_options(argc, argv, &s.opt);
	cli_set_verbose(s.opt.verbose);
	load(&s);
	s.loop.fd = -1;
	if (s.opt.loop_path) {
		loop_open(&s);
		if (!loop_next(&s))
			cli_die(EX_IOERR, "error writing stdout");
	}
	int rc = ndjson_filter_skips(stdin, (size_t)s.opt.max_line, process_line, process_too_long, &s);
	if (s.loop.waiting) {
		cli_warn("--loop %s: the input ended before the line sent into the loop came back "
			 "(did llorch-forward stop?)", s.opt.loop_path);
		rc = worse_status(rc, EX_IOERR);
	}
	loop_close(&s.loop);
	if (s.loop.in) {
		ndjson_reader_free(&s.loop.r);
		fclose(s.loop.in);
	}
	rc = worse_status(rc, s.loop.status);
	free(s.cand);
	free(s.text);
	free(s.prev);
	free(s.out);
	free(s.memo);
	free(s.ids);
	if (s.hold_ready)
		llorch_stopstr_free(&s.hold);
	llorch_detok_free(s.detok);
	llorch_tokenizer_free(s.tok);
	int crc = cli_close_stdout();
	return rc == EX_IOERR || !crc ? rc : crc;
}
