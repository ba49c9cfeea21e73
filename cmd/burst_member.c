/*
 * burst_member.c: one member of a toburst experiment.
 *
 * For each protocol and packing the member joins a group of its own
 * (GROUP.PROTO, or GROUP.PROTO.K with several packings) and waits for -N
 * members.  The coordinator is the member of rank 0 in the first group;
 * it keeps that role in the later ones.  Everything goes through the
 * group, in the same total order as the payloads, so no side channel is
 * needed; burst_wire.c has the messages (DATA, START, ACK, RESULT,
 * DONE).  Every member starts a run of a cell when it
 * delivers START.  --all: each member casts m payloads and a round ends,
 * at that member, when it has delivered N*m payloads since the last;
 * then it casts the next m at once, as in the paper's first program.
 * Since a message cast after a delivery is ordered after it, the rounds
 * never interleave, so no message says where one ends.  --one: the
 * coordinator casts m, every other member casts ACK once it delivered
 * them; the round ends at the coordinator with the last ACK.  --rate:
 * the senders cast at the offered load for the duration, then wait for
 * their own payloads.  Each member then casts RESULT: its payload counts,
 * round and early latencies, and its to_stats deltas since START; the
 * coordinator adds them to its own, makes the row, waits (2 s at most)
 * for the group to be stable, and casts the next START, or DONE.
 *
 * Early latency is measured at the sender: from to_cast() to the
 * delivery of the same payload back to it (own payloads come back in
 * FIFO order, so a queue of cast times pairs them up).  With a sequencer
 * or a token that is when the order is known, the 2007 paper's "abcast
 * to first adelivery" or a little after it.
 */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "burst.h"
#include "opts.h"
#include "to.h"

#define SETTLE_NS	2000000000ULL	/* wait for stability between runs */
#define JOIN_NS		30000000000ULL	/* -T default: wait for members */
#define TICK_NS		200000000ULL	/* progress line */
#define DRAIN_NS	2000000ULL	/* -p raw: quiet after the ENDs */

enum phase {
	JOINING,
	READY,
	LEAVING,
	DONE,
};

struct ctl {
	unsigned char	*buf;
	size_t		 len;
};

struct member {
	struct burst_conf *c;
	struct opts	 o;		/* c->o with this group's settings */
	char		 group[TO_GROUP_MAX];
	const char	*proto;		/* as -p named it */
	struct to_group	*g;
	int		 israw;		/* -p raw: payloads over raw */
	struct burst_raw raw;
	uint32_t	 ends, ends_next;	/* raw: ENDs of this round, next */
	uint64_t	 ends_at;	/* raw: when the last END came */
	enum phase	 phase;
	uint64_t	 deadline;	/* JOINING, LEAVING */
	uint64_t	 last;		/* the last sign of progress */
	int		 sigfd;
	struct pollfd	*pfd;
	int		 npfd;
	int		 status;	/* a failure: exit status, message */
	char		 why[256];

	struct ctl	*q;		/* control casts waiting for room */
	size_t		 qn, qcap;

	/* the current run of a cell */
	int		 running;
	int		 coord;		/* this member coordinates */
	uint64_t	 coord_id;
	struct burst_cell cell;
	uint32_t	 cell_id, rep;
	int		 sender;
	uint64_t	 t_start, t_end, t_last;
	uint32_t	 round;		/* rounds done */
	uint64_t	 round_t0, in_round, to_send;
	uint32_t	 acks;
	uint64_t	 interval, due;	/* rate: ns between casts, how many */
	int		 own_done;
	struct burst_tally me;
	struct to_stats	 s0;
	uint64_t	*ring;		/* cast times of own payloads */
	size_t		 rhead, rn, rcap;	/* rcap: a power of two */
	unsigned char	*payload;
	size_t		 paylen;

	/* the coordinator */
	struct burst_tally sum;		/* the others' RESULTs */
	uint32_t	 nresults;
	size_t		 next, nruns;	/* runs of this group: next, all */
	int		 settling;
	uint64_t	 settle_until;
	struct burst_row row;
	uint64_t	 tick;
};

static int	 reporter = -1;		/* coordinates: rank 0 at first */
static size_t	 runs_done, runs_all;	/* for the progress line */

static void
member_fail(struct member *mb, int status, const char *fmt, ...)
{
	va_list	 ap;

	if (mb->status != 0)
		return;
	mb->status = status;
	va_start(ap, fmt);
	vsnprintf(mb->why, sizeof(mb->why), fmt, ap);
	va_end(ap);
}

static void
ctl_queue(struct member *mb, unsigned char *buf, size_t len)
{
	struct ctl	*q;

	if (mb->qn == mb->qcap) {
		mb->qcap = mb->qcap ? mb->qcap * 2 : 8;
		if ((q = reallocarray(mb->q, mb->qcap, sizeof(*q))) == NULL)
			err(EX_OSERR, NULL);
		mb->q = q;
	}
	mb->q[mb->qn].buf = buf;
	mb->q[mb->qn++].len = len;
}

/* The run'th run of this group: its cell and repetition. */
static void
member_cell(const struct burst_conf *c, size_t run, struct burst_cell *cl,
    uint32_t *rep)
{
	size_t	 per = c->nrates ? c->nrates : c->nm;
	size_t	 cell = run / c->repeats, k;
	int	 nmodes = c->modes == (BURST_MODE_ALL | BURST_MODE_ONE) ? 2 : 1;

	*rep = run % c->repeats;
	memset(cl, 0, sizeof(*cl));
	k = cell % per;
	cl->size = c->sizes[(cell / per) % c->nsizes];
	cl->mode = c->modes;
	if (nmodes == 2)
		cl->mode = cell / (per * c->nsizes) == 0 ? BURST_MODE_ALL :
		    BURST_MODE_ONE;
	cl->rounds = c->rounds;
	if (c->nrates) {
		cl->rate = c->rates[k];
		cl->duration_ms = c->duration / 1000000;
		cl->rounds = 0;
	} else
		cl->m = c->m[k];
}

static size_t
member_nruns(const struct burst_conf *c)
{
	size_t	 per = c->nrates ? c->nrates : c->nm;
	int	 nmodes = c->modes == (BURST_MODE_ALL | BURST_MODE_ONE) ? 2 : 1;

	return nmodes * c->nsizes * per * c->repeats;
}

/* Coordinator: START the next run, or DONE with this group. */
static void
member_start_next(struct member *mb)
{
	struct burst_cell cl;
	unsigned char	*b;
	uint32_t	 rep;
	size_t		 len;

	if (mb->next == mb->nruns) {
		if ((b = malloc(1)) == NULL)
			err(EX_OSERR, NULL);
		b[0] = BURST_MSG_DONE;
		ctl_queue(mb, b, 1);
		return;
	}
	member_cell(mb->c, mb->next, &cl, &rep);
	b = burst_wire_start(mb->next, rep, &cl, &len);
	ctl_queue(mb, b, len);
	mb->next++;
}

static void
member_result(struct member *mb)
{
	const struct to_stats *s = to_stats(mb->g);
	struct burst_tally *t = &mb->me;

	t->dgrams = s->dgrams_sent - mb->s0.dgrams_sent;
	t->bytes = s->bytes_sent - mb->s0.bytes_sent;
	t->retrans = s->retransmits - mb->s0.retransmits;
	t->naks = s->naks_sent - mb->s0.naks_sent;
	t->packs = s->packs_sent - mb->s0.packs_sent;
	t->packed = s->msgs_packed - mb->s0.msgs_packed;
	if (mb->israw) {
		/* what went over the bare transport, not the control */
		t->dgrams = mb->raw.sent_dgrams;
		t->bytes = mb->raw.sent_bytes;
		t->retrans = t->naks = t->packs = t->packed = 0;
		t->delivered = t->cast + burst_raw_msgs(&mb->raw,
		    mb->cell.size);
	}
}

/* A member other than the coordinator: its RESULT for this run. */
static void
member_send_result(struct member *mb)
{
	unsigned char	*b;
	size_t		 len;

	member_result(mb);
	b = burst_wire_result(mb->cell_id, mb->rep, &mb->me, &len);
	ctl_queue(mb, b, len);
}

/* This member's part of the run is over: its RESULT, unless it adds them. */
static void
member_own_done(struct member *mb, uint64_t now)
{
	mb->own_done = 1;
	mb->t_end = now;
	if (!mb->coord)
		member_send_result(mb);
}

/* A round ends at this member; the next burst, or the end of the run. */
static void
member_round_done(struct member *mb, uint64_t now)
{
	uint64_t	 lat = now - mb->round_t0;

	if (mb->cell.mode == BURST_MODE_ALL || mb->coord) {
		mb->me.lat_sum += lat;
		mb->me.lat_n++;
		if (lat > mb->me.lat_max)
			mb->me.lat_max = lat;
	}
	mb->round++;
	mb->in_round = 0;
	mb->acks = 0;
	mb->ends = mb->ends_next;
	mb->ends_next = 0;
	if (mb->israw)
		burst_raw_next_round(&mb->raw);
	mb->round_t0 = now;
	if (mb->round < mb->cell.rounds) {
		if (mb->sender)
			mb->to_send += mb->cell.m;
		return;
	}
	member_own_done(mb, now);
}

static void
member_ack(struct member *mb)
{
	unsigned char	*b;
	size_t		 len;

	b = burst_wire_ack(mb->cell_id, mb->rep, mb->round, &len);
	ctl_queue(mb, b, len);
}

/* --one at the coordinator: its m payloads and every ACK are in. */
static void
member_one_check(struct member *mb, uint64_t now)
{
	if (mb->in_round == mb->cell.m && mb->acks + 1 >= mb->c->members)
		member_round_done(mb, now);
}

static void
member_data(struct member *mb, const struct to_delivery *d, uint64_t now)
{
	uint64_t	 t;

	mb->me.delivered++;
	mb->t_last = now;
	if (d->sender == to_self(mb->g) && mb->rn > 0) {
		t = mb->ring[mb->rhead];
		mb->rhead = (mb->rhead + 1) & (mb->rcap - 1);
		mb->rn--;
		burst_hist_add(&mb->me.h, now - t);
	}
	if (mb->cell.rate != 0 || mb->own_done)
		return;
	mb->in_round++;
	if (mb->cell.mode == BURST_MODE_ALL) {
		if (mb->in_round == (uint64_t)mb->c->members * mb->cell.m)
			member_round_done(mb, now);
	} else if (mb->coord) {
		member_one_check(mb, now);
	} else if (mb->in_round == mb->cell.m) {
		member_ack(mb);
		member_round_done(mb, now);
	}
}

/*
 * -p raw: the round ends here once every sender's END came through the
 * ordered group and then either every payload of the round is in or the
 * bare transport was quiet for DRAIN_NS (what did not come is lost).
 * The coordinator of --one waits for the ACKs instead.
 */
static void
member_raw_check(struct member *mb, uint64_t now)
{
	uint32_t	 ends, others;
	uint64_t	 want, quiet;

	if (!mb->israw || !mb->running || mb->own_done ||
	    (mb->coord && mb->cell.mode == BURST_MODE_ONE))
		return;
	ends = mb->cell.mode == BURST_MODE_ALL ? mb->c->members : 1;
	others = mb->cell.mode == BURST_MODE_ALL ? mb->c->members - 1 : 1;
	if (mb->ends < ends)
		return;
	want = (uint64_t)others * mb->cell.m;
	quiet = mb->raw.last > mb->ends_at ? mb->raw.last : mb->ends_at;
	if (burst_raw_round_msgs(&mb->raw, mb->cell.size) < want &&
	    now < quiet + DRAIN_NS)
		return;
	if (mb->cell.mode == BURST_MODE_ONE)
		member_ack(mb);
	member_round_done(mb, now);
}

/* -p raw: a sender's END for round. */
static void
member_raw_end(struct member *mb, uint32_t round, uint64_t now)
{
	if (round == mb->round)
		mb->ends++;
	else if (round == mb->round + 1)
		mb->ends_next++;
	mb->ends_at = now;
	member_raw_check(mb, now);
}

/* -p raw: this member's burst, over the bare transport, then its END. */
static void
member_raw_burst(struct member *mb, uint64_t now)
{
	unsigned char	*b;
	size_t		 len;

	if (mb->to_send == 0)
		return;
	for (; mb->to_send > 0; mb->to_send--, mb->me.cast++)
		if (burst_raw_send(&mb->raw, mb->cell.size) == -1) {
			member_fail(mb, EX_OSERR, "group %s: raw send: %s",
			    mb->raw.group, strerror(errno));
			return;
		}
	b = burst_wire_end(mb->cell_id, mb->rep, mb->round, &len);
	ctl_queue(mb, b, len);
	if (mb->coord && mb->cell.mode == BURST_MODE_ONE) {
		mb->in_round = mb->cell.m;
		member_one_check(mb, now);
	}
}

static void
member_begin(struct member *mb, const struct to_delivery *d, uint64_t now)
{
	uint32_t	 senders;

	if (burst_wire_run(d->data, d->len, &mb->cell_id, &mb->rep) == -1 ||
	    burst_wire_read_start(d->data, d->len, &mb->cell) == -1 ||
	    mb->cell.size > mb->o.cfg.max_msg) {
		member_fail(mb, EX_DATAERR, "group %s: bad START from %016"
		    PRIx64, mb->group, d->sender);
		return;
	}
	mb->coord_id = d->sender;
	mb->running = 1;
	mb->own_done = 0;
	mb->t_start = mb->t_last = mb->round_t0 = now;
	mb->round = mb->acks = 0;
	mb->in_round = mb->to_send = mb->due = 0;
	mb->rn = 0;
	memset(&mb->me, 0, sizeof(mb->me));
	memset(&mb->sum, 0, sizeof(mb->sum));
	mb->nresults = 0;
	mb->s0 = *to_stats(mb->g);
	mb->sender = mb->cell.mode == BURST_MODE_ALL || mb->coord;
	if (mb->israw)
		burst_raw_begin(&mb->raw, mb->cell_id, mb->rep);
	mb->ends = mb->ends_next = 0;
	if (mb->paylen < mb->cell.size) {
		free(mb->payload);
		if ((mb->payload = calloc(1, mb->cell.size)) == NULL)
			err(EX_OSERR, NULL);
		mb->paylen = mb->cell.size;
	}
	if (mb->cell.rate != 0) {
		senders = mb->cell.mode == BURST_MODE_ALL ? mb->c->members : 1;
		mb->interval = 1000000000ULL * senders / mb->cell.rate;
		if (mb->interval == 0)
			mb->interval = 1;
		mb->due = (uint64_t)mb->cell.duration_ms * 1000000 /
		    mb->interval;
		if (mb->due == 0)
			mb->due = 1;
		if (!mb->sender)
			mb->due = 0;
	} else if (mb->sender)
		mb->to_send = mb->cell.m;
}

/* The coordinator: every RESULT is in and its own run is over. */
static void
member_finish(struct member *mb, uint64_t now)
{
	struct burst_row *r = &mb->row;
	uint64_t	 end = mb->cell.rate ? mb->t_last : mb->t_end, d;
	double		 el;

	/* a load is offered for the whole duration, at least */
	d = mb->t_start + (uint64_t)mb->cell.duration_ms * 1000000;
	if (mb->cell.rate && end < d)
		end = d;
	el = (double)(end - mb->t_start) / 1e9;

	member_result(mb);
	if (mb->rep == 0) {
		memset(r, 0, sizeof(*r));
		r->cell = mb->cell;
		r->proto = mb->proto;
		r->pack = mb->israw ? "-" : mb->o.cfg.pack;
		r->members = mb->c->members;
	}
	burst_tally_add(&r->t, &mb->me);
	burst_tally_add(&r->t, &mb->sum);
	r->reps++;
	r->elapsed += el;
	if (el > 0)
		r->thr_sum += (double)mb->me.delivered / el;
	r->coord_delivered += mb->me.delivered;
	if (mb->rep + 1 == mb->c->repeats)
		burst_report_row(mb->c, r);
	mb->running = 0;
	runs_done++;
	mb->settling = 1;
	mb->settle_until = now + SETTLE_NS;
}

static void
member_control(struct member *mb, const struct to_delivery *d, uint64_t now)
{
	const unsigned char *p = d->data;
	struct burst_tally t;
	uint32_t	 run, rep, round;
	int		 ours;

	ours = burst_wire_run(p, d->len, &run, &rep) == 0 && mb->running &&
	    run == mb->cell_id && rep == mb->rep;
	switch (p[0]) {
	case BURST_MSG_START:
		member_begin(mb, d, now);
		return;
	case BURST_MSG_ACK:
		if (burst_wire_read_ack(p, d->len, &round) == -1)
			break;
		if (ours && mb->coord && round == mb->round) {
			mb->acks++;
			member_one_check(mb, now);
		}
		return;
	case BURST_MSG_END:
		if (burst_wire_read_ack(p, d->len, &round) == -1)
			break;
		if (ours && mb->israw)
			member_raw_end(mb, round, now);
		return;
	case BURST_MSG_RESULT:
		if (burst_wire_read_result(p, d->len, &t) == -1)
			break;
		if (ours && mb->coord) {
			burst_tally_add(&mb->sum, &t);
			mb->nresults++;
		}
		return;
	case BURST_MSG_DONE:
		if (d->len != 1)
			break;
		mb->phase = LEAVING;	/* to_leave() after to_process() */
		mb->deadline = 0;
		return;
	}
	member_fail(mb, EX_DATAERR, "group %s: malformed message from %016"
	    PRIx64 " (type %u, %zu bytes)", mb->group, d->sender, p[0],
	    d->len);
}

static void
member_deliver(void *arg, const struct to_delivery *d)
{
	struct member	*mb = arg;
	const unsigned char *p = d->data;
	uint64_t	 now = d->at;

	mb->last = now;
	if (d->len == 0) {
		member_fail(mb, EX_DATAERR, "group %s: empty message from "
		    "%016" PRIx64, mb->group, d->sender);
		return;
	}
	if (p[0] == BURST_MSG_DATA) {
		if (mb->running)
			member_data(mb, d, now);
		return;
	}
	member_control(mb, d, now);
}

static void
member_view(void *arg, const struct to_view *v)
{
	struct member	*mb = arg;
	uint32_t	 n = mb->c->members;

	opts_view(&mb->o, v);
	mb->last = to_now();
	if (mb->phase == JOINING && v->n > n)
		member_fail(mb, EX_UNAVAILABLE, "group %s: %" PRIu32
		    " members, expected %" PRIu32 " (-N)", mb->group, v->n, n);
	else if (mb->phase == JOINING && v->n == n) {
		mb->phase = READY;
		if (reporter == -1)
			reporter = v->members[0] == v->self;
		mb->coord = reporter;
		if (mb->coord) {
			mb->settling = 1;
			mb->settle_until = mb->last;
		}
	} else if (mb->phase == READY && v->n != n)
		member_fail(mb, EX_UNAVAILABLE, "group %s: a member failed or "
		    "left: view %" PRIu64 " has %" PRIu32 " of %" PRIu32
		    " members", mb->group, v->id, v->n, n);
}

/* Cast a payload; 0 if the window is full. */
static int
member_cast_payload(struct member *mb, uint64_t now)
{
	uint64_t	*r;
	size_t		 i;

	if (mb->rn == mb->rcap) {
		if ((r = reallocarray(NULL, mb->rcap ? mb->rcap * 2 : 1024,
		    sizeof(*r))) == NULL)
			err(EX_OSERR, NULL);
		for (i = 0; i < mb->rn; i++)
			r[i] = mb->ring[(mb->rhead + i) & (mb->rcap - 1)];
		free(mb->ring);
		mb->ring = r;
		mb->rhead = 0;
		mb->rcap = mb->rcap ? mb->rcap * 2 : 1024;
	}
	/* in before to_cast(): it may deliver the payload back at once */
	mb->ring[(mb->rhead + mb->rn++) & (mb->rcap - 1)] = now;
	if (to_cast(mb->g, mb->payload, mb->cell.size) == 0) {
		mb->me.cast++;
		return 1;
	}
	mb->rn--;
	if (errno != EAGAIN)
		member_fail(mb, EX_SOFTWARE, "group %s: cast: %s", mb->group,
		    strerror(errno));
	return 0;
}

/* How many payloads a rate sender should have cast by now. */
static uint64_t
member_due(const struct member *mb, uint64_t now)
{
	uint64_t	 k = (now - mb->t_start) / mb->interval + 1;

	return k < mb->due ? k : mb->due;
}

/* Cast what waits: control messages first, then payloads. */
static void
member_pump(struct member *mb)
{
	uint64_t	 now = to_now();
	size_t		 i;

	/* raw: the burst, then at once its END, which it queues */
	if (mb->israw && mb->running && mb->status == 0)
		member_raw_burst(mb, now);
	for (i = 0; i < mb->qn; i++) {
		if (to_cast(mb->g, mb->q[i].buf, mb->q[i].len) == -1) {
			if (errno != EAGAIN)
				member_fail(mb, EX_SOFTWARE, "group %s: cast: "
				    "%s", mb->group, strerror(errno));
			break;
		}
		free(mb->q[i].buf);
	}
	if (i > 0) {
		memmove(mb->q, mb->q + i, (mb->qn - i) * sizeof(*mb->q));
		mb->qn -= i;
	}
	if (mb->qn > 0 || !mb->running || mb->status != 0)
		return;
	if (mb->israw)
		return;
	if (mb->cell.rate == 0) {
		while (mb->to_send > 0 && member_cast_payload(mb, now))
			mb->to_send--;
		return;
	}
	while (mb->me.cast < member_due(mb, now) &&
	    member_cast_payload(mb, now))
		;
}

/* --rate: the duration is over once every own payload came back. */
static void
member_rate_check(struct member *mb, uint64_t now)
{
	if (!mb->running || mb->cell.rate == 0 || mb->own_done ||
	    now < mb->t_start + (uint64_t)mb->cell.duration_ms * 1000000)
		return;
	if (mb->due > mb->me.cast) {
		mb->me.blocked = mb->due - mb->me.cast;
		mb->due = mb->me.cast;
	}
	if (mb->rn > 0)
		return;
	member_own_done(mb, now);
}

static void
member_progress(struct member *mb, uint64_t now)
{
	const struct burst_cell *cl = &mb->cell;

	if (!mb->c->progress || !mb->coord || now < mb->tick)
		return;
	mb->tick = now + TICK_NS;
	if (!mb->running)
		return;
	if (cl->rate)
		burst_progress(mb->c, "[%zu/%zu] %s %s rate=%" PRIu32
		    " s=%" PRIu32 " run %" PRIu32 "/%" PRIu32 ": %.1f s",
		    runs_done + 1, runs_all, mb->proto,
		    cl->mode == BURST_MODE_ALL ? "all" : "one", cl->rate,
		    cl->size, mb->rep + 1, mb->c->repeats,
		    (double)(now - mb->t_start) / 1e9);
	else
		burst_progress(mb->c, "[%zu/%zu] %s %s m=%" PRIu32 " s=%"
		    PRIu32 " run %" PRIu32 "/%" PRIu32 ": round %" PRIu32
		    "/%" PRIu32, runs_done + 1, runs_all,
		    mb->proto, cl->mode == BURST_MODE_ALL ? "all" :
		    "one", cl->m, cl->size, mb->rep + 1, mb->c->repeats,
		    mb->round + 1, cl->rounds);
}

/* The phases and the coordinator's turns. */
static void
member_advance(struct member *mb)
{
	uint64_t	 now = to_now();
	const struct to_view *v = to_current_view(mb->g);

	switch (mb->phase) {
	case JOINING:
		if (now >= mb->deadline)
			member_fail(mb, EX_UNAVAILABLE, "group %s: timed out "
			    "waiting for %" PRIu32 " members (have %" PRIu32
			    ")", mb->group, mb->c->members, v->n);
		break;
	case READY:
		member_rate_check(mb, now);
		if (mb->coord && mb->running && mb->own_done &&
		    mb->nresults + 1 >= mb->c->members)
			member_finish(mb, now);
		if (mb->settling && mb->qn == 0 &&
		    (now >= mb->settle_until || to_all_stable(mb->g))) {
			mb->settling = 0;
			member_start_next(mb);
		}
		if (now - mb->last >= mb->o.stall)
			member_fail(mb, EX_UNAVAILABLE, "group %s: no progress "
			    "for %g s", mb->group, (double)mb->o.stall / 1e9);
		member_progress(mb, now);
		break;
	case LEAVING:
		if (mb->deadline == 0) {
			mb->deadline = now + OPTS_LEAVE_NS;
			to_leave(mb->g);
		} else if (to_left(mb->g) || now >= mb->deadline)
			mb->phase = DONE;
		break;
	case DONE:
		break;
	}
}

static int
member_timeout(struct member *mb)
{
	uint64_t	 now = to_now(), wake = to_next_wake(mb->g), t;

	if (mb->phase == JOINING || mb->phase == LEAVING)
		wake = wake < mb->deadline ? wake : mb->deadline;
	if (mb->phase != READY)
		return opts_poll_ms(now, wake);
	if (mb->settling && mb->settle_until < wake)
		wake = mb->settle_until;
	if (mb->last + mb->o.stall < wake)
		wake = mb->last + mb->o.stall;
	if (mb->c->progress && mb->coord && mb->tick < wake)
		wake = mb->tick;
	if (mb->israw && mb->running && !mb->own_done) {
		t = (mb->raw.last > mb->ends_at ? mb->raw.last :
		    mb->ends_at) + DRAIN_NS;
		wake = t < wake ? t : wake;
	}
	if (mb->running && mb->cell.rate != 0 && !mb->own_done) {
		t = mb->t_start + (uint64_t)mb->cell.duration_ms * 1000000;
		if (mb->me.cast < mb->due && mb->qn == 0 &&
		    to_can_cast(mb->g))
			t = mb->t_start + mb->me.cast * mb->interval;
		wake = t < wake ? t : wake;
	}
	return opts_poll_ms(now, wake);
}

static void
member_step(struct member *mb)
{
	int	 n;

	member_advance(mb);
	if (mb->phase == DONE || mb->status != 0)
		return;
	n = 1;
	if (mb->israw)
		n += burst_raw_pollfds(&mb->raw, mb->pfd + 1, 4);
	n = opts_pollfds(mb->g, &mb->pfd, &mb->npfd, n);
	if (poll(mb->pfd, n, member_timeout(mb)) == -1) {
		if (errno != EINTR)
			err(EX_OSERR, "poll");
		return;
	}
	if ((mb->pfd[0].revents & POLLIN) && opts_signalled(mb->sigfd)) {
		member_fail(mb, EX_TEMPFAIL, "interrupted");
		return;
	}
	if (mb->israw) {
		burst_raw_drain(&mb->raw, to_now());
		member_raw_check(mb, to_now());
	}
	if (to_process(mb->g) == -1)
		member_fail(mb, to_error(mb->g) ? EX_UNAVAILABLE : EX_OSERR,
		    "group %s: %s", mb->group, to_error(mb->g) ?
		    to_error(mb->g) : strerror(errno));
	member_pump(mb);
}

/* A failure ends the whole run: the rows so far, the message, the exit. */
static void
member_die(struct member *mb)
{
	if (mb->coord)
		burst_report_end(mb->c, 1);
	else
		burst_progress_clear(mb->c);
	to_close(mb->g);
	errx(mb->status, "%s", mb->why);
}

static void
member_group(struct member *mb, const char *proto, const char *pack,
    size_t k)
{
	struct to_callbacks cb = {
		.deliver = member_deliver,
		.view = member_view,
		.arg = mb,
	};

	if (mb->c->npacks > 1)
		snprintf(mb->group, sizeof(mb->group), "%s.%s.%zu",
		    mb->c->o.cfg.group, proto, k + 1);
	else
		snprintf(mb->group, sizeof(mb->group), "%s.%s",
		    mb->c->o.cfg.group, proto);
	mb->o = mb->c->o;
	mb->o.cfg.group = mb->group;
	mb->proto = proto;
	mb->israw = strcmp(proto, BURST_RAW) == 0;
	/* raw: the control goes in order, the payloads bare */
	mb->o.cfg.protocol = mb->israw ? "dynseq" : proto;
	mb->o.cfg.pack = mb->israw ? NULL : pack;
	mb->phase = JOINING;
	mb->running = mb->settling = 0;
	mb->next = 0;
	mb->nruns = member_nruns(mb->c);
	mb->deadline = to_now() + (mb->o.timeout ? mb->o.timeout : JOIN_NS);
	mb->g = opts_open(&mb->o, &cb);
	if (mb->israw && burst_raw_open(&mb->raw, &mb->o.cfg,
	    to_self(mb->g)) == -1)
		err(EX_UNAVAILABLE, "group %s.d: raw transport", mb->group);
	opts_verbose(&mb->o, "group %s: waiting for %" PRIu32 " members",
	    mb->group, mb->c->members);
	while (mb->phase != DONE && mb->status == 0)
		member_step(mb);
	if (mb->status != 0)
		member_die(mb);
	opts_verbose(&mb->o, "group %s: done", mb->group);
	if (mb->israw)
		burst_raw_close(&mb->raw);
	to_close(mb->g);
	mb->g = NULL;
}

int
burst_member(struct burst_conf *c)
{
	struct member	 mb;
	size_t		 i, j;

	if (strlen(c->o.cfg.group) + 12 >= TO_GROUP_MAX)
		errx(EX_USAGE, "%s %s: too long for toburst, expected at most "
		    "%d characters", c->o.group_from, c->o.cfg.group,
		    TO_GROUP_MAX - 13);
	memset(&mb, 0, sizeof(mb));
	mb.c = c;
	mb.npfd = 9;
	if ((mb.pfd = calloc(mb.npfd, sizeof(*mb.pfd))) == NULL)
		err(EX_OSERR, NULL);
	mb.sigfd = opts_signals();
	mb.pfd[0].fd = mb.sigfd;
	mb.pfd[0].events = POLLIN;
	runs_all = c->nprotos * c->npacks * member_nruns(c);
	for (i = 0; i < c->nprotos; i++)
		for (j = 0; j < c->npacks; j++) {
			/* raw has no packing: once */
			if (j > 0 && strcmp(c->protos[i], BURST_RAW) == 0)
				break;
			member_group(&mb, c->protos[i], c->packs[j], j);
		}
	if (mb.coord)
		burst_report_end(c, 0);
	free(mb.pfd);
	free(mb.ring);
	free(mb.payload);
	free(mb.q);
	return EX_OK;
}
