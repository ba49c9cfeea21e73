/*
 * com_udpu.c: the unicast transport, for networks without multicast:
 *
 *	udpu://[PEER[:PORT]][,PEER[:PORT]...][?PARAMS]
 *
 * Each member binds one UDP socket to INADDR_ANY:PORT, where PORT is
 * "port=N" from PARAMS or else the group's default port, the same as
 * udp's (5400 + (h >> 16) % 500, h the FNV-1a hash of the group name).
 * A PEER (an IPv4 address or a host name) named without a port is on the
 * default port too.  The other PARAMS are udp's: "ttl=N" (IP_TTL, the
 * kernel's default if not given), "mtu=N" and "buf=N" (com_ip.h).
 *
 * A broadcast is one datagram to every peer the member knows (sendmmsg);
 * a unicast goes to the address learn() gave the member, or to every peer
 * if there is none.  So the layers above get what udp gives them: every
 * datagram reaches every member it can reach, and the destination id in
 * their headers sorts out the rest.
 *
 * Peers.  The table holds addresses, not members:
 *
 *	named	the PEERs of the spec; kept for good, so a member that
 *		restarts, or the far side of a long partition, is found again;
 *	heard	the source of a valid datagram (learn(), which also gives
 *		the member id there) or of a gossip datagram;
 *	told	an address another member gossiped.
 *
 * Each entry has the time its address was last heard from: directly,
 * or as old as the gossip said.  A heard or told entry not heard from for
 * EXPIRE_NS is dropped; gossip never makes an entry younger than its
 * last direct contact anywhere, so a dead peer's entries age out on every
 * member instead of being passed around for ever.  An entry that is this
 * member (a named or gossiped address of this host on our port) is kept,
 * marked, so as to be recognised, and never sent to.
 *
 * Gossip.  Every GOSSIP_NS, and GOSSIP_MIN_NS after a peer is heard for
 * the first time, a member sends every entry it holds that is fresh (heard
 * within EXPIRE_NS) to every entry, named ones included.  So a member
 * that names any one member is heard by it, appears in its next gossip
 * to everyone, and learns everyone from it: the join of one is the join
 * of all.  Gossip goes from send(), which heartbeats call often enough;
 * recv() takes gossip datagrams itself and hands on only the others.
 *
 * A gossip datagram, big-endian, at most mtu bytes (several if needed):
 *
 *	 0      2   3   4               8       10
 *	+------+---+---+---------------+-------+
 *	| 'TU' |ver| 0 |  group hash   |   n   |	then n times:
 *	+------+---+---+---------------+-------+
 *	+---------------+-------+---------------+
 *	| IPv4 address  | port  |  age in ms    |
 *	+---------------+-------+---------------+
 *
 * 'TU' is not COM's 'TO', so the two never mix; the group hash keeps
 * groups that share a port apart.  Like every datagram without a key,
 * gossip is not authenticated: whoever can send to the port can add
 * addresses (at most PEERS_MAX), as he could send datagrams.
 *
 * Datagrams go with the DF bit, the size from -i or the smallest route
 * MTU to the named peers (com_ip.c).  A send that fails for want of
 * buffer space or of a route is a loss (NAK repairs, MBRSHIP sees a
 * partition); a peer's failure does not stop the fan-out to the others.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "com_ip.h"
#include "layer.h"

#define GOSSIP_MAGIC	0x5455		/* "TU" */
#define GOSSIP_VERSION	1
#define GOSSIP_HDR	10
#define GOSSIP_ENTRY	10
#define GOSSIP_NS	1000000000ULL	/* every second */
#define GOSSIP_MIN_NS	20000000ULL	/* at most this often when urged */
#define EXPIRE_NS	30000000000ULL	/* 30 s unheard: forgotten */
#define PEERS_MAX	1024
#define HOST_MAX	256		/* bytes in a PEER's host part */

enum udpu_kind {
	NAMED = 1,
	HEARD,
	TOLD,
};

struct udpu_peer {
	struct sockaddr_in	 sin;
	uint64_t		 id;		/* the member there, 0: unknown */
	uint64_t		 heard;		/* last direct contact, ns, 0 never */
	enum udpu_kind		 kind;
	int			 self;		/* this member: never sent to */
};

struct udpu_state {
	int			 fd;
	struct ip_params	 p;
	uint32_t		 group;		/* hash, for gossip */
	in_port_t		 port;		/* ours, network order */
	int			 frag;
	struct udpu_peer	*peers;
	size_t			 npeers, cap;
	struct mmsghdr		*mmsg;		/* cap of them, for fan-out */
	ssize_t			 last;		/* entry of the last recv, or -1 */
	struct sockaddr_in	 lastsin;	/* and its source */
	uint64_t		 gossip_at;	/* next round, ns */
	uint64_t		 gossip_last;	/* last round, ns */
	unsigned char		*gbuf;		/* mtu bytes, for gossip */
};

static uint64_t
udpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
udpu_same(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr &&
	    a->sin_port == b->sin_port;
}

/* The entry for address sin, or -1. */
static ssize_t
udpu_find(const struct udpu_state *st, const struct sockaddr_in *sin)
{
	size_t i;

	for (i = 0; i < st->npeers; i++)
		if (udpu_same(&st->peers[i].sin, sin))
			return (ssize_t)i;
	return -1;
}

/* Add address sin (not yet in the table); its entry, or -1. */
static ssize_t
udpu_add(struct udpu_state *st, const struct sockaddr_in *sin,
    enum udpu_kind kind, uint64_t heard)
{
	struct udpu_peer *p;
	struct mmsghdr *m;
	size_t cap;

	if (st->npeers == PEERS_MAX) {
		errno = ENOBUFS;
		return -1;
	}
	if (st->npeers == st->cap) {
		cap = st->cap ? st->cap * 2 : 16;
		if ((p = reallocarray(st->peers, cap, sizeof(*p))) == NULL)
			return -1;
		st->peers = p;
		if ((m = reallocarray(st->mmsg, cap, sizeof(*m))) == NULL)
			return -1;
		st->mmsg = m;
		st->cap = cap;
	}
	p = &st->peers[st->npeers];
	memset(p, 0, sizeof(*p));
	p->sin.sin_family = AF_INET;
	p->sin.sin_addr = sin->sin_addr;
	p->sin.sin_port = sin->sin_port;
	p->kind = kind;
	p->heard = heard;
	p->self = sin->sin_port == st->port && ip_is_local(sin->sin_addr);
	return (ssize_t)st->npeers++;
}

static void
udpu_remove(struct udpu_state *st, size_t i)
{
	st->peers[i] = st->peers[--st->npeers];
	st->last = -1;
}

/* "HOST[:PORT]" of n bytes into sin; -1 with EINVAL. */
static int
udpu_parse_peer(const char *s, size_t n, uint16_t defport,
    struct sockaddr_in *sin)
{
	char host[HOST_MAX];
	struct addrinfo hints, *res;
	const char *colon, *errstr;
	long long port = defport;
	size_t hn;

	colon = memchr(s, ':', n);
	hn = colon != NULL ? (size_t)(colon - s) : n;
	if (hn == 0 || hn >= sizeof(host))
		goto bad;
	memcpy(host, s, hn);
	host[hn] = '\0';
	if (colon != NULL) {
		char num[8];
		size_t pn = n - hn - 1;

		if (pn == 0 || pn >= sizeof(num))
			goto bad;
		memcpy(num, colon + 1, pn);
		num[pn] = '\0';
		port = strtonum(num, 1, 65535, &errstr);
		if (errstr != NULL)
			goto bad;
	}
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
		goto bad;
	sin->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
	freeaddrinfo(res);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* The named peers of base "PEER[:PORT],..." into the table. */
static int
udpu_parse(struct udpu_state *st, const char *base, uint16_t defport)
{
	struct sockaddr_in sin;
	const char *s, *comma;
	size_t n;

	if (*base == '\0')
		return 0;	/* the first member: the others will name it */
	for (s = base; ; s = comma + 1) {
		comma = strchr(s, ',');
		n = comma != NULL ? (size_t)(comma - s) : strlen(s);
		if (udpu_parse_peer(s, n, defport, &sin) == -1)
			return -1;
		if (sin.sin_addr.s_addr == htonl(INADDR_ANY) ||
		    IN_MULTICAST(ntohl(sin.sin_addr.s_addr))) {
			errno = EINVAL;
			return -1;
		}
		if (udpu_find(st, &sin) == -1 &&
		    udpu_add(st, &sin, NAMED, 0) == -1)
			return -1;
		if (comma == NULL)
			return 0;
	}
}

static int
udpu_socket(struct transport *tr, struct udpu_state *st, uint16_t port)
{
	struct sockaddr_in sin;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if ((st->fd = fd) == -1)
		return -1;
	ip_buffers(tr, fd, st->p.buf);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    ip_set_frag(fd, st->frag) == -1)
		return -1;
	if (st->p.ttl != 0 && setsockopt(fd, IPPROTO_IP, IP_TTL, &st->p.ttl,
	    sizeof(st->p.ttl)) == -1)
		return -1;
	return 0;
}

static void
udpu_free(struct udpu_state *st)
{
	if (st->fd != -1)
		close(st->fd);
	free(st->peers);
	free(st->mmsg);
	free(st->gbuf);
	free(st);
}

/* The named peers' addresses, for their routes' MTU; NULL if none. */
static struct sockaddr_in *
udpu_named(const struct udpu_state *st, size_t *n)
{
	struct sockaddr_in *a;
	size_t i;

	*n = 0;
	if ((a = calloc(st->npeers + 1, sizeof(*a))) == NULL)
		return NULL;
	for (i = 0; i < st->npeers; i++)
		if (!st->peers[i].self)
			a[(*n)++] = st->peers[i].sin;
	return a;
}

static int
udpu_open(struct transport *tr, const char *spec)
{
	const struct to_config *cfg = tr->cfg;
	char base[IP_SPEC_MAX];
	struct sockaddr_in *named = NULL;
	const char *iface;
	struct udpu_state *st;
	uint16_t defport, port;
	size_t n;
	int saved;

	if (cfg == NULL || cfg->group == NULL || *cfg->group == '\0') {
		errno = EINVAL;
		return -1;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -1;
	st->fd = -1;
	st->last = -1;
	st->group = com_group_hash(cfg->group);
	iface = cfg->iface != NULL && *cfg->iface != '\0' ? cfg->iface : NULL;
	defport = ip_default_port(cfg->group);
	if (ip_params(spec, base, sizeof(base), &st->p) == -1)
		goto fail;
	port = st->p.port != 0 ? st->p.port : defport;
	st->port = htons(port);
	if (udpu_parse(st, base, defport) == -1 ||
	    (named = udpu_named(st, &n)) == NULL ||
	    ip_mtu(tr, &st->p, iface, named, n, &st->frag) == -1 ||
	    udpu_socket(tr, st, port) == -1 ||
	    (st->gbuf = malloc(tr->mtu)) == NULL)
		goto fail;
	free(named);
	tr->state = st;
	return 0;
fail:
	saved = errno;
	free(named);
	udpu_free(st);
	errno = saved;
	return -1;
}

static void
udpu_close(struct transport *tr)
{
	if (tr->state != NULL)
		udpu_free(tr->state);
	tr->state = NULL;
}

/*
 * Send iov to the n entries in idx (all peers if idx is NULL), skipping
 * ourselves.  sendmmsg stops at a failure: step over a lost datagram, and
 * over one a peer cannot take (a path MTU smaller than ours), reporting
 * that once all the others are sent.
 */
static int
udpu_fanout(struct udpu_state *st, const size_t *idx, size_t n,
    const struct iovec *iov, int iovcnt)
{
	struct udpu_peer *p;
	struct msghdr *mh;
	size_t i, k = 0;
	int r, error = 0;

	for (i = 0; i < n; i++) {
		p = &st->peers[idx != NULL ? idx[i] : i];
		if (p->self)
			continue;
		mh = &st->mmsg[k++].msg_hdr;
		memset(mh, 0, sizeof(*mh));
		mh->msg_name = &p->sin;
		mh->msg_namelen = sizeof(p->sin);
		mh->msg_iov = (struct iovec *)iov;
		mh->msg_iovlen = iovcnt;
	}
	for (i = 0; i < k; ) {
		r = sendmmsg(st->fd, st->mmsg + i, k - i, 0);
		if (r > 0)
			i += (size_t)r;
		else if (r == -1 && errno == EINTR)
			continue;
		else if (r == -1 && ip_transient(errno))
			i++;
		else if (r == -1 && errno == EMSGSIZE) {
			error = errno;
			i++;
		} else
			return -1;
	}
	if (error != 0) {
		errno = error;
		return -1;
	}
	return 0;
}

/* 1 if entry p goes in gossip: fresh, and not us. */
static int
udpu_fresh(const struct udpu_peer *p, uint64_t now)
{
	return !p->self && p->heard != 0 && now - p->heard <= EXPIRE_NS;
}

/* Forget the entries not heard from for EXPIRE_NS, but the named ones. */
static void
udpu_expire(struct udpu_state *st, uint64_t now)
{
	size_t i;

	for (i = st->npeers; i-- > 0; )
		if (st->peers[i].kind != NAMED && !st->peers[i].self &&
		    now - st->peers[i].heard > EXPIRE_NS)
			udpu_remove(st, i);
}

/* Send every fresh entry to every peer, in as many datagrams as needed. */
static void
udpu_gossip(struct transport *tr, uint64_t now)
{
	struct udpu_state *st = tr->state;
	const struct udpu_peer *p;
	struct iovec iov;
	unsigned char *e;
	size_t i = 0, n, room;
	uint64_t age;

	udpu_expire(st, now);
	st->gossip_last = now;
	st->gossip_at = now + GOSSIP_NS;
	room = (tr->mtu - GOSSIP_HDR) / GOSSIP_ENTRY;
	do {
		e = st->gbuf + GOSSIP_HDR;
		for (n = 0; i < st->npeers && n < room; i++) {
			p = &st->peers[i];
			if (!udpu_fresh(p, now))
				continue;
			age = (now - p->heard) / 1000000;
			memcpy(e, &p->sin.sin_addr.s_addr, 4);	/* as is */
			memcpy(e + 4, &p->sin.sin_port, 2);
			put32(e + 6, (uint32_t)age);
			e += GOSSIP_ENTRY;
			n++;
		}
		put16(st->gbuf, GOSSIP_MAGIC);
		st->gbuf[2] = GOSSIP_VERSION;
		st->gbuf[3] = 0;
		put32(st->gbuf + 4, st->group);
		put16(st->gbuf + 8, (uint16_t)n);
		iov.iov_base = st->gbuf;
		iov.iov_len = GOSSIP_HDR + n * GOSSIP_ENTRY;
		(void)udpu_fanout(st, NULL, st->npeers, &iov, 1);
	} while (i < st->npeers);
}

/* A round of gossip if one is due. */
static void
udpu_tick(struct transport *tr)
{
	struct udpu_state *st = tr->state;
	uint64_t now = udpu_now();

	if (now >= st->gossip_at && now - st->gossip_last >= GOSSIP_MIN_NS)
		udpu_gossip(tr, now);
}

/* Gossip from src: len bytes at b.  Takes what is new or fresher. */
static void
udpu_take_gossip(struct udpu_state *st, const struct sockaddr_in *src,
    const unsigned char *b, size_t len)
{
	struct sockaddr_in sin;
	uint64_t now = udpu_now(), age, heard;
	size_t n, i;
	ssize_t k;

	if (len < GOSSIP_HDR || b[2] != GOSSIP_VERSION ||
	    get32(b + 4) != st->group)
		return;
	n = get16(b + 8);
	if (len != GOSSIP_HDR + n * GOSSIP_ENTRY)
		return;
	if ((k = udpu_find(st, src)) == -1 &&
	    (k = udpu_add(st, src, HEARD, now)) != -1)
		st->gossip_at = now;	/* a newcomer: tell everyone */
	if (k != -1)
		st->peers[k].heard = now;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	for (i = 0, b += GOSSIP_HDR; i < n; i++, b += GOSSIP_ENTRY) {
		memcpy(&sin.sin_addr.s_addr, b, 4);
		memcpy(&sin.sin_port, b + 4, 2);
		age = (uint64_t)get32(b + 6) * 1000000;
		if (sin.sin_port == 0 || sin.sin_addr.s_addr == 0 ||
		    age > EXPIRE_NS || age >= now)
			continue;
		heard = now - age;
		if ((k = udpu_find(st, &sin)) == -1)
			(void)udpu_add(st, &sin, TOLD, heard);
		else if (st->peers[k].heard < heard)
			st->peers[k].heard = heard;
	}
}

static int
udpu_send(struct transport *tr, uint64_t dst, const struct iovec *iov,
    int iovcnt)
{
	struct udpu_state *st = tr->state;
	size_t i;

	if (iov_bytes(iov, iovcnt) > tr->mtu) {
		errno = EMSGSIZE;
		return -1;
	}
	udpu_tick(tr);
	if (dst != 0)
		for (i = 0; i < st->npeers; i++)
			if (st->peers[i].id == dst && !st->peers[i].self)
				return udpu_fanout(st, &i, 1, iov, iovcnt);
	return udpu_fanout(st, NULL, st->npeers, iov, iovcnt);
}

/* If the datagram of n bytes in iov is gossip, take it (gathered if it
 * came in parts) and return 1; else 0. */
static int
udpu_gossip_in(struct udpu_state *st, const struct sockaddr_in *sin,
    const struct iovec *iov, int iovcnt, size_t n)
{
	unsigned char	 magic[2], *b;

	if (n < sizeof(magic))
		return 0;
	iov_copy(iov, iovcnt, magic, sizeof(magic));
	if (get16(magic) != GOSSIP_MAGIC)
		return 0;
	if (n <= iov[0].iov_len)
		udpu_take_gossip(st, sin, iov[0].iov_base, n);
	else if ((b = malloc(n)) != NULL) {
		iov_copy(iov, iovcnt, b, n);
		udpu_take_gossip(st, sin, b, n);
		free(b);
	}
	return 1;
}

static ssize_t
udpu_recv(struct transport *tr, const struct iovec *iov, int iovcnt)
{
	struct udpu_state *st = tr->state;
	struct sockaddr_in sin;
	socklen_t sl;
	ssize_t n, k;

	for (;;) {
		if ((n = ip_recv(st->fd, iov, iovcnt, &sin, &sl)) == -1)
			return -1;
		if (sl < sizeof(sin) || sin.sin_family != AF_INET)
			continue;	/* not one of ours */
		if (udpu_gossip_in(st, &sin, iov, iovcnt, (size_t)n))
			continue;
		k = st->last;
		if (k == -1 || !udpu_same(&st->peers[k].sin, &sin))
			k = udpu_find(st, &sin);
		if (k != -1)	/* else learn() adds it, if COM takes it */
			st->peers[k].heard = udpu_now();
		st->last = k;
		st->lastsin = sin;
		return n;
	}
}

static void
udpu_learn(struct transport *tr, uint64_t src)
{
	struct udpu_state *st = tr->state;
	ssize_t k = st->last;
	size_t i;

	if (src == 0 || src == tr->self)
		return;
	if (k == -1) {
		k = udpu_add(st, &st->lastsin, HEARD, udpu_now());
		if (k == -1)
			return;
		st->last = k;
		st->gossip_at = 0;	/* a newcomer: tell everyone soon */
	}
	if (st->peers[k].id == src)
		return;
	for (i = 0; i < st->npeers; i++)	/* it moved: not there now */
		if (st->peers[i].id == src)
			st->peers[i].id = 0;
	st->peers[k].id = src;
}

/* A member left or failed: its address stays until it ages out. */
static void
udpu_forget(struct transport *tr, uint64_t src)
{
	struct udpu_state *st = tr->state;
	size_t i;

	for (i = 0; i < st->npeers; i++)
		if (st->peers[i].id == src)
			st->peers[i].id = 0;
}

static int
udpu_fds(struct transport *tr, int *fds, int max)
{
	struct udpu_state *st = tr->state;

	if (max >= 1)
		fds[0] = st->fd;
	return 1;
}

const struct transport_ops transport_udpu = {
	.scheme = "udpu",
	.open = udpu_open,
	.close = udpu_close,
	.send = udpu_send,
	.recv = udpu_recv,
	.learn = udpu_learn,
	.forget = udpu_forget,
	.fds = udpu_fds,
};
