/* llorch-gguf info --json: the NDJSON records.
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
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "../common/cli.h"
#include "info.h"

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
json_t *hparams_json(const llorch_gguf *g)
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

json_t *tensor_json(const llorch_gguf *g, int64_t i, const info_opts *o)
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

static void set_string_key(json_t *r, const char *field, const llorch_gguf *g, const char *key)
{
	const char *s;
	size_t len;

	if (llorch_gguf_get_string(g, key, &s, &len) == LLORCH_OK)
		json_object_set_new(r, field, json_text(s, len, NULL));
}

json_t *file_json(const char *path, const llorch_gguf *g, const info_opts *o)
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
