/*
 * wire.h: bounded cursors for encoding and decoding control messages.
 * A reader that runs off the end sets err and returns zeros from then on,
 * so a parser checks once at the end instead of before every field.
 */
#ifndef TO_WIRE_H
#define TO_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "msg.h"

struct wire_rd {
	const unsigned char *p;
	size_t		 left;
	int		 err;
};

struct wire_wr {
	unsigned char	*p;
	size_t		 left;
	int		 err;
};

static inline const unsigned char *
wire_take(struct wire_rd *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->err || n > r->left) {
		r->err = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static inline uint8_t
wire_u8(struct wire_rd *r)
{
	const unsigned char *p = wire_take(r, 1);

	return p ? p[0] : 0;
}

static inline uint32_t
wire_u32(struct wire_rd *r)
{
	const unsigned char *p = wire_take(r, 4);

	return p ? get32(p) : 0;
}

static inline uint64_t
wire_u64(struct wire_rd *r)
{
	const unsigned char *p = wire_take(r, 8);

	return p ? get64(p) : 0;
}

static inline unsigned char *
wire_room(struct wire_wr *w, size_t n)
{
	unsigned char	*p = w->p;

	if (w->err || n > w->left) {
		w->err = 1;
		return NULL;
	}
	w->p += n;
	w->left -= n;
	return p;
}

static inline void
wire_put8(struct wire_wr *w, uint8_t v)
{
	unsigned char	*p = wire_room(w, 1);

	if (p)
		p[0] = v;
}

static inline void
wire_put32(struct wire_wr *w, uint32_t v)
{
	unsigned char	*p = wire_room(w, 4);

	if (p)
		put32(p, v);
}

static inline void
wire_put64(struct wire_wr *w, uint64_t v)
{
	unsigned char	*p = wire_room(w, 8);

	if (p)
		put64(p, v);
}

static inline void
wire_putmem(struct wire_wr *w, const void *src, size_t n)
{
	unsigned char	*p = wire_room(w, n);

	if (p && n > 0)
		memcpy(p, src, n);
}

#endif /* TO_WIRE_H */
