/*
 * frag.c: the FRAG layer, between MBRSHIP and NAK (paper section 4: "the
 * FRAG layer fragments and reassembles large messages").
 *
 * Guarantees: a message of up to max_msg bytes handed down reaches the
 * layer above at each receiver whole, or not at all.  A message that fits
 * one datagram goes down as it is, behind a 1-byte header; a larger one is
 * cut into fragments sent down in order.  NAK below delivers each stream
 * (one broadcast stream per sender, one point-to-point stream per sender
 * and destination) reliably and in FIFO order, so the fragments of one
 * message arrive in order and are not interleaved with other messages of
 * the same stream; streams interleave with each other, so reassembly keeps
 * one partial message per stream, keyed by (meta.src, meta.dst != 0).
 *
 * Header, big-endian; 1 byte, or 5 on the first fragment of a message cut
 * into several:
 *
 *	 0   1               5
 *	+---+---------------+
 *	|flg| total length  |	total: only when flg has FIRST and not LAST
 *	+---+---------------+
 *
 *	flg bit 0 (0x01) FIRST	first fragment of a message
 *	    bit 1 (0x02) LAST	last fragment of a message
 *	    bit 2 (0x04) UNREL	an unreliable (control) message
 *	    bits 3-7		zero; anything else is dropped
 *
 * A whole message is FIRST|LAST; a cut one is FIRST (with its total
 * length), zero or more middle fragments (flg 0), and LAST.  The total
 * counts payload bytes only, at most max_msg and at most 2^32-1.  A
 * fragment goes down as a slice of the message (msg_slice: its header in
 * a part of its own, its payload shared with the message), so the bytes
 * are not copied on their way to the socket.  On the way up, while one
 * message of another member is in reassembly, FRAG tells the stack
 * where its next fragment goes (EV_LANDING), and group.c reads the
 * payload of a datagram with that header straight into place: the
 * fragment comes up as a message whose second part is already there.
 *
 * Unreliable messages (MSG_UNRELIABLE: membership control, unsequenced, may
 * be lost, duplicated or reordered) are never cut: down refuses one that
 * does not fit a datagram with EMSGSIZE, and up accepts only whole ones.
 * They carry UNREL in the header too, so that a receiver keeps them apart
 * from reassembly even if the layer below does not mark them on the way
 * up; up marks them MSG_UNRELIABLE.
 *
 * Broken or hostile input never crashes the layer nor grows its memory
 * without bound: a declared total above max_msg, fragments that overflow
 * the total, a LAST that leaves it short, a fragment with no FIRST before
 * it, a new FIRST while a message is in progress, and a cut unreliable
 * message are dropped together with the partial message of their stream,
 * and counted in dropped_bad.  At most FRAG_STREAMS_MAX partial messages
 * are held at once; EV_VIEW drops those of members not in the new view.
 *
 * Our own broadcasts come back to us through NAK's loopback, fragment by
 * fragment, in the order they went down.  A cut one is not put together
 * again from them: the layer keeps the whole message, one entry per cut
 * whose FIRST went down (a cut that failed after that keeps an empty
 * entry, so that entries and FIRSTs stay in step), and its LAST delivers
 * it, after the same checks of lengths as anyone's.
 *
 * Deviations from Horus FRAG: no per-fragment sequence numbers (NAK's FIFO
 * streams make them redundant), and the fragment size follows the
 * transport MTU less every header below, computed once at init.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

#define FRAG_FIRST	0x01
#define FRAG_LAST	0x02
#define FRAG_UNREL	0x04
#define FRAG_WHOLE	(FRAG_FIRST | FRAG_LAST)
#define FRAG_FLAGS	(FRAG_FIRST | FRAG_LAST | FRAG_UNREL)

#define FRAG_HDR	1		/* flags */
#define FRAG_HDR_FIRST	5		/* flags, total */
#define FRAG_TOTAL_MAX	0xffffffffu
#define FRAG_STREAMS_MAX 1024		/* partial messages held at once */

/* One message in reassembly. */
struct frag_rx {
	uint64_t	 src;
	int		 p2p;		/* meta.dst != 0 */
	int		 own;		/* m is whole already: count, copy nothing */
	struct to_msg	*m;		/* total bytes, filled up to got */
	size_t		 got;
};

struct frag {
	size_t		 limit;		/* largest payload of one datagram */
	struct frag_rx	*rx;
	size_t		 nrx, caprx;
	struct mq	 own;		/* our cut broadcasts; NULL: one that
					   failed */
	int		 own_off;	/* out of step (no memory): copy */
};

/*
 * max_msg bounds what the application casts (group.c enforces it exactly);
 * here a message also carries the headers of the layers above us.
 */
static size_t
frag_max_msg(const struct layer *l)
{
	size_t	 max = layer_config(l)->max_msg;

	if (max == 0)
		max = TO_MAX_MSG_DEFAULT;
	if (max > FRAG_TOTAL_MAX - MSG_HEADROOM)
		return FRAG_TOTAL_MAX;
	return max + MSG_HEADROOM;
}

static int
frag_init(struct layer *l)
{
	struct frag	*f;
	struct layer	*b;
	size_t		 below = 0, mtu = layer_transport(l)->mtu;

	for (b = l->below; b != NULL; b = b->below)
		below += b->ops->hdr_len;
	/* The first fragment must carry at least one byte of payload. */
	if (mtu <= below + FRAG_HDR_FIRST) {
		errno = EINVAL;
		return -1;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	f->limit = mtu - below - FRAG_HDR;
	l->state = f;
	return 0;
}

static void
frag_fini(struct layer *l)
{
	struct frag	*f = l->state;
	size_t		 i;

	if (f == NULL)
		return;
	for (i = 0; i < f->nrx; i++)
		msg_free(f->rx[i].m);
	free(f->rx);
	mq_clear(&f->own);
	free(f);
	l->state = NULL;
}

/* Send one fragment of m: len bytes from off, behind header flg; a
 * slice of m's bytes, not a copy. */
static int
frag_send_piece(struct layer *l, const struct to_msg *m, size_t off,
    size_t len, int flg)
{
	struct to_msg	*p;
	unsigned char	*h;
	size_t		 hl = flg == FRAG_FIRST ? FRAG_HDR_FIRST : FRAG_HDR;

	if ((p = msg_slice(m, off, len)) == NULL)
		return -1;
	p->meta.dst = m->meta.dst;
	p->meta.flags = m->meta.flags;
	if ((h = msg_push(p, hl)) == NULL) {
		msg_free(p);
		return -1;
	}
	h[0] = flg;
	if (flg == FRAG_FIRST)
		put32(h + 1, (uint32_t)msg_len(m));
	return layer_down(l, p);
}

/*
 * An entry for the cut broadcast m (NULL: it failed) whose FIRST went
 * down.  A clone, so that no other view of the buffer writes a header
 * into the bytes we deliver.  Without memory for the entry, entries and
 * FIRSTs could not be kept in step: our loopback is copied from then on.
 */
static void
frag_own_keep(struct frag *f, const struct to_msg *m)
{
	struct to_msg	*c;

	if (mq_reserve(&f->own) == 0) {
		c = m != NULL ? msg_clone(m) : NULL;
		mq_push(&f->own, c);
		return;
	}
	mq_clear(&f->own);
	f->own_off = 1;
}

/* Cut m, longer than one datagram holds, into fragments; m stays ours.
 * *begun: its FIRST went down. */
static int
frag_send_cut(struct layer *l, const struct to_msg *m, int *begun)
{
	struct frag	*f = l->state;
	size_t		 off, len, total = msg_len(m);
	int		 flg;

	*begun = 0;
	off = 0;
	len = f->limit - (FRAG_HDR_FIRST - FRAG_HDR);
	flg = FRAG_FIRST;
	while (off < total) {
		if (total - off <= len)
			len = total - off;
		if (off + len == total)
			flg = FRAG_LAST;
		if (frag_send_piece(l, m, off, len, flg) == -1)
			return -1;
		*begun = 1;
		off += len;
		len = f->limit;
		flg = 0;
	}
	return 0;
}

static int
frag_down(struct layer *l, struct to_msg *m)
{
	struct frag	*f = l->state;
	unsigned char	*h;
	int		 rv, saved, unrel, begun;

	unrel = (m->meta.flags & MSG_UNRELIABLE) != 0;
	if (msg_len(m) > frag_max_msg(l) ||
	    (unrel && msg_len(m) > f->limit)) {
		msg_free(m);
		errno = EMSGSIZE;
		return -1;
	}
	if (msg_len(m) <= f->limit) {
		if ((h = msg_push(m, FRAG_HDR)) == NULL) {
			msg_free(m);
			return -1;
		}
		h[0] = FRAG_WHOLE | (unrel ? FRAG_UNREL : 0);
		return layer_down(l, m);
	}
	rv = frag_send_cut(l, m, &begun);
	saved = errno;
	if (begun && m->meta.dst == 0 && !f->own_off)
		frag_own_keep(f, rv == 0 ? m : NULL);
	msg_free(m);
	errno = saved;
	return rv;
}

static struct frag_rx *
frag_rx_find(struct frag *f, uint64_t src, int p2p)
{
	size_t	 i;

	for (i = 0; i < f->nrx; i++)
		if (f->rx[i].src == src && f->rx[i].p2p == p2p)
			return &f->rx[i];
	return NULL;
}

/* Give up on a partial message; the last entry takes its place. */
static void
frag_rx_drop(struct frag *f, struct frag_rx *r)
{
	msg_free(r->m);
	*r = f->rx[--f->nrx];
}

static void
frag_bad(struct layer *l, struct to_msg *m)
{
	layer_stats(l)->dropped_bad++;
	msg_free(m);
}

/* A FIRST of a cut message: start reassembly in a buffer of its total,
 * or in *own, the message we kept when we cut it if it is ours (taken:
 * *own set to NULL). */
static void
frag_rx_start(struct layer *l, struct to_msg *m, int p2p,
    struct to_msg **own)
{
	struct frag	*f = l->state;
	struct frag_rx	*r, *rx;
	const unsigned char *h = msg_data(m);
	size_t		 total, len;

	if (msg_len(m) < FRAG_HDR_FIRST) {
		frag_bad(l, m);
		return;
	}
	total = get32(h + 1);
	len = msg_len(m) - FRAG_HDR_FIRST;
	/* a cut message has at least one byte after its first fragment */
	if (total > frag_max_msg(l) || len >= total ||
	    f->nrx == FRAG_STREAMS_MAX) {
		frag_bad(l, m);
		return;
	}
	if (f->nrx == f->caprx) {
		rx = reallocarray(f->rx, f->caprx ? f->caprx * 2 : 8,
		    sizeof(*rx));
		if (rx == NULL) {
			frag_bad(l, m);
			return;
		}
		f->rx = rx;
		f->caprx = f->caprx ? f->caprx * 2 : 8;
	}
	r = &f->rx[f->nrx];
	r->own = *own != NULL && msg_len(*own) == total;
	if (r->own) {
		r->m = *own;
		*own = NULL;
	} else if ((r->m = msg_new(MSG_HEADROOM, total)) == NULL) {
		frag_bad(l, m);
		return;
	}
	f->nrx++;
	r->src = m->meta.src;
	r->p2p = p2p;
	r->m->meta = m->meta;
	if (!r->own)
		msg_read(m, FRAG_HDR_FIRST, msg_data(r->m), len);
	r->got = len;
	msg_free(m);
}

/* m's payload was read straight into place (EV_LANDING). */
static int
frag_landed(const struct to_msg *m, const struct frag_rx *r)
{
	return m->ext != NULL && m->ext == r->m->buf && m->len == FRAG_HDR &&
	    m->ext_off == r->m->off + r->got;
}

/* A middle or LAST fragment: add it to its stream's partial message. */
static void
frag_rx_add(struct layer *l, struct to_msg *m, struct frag_rx *r, int last)
{
	struct frag	*f = l->state;
	struct to_msg	*whole;
	size_t		 len = msg_len(m) - FRAG_HDR, total;

	if (r == NULL) {
		frag_bad(l, m);
		return;
	}
	total = msg_len(r->m);
	/* a middle fragment leaves room for the LAST; a LAST fills it */
	if (last ? r->got + len != total : len >= total - r->got) {
		frag_rx_drop(f, r);
		frag_bad(l, m);
		return;
	}
	if (!r->own && !frag_landed(m, r))
		msg_read(m, FRAG_HDR, msg_data(r->m) + r->got, len);
	r->got += len;
	if (!last) {
		msg_free(m);
		return;
	}
	whole = r->m;
	whole->meta.stream_seq = m->meta.stream_seq;
	msg_free(m);
	r->m = NULL;
	frag_rx_drop(f, r);
	layer_up(l, whole);
}

static void
frag_up(struct layer *l, struct to_msg *m)
{
	struct frag	*f = l->state;
	struct frag_rx	*r;
	struct to_msg	*own = NULL;
	int		 flg, p2p = m->meta.dst != 0;

	if (msg_len(m) < FRAG_HDR || (msg_data(m)[0] & ~FRAG_FLAGS) != 0) {
		frag_bad(l, m);
		return;
	}
	flg = msg_data(m)[0];
	if ((flg & FRAG_UNREL) || (m->meta.flags & MSG_UNRELIABLE)) {
		/* apart from reassembly: it may come at any time */
		if ((flg & FRAG_WHOLE) != FRAG_WHOLE) {
			frag_bad(l, m);
			return;
		}
		m->meta.flags |= MSG_UNRELIABLE;
		msg_pull(m, FRAG_HDR);
		layer_up(l, m);
		return;
	}
	r = frag_rx_find(f, m->meta.src, p2p);
	if ((flg & FRAG_FIRST) && r != NULL) {
		/* the stream lost the rest of the message in progress */
		layer_stats(l)->dropped_bad++;
		frag_rx_drop(f, r);
		r = NULL;
	}
	switch (flg) {
	case FRAG_WHOLE:
		msg_pull(m, FRAG_HDR);
		layer_up(l, m);
		break;
	case FRAG_FIRST:
		/* every FIRST of ours takes its entry, used or not */
		if (!p2p && m->meta.src == layer_self(l) && !f->own_off)
			own = mq_pop(&f->own);
		frag_rx_start(l, m, p2p, &own);
		msg_free(own);
		break;
	case FRAG_LAST:
		frag_rx_add(l, m, r, 1);
		break;
	default:
		frag_rx_add(l, m, r, 0);
		break;
	}
}

/*
 * EV_LANDING: while one message of another member is in reassembly, its
 * next fragment (a middle one or its LAST) goes after what it holds.
 */
static void
frag_landing(struct frag *f, struct landing *ld)
{
	struct frag_rx	*r;
	unsigned char	*h, *mask;

	if (f->nrx != 1 || (r = f->rx)->own ||
	    (h = landing_push(ld, FRAG_HDR, &mask)) == NULL)
		return;
	h[0] = 0;
	mask[0] = FRAG_LAST;
	ld->src = r->src;
	ld->p2p = r->p2p;
	ld->msg = r->m;
	ld->off = r->got;
	ld->room = msg_len(r->m) - r->got;
	ld->layers |= LANDING_FRAG;
}

/* Members that left take their partial messages with them. */
static void
frag_ctl_down(struct layer *l, struct event *e)
{
	struct frag	*f = l->state;
	size_t		 i;
	uint32_t	 j;

	if (e->type == EV_LANDING)
		frag_landing(f, e->landing);
	if (e->type == EV_VIEW && e->view != NULL) {
		for (i = 0; i < f->nrx;) {
			for (j = 0; j < e->view->n; j++)
				if (e->view->members[j] == f->rx[i].src)
					break;
			if (j == e->view->n)
				frag_rx_drop(f, &f->rx[i]);
			else
				i++;
		}
	}
	layer_ctl_down(l, e);
}

static void
frag_timer(struct layer *l)
{
}

const struct layer_ops frag_ops = {
	.name = "frag",
	.about = "fragments messages larger than a datagram and reassembles them",
	.hdr_len = FRAG_HDR_FIRST,
	.init = frag_init,
	.fini = frag_fini,
	.down = frag_down,
	.up = frag_up,
	.ctl_down = frag_ctl_down,
	.ctl_up = layer_ctl_up,
	.timer = frag_timer,
};
