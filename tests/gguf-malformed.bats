#!/usr/bin/env bats
# `llorch-gguf info` rejects each committed malformed GGUF file with exit 65
# (EX_DATAERR) and a one-line reason on stderr naming the file; never a crash.
# The files come from tests/unit/test_gguf_malformed.c (GGUF_MALFORMED_DUMP).
bats_require_minimum_version 1.5.0

setup() {
	if ! command -v llorch-gguf >/dev/null 2>&1; then
		skip "llorch-gguf is not built in $LLORCH_BUILD"
	fi
}

@test "llorch-gguf info exits 65 on every malformed file" {
	local n=0 f
	for f in "$BATS_TEST_DIRNAME"/data/gguf-malformed/*.gguf; do
		run -65 --separate-stderr llorch-gguf info "$f"
		[ -n "$stderr" ] || { echo "no message for $f"; false; }
		[[ "$stderr" == *"$(basename "$f")"* ]] || { echo "message does not name $f: $stderr"; false; }
		n=$((n + 1))
	done
	[ "$n" -ge 5 ]
}

@test "llorch-gguf info names the problem" {
	run -65 --separate-stderr llorch-gguf info "$BATS_TEST_DIRNAME/data/gguf-malformed/duplicate-tensor.gguf"
	[[ "$stderr" == *"tok_embd.weight"*"duplicate"* ]]
	run -65 --separate-stderr llorch-gguf info "$BATS_TEST_DIRNAME/data/gguf-malformed/version-byteswapped.gguf"
	[[ "$stderr" == *"big-endian"* ]]
}
