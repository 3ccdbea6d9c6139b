// SPDX-License-Identifier: MIT
/*
 * Routed source addresses (what `ip route get <peer>` prints after "src") through libnl-route:
 * one RTM_GETROUTE request per new destination on a query socket, answers cached per
 * destination; a second, non-blocking socket subscribed to the IPv4/IPv6 address and route
 * groups is polled on the SIP io_uring loop and drops the cache on every change.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/route/addr.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include "net/route.h"
#include "siprecd/log.h"
#include "siprecd/loop.h"
#include "siprecd/macro.h"

#define ROUTE_CACHE_SIZE 32
/* Messages read per poll completion before yielding to the loop (the poll fires again). */
#define DISPATCH_BATCH 64
#define MON_RCVBUF (1 << 20)

struct route_entry {
	int family; /* 0: free */
	uint8_t dst[16];
	struct sockaddr_storage src;
};

struct net_route {
	struct nl_sock *query; /* blocking: request/reply */
	struct nl_sock *mon;   /* non-blocking: multicast subscription */
	struct nl_cb *mon_cb;
	struct nl_cache *addrs; /* lazily filled, dropped on every change */
	struct route_entry cache[ROUTE_CACHE_SIZE];
	unsigned next_slot;
	void (*fn)(void *arg, const struct net_route_change *c);
	void *arg;
	struct loop *loop;
	struct loop_op poll_op;
	bool armed;
	int dispatched; /* changes seen by the current dispatch */
	struct net_route_stats stats;
};

static void flush(struct net_route *r)
{
	memset(r->cache, 0, sizeof(r->cache));
	r->next_slot = 0;
	if (r->addrs) {
		nl_cache_free(r->addrs);
		r->addrs = NULL;
	}
	r->stats.flushes++;
}

static void report(struct net_route *r, const struct net_route_change *c)
{
	flush(r);
	r->stats.changes++;
	r->dispatched++;
	if (r->fn)
		r->fn(r->arg, c);
}

static bool fill_addr(struct sockaddr_storage *ss, int family, const void *a, size_t len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET && len == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		return true;
	}
	if (family == AF_INET6 && len == 16) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		return true;
	}
	return false;
}

static int on_event(struct nl_msg *msg, void *arg)
{
	struct net_route *r = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct sockaddr_nl *from = nlmsg_get_src(msg);
	struct net_route_change c = {0};

	/* Only the kernel speaks on the rtnetlink groups. */
	if (from && from->nl_pid != 0)
		return NL_SKIP;
	switch (h->nlmsg_type) {
	case RTM_NEWADDR:
	case RTM_DELADDR: {
		struct nlattr *tb[IFA_MAX + 1], *a;
		struct ifaddrmsg *ifa;

		if (nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
			return NL_SKIP;
		ifa = nlmsg_data(h);
		/* IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer's on a
		 * point-to-point link, else the same. */
		a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
		c.kind = h->nlmsg_type == RTM_NEWADDR ? NET_ROUTE_ADDR_NEW : NET_ROUTE_ADDR_DEL;
		c.ifindex = (int)ifa->ifa_index;
		if (a)
			fill_addr(&c.addr, ifa->ifa_family, nla_data(a), (size_t)nla_len(a));
		break;
	}
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		c.kind = NET_ROUTE_ROUTE;
		break;
	default:
		return NL_SKIP;
	}
	report(r, &c);
	return NL_OK;
}

int net_route_new(struct net_route **ret)
{
	struct net_route *r = calloc(1, sizeof(*r));
	int e;

	if (!r)
		return -ENOMEM;
	r->query = nl_socket_alloc();
	r->mon = nl_socket_alloc();
	if (!r->query || !r->mon) {
		net_route_free(r);
		return -ENOMEM;
	}
	errno = 0;
	e = nl_connect(r->query, NETLINK_ROUTE);
	if (e >= 0) {
		nl_socket_disable_seq_check(r->mon);
		e = nl_socket_modify_cb(r->mon, NL_CB_VALID, NL_CB_CUSTOM, on_event, r);
	}
	if (e >= 0)
		e = nl_connect(r->mon, NETLINK_ROUTE);
	if (e >= 0)
		e = nl_socket_add_memberships(r->mon, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
					      RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, 0);
	if (e >= 0)
		e = nl_socket_set_nonblocking(r->mon);
	if (e < 0) {
		/* nl_connect keeps errno from socket()/bind(): EPERM, EAFNOSUPPORT. */
		int err = errno ? -errno : -EIO;

		log_debug("net route: netlink setup: %s", nl_geterror(e));
		net_route_free(r);
		return err;
	}
	/* A burst (an interface going down takes all its routes) must not overflow the
	 * subscription; if it does anyway, NET_ROUTE_OVERRUN drops the cache all the same. */
	nl_socket_set_buffer_size(r->mon, MON_RCVBUF, 0);
	r->mon_cb = nl_socket_get_cb(r->mon);
	*ret = r;
	return 0;
}

struct net_route *net_route_free(struct net_route *r)
{
	if (!r)
		return NULL;
	if (r->addrs)
		nl_cache_free(r->addrs);
	if (r->mon_cb)
		nl_cb_put(r->mon_cb);
	nl_socket_free(r->mon); /* closes the fd */
	nl_socket_free(r->query);
	free(r);
	return NULL;
}

void net_route_set_change_callback(struct net_route *r,
				   void (*fn)(void *arg, const struct net_route_change *c),
				   void *arg)
{
	r->fn = fn;
	r->arg = arg;
}

int net_route_fd(const struct net_route *r)
{
	return nl_socket_get_fd(r->mon);
}

void net_route_get_stats(const struct net_route *r, struct net_route_stats *ret)
{
	*ret = r->stats;
}

int net_route_dispatch(struct net_route *r)
{
	r->dispatched = 0;
	for (int i = 0; i < DISPATCH_BATCH; i++) {
		/* Returns the messages handled, 0 once the socket would block. */
		int n = nl_recvmsgs_report(r->mon, r->mon_cb);

		if (n == 0)
			break;
		if (n == -NLE_NOMEM) {
			/* ENOBUFS: the kernel dropped notifications; whatever they said, the
			 * cache can no longer be trusted. */
			report(r, &(struct net_route_change){.kind = NET_ROUTE_OVERRUN});
			continue;
		}
		if (n < 0) {
			log_debug("net route: subscription read: %s", nl_geterror(n));
			return -EIO;
		}
	}
	return r->dispatched;
}

static int arm(struct net_route *r);

static void poll_done(struct loop_op *op, int res, uint32_t flags)
{
	struct net_route *r = container_of(op, struct net_route, poll_op);

	(void)flags;
	r->armed = false;
	if (res < 0) {
		log_debug("net route: poll: %s", strerror(-res));
		return;
	}
	net_route_dispatch(r);
	arm(r);
}

static int arm(struct net_route *r)
{
	struct io_uring_sqe *sqe;

	if (r->armed)
		return 0;
	sqe = loop_sqe(r->loop, &r->poll_op);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, net_route_fd(r), POLLIN);
	r->armed = true;
	return 0;
}

int net_route_attach(struct net_route *r, struct loop *l)
{
	r->loop = l;
	r->poll_op.fn = poll_done;
	return arm(r);
}

static int family_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static const void *sockaddr_bytes(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return &((const struct sockaddr_in *)ss)->sin_addr;
	return &((const struct sockaddr_in6 *)ss)->sin6_addr;
}

/* The first usable address of ifindex in family, from the address cache (filled on demand). */
static int iface_address(struct net_route *r, int ifindex, int family, struct sockaddr_storage *ret)
{
	struct nl_object *o;
	int e;

	if (!r->addrs) {
		e = rtnl_addr_alloc_cache(r->query, &r->addrs);
		if (e < 0) {
			log_debug("net route: address dump: %s", nl_geterror(e));
			return e == -NLE_NOMEM ? -ENOMEM : -EIO;
		}
	}
	for (o = nl_cache_get_first(r->addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);

		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != family ||
		    !local || (rtnl_addr_get_flags(a) & (IFA_F_TENTATIVE | IFA_F_DADFAILED)))
			continue;
		if (fill_addr(ret, family, nl_addr_get_binary_addr(local), nl_addr_get_len(local)))
			return 0;
	}
	return -EADDRNOTAVAIL;
}

static int lookup(struct net_route *r, const struct sockaddr_storage *peer,
		  struct sockaddr_storage *ret)
{
	int family = peer->ss_family, len = family_len(family), oif = 0, e;
	struct rtnl_route *route = NULL;
	struct rtnl_nexthop *nh;
	struct nl_addr *dst, *src;
	struct sockaddr_storage out;

	dst = nl_addr_build(family, sockaddr_bytes(peer), (size_t)len);
	if (!dst)
		return -ENOMEM;
	/* RTM_GETROUTE with RTA_DST: the kernel runs its FIB lookup (policy rules included)
	 * and answers synchronously, so this never waits on anything but the kernel. */
	e = rtnl_route_lookup(r->query, dst, &route);
	nl_addr_put(dst);
	r->stats.lookups++;
	if (e < 0) {
		log_debug("net route: RTM_GETROUTE: %s", nl_geterror(e));
		return e == -NLE_NOMEM ? -ENOMEM : -ENETUNREACH;
	}
	nh = rtnl_route_nexthop_n(route, 0);
	if (nh)
		oif = rtnl_route_nh_get_ifindex(nh);
	src = rtnl_route_get_pref_src(route);
	if (src && nl_addr_get_family(src) == family && !nl_addr_iszero(src) &&
	    fill_addr(&out, family, nl_addr_get_binary_addr(src), nl_addr_get_len(src)))
		e = 0;
	else if (oif > 0)
		e = iface_address(r, oif, family, &out);
	else
		e = -EADDRNOTAVAIL;
	rtnl_route_put(route);
	if (e < 0)
		return e;
	/* A link-local source is only meaningful with its interface. */
	if (family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)&out)->sin6_addr))
		((struct sockaddr_in6 *)&out)->sin6_scope_id = (uint32_t)oif;
	*ret = out;
	return 0;
}

int net_route_source(struct net_route *r, const struct sockaddr_storage *peer,
		     struct sockaddr_storage *ret)
{
	int family = peer->ss_family, len = family_len(family), e;
	struct route_entry *en;

	if (!len)
		return -EAFNOSUPPORT;
	/* A change the kernel made before this call is already queued on the subscription:
	 * read it now (one non-blocking recvmsg) rather than trust the cache until the loop
	 * gets to the poll completion, so a deleted address is never handed out. */
	net_route_dispatch(r);
	for (unsigned i = 0; i < ROUTE_CACHE_SIZE; i++) {
		en = &r->cache[i];
		if (en->family == family && !memcmp(en->dst, sockaddr_bytes(peer), (size_t)len)) {
			r->stats.cache_hits++;
			*ret = en->src;
			return 0;
		}
	}
	en = &r->cache[r->next_slot];
	e = lookup(r, peer, &en->src);
	if (e < 0) {
		en->family = 0;
		return e;
	}
	en->family = family;
	memcpy(en->dst, sockaddr_bytes(peer), (size_t)len);
	r->next_slot = (r->next_slot + 1) % ROUTE_CACHE_SIZE;
	*ret = en->src;
	return 0;
}
