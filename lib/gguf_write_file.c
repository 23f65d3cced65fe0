/* GGUF v3 writer, file side: lays out what gguf_write.c collected (metadata,
 * tensor infos, tensors at offsets padded to the alignment, zero padding)
 * and writes it through a temporary file in the target's directory, synced
 * and renamed into place, so a failed write never leaves a partial file
 * under the final name. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_write_internal.h"

static void put_le(FILE *f, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	fwrite(b, 1, n, f);
}

static void put_string(FILE *f, const void *s, size_t len)
{
	put_le(f, len, 8);
	fwrite(s, 1, len, f);
}

static void put_zeros(FILE *f, size_t n)
{
	static const uint8_t zeros[256];

	while (n > 0) {
		size_t k = n < sizeof zeros ? n : sizeof zeros;

		fwrite(zeros, 1, k, f);
		n -= k;
	}
}

static void put_kv(FILE *f, const struct wkv *kv)
{
	put_string(f, kv->key, strlen(kv->key));
	put_le(f, kv->type, 4);
	switch (kv->type) {
	case LLORCH_GGUF_STRING:
		put_string(f, kv->data, kv->len);
		break;
	case LLORCH_GGUF_ARRAY:
		put_le(f, kv->elem, 4);
		put_le(f, kv->n, 8);
		if (kv->elem == LLORCH_GGUF_STRING) {
			size_t off = 0;

			for (uint64_t i = 0; i < kv->n; i++) {
				put_string(f, (const char *)kv->data + off, kv->lens[i]);
				off += kv->lens[i];
			}
		} else {
			/* Elements are in host order: write each little-endian. */
			size_t esize = gguf_vtype_size(kv->elem);

			for (size_t off = 0; off < kv->len; off += esize) {
				uint64_t v = 0;
				const uint8_t *e = (const uint8_t *)kv->data + off;

				switch (esize) {
				case 1: v = e[0]; break;
				case 2: { uint16_t x; memcpy(&x, e, 2); v = x; break; }
				case 4: { uint32_t x; memcpy(&x, e, 4); v = x; break; }
				default: memcpy(&v, e, 8); break;
				}
				put_le(f, v, esize);
			}
		}
		break;
	default:
		put_le(f, kv->raw, gguf_vtype_size(kv->type));
		break;
	}
}

/* The alignment the file will declare: general.alignment if set (it must then
 * be a valid uint32), else the default. */
static llorch_status writer_alignment(const llorch_gguf_writer *w, size_t *out)
{
	*out = LLORCH_GGUF_DEFAULT_ALIGNMENT;
	for (size_t i = 0; i < w->n_kv; i++) {
		const struct wkv *kv = &w->kvs[i];

		if (strcmp(kv->key, "general.alignment") != 0)
			continue;
		if (kv->type != LLORCH_GGUF_UINT32 || kv->raw == 0 || (kv->raw & (kv->raw - 1)) != 0 ||
				kv->raw > GGUF_MAX_ALIGNMENT)
			return llorch_error(LLORCH_E_INVALID,
					"gguf writer: general.alignment must be a uint32 power of two up to %u",
					GGUF_MAX_ALIGNMENT);
		*out = (size_t)kv->raw;
	}
	return LLORCH_OK;
}

static size_t pad_to(size_t n, size_t align)
{
	return (align - n % align) % align;
}

/* Writes one tensor's bytes: referenced, or produced by its fill callback
 * into a buffer of its own size (one tensor in memory at a time). */
static llorch_status put_tensor_data(FILE *f, const struct wtensor *t)
{
	void *buf;
	llorch_status st;

	if (!t->fill) {
		fwrite(t->data, 1, t->nbytes, f);
		return LLORCH_OK;
	}
	buf = malloc(t->nbytes ? t->nbytes : 1);
	if (!buf)
		return llorch_error(LLORCH_E_NOMEM, "tensor '%s': out of memory for %zu bytes",
				t->name, t->nbytes);
	st = t->fill(t->fill_user, buf, t->nbytes);
	if (st == LLORCH_OK)
		fwrite(buf, 1, t->nbytes, f);
	free(buf);
	return st;
}

static llorch_status write_all(FILE *f, llorch_gguf_writer *w, size_t align)
{
	uint64_t off = 0;
	long pos;
	llorch_status st;

	fwrite("GGUF", 1, 4, f);
	put_le(f, 3, 4);
	put_le(f, w->n_tensors, 8);
	put_le(f, w->n_kv, 8);
	for (size_t i = 0; i < w->n_kv; i++)
		put_kv(f, &w->kvs[i]);
	for (size_t i = 0; i < w->n_tensors; i++) {
		struct wtensor *t = &w->tensors[i];

		t->offset = off;
		off += t->nbytes + pad_to(t->nbytes, align);
		put_string(f, t->name, strlen(t->name));
		put_le(f, t->n_dims, 4);
		for (uint32_t d = 0; d < t->n_dims; d++)
			put_le(f, (uint64_t)t->ne[d], 8);
		put_le(f, (uint32_t)t->type, 4);
		put_le(f, t->offset, 8);
	}
	pos = ftell(f);
	if (pos < 0)
		return LLORCH_OK; /* ferror is set; the caller reports it */
	if (w->n_tensors == 0)
		return LLORCH_OK;
	put_zeros(f, pad_to((size_t)pos, align));
	for (size_t i = 0; i < w->n_tensors; i++) {
		if ((st = put_tensor_data(f, &w->tensors[i])) != LLORCH_OK)
			return st;
		put_zeros(f, pad_to(w->tensors[i].nbytes, align));
	}
	return LLORCH_OK;
}

llorch_status llorch_gguf_writer_write(llorch_gguf_writer *w, const char *path)
{
	size_t align, n;
	char *tmp;
	FILE *f;
	int fd, err = 0;
	llorch_status st;

	if (!w || !path || !*path)
		return llorch_error(LLORCH_E_INVALID, "gguf writer: NULL argument");
	if ((st = writer_alignment(w, &align)) != LLORCH_OK)
		return st;
	n = strlen(path) + sizeof ".tmp.XXXXXX";
	tmp = malloc(n);
	if (!tmp)
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	snprintf(tmp, n, "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		st = llorch_error(LLORCH_E_IO, "%s: cannot create a temporary file: %s", path, strerror(errno));
		free(tmp);
		return st;
	}
	/* mkstemp makes the file 0600; a model file is for reading by all. */
	fchmod(fd, 0644);
	f = fdopen(fd, "wb");
	if (!f) {
		err = errno;
		close(fd);
	} else {
		setvbuf(f, NULL, _IOFBF, 1 << 20);
		errno = 0;
		st = write_all(f, w, align);
		if (st != LLORCH_OK) {
			fclose(f);
			unlink(tmp);
			free(tmp);
			return st;
		}
		if (fflush(f) != 0 || ferror(f))
			err = errno ? errno : EIO;
		else if (fsync(fileno(f)) != 0)
			err = errno;
		if (fclose(f) != 0 && !err)
			err = errno;
	}
	if (!err && rename(tmp, path) != 0)
		err = errno;
	if (err) {
		unlink(tmp);
		free(tmp);
		return llorch_error(LLORCH_E_IO, "%s: write failed: %s", path, strerror(err));
	}
	free(tmp);
	return LLORCH_OK;
}
