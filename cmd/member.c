/*
 * member.c: a member opened from the options: the key it seals with,
 * what it says when the library refuses datagrams or to_open() fails,
 * its -v lines (views, buffers, counters), and the end of a member whose
 * group let it go.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include "opts.h"

/* Why datagrams are refused, for the warning; see opts_refused(). */
static const char *const opts_refusals[] = {
	[TO_REFUSED_UNSEALED] = "not sealed, and we have a key (-k)",
	[TO_REFUSED_SEALED] = "sealed with a key (-k) we do not have",
	[TO_REFUSED_KEY] = "not sealed with our key (-k)",
	[TO_REFUSED_STACK] = "it runs another protocol stack (-s)",
};

static uint32_t	 opts_view_n;		/* members of our last view, 0: none */

/*
 * Read the group key from o->keyfile: at least TO_KEY_MIN bytes, at most
 * OPTS_KEY_MAX, and no access for group or others.  A file that cannot be
 * read is EX_NOINPUT, one that is unfit to be a key EX_USAGE.
 */
void
opts_load_key(struct opts *o)
{
	const char	*path = o->keyfile, *from = o->keyfile_from;
	struct stat	 st;
	unsigned char	*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1)
		err(EX_NOINPUT, "%s %s", from, path);
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		err(EX_NOINPUT, "%s %s", from, path);
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		errx(EX_USAGE, "%s %s: not a regular file, expected a file "
		    "of at least %d random bytes", from, path,
		    TO_KEY_MIN);
	if (st.st_mode & 077)
		errx(EX_USAGE, "%s %s: insecure permissions %04o, expected "
		    "no access for group and others (chmod 600 %s)", from,
		    path, (unsigned)(st.st_mode & 07777), path);
	if ((buf = malloc(OPTS_KEY_MAX + 1)) == NULL)
		err(EX_OSERR, NULL);
	while (len <= OPTS_KEY_MAX) {
		n = read(fd, buf + len, OPTS_KEY_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(EX_NOINPUT, "%s %s", from, path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len < TO_KEY_MIN)
		errx(EX_USAGE, "%s %s: key too short (%zu bytes), expected at "
		    "least %d bytes of random data", from, path, len,
		    TO_KEY_MIN);
	if (len > OPTS_KEY_MAX)
		errx(EX_USAGE, "%s %s: key too long, expected at most %d "
		    "bytes", from, path, OPTS_KEY_MAX);
	o->key = buf;
	o->cfg.key = buf;
	o->cfg.keylen = len;
}

/*
 * The library tells us that a sender's datagrams keep being refused for
 * their key: say so (unless -q), once for each reason.
 */
void
opts_refused(void *arg, uint64_t src, enum to_refusal r)
{
	struct opts	*o = arg;

	if (r < TO_REFUSED_UNSEALED || r > TO_REFUSED_STACK ||
	    (o->refusals & 1u << r))
		return;
	/*
	 * Another stack: a joiner (no view yet) cannot join the group it
	 * hears, and says so as one of another protocol does; a member in
	 * a view goes on and warns.
	 */
	if (r == TO_REFUSED_STACK && opts_view_n == 0)
		errx(EX_UNAVAILABLE, "group %s: member %016" PRIx64 " runs "
		    "another protocol stack than %s (check -s)",
		    o->cfg.group, src, o->cfg.stack != NULL ? o->cfg.stack :
		    "ours");
	o->refusals |= 1u << r;
	if (!o->quiet)
		warnx("dropping datagrams from %016" PRIx64 ": %s", src,
		    opts_refusals[r]);
}

/*
 * The settings to_open() rejects with EINVAL that came from the user, for
 * the error message: "(check -s x:y, TO_FAULTS=loss=200%)".
 */
static void
opts_suspects(const struct opts *o, char *buf, size_t len)
{
	const struct to_config	*c = &o->cfg;
	const char		*sep = " (check ";

	*buf = '\0';
	if (c->stack != NULL) {
		snprintf(buf, len, "%s-s %s", sep, c->stack);
		sep = ", ";
	}
	if (c->transport != NULL) {
		snprintf(buf + strlen(buf), len - strlen(buf), "%s-t %s", sep,
		    c->transport);
		sep = ", ";
	}
	if (c->iface != NULL) {
		snprintf(buf + strlen(buf), len - strlen(buf), "%s-i %s", sep,
		    c->iface);
		sep = ", ";
	}
	if (c->faults != NULL)
		snprintf(buf + strlen(buf), len - strlen(buf),
		    "%sTO_FAULTS=%s", sep, c->faults);
	if (*buf != '\0')
		strlcat(buf, ")", len);
}

/*
 * -v: the transport's socket buffers, with what it asked for, so that a
 * kernel limit (net.core.rmem_max, wmem_max) that clamped them shows.
 */
static void
opts_buffers(const struct opts *o, struct to_group *g)
{
	const struct to_stats	*st = to_stats(g);

	if (st->rcvbuf != 0)
		opts_verbose(o, "receive buffer %" PRIu64 " bytes (asked %"
		    PRIu64 ")", st->rcvbuf, st->buf_asked);
	if (st->sndbuf != 0)
		opts_verbose(o, "send buffer %" PRIu64 " bytes (asked %"
		    PRIu64 ")", st->sndbuf, st->buf_asked);
}

struct to_group *
opts_open(const struct opts *o, const struct to_callbacks *cb)
{
	struct to_group	*g;
	char		 why[512];
	int		 saved;

	if ((g = to_open(&o->cfg, cb)) != NULL) {
		opts_buffers(o, g);
		return g;
	}
	saved = errno;
	if (saved == EINVAL || saved == ENOTSUP || saved == EPROTONOSUPPORT) {
		opts_suspects(o, why, sizeof(why));
		errx(EX_USAGE, "group %s: %s%s", o->cfg.group,
		    strerror(saved), why);
	}
	errx(EX_OSERR, "group %s: %s", o->cfg.group, strerror(saved));
}

void
opts_verbose(const struct opts *o, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[512];

	if (!o->verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", o->tool->name, line);
}

/* With -v: what came and went, and what was dropped for what reason. */
void
opts_stats(const struct opts *o, struct to_group *g)
{
	const struct to_stats	*st = to_stats(g);

	opts_verbose(o, "datagrams: %" PRIu64 " sent, %" PRIu64 " received, "
	    "dropped: %" PRIu64 " malformed, %" PRIu64 " foreign, %" PRIu64
	    " unauthentic, %" PRIu64 " unsealed, %" PRIu64 " replayed",
	    st->dgrams_sent, st->dgrams_recv, st->dropped_bad,
	    st->dropped_foreign, st->dropped_auth, st->dropped_unsealed,
	    st->dropped_replay);
	if (st->departed > 0 || st->unordered_gaps > 0)
		opts_verbose(o, "messages not delivered at a view's end: %"
		    PRIu64 " of members that did not go on with us, %" PRIu64
		    " behind a gap", st->departed, st->unordered_gaps);
}

/* "tocast: joined view 3: 8f3a21c0d1e2f3a4 ... (3 members)", one write. */
void
opts_view(const struct opts *o, const struct to_view *v)
{
	char		*line;
	size_t		 len, n;
	uint32_t	 i;

	opts_view_n = v->n;
	if (!o->verbose)
		return;
	len = strlen(o->tool->name) + 64 + (size_t)v->n * 17;
	if ((line = malloc(len)) == NULL) {
		warn("view %" PRIu64, v->id);
		return;
	}
	n = snprintf(line, len, "%s: joined view %" PRIu64 ":",
	    o->tool->name, v->id);
	for (i = 0; i < v->n; i++)
		n += snprintf(line + n, len - n, " %016" PRIx64,
		    v->members[i]);
	snprintf(line + n, len - n, " (%" PRIu32 " member%s)\n", v->n,
	    v->n == 1 ? "" : "s");
	fputs(line, stderr);
	free(line);
}

/*
 * Run the group's work; on a fatal error say why and exit: 69 when the
 * group would not have us (it runs another protocol), 71 otherwise.
 */
void
opts_process(struct to_group *g, const char *group)
{
	const char	*why;

	if (to_process(g) == 0)
		return;
	if ((why = to_error(g)) != NULL)
		errx(EX_UNAVAILABLE, "group %s: %s", group, why);
	err(EX_OSERR, "group %s", group);
}
