#!/bin/sh
# Tokenizer throughput: MB/s of llorch-tokenize --raw on 8 MB of English-like
# prose (deterministic), for the GPT-2 and the Llama vocabulary. The time of
# loading the vocabulary (a run on empty input) is subtracted.
#   tests/bench/tokenize.sh [BUILD_DIR]     (LLORCH_SHARED: the shared data)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
shared=${LLORCH_SHARED:-$here/../../../shared}
tok=$build/bin/llorch-tokenize
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

perl -e '
	my @w = qw(the of and to in a is that for it as was with be by on not he I this
		are or his from at which but have an had they you were their one all we can
		her has there been if more when will would who so no government information
		development understanding Washington December tokenizer don\x27t it\x27s 1998
		42 however Nevertheless extraordinary children);
	my ($x, $n) = (12345, 0);
	while ($n < 8 << 20) {
		$x = ($x * 1103515245 + 12345) % 4294967296;
		my $s = $w[($x >> 8) % @w] . ((($x >> 24) % 17 == 0) ? ".\n" :
			(($x >> 24) % 7 == 0) ? ", " : " ");
		print $s;
		$n += length $s;
	}' > "$work/text"
bytes=$(wc -c < "$work/text")

now() { perl -MTime::HiRes=time -e 'printf "%.6f\n", time'; }

for kind in gpt-2 llama-spm; do
	model=$shared/data/llama.cpp-vocab/ggml-vocab-$kind.gguf
	if [ ! -e "$model" ]; then
		echo "tokenize $kind: missing $model, skipped" >&2
		continue
	fi
	t0=$(now)
	"$tok" -m "$model" -r < /dev/null > /dev/null
	t1=$(now)
	"$tok" -m "$model" -r < "$work/text" > "$work/ids"
	t2=$(now)
	perl -e 'my ($b, $t0, $t1, $t2, $k, $n) = @ARGV;
		my $s = ($t2 - $t1) - ($t1 - $t0);
		$s = 1e-6 if $s <= 0;
		printf "tokenize %-9s %6.1f MB/s  (%d bytes -> %d tokens in %.3f s)\n",
			$k, $b / $s / 1e6, $b, $n, $s' \
		"$bytes" "$t0" "$t1" "$t2" "$kind" "$(wc -w < "$work/ids")"
done
