#!/usr/bin/env bats
# The demo model shipped in examples/models/ (trained by examples/train-demo):
# it loads, llorch's forward pass picks PyTorch's greedy tokens at every step
# (tests/data/kjv-greedy.json, recorded from the training checkpoint), the
# generation loop reproduces that greedy text, and `make run` prints a passage.
bats_require_minimum_version 1.5.0

ROOT="$BATS_TEST_DIRNAME/.."
MODEL="$ROOT/examples/models/kjv-llama-2.4M.gguf"
GREEDY="$BATS_TEST_DIRNAME/data/kjv-greedy.json"
PY=/usr/bin/python3

json_field() { # FILE FIELD: the field as compact JSON (lists) or raw text
	$PY -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))' "$1" "$2"
}

@test "the demo model loads and has the trained shape" {
	run -0 llorch-gguf info --no-tensors "$MODEL"
	[[ "$output" == *'architecture   "llama"'* ]]
	[[ "$output" == *'parameters     2422848 (2.4M)'* ]]
	[[ "$output" =~ n_vocab\ +2048 ]]
	[[ "$output" =~ n_layer\ +5 ]]
	[[ "$output" =~ n_head_kv\ +3 ]]
	[[ "$output" =~ tied_output\ +true ]]
}

@test "llorch's tokenizer encodes the prompt as SentencePiece did" {
	prompt=$(json_field "$GREEDY" prompt)
	want=$(json_field "$GREEDY" prompt_ids | tr -d '[]' | tr ',' ' ')
	run -0 llorch-tokenize -m "$MODEL" -p "$prompt"
	[ "$output" = "$want" ]
}

# Teacher forcing: fed the prompt and PyTorch's greedy tokens, the forward
# pass must rank each next greedy token first, which is greedy decoding
# reproducing PyTorch token for token. On one thread and on two.
@test "the forward pass agrees with PyTorch's greedy continuation at every step" {
	for threads in 1 2; do
		run -0 $PY -c '
import json, subprocess, sys
ref = json.load(open(sys.argv[1]))
prompt, greedy = ref["prompt_ids"], ref["greedy_ids"]
line = json.dumps({"tokens": prompt + greedy[:-1]})
out = subprocess.run(["llorch-forward", "-m", sys.argv[2], "-t", sys.argv[3], "-k", "1", "-a"],
	input=line + "\n", capture_output=True, text=True, check=True).stdout
logits = json.loads(out)["logits"]
got = [pos[0][0] for pos in logits[len(prompt) - 1:]]
if got != greedy:
	step = next(i for i, (a, b) in enumerate(zip(got, greedy)) if a != b)
	sys.exit(f"step {step}: llorch picks {got[step]}, PyTorch picked {greedy[step]}")
top, want = logits[len(prompt) - 1][0][1], ref["prompt_last_logits_max"]
if abs(top - want) > 1e-4:
	sys.exit(f"max logit after the prompt: {top}, PyTorch {want}")
print(len(got))' "$GREEDY" "$MODEL" "$threads"
		[ "$output" = "$(json_field "$GREEDY" n_generated)" ]
	done
}

@test "greedy generation prints PyTorch's greedy text, the same every run" {
	prompt=$(json_field "$GREEDY" prompt)
	n=$(json_field "$GREEDY" n_generated)
	want=$(json_field "$GREEDY" greedy_text)
	run -0 --separate-stderr llorch-serve -m "$MODEL" -p "$prompt" -n "$n" --temperature 0 -t 1
	[ "$output" = "$want" ]
	run -0 --separate-stderr llorch-serve -m "$MODEL" -p "$prompt" -n "$n" --temperature 0 -t 2
	[ "$output" = "$want" ]
}

@test "make run's script prints a passage, the same for the same seed, without ../shared" {
	run -0 --separate-stderr env LLORCH_SHARED=/nonexistent "$ROOT/tests/run-demo" "$LLORCH_BUILD"
	first=$output
	[[ "$first" == "And it came to pass"* ]]
	[ "$(printf '%s' "$first" | wc -w)" -ge 40 ]
	# text, not bytes: printable ASCII and newlines only
	[ -z "$(printf '%s' "$first" | LC_ALL=C tr -d '[:print:]\n')" ]
	run -0 --separate-stderr "$ROOT/tests/run-demo" "$LLORCH_BUILD"
	[ "$output" = "$first" ]
}
