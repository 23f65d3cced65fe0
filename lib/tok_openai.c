/* Loads OpenAI's GPT-2 tokenizer files: encoder.json (token string -> id)
 * and vocab.bpe (one merge "a b" per line, by rank, after a #version line). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define ENDOFTEXT "<|endoftext|>"

typedef struct {
	char *data;
	size_t len;
	const char **lines;
	size_t *lens;
	size_t n;
} merge_file;

static llorch_status read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return llorch_error(errno == ENOENT ? LLORCH_E_NOTFOUND : LLORCH_E_IO,
				"%s: %s", path, strerror(errno));
	for (;;) {
		size_t got;

		if (n == cap) {
			char *b;

			cap = cap ? cap * 2 : 1 << 16;
			if (cap > (size_t)1 << 31 || !(b = realloc(buf, cap))) {
				free(buf);
				fclose(f);
				return llorch_error(LLORCH_E_NOMEM, "%s: too large to read", path);
			}
			buf = b;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return llorch_error(LLORCH_E_IO, "%s: read error", path);
	}
	fclose(f);
	*data = buf;
	*len = n;
	return LLORCH_OK;
}

static llorch_status load_merges(const char *path, merge_file *m)
{
	llorch_status st = read_file(path, &m->data, &m->len);
	size_t cap = 0;

	if (st != LLORCH_OK)
		return st;
	for (size_t i = 0; i < m->len; i++)
		cap += m->data[i] == '\n';
	cap++;
	m->lines = malloc(cap * sizeof *m->lines);
	m->lens = malloc(cap * sizeof *m->lens);
	if (!m->lines || !m->lens)
		return llorch_error(LLORCH_E_NOMEM, "out of memory for %zu merges", cap);
	for (size_t i = 0, lineno = 1; i < m->len; lineno++) {
		const char *line = m->data + i;
		const char *nl = memchr(line, '\n', m->len - i);
		size_t len = nl ? (size_t)(nl - line) : m->len - i;

		i += len + 1;
		if (len && line[len - 1] == '\r')
			len--;
		if (len == 0 || (lineno == 1 && strncmp(line, "#version", 8 < len ? 8 : len) == 0))
			continue;
		m->lines[m->n] = line;
		m->lens[m->n] = len;
		m->n++;
	}
	return LLORCH_OK;
}

llorch_status llorch_tokenizer_load_gpt2_files(const char *encoder_json,
		const char *vocab_bpe, llorch_tokenizer **out)
{
	json_error_t je;
	json_t *enc;
	merge_file mf = {0};
	const char **tokens = NULL;
	size_t *lens = NULL, n;
	int32_t *types = NULL;
	int64_t eot = -1;
	llorch_status st;
	const char *key;
	json_t *val;

	*out = NULL;
	enc = json_load_file(encoder_json, 0, &je);
	if (!enc)
		return llorch_error(LLORCH_E_FORMAT, "%s:%d: %s", encoder_json, je.line, je.text);
	if (!json_is_object(enc)) {
		json_decref(enc);
		return llorch_error(LLORCH_E_FORMAT, "%s: not a JSON object", encoder_json);
	}
	n = json_object_size(enc);
	if (n == 0 || n > TOK_MAX_VOCAB) {
		json_decref(enc);
		return llorch_error(LLORCH_E_FORMAT, "%s: %zu tokens", encoder_json, n);
	}
	tokens = calloc(n, sizeof *tokens);
	lens = calloc(n, sizeof *lens);
	types = malloc(n * sizeof *types);
	if (!tokens || !lens || !types) {
		st = llorch_error(LLORCH_E_NOMEM, "out of memory for %zu tokens", n);
		goto out;
	}
	json_object_foreach(enc, key, val) {
		json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;

		if (id < 0 || (size_t)id >= n) {
			st = llorch_error(LLORCH_E_FORMAT, "%s: token \"%s\" has no id in [0, %zu)",
					encoder_json, key, n);
			goto out;
		}
		if (tokens[id]) {
			st = llorch_error(LLORCH_E_FORMAT, "%s: id %lld is given twice",
					encoder_json, (long long)id);
			goto out;
		}
		tokens[id] = key;
		lens[id] = strlen(key);
		types[id] = strcmp(key, ENDOFTEXT) == 0 ? TOK_TYPE_CONTROL : TOK_TYPE_NORMAL;
		if (types[id] == TOK_TYPE_CONTROL)
			eot = id;
	}
	if ((st = load_merges(vocab_bpe, &mf)) != LLORCH_OK)
		goto out;
	st = tok_build(&(tok_spec){
		.kind = LLORCH_TOK_GPT2, .n_vocab = n, .tokens = tokens, .token_lens = lens,
		.types = types, .n_merges = mf.n, .merges = mf.lines, .merge_lens = mf.lens,
		.bos = eot, .eos = eot, .unk = -1, .pad = -1, .add_bos = 0, .add_space_prefix = 0,
	}, out);
out:
	json_decref(enc);
	free(tokens);
	free(lens);
	free(types);
	free(mf.data);
	free(mf.lines);
	free(mf.lens);
	return st;
}
