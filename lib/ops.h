/* Element-wise and per-row operations of the fast forward pass; not installed.
 * The reference pass (forward_ref.c) has its own plain versions on purpose,
 * so that a mistake here cannot hide in both. */
#ifndef LLORCH_OPS_H
#define LLORCH_OPS_H

#include "internal.h"

/* sqrt(2/pi), the constant of GELU's tanh approximation (Hendrycks & Gimpel). */
#define LLORCH_GELU_COEF_A 0.044715f
#define LLORCH_SQRT_2_OVER_PI 0.79788456080286535588f

/* y (n) = (x - mean) / sqrt(var + eps) * w + b; b may be NULL. y may be x. */
void llorch_layernorm(float *y, const float *x, const float *w, const float *b,
		int64_t n, float eps);
/* y (n) = x / sqrt(mean(x^2) + eps) * w. y may be x. */
void llorch_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);
/* In place, numerically stable (max subtracted); -inf entries become 0. */
void llorch_softmax(float *x, int64_t n);
/* x (n) += b (n) */
void llorch_add(float *x, const float *b, int64_t n);
/* In place: x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))). */
void llorch_gelu(float *x, int64_t n);
/* As llorch_gelu with another cubic coefficient (the fault hook uses it). */
void llorch_gelu_coef(float *x, int64_t n, float coef);
/* gate (n) = silu(gate) * up = gate / (1 + exp(-gate)) * up */
void llorch_silu_mul(float *gate, const float *up, int64_t n);
/* Rotary position embedding of one token, GGUF llama convention (llama.cpp
 * rope mode 0): in each of n_head heads of head_dim values, the first
 * rope_dim values rotate as adjacent pairs (2i, 2i+1) by the angle
 * pos * freq_base^(-2i / rope_dim); the rest pass unchanged. x (n_head, head_dim). */
void llorch_rope(float *x, int32_t n_head, int32_t head_dim, int32_t rope_dim,
		int32_t pos, float freq_base);
/* cs (rope_dim) = cos and sin of each pair's angle at pos, interleaved:
 * the same for every layer, so a pass computes them once per row. */
void llorch_rope_angles(float *cs, int32_t rope_dim, int32_t pos, float freq_base);
/* llorch_rope and llorch_rope_neox with the angles given by
 * llorch_rope_angles: bit-identical results. */
void llorch_rope_cs(float *x, int32_t n_head, int32_t head_dim, int32_t rope_dim,
		const float *cs);
void llorch_rope_neox_cs(float *x, int32_t n_head, int32_t head_dim, int32_t rope_dim,
		const float *cs);
/* The same rotation applied to pairs (i, i + rope_dim/2) ("rotate half", the
 * NeoX / Hugging Face layout): wrong for GGUF llama files, used only by the
 * fault hook to prove that the tests notice. */
void llorch_rope_neox(float *x, int32_t n_head, int32_t head_dim, int32_t rope_dim,
		int32_t pos, float freq_base);

#endif
