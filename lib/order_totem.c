/*
 * order_totem.c: Totem and Tomfc, total order by a rotating token (paper
 * section 3, after the Totem single-ring protocol).
 *
 * A token rotates over the view in rank order.  A member buffers what it
 * casts until it holds the token, then sends all of it and passes the
 * token to the next rank, piggybacked on its last message, or in a TOKEN
 * message if it had nothing to send.  The token carries the next global
 * position; each unit sent carries its position (a pack takes one per
 * message), and every member delivers by position across senders,
 * holding a unit until the positions before it are delivered (order.c's
 * order_place).  Token and data go in the holder's reliable broadcast
 * stream, so the next holder has what came before the token.  Tomfc is
 * Totem whose holder packs all it buffered into one packed message per
 * visit (pack "visit"); with any packing, what waits in the pack goes at
 * each visit.
 *
 * Guarantees (over MBRSHIP, NAK): one total order, per-sender FIFO.
 * Latency: n/2 token passes on average before a message may go, n - 1
 * at worst, even with one sender; then one one-way delay.
 *
 * Faults (section 3.1, order.c): at a flush the token is dropped with
 * what waits for it; at the view rank 0 holds the token, its next
 * position the one after the last delivered.
 *
 * Deviations: to_config.visit_max limits the units sent per visit (the
 * paper's footnote 1; 0, the default, sends all).  An idle token does
 * not spin: a holder with nothing to send, once a whole rotation went by
 * without data (the token counts visits that sent nothing), keeps the
 * token for up to TM_HOLD before passing it, and sends at once if a
 * message comes meanwhile.  An idle group passes one token per TM_HOLD;
 * The member that casts into an idle group need not wait for the hold:
 * it knows where the token parked (every token pass is broadcast, and a
 * token that went a whole rotation without data parks at its next
 * holder), so it broadcasts one WAKE naming the token (its next
 * position); the holder that parked that token passes it at once with
 * its idle count restarted, and it travels rank by rank to the waker.
 * A lone message into an idle group thus waits at most n one-way
 * delays, not n/2 holds.
 *
 * Header, big-endian:
 *	DATA	u8 type (1) u8 flags u64 sender-seq u64 position [token]
 *	TOKEN	u8 type (2) token
 *	WAKE	u8 type (3) u64 next position of the parked token
 *	token:	u64 next position, u16 idle (visits in a row with no data)
 *	flags:	0x01 TOKEN: the token, for the next rank, rides on this
 *	(UNORDERED, type 0x80: see order.c)
 * then, after DATA, the unit (pack.c).
 *
 *	 0   1   2               10              18              26   28
 *	+---+---+---------------+---------------+---------------+----+
 *	| 1 |flg|  sender seq   |   position    |  next (token) |idle|
 *	+---+---+---------------+---------------+---------------+----+
 */
#include <stdlib.h>
#include <string.h>

#include "order.h"

#define TM_DATA		1
#define TM_TOKEN	2
#define TM_WAKE		3
#define TM_WAKE_LEN	9
#define TM_F_TOKEN	0x01
#define TM_DATA_HDR	18
#define TM_TOK_LEN	10
#define TM_HOLD		1000000ULL	/* ns an idle token is kept */

struct totem {
	struct order	 o;		/* first: the layer state is both */
	int		 running;	/* 0 during a flush */
	int		 holder;
	int		 visiting;
	uint64_t	 next;		/* token: next global position */
	uint32_t	 idle;		/* token: visits in a row with no data */
	uint64_t	 hold_until;	/* an idle token is kept until then */
	uint64_t	 parked;	/* next position of the token parked
					   elsewhere, or 0 */
	uint64_t	 woken;		/* parked token a WAKE named */
	struct ord_queue q;		/* own units waiting for the token */
};

/* The token parked at another member: ask for it, once per park. */
static void
tm_send_wake(struct totem *tm)
{
	struct to_msg	*m;
	unsigned char	*h;

	if ((m = msg_new(MSG_HEADROOM, TM_WAKE_LEN)) == NULL)
		return;
	h = msg_data(m);
	h[0] = TM_WAKE;
	put64(h + 1, tm->parked);
	tm->parked = 0;
	(void)layer_down(tm->o.l, m);
}

static int
tm_cast(struct order *o, struct to_msg *u)
{
	struct totem	*tm = (struct totem *)o;
	struct ord_msg	 e = { .sender = layer_self(o->l),
	    .sseq = u->meta.sender_seq, .count = pack_count(u), .m = u };

	if (!tm->running) {
		msg_free(u);	/* in o->pending: it goes unordered */
		return 0;
	}
	if (ordq_push(&tm->q, &e) == -1)
		return -1;
	if (tm->holder)
		order_wake_by(o, layer_now(o->l));
	else if (tm->parked != 0)
		tm_send_wake(tm);
	return 0;
}

static void
tm_kick(struct order *o)
{
	struct totem	*tm = (struct totem *)o;

	if (tm->holder)
		order_wake_by(o, layer_now(o->l));
}

static void
tm_put_token(unsigned char *p, uint64_t next, uint32_t idle)
{
	put64(p, next);
	put16(p + 8, idle > 0xffff ? 0xffff : (uint16_t)idle);
}

/* Send unit e at the next position, the token on it if pass. */
static void
tm_send(struct totem *tm, struct ord_msg *e, int pass)
{
	struct order	*o = &tm->o;
	unsigned char	*h;
	size_t		 hl = TM_DATA_HDR + (pass ? TM_TOK_LEN : 0);
	uint64_t	 pos = tm->next;

	tm->next += e->count ? e->count : 1;
	if ((h = msg_push(e->m, hl)) == NULL) {
		msg_free(e->m);
		return;
	}
	h[0] = TM_DATA;
	h[1] = pass ? TM_F_TOKEN : 0;
	put64(h + 2, e->sseq);
	put64(h + 10, pos);
	if (pass) {
		tm_put_token(h + 18, tm->next, 0);
		tm->holder = 0;
		layer_stats(o->l)->tokens_sent++;
	}
	e->m->meta.dst = 0;
	e->m->meta.flags = 0;
	(void)layer_down(o->l, e->m);
}

/* Pass the token alone, to the next rank. */
static void
tm_pass(struct totem *tm)
{
	struct to_msg	*m;
	unsigned char	*h;

	if ((m = msg_new(MSG_HEADROOM, 1 + TM_TOK_LEN)) == NULL)
		return;
	h = msg_data(m);
	h[0] = TM_TOKEN;
	tm_put_token(h + 1, tm->next, tm->idle + 1);
	tm->holder = 0;
	tm->hold_until = 0;
	/* the next holder parks it: what we cast from now on wakes it */
	tm->parked = tm->idle + 2 >= tm->o.view.n ? tm->next : 0;
	layer_stats(tm->o.l)->tokens_sent++;
	(void)layer_down(tm->o.l, m);
}

/* Nothing was sent this visit: pass, or keep an idle token a while. */
static void
tm_idle(struct totem *tm)
{
	struct order	*o = &tm->o;
	uint64_t	 now = layer_now(o->l);

	if (tm->idle + 1 < o->view.n)
		tm_pass(tm);
	else if (tm->woken == tm->next) {
		tm->woken = 0;	/* someone waits for it: straight there */
		tm->idle = 0;
		tm_pass(tm);
	} else if (tm->hold_until == 0) {
		tm->hold_until = now + TM_HOLD;
		order_wake(o, tm->hold_until);
	} else if (now >= tm->hold_until)
		tm_pass(tm);
	else
		order_wake(o, tm->hold_until);
}

/* We hold the token: send what waits (up to visit_max), then pass. */
static void
tm_visit(struct totem *tm)
{
	struct order	*o = &tm->o;
	struct ord_msg	 e;
	uint32_t	 max = layer_config(o->l)->visit_max, sent = 0;
	int		 alone = o->view.n == 1, pass;

	if (tm->visiting || !tm->holder || !tm->running)
		return;
	tm->visiting = 1;
	order_pack_flush(o);
	while (tm->q.n > 0 && (max == 0 || sent < max)) {
		e = *ordq_front(&tm->q);
		ordq_pop(&tm->q);
		pass = !alone && (tm->q.n == 0 || sent + 1 == max);
		tm_send(tm, &e, pass);
		sent++;
	}
	tm->visiting = 0;
	if (alone) {
		if (tm->q.n > 0)
			order_wake_by(o, layer_now(o->l));
	} else if (sent == 0)
		tm_idle(tm);
}

/*
 * The token, passed on by src, seen by every member: one that will not
 * hold it notes whether it parks (a whole rotation went by without data)
 * and wakes it if something waits for it here.
 */
static void
tm_token(struct totem *tm, uint64_t src, const unsigned char *t)
{
	struct order	*o = &tm->o;
	int		 r = order_rank(o, src), me;

	me = order_rank(o, layer_self(o->l));
	if (!tm->running || r < 0 || me < 0)
		return;
	if ((uint32_t)me != ((uint32_t)r + 1) % o->view.n) {
		tm->parked = get16(t + 8) + 1u >= o->view.n ? get64(t) : 0;
		if (tm->parked != 0 && tm->q.n > 0)
			tm_send_wake(tm);
		return;
	}
	tm->parked = 0;
	tm->holder = 1;
	tm->next = get64(t);
	tm->idle = get16(t + 8);
	tm->hold_until = 0;
	tm_visit(tm);
}

/* A member waits for the token that parked at position next. */
static void
tm_wake(struct totem *tm, uint64_t next)
{
	if (!tm->running)
		return;
	tm->woken = next;
	if (tm->holder && tm->hold_until != 0 && tm->q.n == 0)
		tm_idle(tm);	/* parked here: it goes if next is its own */
}

static void
tm_up(struct order *o, struct to_msg *m)
{
	struct totem	*tm = (struct totem *)o;
	const unsigned char *h = msg_data(m);
	unsigned char	 tok[TM_TOK_LEN];
	size_t		 len = msg_len(m), hl;
	uint64_t	 src = m->meta.src, sseq, pos;
	int		 pass;

	if (order_rank(o, src) < 0 || m->meta.dst != 0)
		goto bad;
	if (h[0] == TM_WAKE && len == TM_WAKE_LEN) {
		tm_wake(tm, get64(h + 1));
		msg_free(m);
		return;
	}
	if (h[0] == TM_TOKEN && len == 1 + TM_TOK_LEN) {
		memcpy(tok, h + 1, TM_TOK_LEN);
		msg_free(m);
		tm_token(tm, src, tok);
		return;
	}
	if (h[0] != TM_DATA || len < TM_DATA_HDR || (h[1] & ~TM_F_TOKEN))
		goto bad;
	pass = h[1] & TM_F_TOKEN;
	hl = TM_DATA_HDR + (pass ? TM_TOK_LEN : 0);
	if (len < hl + 1)
		goto bad;
	sseq = get64(h + 2);
	pos = get64(h + 10);
	if (pass)
		memcpy(tok, h + TM_DATA_HDR, TM_TOK_LEN);
	msg_pull(m, hl);
	order_place(o, m, src, sseq, pos);
	if (pass)
		tm_token(tm, src, tok);
	return;
bad:
	layer_stats(o->l)->dropped_bad++;
	msg_free(m);
}

static void
tm_timer(struct order *o)
{
	tm_visit((struct totem *)o);
}

static void
tm_flush(struct order *o)
{
	struct totem	*tm = (struct totem *)o;

	tm->running = 0;
	tm->holder = 0;
	tm->hold_until = 0;
	ordq_clear(&tm->q);
	order_wake(o, 0);
}

static void
tm_view(struct order *o)
{
	struct totem	*tm = (struct totem *)o;

	ordq_clear(&tm->q);
	tm->running = 1;
	tm->holder = o->view.members[0] == layer_self(o->l);
	tm->next = o->gseq + 1;
	tm->idle = 0;
	tm->hold_until = 0;
	tm->parked = tm->woken = 0;
	if (tm->holder)
		order_wake_by(o, layer_now(o->l));
}

static const struct order_proto totem_proto = {
	.cast = tm_cast,
	.up = tm_up,
	.flush = tm_flush,
	.view = tm_view,
	.kick = tm_kick,
	.timer = tm_timer,
};

static int
tm_init_as(struct layer *l, const char *pack)
{
	return order_layer_new(l, sizeof(struct totem), &totem_proto,
	    pack) == NULL ? -1 : 0;
}

static int
totem_init(struct layer *l)
{
	return tm_init_as(l, "off");
}

static int
tomfc_init(struct layer *l)
{
	return tm_init_as(l, "visit");
}

static void
tm_fini(struct layer *l)
{
	struct totem	*tm = l->state;

	if (tm == NULL)
		return;
	order_fini(&tm->o);
	ordq_free(&tm->q);
	free(tm);
	l->state = NULL;
}

const struct layer_ops totem_ops = {
	.name = "totem",
	.about = "a token rotates over the members in rank order; the "
	    "holder sends what it buffered",
	.hdr_len = TM_DATA_HDR + TM_TOK_LEN + PACK_ONE_HDR,
	.init = totem_init,
	.fini = tm_fini,
	ORDER_LAYER_ENTRIES,
};

const struct layer_ops tomfc_ops = {
	.name = "tomfc",
	.about = "totem whose token holder packs all it buffered into one "
	    "message",
	.hdr_len = TM_DATA_HDR + TM_TOK_LEN + PACK_ONE_HDR,
	.init = tomfc_init,
	.fini = tm_fini,
	ORDER_LAYER_ENTRIES,
};
