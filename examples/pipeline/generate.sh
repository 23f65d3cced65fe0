#!/bin/sh
# Text generation as a loop of three llorch tools:
#
#   llorch-tokenize -> llorch-forward -> llorch-sample --> jq -> text on stdout
#                           ^                   |
#                           +------ FIFO <------+  (until "done")
#
# llorch-tokenize turns the prompt into the first line; llorch-forward adds
# the next-token logits (its KV cache keeps the sequence, so each pass costs
# one token); llorch-sample appends the chosen token and its text, and
# (--loop) sends every line that is not done back into llorch-forward
# through the FIFO. The result equals the in-process loop (llorch-serve,
# llorch_generate()) for the same model, prompt, parameters, seed and
# thread count.
#
# llorch-forward sends only the TOP_K largest logits when top-k is on (-k 40:
# all that top-k sampling looks at), else all of them as base64; both are
# exact for the sampler, and far cheaper to write and parse than JSON numbers
# (50257 of them for GPT-2). One jq prints the text of every line.
#
# Usage: generate.sh -m MODEL [-n MAX_TOKENS] [-T TEMPERATURE] [-s SEED]
#                    [-k TOP_K] [-p TOP_P] [-S STOP]... [-t THREADS] PROMPT
# Needs jq and the llorch tools on PATH.
set -eu

model= max_tokens=64 temperature=0.8 seed=0 top_k=0 top_p=1 threads=0 stops='[]'
while getopts m:n:T:s:k:p:S:t: opt; do
	case $opt in
	m) model=$OPTARG ;;
	n) max_tokens=$OPTARG ;;
	T) temperature=$OPTARG ;;
	s) seed=$OPTARG ;;
	k) top_k=$OPTARG ;;
	p) top_p=$OPTARG ;;
	S) stops=$(jq -nc --argjson a "$stops" --arg s "$OPTARG" '$a + [$s]') ;;
	t) threads=$OPTARG ;;
	*) echo "usage: $0 -m MODEL [-n N] [-T T] [-s SEED] [-k K] [-p P] [-S STOP]... [-t THREADS] PROMPT" >&2
	   exit 64 ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$model" ] && [ $# -eq 1 ] || { echo "usage: $0 -m MODEL [options] PROMPT" >&2; exit 64; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
mkfifo "$dir/loop"

# The first line: the prompt's tokens (BOS as the model wants), and the stop
# strings, which every later line carries along.
jq -nc --arg text "$1" --argjson stop "$stops" '{text: $text, stop: $stop}' |
	llorch-tokenize -m "$model" >"$dir/first"

thread_opt=
[ "$threads" -gt 0 ] && thread_opt="-t $threads"
logits_opt="-l base64"
[ "$top_k" -gt 0 ] && logits_opt="-k $top_k"
# llorch-sample --loop closes the loop: it sends the first line into the
# FIFO, every answer not done after it, and closes the FIFO when the
# generation is done, so that llorch-forward, then llorch-sample, reach the
# end of their input. Every answer also goes on to jq, which prints the
# text, or stops at a line with an error and shows it. Each tool's exit
# status goes to a file (sh has no pipefail).
# shellcheck disable=SC2086 # thread_opt and logits_opt are options or nothing
{
	status=0
	llorch-forward -m "$model" $thread_opt $logits_opt <"$dir/loop" || status=$?
	echo "$status" >"$dir/forward"
} | {
	status=0
	llorch-sample -m "$model" -n "$max_tokens" -T "$temperature" -s "$seed" \
		-k "$top_k" -p "$top_p" --loop "$dir/loop" "$dir/first" || status=$?
	echo "$status" >"$dir/sample"
} | jq --unbuffered -j --arg prog "$0" \
	'if has("error") then "\($prog): \(tojson)\n" | halt_error(65) else .text end' || exit
# the first tool that failed gives the exit status
for tool in forward sample; do
	status=$(cat "$dir/$tool")
	[ "$status" -eq 0 ] || exit "$status"
done
