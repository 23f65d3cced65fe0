/* Tokenizers: GPT-2 byte-level BPE and SentencePiece-style BPE (part of llorch.h).
 *
 * Invalid UTF-8 in the input never fails: GPT-2 encodes any bytes (byte-level
 * BPE); SentencePiece encodes each invalid byte with its <0xNN> byte-fallback
 * token (or UNK when the vocab has none). Decoding returns raw bytes; the
 * streaming decoder holds back incomplete UTF-8 sequences.
 *
 * A loaded tokenizer is never modified: threads may share it. A streaming
 * decoder (llorch_detok) belongs to one thread at a time.
 */
#ifndef LLORCH_TOKENIZER_H
#define LLORCH_TOKENIZER_H

typedef enum {
	LLORCH_TOK_GPT2 = 1, /* tokenizer.ggml.model = "gpt2" */
	LLORCH_TOK_SPM = 2,  /* tokenizer.ggml.model = "llama" */
} llorch_tokenizer_kind;

typedef struct llorch_tokenizer llorch_tokenizer;

/* Reads tokenizer.ggml.* from a GGUF; copies what it keeps, so g may be freed
 * afterwards. Touches no tensor data (a vocab-only GGUF works). */
llorch_status llorch_tokenizer_load(const llorch_gguf *g, llorch_tokenizer **out);
/* OpenAI's encoder.json + vocab.bpe (GPT-2; <|endoftext|> = 50256 = BOS = EOS). */
llorch_status llorch_tokenizer_load_gpt2_files(const char *encoder_json,
		const char *vocab_bpe, llorch_tokenizer **out);
void llorch_tokenizer_free(llorch_tokenizer *t);

llorch_tokenizer_kind llorch_tokenizer_kind_of(const llorch_tokenizer *t);
int32_t llorch_tokenizer_n_vocab(const llorch_tokenizer *t);
int32_t llorch_tokenizer_bos(const llorch_tokenizer *t); /* -1 when none */
int32_t llorch_tokenizer_eos(const llorch_tokenizer *t);
int32_t llorch_tokenizer_unk(const llorch_tokenizer *t);
int32_t llorch_tokenizer_pad(const llorch_tokenizer *t);
bool llorch_tokenizer_adds_bos(const llorch_tokenizer *t); /* the model's default */
/* True for control/special tokens (token_type CONTROL, or BOS/EOS/...). */
bool llorch_tokenizer_is_special(const llorch_tokenizer *t, int32_t id);

/* Encodes len bytes of text. add_bos prepends BOS (if the vocab has one).
 * parse_special: special-token strings in the text (e.g. "<|endoftext|>",
 * "<s>") become their ids; otherwise they are plain text. *ids is malloc'd
 * (free() it); *n_ids is its length. */
llorch_status llorch_tokenize(const llorch_tokenizer *t, const char *text, size_t len,
		bool add_bos, bool parse_special, int32_t **ids, size_t *n_ids);

/* The vocabulary string of a token as stored ("Ġthe", "▁the", "<0x0A>"), or
 * NULL for an id out of range. */
const char *llorch_token_piece(const llorch_tokenizer *t, int32_t id, size_t *len);

/* The bytes token id decodes to on its own ("Ġthe" -> " the", "<0x0A>" ->
 * "\n", "<s>" -> "<s>"): special tokens as their text, no dummy-prefix
 * handling. Not NUL-terminated; NULL for an id out of range. */
const char *llorch_token_text(const llorch_tokenizer *t, int32_t id, size_t *len);

/* Decodes ids to bytes, inverse to llorch_tokenize: special tokens (BOS/EOS)
 * produce nothing unless render_special; SentencePiece drops the dummy-prefix
 * space of the first piece, as the reference does. *text is malloc'd and
 * NUL-terminated; *len excludes the NUL. RANGE for an id out of range. */
llorch_status llorch_detokenize(const llorch_tokenizer *t, const int32_t *ids, size_t n,
		bool render_special, char **text, size_t *len);

/* Streaming decode for generation: push ids one at a time, get back only
 * complete UTF-8 characters; bytes of an incomplete character wait for the
 * next push. flush() releases what is held (invalid bytes become U+FFFD). */
typedef struct llorch_detok llorch_detok;
llorch_status llorch_detok_new(const llorch_tokenizer *t, llorch_detok **out);
void llorch_detok_free(llorch_detok *d);
/* at_start: the next piece is the first of the text (its dummy-prefix space is
 * dropped for SentencePiece, as after BOS in the reference). */
void llorch_detok_reset(llorch_detok *d, bool at_start);
/* Appends the text completed by this token to *out (malloc'd, grown as needed;
 * *out_len counts its bytes, *out_cap its capacity). */
llorch_status llorch_detok_push(llorch_detok *d, int32_t id,
		char **out, size_t *out_len, size_t *out_cap);
llorch_status llorch_detok_flush(llorch_detok *d, char **out, size_t *out_len, size_t *out_cap);

#endif
