/*
 * tocast: broadcast records to a group in total order.
 *
 * The main loop moves through phases: JOINING until the view has -w
 * members, SENDING while there is input, DRAINING until every member of
 * the view delivered what we cast, LEAVING until the group lets us go.
 * Input is read only while the flow-control window has room (to_can_cast),
 * which is the back-pressure that keeps "yes | tocast" in bounded memory.
 * A record the group refuses with EAGAIN is copied and cast again later.
 *
 * -r: the delivered stream goes to stdout, which is never waited for;
 * while it is behind, the member pauses (out_pace), and if it takes
 * nothing for --stall seconds, tocast gives it up, stops reading, sees
 * what it cast delivered, leaves and exits 75.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "frame.h"
#include "opts.h"
#include "out.h"
#include "to.h"

#define TOCAST_READ	(64u << 10)	/* largest read(2) of input */

enum tocast_phase {
	JOINING,
	SENDING,
	DRAINING,
	LEAVING,
	DONE,
};

enum {
	PFD_SIG,
	PFD_IN,
	PFD_OUT,
	PFD_GROUP,	/* and the group's descriptors after it */
};

struct tocast {
	struct opts	 o;
	struct to_group	*g;
	enum tocast_phase phase;
	uint64_t	 deadline;	/* -T while JOINING, leave bound */
	int		 sigfd;
	struct pollfd	*pfd;
	int		 npfd;

	/* input: the operands, one reader per file */
	int		*fds;
	const char	**names;
	int		 nin, cur;
	struct frame_reader *r;
	int		 at_eof;	/* the current file has ended */
	int		 reading;	/* more input is wanted */
	unsigned char	*held;		/* a record refused with EAGAIN */
	size_t		 heldlen, heldcap;
	int		 holding;
	uint64_t	 sent;
	uint64_t	 mine;		/* of them, delivered here */

	/* -r: delivered records on stdout */
	struct out	 out;
	int		 echo;		/* still echoing */
	int		 outok;		/* -r: stdout still takes bytes */
	int		 stalled;	/* stdout took nothing for --stall */
	int		 signalled;	/* exit without waiting for stdout */
	int		 sig;		/* the signal that came */
	uint64_t	 sigat;		/* when it came */
	int		 dropped;	/* a record read, not cast: signalled */
	struct opts_gaps gaps;		/* views that show a gap */

	int		 status;	/* exit status */
	char		 why[256];	/* message to print on exit */
	int		 fatal;		/* errno of a failure in a callback */
};

static const char tocast_synopsis[] =
    "usage: tocast [-0FqrvV] [--compress level] [-g group] [--gaps-ok]\n"
    "              [-i iface] [-k keyfile] [-M bytes] [--pack packing]\n"
    "              [--pack-max bytes] [-p protocol] [-s stack]\n"
    "              [--stall seconds] [--suspect ms] [-t transport]\n"
    "              [-T seconds] [-w members] [-W window] [file ...]\n";

static const int tocast_longs[] = {
	OPTS_COMPRESS, OPTS_GAPS_OK, OPTS_PACK, OPTS_PACK_MAX, OPTS_STALL,
	OPTS_SUSPECT, 0
};

static const struct opts_tool tocast_tool = {
	.name = "tocast",
	.synopsis = tocast_synopsis,
	.optstring = "0Fg:hi:k:M:p:qrs:t:T:vVw:W:",
	.operands = 1,
	.longs = tocast_longs,
	.pack = "adaptive",
};

/*
 * Stop reading input; the first reason given sets the exit status and the
 * message printed once the group has let us go.
 */
static void
tocast_stop(struct tocast *tc, int status, const char *fmt, ...)
{
	va_list	 ap;

	tc->reading = 0;
	if (tc->status != EX_OK || status == EX_OK)
		return;
	tc->status = status;
	va_start(ap, fmt);
	vsnprintf(tc->why, sizeof(tc->why), fmt, ap);
	va_end(ap);
}

static void
tocast_deliver(void *arg, const struct to_delivery *d)
{
	struct tocast	*tc = arg;

	if (tc->g != NULL && d->sender == to_self(tc->g))
		tc->mine++;
	if (tc->echo && frame_write_delivery(tc->out.w, d) == -1)
		tc->fatal = errno;
}

static void
tocast_view(void *arg, const struct to_view *v)
{
	struct tocast	*tc = arg;

	opts_view(&tc->o, v);
	if (tc->o.echo)
		(void)opts_gaps_view(&tc->gaps, &tc->o, v,
		    to_stats(tc->g)->unordered_gaps);
	if (tc->echo && frame_write_view(tc->out.w, v) == -1)
		tc->fatal = errno;
}

/* Open every input before joining, so a bad name fails early. */
static void
tocast_open_inputs(struct tocast *tc)
{
	static char	*dash[] = { "-" };
	char		**files = tc->o.files;
	struct stat	 st;
	int		 i;

	tc->nin = tc->o.nfiles;
	if (tc->nin == 0) {
		files = dash;
		tc->nin = 1;
	}
	tc->fds = calloc(tc->nin, sizeof(*tc->fds));
	tc->names = calloc(tc->nin, sizeof(*tc->names));
	if (tc->fds == NULL || tc->names == NULL)
		err(EX_OSERR, NULL);
	for (i = 0; i < tc->nin; i++) {
		if (strcmp(files[i], "-") == 0) {
			tc->fds[i] = STDIN_FILENO;
			tc->names[i] = "stdin";
			continue;
		}
		tc->names[i] = files[i];
		if ((tc->fds[i] = open(files[i], O_RDONLY | O_CLOEXEC)) == -1)
			err(EX_NOINPUT, "%s", files[i]);
		if (fstat(tc->fds[i], &st) == 0 && S_ISDIR(st.st_mode))
			errx(EX_NOINPUT, "%s: Is a directory", files[i]);
	}
}

/* Move to the next input; no more reading after the last. */
static void
tocast_next_input(struct tocast *tc)
{
	frame_reader_free(tc->r);
	tc->r = NULL;
	if (tc->fds[tc->cur] != STDIN_FILENO)
		close(tc->fds[tc->cur]);
	tc->at_eof = 0;
	if (++tc->cur == tc->nin) {
		tc->reading = 0;
		return;
	}
	if ((tc->r = frame_reader_new(tc->o.mode, tc->o.cfg.max_msg)) == NULL)
		err(EX_OSERR, "frame_reader_new");
}

static void
tocast_input_error(struct tocast *tc, int error)
{
	const char	*name = "input";
	uint64_t	 recno = 0;

	if (tc->r != NULL) {
		name = tc->names[tc->cur];
		recno = frame_reader_recno(tc->r);
	}

	if (error == EMSGSIZE)
		tocast_stop(tc, EX_DATAERR, "%s: record %" PRIu64 ": record "
		    "too large (max %zu bytes)", name, recno,
		    tc->o.cfg.max_msg);
	else if (error == EBADMSG)
		tocast_stop(tc, EX_DATAERR, "%s: record %" PRIu64 ": "
		    "malformed frame", name, recno);
	else
		tocast_stop(tc, EX_OSERR, "%s: %s", name, strerror(error));
}

/* Cast one payload: 1 if cast, 0 if held for later, -1 if input stops. */
static int
tocast_cast(struct tocast *tc, const void *p, size_t len)
{
	unsigned char	*nb;

	if (to_cast(tc->g, p, len) == 0) {
		tc->sent++;
		tc->holding = 0;
		return 1;
	}
	if (errno == EMSGSIZE) {
		tocast_input_error(tc, EMSGSIZE);
		tc->holding = 0;
		return -1;
	}
	if (errno != EAGAIN) {
		tocast_stop(tc, EX_SOFTWARE, "cast: %s", strerror(errno));
		tc->holding = 0;
		return -1;
	}
	if (tc->holding)
		return 0;
	if (len > tc->heldcap) {
		if ((nb = realloc(tc->held, len)) == NULL)
			err(EX_OSERR, NULL);
		tc->held = nb;
		tc->heldcap = len;
	}
	if (len > 0)
		memcpy(tc->held, p, len);
	tc->heldlen = len;
	tc->holding = 1;
	return 0;
}

/* A record from the reader; in framed mode only DATA payloads are cast. */
static int
tocast_record(struct tocast *tc, const void *rec, size_t len)
{
	struct frame_record	 fr;

	if (tc->o.mode != FRAME_BIN)
		return tocast_cast(tc, rec, len);
	if (frame_decode(rec, len, &fr) == -1) {
		tocast_input_error(tc, EBADMSG);
		return -1;
	}
	if (fr.type != FRAME_TYPE_DATA)
		return 1;
	return tocast_cast(tc, fr.d.data, fr.d.len);
}

/* Cast the held record, then whole records, while the group takes them. */
static void
tocast_pump(struct tocast *tc)
{
	const void	*rec;
	size_t		 len;
	int		 rv;

	if (tc->phase != SENDING)
		return;
	if (tc->holding && tocast_cast(tc, tc->held, tc->heldlen) == 0)
		return;
	while (tc->reading) {
		if (tc->at_eof)
			rv = frame_reader_eof(tc->r, &rec, &len);
		else
			rv = frame_reader_next(tc->r, &rec, &len);
		if (rv == -1) {
			tocast_input_error(tc, errno);
			return;
		}
		if (rv == 0 && !tc->at_eof)
			return;
		if (rv == 0)
			tocast_next_input(tc);
		else if (tocast_record(tc, rec, len) != 1)
			return;
	}
}

static void
tocast_read(struct tocast *tc)
{
	static unsigned char	 buf[TOCAST_READ];
	size_t			 n = frame_reader_room(tc->r);
	ssize_t			 got;

	if (n > sizeof(buf))
		n = sizeof(buf);
	got = read(tc->fds[tc->cur], buf, n);
	if (got == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (got == -1)
		tocast_stop(tc, EX_IOERR, "%s: %s", tc->names[tc->cur],
		    strerror(errno));
	else if (got == 0)
		tc->at_eof = 1;
	else if (frame_reader_feed(tc->r, buf, got) == -1)
		err(EX_OSERR, "%s", tc->names[tc->cur]);
}

/*
 * Stopped by a signal with casts not known delivered at every member:
 * say how many were cast and delivered here, and exit 128 + the signal.
 */
static void
tocast_interrupted(struct tocast *tc)
{
	const char	*name = tc->sig == SIGINT ? "SIGINT" : "SIGTERM";

	tc->status = 128 + tc->sig;
	snprintf(tc->why, sizeof(tc->why), "%s: %" PRIu64 " record%s cast: "
	    "%" PRIu64 " delivered here, %" PRIu64 " not, %s%s", name,
	    tc->sent, tc->sent == 1 ? "" : "s", tc->mine,
	    tc->sent - tc->mine, to_all_stable(tc->g) ?
	    "all delivered at every member" :
	    "not known delivered at every member",
	    tc->dropped ? "; 1 record read was not cast" : "");
}

static void
tocast_leave(struct tocast *tc)
{
	if (tc->signalled && (!to_all_stable(tc->g) || tc->dropped))
		tocast_interrupted(tc);
	tc->phase = LEAVING;
	tc->deadline = to_now() + OPTS_LEAVE_NS;
	if (tc->signalled && tc->deadline > tc->sigat + OPTS_SIGNAL_NS)
		tc->deadline = tc->sigat + OPTS_SIGNAL_NS;
	if (to_leave(tc->g) == -1) {
		if (!tc->o.quiet)
			warn("leave");
		tc->phase = DONE;
	}
}

/* One phase transition if one is due; 1 if the phase changed. */
static int
tocast_advance(struct tocast *tc)
{
	const struct to_view	*v;

	switch (tc->phase) {
	case JOINING:
		v = to_current_view(tc->g);
		if (v != NULL && v->n >= tc->o.wait) {
			tc->phase = SENDING;
		} else if (!tc->reading) {
			tocast_leave(tc);
		} else if (to_now() >= tc->deadline) {
			tocast_stop(tc, EX_UNAVAILABLE, "timed out waiting "
			    "for %" PRIu32 " members (have %" PRIu32 ")",
			    tc->o.wait, v != NULL ? v->n : 0);
			tocast_leave(tc);
		} else
			return 0;
		return 1;
	case SENDING:
		if (tc->reading || tc->holding)
			return 0;
		tc->phase = DRAINING;
		return 1;
	case DRAINING:
		/* signalled: half the time to exit for this, at most */
		if (!to_all_stable(tc->g) && !(tc->signalled &&
		    to_now() >= tc->sigat + OPTS_SIGNAL_NS / 2))
			return 0;
		tocast_leave(tc);
		return 1;
	case LEAVING:
		if (to_left(tc->g))
			opts_verbose(&tc->o, "left group");
		else if (to_now() >= tc->deadline)
			opts_verbose(&tc->o, "gave up leaving gracefully");
		else
			return 0;
		tc->phase = DONE;
		return 1;
	case DONE:
		break;
	}
	return 0;
}

/* Fill the pollfds: the self-pipe, input, stdout, then the group's. */
static int
tocast_pollfds(struct tocast *tc)
{
	struct pollfd	*p;

	p = &tc->pfd[PFD_IN];
	p->fd = -1;
	p->events = POLLIN;
	if (tc->phase == SENDING && tc->reading && !tc->holding &&
	    !tc->at_eof && frame_reader_room(tc->r) > 0 &&
	    to_can_cast(tc->g))
		p->fd = tc->fds[tc->cur];
	tc->pfd[PFD_OUT].fd = -1;
	if (tc->outok)
		out_pollfd(&tc->out, &tc->pfd[PFD_OUT]);
	return opts_pollfds(tc->g, &tc->pfd, &tc->npfd, PFD_GROUP);
}

static int
tocast_timeout(struct tocast *tc)
{
	uint64_t	 wake = to_next_wake(tc->g);

	if ((tc->phase == JOINING || tc->phase == LEAVING) &&
	    tc->deadline < wake)
		wake = tc->deadline;
	if (tc->phase == DRAINING && tc->signalled &&
	    tc->sigat + OPTS_SIGNAL_NS / 2 < wake)
		wake = tc->sigat + OPTS_SIGNAL_NS / 2;
	if (tc->echo && out_stall_at(&tc->out, &tc->o) < wake)
		wake = out_stall_at(&tc->out, &tc->o);
	return opts_poll_ms(to_now(), wake);
}

/* stdout after poll: a reader that went away ends the input cleanly. */
static void
tocast_echo(struct tocast *tc)
{
	if (tc->pfd[PFD_OUT].fd == -1 ||
	    out_event(&tc->out, tc->pfd[PFD_OUT].revents) == 0)
		return;
	if (errno == EPIPE)
		tocast_stop(tc, EX_OK, NULL);
	else
		tocast_stop(tc, EX_IOERR, "stdout: %s", strerror(errno));
	tc->echo = 0;
	tc->outok = 0;
	out_drop(&tc->out, &tc->o, tc->g);
}

/*
 * -r: pause the member while stdout is behind, never while leaving (the
 * group must let us go); once stdout took nothing for --stall, give it
 * up: what we cast is still seen delivered before we leave.
 */
static void
tocast_pace(struct tocast *tc)
{
	if (!tc->echo)
		return;
	if (out_stalled(&tc->out, &tc->o, to_now())) {
		tocast_stop(tc, EX_TEMPFAIL, "stdout took nothing for %g s: "
		    "stopped reading", (double)tc->o.stall / 1e9);
		tc->echo = 0;
		tc->stalled = 1;
		/* the rest of a record begun still goes, if stdout takes it */
		out_drop(&tc->out, &tc->o, tc->g);
		return;
	}
	out_pace(&tc->out, &tc->o, tc->g, tc->phase < LEAVING);
}

/*
 * The first SIGINT or SIGTERM: stop reading, see what was cast delivered
 * for a while, leave; all within OPTS_SIGNAL_NS.  A second, a second or
 * more later: leave at once, saying what was and was not delivered.
 */
static void
tocast_signal(struct tocast *tc)
{
	int	 sig = SIGTERM;

	switch (opts_signal_next(tc->sigfd, &sig)) {
	case 1:
		tocast_stop(tc, EX_OK, NULL);
		tc->dropped = tc->holding;
		tc->holding = 0;
		tc->signalled = 1;
		tc->sig = sig;
		tc->sigat = to_now();
		if (tc->phase == LEAVING &&
		    tc->deadline > tc->sigat + OPTS_SIGNAL_NS)
			tc->deadline = tc->sigat + OPTS_SIGNAL_NS;
		break;
	case 2:
		tc->sig = sig;
		tocast_interrupted(tc);
		tc->phase = DONE;
		break;
	}
}

static void
tocast_step(struct tocast *tc)
{
	int	 n;

	while (tocast_advance(tc))
		;
	if (tc->phase == DONE)
		return;
	n = tocast_pollfds(tc);
	if (poll(tc->pfd, n, tocast_timeout(tc)) == -1) {
		if (errno != EINTR)
			err(EX_OSERR, "poll");
		return;		/* revents are stale; the self-pipe has it */
	}
	if (tc->pfd[PFD_SIG].revents & POLLIN)
		tocast_signal(tc);
	if (tc->phase == DONE)
		return;
	opts_process(tc->g, tc->o.cfg.group);
	if (tc->pfd[PFD_IN].revents != 0 && tc->reading)
		tocast_read(tc);
	tocast_pump(tc);
	if (tc->fatal != 0) {
		errno = tc->fatal;
		err(EX_OSERR, "stdout");
	}
	tocast_echo(tc);
	tocast_pace(tc);
}

static void
tocast_init(struct tocast *tc)
{
	struct to_callbacks	 cb = {
		.deliver = tocast_deliver,
		.view = tocast_view,
		.arg = tc,
	};

	tc->status = EX_OK;
	tc->reading = 1;
	if ((tc->r = frame_reader_new(tc->o.mode, tc->o.cfg.max_msg)) == NULL)
		err(EX_OSERR, "frame_reader_new");
	tc->npfd = PFD_GROUP + 8;
	if ((tc->pfd = calloc(tc->npfd, sizeof(*tc->pfd))) == NULL)
		err(EX_OSERR, NULL);
	tc->sigfd = opts_signals();
	tc->pfd[PFD_SIG].fd = tc->sigfd;
	tc->pfd[PFD_SIG].events = POLLIN;
	if (tc->o.echo) {
		out_init(&tc->out, tc->o.mode);
		tc->echo = 1;
		tc->outok = 1;
	}
	tc->g = opts_open(&tc->o, &cb);
	tc->deadline = UINT64_MAX;
	if (tc->o.timeout != 0)
		tc->deadline = to_now() + tc->o.timeout;
}

static int
tocast_finish(struct tocast *tc)
{
	const char	*e;

	opts_stats(&tc->o, tc->g);
	to_close(tc->g);
	if (tc->outok && (e = out_end(&tc->out, tc->signalled,
	    tc->stalled, tc->o.stall)) != NULL)
		tocast_stop(tc, EX_IOERR, "stdout: %s", e);
	if (tc->o.echo)
		out_fini(&tc->out);
	opts_verbose(&tc->o, "sent %" PRIu64 " records", tc->sent);
	if (tc->status != EX_OK)
		warnx("%s", tc->why);
	if (tc->status == EX_OK && tc->gaps.found > 0 && !tc->o.gaps_ok)
		tc->status = OPTS_EX_GAP;
	opts_gaps_free(&tc->gaps);
	frame_reader_free(tc->r);
	free(tc->held);
	free(tc->pfd);
	free(tc->fds);
	free(tc->names);
	return tc->status;
}

int
main(int argc, char *argv[])
{
	struct tocast	 tc;

	memset(&tc, 0, sizeof(tc));
	opts_parse(&tc.o, &tocast_tool, argc, argv);
	tocast_open_inputs(&tc);
	tocast_init(&tc);
	while (tc.phase != DONE)
		tocast_step(&tc);
	return tocast_finish(&tc);
}
