/* Model loading: maps the GGUF, reads the hyperparameters of a gpt2 or llama
 * architecture, and checks every tensor the forward pass will touch against
 * them before any of it is used. Key and tensor names follow llama.cpp. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* Generous limits: larger values are corrupt files, not models. */
#define MAX_EMBD (1 << 16)
#define MAX_FF (1 << 20)
#define MAX_HEADS 1024
#define MAX_VOCAB (1 << 22)

typedef struct {
	llorch_model *m;
	const char *arch;
	/* the 1-D tensors to copy as F32, counted in a first pass */
	size_t vec_used, vec_cap;
} loader;

static llorch_status get_hparam(const loader *ld, const char *suffix, bool required,
		int64_t def, int64_t min, int64_t max, int32_t *out)
{
	char key[128];
	int64_t v;

	snprintf(key, sizeof key, "%s.%s", ld->arch, suffix);
	llorch_status st = llorch_gguf_get_int(ld->m->gguf, key, &v);
	if (st == LLORCH_E_NOTFOUND && !required) {
		v = def;
	} else if (st == LLORCH_E_NOTFOUND) {
		return llorch_error(LLORCH_E_FORMAT, "missing key '%s'", key);
	} else if (st != LLORCH_OK) {
		return st;
	}
	if (v < min || v > max)
		return llorch_error(LLORCH_E_FORMAT, "key '%s': %lld is out of range [%lld, %lld]",
				key, (long long)v, (long long)min, (long long)max);
	*out = (int32_t)v;
	return LLORCH_OK;
}

static llorch_status get_fparam(const loader *ld, const char *suffix, double def,
		double min, double max, float *out)
{
	char key[128];
	double v;

	snprintf(key, sizeof key, "%s.%s", ld->arch, suffix);
	llorch_status st = llorch_gguf_get_float(ld->m->gguf, key, &v);
	if (st == LLORCH_E_NOTFOUND)
		v = def;
	else if (st != LLORCH_OK)
		return st;
	if (!(v >= min && v <= max))
		return llorch_error(LLORCH_E_FORMAT, "key '%s': %g is out of range [%g, %g]",
				key, v, min, max);
	*out = (float)v;
	return LLORCH_OK;
}

static const char *shape_str(const llorch_gguf_tensor *t, char *buf, size_t len)
{
	int k = snprintf(buf, len, "(");
	for (uint32_t d = 0; d < t->n_dims && k > 0 && (size_t)k < len; d++)
		k += snprintf(buf + k, len - (size_t)k, d ? ", %lld" : "%lld", (long long)t->ne[d]);
	if (k > 0 && (size_t)k < len)
		snprintf(buf + k, len - (size_t)k, ")");
	return buf;
}

static const llorch_gguf_tensor *find(const loader *ld, const char *name, bool required,
		llorch_status *st)
{
	const llorch_gguf_tensor *t = llorch_gguf_find_tensor(ld->m->gguf, name);
	if (!t && required)
		*st = llorch_error(LLORCH_E_FORMAT, "missing tensor '%s'", name);
	return t;
}

/* A 2-D weight (n_in, n_out) of a type the compute path runs. */
static llorch_status load_weight(loader *ld, const char *name, bool required,
		int64_t n_in, int64_t n_out, llorch_weight *w)
{
	llorch_status st = LLORCH_OK;
	char shape[96];
	const llorch_gguf_tensor *t = find(ld, name, required, &st);

	memset(w, 0, sizeof *w);
	if (!t)
		return st;
	if (t->n_dims != 2 || t->ne[0] != n_in || t->ne[1] != n_out)
		return llorch_error(LLORCH_E_FORMAT, "tensor '%s' has shape %s, expected (%lld, %lld)",
				name, shape_str(t, shape, sizeof shape), (long long)n_in, (long long)n_out);
	if (!llorch_dtype_supported(t->type))
		return llorch_error(LLORCH_E_UNSUPPORTED, "tensor '%s' has type %s; supported: "
				"f32, f16, bf16, q8_0, q4_0", name, llorch_dtype_name(t->type));
	size_t row, total;
	st = llorch_dtype_row_bytes(t->type, n_in, &row);
	if (st != LLORCH_OK)
		return llorch_error(st, "tensor '%s': rows of %lld %s values: %s", name,
				(long long)n_in, llorch_dtype_name(t->type), llorch_last_error());
	if (!llorch_mul_size(row, (size_t)n_out, &total) || total > t->nbytes)
		return llorch_error(LLORCH_E_FORMAT, "tensor '%s': data shorter than its shape", name);
	*w = (llorch_weight){ t->type, t->data, n_in, n_out, row, t->name };
	return LLORCH_OK;
}

/* A 1-D norm weight or bias of n values (F32, F16 or BF16), copied as F32. */
static llorch_status load_vec(loader *ld, const char *name, bool required, int64_t n,
		const float **out)
{
	llorch_status st = LLORCH_OK;
	char shape[96];
	const llorch_gguf_tensor *t = find(ld, name, required, &st);

	*out = NULL;
	if (!t)
		return st;
	if (t->n_dims != 1 || t->ne[0] != n)
		return llorch_error(LLORCH_E_FORMAT, "tensor '%s' has shape %s, expected (%lld)",
				name, shape_str(t, shape, sizeof shape), (long long)n);
	if (t->type != LLORCH_DT_F32 && t->type != LLORCH_DT_F16 && t->type != LLORCH_DT_BF16)
		return llorch_error(LLORCH_E_UNSUPPORTED, "tensor '%s' has type %s; norms and "
				"biases must be f32, f16 or bf16", name, llorch_dtype_name(t->type));
	size_t bytes;
	if (llorch_dtype_row_bytes(t->type, n, &bytes) != LLORCH_OK || bytes > t->nbytes)
		return llorch_error(LLORCH_E_FORMAT, "tensor '%s': data shorter than its shape", name);
	if (ld->m->vec_arena == NULL) {
		/* first pass: count only */
		ld->vec_cap += (size_t)n;
		*out = NULL;
		return LLORCH_OK;
	}
	if ((size_t)n > ld->vec_cap - ld->vec_used)
		return llorch_error(LLORCH_E_INVALID, "internal: vector arena overrun at '%s'", name);
	float *dst = ld->m->vec_arena + ld->vec_used;
	st = llorch_dequantize_row(t->type, t->data, dst, n);
	if (st != LLORCH_OK)
		return st;
	for (int64_t i = 0; i < n; i++)
		if (!isfinite(dst[i]))
			return llorch_error(LLORCH_E_FORMAT, "tensor '%s': value %lld is not finite",
					name, (long long)i);
	ld->vec_used += (size_t)n;
	*out = dst;
	return LLORCH_OK;
}

static llorch_status load_block(loader *ld, int32_t i, llorch_layer *L)
{
	const llorch_hparams *hp = &ld->m->hp;
	int64_t E = hp->n_embd, F = hp->n_ff, KV = ld->m->kv_dim;
	bool gpt2 = hp->arch == LLORCH_ARCH_GPT2;
	char nm[LLORCH_GGUF_MAX_NAME + 32];
	llorch_status st;

#define NAME(s) (snprintf(nm, sizeof nm, "blk.%d." s, (int)i), nm)
#define TRY(x) do { if ((st = (x)) != LLORCH_OK) return st; } while (0)
	TRY(load_vec(ld, NAME("attn_norm.weight"), true, E, &L->attn_norm));
	TRY(load_vec(ld, NAME("attn_norm.bias"), gpt2, E, &L->attn_norm_b));
	if (gpt2) {
		TRY(load_weight(ld, NAME("attn_qkv.weight"), true, E, E + 2 * KV, &L->attn_qkv));
		TRY(load_vec(ld, NAME("attn_qkv.bias"), true, E + 2 * KV, &L->attn_qkv_b));
	} else {
		TRY(load_weight(ld, NAME("attn_q.weight"), true, E, E, &L->attn_q));
		TRY(load_weight(ld, NAME("attn_k.weight"), true, E, KV, &L->attn_k));
		TRY(load_weight(ld, NAME("attn_v.weight"), true, E, KV, &L->attn_v));
		TRY(load_vec(ld, NAME("attn_q.bias"), false, E, &L->attn_q_b));
		TRY(load_vec(ld, NAME("attn_k.bias"), false, KV, &L->attn_k_b));
		TRY(load_vec(ld, NAME("attn_v.bias"), false, KV, &L->attn_v_b));
	}
	TRY(load_weight(ld, NAME("attn_output.weight"), true, E, E, &L->attn_output));
	TRY(load_vec(ld, NAME("attn_output.bias"), gpt2, E, &L->attn_output_b));
	TRY(load_vec(ld, NAME("ffn_norm.weight"), true, E, &L->ffn_norm));
	TRY(load_vec(ld, NAME("ffn_norm.bias"), gpt2, E, &L->ffn_norm_b));
	if (!gpt2)
		TRY(load_weight(ld, NAME("ffn_gate.weight"), true, E, F, &L->ffn_gate));
	TRY(load_weight(ld, NAME("ffn_up.weight"), true, E, F, &L->ffn_up));
	TRY(load_vec(ld, NAME("ffn_up.bias"), gpt2, F, &L->ffn_up_b));
	TRY(load_weight(ld, NAME("ffn_down.weight"), true, F, E, &L->ffn_down));
	TRY(load_vec(ld, NAME("ffn_down.bias"), gpt2, E, &L->ffn_down_b));
#undef NAME
#undef TRY
	return LLORCH_OK;
}

/* One pass over every tensor: the first counts the vector arena, the second
 * (with the arena allocated) fills it. */
static llorch_status load_tensors(loader *ld)
{
	llorch_model *m = ld->m;
	const llorch_hparams *hp = &m->hp;
	llorch_status st;

	ld->vec_used = 0;
	if ((st = load_weight(ld, "token_embd.weight", true, hp->n_embd, hp->n_vocab,
			&m->token_embd)) != LLORCH_OK)
		return st;
	if (hp->arch == LLORCH_ARCH_GPT2 &&
			(st = load_weight(ld, "position_embd.weight", true, hp->n_embd,
			hp->n_ctx_train, &m->position_embd)) != LLORCH_OK)
		return st;
	for (int32_t i = 0; i < hp->n_layer; i++)
		if ((st = load_block(ld, i, &m->layers[i])) != LLORCH_OK)
			return st;
	if ((st = load_vec(ld, "output_norm.weight", true, hp->n_embd, &m->output_norm)) != LLORCH_OK)
		return st;
	if ((st = load_vec(ld, "output_norm.bias", hp->arch == LLORCH_ARCH_GPT2, hp->n_embd,
			&m->output_norm_b)) != LLORCH_OK)
		return st;
	return load_weight(ld, "output.weight", false, hp->n_embd, hp->n_vocab, &m->output);
}

/* Variants of the llama architecture this forward pass does not compute:
 * refused by name rather than run with wrong numbers. */
static llorch_status check_unsupported_llama(const llorch_gguf *g)
{
	const char *s;
	size_t len;
	int64_t v;

	if (llorch_gguf_get_string(g, "llama.rope.scaling.type", &s, &len) == LLORCH_OK &&
			strcmp(s, "none") != 0)
		return llorch_error(LLORCH_E_UNSUPPORTED, "llama.rope.scaling.type '%.32s' is not "
				"supported (only unscaled RoPE)", s);
	if (llorch_gguf_find_tensor(g, "rope_freqs.weight"))
		return llorch_error(LLORCH_E_UNSUPPORTED, "tensor 'rope_freqs.weight' (RoPE "
				"frequency factors) is not supported");
	if (llorch_gguf_get_int(g, "llama.expert_count", &v) == LLORCH_OK && v > 0)
		return llorch_error(LLORCH_E_UNSUPPORTED, "llama.expert_count %lld: mixture-of-"
				"experts models are not supported", (long long)v);
	return LLORCH_OK;
}

static llorch_status read_hparams(loader *ld)
{
	llorch_model *m = ld->m;
	llorch_hparams *hp = &m->hp;
	llorch_status st;
	const char *arch;
	size_t len;

	st = llorch_gguf_get_string(m->gguf, "general.architecture", &arch, &len);
	if (st == LLORCH_E_NOTFOUND)
		return llorch_error(LLORCH_E_FORMAT, "missing key 'general.architecture'");
	if (st != LLORCH_OK)
		return st;
	if (strcmp(arch, "gpt2") == 0) {
		hp->arch = LLORCH_ARCH_GPT2;
		ld->arch = "gpt2";
	} else if (strcmp(arch, "llama") == 0) {
		hp->arch = LLORCH_ARCH_LLAMA;
		ld->arch = "llama";
	} else {
		return llorch_error(LLORCH_E_UNSUPPORTED, "general.architecture '%.64s' is not "
				"supported (gpt2, llama)", arch);
	}
	bool gpt2 = hp->arch == LLORCH_ARCH_GPT2;
#define TRY(x) do { if ((st = (x)) != LLORCH_OK) return st; } while (0)
	TRY(get_hparam(ld, "context_length", true, 0, 1, INT32_MAX, &hp->n_ctx_train));
	TRY(get_hparam(ld, "embedding_length", true, 0, 1, MAX_EMBD, &hp->n_embd));
	TRY(get_hparam(ld, "block_count", true, 0, 1, LLORCH_MAX_LAYERS, &hp->n_layer));
	TRY(get_hparam(ld, "feed_forward_length", true, 0, 1, MAX_FF, &hp->n_ff));
	TRY(get_hparam(ld, "attention.head_count", true, 0, 1, MAX_HEADS, &hp->n_head));
	TRY(get_hparam(ld, "attention.head_count_kv", false, hp->n_head, 1, hp->n_head,
			&hp->n_head_kv));
	if (hp->n_embd % hp->n_head != 0)
		return llorch_error(LLORCH_E_FORMAT, "%s.embedding_length %d is not a multiple of "
				"%s.attention.head_count %d", ld->arch, hp->n_embd, ld->arch, hp->n_head);
	if (hp->n_head % hp->n_head_kv != 0)
		return llorch_error(LLORCH_E_FORMAT, "%s.attention.head_count %d is not a multiple "
				"of %s.attention.head_count_kv %d", ld->arch, hp->n_head, ld->arch,
				hp->n_head_kv);
	hp->head_dim = hp->n_embd / hp->n_head;
	m->kv_dim = hp->n_head_kv * hp->head_dim;
	if (gpt2) {
		TRY(get_fparam(ld, "attention.layer_norm_epsilon", 1e-5, 1e-12, 0.1, &hp->norm_eps));
		hp->rope_dim = 0;
		hp->rope_freq_base = 0;
		if (hp->n_ctx_train > LLORCH_MAX_CTX)
			return llorch_error(LLORCH_E_UNSUPPORTED, "gpt2.context_length %d is over the "
					"limit %d (its position_embd would be that long)",
					hp->n_ctx_train, LLORCH_MAX_CTX);
	} else {
		TRY(get_fparam(ld, "attention.layer_norm_rms_epsilon", 1e-5, 1e-12, 0.1,
				&hp->norm_eps));
		TRY(get_fparam(ld, "rope.freq_base", 10000.0, 1e-3, 1e12, &hp->rope_freq_base));
		TRY(get_hparam(ld, "rope.dimension_count", false, hp->head_dim, 2, hp->head_dim,
				&hp->rope_dim));
		if (hp->rope_dim % 2 != 0)
			return llorch_error(LLORCH_E_FORMAT, "llama.rope.dimension_count %d is odd",
					hp->rope_dim);
		TRY(check_unsupported_llama(m->gguf));
	}
#undef TRY
	/* n_vocab comes from token_embd; vocab_size, when present, must agree. */
	const llorch_gguf_tensor *te = llorch_gguf_find_tensor(m->gguf, "token_embd.weight");
	if (!te)
		return llorch_error(LLORCH_E_FORMAT, "missing tensor 'token_embd.weight'");
	if (te->n_dims != 2 || te->ne[1] < 1 || te->ne[1] > MAX_VOCAB)
		return llorch_error(LLORCH_E_FORMAT, "tensor 'token_embd.weight': expected "
				"(n_embd, n_vocab) with 1 <= n_vocab <= %d", MAX_VOCAB);
	hp->n_vocab = (int32_t)te->ne[1];
	int32_t vs;
	st = get_hparam(ld, "vocab_size", false, hp->n_vocab, 1, MAX_VOCAB, &vs);
	if (st != LLORCH_OK)
		return st;
	if (vs != hp->n_vocab)
		return llorch_error(LLORCH_E_FORMAT, "%s.vocab_size %d does not match "
				"token_embd.weight's %d rows", ld->arch, vs, hp->n_vocab);
	return LLORCH_OK;
}

static llorch_status check_tokenizer(llorch_model *m)
{
	const llorch_hparams *hp = &m->hp;
	llorch_status st;

	if (llorch_gguf_find_key(m->gguf, "tokenizer.ggml.model") < 0) {
		/* Token ids still work without one (llorch-forward needs none). */
		llorch_log(LLORCH_LOG_INFO, "model has no tokenizer (tokenizer.ggml.model absent)");
		return LLORCH_OK;
	}
	if ((st = llorch_tokenizer_load(m->gguf, &m->tok)) != LLORCH_OK)
		return st;
	int32_t nv = llorch_tokenizer_n_vocab(m->tok);
	if (nv != hp->n_vocab)
		return llorch_error(LLORCH_E_FORMAT, "tokenizer.ggml.tokens has %d entries but "
				"token_embd.weight has %d rows", nv, hp->n_vocab);
	const struct { const char *what; int32_t id; } ids[] = {
		{ "bos", llorch_tokenizer_bos(m->tok) },
		{ "eos", llorch_tokenizer_eos(m->tok) },
		{ "unknown", llorch_tokenizer_unk(m->tok) },
		{ "padding", llorch_tokenizer_pad(m->tok) },
	};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		if (ids[i].id < -1 || ids[i].id >= hp->n_vocab)
			return llorch_error(LLORCH_E_FORMAT, "tokenizer.ggml.%s_token_id %d is out of "
					"range [0, %d)", ids[i].what, ids[i].id, hp->n_vocab);
	return LLORCH_OK;
}

static size_t weight_size(const llorch_weight *w)
{
	return w->data ? w->row_bytes * (size_t)w->n_out : 0;
}

/* What one decode step streams: every block matrix, the classifier, and one
 * embedding row. */
static size_t decode_weight_bytes(const llorch_model *m)
{
	size_t sum = m->token_embd.row_bytes + m->position_embd.row_bytes;

	for (int32_t i = 0; i < m->hp.n_layer; i++) {
		const llorch_layer *L = &m->layers[i];
		sum += weight_size(&L->attn_qkv) + weight_size(&L->attn_q) +
			weight_size(&L->attn_k) + weight_size(&L->attn_v) +
			weight_size(&L->attn_output) + weight_size(&L->ffn_gate) +
			weight_size(&L->ffn_up) + weight_size(&L->ffn_down);
	}
	return sum + weight_size(&m->output);
}

static char *name_of(const llorch_gguf *g, const char *path)
{
	const char *s;
	size_t len;

	if (llorch_gguf_get_string(g, "general.name", &s, &len) == LLORCH_OK && len > 0 &&
			strlen(s) == len)
		return strdup(s);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".gguf") == 0)
		len -= 5;
	return strndup(base, len);
}

llorch_status llorch_model_load(const char *path, llorch_model **out)
{
	llorch_model *m;
	llorch_status st;
	loader ld = { 0 };

	if (!path || !out)
		return llorch_error(LLORCH_E_INVALID, "llorch_model_load: NULL argument");
	*out = NULL;
	if (!(m = calloc(1, sizeof *m)))
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	ld.m = m;
	if ((st = llorch_gguf_load(path, &m->gguf)) != LLORCH_OK)
		goto fail;
	if ((st = read_hparams(&ld)) != LLORCH_OK)
		goto fail;
	if (!(m->layers = calloc((size_t)m->hp.n_layer, sizeof *m->layers))) {
		st = llorch_error(LLORCH_E_NOMEM, "out of memory");
		goto fail;
	}
	if ((st = load_tensors(&ld)) != LLORCH_OK)
		goto fail;
	if (!(m->vec_arena = malloc((ld.vec_cap ? ld.vec_cap : 1) * sizeof(float)))) {
		st = llorch_error(LLORCH_E_NOMEM, "out of memory");
		goto fail;
	}
	if ((st = load_tensors(&ld)) != LLORCH_OK)
		goto fail;
	m->hp.tied_output = m->output.data == NULL;
	if (m->hp.tied_output)
		m->output = m->token_embd;
	if ((st = check_tokenizer(m)) != LLORCH_OK)
		goto fail;
	if (!(m->name = name_of(m->gguf, path))) {
		st = llorch_error(LLORCH_E_NOMEM, "out of memory");
		goto fail;
	}
	m->weight_bytes = decode_weight_bytes(m);
	*out = m;
	return LLORCH_OK;
fail:
	if (st != LLORCH_E_NOMEM && !strstr(llorch_last_error(), path)) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", llorch_last_error());
		llorch_error(st, "%s: %s", path, msg);
	}
	llorch_model_free(m);
	return st;
}

void llorch_model_free(llorch_model *m)
{
	if (!m)
		return;
	llorch_tokenizer_free(m->tok);
	llorch_gguf_free(m->gguf);
	free(m->layers);
	free(m->vec_arena);
	free(m->name);
	free(m);
}

const llorch_hparams *llorch_model_hparams(const llorch_model *m)
{
	return &m->hp;
}

const llorch_tokenizer *llorch_model_tokenizer(const llorch_model *m)
{
	return m->tok;
}

const llorch_gguf *llorch_model_gguf(const llorch_model *m)
{
	return m->gguf;
}

const char *llorch_model_arch_name(const llorch_model *m)
{
	return m->hp.arch == LLORCH_ARCH_GPT2 ? "gpt2" : "llama";
}

const char *llorch_model_name(const llorch_model *m)
{
	return m->name;
}

size_t llorch_model_file_bytes(const llorch_model *m)
{
	return llorch_gguf_file_size(m->gguf);
}

size_t llorch_model_weight_bytes(const llorch_model *m)
{
	return m->weight_bytes;
}
