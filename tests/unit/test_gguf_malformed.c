/* Malformed GGUF corpus: builds a small valid file in memory, derives
 * hundreds of corrupt variants (every truncation, huge counts and lengths,
 * bad alignment, bad shapes and types, duplicates, bad offsets, nested
 * arrays, bad bools, bad magic and versions) and checks that the reader
 * rejects each with the expected status and a message naming the problem.
 * Every variant is parsed from a heap copy of exactly its length, so ASan
 * catches any read past the end.
 *
 * GGUF_MALFORMED_DUMP=dir writes every variant there as <name>.gguf (the
 * fuzzer's seed corpus). The files in tests/data/gguf-malformed/ are a few of
 * them, committed for the tools' tests; they are checked here too. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "gguf_bytes.h"

/* What the base file is made of; each field can be changed before building. */
struct spec {
	uint32_t version;
	bool with_alignment;
	uint32_t align_type;
	uint64_t align_value;
	const char *flag_key;      /* the bool key */
	uint8_t flag_value;
	uint32_t tokens_elem;      /* element type of the string array */
	const char *name[2];
	uint32_t n_dims[2];
	int64_t ne[2][4];
	uint32_t type[2];
	uint64_t offset[2];
	bool reverse_tensors;      /* write tensor b's info first */
};

/* Where each field landed in the built file. */
struct layout {
	size_t version, n_tensors, n_kv;
	size_t key_len[5];          /* the u64 length of each key */
	size_t value_type[5];       /* the u32 type of each value */
	size_t align_value, flag_value;
	size_t tokens_elem, tokens_count, tokens_str0_len;
	size_t scores_count, scores_elem;
	size_t bools_elem0;
	size_t name_len[2], n_dims[2], ne[2], type[2], offset[2];
	size_t data;                /* start of the data section */
	size_t end_of_tensors;      /* data + end of the last tensor's bytes */
};

static struct spec base_spec(void)
{
	return (struct spec){
		.version = 3,
		.with_alignment = true,
		.align_type = LLORCH_GGUF_UINT32,
		.align_value = 32,
		.flag_key = "flag",
		.flag_value = 1,
		.tokens_elem = LLORCH_GGUF_STRING,
		/* a: f32 (8) at 0, 32 bytes; b: q8_0 (32, 2) at 32, 68 bytes. */
		.name = { "tok_embd.weight", "output.weight" },
		.n_dims = { 1, 2 },
		.ne = { { 8, 1, 1, 1 }, { 32, 2, 1, 1 } },
		.type = { LLORCH_DT_F32, LLORCH_DT_Q8_0 },
		.offset = { 0, 32 },
	};
}

static void build(const struct spec *s, struct gbytes *b, struct layout *l)
{
	memset(b, 0, sizeof *b);
	memset(l, 0, sizeof *l);
	gb_header(b, s->version, 2, s->with_alignment ? 6 : 5);
	l->version = 4;
	l->n_tensors = 8;
	l->n_kv = 16;

	l->key_len[0] = b->len;
	gb_key(b, "general.architecture", LLORCH_GGUF_STRING);
	gb_str(b, "llama");
	if (s->with_alignment) {
		gb_str(b, "general.alignment");
		l->value_type[1] = b->len;
		gb_u32(b, s->align_type);
		l->align_value = b->len;
		if (s->align_type == LLORCH_GGUF_UINT64 || s->align_type == LLORCH_GGUF_INT64)
			gb_u64(b, s->align_value);
		else if (s->align_type == LLORCH_GGUF_STRING)
			gb_str(b, "32");
		else if (s->align_type == LLORCH_GGUF_UINT16 || s->align_type == LLORCH_GGUF_INT16)
			gb_u16(b, (uint16_t)s->align_value);
		else
			gb_u32(b, (uint32_t)s->align_value);
	}
	l->key_len[2] = b->len;
	gb_key(b, "tokenizer.ggml.tokens", LLORCH_GGUF_ARRAY);
	l->tokens_elem = b->len;
	gb_u32(b, s->tokens_elem);
	l->tokens_count = b->len;
	gb_u64(b, 3);
	l->tokens_str0_len = b->len;
	gb_str(b, "<unk>");
	gb_str(b, "");
	gb_str(b, "\xe2\x96\x81the");
	l->key_len[3] = b->len;
	gb_str(b, s->flag_key);
	l->value_type[3] = b->len;
	gb_u32(b, LLORCH_GGUF_BOOL);
	l->flag_value = b->len;
	gb_u8(b, s->flag_value);
	l->key_len[4] = b->len;
	gb_key(b, "tokenizer.ggml.scores", LLORCH_GGUF_ARRAY);
	l->scores_elem = b->len;
	gb_u32(b, LLORCH_GGUF_FLOAT32);
	l->scores_count = b->len;
	gb_u64(b, 3);
	gb_f32(b, 0.0f);
	gb_f32(b, -1.5f);
	gb_f32(b, 2.0f);
	gb_key(b, "bools", LLORCH_GGUF_ARRAY);
	gb_u32(b, LLORCH_GGUF_BOOL);
	gb_u64(b, 2);
	l->bools_elem0 = b->len;
	gb_u8(b, 1);
	gb_u8(b, 0);

	for (int k = 0; k < 2; k++) {
		int j = s->reverse_tensors ? 1 - k : k;

		l->name_len[j] = b->len;
		gb_str(b, s->name[j]);
		l->n_dims[j] = b->len;
		gb_u32(b, s->n_dims[j]);
		l->ne[j] = b->len;
		for (uint32_t d = 0; d < s->n_dims[j]; d++)
			gb_u64(b, d < 4 ? (uint64_t)s->ne[j][d] : 1);
		l->type[j] = b->len;
		gb_u32(b, s->type[j]);
		l->offset[j] = b->len;
		gb_u64(b, s->offset[j]);
	}
	gb_pad(b, 32);
	l->data = b->len;
	/* Data: 100 bytes of a pattern, then padding to 128. */
	for (int i = 0; i < 100; i++)
		gb_u8(b, (uint8_t)(i * 7 + 1));
	l->end_of_tensors = b->len;
	gb_pad(b, 32);
}

static const char *dump_dir;
static int n_variants;

/* Parses bytes from an exact-size heap copy and checks the outcome. */
static void expect(const struct gbytes *b, size_t len, const char *name,
		llorch_status want, const char *msg_part)
{
	uint8_t *copy = malloc(len ? len : 1);
	llorch_gguf *g = NULL;
	llorch_status st;

	assert_non_null(copy);
	memcpy(copy, b->p, len);
	st = llorch_gguf_load_buffer(copy, len, &g);
	if (st != want || (msg_part && st != LLORCH_OK && !strstr(llorch_last_error(), msg_part)))
		fail_msg("variant %s: status %d (%s), wanted %d with \"%s\"", name, (int)st,
				st == LLORCH_OK ? "ok" : llorch_last_error(), (int)want,
				msg_part ? msg_part : "");
	if (st == LLORCH_OK)
		assert_non_null(g);
	else
		assert_null(g);
	llorch_gguf_free(g);
	free(copy);
	n_variants++;
	if (dump_dir) {
		char path[512];
		struct gbytes out = { b->p, len, len };

		snprintf(path, sizeof path, "%s/%s.gguf", dump_dir, name);
		assert_int_equal(gb_write_file(&out, path), 0);
	}
}

/* Builds from spec and expects status. */
static void expect_spec(const struct spec *s, const char *name, llorch_status want,
		const char *msg_part)
{
	struct gbytes b;
	struct layout l;

	build(s, &b, &l);
	expect(&b, b.len, name, want, msg_part);
	gb_free(&b);
}

/* Builds the base file, patches a u32/u64 at a field and expects status. */
static void expect_patch(size_t struct_layout_offset, size_t width, uint64_t value,
		const char *name, llorch_status want, const char *msg_part)
{
	struct spec s = base_spec();
	struct gbytes b;
	struct layout l;

	build(&s, &b, &l);
	size_t at = *(const size_t *)((const char *)&l + struct_layout_offset);
	if (width == 8)
		gb_put_u64(&b, at, value);
	else if (width == 4)
		gb_put_u32(&b, at, (uint32_t)value);
	else
		b.p[at] = (uint8_t)value;
	expect(&b, b.len, name, want, msg_part);
	gb_free(&b);
}

#define AT(field) offsetof(struct layout, field)

static void test_base_is_valid(void **state)
{
	struct spec s = base_spec();
	struct gbytes b;
	struct layout l;
	llorch_gguf *g = NULL;

	(void)state;
	build(&s, &b, &l);
	assert_status(llorch_gguf_load_buffer(b.p, b.len, &g), LLORCH_OK);
	assert_int_equal(llorch_gguf_n_kv(g), 6);
	assert_int_equal(llorch_gguf_n_tensors(g), 2);
	assert_int_equal(llorch_gguf_data_offset(g), l.data);
	llorch_gguf_free(g);
	expect(&b, b.len, "valid-base", LLORCH_OK, NULL);
	gb_free(&b);

	/* Accepted variations: v2, no alignment key, tensor infos in reverse
	 * order, offsets not in file order, alignment 16 and 1. */
	s.version = 2;
	expect_spec(&s, "valid-v2", LLORCH_OK, NULL);
	s = base_spec();
	s.with_alignment = false;
	expect_spec(&s, "valid-no-alignment", LLORCH_OK, NULL);
	s = base_spec();
	s.reverse_tensors = true;
	expect_spec(&s, "valid-reversed-infos", LLORCH_OK, NULL);
	s = base_spec();
	s.offset[1] = 0;  /* b: 68 bytes at 0 */
	s.offset[0] = 96; /* a: 32 bytes at 96, the end of the padded data */
	expect_spec(&s, "valid-offsets-out-of-order", LLORCH_OK, NULL);
	s = base_spec();
	s.align_value = 16;
	expect_spec(&s, "valid-alignment-16", LLORCH_OK, NULL);
	s.align_value = 1;
	expect_spec(&s, "valid-alignment-1", LLORCH_OK, NULL);
}

/* Every prefix of the file is rejected, except those that only drop the
 * padding after the last tensor's data. */
static void test_truncations(void **state)
{
	struct spec s = base_spec();
	struct gbytes b;
	struct layout l;
	char name[64];

	(void)state;
	build(&s, &b, &l);
	for (size_t len = 0; len < b.len; len++) {
		snprintf(name, sizeof name, "truncated-%zu", len);
		/* Dump only a sample of the truncations as seeds. */
		const char *saved = dump_dir;
		if (len % 16 != 0)
			dump_dir = NULL;
		expect(&b, len, name, len >= l.end_of_tensors ? LLORCH_OK : LLORCH_E_FORMAT, NULL);
		dump_dir = saved;
	}
	gb_free(&b);
}

static void test_magic_and_version(void **state)
{
	struct spec s = base_spec();
	struct gbytes b;
	struct layout l;

	(void)state;
	build(&s, &b, &l);
	memcpy(b.p, "GGUG", 4);
	expect(&b, b.len, "magic-GGUG", LLORCH_E_FORMAT, "magic");
	memcpy(b.p, "gguf", 4);
	expect(&b, b.len, "magic-lowercase", LLORCH_E_FORMAT, "magic");
	memset(b.p, 0, 4);
	expect(&b, b.len, "magic-zero", LLORCH_E_FORMAT, "magic");
	gb_free(&b);
	expect_patch(AT(version), 4, 0, "version-0", LLORCH_E_FORMAT, "version 0");
	expect_patch(AT(version), 4, 1, "version-1", LLORCH_E_UNSUPPORTED, "version 1");
	expect_patch(AT(version), 4, 4, "version-4", LLORCH_E_UNSUPPORTED, "version 4");
	expect_patch(AT(version), 4, 0xffffffffu, "version-max", LLORCH_E_UNSUPPORTED, "version");
	expect_patch(AT(version), 4, 0x03000000u, "version-byteswapped", LLORCH_E_UNSUPPORTED,
			"big-endian");
	expect_patch(AT(version), 4, 0x02000000u, "version-byteswapped-2", LLORCH_E_UNSUPPORTED,
			"big-endian");
}

static const uint64_t huge[] = {
	1ull << 63, UINT64_MAX, (1ull << 63) - 1, 1ull << 32, 1ull << 30, (1ull << 30) + 1,
};

static void test_huge_counts_and_lengths(void **state)
{
	char name[80];

	(void)state;
	/* Every u64 count or length, and what the message must name. */
	static const struct { size_t at; const char *name, *msg; } fields[] = {
		{ AT(n_kv), "n-kv", "metadata entries" },
		{ AT(n_tensors), "n-tensors", "tensor infos" },
		{ AT(key_len[0]), "key-len", "metadata entry 0" },
		{ AT(tokens_count), "tokens-count", "tokenizer.ggml.tokens" },
		{ AT(tokens_str0_len), "token-len", "tokenizer.ggml.tokens" },
		{ AT(scores_count), "scores-count", "tokenizer.ggml.scores" },
		{ AT(name_len[1]), "tensor-name-len", "tensor info 1" },
	};
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
			snprintf(name, sizeof name, "%s-%llu", fields[f].name, (unsigned long long)huge[i]);
			expect_patch(fields[f].at, 8, huge[i], name, LLORCH_E_FORMAT, fields[f].msg);
		}
	}
	/* Counts a little larger than what is there: the parse runs off the
	 * metadata into the next field or the end, and still fails cleanly. */
	for (uint64_t n = 7; n < 40; n += 3) {
		snprintf(name, sizeof name, "n-kv-%llu", (unsigned long long)n);
		expect_patch(AT(n_kv), 8, n, name, LLORCH_E_FORMAT, NULL);
	}
	for (uint64_t n = 3; n < 12; n++) {
		snprintf(name, sizeof name, "n-tensors-%llu", (unsigned long long)n);
		expect_patch(AT(n_tensors), 8, n, name, LLORCH_E_FORMAT, NULL);
	}
	for (uint64_t n = 4; n < 200; n += 17) {
		snprintf(name, sizeof name, "tokens-count-%llu", (unsigned long long)n);
		expect_patch(AT(tokens_count), 8, n, name, LLORCH_E_FORMAT, NULL);
		snprintf(name, sizeof name, "scores-count-%llu", (unsigned long long)n);
		expect_patch(AT(scores_count), 8, n, name, LLORCH_E_FORMAT, NULL);
	}
	expect_patch(AT(key_len[0]), 8, 1ull << 16, "key-len-65536", LLORCH_E_FORMAT, "limit");
}

static void test_value_types(void **state)
{
	(void)state;
	expect_patch(AT(value_type[3]), 4, 13, "value-type-13", LLORCH_E_FORMAT, "unknown value type 13");
	expect_patch(AT(value_type[3]), 4, UINT32_MAX, "value-type-max", LLORCH_E_FORMAT, "'flag'");
	expect_patch(AT(tokens_elem), 4, LLORCH_GGUF_ARRAY, "nested-array", LLORCH_E_FORMAT,
			"arrays of arrays");
	expect_patch(AT(tokens_elem), 4, 13, "array-elem-13", LLORCH_E_FORMAT, "element type 13");
	expect_patch(AT(scores_elem), 4, LLORCH_GGUF_ARRAY, "nested-array-scores", LLORCH_E_FORMAT,
			"tokenizer.ggml.scores");
	expect_patch(AT(flag_value), 1, 2, "bool-2", LLORCH_E_FORMAT, "'flag'");
	expect_patch(AT(flag_value), 1, 255, "bool-255", LLORCH_E_FORMAT, "not 0 or 1");
	expect_patch(AT(bools_elem0), 1, 7, "bool-array-7", LLORCH_E_FORMAT, "'bools'");
	/* A string array read as numbers is just wrong data, and parses as
	 * such until a check fails. */
	expect_patch(AT(tokens_elem), 4, LLORCH_GGUF_UINT64, "tokens-as-u64", LLORCH_E_FORMAT, NULL);
}

static void test_alignment(void **state)
{
	static const uint32_t wrong_types[] = {
		LLORCH_GGUF_UINT64, LLORCH_GGUF_INT32, LLORCH_GGUF_FLOAT32, LLORCH_GGUF_UINT16,
		LLORCH_GGUF_STRING, LLORCH_GGUF_INT64,
	};
	static const uint64_t bad[] = { 0, 3, 24, 48, 1ull << 31, 1u << 21, UINT32_MAX };
	struct spec s;
	char name[64];

	(void)state;
	for (size_t i = 0; i < sizeof wrong_types / sizeof wrong_types[0]; i++) {
		s = base_spec();
		s.align_type = wrong_types[i];
		snprintf(name, sizeof name, "alignment-type-%s", llorch_gguf_vtype_name(wrong_types[i]));
		expect_spec(&s, name, LLORCH_E_FORMAT, "general.alignment");
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		s = base_spec();
		s.align_value = bad[i];
		snprintf(name, sizeof name, "alignment-%llu", (unsigned long long)bad[i]);
		expect_spec(&s, name, LLORCH_E_FORMAT, "general.alignment");
	}
	/* 64 is valid, but tensor b's offset 32 is then misaligned. */
	s = base_spec();
	s.align_value = 64;
	expect_spec(&s, "alignment-64-misaligned", LLORCH_E_FORMAT, "'output.weight'");
}

static void test_tensor_shapes(void **state)
{
	struct spec s;
	char name[64];

	(void)state;
	s = base_spec();
	s.n_dims[0] = 0;
	expect_spec(&s, "n-dims-0", LLORCH_E_FORMAT, "'tok_embd.weight': 0 dimensions");
	s = base_spec();
	s.n_dims[0] = 5;
	expect_spec(&s, "n-dims-5", LLORCH_E_FORMAT, "5 dimensions");
	expect_patch(AT(n_dims[1]), 4, UINT32_MAX, "n-dims-max", LLORCH_E_FORMAT, "'output.weight'");
	s = base_spec();
	s.ne[0][0] = 0;
	expect_spec(&s, "dim-0", LLORCH_E_FORMAT, "dimension 0 is 0");
	s = base_spec();
	s.ne[1][1] = 0;
	expect_spec(&s, "dim-1-zero", LLORCH_E_FORMAT, "'output.weight': dimension 1 is 0");
	s = base_spec();
	s.ne[0][0] = -1;
	expect_spec(&s, "dim-negative", LLORCH_E_FORMAT, "beyond int64");
	s = base_spec();
	s.ne[0][0] = INT64_MIN;
	expect_spec(&s, "dim-int64-min", LLORCH_E_FORMAT, "beyond int64");
	/* Products that overflow int64. */
	s = base_spec();
	s.n_dims[0] = 4;
	s.ne[0][0] = 1ll << 32;
	s.ne[0][1] = 1ll << 32;
	expect_spec(&s, "dims-overflow-64bit", LLORCH_E_FORMAT, "overflows int64");
	s.ne[0][0] = 1ll << 31;
	s.ne[0][1] = 1ll << 31;
	s.ne[0][2] = 2;
	expect_spec(&s, "dims-overflow-63bit", LLORCH_E_FORMAT, "overflows int64");
	s.ne[0][0] = INT64_MAX;
	s.ne[0][1] = 1;
	s.ne[0][2] = 1;
	s.ne[0][3] = 2;
	expect_spec(&s, "dims-overflow-max", LLORCH_E_FORMAT, "overflows int64");
	/* Fits int64, but not in bytes (f32: 4 * 2^62). */
	s = base_spec();
	s.ne[0][0] = 1ll << 62;
	expect_spec(&s, "bytes-overflow", LLORCH_E_FORMAT, "'tok_embd.weight'");
	/* Huge but representable: past the end of the file. */
	s.ne[0][0] = 1ll << 40;
	expect_spec(&s, "bytes-past-end", LLORCH_E_FORMAT, "past the end");
	/* ne[0] not a multiple of the block size (q8_0: 32). */
	s = base_spec();
	s.ne[1][0] = 16;
	s.ne[1][1] = 4;
	expect_spec(&s, "block-misfit", LLORCH_E_FORMAT, "not a multiple of the q8_0 block size");
	/* Unknown or removed tensor types. */
	static const uint32_t unknown[] = { 4, 5, 31, 32, 33, 36, 37, 38, 40, 41, 1000, UINT32_MAX };
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		snprintf(name, sizeof name, "tensor-type-%u", unknown[i]);
		expect_patch(AT(type[0]), 4, unknown[i], name, LLORCH_E_UNSUPPORTED, "unknown tensor type");
	}
}

static void test_names(void **state)
{
	static const char long64[] = "a123456789012345678901234567890123456789012345678901234567890123";
	struct spec s;

	(void)state;
	s = base_spec();
	s.name[1] = s.name[0];
	expect_spec(&s, "duplicate-tensor", LLORCH_E_FORMAT, "'tok_embd.weight': duplicate");
	s = base_spec();
	s.name[1] = "";
	expect_spec(&s, "empty-tensor-name", LLORCH_E_FORMAT, "empty name");
	s = base_spec();
	s.name[1] = long64;
	expect_spec(&s, "tensor-name-64", LLORCH_E_FORMAT, "under 64");
	s.name[1] = long64 + 1; /* 63 bytes: allowed */
	expect_spec(&s, "valid-tensor-name-63", LLORCH_OK, NULL);
	s = base_spec();
	s.flag_key = "general.architecture";
	expect_spec(&s, "duplicate-key", LLORCH_E_FORMAT, "'general.architecture': duplicate");
	s = base_spec();
	s.flag_key = "";
	expect_spec(&s, "empty-key", LLORCH_E_FORMAT, "empty key");

	/* A NUL inside a key or tensor name. */
	struct gbytes b;
	struct layout l;
	s = base_spec();
	build(&s, &b, &l);
	b.p[l.key_len[3] + 8 + 1] = '\0';
	expect(&b, b.len, "key-with-nul", LLORCH_E_FORMAT, "NUL");
	gb_free(&b);
	build(&s, &b, &l);
	b.p[l.name_len[0] + 8 + 3] = '\0';
	expect(&b, b.len, "tensor-name-with-nul", LLORCH_E_FORMAT, "NUL");
	gb_free(&b);
}

static void test_offsets(void **state)
{
	static const uint64_t past[] = { 128, 4096, 1ull << 40, UINT64_MAX - 31, 1ull << 63 };
	char name[64];

	(void)state;
	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
		snprintf(name, sizeof name, "offset-past-end-%llu", (unsigned long long)past[i]);
		expect_patch(AT(offset[1]), 8, past[i], name, LLORCH_E_FORMAT, "'output.weight'");
	}
	expect_patch(AT(offset[1]), 8, 64, "offset-data-past-end", LLORCH_E_FORMAT, "past the end");
	expect_patch(AT(offset[1]), 8, 0, "overlap-same-offset", LLORCH_E_FORMAT, "overlaps");
	expect_patch(AT(offset[0]), 8, 64, "overlap-inside", LLORCH_E_FORMAT, "overlaps");
	expect_patch(AT(offset[1]), 8, 33, "offset-misaligned-33", LLORCH_E_FORMAT, "alignment");
	expect_patch(AT(offset[1]), 8, 48, "offset-misaligned-48", LLORCH_E_FORMAT, "alignment");
	expect_patch(AT(offset[1]), 8, UINT64_MAX, "offset-max", LLORCH_E_FORMAT, "'output.weight'");
}

/* The committed real files are rejected through the mmap path as well. */
static void test_committed_files(void **state)
{
	const char *dir = "tests/data/gguf-malformed";
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	int n = 0;

	(void)state;
	if (!d) {
		fprintf(stderr, "# skipping: %s is missing (run from the repository root)\n", dir);
		skip();
		return;
	}
	while ((e = readdir(d))) {
		llorch_gguf *g = NULL;
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		llorch_status st = llorch_gguf_load(path, &g);
		if (st == LLORCH_OK)
			fail_msg("%s was accepted", path);
		assert_true(st == LLORCH_E_FORMAT || st == LLORCH_E_UNSUPPORTED);
		assert_non_null(strstr(llorch_last_error(), path));
		n++;
	}
	closedir(d);
	assert_true(n >= 5);
}

static int report(void **state)
{
	(void)state;
	fprintf(stderr, "# %d malformed and valid variants checked\n", n_variants);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_is_valid),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_magic_and_version),
		cmocka_unit_test(test_huge_counts_and_lengths),
		cmocka_unit_test(test_value_types),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_tensor_shapes),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_committed_files),
	};
	dump_dir = getenv("GGUF_MALFORMED_DUMP");
	return cmocka_run_group_tests(tests, NULL, report);
}
