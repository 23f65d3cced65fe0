#!/usr/bin/env bats
# llorch-gguf: every subcommand, its errors and exit codes, and the man
# page's EXAMPLES. Tests that need ../shared skip (saying which file) without it.
bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

setup_file() {
	export REPO="$BATS_TEST_DIRNAME/.."
	export DATA="${LLORCH_SHARED:-$REPO/../shared}/data"
	export CKPT="$REPO/tests/data/llama2c-checkpoint.py"
	export STORIES="$DATA/llama2c-stories260K/stories260K.bin"
	export TOK512="$DATA/llama2c-stories260K/tok512.bin"
	export TOK32K="$DATA/llama2c-tokenizer/tokenizer.bin"
	export VOCAB_SPM="$DATA/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"
	export VOCAB_GPT2="$DATA/llama.cpp-vocab/ggml-vocab-gpt-2.gguf"
	# Two small models most tests read.
	export LLAMA="$BATS_FILE_TMPDIR/llama.gguf" GPT2="$BATS_FILE_TMPDIR/gpt2.gguf"
	llorch-gguf random --arch llama --n-embd 64 --n-layer 2 --n-head 4 --n-head-kv 2 \
		--seed 5 -o "$LLAMA"
	llorch-gguf random --arch gpt2 --n-embd 64 --n-layer 2 --n-head 4 --n-ctx 32 \
		--seed 5 -o "$GPT2"
}

# Skips unless the shared files are there, naming the first one missing.
need() {
	local f
	for f in "$@"; do
		if [ ! -f "$f" ]; then
			echo "llorch-gguf.bats: $f is missing; skipping" >&2
			skip "missing $f"
		fi
	done
}

# The value of a jq filter over the file record.
meta() {
	llorch-gguf info --json --no-tensors "$1" | jq -c "$2"
}

# The first N values of a tensor, one per line.
values() {
	llorch-gguf info --json --tensor "$2" --values "$3" "$1" | sed -n 2p | jq -c '.values[]'
}

@test "--help, --version, and each command's --help go to stdout and exit 0" {
	run -0 llorch-gguf --help
	assert_output --partial "Usage: llorch-gguf COMMAND"
	run -0 llorch-gguf --version
	assert_output --regexp '^llorch-gguf \(llorch\) [0-9]+\.[0-9]+\.[0-9]+$'
	for c in info convert-llama2c random quantize; do
		run -0 llorch-gguf "$c" --help
		assert_output --partial "Usage: llorch-gguf $c"
	done
}

@test "usage errors exit 64 with a message on stderr" {
	run -64 --separate-stderr llorch-gguf
	assert_equal "$output" ""
	[[ "$stderr" == *"no command given"* ]]
	run -64 --separate-stderr llorch-gguf frobnicate
	[[ "$stderr" == *"unknown command 'frobnicate'"* ]]
	run -64 --separate-stderr llorch-gguf --bogus
	[[ "$stderr" == *"unknown option '--bogus'"* ]]
	run -64 --separate-stderr llorch-gguf info --values
	[[ "$stderr" == *"needs a value"* ]]
	run -64 --separate-stderr llorch-gguf info -x "$LLAMA"
	[[ "$stderr" == *"unknown option '-x'"* ]]
	run -64 llorch-gguf info
	run -64 llorch-gguf info --values -3 "$LLAMA"
	run -64 llorch-gguf convert-llama2c a.bin b.bin
	run -64 llorch-gguf random -o x.gguf
	run -64 llorch-gguf random --arch mamba -o x.gguf
	run -64 llorch-gguf random --arch llama --n-embd 0 -o x.gguf
	run -64 llorch-gguf random --arch llama --n-embd 12x -o x.gguf
	run -64 llorch-gguf random --arch llama --seed -1 -o x.gguf
	run -64 llorch-gguf random --arch llama --type q4_1 -o x.gguf
	run -64 llorch-gguf quantize "$LLAMA" x.gguf
	run -64 --separate-stderr llorch-gguf quantize "$LLAMA" x.gguf q5_k
	[[ "$stderr" == *"not one of f32, f16, bf16, q8_0, q4_0"* ]]
}

@test "random: shapes that cannot work are usage errors" {
	cd "$BATS_TEST_TMPDIR"
	run -64 --separate-stderr llorch-gguf random --arch llama --n-embd 64 --n-head 5 -o x.gguf
	[[ "$stderr" == *"n_head 5 does not divide n_embd 64"* ]]
	run -64 --separate-stderr llorch-gguf random --arch llama --n-embd 64 --n-head 4 --n-head-kv 3 -o x.gguf
	[[ "$stderr" == *"n_head_kv 3 does not divide n_head 4"* ]]
	run -64 --separate-stderr llorch-gguf random --arch gpt2 --n-head-kv 2 -o x.gguf
	[[ "$stderr" == *"no grouped-query attention"* ]]
	run -64 --separate-stderr llorch-gguf random --arch llama --n-embd 60 --n-head 4 -o x.gguf
	[[ "$stderr" == *"head size 15 is odd"* ]]
	[ ! -e x.gguf ]
}

@test "missing input files exit 66, malformed ones 65, naming the file" {
	cd "$BATS_TEST_TMPDIR"
	run -66 --separate-stderr llorch-gguf info nosuch.gguf
	[[ "$stderr" == *"nosuch.gguf"* ]]
	run -66 llorch-gguf quantize nosuch.gguf out.gguf q8_0
	run -66 --separate-stderr llorch-gguf random --arch llama --vocab nosuch.gguf -o out.gguf
	[[ "$stderr" == *"vocab nosuch.gguf: No such file"* ]]
	run -66 --separate-stderr llorch-gguf convert-llama2c nosuch.bin tok.bin -o out.gguf
	[[ "$stderr" == *"checkpoint nosuch.bin"* ]]
	printf 'not a gguf file at all' > bad.gguf
	run -65 --separate-stderr llorch-gguf info bad.gguf
	[[ "$stderr" == *"bad.gguf"* ]]
	run -65 llorch-gguf quantize bad.gguf out.gguf q8_0
	run -65 llorch-gguf random --arch llama --vocab bad.gguf -o out.gguf
	# A GGUF without a tokenizer is no vocab: version 3, no tensors, no keys.
	printf 'GGUF\3\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' > empty.gguf
	run -0 llorch-gguf info empty.gguf
	run -65 --separate-stderr llorch-gguf random --arch llama --vocab empty.gguf -o out.gguf
	[[ "$stderr" == *"vocab empty.gguf: no tokenizer.ggml.tokens"* ]]
	[ ! -e out.gguf ]
}

@test "an output that cannot be created exits 73 before any work" {
	cd "$BATS_TEST_TMPDIR"
	run -73 --separate-stderr llorch-gguf random --arch llama -o nodir/x.gguf
	[[ "$stderr" == *"cannot create nodir/x.gguf"* ]]
	mkdir adir
	run -73 llorch-gguf random --arch llama -o adir
	run -73 llorch-gguf quantize "$LLAMA" nodir/x.gguf q8_0
	run -73 llorch-gguf convert-llama2c a.bin b.bin -o nodir/x.gguf
	if [ "$(id -u)" -ne 0 ]; then
		mkdir ro && chmod a-w ro
		run -73 llorch-gguf random --arch llama -o ro/x.gguf
	fi
}

@test "a model write that fails exits 74 and leaves no file" {
	cd "$BATS_TEST_TMPDIR"
	# A file size limit (with SIGXFSZ ignored, so write() fails with EFBIG).
	run -74 --separate-stderr bash -c 'trap "" XFSZ; ulimit -f 64; llorch-gguf random --arch llama -o big.gguf'
	[[ "$stderr" == *"big.gguf: write failed: File too large"* ]]
	run -74 bash -c 'trap "" XFSZ; ulimit -f 64; llorch-gguf quantize "$LLAMA" big.gguf f16'
	assert_equal "$(ls | grep gguf)" ""
}

@test "info: lost standard output exits 74" {
	[ -w /dev/full ] || skip "no /dev/full"
	run -74 bash -c 'llorch-gguf info "$LLAMA" > /dev/full'
}

@test "info: human output has the summary, hyperparameters, metadata and tensor table" {
	run -0 llorch-gguf info "$LLAMA"
	assert_line --regexp '^format +GGUF v3, alignment 32, [0-9]+ bytes'
	assert_line --regexp '^architecture +"llama"$'
	assert_line --regexp '^  n_head_kv +2$'
	assert_line --regexp '^  tokenizer.ggml.tokens +string\[378\] +\["<unk>", "<s>", "</s>", "<0x00>", .*\.\.\. 370 more\]$'
	assert_line --regexp '^ +index +name +type +shape +offset +bytes$'
	assert_line --regexp '^ +3 +blk.0.attn_k.weight +f32 +64 x 32 +[0-9]+ +8192$'
	run -0 llorch-gguf info --no-tensors "$LLAMA"
	refute_output --partial "attn_k"
}

@test "info --json: one file record, then one record per tensor" {
	run -0 llorch-gguf info --json "$LLAMA"
	n=$(llorch-gguf info --json "$LLAMA" | sed -n 1p | jq .n_tensors)
	assert_equal "$n" 20
	assert_equal "${#lines[@]}" 21
	assert_equal "$(echo "${lines[0]}" | jq -r .record)" file
	for ((i = 1; i <= n; i++)); do
		assert_equal "$(echo "${lines[i]}" | jq -r .record)" tensor
		assert_equal "$(echo "${lines[i]}" | jq .index)" $((i - 1))
	done
	# Offsets, sizes and counts add up.
	assert_equal "$(meta "$LLAMA" .tensor_bytes)" \
		"$(llorch-gguf info --json "$LLAMA" | sed 1d | jq -s 'map(.bytes) | add')"
	assert_equal "$(meta "$LLAMA" .n_params)" \
		"$(llorch-gguf info --json "$LLAMA" | sed 1d | jq -s 'map(.n_params) | add')"
	run -0 jq -c '{name, type, shape, bytes}' <<<"${lines[4]}"
	assert_output '{"name":"blk.0.attn_k.weight","type":"f32","shape":[64,32],"bytes":8192}'
	# Every value keeps its GGUF type; arrays are summarised.
	assert_equal "$(meta "$LLAMA" '.metadata["llama.attention.head_count_kv"]')" '{"type":"uint32","value":2}'
	assert_equal "$(meta "$LLAMA" '.metadata["llama.rope.freq_base"]')" '{"type":"float32","value":10000}'
	assert_equal "$(meta "$LLAMA" '.metadata["tokenizer.ggml.add_bos_token"]')" '{"type":"bool","value":true}'
	assert_equal "$(meta "$LLAMA" '.metadata["tokenizer.ggml.token_type"] | [.elem_type, .count, (.values | length), .truncated]')" '["int32",378,8,true]'
	assert_equal "$(llorch-gguf info -j -T -a all "$LLAMA" | jq '.metadata["tokenizer.ggml.tokens"] | [(.values | length), .truncated]' | jq -c .)" '[378,false]'
	assert_equal "$(llorch-gguf info -j -T -a 0 "$LLAMA" | jq -c '.metadata["tokenizer.ggml.scores"].values')" '[]'
	run -0 llorch-gguf info --json --no-tensors "$LLAMA"
	assert_equal "${#lines[@]}" 1
}

@test "info --tensor and --values select tensors and show their values" {
	run -0 llorch-gguf info --json --tensor output_norm.weight --tensor token_embd.weight --values 3 "$LLAMA"
	assert_equal "${#lines[@]}" 3
	assert_equal "$(jq -r .name <<<"${lines[1]}")" token_embd.weight
	assert_equal "$(jq '.values | length' <<<"${lines[2]}")" 3
	# More values than the tensor has: all of them.
	assert_equal "$(values "$LLAMA" output_norm.weight 1000 | wc -l)" 64
	run -0 llorch-gguf info --tensor output_norm.weight --values 2 "$LLAMA"
	assert_line --regexp '^ +values: [-0-9.e]+ [-0-9.e]+$'
	run -65 --separate-stderr llorch-gguf info --tensor nosuch.weight "$LLAMA"
	[[ "$stderr" == *"no tensor 'nosuch.weight'"* ]]
}

@test "info: strings that are not UTF-8 come out escaped, or as bytes in JSON" {
	cd "$BATS_TEST_TMPDIR"
	python3 "$CKPT" c.bin 8 16 1 2 1 4 4
	# Four tokens: <unk>, BOS, EOS as llama2.c stores them, and the lone byte 0xFF.
	python3 - <<-'EOF'
		import struct
		toks = [b"<unk>", b"\n<s>\n", b"\n</s>\n", b"\xff"]
		with open("t.bin", "wb") as f:
		    f.write(struct.pack("<I", 8))
		    for t in toks:
		        f.write(struct.pack("<fI", 0.0, len(t)) + t)
	EOF
	llorch-gguf convert-llama2c --name "$(printf 'bad\377name')" c.bin t.bin -o c.gguf
	assert_equal "$(meta c.gguf '.metadata["general.name"]')" '{"type":"string","value":"bad�name","bytes":[98,97,100,255,110,97,109,101]}'
	assert_equal "$(meta c.gguf '.metadata["tokenizer.ggml.tokens"].values')" '["<unk>","<s>","</s>",[255]]'
	run -0 llorch-gguf info c.gguf
	assert_line --regexp '^name +"bad\\xFFname"$'
	assert_line --regexp '^  tokenizer.ggml.tokens +string\[4\] +\["<unk>", "<s>", "</s>", "\\xFF"\]$'
}

@test "info reads llama.cpp's vocab-only files" {
	need "$VOCAB_SPM" "$VOCAB_GPT2"
	assert_equal "$(meta "$VOCAB_SPM" '[.n_tensors, .architecture, .hparams.n_vocab]')" '[0,"llama",32000]'
	assert_equal "$(meta "$VOCAB_GPT2" '[.n_tensors, .metadata["tokenizer.ggml.merges"].count]')" '[0,50000]'
	run -0 llorch-gguf info "$VOCAB_GPT2"
	assert_line --regexp '^  tokenizer.ggml.merges +string\[50000\] +\["Ġ t", "Ġ a", '
}

@test "convert-llama2c: stories260K matches its README" {
	need "$STORIES" "$TOK512"
	cd "$BATS_TEST_TMPDIR"
	llorch-gguf convert-llama2c "$STORIES" "$TOK512" -o s.gguf
	assert_equal "$(meta s.gguf .hparams)" \
		'{"n_vocab":512,"n_ctx_train":512,"n_embd":64,"n_layer":5,"n_head":8,"n_head_kv":4,"n_ff":172,"rope_dim":8,"rope_freq_base":10000,"norm_eps":1e-05,"head_dim":8,"tied_output":true}'
	assert_equal "$(meta s.gguf '[.name, .architecture, .file_type, .n_tensors, .tensor_types]')" \
		'["stories260K","llama",0,47,{"f32":47}]'
	assert_equal "$(meta s.gguf '[.metadata["tokenizer.ggml.model", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"].value]')" \
		'["llama",1,2,0,true,false]'
	# BOS/EOS and '▁' restored; types by id and <0xNN>.
	assert_equal "$(meta s.gguf '.metadata["tokenizer.ggml.tokens"].values[0:4]')" '["<unk>","<s>","</s>","<0x00>"]'
	assert_equal "$(llorch-gguf info -j -T -a all s.gguf | jq -c '.metadata["tokenizer.ggml.tokens"].values | [map(select(startswith("▁"))), map(select(contains(" ")))] | map(length)')" '[91,0]'
	assert_equal "$(llorch-gguf info -j -T -a all s.gguf | jq -c '.metadata["tokenizer.ggml.token_type"].values | group_by(.) | map([.[0], length])')" \
		'[[1,253],[2,1],[3,2],[6,256]]'
	# The weights are the checkpoint's floats, unchanged.
	run -0 llorch-gguf info --json --tensor token_embd.weight --values 4 s.gguf
	first=$(od -A n -t f4 -j 28 -N 16 "$STORIES" | xargs printf '%.6g\n')
	assert_equal "$(values s.gguf token_embd.weight 4 | xargs printf '%.6g\n')" "$first"
	assert_equal "$(meta s.gguf '.metadata["llama.attention.layer_norm_rms_epsilon"].value')" 1e-05
}

@test "convert-llama2c: every tensor comes from its place in the checkpoint" {
	need "$TOK512"
	cd "$BATS_TEST_TMPDIR"
	# dim 64, hidden 96, 2 layers, 4 heads, 2 kv heads, unshared classifier (-512), seq 16.
	python3 "$CKPT" u.bin 64 96 2 4 2 -512 16
	llorch-gguf convert-llama2c --name tiny-unshared u.bin "$TOK512" -o u.gguf
	assert_equal "$(meta u.gguf '[.name, .hparams.tied_output, .n_tensors]')" '["tiny-unshared",false,21]'
	# Float offsets in llama2.c order (each line uses the one before).
	local d=64 h=96 l=2 kv=32 v=512 s=16 hs=16 embed=0
	local rms_att=$((v * d))
	local wq=$((rms_att + l * d))
	local wk=$((wq + l * d * d))
	local wv=$((wk + l * kv * d))
	local wo=$((wv + l * kv * d))
	local rms_ffn=$((wo + l * d * d))
	local w1=$((rms_ffn + l * d))
	local w2=$((w1 + l * h * d))
	local w3=$((w2 + l * d * h))
	local rms_final=$((w3 + l * h * d))
	local wcls=$((rms_final + d + s * hs))
	check() { assert_equal "$(values u.gguf "$1" 1 | xargs printf '%.0f')" "$2"; }
	check token_embd.weight $embed
	check blk.1.attn_norm.weight $((rms_att + d))
	check blk.1.attn_q.weight $((wq + d * d))
	check blk.1.attn_k.weight $((wk + kv * d))
	check blk.1.attn_v.weight $((wv + kv * d))
	check blk.1.attn_output.weight $((wo + d * d))
	check blk.1.ffn_norm.weight $((rms_ffn + d))
	check blk.1.ffn_gate.weight $((w1 + h * d))
	check blk.1.ffn_down.weight $((w2 + d * h))
	check blk.1.ffn_up.weight $((w3 + h * d))
	check output_norm.weight $rms_final
	check output.weight $wcls
	run -0 llorch-gguf info --json u.gguf
	assert_equal "$(printf '%s\n' "${lines[@]}" | jq -c 'select(.record == "tensor" and (.name | test("^(blk\\.0\\.|output|token)"))) | [.name, .shape]' | tr '\n' ' ')" \
		'["token_embd.weight",[64,512]] ["blk.0.attn_norm.weight",[64]] ["blk.0.attn_q.weight",[64,64]] ["blk.0.attn_k.weight",[64,32]] ["blk.0.attn_v.weight",[64,32]] ["blk.0.attn_output.weight",[64,64]] ["blk.0.ffn_norm.weight",[64]] ["blk.0.ffn_gate.weight",[64,96]] ["blk.0.ffn_down.weight",[96,64]] ["blk.0.ffn_up.weight",[64,96]] ["output_norm.weight",[64]] ["output.weight",[64,512]] '
}

@test "convert-llama2c: the 32000-token tokenizer equals llama.cpp's Llama-2 vocab" {
	need "$TOK32K" "$VOCAB_SPM"
	cd "$BATS_TEST_TMPDIR"
	python3 "$CKPT" v.bin 8 16 1 2 1 32000 4
	llorch-gguf convert-llama2c v.bin "$TOK32K" -o v.gguf
	for k in tokens scores token_type; do
		a=$(llorch-gguf info -j -T -a all v.gguf | jq -c ".metadata[\"tokenizer.ggml.$k\"]" | sha256sum)
		b=$(llorch-gguf info -j -T -a all "$VOCAB_SPM" | jq -c ".metadata[\"tokenizer.ggml.$k\"]" | sha256sum)
		assert_equal "$k $a" "$k $b"
	done
	for k in model pre bos_token_id eos_token_id unknown_token_id add_bos_token add_eos_token; do
		assert_equal "$k $(meta v.gguf ".metadata[\"tokenizer.ggml.$k\"]")" "$k $(meta "$VOCAB_SPM" ".metadata[\"tokenizer.ggml.$k\"]")"
	done
}

@test "convert-llama2c: malformed checkpoints and tokenizers exit 65 naming the problem" {
	need "$TOK512"
	cd "$BATS_TEST_TMPDIR"
	fails() { # FILE MESSAGE [TOKENIZER]
		run -65 --separate-stderr llorch-gguf convert-llama2c "$1" "${3:-$TOK512}" -o out.gguf
		[[ "$stderr" == *"$2"* ]] || { echo "stderr: $stderr" >&2; return 1; }
		[ ! -e out.gguf ]
	}
	python3 "$CKPT" short.bin 64 96 2 4 2 512 16 -4
	fails short.bin "bytes, but its header"
	python3 "$CKPT" long.bin 64 96 2 4 2 512 16 4
	fails long.bin "implies"
	python3 "$CKPT" shared.bin 64 96 2 4 2 -512 16
	python3 "$CKPT" unshared.bin 64 96 2 4 2 512 16
	# The same bytes with the sign of vocab_size flipped: sizes of the other layout.
	python3 - shared.bin unshared.bin <<-'EOF'
		import struct, sys
		for name in sys.argv[1:]:
		    b = bytearray(open(name, 'rb').read())
		    v = struct.unpack_from('<i', b, 20)[0]
		    struct.pack_into('<i', b, 20, -v)
		    open(name, 'wb').write(b)
	EOF
	fails shared.bin "the size of a model with an unshared classifier"
	fails unshared.bin "the size of a model with a shared classifier"
	python3 "$CKPT" heads.bin 64 96 2 6 2 512 16
	fails heads.bin "n_heads 6 does not divide dim 64"
	python3 "$CKPT" kv.bin 64 96 2 4 3 512 16
	fails kv.bin "n_kv_heads 3 does not divide n_heads 4"
	python3 "$CKPT" odd.bin 60 96 2 4 2 512 16
	fails odd.bin "head size 15 is odd"
	printf 'GGUF' > tiny.bin
	fails tiny.bin "shorter than the 28-byte header"
	fails "$LLAMA" "a GGUF file, not a llama2.c checkpoint"
	python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<7i", 1 << 20, 96, 2, 4, 2, 512, 16))' > big.bin
	fails big.bin "dim 1048576 is out of range"
	python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<7i", 64, 96, 2, 4, 2, 0, 16))' > zero.bin
	fails zero.bin "vocab_size is 0"
	python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<7i", 64, 96, 100000, 4, 2, 512, 16))' > layers.bin
	fails layers.bin "n_layers 100000 is out of range"
	python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<Ii5i", 0x616b3432, 1, 64, 96, 2, 4, 2))' > v1.bin
	fails v1.bin "version 1 export"
	# Tokenizers: counts, lengths, truncation.
	python3 "$CKPT" ok.bin 64 96 2 4 2 500 16
	fails ok.bin "more than the checkpoint's 500 tokens"
	python3 "$CKPT" ok600.bin 64 96 2 4 2 600 16
	fails ok600.bin "512 tokens, but the checkpoint's vocab_size is 600"
	python3 "$CKPT" ok512.bin 64 96 2 4 2 512 16
	head -c 3000 "$TOK512" > cut.bin
	fails ok512.bin "tokenizer cut.bin: token " cut.bin
	{ printf '\0\0\0\0'; tail -c +5 "$TOK512"; } > maxlen0.bin
	fails ok512.bin "max_token_length 0 is out of range" maxlen0.bin
	{ printf '\3\0\0\0'; tail -c +5 "$TOK512"; } > maxlen3.bin
	fails ok512.bin "token 0: length 5 is out of range [1, max_token_length 3]" maxlen3.bin
	: > empty.bin
	fails ok512.bin "empty file" empty.bin
	run -66 llorch-gguf convert-llama2c ok512.bin nosuch.bin -o out.gguf
}

@test "random: the same options give the same bytes; another seed others" {
	cd "$BATS_TEST_TMPDIR"
	for arch in gpt2 llama; do
		llorch-gguf random --arch "$arch" --seed 42 -t q8_0 -o a.gguf
		llorch-gguf random --arch "$arch" --seed 42 -t q8_0 -o b.gguf
		llorch-gguf random --arch "$arch" --seed 43 -t q8_0 -o c.gguf
		assert_equal "$(sha256sum < a.gguf)" "$(sha256sum < b.gguf)"
		[ "$(sha256sum < a.gguf)" != "$(sha256sum < c.gguf)" ]
	done
	# Files are world-readable and nothing is left beside them.
	assert_equal "$(stat -c %a a.gguf)" 644
	assert_equal "$(ls | sort | tr '\n' ' ')" "a.gguf b.gguf c.gguf "
}

@test "random llama: names, shapes, keys and the built-in tokenizer" {
	assert_equal "$(meta "$LLAMA" '[.architecture, .name, .file_type, .hparams.n_vocab, .hparams.n_ff, .hparams.rope_dim, .hparams.tied_output]')" \
		'["llama","random-llama",0,378,192,16,true]'
	assert_equal "$(meta "$LLAMA" '[.metadata["llama.vocab_size", "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.model", "tokenizer.ggml.bos_token_id"].value]')" \
		'[378,1e-05,"llama",1]'
	run -0 llorch-gguf info --json "$LLAMA"
	assert_equal "$(printf '%s\n' "${lines[@]}" | jq -c 'select(.record == "tensor") | [.name, .shape]' | sed -n '1,10p;20p' | tr '\n' ' ')" \
		'["token_embd.weight",[64,378]] ["blk.0.attn_norm.weight",[64]] ["blk.0.attn_q.weight",[64,64]] ["blk.0.attn_k.weight",[64,32]] ["blk.0.attn_v.weight",[64,32]] ["blk.0.attn_output.weight",[64,64]] ["blk.0.ffn_norm.weight",[64]] ["blk.0.ffn_gate.weight",[64,192]] ["blk.0.ffn_down.weight",[192,64]] ["blk.0.ffn_up.weight",[64,192]] ["output_norm.weight",[64]] '
	# Byte fallback and merged pieces are there.
	assert_equal "$(llorch-gguf info -j -T -a all "$LLAMA" | jq -c '.metadata["tokenizer.ggml.tokens"].values | [.[3], .[258], index("▁the"), index("▁"), index("~")]')" \
		'["<0x00>","<0xFF>",265,283,377]'
}

@test "random gpt2: names, shapes, keys and the built-in tokenizer" {
	assert_equal "$(meta "$GPT2" '[.architecture, .hparams.n_vocab, .hparams.n_ctx_train, .hparams.n_ff, .hparams.norm_eps, .hparams.tied_output]')" \
		'["gpt2",292,32,256,1e-05,true]'
	run -0 llorch-gguf info --json "$GPT2"
	assert_equal "$(printf '%s\n' "${lines[@]}" | jq -c 'select(.record == "tensor") | [.name, .shape]' | sed -n '1,14p' | tr '\n' ' ')" \
		'["token_embd.weight",[64,292]] ["position_embd.weight",[64,32]] ["blk.0.attn_norm.weight",[64]] ["blk.0.attn_norm.bias",[64]] ["blk.0.attn_qkv.weight",[64,192]] ["blk.0.attn_qkv.bias",[192]] ["blk.0.attn_output.weight",[64,64]] ["blk.0.attn_output.bias",[64]] ["blk.0.ffn_norm.weight",[64]] ["blk.0.ffn_norm.bias",[64]] ["blk.0.ffn_up.weight",[64,256]] ["blk.0.ffn_up.bias",[256]] ["blk.0.ffn_down.weight",[256,64]] ["blk.0.ffn_down.bias",[64]] '
	assert_equal "$(llorch-gguf info -j -T -a all "$GPT2" | jq -c '.metadata | [.["tokenizer.ggml.tokens"].values[0, 94, 255, 291], .["tokenizer.ggml.merges"].count, .["tokenizer.ggml.eos_token_id"].value, .["tokenizer.ggml.token_type"].values[291]]')" \
		'["!","¡","Ń","<|endoftext|>",35,291,3]'
	# Every merge's result is a token.
	run -0 bash -c 'llorch-gguf info -j -T -a all "$GPT2" | jq -e ".metadata | (.[\"tokenizer.ggml.tokens\"].values) as \$t | .[\"tokenizer.ggml.merges\"].values | map(sub(\" \"; \"\")) | all(. as \$m | \$t | index(\$m) != null)"'
}

@test "random: weights are scaled as documented; norms and biases are not constant" {
	cd "$BATS_TEST_TMPDIR"
	llorch-gguf random --arch gpt2 --n-embd 256 --n-layer 8 --n-head 4 -o g.gguf
	stats() { # TENSOR -> mean std
		values g.gguf "$1" 100000 | jq -s -r '(add / length) as $m | [$m, (map((. - $m) * (. - $m)) | add / length | sqrt)] | @tsv'
	}
	within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }
	read -r m s < <(stats blk.0.attn_qkv.weight)
	within "$m" -0.001 0.001 && within "$s" 0.019 0.021
	read -r m s < <(stats blk.3.ffn_down.weight) # 0.02 / sqrt(16)
	within "$m" -0.0005 0.0005 && within "$s" 0.0047 0.0053
	read -r m s < <(stats blk.0.ffn_norm.weight)
	within "$m" 0.98 1.02 && within "$s" 0.08 0.12
	read -r m s < <(stats blk.0.ffn_norm.bias)
	within "$m" -0.005 0.005 && within "$s" 0.015 0.025
}

@test "random: --vocab copies a real tokenizer; --untied, --type, --name" {
	need "$VOCAB_GPT2" "$VOCAB_SPM"
	cd "$BATS_TEST_TMPDIR"
	llorch-gguf random --arch gpt2 --vocab "$VOCAB_GPT2" --untied --type f16 --name g -o g.gguf
	assert_equal "$(meta g.gguf '[.name, .hparams.n_vocab, .hparams.tied_output, .file_type_name, .tensor_types]')" \
		'["g",50257,false,"MOSTLY_F16",{"f32":18,"f16":11}]'
	for k in tokens token_type merges; do
		assert_equal "$(llorch-gguf info -j -T -a all g.gguf | jq -c ".metadata[\"tokenizer.ggml.$k\"]" | sha256sum)" \
			"$(llorch-gguf info -j -T -a all "$VOCAB_GPT2" | jq -c ".metadata[\"tokenizer.ggml.$k\"]" | sha256sum)"
	done
	llorch-gguf random --arch llama --vocab "$VOCAB_SPM" --n-embd 64 --n-head 2 --type q4_0 -o l.gguf
	assert_equal "$(meta l.gguf '[.hparams.n_vocab, .metadata["llama.vocab_size"].value, .file_type_name, .metadata["general.quantization_version"].value, .tensor_types]')" \
		'[32000,32000,"MOSTLY_Q4_0",2,{"f32":5,"q4_0":15}]'
}

@test "random --vocab: special ids outside the vocabulary are left out, with a warning" {
	cd "$BATS_TEST_TMPDIR"
	# A vocab-only GGUF: 3 tokens, BOS 1, EOS 0xFFFFFFFF (llama.cpp's "none"), UNK 7.
	python3 - <<-'EOF'
		import struct
		def s(b): return struct.pack("<Q", len(b)) + b
		kv = [(b"tokenizer.ggml.model", struct.pack("<I", 8) + s(b"llama")),
		      (b"tokenizer.ggml.tokens", struct.pack("<IIQ", 9, 8, 3) + s(b"<unk>") + s(b"<s>") + s(b"</s>")),
		      (b"tokenizer.ggml.bos_token_id", struct.pack("<II", 4, 1)),
		      (b"tokenizer.ggml.eos_token_id", struct.pack("<II", 4, 0xFFFFFFFF)),
		      (b"tokenizer.ggml.unknown_token_id", struct.pack("<II", 4, 7))]
		def write(name, kv):
		    with open(name, "wb") as f:
		        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv)))
		        for k, v in kv:
		            f.write(s(k) + v)
		write("v.gguf", kv)
		# Scores as bytes: read as floats, they would run past the array.
		write("bad.gguf", kv + [(b"tokenizer.ggml.scores", struct.pack("<IIQ", 9, 0, 3) + bytes(3))])
	EOF
	run -65 --separate-stderr llorch-gguf random --arch llama --vocab bad.gguf -o m.gguf
	[[ "$stderr" == *"tokenizer.ggml.scores is not an array of 3 float32"* ]]
	run -0 --separate-stderr llorch-gguf random --arch llama --vocab v.gguf -o m.gguf
	[[ "$stderr" == *"tokenizer.ggml.eos_token_id is not a token id below 3; left out"* ]]
	[[ "$stderr" == *"tokenizer.ggml.unknown_token_id is not a token id below 3; left out"* ]]
	assert_equal "$(meta m.gguf '[.hparams.n_vocab, (.metadata | keys | map(select(endswith("_token_id"))))]')" \
		'[3,["tokenizer.ggml.bos_token_id"]]'
}

@test "random: matrices whose rows do not fit the block size stay f32, with a warning" {
	cd "$BATS_TEST_TMPDIR"
	run -0 --separate-stderr llorch-gguf random --arch llama --n-embd 48 --n-head 4 --n-ff 64 -t q8_0 -o q.gguf
	[[ "$stderr" == *"stay f32: their rows are not a multiple of q8_0's block size 32"* ]]
	# Rows of 48 (everything but ffn_down, whose rows are n_ff = 64) stay f32.
	run -0 llorch-gguf info --json q.gguf
	assert_equal "$(printf '%s\n' "${lines[@]}" | jq -r 'select(.record == "tensor" and .type == "q8_0") | .name' | tr '\n' ' ')" \
		'blk.0.ffn_down.weight blk.1.ffn_down.weight '
}

@test "quantize: q8_0 and q4_0 round trips stay close to the f32 values" {
	cd "$BATS_TEST_TMPDIR"
	maxerr() { # FILE TENSOR -> max |x - ref|
		paste <(values "$LLAMA" "$2" 4096) <(values "$1" "$2" 4096) | awk '
			{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d; n++ }
			END { if (n != 4096) exit 1; print m }'
	}
	within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }
	llorch-gguf quantize "$LLAMA" q8.gguf q8_0
	llorch-gguf quantize "$LLAMA" q4.gguf q4_0
	llorch-gguf quantize "$LLAMA" f16.gguf f16
	llorch-gguf quantize "$LLAMA" bf16.gguf bf16
	# Weights are at most ~0.07 (3.5 sigma of 0.02): q8_0 steps are amax/127.
	within "$(maxerr q8.gguf blk.1.attn_q.weight)" 0 0.0003
	within "$(maxerr q4.gguf blk.1.attn_q.weight)" 0 0.006
	within "$(maxerr f16.gguf token_embd.weight)" 0 0.00002
	within "$(maxerr bf16.gguf token_embd.weight)" 0 0.0003
	# Norms stay f32 and exact; metadata is copied, the file type set.
	assert_equal "$(values q4.gguf output_norm.weight 64)" "$(values "$LLAMA" output_norm.weight 64)"
	assert_equal "$(meta q8.gguf '[.file_type, .file_type_name, .metadata["general.quantization_version"].value, .tensor_types]')" \
		'[7,"MOSTLY_Q8_0",2,{"f32":5,"q8_0":15}]'
	assert_equal "$(meta q4.gguf .file_type)" 2
	assert_equal "$(meta f16.gguf .file_type)" 1
	assert_equal "$(meta bf16.gguf .file_type)" 32
	assert_equal "$(meta q8.gguf '.metadata | del(.["general.file_type"], .["general.quantization_version"])')" \
		"$(meta "$LLAMA" '.metadata | del(.["general.file_type"])')"
	# Back to f32: the dequantized values; and f32 -> f32 is the same file.
	llorch-gguf quantize q8.gguf back.gguf f32
	assert_equal "$(meta back.gguf '[.file_type, .tensor_types]')" '[0,{"f32":20}]'
	assert_equal "$(values back.gguf blk.0.attn_v.weight 100)" "$(values q8.gguf blk.0.attn_v.weight 100)"
	llorch-gguf quantize "$LLAMA" same.gguf f32
	cmp same.gguf "$LLAMA"
	# In place.
	cp "$LLAMA" inplace.gguf
	llorch-gguf quantize inplace.gguf inplace.gguf q8_0
	cmp inplace.gguf q8.gguf
}

@test "quantize: tensors whose rows do not fit the block size keep their type, with a warning" {
	cd "$BATS_TEST_TMPDIR"
	llorch-gguf random --arch gpt2 --n-embd 48 --n-head 4 --n-ff 64 -o g48.gguf
	run -0 --separate-stderr llorch-gguf quantize g48.gguf q.gguf q4_0
	[[ "$stderr" == *"tensor 'token_embd.weight' stays f32: its rows of 48 are not a multiple of q4_0's block size 32"* ]]
	assert_equal "$(meta q.gguf .tensor_types)" '{"f32":26,"q4_0":2}'
}

@test "mandoc -Tlint finds nothing in the man page" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	run -0 mandoc -Tlint "$REPO/man/llorch-gguf.1"
	assert_output ""
}

@test "every command in the man page's EXAMPLES runs" {
	need "$STORIES" "$TOK512" "$VOCAB_GPT2"
	cd "$BATS_TEST_TMPDIR"
	ln -s "$STORIES" "$TOK512" "$VOCAB_GPT2" .
	# The EXAMPLES section's .EX blocks, roff escapes undone, continuations joined.
	sed -n '/^\.SH EXAMPLES/,/^\.SH /p' "$REPO/man/llorch-gguf.1" |
		sed -n '/^\.EX/,/^\.EE/{/^\.E[XE]/d;p}' | sed 's/\\e$/\\/; s/\\-/-/g' > examples.sh
	[ "$(grep -c '^llorch-gguf' examples.sh)" -ge 6 ]
	run -0 bash -e examples.sh
	assert_line --regexp '^name +"stories260K"$'
	assert_line '{"n_vocab":512,"n_ctx_train":512,"n_embd":64,"n_layer":5,"n_head":8,"n_head_kv":4,"n_ff":172,"rope_dim":8,"rope_freq_base":10000,"norm_eps":1e-05,"head_dim":8,"tied_output":true}'
	assert_equal "$(meta gpt2-124M.gguf '[.n_params, .hparams.n_vocab]')" '[124439808,50257]'
	assert_equal "$(meta gpt2-124M-q8_0.gguf .file_type_name)" '"MOSTLY_Q8_0"'
	assert_equal "$(meta tiny.gguf '[.hparams.n_head_kv, .tensor_types]')" '[2,{"f32":5,"f16":15}]'
	assert_equal "$(echo "${lines[-1]}" | jq -c '[.name, (.values | length)]')" '["output_norm.weight",4]'
}
