#!/usr/bin/env bats
# llorch-serve(1): lint-clean, and its EXAMPLES run and print what they show.
bats_require_minimum_version 1.5.0

load serve/helpers

setup_file() {
	serve_model_fixture
	export MAN="$BATS_TEST_DIRNAME/../man/llorch-serve.1"
}

teardown() {
	local p
	if [ -f "$BATS_TEST_TMPDIR/bg.pids" ]; then
		for p in $(cat "$BATS_TEST_TMPDIR/bg.pids"); do
			kill "$p" 2>/dev/null || true
		done
	fi
}

@test "the man page is clean for mandoc -Tlint" {
	run -0 mandoc -Tlint "$MAN"
	[ -z "$output" ]
}

@test "the man page documents every option of --help" {
	local opt
	for opt in $(llorch-serve --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "${opt//-/\\\\-}" "$MAN" || { echo "undocumented: $opt"; return 1; }
	done
}

@test "the man page's EXAMPLES give the output they show" {
	cd "$BATS_TEST_TMPDIR"
	ln -s "$MODEL" model.gguf
	run -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/serve/run-examples.py" "$MAN"
	echo "$output"
}
