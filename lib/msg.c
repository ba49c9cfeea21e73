/*
 * msg.c: reference-counted buffers with headroom; see msg.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

struct to_msg *
msg_new(size_t headroom, size_t len)
{
	struct to_msg	*m;
	struct to_buf	*b;

	if (len > SIZE_MAX - sizeof(*b) - headroom) {
		errno = EMSGSIZE;
		return NULL;
	}
	if ((b = malloc(sizeof(*b) + headroom + len)) == NULL)
		return NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		free(b);
		return NULL;
	}
	b->refs = 1;
	b->cap = headroom + len;
	b->lo = b->cap;
	m->buf = b;
	m->off = headroom;
	m->len = len;
	return m;
}

struct to_msg *
msg_from(const void *data, size_t len)
{
	struct to_msg	*m;

	if ((m = msg_new(MSG_HEADROOM, len)) != NULL && len > 0)
		memcpy(msg_data(m), data, len);
	return m;
}

struct to_msg *
msg_clone(const struct to_msg *m)
{
	struct to_msg	*c;

	if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	*c = *m;
	c->buf->refs++;
	if (m->off < c->buf->lo)
		c->buf->lo = m->off;
	return c;
}

void
msg_free(struct to_msg *m)
{
	if (m == NULL)
		return;
	if (--m->buf->refs == 0)
		free(m->buf);
	free(m);
}

/* Give m a buffer of its own with full headroom. */
static int
msg_unshare(struct to_msg *m)
{
	struct to_msg	*c;

	if ((c = msg_new(MSG_HEADROOM, m->len)) == NULL)
		return -1;
	memcpy(msg_data(c), msg_data(m), m->len);
	if (--m->buf->refs == 0)
		free(m->buf);
	m->buf = c->buf;
	m->off = c->off;
	free(c);
	return 0;
}

unsigned char *
msg_push(struct to_msg *m, size_t n)
{
	if (m->buf->refs == 1)
		m->buf->lo = m->buf->cap;
	else if (m->off > m->buf->lo && msg_unshare(m) == -1)
		return NULL;
	if (n > m->off && msg_unshare(m) == -1)
		return NULL;
	if (n > m->off) {
		errno = EMSGSIZE;
		return NULL;
	}
	m->off -= n;
	m->len += n;
	return msg_data(m);
}

unsigned char *
msg_pull(struct to_msg *m, size_t n)
{
	unsigned char	*p;

	if (n > m->len) {
		errno = EBADMSG;
		return NULL;
	}
	p = msg_data(m);
	m->off += n;
	m->len -= n;
	return p;
}

int
msg_trim(struct to_msg *m, size_t len)
{
	if (len > m->len) {
		errno = EBADMSG;
		return -1;
	}
	m->len = len;
	return 0;
}
