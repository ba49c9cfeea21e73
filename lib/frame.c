/*
 * frame.c: records on stdin and stdout, to-frame(5) version 1.
 *
 * FRAME_LINE and FRAME_NUL records end with '\n' or '\0'; the terminator is
 * stripped on input and appended on output.  FRAME_BIN is a stream header
 * followed by length-prefixed records, after skalibs' textmessage framing
 * (a 4-byte big-endian length, then the bytes; over the maximum is
 * EMSGSIZE).  All integers are big-endian.
 *
 * Stream header, once at the start:
 *
 *	0                 4         6         8
 *	+-----------------+---------+---------+
 *	| 'T' 'O' 'F' 'R' | version |  flags  |
 *	+-----------------+---------+---------+
 *	                     u16 1     u16 0
 *
 * Record (L counts the bytes after the length field):
 *
 *	0       4      5         6            6+metalen     4+L
 *	+-------+------+---------+------------+-------------+
 *	| u32 L | type | metalen |  metadata  |   payload   |
 *	+-------+------+---------+------------+-------------+
 *
 * DATA (type 1), metalen 0 or >= 32:
 *	u64 view id, u64 sender, u64 sender seq, u64 global seq [, skipped]
 *	payload: the message
 * VIEW (type 2), metalen >= 12:
 *	u64 view id, u32 n [, skipped]
 *	payload: n u64 member ids, exactly 8*n bytes
 *
 * The writer emits the stream header lazily with the first record, so a
 * stream with no records is empty, which a reader takes as a clean end.
 *
 * The reader keeps unconsumed input in one buffer that grows on demand up to
 * max_record + FRAME_SLACK and is compacted (the consumed bytes moved out)
 * rather than grown further.  Oversized records fail as soon as their length
 * is known: from the record header in FRAME_BIN, from the bytes seen without
 * a terminator in the text modes.  The terminator search resumes where the
 * last one stopped, so parsing is linear in the input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "msg.h"

#define FRAME_SLACK	(64u << 10)	/* over max_record: headers, a read */
#define FRAME_MINBUF	4096		/* first allocation */
#define FRAME_LENLEN	4		/* u32 L */
#define FRAME_RECHDR	2		/* type, metalen */
#define FRAME_DATA_META	32		/* view, sender, sender seq, global seq */
#define FRAME_VIEW_META	12		/* view id, n */
#define FRAME_META_MAX	255

struct frame_reader {
	enum frame_mode	 mode;
	size_t		 max;		/* largest payload or line */
	size_t		 bound;		/* largest buffer */
	unsigned char	*buf;
	size_t		 cap;
	size_t		 off;		/* first unconsumed byte */
	size_t		 end;		/* one past the last byte fed */
	size_t		 scan;		/* text: no terminator in [off, scan) */
	int		 hdr;		/* FRAME_BIN: stream header consumed */
	int		 error;		/* errno once failed, else 0 */
	uint64_t	 nrec;		/* records returned */
	uint64_t	 recno;		/* for frame_reader_recno */
};

struct frame_writer {
	enum frame_mode	 mode;
	int		 hdr;		/* FRAME_BIN: stream header written */
	unsigned char	*buf;
	size_t		 cap;
	size_t		 off;		/* first byte not yet consumed */
	size_t		 end;
	size_t		 rest;		/* of a record begun, bytes pending */
	uint64_t	 out;		/* bytes consumed since the start */
};

/*
 * Check a record header: L bytes follow the length field, starting with
 * type and metalen.  0 if well formed, else -1.
 */
static int
frame_check(int type, size_t metalen, size_t l)
{
	if (l < FRAME_RECHDR + metalen)
		return -1;
	switch (type) {
	case FRAME_TYPE_DATA:
		return metalen == 0 || metalen >= FRAME_DATA_META ? 0 : -1;
	case FRAME_TYPE_VIEW:
		return metalen >= FRAME_VIEW_META ? 0 : -1;
	default:
		return -1;
	}
}

int
frame_decode(const void *rec, size_t len, struct frame_record *fr)
{
	const unsigned char	*p = rec, *meta, *pay;
	size_t			 metalen, plen;

	if (len < FRAME_RECHDR || frame_check(p[0], p[1], len) == -1) {
		errno = EBADMSG;
		return -1;
	}
	metalen = p[1];
	meta = p + FRAME_RECHDR;
	pay = meta + metalen;
	plen = len - FRAME_RECHDR - metalen;

	memset(fr, 0, sizeof(*fr));
	fr->type = p[0];
	if (fr->type == FRAME_TYPE_DATA) {
		if (metalen > 0) {
			fr->has_meta = 1;
			fr->d.view_id = get64(meta);
			fr->d.sender = get64(meta + 8);
			fr->d.sender_seq = get64(meta + 16);
			fr->d.global_seq = get64(meta + 24);
		}
		fr->d.data = pay;
		fr->d.len = plen;
		return 0;
	}
	fr->view_id = get64(meta);
	fr->nmembers = get32(meta + 8);
	if (plen % 8 != 0 || plen / 8 != fr->nmembers) {
		errno = EBADMSG;
		return -1;
	}
	fr->members = pay;
	return 0;
}

struct frame_reader *
frame_reader_new(enum frame_mode mode, size_t max_record)
{
	struct frame_reader	*r;

	if ((mode != FRAME_LINE && mode != FRAME_NUL && mode != FRAME_BIN) ||
	    max_record > SIZE_MAX - FRAME_SLACK) {
		errno = EINVAL;
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->mode = mode;
	r->max = max_record;
	r->bound = max_record + FRAME_SLACK;
	return r;
}

void
frame_reader_free(struct frame_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
}

size_t
frame_reader_room(const struct frame_reader *r)
{
	if (r->error)
		return 0;
	return r->bound - (r->end - r->off);
}

size_t
frame_reader_capacity(const struct frame_reader *r)
{
	return r->cap;
}

uint64_t
frame_reader_recno(const struct frame_reader *r)
{
	return r->recno;
}

static int
reader_fail(struct frame_reader *r, int error)
{
	r->error = error;
	r->recno = r->nrec + 1;
	errno = error;
	return -1;
}

/* Make n more bytes fit after r->end; the caller checked the bound. */
static int
reader_reserve(struct frame_reader *r, size_t n)
{
	unsigned char	*nb;
	size_t		 pending = r->end - r->off, need, ncap;

	if (r->cap - r->end >= n)
		return 0;
	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, pending);
		r->scan -= r->off;
		r->off = 0;
		r->end = pending;
		if (r->cap - r->end >= n)
			return 0;
	}
	need = pending + n;
	ncap = r->cap > 0 ? r->cap : FRAME_MINBUF;
	while (ncap < need)
		ncap = ncap > r->bound / 2 ? r->bound : ncap * 2;
	if (ncap > r->bound)
		ncap = r->bound;
	if ((nb = realloc(r->buf, ncap)) == NULL)
		return -1;
	r->buf = nb;
	r->cap = ncap;
	return 0;
}

int
frame_reader_feed(struct frame_reader *r, const void *p, size_t n)
{
	if (r->error) {
		errno = r->error;
		return -1;
	}
	if (n > frame_reader_room(r)) {
		errno = ENOBUFS;
		return -1;
	}
	if (n == 0)
		return 0;
	if (reader_reserve(r, n) == -1)
		return -1;
	memcpy(r->buf + r->end, p, n);
	r->end += n;
	return 0;
}

/* Hand out the n bytes at rec and consume them plus skip more. */
static int
reader_yield(struct frame_reader *r, const unsigned char *rec, size_t n,
    size_t skip, const void **recp, size_t *lenp)
{
	*recp = rec;
	*lenp = n;
	r->off += skip;
	if (r->off == r->end)
		r->off = r->end = 0;	/* the bytes stay valid until a feed */
	r->scan = r->off;
	r->recno = ++r->nrec;
	return 1;
}

static int
reader_next_text(struct frame_reader *r, const void **rec, size_t *len)
{
	unsigned char	*t;
	size_t		 n;
	int		 term = r->mode == FRAME_NUL ? '\0' : '\n';

	if (r->scan < r->off)
		r->scan = r->off;
	t = NULL;
	if (r->end > r->scan)
		t = memchr(r->buf + r->scan, term, r->end - r->scan);
	if (t == NULL) {
		r->scan = r->end;
		if (r->end - r->off > r->max)
			return reader_fail(r, EMSGSIZE);
		return 0;
	}
	n = t - (r->buf + r->off);
	if (n > r->max)
		return reader_fail(r, EMSGSIZE);
	return reader_yield(r, r->buf + r->off, n, n + 1, rec, len);
}

static int
reader_next_bin(struct frame_reader *r, const void **rec, size_t *len)
{
	struct frame_record	 fr;
	const unsigned char	*p;
	size_t			 have, l, metalen, hlen;

	have = r->end - r->off;
	if (have == 0)
		return 0;
	p = r->buf + r->off;
	if (!r->hdr) {
		hlen = have < 4 ? have : 4;
		if (memcmp(p, FRAME_MAGIC, hlen) != 0)
			return reader_fail(r, EBADMSG);
		if (have < FRAME_STREAM_HDR)
			return 0;
		if (get16(p + 4) != FRAME_VERSION || get16(p + 6) != 0)
			return reader_fail(r, EBADMSG);
		r->hdr = 1;
		r->off += FRAME_STREAM_HDR;
		p += FRAME_STREAM_HDR;
		have -= FRAME_STREAM_HDR;
		if (have == 0) {
			r->off = r->end = r->scan = 0;
			return 0;
		}
	}
	if (have < FRAME_LENLEN)
		return 0;
	l = get32(p);
	if (l < FRAME_RECHDR)
		return reader_fail(r, EBADMSG);
	if (l - FRAME_RECHDR > FRAME_META_MAX &&
	    l - FRAME_RECHDR - FRAME_META_MAX > r->max)
		return reader_fail(r, EMSGSIZE);
	if (have < FRAME_LENLEN + FRAME_RECHDR)
		return 0;
	metalen = p[5];
	if (frame_check(p[4], metalen, l) == -1)
		return reader_fail(r, EBADMSG);
	if (l - FRAME_RECHDR - metalen > r->max)
		return reader_fail(r, EMSGSIZE);
	if (have - FRAME_LENLEN < l)
		return 0;
	if (frame_decode(p + FRAME_LENLEN, l, &fr) == -1)
		return reader_fail(r, EBADMSG);
	return reader_yield(r, p + FRAME_LENLEN, l, FRAME_LENLEN + l, rec, len);
}

int
frame_reader_next(struct frame_reader *r, const void **rec, size_t *len)
{
	if (r->error) {
		errno = r->error;
		return -1;
	}
	if (r->mode == FRAME_BIN)
		return reader_next_bin(r, rec, len);
	return reader_next_text(r, rec, len);
}

int
frame_reader_eof(struct frame_reader *r, const void **rec, size_t *len)
{
	int	rv;

	if ((rv = frame_reader_next(r, rec, len)) != 0)
		return rv;
	if (r->end == r->off)
		return 0;
	if (r->mode == FRAME_BIN)
		return reader_fail(r, EBADMSG);
	/* frame_reader_next checked the length against max_record. */
	return reader_yield(r, r->buf + r->off, r->end - r->off,
	    r->end - r->off, rec, len);
}

struct frame_writer *
frame_writer_new(enum frame_mode mode)
{
	struct frame_writer	*w;

	if (mode != FRAME_LINE && mode != FRAME_NUL && mode != FRAME_BIN) {
		errno = EINVAL;
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->mode = mode;
	return w;
}

void
frame_writer_free(struct frame_writer *w)
{
	if (w == NULL)
		return;
	free(w->buf);
	free(w);
}

/*
 * Room for n more bytes at the end; returns where they go and counts them
 * as written.  Moves the pending bytes to the front when that costs no more
 * than what was consumed, else to a buffer at least twice as large, so the
 * copying is linear in what is written.
 */
static unsigned char *
writer_reserve(struct frame_writer *w, size_t n)
{
	unsigned char	*nb, *p;
	size_t		 pending = w->end - w->off, ncap;

	if (w->cap - w->end < n) {
		if (n > SIZE_MAX - pending) {
			errno = ENOMEM;
			return NULL;
		}
		if (w->off >= pending && w->cap - pending >= n) {
			memmove(w->buf, w->buf + w->off, pending);
		} else {
			ncap = FRAME_MINBUF;
			if (w->cap > 0)
				ncap = w->cap > SIZE_MAX / 2 ?
				    SIZE_MAX : w->cap * 2;
			while (ncap < pending + n)
				ncap = ncap > SIZE_MAX / 2 ?
				    pending + n : ncap * 2;
			if ((nb = malloc(ncap)) == NULL)
				return NULL;
			if (pending > 0)
				memcpy(nb, w->buf + w->off, pending);
			free(w->buf);
			w->buf = nb;
			w->cap = ncap;
		}
		w->off = 0;
		w->end = pending;
	}
	p = w->buf + w->end;
	w->end += n;
	return p;
}

/* Reserve a FRAME_BIN record of l bytes after the length, with its header. */
static unsigned char *
writer_record(struct frame_writer *w, int type, size_t metalen, size_t l)
{
	unsigned char	*p;
	size_t		 n = FRAME_LENLEN + l;

	if (!w->hdr)
		n += FRAME_STREAM_HDR;
	if ((p = writer_reserve(w, n)) == NULL)
		return NULL;
	if (!w->hdr) {
		memcpy(p, FRAME_MAGIC, 4);
		put16(p + 4, FRAME_VERSION);
		put16(p + 6, 0);
		p += FRAME_STREAM_HDR;
		w->hdr = 1;
	}
	put32(p, (uint32_t)l);
	p[4] = type;
	p[5] = metalen;
	return p + FRAME_LENLEN + FRAME_RECHDR;
}

int
frame_write_delivery(struct frame_writer *w, const struct to_delivery *d)
{
	unsigned char	*p;

	if (w->mode != FRAME_BIN) {
		if (d->len == SIZE_MAX) {
			errno = EMSGSIZE;
			return -1;
		}
		if ((p = writer_reserve(w, d->len + 1)) == NULL)
			return -1;
		if (d->len > 0)
			memcpy(p, d->data, d->len);
		p[d->len] = w->mode == FRAME_NUL ? '\0' : '\n';
		return 0;
	}
	if (d->len > UINT32_MAX - FRAME_RECHDR - FRAME_DATA_META) {
		errno = EMSGSIZE;
		return -1;
	}
	p = writer_record(w, FRAME_TYPE_DATA, FRAME_DATA_META,
	    FRAME_RECHDR + FRAME_DATA_META + d->len);
	if (p == NULL)
		return -1;
	put64(p, d->view_id);
	put64(p + 8, d->sender);
	put64(p + 16, d->sender_seq);
	put64(p + 24, d->global_seq);
	if (d->len > 0)
		memcpy(p + FRAME_DATA_META, d->data, d->len);
	return 0;
}

int
frame_write_view(struct frame_writer *w, const struct to_view *v)
{
	unsigned char	*p;
	uint32_t	 i;

	if (w->mode != FRAME_BIN)
		return 0;
	if (v->n > (UINT32_MAX - FRAME_RECHDR - FRAME_VIEW_META) / 8) {
		errno = EMSGSIZE;
		return -1;
	}
	p = writer_record(w, FRAME_TYPE_VIEW, FRAME_VIEW_META,
	    FRAME_RECHDR + FRAME_VIEW_META + (size_t)v->n * 8);
	if (p == NULL)
		return -1;
	put64(p, v->id);
	put32(p + 8, v->n);
	p += FRAME_VIEW_META;
	for (i = 0; i < v->n; i++)
		put64(p + (size_t)i * 8, v->members[i]);
	return 0;
}

const void *
frame_writer_pending(const struct frame_writer *w, size_t *len)
{
	*len = w->end - w->off;
	if (w->buf == NULL)
		return NULL;
	return w->buf + w->off;
}

/*
 * The length of the record that starts p bytes into the pending ones:
 * up to its terminator in the text modes (a payload holding one is two
 * records to whoever reads the lines), from its length in FRAME_BIN,
 * where the stream header counts as a record of its own.
 */
static size_t
writer_unit(const struct frame_writer *w, size_t p)
{
	const unsigned char	*q, *s = w->buf + w->off + p;
	size_t			 left = w->end - w->off - p;

	if (w->mode != FRAME_BIN) {
		q = memchr(s, w->mode == FRAME_NUL ? '\0' : '\n', left);
		return q != NULL ? (size_t)(q - s) + 1 : left;
	}
	if (w->out + p == 0)
		return FRAME_STREAM_HDR;
	return FRAME_LENLEN + (size_t)get32(s);
}

size_t
frame_writer_chunk(const struct frame_writer *w, size_t max)
{
	size_t	 n = 0, u, pending = w->end - w->off;

	if (w->rest > 0)
		return w->rest;
	while (n < pending) {
		u = writer_unit(w, n);
		if (n > 0 && u > max - n)
			break;
		n += u;
		if (n >= max)
			break;
	}
	return n;
}

size_t
frame_writer_begun(const struct frame_writer *w)
{
	return w->rest;
}

void
frame_writer_consume(struct frame_writer *w, size_t n)
{
	size_t	 k;

	if (n > w->end - w->off)
		n = w->end - w->off;
	while (n > 0) {
		if (w->rest == 0)
			w->rest = writer_unit(w, 0);
		k = n < w->rest ? n : w->rest;
		w->off += k;
		w->out += k;
		w->rest -= k;
		n -= k;
	}
	if (w->off == w->end)
		w->off = w->end = 0;
}

void
frame_writer_drop(struct frame_writer *w)
{
	w->end = w->off + w->rest;
	if (w->off == w->end)
		w->off = w->end = 0;
}
