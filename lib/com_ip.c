/*
 * com_ip.c: helpers of the IP transports; see com_ip.h.
 *
 * The datagram size: the MTU of the interface named with -i, else of the
 * route the kernel picks for the destination (connect(2) on a scratch
 * socket, then IP_MTU), less 28 bytes of IPv4 and UDP header.  A
 * destination that is one of our own addresses is routed through lo,
 * whose MTU says nothing of the network the others are on: for it, the
 * MTU of the interface that holds the address (udpu://HOST naming a
 * member on this host, its only peer until it learns the rest).  Datagrams go
 * out with IP_PMTUDISC_DO, so IP never fragments them: a datagram that does
 * not fit is refused by the kernel (EMSGSIZE) rather than split, since one
 * lost fragment loses the whole datagram.  A user who wants bigger
 * datagrams anyway (a network that reassembles well, few losses) names
 * the size with "?mtu=N"; above the path's size, IP fragments.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <net/if.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "com_ip.h"

uint16_t
ip_default_port(const char *group)
{
	return IP_PORT_BASE + (com_group_hash(group) >> 16) % IP_PORT_SPAN;
}

/* A decimal number from min to max, with a k or m suffix if sfx. */
static int
ip_number(const char *s, size_t n, long long min, long long max, int sfx,
    long long *v)
{
	long long r = 0, mul = 1;
	size_t i;

	if (n > 0 && sfx && (s[n - 1] == 'k' || s[n - 1] == 'K'))
		mul = 1 << 10;
	else if (n > 0 && sfx && (s[n - 1] == 'm' || s[n - 1] == 'M'))
		mul = 1 << 20;
	if (mul != 1)
		n--;
	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		r = r * 10 + (s[i] - '0');
	}
	r *= mul;
	if (r < min || r > max)
		return -1;
	*v = r;
	return 0;
}

/* One "key=value" of n bytes into p. */
static int
ip_param(const char *s, size_t n, struct ip_params *p)
{
	const char *eq = memchr(s, '=', n);
	size_t k, vn;
	long long v;

	if (eq == NULL)
		return -1;
	k = (size_t)(eq - s);
	vn = n - k - 1;
	if (k == 3 && memcmp(s, "ttl", 3) == 0 && p->ttl == 0 &&
	    ip_number(eq + 1, vn, 1, 255, 0, &v) == 0)
		p->ttl = (int)v;
	else if (k == 3 && memcmp(s, "mtu", 3) == 0 && p->mtu == 0 &&
	    ip_number(eq + 1, vn, IP_MTU_MIN, IP_MTU_MAX, 0, &v) == 0)
		p->mtu = (size_t)v;
	else if (k == 3 && memcmp(s, "buf", 3) == 0 && p->buf == 0 &&
	    ip_number(eq + 1, vn, 4096, IP_BUF_MAX, 1, &v) == 0)
		p->buf = (int)v;
	else if (k == 4 && memcmp(s, "port", 4) == 0 && p->port == 0 &&
	    ip_number(eq + 1, vn, 1, 65535, 0, &v) == 0)
		p->port = (uint16_t)v;
	else
		return -1;
	return 0;
}

int
ip_params(const char *spec, char *base, size_t len, struct ip_params *p)
{
	const char *q, *s, *amp;
	size_t n;

	memset(p, 0, sizeof(*p));
	if (spec == NULL)
		spec = "";
	q = strchr(spec, '?');
	n = q != NULL ? (size_t)(q - spec) : strlen(spec);
	if (n >= len)
		goto bad;
	memcpy(base, spec, n);
	base[n] = '\0';
	if (q == NULL)
		return 0;
	for (s = q + 1; ; s = amp + 1) {
		amp = strchr(s, '&');
		n = amp != NULL ? (size_t)(amp - s) : strlen(s);
		if (ip_param(s, n, p) == -1)
			goto bad;
		if (amp == NULL)
			return 0;
	}
bad:
	errno = EINVAL;
	return -1;
}

/* Ask for v bytes with force (root) or else opt; what the kernel set. */
static size_t
ip_bufsize(int fd, int opt, int force, int v)
{
	socklen_t sl;
	int got;

	if (setsockopt(fd, SOL_SOCKET, force, &v, sizeof(v)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
	sl = sizeof(got);
	if (getsockopt(fd, SOL_SOCKET, opt, &got, &sl) == -1 || got <= 0)
		return 0;
	/* Linux doubles what it was asked, for its bookkeeping. */
	return (size_t)got / 2;
}

ssize_t
ip_recv(int fd, const struct iovec *iov, int iovcnt, struct sockaddr_in *sin,
    socklen_t *sl)
{
	struct msghdr	 mh;
	ssize_t		 n;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = sin;
		mh.msg_namelen = sizeof(*sin);
		mh.msg_iov = (struct iovec *)iov;
		mh.msg_iovlen = iovcnt;
		if ((n = recvmsg(fd, &mh, MSG_TRUNC)) == -1) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			return -1;
		}
		if (!(mh.msg_flags & MSG_TRUNC)) {
			*sl = mh.msg_namelen;
			return n;
		}
	}
}

void
ip_buffers(struct transport *tr, int fd, int ask)
{
	size_t r, s;

	if (ask <= 0)
		ask = IP_BUF_DEFAULT;
	tr->bufask = (size_t)ask;
	r = ip_bufsize(fd, SO_RCVBUF, SO_RCVBUFFORCE, ask);
	s = ip_bufsize(fd, SO_SNDBUF, SO_SNDBUFFORCE, ask);
	if (tr->rcvbuf == 0 || r < tr->rcvbuf)
		tr->rcvbuf = r;
	if (tr->sndbuf == 0 || s < tr->sndbuf)
		tr->sndbuf = s;
}

/* The MTU of iface, less the headers; -1 with errno. */
static int
ip_iface_mtu(const char *iface, size_t *mtu)
{
	struct ifreq ifr;
	int fd, r, saved;

	if (strlen(iface) >= sizeof(ifr.ifr_name)) {
		errno = ENODEV;
		return -1;
	}
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, iface, strlen(iface));
	r = ioctl(fd, SIOCGIFMTU, &ifr);
	saved = errno;
	close(fd);
	if (r == -1) {
		errno = saved;
		return -1;
	}
	if (ifr.ifr_mtu <= IP_OVERHEAD) {
		errno = EINVAL;
		return -1;
	}
	*mtu = (size_t)ifr.ifr_mtu - IP_OVERHEAD;
	return 0;
}

/* The MTU, less the headers, of the interface that holds our address
 * addr, or 0 if none does. */
static size_t
ip_local_mtu(struct in_addr addr)
{
	struct ifaddrs *all, *i;
	struct sockaddr_in sin;
	size_t mtu = 0;

	if (getifaddrs(&all) == -1)
		return 0;
	for (i = all; i != NULL && mtu == 0; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
			continue;
		memcpy(&sin, i->ifa_addr, sizeof(sin));
		if (sin.sin_addr.s_addr == addr.s_addr &&
		    ip_iface_mtu(i->ifa_name, &mtu) == -1)
			mtu = 0;
	}
	freeifaddrs(all);
	return mtu;
}

/* The MTU of the route to dst less the headers, or 0 if there is none;
 * for one of our own addresses, of the interface that holds it. */
static size_t
ip_route_mtu(const struct sockaddr_in *dst)
{
	struct sockaddr_in src;
	socklen_t sl = sizeof(int), al = sizeof(src);
	int fd, mtu = 0, local;
	size_t m;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) == -1 ||
	    getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &sl) == -1)
		mtu = 0;
	local = getsockname(fd, (struct sockaddr *)&src, &al) == 0 &&
	    src.sin_addr.s_addr == dst->sin_addr.s_addr;
	close(fd);
	if (local && (m = ip_local_mtu(dst->sin_addr)) != 0)
		return m;
	return mtu > IP_OVERHEAD ? (size_t)mtu - IP_OVERHEAD : 0;
}

int
ip_mtu(struct transport *tr, const struct ip_params *p, const char *iface,
    const struct sockaddr_in *dst, size_t n, int *frag)
{
	size_t path = 0, m, i;

	if (iface != NULL) {
		if (ip_iface_mtu(iface, &path) == -1)
			return -1;
	} else {
		for (i = 0; i < n; i++)
			if ((m = ip_route_mtu(&dst[i])) != 0 &&
			    (path == 0 || m < path))
				path = m;
		if (path == 0)
			path = IP_MTU_DEFAULT;
	}
	if (path > IP_MTU_MAX)
		path = IP_MTU_MAX;
	tr->mtu = p->mtu != 0 ? p->mtu : path;
	if (tr->mtu < IP_MTU_MIN)
		tr->mtu = IP_MTU_MIN;
	*frag = tr->mtu > path;
	return 0;
}

int
ip_set_frag(int fd, int frag)
{
	int v = frag ? IP_PMTUDISC_DONT : IP_PMTUDISC_DO;

	return setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
}

int
ip_transient(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS ||
	    e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH ||
	    e == EHOSTDOWN || e == ENETDOWN || e == EPERM;
}

int
ip_is_local(struct in_addr a)
{
	struct sockaddr_in sin;
	int fd, r;

	if (ntohl(a.s_addr) >> 24 == 127)
		return 1;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr = a;
	r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return r == 0;
}
