/*
 * fault.h: fault injection on received datagrams (TO_FAULTS).
 *
 * The COM layer hands every datagram it receives, on any transport, to
 * fault_input(), and delivers what fault_output() gives back.  The model is
 * pure: it makes no system calls and reads no clock (the caller passes the
 * time, in ns), and draws from its own seeded PRNG, so a seed replays a run.
 *
 * A spec is a comma-separated list of key=value, empty for no faults:
 *
 *	loss=P%		drop a datagram with probability P
 *	dup=P%		deliver an extra copy with probability P
 *	reorder=P%	with probability P hold a datagram back until the next
 *			one arrives (at most 5 ms), so it comes after it
 *	delay=D		hold every datagram for D
 *	seed=N		seed the PRNG with N instead of the caller's seed
 *
 * P is a decimal from 0 to 100, the % sign optional.  D is a whole number
 * with a unit, ns, us, ms or s (bare: ms), at most an hour.  Datagrams come
 * out by due time, first in first out among equal times.  At most
 * FAULT_HELD_MAX are held: past that the oldest falls due at once.
 */
#ifndef TO_FAULT_H
#define TO_FAULT_H

#include <stdint.h>

#include "msg.h"

#define FAULT_HELD_MAX		4096
#define FAULT_REORDER_MAX_NS	5000000ULL	/* 5 ms */

struct fault;

/* A fault model from spec (NULL: none); NULL with EINVAL on a bad spec. */
struct fault	*fault_new(const char *spec, uint64_t seed);
/* Free the model and every datagram it holds. */
void		 fault_free(struct fault *);

/*
 * One received datagram; the model takes it and may drop it, duplicate it,
 * or hold it back.  Returns how many it dropped (0 or 1) for the counters;
 * a datagram it has no memory to hold counts as dropped.
 */
int		 fault_input(struct fault *, struct to_msg *, uint64_t now);

/* The next datagram due at now, in order, or NULL.  The caller frees it. */
struct to_msg	*fault_output(struct fault *, uint64_t now);

/* When the next held datagram falls due (absolute ns), 0 if none held. */
uint64_t	 fault_next_due(const struct fault *);

#endif /* TO_FAULT_H */
