/* Float vectors in NDJSON: JSON arrays and base64, see logits_codec.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llorch.h"
#include "logits_codec.h"

void codec_json_float(strbuf *b, float x)
{
	char tmp[32];
	int k;

	if (isnan(x))
		strbuf_append(b, "null", 4);
	else if (isinf(x))
		strbuf_puts(b, x > 0 ? "\"inf\"" : "\"-inf\"");
	else if ((k = snprintf(tmp, sizeof tmp, "%.9g", (double)x)) > 0)
		strbuf_append(b, tmp, (size_t)k);
}

void codec_json_floats(strbuf *b, const float *x, int64_t n)
{
	/* at most 16 bytes a value: reserve once */
	if (n > 0 && (size_t)n < SIZE_MAX / 16)
		strbuf_reserve(b, (size_t)n * 16 + 2);
	strbuf_append(b, "[", 1);
	for (int64_t i = 0; i < n; i++) {
		if (i)
			strbuf_append(b, ",", 1);
		codec_json_float(b, x[i]);
	}
	strbuf_append(b, "]", 1);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void codec_base64_floats(strbuf *b, const float *x, int64_t n)
{
	size_t nbytes = (size_t)n * 4, out = (nbytes + 2) / 3 * 4;

	if (n < 0 || (size_t)n > SIZE_MAX / 8 || !strbuf_reserve(b, out + 2))
		return;
	char *o = b->p + b->len;
	*o++ = '"';
	/* Three floats are twelve bytes, sixteen characters: whole groups first. */
	uint8_t bytes[12];
	size_t have = 0;
	for (int64_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &x[i], 4);
		bytes[have++] = (uint8_t)u;
		bytes[have++] = (uint8_t)(u >> 8);
		bytes[have++] = (uint8_t)(u >> 16);
		bytes[have++] = (uint8_t)(u >> 24);
		if (have == 12) {
			for (int g = 0; g < 12; g += 3) {
				uint32_t v = (uint32_t)bytes[g] << 16 | (uint32_t)bytes[g + 1] << 8 | bytes[g + 2];
				*o++ = b64[v >> 18];
				*o++ = b64[(v >> 12) & 63];
				*o++ = b64[(v >> 6) & 63];
				*o++ = b64[v & 63];
			}
			have = 0;
		}
	}
	for (size_t g = 0; g < have; g += 3) {
		size_t left = have - g;
		uint32_t v = (uint32_t)bytes[g] << 16 | (left > 1 ? (uint32_t)bytes[g + 1] << 8 : 0) |
			(left > 2 ? bytes[g + 2] : 0);
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = left > 1 ? b64[(v >> 6) & 63] : '=';
		*o++ = left > 2 ? b64[v & 63] : '=';
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

void codec_top_floats(strbuf *b, const float *x, int64_t n, int64_t k)
{
	size_t m = (size_t)(k < 0 ? 0 : k < n ? k : n);
	int32_t *ids = malloc((m ? m : 1) * sizeof *ids);

	if (!ids) {
		b->failed = true;
		return;
	}
	m = llorch_logits_top(x, (size_t)n, m, ids);
	strbuf_append(b, "[", 1);
	for (size_t i = 0; i < m; i++) {
		char tmp[32];
		int len = snprintf(tmp, sizeof tmp, "%s[%d,", i ? "," : "", (int)ids[i]);
		strbuf_append(b, tmp, (size_t)len);
		codec_json_float(b, x[ids[i]]);
		strbuf_append(b, "]", 1);
	}
	strbuf_append(b, "]", 1);
	free(ids);
}

/* Each base64 character's value + 1; 0 for every other byte. */
static const uint8_t b64_rev[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7,
	['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
	['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
	['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
	['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
	['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
	['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
	['/'] = 64,
};

/* Decodes len characters (a multiple of 4; pad '=' at the end) into bytes at
 * out. false with the offset of the first bad character in *bad. */
static bool decode_base64_bytes(const char *s, size_t len, size_t pad, uint8_t *out, size_t *bad)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t full = pad ? len - 4 : len; /* the groups without padding */
	uint8_t *o = out;

	for (size_t i = 0; i < full; i += 4) {
		uint32_t a = b64_rev[u[i]], b = b64_rev[u[i + 1]], c = b64_rev[u[i + 2]], d = b64_rev[u[i + 3]];
		if (!a || !b || !c || !d) {
			*bad = i + (!a ? 0 : !b ? 1 : !c ? 2 : 3);
			return false;
		}
		uint32_t w = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
		o[0] = (uint8_t)(w >> 16);
		o[1] = (uint8_t)(w >> 8);
		o[2] = (uint8_t)w;
		o += 3;
	}
	if (pad) {
		uint32_t v[4];
		for (size_t j = 0; j < 4; j++) {
			v[j] = j >= 4 - pad ? 1 : b64_rev[u[full + j]];
			if (!v[j]) {
				*bad = full + j;
				return false;
			}
		}
		uint32_t w = (v[0] - 1) << 18 | (v[1] - 1) << 12 | (v[2] - 1) << 6 | (v[3] - 1);
		for (size_t j = 0; j < 3 - pad; j++)
			*o++ = (uint8_t)(w >> (16 - 8 * j));
	}
	return true;
}

bool codec_decode_base64_floats(const char *s, size_t len, float **out, size_t *n, char *err,
		size_t errlen)
{
	if (len % 4 != 0) {
		snprintf(err, errlen, "base64 length %zu is not a multiple of 4", len);
		return false;
	}
	size_t pad = len >= 1 && s[len - 1] == '=' ? (len >= 2 && s[len - 2] == '=' ? 2 : 1) : 0;
	size_t nbytes = len / 4 * 3 - pad, bad;
	if (nbytes % 4 != 0) {
		snprintf(err, errlen, "base64 holds %zu bytes, not whole float32 values", nbytes);
		return false;
	}
	/* the bytes go straight into the floats (char access may alias them) */
	float *f = malloc(nbytes ? nbytes : 1);
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	if (!decode_base64_bytes(s, len, pad, (uint8_t *)f, &bad)) {
		free(f);
		snprintf(err, errlen, "bad base64 character at offset %zu", bad);
		return false;
	}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (size_t i = 0; i < nbytes / 4; i++) { /* the floats are little-endian */
		uint32_t w;
		memcpy(&w, &f[i], 4);
		w = __builtin_bswap32(w);
		memcpy(&f[i], &w, 4);
	}
#endif
	*out = f;
	*n = nbytes / 4;
	return true;
}

bool codec_decode_floats(const json_t *v, float **out, size_t *n, char *err, size_t errlen)
{
	if (json_is_string(v))
		return codec_decode_base64_floats(json_string_value(v), json_string_length(v), out, n,
				err, errlen);
	if (!json_is_array(v)) {
		snprintf(err, errlen, "expected an array of numbers or a base64 string");
		return false;
	}
	size_t len = json_array_size(v);
	float *f = malloc((len ? len : 1) * sizeof *f);
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		const json_t *e = json_array_get(v, i);
		const char *s;
		if (json_is_number(e)) {
			f[i] = (float)json_number_value(e);
		} else if (json_is_null(e)) {
			f[i] = NAN;
		} else if (json_is_string(e) && (s = json_string_value(e)) &&
				(strcmp(s, "inf") == 0 || strcmp(s, "-inf") == 0)) {
			f[i] = s[0] == '-' ? -INFINITY : INFINITY;
		} else {
			free(f);
			snprintf(err, errlen, "element %zu is not a number, null, \"inf\" or \"-inf\"", i);
			return false;
		}
	}
	*out = f;
	*n = len;
	return true;
}
