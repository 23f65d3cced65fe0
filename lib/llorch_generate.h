/* The generation loop, shared by llorch-serve and any other caller (part of
 * llorch.h): prompt -> tokens -> prefill -> sample/decode until EOS,
 * max_tokens, a stop string, a deadline or a cancel.
 *
 * Text comes out as valid UTF-8 pieces: bytes of an incomplete character are
 * held back, and so is text that may still turn into a stop string; a stop
 * string itself is never emitted.
 *
 * Two ways to drive it:
 *  - llorch_generate(): the whole loop with a callback per emitted token;
 *  - the step API (start / sample / eval, or eval_batch across several
 *    generations), for a scheduler that batches decode steps of many slots.
 */
#ifndef LLORCH_GENERATE_H
#define LLORCH_GENERATE_H

#define LLORCH_MAX_STOP 4
#define LLORCH_MAX_LOGPROBS 20

typedef struct {
	int32_t max_tokens;            /* >= 1 */
	llorch_sampler_params sampling;
	const char *const *stop;       /* stop strings (copied at start) */
	size_t n_stop;                 /* <= LLORCH_MAX_STOP */
	int64_t deadline_ns;           /* llorch_now_ns()-clock time limit; 0: none */
	int add_bos;                   /* -1: the tokenizer's default; 0/1 */
	bool parse_special;            /* special-token strings in the prompt are tokens */
	int32_t n_logprobs;            /* alternatives per token, 0..LLORCH_MAX_LOGPROBS */
} llorch_gen_params;

/* max_tokens 256, default sampling, no stop, no deadline, add_bos -1. */
llorch_gen_params llorch_gen_default_params(void);

typedef enum {
	LLORCH_STOP_NONE = 0,      /* still running */
	LLORCH_STOP_MAX_TOKENS,
	LLORCH_STOP_EOS,
	LLORCH_STOP_SEQUENCE,
	LLORCH_STOP_CANCELLED,
	LLORCH_STOP_TIMEOUT,
} llorch_stop_reason;

/* "MAX_TOKENS", "EOS", "STOP_SEQUENCE", "CANCELLED", "TIMEOUT" (the worker
 * contract's spelling); "NONE". */
const char *llorch_stop_reason_str(llorch_stop_reason r);

/* What one sample step produced. Pointers stay valid until the next call on
 * the same generation. */
typedef struct {
	int32_t token;            /* the sampled id; -1 when the step sampled nothing */
	const char *text;         /* text released by this step (may be empty) */
	size_t text_len;
	float logprob;            /* of the sampled token (see llorch_sampler_sample) */
	int32_t n_top;
	const int32_t *top_ids;
	const float *top_logprobs;
} llorch_gen_token;

typedef struct {
	llorch_stop_reason stop_reason;
	int32_t stop_index;       /* which stop string matched, else -1 */
	int32_t prompt_tokens;
	int32_t cached_tokens;    /* prompt tokens reused from the KV cache */
	int32_t tokens_out;       /* sampled tokens, EOS excluded */
	uint64_t seed;
	int64_t prefill_ns;
	int64_t decode_ns;
} llorch_gen_result;

typedef struct llorch_gen llorch_gen;

/* Tokenizes the prompt, keeps the longest prefix already in c's KV cache,
 * evaluates the rest. RANGE when prompt + max_tokens does not fit the context
 * (nothing evaluated). The generation uses c until it is freed.
 * The prompt is evaluated by the first llorch_gen_sample() (or an explicit
 * llorch_gen_prefill()), so that a cancel or the deadline can stop a long
 * prefill; the generation sets c's abort callback while it evaluates.
 * The reused prefix is what llorch_ctx_tokens() says c holds, however c got
 * there. */
llorch_status llorch_gen_start(llorch_ctx *c, const char *prompt, size_t len,
		const llorch_gen_params *p, llorch_gen **out);
/* The same from token ids. */
llorch_status llorch_gen_start_tokens(llorch_ctx *c, const int32_t *tokens, size_t n,
		const llorch_gen_params *p, llorch_gen **out);
void llorch_gen_free(llorch_gen *g);
/* Evaluates the prompt now (the first sample step does it otherwise). */
llorch_status llorch_gen_prefill(llorch_gen *g);

/* Samples the next token from the current logits and updates the text state.
 * *done becomes true when the generation has ended (the final step also
 * releases any text still held back); otherwise the token must be evaluated
 * (llorch_gen_eval or llorch_gen_eval_batch) before the next sample.
 * The draw index is the number of tokens sampled before (0 for the first).
 * The EOS step reports the EOS id (not counted in tokens_out); a step that
 * ends by cancel or deadline reports token -1. Cancel, deadline and the end
 * of the stream are not errors: they come back as OK with *done and a stop
 * reason. The repetition penalty sees the prompt and the sampled tokens. */
llorch_status llorch_gen_sample(llorch_gen *g, llorch_gen_token *tok, bool *done);
llorch_status llorch_gen_eval(llorch_gen *g);
/* Evaluates the pending token of n generations in one batched forward step. */
llorch_status llorch_gen_eval_batch(llorch_gen *const *gs, int32_t n);
/* Thread-safe: the next sample step ends the generation with CANCELLED. */
void llorch_gen_cancel(llorch_gen *g);
/* Fills r; valid at any time (stop_reason NONE while running). */
void llorch_gen_result_get(const llorch_gen *g, llorch_gen_result *r);
int32_t llorch_gen_prompt_tokens(const llorch_gen *g);

/* The whole loop. on_token is called for every sampled token with the text it
 * released (possibly empty), and for a last step that only releases text;
 * returning false cancels (res->stop_reason CANCELLED, status OK). */
typedef bool (*llorch_gen_on_token)(const llorch_gen_token *tok, void *user);
llorch_status llorch_generate(llorch_ctx *c, const char *prompt, size_t len,
		const llorch_gen_params *p, llorch_gen_on_token on_token, void *user,
		llorch_gen_result *res);

#endif
