/*
 * nak_repair.c: repairs for the NAK layer (see nak.c): a member asks for
 * what a stream misses (NAK), and whoever keeps it answers (REPAIR).
 *
 * Its share of the guarantee: a gap (a later number, or a STATUS telling
 * of one) is asked for after NAK_SETTLE, from the origin (or, while an
 * EV_CUT is pending, from the member it names), again every NAK_RETRY,
 * and at once when all that was asked arrived.  The repairer answers from
 * what it keeps, at most NAK_MAX_SERVE messages a request, each not twice
 * to the same member within NAK_DAMP.  Since every member keeps every
 * broadcast until all hold it, any of them can repair it, and those of a
 * member that left still answer for NAK_LIMBO.  A point-to-point stream
 * is repaired only by its sender, and only in its current epoch.
 *
 *	 0     1     2                       10    12                18
 *	+-----+-----+-----------------------+-----------------------+
 *	|  2  |  0  |        origin         |          seq          |
 *	+-----+-----+-----------------------+-----------------------+
 *	   then the payload                          REPAIR (18 bytes)
 *	+-----+-----+-----------------------+-----------------------+
 *	|  2  | P2P |        origin         |          seq          |
 *	+-----+-----+-----------------------+-----------------------+
 *	|         epoch         |  payload       p2p REPAIR (26 bytes)
 *	+-----+-----+-----------------------+-----+--------------------
 *	|  4  |  0  |        origin         |  n  |  n ranges        NAK
 *	+-----+-----+-----------------------+-----+-----------------+
 *	|  4  | P2P |        origin         |  n  |      epoch      |
 *	+-----+-----+-----------------------+-----+-----------------+
 *	   then n ranges                                     p2p NAK
 *	+-----+-----+-----------------------+-----+--------------------
 *	 0     1     2                       10    12
 *
 *	range:	u64 first, u64 last (at most NAK_MAX_RANGES)
 *	flg:	0x01 P2P: REPAIR: the sender's stream to us (origin is the
 *		sender); NAK: origin's stream to the requester (origin is
 *		the one asked); else origin's broadcasts.
 */
#include <stdlib.h>

#include "nak.h"

/* --- asking ---------------------------------------------------------- */

/* Ask for what stream st of p misses: first the gap after next. */
void
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
		if ((sl = nak_ring_at(&st->ring, seq)) != NULL && sl->m != NULL)
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

/* --- answering ------------------------------------------------------- */

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
			if ((sl = nak_ring_at(r, seq)) == NULL || sl->m == NULL)
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

/* --- receiving ------------------------------------------------------- */

int
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

int
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
