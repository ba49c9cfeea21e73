/*
 * nak_stable.c: stability, status and pacing for the NAK layer (see
 * nak.c): every member tells the others what it holds, in a STATUS or in
 * a vector riding on a broadcast, and lets go of what everyone holds.
 *
 * Its share of the guarantee: every member keeps every broadcast message
 * it holds until every view member acknowledged it; the origin keeps a
 * point-to-point one until its destination acknowledged it (or the view
 * changes, nak_view.c).  Everyone sends a STATUS (its broadcast high and
 * its ack vector) at most every NAK_STATUS_GAP while something changed,
 * else every NAK_HEARTBEAT; a lost last message shows there.  When a
 * STATUS is due as a broadcast goes down and it fits, the vector rides
 * on it.
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
 *	 0     1     2                       10    12
 *	+-----+-----+-----------------------+-----+--------------------
 *	|  1  | ACKS|          seq          |  n  |  n entries, payload
 *	+-----+-----+-----------------------+-----+--------------------
 *	|  5  |  0  |    high (own sent)    |  n  |  n entries    STATUS
 *	+-----+-----+-----------------------+-----+--------------------
 *	 0     1     2                       10    12
 *
 *	entry:	u8 kind, u64 member, u64 seq (17 bytes), kind
 *		1 ACK_BC:   I hold member's broadcasts up to seq, no gap
 *		or with u64 epoch after seq (25 bytes), kind
 *		2 ACK_P2P:  I hold member's stream to me up to seq
 *		3 HIGH_P2P: I sent my stream to member up to seq
 *	flg:	0x02 ACKS (DATA only; on a p2p DATA the count follows the
 *		epoch).
 *
 * The broadcast high and the entries only ever raise what we know of a
 * stream (an entry of a newer epoch restarts it, nak.c).  A STATUS too
 * long for a datagram goes as several.
 */
#include <stdlib.h>

#include "nak.h"

/* --- stability ------------------------------------------------------- */

/* Everyone holds pj's broadcasts up to the least of the acks: free them. */
void
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
			s->acked_end = nak_ring_at(&pj->bc.ring, min)->end;
			if (s->sent < min)
				s->sent = min;	/* repaired before their turn */
		}
		pj->bc.acked = min;
		nak_ring_release(&pj->bc.ring, min);
	}
}

/* Member i holds pj's broadcasts up to seq: 1 if that is news. */
static int
nak_set_ack(struct nak *s, struct peer *pi, struct peer *pj, uint64_t seq)
{
	uint64_t	*a, old;

	if (pi->idx < 0 || pj->idx < 0 || pi == s->me)
		return 0;
	a = &s->ack[pi->idx * s->n + pj->idx];
	if (seq <= *a)
		return 0;
	old = *a;
	*a = seq;
	if (old <= pj->bc.acked)
		nak_stabilize(s, pj);
	return 1;
}

/* EV_ACK_OF: what we know member holds of stream's broadcasts. */
uint64_t
nak_ack_of(struct nak *s, uint64_t member, uint64_t stream)
{
	struct peer	*pi = nak_find(s, member), *pj = nak_find(s, stream);

	if (pi == NULL || pj == NULL || pi->idx < 0 || pj->idx < 0)
		return 0;
	if (pi == s->me)
		return pj->bc.next - 1;		/* delivered up: held */
	return s->ack[pi->idx * s->n + pj->idx];
}

/* Something for the next STATUS; urgent: EV_ACK_SOON. */
void
nak_touch(struct layer *l)
{
	struct nak	*s = l->state;
	uint64_t	 t = s->status_at + (s->urgent ? NAK_URGENT_GAP :
			    NAK_STATUS_GAP);

	s->dirty = 1;
	layer_wake_by(l, t > layer_now(l) ? t : layer_now(l));
}

int
nak_status_due(const struct nak *s, uint64_t now)
{
	if (!s->viewed || s->me->idx < 0)
		return 0;
	if (s->dirty)
		return now >= s->status_at + (s->urgent ? NAK_URGENT_GAP :
		    NAK_STATUS_GAP);
	return now >= s->status_at + NAK_HEARTBEAT;
}

/* --- ack vectors and STATUS ------------------------------------------ */

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

void
nak_status(struct layer *l)
{
	struct nak	*s = l->state;
	struct ventry	*v;
	struct to_msg	*m;
	size_t		 k, i = 0, c, b, room, el;

	if ((v = reallocarray(NULL, 3 * s->n + 1, sizeof(*v))) == NULL)
		return;
	s->dirty = s->urgent = 0;
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
struct to_msg *
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

/* --- pacing ---------------------------------------------------------- */

/* Some of our broadcasts wait for room in flight. */
int
nak_waiting(const struct nak *s)
{
	return s->sent < s->me->bc.next - 1;
}

/* Bytes of our broadcasts sent and not yet held by everyone. */
uint64_t
nak_flight(const struct nak *s)
{
	if (s->sent <= s->me->bc.acked)
		return 0;
	return nak_ring_at(&s->me->bc.ring, s->sent)->end - s->acked_end;
}

/* Send the broadcasts that wait for room in flight, while there is. */
void
nak_transmit(struct layer *l)
{
	struct nak	*s = l->state;
	struct peer	*me = s->me;
	struct to_msg	*c;

	while (nak_waiting(s) && nak_flight(s) < s->flight_max) {
		if ((c = msg_clone(nak_ring_at(&me->bc.ring,
		    s->sent + 1)->m)) == NULL)
			return;
		s->sent++;
		c->meta.stream_seq = s->sent;
		c->meta.flags = 0;
		nak_send_data(l, c, s->sent, 0, 0);
	}
}

/* --- receiving ------------------------------------------------------- */

/* Check the vector at v (u16 n, entries): its length, or 0 if bad. */
size_t
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

/* p sent its broadcasts up to high and holds what checked vector v says. */
void
nak_apply(struct layer *l, struct peer *p, uint64_t high,
    const unsigned char *v)
{
	struct nak	*s = l->state;
	struct peer	*q;
	struct event	 e = { .type = EV_ACKED };
	uint64_t	 member, seq, epoch;
	size_t		 n = get16(v), i, el;
	int		 news = 0;

	news |= nak_set_ack(s, p, p, high);
	nak_raise(l, &p->bc, high);
	for (i = 0, v += 2; i < n; i++, v += el) {
		el = nak_entry_len(v[0]);
		member = get64(v + 1);
		seq = get64(v + 9);
		if (v[0] == NAK_ACK_BC) {
			if ((q = nak_find(s, member)) != NULL)
				news |= nak_set_ack(s, p, q, seq);
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
				nak_ring_release(&p->tx.ring, seq);
			}
		} else if (nak_rx_epoch(p, epoch) == 0)
			nak_raise(l, &p->rx, seq);
	}
	nak_greet(l, p);
	if (news)
		layer_ctl_up(l, &e);
}

int
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
