/*
 * check.h: a tiny TAP harness for the unit tests.
 *
 * CHECK(cond) prints "ok N - cond" or "not ok N - file:line: cond" and
 * counts; check_done() prints the plan and returns the exit status.
 */
#ifndef TO_CHECK_H
#define TO_CHECK_H

#include <stdio.h>

static int	check_n, check_failed;

#define CHECK(cond) do {						\
	if (cond)							\
		printf("ok %d - %s\n", ++check_n, #cond);		\
	else {								\
		printf("not ok %d - %s:%d: %s\n", ++check_n,		\
		    __FILE__, __LINE__, #cond);				\
		check_failed++;						\
	}								\
	fflush(stdout);							\
} while (0)

static inline int
check_done(void)
{
	printf("1..%d\n", check_n);
	return check_failed > 0;
}

#endif /* TO_CHECK_H */
