/*
 * burst_wire.c: toburst's control messages, cast in the group's total
 * order like the payloads.  The first byte says what a message is:
 *
 *	DATA	0	then size - 1 bytes of zeros (a payload)
 *	START	1	run:4 rep:4 mode:1 m:4 size:4 rounds:4 rate:4 ms:4
 *	ACK	2	run:4 rep:4 round:4			(--one)
 *	RESULT	3	run:4 rep:4, then 12 counters of 8 bytes (cast,
 *			delivered, blocked, lat_sum, lat_n, lat_max,
 *			dgrams, bytes, retrans, naks, packs, packed), then
 *			the latency histogram: n:2 and n times
 *			(bucket:2 count:8)
 *	DONE	4	leave this group
 *	END	5	run:4 rep:4 round:4: with -p raw, the sender's burst
 *			of the round went out over the bare transport
 *
 * Numbers are big-endian, written byte by byte; a reader checks the
 * length before it reads and returns -1 on a malformed message.
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "burst.h"

#define START_LEN	30
#define ACK_LEN		13
#define RESULT_FIXED	(9 + 12 * 8 + 2)

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	return p + 4;
}

static unsigned char *
put64(unsigned char *p, uint64_t v)
{
	return put32(put32(p, v >> 32), (uint32_t)v);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static unsigned char *
wire_new(size_t len)
{
	unsigned char	*p;

	if ((p = calloc(1, len)) == NULL)
		err(EX_OSERR, NULL);
	return p;
}

/* The run and repetition a START, ACK or RESULT is about. */
int
burst_wire_run(const unsigned char *p, size_t len, uint32_t *run,
    uint32_t *rep)
{
	if (len < 9)
		return -1;
	*run = get32(p + 1);
	*rep = get32(p + 5);
	return 0;
}

unsigned char *
burst_wire_start(uint32_t run, uint32_t rep, const struct burst_cell *cl,
    size_t *len)
{
	unsigned char	*b = wire_new(START_LEN), *p = b;

	*p++ = BURST_MSG_START;
	p = put32(p, run);
	p = put32(p, rep);
	*p++ = cl->mode;
	p = put32(p, cl->m);
	p = put32(p, cl->size);
	p = put32(p, cl->rounds);
	p = put32(p, cl->rate);
	put32(p, cl->duration_ms);
	*len = START_LEN;
	return b;
}

int
burst_wire_read_start(const unsigned char *p, size_t len,
    struct burst_cell *cl)
{
	if (len != START_LEN)
		return -1;
	cl->mode = p[9];
	cl->m = get32(p + 10);
	cl->size = get32(p + 14);
	cl->rounds = get32(p + 18);
	cl->rate = get32(p + 22);
	cl->duration_ms = get32(p + 26);
	if ((cl->mode != BURST_MODE_ALL && cl->mode != BURST_MODE_ONE) ||
	    cl->size == 0 ||
	    (cl->rate == 0 && (cl->m == 0 || cl->rounds == 0)))
		return -1;
	return 0;
}

/* An ACK or an END: a message about one round. */
static unsigned char *
wire_round(int type, uint32_t run, uint32_t rep, uint32_t round,
    size_t *len)
{
	unsigned char	*b = wire_new(ACK_LEN), *p = b;

	*p++ = type;
	p = put32(p, run);
	p = put32(p, rep);
	put32(p, round);
	*len = ACK_LEN;
	return b;
}

unsigned char *
burst_wire_ack(uint32_t run, uint32_t rep, uint32_t round, size_t *len)
{
	return wire_round(BURST_MSG_ACK, run, rep, round, len);
}

unsigned char *
burst_wire_end(uint32_t run, uint32_t rep, uint32_t round, size_t *len)
{
	return wire_round(BURST_MSG_END, run, rep, round, len);
}

int
burst_wire_read_ack(const unsigned char *p, size_t len, uint32_t *round)
{
	if (len != ACK_LEN)
		return -1;
	*round = get32(p + 9);
	return 0;
}

unsigned char *
burst_wire_result(uint32_t run, uint32_t rep, const struct burst_tally *t,
    size_t *len)
{
	const uint64_t	 f[] = { t->cast, t->delivered, t->blocked,
	    t->lat_sum, t->lat_n, t->lat_max, t->dgrams, t->bytes,
	    t->retrans, t->naks, t->packs, t->packed };
	unsigned char	*b, *p;
	size_t		 i, nh = 0;

	for (i = 0; i < BURST_HIST_N; i++)
		nh += t->h.n[i] != 0;
	b = p = wire_new(RESULT_FIXED + nh * 10);
	*p++ = BURST_MSG_RESULT;
	p = put32(p, run);
	p = put32(p, rep);
	for (i = 0; i < 12; i++)
		p = put64(p, f[i]);
	*p++ = nh >> 8;
	*p++ = nh;
	for (i = 0; i < BURST_HIST_N; i++) {
		if (t->h.n[i] == 0)
			continue;
		*p++ = i >> 8;
		*p++ = i;
		p = put64(p, t->h.n[i]);
	}
	*len = p - b;
	return b;
}

int
burst_wire_read_result(const unsigned char *p, size_t len,
    struct burst_tally *t)
{
	uint64_t	*f[] = { &t->cast, &t->delivered, &t->blocked,
	    &t->lat_sum, &t->lat_n, &t->lat_max, &t->dgrams, &t->bytes,
	    &t->retrans, &t->naks, &t->packs, &t->packed };
	size_t		 i, nh, k;

	memset(t, 0, sizeof(*t));
	if (len < RESULT_FIXED)
		return -1;
	p += 9;
	for (i = 0; i < 12; i++, p += 8)
		*f[i] = get64(p);
	nh = (size_t)p[0] << 8 | p[1];
	p += 2;
	if (len != RESULT_FIXED + nh * 10)
		return -1;
	for (i = 0; i < nh; i++, p += 10) {
		if ((k = (size_t)p[0] << 8 | p[1]) >= BURST_HIST_N)
			return -1;
		t->h.n[k] += get64(p + 2);
		t->h.total += get64(p + 2);
	}
	return 0;
}
