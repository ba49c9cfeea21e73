/*
 * raw.c: a group's bare transport for the application (to.h's to_raw):
 * the transport the COM layer would use, with nothing above it.  toburst
 * -p raw sends its bursts through it, so that every table has the limit
 * of its own path to compare with.
 */
#include <errno.h>
#include <stdlib.h>

#include <sys/uio.h>

#include "layer.h"
#include "to.h"

struct to_raw {
	struct to_config cfg;		/* the transport keeps a pointer */
	struct transport *tr;
};

struct to_raw *
to_raw_open(const struct to_config *cfg, uint64_t self)
{
	struct to_raw	*r;
	int		 saved;

	if (cfg == NULL || cfg->group == NULL || self == 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->cfg = *cfg;
	if ((r->tr = transport_open(&r->cfg, self)) == NULL) {
		saved = errno;
		free(r);
		errno = saved;
		return NULL;
	}
	return r;
}

void
to_raw_close(struct to_raw *r)
{
	if (r == NULL)
		return;
	transport_close(r->tr);
	free(r);
}

size_t
to_raw_mtu(const struct to_raw *r)
{
	return r->tr->mtu;
}

int
to_raw_send(struct to_raw *r, const void *p, size_t len)
{
	struct iovec	 iov = { (void *)p, len };

	if (len > r->tr->mtu) {
		errno = EMSGSIZE;
		return -1;
	}
	return r->tr->ops->send(r->tr, 0, &iov, 1);
}

ssize_t
to_raw_recv(struct to_raw *r, void *buf, size_t len)
{
	return transport_recv(r->tr, buf, len);
}

int
to_raw_pollfds(struct to_raw *r, struct pollfd *pfd, int max)
{
	return transport_pollfds(r->tr, pfd, max, POLLIN);
}
