/* What the model-file makers (convert_llama2c.c, vocab_builtin.c,
 * model_random.c) share; not installed. */
#ifndef LLORCH_CONVERT_INTERNAL_H
#define LLORCH_CONVERT_INTERNAL_H

#include "internal.h"

/* SentencePiece token types, as llama.cpp stores them in token_type. */
enum {
	LLORCH_TOKEN_NORMAL = 1,
	LLORCH_TOKEN_UNKNOWN = 2,
	LLORCH_TOKEN_CONTROL = 3,
	LLORCH_TOKEN_BYTE = 6,
};

/* Writes a Llama-2 style SentencePiece tokenizer's keys for n pieces (lens
 * may be NULL for NUL-terminated ones): <unk> 0, BOS 1, EOS 2, BOS added. */
llorch_status llorch_write_spm_vocab(llorch_gguf_writer *w, const char *const *pieces,
		const size_t *lens, const float *scores, const int32_t *types, int64_t n);

#endif
