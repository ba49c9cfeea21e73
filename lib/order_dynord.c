/*
 * order_dynord.c: Dynord, total order by an orderer (paper section 3,
 * after ISIS): every member broadcasts its messages at once; one member,
 * the orderer, puts them in the order it receives them and broadcasts
 * that order in ORDER messages, piggybacked on its own messages when it
 * has some.  A member delivers a message once it has it and the order
 * names it, in that order.  The orderer delivers what it receives at
 * once (it decides the order), and orders its own messages as it sends
 * them.  Latency: one one-way delay for the message and one for the
 * ORDER that names it, plus the wait for that ORDER (the orderer sends
 * one at the end of each batch of input it handles).
 *
 * Every member keeps, per sender, the units it received that the order
 * has not reached and the places the order gave that their units have
 * not reached; an entry gives the next global positions to a unit (a
 * pack takes one per message), and a unit meeting its place goes to
 * order_place().  Entries apply in the orderer's stream order, whatever
 * the data does.
 *
 * Migration: when a member sent ORD_MOVE_FACTOR times as many messages as
 * the orderer over the last ORD_MOVE_WINDOW it ordered, and at least half
 * of them, the orderer appends a HANDOFF entry naming it and orders
 * nothing more.  Every member applies the entry at the same point of the
 * order: from then on it applies the entries of the new orderer (holding
 * any that arrive earlier).  The new orderer, once it applied the entry,
 * orders what it holds that no entry placed yet (its own undelivered
 * units first, then each member's by rank), then what it receives.
 *
 * Faults (section 3.1, order.c): at EV_FLUSH the orderer sends the
 * entries it applied but did not send yet, then orders no more.  At the
 * view, units whose place or whose data no survivor has are dropped
 * (their senders, if they survive, re-sent them unordered), and rank 0
 * orders.
 *
 * Confirmation (as in dynseq, order_dynseq.c): a place is delivered only
 * once the unit's sender holds the entry that gave it, so that a split
 * never has the orderer's side deliver by place what the sender's side,
 * without the entry, delivers by rank.  Every member keeps the entries
 * it applied with the stream number of the message that carried them
 * (the orderer learns its own from their loopback); the orderer asks NAK
 * what each sender holds of that stream and appends a CONFIRM entry
 * (every place up to pos is confirmed), which every member applies in
 * stream order, the orderer too (order_confirm).  A member that gets an
 * entry placing its own unit asks NAK for a prompt STATUS (EV_ACK_SOON).
 *
 * Guarantees (over MBRSHIP, NAK): one total order, per-sender FIFO, and
 * the rules of section 3.1 at view changes.
 *
 * Header, big-endian, then (DATA, ODATA) the unit (pack.c):
 *
 *	 0   1               9       13
 *	+---+---------------+
 *	| 1 |  sender seq   |  unit				DATA, anyone
 *	+---+---------------+-------+-----------+
 *	| 2 |  sender seq   |   n   | n entries |  unit	ODATA, the orderer
 *	+---+-------+-------+-------+-----------+
 *	| 3 |   n   | n entries |				ORDER, the orderer
 *	+---+-------+-----------+
 *
 *	entry:	+------+---------------+-------+
 *		| rank |  sender seq   | count |	13 bytes: the unit of
 *		+------+---------------+-------+	the member of that rank
 *		 0      1               9       13
 *		rank 0xff: HANDOFF, the orderer is now the member whose rank
 *		is in the sender seq field (count 0)
 *		rank 0xfe: CONFIRM, every place up to the position in the
 *		sender seq field is confirmed (count 0)
 *	(UNORDERED, type 0x80: see order.c)
 */
#include <stdlib.h>
#include <string.h>

#include "order.h"

#define DY_DATA		1
#define DY_ODATA	2
#define DY_ORDER	3
#define DY_DATA_HDR	9
#define DY_ODATA_HDR	13
#define DY_ORDER_HDR	5
#define DY_ENTRY	13
#define DY_HANDOFF	0xff
#define DY_CONFIRM	0xfe

struct dy_member {
	struct ord_queue data;		/* units not yet placed (sseq, count) */
	struct ord_queue place;		/* places without their unit yet */
	uint64_t	 placed;	/* last sender seq an entry placed */
};

struct dynord {
	struct order	 o;		/* first: the layer state is both */
	int		 running;	/* 0 during a flush */
	int		 ordering;	/* we are the orderer */
	int		 replaying;
	uint64_t	 orderer;	/* whose entries we apply */
	uint64_t	 next;		/* next global position */
	size_t		 room;		/* bytes of one datagram, ours */
	struct dy_member *mb;		/* by rank */
	uint32_t	 n;
	unsigned char	*out;		/* entries applied, not yet sent */
	size_t		 nout, capout;	/* in entries */
	struct ord_queue held;		/* entries of a later orderer */
	struct ord_queue unconf;	/* entries applied, not known
					 * confirmed: pos, count, sender id,
					 * stream and stream_seq (0: known) */
	uint64_t	 told;		/* orderer: the last CONFIRM */
};

static void	dy_apply(struct dynord *, uint64_t, const unsigned char *,
		    size_t, uint64_t);

static void
dy_reset(struct dynord *dy)
{
	uint32_t	 i;

	for (i = 0; i < dy->n; i++) {
		ordq_free(&dy->mb[i].data);
		ordq_free(&dy->mb[i].place);
	}
	free(dy->mb);
	dy->mb = NULL;
	dy->n = 0;
	dy->nout = 0;
	dy->told = 0;
	ordq_clear(&dy->held);
	ordq_clear(&dy->unconf);
}

/* Send the entries applied so far: in ORDER messages of a datagram each. */
static void
dy_send_out(struct dynord *dy)
{
	struct to_msg	*m;
	unsigned char	*h;
	size_t		 at = 0, k, per = (dy->room - DY_ORDER_HDR) / DY_ENTRY;

	while (at < dy->nout) {
		k = dy->nout - at < per ? dy->nout - at : per;
		if ((m = msg_new(MSG_HEADROOM, DY_ORDER_HDR + k * DY_ENTRY)) ==
		    NULL)
			break;
		h = msg_data(m);
		h[0] = DY_ORDER;
		put32(h + 1, (uint32_t)k);
		memcpy(h + DY_ORDER_HDR, dy->out + at * DY_ENTRY, k * DY_ENTRY);
		layer_stats(dy->o.l)->orders_sent++;
		(void)layer_down(dy->o.l, m);
		at += k;
	}
	dy->nout = 0;
}

static void
dy_put_entry(struct dynord *dy, int rank, uint64_t sseq, uint32_t count)
{
	unsigned char	*p;
	size_t		 cap;

	if (dy->nout == dy->capout) {
		cap = dy->capout ? dy->capout * 2 : 64;
		if ((p = reallocarray(dy->out, cap, DY_ENTRY)) == NULL) {
			dy_send_out(dy);	/* make room, keep order */
			if (dy->nout == dy->capout)
				return;
		} else {
			dy->out = p;
			dy->capout = cap;
		}
	}
	p = dy->out + dy->nout++ * DY_ENTRY;
	p[0] = (unsigned char)rank;
	put64(p + 1, sseq);
	put32(p + 9, count);
	order_wake_by(&dy->o, layer_now(dy->o.l));
}

/* Units of rank r that have their place go to be delivered. */
static void
dy_match(struct dynord *dy, int r)
{
	struct dy_member *mb = &dy->mb[r];
	struct ord_msg	 d, p;

	while (mb->data.n > 0 && mb->place.n > 0) {
		d = *ordq_front(&mb->data);
		p = *ordq_front(&mb->place);
		if (d.sseq < p.sseq) {
			ordq_pop(&mb->data);
			msg_free(d.m);		/* placed before: stale */
			continue;
		}
		if (d.sseq > p.sseq)
			break;
		ordq_pop(&mb->data);
		ordq_pop(&mb->place);
		order_place(&dy->o, d.m, d.sender, d.sseq, p.pos);
		if (dy->mb == NULL)
			return;
		mb = &dy->mb[r];
	}
}

/*
 * An entry from stream (message stream_seq there, ORD_UNSENT if ours not
 * yet looped back): the unit (r, sseq) of count messages is next in order.
 */
static void
dy_entry(struct dynord *dy, int r, uint64_t sseq, uint32_t count,
    uint64_t stream, uint64_t stream_seq)
{
	struct dy_member *mb = &dy->mb[r];
	struct ord_msg	 p = { .sender = dy->o.view.members[r], .sseq = sseq,
	    .pos = dy->next, .count = count }, c = p;

	c.stream = stream;
	c.stream_seq = p.sender == stream ? 0 : stream_seq;
	if (ordq_push(&dy->unconf, &c) == -1) {
		order_no_memory(&dy->o);
		return;
	}
	if (p.sender == layer_self(dy->o.l) && stream !=
	    layer_self(dy->o.l)) {
		struct event	 soon = { .type = EV_ACK_SOON };

		layer_ctl_down(dy->o.l, &soon);	/* the orderer waits */
	}
	dy->next += count ? count : 1;
	if (sseq + count - 1 > mb->placed)
		mb->placed = sseq + count - 1;
	if (ordq_push(&mb->place, &p) == 0)
		dy_match(dy, r);
}

static void	dy_handoff(struct dynord *, int);

/* As the orderer: the unit (r, sseq) is next. */
static void
dy_order(struct dynord *dy, int r, uint64_t sseq, uint32_t count)
{
	int		 to;

	dy_put_entry(dy, r, sseq, count);
	dy_entry(dy, r, sseq, count, layer_self(dy->o.l), ORD_UNSENT);
	to = order_activity(&dy->o, r, count);
	if (to >= 0 && dy->ordering)
		dy_handoff(dy, to);
}

/* We are the orderer now: order what no entry placed yet, our own
 * undelivered units first, then each member's by rank. */
static void
dy_become(struct dynord *dy)
{
	struct order	*o = &dy->o;
	struct ord_queue todo = { 0 };
	struct ord_msg	*e, t;
	uint32_t	 r;
	size_t		 i;
	int		 me = order_rank(o, layer_self(o->l));

	dy->ordering = 1;
	dy->told = o->conf;	/* the old orderer's entries: ours to confirm */
	order_wake_by(o, layer_now(o->l));
	for (i = 0; i < o->pending.n; i++) {
		e = ordq_at(&o->pending, i);
		t = (struct ord_msg){ .sender = (uint64_t)me, .sseq = e->sseq,
		    .count = e->count };
		if (e->sseq > dy->mb[me].placed)
			if (ordq_push(&todo, &t) == -1)
				order_no_memory(&dy->o);
	}
	for (r = 0; r < dy->n; r++)
		for (i = 0; (int)r != me && i < dy->mb[r].data.n; i++) {
			e = ordq_at(&dy->mb[r].data, i);
			t = (struct ord_msg){ .sender = r, .sseq = e->sseq,
			    .count = e->count };
			if (e->sseq > dy->mb[r].placed)
				if (ordq_push(&todo, &t) == -1)
					order_no_memory(&dy->o);
		}
	/* ordering delivers, which changes the queues: from a copy */
	while ((e = ordq_front(&todo)) != NULL && dy->ordering) {
		t = *e;
		ordq_pop(&todo);
		dy_order(dy, (int)t.sender, t.sseq, t.count);
	}
	ordq_free(&todo);
}

/* Take out the first held entries of the orderer, if any. */
static struct to_msg *
dy_take_held(struct dynord *dy)
{
	struct ord_queue rest = { 0 };
	struct ord_msg	*e, c;
	struct to_msg	*m = NULL;

	while ((e = ordq_front(&dy->held)) != NULL) {
		c = *e;
		ordq_pop(&dy->held);
		if (m == NULL && c.sender == dy->orderer)
			m = c.m;
		else if (ordq_push(&rest, &c) == -1)
			order_no_memory(&dy->o);
	}
	ordq_free(&dy->held);
	dy->held = rest;
	return m;
}

static void
dy_new_orderer(struct dynord *dy, int r)
{
	struct to_msg	*m;

	dy->orderer = dy->o.view.members[r];
	if (dy->orderer == layer_self(dy->o.l) && dy->running)
		dy_become(dy);
	if (dy->replaying)
		return;
	dy->replaying = 1;
	while ((m = dy_take_held(dy)) != NULL) {
		dy_apply(dy, dy->orderer, msg_data(m), msg_len(m),
		    m->meta.stream_seq);
		msg_free(m);
	}
	dy->replaying = 0;
}

/* As the orderer: the role goes to rank to. */
static void
dy_handoff(struct dynord *dy, int to)
{
	dy->ordering = 0;
	dy_put_entry(dy, DY_HANDOFF, (uint64_t)to, 0);
	layer_stats(dy->o.l)->role_moves++;
	dy_new_orderer(dy, to);
}

/* The stream says every place up to pos is confirmed. */
static void
dy_confirmed(struct dynord *dy, uint64_t pos)
{
	struct ord_msg	*e;

	while ((e = ordq_front(&dy->unconf)) != NULL && e->pos <= pos)
		ordq_pop(&dy->unconf);
	order_confirm(&dy->o, pos);
}

/*
 * As the orderer: mark the entries whose units' senders hold them, and
 * append a CONFIRM of the places confirmed in order, if that grew.
 */
static void
dy_confirm(struct dynord *dy)
{
	uint64_t	 upto;

	if (!dy->ordering || !dy->running)
		return;
	upto = order_confirmed(&dy->o, &dy->unconf, dy->told);
	if (upto > dy->told) {
		dy->told = upto;
		dy_put_entry(dy, DY_CONFIRM, upto, 0);
	}
}

/*
 * Our own entries came back in our stream as message seq: they are
 * applied already, but now we know where they went, and a CONFIRM of
 * ours counts only from here, as everyone else's does.
 */
static void
dy_looped(struct dynord *dy, const unsigned char *p, size_t len,
    uint64_t seq)
{
	struct ord_msg	*e;
	size_t		 i = 0;

	for (; len >= DY_ENTRY; p += DY_ENTRY, len -= DY_ENTRY) {
		if (p[0] == DY_CONFIRM) {
			dy_confirmed(dy, get64(p + 1));
			continue;
		}
		if (p[0] == DY_HANDOFF || (p[0] < dy->n &&
		    dy->o.view.members[p[0]] == layer_self(dy->o.l)))
			continue;	/* ours: confirmed at once */
		while ((e = ordq_at(&dy->unconf, i)) != NULL &&
		    e->stream_seq != ORD_UNSENT)
			i++;
		if (e != NULL)
			e->stream_seq = seq;
	}
	order_wake_by(&dy->o, layer_now(dy->o.l));
}

/* Apply the entries p[0..len) of src, carried by its message seq, or
 * hold them if src does not order yet.  Our own are applied already. */
static void
dy_apply(struct dynord *dy, uint64_t src, const unsigned char *p, size_t len,
    uint64_t seq)
{
	struct ord_msg	 e = { .sender = src, .stream_seq = seq };
	uint64_t	 sseq;
	uint32_t	 count;
	int		 r;

	if (src == layer_self(dy->o.l)) {
		dy_looped(dy, p, len, seq);
		return;
	}
	if (src != dy->orderer) {
		if ((e.m = msg_from(p, len)) != NULL) {
			e.m->meta.stream_seq = seq;
			if (ordq_push(&dy->held, &e) == -1)
				order_no_memory(&dy->o);
		}
		return;
	}
	for (; len >= DY_ENTRY; p += DY_ENTRY, len -= DY_ENTRY) {
		r = p[0];
		sseq = get64(p + 1);
		count = get32(p + 9);
		if (r == DY_HANDOFF && sseq < dy->n) {
			dy_new_orderer(dy, (int)sseq);
			/* the rest is the new orderer's to apply: never any */
			return;
		}
		if (r == DY_CONFIRM && count == 0) {
			dy_confirmed(dy, sseq);
			continue;
		}
		if ((uint32_t)r >= dy->n || count == 0) {
			layer_stats(dy->o.l)->dropped_bad++;
			return;
		}
		dy_entry(dy, r, sseq, count, src, seq);
	}
}

/* A unit of the member of rank r arrived. */
static void
dy_data(struct dynord *dy, int r, uint64_t sseq, struct to_msg *u)
{
	struct ord_msg	 d = { .sender = dy->o.view.members[r], .sseq = sseq,
	    .count = pack_count(u), .m = u };

	if (d.count == 0) {
		layer_stats(dy->o.l)->dropped_bad++;
		msg_free(u);
		return;
	}
	if (ordq_push(&dy->mb[r].data, &d) == -1)
		return;
	if (dy->ordering && dy->running && sseq > dy->mb[r].placed)
		dy_order(dy, r, sseq, d.count);
	dy_match(dy, r);
}

static void
dy_up(struct order *o, struct to_msg *m)
{
	struct dynord	*dy = (struct dynord *)o;
	const unsigned char *h = msg_data(m);
	size_t		 len = msg_len(m), n;
	int		 r = order_rank(o, m->meta.src);
	uint64_t	 sseq;

	if (r < 0 || m->meta.dst != 0 || dy->mb == NULL)
		goto bad;
	switch (h[0]) {
	case DY_DATA:
		if (len < DY_DATA_HDR + 1)
			goto bad;
		sseq = get64(h + 1);
		msg_pull(m, DY_DATA_HDR);
		dy_data(dy, r, sseq, m);
		return;
	case DY_ODATA:
		if (len < DY_ODATA_HDR ||
		    (n = get32(h + 9)) > (len - DY_ODATA_HDR) / DY_ENTRY ||
		    len < DY_ODATA_HDR + n * DY_ENTRY + 1)
			goto bad;
		sseq = get64(h + 1);
		dy_apply(dy, m->meta.src, h + DY_ODATA_HDR, n * DY_ENTRY,
		    m->meta.stream_seq);
		msg_pull(m, DY_ODATA_HDR + n * DY_ENTRY);
		dy_data(dy, r, sseq, m);
		return;
	case DY_ORDER:
		if (len < DY_ORDER_HDR ||
		    len != DY_ORDER_HDR + (size_t)get32(h + 1) * DY_ENTRY)
			goto bad;
		dy_apply(dy, m->meta.src, h + DY_ORDER_HDR,
		    len - DY_ORDER_HDR, m->meta.stream_seq);
		msg_free(m);
		return;
	}
bad:
	layer_stats(o->l)->dropped_bad++;
	msg_free(m);
}

static int
dy_cast(struct order *o, struct to_msg *u)
{
	struct dynord	*dy = (struct dynord *)o;
	unsigned char	*h;
	uint64_t	 sseq = u->meta.sender_seq;
	size_t		 hl;

	if (!dy->running) {
		msg_free(u);	/* in o->pending: it goes unordered */
		return 0;
	}
	if (dy->ordering)
		dy_order(dy, order_rank(o, layer_self(o->l)), sseq,
		    pack_count(u));
	hl = DY_ODATA_HDR + dy->nout * DY_ENTRY;
	if (dy->nout > 0 && hl + msg_len(u) > dy->room)
		dy_send_out(dy);	/* too big to ride along */
	if (dy->nout == 0) {
		if ((h = msg_push(u, DY_DATA_HDR)) == NULL) {
			msg_free(u);
			return -1;
		}
		h[0] = DY_DATA;
	} else {
		if ((h = order_push(o, u, hl)) == NULL) {
			msg_free(u);
			return -1;
		}
		h[0] = DY_ODATA;
		put32(h + 9, (uint32_t)dy->nout);
		memcpy(h + DY_ODATA_HDR, dy->out, dy->nout * DY_ENTRY);
		dy->nout = 0;
	}
	put64(h + 1, sseq);
	u->meta.dst = 0;
	u->meta.flags = 0;
	return layer_down(o->l, u);
}

static void
dy_timer(struct order *o)
{
	struct dynord	*dy = (struct dynord *)o;

	if (dy->running) {
		dy_confirm(dy);
		dy_send_out(dy);
	}
}

static void
dy_acked(struct order *o)
{
	struct dynord	*dy = (struct dynord *)o;

	if (dy->ordering && dy->unconf.n > 0)
		order_wake_by(o, layer_now(o->l));
}

static void
dy_flush(struct order *o)
{
	struct dynord	*dy = (struct dynord *)o;

	dy_send_out(dy);	/* what we applied, everyone applies */
	dy->running = 0;
	dy->ordering = 0;
}

static void
dy_view(struct order *o)
{
	struct dynord	*dy = (struct dynord *)o;

	dy_reset(dy);
	dy->running = 0;
	if ((dy->mb = calloc(o->view.n, sizeof(*dy->mb))) == NULL)
		return;			/* stays stopped */
	dy->n = o->view.n;
	dy->orderer = o->view.members[0];
	dy->ordering = dy->orderer == layer_self(o->l);
	dy->next = o->gseq + 1;
	dy->running = 1;
}

static const struct order_proto dynord_proto = {
	.cast = dy_cast,
	.up = dy_up,
	.flush = dy_flush,
	.view = dy_view,
	.timer = dy_timer,
	.acked = dy_acked,
};

static int
dy_init(struct layer *l)
{
	struct dynord	*dy;
	struct layer	*b;
	size_t		 below = 0, mtu = layer_transport(l)->mtu;

	if ((dy = order_layer_new(l, sizeof(*dy), &dynord_proto,
	    "off")) == NULL)
		return -1;
	for (b = l->below; b != NULL; b = b->below)
		below += b->ops->hdr_len;
	dy->room = mtu > below + 256 ? mtu - below : 256;
	dy->o.gated = 1;
	return 0;
}

static void
dy_fini(struct layer *l)
{
	struct dynord	*dy = l->state;

	if (dy == NULL)
		return;
	dy_reset(dy);
	ordq_free(&dy->held);
	ordq_free(&dy->unconf);
	order_fini(&dy->o);
	free(dy->out);
	free(dy);
	l->state = NULL;
}

const struct layer_ops dynord_ops = {
	.name = "dynord",
	.about = "everyone broadcasts at once, an orderer broadcasts the "
	    "order; the role moves to a much more active member",
	.hdr_len = ORD_UNORD_HDR + PACK_ONE_HDR,	/* > DY_ODATA_HDR */
	.init = dy_init,
	.fini = dy_fini,
	ORDER_LAYER_ENTRIES,
};
