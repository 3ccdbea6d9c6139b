// SPDX-License-Identifier: MIT
/*
 * Health: each check (SIP loop liveness, catalog queue and errors, recording directory space
 * and writability, key store, TLS certificate lifetime, kTLS mode, transport errors) yields
 * healthy / degraded / failing with a sentence for the operator; the worst one is the overall
 * state. Shared by the varlink Health method, GET /health and the sd_notify STATUS= line.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "control/control.h"
#include "siprecd/macro.h"
#include "daemon/manager.h"
#include "siprec/session.h"
#include "siprecd/catalog.h"
#include "siprecd/diskfault.h"
#include "siprecd/keys.h"
#include "siprecd/tls.h"
#include "siprecd/transport.h"

#define LOOP_STALL_DEGRADED_MS 1000
#define LOOP_STALL_FAILING_MS 10000
#define CATALOG_QUEUE_DEGRADED 1000
#define CERT_DEGRADED_DAYS 14

const char *control_health_name(enum control_health h)
{
	switch (h) {
	case CONTROL_HEALTHY:
		return "healthy";
	case CONTROL_DEGRADED:
		return "degraded";
	default:
		return "failing";
	}
}

const char *control_ktls_mode(struct manager *m)
{
	static int available = -1; /* probed once: the probe opens sockets */

	if (!m->tls)
		return "off";
	if (available < 0)
		available = tls_ktls_available();
	return available ? "tx+rx" : "unavailable";
}

/* Free space of the recording directory in percent (0..100), or -errno. */
static int disk_free_percent(const char *dir)
{
	struct statvfs sv;

	if (statvfs(dir, &sv) < 0)
		return -errno;
	if (sv.f_blocks == 0)
		return 100;
	return (int)((sv.f_bavail * 100) / sv.f_blocks);
}

/*
 * The sentence of a watched directory's fault (diskfault.h): which directory, the errno, since
 * when, the file that failed first, and what the operator does. False when there is none.
 */
static bool fault_sentence(unsigned which, const char *name, char *buf, size_t n)
{
	struct disk_fault f;
	char dir[4096];
	uint64_t now;
	struct timespec ts;

	if (!disk_fault_any() || !disk_fault_get(which, &f, dir, sizeof(dir)) || !f.error)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	snprintf(buf, n,
		 "%s directory %.512s: writes fail with %s (%s) for %llu s (%llu failures), first "
		 "%.512s; new sessions are refused until a test write there succeeds (tried every "
		 "second): %s",
		 name, dir, disk_fault_errno_name(f.error), strerror(-f.error),
		 (unsigned long long)(now > f.since_ms ? (now - f.since_ms) / 1000 : 0),
		 (unsigned long long)f.failures, f.what,
		 which == DISK_FAULT_CATALOG
			 ? "stop siprecd, repair or remount the volume, and start it again"
			 : "repair or remount the volume (siprecd lets go of its files there as "
			   "their calls end)");
	return true;
}

struct checks {
	struct json_object *arr;
	enum control_health worst;
};

static void add(struct checks *c, const char *name, enum control_health h, const char *fmt, ...)
	_printf_(4, 5);

static void add(struct checks *c, const char *name, enum control_health h, const char *fmt, ...)
{
	char msg[1600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (h > c->worst)
		c->worst = h;
	if (!c->arr)
		return;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "status", json_object_new_string(control_health_name(h)));
	json_object_object_add(o, "message", json_object_new_string(msg));
	json_object_array_add(c->arr, o);
}

enum control_health control_health_check(struct manager *m, struct json_object **ret)
{
	struct checks c = {.arr = ret ? json_object_new_array() : NULL};
	struct config *cfg = m->cfg;
	uint64_t now = loop_now_ms(m->loop), last = loop_last_iteration_ms(m->loop);
	/* Before the first iteration (at start) there is nothing to measure yet. */
	uint64_t age = loop_iterations(m->loop) && now > last ? now - last : 0;
	char fault[1600];
	int pct;

	/* Served from the loop itself this mostly shows the current iteration; what it catches
	 * is a loop that spent long in one callback. */
	add(&c, "loop",
	    age >= LOOP_STALL_FAILING_MS    ? CONTROL_FAILING
	    : age >= LOOP_STALL_DEGRADED_MS ? CONTROL_DEGRADED
					    : CONTROL_HEALTHY,
	    "SIP loop last iteration %llu ms ago, %llu iterations", (unsigned long long)age,
	    (unsigned long long)loop_iterations(m->loop));

	if (m->catalog) {
		struct catalog_stats cs;

		catalog_get_stats(m->catalog, &cs);
		if (fault_sentence(DISK_FAULT_CATALOG, "catalog", fault, sizeof(fault)))
			add(&c, "catalog", CONTROL_FAILING, "%s", fault);
		else if (cs.damaged[0])
			add(&c, "catalog", CONTROL_FAILING,
			    "catalog file %s damaged (%s): stop siprecd and check it with sqlite3 "
			    "PRAGMA integrity_check",
			    cfg->catalog_path, cs.damaged);
		else if (cs.sync_failed[0])
			add(&c, "catalog", CONTROL_FAILING,
			    "catalog %s: a sync of its WAL failed (%s): nothing committed since "
			    "can "
			    "be made durable by this process, so new sessions are refused; restart "
			    "siprecd once the volume is sound (recovery at start completes the "
			    "recordings' rows from their files)",
			    cfg->catalog_path, cs.sync_failed);
		else if (cs.db_sync_failed[0])
			add(&c, "catalog", CONTROL_FAILING,
			    "catalog %s: a checkpoint's sync of the database file failed (%s): "
			    "rows copied from the WAL may be lost once it is rewound, so new "
			    "sessions are refused; restart siprecd once the volume is sound "
			    "(recovery at start completes the recordings' rows from their files)",
			    cfg->catalog_path, cs.db_sync_failed);
		else if (cs.dropped > 0)
			add(&c, "catalog", CONTROL_DEGRADED,
			    "%llu catalog writes dropped (queue full), queue depth %u",
			    (unsigned long long)cs.dropped, cs.queue_depth);
		else if (cs.failed > 0)
			add(&c, "catalog", CONTROL_DEGRADED, "%llu catalog writes failed, last: %s",
			    (unsigned long long)cs.failed, cs.last_error);
		else if (cs.queue_depth >= CATALOG_QUEUE_DEGRADED)
			add(&c, "catalog", CONTROL_DEGRADED, "catalog queue depth %u",
			    cs.queue_depth);
		else
			add(&c, "catalog", CONTROL_HEALTHY, "queue depth %u, %llu writes applied",
			    cs.queue_depth, (unsigned long long)cs.applied);
	} else {
		add(&c, "catalog", CONTROL_FAILING, "catalog not open");
	}

	pct = disk_free_percent(cfg->recording_dir);
	if (fault_sentence(DISK_FAULT_RECORDINGS, "recording", fault, sizeof(fault)))
		add(&c, "disk", CONTROL_FAILING, "%s", fault);
	else if (pct < 0)
		add(&c, "disk", CONTROL_FAILING, "recording directory %s: %s", cfg->recording_dir,
		    strerror(-pct));
	else if (access(cfg->recording_dir, W_OK | X_OK) < 0)
		add(&c, "disk", CONTROL_FAILING, "recording directory %s is not writable: %m",
		    cfg->recording_dir);
	else if ((uint64_t)pct < cfg->min_free_disk_percent)
		add(&c, "disk", CONTROL_FAILING,
		    "%d%% free on %s, below MIN_FREE_DISK_PERCENT=%llu", pct, cfg->recording_dir,
		    (unsigned long long)cfg->min_free_disk_percent);
	else if ((uint64_t)pct < 2 * cfg->min_free_disk_percent)
		add(&c, "disk", CONTROL_DEGRADED,
		    "%d%% free on %s, near MIN_FREE_DISK_PERCENT=%llu", pct, cfg->recording_dir,
		    (unsigned long long)cfg->min_free_disk_percent);
	else
		add(&c, "disk", CONTROL_HEALTHY, "%d%% free on %s", pct, cfg->recording_dir);

	if (m->keys && keys_current_key_id(m->keys))
		add(&c, "keys", CONTROL_HEALTHY, "data key %s loaded",
		    keys_current_key_id(m->keys));
	else
		add(&c, "keys", CONTROL_FAILING, "no data key loaded");

	if (m->tls) {
		int64_t exp = tls_server_ctx_cert_expiry(m->tls);
		int64_t days = exp >= 0 ? (exp - (int64_t)time(NULL)) / 86400 : 0;

		if (exp < 0)
			add(&c, "tls-certificate", CONTROL_DEGRADED, "cannot read the expiry of %s",
			    tls_server_ctx_cert_path(m->tls));
		else if (exp <= (int64_t)time(NULL))
			add(&c, "tls-certificate", CONTROL_FAILING, "%s has expired",
			    tls_server_ctx_cert_path(m->tls));
		else
			add(&c, "tls-certificate",
			    days < CERT_DEGRADED_DAYS ? CONTROL_DEGRADED : CONTROL_HEALTHY,
			    "%s expires in %lld days", tls_server_ctx_cert_path(m->tls),
			    (long long)days);
		add(&c, "ktls", CONTROL_HEALTHY, "kernel TLS %s", control_ktls_mode(m));
	}

	if (m->transport) {
		struct sip_transport_stats ts;

		sip_transport_get_stats(m->transport, &ts);
		add(&c, "sip-transport", CONTROL_HEALTHY,
		    "%u connections (%u throttled now, %llu times), %llu send errors, %llu TLS "
		    "handshakes failed",
		    ts.connections, ts.throttled, (unsigned long long)ts.send_throttled,
		    (unsigned long long)ts.send_errors,
		    (unsigned long long)ts.tls_handshakes_failed);
	}
	if (m->sessions) {
		const struct sessions_totals *t = sessions_get_totals(m->sessions);

		/* Write errors count until a synced test write after them (manager.c). */
		uint64_t recent = t->recording_errors - m->recording_errors_cleared;

		if (recent)
			add(&c, "recordings", CONTROL_DEGRADED,
			    "%llu complete, %llu incomplete, %llu with write errors (%llu since "
			    "the recording directory last proved writable: cleared once a test "
			    "write and fdatasync there succeed with MIN_FREE_DISK_PERCENT free)",
			    (unsigned long long)t->recordings_complete,
			    (unsigned long long)t->recordings_incomplete,
			    (unsigned long long)t->recording_errors, (unsigned long long)recent);
		else
			add(&c, "recordings", CONTROL_HEALTHY,
			    "%llu complete, %llu incomplete, %llu with write errors",
			    (unsigned long long)t->recordings_complete,
			    (unsigned long long)t->recordings_incomplete,
			    (unsigned long long)t->recording_errors);
	}

	if (ret) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "status",
				       json_object_new_string(control_health_name(c.worst)));
		json_object_object_add(o, "checks", c.arr);
		/* siprec-web's status page shows it (and offers drain or resume). */
		json_object_object_add(o, "draining", json_object_new_boolean(m->draining));
		*ret = o;
	}
	return c.worst;
}

void control_status_line(struct manager *m, char *buf, size_t n)
{
	unsigned calls = 0, streams = 0;
	enum control_health h = control_health_check(m, NULL);
	int pct = disk_free_percent(m->cfg->recording_dir);
	char disk[32], fault[400];

	if (m->sessions)
		sessions_count(m->sessions, &calls, &streams);
	if (pct >= 0)
		snprintf(disk, sizeof(disk), "disk %d%% free", pct);
	else
		snprintf(disk, sizeof(disk), "disk unknown");
	fault[0] = '\0';
	for (unsigned i = 0; i < DISK_FAULT_DIRS; i++) {
		struct disk_fault f;
		char dir[256];

		if (disk_fault_any() && disk_fault_get(i, &f, dir, sizeof(dir)) && f.error) {
			snprintf(fault, sizeof(fault),
				 " (%s directory %s: writes fail with %s, %s)",
				 i == DISK_FAULT_CATALOG ? "catalog" : "recording", dir,
				 disk_fault_errno_name(f.error), strerror(-f.error));
			break;
		}
	}
	snprintf(buf, n, "%u call%s, %u stream%s, kTLS %s, %s%s%s%s%s", calls,
		 calls == 1 ? "" : "s", streams, streams == 1 ? "" : "s",
		 strcmp(control_ktls_mode(m), "tx+rx") == 0 ? "tx+rx" : "off", disk,
		 h == CONTROL_HEALTHY ? "" : ", ",
		 h == CONTROL_HEALTHY ? "" : control_health_name(h), fault,
		 m->draining ? ", draining" : "");
}

enum control_health control_health_summary(struct manager *m, char *reason, size_t n)
{
	struct json_object *o = NULL, *checks;
	enum control_health h = control_health_check(m, &o);
	size_t off = 0;

	reason[0] = '\0';
	if (o && json_object_object_get_ex(o, "checks", &checks)) {
		for (size_t i = 0; i < json_object_array_length(checks); i++) {
			struct json_object *c = json_object_array_get_idx(checks, i), *name, *st;
			const char *status;
			int w;

			if (!json_object_object_get_ex(c, "name", &name) ||
			    !json_object_object_get_ex(c, "status", &st))
				continue;
			status = json_object_get_string(st);
			if (strcmp(status, "healthy") == 0)
				continue;
			w = snprintf(reason + off, n - off, "%s%s %s", off ? ", " : "",
				     json_object_get_string(name), status);
			if (w < 0 || (size_t)w >= n - off)
				break;
			off += (size_t)w;
		}
	}
	json_object_put(o);
	return h;
}
