/*
 * test_nak.c: unit tests for the NAK layer (lib/nak.c, nak_repair.c,
 * nak_stable.c, nak_view.c).
 *
 * Groups of "nak:com" stacks in the simulation: every node casts
 * broadcasts and point-to-point messages whose payload names the sender,
 * the destination and a counter, and every node must deliver each stream
 * exactly once, in order, its own broadcasts included, and end with
 * nothing unstable; without faults and with loss, duplication and
 * reordering over many seeds.  Then a lost last message, EV_CUT after the
 * origin crashed, a joiner, a partition and merge, a view change from
 * inside a delivery, a receiver 71000 messages behind, 32 members,
 * datagrams forged by hand (a valid COM header, then a broken NAK
 * header), and a long stream.  Point-to-point streams restart at every
 * view: between two members only one of which dropped the other, with a
 * STATUS, NAK or HIGH_P2P of the old view arriving late, and with data of
 * the new view arriving before the receiver installs it.
 *
 * TO_SEED=N replays the random runs from seed N; a failing run prints its
 * seed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "check.h"
#include "layer.h"
#include "sim.h"

#define COM_HDR		28
#define LOSSY		"loss=20%,dup=5%,reorder=5%"

#define K_BC		'B'
#define K_P2P		'P'
#define PL_LEN		12	/* kind, sender, dst, pad len, u64 counter */

uint32_t	com_group_hash(const char *);

static uint64_t	rng;
static uint64_t	view_id;	/* of the next view_at(); view_first() sets 1 */
static uint64_t	tot_recs, tot_faults, tot_naks, tot_rexmit;	/* of runs */

static uint64_t
rnd(void)
{
	uint64_t	 z;

	z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* What the nodes of one run sent: [sender][dst] for p2p, [sender][n] bc. */
struct ledger {
	uint64_t	 bc[SIM_MAX_NODES];
	uint64_t	 p2p[SIM_MAX_NODES][SIM_MAX_NODES];
	uint64_t	 expect[SIM_MAX_NODES];	/* deliveries per node */
	int		 dead[SIM_MAX_NODES];
};

/* Cast a message from node i: to all if j < 0, else to node j. */
static int
cast(struct sim *s, struct ledger *lg, int i, int j)
{
	unsigned char	 buf[PL_LEN + 64];
	struct to_msg	*m;
	size_t		 pad = rnd() % 48, k;
	uint64_t	 ctr;
	int		 rv;

	ctr = j < 0 ? ++lg->bc[i] : ++lg->p2p[i][j];
	buf[0] = j < 0 ? K_BC : K_P2P;
	buf[1] = (unsigned char)i;
	buf[2] = (unsigned char)(j < 0 ? 0xff : j);
	buf[3] = (unsigned char)pad;
	put64(buf + 4, ctr);
	for (k = 0; k < pad; k++)
		buf[PL_LEN + k] = (unsigned char)(ctr + k);
	if ((m = msg_from(buf, PL_LEN + pad)) == NULL)
		return -1;
	m->meta.dst = j < 0 ? 0 : s->nodes[j].id;
	stack_set_now(s->nodes[i].stack, s->now);
	if ((rv = stack_cast(s->nodes[i].stack, m)) == 0) {
		if (j >= 0)
			lg->expect[j]++;
		else
			for (k = 0; k < (size_t)s->n; k++)
				lg->expect[k]++;
	} else if (j < 0)
		lg->bc[i]--;
	else
		lg->p2p[i][j]--;
	return rv;
}

/* Install the view of the n nodes idx at node at. */
static void
view_at(struct sim *s, const int *idx, int n, int at, const struct cut *c)
{
	struct to_view	 v;
	struct event	 e;
	uint64_t	 ids[SIM_MAX_NODES];
	int		 i;

	for (i = 0; i < n; i++)
		ids[i] = s->nodes[idx[i]].id;
	v.id = view_id;
	v.n = n;
	v.members = ids;
	v.self = s->nodes[at].id;
	memset(&e, 0, sizeof(e));
	e.type = EV_VIEW;
	e.view = &v;
	if (c != NULL)
		e.cut = *c;
	sim_ctl(s, at, &e);
}

static void
view_all(struct sim *s, const int *idx, int n, const struct cut *c)
{
	int	 i;

	for (i = 0; i < n; i++)
		view_at(s, idx, n, idx[i], c);
}

static void
view_first(struct sim *s)
{
	int	 idx[SIM_MAX_NODES], i;

	for (i = 0; i < s->n; i++)
		idx[i] = i;
	view_id = 1;
	view_all(s, idx, s->n, NULL);
}

static int
all_delivered(struct sim *s, void *arg)
{
	struct ledger	*lg = arg;
	int		 i;

	for (i = 0; i < s->n; i++)
		if (!lg->dead[i] && s->nodes[i].nrecs < lg->expect[i])
			return 0;
	return 1;
}

/*
 * Every node delivered every stream in order, once, from the right
 * sender: 0, or -1 after printing what is wrong.
 */
static int
verify(struct sim *s, const struct ledger *lg, uint64_t seed)
{
	static uint64_t	 bc[SIM_MAX_NODES], p2p[SIM_MAX_NODES];
	struct sim_rec	*r;
	size_t		 k;
	int		 i, j, snd;

	for (i = 0; i < s->n; i++) {
		if (lg->dead[i])
			continue;
		memset(bc, 0, sizeof(bc));
		memset(p2p, 0, sizeof(p2p));
		for (k = 0; k < s->nodes[i].nrecs; k++) {
			r = &s->nodes[i].recs[k];
			snd = r->len >= PL_LEN ? r->data[1] : -1;
			if (snd < 0 || snd >= s->n ||
			    r->src != s->nodes[snd].id ||
			    r->len != PL_LEN + (size_t)r->data[3] ||
			    (r->data[0] == K_P2P && r->data[2] != i) ||
			    get64(r->data + 4) != (r->data[0] == K_BC ?
			    ++bc[snd] : ++p2p[snd])) {
				printf("# seed %llu: node %d record %zu bad\n",
				    (unsigned long long)seed, i, k);
				return -1;
			}
		}
		for (j = 0; j < s->n; j++)
			if (bc[j] != lg->bc[j] || p2p[j] != lg->p2p[j][i]) {
				printf("# seed %llu: node %d has %llu/%llu bc,"
				    " %llu/%llu p2p of node %d\n",
				    (unsigned long long)seed, i,
				    (unsigned long long)bc[j],
				    (unsigned long long)lg->bc[j],
				    (unsigned long long)p2p[j],
				    (unsigned long long)lg->p2p[j][i], j);
				return -1;
			}
	}
	return 0;
}

static size_t
backlog(struct sim *s, int i)
{
	struct event	 e = { .type = EV_BACKLOG };

	sim_ctl(s, i, &e);
	return e.backlog;
}

static int
stable(struct sim *s, int i)
{
	struct event	 e = { .type = EV_STABLE };

	sim_ctl(s, i, &e);
	return e.stable;
}

static int
all_stable(struct sim *s, void *arg)
{
	struct ledger	*lg = arg;
	int		 i;

	for (i = 0; i < s->n; i++)
		if (!lg->dead[i] && (!stable(s, i) || backlog(s, i) != 0))
			return 0;
	return 1;
}

/* One random run: 0 if every check held. */
static int
run_random(uint64_t seed, int n, int msgs, const char *faults)
{
	struct ledger	*lg;
	struct sim	*s;
	int		 k, i, rv = -1;

	rng = seed;
	if ((lg = calloc(1, sizeof(*lg))) == NULL ||
	    (s = sim_new(n, "nak:com", faults, seed)) == NULL) {
		free(lg);
		return -1;
	}
	view_first(s);
	for (k = 0; k < msgs; k++) {
		i = rnd() % n;
		if (cast(s, lg, i, rnd() % 5 == 0 ? (int)(rnd() % n) : -1))
			goto out;
		if (rnd() % 4 == 0)
			sim_run(s, NULL, NULL, rnd() % 300000);
	}
	if (!sim_run(s, all_delivered, lg, 20000 * MS)) {
		printf("# seed %llu: not all delivered\n",
		    (unsigned long long)seed);
		verify(s, lg, seed);
		goto out;
	}
	if (verify(s, lg, seed) == -1)
		goto out;
	if (!sim_run(s, all_stable, lg, 5000 * MS)) {
		printf("# seed %llu: not stable\n", (unsigned long long)seed);
		goto out;
	}
	rv = 0;
out:
	for (i = 0; i < n; i++) {
		struct to_stats	*st = stack_stats(s->nodes[i].stack);

		tot_recs += s->nodes[i].nrecs;
		tot_faults += st->dropped_fault;
		tot_naks += st->naks_sent;
		tot_rexmit += st->retransmits;
	}
	sim_free(s);
	free(lg);
	return rv;
}

static uint64_t
base_seed(void)
{
	const char	*e = getenv("TO_SEED");

	return e != NULL ? strtoull(e, NULL, 10) : 1;
}

static void
test_random(const char *faults, int seeds)
{
	uint64_t	 seed0 = base_seed(), seed;
	int		 failed = 0;

	tot_recs = tot_faults = tot_naks = tot_rexmit = 0;
	for (seed = seed0; seed < seed0 + seeds; seed++)
		if (run_random(seed, 3 + seed % 3, 300, faults) == -1)
			failed++;
	printf("# %d runs %s: %d failed; %llu deliveries, %llu datagrams "
	    "lost or held by faults, %llu NAKs, %llu repairs\n", seeds,
	    faults ? faults : "clean", failed, (unsigned long long)tot_recs,
	    (unsigned long long)tot_faults, (unsigned long long)tot_naks,
	    (unsigned long long)tot_rexmit);
	CHECK(failed == 0);
}

/* Loopback comes from the timer; reliable casts need a view. */
static void
test_basics(void)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(3, "nak:com", NULL, 7);
	struct to_msg	*m;
	struct event	 e;

	memset(&lg, 0, sizeof(lg));
	rng = 7;
	CHECK(s != NULL);
	m = msg_from("x", 1);
	CHECK(stack_cast(s->nodes[0].stack, m) == -1 && errno == ENOTCONN);
	/* unreliable before any view: to all but us, marked */
	m = msg_from("u", 1);
	m->meta.flags = MSG_UNRELIABLE;
	CHECK(stack_cast(s->nodes[0].stack, m) == 0);
	sim_run(s, NULL, NULL, MS);
	CHECK(s->nodes[0].nrecs == 0 && s->nodes[1].nrecs == 1 &&
	    s->nodes[2].nrecs == 1 &&
	    s->nodes[1].recs[0].src == s->nodes[0].id);
	s->nodes[1].nrecs = s->nodes[2].nrecs = 0;
	free(s->nodes[1].recs[0].data);
	free(s->nodes[2].recs[0].data);

	view_first(s);
	CHECK(cast(s, &lg, 0, -1) == 0 && cast(s, &lg, 0, 0) == 0);
	CHECK(s->nodes[0].nrecs == 0);	/* not inside down() */
	CHECK(backlog(s, 0) == 1 && !stable(s, 0));
	m = msg_new(MSG_HEADROOM, 1472);
	CHECK(stack_cast(s->nodes[0].stack, m) == -1 && errno == EMSGSIZE);
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	CHECK(verify(s, &lg, 7) == 0);
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));

	memset(&e, 0, sizeof(e));
	e.type = EV_RECV_VECTOR;
	sim_ctl(s, 1, &e);
	CHECK(e.cut.n == 3 && e.cut.e != NULL &&
	    e.cut.e[0].member == s->nodes[0].id && e.cut.e[0].seq == 1 &&
	    e.cut.e[1].member == s->nodes[1].id && e.cut.e[1].seq == 0);
	free(e.cut.e);
	sim_free(s);
}

/* The last message lost, and the STATUS after it too: a heartbeat tells. */
static void
test_lost_last(void)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(2, "nak:com", NULL, 11);
	int		 a[] = { 0 }, b[] = { 1 };
	uint64_t	 t0;

	memset(&lg, 0, sizeof(lg));
	rng = 11;
	view_first(s);
	CHECK(cast(s, &lg, 0, -1) == 0);
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	sim_run(s, NULL, NULL, 100 * MS);
	sim_partition(s, a, 1, b, 1, 1);
	CHECK(cast(s, &lg, 0, -1) == 0 && cast(s, &lg, 0, 1) == 0);
	sim_run(s, NULL, NULL, 10 * MS);
	CHECK(s->nodes[1].nrecs == 1);
	sim_partition(s, a, 1, b, 1, 0);
	t0 = s->now;
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	printf("# recovered after %llu ms\n",
	    (unsigned long long)((s->now - t0) / MS));
	CHECK(verify(s, &lg, 11) == 0);
	CHECK(stack_stats(s->nodes[1].stack)->naks_sent > 0);
	CHECK(stack_stats(s->nodes[0].stack)->retransmits >= 2);
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));
	sim_free(s);
}

static void	forge(struct sim *, int, int, uint64_t, const void *, size_t);

static int
cuts_done(struct sim *s, void *arg)
{
	const int	*alive = arg;
	int		 i;

	for (i = 0; alive[i] >= 0; i++)
		if (!s->nodes[alive[i]].cut_done)
			return 0;
	return 1;
}

/* The cut survivors agree on: per stream the most anyone holds, and who. */
static void
cut_of(struct sim *s, const int *alive, struct cut *c)
{
	struct event	 e;
	size_t		 i, j;
	int		 k;

	c->n = 0;
	c->e = calloc(SIM_MAX_NODES, sizeof(*c->e));
	for (k = 0; alive[k] >= 0; k++) {
		memset(&e, 0, sizeof(e));
		e.type = EV_RECV_VECTOR;
		sim_ctl(s, alive[k], &e);
		for (i = 0; i < e.cut.n; i++) {
			for (j = 0; j < c->n; j++)
				if (c->e[j].member == e.cut.e[i].member)
					break;
			if (j == c->n) {
				c->e[c->n].member = e.cut.e[i].member;
				c->e[c->n++].seq = 0;
			}
			if (e.cut.e[i].seq >= c->e[j].seq) {
				c->e[j].seq = e.cut.e[i].seq;
				c->e[j].from = s->nodes[alive[k]].id;
			}
		}
		free(e.cut.e);
	}
}

/*
 * Node 0 casts 100 messages; node 3 misses 30..60, node 2 misses 61..100
 * and does not know it; node 0 crashes.  The survivors obtain the cut
 * from node 1 and install a view without node 0, node 1 first (as an
 * MBRSHIP coordinator does), before the others asked it for anything.
 */
static void
test_cut(void)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(4, "nak:com", NULL, 13);
	int		 a[] = { 0 }, b2[] = { 2 }, b3[] = { 3 };
	int		 alive[] = { 1, 2, 3, -1 }, first[] = { 1, -1 }, k;
	struct event	 e;
	struct cut	 c;

	memset(&lg, 0, sizeof(lg));
	rng = 13;
	view_first(s);
	for (k = 0; k < 5; k++)
		cast(s, &lg, 1, -1);
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	for (k = 1; k <= 100; k++) {
		if (k == 30)
			sim_partition(s, a, 1, b3, 1, 1);
		if (k == 61) {
			sim_partition(s, a, 1, b3, 1, 0);
			sim_partition(s, a, 1, b2, 1, 1);
		}
		cast(s, &lg, 0, -1);
	}
	sim_crash(s, 0);
	lg.dead[0] = 1;
	sim_run(s, NULL, NULL, 30 * MS);
	CHECK(s->nodes[2].nrecs == 5 + 60 && s->nodes[3].nrecs == 5 + 29);
	CHECK(stack_stats(s->nodes[3].stack)->naks_sent > 0);
	/* node 1's own last broadcast is still to loop back at the cut */
	cast(s, &lg, 1, -1);
	cut_of(s, alive, &c);
	for (k = 0; alive[k] >= 0; k++) {
		memset(&e, 0, sizeof(e));
		e.type = EV_CUT;
		e.cut = c;
		sim_ctl(s, alive[k], &e);
		CHECK(s->nodes[alive[k]].cut_done == 0);
		if (k == 0) {
			CHECK(sim_run(s, cuts_done, first, 10 * MS));
			view_id++;
			view_at(s, alive, 3, alive[0], &c);
		}
	}
	CHECK(sim_run(s, cuts_done, alive, 200 * MS));
	CHECK(all_delivered(s, &lg));
	CHECK(verify(s, &lg, 13) == 0);
	CHECK(stack_stats(s->nodes[1].stack)->retransmits >= 31 + 40);

	view_at(s, alive, 3, alive[1], &c);
	view_at(s, alive, 3, alive[2], &c);
	free(c.e);
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));
	for (k = 0; k < 5; k++)
		cast(s, &lg, 2, -1);
	cast(s, &lg, 3, 1);
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	CHECK(verify(s, &lg, 13) == 0);
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));
	sim_run(s, NULL, NULL, 6000 * MS);	/* node 1 lets node 0 go */
	CHECK(all_stable(s, &lg));
	sim_free(s);
}

/*
 * Node 2 misses 70000 messages of node 0, more than a receiver holds
 * ahead, and 1000 more come after it is back: it asks in pages.
 */
static void
test_gap(void)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(3, "nak:com", NULL, 29);
	unsigned char	 nak[28];
	uint64_t	 rt;
	int		 a[] = { 0 }, b[] = { 2 }, k;

	memset(&lg, 0, sizeof(lg));
	rng = 29;
	view_first(s);
	sim_partition(s, a, 1, b, 1, 1);
	for (k = 0; k < 70000; k++) {
		cast(s, &lg, 0, -1);
		if (k % 1000 == 999)
			sim_run(s, NULL, NULL, MS);
	}
	sim_run(s, NULL, NULL, 10 * MS);
	/* node 0 keeps all 70000, and sends no more than fit in flight */
	CHECK(s->nodes[2].nrecs == 0 && backlog(s, 0) == EV_BACKLOG_FULL);
	/* node 2 asks for everything at once: it gets a page */
	rt = stack_stats(s->nodes[0].stack)->retransmits;
	memset(nak, 0, sizeof(nak));
	nak[0] = 4;
	put64(nak + 2, s->nodes[0].id);
	put16(nak + 10, 1);
	put64(nak + 12, 1);
	put64(nak + 20, UINT64_MAX);
	forge(s, 0, 0, s->nodes[2].id, nak, sizeof(nak));
	CHECK(stack_stats(s->nodes[0].stack)->retransmits - rt == 256);
	sim_partition(s, a, 1, b, 1, 0);
	for (k = 0; k < 1000; k++)
		cast(s, &lg, 0, -1);
	CHECK(sim_run(s, all_delivered, &lg, 5000 * MS));
	CHECK(verify(s, &lg, 29) == 0);
	printf("# 71000 behind: %llu NAKs, %llu repairs\n",
	    (unsigned long long)stack_stats(s->nodes[2].stack)->naks_sent,
	    (unsigned long long)stack_stats(s->nodes[0].stack)->retransmits);
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));
	sim_free(s);
}

/* 32 members, each sending to each: ack vectors take two datagrams. */
static void
test_wide(void)
{
	struct ledger	*lg = calloc(1, sizeof(*lg));
	struct sim	*s = sim_new(32, "nak:com", LOSSY, 31);
	int		 i, j, k;

	rng = 31;
	view_first(s);
	for (k = 0; k < 3; k++)
		for (i = 0; i < 32; i++) {
			for (j = 0; j < 32; j++)
				cast(s, lg, i, j);
			cast(s, lg, i, -1);
			sim_run(s, NULL, NULL, 100000);
		}
	CHECK(sim_run(s, all_delivered, lg, 5000 * MS));
	CHECK(verify(s, lg, 31) == 0);
	CHECK(sim_run(s, all_stable, lg, 5000 * MS));
	sim_free(s);
	free(lg);
}

/* A joiner follows the old members' streams from the cut on. */
static void
test_join(const char *faults)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(3, "nak:com", faults, 17);
	int		 all[] = { 0, 1, 2, 3, -1 }, k, j;
	struct cut	 c;
	struct sim_rec	*r;
	uint64_t	 first[4], p2p[4] = { 0 };

	memset(&lg, 0, sizeof(lg));
	rng = 17;
	view_first(s);
	for (k = 0; k < 50; k++)
		cast(s, &lg, k % 3, -1);
	CHECK(sim_run(s, all_delivered, &lg, 1000 * MS));
	CHECK(sim_add(s, "nak:com", faults) == 3);
	/* old members flushed: the cut is what they all hold */
	all[3] = -1;
	cut_of(s, all, &c);
	all[3] = 3;
	for (k = 0; k < 3; k++)
		first[k] = lg.bc[k];
	first[3] = 0;
	view_id++;
	view_all(s, all, 4, &c);
	free(c.e);
	lg.expect[3] = 0;
	for (k = 0; k < 200; k++) {
		j = k % 4;
		cast(s, &lg, j, -1);
		if (k % 7 == 0)
			cast(s, &lg, j, (j + 1) % 4);
		if (k % 10 == 0)
			sim_run(s, NULL, NULL, MS);
	}
	CHECK(sim_run(s, all_delivered, &lg, 5000 * MS));
	/* the joiner saw each old stream from the cut on, in order */
	for (k = 0; k < (int)s->nodes[3].nrecs; k++) {
		r = &s->nodes[3].recs[k];
		if (get64(r->data + 4) != (r->data[0] == K_BC ?
		    ++first[r->data[1]] : ++p2p[r->data[1]]))
			break;
	}
	CHECK(k == (int)s->nodes[3].nrecs);
	for (k = 0; k < 4; k++)
		CHECK(first[k] == lg.bc[k] && p2p[k] == lg.p2p[k][3]);
	lg.dead[3] = 1;
	CHECK(verify(s, &lg, 17) == 0);
	lg.dead[3] = 0;
	CHECK(sim_run(s, all_stable, &lg, 2000 * MS));
	sim_free(s);
}

/* Per sender, the records of node i from rec k on count up by one. */
static int
in_order_from(struct sim *s, int i, size_t k)
{
	uint64_t	 last[SIM_MAX_NODES][2] = { { 0 } };
	struct sim_rec	*r;
	uint64_t	 ctr;
	int		 p;

	for (; k < s->nodes[i].nrecs; k++) {
		r = &s->nodes[i].recs[k];
		p = r->data[0] == K_P2P;
		ctr = get64(r->data + 4);
		if (last[r->data[1]][p] != 0 && ctr != last[r->data[1]][p] + 1)
			return 0;
		last[r->data[1]][p] = ctr;
	}
	return 1;
}

/*
 * Node 2 is cut off: nodes 0 and 1 go on in a view without it, node 2
 * alone; then the views merge.  Streams of members that come back start
 * afresh from the cut; a view naming a member twice is taken once.
 */
static void
test_merge(void)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(3, "nak:com", NULL, 37);
	int		 all[] = { 0, 1, 2, -1 }, two[] = { 0, 1 }, one[] = { 2 };
	int		 dup[] = { 0, 1, 0, 2, 2 }, k;
	size_t		 mark[3];
	struct event	 e;
	struct cut	 c;

	memset(&lg, 0, sizeof(lg));
	rng = 37;
	view_first(s);
	for (k = 0; k < 30; k++)
		cast(s, &lg, k % 3, k % 2 ? -1 : (k + 1) % 3);
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	sim_partition(s, two, 2, one, 1, 1);
	view_id++;			/* the same id on both sides */
	view_all(s, two, 2, NULL);
	view_at(s, one, 1, 2, NULL);
	for (k = 0; k < 30; k++)
		cast(s, &lg, k % 3, k % 2 ? -1 : (k % 3 == 2 ? 2 : 1 - k % 3));
	sim_run(s, NULL, NULL, 200 * MS);
	CHECK(stable(s, 0) && stable(s, 2));
	sim_partition(s, two, 2, one, 1, 0);
	cut_of(s, all, &c);
	view_id++;
	for (k = 0; k < 3; k++) {
		view_at(s, dup, 5, k, &c);
		mark[k] = s->nodes[k].nrecs;
		lg.expect[k] = mark[k];
	}
	free(c.e);
	for (k = 0; k < 60; k++)
		cast(s, &lg, k % 3, k % 4 ? -1 : (k + 2) % 3);
	CHECK(sim_run(s, all_delivered, &lg, 1000 * MS));
	for (k = 0; k < 3; k++)
		CHECK(s->nodes[k].nrecs == mark[k] + 60 - 15 + 5 &&
		    in_order_from(s, k, mark[k]));
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));
	memset(&e, 0, sizeof(e));
	e.type = EV_LEAVE;		/* not ours: passed on */
	sim_ctl(s, 0, &e);
	sim_free(s);
}

/*
 * Node 1 is cut off.  Nodes 0 and 2 install a view without it; node 1
 * never installs one without them (it has not suspected them yet), so its
 * streams to them go on in the old epoch while theirs to it are gone.
 * After the heal nodes 0 and 2 install one view of all three and send to
 * node 1 at once; node 1, still in the old view, sends to node 0 (in the
 * old epoch: dropped there), then installs the view too.  The streams
 * between 0 and 1 flow both ways, each message once.
 */
static void
test_asym(void)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(3, "nak:com", NULL, 41);
	int		 all[] = { 0, 1, 2, -1 }, two[] = { 0, 2 };
	int		 one[] = { 1 };
	size_t		 n0;
	struct cut	 c;
	int		 k;

	memset(&lg, 0, sizeof(lg));
	rng = 41;
	view_first(s);
	for (k = 0; k < 40; k++) {
		cast(s, &lg, 0, 1);
		cast(s, &lg, 1, 0);
		cast(s, &lg, 1, 2);
		cast(s, &lg, 2, 1);
		if (k % 10 == 9)
			sim_run(s, NULL, NULL, MS);
	}
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));

	sim_partition(s, two, 2, one, 1, 1);
	view_id++;
	view_all(s, two, 2, NULL);
	for (k = 0; k < 10; k++) {
		cast(s, &lg, 0, 2);
		cast(s, &lg, 2, 0);
	}
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	sim_partition(s, two, 2, one, 1, 0);

	cut_of(s, all, &c);
	view_id++;
	view_at(s, all, 3, 0, &c);
	view_at(s, all, 3, 2, &c);
	for (k = 0; k < 5; k++) {
		cast(s, &lg, 0, 1);
		cast(s, &lg, 2, 1);
	}
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	n0 = s->nodes[0].nrecs;
	cast(s, &lg, 1, 0);		/* old epoch: never delivered */
	lg.p2p[1][0]--;
	lg.expect[0]--;
	sim_run(s, NULL, NULL, 100 * MS);
	CHECK(s->nodes[0].nrecs == n0);
	view_at(s, all, 3, 1, &c);
	free(c.e);
	for (k = 0; k < 40; k++) {
		cast(s, &lg, k % 3, (k + 1) % 3);
		cast(s, &lg, (k + 1) % 3, k % 3);
		if (k % 4 == 0)
			cast(s, &lg, k % 3, -1);
		if (k % 10 == 9)
			sim_run(s, NULL, NULL, MS);
	}
	CHECK(sim_run(s, all_delivered, &lg, 1000 * MS));
	CHECK(verify(s, &lg, 41) == 0);
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));
	sim_free(s);
}

/* A STATUS from member src to node i with one entry of epoch. */
static void
forge_entry(struct sim *s, int i, uint64_t src, int kind, uint64_t member,
    uint64_t seq, uint64_t epoch)
{
	unsigned char	 b[12 + 25];

	memset(b, 0, sizeof(b));
	b[0] = 5;
	put16(b + 10, 1);
	b[12] = (unsigned char)kind;
	put64(b + 13, member);
	put64(b + 21, seq);
	put64(b + 29, epoch);
	forge(s, i, 0, src, b, sizeof(b));
}

/* A NAK from member src to node i for its p2p stream to src. */
static void
forge_p2p_nak(struct sim *s, int i, uint64_t src, uint64_t epoch,
    uint64_t first, uint64_t last)
{
	unsigned char	 b[12 + 8 + 16];

	b[0] = 4;
	b[1] = 0x01;
	put64(b + 2, s->nodes[i].id);
	put16(b + 10, 1);
	put64(b + 12, epoch);
	put64(b + 20, first);
	put64(b + 28, last);
	forge(s, i, 0, src, b, sizeof(b));
}

/*
 * Node 1 acknowledged node 0's stream to it up to 5 in view 1; in view 2
 * node 0 sends 1..3 anew, which a partition keeps from node 1.  Late
 * datagrams of view 1 then arrive: node 1's ack, node 1's NAK for 1..3,
 * node 0's HIGH_P2P telling node 1 of 100.  None may count in view 2: 1..3
 * stay kept and are not repaired, node 1 asks for nothing.  The same ones
 * of view 2 do count.
 */
static void
test_stale(void)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(2, "nak:com", NULL, 43);
	struct to_stats	*st0 = stack_stats(s->nodes[0].stack);
	struct to_stats	*st1 = stack_stats(s->nodes[1].stack);
	int		 all[] = { 0, 1 }, a[] = { 0 }, b[] = { 1 }, k;
	uint64_t	 id0 = s->nodes[0].id, id1 = s->nodes[1].id, rt, nk;

	memset(&lg, 0, sizeof(lg));
	rng = 43;
	view_first(s);
	for (k = 0; k < 5; k++)
		cast(s, &lg, 0, 1);
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));
	sim_partition(s, a, 1, b, 1, 1);
	view_id++;
	view_all(s, all, 2, NULL);
	for (k = 0; k < 3; k++)
		cast(s, &lg, 0, 1);
	sim_run(s, NULL, NULL, 5 * MS);
	CHECK(s->nodes[1].nrecs == 5 && !stable(s, 0));

	forge_entry(s, 0, id1, 2, id0, 5, 1);		/* ACK_P2P */
	CHECK(!stable(s, 0));
	rt = st0->retransmits;
	forge_p2p_nak(s, 0, id1, 1, 1, 3);
	CHECK(st0->retransmits == rt);
	nk = st1->naks_sent;
	forge_entry(s, 1, id0, 3, id1, 100, 1);		/* HIGH_P2P */
	sim_run(s, NULL, NULL, 20 * MS);
	CHECK(st1->naks_sent == nk && stable(s, 1));

	/* the same in the current epoch */
	forge_p2p_nak(s, 0, id1, 2, 1, 3);
	CHECK(st0->retransmits == rt + 3);
	forge_entry(s, 1, id0, 3, id1, 3, 2);
	sim_run(s, NULL, NULL, 20 * MS);
	CHECK(st1->naks_sent > nk && !stable(s, 1));
	sim_partition(s, a, 1, b, 1, 0);
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	CHECK(verify(s, &lg, 43) == 0);
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));

	sim_partition(s, a, 1, b, 1, 1);
	cast(s, &lg, 0, 1);
	sim_run(s, NULL, NULL, 5 * MS);
	CHECK(!stable(s, 0));
	forge_entry(s, 0, id1, 2, id0, 4, 2);
	CHECK(stable(s, 0));		/* freed: node 1 never gets it */
	sim_free(s);
}

/*
 * Node 0 installs view 2 first and sends to node 1 at once, the first
 * message lost: node 1, still in view 1, learns of the new epoch from a
 * STATUS, restarts its side, asks in the new epoch, and delivers it and
 * the next ones; installing view 2 itself then changes nothing: each
 * comes up once.
 */
static void
test_early(void)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(2, "nak:com", NULL, 47);
	int		 all[] = { 0, 1 }, a[] = { 0 }, b[] = { 1 }, k;
	size_t		 n0;

	memset(&lg, 0, sizeof(lg));
	rng = 47;
	view_first(s);
	for (k = 0; k < 5; k++) {
		cast(s, &lg, 0, 1);
		cast(s, &lg, 1, 0);
	}
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));

	view_id++;
	view_at(s, all, 2, 0, NULL);
	sim_partition(s, a, 1, b, 1, 1);
	cast(s, &lg, 0, 1);
	sim_run(s, NULL, NULL, 5 * MS);
	sim_partition(s, a, 1, b, 1, 0);
	CHECK(s->nodes[1].nrecs == 5);
	CHECK(sim_run(s, all_delivered, &lg, 200 * MS));
	CHECK(stack_stats(s->nodes[1].stack)->naks_sent > 0);
	cast(s, &lg, 0, 1);
	cast(s, &lg, 0, 1);
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	CHECK(s->nodes[1].nrecs == 5 + 3);

	n0 = s->nodes[0].nrecs;
	cast(s, &lg, 1, 0);		/* old epoch: never delivered */
	lg.p2p[1][0]--;
	lg.expect[0]--;
	sim_run(s, NULL, NULL, 100 * MS);
	CHECK(s->nodes[0].nrecs == n0);

	view_at(s, all, 2, 1, NULL);
	sim_run(s, NULL, NULL, 100 * MS);
	CHECK(s->nodes[1].nrecs == 5 + 3);
	for (k = 0; k < 20; k++) {
		cast(s, &lg, 0, 1);
		cast(s, &lg, 1, 0);
		cast(s, &lg, k % 2, -1);
	}
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	CHECK(verify(s, &lg, 47) == 0);
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));
	sim_free(s);
}

/* Two stacks wired by hand, for a delivery that changes the view. */
struct wired {
	struct to_config cfg;
	struct transport tr;
	struct mem_port	 port;
	struct stack	*stack;
	uint64_t	 id;
	int		 got;
	uint64_t	 leave;		/* on the 2nd delivery, a view without */
};

static struct {
	int		 n;
	size_t		 len[16];
	unsigned char	 d[16][1500];
} wire_q;

static void
wired_send(void *net, uint64_t src, uint64_t dst, const void *p, size_t len)
{
	if (wire_q.n < 16 && len <= sizeof(wire_q.d[0])) {
		memcpy(wire_q.d[wire_q.n], p, len);
		wire_q.len[wire_q.n++] = len;
	}
}

static void
wired_deliver(void *arg, const struct to_msg *m)
{
	struct wired	*w = arg;
	struct to_view	 v = { .id = 2, .n = 1, .members = &w->id,
			    .self = w->id };
	struct event	 e = { .type = EV_VIEW, .view = &v };

	if (++w->got == 2 && w->leave) {
		stack_ctl(w->stack, &e);
		/* and a cast from inside the delivery, for good measure */
		stack_cast(w->stack, msg_from("r", 1));
	}
}

static void
wired_open(struct wired *w, uint64_t id)
{
	struct stack_app app = { wired_deliver, NULL, w };

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cfg.group = "sim";
	w->cfg.stack = "nak:com";
	w->port.send = wired_send;
	w->port.mtu = 1472;
	w->tr.ops = &transport_mem;
	w->tr.cfg = &w->cfg;
	w->tr.self = id;
	w->tr.state = &w->port;
	w->tr.ops->open(&w->tr, "");
	w->stack = stack_new(&w->cfg, &w->tr, id, &app, MS);
}

static void
wired_input(struct wired *w, int k)
{
	struct to_msg	*m = msg_new(0, wire_q.len[k]);

	memcpy(msg_data(m), wire_q.d[k], wire_q.len[k]);
	stack_input(w->stack, m);
}

/* B holds A's 2..5 when 1 comes; its 2nd delivery drops A from the view. */
static void
test_reentry(void)
{
	struct wired	 a, b;
	uint64_t	 ids[2] = { 1001, 1002 };
	struct to_view	 v = { .id = 1, .n = 2, .members = ids };
	struct event	 e = { .type = EV_VIEW, .view = &v };
	int		 k;

	wired_open(&a, 1001);
	wired_open(&b, 1002);
	CHECK(a.stack != NULL && b.stack != NULL);
	v.self = 1001;
	stack_ctl(a.stack, &e);
	v.self = 1002;
	stack_ctl(b.stack, &e);
	b.leave = 1001;
	wire_q.n = 0;
	for (k = 0; k < 5; k++)
		stack_cast(a.stack, msg_from(&"abcde"[k], 1));
	CHECK(wire_q.n == 5);
	for (k = 1; k < 5; k++)
		wired_input(&b, k);
	CHECK(b.got == 0);
	wired_input(&b, 0);
	CHECK(b.got == 2);
	stack_set_now(b.stack, 10 * MS);
	stack_run_timers(b.stack);
	CHECK(b.got == 3);		/* its own cast, looped back */
	wired_input(&b, 2);
	CHECK(b.got == 3 && stack_stats(b.stack)->dropped_foreign == 1);
	stack_free(a.stack);
	stack_free(b.stack);
}

/* A datagram to node i (to all if bc) from member id src: COM, then p. */
static void
forge(struct sim *s, int i, int bc, uint64_t src, const void *p, size_t len)
{
	struct to_msg	*m = msg_new(0, COM_HDR + len);
	unsigned char	*h = msg_data(m);
	uLong		 crc;

	put16(h, 0x544f);
	h[2] = 1;
	h[3] = 0;
	put32(h + 4, com_group_hash("sim"));
	put64(h + 8, src);
	put64(h + 16, bc ? 0 : s->nodes[i].id);
	memcpy(h + COM_HDR, p, len);
	crc = crc32(0L, h, 24);
	crc = crc32(crc, h + COM_HDR, len);
	put32(h + 24, (uint32_t)crc);
	stack_set_now(s->nodes[i].stack, s->now);
	stack_input(s->nodes[i].stack, m);
}

/* Every truncation of every header type. */
static void
hostile_short(struct sim *s, uint64_t id1)
{
	struct to_stats	*st = stack_stats(s->nodes[0].stack);
	unsigned char	 b[18];
	uint64_t	 bad = st->dropped_bad;
	size_t		 len;

	memset(b, 0, sizeof(b));
	for (b[0] = 0; b[0] <= 6; b[0]++)
		for (len = 0; len < 18; len++) {
			if (b[0] == 3 && len >= 2)
				continue;
			if ((b[0] == 4 || b[0] == 5) && len >= 12)
				continue;
			if ((b[0] == 1 && len >= 10) ||
			    (b[0] == 2 && len >= 18))
				continue;
			forge(s, 0, 0, id1, b, len);
		}
	printf("# %llu truncated headers dropped\n",
	    (unsigned long long)(st->dropped_bad - bad));
	CHECK(st->dropped_bad - bad == 7 * 18 - 16 - 6 - 6 - 8);
}

/* Broken NAKs, a NAK for everything, NAKs nobody may ask. */
static void
hostile_naks(struct sim *s, uint64_t id1)
{
	struct to_stats	*st = stack_stats(s->nodes[0].stack);
	unsigned char	 b[12 + 65 * 16];
	uint64_t	 bad = st->dropped_bad, rt = st->retransmits;

	memset(b, 0, sizeof(b));
	b[0] = 4;
	put64(b + 2, s->nodes[0].id);
	put16(b + 10, 3);		/* ranges run off the end */
	put64(b + 12, 1);
	put64(b + 20, 2);
	forge(s, 0, 0, id1, b, 12 + 16 + 8);
	put16(b + 10, 65);		/* too many */
	forge(s, 0, 0, id1, b, 12 + 65 * 16);
	put16(b + 10, 0);		/* none */
	forge(s, 0, 0, id1, b, 12);
	CHECK(st->dropped_bad - bad == 3);

	/* everything: bounded work, no more than node 0 holds */
	put16(b + 10, 2);
	put64(b + 12, 0);
	put64(b + 20, UINT64_MAX);
	put64(b + 28, UINT64_MAX);
	put64(b + 36, 5);
	forge(s, 0, 0, id1, b, 12 + 32);
	CHECK(st->retransmits - rt == 20);
	forge(s, 0, 0, id1, b, 12 + 32);	/* damped */
	CHECK(st->retransmits - rt == 20);

	/* from a non-member, and for a stream nobody follows */
	bad = st->dropped_foreign;
	put16(b + 10, 1);
	put64(b + 12, 1);
	put64(b + 20, 1);
	forge(s, 0, 0, 12345, b, 28);
	put64(b + 2, 12345);
	forge(s, 0, 0, id1, b, 28);
	CHECK(st->dropped_foreign - bad == 2);
}

/* Broken STATUS and DATA; data far ahead; a non-member's. */
static void
hostile_data(struct sim *s, uint64_t id1)
{
	struct to_stats	*st = stack_stats(s->nodes[0].stack);
	unsigned char	 b[12 + 17];
	uint64_t	 bad = st->dropped_bad;

	memset(b, 0, sizeof(b));
	b[0] = 5;
	put16(b + 10, 1);
	b[12] = 9;			/* no such kind */
	forge(s, 0, 0, id1, b, 12 + 17);
	b[12] = 1;			/* entry cut short */
	forge(s, 0, 0, id1, b, 12 + 16);
	memset(b, 0, 10);
	b[0] = 1;			/* seq 0 */
	forge(s, 0, 0, id1, b, 10);
	b[1] = 0x80;			/* unknown flag */
	put64(b + 2, 1);
	forge(s, 0, 0, id1, b, 10);
	b[1] = 0x01;			/* p2p flag on a broadcast */
	forge(s, 0, 1, id1, b, 10);
	CHECK(st->dropped_bad - bad == 5);
	b[1] = 0;
	put64(b + 2, 1ULL << 40);
	forge(s, 0, 1, id1, b, 10);
	bad = st->dropped_foreign;
	put64(b + 2, 1);
	forge(s, 0, 1, 12345, b, 10);
	CHECK(st->dropped_foreign - bad == 1);
}

static void
hostile_garbage(struct sim *s, uint64_t id1)
{
	struct to_stats	*st = stack_stats(s->nodes[0].stack);
	unsigned char	 b[64];
	uint64_t	 bad = st->dropped_bad, src;
	size_t		 len, i, k;
	int		 bc;

	for (k = 0; k < 20000; k++) {
		len = rnd() % 64;
		for (i = 0; i < len; i++)
			b[i] = (unsigned char)rnd();
		if (len > 0 && rnd() % 2)
			b[0] = 1 + rnd() % 5;
		if (len > 1 && rnd() % 2)
			b[1] = 0;
		bc = rnd() % 2;
		src = rnd() % 4 ? id1 : s->nodes[2].id;
		forge(s, 0, bc, src, b, len);
	}
	printf("# garbage: %llu dropped as bad\n",
	    (unsigned long long)(st->dropped_bad - bad));
	CHECK(st->dropped_bad - bad > 10000);
}

/* Datagrams forged as from node 1 to node 0, which cast 20. */
static void
test_hostile(void)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(3, "nak:com", NULL, 19);
	int		 k;

	memset(&lg, 0, sizeof(lg));
	rng = 19;
	view_first(s);
	for (k = 0; k < 20; k++)
		cast(s, &lg, 0, -1);
	CHECK(sim_run(s, all_delivered, &lg, 100 * MS));
	hostile_short(s, s->nodes[1].id);
	hostile_naks(s, s->nodes[1].id);
	hostile_data(s, s->nodes[1].id);
	hostile_garbage(s, s->nodes[1].id);
	for (k = 0; k < 20; k++)	/* still works */
		cast(s, &lg, k % 3, -1);
	CHECK(sim_run(s, all_delivered, &lg, 1000 * MS));
	sim_free(s);
}

/* One sender, 100000 messages. */
static void
test_long(void)
{
	struct ledger	 lg;
	struct sim	*s = sim_new(3, "nak:com", NULL, 23);
	int		 k;

	memset(&lg, 0, sizeof(lg));
	rng = 23;
	view_first(s);
	for (k = 0; k < 100000; k++) {
		cast(s, &lg, 0, -1);
		if (k % 200 == 199)
			sim_run(s, NULL, NULL, MS / 4);
	}
	CHECK(sim_run(s, all_delivered, &lg, 10000 * MS));
	CHECK(verify(s, &lg, 23) == 0);
	CHECK(sim_run(s, all_stable, &lg, 1000 * MS));
	printf("# 100000 messages: %llu datagrams\n",
	    (unsigned long long)s->dgrams);
	sim_free(s);
}

int
main(void)
{
	printf("# seed %llu (TO_SEED replays)\n",
	    (unsigned long long)base_seed());
	test_basics();
	test_lost_last();
	test_cut();
	test_join(NULL);
	test_join(LOSSY);
	test_merge();
	test_asym();
	test_stale();
	test_early();
	test_reentry();
	test_gap();
	test_wide();
	test_hostile();
	test_random(NULL, 50);
	test_random(LOSSY, 50);
	test_long();
	return check_done();
}
