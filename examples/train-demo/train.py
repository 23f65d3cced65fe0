#!/usr/bin/python3
"""Trains the small Llama on the KJV token streams, on the CPU, deterministically.

Fixed seeds, deterministic kernels, a fixed number of steps: the same inputs
give the same weights on the same PyTorch build. AdamW with linear warmup and
cosine decay, gradient clipping; the classifier shares the embedding.

Usage: train.py DATA_DIR OUT_DIR [--steps N] [--threads N] ...
  reads DATA_DIR/{train,val}.txt and DATA_DIR/tokenizer.model,
  writes OUT_DIR/ckpt.pt (config, weights, losses) and logs to stdout.
"""
import argparse
import dataclasses
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from data import BOS, encode_file, load_tokenizer
from model import Config, Llama


def parse_args():
	p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
	p.add_argument('data_dir')
	p.add_argument('out_dir')
	p.add_argument('--steps', type=int, default=600)
	p.add_argument('--batch', type=int, default=16)
	p.add_argument('--lr', type=float, default=2e-3)
	p.add_argument('--min-lr', type=float, default=2e-4)
	p.add_argument('--warmup', type=int, default=60)
	p.add_argument('--weight-decay', type=float, default=0.1)
	p.add_argument('--clip', type=float, default=1.0)
	p.add_argument('--eval-every', type=int, default=100)
	p.add_argument('--threads', type=int, default=1)
	p.add_argument('--seed', type=int, default=1337)
	p.add_argument('--dim', type=int, default=192)
	p.add_argument('--layers', type=int, default=5)
	p.add_argument('--heads', type=int, default=6)
	p.add_argument('--kv-heads', type=int, default=3)
	p.add_argument('--seq-len', type=int, default=256)
	return p.parse_args()


def lr_at(step, a):
	if step < a.warmup:
		return a.lr * (step + 1) / a.warmup
	progress = (step - a.warmup) / max(1, a.steps - a.warmup)
	return a.min_lr + 0.5 * (a.lr - a.min_lr) * (1 + math.cos(math.pi * progress))


def windows(stream, starts, seq_len):
	"""(len(starts), seq_len+1) int64: inputs are [:, :-1], targets [:, 1:]."""
	idx = np.asarray(starts)[:, None] + np.arange(seq_len + 1)[None, :]
	return torch.from_numpy(stream[idx].astype(np.int64))


@torch.no_grad()
def mean_loss(model, stream, starts, seq_len, batch):
	model.eval()
	total, count = 0.0, 0
	for i in range(0, len(starts), batch):
		w = windows(stream, starts[i:i + batch], seq_len)
		logits = model(w[:, :-1])
		total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1),
				reduction='sum').item()
		count += w[:, 1:].numel()
	model.train()
	return total / count


def main():
	a = parse_args()
	torch.set_num_threads(a.threads)
	torch.manual_seed(a.seed)
	torch.use_deterministic_algorithms(True)
	rng = np.random.default_rng(a.seed)
	os.makedirs(a.out_dir, exist_ok=True)

	sp = load_tokenizer(os.path.join(a.data_dir, 'tokenizer.model'))
	train = encode_file(sp, os.path.join(a.data_dir, 'train.txt'))
	val = encode_file(sp, os.path.join(a.data_dir, 'val.txt'))
	cfg = Config(dim=a.dim, n_layers=a.layers, n_heads=a.heads, n_kv_heads=a.kv_heads,
			vocab_size=sp.get_piece_size(), seq_len=a.seq_len)
	model = Llama(cfg)
	n_params = sum(p.numel() for p in model.parameters())
	print(f'train: {len(train)} train tokens, {len(val)} val tokens; {n_params} parameters; '
			f'{cfg}', flush=True)

	# Every validation token is scored once (non-overlapping windows); training
	# loss is measured the same way on a fixed sample of as many train windows.
	val_starts = np.arange(0, len(val) - a.seq_len - 1, a.seq_len)
	train_eval_starts = np.sort(rng.choice(len(train) - a.seq_len - 1, len(val_starts),
			replace=False))

	decay = [p for p in model.parameters() if p.dim() >= 2]
	no_decay = [p for p in model.parameters() if p.dim() < 2]
	opt = torch.optim.AdamW([{'params': decay, 'weight_decay': a.weight_decay},
			{'params': no_decay, 'weight_decay': 0.0}], lr=a.lr, betas=(0.9, 0.95))

	history = []
	t0 = time.time()
	tokens_seen = 0
	for step in range(a.steps + 1):
		if step % a.eval_every == 0 or step == a.steps:
			tl = mean_loss(model, train, train_eval_starts, a.seq_len, a.batch)
			vl = mean_loss(model, val, val_starts, a.seq_len, a.batch)
			elapsed = time.time() - t0
			history.append({'step': step, 'train_loss': tl, 'val_loss': vl,
					'tokens': tokens_seen, 'seconds': round(elapsed, 1)})
			print(f'eval step {step}: train {tl:.4f} val {vl:.4f} '
					f'({tokens_seen / len(train):.2f} epochs, {elapsed:.0f}s)', flush=True)
			torch.save({'config': dataclasses.asdict(cfg), 'model': model.state_dict(),
					'history': history, 'args': vars(a), 'n_params': n_params},
					os.path.join(a.out_dir, 'ckpt.pt'))
		if step == a.steps:
			break
		for g in opt.param_groups:
			g['lr'] = lr_at(step, a)
		w = windows(train, rng.integers(0, len(train) - a.seq_len - 1, a.batch), a.seq_len)
		logits = model(w[:, :-1])
		loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
		opt.zero_grad(set_to_none=True)
		loss.backward()
		torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
		opt.step()
		tokens_seen += w[:, 1:].numel()
		if step % 10 == 0:
			elapsed = time.time() - t0
			print(f'step {step}: loss {loss.item():.4f} lr {lr_at(step, a):.2e} '
					f'{tokens_seen / elapsed:.0f} tok/s', flush=True)

	wall = time.time() - t0
	print(f'train: done in {wall:.0f}s', flush=True)
	model.eval()
	samples = []
	gen = torch.Generator().manual_seed(a.seed)
	for prompt in ['And it came to pass', 'In the beginning', 'The LORD is my shepherd']:
		ids = [BOS] + sp.encode(' ' + prompt)
		for temp in (0.0, 0.8):
			out = model.generate(ids, 60, temperature=temp, generator=gen, stop=BOS)
			text = sp.decode(out[1:])
			samples.append({'prompt': prompt, 'temperature': temp, 'text': text})
			print(f'--- {prompt!r} T={temp}\n{text}', flush=True)
	ck = torch.load(os.path.join(a.out_dir, 'ckpt.pt'))
	ck['wall_seconds'] = round(wall)
	ck['samples'] = samples
	torch.save(ck, os.path.join(a.out_dir, 'ckpt.pt'))
	with open(os.path.join(a.out_dir, 'train-summary.json'), 'w') as f:
		json.dump({'n_params': n_params, 'config': dataclasses.asdict(cfg), 'args': vars(a),
				'wall_seconds': round(wall), 'history': history, 'samples': samples}, f, indent=1)


if __name__ == '__main__':
	main()
