/* Decoding and checking generation requests; see llorch_request.h. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "internal.h"
#include "llorch_request.h"

#define MAX_WRAPPED 8

/* Integer literals in [2^63, 2^64) that were rewritten as their int64
 * two's complement before jansson (whose integers are int64) saw them. */
typedef struct {
	int64_t v[MAX_WRAPPED];
	size_t n;
} wrapped_ints;

static bool is_wrapped(const wrapped_ints *w, int64_t v)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->v[i] == v)
			return true;
	return false;
}

/* Length of the integer literal at s[0..n) (digits only, JSON rules: no
 * leading zero); 0 when s does not start an integer literal that stays an
 * integer (a '.', 'e' or 'E' follows). */
static size_t int_literal(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 0 || (i > 1 && s[0] == '0'))
		return 0;
	if (i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
		return 0;
	return i;
}

static bool parse_u64_digits(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Copies the JSON text, rewriting non-negative integer literals above
 * INT64_MAX (and within u64) outside strings. Returns NULL when there is
 * nothing to rewrite (use the input as is) or no memory (*oom). */
static char *rewrite_big_ints(const char *s, size_t n, size_t *out_n, wrapped_ints *w, bool *oom)
{
	char *out = NULL;
	size_t o = 0, copied = 0;
	bool in_str = false;

	*oom = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		size_t len;
		uint64_t u;

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
			continue;
		}
		if (c == '-') {
			/* a negative literal: skip it whole, jansson judges it */
			while (i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
				i++;
			continue;
		}
		if (c < '0' || c > '9')
			continue;
		len = int_literal(s + i, n - i);
		if (len == 0 || len < 19 || !parse_u64_digits(s + i, len, &u) || u <= INT64_MAX ||
				w->n == MAX_WRAPPED) {
			while (i + 1 < n && ((s[i + 1] >= '0' && s[i + 1] <= '9') || s[i + 1] == '.' ||
					s[i + 1] == 'e' || s[i + 1] == 'E' || s[i + 1] == '+' || s[i + 1] == '-'))
				i++;
			continue;
		}
		if (!out) {
			/* each rewrite grows the text by at most 1 byte */
			out = malloc(n + MAX_WRAPPED + 1);
			if (!out) {
				*oom = true;
				return NULL;
			}
		}
		memcpy(out + o, s + copied, i - copied);
		o += i - copied;
		w->v[w->n] = (int64_t)(u - (uint64_t)INT64_MAX - 1) + INT64_MIN;
		o += (size_t)sprintf(out + o, "%" PRId64, w->v[w->n]);
		w->n++;
		i += len - 1;
		copied = i + 1;
	}
	if (!out)
		return NULL;
	memcpy(out + o, s + copied, n - copied);
	o += n - copied;
	out[o] = '\0';
	*out_n = o;
	return out;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "value";
}

/* Cuts s (NUL-terminated, cap bytes of room) at a UTF-8 character boundary
 * at most max bytes long, marking the cut with "...". */
static void truncate_utf8(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	n = max - 3;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	memcpy(s + n, "...", 4);
}

/* The value as compact JSON text, shortened to fit a problem's value. */
static void value_text(const json_t *v, const wrapped_ints *w, char *buf, size_t cap)
{
	char tmp[512], *full;
	size_t n;

	if (json_is_integer(v) && json_integer_value(v) < 0 && is_wrapped(w, json_integer_value(v))) {
		snprintf(buf, cap, "%" PRIu64, (uint64_t)json_integer_value(v));
		return;
	}
	/* jansson leaves a too small buffer undefined: dump whole, then cut */
	full = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
	n = full ? strlen(full) : 0;
	if (n > sizeof tmp - 1)
		n = sizeof tmp - 1;
	memcpy(tmp, full ? full : "", n);
	tmp[n] = '\0';
	free(full);
	truncate_utf8(tmp, cap - 1);
	snprintf(buf, cap, "%s", tmp);
}

static llorch_request_problem *new_problem(llorch_request_errors *err, const char *field,
		const char *constraint, bool shape)
{
	llorch_request_problem *p;

	err->verdict = LLORCH_REQ_PROBLEMS;
	if (err->n_problems == LLORCH_REQ_MAX_PROBLEMS) {
		err->n_dropped++;
		return NULL;
	}
	p = &err->problems[err->n_problems++];
	memset(p, 0, sizeof *p);
	snprintf(p->field, sizeof p->field, "%s", field);
	snprintf(p->constraint, sizeof p->constraint, "%s", constraint);
	p->shape = shape;
	return p;
}

void llorch_request_add_problem(llorch_request_errors *err, const char *field,
		const char *constraint, const char *value, const char *fmt, ...)
{
	llorch_request_problem *p = new_problem(err, field, constraint, false);
	va_list ap;

	if (!p)
		return;
	va_start(ap, fmt);
	vsnprintf(p->message, sizeof p->message, fmt, ap);
	va_end(ap);
	if (value) {
		snprintf(p->value, sizeof p->value, "%s", value);
		p->has_value = true;
	}
}

typedef struct {
	const json_t *obj;
	const wrapped_ints *w;
	llorch_request_errors *err;
} checker;

/* The field's value when present and of a JSON type in `want` (a mask of
 * 1 << json_type); NULL when absent or null (then *missing tells which),
 * or of the wrong type (a shape problem is recorded). */
static const json_t *get(checker *ck, const char *field, unsigned want, const char *want_name,
		const char *article, bool required)
{
	const json_t *v = json_object_get(ck->obj, field);
	llorch_request_problem *p;

	if (!v || json_is_null(v)) {
		if (required && (p = new_problem(ck->err, field, "required", true)))
			snprintf(p->message, sizeof p->message, "%s is required", field);
		return NULL;
	}
	if (want & (1u << json_typeof(v)))
		return v;
	if ((p = new_problem(ck->err, field, "", true))) {
		snprintf(p->constraint, sizeof p->constraint, "type(%s)", want_name);
		snprintf(p->message, sizeof p->message, "%s must be %s %s (got %s)",
				field, article, want_name, type_name(v));
		value_text(v, ck->w, p->value, sizeof p->value);
		p->has_value = true;
	}
	return NULL;
}

#define WANT_STRING (1u << JSON_STRING)
#define WANT_INTEGER (1u << JSON_INTEGER)
#define WANT_NUMBER ((1u << JSON_INTEGER) | (1u << JSON_REAL))
#define WANT_ARRAY (1u << JSON_ARRAY)

static void range_problem(checker *ck, const char *field, const char *constraint,
		const json_t *v, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A range problem whose message ends in " (got VALUE)". */
static void range_problem(checker *ck, const char *field, const char *constraint,
		const json_t *v, const char *fmt, ...)
{
	llorch_request_problem *p = new_problem(ck->err, field, constraint, false);
	char head[128];
	va_list ap;

	if (!p)
		return;
	value_text(v, ck->w, p->value, sizeof p->value);
	p->has_value = true;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	snprintf(p->message, sizeof p->message, "%s (got %s)", head, p->value);
}

static void check_int(checker *ck, const char *field, long long lo, long long hi,
		int32_t *out)
{
	const json_t *v = get(ck, field, WANT_INTEGER, "integer", "an", false);
	long long x;
	char c[48];

	if (!v)
		return;
	x = json_integer_value(v);
	snprintf(c, sizeof c, "range(%lld..=%lld)", lo, hi);
	if (x < lo && is_wrapped(ck->w, x))
		range_problem(ck, field, c, v, "%s must be at most %lld", field, hi);
	else if (x < lo)
		range_problem(ck, field, c, v, "%s must be at least %lld", field, lo);
	else if (x > hi)
		range_problem(ck, field, c, v, "%s must be at most %lld", field, hi);
	else
		*out = (int32_t)x;
}

static void check_real(checker *ck, const char *field, double lo, double hi, float *out)
{
	const json_t *v = get(ck, field, WANT_NUMBER, "number", "a", false);
	double x;
	char c[48];

	if (!v)
		return;
	x = json_number_value(v);
	if (json_is_integer(v) && json_integer_value(v) < 0 && is_wrapped(ck->w, json_integer_value(v)))
		x = (double)(uint64_t)json_integer_value(v);
	snprintf(c, sizeof c, "range(%.1f..=%.1f)", lo, hi);
	if (!(x >= lo && x <= hi))
		range_problem(ck, field, c, v, "%s must be between %.1f and %.1f", field, lo, hi);
	else
		*out = (float)x;
}

static size_t utf8_chars(const char *s, size_t n)
{
	size_t chars = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			chars++;
	return chars;
}

static char *dup_string(const json_t *v)
{
	size_t n = json_string_length(v);
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, json_string_value(v), n);
		s[n] = '\0';
	}
	return s;
}

static void check_job_id(checker *ck, llorch_request *r)
{
	const json_t *v = get(ck, "job_id", WANT_STRING, "string", "a", true);
	llorch_request_problem *p;
	size_t n;

	if (!v)
		return;
	n = json_string_length(v);
	if (n == 0) {
		if ((p = new_problem(ck->err, "job_id", "non_empty", false))) {
			snprintf(p->message, sizeof p->message, "job_id must not be empty");
			p->has_value = true;
		}
	} else if (n > LLORCH_REQ_MAX_JOB_ID) {
		if ((p = new_problem(ck->err, "job_id", "max_length(256)", false))) {
			snprintf(p->value, sizeof p->value, "%zu", n);
			p->has_value = true;
			snprintf(p->message, sizeof p->message,
					"job_id must be at most %d bytes (got %zu)", LLORCH_REQ_MAX_JOB_ID, n);
		}
	} else if (memchr(json_string_value(v), '\0', n)) {
		if ((p = new_problem(ck->err, "job_id", "no_nul", false))) {
			snprintf(p->message, sizeof p->message, "job_id must not contain U+0000");
			value_text(v, ck->w, p->value, sizeof p->value);
			p->has_value = true;
		}
	} else {
		r->job_id = dup_string(v);
	}
}

static void check_prompt(checker *ck, llorch_request *r)
{
	const json_t *v = get(ck, "prompt", WANT_STRING, "string", "a", true);
	llorch_request_problem *p;
	size_t chars;

	if (!v)
		return;
	chars = utf8_chars(json_string_value(v), json_string_length(v));
	if (chars < 1 || chars > LLORCH_REQ_MAX_PROMPT) {
		if ((p = new_problem(ck->err, "prompt", "length(1..=32768)", false))) {
			snprintf(p->value, sizeof p->value, "%zu", chars);
			p->has_value = true;
			snprintf(p->message, sizeof p->message,
					"prompt must be 1 to %d characters long (got %zu)",
					LLORCH_REQ_MAX_PROMPT, chars);
		}
		return;
	}
	r->prompt = dup_string(v);
	r->prompt_len = json_string_length(v);
}

static void check_seed(checker *ck, llorch_request *r)
{
	const json_t *v = get(ck, "seed", WANT_INTEGER, "integer", "an", false);
	json_int_t x;

	if (!v)
		return;
	x = json_integer_value(v);
	if (x < 0 && !is_wrapped(ck->w, x)) {
		range_problem(ck, "seed", "range(0..=18446744073709551615)", v,
				"seed must be at least 0");
		return;
	}
	r->has_seed = true;
	r->seed = (uint64_t)x;
}

static void check_stop(checker *ck, llorch_request *r)
{
	const json_t *v = get(ck, "stop", WANT_ARRAY, "array", "an", false);
	llorch_request_problem *p;
	size_t n, i;
	const json_t *s;

	if (!v)
		return;
	n = json_array_size(v);
	if (n > LLORCH_REQ_MAX_STOP && (p = new_problem(ck->err, "stop", "max_count(4)", false))) {
		snprintf(p->value, sizeof p->value, "%zu", n);
		p->has_value = true;
		snprintf(p->message, sizeof p->message, "stop must have at most %d entries (got %zu)",
				LLORCH_REQ_MAX_STOP, n);
	}
	json_array_foreach(v, i, s) {
		char field[32];
		size_t len;

		snprintf(field, sizeof field, "stop[%zu]", i);
		if (!json_is_string(s)) {
			if ((p = new_problem(ck->err, field, "type(string)", true))) {
				snprintf(p->message, sizeof p->message, "%s must be a string (got %s)",
						field, type_name(s));
				value_text(s, ck->w, p->value, sizeof p->value);
				p->has_value = true;
			}
			continue;
		}
		len = json_string_length(s);
		if (len == 0) {
			if ((p = new_problem(ck->err, field, "non_empty", false))) {
				snprintf(p->message, sizeof p->message, "%s must not be empty", field);
				p->has_value = true;
			}
		} else if (len > LLORCH_REQ_MAX_STOP_LEN) {
			if ((p = new_problem(ck->err, field, "max_length(100)", false))) {
				snprintf(p->value, sizeof p->value, "%zu", len);
				p->has_value = true;
				snprintf(p->message, sizeof p->message,
						"%s must be at most %d bytes (got %zu)", field,
						LLORCH_REQ_MAX_STOP_LEN, len);
			}
		} else if (ck->err->verdict == LLORCH_REQ_OK && r->n_stop < LLORCH_REQ_MAX_STOP) {
			r->stop[r->n_stop] = dup_string(s);
			if (r->stop[r->n_stop])
				r->n_stop++;
		}
	}
}

static bool complete(const llorch_request *r)
{
	for (size_t i = 0; i < r->n_stop; i++)
		if (!r->stop[i])
			return false;
	return r->job_id && r->prompt;
}

llorch_request_verdict llorch_request_decode(const char *body, size_t len, int32_t n_vocab,
		llorch_request *r, llorch_request_errors *err)
{
	wrapped_ints w = {.n = 0};
	json_error_t je;
	json_t *root;
	char *text;
	size_t text_n = 0;
	bool oom;
	checker ck;

	memset(r, 0, sizeof *r);
	memset(err, 0, sizeof *err);
	text = rewrite_big_ints(body, len, &text_n, &w, &oom);
	if (oom) {
		err->verdict = LLORCH_REQ_NOT_JSON;
		snprintf(err->message, sizeof err->message, "out of memory reading the request");
		return err->verdict;
	}
	root = json_loadb(text ? text : body, text ? text_n : len, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (!root) {
		/* jansson's text may quote the offending bytes: keep it ASCII */
		for (char *c = je.text; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7F)
				*c = '?';
		err->verdict = LLORCH_REQ_NOT_JSON;
		snprintf(err->message, sizeof err->message,
				"the body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
				je.column);
		return err->verdict;
	}
	if (!json_is_object(root)) {
		err->verdict = LLORCH_REQ_NOT_OBJECT;
		snprintf(err->message, sizeof err->message,
				"the body must be a JSON object (got %s)", type_name(root));
		json_decref(root);
		return err->verdict;
	}

	r->max_tokens = LLORCH_REQ_MAX_TOKENS;
	r->temperature = 1.0f;
	r->top_p = 1.0f;
	r->min_p = 0.0f;
	r->repetition_penalty = 1.0f;
	ck = (checker){.obj = root, .w = &w, .err = err};
	check_job_id(&ck, r);
	check_prompt(&ck, r);
	check_int(&ck, "max_tokens", 1, LLORCH_REQ_MAX_TOKENS, &r->max_tokens);
	r->has_max_tokens = json_object_get(root, "max_tokens") &&
		!json_is_null(json_object_get(root, "max_tokens"));
	check_real(&ck, "temperature", 0.0, 2.0, &r->temperature);
	check_seed(&ck, r);
	check_real(&ck, "top_p", 0.0, 1.0, &r->top_p);
	check_int(&ck, "top_k", 0, n_vocab, &r->top_k);
	check_real(&ck, "min_p", 0.0, 1.0, &r->min_p);
	check_real(&ck, "repetition_penalty", 0.0, 2.0, &r->repetition_penalty);
	check_stop(&ck, r);
	json_decref(root);

	if (err->verdict == LLORCH_REQ_OK && !complete(r)) {
		err->verdict = LLORCH_REQ_NOT_JSON;
		snprintf(err->message, sizeof err->message, "out of memory reading the request");
	}
	if (err->verdict != LLORCH_REQ_OK)
		llorch_request_free(r);
	return err->verdict;
}

void llorch_request_free(llorch_request *r)
{
	if (!r)
		return;
	free(r->job_id);
	free(r->prompt);
	for (size_t i = 0; i < r->n_stop; i++)
		free(r->stop[i]);
	memset(r, 0, sizeof *r);
}

int llorch_request_http_status(const llorch_request_errors *err)
{
	switch (err->verdict) {
	case LLORCH_REQ_OK:
		return 200;
	case LLORCH_REQ_NOT_JSON:
		return 400;
	case LLORCH_REQ_NOT_OBJECT:
		return 422;
	case LLORCH_REQ_PROBLEMS:
		for (size_t i = 0; i < err->n_problems; i++)
			if (err->problems[i].shape)
				return 422;
		return 400;
	}
	return 400;
}

char *llorch_request_errors_json(const llorch_request_errors *err)
{
	json_t *root, *list;
	char *s;

	if (err->verdict != LLORCH_REQ_PROBLEMS) {
		root = json_pack("{s:{s:s, s:s}}", "error", "code", "INVALID_REQUEST",
				"message", err->message);
	} else {
		root = json_object();
		list = json_array();
		json_object_set_new(root, "errors", list);
		for (size_t i = 0; i < err->n_problems; i++) {
			const llorch_request_problem *p = &err->problems[i];
			json_t *o = json_pack("{s:s, s:s, s:s}", "field", p->field,
					"constraint", p->constraint, "message", p->message);

			if (o && p->has_value)
				json_object_set_new(o, "value", json_string(p->value));
			json_array_append_new(list, o);
		}
		if (err->n_dropped)
			json_object_set_new(root, "errors_omitted", json_integer((json_int_t)err->n_dropped));
	}
	if (!root)
		return NULL;
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}
