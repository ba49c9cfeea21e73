/*
 * test_frag.c: unit tests for lib/frag.c, the FRAG layer.
 *
 * Over "frag:com" with no faults (COM keeps datagrams in order and the
 * networks here are FIFO per link), once through the simulation and once
 * through a rig that queues datagrams per stream and delivers them round
 * robin, so that streams interleave at the receiver as they do over NAK;
 * datagrams forged by hand (a valid COM header, then a FRAG header) check
 * that broken input is dropped and counted.  Over "frag:nak:com" through
 * the simulation with faults, when NAK is in the library.
 *
 * TO_SEED=N replays a run; the seed is printed first and on failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "check.h"
#include "layer.h"
#include "sim.h"

#define KIB		1024u
#define MIB		(1024u * 1024u)
#define MTU		1472
#define COM_HDR		28
#define GROUP		"rig"

#define F_FIRST		0x01
#define F_LAST		0x02
#define F_UNREL		0x04
#define F_WHOLE		(F_FIRST | F_LAST)

#define RIG_MAX		4

static uint64_t	seed, rng;

static uint64_t
rnd(void)
{
	uint64_t	 z;

	z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned char *
payload(size_t len)
{
	unsigned char	*p;
	size_t		 i;

	if ((p = malloc(len + 1)) == NULL) {
		perror("malloc");
		exit(1);
	}
	for (i = 0; i < len; i++)
		p[i] = (unsigned char)rnd();
	return p;
}

/* Bytes a member receives from FRAG in one datagram: MTU less headers. */
static size_t
frag_limit(const char *below)
{
	char	 spec[64], *p, *tok;
	size_t	 hdr = 0;

	snprintf(spec, sizeof(spec), "%s", below);
	for (p = spec; (tok = strsep(&p, ":")) != NULL;)
		hdr += layer_lookup(tok)->hdr_len;
	return MTU - hdr - 1;
}

/* Datagrams FRAG sends for a message of len bytes. */
static size_t
frag_count(size_t len, size_t limit)
{
	if (len <= limit)
		return 1;
	len -= limit - 4;
	return 1 + (len + limit - 1) / limit;
}

/* --- the rig: frag:com stacks over per-stream FIFO queues ------------ */

struct rig_dgram {
	struct rig_dgram *next;
	size_t		 len;
	unsigned char	 data[];
};

struct rig_rec {
	uint64_t	 src, dst;
	unsigned	 flags;
	size_t		 len;
	unsigned char	*data;
};

struct rig;

struct rig_node {
	struct rig	*rig;
	int		 index;
	uint64_t	 id;
	struct to_config cfg;
	struct transport tr;
	struct stack	*stack;
	struct rig_rec	*recs;
	size_t		 nrecs, caprecs;
};

struct rig {
	int		 n;
	struct rig_node	 nodes[RIG_MAX];
	/* [from][0]: broadcast; [from][j + 1]: to node j */
	struct rig_dgram *head[RIG_MAX][RIG_MAX + 1];
	struct rig_dgram *tail[RIG_MAX][RIG_MAX + 1];
	uint64_t	 dgrams;
	int		 fail_after;	/* sends before ENOBUFS; -1 never */
};

static struct rig_node *
rig_find(struct rig *r, uint64_t id)
{
	int	 i;

	for (i = 0; i < r->n; i++)
		if (r->nodes[i].id == id)
			return &r->nodes[i];
	return NULL;
}

static void
rig_send(void *net, uint64_t src, uint64_t dst, const struct iovec *iov,
    int iovcnt)
{
	struct rig	*r = net;
	struct rig_node	*from = rig_find(r, src), *to;
	struct rig_dgram *d;
	size_t		 len = iov_bytes(iov, iovcnt);
	int		 q = 0;

	if (dst != 0) {
		if ((to = rig_find(r, dst)) == NULL)
			return;
		q = to->index + 1;
	}
	if ((d = malloc(sizeof(*d) + len)) == NULL) {
		perror("malloc");
		exit(1);
	}
	d->next = NULL;
	d->len = len;
	iov_copy(iov, iovcnt, d->data, len);
	if (r->tail[from->index][q] != NULL)
		r->tail[from->index][q]->next = d;
	else
		r->head[from->index][q] = d;
	r->tail[from->index][q] = d;
	r->dgrams++;
}

static int
rig_tr_open(struct transport *tr, const char *spec)
{
	tr->mtu = MTU;
	return 0;
}

static void
rig_tr_close(struct transport *tr)
{
}

static int
rig_tr_send(struct transport *tr, uint64_t dst, const struct iovec *iov,
    int iovcnt)
{
	struct rig_node	*nd = tr->state;

	if (nd->rig->fail_after == 0) {
		errno = ENOBUFS;
		return -1;
	}
	if (nd->rig->fail_after > 0)
		nd->rig->fail_after--;
	rig_send(nd->rig, tr->self, dst, iov, iovcnt);
	return 0;
}

static ssize_t
rig_tr_recv(struct transport *tr, const struct iovec *iov, int iovcnt)
{
	errno = EAGAIN;
	return -1;
}

static int
rig_tr_fds(struct transport *tr, int *fds, int max)
{
	return 0;
}

static const struct transport_ops rig_transport = {
	.scheme = "rig",
	.open = rig_tr_open,
	.close = rig_tr_close,
	.send = rig_tr_send,
	.recv = rig_tr_recv,
	.fds = rig_tr_fds,
};

static void
rig_deliver(void *arg, const struct to_msg *m)
{
	struct rig_node	*nd = arg;
	struct rig_rec	*rec;

	if (nd->nrecs == nd->caprecs) {
		nd->caprecs = nd->caprecs ? nd->caprecs * 2 : 64;
		nd->recs = reallocarray(nd->recs, nd->caprecs, sizeof(*rec));
		if (nd->recs == NULL) {
			perror("reallocarray");
			exit(1);
		}
	}
	rec = &nd->recs[nd->nrecs++];
	rec->src = m->meta.src;
	rec->dst = m->meta.dst;
	rec->flags = m->meta.flags;
	rec->len = msg_len(m);
	if ((rec->data = malloc(rec->len + 1)) == NULL) {
		perror("malloc");
		exit(1);
	}
	memcpy(rec->data, msg_data(m), rec->len);
}

static void
rig_input(struct rig_node *nd, const void *p, size_t len)
{
	struct to_msg	*m;

	if ((m = msg_new(0, len)) == NULL) {
		perror("msg_new");
		exit(1);
	}
	memcpy(msg_data(m), p, len);
	stack_input(nd->stack, m);
}

/* Hand every queued datagram over, one per stream in turn. */
static void
rig_pump(struct rig *r)
{
	struct rig_dgram *d;
	int		 i, q, j, moved;

	do {
		moved = 0;
		for (i = 0; i < r->n; i++)
			for (q = 0; q <= r->n; q++) {
				if ((d = r->head[i][q]) == NULL)
					continue;
				if ((r->head[i][q] = d->next) == NULL)
					r->tail[i][q] = NULL;
				for (j = 0; j < r->n; j++)
					if (j != i && (q == 0 || q == j + 1))
						rig_input(&r->nodes[j],
						    d->data, d->len);
				free(d);
				moved = 1;
			}
	} while (moved);
}

static int
rig_queued(struct rig *r)
{
	int	 i, q;

	for (i = 0; i < r->n; i++)
		for (q = 0; q <= r->n; q++)
			if (r->head[i][q] != NULL)
				return 1;
	return 0;
}

static void
rig_view(struct rig *r, const uint64_t *extra, uint32_t nextra)
{
	struct event	 e;
	struct to_view	 v;
	uint64_t	 ids[RIG_MAX + 8];
	int		 i;
	uint32_t	 k;

	for (i = 0; i < r->n; i++)
		ids[i] = r->nodes[i].id;
	for (k = 0; k < nextra; k++)
		ids[r->n + k] = extra[k];
	memset(&v, 0, sizeof(v));
	v.id = 1;
	v.n = r->n + nextra;
	v.members = ids;
	for (i = 0; i < r->n; i++) {
		memset(&e, 0, sizeof(e));
		e.type = EV_VIEW;
		e.view = &v;
		v.self = r->nodes[i].id;
		stack_ctl(r->nodes[i].stack, &e);
	}
}

static struct rig *
rig_new(int n, size_t max_msg)
{
	struct stack_app app;
	struct rig	*r;
	struct rig_node	*nd;
	int		 i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->n = n;
	r->fail_after = -1;
	for (i = 0; i < n; i++) {
		nd = &r->nodes[i];
		nd->rig = r;
		nd->index = i;
		nd->id = 0x100 + i;
		nd->cfg.group = GROUP;
		nd->cfg.stack = "frag:com";
		nd->cfg.max_msg = max_msg;
		nd->cfg.seed = seed;
		nd->tr.ops = &rig_transport;
		nd->tr.cfg = &nd->cfg;
		nd->tr.self = nd->id;
		nd->tr.state = nd;
		if (nd->tr.ops->open(&nd->tr, "") == -1)
			return NULL;
		app.deliver = rig_deliver;
		app.event = NULL;
		app.arg = nd;
		if ((nd->stack = stack_new(&nd->cfg, &nd->tr, nd->id,
		    &app, 1000000000ULL)) == NULL)
			return NULL;
	}
	rig_view(r, NULL, 0);
	return r;
}

static void
rig_free(struct rig *r)
{
	struct rig_dgram *d;
	size_t		 k;
	int		 i, q;

	for (i = 0; i < r->n; i++) {
		for (q = 0; q <= r->n; q++)
			while ((d = r->head[i][q]) != NULL) {
				r->head[i][q] = d->next;
				free(d);
			}
		stack_free(r->nodes[i].stack);
		for (k = 0; k < r->nodes[i].nrecs; k++)
			free(r->nodes[i].recs[k].data);
		free(r->nodes[i].recs);
	}
	free(r);
}

/* Cast len bytes of p from node i to dst (0: all), with meta flags. */
static int
rig_cast(struct rig *r, int i, uint64_t dst, unsigned flags, const void *p,
    size_t len)
{
	struct to_msg	*m;

	if ((m = msg_from(p, len)) == NULL)
		return -1;
	m->meta.dst = dst;
	m->meta.flags = flags;
	return stack_cast(r->nodes[i].stack, m);
}

static uint64_t
dropped(struct rig_node *nd)
{
	return stack_stats(nd->stack)->dropped_bad;
}

/* --- forged datagrams ------------------------------------------------ */

static uint32_t
group_hash(const char *name)
{
	uint32_t	 h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

/* Feed nd a datagram from src to dst: COM header, then frag[0..len). */
static void
forge_raw(struct rig_node *nd, uint64_t src, uint64_t dst,
    const unsigned char *frag, size_t len)
{
	unsigned char	*d;
	uLong		 c;

	if ((d = malloc(COM_HDR + len)) == NULL) {
		perror("malloc");
		exit(1);
	}
	put16(d, 0x544f);
	d[2] = 1;
	d[3] = 0;
	put32(d + 4, group_hash(GROUP));
	put64(d + 8, src);
	put64(d + 16, dst);
	if (len > 0)
		memcpy(d + COM_HDR, frag, len);
	c = crc32(0L, d, 24);
	c = crc32(c, d + COM_HDR, (uInt)len);
	put32(d + 24, (uint32_t)c);
	rig_input(nd, d, COM_HDR + len);
	free(d);
}

/*
 * A FRAG datagram with header flg (and total, when flg is FIRST alone)
 * carrying n bytes of fill.
 */
static void
forge(struct rig_node *nd, uint64_t src, uint64_t dst, int flg,
    uint32_t total, size_t n, int fill)
{
	unsigned char	 b[2048];
	size_t		 hl = 1;

	b[0] = flg;
	if (flg == F_FIRST || flg == (F_FIRST | F_UNREL)) {
		put32(b + 1, total);
		hl = 5;
	}
	memset(b + hl, fill, n);
	forge_raw(nd, src, dst, b, hl + n);
}

static int
rec_is(const struct rig_rec *rec, uint64_t src, size_t len, int fill)
{
	size_t	 i;

	if (rec->src != src || rec->len != len)
		return 0;
	for (i = 0; i < len; i++)
		if (rec->data[i] != fill)
			return 0;
	return 1;
}

/* --- simulation tests ------------------------------------------------ */

static void
sim_view(struct sim *s)
{
	struct event	 e;
	struct to_view	 v;
	uint64_t	 ids[SIM_MAX_NODES];
	int		 i;

	for (i = 0; i < s->n; i++)
		ids[i] = s->nodes[i].id;
	memset(&v, 0, sizeof(v));
	v.id = 1;
	v.n = s->n;
	v.members = ids;
	for (i = 0; i < s->n; i++) {
		memset(&e, 0, sizeof(e));
		e.type = EV_VIEW;
		e.view = &v;
		v.self = s->nodes[i].id;
		sim_ctl(s, i, &e);
	}
}

struct want {
	int		 nodes;		/* check nodes [from, nodes) */
	int		 from;
	size_t		 n;
};

static int
sim_got(struct sim *s, void *arg)
{
	struct want	*w = arg;
	int		 i;

	for (i = w->from; i < w->nodes; i++)
		if (s->nodes[i].nrecs < w->n)
			return 0;
	return 1;
}

/*
 * Node 0 broadcasts every size; nodes first..n-1 must deliver each once,
 * intact, in order.  With loopback, node 0 is among them.
 */
static void
test_sizes(const char *spec, const char *faults, int loopback)
{
	struct sim	*s;
	struct want	 w;
	unsigned char	*data[6];
	size_t		 limit, sizes[6], dgrams = 0;
	uint64_t	 limit_ns;
	int		 i, ok, intact;
	size_t		 k;

	printf("# sizes over %s%s%s\n", spec, faults ? " faults " : "",
	    faults ? faults : "");
	limit = frag_limit(strchr(spec, ':') + 1);
	sizes[0] = 0;
	sizes[1] = 1;
	sizes[2] = limit;
	sizes[3] = limit + 1;
	sizes[4] = 100 * KIB;
	sizes[5] = 5 * MIB;
	s = sim_new(3, spec, faults, seed);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	sim_view(s);
	for (k = 0; k < 6; k++) {
		data[k] = payload(sizes[k]);
		dgrams += frag_count(sizes[k], limit);
	}
	ok = 1;
	for (k = 0; k < 6; k++)
		if (sim_cast(s, 0, data[k], sizes[k]) != 0)
			ok = 0;
	CHECK(ok);
	/* all at once, but NAK paces a burst: less than it all goes */
	if (faults == NULL && strstr(spec, "nak") == NULL)
		CHECK(s->dgrams == dgrams);
	else if (faults == NULL)
		CHECK(s->dgrams < dgrams);
	w.from = loopback ? 0 : 1;
	w.nodes = 3;
	w.n = 6;
	limit_ns = faults ? 120000000000ULL : 10000000000ULL;
	CHECK(sim_run(s, sim_got, &w, limit_ns) == 1);
	sim_run(s, NULL, NULL, 1000000000ULL);	/* anything extra? */
	for (i = w.from; i < 3; i++) {
		CHECK(s->nodes[i].nrecs == 6);
		intact = 1;
		for (k = 0; k < 6 && k < s->nodes[i].nrecs; k++) {
			struct sim_rec *r = &s->nodes[i].recs[k];

			if (r->src != s->nodes[0].id || r->len != sizes[k] ||
			    (r->len > 0 && memcmp(r->data, data[k],
			    r->len) != 0)) {
				printf("# node %d message %zu: len %zu want "
				    "%zu\n", i, k, r->len, sizes[k]);
				intact = 0;
			}
		}
		CHECK(intact);
		CHECK(stack_stats(s->nodes[i].stack)->dropped_bad == 0);
	}
	if (!loopback)
		CHECK(s->nodes[0].nrecs == 0);
	/* and then every fragment once: nothing lost to be repaired */
	if (faults == NULL && strstr(spec, "nak") != NULL)
		CHECK(stack_stats(s->nodes[0].stack)->retransmits == 0);
	for (k = 0; k < 6; k++)
		free(data[k]);
	sim_free(s);
}

/* A point-to-point message reaches its destination only. */
static void
test_sim_p2p(const char *spec)
{
	struct sim	*s;
	struct want	 w;
	struct to_msg	*m;
	unsigned char	*data;
	size_t		 len = 20 * KIB;

	printf("# point to point over %s\n", spec);
	s = sim_new(3, spec, NULL, seed);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	sim_view(s);
	data = payload(len);
	m = msg_from(data, len);
	m->meta.dst = s->nodes[2].id;
	CHECK(stack_cast(s->nodes[0].stack, m) == 0);
	w.from = 2;
	w.nodes = 3;
	w.n = 1;
	CHECK(sim_run(s, sim_got, &w, 10000000000ULL) == 1);
	sim_run(s, NULL, NULL, 1000000000ULL);
	CHECK(s->nodes[2].nrecs == 1);
	CHECK(s->nodes[2].nrecs == 1 && s->nodes[2].recs[0].len == len &&
	    memcmp(s->nodes[2].recs[0].data, data, len) == 0);
	CHECK(s->nodes[1].nrecs == 0);
	free(data);
	sim_free(s);
}

/* --- rig tests ------------------------------------------------------- */

/*
 * Two senders, each with a broadcast and a point-to-point stream to C,
 * one datagram of each stream in turn: C must rebuild all four.
 */
static void
test_interleave(void)
{
	struct rig	*r;
	struct rig_node	*c;
	unsigned char	*ab, *ap, *bb, *bp;
	size_t		 lab = 200 * KIB, lap = 300 * KIB;
	size_t		 lbb = 250 * KIB + 7, lbp = 100 * KIB;
	size_t		 k;
	int		 seen = 0;

	printf("# interleaved streams\n");
	r = rig_new(3, 0);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	c = &r->nodes[2];
	ab = payload(lab);
	ap = payload(lap);
	bb = payload(lbb);
	bp = payload(lbp);
	CHECK(rig_cast(r, 0, c->id, 0, ap, lap) == 0);
	CHECK(rig_cast(r, 0, 0, 0, ab, lab) == 0);
	CHECK(rig_cast(r, 1, 0, 0, bb, lbb) == 0);
	CHECK(rig_cast(r, 1, c->id, 0, bp, lbp) == 0);
	rig_pump(r);
	CHECK(c->nrecs == 4);
	for (k = 0; k < c->nrecs; k++) {
		struct rig_rec *rec = &c->recs[k];

		if (rec->src == r->nodes[0].id && rec->dst == c->id &&
		    rec->len == lap && memcmp(rec->data, ap, lap) == 0)
			seen |= 1;
		if (rec->src == r->nodes[0].id && rec->dst == 0 &&
		    rec->len == lab && memcmp(rec->data, ab, lab) == 0)
			seen |= 2;
		if (rec->src == r->nodes[1].id && rec->dst == 0 &&
		    rec->len == lbb && memcmp(rec->data, bb, lbb) == 0)
			seen |= 4;
		if (rec->src == r->nodes[1].id && rec->dst == c->id &&
		    rec->len == lbp && memcmp(rec->data, bp, lbp) == 0)
			seen |= 8;
	}
	CHECK(seen == 15);
	/* the smallest finished first: the streams did interleave */
	CHECK(c->nrecs > 0 && c->recs[0].len == lbp);
	CHECK(r->nodes[1].nrecs == 1 && r->nodes[1].recs[0].len == lab &&
	    memcmp(r->nodes[1].recs[0].data, ab, lab) == 0);
	CHECK(r->nodes[0].nrecs == 1 && r->nodes[0].recs[0].len == lbb &&
	    memcmp(r->nodes[0].recs[0].data, bb, lbb) == 0);
	CHECK(dropped(c) == 0 && dropped(&r->nodes[0]) == 0 &&
	    dropped(&r->nodes[1]) == 0);
	free(ab);
	free(ap);
	free(bb);
	free(bp);
	rig_free(r);
}

static void
test_max_send(void)
{
	struct rig	*r;
	struct to_msg	*m;
	unsigned char	*data;
	size_t		 max = 200000;

	printf("# max_msg on send\n");
	r = rig_new(2, max);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	/* FRAG's bound is max_msg plus the headers of the layers above */
	max += MSG_HEADROOM;
	data = payload(max + 1);
	errno = 0;
	CHECK(rig_cast(r, 0, 0, 0, data, max + 1) == -1 && errno == EMSGSIZE);
	CHECK(!rig_queued(r));
	CHECK(rig_cast(r, 0, 0, 0, data, max) == 0);
	rig_pump(r);
	CHECK(r->nodes[1].nrecs == 1 && r->nodes[1].recs[0].len == max &&
	    memcmp(r->nodes[1].recs[0].data, data, max) == 0);
	free(data);
	rig_free(r);

	/* max_msg 0 is TO_MAX_MSG_DEFAULT */
	r = rig_new(2, 0);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	m = msg_new(MSG_HEADROOM, (size_t)TO_MAX_MSG_DEFAULT + MSG_HEADROOM +
	    1);
	CHECK(m != NULL);
	errno = 0;
	CHECK(m != NULL && stack_cast(r->nodes[0].stack, m) == -1 &&
	    errno == EMSGSIZE);
	CHECK(!rig_queued(r));
	rig_free(r);
}

/* A fragment the layer below refuses ends the send; nothing leaks. */
static void
test_send_fails(void)
{
	struct rig	*r;
	struct rig_node	*b;
	unsigned char	*data;
	size_t		 len = 100 * KIB;

	printf("# a fragment refused below\n");
	r = rig_new(2, 0);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	b = &r->nodes[1];
	data = payload(len);
	r->fail_after = 3;
	errno = 0;
	CHECK(rig_cast(r, 0, 0, 0, data, len) == -1 && errno == ENOBUFS);
	CHECK(r->dgrams == 3);
	rig_pump(r);
	CHECK(b->nrecs == 0 && dropped(b) == 0);
	/* the next message ends the partial one at the receiver */
	r->fail_after = -1;
	CHECK(rig_cast(r, 0, 0, 0, data, len) == 0);
	rig_pump(r);
	CHECK(dropped(b) == 1);
	CHECK(b->nrecs == 1 && b->recs[0].len == len &&
	    memcmp(b->recs[0].data, data, len) == 0);
	/* a whole message refused */
	r->fail_after = 0;
	errno = 0;
	CHECK(rig_cast(r, 0, 0, 0, data, 10) == -1 && errno == ENOBUFS);
	free(data);
	rig_free(r);
}

static void
test_unreliable(void)
{
	struct rig	*r;
	struct rig_node	*b;
	unsigned char	*data;
	size_t		 limit = frag_limit("com");
	uint64_t	 x = 0x5000;

	printf("# unreliable messages\n");
	r = rig_new(2, 0);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	b = &r->nodes[1];
	data = payload(limit + 1);
	errno = 0;
	CHECK(rig_cast(r, 0, 0, MSG_UNRELIABLE, data, limit + 1) == -1 &&
	    errno == EMSGSIZE);
	CHECK(!rig_queued(r));
	CHECK(rig_cast(r, 0, 0, MSG_UNRELIABLE, data, limit) == 0);
	CHECK(r->dgrams == 1);
	rig_pump(r);
	CHECK(b->nrecs == 1 && b->recs[0].len == limit &&
	    (b->recs[0].flags & MSG_UNRELIABLE) &&
	    memcmp(b->recs[0].data, data, limit) == 0);
	free(data);

	/* one may come in the middle of a reliable message of its stream */
	forge(b, x, 0, F_FIRST, 10, 4, 'a');
	forge(b, x, 0, F_WHOLE | F_UNREL, 0, 5, 'u');
	forge(b, x, 0, F_LAST, 0, 6, 'a');
	CHECK(b->nrecs == 3);
	CHECK(b->nrecs == 3 && rec_is(&b->recs[1], x, 5, 'u') &&
	    (b->recs[1].flags & MSG_UNRELIABLE));
	CHECK(b->nrecs == 3 && rec_is(&b->recs[2], x, 10, 'a') &&
	    !(b->recs[2].flags & MSG_UNRELIABLE));
	CHECK(dropped(b) == 0);

	/* but never cut */
	forge(b, x, 0, F_FIRST | F_UNREL, 10, 4, 'u');
	CHECK(dropped(b) == 1);
	forge(b, x, 0, F_UNREL, 0, 4, 'u');
	CHECK(dropped(b) == 2);
	forge(b, x, 0, F_LAST | F_UNREL, 0, 4, 'u');
	CHECK(dropped(b) == 3);
	CHECK(b->nrecs == 3);
	rig_free(r);
}

/* Feed one broken sequence; it must cost want drops and no delivery. */
#define BROKEN(name, want, ...) do {					\
	uint64_t	 d0 = dropped(b);				\
	size_t		 n0 = b->nrecs;					\
									\
	__VA_ARGS__;							\
	if (dropped(b) - d0 != (want) || b->nrecs != n0)		\
		printf("# %s: dropped %llu want %d, delivered %zu\n",	\
		    name, (unsigned long long)(dropped(b) - d0), want,	\
		    b->nrecs - n0);					\
	CHECK(dropped(b) - d0 == (want) && b->nrecs == n0);		\
} while (0)

static void
test_malformed(void)
{
	struct rig	*r;
	struct rig_node	*b;
	unsigned char	 raw[8];
	unsigned char	*data;
	uint64_t	 x = 0x7000, y = 0x7001;
	size_t		 n0, len = 50 * KIB;

	printf("# broken input\n");
	r = rig_new(2, 200000);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	b = &r->nodes[1];

	BROKEN("total over max_msg", 1,
	    forge(b, x, 0, F_FIRST, 0xffffffffu, 10, 'a'));
	BROKEN("total max_msg+1", 1,
	    forge(b, x, 0, F_FIRST, 200000 + MSG_HEADROOM + 1, 10, 'a'));
	BROKEN("LAST after refused FIRST", 1,
	    forge(b, x, 0, F_LAST, 0, 10, 'a'));
	BROKEN("middle without FIRST", 1,
	    forge(b, x, 0, 0, 0, 10, 'a'));
	BROKEN("LAST without FIRST", 1,
	    forge(b, x, 0, F_LAST, 0, 10, 'a'));
	BROKEN("middle overflows", 2,
	    forge(b, x, 0, F_FIRST, 10, 4, 'a');
	    forge(b, x, 0, 0, 0, 8, 'a');
	    forge(b, x, 0, F_LAST, 0, 2, 'a'));
	BROKEN("middle fills the total", 1,
	    forge(b, x, 0, F_FIRST, 10, 4, 'a');
	    forge(b, x, 0, 0, 0, 6, 'a'));
	BROKEN("LAST short of the total", 1,
	    forge(b, x, 0, F_FIRST, 10, 4, 'a');
	    forge(b, x, 0, F_LAST, 0, 3, 'a'));
	BROKEN("LAST over the total", 1,
	    forge(b, x, 0, F_FIRST, 10, 4, 'a');
	    forge(b, x, 0, 0, 0, 2, 'a');
	    forge(b, x, 0, F_LAST, 0, 7, 'a'));
	BROKEN("FIRST not short of its total", 1,
	    forge(b, x, 0, F_FIRST, 4, 4, 'a'));
	BROKEN("FIRST over its total", 1,
	    forge(b, x, 0, F_FIRST, 3, 4, 'a'));
	BROKEN("empty datagram", 1, forge_raw(b, x, 0, raw, 0));
	raw[0] = F_FIRST;
	raw[1] = raw[2] = 0;
	BROKEN("FIRST with a short header", 1, forge_raw(b, x, 0, raw, 3));
	BROKEN("reserved flag bits", 1,
	    forge(b, x, 0, F_WHOLE | 0x80, 0, 4, 'a'));
	BROKEN("reserved flag bits", 1,
	    forge(b, x, 0, F_FIRST | 0x08, 10, 4, 'a'));

	/* a new FIRST while one is in progress: the old one goes */
	n0 = b->nrecs;
	forge(b, x, 0, F_FIRST, 10, 4, 'a');
	forge(b, x, 0, F_FIRST, 8, 4, 'b');
	forge(b, x, 0, F_LAST, 0, 4, 'b');
	CHECK(dropped(b) == 17);
	CHECK(b->nrecs == n0 + 1 && rec_is(&b->recs[n0], x, 8, 'b'));

	/* a whole message while one is in progress: the partial goes */
	forge(b, x, 0, F_FIRST, 10, 4, 'a');
	forge(b, x, 0, F_WHOLE, 0, 3, 'c');
	forge(b, x, 0, F_LAST, 0, 6, 'a');
	CHECK(dropped(b) == 19);
	CHECK(b->nrecs == n0 + 2 && rec_is(&b->recs[n0 + 1], x, 3, 'c'));

	/* streams of one sender are apart: broadcast and point to point */
	forge(b, x, 0, F_FIRST, 10, 4, 'd');
	forge(b, x, b->id, F_FIRST, 12, 5, 'e');
	forge(b, x, b->id, F_WHOLE, 0, 2, 'f');		/* kills 'e' */
	forge(b, y, 0, F_FIRST, 9, 8, 'g');
	forge(b, x, 0, 0, 0, 3, 'd');
	forge(b, y, 0, F_LAST, 0, 1, 'g');
	forge(b, x, 0, F_LAST, 0, 3, 'd');
	CHECK(dropped(b) == 20);
	CHECK(b->nrecs == n0 + 5);
	CHECK(b->nrecs == n0 + 5 && rec_is(&b->recs[n0 + 2], x, 2, 'f') &&
	    b->recs[n0 + 2].dst == b->id);
	CHECK(b->nrecs == n0 + 5 && rec_is(&b->recs[n0 + 3], y, 9, 'g'));
	CHECK(b->nrecs == n0 + 5 && rec_is(&b->recs[n0 + 4], x, 10, 'd') &&
	    b->recs[n0 + 4].dst == 0);

	/* after all that, real traffic still gets through */
	data = payload(len);
	CHECK(rig_cast(r, 0, 0, 0, data, len) == 0);
	rig_pump(r);
	CHECK(b->nrecs == n0 + 6 && b->recs[n0 + 5].len == len &&
	    memcmp(b->recs[n0 + 5].data, data, len) == 0);
	CHECK(dropped(b) == 20);
	free(data);

	/* partial messages left behind are freed with the stack (ASan) */
	forge(b, x, 0, F_FIRST, 100000, 1000, 'h');
	forge(b, y, b->id, F_FIRST, 200000, 1000, 'i');
	rig_free(r);
}

static void
test_view(void)
{
	struct rig	*r;
	struct rig_node	*b;
	uint64_t	 x = 0x8000, y = 0x8001;

	printf("# EV_VIEW drops partial messages of leavers\n");
	r = rig_new(2, 0);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	b = &r->nodes[1];
	forge(b, x, 0, F_FIRST, 10, 4, 'x');
	forge(b, x, b->id, F_FIRST, 10, 4, 'x');
	forge(b, y, 0, F_FIRST, 10, 4, 'y');
	forge(b, y, b->id, F_FIRST, 10, 4, 'y');
	rig_view(r, &y, 1);
	CHECK(dropped(b) == 0);
	forge(b, x, 0, F_LAST, 0, 6, 'x');
	forge(b, x, b->id, F_LAST, 0, 6, 'x');
	CHECK(dropped(b) == 2);
	forge(b, y, 0, F_LAST, 0, 6, 'y');
	forge(b, y, b->id, F_LAST, 0, 6, 'y');
	CHECK(dropped(b) == 2);
	CHECK(b->nrecs == 2 && rec_is(&b->recs[0], y, 10, 'y') &&
	    rec_is(&b->recs[1], y, 10, 'y'));
	rig_free(r);
}

static void
test_stream_bound(void)
{
	struct rig	*r;
	struct rig_node	*b;
	uint64_t	 base = 0x10000, i;

	printf("# at most 1024 partial messages\n");
	r = rig_new(2, 0);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	b = &r->nodes[1];
	for (i = 0; i < 1024; i++)
		forge(b, base + i, 0, F_FIRST, 100, 10, 'p');
	CHECK(dropped(b) == 0);
	forge(b, base + 1024, 0, F_FIRST, 100, 10, 'p');
	CHECK(dropped(b) == 1);
	forge(b, base + 5, 0, F_LAST, 0, 90, 'p');
	CHECK(dropped(b) == 1 && b->nrecs == 1 &&
	    rec_is(&b->recs[0], base + 5, 100, 'p'));
	/* the freed slot takes a new one */
	forge(b, base + 1024, 0, F_FIRST, 100, 10, 'q');
	forge(b, base + 1024, 0, F_LAST, 0, 90, 'q');
	CHECK(dropped(b) == 1 && b->nrecs == 2 &&
	    rec_is(&b->recs[1], base + 1024, 100, 'q'));
	/* a view without them clears them all */
	rig_view(r, NULL, 0);
	forge(b, base + 7, 0, F_LAST, 0, 90, 'p');
	CHECK(dropped(b) == 2 && b->nrecs == 2);
	for (i = 0; i < 1024; i++)
		forge(b, base + 2000 + i, 0, F_FIRST, 100, 10, 'p');
	CHECK(dropped(b) == 2);
	rig_free(r);
}

/* NAK in the library, not a pass-through stand-in: it has a header. */
static int
have_nak(void)
{
	const struct layer_ops *nak = layer_lookup("nak");

	return nak != NULL && nak->hdr_len > 0;
}

int
main(void)
{
	const char	*env;

	if ((env = getenv("TO_SEED")) != NULL)
		seed = strtoull(env, NULL, 0);
	else
		seed = (uint64_t)time(NULL);
	rng = seed;
	printf("# seed %llu\n", (unsigned long long)seed);

	test_sizes("frag:com", NULL, 0);
	test_sim_p2p("frag:com");
	test_interleave();
	test_max_send();
	test_send_fails();
	test_unreliable();
	test_malformed();
	test_view();
	test_stream_bound();
	if (have_nak()) {
		test_sizes("frag:nak:com", NULL, 1);
		test_sizes("frag:nak:com", "loss=5%,dup=5%,reorder=5%", 1);
		test_sim_p2p("frag:nak:com");
	} else
		printf("# no NAK layer in the library: frag:nak:com skipped\n");
	if (check_failed)
		printf("# failed with TO_SEED=%llu\n",
		    (unsigned long long)seed);
	return check_done();
}
