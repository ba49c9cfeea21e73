/*
 * toview: look at a group and at what its members delivered.
 *
 * Three modes, chosen by the options:
 *  -g group	watch the group without joining it (to_config.watch) and
 *		print each view a coordinator announces;
 *  -c log ...	check the framed delivery logs of several members against
 *		the guarantees with lib/verify.c;
 *  [file]	render a framed stream (to-frame(5)) as text or JSON lines.
 *
 * Output goes through stdio; a reader that goes away ends toview quietly
 * with 0, as it does torecv.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <zlib.h>

#include "frame.h"
#include "opts.h"
#include "to.h"
#include "verify.h"

#define TOVIEW_READ	(64u << 10)	/* largest read(2) of a log */
#define TOVIEW_VIOLATION 1		/* exit status: --check found one */
#define VIEW_META_FLAGS	12		/* offset of u32 flags in VIEW metadata */
#define VIEW_TRANSITIONAL 0x1		/* a flag of them, as VERIFY_TRANSITIONAL */

static const char toview_synopsis[] =
    "usage: toview [-jV] -g group [-i iface] [-k keyfile] [-n count]\n"
    "              [-p protocol] [-s stack] [-t transport] [-T seconds]\n"
    "       toview [-j] [-M bytes] [file]\n"
    "       toview -c [-M bytes] log ...\n";

static const struct opts_tool toview_tool = {
	.name = "toview",
	.synopsis = toview_synopsis,
	.optstring = "cg:hi:jk:M:n:p:s:t:T:V",
	.operands = 1,
	.group_optional = 1,
};

/* --- output ---------------------------------------------------------- */

/* After a write to stdout: a reader that went away is a clean end. */
static void
out_check(void)
{
	if (!ferror(stdout))
		return;
	if (errno == EPIPE)
		exit(EX_OK);
	err(EX_IOERR, "stdout");
}

static void
out_flush(void)
{
	if (fflush(stdout) == EOF)
		out_check();
	out_check();
}

/* The payload as text: printable ASCII as is, the rest C-escaped. */
static void
put_text(const unsigned char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		switch (p[i]) {
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		default:
			if (p[i] >= 0x20 && p[i] < 0x7f)
				putchar(p[i]);
			else
				printf("\\x%02x", p[i]);
		}
	}
}

/* The length of the UTF-8 sequence at p (at most left bytes), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t left)
{
	size_t	 n, i;
	uint32_t c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return n;
}

static int
utf8_valid(const unsigned char *p, size_t len)
{
	size_t	 i, n;

	for (i = 0; i < len; i += n)
		if ((n = utf8_len(p + i, len - i)) == 0)
			return 0;
	return 1;
}

/* A JSON string of UTF-8 text. */
static void
put_json_string(const unsigned char *p, size_t len)
{
	size_t	 i;

	putchar('"');
	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			printf("\\%c", p[i]);
		else if (p[i] == '\n')
			fputs("\\n", stdout);
		else if (p[i] == '\t')
			fputs("\\t", stdout);
		else if (p[i] == '\r')
			fputs("\\r", stdout);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			printf("\\u%04x", p[i]);
		else
			putchar(p[i]);
	}
	putchar('"');
}

/* "data":"text" if the payload is UTF-8, else "hex":"0a1b..." */
static void
put_json_payload(const unsigned char *p, size_t len)
{
	size_t	 i;

	if (utf8_valid(p, len)) {
		fputs(",\"data\":", stdout);
		put_json_string(p, len);
		return;
	}
	fputs(",\"hex\":\"", stdout);
	for (i = 0; i < len; i++)
		printf("%02x", p[i]);
	putchar('"');
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* --- a member's address, from the local transport's directory --------- */

struct member_addr {
	long		 pid;		/* 0: unknown */
	unsigned	 port;
};

/* The rendezvous directory of the local transport, as com_local.c finds
 * it; NULL for other transports. */
static char *
local_dir(const struct opts *o)
{
	const char	*t = o->cfg.transport, *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat	 st;
	char		 root[PATH_MAX], *dir;

	if (t != NULL && strcmp(t, "local") != 0)
		return NULL;
	if (o->cfg.rundir != NULL)
		snprintf(root, sizeof(root), "%s", o->cfg.rundir);
	else if (xdg != NULL && *xdg != '\0' && stat(xdg, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		snprintf(root, sizeof(root), "%s/to", xdg);
	else
		snprintf(root, sizeof(root), "/tmp/to-%lu",
		    (unsigned long)getuid());
	if (asprintf(&dir, "%s/%s", root, o->cfg.group) == -1)
		return NULL;
	return dir;
}

/* Find "<16 hex id>.<pid>.<port>" for id in dir; 0 if found. */
static int
local_addr(const char *dir, uint64_t id, struct member_addr *a)
{
	DIR		*d;
	struct dirent	*de;
	char		 want[18];
	unsigned long	 pid, port;
	char		*end;
	int		 rv = -1;

	a->pid = 0;
	if (dir == NULL || (d = opendir(dir)) == NULL)
		return -1;
	snprintf(want, sizeof(want), "%016" PRIx64 ".", id);
	while (rv == -1 && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, want, 17) != 0)
			continue;
		errno = 0;
		pid = strtoul(de->d_name + 17, &end, 10);
		if (*end != '.' || errno != 0 || pid == 0 || pid > INT_MAX)
			continue;
		port = strtoul(end + 1, &end, 10);
		if (*end != '\0' || errno != 0 || port == 0 || port > 65535)
			continue;
		a->pid = (long)pid;
		a->port = (unsigned)port;
		rv = 0;
	}
	closedir(d);
	return rv;
}

/* --- printing views and records ------------------------------------- */

/* The flags of a VIEW record: 0 unless its metadata holds them. */
static uint32_t
view_flags(const unsigned char *rec, size_t len)
{
	const unsigned char *p = rec + 2 + VIEW_META_FLAGS;

	if (len < 2 || rec[1] < VIEW_META_FLAGS + 4)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}


/*
 * A view: "view 7: 8f3a21c0d1e2f3a4 ... (3 members)", "transitional view
 * 7: ..." for one of flags VIEW_TRANSITIONAL, and, when watching,
 * a line per member:
 *	"  rank 0  8f3a21c0d1e2f3a4  pid 4242  127.0.0.1:40001  orders"
 * With -j one JSON line.  dir is NULL but for a local group watched.
 */
static void
put_view(const struct opts *o, uint64_t id, uint32_t flags, uint32_t n,
    const uint64_t *members, int detail, const char *dir)
{
	struct member_addr a;
	uint32_t	 i;
	int		 trans = flags & VIEW_TRANSITIONAL;

	if (o->json) {
		printf("{\"type\":\"view\",\"view\":%" PRIu64 "%s,"
		    "\"members\":[", id, trans ? ",\"transitional\":true" : "");
		for (i = 0; i < n; i++) {
			printf("%s{\"rank\":%" PRIu32 ",\"id\":\"%016" PRIx64
			    "\"", i ? "," : "", i, members[i]);
			if (detail && local_addr(dir, members[i], &a) == 0)
				printf(",\"pid\":%ld,\"addr\":\"127.0.0.1:%u\"",
				    a.pid, a.port);
			printf(",\"orders\":%s}", i == 0 ? "true" : "false");
		}
		fputs("]}\n", stdout);
		return;
	}
	printf("%sview %" PRIu64 ":", trans ? "transitional " : "", id);
	for (i = 0; i < n; i++)
		printf(" %016" PRIx64, members[i]);
	printf(" (%" PRIu32 " member%s)\n", n, n == 1 ? "" : "s");
	for (i = 0; detail && i < n; i++) {
		printf("  rank %" PRIu32 "  %016" PRIx64, i, members[i]);
		if (local_addr(dir, members[i], &a) == 0)
			printf("  pid %ld  127.0.0.1:%u", a.pid, a.port);
		fputs(i == 0 ? "  orders\n" : "\n", stdout);
	}
}

/* A DATA record: "data view=7 sender=... seq=1 gseq=1 len=5: hello". */
static void
put_data(const struct opts *o, const struct frame_record *fr)
{
	const struct to_delivery *d = &fr->d;

	if (o->json) {
		fputs("{\"type\":\"data\"", stdout);
		if (fr->has_meta)
			printf(",\"view\":%" PRIu64 ",\"sender\":\"%016" PRIx64
			    "\",\"seq\":%" PRIu64 ",\"gseq\":%" PRIu64,
			    d->view_id, d->sender, d->sender_seq,
			    d->global_seq);
		printf(",\"len\":%zu", d->len);
		put_json_payload(d->data, d->len);
		fputs("}\n", stdout);
		return;
	}
	fputs("data", stdout);
	if (fr->has_meta)
		printf(" view=%" PRIu64 " sender=%016" PRIx64 " seq=%" PRIu64
		    " gseq=%" PRIu64, d->view_id, d->sender, d->sender_seq,
		    d->global_seq);
	printf(" len=%zu:", d->len);
	if (d->len > 0)
		putchar(' ');
	put_text(d->data, d->len);
	putchar('\n');
}

/* --- reading framed files ------------------------------------------- */

/* Calls back with each record of a framed file; what went wrong, if so. */
enum read_end {
	READ_OK,
	READ_CUT,	/* ended inside a record */
	READ_BAD,	/* malformed, or the callback refused a record */
	READ_IOERR,
};

struct reader {
	const char	*name;
	int		 fd;
	struct frame_reader *r;
	int		 error;		/* errno of READ_BAD, READ_IOERR */
};

static enum read_end
read_records(struct reader *rd, size_t max,
    int (*cb)(void *, const void *, size_t, const struct frame_record *),
    void *arg)
{
	static unsigned char	 buf[TOVIEW_READ];
	struct frame_record	 fr;
	const void		*rec;
	size_t			 len, n;
	ssize_t			 got;
	int			 rv, eof = 0;

	if ((rd->r = frame_reader_new(FRAME_BIN, max)) == NULL)
		err(EX_OSERR, "frame_reader_new");
	for (;;) {
		rv = eof ? frame_reader_eof(rd->r, &rec, &len) :
		    frame_reader_next(rd->r, &rec, &len);
		if (rv == -1) {
			rd->error = errno;
			return eof ? READ_CUT : READ_BAD;
		}
		if (rv == 1) {
			if (frame_decode(rec, len, &fr) == -1 ||
			    cb(arg, rec, len, &fr) == -1) {
				rd->error = EBADMSG;
				return READ_BAD;
			}
			continue;
		}
		if (eof)
			return READ_OK;
		n = frame_reader_room(rd->r);
		if (n > sizeof(buf))
			n = sizeof(buf);
		/* what came so far goes on before we may wait for more:
		 * toview in the middle of a live pipeline */
		out_flush();
		got = read(rd->fd, buf, n);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			rd->error = errno;
			return READ_IOERR;
		}
		if (got == 0)
			eof = 1;
		else if (frame_reader_feed(rd->r, buf, got) == -1)
			err(EX_OSERR, "%s", rd->name);
	}
}

static void
reader_open(struct reader *rd, const char *path)
{
	struct stat	 st;

	memset(rd, 0, sizeof(*rd));
	if (strcmp(path, "-") == 0) {
		rd->name = "stdin";
		rd->fd = STDIN_FILENO;
		return;
	}
	rd->name = path;
	if ((rd->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(EX_NOINPUT, "%s", path);
	if (fstat(rd->fd, &st) == 0 && S_ISDIR(st.st_mode))
		errx(EX_NOINPUT, "%s: Is a directory", path);
}

static void
reader_close(struct reader *rd)
{
	frame_reader_free(rd->r);
	if (rd->fd != STDIN_FILENO)
		close(rd->fd);
}

/* The message for a read that did not end well; the exit status. */
static int
read_failed(struct reader *rd, enum read_end end)
{
	uint64_t	 recno = frame_reader_recno(rd->r);

	if (end == READ_IOERR) {
		warnx("%s: %s", rd->name, strerror(rd->error));
		return EX_IOERR;
	}
	if (end == READ_CUT) {
		warnx("%s: record %" PRIu64 ": cut short", rd->name, recno);
		return EX_DATAERR;
	}
	if (rd->error == EMSGSIZE)
		warnx("%s: record %" PRIu64 ": record too large", rd->name,
		    recno);
	else
		warnx("%s: record %" PRIu64 ": malformed frame", rd->name,
		    recno);
	return EX_DATAERR;
}

/* --- toview [file]: render ------------------------------------------ */

static int
render_record(void *arg, const void *rec, size_t len,
    const struct frame_record *fr)
{
	const struct opts *o = arg;
	uint64_t	*m;
	uint32_t	 i;

	if (fr->type == FRAME_TYPE_DATA) {
		put_data(o, fr);
		return 0;
	}
	if ((m = reallocarray(NULL, fr->nmembers ? fr->nmembers : 1,
	    sizeof(*m))) == NULL)
		err(EX_OSERR, NULL);
	for (i = 0; i < fr->nmembers; i++)
		m[i] = get64(fr->members + (size_t)i * 8);
	put_view(o, fr->view_id, view_flags(rec, len), fr->nmembers, m, 0,
	    NULL);
	free(m);
	return 0;
}

static int
toview_render(const struct opts *o)
{
	struct reader	 rd;
	enum read_end	 end;
	int		 status = EX_OK;

	if (o->nfiles > 1) {
		warnx("unexpected argument: %s", o->files[1]);
		opts_usage(&toview_tool, EX_USAGE);
	}
	reader_open(&rd, o->nfiles == 1 ? o->files[0] : "-");
	end = read_records(&rd, o->cfg.max_msg, render_record, (void *)o);
	out_flush();
	if (end != READ_OK)
		status = read_failed(&rd, end);
	reader_close(&rd);
	return status;
}

/* --- toview -c log ...: check --------------------------------------- */

#define TOVIEW_SHOWN	100	/* violations printed at most */

struct check {
	struct verify	*v;
	int		 log;
	const char	*name;
	uint64_t	 recno;
	uint64_t	*members;
	size_t		 cap;
	int		 refused;	/* check_record said why */
	long		 shown;		/* violations printed */
};

static int
check_record(void *arg, const void *rec, size_t len,
    const struct frame_record *fr)
{
	struct check	*c = arg;
	struct verify_entry e;
	uint32_t	 i;

	memset(&e, 0, sizeof(e));
	c->recno++;
	if (fr->type == FRAME_TYPE_DATA) {
		if (!fr->has_meta) {
			warnx("%s: record %" PRIu64 ": data without "
			    "metadata: not a log of torecv -F", c->name,
			    c->recno);
			c->refused = 1;
			return -1;
		}
		e.type = VERIFY_DATA;
		e.view_id = fr->d.view_id;
		e.sender = fr->d.sender;
		e.sender_seq = fr->d.sender_seq;
		e.global_seq = fr->d.global_seq;
		e.crc = crc32(crc32(0, NULL, 0), fr->d.data, fr->d.len);
	} else {
		if (fr->nmembers > c->cap) {
			free(c->members);
			c->cap = fr->nmembers;
			if ((c->members = reallocarray(NULL, c->cap,
			    sizeof(*c->members))) == NULL)
				err(EX_OSERR, NULL);
		}
		for (i = 0; i < fr->nmembers; i++)
			c->members[i] = get64(fr->members + (size_t)i * 8);
		e.type = VERIFY_VIEW;
		e.view_id = fr->view_id;
		e.nmembers = fr->nmembers;
		e.members = c->members;
		e.flags = view_flags(rec, len);
	}
	if (verify_add(c->v, c->log, &e) == -1)
		err(EX_OSERR, NULL);
	return 0;
}

static void
check_report(void *arg, const char *line)
{
	struct check	*c = arg;

	if (c->shown++ < TOVIEW_SHOWN)
		warnx("%s", line);
}

/* Read one log into c->v: EX_OK, or the status of bad input. */
static int
check_read(struct check *c, const struct opts *o, const char *path)
{
	struct reader	 rd;
	enum read_end	 end;
	int		 status = EX_OK;

	reader_open(&rd, path);
	c->name = rd.name;
	c->recno = 0;
	c->refused = 0;
	if ((c->log = verify_log(c->v, rd.name)) == -1)
		err(EX_OSERR, NULL);
	end = read_records(&rd, o->cfg.max_msg, check_record, c);
	if (c->refused)
		status = EX_DATAERR;
	else if (end == READ_CUT) {
		warnx("%s: record %" PRIu64 ": cut short: the log ends "
		    "inside a record", rd.name, frame_reader_recno(rd.r));
		status = EX_DATAERR;
	} else if (end != READ_OK)
		status = read_failed(&rd, end);
	reader_close(&rd);
	return status;
}

/*
 * Read every log, then check them together, also when one was cut short
 * or malformed (the records before count); a bad log decides the status.
 */
static int
toview_check(const struct opts *o)
{
	struct check	 c;
	uint64_t	 msgs, views;
	long		 n;
	int		 i, status = EX_OK, st;

	if (o->nfiles == 0) {
		warnx("-c needs the logs to check");
		opts_usage(&toview_tool, EX_USAGE);
	}
	memset(&c, 0, sizeof(c));
	if ((c.v = verify_new()) == NULL)
		err(EX_OSERR, NULL);
	verify_strict(c.v, 1);
	for (i = 0; i < o->nfiles; i++)
		if ((st = check_read(&c, o, o->files[i])) != EX_OK &&
		    status == EX_OK)
			status = st;
	free(c.members);
	if ((n = verify_check(c.v, check_report, &c)) == -1)
		err(EX_OSERR, NULL);
	if (n > TOVIEW_SHOWN)
		warnx("and %ld more violations", n - TOVIEW_SHOWN);
	if (status == EX_OK && n > 0)
		status = TOVIEW_VIOLATION;
	else if (status == EX_OK) {
		verify_counts(c.v, &msgs, &views);
		printf("toview: %d log%s, %" PRIu64 " message%s, %" PRIu64
		    " view%s: agree\n", o->nfiles, o->nfiles == 1 ? "" : "s",
		    msgs, msgs == 1 ? "" : "s", views, views == 1 ? "" : "s");
		out_flush();
	}
	verify_free(c.v);
	return status;
}

/* --- toview -g group: watch ----------------------------------------- */

struct watch {
	const struct opts *o;
	char		*dir;		/* local transport's, or NULL */
	uint64_t	 views;
};

static void
watch_view(void *arg, const struct to_view *v)
{
	struct watch	*w = arg;

	put_view(w->o, v->id, 0, v->n, v->members, 1, w->dir);
	out_flush();
	w->views++;
}

static int
toview_watch(struct opts *o)
{
	struct watch	 w = { .o = o };
	struct to_callbacks cb = { .view = watch_view, .arg = &w };
	struct to_group	*g;
	struct pollfd	*pfd;
	uint64_t	 deadline = UINT64_MAX, wake, want;
	int		 npfd = 9, n, sigfd;

	if (o->nfiles > 0) {
		warnx("unexpected argument: %s", o->files[0]);
		opts_usage(&toview_tool, EX_USAGE);
	}
	o->cfg.watch = 1;
	want = o->count != 0 ? o->count : 1;
	if ((pfd = calloc(npfd, sizeof(*pfd))) == NULL)
		err(EX_OSERR, NULL);
	sigfd = opts_signals();
	pfd[0].fd = sigfd;
	pfd[0].events = POLLIN;
	w.dir = local_dir(o);
	g = opts_open(o, &cb);
	if (o->timeout != 0)
		deadline = to_now() + o->timeout;
	while (o->count == 0 || w.views < o->count) {
		n = opts_pollfds(g, &pfd, &npfd, 1);
		wake = to_next_wake(g);
		if (w.views < want && deadline < wake)
			wake = deadline;
		if (poll(pfd, n, opts_poll_ms(to_now(), wake)) == -1 &&
		    errno != EINTR)
			err(EX_OSERR, "poll");
		if ((pfd[0].revents & POLLIN) && opts_signalled(sigfd))
			break;
		if (to_process(g) == -1)
			err(EX_OSERR, "group %s", o->cfg.group);
		out_flush();
		if (w.views < want && to_now() >= deadline) {
			to_close(g);
			errx(EX_UNAVAILABLE, "timed out waiting for %" PRIu64
			    " view%s (have %" PRIu64 ")", want,
			    want == 1 ? "" : "s", w.views);
		}
	}
	to_close(g);
	free(w.dir);
	free(pfd);
	return EX_OK;
}

int
main(int argc, char *argv[])
{
	struct opts	 o;

	opts_parse(&o, &toview_tool, argc, argv);
	/* only -g watches: TO_GROUP does not turn a filter into a watcher */
	if (o.cfg.group != NULL && strcmp(o.group_from, "-g") != 0)
		o.cfg.group = NULL;
	if (o.check && o.cfg.group != NULL)
		errx(EX_USAGE, "-c and -g cannot be used together");
	if (o.check && o.json)
		errx(EX_USAGE, "-c and -j cannot be used together");
	if (o.cfg.group == NULL && (o.count != 0 || o.timeout != 0 ||
	    strcmp(o.transport_from, "-t") == 0 || o.cfg.iface != NULL ||
	    o.cfg.stack != NULL))
		errx(EX_USAGE, "-i, -n, -s, -t and -T need -g");
	signal(SIGPIPE, SIG_IGN);
	if (o.check)
		return toview_check(&o);
	if (o.cfg.group != NULL)
		return toview_watch(&o);
	return toview_render(&o);
}
