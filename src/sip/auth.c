// SPDX-License-Identifier: MIT
/*
 * SIP digest authentication (RFC 3261 §22.4 with RFC 8760's SHA-256; the computation is RFC
 * 7616 §3.4.1 with qop=auth). Nonces are stateless: hex(time_ms, 8 random bytes, first 16 bytes
 * of HMAC-SHA256(secret, time_ms | random)), so a nonce cannot be forged or extended and nothing
 * is stored per challenge; the secret is drawn at creation and never leaves the process.
 * Library layer: no logging; the caller decides what a failure means.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "siprecd/auth.h"
#include "siprecd/macro.h"
#include "siprecd/sip.h"

#define MAX_USERS 4096
#define MAX_FIELD 256
#define NONCE_RAW 32 /* 8 time + 8 random + 16 MAC */
#define NC_NONE UINT32_MAX

struct auth_user {
	char *name;
	char ha1[SIP_AUTH_MAX_ALGS][65]; /* by enum sip_auth_alg */
};

struct sip_auth {
	char *realm;
	enum sip_auth_alg algs[SIP_AUTH_MAX_ALGS];
	unsigned n_algs;
	uint64_t lifetime_ms;
	uint8_t secret[32];
	struct auth_user *users;
	size_t n_users;

	/*
	 * Nonces answered correctly, in order of first use (a ring of nc_cap entries, the oldest
	 * at nc_head), indexed by a hash of their random bytes (chains through next). When the
	 * ring is full the oldest is forgotten and nc_forgotten_ms rises to its time: a nonce
	 * issued at or before it that is not in the table may have been used, so it is stale.
	 */
	struct nonce_use {
		uint8_t id[16]; /* the nonce's time and random bytes (MAC-protected) */
		uint64_t t_ms;
		uint32_t nc; /* the highest nonce count accepted */
		uint32_t next;
	} * nc_ring;
	uint32_t *nc_buckets;
	uint32_t nc_cap, nc_n, nc_head, nc_mask;
	uint64_t nc_forgotten_ms;
};

static const char *const alg_names[] = {"MD5", "SHA-256"};

static const EVP_MD *alg_md(enum sip_auth_alg alg)
{
	return alg == SIP_AUTH_SHA256 ? EVP_sha256() : EVP_md5();
}

int sip_auth_parse_algorithms(const char *list, enum sip_auth_alg ret[SIP_AUTH_MAX_ALGS],
			      unsigned *ret_n)
{
	struct str rest = str_from_cstr(list), item;
	unsigned n = 0;

	while (rest.s) {
		bool found = false;

		rest = str_split(rest, ',', &item);
		item = str_trim(item);
		for (unsigned i = 0; i < ARRAY_SIZE(alg_names); i++) {
			if (!str_caseeq_cstr(item, alg_names[i]))
				continue;
			for (unsigned j = 0; j < n; j++)
				if (ret[j] == (enum sip_auth_alg)i)
					return -EINVAL;
			ret[n++] = (enum sip_auth_alg)i;
			found = true;
		}
		if (!found)
			return -EINVAL;
	}
	if (n == 0)
		return -EINVAL;
	*ret_n = n;
	return 0;
}

/* Lower-case hex digest of the parts joined by ':'. */
static int hash_hex(enum sip_auth_alg alg, const struct str *parts, size_t n_parts, char out[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, alg_md(alg), NULL);
	for (size_t i = 0; ok && i < n_parts; i++) {
		if (i)
			ok = EVP_DigestUpdate(ctx, ":", 1);
		if (ok && parts[i].len)
			ok = EVP_DigestUpdate(ctx, parts[i].s, parts[i].len);
	}
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -EIO;
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

static int response_hex(enum sip_auth_alg alg, const char *ha1, struct str method, struct str uri,
			struct str nonce, struct str nc, struct str cnonce, struct str qop,
			char out[65])
{
	char ha2[65];
	struct str p2[] = {method, uri};
	int r = hash_hex(alg, p2, 2, ha2);

	if (r < 0)
		return r;
	{
		struct str p[] = {str_from_cstr(ha1), nonce, nc, cnonce, qop, str_from_cstr(ha2)};

		return hash_hex(alg, p, 6, out);
	}
}

int sip_auth_response(enum sip_auth_alg alg, const char *user, const char *realm,
		      const char *password, const char *method, const char *uri, const char *nonce,
		      const char *nc, const char *cnonce, const char *qop, char out[65])
{
	struct str p1[] = {str_from_cstr(user), str_from_cstr(realm), str_from_cstr(password)};
	char ha1[65];
	int r;

	if ((unsigned)alg >= ARRAY_SIZE(alg_names))
		return -EINVAL;
	r = hash_hex(alg, p1, 3, ha1);
	if (r == 0)
		r = response_hex(alg, ha1, str_from_cstr(method), str_from_cstr(uri),
				 str_from_cstr(nonce), str_from_cstr(nc), str_from_cstr(cnonce),
				 str_from_cstr(qop), out);
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return r;
}

struct sip_auth *sip_auth_free(struct sip_auth *a)
{
	if (!a)
		return NULL;
	for (size_t i = 0; i < a->n_users; i++) {
		free(a->users[i].name);
		OPENSSL_cleanse(a->users[i].ha1, sizeof(a->users[i].ha1));
	}
	free(a->users);
	free(a->nc_ring);
	free(a->nc_buckets);
	free(a->realm);
	OPENSSL_cleanse(a->secret, sizeof(a->secret));
	free(a);
	return NULL;
}

size_t sip_auth_users(const struct sip_auth *a)
{
	return a ? a->n_users : 0;
}

static int add_user(struct sip_auth *a, struct str user, struct str password, unsigned line,
		    char *err, size_t n)
{
	struct auth_user *u;

	if (user.len == 0 || user.len > MAX_FIELD || memchr(user.s, '"', user.len) ||
	    memchr(user.s, '\\', user.len)) {
		snprintf(err, n, "line %u: bad user name", line);
		return -EINVAL;
	}
	if (password.len == 0) {
		snprintf(err, n, "line %u: empty password for user '%.*s'", line, STR_FMT(user));
		return -EINVAL;
	}
	for (size_t i = 0; i < a->n_users; i++)
		if (str_eq_cstr(user, a->users[i].name)) {
			snprintf(err, n, "line %u: user '%.*s' given twice", line, STR_FMT(user));
			return -EINVAL;
		}
	if (a->n_users >= MAX_USERS) {
		snprintf(err, n, "more than %d users", MAX_USERS);
		return -EINVAL;
	}
	u = &a->users[a->n_users];
	memset(u, 0, sizeof(*u));
	u->name = str_dup(user);
	if (!u->name)
		return -ENOMEM;
	for (unsigned i = 0; i < ARRAY_SIZE(alg_names); i++) {
		struct str p[] = {user, str_from_cstr(a->realm), password};
		int r = hash_hex((enum sip_auth_alg)i, p, 3, u->ha1[i]);

		if (r < 0) {
			free(u->name);
			return r;
		}
	}
	a->n_users++;
	return 0;
}

int sip_auth_new(const char *realm, const char *algorithms, uint64_t nonce_lifetime_ms,
		 uint32_t max_nonces, const char *creds, size_t creds_len, struct sip_auth **ret,
		 char *err, size_t n)
{
	struct sip_auth *a = calloc(1, sizeof(*a));
	struct str rest = str_make(creds, creds_len), line;
	unsigned lineno = 0;
	uint32_t nb = 1;
	int r = -EINVAL;

	if (n)
		err[0] = '\0';
	if (!a)
		return -ENOMEM;
	if (max_nonces < 1 || max_nonces > SIP_AUTH_MAX_NONCES_LIMIT) {
		snprintf(err, n, "nonce table size %u: expected 1..%u", max_nonces,
			 SIP_AUTH_MAX_NONCES_LIMIT);
		goto fail;
	}
	while (nb < max_nonces)
		nb <<= 1;
	a->realm = strdup(realm);
	a->users = calloc(MAX_USERS, sizeof(*a->users));
	a->nc_ring = calloc(max_nonces, sizeof(*a->nc_ring));
	a->nc_buckets = malloc(nb * sizeof(*a->nc_buckets));
	a->nc_cap = max_nonces;
	a->nc_mask = nb - 1;
	a->lifetime_ms = nonce_lifetime_ms;
	if (!a->realm || !a->users || !a->nc_ring || !a->nc_buckets) {
		r = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < nb; i++)
		a->nc_buckets[i] = NC_NONE;
	if (strchr(realm, '"') || strchr(realm, '\\') || strchr(realm, '\r') ||
	    strchr(realm, '\n')) {
		snprintf(err, n, "realm must not contain quotes, backslashes or line breaks");
		goto fail;
	}
	if (sip_auth_parse_algorithms(algorithms, a->algs, &a->n_algs) < 0) {
		snprintf(err, n, "algorithms '%s': expected SHA-256 and/or MD5", algorithms);
		goto fail;
	}
	if (getrandom(a->secret, sizeof(a->secret), 0) != (ssize_t)sizeof(a->secret)) {
		r = -EIO;
		goto fail;
	}
	while (rest.s && rest.len) {
		struct str user, password;

		rest = str_split(rest, '\n', &line);
		lineno++;
		if (line.len && line.s[line.len - 1] == '\r')
			line.len--;
		if (str_trim(line).len == 0 || str_trim(line).s[0] == '#')
			continue;
		password = str_split(line, ':', &user);
		if (!password.s) {
			snprintf(err, n, "line %u: expected user:password", lineno);
			goto fail;
		}
		r = add_user(a, str_trim(user), password, lineno, err, n);
		if (r < 0)
			goto fail;
	}
	if (a->n_users == 0) {
		snprintf(err, n, "no user:password lines");
		r = -EINVAL;
		goto fail;
	}
	*ret = a;
	return 0;
fail:
	sip_auth_free(a);
	return r < 0 ? r : -EINVAL;
}

/* ---- nonces ---- */

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static int nonce_mac(const struct sip_auth *a, const uint8_t *data16, uint8_t out16[16])
{
	uint8_t mac[32];
	size_t len = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, a->secret, sizeof(a->secret), data16, 16,
		       mac, sizeof(mac), &len) ||
	    len != sizeof(mac))
		return -EIO;
	memcpy(out16, mac, 16);
	return 0;
}

static int nonce_make(const struct sip_auth *a, uint64_t now_ms, char out[2 * NONCE_RAW + 1])
{
	uint8_t raw[NONCE_RAW];

	put_be64(raw, now_ms);
	if (getrandom(raw + 8, 8, 0) != 8 || nonce_mac(a, raw, raw + 16) < 0)
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* 0 valid (raw filled in), -ESTALE signed by us but expired, -EACCES not ours. */
static int nonce_verify(const struct sip_auth *a, struct str nonce, uint64_t now_ms,
			uint8_t raw[NONCE_RAW])
{
	uint8_t mac[16];
	uint64_t t;

	if (nonce.len != 2 * NONCE_RAW)
		return -EACCES;
	for (size_t i = 0; i < NONCE_RAW; i++) {
		int hi = hex_digit(nonce.s[2 * i]), lo = hex_digit(nonce.s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EACCES;
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	if (nonce_mac(a, raw, mac) < 0 || CRYPTO_memcmp(mac, raw + 16, 16) != 0)
		return -EACCES;
	t = get_be64(raw);
	if (t > now_ms || now_ms - t > a->lifetime_ms)
		return -ESTALE;
	return 0;
}

/* The random bytes were drawn by us and are MAC-protected: a peer cannot aim them at a bucket. */
static uint32_t nc_bucket(const struct sip_auth *a, const uint8_t *id)
{
	return (uint32_t)get_be64(id + 8) & a->nc_mask;
}

static void nc_forget_oldest(struct sip_auth *a)
{
	uint32_t victim = a->nc_head, *pp = &a->nc_buckets[nc_bucket(a, a->nc_ring[victim].id)];

	while (*pp != victim)
		pp = &a->nc_ring[*pp].next;
	*pp = a->nc_ring[victim].next;
	if (a->nc_ring[victim].t_ms > a->nc_forgotten_ms)
		a->nc_forgotten_ms = a->nc_ring[victim].t_ms;
	a->nc_head = (a->nc_head + 1) % a->nc_cap;
	a->nc_n--;
}

/*
 * RFC 7616 §3.4.5: a nonce count must grow with each request that reuses a nonce. 0 and nc
 * recorded for a fresh, correct answer; -EALREADY a replay (nc not above the highest accepted);
 * -ESTALE a nonce the full table had to forget (it may have been used: challenge again).
 */
static int nc_check(struct sip_auth *a, const uint8_t raw[NONCE_RAW], uint32_t nc)
{
	uint64_t t = get_be64(raw);
	uint32_t b = nc_bucket(a, raw), i;
	struct nonce_use *e;

	for (i = a->nc_buckets[b]; i != NC_NONE; i = a->nc_ring[i].next) {
		e = &a->nc_ring[i];
		if (memcmp(e->id, raw, sizeof(e->id)) != 0)
			continue;
		if (nc <= e->nc)
			return -EALREADY;
		e->nc = nc;
		return 0;
	}
	if (t <= a->nc_forgotten_ms)
		return -ESTALE;
	if (a->nc_n == a->nc_cap)
		nc_forget_oldest(a);
	i = (a->nc_head + a->nc_n) % a->nc_cap;
	e = &a->nc_ring[i];
	memcpy(e->id, raw, sizeof(e->id));
	e->t_ms = t;
	e->nc = nc;
	e->next = a->nc_buckets[b];
	a->nc_buckets[b] = i;
	a->nc_n++;
	return 0;
}

size_t sip_auth_nonces(const struct sip_auth *a)
{
	return a ? a->nc_n : 0;
}

int sip_auth_challenge(struct sip_auth *a, uint64_t now_ms, bool stale, char *buf, size_t n)
{
	char nonce[2 * NONCE_RAW + 1];
	size_t off = 0;

	if (nonce_make(a, now_ms, nonce) < 0)
		return -EIO;
	/* RFC 8760 §2.4: one challenge per algorithm, the preferred first; same nonce. */
	for (unsigned i = 0; i < a->n_algs; i++) {
		int w = snprintf(buf + off, n - off,
				 "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\", "
				 "algorithm=%s, qop=\"auth\"%s\r\n",
				 a->realm, nonce, alg_names[a->algs[i]],
				 stale ? ", stale=true" : "");

		if (w < 0 || (size_t)w >= n - off)
			return -ENOBUFS;
		off += (size_t)w;
	}
	return (int)off;
}

/* ---- Authorization header ---- */

struct digest_params {
	struct str username, realm, nonce, uri, response, algorithm, cnonce, qop, nc;
};

/* auth-param = token "=" ( token / quoted-string ), comma-separated (RFC 3261 §25.1). */
static int parse_digest(struct str v, struct digest_params *p)
{
	struct str scheme;

	memset(p, 0, sizeof(*p));
	v = str_trim(v);
	scheme = v;
	for (size_t i = 0; i < v.len; i++)
		if (v.s[i] == ' ' || v.s[i] == '\t') {
			scheme.len = i;
			break;
		}
	if (!str_caseeq_cstr(scheme, "Digest") || scheme.len == v.len)
		return -ENOENT;
	v = str_make(v.s + scheme.len, v.len - scheme.len);
	while (v.len) {
		struct str name, val;
		size_t i = 0;

		while (i < v.len && (v.s[i] == ' ' || v.s[i] == '\t' || v.s[i] == ',' ||
				     v.s[i] == '\r' || v.s[i] == '\n'))
			i++;
		v = str_make(v.s + i, v.len - i);
		if (!v.len)
			break;
		for (i = 0; i < v.len && v.s[i] != '=' && v.s[i] != ' ' && v.s[i] != '\t'; i++)
			;
		name = str_make(v.s, i);
		while (i < v.len && (v.s[i] == ' ' || v.s[i] == '\t'))
			i++;
		if (i >= v.len || v.s[i] != '=' || name.len == 0)
			return -EBADMSG;
		i++;
		while (i < v.len && (v.s[i] == ' ' || v.s[i] == '\t'))
			i++;
		if (i < v.len && v.s[i] == '"') {
			size_t start = ++i;

			/* No escapes in the fields we use (user names with " or \ are refused). */
			while (i < v.len && v.s[i] != '"')
				i++;
			if (i >= v.len)
				return -EBADMSG;
			val = str_make(v.s + start, i - start);
			i++;
		} else {
			size_t start = i;

			while (i < v.len && v.s[i] != ',' && v.s[i] != ' ' && v.s[i] != '\t')
				i++;
			val = str_make(v.s + start, i - start);
		}
		if (val.len > MAX_FIELD * 4)
			return -EBADMSG;
#define FIELD(f)                                                                                   \
	if (str_caseeq_cstr(name, #f)) {                                                           \
		if (p->f.s)                                                                        \
			return -EBADMSG;                                                           \
		p->f = val;                                                                        \
	}
		FIELD(username)
		else FIELD(realm) else FIELD(nonce) else FIELD(uri) else FIELD(response) else FIELD(
			algorithm) else FIELD(cnonce) else FIELD(qop) else FIELD(nc)
#undef FIELD
			v = str_make(v.s + i, v.len - i);
	}
	return 0;
}

int sip_auth_check(struct sip_auth *a, struct sip_msg *req, uint64_t now_ms, struct str *ret_user)
{
	struct digest_params p;
	const struct auth_user *u = NULL;
	enum sip_auth_alg alg = SIP_AUTH_MD5; /* RFC 3261 §22.4: absent means MD5 */
	bool offered = false, found = false;
	uint8_t raw[NONCE_RAW];
	uint32_t nc = 0;
	char expect[65];
	int r;

	for (unsigned i = 0; i < req->n_hdrs; i++) {
		if (!str_caseeq_cstr(req->hdrs[i].name, "Authorization"))
			continue;
		r = parse_digest(req->hdrs[i].value, &p);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (str_eq_cstr(p.realm, a->realm)) {
			found = true;
			break;
		}
	}
	if (!found)
		return -ENOENT;
	if (!p.username.s || !p.nonce.s || !p.uri.s || !p.response.s)
		return -EBADMSG;
	*ret_user = p.username;
	/* qop=auth only: without it the response binds no client nonce (RFC 2069 legacy). */
	if (!str_caseeq_cstr(p.qop, "auth") || !p.cnonce.s || p.nc.len != 8)
		return -EBADMSG;
	/* nc: 8 hex digits, the first request with a nonce counting 1 (RFC 7616 §3.4). */
	for (size_t i = 0; i < p.nc.len; i++) {
		int d = hex_digit(p.nc.s[i]);

		if (d < 0)
			return -EBADMSG;
		nc = nc << 4 | (uint32_t)d;
	}
	if (nc == 0)
		return -EBADMSG;
	if (p.algorithm.s) {
		bool known = false;

		for (unsigned i = 0; i < ARRAY_SIZE(alg_names); i++)
			if (str_caseeq_cstr(p.algorithm, alg_names[i])) {
				alg = (enum sip_auth_alg)i;
				known = true;
			}
		if (!known)
			return -EBADMSG;
	}
	for (unsigned i = 0; i < a->n_algs; i++)
		offered |= a->algs[i] == alg;
	if (!offered)
		return -EBADMSG;
	/* The digest covers the uri parameter: it must be this request's Request-URI. */
	if (!str_eq(p.uri, req->ruri))
		return -EACCES;
	for (size_t i = 0; i < a->n_users; i++)
		if (str_eq_cstr(p.username, a->users[i].name))
			u = &a->users[i];
	if (!u)
		return -EACCES;
	r = response_hex(alg, u->ha1[alg], req->method_name, p.uri, p.nonce, p.nc, p.cnonce, p.qop,
			 expect);
	if (r < 0)
		return r;
	if (p.response.len != strlen(expect) ||
	    CRYPTO_memcmp(p.response.s, expect, p.response.len) != 0) {
		/* Case-insensitive hex is allowed: compare again lower-cased only if needed. */
		char low[65];

		if (p.response.len != strlen(expect))
			return -EACCES;
		for (size_t i = 0; i < p.response.len; i++)
			low[i] = (char)(p.response.s[i] | 0x20);
		if (CRYPTO_memcmp(low, expect, p.response.len) != 0)
			return -EACCES;
	}
	/* Only a correct answer tells whether the nonce was ours and merely old, and only a
	 * correct answer to a live nonce of ours takes a place in the nonce-count table. */
	r = nonce_verify(a, p.nonce, now_ms, raw);
	if (r < 0)
		return r;
	return nc_check(a, raw, nc);
}
