#!/usr/bin/env bats
# The forward pass's unit tests (against the reference, bit-identical
# whatever the thread count, batches against single sequences) at every
# kernel level below the one this CPU picks: LLORCH_SIMD caps the level,
# and a level the CPU lacks is skipped. test_kernels runs every level by
# itself.
bats_require_minimum_version 1.5.0

forward_at() {
	level=$1
	t=${LLORCH_BUILD:-$BATS_TEST_DIRNAME/../build}/tests/test_forward
	[ -x "$t" ] || skip "$t not built"
	case $level in
	avx2) grep -qw avx2 /proc/cpuinfo || skip "no AVX2 on this CPU" ;;
	avx512-novnni) grep -qw avx512bw /proc/cpuinfo || skip "no AVX-512 on this CPU" ;;
	esac
	LLORCH_SIMD=$level run "$t"
	[ "$status" -eq 0 ] || { echo "$output" | grep -E 'FAILED|Failure|error' | head -20; return 1; }
}

@test "test_forward passes at the scalar level" {
	forward_at scalar
}

@test "test_forward passes at the AVX2 level" {
	forward_at avx2
}

@test "test_forward passes at the AVX-512 level without VNNI" {
	forward_at avx512-novnni
}
