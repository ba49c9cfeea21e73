/*
 * to.h: the public interface of libto, the core shared by tocast, torecv,
 * toview and toburst.
 *
 * A process opens a group member with to_open(), registers the member's
 * file descriptors with its own poll loop (to_pollfds), calls to_process()
 * whenever one is ready or the deadline from to_next_wake() passes, and
 * casts with to_cast().  Deliveries and views come back through callbacks,
 * always from inside to_process() or to_cast().  Library functions never
 * print or exit: they return -1 (or NULL) and set errno.
 */
#ifndef TO_H
#define TO_H

#include <sys/types.h>

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define TO_MAX_MSG_DEFAULT	(64u << 20)	/* 64 MiB */
#define TO_WINDOW_DEFAULT	4096		/* unstable messages per member */
#define TO_GROUP_MAX		64		/* bytes in a group name */
#define TO_SUSPECT_DEFAULT	1000		/* ms of silence: suspected */
#define TO_KEY_MIN		32		/* bytes in a group key, at least */
#define TO_VIEW_MAX		32		/* members in a view, at most */
#define TO_MTU_MIN		1092		/* udp, udpu datagram size: the
						   NAK layer's largest request */
#define TO_MTU_MAX		65000

/*
 * Why the COM layer refuses a member's datagrams for their key; see
 * to_config.refused.
 */
enum to_refusal {
	TO_REFUSED_UNSEALED = 1,	/* we have a key, it sends without */
	TO_REFUSED_SEALED,		/* it seals with a key, we have none */
	TO_REFUSED_KEY,			/* sealed, but not with our key */
	TO_REFUSED_STACK,		/* another stack below MBRSHIP (-s) */
};

struct to_config {
	const char	*group;		/* group name, required */
	const char	*protocol;	/* ordering protocol, "dynseq" if NULL */
	const char	*stack;		/* full spec; NULL: "PROTO:mbrship:frag:nak:com" */
	const char	*transport;	/* "local" if NULL, or "udp://[ADDR][:PORT]" */
	const char	*iface;		/* multicast interface for udp, or NULL */
	const char	*faults;	/* fault injection spec (TO_FAULTS), or NULL */
	const char	*rundir;	/* local transport rendezvous root, or NULL */
	size_t		 max_msg;	/* largest message, 0: TO_MAX_MSG_DEFAULT */
	size_t		 window;	/* flow-control window, 0: TO_WINDOW_DEFAULT */
	uint64_t	 seed;		/* PRNG seed for faults, 0: random */
	uint32_t	 suspect_ms;	/* silence before a member is suspected,
					 * 0: TO_SUSPECT_DEFAULT */
	int		 watch;		/* only watch: never join, never send;
					 * views come from coordinators' HELLO */
	/* The group key (-k): with one, every datagram is sealed
	 * (authenticated and its payload encrypted) and unsealed ones are
	 * refused.  NULL for none, else at least TO_KEY_MIN bytes of
	 * secret random data; read only during to_open(). */
	const unsigned char *key;
	size_t		 keylen;
	/* Called, from inside to_process(), when the datagrams of one
	 * sender keep being refused for their key: once per sender and
	 * reason, so the tools can tell the user why no view forms. */
	void		(*refused)(void *arg, uint64_t src, enum to_refusal);
	void		*refused_arg;
	/*
	 * Packing (every protocol): own messages go as packs, one ordered
	 * unit and one header for many messages.  "off"; a delay such as
	 * "1ms" or "500us" (a pack goes at the latest that long after its
	 * first message; a bare number is ms, at most 10 s); or "adaptive"
	 * (a message goes at once while none of ours is in flight, else
	 * waits in a pack that goes when the one in flight is delivered).
	 * NULL: the protocol's own: tomfc packs at each token visit, total
	 * at each token receipt, dysfc every 1ms, the others not at all.
	 * to_pack_check() validates.
	 */
	const char	*pack;
	size_t		 pack_max;	/* bytes of messages in one pack (a full
					 * one goes at once); 0: what fits one
					 * datagram after every header */
	int		 compress;	/* zlib level 1-9 for packs it shrinks,
					 * -1 zlib's default, 0 none */
	uint32_t	 visit_max;	/* totem, tomfc: units sent per token
					 * visit (paper, footnote 1), 0: all */
};

/* What the application learns with each delivered message. */
struct to_delivery {
	uint64_t	 view_id;	/* view in which it was delivered */
	uint64_t	 sender;	/* member id of the original sender */
	uint64_t	 sender_seq;	/* 1, 2, ... per sender and incarnation */
	uint64_t	 global_seq;	/* 1, 2, ... position in the agreed order */
	const void	*data;
	size_t		 len;
	uint64_t	 at;		/* when it came in: to_now() as of the
					   to_process() that delivered it */
};

struct to_view {
	uint64_t	 id;		/* increases with every view of the group */
	uint32_t	 n;		/* members, by rank: members[0] is rank 0 */
	uint64_t	*members;
	uint64_t	 self;		/* this member's id */
	int		 cut_off;	/* 1: the others took this member for
					   dead and went on without it; it is
					   alone here, and what they delivered
					   meanwhile is missing (to(7)) */
};

struct to_callbacks {
	void	(*deliver)(void *arg, const struct to_delivery *);
	void	(*view)(void *arg, const struct to_view *);
	void	*arg;
};

/* Counters every layer adds to; toburst and -v report them. */
struct to_stats {
	uint64_t	dgrams_sent, bytes_sent;
	uint64_t	dgrams_recv, bytes_recv;
	uint64_t	dgrams_landed;	/* of them, read straight into the
					   message they continue */
	uint64_t	dropped_bad;	/* malformed, bad CRC, wrong version */
	uint64_t	dropped_foreign;/* other group */
	uint64_t	dropped_fault;	/* by TO_FAULTS */
	uint64_t	naks_sent, retransmits;
	uint64_t	casts, delivered;
	uint64_t	views;
	uint64_t	stops;		/* woke after not running for longer
					 * than the suspect time, and closed
					 * the view alone (SIGSTOP, sleep) */
	/* with a key (to_config.key), or against one */
	uint64_t	dropped_auth;	/* sealed, failed authentication (or
					 * we have no key) */
	uint64_t	dropped_unsealed;/* not sealed while we have a key */
	uint64_t	dropped_replay;	/* authentic, but seen before or older
					 * than the replay window */
	/* ordering protocols and packing */
	uint64_t	packs_sent;	/* units of two or more messages */
	uint64_t	msgs_packed;	/* messages in them */
	uint64_t	packs_compressed;
	uint64_t	tokens_sent;	/* token passes (totem, tomfc, total) */
	uint64_t	token_requests;	/* total */
	uint64_t	orders_sent;	/* ORDER messages alone (dynord) */
	uint64_t	unordered_sent;	/* own units re-sent at a flush */
	uint64_t	unordered_gaps;	/* units of a flush not delivered: a
					 * gap before them in their sender's
					 * order (we were cut off) */
	uint64_t	departed;	/* units of a closing view not
					 * delivered: their sender does not
					 * go on with us (it failed, or its
					 * side of a split has them) */
	uint64_t	role_moves;	/* orderer or sequencer handed on */
	/* not counters: the transport's socket buffers, in bytes, as the
	 * kernel granted them (0: no sockets) and as asked for; -v prints
	 * them, since a kernel limit such as net.core.rmem_max may clamp */
	uint64_t	rcvbuf, sndbuf, buf_asked;
};

struct to_group;

struct to_group	*to_open(const struct to_config *, const struct to_callbacks *);
void		 to_close(struct to_group *);

/*
 * File descriptors to poll (for no events while paused).  Fills at most
 * max entries and returns how many the member has (which may exceed max).
 */
int		 to_pollfds(struct to_group *, struct pollfd *, int max);
/* Absolute CLOCK_MONOTONIC deadline in ns for the next to_process(). */
uint64_t	 to_next_wake(struct to_group *);
/*
 * Reads what is ready, runs due timers, delivers.  -1 on a fatal error:
 * EPROTO if the group runs another protocol stack; to_error() says more.
 */
int		 to_process(struct to_group *);
/* Why the group let us go, in words, or NULL (also when the member gave
 * up for want of memory: to_process() failed with ENOMEM). */
const char	*to_error(struct to_group *);
/*
 * Pause (1) or resume (0) taking datagrams: while paused, to_process()
 * reads nothing, so nothing is delivered and nothing new acknowledged
 * (the senders' flow-control window fills and the group slows to this
 * member), but timers still run (heartbeats go on).  Returns the previous
 * setting.  For a consumer whose output is full.
 */
int		 to_pause(struct to_group *, int paused);

/*
 * Broadcast one message in total order.  -1 with EAGAIN while the window of
 * unstable messages is full (poll and process, then try again), EMSGSIZE if
 * it is larger than max_msg.
 */
int		 to_cast(struct to_group *, const void *, size_t);
/* 1 while the flow-control window has room for another to_cast(). */
int		 to_can_cast(struct to_group *);
/* 1 once every message this member cast is delivered at every member. */
int		 to_all_stable(struct to_group *);
/* Leave gracefully; to_left() turns 1 once the group has let us go. */
int		 to_leave(struct to_group *);
int		 to_left(struct to_group *);

const struct to_view	*to_current_view(struct to_group *);
const struct to_stats	*to_stats(struct to_group *);
uint64_t		 to_self(struct to_group *);

/* Protocol names, NULL-terminated, and a one-line description of each. */
const char	*const *to_protocols(void);
const char	*to_protocol_about(const char *);
/* 0 if s is a valid to_config.pack (NULL is), else -1 with EINVAL. */
int		 to_pack_check(const char *s);

uint64_t	 to_now(void);	/* CLOCK_MONOTONIC in ns */

/*
 * The group's bare transport (cfg->transport, cfg->group), with no layer
 * above it: no ordering, no reliability, no header, no membership.
 * Datagrams go to every member the transport knows and come as the
 * network has them: lost, duplicated or reordered.  toburst -p raw
 * measures the limit of a path with it.  self is this member's id.
 */
struct to_raw;

struct to_raw	*to_raw_open(const struct to_config *, uint64_t self);
void		 to_raw_close(struct to_raw *);
/* The largest datagram it carries. */
size_t		 to_raw_mtu(const struct to_raw *);
/* 0, or -1 with errno (EMSGSIZE over the mtu); a drop for want of
 * buffer space is not an error. */
int		 to_raw_send(struct to_raw *, const void *, size_t);
/* One datagram's length, or -1 (EAGAIN when none is waiting). */
ssize_t		 to_raw_recv(struct to_raw *, void *, size_t);
/* Like to_pollfds(). */
int		 to_raw_pollfds(struct to_raw *, struct pollfd *, int max);

#endif /* TO_H */
