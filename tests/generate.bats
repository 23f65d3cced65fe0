#!/usr/bin/env bats
# The generation loop on stories260K (converted from llama2.c's checkpoint):
# the library's tests with a real model, greedy text byte for byte equal to
# llama2.c run.c's output, and the three-tool pipeline equal to the
# in-process loop.
bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

setup_file() {
	SHARED=${LLORCH_SHARED:-$BATS_TEST_DIRNAME/../../shared}
	DATA=$SHARED/data/llama2c-stories260K
	export LLORCH_SHARED=$SHARED DATA MODEL=$BATS_FILE_TMPDIR/stories260K.gguf
	export DRIVER=$LLORCH_BUILD/tests/test_generate
	if [ -f "$DATA/stories260K.bin" ] && [ -f "$DATA/tok512.bin" ]; then
		llorch-gguf convert-llama2c "$DATA/stories260K.bin" "$DATA/tok512.bin" -o "$MODEL"
	fi
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

need_model() {
	if [ ! -f "$MODEL" ]; then
		echo "generate.bats: $DATA/stories260K.bin or tok512.bin missing; test skipped" >&2
		skip "stories260K missing"
	fi
}

@test "library generation tests pass on stories260K" {
	need_model
	LLORCH_TEST_MODEL=$MODEL run --separate-stderr "$DRIVER"
	assert_success
	refute_output --partial "not ok"
	refute_output --partial "# SKIP"
	assert_output --partial "ok 9 "
}

# llama2.c run.c counts steps as positions, the prompt included: with N
# prompt tokens it samples steps - N + 1 tokens; it prints the prompt after
# BOS (the first piece without its leading space), stops at BOS (id 1), and
# ends with a newline.
reference_text() { # PROMPT STEPS
	n_prompt=$(llorch-tokenize -m "$MODEL" -p "$1" | wc -w)
	max=$(($2 - n_prompt + 1))
	printf '%s' "$1"
	"$DRIVER" --generate "$MODEL" -p "$1" -n "$max" -T 0 --stop-token 1
	printf '\n'
}

@test "greedy text from BOS equals llama2.c (-n 200)" {
	need_model
	reference_text "" 200 >got
	run cmp got "$DATA/expected_greedy_n200.txt"
	assert_success
}

@test "greedy text from a prompt equals llama2.c (-n 200 -i 'Once upon a time')" {
	need_model
	reference_text "Once upon a time" 200 >got
	run cmp got "$DATA/expected_greedy_n200_once_upon_a_time.txt"
	assert_success
}

@test "greedy text with the default 256 steps equals llama2.c" {
	need_model
	reference_text "" 256 >got
	run cmp got "$DATA/expected_greedy_default.txt"
	assert_success
}

@test "the tokenize | forward | sample loop equals the in-process loop (temperature 0)" {
	need_model
	run "$BATS_TEST_DIRNAME/../examples/pipeline/generate.sh" -m "$MODEL" -n 60 -T 0 -s 7 -t 1 \
		"Once upon a time"
	assert_success
	piped=$output
	want=$("$DRIVER" --generate "$MODEL" -p "Once upon a time" -n 60 -T 0 -s 7)
	assert_equal "$piped" "$want"
	[ "${#want}" -gt 100 ]
}

@test "the tokenize | forward | sample loop equals the in-process loop (temperature 0.8)" {
	need_model
	for seed in 42 43; do
		run "$BATS_TEST_DIRNAME/../examples/pipeline/generate.sh" -m "$MODEL" -n 60 -T 0.8 -s "$seed" \
			-t 1 "The little dog"
		assert_success
		eval "piped_$seed=\$output"
		want=$("$DRIVER" --generate "$MODEL" -p "The little dog" -n 60 -T 0.8 -s "$seed")
		assert_equal "$output" "$want"
	done
	# different seeds, different stories
	[ "$piped_42" != "$piped_43" ]
}

@test "the loop with top-k (llorch-forward sends only the top-k logits) equals the in-process loop" {
	need_model
	run "$BATS_TEST_DIRNAME/../examples/pipeline/generate.sh" -m "$MODEL" -n 60 -T 0.9 -k 5 -s 3 \
		-t 1 "The little dog"
	assert_success
	want=$("$DRIVER" --generate "$MODEL" -p "The little dog" -n 60 -T 0.9 -k 5 -s 3)
	assert_equal "$output" "$want"
	[ "${#want}" -gt 100 ]
}

@test "the loop exits 65 and shows the line when a tool reports an error" {
	need_model
	# past the context (512) llorch-forward answers with an error object
	run --separate-stderr "$BATS_TEST_DIRNAME/../examples/pipeline/generate.sh" -m "$MODEL" \
		-n 1000 -T 0 -t 1 "The little dog"
	[ "$status" -eq 65 ]
	[[ $stderr == *'"error":{"code":'* ]]
	# the text up to there came out
	[ "${#output}" -gt 1000 ]
}

@test "the tokenize | forward | sample loop holds back and stops at stop strings as in-process" {
	need_model
	for temp in 0 0.8; do
		run "$BATS_TEST_DIRNAME/../examples/pipeline/generate.sh" -m "$MODEL" -n 80 -T "$temp" -s 9 \
			-S "Lily" -S "park." -t 1 "Once upon a time"
		assert_success
		want=$("$DRIVER" --generate "$MODEL" -p "Once upon a time" -n 80 -T "$temp" -s 9 \
			--stop "Lily" --stop "park.")
		assert_equal "$output" "$want"
		refute_output --partial "Lily"
	done
	# greedy, it stops right before "Lily"
	want=$("$DRIVER" --generate "$MODEL" -p "Once upon a time" -n 80 -T 0 --stop "Lily")
	assert_equal "$want" ", there was a little girl named "
}

@test "stop strings end the text before them" {
	need_model
	full=$("$DRIVER" --generate "$MODEL" -p "Once upon a time" -n 80 -T 0)
	run --separate-stderr "$DRIVER" --generate "$MODEL" -p "Once upon a time" -n 80 -T 0 --stop "Lily"
	assert_success
	assert_equal "$output" "${full%%Lily*}"
}
