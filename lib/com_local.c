/*
 * com_local.c: the zero-configuration transport for a group on one machine.
 *
 * Any user can run a group without root and without touching network
 * settings: every member binds its own UDP socket on 127.0.0.1 with an
 * ephemeral port, and the members find each other through a rendezvous
 * directory private to the user and the group:
 *
 *	ROOT/GROUP/<id>.<pid>.<port>
 *
 * ROOT is to_config.rundir if set, else $XDG_RUNTIME_DIR/to if that is a
 * directory, else /tmp/to-UID.  ROOT and ROOT/GROUP are created mode 0700
 * and refused if they are symbolic links, not directories, or owned by
 * another user.  An entry's name says all there is to know about a member:
 * its 64-bit id in 16 hex digits, its pid, and its port; the file is empty
 * and is created under a temporary name, then renamed into place.
 *
 * A broadcast is one sendto per other member, batched with sendmmsg(2).
 * The peer list is read again from the directory when the transport opens,
 * before a send when the last scan is older than SCAN_NS, on forget(), and
 * when learn() or a unicast names a member the list lacks (at most once per
 * SCAN_NS for the same unknown member, and once per MISS_NS for any, so
 * that a stream of datagrams from made-up ids costs a few scans a
 * second).  A scan removes the entries of processes that no longer
 * exist, so a member that crashed is forgotten
 * (and temporary names that a crash left behind).
 * Drops for want of buffer space are transient (return 0): NAK repairs them.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "com_ip.h"
#include "layer.h"

#define LOCAL_MTU	65000		/* loopback carries 65536 */
#define LOCAL_BUF	(4 << 20)	/* socket buffers we ask for */
#define SCAN_NS		50000000ULL	/* rescan the directory after 50 ms */
#define MISS_NS		5000000ULL	/* scans for unknown ids, 5 ms apart */
#define GROUP_NAME_MAX	63
#define TMP_PREFIX	".tmp."		/* an entry not yet renamed */

struct local_peer {
	uint64_t		 id;
	pid_t			 pid;
	struct sockaddr_in	 sin;
};

struct local_state {
	int			 fd;		/* the UDP socket */
	int			 dirfd;		/* ROOT/GROUP */
	char			 entry[64];	/* our entry's name in it */
	uint16_t		 port;		/* ours, host order */
	struct local_peer	*peers;		/* sorted by id, without us */
	size_t			 npeers, cap;
	struct mmsghdr		*mmsg;		/* cap of them, for fan-out */
	uint64_t		 scanned;	/* when, CLOCK_MONOTONIC ns */
	uint64_t		 miss_id;	/* last id a scan missed */
	uint64_t		 miss_at;	/* when */
	uint16_t		 last_port;	/* source of the last recv */
};

static uint64_t
local_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
local_group_ok(const char *g)
{
	size_t i;

	if (g == NULL || strcmp(g, ".") == 0 || strcmp(g, "..") == 0)
		return 0;
	for (i = 0; g[i] != '\0'; i++) {
		if (i >= GROUP_NAME_MAX)
			return 0;
		if (!((g[i] >= 'a' && g[i] <= 'z') ||
		    (g[i] >= 'A' && g[i] <= 'Z') ||
		    (g[i] >= '0' && g[i] <= '9') ||
		    g[i] == '.' || g[i] == '_' || g[i] == '-'))
			return 0;
	}
	return i > 0;
}

/*
 * Create directory name (relative to atfd) mode 0700 unless it exists, check
 * that it is a real directory of ours, and open it.  The fd or -1: EACCES
 * for a symbolic link or a non-directory, EPERM for another user's.
 */
static int
local_opendir(int atfd, const char *name)
{
	struct stat st;
	int fd;

	if (mkdirat(atfd, name, 0700) == -1 && errno != EEXIST)
		return -1;
	if (fstatat(atfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
		errno = EACCES;
		return -1;
	}
	if (st.st_uid != geteuid()) {
		errno = EPERM;
		return -1;
	}
	/* Open without following links, then check what we hold. */
	fd = openat(atfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP || errno == ENOTDIR)
			errno = EACCES;
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_uid != geteuid()) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* Open ROOT/GROUP, creating both as needed. */
static int
local_groupdir(const struct to_config *cfg)
{
	char path[PATH_MAX];
	const char *xdg;
	struct stat st;
	int rootfd, fd, n, saved;

	if (cfg->rundir != NULL && *cfg->rundir != '\0')
		n = snprintf(path, sizeof(path), "%s", cfg->rundir);
	else if ((xdg = getenv("XDG_RUNTIME_DIR")) != NULL && *xdg == '/' &&
	    stat(xdg, &st) == 0 && S_ISDIR(st.st_mode))
		n = snprintf(path, sizeof(path), "%s/to", xdg);
	else
		n = snprintf(path, sizeof(path), "/tmp/to-%lu",
		    (unsigned long)geteuid());
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((rootfd = local_opendir(AT_FDCWD, path)) == -1)
		return -1;
	fd = local_opendir(rootfd, cfg->group);
	saved = errno;
	close(rootfd);
	errno = saved;
	return fd;
}

/* Parse an unsigned decimal of at most max; advance *sp past it. */
static int
local_parse_num(const char **sp, unsigned long max, unsigned long *v)
{
	const char *s = *sp;
	unsigned long n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (unsigned long)(*s - '0');
		if (n > max)
			return -1;
	}
	*sp = s;
	*v = n;
	return 0;
}

/* "<16 hex>.<pid>.<port>" into p; -1 if the name is anything else. */
static int
local_parse_entry(const char *name, struct local_peer *p)
{
	const char *s = name;
	unsigned long pid, port;
	uint64_t id = 0;
	int i, c;

	for (i = 0; i < 16; i++) {
		c = s[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return -1;
		id = id << 4 | (uint64_t)c;
	}
	s += 16;
	if (*s++ != '.' || local_parse_num(&s, INT_MAX, &pid) == -1 ||
	    pid == 0 || *s++ != '.' ||
	    local_parse_num(&s, 65535, &port) == -1 || port == 0 || *s != '\0')
		return -1;
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->pid = (pid_t)pid;
	p->sin.sin_family = AF_INET;
	p->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->sin.sin_port = htons((uint16_t)port);
	return 0;
}

static int
local_peer_cmp(const void *a, const void *b)
{
	const struct local_peer *p = a, *q = b;

	return (p->id > q->id) - (p->id < q->id);
}

static int
local_grow(struct local_state *st)
{
	struct local_peer *p;
	struct mmsghdr *m;
	size_t cap;

	cap = st->cap ? st->cap * 2 : 16;
	if ((p = reallocarray(st->peers, cap, sizeof(*p))) == NULL)
		return -1;
	st->peers = p;
	if ((m = reallocarray(st->mmsg, cap, sizeof(*m))) == NULL)
		return -1;
	st->mmsg = m;
	st->cap = cap;
	return 0;
}

/* Read the peer list from the directory, removing entries of dead pids. */
static int
local_scan(struct transport *tr)
{
	struct local_state *st = tr->state;
	struct dirent *de;
	struct local_peer p;
	const char *name;
	DIR *d;
	int fd, tmp;

	tr->scans++;
	if ((fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	st->npeers = 0;
	while ((de = readdir(d)) != NULL) {
		name = de->d_name;
		if ((tmp = strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) ==
		    0))
			name += sizeof(TMP_PREFIX) - 1;
		if (local_parse_entry(name, &p) == -1)
			continue;
		if (kill(p.pid, 0) == -1 && errno == ESRCH) {
			unlinkat(st->dirfd, de->d_name, 0);
			continue;
		}
		if (tmp || p.id == tr->self ||
		    ntohs(p.sin.sin_port) == st->port)
			continue;
		if (st->npeers == st->cap && local_grow(st) == -1) {
			closedir(d);
			return -1;
		}
		st->peers[st->npeers++] = p;
	}
	closedir(d);
	if (st->npeers > 1)
		qsort(st->peers, st->npeers, sizeof(*st->peers),
		    local_peer_cmp);
	st->scanned = local_now();
	return 0;
}

static struct local_peer *
local_lookup(struct local_state *st, uint64_t id)
{
	struct local_peer key;

	if (st->npeers == 0)
		return NULL;
	key.id = id;
	return bsearch(&key, st->peers, st->npeers, sizeof(*st->peers),
	    local_peer_cmp);
}

/* Find member id, scanning once if it is unknown and may have appeared. */
static struct local_peer *
local_find(struct transport *tr, uint64_t id)
{
	struct local_state *st = tr->state;
	struct local_peer *p;
	uint64_t now;

	if ((p = local_lookup(st, id)) != NULL)
		return p;
	now = local_now();
	if (st->miss_at != 0 && now - st->miss_at <
	    (id == st->miss_id ? SCAN_NS : MISS_NS))
		return NULL;
	if (local_scan(tr) == -1)
		return NULL;
	if ((p = local_lookup(st, id)) == NULL) {
		st->miss_id = id;
		st->miss_at = now;
	}
	return p;
}

static int
local_socket(struct transport *tr, struct local_state *st)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	st->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (st->fd == -1)
		return -1;
	/* big buffers; what the kernel grants will do (com_ip.c) */
	ip_buffers(tr, st->fd, LOCAL_BUF);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(st->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(st->fd, (struct sockaddr *)&sin, &sl) == -1)
		return -1;
	st->port = ntohs(sin.sin_port);
	return 0;
}

/* Publish our entry: create it under a temporary name, then rename. */
static int
local_publish(struct transport *tr)
{
	struct local_state *st = tr->state;
	char tmp[80];
	int fd;

	snprintf(st->entry, sizeof(st->entry), "%016" PRIx64 ".%ld.%u",
	    tr->self, (long)getpid(), (unsigned)st->port);
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", st->entry);
	fd = openat(st->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	close(fd);
	if (renameat(st->dirfd, tmp, st->dirfd, st->entry) == -1) {
		unlinkat(st->dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

static void
local_free(struct local_state *st)
{
	if (st->entry[0] != '\0')
		unlinkat(st->dirfd, st->entry, 0);
	if (st->fd != -1)
		close(st->fd);
	if (st->dirfd != -1)
		close(st->dirfd);
	free(st->peers);
	free(st->mmsg);
	free(st);
}

static int
local_open(struct transport *tr, const char *spec)
{
	struct local_state *st;
	int saved;

	if (tr->cfg == NULL || !local_group_ok(tr->cfg->group) ||
	    (spec != NULL && *spec != '\0')) {
		errno = EINVAL;
		return -1;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -1;
	st->fd = -1;
	tr->state = st;
	tr->mtu = LOCAL_MTU;
	if ((st->dirfd = local_groupdir(tr->cfg)) == -1 ||
	    local_socket(tr, st) == -1 || local_publish(tr) == -1 ||
	    local_scan(tr) == -1) {
		saved = errno;
		local_free(st);
		tr->state = NULL;
		errno = saved;
		return -1;
	}
	return 0;
}

static void
local_close(struct transport *tr)
{
	if (tr->state != NULL)
		local_free(tr->state);
	tr->state = NULL;
}

static int
local_transient(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS ||
	    e == ECONNREFUSED;
}

static int
local_send(struct transport *tr, uint64_t dst, const struct iovec *iov,
    int iovcnt)
{
	struct local_state *st = tr->state;
	struct local_peer *p;
	struct msghdr *mh;
	size_t i, n;
	int r;

	if (iov_bytes(iov, iovcnt) > tr->mtu) {
		errno = EMSGSIZE;
		return -1;
	}
	if (local_now() - st->scanned > SCAN_NS)
		(void)local_scan(tr);	/* on failure, the old list will do */
	if (dst != 0) {
		if ((p = local_find(tr, dst)) == NULL)
			return 0;	/* gone, or never was */
		st->mmsg[0].msg_hdr = (struct msghdr){
			.msg_name = &p->sin,
			.msg_namelen = sizeof(p->sin),
			.msg_iov = (struct iovec *)iov,
			.msg_iovlen = iovcnt,
		};
		n = 1;
	} else {
		for (i = 0; i < st->npeers; i++) {
			mh = &st->mmsg[i].msg_hdr;
			memset(mh, 0, sizeof(*mh));
			mh->msg_name = &st->peers[i].sin;
			mh->msg_namelen = sizeof(st->peers[i].sin);
			mh->msg_iov = (struct iovec *)iov;
			mh->msg_iovlen = iovcnt;
		}
		n = st->npeers;
	}
	/* sendmmsg stops at the first failure; step over transient ones. */
	for (i = 0; i < n; ) {
		r = sendmmsg(st->fd, st->mmsg + i, n - i, 0);
		if (r > 0)
			i += (size_t)r;
		else if (r == -1 && errno == EINTR)
			continue;
		else if (r == -1 && local_transient(errno))
			i++;
		else
			return -1;
	}
	return 0;
}

static ssize_t
local_recv(struct transport *tr, const struct iovec *iov, int iovcnt)
{
	struct local_state *st = tr->state;
	struct sockaddr_in sin;
	socklen_t sl;
	ssize_t n;

	if ((n = ip_recv(st->fd, iov, iovcnt, &sin, &sl)) != -1)
		st->last_port = sl >= sizeof(sin) ? ntohs(sin.sin_port) : 0;
	return n;
}

static void
local_learn(struct transport *tr, uint64_t src)
{
	if (src != tr->self)
		(void)local_find(tr, src);
}

static void
local_forget(struct transport *tr, uint64_t src)
{
	(void)local_scan(tr);
}

static int
local_fds(struct transport *tr, int *fds, int max)
{
	struct local_state *st = tr->state;

	if (max >= 1)
		fds[0] = st->fd;
	return 1;
}

const struct transport_ops transport_local = {
	.scheme = "local",
	.open = local_open,
	.close = local_close,
	.send = local_send,
	.recv = local_recv,
	.learn = local_learn,
	.forget = local_forget,
	.fds = local_fds,
};
