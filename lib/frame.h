/*
 * frame.h: records on stdin and stdout (see to-frame(5)).
 *
 * Three modes: FRAME_LINE (a record per line, the newline stripped on input
 * and restored on output), FRAME_NUL (NUL-terminated records), FRAME_BIN
 * (the versioned binary framed stream of to-frame(5): a stream header, then
 * length-prefixed records carrying metadata on output).
 *
 * The reader is fed raw bytes as the caller reads them and hands out whole
 * records; it never holds more than max_record plus one read's worth, so a
 * caller that only feeds it while it wants records reads in bounded memory.
 * The writer appends encoded records to a buffer that the caller drains to
 * its output descriptor.
 */
#ifndef TO_FRAME_H
#define TO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "to.h"

enum frame_mode {
	FRAME_LINE,
	FRAME_NUL,
	FRAME_BIN,
};

/* to-frame(5) version 1 */
#define FRAME_MAGIC		"TOFR"
#define FRAME_VERSION		1
#define FRAME_STREAM_HDR	8	/* magic, u16 version, u16 flags */
#define FRAME_TYPE_DATA		1
#define FRAME_TYPE_VIEW		2

struct frame_reader;
struct frame_writer;

struct frame_reader *frame_reader_new(enum frame_mode, size_t max_record);
void		 frame_reader_free(struct frame_reader *);
/* How many bytes the reader would take now without exceeding its bound. */
size_t		 frame_reader_room(const struct frame_reader *);
/* Append bytes read from input; -1 (ENOBUFS) if more than room. */
int		 frame_reader_feed(struct frame_reader *, const void *, size_t);
/*
 * The next whole record: 1 and *rec, *len set (valid until the next call),
 * 0 if more input is needed, -1 with errno EBADMSG (malformed: bad magic,
 * version, type or header length) or EMSGSIZE (record over max_record).
 * After -1 the reader stays failed.
 */
int		 frame_reader_next(struct frame_reader *, const void **rec,
		    size_t *len);
/*
 * At end of input: 1 and the final record if one is pending without its
 * terminator (line and NUL modes), 0 on a clean end, -1 (EBADMSG) if a
 * binary frame or the stream header was cut short.  Whole records still
 * buffered come first, so call it until it returns 0 or -1.
 */
int		 frame_reader_eof(struct frame_reader *, const void **rec,
		    size_t *len);
/* Which record (1-based) the reader is on, for error messages. */
uint64_t	 frame_reader_recno(const struct frame_reader *);
/* Bytes the reader has allocated: at most max_record + 64 KiB. */
size_t		 frame_reader_capacity(const struct frame_reader *);

struct frame_writer *frame_writer_new(enum frame_mode);
void		 frame_writer_free(struct frame_writer *);
/* Append one delivered message (with metadata in FRAME_BIN). -1 ENOMEM. */
int		 frame_write_delivery(struct frame_writer *,
		    const struct to_delivery *);
/* Append a view record (FRAME_BIN only; a no-op in the text modes). */
int		 frame_write_view(struct frame_writer *, const struct to_view *);
/* Bytes waiting to be written; the caller writes some and consumes them. */
const void	*frame_writer_pending(const struct frame_writer *, size_t *len);
void		 frame_writer_consume(struct frame_writer *, size_t n);
/*
 * How many pending bytes to write next so that a write cut short (by a
 * full pipe) cuts no record: the rest of a record begun if there is one,
 * else whole records of at most max bytes in all, else the first record
 * alone if it is larger.  A write(2) of at most PIPE_BUF bytes to a pipe
 * is all or nothing, so a writer that writes chunks of max PIPE_BUF
 * never leaves a record of that size or less half written.  0 when
 * nothing is pending.
 */
size_t		 frame_writer_chunk(const struct frame_writer *, size_t max);
/* Bytes of a record begun (partly consumed) still pending, else 0. */
size_t		 frame_writer_begun(const struct frame_writer *);
/* Give up every pending record except the rest of one begun. */
void		 frame_writer_drop(struct frame_writer *);

/* Decode one FRAME_BIN record (as frame_reader_next returns it). */
struct frame_record {
	int		 type;		/* FRAME_TYPE_DATA or FRAME_TYPE_VIEW */
	int		 has_meta;	/* DATA: metadata present */
	struct to_delivery d;		/* DATA (d.data, d.len: the payload) */
	uint64_t	 view_id;	/* VIEW */
	uint32_t	 nmembers;	/* VIEW */
	const unsigned char *members;	/* VIEW: nmembers big-endian u64 */
};
int		 frame_decode(const void *rec, size_t len, struct frame_record *);

#endif /* TO_FRAME_H */
