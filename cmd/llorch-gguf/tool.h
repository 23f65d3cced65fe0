/* llorch-gguf's subcommands, one file each; main() in cmd/llorch-gguf.c. */
#ifndef LLORCH_GGUF_TOOL_H
#define LLORCH_GGUF_TOOL_H

/* Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and returns the exit status. */
int cmd_info(int argc, char **argv);
int cmd_convert_llama2c(int argc, char **argv);
int cmd_random(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

/* Exits 73 (EX_CANTCREAT) unless path could be created: checked before the
 * work so that a typo costs nothing. */
void check_output_path(const char *path);

/* For getopt_long with opterr = 0 and a ':'-led optstring: exits 64 naming
 * the unknown option (c == '?') or the one missing its value (c == ':'). */
_Noreturn void option_error(int c, char **argv);

#endif
