/* Contexts: one sequence's KV cache, its scratch buffers and thread pool. All
 * sizes are computed with checked arithmetic before anything is allocated. */
#define _DEFAULT_SOURCE   /* madvise's MADV_HUGEPAGE */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels.h"
#include "model_internal.h"

#define DEFAULT_BATCH 512
#define MAX_THREADS 512

llorch_ctx_params llorch_ctx_default_params(void)
{
	return (llorch_ctx_params){ .n_ctx = 0, .n_threads = 0, .n_batch = 0,
		.kv_type = LLORCH_DT_F32 };
}

static llorch_fault fault_from_env(void)
{
	const char *s = getenv("LLORCH_DEBUG_FAULT");

	if (!s || !*s)
		return LLORCH_FAULT_NONE;
	llorch_log(LLORCH_LOG_WARN, "LLORCH_DEBUG_FAULT=%.32s: the fast forward pass is broken "
			"on purpose", s);
	if (strcmp(s, "gelu") == 0)
		return LLORCH_FAULT_GELU;
	if (strcmp(s, "rope") == 0)
		return LLORCH_FAULT_ROPE;
	if (strcmp(s, "bias") == 0)
		return LLORCH_FAULT_BIAS;
	llorch_log(LLORCH_LOG_WARN, "LLORCH_DEBUG_FAULT='%.32s' is not gelu, rope or bias: ignored", s);
	return LLORCH_FAULT_NONE;
}

/* *total += count floats, as bytes; false on overflow. */
static bool add_floats(size_t *total, size_t a, size_t b)
{
	size_t n, bytes;

	return llorch_mul_size(a, b, &n) && llorch_mul_size(n, sizeof(float), &bytes) &&
		llorch_add_size(*total, bytes, total);
}

/* Rows of activations, 64-byte aligned: the kernels load them 64 bytes at
 * a time, and malloc's 16-byte alignment made a load cross two cache lines
 * (four streams' f32 products from cache: 5.3 against 3.4 cycles a line of
 * weights; Llama 110M f32 decode of four streams 1.54x, f16 1.40x). */
static float *alloc_floats(size_t a, size_t b)
{
	size_t n;
	void *p = NULL;

	if (!llorch_mul_size(a, b, &n) || n > SIZE_MAX / sizeof(float))
		return NULL;
	if (posix_memalign(&p, 64, n ? n * sizeof(float) : sizeof(float)) != 0)
		return NULL;
	return p;
}

/* Half the KV cache (keys or values), in 2 MiB pages where the kernel
 * gives transparent huge pages on request: decode's attention reads every
 * cached position of a layer, rows 1.5-3 KB apart, which with 4 KiB pages
 * costs a TLB miss every few rows once the cache outgrows the TLB's reach,
 * and a page fault every few positions as the cache fills. */
static void *alloc_kv(size_t bytes)
{
	size_t huge = (size_t)2 << 20;
	void *p = NULL;

	if (bytes < huge)
		return malloc(bytes ? bytes : 1);
	if (posix_memalign(&p, huge, bytes) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	/* advice only: where it is refused the cache works as before */
	(void)madvise(p, (bytes + 4095) / 4096 * 4096, MADV_HUGEPAGE);
#endif
	return p;
}

llorch_status llorch_ctx_new(const llorch_model *m, const llorch_ctx_params *p, llorch_ctx **out)
{
	llorch_ctx_params def = llorch_ctx_default_params();
	llorch_ctx *c;
	llorch_status st;

	if (!m || !out)
		return llorch_error(LLORCH_E_INVALID, "llorch_ctx_new: NULL argument");
	*out = NULL;
	if (!p)
		p = &def;
	const llorch_hparams *hp = &m->hp;
	if (p->n_ctx < 0 || p->n_ctx > LLORCH_MAX_CTX)
		return llorch_error(LLORCH_E_RANGE, "n_ctx %d is out of range [0, %d]",
				p->n_ctx, LLORCH_MAX_CTX);
	if (p->n_threads < 0 || p->n_threads > MAX_THREADS)
		return llorch_error(LLORCH_E_RANGE, "n_threads %d is out of range [0, %d]",
				p->n_threads, MAX_THREADS);
	if (p->n_batch < 0)
		return llorch_error(LLORCH_E_RANGE, "n_batch %d is negative", p->n_batch);
	if (p->kv_type != LLORCH_DT_F32 && p->kv_type != LLORCH_DT_F16 &&
	    p->kv_type != LLORCH_DT_Q8_0)
		return llorch_error(LLORCH_E_RANGE, "KV cache type %s (id %d) is not supported "
				"(f32, f16 or q8_0)", llorch_dtype_name(p->kv_type), (int)p->kv_type);
	/* q8_0 blocks of 32 values may not straddle two heads */
	if (p->kv_type == LLORCH_DT_Q8_0 && hp->head_dim % LLORCH_QK8_0 != 0)
		return llorch_error(LLORCH_E_UNSUPPORTED, "KV cache type q8_0 needs a head size "
				"that is a multiple of 32; this model's is %d", hp->head_dim);
	int32_t n_ctx = p->n_ctx ? p->n_ctx : hp->n_ctx_train;
	if (n_ctx > LLORCH_MAX_CTX)
		n_ctx = LLORCH_MAX_CTX;
	/* Learned positions end where the table ends. */
	if (hp->arch == LLORCH_ARCH_GPT2 && n_ctx > hp->n_ctx_train)
		return llorch_error(LLORCH_E_RANGE, "n_ctx %d is over the model's %d learned "
				"positions", n_ctx, hp->n_ctx_train);
	int32_t n_batch = p->n_batch ? p->n_batch : DEFAULT_BATCH;
	if (n_batch > n_ctx)
		n_batch = n_ctx;
	int32_t n_threads = p->n_threads ? p->n_threads : llorch_ncpu();

	size_t E = (size_t)hp->n_embd, KV = (size_t)m->kv_dim, F = (size_t)hp->n_ff;
	size_t B = (size_t)n_batch, L = (size_t)hp->n_layer, T = (size_t)n_ctx;
	/* per thread: the scores of a tile of prompt rows over the whole cache */
	size_t S = llorch_attn_tile_scratch(hp->head_dim, n_ctx);
	size_t R = hp->rope_dim > 0 ? (size_t)hp->rope_dim : 1;
	size_t kv_bytes = 0, scratch = 0, lkv;
	size_t kv_elem = p->kv_type == LLORCH_DT_F32 ? sizeof(float) : sizeof(uint16_t), kv_values;
	/* per value, or per block of 32 (whole: head_dim is a multiple of 32) */
	bool q8 = p->kv_type == LLORCH_DT_Q8_0;
	bool ok = llorch_mul_size(L, T, &lkv) && llorch_mul_size(lkv, KV, &kv_values) &&
		llorch_mul_size(q8 ? kv_values / LLORCH_QK8_0 : kv_values,
				2 * (q8 ? sizeof(llorch_block_q8_0) : kv_elem), &kv_bytes) &&
		add_floats(&scratch, B, E * 4) && add_floats(&scratch, B, 2 * KV) &&
		add_floats(&scratch, B, E + 2 * KV) && add_floats(&scratch, B, 2 * F) &&
		add_floats(&scratch, (size_t)n_threads, S) && add_floats(&scratch, B, R);
	if (!ok)
		return llorch_error(LLORCH_E_RANGE, "context of %d positions: size overflows", n_ctx);

	if (!(c = calloc(1, sizeof *c)))
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	c->model = m;
	c->n_ctx = n_ctx;
	c->n_batch = n_batch;
	c->n_threads = n_threads;
	c->fault = fault_from_env();
	c->kv_bytes = kv_bytes;
	c->scratch_bytes = scratch;
	c->kv_type = p->kv_type;
	c->kv_elem = kv_elem;
	c->k_cache = alloc_kv(kv_bytes / 2);
	c->v_cache = alloc_kv(kv_bytes / 2);
	c->x = alloc_floats(B, E);
	c->xn = alloc_floats(B, E);
	c->q = alloc_floats(B, E);
	c->att = alloc_floats(B, E);
	c->k = alloc_floats(B, KV);
	c->v = alloc_floats(B, KV);
	c->qkv = alloc_floats(B, E + 2 * KV);
	c->hb = alloc_floats(B, F);
	c->hb2 = alloc_floats(B, F);
	c->scores_stride = S;
	c->scores = alloc_floats((size_t)n_threads, S);
	c->rope_cs = alloc_floats(B, R);
	c->row_ctx = calloc(B, sizeof *c->row_ctx);
	c->row_pos = calloc(B, sizeof *c->row_pos);
	c->kv_tokens = calloc((size_t)n_ctx, sizeof *c->kv_tokens);
	if (!c->kv_tokens || !c->k_cache || !c->v_cache || !c->x || !c->xn || !c->q || !c->att || !c->k ||
			!c->v || !c->qkv || !c->hb || !c->hb2 || !c->scores ||
			!c->rope_cs || !c->row_ctx || !c->row_pos) {
		llorch_ctx_free(c);
		return llorch_error(LLORCH_E_NOMEM, "out of memory for a context of %d positions "
				"(%zu bytes of KV cache)", n_ctx, kv_bytes);
	}
	if ((st = llorch_threadpool_new(n_threads, &c->pool)) != LLORCH_OK) {
		llorch_ctx_free(c);
		return st;
	}
	*out = c;
	return LLORCH_OK;
}

void llorch_ctx_free(llorch_ctx *c)
{
	if (!c)
		return;
	llorch_threadpool_free(c->pool);
	free(c->k_cache);
	free(c->kv_tokens);
	free(c->v_cache);
	free(c->x);
	free(c->xn);
	free(c->q);
	free(c->att);
	free(c->k);
	free(c->v);
	free(c->qkv);
	free(c->hb);
	free(c->hb2);
	free(c->scores);
	free(c->rope_cs);
	free(c->row_ctx);
	free(c->row_pos);
	free(c);
}

const llorch_model *llorch_ctx_model(const llorch_ctx *c)
{
	return c->model;
}

int32_t llorch_ctx_n_ctx(const llorch_ctx *c)
{
	return c->n_ctx;
}

const int32_t *llorch_ctx_tokens(const llorch_ctx *c)
{
	return c->kv_tokens;
}

int32_t llorch_ctx_n_past(const llorch_ctx *c)
{
	return c->n_past;
}

llorch_status llorch_ctx_truncate(llorch_ctx *c, int32_t n_past)
{
	if (n_past < 0 || n_past > c->n_past)
		return llorch_error(LLORCH_E_RANGE, "cannot truncate to %d positions: the context "
				"holds %d", n_past, c->n_past);
	/* Positions past n_past are overwritten before they are read again. */
	c->n_past = n_past;
	return LLORCH_OK;
}

size_t llorch_ctx_memory_bytes(const llorch_ctx *c)
{
	return c->kv_bytes + c->scratch_bytes;
}

llorch_dtype llorch_ctx_kv_type(const llorch_ctx *c)
{
	return c->kv_type;
}

void llorch_kv_store(llorch_ctx *c, void *cache, int32_t l, int32_t pos, const float *src)
{
	int64_t hd = c->model->hp.head_dim;

	for (int64_t i = 0; i < c->model->kv_dim; i += hd) {
		void *dst = llorch_kv_at(cache, c, l, pos, i);
		if (c->kv_type == LLORCH_DT_Q8_0)
			llorch_vec_to_q8_0(src + i, dst, hd);
		else if (c->kv_type == LLORCH_DT_F16)
			llorch_vec_to_f16(src + i, dst, hd);
		else
			memcpy(dst, src + i, (size_t)hd * sizeof(float));
	}
}

void llorch_ctx_set_abort(llorch_ctx *c, bool (*abort_fn)(void *user), void *user)
{
	c->abort_fn = abort_fn;
	c->abort_user = user;
}

void llorch_ctx_set_dump(llorch_ctx *c, llorch_dump_fn fn, void *user)
{
	c->dump_fn = fn;
	c->dump_user = user;
}

llorch_status llorch_ctx_check_tokens(const llorch_ctx *c, const int32_t *tokens, int32_t n)
{
	int32_t n_vocab = c->model->hp.n_vocab;

	if (n <= 0 || !tokens)
		return llorch_error(LLORCH_E_INVALID, "no tokens to evaluate");
	if (n > c->n_ctx - c->n_past)
		return llorch_error(LLORCH_E_RANGE, "%d tokens after %d do not fit in the context "
				"of %d positions", n, c->n_past, c->n_ctx);
	for (int32_t i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= n_vocab)
			return llorch_error(LLORCH_E_RANGE, "token %d at index %d is out of range "
					"[0, %d)", tokens[i], i, n_vocab);
	return LLORCH_OK;
}
