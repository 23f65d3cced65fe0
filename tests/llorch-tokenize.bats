#!/usr/bin/env bats
# llorch-tokenize: options, NDJSON behaviour, errors, exit codes and the
# man page's EXAMPLES (run verbatim).
bats_require_minimum_version 1.5.0

setup_file() {
	export DATA="$LLORCH_SHARED/data"
	export GPT2="$DATA/llama.cpp-vocab/ggml-vocab-gpt-2.gguf"
	export LLAMA="$DATA/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"
	export ENC="$DATA/gpt2-tokenizer/encoder.json"
	export BPE="$DATA/gpt2-tokenizer/vocab.bpe"
	export MAN="$BATS_TEST_DIRNAME/../man/llorch-tokenize.1"
}

need() {
	for f in "$@"; do
		if [ ! -e "$f" ]; then
			echo "missing $f: skipped" >&2
			skip "missing $f"
		fi
	done
}

@test "--help prints usage on stdout and exits 0" {
	run -0 --separate-stderr llorch-tokenize --help
	[[ "$output" == *"Usage: llorch-tokenize"* ]]
	[[ "$output" == *"--decode"* ]]
	[ -z "$stderr" ]
	run -0 llorch-tokenize -h
}

@test "--version prints the version" {
	run -0 llorch-tokenize --version
	[[ "$output" =~ ^llorch-tokenize\ \(llorch\)\ [0-9] ]]
	run -0 llorch-tokenize -V
}

@test "usage errors exit 64" {
	run -64 --separate-stderr llorch-tokenize
	[[ "$stderr" == *"give either -m"* ]]
	run -64 llorch-tokenize -m x.gguf --encoder-json e.json --vocab-bpe v.bpe
	run -64 llorch-tokenize --encoder-json e.json
	run -64 llorch-tokenize -m x.gguf -p a -r
	run -64 llorch-tokenize -m x.gguf --max-line 0
	run -64 llorch-tokenize -m x.gguf --bogus
	run -64 llorch-tokenize -m x.gguf stray
}

@test "a missing model exits 66, a file that is no GGUF 65" {
	run -66 --separate-stderr llorch-tokenize -m "$BATS_TEST_TMPDIR/none.gguf" -p x
	[[ "$stderr" == *"none.gguf"* ]]
	printf 'not a gguf file at all' > "$BATS_TEST_TMPDIR/bad.gguf"
	run -65 llorch-tokenize -m "$BATS_TEST_TMPDIR/bad.gguf" -p x
	run -65 --separate-stderr llorch-tokenize --encoder-json "$BATS_TEST_TMPDIR/bad.gguf" \
		--vocab-bpe "$BATS_TEST_TMPDIR/bad.gguf" -p x
}

@test "the man page is clean for mandoc -Tlint" {
	run -0 mandoc -Tlint "$MAN"
	[ -z "$output" ]
}

# Runs every "$ command" of the man page's EXAMPLES in a directory where the
# model names it uses exist, and compares its output with the lines below it.
@test "the man page's EXAMPLES give the output they show" {
	need "$GPT2" "$LLAMA" "$ENC" "$BPE"
	cd "$BATS_TEST_TMPDIR"
	ln -s "$GPT2" gpt2.gguf
	ln -s "$LLAMA" llama.gguf
	ln -s "$ENC" encoder.json
	ln -s "$BPE" vocab.bpe
	perl -CSD -ne '
		BEGIN { $n = 0 }
		$in = 1 if /^\.SH EXAMPLES/;
		$in = 0 if /^\.SH SEE ALSO/;
		next unless $in;
		if (/^\.EX/) { $ex = 1; next }
		if (/^\.EE/) { $ex = 0; next }
		next unless $ex;
		chomp;
		s/\\\[u([0-9A-F]+)\]/chr(hex($1))/ge;
		s/\\\(aq/\x27/g; s/\\-/-/g; s/\\e/\\/g;
		if (s/^\$ //) {
			$n++;
			open(C, ">", "cmd$n") or die; print C "$_\n"; close C;
			open(E, ">", "want$n") or die; close E;
		} else {
			open(E, ">>", "want$n") or die; print E "$_\n"; close E;
		}
		END { print "$n\n" }
	' "$MAN" > count
	[ "$(cat count)" -ge 8 ]
	for i in $(seq 1 "$(cat count)"); do
		sh -c "$(cat cmd$i)" > got$i
		if ! cmp -s got$i want$i; then
			echo "example: $(cat cmd$i)"
			diff want$i got$i
			return 1
		fi
	done
}

@test "NDJSON: fields pass through, bad lines get an error in place, exit 65" {
	need "$GPT2"
	run -65 --separate-stderr llorch-tokenize -m "$GPT2" <<'EOF'
{"id":1,"text":"Hello world","tokens":[0],"x":{"y":[1,2]}}
not json
[1,2]
{"id":4,"text":5}
{"id":5}

{"id":7,"text":""}
EOF
	[ "${#lines[@]}" -eq 6 ]
	[ "${lines[0]}" = '{"id":1,"text":"Hello world","tokens":[15496,995],"x":{"y":[1,2]}}' ]
	[[ "${lines[1]}" == '{"error":{"code":"bad_json",'* ]]
	[[ "${lines[2]}" == '{"error":{"code":"bad_json",'*"object"* ]]
	[[ "${lines[3]}" == '{"id":4,"text":5,"error":{"code":"bad_request",'* ]]
	[[ "${lines[4]}" == '{"id":5,"error":{"code":"bad_request",'*'"text\" is missing'* ]]
	[ "${lines[5]}" = '{"id":7,"text":"","tokens":[]}' ]
}

@test "NDJSON: all good lines exit 0; a final line without newline counts" {
	need "$LLAMA"
	run -0 sh -c 'printf "{\"text\":\"a\"}\n{\"text\":\"b\"}" | llorch-tokenize -m "$LLAMA"'
	[ "${lines[0]}" = '{"text":"a","tokens":[1,263]}' ]
	[ "${lines[1]}" = '{"text":"b","tokens":[1,289]}' ]
}

@test "--bos and --no-bos override the model's default" {
	need "$GPT2" "$LLAMA"
	run -0 llorch-tokenize -m "$LLAMA" -B -p 'Hello'
	[ "$output" = "15043" ]
	run -0 llorch-tokenize -m "$GPT2" --bos -p 'Hello'
	[ "$output" = "50256 15496" ]
	run -0 llorch-tokenize -m "$GPT2" -b -B -p 'Hello'
	[ "$output" = "15496" ]
}

@test "--special parses special tokens only when asked; decode renders them" {
	need "$LLAMA"
	run -0 llorch-tokenize -m "$LLAMA" -B -p 'a</s>'
	[ "$output" = "263 829 29879 29958" ]
	run -0 llorch-tokenize -m "$LLAMA" -B --special -p 'a</s>'
	[ "$output" = "263 2" ]
	run -0 llorch-tokenize -m "$LLAMA" -d -p '1 263 2'
	[ "$output" = "a" ]
	run -0 llorch-tokenize -m "$LLAMA" -d -s -p '1 263 2'
	[ "$output" = "<s> a</s>" ]
}

@test "--decode: bad token lists get errors, invalid UTF-8 gets bytes" {
	need "$GPT2"
	run -65 llorch-tokenize -m "$GPT2" --decode <<'EOF'
{"tokens":[15496,995]}
{"tokens":[50257]}
{"tokens":[-1]}
{"tokens":[1.5]}
{"tokens":"15496"}
{"text":"x"}
{"tokens":[447,247]}
{"tokens":[447]}
EOF
	[ "${lines[0]}" = '{"tokens":[15496,995],"text":"Hello world"}' ]
	[[ "${lines[1]}" == *'"code":"token_out_of_range"'* ]]
	[[ "${lines[2]}" == *'"code":"token_out_of_range"'* ]]
	[[ "${lines[3]}" == *'"code":"bad_request"'* ]]
	[[ "${lines[4]}" == *'"code":"bad_request"'* ]]
	[[ "${lines[5]}" == *'"code":"bad_request"'* ]]
	[ "${lines[6]}" = '{"tokens":[447,247],"text":"’"}' ]
	[ "${lines[7]}" = '{"tokens":[447],"text":"�","bytes":[226,128]}' ]
}

@test "--pieces: strings, or byte arrays for partial characters" {
	need "$GPT2"
	run -0 sh -c 'echo "{\"text\":\"a’\"}" | llorch-tokenize -m "$GPT2" -P'
	[ "$output" = '{"text":"a’","tokens":[64,447,247],"pieces":["a",[226,128],[153]]}' ]
	run -0 llorch-tokenize -m "$GPT2" -P -p 'Hi you'
	[ "${lines[0]}" = "$(printf '17250\t"Hi"')" ]
	[ "${lines[1]}" = "$(printf '345\t" you"')" ]
}

@test "--max-line: a long line is skipped with line_too_long, the next one answered" {
	need "$GPT2"
	run -65 sh -c 'printf "{\"text\":\"%s\"}\n{\"text\":\"ok\"}\n" "$(head -c 100 /dev/zero | tr "\0" x)" |
		llorch-tokenize -m "$GPT2" --max-line 64'
	[[ "${lines[0]}" == '{"error":{"code":"line_too_long",'* ]]
	[ "${lines[1]}" = '{"text":"ok","tokens":[482]}' ]
}

@test "--raw: input over --max-line is an error (65)" {
	need "$GPT2"
	run -65 --separate-stderr sh -c 'head -c 100000 /dev/zero | tr "\0" a | llorch-tokenize -m "$GPT2" -r --max-line 70000'
	[[ "$stderr" == *"longer than 70000 bytes"* ]]
	run -0 sh -c 'printf "hello" | llorch-tokenize -m "$GPT2" -r --max-line 5'
	[ "$output" = "31373" ]
}

@test "-p --decode rejects bad ids with 65" {
	need "$GPT2"
	run -65 --separate-stderr llorch-tokenize -m "$GPT2" -d -p '1 2 x'
	[[ "$stderr" == *"not a token id"* ]]
	run -65 llorch-tokenize -m "$GPT2" -d -p '50257'
	run -0 llorch-tokenize -m "$GPT2" -d -p '[15496, 995]'
	[ "$output" = "Hello world" ]
}

@test "--raw round trip of arbitrary bytes (GPT-2 and SentencePiece)" {
	need "$GPT2" "$LLAMA"
	f="$BATS_TEST_TMPDIR/bytes"
	# every byte value, invalid UTF-8, NUL, and real UTF-8
	perl -e 'print "x"; print chr($_) for 0..255; print "\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x99\xed\xa0\x80"' > "$f"
	for m in "$GPT2" "$LLAMA"; do
		llorch-tokenize -m "$m" -r < "$f" > "$f.ids"
		llorch-tokenize -m "$m" -r -d < "$f.ids" > "$f.out"
		cmp "$f" "$f.out"
	done
}

@test "OpenAI's encoder.json + vocab.bpe give the GGUF's ids" {
	need "$GPT2" "$ENC" "$BPE"
	text='Tokenizers: 12345 cafés, naïve émigrés — “quotes” & <tags>  end '
	a=$(llorch-tokenize -m "$GPT2" -p "$text")
	b=$(llorch-tokenize --encoder-json "$ENC" --vocab-bpe "$BPE" -p "$text")
	[ "$a" = "$b" ]
	[ -n "$a" ]
}

@test "a write error on stdout exits 74" {
	need "$GPT2"
	[ -e /dev/full ] || skip "no /dev/full"
	run -74 sh -c 'echo "{\"text\":\"a\"}" | llorch-tokenize -m "$GPT2" > /dev/full'
}

@test "llama2.c stories260K: the reference's greedy ids decode to its exact output" {
	d="$DATA/llama2c-stories260K"
	need "$d/stories260K.bin" "$d/tok512.bin" "$d/expected_greedy_ids.json"
	cd "$BATS_TEST_TMPDIR"
	m=s260k.gguf
	llorch-gguf convert-llama2c "$d/stories260K.bin" "$d/tok512.bin" -o "$m"
	# all_ids: BOS and the 256 generated ids; run.c prints their pieces
	# (the space after BOS dropped) and a final newline
	perl -0ne 'print "$1\n" if /"all_ids":\s*\[([^\]]*)\]/' "$d/expected_greedy_ids.json" > ids
	llorch-tokenize -m "$m" --decode --raw < ids > got
	printf '\n' >> got
	cmp got "$d/expected_greedy_default.txt"
	# and the text encodes back to the same ids
	head -c -1 got | llorch-tokenize -m "$m" --raw > again
	[ "$(tr -s ' ,\n' '   ' < ids | xargs)" = "$(xargs < again)" ]
}
