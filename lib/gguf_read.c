/* GGUF v2/v3 reader: parses the header, metadata and tensor infos of a mapped
 * file or a caller's buffer, checking every field against the bytes that
 * remain before it is used (field notes §4.1).
 *
 * Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv, n_kv
 * of (string key, u32 type, value), n_tensors of (string name, u32 n_dims,
 * u64 ne[n_dims], u32 type, u64 offset), padding to the alignment, then the
 * tensor data. A string is u64 length + bytes; an array is u32 element type +
 * u64 count + elements. v2 and v3 share this layout (v1 had 32-bit counts).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_internal.h"

/* The smallest encodings, for bounding counts by the bytes that remain. */
#define MIN_KV_BYTES (8 + 1 + 4 + 1)              /* key "x", type, a u8 */
#define MIN_TENSOR_INFO_BYTES (8 + 1 + 4 + 8 + 4 + 8) /* name "x", 1 dim */

static const char *kv_name_at(const llorch_gguf *g, int64_t i, size_t *len)
{
	*len = g->kvs[i].key_len;
	return g->kvs[i].key;
}

static const char *tensor_name_at(const llorch_gguf *g, int64_t i, size_t *len)
{
	*len = strlen(g->tensors[i].name);
	return g->tensors[i].name;
}

/* ---- header, metadata, tensor infos ---- */

static llorch_status read_header(struct gguf_cursor *c, llorch_gguf *g, uint64_t *n_tensors,
		uint64_t *n_kv)
{
	uint8_t magic[4];
	llorch_status st;

	snprintf(c->what, sizeof c->what, "header");
	if (c->size < 4 || memcmp(c->p, "GGUF", 4) != 0)
		return llorch_error(LLORCH_E_FORMAT, "not a GGUF file (no 'GGUF' magic)");
	if ((st = gguf_read_bytes(c, magic, 4)) != LLORCH_OK ||
			(st = gguf_read_u32(c, &g->version)) != LLORCH_OK)
		return st;
	if (g->version != 0 && (g->version & 0xffff) == 0)
		return llorch_error(LLORCH_E_UNSUPPORTED,
				"big-endian GGUF file (version reads as 0x%08x): only little-endian files are supported",
				g->version);
	if (g->version == 0)
		return llorch_error(LLORCH_E_FORMAT, "GGUF version 0 is not a valid version");
	if (g->version == 1)
		return llorch_error(LLORCH_E_UNSUPPORTED, "GGUF version 1 is not supported (only 2 and 3)");
	if (g->version > 3)
		return llorch_error(LLORCH_E_UNSUPPORTED, "GGUF version %u is not supported (only 2 and 3)",
				g->version);
	if ((st = gguf_read_uint(c, 8, n_tensors)) != LLORCH_OK ||
			(st = gguf_read_uint(c, 8, n_kv)) != LLORCH_OK)
		return st;
	if (*n_kv > gguf_left(c) / MIN_KV_BYTES)
		return llorch_error(LLORCH_E_FORMAT, "header: %llu metadata entries cannot fit in the %zu bytes left",
				(unsigned long long)*n_kv, gguf_left(c));
	if (*n_tensors > gguf_left(c) / MIN_TENSOR_INFO_BYTES)
		return llorch_error(LLORCH_E_FORMAT, "header: %llu tensor infos cannot fit in the %zu bytes left",
				(unsigned long long)*n_tensors, gguf_left(c));
	return LLORCH_OK;
}

static llorch_status read_kvs(struct gguf_cursor *c, llorch_gguf *g, uint64_t n_kv)
{
	char name[96];
	llorch_status st;

	g->kvs = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kvs);
	if (!g->kvs)
		return llorch_error(LLORCH_E_NOMEM, "out of memory for %llu metadata entries",
				(unsigned long long)n_kv);
	if ((st = gguf_index_init(&g->key_index, (int64_t)n_kv)) != LLORCH_OK)
		return st;
	for (uint64_t i = 0; i < n_kv; i++) {
		struct gguf_kv *kv = &g->kvs[i];
		uint32_t type;
		int64_t dup;

		snprintf(c->what, sizeof c->what, "metadata entry %llu: key", (unsigned long long)i);
		if ((st = gguf_read_string(c, &g->arena, GGUF_MAX_KEY_LEN, &kv->key, &kv->key_len)) != LLORCH_OK)
			return st;
		gguf_printable(kv->key, kv->key_len, name, sizeof name);
		if (kv->key_len == 0)
			return llorch_error(LLORCH_E_FORMAT, "metadata entry %llu: empty key",
					(unsigned long long)i);
		if (memchr(kv->key, '\0', kv->key_len))
			return llorch_error(LLORCH_E_FORMAT, "key '%s': contains a NUL byte", name);
		snprintf(c->what, sizeof c->what, "key '%s'", name);
		dup = gguf_index_insert(&g->key_index, kv->key, kv->key_len, (int64_t)i, kv_name_at, g);
		if (dup >= 0)
			return llorch_error(LLORCH_E_FORMAT, "key '%s': duplicate (entries %lld and %llu)",
					name, (long long)dup, (unsigned long long)i);
		if ((st = gguf_read_u32(c, &type)) != LLORCH_OK)
			return st;
		if (type >= LLORCH_GGUF_VTYPE_COUNT)
			return llorch_error(LLORCH_E_FORMAT, "key '%s': unknown value type %u", name, type);
		kv->type = (llorch_gguf_vtype)type;
		if ((st = gguf_read_value(c, &g->arena, kv)) != LLORCH_OK)
			return st;
		g->n_kv = (int64_t)i + 1;
	}
	return LLORCH_OK;
}

static llorch_status read_alignment(llorch_gguf *g)
{
	int64_t i = llorch_gguf_find_key(g, "general.alignment");
	const struct gguf_kv *kv;

	g->alignment = LLORCH_GGUF_DEFAULT_ALIGNMENT;
	if (i < 0)
		return LLORCH_OK;
	kv = &g->kvs[i];
	if (kv->type != LLORCH_GGUF_UINT32)
		return llorch_error(LLORCH_E_FORMAT, "key 'general.alignment': must be uint32, not %s",
				llorch_gguf_vtype_name(kv->type));
	if (kv->num.u == 0 || (kv->num.u & (kv->num.u - 1)) != 0)
		return llorch_error(LLORCH_E_FORMAT,
				"key 'general.alignment': %llu is not a power of two",
				(unsigned long long)kv->num.u);
	if (kv->num.u > GGUF_MAX_ALIGNMENT)
		return llorch_error(LLORCH_E_FORMAT,
				"key 'general.alignment': %llu is larger than the %u we accept",
				(unsigned long long)kv->num.u, GGUF_MAX_ALIGNMENT);
	g->alignment = (size_t)kv->num.u;
	return LLORCH_OK;
}

/* Shape, type and size of one tensor info; the offset is checked later,
 * once the data section is known. */
static llorch_status check_shape(const char *name, llorch_gguf_tensor *t, uint32_t type)
{
	int64_t n = 1;

	for (uint32_t d = 0; d < t->n_dims; d++) {
		if (t->ne[d] <= 0)
			return llorch_error(LLORCH_E_FORMAT, "tensor '%s': dimension %u is %lld",
					name, d, (long long)t->ne[d]);
		if (n > INT64_MAX / t->ne[d])
			return llorch_error(LLORCH_E_FORMAT,
					"tensor '%s': the element count overflows int64 at dimension %u",
					name, d);
		n *= t->ne[d];
	}
	if (type >= LLORCH_DT_COUNT || !llorch_dtype_known((llorch_dtype)type))
		return llorch_error(LLORCH_E_UNSUPPORTED, "tensor '%s': unknown tensor type %u", name, type);
	t->type = (llorch_dtype)type;
	size_t bs = llorch_dtype_block_size(t->type);
	if ((uint64_t)t->ne[0] % bs != 0)
		return llorch_error(LLORCH_E_FORMAT,
				"tensor '%s': dimension 0 (%lld) is not a multiple of the %s block size %zu",
				name, (long long)t->ne[0], llorch_dtype_name(t->type), bs);
	if (llorch_dtype_row_bytes(t->type, n, &t->nbytes) != LLORCH_OK)
		return llorch_error(LLORCH_E_FORMAT, "tensor '%s': %lld elements overflow the address space",
				name, (long long)n);
	return LLORCH_OK;
}

static llorch_status read_tensor_infos(struct gguf_cursor *c, llorch_gguf *g, uint64_t n_tensors)
{
	char name[96];
	llorch_status st;

	g->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
	if (!g->tensors)
		return llorch_error(LLORCH_E_NOMEM, "out of memory for %llu tensor infos",
				(unsigned long long)n_tensors);
	if ((st = gguf_index_init(&g->tensor_index, (int64_t)n_tensors)) != LLORCH_OK)
		return st;
	for (uint64_t i = 0; i < n_tensors; i++) {
		llorch_gguf_tensor *t = &g->tensors[i];
		const char *tname;
		size_t len;
		uint32_t type;
		int64_t dup;

		snprintf(c->what, sizeof c->what, "tensor info %llu: name", (unsigned long long)i);
		if ((st = gguf_read_string(c, &g->arena, GGUF_MAX_STRING_LEN, &tname, &len)) != LLORCH_OK)
			return st;
		gguf_printable(tname, len, name, sizeof name);
		if (len == 0)
			return llorch_error(LLORCH_E_FORMAT, "tensor info %llu: empty name",
					(unsigned long long)i);
		if (len >= LLORCH_GGUF_MAX_NAME)
			return llorch_error(LLORCH_E_FORMAT, "tensor '%s': name of %zu bytes (must be under %d)",
					name, len, LLORCH_GGUF_MAX_NAME);
		if (memchr(tname, '\0', len))
			return llorch_error(LLORCH_E_FORMAT, "tensor '%s': name contains a NUL byte", name);
		t->name = tname;
		snprintf(c->what, sizeof c->what, "tensor '%s'", name);
		dup = gguf_index_insert(&g->tensor_index, tname, len, (int64_t)i, tensor_name_at, g);
		if (dup >= 0)
			return llorch_error(LLORCH_E_FORMAT, "tensor '%s': duplicate name (tensors %lld and %llu)",
					name, (long long)dup, (unsigned long long)i);
		if ((st = gguf_read_u32(c, &t->n_dims)) != LLORCH_OK)
			return st;
		if (t->n_dims == 0 || t->n_dims > LLORCH_GGUF_MAX_DIMS)
			return llorch_error(LLORCH_E_FORMAT, "tensor '%s': %u dimensions (must be 1 to %d)",
					name, t->n_dims, LLORCH_GGUF_MAX_DIMS);
		for (uint32_t d = 0; d < LLORCH_GGUF_MAX_DIMS; d++) {
			uint64_t ne = 1;

			if (d < t->n_dims && (st = gguf_read_uint(c, 8, &ne)) != LLORCH_OK)
				return st;
			if (ne > INT64_MAX)
				return llorch_error(LLORCH_E_FORMAT, "tensor '%s': dimension %u is %llu, beyond int64",
						name, d, (unsigned long long)ne);
			t->ne[d] = (int64_t)ne;
		}
		if ((st = gguf_read_u32(c, &type)) != LLORCH_OK || (st = gguf_read_uint(c, 8, &t->offset)) != LLORCH_OK)
			return st;
		if ((st = check_shape(name, t, type)) != LLORCH_OK)
			return st;
		g->n_tensors = (int64_t)i + 1;
	}
	return LLORCH_OK;
}

struct extent {
	uint64_t offset;
	uint64_t end;
	int64_t index;
};

static int cmp_extent(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Offsets may come in any order, but each must be aligned, inside the data
 * section, and no two tensors may overlap. */
static llorch_status check_tensor_data(llorch_gguf *g)
{
	size_t avail = g->data_offset <= g->size ? g->size - g->data_offset : 0;
	struct extent *ext;
	char a[96], b[96];

	for (int64_t i = 0; i < g->n_tensors; i++) {
		llorch_gguf_tensor *t = &g->tensors[i];

		gguf_printable(t->name, strlen(t->name), a, sizeof a);
		if (t->offset % g->alignment != 0)
			return llorch_error(LLORCH_E_FORMAT,
					"tensor '%s': data offset %llu is not a multiple of the alignment %zu",
					a, (unsigned long long)t->offset, g->alignment);
		if (t->offset > avail || t->nbytes > avail - t->offset)
			return llorch_error(LLORCH_E_FORMAT,
					"tensor '%s': data (%zu bytes at offset %llu) is past the end of the file "
					"(data section of %zu bytes); the file is truncated or corrupt",
					a, t->nbytes, (unsigned long long)t->offset, avail);
		t->data = g->base + g->data_offset + t->offset;
	}
	if (g->n_tensors < 2)
		return LLORCH_OK;
	ext = malloc((size_t)g->n_tensors * sizeof *ext);
	if (!ext)
		return llorch_error(LLORCH_E_NOMEM, "out of memory checking tensor extents");
	for (int64_t i = 0; i < g->n_tensors; i++)
		ext[i] = (struct extent){ g->tensors[i].offset,
			g->tensors[i].offset + g->tensors[i].nbytes, i };
	qsort(ext, (size_t)g->n_tensors, sizeof *ext, cmp_extent);
	for (int64_t i = 1; i < g->n_tensors; i++) {
		if (ext[i].offset < ext[i - 1].end) {
			const llorch_gguf_tensor *x = &g->tensors[ext[i - 1].index];
			const llorch_gguf_tensor *y = &g->tensors[ext[i].index];

			gguf_printable(x->name, strlen(x->name), a, sizeof a);
			gguf_printable(y->name, strlen(y->name), b, sizeof b);
			free(ext);
			return llorch_error(LLORCH_E_FORMAT,
					"tensor '%s': data at offset %llu overlaps tensor '%s' (offset %llu, %zu bytes)",
					b, (unsigned long long)y->offset, a,
					(unsigned long long)x->offset, x->nbytes);
		}
	}
	free(ext);
	return LLORCH_OK;
}

static llorch_status parse(llorch_gguf *g)
{
	struct gguf_cursor c = { .p = g->base, .size = g->size };
	uint64_t n_tensors = 0, n_kv = 0;
	llorch_status st;

	if ((st = read_header(&c, g, &n_tensors, &n_kv)) != LLORCH_OK ||
			(st = read_kvs(&c, g, n_kv)) != LLORCH_OK ||
			(st = read_alignment(g)) != LLORCH_OK ||
			(st = read_tensor_infos(&c, g, n_tensors)) != LLORCH_OK)
		return st;
	/* The data section starts at the next multiple of the alignment. A file
	 * without tensors may end before that padding. */
	size_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
	if (!llorch_add_size(c.pos, pad, &g->data_offset))
		return llorch_error(LLORCH_E_FORMAT, "data section offset overflows");
	if (g->n_tensors > 0 && g->data_offset > g->size)
		return llorch_error(LLORCH_E_FORMAT,
				"the data section (at byte %zu) starts past the end of the file (%zu bytes)",
				g->data_offset, g->size);
	return check_tensor_data(g);
}

static llorch_status finish_load(llorch_gguf *g, llorch_gguf **out)
{
	llorch_status st = parse(g);

	if (st != LLORCH_OK) {
		llorch_gguf_free(g);
		return st;
	}
	*out = g;
	return LLORCH_OK;
}

llorch_status llorch_gguf_load_buffer(const void *buf, size_t len, llorch_gguf **out)
{
	llorch_gguf *g;

	if (!out || (!buf && len > 0))
		return llorch_error(LLORCH_E_INVALID, "gguf_load_buffer: NULL argument");
	*out = NULL;
	g = calloc(1, sizeof *g);
	if (!g)
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	g->base = buf;
	g->size = len;
	return finish_load(g, out);
}

llorch_status llorch_gguf_load(const char *path, llorch_gguf **out)
{
	struct stat sb;
	llorch_gguf *g;
	void *map;
	int fd;

	if (!out || !path)
		return llorch_error(LLORCH_E_INVALID, "gguf_load: NULL argument");
	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return llorch_error(errno == ENOENT ? LLORCH_E_NOTFOUND : LLORCH_E_IO,
				"%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0) {
		int e = errno;

		close(fd);
		return llorch_error(LLORCH_E_IO, "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return llorch_error(LLORCH_E_IO, "%s: not a regular file", path);
	}
	if (sb.st_size == 0) {
		close(fd);
		return llorch_error(LLORCH_E_FORMAT, "%s: empty file, not a GGUF file", path);
	}
	if ((uint64_t)sb.st_size > SIZE_MAX) {
		close(fd);
		return llorch_error(LLORCH_E_RANGE, "%s: too large to map", path);
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return llorch_error(LLORCH_E_IO, "%s: mmap: %s", path, strerror(errno));
	g = calloc(1, sizeof *g);
	if (!g) {
		munmap(map, (size_t)sb.st_size);
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	}
	g->base = map;
	g->size = (size_t)sb.st_size;
	g->mapped = true;
	llorch_status st = finish_load(g, out);
	if (st != LLORCH_OK) {
		/* Put the path in front of the parser's message. */
		char msg[1024];

		snprintf(msg, sizeof msg, "%s", llorch_last_error());
		return llorch_error(st, "%s: %s", path, msg);
	}
	return LLORCH_OK;
}

void llorch_gguf_free(llorch_gguf *g)
{
	if (!g)
		return;
	if (g->mapped)
		munmap((void *)g->base, g->size);
	free(g->kvs);
	free(g->tensors);
	free(g->key_index.slots);
	free(g->tensor_index.slots);
	gguf_arena_free(&g->arena);
	free(g);
}

