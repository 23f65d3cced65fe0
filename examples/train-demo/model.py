"""A small Llama: RMSNorm, rotary position embedding on adjacent pairs (as
Meta's reference code and llama2.c), SwiGLU feed-forward, grouped-query
attention, classifier tied to the token embedding, no biases.

Written for this recipe; the layout of the parameters follows llama2.c's so
that export.py can write its checkpoint format directly.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
	dim: int = 256
	n_layers: int = 5
	n_heads: int = 8
	n_kv_heads: int = 4
	vocab_size: int = 2048
	seq_len: int = 256
	norm_eps: float = 1e-5
	rope_base: float = 10000.0
	multiple_of: int = 32

	@property
	def head_dim(self):
		return self.dim // self.n_heads

	@property
	def hidden_dim(self):
		# Llama's rule: two thirds of 4*dim, rounded up to multiple_of.
		h = int(2 * (4 * self.dim) / 3)
		return self.multiple_of * ((h + self.multiple_of - 1) // self.multiple_of)


class RMSNorm(nn.Module):
	def __init__(self, dim, eps):
		super().__init__()
		self.eps = eps
		self.weight = nn.Parameter(torch.ones(dim))

	def forward(self, x):
		return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, seq_len, base):
	"""cos and sin, each (seq_len, head_dim/2): angle pos * base^(-2i/head_dim)."""
	inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
	angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
	return torch.cos(angles), torch.sin(angles)


def apply_rope(x, cos, sin):
	"""x (batch, seq, heads, head_dim): rotates each pair (2i, 2i+1) by angle i."""
	even, odd = x[..., 0::2], x[..., 1::2]
	cos = cos[None, :, None, :]
	sin = sin[None, :, None, :]
	return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)


class Attention(nn.Module):
	def __init__(self, c):
		super().__init__()
		self.n_heads, self.n_kv_heads, self.head_dim = c.n_heads, c.n_kv_heads, c.head_dim
		self.wq = nn.Linear(c.dim, c.n_heads * c.head_dim, bias=False)
		self.wk = nn.Linear(c.dim, c.n_kv_heads * c.head_dim, bias=False)
		self.wv = nn.Linear(c.dim, c.n_kv_heads * c.head_dim, bias=False)
		self.wo = nn.Linear(c.n_heads * c.head_dim, c.dim, bias=False)

	def forward(self, x, cos, sin, mask):
		b, t, _ = x.shape
		q = apply_rope(self.wq(x).view(b, t, self.n_heads, self.head_dim), cos, sin)
		k = apply_rope(self.wk(x).view(b, t, self.n_kv_heads, self.head_dim), cos, sin)
		v = self.wv(x).view(b, t, self.n_kv_heads, self.head_dim)
		group = self.n_heads // self.n_kv_heads
		# (b, heads, t, head_dim); each kv head serves `group` query heads
		q = q.transpose(1, 2)
		k = k.repeat_interleave(group, dim=2).transpose(1, 2)
		v = v.repeat_interleave(group, dim=2).transpose(1, 2)
		scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim) + mask[:t, :t]
		out = F.softmax(scores, dim=-1) @ v
		return self.wo(out.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
	def __init__(self, c):
		super().__init__()
		self.w1 = nn.Linear(c.dim, c.hidden_dim, bias=False)
		self.w2 = nn.Linear(c.hidden_dim, c.dim, bias=False)
		self.w3 = nn.Linear(c.dim, c.hidden_dim, bias=False)

	def forward(self, x):
		return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
	def __init__(self, c):
		super().__init__()
		self.attention_norm = RMSNorm(c.dim, c.norm_eps)
		self.attention = Attention(c)
		self.ffn_norm = RMSNorm(c.dim, c.norm_eps)
		self.feed_forward = FeedForward(c)

	def forward(self, x, cos, sin, mask):
		x = x + self.attention(self.attention_norm(x), cos, sin, mask)
		return x + self.feed_forward(self.ffn_norm(x))


class Llama(nn.Module):
	def __init__(self, c):
		super().__init__()
		self.config = c
		self.tok_embeddings = nn.Embedding(c.vocab_size, c.dim)
		self.layers = nn.ModuleList(Block(c) for _ in range(c.n_layers))
		self.norm = RMSNorm(c.dim, c.norm_eps)
		cos, sin = rope_tables(c.head_dim, c.seq_len, c.rope_base)
		self.register_buffer('rope_cos', cos, persistent=False)
		self.register_buffer('rope_sin', sin, persistent=False)
		mask = torch.full((c.seq_len, c.seq_len), float('-inf')).triu(1)
		self.register_buffer('mask', mask, persistent=False)
		self.apply(self._init)
		# GPT-2's scaled init for the projections that feed the residual stream.
		for name, p in self.named_parameters():
			if name.endswith('wo.weight') or name.endswith('w2.weight'):
				nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layers))

	@staticmethod
	def _init(m):
		if isinstance(m, (nn.Linear, nn.Embedding)):
			nn.init.normal_(m.weight, mean=0.0, std=0.02)

	def forward(self, tokens):
		"""tokens (batch, t) -> logits (batch, t, vocab)."""
		t = tokens.shape[1]
		x = self.tok_embeddings(tokens)
		cos, sin = self.rope_cos[:t], self.rope_sin[:t]
		for layer in self.layers:
			x = layer(x, cos, sin, self.mask)
		return F.linear(self.norm(x), self.tok_embeddings.weight)

	@torch.no_grad()
	def generate(self, ids, n, temperature=0.0, generator=None, stop=None):
		"""Appends n tokens to the list ids; greedy when temperature is 0.
		Recomputes the whole window each step: simple, and fast enough here."""
		ids = list(ids)
		for _ in range(n):
			window = torch.tensor([ids[-self.config.seq_len:]])
			logits = self(window)[0, -1]
			if temperature == 0.0:
				nxt = int(torch.argmax(logits))
			else:
				probs = F.softmax(logits / temperature, dim=-1)
				nxt = int(torch.multinomial(probs, 1, generator=generator))
			if stop is not None and nxt == stop:
				break
			ids.append(nxt)
		return ids
