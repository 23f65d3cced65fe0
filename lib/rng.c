/* Counter-based randomness for sampling: the draw for step n is a pure
 * function of (seed, n), so a generation split across processes (the
 * llorch-forward | llorch-sample loop) or resumed later draws the same
 * numbers as one run in a single process. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijection on 64 bits
 * with full avalanche, so nearby inputs give unrelated outputs. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double llorch_rng_uniform(uint64_t seed, uint64_t step)
{
	/* Mixing the seed before adding the step keeps (seed, step) and
	 * (seed + 1, step - 1) apart, which seed ^ step or seed + step would not. */
	uint64_t x = mix64(mix64(seed ^ 0x6a09e667f3bcc908ULL) + (step + 1) * 0x9e3779b97f4a7c15ULL);

	return (double)(x >> 11) * 0x1.0p-53; /* 53 bits: every double in [0, 1) on the grid */
}

uint64_t llorch_random_seed(void)
{
	uint64_t s = 0;
	size_t got = 0;

	while (got < sizeof s) {
		ssize_t r = getrandom((char *)&s + got, sizeof s - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)r;
	}
	if (got == sizeof s)
		return s;
	/* No getrandom (old kernel, seccomp): time and pid still make seeds of
	 * separate requests differ, which is all a seed needs to be. */
	llorch_log(LLORCH_LOG_WARN, "getrandom failed; seeding from the clock");
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return mix64((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
	       mix64((uint64_t)getpid());
}
