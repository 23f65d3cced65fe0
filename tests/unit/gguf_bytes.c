/* Test helper: hand-assembled GGUF bytes (see gguf_bytes.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf_bytes.h"

void gb_free(struct gbytes *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void gb_raw(struct gbytes *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void put_le(uint8_t *dst, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (uint8_t)(v >> (8 * i));
}

static void gb_le(struct gbytes *b, uint64_t v, size_t n)
{
	uint8_t tmp[8];

	put_le(tmp, v, n);
	gb_raw(b, tmp, n);
}

void gb_u8(struct gbytes *b, uint8_t v) { gb_le(b, v, 1); }
void gb_u16(struct gbytes *b, uint16_t v) { gb_le(b, v, 2); }
void gb_u32(struct gbytes *b, uint32_t v) { gb_le(b, v, 4); }
void gb_u64(struct gbytes *b, uint64_t v) { gb_le(b, v, 8); }

void gb_f32(struct gbytes *b, float v)
{
	uint32_t u;

	memcpy(&u, &v, 4);
	gb_u32(b, u);
}

void gb_f64(struct gbytes *b, double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	gb_u64(b, u);
}

void gb_str(struct gbytes *b, const char *s)
{
	gb_u64(b, strlen(s));
	gb_raw(b, s, strlen(s));
}

void gb_header(struct gbytes *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	gb_raw(b, "GGUF", 4);
	gb_u32(b, version);
	gb_u64(b, n_tensors);
	gb_u64(b, n_kv);
}

void gb_key(struct gbytes *b, const char *key, uint32_t type)
{
	gb_str(b, key);
	gb_u32(b, type);
}

void gb_tensor(struct gbytes *b, const char *name, uint32_t n_dims, const int64_t *ne,
		uint32_t type, uint64_t offset)
{
	gb_str(b, name);
	gb_u32(b, n_dims);
	for (uint32_t i = 0; i < n_dims; i++)
		gb_u64(b, (uint64_t)ne[i]);
	gb_u32(b, type);
	gb_u64(b, offset);
}

void gb_pad(struct gbytes *b, size_t align)
{
	static const uint8_t zero[64];

	while (b->len % align)
		gb_raw(b, zero, 1);
}

void gb_put_u32(struct gbytes *b, size_t off, uint32_t v)
{
	put_le(b->p + off, v, 4);
}

void gb_put_u64(struct gbytes *b, size_t off, uint64_t v)
{
	put_le(b->p + off, v, 8);
}

int gb_write_file(const struct gbytes *b, const char *path)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	if (fwrite(b->p, 1, b->len, f) != b->len) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

char *gb_shared_path(const char *rel)
{
	const char *root = getenv("LLORCH_SHARED");
	char *path;
	size_t n;

	if (!root || !*root)
		root = "../shared";
	n = strlen(root) + strlen(rel) + 8;
	path = malloc(n);
	if (!path)
		abort();
	snprintf(path, n, "%s/data/%s", root, rel);
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "# skipping: %s is missing\n", path);
		free(path);
		return NULL;
	}
	return path;
}
