/*
 * seed_stack.c: the seed corpus of fuzz_stack: what member 1 sends after
 * the view forms (heartbeats, its casts, a fragmented one, a leave), in
 * fuzz_stack's input format, one file for each stack and with and without
 * a key.  Run by make fuzz-seeds; writes into the directory given.
 */
#define LLVMFuzzerTestOneInput	fuzz_stack_one
#include "fuzz_stack.c"

#include <err.h>
#include <stdio.h>

#define SEED_COM	28	/* an unsealed COM header */

static const char *const names[3] = { "full", "frag-nak-com", "nak-com" };
static FILE	*seed_out;
static int	 seed_sealed;
static void	(*seed_next)(void *, uint64_t, uint64_t, const void *, size_t);

static void
seed_tap(void *net, uint64_t src, uint64_t dst, const void *p, size_t len)
{
	unsigned char	 rec[4];
	size_t		 n = len - SEED_COM;

	rec[0] = (seed_sealed ? 2 : 1) | (dst != 0 ? 4 : 0);
	rec[1] = 4;
	rec[2] = n >> 8;
	rec[3] = n;
	fwrite(rec, 1, 4, seed_out);
	fwrite((const unsigned char *)p + SEED_COM, 1, n, seed_out);
	seed_next(net, src, dst, p, len);
}

int
main(int argc, char *argv[])
{
	static char	 big[3000];
	struct sim	*s;
	char		 path[1024];
	struct event	 leave = { .type = EV_LEAVE };
	unsigned char	 how;

	if (argc != 2)
		errx(1, "usage: seed_stack dir");
	memset(big, 'x', sizeof(big));
	for (how = 0; how < 6; how++) {
		/* the traffic is recorded unsealed; the harness seals it */
		s = setup(how & ~1);
		snprintf(path, sizeof(path), "%s/seed-%s-%s", argv[1],
		    how & 1 ? "key" : "nokey", names[how >> 1 & 3]);
		if ((seed_out = fopen(path, "w")) == NULL)
			err(1, "%s", path);
		fputc(how, seed_out);
		seed_sealed = how & 1;
		seed_next = s->nodes[1].port->send;
		s->nodes[1].port->send = seed_tap;
		sim_cast(s, 1, "hello", 5);
		sim_cast(s, 1, big, sizeof(big));
		sim_run(s, NULL, NULL, 20 * FUZZ_TICK);
		sim_cast(s, 1, "world", 5);
		if ((how >> 1 & 3) == 0)
			sim_ctl(s, 1, &leave);
		sim_run(s, NULL, NULL, 100 * FUZZ_TICK);
		if (fclose(seed_out) == EOF)
			err(1, "%s", path);
		sim_free(s);
	}
	return 0;
}
