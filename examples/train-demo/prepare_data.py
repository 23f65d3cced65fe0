#!/usr/bin/python3
"""Extracts the King James Bible from Debian's bible-kjv-text package as plain
verse text, one verse per line, one chapter per paragraph (chapters separated
by an empty line), and splits it into train and validation sets.

The text comes from /usr/lib/bible.data (package bible-kjv-text), read through
the `bible` program of package bible-kjv, which is the only reader of its
compressed format. Verse references are dropped: the model should learn the
prose, not the numbering.

Every 50th chapter (chapters 50, 100, ... in canonical order) is held out for
validation, so the validation set samples the whole book, not only its end.

Usage: prepare_data.py OUT_DIR   writes OUT_DIR/train.txt, OUT_DIR/val.txt
"""
import os
import re
import subprocess
import sys

VAL_EVERY = 50
# "Ge1:1 In the beginning ..." / "1Sa3:10 ..." / "Song2:1 ..."
REF = re.compile(r'^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$')
EXPECTED_VERSES = 31102
EXPECTED_CHAPTERS = 1189


def read_bible():
	"""Returns the chapters in canonical order, each a list of verse strings."""
	try:
		out = subprocess.run(['bible', '-f', 'Gen1:1-Rev22:21'], check=True,
				capture_output=True, env=dict(os.environ, LC_ALL='C')).stdout
	except FileNotFoundError:
		raise SystemExit('prepare_data: no `bible` program: apt-get install bible-kjv bible-kjv-text')
	text = out.decode('ascii')
	chapters = []
	key = None
	for line in text.splitlines():
		m = REF.match(line)
		if not m:
			raise SystemExit(f'prepare_data: unexpected line from bible: {line!r}')
		book, chap, _verse, body = m.groups()
		body = ' '.join(body.split())
		if (book, chap) != key:
			chapters.append([])
			key = (book, chap)
		chapters[-1].append(body)
	n_verses = sum(len(c) for c in chapters)
	if len(chapters) != EXPECTED_CHAPTERS or n_verses != EXPECTED_VERSES:
		raise SystemExit(f'prepare_data: got {len(chapters)} chapters, {n_verses} verses; '
				f'expected {EXPECTED_CHAPTERS} and {EXPECTED_VERSES}')
	return chapters


def write(path, chapters):
	with open(path, 'w', encoding='ascii', newline='\n') as f:
		f.write('\n\n'.join('\n'.join(c) for c in chapters))
		f.write('\n')


def main():
	if len(sys.argv) != 2:
		raise SystemExit('usage: prepare_data.py OUT_DIR')
	out_dir = sys.argv[1]
	os.makedirs(out_dir, exist_ok=True)
	chapters = read_bible()
	train = [c for i, c in enumerate(chapters, 1) if i % VAL_EVERY != 0]
	val = [c for i, c in enumerate(chapters, 1) if i % VAL_EVERY == 0]
	write(os.path.join(out_dir, 'train.txt'), train)
	write(os.path.join(out_dir, 'val.txt'), val)
	print(f'prepare_data: {len(train)} train chapters, {len(val)} validation chapters '
			f'({sum(map(len, train))} and {sum(map(len, val))} verses)')


if __name__ == '__main__':
	main()
