/*
 * torecv: join a group and write the stream it delivers to stdout.
 *
 * The main loop runs until something ends it: -n messages delivered, -A
 * alone in the view, -T expired, a signal, or stdout gone.  Then it leaves
 * the group gracefully (bounded by OPTS_LEAVE_NS), writes what is pending,
 * and exits.  A reader that closes the pipe (torecv | head) is a clean end.
 *
 * A slow reader: stdout is never waited for while running.  The member
 * pauses while too much waits for it (out_pace: it takes no
 * datagrams, so it acknowledges nothing and the senders' windows fill).
 * If stdout takes nothing for --stall seconds while paused, torecv
 * leaves the group and exits 75.
 */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
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

enum torecv_phase {
	RUNNING,
	LEAVING,
	DONE,
};

enum {
	PFD_SIG,
	PFD_OUT,
	PFD_GROUP,	/* and the group's descriptors after it */
};

struct torecv {
	struct opts	 o;
	struct to_group	*g;
	enum torecv_phase phase;
	uint64_t	 deadline;	/* -T while RUNNING, leave bound */
	int		 sigfd;
	struct pollfd	*pfd;
	int		 npfd;

	struct out	 out;
	int		 writing;	/* still writing deliveries */
	int		 outok;		/* stdout still takes bytes */
	uint64_t	 delivered;
	int		 others;	/* -A: was in a view with others */
	int		 alone;		/* -A: and is alone again */
	uint64_t	*senders;	/* -A: of the messages delivered */
	size_t		 nsenders, capsenders;
	int		 gone;		/* -A: and none of them is in the view */
	int		 signalled;	/* exit without waiting for stdout */
	int		 stalled;	/* stdout took nothing for --stall */
	uint64_t	 sigat;		/* when the signal came */
	struct opts_gaps gaps;		/* views that show a gap */

	int		 stop;		/* leave now */
	int		 status;	/* exit status */
	char		 why[256];	/* message to print on exit */
	int		 fatal;		/* errno of a failure in a callback */
};

static const char torecv_synopsis[] =
    "usage: torecv [-0AeFvV] [-g group] [--gaps-ok] [-i iface] [-k keyfile]\n"
    "              [-M bytes] [-n count] [-p protocol] [-s stack]\n"
    "              [--stall seconds] [--suspect ms] [-t transport]\n"
    "              [-T seconds]\n";

static const int torecv_longs[] = {
	OPTS_GAPS_OK, OPTS_STALL, OPTS_SUSPECT, 0
};

/* -n in its own words (the shared table's are toview's too). */
static const struct opts_def torecv_own[] = {
	{ "count", 'n', "count", "exit after count records" },
	{ NULL, 0, NULL, NULL },
};

/* Nothing of its own to do: the shared table applies -n. */
static int
torecv_option(struct opts *o, int ch, const char *arg)
{
	return 0;
}

static const struct opts_tool torecv_tool = {
	.name = "torecv",
	.synopsis = torecv_synopsis,
	.optstring = "0AeFg:hi:k:M:n:p:s:t:T:vV",
	.operands = 0,
	.longs = torecv_longs,
	.own = torecv_own,
	.option = torecv_option,
};

/* Leave; the first failure given sets the exit status and message. */
static void
torecv_stop(struct torecv *tr, int status, const char *fmt, ...)
{
	va_list	 ap;

	tr->stop = 1;
	if (tr->status != EX_OK || status == EX_OK)
		return;
	tr->status = status;
	va_start(ap, fmt);
	vsnprintf(tr->why, sizeof(tr->why), fmt, ap);
	va_end(ap);
}

/* -A: remember who sent what we deliver. */
static void
torecv_sender(struct torecv *tr, uint64_t id)
{
	uint64_t	*p;
	size_t		 i, cap;

	for (i = 0; i < tr->nsenders; i++)
		if (tr->senders[i] == id)
			return;
	if (tr->nsenders == tr->capsenders) {
		cap = tr->capsenders ? tr->capsenders * 2 : 16;
		if ((p = reallocarray(tr->senders, cap, sizeof(*p))) == NULL)
			err(EX_OSERR, NULL);
		tr->senders = p;
		tr->capsenders = cap;
	}
	tr->senders[tr->nsenders++] = id;
}

/* -A: whether a member of v sent any of what we delivered. */
static int
torecv_senders_in(const struct torecv *tr, const struct to_view *v)
{
	size_t		 i;
	uint32_t	 j;

	for (i = 0; i < tr->nsenders; i++)
		for (j = 0; j < v->n; j++)
			if (v->members[j] == tr->senders[i] &&
			    v->members[j] != v->self)
				return 1;
	return 0;
}

static void
torecv_deliver(void *arg, const struct to_delivery *d)
{
	struct torecv	*tr = arg;

	if (tr->o.until_alone)
		torecv_sender(tr, d->sender);
	if (!tr->writing)
		return;
	if (frame_write_delivery(tr->out.w, d) == -1)
		tr->fatal = errno;
	if (++tr->delivered == tr->o.count) {
		tr->writing = 0;
		tr->stop = 1;
	}
}

/*
 * -e in the text modes: the view as a record of its own,
 * "view 7: 8f3a21c0d1e2f3a4 ... (3 members)".
 */
static int
torecv_view_text(struct torecv *tr, const struct to_view *v)
{
	struct to_delivery d;
	char		*line;
	size_t		 len, n;
	uint32_t	 i;
	int		 rv;

	len = 64 + (size_t)v->n * 17;
	if ((line = malloc(len)) == NULL)
		return -1;
	n = snprintf(line, len, "view %" PRIu64 ":", v->id);
	for (i = 0; i < v->n; i++)
		n += snprintf(line + n, len - n, " %016" PRIx64,
		    v->members[i]);
	n += snprintf(line + n, len - n, " (%" PRIu32 " member%s)", v->n,
	    v->n == 1 ? "" : "s");
	memset(&d, 0, sizeof(d));
	d.data = line;
	d.len = n;
	rv = frame_write_delivery(tr->out.w, &d);
	free(line);
	return rv;
}

static void
torecv_view(void *arg, const struct to_view *v)
{
	struct torecv	*tr = arg;
	int		 rv = 0;

	opts_view(&tr->o, v);
	(void)opts_gaps_view(&tr->gaps, &tr->o, v,
	    to_stats(tr->g)->unordered_gaps);
	if (tr->writing && tr->o.mode == FRAME_BIN)
		rv = frame_write_view(tr->out.w, v);
	else if (tr->writing && tr->o.views)
		rv = torecv_view_text(tr, v);
	if (rv == -1)
		tr->fatal = errno;
	if (v->n > 1)
		tr->others = 1;
	else if (tr->others)
		tr->alone = 1;
	if (tr->o.until_alone && tr->nsenders > 0 && !torecv_senders_in(tr, v))
		tr->gone = 1;
}

static void
torecv_leave(struct torecv *tr)
{
	tr->phase = LEAVING;
	tr->deadline = to_now() + OPTS_LEAVE_NS;
	if (tr->signalled && tr->deadline > tr->sigat + OPTS_SIGNAL_NS)
		tr->deadline = tr->sigat + OPTS_SIGNAL_NS;
	if (to_leave(tr->g) == -1) {
		warn("leave");
		tr->phase = DONE;
	}
}

/* The number of messages -T waits for: -n, or the first one. */
static uint64_t
torecv_target(const struct torecv *tr)
{
	return tr->o.count != 0 ? tr->o.count : 1;
}

/*
 * Stdout took nothing for --stall seconds while the member was paused:
 * give up its output and leave, so the group goes on without it.
 */
static void
torecv_stall(struct torecv *tr)
{
	warnx("stdout blocked for %g s: leaving the group",
	    (double)tr->o.stall / 1e9);
	if (tr->status == EX_OK)
		tr->status = EX_TEMPFAIL;
	tr->stop = 1;
	tr->writing = 0;
	tr->stalled = 1;
	/* the rest of a record begun still goes, if stdout takes it */
	out_drop(&tr->out, &tr->o, tr->g);
}

static void
torecv_advance(struct torecv *tr)
{
	uint64_t	 want = torecv_target(tr);

	switch (tr->phase) {
	case RUNNING:
		if (out_stalled(&tr->out, &tr->o, to_now()))
			torecv_stall(tr);
		if (tr->delivered < want && to_now() >= tr->deadline)
			torecv_stop(tr, EX_UNAVAILABLE, "timed out waiting "
			    "for %" PRIu64 " message%s (have %" PRIu64 ")",
			    want, want == 1 ? "" : "s", tr->delivered);
		if (tr->o.until_alone && (tr->alone || tr->gone))
			tr->stop = 1;
		if (tr->stop)
			torecv_leave(tr);
		break;
	case LEAVING:
		if (to_left(tr->g)) {
			opts_verbose(&tr->o, "left group");
			tr->phase = DONE;
		} else if (to_now() >= tr->deadline) {
			opts_verbose(&tr->o, "gave up leaving gracefully");
			tr->phase = DONE;
		}
		break;
	case DONE:
		break;
	}
}

static int
torecv_pollfds(struct torecv *tr)
{
	tr->pfd[PFD_OUT].fd = -1;
	if (tr->outok)
		out_pollfd(&tr->out, &tr->pfd[PFD_OUT]);
	return opts_pollfds(tr->g, &tr->pfd, &tr->npfd, PFD_GROUP);
}

static int
torecv_timeout(struct torecv *tr)
{
	uint64_t	 wake = to_next_wake(tr->g);

	if (tr->deadline < wake &&
	    (tr->phase == LEAVING || tr->delivered < torecv_target(tr)))
		wake = tr->deadline;
	if (tr->phase == RUNNING &&
	    out_stall_at(&tr->out, &tr->o) < wake)
		wake = out_stall_at(&tr->out, &tr->o);
	return opts_poll_ms(to_now(), wake);
}

/* stdout after poll: EPIPE is a clean end, other errors are not. */
static void
torecv_output(struct torecv *tr)
{
	if (tr->pfd[PFD_OUT].fd == -1 ||
	    out_event(&tr->out, tr->pfd[PFD_OUT].revents) == 0)
		return;
	if (errno == EPIPE)
		torecv_stop(tr, EX_OK, NULL);
	else
		torecv_stop(tr, EX_IOERR, "stdout: %s", strerror(errno));
	tr->writing = 0;
	tr->outok = 0;
	out_drop(&tr->out, &tr->o, tr->g);
}

static void
torecv_step(struct torecv *tr)
{
	int	 n;

	torecv_advance(tr);
	if (tr->phase == DONE)
		return;
	n = torecv_pollfds(tr);
	if (poll(tr->pfd, n, torecv_timeout(tr)) == -1) {
		if (errno != EINTR)
			err(EX_OSERR, "poll");
		return;		/* revents are stale; the self-pipe has it */
	}
	if ((tr->pfd[PFD_SIG].revents & POLLIN) && opts_signalled(tr->sigfd)) {
		/* stop now: nothing more to write, no waiting for stdout */
		torecv_stop(tr, EX_OK, NULL);
		tr->writing = 0;
		tr->signalled = 1;
		tr->sigat = to_now();
		if (tr->phase == LEAVING &&
		    tr->deadline > tr->sigat + OPTS_SIGNAL_NS)
			tr->deadline = tr->sigat + OPTS_SIGNAL_NS;
	}
	opts_process(tr->g, tr->o.cfg.group);
	if (tr->fatal != 0) {
		errno = tr->fatal;
		err(EX_OSERR, "stdout");
	}
	torecv_output(tr);
	/* never paused while leaving: the group must let us go */
	out_pace(&tr->out, &tr->o, tr->g,
	    tr->phase == RUNNING && !tr->stop);
}

static void
torecv_init(struct torecv *tr)
{
	struct to_callbacks	 cb = {
		.deliver = torecv_deliver,
		.view = torecv_view,
		.arg = tr,
	};

	tr->status = EX_OK;
	tr->writing = 1;
	tr->outok = 1;
	tr->npfd = PFD_GROUP + 8;
	if ((tr->pfd = calloc(tr->npfd, sizeof(*tr->pfd))) == NULL)
		err(EX_OSERR, NULL);
	tr->sigfd = opts_signals();
	tr->pfd[PFD_SIG].fd = tr->sigfd;
	tr->pfd[PFD_SIG].events = POLLIN;
	out_init(&tr->out, tr->o.mode);
	tr->g = opts_open(&tr->o, &cb);
	tr->deadline = UINT64_MAX;
	if (tr->o.timeout != 0)
		tr->deadline = to_now() + tr->o.timeout;
}

static int
torecv_finish(struct torecv *tr)
{
	const char	*e;

	opts_stats(&tr->o, tr->g);
	to_close(tr->g);
	if (tr->outok && (e = out_end(&tr->out, tr->signalled,
	    tr->stalled, tr->o.stall)) != NULL)
		torecv_stop(tr, EX_IOERR, "stdout: %s", e);
	out_fini(&tr->out);
	if (tr->status != EX_OK && tr->why[0] != '\0')
		warnx("%s", tr->why);
	if (tr->status == EX_OK && tr->gaps.found > 0 && !tr->o.gaps_ok)
		tr->status = OPTS_EX_GAP;
	opts_gaps_free(&tr->gaps);
	free(tr->senders);
	free(tr->pfd);
	return tr->status;
}

int
main(int argc, char *argv[])
{
	struct torecv	 tr;

	memset(&tr, 0, sizeof(tr));
	opts_parse(&tr.o, &torecv_tool, argc, argv);
	torecv_init(&tr);
	while (tr.phase != DONE)
		torecv_step(&tr);
	return torecv_finish(&tr);
}
