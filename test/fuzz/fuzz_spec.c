/*
 * fuzz_spec.c: the parsers of user-supplied specs in the library: the
 * stack spec (-s, stack_parse and the whole of stack_new over the
 * in-memory transport) and the fault spec (TO_FAULTS, fault_new).
 *
 * Input: u8 which (even: stack spec, odd: fault spec), then the spec as a
 * string (cut at the first NUL).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "com_mem.h"
#include "fault.h"
#include "layer.h"

static void
fuzz_send(void *net, uint64_t src, uint64_t dst, const void *p, size_t len)
{
}

static void
fuzz_deliver(void *arg, const struct to_msg *m)
{
}

static void
stack_spec(const char *spec)
{
	struct mem_port	 port = { fuzz_send, NULL, 1472 };
	struct transport tr = { .ops = &transport_mem, .self = 7,
			    .state = &port };
	struct to_config cfg = { .group = "fuzz", .stack = spec };
	struct stack_app app = { fuzz_deliver, NULL, NULL };
	struct stack	*s;
	char		**names;
	int		 n, i;

	if (stack_parse(spec, &names, &n) == 0) {
		if (n < 1)
			abort();
		for (i = 0; i < n; i++)
			if (layer_lookup(names[i]) == NULL)
				abort();
		free(names[0]);
		free(names);
	} else if (errno != EINVAL && errno != ENOMEM)
		abort();
	tr.cfg = &cfg;
	if (tr.ops->open(&tr, "") == -1)
		abort();
	if ((s = stack_new(&cfg, &tr, 7, &app, 1)) != NULL)
		stack_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fault	*f;
	char		*spec;

	if (size < 1)
		return 0;
	if ((spec = malloc(size)) == NULL)
		return 0;
	memcpy(spec, data + 1, size - 1);
	spec[size - 1] = '\0';
	if (data[0] % 2 == 0)
		stack_spec(spec);
	else if ((f = fault_new(spec, 1)) != NULL)
		fault_free(f);
	else if (errno != EINVAL)
		abort();
	free(spec);
	return 0;
}
