/*
 * burst_raw.c: -p raw, the same bursts over the group's bare transport,
 * so that every table has the limit of its own path beside it.
 *
 * The control messages still go through an ordered group (GROUP.raw,
 * dynseq); the payloads go through to_raw(3) on GROUP.raw.d, with no
 * ordering, no reliability and no membership: what the network loses is
 * lost and counted.  A payload of size bytes goes as datagrams of at most
 * the transport's mtu, each with a 13-byte header:
 *
 *	u8 'R', u32 run, u32 rep, u32 round, then up to mtu - 13 bytes of
 *	the payload
 *
 * A receiver counts the datagrams of the current run, and of its current
 * round and the next (with --all a member may be a round ahead); whole
 * payloads are datagrams over the datagrams a payload takes.  A round
 * ends at a receiver once the senders' ENDs came through the ordered
 * group and either every payload of the round is in or nothing came for
 * a while (burst_member.c).
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "burst.h"

#define RAW_TYPE	'R'
#define RAW_HDR		13
#define RAW_DRAIN_MAX	4096	/* datagrams read per call */

static void
raw_put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t
raw_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

int
burst_raw_open(struct burst_raw *b, const struct to_config *cfg,
    uint64_t self)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	if ((size_t)snprintf(b->group, sizeof(b->group), "%s.d", cfg->group) >=
	    sizeof(b->group)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	b->cfg.group = b->group;
	if ((b->r = to_raw_open(&b->cfg, self)) == NULL)
		return -1;
	b->mtu = to_raw_mtu(b->r);
	if (b->mtu <= RAW_HDR)
		errx(EX_SOFTWARE, "%s: a datagram of %zu bytes", b->group,
		    b->mtu);
	/* zeros: the payloads are never written, only the headers */
	if ((b->buf = malloc(b->mtu)) == NULL ||
	    (b->out = calloc(1, b->mtu)) == NULL)
		err(EX_OSERR, NULL);
	return 0;
}

void
burst_raw_close(struct burst_raw *b)
{
	to_raw_close(b->r);
	free(b->buf);
	free(b->out);
	memset(b, 0, sizeof(*b));
}

void
burst_raw_begin(struct burst_raw *b, uint32_t run, uint32_t rep)
{
	b->begun = 1;
	b->run = run;
	b->rep = rep;
	b->round = 0;
	b->dgrams = b->cur = b->next = b->sent_dgrams = b->sent_bytes = 0;
	b->last = 0;
	/* a fast sender's first datagrams may come before our START */
	if (b->early.run == run && b->early.rep == rep && b->early.n > 0) {
		b->dgrams = b->early.n;
		b->cur = b->early.cur;
		b->next = b->early.next;
		b->last = b->early.last;
	}
	memset(&b->early, 0, sizeof(b->early));
}

void
burst_raw_next_round(struct burst_raw *b)
{
	b->round++;
	b->cur = b->next;
	b->next = 0;
}

int
burst_raw_pollfds(struct burst_raw *b, struct pollfd *pfd, int max)
{
	return to_raw_pollfds(b->r, pfd, max);
}

/* Datagrams a payload of size bytes takes. */
static uint64_t
raw_per_msg(const struct burst_raw *b, uint32_t size)
{
	size_t	 room = b->mtu - RAW_HDR;

	return size == 0 ? 1 : (size + room - 1) / room;
}

/* One payload of size bytes, to every other member. */
int
burst_raw_send(struct burst_raw *b, uint32_t size)
{
	size_t	 room = b->mtu - RAW_HDR, left = size, n;

	b->out[0] = RAW_TYPE;
	raw_put32(b->out + 1, b->run);
	raw_put32(b->out + 5, b->rep);
	raw_put32(b->out + 9, b->round);
	do {
		n = left < room ? left : room;
		if (to_raw_send(b->r, b->out, RAW_HDR + n) == -1)
			return -1;
		b->sent_dgrams++;
		b->sent_bytes += RAW_HDR + n;
		left -= n;
	} while (left > 0);
	return 0;
}

/* A datagram of run, rep and round: this run's, or one that began
 * before we knew (the last such run only), or an old one's. */
static void
raw_count(struct burst_raw *b, uint32_t run, uint32_t rep, uint32_t round,
    uint64_t now)
{
	struct burst_raw_early *e = &b->early;

	if (!b->begun || run != b->run || rep != b->rep) {
		if (b->begun &&
		    (run < b->run || (run == b->run && rep < b->rep)))
			return;
		if (e->run != run || e->rep != rep)
			memset(e, 0, sizeof(*e));
		e->run = run;
		e->rep = rep;
		e->n++;
		e->cur += round == 0;
		e->next += round == 1;
		e->last = now;
		return;
	}
	b->dgrams++;
	b->last = now;
	if (round == b->round)
		b->cur++;
	else if (round == b->round + 1)
		b->next++;
}

/* Count what came for this run; the rest (older runs, junk) is dropped. */
void
burst_raw_drain(struct burst_raw *b, uint64_t now)
{
	ssize_t	 n;
	int	 i;

	for (i = 0; i < RAW_DRAIN_MAX; i++) {
		if ((n = to_raw_recv(b->r, b->buf, b->mtu)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				err(EX_OSERR, "raw transport");
			return;
		}
		if (n < RAW_HDR || b->buf[0] != RAW_TYPE)
			continue;
		raw_count(b, raw_get32(b->buf + 1), raw_get32(b->buf + 5),
		    raw_get32(b->buf + 9), now);
	}
}

/* Whole payloads of size bytes received in this run, or round. */
uint64_t
burst_raw_msgs(const struct burst_raw *b, uint32_t size)
{
	return b->dgrams / raw_per_msg(b, size);
}

uint64_t
burst_raw_round_msgs(const struct burst_raw *b, uint32_t size)
{
	return b->cur / raw_per_msg(b, size);
}
