/* Element-wise and per-row operations of the fast forward pass. Sums run in
 * float with several accumulators, in a fixed order, so that results do not
 * depend on the thread that computes them. */
#include <math.h>

#include "kernels.h"
#include "ops.h"

/* The vector kernels: per row of a prompt these were a few percent of its
 * time, on one thread while the others waited. */
void llorch_add(float *x, const float *b, int64_t n)
{
	llorch_vec_add(x, b, n);
}

void llorch_layernorm(float *y, const float *x, const float *w, const float *b,
		int64_t n, float eps)
{
	llorch_vec_layernorm(y, x, w, b, n, eps);
}

void llorch_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
	llorch_vec_rmsnorm(y, x, w, n, eps);
}

void llorch_softmax(float *x, int64_t n)
{
	float max = -INFINITY;
	double sum = 0;

	for (int64_t i = 0; i < n; i++)
		if (x[i] > max)
			max = x[i];
	if (max == -INFINITY) {
		/* Nothing to attend to: all weights zero rather than NaN. */
		for (int64_t i = 0; i < n; i++)
			x[i] = 0;
		return;
	}
	for (int64_t i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	float inv = (float)(1.0 / sum);
	for (int64_t i = 0; i < n; i++)
		x[i] *= inv;
}

void llorch_gelu_coef(float *x, int64_t n, float coef)
{
	for (int64_t i = 0; i < n; i++) {
		float v = x[i];
		x[i] = 0.5f * v * (1.0f + tanhf(LLORCH_SQRT_2_OVER_PI * v * (1.0f + coef * v * v)));
	}
}

/* The vector kernels: libm's tanhf/expf per value cost 15% of a prompt. */
void llorch_gelu(float *x, int64_t n)
{
	llorch_vec_gelu(x, n);
}

void llorch_silu_mul(float *gate, const float *up, int64_t n)
{
	llorch_vec_silu_mul(gate, up, n);
}

/* The angle of pair i at pos: pos * base^(-2i/rope_dim), in double so that
 * long positions keep their precision before the float rotation. */
static void rope_angle(int32_t pos, int32_t i, int32_t rope_dim, float freq_base,
		float *c, float *s)
{
	double theta = (double)pos * pow((double)freq_base, -2.0 * i / (double)rope_dim);
	*c = (float)cos(theta);
	*s = (float)sin(theta);
}

void llorch_rope_angles(float *cs, int32_t rope_dim, int32_t pos, float freq_base)
{
	for (int32_t i = 0; i < rope_dim / 2; i++)
		rope_angle(pos, i, rope_dim, freq_base, &cs[2 * i], &cs[2 * i + 1]);
}

/* Pair (i, i + off) of every head rotated by the angle with cosine c and
 * sine s: off 1 for GGUF's adjacent pairs, rope_dim / 2 for NeoX's. */
static void rotate(float *x, int32_t n_head, int32_t head_dim, int32_t i, int32_t off,
		float c, float s)
{
	for (int32_t h = 0; h < n_head; h++) {
		float *p = x + (int64_t)h * head_dim + i;
		float x0 = p[0], x1 = p[off];
		p[0] = x0 * c - x1 * s;
		p[off] = x0 * s + x1 * c;
	}
}

void llorch_rope_cs(float *x, int32_t n_head, int32_t head_dim, int32_t rope_dim,
		const float *cs)
{
	for (int32_t i = 0; i < rope_dim / 2; i++)
		rotate(x, n_head, head_dim, 2 * i, 1, cs[2 * i], cs[2 * i + 1]);
}

void llorch_rope_neox_cs(float *x, int32_t n_head, int32_t head_dim, int32_t rope_dim,
		const float *cs)
{
	for (int32_t i = 0; i < rope_dim / 2; i++)
		rotate(x, n_head, head_dim, i, rope_dim / 2, cs[2 * i], cs[2 * i + 1]);
}

void llorch_rope(float *x, int32_t n_head, int32_t head_dim, int32_t rope_dim,
		int32_t pos, float freq_base)
{
	for (int32_t i = 0; i < rope_dim / 2; i++) {
		float c, s;
		rope_angle(pos, i, rope_dim, freq_base, &c, &s);
		rotate(x, n_head, head_dim, 2 * i, 1, c, s);
	}
}

void llorch_rope_neox(float *x, int32_t n_head, int32_t head_dim, int32_t rope_dim,
		int32_t pos, float freq_base)
{
	for (int32_t i = 0; i < rope_dim / 2; i++) {
		float c, s;
		rope_angle(pos, i, rope_dim, freq_base, &c, &s);
		rotate(x, n_head, head_dim, i, rope_dim / 2, c, s);
	}
}
