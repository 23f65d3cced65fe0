/* Re-quantization: every matrix of a GGUF to one type, vectors to F32,
 * metadata copied. Tensors are converted row by row while they are written,
 * from the mapped input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct {
	const llorch_gguf_tensor *src;
	llorch_dtype to;
	int64_t n_rows;        /* elements / ne[0] */
} quant_job;

static llorch_status convert_tensor(void *user, void *dst, size_t nbytes)
{
	const quant_job *j = user;
	const llorch_gguf_tensor *t = j->src;
	const int64_t cols = t->ne[0];
	size_t in_row, out_row, total = 0;
	float *row;
	llorch_status st;

	if ((st = llorch_dtype_row_bytes(t->type, cols, &in_row)) ||
	    (st = llorch_dtype_row_bytes(j->to, cols, &out_row)))
		return st;
	if (!llorch_mul_size(out_row, (size_t)j->n_rows, &total) || total != nbytes)
		return llorch_error(LLORCH_E_INVALID, "quantize: tensor '%s': %zu bytes asked for, %zu expected",
				t->name, nbytes, total);
	row = malloc((size_t)cols * sizeof *row);
	if (!row)
		return llorch_error(LLORCH_E_NOMEM, "quantize: tensor '%s': out of memory", t->name);
	for (int64_t r = 0; r < j->n_rows && st == LLORCH_OK; r++) {
		const unsigned char *in = (const unsigned char *)t->data + (size_t)r * in_row;
		unsigned char *out = (unsigned char *)dst + (size_t)r * out_row;

		st = llorch_dequantize_row(t->type, in, row, cols);
		if (st == LLORCH_OK)
			st = llorch_quantize_row(j->to, row, out, cols);
	}
	free(row);
	if (st) {
		char why[512];

		snprintf(why, sizeof why, "%s", llorch_last_error());
		return llorch_error(st, "quantize: tensor '%s': %s", t->name, why);
	}
	return LLORCH_OK;
}

/* The type a tensor gets, or its own with a warning when it cannot. */
static llorch_dtype target_type(const llorch_gguf_tensor *t, llorch_dtype type, int64_t *n_kept)
{
	llorch_dtype want = t->n_dims >= 2 ? type : LLORCH_DT_F32;

	if (want == t->type)
		return want;
	if (!llorch_dtype_supported(t->type)) {
		llorch_log(LLORCH_LOG_WARN, "tensor '%s' stays %s: a type we cannot convert from",
				t->name, llorch_dtype_name(t->type));
		++*n_kept;
		return t->type;
	}
	if (t->ne[0] % (int64_t)llorch_dtype_block_size(want) != 0) {
		llorch_log(LLORCH_LOG_WARN, "tensor '%s' stays %s: its rows of %lld are not a multiple "
				"of %s's block size %zu", t->name, llorch_dtype_name(t->type),
				(long long)t->ne[0], llorch_dtype_name(want), llorch_dtype_block_size(want));
		++*n_kept;
		return t->type;
	}
	return want;
}

llorch_status llorch_model_quantize(const char *in_path, const char *out_path, llorch_dtype type,
		int64_t *n_kept)
{
	llorch_gguf *g = NULL;
	llorch_gguf_writer *w = NULL;
	quant_job *jobs = NULL;
	llorch_ftype ftype;
	int64_t n_tensors, kept = 0;
	llorch_status st;

	if (!in_path || !out_path)
		return llorch_error(LLORCH_E_INVALID, "quantize: NULL path");
	if (!llorch_dtype_known(type) || !llorch_dtype_supported(type) || !llorch_ftype_from_dtype(type, &ftype))
		return llorch_error(LLORCH_E_INVALID, "quantize: type %s is not one of f32, f16, bf16, q8_0, q4_0",
				llorch_dtype_name(type));
	if ((st = llorch_gguf_load(in_path, &g)) || (st = llorch_gguf_writer_new(&w)))
		goto out;
	for (int64_t i = 0; i < llorch_gguf_n_kv(g); i++)
		if ((st = llorch_gguf_copy_kv(w, g, i)))
			goto out;
	if ((st = llorch_gguf_set_u32(w, "general.file_type", ftype)))
		goto out;
	if ((type == LLORCH_DT_Q8_0 || type == LLORCH_DT_Q4_0) &&
	    (st = llorch_gguf_set_u32(w, "general.quantization_version", 2)))
		goto out;
	n_tensors = llorch_gguf_n_tensors(g);
	jobs = calloc(n_tensors > 0 ? (size_t)n_tensors : 1, sizeof *jobs);
	if (!jobs) {
		st = llorch_error(LLORCH_E_NOMEM, "quantize: out of memory");
		goto out;
	}
	for (int64_t i = 0; i < n_tensors; i++) {
		const llorch_gguf_tensor *t = llorch_gguf_tensor_at(g, i);
		quant_job *j = &jobs[i];

		j->src = t;
		j->to = target_type(t, type, &kept);
		j->n_rows = 1;
		for (uint32_t d = 1; d < t->n_dims; d++)
			j->n_rows *= t->ne[d]; /* the reader checked the product fits */
		if (j->to == t->type)
			st = llorch_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
		else
			st = llorch_gguf_add_tensor_fill(w, t->name, j->to, t->n_dims, t->ne, convert_tensor, j);
		if (st)
			goto out;
	}
	st = llorch_gguf_writer_write(w, out_path);
	if (st == LLORCH_OK && n_kept)
		*n_kept = kept;
out:
	free(jobs);
	llorch_gguf_writer_free(w);
	llorch_gguf_free(g);
	return st;
}
