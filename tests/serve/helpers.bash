# Shared by tests/llorch-serve*.bats: a model fixture, starting and stopping
# a worker on a free loopback port, reading its ready line, and SSE requests.
# Every wait is bounded; teardown kills what a test started.

serve_model_fixture() {
	# A llama-shaped random model big enough that a generation takes a
	# while (cancel, busy and drain tests need a job that is still running).
	if [ -n "${LLORCH_SERVE_TEST_MODEL:-}" ]; then
		export MODEL="$LLORCH_SERVE_TEST_MODEL"
		return
	fi
	export MODEL="$BATS_FILE_TMPDIR/serve-test.gguf"
	[ -f "$MODEL" ] || llorch-gguf random --arch llama --n-embd 384 --n-layer 6 --n-head 6 \
		--n-head-kv 3 --n-ff 1024 --n-ctx 2048 --seed 7 --name serve-test -o "$MODEL" >&2
	# one thread per forward pass: the suite shares a small machine, and a
	# token takes long enough that a job is still running when a test
	# cancels it
	export LLORCH_THREADS=1
}

# serve_start [ARGS...]: starts llorch-serve -m $MODEL --port 0 ARGS in the
# background; sets SERVE_PID, SERVE_PORT, URL once the ready line is out.
serve_start() {
	local out="$BATS_TEST_TMPDIR/serve.out" err="$BATS_TEST_TMPDIR/serve.err" i
	: >"$out"
	llorch-serve -m "$MODEL" --port 0 "$@" >"$out" 2>"$err" &
	SERVE_PID=$!
	for i in $(seq 200); do
		grep -q '"event":"ready"' "$out" && break
		if ! kill -0 "$SERVE_PID" 2>/dev/null; then
			cat "$err" >&2
			echo "llorch-serve exited before its ready line" >&2
			return 1
		fi
		sleep 0.05
	done
	SERVE_PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$out")
	[ -n "$SERVE_PORT" ] || { echo "no ready line after 10 s" >&2; return 1; }
	URL="http://127.0.0.1:$SERVE_PORT"
}

# serve_wait_exit SECONDS: waits for the worker to exit; sets SERVE_STATUS.
serve_wait_exit() {
	local i n=$(($1 * 20))
	for i in $(seq "$n"); do
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$SERVE_PID" 2>/dev/null; then
		echo "llorch-serve still running after $1 s" >&2
		return 1
	fi
	SERVE_STATUS=0
	wait "$SERVE_PID" || SERVE_STATUS=$?
	SERVE_PID=
}

serve_stop() {
	[ -n "${SERVE_PID:-}" ] || return 0
	kill -TERM "$SERVE_PID" 2>/dev/null || true
	serve_wait_exit 10
}

serve_teardown() {
	if [ -n "${SERVE_PID:-}" ]; then
		kill -9 "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	local p
	for p in ${BG_PIDS:-}; do
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	BG_PIDS=
}

# execute BODY [CURL_ARGS...]: POST /execute, the raw stream on stdout.
execute() {
	local body="$1"
	shift
	curl -sS -N --max-time 60 -H 'Content-Type: application/json' -d "$body" "$@" "$URL/execute"
}

# sse_check: check-sse.py on stdin.
sse_check() {
	/usr/bin/python3 "$BATS_TEST_DIRNAME/serve/check-sse.py"
}

# metric NAME_WITH_LABELS: its value from /metrics.
metric() {
	curl -sS --max-time 5 "$URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

# wait_for 'SHELL CODE': evaluates it (afresh each time) for up to 5 s.
wait_for() {
	local i
	for i in $(seq 100); do
		eval "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

context_length() {
	curl -sS --max-time 5 "$URL/health" | sed -n 's/.*"context_length":\([0-9]*\).*/\1/p'
}
