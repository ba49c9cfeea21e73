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
 * Views: EV_VIEW down lists the members; for one whose broadcast stream
 * we do not follow yet, delivery starts after its ev->cut entry (or at 1).
 * The state of members that left goes, except that their kept broadcasts
 * still answer NAKs for NAK_LIMBO (members that install the view later may
 * still be obtaining the cut from us).  Reliable traffic from anyone else
 * is dropped.  Before the first view reliable sends fail with ENOTCONN.
 *
 * A broadcast stream of a member that stays jumps forward to the start the
 * view gives, past what it sent in views we were not in.
 *
 * Point-to-point streams restart at every view: at EV_VIEW down each one,
 * to and from every member, starts again at 1 in the epoch of the view id;
 * what it held is let go (a message in flight is lost: the layers above
 * send again at the flush what matters, paper section 3.1).  Two members
 * need not agree on the views between them (one may have dropped the
 * other while the other never installed a view without it), so a p2p
 * DATA, REPAIR and NAK, and every ack vector entry about a p2p stream,
 * carry the epoch.  A receiver drops what comes from an older epoch than
 * the one it follows, and on a newer one (the sender installed a view
 * first) restarts its side at once and takes it: MBRSHIP above holds
 * messages of a view not yet installed.  A sender ignores acks and NAKs
 * of an epoch other than its own, so that a STATUS of the old view never
 * frees messages of the new.  Broadcast streams go on across views.
 *
 * Repair: a gap (a later number, or a STATUS telling of one) is asked for
 * after NAK_SETTLE, from the origin (or, while an EV_CUT is pending, from
 * the member it names), again every NAK_RETRY, and at once when all that
 * was asked arrived.  The repairer answers from what it keeps, at most
 * NAK_MAX_SERVE messages a request, each not twice to the same member
 * within NAK_DAMP.  Everyone sends a STATUS (its broadcast high and its
 * ack vector) at most every NAK_STATUS_GAP while something changed, else
 * every NAK_HEARTBEAT; a lost last message shows there.  When a STATUS is
 * due as a broadcast goes down and it fits, the vector rides on it.
 *
 * Pacing: our broadcasts are numbered, kept and looped back at once, but
 * sent only while fewer than flight_max bytes of them (half the receive
 * buffer the kernel granted) are unacknowledged by some member; the rest
 * go as acknowledgements make room.  A STATUS tells of what was sent, so
 * nobody asks for what has not had its turn, and EV_BACKLOG answers
 * EV_BACKLOG_FULL while any waits, which stops the application's casts
 * (to_can_cast).  A receiver sends its STATUS at once when an eighth of
 * flight_max came in since its last.  So a burst of 16 MiB no longer
 * overruns 4 MiB socket buffers into hundreds of repairs.
 *
 * Header: byte 0 the type, byte 1 flags, then big-endian integers.
 *
 *	 0     1     2                       10    12                18
 *	+-----+-----+-----------------------+
 *	|  1  |  0  |          seq          |  payload               DATA
 *	+-----+-----+-----------------------+-----------------------+
 *	|  1  | P2P |          seq          |         epoch         |
 *	+-----+-----+-----------------------+-----------------------+
 *	   then the payload                        p2p DATA (18 bytes)
 *	+-----+-----+-----------------------+-----+--------------------
 *	|  1  | ACKS|          seq          |  n  |  n entries, payload
 *	+-----+-----+-----------------------+-----+-----------------+
 *	|  2  |  0  |        origin         |          seq          |
 *	+-----+-----+-----------------------+-----------------------+
 *	   then the payload                          REPAIR (18 bytes)
 *	+-----+-----+-----------------------+-----------------------+
 *	|  2  | P2P |        origin         |          seq          |
 *	+-----+-----+-----------------------+-----------------------+
 *	|         epoch         |  payload       p2p REPAIR (26 bytes)
 *	+-----+-----+-----------------------+-----+--------------------
 *	|  3  |  0  |  payload                                     UNREL
 *	+-----+-----+-----------------------+-----+--------------------
 *	|  4  |  0  |        origin         |  n  |  n ranges        NAK
 *	+-----+-----+-----------------------+-----+-----------------+
 *	|  4  | P2P |        origin         |  n  |      epoch      |
 *	+-----+-----+-----------------------+-----+-----------------+
 *	   then n ranges                                     p2p NAK
 *	+-----+-----+-----------------------+-----+--------------------
 *	|  5  |  0  |    high (own sent)    |  n  |  n entries    STATUS
 *	+-----+-----+-----------------------+-----+--------------------
 *	 0     1     2                       10    12
 *
 *	range:	u64 first, u64 last (at most NAK_MAX_RANGES)
 *	entry:	u8 kind, u64 member, u64 seq (17 bytes), kind
 *		1 ACK_BC:   I hold member's broadcasts up to seq, no gap
 *		or with u64 epoch after seq (25 bytes), kind
 *		2 ACK_P2P:  I hold member's stream to me up to seq
 *		3 HIGH_P2P: I sent my stream to member up to seq
 *	flg:	0x01 P2P: a point-to-point stream (DATA and REPAIR: the
 *		sender's to us; NAK: origin's to the requester), else
 *		origin's broadcasts; 0x02 ACKS (DATA only; on a p2p DATA
 *		the count follows the epoch).
 *
 * A DATA's stream is its sender's; the P2P flag must agree with the COM
 * destination.  The broadcast high and the entries only ever raise what
 * we know of a stream (an entry of a newer epoch restarts it, above).  A
 * STATUS too long for a datagram goes as several.
 *
 * Deviations from Horus: stability rides in NAK rather than a STABLE
 * layer; every member, not only the origin, keeps broadcasts until stable
 * (so MBRSHIP's cut can be obtained from any holder); repairs are unicast;
 * point-to-point streams restart with every view.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

#define MS		1000000ULL

enum nak_type {
	NAK_DATA = 1, NAK_REPAIR, NAK_UNREL, NAK_NAK, NAK_STATUS, NAK_NTYPES
};

enum nak_kind { NAK_ACK_BC = 1, NAK_ACK_P2P, NAK_HIGH_P2P };

/* what an input handler did not take */
#define NAK_BAD		1
#define NAK_FOREIGN	2

#define NAK_F_P2P	0x01
#define NAK_F_ACKS	0x02

#define NAK_HDR_DATA	10
#define NAK_HDR_REPAIR	18
#define NAK_EPOCH	8	/* after those, and a NAK's count, if P2P */
#define NAK_HDR_MAX	(NAK_HDR_REPAIR + NAK_EPOCH) /* in front of data */
#define NAK_HDR_UNREL	2
#define NAK_HDR_VEC	12	/* NAK and STATUS, before the list */
#define NAK_RANGE	16
#define NAK_ENTRY	17	/* ACK_BC */
#define NAK_ENTRY_P2P	(NAK_ENTRY + NAK_EPOCH)

#define NAK_WINDOW	65536	/* held past the next expected, at most */
#define NAK_MAX_RANGES	64	/* in one request */
#define NAK_MAX_ASK	256	/* missing messages in one request */
#define NAK_MAX_SERVE	256	/* repairs for one request */
#define NAK_MAX_SCAN	4096	/* numbers looked at for one request */
#define NAK_SETTLE	(1 * MS)
#define NAK_RETRY	(10 * MS)
#define NAK_DAMP	(2 * MS)
#define NAK_STATUS_GAP	(2 * MS)
#define NAK_HEARTBEAT	(50 * MS)
#define NAK_LIMBO	(5000 * MS)	/* a leaver's broadcasts kept */
#define NAK_FLIGHT_MIN	(256 * 1024)	/* bytes in flight, at least */

/* A kept message, and when it was last repaired to whom. */
struct slot {
	struct to_msg	*m;
	uint64_t	 rep_at;
	uint64_t	 rep_to;
	uint64_t	 end;		/* own broadcasts: bytes cast up to it */
};

/* Messages by number: seq lives at s[seq % cap], for lo <= seq < lo+cap. */
struct ring {
	struct slot	*s;
	size_t		 cap;		/* a power of two, or 0 */
	uint64_t	 lo;		/* nothing below is kept */
};

struct stream {
	struct ring	 ring;
	uint64_t	 epoch;		/* p2p: the view id it started at */
	uint64_t	 next;		/* to deliver (in) or to send (out) */
	uint64_t	 high;		/* in: highest known to exist */
	uint64_t	 acked;		/* broadcast: by all; p2p out: by dst */
	uint64_t	 nak_at;	/* in: when to ask for repairs, or 0 */
	uint64_t	 nak_upto;	/* in: the last number last asked for */
	uint64_t	 cut_seq;	/* broadcast: pending EV_CUT target */
	uint64_t	 cut_from;	/* who repairs up to it; 0: the origin */
};

struct peer {
	uint64_t	 id;
	int		 idx;		/* rank in the view, -1 if none */
	int		 mark, left;
	int		 skipped;	/* its stream jumped: deliver what follows */
	int		 heard;		/* a vector of its came in this view */
	struct peer	*next_gone;
	uint64_t	 gone_until;	/* left: freed then */
	struct stream	 bc;		/* its broadcasts (ours, for us) */
	struct stream	 rx;		/* its stream to us */
	struct stream	 tx;		/* our stream to it */
};

struct nak {
	struct peer	*me;
	struct peer	**peers;	/* the view, by rank */
	size_t		 n;
	uint64_t	*ack;		/* [i*n+j]: peers[i] holds peers[j]'s to */
	int		 viewed;
	struct mq	 loop;
	uint64_t	 looped;	/* own broadcasts delivered up */
	int		 dirty;		/* STATUS news since the last */
	uint64_t	 status_at;	/* when the last went */
	int		 cutting, cut_check;
	int		 depth;		/* in up() or timer() */
	struct peer	*gone;		/* left the view, kept a while */
	size_t		 below;		/* header bytes under us */
	size_t		 room;		/* largest reliable payload */
	/* pacing of our broadcasts: numbered and kept at once, sent while
	 * fewer than flight_max bytes of them are not yet acknowledged */
	uint64_t	 sent;		/* our last broadcast sent */
	uint64_t	 cast_bytes;	/* bytes of all our broadcasts */
	uint64_t	 acked_end;	/* bytes of those everyone holds */
	size_t		 flight_max;
	size_t		 ack_bytes;	/* received since our last STATUS */
};

struct ventry {
	int		 kind;
	uint64_t	 member, seq, epoch;
};

/* --- rings and queues ------------------------------------------------ */

static struct slot *
ring_at(const struct ring *r, uint64_t seq)
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
static void
ring_release(struct ring *r, uint64_t upto)
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
static void
stream_restart(struct stream *st, uint64_t epoch)
{
	ring_free(&st->ring);
	memset(st, 0, sizeof(*st));
	st->epoch = epoch;
	st->next = st->ring.lo = 1;
}

/* --- members --------------------------------------------------------- */

/* A member whose broadcasts we follow after start. */
static struct peer *
peer_new(uint64_t id, uint64_t start)
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

static void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	ring_free(&p->bc.ring);
	ring_free(&p->rx.ring);
	ring_free(&p->tx.ring);
	free(p);
}

static struct peer *
nak_find(const struct nak *s, uint64_t id)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (s->peers[i]->id == id)
			return s->peers[i];
	return NULL;
}

/* A member that left recently, whose broadcasts we may still repair. */
static struct peer *
nak_find_gone(const struct nak *s, uint64_t id, uint64_t now)
{
	struct peer	*p;

	for (p = s->gone; p != NULL; p = p->next_gone)
		if (p->id == id && p->gone_until > now)
			return p;
	return NULL;
}

/* Free the members that left long enough ago, unless in a delivery. */
static void
nak_bury(struct layer *l)
{
	struct nak	*s = l->state;
	struct peer	**pp, *p;

	if (s->depth > 0)
		return;
	for (pp = &s->gone; (p = *pp) != NULL;) {
		if (p->gone_until <= layer_now(l)) {
			*pp = p->next_gone;
			peer_free(p);
		} else
			pp = &p->next_gone;
	}
}

/* --- stability ------------------------------------------------------- */

/* Everyone holds pj's broadcasts up to the least of the acks: free them. */
static void
nak_stabilize(struct nak *s, struct peer *pj)
{
	uint64_t	 min = pj->bc.next - 1, a;
	size_t		 i;

	if (pj->idx < 0)
		return;
	for (i = 0; i < s->n; i++) {
		if (s->peers[i] == s->me)
			continue;
		a = s->ack[i * s->n + pj->idx];
		if (a < min)
			min = a;
	}
	if (min > pj->bc.acked) {
		if (pj == s->me) {
			s->acked_end = ring_at(&pj->bc.ring, min)->end;
			if (s->sent < min)
				s->sent = min;	/* repaired before their turn */
		}
		pj->bc.acked = min;
		ring_release(&pj->bc.ring, min);
	}
}

/* Member i holds pj's broadcasts up to seq. */
static void
nak_set_ack(struct nak *s, struct peer *pi, struct peer *pj, uint64_t seq)
{
	uint64_t	*a, old;

	if (pi->idx < 0 || pj->idx < 0 || pi == s->me)
		return;
	a = &s->ack[pi->idx * s->n + pj->idx];
	if (seq <= *a)
		return;
	old = *a;
	*a = seq;
	if (old <= pj->bc.acked)
		nak_stabilize(s, pj);
}

/* Something for the next STATUS. */
static void
nak_touch(struct layer *l)
{
	struct nak	*s = l->state;
	uint64_t	 t = s->status_at + NAK_STATUS_GAP;

	s->dirty = 1;
	layer_wake_by(l, t > layer_now(l) ? t : layer_now(l));
}

static int
nak_status_due(const struct nak *s, uint64_t now)
{
	if (!s->viewed || s->me->idx < 0)
		return 0;
	if (s->dirty)
		return now >= s->status_at + NAK_STATUS_GAP;
	return now >= s->status_at + NAK_HEARTBEAT;
}

/* --- sending --------------------------------------------------------- */

static size_t
nak_entry_len(int kind)
{
	return kind == NAK_ACK_BC ? NAK_ENTRY : NAK_ENTRY_P2P;
}

/* Entry k of v: kind, member, seq, and for a p2p stream its epoch. */
static void
nak_ventry(struct ventry *v, size_t k, int kind, const struct peer *p,
    uint64_t seq, uint64_t epoch)
{
	v[k].kind = kind;
	v[k].member = p->id;
	v[k].seq = seq;
	v[k].epoch = epoch;
}

/* The ack vector into v (room for 3 per member); returns the count. */
static size_t
nak_vector(const struct nak *s, struct ventry *v)
{
	struct peer	*p;
	size_t		 i, k = 0;

	for (i = 0; i < s->n; i++) {
		if ((p = s->peers[i]) == s->me)
			continue;
		nak_ventry(v, k++, NAK_ACK_BC, p, p->bc.next - 1, 0);
		if (p->rx.next > 1)
			nak_ventry(v, k++, NAK_ACK_P2P, p, p->rx.next - 1,
			    p->rx.epoch);
		if (p->tx.acked < p->tx.next - 1)
			nak_ventry(v, k++, NAK_HIGH_P2P, p, p->tx.next - 1,
			    p->tx.epoch);
	}
	return k;
}

/* Bytes of the k entries of v on the wire. */
static size_t
nak_vector_bytes(const struct ventry *v, size_t k)
{
	size_t	 i, b = 0;

	for (i = 0; i < k; i++)
		b += nak_entry_len(v[i].kind);
	return b;
}

/* Header h of a vector: type, flags, high, count, entries. */
static void
nak_put_vector(unsigned char *h, int type, int flg, uint64_t high,
    const struct ventry *v, size_t k)
{
	size_t	 i;

	h[0] = type;
	h[1] = flg;
	put64(h + 2, high);
	put16(h + 10, (uint16_t)k);
	for (i = 0, h += NAK_HDR_VEC; i < k; h += nak_entry_len(v[i++].kind)) {
		h[0] = v[i].kind;
		put64(h + 1, v[i].member);
		put64(h + 9, v[i].seq);
		if (v[i].kind != NAK_ACK_BC)
			put64(h + NAK_ENTRY, v[i].epoch);
	}
}

static void
nak_status(struct layer *l)
{
	struct nak	*s = l->state;
	struct ventry	*v;
	struct to_msg	*m;
	size_t		 k, i = 0, c, b, room, el;

	if ((v = reallocarray(NULL, 3 * s->n + 1, sizeof(*v))) == NULL)
		return;
	s->dirty = 0;
	s->status_at = layer_now(l);
	s->ack_bytes = 0;
	k = nak_vector(s, v);
	room = layer_transport(l)->mtu - s->below - NAK_HDR_VEC;
	do {
		/* as many entries as fit; nak_init made room for one */
		for (c = b = 0; i + c < k && c < UINT16_MAX; c++) {
			if ((el = nak_entry_len(v[i + c].kind)) > room - b)
				break;
			b += el;
		}
		if ((m = msg_new(MSG_HEADROOM, NAK_HDR_VEC + b)) == NULL)
			break;
		nak_put_vector(msg_data(m), NAK_STATUS, 0, s->sent,
		    v + i, c);
		(void)layer_down(l, m);
		i += c;
	} while (c > 0 && i < k);
	free(v);
}

/* A copy of broadcast m, number seq, with the ack vector; NULL if too big. */
static struct to_msg *
nak_piggyback(struct layer *l, const struct to_msg *m, uint64_t seq)
{
	struct nak	*s = l->state;
	struct ventry	*v;
	struct to_msg	*p = NULL;
	size_t		 k, len;

	if ((v = reallocarray(NULL, 3 * s->n + 1, sizeof(*v))) == NULL)
		return NULL;
	k = nak_vector(s, v);
	len = NAK_HDR_VEC + nak_vector_bytes(v, k) + msg_len(m);
	if (s->below + len <= layer_transport(l)->mtu &&
	    (p = msg_new(MSG_HEADROOM, len)) != NULL) {
		nak_put_vector(msg_data(p), NAK_DATA, NAK_F_ACKS, seq, v, k);
		msg_read(m, 0, msg_data(p) + len - msg_len(m), msg_len(m));
		p->meta = m->meta;
		s->dirty = 0;
		s->status_at = layer_now(l);
		s->ack_bytes = 0;
	}
	free(v);
	return p;
}

/* Put the DATA header on m and send it; a p2p one carries epoch. */
static void
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

/* Some of our broadcasts wait for room in flight. */
static int
nak_waiting(const struct nak *s)
{
	return s->sent < s->me->bc.next - 1;
}

/* Bytes of our broadcasts sent and not yet held by everyone. */
static uint64_t
nak_flight(const struct nak *s)
{
	if (s->sent <= s->me->bc.acked)
		return 0;
	return ring_at(&s->me->bc.ring, s->sent)->end - s->acked_end;
}

/* Send the broadcasts that wait for room in flight, while there is. */
static void
nak_transmit(struct layer *l)
{
	struct nak	*s = l->state;
	struct peer	*me = s->me;
	struct to_msg	*c;

	while (nak_waiting(s) && nak_flight(s) < s->flight_max) {
		if ((c = msg_clone(ring_at(&me->bc.ring,
		    s->sent + 1)->m)) == NULL)
			return;
		s->sent++;
		c->meta.stream_seq = s->sent;
		c->meta.flags = 0;
		nak_send_data(l, c, s->sent, 0, 0);
	}
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
	ring_at(&me->bc.ring, seq)->end = s->cast_bytes;
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

/* --- repairs --------------------------------------------------------- */

/* Ask for what stream st of p misses: first the gap after next. */
static void
nak_request(struct layer *l, struct peer *p, int bc)
{
	struct stream	*st = bc ? &p->bc : &p->rx;
	struct slot	*sl;
	struct to_msg	*m;
	unsigned char	*h, *r;
	uint64_t	 to = p->id, top = st->high, seq, last = 0;
	size_t		 nr = 0, asked = 0, hl = NAK_HDR_VEC;

	if (st->next > st->high) {
		st->nak_at = st->nak_upto = 0;
		return;
	}
	st->nak_at = layer_now(l) + NAK_RETRY;
	if (bc && st->cut_from != 0 && st->next <= st->cut_seq) {
		to = st->cut_from;
		if (top > st->cut_seq)
			top = st->cut_seq;
	}
	if (top - st->next >= NAK_MAX_SCAN)
		top = st->next + NAK_MAX_SCAN - 1;
	if (!bc)
		hl += NAK_EPOCH;
	m = msg_new(MSG_HEADROOM, hl + NAK_MAX_RANGES * NAK_RANGE);
	if (m == NULL)
		return;
	h = msg_data(m);
	for (seq = st->next; seq <= top && asked < NAK_MAX_ASK; seq++) {
		if ((sl = ring_at(&st->ring, seq)) != NULL && sl->m != NULL)
			continue;
		if (nr > 0 && last == seq - 1)
			r = h + hl + (nr - 1) * NAK_RANGE;
		else if (nr == NAK_MAX_RANGES)
			break;
		else {
			r = h + hl + nr++ * NAK_RANGE;
			put64(r, seq);
		}
		put64(r + 8, seq);
		last = seq;
		asked++;
	}
	if (nr == 0) {		/* held, only not delivered yet */
		msg_free(m);
		return;
	}
	h[0] = NAK_NAK;
	h[1] = bc ? 0 : NAK_F_P2P;
	put64(h + 2, p->id);
	put16(h + 10, (uint16_t)nr);
	if (!bc)
		put64(h + NAK_HDR_VEC, st->epoch);
	(void)msg_trim(m, hl + nr * NAK_RANGE);
	m->meta.dst = to;
	st->nak_upto = last;
	layer_stats(l)->naks_sent++;
	(void)layer_down(l, m);
}

/*
 * Send kept message sl, number seq of origin's broadcasts, or of its
 * stream to member to in epoch if p2p, to member to.
 */
static int
nak_repair(struct layer *l, struct slot *sl, uint64_t to, uint64_t origin,
    int p2p, uint64_t seq, uint64_t epoch)
{
	struct to_msg	*c;
	unsigned char	*h;

	if ((c = msg_clone(sl->m)) == NULL)
		return -1;
	if ((h = msg_push(c, p2p ? NAK_HDR_MAX : NAK_HDR_REPAIR)) == NULL) {
		msg_free(c);
		return -1;
	}
	h[0] = NAK_REPAIR;
	h[1] = p2p ? NAK_F_P2P : 0;
	put64(h + 2, origin);
	put64(h + 10, seq);
	if (p2p)
		put64(h + NAK_HDR_REPAIR, epoch);
	c->meta.dst = to;
	c->meta.flags = MSG_RETRANSMIT;
	sl->rep_at = layer_now(l);
	sl->rep_to = to;
	layer_stats(l)->retransmits++;
	(void)layer_down(l, c);
	return 0;
}

/* Answer n ranges rg (checked for length) from what stream st keeps. */
static void
nak_serve(struct layer *l, struct stream *st, uint64_t to, uint64_t origin,
    int p2p, const unsigned char *rg, size_t n)
{
	struct ring	*r = &st->ring;
	struct slot	*sl;
	uint64_t	 lo, hi, seq, now = layer_now(l);
	size_t		 i, sent = 0, work = 0;

	for (i = 0; i < n && r->cap > 0; i++, rg += NAK_RANGE) {
		lo = get64(rg);
		hi = get64(rg + 8);
		if (hi < r->lo || hi < lo)
			continue;
		if (lo < r->lo)
			lo = r->lo;
		if (hi - r->lo >= r->cap)
			hi = r->lo + r->cap - 1;
		for (seq = lo; seq <= hi; seq++) {
			if (sent == NAK_MAX_SERVE || work++ == NAK_MAX_SCAN)
				return;
			if ((sl = ring_at(r, seq)) == NULL || sl->m == NULL)
				continue;
			if (sl->rep_to == to && sl->rep_at != 0 &&
			    now - sl->rep_at < NAK_DAMP)
				continue;
			if (nak_repair(l, sl, to, origin, p2p, seq,
			    st->epoch) == 0)
				sent++;
		}
	}
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
static void
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
			sl = ring_at(&st->ring, st->next);
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
			ring_release(&st->ring, st->next - 1);
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
static void
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

/* Check the vector at v (u16 n, entries): its length, or 0 if bad. */
static size_t
nak_vector_len(const unsigned char *v, size_t len)
{
	size_t	 n, i, off = 2, el;

	if (len < 2)
		return 0;
	n = get16(v);
	for (i = 0; i < n; i++, off += el) {
		if (off >= len || v[off] < NAK_ACK_BC || v[off] > NAK_HIGH_P2P)
			return 0;
		if (len - off < (el = nak_entry_len(v[off])))
			return 0;
	}
	return off;
}

/*
 * p sends its stream to us in epoch (a DATA, a REPAIR or a HIGH_P2P
 * entry): -1 if that epoch is past; if it is newer, p installed a view
 * before us, and we restart our side at it.
 */
static int
nak_rx_epoch(struct peer *p, uint64_t epoch)
{
	if (epoch < p->rx.epoch)
		return -1;
	if (epoch > p->rx.epoch)
		stream_restart(&p->rx, epoch);
	return 0;
}

/* p sent its broadcasts up to high and holds what checked vector v says. */
/*
 * After the first vector from p in a view: if p misses broadcasts of
 * ours (sent before p knew us, so dropped as foreign), our STATUS goes
 * soon, not at the next heartbeat, so that p asks for them.
 */
static void
nak_greet(struct layer *l, struct peer *p)
{
	struct nak	*s = l->state;

	if (p->heard || p->idx < 0 || s->me->idx < 0)
		return;
	p->heard = 1;
	if (s->ack[p->idx * s->n + s->me->idx] < s->me->bc.next - 1)
		nak_touch(l);
}

static void
nak_apply(struct layer *l, struct peer *p, uint64_t high,
    const unsigned char *v)
{
	struct nak	*s = l->state;
	struct peer	*q;
	uint64_t	 member, seq, epoch;
	size_t		 n = get16(v), i, el;

	nak_set_ack(s, p, p, high);
	nak_raise(l, &p->bc, high);
	for (i = 0, v += 2; i < n; i++, v += el) {
		el = nak_entry_len(v[0]);
		member = get64(v + 1);
		seq = get64(v + 9);
		if (v[0] == NAK_ACK_BC) {
			if ((q = nak_find(s, member)) != NULL)
				nak_set_ack(s, p, q, seq);
			continue;
		}
		if (member != layer_self(l))
			continue;
		epoch = get64(v + NAK_ENTRY);
		if (v[0] == NAK_ACK_P2P) {
			/* an ack of an older stream says nothing of ours */
			if (epoch != p->tx.epoch)
				continue;
			if (seq > p->tx.next - 1)
				seq = p->tx.next - 1;
			if (seq > p->tx.acked) {
				p->tx.acked = seq;
				ring_release(&p->tx.ring, seq);
			}
		} else if (nak_rx_epoch(p, epoch) == 0)
			nak_raise(l, &p->rx, seq);
	}
	nak_greet(l, p);
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
nak_in_repair(struct layer *l, struct to_msg *m)
{
	struct nak	*s = l->state;
	const unsigned char *h = msg_data(m);
	struct peer	*p;
	uint64_t	 origin, seq;
	size_t		 hl = NAK_HDR_REPAIR;
	int		 p2p;

	if (msg_len(m) < NAK_HDR_REPAIR)
		return NAK_BAD;
	origin = get64(h + 2);
	seq = get64(h + 10);
	p2p = (h[1] & NAK_F_P2P) != 0;
	if (p2p)
		hl += NAK_EPOCH;
	if (seq == 0 || (h[1] & ~NAK_F_P2P) != 0 || msg_len(m) < hl ||
	    origin == layer_self(l) || (p2p && origin != m->meta.src))
		return NAK_BAD;
	if (nak_find(s, m->meta.src) == NULL ||
	    (p = nak_find(s, origin)) == NULL)
		return NAK_FOREIGN;
	if (p2p && nak_rx_epoch(p, get64(h + NAK_HDR_REPAIR)) == -1) {
		msg_free(m);		/* sent in a view we left */
		return 0;
	}
	(void)msg_pull(m, hl);
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

static int
nak_in_nak(struct layer *l, struct to_msg *m)
{
	struct nak	*s = l->state;
	const unsigned char *h = msg_data(m);
	struct peer	*req, *o = NULL;
	uint64_t	 origin;
	size_t		 n, hl = NAK_HDR_VEC;
	int		 p2p;

	if (msg_len(m) < NAK_HDR_VEC)
		return NAK_BAD;
	origin = get64(h + 2);
	n = get16(h + 10);
	p2p = (h[1] & NAK_F_P2P) != 0;
	if (p2p)
		hl += NAK_EPOCH;
	if ((h[1] & ~NAK_F_P2P) != 0 || n == 0 || n > NAK_MAX_RANGES ||
	    msg_len(m) < hl + n * NAK_RANGE ||
	    (p2p && origin != layer_self(l)))
		return NAK_BAD;
	if ((req = nak_find(s, m->meta.src)) == NULL || req == s->me)
		return NAK_FOREIGN;
	if (p2p) {
		/* for a stream of another view: it has restarted since */
		if (get64(h + NAK_HDR_VEC) == req->tx.epoch)
			nak_serve(l, &req->tx, req->id, origin, 1, h + hl, n);
		msg_free(m);
		return 0;
	}
	if ((o = nak_find(s, origin)) == NULL) {
		if ((o = nak_find_gone(s, origin, layer_now(l))) == NULL)
			return NAK_FOREIGN;
		o->gone_until = layer_now(l) + NAK_LIMBO;
	}
	nak_serve(l, &o->bc, req->id, origin, 0, h + hl, n);
	msg_free(m);
	return 0;
}

static int
nak_in_status(struct layer *l, struct to_msg *m)
{
	struct nak	*s = l->state;
	const unsigned char *h = msg_data(m);
	struct peer	*p;

	if (msg_len(m) < NAK_HDR_VEC || h[1] != 0 ||
	    nak_vector_len(h + 10, msg_len(m) - 10) == 0)
		return NAK_BAD;
	if ((p = nak_find(s, m->meta.src)) == NULL || p == s->me)
		return NAK_FOREIGN;
	nak_apply(l, p, get64(h + 2), h + 10);
	msg_free(m);
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

/* --- events ---------------------------------------------------------- */

static uint64_t
cut_seq_of(const struct cut *c, uint64_t id)
{
	uint64_t	 seq = 0;
	size_t		 i;

	for (i = 0; c != NULL && c->e != NULL && i < c->n; i++)
		if (c->e[i].member == id && c->e[i].seq > seq)
			seq = c->e[i].seq;
	return seq;
}

static void
nak_cut_clear(struct nak *s)
{
	size_t	 i;

	s->me->bc.cut_seq = s->me->bc.cut_from = 0;
	for (i = 0; i < s->n; i++)
		s->peers[i]->bc.cut_seq = s->peers[i]->bc.cut_from = 0;
}

/* The members of view v in rank order, reusing those we follow. */
static size_t
nak_view_peers(struct layer *l, const struct to_view *v,
    const struct cut *c, struct peer **np)
{
	struct nak	*s = l->state;
	struct peer	*p;
	uint64_t	 id;
	size_t		 i, j, n = 0;

	for (i = 0; i < s->n; i++)
		s->peers[i]->mark = 0;
	s->me->mark = 0;
	for (i = 0; i < v->n; i++) {
		id = v->members[i];
		for (j = 0; j < n && np[j]->id != id; j++)
			;
		if (id == 0 || j < n)
			continue;
		if (id == layer_self(l))
			p = s->me;
		else if ((p = nak_find(s, id)) == NULL &&
		    (p = peer_new(id, cut_seq_of(c, id))) == NULL)
			goto fail;
		p->mark = 1;
		p->heard = 0;
		np[n++] = p;
	}
	return n;
fail:
	while (n-- > 0)
		if (np[n]->idx < 0 && np[n] != s->me)
			peer_free(np[n]);
	return SIZE_MAX;
}

/* What new member i holds of j's broadcasts, as far as we know. */
static void
nak_view_acks(struct nak *s, struct peer **np, size_t n, uint64_t *na,
    const struct cut *c)
{
	struct peer	*pi, *pj;
	size_t		 i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			pi = np[i];
			pj = np[j];
			if (pi->idx >= 0 && pj->idx >= 0)
				na[i * n + j] =
				    s->ack[pi->idx * s->n + pj->idx];
			else
				na[i * n + j] = cut_seq_of(c, pj->id);
		}
}

/*
 * Members that left go, but their broadcasts stay for NAK_LIMBO: a member
 * that has not obtained the cut yet may ask us for them.  Those that come
 * back start afresh.
 */
static void
nak_view_gone(struct layer *l, struct peer **np, size_t n)
{
	struct nak	*s = l->state;
	struct peer	*p;
	size_t		 i;

	for (p = s->gone; p != NULL; p = p->next_gone)
		for (i = 0; i < n; i++)
			if (np[i]->id == p->id)
				p->gone_until = 0;
	for (i = 0; i < s->n; i++) {
		if ((p = s->peers[i])->mark || p == s->me)
			continue;
		p->left = 1;
		p->idx = -1;
		p->bc.nak_at = p->rx.nak_at = 0;
		p->gone_until = layer_now(l) + NAK_LIMBO;
		p->next_gone = s->gone;
		s->gone = p;
	}
}

/*
 * The p2p streams with view member p restart in epoch, the new view's id,
 * each unless it already did: p's stream to us may have, at p's first
 * message of this view.
 */
static void
nak_view_restart(struct peer *p, uint64_t epoch)
{
	if (p->tx.epoch < epoch)
		stream_restart(&p->tx, epoch);
	if (p->rx.epoch < epoch)
		stream_restart(&p->rx, epoch);
}

/*
 * A member that stays may have broadcast in views we were not in (the
 * other side of a partition that healed): the view's cut says where its
 * stream starts for us.  What lies before it is not ours to deliver.
 */
static void
nak_view_skip(struct nak *s, struct peer **np, size_t n, uint64_t *na,
    const struct cut *c)
{
	struct stream	*st;
	uint64_t	 seq;
	size_t		 i, j;

	for (j = 0; j < n; j++) {
		if (np[j] == s->me)
			continue;
		st = &np[j]->bc;
		if ((seq = cut_seq_of(c, np[j]->id)) < st->next)
			continue;
		ring_release(&st->ring, seq);
		st->next = seq + 1;
		np[j]->skipped = 1;
		if (st->high < seq)
			st->high = seq;
		if (st->acked < seq)
			st->acked = seq;
		st->nak_at = 0;
		for (i = 0; i < n; i++)
			if (na[i * n + j] < seq)
				na[i * n + j] = seq;
	}
}

static int
nak_view(struct layer *l, const struct to_view *v, const struct cut *c)
{
	struct nak	*s = l->state;
	struct peer	**np;
	uint64_t	*na;
	size_t		 n, i;

	if (v->n > UINT16_MAX) {
		errno = EINVAL;
		return -1;
	}
	np = reallocarray(NULL, v->n + 1, sizeof(*np));
	na = reallocarray(NULL, (size_t)v->n * v->n + 1, sizeof(*na));
	if (np == NULL || na == NULL ||
	    (n = nak_view_peers(l, v, c, np)) == SIZE_MAX) {
		free(np);
		free(na);
		return -1;
	}
	nak_view_acks(s, np, n, na, c);
	nak_view_skip(s, np, n, na, c);
	layer_wake_by(l, layer_now(l));
	nak_view_gone(l, np, n);
	s->me->idx = -1;
	for (i = 0; i < n; i++) {
		np[i]->idx = (int)i;
		nak_view_restart(np[i], v->id);
	}
	free(s->peers);
	free(s->ack);
	s->peers = np;
	s->ack = na;
	s->n = n;
	s->viewed = 1;
	s->cutting = s->cut_check = 0;
	nak_cut_clear(s);
	for (i = 0; i < n; i++)
		nak_stabilize(s, np[i]);
	nak_touch(l);
	return 0;
}

/* Obtain every broadcast up to the cut; EV_CUT_DONE from the timer. */
static void
nak_cut(struct layer *l, const struct cut *c)
{
	struct nak	*s = l->state;
	struct peer	*p;
	size_t		 i;

	nak_cut_clear(s);
	for (i = 0; c->e != NULL && i < c->n; i++) {
		if ((p = nak_find(s, c->e[i].member)) == NULL ||
		    c->e[i].seq <= p->bc.cut_seq)
			continue;
		p->bc.cut_seq = c->e[i].seq;
		p->bc.cut_from = c->e[i].from;
		if (c->e[i].from == layer_self(l) || c->e[i].from == p->id)
			p->bc.cut_from = 0;
		if (p == s->me || p->bc.next > c->e[i].seq)
			continue;
		if (c->e[i].seq > p->bc.high)
			p->bc.high = c->e[i].seq;
		p->bc.nak_at = layer_now(l);
		p->bc.nak_upto = 0;
	}
	s->cutting = s->cut_check = 1;
	layer_wake_by(l, layer_now(l));
}

static int
nak_cut_reached(const struct nak *s)
{
	struct peer	*p;
	uint64_t	 want;
	size_t		 i;

	for (i = 0; i < s->n; i++) {
		p = s->peers[i];
		if ((want = p->bc.cut_seq) == 0)
			continue;
		if (p == s->me) {
			if (want > p->bc.next - 1)
				want = p->bc.next - 1;
			if (s->looped < want)
				return 0;
		} else if (p->bc.next - 1 < want)
			return 0;
	}
	return 1;
}

static void
nak_cut_try(struct layer *l)
{
	struct nak	*s = l->state;
	struct event	 e;

	s->cut_check = 0;
	if (!nak_cut_reached(s))
		return;
	s->cutting = 0;
	nak_cut_clear(s);
	memset(&e, 0, sizeof(e));
	e.type = EV_CUT_DONE;
	layer_ctl_up(l, &e);
}

static void
nak_recv_vector(const struct nak *s, struct event *e)
{
	size_t	 i;

	e->cut.n = 0;
	e->cut.e = NULL;
	if (s->n == 0 ||
	    (e->cut.e = reallocarray(NULL, s->n, sizeof(*e->cut.e))) == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		e->cut.e[i].member = s->peers[i]->id;
		e->cut.e[i].seq = s->peers[i]->bc.next - 1;
		e->cut.e[i].from = 0;
	}
	e->cut.n = s->n;
}

static size_t
nak_backlog(const struct nak *s)
{
	const struct stream *st;
	size_t		 i, b = 0;

	if (nak_waiting(s))
		return EV_BACKLOG_FULL;
	for (i = 0; i < s->n; i++) {
		st = &s->peers[i]->bc;
		if (st->next - 1 - st->acked > b)
			b = st->next - 1 - st->acked;
	}
	return b;
}

static int
nak_stable(const struct nak *s)
{
	const struct peer *p;
	size_t		 i;

	if (s->loop.n > 0)
		return 0;
	for (i = 0; i < s->n; i++) {
		p = s->peers[i];
		if (p->bc.acked != p->bc.next - 1)
			return 0;
		if (p == s->me)
			continue;
		if (p->bc.high >= p->bc.next || p->rx.high >= p->rx.next ||
		    p->tx.acked != p->tx.next - 1)
			return 0;
	}
	return 1;
}

/* EV_LANDING: the fragment FRAG waits for is the next of src's stream
 * (broadcast, or to us in its current epoch), a DATA with no
 * acknowledgements on it. */
static void
nak_landing(struct nak *s, struct landing *ld)
{
	struct peer	*p;
	unsigned char	*h, *mask;

	if (!(ld->layers & LANDING_FRAG) ||
	    (p = nak_find(s, ld->src)) == NULL || p == s->me ||
	    (h = landing_push(ld, NAK_HDR_DATA + (ld->p2p ? NAK_EPOCH : 0),
	    &mask)) == NULL)
		return;
	h[0] = NAK_DATA;
	h[1] = ld->p2p ? NAK_F_P2P : 0;
	put64(h + 2, ld->p2p ? p->rx.next : p->bc.next);
	if (ld->p2p)
		put64(h + NAK_HDR_DATA, p->rx.epoch);
	ld->layers |= LANDING_NAK;
}

static void
nak_ctl_down(struct layer *l, struct event *e)
{
	struct nak	*s = l->state;

	switch (e->type) {
	case EV_VIEW:
		if (e->view != NULL)
			(void)nak_view(l, e->view, &e->cut);
		nak_bury(l);
		layer_ctl_down(l, e);
		break;
	case EV_RECV_VECTOR:
		nak_recv_vector(s, e);
		break;
	case EV_CUT:
		nak_cut(l, &e->cut);
		break;
	case EV_BACKLOG:
		e->backlog = nak_backlog(s);
		break;
	case EV_STABLE:
		e->stable = nak_stable(s);
		break;
	case EV_LANDING:
		nak_landing(s, e->landing);
		layer_ctl_down(l, e);
		break;
	default:
		layer_ctl_down(l, e);
		break;
	}
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
	if ((s->me = peer_new(layer_self(l), 0)) == NULL) {
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
		peer_free(p);
	}
	for (i = 0; i < s->n; i++)
		if (s->peers[i] != s->me)
			peer_free(s->peers[i]);
	peer_free(s->me);
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
