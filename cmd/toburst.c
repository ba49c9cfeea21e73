/*
 * toburst: the experiments of the packing paper and of the load paper,
 * run by one command: bursts (Friedman & van Renesse 1995, section 4,
 * Figures 1-4) and an open-loop offered load (Mena et al. 2007,
 * Figures 9-11), over every protocol and packing asked for.
 *
 * A member (-g GROUP -N MEMBERS) joins one group per protocol and packing,
 * waits for N members, and runs the cells: the member of rank 0
 * coordinates through the group itself (burst_member.c) and prints the
 * rows (burst_report.c).  --local N and --netns N start the N members
 * (burst_launch.c).  This file parses the options and dispatches.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "burst.h"
#include "opts.h"
#include "to.h"

#define BURST_M_MAX		1000000
#define BURST_ROUNDS_MAX	1000000
#define BURST_REPEATS_MAX	1000
#define BURST_RATE_MAX		10000000
#define BURST_MEMBERS_MAX	64
#define BURST_LOCAL_MAX		32
#define BURST_DURATION_MAX	3600.0
#define BURST_DURATION_DEFAULT	5000000000ULL	/* --duration, ns */
#define BURST_COMPRESS_MAX	9

/* Long-only options of toburst's own; above the shared ones (opts.h). */
enum {
	OPT_ALL = 1024,
	OPT_ONE,
	OPT_RATE,
	OPT_DURATION,
	OPT_LOCAL,
	OPT_NETNS,
	OPT_PACK,
	OPT_PACK_MAX,
	OPT_COMPRESS,
	OPT_PLOT,
};

struct burst_conf burst;

static const char toburst_synopsis[] =
    "usage: toburst [-vV] [--all] [--one] [-m list | --rate list]\n"
    "               [-s list] [-r rounds] [-n repeats] [-p list]\n"
    "               [--pack list] [--pack-max bytes] [--compress level]\n"
    "               [--duration seconds] [-o table | tsv | json]\n"
    "               [--plot file.svg] [-i iface] [-k keyfile] [-M bytes]\n"
    "               [-t transport] [-T seconds] [-W window] [--stall seconds]\n"
    "               [--suspect ms] -g group -N members | --local members |\n"
    "               --netns members\n";

static const struct opts_def toburst_own[] = {
	{ "all", OPT_ALL, NULL, "bursts from all members at once" },
	{ "one", OPT_ONE, NULL, "bursts from one member at a time" },
	{ "burst", 'm', "list", "burst lengths in messages" },
	{ "members", 'N', "members", "as a member: members in all" },
	{ "repeats", 'n', "repeats", "runs of each cell, reporting the mean" },
	{ "output", 'o', "format", "table, tsv or json" },
	{ "protocol", 'p', "list", "protocols, all, raw, or list" },
	{ "rounds", 'r', "rounds", "rounds of each burst run" },
	{ "size", 's', "list", "message sizes in bytes" },
	{ "rate", OPT_RATE, "list", "offered loads in messages a second" },
	{ "duration", OPT_DURATION, "seconds", "length of a --rate run" },
	{ "local", OPT_LOCAL, "members", "start the members on this host" },
	{ "netns", OPT_NETNS, "members", "start the members in namespaces" },
	{ "pack", OPT_PACK, "list", "packings: off, adaptive, a delay, "
	    "default" },
	{ "pack-max", OPT_PACK_MAX, "bytes", "most bytes in one pack" },
	{ "compress", OPT_COMPRESS, "level", "zlib level for packs, 0 to 9" },
	{ "plot", OPT_PLOT, "file.svg", "draw the figures with gnuplot" },
	{ NULL, 0, NULL, NULL },
};

static const int toburst_longs[] = { OPTS_STALL, OPTS_SUSPECT, 0 };

static int	 toburst_option(struct opts *, int, const char *);

static const struct opts_tool toburst_tool = {
	.name = "toburst",
	.synopsis = toburst_synopsis,
	.optstring = "g:hi:k:m:M:n:N:o:p:r:s:t:T:vVW:",
	.operands = 0,
	.group_optional = 1,
	.longs = toburst_longs,
	.own = toburst_own,
	.option = toburst_option,
};

/* How messages name an option of ours: "-m" or "--rate". */
static const char *
toburst_optname(int ch)
{
	static char		 buf[32];
	const struct opts_def	*l;

	if (ch <= UCHAR_MAX) {
		snprintf(buf, sizeof(buf), "-%c", ch);
		return buf;
	}
	for (l = toburst_own; l->name != NULL; l++)
		if (l->ch == ch)
			break;
	snprintf(buf, sizeof(buf), "--%s", l->name != NULL ? l->name : "?");
	return buf;
}

static uint32_t
toburst_num(int ch, const char *arg, long long min, long long max)
{
	return (uint32_t)opts_number(toburst_optname(ch), arg, min, max);
}

/* "1,10,100": each from min to max, at most BURST_LIST_MAX of them. */
static size_t
toburst_numlist(int ch, const char *arg, uint32_t *v, long long min,
    long long max)
{
	char	*s, *p, *tok;
	size_t	 n = 0;

	if ((s = strdup(arg)) == NULL)
		err(EX_OSERR, NULL);
	for (p = s; (tok = strsep(&p, ",")) != NULL; ) {
		if (n == BURST_LIST_MAX)
			errx(EX_USAGE, "%s %s: more than %d values",
			    toburst_optname(ch), arg, BURST_LIST_MAX);
		if (*tok == '\0')
			errx(EX_USAGE, "%s %s: empty value in the list",
			    toburst_optname(ch), arg);
		v[n++] = toburst_num(ch, tok, min, max);
	}
	free(s);
	return n;
}

/* Split a comma list of names in place (the strings stay in argv). */
static size_t
toburst_names(int ch, const char *arg, const char **v)
{
	char	*p, *tok;
	size_t	 n = 0;

	/* a copy: argv must stay whole for the launcher */
	if ((p = strdup(arg)) == NULL)
		err(EX_OSERR, NULL);
	while ((tok = strsep(&p, ",")) != NULL) {
		if (n == BURST_LIST_MAX)
			errx(EX_USAGE, "%s: more than %d values",
			    toburst_optname(ch), BURST_LIST_MAX);
		if (*tok == '\0')
			errx(EX_USAGE, "%s: empty value in the list",
			    toburst_optname(ch));
		v[n++] = tok;
	}
	return n;
}

/* Add name to -p's list once. */
static void
toburst_add_protocol(const char *name)
{
	size_t	 i;

	for (i = 0; i < burst.nprotos; i++)
		if (strcmp(burst.protos[i], name) == 0)
			return;
	if (burst.nprotos == BURST_LIST_MAX)
		errx(EX_USAGE, "-p: more than %d values", BURST_LIST_MAX);
	burst.protos[burst.nprotos++] = name;
}

/*
 * -p: names from to_protocols(), "all" for every one of them, and "raw"
 * for the bare transport, which runs first so that every other row can
 * be set against it.
 */
static void
toburst_protocols(const char *arg)
{
	const char *const	*p;
	const char		*names[BURST_LIST_MAX];
	char			 valid[256] = "";
	size_t			 i, n;
	int			 raw = 0;

	n = toburst_names('p', arg, names);
	for (i = 0; i < n; i++)
		raw |= strcmp(names[i], BURST_RAW) == 0;
	burst.nprotos = 0;
	if (raw)
		toburst_add_protocol(BURST_RAW);
	for (i = 0; i < n; i++) {
		if (strcmp(names[i], "all") == 0) {
			for (p = to_protocols(); *p != NULL; p++)
				toburst_add_protocol(*p);
			continue;
		}
		if (strcmp(names[i], BURST_RAW) == 0)
			continue;
		if (to_protocol_about(names[i]) != NULL) {
			toburst_add_protocol(names[i]);
			continue;
		}
		for (p = to_protocols(); *p != NULL; p++) {
			strlcat(valid, ", ", sizeof(valid));
			strlcat(valid, *p, sizeof(valid));
		}
		errx(EX_USAGE, "-p %s: unknown protocol, expected all, list, "
		    "raw%s", names[i], valid);
	}
}

/* --pack: "off", a delay ("1ms", "500us") or "adaptive"; "default" too. */
static void
toburst_packs(const char *arg)
{
	size_t	 i;

	burst.npacks = toburst_names(OPT_PACK, arg, burst.packs);
	for (i = 0; i < burst.npacks; i++) {
		if (strcmp(burst.packs[i], "default") == 0) {
			burst.packs[i] = NULL;
			continue;
		}
		if (to_pack_check(burst.packs[i]) == -1)
			errx(EX_USAGE, "--pack %s: invalid packing, expected "
			    "off, adaptive, default or a delay such as 1ms "
			    "or 500us", burst.packs[i]);
	}
}

static uint64_t
toburst_seconds(int ch, const char *arg, double min, double max)
{
	double	 s;
	char	*end;

	errno = 0;
	s = strtod(arg, &end);
	if (end == arg || *end != '\0' || errno != 0 || !isfinite(s) ||
	    s < min || s > max)
		errx(EX_USAGE, "%s %s: invalid time, expected %g to %g seconds",
		    toburst_optname(ch), arg, min, max);
	return (uint64_t)(s * 1e9);
}

static void
toburst_output(const char *arg)
{
	if (strcmp(arg, "table") == 0)
		burst.out = BURST_OUT_TABLE;
	else if (strcmp(arg, "tsv") == 0)
		burst.out = BURST_OUT_TSV;
	else if (strcmp(arg, "json") == 0)
		burst.out = BURST_OUT_JSON;
	else
		errx(EX_USAGE, "-o %s: unknown output, expected table, tsv "
		    "or json", arg);
}

/* Our own options; 0 hands -p list to the shared table. */
static int
toburst_option(struct opts *o, int ch, const char *arg)
{
	switch (ch) {
	case OPT_ALL:
		burst.modes |= BURST_MODE_ALL;
		break;
	case OPT_ONE:
		burst.modes |= BURST_MODE_ONE;
		break;
	case 'm':
		burst.nm = toburst_numlist(ch, arg, burst.m, 1, BURST_M_MAX);
		break;
	case 'N':
		burst.members = toburst_num(ch, arg, 1, BURST_MEMBERS_MAX);
		break;
	case 'n':
		burst.repeats = toburst_num(ch, arg, 1, BURST_REPEATS_MAX);
		break;
	case 'o':
		toburst_output(arg);
		break;
	case 'p':
		if (strcmp(arg, "list") == 0)
			return 0;
		toburst_protocols(arg);
		break;
	case 'r':
		burst.rounds = toburst_num(ch, arg, 1, BURST_ROUNDS_MAX);
		break;
	case 's':
		burst.nsizes = toburst_numlist(ch, arg, burst.sizes, 1,
		    OPTS_MAXMSG_MAX);
		break;
	case OPT_RATE:
		burst.nrates = toburst_numlist(ch, arg, burst.rates, 1,
		    BURST_RATE_MAX);
		break;
	case OPT_DURATION:
		burst.duration = toburst_seconds(ch, arg, 0.01,
		    BURST_DURATION_MAX);
		break;
	case OPT_LOCAL:
		burst.local = toburst_num(ch, arg, 1, BURST_LOCAL_MAX);
		break;
	case OPT_NETNS:
		burst.netns = toburst_num(ch, arg, 1, BURST_LOCAL_MAX);
		break;
	case OPT_PACK:
		toburst_packs(arg);
		break;
	case OPT_PACK_MAX:
		o->cfg.pack_max = toburst_num(ch, arg, 1, OPTS_MAXMSG_MAX);
		break;
	case OPT_COMPRESS:
		o->cfg.compress = toburst_num(ch, arg, 0, BURST_COMPRESS_MAX);
		break;
	case OPT_PLOT:
		if (*arg == '\0')
			errx(EX_USAGE, "--plot: empty file name");
		burst.plot = arg;
		break;
	}
	return 1;
}

/* What the options say together, once all are read. */
static void
toburst_check(struct burst_conf *b)
{
	size_t	 i;

	if (getenv("TOBURST_MEMBER") != NULL)
		b->local = b->netns = 0;	/* started by a launcher */
	else if (b->local && b->netns)
		errx(EX_USAGE, "--local and --netns cannot be used together");
	if (b->nrates > 0 && b->nprotos > 0 &&
	    strcmp(b->protos[0], BURST_RAW) == 0)
		errx(EX_USAGE, "-p raw: bursts only (--one, --all, -m), not "
		    "--rate");
	if ((b->local || b->netns) && b->members != 0)
		errx(EX_USAGE, "-N is for a member; --%s starts the members "
		    "itself", b->local ? "local" : "netns");
	if (!b->local && !b->netns &&
	    (b->o.cfg.group == NULL || b->members == 0))
		errx(EX_USAGE, "no members: use -g group -N members, "
		    "--local members or --netns members");
	if (b->nrates > 0 && b->nm > 0)
		errx(EX_USAGE, "-m and --rate cannot be used together: "
		    "bursts or an offered load");
	if (b->nrates == 0 && b->duration != 0)
		errx(EX_USAGE, "--duration needs --rate");
	for (i = 0; i < b->nsizes; i++)
		if (b->sizes[i] > b->o.cfg.max_msg)
			errx(EX_USAGE, "-s %" PRIu32 ": larger than -M %zu",
			    b->sizes[i], b->o.cfg.max_msg);
	if (b->plot != NULL && !burst_have_gnuplot())
		errx(EX_UNAVAILABLE, "--plot: gnuplot not found in PATH "
		    "(install gnuplot-nox, or run without --plot)");
}

static void
toburst_defaults(struct burst_conf *b)
{
	static const uint32_t m[] = { 1, 10, 100, 1000 };

	if (b->modes == 0)
		b->modes = BURST_MODE_ALL;
	if (b->nm == 0 && b->nrates == 0) {
		memcpy(b->m, m, sizeof(m));
		b->nm = sizeof(m) / sizeof(m[0]);
	}
	if (b->nsizes == 0) {
		b->sizes[0] = 1;
		b->nsizes = 1;
	}
	if (b->nprotos == 0) {
		b->protos[0] = b->o.cfg.protocol;	/* dynseq */
		b->nprotos = 1;
	}
	if (b->npacks == 0) {
		b->packs[0] = NULL;
		b->npacks = 1;
	}
	if (b->rounds == 0)
		b->rounds = 10;
	if (b->repeats == 0)
		b->repeats = 1;
	if (b->nrates > 0 && b->duration == 0)
		b->duration = BURST_DURATION_DEFAULT;
	b->progress = isatty(STDERR_FILENO);
}

int
main(int argc, char *argv[])
{
	char	**copy;
	int	   i;

	/* getopt_long(3) permutes argv: the launcher needs it as given */
	if ((copy = calloc(argc + 1, sizeof(*copy))) == NULL)
		err(EX_OSERR, NULL);
	for (i = 0; i < argc; i++)
		copy[i] = argv[i];
	burst.argv = copy;
	burst.argc = argc;
	opts_parse(&burst.o, &toburst_tool, argc, argv);
	toburst_check(&burst);
	toburst_defaults(&burst);
	if (burst.local || burst.netns)
		return burst_launch(&burst);
	return burst_member(&burst);
}
