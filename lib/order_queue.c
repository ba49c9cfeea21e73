/*
 * order_queue.c: the FIFO queues of units (struct ord_queue, order.h)
 * that order.c and the protocols keep: a ring that doubles when full
 * (fifo_regrow, msg.h).  Push takes the unit, and frees it if there is
 * no room.
 */
#include <stdlib.h>
#include <string.h>

#include "order.h"

int
ordq_push(struct ord_queue *q, const struct ord_msg *e)
{
	struct ord_msg	*nq;
	size_t		 cap;

	if (q->n == q->cap) {
		cap = q->cap ? q->cap * 2 : 64;
		if ((nq = fifo_regrow(q->q, q->head, q->n, q->cap, cap,
		    sizeof(*nq))) == NULL) {
			msg_free(e->m);
			return -1;
		}
		free(q->q);
		q->q = nq;
		q->head = 0;
		q->cap = cap;
	}
	q->q[(q->head + q->n) % q->cap] = *e;
	q->n++;
	return 0;
}

struct ord_msg *
ordq_at(struct ord_queue *q, size_t i)
{
	return i < q->n ? &q->q[(q->head + i) % q->cap] : NULL;
}

struct ord_msg *
ordq_front(struct ord_queue *q)
{
	return ordq_at(q, 0);
}

void
ordq_pop(struct ord_queue *q)
{
	if (q->n == 0)
		return;
	q->head = (q->head + 1) % q->cap;
	q->n--;
}

void
ordq_clear(struct ord_queue *q)
{
	struct ord_msg	*e;

	while ((e = ordq_front(q)) != NULL) {
		msg_free(e->m);
		ordq_pop(q);
	}
}

void
ordq_free(struct ord_queue *q)
{
	ordq_clear(q);
	free(q->q);
	memset(q, 0, sizeof(*q));
}
