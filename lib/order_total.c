/*
 * order_total.c: Total, a token on demand among the senders (paper
 * section 3): Totem for groups where few members send.
 *
 * A member that wants to send broadcasts a token REQUEST (one at a time:
 * no second one before it got the token) and buffers until it holds the
 * token.  The holder, aware of requests, passes the token to one of the
 * requesters (the next after it in rank order); a holder that nobody
 * asks keeps the token and sends each cast at once, so a lone sender
 * never passes it.  Receiving the token, a member sends all it buffered
 * (as one packed message: pack "visit"); if others asked meanwhile, the
 * token rides on that message, together with a new request of its own
 * (the locality principle: senders keep sending), so among steady
 * senders the token goes round with no message of its own.  A holder
 * that got the token back with nothing to send passes it without asking
 * again.  Everyone follows every REQUEST and every pass (all broadcast),
 * counting per member the requests made and the requests served (a pass
 * serves its receiver's last request; a member that passes on has had
 * all its earlier ones served), so any holder knows who is waiting.
 *
 * The token carries the next global position; each unit sent carries
 * its position, and every member delivers by position (order_place).
 * Latency: k/2 token passes on average with k senders, k - 1 at worst,
 * none for a lone sender; then one one-way delay.
 *
 * Faults (section 3.1, order.c): a flush drops the token, the requests
 * and what waits for the token; at the view rank 0 holds the token.
 *
 * Guarantees (over MBRSHIP, NAK): one total order, per-sender FIFO, and
 * the rules of section 3.1 at view changes.
 *
 * Header, big-endian, then (DATA) the unit (pack.c):
 *
 *	 0   1   2               10              18
 *	+---+---+---------------+---------------+
 *	| 1 |flg|  sender seq   |   position    | [token] [req]  unit	DATA
 *	+---+---+---------------+---------------+
 *	| 2 |flg| token (13)  | [req]				TOKEN
 *	+---+---+-------+-----+
 *	| 3 | request # |					REQUEST
 *	+---+-----------+
 *
 *	token:	+---------------+----+-----------+
 *		| next position | to | served #  |	to: the new holder's
 *		+---------------+----+-----------+	rank; served: its
 *		 0               8    9           13	request this serves
 *	req:	u32 request number (1, 2, ... in a view), the sender's own
 *	flg:	0x01 TOKEN (the token rides on it), 0x02 REQ
 *	(UNORDERED, type 0x80: see order.c)
 */
#include <stdlib.h>
#include <string.h>

#include "order.h"

#define TT_DATA		1
#define TT_TOKEN	2
#define TT_REQUEST	3
#define TT_F_TOKEN	0x01
#define TT_F_REQ	0x02
#define TT_DATA_HDR	18
#define TT_TOK_LEN	13
#define TT_REQ_LEN	4

struct total {
	struct order	 o;		/* first: the layer state is both */
	int		 running;	/* 0 during a flush */
	int		 holder;
	int		 visiting;
	uint64_t	 next;		/* token: next global position */
	uint32_t	 reqno;		/* our last request */
	int		 asked;		/* and it is not yet served */
	uint32_t	*req, *served;	/* per rank */
	struct ord_queue q;		/* own units waiting for the token */
};

/* Ask for the token, unless we hold it or asked already. */
static void
tt_want(struct total *tt)
{
	struct order	*o = &tt->o;
	struct to_msg	*m;
	unsigned char	*h;

	if (!tt->running)
		return;
	if (tt->holder) {
		order_wake_by(o, layer_now(o->l));
		return;
	}
	if (tt->asked || (m = msg_new(MSG_HEADROOM, 1 + TT_REQ_LEN)) == NULL)
		return;
	h = msg_data(m);
	h[0] = TT_REQUEST;
	put32(h + 1, ++tt->reqno);
	tt->asked = 1;
	layer_stats(o->l)->token_requests++;
	(void)layer_down(o->l, m);
}

static int
tt_cast(struct order *o, struct to_msg *u)
{
	struct total	*tt = (struct total *)o;
	struct ord_msg	 e = { .sender = layer_self(o->l),
	    .sseq = u->meta.sender_seq, .count = pack_count(u), .m = u };

	if (!tt->running) {
		msg_free(u);	/* in o->pending: it goes unordered */
		return 0;
	}
	if (ordq_push(&tt->q, &e) == -1)
		return -1;
	tt_want(tt);
	return 0;
}

static void
tt_kick(struct order *o)
{
	tt_want((struct total *)o);
}

/* The next member after us in rank order with a request waiting, or -1. */
static int
tt_choose(struct total *tt)
{
	struct order	*o = &tt->o;
	uint32_t	 n = o->view.n, i, r;
	int		 me = order_rank(o, layer_self(o->l));

	for (i = 1; me >= 0 && i < n; i++) {
		r = ((uint32_t)me + i) % n;
		if (tt->req[r] > tt->served[r])
			return (int)r;
	}
	return -1;
}

/* Write the token for rank to into p, and give it up. */
static void
tt_put_token(struct total *tt, unsigned char *p, int to)
{
	put64(p, tt->next);
	p[8] = (unsigned char)to;
	put32(p + 9, tt->req[to]);
	tt->served[to] = tt->req[to];
	tt->holder = 0;
	layer_stats(tt->o.l)->tokens_sent++;
}

/* A request of ours rides on what we send: "give it back later". */
static void
tt_put_req(struct total *tt, unsigned char *p)
{
	put32(p, ++tt->reqno);
	tt->asked = 1;
}

/* Send unit e at the next position; the token for rank to on it if
 * to >= 0, and a request of ours with it. */
static void
tt_send(struct total *tt, struct ord_msg *e, int to)
{
	struct order	*o = &tt->o;
	unsigned char	*h;
	size_t		 hl = TT_DATA_HDR;
	uint64_t	 pos = tt->next;

	if (to >= 0)
		hl += TT_TOK_LEN + TT_REQ_LEN;
	tt->next += e->count ? e->count : 1;
	if ((h = msg_push(e->m, hl)) == NULL) {
		msg_free(e->m);
		return;
	}
	h[0] = TT_DATA;
	h[1] = to >= 0 ? TT_F_TOKEN | TT_F_REQ : 0;
	put64(h + 2, e->sseq);
	put64(h + 10, pos);
	if (to >= 0) {
		tt_put_token(tt, h + TT_DATA_HDR, to);
		tt_put_req(tt, h + TT_DATA_HDR + TT_TOK_LEN);
	}
	e->m->meta.dst = 0;
	e->m->meta.flags = 0;
	(void)layer_down(o->l, e->m);
}

/* Pass the token alone to rank to. */
static void
tt_pass(struct total *tt, int to)
{
	struct to_msg	*m;
	unsigned char	*h;

	if ((m = msg_new(MSG_HEADROOM, 2 + TT_TOK_LEN)) == NULL)
		return;
	h = msg_data(m);
	h[0] = TT_TOKEN;
	h[1] = TT_F_TOKEN;
	tt_put_token(tt, h + 2, to);
	(void)layer_down(tt->o.l, m);
}

/* We hold the token: send what waits; pass it if someone asked. */
static void
tt_visit(struct total *tt)
{
	struct order	*o = &tt->o;
	struct ord_msg	 e;
	int		 to, sent = 0;

	if (tt->visiting || !tt->holder || !tt->running)
		return;
	tt->visiting = 1;
	order_pack_flush(o);
	to = tt_choose(tt);
	while (tt->q.n > 0) {
		e = *ordq_front(&tt->q);
		ordq_pop(&tt->q);
		tt_send(tt, &e, tt->q.n == 0 ? to : -1);
		sent++;
	}
	if (to >= 0 && sent == 0)
		tt_pass(tt, to);
	tt->visiting = 0;
}

/* A request (number no) from the member of rank r. */
static void
tt_request(struct total *tt, int r, uint32_t no)
{
	if (no > tt->req[r])
		tt->req[r] = no;
	if (tt->holder)
		order_wake_by(&tt->o, layer_now(tt->o.l));
}

/* The member of rank r passed the token on. */
static void
tt_token(struct total *tt, int r, const unsigned char *t)
{
	struct order	*o = &tt->o;
	uint32_t	 k = t[8], no = get32(t + 9);

	/* it held the token: its requests so far are served */
	if (tt->served[r] < tt->req[r])
		tt->served[r] = tt->req[r];
	if (k >= o->view.n)
		return;
	if (no > tt->served[k])
		tt->served[k] = no;
	if (no > tt->req[k])
		tt->req[k] = no;
	if (o->view.members[k] != layer_self(o->l) || !tt->running)
		return;
	tt->holder = 1;
	tt->asked = 0;
	tt->next = get64(t);
	tt_visit(tt);
}

static int
tt_up_data(struct total *tt, struct to_msg *m, int r)
{
	const unsigned char *h = msg_data(m);
	unsigned char	 tok[TT_TOK_LEN];
	size_t		 hl = TT_DATA_HDR;
	uint64_t	 sseq, pos;
	uint32_t	 no = 0;
	int		 flg = h[1];

	if (flg & ~(TT_F_TOKEN | TT_F_REQ))
		return -1;
	hl += (flg & TT_F_TOKEN ? TT_TOK_LEN : 0) +
	    (flg & TT_F_REQ ? TT_REQ_LEN : 0);
	if (msg_len(m) < hl + 1)
		return -1;
	sseq = get64(h + 2);
	pos = get64(h + 10);
	if (flg & TT_F_TOKEN)
		memcpy(tok, h + TT_DATA_HDR, TT_TOK_LEN);
	if (flg & TT_F_REQ)
		no = get32(h + hl - TT_REQ_LEN);
	msg_pull(m, hl);
	order_place(&tt->o, m, tt->o.view.members[r], sseq, pos);
	if (flg & TT_F_TOKEN)
		tt_token(tt, r, tok);
	if (flg & TT_F_REQ)
		tt_request(tt, r, no);
	return 0;
}

static void
tt_up(struct order *o, struct to_msg *m)
{
	struct total	*tt = (struct total *)o;
	const unsigned char *h = msg_data(m);
	size_t		 len = msg_len(m);
	int		 r = order_rank(o, m->meta.src);

	if (r < 0 || m->meta.dst != 0 || tt->req == NULL)
		goto bad;
	switch (h[0]) {
	case TT_REQUEST:
		if (len != 1 + TT_REQ_LEN)
			goto bad;
		tt_request(tt, r, get32(h + 1));
		break;
	case TT_TOKEN:
		if (len != 2 + TT_TOK_LEN || h[1] != TT_F_TOKEN)
			goto bad;
		tt_token(tt, r, h + 2);
		break;
	case TT_DATA:
		if (len < TT_DATA_HDR || tt_up_data(tt, m, r) == -1)
			goto bad;
		return;
	default:
		goto bad;
	}
	msg_free(m);
	return;
bad:
	layer_stats(o->l)->dropped_bad++;
	msg_free(m);
}

static void
tt_timer(struct order *o)
{
	tt_visit((struct total *)o);
}

static void
tt_flush(struct order *o)
{
	struct total	*tt = (struct total *)o;

	tt->running = 0;
	tt->holder = 0;
	ordq_clear(&tt->q);
	order_wake(o, 0);
}

static void
tt_view(struct order *o)
{
	struct total	*tt = (struct total *)o;
	uint32_t	*req, *served;

	ordq_clear(&tt->q);
	req = calloc(o->view.n, sizeof(*req));
	served = calloc(o->view.n, sizeof(*served));
	free(tt->req);
	free(tt->served);
	tt->req = req;
	tt->served = served;
	if (req == NULL || served == NULL) {
		free(req);
		free(served);
		tt->req = tt->served = NULL;
		return;			/* stays stopped */
	}
	tt->running = 1;
	tt->holder = o->view.members[0] == layer_self(o->l);
	tt->next = o->gseq + 1;
	tt->reqno = 0;
	tt->asked = 0;
}

static const struct order_proto total_proto = {
	.cast = tt_cast,
	.up = tt_up,
	.flush = tt_flush,
	.view = tt_view,
	.kick = tt_kick,
	.timer = tt_timer,
};

static int
tt_init(struct layer *l)
{
	return order_layer_new(l, sizeof(struct total), &total_proto,
	    "visit") == NULL ? -1 : 0;
}

static void
tt_fini(struct layer *l)
{
	struct total	*tt = l->state;

	if (tt == NULL)
		return;
	order_fini(&tt->o);
	ordq_free(&tt->q);
	free(tt->req);
	free(tt->served);
	free(tt);
	l->state = NULL;
}

const struct layer_ops total_ops = {
	.name = "total",
	.about = "a token on demand among the senders; a lone sender "
	    "keeps it",
	.hdr_len = TT_DATA_HDR + TT_TOK_LEN + TT_REQ_LEN + PACK_ONE_HDR,
	.init = tt_init,
	.fini = tt_fini,
	ORDER_LAYER_ENTRIES,
};
