/* What the GGUF writer's two files share; not installed. */
#ifndef LLORCH_GGUF_WRITE_INTERNAL_H
#define LLORCH_GGUF_WRITE_INTERNAL_H

#include "gguf_internal.h"

struct wkv {
	char *key;
	llorch_gguf_vtype type;
	llorch_gguf_vtype elem;   /* arrays */
	uint64_t n;               /* arrays: element count */
	uint64_t raw;             /* scalars: the value's bits, zero-extended */
	void *data;               /* STRING bytes; numeric array elements (host
	                           * order); string arrays: the strings back to back */
	size_t len;               /* bytes in data */
	size_t *lens;             /* string arrays: n lengths */
};

struct wtensor {
	char name[LLORCH_GGUF_MAX_NAME];
	llorch_dtype type;
	uint32_t n_dims;
	int64_t ne[LLORCH_GGUF_MAX_DIMS];
	const void *data;
	size_t nbytes;
	uint64_t offset;
	llorch_gguf_fill_fn fill;  /* produces data at write time, when set */
	void *fill_user;
};

struct llorch_gguf_writer {
	struct wkv *kvs;
	size_t n_kv, cap_kv;
	struct wtensor *tensors;
	size_t n_tensors, cap_tensors;
};

#endif
