/*
 * transport.c: pick the transport named by to_config.transport and open it.
 *
 * The name is "scheme" or "scheme://spec": NULL and "local" select the
 * rendezvous-directory transport on one machine (com_local.c), "udp" IP
 * multicast (com_udp.c), "udpu" unicast to a list of peers (com_udpu.c),
 * "mem" the in-memory transport of the tests (com_mem.c).  The spec after
 * "://" goes to the transport's open().
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

static const struct transport_ops *const transport_table[] = {
	&transport_local,
	&transport_udp,
	&transport_udpu,
	&transport_mem,
	NULL
};

/* The ops for name, and in *spec what follows "://" (or ""). */
static const struct transport_ops *
transport_lookup(const char *name, const char **spec)
{
	const struct transport_ops *const *op;
	const char *sep;
	size_t n;

	if (name == NULL || *name == '\0')
		name = "local";
	if ((sep = strstr(name, "://")) != NULL) {
		n = sep - name;
		*spec = sep + 3;
	} else {
		n = strlen(name);
		*spec = "";
	}
	for (op = transport_table; *op != NULL; op++)
		if (strlen((*op)->scheme) == n &&
		    strncmp((*op)->scheme, name, n) == 0)
			return *op;
	return NULL;
}

struct transport *
transport_open(const struct to_config *cfg, uint64_t self)
{
	const struct transport_ops *ops;
	struct transport *tr;
	const char *spec;
	int saved;

	if (cfg == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((ops = transport_lookup(cfg->transport, &spec)) == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((tr = calloc(1, sizeof(*tr))) == NULL)
		return NULL;
	tr->ops = ops;
	tr->cfg = cfg;
	tr->self = self;
	if (ops->open(tr, spec) == -1) {
		saved = errno;
		free(tr);
		errno = saved;
		return NULL;
	}
	return tr;
}

ssize_t
transport_recv(struct transport *tr, void *buf, size_t len)
{
	struct iovec	 iov = { buf, len };

	return tr->ops->recv(tr, &iov, 1);
}

size_t
iov_bytes(const struct iovec *iov, int iovcnt)
{
	size_t	 n = 0;
	int	 i;

	for (i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

void
iov_copy(const struct iovec *iov, int iovcnt, void *dst, size_t n)
{
	unsigned char	*d = dst;
	size_t		 k;
	int		 i;

	for (i = 0; i < iovcnt && n > 0; i++) {
		k = n < iov[i].iov_len ? n : iov[i].iov_len;
		memcpy(d, iov[i].iov_base, k);
		d += k;
		n -= k;
	}
}

void
transport_close(struct transport *tr)
{
	if (tr == NULL)
		return;
	tr->ops->close(tr);
	free(tr);
}

int
transport_pollfds(struct transport *tr, struct pollfd *pfd, int max,
    short events)
{
	int	 fds[8], n, i;

	n = tr->ops->fds(tr, fds, 8);
	for (i = 0; i < n && i < max; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = events;
		pfd[i].revents = 0;
	}
	return n;
}
