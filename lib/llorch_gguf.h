/* GGUF v2/v3 reader and v3 writer (part of llorch.h; include that instead).
 *
 * The reader checks every count, length, offset, dimension and size against the
 * bytes that remain before using it, and never sizes an allocation from an
 * unchecked field. A malformed file is rejected with LLORCH_E_FORMAT (or
 * LLORCH_E_UNSUPPORTED for a version or tensor type we do not know) and a
 * message naming the field, e.g. "tensor 'blk.0.attn_q.weight': dimension 1 is 0".
 *
 * Metadata is parsed into memory owned by the handle (strings NUL-terminated,
 * numeric arrays copied to aligned storage), so getters never return pointers
 * into the mapping except for tensor data. A loaded handle is never modified,
 * so any number of threads may read it at once.
 *
 * Limits on top of the bytes-remaining checks: keys up to 65535 bytes,
 * strings up to 2^30 bytes, arrays up to 2^30 elements, general.alignment up
 * to 2^20. Keys and tensor names must not contain NUL bytes. The memory a
 * handle takes is at most a small multiple (under 8x) of the metadata's size.
 * As with any mmap reader, a file truncated by someone else while it is
 * mapped makes reads of its tensor data fault (SIGBUS).
 */
#ifndef LLORCH_GGUF_H
#define LLORCH_GGUF_H

typedef enum {
	LLORCH_GGUF_UINT8 = 0,
	LLORCH_GGUF_INT8 = 1,
	LLORCH_GGUF_UINT16 = 2,
	LLORCH_GGUF_INT16 = 3,
	LLORCH_GGUF_UINT32 = 4,
	LLORCH_GGUF_INT32 = 5,
	LLORCH_GGUF_FLOAT32 = 6,
	LLORCH_GGUF_BOOL = 7,
	LLORCH_GGUF_STRING = 8,
	LLORCH_GGUF_ARRAY = 9,
	LLORCH_GGUF_UINT64 = 10,
	LLORCH_GGUF_INT64 = 11,
	LLORCH_GGUF_FLOAT64 = 12,
	LLORCH_GGUF_VTYPE_COUNT
} llorch_gguf_vtype;

/* ggml tensor type ids, as stored in GGUF tensor infos. The reader knows the
 * block layout of all ggml types (to validate any file), the compute path
 * supports F32, F16, BF16, Q8_0 and Q4_0. */
typedef enum {
	LLORCH_DT_F32 = 0,
	LLORCH_DT_F16 = 1,
	LLORCH_DT_Q4_0 = 2,
	LLORCH_DT_Q4_1 = 3,
	/* 4, 5 (Q4_2, Q4_3) were removed from ggml: unknown. */
	LLORCH_DT_Q5_0 = 6,
	LLORCH_DT_Q5_1 = 7,
	LLORCH_DT_Q8_0 = 8,
	LLORCH_DT_Q8_1 = 9,
	LLORCH_DT_Q2_K = 10,
	LLORCH_DT_Q3_K = 11,
	LLORCH_DT_Q4_K = 12,
	LLORCH_DT_Q5_K = 13,
	LLORCH_DT_Q6_K = 14,
	LLORCH_DT_Q8_K = 15,
	LLORCH_DT_IQ2_XXS = 16,
	LLORCH_DT_IQ2_XS = 17,
	LLORCH_DT_IQ3_XXS = 18,
	LLORCH_DT_IQ1_S = 19,
	LLORCH_DT_IQ4_NL = 20,
	LLORCH_DT_IQ3_S = 21,
	LLORCH_DT_IQ2_S = 22,
	LLORCH_DT_IQ4_XS = 23,
	LLORCH_DT_I8 = 24,
	LLORCH_DT_I16 = 25,
	LLORCH_DT_I32 = 26,
	LLORCH_DT_I64 = 27,
	LLORCH_DT_F64 = 28,
	LLORCH_DT_IQ1_M = 29,
	LLORCH_DT_BF16 = 30,
	/* 31..33 (Q4_0_4_4...) were removed from GGUF files by ggml: unknown. */
	LLORCH_DT_TQ1_0 = 34,
	LLORCH_DT_TQ2_0 = 35,
	/* 36..38 (IQ4_NL_4_4...) were removed as well. */
	LLORCH_DT_MXFP4 = 39,
	LLORCH_DT_COUNT = 40 /* ids at or above this are rejected */
} llorch_dtype;

#define LLORCH_GGUF_MAX_DIMS 4
#define LLORCH_GGUF_MAX_NAME 64          /* tensor names must be shorter */
#define LLORCH_GGUF_DEFAULT_ALIGNMENT 32

typedef struct llorch_gguf llorch_gguf;

typedef struct {
	const char *name;        /* NUL-terminated, non-empty, < 64 bytes, unique */
	llorch_dtype type;
	uint32_t n_dims;         /* 1..4 */
	int64_t ne[LLORCH_GGUF_MAX_DIMS]; /* ne[0] contiguous; unused dims are 1 */
	uint64_t offset;         /* from the start of the data section */
	size_t nbytes;
	const void *data;        /* into the mapping or buffer, bounds-checked */
} llorch_gguf_tensor;

/* Maps the file read-only. */
llorch_status llorch_gguf_load(const char *path, llorch_gguf **out);
/* Parses a caller's buffer, which must outlive the handle (not copied). */
llorch_status llorch_gguf_load_buffer(const void *buf, size_t len, llorch_gguf **out);
void llorch_gguf_free(llorch_gguf *g);

uint32_t llorch_gguf_version(const llorch_gguf *g);
size_t llorch_gguf_alignment(const llorch_gguf *g);
/* Where the tensor data section starts: the end of the tensor infos padded to
 * the alignment (past file_size only in a file without tensors, which need
 * not carry that padding). */
size_t llorch_gguf_data_offset(const llorch_gguf *g);
size_t llorch_gguf_file_size(const llorch_gguf *g);

/* Metadata by index. */
int64_t llorch_gguf_n_kv(const llorch_gguf *g);
const char *llorch_gguf_kv_key(const llorch_gguf *g, int64_t i);
llorch_gguf_vtype llorch_gguf_kv_type(const llorch_gguf *g, int64_t i);
/* For arrays: element type and count (else NOTFOUND/TYPE). */
llorch_status llorch_gguf_kv_array_info(const llorch_gguf *g, int64_t i,
		llorch_gguf_vtype *elem, uint64_t *n);
/* Index of the key, or -1. */
int64_t llorch_gguf_find_key(const llorch_gguf *g, const char *key);

/* Typed getters by key. Absent key: LLORCH_E_NOTFOUND. Wrong type: LLORCH_E_TYPE,
 * with a message naming the key, the expected and the actual type. */
/* Any integer type whose value fits int64 (u64 > INT64_MAX is a RANGE error). */
llorch_status llorch_gguf_get_int(const llorch_gguf *g, const char *key, int64_t *out);
/* FLOAT32 or FLOAT64. */
llorch_status llorch_gguf_get_float(const llorch_gguf *g, const char *key, double *out);
llorch_status llorch_gguf_get_bool(const llorch_gguf *g, const char *key, bool *out);
/* A NUL-terminated copy; len excludes the NUL (the string may contain NULs). */
llorch_status llorch_gguf_get_string(const llorch_gguf *g, const char *key,
		const char **s, size_t *len);
/* An array of the given element type (exactly; no conversion), as an aligned
 * copy of n elements (BOOL arrays are one byte each, 0 or 1). For STRING the
 * data is n (const char *) to NUL-terminated copies (lengths: _array_string). */
llorch_status llorch_gguf_get_array(const llorch_gguf *g, const char *key,
		llorch_gguf_vtype elem, const void **data, uint64_t *n);
/* Element i of an array of strings. */
llorch_status llorch_gguf_get_array_string(const llorch_gguf *g, const char *key,
		uint64_t i, const char **s, size_t *len);

/* Same access by kv index (for tools that walk all metadata). */
llorch_status llorch_gguf_kv_int(const llorch_gguf *g, int64_t i, int64_t *out);
llorch_status llorch_gguf_kv_uint64(const llorch_gguf *g, int64_t i, uint64_t *out);
llorch_status llorch_gguf_kv_float(const llorch_gguf *g, int64_t i, double *out);
llorch_status llorch_gguf_kv_bool(const llorch_gguf *g, int64_t i, bool *out);
llorch_status llorch_gguf_kv_string(const llorch_gguf *g, int64_t i, const char **s, size_t *len);
llorch_status llorch_gguf_kv_array(const llorch_gguf *g, int64_t i,
		llorch_gguf_vtype elem, const void **data, uint64_t *n);
llorch_status llorch_gguf_kv_array_string(const llorch_gguf *g, int64_t i,
		uint64_t j, const char **s, size_t *len);

int64_t llorch_gguf_n_tensors(const llorch_gguf *g);
const llorch_gguf_tensor *llorch_gguf_tensor_at(const llorch_gguf *g, int64_t i);
const llorch_gguf_tensor *llorch_gguf_find_tensor(const llorch_gguf *g, const char *name);

const char *llorch_gguf_vtype_name(llorch_gguf_vtype t); /* "uint32", "array"... */

/* ---- writer: builds a GGUF v3 file in memory order, written in one go ---- */

typedef struct llorch_gguf_writer llorch_gguf_writer;

llorch_status llorch_gguf_writer_new(llorch_gguf_writer **out);
void llorch_gguf_writer_free(llorch_gguf_writer *w);

/* Setting a key that exists replaces its value (keys stay unique). */
llorch_status llorch_gguf_set_u32(llorch_gguf_writer *w, const char *key, uint32_t v);
llorch_status llorch_gguf_set_i32(llorch_gguf_writer *w, const char *key, int32_t v);
llorch_status llorch_gguf_set_u64(llorch_gguf_writer *w, const char *key, uint64_t v);
llorch_status llorch_gguf_set_f32(llorch_gguf_writer *w, const char *key, float v);
llorch_status llorch_gguf_set_bool(llorch_gguf_writer *w, const char *key, bool v);
llorch_status llorch_gguf_set_string(llorch_gguf_writer *w, const char *key, const char *s);
/* Numeric/bool array: n elements of elem, copied. */
llorch_status llorch_gguf_set_array(llorch_gguf_writer *w, const char *key,
		llorch_gguf_vtype elem, const void *data, uint64_t n);
/* Array of n strings; lens may be NULL for NUL-terminated strings. Copied. */
llorch_status llorch_gguf_set_array_strings(llorch_gguf_writer *w, const char *key,
		const char *const *strs, const size_t *lens, uint64_t n);
/* Copies one key (any type) from a reader. */
llorch_status llorch_gguf_copy_kv(llorch_gguf_writer *w, const llorch_gguf *g, int64_t i);
llorch_status llorch_gguf_remove_key(llorch_gguf_writer *w, const char *key);

/* Adds a tensor. data (nbytes, which must match type and shape) is referenced,
 * not copied: it must stay valid until llorch_gguf_writer_write(). */
llorch_status llorch_gguf_add_tensor(llorch_gguf_writer *w, const char *name,
		llorch_dtype type, uint32_t n_dims, const int64_t *ne,
		const void *data, size_t nbytes);

/* Adds a tensor whose bytes are produced at write time: fill(user, dst,
 * nbytes) must fill dst completely (or return an error, which fails the
 * write). One tensor's bytes are in memory at a time, so generated or
 * converted models need not fit in RAM. user must stay valid until the write. */
typedef llorch_status (*llorch_gguf_fill_fn)(void *user, void *dst, size_t nbytes);
llorch_status llorch_gguf_add_tensor_fill(llorch_gguf_writer *w, const char *name,
		llorch_dtype type, uint32_t n_dims, const int64_t *ne,
		llorch_gguf_fill_fn fill, void *user);

/* Writes to path through a temporary file renamed into place, so a failed
 * write never leaves a half file under the final name. */
llorch_status llorch_gguf_writer_write(llorch_gguf_writer *w, const char *path);

#endif
