/* The model and context structures, shared by model.c, ctx.c, forward.c and
 * forward_ref.c; not installed. */
#ifndef LLORCH_MODEL_INTERNAL_H
#define LLORCH_MODEL_INTERNAL_H

#include "internal.h"
#include "threadpool.h"

/* A 2-D weight used in place from the mapping: n_out rows of n_in values. */
typedef struct {
	llorch_dtype type;
	const void *data;
	int64_t n_in, n_out;
	size_t row_bytes;
	const char *name;   /* the GGUF tensor's, for messages */
} llorch_weight;

/* One transformer block. Norm weights and biases are F32 copies (small);
 * a NULL bias is absent. Shapes in ggml order (n_in, n_out). */
typedef struct {
	const float *attn_norm, *attn_norm_b;   /* (n_embd) */
	llorch_weight attn_qkv;                 /* gpt2: (n_embd, n_embd + 2 kv_dim) */
	const float *attn_qkv_b;                /* (n_embd + 2 kv_dim) */
	llorch_weight attn_q, attn_k, attn_v;   /* llama: (n_embd, n_embd), (n_embd, kv_dim) x2 */
	const float *attn_q_b, *attn_k_b, *attn_v_b;
	llorch_weight attn_output;              /* (n_embd, n_embd) */
	const float *attn_output_b;             /* (n_embd) */
	const float *ffn_norm, *ffn_norm_b;     /* (n_embd) */
	llorch_weight ffn_gate;                 /* llama: (n_embd, n_ff) */
	llorch_weight ffn_up;                   /* (n_embd, n_ff) */
	const float *ffn_up_b;                  /* gpt2: (n_ff) */
	llorch_weight ffn_down;                 /* (n_ff, n_embd) */
	const float *ffn_down_b;                /* gpt2: (n_embd) */
} llorch_layer;

struct llorch_model {
	llorch_gguf *gguf;
	llorch_tokenizer *tok;        /* NULL when the file has no tokenizer.ggml.* */
	llorch_hparams hp;
	int32_t kv_dim;               /* n_head_kv * head_dim */
	char *name;
	llorch_weight token_embd;     /* (n_embd, n_vocab) */
	llorch_weight position_embd;  /* gpt2: (n_embd, n_ctx_train) */
	llorch_weight output;         /* (n_embd, n_vocab); token_embd when tied */
	const float *output_norm, *output_norm_b; /* (n_embd) */
	llorch_layer *layers;         /* (n_layer) */
	float *vec_arena;             /* the F32 copies of norms and biases */
	size_t weight_bytes;
};

/* Debug hook (LLORCH_DEBUG_FAULT): breaks one step of the fast path on
 * purpose so that tests can prove the validation notices. */
typedef enum {
	LLORCH_FAULT_NONE = 0,
	LLORCH_FAULT_GELU,  /* a wrong GELU cubic coefficient */
	LLORCH_FAULT_ROPE,  /* rotate-half instead of adjacent pairs */
	LLORCH_FAULT_BIAS,  /* the attention output bias dropped */
} llorch_fault;

struct llorch_ctx {
	const llorch_model *model;
	int32_t n_ctx, n_batch, n_threads, n_past;
	llorch_threadpool *pool;
	llorch_fault fault;
	llorch_dtype kv_type;         /* F32, F16 or Q8_0 */
	size_t kv_elem;               /* bytes per cache value (f32, f16) */
	void *k_cache, *v_cache;      /* (n_layer, n_head_kv, n_ctx, head_dim) each, of kv_type
	                               * (q8_0: head_dim / 32 blocks per position) */
	int32_t *kv_tokens;           /* (n_ctx): the id at each cached position */
	/* scratch for up to n_batch rows */
	float *x, *xn;                /* (n_batch, n_embd) */
	float *q;                     /* (n_batch, n_embd) */
	float *k, *v;                 /* (n_batch, kv_dim) */
	float *qkv;                   /* gpt2: (n_batch, n_embd + 2 kv_dim) */
	float *att;                   /* (n_batch, n_embd) */
	float *hb, *hb2;              /* (n_batch, n_ff) */
	float *scores;                /* (n_threads, scores_stride) */
	size_t scores_stride;         /* llorch_attn_tile_scratch(head_dim, n_ctx) */
	float *rope_cs;               /* (n_batch, rope_dim): llorch_rope_angles per row */
	llorch_ctx **row_ctx;         /* (n_batch): the KV cache each row goes to */
	int32_t *row_pos;             /* (n_batch): the position of each row */
	size_t scratch_bytes, kv_bytes;
	bool (*abort_fn)(void *user);
	void *abort_user;
	llorch_dump_fn dump_fn;
	void *dump_user;
};

/* Bytes of n cache values (a multiple of 32 for a q8_0 cache). */
static inline size_t llorch_kv_bytes(const llorch_ctx *c, size_t n)
{
	if (c->kv_type == LLORCH_DT_Q8_0)
		return n / LLORCH_QK8_0 * sizeof(llorch_block_q8_0);
	return n * c->kv_elem;
}

/* Value i (of kv_dim: head i / head_dim) of position pos of layer l; for a
 * q8_0 cache, i a multiple of 32 (the block that holds it). Each head's
 * positions are one run, because one-token decode reads a head's keys,
 * then its values, over every position: a run streams where rows of all
 * heads made it read 128-256 bytes every 1.5-3 KB (GPT-2 q4_0 at depth
 * 992: +12% tok/s with an f16 cache, +30% with f32). */
static inline void *llorch_kv_at(void *cache, const llorch_ctx *c, int32_t l, int32_t pos,
		int64_t i)
{
	size_t hd = (size_t)c->model->hp.head_dim, h = (size_t)i / hd;
	size_t v = (((size_t)l * (size_t)c->model->hp.n_head_kv + h) * (size_t)c->n_ctx +
			(size_t)pos) * hd + (size_t)i % hd;

	return (char *)cache + llorch_kv_bytes(c, v);
}

/* Row pos of layer l = src (kv_dim), converted to the cache's type. */
void llorch_kv_store(llorch_ctx *c, void *cache, int32_t l, int32_t pos, const float *src);

/* Checks ids and room before anything is evaluated. */
llorch_status llorch_ctx_check_tokens(const llorch_ctx *c, const int32_t *tokens, int32_t n);

#endif
