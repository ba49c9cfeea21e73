/*
 * order.c: the fault-tolerance rules every ordering protocol shares
 * (paper section 3.1); see order.h.
 *
 * At EV_FLUSH each member re-sends every own message it has not yet seen
 * delivered as an UNORDERED message, and holds new casts.  The flush then
 * brings every survivor the same messages of the closing view.  At EV_VIEW
 * the unordered ones are delivered by the sender's rank in the closing
 * view, then by sender order, skipping those already delivered in order
 * (a sender's ordered messages are a prefix of its sequence, so the skip
 * is a comparison with the last sender seq delivered).  The role that
 * orders (sequencer, orderer, token holder) goes to rank 0 of the new view
 * with no extra messages.
 *
 * UNORDERED header: u8 type (0x80), u64 sender, u64 sender seq.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "order.h"

static int
q_push(struct ord_queue *q, uint64_t sender, uint64_t sseq, struct to_msg *m)
{
	struct ord_msg	*nq;
	size_t		 i, cap;

	if (q->n == q->cap) {
		cap = q->cap ? q->cap * 2 : 64;
		if ((nq = reallocarray(NULL, cap, sizeof(*nq))) == NULL)
			return -1;
		for (i = 0; i < q->n; i++)
			nq[i] = q->q[(q->head + i) % q->cap];
		free(q->q);
		q->q = nq;
		q->head = 0;
		q->cap = cap;
	}
	q->q[(q->head + q->n) % q->cap] = (struct ord_msg){ sender, sseq, m };
	q->n++;
	return 0;
}

static struct ord_msg *
q_front(struct ord_queue *q)
{
	return q->n ? &q->q[q->head] : NULL;
}

static void
q_pop(struct ord_queue *q)
{
	q->head = (q->head + 1) % q->cap;
	q->n--;
}

static void
q_clear(struct ord_queue *q)
{
	struct ord_msg	*e;

	while ((e = q_front(q)) != NULL) {
		msg_free(e->m);
		q_pop(q);
	}
}

int
order_init(struct order *o, struct layer *l, const struct order_proto *p)
{
	memset(o, 0, sizeof(*o));
	o->l = l;
	o->proto = p;
	return 0;
}

void
order_fini(struct order *o)
{
	q_clear(&o->pending);
	q_clear(&o->blocked);
	q_clear(&o->unordered);
	free(o->pending.q);
	free(o->blocked.q);
	free(o->unordered.q);
	free(o->view.members);
	free(o->last_sender);
	free(o->last_sseq);
}

int
order_rank(const struct order *o, uint64_t member)
{
	uint32_t	 i;

	for (i = 0; i < o->view.n; i++)
		if (o->view.members[i] == member)
			return (int)i;
	return -1;
}

static uint64_t *
order_last(struct order *o, uint64_t sender)
{
	size_t		 i;

	for (i = 0; i < o->nlast; i++)
		if (o->last_sender[i] == sender)
			return &o->last_sseq[i];
	return NULL;
}

void
order_deliver(struct order *o, struct to_msg *m, uint64_t sender,
    uint64_t sseq)
{
	uint64_t	*last = order_last(o, sender);
	struct ord_msg	*p;

	if (last == NULL || sseq <= *last) {
		msg_free(m);
		return;
	}
	*last = sseq;
	if (sender == layer_self(o->l))
		while ((p = q_front(&o->pending)) != NULL && p->sseq <= sseq) {
			msg_free(p->m);
			q_pop(&o->pending);
		}
	m->meta.src = sender;
	m->meta.sender_seq = sseq;
	m->meta.global_seq = ++o->gseq;
	m->meta.view_id = o->view.id;
	layer_up(o->l, m);
}

/* Send an own message through the protocol, keeping a copy until delivered. */
static int
order_send(struct order *o, struct to_msg *m)
{
	struct to_msg	*keep;

	if ((keep = msg_clone(m)) == NULL ||
	    q_push(&o->pending, layer_self(o->l), m->meta.sender_seq, keep)) {
		msg_free(keep);
		msg_free(m);
		return -1;
	}
	return o->proto->cast(o, m);
}

int
order_down(struct order *o, struct to_msg *m)
{
	m->meta.sender_seq = ++o->sseq;
	m->meta.dst = 0;
	m->meta.flags = 0;
	if (!o->have_view || o->flushing) {
		if (q_push(&o->blocked, layer_self(o->l), o->sseq, m) == -1) {
			msg_free(m);
			return -1;
		}
		return 0;
	}
	return order_send(o, m);
}

static void
order_keep_unordered(struct order *o, struct to_msg *m)
{
	const unsigned char *h = msg_data(m);
	uint64_t	 sender, sseq;

	if (msg_len(m) < ORD_UNORD_HDR) {
		layer_stats(o->l)->dropped_bad++;
		msg_free(m);
		return;
	}
	sender = get64(h + 1);
	sseq = get64(h + 9);
	msg_pull(m, ORD_UNORD_HDR);
	if (sender != m->meta.src || q_push(&o->unordered, sender, sseq, m))
		msg_free(m);
}

void
order_up(struct order *o, struct to_msg *m)
{
	if (msg_len(m) > 0 && msg_data(m)[0] == ORD_UNORDERED)
		order_keep_unordered(o, m);
	else
		o->proto->up(o, m);
}

/* EV_FLUSH: stop ordering; re-send what is not yet delivered, unordered. */
static void
order_flush(struct order *o)
{
	struct ord_msg	*p;
	struct to_msg	*c;
	unsigned char	*h;
	size_t		 i;

	o->flushing = 1;
	o->proto->flush(o);
	for (i = 0; i < o->pending.n; i++) {
		p = &o->pending.q[(o->pending.head + i) % o->pending.cap];
		if ((c = msg_clone(p->m)) == NULL)
			continue;
		if ((h = msg_push(c, ORD_UNORD_HDR)) == NULL) {
			msg_free(c);
			continue;
		}
		h[0] = ORD_UNORDERED;
		put64(h + 1, p->sender);
		put64(h + 9, p->sseq);
		c->meta.dst = 0;
		c->meta.flags = 0;
		(void)layer_down(o->l, c);
	}
}

static int
order_cmp_rank(const void *a, const void *b, void *arg)
{
	const struct ord_msg *x = a, *y = b;
	const struct order *o = arg;
	int		 rx = order_rank(o, x->sender);
	int		 ry = order_rank(o, y->sender);

	if (rx != ry)
		return rx < ry ? -1 : 1;
	return x->sseq < y->sseq ? -1 : x->sseq > y->sseq;
}

/* The closing view's unordered messages, by rank, then sender order. */
static void
order_deliver_unordered(struct order *o)
{
	struct ord_queue *q = &o->unordered;
	struct ord_msg	*all, *e;
	size_t		 i, n = q->n;

	if (n == 0)
		return;
	if ((all = reallocarray(NULL, n, sizeof(*all))) == NULL) {
		q_clear(q);
		return;
	}
	for (i = 0; (e = q_front(q)) != NULL; i++) {
		all[i] = *e;
		q_pop(q);
	}
	qsort_r(all, n, sizeof(*all), order_cmp_rank, o);
	for (i = 0; i < n; i++)
		order_deliver(o, all[i].m, all[i].sender, all[i].sseq);
	free(all);
}

/* Adopt the new view: members, per-sender delivery marks, role. */
static int
order_adopt(struct order *o, const struct to_view *v)
{
	uint64_t	*members, *ls, *lq, *old;
	uint32_t	 i;

	members = reallocarray(NULL, v->n, sizeof(*members));
	ls = reallocarray(NULL, v->n, sizeof(*ls));
	lq = reallocarray(NULL, v->n, sizeof(*lq));
	if (members == NULL || ls == NULL || lq == NULL) {
		free(members);
		free(ls);
		free(lq);
		return -1;
	}
	for (i = 0; i < v->n; i++) {
		members[i] = v->members[i];
		ls[i] = v->members[i];
		old = order_last(o, v->members[i]);
		lq[i] = old ? *old : 0;
	}
	free(o->view.members);
	free(o->last_sender);
	free(o->last_sseq);
	o->view = *v;
	o->view.members = members;
	o->last_sender = ls;
	o->last_sseq = lq;
	o->nlast = v->n;
	return 0;
}

static void
order_view(struct order *o, struct event *e)
{
	struct ord_queue held;
	struct ord_msg	*p;
	int		 in_view = 0;
	uint32_t	 i;

	order_deliver_unordered(o);
	q_clear(&o->pending);
	if (e->adopt_state && e->view_state_len >= 8)
		o->gseq = get64(e->view_state);
	put64(e->view_state, o->gseq);
	e->view_state_len = 8;
	for (i = 0; i < e->view->n; i++)
		in_view |= e->view->members[i] == layer_self(o->l);
	if (!in_view || order_adopt(o, e->view) == -1)
		return;
	o->have_view = 1;
	o->flushing = 0;
	o->proto->view(o);
	/* casts held during the flush go out now, in their order */
	held = o->blocked;
	memset(&o->blocked, 0, sizeof(o->blocked));
	while ((p = q_front(&held)) != NULL) {
		struct to_msg	*m = p->m;

		q_pop(&held);
		(void)order_send(o, m);
	}
	free(held.q);
}

void
order_ctl_up(struct order *o, struct event *e)
{
	if (e->type == EV_FLUSH && o->have_view)
		order_flush(o);
	else if (e->type == EV_VIEW)
		order_view(o, e);
	layer_ctl_up(o->l, e);
}
