/* GGUF v3 writer, building side: collects keys and tensors in memory (tensor
 * data only by reference, or a callback that produces it at write time).
 * Everything it writes passes the reader's checks; it refuses input the
 * reader would reject (empty or duplicate names, bad shapes, sizes that do
 * not match). gguf_write_file.c lays the file out and writes it. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_write_internal.h"

llorch_status llorch_gguf_writer_new(llorch_gguf_writer **out)
{
	if (!out)
		return llorch_error(LLORCH_E_INVALID, "gguf_writer_new: NULL argument");
	*out = calloc(1, sizeof **out);
	if (!*out)
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	return LLORCH_OK;
}

static void wkv_clear(struct wkv *kv)
{
	free(kv->key);
	free(kv->data);
	free(kv->lens);
	memset(kv, 0, sizeof *kv);
}

void llorch_gguf_writer_free(llorch_gguf_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_kv; i++)
		wkv_clear(&w->kvs[i]);
	free(w->kvs);
	free(w->tensors);
	free(w);
}

/* Grows an array of elements of size esize so that one more fits. */
static bool grow(void **arr, size_t *cap, size_t n, size_t esize)
{
	size_t ncap, bytes;
	void *p;

	if (n < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 16;
	if (!llorch_mul_size(ncap, esize, &bytes) || !(p = realloc(*arr, bytes)))
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

/* The slot for key: its existing entry (cleared, for a replacement) or a new
 * one at the end, so keys stay unique and keep their first position. */
static llorch_status kv_slot(llorch_gguf_writer *w, const char *key, struct wkv **out)
{
	size_t len;

	if (!w || !key)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: NULL argument");
	len = strlen(key);
	if (len == 0)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: empty key");
	if (len > GGUF_MAX_KEY_LEN)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: key of %zu bytes (the limit is %u)",
				len, GGUF_MAX_KEY_LEN);
	char *copy = strdup(key);
	if (!copy)
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	for (size_t i = 0; i < w->n_kv; i++) {
		if (strcmp(w->kvs[i].key, key) == 0) {
			wkv_clear(&w->kvs[i]);
			w->kvs[i].key = copy;
			*out = &w->kvs[i];
			return LLORCH_OK;
		}
	}
	if (!grow((void **)&w->kvs, &w->cap_kv, w->n_kv, sizeof *w->kvs)) {
		free(copy);
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	}
	*out = &w->kvs[w->n_kv++];
	memset(*out, 0, sizeof **out);
	(*out)->key = copy;
	return LLORCH_OK;
}

/* Removes the entry at kv (used when filling a replacement fails, so that a
 * failed set never leaves a half value behind). */
static void kv_drop(llorch_gguf_writer *w, struct wkv *kv)
{
	size_t i = (size_t)(kv - w->kvs);

	wkv_clear(kv);
	memmove(&w->kvs[i], &w->kvs[i + 1], (w->n_kv - i - 1) * sizeof *w->kvs);
	w->n_kv--;
}

static llorch_status set_scalar(llorch_gguf_writer *w, const char *key,
		llorch_gguf_vtype type, uint64_t raw)
{
	struct wkv *kv;
	llorch_status st = kv_slot(w, key, &kv);

	if (st != LLORCH_OK)
		return st;
	kv->type = type;
	kv->raw = raw;
	return LLORCH_OK;
}

llorch_status llorch_gguf_set_u32(llorch_gguf_writer *w, const char *key, uint32_t v)
{
	return set_scalar(w, key, LLORCH_GGUF_UINT32, v);
}

llorch_status llorch_gguf_set_i32(llorch_gguf_writer *w, const char *key, int32_t v)
{
	return set_scalar(w, key, LLORCH_GGUF_INT32, (uint32_t)v);
}

llorch_status llorch_gguf_set_u64(llorch_gguf_writer *w, const char *key, uint64_t v)
{
	return set_scalar(w, key, LLORCH_GGUF_UINT64, v);
}

llorch_status llorch_gguf_set_f32(llorch_gguf_writer *w, const char *key, float v)
{
	uint32_t u;

	memcpy(&u, &v, sizeof u);
	return set_scalar(w, key, LLORCH_GGUF_FLOAT32, u);
}

llorch_status llorch_gguf_set_bool(llorch_gguf_writer *w, const char *key, bool v)
{
	return set_scalar(w, key, LLORCH_GGUF_BOOL, v ? 1 : 0);
}

static llorch_status set_bytes(llorch_gguf_writer *w, const char *key, const char *s, size_t len)
{
	struct wkv *kv;
	llorch_status st;

	if (len > GGUF_MAX_STRING_LEN)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: key '%s': string of %zu bytes is too long",
				key ? key : "(null)", len);
	if ((st = kv_slot(w, key, &kv)) != LLORCH_OK)
		return st;
	kv->type = LLORCH_GGUF_STRING;
	kv->data = malloc(len ? len : 1);
	if (!kv->data) {
		kv_drop(w, kv);
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	}
	memcpy(kv->data, s, len);
	kv->len = len;
	return LLORCH_OK;
}

llorch_status llorch_gguf_set_string(llorch_gguf_writer *w, const char *key, const char *s)
{
	if (!s)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: NULL string");
	return set_bytes(w, key, s, strlen(s));
}

static llorch_status fill_array(llorch_gguf_writer *w, const char *key,
		llorch_gguf_vtype elem, const void *data, uint64_t n)
{
	size_t esize = gguf_vtype_size(elem), bytes;
	struct wkv *kv;
	llorch_status st;

	if (esize == 0)
		return llorch_error(LLORCH_E_INVALID,
				"gguf writer: key '%s': %s is not a numeric or bool element type",
				key ? key : "(null)", llorch_gguf_vtype_name(elem));
	if (n > GGUF_MAX_ARRAY_LEN || !llorch_mul_size((size_t)n, esize, &bytes))
		return llorch_error(LLORCH_E_INVALID, "gguf writer: key '%s': array of %llu elements is too long",
				key ? key : "(null)", (unsigned long long)n);
	if (!data && n > 0)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: NULL array data");
	if (elem == LLORCH_GGUF_BOOL)
		for (size_t i = 0; i < bytes; i++)
			if (((const uint8_t *)data)[i] > 1)
				return llorch_error(LLORCH_E_INVALID,
						"gguf writer: key '%s': bool element %zu is %u, not 0 or 1",
						key ? key : "(null)", i, ((const uint8_t *)data)[i]);
	if ((st = kv_slot(w, key, &kv)) != LLORCH_OK)
		return st;
	kv->type = LLORCH_GGUF_ARRAY;
	kv->elem = elem;
	kv->n = n;
	kv->data = malloc(bytes ? bytes : 1);
	if (!kv->data) {
		kv_drop(w, kv);
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	}
	if (bytes)
		memcpy(kv->data, data, bytes);
	kv->len = bytes;
	return LLORCH_OK;
}

llorch_status llorch_gguf_set_array(llorch_gguf_writer *w, const char *key,
		llorch_gguf_vtype elem, const void *data, uint64_t n)
{
	return fill_array(w, key, elem, data, n);
}

llorch_status llorch_gguf_set_array_strings(llorch_gguf_writer *w, const char *key,
		const char *const *strs, const size_t *lens, uint64_t n)
{
	size_t total = 0, lens_bytes;
	struct wkv *kv;
	llorch_status st;

	if (n > GGUF_MAX_ARRAY_LEN || !llorch_mul_size((size_t)n, sizeof(size_t), &lens_bytes))
		return llorch_error(LLORCH_E_INVALID, "gguf writer: array of %llu strings is too long",
				(unsigned long long)n);
	if (!strs && n > 0)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: NULL string array");
	for (uint64_t i = 0; i < n; i++) {
		size_t len;

		if (!strs[i])
			return llorch_error(LLORCH_E_INVALID, "gguf writer: string %llu is NULL",
					(unsigned long long)i);
		len = lens ? lens[i] : strlen(strs[i]);
		if (len > GGUF_MAX_STRING_LEN || !llorch_add_size(total, len, &total))
			return llorch_error(LLORCH_E_INVALID, "gguf writer: string %llu is too long",
					(unsigned long long)i);
	}
	if ((st = kv_slot(w, key, &kv)) != LLORCH_OK)
		return st;
	kv->type = LLORCH_GGUF_ARRAY;
	kv->elem = LLORCH_GGUF_STRING;
	kv->n = n;
	kv->data = malloc(total ? total : 1);
	kv->lens = malloc(lens_bytes ? lens_bytes : 1);
	if (!kv->data || !kv->lens) {
		kv_drop(w, kv);
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	}
	kv->len = total;
	total = 0;
	for (uint64_t i = 0; i < n; i++) {
		kv->lens[i] = lens ? lens[i] : strlen(strs[i]);
		memcpy((char *)kv->data + total, strs[i], kv->lens[i]);
		total += kv->lens[i];
	}
	return LLORCH_OK;
}

llorch_status llorch_gguf_copy_kv(llorch_gguf_writer *w, const llorch_gguf *g, int64_t i)
{
	const struct gguf_kv *src = gguf_kv_at(g, i);
	uint64_t raw;
	float f;
	uint32_t u;

	if (!src)
		return llorch_error(LLORCH_E_NOTFOUND, "no metadata entry %lld to copy", (long long)i);
	switch (src->type) {
	case LLORCH_GGUF_STRING:
		return set_bytes(w, src->key, src->str, src->len);
	case LLORCH_GGUF_ARRAY:
		if (src->elem == LLORCH_GGUF_STRING)
			return llorch_gguf_set_array_strings(w, src->key, src->arr, src->lens, src->n);
		return fill_array(w, src->key, src->elem, src->arr, src->n);
	case LLORCH_GGUF_FLOAT32:
		f = (float)src->num.f; /* exact: it was widened from a float */
		memcpy(&u, &f, sizeof u);
		raw = u;
		break;
	case LLORCH_GGUF_FLOAT64:
		memcpy(&raw, &src->num.f, sizeof raw);
		break;
	default:
		raw = src->num.u;
		break;
	}
	return set_scalar(w, src->key, src->type, raw);
}

llorch_status llorch_gguf_remove_key(llorch_gguf_writer *w, const char *key)
{
	if (!w || !key)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: NULL argument");
	for (size_t i = 0; i < w->n_kv; i++) {
		if (strcmp(w->kvs[i].key, key) == 0) {
			kv_drop(w, &w->kvs[i]);
			return LLORCH_OK;
		}
	}
	return llorch_error(LLORCH_E_NOTFOUND, "key '%s' not found", key);
}

llorch_status llorch_gguf_add_tensor(llorch_gguf_writer *w, const char *name,
		llorch_dtype type, uint32_t n_dims, const int64_t *ne,
		const void *data, size_t nbytes)
{
	struct wtensor *t;
	int64_t n = 1;
	size_t want, len;

	if (!w || !name || !ne || (!data && nbytes > 0))
		return llorch_error(LLORCH_E_INVALID, "gguf writer: NULL argument");
	len = strlen(name);
	if (len == 0 || len >= LLORCH_GGUF_MAX_NAME)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: tensor name '%s' must be 1 to %d bytes",
				name, LLORCH_GGUF_MAX_NAME - 1);
	for (size_t i = 0; i < w->n_tensors; i++)
		if (strcmp(w->tensors[i].name, name) == 0)
			return llorch_error(LLORCH_E_INVALID, "gguf writer: tensor '%s' added twice", name);
	if (n_dims == 0 || n_dims > LLORCH_GGUF_MAX_DIMS)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: tensor '%s': %u dimensions", name, n_dims);
	if (!llorch_dtype_known(type))
		return llorch_error(LLORCH_E_INVALID, "gguf writer: tensor '%s': unknown type %d",
				name, (int)type);
	for (uint32_t d = 0; d < n_dims; d++) {
		if (ne[d] <= 0 || n > INT64_MAX / ne[d])
			return llorch_error(LLORCH_E_INVALID, "gguf writer: tensor '%s': bad dimension %u (%lld)",
					name, d, (long long)ne[d]);
		n *= ne[d];
	}
	if ((uint64_t)ne[0] % llorch_dtype_block_size(type) != 0 ||
			llorch_dtype_row_bytes(type, n, &want) != LLORCH_OK)
		return llorch_error(LLORCH_E_INVALID,
				"gguf writer: tensor '%s': dimension 0 (%lld) is not a multiple of the %s block size",
				name, (long long)ne[0], llorch_dtype_name(type));
	if (nbytes != want)
		return llorch_error(LLORCH_E_INVALID,
				"gguf writer: tensor '%s': %zu bytes given, its type and shape need %zu",
				name, nbytes, want);
	if (!grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors))
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	t = &w->tensors[w->n_tensors++];
	memset(t, 0, sizeof *t);
	memcpy(t->name, name, len + 1);
	t->type = type;
	t->n_dims = n_dims;
	for (uint32_t d = 0; d < LLORCH_GGUF_MAX_DIMS; d++)
		t->ne[d] = d < n_dims ? ne[d] : 1;
	t->data = data;
	t->nbytes = nbytes;
	return LLORCH_OK;
}

llorch_status llorch_gguf_add_tensor_fill(llorch_gguf_writer *w, const char *name,
		llorch_dtype type, uint32_t n_dims, const int64_t *ne,
		llorch_gguf_fill_fn fill, void *user)
{
	int64_t n = 1;
	size_t nbytes;
	llorch_status st;

	if (!w || !name || !ne || !fill)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: NULL argument");
	/* The byte count its type and shape need; add_tensor checks the rest. */
	for (uint32_t d = 0; d < n_dims && d < LLORCH_GGUF_MAX_DIMS; d++) {
		if (ne[d] <= 0 || n > INT64_MAX / ne[d])
			return llorch_error(LLORCH_E_INVALID, "gguf writer: tensor '%s': bad dimension %u (%lld)",
					name, d, (long long)ne[d]);
		n *= ne[d];
	}
	if (!llorch_dtype_known(type) || llorch_dtype_row_bytes(type, n, &nbytes) != LLORCH_OK)
		nbytes = 0; /* add_tensor reports the type or shape */
	/* Any non-NULL pointer passes add_tensor's data check; it is never read. */
	st = llorch_gguf_add_tensor(w, name, type, n_dims, ne, nbytes ? (const void *)w : NULL, nbytes);
	if (st != LLORCH_OK)
		return st;
	w->tensors[w->n_tensors - 1].data = NULL;
	w->tensors[w->n_tensors - 1].fill = fill;
	w->tensors[w->n_tensors - 1].fill_user = user;
	return LLORCH_OK;
}
