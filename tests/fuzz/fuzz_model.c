/* libFuzzer harness for model loading and the forward pass: the input is a
 * GGUF file; whatever loads gets a small context and evaluates a few tokens
 * on the fast and the reference path, so that a model whose shapes or
 * hyperparameters slip past validation shows up under ASan/UBSan.
 *
 *   make fuzz && build-fuzz/fuzz_model -max_total_time=120 CORPUS_DIR SEED_DIR
 * Seeds: small models from `llorch-gguf random` (any arch and type). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "llorch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void evaluate(const llorch_model *m)
{
	const llorch_hparams *hp = llorch_model_hparams(m);
	llorch_ctx_params p = llorch_ctx_default_params();
	llorch_ctx *c;
	int32_t toks[3] = { 0, hp->n_vocab - 1, hp->n_vocab / 2 };
	float *logits;

	/* keep the fuzzer fast: only small models run */
	if ((int64_t)hp->n_embd * hp->n_layer * hp->n_vocab > (1 << 22) ||
			(int64_t)hp->n_ff * hp->n_embd > (1 << 20))
		return;
	p.n_ctx = 4;
	p.n_threads = 1;
	if (llorch_ctx_new(m, &p, &c) != LLORCH_OK)
		return;
	if ((logits = malloc((size_t)hp->n_vocab * sizeof *logits))) {
		llorch_ctx_eval(c, toks, 3, logits, false);
		llorch_ctx_truncate(c, 0);
		llorch_ctx_eval_ref(c, toks, 2, logits, false);
		free(logits);
	}
	llorch_ctx_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* llorch_model_load takes a path: hand it an in-memory file */
	int fd = memfd_create("fuzz_model", 0);
	char path[64];
	llorch_model *m;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if (llorch_model_load(path, &m) == LLORCH_OK) {
			evaluate(m);
			llorch_model_free(m);
		}
	}
	close(fd);
	return 0;
}
