/* The generation request of the worker contract (part of llorch.h): the body
 * of llorch-serve's POST /execute and of each line of its --stdio mode.
 *
 * Decoding checks the whole request at once and collects every problem, so a
 * client learns all it must fix from one answer. Pure: no model, no I/O; the
 * vocabulary size and the limits come in as parameters.
 */
#ifndef LLORCH_REQUEST_H
#define LLORCH_REQUEST_H

#define LLORCH_REQ_MAX_JOB_ID 256        /* bytes */
#define LLORCH_REQ_MAX_PROMPT 32768      /* Unicode characters */
#define LLORCH_REQ_MAX_TOKENS 2048
#define LLORCH_REQ_MAX_STOP 4
#define LLORCH_REQ_MAX_STOP_LEN 100      /* bytes */
#define LLORCH_REQ_MAX_PROBLEMS 32
/* Seeds the worker draws itself stay below 2^53, so that every JSON reader,
 * JavaScript's included, reads the reported seed back exactly. */
#define LLORCH_REQ_RANDOM_SEED_MASK ((UINT64_C(1) << 53) - 1)

typedef struct {
	char *job_id;
	char *prompt;              /* NUL-terminated; prompt_len bytes (may hold NULs) */
	size_t prompt_len;
	int32_t max_tokens;        /* default LLORCH_REQ_MAX_TOKENS */
	bool has_max_tokens;       /* false: the default (the caller may lower it
	                            * to what the context has room for) */
	float temperature;         /* default 1 */
	bool has_seed;             /* false: the caller draws one */
	uint64_t seed;
	float top_p;               /* default 1 (off) */
	int32_t top_k;             /* default 0 (off) */
	float min_p;               /* default 0 (off) */
	float repetition_penalty;  /* default 1 (off) */
	char *stop[LLORCH_REQ_MAX_STOP];
	size_t n_stop;
} llorch_request;

/* One thing wrong with one field. `shape` problems (a missing field, a wrong
 * type) answer 422; range problems 400. */
typedef struct {
	char field[32];            /* "max_tokens", "stop[2]" */
	char constraint[48];       /* "range(1..=2048)", "required", "type(integer)" */
	char message[320];
	char value[112];           /* the offending value as text; "" when none */
	bool has_value;
	bool shape;
} llorch_request_problem;

typedef enum {
	LLORCH_REQ_OK = 0,
	LLORCH_REQ_NOT_JSON,       /* 400, message says where */
	LLORCH_REQ_NOT_OBJECT,     /* 422: JSON, but not an object */
	LLORCH_REQ_PROBLEMS,       /* 422 if any problem is a shape problem, else 400 */
} llorch_request_verdict;

typedef struct {
	llorch_request_verdict verdict;
	char message[320];         /* NOT_JSON / NOT_OBJECT */
	llorch_request_problem problems[LLORCH_REQ_MAX_PROBLEMS];
	size_t n_problems;
	size_t n_dropped;          /* problems beyond the array */
} llorch_request_errors;

/* Decodes and checks len bytes of JSON against the contract's table; n_vocab
 * bounds top_k. On LLORCH_REQ_OK *out is filled (free with
 * llorch_request_free); otherwise *out is zeroed and err says why. Integers
 * in 2^63..2^64-1 are accepted for "seed" (a u64 in the contract) although
 * they do not fit the JSON library's integers. */
llorch_request_verdict llorch_request_decode(const char *body, size_t len, int32_t n_vocab,
		llorch_request *out, llorch_request_errors *err);
void llorch_request_free(llorch_request *r);

/* Appends a range problem found after decoding (e.g. the prompt's tokens plus
 * max_tokens overflowing the context) and sets verdict PROBLEMS. */
void llorch_request_add_problem(llorch_request_errors *err, const char *field,
		const char *constraint, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The HTTP status the contract gives err: 400, 422. */
int llorch_request_http_status(const llorch_request_errors *err);

/* The answer body, malloc'd, NUL-terminated:
 * {"errors":[{"field","constraint","message","value"},...]} for PROBLEMS,
 * {"error":{"code":"INVALID_REQUEST","message":...}} otherwise. NULL when
 * out of memory. */
char *llorch_request_errors_json(const llorch_request_errors *err);

#endif
