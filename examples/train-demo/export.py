#!/usr/bin/python3
"""Writes the trained model and tokenizer in llama2.c's formats, the input of
`llorch-gguf convert-llama2c`.

Checkpoint (llama2.c legacy version 0): 7 int32 (dim, hidden_dim, n_layers,
n_heads, n_kv_heads, vocab_size, seq_len; vocab_size is positive because the
classifier is the token embedding), then fp32 arrays: token_embedding,
rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3 (each stacked over the layers),
rms_final, freq_cis_real, freq_cis_imag. Linear weights are (out, in) row-major.

tokenizer.bin: uint32 max_token_length, then per token f32 score, uint32 len,
bytes; SentencePiece's U+2581 becomes ' ', BOS/EOS are "\\n<s>\\n"/"\\n</s>\\n".

Usage: export.py CKPT.pt TOKENIZER.model MODEL.bin TOKENIZER.bin
"""
import struct
import sys

import numpy as np
import sentencepiece as spm
import torch

from model import Config, Llama


def f32(f, t):
	f.write(np.ascontiguousarray(t.detach().cpu().numpy(), dtype='<f4').tobytes())


def write_model(ckpt_path, out_path):
	ck = torch.load(ckpt_path, map_location='cpu')
	c = Config(**ck['config'])
	model = Llama(c)
	model.load_state_dict(ck['model'])
	layers = model.layers
	with open(out_path, 'wb') as f:
		f.write(struct.pack('<7i', c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
				c.vocab_size, c.seq_len))
		f32(f, model.tok_embeddings.weight)
		for get in (lambda l: l.attention_norm.weight, lambda l: l.attention.wq.weight,
				lambda l: l.attention.wk.weight, lambda l: l.attention.wv.weight,
				lambda l: l.attention.wo.weight, lambda l: l.ffn_norm.weight,
				lambda l: l.feed_forward.w1.weight, lambda l: l.feed_forward.w2.weight,
				lambda l: l.feed_forward.w3.weight):
			for layer in layers:
				f32(f, get(layer))
		f32(f, model.norm.weight)
		f32(f, model.rope_cos)
		f32(f, model.rope_sin)
	return c


def write_tokenizer(model_path, out_path, vocab_size):
	sp = spm.SentencePieceProcessor(model_file=model_path)
	if sp.get_piece_size() != vocab_size:
		raise SystemExit(f'export: tokenizer has {sp.get_piece_size()} tokens, model {vocab_size}')
	pieces = []
	for i in range(sp.get_piece_size()):
		piece = sp.id_to_piece(i)
		if i == sp.bos_id():
			piece = '\n<s>\n'
		elif i == sp.eos_id():
			piece = '\n</s>\n'
		pieces.append((sp.get_score(i), piece.replace('\u2581', ' ').encode('utf-8')))
	with open(out_path, 'wb') as f:
		f.write(struct.pack('<I', max(len(b) for _, b in pieces)))
		for score, b in pieces:
			f.write(struct.pack('<fI', score, len(b)))
			f.write(b)


def main():
	if len(sys.argv) != 5:
		raise SystemExit('usage: export.py CKPT.pt TOKENIZER.model MODEL.bin TOKENIZER.bin')
	c = write_model(sys.argv[1], sys.argv[3])
	write_tokenizer(sys.argv[2], sys.argv[4], c.vocab_size)
	print(f'export: {sys.argv[3]} ({c}), {sys.argv[4]}')


if __name__ == '__main__':
	main()
