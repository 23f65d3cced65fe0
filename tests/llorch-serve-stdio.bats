#!/usr/bin/env bats
# llorch-serve --stdio (NDJSON batch and socket mode) and -p (one-shot), and
# determinism across every way in: the same request and seed give the same
# tokens over HTTP, over --stdio, and in-process (-p).
bats_require_minimum_version 1.5.0

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load
load serve/helpers

setup_file() {
	serve_model_fixture
}

teardown() {
	serve_teardown
}

# text JOB_ID < NDJSON events: the concatenated token text of one job, as JSON
text_of() {
	/usr/bin/python3 -c '
import json, sys
t = "".join(o["t"] for o in map(json.loads, sys.stdin) if o["type"] == "token" and o["job_id"] == sys.argv[1])
print(json.dumps(t))' "$1"
}

@test "--stdio: each line a job, events as NDJSON lines with job_id, exit 0 at EOF" {
	cat >"$BATS_TEST_TMPDIR/jobs.ndjson" <<-'EOF'
	{"job_id":"a","prompt":"Once upon a time","max_tokens":6,"seed":1}

	{"job_id":"b","prompt":"The cat","max_tokens":4,"temperature":0}
	EOF
	run -0 --separate-stderr llorch-serve --stdio -m "$MODEL" <"$BATS_TEST_TMPDIR/jobs.ndjson"
	run -0 /usr/bin/python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.argv[1].splitlines()]
for job, n in (("a", 6), ("b", 4)):
    mine = [e for e in ev if e.get("job_id") == job]
    assert mine[0]["type"] == "started" and mine[0]["prompt_tokens"] > 0, mine[0]
    assert mine[-1]["type"] == "end" and sum(e["type"] in ("end", "error") for e in mine) == 1
    toks = [e for e in mine if e["type"] == "token"]
    assert [e["i"] for e in toks] == list(range(len(toks)))
    assert mine[-1]["tokens_out"] <= n
assert ev[0] == ev[0] and all(set(e) >= {"type", "job_id"} for e in ev)
print("ok", len(ev))' "$output"
}

@test "--stdio: a bad line gets a terminal error line naming the line; the rest runs" {
	printf '%s\n' '{"job_id":"ok1","prompt":"Hi","max_tokens":2}' 'not json' \
		'{"job_id":"bad","prompt":"","max_tokens":0}' '{"prompt":"x"}' \
		'{"job_id":"ok2","prompt":"Hi","max_tokens":2}' >"$BATS_TEST_TMPDIR/jobs"
	run -0 --separate-stderr llorch-serve --stdio -m "$MODEL" <"$BATS_TEST_TMPDIR/jobs"
	assert_line --regexp '^\{"type":"error","job_id":null,"line":2,"code":"INVALID_REQUEST","message":"the body is not valid JSON: .*","retriable":false,"status":400\}$'
	assert_line '{"type":"error","job_id":"bad","line":3,"code":"INVALID_REQUEST","message":"prompt must be 1 to 32768 characters long (got 0) (and 1 more problems)","retriable":false,"status":400,"errors":[{"field":"prompt","constraint":"length(1..=32768)","message":"prompt must be 1 to 32768 characters long (got 0)","value":"0"},{"field":"max_tokens","constraint":"range(1..=2048)","message":"max_tokens must be at least 1 (got 0)","value":"0"}]}'
	assert_line --regexp '^\{"type":"error","job_id":null,"line":4,.*"status":422,"errors":\[\{"field":"job_id","constraint":"required"'
	assert_line --regexp '^\{"type":"end","job_id":"ok1",'
	assert_line --regexp '^\{"type":"end","job_id":"ok2",'
}

@test "--stdio: jobs run concurrently up to --slots; a line waits for room, never 503" {
	for i in 1 2 3 4 5; do
		echo "{\"job_id\":\"j$i\",\"prompt\":\"Once upon a time\",\"max_tokens\":16,\"seed\":$i}"
	done >"$BATS_TEST_TMPDIR/jobs"
	run -0 --separate-stderr llorch-serve --stdio --slots 2 --queue 0 -m "$MODEL" <"$BATS_TEST_TMPDIR/jobs"
	[ "$(grep -c '"type":"end"' <<<"$output")" -eq 5 ]
	# two at once: j2 starts before j1 ends
	run -0 /usr/bin/python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.argv[1].splitlines()]
order = [(e["type"], e["job_id"]) for e in ev]
assert order.index(("started", "j2")) < order.index(("end", "j1")), order
print("ok")' "$output"
}

@test "--stdio: SIGTERM drains and exits 0 with a terminal line for every job" {
	# stdin stays open: the worker must not wait for EOF
	mkfifo "$BATS_TEST_TMPDIR/in"
	llorch-serve --stdio --shutdown-timeout 0.3 -m "$MODEL" <"$BATS_TEST_TMPDIR/in" \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	SERVE_PID=$!
	exec 7>"$BATS_TEST_TMPDIR/in"
	echo '{"job_id":"long","prompt":"Once","temperature":0}' >&7
	wait_for 'grep -q "\"type\":\"token\"" "$BATS_TEST_TMPDIR/out"'
	kill -TERM "$SERVE_PID"
	serve_wait_exit 5
	exec 7>&-
	[ "$SERVE_STATUS" -eq 0 ]
	tail -n 3 "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err"
	tail -n 1 "$BATS_TEST_TMPDIR/out" | grep -q '^{"type":"error","job_id":"long","code":"CANCELLED","message":"the worker is shutting down","retriable":true'
}

@test "socket mode: socat serves --stdio on a Unix socket, one worker per connection" {
	local sock="$BATS_TEST_TMPDIR/llorch.sock"
	socat UNIX-LISTEN:"$sock",fork EXEC:"llorch-serve --stdio -m $MODEL" 2>/dev/null &
	BG_PIDS=$!
	wait_for 'test -S "$BATS_TEST_TMPDIR/llorch.sock"'
	run -0 timeout 30 socat -t 30 - UNIX-CONNECT:"$sock" <<<'{"job_id":"s1","prompt":"Once upon a time","max_tokens":5,"seed":9}'
	assert_line --index 0 --regexp '^\{"type":"started","job_id":"s1",'
	assert_line --regexp '^\{"type":"end","job_id":"s1","tokens_out":[0-9]+'
	run -0 timeout 30 socat -t 30 - UNIX-CONNECT:"$sock" <<<'{"job_id":"s2","prompt":"Hi","max_tokens":2}'
	assert_line --regexp '^\{"type":"end","job_id":"s2"'
}

@test "-p: the continuation as plain text on stdout; -v tells the seed" {
	run -0 --separate-stderr llorch-serve -m "$MODEL" -p "Once upon a time" -n 12 --temperature 0
	[ -n "$output" ]
	[ -z "$stderr" ]
	run -0 --separate-stderr llorch-serve -m "$MODEL" -p "Once upon a time" -n 12 -s 5 -v
	[[ "$stderr" == *"seed 5,"* ]]
	run -64 llorch-serve -m "$MODEL" -p "x" --temperature 9
}

@test "determinism: same request and seed => same tokens over HTTP, --stdio and -p" {
	local req='"prompt":"Once upon a time","max_tokens":24,"temperature":0.9,"top_k":40,"top_p":0.95,"min_p":0.02,"repetition_penalty":1.1,"seed":1234'
	serve_start
	execute "{\"job_id\":\"d1\",$req}" | sse_check >"$BATS_TEST_TMPDIR/h1"
	execute "{\"job_id\":\"d2\",$req}" | sse_check >"$BATS_TEST_TMPDIR/h2"
	serve_stop
	cmp "$BATS_TEST_TMPDIR/h1" "$BATS_TEST_TMPDIR/h2"
	local http
	http=$(cut -d' ' -f3- "$BATS_TEST_TMPDIR/h1")
	echo "{\"job_id\":\"d3\",$req}" | llorch-serve --stdio -m "$MODEL" 2>/dev/null | text_of d3 >"$BATS_TEST_TMPDIR/s"
	[ "$(cat "$BATS_TEST_TMPDIR/s")" = "$http" ]
	llorch-serve -m "$MODEL" -p "Once upon a time" -n 24 --temperature 0.9 --top-k 40 --top-p 0.95 \
		--min-p 0.02 --repeat-penalty 1.1 -s 1234 >"$BATS_TEST_TMPDIR/p"
	run -0 /usr/bin/python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$BATS_TEST_TMPDIR/p"
	assert_output "$http"
}

@test "determinism with batching: concurrent slots give the tokens each job gets alone" {
	local i
	for i in 1 2 3; do
		echo "{\"job_id\":\"b$i\",\"prompt\":\"Once upon a time\",\"max_tokens\":20,\"seed\":$((i * 7)),\"temperature\":1}"
	done >"$BATS_TEST_TMPDIR/jobs"
	# F32 weights, and Q8_0 and Q4_0 (whose kernels quantize the activations
	# and run batches through their multi-vector kernels)
	llorch-gguf quantize "$MODEL" "$BATS_TEST_TMPDIR/q8.gguf" q8_0 >/dev/null
	llorch-gguf quantize "$MODEL" "$BATS_TEST_TMPDIR/q4.gguf" q4_0 >/dev/null
	for m in "$MODEL" "$BATS_TEST_TMPDIR/q8.gguf" "$BATS_TEST_TMPDIR/q4.gguf"; do
		llorch-serve --stdio --slots 1 -m "$m" <"$BATS_TEST_TMPDIR/jobs" 2>/dev/null >"$BATS_TEST_TMPDIR/one"
		llorch-serve --stdio --slots 3 -m "$m" <"$BATS_TEST_TMPDIR/jobs" 2>/dev/null >"$BATS_TEST_TMPDIR/three"
		for i in 1 2 3; do
			[ "$(text_of b$i <"$BATS_TEST_TMPDIR/one")" = "$(text_of b$i <"$BATS_TEST_TMPDIR/three")" ]
		done
	done
}

@test "--kv-type f16 and q8_0: concurrent slots give the tokens each job gets alone; LLORCH_KV_TYPE sets it; other types exit 64" {
	local i kv
	for i in 1 2 3; do
		echo "{\"job_id\":\"k$i\",\"prompt\":\"Once upon a time\",\"max_tokens\":20,\"seed\":$((i * 5)),\"temperature\":1}"
	done >"$BATS_TEST_TMPDIR/jobs"
	for kv in f16 q8_0; do
		llorch-serve --stdio --slots 1 --kv-type $kv -m "$MODEL" <"$BATS_TEST_TMPDIR/jobs" 2>/dev/null >"$BATS_TEST_TMPDIR/one-$kv"
		LLORCH_KV_TYPE=$kv llorch-serve --stdio --slots 3 -m "$MODEL" <"$BATS_TEST_TMPDIR/jobs" 2>/dev/null >"$BATS_TEST_TMPDIR/three"
		for i in 1 2 3; do
			[ -n "$(text_of k$i <"$BATS_TEST_TMPDIR/one-$kv")" ]
			[ "$(text_of k$i <"$BATS_TEST_TMPDIR/one-$kv")" = "$(text_of k$i <"$BATS_TEST_TMPDIR/three")" ]
		done
		run -0 --separate-stderr llorch-serve -m "$MODEL" -p "Once upon a time" -n 8 --kv-type $kv --temperature 0
		[ -n "$output" ]
	done
	run -64 llorch-serve -m "$MODEL" --kv-type bf16
	assert_output --partial "--kv-type: 'bf16' is not a KV cache type (f32, f16 or q8_0)"
	LLORCH_KV_TYPE=q4_0 run -64 llorch-serve -m "$MODEL"
	assert_output --partial "LLORCH_KV_TYPE"
}

@test "--prompt-cache: a slot reuses the prompt prefix already in its KV cache" {
	local job='{"job_id":"JOB","prompt":"Once upon a time there was","max_tokens":8,"seed":5}'
	# the second line is sent once the first has ended, so that it finds the cache warm
	{
		echo "${job/JOB/c1}"
		for i in $(seq 100); do grep -q '"type":"end"' "$BATS_TEST_TMPDIR/out" 2>/dev/null && break; sleep 0.05; done
		echo "${job/JOB/c2}"
	} | llorch-serve --stdio --prompt-cache -m "$MODEL" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err"
	[ "$(grep -c '"type":"end"' "$BATS_TEST_TMPDIR/out")" -eq 2 ]
	grep '"event":"execute_end"' "$BATS_TEST_TMPDIR/err" | grep '"job_id":"c1"' | grep -q '"cached_tokens":0,'
	grep '"event":"execute_end"' "$BATS_TEST_TMPDIR/err" | grep '"job_id":"c2"' | grep -q '"cached_tokens":[1-9]'
	# without it, nothing is reused
	printf '%s\n%s\n' "${job/JOB/d1}" "${job/JOB/d2}" | llorch-serve --stdio -m "$MODEL" 2>"$BATS_TEST_TMPDIR/err2" >/dev/null
	! grep -q '"cached_tokens":[1-9]' "$BATS_TEST_TMPDIR/err2"
}
