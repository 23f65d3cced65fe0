/* Making model files: llama2.c checkpoints converted to GGUF, random-weight
 * models of any shape, and re-quantization (part of llorch.h; include that).
 *
 * Every function here writes a GGUF v3 file that llama.cpp loads too, through
 * a temporary file renamed into place, and never holds more than one tensor's
 * converted bytes in memory (inputs are mapped, not read whole). Inputs are
 * checked as hostile: a malformed file fails with LLORCH_E_FORMAT and a message
 * naming the field, a missing one with LLORCH_E_NOTFOUND.
 */
#ifndef LLORCH_CONVERT_H
#define LLORCH_CONVERT_H

/* general.file_type: ggml's LLAMA_FTYPE values, named after the type most
 * 2-D weights have. */
typedef enum {
	LLORCH_FTYPE_ALL_F32 = 0,
	LLORCH_FTYPE_MOSTLY_F16 = 1,
	LLORCH_FTYPE_MOSTLY_Q4_0 = 2,
	LLORCH_FTYPE_MOSTLY_Q8_0 = 7,
	LLORCH_FTYPE_MOSTLY_BF16 = 32,
} llorch_ftype;

/* The file type of a model whose matrices are of type t (F32, F16, BF16, Q8_0,
 * Q4_0); false for other types. */
bool llorch_ftype_from_dtype(llorch_dtype t, llorch_ftype *out);
/* "ALL_F32", "MOSTLY_Q8_0"... for any LLAMA_FTYPE value; NULL if unknown. */
const char *llorch_ftype_name(int64_t ftype);

/* ---- llama2.c ---- */

/* The legacy (version 0) llama2.c checkpoint header: 7 int32. */
typedef struct {
	int32_t dim;
	int32_t hidden_dim;
	int32_t n_layers;
	int32_t n_heads;
	int32_t n_kv_heads;
	int32_t vocab_size;  /* as stored: negative when the classifier is unshared */
	int32_t seq_len;
} llorch_llama2c_config;

/* Converts a llama2.c checkpoint and its tokenizer.bin into a `llama` GGUF
 * (F32 tensors, as stored). name: general.name; NULL takes the checkpoint's
 * file name without directory and extension. config (may be NULL) receives
 * the validated header. */
llorch_status llorch_convert_llama2c(const char *checkpoint_path,
		const char *tokenizer_path, const char *out_path, const char *name,
		llorch_llama2c_config *config);

/* ---- random-weight models ---- */

typedef struct {
	llorch_arch arch;        /* LLORCH_ARCH_GPT2 or LLORCH_ARCH_LLAMA */
	int32_t n_embd;
	int32_t n_layer;
	int32_t n_head;
	int32_t n_head_kv;       /* llama only; 0: n_head */
	int32_t n_ff;            /* 0: 4*n_embd (gpt2), 8/3*n_embd rounded up to 32 (llama) */
	int32_t n_ctx;           /* context_length (and gpt2's position table) */
	llorch_dtype type;       /* of matrices: F32, F16, BF16, Q8_0 or Q4_0 */
	uint64_t seed;
	bool untied;             /* write output.weight instead of sharing token_embd */
	const char *vocab_path;  /* GGUF whose tokenizer.* keys are copied; NULL: built-in */
	const char *name;        /* general.name; NULL: "random-<arch>" */
} llorch_random_params;

/* A small model of arch with the built-in tokenizer, seed 0, F32. */
llorch_random_params llorch_random_default_params(llorch_arch arch);

/* Writes a model of the given shape with pseudo-random weights. The same
 * parameters give a byte-identical file. Weights are approximately normal:
 * std 0.02, residual projections (attn_output, ffn_down) 0.02/sqrt(2*n_layer);
 * norm weights 1 + 0.1*N(0,1) and biases 0.02*N(0,1), so that a forward pass
 * that drops a norm or a bias gives different numbers. Matrices whose rows do
 * not fit the block size of type stay F32 (with a warning). */
llorch_status llorch_model_random(const llorch_random_params *p, const char *out_path);

/* The built-in tokenizers used without a vocab file, as tokenizer.* keys:
 * gpt2: byte-level BPE (256 byte tokens, a few merges, <|endoftext|>);
 * llama: SentencePiece-style (<unk>, <s>, </s>, 256 byte-fallback tokens,
 * printable ASCII pieces and "▁"). n_vocab receives the token count; with
 * w NULL nothing is written (to learn the count first). */
llorch_status llorch_builtin_vocab(llorch_gguf_writer *w, llorch_arch arch, int32_t *n_vocab);

/* ---- quantization ---- */

/* Copies in_path to out_path with every tensor of two or more dimensions
 * converted to type (F32, F16, BF16, Q8_0, Q4_0) and 1-D tensors in F32;
 * metadata is copied, general.file_type set. Tensors whose rows do not fit
 * type's block size, or of a type we cannot convert, are copied unchanged with
 * a warning. *n_kept (may be NULL) receives how many were. */
llorch_status llorch_model_quantize(const char *in_path, const char *out_path,
		llorch_dtype type, int64_t *n_kept);

#endif
