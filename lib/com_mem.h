/*
 * com_mem.h: the in-memory transport, for simulations (test/unit/sim.c).
 * The simulation presets transport->state to a struct mem_port before
 * calling open; every send goes to its send callback.
 */
#ifndef TO_COM_MEM_H
#define TO_COM_MEM_H

#include <stddef.h>
#include <stdint.h>

struct mem_port {
	void	(*send)(void *net, uint64_t src, uint64_t dst,
		    const void *dgram, size_t len);
	void	*net;
	size_t	 mtu;
};

#endif /* TO_COM_MEM_H */
