/* The encodings of float vectors (logits, activations) in llorch's NDJSON,
 * as llorch(7) FORWARD describes them, in both directions:
 *  - JSON: an array of numbers printed with 9 significant digits (float32
 *    round-trips); NaN is null, +infinity "inf", -infinity "-inf".
 *  - base64: the little-endian IEEE float32 bytes, standard alphabet, padded.
 * Writers append to a growable buffer; readers check everything. */
#ifndef LLORCH_LOGITS_CODEC_H
#define LLORCH_LOGITS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "strbuf.h"

/* One float as a JSON value (a number, null, "inf" or "-inf"). */
void codec_json_float(strbuf *b, float x);
/* [x0,x1,...] */
void codec_json_floats(strbuf *b, const float *x, int64_t n);
/* "base64..." including the quotes. */
void codec_base64_floats(strbuf *b, const float *x, int64_t n);
/* [[id,logit],...]: the k largest of x (n), sorted by value descending, ties
 * by id ascending; NaN ranks below everything. */
void codec_top_floats(strbuf *b, const float *x, int64_t n, int64_t k);

/* A JSON array of numbers / null / "inf" / "-inf", or a base64 string, to
 * floats (*out malloc'd, *n values). false with a message in err. */
bool codec_decode_base64_floats(const char *s, size_t len, float **out, size_t *n, char *err,
		size_t errlen);
bool codec_decode_floats(const json_t *v, float **out, size_t *n, char *err, size_t errlen);

#endif
