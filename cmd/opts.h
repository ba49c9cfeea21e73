/*
 * opts.h: what the commands share: the common options, opening the group
 * from them, and the plumbing of their poll loops (signals through a
 * self-pipe, poll timeouts from absolute deadlines, draining the record
 * writer to stdout, the -v lifecycle lines).
 *
 * Everything here may print and exit with a sysexits(3) code; the library
 * under it never does.
 */
#ifndef TO_OPTS_H
#define TO_OPTS_H

#include <getopt.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "to.h"

#define OPTS_WAIT_MAX		TO_VIEW_MAX	/* -w: a view holds no more */
#define OPTS_WINDOW_MAX		1000000		/* -W */
#define OPTS_MAXMSG_MAX		(1u << 30)	/* -M */
#define OPTS_LEAVE_NS		3000000000ULL	/* bound on a graceful leave */
#define OPTS_SIGNAL_NS		1500000000ULL	/* signal to exit, at most */
#define OPTS_OUT_HIGH		(256u << 10)	/* pause above this pending */
#define OPTS_KEY_MAX		65536		/* -k: bytes in a key file */
#define OPTS_SUSPECT_MIN	10		/* --suspect, ms */
#define OPTS_SUSPECT_MAX	3600000
#define OPTS_STALL_DEFAULT	10000000000ULL	/* --stall, ns */

/* Options with no letter, only a long form. */
enum {
	OPTS_SUSPECT = 256,	/* --suspect ms */
	OPTS_STALL,		/* --stall seconds */
	OPTS_PACK,		/* --pack packing */
	OPTS_GAPS_OK,		/* --gaps-ok */
	OPTS_PACK_MAX,		/* --pack-max bytes */
	OPTS_COMPRESS,		/* --compress level */
};

#define OPTS_OWN_MAX		32

struct opts;

/*
 * An option: its long name, its letter (or one of the OPTS_* above for a
 * long-only one), the name of its argument (NULL: it takes none), and the
 * few words --help prints about it.  getopt_long(3) and --help are both
 * made from these tables, so the two cannot disagree.
 */
struct opts_def {
	const char	*name;
	int		 ch;
	const char	*arg;
	const char	*help;
};

/* A command: its name, the options it takes, and its usage. */
struct opts_tool {
	const char	*name;
	const char	*synopsis;	/* "usage: name ...\n", as in the page */
	const char	*optstring;	/* getopt(3) letters */
	int		 operands;	/* takes file operands */
	int		 group_optional;/* no -g is not an error */
	const int	*longs;		/* long-only options it takes, 0-ended */
	const char	*pack;		/* packing unless --pack: NULL, the
					   protocol's own */
	/*
	 * Options of the tool's own (toburst), 0-ended, at most
	 * OPTS_OWN_MAX: they take precedence over the shared ones with the
	 * same letter.  option() applies one and returns 1, or 0 to let the
	 * shared table have it after all (-p list).
	 */
	const struct opts_def *own;
	int		(*option)(struct opts *, int ch, const char *arg);
};

struct opts {
	const struct opts_tool *tool;
	struct to_config cfg;
	enum frame_mode	 mode;		/* -0, -F, else FRAME_LINE */
	int		 verbose;	/* -v */
	int		 quiet;		/* -q */
	int		 echo;		/* -r */
	int		 until_alone;	/* -A */
	int		 check;		/* -c */
	int		 views;		/* -e */
	int		 json;		/* -j */
	int		 gaps_ok;	/* --gaps-ok */
	uint64_t	 stall;		/* --stall in ns */
	uint32_t	 wait;		/* -w: members before sending, >= 1 */
	uint64_t	 count;		/* -n: 0 for no limit */
	uint64_t	 timeout;	/* -T in ns, 0 for none */
	const char	*group_from;	/* "-g" or "TO_GROUP", for messages */
	const char	*transport_from;
	const char	*keyfile;	/* -k or TO_KEYFILE */
	const char	*keyfile_from;	/* "-k" or "TO_KEYFILE" */
	unsigned char	*key;		/* its bytes, for the life of the process */
	unsigned	 refusals;	/* bit r: told of enum to_refusal r */
	char		**files;	/* operands */
	int		 nfiles;
};

void	 opts_parse(struct opts *, const struct opts_tool *, int, char *[]);
/* arg as a number from min to max, else exit 64 naming opt. */
long long opts_number(const char *opt, const char *arg, long long min,
	    long long max);
/* The synopsis on stderr (stdout for EX_OK), and exit(status). */
void	 opts_usage(const struct opts_tool *, int)
	    __attribute__((noreturn));
struct to_group *opts_open(const struct opts *, const struct to_callbacks *);
void	 opts_verbose(const struct opts *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 opts_view(const struct opts *, const struct to_view *);
/* -v: the datagram counters, before to_close(). */
void	 opts_stats(const struct opts *, struct to_group *);

/* SIGINT and SIGTERM through a pipe; the read end to poll. */
int	 opts_signals(void);
/* 1 if a signal came since the last call; later ones kill as usual. */
int	 opts_signalled(int);
/*
 * What came on the self-pipe: 0 nothing, 1 the first signal, 2 a later
 * one (a second or more after the first); *sig (if not NULL) its number.
 */
int	 opts_signal_next(int, int *sig);

/*
 * Fill (*pfd)[first...] with the group's descriptors, growing the array
 * (*n entries) as needed; returns how many entries to poll.
 */
int	 opts_pollfds(struct to_group *, struct pollfd **, int *n, int first);
/* Milliseconds for poll(2) until the earliest absolute deadline (ns). */
int	 opts_poll_ms(uint64_t, uint64_t);

/*
 * stdout for delivered records.  opts_out_flush() writes what it can
 * without blocking, and waits for stdout only until the deadline it is
 * given (at exit), or until a signal comes.  opts_out_event() takes the
 * revents of the pollfd that opts_out_pollfd() filled, notices a reader
 * that went away, and flushes.  Both return 0, or -1 with errno (EPIPE:
 * the reader went away).
 *
 * A member never waits for its stdout while it runs: opts_out_pace()
 * pauses the group (to_pause: the member takes no datagrams, so the
 * senders' windows fill) while more than OPTS_OUT_HIGH bytes are
 * pending, and resumes it at half that.  While paused, every byte
 * written restarts the stall clock; opts_out_stalled() says when stdout
 * took nothing for --stall, and opts_out_drop() gives its output up.
 */
struct opts_out {
	int		 fd;
	size_t		 chunk;		/* bytes a write(2) takes at most */
	int		 oflags;	/* to restore on exit, or -1 */
	struct frame_writer *w;
	int		 paused;	/* the group, for want of stdout */
	uint64_t	 blocked;	/* paused: last progress on stdout */
	size_t		 pending;	/* bytes pending at the last look */
};
void	 opts_out_init(struct opts_out *, enum frame_mode);
void	 opts_out_pollfd(const struct opts_out *, struct pollfd *);
int	 opts_out_event(struct opts_out *, short revents);
/* until: 0 never waits, else the absolute time (ns) to wait at most. */
int	 opts_out_flush(struct opts_out *, uint64_t until);
/* A record cut short, after the flush at exit: say so, return 1. */
int	 opts_out_cut(const struct opts_out *);
/*
 * At exit: flush, waiting for stdout no longer than a signal (not at all)
 * or a stall (--stall) allows; NULL, or what went wrong (a reader gone
 * is not wrong).
 */
const char *opts_out_end(struct opts_out *, int signalled, int stalled,
	    uint64_t stall);
void	 opts_out_fini(struct opts_out *);
/* Pause or resume g for what is pending; never pauses unless may_pause
 * (a member that leaves must be let go). */
void	 opts_out_pace(struct opts_out *, const struct opts *,
	    struct to_group *g, int may_pause);
/* Paused and stdout took nothing for o->stall by now. */
int	 opts_out_stalled(const struct opts_out *, const struct opts *,
	    uint64_t now);
/* When the stall clock runs out, or UINT64_MAX if it does not run. */
uint64_t opts_out_stall_at(const struct opts_out *, const struct opts *);
/*
 * Give up what is pending but the rest of a record begun, and resume g:
 * no more records go to stdout.  Records are written to a pipe in chunks
 * of whole records of at most PIPE_BUF bytes, all or nothing, so a
 * record begun is one larger than that.
 */
void	 opts_out_drop(struct opts_out *, const struct opts *,
	    struct to_group *g);

void		 opts_process(struct to_group *, const char *);

/*
 * Gaps in the stream a member writes, found from its views: a view that
 * brings back members that were in an earlier view of ours but not in
 * the one before (a partition healed, or we were taken for dead and
 * merged back) means that messages were delivered apart, on one side and
 * not the other.  Member ids are new with each process, so a member that
 * restarts is a new member, not one brought back.
 */
#define OPTS_EX_GAP	3		/* exit status: the stream has a gap */

struct opts_gaps {
	uint64_t	*id;		/* every member in a view of ours */
	uint64_t	*last;		/* the last of our views it was in */
	size_t		 n, cap;
	uint64_t	 view;		/* our last view */
	uint32_t	 n_prev;	/* its members */
	uint64_t	 found;		/* views that showed a gap */
};
/* Take view v, say on stderr (unless -q) if it shows a gap. */
int	 opts_gaps_view(struct opts_gaps *, const struct opts *,
	    const struct to_view *v);
void	 opts_gaps_free(struct opts_gaps *);

#endif /* TO_OPTS_H */
