/*
 * test_msg.c: message buffers (msg.c): headroom, shared views, slices
 * of two parts, and the FIFO.
 */
#include <string.h>

#include "check.h"
#include "msg.h"

static const char	 text[] = "0123456789abcdefghijklmnopqrstuvwxyz";
#define TEXT_LEN	(sizeof(text) - 1)

/* Every byte of m, both parts, equals s. */
static int
msg_is(const struct to_msg *m, const char *s)
{
	char	 b[128];
	size_t	 n = strlen(s);

	if (msg_len(m) != n || n > sizeof(b))
		return 0;
	msg_read(m, 0, b, n);
	return memcmp(b, s, n) == 0;
}

static void
test_push_pull(void)
{
	struct to_msg	*m = msg_from(text, TEXT_LEN), *c;
	unsigned char	*h;

	h = msg_push(m, 2);
	CHECK(h != NULL);
	memcpy(h, "<>", 2);
	CHECK(msg_is(m, "<>0123456789abcdefghijklmnopqrstuvwxyz"));
	CHECK(msg_pull(m, 2) != NULL && msg_is(m, text));
	CHECK(msg_pull(m, TEXT_LEN + 1) == NULL);
	/* a clone pushes a header of its own without touching the other */
	c = msg_clone(m);
	CHECK(c != NULL && c->buf == m->buf);
	memcpy(msg_push(c, 1), "!", 1);
	CHECK(msg_is(c, "!0123456789abcdefghijklmnopqrstuvwxyz"));
	CHECK(msg_is(m, text));
	msg_free(m);
	CHECK(msg_is(c, "!0123456789abcdefghijklmnopqrstuvwxyz"));
	msg_free(c);
}

static void
test_slice(void)
{
	struct to_msg	*m = msg_from(text, TEXT_LEN), *s, *c, *ss;

	s = msg_slice(m, 10, 6);
	CHECK(s != NULL && s->len == 0 && s->ext == m->buf);
	CHECK(m->buf->refs == 2);
	CHECK(msg_is(s, "abcdef"));
	/* a header goes into the first part, the payload stays shared */
	memcpy(msg_push(s, 3), "hdr", 3);
	CHECK(msg_is(s, "hdrabcdef") && msg_len(s) == 9);
	CHECK(msg_is(m, text));
	/* reads from anywhere, across the parts */
	{
		char	 b[4];

		msg_read(s, 2, b, 4);
		CHECK(memcmp(b, "rabc", 4) == 0);
		msg_read(s, 5, b, 4);
		CHECK(memcmp(b, "cdef", 4) == 0);
	}
	/* a clone holds both parts; they outlive the original */
	c = msg_clone(s);
	msg_free(m);
	CHECK(c->ext->refs == 2 && msg_is(c, "hdrabcdef"));
	msg_free(s);
	CHECK(c->ext->refs == 1 && msg_is(c, "hdrabcdef"));
	/* a slice of a slice is a copy, in one part */
	ss = msg_slice(c, 1, 4);
	CHECK(ss != NULL && ss->ext == NULL && msg_is(ss, "drab"));
	msg_free(ss);
	/* trimmed into the second part, then out of it */
	CHECK(msg_trim(c, 10) == -1);
	CHECK(msg_trim(c, 5) == 0 && msg_is(c, "hdrab"));
	CHECK(msg_trim(c, 2) == 0 && c->ext == NULL && msg_is(c, "hd"));
	msg_free(c);
}

static void
test_mq(void)
{
	struct mq	 q = { 0 };
	struct to_msg	*m;
	int		 i, ok = 1;

	for (i = 0; i < 200; i++) {
		if (mq_reserve(&q) == -1)
			ok = 0;
		mq_push(&q, msg_from(&i, sizeof(i)));
	}
	for (i = 0; i < 200; i++) {
		m = mq_pop(&q);
		ok &= m != NULL && memcmp(msg_data(m), &i, sizeof(i)) == 0;
		msg_free(m);
	}
	CHECK(ok);
	CHECK(mq_pop(&q) == NULL);
	/* grown while the ring wraps: the order holds */
	for (i = 0; i < 300; i++) {
		if (i % 3 == 2)
			msg_free(mq_pop(&q));
		ok &= mq_reserve(&q) == 0;
		mq_push(&q, msg_from(&i, sizeof(i)));
	}
	for (i = 100; i < 300; i++) {
		m = mq_pop(&q);
		ok &= m != NULL && memcmp(msg_data(m), &i, sizeof(i)) == 0;
		msg_free(m);
	}
	CHECK(ok && q.n == 0);
	mq_clear(&q);
}

int
main(void)
{
	test_push_pull();
	test_slice();
	test_mq();
	return check_done();
}
