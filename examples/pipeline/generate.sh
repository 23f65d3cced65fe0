#!/bin/sh
# Text generation as a loop of three llorch tools:
#
#   llorch-tokenize -> llorch-forward -> llorch-sample -+-> text on stdout
#                           ^                           |
#                           +------- FIFO <-------------+  (until "done")
#
# llorch-tokenize turns the prompt into the first line; llorch-forward adds
# the next-token logits (its KV cache keeps the sequence, so each pass costs
# one token); llorch-sample appends the chosen token and its text; every line
# that is not done goes back into llorch-forward through the FIFO. The
# result equals the in-process loop (llorch-serve, llorch_generate()) for
# the same model, prompt, parameters, seed and thread count.
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
# shellcheck disable=SC2086 # thread_opt is one option or nothing
{ cat "$dir/first"; cat "$dir/loop"; } |
	llorch-forward -m "$model" $thread_opt |
	llorch-sample -m "$model" -n "$max_tokens" -T "$temperature" -s "$seed" \
		-k "$top_k" -p "$top_p" |
	{
		# Holding the FIFO open keeps llorch-forward reading; closing it
		# (when done) lets the whole loop drain and exit.
		exec 3>"$dir/loop"
		while IFS= read -r line; do
			case $line in
			*'"error":'*) printf '%s: %s\n' "$0" "$line" >&2; exit 65 ;;
			esac
			printf '%s\n' "$line" | jq -j .text
			case $line in
			*'"done":true'*) exit 0 ;;
			esac
			printf '%s\n' "$line" >&3
		done
		echo "$0: the loop ended before the generation was done" >&2
		exit 70
	}
