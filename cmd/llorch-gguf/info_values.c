/* llorch-gguf info: GGUF values rendered as JSON or as text. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "../common/cli.h"
#include "info.h"

/* ---- strings ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
size_t utf8_seq(const unsigned char *s, size_t n)
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
json_t *json_text(const char *s, size_t len, bool *lossy)
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
json_t *json_bytes(const char *s, size_t len)
{
	json_t *a = json_array();

	for (size_t i = 0; i < len; i++)
		json_array_append_new(a, json_integer((unsigned char)s[i]));
	return a;
}

/* An array element: a string, or its bytes when it is not valid UTF-8 (as
 * llorch-tokenize --pieces and llama-server's /tokenize give pieces). */
json_t *json_piece(const char *s, size_t len)
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
void print_escaped(FILE *out, const char *s, size_t len, bool quote)
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

void print_quoted(FILE *out, const char *s, size_t len)
{
	print_escaped(out, s, len, true);
}

/* ---- metadata values ---- */

size_t vtype_size(llorch_gguf_vtype t)
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

json_t *json_float(float f)
{
	char buf[32];

	if (!isfinite(f))
		return json_null();
	snprintf(buf, sizeof buf, "%.*g", float_digits(f), (double)f);
	return json_real(strtod(buf, NULL));
}

void print_float(FILE *out, float f)
{
	if (f == (float)(int64_t)f && fabsf(f) < 1e9f)
		fprintf(out, "%.0f", (double)f); /* 10000, not 1e+04 */
	else
		fprintf(out, "%.*g", float_digits(f), (double)f);
}

/* A numeric or bool value of type t at p: as a JSON value, or printed. */
json_t *json_number_at(llorch_gguf_vtype t, const void *p)
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

void print_number_at(FILE *out, llorch_gguf_vtype t, const void *p)
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

scalar read_scalar(const llorch_gguf *g, int64_t i, llorch_gguf_vtype t)
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

void type_label(char *buf, size_t size, const llorch_gguf *g, int64_t i)
{
	llorch_gguf_vtype t = llorch_gguf_kv_type(g, i), elem;
	uint64_t n;

	if (t == LLORCH_GGUF_ARRAY && llorch_gguf_kv_array_info(g, i, &elem, &n) == LLORCH_OK)
		snprintf(buf, size, "%s[%" PRIu64 "]", llorch_gguf_vtype_name(elem), n);
	else
		snprintf(buf, size, "%s", llorch_gguf_vtype_name(t));
}

/* ---- tensors ---- */

int64_t tensor_elements(const llorch_gguf_tensor *t)
{
	int64_t n = 1;

	for (uint32_t d = 0; d < t->n_dims; d++)
		n *= t->ne[d]; /* the reader checked the product fits */
	return n;
}

/* The first n values of t as floats (n clipped to its size), or NULL when its
 * type has no conversion; *got receives the count. */
float *tensor_values(const llorch_gguf_tensor *t, uint64_t n, int64_t *got)
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

tensor_totals totals(const llorch_gguf *g)
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
