/*
 * fuzz_frame.c: the record reader of tocast's standard input (frame.c),
 * in all three modes, fed in pieces as read(2) would, and frame_decode()
 * on every binary record.
 *
 * Input: u8 mode (0 lines, 1 NUL, 2 framed), u8 bound (the largest record
 * is 1 + bound * 7 bytes), u8 piece (bytes per feed, 1 to 256), then the
 * stream.  Besides the sanitizers it checks that the reader stays within
 * its documented memory bound, and that a record it hands out, written
 * again with the writer and read back, comes out the same.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define FUZZ_SLACK	(64u << 10)	/* frame.c's FRAME_SLACK */

/* Write rec with a writer of mode, read it back: the same bytes. */
static void
roundtrip(enum frame_mode mode, const void *rec, size_t len, size_t max)
{
	struct frame_writer *w;
	struct frame_reader *r;
	struct frame_record fr;
	struct to_delivery d = { 3, 0x1234, 5, 6, NULL, 0, 0 };
	const void	*out, *got;
	size_t		 outlen, gotlen;

	if (mode == FRAME_BIN) {
		if (frame_decode(rec, len, &fr) == -1 ||
		    fr.type != FRAME_TYPE_DATA)
			return;
		d.data = fr.d.data;
		d.len = fr.d.len;
	} else {
		d.data = rec;
		d.len = len;
	}
	if ((w = frame_writer_new(mode)) == NULL ||
	    frame_write_delivery(w, &d) == -1 ||
	    (r = frame_reader_new(mode, max)) == NULL)
		abort();
	out = frame_writer_pending(w, &outlen);
	if (frame_reader_feed(r, out, outlen) == -1 ||
	    frame_reader_next(r, &got, &gotlen) != 1)
		abort();
	if (mode == FRAME_BIN) {
		if (frame_decode(got, gotlen, &fr) == -1 ||
		    fr.d.len != d.len || memcmp(fr.d.data, d.data, d.len) != 0 ||
		    fr.d.global_seq != 6)
			abort();
	} else if (gotlen != len || memcmp(got, rec, len) != 0)
		abort();
	frame_reader_free(r);
	frame_writer_free(w);
}

static void
take(struct frame_reader *r, enum frame_mode mode, size_t max,
    int (*next)(struct frame_reader *, const void **, size_t *), int *done)
{
	struct frame_record fr;
	const void	*rec;
	size_t		 len;
	int		 rv;

	while ((rv = next(r, &rec, &len)) == 1) {
		/* a line, or a binary record's payload, is at most max */
		if (mode == FRAME_BIN) {
			if (frame_decode(rec, len, &fr) == -1)
				abort();	/* the reader checked it */
			if (fr.type == FRAME_TYPE_DATA && fr.d.len > max)
				abort();
			if (fr.type == FRAME_TYPE_VIEW &&
			    fr.nmembers > max / 8)
				abort();
		} else if (len > max)
			abort();
		roundtrip(mode, rec, len, max);
	}
	if (rv == -1) {
		if (errno != EBADMSG && errno != EMSGSIZE)
			abort();
		*done = 1;
	}
	if (next == frame_reader_eof)
		*done = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_reader *r;
	enum frame_mode	 mode;
	size_t		 max, piece, n;
	int		 done = 0;

	if (size < 3)
		return 0;
	mode = data[0] % 3 == 0 ? FRAME_LINE : data[0] % 3 == 1 ? FRAME_NUL :
	    FRAME_BIN;
	max = 1 + (size_t)data[1] * 7;
	piece = 1 + (size_t)data[2];
	data += 3;
	size -= 3;
	if ((r = frame_reader_new(mode, max)) == NULL)
		abort();
	while (!done && size > 0) {
		n = piece < size ? piece : size;
		if (n > frame_reader_room(r))
			n = frame_reader_room(r);
		if (n == 0)
			abort();	/* no room, yet no record to take */
		if (frame_reader_feed(r, data, n) == -1)
			abort();
		data += n;
		size -= n;
		if (frame_reader_capacity(r) > max + FUZZ_SLACK)
			abort();
		take(r, mode, max, frame_reader_next, &done);
	}
	if (!done)
		take(r, mode, max, frame_reader_eof, &done);
	frame_reader_free(r);
	return 0;
}
