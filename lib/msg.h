/*
 * msg.h: message buffers with headroom (after Horus messages and lwIP pbufs).
 *
 * A struct to_buf holds bytes and a reference count; a struct to_msg is a
 * view of [off, off+len) into one, plus per-message metadata that never goes
 * on the wire.  Each layer pushes its header into the headroom on the way
 * down and pulls it on the way up, so the payload is never copied.  Several
 * views may share one buffer (a retransmission queue keeps its own), so a
 * layer only ever writes into bytes in front of its own view's offset.
 *
 * A view may have a second part: ext_len bytes of another buffer that
 * follow its own.  FRAG cuts a long message into such slices, a header
 * part and a part of the message's own buffer, so that no payload byte
 * is copied on its way down to the socket (COM sends both parts with one
 * gather write).  Headers are pushed and pulled in the first part only.
 */
#ifndef TO_MSG_H
#define TO_MSG_H

#include <stddef.h>
#include <stdint.h>

#define MSG_HEADROOM	128	/* enough for every header of any stack */

/* Times are in ns throughout (to_now(), layer_now(), timers): a ms of them. */
#define MS		1000000ULL

/* to_meta.flags */
#define MSG_UNRELIABLE	0x01	/* control message: no sequencing, no frag */
#define MSG_RETRANSMIT	0x02	/* this send is a repair */

struct to_meta {
	uint64_t	 src;		/* up: sending member id */
	uint64_t	 dst;		/* down: 0 = the whole view, else a member */
	unsigned	 flags;
	uint64_t	 stream_seq;	/* up: NAK sequence number (for FRAG) */
	/* up, set by the order layer for the application: */
	uint64_t	 view_id;
	uint64_t	 sender_seq;
	uint64_t	 global_seq;
};

struct to_buf {
	int		 refs;
	size_t		 cap;
	size_t		 lo;		/* lowest offset a clone ever started at */
	unsigned char	 bytes[];
};

struct to_msg {
	struct to_buf	*buf;
	size_t		 off, len;	/* the first part: [off, off+len) */
	struct to_buf	*ext;		/* NULL, or the second part's buffer */
	size_t		 ext_off, ext_len;
	struct to_meta	 meta;
};

/* A message with len bytes of (uninitialized) payload after headroom. */
struct to_msg	*msg_new(size_t headroom, size_t len);
/* A message holding a copy of data, with MSG_HEADROOM in front. */
struct to_msg	*msg_from(const void *data, size_t len);
/* Another view of the same bytes; freeing either leaves the other intact. */
struct to_msg	*msg_clone(const struct to_msg *);
/* A message of len bytes of m from off: an empty first part with
 * headroom, and a second part that shares m's bytes (a copy if m has a
 * second part itself).  Its meta is zero. */
struct to_msg	*msg_slice(const struct to_msg *m, size_t off, size_t len);
/* Copy n bytes of m, both parts, from off into dst. */
void		 msg_read(const struct to_msg *m, size_t off, void *dst,
		    size_t n);
void		 msg_free(struct to_msg *);

/*
 * Grow the view by n bytes at the front; NULL (EMSGSIZE) if no headroom.
 * If a clone may cover those bytes (a received message re-sent while the
 * NAK layer holds it), the view first moves to a private copy.
 */
unsigned char	*msg_push(struct to_msg *, size_t n);
/* Shrink the first part by n bytes at the front, returning them; NULL
 * (EBADMSG) if it is shorter. */
unsigned char	*msg_pull(struct to_msg *, size_t n);
/* Drop bytes at the end so the view is len long; -1 (EBADMSG) if shorter. */
int		 msg_trim(struct to_msg *, size_t len);
/* Give the buffer's room after the view back to the heap, if the view
 * is its only one. */
void		 msg_fit(struct to_msg *);

/* The first part's bytes: all msg_len() of them unless m->ext. */
static inline unsigned char *
msg_data(const struct to_msg *m)
{
	return m->buf->bytes + m->off;
}

/* Bytes in both parts. */
static inline size_t
msg_len(const struct to_msg *m)
{
	return m->len + m->ext_len;
}

static inline const unsigned char *
msg_ext_data(const struct to_msg *m)
{
	return m->ext->bytes + m->ext_off;
}

/*
 * A ring of n elements of size bytes, the first at head of cap, copied in
 * order to the start of a new array of newcap (at least n): the array,
 * or NULL if there is no memory.  The old one is the caller's to free.
 */
void		*fifo_regrow(const void *ring, size_t head, size_t n,
		    size_t cap, size_t newcap, size_t size);

/* Messages first in first out (a ring that doubles); NULL entries too. */
struct mq {
	struct to_msg	**q;
	size_t		 head, n, cap;
};

/* Make room for one more; -1 if there is no memory. */
int		 mq_reserve(struct mq *);
/* Append m, after mq_reserve(). */
void		 mq_push(struct mq *, struct to_msg *);
/* The first, or NULL if none. */
struct to_msg	*mq_pop(struct mq *);
/* Free every message and the ring; the queue is empty after. */
void		 mq_clear(struct mq *);

/* Big-endian field access; callers check lengths first. */
static inline void
put16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void
put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void
put64(unsigned char *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, (uint32_t)v);
}

static inline uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

#endif /* TO_MSG_H */
