/* What the GGUF reader, its getters and the writer share; not installed. */
#ifndef LLORCH_GGUF_INTERNAL_H
#define LLORCH_GGUF_INTERNAL_H

#include "internal.h"

/* Hard caps on top of the bytes-remaining checks (as ggml's gguf.cpp has). */
#define GGUF_MAX_KEY_LEN 65535u               /* the GGUF spec's limit */
#define GGUF_MAX_STRING_LEN (1ull << 30)
#define GGUF_MAX_ARRAY_LEN (1ull << 30)
#define GGUF_MAX_ALIGNMENT (1u << 20)         /* larger is padding, not data */

/* One metadata value, parsed into memory the handle owns. */
struct gguf_kv {
	const char *key;          /* NUL-terminated, non-empty, no NUL inside */
	size_t key_len;
	llorch_gguf_vtype type;
	llorch_gguf_vtype elem;   /* arrays: the element type */
	uint64_t n;               /* arrays: the element count */
	union {
		uint64_t u;       /* UINT8..UINT64, BOOL (0 or 1) */
		int64_t i;        /* INT8..INT64 */
		double f;         /* FLOAT32 (exactly widened), FLOAT64 */
	} num;
	const char *str;          /* STRING: NUL-terminated copy */
	size_t len;
	const void *arr;          /* numeric/bool arrays: n elements, aligned;
	                           * string arrays: n (const char *) */
	const size_t *lens;       /* string arrays: n lengths */
};

/* Bump allocator for everything the metadata needs: a few large blocks
 * instead of one malloc per string. */
struct gguf_arena_chunk;
struct gguf_arena {
	struct gguf_arena_chunk *head;
	size_t next_cap;
};

void *gguf_arena_alloc(struct gguf_arena *a, size_t n);
void gguf_arena_free(struct gguf_arena *a);

/* An open-addressing index of names (keys, tensor names) to positions. */
struct gguf_index {
	int64_t *slots;           /* position + 1; 0 is empty */
	size_t mask;
};

uint64_t gguf_hash(const char *s, size_t len);
llorch_status gguf_index_init(struct gguf_index *ix, int64_t n);
/* Inserts position pos under name (len bytes); returns the position already
 * there under an equal name, else -1. name_at(g, i, &len) gives name i. */
int64_t gguf_index_insert(struct gguf_index *ix, const char *name, size_t len, int64_t pos,
		const char *(*name_at)(const llorch_gguf *, int64_t, size_t *), const llorch_gguf *g);
/* The position of a NUL-terminated name, or -1. */
int64_t gguf_index_find(const struct gguf_index *ix, const char *name,
		const char *(*name_at)(const llorch_gguf *, int64_t), const llorch_gguf *g);

/* A bounds-checked read cursor over the whole file; `what` names the item
 * being parsed, for messages. */
struct gguf_cursor {
	const uint8_t *p;
	size_t size;
	size_t pos;
	char what[200];
};

size_t gguf_left(const struct gguf_cursor *c);
/* FORMAT: "<what>: file truncated at byte N (need bytes, left)". */
llorch_status gguf_truncated(const struct gguf_cursor *c, uint64_t need);
llorch_status gguf_read_bytes(struct gguf_cursor *c, void *dst, size_t n);
/* An n-byte (1..8) little-endian unsigned integer. */
llorch_status gguf_read_uint(struct gguf_cursor *c, size_t n, uint64_t *out);
llorch_status gguf_read_u32(struct gguf_cursor *c, uint32_t *out);
/* A string of at most cap bytes, copied into the arena with a NUL. */
llorch_status gguf_read_string(struct gguf_cursor *c, struct gguf_arena *a, uint64_t cap,
		const char **out, size_t *len);
/* The value of kv (whose type is set and known), arrays included. */
llorch_status gguf_read_value(struct gguf_cursor *c, struct gguf_arena *a, struct gguf_kv *kv);

struct llorch_gguf {
	const uint8_t *base;
	size_t size;
	bool mapped;
	uint32_t version;
	size_t alignment;
	size_t data_offset;
	int64_t n_kv;
	struct gguf_kv *kvs;
	int64_t n_tensors;
	llorch_gguf_tensor *tensors;
	struct gguf_index key_index;
	struct gguf_index tensor_index;
	struct gguf_arena arena;
};

/* The size in bytes of a scalar value type; 0 for STRING/ARRAY/unknown. */
size_t gguf_vtype_size(llorch_gguf_vtype t);

/* Writes a short printable rendering of a name (for messages): non-printable
 * bytes as \xNN, long names cut with "...". */
const char *gguf_printable(const char *s, size_t len, char *buf, size_t bufsize);

/* The kv's parsed value, for the writer's copy (NULL if i is out of range). */
const struct gguf_kv *gguf_kv_at(const llorch_gguf *g, int64_t i);

#endif
