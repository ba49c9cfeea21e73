/*
 * verify.h: the guarantees of to(7), checked over the delivery logs of
 * several members (toview -c, and the simulation tests).
 *
 * Each member's log is a sequence of entries in delivery order: views as
 * they were installed and messages as they were delivered.  A view is
 * named by its id, its flags and its members: the sides of a partition
 * may install views with one id and different members.  A transitional
 * view (VERIFY_TRANSITIONAL) lists the members of the closing view that
 * go on together into the view of its id; the messages after it, until
 * the next view, are the closing view's that the flush delivered, with
 * global seqs that go on from the closing view's.
 *
 * Within each log:
 *  - a message comes after a view, carries the id of the (closing) view
 *    it is delivered in, and its sender is a member of that view;
 *  - no duplicates: a (sender, sender seq) at most once;
 *  - each sender's seqs increase, and by one unless a view between the
 *    two messages left the sender out;
 *  - global seqs go up by one within a view, from the first message the
 *    log has in it (a transitional view's from the closing view's);
 *  - view ids increase, and one member is in every view of the log;
 *    a transitional view's members are in the views before and after it.
 * Across logs:
 *  - in one view, a global seq names one message in every log, and logs
 *    that deliver in a view start at the same global seq: a log that
 *    ends inside a view is compared up to where it ends;
 *  - total order: messages two logs share come in the same order, with
 *    the same content;
 *  - virtual synchrony: logs that install the same two consecutive views
 *    deliver the same messages between them;
 *  - the logs are linked by shared views: two logs with none in common
 *    (and no log in between) are of different groups.
 *
 * A log that is not complete at its end (a member killed) is checked as
 * far as it goes.
 */
#ifndef TO_VERIFY_H
#define TO_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#define VERIFY_VIEW	2	/* as FRAME_TYPE_VIEW */
#define VERIFY_DATA	1	/* as FRAME_TYPE_DATA */

#define VERIFY_TRANSITIONAL 0x1	/* VIEW flags, as in to-frame(5) */

struct verify_entry {
	int		 type;		/* VERIFY_DATA or VERIFY_VIEW */
	uint64_t	 view_id;
	uint64_t	 sender, sender_seq, global_seq;	/* DATA */
	uint32_t	 crc;		/* DATA: of the payload */
	uint32_t	 nmembers;	/* VIEW */
	const uint64_t	*members;	/* VIEW: copied by verify_add */
	uint32_t	 flags;		/* VIEW: VERIFY_TRANSITIONAL */
};

struct verify;

struct verify	*verify_new(void);
void		 verify_free(struct verify *);
/* Start the log of another member; name is used in messages. -1 ENOMEM. */
int		 verify_log(struct verify *, const char *name);
int		 verify_add(struct verify *, int log, const struct verify_entry *);
/*
 * Strict (toview -c): in one view a global seq names one message in every
 * log, as to(7) says.  Not strict (the default): two logs that leave a
 * view for different next views may number its last messages apart, as
 * the sides of a partition do until the flush at a view change is written
 * after a transitional view.
 */
void		 verify_strict(struct verify *, int);
/*
 * Check every guarantee; call report with each violation found, one line
 * without a newline, naming the log, its entry (1-based: the record
 * number of a log of torecv -F), the view, the sender and seqs.  Returns
 * how many were found, or -1 (ENOMEM).
 */
long		 verify_check(struct verify *,
		    void (*report)(void *, const char *), void *arg);
/* 0 if every guarantee holds, else -1 with the first violation in why. */
int		 verify_run(struct verify *, char *why, size_t whylen);
/* How many messages and views the logs hold in all. */
void		 verify_counts(const struct verify *, uint64_t *msgs,
		    uint64_t *views);

#endif /* TO_VERIFY_H */
