#!/usr/bin/python3
"""Trains the SentencePiece BPE tokenizer on the training verses.

Llama conventions, so that llama2.c-style tools read it: unk=0, bos=1, eos=2,
no pad; byte_fallback so that any input encodes (the 256 byte tokens sit at
ids 3..258, as llama2.c's encoder assumes). Identity normalization keeps the
text as written. No dummy prefix in training: every verse starts at a line
start in the corpus, and the tokens a verse begins with are learned as such
(the decoded text then has no stray space after a newline).

Deterministic: one thread, the whole corpus (no sentence sampling).

Usage: train_tokenizer.py TRAIN_TXT VOCAB_SIZE OUT_PREFIX   writes OUT_PREFIX.model/.vocab
"""
import sys

import sentencepiece as spm


def main():
	if len(sys.argv) != 4:
		raise SystemExit('usage: train_tokenizer.py TRAIN_TXT VOCAB_SIZE OUT_PREFIX')
	train_txt, vocab_size, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	spm.SentencePieceTrainer.train(
		input=train_txt,
		model_prefix=prefix,
		model_type='bpe',
		vocab_size=vocab_size,
		character_coverage=1.0,
		byte_fallback=True,
		split_digits=True,
		allow_whitespace_only_pieces=True,
		normalization_rule_name='identity',
		remove_extra_whitespaces=False,
		add_dummy_prefix=False,
		unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
		input_sentence_size=0,
		shuffle_input_sentence=False,
		num_threads=1,
		max_sentence_length=8192,
		minloglevel=1,
	)
	sp = spm.SentencePieceProcessor(model_file=prefix + '.model')
	if sp.piece_to_id('<0x00>') != 3 or sp.piece_to_id('<0xFF>') != 258:
		raise SystemExit('train_tokenizer: byte tokens are not at ids 3..258')
	print(f'train_tokenizer: {sp.get_piece_size()} tokens -> {prefix}.model')


if __name__ == '__main__':
	main()
