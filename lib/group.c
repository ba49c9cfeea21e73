/*
 * group.c: the public interface of to.h: one group member, a transport
 * and a stack, driven by the caller's poll loop.
 *
 * Flow control: a member may have at most window own messages cast but
 * not yet delivered back to it, and the NAK layer's backlog (messages some
 * member has not acknowledged) must be under the window too, so a slow
 * member slows the senders instead of growing anyone's memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "layer.h"

#define GROUP_RECV_BATCH	256	/* datagrams per to_process() */
#define GROUP_DGRAM_MAX		65536
#define GROUP_CAST_BATCH	32	/* casts between clock and backlog reads */
/* A datagram at least this long becomes the message it was received
 * into; a shorter one is copied out into a buffer of its own size. */
#define GROUP_KEEP_MIN		8192

struct to_group {
	struct to_config cfg;
	struct to_callbacks cb;
	struct transport *tr;
	struct stack	*stack;
	uint64_t	 self;
	struct to_view	 view;		/* members allocated */
	uint64_t	 own_cast, own_delivered;
	int		 left;
	int		 error;		/* why the library let us go, or 0 */
	char		 why[96];
	int		 paused;	/* to_pause: read no datagrams */
	struct to_msg	*dgram;		/* the next datagram is received here
					   (made when needed) */
	int		 landing;	/* the last one was long: ask the
					   stack where the next one goes */
	uint64_t	 now;		/* the stack's clock, as last set */
	size_t		 backlog;	/* as last asked of the stack */
	uint32_t	 since;		/* casts since the clock and the backlog
					   were read (GROUP_CAST_BATCH: read
					   them at the next cast) */
};

uint64_t
to_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Read the clock for the stack; the backlog is read again too. */
static void
group_tick(struct to_group *g)
{
	g->now = to_now();
	stack_set_now(g->stack, g->now);
	g->since = GROUP_CAST_BATCH;
}

const char *const *
to_protocols(void)
{
	return layer_protocols();
}

const char *
to_protocol_about(const char *name)
{
	const struct layer_ops *ops = layer_lookup(name);

	return ops ? ops->about : NULL;
}

static void
group_deliver(void *arg, const struct to_msg *m)
{
	struct to_group	*g = arg;
	struct to_delivery d;

	d.view_id = m->meta.view_id;
	d.sender = m->meta.src;
	d.sender_seq = m->meta.sender_seq;
	d.global_seq = m->meta.global_seq;
	d.data = msg_data(m);
	d.len = msg_len(m);
	d.at = g->now;
	if (d.sender == g->self)
		g->own_delivered++;
	stack_stats(g->stack)->delivered++;
	if (g->cb.deliver != NULL)
		g->cb.deliver(g->cb.arg, &d);
}

static void
group_view(struct to_group *g, const struct to_view *v)
{
	uint64_t	*members;

	if ((members = reallocarray(NULL, v->n, sizeof(*members))) == NULL)
		return;
	memcpy(members, v->members, v->n * sizeof(*members));
	free(g->view.members);
	g->view = *v;
	g->view.members = members;
	g->view.self = g->self;
	if (g->cb.view != NULL)
		g->cb.view(g->cb.arg, &g->view);
}

static void
group_event(void *arg, struct event *e)
{
	struct to_group	*g = arg;

	uint32_t	 i;

	if (e->type == EV_VIEW && e->view != NULL) {
		if (g->cfg.watch) {
			group_view(g, e->view);
			return;
		}
		/* a leaving member closes its last view without being in
		 * the next: that one is not its to report */
		for (i = 0; i < e->view->n; i++)
			if (e->view->members[i] == g->self)
				group_view(g, e->view);
	}
	else if (e->type == EV_EXIT) {
		g->left = 1;
		if (e->error != 0) {
			g->error = e->error;
			strlcpy(g->why, e->why, sizeof(g->why));
		}
	}
}

static int
group_valid_name(const char *name)
{
	size_t		 i, n;

	if (name == NULL || (n = strlen(name)) == 0 || n >= TO_GROUP_MAX ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", name[i]) ==
		    NULL)
			return 0;
	return 1;
}

struct to_group *
to_open(const struct to_config *cfg, const struct to_callbacks *cb)
{
	struct to_group	*g;
	struct stack_app app;
	int		 saved;

	if (!group_valid_name(cfg->group)) {
		errno = EINVAL;
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->cfg = *cfg;
	if (g->cfg.max_msg == 0)
		g->cfg.max_msg = TO_MAX_MSG_DEFAULT;
	if (g->cfg.window == 0)
		g->cfg.window = TO_WINDOW_DEFAULT;
	if (cb != NULL)
		g->cb = *cb;
	while ((g->self = (uint64_t)arc4random() << 32 | arc4random()) == 0)
		;
	app.deliver = group_deliver;
	app.event = group_event;
	app.arg = g;
	if ((g->tr = transport_open(&g->cfg, g->self)) == NULL ||
	    (g->stack = stack_new(&g->cfg, g->tr, g->self, &app,
	    to_now())) == NULL) {
		saved = errno;
		to_close(g);
		errno = saved;
		return NULL;
	}
	return g;
}

void
to_close(struct to_group *g)
{
	if (g == NULL)
		return;
	stack_free(g->stack);
	if (g->tr != NULL)
		transport_close(g->tr);
	free(g->view.members);
	msg_free(g->dgram);
	free(g);
}

int
to_pollfds(struct to_group *g, struct pollfd *pfd, int max)
{
	return transport_pollfds(g->tr, pfd, max, g->paused ? 0 : POLLIN);
}

uint64_t
to_next_wake(struct to_group *g)
{
	return stack_next_wake(g->stack);
}

/* The n bytes just received, as a message: a long datagram is not
 * copied but kept in the buffer it came into, shrunk to fit. */
static struct to_msg *
group_take_dgram(struct to_group *g, size_t n)
{
	struct to_msg	*m;

	if (n < GROUP_KEEP_MIN) {
		if ((m = msg_new(0, n)) != NULL)
			memcpy(msg_data(m), msg_data(g->dgram), n);
		return m;
	}
	m = g->dgram;
	g->dgram = NULL;
	msg_trim(m, n);
	msg_fit(m);
	return m;
}

/* Where the payload of the next datagram goes, if the stack knows. */
static int
group_landing(struct to_group *g, struct landing *ld)
{
	struct event	 e = { .type = EV_LANDING, .landing = ld };

	memset(ld, 0, sizeof(*ld));
	ld->at = LANDING_HDR_MAX;
	stack_ctl(g->stack, &e);
	return ld->layers == LANDING_ALL && ld->room > 0;
}

/* hdr is the header ld expects, but for the bits of its mask. */
static int
group_landing_match(const struct landing *ld, const unsigned char *hdr)
{
	size_t	 i;

	for (i = ld->at; i < LANDING_HDR_MAX; i++)
		if ((hdr[i - ld->at] ^ ld->hdr[i]) & ~ld->mask[i])
			return 0;
	return 1;
}

/*
 * Read the next datagram as ld says: its header into a buffer of its
 * own, its payload straight into ld->msg at ld->off, anything beyond into
 * g->dgram.  With the header ld expects, it comes up as a message of two
 * parts, header and the payload where it lies (frag.c finds it in
 * place); with any other, as a copy of it all.  *n: its length, or -1.
 */
static struct to_msg *
group_read_landing(struct to_group *g, const struct landing *ld,
    ssize_t *n)
{
	unsigned char	 hdr[LANDING_HDR_MAX];
	size_t		 hl = LANDING_HDR_MAX - ld->at;
	struct iovec	 iov[3] = {
		{ hdr, hl },
		{ msg_data(ld->msg) + ld->off, ld->room },
		{ msg_data(g->dgram), GROUP_DGRAM_MAX },
	};
	struct to_msg	*m;

	if ((*n = g->tr->ops->recv(g->tr, iov, 3)) == -1)
		return NULL;
	if ((size_t)*n > hl && (size_t)*n - hl <= ld->room &&
	    group_landing_match(ld, hdr)) {
		if ((m = msg_slice(ld->msg, ld->off, (size_t)*n - hl)) == NULL)
			return NULL;
		memcpy(msg_push(m, hl), hdr, hl);	/* fits its headroom */
		stack_stats(g->stack)->dgrams_landed++;
		return m;
	}
	if ((m = msg_new(0, (size_t)*n)) != NULL)
		iov_copy(iov, 3, msg_data(m), (size_t)*n);
	return m;
}

/* The next datagram as a message: NULL with *n -1 if there is none. */
static struct to_msg *
group_read(struct to_group *g, ssize_t *n)
{
	struct landing	 ld;
	struct to_msg	*m;

	if (g->landing && group_landing(g, &ld))
		m = group_read_landing(g, &ld, n);
	else if ((*n = transport_recv(g->tr, msg_data(g->dgram),
	    GROUP_DGRAM_MAX)) == -1)
		return NULL;
	else
		m = group_take_dgram(g, (size_t)*n);
	if (*n != -1)
		g->landing = *n >= GROUP_KEEP_MIN;
	return m;
}

int
to_process(struct to_group *g)
{
	struct to_msg	*m;
	ssize_t		 n;
	int		 i;

	group_tick(g);
	for (i = 0; i < GROUP_RECV_BATCH && !g->paused; i++) {
		if (g->dgram == NULL &&
		    (g->dgram = msg_new(0, GROUP_DGRAM_MAX)) == NULL)
			return -1;
		if ((m = group_read(g, &n)) == NULL) {
			if (n != -1)
				return -1;	/* no memory */
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				break;
			return -1;
		}
		stack_input(g->stack, m);
	}
	group_tick(g);
	stack_run_timers(g->stack);
	if (g->error != 0) {
		errno = g->error;
		return -1;
	}
	return 0;
}

const char *
to_error(struct to_group *g)
{
	return g->error != 0 && g->why[0] != '\0' ? g->why : NULL;
}

int
to_pause(struct to_group *g, int paused)
{
	struct event	 e = { .type = EV_PAUSE, .paused = paused != 0 };
	int		 was = g->paused;

	if (e.paused == was)
		return was;
	g->paused = e.paused;
	group_tick(g);
	stack_ctl(g->stack, &e);
	return was;
}

static size_t
group_backlog(struct to_group *g)
{
	struct event	 e = { .type = EV_BACKLOG };

	stack_ctl(g->stack, &e);
	return e.backlog;
}

/*
 * A cast of at most one datagram adds at most one to the backlog, and
 * only to_process() adds more, so between them the backlog read at the
 * first cast plus the casts since bounds it: the stack is asked once
 * every GROUP_CAST_BATCH casts, not at each, and after every longer cast.
 */
int
to_can_cast(struct to_group *g)
{
	if (g->view.n == 0 || g->left ||
	    g->own_cast - g->own_delivered >= g->cfg.window)
		return 0;
	if (g->since >= GROUP_CAST_BATCH) {
		g->backlog = group_backlog(g);
		g->since = 0;
	}
	return g->backlog + g->since < g->cfg.window;
}

int
to_cast(struct to_group *g, const void *data, size_t len)
{
	if (len > g->cfg.max_msg) {
		errno = EMSGSIZE;
		return -1;
	}
	if (!to_can_cast(g)) {
		errno = EAGAIN;
		return -1;
	}
	/* the clock as of at most GROUP_CAST_BATCH casts ago */
	if (g->since == 0) {
		g->now = to_now();
		stack_set_now(g->stack, g->now);
	}
	if (stack_cast_data(g->stack, data, len) == -1)
		return -1;
	/* fragments add one each: ask the stack again at the next cast */
	g->since = len + MSG_HEADROOM > g->tr->mtu ? GROUP_CAST_BATCH :
	    g->since + 1;
	g->own_cast++;
	stack_stats(g->stack)->casts++;
	return 0;
}

int
to_all_stable(struct to_group *g)
{
	struct event	 e = { .type = EV_STABLE };

	if (g->own_cast != g->own_delivered)
		return 0;
	stack_ctl(g->stack, &e);
	return e.stable;
}

int
to_leave(struct to_group *g)
{
	struct event	 e = { .type = EV_LEAVE };

	group_tick(g);
	stack_ctl(g->stack, &e);
	return 0;
}

int
to_left(struct to_group *g)
{
	return g->left;
}

const struct to_view *
to_current_view(struct to_group *g)
{
	return &g->view;
}

const struct to_stats *
to_stats(struct to_group *g)
{
	return stack_stats(g->stack);
}

uint64_t
to_self(struct to_group *g)
{
	return g->self;
}
