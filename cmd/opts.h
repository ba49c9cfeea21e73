/*
 * opts.h: what the commands share, a file each: the common options
 * (opts.c), opening a member from them and its -v lifecycle lines
 * (member.c), the plumbing of their poll loops, signals through a
 * self-pipe and poll timeouts from absolute deadlines (loop.c), and the
 * gaps in a member's stream (gaps.c).  The record writer to stdout is
 * out.h's.
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

/* --- opts.c ---------------------------------------------------------- */

void	 opts_parse(struct opts *, const struct opts_tool *, int, char *[]);
/* arg as a number from min to max, else exit 64 naming opt. */
long long opts_number(const char *opt, const char *arg, long long min,
	    long long max);
/* The synopsis on stderr (stdout for EX_OK), and exit(status). */
void	 opts_usage(const struct opts_tool *, int)
	    __attribute__((noreturn));
/* 1 if stdout was closed when opts_parse() began (it is /dev/null now). */
int	 opts_stdout_closed(void);

/* --- member.c -------------------------------------------------------- */

/* Read the key of -k or TO_KEYFILE into o->key and o->cfg, or exit. */
void	 opts_load_key(struct opts *);
/* to_config.refused, with the struct opts as its arg. */
void	 opts_refused(void *, uint64_t, enum to_refusal);
struct to_group *opts_open(const struct opts *, const struct to_callbacks *);
void	 opts_verbose(const struct opts *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 opts_view(const struct opts *, const struct to_view *);
/* -v: the datagram counters, before to_close(). */
void	 opts_stats(const struct opts *, struct to_group *);
void	 opts_process(struct to_group *, const char *);

/* --- loop.c ---------------------------------------------------------- */

/* SIGINT and SIGTERM through a pipe; the read end to poll. */
int	 opts_signals(void);
/* That read end, or -1 before opts_signals(). */
int	 opts_signal_fd(void);
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

/* --- gaps.c ---------------------------------------------------------- */

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
	uint64_t	 found;		/* views that showed a gap */
	uint64_t	 undelivered;	/* to_stats' unordered_gaps so far */
};
/* Take view v, say on stderr (unless -q) if it shows a gap; undelivered
 * is to_stats(g)->unordered_gaps once the view before it closed. */
int	 opts_gaps_view(struct opts_gaps *, const struct opts *,
	    const struct to_view *v, uint64_t undelivered);
void	 opts_gaps_free(struct opts_gaps *);

#endif /* TO_OPTS_H */
