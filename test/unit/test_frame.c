/*
 * test_frame.c: unit tests for lib/frame.c (to-frame(5)).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "frame.h"
#include "msg.h"

#define SLACK		(64u << 10)	/* what frame.c allows over max */
#define CHUNK_ALL	0		/* as much as room allows */
#define CHUNK_RANDOM	(-1)		/* 1..8192 bytes */
#define MIB		(1u << 20)

struct rec {
	unsigned char	*p;
	size_t		 len;
};

struct run {
	int		 rv;		/* 0 clean end, -1 failed, -2 stalled */
	int		 err;		/* errno after -1 */
	struct rec	*recs;
	size_t		 nrec;
	uint64_t	 recno;
	size_t		 maxcap;	/* largest frame_reader_capacity seen */
	size_t		 maxheld;	/* most bytes fed and not yet returned */
	size_t		 fed;
};

static uint64_t	rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng_next(void)
{
	uint64_t	x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void
fill(unsigned char *p, size_t n, int avoid)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		p[i] = (unsigned char)rng_next();
		if (p[i] == avoid)
			p[i] ^= 0x80;
	}
}

static void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n > 0 ? n : 1)) == NULL) {
		perror("malloc");
		exit(2);
	}
	return p;
}

static void
run_save(struct run *u, const void *p, size_t len)
{
	struct rec	*nr;

	if ((nr = realloc(u->recs, (u->nrec + 1) * sizeof(*nr))) == NULL) {
		perror("realloc");
		exit(2);
	}
	u->recs = nr;
	nr[u->nrec].p = xmalloc(len);
	if (len > 0)
		memcpy(nr[u->nrec].p, p, len);
	nr[u->nrec].len = len;
	u->nrec++;
}

static void
run_free(struct run *u)
{
	size_t	i;

	for (i = 0; i < u->nrec; i++)
		free(u->recs[i].p);
	free(u->recs);
	memset(u, 0, sizeof(*u));
}

/*
 * Feed in to a new reader in chunks of the given size (never more than the
 * reader has room for), taking every record, then signal end of input.
 */
static void
run_input(struct run *u, enum frame_mode mode, size_t max, const void *in,
    size_t len, int chunk)
{
	struct frame_reader	*r;
	const unsigned char	*p = in;
	const void		*rec;
	size_t			 off = 0, n, room, got = 0, reclen;
	int			 k;

	memset(u, 0, sizeof(*u));
	if ((r = frame_reader_new(mode, max)) == NULL) {
		perror("frame_reader_new");
		exit(2);
	}
	while (off < len) {
		if (chunk == CHUNK_RANDOM)
			n = 1 + rng_next() % 8192;
		else if (chunk == CHUNK_ALL)
			n = len - off;
		else
			n = chunk;
		if (n > len - off)
			n = len - off;
		room = frame_reader_room(r);
		if (n > room)
			n = room;
		if (n == 0) {
			u->rv = -2;
			goto out;
		}
		if (frame_reader_feed(r, p + off, n) == -1) {
			u->rv = -1;
			u->err = errno;
			goto out;
		}
		off += n;
		if (frame_reader_capacity(r) > u->maxcap)
			u->maxcap = frame_reader_capacity(r);
		if (off - got > u->maxheld)
			u->maxheld = off - got;
		while ((k = frame_reader_next(r, &rec, &reclen)) == 1) {
			run_save(u, rec, reclen);
			got = off;	/* approximate: all fed so far */
		}
		if (k == -1) {
			u->rv = -1;
			u->err = errno;
			goto out;
		}
	}
	while ((k = frame_reader_eof(r, &rec, &reclen)) == 1)
		run_save(u, rec, reclen);
	u->rv = k;
	if (k == -1)
		u->err = errno;
out:
	u->fed = off;
	u->recno = frame_reader_recno(r);
	frame_reader_free(r);
}

/* Take everything the writer has, in pieces of at most step bytes. */
static unsigned char *
drain(struct frame_writer *w, size_t *len, size_t step)
{
	unsigned char	*out = NULL, *no;
	const void	*p;
	size_t		 n, total = 0;

	for (;;) {
		p = frame_writer_pending(w, &n);
		if (n == 0)
			break;
		if (step > 0 && n > step)
			n = step;
		if ((no = realloc(out, total + n)) == NULL) {
			perror("realloc");
			exit(2);
		}
		out = no;
		memcpy(out + total, p, n);
		total += n;
		frame_writer_consume(w, n);
	}
	*len = total;
	return out;
}

/* Append a raw FRAME_BIN record; returns bytes written at p. */
static size_t
raw_rec(unsigned char *p, uint32_t l, int type, int metalen)
{
	put32(p, l);
	p[4] = type;
	p[5] = metalen;
	return 6;
}

static size_t
raw_hdr(unsigned char *p, uint16_t version, uint16_t flags)
{
	memcpy(p, "TOFR", 4);
	put16(p + 4, version);
	put16(p + 6, flags);
	return 8;
}

/* The messages every round trip sends. */
#define NMSG	6
static struct to_delivery	msgs[NMSG];
static unsigned char		*bigmsg;

static void
msgs_init(int avoid)
{
	static unsigned char	bin[] = { 'a', '\0', 'b', '\n', 'c', 0xff, '\r' };
	static unsigned char	nulbin[sizeof(bin)];
	size_t			i;

	free(bigmsg);
	bigmsg = xmalloc(MIB);
	fill(bigmsg, MIB, avoid);
	memcpy(nulbin, bin, sizeof(bin));
	for (i = 0; i < sizeof(nulbin); i++)
		if (nulbin[i] == avoid)
			nulbin[i] = 'x';
	for (i = 0; i < NMSG; i++) {
		msgs[i].view_id = 7 + i / 3;
		msgs[i].sender = 0x0102030405060708ULL + i;
		msgs[i].sender_seq = i + 1;
		msgs[i].global_seq = UINT64_MAX - i;
	}
	msgs[0].data = "";
	msgs[0].len = 0;
	msgs[1].data = "hello";
	msgs[1].len = 5;
	msgs[2].data = avoid < 0 ? bin : nulbin;
	msgs[2].len = sizeof(bin);
	msgs[3].data = bigmsg;
	msgs[3].len = MIB;
	msgs[4].data = "";
	msgs[4].len = 0;
	msgs[5].data = "x";
	msgs[5].len = 1;
}

static void
test_bin_roundtrip(void)
{
	static uint64_t		 m3[] = { 1, 0xfedcba9876543210ULL, 3 };
	struct to_view		 v0 = { .id = 1 };
	struct to_view		 v3 = { .id = 8, .n = 3, .members = m3,
					    .self = 1 };
	static const int	 chunks[] = { CHUNK_ALL, 1, CHUNK_RANDOM, 4096 };
	struct frame_writer	*w;
	struct frame_record	 fr;
	struct run		 u;
	unsigned char		*out;
	size_t			 len, i, c, j;
	int			 ok;

	msgs_init(-1);
	w = frame_writer_new(FRAME_BIN);
	CHECK(w != NULL);
	out = drain(w, &len, 0);
	CHECK(len == 0);	/* header only with the first record */
	free(out);
	CHECK(frame_write_view(w, &v0) == 0);
	for (i = 0; i < 3; i++)
		CHECK(frame_write_delivery(w, &msgs[i]) == 0);
	CHECK(frame_write_view(w, &v3) == 0);
	for (i = 3; i < NMSG; i++)
		CHECK(frame_write_delivery(w, &msgs[i]) == 0);
	out = drain(w, &len, 1000);
	frame_writer_free(w);
	CHECK(len > 8 && memcmp(out, "TOFR\0\1\0\0", 8) == 0);
	/* the first record: VIEW 1, no members */
	CHECK(get32(out + 8) == 14 && out[12] == 2 && out[13] == 12);
	CHECK(get64(out + 14) == 1 && get32(out + 22) == 0);
	/* the second: DATA with 32 bytes of metadata, empty */
	CHECK(get32(out + 26) == 34 && out[30] == 1 && out[31] == 32);

	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		run_input(&u, FRAME_BIN, TO_MAX_MSG_DEFAULT, out, len,
		    chunks[c]);
		CHECK(u.rv == 0);
		CHECK(u.nrec == NMSG + 2);
		CHECK(u.recno == NMSG + 2);
		CHECK(u.maxcap <= 2 * MIB + SLACK);	/* grows lazily */
		ok = u.nrec == NMSG + 2;
		for (i = 0, j = 0; ok && i < u.nrec; i++) {
			if (frame_decode(u.recs[i].p, u.recs[i].len,
			    &fr) == -1) {
				ok = 0;
				break;
			}
			if (i == 0 || i == 4) {
				const struct to_view *v = i ? &v3 : &v0;
				uint32_t k;

				ok = fr.type == FRAME_TYPE_VIEW &&
				    fr.view_id == v->id &&
				    fr.nmembers == v->n;
				for (k = 0; ok && k < v->n; k++)
					ok = get64(fr.members + 8 * k) ==
					    v->members[k];
				continue;
			}
			ok = fr.type == FRAME_TYPE_DATA && fr.has_meta &&
			    fr.d.view_id == msgs[j].view_id &&
			    fr.d.sender == msgs[j].sender &&
			    fr.d.sender_seq == msgs[j].sender_seq &&
			    fr.d.global_seq == msgs[j].global_seq &&
			    fr.d.len == msgs[j].len &&
			    memcmp(fr.d.data, msgs[j].data, fr.d.len) == 0;
			j++;
		}
		CHECK(ok);
		run_free(&u);
	}
	free(out);
}

static void
test_text_roundtrip(enum frame_mode mode)
{
	static const int	 chunks[] = { CHUNK_ALL, 1, CHUNK_RANDOM, 3 };
	struct to_view		 v = { .id = 1 };
	struct frame_writer	*w;
	struct run		 u;
	unsigned char		*out;
	size_t			 len, i, c, want;
	int			 term = mode == FRAME_NUL ? '\0' : '\n', ok;

	msgs_init(term);
	w = frame_writer_new(mode);
	CHECK(w != NULL);
	CHECK(frame_write_view(w, &v) == 0);
	frame_writer_pending(w, &len);
	CHECK(len == 0);
	for (i = 0; i < NMSG; i++)
		CHECK(frame_write_delivery(w, &msgs[i]) == 0);
	out = drain(w, &len, 777);
	frame_writer_free(w);
	for (want = 0, i = 0; i < NMSG; i++)
		want += msgs[i].len + 1;
	CHECK(len == want);
	CHECK(len >= 7 && out[0] == term && memcmp(out + 1, "hello", 5) == 0 &&
	    out[6] == term);
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		run_input(&u, mode, TO_MAX_MSG_DEFAULT, out, len, chunks[c]);
		CHECK(u.rv == 0);
		CHECK(u.nrec == NMSG);
		ok = u.nrec == NMSG;
		for (i = 0; ok && i < NMSG; i++)
			ok = u.recs[i].len == msgs[i].len &&
			    memcmp(u.recs[i].p, msgs[i].data,
			    msgs[i].len) == 0;
		CHECK(ok);
		run_free(&u);
	}
	free(out);
}

static void
test_text_final(void)
{
	struct run	u;

	run_input(&u, FRAME_LINE, 100, "a\nbc", 4, 1);
	CHECK(u.rv == 0 && u.nrec == 2);
	CHECK(u.nrec == 2 && u.recs[1].len == 2 &&
	    memcmp(u.recs[1].p, "bc", 2) == 0);
	CHECK(u.recno == 2);
	run_free(&u);

	run_input(&u, FRAME_NUL, 100, "a\nb\0c\n", 6, CHUNK_ALL);
	CHECK(u.rv == 0 && u.nrec == 2);
	CHECK(u.nrec == 2 && u.recs[0].len == 3 &&
	    memcmp(u.recs[0].p, "a\nb", 3) == 0 && u.recs[1].len == 2);
	run_free(&u);

	/* an empty last line is a record; nothing after it is not */
	run_input(&u, FRAME_LINE, 100, "\n\n", 2, CHUNK_ALL);
	CHECK(u.rv == 0 && u.nrec == 2 && u.recs[1].len == 0);
	run_free(&u);
}

static void
test_empty(void)
{
	unsigned char	hdr[8];
	struct run	u;

	run_input(&u, FRAME_LINE, 10, "", 0, CHUNK_ALL);
	CHECK(u.rv == 0 && u.nrec == 0 && u.recno == 0);
	run_free(&u);
	run_input(&u, FRAME_NUL, 10, "", 0, CHUNK_ALL);
	CHECK(u.rv == 0 && u.nrec == 0);
	run_free(&u);
	run_input(&u, FRAME_BIN, 10, "", 0, CHUNK_ALL);
	CHECK(u.rv == 0 && u.nrec == 0);
	run_free(&u);
	raw_hdr(hdr, 1, 0);
	run_input(&u, FRAME_BIN, 10, hdr, 8, 1);
	CHECK(u.rv == 0 && u.nrec == 0);
	run_free(&u);
}

/*
 * Feed in all at once after a good record: the reader must fail with err,
 * on record 2, and stay failed.
 */
static void
check_bad(const unsigned char *bad, size_t badlen, size_t max, int err,
    const char *what)
{
	struct frame_reader	*r;
	unsigned char		 in[512];
	const void		*rec;
	size_t			 len, n;
	int			 ok;

	n = raw_hdr(in, 1, 0);
	n += raw_rec(in + n, 2 + 32 + 2, 1, 32);
	memset(in + n, 0, 32);
	memcpy(in + n + 32, "ok", 2);
	n += 34;
	memcpy(in + n, bad, badlen);
	n += badlen;

	r = frame_reader_new(FRAME_BIN, max);
	ok = r != NULL && frame_reader_feed(r, in, n) == 0 &&
	    frame_reader_next(r, &rec, &len) == 1 && len == 36 &&
	    frame_reader_next(r, &rec, &len) == -1 && errno == err &&
	    frame_reader_recno(r) == 2 &&
	    frame_reader_next(r, &rec, &len) == -1 && errno == err &&
	    frame_reader_eof(r, &rec, &len) == -1 && errno == err &&
	    frame_reader_room(r) == 0 &&
	    frame_reader_feed(r, "", 0) == -1;
	if (!ok)
		printf("# %s\n", what);
	CHECK(ok);
	frame_reader_free(r);
}

static void
test_bin_malformed(void)
{
	struct frame_record	 fr;
	struct run		 u;
	unsigned char		 b[256];
	size_t			 n;

	/* stream header */
	memcpy(b, "TOFX\0\1\0\0", 8);
	run_input(&u, FRAME_BIN, 100, b, 8, CHUNK_ALL);
	CHECK(u.rv == -1 && u.err == EBADMSG && u.recno == 1);
	run_free(&u);
	run_input(&u, FRAME_BIN, 100, "X", 1, 1);	/* fails at once */
	CHECK(u.rv == -1 && u.err == EBADMSG && u.fed == 1);
	run_free(&u);
	raw_hdr(b, 2, 0);
	run_input(&u, FRAME_BIN, 100, b, 8, 1);
	CHECK(u.rv == -1 && u.err == EBADMSG);
	run_free(&u);
	raw_hdr(b, 0, 0);
	run_input(&u, FRAME_BIN, 100, b, 8, 1);
	CHECK(u.rv == -1 && u.err == EBADMSG);
	run_free(&u);
	raw_hdr(b, 1, 1);
	run_input(&u, FRAME_BIN, 100, b, 8, 1);
	CHECK(u.rv == -1 && u.err == EBADMSG);
	run_free(&u);
	raw_hdr(b, 1, 0x8000);
	run_input(&u, FRAME_BIN, 100, b, 8, CHUNK_ALL);
	CHECK(u.rv == -1 && u.err == EBADMSG);
	run_free(&u);
	/* a line-mode stream given to a binary reader */
	run_input(&u, FRAME_BIN, 100, "hello\n", 6, CHUNK_ALL);
	CHECK(u.rv == -1 && u.err == EBADMSG);
	run_free(&u);

	/* truncated stream header, truncated frames */
	run_input(&u, FRAME_BIN, 100, "TOF", 3, 1);
	CHECK(u.rv == -1 && u.err == EBADMSG);
	run_free(&u);
	run_input(&u, FRAME_BIN, 100, "TOFR\0\1\0", 7, CHUNK_ALL);
	CHECK(u.rv == -1 && u.err == EBADMSG);
	run_free(&u);
	n = raw_hdr(b, 1, 0);
	n += raw_rec(b + n, 2 + 3, 1, 0);
	memcpy(b + n, "abc", 3);
	n += 3;
	run_input(&u, FRAME_BIN, 100, b, n, 1);
	CHECK(u.rv == 0 && u.nrec == 1 && u.recs[0].len == 5);
	run_free(&u);
	run_input(&u, FRAME_BIN, 100, b, n - 1, 1);	/* payload cut */
	CHECK(u.rv == -1 && u.err == EBADMSG && u.nrec == 0 && u.recno == 1);
	run_free(&u);
	run_input(&u, FRAME_BIN, 100, b, 10, CHUNK_ALL);	/* length cut */
	CHECK(u.rv == -1 && u.err == EBADMSG);
	run_free(&u);
	run_input(&u, FRAME_BIN, 100, b, 13, CHUNK_ALL);	/* metalen cut */
	CHECK(u.rv == -1 && u.err == EBADMSG);
	run_free(&u);

	/* records: each after a good one */
	raw_rec(b, 0, 1, 0);
	check_bad(b, 4, 100, EBADMSG, "L 0");
	raw_rec(b, 1, 1, 0);
	check_bad(b, 5, 100, EBADMSG, "L 1");
	raw_rec(b, 2, 0, 0);
	check_bad(b, 6, 100, EBADMSG, "type 0");
	raw_rec(b, 2, 3, 0);
	check_bad(b, 6, 100, EBADMSG, "type 3");
	raw_rec(b, 2, 255, 0);
	check_bad(b, 6, 100, EBADMSG, "type 255");
	raw_rec(b, 3, 1, 1);
	check_bad(b, 7, 100, EBADMSG, "DATA metalen 1");
	raw_rec(b, 2 + 31, 1, 31);
	memset(b + 6, 0, 31);
	check_bad(b, 6 + 31, 100, EBADMSG, "DATA metalen 31");
	raw_rec(b, 2 + 11, 2, 11);
	check_bad(b, 6 + 11, 100, EBADMSG, "VIEW metalen 11");
	raw_rec(b, 2 + 10, 1, 32);
	check_bad(b, 6 + 10, 100, EBADMSG, "L < 2 + metalen");
	raw_rec(b, 2 + 12 + 8, 2, 12);
	put64(b + 6, 3);
	put32(b + 14, 2);	/* two members, one given */
	put64(b + 18, 1);
	check_bad(b, 6 + 12 + 8, 100, EBADMSG, "VIEW n 2, 8 bytes");
	raw_rec(b, 2 + 12 + 9, 2, 12);
	put32(b + 14, 1);
	check_bad(b, 6 + 12 + 9, 100, EBADMSG, "VIEW n 1, 9 bytes");
	raw_rec(b, 2 + 12 + 7, 2, 12);
	put32(b + 14, 0);
	check_bad(b, 6 + 12 + 7, 100, EBADMSG, "VIEW n 0, 7 bytes");

	/* too big: from the record header, before any payload */
	raw_rec(b, 2 + 32 + 101, 1, 32);
	check_bad(b, 6, 100, EMSGSIZE, "DATA payload 101, max 100");
	raw_rec(b, 2 + 101, 1, 0);
	check_bad(b, 6, 100, EMSGSIZE, "DATA no meta payload 101");
	put32(b, UINT32_MAX);
	check_bad(b, 4, 100, EMSGSIZE, "L 2^32-1, length bytes only");
	raw_rec(b, 2 + 12 + 8 * 13, 2, 12);
	check_bad(b, 6, 100, EMSGSIZE, "VIEW 13 members, max 100");

	/* the boundaries pass: payload max, metadata extension skipped */
	n = raw_hdr(b, 1, 0);
	n += raw_rec(b + n, 2 + 40 + 100, 1, 40);
	put64(b + n, 5);
	put64(b + n + 8, 6);
	put64(b + n + 16, 7);
	put64(b + n + 24, 8);
	memset(b + n + 32, 0xee, 8);
	memset(b + n + 40, 'p', 100);
	n += 140;
	n += raw_rec(b + n, 2 + 16 + 8, 2, 16);
	put64(b + n, 9);
	put32(b + n + 8, 1);
	memset(b + n + 12, 0xee, 4);
	put64(b + n + 16, 42);
	n += 24;
	run_input(&u, FRAME_BIN, 100, b, n, CHUNK_RANDOM);
	CHECK(u.rv == 0 && u.nrec == 2);
	CHECK(u.nrec == 2 && frame_decode(u.recs[0].p, u.recs[0].len,
	    &fr) == 0 && fr.type == FRAME_TYPE_DATA && fr.has_meta &&
	    fr.d.view_id == 5 && fr.d.sender == 6 && fr.d.sender_seq == 7 &&
	    fr.d.global_seq == 8 && fr.d.len == 100 &&
	    ((const char *)fr.d.data)[0] == 'p');
	CHECK(u.nrec == 2 && frame_decode(u.recs[1].p, u.recs[1].len,
	    &fr) == 0 && fr.type == FRAME_TYPE_VIEW && fr.view_id == 9 &&
	    fr.nmembers == 1 && get64(fr.members) == 42);
	run_free(&u);

	/* DATA without metadata, as a producer for tocast writes it */
	n = raw_hdr(b, 1, 0);
	n += raw_rec(b + n, 2 + 3, 1, 0);
	memcpy(b + n, "a\0b", 3);
	n += 3;
	run_input(&u, FRAME_BIN, 3, b, n, 1);
	CHECK(u.rv == 0 && u.nrec == 1 && frame_decode(u.recs[0].p,
	    u.recs[0].len, &fr) == 0 && !fr.has_meta && fr.d.len == 3 &&
	    memcmp(fr.d.data, "a\0b", 3) == 0 && fr.d.sender == 0);
	run_free(&u);

	/* frame_decode on its own */
	CHECK(frame_decode(b, 0, &fr) == -1 && errno == EBADMSG);
	b[0] = 1;
	b[1] = 0;
	CHECK(frame_decode(b, 1, &fr) == -1 && errno == EBADMSG);
	CHECK(frame_decode(b, 2, &fr) == 0 && fr.d.len == 0 && !fr.has_meta);
	b[1] = 32;
	CHECK(frame_decode(b, 33, &fr) == -1 && errno == EBADMSG);
	b[0] = 4;
	b[1] = 0;
	CHECK(frame_decode(b, 2, &fr) == -1 && errno == EBADMSG);
}

static void
test_text_max(enum frame_mode mode)
{
	const char	*t = mode == FRAME_NUL ? "12345\0" "123\0" :
			    "12345\n" "123\n";
	char		 big[64];
	struct run	 u;

	run_input(&u, mode, 5, t, 10, 1);
	CHECK(u.rv == 0 && u.nrec == 2 && u.recs[0].len == 5);
	run_free(&u);
	run_input(&u, mode, 4, t, 10, CHUNK_ALL);	/* in one piece */
	CHECK(u.rv == -1 && u.err == EMSGSIZE && u.nrec == 0 &&
	    u.recno == 1);
	run_free(&u);
	/* noticed as soon as a sixth byte is in, long before a terminator */
	memset(big, 'x', sizeof(big));
	run_input(&u, mode, 5, big, sizeof(big), 1);
	CHECK(u.rv == -1 && u.err == EMSGSIZE && u.fed == 6);
	run_free(&u);
	/* a final unterminated record over the limit */
	run_input(&u, mode, 5, "1\n" "123456", 8, CHUNK_ALL);
	if (mode == FRAME_NUL)
		CHECK(u.rv == -1 && u.err == EMSGSIZE);	/* one long record */
	else
		CHECK(u.rv == -1 && u.err == EMSGSIZE && u.nrec == 1 &&
		    u.recno == 2);
	run_free(&u);
	/* max_record 0: only empty records */
	run_input(&u, mode, 0, t + 9, 1, CHUNK_ALL);
	CHECK(u.rv == 0 && u.nrec == 1 && u.recs[0].len == 0);
	run_free(&u);
}

static void
test_bounded(void)
{
	struct frame_reader	*r;
	struct run		 u;
	unsigned char		*in;
	size_t			 n = 8 * MIB, max = 100000, i;

	/* 8 MiB without a newline, max 100000: fails within the bound */
	in = xmalloc(n);
	memset(in, 'x', n);
	run_input(&u, FRAME_LINE, max, in, n, CHUNK_RANDOM);
	CHECK(u.rv == -1 && u.err == EMSGSIZE);
	CHECK(u.maxcap <= max + SLACK && u.fed <= max + SLACK);
	run_free(&u);

	/* long lines near the limit, fed as room allows */
	for (i = 0; i < n; i++)
		in[i] = i % (max - 1) == max - 2 ? '\n' : 'y';
	run_input(&u, FRAME_LINE, max, in, n, CHUNK_ALL);
	CHECK(u.rv == 0 && u.nrec == n / (max - 1) + 1);
	CHECK(u.maxcap <= max + SLACK && u.maxheld <= max + SLACK);
	run_free(&u);
	run_input(&u, FRAME_LINE, max, in, n, CHUNK_RANDOM);
	CHECK(u.rv == 0 && u.nrec == n / (max - 1) + 1);
	CHECK(u.maxcap <= max + SLACK);
	run_free(&u);
	free(in);

	/* feeding more than room is refused */
	r = frame_reader_new(FRAME_LINE, 10);
	CHECK(r != NULL && frame_reader_room(r) == 10 + SLACK);
	in = xmalloc(11 + SLACK);
	memset(in, 'z', 11 + SLACK);
	CHECK(frame_reader_feed(r, in, 11 + SLACK) == -1 && errno == ENOBUFS);
	CHECK(frame_reader_feed(r, in, 10 + SLACK) == 0 &&
	    frame_reader_room(r) == 0);
	frame_reader_free(r);
	free(in);

	/* 64 MiB max does not mean 64 MiB allocated */
	r = frame_reader_new(FRAME_BIN, TO_MAX_MSG_DEFAULT);
	CHECK(r != NULL && frame_reader_capacity(r) == 0);
	CHECK(frame_reader_feed(r, "TOFR", 4) == 0 &&
	    frame_reader_capacity(r) <= SLACK);
	frame_reader_free(r);
}

static void
test_recno(void)
{
	struct run	u;

	run_input(&u, FRAME_LINE, 3, "a\nb\nccccc\nd\n", 12, CHUNK_RANDOM);
	CHECK(u.rv == -1 && u.err == EMSGSIZE && u.nrec == 2 && u.recno == 3);
	run_free(&u);
}

static void
test_writer_drain(void)
{
	struct to_delivery	 d = { 1, 2, 3, 4, NULL, 0, 0 };
	struct frame_writer	*w1, *w2;
	unsigned char		*a, *b, pay[300];
	size_t			 alen, blen, i, n;
	const void		*p;
	int			 failed = 0;

	/* the same records, drained at once or a bit at a time */
	w1 = frame_writer_new(FRAME_BIN);
	w2 = frame_writer_new(FRAME_BIN);
	b = NULL;
	blen = 0;
	fill(pay, sizeof(pay), -1);
	for (i = 0; i < 2000; i++) {
		d.data = pay;
		d.len = i % sizeof(pay);
		d.global_seq = i;
		if (frame_write_delivery(w1, &d) == -1 ||
		    frame_write_delivery(w2, &d) == -1)
			failed++;
		p = frame_writer_pending(w2, &n);
		n = n > 97 ? 97 : n;
		b = realloc(b, blen + n);
		memcpy(b + blen, p, n);
		blen += n;
		frame_writer_consume(w2, n);
	}
	a = drain(w1, &alen, 0);
	p = frame_writer_pending(w2, &n);
	b = realloc(b, blen + n);
	memcpy(b + blen, p, n);
	blen += n;
	frame_writer_consume(w2, n);
	CHECK(failed == 0);
	CHECK(alen == blen && memcmp(a, b, alen) == 0);
	frame_writer_pending(w2, &n);
	CHECK(n == 0);
	frame_writer_free(w1);
	frame_writer_free(w2);
	free(a);
	free(b);
}

static void
test_speed(void)
{
	struct frame_reader	*r;
	struct timespec		 t0, t1;
	unsigned char		*in;
	const void		*rec;
	size_t			 nlines = 1000000, n = nlines * 7, off, k;
	size_t			 len, got = 0;
	double			 dt;
	int			 rv = 0;

	in = xmalloc(n);
	for (off = 0; off < n; off += 7)
		memcpy(in + off, "abcdef\n", 7);
	r = frame_reader_new(FRAME_LINE, TO_MAX_MSG_DEFAULT);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (off = 0; off < n; off += k) {
		k = n - off < 65536 ? n - off : 65536;
		if (frame_reader_feed(r, in + off, k) == -1)
			break;
		while ((rv = frame_reader_next(r, &rec, &len)) == 1)
			got += len == 6;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dt = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# %zu lines in %.3f s\n", got, dt);
	CHECK(rv == 0 && got == nlines);
	CHECK(dt < 1.0);
	frame_reader_free(r);
	free(in);

	/* one 16 MiB line in 1 KiB reads: the search must not restart */
	n = 16 * MIB;
	in = xmalloc(n);
	memset(in, 'w', n);
	in[n - 1] = '\n';
	r = frame_reader_new(FRAME_LINE, TO_MAX_MSG_DEFAULT);
	got = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (off = 0; off < n; off += k) {
		k = n - off < 1024 ? n - off : 1024;
		if (frame_reader_feed(r, in + off, k) == -1)
			break;
		while ((rv = frame_reader_next(r, &rec, &len)) == 1)
			got += len == n - 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dt = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# a %zu-byte line in %.3f s\n", n, dt);
	CHECK(rv == 0 && got == 1);
	CHECK(dt < 1.0);
	frame_reader_free(r);
	free(in);
}

/*
 * frame_writer_chunk: whole records of at most max bytes, the rest of a
 * record begun first, a record larger than max alone; frame_writer_drop
 * keeps only the rest of the record begun.
 */
static void
test_writer_chunk(void)
{
	enum frame_mode		 modes[] = { FRAME_LINE, FRAME_NUL, FRAME_BIN };
	struct to_delivery	 d;
	struct frame_writer	*w;
	static char		 big[10000];
	size_t			 len, n, m, i;
	const unsigned char	*p;

	memset(&d, 0, sizeof(d));
	memset(big, 'x', sizeof(big));
	for (m = 0; m < 3; m++) {
		w = frame_writer_new(modes[m]);
		CHECK(w != NULL);
		d.data = "abcdefg";
		d.len = 7;
		for (i = 0; i < 1000; i++)
			CHECK(frame_write_delivery(w, &d) == 0);
		n = frame_writer_chunk(w, 4096);
		if (modes[m] == FRAME_BIN)	/* header, records of 45 */
			CHECK(n == 8 + (4096 - 8) / 45 * 45);
		else
			CHECK(n == 4096 / 8 * 8);
		frame_writer_consume(w, n);
		CHECK(frame_writer_begun(w) == 0);
		n = frame_writer_chunk(w, 4096);
		CHECK(n > 0 && n <= 4096);
		frame_writer_consume(w, 3);	/* a write cut short */
		CHECK(frame_writer_begun(w) > 0);
		CHECK(frame_writer_chunk(w, 4096) == frame_writer_begun(w));
		d.data = big;
		d.len = sizeof(big);
		CHECK(frame_write_delivery(w, &d) == 0);
		frame_writer_drop(w);
		p = frame_writer_pending(w, &len);
		CHECK(len == frame_writer_begun(w) && len > 0);
		CHECK(p[len - 1] == (modes[m] == FRAME_BIN ? 'g' :
		    modes[m] == FRAME_NUL ? '\0' : '\n'));
		frame_writer_consume(w, len);
		CHECK(frame_writer_begun(w) == 0);
		CHECK(frame_write_delivery(w, &d) == 0);
		CHECK(frame_writer_chunk(w, 4096) >= sizeof(big));
		frame_writer_free(w);
	}
}

int
main(void)
{
	printf("# seed %#llx\n", (unsigned long long)rng_state);
	test_bin_roundtrip();
	test_text_roundtrip(FRAME_LINE);
	test_text_roundtrip(FRAME_NUL);
	test_text_final();
	test_empty();
	test_bin_malformed();
	test_text_max(FRAME_LINE);
	test_text_max(FRAME_NUL);
	test_bounded();
	test_recno();
	test_writer_drain();
	test_writer_chunk();
	test_speed();
	free(bigmsg);
	return check_done();
}
