// SPDX-License-Identifier: MIT
/*
 * siprec-web's request deadline: libmicrohttpd's own timeout (MHD_OPTION_CONNECTION_TIMEOUT) is
 * one of inactivity, which a client trickling a byte of its request head every few seconds
 * never reaches (slowloris). Every connection is watched from its accept (or its previous
 * answer) until its request is whole; a thread shuts down the socket of one that is late, and
 * libmicrohttpd's thread for it then sees the end of the stream and closes it. When all
 * WEB_CONNECTIONS_MAX are open, a newcomer takes the place of the oldest connection still
 * waiting for its request (libmicrohttpd lets one more in for that), so clients trickling
 * requests from many addresses cannot lock everyone out for the deadline's length either.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "siprecd/log.h"
#include "web.h"

struct web_conn {
	struct web_conn *prev, *next;
	int fd;
	uint64_t since_ms; /* accept, or the end of the previous answer */
	bool waiting;	   /* for a whole request */
	bool closed;	   /* shut down by the deadline */
	char addr[64];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct web_conn *head;
	uint64_t timeout_ms;
	bool stop, running;
	pthread_t thread;
	uint64_t closed;
	unsigned open; /* registered and not shut down here */
} W = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *watch_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&W.lock);
	while (!W.stop) {
		uint64_t now = mono_ms(), next = now + W.timeout_ms;
		struct timespec ts;

		for (struct web_conn *w = W.head; w; w = w->next) {
			if (!w->waiting || w->closed)
				continue;
			if (now - w->since_ms >= W.timeout_ms) {
				w->closed = true;
				W.closed++;
				W.open--;
				/* libmicrohttpd's thread reads 0 and closes the connection itself.
				 */
				shutdown(w->fd, SHUT_RDWR);
				log_info("web: %s: no whole request within %llu ms: connection "
					 "closed",
					 w->addr, (unsigned long long)W.timeout_ms);
			} else if (w->since_ms + W.timeout_ms < next) {
				next = w->since_ms + W.timeout_ms;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		next -= now;
		ts.tv_sec += (time_t)(next / 1000);
		ts.tv_nsec += (long)(next % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&W.wake, &W.lock, &ts);
	}
	pthread_mutex_unlock(&W.lock);
	return NULL;
}

int web_conns_start(uint64_t timeout_ms)
{
	pthread_condattr_t ca;
	int r;

	W.timeout_ms = timeout_ms ? timeout_ms : 10000;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&W.wake);
	pthread_cond_init(&W.wake, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&W.thread, NULL, watch_thread, NULL);
	if (r)
		return -r;
	pthread_setname_np(W.thread, "web-deadline");
	W.running = true;
	return 0;
}

void web_conns_stop(void)
{
	if (!W.running)
		return;
	pthread_mutex_lock(&W.lock);
	W.stop = true;
	pthread_cond_signal(&W.wake);
	pthread_mutex_unlock(&W.lock);
	pthread_join(W.thread, NULL);
	W.running = false;
}

/* Under W.lock, one connection too many with newcomer: the oldest connection still waiting for
 * its request goes (its socket shut down), or the newcomer when every other one is answering. */
static void make_room(struct web_conn *newcomer)
{
	struct web_conn *victim = NULL;

	for (struct web_conn *w = W.head; w; w = w->next)
		if (w != newcomer && w->waiting && !w->closed &&
		    (!victim || w->since_ms <= victim->since_ms))
			victim = w;
	if (!victim)
		victim = newcomer;
	victim->closed = true;
	W.open--;
	shutdown(victim->fd, SHUT_RDWR);
	if (victim == newcomer)
		log_info("web: %s: all %d connections are answering: connection closed",
			 victim->addr, WEB_CONNECTIONS_MAX);
	else
		log_info("web: %s: connection waiting for its request closed for a newcomer (%s): "
			 "all %d were taken",
			 victim->addr, newcomer->addr, WEB_CONNECTIONS_MAX);
}

struct web_conn *web_conn_opened(int fd, const char *addr)
{
	struct web_conn *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->fd = fd;
	w->waiting = true;
	snprintf(w->addr, sizeof(w->addr), "%s", addr ? addr : "?");
	pthread_mutex_lock(&W.lock);
	w->since_ms = mono_ms();
	w->next = W.head;
	if (W.head)
		W.head->prev = w;
	W.head = w;
	if (++W.open > WEB_CONNECTIONS_MAX)
		make_room(w);
	pthread_mutex_unlock(&W.lock);
	return w;
}

void web_conn_request(struct web_conn *w, bool whole)
{
	if (!w)
		return;
	pthread_mutex_lock(&W.lock);
	w->waiting = !whole;
	pthread_mutex_unlock(&W.lock);
}

void web_conn_answered(struct web_conn *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&W.lock);
	w->waiting = true;
	w->since_ms = mono_ms();
	pthread_cond_signal(&W.wake);
	pthread_mutex_unlock(&W.lock);
}

void web_conn_closed(struct web_conn *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&W.lock);
	if (!w->closed)
		W.open--;
	if (w->prev)
		w->prev->next = w->next;
	else
		W.head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	pthread_mutex_unlock(&W.lock);
	free(w);
}
