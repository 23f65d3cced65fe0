/* The fast forward pass. A pass works on a set of rows, each one token at a
 * position of some context's KV cache: a prompt chunk is many rows of one
 * context at consecutive positions, a batched decode step one row for each
 * of several contexts. Weight matrices are applied to all rows at once
 * (matrix-matrix for several rows, matrix-vector for one) so that each is
 * read once per pass; attention runs per row and head on the thread pool. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model_internal.h"
#include "ops.h"

typedef struct {
	llorch_ctx *c;                /* owns the scratch and the pool */
	const llorch_model *m;
	int32_t nt;                   /* rows */
	const int32_t *tokens;        /* (nt) */
	llorch_ctx *const *row_ctx;   /* (nt) */
	const int32_t *row_pos;       /* (nt) */
	float *scores;                /* (pool threads, scores_stride) */
	size_t scores_stride;
	int32_t layer;                /* for the attention workers */
	bool attn_tiles;              /* rows are one context's consecutive positions */
	atomic_llong attn_next;       /* the next (tile, head) unit to take */
} pass;

/* Y (nt, n_out) = X (nt, n_in) . W^T, then Y += b (n_out; NULL: none) and the
 * activation act, applied by each thread to the outputs it computed. */
static void linear(const pass *p, const llorch_weight *w, const float *X, float *Y,
		const float *b, llorch_act act)
{
	llorch_epilogue ep = {.bias = b, .act = act};

	llorch_matmul_ep(p->c->pool, w->type, w->data, X, Y, w->n_in, w->n_out, p->nt,
			b || act != LLORCH_ACT_NONE ? &ep : NULL);
}

/* linear() with wa, wb and wc (if not NULL) on the same X; a decode step's
 * products (one token, or a batch of a few) share one pool run. */
static void linear3(const pass *p, const float *X, const llorch_weight *wa, float *Ya,
		const llorch_weight *wb, float *Yb, const llorch_weight *wc, float *Yc)
{
	llorch_matvec_part parts[3] = {
		{wa->type, wa->data, Ya, wa->n_out},
		{wb->type, wb->data, Yb, wb->n_out},
		{wc ? wc->type : wa->type, wc ? wc->data : NULL, Yc, wc ? wc->n_out : 0},
	};
	llorch_matmul_parts(p->c->pool, X, p->nt, wa->n_in, parts, wc ? 3 : 2);
}

/* ---- per-row steps ----
 * The element-wise work of a pass (norms, bias and residual adds,
 * activations, the q/k/v split and rotation) is split over the pool by rows
 * when there are many: each row is computed whole by one thread with the
 * same code, so the results are bit-identical for any thread count. */

typedef struct rows_step rows_step;
/* Rows [t0, t1) of a step. */
typedef void (*rows_fn)(const rows_step *s, int32_t t0, int32_t t1);

struct rows_step {
	const pass *p;
	rows_fn fn;
	float *Y;             /* (nt, n) */
	const float *A;       /* (nt, n); may be NULL */
	float *X;             /* (nt, n): the residual stream, for add_norm_fn */
	int64_t n;
	const float *w, *b;   /* a norm's weights and bias */
	int32_t layer;
	bool fault;           /* the step's fault hook is on */
};

/* Values below which a step runs on the calling thread: less work than
 * waking the pool. */
#define ROWS_MIN_WORK (1 << 15)

static void rows_worker(void *arg, int ith, int nth)
{
	const rows_step *s = arg;
	int32_t nt = s->p->nt;
	int32_t t0 = (int32_t)((int64_t)nt * ith / nth), t1 = (int32_t)((int64_t)nt * (ith + 1) / nth);

	if (t1 > t0)
		s->fn(s, t0, t1);
}

static void run_rows(rows_step s)
{
	if ((int64_t)s.p->nt * s.n < ROWS_MIN_WORK || llorch_threadpool_size(s.p->c->pool) == 1)
		s.fn(&s, 0, s.p->nt);
	else
		llorch_threadpool_run(s.p->c->pool, rows_worker, &s);
}

/* Y += A */
static void add_fn(const rows_step *s, int32_t t0, int32_t t1)
{
	for (int32_t t = t0; t < t1; t++)
		llorch_add(s->Y + t * s->n, s->A + t * s->n, s->n);
}

/* Y (nt, n) += A (nt, n) */
static void add_rows(const pass *p, float *Y, const float *A, int64_t n)
{
	run_rows((rows_step){.p = p, .fn = add_fn, .Y = Y, .A = A, .n = n});
}

static void dump_rows(const pass *p, const char *name, int32_t layer, const float *X, int64_t n)
{
	for (int32_t t = 0; t < p->nt; t++) {
		const llorch_ctx *rc = p->row_ctx[t];
		if (rc->dump_fn)
			rc->dump_fn(name, layer, p->row_pos[t], X + (int64_t)t * n, n, rc->dump_user);
	}
}

static bool aborted(const pass *p)
{
	for (int32_t t = 0; t < p->nt; t++) {
		const llorch_ctx *rc = p->row_ctx[t];
		/* rows of one context are adjacent and share its callback: ask once */
		if (t > 0 && rc == p->row_ctx[t - 1])
			continue;
		if (rc->abort_fn && rc->abort_fn(rc->abort_user))
			return true;
	}
	return false;
}

static llorch_status embed(const pass *p)
{
	const llorch_model *m = p->m;
	int64_t E = m->hp.n_embd;
	llorch_status st;

	for (int32_t t = 0; t < p->nt; t++) {
		float *x = p->c->x + t * E;
		const char *row = (const char *)m->token_embd.data +
			(size_t)p->tokens[t] * m->token_embd.row_bytes;
		if ((st = llorch_dequantize_row(m->token_embd.type, row, x, E)) != LLORCH_OK)
			return st;
		if (m->hp.arch == LLORCH_ARCH_GPT2) {
			float *tmp = p->c->xn + t * E;
			row = (const char *)m->position_embd.data +
				(size_t)p->row_pos[t] * m->position_embd.row_bytes;
			if ((st = llorch_dequantize_row(m->position_embd.type, row, tmp, E)) != LLORCH_OK)
				return st;
			llorch_add(x, tmp, E);
		}
	}
	dump_rows(p, "embd", -1, p->c->x, E);
	return LLORCH_OK;
}

/* Y = norm(A) */
static void norm_fn(const rows_step *s, int32_t t0, int32_t t1)
{
	const llorch_hparams *hp = &s->p->m->hp;
	int64_t E = s->n;

	for (int32_t t = t0; t < t1; t++) {
		if (hp->arch == LLORCH_ARCH_GPT2)
			llorch_layernorm(s->Y + t * E, s->A + t * E, s->w, s->b, E, hp->norm_eps);
		else
			llorch_rmsnorm(s->Y + t * E, s->A + t * E, s->w, E, hp->norm_eps);
	}
}

/* X += Y, then Y = norm(X): the residual add and the next norm in one pass
 * over each row. */
static void add_norm_fn(const rows_step *s, int32_t t0, int32_t t1)
{
	rows_step norm = *s;

	norm.A = s->X;
	for (int32_t t = t0; t < t1; t++) {
		llorch_add(s->X + t * s->n, s->Y + t * s->n, s->n);
		norm_fn(&norm, t, t + 1);
	}
}

static void norm_rows(const pass *p, const float *w, const float *b, const float *X, float *Y)
{
	run_rows((rows_step){.p = p, .fn = norm_fn, .Y = Y, .A = X, .n = p->m->hp.n_embd,
			.w = w, .b = b});
}

/* What every attention unit of a layer needs. */
typedef struct {
	int32_t hd, n_head, group;    /* head size, query heads, query heads per KV head */
	int64_t E;                    /* row stride of q and att */
	int64_t KV;                   /* values between positions of a head's cache run */
	float scale;
	float *scratch;               /* this thread's */
} attn_geom;

/* Tiles of LLORCH_ATTN_TILE rows of one head at a time: prompt rows of one
 * context. Units are taken from a shared counter, the tiles with the most
 * keys first so that no thread is left with a long one at the end; each
 * unit is computed whole by one thread, so the result does not depend on
 * the number of threads or on which took what. */
static void attn_tiles(pass *p, const attn_geom *g)
{
	const llorch_ctx *rc = p->row_ctx[0];
	int64_t n_tiles = (p->nt + LLORCH_ATTN_TILE - 1) / LLORCH_ATTN_TILE;

	for (;;) {
		int64_t i = atomic_fetch_add_explicit(&p->attn_next, 1, memory_order_relaxed);
		if (i >= n_tiles * g->n_head)
			return;
		int32_t t0 = (int32_t)((n_tiles - 1 - i / g->n_head) * LLORCH_ATTN_TILE);
		int32_t h = (int32_t)(i % g->n_head);
		int n_q = p->nt - t0 < LLORCH_ATTN_TILE ? p->nt - t0 : LLORCH_ATTN_TILE;
		int64_t off = (int64_t)(h / g->group) * g->hd, qo = t0 * g->E + (int64_t)h * g->hd;
		llorch_attn_tile(rc->kv_type, p->c->q + qo, g->E,
				llorch_kv_at(rc->k_cache, rc, p->layer, 0, off),
				llorch_kv_at(rc->v_cache, rc, p->layer, 0, off), g->KV, g->hd,
				p->row_pos[t0], n_q, g->scale, g->scratch, p->c->att + qo, g->E);
	}
}

/* Whether rows 0..nt-1 are consecutive positions of one context, whose
 * tiles fit the score scratch. */
static bool rows_tile(const pass *p)
{
	if (p->nt < 2)
		return false;
	for (int32_t t = 1; t < p->nt; t++)
		if (p->row_ctx[t] != p->row_ctx[0] || p->row_pos[t] != p->row_pos[0] + t)
			return false;
	return llorch_attn_tile_scratch(p->m->hp.head_dim, p->row_pos[p->nt - 1] + 1) <=
		p->scores_stride;
}

/* Row t, head h: softmax(q k^T / sqrt(head_dim)) v over positions 0..pos;
 * prompt rows of one context in tiles instead. */
static void attn_worker(void *arg, int ith, int nth)
{
	pass *p = arg;
	const llorch_hparams *hp = &p->m->hp;
	attn_geom g = {
		.hd = hp->head_dim, .n_head = hp->n_head, .group = hp->n_head / hp->n_head_kv,
		.E = hp->n_embd, .KV = hp->head_dim, .scale = 1.0f / sqrtf((float)hp->head_dim),
		.scratch = p->scores + (size_t)ith * p->scores_stride,
	};
	int64_t total = (int64_t)p->nt * g.n_head;

	if (p->attn_tiles) {
		attn_tiles(p, &g);
		return;
	}
	/* One row: each thread takes a block of neighbouring heads, whose
	 * cache runs follow each other, so that it reads one stretch of memory
	 * per layer. Several rows, whose contexts may differ in
	 * length: units dealt out in turn. Each unit is computed whole by one
	 * thread: the result does not depend on the number of threads. */
	bool by_block = p->nt == 1;
	int64_t i0 = by_block ? total * ith / nth : ith;
	int64_t i1 = by_block ? total * (ith + 1) / nth : total;
	int64_t step = by_block ? 1 : nth;
	for (int64_t i = i0; i < i1; i += step) {
		int32_t t = (int32_t)(i / g.n_head), h = (int32_t)(i % g.n_head);
		const llorch_ctx *rc = p->row_ctx[t];
		int32_t pos = p->row_pos[t];
		int64_t off = (int64_t)(h / g.group) * g.hd;
		const float *q = p->c->q + t * g.E + (int64_t)h * g.hd;
		float *out = p->c->att + t * g.E + (int64_t)h * g.hd;
		const void *kc = llorch_kv_at(rc->k_cache, rc, p->layer, 0, off);
		const void *vc = llorch_kv_at(rc->v_cache, rc, p->layer, 0, off);

		/* The first keys of the next unit, on their way while this one
		 * runs: a unit's own prefetching starts cold, and a short
		 * context is mostly its start (tg128: a third of attention's
		 * time). */
		if (i + step < i1) {
			int32_t tn = (int32_t)((i + step) / g.n_head), hn = (int32_t)((i + step) % g.n_head);
			const llorch_ctx *rn = p->row_ctx[tn];
			llorch_attn_prefetch(rn->kv_type, llorch_kv_at(rn->k_cache, rn, p->layer, 0,
					(int64_t)(hn / g.group) * g.hd), g.KV, g.hd, p->row_pos[tn] + 1);
		}

		llorch_attn_row(rc->kv_type, q, kc, vc, g.KV, g.hd, pos + 1, g.scale, g.scratch, out);
	}
}

/* Multiply-adds of q . k below which attention runs on the calling thread. */
#define ATTN_MIN_WORK (1 << 15)

/* Each row's q, k and v from the projections (biased; split for GPT-2,
 * rotated for Llama), its k and v stored in its context's cache. */
static void qkv_fn(const rows_step *s, int32_t t0, int32_t t1)
{
	const pass *p = s->p;
	const llorch_layer *L = &p->m->layers[s->layer];
	const llorch_hparams *hp = &p->m->hp;
	llorch_ctx *c = p->c;
	int64_t E = hp->n_embd, KV = p->m->kv_dim, W = E + 2 * KV;
	void (*rope)(float *, int32_t, int32_t, int32_t, const float *) =
		s->fault ? llorch_rope_neox_cs : llorch_rope_cs;

	for (int32_t t = t0; t < t1; t++) {
		float *q = c->q + t * E, *k = c->k + t * KV, *v = c->v + t * KV;
		if (hp->arch == LLORCH_ARCH_GPT2) {
			const float *r = c->qkv + t * W;   /* biased by the product */
			memcpy(q, r, (size_t)E * sizeof(float));
			memcpy(k, r + E, (size_t)KV * sizeof(float));
			memcpy(v, r + E + KV, (size_t)KV * sizeof(float));
		} else {
			if (L->attn_q_b)
				llorch_add(q, L->attn_q_b, E);
			if (L->attn_k_b)
				llorch_add(k, L->attn_k_b, KV);
			if (L->attn_v_b)
				llorch_add(v, L->attn_v_b, KV);
			const float *cs = c->rope_cs + (int64_t)t * hp->rope_dim;
			rope(q, hp->n_head, hp->head_dim, hp->rope_dim, cs);
			rope(k, hp->n_head_kv, hp->head_dim, hp->rope_dim, cs);
		}
		llorch_ctx *rc = p->row_ctx[t];
		llorch_kv_store(rc, rc->k_cache, s->layer, p->row_pos[t], k);
		llorch_kv_store(rc, rc->v_cache, s->layer, p->row_pos[t], v);
	}
}

static void qkv(const pass *p, int32_t l, const llorch_layer *L)
{
	llorch_ctx *c = p->c;

	if (p->m->hp.arch == LLORCH_ARCH_GPT2)
		linear(p, &L->attn_qkv, c->xn, c->qkv, L->attn_qkv_b, LLORCH_ACT_NONE);
	else
		linear3(p, c->xn, &L->attn_q, c->q, &L->attn_k, c->k, &L->attn_v, c->v);
	run_rows((rows_step){.p = p, .fn = qkv_fn, .n = p->m->hp.n_embd + 2 * p->m->kv_dim,
			.layer = l, .fault = c->fault == LLORCH_FAULT_ROPE});
}

static void attention(pass *p, int32_t l, const llorch_layer *L)
{
	llorch_ctx *c = p->c;

	qkv(p, l, L);
	p->layer = l;
	p->attn_tiles = rows_tile(p);
	atomic_store_explicit(&p->attn_next, 0, memory_order_relaxed);
	/* Short contexts of small models: less work than a wake-up. */
	int64_t attn_work = 0;
	for (int32_t t = 0; t < p->nt; t++)
		attn_work += (int64_t)(p->row_pos[t] + 1) * p->m->hp.n_head * p->m->hp.head_dim;
	if (attn_work < ATTN_MIN_WORK)
		attn_worker(p, 0, 1);
	else
		llorch_threadpool_run(c->pool, attn_worker, p);
	/* the attention output goes to xn, whose normed input is spent */
	linear(p, &L->attn_output, c->att, c->xn,
			c->fault != LLORCH_FAULT_BIAS ? L->attn_output_b : NULL, LLORCH_ACT_NONE);
}

/* Llama: Y = silu(Y) * A; GPT-2, with the GELU fault hook on: Y = gelu(Y +
 * b) (otherwise the product's epilogue does it) */
static void act_fn(const rows_step *s, int32_t t0, int32_t t1)
{
	if (s->p->m->hp.arch != LLORCH_ARCH_GPT2) {
		llorch_silu_mul(s->Y + t0 * s->n, s->A + t0 * s->n, (t1 - t0) * s->n);
		return;
	}
	/* row by row, while the row is in L1 after its bias */
	for (int32_t t = t0; t < t1; t++) {
		float *r = s->Y + t * s->n;
		if (s->b)
			llorch_add(r, s->b, s->n);
		if (s->fault)
			llorch_gelu_coef(r, s->n, LLORCH_GELU_COEF_A / 10);
		else
			llorch_gelu(r, s->n);
	}
}

/* xn (nt, n_embd) -> att (nt, n_embd) */
static void ffn(const pass *p, const llorch_layer *L)
{
	llorch_ctx *c = p->c;
	bool gpt2 = p->m->hp.arch == LLORCH_ARCH_GPT2, fault = c->fault == LLORCH_FAULT_GELU;
	/* GPT-2's bias and GELU in the product's epilogue, but for the fault hook */
	bool fused = gpt2 && !fault;

	if (gpt2)
		linear(p, &L->ffn_up, c->xn, c->hb, fused ? L->ffn_up_b : NULL,
				fused ? LLORCH_ACT_GELU : LLORCH_ACT_NONE);
	else
		linear3(p, c->xn, &L->ffn_gate, c->hb, &L->ffn_up, c->hb2, NULL, NULL);
	if (!fused)
		run_rows((rows_step){.p = p, .fn = act_fn, .Y = c->hb, .A = c->hb2,
				.n = p->m->hp.n_ff, .b = L->ffn_up_b, .fault = fault});
	linear(p, &L->ffn_down, c->hb, c->att, L->ffn_down_b, LLORCH_ACT_NONE);
}

/* Each row's rotary angles, the same in every layer. */
static void rope_angles_fn(const rows_step *s, int32_t t0, int32_t t1)
{
	const llorch_hparams *hp = &s->p->m->hp;

	for (int32_t t = t0; t < t1; t++)
		llorch_rope_angles(s->Y + (int64_t)t * hp->rope_dim, hp->rope_dim, s->p->row_pos[t],
				hp->rope_freq_base);
}

/* Runs every block over the rows; x then holds the final hidden states. */
static llorch_status blocks(pass *p)
{
	llorch_ctx *c = p->c;
	const llorch_model *m = p->m;
	int64_t E = m->hp.n_embd;
	llorch_status st;

	if ((st = embed(p)) != LLORCH_OK)
		return st;
	if (m->hp.arch != LLORCH_ARCH_GPT2)
		run_rows((rows_step){.p = p, .fn = rope_angles_fn, .Y = c->rope_cs,
				.n = 16 * m->hp.rope_dim});
	for (int32_t l = 0; l < m->hp.n_layer; l++) {
		const llorch_layer *L = &m->layers[l];
		if (aborted(p))
			return llorch_error(LLORCH_E_CANCELLED, "evaluation cancelled at layer %d of "
					"position %d", l, p->row_pos[0]);
		norm_rows(p, L->attn_norm, L->attn_norm_b, c->x, c->xn);
		dump_rows(p, "attn_norm", l, c->xn, E);
		attention(p, l, L);
		dump_rows(p, "attn_out", l, c->xn, E);
		/* x += xn; xn = norm(x) */
		run_rows((rows_step){.p = p, .fn = add_norm_fn, .Y = c->xn, .X = c->x, .n = E,
				.w = L->ffn_norm, .b = L->ffn_norm_b});
		dump_rows(p, "ffn_norm", l, c->xn, E);
		ffn(p, L);
		dump_rows(p, "ffn_out", l, c->att, E);
		add_rows(p, c->x, c->att, E);
		dump_rows(p, "layer_out", l, c->x, E);
	}
	return LLORCH_OK;
}

static bool any_dump(const pass *p)
{
	for (int32_t t = 0; t < p->nt; t++)
		if (p->row_ctx[t]->dump_fn)
			return true;
	return false;
}

/* The classifier over rows [first, nt) into logits ((nt - first), n_vocab). */
static llorch_status classify(pass *p, int32_t first, float *logits)
{
	const llorch_model *m = p->m;
	int64_t E = m->hp.n_embd, V = m->hp.n_vocab;
	pass sub = *p;

	sub.nt = p->nt - first;
	sub.row_ctx += first;
	sub.row_pos += first;
	norm_rows(&sub, m->output_norm, m->output_norm_b, p->c->x + first * E,
			p->c->xn + first * E);
	dump_rows(&sub, "output_norm", -1, p->c->xn + first * E, E);
	linear(&sub, &m->output, p->c->xn + first * E, logits, NULL, LLORCH_ACT_NONE);
	dump_rows(&sub, "logits", -1, logits, V);
	return LLORCH_OK;
}

/* Blocks, then logits: for all rows into out (nt, n_vocab) when all is set,
 * else only the last row's into out (n_vocab); out may be NULL. */
static llorch_status run_pass(pass *p, float *out, bool all)
{
	int64_t V = p->m->hp.n_vocab;
	llorch_status st;

	if ((st = blocks(p)) != LLORCH_OK)
		return st;
	if (!any_dump(p))
		return out ? classify(p, all ? 0 : p->nt - 1, out) : LLORCH_OK;
	if (all && out)
		return classify(p, 0, out);
	/* dumping: every row's logits are wanted, the caller keeps the last */
	size_t n;
	float *tmp;
	if (!llorch_mul_size((size_t)p->nt, (size_t)V, &n) || !(tmp = malloc(n * sizeof *tmp)))
		return llorch_error(LLORCH_E_NOMEM, "out of memory for dumped logits");
	st = classify(p, 0, tmp);
	if (out)
		memcpy(out, tmp + (size_t)(p->nt - 1) * (size_t)V, (size_t)V * sizeof *out);
	free(tmp);
	return st;
}

llorch_status llorch_ctx_eval(llorch_ctx *c, const int32_t *tokens, int32_t n,
		float *logits, bool all_logits)
{
	llorch_status st;

	if (!c)
		return llorch_error(LLORCH_E_INVALID, "llorch_ctx_eval: NULL context");
	if ((st = llorch_ctx_check_tokens(c, tokens, n)) != LLORCH_OK)
		return st;
	int64_t V = c->model->hp.n_vocab;
	for (int32_t done = 0; done < n;) {
		int32_t nt = n - done < c->n_batch ? n - done : c->n_batch;
		bool last = done + nt == n;
		pass p = {
			.c = c, .m = c->model, .nt = nt, .tokens = tokens + done,
			.row_ctx = c->row_ctx, .row_pos = c->row_pos,
			.scores = c->scores, .scores_stride = c->scores_stride,
		};
		for (int32_t t = 0; t < nt; t++) {
			c->row_ctx[t] = c;
			c->row_pos[t] = c->n_past + t;
		}
		float *out = NULL;
		if (logits && all_logits)
			out = logits + (int64_t)done * V;
		else if (logits && last)
			out = logits;
		if ((st = run_pass(&p, out, all_logits)) != LLORCH_OK)
			return st;
		memcpy(c->kv_tokens + c->n_past, tokens + done, sizeof *tokens * (size_t)nt);
		c->n_past += nt;
		done += nt;
	}
	return LLORCH_OK;
}

llorch_status llorch_ctx_eval_batch(llorch_ctx *const *ctxs, const int32_t *tokens,
		int32_t n, float *logits)
{
	llorch_status st;

	if (!ctxs || !tokens || n <= 0)
		return llorch_error(LLORCH_E_INVALID, "llorch_ctx_eval_batch: no contexts");
	llorch_ctx *c0 = ctxs[0];
	int32_t max_ctx = 0;
	for (int32_t i = 0; i < n; i++) {
		if (!ctxs[i])
			return llorch_error(LLORCH_E_INVALID, "llorch_ctx_eval_batch: context %d is NULL", i);
		if (ctxs[i]->model != c0->model)
			return llorch_error(LLORCH_E_INVALID, "llorch_ctx_eval_batch: context %d has "
					"another model", i);
		for (int32_t j = 0; j < i; j++)
			if (ctxs[j] == ctxs[i])
				return llorch_error(LLORCH_E_INVALID, "llorch_ctx_eval_batch: context %d "
						"appears twice", i);
		if ((st = llorch_ctx_check_tokens(ctxs[i], tokens + i, 1)) != LLORCH_OK)
			return llorch_error(st, "context %d: %s", i, llorch_last_error());
		if (ctxs[i]->n_ctx > max_ctx)
			max_ctx = ctxs[i]->n_ctx;
	}
	/* the score rows must hold the longest of the contexts */
	size_t n_scores;
	int nth = llorch_threadpool_size(c0->pool);
	if (!llorch_mul_size((size_t)nth, (size_t)max_ctx, &n_scores))
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	float *scores = malloc(n_scores * sizeof *scores);
	if (!scores)
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	int64_t V = c0->model->hp.n_vocab;
	st = LLORCH_OK;
	for (int32_t done = 0; done < n && st == LLORCH_OK;) {
		int32_t nt = n - done < c0->n_batch ? n - done : c0->n_batch;
		for (int32_t t = 0; t < nt; t++)
			c0->row_pos[t] = ctxs[done + t]->n_past;
		pass p = {
			.c = c0, .m = c0->model, .nt = nt, .tokens = tokens + done,
			.row_ctx = ctxs + done, .row_pos = c0->row_pos,
			.scores = scores, .scores_stride = (size_t)max_ctx,
		};
		st = run_pass(&p, logits ? logits + (int64_t)done * V : NULL, true);
		if (st == LLORCH_OK)
			for (int32_t t = 0; t < nt; t++) {
				llorch_ctx *ct = ctxs[done + t];
				ct->kv_tokens[ct->n_past++] = tokens[done + t];
			}
		done += nt;
	}
	free(scores);
	return st;
}
