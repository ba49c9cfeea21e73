/*
 * test_fault.c: the fault injection model (lib/fault.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fault.h"
#include "msg.h"

static struct to_msg *
mk(uint32_t i)
{
	unsigned char b[4];

	put32(b, i);
	return msg_from(b, sizeof(b));
}

static uint32_t
id_of(struct to_msg *m)
{
	return get32(msg_data(m));
}

/* Drain what is due at now into out[]; returns how many. */
static size_t
drain(struct fault *f, uint64_t now, uint32_t *out, size_t max)
{
	struct to_msg *m;
	size_t n = 0;

	while ((m = fault_output(f, now)) != NULL) {
		if (n < max)
			out[n] = id_of(m);
		n++;
		msg_free(m);
	}
	return n;
}

static void
test_parse(void)
{
	static const char *good[] = {
		"loss=5%", "loss=5", "dup=0.5%", "reorder=100%",
		"loss=100.0", "loss=0", "delay=1ms", "delay=500us",
		"delay=2s", "delay=100ns", "delay=3",
		"seed=18446744073709551615",
		"loss=0.5%,dup=1%,reorder=10%,delay=1ms,seed=42",
		"loss=12.123456789%",
	};
	static const char *bad[] = {
		"loss", "loss=", "loss=101", "loss=-1", "loss=5%%",
		"loss=100.1", "loss=1e2", "loss=.5", "loss=5.", "bogus=1",
		"delay=1m", "delay=1.5ms", "delay=ms", "delay=3601s",
		"seed=x", "seed=18446744073709551616", "loss=5%,", ",loss=5",
		"loss=5 ", " loss=5", "=5", "loss=0.1234567891",
	};
	struct fault *f;
	size_t i;
	int ok;

	CHECK((f = fault_new(NULL, 1)) != NULL);
	fault_free(f);
	CHECK((f = fault_new("", 1)) != NULL);
	fault_free(f);
	for (ok = 1, i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if ((f = fault_new(good[i], 1)) == NULL) {
			printf("# rejected good spec \"%s\"\n", good[i]);
			ok = 0;
		}
		fault_free(f);
	}
	CHECK(ok);
	for (ok = 1, i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if ((f = fault_new(bad[i], 1)) != NULL || errno != EINVAL) {
			printf("# accepted bad spec \"%s\"\n", bad[i]);
			ok = 0;
		}
		fault_free(f);
	}
	CHECK(ok);
}

static void
test_none(void)
{
	struct fault *f;
	uint32_t out[4];

	f = fault_new("", 1);
	CHECK(fault_next_due(f) == 0);
	CHECK(fault_input(f, mk(1), 10) == 0);
	CHECK(fault_input(f, mk(2), 10) == 0);
	CHECK(drain(f, 10, out, 4) == 2 && out[0] == 1 && out[1] == 2);
	CHECK(fault_next_due(f) == 0);
	fault_free(f);
}

static void
test_loss(void)
{
	struct fault *f;
	uint32_t i, dropped = 0;
	size_t out = 0;

	f = fault_new("loss=10%", 12345);
	for (i = 0; i < 100000; i++) {
		dropped += (uint32_t)fault_input(f, mk(i), i);
		out += drain(f, i, NULL, 0);
	}
	printf("# loss=10%%: dropped %u of 100000\n", dropped);
	CHECK(dropped > 9500 && dropped < 10500);
	CHECK(out + dropped == 100000);
	fault_free(f);

	f = fault_new("loss=100%", 1);
	CHECK(fault_input(f, mk(1), 0) == 1 && fault_next_due(f) == 0);
	fault_free(f);
}

static void
test_dup(void)
{
	struct fault *f;
	struct to_msg *a, *b;
	uint32_t i;
	size_t out = 0;

	f = fault_new("dup=100%", 1);
	CHECK(fault_input(f, mk(7), 0) == 0);
	a = fault_output(f, 0);
	b = fault_output(f, 0);
	CHECK(a != NULL && b != NULL && a != b);
	CHECK(a != NULL && b != NULL && id_of(a) == 7 && id_of(b) == 7);
	CHECK(fault_output(f, 0) == NULL);
	msg_free(a);
	msg_free(b);
	fault_free(f);

	f = fault_new("dup=25%", 99);
	for (i = 0; i < 100000; i++) {
		fault_input(f, mk(i), i);
		out += drain(f, i, NULL, 0);
	}
	printf("# dup=25%%: %zu out of 100000 in\n", out);
	CHECK(out > 124000 && out < 126000);
	fault_free(f);
}

static int
blocks(const uint32_t *out, size_t k)
{
	int64_t prev = -1, id;
	size_t p = 0;

	while (p < k) {
		if ((int64_t)out[p] <= prev)
			return 0;
		id = prev + 1;
		prev = out[p++];
		for (; id < prev; id++, p++)
			if (p >= k || out[p] != (uint32_t)id)
				return 0;
	}
	return 1;
}

static void
test_reorder(void)
{
	struct fault *f;
	struct to_msg *m;
	uint32_t *out, i, n = 10000;
	size_t k = 0, inv = 0;
	unsigned char *seen;
	int perm = 1;

	/* One held back alone falls due after 5 ms. */
	f = fault_new("reorder=100%", 1);
	fault_input(f, mk(1), 1000);
	CHECK(fault_output(f, 1000) == NULL);
	CHECK(fault_next_due(f) == 1000 + FAULT_REORDER_MAX_NS);
	CHECK(fault_output(f, 1000 + FAULT_REORDER_MAX_NS - 1) == NULL);
	m = fault_output(f, 1000 + FAULT_REORDER_MAX_NS);
	CHECK(m != NULL && id_of(m) == 1);
	msg_free(m);
	fault_free(f);

	/* Half held back: a permutation, and not the identity. */
	out = calloc(2 * n, sizeof(*out));
	seen = calloc(n, 1);
	f = fault_new("reorder=50%", 3);
	for (i = 0; i < n; i++) {
		fault_input(f, mk(i), (uint64_t)i * 1000);
		k += drain(f, (uint64_t)i * 1000, out + k, 2 * n - k);
	}
	k += drain(f, (uint64_t)n * 1000 + 10 * MS, out + k, 2 * n - k);
	CHECK(k == n);
	for (i = 0; i < k && i < n; i++) {
		if (out[i] >= n || seen[out[i]])
			perm = 0;
		else
			seen[out[i]] = 1;
		if (i > 0 && out[i] < out[i - 1])
			inv++;
	}
	printf("# reorder=50%%: %zu inversions in %u\n", inv, n);
	CHECK(perm);
	CHECK(inv > n / 8 && inv < n / 2);
	/*
	 * Held ones come right behind the next one not held, in order: the
	 * output is blocks "n, prev+1, ..., n-1" with n rising.
	 */
	CHECK(blocks(out, k));
	CHECK(fault_next_due(f) == 0);
	fault_free(f);
	free(out);
	free(seen);
}

static void
test_delay(void)
{
	struct fault *f;
	uint32_t out[8];

	f = fault_new("delay=2ms", 1);
	fault_input(f, mk(1), 0);
	fault_input(f, mk(2), 0);
	fault_input(f, mk(3), 0);
	fault_input(f, mk(4), 1 * MS);
	CHECK(drain(f, 1 * MS, out, 8) == 0);
	CHECK(fault_next_due(f) == 2 * MS);
	CHECK(drain(f, 2 * MS + 999999, out, 8) == 3 &&
	    out[0] == 1 && out[1] == 2 && out[2] == 3);
	CHECK(fault_next_due(f) == 3 * MS);
	CHECK(drain(f, 3 * MS, out, 8) == 1 && out[0] == 4);
	CHECK(fault_next_due(f) == 0);
	fault_free(f);

	/* Due at time 0 is still reported as something held. */
	f = fault_new("reorder=0", 1);
	fault_input(f, mk(1), 0);
	CHECK(fault_next_due(f) != 0);
	fault_free(f);

	/* Bounded: past FAULT_HELD_MAX held, the oldest falls due now. */
	f = fault_new("delay=1s", 1);
	for (uint32_t i = 0; i < FAULT_HELD_MAX + 100; i++)
		fault_input(f, mk(i), 0);
	CHECK(drain(f, 0, out, 8) == 100 && out[0] == 0 && out[7] == 7);
	CHECK(drain(f, 1000 * MS, NULL, 0) == FAULT_HELD_MAX);
	fault_free(f);

	/* Held messages are freed with the model (ASan would tell). */
	f = fault_new("delay=1s,reorder=50%", 1);
	for (uint32_t i = 0; i < 100; i++)
		fault_input(f, mk(i), 0);
	fault_free(f);
}

/* A run's outputs as (id, time) pairs; returns how many. */
static size_t
run(const char *spec, uint64_t seed, uint64_t *trace, size_t max)
{
	struct fault *f;
	struct to_msg *m;
	uint64_t now;
	size_t n = 0;
	uint32_t i;

	f = fault_new(spec, seed);
	for (i = 0; i < 5000; i++) {
		now = (uint64_t)i * 300000;
		fault_input(f, mk(i), now);
		while ((m = fault_output(f, now)) != NULL) {
			if (n + 2 <= max) {
				trace[n++] = id_of(m);
				trace[n++] = now;
			}
			msg_free(m);
		}
	}
	fault_free(f);
	return n;
}

static void
test_determinism(void)
{
	static const char spec[] = "loss=10%,dup=10%,reorder=20%,delay=1ms";
	uint64_t *a, *b;
	size_t na, nb;

	a = calloc(20000, sizeof(*a));
	b = calloc(20000, sizeof(*b));
	na = run(spec, 42, a, 20000);
	nb = run(spec, 42, b, 20000);
	CHECK(na == nb && memcmp(a, b, na * sizeof(*a)) == 0);
	nb = run(spec, 43, b, 20000);
	CHECK(na != nb || memcmp(a, b, na * sizeof(*a)) != 0);
	/* seed=N in the spec wins over the argument. */
	na = run("loss=30%,seed=7", 1, a, 20000);
	nb = run("loss=30%,seed=7", 2, b, 20000);
	CHECK(na == nb && memcmp(a, b, na * sizeof(*a)) == 0);
	free(a);
	free(b);
}

int
main(void)
{
	test_parse();
	test_none();
	test_loss();
	test_dup();
	test_reorder();
	test_delay();
	test_determinism();
	return check_done();
}
