/* GGUF primitive reads: a bounds-checked little-endian cursor over the file,
 * strings (capped, copied into the arena with a NUL) and metadata values,
 * arrays included. Every length and count is checked against the bytes that
 * remain before anything is allocated or copied. */
#include <stdio.h>
#include <string.h>

#include "gguf_internal.h"

size_t gguf_left(const struct gguf_cursor *c)
{
	return c->size - c->pos;
}

llorch_status gguf_truncated(const struct gguf_cursor *c, uint64_t need)
{
	return llorch_error(LLORCH_E_FORMAT,
			"%s: file truncated at byte %zu (%llu bytes needed, %zu left)",
			c->what, c->pos, (unsigned long long)need, gguf_left(c));
}

llorch_status gguf_read_bytes(struct gguf_cursor *c, void *dst, size_t n)
{
	if (n > gguf_left(c))
		return gguf_truncated(c, n);
	memcpy(dst, c->p + c->pos, n);
	c->pos += n;
	return LLORCH_OK;
}

/* Little-endian loads, independent of the host's byte order. */
static uint64_t load_le(const uint8_t *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = (v << 8) | b[i];
	return v;
}

static bool host_is_little_endian(void)
{
	const uint16_t one = 1;
	uint8_t first;

	memcpy(&first, &one, 1);
	return first == 1;
}

llorch_status gguf_read_uint(struct gguf_cursor *c, size_t n, uint64_t *out)
{
	*out = 0;
	if (n > gguf_left(c))
		return gguf_truncated(c, n);
	*out = load_le(c->p + c->pos, n);
	c->pos += n;
	return LLORCH_OK;
}

llorch_status gguf_read_u32(struct gguf_cursor *c, uint32_t *out)
{
	uint64_t v;
	llorch_status st = gguf_read_uint(c, 4, &v);

	*out = (uint32_t)v;
	return st;
}

/* A string: checked against the cap and the bytes left, then copied into the
 * arena with a NUL. */
llorch_status gguf_read_string(struct gguf_cursor *c, struct gguf_arena *a, uint64_t cap,
		const char **out, size_t *len)
{
	uint64_t n;
	char *s;
	llorch_status st = gguf_read_uint(c, 8, &n);

	if (st != LLORCH_OK)
		return st;
	if (n > cap)
		return llorch_error(LLORCH_E_FORMAT, "%s: string length %llu exceeds the limit of %llu",
				c->what, (unsigned long long)n, (unsigned long long)cap);
	if (n > gguf_left(c))
		return llorch_error(LLORCH_E_FORMAT,
				"%s: string length %llu is past the end of the file (%zu bytes left)",
				c->what, (unsigned long long)n, gguf_left(c));
	s = gguf_arena_alloc(a, (size_t)n + 1);
	if (!s)
		return llorch_error(LLORCH_E_NOMEM, "%s: out of memory", c->what);
	memcpy(s, c->p + c->pos, (size_t)n);
	s[n] = '\0';
	c->pos += (size_t)n;
	*out = s;
	*len = (size_t)n;
	return LLORCH_OK;
}

size_t gguf_vtype_size(llorch_gguf_vtype t)
{
	switch (t) {
	case LLORCH_GGUF_UINT8:
	case LLORCH_GGUF_INT8:
	case LLORCH_GGUF_BOOL: return 1;
	case LLORCH_GGUF_UINT16:
	case LLORCH_GGUF_INT16: return 2;
	case LLORCH_GGUF_UINT32:
	case LLORCH_GGUF_INT32:
	case LLORCH_GGUF_FLOAT32: return 4;
	case LLORCH_GGUF_UINT64:
	case LLORCH_GGUF_INT64:
	case LLORCH_GGUF_FLOAT64: return 8;
	default: return 0;
	}
}

/* A scalar of type t from b (its little-endian bytes). */
static void decode_scalar(struct gguf_kv *kv, llorch_gguf_vtype t, const uint8_t *b)
{
	uint64_t raw = load_le(b, gguf_vtype_size(t));
	float f32;
	uint32_t r32 = (uint32_t)raw;

	switch (t) {
	case LLORCH_GGUF_INT8: kv->num.i = (int8_t)(uint8_t)raw; break;
	case LLORCH_GGUF_INT16: kv->num.i = (int16_t)(uint16_t)raw; break;
	case LLORCH_GGUF_INT32: kv->num.i = (int32_t)r32; break;
	case LLORCH_GGUF_INT64: kv->num.i = (int64_t)raw; break;
	case LLORCH_GGUF_FLOAT32:
		memcpy(&f32, &r32, sizeof f32);
		kv->num.f = f32;
		break;
	case LLORCH_GGUF_FLOAT64: memcpy(&kv->num.f, &raw, sizeof kv->num.f); break;
	default: kv->num.u = raw; break;
	}
}

static llorch_status check_bools(const struct gguf_cursor *c, const uint8_t *b, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (b[i] > 1)
			return llorch_error(LLORCH_E_FORMAT, "%s: bool element %llu is %u, not 0 or 1",
					c->what, (unsigned long long)i, b[i]);
	return LLORCH_OK;
}

/* An array's element count has already been bounded by the bytes left, so
 * every allocation below is at most a small multiple of the file's size. */
static llorch_status read_array(struct gguf_cursor *c, struct gguf_arena *a, struct gguf_kv *kv)
{
	uint32_t elem;
	uint64_t n;
	llorch_status st;

	if ((st = gguf_read_u32(c, &elem)) != LLORCH_OK || (st = gguf_read_uint(c, 8, &n)) != LLORCH_OK)
		return st;
	if (elem == LLORCH_GGUF_ARRAY)
		return llorch_error(LLORCH_E_FORMAT, "%s: arrays of arrays are not allowed", c->what);
	if (elem >= LLORCH_GGUF_VTYPE_COUNT)
		return llorch_error(LLORCH_E_FORMAT, "%s: unknown array element type %u", c->what, elem);
	if (n > GGUF_MAX_ARRAY_LEN)
		return llorch_error(LLORCH_E_FORMAT, "%s: array of %llu elements exceeds the limit of %llu",
				c->what, (unsigned long long)n, (unsigned long long)GGUF_MAX_ARRAY_LEN);
	kv->elem = (llorch_gguf_vtype)elem;
	kv->n = n;
	if (elem == LLORCH_GGUF_STRING) {
		const char **strs;
		size_t *lens;

		if (n > gguf_left(c) / 8)
			return llorch_error(LLORCH_E_FORMAT,
					"%s: %llu strings cannot fit in the %zu bytes left",
					c->what, (unsigned long long)n, gguf_left(c));
		strs = gguf_arena_alloc(a, (size_t)n * sizeof *strs);
		lens = gguf_arena_alloc(a, (size_t)n * sizeof *lens);
		if (!strs || !lens)
			return llorch_error(LLORCH_E_NOMEM, "%s: out of memory", c->what);
		for (uint64_t i = 0; i < n; i++) {
			st = gguf_read_string(c, a, GGUF_MAX_STRING_LEN, &strs[i], &lens[i]);
			if (st != LLORCH_OK) {
				/* Say which element failed. */
				char msg[1024];

				snprintf(msg, sizeof msg, "%s", llorch_last_error());
				return llorch_error(st, "%s (element %llu)", msg, (unsigned long long)i);
			}
		}
		kv->arr = strs;
		kv->lens = lens;
		return LLORCH_OK;
	}
	size_t esize = gguf_vtype_size(kv->elem);
	if (n > gguf_left(c) / esize)
		return llorch_error(LLORCH_E_FORMAT,
				"%s: %llu elements of %zu bytes are past the end of the file (%zu bytes left)",
				c->what, (unsigned long long)n, esize, gguf_left(c));
	size_t bytes = (size_t)n * esize;
	void *copy = gguf_arena_alloc(a, bytes ? bytes : 1);

	if (!copy)
		return llorch_error(LLORCH_E_NOMEM, "%s: out of memory", c->what);
	if (elem == LLORCH_GGUF_BOOL &&
			(st = check_bools(c, c->p + c->pos, n)) != LLORCH_OK)
		return st;
	memcpy(copy, c->p + c->pos, bytes);
	/* Stored in host order for the getters; files are little-endian. */
	if (esize > 1 && !host_is_little_endian()) {
		for (size_t i = 0; i < bytes; i += esize) {
			uint8_t *e = (uint8_t *)copy + i;

			for (size_t k = 0; k < esize / 2; k++) {
				uint8_t t = e[k];

				e[k] = e[esize - 1 - k];
				e[esize - 1 - k] = t;
			}
		}
	}
	c->pos += bytes;
	kv->arr = copy;
	return LLORCH_OK;
}

llorch_status gguf_read_value(struct gguf_cursor *c, struct gguf_arena *a, struct gguf_kv *kv)
{
	size_t size;

	switch (kv->type) {
	case LLORCH_GGUF_STRING:
		return gguf_read_string(c, a, GGUF_MAX_STRING_LEN, &kv->str, &kv->len);
	case LLORCH_GGUF_ARRAY:
		return read_array(c, a, kv);
	default:
		size = gguf_vtype_size(kv->type);
		if (size > gguf_left(c))
			return gguf_truncated(c, size);
		if (kv->type == LLORCH_GGUF_BOOL) {
			if (c->p[c->pos] > 1)
				return llorch_error(LLORCH_E_FORMAT, "%s: bool value is %u, not 0 or 1",
						c->what, c->p[c->pos]);
		}
		decode_scalar(kv, kv->type, c->p + c->pos);
		c->pos += size;
		return LLORCH_OK;
	}
}
