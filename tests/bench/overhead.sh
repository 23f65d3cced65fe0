#!/bin/sh
# What llorch's two out-of-process paths cost against the in-process
# generation loop, on one model, for the same prompt, sampler, seed, thread
# count and number of tokens (part of `make bench`; issue 7's targets: the
# HTTP/SSE path within 3%, the three-tool pipeline within 10%):
#
#   in-process  `bench gen`: llorch_generate, as llorch-serve runs a job
#   HTTP/SSE    llorch-serve --port 0, POST /execute read from the socket by
#               the timing script itself, as a consumer's HTTP library would
#               (one process woken a token); the server is started once and
#               answers every run
#   curl        the same with curl -N, its output read through a pipe (two
#               processes woken a token)
#   pipeline    llorch-tokenize | llorch-forward | llorch-sample, the loop
#               closed through a FIFO by llorch-sample --loop
#               (examples/pipeline/generate.sh), once
#               per logits encoding of llorch-forward: "top" (-k TOP_K: the
#               TOP_K largest, exact for top-k sampling), "base64" (all of
#               them, exact for every sampler), "json" (all, as text)
#
# tok/s is (tokens - 1) over the time from the first generated token to the
# last, as the consumer receives them (the bench driver's callback, curl's
# stream read by tests/bench/stamp.pl, llorch-sample's lines read by it; the
# curl time thus includes curl relaying the stream through a pipe): the
# steady decode rate, without model loading, connection set-up or the prompt.
# Runs alternate between the paths, the order reversed every other round
# (A B C C B A A B C ...) so that no path always follows the same one or
# sits further from the in-process run; medians are printed,
# each path's overhead = 1 - the median over the rounds of its tok/s over the
# in-process tok/s of the same round (the machine's speed drifts between
# rounds more than within one), and whether its text equals the in-process
# text.
#
#   tests/bench/overhead.sh BUILD_DIR MODEL.gguf
#
# Environment: LLORCH_BENCH_THREADS (default: the cores available),
# LLORCH_BENCH_OVERHEAD_RUNS (runs per path, median; default 31: on this
# VM consecutive in-process runs differ by up to 40%, each round's ratio by
# +-15%, and the median of 15 rounds' ratios moved 1-13% between sections),
# LLORCH_BENCH_OVERHEAD_TOKENS (default 128), LLORCH_BENCH_OVERHEAD_ENCODINGS
# (default "top base64"; json is slow), LLORCH_BENCH_OVERHEAD_PATHS (default
# "http curl pipeline"). The sampler is temperature 0.8, top-k 40, seed 1.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: tests/bench/overhead.sh BUILD_DIR MODEL.gguf" >&2; exit 64; }
build=$(cd "$1" && pwd)
model=$2
threads=${LLORCH_BENCH_THREADS:-$(nproc)}
runs=${LLORCH_BENCH_OVERHEAD_RUNS:-31}
n_tokens=${LLORCH_BENCH_OVERHEAD_TOKENS:-128}
encodings=${LLORCH_BENCH_OVERHEAD_ENCODINGS:-top base64}
paths=${LLORCH_BENCH_OVERHEAD_PATHS:-http curl pipeline}
prompt='Once upon a time'
temperature=0.8 top_k=40 seed=1
bin=$build/bin

for f in "$build/tests/bench" "$bin/llorch-serve" "$bin/llorch-tokenize" "$bin/llorch-forward" "$bin/llorch-sample"; do
	[ -x "$f" ] || { echo "overhead: $f is missing (make all $build/tests/bench)" >&2; exit 69; }
done
[ -r "$model" ] || { echo "overhead: $model: no such model" >&2; exit 66; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/llorch-overhead.XXXXXX")
server=
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || :
		wait "$server" 2>/dev/null || :
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# in-process: one bench driver run; prints "TOKENS TOK_S"
run_inproc() {
	"$build/tests/bench" gen -m "$model" -t "$threads" -P "$prompt" -n "$n_tokens" \
		-T "$temperature" -k "$top_k" -s "$seed" -r 1 -o "$tmp/text.inproc" |
		perl -ne 'printf "%d %s\n", $1, $2 if /"tokens":(\d+),"tok_s":([\d.]+)/'
}

start_server() {
	mkfifo "$tmp/ready"
	"$bin/llorch-serve" -m "$model" --port 0 -t "$threads" --log-level warn \
		>"$tmp/ready" 2>"$tmp/serve.log" &
	server=$!
	port=$(perl -ne 'if (/"event":"ready".*"port":(\d+)/) { print $1; exit }' "$tmp/ready")
	if [ -z "$port" ]; then
		echo "overhead: llorch-serve did not get ready:" >&2
		cat "$tmp/serve.log" >&2
		exit 69
	fi
	printf '{"job_id":"bench","prompt":"%s","max_tokens":%d,"temperature":%s,"top_k":%d,"seed":%d}' \
		"$prompt" "$n_tokens" "$temperature" "$top_k" "$seed" >"$tmp/request.json"
}

run_http() {
	perl "$here/stamp.pl" http "$tmp/text.http" "http://127.0.0.1:$port/execute" "$tmp/request.json"
}

run_curl() {
	# stamp.pl starts curl itself once it is ready: Perl's start-up would
	# otherwise hold back the first events and make the stream look faster
	perl "$here/stamp.pl" sse "$tmp/text.curl" curl -sSN --fail -H 'Content-Type: application/json' \
		--data-binary "@$tmp/request.json" "http://127.0.0.1:$port/execute"
}

# one unmeasured request, as the driver generates once before it measures
warm_http() {
	curl -sS --fail -H 'Content-Type: application/json' \
		--data-binary "{\"job_id\":\"warm\",\"prompt\":\"$prompt\",\"max_tokens\":16}" \
		"http://127.0.0.1:$port/execute" >/dev/null
}

# pipeline ENCODING
run_pipeline() {
	case $1 in
	top) enc="-k $top_k" ;;
	base64) enc="-l base64" ;;
	json) enc="-l json" ;;
	*) echo "overhead: unknown encoding $1 (top, base64, json)" >&2; exit 64 ;;
	esac
	rm -f "$tmp/loop"
	mkfifo "$tmp/loop"
	# shellcheck disable=SC2086 # enc is an option and its value
	"$bin/llorch-forward" -m "$model" -t "$threads" $enc <"$tmp/loop" |
		"$bin/llorch-sample" -m "$model" -n "$n_tokens" -T "$temperature" -k "$top_k" -s "$seed" \
			--loop "$tmp/loop" "$tmp/first" |
		perl "$here/stamp.pl" loop "$tmp/text.pipe-$1"
}

labels=inproc
case " $paths " in *" http "* | *" curl "*) start_server; warm_http ;; esac
case " $paths " in *" http "*) labels="$labels http" ;; esac
case " $paths " in *" curl "*) labels="$labels curl" ;; esac
case " $paths " in
*" pipeline "*)
	printf '{"text":"%s"}\n' "$prompt" | "$bin/llorch-tokenize" -m "$model" >"$tmp/first"
	for e in $encodings; do labels="$labels pipe-$e"; done
	;;
esac

reversed=
for l in $labels; do reversed="$l $reversed"; done
i=0
while [ "$i" -lt "$runs" ]; do
	order=$labels
	[ $((i % 2)) -eq 1 ] && order=$reversed
	for l in $order; do
		case $l in
		inproc) run_inproc ;;
		http) run_http ;;
		curl) run_curl ;;
		pipe-*) run_pipeline "${l#pipe-}" ;;
		esac | sed "s/^/$i /" >>"$tmp/runs.$l"
	done
	i=$((i + 1))
done

echo "# overheads: $(basename "$model"), $n_tokens tokens after \"$prompt\", temperature $temperature, top-k $top_k, seed $seed, $threads threads; medians of $runs runs"
echo "# tok/s: (tokens - 1) / time from the first token to the last as its consumer receives them;"
echo "# overhead: 1 - the median of each round's tok/s over that round's in-process tok/s"
printf '| %-36s | %6s | %8s | %8s | %6s | %-9s |\n' path tokens 'tok/s' overhead target text
for l in $labels; do
	case $l in
	inproc) name='in-process (llorch_generate)' target=- ;;
	http) name='HTTP/SSE (llorch-serve)' target='3%' ;;
	curl) name='HTTP/SSE, read by curl -N and a pipe' target=- ;;
	pipe-top) name="pipeline, logits top $top_k (-k $top_k)" target='10%' ;;
	pipe-*) name="pipeline, logits ${l#pipe-} (-l ${l#pipe-})" target='10%' ;;
	esac
	same=same
	if [ "$l" != inproc ] && ! cmp -s "$tmp/text.inproc" "$tmp/text.$l"; then
		same=DIFFERS
	fi
	[ "$l" = inproc ] && same=-
	perl -e '
		my ($name, $target, $same, $file, $base) = @ARGV;
		my $read = sub {
			open my $f, "<", $_[0] or die "$_[0]: $!";
			my (@n, %r);   # tokens; tok/s by round
			while (<$f>) { my ($i, $n, $r) = split; push @n, $n; $r{$i} = $r }
			return (\@n, \%r);
		};
		my $med = sub { my @s = sort { $a <=> $b } @_; @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2 };
		my ($n, $r) = $read->($file);
		my $over = "-";
		if ($file ne $base) {
			# the runs of a round are next to each other in time: the
			# median of the per-round ratios, not a ratio of medians
			my (undef, $b) = $read->($base);
			my @x = map { $r->{$_} / $b->{$_} } grep { ($b->{$_} // 0) > 0 } keys %$r;
			$over = @x ? sprintf "%.1f%%", 100 * (1 - $med->(@x)) : "-";
		}
		printf "| %-36s | %6d | %8.1f | %8s | %6s | %-9s |\n",
			$name, $med->(@$n), $med->(values %$r), $over, $target, $same;
	' "$name" "$target" "$same" "$tmp/runs.$l" "$tmp/runs.inproc"
done
