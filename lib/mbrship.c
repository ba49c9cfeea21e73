/*
 * mbrship.c: the MBRSHIP layer: members find each other, agree on views,
 * and change views with the flush protocol (paper section 2; Horus's
 * virtually synchronous layer).
 *
 * Guarantees to the layer above:
 *  - views are installed in increasing id order; members[0] (rank 0) is
 *    the member of the oldest standing; the coordinator is rank 0;
 *  - between two consecutive views, the members that install both deliver
 *    the same set of messages (the flush), and no message sent in one view
 *    is delivered in another (data carries its view id; early arrivals wait);
 *  - EV_FLUSH goes up before a view change; the layer above stops sending
 *    ordered messages and may send what it buffered (as unordered) during
 *    that call only;
 *  - a joiner's stream starts at its first view.
 *
 * The view change, run by the coordinator (rank 0 of the current view, or
 * the senior of two views that merge, or a leaving rank 0 for its
 * successors):
 *  1. FLUSH(new id, members) to every member of the new view;
 *  2. each answers FLUSH_OK(new id, previous view, receive vector) after
 *     EV_FLUSH up; from then on it sends no data;
 *  3. the coordinator takes, per stream, the highest sequence any member
 *     holds (the cut) and who holds it, obtains the cut itself (EV_CUT),
 *     installs the view and sends VIEW(id, members, cut, order state);
 *  4. each member obtains the cut of its previous view's streams, installs
 *     and answers VIEW_ACK.
 * Control messages are unreliable (MSG_UNRELIABLE) and retried on timers.
 *
 * Failure detection (mb_fail.c): every member sends ALIVE each fifth of
 * the suspect timeout; the silent are suspected; the coordinator is the
 * lowest rank not suspected, so a successor takes over with no messages.
 * The coordinator's side of a change is in mb_coord.c.
 *
 * Deviations: joins are batched for MB_CHANGE_DELAY; a partition's sides
 * each go on with their own view and merge when they hear each other's
 * HELLO (the view with more members, then the smaller coordinator id,
 * absorbs the other).
 *
 * Header (byte 0 is the type; all integers big-endian):
 *	DATA	 type u64:view						9 bytes
 *	JOIN	 type u8:len len*protocol
 *	HELLO	 type u64:view u32:n n*u64:member u8:len len*protocol
 *	FLUSH	 type u64:new-view u32:n n*u64:member
 *	FLUSH_OK type u64:new-view u64:prev-view u64:prev-coord
 *		 u32:k k*(u64:member u64:seq)
 *	VIEW	 type u64:view u64:prev-view u64:prev-coord u32:n n*u64:member
 *		 u32:k k*(u64:member u64:seq u64:from)	the cut of the
 *						receiver's previous view
 *		 u32:j j*(u64:member u64:seq)		where streams start
 *		 u8:len len*state
 *	VIEW_ACK type u64:view
 *	LEAVE, LEAVE_OK  type
 *	ALIVE	 type u64:view			(every suspect timeout / 5)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "mbrship.h"

/* The coordinator: the member of lowest rank not suspected of failure. */
uint64_t
mb_coord(const struct mbrship *mb)
{
	uint32_t	 i;

	for (i = 0; i < mb->view.n; i++)
		if (!set_has(&mb->suspects, mb->view.m[i]))
			return mb->view.m[i];
	return 0;
}

int
mb_is_coord(struct layer *l)
{
	struct mbrship	*mb = l->state;

	return mb->state != MB_JOINING && mb->state != MB_LEFT &&
	    mb_coord(mb) == layer_self(l);
}

/* --- sending control messages ---------------------------------------- */

struct to_msg *
mb_msg(size_t len, struct wire_wr *w)
{
	struct to_msg	*m;

	w->p = NULL;
	w->left = 0;
	w->err = 1;
	if ((m = msg_new(MSG_HEADROOM, len)) == NULL)
		return NULL;
	w->p = msg_data(m);
	w->left = len;
	w->err = 0;
	return m;
}

void
mb_send(struct layer *l, struct to_msg *m, struct wire_wr *w, uint64_t dst)
{
	if (m == NULL)
		return;
	if (w->err) {
		msg_free(m);
		return;
	}
	msg_trim(m, msg_len(m) - w->left);
	m->meta.dst = dst;
	m->meta.flags = MSG_UNRELIABLE;
	(void)layer_down(l, m);
}

void
mb_put_set(struct wire_wr *w, const struct mb_set *s)
{
	uint32_t	 i;

	wire_put32(w, s->n);
	for (i = 0; i < s->n; i++)
		wire_put64(w, s->m[i]);
}

int
mb_get_set(struct wire_rd *r, struct mb_set *s)
{
	uint32_t	 i, n = wire_u32(r);

	if (n > MB_MAX_MEMBERS || n == 0)
		return -1;
	s->n = n;
	for (i = 0; i < n; i++)
		s->m[i] = wire_u64(r);
	return r->err ? -1 : 0;
}

void
mb_send_simple(struct layer *l, enum mb_type t, uint64_t dst)
{
	struct wire_wr	 w;
	struct to_msg	*m = mb_msg(1, &w);

	wire_put8(&w, t);
	mb_send(l, m, &w, dst);
}

void
mb_send_setmsg(struct layer *l, enum mb_type t, uint64_t id,
    const struct mb_set *s, uint64_t dst)
{
	struct wire_wr	 w;
	struct to_msg	*m = mb_msg(13 + 8 * s->n, &w);

	wire_put8(&w, t);
	wire_put64(&w, id);
	mb_put_set(&w, s);
	mb_send(l, m, &w, dst);
}

/* The names of the layers above us, "dynseq" or "totem:x": all must agree. */
static void
mb_name_stack(struct layer *l, char *buf, size_t len)
{
	struct layer	*a;

	buf[0] = '\0';
	for (a = l->above; a != NULL; a = a->above) {
		if (buf[0] != '\0')
			strlcat(buf, ":", len);
		strlcat(buf, a->ops->name, len);
	}
}

static void
mb_put_proto(struct wire_wr *w, const struct mbrship *mb)
{
	size_t	 n = strlen(mb->proto);

	wire_put8(w, (uint8_t)n);
	wire_putmem(w, mb->proto, n);
}

/*
 * Read the protocol named next in r into theirs (printable, cut to fit):
 * 0 if it is ours, -1 if not or malformed (then r->err is set).
 */
int
mb_get_proto(struct wire_rd *r, const struct mbrship *mb, char *theirs,
    size_t len)
{
	size_t		 n = wire_u8(r), i;
	const unsigned char *p = wire_take(r, n);

	if (p == NULL || len == 0)
		return -1;
	for (i = 0; i < n && i < len - 1; i++)
		theirs[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	theirs[i] = '\0';
	i = strlen(mb->proto);
	/* a watcher names no largest message (see mb_init) */
	if (mb->state == MB_WATCHING && n > i && p[i] == ' ')
		n = i;
	return n == i && memcmp(p, mb->proto, n) == 0 ? 0 : -1;
}

static void
mb_send_join(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct wire_wr	 w;
	struct to_msg	*m = mb_msg(2 + strlen(mb->proto), &w);

	wire_put8(&w, MB_JOIN);
	mb_put_proto(&w, mb);
	mb_send(l, m, &w, 0);
}

void
mb_send_hello(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct wire_wr	 w;
	struct to_msg	*m;

	m = mb_msg(14 + 8 * mb->view.n + strlen(mb->proto), &w);
	wire_put8(&w, MB_HELLO);
	wire_put64(&w, mb->view_id);
	mb_put_set(&w, &mb->view);
	mb_put_proto(&w, mb);
	mb_send(l, m, &w, 0);
}

void
mb_send_flush_ok(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct event	 e = { .type = EV_RECV_VECTOR };
	struct wire_wr	 w;
	struct to_msg	*m;
	size_t		 i;
	int		 have_self = 0;

	if (mb->state != MB_JOINING)
		layer_ctl_down(l, &e);
	m = mb_msg(29 + 16 * (e.cut.n + 1), &w);
	wire_put8(&w, MB_FLUSH_OK);
	wire_put64(&w, mb->flush_id);
	wire_put64(&w, mb->state == MB_JOINING ? 0 : mb->view_id);
	wire_put64(&w, mb->state == MB_JOINING ? 0 : mb->view_coord);
	for (i = 0; i < e.cut.n; i++)
		have_self |= e.cut.e[i].member == layer_self(l);
	wire_put32(&w, (uint32_t)e.cut.n + !have_self);
	for (i = 0; i < e.cut.n; i++) {
		wire_put64(&w, e.cut.e[i].member);
		wire_put64(&w, e.cut.e[i].seq);
	}
	if (!have_self) {
		wire_put64(&w, layer_self(l));
		wire_put64(&w, 0);
	}
	free(e.cut.e);
	if (mb->flush_coord == layer_self(l) && m != NULL && !w.err) {
		struct wire_rd	 r = { msg_data(m) + 1,
				    msg_len(m) - w.left - 1, 0 };

		mb_on_flush_ok(l, layer_self(l), &r);
		msg_free(m);
		return;
	}
	mb_send(l, m, &w, mb->flush_coord);
}

void
mb_send_view(struct layer *l, uint64_t dst)
{
	struct mbrship	*mb = l->state;
	struct mb_change *ch = &mb->ch;
	struct cut	 g = { 0, NULL };
	struct wire_wr	 w;
	struct to_msg	*m;
	size_t		 i;

	mb_group_cut(ch, dst, &g);
	m = mb_msg(42 + 8 * ch->members.n + 24 * g.n + 16 * ch->cut.n +
	    ch->statelen, &w);
	wire_put8(&w, MB_VIEW);
	wire_put64(&w, ch->id);
	wire_put64(&w, ch->prev_id);
	wire_put64(&w, ch->prev_coord);
	mb_put_set(&w, &ch->members);
	wire_put32(&w, (uint32_t)g.n);
	for (i = 0; i < g.n; i++) {
		wire_put64(&w, g.e[i].member);
		wire_put64(&w, g.e[i].seq);
		wire_put64(&w, g.e[i].from);
	}
	free(g.e);
	wire_put32(&w, (uint32_t)ch->cut.n);
	for (i = 0; i < ch->cut.n; i++) {
		wire_put64(&w, ch->cut.e[i].member);
		wire_put64(&w, ch->cut.e[i].seq);
	}
	wire_put8(&w, (uint8_t)ch->statelen);
	wire_putmem(&w, ch->state, ch->statelen);
	mb_send(l, m, &w, dst);
}

/* --- every member's side --------------------------------------------- */

void
mb_flush_start(struct layer *l, uint64_t id, uint64_t coord)
{
	struct mbrship	*mb = l->state;
	struct event	 e = { .type = EV_FLUSH };

	if (mb->state == MB_NORMAL) {
		mb->in_flush_upcall = 1;
		layer_ctl_up(l, &e);
		mb->in_flush_upcall = 0;
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

/* Where each stream starts in the next view (the VIEW's last list). */
int
mb_read_start(struct wire_rd *r, struct cut *c)
{
	uint32_t	 i, k = wire_u32(r);

	if (r->err || k > 4 * MB_MAX_MEMBERS)
		return -1;
	free(c->e);
	c->n = 0;
	if ((c->e = reallocarray(NULL, k + 1, sizeof(*c->e))) == NULL)
		return -1;
	for (i = 0; i < k; i++) {
		c->e[i].member = wire_u64(r);
		c->e[i].seq = wire_u64(r);
		c->e[i].from = 0;
	}
	c->n = k;
	return r->err ? -1 : 0;
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
 * the group took us for dead.  There is no cut to obtain and no state to
 * adopt; the view's coordinator merges us back when it hears our HELLO.
 */
void
mb_install_alone(struct layer *l, uint64_t id)
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

/* --- layer entry points ---------------------------------------------- */

static int
mb_init(struct layer *l)
{
	struct mbrship	*mb;
	size_t		 max;

	if ((mb = calloc(1, sizeof(*mb))) == NULL)
		return -1;
	l->state = mb;
	mb_name_stack(l, mb->proto, sizeof(mb->proto));
	/* members agree on the largest message as on the stack (-M) */
	max = layer_config(l)->max_msg ? layer_config(l)->max_msg :
	    TO_MAX_MSG_DEFAULT;
	if (!layer_config(l)->watch)
		snprintf(mb->proto + strlen(mb->proto),
		    sizeof(mb->proto) - strlen(mb->proto), " (-M %zu)", max);
	if (layer_config(l)->watch) {
		mb->state = MB_WATCHING;
		return 0;
	}
	mb->state = MB_JOINING;
	mb->suspect_ns = (layer_config(l)->suspect_ms ?
	    layer_config(l)->suspect_ms : TO_SUSPECT_DEFAULT) * MS;
	mb->discover_at = layer_now(l) + MB_DISCOVERY +
	    layer_random(l) % (200 * MS);
	mb->next_join = layer_now(l);
	mb_rearm(l);
	return 0;
}

static void
mb_fini(struct layer *l)
{
	struct mbrship	*mb = l->state;
	size_t		 i;

	if (mb == NULL)
		return;
	for (i = 0; i < mb->nfuture; i++)
		msg_free(mb->future[i]);
	free(mb->future);
	for (i = 0; i < mb->nlate; i++)
		msg_free(mb->late[i]);
	free(mb->late);
	free(mb->next_cut.e);
	free(mb->next_start.e);
	mb_change_clear(&mb->ch);
	free(mb);
}

/*
 * A watcher reports each view a coordinator announces, once, as an EV_VIEW
 * of which it is not a member.
 */
static void
mb_watch_hello(struct layer *l, uint64_t src, struct wire_rd *r)
{
	struct mbrship	*mb = l->state;
	struct event	 e = { .type = EV_VIEW };
	struct to_view	 v;
	struct mb_set	 s;
	uint64_t	 id = wire_u64(r);
	uint32_t	 i;

	if (mb_get_set(r, &s) == -1 || s.m[0] != src)
		return;
	if (id == mb->view_id && src == mb->view_coord && s.n == mb->view.n) {
		for (i = 0; i < s.n && s.m[i] == mb->view.m[i]; i++)
			;
		if (i == s.n)
			return;		/* seen it */
	}
	mb->view = s;
	mb->view_id = id;
	mb->view_coord = src;
	v.id = id;
	v.n = s.n;
	v.members = mb->view.m;
	v.self = layer_self(l);
	e.view = &v;
	layer_ctl_up(l, &e);
}

static int
mb_down(struct layer *l, struct to_msg *m)
{
	struct mbrship	*mb = l->state;
	unsigned char	*h;

	if (mb->state != MB_NORMAL && !mb->in_flush_upcall) {
		msg_free(m);
		errno = EAGAIN;
		return -1;
	}
	if ((h = msg_push(m, 9)) == NULL) {
		msg_free(m);
		return -1;
	}
	h[0] = MB_DATA;
	put64(h + 1, mb->view_id);
	return layer_down(l, m);
}

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

static void
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

static void
mb_up(struct layer *l, struct to_msg *m)
{
	struct wire_rd	 r = { msg_data(m) + 1, msg_len(m) - 1, 0 };
	uint64_t	 src = m->meta.src;
	int		 type = msg_len(m) > 0 ? msg_data(m)[0] : 0;
	char		 name[32];

	mb_woke(l);
	if (((struct mbrship *)l->state)->state == MB_WATCHING) {
		if (type == MB_HELLO && msg_len(m) > 0)
			mb_watch_hello(l, src, &r);
		msg_free(m);
		return;
	}

	if (type == MB_DATA) {
		if (msg_len(m) >= 9 && get64(msg_data(m) + 1) <=
		    ((struct mbrship *)l->state)->view_id)
			mb_heard(l, src);
		if (m->meta.flags & MSG_UNRELIABLE) {
			layer_stats(l)->dropped_bad++;
			msg_free(m);
		} else
			mb_up_data(l, m);
		return;
	}
	if (msg_len(m) == 0)
		r.left = 0;
	/*
	 * A member already in a newer view does not count as heard: if that
	 * view left us out we suspect it and those with it (mb_apart); left
	 * alone, we close our view and are merged back.
	 */
	if ((type != MB_ALIVE && type != MB_HELLO) || (msg_len(m) >= 9 &&
	    get64(msg_data(m) + 1) <= ((struct mbrship *)l->state)->view_id))
		mb_heard(l, src);
	switch (type) {
	case MB_ALIVE:		break;
	case MB_JOIN:
		if (mb_get_proto(&r, l->state, name, sizeof(name)) == 0)
			mb_on_join(l, src);
		break;
	case MB_HELLO:		mb_on_hello(l, src, &r); break;
	case MB_FLUSH:		mb_on_flush(l, src, &r); break;
	case MB_FLUSH_OK:	mb_on_flush_ok(l, src, &r); break;
	case MB_VIEW:		mb_on_view(l, src, &r); break;
	case MB_VIEW_ACK:	mb_on_view_ack(l, src, &r); break;
	case MB_LEAVE:		mb_on_leave(l, src); break;
	case MB_LEAVE_OK:
		if (((struct mbrship *)l->state)->leaving)
			mb_gone(l);
		break;
	default:
		layer_stats(l)->dropped_bad++;
		break;
	}
	msg_free(m);
}

/* Out of the group: we left, or gave up waiting to be let go. */
void
mb_gone(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct event	 e = { .type = EV_EXIT };

	if (mb->state == MB_LEFT)
		return;
	mb->state = MB_LEFT;
	mb->next_retry = mb->change_at = 0;
	layer_ctl_up(l, &e);
}

static void
mb_leave(struct layer *l)
{
	struct mbrship	*mb = l->state;

	if (mb->leaving || mb->state == MB_LEFT)
		return;
	mb->leaving = 1;
	if (mb->state == MB_JOINING || (mb->view.n == 1 && !mb->ch.active)) {
		mb_gone(l);
		return;
	}
	if (mb_is_coord(l)) {
		set_add(&mb->leavers, layer_self(l));
		if (!mb->ch.active)
			mb_want_change(l);
		return;
	}
	mb_send_simple(l, MB_LEAVE, mb_coord(mb));
	mb->next_retry = layer_now(l) + MB_RETRY;
	mb_rearm(l);
}

/* Paused, we hear no one; resumed, everyone starts afresh. */
static void
mb_pause(struct layer *l, struct event *e)
{
	struct mbrship	*mb = l->state;
	uint32_t	 i;

	mb->paused = e->paused;
	if (!mb->paused) {
		for (i = 0; i < mb->view.n; i++)
			mb->heard[i] = layer_now(l);
		mb->flush_heard = layer_now(l);
	}
	layer_ctl_down(l, e);
}

static void
mb_ctl_down(struct layer *l, struct event *e)
{
	if (e->type == EV_LEAVE)
		mb_leave(l);
	else if (e->type == EV_PAUSE)
		mb_pause(l, e);
	else
		layer_ctl_down(l, e);
}

static void
mb_ctl_up(struct layer *l, struct event *e)
{
	if (e->type == EV_CUT_DONE)
		mb_cut_done(l);
	else
		layer_ctl_up(l, e);
}

/* Re-send whatever is unanswered. */
static void
mb_retry(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct mb_change *ch = &mb->ch;
	uint32_t	 i;

	mb->next_retry = 0;
	if (ch->active && ++ch->tries > MB_MAX_TRIES) {
		if (!ch->announced) {
			mb_change_restart(l);
			return;
		}
		mb_change_done(l);	/* the silent are for failure detection */
	}
	if (ch->active) {
		/* FLUSH goes to all until VIEW: it tells them we live */
		for (i = 0; i < ch->members.n; i++) {
			if (ch->members.m[i] == layer_self(l) ||
			    (ch->announced && ch->ok[i]))
				continue;
			if (ch->announced)
				mb_send_view(l, ch->members.m[i]);
			else
				mb_send_setmsg(l, MB_FLUSH, ch->id,
				    &ch->members, ch->members.m[i]);
		}
		mb->next_retry = layer_now(l) + MB_RETRY;
	}
	if ((mb->state == MB_FLUSHING ||
	    (mb->state == MB_JOINING && mb->flush_id != 0)) &&
	    mb->flush_coord != layer_self(l)) {
		mb_send_flush_ok(l);
		mb->next_retry = layer_now(l) + MB_RETRY;
	}
	if (mb->leaving && mb->state == MB_NORMAL && !mb_is_coord(l)) {
		if (++mb->leave_tries > 4 * MB_MAX_TRIES) {
			mb_gone(l);	/* nobody answers: go all the same */
			return;
		}
		mb_send_simple(l, MB_LEAVE, mb_coord(mb));
		mb->next_retry = layer_now(l) + MB_RETRY;
	}
}

static void
mb_timer(struct layer *l)
{
	struct mbrship	*mb = l->state;
	uint64_t	 now = layer_now(l);

	mb_woke(l);
	if (mb->flush_id != 0 && mb->flush_coord != layer_self(l) &&
	    now >= mb->flush_heard + MB_JOIN_WAIT && !mb->paused)
		mb_flush_abandon(l);
	if (mb->state == MB_JOINING) {
		if (now >= mb->discover_at && mb->flush_id == 0) {
			mb_install_alone(l, 1);
			return;
		}
		if (now >= mb->next_join) {
			mb_send_join(l);
			mb->next_join = now + MB_JOIN_INTERVAL;
		}
	}
	if (mb_is_coord(l) && now >= mb->next_hello) {
		mb_send_hello(l);
		mb->next_hello = now + MB_HELLO_INTERVAL;
	}
	if (mb->state != MB_JOINING && mb->state != MB_LEFT &&
	    now >= mb->next_alive) {
		struct wire_wr	 w;
		struct to_msg	*m = mb_msg(9, &w);

		wire_put8(&w, MB_ALIVE);
		wire_put64(&w, mb->view_id);
		mb_send(l, m, &w, 0);
		mb->next_alive = now + mb->suspect_ns / 5;
		mb_check_failures(l);
	}
	if (mb->change_at != 0 && now >= mb->change_at) {
		int	 takeover = (mb->state == MB_FLUSHING ||
			    mb->state == MB_CUTTING) &&
			    set_has(&mb->suspects, mb->flush_coord);

		if (mb->ch.active || (mb->state != MB_NORMAL && !takeover) ||
		    !mb_is_coord(l))
			mb->change_at = mb_is_coord(l) ?
			    now + MB_CHANGE_DELAY : 0;
		else
			mb_change_start(l);
	}
	if (mb->next_retry != 0 && now >= mb->next_retry)
		mb_retry(l);
	mb_rearm(l);
}

void
mb_rearm(struct layer *l)
{
	struct mbrship	*mb = l->state;
	uint64_t	 t[6];
	int		 i;

	t[0] = mb->flush_id != 0 && mb->flush_coord != layer_self(l) ?
	    mb->flush_heard + MB_JOIN_WAIT :
	    mb->state == MB_JOINING ? mb->discover_at : 0;
	t[1] = mb->state == MB_JOINING ? mb->next_join : 0;
	t[2] = mb_is_coord(l) ? mb->next_hello : 0;
	t[3] = mb->change_at;
	t[4] = mb->next_retry;
	t[5] = mb->state != MB_JOINING && mb->state != MB_LEFT ?
	    mb->next_alive : 0;
	layer_wake(l, 0);
	for (i = 0; i < 6; i++)
		if (t[i] != 0)
			layer_wake_by(l, t[i] > layer_now(l) ? t[i] :
			    layer_now(l) + 1);
}

const struct layer_ops mbrship_ops = {
	.name = "mbrship",
	.about = "membership: views, joins, leaves, the flush protocol",
	.hdr_len = 9,
	.init = mb_init,
	.fini = mb_fini,
	.down = mb_down,
	.up = mb_up,
	.ctl_down = mb_ctl_down,
	.ctl_up = mb_ctl_up,
	.timer = mb_timer,
};
