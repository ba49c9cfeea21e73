/*
 * fault.c: fault injection on received datagrams; see fault.h.
 *
 * Held datagrams live in a binary heap ordered by (due, seq), where seq
 * counts arrivals, so equal due times come out first in first out.  A
 * datagram held back for reordering waits apart, in arrival order, with a
 * due time FAULT_REORDER_MAX_NS away; the next datagram that arrives and is
 * not itself held back releases every waiting one right behind itself.
 * A duplicate is due with its original and never held back (so when the
 * original is, the copy overtakes it).  Past FAULT_HELD_MAX held, the first
 * ones move to an early queue, due at once.
 *
 * The PRNG is xoshiro256** seeded through splitmix64 (Blackman and Vigna).
 * Every decision draws only when its probability is above 0, in the order
 * loss, dup, reorder, so a spec and a seed give the same run every time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "fault.h"

#define FAULT_DELAY_MAX	3600000000000ULL	/* an hour, in ns */

struct fault_item {
	struct to_msg	*m;
	uint64_t	 due;
	uint64_t	 seq;
};

struct fault_queue {
	struct fault_item *v;
	size_t		 head, n, cap;	/* head: early only */
};

enum { Q_NONE, Q_HEAP, Q_WAIT, Q_EARLY };

struct fault {
	double		 loss, dup, reorder;	/* probabilities, 0..1 */
	uint64_t	 delay;			/* ns */
	uint64_t	 rng[4];
	uint64_t	 seq;
	struct fault_queue heap;		/* by (due, seq) */
	struct fault_queue wait;		/* held back, by arrival */
	struct fault_queue early;		/* over the bound: due now */
};

/* --- PRNG ------------------------------------------------------------ */

static uint64_t
fault_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
fault_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
fault_next(struct fault *f)
{
	uint64_t *s = f->rng, r, t;

	r = fault_rotl(s[1] * 5, 7) * 9;
	t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = fault_rotl(s[3], 45);
	return r;
}

/* 1 with probability p. */
static int
fault_draw(struct fault *f, double p)
{
	if (p <= 0)
		return 0;
	return (double)(fault_next(f) >> 11) * 0x1.0p-53 < p;
}

/* --- spec parsing ---------------------------------------------------- */

/* An unsigned decimal in [s, e) into *v; -1 on junk or above max. */
static int
fault_parse_uint(const char *s, const char *e, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;

	if (s == e)
		return -1;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (n > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return 0;
}

/* "P" or "P%", P a decimal 0..100 with at most 9 decimals, into 0..1. */
static int
fault_parse_percent(const char *s, const char *e, double *p)
{
	const char *dot;
	uint64_t ip, fp = 0, scale = 1;

	if (e > s && e[-1] == '%')
		e--;
	if ((dot = memchr(s, '.', (size_t)(e - s))) == NULL)
		dot = e;
	if (fault_parse_uint(s, dot, 100, &ip) == -1)
		return -1;
	if (dot < e) {
		if (e - (dot + 1) > 9 ||
		    fault_parse_uint(dot + 1, e, 999999999, &fp) == -1)
			return -1;
		for (s = dot + 1; s < e; s++)
			scale *= 10;
	}
	if (ip == 100 && fp != 0)
		return -1;
	*p = ((double)ip + (double)fp / (double)scale) / 100.0;
	return 0;
}

/* "N" with unit ns, us, ms or s (none: ms) into ns. */
static int
fault_parse_duration(const char *s, const char *e, uint64_t *ns)
{
	static const struct {
		const char	*name;
		uint64_t	 ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000 }, { "", 1000000 },
	};
	const char *u;
	uint64_t n;
	size_t i;

	for (u = s; u < e && *u >= '0' && *u <= '9'; u++)
		;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if ((size_t)(e - u) == strlen(units[i].name) &&
		    memcmp(u, units[i].name, (size_t)(e - u)) == 0)
			break;
	if (i == sizeof(units) / sizeof(units[0]) ||
	    fault_parse_uint(s, u, FAULT_DELAY_MAX / units[i].ns, &n) == -1)
		return -1;
	*ns = n * units[i].ns;
	return 0;
}

static int
fault_parse_item(struct fault *f, const char *s, const char *e, uint64_t *seed)
{
	const char *eq;
	size_t klen;

	if ((eq = memchr(s, '=', (size_t)(e - s))) == NULL)
		return -1;
	klen = (size_t)(eq - s);
#define KEY(k)	(klen == sizeof(k) - 1 && memcmp(s, k, klen) == 0)
	if (KEY("loss"))
		return fault_parse_percent(eq + 1, e, &f->loss);
	if (KEY("dup"))
		return fault_parse_percent(eq + 1, e, &f->dup);
	if (KEY("reorder"))
		return fault_parse_percent(eq + 1, e, &f->reorder);
	if (KEY("delay"))
		return fault_parse_duration(eq + 1, e, &f->delay);
	if (KEY("seed"))
		return fault_parse_uint(eq + 1, e, UINT64_MAX, seed);
#undef KEY
	return -1;
}

static int
fault_parse(struct fault *f, const char *spec, uint64_t *seed)
{
	const char *s, *e;

	if (spec == NULL || *spec == '\0')
		return 0;
	for (s = spec; ; s = e + 1) {
		if ((e = strchr(s, ',')) == NULL)
			e = s + strlen(s);
		if (fault_parse_item(f, s, e, seed) == -1)
			return -1;
		if (*e == '\0')
			return 0;
	}
}

struct fault *
fault_new(const char *spec, uint64_t seed)
{
	struct fault *f;
	int i;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if (fault_parse(f, spec, &seed) == -1) {
		free(f);
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < 4; i++)
		f->rng[i] = fault_splitmix(&seed);
	return f;
}

static void
fault_queue_free(struct fault_queue *q)
{
	size_t i;

	for (i = q->head; i < q->n; i++)
		msg_free(q->v[i].m);
	free(q->v);
}

void
fault_free(struct fault *f)
{
	if (f == NULL)
		return;
	fault_queue_free(&f->heap);
	fault_queue_free(&f->wait);
	fault_queue_free(&f->early);
	free(f);
}

/* --- queues ---------------------------------------------------------- */

static int
fault_before(const struct fault_item *a, const struct fault_item *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static int
fault_reserve(struct fault_queue *q, size_t n)
{
	struct fault_item *v;
	size_t cap;

	if (q->head > 0) {
		memmove(q->v, q->v + q->head, (q->n - q->head) * sizeof(*q->v));
		q->n -= q->head;
		q->head = 0;
	}
	if (q->n + n <= q->cap)
		return 0;
	cap = q->cap ? q->cap : 64;
	while (cap < q->n + n)
		cap *= 2;
	if ((v = reallocarray(q->v, cap, sizeof(*v))) == NULL)
		return -1;
	q->v = v;
	q->cap = cap;
	return 0;
}

/* Push onto the heap; there is room (fault_reserve). */
static void
fault_heap_push(struct fault_queue *q, struct fault_item it)
{
	size_t i = q->n++, up;

	while (i > 0) {
		up = (i - 1) / 2;
		if (!fault_before(&it, &q->v[up]))
			break;
		q->v[i] = q->v[up];
		i = up;
	}
	q->v[i] = it;
}

static struct fault_item
fault_heap_pop(struct fault_queue *q)
{
	struct fault_item top = q->v[0], last = q->v[--q->n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < q->n) {
		if (c + 1 < q->n && fault_before(&q->v[c + 1], &q->v[c]))
			c++;
		if (!fault_before(&q->v[c], &last))
			break;
		q->v[i] = q->v[c];
		i = c;
	}
	if (q->n > 0)
		q->v[i] = last;
	return top;
}

/* The held datagram (heap or wait) that comes out next, or NULL. */
static const struct fault_item *
fault_first_held(const struct fault *f, int *from)
{
	const struct fault_item *it = NULL;
	size_t i;

	*from = Q_NONE;
	if (f->heap.n > 0) {
		it = &f->heap.v[0];
		*from = Q_HEAP;
	}
	for (i = 0; i < f->wait.n; i++)
		if (it == NULL || fault_before(&f->wait.v[i], it)) {
			it = &f->wait.v[i];
			*from = Q_WAIT;
		}
	return it;
}

/* The datagram that comes out next, or NULL; *from says which queue. */
static const struct fault_item *
fault_first(const struct fault *f, int *from)
{
	const struct fault_item *it, *e;

	it = fault_first_held(f, from);
	if (f->early.head < f->early.n) {
		e = &f->early.v[f->early.head];
		if (it == NULL || fault_before(e, it)) {
			it = e;
			*from = Q_EARLY;
		}
	}
	return it;
}

/* Remove first, which fault_first*() found in queue from. */
static struct fault_item
fault_take(struct fault *f, const struct fault_item *first, int from)
{
	struct fault_item it;
	size_t i;

	switch (from) {
	case Q_HEAP:
		return fault_heap_pop(&f->heap);
	case Q_EARLY:
		it = f->early.v[f->early.head++];
		if (f->early.head == f->early.n)
			f->early.head = f->early.n = 0;
		return it;
	default:
		i = (size_t)(first - f->wait.v);
		it = f->wait.v[i];
		memmove(f->wait.v + i, f->wait.v + i + 1,
		    (f->wait.n - i - 1) * sizeof(*f->wait.v));
		f->wait.n--;
		return it;
	}
}

/*
 * Over the bound: the first held datagrams fall due now and move to the
 * early queue, in order (fault_output() merges it with the others by due
 * time).  fault_input() reserved the room.
 */
static void
fault_bound(struct fault *f, uint64_t now)
{
	const struct fault_item *first;
	struct fault_item it;
	int from;

	while (f->heap.n + f->wait.n > FAULT_HELD_MAX) {
		first = fault_first_held(f, &from);
		it = fault_take(f, first, from);
		if (it.due > now)
			it.due = now;
		f->early.v[f->early.n++] = it;
	}
}

/* --- the model ------------------------------------------------------- */

int
fault_input(struct fault *f, struct to_msg *m, uint64_t now)
{
	struct fault_item it;
	struct to_msg *copy = NULL;
	uint64_t due = now + f->delay;
	size_t i;
	int hold;

	if (fault_draw(f, f->loss)) {
		msg_free(m);
		return 1;
	}
	if (fault_draw(f, f->dup) && (copy = msg_clone(m)) == NULL) {
		msg_free(m);
		return 1;
	}
	hold = fault_draw(f, f->reorder);
	/* Reserve first so that nothing below can fail half done. */
	if (fault_reserve(&f->heap, 2 + f->wait.n) == -1 ||
	    (hold && fault_reserve(&f->wait, 1) == -1) ||
	    fault_reserve(&f->early, 2) == -1) {
		if (copy != NULL)
			msg_free(copy);
		msg_free(m);
		return 1;
	}
	if (hold) {
		it = (struct fault_item){ m, due + FAULT_REORDER_MAX_NS,
		    f->seq++ };
		f->wait.v[f->wait.n++] = it;
	} else {
		fault_heap_push(&f->heap, (struct fault_item){ m, due,
		    f->seq++ });
	}
	if (copy != NULL)
		fault_heap_push(&f->heap, (struct fault_item){ copy, due,
		    f->seq++ });
	if (!hold) {
		/* Release the waiting ones right behind this one. */
		for (i = 0; i < f->wait.n; i++) {
			it = f->wait.v[i];
			if (due < it.due)
				it.due = due;
			it.seq = f->seq++;
			fault_heap_push(&f->heap, it);
		}
		f->wait.n = 0;
	}
	fault_bound(f, now);
	return 0;
}

struct to_msg *
fault_output(struct fault *f, uint64_t now)
{
	const struct fault_item *first;
	int from;

	if ((first = fault_first(f, &from)) == NULL || first->due > now)
		return NULL;
	return fault_take(f, first, from).m;
}

uint64_t
fault_next_due(const struct fault *f)
{
	const struct fault_item *first;
	int from;

	if ((first = fault_first(f, &from)) == NULL)
		return 0;
	return first->due > 0 ? first->due : 1;
}
