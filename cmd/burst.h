/*
 * burst.h: what the parts of toburst share: the run's settings, one cell
 * of the experiment, the tally a member reports for it, and the rows the
 * coordinator prints.
 *
 *	toburst.c	options, usage, main
 *	burst_member.c	one member: groups, cells, rounds, the coordinator
 *	burst_wire.c	the control messages
 *	burst_report.c	rows, latency histograms, table/tsv/json, gnuplot
 *	burst_launch.c	--local and --netns: start the members, reap them
 *	burst_raw.c	-p raw: the payloads over the bare transport
 */
#ifndef TO_BURST_H
#define TO_BURST_H

#include <stddef.h>
#include <stdint.h>

#include "opts.h"
#include "to.h"

#define BURST_MODE_ALL		1	/* every member sends a burst */
#define BURST_MODE_ONE		2	/* rank 0 sends, the others ack */

/* The first byte of every message: what it is (burst_wire.c). */
#define BURST_MSG_DATA		0
#define BURST_MSG_START		1
#define BURST_MSG_ACK		2
#define BURST_MSG_RESULT	3
#define BURST_MSG_DONE		4
#define BURST_MSG_END		5	/* -p raw: a sender's burst is out */

#define BURST_RAW		"raw"	/* -p raw: the bare transport */

#define BURST_OUT_TABLE		0
#define BURST_OUT_TSV		1
#define BURST_OUT_JSON		2

#define BURST_LIST_MAX		64	/* values in one -m, -s, --rate list */
#define BURST_HIST_SUB		32	/* latency buckets per power of two */
#define BURST_HIST_N		2048

/* Everything the command line says; the same in every member. */
struct burst_conf {
	struct opts	 o;		/* the shared ones: -g -t -i -W ... */
	int		 modes;		/* BURST_MODE_ALL | BURST_MODE_ONE */
	uint32_t	 m[BURST_LIST_MAX];
	size_t		 nm;
	uint32_t	 sizes[BURST_LIST_MAX];
	size_t		 nsizes;
	uint32_t	 rates[BURST_LIST_MAX];	/* --rate; 0 entries: bursts */
	size_t		 nrates;
	const char	*protos[BURST_LIST_MAX];
	size_t		 nprotos;
	const char	*packs[BURST_LIST_MAX];	/* NULL: the protocol's own */
	size_t		 npacks;
	uint32_t	 rounds;	/* -r */
	uint32_t	 repeats;	/* -n */
	uint64_t	 duration;	/* --duration, ns */
	uint32_t	 members;	/* -N */
	uint32_t	 local;		/* --local */
	uint32_t	 netns;		/* --netns */
	int		 out;		/* -o */
	const char	*plot;		/* --plot */
	int		 progress;	/* stderr is a terminal */
	char		**argv;		/* as given, for the launcher */
	int		 argc;
};

/* One cell: one setting of every parameter, run -n times. */
struct burst_cell {
	int		 mode;		/* BURST_MODE_* */
	uint32_t	 m;		/* burst length; 0 in a rate cell */
	uint32_t	 size;		/* bytes per message, >= 1 */
	uint32_t	 rounds;
	uint32_t	 rate;		/* offered msgs/s; 0 in a burst cell */
	uint32_t	 duration_ms;
};

/* Early latencies in ns: log buckets, 1/32 of a power of two wide. */
struct burst_hist {
	uint64_t	 n[BURST_HIST_N];
	uint64_t	 total;
};

/* What one member measured in one run of a cell (its RESULT). */
struct burst_tally {
	uint64_t	 cast;		/* payloads it cast */
	uint64_t	 delivered;	/* payloads it delivered */
	uint64_t	 blocked;	/* rate: due but never cast */
	uint64_t	 lat_sum, lat_n, lat_max;	/* round latency, ns */
	uint64_t	 dgrams, bytes, retrans, naks, packs, packed;
	struct burst_hist h;		/* early latency of its payloads */
};

/* One line of output: a cell over its repeats, every member summed. */
struct burst_row {
	struct burst_cell cell;
	const char	*proto;
	const char	*pack;		/* NULL: the protocol's own */
	uint32_t	 members;
	uint32_t	 reps;		/* runs so far */
	double		 elapsed;	/* s, at the coordinator, summed */
	double		 thr_sum;	/* msgs/s per member, summed (runs) */
	uint64_t	 coord_delivered;
	struct burst_tally t;		/* summed over members and runs */
};

/* toburst.c */
extern struct burst_conf burst;

/* burst_member.c: run every group and cell; returns the exit status. */
int	 burst_member(struct burst_conf *);

/* burst_launch.c: --local and --netns; returns the exit status. */
int	 burst_launch(struct burst_conf *);
int	 burst_have_gnuplot(void);

/* burst_wire.c: each encoder returns a malloc'd message and its length. */
int	 burst_wire_run(const unsigned char *, size_t, uint32_t *run,
	    uint32_t *rep);
unsigned char *burst_wire_start(uint32_t run, uint32_t rep,
	    const struct burst_cell *, size_t *);
int	 burst_wire_read_start(const unsigned char *, size_t,
	    struct burst_cell *);
unsigned char *burst_wire_ack(uint32_t run, uint32_t rep, uint32_t round,
	    size_t *);
unsigned char *burst_wire_end(uint32_t run, uint32_t rep, uint32_t round,
	    size_t *);
int	 burst_wire_read_ack(const unsigned char *, size_t, uint32_t *round);
unsigned char *burst_wire_result(uint32_t run, uint32_t rep,
	    const struct burst_tally *, size_t *);
int	 burst_wire_read_result(const unsigned char *, size_t,
	    struct burst_tally *);

/* burst_raw.c: a member's payload path with -p raw. */
struct burst_raw_early {		/* datagrams of a run not begun */
	uint32_t	 run, rep;
	uint64_t	 n, cur, next, last;
};

struct burst_raw {
	struct to_config cfg;		/* GROUP.raw.d over -t's transport */
	char		 group[TO_GROUP_MAX];
	struct to_raw	*r;
	unsigned char	*buf;		/* one datagram in */
	unsigned char	*out;		/* one out: a header, then zeros */
	size_t		 mtu;
	int		 begun;		/* a run is counted: */
	uint32_t	 run, rep, round;	/* this one */
	uint64_t	 dgrams;	/* of the run, received */
	uint64_t	 cur, next;	/* of this round and the next */
	struct burst_raw_early early;
	uint64_t	 last;		/* when the last came, ns */
	uint64_t	 sent_dgrams, sent_bytes;
};

int	 burst_raw_open(struct burst_raw *, const struct to_config *,
	    uint64_t self);
void	 burst_raw_close(struct burst_raw *);
void	 burst_raw_begin(struct burst_raw *, uint32_t run, uint32_t rep);
int	 burst_raw_pollfds(struct burst_raw *, struct pollfd *, int max);
int	 burst_raw_send(struct burst_raw *, uint32_t size);
void	 burst_raw_drain(struct burst_raw *, uint64_t now);
uint64_t burst_raw_msgs(const struct burst_raw *, uint32_t size);
uint64_t burst_raw_round_msgs(const struct burst_raw *, uint32_t size);
void	 burst_raw_next_round(struct burst_raw *);

/* burst_report.c */
void	 burst_hist_add(struct burst_hist *, uint64_t ns);
void	 burst_hist_merge(struct burst_hist *, const struct burst_hist *);
uint64_t burst_hist_quantile(const struct burst_hist *, double q);
void	 burst_tally_add(struct burst_tally *, const struct burst_tally *);
void	 burst_report_row(const struct burst_conf *, const struct burst_row *);
void	 burst_report_end(const struct burst_conf *, int failed);
void	 burst_progress(const struct burst_conf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 burst_progress_clear(const struct burst_conf *);

#endif /* TO_BURST_H */
