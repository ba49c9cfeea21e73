/*
 * com.c: the COM layer, the bottom of every stack (paper section 4: "the
 * COM layer is responsible for the actual interface with udp").
 *
 * Guarantees: a datagram that reaches the layer above came from a member of
 * this group (by name hash), speaks this version, is addressed to us or to
 * all, was not sent by us, and is intact (CRC-32 over header and payload).
 * Anything else is dropped and counted.  Fault injection (TO_FAULTS) acts
 * here, on received datagrams, for every transport alike.
 *
 * Header, 28 bytes, big-endian:
 *
 *	 0      2   3   4               8
 *	+------+---+---+---------------+
 *	| 'TO' |ver|flg|  group hash   |
 *	+------+---+---+---------------+-------------------------------+
 *	|            src member id      |          dst member id (0: all)
 *	+-------------------------------+-------------------------------+
 *	|  CRC-32 of bytes 0..23 and the payload  |
 *	+---------------------------------------+
 *
 * flg is 0; the security issue takes bit 0 for sealed datagrams.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <zlib.h>

#include "fault.h"
#include "layer.h"

#define COM_MAGIC	0x544f
#define COM_VERSION	1
#define COM_HDR		28
#define COM_CRC_OFF	24

struct com {
	uint32_t	 group;
	struct fault	*fault;
	uint64_t	*members;	/* of the last view, to forget leavers */
	uint32_t	 nmembers;
};

uint32_t
com_group_hash(const char *name)
{
	uint32_t	 h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

static uint32_t
com_crc(const unsigned char *hdr, const unsigned char *payload, size_t len)
{
	uLong	 c;

	c = crc32(0L, hdr, COM_CRC_OFF);
	return (uint32_t)crc32_z(c, payload, len);
}

static int
com_init(struct layer *l)
{
	const struct to_config *cfg = layer_config(l);
	struct com	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->group = com_group_hash(cfg->group ? cfg->group : "");
	if (cfg->faults != NULL && *cfg->faults != '\0' &&
	    (c->fault = fault_new(cfg->faults, cfg->seed ^ layer_self(l))) ==
	    NULL) {
		free(c);
		return -1;
	}
	l->state = c;
	return 0;
}

static void
com_fini(struct layer *l)
{
	struct com	*c = l->state;

	if (c == NULL)
		return;
	fault_free(c->fault);
	free(c->members);
	free(c);
}

static int
com_down(struct layer *l, struct to_msg *m)
{
	struct com	*c = l->state;
	struct transport *tr = layer_transport(l);
	struct to_stats	*st = layer_stats(l);
	struct iovec	 iov;
	unsigned char	*h;
	int		 rv;

	if ((h = msg_push(m, COM_HDR)) == NULL) {
		msg_free(m);
		return -1;
	}
	if (m->len > tr->mtu) {
		msg_free(m);
		errno = EMSGSIZE;
		return -1;
	}
	put16(h, COM_MAGIC);
	h[2] = COM_VERSION;
	h[3] = 0;
	put32(h + 4, c->group);
	put64(h + 8, layer_self(l));
	put64(h + 16, m->meta.dst);
	put32(h + COM_CRC_OFF, com_crc(h, h + COM_HDR, m->len - COM_HDR));
	iov.iov_base = h;
	iov.iov_len = m->len;
	rv = tr->ops->send(tr, m->meta.dst, &iov, 1);
	if (rv == 0) {
		st->dgrams_sent++;
		st->bytes_sent += m->len;
	}
	msg_free(m);
	return rv;
}

/* Check a raw datagram; 0 if it is ours to deliver, -1 if dropped. */
static int
com_accept(struct layer *l, struct to_msg *m)
{
	struct com	*c = l->state;
	struct to_stats	*st = layer_stats(l);
	const unsigned char *h = msg_data(m);
	uint64_t	 dst;

	if (m->len < COM_HDR || get16(h) != COM_MAGIC ||
	    h[2] != COM_VERSION || h[3] != 0 ||
	    get32(h + COM_CRC_OFF) != com_crc(h, h + COM_HDR,
	    m->len - COM_HDR)) {
		st->dropped_bad++;
		return -1;
	}
	if (get32(h + 4) != c->group) {
		st->dropped_foreign++;
		return -1;
	}
	m->meta.src = get64(h + 8);
	dst = get64(h + 16);
	if (m->meta.src == layer_self(l) || m->meta.src == 0 ||
	    (dst != 0 && dst != layer_self(l)))
		return -1;
	m->meta.dst = dst;
	return 0;
}

static void
com_deliver_due(struct layer *l)
{
	struct com	*c = l->state;
	struct to_msg	*m;

	while ((m = fault_output(c->fault, layer_now(l))) != NULL) {
		msg_pull(m, COM_HDR);
		layer_up(l, m);
	}
	layer_wake(l, fault_next_due(c->fault));
}

static void
com_up(struct layer *l, struct to_msg *m)
{
	struct com	*c = l->state;
	struct transport *tr = layer_transport(l);
	struct to_stats	*st = layer_stats(l);

	st->dgrams_recv++;
	st->bytes_recv += m->len;
	if (com_accept(l, m) == -1) {
		msg_free(m);
		return;
	}
	if (tr->ops->learn != NULL)
		tr->ops->learn(tr, m->meta.src);
	if (c->fault == NULL) {
		msg_pull(m, COM_HDR);
		layer_up(l, m);
		return;
	}
	st->dropped_fault += fault_input(c->fault, m, layer_now(l));
	com_deliver_due(l);
}

static void
com_timer(struct layer *l)
{
	struct com	*c = l->state;

	if (c->fault != NULL)
		com_deliver_due(l);
}

/* Members that left the view: let the transport forget their addresses. */
static void
com_ctl_down(struct layer *l, struct event *e)
{
	struct com	*c = l->state;
	struct transport *tr = layer_transport(l);
	uint64_t	*keep;
	uint32_t	 i, j;

	if (e->type != EV_VIEW || e->view == NULL)
		return;
	for (i = 0; i < c->nmembers; i++) {
		for (j = 0; j < e->view->n; j++)
			if (e->view->members[j] == c->members[i])
				break;
		if (j == e->view->n && tr->ops->forget != NULL)
			tr->ops->forget(tr, c->members[i]);
	}
	keep = reallocarray(NULL, e->view->n, sizeof(*keep));
	if (keep == NULL)
		return;
	memcpy(keep, e->view->members, e->view->n * sizeof(*keep));
	free(c->members);
	c->members = keep;
	c->nmembers = e->view->n;
}

const struct layer_ops com_ops = {
	.name = "com",
	.about = "datagrams: group filter, CRC-32, fault injection",
	.hdr_len = COM_HDR,
	.init = com_init,
	.fini = com_fini,
	.down = com_down,
	.up = com_up,
	.ctl_down = com_ctl_down,
	.ctl_up = layer_ctl_up,
	.timer = com_timer,
};
