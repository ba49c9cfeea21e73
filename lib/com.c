/*
 * com.c: the COM layer, the bottom of every stack (paper section 4: "the
 * COM layer is responsible for the actual interface with udp").
 *
 * Guarantees: a datagram that reaches the layer above came from a member of
 * this group (by name hash), speaks this version, is addressed to us or to
 * all, was not sent by us, and is intact (CRC-32 over header and payload).
 * With a group key (to_config.key) it was moreover sealed by a holder of
 * the key, for this group, and is not a replay: the payload travels
 * encrypted and authenticated, the header authenticated.  Anything else is
 * dropped and counted.  Fault injection (TO_FAULTS) acts here, on received
 * datagrams, for every transport alike.
 *
 * Header, big-endian, 28 bytes unsealed, 48 sealed:
 *
 *	 0      2   3   4               8
 *	+------+---+---+---------------+
 *	| 'TO' |ver|flg|  group hash   |
 *	+------+---+---+---------------+-------------------------------+
 *	|            src member id      |          dst member id (0: all)
 *	+-------------------------------+-------------------------------+
 *	unsealed (flg 0):
 *	|  CRC-32 of bytes 0..23 and the payload  |  payload ...
 *	+---------------------------------------+
 *	sealed (flg 1):
 *	|        send counter           |      Poly1305 tag (16 bytes)   |
 *	+-------------------------------+-------------------------------+
 *	|  payload, encrypted ...
 *	 24                              32                              48
 *
 * flg bit 0 (SEALED) marks a sealed datagram; bits 1-7 are a print of
 * the layers from COM up to MBRSHIP (com_stack_print; 0 from com_wrap),
 * since a member of another stack cannot read ours: its datagrams are
 * dropped and to_config.refused told (TO_REFUSED_STACK).
 *
 * Sealing is XChaCha20-Poly1305 (libsodium's IETF AEAD): the associated
 * data is bytes 0..31 (everything before the tag), the nonce is src,
 * counter and 8 zero bytes.  The counter starts at 1 and grows by one with
 * every sealed datagram a member sends; member ids are 64 random bits
 * drawn by each process, so (src, counter) never repeats under one key,
 * even across restarts.  The cipher key is derived from the key file's
 * bytes and the group name with keyed BLAKE2b, so one key file may serve
 * several groups without their traffic mixing, and any length >= 32 works.
 *
 * Replays: for each sender we keep the highest counter accepted and a
 * window of COM_REPLAY_WINDOW counters below it; a counter seen before, or
 * older than the window, is dropped.  Only authentic datagrams touch this
 * state, and at most COM_PEERS_MAX senders are remembered (the one heard
 * least recently is forgotten first), so a member that restarts (a new id)
 * cannot be replayed as its old incarnation for as long as the old id is
 * remembered.
 *
 * A key mismatch is a configuration error the user must hear about: when
 * COM_REFUSE_REPORT datagrams of one sender were refused for their key
 * (unsealed while we have a key, sealed while we have none, or failing
 * authentication), to_config.refused is called once for that sender and
 * reason.  At most COM_REFUSERS senders are tracked for this at a time.
 *
 * With a key, hdr_len covers the sealed header: the layers above size their
 * datagrams for it, and a sealed datagram is built in a buffer of the
 * layer's own (kept messages share their bytes with the NAK layer's
 * retransmission queue, so the payload is never encrypted in place).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <sodium.h>
#include <libdeflate.h>

#include "fault.h"
#include "layer.h"

#define COM_MAGIC	0x544f
#define COM_VERSION	1
#define COM_HDR		28
#define COM_CRC_OFF	24
#define COM_F_SEALED	0x01

#define COM_CTR_OFF	24
#define COM_AD_LEN	32		/* bytes 0..31: the associated data */
#define COM_TAG_OFF	32
#define COM_TAG		crypto_aead_xchacha20poly1305_ietf_ABYTES
#define COM_HDR_SEALED	(COM_AD_LEN + COM_TAG)
#define COM_KEY		crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define COM_NONCE	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES

#define COM_REPLAY_WINDOW 1024		/* counters below the highest */
#define COM_PEERS_MAX	256		/* senders whose windows we keep */
#define COM_REFUSERS	16		/* senders tracked for refused() */
#define COM_REFUSE_REPORT 3		/* refusals before refused() */

/* The label the cipher key is derived under, with the group name. */
static const char com_label[] = "to/com/v1 group key";

/* A sender's replay window: bit c % WINDOW stands for counter c. */
struct com_peer {
	uint64_t	 id;
	uint64_t	 top;		/* highest counter accepted */
	uint64_t	 used;		/* com->tick when last accepted */
	uint64_t	 bits[COM_REPLAY_WINDOW / 64];
};

/* A sender whose datagrams we refuse for their key. */
struct com_refuser {
	uint64_t	 id;
	unsigned	 count[TO_REFUSED_STACK + 1];
	unsigned	 told;		/* bit r: refused() called for r */
};

struct com {
	uint32_t	 group;
	int		 stack;		/* flg bits 1-7: the stack's print */
	struct fault	*fault;
	uint64_t	*members;	/* of the last view, to forget leavers */
	uint32_t	 nmembers;
	/* with a key */
	int		 sealed;
	unsigned char	 key[COM_KEY];
	uint64_t	 counter;	/* the last one we sent */
	unsigned char	*out;		/* a sealed datagram being sent */
	struct com_peer	*peers;
	size_t		 npeers;
	uint64_t	 tick;
	/* senders refused for their key */
	struct com_refuser refusers[COM_REFUSERS];
	size_t		 nrefusers, next_refuser;
};

uint32_t
com_group_hash(const char *name)
{
	uint32_t	 h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

/*
 * zlib's CRC-32 (the gzip polynomial), computed with libdeflate's
 * carry-less multiply version: the same value at 2.4 times the speed on
 * this machine (16 against 6.8 GB/s), which was a third of all CPU with
 * messages of a megabyte (perf, toburst -s 1048576).
 */
static uint32_t
com_crc(const unsigned char *hdr, const unsigned char *payload, size_t len)
{
	return libdeflate_crc32(libdeflate_crc32(0, hdr, COM_CRC_OFF),
	    payload, len);
}

/* The CRC of datagram m, which starts with its header: both parts. */
static uint32_t
com_crc_msg(const struct to_msg *m)
{
	const unsigned char *h = msg_data(m);
	uint32_t	 crc = com_crc(h, h + COM_HDR, m->len - COM_HDR);

	if (m->ext != NULL)
		crc = libdeflate_crc32(crc, msg_ext_data(m), m->ext_len);
	return crc;
}

/*
 * The cipher key for a group: keyed BLAKE2b of the label and the group
 * name, under the BLAKE2b hash of the key file's bytes.
 */
static int
com_derive(unsigned char out[COM_KEY], const unsigned char *key,
    size_t keylen, const char *group)
{
	crypto_generichash_state st;
	unsigned char	 prk[crypto_generichash_BYTES];

	if (key == NULL || keylen < TO_KEY_MIN) {
		errno = EINVAL;
		return -1;
	}
	if (sodium_init() == -1) {
		errno = ENOSYS;
		return -1;
	}
	crypto_generichash(prk, sizeof(prk), key, keylen, NULL, 0);
	crypto_generichash_init(&st, prk, sizeof(prk), COM_KEY);
	crypto_generichash_update(&st, (const unsigned char *)com_label,
	    sizeof(com_label));
	crypto_generichash_update(&st, (const unsigned char *)group,
	    strlen(group));
	crypto_generichash_final(&st, out, COM_KEY);
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(&st, sizeof(st));
	return 0;
}

static void
com_nonce(unsigned char n[COM_NONCE], uint64_t src, uint64_t counter)
{
	memset(n, 0, COM_NONCE);
	put64(n, src);
	put64(n + 8, counter);
}

static void
com_put_hdr(unsigned char *h, uint32_t group, int flags, uint64_t src,
    uint64_t dst)
{
	put16(h, COM_MAGIC);
	h[2] = COM_VERSION;
	h[3] = flags;
	put32(h + 4, group);
	put64(h + 8, src);
	put64(h + 16, dst);
}

/*
 * Seal len bytes of payload from src to dst with counter into out, which
 * holds COM_HDR_SEALED + len bytes.
 */
static void
com_seal_into(unsigned char *out, const unsigned char key[COM_KEY],
    uint32_t group, int flags, uint64_t src, uint64_t dst, uint64_t counter,
    const unsigned char *payload, size_t len)
{
	unsigned char	 nonce[COM_NONCE];

	com_put_hdr(out, group, COM_F_SEALED | flags, src, dst);
	put64(out + COM_CTR_OFF, counter);
	com_nonce(nonce, src, counter);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
	    out + COM_HDR_SEALED, out + COM_TAG_OFF, NULL, payload, len,
	    out, COM_AD_LEN, NULL, nonce, key);
}

ssize_t
com_wrap(const struct to_config *cfg, uint64_t src, uint64_t dst,
    uint64_t counter, const void *payload, size_t len, void *out,
    size_t outlen)
{
	unsigned char	 key[COM_KEY], *h = out;
	uint32_t	 group = com_group_hash(cfg->group ? cfg->group : "");

	if (cfg->key == NULL) {
		if (outlen < COM_HDR || len > outlen - COM_HDR) {
			errno = EMSGSIZE;
			return -1;
		}
		com_put_hdr(h, group, 0, src, dst);
		memcpy(h + COM_HDR, payload, len);
		put32(h + COM_CRC_OFF, com_crc(h, h + COM_HDR, len));
		return COM_HDR + len;
	}
	if (outlen < COM_HDR_SEALED || len > outlen - COM_HDR_SEALED) {
		errno = EMSGSIZE;
		return -1;
	}
	if (com_derive(key, cfg->key, cfg->keylen,
	    cfg->group ? cfg->group : "") == -1)
		return -1;
	com_seal_into(h, key, group, 0, src, dst, counter, payload, len);
	sodium_memzero(key, sizeof(key));
	return COM_HDR_SEALED + len;
}

/*
 * The print of the layers from us up to MBRSHIP, which all members must
 * share to read each other's datagrams (MBRSHIP itself compares the
 * layers above it, and says which): 1 to 127, shifted into flg bits 1-7.
 */
static int
com_stack_print(const struct layer *l)
{
	const struct layer *a;
	uint32_t	 h = 2166136261u;
	const char	*n;

	for (a = l; a != NULL; a = a->above) {
		for (n = a->ops->name; *n != '\0'; n++)
			h = (h ^ (unsigned char)*n) * 16777619u;
		h = (h ^ ':') * 16777619u;
		if (strcmp(a->ops->name, "mbrship") == 0)
			break;
	}
	return (int)(h % 127 + 1) << 1;
}

static int
com_init(struct layer *l)
{
	const struct to_config *cfg = layer_config(l);
	struct com	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->group = com_group_hash(cfg->group ? cfg->group : "");
	c->stack = com_stack_print(l);
	l->state = c;
	layer_stats(l)->rcvbuf = layer_transport(l)->rcvbuf;
	layer_stats(l)->sndbuf = layer_transport(l)->sndbuf;
	layer_stats(l)->buf_asked = layer_transport(l)->bufask;
	if (cfg->key != NULL) {
		c->sealed = 1;
		if (com_derive(c->key, cfg->key, cfg->keylen,
		    cfg->group ? cfg->group : "") == -1 ||
		    (c->out = malloc(layer_transport(l)->mtu)) == NULL ||
		    (c->peers = calloc(COM_PEERS_MAX, sizeof(*c->peers))) ==
		    NULL)
			goto fail;
	}
	if (cfg->faults != NULL && *cfg->faults != '\0' &&
	    (c->fault = fault_new(cfg->faults, cfg->seed ^ layer_self(l))) ==
	    NULL)
		goto fail;
	return 0;
fail:
	{
		int	 saved = errno;

		l->state = NULL;
		sodium_memzero(c->key, sizeof(c->key));
		free(c->out);
		free(c->peers);
		free(c);
		errno = saved;
		return -1;
	}
}

static void
com_fini(struct layer *l)
{
	struct com	*c = l->state;

	if (c == NULL)
		return;
	fault_free(c->fault);
	free(c->members);
	sodium_memzero(c->key, sizeof(c->key));
	free(c->out);
	free(c->peers);
	free(c);
	l->state = NULL;
}

/* Send the datagram of iovcnt parts, len bytes in all. */
static int
com_send(struct layer *l, uint64_t dst, const struct iovec *iov,
    int iovcnt, size_t len)
{
	struct transport *tr = layer_transport(l);
	struct to_stats	*st = layer_stats(l);
	int		 rv;

	rv = tr->ops->send(tr, dst, iov, iovcnt);
	if (rv == 0) {
		st->dgrams_sent++;
		st->bytes_sent += len;
	}
	return rv;
}

static int
com_down_sealed(struct layer *l, struct to_msg *m)
{
	struct com	*c = l->state;
	size_t		 len = msg_len(m);
	struct iovec	 iov;
	int		 rv;

	if (len > layer_transport(l)->mtu - COM_HDR_SEALED) {
		msg_free(m);
		errno = EMSGSIZE;
		return -1;
	}
	if (c->counter == UINT64_MAX) {
		msg_free(m);
		errno = EOVERFLOW;
		return -1;
	}
	/* sealed in place, both parts of m gathered first */
	msg_read(m, 0, c->out + COM_HDR_SEALED, len);
	com_seal_into(c->out, c->key, c->group, c->stack, layer_self(l),
	    m->meta.dst,
	    ++c->counter, c->out + COM_HDR_SEALED, len);
	iov.iov_base = c->out;
	iov.iov_len = COM_HDR_SEALED + len;
	rv = com_send(l, m->meta.dst, &iov, 1, iov.iov_len);
	msg_free(m);
	return rv;
}

static int
com_down(struct layer *l, struct to_msg *m)
{
	struct com	*c = l->state;
	unsigned char	*h;
	struct iovec	 iov[2];
	int		 rv;

	if (c->sealed)
		return com_down_sealed(l, m);
	if ((h = msg_push(m, COM_HDR)) == NULL) {
		msg_free(m);
		return -1;
	}
	if (msg_len(m) > layer_transport(l)->mtu) {
		msg_free(m);
		errno = EMSGSIZE;
		return -1;
	}
	com_put_hdr(h, c->group, c->stack, layer_self(l), m->meta.dst);
	put32(h + COM_CRC_OFF, com_crc_msg(m));
	iov[0].iov_base = h;
	iov[0].iov_len = m->len;
	if (m->ext != NULL) {
		/* a slice (frag.c): its second part goes as it is */
		iov[1].iov_base = (void *)msg_ext_data(m);
		iov[1].iov_len = m->ext_len;
	}
	rv = com_send(l, m->meta.dst, iov, m->ext != NULL ? 2 : 1,
	    msg_len(m));
	msg_free(m);
	return rv;
}

/* Count a refusal of src's datagrams for reason r; tell once enough came. */
static void
com_refuse(struct layer *l, uint64_t src, enum to_refusal r)
{
	struct com	*c = l->state;
	const struct to_config *cfg = layer_config(l);
	struct com_refuser *f = NULL;
	size_t		 i;

	for (i = 0; i < c->nrefusers; i++)
		if (c->refusers[i].id == src)
			f = &c->refusers[i];
	if (f == NULL) {
		if (c->nrefusers < COM_REFUSERS)
			i = c->nrefusers++;
		else {
			i = c->next_refuser;
			c->next_refuser = (i + 1) % COM_REFUSERS;
		}
		f = &c->refusers[i];
		memset(f, 0, sizeof(*f));
		f->id = src;
	}
	if (f->told & 1u << r || ++f->count[r] < COM_REFUSE_REPORT)
		return;
	f->told |= 1u << r;
	if (cfg->refused != NULL)
		cfg->refused(cfg->refused_arg, src, r);
}

static struct com_peer *
com_peer(struct com *c, uint64_t id)
{
	struct com_peer	*p, *old;
	size_t		 i;

	for (i = 0; i < c->npeers; i++)
		if (c->peers[i].id == id)
			return &c->peers[i];
	if (c->npeers < COM_PEERS_MAX)
		p = &c->peers[c->npeers++];
	else {
		/* forget the sender heard least recently */
		for (p = old = c->peers; p < c->peers + c->npeers; p++)
			if (p->used < old->used)
				old = p;
		p = old;
	}
	memset(p, 0, sizeof(*p));
	p->id = id;
	return p;
}

/* 0 if counter is new for p (and now seen), -1 if a replay. */
static int
com_replay_check(struct com *c, struct com_peer *p, uint64_t ctr)
{
	uint64_t	 i, d;

	if (ctr == 0)
		return -1;
	if (ctr > p->top) {
		d = ctr - p->top;
		if (d >= COM_REPLAY_WINDOW)
			memset(p->bits, 0, sizeof(p->bits));
		else
			for (i = p->top + 1; i < ctr; i++)
				p->bits[i / 64 % (COM_REPLAY_WINDOW / 64)] &=
				    ~(1ULL << i % 64);
		p->top = ctr;
	} else if (p->top - ctr >= COM_REPLAY_WINDOW ||
	    p->bits[ctr / 64 % (COM_REPLAY_WINDOW / 64)] & 1ULL << ctr % 64)
		return -1;
	p->bits[ctr / 64 % (COM_REPLAY_WINDOW / 64)] |= 1ULL << ctr % 64;
	p->used = ++c->tick;
	return 0;
}

/* Authenticate and decrypt a sealed datagram in place; -1 if dropped. */
static int
com_open_sealed(struct layer *l, struct to_msg *m, uint64_t src)
{
	struct com	*c = l->state;
	struct to_stats	*st = layer_stats(l);
	unsigned char	*h = msg_data(m), nonce[COM_NONCE];
	struct com_peer	*p;
	uint64_t	 ctr;

	if (!c->sealed) {
		st->dropped_auth++;
		com_refuse(l, src, TO_REFUSED_SEALED);
		return -1;
	}
	ctr = get64(h + COM_CTR_OFF);
	com_nonce(nonce, src, ctr);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
	    h + COM_HDR_SEALED, NULL, h + COM_HDR_SEALED,
	    m->len - COM_HDR_SEALED, h + COM_TAG_OFF, h, COM_AD_LEN, nonce,
	    c->key) != 0) {
		st->dropped_auth++;
		com_refuse(l, src, TO_REFUSED_KEY);
		return -1;
	}
	p = com_peer(c, src);
	if (com_replay_check(c, p, ctr) == -1) {
		st->dropped_replay++;
		return -1;
	}
	return 0;
}

/*
 * Check a raw datagram; the length of its header if it is ours to deliver,
 * -1 if dropped.
 */
static int
com_accept(struct layer *l, struct to_msg *m)
{
	struct com	*c = l->state;
	struct to_stats	*st = layer_stats(l);
	const unsigned char *h = msg_data(m);
	uint64_t	 src, dst;
	int		 sealed;

	if (m->len < COM_HDR || get16(h) != COM_MAGIC ||
	    h[2] != COM_VERSION) {
		st->dropped_bad++;
		return -1;
	}
	sealed = h[3] & COM_F_SEALED;
	/* a sealed datagram is opened in place: never read in parts */
	if (sealed ? m->len < COM_HDR_SEALED || m->ext != NULL :
	    get32(h + COM_CRC_OFF) != com_crc_msg(m)) {
		st->dropped_bad++;
		return -1;
	}
	if (get32(h + 4) != c->group) {
		st->dropped_foreign++;
		return -1;
	}
	src = get64(h + 8);
	dst = get64(h + 16);
	if (src == layer_self(l) || src == 0)
		return -1;
	if (!sealed && c->sealed) {
		st->dropped_unsealed++;
		com_refuse(l, src, TO_REFUSED_UNSEALED);
		return -1;
	}
	/* sealed: an altered dst fails authentication, and is counted */
	if (sealed && com_open_sealed(l, m, src) == -1)
		return -1;
	/* flg bits 1-7: a print of another stack (0: none given, raw) */
	if ((h[3] & ~COM_F_SEALED) != 0 &&
	    (h[3] & ~COM_F_SEALED) != c->stack) {
		st->dropped_bad++;
		com_refuse(l, src, TO_REFUSED_STACK);
		return -1;
	}
	if (dst != 0 && dst != layer_self(l))
		return -1;
	m->meta.src = src;
	m->meta.dst = dst;
	return sealed ? COM_HDR_SEALED : COM_HDR;
}

static void
com_deliver_due(struct layer *l)
{
	struct com	*c = l->state;
	struct to_msg	*m;

	while ((m = fault_output(c->fault, layer_now(l))) != NULL)
		layer_up(l, m);
	layer_wake(l, fault_next_due(c->fault));
}

static void
com_up(struct layer *l, struct to_msg *m)
{
	struct com	*c = l->state;
	struct transport *tr = layer_transport(l);
	struct to_stats	*st = layer_stats(l);
	int		 hl;

	st->dgrams_recv++;
	st->bytes_recv += msg_len(m);
	if ((hl = com_accept(l, m)) == -1) {
		msg_free(m);
		return;
	}
	if (tr->ops->learn != NULL)
		tr->ops->learn(tr, m->meta.src);
	msg_pull(m, hl);
	if (c->fault == NULL) {
		layer_up(l, m);
		return;
	}
	st->dropped_fault += fault_input(c->fault, m, layer_now(l));
	com_deliver_due(l);
}

static void
com_timer(struct layer *l)
{
	struct com	*c = l->state;

	if (c->fault != NULL)
		com_deliver_due(l);
}

/* EV_LANDING: the header, its CRC aside; none when sealed (a datagram
 * is opened in place) or with faults to inject (they hold datagrams). */
static void
com_landing(struct layer *l, struct landing *ld)
{
	const struct com *c = l->state;
	unsigned char	*h, *mask;

	if (c->sealed || c->fault != NULL ||
	    !(ld->layers & LANDING_FRAG) ||
	    (h = landing_push(ld, COM_HDR, &mask)) == NULL)
		return;
	com_put_hdr(h, c->group, c->stack, ld->src,
	    ld->p2p ? layer_self(l) : 0);
	memset(mask + COM_CRC_OFF, 0xff, 4);
	ld->layers |= LANDING_COM;
}

/* Members that left the view: let the transport forget their addresses. */
static void
com_ctl_down(struct layer *l, struct event *e)
{
	struct com	*c = l->state;
	struct transport *tr = layer_transport(l);
	uint64_t	*keep;
	uint32_t	 i, j;

	if (e->type == EV_LANDING)
		com_landing(l, e->landing);
	if (e->type != EV_VIEW || e->view == NULL)
		return;
	for (i = 0; i < c->nmembers; i++) {
		for (j = 0; j < e->view->n; j++)
			if (e->view->members[j] == c->members[i])
				break;
		if (j == e->view->n && tr->ops->forget != NULL)
			tr->ops->forget(tr, c->members[i]);
	}
	keep = reallocarray(NULL, e->view->n, sizeof(*keep));
	if (keep == NULL)
		return;
	memcpy(keep, e->view->members, e->view->n * sizeof(*keep));
	free(c->members);
	c->members = keep;
	c->nmembers = e->view->n;
}

const struct layer_ops com_ops = {
	.name = "com",
	.about = "datagrams: group filter, CRC-32 or sealing, fault injection",
	.hdr_len = COM_HDR_SEALED,
	.init = com_init,
	.fini = com_fini,
	.down = com_down,
	.up = com_up,
	.ctl_down = com_ctl_down,
	.ctl_up = layer_ctl_up,
	.timer = com_timer,
};
