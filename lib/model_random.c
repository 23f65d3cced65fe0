/* Random-weight GPT-2 and Llama models of any shape, for tests and benchmarks.
 *
 * Every value comes from a counter-based generator: value j of a tensor is a
 * hash of (seed, tensor name, j), so the file is the same whatever order or
 * chunking produced it, and each tensor is generated while it is written
 * (one tensor's bytes in memory at a time). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_EMBD (1 << 16)
#define MAX_FF (1 << 20)

typedef struct {
	char name[LLORCH_GGUF_MAX_NAME];
	uint32_t n_dims;
	int64_t ne[2];         /* (cols, rows); rows 1 for a vector */
	llorch_dtype type;
	float mean, std;
	uint64_t key;          /* the stream of this tensor */
} random_tensor;

typedef struct {
	random_tensor *t;
	size_t n, cap;
	int64_t n_kept_f32;    /* matrices whose rows do not fit the block size */
	const char *first_kept;
} tensor_list;

/* ---- generator ---- */

#define GOLDEN 0x9E3779B97F4A7C15ull

/* SplitMix64's finalizer: a bijective 64-bit mix with full avalanche. */
static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t tensor_key(uint64_t seed, const char *name)
{
	uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001B3ull;
	return mix64(mix64(seed) ^ h);
}

/* Approximately N(0, 1): the sum of four 16-bit uniforms of one hash
 * (Irwin-Hall), centred and scaled to unit variance. Tails end at ±3.46,
 * which is what initialisation wants anyway, and it costs one hash. */
static inline float normal_at(uint64_t key, uint64_t j)
{
	uint64_t h = mix64(key + (j + 1) * GOLDEN);
	uint32_t s = (uint32_t)(h & 0xFFFF) + (uint32_t)(h >> 16 & 0xFFFF) +
		(uint32_t)(h >> 32 & 0xFFFF) + (uint32_t)(h >> 48);

	/* mean 4 * 65535/2; std sqrt(4 * (65536^2 - 1) / 12) */
	return ((float)s - 131070.0f) * (1.0f / 37837.23f);
}

static void generate(const random_tensor *t, uint64_t first, float *out, int64_t n)
{
	for (int64_t j = 0; j < n; j++)
		out[j] = t->mean + t->std * normal_at(t->key, first + (uint64_t)j);
}

static llorch_status fill_tensor(void *user, void *dst, size_t nbytes)
{
	const random_tensor *t = user;
	const int64_t cols = t->ne[0], rows = t->ne[1];
	size_t row_bytes, total = 0;
	float *row;
	llorch_status st;

	if ((st = llorch_dtype_row_bytes(t->type, cols, &row_bytes)))
		return st;
	if (!llorch_mul_size(row_bytes, (size_t)rows, &total) || total != nbytes)
		return llorch_error(LLORCH_E_INVALID, "random: tensor '%s': %zu bytes asked for, %zu expected",
				t->name, nbytes, total);
	if (t->type == LLORCH_DT_F32) {
		generate(t, 0, dst, cols * rows);
		return LLORCH_OK;
	}
	row = malloc((size_t)cols * sizeof *row);
	if (!row)
		return llorch_error(LLORCH_E_NOMEM, "random: tensor '%s': out of memory", t->name);
	for (int64_t r = 0; r < rows && st == LLORCH_OK; r++) {
		generate(t, (uint64_t)(r * cols), row, cols);
		st = llorch_quantize_row(t->type, row, (unsigned char *)dst + (size_t)r * row_bytes, cols);
	}
	free(row);
	return st;
}

/* ---- shapes ---- */

static llorch_status push(tensor_list *l, const llorch_random_params *p, const char *name,
		int64_t cols, int64_t rows, float mean, float std)
{
	random_tensor *t;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		random_tensor *nt = realloc(l->t, cap * sizeof *nt);

		if (!nt)
			return llorch_error(LLORCH_E_NOMEM, "random: out of memory");
		l->t = nt;
		l->cap = cap;
	}
	t = &l->t[l->n++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->n_dims = rows ? 2 : 1;
	t->ne[0] = cols;
	t->ne[1] = rows ? rows : 1;
	t->mean = mean;
	t->std = std;
	t->key = tensor_key(p->seed, name);
	t->type = LLORCH_DT_F32;
	if (rows) {
		if (cols % (int64_t)llorch_dtype_block_size(p->type) == 0) {
			t->type = p->type;
		} else if (l->n_kept_f32++ == 0) {
			l->first_kept = t->name;
		}
	}
	return LLORCH_OK;
}

/* Weight std: 0.02, the residual projections shrunk by the depth (GPT-2's
 * scheme) so the residual stream stays O(1) however many layers. */
#define W_STD 0.02f

static llorch_status push_layer(tensor_list *l, const llorch_random_params *p, int64_t b,
		const char *suffix, int64_t cols, int64_t rows, float mean, float std)
{
	char name[LLORCH_GGUF_MAX_NAME];

	snprintf(name, sizeof name, "blk.%lld.%s", (long long)b, suffix);
	return push(l, p, name, cols, rows, mean, std);
}

/* A norm weight (1 + 0.1 N) and, for GPT-2, its bias (0.02 N). */
static llorch_status push_norm(tensor_list *l, const llorch_random_params *p, const char *prefix,
		int64_t n, bool bias)
{
	char name[LLORCH_GGUF_MAX_NAME];
	llorch_status st;

	snprintf(name, sizeof name, "%s.weight", prefix);
	if ((st = push(l, p, name, n, 0, 1.0f, 0.1f)))
		return st;
	if (!bias)
		return LLORCH_OK;
	snprintf(name, sizeof name, "%s.bias", prefix);
	return push(l, p, name, n, 0, 0.0f, W_STD);
}

static llorch_status gpt2_tensors(tensor_list *l, const llorch_random_params *p, int64_t n_vocab)
{
	const int64_t e = p->n_embd, ff = p->n_ff;
	const float res_std = W_STD / sqrtf(2.0f * (float)p->n_layer);
	char prefix[LLORCH_GGUF_MAX_NAME];
	llorch_status st;

	if ((st = push(l, p, "token_embd.weight", e, n_vocab, 0.0f, W_STD)) ||
	    (st = push(l, p, "position_embd.weight", e, p->n_ctx, 0.0f, 0.01f)))
		return st;
	for (int64_t b = 0; b < p->n_layer; b++) {
		snprintf(prefix, sizeof prefix, "blk.%lld.attn_norm", (long long)b);
		if ((st = push_norm(l, p, prefix, e, true)) ||
		    (st = push_layer(l, p, b, "attn_qkv.weight", e, 3 * e, 0.0f, W_STD)) ||    /* (3*e, e) */
		    (st = push_layer(l, p, b, "attn_qkv.bias", 3 * e, 0, 0.0f, W_STD)) ||
		    (st = push_layer(l, p, b, "attn_output.weight", e, e, 0.0f, res_std)) ||
		    (st = push_layer(l, p, b, "attn_output.bias", e, 0, 0.0f, W_STD)))
			return st;
		snprintf(prefix, sizeof prefix, "blk.%lld.ffn_norm", (long long)b);
		if ((st = push_norm(l, p, prefix, e, true)) ||
		    (st = push_layer(l, p, b, "ffn_up.weight", e, ff, 0.0f, W_STD)) ||         /* (ff, e) */
		    (st = push_layer(l, p, b, "ffn_up.bias", ff, 0, 0.0f, W_STD)) ||
		    (st = push_layer(l, p, b, "ffn_down.weight", ff, e, 0.0f, res_std)) ||     /* (e, ff) */
		    (st = push_layer(l, p, b, "ffn_down.bias", e, 0, 0.0f, W_STD)))
			return st;
	}
	if ((st = push_norm(l, p, "output_norm", e, true)))
		return st;
	if (p->untied && (st = push(l, p, "output.weight", e, n_vocab, 0.0f, W_STD)))
		return st;
	return LLORCH_OK;
}

static llorch_status llama_tensors(tensor_list *l, const llorch_random_params *p, int64_t n_vocab)
{
	const int64_t e = p->n_embd, ff = p->n_ff;
	const int64_t e_kv = e / p->n_head * p->n_head_kv;
	const float res_std = W_STD / sqrtf(2.0f * (float)p->n_layer);
	char prefix[LLORCH_GGUF_MAX_NAME];
	llorch_status st;

	if ((st = push(l, p, "token_embd.weight", e, n_vocab, 0.0f, W_STD)))
		return st;
	for (int64_t b = 0; b < p->n_layer; b++) {
		snprintf(prefix, sizeof prefix, "blk.%lld.attn_norm", (long long)b);
		if ((st = push_norm(l, p, prefix, e, false)) ||
		    (st = push_layer(l, p, b, "attn_q.weight", e, e, 0.0f, W_STD)) ||
		    (st = push_layer(l, p, b, "attn_k.weight", e, e_kv, 0.0f, W_STD)) ||       /* (e_kv, e) */
		    (st = push_layer(l, p, b, "attn_v.weight", e, e_kv, 0.0f, W_STD)) ||
		    (st = push_layer(l, p, b, "attn_output.weight", e, e, 0.0f, res_std)))
			return st;
		snprintf(prefix, sizeof prefix, "blk.%lld.ffn_norm", (long long)b);
		if ((st = push_norm(l, p, prefix, e, false)) ||
		    (st = push_layer(l, p, b, "ffn_gate.weight", e, ff, 0.0f, W_STD)) ||       /* (ff, e) */
		    (st = push_layer(l, p, b, "ffn_down.weight", ff, e, 0.0f, res_std)) ||     /* (e, ff) */
		    (st = push_layer(l, p, b, "ffn_up.weight", e, ff, 0.0f, W_STD)))
			return st;
	}
	if ((st = push_norm(l, p, "output_norm", e, false)))
		return st;
	if (p->untied && (st = push(l, p, "output.weight", e, n_vocab, 0.0f, W_STD)))
		return st;
	return LLORCH_OK;
}

/* ---- parameters and metadata ---- */

llorch_random_params llorch_random_default_params(llorch_arch arch)
{
	llorch_random_params p;

	memset(&p, 0, sizeof p);
	p.arch = arch;
	p.n_embd = 64;
	p.n_layer = 2;
	p.n_head = 4;
	p.n_ctx = 256;
	p.type = LLORCH_DT_F32;
	return p;
}

static llorch_status check_dim(const char *what, int64_t v, int64_t lo, int64_t hi)
{
	if (v < lo || v > hi)
		return llorch_error(LLORCH_E_INVALID, "random: %s %lld is out of range [%lld, %lld]",
				what, (long long)v, (long long)lo, (long long)hi);
	return LLORCH_OK;
}

/* Fills in the defaults and checks the shape. */
static llorch_status resolve_params(const llorch_random_params *in, llorch_random_params *p)
{
	llorch_status st;

	*p = *in;
	if (p->arch != LLORCH_ARCH_GPT2 && p->arch != LLORCH_ARCH_LLAMA)
		return llorch_error(LLORCH_E_INVALID, "random: unknown architecture %d", (int)p->arch);
	if (p->n_head_kv == 0)
		p->n_head_kv = p->n_head;
	if (p->n_ff == 0) {
		int64_t ff = p->arch == LLORCH_ARCH_GPT2 ? 4 * (int64_t)p->n_embd
			: ((8 * (int64_t)p->n_embd / 3) + 31) / 32 * 32;
		p->n_ff = (int32_t)(ff > MAX_FF ? MAX_FF : ff);
	}
	if ((st = check_dim("n_embd", p->n_embd, 1, MAX_EMBD)) ||
	    (st = check_dim("n_layer", p->n_layer, 1, LLORCH_MAX_LAYERS)) ||
	    (st = check_dim("n_head", p->n_head, 1, p->n_embd)) ||
	    (st = check_dim("n_head_kv", p->n_head_kv, 1, p->n_head)) ||
	    (st = check_dim("n_ff", p->n_ff, 1, MAX_FF)) ||
	    (st = check_dim("n_ctx", p->n_ctx, 1, LLORCH_MAX_CTX)))
		return st;
	if (p->n_embd % p->n_head)
		return llorch_error(LLORCH_E_INVALID, "random: n_head %d does not divide n_embd %d",
				(int)p->n_head, (int)p->n_embd);
	if (p->n_head % p->n_head_kv)
		return llorch_error(LLORCH_E_INVALID, "random: n_head_kv %d does not divide n_head %d",
				(int)p->n_head_kv, (int)p->n_head);
	if (p->arch == LLORCH_ARCH_GPT2 && p->n_head_kv != p->n_head)
		return llorch_error(LLORCH_E_INVALID, "random: gpt2 has no grouped-query attention "
				"(n_head_kv %d != n_head %d)", (int)p->n_head_kv, (int)p->n_head);
	if (p->arch == LLORCH_ARCH_LLAMA && (p->n_embd / p->n_head) % 2)
		return llorch_error(LLORCH_E_INVALID, "random: head size %d is odd (RoPE rotates pairs)",
				(int)(p->n_embd / p->n_head));
	if (!llorch_dtype_supported(p->type) || !llorch_dtype_known(p->type))
		return llorch_error(LLORCH_E_INVALID, "random: type %s is not one of f32, f16, bf16, q8_0, q4_0",
				llorch_dtype_name(p->type));
	return LLORCH_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* A special token id key (tokenizer.*_token_id). */
static bool is_special_id_key(const char *key)
{
	return !strncmp(key, "tokenizer.", 10) && ends_with(key, "_token_id");
}

/* Checks that the tokenizer.* keys of a vocab GGUF make a tokenizer: a
 * non-empty string array of tokens, scores and token types of the same
 * length. */
static llorch_status check_vocab(const llorch_gguf *g, const char *path, int32_t *n_vocab)
{
	int64_t i_tokens = llorch_gguf_find_key(g, "tokenizer.ggml.tokens");
	llorch_gguf_vtype elem;
	uint64_t n = 0;

	if (i_tokens < 0)
		return llorch_error(LLORCH_E_FORMAT, "vocab %s: no tokenizer.ggml.tokens", path);
	if (llorch_gguf_kv_array_info(g, i_tokens, &elem, &n) || elem != LLORCH_GGUF_STRING ||
	    n < 1 || n > INT32_MAX)
		return llorch_error(LLORCH_E_FORMAT, "vocab %s: tokenizer.ggml.tokens is not a non-empty "
				"array of strings", path);
	for (int64_t i = 0; i < llorch_gguf_n_kv(g); i++) {
		const char *key = llorch_gguf_kv_key(g, i);
		uint64_t m;

		if (!strcmp(key, "tokenizer.ggml.scores") || !strcmp(key, "tokenizer.ggml.token_type")) {
			llorch_gguf_vtype want = key[15] == 's' ? LLORCH_GGUF_FLOAT32 : LLORCH_GGUF_INT32;

			if (llorch_gguf_kv_array_info(g, i, &elem, &m) || elem != want || m != n)
				return llorch_error(LLORCH_E_FORMAT, "vocab %s: %s is not an array of %llu %s",
						path, key, (unsigned long long)n, llorch_gguf_vtype_name(want));
		}
	}
	*n_vocab = (int32_t)n;
	return LLORCH_OK;
}

/* Copies the tokenizer.* keys. A special token id outside the vocabulary
 * (llama.cpp writes "none" as 0xFFFFFFFF) is left out, with a warning, so
 * that the model never names a token it does not have. */
static llorch_status copy_vocab(llorch_gguf_writer *w, const llorch_gguf *g, const char *path,
		int32_t n_vocab)
{
	llorch_status st;

	for (int64_t i = 0; i < llorch_gguf_n_kv(g); i++) {
		const char *key = llorch_gguf_kv_key(g, i);
		int64_t id;

		if (strncmp(key, "tokenizer.", 10) != 0)
			continue;
		if (is_special_id_key(key) &&
		    (llorch_gguf_kv_int(g, i, &id) != LLORCH_OK || id < 0 || id >= n_vocab)) {
			llorch_log(LLORCH_LOG_WARN, "vocab %s: %s is not a token id below %d; left out",
					path, key, (int)n_vocab);
			continue;
		}
		if ((st = llorch_gguf_copy_kv(w, g, i)))
			return st;
	}
	return LLORCH_OK;
}

static llorch_status set_hparams(llorch_gguf_writer *w, const llorch_random_params *p, int32_t n_vocab)
{
	const char *arch = p->arch == LLORCH_ARCH_GPT2 ? "gpt2" : "llama";
	char key[64], name[64];
	llorch_ftype ftype = LLORCH_FTYPE_ALL_F32;
	llorch_status st;

	llorch_ftype_from_dtype(p->type, &ftype);
	snprintf(name, sizeof name, "random-%s", arch);
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
	if ((st = llorch_gguf_set_string(w, "general.architecture", arch)) ||
	    (st = llorch_gguf_set_string(w, "general.name", p->name ? p->name : name)) ||
	    (st = llorch_gguf_set_u32(w, "general.file_type", ftype)) ||
	    (st = llorch_gguf_set_u32(w, KEY("context_length"), (uint32_t)p->n_ctx)) ||
	    (st = llorch_gguf_set_u32(w, KEY("embedding_length"), (uint32_t)p->n_embd)) ||
	    (st = llorch_gguf_set_u32(w, KEY("feed_forward_length"), (uint32_t)p->n_ff)) ||
	    (st = llorch_gguf_set_u32(w, KEY("block_count"), (uint32_t)p->n_layer)) ||
	    (st = llorch_gguf_set_u32(w, KEY("attention.head_count"), (uint32_t)p->n_head)))
		return st;
	if (p->type == LLORCH_DT_Q8_0 || p->type == LLORCH_DT_Q4_0)
		if ((st = llorch_gguf_set_u32(w, "general.quantization_version", 2)))
			return st;
	if (p->arch == LLORCH_ARCH_GPT2)
		return llorch_gguf_set_f32(w, KEY("attention.layer_norm_epsilon"), 1e-5f);
	if ((st = llorch_gguf_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)p->n_head_kv)) ||
	    (st = llorch_gguf_set_u32(w, KEY("rope.dimension_count"), (uint32_t)(p->n_embd / p->n_head))) ||
	    (st = llorch_gguf_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f)) ||
	    (st = llorch_gguf_set_f32(w, KEY("rope.freq_base"), 10000.0f)) ||
	    (st = llorch_gguf_set_u32(w, KEY("vocab_size"), (uint32_t)n_vocab)))
		return st;
#undef KEY
	return LLORCH_OK;
}

llorch_status llorch_model_random(const llorch_random_params *params, const char *out_path)
{
	llorch_random_params p;
	llorch_gguf_writer *w = NULL;
	llorch_gguf *vocab = NULL;
	tensor_list l = {0};
	int32_t n_vocab = 0;
	llorch_status st;

	if (!params || !out_path)
		return llorch_error(LLORCH_E_INVALID, "random: NULL argument");
	if ((st = resolve_params(params, &p)) || (st = llorch_gguf_writer_new(&w)))
		return st;
	/* The vocab first: its size shapes the embedding, and a bad vocab file
	 * should fail before anything else. */
	if (p.vocab_path) {
		if ((st = llorch_gguf_load(p.vocab_path, &vocab))) {
			char why[512];

			snprintf(why, sizeof why, "%s", llorch_last_error());
			st = llorch_error(st, "vocab %s", why);
			goto out;
		}
		if ((st = check_vocab(vocab, p.vocab_path, &n_vocab)))
			goto out;
	} else if ((st = llorch_builtin_vocab(NULL, p.arch, &n_vocab))) {
		goto out;
	}
	if ((st = set_hparams(w, &p, n_vocab)))
		goto out;
	st = vocab ? copy_vocab(w, vocab, p.vocab_path, n_vocab) : llorch_builtin_vocab(w, p.arch, &n_vocab);
	if (st)
		goto out;
	st = p.arch == LLORCH_ARCH_GPT2 ? gpt2_tensors(&l, &p, n_vocab) : llama_tensors(&l, &p, n_vocab);
	if (st)
		goto out;
	if (l.n_kept_f32)
		llorch_log(LLORCH_LOG_WARN, "%lld matrices (first '%s') stay f32: their rows are not a "
				"multiple of %s's block size %zu", (long long)l.n_kept_f32, l.first_kept,
				llorch_dtype_name(p.type), llorch_dtype_block_size(p.type));
	for (size_t i = 0; i < l.n; i++)
		if ((st = llorch_gguf_add_tensor_fill(w, l.t[i].name, l.t[i].type, l.t[i].n_dims,
				l.t[i].ne, fill_tensor, &l.t[i])))
			goto out;
	st = llorch_gguf_writer_write(w, out_path);
out:
	free(l.t);
	llorch_gguf_writer_free(w);
	llorch_gguf_free(vocab);
	return st;
}
