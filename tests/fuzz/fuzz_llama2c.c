/* libFuzzer harness for the llama2.c converter (llorch-gguf convert-llama2c):
 * the input is split into a checkpoint and a tokenizer.bin (the first two
 * bytes give the split), both hostile; conversion must succeed or fail with
 * a message, never crash, leak or read out of bounds, and what it writes
 * must load back.
 *
 *   make build-fuzz/fuzz_llama2c && build-fuzz/fuzz_llama2c -max_total_time=60 CORPUS_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llorch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ckpt[64], tok[64], out[64];
	llorch_llama2c_config c;
	llorch_gguf *g;
	size_t split;

	if (size < 2)
		return 0;
	split = (size_t)(data[0] | data[1] << 8);
	data += 2;
	size -= 2;
	if (split > size)
		split = size;
	snprintf(ckpt, sizeof ckpt, "/tmp/fuzz_llama2c.%d.bin", (int)getpid());
	snprintf(tok, sizeof tok, "/tmp/fuzz_llama2c.%d.tok", (int)getpid());
	snprintf(out, sizeof out, "/tmp/fuzz_llama2c.%d.gguf", (int)getpid());
	put(ckpt, data, split);
	put(tok, data + split, size - split);
	if (llorch_convert_llama2c(ckpt, tok, out, "fuzz", &c) == LLORCH_OK) {
		if (llorch_gguf_load(out, &g) != LLORCH_OK)
			abort();
		if (llorch_gguf_n_tensors(g) != 2 + 9 * (int64_t)c.n_layers + (c.vocab_size < 0))
			abort();
		llorch_gguf_free(g);
		unlink(out);
	} else if (!*llorch_last_error()) {
		abort(); /* every failure says why */
	}
	unlink(ckpt);
	unlink(tok);
	return 0;
}
