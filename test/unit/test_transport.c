/*
 * test_transport.c: transport_open, the local (rendezvous directory), udp
 * (IP multicast over lo) and udpu (unicast to peers on lo) transports.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "layer.h"

static char	tmpdir[] = "/tmp/test_transport.XXXXXX";

static void
msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
send_str(struct transport *tr, uint64_t dst, const char *s)
{
	struct iovec iov[2];
	size_t n = strlen(s);

	/* Two pieces, to exercise the gather. */
	iov[0].iov_base = (void *)s;
	iov[0].iov_len = n / 2;
	iov[1].iov_base = (void *)(s + n / 2);
	iov[1].iov_len = n - n / 2;
	return tr->ops->send(tr, dst, iov, 2);
}

/* One datagram from tr within ms milliseconds: its length, or -1. */
static ssize_t
wait_recv(struct transport *tr, void *buf, size_t len, int ms)
{
	struct pollfd pfd[4];
	int fds[4], i, n;
	ssize_t r;

	n = tr->ops->fds(tr, fds, 4);
	for (i = 0; i < n; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	for (;;) {
		if ((r = transport_recv(tr, buf, len)) >= 0 || errno != EAGAIN)
			return r;
		if (poll(pfd, (nfds_t)n, ms) <= 0)
			return -1;
	}
}

/* Receive a datagram and check it reads s. */
static int
got(struct transport *tr, const char *s, int ms)
{
	char buf[70000];
	ssize_t n;

	if ((n = wait_recv(tr, buf, sizeof(buf), ms)) < 0)
		return 0;
	return (size_t)n == strlen(s) && memcmp(buf, s, (size_t)n) == 0;
}

static int
quiet(struct transport *tr, int ms)
{
	char buf[70000];

	return wait_recv(tr, buf, sizeof(buf), ms) == -1;
}

static int
entries(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* 1 if an entry in dir begins with prefix. */
static int
has_prefix(const char *dir, const char *prefix)
{
	struct dirent *de;
	DIR *d;
	int found = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			found = 1;
	closedir(d);
	return found;
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/*
 * 1 if transport_open() refuses every one of the n transport specs (or,
 * with group set, group names) in bad with EINVAL; each one it takes is
 * named.
 */
static int
refuses_all(struct to_config *cfg, const char *const *bad, size_t n,
    int group)
{
	struct transport *tr;
	size_t	 i;
	int	 ok = 1;

	for (i = 0; i < n; i++) {
		if (group)
			cfg->group = bad[i];
		else
			cfg->transport = bad[i];
		errno = 0;
		if ((tr = transport_open(cfg, 1)) != NULL || errno != EINVAL) {
			printf("# accepted %s\"%s\"\n", group ? "group " : "",
			    bad[i]);
			ok = 0;
			transport_close(tr);
		}
	}
	return ok;
}

static void
test_open(void)
{
	struct to_config cfg = { .group = "g", .rundir = tmpdir };
	struct transport *tr;
	static const char *badgroups[] = {
		"", "a/b", ".", "..", "a b", "x\n",
		("0123456789012345678901234567890123456789"
		    "012345678901234567890123"),	/* 64 */
	};

	cfg.transport = "bogus";
	errno = 0;
	CHECK(transport_open(&cfg, 1) == NULL && errno == EINVAL);
	cfg.transport = "udpx://239.1.1.1";
	errno = 0;
	CHECK(transport_open(&cfg, 1) == NULL && errno == EINVAL);
	cfg.transport = "local://junk";
	errno = 0;
	CHECK(transport_open(&cfg, 1) == NULL && errno == EINVAL);
	cfg.transport = NULL;
	CHECK(refuses_all(&cfg, badgroups,
	    sizeof(badgroups) / sizeof(badgroups[0]), 1));
	cfg.group = "0123456789012345678901234567890123456789"
	    "01234567890123456789._-";
	tr = transport_open(&cfg, 1);
	CHECK(tr != NULL && strcmp(tr->ops->scheme, "local") == 0);
	transport_close(tr);
	cfg.transport = "local";
	tr = transport_open(&cfg, 1);
	CHECK(tr != NULL && strcmp(tr->ops->scheme, "local") == 0);
	transport_close(tr);
}

static void
test_local(void)
{
	struct to_config cfg = { .group = "grp", .rundir = tmpdir };
	struct transport *a, *b, *c, *d;
	char dir[PATH_MAX], path[PATH_MAX + 64], tmp[PATH_MAX + 64], *big;
	struct iovec iov;
	struct stat st;
	int fds[2];
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/grp", tmpdir);
	a = transport_open(&cfg, 0xa1);
	b = transport_open(&cfg, 0xb2);
	c = transport_open(&cfg, 0xc3);
	CHECK(a != NULL && b != NULL && c != NULL);
	if (a == NULL || b == NULL || c == NULL)
		return;
	CHECK(a->mtu == 65000);
	CHECK(a->ops->fds(a, fds, 2) == 1);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(entries(dir) == 3);
	snprintf(path, sizeof(path), "%s/%016" PRIx64 ".%ld.", dir,
	    (uint64_t)0xb2, (long)getpid());
	/* b's entry: "<id>.<pid>." and its port. */
	CHECK(has_prefix(dir, strrchr(path, '/') + 1));

	/* c knows a and b from its scan at open. */
	CHECK(send_str(c, 0, "from c") == 0);
	CHECK(got(a, "from c", 1000));
	CHECK(got(b, "from c", 1000));
	CHECK(quiet(c, 20));

	/* a scanned before b and c existed: learn() of an unknown member. */
	a->ops->learn(a, 0xb2);
	CHECK(send_str(a, 0xb2, "a to b") == 0);
	CHECK(got(b, "a to b", 1000));
	CHECK(quiet(c, 20) && quiet(a, 0));

	/* Past 50 ms a send rescans: a's broadcast reaches b and c. */
	msleep(60);
	CHECK(send_str(a, 0, "hello all") == 0);
	CHECK(got(b, "hello all", 1000));
	CHECK(got(c, "hello all", 1000));
	CHECK(quiet(a, 20));

	/* Unicast to nobody: dropped quietly. */
	CHECK(send_str(a, 0xdead, "nobody") == 0);
	CHECK(quiet(b, 20) && quiet(c, 0));

	/* The largest datagram goes through; one byte more does not. */
	big = malloc(65001);
	memset(big, 'x', 65001);
	iov.iov_base = big;
	iov.iov_len = 65000;
	CHECK(b->ops->send(b, 0xa1, &iov, 1) == 0);
	{
		char *buf = malloc(70000);

		CHECK(wait_recv(a, buf, 70000, 1000) == 65000 &&
		    memcmp(buf, big, 65000) == 0);
		free(buf);
	}
	iov.iov_len = 65001;
	errno = 0;
	CHECK(b->ops->send(b, 0, &iov, 1) == -1 && errno == EMSGSIZE);
	free(big);

	/* A later member: learn() finds it at once (once 5 ms passed since
	 * the scan for 0xdead: scans for unknown ids are that far apart). */
	msleep(10);
	d = transport_open(&cfg, 0xd4);
	CHECK(d != NULL);
	if (d != NULL) {
		a->ops->learn(a, 0xd4);
		CHECK(send_str(a, 0xd4, "to d") == 0);
		CHECK(got(d, "to d", 1000));
		transport_close(d);
	}

	/* Close removes the entry; forget() rescans. */
	transport_close(c);
	CHECK(entries(dir) == 2);
	a->ops->forget(a, 0xc3);
	CHECK(send_str(a, 0, "after c") == 0);
	CHECK(got(b, "after c", 1000));

	/* A crashed member's entry (its pid gone) is removed by a scan. */
	if ((pid = fork()) == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	snprintf(path, sizeof(path), "%s/%016" PRIx64 ".%ld.%u", dir,
	    (uint64_t)0xeeee, (long)pid, 40000u);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	CHECK(exists(path));
	/* And a temporary name it never renamed. */
	snprintf(tmp, sizeof(tmp), "%s/.tmp.%016" PRIx64 ".%ld.%u", dir,
	    (uint64_t)0xeeef, (long)pid, 40001u);
	close(open(tmp, O_WRONLY | O_CREAT, 0600));
	CHECK(exists(tmp));
	/* Same for garbage that is not an entry: left alone. */
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s",
	    "not-an-entry");
	close(open(dir, O_WRONLY | O_CREAT, 0600));
	b->ops->forget(b, 0xeeee);
	CHECK(!exists(path));
	CHECK(!exists(tmp));
	CHECK(exists(dir));
	unlink(dir);

	transport_close(a);
	transport_close(b);
	snprintf(dir, sizeof(dir), "%s/grp", tmpdir);
	CHECK(entries(dir) == 0);
}

/*
 * Datagrams from made-up ids (anyone on the host can send them) make a
 * member read the directory at most once per 5 ms in all, not once per
 * id: 10000 of them in t ns cost at most 2 + t / 5 ms scans.
 */
static void
test_local_strangers(void)
{
	struct to_config cfg = { .group = "grp", .rundir = tmpdir };
	struct transport *a;
	struct timespec t0, t1;
	uint64_t scans, ns, id;

	if ((a = transport_open(&cfg, 0xa1)) == NULL) {
		CHECK(a != NULL);
		return;
	}
	scans = a->scans;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (id = 1; id <= 10000; id++)
		a->ops->learn(a, 0x5000000000000000ULL + id);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ULL +
	    (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	printf("# 10000 strangers: %llu scans in %llu us\n",
	    (unsigned long long)(a->scans - scans),
	    (unsigned long long)(ns / 1000));
	CHECK(a->scans - scans <= 2 + ns / 5000000ULL);
	transport_close(a);
}

static void
test_rundir(void)
{
	struct to_config cfg = { .group = "g" };
	struct transport *tr;
	char root[PATH_MAX], other[PATH_MAX], link[PATH_MAX + 8];
	struct stat st;

	/* A missing root is created 0700. */
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	cfg.rundir = root;
	tr = transport_open(&cfg, 1);
	CHECK(tr != NULL);
	transport_close(tr);
	CHECK(stat(root, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0777) == 0700);

	/* A symlinked group directory is refused. */
	snprintf(other, sizeof(other), "%s/other", tmpdir);
	mkdir(other, 0700);
	snprintf(link, sizeof(link), "%s/evil", root);
	CHECK(symlink(other, link) == 0);
	cfg.group = "evil";
	errno = 0;
	tr = transport_open(&cfg, 1);
	CHECK(tr == NULL && errno == EACCES);
	transport_close(tr);
	CHECK(entries(other) == 0);

	/* So is a group "directory" that is a file. */
	snprintf(link, sizeof(link), "%s/file", root);
	close(open(link, O_WRONLY | O_CREAT, 0600));
	cfg.group = "file";
	errno = 0;
	tr = transport_open(&cfg, 1);
	CHECK(tr == NULL && errno == EACCES);
	transport_close(tr);

	/* And a symlinked root. */
	snprintf(link, sizeof(link), "%s/rootlink", tmpdir);
	CHECK(symlink(root, link) == 0);
	cfg.rundir = link;
	cfg.group = "g";
	errno = 0;
	tr = transport_open(&cfg, 1);
	CHECK(tr == NULL && errno == EACCES);
	transport_close(tr);

	/* Without rundir: $XDG_RUNTIME_DIR/to. */
	cfg.rundir = NULL;
	setenv("XDG_RUNTIME_DIR", tmpdir, 1);
	tr = transport_open(&cfg, 1);
	CHECK(tr != NULL);
	snprintf(link, sizeof(link), "%s/to/g", tmpdir);
	CHECK(entries(link) == 1);
	transport_close(tr);
	CHECK(entries(link) == 0);
	unsetenv("XDG_RUNTIME_DIR");
}

static uint32_t
fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* The MTU of the route to addr less the IP and UDP headers, or 1472. */
static size_t
route_mtu(const char *addr)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(int);
	int fd, mtu = 1500;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return 1472;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &sl) == -1)
		mtu = 1500;
	close(fd);
	return (size_t)(mtu > 65028 ? 65000 : mtu - 28);
}

/* "?ttl=N&mtu=N&buf=N": checked, and what they set. */
static void
test_udp_params(void)
{
	struct to_config cfg = { .group = "udpparams", .iface = "lo" };
	struct transport *tr;
	static const char *bad[] = {
		"udp://239.1.1.1?ttl=0", "udp://239.1.1.1?ttl=256",
		"udp://239.1.1.1?mtu=100", "udp://239.1.1.1?mtu=70000",
		"udp://239.1.1.1?bogus=1", "udp://239.1.1.1?ttl=1&ttl=2",
		"udp://239.1.1.1?port=5000", "udp://239.1.1.1?", "udp://?ttl",
		"udp://?buf=1g2", "udp://?ttl=4&",
	};

	CHECK(refuses_all(&cfg, bad, sizeof(bad) / sizeof(bad[0]), 0));
	cfg.transport = "udp://239.255.77.3?ttl=4&mtu=1200&buf=1m";
	tr = transport_open(&cfg, 1);
	CHECK(tr != NULL);
	if (tr == NULL)
		return;
	CHECK(tr->mtu == 1200);
	CHECK(tr->bufask == 1 << 20);
	/* root may go past net.core.rmem_max; others get at most that */
	CHECK(tr->rcvbuf > 0 && tr->rcvbuf <= 1 << 20);
	CHECK(geteuid() != 0 || tr->rcvbuf == 1 << 20);
	transport_close(tr);
}

/* Unicast to peers on lo, each on a port of its own; join by one. */
static void
test_udpu(void)
{
	struct to_config cfg = { .group = "udputest" };
	struct transport *a, *b, *c;
	static const char *bad[] = {
		"udpu://:5", "udpu://127.0.0.1:0", "udpu://127.0.0.1:99999",
		"udpu://239.1.1.1", "udpu://0.0.0.0", "udpu://127.0.0.1,,",
		"udpu://127.0.0.1:5x", "udpu://?port=0", "udpu://?ttl=1000",
	};
	unsigned base = 20000 + (unsigned)getpid() % 10000 * 3;
	char spec[128];
	int fds[4];

	CHECK(refuses_all(&cfg, bad, sizeof(bad) / sizeof(bad[0]), 0));

	/* a alone; b names a; c names only b. */
	snprintf(spec, sizeof(spec), "udpu://?port=%u", base);
	cfg.transport = spec;
	a = transport_open(&cfg, 1);
	snprintf(spec, sizeof(spec), "udpu://127.0.0.1:%u?port=%u", base,
	    base + 1);
	b = transport_open(&cfg, 2);
	snprintf(spec, sizeof(spec), "udpu://127.0.0.1:%u?port=%u", base + 1,
	    base + 2);
	c = transport_open(&cfg, 3);
	CHECK(a != NULL && b != NULL && c != NULL);
	if (a == NULL || b == NULL || c == NULL) {
		printf("# udpu open: %s\n", strerror(errno));
		transport_close(a);
		transport_close(b);
		transport_close(c);
		return;
	}
	CHECK(a->mtu == 1472 && b->mtu == 65000);	/* default; lo's */
	CHECK(a->ops->fds(a, fds, 4) == 1);
	/* A second member on a port in use: refused. */
	snprintf(spec, sizeof(spec), "udpu://?port=%u", base);
	CHECK(transport_open(&cfg, 4) == NULL && errno == EADDRINUSE);

	/* b to its peer a; a learns b; a knows b, b hears a. */
	CHECK(send_str(b, 0, "from b") == 0);
	CHECK(got(a, "from b", 1000));
	a->ops->learn(a, 2);
	CHECK(send_str(a, 0, "from a") == 0);	/* and gossip */
	CHECK(got(b, "from a", 1000));
	b->ops->learn(b, 1);
	CHECK(quiet(c, 50));

	/* c names b only; b learns c, and gossips it to a, a to c. */
	CHECK(send_str(c, 0, "c to b") == 0);
	CHECK(got(b, "c to b", 1000));
	b->ops->learn(b, 3);
	msleep(30);			/* past the gossip rate limit */
	CHECK(send_str(b, 0, "b to all") == 0);
	CHECK(got(a, "b to all", 1000));
	CHECK(got(c, "b to all", 1000));
	c->ops->learn(c, 2);
	CHECK(send_str(c, 0, "c to all") == 0);
	CHECK(got(a, "c to all", 1000));
	a->ops->learn(a, 3);
	CHECK(got(b, "c to all", 1000));
	CHECK(quiet(c, 50));		/* not to itself, though gossiped */

	/* Unicast to a known member reaches it alone. */
	CHECK(send_str(a, 3, "a to c") == 0);
	CHECK(got(c, "a to c", 1000));
	CHECK(quiet(b, 50));
	/* An unknown one: to everyone. */
	CHECK(send_str(a, 9, "a to 9") == 0);
	CHECK(got(b, "a to 9", 1000));
	CHECK(got(c, "a to 9", 1000));
	/* Forgotten: the address stays (it may be back), the id goes. */
	a->ops->forget(a, 3);
	CHECK(send_str(a, 3, "a to 3") == 0);
	CHECK(got(b, "a to 3", 1000));
	CHECK(got(c, "a to 3", 1000));

	/* Too big for the mtu. */
	{
		char big[1500];
		struct iovec iov = { big, sizeof(big) };

		memset(big, 'z', sizeof(big));
		CHECK(a->ops->send(a, 0, &iov, 1) == -1 && errno == EMSGSIZE);
	}
	transport_close(a);
	transport_close(b);
	transport_close(c);
}

static void
test_udp(void)
{
	struct to_config cfg = { .group = "udptest", .iface = "lo" };
	struct transport *u1, *u2;
	char spec[64];
	static const char *bad[] = {
		"udp://10.0.0.1", "udp://239.1.1.1:0", "udp://239.1.1.1:70000",
		"udp://:x", "udp://239.1.1", "udp://239.1.1.1:", "udp://foo",
	};
	uint32_t h;
	int fds[4];

	CHECK(refuses_all(&cfg, bad, sizeof(bad) / sizeof(bad[0]), 0));
	cfg.transport = "udp";
	cfg.iface = "nosuchif0";
	CHECK(transport_open(&cfg, 1) == NULL);
	cfg.iface = "lo";

	/* An explicit address and the port the group name gives. */
	h = fnv1a(cfg.group);
	snprintf(spec, sizeof(spec), "udp://239.255.77.1:%u",
	    5400 + (h >> 16) % 500);
	cfg.transport = spec;
	u1 = transport_open(&cfg, 1);
	if (u1 == NULL)
		printf("# udp open: %s\n", strerror(errno));
	u2 = transport_open(&cfg, 2);
	CHECK(u1 != NULL && u2 != NULL);
	if (u1 == NULL || u2 == NULL) {
		transport_close(u1);
		return;
	}
	CHECK(u1->mtu == 65000);
	CHECK(u1->ops->fds(u1, fds, 4) == 2);

	/* Multicast: the other hears it; the sender's own copy, looped
	 * back, is dropped. */
	CHECK(send_str(u1, 0, "mcast one") == 0);
	CHECK(got(u2, "mcast one", 1000));
	CHECK(quiet(u1, 50));

	/* u2 learns where 1 is from that datagram; unicast goes there. */
	CHECK(send_str(u1, 0, "learn me") == 0);
	CHECK(got(u2, "learn me", 1000));
	u2->ops->learn(u2, 1);
	CHECK(send_str(u2, 1, "unicast to 1") == 0);
	CHECK(got(u1, "unicast to 1", 1000));
	CHECK(quiet(u2, 50));

	/* Unknown (or forgotten) member: the datagram is multicast. */
	u2->ops->forget(u2, 1);
	CHECK(send_str(u2, 1, "fallback") == 0);
	CHECK(got(u1, "fallback", 1000));
	CHECK(quiet(u2, 50));

	/* A big datagram on lo. */
	{
		char *big = malloc(65000), *rb = malloc(70000);
		struct iovec iov = { big, 65000 };

		memset(big, 'y', 65000);
		CHECK(u1->ops->send(u1, 0, &iov, 1) == 0);
		CHECK(wait_recv(u2, rb, 70000, 1000) == 65000 &&
		    memcmp(rb, big, 65000) == 0);
		free(big);
		free(rb);
	}
	transport_close(u1);
	transport_close(u2);

	/* Defaults: 239.255.(h>>8).(h) and 5400 + (h>>16) % 500. */
	cfg.transport = "udp";
	u1 = transport_open(&cfg, 1);
	snprintf(spec, sizeof(spec), "udp://239.255.%u.%u:%u",
	    h >> 8 & 0xff, (h & 0xff) ? (h & 0xff) : 1,
	    5400 + (h >> 16) % 500);
	cfg.transport = spec;
	u2 = transport_open(&cfg, 2);
	CHECK(u1 != NULL && u2 != NULL);
	if (u1 != NULL && u2 != NULL) {
		CHECK(send_str(u2, 0, "defaults") == 0);
		CHECK(got(u1, "defaults", 1000));
	}
	transport_close(u1);
	transport_close(u2);

	/* No iface: the kernel's choice, the mtu of the route to the group
	 * (needs a route). */
	cfg.iface = NULL;
	cfg.transport = "udp";
	if ((u1 = transport_open(&cfg, 1)) != NULL) {
		snprintf(spec, sizeof(spec), "239.255.%u.%u",
		    h >> 8 & 0xff, (h & 0xff) ? (h & 0xff) : 1);
		CHECK(u1->mtu == route_mtu(spec));
		transport_close(u1);
	} else
		printf("# udp without iface: %s (no multicast route?)\n",
		    strerror(errno));
}

static void
rmtree(const char *path)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", path);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_open();
	test_local();
	test_local_strangers();
	test_rundir();
	test_udp();
	test_udp_params();
	test_udpu();
	rmtree(tmpdir);
	return check_done();
}
