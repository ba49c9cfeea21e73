/*
 * burst_launch.c: --local N and --netns N: one command runs a whole
 * experiment.  The launcher starts N members, each this very program
 * (/proc/self/exe) with the same arguments after "-g GROUP -N N" and
 * TOBURST_MEMBER=1 in its environment (so it is a member, not another
 * launcher), and reaps them.  The members share the launcher's stdout
 * and stderr: the coordinator's table is what the command prints.
 *
 * --netns puts each member in a network namespace of its own, made by
 * test/net/lab.sh (hosts NAMEh1..NAMEhN on a bridge), over real UDP
 * multicast (-t udp unless -t is given); the lab is removed at the end.
 *
 * A member that dies makes the others fail too (their view shrinks) and
 * the launcher say which one it was; whatever still runs 3 s after the
 * first failure gets SIGTERM, and SIGKILL 2 s after that.  Every member
 * also gets SIGTERM if the launcher itself dies (PR_SET_PDEATHSIG).
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "burst.h"
#include "opts.h"
#include "to.h"

#define GRACE_NS	3000000000ULL	/* after a failure, then SIGTERM */
#define KILL_NS		2000000000ULL	/* after SIGTERM, then SIGKILL */

struct launch {
	struct burst_conf *c;
	uint32_t	 n;
	pid_t		*pid;		/* 0 once reaped */
	uint32_t	 alive;
	char		 self[PATH_MAX];
	char		 group[TO_GROUP_MAX];
	char		 members[16];
	char		 lab[32];	/* --netns: the lab's name */
	char		 labsh[PATH_MAX];
	int		 status;
	uint64_t	 term_at, kill_at;	/* UINT64_MAX: not yet */
};

static int	 chld_pipe[2] = { -1, -1 };

static void
launch_onchld(int sig)
{
	int	 saved = errno;

	(void)sig;
	if (write(chld_pipe[1], "c", 1) == -1) {
		/* full: a wakeup is pending anyway */
	}
	errno = saved;
}

/* Run argv and wait for it; its exit status, or -1. */
static int
launch_run(char *const argv[], int quiet)
{
	pid_t	 pid;
	int	 st, fd;

	if ((pid = fork()) == -1)
		err(EX_OSERR, "fork");
	if (pid == 0) {
		if (quiet && (fd = open("/dev/null", O_WRONLY)) != -1)
			dup2(fd, STDOUT_FILENO);
		execvp(argv[0], argv);
		warn("%s", argv[0]);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* lab.sh: $TOBURST_LAB, or test/net/lab.sh beside our cmd/ directory. */
static void
launch_find_lab(struct launch *l)
{
	const char	*env = getenv("TOBURST_LAB");
	char		 dir[PATH_MAX];

	if (env != NULL && *env != '\0') {
		snprintf(l->labsh, sizeof(l->labsh), "%s", env);
	} else {
		snprintf(dir, sizeof(dir), "%s", l->self);
		snprintf(l->labsh, sizeof(l->labsh), "%s/../test/net/lab.sh",
		    dirname(dir));
	}
	if (access(l->labsh, R_OK) == -1)
		errx(EX_UNAVAILABLE, "--netns: %s: %s (set TOBURST_LAB to "
		    "the path of test/net/lab.sh)", l->labsh, strerror(errno));
}

static void
launch_lab(struct launch *l, const char *cmd)
{
	char	*up[] = { "bash", l->labsh, "up", l->members, l->lab, NULL };
	char	*down[] = { "bash", l->labsh, "down", l->lab, NULL };

	if (strcmp(cmd, "down") == 0) {
		if (launch_run(down, 1) != 0)
			warnx("--netns: lab.sh down %s failed", l->lab);
		return;
	}
	opts_verbose(&l->c->o, "lab %s: %s hosts", l->lab, l->members);
	if (launch_run(up, 1) != 0) {
		launch_lab(l, "down");
		errx(EX_UNAVAILABLE, "--netns: lab.sh up %s %s failed "
		    "(needs ip and nft)", l->members, l->lab);
	}
}

/* Member i (0-based): this program again, as a member. */
static void
launch_exec(struct launch *l, uint32_t i)
{
	const struct burst_conf *c = l->c;
	char	**av, host[64];
	int	   k = 0, j;

	if ((av = calloc(c->argc + 16, sizeof(*av))) == NULL)
		_exit(EX_OSERR);
	if (c->netns) {
		snprintf(host, sizeof(host), "%sh%" PRIu32, l->lab, i + 1);
		av[k++] = "ip";
		av[k++] = "netns";
		av[k++] = "exec";
		av[k++] = host;
		av[k++] = l->self;
	} else
		av[k++] = c->argv[0];
	av[k++] = "-g";
	av[k++] = l->group;
	av[k++] = "-N";
	av[k++] = l->members;
	if (c->netns) {		/* a -t given later wins */
		av[k++] = "-t";
		av[k++] = "udp";
	}
	for (j = 1; j < c->argc; j++)
		av[k++] = c->argv[j];
	av[k] = NULL;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		_exit(EX_OSERR);
	if (getppid() == 1)
		_exit(EX_OSERR);	/* the launcher is gone already */
	if (c->netns)
		execvp("ip", av);
	else
		execv(l->self, av);
	warn("%s", c->netns ? "ip" : l->self);
	_exit(EX_OSERR);
}

static void
launch_signal_all(struct launch *l, int sig)
{
	uint32_t	 i;

	for (i = 0; i < l->n; i++)
		if (l->pid[i] != 0)
			kill(l->pid[i], sig);
}

/* A member ended: say so if it failed, and start the grace period. */
static void
launch_reaped(struct launch *l, uint32_t i, int st)
{
	int	 failed = 0;

	l->pid[i] = 0;
	l->alive--;
	if (WIFSIGNALED(st)) {
		warnx("member %" PRIu32 " of %" PRIu32 " killed by signal %d "
		    "(%s)", i + 1, l->n, WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
		failed = EX_UNAVAILABLE;
	} else if (WEXITSTATUS(st) != 0) {
		opts_verbose(&l->c->o, "member %" PRIu32 " exited with "
		    "status %d", i + 1, WEXITSTATUS(st));
		failed = WEXITSTATUS(st);
	} else
		opts_verbose(&l->c->o, "member %" PRIu32 " done", i + 1);
	if (failed && l->status == 0) {
		l->status = failed;
		l->term_at = to_now() + GRACE_NS;
	}
}

static void
launch_reap(struct launch *l)
{
	pid_t		 pid;
	uint32_t	 i;
	int		 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (i = 0; i < l->n; i++)
			if (l->pid[i] == pid)
				launch_reaped(l, i, st);
}

/* Wait for every member, ending the rest once one failed. */
static void
launch_wait(struct launch *l, int sigfd)
{
	struct pollfd	 pfd[2] = {
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = chld_pipe[0], .events = POLLIN },
	};
	char		 buf[64];
	uint64_t	 now;

	while (l->alive > 0) {
		now = to_now();
		if (now >= l->term_at) {
			launch_signal_all(l, SIGTERM);
			l->term_at = UINT64_MAX;
			l->kill_at = now + KILL_NS;
		}
		if (now >= l->kill_at) {
			launch_signal_all(l, SIGKILL);
			l->kill_at = UINT64_MAX;
		}
		if (poll(pfd, 2, opts_poll_ms(now, l->term_at < l->kill_at ?
		    l->term_at : l->kill_at)) == -1 && errno != EINTR)
			err(EX_OSERR, "poll");
		if ((pfd[0].revents & POLLIN) && opts_signalled(sigfd)) {
			launch_signal_all(l, SIGTERM);
			if (l->status == 0)
				l->status = EX_TEMPFAIL;
			l->kill_at = to_now() + KILL_NS;
		}
		while (read(chld_pipe[0], buf, sizeof(buf)) > 0)
			;
		launch_reap(l);
	}
}

static void
launch_start(struct launch *l)
{
	struct sigaction sa;
	uint32_t	 i;

	if (pipe2(chld_pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		err(EX_OSERR, "pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = launch_onchld;
	sa.sa_flags = SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		err(EX_OSERR, "sigaction");
	if (setenv("TOBURST_MEMBER", "1", 1) == -1)
		err(EX_OSERR, "setenv");
	for (i = 0; i < l->n; i++) {
		fflush(NULL);
		if ((l->pid[i] = fork()) == -1) {
			warn("fork");
			l->status = EX_OSERR;
			l->term_at = 0;
			break;
		}
		if (l->pid[i] == 0)
			launch_exec(l, i);
		l->alive++;
		opts_verbose(&l->c->o, "member %" PRIu32 " of %" PRIu32
		    ": pid %ld", i + 1, l->n, (long)l->pid[i]);
	}
}

int
burst_launch(struct burst_conf *c)
{
	struct launch	 l;
	ssize_t		 len;
	int		 sigfd;

	memset(&l, 0, sizeof(l));
	l.c = c;
	l.n = c->local ? c->local : c->netns;
	l.term_at = l.kill_at = UINT64_MAX;
	if (c->netns && geteuid() != 0)
		errx(EX_NOPERM, "--netns: needs root (network namespaces); "
		    "use --local to run the members on this host");
	if ((len = readlink("/proc/self/exe", l.self, sizeof(l.self) - 1)) ==
	    -1)
		err(EX_OSERR, "/proc/self/exe");
	l.self[len] = '\0';
	snprintf(l.members, sizeof(l.members), "%" PRIu32, l.n);
	if (c->o.cfg.group != NULL)
		snprintf(l.group, sizeof(l.group), "%s", c->o.cfg.group);
	else
		snprintf(l.group, sizeof(l.group), "tb%ld-%04" PRIx32,
		    (long)getpid(), arc4random() & 0xffff);
	if ((l.pid = calloc(l.n, sizeof(*l.pid))) == NULL)
		err(EX_OSERR, NULL);
	sigfd = opts_signals();
	if (c->netns) {
		launch_find_lab(&l);
		snprintf(l.lab, sizeof(l.lab), "tb%ld", (long)getpid());
		launch_lab(&l, "up");
	}
	opts_verbose(&c->o, "group %s: starting %" PRIu32 " members",
	    l.group, l.n);
	launch_start(&l);
	launch_wait(&l, sigfd);
	if (c->netns)
		launch_lab(&l, "down");
	free(l.pid);
	return l.status;
}
