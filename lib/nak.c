/*
 * nak.c: the NAK layer: reliable FIFO streams over datagrams, with
 * negative acknowledgements, retransmission and stability detection
 * (paper section 4: "the NAK layer uses a negative acknowledgment
 * protocol to provide link reliability"; section 3.1: messages are kept
 * until stable, which Horus's STABLE layer detects by piggybacking
 * stability information on traffic and sending it alone when there is
 * none).
 *
 * Guarantees to the layer above:
 *  - every member has one broadcast stream (down with meta.dst 0),
 *    numbered 1, 2, ... for the life of the member, never reset by a view
 *    change, and one point-to-point stream to each member (meta.dst its
 *    id), numbered 1, 2, ... from each view it installs (below);
 *  - the streams of the view's members come up in order, each message
 *    once, without gaps, with meta.src the origin, meta.dst 0 or our id
 *    and meta.stream_seq its number; our own broadcasts and sends to
 *    ourselves come up the same way, from the timer, never inside down();
 *  - MSG_UNRELIABLE messages go to meta.dst (0: all) behind a 2-byte
 *    header, unnumbered and unkept, and come up as they arrive, from
 *    anyone, marked MSG_UNRELIABLE;
 *  - every member keeps every broadcast message it holds until every view
 *    member acknowledged it, so that any of them repairs it while the view
 *    changes; the origin keeps a point-to-point one until its destination
 *    acknowledged it or the view changes.
 *
 * The layer is four files sharing nak.h.  This one holds the streams and
 * the members, numbers and sends our messages, takes in DATA and UNREL
 * and delivers, and runs the timer.  nak_repair.c asks for what a stream
 * misses and answers such requests (NAK, REPAIR); nak_stable.c tells what
 * we hold (STATUS, and vectors riding on DATA), lets go of what everyone
 * holds and paces our broadcasts; nak_view.c follows the views and
 * obtains the cut of a view change.
 *
 * Reliable traffic from anyone but the view's members is dropped.
 * Before the first view reliable sends fail with ENOTCONN.
 *
 * Point-to-point streams restart at every view (nak_view.c), in the epoch
 * of the view id.  Two members need not agree on the views between them
 * (one may have dropped the other while the other never installed a view
 * without it), so a p2p DATA, REPAIR and NAK, and every ack vector entry
 * about a p2p stream, carry the epoch.  A receiver drops what comes from
 * an older epoch than the one it follows, and on a newer one (the sender
 * installed a view first) restarts its side at once and takes it:
 * MBRSHIP above holds messages of a view not yet installed.  A sender
 * ignores acks and NAKs of an epoch other than its own, so that a STATUS
 * of the old view never frees messages of the new.  Broadcast streams go
 * on across views.
 *
 * Header: byte 0 the type, byte 1 flags, then big-endian integers.  Here
 * DATA and UNREL; REPAIR and NAK in nak_repair.c, STATUS and the ack
 * vector a DATA may carry in nak_stable.c.
 *
 *	 0     1     2                       10                      18
 *	+-----+-----+-----------------------+
 *	|  1  |  0  |          seq          |  payload               DATA
 *	+-----+-----+-----------------------+-----------------------+
 *	|  1  | P2P |          seq          |         epoch         |
 *	+-----+-----+-----------------------+-----------------------+
 *	   then the payload                        p2p DATA (18 bytes)
 *	+-----+-----+--------------------------------------------------
 *	|  3  |  0  |  payload                                     UNREL
 *	+-----+-----+--------------------------------------------------
 *
 *	type:	1 DATA, 2 REPAIR, 3 UNREL, 4 NAK, 5 STATUS
 *	flg:	0x01 P2P: a point-to-point stream (DATA and REPAIR: the
 *		sender's to us; NAK: origin's to the requester), else
 *		origin's broadcasts; 0x02 ACKS (DATA only; on a p2p DATA
 *		the count follows the epoch).
 *
 * A DATA's stream is its sender's; the P2P flag must agree with the COM
 * destination.
 *
 * Deviations from Horus: stability rides in NAK rather than a STABLE
 * layer; every member, not only the origin, keeps broadcasts until stable
 * (so MBRSHIP's cut can be obtained from any holder); repairs are unicast;
 * point-to-point streams restart with every view.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nak.h"

/* --- rings and queues ------------------------------------------------ */

struct slot *
nak_ring_at(const struct ring *r, uint64_t seq)
{
	if (seq < r->lo || seq - r->lo >= r->cap)
		return NULL;
	return &r->s[seq & (r->cap - 1)];
}

static int
ring_grow(struct ring *r, uint64_t seq)
{
	struct slot	*ns;
	uint64_t	 need = seq - r->lo + 1, q;
	size_t		 cap = r->cap ? r->cap : 64, i;

	while (cap < need) {
		if (cap > SIZE_MAX / 2 / sizeof(*ns)) {
			errno = ENOMEM;
			return -1;
		}
		cap *= 2;
	}
	if ((ns = calloc(cap, sizeof(*ns))) == NULL)
		return -1;
	for (i = 0; i < r->cap; i++) {
		q = r->lo + i;
		ns[q & (cap - 1)] = r->s[q & (r->cap - 1)];
	}
	free(r->s);
	r->s = ns;
	r->cap = cap;
	return 0;
}

/* Keep m as number seq; -1 if it is below the ring, held, or no memory. */
static int
ring_put(struct ring *r, uint64_t seq, struct to_msg *m)
{
	struct slot	*sl;

	if (seq < r->lo)
		return -1;
	if (seq - r->lo >= r->cap && ring_grow(r, seq) == -1)
		return -1;
	sl = &r->s[seq & (r->cap - 1)];
	if (sl->m != NULL)
		return -1;
	sl->m = m;
	sl->rep_at = 0;
	sl->rep_to = 0;
	return 0;
}

/* Let go of every number up to upto. */
void
nak_ring_release(struct ring *r, uint64_t upto)
{
	struct slot	*sl;
	size_t		 i;

	if (upto < r->lo)
		return;
	if (upto - r->lo >= r->cap) {
		for (i = 0; i < r->cap; i++) {
			msg_free(r->s[i].m);
			r->s[i].m = NULL;
		}
		r->lo = upto + 1;
		return;
	}
	for (; r->lo <= upto; r->lo++) {
		sl = &r->s[r->lo & (r->cap - 1)];
		msg_free(sl->m);
		memset(sl, 0, sizeof(*sl));
	}
}

static void
ring_free(struct ring *r)
{
	size_t	 i;

	for (i = 0; i < r->cap; i++)
		msg_free(r->s[i].m);
	free(r->s);
	r->s = NULL;
	r->cap = 0;
}

/* Start p2p stream st again at 1 in epoch, letting go of what it held. */
void
nak_stream_restart(struct stream *st, uint64_t epoch)
{
	ring_free(&st->ring);
	memset(st, 0, sizeof(*st));
	st->epoch = epoch;
	st->next = st->ring.lo = 1;
}

/* --- members --------------------------------------------------------- */

/* A member whose broadcasts we follow after start. */
struct peer *
nak_peer_new(uint64_t id, uint64_t start)
{
	struct peer	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->id = id;
	p->idx = -1;
	p->bc.next = p->bc.ring.lo = start + 1;
	p->bc.high = p->bc.acked = start;
	p->rx.next = p->rx.ring.lo = 1;
	p->tx.next = p->tx.ring.lo = 1;
	return p;
}

void
nak_peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	ring_free(&p->bc.ring);
	ring_free(&p->rx.ring);
	ring_free(&p->tx.ring);
	free(p);
}

struct peer *
nak_find(const struct nak *s, uint64_t id)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (s->peers[i]->id == id)
			return s->peers[i];
	return NULL;
}

/* Free the members that left long enough ago, unless in a delivery. */
void
nak_bury(struct layer *l)
{
	struct nak	*s = l->state;
	struct peer	**pp, *p;

	if (s->depth > 0)
		return;
	for (pp = &s->gone; (p = *pp) != NULL;) {
		if (p->gone_until <= layer_now(l)) {
			*pp = p->next_gone;
			nak_peer_free(p);
		} else
			pp = &p->next_gone;
	}
}

/* --- sending --------------------------------------------------------- */

/* Put the DATA header on m and send it; a p2p one carries epoch. */
void
nak_send_data(struct layer *l, struct to_msg *m, uint64_t seq, int flg,
    uint64_t epoch)
{
	unsigned char	*h;
	size_t		 hl = NAK_HDR_DATA;

	if (flg & NAK_F_P2P)
		hl += NAK_EPOCH;
	if ((h = msg_push(m, hl)) == NULL) {
		msg_free(m);
		return;
	}
	h[0] = NAK_DATA;
	h[1] = flg;
	put64(h + 2, seq);
	if (flg & NAK_F_P2P)
		put64(h + NAK_HDR_DATA, epoch);
	(void)layer_down(l, m);
}

/* Queue m for delivery to ourselves from the timer (after mq_reserve). */
static void
nak_loop(struct layer *l, struct to_msg *m, uint64_t dst, uint64_t seq)
{
	struct nak	*s = l->state;

	memset(&m->meta, 0, sizeof(m->meta));
	m->meta.src = layer_self(l);
	m->meta.dst = dst;
	m->meta.stream_seq = seq;
	mq_push(&s->loop, m);
	layer_wake_by(l, layer_now(l));
}

static int
nak_cast(struct layer *l, struct to_msg *m)
{
	struct nak	*s = l->state;
	struct peer	*me = s->me;
	struct to_msg	*keep = NULL, *loop = NULL, *pb;
	uint64_t	 seq = me->bc.next;

	if (mq_reserve(&s->loop) == -1 || (keep = msg_clone(m)) == NULL ||
	    (loop = msg_clone(m)) == NULL ||
	    ring_put(&me->bc.ring, seq, keep) == -1) {
		msg_free(keep);
		msg_free(loop);
		msg_free(m);
		return -1;
	}
	s->cast_bytes += msg_len(m);
	nak_ring_at(&me->bc.ring, seq)->end = s->cast_bytes;
	me->bc.next++;
	if (s->n == 1)		/* nobody else to acknowledge it */
		nak_stabilize(s, me);
	nak_loop(l, loop, 0, seq);
	nak_touch(l);
	if (s->sent != seq - 1 || nak_flight(s) >= s->flight_max) {
		msg_free(m);	/* kept: nak_transmit sends it */
		return 0;
	}
	s->sent = seq;
	m->meta.stream_seq = seq;
	m->meta.flags = 0;
	if (nak_status_due(s, layer_now(l)) &&
	    (pb = nak_piggyback(l, m, seq)) != NULL) {
		msg_free(m);
		(void)layer_down(l, pb);
	} else
		nak_send_data(l, m, seq, 0, 0);
	return 0;
}

static int
nak_send_p2p(struct layer *l, struct to_msg *m)
{
	struct nak	*s = l->state;
	struct peer	*p;
	struct to_msg	*keep;
	uint64_t	 dst = m->meta.dst;

	if (dst == layer_self(l)) {
		if (mq_reserve(&s->loop) == -1) {
			msg_free(m);
			return -1;
		}
		nak_loop(l, m, dst, s->me->tx.next++);
		return 0;
	}
	if ((p = nak_find(s, dst)) == NULL) {
		msg_free(m);
		errno = EHOSTUNREACH;
		return -1;
	}
	if ((keep = msg_clone(m)) == NULL ||
	    ring_put(&p->tx.ring, p->tx.next, keep) == -1) {
		msg_free(keep);
		msg_free(m);
		return -1;
	}
	m->meta.stream_seq = p->tx.next++;
	m->meta.flags = 0;
	nak_touch(l);
	nak_send_data(l, m, m->meta.stream_seq, NAK_F_P2P, p->tx.epoch);
	return 0;
}

static int
nak_down(struct layer *l, struct to_msg *m)
{
	struct nak	*s = l->state;
	unsigned char	*h;

	if (m->meta.flags & MSG_UNRELIABLE) {
		if ((h = msg_push(m, NAK_HDR_UNREL)) == NULL) {
			msg_free(m);
			return -1;
		}
		h[0] = NAK_UNREL;
		h[1] = 0;
		return layer_down(l, m);
	}
	if (!s->viewed || s->me->idx < 0) {
		msg_free(m);
		errno = ENOTCONN;
		return -1;
	}
	if (msg_len(m) > s->room) {
		msg_free(m);
		errno = EMSGSIZE;
		return -1;
	}
	if (m->meta.dst == 0)
		return nak_cast(l, m);
	return nak_send_p2p(l, m);
}

/* --- receiving ------------------------------------------------------- */

/* Stream st misses something: ask after a while unless already due. */
static void
nak_gap(struct layer *l, struct stream *st)
{
	if (st->nak_at == 0) {
		st->nak_at = layer_now(l) + NAK_SETTLE;
		layer_wake_by(l, st->nak_at);
	}
}

/* The origin sent stream st up to seq. */
void
nak_raise(struct layer *l, struct stream *st, uint64_t seq)
{
	if (seq > st->high)
		st->high = seq;
	if (st->high >= st->next)
		nak_gap(l, st);
}

/* After deliveries on st: stop asking, ask for more, or keep asking. */
static void
nak_progress(struct layer *l, struct stream *st)
{
	if (st->next > st->high) {
		st->nak_at = st->nak_upto = 0;
	} else if (st->nak_upto != 0 && st->next > st->nak_upto) {
		st->nak_at = layer_now(l);
		layer_wake_by(l, st->nak_at);
	} else
		nak_gap(l, st);
}

/*
 * Deliver stream bc/p2p of p from next on: m (number next) if not NULL,
 * then what the ring holds.  Stops if p leaves the view meanwhile.
 */
static void
nak_deliver(struct layer *l, struct peer *p, int bc, struct to_msg *m)
{
	struct nak	*s = l->state;
	struct stream	*st = bc ? &p->bc : &p->rx;
	struct slot	*sl;
	struct to_msg	*keep;
	uint64_t	 was = st->next - 1;

	for (;; m = NULL) {
		if (m == NULL) {
			sl = nak_ring_at(&st->ring, st->next);
			if (sl == NULL || sl->m == NULL)
				break;
			if (!bc) {
				m = sl->m;
				sl->m = NULL;
			} else if ((m = msg_clone(sl->m)) == NULL)
				break;
		} else if (bc && (keep = msg_clone(m)) != NULL &&
		    ring_put(&st->ring, st->next, keep) == -1)
			msg_free(keep);
		memset(&m->meta, 0, sizeof(m->meta));
		m->meta.src = p->id;
		m->meta.dst = bc ? 0 : layer_self(l);
		m->meta.stream_seq = st->next++;
		if (!bc)
			nak_ring_release(&st->ring, st->next - 1);
		if (s->cutting)
			s->cut_check = 1;
		layer_up(l, m);
		if (p->left)
			return;
	}
	if (s->cutting && s->cut_check)
		layer_wake_by(l, layer_now(l));
	if (st->next - 1 != was) {
		nak_touch(l);
		if (bc && was == st->acked)
			nak_stabilize(s, p);
	}
	nak_progress(l, st);
}

/* A reliable message, number seq of a stream of p. */
void
nak_accept(struct layer *l, struct peer *p, int bc, uint64_t seq,
    struct to_msg *m)
{
	struct nak	*s = l->state;
	struct stream	*st = bc ? &p->bc : &p->rx;

	if (seq < st->next || seq - st->next >= NAK_WINDOW) {
		msg_free(m);
		return;
	}
	s->ack_bytes += msg_len(m);
	if (seq > st->high)
		st->high = seq;
	if (seq != st->next) {
		if (ring_put(&st->ring, seq, m) == -1)
			msg_free(m);
		nak_gap(l, st);
		return;
	}
	nak_deliver(l, p, bc, m);
	/* an eighth of a sender's flight in: acknowledge it now */
	if (s->ack_bytes >= s->flight_max / 8 && s->viewed && s->me->idx >= 0)
		nak_status(l);
}

/*
 * p sends its stream to us in epoch (a DATA, a REPAIR or a HIGH_P2P
 * entry): -1 if that epoch is past; if it is newer, p installed a view
 * before us, and we restart our side at it.
 */
int
nak_rx_epoch(struct peer *p, uint64_t epoch)
{
	if (epoch < p->rx.epoch)
		return -1;
	if (epoch > p->rx.epoch)
		nak_stream_restart(&p->rx, epoch);
	return 0;
}

static int
nak_in_data(struct layer *l, struct to_msg *m)
{
	struct nak	*s = l->state;
	const unsigned char *h = msg_data(m);
	struct peer	*p;
	size_t		 hl = NAK_HDR_DATA, vl = 0;
	uint64_t	 seq;
	int		 flg, p2p;

	if (msg_len(m) < NAK_HDR_DATA)
		return NAK_BAD;
	flg = h[1];
	seq = get64(h + 2);
	p2p = (flg & NAK_F_P2P) != 0;
	if (p2p)
		hl += NAK_EPOCH;
	if (seq == 0 || (flg & ~(NAK_F_P2P | NAK_F_ACKS)) != 0 ||
	    p2p != (m->meta.dst != 0) || msg_len(m) < hl ||
	    ((flg & NAK_F_ACKS) &&
	    (vl = nak_vector_len(h + hl, msg_len(m) - hl)) == 0))
		return NAK_BAD;
	if ((p = nak_find(s, m->meta.src)) == NULL || p == s->me)
		return NAK_FOREIGN;
	if (flg & NAK_F_ACKS)
		nak_apply(l, p, p2p ? 0 : seq, h + hl);
	if (p2p && nak_rx_epoch(p, get64(h + NAK_HDR_DATA)) == -1) {
		msg_free(m);		/* sent in a view we left */
		return 0;
	}
	(void)msg_pull(m, hl + vl);
	nak_accept(l, p, !p2p, seq, m);
	return 0;
}

static int
nak_in_unrel(struct layer *l, struct to_msg *m)
{
	(void)msg_pull(m, NAK_HDR_UNREL);
	m->meta.flags = MSG_UNRELIABLE;
	m->meta.stream_seq = 0;
	layer_up(l, m);
	return 0;
}

/* Each takes the message and returns 0, or leaves it: NAK_BAD, NAK_FOREIGN. */
static int (*const nak_in[NAK_NTYPES])(struct layer *, struct to_msg *) = {
	[NAK_DATA] = nak_in_data,
	[NAK_REPAIR] = nak_in_repair,
	[NAK_UNREL] = nak_in_unrel,
	[NAK_NAK] = nak_in_nak,
	[NAK_STATUS] = nak_in_status,
};

static void
nak_up(struct layer *l, struct to_msg *m)
{
	struct nak	*s = l->state;
	unsigned	 t;
	int		 rv;

	s->depth++;
	if (msg_len(m) < 2 || (t = msg_data(m)[0]) == 0 || t >= NAK_NTYPES)
		rv = NAK_BAD;
	else
		rv = nak_in[t](l, m);
	if (rv == NAK_BAD)
		layer_stats(l)->dropped_bad++;
	else if (rv == NAK_FOREIGN)
		layer_stats(l)->dropped_foreign++;
	if (rv != 0)
		msg_free(m);
	if (nak_waiting(s))
		nak_transmit(l);
	s->depth--;
	nak_bury(l);
}

/* --- the timer ------------------------------------------------------- */

/* Our own messages, those queued before this call. */
static void
nak_loopback(struct layer *l)
{
	struct nak	*s = l->state;
	struct to_msg	*m;
	size_t		 k = s->loop.n;

	while (k-- > 0 && (m = mq_pop(&s->loop)) != NULL) {
		if (m->meta.dst == 0)
			s->looped = m->meta.stream_seq;
		if (s->cutting)
			s->cut_check = 1;
		layer_up(l, m);
	}
}

static void
nak_rearm(struct layer *l)
{
	struct nak	*s = l->state;
	struct peer	*p;
	uint64_t	 now = layer_now(l), t = 0, x;
	size_t		 i;

	if (s->loop.n > 0 || (s->cutting && s->cut_check) ||
	    (nak_waiting(s) && nak_flight(s) < s->flight_max))
		t = now;
	if (s->viewed && s->me->idx >= 0) {
		x = s->status_at + (s->dirty ? NAK_STATUS_GAP : NAK_HEARTBEAT);
		t = t == 0 || x < t ? x : t;
	}
	for (i = 0; i < s->n; i++) {
		p = s->peers[i];
		if (p->bc.nak_at != 0 && (t == 0 || p->bc.nak_at < t))
			t = p->bc.nak_at;
		if (p->rx.nak_at != 0 && (t == 0 || p->rx.nak_at < t))
			t = p->rx.nak_at;
	}
	for (p = s->gone; p != NULL; p = p->next_gone)
		if (p->gone_until != 0 && (t == 0 || p->gone_until < t))
			t = p->gone_until;
	layer_wake(l, t != 0 && t < now ? now : t);
}

static void
nak_timer(struct layer *l)
{
	struct nak	*s = l->state;
	struct peer	*p;
	uint64_t	 now = layer_now(l);
	size_t		 i;

	s->depth++;
	nak_loopback(l);
	for (i = 0; i < s->n; i++) {
		if ((p = s->peers[i]) == s->me)
			continue;
		if (p->skipped) {
			/* what came after the jump may be waiting already */
			p->skipped = 0;
			nak_deliver(l, p, 1, NULL);
		}
		if (p->bc.nak_at != 0 && p->bc.nak_at <= now)
			nak_request(l, p, 1);
		if (p->rx.nak_at != 0 && p->rx.nak_at <= now)
			nak_request(l, p, 0);
	}
	if (nak_waiting(s))
		nak_transmit(l);
	if (nak_status_due(s, now))
		nak_status(l);
	if (s->cutting && s->cut_check)
		nak_cut_try(l);
	s->depth--;
	nak_bury(l);
	nak_rearm(l);
}

/* --- life ------------------------------------------------------------ */

static int
nak_init(struct layer *l)
{
	struct nak	*s;
	struct layer	*b;
	size_t		 below = 0, mtu = layer_transport(l)->mtu;

	for (b = l->below; b != NULL; b = b->below)
		below += b->ops->hdr_len;
	if (mtu < below + NAK_HDR_VEC + NAK_EPOCH +
	    NAK_MAX_RANGES * NAK_RANGE ||
	    mtu < below + NAK_HDR_VEC + 3 * NAK_ENTRY_P2P) {
		errno = EINVAL;
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	if ((s->me = nak_peer_new(layer_self(l), 0)) == NULL) {
		free(s);
		return -1;
	}
	s->below = below;
	s->room = mtu - below - NAK_HDR_MAX;
	/* half what a receiver's socket holds, so a burst never overruns it */
	s->flight_max = layer_transport(l)->rcvbuf / 2;
	if (s->flight_max < NAK_FLIGHT_MIN)
		s->flight_max = NAK_FLIGHT_MIN;
	l->state = s;
	return 0;
}

static void
nak_fini(struct layer *l)
{
	struct nak	*s = l->state;
	struct peer	*p;
	size_t		 i;

	if (s == NULL)
		return;
	while ((p = s->gone) != NULL) {
		s->gone = p->next_gone;
		nak_peer_free(p);
	}
	for (i = 0; i < s->n; i++)
		if (s->peers[i] != s->me)
			nak_peer_free(s->peers[i]);
	nak_peer_free(s->me);
	mq_clear(&s->loop);
	free(s->peers);
	free(s->ack);
	free(s);
	l->state = NULL;
}

const struct layer_ops nak_ops = {
	.name = "nak",
	.about = "reliable FIFO per sender: sequence numbers, NAKs, "
	    "retransmission, stability",
	.hdr_len = NAK_HDR_MAX,
	.init = nak_init,
	.fini = nak_fini,
	.down = nak_down,
	.up = nak_up,
	.ctl_down = nak_ctl_down,
	.ctl_up = layer_ctl_up,
	.timer = nak_timer,
};
