/*
 * verify.h: the guarantees, checked over the delivery logs of several
 * members (toview --check, and the simulation tests).
 *
 * Each member's log is a sequence of entries in delivery order: views as
 * they were installed and messages as they were delivered.  verify_run()
 * verifies, and names the first violation of:
 *  - no duplicates: a (sender, sender seq) at most once in a log;
 *  - per-sender FIFO: a sender's messages in increasing sender seq;
 *  - total order: messages two logs share appear in the same order and
 *    with the same content, and with the same global sequence number when
 *    both delivered them in the same view and went on to the same next
 *    view (a view is its id and members: the sides of a partition may
 *    reuse ids; a member cut off in a partition may miss messages of the
 *    view it closes alone, and numbers what it has without them);
 *  - no stray: each message carries the id of the view it was delivered in;
 *  - virtual synchrony: members that install the same two consecutive
 *    views deliver the same messages between them.
 */
#ifndef TO_VERIFY_H
#define TO_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#define VERIFY_VIEW	2	/* as FRAME_TYPE_VIEW */
#define VERIFY_DATA	1	/* as FRAME_TYPE_DATA */

struct verify_entry {
	int		 type;		/* VERIFY_DATA or VERIFY_VIEW */
	uint64_t	 view_id;
	uint64_t	 sender, sender_seq, global_seq;	/* DATA */
	uint32_t	 crc;		/* DATA: of the payload */
	uint32_t	 nmembers;	/* VIEW */
	const uint64_t	*members;	/* VIEW: copied by verify_add */
};

struct verify;

struct verify	*verify_new(void);
void		 verify_free(struct verify *);
/* Start the log of another member; name is used in messages. -1 ENOMEM. */
int		 verify_log(struct verify *, const char *name);
int		 verify_add(struct verify *, int log, const struct verify_entry *);
/* 0 if every guarantee holds, else -1 with the first violation in why. */
int		 verify_run(struct verify *, char *why, size_t whylen);
/* How many messages and views the logs hold in all. */
void		 verify_counts(const struct verify *, uint64_t *msgs,
		    uint64_t *views);

#endif /* TO_VERIFY_H */
