#!/usr/bin/env bats
# make install / uninstall honour PREFIX and DESTDIR, and what is installed is
# enough to build a program against libllorch with pkg-config.
bats_require_minimum_version 1.5.0

setup_file() {
	export ROOT="$BATS_TEST_DIRNAME/.."
	export STAGE="$BATS_FILE_TMPDIR/stage"
	make -s -C "$ROOT" BUILD="$LLORCH_BUILD" SANITIZE="${LLORCH_SANITIZE:-}" PREFIX=/opt/llorch DESTDIR="$STAGE" install >/dev/null
}

@test "install puts tools, man pages, library, headers and libllorch.pc under DESTDIR/PREFIX" {
	for t in llorch-tokenize llorch-forward llorch-sample llorch-serve llorch-gguf; do
		[ -x "$STAGE/opt/llorch/bin/$t" ]
		[ -f "$STAGE/opt/llorch/share/man/man1/$t.1" ]
	done
	[ -f "$STAGE/opt/llorch/share/man/man7/llorch.7" ]
	[ -f "$STAGE/opt/llorch/lib/libllorch.a" ]
	[ -f "$STAGE/opt/llorch/include/llorch/llorch.h" ]
	grep -qx 'prefix=/opt/llorch' "$STAGE/opt/llorch/lib/pkgconfig/libllorch.pc"
}

@test "a program builds against the installed library with pkg-config and runs" {
	cat > "$BATS_TEST_TMPDIR/hello.c" <<'C'
#include <stdio.h>
#include <llorch.h>
int main(void)
{
	llorch_gguf *g;
	llorch_status st = llorch_gguf_load("/nonexistent.gguf", &g);
	printf("%s %d\n", LLORCH_VERSION, st != LLORCH_OK);
	return 0;
}
C
	# A sanitizer build's library needs the sanitizer runtimes at link time.
	san=
	[ -n "${LLORCH_SANITIZE:-}" ] && san="-fsanitize=$LLORCH_SANITIZE"
	export PKG_CONFIG_PATH="$STAGE/opt/llorch/lib/pkgconfig"
	export PKG_CONFIG_SYSROOT_DIR="$STAGE"
	run -0 cc -std=c11 -Wall -Werror $san -o "$BATS_TEST_TMPDIR/hello" "$BATS_TEST_TMPDIR/hello.c" \
		$(pkg-config --cflags --libs libllorch)
	run -0 "$BATS_TEST_TMPDIR/hello"
	[ "$output" = "0.1.0 1" ]
}

@test "uninstall removes everything install put there" {
	make -s -C "$ROOT" BUILD="$LLORCH_BUILD" SANITIZE="${LLORCH_SANITIZE:-}" PREFIX=/opt/llorch DESTDIR="$STAGE" uninstall >/dev/null
	run -0 find "$STAGE" -type f
	[ -z "$output" ]
}
