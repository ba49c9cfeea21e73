/*
 * order_dynseq.c: Dynseq and Dysfc, total order by a sequencer (paper
 * section 3, after Amoeba): a member sends its message point to point to
 * the sequencer, which broadcasts it to everyone; the order of the
 * sequencer's broadcast stream is the total order.  The sequencer's own
 * messages go straight into that stream.  Latency: two one-way delays
 * (one for the sequencer's own).  Dysfc is Dynseq whose members pack
 * what they cast every l = 1 ms (order.c; to_config.pack overrides).
 *
 * The sequencer is rank 0 of the view; at a view change the role goes to
 * the new rank 0 with no messages (section 3.1, in order.c).  NAK makes
 * the point-to-point and broadcast streams reliable and FIFO, so the
 * sequencer orders each sender's units in the order it sent them.
 *
 * Migration ("whenever a process other than the sequencer becomes very
 * active, the job of being the sequencer is passed to this process"):
 * when a member sent ORD_MOVE_FACTOR times as many messages as the
 * sequencer over the last ORD_MOVE_WINDOW it ordered, and at least half
 * of them, the sequencer broadcasts MOVE(new) in its ordered stream and
 * orders nothing more.  Every member applies the MOVE at the same point
 * of the total order: from then on it delivers ORDERED from the new
 * sequencer (holding any that arrive earlier), counts one more epoch, and
 * re-sends to the new sequencer every own unit not yet delivered: those
 * the old one ordered came before the MOVE in its stream and are
 * delivered already, so exactly the ones it never ordered go again.  The
 * new sequencer starts ordering once it applied the MOVE: first its own
 * undelivered units, then DATA members sent for its epoch (held if they
 * came first).  DATA carries the epoch its sender addressed; DATA for an
 * older epoch, or reaching a sequencer that moved on, is dropped: its
 * sender re-sends it when it applies the MOVE.  A view change ends all
 * of this: undelivered units go out unordered (order.c), ORDERED held
 * behind a MOVE that no survivor has are dropped with it.
 *
 * Confirmation.  The order is made at the sequencer, apart from the
 * messages: a member's unit that the sequencer ordered may, if the group
 * splits before the member got its ORDERED, be delivered on the member's
 * side by the flush, unordered, by rank, among others that the
 * sequencer's side delivered in another order (soak seeds 1035, 1116).
 * So a unit is delivered only once its sender holds its ORDERED
 * ("confirmed"): then the sender's side obtains it in the flush and
 * delivers it by its place, as everyone does.  The sequencer learns that
 * from NAK's acknowledgements (EV_ACKED, EV_ACK_OF; its own units are
 * confirmed at once) and says how many units of the view are confirmed,
 * in order, in a CONFIRM in its stream, which every member obeys: so the
 * members of a side, which obtain the same prefix of that stream, agree
 * on what was confirmed.  When the view closes, units past the last
 * CONFIRM are delivered, by place, if their sender goes on with us, else
 * dropped: its side has them.  After a MOVE the new sequencer confirms
 * the old one's units as well (every member keeps the queue).  The cost
 * is a CONFIRM, one more one-way delay, and for a unit of a member other
 * than the sequencer, its acknowledgement (NAK's STATUS).
 *
 * Guarantees (over MBRSHIP, NAK): one total order, per-sender FIFO, and
 * the rules of section 3.1 at view changes.
 *
 * Header, big-endian, then (DATA, ORDERED) the unit (pack.c):
 *
 *	 0   1       5               13
 *	+---+-------+---------------+
 *	| 1 | epoch |  sender seq   |  unit		DATA, to the sequencer
 *	+---+-------+-------+-------+-------+
 *	| 2 |    sender     |  sender seq   |  unit	ORDERED, its broadcast
 *	+---+---------------+---------------+
 *	| 3 | new sequencer |			MOVE, its broadcast
 *	+---+---------------+
 *	| 4 |   confirmed   |			CONFIRM, its broadcast:
 *	+---+---------------+			units of the view so far
 *	 0   1               9               17
 *
 *	(UNORDERED, type 0x80: see order.c)
 */
#include <stdlib.h>

#include "order.h"

#define DS_DATA		1
#define DS_ORDERED	2
#define DS_MOVE		3
#define DS_CONFIRM	4
#define DS_DATA_HDR	13
#define DS_ORDERED_HDR	17
#define DS_MOVE_HDR	9
#define DS_CONFIRM_HDR	9

struct dynseq {
	struct order	 o;		/* first: the layer state is both */
	uint64_t	 seq;		/* whose ORDERED we deliver */
	uint32_t	 epoch;		/* MOVEs applied in this view */
	uint64_t	 send_to;	/* where our DATA goes */
	uint32_t	 send_epoch;	/* the epoch we address there */
	int		 ordering;	/* we are the sequencer, not moved on */
	int		 running;	/* 0 during a flush */
	int		 replaying;
	struct ord_queue held_data;	/* DATA for a later epoch (pos: it) */
	struct ord_queue held_ord;	/* from a later sequencer (sender: it) */
	/* confirmation */
	struct ord_queue waiting;	/* ORDERED units not yet delivered:
					 * pos their index in the view,
					 * stream_seq 0 once confirmed */
	uint64_t	 idx;		/* ORDERED units of the view so far */
	uint64_t	 conf;		/* confirmed, as the stream says */
	uint64_t	 told;		/* sequencer: the most it said */
};

static void	ds_up_ordered(struct dynseq *, struct to_msg *);

static int
ds_broadcast_ordered(struct order *o, struct to_msg *m, uint64_t sender,
    uint64_t sseq)
{
	unsigned char	*h;

	if ((h = msg_push(m, DS_ORDERED_HDR)) == NULL) {
		msg_free(m);
		return -1;
	}
	h[0] = DS_ORDERED;
	put64(h + 1, sender);
	put64(h + 9, sseq);
	m->meta.dst = 0;
	m->meta.flags = 0;
	return layer_down(o->l, m);
}

static void
ds_move(struct dynseq *ds, uint64_t to)
{
	struct to_msg	*m;
	unsigned char	*h;

	if ((m = msg_new(MSG_HEADROOM, DS_MOVE_HDR)) == NULL)
		return;
	h = msg_data(m);
	h[0] = DS_MOVE;
	put64(h + 1, to);
	ds->ordering = 0;
	ds->send_to = to;
	ds->send_epoch = ds->epoch + 1;
	layer_stats(ds->o.l)->role_moves++;
	(void)layer_down(ds->o.l, m);
}

/* As the sequencer: put unit m of sender in the order. */
static int
ds_order(struct dynseq *ds, struct to_msg *m, uint64_t sender, uint64_t sseq)
{
	struct order	*o = &ds->o;
	uint32_t	 n = pack_count(m);
	int		 rv, to;

	rv = ds_broadcast_ordered(o, m, sender, sseq);
	to = order_activity(o, order_rank(o, sender), n);
	if (to >= 0 && ds->ordering)
		ds_move(ds, o->view.members[to]);
	return rv;
}

static int
ds_cast(struct order *o, struct to_msg *m)
{
	struct dynseq	*ds = (struct dynseq *)o;
	unsigned char	*h;

	if (!ds->running) {
		msg_free(m);	/* in o->pending: it goes unordered */
		return 0;
	}
	if (ds->ordering)
		return ds_order(ds, m, layer_self(o->l), m->meta.sender_seq);
	if ((h = msg_push(m, DS_DATA_HDR)) == NULL) {
		msg_free(m);
		return -1;
	}
	h[0] = DS_DATA;
	put32(h + 1, ds->send_epoch);
	put64(h + 5, m->meta.sender_seq);
	m->meta.dst = ds->send_to;
	return layer_down(o->l, m);
}

/* At the sequencer of its epoch: a member's unit, to be put in order. */
static void
ds_order_data(struct dynseq *ds, struct to_msg *m)
{
	uint64_t	 sseq = get64(msg_data(m) + 5);

	msg_pull(m, DS_DATA_HDR);
	(void)ds_order(ds, m, m->meta.src, sseq);
}

static void
ds_up_data(struct dynseq *ds, struct to_msg *m)
{
	struct ord_msg	 e;
	uint32_t	 epoch = get32(msg_data(m) + 1);

	if (!ds->running || m->meta.dst == 0 ||
	    order_rank(&ds->o, m->meta.src) == -1 || epoch < ds->epoch) {
		msg_free(m);	/* the sender re-sends it */
		return;
	}
	if (epoch > ds->epoch) {
		e = (struct ord_msg){ .sender = m->meta.src, .pos = epoch,
		    .m = m };
		if (ordq_push(&ds->held_data, &e) == -1)
			order_no_memory(&ds->o);
	} else if (ds->ordering)
		ds_order_data(ds, m);
	else
		msg_free(m);
}

/* Our epoch advanced: DATA held for it is ours to order now. */
static void
ds_release_data(struct dynseq *ds)
{
	struct ord_queue keep = { 0 };
	struct ord_msg	*e, c;

	while ((e = ordq_front(&ds->held_data)) != NULL) {
		c = *e;
		ordq_pop(&ds->held_data);
		if (c.pos > ds->epoch) {
			if (ordq_push(&keep, &c) == -1)
				order_no_memory(&ds->o);
		} else if (c.pos == ds->epoch && ds->ordering && ds->running)
			ds_order_data(ds, c.m);
		else
			msg_free(c.m);
	}
	ordq_free(&ds->held_data);
	ds->held_data = keep;
}

/* Take out the first held message from the sequencer, if any. */
static struct to_msg *
ds_take_held(struct dynseq *ds)
{
	struct ord_queue rest = { 0 };
	struct ord_msg	*e, c;
	struct to_msg	*m = NULL;

	while ((e = ordq_front(&ds->held_ord)) != NULL) {
		c = *e;
		ordq_pop(&ds->held_ord);
		if (m == NULL && c.sender == ds->seq)
			m = c.m;
		else if (ordq_push(&rest, &c) == -1)
			order_no_memory(&ds->o);
	}
	ordq_free(&ds->held_ord);
	ds->held_ord = rest;
	return m;
}

/* ORDERED and MOVE that came from the sequencer before its MOVE did. */
static void
ds_replay(struct dynseq *ds)
{
	struct to_msg	*m;

	if (ds->replaying)
		return;
	ds->replaying = 1;
	while ((m = ds_take_held(ds)) != NULL)
		ds_up_ordered(ds, m);
	ds->replaying = 0;
}

static void
ds_apply_move(struct dynseq *ds, uint64_t to)
{
	struct order	*o = &ds->o;

	if (order_rank(o, to) == -1) {
		layer_stats(o->l)->dropped_bad++;
		return;
	}
	ds->seq = to;
	ds->epoch++;
	if (ds->running && to == layer_self(o->l)) {
		ds->ordering = 1;
		ds->send_to = to;
		ds->send_epoch = ds->epoch;
		ds->told = ds->conf;	/* the old one's units: ours now */
		order_wake(o, layer_now(o->l));
		order_recast(o);
	} else if (ds->running && ds->send_epoch < ds->epoch) {
		ds->send_to = to;
		ds->send_epoch = ds->epoch;
		order_recast(o);
	}
	ds_release_data(ds);
	ds_replay(ds);
}

/* Deliver the waiting units the stream confirmed. */
static void
ds_release(struct dynseq *ds)
{
	struct ord_msg	*e, c;

	while ((e = ordq_front(&ds->waiting)) != NULL && e->pos <= ds->conf) {
		c = *e;
		ordq_pop(&ds->waiting);
		order_deliver(&ds->o, c.m, c.sender, c.sseq);
	}
}

/*
 * As the sequencer: mark the units whose senders hold them, and say how
 * many of the view's units are confirmed, in order, if that grew.
 */
static void
ds_confirm(struct dynseq *ds)
{
	struct to_msg	*m;
	uint64_t	 upto;

	if (!ds->ordering || !ds->running)
		return;
	upto = order_confirmed(&ds->o, &ds->waiting, ds->conf);
	if (upto <= ds->told ||
	    (m = msg_new(MSG_HEADROOM, DS_CONFIRM_HDR)) == NULL)
		return;
	msg_data(m)[0] = DS_CONFIRM;
	put64(msg_data(m) + 1, upto);
	ds->told = upto;
	(void)layer_down(ds->o.l, m);
}

static void
ds_timer(struct order *o)
{
	ds_confirm((struct dynseq *)o);
}

static void
ds_acked(struct order *o)
{
	struct dynseq	*ds = (struct dynseq *)o;

	if (ds->ordering && ds->told < ds->idx)
		order_wake(o, layer_now(o->l));
}

/*
 * The view closes: units past the last CONFIRM go by place if their
 * sender goes on with us, else its side has them (see above).  The two
 * sides deliver different ones there, so with global seq 0 (order.c).
 */
static void
ds_close(struct order *o, const struct to_view *next)
{
	struct dynseq	*ds = (struct dynseq *)o;
	struct ord_msg	*e, c;

	o->unnumbered = 1;
	while ((e = ordq_front(&ds->waiting)) != NULL) {
		c = *e;
		ordq_pop(&ds->waiting);
		if (order_in(next, c.sender))
			order_deliver(o, c.m, c.sender, c.sseq);
		else {
			layer_stats(o->l)->departed++;
			msg_free(c.m);
		}
	}
	o->unnumbered = 0;
}

/* ORDERED, MOVE or CONFIRM from the sequencer whose stream we deliver. */
static void
ds_up_ordered(struct dynseq *ds, struct to_msg *m)
{
	const unsigned char *h = msg_data(m);
	uint64_t	 sender, sseq;
	struct ord_msg	 e;

	if (h[0] == DS_MOVE) {
		sender = get64(h + 1);
		msg_free(m);
		ds_apply_move(ds, sender);
		return;
	}
	if (h[0] == DS_CONFIRM) {
		if (get64(h + 1) > ds->conf && get64(h + 1) <= ds->idx)
			ds->conf = get64(h + 1);
		msg_free(m);
		ds_release(ds);
		return;
	}
	sender = get64(h + 1);
	sseq = get64(h + 9);
	msg_pull(m, DS_ORDERED_HDR);
	e = (struct ord_msg){ .sender = sender, .sseq = sseq, .pos = ++ds->idx,
	    .m = m, .stream = m->meta.src, .stream_seq = sender ==
	    m->meta.src ? 0 : m->meta.stream_seq };
	if (ordq_push(&ds->waiting, &e) == -1) {
		order_no_memory(&ds->o);
		return;
	}
	if (ds->ordering)
		order_wake(&ds->o, layer_now(ds->o.l));
	else if (sender == layer_self(ds->o.l)) {
		struct event	 soon = { .type = EV_ACK_SOON };

		layer_ctl_down(ds->o.l, &soon);	/* the sequencer waits */
	}
}

static void
ds_up(struct order *o, struct to_msg *m)
{
	struct dynseq	*ds = (struct dynseq *)o;
	const unsigned char *h = msg_data(m);
	size_t		 len = msg_len(m);
	struct ord_msg	 e;

	if (len >= DS_DATA_HDR + 1 && h[0] == DS_DATA) {
		ds_up_data(ds, m);
		return;
	}
	if (!((len >= DS_ORDERED_HDR + 1 && h[0] == DS_ORDERED) ||
	    (len == DS_MOVE_HDR && h[0] == DS_MOVE) ||
	    (len == DS_CONFIRM_HDR && h[0] == DS_CONFIRM)) ||
	    m->meta.dst != 0 ||
	    order_rank(o, m->meta.src) == -1) {
		layer_stats(o->l)->dropped_bad++;
		msg_free(m);
		return;
	}
	if (m->meta.src == ds->seq) {
		ds_up_ordered(ds, m);
		return;
	}
	/* a later sequencer, whose MOVE we have yet to apply */
	e = (struct ord_msg){ .sender = m->meta.src, .m = m };
	if (ordq_push(&ds->held_ord, &e) == -1)
		order_no_memory(&ds->o);
}

static void
ds_flush(struct order *o)
{
	struct dynseq	*ds = (struct dynseq *)o;

	ds->running = 0;
	ds->ordering = 0;
	ordq_clear(&ds->held_data);
}

static void
ds_view(struct order *o)
{
	struct dynseq	*ds = (struct dynseq *)o;

	ordq_clear(&ds->held_data);
	ordq_clear(&ds->held_ord);
	ordq_clear(&ds->waiting);
	ds->idx = ds->conf = ds->told = 0;
	ds->seq = ds->send_to = o->view.members[0];
	ds->epoch = ds->send_epoch = 0;
	ds->ordering = ds->seq == layer_self(o->l);
	ds->running = 1;
}

static const struct order_proto dynseq_proto = {
	.cast = ds_cast,
	.up = ds_up,
	.flush = ds_flush,
	.view = ds_view,
	.timer = ds_timer,
	.close = ds_close,
	.acked = ds_acked,
};

static int
ds_init_as(struct layer *l, const char *pack)
{
	return order_layer_new(l, sizeof(struct dynseq), &dynseq_proto,
	    pack) == NULL ? -1 : 0;
}

static int
ds_init(struct layer *l)
{
	return ds_init_as(l, "off");
}

static int
dysfc_init(struct layer *l)
{
	return ds_init_as(l, "1ms");
}

static void
ds_fini(struct layer *l)
{
	struct dynseq	*ds = l->state;

	if (ds == NULL)
		return;
	order_fini(&ds->o);
	ordq_free(&ds->held_data);
	ordq_free(&ds->held_ord);
	ordq_free(&ds->waiting);
	free(ds);
	l->state = NULL;
}

const struct layer_ops dynseq_ops = {
	.name = "dynseq",
	.about = "sequencer: members send to it, it broadcasts in order; "
	    "the role moves to a much more active member",
	.hdr_len = DS_ORDERED_HDR + PACK_ONE_HDR,
	.init = ds_init,
	.fini = ds_fini,
	ORDER_LAYER_ENTRIES,
};

const struct layer_ops dysfc_ops = {
	.name = "dysfc",
	.about = "dynseq whose members send one pack of their messages "
	    "every 1 ms",
	.hdr_len = DS_ORDERED_HDR + PACK_ONE_HDR,
	.init = dysfc_init,
	.fini = ds_fini,
	ORDER_LAYER_ENTRIES,
};
