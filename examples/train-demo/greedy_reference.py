#!/usr/bin/python3
"""Records PyTorch's greedy continuation of a fixed prompt as test data: an
inference engine that loads the exported model must produce the same ids.

The prompt is encoded as llama2.c and llama.cpp do for a SentencePiece model:
BOS, then the text with a leading space (the dummy prefix).

Usage: greedy_reference.py CKPT.pt TOKENIZER.model OUT.json [N]
"""
import hashlib
import json
import subprocess
import sys

import torch

from data import BOS, load_tokenizer
from model import Config, Llama

PROMPT = 'And it came to pass'


def continuation(sp, prompt_ids, generated):
	"""The text the generated ids add to the prompt's (a decoder may treat the
	first piece of a text specially; here it is the prompt's)."""
	head = sp.decode(prompt_ids)
	whole = sp.decode(prompt_ids + generated)
	if not whole.startswith(head):
		raise SystemExit(f'greedy_reference: {whole!r} does not start with {head!r}')
	return whole[len(head):]


def main():
	if len(sys.argv) not in (4, 5):
		raise SystemExit('usage: greedy_reference.py CKPT.pt TOKENIZER.model OUT.json [N]')
	ckpt_path, tok_path, out_path = sys.argv[1:4]
	n = int(sys.argv[4]) if len(sys.argv) == 5 else 64
	torch.set_num_threads(1)
	ck = torch.load(ckpt_path, map_location='cpu')
	model = Llama(Config(**ck['config']))
	model.load_state_dict(ck['model'])
	model.eval()
	sp = load_tokenizer(tok_path)
	prompt_ids = [BOS] + sp.encode(' ' + PROMPT)
	out = model.generate(prompt_ids, n)
	generated = out[len(prompt_ids):]
	with torch.no_grad():
		logits = model(torch.tensor([prompt_ids]))[0, -1]
	# the last commit of this directory: the recipe that made the checkpoint
	commit = subprocess.run(['git', 'log', '-1', '--format=%h', '--', '.'], capture_output=True,
			text=True).stdout.strip()
	with open(ckpt_path, 'rb') as f:
		ckpt_sha = hashlib.sha256(f.read()).hexdigest()
	record = {
		'source': 'examples/train-demo/greedy_reference.py: PyTorch '
			f'{torch.__version__} fp32 forward of the trained checkpoint, '
			'argmax at each step, no stop token',
		'recipe_commit': commit,
		'checkpoint_sha256': ckpt_sha,
		'prompt': PROMPT,
		'prompt_ids': prompt_ids,
		'n_generated': len(generated),
		'greedy_ids': generated,
		'greedy_text': continuation(sp, prompt_ids[1:], generated),
		'prompt_last_logits_argmax': int(torch.argmax(logits)),
		'prompt_last_logits_max': round(float(logits.max()), 6),
	}
	with open(out_path, 'w') as f:
		# One key a line, each value on its line: diffable and short.
		f.write('{\n' + ',\n'.join(f' {json.dumps(k)}: {json.dumps(v)}' for k, v in record.items())
				+ '\n}\n')
	print(f'greedy_reference: {PROMPT!r} -> {record["greedy_text"]!r}')


if __name__ == '__main__':
	main()
