/*
 * verify_each.c: each log alone, in one pass (see verify.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "verify_int.h"

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
		return vf_missing(a, b, buf, len);
	for (n = a + 1; n < b; n++)
		if (vf_map_get(seen, k, n) == NULL) {
			if (!any)
				lo = n;
			hi = n;
			any = 1;
		}
	return any ? vf_missing(lo - 1, hi + 1, buf, len) : NULL;
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
		vf_report(x->r, "%s: view id not above that of %s (record %zu)",
		    vf_ename(l, i, b, sizeof(b)), vf_vname(p, v, sizeof(v)),
		    x->pv + 1);
	if (trans && x->rv != NONE) {
		p = &l->e[x->rv];
		for (k = 0; k < e->nmembers; k++)
			if (!vf_is_member(l, p, l->pool[e->members + k]))
				break;
		if (k < e->nmembers)
			vf_report(x->r, "%s: member %016llx was not in %s "
			    "(record %zu), which it closes",
			    vf_ename(l, i, b, sizeof(b)),
			    (ull)l->pool[e->members + k],
			    vf_vname(p, v, sizeof(v)), x->rv + 1);
	} else if (!trans && (p->flags & VERIFY_TRANSITIONAL)) {
		for (k = 0; k < p->nmembers; k++)
			if (!vf_is_member(l, e, l->pool[p->members + k]))
				break;
		if (e->view_id != p->view_id)
			vf_report(x->r, "%s: not the view that %s (record %zu) "
			    "leads to", vf_ename(l, i, b, sizeof(b)),
			    vf_vname(p, v, sizeof(v)), x->pv + 1);
		else if (k < p->nmembers)
			vf_report(x->r, "%s: member %016llx of %s (record %zu) "
			    "is missing", vf_ename(l, i, b, sizeof(b)),
			    (ull)l->pool[p->members + k],
			    vf_vname(p, v, sizeof(v)), x->pv + 1);
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
			if (vf_is_member(x->l, e, x->owner[j]))
				x->owner[k++] = x->owner[j];
		x->nowner = k;
	}
	if (x->nowner == 0) {
		x->lost = 1;
		vf_report(x->r, "%s: no member is in this view and every view "
		    "before it: not the log of one member",
		    vf_ename(x->l, i, b, sizeof(b)));
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
		if (!vf_is_member(x->l, e, x->s[j].id))
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

	p = vf_map_put(&x->who, id, 0, x->ns, &fresh);
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

	p = vf_map_put(&x->dup, e->sender, e->sseq, i, &fresh);
	if (!fresh) {
		vf_report(x->r, "%s: duplicate of record %zu",
		    vf_ename(x->l, i, b, sizeof(b)), ENC_I(*p) + 1);
		return 0;
	}
	if ((s = each_sender(x, e->sender)) == NULL)
		return -1;
	if (s->at != NONE && e->sseq < s->last)
		vf_report(x->r, "%s: sender order: after seq %llu (record %zu)",
		    vf_ename(x->l, i, b, sizeof(b)), (ull)s->last, s->at + 1);
	else if (s->at != NONE && e->sseq > s->last + 1 && !s->excused &&
	    gap(&x->dup, e->sender, s->last, e->sseq, m, sizeof(m)) != NULL)
		vf_report(x->r, "%s: sender seq %s missing: the sender and "
		    "this member stayed in the view since seq %llu "
		    "(record %zu)", vf_ename(x->l, i, b, sizeof(b)), m,
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
		vf_report(x->r, "%s: total order: after gseq %llu (record %zu)",
		    vf_ename(x->l, i, b, sizeof(b)), (ull)x->gseq, x->gat + 1);
	else if (x->gat != NONE && e->gseq > x->gseq + 1 &&
	    gap(&x->gseen, k, x->gseq, e->gseq, m, sizeof(m)) != NULL)
		vf_report(x->r, "%s: gseq %s missing", vf_ename(x->l, i, b,
		    sizeof(b)), m);
	x->gseq = e->gseq;
	x->gat = i;
	vf_map_put(&x->gseen, k, e->gseq, i, &fresh);
}

static int
each_data(struct veach *x, size_t i)
{
	const struct vent *e = &x->l->e[i], *v;
	char		 b[256];

	if (e->view == NONE) {
		vf_report(x->r, "%s: delivered before any view",
		    vf_ename(x->l, i, b, sizeof(b)));
	} else {
		v = &x->l->e[e->view];
		if (e->view_id != v->view_id && !x->carried++)
			vf_report(x->r, "%s: the message carries view id %llu",
			    vf_ename(x->l, i, b, sizeof(b)), (ull)e->view_id);
		if (!vf_is_member(x->l, v, e->sender) && !x->stray++)
			vf_report(x->r, "%s: the sender is not a member of "
			    "view %llu (record %zu)", vf_ename(x->l, i, b,
			    sizeof(b)), (ull)v->view_id, e->view + 1);
	}
	each_data_gseq(x, i);
	return each_data_sender(x, i);
}

int
vf_each(struct vrun *r, struct vlog *l)
{
	struct veach	 x;
	size_t		 i;
	int		 rv = 0;

	memset(&x, 0, sizeof(x));
	x.r = r;
	x.l = l;
	x.pv = x.rv = x.gat = NONE;
	if (vf_map_init(&x.dup, l->n + 1) == -1 ||
	    vf_map_init(&x.who, l->n + 1) == -1 ||
	    vf_map_init(&x.gseen, l->n + 1) == -1)
		rv = -1;
	for (i = 0; i < l->n && rv == 0; i++)
		if (l->e[i].type == VERIFY_VIEW)
			rv = each_view(&x, i);
		else
			rv = each_data(&x, i);
	vf_map_free(&x.dup);
	vf_map_free(&x.who);
	vf_map_free(&x.gseen);
	free(x.s);
	free(x.owner);
	return rv;
}

