/* The subcommands that write a model: convert-llama2c, random, quantize. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "../common/cli.h"
#include "tool.h"

void option_error(int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		cli_usage("%s: option '%s' needs a value", argv[0], arg);
	if (optopt && strncmp(arg, "--", 2) != 0)
		cli_usage("%s: unknown option '-%c'", argv[0], optopt);
	cli_usage("%s: unknown option '%s'", argv[0], arg);
}

void check_output_path(const char *path)
{
	struct stat st;
	const char *slash = strrchr(path, '/');
	char *dir;

	if (!*path)
		cli_usage("the output path is empty");
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		cli_die(EX_CANTCREAT, "cannot create %s: it is a directory", path);
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		cli_die(EX_OSERR, "out of memory");
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(dir);
		cli_die(EX_CANTCREAT, "cannot create %s: no such directory", path);
	}
	if (access(dir, W_OK | X_OK) != 0) {
		int e = errno;

		free(dir);
		cli_die(EX_CANTCREAT, "cannot create %s: %s", path, strerror(e));
	}
	free(dir);
}

/* ---- convert-llama2c ---- */

static const char convert_usage[] =
	"Usage: llorch-gguf convert-llama2c [--name NAME] -o OUT.gguf MODEL.bin TOKENIZER.bin\n"
	"Converts a llama2.c checkpoint (legacy version 0 export) and its tokenizer.bin\n"
	"into a llama GGUF (f32 tensors, as stored) that llorch and llama.cpp load.\n"
	"\n"
	"  -o, --output OUT.gguf  the file to write (required)\n"
	"      --name NAME        general.name (default: MODEL's file name, no extension)\n"
	"  -h, --help             this help\n";

int cmd_convert_llama2c(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"name", required_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL, *name = NULL;
	llorch_status st;
	int c;

	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'N': name = optarg; break;
		case 'h':
			fputs(convert_usage, stdout);
			return cli_close_stdout();
		default:
			option_error(c, argv);
		}
	}
	if (argc - optind != 2)
		cli_usage("convert-llama2c: need MODEL.bin and TOKENIZER.bin (got %d arguments)", argc - optind);
	if (!out)
		cli_usage("convert-llama2c: no output file (-o OUT.gguf)");
	check_output_path(out);
	st = llorch_convert_llama2c(argv[optind], argv[optind + 1], out, name, NULL);
	if (st)
		cli_die_status(st, "convert-llama2c");
	return cli_close_stdout();
}

/* ---- random ---- */

static const char random_usage[] =
	"Usage: llorch-gguf random --arch gpt2|llama [OPTION]... -o OUT.gguf\n"
	"Writes a model with deterministic pseudo-random weights: the same options\n"
	"give a byte-identical file.\n"
	"\n"
	"  -a, --arch ARCH      gpt2 or llama (required)\n"
	"  -o, --output FILE    the file to write (required)\n"
	"      --n-embd N       embedding width (default 64)\n"
	"      --n-layer N      blocks (default 2)\n"
	"      --n-head N       attention heads (default 4)\n"
	"      --n-head-kv N    llama: key/value heads, dividing n-head (default n-head)\n"
	"      --n-ff N         feed-forward width (default gpt2 4*n-embd,\n"
	"                       llama 8/3*n-embd rounded up to 32)\n"
	"      --n-ctx N        context length (default 256)\n"
	"      --vocab FILE     copy the tokenizer from this GGUF (default: a small\n"
	"                       built-in byte-level tokenizer)\n"
	"  -t, --type TYPE      matrices as f32, f16, bf16, q8_0 or q4_0 (default f32)\n"
	"  -s, --seed N         random seed, 0 to 2^64-1 (default 0)\n"
	"      --untied         write output.weight instead of sharing token_embd\n"
	"      --name NAME      general.name (default random-ARCH)\n"
	"  -h, --help           this help\n";

enum { OPT_N_EMBD = 256, OPT_N_LAYER, OPT_N_HEAD, OPT_N_HEAD_KV, OPT_N_FF, OPT_N_CTX,
	OPT_VOCAB, OPT_UNTIED, OPT_NAME };

static int32_t parse_dim(const char *opt, const char *s, long long max)
{
	long long v;

	if (!cli_parse_long(s, 1, max, &v))
		cli_usage("random: %s '%s' is not an integer in [1, %lld]", opt, s, max);
	return (int32_t)v;
}

static llorch_dtype parse_matrix_type(const char *cmd, const char *s)
{
	llorch_dtype t;

	if (!llorch_dtype_from_name(s, &t) || !llorch_dtype_supported(t))
		cli_usage("%s: type '%s' is not one of f32, f16, bf16, q8_0, q4_0", cmd, s);
	return t;
}

int cmd_random(int argc, char **argv)
{
	static const struct option opts[] = {
		{"arch", required_argument, NULL, 'a'},
		{"output", required_argument, NULL, 'o'},
		{"n-embd", required_argument, NULL, OPT_N_EMBD},
		{"n-layer", required_argument, NULL, OPT_N_LAYER},
		{"n-head", required_argument, NULL, OPT_N_HEAD},
		{"n-head-kv", required_argument, NULL, OPT_N_HEAD_KV},
		{"n-ff", required_argument, NULL, OPT_N_FF},
		{"n-ctx", required_argument, NULL, OPT_N_CTX},
		{"vocab", required_argument, NULL, OPT_VOCAB},
		{"type", required_argument, NULL, 't'},
		{"seed", required_argument, NULL, 's'},
		{"untied", no_argument, NULL, OPT_UNTIED},
		{"name", required_argument, NULL, OPT_NAME},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	llorch_random_params p = llorch_random_default_params(LLORCH_ARCH_LLAMA);
	const char *out = NULL, *arch = NULL;
	unsigned long long seed;
	llorch_status st;
	int c;

	while ((c = getopt_long(argc, argv, ":a:o:t:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': arch = optarg; break;
		case 'o': out = optarg; break;
		case OPT_N_EMBD: p.n_embd = parse_dim("--n-embd", optarg, 1 << 16); break;
		case OPT_N_LAYER: p.n_layer = parse_dim("--n-layer", optarg, LLORCH_MAX_LAYERS); break;
		case OPT_N_HEAD: p.n_head = parse_dim("--n-head", optarg, 1 << 16); break;
		case OPT_N_HEAD_KV: p.n_head_kv = parse_dim("--n-head-kv", optarg, 1 << 16); break;
		case OPT_N_FF: p.n_ff = parse_dim("--n-ff", optarg, 1 << 20); break;
		case OPT_N_CTX: p.n_ctx = parse_dim("--n-ctx", optarg, LLORCH_MAX_CTX); break;
		case OPT_VOCAB: p.vocab_path = optarg; break;
		case 't': p.type = parse_matrix_type("random", optarg); break;
		case 's':
			if (!cli_parse_u64(optarg, &seed))
				cli_usage("random: --seed '%s' is not an integer in [0, 2^64-1]", optarg);
			p.seed = seed;
			break;
		case OPT_UNTIED: p.untied = true; break;
		case OPT_NAME: p.name = optarg; break;
		case 'h':
			fputs(random_usage, stdout);
			return cli_close_stdout();
		default:
			option_error(c, argv);
		}
	}
	if (optind < argc)
		cli_usage("random: unexpected argument '%s'", argv[optind]);
	if (!arch)
		cli_usage("random: no architecture (--arch gpt2 or --arch llama)");
	if (strcmp(arch, "gpt2") == 0)
		p.arch = LLORCH_ARCH_GPT2;
	else if (strcmp(arch, "llama") == 0)
		p.arch = LLORCH_ARCH_LLAMA;
	else
		cli_usage("random: --arch '%s' is not gpt2 or llama", arch);
	if (!out)
		cli_usage("random: no output file (-o OUT.gguf)");
	check_output_path(out);
	st = llorch_model_random(&p, out);
	if (st)
		cli_die_status(st, "random");
	return cli_close_stdout();
}

/* ---- quantize ---- */

static const char quantize_usage[] =
	"Usage: llorch-gguf quantize IN.gguf OUT.gguf TYPE\n"
	"Converts every tensor of two or more dimensions (token_embd included) to\n"
	"TYPE (f32, f16, bf16, q8_0 or q4_0) and 1-D tensors (norms, biases) to f32;\n"
	"copies all metadata and sets general.file_type. A tensor whose rows are not\n"
	"a multiple of TYPE's block size (32) keeps its type, with a warning.\n"
	"\n"
	"  -h, --help  this help\n";

int cmd_quantize(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	llorch_dtype type;
	llorch_status st;
	int c;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(quantize_usage, stdout);
			return cli_close_stdout();
		default:
			option_error(c, argv);
		}
	}
	if (argc - optind != 3)
		cli_usage("quantize: need IN.gguf OUT.gguf TYPE (got %d arguments)", argc - optind);
	type = parse_matrix_type("quantize", argv[optind + 2]);
	check_output_path(argv[optind + 1]);
	st = llorch_model_quantize(argv[optind], argv[optind + 1], type, NULL);
	if (st)
		cli_die_status(st, "quantize");
	return cli_close_stdout();
}
