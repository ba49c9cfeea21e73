/*
 * fuzz_opts.c: the command-line parser every tool shares (cmd/opts.c,
 * opts_parse), with every option letter any tool takes.
 *
 * opts.c reports a bad option as the tools must, with errx(3) and an exit
 * status; to call it many times in one process, the Makefile compiles it
 * (and member.c, which reads the key file) for this harness with err,
 * errx, warn, warnx, exit, open and fputs renamed to the functions below,
 * which return here through a longjmp.
 * open fails with ENOENT, so no input reaches the file system (-k and
 * TO_KEYFILE are covered by test/cli/badinput.bats); fputs prints no
 * usage.
 *
 * Input: the arguments, separated by NUL bytes.  Besides the sanitizers it
 * checks that the parser ends only with 0, 64 (usage), 66 (a key file
 * that cannot be opened) or 74 (stdout, for --version), or returns.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "opts.h"

#define FUZZ_ARGS	64

static jmp_buf	 fuzz_jmp;

__attribute__((noreturn)) void
fuzz_exit(int status)
{
	longjmp(fuzz_jmp, status + 1);
}

__attribute__((noreturn)) void
fuzz_err(int status, const char *fmt, ...)
{
	fuzz_exit(status);
}

__attribute__((noreturn)) void
fuzz_errx(int status, const char *fmt, ...)
{
	fuzz_exit(status);
}

void
fuzz_warn(const char *fmt, ...)
{
}

void
fuzz_warnx(const char *fmt, ...)
{
}

int
fuzz_fputs(const char *s, FILE *fp)
{
	return 0;
}

int
fuzz_open(const char *path, int flags, ...)
{
	errno = ENOENT;
	return -1;
}

static const struct opts_tool fuzz_tool = {
	.name = "fuzz",
	.optstring = "0AFg:hi:k:M:n:p:qrs:t:T:vVw:W:",
	.operands = 1,
	.synopsis = "usage: fuzz\n",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsetenv("TO_GROUP");
	unsetenv("TO_TRANSPORT");
	unsetenv("TO_FAULTS");
	unsetenv("TO_KEYFILE");
	if (freopen("/dev/null", "w", stdout) == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct opts o;
	char		*buf, *argv[FUZZ_ARGS + 2];
	volatile int	 argc = 1;
	size_t		 i;
	int		 status;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "fuzz";
	argv[argc++] = buf;
	for (i = 0; i < size && argc <= FUZZ_ARGS; i++)
		if (buf[i] == '\0')
			argv[argc++] = buf + i + 1;
	argv[argc] = NULL;
	optind = 0;		/* glibc: start getopt afresh */
	if ((status = setjmp(fuzz_jmp)) == 0)
		opts_parse(&o, &fuzz_tool, argc, argv);
	else if (status - 1 != EX_OK && status - 1 != EX_USAGE &&
	    status - 1 != EX_NOINPUT && status - 1 != EX_IOERR)
		abort();
	free(o.key);
	o.key = NULL;
	free(buf);
	return 0;
}
