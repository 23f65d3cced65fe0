/* Float vectors in NDJSON: JSON arrays and base64, see logits_codec.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logits_codec.h"

void strbuf_free(strbuf *b)
{
	free(b->p);
	*b = (strbuf){ 0 };
}

static bool reserve(strbuf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (extra <= b->cap - b->len)
		return true;
	size_t want = b->len + extra, cap = b->cap ? b->cap : 256;
	if (want < b->len) {
		b->failed = true;
		return false;
	}
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void strbuf_append(strbuf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void strbuf_puts(strbuf *b, const char *s)
{
	strbuf_append(b, s, strlen(s));
}

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
		reserve(b, (size_t)n * 16 + 2);
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

	if (n < 0 || (size_t)n > SIZE_MAX / 8 || !reserve(b, out + 2))
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

/* a (id ia) ranks before b (id ib): larger first, NaN last, ties by id. */
static bool before(float a, int64_t ia, float b, int64_t ib)
{
	bool na = isnan(a), nb = isnan(b);

	if (na != nb)
		return nb;
	if (!na && a != b)
		return a > b;
	return ia < ib;
}

typedef struct {
	float v;
	int64_t id;
} scored;

/* Min-heap by rank: the root is the worst of the k kept. */
static void sift_down(scored *h, int64_t n, int64_t i)
{
	for (;;) {
		int64_t w = i, l = 2 * i + 1, r = l + 1;
		if (l < n && before(h[w].v, h[w].id, h[l].v, h[l].id))
			w = l;
		if (r < n && before(h[w].v, h[w].id, h[r].v, h[r].id))
			w = r;
		if (w == i)
			return;
		scored t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

void codec_top_floats(strbuf *b, const float *x, int64_t n, int64_t k)
{
	if (k > n)
		k = n;
	if (k < 0)
		k = 0;
	scored *h = malloc((size_t)(k ? k : 1) * sizeof *h);
	if (!h) {
		b->failed = true;
		return;
	}
	for (int64_t i = 0; i < k; i++)
		h[i] = (scored){ x[i], i };
	for (int64_t i = k / 2 - 1; i >= 0; i--)
		sift_down(h, k, i);
	for (int64_t i = k; i < n; i++)
		if (before(x[i], i, h[0].v, h[0].id)) {
			h[0] = (scored){ x[i], i };
			sift_down(h, k, 0);
		}
	/* pop the worst to the end: the array ends up best first */
	for (int64_t m = k - 1; m > 0; m--) {
		scored t = h[0];
		h[0] = h[m];
		h[m] = t;
		sift_down(h, m, 0);
	}
	strbuf_append(b, "[", 1);
	for (int64_t i = 0; i < k; i++) {
		char tmp[32];
		int len = snprintf(tmp, sizeof tmp, "%s[%lld,", i ? "," : "", (long long)h[i].id);
		strbuf_append(b, tmp, (size_t)len);
		codec_json_float(b, h[i].v);
		strbuf_append(b, "]", 1);
	}
	strbuf_append(b, "]", 1);
	free(h);
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool decode_base64(const char *s, size_t len, float **out, size_t *n, char *err,
		size_t errlen)
{
	if (len % 4 != 0) {
		snprintf(err, errlen, "base64 length %zu is not a multiple of 4", len);
		return false;
	}
	size_t pad = len >= 1 && s[len - 1] == '=' ? (len >= 2 && s[len - 2] == '=' ? 2 : 1) : 0;
	size_t nbytes = len / 4 * 3 - pad;
	if (nbytes % 4 != 0) {
		snprintf(err, errlen, "base64 holds %zu bytes, not whole float32 values", nbytes);
		return false;
	}
	uint8_t *bytes = malloc(nbytes ? nbytes : 1);
	if (!bytes) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		for (int j = 0; j < 4; j++) {
			bool padding = i + (size_t)j >= len - pad;
			v[j] = padding ? 0 : b64_value((unsigned char)s[i + (size_t)j]);
			if (v[j] < 0) {
				free(bytes);
				snprintf(err, errlen, "bad base64 character at offset %zu", i + (size_t)j);
				return false;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		for (int j = 0; j < 3 && o < nbytes; j++)
			bytes[o++] = (uint8_t)(w >> (16 - 8 * j));
	}
	float *f = malloc(nbytes ? nbytes : 1);
	if (!f) {
		free(bytes);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (size_t i = 0; i < nbytes / 4; i++) {
		uint32_t u = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
			(uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
		memcpy(&f[i], &u, 4);
	}
	free(bytes);
	*out = f;
	*n = nbytes / 4;
	return true;
}

bool codec_decode_floats(const json_t *v, float **out, size_t *n, char *err, size_t errlen)
{
	if (json_is_string(v))
		return decode_base64(json_string_value(v), json_string_length(v), out, n, err, errlen);
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
