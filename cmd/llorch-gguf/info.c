/* llorch-gguf info: what a GGUF file holds, for people or (--json)
 * programs; the text output and the command. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "../common/cli.h"
#include "../common/ndjson.h"
#include "info.h"
#include "tool.h"

#define DEFAULT_ARRAY_ITEMS 8

static void print_kv_value(FILE *out, const llorch_gguf *g, int64_t i, const info_opts *o)
{
	llorch_gguf_vtype t = llorch_gguf_kv_type(g, i);

	if (t == LLORCH_GGUF_STRING) {
		const char *s = "";
		size_t len = 0;

		llorch_gguf_kv_string(g, i, &s, &len);
		print_quoted(out, s, len);
	} else if (t == LLORCH_GGUF_ARRAY) {
		llorch_gguf_vtype elem = LLORCH_GGUF_UINT8;
		uint64_t n = 0, shown;
		const void *data = NULL;

		llorch_gguf_kv_array_info(g, i, &elem, &n);
		shown = n < o->array_items ? n : o->array_items;
		if (elem != LLORCH_GGUF_STRING && llorch_gguf_kv_array(g, i, elem, &data, &n))
			shown = 0;
		fputc('[', out);
		for (uint64_t j = 0; j < shown; j++) {
			if (j)
				fputs(", ", out);
			if (elem == LLORCH_GGUF_STRING) {
				const char *s = "";
				size_t len = 0;

				llorch_gguf_kv_array_string(g, i, j, &s, &len);
				print_quoted(out, s, len);
			} else {
				print_number_at(out, elem, (const unsigned char *)data + j * vtype_size(elem));
			}
		}
		if (shown < n)
			fprintf(out, "%s... %" PRIu64 " more", shown ? ", " : "", n - shown);
		fputc(']', out);
	} else if (t == LLORCH_GGUF_FLOAT32) {
		scalar sv = read_scalar(g, i, t);

		print_float(out, (float)sv.v.f64);
	} else {
		scalar sv = read_scalar(g, i, t);

		print_number_at(out, sv.type, &sv.v);
	}
}

static bool wanted(const info_opts *o, const char *name)
{
	if (!o->only)
		return true;
	for (int i = 0; i < o->n_only; i++)
		if (!strcmp(o->only[i], name))
			return true;
	return false;
}

static void write_json(const json_t *v)
{
	if (ndjson_write(stdout, v) != 0)
		cli_die(EX_IOERR, "writing standard output failed");
}

static void human_count(char *buf, size_t size, double n)
{
	static const char *units[] = {"", "K", "M", "B", "T"};
	int u = 0;

	while (n >= 1000 && u < 4) {
		n /= 1000;
		u++;
	}
	snprintf(buf, size, u ? "%.1f%s" : "%.0f%s", n, units[u]);
}

static void human_bytes(char *buf, size_t size, double n)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (n >= 1024 && u < 4) {
		n /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.2f %s" : "%.0f %s", n, units[u]);
}

static void print_human(FILE *out, const char *path, const llorch_gguf *g, const info_opts *o)
{
	tensor_totals s = totals(g);
	json_t *h = hparams_json(g);
	const char *key, *str;
	json_t *val;
	size_t len;
	int64_t ftype;
	char a[32], b[32];

	human_bytes(a, sizeof a, (double)llorch_gguf_file_size(g));
	fputs("file           ", out);
	print_escaped(out, path, strlen(path), false);
	fprintf(out, "\nformat         GGUF v%u, alignment %zu, %zu bytes (%s)\n",
			(unsigned)llorch_gguf_version(g), llorch_gguf_alignment(g), llorch_gguf_file_size(g), a);
	human_bytes(a, sizeof a, (double)s.bytes);
	fprintf(out, "tensor data    %" PRIu64 " bytes (%s) from byte %zu\n", s.bytes, a, llorch_gguf_data_offset(g));
	human_count(b, sizeof b, (double)s.n_params);
	fprintf(out, "parameters     %" PRId64 " (%s) in %" PRId64 " tensors:", s.n_params, b, llorch_gguf_n_tensors(g));
	for (int t = 0; t < LLORCH_DT_COUNT; t++)
		if (s.by_type[t])
			fprintf(out, " %" PRId64 " %s", s.by_type[t], llorch_dtype_name((llorch_dtype)t));
	fputc('\n', out);
	if (llorch_gguf_get_string(g, "general.architecture", &str, &len) == LLORCH_OK) {
		fputs("architecture   ", out);
		print_quoted(out, str, len);
		fputc('\n', out);
	}
	if (llorch_gguf_get_string(g, "general.name", &str, &len) == LLORCH_OK) {
		fputs("name           ", out);
		print_quoted(out, str, len);
		fputc('\n', out);
	}
	if (llorch_gguf_get_int(g, "general.file_type", &ftype) == LLORCH_OK)
		fprintf(out, "file type      %" PRId64 " (%s)\n", ftype,
				llorch_ftype_name(ftype) ? llorch_ftype_name(ftype) : "unknown");

	if (json_object_size(h)) {
		fputs("\nhyperparameters\n", out);
		json_object_foreach(h, key, val) {
			fprintf(out, "  %-16s ", key);
			if (json_is_integer(val))
				fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
			else if (json_is_real(val))
				print_float(out, (float)json_real_value(val));
			else
				fputs(json_is_true(val) ? "true" : "false", out);
			fputc('\n', out);
		}
	}
	json_decref(h);

	fprintf(out, "\nmetadata (%" PRId64 " keys)\n", llorch_gguf_n_kv(g));
	for (int64_t i = 0; i < llorch_gguf_n_kv(g); i++) {
		char label[48];

		key = llorch_gguf_kv_key(g, i);
		type_label(label, sizeof label, g, i);
		fputs("  ", out);
		print_escaped(out, key, strlen(key), false);
		fprintf(out, "%*s %-14s ", (int)(strlen(key) < 40 ? 40 - strlen(key) : 0), "", label);
		print_kv_value(out, g, i, o);
		fputc('\n', out);
	}
}

static void print_tensor_header(FILE *out, const llorch_gguf *g)
{
	fprintf(out, "\ntensors (%" PRId64 ")\n", llorch_gguf_n_tensors(g));
	fprintf(out, "  %5s  %-32s %-5s %-22s %12s %12s\n", "index", "name", "type", "shape", "offset", "bytes");
}

static void print_tensor(FILE *out, const llorch_gguf *g, int64_t i, const info_opts *o)
{
	const llorch_gguf_tensor *t = llorch_gguf_tensor_at(g, i);
	char shape[96];
	size_t n = 0;

	shape[0] = '\0';
	for (uint32_t d = 0; d < t->n_dims && n < sizeof shape; d++)
		n += (size_t)snprintf(shape + n, sizeof shape - n, d ? " x %" PRId64 : "%" PRId64, t->ne[d]);
	fprintf(out, "  %5" PRId64 "  %-32s %-5s %-22s %12" PRIu64 " %12zu\n", i, t->name,
			llorch_dtype_name(t->type), shape, t->offset, t->nbytes);
	if (o->values) {
		int64_t got;
		float *v = tensor_values(t, o->values, &got);

		fputs("         values:", out);
		if (!v)
			fprintf(out, " (no conversion from %s)", llorch_dtype_name(t->type));
		for (int64_t j = 0; j < got; j++)
			fputc(' ', out), print_float(out, v[j]);
		fputc('\n', out);
		free(v);
	}
}

/* ---- the command ---- */

static const char info_usage[] =
	"Usage: llorch-gguf info [OPTION]... MODEL.gguf\n"
	"Shows a GGUF file's metadata (long arrays summarised), hyperparameters,\n"
	"tensor table (name, type, shape, offset, bytes), total size and parameter\n"
	"count.\n"
	"\n"
	"  -j, --json           NDJSON: a \"file\" record, then a \"tensor\" record each\n"
	"  -T, --no-tensors     leave the tensors out\n"
	"  -t, --tensor NAME    only this tensor (repeatable); exit 65 if absent\n"
	"  -n, --values N       also the first N values of each tensor, as f32\n"
	"  -a, --array-items N  array elements shown (default 8; 'all' for all)\n"
	"  -h, --help           this help\n";

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"no-tensors", no_argument, NULL, 'T'},
		{"tensor", required_argument, NULL, 't'},
		{"values", required_argument, NULL, 'n'},
		{"array-items", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	info_opts o = {.tensors = true, .array_items = DEFAULT_ARRAY_ITEMS};
	llorch_gguf *g = NULL;
	const char *path;
	unsigned long long v;
	llorch_status st;
	int c;

	o.only = calloc((size_t)argc, sizeof *o.only);
	if (!o.only)
		cli_die(EX_OSERR, "out of memory");
	while ((c = getopt_long(argc, argv, ":jTt:n:a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = true; break;
		case 'T': o.tensors = false; break;
		case 't': o.only[o.n_only++] = optarg; break;
		case 'n':
			if (!cli_parse_u64(optarg, &v))
				cli_usage("info: --values '%s' is not a count", optarg);
			o.values = v;
			break;
		case 'a':
			if (!strcmp(optarg, "all"))
				o.array_items = UINT64_MAX;
			else if (cli_parse_u64(optarg, &v))
				o.array_items = v;
			else
				cli_usage("info: --array-items '%s' is not a count or 'all'", optarg);
			break;
		case 'h':
			free(o.only);
			fputs(info_usage, stdout);
			return cli_close_stdout();
		default:
			option_error(c, argv);
		}
	}
	if (argc - optind != 1)
		cli_usage("info: need one MODEL.gguf (got %d arguments)", argc - optind);
	path = argv[optind];
	if (!o.n_only) {
		free(o.only);
		o.only = NULL;
	}
	if ((st = llorch_gguf_load(path, &g))) {
		free(o.only);
		cli_die_status(st, "info");
	}
	for (int i = 0; i < o.n_only; i++) {
		if (!llorch_gguf_find_tensor(g, o.only[i])) {
			cli_warn("info: %s has no tensor '%s'", path, o.only[i]);
			llorch_gguf_free(g);
			free(o.only);
			return EX_DATAERR;
		}
	}

	if (o.json) {
		json_t *r = file_json(path, g, &o);

		write_json(r);
		json_decref(r);
	} else {
		print_human(stdout, path, g, &o);
	}
	if (o.tensors) {
		if (!o.json)
			print_tensor_header(stdout, g);
		for (int64_t i = 0; i < llorch_gguf_n_tensors(g); i++) {
			if (!wanted(&o, llorch_gguf_tensor_at(g, i)->name))
				continue;
			if (o.json) {
				json_t *r = tensor_json(g, i, &o);

				write_json(r);
				json_decref(r);
			} else {
				print_tensor(stdout, g, i, &o);
			}
		}
	}
	llorch_gguf_free(g);
	free(o.only);
	return cli_close_stdout();
}
