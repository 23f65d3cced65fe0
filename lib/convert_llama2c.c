/* llama2.c checkpoint (legacy version 0) + tokenizer.bin -> `llama` GGUF.
 *
 * Checkpoint: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len), then fp32 arrays in this order:
 *   token_embedding (vocab, dim)      rms_att (layer, dim)
 *   wq (layer, dim, dim)              wk, wv (layer, kv_dim, dim)
 *   wo (layer, dim, dim)              rms_ffn (layer, dim)
 *   w1, w3 (layer, hidden, dim)       w2 (layer, dim, hidden)
 *   rms_final (dim)                   freq_cis_real, freq_cis_imag (seq_len, head_size/2)
 *   wcls (vocab, dim)                 only when vocab_size < 0 (unshared classifier)
 * A (rows, cols) row-major array is a ggml tensor of ne = (cols, rows), so the
 * weights go into the GGUF as they are, straight from the mapping. llama2.c
 * rotates adjacent pairs in RoPE, as GGUF `llama` does: no Q/K permutation.
 *
 * tokenizer.bin: uint32 max_token_length, then per token: f32 score,
 * uint32 len, len bytes (no count: it is the checkpoint's vocab size).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert_internal.h"

/* Bounds far above any llama2.c model, small enough that no size below can
 * overflow 64 bits. */
#define MAX_DIM (1 << 16)
#define MAX_HIDDEN (1 << 18)
#define MAX_VOCAB (1 << 20)
#define MAX_SEQ_LEN (1 << 20)
#define MAX_TOKEN_LENGTH (1 << 16)
#define HEADER_BYTES 28u
#define LLAMA2C_MAGIC 0x616b3432u /* "ak42": the versioned exports we do not read */

typedef struct {
	const unsigned char *data;
	size_t size;
} mapped_file;

static llorch_status map_file(const char *path, const char *what, mapped_file *m)
{
	struct stat st;
	int fd;
	void *p;

	m->data = NULL;
	m->size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return llorch_error(LLORCH_E_NOTFOUND, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return llorch_error(LLORCH_E_IO, "%s %s: %s", what, path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return llorch_error(LLORCH_E_NOTFOUND, "%s %s: not a regular file", what, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return llorch_error(LLORCH_E_FORMAT, "%s %s: empty file", what, path);
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return llorch_error(LLORCH_E_RANGE, "%s %s: too large to map", what, path);
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return llorch_error(LLORCH_E_IO, "%s %s: mmap: %s", what, path, strerror(errno));
	m->data = p;
	m->size = (size_t)st.st_size;
	return LLORCH_OK;
}

static void unmap_file(mapped_file *m)
{
	if (m->data)
		munmap((void *)m->data, m->size);
	m->data = NULL;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float le_f32(const unsigned char *p)
{
	uint32_t u = le32(p);
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

/* ---- checkpoint ---- */

/* Float counts of the arrays, in file order. */
typedef struct {
	uint64_t embed, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis, wcls;
} llama2c_sizes;

static llama2c_sizes checkpoint_sizes(const llorch_llama2c_config *c)
{
	uint64_t dim = (uint64_t)c->dim, hidden = (uint64_t)c->hidden_dim;
	uint64_t layers = (uint64_t)c->n_layers;
	uint64_t vocab = (uint64_t)(c->vocab_size < 0 ? -(int64_t)c->vocab_size : c->vocab_size);
	uint64_t kv_dim = dim / (uint64_t)c->n_heads * (uint64_t)c->n_kv_heads;
	uint64_t head_size = dim / (uint64_t)c->n_heads;
	llama2c_sizes s;

	s.embed = vocab * dim;
	s.rms_att = layers * dim;
	s.wq = layers * dim * dim;
	s.wk = layers * kv_dim * dim;
	s.wv = s.wk;
	s.wo = s.wq;
	s.rms_ffn = s.rms_att;
	s.w1 = layers * hidden * dim;
	s.w2 = s.w1;
	s.w3 = s.w1;
	s.rms_final = dim;
	s.freq_cis = (uint64_t)c->seq_len * head_size; /* real and imag, head_size/2 each */
	s.wcls = vocab * dim;
	return s;
}

/* Bytes a checkpoint with this header has, with a shared or unshared classifier. */
static uint64_t checkpoint_bytes(const llama2c_sizes *s, bool shared)
{
	uint64_t n = s->embed + s->rms_att + s->wq + s->wk + s->wv + s->wo + s->rms_ffn +
		s->w1 + s->w2 + s->w3 + s->rms_final + s->freq_cis;

	if (!shared)
		n += s->wcls;
	return HEADER_BYTES + 4 * n;
}

static llorch_status check_range(const char *path, const char *field, int32_t v, int32_t lo, int32_t hi)
{
	if (v < lo || v > hi)
		return llorch_error(LLORCH_E_FORMAT, "checkpoint %s: %s %d is out of range [%d, %d]",
				path, field, (int)v, (int)lo, (int)hi);
	return LLORCH_OK;
}

static llorch_status parse_header(const char *path, const mapped_file *f, llorch_llama2c_config *c)
{
	llorch_status st;
	llama2c_sizes s;
	uint64_t want, other;
	bool shared;

	if (f->size < HEADER_BYTES)
		return llorch_error(LLORCH_E_FORMAT, "checkpoint %s: %zu bytes, shorter than the %u-byte header",
				path, f->size, HEADER_BYTES);
	if (memcmp(f->data, "GGUF", 4) == 0)
		return llorch_error(LLORCH_E_FORMAT, "checkpoint %s: a GGUF file, not a llama2.c checkpoint", path);
	if (le32(f->data) == LLAMA2C_MAGIC)
		return llorch_error(LLORCH_E_UNSUPPORTED, "checkpoint %s: a llama2.c version %u export; "
				"only the legacy (version 0) format is read: export with --version 0",
				path, (unsigned)le32(f->data + 4));
	c->dim = (int32_t)le32(f->data);
	c->hidden_dim = (int32_t)le32(f->data + 4);
	c->n_layers = (int32_t)le32(f->data + 8);
	c->n_heads = (int32_t)le32(f->data + 12);
	c->n_kv_heads = (int32_t)le32(f->data + 16);
	c->vocab_size = (int32_t)le32(f->data + 20);
	c->seq_len = (int32_t)le32(f->data + 24);

	if ((st = check_range(path, "dim", c->dim, 1, MAX_DIM)) ||
	    (st = check_range(path, "hidden_dim", c->hidden_dim, 1, MAX_HIDDEN)) ||
	    (st = check_range(path, "n_layers", c->n_layers, 1, LLORCH_MAX_LAYERS)) ||
	    (st = check_range(path, "n_heads", c->n_heads, 1, c->dim)) ||
	    (st = check_range(path, "n_kv_heads", c->n_kv_heads, 1, c->n_heads)) ||
	    (st = check_range(path, "vocab_size", c->vocab_size, -MAX_VOCAB, MAX_VOCAB)) ||
	    (st = check_range(path, "seq_len", c->seq_len, 1, MAX_SEQ_LEN)))
		return st;
	if (c->vocab_size == 0)
		return llorch_error(LLORCH_E_FORMAT, "checkpoint %s: vocab_size is 0", path);
	if (c->dim % c->n_heads != 0)
		return llorch_error(LLORCH_E_FORMAT, "checkpoint %s: n_heads %d does not divide dim %d",
				path, (int)c->n_heads, (int)c->dim);
	if (c->n_heads % c->n_kv_heads != 0)
		return llorch_error(LLORCH_E_FORMAT, "checkpoint %s: n_kv_heads %d does not divide n_heads %d",
				path, (int)c->n_kv_heads, (int)c->n_heads);
	if ((c->dim / c->n_heads) % 2 != 0)
		return llorch_error(LLORCH_E_FORMAT, "checkpoint %s: head size %d is odd (RoPE rotates pairs)",
				path, (int)(c->dim / c->n_heads));

	s = checkpoint_sizes(c);
	shared = c->vocab_size > 0;
	want = checkpoint_bytes(&s, shared);
	other = checkpoint_bytes(&s, !shared);
	if ((uint64_t)f->size != want) {
		if ((uint64_t)f->size == other)
			return llorch_error(LLORCH_E_FORMAT, "checkpoint %s: %zu bytes is the size of a model "
					"with %s classifier, but vocab_size %d says %s",
					path, f->size, shared ? "an unshared" : "a shared", (int)c->vocab_size,
					shared ? "shared (an unshared one needs a negative vocab_size)" : "unshared");
		return llorch_error(LLORCH_E_FORMAT, "checkpoint %s: %zu bytes, but its header (dim %d, "
				"hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, "
				"seq_len %d) implies %llu", path, f->size, (int)c->dim, (int)c->hidden_dim,
				(int)c->n_layers, (int)c->n_heads, (int)c->n_kv_heads, (int)c->vocab_size,
				(int)c->seq_len, (unsigned long long)want);
	}
	if (want > SIZE_MAX)
		return llorch_error(LLORCH_E_RANGE, "checkpoint %s: too large for this machine", path);
	return LLORCH_OK;
}

/* ---- tokenizer ---- */

typedef struct {
	int64_t n;
	char **tokens;    /* (n) GGUF pieces, '▁' restored */
	size_t *lens;     /* (n) */
	float *scores;    /* (n) */
	int32_t *types;   /* (n) */
} llama2c_vocab;

static void vocab_free(llama2c_vocab *v)
{
	if (v->tokens)
		for (int64_t i = 0; i < v->n; i++)
			free(v->tokens[i]);
	free(v->tokens);
	free(v->lens);
	free(v->scores);
	free(v->types);
	memset(v, 0, sizeof *v);
}

/* Exactly "<0xNN>" with two upper-case hex digits, as SentencePiece writes them. */
static bool is_byte_piece(const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	return len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' &&
		s[3] && strchr(hex, s[3]) && s[4] && strchr(hex, s[4]);
}

/* The stored piece back into SentencePiece's form: llama2.c's exporter wrote
 * BOS/EOS as "\n<s>\n" / "\n</s>\n" and every '▁' (U+2581) as ' '. */
static char *gguf_piece(const unsigned char *raw, size_t len, size_t *out_len)
{
	static const char space_mark[] = "\xe2\x96\x81";
	char *out;
	size_t n = 0;

	if (len == 5 && memcmp(raw, "\n<s>\n", 5) == 0) {
		raw = (const unsigned char *)"<s>";
		len = 3;
	} else if (len == 6 && memcmp(raw, "\n</s>\n", 6) == 0) {
		raw = (const unsigned char *)"</s>";
		len = 4;
	}
	out = malloc(len * 3 + 1); /* len <= MAX_TOKEN_LENGTH: cannot overflow */
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == ' ') {
			memcpy(out + n, space_mark, 3);
			n += 3;
		} else {
			out[n++] = (char)raw[i];
		}
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}

static llorch_status parse_tokenizer(const char *path, const mapped_file *f, int64_t n_vocab,
		llama2c_vocab *v)
{
	size_t pos = 4;
	uint32_t max_len;
	int64_t n_read = 0;

	memset(v, 0, sizeof *v);
	if (f->size < 4)
		return llorch_error(LLORCH_E_FORMAT, "tokenizer %s: %zu bytes, too short", path, f->size);
	max_len = le32(f->data);
	if (max_len < 1 || max_len > MAX_TOKEN_LENGTH)
		return llorch_error(LLORCH_E_FORMAT, "tokenizer %s: max_token_length %u is out of range [1, %d]",
				path, (unsigned)max_len, MAX_TOKEN_LENGTH);
	v->tokens = calloc((size_t)n_vocab, sizeof *v->tokens);
	v->lens = calloc((size_t)n_vocab, sizeof *v->lens);
	v->scores = calloc((size_t)n_vocab, sizeof *v->scores);
	v->types = calloc((size_t)n_vocab, sizeof *v->types);
	if (!v->tokens || !v->lens || !v->scores || !v->types) {
		vocab_free(v);
		return llorch_error(LLORCH_E_NOMEM, "tokenizer %s: out of memory", path);
	}
	v->n = n_vocab;
	for (int64_t i = 0; pos < f->size; i++) {
		uint32_t len;
		float score;

		if (i == n_vocab) {
			vocab_free(v);
			return llorch_error(LLORCH_E_FORMAT, "tokenizer %s: more than the checkpoint's %lld "
					"tokens (%zu bytes left after token %lld)", path, (long long)n_vocab,
					f->size - pos, (long long)(n_vocab - 1));
		}
		if (f->size - pos < 8) {
			vocab_free(v);
			return llorch_error(LLORCH_E_FORMAT, "tokenizer %s: token %lld: truncated header",
					path, (long long)i);
		}
		score = le_f32(f->data + pos);
		len = le32(f->data + pos + 4);
		pos += 8;
		if (!isfinite(score)) {
			vocab_free(v);
			return llorch_error(LLORCH_E_FORMAT, "tokenizer %s: token %lld: score is not finite",
					path, (long long)i);
		}
		if (len < 1 || len > max_len) {
			vocab_free(v);
			return llorch_error(LLORCH_E_FORMAT, "tokenizer %s: token %lld: length %u is out of "
					"range [1, max_token_length %u]", path, (long long)i, (unsigned)len,
					(unsigned)max_len);
		}
		if (f->size - pos < len) {
			vocab_free(v);
			return llorch_error(LLORCH_E_FORMAT, "tokenizer %s: token %lld: %u bytes past the end "
					"of the file", path, (long long)i, (unsigned)len);
		}
		v->tokens[i] = gguf_piece(f->data + pos, len, &v->lens[i]);
		if (!v->tokens[i]) {
			vocab_free(v);
			return llorch_error(LLORCH_E_NOMEM, "tokenizer %s: out of memory", path);
		}
		pos += len;
		v->scores[i] = score;
		if (i == 0)
			v->types[i] = LLORCH_TOKEN_UNKNOWN;
		else if (i == 1 || i == 2)
			v->types[i] = LLORCH_TOKEN_CONTROL;
		else if (is_byte_piece(v->tokens[i], v->lens[i]))
			v->types[i] = LLORCH_TOKEN_BYTE;
		else
			v->types[i] = LLORCH_TOKEN_NORMAL;
		n_read = i + 1;
	}
	if (n_read != n_vocab) {
		vocab_free(v);
		return llorch_error(LLORCH_E_FORMAT, "tokenizer %s: %lld tokens, but the checkpoint's "
				"vocab_size is %lld", path, (long long)n_read, (long long)n_vocab);
	}
	return LLORCH_OK;
}

/* ---- GGUF ---- */

static llorch_status set_hparams(llorch_gguf_writer *w, const llorch_llama2c_config *c,
		const char *name, uint32_t n_vocab)
{
	llorch_status st;
	uint32_t head_dim = (uint32_t)(c->dim / c->n_heads);

	if ((st = llorch_gguf_set_string(w, "general.architecture", "llama")) ||
	    (st = llorch_gguf_set_string(w, "general.name", name)) ||
	    (st = llorch_gguf_set_u32(w, "general.file_type", LLORCH_FTYPE_ALL_F32)) ||
	    (st = llorch_gguf_set_u32(w, "llama.vocab_size", n_vocab)) ||
	    (st = llorch_gguf_set_u32(w, "llama.context_length", (uint32_t)c->seq_len)) ||
	    (st = llorch_gguf_set_u32(w, "llama.embedding_length", (uint32_t)c->dim)) ||
	    (st = llorch_gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden_dim)) ||
	    (st = llorch_gguf_set_u32(w, "llama.block_count", (uint32_t)c->n_layers)) ||
	    (st = llorch_gguf_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads)) ||
	    (st = llorch_gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads)) ||
	    (st = llorch_gguf_set_u32(w, "llama.rope.dimension_count", head_dim)) ||
	    (st = llorch_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f)) ||
	    (st = llorch_gguf_set_f32(w, "llama.rope.freq_base", 10000.0f)))
		return st;
	return LLORCH_OK;
}

/* Adds one (rows, cols) slice of the mapped checkpoint; rows == 0 for a vector. */
static llorch_status add_slice(llorch_gguf_writer *w, const char *name, const float *data,
		int64_t rows, int64_t cols)
{
	int64_t ne[2] = {cols, rows};
	uint32_t n_dims = rows ? 2 : 1;
	size_t nbytes = (size_t)cols * (rows ? (size_t)rows : 1) * sizeof(float);

	return llorch_gguf_add_tensor(w, name, LLORCH_DT_F32, n_dims, ne, data, nbytes);
}

static llorch_status add_tensors(llorch_gguf_writer *w, const llorch_llama2c_config *c,
		const float *base)
{
	const llama2c_sizes s = checkpoint_sizes(c);
	const int64_t dim = c->dim, hidden = c->hidden_dim;
	const int64_t kv_dim = dim / c->n_heads * c->n_kv_heads;
	const int64_t vocab = c->vocab_size < 0 ? -(int64_t)c->vocab_size : c->vocab_size;
	const float *embed = base;
	const float *rms_att = embed + s.embed;
	const float *wq = rms_att + s.rms_att;
	const float *wk = wq + s.wq;
	const float *wv = wk + s.wk;
	const float *wo = wv + s.wv;
	const float *rms_ffn = wo + s.wo;
	const float *w1 = rms_ffn + s.rms_ffn;
	const float *w2 = w1 + s.w1;
	const float *w3 = w2 + s.w2;
	const float *rms_final = w3 + s.w3;
	const float *wcls = rms_final + s.rms_final + s.freq_cis;
	llorch_status st;
	char name[LLORCH_GGUF_MAX_NAME];

	if ((st = add_slice(w, "token_embd.weight", embed, vocab, dim)))
		return st;
	for (int64_t l = 0; l < c->n_layers; l++) {
		const struct {
			const char *suffix;
			const float *data;
			int64_t rows, cols;
		} t[] = {
			{"attn_norm", rms_att + l * dim, 0, dim},
			{"attn_q", wq + l * dim * dim, dim, dim},
			{"attn_k", wk + l * kv_dim * dim, kv_dim, dim},
			{"attn_v", wv + l * kv_dim * dim, kv_dim, dim},
			{"attn_output", wo + l * dim * dim, dim, dim},
			{"ffn_norm", rms_ffn + l * dim, 0, dim},
			{"ffn_gate", w1 + l * hidden * dim, hidden, dim},
			{"ffn_down", w2 + l * dim * hidden, dim, hidden},
			{"ffn_up", w3 + l * hidden * dim, hidden, dim},
		};
		for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
			snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, t[i].suffix);
			if ((st = add_slice(w, name, t[i].data, t[i].rows, t[i].cols)))
				return st;
		}
	}
	if ((st = add_slice(w, "output_norm.weight", rms_final, 0, dim)))
		return st;
	if (c->vocab_size < 0 && (st = add_slice(w, "output.weight", wcls, vocab, dim)))
		return st;
	return LLORCH_OK;
}

/* "dir/stories260K.bin" -> "stories260K" */
static char *name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *dot;
	size_t len;
	char *s;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	s = malloc(len + 1);
	if (s) {
		memcpy(s, base, len);
		s[len] = '\0';
	}
	return s;
}

llorch_status llorch_convert_llama2c(const char *checkpoint_path, const char *tokenizer_path,
		const char *out_path, const char *name, llorch_llama2c_config *config)
{
	mapped_file ckpt = {0}, tok = {0};
	llorch_llama2c_config c;
	llama2c_vocab vocab = {0};
	llorch_gguf_writer *w = NULL;
	char *own_name = NULL;
	llorch_status st;

	if (!checkpoint_path || !tokenizer_path || !out_path)
		return llorch_error(LLORCH_E_INVALID, "convert-llama2c: a path is NULL");
	if ((st = map_file(checkpoint_path, "checkpoint", &ckpt)) ||
	    (st = parse_header(checkpoint_path, &ckpt, &c)) ||
	    (st = map_file(tokenizer_path, "tokenizer", &tok)) ||
	    (st = parse_tokenizer(tokenizer_path, &tok, c.vocab_size < 0 ? -(int64_t)c.vocab_size
			: c.vocab_size, &vocab)))
		goto out;
	if (!name) {
		own_name = name_from_path(checkpoint_path);
		if (!own_name) {
			st = llorch_error(LLORCH_E_NOMEM, "convert-llama2c: out of memory");
			goto out;
		}
		name = own_name;
	}
	if ((st = llorch_gguf_writer_new(&w)) ||
	    (st = set_hparams(w, &c, name, (uint32_t)vocab.n)) ||
	    (st = llorch_write_spm_vocab(w, (const char *const *)vocab.tokens, vocab.lens,
			vocab.scores, vocab.types, vocab.n)) ||
	    (st = add_tensors(w, &c, (const float *)(const void *)(ckpt.data + HEADER_BYTES))) ||
	    (st = llorch_gguf_writer_write(w, out_path)))
		goto out;
	if (config)
		*config = c;
out:
	llorch_gguf_writer_free(w);
	vocab_free(&vocab);
	free(own_name);
	unmap_file(&tok);
	unmap_file(&ckpt);
	return st;
}
