/* llorch-tokenize: text <-> token ids with a model's tokenizer.
 *
 * NDJSON by default: each input object gets "tokens" (or "text" with
 * --decode) added and every other field passed through. -p and --raw are for
 * shell use: plain ids on one line, or raw decoded bytes. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "common/cli.h"
#include "common/ndjson.h"
#include "llorch.h"
#include "utf8.h"

typedef struct {
	llorch_tokenizer *tok;
	bool decode, pieces, special, raw;
	int bos; /* -1: the model's default */
	const char *prompt;
	size_t max_line;
} options;

static void usage(void)
{
	printf("Usage: %s -m MODEL.gguf [OPTIONS] < in.ndjson > out.ndjson\n"
	       "       %s --encoder-json FILE --vocab-bpe FILE [OPTIONS]\n"
	       "       %s -m MODEL.gguf -p TEXT | --raw < text\n"
	       "\n"
	       "Adds \"tokens\" to every NDJSON object's \"text\" (or \"text\" to its \"tokens\"\n"
	       "with --decode); all other fields pass through.\n"
	       "\n"
	       "  -m, --model FILE         GGUF file whose tokenizer to use (metadata only)\n"
	       "      --encoder-json FILE  OpenAI GPT-2 encoder.json (with --vocab-bpe)\n"
	       "      --vocab-bpe FILE     OpenAI GPT-2 vocab.bpe\n"
	       "  -d, --decode             token ids to text\n"
	       "  -P, --pieces             also output each token's text as \"pieces\"\n"
	       "  -b, --bos                add the BOS token (default: as the model says)\n"
	       "  -B, --no-bos             do not add the BOS token\n"
	       "  -s, --special            special-token text like <|endoftext|> becomes its\n"
	       "                           token; with --decode, special tokens are rendered\n"
	       "  -p, --prompt TEXT        tokenize TEXT and print the ids on one line\n"
	       "                           (with --decode: TEXT is ids, print the text)\n"
	       "  -r, --raw                the whole standard input is one text (or, with\n"
	       "                           --decode, ids); output as with -p\n"
	       "      --max-line BYTES     longest NDJSON input line (default 64 MiB)\n"
	       "  -v, --verbose            log more on standard error\n"
	       "  -h, --help               show this help and exit\n"
	       "  -V, --version            show the version and exit\n",
	       cli_prog(), cli_prog(), cli_prog());
}

/* ---- JSON building ---- */

static json_t *bytes_array(const unsigned char *s, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(s[i]));
	return a;
}

/* A JSON string when s is valid UTF-8, else an array of its bytes (as
 * llama-server's /tokenize reports pieces). */
static json_t *text_or_bytes(const char *s, size_t n)
{
	if (utf8_valid((const unsigned char *)s, n))
		return json_stringn(s, n);
	return bytes_array((const unsigned char *)s, n);
}

/* s with every ill-formed sequence replaced by U+FFFD. */
static json_t *replace_invalid(const char *s, size_t n)
{
	char *buf = malloc(3 * n + 1);
	size_t o = 0;
	json_t *v;

	if (!buf)
		return NULL;
	for (size_t i = 0; i < n;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t k = utf8_char_len(p, n - i);

		if (k) {
			memcpy(buf + o, p, k);
			o += k;
			i += k;
		} else {
			memcpy(buf + o, UTF8_REPLACEMENT, 3);
			o += 3;
			i += utf8_bad_len(p, n - i);
		}
	}
	v = json_stringn(buf, o);
	free(buf);
	return v;
}

static json_t *pieces_array(const llorch_tokenizer *t, const int32_t *ids, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		size_t len;
		const char *p = llorch_token_text(t, ids[i], &len);

		if (json_array_append_new(a, text_or_bytes(p, len)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* ---- one NDJSON line ---- */

static json_t *encode_object(const options *o, json_t *in)
{
	json_t *text = json_object_get(in, "text");
	int32_t *ids = NULL;
	size_t n;
	llorch_status st;
	json_t *a;
	bool bos = o->bos < 0 ? llorch_tokenizer_adds_bos(o->tok) : o->bos;

	if (!text)
		return ndjson_error(in, "bad_request", "\"text\" is missing");
	if (!json_is_string(text))
		return ndjson_error(in, "bad_request", "\"text\" must be a string");
	st = llorch_tokenize(o->tok, json_string_value(text), json_string_length(text), bos,
			o->special, &ids, &n);
	if (st != LLORCH_OK)
		return ndjson_error(in, "tokenize_failed", "%s", llorch_last_error());
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(ids[i]));
	json_object_set_new(in, "tokens", a);
	if (o->pieces)
		json_object_set_new(in, "pieces", pieces_array(o->tok, ids, n));
	free(ids);
	json_incref(in);
	return in;
}

static json_t *decode_object(const options *o, json_t *in)
{
	json_t *tokens = json_object_get(in, "tokens"), *v;
	size_t n, i, len;
	int32_t *ids;
	char *text;
	int32_t n_vocab = llorch_tokenizer_n_vocab(o->tok);
	llorch_status st;

	if (!tokens)
		return ndjson_error(in, "bad_request", "\"tokens\" is missing");
	if (!json_is_array(tokens))
		return ndjson_error(in, "bad_request", "\"tokens\" must be an array of token ids");
	n = json_array_size(tokens);
	ids = malloc((n ? n : 1) * sizeof *ids);
	if (!ids)
		return ndjson_error(in, "internal", "no memory for %zu tokens", n);
	json_array_foreach(tokens, i, v) {
		json_int_t id;

		if (!json_is_integer(v)) {
			free(ids);
			return ndjson_error(in, "bad_request", "\"tokens\"[%zu] is not an integer", i);
		}
		id = json_integer_value(v);
		if (id < 0 || id >= n_vocab) {
			free(ids);
			return ndjson_error(in, "token_out_of_range", "\"tokens\"[%zu] = %lld is not "
					"a token id (vocabulary of %d)", i, (long long)id, n_vocab);
		}
		ids[i] = (int32_t)id;
	}
	st = llorch_detokenize(o->tok, ids, n, o->special, &text, &len);
	if (st != LLORCH_OK) {
		free(ids);
		return ndjson_error(in, "internal", "%s", llorch_last_error());
	}
	if (utf8_valid((const unsigned char *)text, len)) {
		json_object_set_new(in, "text", json_stringn(text, len));
		json_object_del(in, "bytes");
	} else {
		/* JSON strings are UTF-8: the exact bytes go alongside */
		json_object_set_new(in, "text", replace_invalid(text, len));
		json_object_set_new(in, "bytes", bytes_array((unsigned char *)text, len));
	}
	if (o->pieces)
		json_object_set_new(in, "pieces", pieces_array(o->tok, ids, n));
	free(text);
	free(ids);
	json_incref(in);
	return in;
}

/* Returns the number of lines that got an error object; -1 on an I/O error. */
static long long run_ndjson(const options *o)
{
	ndjson_reader r;
	const char *line;
	size_t len;
	long long failed = 0;
	ndjson_read_result rr;

	ndjson_reader_init(&r, stdin, o->max_line);
	while ((rr = ndjson_read(&r, &line, &len)) != NDJSON_EOF) {
		char err[256];
		json_t *in = NULL, *res;

		if (rr == NDJSON_IOERR) {
			cli_warn("error reading standard input");
			ndjson_reader_free(&r);
			return -1;
		}
		if (rr == NDJSON_TOO_LONG)
			res = ndjson_error(NULL, "line_too_long", "line %llu is longer than %zu bytes",
					r.lineno, r.max_line);
		else if (!(in = ndjson_parse_object(line, len, err, sizeof err)))
			res = ndjson_error(NULL, "bad_json", "line %llu: %s", r.lineno, err);
		else
			res = o->decode ? decode_object(o, in) : encode_object(o, in);
		if (!res || json_object_get(res, "error"))
			failed++;
		if (!res || ndjson_write(stdout, res) != 0) {
			json_decref(res);
			json_decref(in);
			ndjson_reader_free(&r);
			return -1;
		}
		json_decref(res);
		json_decref(in);
	}
	ndjson_reader_free(&r);
	return failed;
}

/* ---- plain mode (-p, --raw) ---- */

/* All of f, at most max bytes (else exit 65). */
static char *read_all(FILE *f, size_t max, size_t *len)
{
	size_t n = 0, cap = 1 << 16;
	char *buf = malloc(cap);

	while (buf) {
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		n += got;
		if (n > max)
			cli_die(EX_DATAERR, "standard input is longer than %zu bytes (--max-line)", max);
		if (got == 0)
			break;
		if (cap - n - 1 == 0) {
			char *b = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;

			if (!b) {
				free(buf);
				return NULL;
			}
			buf = b;
			cap *= 2;
		}
	}
	if (!buf)
		cli_die(EX_OSERR, "out of memory reading standard input");
	if (ferror(f))
		cli_die(EX_IOERR, "error reading standard input");
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* printf per id is most of the time of -r on large inputs */
static void put_id(int32_t id, bool space)
{
	char buf[16], *p = buf + sizeof buf;
	uint32_t v = (uint32_t)id;

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	if (space)
		*--p = ' ';
	fwrite(p, 1, (size_t)(buf + sizeof buf - p), stdout);
}

static int plain_encode(const options *o, const char *text, size_t len)
{
	int32_t *ids;
	size_t n;
	bool bos = o->bos < 0 ? llorch_tokenizer_adds_bos(o->tok) : o->bos;
	llorch_status st = llorch_tokenize(o->tok, text, len, bos, o->special, &ids, &n);

	if (st != LLORCH_OK)
		cli_die_status(st, "tokenize");
	for (size_t i = 0; i < n; i++) {
		if (o->pieces) {
			size_t plen;
			const char *p = llorch_token_text(o->tok, ids[i], &plen);
			json_t *v = text_or_bytes(p, plen);

			printf("%d\t", ids[i]);
			json_dumpf(v, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
			putchar('\n');
			json_decref(v);
		} else {
			put_id(ids[i], i > 0);
		}
	}
	if (!o->pieces)
		putchar('\n');
	free(ids);
	return 0;
}

/* Ids separated by spaces, commas or newlines, optionally in [ ] (so that
 * both "1 2 3" and "[1, 2, 3]" work). */
static int plain_decode(const options *o, const char *s, bool newline)
{
	size_t n = 0, cap = 64;
	int32_t *ids = malloc(cap * sizeof *ids);
	int32_t n_vocab = llorch_tokenizer_n_vocab(o->tok);
	char *text;
	size_t len;
	llorch_status st;

	while (ids && *s) {
		char *end;
		long long v;

		if (strchr(" \t\r\n,[]", *s)) {
			s++;
			continue;
		}
		v = strtoll(s, &end, 10);
		if (end == s || !strchr(" \t\r\n,[]", *end))
			cli_die(EX_DATAERR, "not a token id: \"%.20s\"", s);
		if (v < 0 || v >= n_vocab)
			cli_die(EX_DATAERR, "token id %lld is out of range (vocabulary of %d)", v,
					n_vocab);
		if (n == cap) {
			int32_t *b = realloc(ids, 2 * cap * sizeof *ids);

			if (!b)
				break;
			ids = b;
			cap *= 2;
		}
		ids[n++] = (int32_t)v;
		s = end;
	}
	if (!ids || *s)
		cli_die(EX_OSERR, "out of memory");
	st = llorch_detokenize(o->tok, ids, n, o->special, &text, &len);
	if (st != LLORCH_OK)
		cli_die_status(st, "decode");
	fwrite(text, 1, len, stdout);
	if (newline)
		putchar('\n');
	free(text);
	free(ids);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_ENCODER = 256, OPT_VOCAB, OPT_MAX_LINE };
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"encoder-json", required_argument, NULL, OPT_ENCODER},
		{"vocab-bpe", required_argument, NULL, OPT_VOCAB},
		{"decode", no_argument, NULL, 'd'},
		{"pieces", no_argument, NULL, 'P'},
		{"bos", no_argument, NULL, 'b'},
		{"no-bos", no_argument, NULL, 'B'},
		{"special", no_argument, NULL, 's'},
		{"prompt", required_argument, NULL, 'p'},
		{"raw", no_argument, NULL, 'r'},
		{"max-line", required_argument, NULL, OPT_MAX_LINE},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	options o = {.bos = -1, .max_line = NDJSON_DEFAULT_MAX_LINE};
	const char *model = NULL, *encoder = NULL, *vocab = NULL;
	llorch_status st;
	long long failed;
	int c, rc;

	cli_init("llorch-tokenize");
	while ((c = getopt_long(argc, argv, "m:dPbBsp:rvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case OPT_ENCODER: encoder = optarg; break;
		case OPT_VOCAB: vocab = optarg; break;
		case 'd': o.decode = true; break;
		case 'P': o.pieces = true; break;
		case 'b': o.bos = 1; break;
		case 'B': o.bos = 0; break;
		case 's': o.special = true; break;
		case 'p': o.prompt = optarg; break;
		case 'r': o.raw = true; break;
		case OPT_MAX_LINE:
			o.max_line = cli_parse_max_line(optarg);
			break;
		case 'v': cli_set_verbose(true); break;
		case 'h':
			usage();
			return cli_close_stdout();
		case 'V': cli_version();
		default: cli_usage("unknown option");
		}
	}
	if (optind < argc)
		cli_usage("unexpected argument: %s", argv[optind]);
	if (!model == !(encoder || vocab))
		cli_usage("give either -m MODEL.gguf or --encoder-json and --vocab-bpe");
	if (!model && !(encoder && vocab))
		cli_usage("--encoder-json and --vocab-bpe go together");
	if (o.prompt && o.raw)
		cli_usage("-p and --raw exclude each other");
	if (model) {
		llorch_gguf *g;

		if ((st = llorch_gguf_load(model, &g)) != LLORCH_OK)
			cli_die_status(st, "loading the model");
		st = llorch_tokenizer_load(g, &o.tok);
		llorch_gguf_free(g);
		if (st != LLORCH_OK)
			cli_die_status(st, "loading the model");
	} else if ((st = llorch_tokenizer_load_gpt2_files(encoder, vocab, &o.tok)) != LLORCH_OK) {
		cli_die_status(st, "loading the GPT-2 files");
	}
	if (o.prompt) {
		rc = o.decode ? plain_decode(&o, o.prompt, true)
			: plain_encode(&o, o.prompt, strlen(o.prompt));
	} else if (o.raw) {
		size_t len = 0;
		char *all = read_all(stdin, o.max_line, &len);

		rc = o.decode ? plain_decode(&o, all, false) : plain_encode(&o, all, len);
		free(all);
	} else {
		failed = run_ndjson(&o);
		rc = failed < 0 ? EX_IOERR : failed > 0 ? EX_DATAERR : 0;
	}
	llorch_tokenizer_free(o.tok);
	c = cli_close_stdout();
	return rc ? rc : c;
}
