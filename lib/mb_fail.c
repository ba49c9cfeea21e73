/*
 * mb_fail.c: failure detection for MBRSHIP (see mbrship.c): members
 * silent for the suspect timeout are suspected, the lowest unsuspected
 * rank coordinates, stuck cuts and flushes are given up, and a member
 * excluded while alive closes its view alone to be merged back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "mbrship.h"

/* --- failure detection ---------------------------------------------- */

void
mb_heard(struct layer *l, uint64_t src)
{
	struct mbrship	*mb = l->state;
	int		 i = set_index(&mb->view, src);

	if (i < 0)
		return;
	mb->heard[i] = layer_now(l);
	/* heard again before anything came of it: not dead after all */
	if (set_has(&mb->suspects, src) && !mb->ch.active &&
	    mb->state == MB_NORMAL)
		set_del(&mb->suspects, src);
}

/* Members silent for the suspect timeout are suspected; the coordinator
 * (perhaps newly so, its seniors suspected) starts a change without them. */
void
mb_check_failures(struct layer *l)
{
	struct mbrship	*mb = l->state;
	uint64_t	 now = layer_now(l);
	uint32_t	 i;
	int		 news = 0;

	if (mb->state == MB_JOINING || mb->state == MB_LEFT || mb->paused)
		return;
	for (i = 0; i < mb->view.n; i++) {
		if (mb->view.m[i] == layer_self(l) ||
		    set_has(&mb->suspects, mb->view.m[i]) ||
		    now - mb->heard[i] < mb->suspect_ns)
			continue;
		set_add(&mb->suspects, mb->view.m[i]);
		news = 1;
	}
	if (mb->state == MB_CUTTING && now >= mb->cut_deadline)
		mb_cut_stuck(l);
	if (mb->leaving && mb_coord(mb) == layer_self(l) &&
	    !set_has(&mb->leavers, layer_self(l))) {
		/* leaving, and everyone else silent: nobody to say goodbye
		 * to, and a leaver starts no view of its own */
		mb_gone(l);
		return;
	}
	if ((news || mb->suspects.n > 0) && mb_is_coord(l) &&
	    !mb->ch.active && mb->change_at == 0)
		mb_want_change(l);
}

/*
 * The coordinator of the change we are in has gone quiet: it died, or went
 * on without us.  A joiner looks for a group again; a member suspects it,
 * so the coordinator of its own view (perhaps itself) runs a new change.
 */
void
mb_flush_abandon(struct layer *l)
{
	struct mbrship	*mb = l->state;

	if (mb->state == MB_JOINING) {
		mb->flush_id = 0;
		mb->flush_coord = 0;
		mb->next_retry = 0;
		mb->discover_at = layer_now(l) + MB_DISCOVERY +
		    layer_random(l) % (200 * MS);
		return;
	}
	set_add(&mb->suspects, mb->flush_coord);
	mb->flush_heard = layer_now(l);
	if (mb_is_coord(l) && !mb->ch.active)
		mb_want_change(l);
}

/*
 * A cut that does not complete: a holder of messages died.  The
 * coordinator runs the change again with fresh vectors; a member asks the
 * coordinator, which held the whole cut before it sent VIEW.
 */
void
mb_cut_stuck(struct layer *l)
{
	struct mbrship	*mb = l->state;
	struct event	 e = { .type = EV_CUT };
	size_t		 i;

	mb->cut_deadline = layer_now(l) + MB_MAX_TRIES * MB_RETRY;
	if (mb->ch.active && mb->flush_coord == layer_self(l)) {
		mb_change_restart(l);
		return;
	}
	for (i = 0; i < mb->next_cut.n; i++)
		mb->next_cut.e[i].from = mb->flush_coord;
	mb_cut_down(l, &e);
}

/*
 * Our coordinator announces a view without us: we were taken for dead.
 * Close the view we had alone; as a group of one we will be merged back.
 */
void
mb_excluded(struct layer *l, uint64_t newer)
{
	struct mbrship	*mb = l->state;

	if (mb->state == MB_NORMAL)
		mb_flush_up(l);
	mb_change_clear(&mb->ch);
	mb->joiners.n = mb->leavers.n = 0;
	mb->change_at = mb->next_retry = 0;
	mb_release_late(l, NULL);	/* alone: nobody to agree with */
	mb_install_alone(l, (newer > mb->view_id ? newer : mb->view_id) + 1,
	    1);
}

/*
 * src, of our view, announces view id of members other, without us: they
 * and we are apart.  That alone does not say which side was cut off: src
 * may be the one that was (it woke from a stop and closed its view
 * alone), and the rest of our view still with us.  So we suspect the
 * members of our view that went on in other; if that leaves nobody, we
 * were taken for dead and close our view alone, else the coordinator of
 * what is left (perhaps us) runs a change without them.
 */
void
mb_apart(struct layer *l, uint64_t id, const struct mb_set *other)
{
	struct mbrship	*mb = l->state;
	uint32_t	 i, left = 0;

	for (i = 0; i < mb->view.n; i++) {
		if (mb->view.m[i] == layer_self(l))
			continue;
		if (set_has(other, mb->view.m[i]))
			set_add(&mb->suspects, mb->view.m[i]);
		else if (!set_has(&mb->suspects, mb->view.m[i]))
			left++;
	}
	if (left == 0) {
		mb_excluded(l, id);
		return;
	}
	if (mb_is_coord(l) && !mb->ch.active && mb->change_at == 0)
		mb_want_change(l);
}

/*
 * The process did not run for longer than the suspect time (SIGSTOP, a
 * machine that slept, a starved host): by now the others have taken us
 * for dead and closed our view without us.  What waits in our socket is
 * of that view, and an orderer that took it in would order, and deliver
 * at once, what the others' flush has already delivered in an order of
 * its own.  So we close our view alone before anything else, as if told
 * we were excluded; if they had not yet gone on, they merge us back.
 * Our timers run at least every fifth of the suspect time (ALIVE), so
 * a gap this long is never an idle member.
 */
void
mb_woke(struct layer *l)
{
	struct mbrship	*mb = l->state;
	uint64_t	 now = layer_now(l), last = mb->last_run;

	mb->last_run = now;
	if (last == 0 || now - last <= mb->suspect_ns || mb->leaving ||
	    mb->view.n < 2 || (mb->state != MB_NORMAL &&
	    mb->state != MB_FLUSHING && mb->state != MB_CUTTING))
		return;
	layer_stats(l)->stops++;
	/* the view after ours is theirs, without us: ours comes after it */
	mb_excluded(l, mb->view_id + 1);
}

/*
 * src proposes members s as view id while we are in coord's flush: follow
 * src if both are of our view and src left coord out, or we suspect
 * coord, or src merges coord's change into a later one of its own (coord
 * gives its own up for it, mb_on_flush, and would leave us waiting).
 */
int
mb_takes_over(struct layer *l, uint64_t src, uint64_t coord, uint64_t id,
    const struct mb_set *s)
{
	struct mbrship	*mb = l->state;

	if (mb->state == MB_JOINING)
		return 0;
	if (set_has(&mb->suspects, coord))
		return 1;
	if (id > mb->flush_id && set_has(s, coord))
		return 1;
	return set_has(&mb->view, src) && set_has(&mb->view, coord) &&
	    !set_has(s, coord);
}

