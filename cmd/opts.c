/*
 * opts.c: the options every command takes: one table of them, the
 * parser, --help and --version, and the checks that name a mistake
 * before to_open() could only say EINVAL.  A member is opened from them
 * in member.c.
 *
 * One table describes every option; a command names the letters it takes
 * in its opts_tool, and only those (and their long forms) are accepted, so
 * "torecv --wait 3" is as unknown as "torecv -w 3".
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "opts.h"

#define OPTS_TIMEOUT_MAX	1e9	/* seconds, keeps ns in 64 bits */

static const struct opts_def opts_defs[] = {
	{ "null", '0', NULL, "end each record with NUL, not newline" },
	{ "until-alone", 'A', NULL, "exit once the senders have left" },
	{ "check", 'c', NULL, "check that the logs agree" },
	{ "views", 'e', NULL, "write the views among the records" },
	{ "framed", 'F', NULL, "records framed as in to-frame(5)" },
	{ "gaps-ok", OPTS_GAPS_OK, NULL, "exit 0 even if the stream has a gap" },
	{ "group", 'g', "group", "the group's name" },
	{ "help", 'h', NULL, "print this help and exit" },
	{ "interface", 'i', "iface", "network interface for udp and udpu" },
	{ "json", 'j', NULL, "write JSON lines" },
	{ "key", 'k', "keyfile", "seal the traffic with this key" },
	{ "max-size", 'M', "bytes", "largest message, with k, m or g" },
	{ "count", 'n', "count", "exit after count records or views" },
	{ "protocol", 'p', "protocol", "ordering protocol, or list" },
	{ "quiet", 'q', NULL, "print no warnings" },
	{ "echo", 'r', NULL, "also write the delivered stream" },
	{ "stack", 's', "stack", "whole protocol stack, top layer first" },
	{ "stall", OPTS_STALL, "seconds", "give up after so long without "
	    "progress" },
	{ "suspect", OPTS_SUSPECT, "ms", "suspect a member silent this long" },
	{ "pack", OPTS_PACK, "packing", "adaptive, off, a delay or default" },
	{ "pack-max", OPTS_PACK_MAX, "bytes", "most bytes in one pack" },
	{ "compress", OPTS_COMPRESS, "level", "zlib level for packs, 0 to 9" },
	{ "transport", 't', "transport", "local, udp://... or udpu://..." },
	{ "timeout", 'T', "seconds", "give up waiting after seconds" },
	{ "verbose", 'v', NULL, "print the member's life on stderr" },
	{ "version", 'V', NULL, "print the version and exit" },
	{ "wait", 'w', "members", "members to wait for before sending" },
	{ "window", 'W', "window", "messages in flight per member" },
};
#define OPTS_NDEFS	(sizeof(opts_defs) / sizeof(opts_defs[0]))

static int	 opts_stdout_was_closed;	/* at the start: see opts_stdfds() */

/* An unset or empty environment variable is NULL. */
static const char *
opts_env(const char *name)
{
	const char	*s = getenv(name);

	return s != NULL && *s != '\0' ? s : NULL;
}

/* "-n" or "--suspect": how messages name option ch. */
static const char *
opts_name(int ch)
{
	static char	 buf[32];
	size_t		 i;

	for (i = 0; ch > UCHAR_MAX && i < OPTS_NDEFS; i++)
		if (opts_defs[i].ch == ch) {
			snprintf(buf, sizeof(buf), "--%s", opts_defs[i].name);
			return buf;
		}
	snprintf(buf, sizeof(buf), "-%c", ch);
	return buf;
}

long long
opts_number(const char *opt, const char *arg, long long min, long long max)
{
	const char	*errstr;
	long long	 n;

	n = strtonum(arg, min, max, &errstr);
	if (errstr != NULL)
		errx(EX_USAGE, "%s %s: %s, expected %lld to %lld", opt, arg,
		    errstr, min, max);
	return n;
}

static long long
opts_num(int ch, const char *arg, long long min, long long max)
{
	return opts_number(opts_name(ch), arg, min, max);
}

/* -M: bytes, with an optional k, m or g suffix (powers of 1024). */
static size_t
opts_size(const char *arg)
{
	unsigned long long	 n, mul = 1;
	char			*end;

	errno = 0;
	n = strtoull(arg, &end, 10);
	switch (*end) {
	case 'k': case 'K':
		mul = 1ULL << 10;
		end++;
		break;
	case 'm': case 'M':
		mul = 1ULL << 20;
		end++;
		break;
	case 'g': case 'G':
		mul = 1ULL << 30;
		end++;
		break;
	}
	if (end == arg || *end != '\0' || *arg == '-' || *arg == '+' ||
	    errno != 0)
		errx(EX_USAGE, "-M %s: invalid size, expected 1 to 1G bytes",
		    arg);
	if (n == 0 || n > OPTS_MAXMSG_MAX / mul)
		errx(EX_USAGE, "-M %s: %s, expected 1 to 1G bytes", arg,
		    n == 0 ? "too small" : "too large");
	return n * mul;
}

/* -T, --stall: seconds, decimals allowed; returns ns. */
static uint64_t
opts_seconds(int ch, const char *arg)
{
	double	 s;
	char	*end;

	errno = 0;
	s = strtod(arg, &end);
	if (end == arg || *end != '\0' || errno != 0 || !isfinite(s) ||
	    s <= 0 || s > OPTS_TIMEOUT_MAX)
		errx(EX_USAGE, "%s %s: invalid %s, expected seconds "
		    "greater than 0", opts_name(ch), arg,
		    ch == 'T' ? "timeout" : "time");
	return (uint64_t)(s * 1e9);
}

static void
opts_check_group(const char *name, const char *from)
{
	size_t	 n = strlen(name);

	if (n == 0 || n >= TO_GROUP_MAX ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") != n)
		errx(EX_USAGE, "%s %s: invalid group name, expected 1 to %d "
		    "of A-Z a-z 0-9 . _ -", from, name, TO_GROUP_MAX - 1);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		errx(EX_USAGE, "%s %s: invalid group name, . and .. are not "
		    "names", from, name);
}

/* -t: "key=value" of n bytes, udpu if it is for udpu://; exits 64. */
static void
opts_transport_param(const char *t, const char *from, const char *s,
    size_t n, int udpu, unsigned *seen)
{
	static const char *const keys[] = { "ttl", "mtu", "buf", "port" };
	static const long long lo[] = { 1, TO_MTU_MIN, 4096, 1 };
	static const long long hi[] = { 255, TO_MTU_MAX, 1 << 30, 65535 };
	const char	*eq = memchr(s, '=', n), *errstr;
	char		 v[32];
	size_t		 k, i, vn;
	long long	 mul = 1;

	if (n == 0)
		errx(EX_USAGE, "%s %s: an empty parameter (a stray ? or &)",
		    from, t);
	k = eq != NULL ? (size_t)(eq - s) : n;
	for (i = 0; i < 4; i++)
		if (strlen(keys[i]) == k && memcmp(s, keys[i], k) == 0)
			break;
	if (i == 4 || (i == 3 && !udpu))
		errx(EX_USAGE, "%s %s: unknown parameter %.*s, expected %s",
		    from, t, (int)k, s, udpu ? "ttl, mtu, buf or port" :
		    "ttl, mtu or buf (the port goes after the address)");
	if (*seen & 1u << i)
		errx(EX_USAGE, "%s %s: %s given twice", from, t, keys[i]);
	*seen |= 1u << i;
	vn = eq != NULL ? n - k - 1 : 0;
	if (vn == 0 || vn >= sizeof(v))
		errx(EX_USAGE, "%s %s: %s needs a value, %lld to %lld", from,
		    t, keys[i], lo[i], hi[i]);
	memcpy(v, eq + 1, vn);
	v[vn] = '\0';
	if (i == 2 && strchr("kKmM", v[vn - 1]) != NULL) {
		mul = strchr("kK", v[vn - 1]) != NULL ? 1 << 10 : 1 << 20;
		v[vn - 1] = '\0';
	}
	(void)strtonum(v, (lo[i] + mul - 1) / mul, hi[i] / mul, &errstr);
	if (errstr != NULL)
		errx(EX_USAGE, "%s %s: %s=%.*s: %s, expected %lld to %lld%s",
		    from, t, keys[i], (int)vn, eq + 1, errstr, lo[i], hi[i],
		    i == 1 ? " bytes" : "");
}

/* -t udp://: "[ADDR][:PORT]", ADDR multicast; udpu://: "HOST[:PORT],...". */
static void
opts_transport_addr(const char *t, const char *from, const char *s,
    size_t n, int udpu)
{
	char		 host[256], port[16];
	const char	*colon, *errstr;
	struct addrinfo	 hints, *res;
	struct in_addr	 a;
	size_t		 hn;
	int		 e;

	colon = memchr(s, ':', n);
	hn = colon != NULL ? (size_t)(colon - s) : n;
	if (hn >= sizeof(host) || (colon != NULL &&
	    n - hn - 1 >= sizeof(port)))
		errx(EX_USAGE, "%s %s: %.*s: too long", from, t, (int)n, s);
	memcpy(host, s, hn);
	host[hn] = '\0';
	if (colon != NULL) {
		memcpy(port, colon + 1, n - hn - 1);
		port[n - hn - 1] = '\0';
		(void)strtonum(port, 1, 65535, &errstr);
		if (port[0] == '\0')
			errx(EX_USAGE, "%s %s: a ':' without a port, expected "
			    "1 to 65535", from, t);
		if (errstr != NULL)
			errx(EX_USAGE, "%s %s: port %s: %s, expected 1 to "
			    "65535", from, t, port, errstr);
	}
	if (!udpu) {
		if (hn > 0 && (inet_pton(AF_INET, host, &a) != 1 ||
		    !IN_MULTICAST(ntohl(a.s_addr))))
			errx(EX_USAGE, "%s %s: %s: not an IPv4 multicast "
			    "address (224.0.0.0 to 239.255.255.255); for "
			    "unicast peers use udpu://", from, t, host);
		return;
	}
	if (hn == 0)
		errx(EX_USAGE, "%s %s: a peer without a host", from, t);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_DGRAM;
	if ((e = getaddrinfo(host, NULL, &hints, &res)) != 0)
		errx(EX_USAGE, "%s %s: host %s: %s", from, t, host,
		    gai_strerror(e));
	a = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
	freeaddrinfo(res);
	if (a.s_addr == htonl(INADDR_ANY) || IN_MULTICAST(ntohl(a.s_addr)))
		errx(EX_USAGE, "%s %s: host %s: not a unicast address; for "
		    "multicast use udp://", from, t, host);
}

/*
 * -t: the transport's name and spec, checked here so that a mistake is
 * named (to_open() has only EINVAL for them all).
 */
static void
opts_check_transport(const char *t, const char *from)
{
	const char	*s, *q, *p, *end;
	unsigned	 seen = 0;
	int		 udpu;

	if (strcmp(t, "local") == 0 || strcmp(t, "udp") == 0 ||
	    strcmp(t, "udpu") == 0)
		return;
	if (strncmp(t, "udp://", 6) == 0)
		udpu = 0;
	else if (strncmp(t, "udpu://", 7) == 0)
		udpu = 1;
	else
		errx(EX_USAGE, "%s %s: unknown transport, expected local, "
		    "udp://[ADDR][:PORT] or udpu://HOST[:PORT],...", from, t);
	s = t + (udpu ? 7 : 6);
	q = s + strcspn(s, "?");
	if (udpu) {
		for (p = s; p < q; p = end + 1) {
			end = memchr(p, ',', q - p);
			if (end == NULL)
				end = q;
			opts_transport_addr(t, from, p, end - p, 1);
		}
	} else
		opts_transport_addr(t, from, s, q - s, 0);
	if (*q == '\0')
		return;
	for (p = q + 1; ; p = end + 1) {
		end = p + strcspn(p, "&");
		opts_transport_param(t, from, p, end - p, udpu, &seen);
		if (*end == '\0')
			break;
	}
}

static void
opts_list_protocols(void)
{
	const char *const	*p;
	int			 w = 0;

	for (p = to_protocols(); *p != NULL; p++)
		if ((int)strlen(*p) > w)
			w = strlen(*p);
	for (p = to_protocols(); *p != NULL; p++)
		printf("%-*s  %s\n", w, *p, to_protocol_about(*p));
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EX_IOERR, "stdout");
	exit(EX_OK);
}

static void
opts_check_protocol(const char *name)
{
	const char *const	*p;
	char			 valid[256] = "";

	for (p = to_protocols(); *p != NULL; p++) {
		if (strcmp(*p, name) == 0)
			return;
		if (p != to_protocols())
			strlcat(valid, ", ", sizeof(valid));
		strlcat(valid, *p, sizeof(valid));
	}
	errx(EX_USAGE, "-p %s: unknown protocol, expected one of: %s, or list",
	    name, valid);
}

/* Whether ch is one of the tool's own options. */
static int
opts_own(const struct opts_tool *t, int ch)
{
	const struct opts_def	*l;

	for (l = t->own; l != NULL && l->name != NULL; l++)
		if (l->ch == ch)
			return 1;
	return 0;
}

/* Whether tool t takes option ch, a letter or a long-only one. */
static int
opts_takes(const struct opts_tool *t, int ch)
{
	const int	*l;

	if (opts_own(t, ch))
		return 0;	/* the tool's own, not the shared one */
	if (ch <= UCHAR_MAX)
		return ch != ':' && strchr(t->optstring, ch) != NULL;
	for (l = t->longs; l != NULL && *l != 0; l++)
		if (*l == ch)
			return 1;
	return 0;
}

/*
 * The options tool t takes, its own first, then the shared ones it takes;
 * returns how many (at most OPTS_NDEFS + OPTS_OWN_MAX).
 */
static size_t
opts_taken(const struct opts_tool *t, const struct opts_def **d)
{
	const struct opts_def	*l;
	size_t			 i, n = 0;

	for (l = t->own; l != NULL && l->name != NULL; l++)
		if (n < OPTS_OWN_MAX)
			d[n++] = l;
	for (i = 0; i < OPTS_NDEFS; i++)
		if (opts_takes(t, opts_defs[i].ch))
			d[n++] = &opts_defs[i];
	return n;
}

/* The long options of the tool: of its letters, and its long-only ones. */
static void
opts_longopts(const struct opts_tool *t, struct option *lo)
{
	const struct opts_def	*d[OPTS_NDEFS + OPTS_OWN_MAX];
	size_t			 i, n;

	n = opts_taken(t, d);
	for (i = 0; i < n; i++) {
		lo[i].name = d[i]->name;
		lo[i].has_arg = d[i]->arg != NULL ? required_argument :
		    no_argument;
		lo[i].flag = NULL;
		lo[i].val = d[i]->ch;
	}
	memset(&lo[n], 0, sizeof(lo[n]));
}

/* "-g" or "--suspect" as the page sorts it: "g", "suspect". */
static const char *
opts_sortkey(const struct opts_def *d, char *buf)
{
	if (d->ch > UCHAR_MAX)
		return d->name;
	buf[0] = d->ch;
	buf[1] = '\0';
	return buf;
}

/* The order of the page: by letter or long name, A before a. */
static int
opts_cmp(const void *a, const void *b)
{
	const struct opts_def	*da = *(const struct opts_def *const *)a;
	const struct opts_def	*db = *(const struct opts_def *const *)b;
	char			 ka[2], kb[2];
	const char		*sa, *sb;
	int			 c;

	sa = opts_sortkey(da, ka);
	sb = opts_sortkey(db, kb);
	if ((c = strcasecmp(sa, sb)) != 0)
		return c;
	return strcmp(sa, sb);
}

void
opts_usage(const struct opts_tool *t, int status)
{
	fputs(t->synopsis, status == EX_OK ? stdout : stderr);
	exit(status);
}

/* --help: the usage, then a line for each option, in the page's order. */
static void
opts_help(const struct opts_tool *t)
{
	const struct opts_def	*d[OPTS_NDEFS + OPTS_OWN_MAX];
	char			 spell[64];
	size_t			 i, n;

	fputs(t->synopsis, stdout);
	putchar('\n');
	n = opts_taken(t, d);
	qsort(d, n, sizeof(d[0]), opts_cmp);
	for (i = 0; i < n; i++) {
		if (d[i]->ch <= UCHAR_MAX)
			snprintf(spell, sizeof(spell), "-%c, --%s", d[i]->ch,
			    d[i]->name);
		else
			snprintf(spell, sizeof(spell), "    --%s", d[i]->name);
		if (d[i]->arg != NULL)
			snprintf(spell + strlen(spell),
			    sizeof(spell) - strlen(spell), "=%s", d[i]->arg);
		printf("  %-28s %s\n", spell, d[i]->help);
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EX_IOERR, "stdout");
	exit(EX_OK);
}

/* getopt_long(3) returned '?' (unknown) or ':' (argument missing). */
static void
opts_bad_option(const struct opts_tool *t, int ch, const char *arg)
{
	const char	*what = ch == ':' ? "needs an argument" : "is unknown";

	if (strncmp(arg, "--", 2) == 0)
		warnx("option %.*s %s", (int)strcspn(arg, "="), arg, what);
	else
		warnx("option -%c %s", optopt, what);
	opts_usage(t, EX_USAGE);
}

static void
opts_version(const struct opts_tool *t)
{
	printf("%s %s\n", t->name, TO_VERSION);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EX_IOERR, "stdout");
	exit(EX_OK);
}

static void
opts_defaults(struct opts *o, const struct opts_tool *t)
{
	memset(o, 0, sizeof(*o));
	o->tool = t;
	o->mode = FRAME_LINE;
	o->wait = 1;
	o->cfg.protocol = "dynseq";
	o->cfg.pack = t->pack;
	o->cfg.group = opts_env("TO_GROUP");
	o->group_from = "TO_GROUP";
	o->cfg.transport = opts_env("TO_TRANSPORT");
	o->transport_from = "TO_TRANSPORT";
	o->cfg.faults = opts_env("TO_FAULTS");
	o->stall = OPTS_STALL_DEFAULT;
	o->keyfile = opts_env("TO_KEYFILE");
	o->keyfile_from = "TO_KEYFILE";
	o->cfg.refused = opts_refused;
	o->cfg.refused_arg = o;
}

/* Apply one option; 0 unless it was -p list. */
static int
opts_one(struct opts *o, int ch, const char *arg)
{
	switch (ch) {
	case '0':
		o->mode = FRAME_NUL;
		break;
	case 'A':
		o->until_alone = 1;
		break;
	case 'c':
		o->check = 1;
		break;
	case 'e':
		o->views = 1;
		break;
	case 'F':
		o->mode = FRAME_BIN;
		break;
	case 'g':
		o->cfg.group = arg;
		o->group_from = "-g";
		break;
	case 'i':
		o->cfg.iface = arg;
		break;
	case 'j':
		o->json = 1;
		break;
	case 'k':
		o->keyfile = arg;
		o->keyfile_from = "-k";
		break;
	case 'M':
		o->cfg.max_msg = opts_size(arg);
		break;
	case 'n':
		o->count = opts_num(ch, arg, 1, LLONG_MAX);
		break;
	case 'p':
		if (strcmp(arg, "list") == 0)
			return 1;
		opts_check_protocol(arg);
		o->cfg.protocol = arg;
		break;
	case 'q':
		o->quiet = 1;
		break;
	case 'r':
		o->echo = 1;
		break;
	case 's':
		o->cfg.stack = arg;
		break;
	case OPTS_PACK_MAX:
		o->cfg.pack_max = opts_num(ch, arg, 1, OPTS_MAXMSG_MAX);
		break;
	case OPTS_COMPRESS:
		o->cfg.compress = opts_num(ch, arg, 0, 9);
		break;
	case OPTS_GAPS_OK:
		o->gaps_ok = 1;
		break;
	case OPTS_STALL:
		o->stall = opts_seconds(ch, arg);
		break;
	case OPTS_SUSPECT:
		o->cfg.suspect_ms = opts_num(ch, arg, OPTS_SUSPECT_MIN,
		    OPTS_SUSPECT_MAX);
		break;
	case OPTS_PACK:
		if (strcmp(arg, "default") == 0)
			arg = NULL;
		else if (to_pack_check(arg) == -1)
			errx(EX_USAGE, "--pack %s: invalid packing, expected "
			    "adaptive, off, default or a delay such as 1ms",
			    arg);
		o->cfg.pack = arg;
		break;
	case 't':
		o->cfg.transport = arg;
		o->transport_from = "-t";
		break;
	case 'T':
		o->timeout = opts_seconds(ch, arg);
		break;
	case 'v':
		o->verbose = 1;
		break;
	case 'w':
		o->wait = opts_num(ch, arg, 1, OPTS_WAIT_MAX);
		break;
	case 'W':
		o->cfg.window = opts_num(ch, arg, 1, OPTS_WINDOW_MAX);
		break;
	default:
		opts_usage(o->tool, EX_USAGE);
	}
	return 0;
}

/*
 * Put /dev/null on a closed 0, 1 or 2, so that no descriptor we open
 * later takes its place; remember a closed stdout to report it.
 */
static void
opts_stdfds(void)
{
	int	 fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (fd == STDOUT_FILENO)
			opts_stdout_was_closed = 1;
		if (open("/dev/null", O_RDWR) != fd)
			_exit(EX_OSERR);
	}
}

int
opts_stdout_closed(void)
{
	return opts_stdout_was_closed;
}

void
opts_parse(struct opts *o, const struct opts_tool *t, int argc, char *argv[])
{
	struct option	 lo[OPTS_NDEFS + OPTS_OWN_MAX + 1];
	char		 optstring[64];
	int		 ch, list = 0, nul = 0, framed = 0;

	/*
	 * Large messages: keep the buffers of reassembly and delivery in
	 * the heap rather than mmap and unmap each (page faults were 10% of
	 * all CPU with 1 MiB messages); glibc's ceiling is 32 MiB.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
	(void)mallopt(M_TRIM_THRESHOLD, 64 << 20);

	opts_stdfds();
	opts_defaults(o, t);
	opts_longopts(t, lo);
	snprintf(optstring, sizeof(optstring), ":%s", t->optstring);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, optstring, lo, NULL)) != -1) {
		if (ch == '?' || ch == ':')
			opts_bad_option(t, ch, argv[optind - 1]);
		if (ch == 'h')
			opts_help(t);
		if (ch == 'V')
			opts_version(t);
		nul |= ch == '0';
		framed |= ch == 'F';
		if (opts_own(t, ch) && t->option(o, ch, optarg))
			continue;
		list |= opts_one(o, ch, optarg);
	}
	if (nul && framed)
		errx(EX_USAGE, "-0 and -F cannot be used together");
	if (list)
		opts_list_protocols();
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (o->nfiles > 0 && !t->operands) {
		warnx("unexpected argument: %s", o->files[0]);
		opts_usage(t, EX_USAGE);
	}
	if (o->cfg.group == NULL && !t->group_optional)
		errx(EX_USAGE, "no group: use -g or set TO_GROUP");
	if (o->cfg.group != NULL)
		opts_check_group(o->cfg.group, o->group_from);
	if (o->cfg.transport != NULL)
		opts_check_transport(o->cfg.transport, o->transport_from);
	if (o->cfg.max_msg == 0)
		o->cfg.max_msg = TO_MAX_MSG_DEFAULT;
	if (o->keyfile != NULL)
		opts_load_key(o);
}
