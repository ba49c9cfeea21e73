/*
 * mbrship.h: what the files of the MBRSHIP layer share (mbrship.c: the
 * layer's entry points; mb_wire.c: its control messages; mb_member.c: a
 * member's side of a view change; mb_coord.c: the coordinator's side;
 * mb_fail.c: failure detection).  Not a public interface: see mbrship.c
 * for what the layer guarantees.
 */
#ifndef TO_MBRSHIP_H
#define TO_MBRSHIP_H

#include <stdint.h>
#include <string.h>

#include "layer.h"
#include "wire.h"

#define MB_JOIN_INTERVAL	(50 * MS)
#define MB_DISCOVERY		(300 * MS)	/* plus up to 200 ms jitter */
#define MB_HELLO_INTERVAL	(100 * MS)
#define MB_CHANGE_DELAY		(20 * MS)
#define MB_RETRY		(50 * MS)
#define MB_MAX_MEMBERS		TO_VIEW_MAX /* a VIEW fits one 1472-byte datagram */
#define MB_MAX_FUTURE		65536	/* data held for a view not yet ours */
#define MB_MAX_TRIES		10	/* retries before a change goes on without */
#define MB_JOIN_WAIT		(1000 * MS) /* a joiner's wait for VIEW */

enum mb_type {
	MB_DATA = 1, MB_JOIN, MB_HELLO, MB_FLUSH, MB_FLUSH_OK, MB_VIEW,
	MB_VIEW_ACK, MB_LEAVE, MB_LEAVE_OK, MB_ALIVE,
};

enum mb_state {
	MB_JOINING,	/* looking for a group */
	MB_NORMAL,
	MB_FLUSHING,	/* sent FLUSH_OK, waiting for VIEW */
	MB_CUTTING,	/* have VIEW (or, as coordinator, all FLUSH_OKs) */
	MB_LEFT,
	MB_WATCHING,	/* toview -g: listens to HELLO, never joins */
};

/* A set of member ids in rank order. */
struct mb_set {
	uint32_t	 n;
	uint64_t	 m[MB_MAX_MEMBERS];
};

/* The coordinator's side of a view change. */
struct mb_change {
	int		 active;
	uint64_t	 id;
	struct mb_set	 members;
	int		 ok[MB_MAX_MEMBERS];	/* FLUSH_OK (then VIEW_ACK) */
	struct cut	 cut;		/* the maximum of all: where streams start */
	/* each FLUSH_OK: its sender's previous view and vector */
	struct mb_report {
		uint64_t	 member, prev_id, prev_coord;
		struct cut	 vec;
	}		 rep[MB_MAX_MEMBERS + 1];
	int		 nrep;
	int		 announced;		/* VIEW sent */
	int		 tries;
	uint64_t	 prev_id, prev_coord;	/* the view it follows */
	unsigned char	 state[32];
	size_t		 statelen;
};

struct mbrship {
	enum mb_state	 state;
	struct mb_set	 view;
	uint64_t	 view_id;
	uint64_t	 discover_at, next_join, next_hello, next_retry;
	uint64_t	 change_at;	/* coordinator: start a change then */
	struct mb_set	 joiners;	/* coordinator: waiting to join */
	struct mb_set	 leavers;	/* coordinator: asked to leave */
	struct mb_change ch;
	/* our part in the change under way */
	uint64_t	 flush_id, flush_coord;
	uint64_t	 view_coord;	/* who installed our view */
	uint64_t	 flush_heard;	/* last FLUSH or VIEW from flush_coord */
	struct mb_set	 next;		/* the view being installed */
	struct cut	 next_cut;	/* what our previous view must obtain */
	struct cut	 next_start;	/* where each stream starts in the next */
	unsigned char	 next_state[32];
	size_t		 next_statelen;
	int		 next_adopt;
	int		 next_cut_off;	/* the next view is ours alone because
					 * the others went on without us */
	int		 in_flush_upcall;
	/* failure detection */
	uint64_t	 suspect_ns;
	uint64_t	 heard[MB_MAX_MEMBERS];	/* by rank in view */
	struct mb_set	 suspects;
	uint64_t	 next_alive;
	uint64_t	 cut_deadline;	/* a cut that takes this long is stuck */
	uint64_t	 last_run;	/* when the layer last ran: a gap past
					 * the suspect time was a stop */
	int		 leaving;
	int		 paused;	/* EV_PAUSE: deaf, so suspect no one */
	int		 leave_tries;	/* LEAVEs unanswered: we go after enough */
	char		 proto[32];	/* the stack above us: all must agree */
	uint64_t	 merge_id;	/* highest view id of views merging in */
	/* data of our view that came after our FLUSH_OK: only what lies
	 * within the cut may be delivered */
	struct to_msg	**late;
	size_t		 nlate;
	/* data that arrived for a view we have not installed yet */
	struct to_msg	**future;
	size_t		 nfuture;
};

static inline int
set_has(const struct mb_set *s, uint64_t id)
{
	uint32_t	 i;

	for (i = 0; i < s->n; i++)
		if (s->m[i] == id)
			return 1;
	return 0;
}

static inline int
set_add(struct mb_set *s, uint64_t id)
{
	if (set_has(s, id))
		return 0;
	if (s->n == MB_MAX_MEMBERS)
		return -1;
	s->m[s->n++] = id;
	return 0;
}

static inline void
set_del(struct mb_set *s, uint64_t id)
{
	uint32_t	 i;

	for (i = 0; i < s->n; i++)
		if (s->m[i] == id) {
			memmove(&s->m[i], &s->m[i + 1],
			    (s->n - i - 1) * sizeof(s->m[0]));
			s->n--;
			return;
		}
}

/* Keep in s only the members that are also in v. */
static inline void
mb_keep_members(struct mb_set *s, const struct mb_set *v)
{
	uint32_t	 i, n = 0;

	for (i = 0; i < s->n; i++)
		if (set_has(v, s->m[i]))
			s->m[n++] = s->m[i];
	s->n = n;
}

static inline int
set_index(const struct mb_set *s, uint64_t id)
{
	uint32_t	 i;

	for (i = 0; i < s->n; i++)
		if (s->m[i] == id)
			return (int)i;
	return -1;
}

/* mbrship.c: the layer's entry points */
uint64_t	 mb_coord(const struct mbrship *);
int		 mb_is_coord(struct layer *);
void		 mb_gone(struct layer *);
void		 mb_rearm(struct layer *);

/* mb_wire.c: the control messages */
struct to_msg	*mb_msg(size_t, struct wire_wr *);
void		 mb_send(struct layer *, struct to_msg *, struct wire_wr *,
		    uint64_t);
void		 mb_put_set(struct wire_wr *, const struct mb_set *);
int		 mb_get_set(struct wire_rd *, struct mb_set *);
void		 mb_send_simple(struct layer *, enum mb_type, uint64_t);
void		 mb_send_setmsg(struct layer *, enum mb_type, uint64_t,
		    const struct mb_set *, uint64_t);
int		 mb_get_proto(struct wire_rd *, const struct mbrship *, char *,
		    size_t);
void		 mb_send_join(struct layer *);
void		 mb_send_hello(struct layer *);
void		 mb_send_flush_ok(struct layer *);
void		 mb_send_view(struct layer *, uint64_t);
int		 mb_read_start(struct wire_rd *, struct cut *);

/* mb_member.c: a member's side of a view change */
void		 mb_flush_up(struct layer *);
void		 mb_flush_start(struct layer *, uint64_t, uint64_t);
void		 mb_on_flush(struct layer *, uint64_t, struct wire_rd *);
void		 mb_on_view(struct layer *, uint64_t, struct wire_rd *);
void		 mb_release_future(struct layer *);
void		 mb_install(struct layer *);
void		 mb_install_alone(struct layer *, uint64_t, int);
void		 mb_cut_done(struct layer *);
void		 mb_release_late(struct layer *, const struct cut *);
void		 mb_up_data(struct layer *, struct to_msg *);

/* mb_coord.c: the coordinator's side */
void		 mb_want_change(struct layer *);
void		 mb_change_begin(struct layer *, uint64_t,
		    const struct mb_set *);
void		 mb_change_start(struct layer *);
void		 mb_change_restart(struct layer *);
void		 mb_change_cut(struct layer *);
void		 mb_change_announce(struct layer *);
void		 mb_change_done(struct layer *);
void		 mb_change_clear(struct mb_change *);
void		 mb_cut_set(struct cut *, const struct cut *);
void		 mb_cut_merge(struct cut *, uint64_t, uint64_t, uint64_t);
void		 mb_group_cut(const struct mb_change *, uint64_t, struct cut *);
void		 mb_cut_down(struct layer *, struct event *);
void		 mb_on_flush_ok(struct layer *, uint64_t, struct wire_rd *);
void		 mb_on_view_ack(struct layer *, uint64_t, struct wire_rd *);
void		 mb_on_join(struct layer *, uint64_t);
void		 mb_on_leave(struct layer *, uint64_t);
void		 mb_on_hello(struct layer *, uint64_t, struct wire_rd *);

/* mb_fail.c: failure detection */
void		 mb_heard(struct layer *, uint64_t);
void		 mb_check_failures(struct layer *);
void		 mb_flush_abandon(struct layer *);
void		 mb_cut_stuck(struct layer *);
void		 mb_excluded(struct layer *, uint64_t);
void		 mb_apart(struct layer *, uint64_t, const struct mb_set *);
void		 mb_woke(struct layer *);
int		 mb_takes_over(struct layer *, uint64_t, uint64_t, uint64_t,
		    const struct mb_set *);

#endif /* TO_MBRSHIP_H */
