/* What a parsed GGUF handle is stored in: a bump arena for metadata, and an
 * open-addressing hash index of names (keys, tensor names) for duplicate
 * checks while parsing and lookups afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_internal.h"

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

/* ---- name index ---- */


uint64_t gguf_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

llorch_status gguf_index_init(struct gguf_index *ix, int64_t n)
{
	size_t cap = 16;

	while (cap < (size_t)n * 2)
		cap *= 2;
	ix->slots = calloc(cap, sizeof *ix->slots);
	if (!ix->slots)
		return llorch_error(LLORCH_E_NOMEM, "out of memory for an index of %lld names",
				(long long)n);
	ix->mask = cap - 1;
	return LLORCH_OK;
}

int64_t gguf_index_insert(struct gguf_index *ix, const char *name, size_t len, int64_t pos,
		const char *(*name_at)(const llorch_gguf *, int64_t, size_t *), const llorch_gguf *g)
{
	size_t i = (size_t)gguf_hash(name, len) & ix->mask;

	for (;; i = (i + 1) & ix->mask) {
		size_t other_len;
		const char *other;

		if (ix->slots[i] == 0) {
			ix->slots[i] = pos + 1;
			return -1;
		}
		other = name_at(g, ix->slots[i] - 1, &other_len);
		if (other_len == len && memcmp(other, name, len) == 0)
			return ix->slots[i] - 1;
	}
}

int64_t gguf_index_find(const struct gguf_index *ix, const char *name,
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

