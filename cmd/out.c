/*
 * out.c: stdout for delivered records, written without blocking so that
 * a slow reader pauses the member (out_pace) instead of stopping its poll
 * loop; see out.h.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "opts.h"
#include "out.h"

/* stdout's flags before out_init(), for out_restore() at exit */
static int	 out_restore_fd = -1, out_restore_flags;

static void
out_restore(void)
{
	if (out_restore_fd != -1)
		(void)fcntl(out_restore_fd, F_SETFL, out_restore_flags);
}

/*
 * stdout goes non-blocking only if it is a pipe or a socket, where it
 * matters, and gets its flags back at exit; a terminal shared with the
 * shell is left alone (writes to it are blocking, which is fine).
 */
void
out_init(struct out *out, enum frame_mode mode)
{
	struct stat	 st;
	int		 fl;

	memset(out, 0, sizeof(*out));
	out->fd = STDOUT_FILENO;
	out->oflags = -1;
	out->chunk = SIZE_MAX;
	if (opts_stdout_closed())
		errx(EX_IOERR, "stdout: %s", strerror(EBADF));
	if ((out->w = frame_writer_new(mode)) == NULL)
		err(EX_OSERR, "frame_writer_new");
	if (fstat(out->fd, &st) == -1 ||
	    !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return;
	/* whole records, PIPE_BUF at most: a pipe takes all or nothing */
	out->chunk = PIPE_BUF;
	if ((fl = fcntl(out->fd, F_GETFL)) == -1 || (fl & O_NONBLOCK))
		return;
	if (fcntl(out->fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return;
	out->oflags = fl;
	out_restore_fd = out->fd;
	out_restore_flags = fl;
	atexit(out_restore);
}

/*
 * Poll stdout for writing while bytes are pending, and always for errors,
 * so that a reader that went away (POLLERR on a pipe) is noticed even
 * when there is nothing to write.
 */
void
out_pollfd(const struct out *out, struct pollfd *pfd)
{
	size_t	 len;

	(void)frame_writer_pending(out->w, &len);
	pfd->fd = out->fd;
	pfd->events = len > 0 ? POLLOUT : 0;
	pfd->revents = 0;
}

/*
 * Wait until fd takes more bytes, until the deadline at most: 0, or -1
 * with EINTR if a signal came (the self-pipe is readable), so a stuck
 * reader cannot hold off SIGTERM, or ETIMEDOUT.
 */
static int
out_wait(int fd, uint64_t until)
{
	struct pollfd	 pfd[2] = {
		{ .fd = fd, .events = POLLOUT },
		{ .fd = opts_signal_fd(), .events = POLLIN },
	};
	int		 n;

	if ((n = poll(pfd, 2, opts_poll_ms(to_now(), until))) == -1)
		return errno == EINTR ? 0 : -1;
	if (n == 0 && to_now() >= until) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (pfd[0].revents & POLLNVAL) {
		errno = EBADF;
		return -1;
	}
	if (pfd[1].revents & POLLIN) {
		errno = EINTR;
		return -1;
	}
	return 0;
}

int
out_flush(struct out *out, uint64_t until)
{
	const unsigned char *p;
	size_t		 len;
	ssize_t		 n;

	for (;;) {
		p = frame_writer_pending(out->w, &len);
		if (len == 0)
			return 0;
		if (out->chunk != SIZE_MAX)
			len = frame_writer_chunk(out->w, out->chunk);
		if ((n = write(out->fd, p, len)) > 0) {
			frame_writer_consume(out->w, n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			if (until == 0)
				return 0;
			if (out_wait(out->fd, until) == -1)
				return errno == EINTR || errno == ETIMEDOUT ?
				    0 : -1;
			continue;
		}
		if (n == 0)
			errno = EIO;
		return -1;
	}
}

int
out_cut(const struct out *out)
{
	size_t	 rest = frame_writer_begun(out->w);

	if (rest == 0)
		return 0;
	warnx("stdout: the last record written was cut short, %zu bytes "
	    "missing", rest);
	return 1;
}

const char *
out_end(struct out *out, int signalled, int stalled, uint64_t stall)
{
	uint64_t until = UINT64_MAX;

	if (signalled)
		until = 0;
	else if (stalled)
		until = to_now() + stall;
	if (out_flush(out, until) == -1)
		return errno == EPIPE ? NULL : strerror(errno);
	if (out_cut(out))
		return "a record cut short";
	return NULL;
}

/* After poll(2): a reader that is gone is EPIPE, a closed stdout EBADF. */
int
out_event(struct out *out, short revents)
{
	if (revents & POLLNVAL) {
		errno = EBADF;
		return -1;
	}
	if (revents & (POLLERR | POLLHUP)) {
		errno = EPIPE;
		return -1;
	}
	return out_flush(out, 0);
}

void
out_pace(struct out *out, const struct opts *o, struct to_group *g,
    int may_pause)
{
	size_t	 len;

	(void)frame_writer_pending(out->w, &len);
	if (out->paused && len < out->pending)
		out->blocked = to_now();
	out->pending = len;
	if (!out->paused && len > OUT_HIGH && may_pause) {
		out->paused = 1;
		out->blocked = to_now();
		to_pause(g, 1);
		opts_verbose(o, "stdout full: pausing");
	} else if (out->paused && (len <= OUT_HIGH / 2 || !may_pause)) {
		out->paused = 0;
		to_pause(g, 0);
		opts_verbose(o, "stdout drained: resuming");
	}
}

int
out_stalled(const struct out *out, const struct opts *o,
    uint64_t now)
{
	return out->paused && now - out->blocked >= o->stall;
}

uint64_t
out_stall_at(const struct out *out, const struct opts *o)
{
	return out->paused ? out->blocked + o->stall : UINT64_MAX;
}

void
out_drop(struct out *out, const struct opts *o, struct to_group *g)
{
	frame_writer_drop(out->w);
	(void)frame_writer_pending(out->w, &out->pending);
	if (out->paused) {
		out->paused = 0;
		to_pause(g, 0);
		opts_verbose(o, "stdout given up: resuming");
	}
}

void
out_fini(struct out *out)
{
	frame_writer_free(out->w);
	out->w = NULL;
	if (out->oflags != -1) {
		(void)fcntl(out->fd, F_SETFL, out->oflags);
		out->oflags = -1;
		out_restore_fd = -1;
	}
}
