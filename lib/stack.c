/*
 * stack.c: builds a stack of layers from a spec such as
 * "dynseq:mbrship:frag:nak:com" and routes messages, events and timers
 * between them (after the Horus Uniform Group Interface).
 *
 * The stack owns the clock the layers read and a seeded PRNG, so that a
 * simulation that sets the clock itself replays exactly from a seed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "layer.h"

#define STACK_MAX_LAYERS	16

struct stack {
	struct layer	 layers[STACK_MAX_LAYERS];	/* [0] is the top */
	int		 n;
	struct transport *tr;
	const struct to_config *cfg;
	struct stack_app app;
	uint64_t	 now;
	uint64_t	 self;
	uint64_t	 rng;
	struct to_stats	 stats;
};

extern const struct layer_ops com_ops, nak_ops, frag_ops, mbrship_ops,
    totem_ops, tomfc_ops, total_ops, dynord_ops, dynseq_ops, dysfc_ops;

/*
 * Every layer there is: the one list of them.  The ordering protocols
 * (their ops have LAYER_ORDER) go in the paper's order (section 3), which
 * -p list, toburst -p all and the unit tests' specs follow; so a new
 * protocol is its file, a row here, its section in to.7 and its test.
 */
const struct layer_ops *const layer_table[] = {
	&totem_ops,
	&tomfc_ops,
	&total_ops,
	&dynord_ops,
	&dynseq_ops,
	&dysfc_ops,
	&mbrship_ops,
	&frag_ops,
	&nak_ops,
	&com_ops,
	NULL,
};

/*
 * Made from the table at the first call rather than written out again,
 * so that the two cannot disagree; a later call finds it made.
 */
const char *const *
layer_protocols(void)
{
	static const char *names[sizeof(layer_table) / sizeof(layer_table[0])];
	size_t		 i, n = 0;

	if (names[0] != NULL)
		return names;
	for (i = 0; layer_table[i] != NULL; i++)
		if (layer_table[i]->flags & LAYER_ORDER)
			names[n++] = layer_table[i]->name;
	return names;
}

const struct layer_ops *
layer_lookup(const char *name)
{
	int	 i;

	for (i = 0; layer_table[i] != NULL; i++)
		if (strcmp(layer_table[i]->name, name) == 0)
			return layer_table[i];
	return NULL;
}

int
stack_parse(const char *spec, char ***namesp, int *np)
{
	char	**names = NULL, *copy, *p, *tok;
	int	  n = 0;

	if ((copy = strdup(spec)) == NULL)
		return -1;
	for (p = copy; (tok = strsep(&p, ":")) != NULL; n++) {
		if (*tok == '\0' || layer_lookup(tok) == NULL ||
		    n == STACK_MAX_LAYERS) {
			free(names);
			free(copy);
			errno = EINVAL;
			return -1;
		}
		names = reallocarray(names, n + 1, sizeof(*names));
		if (names == NULL) {
			free(copy);
			return -1;
		}
		names[n] = tok;
	}
	/* names[0] points at the start of copy, which the caller frees */
	*namesp = names;
	*np = n;
	return 0;
}

static int
stack_build(struct stack *s, const char *spec)
{
	char	**names;
	size_t	  headroom = 0;
	int	  i, n;

	if (stack_parse(spec, &names, &n) == -1)
		return -1;
	if (strcmp(names[n - 1], "com") != 0) {
		free(names[0]);
		free(names);
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n; i++) {
		s->layers[i].ops = layer_lookup(names[i]);
		s->layers[i].stack = s;
		s->layers[i].above = i > 0 ? &s->layers[i - 1] : NULL;
		s->layers[i].below = i < n - 1 ? &s->layers[i + 1] : NULL;
		headroom += s->layers[i].ops->hdr_len;
	}
	s->n = n;
	free(names[0]);
	free(names);
	if (headroom > MSG_HEADROOM) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

struct stack *
stack_new(const struct to_config *cfg, struct transport *tr, uint64_t self,
    const struct stack_app *app, uint64_t now)
{
	struct stack	*s;
	char		 spec[128];
	int		 i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->cfg = cfg;
	s->tr = tr;
	s->self = self;
	s->now = now;
	s->app = *app;
	s->rng = (cfg->seed ? cfg->seed : 0x9e3779b97f4a7c15ULL) ^ self;
	if (cfg->stack != NULL)
		strlcpy(spec, cfg->stack, sizeof(spec));
	else
		snprintf(spec, sizeof(spec), "%s:mbrship:frag:nak:com",
		    cfg->protocol ? cfg->protocol : "dynseq");
	if (stack_build(s, spec) == -1) {
		free(s);
		return NULL;
	}
	for (i = s->n - 1; i >= 0; i--) {
		if (s->layers[i].ops->init(&s->layers[i]) == -1) {
			int	 saved = errno;

			while (++i < s->n)
				s->layers[i].ops->fini(&s->layers[i]);
			free(s);
			errno = saved;
			return NULL;
		}
	}
	return s;
}

void
stack_free(struct stack *s)
{
	int	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		s->layers[i].ops->fini(&s->layers[i]);
	free(s);
}

int
layer_down(struct layer *l, struct to_msg *m)
{
	if (l->below == NULL) {
		msg_free(m);
		errno = ENOTSUP;
		return -1;
	}
	return l->below->ops->down(l->below, m);
}

void
layer_up(struct layer *l, struct to_msg *m)
{
	if (l->above == NULL) {
		l->stack->app.deliver(l->stack->app.arg, m);
		msg_free(m);
	} else
		l->above->ops->up(l->above, m);
}

void
layer_up_view(struct layer *l, const struct to_msg *v)
{
	struct to_msg	*m;

	if (l->above == NULL)
		l->stack->app.deliver(l->stack->app.arg, v);
	else if ((m = msg_clone(v)) != NULL)
		l->above->ops->up(l->above, m);
}

void
layer_ctl_down(struct layer *l, struct event *e)
{
	if (l->below != NULL)
		l->below->ops->ctl_down(l->below, e);
}

unsigned char *
landing_push(struct landing *ld, size_t n, unsigned char **mask)
{
	if (n > ld->at)
		return NULL;
	ld->at -= n;
	memset(ld->mask + ld->at, 0, n);
	*mask = ld->mask + ld->at;
	return ld->hdr + ld->at;
}

void
layer_ctl_up(struct layer *l, struct event *e)
{
	if (l->above == NULL) {
		if (l->stack->app.event != NULL)
			l->stack->app.event(l->stack->app.arg, e);
	} else
		l->above->ops->ctl_up(l->above, e);
}

uint64_t
layer_now(const struct layer *l)
{
	return l->stack->now;
}

void
layer_wake(struct layer *l, uint64_t t)
{
	l->wake = t;
}

void
layer_wake_by(struct layer *l, uint64_t t)
{
	if (l->wake == 0 || t < l->wake)
		l->wake = t;
}

uint64_t
layer_self(const struct layer *l)
{
	return l->stack->self;
}

/* splitmix64: small, fast, and good enough to jitter timers. */
uint64_t
layer_random(struct layer *l)
{
	uint64_t	 z;

	z = (l->stack->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

const struct to_config *
layer_config(const struct layer *l)
{
	return l->stack->cfg;
}

struct to_stats *
layer_stats(struct layer *l)
{
	return &l->stack->stats;
}

struct transport *
layer_transport(struct layer *l)
{
	return l->stack->tr;
}

void
stack_set_now(struct stack *s, uint64_t now)
{
	s->now = now;
}

uint64_t
stack_next_wake(const struct stack *s)
{
	uint64_t	 t = 0;
	int		 i;

	for (i = 0; i < s->n; i++)
		if (s->layers[i].wake != 0 &&
		    (t == 0 || s->layers[i].wake < t))
			t = s->layers[i].wake;
	return t;
}

void
stack_run_timers(struct stack *s)
{
	struct layer	*l;
	int		 i;

	for (i = s->n - 1; i >= 0; i--) {
		l = &s->layers[i];
		if (l->wake != 0 && l->wake <= s->now) {
			l->wake = 0;
			l->ops->timer(l);
		}
	}
}

void
stack_input(struct stack *s, struct to_msg *m)
{
	struct layer	*bottom = &s->layers[s->n - 1];

	bottom->ops->up(bottom, m);
}

int
stack_cast(struct stack *s, struct to_msg *m)
{
	return s->layers[0].ops->down(&s->layers[0], m);
}

int
stack_cast_data(struct stack *s, const void *data, size_t len)
{
	struct layer	*top = &s->layers[0];
	struct to_msg	*m;

	if (top->ops->cast_bytes != NULL && top->ops->cast_bytes(top, data, len))
		return 0;
	if ((m = msg_from(data, len)) == NULL)
		return -1;
	return stack_cast(s, m);
}

void
stack_ctl(struct stack *s, struct event *e)
{
	s->layers[0].ops->ctl_down(&s->layers[0], e);
}

struct to_stats *
stack_stats(struct stack *s)
{
	return &s->stats;
}

uint64_t
stack_self(const struct stack *s)
{
	return s->self;
}
