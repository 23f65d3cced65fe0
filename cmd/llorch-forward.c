/* llorch-forward: NDJSON in, NDJSON out. Each input object's "tokens" (the
 * whole sequence so far) is run through the model and the object is written
 * back with the next-token "logits" added. The KV cache is kept between
 * lines: a line that extends the previous sequence costs only its new
 * tokens. See llorch-forward(1). */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <time.h>

#include "common/cli.h"
#include "llorch.h"
#include "common/logits_codec.h"
#include "common/ndjson.h"

static const char usage_text[] =
	"Usage: llorch-forward -m MODEL.gguf [OPTION]...\n"
	"Reads NDJSON objects with \"tokens\" (the sequence so far) on stdin and writes\n"
	"each back with the next-token \"logits\" added; other fields pass through.\n"
	"\n"
	"  -m, --model FILE       the GGUF model (gpt2 or llama architecture)\n"
	"  -t, --threads N        threads (default: the cores available)\n"
	"  -c, --ctx N            context positions (default: the model's, at most 131072)\n"
	"  -b, --batch N          prompt tokens per matrix-matrix pass (default 512)\n"
	"      --kv-type TYPE     KV cache values: f32 (default), f16 (half the\n"
	"                         memory, faster decode on long contexts) or q8_0\n"
	"                         (a quarter, faster still; head size a multiple of 32)\n"
	"  -l, --logits ENC       json (default) or base64 (little-endian float32)\n"
	"  -k, --top N            only the N largest logits, as [[id, logit], ...]\n"
	"  -a, --all-positions    logits for every position, not only the last\n"
	"  -d, --dump NAMES       add intermediate activations under \"dump\": a comma-\n"
	"                         separated list of embd, attn_norm, attn_out, ffn_norm,\n"
	"                         ffn_out, layer_out, output_norm, logits, or all\n"
	"      --ref              use the naive scalar reference forward pass (slow)\n"
	"  -S, --slots N          keep N sequences' caches (default 1); each line goes\n"
	"                         to the one sharing its longest prefix, else the\n"
	"                         least recently used\n"
	"  -s, --stats            add \"stats\": {\"cached\", \"evaluated\", \"ms\", \"slot\"}\n"
	"      --max-line BYTES   longest input line accepted (default 64 MiB)\n"
	"  -v, --verbose          log loading and per-line statistics on stderr\n"
	"  -h, --help             show this help and exit\n"
	"  -V, --version          show the version and exit\n"
	"\n"
	"Exit status: 0 all lines answered, 65 some line got an error object (or a bad\n"
	"model), 64 usage, 66 model not found, 74 I/O error.\n";

enum { ENC_JSON, ENC_BASE64 };

static const char *const dump_names[] = {
	"embd", "attn_norm", "attn_out", "ffn_norm", "ffn_out", "layer_out", "output_norm", "logits",
};
#define N_DUMP (sizeof dump_names / sizeof dump_names[0])

static bool dump_is_layer(size_t i)
{
	return i >= 1 && i <= 5;
}

typedef struct {
	const char *model_path;
	long long threads, n_ctx, n_batch, top, slots;
	int enc;
	bool all_positions, ref, stats, verbose;
	unsigned dump_mask;
	unsigned long long max_line;
	llorch_dtype kv_type;
} options;

typedef struct {
	options opt;
	llorch_model *model;
	int32_t n_vocab, n_embd, n_layer;
	/* one sequence's cache each; a line goes to the best one */
	struct slot {
		llorch_ctx *ctx;
		int32_t *cached;   /* (n_ctx): the tokens whose positions the cache holds */
		unsigned long long used;   /* line number of the last use */
	} *slots;
	int n_slots;
	llorch_ctx *ctx;       /* the current line's slot's */
	float *logits;
	size_t logits_cap;     /* floats */
	/* activations collected by the dump callback for the current line */
	float *dump[N_DUMP];
	int64_t dump_dim[N_DUMP];
	int32_t dump_pos;
	unsigned long long lines;   /* answered so far, for least-recently-used */
	/* totals for --verbose: lines that evaluated several tokens (prompts)
	 * and lines that evaluated one (decode steps) */
	long long prompt_tokens, decode_tokens;
	double prompt_ms, decode_ms;
} state;

static unsigned parse_dump(const char *arg)
{
	unsigned mask = 0;
	char *copy = strdup(arg), *save = NULL;

	if (!copy)
		cli_die(EX_OSERR, "out of memory");
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;
		if (strcmp(tok, "all") == 0) {
			mask = (1u << N_DUMP) - 1;
			continue;
		}
		for (i = 0; i < N_DUMP && strcmp(tok, dump_names[i]) != 0; i++)
			;
		if (i == N_DUMP) {
			char name[64];
			snprintf(name, sizeof name, "%s", tok);
			free(copy);
			cli_usage("--dump: unknown activation '%s'", name);
		}
		mask |= 1u << i;
	}
	free(copy);
	if (!mask)
		cli_usage("--dump: no activation named");
	return mask;
}

static void parse_options(int argc, char **argv, options *o)
{
	enum { OPT_REF = 256, OPT_MAX_LINE, OPT_KV_TYPE };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 't' },
		{ "ctx", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'b' },
		{ "kv-type", required_argument, NULL, OPT_KV_TYPE },
		{ "logits", required_argument, NULL, 'l' },
		{ "top", required_argument, NULL, 'k' },
		{ "all-positions", no_argument, NULL, 'a' },
		{ "dump", required_argument, NULL, 'd' },
		{ "ref", no_argument, NULL, OPT_REF },
		{ "stats", no_argument, NULL, 's' },
		{ "slots", required_argument, NULL, 'S' },
		{ "max-line", required_argument, NULL, OPT_MAX_LINE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	*o = (options){ .enc = ENC_JSON, .slots = 1 };
	while ((c = getopt_long(argc, argv, "m:t:c:b:l:k:ad:sS:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->model_path = optarg;
			break;
		case 't':
			if (!cli_parse_long(optarg, 1, 512, &o->threads))
				cli_usage("--threads: '%s' is not a number in [1, 512]", optarg);
			break;
		case 'c':
			if (!cli_parse_long(optarg, 1, LLORCH_MAX_CTX, &o->n_ctx))
				cli_usage("--ctx: '%s' is not a number in [1, %d]", optarg, LLORCH_MAX_CTX);
			break;
		case 'b':
			if (!cli_parse_long(optarg, 1, LLORCH_MAX_CTX, &o->n_batch))
				cli_usage("--batch: '%s' is not a number in [1, %d]", optarg, LLORCH_MAX_CTX);
			break;
		case 'l':
			if (strcmp(optarg, "json") == 0)
				o->enc = ENC_JSON;
			else if (strcmp(optarg, "base64") == 0)
				o->enc = ENC_BASE64;
			else
				cli_usage("--logits: '%s' is not json or base64", optarg);
			break;
		case 'k':
			if (!cli_parse_long(optarg, 1, 1 << 24, &o->top))
				cli_usage("--top: '%s' is not a number in [1, %d]", optarg, 1 << 24);
			break;
		case 'a':
			o->all_positions = true;
			break;
		case 'd':
			o->dump_mask |= parse_dump(optarg);
			break;
		case OPT_REF:
			o->ref = true;
			break;
		case OPT_KV_TYPE:
			o->kv_type = cli_parse_kv_type(optarg, "--kv-type");
			break;
		case 's':
			o->stats = true;
			break;
		case 'S':
			if (!cli_parse_long(optarg, 1, 64, &o->slots))
				cli_usage("--slots: '%s' is not a number in [1, 64]", optarg);
			break;
		case OPT_MAX_LINE:
			o->max_line = cli_parse_max_line(optarg);
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
	if (optind < argc)
		cli_usage("unexpected argument '%s'", argv[optind]);
	if (!o->model_path)
		cli_usage("no model: give -m MODEL.gguf");
	if (o->top && o->enc == ENC_BASE64)
		cli_usage("--top and --logits base64 exclude each other");
}

static void on_dump(const char *name, int32_t layer, int32_t pos, const float *x, int64_t n,
		void *user)
{
	state *s = user;

	for (size_t i = 0; i < N_DUMP; i++) {
		if (!s->dump[i] || strcmp(name, dump_names[i]) != 0 || n != s->dump_dim[i] ||
				pos < 0 || pos >= s->dump_pos)
			continue;
		size_t row = (size_t)pos;
		if (dump_is_layer(i)) {
			if (layer < 0 || layer >= s->n_layer)
				continue;
			row += (size_t)layer * (size_t)s->dump_pos;
		}
		memcpy(s->dump[i] + row * (size_t)n, x, (size_t)n * sizeof *x);
	}
}

static void free_dump(state *s)
{
	for (size_t i = 0; i < N_DUMP; i++) {
		free(s->dump[i]);
		s->dump[i] = NULL;
	}
}

static bool alloc_dump(state *s, int32_t n_pos)
{
	s->dump_pos = n_pos;
	for (size_t i = 0; i < N_DUMP; i++) {
		if (!(s->opt.dump_mask & (1u << i)))
			continue;
		s->dump_dim[i] = i == N_DUMP - 1 ? s->n_vocab : s->n_embd;
		size_t rows = (size_t)n_pos * (dump_is_layer(i) ? (size_t)s->n_layer : 1);
		s->dump[i] = calloc(rows * (size_t)s->dump_dim[i], sizeof(float));
		if (!s->dump[i]) {
			free_dump(s);
			return false;
		}
	}
	return true;
}

/* "dump": {"name": rows...}: per position, and per layer for the block ones. */
static void write_dump(const state *s, strbuf *b)
{
	bool first = true;

	strbuf_puts(b, ",\"dump\":{");
	for (size_t i = 0; i < N_DUMP; i++) {
		if (!s->dump[i])
			continue;
		strbuf_puts(b, first ? "\"" : ",\"");
		strbuf_puts(b, dump_names[i]);
		strbuf_puts(b, "\":[");
		int32_t layers = dump_is_layer(i) ? s->n_layer : 1;
		for (int32_t l = 0; l < layers; l++) {
			if (dump_is_layer(i))
				strbuf_puts(b, l ? ",[" : "[");
			for (int32_t p = 0; p < s->dump_pos; p++) {
				if (p)
					strbuf_puts(b, ",");
				size_t row = (size_t)l * (size_t)s->dump_pos + (size_t)p;
				codec_json_floats(b, s->dump[i] + row * (size_t)s->dump_dim[i], s->dump_dim[i]);
			}
			if (dump_is_layer(i))
				strbuf_puts(b, "]");
		}
		strbuf_puts(b, "]");
		first = false;
	}
	strbuf_puts(b, "}");
}

static void encode_row(const state *s, strbuf *b, const float *x)
{
	if (s->opt.top)
		codec_top_floats(b, x, s->n_vocab, s->opt.top);
	else
		codec_json_floats(b, x, s->n_vocab);
}

static void write_logits(const state *s, strbuf *b, int32_t n_rows)
{
	strbuf_puts(b, ",\"logits\":");
	if (s->opt.enc == ENC_BASE64) {
		codec_base64_floats(b, s->logits, (int64_t)n_rows * s->n_vocab);
		return;
	}
	if (!s->opt.all_positions) {
		encode_row(s, b, s->logits);
		return;
	}
	strbuf_puts(b, "[");
	for (int32_t r = 0; r < n_rows; r++) {
		if (r)
			strbuf_puts(b, ",");
		encode_row(s, b, s->logits + (size_t)r * (size_t)s->n_vocab);
	}
	strbuf_puts(b, "]");
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct {
	const char *code;
	char msg[512];
} line_error;

#define FAIL(e, c, ...) (snprintf((e)->msg, sizeof (e)->msg, __VA_ARGS__), (e)->code = (c), false)

/* The tokens of the request, checked: ids in range, fits the context. */
static bool read_tokens(const state *s, const json_t *in, int32_t **out, int32_t *n,
		line_error *e)
{
	const json_t *arr = json_object_get(in, "tokens");

	if (!arr)
		return FAIL(e, "bad_request", "no \"tokens\" field");
	if (!json_is_array(arr))
		return FAIL(e, "bad_request", "\"tokens\" is not an array");
	size_t len = json_array_size(arr);
	if (len == 0)
		return FAIL(e, "bad_request", "\"tokens\" is empty: nothing to predict from");
	int32_t n_ctx = llorch_ctx_n_ctx(s->slots[0].ctx);
	if (len > (size_t)n_ctx)
		return FAIL(e, "context_overflow", "%zu tokens do not fit in the context of %d "
				"positions", len, n_ctx);
	int32_t *ids = malloc(len * sizeof *ids);
	if (!ids)
		return FAIL(e, "internal", "out of memory");
	for (size_t i = 0; i < len; i++) {
		const json_t *v = json_array_get(arr, i);
		if (!json_is_integer(v)) {
			free(ids);
			return FAIL(e, "bad_request", "\"tokens\"[%zu] is not an integer", i);
		}
		json_int_t id = json_integer_value(v);
		if (id < 0 || id >= s->n_vocab) {
			free(ids);
			return FAIL(e, "token_out_of_range", "\"tokens\"[%zu] = %lld is out of range "
					"[0, %d)", i, (long long)id, s->n_vocab);
		}
		ids[i] = (int32_t)id;
	}
	*out = ids;
	*n = (int32_t)len;
	return true;
}

/* How many leading tokens slot sl already holds for this sequence. */
static int32_t common_prefix(const struct slot *sl, const int32_t *ids, int32_t n)
{
	int32_t have = llorch_ctx_n_past(sl->ctx), k = 0;

	while (k < have && k < n && sl->cached[k] == ids[k])
		k++;
	return k;
}

/* The slot for this sequence: the longest common prefix, ties and misses to
 * the least recently used. Returns the positions to keep. */
static int32_t choose_slot(state *s, const int32_t *ids, int32_t n, int *which)
{
	int best = 0;
	int32_t best_k = -1;

	for (int i = 0; i < s->n_slots; i++) {
		/* every position is recomputed when every position is reported */
		int32_t k = s->opt.all_positions || s->opt.dump_mask ? 0 :
			common_prefix(&s->slots[i], ids, n);
		if (k > best_k || (k == best_k && s->slots[i].used < s->slots[best].used)) {
			best = i;
			best_k = k;
		}
	}
	*which = best;
	s->ctx = s->slots[best].ctx;
	/* the last token is always fed: its logits are the answer */
	return best_k < n ? best_k : n - 1;
}

static bool ensure_logits(state *s, int32_t rows)
{
	size_t need = (size_t)rows * (size_t)s->n_vocab;

	if (need <= s->logits_cap)
		return true;
	float *p = realloc(s->logits, need * sizeof *p);
	if (!p)
		return false;
	s->logits = p;
	s->logits_cap = need;
	return true;
}

/* Evaluates one request and writes its answer to b (after the input's
 * fields). false with e set when the line gets an error object instead. */
static bool answer(state *s, json_t *in, strbuf *b, line_error *e)
{
	int32_t *ids, n;

	if (!read_tokens(s, in, &ids, &n, e))
		return false;
	int slot;
	int32_t keep = choose_slot(s, ids, n, &slot);
	struct slot *sl = &s->slots[slot];
	int32_t rows = s->opt.all_positions ? n : 1;
	if (!ensure_logits(s, rows) || (s->opt.dump_mask && !alloc_dump(s, n))) {
		free(ids);
		return FAIL(e, "internal", "out of memory for %d rows of logits", rows);
	}
	llorch_ctx_truncate(s->ctx, keep);
	double t0 = now_ms();
	llorch_status st = (s->opt.ref ? llorch_ctx_eval_ref : llorch_ctx_eval)(s->ctx,
			ids + keep, n - keep, s->logits, s->opt.all_positions);
	double ms = now_ms() - t0;
	/* whatever was evaluated, the cache now holds these positions */
	memcpy(sl->cached, ids, (size_t)llorch_ctx_n_past(s->ctx) * sizeof *ids);
	sl->used = ++s->lines;
	free(ids);
	if (st != LLORCH_OK) {
		free_dump(s);
		return FAIL(e, st == LLORCH_E_RANGE ? "context_overflow" : "internal", "%s",
				llorch_last_error());
	}
	if (n - keep > 1) {
		s->prompt_tokens += n - keep;
		s->prompt_ms += ms;
	} else {
		s->decode_tokens++;
		s->decode_ms += ms;
	}
	if (s->opt.verbose)
		cli_warn("%d tokens: %d cached, %d evaluated in %.1f ms", n, keep, n - keep, ms);
	write_logits(s, b, rows);
	if (s->opt.dump_mask) {
		write_dump(s, b);
		free_dump(s);
	}
	if (s->opt.stats) {
		char tmp[128];
		snprintf(tmp, sizeof tmp, ",\"stats\":{\"cached\":%d,\"evaluated\":%d,\"ms\":%.3f,"
				"\"slot\":%d}", keep, n - keep, ms, slot);
		strbuf_puts(b, tmp);
	}
	return true;
}

static int write_error(json_t *in, const line_error *e)
{
	json_t *err = ndjson_error(in, e->code, "%s", e->msg);
	int rc = err ? ndjson_write(stdout, err) : -1;

	json_decref(err);
	return rc;
}

/* One input line: 0 answered, 1 error object written, -1 output failed. */
static int process_line(const char *line, size_t len, void *user)
{
	state *s = user;
	char perr[256];
	line_error e = { 0 };
	json_t *in = ndjson_parse_object(line, len, perr, sizeof perr);

	if (!in) {
		e.code = "bad_json";
		snprintf(e.msg, sizeof e.msg, "%s", perr);
		return write_error(NULL, &e) < 0 ? -1 : 1;
	}
	/* fields we write replace any the input carried */
	json_object_del(in, "logits");
	json_object_del(in, "dump");
	json_object_del(in, "stats");
	json_object_del(in, "error");
	strbuf b = { 0 };
	char *head = json_dumps(in, JSON_COMPACT);
	int rc;
	if (!head) {
		e.code = "internal";
		snprintf(e.msg, sizeof e.msg, "out of memory");
		rc = write_error(in, &e) < 0 ? -1 : 1;
	} else {
		/* the input object without its closing brace, then our fields */
		size_t hl = strlen(head);
		strbuf_append(&b, head, hl - 1);
		size_t mark = b.len;
		free(head);
		if (!answer(s, in, &b, &e)) {
			rc = write_error(in, &e) < 0 ? -1 : 1;
		} else if (b.failed) {
			e.code = "internal";
			snprintf(e.msg, sizeof e.msg, "out of memory for the answer");
			rc = write_error(in, &e) < 0 ? -1 : 1;
		} else {
			/* "{,"logits":..." -> "{"logits":..." for an object with no other field */
			if (mark == 1)
				memmove(b.p + 1, b.p + 2, --b.len - 1);
			strbuf_puts(&b, "}\n");
			rc = b.failed || fwrite(b.p, 1, b.len, stdout) != b.len || fflush(stdout) ? -1 : 0;
		}
	}
	strbuf_free(&b);
	json_decref(in);
	return rc;
}

static void load(state *s)
{
	llorch_status st = llorch_model_load(s->opt.model_path, &s->model);

	if (st != LLORCH_OK)
		cli_die_status(st, "cannot load the model");
	const llorch_hparams *hp = llorch_model_hparams(s->model);
	llorch_ctx_params p = llorch_ctx_default_params();
	p.n_threads = (int32_t)s->opt.threads;
	p.n_ctx = (int32_t)s->opt.n_ctx;
	p.n_batch = (int32_t)s->opt.n_batch;
	p.kv_type = s->opt.kv_type;
	s->n_slots = (int)s->opt.slots;
	if (!(s->slots = calloc((size_t)s->n_slots, sizeof *s->slots)))
		cli_die(EX_OSERR, "out of memory");
	for (int i = 0; i < s->n_slots; i++) {
		struct slot *sl = &s->slots[i];
		if ((st = llorch_ctx_new(s->model, &p, &sl->ctx)) != LLORCH_OK)
			cli_die_status(st, st == LLORCH_E_NOMEM ? "cannot create the context "
					"(a smaller --ctx needs less memory)" : "cannot create the context");
		sl->cached = malloc((size_t)llorch_ctx_n_ctx(sl->ctx) * sizeof *sl->cached);
		if (!sl->cached)
			cli_die(EX_OSERR, "out of memory");
		if (s->opt.dump_mask)
			llorch_ctx_set_dump(sl->ctx, on_dump, s);
	}
	s->ctx = s->slots[0].ctx;
	s->n_vocab = hp->n_vocab;
	s->n_embd = hp->n_embd;
	s->n_layer = hp->n_layer;
	if (s->opt.verbose)
		cli_warn("%s: %s, %d layers, %d embd, %d vocab; %d x %d positions, %.1f MiB each",
				llorch_model_name(s->model), llorch_model_arch_name(s->model),
				hp->n_layer, hp->n_embd, hp->n_vocab, s->n_slots, llorch_ctx_n_ctx(s->ctx),
				(double)llorch_ctx_memory_bytes(s->ctx) / (1 << 20));
}

int main(int argc, char **argv)
{
	state s = { 0 };

	cli_init("llorch-forward");
	parse_options(argc, argv, &s.opt);
	cli_set_verbose(s.opt.verbose);
	load(&s);
	ndjson_widen_pipe(STDOUT_FILENO, 1 << 20);
	int rc = ndjson_filter(stdin, (size_t)s.opt.max_line, process_line, &s);
	if (s.opt.verbose)
		cli_warn("prompts: %lld tokens in %.0f ms (%.1f tokens/s); single tokens: %lld in "
				"%.0f ms (%.1f tokens/s)", s.prompt_tokens, s.prompt_ms,
				s.prompt_ms > 0 ? (double)s.prompt_tokens * 1e3 / s.prompt_ms : 0.0,
				s.decode_tokens, s.decode_ms,
				s.decode_ms > 0 ? (double)s.decode_tokens * 1e3 / s.decode_ms : 0.0);
	for (int i = 0; i < s.n_slots; i++) {
		free(s.slots[i].cached);
		llorch_ctx_free(s.slots[i].ctx);
	}
	free(s.slots);
	free(s.logits);
	llorch_model_free(s.model);
	int crc = cli_close_stdout();
	return rc == EX_IOERR || !crc ? rc : crc;
}
