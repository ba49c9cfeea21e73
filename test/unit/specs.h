/*
 * specs.h: the stacks the property tests run over: every ordering
 * protocol (to_protocols(), so a new one is tested without a word here)
 * with its own packing and with packing off, fixed (1 ms) and adaptive.
 * TO_SPECS="totem dysfc/adaptive ..." keeps only the specs whose name
 * starts with one of the words.
 */
#ifndef TO_SPECS_H
#define TO_SPECS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "to.h"

struct spec {
	char		 name[32];	/* "totem/1ms", "dysfc" (its own) */
	char		 stack[64];	/* "totem:mbrship:frag:nak:com" */
	const char	*pack;		/* to_config.pack; NULL: its own */
	int		 compress;
};

static const char *const spec_packs[] = { NULL, "off", "1ms", "adaptive" };

#define SPEC_NPACKS	(sizeof(spec_packs) / sizeof(spec_packs[0]))

static int
spec_wanted(const char *name)
{
	const char	*env = getenv("TO_SPECS"), *p;
	size_t		 n;

	if (env == NULL || *env == '\0')
		return 1;
	for (p = env; *p != '\0'; p += n) {
		p += strspn(p, " ,");
		n = strcspn(p, " ,");
		if (n > 0 && strncmp(name, p, n) == 0)
			return 1;
	}
	return 0;
}

/*
 * The specs TO_SPECS wants, in an array made for as many as there are
 * (free it): *specsp.  Returns how many.
 */
static int
spec_list(struct spec **specsp)
{
	const char *const *proto = to_protocols();
	struct spec	*specs;
	size_t		 i, j, np;
	int		 n = 0;

	for (np = 0; proto[np] != NULL; np++)
		continue;
	if ((specs = calloc(np * SPEC_NPACKS, sizeof(*specs))) == NULL) {
		perror("spec_list");
		exit(1);
	}
	for (i = 0; i < np; i++)
		for (j = 0; j < SPEC_NPACKS; j++) {
			struct spec *s = &specs[n];

			snprintf(s->name, sizeof(s->name), "%s%s%s",
			    proto[i], spec_packs[j] ? "/" : "",
			    spec_packs[j] ? spec_packs[j] : "");
			snprintf(s->stack, sizeof(s->stack),
			    "%s:mbrship:frag:nak:com", proto[i]);
			s->pack = spec_packs[j];
			/* some of them compress, to run zlib under faults */
			s->compress = j == 3 && i % 2 == 1 ? -1 : 0;
			if (spec_wanted(s->name))
				n++;
		}
	*specsp = specs;
	return n;
}

static void
spec_config(const struct spec *sp, struct to_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pack = sp->pack;
	cfg->compress = sp->compress;
}

#endif /* TO_SPECS_H */
