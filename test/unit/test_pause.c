/*
 * test_pause.c: members stopped past the suspect time (SIGSTOP, a laptop
 * that sleeps, a starved host), modelled by sim_freeze: no timers, no
 * receive, then a socket full of old datagrams and every timer late.
 * The group goes on without the stopped member; when it runs again it
 * finds itself excluded, closes its view alone and is merged back.
 *
 * What must hold through that, for every protocol and packing (specs.h):
 *  - a sender's own echo has every message it cast, in order, no gap:
 *    what it cast before the cut is delivered, in the closing view or
 *    after (to(7), paper section 3.1), never dropped;
 *  - once the group is whole again everything it cast becomes stable,
 *    so tocast's drain ends (to_all_stable);
 *  - verify.c: one total order, sender order, virtual synchrony;
 *  - the group ends in one view that delivers a last burst everywhere.
 *
 * TO_SEED replays one random schedule (of each spec TO_SPECS keeps) with
 * its steps printed; TO_SCHEDULES sets how many per spec; TO_PAIR replays
 * one run of two stopped together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sim.h"
#include "specs.h"

#define PAUSE_SCHEDULES	8	/* random schedules per spec, by default */
#define PAUSE_SUSPECT	200	/* ms: short, so that a run is short */

static const struct spec *cur;
static struct to_config cur_cfg;

struct run {
	struct sim	*s;
	int		 next[SIM_MAX_NODES];	/* per node: next counter */
	int		 crashed[SIM_MAX_NODES];
	int		 log;
	int		 keep, keep_from;	/* keep has all of keep_from's */
};

static void
say(struct run *r, const char *what, int i)
{
	if (r->log)
		printf("# %.3f %s %d\n", r->s->now / 1e9, what, i);
}

/* A steady stream from the senders for ms milliseconds. */
static void
stream(struct run *r, const int *senders, int n, int ms)
{
	int	 t, k;

	for (t = 0; t < ms; t += 5) {
		for (k = 0; k < n; k++)
			if (sim_live(r->s, senders[k]))
				sim_burst(r->s, senders[k], 3,
				    &r->next[senders[k]]);
		sim_run(r->s, NULL, NULL, 5 * MS);
	}
}

/* Every own message delivered, and stable: tocast's drain would end. */
static int
all_drained(struct sim *s, void *arg)
{
	struct run	*r = arg;
	struct event	 e;
	size_t		 j, own;
	int		 i;

	for (i = 0; i < s->n; i++) {
		if (!sim_live(r->s, i))
			continue;
		for (j = 0, own = 0; j < s->nodes[i].nrecs; j++)
			own += s->nodes[i].recs[j].src == s->nodes[i].id;
		if (own != (size_t)r->next[i])
			return 0;
		memset(&e, 0, sizeof(e));
		e.type = EV_STABLE;
		sim_ctl(s, i, &e);
		if (!e.stable)
			return 0;
	}
	return 1;
}

/* Node i's echo of its own casts: 0, 1, 2, ... next-1, nothing left out. */
static int
own_echo(struct run *r, int i)
{
	const struct sim_node *nd = &r->s->nodes[i];
	size_t		 j;
	int		 want = 0, node, k;

	for (j = 0; j < nd->nrecs; j++) {
		if (nd->recs[j].src != nd->id)
			continue;
		if (sscanf((const char *)nd->recs[j].data, "%d:%d", &node,
		    &k) != 2 || node != i || k != want) {
			printf("# %s node %d: own echo has %.*s where %d:%d "
			    "was due\n", cur->name, i, (int)nd->recs[j].len,
			    (const char *)nd->recs[j].data, i, want);
			return 0;
		}
		want++;
	}
	if (want != r->next[i] && !r->crashed[i]) {
		printf("# %s node %d: own echo ends at %d of %d\n", cur->name,
		    i, want, r->next[i]);
		return 0;
	}
	return 1;
}

/*
 * One view (id and members: the two sides of a split may reuse an id)
 * and one global sequence number name one message, at every member
 * (issue 15, class 4); 0 is no number.  All numbered deliveries, sorted
 * by name: neighbours with one name must be one message.
 */
struct named {
	uint64_t	 vkey, gseq, src, sseq;
	int		 node;
};

static int
named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;

	if (x->vkey != y->vkey)
		return x->vkey < y->vkey ? -1 : 1;
	return x->gseq < y->gseq ? -1 : x->gseq > y->gseq;
}

static int
one_name(struct run *r)
{
	struct named	*all, *a, *b;
	size_t		 n = 0, k, j;
	int		 i, ok = 1;

	for (i = 0; i < r->s->n; i++)
		n += r->s->nodes[i].nrecs;
	if ((all = calloc(n + 1, sizeof(*all))) == NULL)
		return 0;
	for (i = 0, n = 0; i < r->s->n; i++)
		for (j = 0; j < r->s->nodes[i].nrecs; j++) {
			const struct sim_rec *x = &r->s->nodes[i].recs[j];

			if (x->gseq != 0)
				all[n++] = (struct named){ x->vkey, x->gseq,
				    x->src, x->sseq, i };
		}
	qsort(all, n, sizeof(*all), named_cmp);
	for (k = 1; k < n && ok; k++) {
		a = &all[k - 1];
		b = &all[k];
		if (named_cmp(a, b) != 0 || (a->src == b->src &&
		    a->sseq == b->sseq))
			continue;
		printf("# %s: g%llu of one view is %04llx:%llu at node %d, "
		    "%04llx:%llu at node %d\n", cur->name,
		    (unsigned long long)a->gseq,
		    (unsigned long long)(a->src >> 48),
		    (unsigned long long)a->sseq, a->node,
		    (unsigned long long)(b->src >> 48),
		    (unsigned long long)b->sseq, b->node);
		ok = 0;
	}
	free(all);
	return ok;
}

/* Node i delivered every message node k cast, in order, none left out. */
static int
has_all_of(struct run *r, int i, int k)
{
	const struct sim_node *nd = &r->s->nodes[i];
	size_t		 j;
	int		 want = 0, node, c;

	for (j = 0; j < nd->nrecs; j++) {
		if (nd->recs[j].src != r->s->nodes[k].id)
			continue;
		if (sscanf((const char *)nd->recs[j].data, "%d:%d", &node,
		    &c) != 2 || node != k || c != want)
			break;
		want++;
	}
	if (want == r->next[k])
		return 1;
	printf("# %s node %d: has %d:0..%d of %d:0..%d\n", cur->name, i, k,
	    want - 1, k, r->next[k] - 1);
	return 0;
}

/* The end of every run: one view, everything drained, a last burst, and
 * the logs checked. */
static int
finish(struct run *r, const char *what, uint64_t seed)
{
	char		 why[256];
	size_t		 want[SIM_MAX_NODES];
	int		 i, ok = 1, got;

	for (i = 0; i < r->s->n; i++)
		if (r->s->nodes[i].frozen)
			sim_freeze(r->s, i, 0);
	memset(r->s->cut, 0, sizeof(r->s->cut));
	if (!sim_settle(r->s, 30 * SEC)) {
		printf("# %s %s seed %llu: no single view\n", cur->name, what,
		    (unsigned long long)seed);
		ok = 0;
	}
	if (ok && !sim_run(r->s, all_drained, r, 30 * SEC)) {
		printf("# %s %s seed %llu: own casts never all delivered "
		    "and stable\n", cur->name, what, (unsigned long long)seed);
		ok = 0;
	}
	for (i = 0; i < r->s->n; i++)
		ok &= own_echo(r, i);
	ok &= one_name(r);
	if (r->keep != r->keep_from)
		ok &= has_all_of(r, r->keep, r->keep_from);
	for (i = 0; i < r->s->n; i++)
		want[i] = r->s->nodes[i].nrecs + 5;
	sim_burst(r->s, sim_first_live(r->s), 5,
	    &r->next[sim_first_live(r->s)]);
	got = 0;
	for (uint64_t end = r->s->now + 10 * SEC; r->s->now < end && !got;) {
		sim_run(r->s, NULL, NULL, 10 * MS);
		got = 1;
		for (i = 0; i < r->s->n; i++)
			if (sim_live(r->s, i) && r->s->nodes[i].nrecs < want[i])
				got = 0;
	}
	if (!got) {
		printf("# %s %s seed %llu: a last burst did not reach "
		    "everyone\n", cur->name, what, (unsigned long long)seed);
		for (i = 0; i < r->s->n; i++)
			printf("#  node %d alive %d exited %d view %llu n %u "
			    "has %zu wants %zu\n", i, r->s->nodes[i].alive,
			    r->s->nodes[i].exited,
			    (unsigned long long)r->s->nodes[i].view.id,
			    r->s->nodes[i].view.n, r->s->nodes[i].nrecs,
			    want[i]);
		ok = 0;
	}
	if (verify_run(r->s->verify, why, sizeof(why)) == -1) {
		printf("# %s %s seed %llu: %s\n", cur->name, what,
		    (unsigned long long)seed, why);
		ok = 0;
	}
	if (!ok)
		printf("# %s %s seed %llu fails (TO_SPECS=%s TO_SEED=%llu "
		    "to replay a schedule)\n", cur->name, what,
		    (unsigned long long)seed, cur->name,
		    (unsigned long long)seed);
	sim_free(r->s);
	return ok;
}

static int
start(struct run *r, int n, const char *faults, uint64_t seed, int log)
{
	memset(r, 0, sizeof(*r));
	r->log = log;
	if ((r->s = sim_new_cfg(n, cur->stack, faults, seed, &cur_cfg)) ==
	    NULL)
		return 0;
	return sim_run(r->s, sim_one_view, NULL, 10 * SEC);
}

/*
 * The smallest case of the soak (issue 15, class 5): of three members,
 * one sends a steady stream and is stopped for stop_ms, longer than the
 * suspect time; it runs again and goes on sending.  Stopping a receiver
 * or rank 0 (the role holder) instead: victim.
 */
static int
run_pause(uint64_t seed, int victim, int stop_ms)
{
	struct run	 r;
	int		 senders[] = { 2, 1 };

	if (!start(&r, 3, "loss=1%", seed, 0))
		return 0;
	stream(&r, senders, 2, 100);
	sim_freeze(r.s, victim, 1);
	stream(&r, senders, 2, stop_ms);
	sim_freeze(r.s, victim, 0);
	stream(&r, senders, 2, 150);
	if (r.s->nodes[victim].cut_offs == 0)
		printf("# %s seed %llu: the stopped member was not told it "
		    "was cut off\n", cur->name, (unsigned long long)seed);
	CHECK(r.s->nodes[victim].cut_offs > 0);
	return finish(&r, victim == 2 ? "stopped sender" : victim == 0 ?
	    "stopped rank 0" : "stopped receiver", seed);
}

/*
 * Two receivers stopped together (gaps.bats): woken, each closes its view
 * alone, they merge with each other, and then that view of two merges
 * with the view of two that went on, one of them sending all along.  The
 * two that were never stopped must stay together: the one that only
 * receives has every message of the one that sends.  If the stopped two
 * are the senior view (the lower ids) they run the last merge.  With
 * split, the stopped two wake apart from the others until they merged.
 */
static int
run_pair(uint64_t seed, int split)
{
	struct run	 r;
	int		 ord[4] = { 0, 1, 2, 3 }, i, j, t;
	int		 sender[1];

	if (!start(&r, 4, "loss=1%", seed, 0))
		return 0;
	for (i = 0; i < 4; i++)		/* by id: the stopped two lowest */
		for (j = i + 1; j < 4; j++)
			if (r.s->nodes[ord[j]].id < r.s->nodes[ord[i]].id) {
				t = ord[i];
				ord[i] = ord[j];
				ord[j] = t;
			}
	sender[0] = ord[2 + (int)(seed % 2)];	/* either of the other two */
	stream(&r, sender, 1, 100);
	sim_freeze(r.s, ord[0], 1);
	sim_freeze(r.s, ord[1], 1);
	stream(&r, sender, 1, 4 * PAUSE_SUSPECT);
	if (split)
		sim_partition(r.s, ord, 2, ord + 2, 2, 1);
	sim_freeze(r.s, ord[0], 0);
	if (!split)
		sim_run(r.s, NULL, NULL, (seed / 2 % 12) * MS);
	sim_freeze(r.s, ord[1], 0);
	stream(&r, sender, 1, split ? 3 * PAUSE_SUSPECT : 20);
	if (split)
		sim_partition(r.s, ord, 2, ord + 2, 2, 0);
	stream(&r, sender, 1, 3 * PAUSE_SUSPECT);
	r.keep = ord[3 - (int)(seed % 2)];	/* the other of the two */
	r.keep_from = sender[0];
	return finish(&r, split ? "two stopped, woken apart" :
	    "two stopped together", seed);
}

/*
 * Every member sends, and one is stopped in the middle of it, holding
 * units of the others that the group has not yet ordered (the soak's seed
 * 1026: a starved tocast).  Alone, it must not deliver those in an order
 * of its own: the others order them, and its log would disagree with
 * theirs on two messages both deliver.
 */
static int
run_mid(uint64_t seed)
{
	struct run	 r;
	int		 senders[] = { 0, 1, 2 }, victim = (int)(seed % 3);
	int		 t;

	if (!start(&r, 3, "loss=1%", seed, 0))
		return 0;
	stream(&r, senders, 3, 100);
	for (t = 0; t < (int)(seed % 7); t++) {
		sim_burst(r.s, (int)((seed + t) % 3), 4,
		    &r.next[(seed + t) % 3]);
		sim_run(r.s, NULL, NULL, MS / 4);
	}
	sim_freeze(r.s, victim, 1);
	stream(&r, senders, 3, 3 * PAUSE_SUSPECT);
	sim_freeze(r.s, victim, 0);
	stream(&r, senders, 3, 150);
	return finish(&r, "stopped mid-order", seed);
}

/*
 * A sender starved (the soak's seed 1026, a tocast in a cgroup at 6% of a
 * CPU): it takes in what comes but its timers are late, so its own casts,
 * sent with their place in the order, are not yet looped back to it when
 * the others' next ones, placed after them, come in.  The group excludes
 * it; alone, it must not deliver those next ones before its own.
 */
static int
run_starve(uint64_t seed)
{
	struct run	 r;
	int		 senders[] = { 0, 1, 2 }, victim = (int)(seed % 3);

	if (!start(&r, 3, "loss=1%", seed, 0))
		return 0;
	stream(&r, senders, 3, 100 + (int)(seed % 5));
	sim_starve(r.s, victim, 1);
	stream(&r, senders, 3, 4 * PAUSE_SUSPECT);
	sim_starve(r.s, victim, 0);
	stream(&r, senders, 3, 150);
	return finish(&r, "starved sender", seed);
}

/* Seeded schedules: streams from two or three senders, with stops,
 * crashes, partitions and heals overlapping. */
static int
run_schedule(uint64_t seed, int log)
{
	struct run	 r;
	int		 senders[3], nsend, steps, k, i;
	uint64_t	 x;

	if (!start(&r, 4 + (int)(seed % 2), "loss=2%,reorder=1%", seed, log))
		return 0;
	nsend = 2 + (int)(sim_random(r.s) % 2);
	for (k = 0; k < nsend; k++)
		senders[k] = (int)(sim_random(r.s) % (uint64_t)r.s->n);
	steps = 4 + (int)(sim_random(r.s) % 6);
	for (k = 0; k < steps; k++) {
		x = sim_random(r.s) % 10;
		i = (int)(sim_random(r.s) % (uint64_t)r.s->n);
		if (x < 4) {
			say(&r, r.s->nodes[i].frozen ? "thaw" : "stop", i);
			sim_freeze(r.s, i, !r.s->nodes[i].frozen);
		} else if (x == 4 && !r.s->nodes[i].frozen) {
			int a[SIM_MAX_NODES], b[SIM_MAX_NODES], na = 0, nb = 0;

			for (int j = 0; j < r.s->n; j++)
				if (j == i || sim_random(r.s) % 3 == 0)
					a[na++] = j;
				else
					b[nb++] = j;
			say(&r, "partition around", i);
			sim_partition(r.s, a, na, b, nb, 1);
		} else if (x == 5) {
			say(&r, "heal", i);
			memset(r.s->cut, 0, sizeof(r.s->cut));
		}
		stream(&r, senders, nsend,
		    50 + (int)(sim_random(r.s) % (5 * PAUSE_SUSPECT)));
	}
	return finish(&r, "schedule", seed);
}

static uint64_t
run_spec(uint64_t n)
{
	uint64_t	 seed, failed = 0;
	/* TO_SHORT (make asan, several times slower): a quarter of them */
	uint64_t	 q = getenv("TO_SHORT") != NULL ? 4 : 1;

	failed += !run_pause(1, 2, 3 * PAUSE_SUSPECT);	/* the sender */
	failed += !run_pause(2, 1, 3 * PAUSE_SUSPECT);	/* a receiver */
	failed += !run_pause(3, 0, 3 * PAUSE_SUSPECT);	/* rank 0 */
	failed += !run_pause(4, 2, 3 * PAUSE_SUSPECT / 2);	/* just past */
	for (seed = 1; seed <= 24 / q; seed++) {
		if (seed <= 8 / q)
			failed += !run_mid(seed);
		if (seed <= 16 / q)
			failed += !run_starve(seed);
		failed += !run_pair(seed, 0);
		failed += !run_pair(seed, 1);
	}
	for (seed = 1; seed <= n; seed++)
		failed += !run_schedule(seed, 0);
	printf("# %s: 4 pauses, %llu stopped and %llu starved mid-stream, %llu "
	    "of two stopped, %llu schedules: %llu failed\n", cur->name,
	    (unsigned long long)(8 / q), (unsigned long long)(16 / q),
	    (unsigned long long)(48 / q), (unsigned long long)n,
	    (unsigned long long)failed);
	return failed;
}

int
main(void)
{
	struct spec	*specs;
	const char	*env;
	uint64_t	 n, failed = 0;
	int		 i, nspecs = spec_list(&specs);

	for (i = 0; i < nspecs; i++) {
		cur = &specs[i];
		spec_config(cur, &cur_cfg);
		cur_cfg.suspect_ms = PAUSE_SUSPECT;
		if ((env = getenv("TO_PAIR")) != NULL) {
			CHECK(run_pair(strtoull(env, NULL, 10), 0));
			continue;
		}
		if ((env = getenv("TO_SEED")) != NULL) {
			CHECK(run_schedule(strtoull(env, NULL, 10), 1));
			continue;
		}
		n = PAUSE_SCHEDULES;
		if ((env = getenv("TO_SCHEDULES")) != NULL)
			n = strtoull(env, NULL, 10);
		failed += run_spec(n);
	}
	CHECK(failed == 0);
	free(specs);
	return check_done();
}
