#!/usr/bin/env bats
# Differential tokenizer tests: llorch-tokenize against independent
# reference encoders on thousands of generated inputs (tests/diff/run.sh):
# GPT-2 against npm gpt-3-encoder, Llama-2 against python3-sentencepiece
# (encode and decode), llama2.c's own encoder and decoder with its 512-token
# vocabulary converted by llorch-gguf, and decode(encode(x)) == x for all.
bats_require_minimum_version 1.5.0

# Inputs per kind: enough to cover every generator branch many times while
# the whole file stays well under a minute on a loaded 2-core machine.
COUNT=4000

run_diff() {
	run --separate-stderr "$BATS_TEST_DIRNAME/diff/run.sh" "$1" "${3:-$COUNT}" "$2" \
		"$BATS_TEST_TMPDIR/$1"
	echo "$output"
	if [ "$status" -eq 2 ]; then
		echo "$stderr" >&2
		case "$stderr" in
		*"diff: missing "*) skip "shared data missing" ;;
		esac
	fi
	[ "$status" -eq 0 ]
}

@test "GPT-2: gpt-3-encoder agrees on $COUNT generated inputs; round trip" {
	run_diff gpt2 20261122
}

@test "Llama-2: sentencepiece agrees on $COUNT generated inputs, encode and decode; round trip" {
	run_diff spm 20261122
}

# The Python restatement of llama2.c's quadratic merge loop is slow: fewer.
@test "llama2.c: run.c's encoder and decoder agree on 1000 generated inputs (tok512 via llorch-gguf)" {
	run_diff llama2c 20261122 1000
}
