// SPDX-License-Identifier: MIT
/*
 * sock_diag over libnl: what the kernel says about our TCP sockets, in particular the "tls" ULP
 * and its version/cipher/TX/RX configuration (INET_DIAG_ULP_INFO), for logs and siprecctl.
 * The kernel only reports the ULP to a caller with CAP_NET_ADMIN.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tls.h>

#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/tls.h"

/* libnl reports its own codes; the caller wants -errno. */
static int nl_to_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
	case NLE_NOACCESS:
		return -EPERM;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT; /* inet_diag/tcp_diag not loaded */
	case NLE_OPNOTSUPP:
	case NLE_PROTO_MISMATCH:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

struct walk {
	uint16_t port;
	tls_diag_fn fn;
	void *userdata;
	int count;
	int stop;
};

static void fill_addr(struct sockaddr_storage *ss, uint8_t family, const __be32 *addr, __be16 port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = port;
		memcpy(&sin->sin_addr, addr, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		memcpy(&sin6->sin6_addr, addr, 16);
	}
}

static void parse_ulp(struct nlattr *attr, struct tls_diag_entry *e)
{
	struct nlattr *ulp[INET_ULP_INFO_MAX + 1], *tls[TLS_INFO_MAX + 1];
	struct nlattr *n;

	if (nla_parse_nested(ulp, INET_ULP_INFO_MAX, attr, NULL) < 0)
		return;
	n = ulp[INET_ULP_INFO_NAME];
	if (n) {
		size_t len = strnlen(nla_data(n), (size_t)nla_len(n));

		if (len < sizeof(e->ulp)) {
			memcpy(e->ulp, nla_data(n), len);
			e->ulp[len] = '\0';
		}
	}
	if (!ulp[INET_ULP_INFO_TLS] ||
	    nla_parse_nested(tls, TLS_INFO_MAX, ulp[INET_ULP_INFO_TLS], NULL) < 0)
		return;
	if (tls[TLS_INFO_VERSION] && nla_len(tls[TLS_INFO_VERSION]) >= 2)
		e->version = nla_get_u16(tls[TLS_INFO_VERSION]);
	if (tls[TLS_INFO_CIPHER] && nla_len(tls[TLS_INFO_CIPHER]) >= 2)
		e->cipher = nla_get_u16(tls[TLS_INFO_CIPHER]);
	if (tls[TLS_INFO_TXCONF] && nla_len(tls[TLS_INFO_TXCONF]) >= 2)
		e->txconf = nla_get_u16(tls[TLS_INFO_TXCONF]);
	if (tls[TLS_INFO_RXCONF] && nla_len(tls[TLS_INFO_RXCONF]) >= 2)
		e->rxconf = nla_get_u16(tls[TLS_INFO_RXCONF]);
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct walk *w = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[INET_DIAG_MAX + 1];
	const struct inet_diag_msg *d;
	struct tls_diag_entry e = {0};
	int r;

	if (w->stop < 0 || nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    !nlmsg_valid_hdr(nlh, sizeof(*d)))
		return NL_SKIP;
	d = nlmsg_data(nlh);
	if (d->idiag_family != AF_INET && d->idiag_family != AF_INET6)
		return NL_SKIP;
	if (w->port && ntohs(d->id.idiag_sport) != w->port)
		return NL_SKIP;
	fill_addr(&e.local, d->idiag_family, d->id.idiag_src, d->id.idiag_sport);
	fill_addr(&e.remote, d->idiag_family, d->id.idiag_dst, d->id.idiag_dport);
	e.inode = d->idiag_inode;
	if (nlmsg_parse(nlh, sizeof(*d), tb, INET_DIAG_MAX, NULL) >= 0 && tb[INET_DIAG_ULP_INFO])
		parse_ulp(tb[INET_DIAG_ULP_INFO], &e);
	w->count++;
	if (w->fn) {
		r = w->fn(&e, w->userdata);
		if (r < 0)
			w->stop = r;
	}
	return NL_OK;
}

static int dump_family(struct nl_sock *sk, uint8_t family, struct walk *w)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = family,
		.sdiag_protocol = IPPROTO_TCP,
		/* The ULP comes with the INET_DIAG_INFO extension (tcp_diag_get_aux). */
		.idiag_ext = 1 << (INET_DIAG_INFO - 1),
		.idiag_states = ~0U,
	};
	int r;

	req.id.idiag_sport = htons(w->port);
	req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	r = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req));
	if (r < 0) {
		log_debug("tls diag: send: %s", nl_geterror(r));
		return nl_to_errno(r);
	}
	r = nl_recvmsgs_default(sk);
	if (r < 0) {
		log_debug("tls diag: receive: %s", nl_geterror(r));
		return nl_to_errno(r);
	}
	return 0;
}

int tls_diag_query(uint16_t local_port, tls_diag_fn fn, void *userdata)
{
	struct walk w = {.port = local_port, .fn = fn, .userdata = userdata};
	struct nl_sock *sk;
	int r;

	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	r = nl_connect(sk, NETLINK_SOCK_DIAG);
	if (r < 0) {
		log_debug("tls diag: connect: %s", nl_geterror(r));
		nl_socket_free(sk);
		return nl_to_errno(r);
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg, &w);
	r = dump_family(sk, AF_INET, &w);
	if (r >= 0 && w.stop >= 0)
		r = dump_family(sk, AF_INET6, &w);
	nl_socket_free(sk);
	if (r < 0)
		return r;
	return w.stop < 0 ? w.stop : w.count;
}
