/*
 * com_mem.c: a transport that hands datagrams to a simulated network
 * instead of the kernel; see com_mem.h.  Input comes from the simulation
 * calling stack_input() directly, so recv() has nothing to give.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "com_mem.h"
#include "layer.h"

static int
mem_open(struct transport *tr, const char *spec)
{
	struct mem_port	*p = tr->state;

	if (p == NULL || p->send == NULL) {
		errno = EINVAL;
		return -1;
	}
	tr->mtu = p->mtu ? p->mtu : 1472;
	return 0;
}

static void
mem_close(struct transport *tr)
{
}

static int
mem_send(struct transport *tr, uint64_t dst, const struct iovec *iov,
    int iovcnt)
{
	struct mem_port	*p = tr->state;
	unsigned char	*d;
	size_t		 len = iov_bytes(iov, iovcnt);

	if (iovcnt == 1) {
		p->send(p->net, tr->self, dst, iov[0].iov_base, len);
		return 0;
	}
	if ((d = malloc(len)) == NULL)
		return -1;
	iov_copy(iov, iovcnt, d, len);
	p->send(p->net, tr->self, dst, d, len);
	free(d);
	return 0;
}

static ssize_t
mem_recv(struct transport *tr, const struct iovec *iov, int iovcnt)
{
	errno = EAGAIN;
	return -1;
}

static int
mem_fds(struct transport *tr, int *fds, int max)
{
	return 0;
}

const struct transport_ops transport_mem = {
	.scheme = "mem",
	.open = mem_open,
	.close = mem_close,
	.send = mem_send,
	.recv = mem_recv,
	.fds = mem_fds,
};
