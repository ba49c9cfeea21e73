/*
 * com_ip.h: what the IP transports share (com_udp.c for multicast,
 * com_udpu.c for unicast to a peer list): the default port from the group
 * name, the "?ttl=N&mtu=N&buf=N&port=N" parameters after the address, socket
 * buffers, and the datagram size from an interface or a route.
 */
#ifndef TO_COM_IP_H
#define TO_COM_IP_H

#include <sys/types.h>

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

#include "layer.h"

#define IP_PORT_BASE	5400	/* default ports: 5400 to 5899 */
#define IP_PORT_SPAN	500
#define IP_OVERHEAD	28	/* IPv4 and UDP headers */
#define IP_MTU_DEFAULT	1472	/* Ethernet's 1500 less the headers */
#define IP_MTU_MIN	TO_MTU_MIN /* less on the path: IP fragments */
#define IP_MTU_MAX	TO_MTU_MAX
#define IP_BUF_DEFAULT	(4 << 20)	/* socket buffers we ask for */
#define IP_BUF_MAX	(1 << 30)
#define IP_SPEC_MAX	1024	/* a spec without its parameters */

/* FNV-1a of the group name (com.c): ports, addresses, the COM header. */
uint32_t com_group_hash(const char *);

struct ip_params {
	int	 ttl;		/* 1 to 255; 0: not given */
	size_t	 mtu;		/* datagram size; 0: not given */
	int	 buf;		/* socket buffers to ask for; 0: not given */
	uint16_t port;		/* udpu: the port to bind; 0: not given */
};

/* IP_PORT_BASE + (hash >> 16) % IP_PORT_SPAN, host order. */
uint16_t ip_default_port(const char *group);

/*
 * Split spec at '?' into base (the address part, NUL-terminated, at most
 * len - 1 bytes) and the parameters "key=value" joined by '&': ttl, mtu
 * (bytes), buf (bytes, k or m suffix) and port.  -1 with EINVAL if
 * malformed or repeated.
 */
int	 ip_params(const char *spec, char *base, size_t len,
	    struct ip_params *);

/*
 * Ask for ask bytes of receive and send buffer on fd (the FORCE options
 * first, which root may use beyond net.core.rmem_max and wmem_max), and
 * lower tr->rcvbuf and tr->sndbuf to what the kernel granted if less.
 */
void	 ip_buffers(struct transport *, int fd, int ask);

/*
 * The datagram size, into tr->mtu: p->mtu if given, else the MTU of iface,
 * else the smallest MTU of the routes to the n addresses dst, less the
 * headers (IP_MTU_DEFAULT if no route is known), but at least IP_MTU_MIN,
 * what the stack needs.  *frag is set to 1 when that is larger than the
 * path's, so IP is to fragment; else datagrams go with the DF bit and are
 * never fragmented.  -1 with errno (ENODEV: iface).
 */
int	 ip_mtu(struct transport *, const struct ip_params *,
	    const char *iface, const struct sockaddr_in *dst, size_t n,
	    int *frag);

/*
 * One datagram from fd into the parts iov, its source into *sin and the
 * source's length into *sl: its length, or -1 with errno (EAGAIN: none).
 * Interrupted calls and ICMP errors are retried; a datagram longer than
 * the parts hold is not one of ours, and skipped.
 */
ssize_t	 ip_recv(int fd, const struct iovec *iov, int iovcnt,
	    struct sockaddr_in *sin, socklen_t *sl);

/* Set IP_MTU_DISCOVER for frag (0: DF, never fragment); -1 with errno. */
int	 ip_set_frag(int fd, int frag);

/*
 * 1 if a send that failed with e lost only that datagram: no buffer
 * space, or the network cannot reach the peer now (down, unreachable,
 * or filtered).  Those are losses, which NAK and MBRSHIP deal with.
 */
int	 ip_transient(int e);

/* 1 if addr is one of this host's addresses (it can be bound). */
int	 ip_is_local(struct in_addr);

#endif /* TO_COM_IP_H */
