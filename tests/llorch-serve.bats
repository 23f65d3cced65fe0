#!/usr/bin/env bats
# llorch-serve over HTTP: the worker contract (docs/worker-contract.md).
# Loopback only; every request has a time limit; teardown kills the worker.
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

json() {
	curl -sS --max-time 10 -H 'Content-Type: application/json' "$@"
}

@test "--help and --version print to stdout and exit 0" {
	run -0 llorch-serve --help
	assert_output --partial "Usage: llorch-serve"
	assert_output --partial "--shutdown-timeout"
	run -0 llorch-serve --version
	assert_output --regexp '^llorch-serve \(llorch\) [0-9]'
}

@test "usage errors exit 64" {
	run -64 llorch-serve
	assert_output --partial "no model"
	run -64 llorch-serve -m "$MODEL" --port 70000
	assert_output --partial "--port"
	run -64 llorch-serve -m "$MODEL" --bogus
	LLORCH_SLOTS=zero run -64 llorch-serve -m "$MODEL"
	assert_output --partial "LLORCH_SLOTS"
	run -64 llorch-serve -m "$MODEL" --stdio -p hi
}

@test "a bad model file exits 65 naming the problem, a missing one 66" {
	printf 'GGUF\003\000\000\000garbage' >"$BATS_TEST_TMPDIR/bad.gguf"
	run -65 llorch-serve -m "$BATS_TEST_TMPDIR/bad.gguf" --port 0
	assert_output --partial "bad.gguf"
	refute_output --partial '"event":"ready"'
	run -66 llorch-serve -m "$BATS_TEST_TMPDIR/none.gguf" --port 0
}

@test "--port 0: exactly one ready line on stdout, nothing else ever" {
	serve_start --worker-id w-test
	run -0 cat "$BATS_TEST_TMPDIR/serve.out"
	assert_output "{\"event\":\"ready\",\"worker_id\":\"w-test\",\"uri\":\"http://127.0.0.1:$SERVE_PORT\",\"port\":$SERVE_PORT}"
	execute '{"job_id":"a","prompt":"Hi","max_tokens":3}' >/dev/null
	curl -sS --max-time 5 "$URL/health" >/dev/null
	serve_stop
	[ "$SERVE_STATUS" -eq 0 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/serve.out")" -eq 1 ]
	# logs are JSON lines on stderr, each with ts, level, event, worker_id
	run -0 /usr/bin/python3 -c '
import json, sys
events = []
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert {"ts", "level", "event", "worker_id"} <= set(o), o
    assert o["worker_id"] == "w-test"
    events.append(o["event"])
for e in ("startup", "model_load_start", "model_load_complete", "ready", "execute_start",
          "execute_end", "shutdown"):
    assert e in events, e
print(" ".join(events))' "$BATS_TEST_TMPDIR/serve.err"
}

@test "a port in use exits 75" {
	serve_start
	run -75 llorch-serve -m "$MODEL" --port "$SERVE_PORT"
	assert_output --partial "in use"
}

@test "--listen-fd: serves on a socket the parent bound" {
	/usr/bin/python3 -c '
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
os.dup2(s.fileno(), 5)
os.set_inheritable(5, True)  # dup2 onto itself keeps CLOEXEC
os.execvp("llorch-serve", ["llorch-serve", "-m", sys.argv[2], "--listen-fd", "5"])
' "$BATS_TEST_TMPDIR/bound" "$MODEL" >"$BATS_TEST_TMPDIR/serve.out" 2>"$BATS_TEST_TMPDIR/serve.err" &
	SERVE_PID=$!
	wait_for 'grep -q ready "$BATS_TEST_TMPDIR/serve.out"'
	run -0 cat "$BATS_TEST_TMPDIR/serve.out"
	assert_output --partial "\"port\":$(cat "$BATS_TEST_TMPDIR/bound")}"
	URL="http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/bound")"
	curl -sS --max-time 5 "$URL/health" | grep -q healthy
	run -64 llorch-serve -m "$MODEL" --listen-fd 0 </dev/null
	assert_output --partial "not a listening TCP socket"
}

@test "the environment sets flags (LLORCH_*, PORT, MODEL_PATH, WORKER_ID); a flag wins" {
	MODEL_PATH="$MODEL" WORKER_ID=env-w PORT=1 LLORCH_PORT=0 serve_start_env
	grep -q '"worker_id":"env-w"' "$BATS_TEST_TMPDIR/serve.out"
	serve_stop
	WORKER_ID=env-w LLORCH_WORKER_ID=llorch-w serve_start --worker-id flag-w
	grep -q '"worker_id":"flag-w"' "$BATS_TEST_TMPDIR/serve.out"
}

serve_start_env() {
	local out="$BATS_TEST_TMPDIR/serve.out" i
	llorch-serve >"$out" 2>"$BATS_TEST_TMPDIR/serve.err" &
	SERVE_PID=$!
	for i in $(seq 200); do
		grep -q '"event":"ready"' "$out" && return 0
		kill -0 "$SERVE_PID" || return 1
		sleep 0.05
	done
	return 1
}

@test "the ready callback reaches the pool manager with the contract's body" {
	/usr/bin/python3 "$BATS_TEST_DIRNAME/serve/fake-pool-manager.py" \
		"$BATS_TEST_TMPDIR/pm.port" "$BATS_TEST_TMPDIR/pm.body" &
	BG_PIDS=$!
	wait_for 'test -s "$BATS_TEST_TMPDIR/pm.port"'
	serve_start --worker-id w0 --callback-url "http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/pm.port")/ready"
	run -0 /usr/bin/python3 -c '
import json, sys
path, ctype, body = open(sys.argv[1]).read().split(" ", 2)
assert path == "/ready" and ctype == "application/json", (path, ctype)
b = json.loads(body)
assert b["worker_id"] == "w0"
assert b["model_ref"].startswith("file:/") and b["model_ref"].endswith(".gguf")
assert b["vram_bytes"] == 0 and b["memory_bytes"] > 0
assert b["memory_architecture"] == "cpu" and b["worker_type"] == "cpu"
assert b["capabilities"] == ["text-gen"]
assert b["uri"] == sys.argv[2], (b["uri"], sys.argv[2])
print("ok")' "$BATS_TEST_TMPDIR/pm.body" "$URL"
}

@test "a failing ready callback exits 69 within the time budget" {
	# refused: nothing listens on port 1
	local t0=$SECONDS
	run -69 llorch-serve -m "$MODEL" --port 0 --callback-url http://127.0.0.1:1/ready \
		--callback-timeout 1
	[ $((SECONDS - t0)) -le 4 ]
	assert_output --partial "callback"
	refute_output --partial '"event":"ready"'
	# answered, but not 2xx
	/usr/bin/python3 "$BATS_TEST_DIRNAME/serve/fake-pool-manager.py" \
		"$BATS_TEST_TMPDIR/pm.port" "$BATS_TEST_TMPDIR/pm.body" 500 &
	BG_PIDS=$!
	wait_for 'test -s "$BATS_TEST_TMPDIR/pm.port"'
	run -69 llorch-serve -m "$MODEL" --port 0 --callback-timeout 1 \
		--callback-url "http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/pm.port")/ready"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/pm.body")" -ge 2 ] # it retried
}

@test "/health answers 503 loading while the model loads" {
	local port
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkfifo "$BATS_TEST_TMPDIR/slow.gguf"
	# the loader blocks opening the FIFO until a writer comes
	llorch-serve -m "$BATS_TEST_TMPDIR/slow.gguf" --port "$port" \
		>"$BATS_TEST_TMPDIR/serve.out" 2>"$BATS_TEST_TMPDIR/serve.err" &
	SERVE_PID=$!
	URL="http://127.0.0.1:$port"
	wait_for 'curl -s --max-time 1 -o /dev/null "$URL/health"'
	run -0 curl -sS --max-time 5 -w ' %{http_code}' "$URL/health"
	assert_output '{"status":"loading"} 503'
	run -0 json -w ' %{http_code}' -i -d '{"job_id":"a","prompt":"x"}' "$URL/execute"
	assert_output --partial '"code":"LOADING"'
	assert_output --partial 'Retry-After: 1'
	# (a subshell: the loader may close the FIFO before the write, a SIGPIPE)
	(echo junk >"$BATS_TEST_TMPDIR/slow.gguf") 2>/dev/null || true
	serve_wait_exit 10
	[ "$SERVE_STATUS" -ne 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/serve.out" ]
}

@test "/health: the contract's fields" {
	serve_start --slots 2 --queue 3
	run -0 curl -sS --max-time 5 "$URL/health"
	run -0 /usr/bin/python3 -c '
import json, sys
h = json.loads(sys.argv[1])
assert h["status"] == "healthy" and h["model_loaded"] is True
for k in ("vram_bytes", "memory_bytes", "vocab_size", "context_length", "slots_total",
          "slots_busy", "queue_depth", "uptime_seconds"):
    assert isinstance(h[k], int), k
assert h["memory_type"] == "cpu" and h["memory_architecture"] == "cpu"
assert h["capabilities"] == ["text-gen"] and h["protocol"] == "sse"
assert h["slots_total"] == 2 and h["slots_busy"] == 0 and h["queue_depth"] == 0
assert isinstance(h["model"], str) and h["model"]
print("ok")' "$output"
}

@test "SSE: exact framing, started first, token i from 0, one terminal end" {
	serve_start
	execute '{"job_id":"j1","prompt":"Once upon a time","max_tokens":8,"seed":42,"temperature":0.8}' \
		-D "$BATS_TEST_TMPDIR/headers" >"$BATS_TEST_TMPDIR/sse"
	run -0 sse_check <"$BATS_TEST_TMPDIR/sse"
	assert_output --regexp '^end (MAX_TOKENS|EOS) '
	grep -qi '^content-type: text/event-stream' "$BATS_TEST_TMPDIR/headers"
	grep -qi '^cache-control: no-cache' "$BATS_TEST_TMPDIR/headers"
	# the first event, byte for byte apart from the timestamp
	head -c 200 "$BATS_TEST_TMPDIR/sse" | head -2 >"$BATS_TEST_TMPDIR/first"
	run -0 cat "$BATS_TEST_TMPDIR/first"
	assert_line --index 0 'event: started'
	assert_line --index 1 --regexp '^data: \{"type":"started","job_id":"j1","model":"[^"]+","started_at":"[0-9T:Z-]+","seed":42,"prompt_tokens":[0-9]+\}$'
	run -0 tail -c 200 "$BATS_TEST_TMPDIR/sse"
	assert_output --regexp 'event: end
data: \{"type":"end","tokens_out":[0-9]+,"decode_time_ms":[0-9]+,"stop_reason":"[A-Z_]+"\}$'
	[ "$(tail -c 2 "$BATS_TEST_TMPDIR/sse" | od -An -c | tr -d ' ')" = '\n\n' ]
}

@test "without a seed the worker draws one below 2^53 and reports it" {
	serve_start
	execute '{"job_id":"s","prompt":"Hi","max_tokens":2}' >"$BATS_TEST_TMPDIR/sse"
	run -0 sed -n 's/.*"seed":\([0-9]*\).*/\1/p' "$BATS_TEST_TMPDIR/sse"
	[ -n "$output" ] && [ "$output" -lt 9007199254740992 ]
	# a u64 seed above 2^63 is taken as it is
	execute '{"job_id":"s2","prompt":"Hi","max_tokens":2,"seed":18446744073709551615}' | grep -q '"seed":18446744073709551615,'
}

@test "validation: 400 lists every problem at once, 422 for shape, before any stream" {
	serve_start
	run -0 json -w ' %{http_code}' -d '{"job_id":"","prompt":"","max_tokens":5000,"temperature":3,"top_p":2,"top_k":-1,"min_p":7,"repetition_penalty":9,"stop":["a","b","c","d","e"]}' "$URL/execute"
	assert_output --regexp ' 400$'
	for f in job_id prompt max_tokens temperature top_p top_k min_p repetition_penalty stop; do
		assert_output --partial "\"field\":\"$f\""
	done
	assert_output --partial '{"field":"max_tokens","constraint":"range(1..=2048)","message":"max_tokens must be at most 2048 (got 5000)","value":"5000"}'
	assert_output --partial '"constraint":"max_count(4)"'
	run -0 json -w ' %{http_code}' -d '{"job_id":"j","prompt":"x","max_tokens":"ten"}' "$URL/execute"
	assert_output '{"errors":[{"field":"max_tokens","constraint":"type(integer)","message":"max_tokens must be an integer (got string)","value":"\"ten\""}]} 422'
	run -0 json -w ' %{http_code}' -d '{"prompt":"x"}' "$URL/execute"
	assert_output '{"errors":[{"field":"job_id","constraint":"required","message":"job_id is required"}]} 422'
	run -0 json -w ' %{http_code}' -d '["job_id"]' "$URL/execute"
	assert_output '{"error":{"code":"INVALID_REQUEST","message":"the body must be a JSON object (got array)"}} 422'
	run -0 json -w ' %{http_code}' -d '{"job_id": "j", "prompt": ' "$URL/execute"
	assert_output --regexp '^\{"error":\{"code":"INVALID_REQUEST","message":"the body is not valid JSON: .*\}\} 400$'
	# the prompt and max_tokens must fit the context
	run -0 json -w ' %{http_code}' -d '{"job_id":"j","prompt":"'"$(printf 'word %.0s' $(seq 700))"'","max_tokens":2048}' "$URL/execute"
	assert_output --regexp '"field":"max_tokens","constraint":"fits_context\([0-9]+\)".* 400$'
}

@test "415 wrong content type, 413 oversized body, 404, 405" {
	serve_start --max-body 4096
	run -0 curl -sS --max-time 5 -w ' %{http_code}' -H 'Content-Type: text/plain' -d '{}' "$URL/execute"
	assert_output --regexp '"code":"INVALID_REQUEST","message":"the body must be Content-Type: application/json".* 415$'
	run -0 curl -sS --max-time 5 -w ' %{http_code}' -d '{}' "$URL/execute"
	assert_output --regexp ' 415$'
	head -c 5000 /dev/zero | tr '\0' x >"$BATS_TEST_TMPDIR/big"
	run -0 json -w ' %{http_code}' --data-binary @"$BATS_TEST_TMPDIR/big" "$URL/execute"
	assert_output '{"error":{"code":"INVALID_REQUEST","message":"the body must be at most 4096 bytes"}} 413'
	run -0 json -w ' %{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$BATS_TEST_TMPDIR/big" "$URL/execute"
	assert_output --regexp ' 413$'
	run -0 curl -sS --max-time 5 -w ' %{http_code}' "$URL/nope"
	assert_output --regexp ' 404$'
	run -0 curl -sS --max-time 5 -w ' %{http_code}' "$URL/execute"
	assert_output --regexp ' 405$'
	run -0 curl -sS --max-time 5 -w ' %{http_code}' -X POST "$URL/health"
	assert_output --regexp ' 405$'
}

@test "--api-key: 401 without the bearer token, /health stays open" {
	LLORCH_API_KEY=s3cret serve_start
	run -0 curl -sS --max-time 5 -i -d '{}' -H 'Content-Type: application/json' "$URL/execute"
	assert_output --partial "HTTP/1.1 401"
	assert_output --partial "WWW-Authenticate: Bearer"
	run -0 curl -sS --max-time 5 -w ' %{http_code}' -H 'Authorization: Bearer s3cre' "$URL/metrics"
	assert_output --regexp ' 401$'
	run -0 curl -sS --max-time 5 -w ' %{http_code}' -H 'Authorization: Bearer s3cret' -o /dev/null "$URL/metrics"
	assert_output ' 200'
	run -0 curl -sS --max-time 5 -w ' %{http_code}' -o /dev/null "$URL/health"
	assert_output ' 200'
	execute '{"job_id":"k","prompt":"Hi","max_tokens":2}' -H 'Authorization: Bearer s3cret' | sse_check
}

@test "X-Correlation-ID: echoed, generated when absent or malformed, in the logs" {
	serve_start
	run -0 curl -sS --max-time 5 -D - -o /dev/null -H 'X-Correlation-ID: abc-123.X_y' "$URL/health"
	assert_output --partial $'X-Correlation-ID: abc-123.X_y\r'
	run -0 curl -sS --max-time 5 -D - -o /dev/null -H 'X-Correlation-ID: bad id!' "$URL/health"
	assert_output --regexp $'X-Correlation-ID: [0-9a-f]{32}\r'
	run -0 curl -sS --max-time 5 -D - -o /dev/null -H "X-Correlation-ID: $(printf 'a%.0s' $(seq 129))" "$URL/health"
	assert_output --regexp $'X-Correlation-ID: [0-9a-f]{32}\r'
	execute '{"job_id":"c1","prompt":"Hi","max_tokens":2}' -H 'X-Correlation-ID: trace-77' -D "$BATS_TEST_TMPDIR/h" >/dev/null
	grep -q $'X-Correlation-ID: trace-77\r' "$BATS_TEST_TMPDIR/h"
	json -o /dev/null -H 'X-Correlation-ID: trace-78' -d '{"job_id":"c1"}' "$URL/cancel"
	wait_for 'grep -q '\''"event":"execute_end".*"job_id":"c1","correlation_id":"trace-77"'\'' "$BATS_TEST_TMPDIR/serve.err"'
	grep -q '"event":"execute_start".*"correlation_id":"trace-77"' "$BATS_TEST_TMPDIR/serve.err"
	grep -q '"event":"cancel".*"correlation_id":"trace-78"' "$BATS_TEST_TMPDIR/serve.err"
}

long_job() { # ID: a job that runs until cancelled (as long as the context allows)
	echo "{\"job_id\":\"$1\",\"prompt\":\"Once\",\"max_tokens\":$(($(context_length) - 8 < 2048 ? $(context_length) - 8 : 2048)),\"temperature\":0}"
}

@test "every slot busy and the queue full: 503 ALL_SLOTS_BUSY with Retry-After" {
	serve_start --slots 1 --queue 1
	execute "$(long_job a)" >"$BATS_TEST_TMPDIR/a" &
	BG_PIDS="$!"
	wait_for 'grep -q token "$BATS_TEST_TMPDIR/a"'
	execute "$(long_job b)" >"$BATS_TEST_TMPDIR/b" &
	BG_PIDS="$BG_PIDS $!"
	wait_for 'test "$(metric worker_queue_depth)" = 1'
	run -0 json -i -d "$(long_job c)" "$URL/execute"
	assert_output --partial "HTTP/1.1 503"
	assert_output --partial "Retry-After: 1"
	assert_output --partial '{"error":{"code":"ALL_SLOTS_BUSY","message":"all 1 slots are busy and 1 requests are queued","retriable":true}}'
	# a job_id already queued or running is refused
	run -0 json -w ' %{http_code}' -d "$(long_job a)" "$URL/execute"
	assert_output --regexp 'DUPLICATE_JOB_ID.* 503$|DUPLICATE_JOB_ID.* 409$'
	json -o /dev/null -d '{"job_id":"a"}' "$URL/cancel"
	json -o /dev/null -d '{"job_id":"b"}' "$URL/cancel"
}

@test "/health answers within 10 ms while a job runs" {
	serve_start
	execute "$(long_job h)" >"$BATS_TEST_TMPDIR/h" &
	BG_PIDS=$!
	wait_for 'grep -q token "$BATS_TEST_TMPDIR/h"'
	# the server's part: from connection established to the first byte of
	# the answer (the loopback connect itself waits on the kernel's
	# scheduler, which on a loaded CI box says nothing about us)
	for i in $(seq 30); do
		curl -sS --max-time 2 -o /dev/null -w '%{time_connect} %{time_starttransfer} %{time_total}\n' "$URL/health"
	done >"$BATS_TEST_TMPDIR/times"
	run /usr/bin/python3 -c '
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
server = sorted(ttfb - conn for conn, ttfb, total in rows)
total = sorted(r[2] for r in rows)
p50, p90 = server[len(server) // 2], server[int(len(server) * 0.9) - 1]
print("/health under load: server p50 %.2f ms p90 %.2f ms max %.2f ms; total p50 %.2f ms max %.2f ms"
      % (p50 * 1e3, p90 * 1e3, server[-1] * 1e3, total[len(total) // 2] * 1e3, total[-1] * 1e3))
# the median: on a CI box shared by many jobs the tail is the kernel'"'"'s
sys.exit(0 if p50 < 0.010 else 1)' "$BATS_TEST_TMPDIR/times"
	echo "$output" >&3
	[ "$status" -eq 0 ]
	curl -sS --max-time 2 "$URL/health" | grep -q '"slots_busy":1'
	json -o /dev/null -d '{"job_id":"h"}' "$URL/cancel"
}

@test "POST /cancel ends the stream with error CANCELLED, frees the slot; idempotent" {
	serve_start
	execute "$(long_job x)" >"$BATS_TEST_TMPDIR/x" &
	BG_PIDS=$!
	wait_for 'grep -q token "$BATS_TEST_TMPDIR/x"'
	run -0 json -w ' %{http_code}' -d '{"job_id":"x"}' "$URL/cancel"
	assert_output --regexp '^\{"status":"accepted","job_id":"x","found":true\} 202$'
	local t0
	t0=$(date +%s%N)
	wait "$BG_PIDS"
	echo "cancel to end of stream: $((($(date +%s%N) - t0) / 1000000)) ms" >&3
	run -0 sse_check <"$BATS_TEST_TMPDIR/x"
	assert_output --regexp '^error CANCELLED '
	tail -c 300 "$BATS_TEST_TMPDIR/x" | grep -q '"code":"CANCELLED","message":"cancelled by request","retriable":false'
	# idempotent, unknown ids too
	run -0 json -w ' %{http_code}' -d '{"job_id":"x"}' "$URL/cancel"
	assert_output --regexp ' 202$'
	run -0 json -w ' %{http_code}' -d '{"job_id":"never"}' "$URL/cancel"
	assert_output '{"status":"accepted","job_id":"never","found":false} 202'
	run -0 json -w ' %{http_code}' -d '{}' "$URL/cancel"
	assert_output --regexp ' 422$'
	# the slot is free: the next job runs at once
	execute '{"job_id":"next","prompt":"Hi","max_tokens":2}' | sse_check
	[ "$(metric 'worker_requests_total{outcome="cancelled"}')" = 1 ]
}

@test "a client that disconnects cancels its job and frees the slot" {
	serve_start --slots 1 --queue 0
	run curl -sS -N --max-time 1 -H 'Content-Type: application/json' -d "$(long_job gone)" "$URL/execute"
	[ "$status" -eq 28 ] # curl's own timeout: it hung up mid-stream
	wait_for 'test "$(metric '\''worker_requests_total{outcome="cancelled"}'\'')" = 1'
	wait_for 'test "$(metric worker_slots_busy)" = 0'
	execute '{"job_id":"after","prompt":"Hi","max_tokens":2}' | sse_check
	grep -q '"event":"cancel".*"client disconnected"' "$BATS_TEST_TMPDIR/serve.err"
}

@test "a queued job whose client left is dropped without running" {
	serve_start --slots 1 --queue 2
	execute "$(long_job run)" >"$BATS_TEST_TMPDIR/run" &
	BG_PIDS=$!
	wait_for 'grep -q token "$BATS_TEST_TMPDIR/run"'
	run curl -sS -N --max-time 0.5 -H 'Content-Type: application/json' -d "$(long_job left)" "$URL/execute"
	wait_for 'test "$(metric worker_queue_depth)" = 0'
	json -o /dev/null -d '{"job_id":"run"}' "$URL/cancel"
	wait "$BG_PIDS"
	! grep -q '"event":"execute_start".*"job_id":"left"' "$BATS_TEST_TMPDIR/serve.err"
	[ "$(metric 'worker_requests_total{outcome="cancelled"}')" = 2 ]
}

@test "the per-job deadline ends a job with error TIMEOUT" {
	serve_start --job-timeout 0.3
	execute "$(long_job slow)" >"$BATS_TEST_TMPDIR/t"
	run -0 sse_check <"$BATS_TEST_TMPDIR/t"
	assert_output --regexp '^error TIMEOUT '
	[ "$(metric 'worker_requests_total{outcome="timeout"}')" = 1 ]
}

@test "SIGTERM mid-stream: every open stream gets a terminal event, exit 0 in the grace period" {
	serve_start --slots 2 --shutdown-timeout 0.5
	execute "$(long_job t1)" >"$BATS_TEST_TMPDIR/t1" &
	BG_PIDS=$!
	execute "$(long_job t2)" >"$BATS_TEST_TMPDIR/t2" &
	BG_PIDS="$BG_PIDS $!"
	wait_for 'grep -q token "$BATS_TEST_TMPDIR/t1"'
	wait_for 'grep -q token "$BATS_TEST_TMPDIR/t2"'
	local t0=$SECONDS
	kill -TERM "$SERVE_PID"
	# a new connection is refused at once
	run curl -sS --max-time 2 -o /dev/null "$URL/health"
	[ "$status" -ne 0 ] || [ "$output" = "" ]
	serve_wait_exit 5
	[ "$SERVE_STATUS" -eq 0 ]
	[ $((SECONDS - t0)) -le 3 ]
	for f in t1 t2; do
		run -0 sse_check <"$BATS_TEST_TMPDIR/$f"
		assert_output --regexp '^error CANCELLED '
		grep -q '"retriable":true' "$BATS_TEST_TMPDIR/$f"
	done
}

@test "SIGTERM lets a short job finish within the grace period" {
	serve_start --shutdown-timeout 5
	execute '{"job_id":"short","prompt":"Hi","max_tokens":20}' >"$BATS_TEST_TMPDIR/s" &
	BG_PIDS=$!
	wait_for 'grep -q started "$BATS_TEST_TMPDIR/s"'
	kill -TERM "$SERVE_PID"
	serve_wait_exit 5
	[ "$SERVE_STATUS" -eq 0 ]
	run -0 sse_check <"$BATS_TEST_TMPDIR/s"
	assert_output --regexp '^end (MAX_TOKENS|EOS) '
}

@test "POST /shutdown answers 202, then drains and exits 0" {
	serve_start
	run -0 curl -sS --max-time 5 -w ' %{http_code}' -X POST "$URL/shutdown"
	assert_output '{"status":"shutting_down"} 202'
	serve_wait_exit 5
	[ "$SERVE_STATUS" -eq 0 ]
}

@test "a slow client (slowloris) is cut off after --idle-timeout" {
	serve_start --idle-timeout 1
	run -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/serve/slowloris.py" "$SERVE_PORT" 5
	echo "slowloris connection closed after $output s" >&3
	/usr/bin/python3 -c "import sys; sys.exit(0 if $output < 3 else 1)"
	curl -sS --max-time 2 -o /dev/null "$URL/health"
}

@test "--max-connections: a connection past the limit is closed at once" {
	serve_start --max-connections 2 --idle-timeout 5
	run -0 /usr/bin/python3 -c '
import socket, sys, urllib.request
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
for s in held:
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
try:
    urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=3).read()
    print("third connection served")
except Exception as e:
    print("third connection refused:", type(e).__name__)
for s in held:
    s.close()
' "$SERVE_PORT"
	assert_output --partial "third connection refused"
	# once they are gone, it serves again
	wait_for 'curl -sS --max-time 1 -o /dev/null "$URL/health"'
}

@test "/metrics: Prometheus text with the contract's names; counters move" {
	serve_start
	run -0 curl -sS --max-time 5 -D "$BATS_TEST_TMPDIR/h" "$URL/metrics"
	for m in 'worker_requests_total{outcome="success"} 0' 'worker_requests_total{outcome="error"} 0' \
		'worker_requests_total{outcome="cancelled"} 0' 'worker_requests_total{outcome="timeout"} 0' \
		'worker_tokens_in_total 0' 'worker_tokens_generated_total 0' \
		'worker_inference_duration_ms_count 0' 'worker_slots_busy 0' 'worker_queue_depth 0' \
		'# TYPE worker_inference_duration_ms histogram' 'worker_inference_duration_ms_bucket{le="+Inf"} 0'; do
		assert_line "$m"
	done
	assert_line --regexp '^worker_uptime_seconds [0-9]+$'
	assert_line --regexp '^worker_memory_bytes [1-9][0-9]*$'
	grep -qi '^content-type: text/plain; version=0.0.4' "$BATS_TEST_TMPDIR/h"
	execute '{"job_id":"m","prompt":"Hello there","max_tokens":4,"temperature":0}' >/dev/null
	json -o /dev/null -d '{"job_id":""}' "$URL/execute"
	[ "$(metric 'worker_requests_total{outcome="success"}')" = 1 ]
	[ "$(metric 'worker_requests_total{outcome="error"}')" = 1 ]
	[ "$(metric worker_tokens_in_total)" -gt 0 ]
	[ "$(metric worker_tokens_generated_total)" -ge 1 ]
	[ "$(metric worker_inference_duration_ms_count)" = 1 ]
}

@test "stop strings end the stream and never appear in it" {
	serve_start
	execute '{"job_id":"p","prompt":"Once upon a time","max_tokens":40,"temperature":0}' | sse_check >"$BATS_TEST_TMPDIR/plain"
	# stop at a piece of the greedy continuation
	local text stop
	text=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read().split(" ",2)[2]))' <"$BATS_TEST_TMPDIR/plain")
	stop=${text:6:3}
	[ -n "$stop" ] || skip "the greedy continuation is too short to cut"
	execute "{\"job_id\":\"q\",\"prompt\":\"Once upon a time\",\"max_tokens\":40,\"temperature\":0,\"stop\":[\"zzzz\",$(printf '%s' "$stop" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')]}" >"$BATS_TEST_TMPDIR/q"
	run -0 sse_check <"$BATS_TEST_TMPDIR/q"
	assert_output --regexp '^end STOP_SEQUENCE '
	grep -q '"stop_sequence_matched":' "$BATS_TEST_TMPDIR/q"
	run -0 /usr/bin/python3 -c 'import json,sys; t=json.loads(sys.argv[1].split(" ",2)[2]); assert sys.argv[2] not in t, t; print(t)' "$output" "$stop"
}
