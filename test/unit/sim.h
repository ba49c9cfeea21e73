/*
 * sim.h: whole groups in one process, over the in-memory transport and a
 * simulated clock, replayable from a seed.  Each node is a full stack built
 * from a spec ("nak:com", "dynseq:mbrship:frag:nak:com", ...); faults come
 * from the COM layer (a TO_FAULTS spec), crashes and partitions from here.
 */
#ifndef TO_SIM_H
#define TO_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "com_mem.h"
#include "layer.h"
#include "verify.h"

#define US		1000ULL	/* ns; MS is msg.h's */
#define SEC		(1000 * MS)

#define SIM_MAX_NODES	32
#define SIM_LATENCY	20000	/* ns, one way */
#define SIM_RCVBUF	(4u << 20) /* a stopped node's socket holds */

struct sim_rec {
	uint64_t	 src;		/* meta.src of the top-level message */
	size_t		 len;
	unsigned char	*data;
	uint64_t	 sseq, gseq;	/* meta.sender_seq, meta.global_seq */
	uint64_t	 vkey;		/* the view it came in: id and members */
};

struct sim_node {
	struct sim	*sim;
	int		 index;
	uint64_t	 id;
	int		 alive;		/* 0 after sim_crash() */
	struct to_config cfg;
	struct transport tr;
	struct mem_port	*port;
	struct stack	*stack;
	struct sim_rec	*recs;		/* everything delivered, in order */
	size_t		 nrecs, caprecs;
	struct to_view	 view;		/* last EV_VIEW seen at the top */
	int		 views;		/* how many EV_VIEW */
	int		 cut_offs;	/* of them, "cut off alone" (to_view) */
	int		 exited;	/* EV_EXIT seen */
	int		 exit_error;	/* its error, if any */
	int		 cut_done;	/* EV_CUT_DONE seen (for NAK tests) */
	int		 vlog;		/* its log in sim->verify */
	/* sim_freeze: stopped (SIGSTOP): no timers, datagrams wait */
	int		 frozen;
	int		 starved;	/* sim_starve: input runs, timers not */
	struct sim_dgram *bl_head, *bl_tail;	/* its socket's backlog */
	size_t		 bl_bytes;
};

struct sim {
	uint64_t	 now;
	uint64_t	 rng;
	int		 n;
	struct sim_node	 nodes[SIM_MAX_NODES];
	int		 cut[SIM_MAX_NODES][SIM_MAX_NODES]; /* 1: i cannot reach j */
	struct sim_dgram *head, *tail;	/* in flight, by arrival time */
	uint64_t	 in_flight;
	uint64_t	 dgrams;	/* sent in all */
	uint64_t	 latency;	/* one way, ns */
	struct verify	*verify;	/* every node's views and deliveries */
	struct to_config base;		/* settings every node starts from */
	/* which nodes sim_one_view waits for: by default those alive,
	 * not exited and not stopped (sim_freeze) */
	int		(*live)(const struct sim_node *);
};

/* n nodes, each with spec and fault spec (may be NULL), from seed. */
struct sim	*sim_new(int n, const char *spec, const char *faults,
		    uint64_t seed);
/* The same, each node's settings starting from base (packing...). */
struct sim	*sim_new_cfg(int n, const char *spec, const char *faults,
		    uint64_t seed, const struct to_config *base);
void		 sim_free(struct sim *);
/* Add a node later (a joiner); returns its index or -1. */
int		 sim_add(struct sim *, const char *spec, const char *faults);
/* Deliver, fire timers, until pred returns 1 (then 1) or limit ns of
 * simulated time passed (then 0).  pred may be NULL: run to the limit. */
int		 sim_run(struct sim *, int (*pred)(struct sim *, void *),
		    void *arg, uint64_t limit);
/* Cast a message at node i through the top of its stack. */
int		 sim_cast(struct sim *, int i, const void *, size_t);
void		 sim_ctl(struct sim *, int i, struct event *);
void		 sim_crash(struct sim *, int i);
/* Cut (1) or restore (0) both directions between the sets a and b. */
void		 sim_partition(struct sim *, const int *a, int na,
		    const int *b, int nb, int cut);
uint64_t	 sim_random(struct sim *);
/*
 * Stop node i as SIGSTOP does (1) or let it go on (0).  While it is
 * stopped its timers do not fire and what reaches it waits in its socket,
 * up to SIM_RCVBUF bytes, the rest dropped; when it goes on it reads that
 * backlog at once, its clock jumped forward, its timers all late.
 */
void		 sim_freeze(struct sim *, int i, int frozen);
/*
 * Starve node i (1) as a host short of CPU does at its worst: what
 * reaches it is taken in as it comes, but its timers (ALIVE, NAK's
 * loopback of its own casts, retries) do not fire until it is let go (0).
 */
void		 sim_starve(struct sim *, int i, int starved);
/* Cast count messages "node:k" at node, k from *next on. */
void		 sim_burst(struct sim *, int node, int count, int *next);
/* Node i is live (s->live); the first live node, or 0. */
int		 sim_live(const struct sim *, int i);
int		 sim_first_live(struct sim *);
/* sim_run predicate: every live node in one view (id and members) of
 * exactly the live nodes.  arg unused. */
int		 sim_one_view(struct sim *, void *arg);
/* One view that holds for three seconds within limit: a stale view, as
 * from before a stop, or old suspicions, are no agreement. */
int		 sim_settle(struct sim *, uint64_t limit);

#endif /* TO_SIM_H */
