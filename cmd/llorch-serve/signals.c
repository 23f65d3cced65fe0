/* SIGTERM/SIGINT through a self-pipe: the handler only writes the signal's
 * number to a pipe, and one thread waits on it. Blocking the signals and
 * calling sigwait() would be simpler, but a thread the process did not
 * start with our mask (a sanitizer's, a library's) would then take the
 * signal and die of it. POST /shutdown writes to the same pipe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "serve.h"

static int pipe_fd[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (write(pipe_fd[1], &b, 1) < 0) {
		/* the pipe is full: a shutdown is already on its way */
	}
	errno = saved;
}

int signals_install(void)
{
	struct sigaction sa;

	if (pipe2(pipe_fd, O_CLOEXEC) != 0)
		return -1;
	fcntl(pipe_fd[1], F_SETFL, O_NONBLOCK);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
		return -1;
	/* a client hanging up must never kill the worker */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int signals_wait(void)
{
	unsigned char b;

	for (;;) {
		ssize_t n = read(pipe_fd[0], &b, 1);

		if (n == 1)
			return b;
		if (n < 0 && errno == EINTR)
			continue;
		return SIGTERM;
	}
}

void signals_request_shutdown(void)
{
	on_signal(SIGTERM);
}

void signals_wake(void)
{
	on_signal(0);
}

const char *signals_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : "SIGTERM";
}
