/*
 * order_dynseq.c: Dynseq, total order by a sequencer (paper section 3,
 * after Amoeba): a member sends its message point to point to the
 * sequencer, which broadcasts it to everyone; the order of the
 * sequencer's broadcast stream is the total order.  The sequencer's own
 * messages go straight into that stream.  Latency: two one-way delays.
 *
 * The sequencer is rank 0 of the view; at a view change the role goes to
 * the new rank 0 with no messages (section 3.1, in order.c).  NAK makes
 * the point-to-point and broadcast streams reliable and FIFO, so the
 * sequencer orders each sender's messages in the order it sent them.
 *
 * Deviation: the paper's migration of the role to a much more active
 * member comes with the other protocols.
 *
 * Header, big-endian:
 *	DATA	u8 type (1) u64 sender-seq			to the sequencer
 *	ORDERED	u8 type (2) u64 sender u64 sender-seq		from the sequencer
 *	(UNORDERED, type 0x80: see order.c)
 */
#include <stdlib.h>

#include "order.h"

#define DS_DATA		1
#define DS_ORDERED	2
#define DS_DATA_HDR	9
#define DS_ORDERED_HDR	17

struct dynseq {
	struct order	 o;		/* first: the layer state is both */
	uint64_t	 sequencer;
	int		 ordering;	/* 0 during a flush */
};

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

static int
ds_cast(struct order *o, struct to_msg *m)
{
	struct dynseq	*ds = (struct dynseq *)o;
	unsigned char	*h;

	if (ds->sequencer == layer_self(o->l))
		return ds_broadcast_ordered(o, m, layer_self(o->l),
		    m->meta.sender_seq);
	if ((h = msg_push(m, DS_DATA_HDR)) == NULL) {
		msg_free(m);
		return -1;
	}
	h[0] = DS_DATA;
	put64(h + 1, m->meta.sender_seq);
	m->meta.dst = ds->sequencer;
	return layer_down(o->l, m);
}

/* At the sequencer: a member's message, to be put in order. */
static void
ds_up_data(struct dynseq *ds, struct to_msg *m)
{
	uint64_t	 sseq;

	if (!ds->ordering || ds->sequencer != layer_self(ds->o.l) ||
	    m->meta.dst == 0 || order_rank(&ds->o, m->meta.src) == -1) {
		msg_free(m);	/* the sender re-sends it at the flush */
		return;
	}
	sseq = get64(msg_data(m) + 1);
	msg_pull(m, DS_DATA_HDR);
	(void)ds_broadcast_ordered(&ds->o, m, m->meta.src, sseq);
}

static void
ds_up(struct order *o, struct to_msg *m)
{
	struct dynseq	*ds = (struct dynseq *)o;
	const unsigned char *h = msg_data(m);
	uint64_t	 sender, sseq;

	if (msg_len(m) >= DS_DATA_HDR && h[0] == DS_DATA) {
		ds_up_data(ds, m);
		return;
	}
	if (msg_len(m) < DS_ORDERED_HDR || h[0] != DS_ORDERED ||
	    m->meta.src != ds->sequencer) {
		layer_stats(o->l)->dropped_bad++;
		msg_free(m);
		return;
	}
	sender = get64(h + 1);
	sseq = get64(h + 9);
	msg_pull(m, DS_ORDERED_HDR);
	order_deliver(o, m, sender, sseq);
}

static void
ds_flush(struct order *o)
{
	((struct dynseq *)o)->ordering = 0;
}

static void
ds_view(struct order *o)
{
	struct dynseq	*ds = (struct dynseq *)o;

	ds->sequencer = o->view.members[0];
	ds->ordering = 1;
}

static const struct order_proto dynseq_proto = {
	.cast = ds_cast,
	.up = ds_up,
	.flush = ds_flush,
	.view = ds_view,
};

static int
ds_init(struct layer *l)
{
	struct dynseq	*ds;

	if ((ds = calloc(1, sizeof(*ds))) == NULL)
		return -1;
	order_init(&ds->o, l, &dynseq_proto);
	l->state = ds;
	return 0;
}

static void
ds_fini(struct layer *l)
{
	struct dynseq	*ds = l->state;

	if (ds == NULL)
		return;
	order_fini(&ds->o);
	free(ds);
}

static int
ds_down(struct layer *l, struct to_msg *m)
{
	return order_down(l->state, m);
}

static void
ds_layer_up(struct layer *l, struct to_msg *m)
{
	order_up(l->state, m);
}

static void
ds_ctl_up(struct layer *l, struct event *e)
{
	order_ctl_up(l->state, e);
}

static void
ds_timer(struct layer *l)
{
}

const struct layer_ops dynseq_ops = {
	.name = "dynseq",
	.about = "sequencer: members send to rank 0, which broadcasts in order",
	.hdr_len = DS_ORDERED_HDR,
	.init = ds_init,
	.fini = ds_fini,
	.down = ds_down,
	.up = ds_layer_up,
	.ctl_down = layer_ctl_down,
	.ctl_up = ds_ctl_up,
	.timer = ds_timer,
};
