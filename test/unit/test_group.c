/*
 * test_group.c: whole stacks ("PROTO:mbrship:frag:nak:com") in the
 * simulator, for every protocol and packing of specs.h: members find
 * each other and agree on a view, then every member delivers the same
 * messages in the same order, each sender's in its order, none lost, none
 * twice, under seeded loss, duplication and reordering; joins and
 * graceful leaves keep that for those who stay.  TO_SPECS picks specs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sim.h"
#include "specs.h"


static const struct spec *cur;	/* the spec under test */
static struct to_config cur_cfg;

#define SPEC	(cur->stack)

static struct sim *
new_sim(int n, const char *faults, uint64_t seed)
{
	return sim_new_cfg(n, SPEC, faults, seed, &cur_cfg);
}

static int
all_in_view(struct sim *s, void *arg)
{
	int	 want = *(int *)arg, i;
	uint64_t id = 0;

	for (i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->nodes[i];

		if (!nd->alive || nd->exited)
			continue;
		if (id == 0)
			id = nd->view.id;
		if ((int)nd->view.n != want || nd->view.id != id)
			return 0;
	}
	return 1;
}

static int
exited(struct sim *s, void *arg)
{
	return ((struct sim_node *)arg)->exited;
}

struct want {
	int	 node;		/* -1: every live member */
	size_t	 n;
};

static int
delivered(struct sim *s, void *arg)
{
	struct want	*w = arg;
	int		 i;

	for (i = 0; i < s->n; i++)
		if (s->nodes[i].alive && !s->nodes[i].exited &&
		    (w->node == -1 || w->node == i) &&
		    s->nodes[i].nrecs < w->n)
			return 0;
	return 1;
}

/* Payload: "sender-index:counter". */
static void
cast_from(struct sim *s, int node, int k)
{
	char	 buf[32];
	int	 len = snprintf(buf, sizeof(buf), "%d:%d", node, k);

	(void)sim_cast(s, node, buf, (size_t)len);
}

/*
 * Same sequence everywhere (the shorter a prefix-free suffix of the
 * longer is not allowed: all must be equal), per-sender counters
 * increasing by one, nothing twice.
 */
static int
agree(struct sim *s, size_t want, uint64_t seed)
{
	struct sim_node	*a = &s->nodes[0], *b;
	int		 next[SIM_MAX_NODES], i, node, k;
	size_t		 j;

	for (i = 1; i < s->n; i++) {
		b = &s->nodes[i];
		if (b->nrecs != a->nrecs) {
			printf("# %s seed %llu: node %d has %zu, node 0 %zu\n",
			    cur->name, (unsigned long long)seed, i, b->nrecs, a->nrecs);
			return 0;
		}
		for (j = 0; j < a->nrecs; j++)
			if (a->recs[j].len != b->recs[j].len ||
			    memcmp(a->recs[j].data, b->recs[j].data,
			    a->recs[j].len) != 0) {
				printf("# %s seed %llu: node %d differs at %zu\n",
				    cur->name, (unsigned long long)seed, i, j);
				return 0;
			}
	}
	memset(next, 0, sizeof(next));
	for (j = 0; j < a->nrecs; j++) {
		a->recs[j].data[a->recs[j].len] = '\0';
		if (sscanf((char *)a->recs[j].data, "%d:%d", &node, &k) != 2 ||
		    node < 0 || node >= SIM_MAX_NODES || k != next[node]++) {
			printf("# %s seed %llu: FIFO broken at %zu (%s)\n",
			    cur->name, (unsigned long long)seed, j,
			    (char *)a->recs[j].data);
			return 0;
		}
	}
	return a->nrecs == want;
}

static void
test_burst(int n, const char *faults, uint64_t seed, int per_sender)
{
	struct sim	*s = new_sim(n, faults, seed);
	struct want	 w = { -1, (size_t)(n * per_sender) };
	int		 i, k, ok;

	CHECK(s != NULL);
	if (s == NULL)
		return;
	ok = sim_run(s, all_in_view, &n, 10 * SEC);
	if (!ok)
		printf("# %s seed %llu: no common view of %d\n",
		    cur->name, (unsigned long long)seed, n);
	CHECK(ok);
	for (k = 0; k < per_sender; k++)
		for (i = 0; i < n; i++)
			cast_from(s, i, k);
	ok = sim_run(s, delivered, &w, 30 * SEC);
	if (!ok)
		printf("# %s seed %llu faults %s: delivered %zu of %zu\n",
		    cur->name, (unsigned long long)seed, faults ? faults : "none",
		    s->nodes[0].nrecs, w.n);
	CHECK(ok);
	CHECK(agree(s, w.n, seed));
	sim_free(s);
}

/* A member joins after traffic; old members keep agreeing, the joiner's
 * stream starts at its first view and then matches the others'. */
static void
test_join_and_leave(uint64_t seed, const char *faults)
{
	struct sim	*s = new_sim(2, faults, seed);
	struct event	 leave = { .type = EV_LEAVE };
	struct want	 w = { -1, 20 };
	int		 two = 2, three = 3, j, k;
	size_t		 before, i;

	CHECK(sim_run(s, all_in_view, &two, 10 * SEC));
	for (k = 0; k < 10; k++) {
		cast_from(s, 0, k);
		cast_from(s, 1, k);
	}
	CHECK(sim_run(s, delivered, &w, 30 * SEC));
	j = sim_add(s, SPEC, faults);
	CHECK(sim_run(s, all_in_view, &three, 10 * SEC));
	before = s->nodes[j].nrecs;
	CHECK(before == 0);
	for (k = 10; k < 20; k++) {
		cast_from(s, 0, k);
		cast_from(s, j, k - 10);
	}
	w.n = 40;
	w.node = 0;
	CHECK(sim_run(s, delivered, &w, 30 * SEC));
	w.node = j;
	w.n = 20;
	CHECK(sim_run(s, delivered, &w, 30 * SEC));
	/* the joiner's log is the tail of the others' */
	for (i = 0; i < s->nodes[j].nrecs; i++) {
		struct sim_rec	*a = &s->nodes[0].recs[20 + i];
		struct sim_rec	*b = &s->nodes[j].recs[i];

		if (a->len != b->len || memcmp(a->data, b->data, a->len)) {
			printf("# %s seed %llu: joiner differs at %zu\n",
			    cur->name, (unsigned long long)seed, i);
			CHECK(0);
			break;
		}
	}
	/* node 0, the coordinator and sequencer, leaves */
	sim_ctl(s, 0, &leave);
	CHECK(sim_run(s, exited, &s->nodes[0], 10 * SEC));
	CHECK(sim_run(s, all_in_view, &two, 10 * SEC));
	if (!(s->nodes[1].view.n == 2 && s->nodes[1].view.members[0] ==
	    s->nodes[1].id))
		printf("# %s seed %llu: after the leave node 1 has view %llu "
		    "of %u, rank 0 %s\n", cur->name, (unsigned long long)seed,
		    (unsigned long long)s->nodes[1].view.id,
		    s->nodes[1].view.n, s->nodes[1].view.n == 0 ? "-" :
		    s->nodes[1].view.members[0] == s->nodes[1].id ? "node 1" :
		    s->nodes[1].view.members[0] == s->nodes[j].id ? "the joiner" :
		    "another");
	CHECK(s->nodes[1].view.n == 2 && s->nodes[1].view.members[0] ==
	    s->nodes[1].id);
	cast_from(s, 1, 20);
	w.node = 1;
	w.n = 41;
	CHECK(sim_run(s, delivered, &w, 30 * SEC));
	w.node = j;
	w.n = 21;
	CHECK(sim_run(s, delivered, &w, 30 * SEC));
	sim_free(s);
}

static int
never(struct sim *s, void *arg)
{
	(void)s;
	(void)arg;
	return 0;
}

static int
left_alone(struct sim *s, void *arg)
{
	(void)arg;
	return s->nodes[1].exited && s->nodes[2].exited &&
	    s->nodes[0].view.n == 1;
}

/*
 * The two members other than rank 0 leave gracefully, the second after
 * rank 0 began the change for the first, which then goes unanswered and
 * runs again without it, under a view id one higher (net.bats saw it
 * under 20% loss).  Rank 0, alone at last, was cut off from nothing:
 * nothing tells it so (a tool would report a gap and exit 3).
 */
static void
test_leave_together(uint64_t seed, uint64_t apart)
{
	struct sim	*s = new_sim(3, "loss=30%", seed);
	struct event	 leave = { .type = EV_LEAVE };
	int		 three = 3, k;

	CHECK(sim_run(s, all_in_view, &three, 10 * SEC));
	for (k = 0; k < 10; k++)
		cast_from(s, 1, k);
	CHECK(sim_run(s, never, NULL, 1 * SEC) == 0);
	sim_ctl(s, 1, &leave);
	(void)sim_run(s, never, NULL, apart);
	sim_ctl(s, 2, &leave);
	if (!sim_run(s, left_alone, NULL, 10 * SEC)) {
		printf("# %s seed %llu: left %llu ms apart: exited %d %d, "
		    "node 0 in view %llu of %u\n", cur->name,
		    (unsigned long long)seed, (unsigned long long)(apart / MS),
		    s->nodes[1].exited, s->nodes[2].exited,
		    (unsigned long long)s->nodes[0].view.id,
		    s->nodes[0].view.n);
		CHECK(0);
	}
	if (s->nodes[0].cut_offs != 0)
		printf("# %s seed %llu: left %llu ms apart, the last member "
		    "is told it was cut off (view %llu)\n", cur->name,
		    (unsigned long long)seed,
		    (unsigned long long)(apart / MS),
		    (unsigned long long)s->nodes[0].view.id);
	CHECK(s->nodes[0].cut_offs == 0);
	CHECK(s->nodes[0].nrecs == 10);
	sim_free(s);
}

int
main(void)
{
	struct spec	*specs;
	uint64_t	 seed;
	int		 i, k, n = spec_list(&specs);

	for (i = 0; i < n; i++) {
		cur = &specs[i];
		spec_config(cur, &cur_cfg);
		printf("# %s\n", cur->name);
		test_burst(1, NULL, 1, 50);
		test_burst(3, NULL, 2, 200);
		for (seed = 10; seed < 30; seed++)
			test_burst(3 + (int)(seed % 3),
			    "loss=10%,dup=2%,reorder=2%", seed, 100);
		for (seed = 40; seed < 45; seed++)
			test_burst(3, "loss=20%,dup=5%,reorder=5%", seed, 100);
		test_join_and_leave(100, NULL);
		for (seed = 101; seed < 106; seed++)
			test_join_and_leave(seed, "loss=10%,dup=2%,reorder=2%");
		for (k = 0; k < 16; k++)
			test_leave_together(200 + k, (20 + k % 4 * 10) * MS);
	}
	free(specs);
	return check_done();
}
