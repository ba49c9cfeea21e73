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
 * The coordinator's side of a change is in mb_coord.c, a member's in
 * mb_member.c; the control messages are built and read in mb_wire.c.
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

/* --- layer entry points ---------------------------------------------- */

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
	struct to_view	 v = { .id = 0 };
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
mb_up(struct layer *l, struct to_msg *m)
{
	struct wire_rd	 r = { msg_data(m) + 1, msg_len(m) - 1, 0 };
	uint64_t	 src = m->meta.src;
	int		 type = msg_len(m) > 0 ? msg_data(m)[0] : 0;
	char		 name[32];

	if (((struct mbrship *)l->state)->state == MB_LEFT) {
		/* out for good: a late FLUSH or VIEW must not put us in a
		 * view, whose ALIVEs would keep the others from taking a
		 * member that is gone for gone */
		msg_free(m);
		return;
	}
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

	if (mb->state == MB_LEFT)
		return;
	mb_woke(l);
	if (mb->flush_id != 0 && mb->flush_coord != layer_self(l) &&
	    now >= mb->flush_heard + MB_JOIN_WAIT && !mb->paused)
		mb_flush_abandon(l);
	if (mb->state == MB_JOINING) {
		if (now >= mb->discover_at && mb->flush_id == 0) {
			mb_install_alone(l, 1, 0);
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
