/* libFuzzer harness for the /execute request decoder (llorch-serve's
 * hostile input): any bytes must decode or be refused with an answer body,
 * never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llorch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static llorch_request_errors err;
	llorch_request req;
	char *body;

	if (llorch_request_decode((const char *)data, size, 32000, &req, &err) == LLORCH_REQ_OK) {
		/* what the worker relies on after a successful decode */
		if (!req.job_id || !req.prompt || req.n_stop > LLORCH_REQ_MAX_STOP ||
				req.max_tokens < 1 || req.max_tokens > LLORCH_REQ_MAX_TOKENS ||
				strlen(req.job_id) > LLORCH_REQ_MAX_JOB_ID)
			abort();
		for (size_t i = 0; i < req.n_stop; i++)
			if (!req.stop[i] || !*req.stop[i] || strlen(req.stop[i]) > LLORCH_REQ_MAX_STOP_LEN)
				abort();
		llorch_request_free(&req);
		return 0;
	}
	if (llorch_request_http_status(&err) != 400 && llorch_request_http_status(&err) != 422)
		abort();
	body = llorch_request_errors_json(&err);
	if (!body)
		abort();
	free(body);
	return 0;
}
