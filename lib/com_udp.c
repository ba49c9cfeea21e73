/*
 * com_udp.c: the IP multicast transport, "udp://[ADDR][:PORT][?PARAMS]".
 *
 * ADDR is an IPv4 multicast address (224.0.0.0/4) and PORT the group's
 * port.  Either may be left out; the defaults come from the 32-bit FNV-1a
 * hash h of the group name (com_group_hash), so members that agree on a
 * name agree on where to meet:
 *
 *	ADDR = 239.255.(h >> 8 & 0xff).(h & 0xff)	(last octet 0: 1)
 *	PORT = 5400 + (h >> 16) % 500
 *
 * PARAMS (com_ip.h) are "ttl=N" (multicast hops, 1 to 255, default 1:
 * this network only), "mtu=N" (datagram bytes, see below) and "buf=N"
 * (socket buffers to ask for, default 4m), joined by '&'.
 *
 * Two sockets.  The multicast socket is bound to INADDR_ANY:PORT (shared
 * with other members on the host through SO_REUSEADDR and SO_REUSEPORT)
 * and joined to ADDR on to_config.iface, or the interface of the route to
 * ADDR.  The unicast socket has an ephemeral port; everything is sent from
 * it, multicast and unicast, so the source address of any datagram is
 * where its sender takes unicasts.  Multicasts loop back, so members on
 * one host hear each other; a member's own datagrams come back too and
 * recv() drops them (their source is our port on an address of this
 * host), before COM spends a CRC on them.
 *
 * Datagrams are sent with the DF bit (IP_PMTUDISC_DO), so IP never
 * fragments them; the mtu is that of the interface (-i) or of the route to
 * ADDR, less 28 bytes of IP and UDP header, at most 65000.  "mtu=N" sets
 * another size; above the interface's, IP fragments (DF off).
 *
 * learn() remembers the source address of the datagram recv() returned
 * last for a member; a send to a member goes there, or to the group if the
 * member is unknown (the layers above carry the destination id in their
 * header and drop what is not theirs).  A send that fails for want of
 * buffer space or of a route (a network down or filtered) is a loss, as
 * on the wire: NAK repairs it, MBRSHIP notices a partition.
 *
 * On "lo", Linux delivers multicast although the interface lacks the
 * MULTICAST flag, provided the receivers join on 127.0.0.1 and the sender
 * sets IP_MULTICAST_IF to 127.0.0.1; so for "lo" both go by address.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "com_ip.h"
#include "layer.h"

#define UDP_TTL		1

struct udp_peer {
	uint64_t		 id;
	struct sockaddr_in	 sin;
};

struct udp_state {
	int			 mfd;		/* bound to the group's port */
	int			 ufd;		/* ephemeral: sends, unicasts */
	struct sockaddr_in	 group;		/* ADDR:PORT */
	struct ip_params	 p;
	unsigned		 ifindex;	/* 0: kernel's choice */
	int			 lo;		/* iface is "lo" */
	int			 frag;		/* mtu=N beyond the interface */
	in_port_t		 port;		/* ufd's, network order */
	struct in_addr		 own;		/* where our multicasts come from */
	int			 own_known;
	struct in_addr		 other;		/* another host, our port too */
	int			 other_known;
	int			 next;		/* socket recv tries first */
	struct sockaddr_in	 last;		/* source of the last recv */
	int			 have_last;
	struct udp_peer		*peers;		/* sorted by id */
	size_t			 npeers, cap;
};

/* Fill st->group and st->p from spec "[ADDR][:PORT][?PARAMS]". */
static int
udp_parse(struct udp_state *st, const char *group, const char *spec)
{
	char base[IP_SPEC_MAX], addr[INET_ADDRSTRLEN];
	const char *colon, *errstr;
	uint32_t h;
	size_t n;
	long long port;

	h = com_group_hash(group);
	memset(&st->group, 0, sizeof(st->group));
	st->group.sin_family = AF_INET;
	st->group.sin_addr.s_addr = htonl(0xefff0000u | (h & 0xffffu));
	if ((h & 0xff) == 0)
		st->group.sin_addr.s_addr = htonl(0xefff0000u |
		    (h & 0xff00u) | 1);
	st->group.sin_port = htons(ip_default_port(group));
	if (ip_params(spec, base, sizeof(base), &st->p) == -1)
		return -1;
	if (st->p.port != 0)
		goto bad;	/* the port goes after the address */
	colon = strchr(base, ':');
	n = colon != NULL ? (size_t)(colon - base) : strlen(base);
	if (n > 0) {
		if (n >= sizeof(addr))
			goto bad;
		memcpy(addr, base, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET, addr, &st->group.sin_addr) != 1 ||
		    !IN_MULTICAST(ntohl(st->group.sin_addr.s_addr)))
			goto bad;
	}
	if (colon != NULL) {
		port = strtonum(colon + 1, 1, 65535, &errstr);
		if (errstr != NULL)
			goto bad;
		st->group.sin_port = htons((uint16_t)port);
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

static int
udp_setopt(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v));
}

/* The multicast socket: bound to the group's port, joined to the group. */
static int
udp_msocket(struct transport *tr, struct udp_state *st)
{
	struct sockaddr_in sin;
	struct ip_mreqn mr;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if ((st->mfd = fd) == -1)
		return -1;
	ip_buffers(tr, fd, st->p.buf);
	if (udp_setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1) == -1 ||
	    udp_setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1) == -1)
		return -1;
	/* Only the groups this socket joined, not every group on the host. */
	(void)udp_setopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	sin.sin_port = st->group.sin_port;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return -1;
	memset(&mr, 0, sizeof(mr));
	mr.imr_multiaddr = st->group.sin_addr;
	if (st->lo)
		mr.imr_address.s_addr = htonl(INADDR_LOOPBACK);
	else
		mr.imr_ifindex = (int)st->ifindex;
	return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr));
}

/* The sending socket, which also takes unicasts on an ephemeral port. */
static int
udp_usocket(struct transport *tr, struct udp_state *st)
{
	struct sockaddr_in sin;
	struct ip_mreqn mr;
	struct in_addr ia;
	socklen_t sl = sizeof(sin);
	int fd, r = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if ((st->ufd = fd) == -1)
		return -1;
	ip_buffers(tr, fd, st->p.buf);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == -1)
		return -1;
	st->port = sin.sin_port;
	if (st->lo) {
		ia.s_addr = htonl(INADDR_LOOPBACK);
		r = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ia,
		    sizeof(ia));
	} else if (st->ifindex != 0) {
		memset(&mr, 0, sizeof(mr));
		mr.imr_ifindex = (int)st->ifindex;
		r = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr,
		    sizeof(mr));
	}
	if (r == -1 || udp_setopt(fd, IPPROTO_IP, IP_MULTICAST_TTL,
	    st->p.ttl != 0 ? st->p.ttl : UDP_TTL) == -1 ||
	    udp_setopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1) == -1 ||
	    ip_set_frag(fd, st->frag) == -1)
		return -1;
	return 0;
}

static void
udp_free(struct udp_state *st)
{
	if (st->mfd != -1)
		close(st->mfd);
	if (st->ufd != -1)
		close(st->ufd);
	free(st->peers);
	free(st);
}

static int
udp_open(struct transport *tr, const char *spec)
{
	const struct to_config *cfg = tr->cfg;
	const char *iface;
	struct udp_state *st;
	int saved;

	if (cfg == NULL || cfg->group == NULL || *cfg->group == '\0') {
		errno = EINVAL;
		return -1;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -1;
	st->mfd = st->ufd = -1;
	iface = cfg->iface != NULL && *cfg->iface != '\0' ? cfg->iface : NULL;
	if (udp_parse(st, cfg->group, spec) == -1)
		goto fail;
	if (iface != NULL) {
		if (strlen(iface) >= IF_NAMESIZE) {
			errno = ENODEV;
			goto fail;
		}
		if ((st->ifindex = if_nametoindex(iface)) == 0)
			goto fail;
		st->lo = strcmp(iface, "lo") == 0;
	}
	if (ip_mtu(tr, &st->p, iface, &st->group, 1, &st->frag) == -1 ||
	    udp_msocket(tr, st) == -1 || udp_usocket(tr, st) == -1)
		goto fail;
	tr->state = st;
	return 0;
fail:
	saved = errno;
	udp_free(st);
	errno = saved;
	return -1;
}

static void
udp_close(struct transport *tr)
{
	if (tr->state != NULL)
		udp_free(tr->state);
	tr->state = NULL;
}

/* Index of id in the sorted table, or where it would go (*found 0). */
static size_t
udp_index(const struct udp_state *st, uint64_t id, int *found)
{
	size_t lo = 0, hi = st->npeers, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (st->peers[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < st->npeers && st->peers[lo].id == id;
	return lo;
}

static int
udp_send(struct transport *tr, uint64_t dst, const struct iovec *iov,
    int iovcnt)
{
	struct udp_state *st = tr->state;
	struct msghdr mh;
	size_t i;
	int found = 0;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &st->group;
	mh.msg_namelen = sizeof(st->group);
	if (dst != 0) {
		i = udp_index(st, dst, &found);
		if (found)
			mh.msg_name = &st->peers[i].sin;
	}
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = iovcnt;
	while (sendmsg(st->ufd, &mh, 0) == -1) {
		if (errno == EINTR)
			continue;
		if (ip_transient(errno))
			return 0;	/* lost; NAK repairs it */
		return -1;
	}
	return 0;
}

/*
 * 1 if a datagram from sin is our own, looped back: it comes from our
 * sending port on an address of this host.  Which address that is, and
 * the last other one seen with our port, are found once and remembered.
 */
static int
udp_own(struct udp_state *st, const struct sockaddr_in *sin, socklen_t sl)
{
	if (sl < sizeof(*sin) || sin->sin_port != st->port)
		return 0;
	if (st->own_known && sin->sin_addr.s_addr == st->own.s_addr)
		return 1;
	if (st->other_known && sin->sin_addr.s_addr == st->other.s_addr)
		return 0;
	if (!ip_is_local(sin->sin_addr)) {
		st->other = sin->sin_addr;
		st->other_known = 1;
		return 0;
	}
	st->own = sin->sin_addr;
	st->own_known = 1;
	return 1;
}

static ssize_t
udp_recv(struct transport *tr, const struct iovec *iov, int iovcnt)
{
	struct udp_state *st = tr->state;
	struct sockaddr_in sin;
	socklen_t sl;
	ssize_t n;
	int i, fd;

	/* Alternate which socket goes first, so neither starves. */
	for (i = 0; i < 2; ) {
		fd = (st->next + i) % 2 == 0 ? st->mfd : st->ufd;
		if ((n = ip_recv(fd, iov, iovcnt, &sin, &sl)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			i++;
			continue;
		}
		if (udp_own(st, &sin, sl))
			continue;
		st->next = (st->next + i + 1) % 2;
		st->have_last = sl >= sizeof(sin) && sin.sin_family == AF_INET;
		if (st->have_last)
			st->last = sin;
		return n;
	}
	errno = EAGAIN;
	return -1;
}

static void
udp_learn(struct transport *tr, uint64_t src)
{
	struct udp_state *st = tr->state;
	struct udp_peer *p;
	size_t i;
	int found;

	if (!st->have_last || src == 0 || src == tr->self)
		return;
	i = udp_index(st, src, &found);
	if (!found) {
		if (st->npeers == st->cap) {
			p = reallocarray(st->peers, st->cap ? st->cap * 2 : 16,
			    sizeof(*p));
			if (p == NULL)
				return;	/* sends to src go to the group */
			st->peers = p;
			st->cap = st->cap ? st->cap * 2 : 16;
		}
		memmove(st->peers + i + 1, st->peers + i,
		    (st->npeers - i) * sizeof(*st->peers));
		st->npeers++;
		st->peers[i].id = src;
	}
	st->peers[i].sin = st->last;
}

static void
udp_forget(struct transport *tr, uint64_t src)
{
	struct udp_state *st = tr->state;
	size_t i;
	int found;

	i = udp_index(st, src, &found);
	if (!found)
		return;
	memmove(st->peers + i, st->peers + i + 1,
	    (st->npeers - i - 1) * sizeof(*st->peers));
	st->npeers--;
}

static int
udp_fds(struct transport *tr, int *fds, int max)
{
	struct udp_state *st = tr->state;

	if (max >= 1)
		fds[0] = st->mfd;
	if (max >= 2)
		fds[1] = st->ufd;
	return 2;
}

const struct transport_ops transport_udp = {
	.scheme = "udp",
	.open = udp_open,
	.close = udp_close,
	.send = udp_send,
	.recv = udp_recv,
	.learn = udp_learn,
	.forget = udp_forget,
	.fds = udp_fds,
};
