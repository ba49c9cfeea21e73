/*
 * test_seal.c: group keys.  A member holding the key never delivers a
 * datagram forged, altered or replayed by someone without it, and counts
 * each in the right counter; members with different keys, or with and
 * without one, never form one view, and are told why.
 *
 * The first part drives bare COM stacks ("com") over a capturing in-memory
 * transport: one seals datagrams, a test tampers with them byte by byte,
 * another receives them.  The second runs whole stacks in the simulation.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sim.h"

#define HDR_SEALED	48
#define DGRAM_MAX	1472
#define KEEP_MAX	1200

static const unsigned char key1[32] = "0123456789abcdef0123456789abcde";
static const unsigned char key2[40] = "another key, forty bytes of it.........";

/* What the capturing transport saw: every datagram, in order. */
static struct wire {
	size_t		 n;
	size_t		 len[KEEP_MAX];
	unsigned char	 d[KEEP_MAX][DGRAM_MAX];
} wire;

struct node {
	struct to_config cfg;
	struct transport tr;
	struct mem_port	 port;
	struct stack	*stack;
	uint64_t	 id;
	int		 delivered;
	char		 last[64];
	int		 refused[TO_REFUSED_KEY + 1];
	uint64_t	 refused_src;
};

static void
capture(void *net, uint64_t src, uint64_t dst, const void *p, size_t len)
{
	if (wire.n == KEEP_MAX || len > DGRAM_MAX)
		errx(1, "capture: too many or too long");
	memcpy(wire.d[wire.n], p, len);
	wire.len[wire.n++] = len;
}

static void
deliver(void *arg, const struct to_msg *m)
{
	struct node	*nd = arg;
	size_t		 n = msg_len(m) < sizeof(nd->last) - 1 ? msg_len(m) :
			    sizeof(nd->last) - 1;

	nd->delivered++;
	memcpy(nd->last, msg_data(m), n);
	nd->last[n] = '\0';
}

static void
refused(void *arg, uint64_t src, enum to_refusal r)
{
	struct node	*nd = arg;

	nd->refused[r]++;
	nd->refused_src = src;
}

static void
node_open(struct node *nd, uint64_t id, const char *group,
    const unsigned char *key, size_t keylen)
{
	struct stack_app app = { deliver, NULL, nd };

	memset(nd, 0, sizeof(*nd));
	nd->id = id;
	nd->cfg.group = group;
	nd->cfg.stack = "com";
	nd->cfg.key = key;
	nd->cfg.keylen = keylen;
	nd->cfg.refused = refused;
	nd->cfg.refused_arg = nd;
	nd->port.send = capture;
	nd->port.mtu = DGRAM_MAX;
	nd->tr.ops = &transport_mem;
	nd->tr.cfg = &nd->cfg;
	nd->tr.self = id;
	nd->tr.state = &nd->port;
	if (nd->tr.ops->open(&nd->tr, "") == -1 ||
	    (nd->stack = stack_new(&nd->cfg, &nd->tr, id, &app, 1)) == NULL)
		err(1, "node_open");
}

/* Send text from nd to dst; the datagram is wire.d[wire.n - 1]. */
static size_t
send_text(struct node *nd, uint64_t dst, const char *text)
{
	struct to_msg	*m = msg_from(text, strlen(text));

	m->meta.dst = dst;
	if (stack_cast(nd->stack, m) == -1)
		err(1, "stack_cast");
	return wire.n - 1;
}

static void
feed(struct node *nd, const void *p, size_t len)
{
	struct to_msg	*m = msg_new(0, len);

	memcpy(msg_data(m), p, len);
	stack_input(nd->stack, m);
}

/* The counters that matter here, as one comparable value. */
struct drops {
	uint64_t	 bad, foreign, auth, unsealed, replay;
};

static struct drops
drops(struct node *nd)
{
	const struct to_stats *st = stack_stats(nd->stack);
	struct drops	 d = { st->dropped_bad, st->dropped_foreign,
			    st->dropped_auth, st->dropped_unsealed,
			    st->dropped_replay };

	return d;
}

enum which { BAD, FOREIGN, AUTH, UNSEALED, REPLAY };

/* Exactly the counter w went up by one, and nothing was delivered. */
static int
dropped_as(struct node *nd, struct drops before, int delivered,
    enum which w)
{
	struct drops	 a = drops(nd);
	uint64_t	 want[5] = { 0 };

	want[w] = 1;
	return nd->delivered == delivered &&
	    a.bad - before.bad == want[BAD] &&
	    a.foreign - before.foreign == want[FOREIGN] &&
	    a.auth - before.auth == want[AUTH] &&
	    a.unsealed - before.unsealed == want[UNSEALED] &&
	    a.replay - before.replay == want[REPLAY];
}

static int
unchanged(struct node *nd, struct drops before)
{
	struct drops	 a = drops(nd);

	return memcmp(&a, &before, sizeof(a)) == 0;
}

/* What flipping bit b at byte i of a sealed datagram is counted as. */
static enum which
flip_counter(size_t i, int b)
{
	if (i == 3 && b > 0)
		return AUTH;		/* the stack's print: authenticated */
	if (i < 4)
		return BAD;		/* magic, version, flag sealed */
	if (i < 8)
		return FOREIGN;		/* group hash */
	return AUTH;			/* src, dst, counter, tag, payload */
}

static void
test_roundtrip(struct node *a, struct node *b)
{
	struct drops	 before;
	size_t		 k;

	k = send_text(a, 0, "attack at dawn");
	CHECK(wire.len[k] == HDR_SEALED + 14);
	CHECK((wire.d[k][3] & 1) == 1);	/* flags: sealed */
	CHECK(memmem(wire.d[k], wire.len[k], "attack", 6) == NULL);
	feed(b, wire.d[k], wire.len[k]);
	CHECK(b->delivered == 1 && strcmp(b->last, "attack at dawn") == 0);

	/* the same datagram again, and again */
	before = drops(b);
	feed(b, wire.d[k], wire.len[k]);
	CHECK(dropped_as(b, before, 1, REPLAY));
	before = drops(b);
	feed(b, wire.d[k], wire.len[k]);
	CHECK(dropped_as(b, before, 1, REPLAY));

	/* to b alone: delivered; to someone else: not, and not counted */
	k = send_text(a, b->id, "for b");
	feed(b, wire.d[k], wire.len[k]);
	CHECK(b->delivered == 2 && strcmp(b->last, "for b") == 0);
	k = send_text(a, b->id + 2, "for another");
	before = drops(b);
	feed(b, wire.d[k], wire.len[k]);
	CHECK(unchanged(b, before) && b->delivered == 2);
}

/* Every bit of a fresh datagram, flipped: never delivered, counted. */
static void
test_flips(struct node *a, struct node *b)
{
	unsigned char	 d[DGRAM_MAX];
	struct drops	 before;
	size_t		 k, i, len, wrong = 0;
	int		 bit, got = b->delivered;

	for (i = 0; i < HDR_SEALED + 7; i++)	/* "pay 100" */
		for (bit = 0; bit < 8; bit++) {
			wire.n = 0;
			k = send_text(a, 0, "pay 100");
			len = wire.len[k];
			memcpy(d, wire.d[k], len);
			d[i] ^= 1 << bit;
			before = drops(b);
			feed(b, d, len);
			if (!dropped_as(b, before, got, flip_counter(i, bit))) {
				printf("# byte %zu bit %d not dropped as "
				    "expected\n", i, bit);
				wrong++;
			}
		}
	CHECK(wrong == 0);
	CHECK(b->delivered == got);

	/* cut short, cut inside the header, one byte longer */
	wire.n = 0;
	k = send_text(a, 0, "pay 100");
	len = wire.len[k];
	memcpy(d, wire.d[k], len);
	before = drops(b);
	feed(b, d, len - 1);
	CHECK(dropped_as(b, before, got, AUTH));
	before = drops(b);
	feed(b, d, HDR_SEALED - 1);
	CHECK(dropped_as(b, before, got, BAD));
	before = drops(b);
	feed(b, d, 4);
	CHECK(dropped_as(b, before, got, BAD));
	d[len] = 0;
	before = drops(b);
	feed(b, d, len + 1);
	CHECK(dropped_as(b, before, got, AUTH));
	/* the untouched datagram is still good: nothing above spent it */
	feed(b, d, len);
	CHECK(b->delivered == got + 1 && strcmp(b->last, "pay 100") == 0);
}

/* Datagrams made without our key, or for another group. */
static void
test_forged(struct node *a, struct node *b)
{
	struct to_config cfg;
	unsigned char	 d[DGRAM_MAX];
	struct drops	 before;
	struct node	 c, e;
	ssize_t		 len;
	size_t		 k;
	int		 got = b->delivered, i, told;

	/* unsealed, with a valid CRC, from a member's own id */
	memset(&cfg, 0, sizeof(cfg));
	cfg.group = "seal";
	for (i = 0; i < 5; i++) {
		len = com_wrap(&cfg, a->id, 0, 0, "sell", 4, d, sizeof(d));
		CHECK(len == 28 + 4);
		before = drops(b);
		feed(b, d, (size_t)len);
		CHECK(dropped_as(b, before, got, UNSEALED));
	}
	CHECK(b->refused[TO_REFUSED_UNSEALED] == 1 &&
	    b->refused_src == a->id);

	/* sealed with another key, by a stack of its own and by hand */
	told = b->refused[TO_REFUSED_KEY];	/* the flips named a */
	node_open(&c, 0xc0ffee, "seal", key2, sizeof(key2));
	for (i = 0; i < 5; i++) {
		k = send_text(&c, 0, "sell everything");
		before = drops(b);
		feed(b, wire.d[k], wire.len[k]);
		CHECK(dropped_as(b, before, got, AUTH));
	}
	CHECK(b->refused[TO_REFUSED_KEY] == told + 1 && b->refused_src == c.id);
	cfg.key = key2;
	cfg.keylen = sizeof(key2);
	len = com_wrap(&cfg, a->id, 0, 1u << 30, "sell", 4, d, sizeof(d));
	CHECK(len == HDR_SEALED + 4);
	before = drops(b);
	feed(b, d, (size_t)len);
	CHECK(dropped_as(b, before, got, AUTH));
	/* a key of the right length but 31 bytes equal is no help */
	cfg.key = key1;
	cfg.keylen = 31;
	CHECK(com_wrap(&cfg, a->id, 0, 1, "x", 1, d, sizeof(d)) == -1);

	/* the same key, another group: foreign; its hash patched: forged */
	node_open(&e, 0xe, "other", key1, sizeof(key1));
	k = send_text(&e, 0, "hello");
	before = drops(b);
	feed(b, wire.d[k], wire.len[k]);
	CHECK(dropped_as(b, before, got, FOREIGN));
	put32(wire.d[k] + 4, com_group_hash("seal"));
	before = drops(b);
	feed(b, wire.d[k], wire.len[k]);
	CHECK(dropped_as(b, before, got, AUTH));
	stack_free(c.stack);
	stack_free(e.stack);
}

/* Replays inside and below the window, reordering, a new incarnation. */
static void
test_window(struct node *a, struct node *b)
{
	struct drops	 before;
	struct node	 a2;
	char		 text[32];
	size_t		 i, n = 1100, late = 1090;
	int		 got;

	wire.n = 0;
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "m%zu", i);
		send_text(a, 0, text);
	}
	got = b->delivered;
	for (i = 0; i < n; i++)
		if (i != late)
			feed(b, wire.d[i], wire.len[i]);
	CHECK(b->delivered == got + (int)n - 1);
	/* held back for 9 newer ones: still inside the window */
	feed(b, wire.d[late], wire.len[late]);
	CHECK(b->delivered == got + (int)n && strcmp(b->last, "m1090") == 0);
	got = b->delivered;
	/* inside the window, seen: a replay; below it: a replay too */
	before = drops(b);
	feed(b, wire.d[500], wire.len[500]);
	CHECK(dropped_as(b, before, got, REPLAY));
	before = drops(b);
	feed(b, wire.d[3], wire.len[3]);
	CHECK(dropped_as(b, before, got, REPLAY));

	/* a restarted a is a new id; the old one's datagrams stay replays */
	node_open(&a2, a->id + 1000, "seal", key1, sizeof(key1));
	wire.n = 0;
	send_text(&a2, 0, "reborn");
	feed(b, wire.d[0], wire.len[0]);
	CHECK(b->delivered == got + 1 && strcmp(b->last, "reborn") == 0);
	stack_free(a2.stack);
}

/* A member without a key hears sealed datagrams and is told. */
static void
test_keyless(struct node *a)
{
	struct drops	 before;
	struct node	 d;
	size_t		 k;
	int		 i;

	node_open(&d, 0xd, "seal", NULL, 0);
	for (i = 0; i < 4; i++) {
		k = send_text(a, 0, "sealed");
		before = drops(&d);
		feed(&d, wire.d[k], wire.len[k]);
		CHECK(dropped_as(&d, before, 0, AUTH));
	}
	CHECK(d.refused[TO_REFUSED_SEALED] == 1 && d.refused_src == a->id);
	stack_free(d.stack);
}

/* --- whole stacks ---------------------------------------------------- */

static int
in_view_of(struct sim *s, void *arg)
{
	const int	*want = arg;
	int		 i;

	for (i = 0; i < s->n; i++)
		if (s->nodes[i].view.n != (uint32_t)want[i])
			return 0;
	return 1;
}

static int
all_got(struct sim *s, void *arg)
{
	size_t		 n = *(size_t *)arg;
	int		 i;

	for (i = 0; i < s->n; i++)
		if (s->nodes[i].nrecs < n)
			return 0;
	return 1;
}

/* Taps the simulated network: everything node 0 sends, kept. */
static void	(*tap_next)(void *, uint64_t, uint64_t, const void *, size_t);

static void
tap(void *net, uint64_t src, uint64_t dst, const void *p, size_t len)
{
	if (wire.n < KEEP_MAX && len <= DGRAM_MAX) {
		memcpy(wire.d[wire.n], p, len);
		wire.len[wire.n++] = len;
	}
	tap_next(net, src, dst, p, len);
}

/* Every datagram node 0 sent, sent again to node 1: none delivered. */
static void
replay_all(struct sim *s)
{
	struct to_stats	*st = stack_stats(s->nodes[1].stack);
	struct to_msg	*m;
	uint64_t	 replays = st->dropped_replay;
	size_t		 i, recs = s->nodes[1].nrecs, pass;
	char		 why[256];

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < wire.n; i++) {
			m = msg_new(0, wire.len[i]);
			memcpy(msg_data(m), wire.d[i], wire.len[i]);
			stack_set_now(s->nodes[1].stack, s->now);
			stack_input(s->nodes[1].stack, m);
		}
	sim_run(s, NULL, NULL, 500 * MS);
	CHECK(s->nodes[1].nrecs == recs);
	/* the second pass at least: all replays (the first pass finds
	 * those node 1 was not sent: authentic, not for it, not delivered) */
	CHECK(st->dropped_replay - replays >= wire.n && wire.n > 20);
	CHECK(verify_run(s->verify, why, sizeof(why)) == 0);
}

static void
test_sealed_group(void)
{
	struct sim	*s = sim_new(0, NULL, NULL, 7);
	int		 want[3] = { 3, 3, 3 }, i;
	size_t		 n = 20, k;
	char		 big[5000];

	s->base.key = key1;
	s->base.keylen = sizeof(key1);
	for (i = 0; i < 3; i++)
		sim_add(s, "dynseq:mbrship:frag:nak:com", "loss=5%");
	CHECK(sim_run(s, in_view_of, want, 5000 * MS));
	wire.n = 0;
	tap_next = s->nodes[0].port->send;
	s->nodes[0].port->send = tap;
	memset(big, 'b', sizeof(big));
	for (k = 0; k + 1 < n; k++)
		CHECK(sim_cast(s, k % 3, "hello", 5) == 0);
	CHECK(sim_cast(s, 0, big, sizeof(big)) == 0);
	CHECK(sim_run(s, all_got, &n, 5000 * MS));
	for (i = 1; i < 3; i++)
		for (k = 0; k < n; k++)
			CHECK(s->nodes[i].recs[k].len == s->nodes[0].recs[k].len &&
			    memcmp(s->nodes[i].recs[k].data,
			    s->nodes[0].recs[k].data, s->nodes[0].recs[k].len) ==
			    0);
	for (k = 0; k < n && s->nodes[2].recs[k].len != sizeof(big); k++)
		;
	CHECK(k < n && s->nodes[2].recs[k].data[4999] == 'b');
	for (i = 0; i < 3; i++)
		CHECK(stack_stats(s->nodes[i].stack)->dropped_auth == 0);
	replay_all(s);
	sim_free(s);
}

static int	mixed_refused[4][TO_REFUSED_KEY + 1];

static void
mixed_refuse(void *arg, uint64_t src, enum to_refusal r)
{
	mixed_refused[(int)(intptr_t)arg][r]++;
}

/* Two with key1, one with key2, one without: never one view. */
static void
test_mixed_group(void)
{
	struct sim	*s = sim_new(0, NULL, NULL, 11);
	const unsigned char *keys[4] = { key1, key1, key2, NULL };
	size_t		 lens[4] = { sizeof(key1), sizeof(key1), sizeof(key2),
			    0 };
	int		 want[4] = { 2, 2, 1, 1 }, i;

	s->base.refused = mixed_refuse;
	for (i = 0; i < 4; i++) {
		s->base.key = keys[i];
		s->base.keylen = lens[i];
		s->base.refused_arg = (void *)(intptr_t)i;
		sim_add(s, "dynseq:mbrship:frag:nak:com", NULL);
	}
	sim_run(s, NULL, NULL, 5000 * MS);
	CHECK(in_view_of(s, want));
	for (i = 0; i < 4; i++)
		CHECK(s->nodes[i].nrecs == 0);
	sim_cast(s, 0, "secret", 6);
	sim_run(s, NULL, NULL, 1000 * MS);
	CHECK(s->nodes[1].nrecs == 1 && s->nodes[2].nrecs == 0 &&
	    s->nodes[3].nrecs == 0);
	/* each told about the others, by the right reason */
	CHECK(mixed_refused[0][TO_REFUSED_KEY] == 1 &&
	    mixed_refused[0][TO_REFUSED_UNSEALED] == 1);
	CHECK(mixed_refused[2][TO_REFUSED_KEY] == 2 &&
	    mixed_refused[2][TO_REFUSED_UNSEALED] == 1);
	CHECK(mixed_refused[3][TO_REFUSED_SEALED] == 3);
	CHECK(stack_stats(s->nodes[3].stack)->dropped_auth > 0 &&
	    stack_stats(s->nodes[0].stack)->dropped_unsealed > 0);
	sim_free(s);
}

int
main(void)
{
	struct node	 a, b;

	node_open(&a, 0xa11ce, "seal", key1, sizeof(key1));
	node_open(&b, 0xb0b, "seal", key1, sizeof(key1));
	test_roundtrip(&a, &b);
	test_flips(&a, &b);
	test_forged(&a, &b);
	test_window(&a, &b);
	test_keyless(&a);
	CHECK(b.refused[TO_REFUSED_SEALED] == 0);
	stack_free(a.stack);
	stack_free(b.stack);
	test_sealed_group();
	test_mixed_group();
	return check_done();
}
