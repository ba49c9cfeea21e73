/*
 * verify_int.h: what the three parts of the log checker share (see
 * verify.c): the logs as entries, a hash map keyed by a pair of u64, the
 * naming of entries in messages, and the checks each part runs for
 * verify_check().  Private to verify*.c.
 */
#ifndef TO_VERIFY_INT_H
#define TO_VERIFY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "verify.h"

#define NONE		SIZE_MAX
#define ENC(log, i)	((uint64_t)(log) << 40 | (uint64_t)(i))
#define ENC_LOG(v)	((int)((v) >> 40))
#define ENC_I(v)	((size_t)((v) & ((1ULL << 40) - 1)))

typedef unsigned long long ull;

struct vent {
	int		 type;
	uint32_t	 flags;		/* VIEW */
	uint32_t	 crc;		/* DATA */
	uint32_t	 nmembers;	/* VIEW */
	size_t		 members;	/* VIEW: its first member in the pool */
	uint64_t	 view_id, sender, sseq, gseq;
	uint64_t	 key;		/* VIEW: names it; DATA: of its epoch */
	size_t		 view;		/* DATA: its regular view's entry */
	size_t		 trans;		/* DATA: the transitional view before */
	uint64_t	 next;		/* DATA: the key of the next view, 0 */
};

struct vlog {
	char		*name;
	struct vent	*e;
	size_t		 n, cap;
	uint64_t	*pool;		/* the members of every view */
	size_t		 npool, cappool;
	size_t		 view, trans;	/* the last regular, transitional */
	int		 up;		/* verify_linked: union-find parent */
};

struct verify {
	struct vlog	*logs;
	int		 n;
	int		 strict;
};

/* An open-addressing map from a pair of u64 to a u64. */
struct vmap {
	uint64_t	*k1, *k2, *v;
	unsigned char	*used;
	size_t		 cap;
};

/* Where violations go. */
struct vrun {
	void		(*fn)(void *, const char *);
	void		*arg;
	long		 n;
};

/* verify.c: the map, the names */
uint64_t	 vf_mix(uint64_t, uint64_t);
int		 vf_map_init(struct vmap *, size_t want);
void		 vf_map_free(struct vmap *);
uint64_t	*vf_map_get(const struct vmap *, uint64_t, uint64_t);
uint64_t	*vf_map_put(struct vmap *, uint64_t, uint64_t, uint64_t, int *);
void		 vf_report(struct vrun *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*vf_vname(const struct vent *, char *, size_t);
const char	*vf_ename(const struct vlog *, size_t, char *, size_t);
const char	*vf_eshort(const struct vlog *, size_t, char *, size_t);
const char	*vf_missing(uint64_t, uint64_t, char *, size_t);
int		 vf_is_member(const struct vlog *, const struct vent *, uint64_t);

/* verify_each.c: each log alone */
int		 vf_each(struct vrun *, struct vlog *);

/* verify_all.c: the logs together */
int		 vf_gseq(const struct verify *, const struct vlog *,
		    const struct vlog *, struct vrun *);
int		 vf_content(const struct verify *, struct vrun *);
int		 vf_pair(const struct vlog *, const struct vlog *, struct vrun *);
int		 vf_vsync(const struct verify *, struct vrun *);
int		 vf_linked(struct verify *, struct vrun *);

#endif /* TO_VERIFY_INT_H */
