/* GGUF handle accessors: header facts, metadata by index and by key with type
 * checks (never an abort: a wrong type is LLORCH_E_TYPE), tensor lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_internal.h"

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
	return gguf_index_find(&g->key_index, key, key_at, g);
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
	int64_t i = gguf_index_find(&g->tensor_index, name, tensor_name_at, g);

	return i >= 0 ? &g->tensors[i] : NULL;
}
