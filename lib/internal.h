/* Internal helpers shared by the library's files; not installed. */
#ifndef LLORCH_INTERNAL_H
#define LLORCH_INTERNAL_H

#include "llorch.h"

#if defined(__GNUC__)
#define LLORCH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LLORCH_PRINTF(a, b)
#endif

/* Records a formatted message as this thread's last error and returns st,
 * so that failures read: return llorch_error(LLORCH_E_FORMAT, "..."); */
llorch_status llorch_error(llorch_status st, const char *fmt, ...) LLORCH_PRINTF(2, 3);

/* Logs through the user's callback, if any. */
void llorch_log(llorch_log_level level, const char *fmt, ...) LLORCH_PRINTF(2, 3);

/* Overflow-checked size arithmetic: return false when the result would not fit. */
static inline bool llorch_mul_size(size_t a, size_t b, size_t *out)
{
	if (a != 0 && b > SIZE_MAX / a)
		return false;
	*out = a * b;
	return true;
}

static inline bool llorch_add_size(size_t a, size_t b, size_t *out)
{
	if (b > SIZE_MAX - a)
		return false;
	*out = a + b;
	return true;
}

/* Monotonic clock in milliseconds / nanoseconds. */
int64_t llorch_now_ms(void);
int64_t llorch_now_ns(void);

#endif
