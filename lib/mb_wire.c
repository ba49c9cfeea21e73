/*
 * mb_wire.c: the control messages of the MBRSHIP layer (see mbrship.c,
 * whose header comment gives their layout): building and sending each,
 * and reading the parts that several share (a member set, the protocol
 * stack, where each stream starts in the next view).
 *
 * Its share of the guarantee: control messages go unreliable
 * (MSG_UNRELIABLE), and the timers in mbrship.c send each again while it
 * is due; one that did not fit the buffer it was built in is not sent.
 * The readers here use wire.h's sticky-error cursors, so that none reads
 * past a message's end; each returns -1 on what it refuses.
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "mbrship.h"

/* --- control messages ------------------------------------------------ */

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

void
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
