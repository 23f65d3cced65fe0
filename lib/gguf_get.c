/* GGUF handle accessors: header facts, metadata by index and by key with type
 * checks (never an abort: a wrong type is LLORCH_E_TYPE), tensor lookups, and
 * the arena and name index the reader fills. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_internal.h"

/* ---- arena ---- */

struct gguf_arena_chunk {
	struct gguf_arena_chunk *next;
	size_t cap;
	size_t used;
	max_align_t data[];
};

#define ARENA_FIRST_CHUNK (64u << 10)
#define ARENA_MAX_CHUNK (16u << 20)

void *gguf_arena_alloc(struct gguf_arena *a, size_t n)
{
	struct gguf_arena_chunk *c = a->head;
	size_t need;

	/* Every block 8-aligned, for the u64/double arrays. */
	if (!llorch_add_size(n, 7, &need))
		return NULL;
	need &= ~(size_t)7;
	if (!c || c->cap - c->used < need) {
		size_t cap = a->next_cap ? a->next_cap : ARENA_FIRST_CHUNK;
		size_t total;

		if (cap < need)
			cap = need;
		if (!llorch_add_size(sizeof *c, cap, &total))
			return NULL;
		c = malloc(total);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		if (a->next_cap < ARENA_MAX_CHUNK)
			a->next_cap = a->next_cap ? a->next_cap * 2 : ARENA_FIRST_CHUNK * 2;
	}
	void *p = (unsigned char *)c->data + c->used;
	c->used += need;
	return p;
}

void gguf_arena_free(struct gguf_arena *a)
{
	struct gguf_arena_chunk *c = a->head;

	while (c) {
		struct gguf_arena_chunk *next = c->next;

		free(c);
		c = next;
	}
	a->head = NULL;
	a->next_cap = 0;
}

const char *gguf_printable(const char *s, size_t len, char *buf, size_t bufsize)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (o + 8 >= bufsize) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		if (ch >= 0x20 && ch < 0x7f && ch != '\'' && ch != '\\')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, bufsize - o, "\\x%02x", ch);
	}
	buf[o] = '\0';
	return buf;
}

/* ---- header facts ---- */

uint32_t llorch_gguf_version(const llorch_gguf *g)
{
	return g->version;
}

size_t llorch_gguf_alignment(const llorch_gguf *g)
{
	return g->alignment;
}

size_t llorch_gguf_data_offset(const llorch_gguf *g)
{
	return g->data_offset;
}

size_t llorch_gguf_file_size(const llorch_gguf *g)
{
	return g->size;
}

const char *llorch_gguf_vtype_name(llorch_gguf_vtype t)
{
	static const char *const names[LLORCH_GGUF_VTYPE_COUNT] = {
		"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
		"bool", "string", "array", "uint64", "int64", "float64",
	};

	return (unsigned)t < LLORCH_GGUF_VTYPE_COUNT ? names[t] : "?";
}

/* ---- metadata by index ---- */

const struct gguf_kv *gguf_kv_at(const llorch_gguf *g, int64_t i)
{
	return g && i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

int64_t llorch_gguf_n_kv(const llorch_gguf *g)
{
	return g->n_kv;
}

const char *llorch_gguf_kv_key(const llorch_gguf *g, int64_t i)
{
	const struct gguf_kv *kv = gguf_kv_at(g, i);

	return kv ? kv->key : NULL;
}

llorch_gguf_vtype llorch_gguf_kv_type(const llorch_gguf *g, int64_t i)
{
	const struct gguf_kv *kv = gguf_kv_at(g, i);

	return kv ? kv->type : LLORCH_GGUF_VTYPE_COUNT;
}

static llorch_status no_kv(int64_t i)
{
	return llorch_error(LLORCH_E_NOTFOUND, "no metadata entry %lld", (long long)i);
}

static llorch_status wrong_type(const struct gguf_kv *kv, const char *expected)
{
	char name[96];

	gguf_printable(kv->key, kv->key_len, name, sizeof name);
	if (kv->type == LLORCH_GGUF_ARRAY)
		return llorch_error(LLORCH_E_TYPE, "key '%s': expected %s, found an array of %s",
				name, expected, llorch_gguf_vtype_name(kv->elem));
	return llorch_error(LLORCH_E_TYPE, "key '%s': expected %s, found %s",
			name, expected, llorch_gguf_vtype_name(kv->type));
}

llorch_status llorch_gguf_kv_array_info(const llorch_gguf *g, int64_t i,
		llorch_gguf_vtype *elem, uint64_t *n)
{
	const struct gguf_kv *kv = gguf_kv_at(g, i);

	if (!kv)
		return no_kv(i);
	if (kv->type != LLORCH_GGUF_ARRAY)
		return wrong_type(kv, "an array");
	if (elem)
		*elem = kv->elem;
	if (n)
		*n = kv->n;
	return LLORCH_OK;
}

static bool is_signed_int(llorch_gguf_vtype t)
{
	return t == LLORCH_GGUF_INT8 || t == LLORCH_GGUF_INT16 ||
		t == LLORCH_GGUF_INT32 || t == LLORCH_GGUF_INT64;
}

static bool is_unsigned_int(llorch_gguf_vtype t)
{
	return t == LLORCH_GGUF_UINT8 || t == LLORCH_GGUF_UINT16 ||
		t == LLORCH_GGUF_UINT32 || t == LLORCH_GGUF_UINT64;
}

llorch_status llorch_gguf_kv_int(const llorch_gguf *g, int64_t i, int64_t *out)
{
	const struct gguf_kv *kv = gguf_kv_at(g, i);

	if (!kv)
		return no_kv(i);
	if (is_signed_int(kv->type)) {
		*out = kv->num.i;
		return LLORCH_OK;
	}
	if (!is_unsigned_int(kv->type))
		return wrong_type(kv, "an integer");
	if (kv->num.u > INT64_MAX) {
		char name[96];

		return llorch_error(LLORCH_E_RANGE, "key '%s': %llu does not fit int64",
				gguf_printable(kv->key, kv->key_len, name, sizeof name),
				(unsigned long long)kv->num.u);
	}
	*out = (int64_t)kv->num.u;
	return LLORCH_OK;
}

llorch_status llorch_gguf_kv_uint64(const llorch_gguf *g, int64_t i, uint64_t *out)
{
	const struct gguf_kv *kv = gguf_kv_at(g, i);

	if (!kv)
		return no_kv(i);
	if (is_unsigned_int(kv->type)) {
		*out = kv->num.u;
		return LLORCH_OK;
	}
	if (!is_signed_int(kv->type))
		return wrong_type(kv, "an integer");
	if (kv->num.i < 0) {
		char name[96];

		return llorch_error(LLORCH_E_RANGE, "key '%s': %lld is negative",
				gguf_printable(kv->key, kv->key_len, name, sizeof name),
				(long long)kv->num.i);
	}
	*out = (uint64_t)kv->num.i;
	return LLORCH_OK;
}

llorch_status llorch_gguf_kv_float(const llorch_gguf *g, int64_t i, double *out)
{
	const struct gguf_kv *kv = gguf_kv_at(g, i);

	if (!kv)
		return no_kv(i);
	if (kv->type != LLORCH_GGUF_FLOAT32 && kv->type != LLORCH_GGUF_FLOAT64)
		return wrong_type(kv, "a float");
	*out = kv->num.f;
	return LLORCH_OK;
}

llorch_status llorch_gguf_kv_bool(const llorch_gguf *g, int64_t i, bool *out)
{
	const struct gguf_kv *kv = gguf_kv_at(g, i);

	if (!kv)
		return no_kv(i);
	if (kv->type != LLORCH_GGUF_BOOL)
		return wrong_type(kv, "bool");
	*out = kv->num.u != 0;
	return LLORCH_OK;
}

llorch_status llorch_gguf_kv_string(const llorch_gguf *g, int64_t i, const char **s, size_t *len)
{
	const struct gguf_kv *kv = gguf_kv_at(g, i);

	if (!kv)
		return no_kv(i);
	if (kv->type != LLORCH_GGUF_STRING)
		return wrong_type(kv, "string");
	*s = kv->str;
	if (len)
		*len = kv->len;
	return LLORCH_OK;
}

llorch_status llorch_gguf_kv_array(const llorch_gguf *g, int64_t i,
		llorch_gguf_vtype elem, const void **data, uint64_t *n)
{
	const struct gguf_kv *kv = gguf_kv_at(g, i);

	if (!kv)
		return no_kv(i);
	if (kv->type != LLORCH_GGUF_ARRAY || kv->elem != elem) {
		char expected[64];

		snprintf(expected, sizeof expected, "an array of %s", llorch_gguf_vtype_name(elem));
		return wrong_type(kv, expected);
	}
	*data = kv->arr;
	if (n)
		*n = kv->n;
	return LLORCH_OK;
}

llorch_status llorch_gguf_kv_array_string(const llorch_gguf *g, int64_t i,
		uint64_t j, const char **s, size_t *len)
{
	const struct gguf_kv *kv = gguf_kv_at(g, i);

	if (!kv)
		return no_kv(i);
	if (kv->type != LLORCH_GGUF_ARRAY || kv->elem != LLORCH_GGUF_STRING)
		return wrong_type(kv, "an array of string");
	if (j >= kv->n) {
		char name[96];

		return llorch_error(LLORCH_E_RANGE, "key '%s': element %llu of %llu",
				gguf_printable(kv->key, kv->key_len, name, sizeof name),
				(unsigned long long)j, (unsigned long long)kv->n);
	}
	*s = ((const char *const *)kv->arr)[j];
	if (len)
		*len = kv->lens[j];
	return LLORCH_OK;
}

/* ---- metadata by key ---- */

static int64_t index_find(const struct gguf_index *ix, const char *name,
		const char *(*name_at)(const llorch_gguf *, int64_t), const llorch_gguf *g)
{
	if (!ix->slots || !name)
		return -1;
	size_t len = strlen(name);
	for (size_t i = (size_t)gguf_hash(name, len) & ix->mask; ix->slots[i] != 0;
			i = (i + 1) & ix->mask) {
		const char *other = name_at(g, ix->slots[i] - 1);

		if (strcmp(other, name) == 0)
			return ix->slots[i] - 1;
	}
	return -1;
}

static const char *key_at(const llorch_gguf *g, int64_t i)
{
	return g->kvs[i].key;
}

static const char *tensor_name_at(const llorch_gguf *g, int64_t i)
{
	return g->tensors[i].name;
}

int64_t llorch_gguf_find_key(const llorch_gguf *g, const char *key)
{
	return index_find(&g->key_index, key, key_at, g);
}

/* The index of key, or NOTFOUND with a message naming it. */
static llorch_status find(const llorch_gguf *g, const char *key, int64_t *i)
{
	*i = llorch_gguf_find_key(g, key);
	if (*i < 0)
		return llorch_error(LLORCH_E_NOTFOUND, "key '%s' not found", key ? key : "(null)");
	return LLORCH_OK;
}

llorch_status llorch_gguf_get_int(const llorch_gguf *g, const char *key, int64_t *out)
{
	int64_t i;
	llorch_status st = find(g, key, &i);

	return st != LLORCH_OK ? st : llorch_gguf_kv_int(g, i, out);
}

llorch_status llorch_gguf_get_float(const llorch_gguf *g, const char *key, double *out)
{
	int64_t i;
	llorch_status st = find(g, key, &i);

	return st != LLORCH_OK ? st : llorch_gguf_kv_float(g, i, out);
}

llorch_status llorch_gguf_get_bool(const llorch_gguf *g, const char *key, bool *out)
{
	int64_t i;
	llorch_status st = find(g, key, &i);

	return st != LLORCH_OK ? st : llorch_gguf_kv_bool(g, i, out);
}

llorch_status llorch_gguf_get_string(const llorch_gguf *g, const char *key,
		const char **s, size_t *len)
{
	int64_t i;
	llorch_status st = find(g, key, &i);

	return st != LLORCH_OK ? st : llorch_gguf_kv_string(g, i, s, len);
}

llorch_status llorch_gguf_get_array(const llorch_gguf *g, const char *key,
		llorch_gguf_vtype elem, const void **data, uint64_t *n)
{
	int64_t i;
	llorch_status st = find(g, key, &i);

	return st != LLORCH_OK ? st : llorch_gguf_kv_array(g, i, elem, data, n);
}

llorch_status llorch_gguf_get_array_string(const llorch_gguf *g, const char *key,
		uint64_t j, const char **s, size_t *len)
{
	int64_t i;
	llorch_status st = find(g, key, &i);

	return st != LLORCH_OK ? st : llorch_gguf_kv_array_string(g, i, j, s, len);
}

/* ---- tensors ---- */

int64_t llorch_gguf_n_tensors(const llorch_gguf *g)
{
	return g->n_tensors;
}

const llorch_gguf_tensor *llorch_gguf_tensor_at(const llorch_gguf *g, int64_t i)
{
	return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const llorch_gguf_tensor *llorch_gguf_find_tensor(const llorch_gguf *g, const char *name)
{
	int64_t i = index_find(&g->tensor_index, name, tensor_name_at, g);

	return i >= 0 ? &g->tensors[i] : NULL;
}
