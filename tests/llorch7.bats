#!/usr/bin/env bats
# llorch(7): the page is lint-clean and every command in its EXAMPLES prints
# the line the page shows (run from the repository root, with the shipped
# demo model).
bats_require_minimum_version 1.5.0

@test "llorch.7 passes mandoc -Tlint" {
	run -0 mandoc -Tlint "$BATS_TEST_DIRNAME/../man/llorch.7"
	[ -z "$output" ]
}

@test "every EXAMPLES command of llorch.7 prints what the page shows" {
	cd "$BATS_TEST_DIRNAME/.."
	"$BATS_TEST_DIRNAME/lib/man-examples" man/llorch.7 > "$BATS_TEST_TMPDIR/examples"
	n=0
	while IFS= read -r cmd && IFS= read -r want; do
		got=$(sh -c "$cmd")
		[ "$got" = "$want" ] || { echo "command: $cmd"; echo "want: $want"; echo "got:  $got"; return 1; }
		n=$((n + 1))
	done < "$BATS_TEST_TMPDIR/examples"
	[ "$n" -eq 2 ]
}
