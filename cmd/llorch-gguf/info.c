/* llorch-gguf info: what a GGUF file holds, for people or (--json) programs.
 *
 * NDJSON output (documented in llorch-gguf(1) and llorch(7)): one "file"
 * record, then one "tensor" record per tensor:
 *   {"record":"file","path":...,"version":3,"alignment":32,"file_size":...,
 *    "data_offset":...,"n_kv":...,"n_tensors":...,"n_params":...,
 *    "tensor_bytes":...,"tensor_types":{"f32":12,...},"architecture":...,
 *    "name":...,"file_type":0,"file_type_name":"ALL_F32","hparams":{...},
 *    "metadata":{"KEY":{"type":"uint32","value":5},
 *                "KEY":{"type":"array","elem_type":"string","count":512,
 *                       "values":[first N],"truncated":true},...}}
 *   {"record":"tensor","index":0,"name":...,"type":"f32","shape":[64,512],
 *    "n_params":...,"offset":...,"file_offset":...,"bytes":...,"values":[...]}
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "../common/cli.h"
#include "../common/ndjson.h"
#include "tool.h"

#define DEFAULT_ARRAY_ITEMS 8

typedef struct {
	bool json;
	bool tensors;           /* list tensors */
	uint64_t array_items;   /* array elements shown */
	uint64_t values;        /* tensor values shown */
	char **only;            /* tensor names asked for (NULL: all) */
	int n_only;
} info_opts;

/* ---- strings ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

/* A JSON string of s, invalid UTF-8 bytes replaced by U+FFFD (*lossy set).
 * Only keys and paths, which a reader only names, go out this way. */
static json_t *json_text(const char *s, size_t len, bool *lossy)
{
	const unsigned char *p = (const unsigned char *)s;
	char *buf;
	size_t n = 0;
	json_t *v;

	buf = malloc(len * 3 + 1);
	if (!buf)
		cli_die(EX_OSERR, "out of memory");
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq(p + i, len - i);

		if (k == 0) {
			memcpy(buf + n, "\xEF\xBF\xBD", 3);
			n += 3;
			i++;
			if (lossy)
				*lossy = true;
		} else {
			memcpy(buf + n, p + i, k);
			n += k;
			i += k;
		}
	}
	v = json_stringn(buf, n);
	free(buf);
	return v;
}

/* The bytes of s as an array of numbers 0..255. */
static json_t *json_bytes(const char *s, size_t len)
{
	json_t *a = json_array();

	for (size_t i = 0; i < len; i++)
		json_array_append_new(a, json_integer((unsigned char)s[i]));
	return a;
}

/* An array element: a string, or its bytes when it is not valid UTF-8 (as
 * llorch-tokenize --pieces and llama-server's /tokenize give pieces). */
static json_t *json_piece(const char *s, size_t len)
{
	bool lossy = false;
	json_t *v = json_text(s, len, &lossy);

	if (!lossy)
		return v;
	json_decref(v);
	return json_bytes(s, len);
}

/* s for a terminal, C escapes for controls, quotes and invalid UTF-8;
 * quoted, unless quote is false. */
static void print_escaped(FILE *out, const char *s, size_t len, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;

	if (quote)
		fputc('"', out);
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq(p + i, len - i);

		if (k > 1) {
			fwrite(p + i, 1, k, out);
			i += k;
			continue;
		}
		switch (p[i]) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\t': fputs("\\t", out); break;
		case '\r': fputs("\\r", out); break;
		default:
			if (k == 0 || p[i] < 0x20 || p[i] == 0x7F)
				fprintf(out, "\\x%02X", p[i]);
			else
				fputc(p[i], out);
		}
		i++;
	}
	if (quote)
		fputc('"', out);
}

static void print_quoted(FILE *out, const char *s, size_t len)
{
	print_escaped(out, s, len, true);
}

/* ---- metadata values ---- */

static size_t vtype_size(llorch_gguf_vtype t)
{
	switch (t) {
	case LLORCH_GGUF_UINT8: case LLORCH_GGUF_INT8: case LLORCH_GGUF_BOOL: return 1;
	case LLORCH_GGUF_UINT16: case LLORCH_GGUF_INT16: return 2;
	case LLORCH_GGUF_UINT32: case LLORCH_GGUF_INT32: case LLORCH_GGUF_FLOAT32: return 4;
	case LLORCH_GGUF_UINT64: case LLORCH_GGUF_INT64: case LLORCH_GGUF_FLOAT64: return 8;
	default: return 0;
	}
}

/* The fewest significant digits that read back as f (float32 values print
 * as 1e-05, not 9.99999975e-06). */
static int float_digits(float f)
{
	char buf[32];

	for (int p = 1; p < 9; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, (double)f);
		if (strtof(buf, NULL) == f)
			return p;
	}
	return 9;
}

static json_t *json_float(float f)
{
	char buf[32];

	if (!isfinite(f))
		return json_null();
	snprintf(buf, sizeof buf, "%.*g", float_digits(f), (double)f);
	return json_real(strtod(buf, NULL));
}

static void print_float(FILE *out, float f)
{
	if (f == (float)(int64_t)f && fabsf(f) < 1e9f)
		fprintf(out, "%.0f", (double)f); /* 10000, not 1e+04 */
	else
		fprintf(out, "%.*g", float_digits(f), (double)f);
}

/* A numeric or bool value of type t at p: as a JSON value, or printed. */
static json_t *json_number_at(llorch_gguf_vtype t, const void *p)
{
	switch (t) {
	case LLORCH_GGUF_UINT8: return json_integer(*(const uint8_t *)p);
	case LLORCH_GGUF_INT8: return json_integer(*(const int8_t *)p);
	case LLORCH_GGUF_UINT16: return json_integer(*(const uint16_t *)p);
	case LLORCH_GGUF_INT16: return json_integer(*(const int16_t *)p);
	case LLORCH_GGUF_UINT32: return json_integer(*(const uint32_t *)p);
	case LLORCH_GGUF_INT32: return json_integer(*(const int32_t *)p);
	case LLORCH_GGUF_INT64: return json_integer(*(const int64_t *)p);
	case LLORCH_GGUF_UINT64: {
		uint64_t u = *(const uint64_t *)p;

		/* JSON integers here are int64; a larger one goes out exact as a real would not */
		if (u > INT64_MAX) {
			char buf[24];

			snprintf(buf, sizeof buf, "%" PRIu64, u);
			return json_string(buf);
		}
		return json_integer((json_int_t)u);
	}
	case LLORCH_GGUF_FLOAT32: return json_float(*(const float *)p);
	case LLORCH_GGUF_FLOAT64: {
		double d = *(const double *)p;

		return isfinite(d) ? json_real(d) : json_null();
	}
	case LLORCH_GGUF_BOOL: return json_boolean(*(const uint8_t *)p != 0);
	default: return json_null();
	}
}

static void print_number_at(FILE *out, llorch_gguf_vtype t, const void *p)
{
	switch (t) {
	case LLORCH_GGUF_UINT8: fprintf(out, "%u", (unsigned)*(const uint8_t *)p); break;
	case LLORCH_GGUF_INT8: fprintf(out, "%d", (int)*(const int8_t *)p); break;
	case LLORCH_GGUF_UINT16: fprintf(out, "%u", (unsigned)*(const uint16_t *)p); break;
	case LLORCH_GGUF_INT16: fprintf(out, "%d", (int)*(const int16_t *)p); break;
	case LLORCH_GGUF_UINT32: fprintf(out, "%" PRIu32, *(const uint32_t *)p); break;
	case LLORCH_GGUF_INT32: fprintf(out, "%" PRId32, *(const int32_t *)p); break;
	case LLORCH_GGUF_UINT64: fprintf(out, "%" PRIu64, *(const uint64_t *)p); break;
	case LLORCH_GGUF_INT64: fprintf(out, "%" PRId64, *(const int64_t *)p); break;
	case LLORCH_GGUF_FLOAT32: print_float(out, *(const float *)p); break;
	case LLORCH_GGUF_FLOAT64: fprintf(out, "%.17g", *(const double *)p); break;
	case LLORCH_GGUF_BOOL: fputs(*(const uint8_t *)p ? "true" : "false", out); break;
	default: fputs("?", out);
	}
}

/* A scalar value, widened: integers to int64 (uint64 kept apart), floats to
 * double, then converted by the same routines as array elements. */
typedef struct {
	llorch_gguf_vtype type;  /* INT64, UINT64, FLOAT64 or BOOL */
	union {
		int64_t i64;
		uint64_t u64;
		double f64;
		uint8_t b;
	} v;
} scalar;

static scalar read_scalar(const llorch_gguf *g, int64_t i, llorch_gguf_vtype t)
{
	scalar s;
	bool bv = false;

	memset(&s, 0, sizeof s);
	if (t == LLORCH_GGUF_UINT64) {
		s.type = LLORCH_GGUF_UINT64;
		llorch_gguf_kv_uint64(g, i, &s.v.u64);
	} else if (t == LLORCH_GGUF_FLOAT32 || t == LLORCH_GGUF_FLOAT64) {
		s.type = LLORCH_GGUF_FLOAT64;
		llorch_gguf_kv_float(g, i, &s.v.f64);
	} else if (t == LLORCH_GGUF_BOOL) {
		s.type = LLORCH_GGUF_BOOL;
		llorch_gguf_kv_bool(g, i, &bv);
		s.v.b = bv;
	} else {
		s.type = LLORCH_GGUF_INT64;
		llorch_gguf_kv_int(g, i, &s.v.i64);
	}
	return s;
}

static json_t *json_kv(const llorch_gguf *g, int64_t i, const info_opts *o)
{
	llorch_gguf_vtype t = llorch_gguf_kv_type(g, i);
	json_t *v = json_object();

	json_object_set_new(v, "type", json_string(llorch_gguf_vtype_name(t)));
	if (t == LLORCH_GGUF_STRING) {
		const char *s = "";
		size_t len = 0;
		bool lossy = false;

		llorch_gguf_kv_string(g, i, &s, &len);
		json_object_set_new(v, "value", json_text(s, len, &lossy));
		if (lossy)
			json_object_set_new(v, "bytes", json_bytes(s, len));
	} else if (t == LLORCH_GGUF_ARRAY) {
		llorch_gguf_vtype elem = LLORCH_GGUF_UINT8;
		uint64_t n = 0, shown;
		json_t *vals = json_array();
		const void *data = NULL;

		llorch_gguf_kv_array_info(g, i, &elem, &n);
		shown = n < o->array_items ? n : o->array_items;
		json_object_set_new(v, "elem_type", json_string(llorch_gguf_vtype_name(elem)));
		json_object_set_new(v, "count", json_integer((json_int_t)n));
		if (elem != LLORCH_GGUF_STRING && llorch_gguf_kv_array(g, i, elem, &data, &n))
			shown = 0;
		for (uint64_t j = 0; j < shown; j++) {
			if (elem == LLORCH_GGUF_STRING) {
				const char *s = "";
				size_t len = 0;

				llorch_gguf_kv_array_string(g, i, j, &s, &len);
				json_array_append_new(vals, json_piece(s, len));
			} else {
				json_array_append_new(vals, json_number_at(elem,
						(const unsigned char *)data + j * vtype_size(elem)));
			}
		}
		json_object_set_new(v, "values", vals);
		json_object_set_new(v, "truncated", json_boolean(shown < n));
	} else {
		scalar sv = read_scalar(g, i, t);

		json_object_set_new(v, "value", t == LLORCH_GGUF_FLOAT32 ? json_float((float)sv.v.f64)
				: json_number_at(sv.type, &sv.v));
	}
	return v;
}

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

static void type_label(char *buf, size_t size, const llorch_gguf *g, int64_t i)
{
	llorch_gguf_vtype t = llorch_gguf_kv_type(g, i), elem;
	uint64_t n;

	if (t == LLORCH_GGUF_ARRAY && llorch_gguf_kv_array_info(g, i, &elem, &n) == LLORCH_OK)
		snprintf(buf, size, "%s[%" PRIu64 "]", llorch_gguf_vtype_name(elem), n);
	else
		snprintf(buf, size, "%s", llorch_gguf_vtype_name(t));
}

/* ---- hyperparameters ---- */

typedef struct {
	const char *name;  /* as in llorch_hparams */
	const char *key;   /* after "ARCH." */
	bool is_float;
} hparam_key;

static const hparam_key hparam_keys[] = {
	{"n_ctx_train", "context_length", false},
	{"n_embd", "embedding_length", false},
	{"n_layer", "block_count", false},
	{"n_head", "attention.head_count", false},
	{"n_head_kv", "attention.head_count_kv", false},
	{"n_ff", "feed_forward_length", false},
	{"rope_dim", "rope.dimension_count", false},
	{"rope_freq_base", "rope.freq_base", true},
	{"norm_eps", "attention.layer_norm_epsilon", true},
	{"norm_eps", "attention.layer_norm_rms_epsilon", true},
};

/* The model's shape from ARCH.* keys and the vocab, as far as it is given. */
static json_t *hparams_json(const llorch_gguf *g)
{
	json_t *h = json_object();
	const char *arch = NULL;
	size_t len;
	int64_t n_embd = 0, n_head = 0;
	uint64_t n_vocab;
	llorch_gguf_vtype elem;
	int64_t i_tok = llorch_gguf_find_key(g, "tokenizer.ggml.tokens");

	if (i_tok >= 0 && llorch_gguf_kv_array_info(g, i_tok, &elem, &n_vocab) == LLORCH_OK)
		json_object_set_new(h, "n_vocab", json_integer((json_int_t)n_vocab));
	if (llorch_gguf_get_string(g, "general.architecture", &arch, &len) != LLORCH_OK)
		return h;
	for (size_t k = 0; k < sizeof hparam_keys / sizeof hparam_keys[0]; k++) {
		char key[256];
		int64_t iv;
		double dv;

		snprintf(key, sizeof key, "%s.%s", arch, hparam_keys[k].key);
		if (hparam_keys[k].is_float) {
			if (llorch_gguf_get_float(g, key, &dv) == LLORCH_OK && isfinite(dv))
				json_object_set_new(h, hparam_keys[k].name, json_float((float)dv));
		} else if (llorch_gguf_get_int(g, key, &iv) == LLORCH_OK) {
			json_object_set_new(h, hparam_keys[k].name, json_integer(iv));
			if (!strcmp(hparam_keys[k].name, "n_embd"))
				n_embd = iv;
			if (!strcmp(hparam_keys[k].name, "n_head"))
				n_head = iv;
		}
	}
	if (n_embd > 0 && n_head > 0 && n_embd % n_head == 0)
		json_object_set_new(h, "head_dim", json_integer(n_embd / n_head));
	if (llorch_gguf_n_tensors(g) > 0)
		json_object_set_new(h, "tied_output", json_boolean(!llorch_gguf_find_tensor(g, "output.weight")));
	return h;
}

/* ---- tensors ---- */

static int64_t tensor_elements(const llorch_gguf_tensor *t)
{
	int64_t n = 1;

	for (uint32_t d = 0; d < t->n_dims; d++)
		n *= t->ne[d]; /* the reader checked the product fits */
	return n;
}

/* The first n values of t as floats (n clipped to its size), or NULL when its
 * type has no conversion; *got receives the count. */
static float *tensor_values(const llorch_gguf_tensor *t, uint64_t n, int64_t *got)
{
	int64_t total = tensor_elements(t), bs = (int64_t)llorch_dtype_block_size(t->type), k;
	float *v;

	*got = 0;
	if (!llorch_dtype_supported(t->type) || bs <= 0)
		return NULL;
	k = (int64_t)n < total ? (int64_t)n : total;
	k = (k + bs - 1) / bs * bs; /* whole blocks; total is a multiple of bs */
	if (k == 0)
		return NULL;
	v = malloc((size_t)k * sizeof *v);
	if (!v)
		cli_die(EX_OSERR, "out of memory");
	if (llorch_dequantize_row(t->type, t->data, v, k) != LLORCH_OK) {
		free(v);
		return NULL;
	}
	*got = (int64_t)n < total ? (int64_t)n : total;
	return v;
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

static json_t *tensor_json(const llorch_gguf *g, int64_t i, const info_opts *o)
{
	const llorch_gguf_tensor *t = llorch_gguf_tensor_at(g, i);
	json_t *r = json_object(), *shape = json_array();

	json_object_set_new(r, "record", json_string("tensor"));
	json_object_set_new(r, "index", json_integer(i));
	json_object_set_new(r, "name", json_string(t->name));
	json_object_set_new(r, "type", json_string(llorch_dtype_name(t->type)));
	for (uint32_t d = 0; d < t->n_dims; d++)
		json_array_append_new(shape, json_integer(t->ne[d]));
	json_object_set_new(r, "shape", shape);
	json_object_set_new(r, "n_params", json_integer(tensor_elements(t)));
	json_object_set_new(r, "offset", json_integer((json_int_t)t->offset));
	json_object_set_new(r, "file_offset", json_integer((json_int_t)(llorch_gguf_data_offset(g) + t->offset)));
	json_object_set_new(r, "bytes", json_integer((json_int_t)t->nbytes));
	if (o->values) {
		int64_t got;
		float *v = tensor_values(t, o->values, &got);

		if (v) {
			json_t *a = json_array();

			for (int64_t j = 0; j < got; j++)
				json_array_append_new(a, json_float(v[j]));
			json_object_set_new(r, "values", a);
			free(v);
		}
	}
	return r;
}

/* ---- summary ---- */

typedef struct {
	int64_t n_params;
	uint64_t bytes;
	int64_t by_type[LLORCH_DT_COUNT];
} tensor_totals;

static tensor_totals totals(const llorch_gguf *g)
{
	tensor_totals s;

	memset(&s, 0, sizeof s);
	for (int64_t i = 0; i < llorch_gguf_n_tensors(g); i++) {
		const llorch_gguf_tensor *t = llorch_gguf_tensor_at(g, i);

		s.n_params += tensor_elements(t);
		s.bytes += t->nbytes;
		if ((unsigned)t->type < LLORCH_DT_COUNT)
			s.by_type[t->type]++;
	}
	return s;
}

static void set_string_key(json_t *r, const char *field, const llorch_gguf *g, const char *key)
{
	const char *s;
	size_t len;

	if (llorch_gguf_get_string(g, key, &s, &len) == LLORCH_OK)
		json_object_set_new(r, field, json_text(s, len, NULL));
}

static json_t *file_json(const char *path, const llorch_gguf *g, const info_opts *o)
{
	json_t *r = json_object(), *types = json_object(), *meta = json_object();
	tensor_totals s = totals(g);
	int64_t ftype;

	json_object_set_new(r, "record", json_string("file"));
	json_object_set_new(r, "path", json_text(path, strlen(path), NULL));
	json_object_set_new(r, "version", json_integer(llorch_gguf_version(g)));
	json_object_set_new(r, "alignment", json_integer((json_int_t)llorch_gguf_alignment(g)));
	json_object_set_new(r, "file_size", json_integer((json_int_t)llorch_gguf_file_size(g)));
	json_object_set_new(r, "data_offset", json_integer((json_int_t)llorch_gguf_data_offset(g)));
	json_object_set_new(r, "n_kv", json_integer(llorch_gguf_n_kv(g)));
	json_object_set_new(r, "n_tensors", json_integer(llorch_gguf_n_tensors(g)));
	json_object_set_new(r, "n_params", json_integer(s.n_params));
	json_object_set_new(r, "tensor_bytes", json_integer((json_int_t)s.bytes));
	for (int t = 0; t < LLORCH_DT_COUNT; t++)
		if (s.by_type[t])
			json_object_set_new(types, llorch_dtype_name((llorch_dtype)t), json_integer(s.by_type[t]));
	json_object_set_new(r, "tensor_types", types);
	set_string_key(r, "architecture", g, "general.architecture");
	set_string_key(r, "name", g, "general.name");
	if (llorch_gguf_get_int(g, "general.file_type", &ftype) == LLORCH_OK) {
		json_object_set_new(r, "file_type", json_integer(ftype));
		if (llorch_ftype_name(ftype))
			json_object_set_new(r, "file_type_name", json_string(llorch_ftype_name(ftype)));
	}
	json_object_set_new(r, "hparams", hparams_json(g));
	for (int64_t i = 0; i < llorch_gguf_n_kv(g); i++) {
		const char *key = llorch_gguf_kv_key(g, i);
		json_t *k = json_text(key, strlen(key), NULL);

		json_object_set_new(meta, json_string_value(k), json_kv(g, i, o));
		json_decref(k);
	}
	json_object_set_new(r, "metadata", meta);
	return r;
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
