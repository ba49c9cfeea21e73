/*
 * order.c: the fault-tolerance rules every ordering protocol shares
 * (paper section 3.1), and packing (section 3, Tomfc and Dysfc, made
 * available to every protocol); see order.h.
 *
 * Casts are numbered (sender seq 1, 2, ...) and packed into ordered
 * units (pack.c): with packing off each message is its own unit; with a
 * delay, a unit goes when the delay after its first message passed or
 * when pack_max bytes wait; adaptive sends a message at once while no
 * unit of ours is in flight (sent, not yet delivered back to us) and
 * packs while one is, sending the pack when the last in flight is
 * delivered; visit (the token presets) leaves the moment to the
 * protocol.  The protocol orders units as it would single messages.
 *
 * At EV_FLUSH each member re-sends every own unit it has not yet seen
 * delivered, and what waits in its pack, as an UNORDERED message, and
 * holds new casts.  The flush then brings every survivor the same
 * messages of the closing view.  At EV_VIEW, first the ordered units
 * still held behind a gap (order_place: a unit whose predecessor was
 * lost with its sender and every member that had it) are delivered by
 * position, the same at every survivor since they all hold the same
 * ones; then the unordered units by the sender's rank in the closing
 * view, then by sender order, skipping messages already delivered (a
 * sender's ordered messages are a prefix of its sequence, so the skip is
 * a comparison with the last sender seq delivered).  The role that
 * orders (sequencer, orderer, token holder) goes to rank 0 of the new
 * view with no extra messages.
 *
 * UNORDERED header: u8 type (0x80), u64 sender, u64 sender seq of the
 * unit's first message; then the unit.
 *
 * Deviation: Horus re-sent single messages; here a pack is re-sent whole
 * and duplicates are dropped message by message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "order.h"

/* --- units held ahead of their position: a min-heap by position ------- */

static int
heap_push(struct order *o, const struct ord_msg *e)
{
	struct ord_msg	*h, t;
	size_t		 i, cap;

	if (o->nheap == o->capheap) {
		cap = o->capheap ? o->capheap * 2 : 64;
		if ((h = reallocarray(o->heap, cap, sizeof(*h))) == NULL) {
			msg_free(e->m);
			return -1;
		}
		o->heap = h;
		o->capheap = cap;
	}
	i = o->nheap++;
	o->heap[i] = *e;
	while (i > 0 && o->heap[(i - 1) / 2].pos > o->heap[i].pos) {
		t = o->heap[i];
		o->heap[i] = o->heap[(i - 1) / 2];
		o->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
	return 0;
}

static struct ord_msg
heap_pop(struct order *o)
{
	struct ord_msg	 top = o->heap[0], t;
	size_t		 i = 0, c;

	o->heap[0] = o->heap[--o->nheap];
	for (;;) {
		c = 2 * i + 1;
		if (c >= o->nheap)
			break;
		if (c + 1 < o->nheap && o->heap[c + 1].pos < o->heap[c].pos)
			c++;
		if (o->heap[i].pos <= o->heap[c].pos)
			break;
		t = o->heap[i];
		o->heap[i] = o->heap[c];
		o->heap[c] = t;
		i = c;
	}
	return top;
}

/* --- set up ---------------------------------------------------------- */

static int
order_pack_config(struct order *o, const char *pack_default)
{
	const struct to_config *cfg = layer_config(o->l);
	struct transport *tr = layer_transport(o->l);
	struct layer	*b;
	size_t		 below = 0, max_msg, def = 1024;

	if (cfg->pack != NULL) {
		if (pack_parse(cfg->pack, 0, &o->pack_mode, &o->pack_delay))
			return -1;
	} else if (pack_parse(pack_default, 1, &o->pack_mode,
	    &o->pack_delay) == -1)
		return -1;
	/* a pack fits one datagram behind every header of the stack */
	for (b = o->l->below; b != NULL; b = b->below)
		below += b->ops->hdr_len;
	o->below = below;
	below += o->l->ops->hdr_len + PACK_HDR_MAX - PACK_ONE_HDR;
	if (tr != NULL && tr->mtu > below + 64)
		def = tr->mtu - below;
	max_msg = cfg->max_msg ? cfg->max_msg : TO_MAX_MSG_DEFAULT;
	o->pack_max = cfg->pack_max ? cfg->pack_max : def;
	if (o->pack_max > max_msg)
		o->pack_max = max_msg;
	o->raw_max = max_msg + 16;
	if (cfg->compress >= 1 && cfg->compress <= 9)
		o->zlevel = cfg->compress;
	else if (cfg->compress != 0)
		o->zlevel = -1;		/* Z_DEFAULT_COMPRESSION */
	return 0;
}

void *
order_layer_new(struct layer *l, size_t size, const struct order_proto *p,
    const char *pack_default)
{
	struct order	*o;

	if ((o = calloc(1, size)) == NULL)
		return NULL;
	o->l = l;
	o->proto = p;
	if (order_pack_config(o, pack_default) == -1) {
		free(o);
		return NULL;
	}
	l->state = o;
	return o;
}

void
order_fini(struct order *o)
{
	ordq_free(&o->pending);
	ordq_free(&o->blocked);
	ordq_free(&o->unordered);
	while (o->nheap > 0)
		msg_free(o->heap[--o->nheap].m);
	free(o->heap);
	pack_clear(&o->pk);
	free(o->view.members);
	free(o->last_sender);
	free(o->last_sseq);
	free(o->act);
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

int
order_in(const struct to_view *v, uint64_t member)
{
	uint32_t	 i;

	for (i = 0; i < v->n; i++)
		if (v->members[i] == member)
			return 1;
	return 0;
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

/* --- timer ----------------------------------------------------------- */

static void
order_arm(struct order *o)
{
	uint64_t	 t = o->pack_at;

	if (o->proto_at != 0 && (t == 0 || o->proto_at < t))
		t = o->proto_at;
	layer_wake(o->l, t);
}

void
order_wake(struct order *o, uint64_t t)
{
	o->proto_at = t;
	order_arm(o);
}

void
order_wake_by(struct order *o, uint64_t t)
{
	if (o->proto_at == 0 || t < o->proto_at)
		order_wake(o, t);
}

void
order_timer(struct order *o)
{
	uint64_t	 now = layer_now(o->l);

	if (o->pack_at != 0 && o->pack_at <= now) {
		o->pack_at = 0;
		if (o->have_view && !o->flushing)
			order_pack_flush(o);
	}
	if (o->proto_at != 0 && o->proto_at <= now) {
		o->proto_at = 0;
		if (o->proto->timer != NULL)
			o->proto->timer(o);
	}
	order_arm(o);
}

/* --- delivery -------------------------------------------------------- */

/* Own units up to sender seq upto are delivered: forget them. */
static void
order_pending_done(struct order *o, uint64_t upto)
{
	struct ord_msg	*p;

	while ((p = ordq_front(&o->pending)) != NULL &&
	    p->sseq + (p->count ? p->count : 1) - 1 <= upto) {
		msg_free(p->m);
		ordq_pop(&o->pending);
	}
	/* adaptive: nothing in flight any more, the pack goes */
	if (o->pending.n == 0 && o->pk.n > 0 && !o->flushing &&
	    o->pack_mode == PACK_ADAPTIVE) {
		o->pack_at = layer_now(o->l);
		order_arm(o);
	}
}

/*
 * Deliver the messages of unit u, the first with sender seq sseq; at
 * global position pos (the unit takes count positions, whatever of it is
 * dropped as a duplicate) or, with pos 0, next.
 */
static void
order_deliver_at(struct order *o, struct to_msg *u, uint64_t sender,
    uint64_t sseq, uint64_t pos)
{
	struct pack_rd	 rd;
	struct to_msg	 m;
	uint64_t	*last = order_last(o, sender), done = 0;
	uint32_t	 count = pack_count(u), i;

	if (pos != 0 && o->gseq < pos - 1)
		o->gseq = pos - 1;
	if (last == NULL || count == 0 || sseq + count - 1 <= *last) {
		if (count == 0)
			layer_stats(o->l)->dropped_bad++;
		msg_free(u);
	} else if (pack_open(&rd, u, o->raw_max) == -1)
		layer_stats(o->l)->dropped_bad++;
	else {
		for (i = 0; i < count; i++) {
			if (pack_next(&rd, &m) == -1)
				break;
			/* the application may have changed the view */
			last = order_last(o, sender);
			if (last == NULL || sseq + i <= *last)
				continue;
			*last = done = sseq + i;
			m.meta.src = sender;
			m.meta.sender_seq = sseq + i;
			m.meta.global_seq = o->unnumbered ? 0 : ++o->gseq;
			m.meta.view_id = o->view.id;
			layer_up_view(o->l, &m);
		}
		pack_close(&rd);
	}
	if (pos != 0 && o->gseq < pos + (count ? count : 1) - 1)
		o->gseq = pos + (count ? count : 1) - 1;
	if (done != 0 && sender == layer_self(o->l))
		order_pending_done(o, done);
}

void
order_deliver(struct order *o, struct to_msg *u, uint64_t sender,
    uint64_t sseq)
{
	order_deliver_at(o, u, sender, sseq, 0);
}

/* Deliver what the heap holds that is next in order. */
static void
order_heap_run(struct order *o)
{
	struct ord_msg	 e;

	while (o->nheap > 0 && o->heap[0].pos <= o->gseq + 1 &&
	    (!o->gated || o->heap[0].pos <= o->conf)) {
		e = heap_pop(o);
		if (e.pos <= o->gseq)
			msg_free(e.m);		/* a duplicate */
		else
			order_deliver_at(o, e.m, e.sender, e.sseq, e.pos);
	}
}

/*
 * A unit held out of order that found no memory is lost, and the order
 * would stall at its position until the next view (or, kept for
 * confirmation, the count would go wrong): the member gives up at once
 * instead, and to_process() fails with ENOMEM.
 */
void
order_no_memory(struct order *o)
{
	struct event	 e = { .type = EV_EXIT, .error = ENOMEM };

	layer_ctl_up(o->l, &e);
}

void
order_place(struct order *o, struct to_msg *u, uint64_t sender,
    uint64_t sseq, uint64_t pos)
{
	struct ord_msg	 e = { .sender = sender, .sseq = sseq, .pos = pos,
	    .m = u };

	if (pos <= o->gseq) {
		msg_free(u);
		return;
	}
	if (pos == o->gseq + 1 && (!o->gated || pos <= o->conf))
		order_deliver_at(o, u, sender, sseq, pos);
	else if (heap_push(o, &e) == -1)
		order_no_memory(o);
	order_heap_run(o);
}

uint64_t
order_confirmed(struct order *o, struct ord_queue *q, uint64_t upto)
{
	struct event	 a = { .type = EV_ACK_OF };
	struct ord_msg	*e;
	size_t		 i;

	for (i = 0; (e = ordq_at(q, i)) != NULL; i++) {
		if (e->stream_seq == ORD_UNSENT)
			break;
		if (e->stream_seq != 0) {
			if (e->sender != a.ack.member ||
			    e->stream != a.ack.stream) {
				a.ack.member = e->sender;
				a.ack.stream = e->stream;
				layer_ctl_down(o->l, &a);	/* NAK knows */
			}
			if (a.ack.seq < e->stream_seq)
				break;
			e->stream_seq = 0;
		}
		upto = e->pos + (e->count ? e->count : 1) - 1;
	}
	return upto;
}

void
order_confirm(struct order *o, uint64_t conf)
{
	if (conf <= o->conf)
		return;
	o->conf = conf;
	order_heap_run(o);
}

/*
 * The view closes: what is held behind a gap goes, by position.  The
 * positions past the first hole may be held elsewhere (by the other side
 * of a split, which fills them), so these deliveries are unnumbered, as
 * the unordered ones below: the numbers a log shows within a view are
 * always consecutive, and any that it shows name one message everywhere.
 * Gated, a place past conf goes only if its sender goes on with us (in
 * next): its sender may not hold it, and then the sender's side delivers
 * the unit by rank (order_deliver_unordered), among others.
 */
static void
order_heap_drain(struct order *o, int alone, const struct to_view *next)
{
	struct ord_msg	 e;

	while (o->nheap > 0) {
		e = heap_pop(o);
		if (e.pos > o->gseq + 1 || (o->gated && e.pos > o->conf))
			o->unnumbered = 1;	/* past a hole: see below */
		if (e.pos > o->gseq && o->gated && e.pos > o->conf &&
		    !order_in(next, e.sender)) {
			layer_stats(o->l)->departed++;
			msg_free(e.m);
		} else if (e.pos <= o->gseq || (alone && o->unnumbered)) {
			if (e.pos > o->gseq)	/* alone: see order_view */
				layer_stats(o->l)->unordered_gaps++;
			msg_free(e.m);
		} else
			order_deliver_at(o, e.m, e.sender, e.sseq, e.pos);
	}
	o->unnumbered = 0;
}

/* --- sending and packing ---------------------------------------------- */

unsigned char *
order_push(struct order *o, struct to_msg *m, size_t n)
{
	struct to_msg	*c;
	struct to_buf	*b;

	if (m->off < n + o->below) {
		if ((c = msg_new(n + MSG_HEADROOM, msg_len(m))) == NULL)
			return NULL;
		memcpy(msg_data(c), msg_data(m), msg_len(m));
		b = m->buf;
		m->buf = c->buf;
		m->off = c->off;
		c->buf = b;
		msg_free(c);
	}
	return msg_push(m, n);
}

/* Send an own unit through the protocol, keeping a copy until delivered. */
static int
order_send(struct order *o, struct to_msg *u)
{
	struct ord_msg	 e;

	e.sender = layer_self(o->l);
	e.sseq = u->meta.sender_seq;
	e.pos = 0;
	e.count = pack_count(u);
	if ((e.m = msg_clone(u)) == NULL || ordq_push(&o->pending, &e) == -1) {
		msg_free(u);
		return -1;
	}
	u->meta.dst = 0;
	u->meta.flags = 0;
	return o->proto->cast(o, u);
}

/* What waits in the pack as a unit, or NULL. */
static struct to_msg *
order_pack_take(struct order *o)
{
	struct to_msg	*u;

	o->pack_at = 0;
	if (o->pk.n == 0)
		return NULL;
	if ((u = pack_take(&o->pk, o->zlevel, layer_stats(o->l))) != NULL)
		u->meta.sender_seq = o->pack_first;
	return u;
}

void
order_pack_flush(struct order *o)
{
	struct to_msg	*u;

	if ((u = order_pack_take(o)) != NULL)
		(void)order_send(o, u);
	order_arm(o);
}

/* m as a unit of its own (the pack is empty). */
static int
order_send_one(struct order *o, struct to_msg *m)
{
	struct to_msg	*u;
	uint64_t	 sseq = m->meta.sender_seq;

	if (o->zlevel != 0 && msg_len(m) >= PACK_ZMIN) {
		/* through the pack, to be compressed */
		o->pack_first = sseq;
		if (pack_append(&o->pk, m) == 0) {
			msg_free(m);
			u = order_pack_take(o);
			return u ? order_send(o, u) : -1;
		}
		pack_clear(&o->pk);
	}
	if ((u = pack_single(m)) == NULL)
		return -1;
	u->meta.sender_seq = sseq;
	return order_send(o, u);
}

/* A message joined the pack: it goes when full, or the protocol hears. */
static void
order_pack_added(struct order *o)
{
	if (o->pack_max - pack_used(&o->pk) < 2)
		order_pack_flush(o);	/* full */
	else if (o->pack_mode == PACK_VISIT && o->proto->kick != NULL)
		o->proto->kick(o);
}

static int
order_pack_add(struct order *o, struct to_msg *m)
{
	size_t		 room = pack_room(msg_len(m));

	if (o->pk.n > 0 && pack_used(&o->pk) + room > o->pack_max)
		order_pack_flush(o);
	if (o->pk.n == 0 && (o->pack_mode == PACK_OFF ||
	    room > o->pack_max || (o->pack_mode == PACK_ADAPTIVE &&
	    o->pending.n == 0)))
		return order_send_one(o, m);
	if (o->pk.n == 0) {
		o->pack_first = m->meta.sender_seq;
		if (o->pack_mode == PACK_DELAY) {
			o->pack_at = layer_now(o->l) + o->pack_delay;
			order_arm(o);
		}
	}
	if (pack_append(&o->pk, m) == -1) {
		order_pack_flush(o);
		return order_send_one(o, m);
	}
	msg_free(m);
	order_pack_added(o);
	return 0;
}

/*
 * The fast way of a cast into an open pack (most casts of a burst): the
 * bytes go in where order_down would put them, with no message made,
 * numbered the same; 0 where order_down must decide.
 */
int
order_layer_cast_bytes(struct layer *l, const void *data, size_t len)
{
	struct order	*o = l->state;

	if (!o->have_view || o->flushing || o->pk.n == 0 ||
	    pack_used(&o->pk) + pack_room(len) > o->pack_max ||
	    pack_append_bytes(&o->pk, data, len) == -1)
		return 0;
	o->sseq++;
	order_pack_added(o);
	return 1;
}

int
order_down(struct order *o, struct to_msg *m)
{
	struct ord_msg	 e;

	m->meta.sender_seq = ++o->sseq;
	m->meta.dst = 0;
	m->meta.flags = 0;
	if (!o->have_view || o->flushing) {
		e = (struct ord_msg){ .sender = layer_self(o->l),
		    .sseq = o->sseq, .count = 1, .m = m };
		return ordq_push(&o->blocked, &e);
	}
	return order_pack_add(o, m);
}

void
order_recast(struct order *o)
{
	struct ord_msg	*p;
	struct to_msg	*c;
	size_t		 i, n = o->pending.n;

	for (i = 0; i < n; i++) {
		p = ordq_at(&o->pending, i);
		if ((c = msg_clone(p->m)) == NULL)
			continue;
		c->meta.sender_seq = p->sseq;
		c->meta.dst = 0;
		c->meta.flags = 0;
		(void)o->proto->cast(o, c);
	}
}

/* --- receiving ------------------------------------------------------- */

static void
order_keep_unordered(struct order *o, struct to_msg *m)
{
	const unsigned char *h = msg_data(m);
	struct ord_msg	 e;

	if (msg_len(m) < ORD_UNORD_HDR + 1) {
		layer_stats(o->l)->dropped_bad++;
		msg_free(m);
		return;
	}
	e.sender = get64(h + 1);
	e.sseq = get64(h + 9);
	e.pos = 0;
	msg_pull(m, ORD_UNORD_HDR);
	e.count = pack_count(m);
	e.m = m;
	if (e.sender != m->meta.src || e.count == 0) {
		layer_stats(o->l)->dropped_bad++;
		msg_free(m);
		return;
	}
	if (ordq_push(&o->unordered, &e) == -1)
		order_no_memory(o);
}

void
order_up(struct order *o, struct to_msg *m)
{
	if (msg_len(m) > 0 && msg_data(m)[0] == ORD_UNORDERED)
		order_keep_unordered(o, m);
	else
		o->proto->up(o, m);
}

/* --- view changes ---------------------------------------------------- */

static void
order_send_unordered(struct order *o, const struct ord_msg *p)
{
	struct to_msg	*c;
	unsigned char	*h;

	if ((c = msg_clone(p->m)) == NULL)
		return;
	if ((h = msg_push(c, ORD_UNORD_HDR)) == NULL) {
		msg_free(c);
		return;
	}
	h[0] = ORD_UNORDERED;
	put64(h + 1, p->sender);
	put64(h + 9, p->sseq);
	c->meta.dst = 0;
	c->meta.flags = 0;
	layer_stats(o->l)->unordered_sent++;
	(void)layer_down(o->l, c);
}

/* EV_FLUSH: stop ordering; re-send what is not yet delivered, unordered. */
static void
order_flush(struct order *o)
{
	struct ord_msg	 e;
	size_t		 i;

	o->flushing = 1;
	o->proto->flush(o);
	if ((e.m = order_pack_take(o)) != NULL) {
		e.sender = layer_self(o->l);
		e.sseq = e.m->meta.sender_seq;
		e.pos = 0;
		e.count = pack_count(e.m);
		if (ordq_push(&o->pending, &e) == -1)
			order_no_memory(o);
	}
	order_arm(o);
	for (i = 0; i < o->pending.n; i++)
		order_send_unordered(o, ordq_at(&o->pending, i));
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

/*
 * The closing view's unordered messages, by rank, then sender order.
 * They have no place in the view's order: every member that goes on to
 * the same next view delivers them here, the same ones in the same order
 * (virtual synchrony), but on the two sides of a split, or at a member
 * excluded alone, each side's flush delivers its own after the last
 * message the protocol ordered.  Numbered on from the view's order they
 * would give one (view, global seq) two messages, so they carry global
 * seq 0: "delivered by the flush, unnumbered" (to(7), to-frame(5)).
 *
 * A unit that does not follow the last message delivered of its sender
 * (of whom we delivered any: a joiner starts where it finds a stream)
 * goes undelivered, and so does the rest of that sender's: the messages
 * between were ordered where we were not (we were cut off, alone or with
 * a few), so delivering what follows them would leave a hole inside the
 * sender's order.  Every member of our side holds the same units and the
 * same marks, so all of them decide alike; the sender itself never has a
 * gap (its own undelivered units are all there), and neither has a
 * member that goes on with the sender, which obtains the cut.
 *
 * Only the units of senders that go on with us (in next) are delivered:
 * a sender on the other side of a split, or cut off alone, may have had
 * them ordered there, by place, among others that we would put here by
 * rank; its own side delivers them.  Those of a sender that failed go
 * nowhere, alike on every side.
 */
static void
order_deliver_unordered(struct order *o, const struct to_view *next)
{
	struct ord_queue *q = &o->unordered;
	struct ord_msg	*all, *e;
	uint64_t	*last;
	size_t		 i, n = q->n;

	if (n == 0)
		return;
	if ((all = reallocarray(NULL, n, sizeof(*all))) == NULL) {
		ordq_clear(q);
		return;
	}
	for (i = 0; (e = ordq_front(q)) != NULL; i++) {
		all[i] = *e;
		ordq_pop(q);
	}
	qsort_r(all, n, sizeof(*all), order_cmp_rank, o);
	o->unnumbered = 1;
	for (i = 0; i < n; i++) {
		last = order_last(o, all[i].sender);
		if (!order_in(next, all[i].sender)) {
			layer_stats(o->l)->departed++;
			msg_free(all[i].m);
			continue;
		}
		if (last != NULL && *last != 0 && all[i].sseq > *last + 1) {
			/* a gap: the sender's side went on without us */
			layer_stats(o->l)->unordered_gaps++;
			msg_free(all[i].m);
			continue;
		}
		order_deliver(o, all[i].m, all[i].sender, all[i].sseq);
	}
	o->unnumbered = 0;
	free(all);
}

/*
 * Own units not yet seen delivered close the view with the unordered
 * ones.  After a flush they are there already, looped back (the cut holds
 * our stream up to our FLUSH_OK, which followed their re-sending), and
 * are skipped as duplicates; but a member excluded while alive (stopped,
 * cut off) closes its view alone with no flush to wait for, and without
 * this would drop what it cast before the cut.
 */
static void
order_keep_pending(struct order *o)
{
	struct ord_msg	*p;

	while ((p = ordq_front(&o->pending)) != NULL) {
		if (ordq_push(&o->unordered, p) == -1)
			order_no_memory(o);
		ordq_pop(&o->pending);
	}
}

/* Adopt the new view: members, per-sender delivery marks, activity. */
static int
order_adopt(struct order *o, const struct to_view *v)
{
	uint64_t	*members, *ls, *lq, *old;
	uint32_t	*act, i;

	members = reallocarray(NULL, v->n, sizeof(*members));
	ls = reallocarray(NULL, v->n, sizeof(*ls));
	lq = reallocarray(NULL, v->n, sizeof(*lq));
	act = calloc(v->n, sizeof(*act));
	if (members == NULL || ls == NULL || lq == NULL || act == NULL) {
		free(members);
		free(ls);
		free(lq);
		free(act);
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
	free(o->act);
	o->view = *v;
	o->view.members = members;
	o->last_sender = ls;
	o->last_sseq = lq;
	o->nlast = v->n;
	o->act = act;
	o->act_total = 0;
	return 0;
}

/*
 * The view closes.  A member that goes on alone from a view of others was
 * cut off (stopped, starved, excluded): the others go on ordering what it
 * holds unordered, or past a hole, and may put it anywhere after what it
 * delivered, its own casts among the rest.  So it delivers only its own,
 * in their order, after the last message it delivered numbered: every
 * message it delivered is before them everywhere (a member delivers a
 * place only when it knows every place before it), and nothing else it
 * delivers can be in another order elsewhere.  The rest are missing here,
 * as its "cut off alone" line says.
 */
static void
order_view(struct order *o, struct event *e)
{
	struct ord_queue held;
	struct ord_msg	*p;
	int		 in_view = 0, alone;
	uint32_t	 i;

	alone = o->have_view && o->view.n > 1 && e->view->n == 1 &&
	    e->view->members[0] == layer_self(o->l);
	if (o->have_view && o->proto->close != NULL)
		o->proto->close(o, e->view);
	order_heap_drain(o, alone, e->view);
	order_keep_pending(o);
	order_deliver_unordered(o, e->view);
	if (e->adopt_state && e->view_state_len >= 8)
		o->gseq = get64(e->view_state);
	put64(e->view_state, o->gseq);
	e->view_state_len = 8;
	o->conf = o->gseq;		/* places go on from there */
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
	while ((p = ordq_front(&held)) != NULL) {
		struct to_msg	*m = p->m;

		ordq_pop(&held);
		(void)order_pack_add(o, m);
	}
	free(held.q);
}

void
order_ctl_up(struct order *o, struct event *e)
{
	if (e->type == EV_FLUSH && o->have_view && !o->flushing)
		order_flush(o);
	else if (e->type == EV_VIEW)
		order_view(o, e);
	else if (e->type == EV_ACKED) {
		if (o->have_view && o->proto->acked != NULL)
			o->proto->acked(o);
		return;		/* ours alone */
	}
	layer_ctl_up(o->l, e);
}

/* --- role migration -------------------------------------------------- */

int
order_activity(struct order *o, int r, uint32_t n)
{
	int		 self = order_rank(o, layer_self(o->l)), best = -1;
	uint32_t	 i;

	if (o->act == NULL || r < 0 || (uint32_t)r >= o->view.n || self < 0)
		return -1;
	o->act[r] += n;
	o->act_total += n;
	if (o->act_total < ORD_MOVE_WINDOW)
		return -1;
	for (i = 0; i < o->view.n; i++)
		if ((int)i != self && (best < 0 || o->act[i] > o->act[best]))
			best = (int)i;
	if (best >= 0 && (uint64_t)o->act[best] < (uint64_t)ORD_MOVE_FACTOR *
	    o->act[self])
		best = -1;
	if (best >= 0 && (uint64_t)o->act[best] * 2 < o->act_total)
		best = -1;
	memset(o->act, 0, o->view.n * sizeof(*o->act));
	o->act_total = 0;
	return best;
}

/* --- layer entry points ---------------------------------------------- */

int
order_layer_down(struct layer *l, struct to_msg *m)
{
	return order_down(l->state, m);
}

void
order_layer_up(struct layer *l, struct to_msg *m)
{
	order_up(l->state, m);
}

void
order_layer_ctl_up(struct layer *l, struct event *e)
{
	order_ctl_up(l->state, e);
}

void
order_layer_timer(struct layer *l)
{
	order_timer(l->state);
}
