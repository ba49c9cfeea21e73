/*
 * msg.c: reference-counted buffers with headroom; see msg.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

/*
 * Caches of freed views and of freed small buffers, one pair a thread
 * (after lwIP's memp pools): a packed burst makes and frees a view, and
 * at the sender a small buffer, per message, which cost a third of all
 * CPU in malloc and free.  Each cache is a list threaded through the
 * freed objects and holds at most MSG_CACHE_MAX of them, so it stays
 * bounded.  Under AddressSanitizer there is no cache, so that every use
 * after free is still caught.
 */
#if defined(__SANITIZE_ADDRESS__)
#define MSG_CACHE_MAX	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MSG_CACHE_MAX	0
#endif
#endif
#ifndef MSG_CACHE_MAX
#define MSG_CACHE_MAX	1024
#endif
/* Every buffer of at most this many bytes of headroom and data is made
 * this size, so that any of them can serve any such request. */
#define MSG_SMALL	(2 * MSG_HEADROOM)

struct msg_cache {
	void		*head;
	unsigned	 n;
};

static _Thread_local struct msg_cache	views, smalls;

static void *
cache_get(struct msg_cache *c)
{
	void	*p = c->head;

	if (p != NULL) {
		memcpy(&c->head, p, sizeof(void *));
		c->n--;
	}
	return p;
}

/* Keep p for reuse, or 0 if the cache is full. */
static int
cache_put(struct msg_cache *c, void *p)
{
#if MSG_CACHE_MAX > 0
	if (c->n < MSG_CACHE_MAX) {
		memcpy(p, &c->head, sizeof(void *));
		c->head = p;
		c->n++;
		return 1;
	}
#else
	(void)c;
	(void)p;
#endif
	return 0;
}

static struct to_msg *
view_alloc(void)
{
	struct to_msg	*m;

	if ((m = cache_get(&views)) == NULL)
		m = malloc(sizeof(*m));
	return m;
}

static void
view_free(struct to_msg *m)
{
	if (!cache_put(&views, m))
		free(m);
}

static struct to_buf *
buf_alloc(size_t cap)
{
	struct to_buf	*b = NULL;

	if (cap <= MSG_SMALL) {
		if ((b = cache_get(&smalls)) == NULL)
			b = malloc(sizeof(*b) + MSG_SMALL);
	} else
		b = malloc(sizeof(*b) + cap);
	return b;
}

static void
buf_free(struct to_buf *b)
{
	if (b->cap > MSG_SMALL || !cache_put(&smalls, b))
		free(b);
}

struct to_msg *
msg_new(size_t headroom, size_t len)
{
	struct to_msg	*m;
	struct to_buf	*b;

	if (len > SIZE_MAX - sizeof(*b) - headroom) {
		errno = EMSGSIZE;
		return NULL;
	}
	if ((b = buf_alloc(headroom + len)) == NULL)
		return NULL;
	if ((m = view_alloc()) == NULL) {
		free(b);
		return NULL;
	}
	memset(m, 0, sizeof(*m));
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

	if ((c = view_alloc()) == NULL)
		return NULL;
	*c = *m;
	c->buf->refs++;
	if (c->ext != NULL)
		c->ext->refs++;
	if (m->off < c->buf->lo)
		c->buf->lo = m->off;
	return c;
}

struct to_msg *
msg_slice(const struct to_msg *m, size_t off, size_t len)
{
	struct to_msg	*s;

	if (m->ext != NULL) {
		if ((s = msg_new(MSG_HEADROOM, len)) != NULL)
			msg_read(m, off, msg_data(s), len);
		return s;
	}
	if ((s = msg_new(MSG_HEADROOM, 0)) == NULL)
		return NULL;
	s->ext = m->buf;
	s->ext->refs++;
	s->ext_off = m->off + off;
	s->ext_len = len;
	return s;
}

void
msg_read(const struct to_msg *m, size_t off, void *dst, size_t n)
{
	unsigned char	*d = dst;
	size_t		 k = 0;

	if (off < m->len) {
		k = m->len - off < n ? m->len - off : n;
		memcpy(d, msg_data(m) + off, k);
		off = 0;
	} else
		off -= m->len;
	if (n > k)
		memcpy(d + k, msg_ext_data(m) + off, n - k);
}

void
msg_free(struct to_msg *m)
{
	if (m == NULL)
		return;
	if (--m->buf->refs == 0)
		buf_free(m->buf);
	if (m->ext != NULL && --m->ext->refs == 0)
		buf_free(m->ext);
	view_free(m);
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
		buf_free(m->buf);
	m->buf = c->buf;
	m->off = c->off;
	view_free(c);
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
	if (len > msg_len(m)) {
		errno = EBADMSG;
		return -1;
	}
	if (len > m->len) {
		m->ext_len = len - m->len;
		return 0;
	}
	m->len = len;
	if (m->ext != NULL && --m->ext->refs == 0)
		buf_free(m->ext);
	m->ext = NULL;
	m->ext_len = 0;
	return 0;
}

void
msg_fit(struct to_msg *m)
{
	struct to_buf	*b = m->buf, *nb;
	size_t		 cap = m->off + m->len;

	if (b->refs != 1 || cap >= b->cap || b->cap <= MSG_SMALL ||
	    cap <= MSG_SMALL)
		return;
	if ((nb = realloc(b, sizeof(*b) + cap)) == NULL)
		return;
	nb->cap = cap;
	nb->lo = cap;
	m->buf = nb;
}

/* --- first in first out queues of messages --------------------------- */

void *
fifo_regrow(const void *ring, size_t head, size_t n, size_t cap,
    size_t newcap, size_t size)
{
	const unsigned char *r = ring;
	unsigned char	*nr;
	size_t		 first = n < cap - head ? n : cap - head;

	if ((nr = reallocarray(NULL, newcap, size)) == NULL)
		return NULL;
	if (n > 0) {
		memcpy(nr, r + head * size, first * size);
		memcpy(nr + first * size, r, (n - first) * size);
	}
	return nr;
}

int
mq_reserve(struct mq *q)
{
	struct to_msg	**nq;
	size_t		 cap;

	if (q->n < q->cap)
		return 0;
	cap = q->cap ? q->cap * 2 : 64;
	if ((nq = fifo_regrow(q->q, q->head, q->n, q->cap, cap,
	    sizeof(*nq))) == NULL)
		return -1;
	free(q->q);
	q->q = nq;
	q->head = 0;
	q->cap = cap;
	return 0;
}

void
mq_push(struct mq *q, struct to_msg *m)
{
	q->q[(q->head + q->n) % q->cap] = m;
	q->n++;
}

struct to_msg *
mq_pop(struct mq *q)
{
	struct to_msg	*m;

	if (q->n == 0)
		return NULL;
	m = q->q[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return m;
}

void
mq_clear(struct mq *q)
{
	while (q->n > 0)
		msg_free(mq_pop(q));
	free(q->q);
	memset(q, 0, sizeof(*q));
}
