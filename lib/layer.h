/*
 * layer.h: the Horus-style uniform layer interface, the stack that composes
 * layers from a spec such as "dynseq:mbrship:frag:nak:com", and the
 * transport interface under the COM layer.
 *
 * Every layer has the same eight entry points, its struct layer_ops: init
 * and fini, down (a message from above), up (a message from below),
 * ctl_down and ctl_up (events), timer, and cast_bytes (at the top only).
 * A layer hands things on with layer_down()/layer_up()/layer_ctl_*(); the
 * stack routes them to the neighbour, to the transport under the bottom
 * layer, or to the application over the top one.
 *
 * Layers are pure with respect to the outside world: they read time with
 * layer_now(), arm their single timer with layer_wake(), draw randomness
 * from layer_random(), and never make system calls (only com.c reaches the
 * transport).  An in-memory transport and a fake clock therefore drive
 * whole groups deterministically (test/unit/sim.c).
 *
 * Ownership: down() and up() take the message and must pass it on or free
 * it, also when they fail.  Events are borrowed: the caller owns them.
 */
#ifndef TO_LAYER_H
#define TO_LAYER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "msg.h"
#include "to.h"

struct layer;
struct stack;

enum ev_type {
	/* down: membership of the new view, for the layers below MBRSHIP,
	 * with ev->cut giving where each member's broadcast stream starts.
	 * up: the view is installed (all of the old view delivered); the
	 * order layer writes its state for the new view into view_state
	 * (the coordinator sends it to joiners), or takes it from there
	 * when adopt_state is set. */
	EV_VIEW = 1,
	/* up: a view change began; stop sending ordered messages, send what
	 * is buffered as unordered, wait for EV_VIEW. */
	EV_FLUSH,
	/* down, answered in place: NAK fills ev->cut with, for each member
	 * whose broadcast stream it follows, the highest sequence number it
	 * holds contiguously (its own: the highest it sent). */
	EV_RECV_VECTOR,
	/* down: NAK must obtain every broadcast message up to ev->cut, asking
	 * ev->cut.e[i].from for repairs; it answers with EV_CUT_DONE up. */
	EV_CUT,
	EV_CUT_DONE,
	/* down, answered in place: NAK fills ev->backlog, the largest number
	 * of messages it holds that some view member has not acknowledged,
	 * or EV_BACKLOG_FULL while our broadcasts wait for room in flight. */
	EV_BACKLOG,
	/* down, answered in place: ev->stable is 1 when every member of the
	 * view acknowledged everything this member sent and received. */
	EV_STABLE,
	/* down from the application: leave the group gracefully. */
	EV_LEAVE,
	/* up: this member is out of the group (left, or was excluded). */
	EV_EXIT,
	/* down from the application (to_pause): ev->paused set, the member
	 * reads no datagrams and so hears no one until it is resumed; its
	 * failure detector must not take that silence for failures. */
	EV_PAUSE,
	/* down, answered in place before a datagram is read: ev->landing,
	 * where its payload goes if it continues a message in reassembly. */
	EV_LANDING,
	/* up from NAK: some member acknowledged more of some broadcast
	 * stream (a STATUS, or a vector riding on a broadcast came in). */
	EV_ACKED,
	/* down, answered in place: ev->ack.seq, how far member ev->ack.
	 * member is known to hold member ev->ack.stream's broadcasts with no
	 * gap (0: not known, or not both of the view). */
	EV_ACK_OF,
	/* down: a layer above waits on our acknowledgement of what came in
	 * (dynseq: the sequencer, to confirm our unit): NAK sends its next
	 * STATUS sooner than usual. */
	EV_ACK_SOON,
};

/*
 * EV_LANDING (group.c reads long datagrams with it): FRAG names the one
 * message it is putting together, msg, whose next fragment from src (a
 * broadcast, or to us if p2p) would go at off (room bytes free); FRAG
 * and each layer below push in front of hdr[at] the header such a
 * fragment carries, with the bits in mask that may differ (a CRC), and
 * add themselves to layers.
 * Only a header that the three vouch for exactly (LANDING_ALL: for NAK,
 * the next number of src's stream, so nothing holds it out of order) is
 * read in front of its payload read straight into msg at off.
 */
#define LANDING_HDR_MAX	64
#define LANDING_FRAG	0x01
#define LANDING_NAK	0x02
#define LANDING_COM	0x04
#define LANDING_ALL	(LANDING_FRAG | LANDING_NAK | LANDING_COM)

struct landing {
	uint64_t	 src;
	int		 p2p;
	struct to_msg	*msg;
	size_t		 off, room;
	unsigned char	 hdr[LANDING_HDR_MAX], mask[LANDING_HDR_MAX];
	size_t		 at;		/* the header is hdr[at..MAX) */
	unsigned	 layers;
};

/* Room for n more bytes of header in front: their bytes (and *mask,
 * zeroed), or NULL if there is none. */
unsigned char	*landing_push(struct landing *, size_t n, unsigned char **mask);

struct cut_entry {
	uint64_t	 member;	/* whose broadcast stream */
	uint64_t	 seq;		/* highest sequence number */
	uint64_t	 from;		/* who to ask for repairs (EV_CUT) */
};

struct cut {
	size_t		 n;
	struct cut_entry *e;		/* allocated by the filler, freed by the owner */
};

struct event {
	enum ev_type	 type;
	const struct to_view *view;	/* EV_VIEW */
	struct cut	 cut;		/* EV_RECV_VECTOR, EV_CUT */
	size_t		 backlog;	/* EV_BACKLOG */
#define EV_BACKLOG_FULL	(SIZE_MAX / 2)
	int		 stable;	/* EV_STABLE */
	int		 paused;	/* EV_PAUSE */
	unsigned char	 view_state[32];/* EV_VIEW: the coordinator's order state */
	size_t		 view_state_len;
	int		 adopt_state;	/* EV_VIEW up: take view_state as ours */
	int		 error;		/* EV_EXIT: why, as an errno, or 0 */
	char		 why[96];	/* EV_EXIT: and in words */
	uint64_t	 prev_view_id;	/* EV_VIEW up: the view this one follows */
	struct landing	*landing;	/* EV_LANDING */
	struct {
		uint64_t	 member, stream, seq;
	}		 ack;		/* EV_ACK_OF */
};

struct layer_ops {
	const char	*name;
	const char	*about;		/* one line, for -p list */
	size_t		 hdr_len;	/* most bytes it pushes: for headroom */
	unsigned	 flags;
#define LAYER_ORDER	0x01	/* an ordering protocol, which -p names */
	int		(*init)(struct layer *);	/* -1 with errno */
	void		(*fini)(struct layer *);
	int		(*down)(struct layer *, struct to_msg *);
	void		(*up)(struct layer *, struct to_msg *);
	void		(*ctl_down)(struct layer *, struct event *);
	void		(*ctl_up)(struct layer *, struct event *);
	void		(*timer)(struct layer *);
	/* At the top only, may be NULL: take len bytes as a cast without a
	 * message made for them (they join a pack already open); 0 if it
	 * cannot, and the cast goes down as a message. */
	int		(*cast_bytes)(struct layer *, const void *, size_t);
};

struct layer {
	const struct layer_ops *ops;
	struct stack	*stack;
	struct layer	*above, *below;	/* NULL at the top and the bottom */
	void		*state;		/* the layer's own */
	uint64_t	 wake;		/* absolute ns, 0 for none */
};

/*
 * Hand on to the neighbour.  Every op but cast_bytes must be set (the
 * stack calls them unchecked); a layer that does not care about something
 * uses these four as its op, which passes it through.
 */
int		 layer_down(struct layer *, struct to_msg *);
void		 layer_up(struct layer *, struct to_msg *);
/* Hand on a view the caller keeps: the application only reads it; a
 * layer above gets a clone of it. */
void		 layer_up_view(struct layer *, const struct to_msg *);
void		 layer_ctl_down(struct layer *, struct event *);
void		 layer_ctl_up(struct layer *, struct event *);

uint64_t	 layer_now(const struct layer *);
/* Arm the layer's timer for absolute time t (0 disarms). */
void		 layer_wake(struct layer *, uint64_t t);
/* Arm it for t unless it is already armed earlier. */
void		 layer_wake_by(struct layer *, uint64_t t);
uint64_t	 layer_self(const struct layer *);
uint64_t	 layer_random(struct layer *);
const struct to_config *layer_config(const struct layer *);
struct to_stats	*layer_stats(struct layer *);
struct transport *layer_transport(struct layer *);

/* Every known layer, NULL-ended; stack specs name them. */
const struct layer_ops *layer_lookup(const char *name);
extern const struct layer_ops *const layer_table[];
/* The names of its ordering protocols (LAYER_ORDER), in its order,
 * NULL-ended: to_protocols(). */
const char *const *layer_protocols(void);

/* --- transports ------------------------------------------------------ */

struct transport;

struct transport_ops {
	const char	*scheme;	/* "local", "udp", "udpu", "mem" */
	/* Open for member self; spec is the part after "scheme://" or "". */
	int	(*open)(struct transport *, const char *spec);
	void	(*close)(struct transport *);
	/* Send one datagram to member dst, or to every member if dst is 0.
	 * 0 on success or a transient drop, -1 with errno on a hard error. */
	int	(*send)(struct transport *, uint64_t dst,
		    const struct iovec *, int iovcnt);
	/* Receive one datagram into the iovcnt parts, filled in order: its
	 * length, or -1 (EAGAIN if none).  One longer than the parts hold
	 * is not ours, and skipped. */
	ssize_t	(*recv)(struct transport *, const struct iovec *, int iovcnt);
	/* The datagram recv() returned last was valid and came from member
	 * src: remember where src is, for sends to it.  May be NULL. */
	void	(*learn)(struct transport *, uint64_t src);
	/* Member src left or failed: forget it.  May be NULL. */
	void	(*forget)(struct transport *, uint64_t src);
	/* The descriptors to poll for input; returns how many. */
	int	(*fds)(struct transport *, int *fds, int max);
};

struct transport {
	const struct transport_ops *ops;
	const struct to_config *cfg;
	uint64_t	 self;		/* member id */
	size_t		 mtu;		/* largest datagram it carries */
	size_t		 rcvbuf, sndbuf;/* socket buffers granted, 0: none */
	uint64_t	 scans;		/* local: rendezvous directory reads */
	size_t		 bufask;	/* and what it asked for */
	void		*state;
};

/* Find the transport for cfg->transport and open it; NULL with errno. */
struct transport *transport_open(const struct to_config *, uint64_t self);
/* ops->recv into one buffer. */
ssize_t		 transport_recv(struct transport *, void *buf, size_t len);
/* Bytes the iovcnt parts hold. */
size_t		 iov_bytes(const struct iovec *, int iovcnt);
/* Copy the first n bytes the parts hold (at most all) into dst. */
void		 iov_copy(const struct iovec *, int iovcnt, void *dst,
		    size_t n);
void		 transport_close(struct transport *);
/* Its descriptors for poll(2), each with events; like to_pollfds(). */
int		 transport_pollfds(struct transport *, struct pollfd *,
		    int max, short events);

extern const struct transport_ops transport_local, transport_udp,
    transport_udpu, transport_mem;

/* --- the stack ------------------------------------------------------- */

struct stack_app {
	/* borrows the message: it is the stack's again after the call */
	void	(*deliver)(void *arg, const struct to_msg *);
	void	(*event)(void *arg, struct event *);
	void	*arg;
};

/* Build a stack over tr from cfg (spec or protocol), its clock starting
 * at now; NULL with errno. */
struct stack	*stack_new(const struct to_config *, struct transport *,
		    uint64_t self, const struct stack_app *, uint64_t now);
void		 stack_free(struct stack *);
/* The clock every layer reads; the caller sets it before driving. */
void		 stack_set_now(struct stack *, uint64_t now);
uint64_t	 stack_next_wake(const struct stack *);
void		 stack_run_timers(struct stack *);
/* One datagram from the transport, into the bottom layer. */
void		 stack_input(struct stack *, struct to_msg *);
int		 stack_cast(struct stack *, struct to_msg *);
/* A cast of a copy of data: taken as bytes by the top layer's cast_bytes
 * if it can, else as a message through stack_cast(). */
int		 stack_cast_data(struct stack *, const void *, size_t);
void		 stack_ctl(struct stack *, struct event *);
struct to_stats	*stack_stats(struct stack *);
uint64_t	 stack_self(const struct stack *);
/* Parse a spec into names; -1 (EINVAL) on an empty or unknown layer. */
int		 stack_parse(const char *spec, char ***names, int *n);

/* --- the COM layer's wire format, for tests and fuzzers -------------- */

uint32_t	 com_group_hash(const char *name);
/*
 * A whole datagram as the COM layer of member src sends it to dst under
 * cfg (group, key): sealed with the given counter if cfg->key is set, else
 * with a CRC.  Writes at most outlen bytes to out, which must not overlap
 * payload; returns the length, or -1 with errno (EMSGSIZE: out is short).
 */
ssize_t		 com_wrap(const struct to_config *cfg, uint64_t src,
		    uint64_t dst, uint64_t counter, const void *payload,
		    size_t len, void *out, size_t outlen);

#endif /* TO_LAYER_H */
