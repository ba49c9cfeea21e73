/*
 * fuzz_stack.c: raw datagrams into a whole stack (every layer's header
 * parser, from COM up).
 *
 * Each input builds a simulated group of two members (over the in-memory
 * transport, test/unit/sim.c) that install a view together; then the
 * harness crashes member 1 and plays it: it feeds member 0 the datagrams
 * the input describes, as if member 1 (or a stranger) sent them, with
 * simulated time passing between them so the timers run too.
 *
 * Input: a byte of setup, then records.
 *	setup	bit 0: the group has a key (datagrams may be sealed)
 *		bits 1-2: the stack: 0, 3 "dynseq:mbrship:frag:nak:com",
 *		1 "frag:nak:com", 2 "nak:com" (these two get their view by
 *		hand, as test_nak does)
 *	record	u8 how, u8 wait, u16 len, len bytes (cut short at the end)
 *	how	bits 0-1: 0 the bytes as they are, 1 behind a valid unsealed
 *		COM header (CRC computed), 2 sealed with the group's key
 *		(when it has one, else unsealed), 3 sealed with another key
 *		bit 2: to member 0 alone, else to all
 *		bit 3: from a stranger, else from member 1
 *	wait	simulated time to run after it, in units of 256 us
 *
 * Sealed datagrams count up from 2^32, past anything member 1 sent
 * itself, so the replay window does not keep them from the layers above.
 * The seed corpus is member 1's own traffic after the view, recorded by
 * test/fuzz/seed_stack.c (make fuzz-seeds).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define FUZZ_DGRAM	1472
#define FUZZ_TICK	256000ULL	/* ns per unit of wait */
#define FUZZ_RECORDS	256

static const unsigned char key_ours[32] = "fuzz: the group key, 32 bytes.";
static const unsigned char key_other[32] = "fuzz: some other key, 32 bytes";

static const char *const specs[4] = {
	"dynseq:mbrship:frag:nak:com",
	"frag:nak:com",
	"nak:com",
	"dynseq:mbrship:frag:nak:com",
};

static int
joined(struct sim *s, void *arg)
{
	return s->nodes[0].view.n == 2 && s->nodes[1].view.n == 2;
}

/* The view of both, by hand, for stacks without MBRSHIP. */
static void
view_by_hand(struct sim *s)
{
	uint64_t	 ids[2] = { s->nodes[0].id, s->nodes[1].id };
	struct to_view	 v = { .id = 1, .n = 2, .members = ids };
	struct event	 e;
	int		 i;

	for (i = 0; i < 2; i++) {
		memset(&e, 0, sizeof(e));
		e.type = EV_VIEW;
		v.self = ids[i];
		e.view = &v;
		sim_ctl(s, i, &e);
	}
}

static struct sim *
setup(unsigned char how)
{
	struct sim	*s;
	int		 spec = (how >> 1) & 3;

	if ((s = sim_new(0, NULL, NULL, 1)) == NULL)
		abort();
	if (how & 1) {
		s->base.key = key_ours;
		s->base.keylen = sizeof(key_ours);
	}
	if (sim_add(s, specs[spec], NULL) == -1 ||
	    sim_add(s, specs[spec], NULL) == -1)
		abort();
	if (spec == 1 || spec == 2) {
		view_by_hand(s);
		sim_run(s, NULL, NULL, 5 * FUZZ_TICK);
	} else if (!sim_run(s, joined, NULL, 3000000000ULL))
		abort();
	return s;
}

static void
inject(struct sim *s, unsigned char how, const unsigned char *p, size_t len,
    uint64_t *counter)
{
	unsigned char	 d[FUZZ_DGRAM];
	struct to_config cfg = s->nodes[0].cfg;
	struct to_msg	*m;
	uint64_t	 src, dst;
	ssize_t		 n;

	src = how & 8 ? 0x5742a9e3c1d0f00dULL : s->nodes[1].id;
	dst = how & 4 ? s->nodes[0].id : 0;
	switch (how & 3) {
	case 0:
		n = (ssize_t)len;
		memcpy(d, p, len);
		break;
	case 1:
		cfg.key = NULL;
		n = com_wrap(&cfg, src, dst, 0, p, len, d, sizeof(d));
		break;
	case 3:
		cfg.key = key_other;
		cfg.keylen = sizeof(key_other);
		/* FALLTHROUGH */
	default:
		n = com_wrap(&cfg, src, dst, ++*counter, p, len, d, sizeof(d));
		break;
	}
	if (n < 0)
		return;
	if ((m = msg_new(0, (size_t)n)) == NULL)
		abort();
	memcpy(msg_data(m), d, (size_t)n);
	stack_set_now(s->nodes[0].stack, s->now);
	stack_input(s->nodes[0].stack, m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim	*s;
	uint64_t	 counter = 1ULL << 32;
	size_t		 len, k;
	unsigned char	 how, wait;

	if (size < 1)
		return 0;
	s = setup(data[0]);
	sim_crash(s, 1);
	data++;
	size--;
	for (k = 0; k < FUZZ_RECORDS && size >= 4; k++) {
		how = data[0];
		wait = data[1];
		len = (size_t)data[2] << 8 | data[3];
		data += 4;
		size -= 4;
		if (len > size)
			len = size;
		if (len > FUZZ_DGRAM)
			len = FUZZ_DGRAM;
		inject(s, how, data, len, &counter);
		data += len;
		size -= len;
		sim_run(s, NULL, NULL, wait * FUZZ_TICK);
	}
	sim_free(s);
	return 0;
}
