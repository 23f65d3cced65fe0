/* llorch — LLM inference on CPU as a family of small Unix tools.
 *
 * The one public header of libllorch. Conventions, shared by every module:
 *  - Functions that can fail return llorch_status: 0 is success, negative an error.
 *    On error, llorch_last_error() gives a message naming the problem (thread-local).
 *  - The library never prints and never exits. Diagnostics go through the log
 *    callback set with llorch_set_log(); by default nothing is logged.
 *  - Opaque handles come in pairs: llorch_X_load/new() and llorch_X_free().
 *    Every _free() accepts NULL.
 *  - Tensor shapes are written in ggml order: ne[0] is the contiguous dimension,
 *    so a weight (n_out, n_in) is stored as n_out rows of n_in values.
 */
#ifndef LLORCH_H
#define LLORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LLORCH_VERSION "0.1.0"

typedef enum {
	LLORCH_OK = 0,
	LLORCH_E_INVALID = -1,     /* a bad argument from the caller */
	LLORCH_E_NOMEM = -2,       /* an allocation failed */
	LLORCH_E_IO = -3,          /* open, read, write or mmap failed */
	LLORCH_E_FORMAT = -4,      /* malformed file or data */
	LLORCH_E_UNSUPPORTED = -5, /* well-formed, but not something we run */
	LLORCH_E_NOTFOUND = -6,    /* a key, tensor or file that is not there */
	LLORCH_E_TYPE = -7,        /* a metadata value of the wrong type */
	LLORCH_E_RANGE = -8,       /* out of range: token id, context overflow... */
	LLORCH_E_CANCELLED = -9,   /* stopped by an abort callback or flag */
	LLORCH_E_TIMEOUT = -10,    /* a deadline passed */
} llorch_status;

/* A short fixed name for a status ("format error"...). */
const char *llorch_status_str(llorch_status st);

/* The <sysexits.h> code a tool should exit with for this status
 * (FORMAT/TYPE/UNSUPPORTED/RANGE -> 65, IO -> 74 or 66 for NOTFOUND, ...). */
int llorch_status_exit_code(llorch_status st);

/* The message of the last error in this thread; "" when none. */
const char *llorch_last_error(void);

typedef enum {
	LLORCH_LOG_DEBUG = 0,
	LLORCH_LOG_INFO = 1,
	LLORCH_LOG_WARN = 2,
	LLORCH_LOG_ERROR = 3,
} llorch_log_level;

typedef void (*llorch_log_fn)(llorch_log_level level, const char *msg, void *user);

/* Sets the process-wide log callback (NULL: silence). Not thread-safe against
 * concurrent logging: set it once at start-up. */
void llorch_set_log(llorch_log_fn fn, void *user);

#include "llorch_gguf.h"
#include "llorch_dtype.h"
#include "llorch_tokenizer.h"
#include "llorch_model.h"
#include "llorch_sampler.h"
#include "llorch_generate.h"
#include "llorch_request.h"
#include "llorch_convert.h"

#ifdef __cplusplus
}
#endif
#endif
