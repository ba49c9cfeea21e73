/*
 * nak.h: what the files of the NAK layer share (nak.c: the streams,
 * sending, receiving and the timer; nak_repair.c: asking for and serving
 * repairs; nak_stable.c: ack vectors, STATUS, stability and pacing;
 * nak_view.c: views, cuts and the other events from above).  Not a public
 * interface: see nak.c for what the layer guarantees.
 */
#ifndef TO_NAK_H
#define TO_NAK_H

#include <stdint.h>

#include "layer.h"

enum nak_type {
	NAK_DATA = 1, NAK_REPAIR, NAK_UNREL, NAK_NAK, NAK_STATUS, NAK_NTYPES
};

enum nak_kind { NAK_ACK_BC = 1, NAK_ACK_P2P, NAK_HIGH_P2P };

/* what an input handler did not take */
#define NAK_BAD		1
#define NAK_FOREIGN	2

#define NAK_F_P2P	0x01
#define NAK_F_ACKS	0x02

#define NAK_HDR_DATA	10
#define NAK_HDR_REPAIR	18
#define NAK_EPOCH	8	/* after those, and a NAK's count, if P2P */
#define NAK_HDR_MAX	(NAK_HDR_REPAIR + NAK_EPOCH) /* in front of data */
#define NAK_HDR_UNREL	2
#define NAK_HDR_VEC	12	/* NAK and STATUS, before the list */
#define NAK_RANGE	16
#define NAK_ENTRY	17	/* ACK_BC */
#define NAK_ENTRY_P2P	(NAK_ENTRY + NAK_EPOCH)

#define NAK_WINDOW	65536	/* held past the next expected, at most */
#define NAK_MAX_RANGES	64	/* in one request */
#define NAK_MAX_ASK	256	/* missing messages in one request */
#define NAK_MAX_SERVE	256	/* repairs for one request */
#define NAK_MAX_SCAN	4096	/* numbers looked at for one request */
#define NAK_SETTLE	(1 * MS)
#define NAK_RETRY	(10 * MS)
#define NAK_DAMP	(2 * MS)
#define NAK_STATUS_GAP	(2 * MS)
#define NAK_URGENT_GAP	(MS / 20)	/* the gap after EV_ACK_SOON */
#define NAK_HEARTBEAT	(50 * MS)
#define NAK_LIMBO	(5000 * MS)	/* a leaver's broadcasts kept */
#define NAK_FLIGHT_MIN	(256 * 1024)	/* bytes in flight, at least */

/* A kept message, and when it was last repaired to whom. */
struct slot {
	struct to_msg	*m;
	uint64_t	 rep_at;
	uint64_t	 rep_to;
	uint64_t	 end;		/* own broadcasts: bytes cast up to it */
};

/* Messages by number: seq lives at s[seq % cap], for lo <= seq < lo+cap. */
struct ring {
	struct slot	*s;
	size_t		 cap;		/* a power of two, or 0 */
	uint64_t	 lo;		/* nothing below is kept */
};

struct stream {
	struct ring	 ring;
	uint64_t	 epoch;		/* p2p: the view id it started at */
	uint64_t	 next;		/* to deliver (in) or to send (out) */
	uint64_t	 high;		/* in: highest known to exist */
	uint64_t	 acked;		/* broadcast: by all; p2p out: by dst */
	uint64_t	 nak_at;	/* in: when to ask for repairs, or 0 */
	uint64_t	 nak_upto;	/* in: the last number last asked for */
	uint64_t	 cut_seq;	/* broadcast: pending EV_CUT target */
	uint64_t	 cut_from;	/* who repairs up to it; 0: the origin */
};

struct peer {
	uint64_t	 id;
	int		 idx;		/* rank in the view, -1 if none */
	int		 mark, left;
	int		 skipped;	/* its stream jumped: deliver what follows */
	int		 heard;		/* a vector of its came in this view */
	struct peer	*next_gone;
	uint64_t	 gone_until;	/* left: freed then */
	struct stream	 bc;		/* its broadcasts (ours, for us) */
	struct stream	 rx;		/* its stream to us */
	struct stream	 tx;		/* our stream to it */
};

struct nak {
	struct peer	*me;
	struct peer	**peers;	/* the view, by rank */
	size_t		 n;
	uint64_t	*ack;		/* [i*n+j]: peers[i] holds peers[j]'s to */
	int		 viewed;
	struct mq	 loop;
	uint64_t	 looped;	/* own broadcasts delivered up */
	int		 dirty;		/* STATUS news since the last */
	int		 urgent;	/* EV_ACK_SOON since the last */
	uint64_t	 status_at;	/* when the last went */
	int		 cutting, cut_check;
	int		 depth;		/* in up() or timer() */
	struct peer	*gone;		/* left the view, kept a while */
	size_t		 below;		/* header bytes under us */
	size_t		 room;		/* largest reliable payload */
	/* pacing of our broadcasts: numbered and kept at once, sent while
	 * fewer than flight_max bytes of them are not yet acknowledged */
	uint64_t	 sent;		/* our last broadcast sent */
	uint64_t	 cast_bytes;	/* bytes of all our broadcasts */
	uint64_t	 acked_end;	/* bytes of those everyone holds */
	size_t		 flight_max;
	size_t		 ack_bytes;	/* received since our last STATUS */
};

struct ventry {
	int		 kind;
	uint64_t	 member, seq, epoch;
};

/* nak.c: streams, members, sending, receiving, the timer */
struct slot	*nak_ring_at(const struct ring *, uint64_t);
void		 nak_ring_release(struct ring *, uint64_t);
void		 nak_stream_restart(struct stream *, uint64_t);
struct peer	*nak_peer_new(uint64_t, uint64_t);
void		 nak_peer_free(struct peer *);
struct peer	*nak_find(const struct nak *, uint64_t);
void		 nak_bury(struct layer *);
void		 nak_send_data(struct layer *, struct to_msg *, uint64_t, int,
		    uint64_t);
void		 nak_raise(struct layer *, struct stream *, uint64_t);
void		 nak_accept(struct layer *, struct peer *, int, uint64_t,
		    struct to_msg *);
int		 nak_rx_epoch(struct peer *, uint64_t);

/* nak_repair.c: asking for repairs and answering */
void		 nak_request(struct layer *, struct peer *, int);
int		 nak_in_repair(struct layer *, struct to_msg *);
int		 nak_in_nak(struct layer *, struct to_msg *);

/* nak_stable.c: stability, ack vectors, STATUS, pacing */
void		 nak_stabilize(struct nak *, struct peer *);
uint64_t	 nak_ack_of(struct nak *, uint64_t, uint64_t);
void		 nak_touch(struct layer *);
int		 nak_status_due(const struct nak *, uint64_t);
void		 nak_status(struct layer *);
struct to_msg	*nak_piggyback(struct layer *, const struct to_msg *,
		    uint64_t);
int		 nak_waiting(const struct nak *);
uint64_t	 nak_flight(const struct nak *);
void		 nak_transmit(struct layer *);
size_t		 nak_vector_len(const unsigned char *, size_t);
void		 nak_apply(struct layer *, struct peer *, uint64_t,
		    const unsigned char *);
int		 nak_in_status(struct layer *, struct to_msg *);

/* nak_view.c: views, cuts, the events from above */
void		 nak_cut_try(struct layer *);
void		 nak_ctl_down(struct layer *, struct event *);

#endif /* TO_NAK_H */
