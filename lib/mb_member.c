/*
 * mb_member.c: a member's side of a view change in the MBRSHIP layer (see
 * mbrship.c; the coordinator's side is in mb_coord.c): a FLUSH answered
 * with FLUSH_OK after EV_FLUSH up, then on VIEW the cut of the previous
 * view obtained (EV_CUT), the view installed and VIEW_ACK sent; and the
 * data that arrives across the change.
 *
 * Its share of the guarantee: no message sent in one view is delivered
 * in another.  Data of a view not yet installed waits until it is, data
 * of older views is dropped.  Data of our view that arrives after our
 * FLUSH_OK waits until the cut is known, and only what lies within it is
 * delivered, so that the members that install both views deliver the
 * same set.  A joiner obtains no cut; it, and a member of a view that
 * merges into the coordinator's, takes the coordinator's order state.
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "mbrship.h"

/* --- every member's side --------------------------------------------- */

/* EV_FLUSH up: the layer above may send what it buffered, now only. */
void
mb_flush_up(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct event	 e = { .type = EV_FLUSH };

	mb->in_flush_upcall = 1;
	layer_ctl_up(l, &e);
	mb->in_flush_upcall = 0;
}

void
mb_flush_start(struct layer *l, uint64_t id, uint64_t coord)
{
	struct mbrship	*mb = l->state;

	if (mb->state == MB_NORMAL) {
		mb_flush_up(l);
		mb->state = MB_FLUSHING;
	}
	if (mb->state == MB_CUTTING)
		mb->state = MB_FLUSHING;	/* that change died: this one */
	/* a joiner has no old view to flush and stays MB_JOINING */
	mb->flush_id = id;
	mb->flush_coord = coord;
	mb->flush_heard = layer_now(l);
	mb_send_flush_ok(l);
	if (coord != layer_self(l))
		mb->next_retry = layer_now(l) + MB_RETRY;
	mb_rearm(l);
}

void
mb_on_flush(struct layer *l, uint64_t src, struct wire_rd *r)
{
	struct mbrship	*mb = l->state;
	struct mb_set	 s;
	uint64_t	 id = wire_u64(r);

	if (mb_get_set(r, &s) == -1 || !set_has(&s, layer_self(l)) ||
	    mb->state == MB_LEFT)
		return;
	if (mb->state != MB_JOINING && id <= mb->view_id)
		return;
	if (mb->flush_id == id && mb->flush_coord == src) {
		mb->flush_heard = layer_now(l);
		if (mb->state != MB_CUTTING)
			mb_send_flush_ok(l);	/* our answer was lost */
		return;
	}
	/*
	 * One flush at a time: a coordinator we answered may count on us.
	 * We follow another only if it has left ours out (it found it dead)
	 * or we suspect ours ourselves.
	 */
	if (mb->flush_id != 0 && mb->flush_coord != layer_self(l) &&
	    src != mb->flush_coord) {
		if (!mb_takes_over(l, src, mb->flush_coord, id, &s))
			return;
		if (!set_has(&s, mb->flush_coord))
			set_add(&mb->suspects, mb->flush_coord);
	} else if (mb->flush_id != 0 && id < mb->flush_id)
		return;
	if (mb->state == MB_CUTTING && src == mb->flush_coord)
		return;
	if (mb->ch.active && src != layer_self(l)) {
		/* another has taken over from us: stand down */
		mb_change_clear(&mb->ch);
	}
	mb_flush_start(l, id, src);
}

void
mb_on_view(struct layer *l, uint64_t src, struct wire_rd *r)
{
	struct mbrship	*mb = l->state;
	struct event	 e = { .type = EV_CUT };
	struct mb_set	 s;
	uint64_t	 id, prev_id, prev_coord;
	uint32_t	 k, i;
	struct wire_wr	 w;
	struct to_msg	*ack;
	const unsigned char *p;

	id = wire_u64(r);
	prev_id = wire_u64(r);
	prev_coord = wire_u64(r);
	if (mb_get_set(r, &s) == -1 || !set_has(&s, layer_self(l)))
		return;
	if (id <= mb->view_id && mb->state != MB_JOINING) {
		if (id == mb->view_id && src == mb->view_coord) {
			/* our VIEW_ACK was lost */
			ack = mb_msg(9, &w);
			wire_put8(&w, MB_VIEW_ACK);
			wire_put64(&w, id);
			mb_send(l, ack, &w, src);
		}
		return;
	}
	if (id != mb->flush_id || src != mb->flush_coord ||
	    mb->state == MB_CUTTING)
		return;
	mb->flush_heard = layer_now(l);
	k = wire_u32(r);
	if (k > 4 * MB_MAX_MEMBERS)
		return;
	free(mb->next_cut.e);
	mb->next_cut.n = 0;
	mb->next_cut.e = reallocarray(NULL, k + 1, sizeof(struct cut_entry));
	if (mb->next_cut.e == NULL)
		return;
	for (i = 0; i < k; i++) {
		mb->next_cut.e[i].member = wire_u64(r);
		mb->next_cut.e[i].seq = wire_u64(r);
		mb->next_cut.e[i].from = wire_u64(r);
	}
	mb->next_cut.n = k;
	if (mb_read_start(r, &mb->next_start) == -1)
		return;
	mb->next_statelen = wire_u8(r);
	if (r->err || mb->next_statelen > sizeof(mb->next_state))
		return;
	if ((p = wire_take(r, mb->next_statelen)) == NULL)
		return;
	memcpy(mb->next_state, p, mb->next_statelen);
	mb->next = s;
	/* a joiner, or a member of a view merging into the coordinator's,
	 * takes the coordinator's order state */
	mb->next_adopt = mb->state == MB_JOINING || prev_id != mb->view_id ||
	    prev_coord != mb->view_coord;
	if (mb->state == MB_JOINING) {
		/* nothing of an old view to obtain */
		mb->state = MB_CUTTING;
		mb_install(l);
	} else {
		mb->state = MB_CUTTING;
		mb->cut_deadline = layer_now(l) + MB_MAX_TRIES * MB_RETRY;
		mb_cut_down(l, &e);
	}
}

/*
 * Early data of the view we just installed goes up, in arrival order;
 * data of older views will never be ours; data of newer views waits on.
 * It may be of several views: a member that goes from view 6 to view 8
 * hears members that installed a view 7 without it first, and must not
 * drop the data of 8 for holding that of 7 (totem lost its token so).
 */
void
mb_release_future(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct to_msg	**q = mb->future, *m;
	size_t		 i, n = mb->nfuture, keep = 0;

	mb->future = NULL;	/* what comes meanwhile is held afresh */
	mb->nfuture = 0;
	for (i = 0; i < n; i++) {
		m = q[i];
		if (m->meta.view_id > mb->view_id)
			q[keep++] = m;
		else if (m->meta.view_id < mb->view_id)
			msg_free(m);
		else
			layer_up(l, m);
	}
	if (mb->nfuture > 0) {
		/* held during an upcall (none is known to): after ours */
		if (keep + mb->nfuture > n) {
			struct to_msg **nq = reallocarray(q,
			    keep + mb->nfuture, sizeof(*q));

			if (nq == NULL) {	/* ours go: ENOMEM */
				while (keep > 0)
					msg_free(q[--keep]);
				free(q);
				return;
			}
			q = nq;
		}
		memcpy(q + keep, mb->future, mb->nfuture * sizeof(*q));
		keep += mb->nfuture;
		free(mb->future);
	}
	mb->future = q;
	mb->nfuture = keep;
}

void
mb_install(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct event	 e;
	struct to_view	 v;
	struct wire_wr	 w;
	struct to_msg	*ack;
	uint64_t	 prev = mb->view_id;

	v.id = mb->flush_id;
	v.n = mb->next.n;
	v.members = mb->next.m;
	v.self = layer_self(l);
	v.cut_off = mb->next_cut_off;
	mb->next_cut_off = 0;
	memset(&e, 0, sizeof(e));
	e.type = EV_VIEW;
	e.view = &v;
	e.cut = mb->next_start;
	layer_ctl_down(l, &e);
	mb->view = mb->next;
	mb->view_id = mb->flush_id;
	mb->view_coord = mb->flush_coord;
	mb->state = MB_NORMAL;
	mb->suspects.n = 0;
	for (uint32_t i = 0; i < mb->view.n; i++)
		mb->heard[i] = layer_now(l);
	mb->flush_id = 0;
	mb_keep_members(&mb->leavers, &mb->view);
	memset(&e, 0, sizeof(e));
	e.type = EV_VIEW;
	e.view = &v;
	e.prev_view_id = prev;
	e.adopt_state = mb->next_adopt;
	e.view_state_len = mb->next_statelen;
	memcpy(e.view_state, mb->next_state, mb->next_statelen);
	layer_stats(l)->views++;
	layer_ctl_up(l, &e);
	mb->next_statelen = e.view_state_len;
	memcpy(mb->next_state, e.view_state, e.view_state_len);
	if (mb->flush_coord != layer_self(l)) {
		ack = mb_msg(9, &w);
		wire_put8(&w, MB_VIEW_ACK);
		wire_put64(&w, mb->view_id);
		mb_send(l, ack, &w, mb->flush_coord);
	}
	mb->next_hello = layer_now(l);
	mb_release_future(l);
	mb_rearm(l);
}

/*
 * Install a view of ourselves alone, as id: when we find nobody, or when
 * the group took us for dead (cut_off: the view says so, for the gap it
 * leaves).  There is no cut to obtain and no state to adopt; the view's
 * coordinator merges us back when it hears our HELLO.  Alone after a
 * change that others did not answer, or after the others left, we were
 * cut off from nothing: that view comes from mb_install as any other.
 */
void
mb_install_alone(struct layer *l, uint64_t id, int cut_off)
{
	struct mbrship	*mb = l->state;

	mb->flush_id = id;
	mb->flush_coord = layer_self(l);
	mb->next.n = 1;
	mb->next.m[0] = layer_self(l);
	free(mb->next_cut.e);
	memset(&mb->next_cut, 0, sizeof(mb->next_cut));
	free(mb->next_start.e);
	memset(&mb->next_start, 0, sizeof(mb->next_start));
	mb->next_statelen = 0;
	mb->next_adopt = 0;
	mb->next_cut_off = cut_off;
	mb_install(l);
}

void
mb_cut_done(struct layer *l)
{
	struct mbrship	*mb = l->state;

	if (mb->state != MB_CUTTING)
		return;
	mb_release_late(l, &mb->next_cut);
	if (mb->ch.active && mb->flush_coord == layer_self(l))
		mb_change_announce(l);
	else
		mb_install(l);
}

/* --- data across a change -------------------------------------------- */

static void
mb_hold_future(struct layer *l, struct to_msg *m, uint64_t vid)
{
	struct mbrship	*mb = l->state;
	struct to_msg	**q;

	if (mb->nfuture == MB_MAX_FUTURE ||
	    (q = reallocarray(mb->future, mb->nfuture + 1, sizeof(*q))) ==
	    NULL) {
		layer_stats(l)->dropped_bad++;
		msg_free(m);
		return;
	}
	mb->future = q;
	mb->future[mb->nfuture++] = m;
}

/*
 * After our FLUSH_OK the coordinator cuts each stream at the most any
 * member of our view reported holding.  A gap that fills only now may
 * bring messages past that cut, which the others will never deliver:
 * hold them until the cut is known.
 */
static void
mb_hold_late(struct layer *l, struct to_msg *m)
{
	struct mbrship	*mb = l->state;
	struct to_msg	**q;

	if (mb->nlate == MB_MAX_FUTURE ||
	    (q = reallocarray(mb->late, mb->nlate + 1, sizeof(*q))) == NULL) {
		msg_free(m);
		return;
	}
	mb->late = q;
	mb->late[mb->nlate++] = m;
}

/* Deliver the held messages that lie within cut (all, if cut is NULL). */
void
mb_release_late(struct layer *l, const struct cut *cut)
{
	struct mbrship	*mb = l->state;
	struct to_msg	**q = mb->late, *m;
	size_t		 i, j, n = mb->nlate;
	int		 within;

	mb->late = NULL;
	mb->nlate = 0;
	for (i = 0; i < n; i++) {
		m = q[i];
		within = cut == NULL;
		for (j = 0; cut != NULL && j < cut->n; j++)
			if (cut->e[j].member == m->meta.src)
				within = m->meta.dst == 0 &&
				    m->meta.stream_seq <= cut->e[j].seq;
		if (within)
			layer_up(l, m);
		else
			msg_free(m);
	}
	free(q);
}

void
mb_up_data(struct layer *l, struct to_msg *m)
{
	struct mbrship	*mb = l->state;
	const unsigned char *h = msg_data(m);
	uint64_t	 vid;

	if (msg_len(m) < 9) {
		layer_stats(l)->dropped_bad++;
		msg_free(m);
		return;
	}
	vid = get64(h + 1);
	msg_pull(m, 9);
	m->meta.view_id = vid;
	if (vid == mb->view_id && (mb->state == MB_FLUSHING ||
	    mb->state == MB_CUTTING) && !mb->in_flush_upcall)
		mb_hold_late(l, m);
	else if (vid == mb->view_id && mb->state != MB_JOINING)
		layer_up(l, m);
	else if (vid > mb->view_id)
		mb_hold_future(l, m, vid);
	else
		msg_free(m);
}
