/*
 * test_vsync.c: seeded random schedules of casts, crashes, joins, leaves,
 * partitions and heals under loss, over whole stacks in the simulator,
 * for every protocol and packing of specs.h (TO_SPECS picks some).
 * After each schedule every member's log is checked with verify.c (no
 * duplicates, sender order, one total order, virtual synchrony), and once
 * the network has healed the live members must end in one view and
 * deliver a last burst everywhere.
 *
 * TO_SCHEDULES sets how many schedules per spec (default 1000 for
 * dynseq, VSYNC_OTHERS for the other specs; make soak runs more);
 * TO_SEED replays one (of each spec TO_SPECS keeps).  A failure prints
 * its spec and seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sim.h"
#include "specs.h"

#define VSYNC_OTHERS	40	/* schedules per spec but dynseq, by default */

static const struct spec *cur;	/* the spec under test */
static struct to_config cur_cfg;

#define SPEC	(cur->stack)
#define sim_new(n, spec, faults, seed) \
	vsync_new((n), (spec), (faults), (seed))

struct sched {
	struct sim	*s;
	uint64_t	 seed;
	int		 next[SIM_MAX_NODES];	/* per node: next counter */
	int		 log;			/* print the schedule */
};

static int leaving[SIM_MAX_NODES];	/* asked to leave: not waited for */

static int
live(const struct sim_node *nd)
{
	return nd->alive && !nd->exited && !leaving[nd->index];
}

/* A group of the spec under test, waiting for the live() members. */
static struct sim *
vsync_new(int n, const char *spec, const char *faults, uint64_t seed)
{
	struct sim	*s = sim_new_cfg(n, spec, faults, seed, &cur_cfg);

	if (s != NULL)
		s->live = live;
	return s;
}

static int
nlive(struct sim *s)
{
	int	 i, n = 0;

	for (i = 0; i < s->n; i++)
		n += live(&s->nodes[i]);
	return n;
}

static int
pick_live(struct sched *sc)
{
	struct sim	*s = sc->s;
	int		 i, k = (int)(sim_random(s) % (uint64_t)nlive(s));

	for (i = 0; i < s->n; i++)
		if (live(&s->nodes[i]) && k-- == 0)
			return i;
	return -1;
}

static void
burst(struct sched *sc, int node, int count)
{
	sim_burst(sc->s, node, count, &sc->next[node]);
}

static void
partition(struct sched *sc)
{
	struct sim	*s = sc->s;
	int		 a[SIM_MAX_NODES], b[SIM_MAX_NODES], na = 0, nb = 0, i;

	for (i = 0; i < s->n; i++) {
		if (sim_random(s) % 2)
			a[na++] = i;
		else
			b[nb++] = i;
	}
	sim_partition(s, a, na, b, nb, 1);
}

static void
heal(struct sim *s)
{
	memset(s->cut, 0, sizeof(s->cut));
}

static void
step(struct sched *sc)
{
	struct sim	*s = sc->s;
	struct event	 leave = { .type = EV_LEAVE };
	int		 what = (int)(sim_random(s) % 10), i;

	switch (what) {
	case 0:
		if (nlive(s) > 2) {
			i = pick_live(sc);
			if (sc->log)
				printf("# crash %d\n", i);
			sim_crash(s, i);
		}
		break;
	case 1:
		if (s->n < SIM_MAX_NODES - 1) {
			i = sim_add(s, SPEC, "loss=5%");
			if (sc->log)
				printf("# join %d\n", i);
		}
		break;
	case 2:
		if (nlive(s) > 2) {
			i = pick_live(sc);
			if (sc->log)
				printf("# leave %d\n", i);
			leaving[i] = 1;
			sim_ctl(s, i, &leave);
		}
		break;
	case 3:
		if (sc->log)
			printf("# partition\n");
		partition(sc);
		break;
	case 4:
		if (sc->log)
			printf("# heal\n");
		heal(s);
		break;
	default:
		i = pick_live(sc);
		if (sc->log)
			printf("# burst at %d\n", i);
		burst(sc, i, 1 + (int)(sim_random(s) % 40));
		break;
	}
	sim_run(s, NULL, NULL, (sim_random(s) % 1500) * MS);
}

struct last {
	size_t	 want[SIM_MAX_NODES];
};

static int
all_got_last(struct sim *s, void *arg)
{
	struct last	*w = arg;
	int		 i;

	for (i = 0; i < s->n; i++)
		if (live(&s->nodes[i]) && s->nodes[i].nrecs < w->want[i])
			return 0;
	return 1;
}

static int
run_schedule(uint64_t seed, int log)
{
	struct sched	 sc;
	struct last	 w;
	char		 why[256];
	int		 i, steps, first, ok = 1;

	memset(&sc, 0, sizeof(sc));
	memset(leaving, 0, sizeof(leaving));
	sc.seed = seed;
	sc.log = log;
	sc.s = sim_new(3 + (int)(seed % 3), SPEC, "loss=5%,dup=1%,reorder=1%",
	    seed);
	if (sc.s == NULL)
		return 0;
	sim_run(sc.s, NULL, NULL, 2 * SEC);
	steps = 4 + (int)(sim_random(sc.s) % 8);
	for (i = 0; i < steps; i++)
		step(&sc);
	heal(sc.s);
	if (!sim_settle(sc.s, 30 * SEC)) {
		printf("# %s seed %llu: no single view after the heal\n",
		    cur->name, (unsigned long long)seed);
		for (i = 0; log && i < sc.s->n; i++) {
			struct sim_node *nd = &sc.s->nodes[i];
			printf("#  node %d %04llx alive %d exited %d view %llu:",
			    i, (unsigned long long)(nd->id >> 48), nd->alive,
			    nd->exited, (unsigned long long)nd->view.id);
			for (uint32_t j = 0; j < nd->view.n; j++)
				printf(" %04llx", (unsigned long long)
				    (nd->view.members[j] >> 48));
			printf("\n");
		}
		ok = 0;
	}
	/* a last burst reaches every live member */
	first = sim_first_live(sc.s);
	for (i = 0; i < sc.s->n; i++)
		w.want[i] = sc.s->nodes[i].nrecs + 10;
	burst(&sc, first, 10);
	if (ok && !sim_run(sc.s, all_got_last, &w, 30 * SEC)) {
		printf("# %s seed %llu: the last burst did not reach "
		    "everyone\n", cur->name, (unsigned long long)seed);
		for (i = 0; log && i < sc.s->n; i++)
			printf("#  node %d alive %d exited %d view %llu n %u "
			    "has %zu wants %zu\n", i, sc.s->nodes[i].alive,
			    sc.s->nodes[i].exited,
			    (unsigned long long)sc.s->nodes[i].view.id,
			    sc.s->nodes[i].view.n, sc.s->nodes[i].nrecs,
			    w.want[i]);
		ok = 0;
	}
	if (verify_run(sc.s->verify, why, sizeof(why)) == -1) {
		printf("# %s seed %llu: %s\n", cur->name,
		    (unsigned long long)seed, why);
		ok = 0;
	}
	sim_free(sc.s);
	return ok;
}

/* Deterministic cases: kill a receiver, a sender, the sequencer. */
static int
run_kill(uint64_t seed, int victim)
{
	struct sched	 sc;
	struct last	 w;
	char		 why[256];
	int		 i, ok = 1;

	memset(&sc, 0, sizeof(sc));
	memset(leaving, 0, sizeof(leaving));
	sc.s = sim_new(4, SPEC, "loss=5%", seed);
	if (sc.s == NULL)
		return 0;
	sim_run(sc.s, NULL, NULL, 2 * SEC);
	burst(&sc, 1, 200);
	burst(&sc, 2, 200);
	sim_run(sc.s, NULL, NULL, 2 * MS);
	sim_crash(sc.s, victim);
	sim_run(sc.s, sim_one_view, NULL, 5 * SEC);
	if (nlive(sc.s) != 3 || !sim_one_view(sc.s, NULL))
		ok = 0;
	for (i = 0; i < sc.s->n; i++)
		w.want[i] = sc.s->nodes[i].nrecs + 5;
	burst(&sc, sim_first_live(sc.s), 5);
	if (!sim_run(sc.s, all_got_last, &w, 10 * SEC))
		ok = 0;
	if (verify_run(sc.s->verify, why, sizeof(why)) == -1) {
		printf("# %s kill %d seed %llu: %s\n", cur->name, victim,
		    (unsigned long long)seed, why);
		ok = 0;
	}
	sim_free(sc.s);
	return ok;
}

/*
 * The end of a split: heal, one view of five, a last burst from node
 * last everywhere, the logs verified (what names a failure).  Frees sc.
 */
static int
split_end(struct sched *sc, int last, const char *what, uint64_t seed)
{
	struct last	 w;
	char		 why[256];
	int		 i, ok = 1;

	heal(sc->s);
	ok &= sim_settle(sc->s, 20 * SEC);
	ok &= sc->s->nodes[0].view.n == 5;
	for (i = 0; i < sc->s->n; i++)
		w.want[i] = sc->s->nodes[i].nrecs + 5;
	burst(sc, last, 5);
	ok &= sim_run(sc->s, all_got_last, &w, 10 * SEC);
	if (verify_run(sc->s->verify, why, sizeof(why)) == -1) {
		printf("# %s %s seed %llu: %s\n", cur->name, what,
		    (unsigned long long)seed, why);
		ok = 0;
	}
	sim_free(sc->s);
	return ok;
}

/* Two against three: each side installs its own view and carries on;
 * healed, they merge into one view of five. */
static int
run_split(uint64_t seed)
{
	struct sched	 sc;
	int		 a[] = { 0, 1 }, b[] = { 2, 3, 4 }, ok = 1;

	memset(&sc, 0, sizeof(sc));
	memset(leaving, 0, sizeof(leaving));
	if ((sc.s = sim_new(5, SPEC, "loss=5%", seed)) == NULL)
		return 0;
	ok &= sim_settle(sc.s, 10 * SEC);
	sim_partition(sc.s, a, 2, b, 3, 1);
	burst(&sc, 0, 20);
	burst(&sc, 3, 20);
	sim_run(sc.s, NULL, NULL, 4 * SEC);
	ok &= sc.s->nodes[0].view.n == 2 && sc.s->nodes[1].view.n == 2;
	ok &= sc.s->nodes[2].view.n == 3 && sc.s->nodes[4].view.n == 3;
	burst(&sc, 1, 10);
	burst(&sc, 2, 10);
	sim_run(sc.s, NULL, NULL, 1 * SEC);
	return split_end(&sc, 4, "split", seed) && ok;
}

/*
 * The split comes while messages are in flight (soak seeds 1035, 1116):
 * rank 0, which holds the sequencer's or orderer's role, is cut off with
 * one sender, the other side has two senders.  Messages cast just before
 * the cut are ordered on rank 0's side, and held unordered on the other,
 * whose flush delivers them; no two members anywhere may deliver two of
 * them in opposite orders.
 */
static int
run_split_mid(uint64_t seed)
{
	struct sched	 sc;
	int		 a[2], b[3], na = 0, nb = 0, i, k, cut, ok = 1;
	uint64_t	 r0;

	memset(&sc, 0, sizeof(sc));
	memset(leaving, 0, sizeof(leaving));
	if ((sc.s = sim_new(5, SPEC, "loss=2%", seed)) == NULL)
		return 0;
	ok &= sim_settle(sc.s, 10 * SEC);
	r0 = sc.s->nodes[0].view.members[0];
	for (i = 0; i < 5; i++)
		if (sc.s->nodes[i].id == r0)
			a[na++] = i;
	for (i = 0; i < 5; i++)
		if (sc.s->nodes[i].id != r0) {
			if (na < 2)
				a[na++] = i;
			else
				b[nb++] = i;
		}
	cut = (int)(sim_random(sc.s) % 20);
	for (k = 0; k < 20; k++) {
		burst(&sc, a[1], 5);
		burst(&sc, b[0], 5);
		burst(&sc, b[2], 5);
		sim_run(sc.s, NULL, NULL, sim_random(sc.s) % (100 * US));
		if (k == cut)
			sim_partition(sc.s, a, 2, b, 3, 1);
	}
	sim_run(sc.s, NULL, NULL, 4 * SEC);
	return split_end(&sc, b[1], "split mid-stream", seed) && ok;
}

/* One of three leaves under 20% loss: it goes and stays gone, and the
 * other two carry on in a view of two. */
static int
run_leave_lossy(uint64_t seed)
{
	struct sched	 sc;
	struct last	 w;
	struct event	 leave = { .type = EV_LEAVE };
	int		 i, ok = 1, views;

	memset(&sc, 0, sizeof(sc));
	memset(leaving, 0, sizeof(leaving));
	if ((sc.s = sim_new(3, SPEC, "loss=20%", seed)) == NULL)
		return 0;
	ok &= sim_settle(sc.s, 20 * SEC);
	burst(&sc, 0, 50);
	sim_run(sc.s, NULL, NULL, 5 * MS);
	leaving[2] = 1;
	views = sc.s->nodes[2].views;
	sim_ctl(sc.s, 2, &leave);
	ok &= sim_settle(sc.s, 20 * SEC);
	sim_run(sc.s, NULL, NULL, 5 * SEC);
	/* gone, and never came back with a view of its own */
	ok &= sc.s->nodes[2].exited && sc.s->nodes[2].views == views;
	ok &= sim_one_view(sc.s, NULL) && sc.s->nodes[0].view.n == 2;
	for (i = 0; i < sc.s->n; i++)
		w.want[i] = sc.s->nodes[i].nrecs + 10;
	burst(&sc, 1, 10);
	ok &= sim_run(sc.s, all_got_last, &w, 10 * SEC);
	if (!ok) {
		printf("# leave under loss, seed %llu: fails\n",
		    (unsigned long long)seed);
		for (i = 0; i < sc.s->n; i++)
			printf("#  node %d exited %d views %d view %llu n %u "
			    "has %zu\n", i, sc.s->nodes[i].exited,
			    sc.s->nodes[i].views,
			    (unsigned long long)sc.s->nodes[i].view.id,
			    sc.s->nodes[i].view.n, sc.s->nodes[i].nrecs);
	}
	sim_free(sc.s);
	return ok;
}

/* The checks of one spec; the failed schedules. */
static uint64_t
run_spec(uint64_t n)
{
	/* TO_SHORT (make asan, several times slower): a quarter of them */
	uint64_t	 seed, failed = 0;
	uint64_t	 splits = getenv("TO_SHORT") != NULL ? 10 : 40;

	CHECK(run_kill(1, 0));		/* the role holder and coordinator */
	CHECK(run_kill(2, 1));		/* a sender */
	CHECK(run_kill(3, 3));		/* a receiver */
	CHECK(run_split(4));
	CHECK(run_split(5));
	for (seed = 1; seed <= 10; seed++)
		failed += !run_leave_lossy(seed);
	for (seed = 1; seed <= splits; seed++)
		failed += !run_split_mid(seed);
	if (getenv("TO_SPLIT"))
		return failed;
	for (seed = 1; seed <= n; seed++)
		failed += !run_schedule(seed, 0);
	printf("# %s: %llu schedules, %llu failed\n", cur->name,
	    (unsigned long long)n, (unsigned long long)failed);
	return failed;
}

int
main(void)
{
	struct spec	*specs;
	const char	*env;
	uint64_t	 seed, n, failed = 0;
	int		 i, nspecs = spec_list(&specs);

	for (i = 0; i < nspecs; i++) {
		cur = &specs[i];
		spec_config(cur, &cur_cfg);
		if ((env = getenv("TO_SEED")) != NULL) {
			seed = strtoull(env, NULL, 10);
			CHECK(run_schedule(seed, 1));
			continue;
		}
		n = strcmp(cur->name, "dynseq") == 0 ? 1000 : VSYNC_OTHERS;
		if ((env = getenv("TO_SCHEDULES")) != NULL)
			n = strtoull(env, NULL, 10);
		failed += run_spec(n);
	}
	CHECK(failed == 0);
	free(specs);
	return check_done();
}
