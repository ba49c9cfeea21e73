/*
 * order.h: what every ordering protocol shares (paper section 3.1).
 *
 * A protocol layer keeps a struct order as the first member of its state
 * and hands the common work to these functions: numbering its own casts,
 * keeping them until they are delivered, re-sending them as unordered at a
 * flush, buffering casts made during a flush, delivering the unordered
 * messages of a closing view by sender rank, then sender order, skipping
 * any already delivered, and carrying the global sequence number to
 * joiners in the view state.
 */
#ifndef TO_ORDER_H
#define TO_ORDER_H

#include "layer.h"

#define ORD_UNORDERED	0x80	/* type byte shared by every protocol */
#define ORD_UNORD_HDR	17	/* type u64:sender u64:sender-seq */

struct order;

struct order_proto {
	/* Send an own message (the payload, sender_seq in meta) in order. */
	int	(*cast)(struct order *, struct to_msg *);
	/* A message of the protocol's own types arrived (header in place). */
	void	(*up)(struct order *, struct to_msg *);
	/* A flush began: stop ordering. */
	void	(*flush)(struct order *);
	/* A new view is installed (o->view); the role goes to rank 0. */
	void	(*view)(struct order *);
};

struct ord_msg {
	uint64_t	 sender, sseq;
	struct to_msg	*m;
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
	struct ord_queue pending;	/* own casts not yet delivered */
	struct ord_queue blocked;	/* own casts made during a flush */
	struct ord_queue unordered;	/* received at a flush */
	uint64_t	*last_sender;	/* per view member: last sseq delivered */
	uint64_t	*last_sseq;
	size_t		 nlast;
};

int	 order_init(struct order *, struct layer *, const struct order_proto *);
void	 order_fini(struct order *);
/* The layer's down: number the cast and send it (or hold it in a flush). */
int	 order_down(struct order *, struct to_msg *);
/* The layer's up: unordered messages are kept, the rest go to proto->up. */
void	 order_up(struct order *, struct to_msg *);
void	 order_ctl_up(struct order *, struct event *);
/* Deliver m from sender (its header pulled) as the next in total order;
 * duplicates of what was delivered already are dropped. */
void	 order_deliver(struct order *, struct to_msg *, uint64_t sender,
	    uint64_t sseq);
int	 order_rank(const struct order *, uint64_t member);

#endif /* TO_ORDER_H */
