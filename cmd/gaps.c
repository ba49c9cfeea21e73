/*
 * gaps.c: the gaps in the stream a member writes, found from its views
 * (see struct opts_gaps in opts.h): tocast and torecv warn of them and
 * exit OPTS_EX_GAP unless --gaps-ok.
 */
#include <err.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <bsd/stdlib.h>

#include "opts.h"

/* The index of member m among those seen, or gaps->n. */
static size_t
opts_gaps_find(const struct opts_gaps *gaps, uint64_t m)
{
	size_t	 i;

	for (i = 0; i < gaps->n; i++)
		if (gaps->id[i] == m)
			break;
	return i;
}

int
opts_gaps_view(struct opts_gaps *gaps, const struct opts *o,
    const struct to_view *v, uint64_t undelivered)
{
	uint64_t	 since = UINT64_MAX, *p;
	uint32_t	 i, back = 0;
	size_t		 k, cap;

	for (i = 0; i < v->n; i++) {
		if (v->members[i] == v->self)
			continue;
		k = opts_gaps_find(gaps, v->members[i]);
		if (k < gaps->n && gaps->last[k] != gaps->view) {
			back++;
			if (gaps->last[k] < since)
				since = gaps->last[k];
		}
		if (k == gaps->n) {
			if (gaps->n == gaps->cap) {
				cap = gaps->cap ? gaps->cap * 2 : 64;
				if ((p = reallocarray(gaps->id, cap,
				    sizeof(*p))) == NULL)
					err(EX_OSERR, NULL);
				gaps->id = p;
				if ((p = reallocarray(gaps->last, cap,
				    sizeof(*p))) == NULL)
					err(EX_OSERR, NULL);
				gaps->last = p;
				gaps->cap = cap;
			}
			gaps->id[gaps->n++] = v->members[i];
		}
		gaps->last[k] = v->id;
	}
	/*
	 * The others took us for dead and went on (mbrship says so; alone
	 * after a change that the others left or did not answer is no gap
	 * by itself).  Else messages of the closing view that its flush
	 * could not deliver here (order.c: a hole before them in their
	 * sender's order) were delivered on a side we were not on.
	 */
	if (v->cut_off) {
		gaps->found++;
		if (!o->quiet)
			warnx("view %" PRIu64 ": cut off alone from view %"
			    PRIu64 ", which went on without us: messages "
			    "delivered there are missing here", v->id,
			    gaps->view);
	} else if (undelivered > gaps->undelivered) {
		gaps->found++;
		if (!o->quiet)
			warnx("view %" PRIu64 ": %" PRIu64 " message%s of "
			    "view %" PRIu64 " not delivered here: their "
			    "senders' side went on without us", v->id,
			    undelivered - gaps->undelivered,
			    undelivered - gaps->undelivered == 1 ? "" : "s",
			    gaps->view);
	}
	gaps->undelivered = undelivered;
	if (back > 0) {
		gaps->found++;
		if (!o->quiet)
			warnx("view %" PRIu64 " merges %" PRIu32 " member%s "
			    "apart since view %" PRIu64 ": messages delivered "
			    "apart are missing here", v->id, back,
			    back == 1 ? "" : "s", since);
	}
	gaps->view = v->id;
	return back > 0;
}

void
opts_gaps_free(struct opts_gaps *gaps)
{
	free(gaps->id);
	free(gaps->last);
	memset(gaps, 0, sizeof(*gaps));
}
