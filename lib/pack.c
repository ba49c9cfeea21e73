/*
 * pack.c: ordered units and packing; see pack.h.
 *
 * A unit starts with a kind byte.  count, len and raw are unsigned
 * LEB128 varints (seven bits a byte, low bits first, at most five bytes:
 * values below 2^32); count is at least 1.
 *
 *	+------+----------------------------------+
 *	| 0x00 | the message                      |	ONE
 *	+------+-------+-----+-------+-----+-------+---
 *	| 0x01 | count | len | bytes | len | bytes |...	MANY: count messages
 *	+------+-------+-----+-------+-----+-------+---
 *	| 0x02 | count |  raw  | zlib (len bytes len bytes ...) |	ZMANY
 *	+------+-------+-------+--------------------------------+
 *
 * ZMANY holds what MANY would hold after its count, deflated by zlib's
 * compress2(); raw is its inflated size.  A reader refuses a unit that
 * does not parse to exactly count messages, a raw size over its bound
 * (max_msg plus a header: no bombs), or an inflated size other than raw.
 *
 * The sender of a unit is in the protocol header in front of it, with
 * the sender seq of its first message; message i of a unit has sender seq
 * first + i.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "pack.h"

#define PACK_CAP_MIN	256
#define PACK_VARINT_MAX	5
#define PACK_DELAY_MAX	(10ULL * 1000000000ULL)
#define PACK_HEADROOM	(MSG_HEADROOM + PACK_HDR_MAX)

static size_t
varint_len(uint32_t v)
{
	size_t	 n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t
varint_put(unsigned char *p, uint32_t v)
{
	size_t	 n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* Bytes read into *v, or 0 if p holds no valid varint below 2^32. */
static size_t
varint_get(const unsigned char *p, size_t left, uint32_t *v)
{
	uint64_t	 x = 0;
	size_t		 i;

	for (i = 0; i < left && i < PACK_VARINT_MAX; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			if (x > UINT32_MAX)
				return 0;
			*v = (uint32_t)x;
			return i + 1;
		}
	}
	return 0;
}

int
pack_parse(const char *s, int allow_visit, enum pack_mode *mode,
    uint64_t *delay)
{
	unsigned long long v;
	char		*end;
	uint64_t	 unit;

	*delay = 0;
	if (s == NULL || strcmp(s, "off") == 0) {
		*mode = PACK_OFF;
		return 0;
	}
	if (strcmp(s, "adaptive") == 0) {
		*mode = PACK_ADAPTIVE;
		return 0;
	}
	if (allow_visit && strcmp(s, "visit") == 0) {
		*mode = PACK_VISIT;
		return 0;
	}
	if (*s < '0' || *s > '9')
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		goto bad;
	if (strcmp(end, "ns") == 0)
		unit = 1;
	else if (strcmp(end, "us") == 0)
		unit = 1000;
	else if (strcmp(end, "ms") == 0 || *end == '\0')
		unit = 1000000;
	else if (strcmp(end, "s") == 0)
		unit = 1000000000;
	else
		goto bad;
	if (v == 0 || v > PACK_DELAY_MAX / unit)
		goto bad;
	*mode = PACK_DELAY;
	*delay = v * unit;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

size_t
pack_room(size_t len)
{
	return varint_len(len > UINT32_MAX ? UINT32_MAX : (uint32_t)len) +
	    len;
}

size_t
pack_used(const struct pack *pk)
{
	return pk->m ? msg_len(pk->m) : 0;
}

/* Room for need more bytes, moving to a larger buffer if it must. */
static int
pack_reserve(struct pack *pk, size_t need)
{
	struct to_msg	*nm;
	size_t		 used = pack_used(pk), cap;

	if (pk->m != NULL && used + need <= pk->cap)
		return 0;
	cap = pk->cap * 2;
	if (cap < used + need)
		cap = used + need;
	if (cap < PACK_CAP_MIN)
		cap = PACK_CAP_MIN;
	if ((nm = msg_new(PACK_HEADROOM, cap)) == NULL)
		return -1;
	if (used > 0)
		memcpy(msg_data(nm), msg_data(pk->m), used);
	nm->len = used;
	msg_free(pk->m);
	pk->m = nm;
	pk->cap = cap;
	return 0;
}

int
pack_append(struct pack *pk, const struct to_msg *m)
{
	return pack_append_bytes(pk, msg_data(m), msg_len(m));
}

int
pack_append_bytes(struct pack *pk, const void *data, size_t len)
{
	unsigned char	*p;

	if (len > UINT32_MAX || pk->n == UINT32_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (pack_reserve(pk, pack_room(len)) == -1)
		return -1;
	p = msg_data(pk->m) + msg_len(pk->m);
	p += varint_put(p, (uint32_t)len);
	if (len > 0)
		memcpy(p, data, len);
	pk->m->len += pack_room(len);
	pk->n++;
	return 0;
}

void
pack_clear(struct pack *pk)
{
	msg_free(pk->m);
	memset(pk, 0, sizeof(*pk));
}

/* body (count messages) deflated into a ZMANY unit, or NULL if that is
 * no smaller or zlib fails. */
static struct to_msg *
pack_deflate(const struct to_msg *body, uint32_t count, int zlevel)
{
	struct to_msg	*z;
	unsigned char	*h;
	uLongf		 zlen;
	size_t		 raw = msg_len(body), hl;

	if (raw > UINT32_MAX)
		return NULL;
	zlen = compressBound((uLong)raw);
	if ((z = msg_new(PACK_HEADROOM, zlen)) == NULL)
		return NULL;
	if (compress2(msg_data(z), &zlen, msg_data(body), (uLong)raw,
	    zlevel) != Z_OK ||
	    zlen + varint_len((uint32_t)raw) >= raw) {
		msg_free(z);
		return NULL;
	}
	z->len = zlen;
	hl = 1 + varint_len(count) + varint_len((uint32_t)raw);
	h = msg_push(z, hl);
	h[0] = PACK_ZMANY;
	h += 1 + varint_put(h + 1, count);
	varint_put(h, (uint32_t)raw);
	return z;
}

/* A pack much larger than what it holds moves to a buffer that fits. */
static struct to_msg *
pack_fit(struct pack *pk)
{
	struct to_msg	*m = pk->m, *nm;
	size_t		 used = msg_len(m);

	if (pk->cap <= 2 * used || pk->cap - used <= 1024)
		return m;
	if ((nm = msg_new(PACK_HEADROOM, used)) == NULL)
		return m;
	memcpy(msg_data(nm), msg_data(m), used);
	msg_free(m);
	return nm;
}

struct to_msg *
pack_take(struct pack *pk, int zlevel, struct to_stats *st)
{
	struct to_msg	*m, *z;
	unsigned char	*h;
	uint32_t	 n = pk->n, len;

	if (pk->m == NULL || n == 0) {
		errno = EINVAL;
		return NULL;
	}
	m = pack_fit(pk);
	pk->m = NULL;
	pk->cap = 0;
	pk->n = 0;
	if (n > 1) {
		st->packs_sent++;
		st->msgs_packed += n;
	}
	if (zlevel != 0 && msg_len(m) >= PACK_ZMIN &&
	    (z = pack_deflate(m, n, zlevel)) != NULL) {
		st->packs_compressed++;
		msg_free(m);
		return z;
	}
	if (n == 1) {
		/* a pack of one goes as ONE: the kind byte for the length */
		msg_pull(m, varint_get(msg_data(m), msg_len(m), &len) - 1);
		msg_data(m)[0] = PACK_ONE;
		return m;
	}
	h = msg_push(m, 1 + varint_len(n));
	h[0] = PACK_MANY;
	varint_put(h + 1, n);
	return m;
}

struct to_msg *
pack_single(struct to_msg *m)
{
	unsigned char	*h;

	if ((h = msg_push(m, 1)) == NULL) {
		msg_free(m);
		return NULL;
	}
	h[0] = PACK_ONE;
	return m;
}

uint32_t
pack_count(const struct to_msg *m)
{
	const unsigned char *p = msg_data(m);
	size_t		 len = msg_len(m), k, k2;
	uint32_t	 c, raw;

	if (len < 1)
		return 0;
	switch (p[0]) {
	case PACK_ONE:
		return 1;
	case PACK_MANY:
		if ((k = varint_get(p + 1, len - 1, &c)) == 0 || c == 0 ||
		    c > len - 1 - k)
			return 0;
		return c;
	case PACK_ZMANY:
		if ((k = varint_get(p + 1, len - 1, &c)) == 0 ||
		    (k2 = varint_get(p + 1 + k, len - 1 - k, &raw)) == 0 ||
		    c == 0 || c > raw)
			return 0;
		return c;
	default:
		return 0;
	}
}

/* Exactly left messages fill body from at to its end. */
static int
pack_check(const struct to_msg *body, size_t at, uint32_t left)
{
	const unsigned char *p = msg_data(body);
	size_t		 len = msg_len(body), k;
	uint32_t	 n;

	while (left > 0) {
		if ((k = varint_get(p + at, len - at, &n)) == 0 ||
		    n > len - at - k)
			return -1;
		at += k + n;
		left--;
	}
	return at == len ? 0 : -1;
}

/* The inflated body of a ZMANY whose header is k bytes, or NULL. */
static struct to_msg *
pack_inflate(const struct to_msg *m, size_t k, uint32_t raw, size_t raw_max)
{
	struct to_msg	*out;
	uLongf		 olen = raw;

	if (raw > raw_max || (out = msg_new(0, raw)) == NULL)
		return NULL;
	if (uncompress(msg_data(out), &olen, msg_data(m) + k,
	    (uLong)(msg_len(m) - k)) != Z_OK || olen != raw) {
		msg_free(out);
		return NULL;
	}
	return out;
}

int
pack_open(struct pack_rd *rd, struct to_msg *m, size_t raw_max)
{
	const unsigned char *p = msg_data(m);
	uint32_t	 c = pack_count(m), raw = 0;
	size_t		 k;

	memset(rd, 0, sizeof(*rd));
	if (c == 0)
		goto bad;
	rd->left = c;
	if (p[0] == PACK_ONE) {
		msg_pull(m, 1);
		rd->body = m;
		rd->one = 1;
		return 0;
	}
	k = 1 + varint_get(p + 1, msg_len(m) - 1, &c);
	if (p[0] == PACK_MANY) {
		msg_pull(m, k);
		rd->body = m;
		m = NULL;
	} else {
		k += varint_get(p + k, msg_len(m) - k, &raw);
		if ((rd->body = pack_inflate(m, k, raw, raw_max)) == NULL)
			goto bad;
		msg_free(m);
		m = NULL;
	}
	if (pack_check(rd->body, 0, rd->left) == 0)
		return 0;
	msg_free(rd->body);
	rd->body = NULL;
bad:
	msg_free(m);
	rd->left = 0;
	errno = EBADMSG;
	return -1;
}

int
pack_next(struct pack_rd *rd, struct to_msg *v)
{
	size_t		 k;
	uint32_t	 len = 0;

	if (rd->left == 0 || rd->body == NULL)
		return -1;
	rd->left--;
	*v = *rd->body;
	memset(&v->meta, 0, sizeof(v->meta));
	if (rd->one)
		return 0;
	k = varint_get(msg_data(rd->body) + rd->at, msg_len(rd->body) -
	    rd->at, &len);
	v->off = rd->body->off + rd->at + k;
	v->len = len;
	rd->at += k + len;
	return 0;
}

void
pack_close(struct pack_rd *rd)
{
	msg_free(rd->body);
	memset(rd, 0, sizeof(*rd));
}

int
to_pack_check(const char *s)
{
	enum pack_mode	 mode;
	uint64_t	 delay;

	return s == NULL ? 0 : pack_parse(s, 0, &mode, &delay);
}
