/* The reference forward pass: one token at a time, plain loops, sums in
 * double, weight rows dequantized one at a time. It shares nothing with the
 * fast path but the weight views and the KV cache layout, so that comparing
 * the two tests the fast path's arithmetic. Slow on purpose. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define REF_PI 3.14159265358979323846

typedef struct {
	llorch_ctx *c;
	const llorch_model *m;
	float *x, *xb, *xb2, *q, *k, *v, *att, *h1, *h2, *row, *scores; /* see alloc_bufs */
} ref_state;

/* y (n_out) = W x, each row dequantized in turn. */
static llorch_status ref_matvec(ref_state *s, const llorch_weight *w, const float *x, float *y)
{
	for (int64_t o = 0; o < w->n_out; o++) {
		const char *src = (const char *)w->data + (size_t)o * w->row_bytes;
		llorch_status st = llorch_dequantize_row(w->type, src, s->row, w->n_in);
		if (st != LLORCH_OK)
			return st;
		double sum = 0;
		for (int64_t i = 0; i < w->n_in; i++)
			sum += (double)s->row[i] * x[i];
		y[o] = (float)sum;
	}
	return LLORCH_OK;
}

static void ref_bias(float *y, const float *b, int64_t n)
{
	if (b)
		for (int64_t i = 0; i < n; i++)
			y[i] += b[i];
}

static void ref_norm(const llorch_model *m, float *y, const float *x, const float *w,
		const float *b)
{
	int64_t n = m->hp.n_embd;
	double mean = 0, var = 0;

	if (m->hp.arch == LLORCH_ARCH_GPT2) {
		for (int64_t i = 0; i < n; i++)
			mean += x[i];
		mean /= (double)n;
	}
	for (int64_t i = 0; i < n; i++)
		var += ((double)x[i] - mean) * ((double)x[i] - mean);
	var /= (double)n;
	double inv = 1.0 / sqrt(var + m->hp.norm_eps);
	for (int64_t i = 0; i < n; i++)
		y[i] = (float)(((double)x[i] - mean) * inv * w[i] + (b ? b[i] : 0.0));
}

/* Adjacent pairs (2i, 2i+1) of the first rope_dim values of each head. */
static void ref_rope(const llorch_hparams *hp, float *x, int32_t n_head, int32_t pos)
{
	for (int32_t h = 0; h < n_head; h++) {
		float *v = x + (int64_t)h * hp->head_dim;
		for (int32_t i = 0; i < hp->rope_dim; i += 2) {
			double theta = pos / pow(hp->rope_freq_base, (double)i / hp->rope_dim);
			double a = v[i], b = v[i + 1];
			v[i] = (float)(a * cos(theta) - b * sin(theta));
			v[i + 1] = (float)(a * sin(theta) + b * cos(theta));
		}
	}
}

static void dump(const ref_state *s, const char *name, int32_t layer, int32_t pos,
		const float *x, int64_t n)
{
	if (s->c->dump_fn)
		s->c->dump_fn(name, layer, pos, x, n, s->c->dump_user);
}

/* Value i of cache row (l, pos), converted by the scalar routines. */
static double ref_kv(const ref_state *s, void *cache, int32_t l, int32_t pos, int64_t i)
{
	if (s->c->kv_type == LLORCH_DT_Q8_0) {
		const llorch_block_q8_0 *b = llorch_kv_at(cache, s->c, l, pos, i - i % LLORCH_QK8_0);
		return (double)llorch_fp16_to_fp32(b->d) * b->qs[i % LLORCH_QK8_0];
	}
	const void *p = llorch_kv_at(cache, s->c, l, pos, i);
	if (s->c->kv_type == LLORCH_DT_F16)
		return llorch_fp16_to_fp32(*(const uint16_t *)p);
	return *(const float *)p;
}

/* Block b of q8_0 = x (32): the rounding the cache's type asks for,
 * written out (llorch_vec_to_q8_0 gives the same bits): d = amax / 127 in
 * float, each x / d (times 1 / d, in float) to the nearest integer, ties
 * to even, and d stored as f16. */
static void ref_q8_0(const float *x, llorch_block_q8_0 *b)
{
	float amax = 0;

	for (int k = 0; k < LLORCH_QK8_0; k++)
		amax = fmaxf(amax, fabsf(x[k]));
	float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
	for (int k = 0; k < LLORCH_QK8_0; k++) {
		float t = x[k] * id;
		/* NaN (a NaN or inf in the block) as 0, as the conversions do */
		b->qs[k] = t == t ? (int8_t)(int)nearbyintf(t) : 0;
	}
	b->d = llorch_fp32_to_fp16(d);
}

/* Cache row (l, pos) = src (kv_dim), rounded as the cache's type asks. */
static void ref_kv_store(ref_state *s, void *cache, int32_t l, int32_t pos, const float *src)
{
	if (s->c->kv_type == LLORCH_DT_Q8_0) {
		for (int64_t i = 0; i < s->m->kv_dim; i += LLORCH_QK8_0)
			ref_q8_0(src + i, llorch_kv_at(cache, s->c, l, pos, i));
		return;
	}
	for (int64_t i = 0; i < s->m->kv_dim; i++) {
		void *p = llorch_kv_at(cache, s->c, l, pos, i);
		if (s->c->kv_type == LLORCH_DT_F16)
			*(uint16_t *)p = llorch_fp32_to_fp16(src[i]);
		else
			*(float *)p = src[i];
	}
}

/* Causal self-attention of the token at pos over the cache, into s->att. */
static void ref_attention(ref_state *s, int32_t l, int32_t pos)
{
	const llorch_hparams *hp = &s->m->hp;
	int32_t hd = hp->head_dim;

	for (int32_t h = 0; h < hp->n_head; h++) {
		int32_t kvh = h / (hp->n_head / hp->n_head_kv);
		const float *q = s->q + (int64_t)h * hd;
		double max = -INFINITY, sum = 0;
		for (int32_t j = 0; j <= pos; j++) {
			double d = 0;
			for (int32_t i = 0; i < hd; i++)
				d += (double)q[i] * ref_kv(s, s->c->k_cache, l, j, (int64_t)kvh * hd + i);
			s->scores[j] = (float)(d / sqrt((double)hd));
			if (s->scores[j] > max)
				max = s->scores[j];
		}
		for (int32_t j = 0; j <= pos; j++) {
			s->scores[j] = (float)exp(s->scores[j] - max);
			sum += s->scores[j];
		}
		float *out = s->att + (int64_t)h * hd;
		for (int32_t i = 0; i < hd; i++) {
			double acc = 0;
			for (int32_t j = 0; j <= pos; j++)
				acc += (double)s->scores[j] *
					ref_kv(s, s->c->v_cache, l, j, (int64_t)kvh * hd + i);
			out[i] = (float)(acc / sum);
		}
	}
}

static llorch_status ref_block(ref_state *s, int32_t l, int32_t pos)
{
	const llorch_model *m = s->m;
	const llorch_hparams *hp = &m->hp;
	const llorch_layer *L = &m->layers[l];
	int64_t E = hp->n_embd, KV = m->kv_dim, F = hp->n_ff;
	llorch_status st;

#define TRY(x) do { if ((st = (x)) != LLORCH_OK) return st; } while (0)
	ref_norm(m, s->xb, s->x, L->attn_norm, L->attn_norm_b);
	dump(s, "attn_norm", l, pos, s->xb, E);
	if (hp->arch == LLORCH_ARCH_GPT2) {
		/* the fused projection's rows: q, then k, then v */
		llorch_weight w = L->attn_qkv;
		w.n_out = E;
		TRY(ref_matvec(s, &w, s->xb, s->q));
		w.data = (const char *)w.data + (size_t)E * w.row_bytes;
		w.n_out = KV;
		TRY(ref_matvec(s, &w, s->xb, s->k));
		w.data = (const char *)w.data + (size_t)KV * w.row_bytes;
		TRY(ref_matvec(s, &w, s->xb, s->v));
		ref_bias(s->q, L->attn_qkv_b, E);
		ref_bias(s->k, L->attn_qkv_b + E, KV);
		ref_bias(s->v, L->attn_qkv_b + E + KV, KV);
	} else {
		TRY(ref_matvec(s, &L->attn_q, s->xb, s->q));
		TRY(ref_matvec(s, &L->attn_k, s->xb, s->k));
		TRY(ref_matvec(s, &L->attn_v, s->xb, s->v));
		ref_bias(s->q, L->attn_q_b, E);
		ref_bias(s->k, L->attn_k_b, KV);
		ref_bias(s->v, L->attn_v_b, KV);
		ref_rope(hp, s->q, hp->n_head, pos);
		ref_rope(hp, s->k, hp->n_head_kv, pos);
	}
	ref_kv_store(s, s->c->k_cache, l, pos, s->k);
	ref_kv_store(s, s->c->v_cache, l, pos, s->v);
	ref_attention(s, l, pos);
	TRY(ref_matvec(s, &L->attn_output, s->att, s->xb));
	ref_bias(s->xb, L->attn_output_b, E);
	dump(s, "attn_out", l, pos, s->xb, E);
	for (int64_t i = 0; i < E; i++)
		s->x[i] += s->xb[i];

	ref_norm(m, s->xb, s->x, L->ffn_norm, L->ffn_norm_b);
	dump(s, "ffn_norm", l, pos, s->xb, E);
	if (hp->arch == LLORCH_ARCH_GPT2) {
		TRY(ref_matvec(s, &L->ffn_up, s->xb, s->h1));
		ref_bias(s->h1, L->ffn_up_b, F);
		for (int64_t i = 0; i < F; i++) {
			double v = s->h1[i];
			s->h1[i] = (float)(0.5 * v * (1 + tanh(sqrt(2 / REF_PI) * (v + 0.044715 * v * v * v))));
		}
	} else {
		TRY(ref_matvec(s, &L->ffn_gate, s->xb, s->h1));
		TRY(ref_matvec(s, &L->ffn_up, s->xb, s->h2));
		for (int64_t i = 0; i < F; i++) {
			double g = s->h1[i];
			s->h1[i] = (float)(g / (1 + exp(-g)) * s->h2[i]);
		}
	}
	TRY(ref_matvec(s, &L->ffn_down, s->h1, s->xb2));
	ref_bias(s->xb2, L->ffn_down_b, E);
	dump(s, "ffn_out", l, pos, s->xb2, E);
	for (int64_t i = 0; i < E; i++)
		s->x[i] += s->xb2[i];
	dump(s, "layer_out", l, pos, s->x, E);
#undef TRY
	return LLORCH_OK;
}

static llorch_status ref_token(ref_state *s, int32_t token, int32_t pos, float *logits)
{
	const llorch_model *m = s->m;
	int64_t E = m->hp.n_embd;
	llorch_status st;

	st = llorch_dequantize_row(m->token_embd.type, (const char *)m->token_embd.data +
			(size_t)token * m->token_embd.row_bytes, s->x, E);
	if (st != LLORCH_OK)
		return st;
	if (m->hp.arch == LLORCH_ARCH_GPT2) {
		st = llorch_dequantize_row(m->position_embd.type, (const char *)m->position_embd.data +
				(size_t)pos * m->position_embd.row_bytes, s->xb, E);
		if (st != LLORCH_OK)
			return st;
		for (int64_t i = 0; i < E; i++)
			s->x[i] += s->xb[i];
	}
	dump(s, "embd", -1, pos, s->x, E);
	for (int32_t l = 0; l < m->hp.n_layer; l++) {
		if (s->c->abort_fn && s->c->abort_fn(s->c->abort_user))
			return llorch_error(LLORCH_E_CANCELLED, "evaluation cancelled at layer %d", l);
		if ((st = ref_block(s, l, pos)) != LLORCH_OK)
			return st;
	}
	if (!logits && !s->c->dump_fn)
		return LLORCH_OK;
	ref_norm(m, s->xb, s->x, m->output_norm, m->output_norm_b);
	dump(s, "output_norm", -1, pos, s->xb, E);
	if (!logits)
		return LLORCH_OK;
	if ((st = ref_matvec(s, &m->output, s->xb, logits)) != LLORCH_OK)
		return st;
	dump(s, "logits", -1, pos, logits, m->hp.n_vocab);
	return LLORCH_OK;
}

llorch_status llorch_ctx_eval_ref(llorch_ctx *c, const int32_t *tokens, int32_t n,
		float *logits, bool all_logits)
{
	llorch_status st;

	if (!c)
		return llorch_error(LLORCH_E_INVALID, "llorch_ctx_eval_ref: NULL context");
	if ((st = llorch_ctx_check_tokens(c, tokens, n)) != LLORCH_OK)
		return st;
	const llorch_model *m = c->model;
	const llorch_hparams *hp = &m->hp;
	size_t E = (size_t)hp->n_embd, F = (size_t)hp->n_ff, V = (size_t)hp->n_vocab;
	size_t widest = F > E ? F : E;
	/* x xb xb2 q att: E each; k v: kv_dim; h1 h2: F; row: widest; scores: n_ctx;
	 * a logits row for positions whose logits are only dumped. */
	size_t total = 5 * E + 2 * (size_t)m->kv_dim + 2 * F + widest + (size_t)c->n_ctx + V;
	float *buf = malloc(total * sizeof *buf);
	if (!buf)
		return llorch_error(LLORCH_E_NOMEM, "out of memory");
	ref_state s = { .c = c, .m = m };
	float *p = buf;
	s.x = p, p += E;
	s.xb = p, p += E;
	s.xb2 = p, p += E;
	s.q = p, p += E;
	s.att = p, p += E;
	s.k = p, p += m->kv_dim;
	s.v = p, p += m->kv_dim;
	s.h1 = p, p += F;
	s.h2 = p, p += F;
	s.row = p, p += widest;
	s.scores = p, p += c->n_ctx;
	float *spare = p;
	st = LLORCH_OK;
	for (int32_t t = 0; t < n && st == LLORCH_OK; t++) {
		float *out = NULL;
		if (logits && all_logits)
			out = logits + (size_t)t * V;
		else if (logits && t == n - 1)
			out = logits;
		else if (c->dump_fn)
			out = spare;
		st = ref_token(&s, tokens[t], c->n_past, out);
		if (st == LLORCH_OK)
			c->kv_tokens[c->n_past++] = tokens[t];
	}
	free(buf);
	return st;
}
