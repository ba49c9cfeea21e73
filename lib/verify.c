/*
 * verify.c: checks delivery logs against the guarantees; see verify.h.
 * Hash maps keyed by (sender, sender seq) keep every check linear in the
 * length of the logs (pairs of logs for the order check).  Member ids are
 * never 0, which the maps use for an empty slot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "verify.h"

struct vent {
	int		 type;
	uint64_t	 view_id, sender, sseq, gseq, viewkey;
	uint64_t	 nextkey;	/* the view after viewkey, 0: none yet */
	uint32_t	 crc;
};

struct vlog {
	char		*name;
	struct vent	*e;
	size_t		 n, cap;
	uint64_t	 viewkey;	/* of the last VIEW added */
};

struct verify {
	struct vlog	*logs;
	int		 n;
};

/* An open-addressing map from a pair of u64 to a u64. */
struct vmap {
	uint64_t	*k1, *k2, *v;
	size_t		 cap, n;
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
	m->n = 0;
	m->k1 = calloc(m->cap, sizeof(uint64_t));
	m->k2 = calloc(m->cap, sizeof(uint64_t));
	m->v = calloc(m->cap, sizeof(uint64_t));
	return m->k1 && m->k2 && m->v ? 0 : -1;
}

static void
vmap_free(struct vmap *m)
{
	free(m->k1);
	free(m->k2);
	free(m->v);
}

/* The slot of (a, b): found, or the empty one where it goes.  a != 0. */
static size_t
vmap_slot(const struct vmap *m, uint64_t a, uint64_t b)
{
	size_t	 i = mix(a, b) & (m->cap - 1);

	while (m->k1[i] != 0 && (m->k1[i] != a || m->k2[i] != b))
		i = (i + 1) & (m->cap - 1);
	return i;
}

static uint64_t *
vmap_get(const struct vmap *m, uint64_t a, uint64_t b)
{
	size_t	 i = vmap_slot(m, a, b);

	return m->k1[i] ? &m->v[i] : NULL;
}

/* Insert if absent (the map is sized for every key up front). */
static uint64_t *
vmap_put(struct vmap *m, uint64_t a, uint64_t b, uint64_t v)
{
	size_t	 i = vmap_slot(m, a, b);

	if (m->k1[i] == 0) {
		m->k1[i] = a;
		m->k2[i] = b;
		m->v[i] = v;
		m->n++;
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
	if ((l->name = strdup(name)) == NULL)
		return -1;
	return c->n++;
}

static uint64_t
view_key(const struct verify_entry *e)
{
	uint64_t	 k = mix(e->view_id, e->nmembers);
	uint32_t	 i;

	for (i = 0; i < e->nmembers; i++)
		k = mix(k, e->members[i]);
	return k | 1;
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
	v = &l->e[l->n++];
	memset(v, 0, sizeof(*v));
	v->type = e->type;
	v->view_id = e->view_id;
	if (e->type == VERIFY_VIEW) {
		l->viewkey = view_key(e);
		v->viewkey = l->viewkey;
		return 0;
	}
	v->sender = e->sender;
	v->sseq = e->sender_seq;
	v->gseq = e->global_seq;
	v->crc = e->crc;
	v->viewkey = l->viewkey;
	return 0;
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

#define FAIL(...) do {							\
	snprintf(why, whylen, __VA_ARGS__);				\
	return -1;							\
} while (0)

/* Within each log: views match, no duplicates, senders in order. */
static int
verify_each(const struct vlog *l, char *why, size_t whylen)
{
	struct vmap	 last;
	const struct vent *e;
	uint64_t	 view = 0, *p;
	size_t		 i;
	int		 rv = 0;

	if (vmap_init(&last, l->n + 1) == -1)
		FAIL("out of memory");
	for (i = 0; i < l->n && rv == 0; i++) {
		e = &l->e[i];
		if (e->type == VERIFY_VIEW) {
			view = e->view_id;
			continue;
		}
		p = vmap_put(&last, e->sender, 0, 0);
		if (view != 0 && e->view_id != view) {
			snprintf(why, whylen, "%s: entry %zu: message of view "
			    "%llu delivered in view %llu", l->name, i + 1,
			    (unsigned long long)e->view_id,
			    (unsigned long long)view);
			rv = -1;
		} else if (e->sseq == *p) {
			snprintf(why, whylen, "%s: entry %zu: duplicate message "
			    "%016llx:%llu", l->name, i + 1,
			    (unsigned long long)e->sender,
			    (unsigned long long)e->sseq);
			rv = -1;
		} else if (e->sseq < *p) {
			snprintf(why, whylen, "%s: entry %zu: %016llx:%llu after "
			    "%llu breaks sender order", l->name, i + 1,
			    (unsigned long long)e->sender,
			    (unsigned long long)e->sseq,
			    (unsigned long long)*p);
			rv = -1;
		}
		*p = e->sseq;
	}
	vmap_free(&last);
	return rv;
}

/* Messages a and b share: same order, same content, same global seq in
 * the same view. */
static int
verify_pair(const struct vlog *a, const struct vlog *b, char *why,
    size_t whylen)
{
	struct vmap	 pos;
	const struct vent *e, *f;
	uint64_t	*p, prev = 0;
	size_t		 i;
	int		 rv = 0, have = 0;

	if (vmap_init(&pos, a->n + 1) == -1)
		FAIL("out of memory");
	for (i = 0; i < a->n; i++)
		if (a->e[i].type == VERIFY_DATA)
			vmap_put(&pos, a->e[i].sender, a->e[i].sseq, i);
	for (i = 0; i < b->n && rv == 0; i++) {
		f = &b->e[i];
		if (f->type != VERIFY_DATA ||
		    (p = vmap_get(&pos, f->sender, f->sseq)) == NULL)
			continue;
		e = &a->e[*p];
		if (e->crc != f->crc)
			snprintf(why, whylen, "%s and %s: message %016llx:%llu "
			    "differs in content", a->name, b->name,
			    (unsigned long long)f->sender,
			    (unsigned long long)f->sseq), rv = -1;
		else if (have && *p < prev)
			snprintf(why, whylen, "%s and %s: total order differs "
			    "at %s entry %zu (%016llx:%llu)", a->name, b->name,
			    b->name, i + 1, (unsigned long long)f->sender,
			    (unsigned long long)f->sseq), rv = -1;
		else if (e->viewkey == f->viewkey && e->nextkey == f->nextkey &&
		    e->gseq && f->gseq && e->gseq != f->gseq)
			snprintf(why, whylen, "%s and %s: message %016llx:%llu "
			    "has global seq %llu and %llu", a->name, b->name,
			    (unsigned long long)f->sender,
			    (unsigned long long)f->sseq,
			    (unsigned long long)e->gseq,
			    (unsigned long long)f->gseq), rv = -1;
		prev = *p;
		have = 1;
	}
	vmap_free(&pos);
	return rv;
}

/*
 * Virtual synchrony: a digest of each log's messages between two
 * consecutive views, compared across logs with the same two views.
 */
static int
verify_vsync(const struct verify *c, char *why, size_t whylen)
{
	struct vmap	 seen, who;
	const struct vlog *l;
	uint64_t	 digest, count, from, from_id = 0, *d;
	size_t		 i, total = 0;
	int		 k, rv = 0;

	for (k = 0; k < c->n; k++)
		total += c->logs[k].n;
	if (vmap_init(&seen, total + 1) == -1 ||
	    vmap_init(&who, total + 1) == -1)
		FAIL("out of memory");
	for (k = 0; k < c->n && rv == 0; k++) {
		l = &c->logs[k];
		from = 0;
		digest = count = 0;
		for (i = 0; i < l->n && rv == 0; i++) {
			if (l->e[i].type == VERIFY_DATA) {
				digest = mix(digest ^ l->e[i].sender,
				    l->e[i].sseq);
				count++;
				continue;
			}
			if (from != 0) {
				d = vmap_put(&seen, from, l->e[i].viewkey,
				    digest ^ count);
				vmap_put(&who, from, l->e[i].viewkey,
				    (uint64_t)k);
				if (*d != (digest ^ count)) {
					snprintf(why, whylen, "%s and %s: "
					    "different messages between views "
					    "%llu and %llu", c->logs[*vmap_get(
					    &who, from, l->e[i].viewkey)].name,
					    l->name, (unsigned long long)from_id,
					    (unsigned long long)
					    l->e[i].view_id);
					rv = -1;
				}
			}
			from = l->e[i].viewkey;
			from_id = l->e[i].view_id;
			digest = count = 0;
		}
	}
	vmap_free(&seen);
	vmap_free(&who);
	return rv;
}

/* Note for each entry the view that followed the one it was in. */
static void
verify_mark_next(struct vlog *l)
{
	uint64_t	 next = 0;
	size_t		 i;

	for (i = l->n; i-- > 0;) {
		if (l->e[i].type == VERIFY_VIEW)
			next = l->e[i].viewkey;
		else
			l->e[i].nextkey = next;
	}
}

int
verify_run(struct verify *c, char *why, size_t whylen)
{
	int	 i, j;

	for (i = 0; i < c->n; i++)
		verify_mark_next(&c->logs[i]);
	for (i = 0; i < c->n; i++)
		if (verify_each(&c->logs[i], why, whylen) == -1)
			return -1;
	for (i = 0; i < c->n; i++)
		for (j = i + 1; j < c->n; j++)
			if (verify_pair(&c->logs[i], &c->logs[j], why,
			    whylen) == -1)
				return -1;
	return verify_vsync(c, why, whylen);
}
