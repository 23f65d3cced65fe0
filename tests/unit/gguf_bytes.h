/* Test helper: assembles GGUF bytes by hand (little-endian), so tests can
 * build valid files and corrupt them field by field. */
#ifndef TEST_GGUF_BYTES_H
#define TEST_GGUF_BYTES_H

#include <stddef.h>
#include <stdint.h>

struct gbytes {
	uint8_t *p;
	size_t len;
	size_t cap;
};

void gb_free(struct gbytes *b);
void gb_raw(struct gbytes *b, const void *data, size_t n);
void gb_u8(struct gbytes *b, uint8_t v);
void gb_u16(struct gbytes *b, uint16_t v);
void gb_u32(struct gbytes *b, uint32_t v);
void gb_u64(struct gbytes *b, uint64_t v);
void gb_f32(struct gbytes *b, float v);
void gb_f64(struct gbytes *b, double v);
/* u64 length + bytes. */
void gb_str(struct gbytes *b, const char *s);
/* "GGUF", version, n_tensors, n_kv. */
void gb_header(struct gbytes *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv);
/* A key and its value type (the value follows). */
void gb_key(struct gbytes *b, const char *key, uint32_t type);
/* A tensor info with n_dims dims. */
void gb_tensor(struct gbytes *b, const char *name, uint32_t n_dims, const int64_t *ne,
		uint32_t type, uint64_t offset);
/* Zero bytes up to a multiple of align. */
void gb_pad(struct gbytes *b, size_t align);
/* Stores v at byte offset off (overwriting). */
void gb_put_u32(struct gbytes *b, size_t off, uint32_t v);
void gb_put_u64(struct gbytes *b, size_t off, uint64_t v);

/* Writes bytes to a new file path (for the mmap path); returns 0 on success. */
int gb_write_file(const struct gbytes *b, const char *path);

/* $LLORCH_SHARED/data/<rel>, or NULL (with one line on stderr) when the file
 * is missing. The result is malloc'ed. */
char *gb_shared_path(const char *rel);

/* assert_int_equal for a status, printing the library's message when it
 * differs (include after cmocka.h). */
#define assert_status(expr, want) do { \
		llorch_status st_ = (expr); \
		if (st_ != (want)) \
			print_message("status %d (%s), wanted %d\n", (int)st_, llorch_last_error(), (int)(want)); \
		assert_int_equal(st_, want); \
	} while (0)

#endif
