// SPDX-License-Identifier: MIT
/*
 * The daemon's compliance thread: it signs the trail head (periodically, at each data key
 * rotation and at shutdown) and runs the retention sweeper at RETENTION_INTERVAL. Both block on
 * sqlite and the file system, so they have a thread and a catalog connection of their own,
 * like the keys rotation thread; the catalog thread keeps appending 'created' and 'finalized'
 * entries in its own transactions (BEGIN IMMEDIATE serializes the chain's writers).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "siprecd/compliance.h"
#include "siprecd/log.h"

struct compliance {
	sqlite3 *db;
	void *key;
	char *base_dir;
	int64_t retention_default;
	uint64_t retention_interval_ms, sign_interval_ms;
	pthread_t thread;
	bool started, stop, sign_now, retention_now;
	char sign_reason[32];
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

int compliance_new(const struct compliance_config *cfg, char *err, size_t errlen,
		   struct compliance **ret)
{
	struct compliance *c;
	pthread_condattr_t ca;
	char *slash;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->retention_interval_ms =
		cfg->retention_interval_ms ? cfg->retention_interval_ms : 3600000;
	c->sign_interval_ms = cfg->sign_interval_ms ? cfg->sign_interval_ms : 3600000;
	if (compliance_parse_keep(cfg->retention_default ? cfg->retention_default : "forever",
				  &c->retention_default) < 0) {
		snprintf(err, errlen,
			 "RETENTION_DEFAULT: '%s' is not forever or a duration (90d, 7y)",
			 cfg->retention_default);
		compliance_free(c);
		return -EINVAL;
	}
	c->key = trail_key_load(cfg->signing_key, true, err, errlen);
	if (!c->key) {
		compliance_free(c);
		return -EACCES;
	}
	c->base_dir = strdup(cfg->catalog_path);
	if (!c->base_dir) {
		compliance_free(c);
		return -ENOMEM;
	}
	slash = strrchr(c->base_dir, '/');
	if (slash && slash != c->base_dir)
		*slash = '\0';
	if (sqlite3_open_v2(cfg->catalog_path, &c->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", cfg->catalog_path, sqlite3_errmsg(c->db));
		compliance_free(c);
		return -EIO;
	}
	sqlite3_busy_timeout(c->db, 30000);
	*ret = c;
	return 0;
}

static void sign(struct compliance *c, const char *reason)
{
	int r = trail_sign_head(c->db, c->key, reason);

	if (r < 0)
		log_error("compliance: signing the trail head (%s) failed: %s", reason,
			  sqlite3_errmsg(c->db));
	else if (r > 0)
		log_debug("compliance: trail head signed (%s)", reason);
}

static void sweep(struct compliance *c)
{
	struct compliance_result res = {0};
	int r = compliance_retention_run(c->db, c->retention_default, 0, false, "siprecd",
					 c->base_dir, NULL, NULL, &res);

	if (r < 0)
		log_error("compliance: retention run failed: %s", strerror(-r));
	else if (res.matched)
		log_notice(
			"compliance: retention: %u recordings expired, %u deleted, %u kept under "
			"legal hold, %u failed",
			res.matched, res.deleted, res.held, res.failed);
	if (res.deleted)
		sign(c, "retention");
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *run(void *arg)
{
	struct compliance *c = arg;
	uint64_t next_sign = mono_ms() + c->sign_interval_ms;
	uint64_t next_sweep = mono_ms() + c->retention_interval_ms;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		uint64_t now = mono_ms(), wake = next_sign < next_sweep ? next_sign : next_sweep;
		bool do_sign = c->sign_now || now >= next_sign;
		bool do_sweep = c->retention_now || now >= next_sweep;
		char reason[32];

		if (!do_sign && !do_sweep) {
			struct timespec ts = {.tv_sec = (time_t)(wake / 1000),
					      .tv_nsec = (long)(wake % 1000) * 1000000L};

			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
			continue;
		}
		snprintf(reason, sizeof(reason), "%s", c->sign_now ? c->sign_reason : "interval");
		c->sign_now = c->retention_now = false;
		pthread_mutex_unlock(&c->lock);
		if (do_sweep) {
			sweep(c);
			next_sweep = mono_ms() + c->retention_interval_ms;
		}
		if (do_sign) {
			sign(c, reason);
			next_sign = mono_ms() + c->sign_interval_ms;
		}
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int compliance_start(struct compliance *c)
{
	int r = pthread_create(&c->thread, NULL, run, c);

	if (r)
		return -r;
	c->started = true;
	return 0;
}

void compliance_sign_request(struct compliance *c, const char *reason)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->sign_now = true;
	snprintf(c->sign_reason, sizeof(c->sign_reason), "%s", reason);
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void compliance_retention_request(struct compliance *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->retention_now = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

struct compliance *compliance_free(struct compliance *c)
{
	if (!c)
		return NULL;
	if (c->started) {
		pthread_mutex_lock(&c->lock);
		c->stop = true;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	if (c->db && c->key)
		sign(c, "shutdown");
	sqlite3_close(c->db);
	trail_key_free(c->key);
	free(c->base_dir);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
	return NULL;
}
