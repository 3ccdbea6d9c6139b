/* SPDX-License-Identifier: MIT */
/*
 * The local address the kernel routes toward a peer (for the SDP c= line and the media sockets
 * when no MEDIA_ADDRESS is configured), asked of the kernel with an RTM_GETROUTE request through
 * libnl-route and cached per destination. A netlink subscription to address and route changes,
 * read on the SIP loop, drops the cache and reports each change so a vanished address is never
 * advertised again.
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

struct loop;
struct net_route;

enum net_route_change_kind {
	NET_ROUTE_ADDR_NEW,
	NET_ROUTE_ADDR_DEL,
	NET_ROUTE_ROUTE,   /* a route was added, changed or deleted */
	NET_ROUTE_OVERRUN, /* the subscription socket overflowed: changes were lost */
};

struct net_route_change {
	enum net_route_change_kind kind;
	struct sockaddr_storage addr; /* ADDR_NEW/ADDR_DEL: the address (port 0) */
	int ifindex;		      /* ADDR_*: its interface */
};

/* Opens the query socket and the (non-blocking) subscription socket. Neither is read until
 * net_route_attach() or net_route_dispatch(). 0 or -errno (-EPERM/-EAFNOSUPPORT when netlink
 * is not permitted, e.g. by a seccomp or RestrictAddressFamilies= filter). */
int net_route_new(struct net_route **ret);
/* Closes both sockets and frees r. A poll armed by net_route_attach() must have completed or
 * the ring been freed first. NULL ok; returns NULL. */
struct net_route *net_route_free(struct net_route *r);
/* fn(arg, change) runs for every address or route change read from the subscription, on the
 * thread that reads it, after the cache has been dropped. */
void net_route_set_change_callback(struct net_route *r,
				   void (*fn)(void *arg, const struct net_route_change *c),
				   void *arg);
/* Arms an IORING_OP_POLL_ADD on the subscription socket on l, re-armed after each read. 0 or
 * -errno. */
int net_route_attach(struct net_route *r, struct loop *l);
/* Reads every pending subscription message without blocking (what the poll completion does);
 * returns the number of changes seen, or -errno. */
int net_route_dispatch(struct net_route *r);
/* The subscription socket's fd (for tests that poll it themselves). */
int net_route_fd(const struct net_route *r);

/* Writes to *ret (port 0) the source address the kernel would use to reach peer (AF_INET or
 * AF_INET6; the port is ignored): the route's preferred source, else the first address of its
 * output interface. Cached per destination until the next change (pending subscription
 * messages are read first, without blocking, so the cache is never stale). One request/reply on a
 * netlink socket: a local syscall answered by the kernel at once, never a network wait.
 * 0, -EAFNOSUPPORT, -ENETUNREACH (no route), -EADDRNOTAVAIL (no usable source) or -errno. */
int net_route_source(struct net_route *r, const struct sockaddr_storage *peer,
		     struct sockaddr_storage *ret);

/* Counters for tests and debugging. */
struct net_route_stats {
	unsigned long lookups, cache_hits, flushes, changes;
};
void net_route_get_stats(const struct net_route *r, struct net_route_stats *ret);
