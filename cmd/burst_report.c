/*
 * burst_report.c: what the coordinator makes of the RESULTs: the row of
 * each cell, printed as an aligned table (at the end), as tab-separated
 * values or as JSON lines (as each cell ends); the latency histograms;
 * the progress line; and the figures, drawn by gnuplot(1).
 *
 * Every figure in a row is defined in toburst(1), OUTPUT.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "burst.h"

#define NCOLS	28

static struct burst_row	*rows;
static size_t		 nrows, rowcap;
static int		 progressed;	/* a progress line is showing */
static int		 header_done;

/* One column: its TSV/JSON name, its table heading (NULL: not shown). */
static const struct col {
	const char	*name;
	const char	*head;
} cols[NCOLS] = {
	{ "mode",		"mode" },
	{ "protocol",		"protocol" },
	{ "pack",		"pack" },
	{ "members",		NULL },
	{ "m",			"m" },
	{ "size",		"size" },
	{ "rounds",		NULL },
	{ "rate",		"rate" },
	{ "duration_s",		NULL },
	{ "repeats",		NULL },
	{ "msgs",		NULL },
	{ "elapsed_s",		NULL },
	{ "throughput",		"msgs/s" },
	{ "throughput_all",	NULL },
	{ "latency_mean_ms",	"round ms" },
	{ "latency_max_ms",	"max ms" },
	{ "early_p50_ms",	"p50 ms" },
	{ "early_p99_ms",	"p99 ms" },
	{ "dgrams_per_msg",	"dgram/msg" },
	{ "bytes_per_msg",	"bytes/msg" },
	{ "packs",		"packs" },
	{ "msgs_per_pack",	"msgs/pack" },
	{ "retransmits",	"retrans" },
	{ "naks",		NULL },
	{ "blocked",		"blocked" },
	{ "raw_throughput",	"raw msgs/s" },
	{ "vs_raw",		"x raw" },
	{ "lost_pct",		"lost%" },
};

/* Bucket of v ns: exact below 32, then 32 buckets per power of two. */
static size_t
hist_bucket(uint64_t v)
{
	int	 e;

	if (v < BURST_HIST_SUB)
		return v;
	e = 63 - __builtin_clzll(v);
	return (size_t)(e - 4) * BURST_HIST_SUB +
	    ((v >> (e - 5)) & (BURST_HIST_SUB - 1));
}

/* The middle of bucket k, in ns. */
static double
hist_value(size_t k)
{
	size_t	 e, sub;

	if (k < BURST_HIST_SUB)
		return (double)k;
	e = k / BURST_HIST_SUB + 4;
	sub = k % BURST_HIST_SUB;
	return ((double)(BURST_HIST_SUB + sub) + 0.5) *
	    (double)(1ULL << (e - 5));
}

void
burst_hist_add(struct burst_hist *h, uint64_t ns)
{
	size_t	 k = hist_bucket(ns);

	h->n[k < BURST_HIST_N ? k : BURST_HIST_N - 1]++;
	h->total++;
}

void
burst_hist_merge(struct burst_hist *h, const struct burst_hist *o)
{
	size_t	 i;

	for (i = 0; i < BURST_HIST_N; i++)
		h->n[i] += o->n[i];
	h->total += o->total;
}

/* The q-quantile in ns (the bucket's middle), 0 for no samples. */
uint64_t
burst_hist_quantile(const struct burst_hist *h, double q)
{
	uint64_t	 want, seen = 0;
	size_t		 i;

	if (h->total == 0)
		return 0;
	want = (uint64_t)(q * (double)h->total);
	if ((double)want < q * (double)h->total)
		want++;		/* rounded up */
	if (want == 0)
		want = 1;
	for (i = 0; i < BURST_HIST_N; i++)
		if ((seen += h->n[i]) >= want)
			return (uint64_t)hist_value(i);
	return (uint64_t)hist_value(BURST_HIST_N - 1);
}

void
burst_tally_add(struct burst_tally *t, const struct burst_tally *o)
{
	t->cast += o->cast;
	t->delivered += o->delivered;
	t->blocked += o->blocked;
	t->lat_sum += o->lat_sum;
	t->lat_n += o->lat_n;
	if (o->lat_max > t->lat_max)
		t->lat_max = o->lat_max;
	t->dgrams += o->dgrams;
	t->bytes += o->bytes;
	t->retrans += o->retrans;
	t->naks += o->naks;
	t->packs += o->packs;
	t->packed += o->packed;
	burst_hist_merge(&t->h, &o->h);
}

void
burst_progress(const struct burst_conf *c, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[160];

	if (!c->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "\r%s: %s\033[K", c->o.tool->name, line);
	progressed = 1;
}

void
burst_progress_clear(const struct burst_conf *c)
{
	if (c->progress && progressed)
		fputs("\r\033[K", stderr);
	progressed = 0;
}

/* Columns 0 to 11, the parameters of the cell, as text; "" for none. */
static void
row_param(const struct burst_row *r, size_t i, char *buf, size_t len)
{
	const struct burst_tally *t = &r->t;
	const struct burst_cell	*cl = &r->cell;
	double	 reps = r->reps ? r->reps : 1;
	int	 rate = cl->rate != 0;

	switch (i) {
	case 0:
		snprintf(buf, len, "%s", cl->mode == BURST_MODE_ALL ? "all" :
		    "one");
		break;
	case 1:
		snprintf(buf, len, "%s", r->proto);
		break;
	case 2:
		snprintf(buf, len, "%s", r->pack ? r->pack : "default");
		break;
	case 3:
		snprintf(buf, len, "%" PRIu32, r->members);
		break;
	case 4:
		if (!rate)
			snprintf(buf, len, "%" PRIu32, cl->m);
		break;
	case 5:
		snprintf(buf, len, "%" PRIu32, cl->size);
		break;
	case 6:
		if (!rate)
			snprintf(buf, len, "%" PRIu32, cl->rounds);
		break;
	case 7:
		if (rate)
			snprintf(buf, len, "%" PRIu32, cl->rate);
		break;
	case 8:
		if (rate)
			snprintf(buf, len, "%g", cl->duration_ms / 1e3);
		break;
	case 9:
		snprintf(buf, len, "%" PRIu32, r->reps);
		break;
	case 10:
		snprintf(buf, len, "%" PRIu64, t->cast);
		break;
	case 11:
		snprintf(buf, len, "%.6f", r->elapsed / reps);
		break;
	}
}

/* Columns 12 and on, the figures; the table rounds throughput. */
static void
row_figure(const struct burst_row *r, size_t i, int table, char *buf,
    size_t len)
{
	const struct burst_tally *t = &r->t;
	double	 reps = r->reps ? r->reps : 1, msgs = t->cast ? t->cast : 1;
	int	 rate = r->cell.rate != 0;

	switch (i) {
	case 12:
		snprintf(buf, len, table ? "%.0f" : "%.1f", r->thr_sum / reps);
		break;
	case 13:
		snprintf(buf, len, table ? "%.0f" : "%.1f",
		    r->thr_sum / reps * r->members);
		break;
	case 14:
		if (!rate && t->lat_n > 0)
			snprintf(buf, len, "%.3f", (double)t->lat_sum /
			    t->lat_n / 1e6);
		break;
	case 15:
		if (!rate && t->lat_n > 0)
			snprintf(buf, len, "%.3f", t->lat_max / 1e6);
		break;
	case 16:
	case 17:
		if (t->h.total > 0)
			snprintf(buf, len, "%.3f", burst_hist_quantile(&t->h,
			    i == 16 ? 0.5 : 0.99) / 1e6);
		break;
	case 18:
		snprintf(buf, len, "%.3f", t->dgrams / msgs);
		break;
	case 19:
		snprintf(buf, len, "%.1f", t->bytes / msgs);
		break;
	case 20:
		snprintf(buf, len, "%.0f", t->packs / reps);
		break;
	case 21:
		if (t->packs > 0)
			snprintf(buf, len, "%.2f", (double)t->packed /
			    t->packs);
		break;
	case 22:
		snprintf(buf, len, "%.0f", t->retrans / reps);
		break;
	case 23:
		snprintf(buf, len, "%.0f", t->naks / reps);
		break;
	case 24:
		if (rate)
			snprintf(buf, len, "%.0f", t->blocked / reps);
		break;
	}
}

/* The -p raw row of r's cell, if there is one. */
static const struct burst_row *
row_raw(const struct burst_row *r)
{
	const struct burst_cell *a = &r->cell, *b;
	size_t	 k;

	for (k = 0; k < nrows; k++) {
		b = &rows[k].cell;
		if (strcmp(rows[k].proto, BURST_RAW) == 0 &&
		    rows[k].members == r->members && a->mode == b->mode &&
		    a->m == b->m && a->size == b->size && a->rate == b->rate)
			return &rows[k];
	}
	return NULL;
}

/* Columns 25 and on: the row against its path's limit, -p raw. */
static void
row_limit(const struct burst_row *r, size_t i, int table, char *buf,
    size_t len)
{
	const struct burst_row *raw = row_raw(r);
	double	 reps = r->reps ? r->reps : 1, want, rawthr;

	if (raw == NULL)
		return;
	rawthr = raw->thr_sum / (raw->reps ? raw->reps : 1);
	switch (i) {
	case 25:
		snprintf(buf, len, table ? "%.0f" : "%.1f", rawthr);
		break;
	case 26:
		if (rawthr > 0)
			snprintf(buf, len, "%.2f", r->thr_sum / reps / rawthr);
		break;
	case 27:
		/* every member delivers every payload, its own included */
		want = (double)r->members * r->cell.m * r->cell.rounds * reps;
		if (r->cell.mode == BURST_MODE_ALL)
			want *= r->members;
		if (strcmp(r->proto, BURST_RAW) == 0 && want > 0)
			snprintf(buf, len, "%.1f", 100 * (1 -
			    (double)r->t.delivered / want));
		break;
	}
}

/* The row's value of column i as text; "" when it has none. */
static void
row_field(const struct burst_row *r, size_t i, int table, char *buf,
    size_t len)
{
	*buf = '\0';
	if (i < 12)
		row_param(r, i, buf, len);
	else if (i < 25)
		row_figure(r, i, table, buf, len);
	else
		row_limit(r, i, table, buf, len);
}

static void
out_flush(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EX_IOERR, "stdout");
}

static void
row_tsv(const struct burst_row *r)
{
	char	 v[64];
	size_t	 i;

	if (!header_done)
		for (i = 0; i < NCOLS; i++)
			printf("%s%c", cols[i].name, i + 1 < NCOLS ? '\t' :
			    '\n');
	header_done = 1;
	for (i = 0; i < NCOLS; i++) {
		row_field(r, i, 0, v, sizeof(v));
		printf("%s%c", *v ? v : "-", i + 1 < NCOLS ? '\t' : '\n');
	}
}

static void
row_json(const struct burst_row *r)
{
	char	 v[64];
	size_t	 i;

	putchar('{');
	for (i = 0; i < NCOLS; i++) {
		row_field(r, i, 0, v, sizeof(v));
		printf("%s\"%s\":", i ? "," : "", cols[i].name);
		if (*v == '\0')
			fputs("null", stdout);
		else if (i <= 2)	/* mode, protocol, pack: strings */
			printf("\"%s\"", v);
		else
			fputs(v, stdout);
	}
	puts("}");
}

void
burst_report_row(const struct burst_conf *c, const struct burst_row *r)
{
	struct burst_row *nr;

	if (nrows == rowcap) {
		rowcap = rowcap ? rowcap * 2 : 16;
		if ((nr = reallocarray(rows, rowcap, sizeof(*nr))) == NULL)
			err(EX_OSERR, NULL);
		rows = nr;
	}
	rows[nrows++] = *r;
	if (c->out == BURST_OUT_TABLE)
		return;
	burst_progress_clear(c);
	if (c->out == BURST_OUT_TSV)
		row_tsv(r);
	else
		row_json(r);
	out_flush();
}

/* Text left-aligned, numbers right-aligned, two blanks between. */
static void
table_cell(size_t i, int w, const char *v)
{
	if (i > 0)
		fputs("  ", stdout);
	if (i < 3)
		printf("%-*s", w, v);
	else
		printf("%*s", w, v);
}

/* The table: columns that have a value in some row, aligned. */
static void
report_table(void)
{
	char	 v[64];
	int	 w[NCOLS] = { 0 }, shown[NCOLS] = { 0 };
	size_t	 i, k;

	for (i = 0; i < NCOLS; i++)
		if (cols[i].head != NULL)
			w[i] = strlen(cols[i].head);
	for (k = 0; k < nrows; k++)
		for (i = 0; i < NCOLS; i++) {
			row_field(&rows[k], i, 1, v, sizeof(v));
			if (*v != '\0' && cols[i].head != NULL)
				shown[i] = 1;
			if ((int)strlen(v) > w[i])
				w[i] = strlen(v);
		}
	for (i = 0; i < NCOLS; i++)
		if (shown[i])
			table_cell(i, w[i], cols[i].head);
	putchar('\n');
	for (k = 0; k < nrows; k++) {
		for (i = 0; i < NCOLS; i++) {
			if (!shown[i])
				continue;
			row_field(&rows[k], i, 1, v, sizeof(v));
			table_cell(i, w[i], *v ? v : "-");
		}
		putchar('\n');
	}
}

int
burst_have_gnuplot(void)
{
	const char	*path = getenv("PATH");
	char		*dup, *p, *dir, file[4096];
	int		 found = 0;

	if (path == NULL || (dup = strdup(path)) == NULL)
		return 0;
	for (p = dup; !found && (dir = strsep(&p, ":")) != NULL; ) {
		snprintf(file, sizeof(file), "%s/gnuplot", *dir ? dir : ".");
		found = access(file, X_OK) == 0;
	}
	free(dup);
	return found;
}

/* A line of the figures: the rows of one mode and kind with one key. */
struct series {
	char		 key[96];
	int		 mode, rate;
	const char	*look;		/* its protocol's colour and points */
	const char	*dash;		/* its packing's dash type */
	double		 lw;		/* its size's line width */
};

/*
 * How a line looks, fixed by name, so that a protocol has one colour and
 * one point type, and a packing one dash type, in every panel of every
 * figure.  The colours are Okabe and Ito's, which the colour blind tell
 * apart; raw, the limit of the others, is black.  A name not in a table
 * (a delay such as 1ms, a protocol added later) takes the spares in
 * turn, in the order the command line lists such names: distinct within
 * a figure, and the same for the same -p or --pack.
 */
struct look {
	const char	*name;
	const char	*style;		/* gnuplot's words for it */
};

struct looks {
	const struct look	*known;		/* ends with a NULL name */
	const char *const	*spare;
	size_t			 nspare;
};

static const struct look proto_known[] = {
	{ BURST_RAW,	"lc rgb '#000000' pt 3" },	/* star */
	{ "totem",	"lc rgb '#0072b2' pt 5" },	/* square */
	{ "tomfc",	"lc rgb '#56b4e9' pt 9" },	/* triangle */
	{ "total",	"lc rgb '#009e73' pt 7" },	/* circle */
	{ "dynord",	"lc rgb '#e69f00' pt 11" },	/* triangle down */
	{ "dynseq",	"lc rgb '#d55e00' pt 13" },	/* diamond */
	{ "dysfc",	"lc rgb '#cc79a7' pt 15" },	/* pentagon */
	{ NULL,		NULL },
};

static const char *const proto_spare[] = {
	"lc rgb '#7f7f7f' pt 1", "lc rgb '#8c510a' pt 2",
	"lc rgb '#bcbd22' pt 4", "lc rgb '#6a3d9a' pt 6",
};

/* Without --pack, or with one packing, every line is solid. */
static const struct look pack_known[] = {
	{ "adaptive",	"dt 1" },	/* solid */
	{ "off",	"dt 2" },	/* dashed */
	{ "default",	"dt 4" },	/* dash and dot: each protocol's own */
	{ NULL,		NULL },
};

/* the delays: dotted, then patterns of their own */
static const char *const pack_spare[] = {
	"dt 3", "dt 5", "dt (2,6)", "dt (12,4,2,4,2,4)",
};

static const struct looks proto_looks = { proto_known, proto_spare,
	sizeof(proto_spare) / sizeof(proto_spare[0]) };
static const struct looks pack_looks = { pack_known, pack_spare,
	sizeof(pack_spare) / sizeof(pack_spare[0]) };

static const char *
look_find(const struct look *l, const char *name)
{
	for (; l->name != NULL; l++)
		if (strcmp(l->name, name) == 0)
			return l->style;
	return NULL;
}

/* name's style; run lists the names of the command line (NULL: default). */
static const char *
look_up(const struct looks *ls, const char *name, const char *const *run,
    size_t nrun)
{
	const char	*style, *r;
	size_t		 k, nth = 0;

	if ((style = look_find(ls->known, name)) != NULL)
		return style;
	for (k = 0; k < nrun; k++) {
		r = run[k] != NULL ? run[k] : "default";
		if (strcmp(r, name) == 0)
			break;
		nth += look_find(ls->known, r) == NULL;
	}
	return ls->spare[nth % ls->nspare];
}

/* Whether a series' key names its packing: raw has none. */
static int
key_pack(const struct burst_conf *c, const struct burst_row *r)
{
	return c->npacks > 1 && strcmp(r->proto, BURST_RAW) != 0;
}

/* Whether it names its size: several, and x is not the size. */
static int
key_size(const struct burst_conf *c, const struct burst_row *r)
{
	return c->nsizes > 1 && (r->cell.rate == 0 || c->nrates > 1);
}

static void
series_key(const struct burst_conf *c, const struct burst_row *r, char *buf,
    size_t len)
{
	size_t	 n;

	n = snprintf(buf, len, "%s", r->proto);
	if (key_pack(c, r) && n < len)
		n += snprintf(buf + n, len - n, " pack=%s",
		    r->pack ? r->pack : "default");
	if (key_size(c, r) && n < len)
		n += snprintf(buf + n, len - n, " s=%" PRIu32, r->cell.size);
	if (r->cell.rate != 0 && c->nrates == 1 && c->nsizes == 1 && n < len)
		snprintf(buf + n, len - n, " rate=%" PRIu32, r->cell.rate);
}

/*
 * The look of the series of row r.  Sizes, when the key names them, are
 * told apart by width: the later in -s, the wider, in four steps.
 */
static void
series_look(const struct burst_conf *c, const struct burst_row *r,
    struct series *s)
{
	const char	*pack = r->pack != NULL ? r->pack : "default";
	size_t		 i;

	s->look = look_up(&proto_looks, r->proto, c->protos, c->nprotos);
	s->dash = key_pack(c, r) ?
	    look_up(&pack_looks, pack, c->packs, c->npacks) : "dt 1";
	s->lw = 2;
	if (key_size(c, r))
		for (i = 0; i < c->nsizes; i++)
			if (c->sizes[i] == r->cell.size)
				s->lw += i % 4;
}

/* x of a row: m for bursts, the rate or (one rate) the size for loads. */
static double
series_x(const struct burst_conf *c, const struct burst_row *r)
{
	if (r->cell.rate == 0)
		return r->cell.m;
	return c->nrates > 1 ? r->cell.rate : r->cell.size;
}

/* Data blocks, one per series: x, throughput, latency, p99, dgrams/msg. */
static size_t
plot_data(FILE *f, const struct burst_conf *c, struct series *s)
{
	char	 key[96];
	size_t	 n = 0, i, k;
	double	 lat;

	for (k = 0; k < nrows; k++) {
		series_key(c, &rows[k], key, sizeof(key));
		for (i = 0; i < n; i++)
			if (strcmp(s[i].key, key) == 0 &&
			    s[i].mode == rows[k].cell.mode &&
			    s[i].rate == (rows[k].cell.rate != 0))
				break;
		if (i == n) {
			snprintf(s[n].key, sizeof(s[n].key), "%s", key);
			s[n].mode = rows[k].cell.mode;
			s[n].rate = rows[k].cell.rate != 0;
			series_look(c, &rows[k], &s[n]);
			n++;
		}
	}
	for (i = 0; i < n; i++) {
		fprintf(f, "$s%zu << EOD\n", i);
		for (k = 0; k < nrows; k++) {
			series_key(c, &rows[k], key, sizeof(key));
			if (strcmp(s[i].key, key) != 0 ||
			    s[i].mode != rows[k].cell.mode ||
			    s[i].rate != (rows[k].cell.rate != 0))
				continue;
			lat = rows[k].t.lat_n ? (double)rows[k].t.lat_sum /
			    rows[k].t.lat_n / 1e6 :
			    burst_hist_quantile(&rows[k].t.h, 0.5) / 1e6;
			fprintf(f, "%g %g %g %g %g\n", series_x(c, &rows[k]),
			    rows[k].thr_sum / rows[k].reps, lat,
			    burst_hist_quantile(&rows[k].t.h, 0.99) / 1e6,
			    (double)rows[k].t.dgrams / (rows[k].t.cast ?
			    rows[k].t.cast : 1));
		}
		fputs("EOD\n", f);
	}
	return n;
}

/*
 * One panel: column col (2 throughput, 3 latency, 5 datagrams per
 * message) of the series of one mode and kind.
 */
static void
plot_panel(FILE *f, const struct series *s, size_t n, int mode, int rate,
    int col)
{
	const char	*sep = "plot ";
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (s[i].mode != mode || s[i].rate != rate)
			continue;
		fprintf(f, "%s$s%zu using 1:%d with linespoints %s %s lw %g "
		    "ps 0.8 title \"%s\"", sep, i, col, s[i].look, s[i].dash,
		    s[i].lw, s[i].key);
		/* p99: its series' colour, points and dash, half as wide */
		if (rate && col == 3)
			fprintf(f, ", $s%zu using 1:4 with linespoints %s %s "
			    "lw %g ps 0.4 title \"%s p99\"", i, s[i].look,
			    s[i].dash, s[i].lw / 2, s[i].key);
		sep = ", ";
	}
	fputc('\n', f);
}

static void
plot_script(FILE *f, const struct burst_conf *c)
{
	struct series	*s;
	size_t		 n, i;
	int		 mode, rate, nrow = 0, have[2][3] = { { 0 } };
	const char	*who;

	if ((s = calloc(nrows, sizeof(*s))) == NULL)
		err(EX_OSERR, NULL);
	n = plot_data(f, c, s);
	for (i = 0; i < n; i++)
		if (!have[s[i].rate][s[i].mode]++)
			nrow++;
	/* wide enough for a key beside each panel, off the lines */
	fprintf(f, "set terminal svg size 2100,%d dynamic noenhanced "
	    "font 'sans,11' background '#ffffff'\n", 400 * nrow);
	fprintf(f, "set multiplot layout %d,3 title \"toburst: %" PRIu32
	    " members\"\nset logscale xy\nset grid\nset key outside right "
	    "top font ',9'\n", nrow, c->members);
	for (rate = 0; rate < 2; rate++)
		for (mode = 1; mode <= 2; mode++) {
			if (!have[rate][mode])
				continue;
			who = mode == BURST_MODE_ALL ? "every member sends" :
			    "one member sends";
			fprintf(f, "set xlabel \"%s\"\n", !rate ?
			    "burst length m (messages)" : c->nrates > 1 ?
			    "offered load (msgs/s)" : "message size (bytes)");
			fprintf(f, "set ylabel \"throughput (msgs/s per "
			    "member)\"\nset title \"throughput, %s\"\n", who);
			plot_panel(f, s, n, mode, rate, 2);
			fprintf(f, "set ylabel \"%s (ms)\"\nset title \"%s, "
			    "%s\"\n", rate ? "early latency p50, p99" :
			    "round latency", rate ? "early latency" :
			    "round latency", who);
			plot_panel(f, s, n, mode, rate, 3);
			fprintf(f, "set ylabel \"datagrams sent per message\"\n"
			    "set title \"datagrams per message (all members), "
			    "%s\"\n", who);
			plot_panel(f, s, n, mode, rate, 5);
		}
	fputs("unset multiplot\n", f);
	free(s);
}

/* gnuplot reads the script on stdin and writes the SVG to the file. */
static void
report_plot(const struct burst_conf *c)
{
	int	 p[2], fd, st;
	pid_t	 pid;
	FILE	*f;

	if (nrows == 0)
		return;
	if ((fd = open(c->plot, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0666)) == -1)
		err(EX_CANTCREAT, "%s", c->plot);
	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1)
		err(EX_OSERR, "gnuplot");
	if (pid == 0) {
		if (dup2(p[0], STDIN_FILENO) == -1 ||
		    dup2(fd, STDOUT_FILENO) == -1)
			_exit(EX_OSERR);
		execlp("gnuplot", "gnuplot", (char *)NULL);
		warn("gnuplot");
		_exit(EX_UNAVAILABLE);
	}
	close(p[0]);
	close(fd);
	signal(SIGPIPE, SIG_IGN);
	if ((f = fdopen(p[1], "w")) == NULL)
		err(EX_OSERR, "gnuplot");
	plot_script(f, c);
	fclose(f);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			err(EX_OSERR, "waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		errx(EX_UNAVAILABLE, "--plot %s: gnuplot failed", c->plot);
}

/* The end of the run (or a failure): the table, then the figures. */
void
burst_report_end(const struct burst_conf *c, int failed)
{
	static int	 done;

	if (done++)
		return;
	burst_progress_clear(c);
	if (c->out == BURST_OUT_TABLE && nrows > 0)
		report_table();
	out_flush();
	if (c->plot != NULL && !failed)
		report_plot(c);
}
