/*
 * out.h: stdout for delivered records.  out_flush() writes what it can
 * without blocking, and waits for stdout only until the deadline it is
 * given (at exit), or until a signal comes.  out_event() takes the
 * revents of the pollfd that out_pollfd() filled, notices a reader that
 * went away, and flushes.  Both return 0, or -1 with errno (EPIPE: the
 * reader went away).
 *
 * A member never waits for its stdout while it runs: out_pace() pauses
 * the group (to_pause: the member takes no datagrams, so the senders'
 * windows fill) while more than OUT_HIGH bytes are pending, and resumes
 * it at half that.  While paused, every byte written restarts the stall
 * clock; out_stalled() says when stdout took nothing for --stall, and
 * out_drop() gives its output up.
 */
#ifndef TO_OUT_H
#define TO_OUT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define OUT_HIGH	(256u << 10)	/* pause above this pending */

struct opts;
struct to_group;

struct out {
	int		 fd;
	size_t		 chunk;		/* bytes a write(2) takes at most */
	int		 oflags;	/* to restore on exit, or -1 */
	struct frame_writer *w;
	int		 paused;	/* the group, for want of stdout */
	uint64_t	 blocked;	/* paused: last progress on stdout */
	size_t		 pending;	/* bytes pending at the last look */
};
void	 out_init(struct out *, enum frame_mode);
void	 out_pollfd(const struct out *, struct pollfd *);
int	 out_event(struct out *, short revents);
/* until: 0 never waits, else the absolute time (ns) to wait at most. */
int	 out_flush(struct out *, uint64_t until);
/* A record cut short, after the flush at exit: say so, return 1. */
int	 out_cut(const struct out *);
/*
 * At exit: flush, waiting for stdout no longer than a signal (not at all)
 * or a stall (--stall) allows; NULL, or what went wrong (a reader gone
 * is not wrong).
 */
const char *out_end(struct out *, int signalled, int stalled,
	    uint64_t stall);
void	 out_fini(struct out *);
/* Pause or resume g for what is pending; never pauses unless may_pause
 * (a member that leaves must be let go). */
void	 out_pace(struct out *, const struct opts *,
	    struct to_group *g, int may_pause);
/* Paused and stdout took nothing for o->stall by now. */
int	 out_stalled(const struct out *, const struct opts *,
	    uint64_t now);
/* When the stall clock runs out, or UINT64_MAX if it does not run. */
uint64_t out_stall_at(const struct out *, const struct opts *);
/*
 * Give up what is pending but the rest of a record begun, and resume g:
 * no more records go to stdout.  Records are written to a pipe in chunks
 * of whole records of at most PIPE_BUF bytes, all or nothing, so a
 * record begun is one larger than that.
 */
void	 out_drop(struct out *, const struct opts *,
	    struct to_group *g);

#endif /* TO_OUT_H */
