// SPDX-License-Identifier: MIT
/*
 * SIP server transactions (RFC 3261 §17.2, RFC 6026 Accepted state): a hash table keyed per
 * §17.2.3 (or the RFC 2543 rules without the magic cookie), a second index to match the ACK of
 * a 2xx to its INVITE, and a binary min-heap of deadlines. No sockets, no clock: the caller
 * passes now_ms and arms one timer at sip_txn_next_deadline().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/macro.h"
#include "siprecd/sip.h"
#include "siprecd/siphash.h"

#define TIMER_OFF UINT64_MAX
/* A transaction key holds a branch, a sent-by and a method; a peer controls their length. */
#define KEY_MAX 1024

struct sip_txn {
	struct sip_txn_table *tbl;
	struct sip_txn *next, *dnext;  /* hash chains: primary key, INVITE dialog key */
	char *key, *dkey, *target_key; /* target_key: CANCEL → its INVITE's key */
	size_t key_len, dkey_len, target_key_len;
	uint32_t hash, dhash;

	enum sip_method method;
	enum sip_txn_state state;
	uint16_t status; /* the last response sent, 0 before one */
	bool reliable;
	bool acked;
	uint8_t owed; /* answers still owed to conn (see ops.conn_owe) */
	void *conn;
	struct sockaddr_storage peer;

	char *req;
	size_t req_len;
	struct sip_msg *req_msg;
	char *resp;
	size_t resp_len;

	uint64_t timer_g, timer_h, timer_end; /* timer_end: I, J or L, then terminate */
	uint64_t timer_tu; /* no final response from the TU by then: ops.stalled */
	uint64_t g_interval;
	uint64_t deadline;
	size_t heap_idx;	       /* SIZE_MAX when not in the heap */
	struct sip_txn *lprev, *lnext; /* the lingering list (see linger()) */
	bool lingering;
	void *tu;
};

struct sip_txn_table {
	struct sip_txn_ops ops;
	void *userdata;
	unsigned max_txns, count;
	uint64_t t1, t2, t4;
	struct sip_txn **buckets, **dbuckets;
	size_t n_buckets; /* power of two */
	struct sip_txn **heap;
	size_t heap_len, heap_cap;
	struct sip_txn *lhead, *ltail; /* lingering transactions, oldest first */
	uint64_t stalled, evicted;
};

/* Keys are branch and dialog ids a peer picks: keyed, so no one can aim them at one bucket. */
static uint32_t hash_bytes(const char *s, size_t n)
{
	return (uint32_t)siphash24(siphash_boot_key(), s, n);
}

/* ---- heap of deadlines ---- */

static void heap_swap(struct sip_txn_table *tbl, size_t a, size_t b)
{
	struct sip_txn *t = tbl->heap[a];

	tbl->heap[a] = tbl->heap[b];
	tbl->heap[b] = t;
	tbl->heap[a]->heap_idx = a;
	tbl->heap[b]->heap_idx = b;
}

static void heap_up(struct sip_txn_table *tbl, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (tbl->heap[parent]->deadline <= tbl->heap[i]->deadline)
			break;
		heap_swap(tbl, i, parent);
		i = parent;
	}
}

static void heap_down(struct sip_txn_table *tbl, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;

		if (l < tbl->heap_len && tbl->heap[l]->deadline < tbl->heap[min]->deadline)
			min = l;
		if (r < tbl->heap_len && tbl->heap[r]->deadline < tbl->heap[min]->deadline)
			min = r;
		if (min == i)
			return;
		heap_swap(tbl, i, min);
		i = min;
	}
}

static void heap_remove(struct sip_txn_table *tbl, struct sip_txn *t)
{
	size_t i = t->heap_idx;

	if (i == SIZE_MAX)
		return;
	t->heap_idx = SIZE_MAX;
	tbl->heap_len--;
	if (i == tbl->heap_len)
		return;
	tbl->heap[i] = tbl->heap[tbl->heap_len];
	tbl->heap[i]->heap_idx = i;
	heap_up(tbl, i);
	heap_down(tbl, tbl->heap[i]->heap_idx);
}

/* The heap has room for every live transaction (reserved at creation), so this cannot fail. */
static void rearm(struct sip_txn *t)
{
	struct sip_txn_table *tbl = t->tbl;
	uint64_t d = MIN(MIN(t->timer_g, t->timer_h), MIN(t->timer_end, t->timer_tu));

	if (d == TIMER_OFF) {
		heap_remove(tbl, t);
		return;
	}
	t->deadline = d;
	if (t->heap_idx == SIZE_MAX) {
		t->heap_idx = tbl->heap_len;
		tbl->heap[tbl->heap_len++] = t;
		heap_up(tbl, t->heap_idx);
	} else {
		heap_up(tbl, t->heap_idx);
		heap_down(tbl, t->heap_idx);
	}
}

/* ---- hash index ---- */

static struct sip_txn **chain_of(struct sip_txn **buckets, size_t n, uint32_t hash)
{
	return &buckets[hash & (n - 1)];
}

static struct sip_txn *lookup(struct sip_txn_table *tbl, const char *key, size_t len)
{
	uint32_t h = hash_bytes(key, len);

	for (struct sip_txn *t = *chain_of(tbl->buckets, tbl->n_buckets, h); t; t = t->next)
		if (t->hash == h && t->key_len == len && memcmp(t->key, key, len) == 0)
			return t;
	return NULL;
}

static struct sip_txn *lookup_dialog(struct sip_txn_table *tbl, const char *key, size_t len)
{
	uint32_t h = hash_bytes(key, len);

	for (struct sip_txn *t = *chain_of(tbl->dbuckets, tbl->n_buckets, h); t; t = t->dnext)
		if (t->dhash == h && t->dkey_len == len && memcmp(t->dkey, key, len) == 0 &&
		    t->state == SIP_TXN_ACCEPTED)
			return t;
	return NULL;
}

static void unlink_txn(struct sip_txn_table *tbl, struct sip_txn *t)
{
	struct sip_txn **pp = chain_of(tbl->buckets, tbl->n_buckets, t->hash);

	for (; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	if (!t->dkey)
		return;
	pp = chain_of(tbl->dbuckets, tbl->n_buckets, t->dhash);
	for (; *pp; pp = &(*pp)->dnext)
		if (*pp == t) {
			*pp = t->dnext;
			break;
		}
}

static void txn_free(struct sip_txn *t)
{
	free(t->key);
	free(t->dkey);
	free(t->target_key);
	free(t->req);
	free(t->req_msg);
	free(t->resp);
	free(t);
}

/*
 * A transaction that only waits for its timer to end it (an INVITE acknowledged, in Accepted or
 * Confirmed; a non-INVITE answered, in Completed) lingers to absorb retransmissions: nothing will
 * be sent in it, and no TU waits on it. With short calls at a high rate these outnumber the live
 * ones (an accepted INVITE lingers 32 s, Timer L, even over TLS), so when the table is full the
 * oldest lingering one gives its slot to a new request instead of the request being refused
 * (see create()). Losing it early costs little: the SRC stopped retransmitting the INVITE when
 * it got the 2xx it acknowledged; a BYE retransmitted after it would get 481 instead of 200.
 */
static void linger(struct sip_txn *t)
{
	struct sip_txn_table *tbl = t->tbl;

	if (t->lingering)
		return;
	t->lingering = true;
	t->lprev = tbl->ltail;
	t->lnext = NULL;
	if (tbl->ltail)
		tbl->ltail->lnext = t;
	else
		tbl->lhead = t;
	tbl->ltail = t;
}

static void unlinger(struct sip_txn *t)
{
	struct sip_txn_table *tbl = t->tbl;

	if (!t->lingering)
		return;
	if (t->lprev)
		t->lprev->lnext = t->lnext;
	else
		tbl->lhead = t->lnext;
	if (t->lnext)
		t->lnext->lprev = t->lprev;
	else
		tbl->ltail = t->lprev;
	t->lingering = false;
	t->lprev = t->lnext = NULL;
}

/* Takes back n of the answers t owes its connection (all of them with n = t->owed). */
static void owe_less(struct sip_txn *t, uint8_t n)
{
	n = MIN(n, t->owed);
	if (!n)
		return;
	t->owed -= n;
	t->tbl->ops.conn_owe(t->conn, -(int)n);
}

static void terminate(struct sip_txn *t)
{
	struct sip_txn_table *tbl = t->tbl;

	unlinger(t);
	t->state = SIP_TXN_TERMINATED;
	heap_remove(tbl, t);
	unlink_txn(tbl, t);
	tbl->count--;
	if (tbl->ops.terminated)
		tbl->ops.terminated(t, tbl->userdata);
	owe_less(t, t->owed);
	if (tbl->ops.conn_unref && t->conn)
		tbl->ops.conn_unref(t->conn);
	txn_free(t);
}

int sip_txn_table_new(const struct sip_txn_ops *ops, void *userdata, unsigned max_txns,
		      struct sip_txn_table **ret)
{
	struct sip_txn_table *tbl;
	size_t n = 64;

	if (!ops || !ops->send || max_txns == 0 || !ret)
		return -EINVAL;
	while (n < max_txns && n < (1u << 20))
		n <<= 1;
	tbl = calloc(1, sizeof(*tbl));
	if (!tbl)
		return -ENOMEM;
	tbl->ops = *ops;
	tbl->userdata = userdata;
	tbl->max_txns = max_txns;
	tbl->t1 = 500;
	tbl->t2 = 4000;
	tbl->t4 = 5000;
	tbl->n_buckets = n;
	tbl->buckets = calloc(n, sizeof(*tbl->buckets));
	tbl->dbuckets = calloc(n, sizeof(*tbl->dbuckets));
	if (!tbl->buckets || !tbl->dbuckets) {
		free(tbl->buckets);
		free(tbl->dbuckets);
		free(tbl);
		return -ENOMEM;
	}
	*ret = tbl;
	return 0;
}

struct sip_txn_table *sip_txn_table_free(struct sip_txn_table *tbl)
{
	if (!tbl)
		return NULL;
	for (size_t i = 0; i < tbl->n_buckets; i++)
		while (tbl->buckets[i])
			terminate(tbl->buckets[i]);
	free(tbl->buckets);
	free(tbl->dbuckets);
	free(tbl->heap);
	free(tbl);
	return NULL;
}

void sip_txn_table_set_timers(struct sip_txn_table *tbl, unsigned t1, unsigned t2, unsigned t4)
{
	if (t1)
		tbl->t1 = t1;
	if (t2)
		tbl->t2 = t2;
	if (t4)
		tbl->t4 = t4;
}

unsigned sip_txn_table_count(const struct sip_txn_table *tbl)
{
	return tbl->count;
}

void sip_txn_table_get_stats(const struct sip_txn_table *tbl, struct sip_txn_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < tbl->n_buckets; i++)
		for (const struct sip_txn *t = tbl->buckets[i]; t; t = t->next)
			if (t->state < SIP_TXN_TERMINATED)
				ret->by_state[t->state]++;
	ret->stalled = tbl->stalled;
	ret->evicted = tbl->evicted;
}

/* ---- keys (RFC 3261 §17.2.3) ---- */

static bool key_add(char *buf, size_t *len, struct str s, bool lower)
{
	if (s.len + 1 > KEY_MAX - *len)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.s[i];

		buf[(*len)++] = lower && c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
	}
	buf[(*len)++] = '|';
	return true;
}

/*
 * Builds the matching key of req as if its method were `method`. With the magic cookie:
 * branch, sent-by (host lowercased, default port) and method; otherwise the RFC 2543 fields:
 * Request-URI, From tag, Call-ID, CSeq number, top Via and method.
 */
static int build_key(struct sip_msg *req, const struct sip_via *via, struct str method, char *buf,
		     size_t *ret_len)
{
	const struct sip_cseq *cseq;
	const struct sip_name_addr *from;
	struct str call_id;
	char port[8];
	size_t len = 0;
	bool ok;
	unsigned p = via->port;

	if (!p)
		p = str_caseeq_cstr(via->transport, "TLS") ? 5061 : 5060;
	snprintf(port, sizeof(port), "%u", p);
	if (via->magic_cookie) {
		ok = key_add(buf, &len, STR_LIT("3261"), false) &&
		     key_add(buf, &len, via->branch, false) &&
		     key_add(buf, &len, via->host, true) &&
		     key_add(buf, &len, str_from_cstr(port), false) &&
		     key_add(buf, &len, method, false);
	} else {
		char seq[16];

		if (sip_msg_cseq(req, &cseq) < 0 || sip_msg_from(req, &from) < 0 ||
		    sip_msg_call_id(req, &call_id) < 0)
			return -EBADMSG;
		snprintf(seq, sizeof(seq), "%u", cseq->seq);
		ok = key_add(buf, &len, STR_LIT("2543"), false) &&
		     key_add(buf, &len, req->ruri, false) && key_add(buf, &len, from->tag, false) &&
		     key_add(buf, &len, call_id, false) &&
		     key_add(buf, &len, str_from_cstr(seq), false) &&
		     key_add(buf, &len, via->host, true) &&
		     key_add(buf, &len, str_from_cstr(port), false) &&
		     key_add(buf, &len, via->branch, false) && key_add(buf, &len, method, false);
	}
	if (!ok)
		return -EBADMSG;
	*ret_len = len;
	return 0;
}

/* The ACK of a 2xx is a new transaction (RFC 3261 §17.1.1.3): match it to the INVITE by
 * Call-ID, CSeq number and From tag instead. */
static int build_dialog_key(struct sip_msg *req, char *buf, size_t *ret_len)
{
	const struct sip_cseq *cseq;
	const struct sip_name_addr *from;
	struct str call_id;
	char seq[16];
	size_t len = 0;

	if (sip_msg_cseq(req, &cseq) < 0 || sip_msg_from(req, &from) < 0 ||
	    sip_msg_call_id(req, &call_id) < 0)
		return -EBADMSG;
	snprintf(seq, sizeof(seq), "%u", cseq->seq);
	if (!key_add(buf, &len, call_id, false) || !key_add(buf, &len, str_from_cstr(seq), false) ||
	    !key_add(buf, &len, from->tag, false))
		return -EBADMSG;
	*ret_len = len;
	return 0;
}

static char *memdup(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	if (p && n)
		memcpy(p, s, n);
	return p;
}

/*
 * Once the request was acknowledged (Confirmed, or Accepted with its ACK) nothing sends the
 * response again and nothing reads the request: a retransmitted INVITE is absorbed (RFC 6026
 * §8.7, RFC 3261 §17.2.1) and the TU answers only Trying/Proceeding transactions. What is left
 * is the keys, for matching, until Timer I or L (32 s for an accepted INVITE even over TLS):
 * at 1,000 calls/s the copies (~10 KiB a call) held 300 MiB and grew the SIP thread's heap
 * by a fresh page per 4 KiB.
 */
static void shed(struct sip_txn *t)
{
	free(t->req);
	free(t->req_msg);
	free(t->resp);
	t->req = t->resp = NULL;
	t->req_msg = NULL;
	t->req_len = t->resp_len = 0;
}

static int resend(struct sip_txn *t)
{
	if (!t->resp)
		return 0;
	return t->tbl->ops.send(t->conn, &t->peer, t->resp, t->resp_len);
}

static int create(struct sip_txn_table *tbl, struct sip_msg *req, const char *key, size_t key_len,
		  const struct sip_via *via, void *conn, const struct sockaddr_storage *peer,
		  bool reliable, uint64_t now_ms, struct sip_txn **ret)
{
	struct sip_txn *t;
	char dkey[KEY_MAX];
	size_t dlen = 0;

	if (tbl->count >= tbl->max_txns) {
		if (!tbl->lhead)
			return -EBUSY;
		tbl->evicted++;
		terminate(tbl->lhead);
	}
	if (tbl->heap_cap <= tbl->count) {
		size_t cap = tbl->heap_cap ? tbl->heap_cap * 2 : 64;
		struct sip_txn **h = reallocarray(tbl->heap, cap, sizeof(*h));

		if (!h)
			return -ENOMEM;
		tbl->heap = h;
		tbl->heap_cap = cap;
	}
	if (req->method == SIP_METHOD_INVITE && build_dialog_key(req, dkey, &dlen) < 0)
		return -EBADMSG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->tbl = tbl;
	t->heap_idx = SIZE_MAX;
	t->timer_g = t->timer_h = t->timer_end = TIMER_OFF;
	/* Every server transaction ends with a final response (RFC 3261 §17.2): a TU that loses
	 * one is caught here instead of leaving it in Proceeding, holding its slot, forever. */
	t->timer_tu = req->method == SIP_METHOD_ACK ? TIMER_OFF : now_ms + 64 * tbl->t1;
	t->method = req->method;
	t->state = req->method == SIP_METHOD_INVITE ? SIP_TXN_PROCEEDING : SIP_TXN_TRYING;
	t->reliable = reliable;
	t->conn = conn;
	if (peer)
		t->peer = *peer;
	t->key = memdup(key, key_len);
	t->key_len = key_len;
	t->hash = hash_bytes(key, key_len);
	t->req = memdup(req->buf, req->len);
	t->req_len = req->len;
	if (!t->key || !t->req)
		goto oom;
	if (dlen) {
		t->dkey = memdup(dkey, dlen);
		if (!t->dkey)
			goto oom;
		t->dkey_len = dlen;
		t->dhash = hash_bytes(dkey, dlen);
	}
	if (req->method == SIP_METHOD_CANCEL) {
		char tkey[KEY_MAX];
		size_t tlen;

		if (build_key(req, via, STR_LIT("INVITE"), tkey, &tlen) < 0) {
			txn_free(t);
			return -EBADMSG;
		}
		t->target_key = memdup(tkey, tlen);
		if (!t->target_key)
			goto oom;
		t->target_key_len = tlen;
	}
	{
		struct sip_txn **c = chain_of(tbl->buckets, tbl->n_buckets, t->hash);

		t->next = *c;
		*c = t;
	}
	if (t->dkey) {
		struct sip_txn **c = chain_of(tbl->dbuckets, tbl->n_buckets, t->dhash);

		t->dnext = *c;
		*c = t;
	}
	tbl->count++;
	if (tbl->ops.conn_ref && conn)
		tbl->ops.conn_ref(conn);
	if (reliable && conn && tbl->ops.conn_owe && req->method != SIP_METHOD_ACK) {
		t->owed = req->method == SIP_METHOD_INVITE ? 2 : 1;
		tbl->ops.conn_owe(conn, t->owed);
	}
	rearm(t);
	*ret = t;
	return 0;
oom:
	txn_free(t);
	return -ENOMEM;
}

int sip_txn_receive(struct sip_txn_table *tbl, struct sip_msg *req, void *conn,
		    const struct sockaddr_storage *peer, bool reliable, uint64_t now_ms,
		    struct sip_txn **ret_txn)
{
	const struct sip_via *via;
	struct str method;
	char key[KEY_MAX];
	size_t key_len;
	struct sip_txn *t = NULL;
	int r;

	if (!req->is_request)
		return -EINVAL;
	if (sip_msg_via(req, &via) < 0)
		return -EBADMSG;
	/* The ACK of a non-2xx shares the INVITE's branch (RFC 3261 §17.2.3). */
	method = req->method == SIP_METHOD_ACK ? STR_LIT("INVITE") : req->method_name;
	r = build_key(req, via, method, key, &key_len);
	if (r < 0)
		return r;
	t = lookup(tbl, key, key_len);

	if (req->method == SIP_METHOD_ACK) {
		if (!t) {
			char dkey[KEY_MAX];
			size_t dlen;

			if (build_dialog_key(req, dkey, &dlen) < 0)
				return -EBADMSG;
			t = lookup_dialog(tbl, dkey, dlen);
		}
		if (!t) {
			*ret_txn = NULL;
			return SIP_TXN_ACK_STRAY;
		}
		switch (t->state) {
		case SIP_TXN_ACCEPTED:
			/* RFC 6026 §8.7: every ACK in Accepted goes to the TU; Timer L stays. */
			t->acked = true;
			t->timer_g = t->timer_h = TIMER_OFF;
			shed(t);
			linger(t);
			rearm(t);
			*ret_txn = t;
			return SIP_TXN_ACK_2XX;
		case SIP_TXN_COMPLETED:
			/* RFC 3261 §17.2.1: Confirmed, Timer I = T4 (0 on reliable transports). */
			t->state = SIP_TXN_CONFIRMED;
			t->acked = true;
			t->timer_g = t->timer_h = TIMER_OFF;
			t->timer_end = now_ms + (t->reliable ? 0 : t->tbl->t4);
			shed(t);
			linger(t);
			rearm(t);
			break;
		default:
			break;
		}
		*ret_txn = NULL;
		return SIP_TXN_ABSORBED;
	}

	if (t) {
		/* A retransmission (RFC 3261 §17.2.1, §17.2.2): repeat the last response. */
		switch (t->state) {
		case SIP_TXN_PROCEEDING:
		case SIP_TXN_COMPLETED:
			resend(t);
			break;
		default: /* Trying: nothing to send yet; Accepted/Confirmed absorb (RFC 6026) */
			break;
		}
		*ret_txn = NULL;
		return SIP_TXN_ABSORBED;
	}
	r = create(tbl, req, key, key_len, via, conn, peer, reliable, now_ms, &t);
	if (r < 0)
		return r;
	*ret_txn = t;
	return req->method == SIP_METHOD_CANCEL ? SIP_TXN_CANCEL : SIP_TXN_NEW;
}

struct sip_txn *sip_txn_cancel_target(struct sip_txn *cancel)
{
	struct sip_txn *t;

	if (!cancel->target_key)
		return NULL;
	t = lookup(cancel->tbl, cancel->target_key, cancel->target_key_len);
	return t && t->method == SIP_METHOD_INVITE ? t : NULL;
}

int sip_txn_respond(struct sip_txn *t, const char *buf, size_t len, uint64_t now_ms)
{
	struct sip_txn_table *tbl = t->tbl;
	uint32_t code;
	char *copy;
	int r;

	if (t->state != SIP_TXN_TRYING && t->state != SIP_TXN_PROCEEDING)
		return -EINVAL;
	if (len < 12 || memcmp(buf, "SIP/2.0 ", 8) != 0 ||
	    str_to_u32(str_make(buf + 8, 3), 699, &code) < 0 || code < 100)
		return -EINVAL;
	copy = memdup(buf, len);
	if (!copy)
		return -ENOMEM;
	free(t->resp);
	t->resp = copy;
	t->resp_len = len;
	r = tbl->ops.send(t->conn, &t->peer, buf, len);
	/* Once queued, the answer counts in the connection's queue instead. */
	owe_less(t, code >= 200 ? t->owed : t->owed > 1 ? 1 : 0);

	t->status = (uint16_t)code;
	if (code >= 200)
		t->timer_tu = TIMER_OFF;
	if (code < 200) {
		t->state = SIP_TXN_PROCEEDING;
	} else if (t->method == SIP_METHOD_INVITE && code < 300) {
		/* RFC 6026 §7.1 + RFC 3261 §13.3.1.4: the 2xx is retransmitted end to end (even
		 * over a reliable hop) until the ACK; Timer H gives up, Timer L ends Accepted. */
		t->state = SIP_TXN_ACCEPTED;
		t->g_interval = tbl->t1;
		t->timer_g = now_ms + tbl->t1;
		t->timer_h = now_ms + 64 * tbl->t1;
		t->timer_end = now_ms + 64 * tbl->t1;
	} else if (t->method == SIP_METHOD_INVITE) {
		t->state = SIP_TXN_COMPLETED;
		t->g_interval = tbl->t1;
		t->timer_g = t->reliable ? TIMER_OFF : now_ms + tbl->t1;
		t->timer_h = now_ms + 64 * tbl->t1;
	} else {
		t->state = SIP_TXN_COMPLETED;
		t->timer_end = now_ms + (t->reliable ? 0 : 64 * tbl->t1);
		linger(t);
	}
	rearm(t);
	return r;
}

int sip_txn_request(struct sip_txn *t, struct sip_msg **ret)
{
	if (!t->req)
		return -ENOENT; /* acknowledged: shed() */
	if (!t->req_msg) {
		struct sip_limits lim = sip_limits_default;
		struct sip_msg *m = malloc(sizeof(*m));
		int r;

		if (!m)
			return -ENOMEM;
		lim.max_msg_size = MAX(lim.max_msg_size, t->req_len);
		r = sip_msg_parse(m, t->req, t->req_len, &lim);
		if (r < 0) {
			free(m);
			return r;
		}
		t->req_msg = m;
	}
	*ret = t->req_msg;
	return 0;
}

enum sip_method sip_txn_method(const struct sip_txn *t)
{
	return t->method;
}

unsigned sip_txn_status(const struct sip_txn *t)
{
	return t->status;
}

enum sip_txn_state sip_txn_state(const struct sip_txn *t)
{
	return t->state;
}

void *sip_txn_conn(const struct sip_txn *t)
{
	return t->conn;
}

const struct sockaddr_storage *sip_txn_peer(const struct sip_txn *t)
{
	return &t->peer;
}

void sip_txn_set_tu(struct sip_txn *t, void *tu)
{
	t->tu = tu;
}

void *sip_txn_get_tu(const struct sip_txn *t)
{
	return t->tu;
}

uint64_t sip_txn_next_deadline(const struct sip_txn_table *tbl)
{
	return tbl->heap_len ? tbl->heap[0]->deadline : UINT64_MAX;
}

void sip_txn_run_timers(struct sip_txn_table *tbl, uint64_t now_ms)
{
	while (tbl->heap_len && tbl->heap[0]->deadline <= now_ms) {
		struct sip_txn *t = tbl->heap[0];

		if (t->timer_tu <= now_ms) {
			/* The TU never answered: it may answer now; if it still does not, the
			 * transaction ends (its terminated callback tells the TU). */
			t->timer_tu = TIMER_OFF;
			tbl->stalled++;
			if (tbl->ops.stalled)
				tbl->ops.stalled(t, tbl->userdata);
			if (t->state == SIP_TXN_TRYING || t->state == SIP_TXN_PROCEEDING) {
				terminate(t);
				continue;
			}
			rearm(t);
			continue;
		}
		if (t->timer_h <= now_ms && !t->acked) {
			/* Timer H: the final response was never acknowledged. */
			if (tbl->ops.no_ack)
				tbl->ops.no_ack(t, tbl->userdata);
			terminate(t);
			continue;
		}
		if (t->timer_end <= now_ms) {
			terminate(t);
			continue;
		}
		if (t->timer_g <= now_ms) {
			/* Timer G doubles up to T2 (RFC 3261 §17.2.1, §13.3.1.4). Over a reliable
			 * transport whose queue has not gone out, the peer has not read the last
			 * copy yet: one more would only lengthen the queue. */
			if (!(t->reliable && tbl->ops.conn_backlogged &&
			      tbl->ops.conn_backlogged(t->conn)))
				resend(t);
			t->g_interval = MIN(2 * t->g_interval, tbl->t2);
			t->timer_g = now_ms + t->g_interval;
		}
		rearm(t);
	}
}
