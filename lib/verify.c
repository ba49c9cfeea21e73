/*
 * verify.c: checks delivery logs against the guarantees; see verify.h.
 *
 * Each log is checked alone in one pass (verify_each), then the logs
 * together: global seqs by view (verify_gseq), content (verify_content),
 * total order by pairs (verify_pair), virtual synchrony by pairs of
 * consecutive views (verify_vsync), and whether they share views at all
 * (verify_linked).  Hash maps keyed by a pair of u64 keep every check
 * linear in the length of the logs (pairs of logs for the order check).
 *
 * A message's "epoch" is the view it is delivered in: a regular view, or
 * the tail of one after a transitional view.  In one epoch every log
 * numbers the same messages the same way.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "verify.h"

#define NONE		SIZE_MAX
#define ENC(log, i)	((uint64_t)(log) << 40 | (uint64_t)(i))
#define ENC_LOG(v)	((int)((v) >> 40))
#define ENC_I(v)	((size_t)((v) & ((1ULL << 40) - 1)))

typedef unsigned long long ull;

struct vent {
	int		 type;
	uint32_t	 flags;		/* VIEW */
	uint32_t	 crc;		/* DATA */
	uint32_t	 nmembers;	/* VIEW */
	size_t		 members;	/* VIEW: its first member in the pool */
	uint64_t	 view_id, sender, sseq, gseq;
	uint64_t	 key;		/* VIEW: names it; DATA: of its epoch */
	size_t		 view;		/* DATA: its regular view's entry */
	size_t		 trans;		/* DATA: the transitional view before */
	uint64_t	 next;		/* DATA: the key of the next view, 0 */
};

struct vlog {
	char		*name;
	struct vent	*e;
	size_t		 n, cap;
	uint64_t	*pool;		/* the members of every view */
	size_t		 npool, cappool;
	size_t		 view, trans;	/* the last regular, transitional */
	int		 up;		/* verify_linked: union-find parent */
};

struct verify {
	struct vlog	*logs;
	int		 n;
	int		 strict;
};

/* An open-addressing map from a pair of u64 to a u64. */
struct vmap {
	uint64_t	*k1, *k2, *v;
	unsigned char	*used;
	size_t		 cap;
};

/* Where violations go. */
struct vrun {
	void		(*fn)(void *, const char *);
	void		*arg;
	long		 n;
};

static uint64_t
mix(uint64_t a, uint64_t b)
{
	uint64_t	 z = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
vmap_init(struct vmap *m, size_t want)
{
	m->cap = 16;
	while (m->cap < want * 2)
		m->cap *= 2;
	m->k1 = calloc(m->cap, sizeof(uint64_t));
	m->k2 = calloc(m->cap, sizeof(uint64_t));
	m->v = calloc(m->cap, sizeof(uint64_t));
	m->used = calloc(m->cap, 1);
	return m->k1 && m->k2 && m->v && m->used ? 0 : -1;
}

static void
vmap_free(struct vmap *m)
{
	free(m->k1);
	free(m->k2);
	free(m->v);
	free(m->used);
	memset(m, 0, sizeof(*m));
}

/* The slot of (a, b): found, or the empty one where it goes. */
static size_t
vmap_slot(const struct vmap *m, uint64_t a, uint64_t b)
{
	size_t	 i = mix(a, b) & (m->cap - 1);

	while (m->used[i] && (m->k1[i] != a || m->k2[i] != b))
		i = (i + 1) & (m->cap - 1);
	return i;
}

static uint64_t *
vmap_get(const struct vmap *m, uint64_t a, uint64_t b)
{
	size_t	 i = vmap_slot(m, a, b);

	return m->used[i] ? &m->v[i] : NULL;
}

/*
 * The value of (a, b), inserted as v if absent (the map is sized for
 * every key up front); *fresh says which.
 */
static uint64_t *
vmap_put(struct vmap *m, uint64_t a, uint64_t b, uint64_t v, int *fresh)
{
	size_t	 i = vmap_slot(m, a, b);

	*fresh = !m->used[i];
	if (*fresh) {
		m->used[i] = 1;
		m->k1[i] = a;
		m->k2[i] = b;
		m->v[i] = v;
	}
	return &m->v[i];
}

struct verify *
verify_new(void)
{
	return calloc(1, sizeof(struct verify));
}

void
verify_free(struct verify *c)
{
	int	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->logs[i].name);
		free(c->logs[i].e);
		free(c->logs[i].pool);
	}
	free(c->logs);
	free(c);
}

int
verify_log(struct verify *c, const char *name)
{
	struct vlog	*l;

	if ((l = reallocarray(c->logs, c->n + 1, sizeof(*l))) == NULL)
		return -1;
	c->logs = l;
	l = &c->logs[c->n];
	memset(l, 0, sizeof(*l));
	l->view = l->trans = NONE;
	if ((l->name = strdup(name)) == NULL)
		return -1;
	return c->n++;
}

static uint64_t
view_key(const struct verify_entry *e)
{
	uint64_t	 k = mix(e->view_id, (uint64_t)e->nmembers << 32 |
	    e->flags);
	uint32_t	 i;

	for (i = 0; i < e->nmembers; i++)
		k = mix(k, e->members[i]);
	return k | 1;
}

static int
pool_add(struct vlog *l, const uint64_t *m, uint32_t n)
{
	uint64_t	*p;
	size_t		 cap;

	if (l->cappool - l->npool < n) {
		cap = l->cappool ? l->cappool : 256;
		while (cap - l->npool < n)
			cap *= 2;
		if ((p = reallocarray(l->pool, cap, sizeof(*p))) == NULL)
			return -1;
		l->pool = p;
		l->cappool = cap;
	}
	if (n > 0)
		memcpy(l->pool + l->npool, m, (size_t)n * sizeof(*m));
	l->npool += n;
	return 0;
}

/* The key of the epoch a message delivered now in l falls in. */
static uint64_t
epoch_key(const struct vlog *l)
{
	uint64_t	 k = 0;

	if (l->view != NONE)
		k = l->e[l->view].key;
	if (l->trans != NONE)
		k = mix(k, l->e[l->trans].key) | 1;
	return k;
}

int
verify_add(struct verify *c, int log, const struct verify_entry *e)
{
	struct vlog	*l = &c->logs[log];
	struct vent	*v;
	size_t		 cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 1024;
		if ((v = reallocarray(l->e, cap, sizeof(*v))) == NULL)
			return -1;
		l->e = v;
		l->cap = cap;
	}
	v = &l->e[l->n];
	memset(v, 0, sizeof(*v));
	v->type = e->type;
	v->view_id = e->view_id;
	if (e->type == VERIFY_VIEW) {
		v->flags = e->flags;
		v->nmembers = e->nmembers;
		v->members = l->npool;
		if (pool_add(l, e->members, e->nmembers) == -1)
			return -1;
		v->key = view_key(e);
		if (e->flags & VERIFY_TRANSITIONAL)
			l->trans = l->n;
		else {
			l->view = l->n;
			l->trans = NONE;
		}
		l->n++;
		return 0;
	}
	v->sender = e->sender;
	v->sseq = e->sender_seq;
	v->gseq = e->global_seq;
	v->crc = e->crc;
	v->view = l->view;
	v->trans = l->trans;
	v->key = epoch_key(l);
	l->n++;
	return 0;
}

void
verify_strict(struct verify *c, int on)
{
	c->strict = on;
}

/* Note for each message the view that followed its own. */
static void
mark_next(struct vlog *l)
{
	uint64_t	 next = 0;
	size_t		 i;

	for (i = l->n; i-- > 0;) {
		if (l->e[i].type == VERIFY_VIEW)
			next = l->e[i].key;
		else
			l->e[i].next = next;
	}
}

void
verify_counts(const struct verify *c, uint64_t *msgs, uint64_t *views)
{
	size_t	 j;
	int	 i;

	*msgs = *views = 0;
	for (i = 0; i < c->n; i++)
		for (j = 0; j < c->logs[i].n; j++) {
			if (c->logs[i].e[j].type == VERIFY_VIEW)
				(*views)++;
			else
				(*msgs)++;
		}
}

/* --- naming what is wrong -------------------------------------------- */

static void report(struct vrun *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
report(struct vrun *r, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	r->n++;
	if (r->fn != NULL)
		r->fn(r->arg, line);
}

/* "view 7" or "transitional view 7": a VIEW entry. */
static const char *
vname(const struct vent *v, char *buf, size_t len)
{
	snprintf(buf, len, "%sview %llu",
	    v->flags & VERIFY_TRANSITIONAL ? "transitional " : "",
	    (ull)v->view_id);
	return buf;
}

/*
 * "log: record 9: view 3: sender 8f3a21c0d1e2f3a4 seq 4 gseq 9" for a
 * DATA entry, "log: record 2: view 3" for a VIEW entry.
 */
static const char *
ename(const struct vlog *l, size_t i, char *buf, size_t len)
{
	const struct vent *e = &l->e[i];
	char		 v[64], t[64];

	if (e->type == VERIFY_VIEW) {
		snprintf(buf, len, "%s: record %zu: %s", l->name, i + 1,
		    vname(e, v, sizeof(v)));
		return buf;
	}
	if (e->view == NONE)
		snprintf(v, sizeof(v), "no view");
	else
		snprintf(v, sizeof(v), "view %llu",
		    (ull)l->e[e->view].view_id);
	t[0] = '\0';
	if (e->trans != NONE)
		snprintf(t, sizeof(t), " (transitional %llu)",
		    (ull)l->e[e->trans].view_id);
	snprintf(buf, len, "%s: record %zu: %s%s: sender %016llx seq %llu "
	    "gseq %llu", l->name, i + 1, v, t, (ull)e->sender, (ull)e->sseq,
	    (ull)e->gseq);
	return buf;
}

/* "record 9 (sender 8f3a21c0d1e2f3a4 seq 4)" for a DATA entry. */
static const char *
eshort(const struct vlog *l, size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "record %zu (sender %016llx seq %llu)", i + 1,
	    (ull)l->e[i].sender, (ull)l->e[i].sseq);
	return buf;
}

/* "seq 6" or "seqs 6 to 9", missing between a and b (a + 1 < b). */
static const char *
missing(uint64_t a, uint64_t b, char *buf, size_t len)
{
	if (a + 2 == b)
		snprintf(buf, len, "%llu", (ull)(a + 1));
	else
		snprintf(buf, len, "%llu to %llu", (ull)(a + 1), (ull)(b - 1));
	return buf;
}

static int
is_member(const struct vlog *l, const struct vent *v, uint64_t id)
{
	const uint64_t	*m = l->pool + v->members;
	uint32_t	 i;

	for (i = 0; i < v->nmembers; i++)
		if (m[i] == id)
			return 1;
	return 0;
}

/* --- each log alone -------------------------------------------------- */

#define GAP_LOOK	16	/* gaps up to this are looked at one by one */

/*
 * Between a and b (a + 1 < b), what did not come before: "seq 6",
 * "6 to 9", or NULL if all of a short gap came (out of order, said so
 * where it did).  seen holds (k, n) of what came.
 */
static const char *
gap(const struct vmap *seen, uint64_t k, uint64_t a, uint64_t b,
    char *buf, size_t len)
{
	uint64_t	 n, lo = 0, hi = 0;
	int		 any = 0;

	if (b - a > GAP_LOOK)
		return missing(a, b, buf, len);
	for (n = a + 1; n < b; n++)
		if (vmap_get(seen, k, n) == NULL) {
			if (!any)
				lo = n;
			hi = n;
			any = 1;
		}
	return any ? missing(lo - 1, hi + 1, buf, len) : NULL;
}

struct vsender {
	uint64_t	 id, last;	/* the highest seq so far */
	size_t		 at;		/* its entry */
	int		 excused;	/* a view since then left it out */
};

struct veach {
	struct vrun	*r;
	struct vlog	*l;
	struct vmap	 dup, who;	/* (sender, seq) -> entry; sender -> s */
	struct vmap	 gseen;		/* (epoch, gseq) of what came so far */
	struct vsender	*s;
	size_t		 ns;
	uint64_t	 gseq;		/* the last of the view so far */
	size_t		 gat;		/* its entry, NONE: none in this view */
	size_t		 pv, rv;	/* the last view, regular view */
	uint64_t	*owner;		/* members of every view so far */
	size_t		 nowner;
	int		 lost;		/* nowner became 0 */
	int		 carried, stray; /* said so in this view */
};

static void
each_view_order(struct veach *x, size_t i)
{
	const struct vlog *l = x->l;
	const struct vent *e = &l->e[i], *p;
	char		 b[256], v[64];
	uint32_t	 k;
	int		 trans = e->flags & VERIFY_TRANSITIONAL;

	if (x->pv == NONE)
		return;
	p = &l->e[x->pv];
	if (e->view_id < p->view_id || (e->view_id == p->view_id &&
	    !(p->flags & VERIFY_TRANSITIONAL)))
		report(x->r, "%s: view id not above that of %s (record %zu)",
		    ename(l, i, b, sizeof(b)), vname(p, v, sizeof(v)),
		    x->pv + 1);
	if (trans && x->rv != NONE) {
		p = &l->e[x->rv];
		for (k = 0; k < e->nmembers; k++)
			if (!is_member(l, p, l->pool[e->members + k]))
				break;
		if (k < e->nmembers)
			report(x->r, "%s: member %016llx was not in %s "
			    "(record %zu), which it closes",
			    ename(l, i, b, sizeof(b)),
			    (ull)l->pool[e->members + k],
			    vname(p, v, sizeof(v)), x->rv + 1);
	} else if (!trans && (p->flags & VERIFY_TRANSITIONAL)) {
		for (k = 0; k < p->nmembers; k++)
			if (!is_member(l, e, l->pool[p->members + k]))
				break;
		if (e->view_id != p->view_id)
			report(x->r, "%s: not the view that %s (record %zu) "
			    "leads to", ename(l, i, b, sizeof(b)),
			    vname(p, v, sizeof(v)), x->pv + 1);
		else if (k < p->nmembers)
			report(x->r, "%s: member %016llx of %s (record %zu) "
			    "is missing", ename(l, i, b, sizeof(b)),
			    (ull)l->pool[p->members + k],
			    vname(p, v, sizeof(v)), x->pv + 1);
	}
}

/* One member is in every view of a log: the member that wrote it. */
static int
each_view_owner(struct veach *x, size_t i)
{
	const struct vent *e = &x->l->e[i];
	const uint64_t	*m = x->l->pool + e->members;
	size_t		 j, k;
	char		 b[256];

	if (x->lost)
		return 0;
	if (x->owner == NULL) {
		if ((x->owner = reallocarray(NULL, e->nmembers + 1,
		    sizeof(*m))) == NULL)
			return -1;
		if (e->nmembers > 0)
			memcpy(x->owner, m, e->nmembers * sizeof(*m));
		x->nowner = e->nmembers;
	} else {
		for (j = k = 0; j < x->nowner; j++)
			if (is_member(x->l, e, x->owner[j]))
				x->owner[k++] = x->owner[j];
		x->nowner = k;
	}
	if (x->nowner == 0) {
		x->lost = 1;
		report(x->r, "%s: no member is in this view and every view "
		    "before it: not the log of one member",
		    ename(x->l, i, b, sizeof(b)));
	}
	return 0;
}

static int
each_view(struct veach *x, size_t i)
{
	const struct vent *e = &x->l->e[i];
	size_t		 j;

	each_view_order(x, i);
	if (each_view_owner(x, i) == -1)
		return -1;
	for (j = 0; j < x->ns; j++)
		if (!is_member(x->l, e, x->s[j].id))
			x->s[j].excused = 1;
	if (!(e->flags & VERIFY_TRANSITIONAL)) {
		x->rv = i;
		x->gat = NONE;
	}
	x->pv = i;
	x->carried = x->stray = 0;
	return 0;
}

/* The state of a sender, new if need be. */
static struct vsender *
each_sender(struct veach *x, uint64_t id)
{
	struct vsender	*s;
	uint64_t	*p;
	int		 fresh;

	p = vmap_put(&x->who, id, 0, x->ns, &fresh);
	if (!fresh)
		return &x->s[*p];
	if ((s = reallocarray(x->s, x->ns + 1, sizeof(*s))) == NULL)
		return NULL;
	x->s = s;
	s = &x->s[x->ns++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->at = NONE;
	return s;
}

/* Sender order: no duplicate, no going back, no gap. */
static int
each_data_sender(struct veach *x, size_t i)
{
	const struct vent *e = &x->l->e[i];
	struct vsender	*s;
	uint64_t	*p;
	char		 b[256], m[64];
	int		 fresh;

	p = vmap_put(&x->dup, e->sender, e->sseq, i, &fresh);
	if (!fresh) {
		report(x->r, "%s: duplicate of record %zu",
		    ename(x->l, i, b, sizeof(b)), ENC_I(*p) + 1);
		return 0;
	}
	if ((s = each_sender(x, e->sender)) == NULL)
		return -1;
	if (s->at != NONE && e->sseq < s->last)
		report(x->r, "%s: sender order: after seq %llu (record %zu)",
		    ename(x->l, i, b, sizeof(b)), (ull)s->last, s->at + 1);
	else if (s->at != NONE && e->sseq > s->last + 1 && !s->excused &&
	    gap(&x->dup, e->sender, s->last, e->sseq, m, sizeof(m)) != NULL)
		report(x->r, "%s: sender seq %s missing: the sender and "
		    "this member stayed in the view since seq %llu "
		    "(record %zu)", ename(x->l, i, b, sizeof(b)), m,
		    (ull)s->last, s->at + 1);
	s->last = e->sseq;
	s->at = i;
	s->excused = 0;
	return 0;
}

/* Global seqs one by one within a view. */
static void
each_data_gseq(struct veach *x, size_t i)
{
	const struct vent *e = &x->l->e[i];
	uint64_t	 k = x->rv != NONE ? x->l->e[x->rv].key : 0;
	char		 b[256], m[64];
	int		 fresh;

	if (e->gseq == 0)
		return;		/* a flush's unnumbered delivery */
	if (x->gat != NONE && e->gseq <= x->gseq)
		report(x->r, "%s: total order: after gseq %llu (record %zu)",
		    ename(x->l, i, b, sizeof(b)), (ull)x->gseq, x->gat + 1);
	else if (x->gat != NONE && e->gseq > x->gseq + 1 &&
	    gap(&x->gseen, k, x->gseq, e->gseq, m, sizeof(m)) != NULL)
		report(x->r, "%s: gseq %s missing", ename(x->l, i, b,
		    sizeof(b)), m);
	x->gseq = e->gseq;
	x->gat = i;
	vmap_put(&x->gseen, k, e->gseq, i, &fresh);
}

static int
each_data(struct veach *x, size_t i)
{
	const struct vent *e = &x->l->e[i], *v;
	char		 b[256];

	if (e->view == NONE) {
		report(x->r, "%s: delivered before any view",
		    ename(x->l, i, b, sizeof(b)));
	} else {
		v = &x->l->e[e->view];
		if (e->view_id != v->view_id && !x->carried++)
			report(x->r, "%s: the message carries view id %llu",
			    ename(x->l, i, b, sizeof(b)), (ull)e->view_id);
		if (!is_member(x->l, v, e->sender) && !x->stray++)
			report(x->r, "%s: the sender is not a member of "
			    "view %llu (record %zu)", ename(x->l, i, b,
			    sizeof(b)), (ull)v->view_id, e->view + 1);
	}
	each_data_gseq(x, i);
	return each_data_sender(x, i);
}

static int
verify_each(struct vrun *r, struct vlog *l)
{
	struct veach	 x;
	size_t		 i;
	int		 rv = 0;

	memset(&x, 0, sizeof(x));
	x.r = r;
	x.l = l;
	x.pv = x.rv = x.gat = NONE;
	if (vmap_init(&x.dup, l->n + 1) == -1 ||
	    vmap_init(&x.who, l->n + 1) == -1 ||
	    vmap_init(&x.gseen, l->n + 1) == -1)
		rv = -1;
	for (i = 0; i < l->n && rv == 0; i++)
		if (l->e[i].type == VERIFY_VIEW)
			rv = each_view(&x, i);
		else
			rv = each_data(&x, i);
	vmap_free(&x.dup);
	vmap_free(&x.who);
	vmap_free(&x.gseen);
	free(x.s);
	free(x.owner);
	return rv;
}

/* --- the logs together ----------------------------------------------- */

static size_t
total_entries(const struct verify *c)
{
	size_t	 n = 0;
	int	 k;

	for (k = 0; k < c->n; k++)
		n += c->logs[k].n;
	return n;
}

/*
 * Unless strict, messages of two logs that left their view for different
 * views are not compared by global seq: the engine numbers the messages
 * it flushes at a view change after its own, and until it reports them
 * after a transitional view, the sides of a partition number them alike.
 */
static int
parted(const struct verify *c, const struct vent *e, const struct vent *f)
{
	return !c->strict && e->next != 0 && f->next != 0 &&
	    e->next != f->next;
}

/* The first message of each epoch in l: whether i is one. */
static int
epoch_first(const struct vlog *l, size_t i)
{
	size_t	 j;

	for (j = i; j-- > 0;)
		if (l->e[j].type == VERIFY_DATA)
			return l->e[j].key != l->e[i].key;
	return 1;
}

/*
 * In one epoch a global seq names one message in a and b, and both start
 * the epoch at the same one.  The first violation of each for the pair.
 */
static int
verify_gseq(const struct verify *c, const struct vlog *a,
    const struct vlog *b, struct vrun *r)
{
	struct vmap	 at, first;
	const struct vent *e, *f;
	uint64_t	*p;
	size_t		 i;
	char		 n1[256], n2[256], m[64];
	int		 fresh, named = 0, gap = 0;

	if (vmap_init(&at, a->n + 1) == -1 ||
	    vmap_init(&first, a->n + 1) == -1) {
		vmap_free(&at);
		return -1;
	}
	for (i = 0; i < a->n; i++) {
		e = &a->e[i];
		if (e->type != VERIFY_DATA || e->view == NONE || e->gseq == 0)
			continue;
		vmap_put(&at, e->key, e->gseq, i, &fresh);
		if (epoch_first(a, i))
			vmap_put(&first, e->key, 0, i, &fresh);
	}
	for (i = 0; i < b->n; i++) {
		f = &b->e[i];
		if (f->type != VERIFY_DATA || f->view == NONE || f->gseq == 0)
			continue;
		p = vmap_get(&at, f->key, f->gseq);
		e = p != NULL ? &a->e[*p] : NULL;
		if (!named && e != NULL && !parted(c, e, f) &&
		    (e->sender != f->sender || e->sseq != f->sseq)) {
			report(r, "%s: global order: %s: %s has this gseq "
			    "in this view", ename(b, i, n1, sizeof(n1)),
			    a->name, eshort(a, *p, n2, sizeof(n2)));
			named = 1;
		}
		if (gap || !epoch_first(b, i) ||
		    (p = vmap_get(&first, f->key, 0)) == NULL)
			continue;
		e = &a->e[*p];
		if (e->gseq == f->gseq || parted(c, e, f))
			continue;
		gap = 1;
		if (e->gseq < f->gseq)
			report(r, "%s: gseq %s missing: the first here in "
			    "this view, and %s delivers gseq %llu in it",
			    ename(b, i, n1, sizeof(n1)), missing(e->gseq - 1,
			    f->gseq, m, sizeof(m)), ename(a, *p, n2,
			    sizeof(n2)), (ull)e->gseq);
		else
			report(r, "%s: gseq %s missing: the first here in "
			    "this view, and %s delivers gseq %llu in it",
			    ename(a, *p, n1, sizeof(n1)), missing(f->gseq - 1,
			    e->gseq, m, sizeof(m)), ename(b, i, n2,
			    sizeof(n2)), (ull)f->gseq);
	}
	vmap_free(&at);
	vmap_free(&first);
	return 0;
}

/* A message has one content everywhere: one line a log at most. */
static int
verify_content(const struct verify *c, struct vrun *r)
{
	struct vmap	 msgs;
	const struct vlog *l, *o;
	const struct vent *e;
	uint64_t	*p;
	size_t		 i;
	char		 b[256];
	int		 k, fresh;

	if (vmap_init(&msgs, total_entries(c) + 1) == -1)
		return -1;
	for (k = 0; k < c->n; k++) {
		l = &c->logs[k];
		for (i = 0; i < l->n; i++) {
			e = &l->e[i];
			if (e->type != VERIFY_DATA)
				continue;
			p = vmap_put(&msgs, e->sender, e->sseq, ENC(k, i),
			    &fresh);
			o = &c->logs[ENC_LOG(*p)];
			if (fresh || o->e[ENC_I(*p)].crc == e->crc)
				continue;
			report(r, "%s: content differs from %s: record %zu",
			    ename(l, i, b, sizeof(b)), o->name, ENC_I(*p) + 1);
			break;
		}
	}
	vmap_free(&msgs);
	return 0;
}

/* Messages a and b share come in the same order: the first inversion. */
static int
verify_pair(const struct vlog *a, const struct vlog *b, struct vrun *r)
{
	struct vmap	 pos;
	const struct vent *f;
	uint64_t	*p, prev = 0;
	size_t		 i, prevb = NONE;
	char		 n1[256], n2[256];
	int		 fresh;

	if (vmap_init(&pos, a->n + 1) == -1)
		return -1;
	for (i = 0; i < a->n; i++)
		if (a->e[i].type == VERIFY_DATA)
			vmap_put(&pos, a->e[i].sender, a->e[i].sseq, i, &fresh);
	for (i = 0; i < b->n; i++) {
		f = &b->e[i];
		if (f->type != VERIFY_DATA ||
		    (p = vmap_get(&pos, f->sender, f->sseq)) == NULL)
			continue;
		if (prevb != NONE && *p < prev) {
			report(r, "%s: total order: after %s, but %s has "
			    "them the other way round (records %zu and %zu)",
			    ename(b, i, n1, sizeof(n1)),
			    eshort(b, prevb, n2, sizeof(n2)), a->name,
			    (size_t)*p + 1, (size_t)prev + 1);
			break;
		}
		prev = *p;
		prevb = i;
	}
	vmap_free(&pos);
	return 0;
}

/* The first message of l's entries [from, to) that o's [ofrom, oto) lacks. */
static size_t
segment_extra(const struct vlog *l, size_t from, size_t to,
    const struct vlog *o, size_t ofrom, size_t oto, int *err)
{
	struct vmap	 has;
	size_t		 i, found = NONE;
	int		 fresh;

	if (vmap_init(&has, oto - ofrom + 1) == -1) {
		*err = 1;
		return NONE;
	}
	for (i = ofrom; i < oto; i++)
		vmap_put(&has, o->e[i].sender, o->e[i].sseq, 0, &fresh);
	for (i = from; i < to && found == NONE; i++)
		if (vmap_get(&has, l->e[i].sender, l->e[i].sseq) == NULL)
			found = i;
	vmap_free(&has);
	return found;
}

/* Name a message that one of the two segments has and the other not. */
static int
vsync_differ(const struct vlog *l, size_t from, size_t to,
    const struct vlog *o, size_t ofrom, size_t oto, struct vrun *r)
{
	char		 b[256], v1[64], v2[64];
	size_t		 x;
	int		 err = 0;

	snprintf(b, sizeof(b), "%s and %s: between %s (records %zu and %zu) "
	    "and %s", o->name, l->name, vname(&o->e[ofrom], v1, sizeof(v1)),
	    ofrom + 1, from + 1, vname(&o->e[oto], v2, sizeof(v2)));
	if ((x = segment_extra(l, from + 1, to, o, ofrom + 1, oto,
	    &err)) != NONE)
		report(r, "%s: virtual synchrony: %s: record %zu (sender "
		    "%016llx seq %llu) is not in %s", b, l->name, x + 1,
		    (ull)l->e[x].sender, (ull)l->e[x].sseq, o->name);
	else if ((x = segment_extra(o, ofrom + 1, oto, l, from + 1, to,
	    &err)) != NONE)
		report(r, "%s: virtual synchrony: %s: record %zu (sender "
		    "%016llx seq %llu) is not in %s", b, o->name, x + 1,
		    (ull)o->e[x].sender, (ull)o->e[x].sseq, l->name);
	else if (!err)
		report(r, "%s: virtual synchrony: %s delivers %zu messages "
		    "between them, %s %zu", b, o->name, oto - ofrom - 1,
		    l->name, to - from - 1);
	return err ? -1 : 0;
}

/*
 * Virtual synchrony: a digest of each log's messages between two
 * consecutive views (their sum, so that order is left to verify_pair),
 * compared across logs with the same two views.
 */
static int
verify_vsync(const struct verify *c, struct vrun *r)
{
	struct vmap	 seen;
	const struct vlog *l, *o;
	uint64_t	 digest, *d, *p;
	size_t		 i, from, total = total_entries(c), ofrom, oto;
	int		 k, rv = 0, fresh;

	/* (from, to) -> the digest; (digest, from) -> where */
	if (vmap_init(&seen, 2 * total + 1) == -1)
		return -1;
	for (k = 0; k < c->n && rv == 0; k++) {
		l = &c->logs[k];
		from = NONE;
		digest = 0;
		for (i = 0; i < l->n && rv == 0; i++) {
			if (l->e[i].type == VERIFY_DATA) {
				digest += mix(l->e[i].sender, l->e[i].sseq);
				continue;
			}
			if (from != NONE) {
				d = vmap_put(&seen, l->e[from].key,
				    l->e[i].key, digest, &fresh);
				p = vmap_put(&seen, ~l->e[from].key,
				    l->e[i].key, ENC(k, from), &fresh);
				o = &c->logs[ENC_LOG(*p)];
				ofrom = ENC_I(*p);
				for (oto = ofrom + 1; oto < o->n &&
				    o->e[oto].type == VERIFY_DATA; oto++)
					;
				if (*d != digest)
					rv = vsync_differ(l, from, i, o, ofrom,
					    oto, r);
			}
			from = i;
			digest = 0;
		}
	}
	vmap_free(&seen);
	return rv;
}

static int
link_root(struct verify *c, int k)
{
	while (c->logs[k].up != k)
		k = c->logs[k].up = c->logs[c->logs[k].up].up;
	return k;
}

/* Logs are linked by the views they share: else, name two apart. */
static int
verify_linked(struct verify *c, struct vrun *r)
{
	struct vmap	 owner;
	const struct vlog *l;
	uint64_t	*p;
	size_t		 i;
	int		 k, j, first = -1, fresh;

	if (vmap_init(&owner, total_entries(c) + 1) == -1)
		return -1;
	for (k = 0; k < c->n; k++)
		c->logs[k].up = k;
	for (k = 0; k < c->n; k++) {
		l = &c->logs[k];
		for (i = 0; i < l->n; i++) {
			if (l->e[i].type != VERIFY_VIEW)
				continue;
			p = vmap_put(&owner, l->e[i].key, 0, k, &fresh);
			j = link_root(c, (int)*p);
			c->logs[link_root(c, k)].up = j;
		}
	}
	for (k = 0; k < c->n; k++) {
		for (i = 0; i < c->logs[k].n; i++)
			if (c->logs[k].e[i].type == VERIFY_VIEW)
				break;
		if (i == c->logs[k].n)
			continue;	/* no view: nothing to link */
		if (first == -1)
			first = k;
		else if (link_root(c, k) == k && link_root(c, first) != k)
			report(r, "%s and %s: no view in common",
			    c->logs[first].name, c->logs[k].name);
	}
	vmap_free(&owner);
	return 0;
}

long
verify_check(struct verify *c, void (*fn)(void *, const char *), void *arg)
{
	struct vrun	 r = { fn, arg, 0 };
	int		 i, j;

	for (i = 0; i < c->n; i++)
		mark_next(&c->logs[i]);
	for (i = 0; i < c->n; i++)
		if (verify_each(&r, &c->logs[i]) == -1)
			goto nomem;
	if (verify_linked(c, &r) == -1)
		goto nomem;
	for (i = 0; i < c->n; i++)
		for (j = i + 1; j < c->n; j++)
			if (verify_gseq(c, &c->logs[i], &c->logs[j],
			    &r) == -1)
				goto nomem;
	if (verify_content(c, &r) == -1)
		goto nomem;
	for (i = 0; i < c->n; i++)
		for (j = i + 1; j < c->n; j++)
			if (verify_pair(&c->logs[i], &c->logs[j], &r) == -1)
				goto nomem;
	if (verify_vsync(c, &r) == -1)
		goto nomem;
	return r.n;
nomem:
	errno = ENOMEM;
	return -1;
}

struct vfirst {
	char		*why;
	size_t		 len;
	int		 have;
};

static void
keep_first(void *arg, const char *line)
{
	struct vfirst	*f = arg;

	if (!f->have)
		snprintf(f->why, f->len, "%s", line);
	f->have = 1;
}

int
verify_run(struct verify *c, char *why, size_t whylen)
{
	struct vfirst	 f = { why, whylen, 0 };
	long		 n;

	if ((n = verify_check(c, keep_first, &f)) == -1) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return n == 0 ? 0 : -1;
}
