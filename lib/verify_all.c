/*
 * verify_all.c: the logs together (see verify.c): global seqs by view,
 * content, total order by pairs, virtual synchrony, shared views.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "verify_int.h"

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
int
vf_gseq(const struct verify *c, const struct vlog *a,
    const struct vlog *b, struct vrun *r)
{
	struct vmap	 at, first;
	const struct vent *e, *f;
	uint64_t	*p;
	size_t		 i;
	char		 n1[256], n2[256], m[64];
	int		 fresh, named = 0, gap = 0;

	if (vf_map_init(&at, a->n + 1) == -1 ||
	    vf_map_init(&first, a->n + 1) == -1) {
		vf_map_free(&at);
		return -1;
	}
	for (i = 0; i < a->n; i++) {
		e = &a->e[i];
		if (e->type != VERIFY_DATA || e->view == NONE || e->gseq == 0)
			continue;
		vf_map_put(&at, e->key, e->gseq, i, &fresh);
		if (epoch_first(a, i))
			vf_map_put(&first, e->key, 0, i, &fresh);
	}
	for (i = 0; i < b->n; i++) {
		f = &b->e[i];
		if (f->type != VERIFY_DATA || f->view == NONE || f->gseq == 0)
			continue;
		p = vf_map_get(&at, f->key, f->gseq);
		e = p != NULL ? &a->e[*p] : NULL;
		if (!named && e != NULL && !parted(c, e, f) &&
		    (e->sender != f->sender || e->sseq != f->sseq)) {
			vf_report(r, "%s: global order: %s: %s has this gseq "
			    "in this view", vf_ename(b, i, n1, sizeof(n1)),
			    a->name, vf_eshort(a, *p, n2, sizeof(n2)));
			named = 1;
		}
		if (gap || !epoch_first(b, i) ||
		    (p = vf_map_get(&first, f->key, 0)) == NULL)
			continue;
		e = &a->e[*p];
		if (e->gseq == f->gseq || parted(c, e, f))
			continue;
		gap = 1;
		if (e->gseq < f->gseq)
			vf_report(r, "%s: gseq %s missing: the first here in "
			    "this view, and %s delivers gseq %llu in it",
			    vf_ename(b, i, n1, sizeof(n1)), vf_missing(e->gseq - 1,
			    f->gseq, m, sizeof(m)), vf_ename(a, *p, n2,
			    sizeof(n2)), (ull)e->gseq);
		else
			vf_report(r, "%s: gseq %s missing: the first here in "
			    "this view, and %s delivers gseq %llu in it",
			    vf_ename(a, *p, n1, sizeof(n1)), vf_missing(f->gseq - 1,
			    e->gseq, m, sizeof(m)), vf_ename(b, i, n2,
			    sizeof(n2)), (ull)f->gseq);
	}
	vf_map_free(&at);
	vf_map_free(&first);
	return 0;
}

/* A message has one content everywhere: one line a log at most. */
int
vf_content(const struct verify *c, struct vrun *r)
{
	struct vmap	 msgs;
	const struct vlog *l, *o;
	const struct vent *e;
	uint64_t	*p;
	size_t		 i;
	char		 b[256];
	int		 k, fresh;

	if (vf_map_init(&msgs, total_entries(c) + 1) == -1)
		return -1;
	for (k = 0; k < c->n; k++) {
		l = &c->logs[k];
		for (i = 0; i < l->n; i++) {
			e = &l->e[i];
			if (e->type != VERIFY_DATA)
				continue;
			p = vf_map_put(&msgs, e->sender, e->sseq, ENC(k, i),
			    &fresh);
			o = &c->logs[ENC_LOG(*p)];
			if (fresh || o->e[ENC_I(*p)].crc == e->crc)
				continue;
			vf_report(r, "%s: content differs from %s: record %zu",
			    vf_ename(l, i, b, sizeof(b)), o->name, ENC_I(*p) + 1);
			break;
		}
	}
	vf_map_free(&msgs);
	return 0;
}

/* Messages a and b share come in the same order: the first inversion. */
int
vf_pair(const struct vlog *a, const struct vlog *b, struct vrun *r)
{
	struct vmap	 pos;
	const struct vent *f;
	uint64_t	*p, prev = 0;
	size_t		 i, prevb = NONE;
	char		 n1[256], n2[256];
	int		 fresh;

	if (vf_map_init(&pos, a->n + 1) == -1)
		return -1;
	for (i = 0; i < a->n; i++)
		if (a->e[i].type == VERIFY_DATA)
			vf_map_put(&pos, a->e[i].sender, a->e[i].sseq, i, &fresh);
	for (i = 0; i < b->n; i++) {
		f = &b->e[i];
		if (f->type != VERIFY_DATA ||
		    (p = vf_map_get(&pos, f->sender, f->sseq)) == NULL)
			continue;
		if (prevb != NONE && *p < prev) {
			vf_report(r, "%s: total order: after %s, but %s has "
			    "them the other way round (records %zu and %zu)",
			    vf_ename(b, i, n1, sizeof(n1)),
			    vf_eshort(b, prevb, n2, sizeof(n2)), a->name,
			    (size_t)*p + 1, (size_t)prev + 1);
			break;
		}
		prev = *p;
		prevb = i;
	}
	vf_map_free(&pos);
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

	if (vf_map_init(&has, oto - ofrom + 1) == -1) {
		*err = 1;
		return NONE;
	}
	for (i = ofrom; i < oto; i++)
		vf_map_put(&has, o->e[i].sender, o->e[i].sseq, 0, &fresh);
	for (i = from; i < to && found == NONE; i++)
		if (vf_map_get(&has, l->e[i].sender, l->e[i].sseq) == NULL)
			found = i;
	vf_map_free(&has);
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
	    "and %s", o->name, l->name, vf_vname(&o->e[ofrom], v1, sizeof(v1)),
	    ofrom + 1, from + 1, vf_vname(&o->e[oto], v2, sizeof(v2)));
	if ((x = segment_extra(l, from + 1, to, o, ofrom + 1, oto,
	    &err)) != NONE)
		vf_report(r, "%s: virtual synchrony: %s: record %zu (sender "
		    "%016llx seq %llu) is not in %s", b, l->name, x + 1,
		    (ull)l->e[x].sender, (ull)l->e[x].sseq, o->name);
	else if ((x = segment_extra(o, ofrom + 1, oto, l, from + 1, to,
	    &err)) != NONE)
		vf_report(r, "%s: virtual synchrony: %s: record %zu (sender "
		    "%016llx seq %llu) is not in %s", b, o->name, x + 1,
		    (ull)o->e[x].sender, (ull)o->e[x].sseq, l->name);
	else if (!err)
		vf_report(r, "%s: virtual synchrony: %s delivers %zu messages "
		    "between them, %s %zu", b, o->name, oto - ofrom - 1,
		    l->name, to - from - 1);
	return err ? -1 : 0;
}

/*
 * Virtual synchrony: a digest of each log's messages between two
 * consecutive views (their sum, so that order is left to vf_pair),
 * compared across logs with the same two views.
 */
int
vf_vsync(const struct verify *c, struct vrun *r)
{
	struct vmap	 seen;
	const struct vlog *l, *o;
	uint64_t	 digest, *d, *p;
	size_t		 i, from, total = total_entries(c), ofrom, oto;
	int		 k, rv = 0, fresh;

	/* (from, to) -> the digest; (digest, from) -> where */
	if (vf_map_init(&seen, 2 * total + 1) == -1)
		return -1;
	for (k = 0; k < c->n && rv == 0; k++) {
		l = &c->logs[k];
		from = NONE;
		digest = 0;
		for (i = 0; i < l->n && rv == 0; i++) {
			if (l->e[i].type == VERIFY_DATA) {
				digest += vf_mix(l->e[i].sender, l->e[i].sseq);
				continue;
			}
			if (from != NONE) {
				d = vf_map_put(&seen, l->e[from].key,
				    l->e[i].key, digest, &fresh);
				p = vf_map_put(&seen, ~l->e[from].key,
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
	vf_map_free(&seen);
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
int
vf_linked(struct verify *c, struct vrun *r)
{
	struct vmap	 owner;
	const struct vlog *l;
	uint64_t	*p;
	size_t		 i;
	int		 k, j, first = -1, fresh;

	if (vf_map_init(&owner, total_entries(c) + 1) == -1)
		return -1;
	for (k = 0; k < c->n; k++)
		c->logs[k].up = k;
	for (k = 0; k < c->n; k++) {
		l = &c->logs[k];
		for (i = 0; i < l->n; i++) {
			if (l->e[i].type != VERIFY_VIEW)
				continue;
			p = vf_map_put(&owner, l->e[i].key, 0, k, &fresh);
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
			vf_report(r, "%s and %s: no view in common",
			    c->logs[first].name, c->logs[k].name);
	}
	vf_map_free(&owner);
	return 0;
}

