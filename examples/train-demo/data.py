"""Turns the verse files into one token stream per split.

A chapter is one document: BOS, then its verses, each encoded on its own and
separated by the newline byte token, so that a generated passage comes out
one verse per line. Documents follow each other in the stream; training
windows are cut anywhere in it, as llama2.c does with its stories.
"""
import numpy as np
import sentencepiece as spm

BOS = 1


def load_tokenizer(model_path):
	sp = spm.SentencePieceProcessor(model_file=model_path)
	if sp.bos_id() != BOS:
		raise SystemExit(f'{model_path}: BOS is {sp.bos_id()}, expected {BOS}')
	return sp


def newline_id(sp):
	return sp.piece_to_id('<0x0A>')


def encode_file(sp, path):
	"""The split's token stream as a uint16 array."""
	nl = newline_id(sp)
	with open(path, encoding='ascii') as f:
		chapters = f.read().strip('\n').split('\n\n')
	ids = []
	for chapter in chapters:
		ids.append(BOS)
		for i, verse in enumerate(chapter.split('\n')):
			if i:
				ids.append(nl)
			ids.extend(sp.encode(verse))
	return np.array(ids, dtype=np.uint16)
