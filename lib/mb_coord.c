/*
 * mb_coord.c: the coordinator's side of a view change (see mbrship.c):
 * FLUSH to the members of the new view, their FLUSH_OKs gathered into a
 * cut per previous view, the cut obtained, the view installed and
 * announced, restarted without members that stay silent.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "mbrship.h"

/* --- the coordinator's side ------------------------------------------ */

/* Schedule a view change soon, batching whatever else comes meanwhile. */
void
mb_want_change(struct layer *l)
{
	struct mbrship	*mb = l->state;

	if (mb->change_at == 0)
		mb->change_at = layer_now(l) + MB_CHANGE_DELAY;
	mb_rearm(l);
}


/* Run a change to members as view id (again, if a try went unanswered). */
void
mb_change_begin(struct layer *l, uint64_t id, const struct mb_set *members)
{
	struct mbrship	*mb = l->state;
	struct mb_change *ch = &mb->ch;
	uint32_t	 i;

	mb_change_clear(ch);
	if (members->n == 0) {
		mb_gone(l);	/* the last member leaves: nobody to hand over to */
		return;
	}
	ch->active = 1;
	ch->id = id;
	ch->members = *members;
	ch->prev_id = mb->view_id;
	ch->prev_coord = mb->view_coord;
	for (i = 0; i < ch->members.n; i++)
		if (ch->members.m[i] != layer_self(l))
			mb_send_setmsg(l, MB_FLUSH, ch->id, &ch->members,
			    ch->members.m[i]);
	mb->next_retry = layer_now(l) + MB_RETRY;
	if (!set_has(&ch->members, layer_self(l)) && mb->state == MB_NORMAL) {
		/* a leaving coordinator flushes for its successors */
		mb_flush_up(l);
		mb->state = MB_FLUSHING;
	}
	mb_flush_start(l, ch->id, layer_self(l));
	mb_rearm(l);
}

void
mb_change_start(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct mb_set	 members = { 0 };
	uint64_t	 id;
	uint32_t	 i;

	mb->change_at = 0;
	id = mb->view_id;
	if (mb->merge_id > id)
		id = mb->merge_id;
	if (mb->flush_id > id)
		id = mb->flush_id;	/* taking over a dead coordinator's */
	id++;
	mb->merge_id = 0;
	for (i = 0; i < mb->view.n; i++)
		if (!set_has(&mb->leavers, mb->view.m[i]) &&
		    !set_has(&mb->suspects, mb->view.m[i]))
			set_add(&members, mb->view.m[i]);
	for (i = 0; i < mb->joiners.n; i++)
		set_add(&members, mb->joiners.m[i]);
	mb->joiners.n = 0;
	mb_change_begin(l, id, &members);
}

/* Some never answered FLUSH: go on without them, under a new id. */
void
mb_change_restart(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct mb_change *ch = &mb->ch;
	struct mb_set	 answered = { 0 };
	uint32_t	 i;

	for (i = 0; i < ch->members.n; i++)
		if (ch->ok[i] && !set_has(&mb->suspects, ch->members.m[i]))
			set_add(&answered, ch->members.m[i]);
	mb_change_begin(l, ch->id + 1, &answered);
}

void
mb_cut_set(struct cut *dst, const struct cut *src)
{
	free(dst->e);
	dst->n = 0;
	dst->e = reallocarray(NULL, src->n + 1, sizeof(struct cut_entry));
	if (dst->e == NULL)
		return;
	memcpy(dst->e, src->e, src->n * sizeof(struct cut_entry));
	dst->n = src->n;
}

/*
 * The cut for member's previous view: the most any member of that same
 * view holds of each stream.  Members of other views (a partition that
 * healed, a merge) may hold more of a stream, sent in views this member
 * was not in; it does not wait for those, it starts after them.
 */
void
mb_group_cut(const struct mb_change *ch, uint64_t member, struct cut *out)
{
	const struct mb_report *me = NULL, *rp;
	size_t		 j;
	int		 i;

	free(out->e);
	memset(out, 0, sizeof(*out));
	for (i = 0; i < ch->nrep; i++)
		if (ch->rep[i].member == member)
			me = &ch->rep[i];
	for (i = 0; me != NULL && i < ch->nrep; i++) {
		rp = &ch->rep[i];
		if (rp->prev_id != me->prev_id ||
		    rp->prev_coord != me->prev_coord)
			continue;
		for (j = 0; j < rp->vec.n; j++)
			mb_cut_merge(out, rp->vec.e[j].member, rp->vec.e[j].seq,
			    rp->member);
	}
}

void
mb_change_clear(struct mb_change *ch)
{
	int	 i;

	free(ch->cut.e);
	for (i = 0; i < ch->nrep; i++)
		free(ch->rep[i].vec.e);
	memset(ch, 0, sizeof(*ch));
}

/* EV_CUT for the streams of our own previous view only. */
void
mb_cut_down(struct layer *l, struct event *e)
{
	struct mbrship	*mb = l->state;
	size_t		 i;

	e->cut.n = 0;
	e->cut.e = reallocarray(NULL, mb->next_cut.n + 1,
	    sizeof(struct cut_entry));
	if (e->cut.e == NULL)
		return;
	for (i = 0; i < mb->next_cut.n; i++)
		if (set_has(&mb->view, mb->next_cut.e[i].member))
			e->cut.e[e->cut.n++] = mb->next_cut.e[i];
	layer_ctl_down(l, e);
	free(e->cut.e);
}

void
mb_cut_merge(struct cut *c, uint64_t member, uint64_t seq, uint64_t from)
{
	struct cut_entry *e;
	size_t		 i;

	for (i = 0; i < c->n; i++)
		if (c->e[i].member == member) {
			if (seq > c->e[i].seq) {
				c->e[i].seq = seq;
				c->e[i].from = from;
			}
			return;
		}
	e = reallocarray(c->e, c->n + 1, sizeof(*e));
	if (e == NULL)
		return;
	c->e = e;
	c->e[c->n].member = member;
	c->e[c->n].seq = seq;
	c->e[c->n].from = from;
	c->n++;
}

/* All members flushed: obtain the cut ourselves, then announce. */
void
mb_change_cut(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct event	 e = { .type = EV_CUT };

	mb->state = MB_CUTTING;
	mb->cut_deadline = layer_now(l) + MB_MAX_TRIES * MB_RETRY;
	mb_group_cut(&mb->ch, layer_self(l), &mb->next_cut);
	mb_cut_set(&mb->next_start, &mb->ch.cut);
	mb->next = mb->ch.members;
	mb->next_adopt = 0;
	mb->next_statelen = 0;
	mb_cut_down(l, &e);
}

void
mb_on_flush_ok(struct layer *l, uint64_t src, struct wire_rd *r)
{
	struct mbrship	*mb = l->state;
	struct mb_change *ch = &mb->ch;
	struct mb_report *rp;
	uint64_t	 id, member, seq, prev_id, prev_coord;
	uint32_t	 k, i;
	int		 idx;

	id = wire_u64(r);
	prev_id = wire_u64(r);
	prev_coord = wire_u64(r);
	k = wire_u32(r);
	idx = set_index(&ch->members, src);
	if (r->err || !ch->active || id != ch->id ||
	    (idx == -1 && src != layer_self(l)) || k > 4 * MB_MAX_MEMBERS)
		return;
	if (ch->announced) {
		/* it is still flushing: our VIEW to it was lost */
		if (idx != -1 && !ch->ok[idx])
			mb_send_view(l, src);
		return;
	}
	if ((idx != -1 && ch->ok[idx]) || ch->nrep == MB_MAX_MEMBERS + 1)
		return;
	rp = &ch->rep[ch->nrep];
	memset(rp, 0, sizeof(*rp));
	for (i = 0; i < k; i++) {
		member = wire_u64(r);
		seq = wire_u64(r);
		if (r->err) {
			free(rp->vec.e);
			return;
		}
		mb_cut_merge(&ch->cut, member, seq, src);
		mb_cut_merge(&rp->vec, member, seq, src);
	}
	rp->member = src;
	rp->prev_id = prev_id;
	rp->prev_coord = prev_coord;
	ch->nrep++;
	if (idx == -1)
		return;		/* a leaving coordinator's own vector */
	ch->ok[idx] = 1;
	for (i = 0; i < ch->members.n; i++)
		if (!ch->ok[i])
			return;
	if (mb->state == MB_FLUSHING && mb->flush_coord == layer_self(l) &&
	    mb->flush_id == ch->id)
		mb_change_cut(l);
}

/* The coordinator holds the cut: install, then tell everyone. */
void
mb_change_announce(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct mb_change *ch = &mb->ch;
	uint32_t	 i;
	int		 staying = set_has(&ch->members, layer_self(l));

	memset(ch->ok, 0, sizeof(ch->ok));
	ch->announced = 1;
	if (staying) {
		mb_install(l);
		ch->statelen = mb->next_statelen;
		memcpy(ch->state, mb->next_state, ch->statelen);
		ch->ok[set_index(&ch->members, layer_self(l))] = 1;
	} else {
		/* leaving: let the order layer finish the old view */
		struct event	 e = { .type = EV_VIEW };
		struct to_view	 v = { .id = ch->id, .n = ch->members.n,
				    .members = ch->members.m,
				    .self = layer_self(l) };

		e.view = &v;
		e.prev_view_id = mb->view_id;
		layer_ctl_up(l, &e);
		ch->statelen = e.view_state_len;
		memcpy(ch->state, e.view_state, ch->statelen);
	}
	for (i = 0; i < ch->members.n; i++)
		if (ch->members.m[i] != layer_self(l))
			mb_send_view(l, ch->members.m[i]);
	mb->next_retry = layer_now(l) + MB_RETRY;
	mb_rearm(l);
}

void
mb_on_view_ack(struct layer *l, uint64_t src, struct wire_rd *r)
{
	struct mbrship	*mb = l->state;
	struct mb_change *ch = &mb->ch;
	uint64_t	 id = wire_u64(r);
	uint32_t	 i;
	int		 idx;

	if (r->err || !ch->active || !ch->announced || id != ch->id ||
	    (idx = set_index(&ch->members, src)) == -1)
		return;
	ch->ok[idx] = 1;
	for (i = 0; i < ch->members.n; i++)
		if (!ch->ok[i])
			return;
	mb_change_done(l);
}

/* Every member installed the view (or went silent). */
void
mb_change_done(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct mb_change *ch = &mb->ch;

	int		 staying = set_has(&ch->members, layer_self(l));

	mb_change_clear(ch);
	if (mb->leaving && !staying)
		mb_gone(l);
	else if (mb->joiners.n > 0 || mb->leavers.n > 0)
		mb_want_change(l);
}

void
mb_on_join(struct layer *l, uint64_t src)
{
	struct mbrship	*mb = l->state;

	if (!mb_is_coord(l) || set_has(&mb->view, src) ||
	    (mb->ch.active && set_has(&mb->ch.members, src)))
		return;
	if (set_add(&mb->joiners, src) == 0)
		mb_want_change(l);
}

void
mb_on_leave(struct layer *l, uint64_t src)
{
	struct mbrship	*mb = l->state;

	if (!mb_is_coord(l))
		return;
	/* also to one already out: its first LEAVE_OK was lost */
	mb_send_simple(l, MB_LEAVE_OK, src);
	if (set_has(&mb->view, src) && set_add(&mb->leavers, src) == 0 &&
	    !mb->ch.active)
		mb_want_change(l);
}

/*
 * A joiner hears a group of its name running another protocol stack:
 * joining it would mix protocols, so it stops and says why.
 */
static void
mb_wrong_protocol(struct layer *l, const char *theirs)
{
	struct mbrship	*mb = l->state;
	struct event	 e = { .type = EV_EXIT, .error = EPROTO };

	snprintf(e.why, sizeof(e.why), "the group runs %s, not %s", theirs,
	    mb->proto);
	mb->state = MB_LEFT;
	layer_ctl_up(l, &e);
}

/*
 * A joiner, or a member alone, hears a group that has no room for it:
 * merging would exceed MB_MAX_MEMBERS (and be retried without end), so
 * it stops and says why.
 */
static void
mb_group_full(struct layer *l, uint32_t n)
{
	struct mbrship	*mb = l->state;
	struct event	 e = { .type = EV_EXIT, .error = EUSERS };

	snprintf(e.why, sizeof(e.why), "the group is full: %" PRIu32
	    " members, the most a view holds is %d", n, MB_MAX_MEMBERS);
	mb->state = MB_LEFT;
	layer_ctl_up(l, &e);
}

/*
 * Another coordinator's HELLO: the senior view (more members, then the
 * smaller coordinator id) absorbs the junior one.
 */
void
mb_on_hello(struct layer *l, uint64_t src, struct wire_rd *r)
{
	struct mbrship	*mb = l->state;
	struct mb_set	 other;
	uint64_t	 id = wire_u64(r);
	uint32_t	 i;
	char		 theirs[32];

	if (mb_get_set(r, &other) == -1)
		return;
	if (mb_get_proto(r, mb, theirs, sizeof(theirs)) == -1) {
		if (!r->err && mb->state == MB_JOINING)
			mb_wrong_protocol(l, theirs);
		return;		/* never merge with another protocol */
	}
	if ((mb->state == MB_JOINING || (mb->view.n == 1 &&
	    !set_has(&other, layer_self(l)))) && mb->state != MB_LEFT &&
	    !mb->leaving && other.n + 1 > MB_MAX_MEMBERS) {
		mb_group_full(l, other.n);
		return;
	}
	if (mb->state != MB_JOINING && mb->state != MB_LEFT && !mb->leaving &&
	    set_has(&mb->view, src) && id > mb->view_id &&
	    !set_has(&other, layer_self(l))) {
		mb_apart(l, id, &other);
		return;
	}
	if (!mb_is_coord(l) || mb->ch.active || mb->leaving ||
	    set_has(&mb->view, src))
		return;
	if (other.n > mb->view.n ||
	    (other.n == mb->view.n && src < layer_self(l)))
		return;		/* we are the junior: wait for its FLUSH */
	for (i = 0; i < other.n; i++)
		if (!set_has(&mb->view, other.m[i]))
			set_add(&mb->joiners, other.m[i]);
	if (id > mb->merge_id)
		mb->merge_id = id;
	mb_want_change(l);
}
