#!/usr/bin/env bats
# llorch-sample: NDJSON in and out, encodings, determinism, errors, man page.
bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	SHARED=${LLORCH_SHARED:-$BATS_TEST_DIRNAME/../../shared}
	VOCAB=$SHARED/data/llama.cpp-vocab/ggml-vocab-llama-spm.gguf
}

need_vocab() {
	if [ ! -f "$VOCAB" ]; then
		echo "llorch-sample.bats: $VOCAB missing; test skipped" >&2
		skip "$VOCAB missing"
	fi
}

@test "--help and --version go to stdout and exit 0" {
	run llorch-sample --help
	assert_success
	assert_output --partial "Usage: llorch-sample"
	run llorch-sample -V
	assert_success
	assert_output --regexp "^llorch-sample \(llorch\) [0-9]"
}

@test "usage errors exit 64" {
	run llorch-sample --top-p 2 </dev/null
	assert_equal "$status" 64
	run llorch-sample --temperature -1 </dev/null
	assert_equal "$status" 64
	run llorch-sample --seed x </dev/null
	assert_equal "$status" 64
	run llorch-sample extra </dev/null
	assert_equal "$status" 64
	run llorch-sample -m /nonexistent/model.gguf </dev/null
	assert_equal "$status" 66
}

@test "greedy picks the largest logit, ties to the lowest id; logits dropped" {
	run llorch-sample -T 0 -s 3 <<-'EOF'
	{"tokens":[0],"logits":[1,5,5,2]}
	{"tokens":[0],"logits":[null,"-inf",-3,"inf"],"keep":"me"}
	EOF
	assert_success
	assert_line -n 0 '{"tokens":[0,1],"token":1,"prompt_tokens":1,"seed":3,"done":false}'
	assert_line -n 1 '{"tokens":[0,3],"keep":"me","token":3,"prompt_tokens":1,"seed":3,"done":false}'
}

@test "dense JSON, base64 and sparse logits give the same draws" {
	b64=$(/usr/bin/python3 -c 'import struct,base64; print(base64.b64encode(struct.pack("<4f", -1e30, 2.0, 1.5, 0.25)).decode())')
	for seed in 1 2 3 4 5 6 7 8 9 10 11 12; do
		printf '{"tokens":[1],"logits":[-1e30,2.0,1.5,0.25],"seed":%d}\n' "$seed"
		printf '{"tokens":[1],"logits":"%s","seed":%d}\n' "$b64" "$seed"
		printf '{"tokens":[1],"logits":[[2,1.5],[1,2.0],[3,0.25]],"seed":%d}\n' "$seed"
	done >in.ndjson
	run llorch-sample <in.ndjson
	assert_success
	tokens=$(printf '%s\n' "$output" | jq -r .token | paste -sd' ')
	# three encodings per seed agree (the draw walks the kept ids in id
	# order, whatever order they came in); and the seeds do not all agree
	printf '%s\n' "$output" | jq -r .token | paste -d' ' - - - | while read -r a b c; do
		[ "$a" = "$b" ] && [ "$b" = "$c" ]
	done
	[ "$(printf '%s\n' "$output" | jq -r .token | sort -u | wc -l)" -ge 2 ]
	refute_output --partial '"token":0'
}

@test "long base64 logits (decoded where they lie, not by the JSON parser) give the same draws" {
	# 500 logits: 2668 base64 characters, over the 1024 at which the string
	# is cut out of the line before parsing
	/usr/bin/python3 - <<'PY' >in.ndjson
import base64, json, random, struct
random.seed(5)
x = [random.uniform(-4, 4) for _ in range(500)]
b64 = base64.b64encode(struct.pack("<500f", *x)).decode()
assert "/" in b64
dense = json.dumps([float(struct.unpack("<f", struct.pack("<f", v))[0]) for v in x])
for seed in range(1, 7):
    print('{"tokens":[1],"logits":%s,"seed":%d}' % (dense, seed))
    # fields around it, a nested "logits" that is not the member, spaces
    print('{"a":{"logits":"x","b":[1,{"c":"]"}]}, "tokens" : [1] ,"logits" : "%s", "seed":%d,"z":null}' % (b64, seed))
    # escaped slashes: the parser's way
    print('{"tokens":[1],"logits":"%s","seed":%d}' % (b64.replace("/", "\\/"), seed))
PY
	run llorch-sample -T 1 <in.ndjson
	assert_success
	[ "${#lines[@]}" -eq 18 ]
	printf '%s\n' "$output" | jq -r .token | paste -d' ' - - - | while read -r a b c; do
		[ "$a" = "$b" ] && [ "$b" = "$c" ]
	done
	[ "$(printf '%s\n' "$output" | jq -r .token | sort -u | wc -l)" -ge 2 ]
	# the other fields pass through, the logits do not
	printf '%s\n' "${lines[1]}" | jq -e '.a.logits == "x" and .a.b[1].c == "]" and .z == null and (has("logits") | not)'
	# --keep-logits: the string comes back as it came
	sed -n 2p in.ndjson | llorch-sample --keep-logits | jq -r .logits >kept
	sed -n 2p in.ndjson | jq -r .logits | cmp - kept
}

@test "long base64 logits: a bad character, bad JSON around them, a duplicate are errors" {
	b64=$(/usr/bin/python3 -c 'import struct,base64; print(base64.b64encode(struct.pack("<400f", *range(400))).decode())')
	bad="${b64:0:100}*${b64:101}"
	{
		printf '{"tokens":[1],"logits":"%s"}\n' "$bad"
		printf '{"tokens":[1],"logits":"%s",}\n' "$b64"
		printf '{"tokens":[1],"logits":"%s","logits":"%s"}\n' "$b64" "$b64"
		printf '{"tokens":[1],"logits":"%s"\n' "$b64"
		printf '{"tokens":[1],"logits":"%s"}\n' "$b64"
	} >in.ndjson
	run -65 llorch-sample -T 0 <in.ndjson
	[ "${#lines[@]}" -eq 5 ]
	printf '%s\n' "${lines[0]}" | jq -e '.error.code == "bad_request" and (.error.message | test("bad base64 character at offset 100"))'
	printf '%s\n' "${lines[1]}" | jq -e '.error.code == "bad_json"'
	printf '%s\n' "${lines[2]}" | jq -e '.error.code == "bad_json" and (.error.message | test("duplicate"))'
	printf '%s\n' "${lines[3]}" | jq -e '.error.code == "bad_json"'
	printf '%s\n' "${lines[4]}" | jq -e '.token == 399 and (has("error") | not)'
}

@test "the draw depends on seed and step only" {
	line='{"tokens":[1,2,3,4],"prompt_tokens":2,"logits":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}'
	a=$(echo "$line" | llorch-sample -s 5 | jq -c .token)
	b=$(echo "$line" | llorch-sample -s 5 | jq -c .token)
	assert_equal "$a" "$b"
	# the same step from an explicit "step": prompt 2 of 4 tokens is step 2
	c=$(echo '{"tokens":[9],"step":2,"logits":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}' | llorch-sample -s 5 | jq -c .token)
	assert_equal "$a" "$c"
	run llorch-sample -s 5 <<<'{"tokens":[9],"step":2,"logits":[0,0]}'
	assert_output --partial '"step":3'
	# twenty seeds: not all the same token
	for s in $(seq 1 20); do echo "$line" | llorch-sample -s "$s" | jq -c .token; done | sort -u >seen
	[ "$(wc -l <seen)" -ge 5 ]
	# a "seed" field beats the flag; big seeds are strings
	d=$(echo "$line" | jq -c '. + {seed: 5}' | llorch-sample -s 6 | jq -c .token)
	assert_equal "$a" "$d"
	run llorch-sample <<<'{"tokens":[1],"seed":"18446744073709551615","logits":[0,1]}'
	assert_success
	assert_output --partial '"seed":"18446744073709551615"'
}

@test "top-k, top-p and min-p never emit an excluded token" {
	for s in $(seq 1 60); do
		printf '{"tokens":[0],"seed":%d,"top_k":2,"logits":[3,2.9,2.8,0,0,0]}\n' "$s"
		printf '{"tokens":[0],"seed":%d,"top_p":0.6,"logits":[0,3,0,3.2,0,0]}\n' "$s"
		printf '{"tokens":[0],"seed":%d,"min_p":0.5,"logits":[0,0,5,0,4.5,3]}\n' "$s"
	done | llorch-sample >out
	jq -r 'select(.top_k) | .token' out | sort -u | paste -sd' ' | grep -qx '0 1'
	jq -r 'select(.top_p) | .token' out | sort -u | paste -sd' ' | grep -qx '1 3'
	jq -r 'select(.min_p) | .token' out | sort -u | paste -sd' ' | grep -qx '2 4'
}

@test "repetition penalty steers greedy away from recent tokens" {
	run llorch-sample -T 0 -r 2 -s 1 <<<'{"tokens":[0,1],"logits":[1,3,2]}'
	assert_output --partial '"token":2'
	run llorch-sample -T 0 -r 2 --repeat-last-n 1 -s 1 <<<'{"tokens":[1,0],"logits":[1,3,2]}'
	assert_output --partial '"token":1'
}

@test "max_tokens counts from prompt_tokens and ends the generation" {
	run llorch-sample -T 0 -s 1 <<-'EOF'
	{"tokens":[7,7],"max_tokens":2,"logits":[0,1]}
	{"tokens":[7,7,1],"prompt_tokens":2,"max_tokens":2,"logits":[0,1]}
	{"tokens":[7,7,1,1],"prompt_tokens":2,"done":true,"stop_reason":"MAX_TOKENS","logits":[0,1]}
	EOF
	assert_success
	assert_line -n 0 '{"tokens":[7,7,1],"max_tokens":2,"token":1,"prompt_tokens":2,"seed":1,"done":false}'
	assert_line -n 1 '{"tokens":[7,7,1,1],"prompt_tokens":2,"max_tokens":2,"token":1,"seed":1,"done":true,"stop_reason":"MAX_TOKENS"}'
	assert_line -n 2 '{"tokens":[7,7,1,1],"prompt_tokens":2,"done":true,"stop_reason":"MAX_TOKENS"}'
	run llorch-sample -T 0 -s 1 -n 1 <<<'{"tokens":[7],"logits":[0,1]}'
	assert_output --partial '"done":true,"stop_reason":"MAX_TOKENS"'
}

@test "with a vocabulary: text of each token, EOS ends, ids checked" {
	need_vocab
	run llorch-sample -m "$VOCAB" -T 0 -s 1 <<-'EOF'
	{"tokens":[1],"logits":[[450,1.0]]}
	{"tokens":[1,450],"prompt_tokens":1,"logits":[[6635,1.0]]}
	{"tokens":[1,450,6635],"prompt_tokens":1,"logits":[[2,9.0],[13,1.0]]}
	{"tokens":[1],"logits":[[40000,1.0]]}
	{"tokens":[1],"logits":[1,2,3]}
	EOF
	assert_equal "$status" 65
	assert_line -n 0 --partial '"text":"The","done":false'
	assert_line -n 1 --partial '"text":" cat","done":false'
	assert_line -n 2 --partial '"prompt_tokens":1,"token":2,"seed":1,"text":"","done":true,"stop_reason":"EOS"'
	assert_line -n 3 --partial '"code":"token_out_of_range"'
	assert_line -n 4 --partial '"code":"bad_request"'
	assert_line -n 4 --partial 'vocabulary has 32000'
}

@test "with a vocabulary: stop strings are held back, then end the generation" {
	need_vocab
	run llorch-sample -m "$VOCAB" -T 0 -s 1 <<-'EOF'
	{"tokens":[1],"stop":["The cow"],"logits":[[450,1.0]]}
	{"tokens":[1,450],"prompt_tokens":1,"stop":["The cow"],"logits":[[6635,1.0]]}
	{"tokens":[1,450],"prompt_tokens":1,"stop":["x"," ca"],"logits":[[6635,1.0]]}
	{"tokens":[1],"stop":"The","logits":[[450,1.0]]}
	EOF
	assert_equal "$status" 65
	assert_line -n 0 --partial '"text":"","done":false'
	assert_line -n 1 --partial '"text":"The cat","done":false'
	assert_line -n 2 --partial '"text":"","done":true,"stop_reason":"STOP_SEQUENCE","stop_index":1'
	assert_line -n 3 --partial '"code":"bad_request"'
	run llorch-sample -m "$VOCAB" -T 0 -s 1 -S "e c" <<<'{"tokens":[1,450],"prompt_tokens":1,"logits":[[6635,1.0]]}'
	# "Th" came out with "The" in the step before; "e" was held, and is dropped
	assert_line -n 0 --partial '"text":"","done":true,"stop_reason":"STOP_SEQUENCE"'
	run llorch-sample --stop x </dev/null
	assert_equal "$status" 64
}

@test "a character split across byte tokens comes out whole" {
	need_vocab
	# "é" is <0xC3><0xA9>: ids 198 and 172 in the Llama-2 vocabulary
	run llorch-sample -m "$VOCAB" -T 0 -s 1 <<-'EOF'
	{"tokens":[1,338],"prompt_tokens":2,"logits":[[198,1.0]]}
	{"tokens":[1,338,198],"prompt_tokens":2,"logits":[[172,1.0]]}
	EOF
	assert_success
	assert_line -n 0 --partial '"text":""'
	assert_line -n 1 --partial '"text":"é"'
}

@test "a line's text is the same after the lines of its generation as alone, interleaved or repeated" {
	need_vocab
	# A (stop "é The c") and B taking turns, A's fourth line twice, then
	# lines as long as A's with other tokens, another prompt length, other
	# stop strings: a line that continues the one answered before starts
	# from its decoder state (as the in-process loop does); the others
	# replay from the prompt, and every answer is the one it gets alone
	cat >lines <<-'EOF'
	{"tokens":[1],"prompt_tokens":1,"stop":["é The c"],"logits":[[450,1.0]]}
	{"tokens":[1,338],"prompt_tokens":2,"logits":[[198,1.0]]}
	{"tokens":[1,450],"prompt_tokens":1,"stop":["é The c"],"logits":[[6635,1.0]]}
	{"tokens":[1,338,198],"prompt_tokens":2,"logits":[[172,1.0]]}
	{"tokens":[1,450,6635],"prompt_tokens":1,"stop":["é The c"],"logits":[[198,1.0]]}
	{"tokens":[1,338,198,172],"prompt_tokens":2,"logits":[[450,1.0]]}
	{"tokens":[1,450,6635,198],"prompt_tokens":1,"stop":["é The c"],"logits":[[172,1.0]]}
	{"tokens":[1,450,6635,198],"prompt_tokens":1,"stop":["é The c"],"logits":[[172,1.0]]}
	{"tokens":[1,6635,6635,6635,6635],"prompt_tokens":1,"stop":["é The c"],"logits":[[450,1.0]]}
	{"tokens":[1,450,6635,198,172],"prompt_tokens":1,"stop":["é The c"],"logits":[[450,1.0]]}
	{"tokens":[1,450,6635,198,172,450],"prompt_tokens":5,"stop":["é The c"],"logits":[[6635,1.0]]}
	{"tokens":[1,450,6635,198,172],"prompt_tokens":1,"stop":["é The c"],"logits":[[450,1.0]]}
	{"tokens":[1,450,6635,198,172,450],"prompt_tokens":1,"stop":["zzz"],"logits":[[6635,1.0]]}
	{"tokens":[1,450,6635,198,172],"prompt_tokens":1,"stop":["é The c"],"logits":[[450,1.0]]}
	{"tokens":[1,450,6635,198,172,450],"prompt_tokens":1,"stop":["é The c"],"logits":[[6635,1.0]]}
	EOF
	run llorch-sample -m "$VOCAB" -T 0 -s 1 <lines
	assert_success
	assert_equal "${#lines[@]}" 15
	texts=$(printf '%s\n' "$output" | jq -r '.text' | paste -sd '|')
	assert_equal "$texts" 'The|| cat|é|| The||| The|| cat|| cat||'
	assert_line -n 14 --partial '"done":true,"stop_reason":"STOP_SEQUENCE","stop_index":0'
	together=$output
	alone=$(while IFS= read -r l; do printf '%s\n' "$l" | llorch-sample -m "$VOCAB" -T 0 -s 1; done <lines)
	assert_equal "$together" "$alone"
}

@test "a line longer than the writer's buffer comes out whole" {
	# 4000 tokens echoed: about 15 KB, past ndjson_write's 8 KiB buffer
	perl -e 'print "{\"tokens\":[", join(",", map { $_ % 1000 } 0 .. 3999), "],\"logits\":[[5,1.0]]}\n"' >long
	run llorch-sample -T 0 -s 1 <long
	assert_success
	assert_equal "$(printf '%s\n' "$output" | jq -c '[.tokens | length, .[3999], .[4000]], .token')" "$(printf '[4001,999,5]\n5')"
}

@test "bad lines get error objects, the rest is answered, exit 65" {
	run llorch-sample -s 1 --max-line 200 <<-EOF
	not json
	{"tokens":[1]}
	{"tokens":"x","logits":[1]}
	{"tokens":[1],"logits":[]}
	{"tokens":[1],"logits":"%%%"}
	{"tokens":[1],"logits":[[1,2],[1,3]]}
	{"tokens":[1],"logits":[[-1,2]]}
	{"tokens":[1],"logits":["-inf",null]}
	{"tokens":[1],"temperature":-1,"logits":[1]}
	{"tokens":[1],"top_k":1.5,"logits":[1]}
	{"tokens":[1],"logits":[$(seq -s, 1 100)]}
	{"tokens":[1],"logits":[1,2]}
	EOF
	assert_equal "$status" 65
	assert_equal "${#lines[@]}" 12
	assert_line -n 0 --partial '"code":"bad_json"'
	assert_line -n 1 --partial 'no \"logits\"'
	assert_line -n 2 --partial '"code":"bad_request"'
	assert_line -n 3 --partial '"code":"bad_request"'
	assert_line -n 4 --partial '"code":"bad_request"'
	assert_line -n 5 --partial 'appears twice'
	assert_line -n 6 --partial '"code":"token_out_of_range"'
	assert_line -n 7 --partial '"code":"bad_logits"'
	assert_line -n 8 --partial 'temperature'
	assert_line -n 9 --partial 'top_k'
	assert_line -n 10 --partial '"code":"line_too_long"'
	assert_line -n 11 --partial '"token":1'
}

# A stand-in for llorch-forward in a --loop: each line of the FIFO comes
# back with logits whose greedy choice is token 2 (a line that is not a JSON
# object, with a bad_json error as llorch-forward answers it); it logs what
# it read, and exits at the end of the FIFO.
fake_forward='BEGIN { $| = 1; open($log, ">>", "forward.log") or die; $log->autoflush(1) }
	print {$log} $_;
	if (/^\{.*\}$/) { s/\}$/,"logits":[0,0,9,0]}/ }
	else { $_ = qq({"error":{"code":"bad_json","message":"not an object"}}\n) }
	print;
	END { print {$log} "EOF\n" }'

# loop_run [SAMPLE_ARGS...]: the stand-in | llorch-sample --loop loop ...
loop_run() {
	rm -f loop forward.log
	mkfifo loop
	run --separate-stderr timeout 20 sh -c 'perl -ne "$1" <loop | { shift; llorch-sample -T 0 -s 1 --loop loop "$@"; }' \
		sh "$fake_forward" "$@"
}

@test "--loop runs its FILEs' generations one after another, then closes the FIFO" {
	printf '{"tokens":[7],"max_tokens":3}\n\n{"tokens":[8,9],"max_tokens":1}\n' >a
	printf '{"id":"c","tokens":[5],"max_tokens":2}\n' >b
	loop_run a b
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 6
	assert_line -n 0 '{"tokens":[7,2],"max_tokens":3,"token":2,"prompt_tokens":1,"seed":1,"done":false}'
	assert_line -n 1 '{"tokens":[7,2,2],"max_tokens":3,"token":2,"prompt_tokens":1,"seed":1,"done":false}'
	assert_line -n 2 --partial '{"tokens":[7,2,2,2],'
	assert_line -n 2 --partial '"done":true,"stop_reason":"MAX_TOKENS"}'
	assert_line -n 3 --partial '{"tokens":[8,9,2],'
	assert_line -n 3 --partial '"done":true'
	assert_line -n 4 --partial '{"id":"c","tokens":[5,2],'
	assert_line -n 5 --partial '{"id":"c","tokens":[5,2,2],'
	assert_line -n 5 --partial '"done":true'
	# what went into the loop: each start line as it was, each answer not
	# done, and the stand-in then saw the end of its input
	run cat forward.log
	assert_equal "${#lines[@]}" 7
	assert_line -n 0 '{"tokens":[7],"max_tokens":3}'
	assert_line -n 1 '{"tokens":[7,2],"max_tokens":3,"token":2,"prompt_tokens":1,"seed":1,"done":false}'
	assert_line -n 3 '{"tokens":[8,9],"max_tokens":1}'
	assert_line -n 4 '{"id":"c","tokens":[5],"max_tokens":2}'
	assert_line -n 6 'EOF'
}

@test "--loop: one line in the loop at a time" {
	# the stand-in, slowed down, would see a second line early if one were sent
	printf '{"tokens":[%d],"max_tokens":2}\n' 1 2 3 4 5 >a
	fake_forward="select(undef, undef, undef, 0.02); $fake_forward"
	loop_run a
	assert_success
	assert_equal "${#lines[@]}" 10
	run cat forward.log
	assert_equal "$(printf '%s\n' "$output" | head -n 10 | jq -c '.tokens' | paste -sd ' ')" \
		'[1] [1,2] [2] [2,2] [3] [3,2] [4] [4,2] [5] [5,2]'
}

@test "--loop: without start lines it closes the FIFO at once" {
	: >empty
	printf '\n  \n' >blank
	loop_run empty blank
	assert_success
	assert_output ""
	assert_equal "$(cat forward.log)" "EOF"
}

@test "--loop: a generation that fails ends, the next one runs, exit 65" {
	# not JSON (the stand-in answers with an error), too long for
	# --max-line (never sent), a bad temperature (llorch-sample's own
	# error), a line whose answer is too long, then a good line
	printf '%s\n' 'not json' "{\"tokens\":[1],\"pad\":\"$(printf '%0200d' 0)\"}" \
		'{"tokens":[3],"temperature":-1}' "{\"tokens\":[4],\"pad\":\"$(printf '%070d' 0)\"}" \
		'{"tokens":[5],"max_tokens":1}' >a
	loop_run --max-line 100 a
	assert_equal "$status" 65
	assert_equal "${#lines[@]}" 5
	assert_line -n 0 --partial '"code":"bad_json"'
	assert_line -n 1 --partial '"code":"line_too_long","message":"a: line 2 is longer than 100 bytes"'
	assert_line -n 2 --partial '"code":"bad_request"'
	assert_line -n 3 --partial '"code":"line_too_long","message":"line 3 is longer than 100 bytes"'
	assert_line -n 4 --partial '"tokens":[5,2],'
	assert_line -n 4 --partial '"done":true'
	run cat forward.log
	assert_equal "${#lines[@]}" 5
	assert_line -n 1 '{"tokens":[3],"temperature":-1}'
	assert_line -n 2 --partial '{"tokens":[4],"pad":"'
	assert_line -n 3 '{"tokens":[5],"max_tokens":1}'
	assert_line -n 4 'EOF'
}

@test "--loop: a missing FILE is reported, the others run, exit 66" {
	printf '{"tokens":[4],"max_tokens":1}\n' >a
	loop_run missing a
	assert_equal "$status" 66
	assert_equal "$stderr" "llorch-sample: missing: No such file or directory"
	assert_equal "${#lines[@]}" 1
	assert_line -n 0 --partial '"done":true'
}

@test "--loop: when llorch-forward stops before answering, exit 74 and say so" {
	printf '{"tokens":[4],"max_tokens":5}\n' >a
	fake_forward='$| = 1; if ($. == 2) { exit 0 } s/\}$/,"logits":[0,0,9,0]}/; print;'
	loop_run a
	# the second line is either read and dropped, or never read
	# (SIGPIPE); either way llorch-sample does not hang
	[ "$status" -eq 74 ] || [ "$status" -eq 141 ]
	if [ "$status" -eq 74 ]; then
		assert_equal "$stderr" "llorch-sample: --loop loop: the input ended before the line sent into the loop came back (did llorch-forward stop?)"
	fi
	assert_line -n 0 --partial '"tokens":[4,2],'
}

@test "--loop: usage errors" {
	printf '{"tokens":[4]}\n' >a
	run --separate-stderr llorch-sample --loop loop </dev/null
	assert_equal "$status" 64
	assert_equal "$stderr" "$(printf '%s\n%s' "llorch-sample: --loop needs FILEs, whose lines start the generations" \
		"Try 'llorch-sample --help' for more information.")"
	run llorch-sample --loop loop - </dev/null
	assert_equal "$status" 64
	run --separate-stderr llorch-sample --loop a a </dev/null
	assert_equal "$status" 64
	[[ $stderr == *"--loop a: not a FIFO"* ]]
	run llorch-sample --loop nofifo a </dev/null
	assert_equal "$status" 66
	run llorch-sample a </dev/null
	assert_equal "$status" 64
}

@test "the man page is clean and its EXAMPLES run as shown" {
	man=$BATS_TEST_DIRNAME/../man/llorch-sample.1
	run mandoc -Tlint "$man"
	assert_success
	assert_output ""
	# a vocabulary file and a model under the names the examples use
	if [ -f "$VOCAB" ]; then ln -s "$VOCAB" ggml-vocab-llama-spm.gguf; fi
	stories=$SHARED/data/llama2c-stories260K
	if [ -f "$stories/stories260K.bin" ] && [ -f "$stories/tok512.bin" ]; then
		llorch-gguf convert-llama2c "$stories/stories260K.bin" "$stories/tok512.bin" -o stories260K.gguf
	fi
	"$BATS_TEST_DIRNAME/lib/man-examples" "$man" >examples
	n=0
	while IFS= read -r cmd && IFS= read -r want; do
		case $cmd in *ggml-vocab*) [ -f "$VOCAB" ] || continue ;; esac
		case $cmd in *stories260K*) [ -f stories260K.gguf ] || continue ;; esac
		got=$(sh -c "$cmd")
		if [ "$got" != "$want" ]; then
			echo "example: $cmd" >&2
			echo "want:    $want" >&2
			echo "got:     $got" >&2
			return 1
		fi
		n=$((n + 1))
	done <examples
	[ "$n" -ge 3 ]
}

@test "lines of every length around the reader's piece sizes, NUL bytes and --max-line's edge" {
	/usr/bin/python3 - <<'PY' >in.ndjson
# the logits make each line's greedy token its length mod 3
for n in (4094, 4095, 4096, 4097, 8191, 8192, 8193, 12287, 12288, 12289, 16384, 28673, 65537):
    logits = [0, 0, 0]
    logits[n % 3] = 1
    line = '{"tokens":[1],"logits":%s,"n":%d}' % (logits, n)
    print(line + " " * (n - len(line)))
PY
	run -0 llorch-sample -T 0 <in.ndjson
	[ "${#lines[@]}" -eq 13 ]
	printf '%s\n' "$output" | jq -e '.token == .n % 3' >ok
	[ "$(grep -c true ok)" -eq 13 ]
	# a line of exactly --max-line bytes passes, one more is too long
	run -65 sh -c 'sed -n 3p in.ndjson | llorch-sample -T 0 --max-line 4095'
	assert_output --partial '"line_too_long"'
	run -0 sh -c 'sed -n 3p in.ndjson | llorch-sample -T 0 --max-line 4096'
	# a NUL byte is part of the line (and no JSON), the last line needs no newline
	run -65 sh -c 'printf "{\"tokens\":[1],\"logits\":[1,2]}\0 \n{\"tokens\":[1],\"logits\":[2,1]}" | llorch-sample -T 0'
	[ "${#lines[@]}" -eq 2 ]
	printf '%s\n' "${lines[0]}" | jq -e '.error.code == "bad_json"'
	printf '%s\n' "${lines[1]}" | jq -e '.token == 0'
}
