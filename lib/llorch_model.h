/* Models and the forward pass: GPT-2 and Llama-family from GGUF (part of llorch.h).
 *
 * A model is the mapped GGUF file plus validated views of its weights; weights
 * are used in place (F32, F16, BF16, Q8_0, Q4_0), never copied whole. A model
 * is read-only after load and may be shared by any number of contexts.
 * A context is one sequence: its KV cache and scratch buffers. One thread at a
 * time may use a context; different contexts may run in different threads.
 */
#ifndef LLORCH_MODEL_H
#define LLORCH_MODEL_H

#define LLORCH_MAX_LAYERS 512
#define LLORCH_MAX_CTX 131072

typedef enum {
	LLORCH_ARCH_GPT2 = 1,
	LLORCH_ARCH_LLAMA = 2,
} llorch_arch;

typedef struct {
	llorch_arch arch;
	int32_t n_vocab;
	int32_t n_ctx_train;    /* {arch}.context_length */
	int32_t n_embd;
	int32_t n_layer;
	int32_t n_head;
	int32_t n_head_kv;      /* < n_head: grouped-query attention */
	int32_t head_dim;       /* n_embd / n_head */
	int32_t n_ff;
	int32_t rope_dim;       /* llama: dims rotated per head (rope.dimension_count) */
	float rope_freq_base;   /* llama: rope.freq_base, default 10000 */
	float norm_eps;         /* layer_norm_epsilon / layer_norm_rms_epsilon */
	bool tied_output;       /* no output.weight: the classifier is token_embd */
} llorch_hparams;

typedef struct llorch_model llorch_model;

/* Maps the file, validates hyperparameters against every tensor's shape and
 * type, and loads the tokenizer. A model that does not fit fails with
 * FORMAT/UNSUPPORTED and a message naming the tensor or key. */
llorch_status llorch_model_load(const char *path, llorch_model **out);
void llorch_model_free(llorch_model *m);

const llorch_hparams *llorch_model_hparams(const llorch_model *m);
const llorch_tokenizer *llorch_model_tokenizer(const llorch_model *m);
const llorch_gguf *llorch_model_gguf(const llorch_model *m);
const char *llorch_model_arch_name(const llorch_model *m); /* "gpt2", "llama" */
/* general.name, else the file's base name without .gguf. */
const char *llorch_model_name(const llorch_model *m);
size_t llorch_model_file_bytes(const llorch_model *m);
/* Bytes of weights one decode step reads (for bandwidth bounds). */
size_t llorch_model_weight_bytes(const llorch_model *m);

typedef struct llorch_ctx llorch_ctx;

typedef struct {
	int32_t n_ctx;     /* KV cache positions; 0: the model's, capped at LLORCH_MAX_CTX */
	int32_t n_threads; /* 0: the cores available to the process */
	int32_t n_batch;   /* prompt tokens per matrix-matrix pass; 0: 512 */
	/* KV cache values: LLORCH_DT_F32 (0, the default); LLORCH_DT_F16,
	 * which halves the cache and the bytes one decode step's attention
	 * reads, at a rounding of keys and values to 11 significant bits; or
	 * LLORCH_DT_Q8_0, blocks of 32 int8 with an f16 scale (34 bytes per 32
	 * values), for models whose head size is a multiple of 32. */
	llorch_dtype kv_type;
} llorch_ctx_params;

llorch_ctx_params llorch_ctx_default_params(void);
llorch_status llorch_ctx_new(const llorch_model *m, const llorch_ctx_params *p, llorch_ctx **out);
void llorch_ctx_free(llorch_ctx *c);

const llorch_model *llorch_ctx_model(const llorch_ctx *c);
int32_t llorch_ctx_n_ctx(const llorch_ctx *c);
/* Positions held in the KV cache. */
int32_t llorch_ctx_n_past(const llorch_ctx *c);
/* The token ids at positions 0 .. n_past-1, as evaluated (valid until the
 * next eval or truncate), so callers can reuse the longest common prefix. */
const int32_t *llorch_ctx_tokens(const llorch_ctx *c);
/* Forgets positions >= n_past (keeps a common prefix). RANGE if n_past > n_past now. */
llorch_status llorch_ctx_truncate(llorch_ctx *c, int32_t n_past);
/* KV cache + scratch bytes. */
size_t llorch_ctx_memory_bytes(const llorch_ctx *c);
/* The KV cache's value type (LLORCH_DT_F32 or LLORCH_DT_F16). */
llorch_dtype llorch_ctx_kv_type(const llorch_ctx *c);

/* Feeds n tokens at positions n_past .. n_past+n-1 and advances n_past.
 * logits: NULL; or (n_vocab) floats for the last token; or, with all_logits,
 * (n, n_vocab). RANGE (nothing evaluated) when a token id is out of range or
 * the context would overflow; CANCELLED when the abort callback says so. */
llorch_status llorch_ctx_eval(llorch_ctx *c, const int32_t *tokens, int32_t n,
		float *logits, bool all_logits);

/* The naive scalar reference forward pass: same contract as llorch_ctx_eval,
 * one token at a time, plain loops, no threads, no SIMD, no BLAS. Kept beside
 * the fast path so that tests can compare them. */
llorch_status llorch_ctx_eval_ref(llorch_ctx *c, const int32_t *tokens, int32_t n,
		float *logits, bool all_logits);

/* One decode step for n contexts of the same model at once: token[i] goes to
 * ctxs[i] at its own position; logits (n, n_vocab). Each weight matrix is read
 * once for all n. */
llorch_status llorch_ctx_eval_batch(llorch_ctx *const *ctxs, const int32_t *tokens,
		int32_t n, float *logits);

/* Checked between layers and prompt batches; returning true stops the eval
 * with CANCELLED (the context then holds only whole positions before it). */
void llorch_ctx_set_abort(llorch_ctx *c, bool (*abort_fn)(void *user), void *user);

/* Activation dump for validation: called during eval with named activations
 * ("embd", "attn_norm", "attn_out", "ffn_norm", "ffn_out", "layer_out",
 * "output_norm", "logits"; layer -1 for non-layer ones), for each position. */
typedef void (*llorch_dump_fn)(const char *name, int32_t layer, int32_t pos,
		const float *x, int64_t n, void *user);
void llorch_ctx_set_dump(llorch_ctx *c, llorch_dump_fn fn, void *user);

#endif
