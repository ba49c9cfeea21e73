/*
 * loop.c: what the commands' poll loops share: SIGINT and SIGTERM through
 * a self-pipe (so that poll(2) wakes for them and no handler does more
 * than write a byte), the group's descriptors, and poll timeouts from
 * absolute deadlines.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "opts.h"

static int	 opts_sigpipe[2] = { -1, -1 };

static void
opts_onsignal(int sig)
{
	int		 saved = errno;
	unsigned char	 c = sig;

	if (write(opts_sigpipe[1], &c, 1) == -1) {
		/* the pipe is full: a wakeup is pending anyway */
	}
	errno = saved;
}

int
opts_signals(void)
{
	struct sigaction	 sa;

	if (pipe2(opts_sigpipe, O_NONBLOCK | O_CLOEXEC) == -1)
		err(EX_OSERR, "pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = opts_onsignal;
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		err(EX_OSERR, "sigaction");
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		err(EX_OSERR, "sigaction");
	return opts_sigpipe[0];
}

int
opts_signal_fd(void)
{
	return opts_sigpipe[0];
}

int
opts_signal_next(int fd, int *sig)
{
	unsigned char	 buf[64];
	ssize_t		 n;
	int		 got = 0;

	static uint64_t	 first;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		got = buf[n - 1];
	if (!got)
		return 0;
	if (sig != NULL)
		*sig = got;
	if (first == 0) {
		first = to_now();
		return 1;
	}
	/*
	 * Not a signal that comes within a second of the first: timeout(1)
	 * signals both us and our process group, and that is one request,
	 * not two.
	 */
	return to_now() - first > 1000000000ULL ? 2 : 0;
}

int
opts_signalled(int fd)
{
	switch (opts_signal_next(fd, NULL)) {
	case 1:
		return 1;
	case 2:
		/* a second signal stops us at once */
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
		break;
	}
	return 0;
}

int
opts_pollfds(struct to_group *g, struct pollfd **pfd, int *n, int first)
{
	struct pollfd	*p;
	int		 have;

	for (;;) {
		have = to_pollfds(g, *pfd + first, *n - first);
		if (have <= *n - first)
			return first + have;
		if ((p = reallocarray(*pfd, first + have, sizeof(*p))) == NULL)
			err(EX_OSERR, NULL);
		*pfd = p;
		*n = first + have;
	}
}

int
opts_poll_ms(uint64_t now, uint64_t deadline)
{
	uint64_t	 ms;

	if (deadline == UINT64_MAX)
		return -1;
	if (deadline <= now)
		return 0;
	ms = (deadline - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}
