/*
 * sim.c: the simulated network and clock; see sim.h.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "sim.h"

struct sim_dgram {
	struct sim_dgram *next;
	uint64_t	 at;
	int		 to;
	size_t		 len;
	unsigned char	 data[];
};

uint64_t
sim_random(struct sim *s)
{
	uint64_t	 z;

	z = (s->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct sim_node *
sim_find(struct sim *s, uint64_t id)
{
	int	 i;

	for (i = 0; i < s->n; i++)
		if (s->nodes[i].id == id)
			return &s->nodes[i];
	return NULL;
}

static void
sim_enqueue(struct sim *s, int from, int to, const void *p, size_t len)
{
	struct sim_dgram *d;

	if (s->cut[from][to])
		return;
	if ((d = malloc(sizeof(*d) + len)) == NULL)
		err(1, "malloc");
	d->next = NULL;
	d->at = s->now + s->latency;
	d->to = to;
	d->len = len;
	memcpy(d->data, p, len);
	if (s->tail != NULL)
		s->tail->next = d;
	else
		s->head = d;
	s->tail = d;
	s->in_flight++;
}

static void
sim_send(void *net, uint64_t src, uint64_t dst, const void *p, size_t len)
{
	struct sim	*s = net;
	struct sim_node	*from = sim_find(s, src), *to;
	int		 i;

	s->dgrams++;
	if (dst != 0) {
		if ((to = sim_find(s, dst)) != NULL)
			sim_enqueue(s, from->index, to->index, p, len);
		return;
	}
	for (i = 0; i < s->n; i++)
		if (i != from->index)
			sim_enqueue(s, from->index, i, p, len);
}

static void
sim_verify_data(struct sim_node *nd, const struct to_msg *m)
{
	struct verify_entry e;

	memset(&e, 0, sizeof(e));
	e.type = VERIFY_DATA;
	e.view_id = m->meta.view_id;
	e.sender = m->meta.src;
	e.sender_seq = m->meta.sender_seq;
	e.global_seq = m->meta.global_seq;
	e.crc = (uint32_t)crc32(0L, msg_data(m), (uInt)msg_len(m));
	if (verify_add(nd->sim->verify, nd->vlog, &e) == -1)
		err(1, "verify_add");
}

static void
sim_verify_view(struct sim_node *nd, const struct to_view *v)
{
	struct verify_entry e;

	memset(&e, 0, sizeof(e));
	e.type = VERIFY_VIEW;
	e.view_id = v->id;
	e.nmembers = v->n;
	e.members = v->members;
	if (verify_add(nd->sim->verify, nd->vlog, &e) == -1)
		err(1, "verify_add");
}

static void
sim_deliver(void *arg, const struct to_msg *m)
{
	struct sim_node	*nd = arg;
	struct sim_rec	*r;

	if (nd->nrecs == nd->caprecs) {
		nd->caprecs = nd->caprecs ? nd->caprecs * 2 : 256;
		nd->recs = reallocarray(nd->recs, nd->caprecs, sizeof(*r));
		if (nd->recs == NULL)
			err(1, "reallocarray");
	}
	r = &nd->recs[nd->nrecs++];
	sim_verify_data(nd, m);
	if (getenv("SIMLOG"))
		printf("# %.3f node %d delivers %04llx:%llu g%llu v%llu\n",
		    nd->sim->now / 1e9, nd->index,
		    (unsigned long long)(m->meta.src >> 48),
		    (unsigned long long)m->meta.sender_seq,
		    (unsigned long long)m->meta.global_seq,
		    (unsigned long long)m->meta.view_id);
	r->src = m->meta.src;
	r->sseq = m->meta.sender_seq;
	r->gseq = m->meta.global_seq;
	r->vkey = m->meta.view_id;
	for (uint32_t i = 0; i < nd->view.n; i++)
		r->vkey = (r->vkey ^ nd->view.members[i]) *
		    0x100000001b3ULL;
	r->len = msg_len(m);
	if ((r->data = malloc(r->len + 1)) == NULL)
		err(1, "malloc");
	memcpy(r->data, msg_data(m), r->len);
	r->data[r->len] = '\0';
}

static void
sim_event(void *arg, struct event *e)
{
	struct sim_node	*nd = arg;

	uint32_t	 i;

	switch (e->type) {
	case EV_VIEW:
		for (i = 0; i < e->view->n; i++)
			if (e->view->members[i] == nd->id)
				break;
		if (i == e->view->n)
			break;		/* leaving: not ours */
		sim_verify_view(nd, e->view);
		if (getenv("SIMLOG")) {
			printf("# %.3f node %d view %llu prev %llu adopt %d "
			    "state %llu:", nd->sim->now / 1e9, nd->index,
			    (unsigned long long)e->view->id,
			    (unsigned long long)e->prev_view_id, e->adopt_state,
			    e->view_state_len >= 8 ? (unsigned long long)
			    get64(e->view_state) : 0ULL);
			for (i = 0; i < e->view->n; i++)
				printf(" %04llx", (unsigned long long)
				    (e->view->members[i] >> 48));
			printf("\n");
		}
		if (e->view->cut_off)
			nd->cut_offs++;
		free(nd->view.members);
		nd->view = *e->view;
		nd->view.members = calloc(e->view->n, sizeof(uint64_t));
		if (nd->view.members == NULL)
			err(1, "calloc");
		memcpy(nd->view.members, e->view->members,
		    e->view->n * sizeof(uint64_t));
		nd->views++;
		break;
	case EV_EXIT:
		nd->exited = 1;
		nd->exit_error = e->error;
		break;
	case EV_CUT_DONE:
		nd->cut_done = 1;
		break;
	default:
		break;
	}
}

static int
sim_node_init(struct sim *s, int i, const char *spec, const char *faults)
{
	struct sim_node	*nd = &s->nodes[i];
	struct stack_app app = { sim_deliver, sim_event, nd };

	char		 name[32];

	nd->sim = s;
	nd->index = i;
	snprintf(name, sizeof(name), "node %d", i);
	if ((nd->vlog = verify_log(s->verify, name)) == -1)
		return -1;
	nd->id = sim_random(s) | 1;
	nd->alive = 1;
	nd->cfg = s->base;
	nd->cfg.group = "sim";
	nd->cfg.stack = spec;
	nd->cfg.faults = faults;
	nd->cfg.seed = sim_random(s);
	nd->cfg.max_msg = TO_MAX_MSG_DEFAULT;
	nd->cfg.window = TO_WINDOW_DEFAULT;
	if ((nd->port = calloc(1, sizeof(*nd->port))) == NULL)
		return -1;
	nd->port->send = sim_send;
	nd->port->net = s;
	nd->port->mtu = 1472;
	nd->tr.ops = &transport_mem;
	nd->tr.cfg = &nd->cfg;
	nd->tr.self = nd->id;
	nd->tr.state = nd->port;
	if (nd->tr.ops->open(&nd->tr, "") == -1)
		return -1;
	nd->stack = stack_new(&nd->cfg, &nd->tr, nd->id, &app, s->now);
	if (nd->stack == NULL)
		return -1;
	stack_set_now(nd->stack, s->now);
	return 0;
}

struct sim *
sim_new(int n, const char *spec, const char *faults, uint64_t seed)
{
	return sim_new_cfg(n, spec, faults, seed, NULL);
}

struct sim *
sim_new_cfg(int n, const char *spec, const char *faults, uint64_t seed,
    const struct to_config *base)
{
	struct sim	*s;
	int		 i;

	if (n > SIM_MAX_NODES || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (base != NULL)
		s->base = *base;
	s->rng = seed;
	s->now = 1000000000ULL;
	if ((s->verify = verify_new()) == NULL) {
		free(s);
		return NULL;
	}
	/* a view and a global seq name one message, even across a split:
	 * what a flush delivers unordered carries 0 (order.c) */
	verify_strict(s->verify, 1);
	s->latency = SIM_LATENCY;
	for (i = 0; i < n; i++) {
		s->n = i + 1;
		if (sim_node_init(s, i, spec, faults) == -1) {
			sim_free(s);
			return NULL;
		}
	}
	return s;
}

int
sim_add(struct sim *s, const char *spec, const char *faults)
{
	if (s->n == SIM_MAX_NODES)
		return -1;
	s->n++;
	if (sim_node_init(s, s->n - 1, spec, faults) == -1)
		return -1;
	return s->n - 1;
}

void
sim_free(struct sim *s)
{
	struct sim_dgram *d;
	size_t		 j;
	int		 i;

	if (s == NULL)
		return;
	while ((d = s->head) != NULL) {
		s->head = d->next;
		free(d);
	}
	for (i = 0; i < s->n; i++) {
		while ((d = s->nodes[i].bl_head) != NULL) {
			s->nodes[i].bl_head = d->next;
			free(d);
		}
		stack_free(s->nodes[i].stack);
		free(s->nodes[i].port);
		for (j = 0; j < s->nodes[i].nrecs; j++)
			free(s->nodes[i].recs[j].data);
		free(s->nodes[i].recs);
		free(s->nodes[i].view.members);
	}
	verify_free(s->verify);
	free(s);
}

/* The earliest time anything happens: a datagram or a timer. */
static uint64_t
sim_next(struct sim *s)
{
	uint64_t	 t = s->head ? s->head->at : 0, w;
	int		 i;

	for (i = 0; i < s->n; i++) {
		if (!s->nodes[i].alive || s->nodes[i].stack == NULL ||
		    s->nodes[i].frozen || s->nodes[i].starved)
			continue;
		w = stack_next_wake(s->nodes[i].stack);
		if (w != 0 && (t == 0 || w < t))
			t = w;
	}
	return t;
}

/* A datagram for a stopped node waits in its socket, if there is room. */
static void
sim_backlog(struct sim_node *nd, struct sim_dgram *d)
{
	if (nd->bl_bytes + d->len > SIM_RCVBUF) {
		free(d);
		return;
	}
	d->next = NULL;
	if (nd->bl_tail != NULL)
		nd->bl_tail->next = d;
	else
		nd->bl_head = d;
	nd->bl_tail = d;
	nd->bl_bytes += d->len;
}

void
sim_freeze(struct sim *s, int i, int frozen)
{
	struct sim_node	*nd = &s->nodes[i];
	struct sim_dgram *d;

	nd->frozen = frozen;
	if (frozen || nd->bl_head == NULL)
		return;
	/* the backlog is read first, as soon as the node runs */
	for (d = nd->bl_head; d != NULL; d = d->next) {
		d->at = s->now;
		s->in_flight++;
	}
	nd->bl_tail->next = s->head;
	if (s->head == NULL)
		s->tail = nd->bl_tail;
	s->head = nd->bl_head;
	nd->bl_head = nd->bl_tail = NULL;
	nd->bl_bytes = 0;
}

static void
sim_step(struct sim *s)
{
	struct sim_dgram *d;
	struct sim_node	*nd;
	struct to_msg	*m;
	int		 i;

	for (i = 0; i < s->n; i++)
		if (s->nodes[i].alive && !s->nodes[i].frozen)
			stack_set_now(s->nodes[i].stack, s->now);
	while ((d = s->head) != NULL && d->at <= s->now) {
		if ((s->head = d->next) == NULL)
			s->tail = NULL;
		s->in_flight--;
		nd = &s->nodes[d->to];
		if (nd->alive && nd->frozen) {
			sim_backlog(nd, d);
			continue;
		}
		if (nd->alive && (m = msg_new(0, d->len)) != NULL) {
			memcpy(msg_data(m), d->data, d->len);
			stack_input(nd->stack, m);
		}
		free(d);
	}
	for (i = 0; i < s->n; i++)
		if (s->nodes[i].alive && !s->nodes[i].frozen &&
		    !s->nodes[i].starved)
			stack_run_timers(s->nodes[i].stack);
}

void
sim_starve(struct sim *s, int i, int starved)
{
	s->nodes[i].starved = starved;
}

int
sim_run(struct sim *s, int (*pred)(struct sim *, void *), void *arg,
    uint64_t limit)
{
	uint64_t	 end = s->now + limit, t;

	for (;;) {
		if (pred != NULL && pred(s, arg))
			return 1;
		t = sim_next(s);
		if (t == 0 || t > end) {
			s->now = end;
			return pred != NULL && pred(s, arg);
		}
		if (t > s->now)
			s->now = t;
		sim_step(s);
	}
}

int
sim_cast(struct sim *s, int i, const void *p, size_t len)
{
	stack_set_now(s->nodes[i].stack, s->now);
	return stack_cast_data(s->nodes[i].stack, p, len);	/* as to_cast() */
}

void
sim_ctl(struct sim *s, int i, struct event *e)
{
	stack_set_now(s->nodes[i].stack, s->now);
	stack_ctl(s->nodes[i].stack, e);
}

void
sim_crash(struct sim *s, int i)
{
	s->nodes[i].alive = 0;
}

void
sim_partition(struct sim *s, const int *a, int na, const int *b, int nb,
    int cut)
{
	int	 i, j;

	for (i = 0; i < na; i++)
		for (j = 0; j < nb; j++) {
			s->cut[a[i]][b[j]] = cut;
			s->cut[b[j]][a[i]] = cut;
		}
}

void
sim_burst(struct sim *s, int node, int count, int *next)
{
	char	 buf[32];
	int	 k, len;

	for (k = 0; k < count; k++) {
		len = snprintf(buf, sizeof(buf), "%d:%d", node, (*next)++);
		(void)sim_cast(s, node, buf, (size_t)len);
	}
}

int
sim_live(const struct sim *s, int i)
{
	const struct sim_node *nd = &s->nodes[i];

	if (s->live != NULL)
		return s->live(nd);
	return nd->alive && !nd->exited && !nd->frozen;
}

int
sim_first_live(struct sim *s)
{
	int	 i;

	for (i = 0; i < s->n; i++)
		if (sim_live(s, i))
			return i;
	return 0;
}

int
sim_one_view(struct sim *s, void *arg)
{
	const struct to_view *v = &s->nodes[sim_first_live(s)].view, *w;
	int		 i, n = 0;

	(void)arg;
	for (i = 0; i < s->n; i++) {
		if (!sim_live(s, i))
			continue;
		w = &s->nodes[i].view;
		if (w->id != v->id || w->n != v->n || (v->n > 0 &&
		    memcmp(w->members, v->members, v->n * sizeof(uint64_t))))
			return 0;
		n++;
	}
	return n > 0 && v->n == (uint32_t)n;
}

int
sim_settle(struct sim *s, uint64_t limit)
{
	uint64_t	 end = s->now + limit, id;

	while (s->now < end) {
		if (!sim_run(s, sim_one_view, NULL, end - s->now))
			return 0;
		id = s->nodes[sim_first_live(s)].view.id;
		sim_run(s, NULL, NULL, 3 * SEC);
		if (sim_one_view(s, NULL) &&
		    s->nodes[sim_first_live(s)].view.id == id)
			return 1;
	}
	return 0;
}
