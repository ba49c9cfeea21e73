/*
 * test_landing.c: long messages between real members on the local
 * transport, whose fragments are read straight into the message they
 * continue (EV_LANDING, group.c), arrive whole and intact, and so do
 * those the reading cannot place: two senders at once, and the fragments
 * a member's own datagrams and acknowledgements come between.
 *
 * Three members of one group run in this process, under total (a sender
 * broadcasts its own data).  A casts messages of 1 MiB and of odd sizes
 * with a pattern that names the message and the byte; then A and B cast
 * at the same time.  Every member checks every byte it delivers; each
 * must have read fragments in place, and a sealed group (which never
 * does) must deliver the same.  Under dynseq the sequencer gets the data
 * point to point, and the others get it from the sequencer: each reads
 * in place too.
 */
#include <err.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "layer.h"

#define NMEMBERS	3
#define BIG		(1u << 20)

struct member {
	struct to_config cfg;
	struct to_group	*g;
	uint32_t	 view_n;
	uint64_t	 delivered, bad;
};

static struct member	 mb[NMEMBERS];

/* Byte i of message k of sender s. */
static unsigned char
pattern(int s, uint32_t k, size_t i)
{
	return (unsigned char)(i * 131 + k * 7 + (size_t)s * 53 + (i >> 13));
}

static void
fill(unsigned char *p, size_t len, int s, uint32_t k)
{
	size_t	 i;

	put32(p, k);
	p[4] = (unsigned char)s;
	for (i = 5; i < len; i++)
		p[i] = pattern(s, k, i);
}

static int
sender_index(uint64_t id)
{
	int	 i;

	for (i = 0; i < NMEMBERS; i++)
		if (to_self(mb[i].g) == id)
			return i;
	return -1;
}

static void
on_deliver(void *arg, const struct to_delivery *d)
{
	struct member	*m = arg;
	const unsigned char *p = d->data;
	uint32_t	 k;
	size_t		 i;
	int		 s = sender_index(d->sender);

	m->delivered++;
	if (d->len < 5 || s == -1 || p[4] != s) {
		m->bad++;
		return;
	}
	k = get32(p);
	for (i = 5; i < d->len; i++)
		if (p[i] != pattern(s, k, i)) {
			m->bad++;
			return;
		}
}

static void
on_view(void *arg, const struct to_view *v)
{
	((struct member *)arg)->view_n = v->n;
}

static void
pump(int wait_ms)
{
	struct pollfd	 pfd[NMEMBERS];
	int		 i;

	for (i = 0; i < NMEMBERS; i++)
		to_pollfds(mb[i].g, &pfd[i], 1);
	if (poll(pfd, NMEMBERS, wait_ms) == -1)
		err(1, "poll");
	for (i = 0; i < NMEMBERS; i++)
		if (to_process(mb[i].g) == -1)
			err(1, "to_process");
}

static void
open_all(const char *group, const char *rundir, const char *protocol,
    const unsigned char *key)
{
	struct to_callbacks cb = { on_deliver, on_view, NULL };
	int		 i, ready;

	for (i = 0; i < NMEMBERS; i++) {
		memset(&mb[i], 0, sizeof(mb[i]));
		mb[i].cfg.group = group;
		mb[i].cfg.rundir = rundir;
		mb[i].cfg.max_msg = 4 * BIG;
		mb[i].cfg.protocol = protocol;
		mb[i].cfg.key = key;
		mb[i].cfg.keylen = key != NULL ? 32 : 0;
		cb.arg = &mb[i];
		if ((mb[i].g = to_open(&mb[i].cfg, &cb)) == NULL)
			err(1, "to_open");
	}
	do {
		pump(10);
		for (ready = 1, i = 0; i < NMEMBERS; i++)
			ready &= mb[i].view_n == NMEMBERS;
	} while (!ready);
}

/* Senders s (a bit each) cast n messages of the sizes given, in turn. */
static void
cast_all(unsigned senders, const size_t *sizes, int nsizes, int n)
{
	unsigned char	*buf;
	uint64_t	 t0 = to_now();
	int		 s, k, left[NMEMBERS] = { 0 }, done;

	if ((buf = malloc(4 * BIG)) == NULL)
		err(1, NULL);
	for (s = 0; s < NMEMBERS; s++)
		if (senders & 1u << s)
			left[s] = n;
	do {
		for (s = 0; s < NMEMBERS; s++) {
			if (left[s] == 0 || !to_can_cast(mb[s].g))
				continue;
			k = n - left[s];
			fill(buf, sizes[k % nsizes], s, (uint32_t)k);
			if (to_cast(mb[s].g, buf, sizes[k % nsizes]) == 0)
				left[s]--;
		}
		pump(1);
		for (done = 1, s = 0; s < NMEMBERS; s++)
			done &= left[s] == 0;
	} while (!done && to_now() - t0 < 20000000000ULL);
	free(buf);
}

/* Until every member delivered total, or 20 s. */
static void
settle(uint64_t total)
{
	uint64_t	 t0 = to_now();
	int		 i, done;

	do {
		pump(5);
		for (done = 1, i = 0; i < NMEMBERS; i++)
			done &= mb[i].delivered >= total;
	} while (!done && to_now() - t0 < 20000000000ULL);
}

static void
close_all(void)
{
	int	 i;

	for (i = 0; i < NMEMBERS; i++)
		to_close(mb[i].g);
}

static void
test_group(const char *rundir, const char *protocol,
    const unsigned char *key)
{
	static const size_t sizes[] = { BIG, 65536, 3 * BIG + 77, 200001 };
	char		 group[64], path[128];
	uint64_t	 landed[NMEMBERS];
	int		 i;

	snprintf(group, sizeof(group), "landing-%s-%s-%ld", protocol,
	    key ? "k" : "p", (long)getpid());
	open_all(group, rundir, protocol, key);
	cast_all(1, sizes, 4, 12);
	settle(12);
	for (i = 0; i < NMEMBERS; i++)
		CHECK(mb[i].delivered == 12 && mb[i].bad == 0);
	cast_all(3, sizes, 4, 8);
	settle(12 + 16);
	for (i = 0; i < NMEMBERS; i++) {
		CHECK(mb[i].delivered == 28 && mb[i].bad == 0);
		landed[i] = to_stats(mb[i].g)->dgrams_landed;
	}
	printf("# %s, %s: datagrams read in place at A, B, C: %" PRIu64
	    ", %" PRIu64 ", %" PRIu64 "\n", protocol, key ? "sealed" : "plain",
	    landed[0], landed[1], landed[2]);
	if (key != NULL)
		CHECK(landed[0] + landed[1] + landed[2] == 0);
	else
		CHECK(landed[0] > 0 && landed[1] > 0 && landed[2] > 0);
	close_all();
	snprintf(path, sizeof(path), "%s/%s", rundir, group);
	CHECK(rmdir(path) == 0);
}

int
main(void)
{
	static const unsigned char key[32] = "landing test: a key of 32 bytes";
	char		 rundir[] = "/tmp/test_landing.XXXXXX";

	if (mkdtemp(rundir) == NULL)
		err(1, "mkdtemp");
	test_group(rundir, "total", NULL);
	test_group(rundir, "dynseq", NULL);
	test_group(rundir, "total", key);
	CHECK(rmdir(rundir) == 0);
	return check_done();
}
