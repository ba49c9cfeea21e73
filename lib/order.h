/*
 * order.h: what every ordering protocol shares (paper section 3.1), and
 * packing (pack.h), which every protocol offers through it.
 *
 * A protocol layer keeps a struct order as the first member of its state
 * and hands the common work to these functions: numbering its own casts,
 * packing them into ordered units, keeping each unit until it is
 * delivered, re-sending the undelivered ones as unordered at a flush,
 * holding casts made during a flush, delivering a unit's messages in
 * order (holding units that arrive ahead of their global position),
 * delivering the unordered units of a closing view by sender rank, then
 * sender order, skipping any message already delivered, and carrying the
 * global sequence number to joiners in the view state.
 *
 * The protocol orders units: proto->cast gets an own unit (meta.
 * sender_seq the sender seq of its first message, pack_count() how many
 * it holds), and the protocol hands units back with order_deliver() (the
 * next in order) or order_place() (at a known global position).
 */
#ifndef TO_ORDER_H
#define TO_ORDER_H

#include "layer.h"
#include "pack.h"

#define ORD_UNORDERED	0x80	/* type byte shared by every protocol */
#define ORD_UNORD_HDR	17	/* type u64:sender u64:sender-seq */

/* The role (orderer, sequencer) moves to a member that, over the last
 * ORD_MOVE_WINDOW messages the holder ordered, sent at least
 * ORD_MOVE_FACTOR times as many as the holder and at least half. */
#define ORD_MOVE_WINDOW	1024
#define ORD_MOVE_FACTOR	4

struct order;

struct order_proto {
	/* Send an own unit (meta.sender_seq its first) in order. */
	int	(*cast)(struct order *, struct to_msg *);
	/* A message of the protocol's own types arrived (header in place). */
	void	(*up)(struct order *, struct to_msg *);
	/* A flush began: stop ordering, drop what waits to be sent (the
	 * units are in o->pending and go out unordered). */
	void	(*flush)(struct order *);
	/* A new view is installed (o->view); the role goes to rank 0. */
	void	(*view)(struct order *);
	/* PACK_VISIT: messages wait in the pack; order_pack_flush() sends
	 * them as a unit when the protocol may send.  May be NULL. */
	void	(*kick)(struct order *);
	/* The deadline of order_wake() passed.  May be NULL. */
	void	(*timer)(struct order *);
	/* The view closes, next is the view after it: deliver (or drop)
	 * what the protocol still holds, before the unordered units (see
	 * order_deliver_unordered).  May be NULL. */
	void	(*close)(struct order *, const struct to_view *next);
	/* EV_ACKED: a member acknowledged more of a stream.  May be NULL. */
	void	(*acked)(struct order *);
};

struct ord_msg {
	uint64_t	 sender, sseq;	/* sseq: of the unit's first message */
	uint64_t	 pos;		/* global position, where known */
	uint32_t	 count;		/* messages in the unit */
	struct to_msg	*m;
	uint64_t	 stream, stream_seq; /* the NAK stream it came in */
};

struct ord_queue {
	struct ord_msg	*q;
	size_t		 head, n, cap;
};

struct order {
	struct layer	*l;
	const struct order_proto *proto;
	struct to_view	 view;		/* members allocated */
	int		 have_view;
	int		 flushing;
	uint64_t	 sseq;		/* last sender seq we assigned */
	uint64_t	 gseq;		/* last global seq delivered */
	int		 unnumbered;	/* delivering a flush's unordered
					 * units: global seq 0 */
	struct ord_queue pending;	/* own units not yet delivered */
	struct ord_queue blocked;	/* own casts made during a flush */
	struct ord_queue unordered;	/* received at a flush */
	struct ord_msg	*heap;		/* units ahead of their position */
	size_t		 nheap, capheap;
	uint64_t	*last_sender;	/* per view member: last sseq delivered */
	uint64_t	*last_sseq;
	size_t		 nlast;
	uint32_t	*act;		/* per view member: messages ordered */
	uint32_t	 act_total;
	/* order_confirm: places past conf wait (a protocol that sets gated
	 * delivers a place only once the unit's sender holds it) */
	int		 gated;
	uint64_t	 conf;
	size_t		 below;		/* header bytes the layers below push */
	/* packing */
	enum pack_mode	 pack_mode;
	uint64_t	 pack_delay;	/* ns, PACK_DELAY */
	size_t		 pack_max;
	int		 zlevel;	/* 0: no compression */
	size_t		 raw_max;	/* bound on an inflated pack */
	struct pack	 pk;
	uint64_t	 pack_first;	/* sender seq of pk's first message */
	/* the layer's one timer, shared */
	uint64_t	 pack_at, proto_at;
};

/*
 * A protocol's state for layer l, size bytes whose first member is a
 * struct order, zeroed and set as l->state; pack_default is the
 * protocol's packing when the configuration names none ("off", "visit",
 * or a delay).  NULL with errno (EINVAL for a bad to_config.pack).
 */
void	*order_layer_new(struct layer *, size_t size,
	    const struct order_proto *, const char *pack_default);
void	 order_fini(struct order *);
/* The layer's down: number the cast, pack it or send it (or hold it). */
int	 order_down(struct order *, struct to_msg *);
/* The layer's up: unordered messages are kept, the rest go to proto->up. */
void	 order_up(struct order *, struct to_msg *);
void	 order_ctl_up(struct order *, struct event *);
void	 order_timer(struct order *);

/* Deliver unit m from sender (header pulled) as the next in total order;
 * messages delivered already are dropped. */
void	 order_deliver(struct order *, struct to_msg *, uint64_t sender,
	    uint64_t sseq);
/* Deliver unit m at global position pos once every position before it
 * is delivered (and, gated, pos <= conf); the unit takes pack_count()
 * positions.  What is still held when the view closes is delivered by
 * position, over any gap; past conf only if its sender goes on with
 * us. */
void	 order_place(struct order *, struct to_msg *, uint64_t sender,
	    uint64_t sseq, uint64_t pos);
int	 order_rank(const struct order *, uint64_t member);
/* Out of memory for a unit the order needs: leave (EV_EXIT, ENOMEM). */
void	 order_no_memory(struct order *);
/* Gated: every place up to conf is confirmed; deliver what waited. */
void	 order_confirm(struct order *, uint64_t conf);
/*
 * For a role holder that confirms (dynseq, dynord): q holds, in order,
 * units placed at pos (the last place pos + count - 1, count 0 as 1),
 * sender their sender, and the NAK stream and stream_seq of the message
 * that placed them: 0 once known held by the sender, ORD_UNSENT while
 * not known.  Marks those the sender now holds and returns the last
 * place of the confirmed prefix, at least upto.
 */
#define ORD_UNSENT	UINT64_MAX
uint64_t order_confirmed(struct order *, struct ord_queue *q, uint64_t upto);
/* Whether member is in view v. */
int	 order_in(const struct to_view *v, uint64_t member);
/* Push an n-byte header, however large, leaving the layers below room. */
unsigned char	*order_push(struct order *, struct to_msg *, size_t n);
/* Send what waits in the pack now, as one unit. */
void	 order_pack_flush(struct order *);
/* Hand every own unit not yet delivered to proto->cast again (the role
 * moved before they were ordered). */
void	 order_recast(struct order *);
/* The protocol's timer: absolute ns, 0 disarms; _by only brings it on. */
void	 order_wake(struct order *, uint64_t t);
void	 order_wake_by(struct order *, uint64_t t);
/* The role holder ordered n messages of rank r: the rank the role should
 * move to once a window is complete, else -1. */
int	 order_activity(struct order *, int r, uint32_t n);

/* Units in a FIFO queue: push takes m (freed on failure). */
int	 ordq_push(struct ord_queue *, const struct ord_msg *);
struct ord_msg *ordq_front(struct ord_queue *);
struct ord_msg *ordq_at(struct ord_queue *, size_t i);
void	 ordq_pop(struct ord_queue *);
void	 ordq_clear(struct ord_queue *);	/* frees the messages */
void	 ordq_free(struct ord_queue *);

/* Layer entry points for a state whose first member is a struct order. */
int	 order_layer_down(struct layer *, struct to_msg *);
void	 order_layer_up(struct layer *, struct to_msg *);
void	 order_layer_ctl_up(struct layer *, struct event *);
void	 order_layer_timer(struct layer *);
int	 order_layer_cast_bytes(struct layer *, const void *, size_t);

/* The entries of an ordering layer's struct layer_ops they all share;
 * LAYER_ORDER puts it among the protocols that -p names. */
#define ORDER_LAYER_ENTRIES			\
	.flags = LAYER_ORDER,			\
	.down = order_layer_down,		\
	.up = order_layer_up,			\
	.ctl_down = layer_ctl_down,		\
	.ctl_up = order_layer_ctl_up,		\
	.timer = order_layer_timer,		\
	.cast_bytes = order_layer_cast_bytes

#endif /* TO_ORDER_H */
