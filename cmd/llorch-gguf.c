/* llorch-gguf: inspect, convert, generate and quantize GGUF model files. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "common/cli.h"
#include "llorch-gguf/tool.h"

static const char usage[] =
	"Usage: llorch-gguf COMMAND [OPTION]... ARGS...\n"
	"Inspect, convert, generate and quantize GGUF model files.\n"
	"\n"
	"Commands:\n"
	"  info MODEL.gguf                 metadata, hyperparameters, tensor table\n"
	"                                  (--json for NDJSON)\n"
	"  convert-llama2c MODEL.bin TOKENIZER.bin -o OUT.gguf\n"
	"                                  a llama2.c checkpoint to a llama GGUF\n"
	"  random --arch gpt2|llama -o OUT.gguf\n"
	"                                  a model of any shape with random weights\n"
	"  quantize IN.gguf OUT.gguf TYPE  matrices to f32, f16, bf16, q8_0 or q4_0\n"
	"\n"
	"Options:\n"
	"  -h, --help     this help (after a command: that command's help)\n"
	"  -V, --version  print the version\n"
	"\n"
	"Exit status: 0 success, 64 usage, 65 bad input file, 66 input missing,\n"
	"73 output cannot be created, 74 I/O error. See llorch-gguf(1).\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} commands[] = {
		{"info", cmd_info},
		{"convert-llama2c", cmd_convert_llama2c},
		{"random", cmd_random},
		{"quantize", cmd_quantize},
	};
	int c;

	cli_init("llorch-gguf");
	opterr = 0;
	/* '+': stop at the command name; its options are its own. */
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return cli_close_stdout();
		case 'V':
			cli_version();
		default:
			option_error(c, argv);
		}
	}
	if (optind >= argc)
		cli_usage("no command given (info, convert-llama2c, random, quantize)");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			char **sub = argv + optind;
			int sub_argc = argc - optind;

			optind = 0; /* glibc: start afresh on the command's arguments */
			return commands[i].run(sub_argc, sub);
		}
	}
	cli_usage("unknown command '%s' (info, convert-llama2c, random, quantize)", argv[optind]);
}
