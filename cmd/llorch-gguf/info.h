/* llorch-gguf info's parts: value rendering (info_values.c), the NDJSON
 * records (info_json.c), the command and its text output (info.c). */
#ifndef LLORCH_GGUF_INFO_H
#define LLORCH_GGUF_INFO_H

#include <stdio.h>
#include <jansson.h>

#include "llorch.h"

typedef struct {
	bool json;
	bool tensors;           /* list tensors */
	uint64_t array_items;   /* array elements shown */
	uint64_t values;        /* tensor values shown */
	char **only;            /* tensor names asked for (NULL: all) */
	int n_only;
} info_opts;

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

typedef struct {
	int64_t n_params;
	uint64_t bytes;
	int64_t by_type[LLORCH_DT_COUNT];
} tensor_totals;

/* ---- info_values.c ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
size_t utf8_seq(const unsigned char *s, size_t n);
/* A JSON string of s, invalid UTF-8 bytes replaced by U+FFFD (*lossy set). */
json_t *json_text(const char *s, size_t len, bool *lossy);
/* The bytes of s as an array of numbers 0..255. */
json_t *json_bytes(const char *s, size_t len);
/* A string, or its bytes when it is not valid UTF-8. */
json_t *json_piece(const char *s, size_t len);
/* s with C escapes for controls, quotes and invalid UTF-8; quoted or not. */
void print_escaped(FILE *out, const char *s, size_t len, bool quote);
void print_quoted(FILE *out, const char *s, size_t len);
/* Bytes of a numeric/bool element type; 0 for STRING/ARRAY. */
size_t vtype_size(llorch_gguf_vtype t);
/* Floats with the fewest digits that read back as the same float32. */
json_t *json_float(float f);
void print_float(FILE *out, float f);
/* A numeric or bool value of type t at p. */
json_t *json_number_at(llorch_gguf_vtype t, const void *p);
void print_number_at(FILE *out, llorch_gguf_vtype t, const void *p);
scalar read_scalar(const llorch_gguf *g, int64_t i, llorch_gguf_vtype t);
/* "uint32", or "string[512]" for arrays. */
void type_label(char *buf, size_t size, const llorch_gguf *g, int64_t i);
int64_t tensor_elements(const llorch_gguf_tensor *t);
/* The first n values of t as floats (n clipped to its size), malloc'd, or
 * NULL when its type has no conversion; *got receives the count. */
float *tensor_values(const llorch_gguf_tensor *t, uint64_t n, int64_t *got);
tensor_totals totals(const llorch_gguf *g);

/* ---- info_json.c ---- */

/* The model's shape from ARCH.* keys and the vocab, as far as it is given. */
json_t *hparams_json(const llorch_gguf *g);
json_t *file_json(const char *path, const llorch_gguf *g, const info_opts *o);
json_t *tensor_json(const llorch_gguf *g, int64_t i, const info_opts *o);

#endif
