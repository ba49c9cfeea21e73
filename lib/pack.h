/*
 * pack.h: the ordered unit every protocol puts in order, and packing
 * (after Friedman and van Renesse 1995, sections 3 and 4: one header for
 * many small messages).  See pack.c for the wire format.
 *
 * An ordered unit is one message or a pack of several consecutive own
 * messages of one sender; the protocol header in front of it names the
 * sender and the sender seq of the first.  order.c builds units with a
 * struct pack and takes them apart again at delivery.
 */
#ifndef TO_PACK_H
#define TO_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "to.h"

#define PACK_ONE	0x00	/* kind: one message follows */
#define PACK_MANY	0x01	/* kind: a pack */
#define PACK_ZMANY	0x02	/* kind: a pack compressed with zlib */
#define PACK_HDR_MAX	11	/* kind, count, raw length */
#define PACK_ONE_HDR	1	/* what a unit of one pushes on a message:
				 * a layer's hdr_len counts this, packs have
				 * headroom of their own */
#define PACK_ZMIN	64	/* bytes below which compression is not tried */

enum pack_mode {
	PACK_OFF,		/* every message its own unit */
	PACK_DELAY,		/* a unit every delay, or when pack_max is full */
	PACK_ADAPTIVE,		/* at once when none of ours is in flight */
	PACK_VISIT,		/* when the protocol may send (token presets) */
};

/* Messages being packed, copied one after the other. */
struct pack {
	struct to_msg	*m;		/* NULL while empty */
	size_t		 cap;		/* bytes m can hold */
	uint32_t	 n;		/* messages in it */
};

/* Parse "off", "adaptive" or a delay ("1ms", "500us", "2s", "250000ns";
 * a bare number is milliseconds, at most 10 s); "visit" only if
 * allow_visit.  -1 with EINVAL. */
int		 pack_parse(const char *, int allow_visit, enum pack_mode *,
		    uint64_t *delay_ns);
/* Bytes a message of len takes in a pack. */
size_t		 pack_room(size_t len);
/* Bytes of messages in the pack so far. */
size_t		 pack_used(const struct pack *);
/* Copy m's bytes to the end of the pack; m stays the caller's. */
int		 pack_append(struct pack *, const struct to_msg *);
int		 pack_append_bytes(struct pack *, const void *, size_t);
/* The pack as a unit (compressed at zlib level zlevel if that makes it
 * smaller; 0: never); the pack is empty after.  NULL with errno. */
struct to_msg	*pack_take(struct pack *, int zlevel, struct to_stats *);
void		 pack_clear(struct pack *);
/* m as a unit of one; NULL with errno, m freed. */
struct to_msg	*pack_single(struct to_msg *);

/* How many messages the unit holds; 0 if its header is malformed. */
uint32_t	 pack_count(const struct to_msg *);

/* Taking a unit apart. */
struct pack_rd {
	struct to_msg	*body;		/* the message(s), uncompressed */
	size_t		 at;		/* next byte in body */
	uint32_t	 left;		/* messages not yet returned */
	int		 one;		/* body is the single message */
};

/* Check the whole unit (taken; freed on error) and get ready to return
 * its messages; raw_max bounds a compressed pack's inflated size.  -1
 * with EBADMSG. */
int		 pack_open(struct pack_rd *, struct to_msg *, size_t raw_max);
/* The next message into *v, a view of the unit's bytes that holds no
 * reference: read it, do not free it, and not after pack_close(); -1 at
 * the end. */
int		 pack_next(struct pack_rd *, struct to_msg *v);
void		 pack_close(struct pack_rd *);

#endif /* TO_PACK_H */
