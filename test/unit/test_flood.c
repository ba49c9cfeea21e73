/*
 * test_flood.c: a member under a flood of junk keeps its memory flat and
 * its group delivering.
 *
 * Two members of a group on the local transport run in this process; a
 * third party blasts datagrams at member A's UDP port, found in the
 * rendezvous directory as any local process could: random bytes, COM
 * headers with a bad CRC, datagrams of another group, and datagrams of
 * this group from strangers.  Meanwhile B casts and A must deliver.  A's
 * resident memory (VmRSS) at the end, and at every sample, stays within
 * 10% of its value when the flood starts, and the junk is counted where
 * it belongs.  Then the same against a group with a key, whose member
 * also gets datagrams sealed with the wrong key, and unsealed ones.
 *
 * TO_FLOOD=N sends N datagrams in the first part (default 1000000, or
 * 100000 under AddressSanitizer, whose quarantine makes RSS meaningless:
 * there it is only printed) and N/5 in the second.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <err.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "layer.h"

/* Under AddressSanitizer freed memory sits in quarantine, so RSS says
 * nothing about leaks (ASan reports those itself): a shorter flood, and
 * RSS only printed. */
#if defined(__SANITIZE_ADDRESS__)
#define FLOOD_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLOOD_ASAN	1
#endif
#endif
#ifndef FLOOD_ASAN
#define FLOOD_ASAN	0
#endif
#define FLOOD_DEFAULT	(FLOOD_ASAN ? 100000 : 1000000)

#define FLOOD_BURST	200		/* datagrams between two pumps */
#define FLOOD_SAMPLE	50000		/* datagrams between RSS samples */
#define FLOOD_MAXLEN	600
#define FLOOD_WARMUP	4	/* windows filled before measuring */

struct member {
	struct to_config cfg;
	struct to_group	*g;
	uint64_t	 delivered;
	uint32_t	 view_n;
	int		 refused;
};

struct flood {
	struct member	 a, b;
	int		 fd;
	struct sockaddr_in to;
	uint64_t	 rng;
	uint64_t	 sent, cast;
	char		 group[64];
};

static uint64_t
flood_rand(struct flood *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng;
}

/* A line of /proc/self/status in kB, such as "VmRSS". */
static long
status_kb(const char *what)
{
	FILE	*fp = fopen("/proc/self/status", "r");
	char	 line[256];
	size_t	 n = strlen(what);
	long	 kb = -1;

	if (fp == NULL)
		err(1, "/proc/self/status");
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, what, n) == 0 && line[n] == ':' &&
		    sscanf(line + n + 1, "%ld", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

static long
rss_kb(void)
{
	return status_kb("VmRSS");
}

static void
on_deliver(void *arg, const struct to_delivery *d)
{
	((struct member *)arg)->delivered++;
}

static void
on_view(void *arg, const struct to_view *v)
{
	((struct member *)arg)->view_n = v->n;
}

static void
on_refused(void *arg, uint64_t src, enum to_refusal r)
{
	((struct member *)arg)->refused++;
}

static void
member_open(struct member *m, const char *group, const char *rundir,
    const unsigned char *key, size_t keylen)
{
	struct to_callbacks cb = { on_deliver, on_view, m };

	memset(m, 0, sizeof(*m));
	m->cfg.group = group;
	m->cfg.rundir = rundir;
	m->cfg.key = key;
	m->cfg.keylen = keylen;
	m->cfg.refused = on_refused;
	m->cfg.refused_arg = m;
	if ((m->g = to_open(&m->cfg, &cb)) == NULL)
		err(1, "to_open %s", group);
}

/* Run both members for a moment; B casts while it may, unless quiet. */
static void
pump_some(struct flood *f, int wait_ms, int quiet)
{
	struct pollfd	 pfd[2];

	to_pollfds(f->a.g, &pfd[0], 1);
	to_pollfds(f->b.g, &pfd[1], 1);
	if (poll(pfd, 2, wait_ms) == -1)
		err(1, "poll");
	if (to_process(f->a.g) == -1 || to_process(f->b.g) == -1)
		err(1, "to_process");
	while (!quiet && f->b.view_n == 2 && to_can_cast(f->b.g)) {
		if (to_cast(f->b.g, "tick", 4) == -1)
			err(1, "to_cast");
		f->cast++;
		if (f->cast % 64 == 0)
			break;
	}
}

static void
pump(struct flood *f, int wait_ms)
{
	pump_some(f, wait_ms, 0);
}

/* A's port, from its entry <id>.<pid>.<port> in the rendezvous dir. */
static uint16_t
find_port(const char *rundir, const char *group, uint64_t id)
{
	char		 path[512], prefix[32];
	struct dirent	*de;
	DIR		*d;
	unsigned	 port = 0;
	long		 pid;

	snprintf(path, sizeof(path), "%s/%s", rundir, group);
	snprintf(prefix, sizeof(prefix), "%016" PRIx64 ".", id);
	if ((d = opendir(path)) == NULL)
		err(1, "%s", path);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 &&
		    sscanf(de->d_name + strlen(prefix), "%ld.%u", &pid,
		    &port) == 2)
			break;
	closedir(d);
	if (port == 0 || port > 65535)
		errx(1, "no entry for %016" PRIx64 " in %s", id, path);
	return (uint16_t)port;
}

/* One datagram of junk, of kind k (4: sealed with key). */
static size_t
junk(struct flood *f, int k, unsigned char *buf, const unsigned char *key)
{
	struct to_config cfg = { .group = f->group };
	unsigned char	 pay[FLOOD_MAXLEN];
	size_t		 len = 1 + flood_rand(f) % (FLOOD_MAXLEN - 64), i;
	uint64_t	 src = flood_rand(f) | 1;
	ssize_t		 n;

	for (i = 0; i < len; i++)
		pay[i] = (unsigned char)flood_rand(f);
	switch (k) {
	case 0:			/* random bytes */
		memcpy(buf, pay, len);
		return len;
	case 1:			/* another group */
		cfg.group = "someone-else";
		break;
	case 2:			/* ours, from a stranger */
	case 3:			/* ours, with a CRC gone bad (below) */
		break;
	default:		/* ours, sealed with a key not ours */
		cfg.key = key;
		cfg.keylen = 32;
		break;
	}
	n = com_wrap(&cfg, src, 0, flood_rand(f), pay, len, buf,
	    FLOOD_MAXLEN + 64);
	if (n < 0)
		err(1, "com_wrap");
	if (k == 3)
		buf[n - 1] ^= 0x40;
	return (size_t)n;
}

/*
 * Blast n datagrams (kinds in turn, from kinds) at A while the group runs.
 * Returns 1 if memory stayed flat and A kept delivering.
 */
static int
blast(struct flood *f, uint64_t n, const int *kinds, int nkinds,
    const unsigned char *junkkey)
{
	unsigned char	 buf[FLOOD_MAXLEN + 64];
	long		 rss0, rss, peak;
	uint64_t	 i, last_del = 0, stalls = 0;
	size_t		 len;
	int		 k;

	/*
	 * Settle: the group's buffers at their working size.  Under the
	 * flood A falls behind and B's whole flow-control window of
	 * messages is kept unstable, so fill it a few times first (B casts
	 * while A takes nothing), and send some junk of every kind.
	 */
	for (i = 0; i < FLOOD_WARMUP; i++) {
		while (to_can_cast(f->b.g) && to_cast(f->b.g, "tick", 4) == 0)
			f->cast++;
		for (k = 0; k < 1000; k++) {
			len = junk(f, kinds[k % nkinds], buf, junkkey);
			(void)sendto(f->fd, buf, len, 0,
			    (struct sockaddr *)&f->to, sizeof(f->to));
			if (k % FLOOD_BURST == 0)
				pump(f, 0);
		}
		while (f->a.delivered < f->cast)
			pump_some(f, 1, 1);
	}
	rss0 = peak = rss_kb();
	last_del = f->a.delivered;
	for (i = 0; i < n; i++) {
		len = junk(f, kinds[i % nkinds], buf, junkkey);
		if (sendto(f->fd, buf, len, 0, (struct sockaddr *)&f->to,
		    sizeof(f->to)) == -1)
			err(1, "sendto");
		if (i % FLOOD_BURST == FLOOD_BURST - 1)
			pump(f, 0);
		if (i % FLOOD_SAMPLE == FLOOD_SAMPLE - 1) {
			if ((rss = rss_kb()) > peak)
				peak = rss;
			if (getenv("FLOOD_VERBOSE") != NULL)
				printf("# %" PRIu64 ": VmRSS %ld kB (anon %ld, "
				    "file %ld), A delivered %" PRIu64 "\n",
				    i + 1, rss, status_kb("RssAnon"),
				    status_kb("RssFile"), f->a.delivered);
			if (f->a.delivered == last_del)
				stalls++;
			last_del = f->a.delivered;
		}
	}
	for (i = 0; i < 20; i++)
		pump(f, 1);
	rss = rss_kb();
	printf("# %" PRIu64 " datagrams: VmRSS %ld kB at the start, %ld kB at "
	    "the end, %ld kB at most (%+.1f%%); A delivered %" PRIu64
	    " in all, %" PRIu64 " samples without a delivery\n", n, rss0, rss,
	    peak, 100.0 * (peak - rss0) / rss0, f->a.delivered, stalls);
	return (FLOOD_ASAN || (rss <= rss0 * 11 / 10 &&
	    peak <= rss0 * 11 / 10)) && stalls == 0;
}

static void
flood_open(struct flood *f, const char *rundir, const char *tag,
    const unsigned char *key)
{
	snprintf(f->group, sizeof(f->group), "flood-%s-%ld", tag,
	    (long)getpid());
	member_open(&f->a, f->group, rundir, key, key ? 32 : 0);
	member_open(&f->b, f->group, rundir, key, key ? 32 : 0);
	while (f->a.view_n != 2 || f->b.view_n != 2)
		pump(f, 10);
	if ((f->fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		err(1, "socket");
	memset(&f->to, 0, sizeof(f->to));
	f->to.sin_family = AF_INET;
	f->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->to.sin_port = htons(find_port(rundir, f->group, to_self(f->a.g)));
	f->rng = 0x9e3779b97f4a7c15ULL;
}

static void
flood_close(struct flood *f)
{
	to_close(f->a.g);
	to_close(f->b.g);
	close(f->fd);
}

int
main(void)
{
	static const unsigned char key[32] = "flood test: a key of 32 bytes..";
	static const unsigned char wrong[32] = "flood test: not the key, 32 b..";
	static const int plain[4] = { 0, 1, 3, 2 }, sealed[5] = { 0, 4, 2, 3,
			    1 };
	const struct to_stats *st;
	struct flood	 f;
	char		 rundir[] = "/tmp/test_flood.XXXXXX", cmd[64];
	const char	*env = getenv("TO_FLOOD");
	uint64_t	 n = env ? strtoull(env, NULL, 10) : FLOOD_DEFAULT, del;

	if (mkdtemp(rundir) == NULL)
		err(1, "mkdtemp");

	/* junk, CRC gone bad, another group, strangers (1 in 4 each) */
	memset(&f, 0, sizeof(f));
	flood_open(&f, rundir, "plain", NULL);
	del = f.a.delivered;
	CHECK(blast(&f, n, plain, 4, NULL));
	st = to_stats(f.a.g);
	printf("# dropped: %" PRIu64 " bad, %" PRIu64 " foreign\n",
	    st->dropped_bad, st->dropped_foreign);
	CHECK(f.a.delivered - del > 1000);
	/* all but what the kernel dropped for want of buffer space */
	CHECK(st->dropped_bad >= n * 9 / 10 / 2 &&
	    st->dropped_foreign >= n * 9 / 10 / 4);
	CHECK(f.a.view_n == 2 && f.b.view_n == 2);
	flood_close(&f);

	/* with a key: forged seals from strangers, and unsealed ones */
	memset(&f, 0, sizeof(f));
	flood_open(&f, rundir, "key", key);
	del = f.a.delivered;
	CHECK(blast(&f, n / 5, sealed, 5, wrong));
	st = to_stats(f.a.g);
	printf("# dropped: %" PRIu64 " bad, %" PRIu64 " foreign, %" PRIu64
	    " unauthentic, %" PRIu64 " unsealed\n", st->dropped_bad,
	    st->dropped_foreign, st->dropped_auth, st->dropped_unsealed);
	CHECK(f.a.delivered - del > 200);
	CHECK(st->dropped_auth >= n * 9 / 10 / 25 &&
	    st->dropped_unsealed >= n * 9 / 10 / 25);
	CHECK(f.a.view_n == 2 && f.b.view_n == 2);
	flood_close(&f);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", rundir);
	if (system(cmd) != 0)
		warnx("could not remove %s", rundir);
	return check_done();
}
