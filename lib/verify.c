/*
 * verify.c: checks delivery logs against the guarantees; see verify.h.
 * This part collects the logs, keeps the map and names what is wrong;
 * verify_each.c checks each log alone, verify_all.c the logs together.
 *
 * Each log is checked alone in one pass (vf_each), then the logs
 * together: global seqs by view (vf_gseq), content (vf_content),
 * total order by pairs (vf_pair), virtual synchrony by pairs of
 * consecutive views (vf_vsync), and whether they share views at all
 * (vf_linked).  Hash maps keyed by a pair of u64 keep every check
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

#include "verify_int.h"

/* --- the map --------------------------------------------------------- */

uint64_t
vf_mix(uint64_t a, uint64_t b)
{
	uint64_t	 z = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int
vf_map_init(struct vmap *m, size_t want)
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

void
vf_map_free(struct vmap *m)
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
	size_t	 i = vf_mix(a, b) & (m->cap - 1);

	while (m->used[i] && (m->k1[i] != a || m->k2[i] != b))
		i = (i + 1) & (m->cap - 1);
	return i;
}

uint64_t *
vf_map_get(const struct vmap *m, uint64_t a, uint64_t b)
{
	size_t	 i = vmap_slot(m, a, b);

	return m->used[i] ? &m->v[i] : NULL;
}

/*
 * The value of (a, b), inserted as v if absent (the map is sized for
 * every key up front); *fresh says which.
 */
uint64_t *
vf_map_put(struct vmap *m, uint64_t a, uint64_t b, uint64_t v, int *fresh)
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
	uint64_t	 k = vf_mix(e->view_id, (uint64_t)e->nmembers << 32 |
	    e->flags);
	uint32_t	 i;

	for (i = 0; i < e->nmembers; i++)
		k = vf_mix(k, e->members[i]);
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
		k = vf_mix(k, l->e[l->trans].key) | 1;
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

void
vf_report(struct vrun *r, const char *fmt, ...)
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
const char *
vf_vname(const struct vent *v, char *buf, size_t len)
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
const char *
vf_ename(const struct vlog *l, size_t i, char *buf, size_t len)
{
	const struct vent *e = &l->e[i];
	char		 v[64], t[64];

	if (e->type == VERIFY_VIEW) {
		snprintf(buf, len, "%s: record %zu: %s", l->name, i + 1,
		    vf_vname(e, v, sizeof(v)));
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
const char *
vf_eshort(const struct vlog *l, size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "record %zu (sender %016llx seq %llu)", i + 1,
	    (ull)l->e[i].sender, (ull)l->e[i].sseq);
	return buf;
}

/* "seq 6" or "seqs 6 to 9", missing between a and b (a + 1 < b). */
const char *
vf_missing(uint64_t a, uint64_t b, char *buf, size_t len)
{
	if (a + 2 == b)
		snprintf(buf, len, "%llu", (ull)(a + 1));
	else
		snprintf(buf, len, "%llu to %llu", (ull)(a + 1), (ull)(b - 1));
	return buf;
}

int
vf_is_member(const struct vlog *l, const struct vent *v, uint64_t id)
{
	const uint64_t	*m = l->pool + v->members;
	uint32_t	 i;

	for (i = 0; i < v->nmembers; i++)
		if (m[i] == id)
			return 1;
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
		if (vf_each(&r, &c->logs[i]) == -1)
			goto nomem;
	if (vf_linked(c, &r) == -1)
		goto nomem;
	for (i = 0; i < c->n; i++)
		for (j = i + 1; j < c->n; j++)
			if (vf_gseq(c, &c->logs[i], &c->logs[j],
			    &r) == -1)
				goto nomem;
	if (vf_content(c, &r) == -1)
		goto nomem;
	for (i = 0; i < c->n; i++)
		for (j = i + 1; j < c->n; j++)
			if (vf_pair(&c->logs[i], &c->logs[j], &r) == -1)
				goto nomem;
	if (vf_vsync(c, &r) == -1)
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
