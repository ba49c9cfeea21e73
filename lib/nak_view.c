/*
 * nak_view.c: the events from above for the NAK layer (see nak.c): the
 * views, the cut of a view change, and the questions MBRSHIP, the order
 * layers and group.c ask (EV_RECV_VECTOR, EV_BACKLOG, EV_STABLE,
 * EV_LANDING).
 *
 * Its share of the guarantee: EV_VIEW down lists the members; for one
 * whose broadcast stream we do not follow yet, delivery starts after its
 * ev->cut entry (or at 1).  The state of members that left goes, except
 * that their kept broadcasts still answer NAKs for NAK_LIMBO (members
 * that install the view later may still be obtaining the cut from us).
 *
 * A broadcast stream of a member that stays jumps forward to the start the
 * view gives, past what it sent in views we were not in.
 *
 * Point-to-point streams restart at every view: at EV_VIEW down each one,
 * to and from every member, starts again at 1 in the epoch of the view id;
 * what it held is let go (a message in flight is lost: the layers above
 * send again at the flush what matters, paper section 3.1).  How the
 * epoch travels is in nak.c.
 *
 * EV_CUT: every broadcast up to the cut is obtained, repaired from the
 * member the cut names (nak_repair.c), then EV_CUT_DONE goes up from the
 * timer.
 *
 * No message of its own: EV_LANDING writes the DATA header (nak.c) that
 * the next fragment of a stream would carry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nak.h"

/* --- views ----------------------------------------------------------- */

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
		    (p = nak_peer_new(id, cut_seq_of(c, id))) == NULL)
			goto fail;
		p->mark = 1;
		p->heard = 0;
		np[n++] = p;
	}
	return n;
fail:
	while (n-- > 0)
		if (np[n]->idx < 0 && np[n] != s->me)
			nak_peer_free(np[n]);
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
		nak_stream_restart(&p->tx, epoch);
	if (p->rx.epoch < epoch)
		nak_stream_restart(&p->rx, epoch);
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
		nak_ring_release(&st->ring, seq);
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

/* --- cuts ------------------------------------------------------------ */

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

void
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

/* --- questions from above -------------------------------------------- */

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

void
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
	case EV_ACK_OF:
		e->ack.seq = nak_ack_of(s, e->ack.member, e->ack.stream);
		break;
	case EV_ACK_SOON:
		s->urgent = 1;
		nak_touch(l);
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
