// SPDX-License-Identifier: MIT
/*
 * The manager: creates state directories, opens the key store and the catalog, sets up the
 * SIP listeners (socket-activated or bound), signals (signalfd read through io_uring), the
 * systemd watchdog ping and status line, and the graceful stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "control/control.h"
#include "daemon/manager.h"
#include "media/media.h"
#include "net/route.h"
#include "siprec/session.h"
#include "siprecd/audit.h"
#include "siprecd/catalog.h"
#include "siprecd/diskfault.h"
#include "siprecd/lathist.h"
#include "siprecd/compliance.h"
#include "siprecd/keys.h"
#include "siprecd/log.h"
#include "siprecd/storage.h"
#include "siprecd/tls.h"
#include "siprecd/transport.h"
#include "siprecd/s3.h"
#include "siprecd/webhook.h"
#include "daemon/edge.h"
#include "siprecd/auth.h"
#include "siprecd/sockaddr.h"

#define STATUS_INTERVAL_MS 5000
/* The disk probe's test writes (diskfault.c): every 5 s, every second while a fault lasts. */
#define DISK_PROBE_INTERVAL_MS 5000
#define DISK_PROBE_RETRY_MS 1000
#define STOP_GRACE_MS 800

/* Creates path and its parents with mode (existing directories are left as they are). */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int make_dirs(struct manager *m)
{
	const char *dirs[] = {m->cfg->state_dir, m->cfg->recording_dir, m->cfg->runtime_dir};

	const char *files[] = {m->cfg->master_key_path, m->cfg->catalog_path};

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int r = mkdir_p(dirs[i], 0700);

		if (r < 0) {
			log_error("cannot create directory %s: %s", dirs[i], strerror(-r));
			return r;
		}
	}
	/* The key file and the catalog may live elsewhere: their directories too. */
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char dir[4096];
		char *slash;
		int r;

		if (!files[i] || snprintf(dir, sizeof(dir), "%s", files[i]) >= (int)sizeof(dir))
			continue;
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			continue;
		*slash = '\0';
		r = mkdir_p(dir, 0700);
		if (r < 0) {
			log_error("cannot create directory %s: %s", dir, strerror(-r));
			return r;
		}
	}
	return 0;
}

int manager_new(struct config *cfg, struct manager **ret)
{
	struct manager *m = calloc(1, sizeof(*m));
	char err[512] = "";
	int r;

	if (!m)
		return -ENOMEM;
	m->cfg = cfg;
	m->signal_fd = -1;
	audit_set_rate_limit(cfg->audit_rate_interval_ms, cfg->audit_rate_burst);
	r = make_dirs(m);
	if (r < 0)
		goto fail;
	r = loop_new(4096, &m->loop);
	if (r < 0) {
		log_error("io_uring setup failed: %s (is io_uring disabled by "
			  "kernel.io_uring_disabled or a seccomp filter?)",
			  strerror(-r));
		goto fail;
	}
	r = catalog_open(cfg->catalog_path, err, sizeof(err), &m->catalog);
	if (r < 0) {
		log_error("catalog %s: %s", cfg->catalog_path, err);
		goto fail;
	}
	/* The key store reads the wrapped keys from the catalog catalog_open just migrated. */
	r = keys_open(
		&(struct keys_options){.store = cfg->encryption_key_store,
				       .catalog_path = cfg->catalog_path,
				       .key_path = cfg->master_key_path,
				       .password = cfg->master_password,
				       .kdf = cfg->kdf,
				       .pbkdf2_iterations = cfg->pbkdf2_iterations,
				       .rotation_interval_ms = cfg->key_rotation_interval_ms,
				       .public_key_path = cfg->recording_public_key,
				       .backup_dir = cfg->key_backup_enabled ? cfg->key_backup_path
									     : NULL,
				       .backup_passphrase_file = cfg->key_backup_passphrase_file},
		&m->keys);
	if (r < 0) {
		log_error("key store (%s): %s", cfg->encryption_key_store, keys_error());
		goto fail;
	}
	if (*keys_warning(m->keys))
		log_warning("%s", keys_warning(m->keys));
	keys_set_catalog(m->keys, m->catalog);
	log_info("key store %s: data key %s version %u", cfg->encryption_key_store,
		 keys_current_key_id(m->keys), keys_current_version(m->keys));
	*ret = m;
	return 0;
fail:
	manager_free(m);
	return r;
}

static void signal_arm(struct manager *m);

static void signal_done(struct loop_op *op, int res, uint32_t flags)
{
	struct manager *m = container_of(op, struct manager, signal_op);
	const struct signalfd_siginfo *si = (const void *)m->siginfo;

	if (res == (int)sizeof(*si)) {
		switch (si->ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("received %s, stopping", strsignal((int)si->ssi_signo));
			manager_stop(m);
			break;
		case SIGHUP:
			manager_reload(m);
			break;
		}
	}
	signal_arm(m);
}

static void signal_arm(struct manager *m)
{
	struct io_uring_sqe *sqe = loop_sqe(m->loop, &m->signal_op);

	if (sqe)
		io_uring_prep_read(sqe, m->signal_fd, m->siginfo, sizeof(struct signalfd_siginfo),
				   0);
}

static void watchdog_fired(struct loop_timer *t)
{
	struct manager *m = container_of(t, struct manager, watchdog_timer);

	/* Pinged from the loop itself: a stuck loop stops pinging and systemd kills it. */
	sd_notify_watchdog();
	loop_timer_arm(m->loop, t, loop_now_ms(m->loop) + m->watchdog_ms);
}

static void manager_recordings_recovered(struct manager *m);

static void status_fired(struct loop_timer *t)
{
	struct manager *m = container_of(t, struct manager, status_timer);

	manager_disk_fault_check(m);
	/* Also without a change of the probe's state: free space comes back by itself. */
	manager_recordings_recovered(m);
	manager_update_status(m);
	/* Summaries of rate-limited audit events whose window is over. */
	audit_flush_suppressed();
	loop_timer_arm(m->loop, t, loop_now_ms(m->loop) + STATUS_INTERVAL_MS);
}

/* The catalog's directory (CATALOG_PATH's), as disk_fault_start watches it. */
static int start_disk_probe(struct manager *m)
{
	char *cat = strdup(m->cfg->catalog_path), *slash = cat ? strrchr(cat, '/') : NULL;
	const char *dirs[DISK_FAULT_DIRS] = {m->cfg->recording_dir, NULL};
	int r;

	if (!cat)
		return -ENOMEM;
	if (slash == cat)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	dirs[DISK_FAULT_CATALOG] = slash ? cat : ".";
	r = disk_fault_start(dirs, DISK_PROBE_INTERVAL_MS, DISK_PROBE_RETRY_MS);
	free(cat);
	if (r < 0)
		log_error("cannot start the disk probe thread: %s", strerror(-r));
	return r;
}

/*
 * The recordings check (health.c) is degraded while recordings ended with write errors; once a
 * probe begun after the last of them wrote and fdatasync'ed its block (diskfault.h
 * write_errors clear) and MIN_FREE_DISK_PERCENT is free, the volume is sound again: the check is
 * healthy, and a storage-recovered event says so. Both the count and the flag change on the loop
 * thread (totals_add), so a count read here with the flag clear holds no error the probe did not
 * follow.
 */
static void manager_recordings_recovered(struct manager *m)
{
	const struct sessions_totals *t = m->sessions ? sessions_get_totals(m->sessions) : NULL;
	struct disk_fault f;
	char dir[4096], df[4200], nf[48];
	const char *fields[] = {df, "STORAGE=recordings", nf, NULL};
	struct statvfs sv;
	uint64_t n;

	if (!t || t->recording_errors <= m->recording_errors_cleared ||
	    !disk_fault_get(DISK_FAULT_RECORDINGS, &f, dir, sizeof(dir)) || f.error ||
	    f.write_errors)
		return;
	/* A full disk passes the probe (it writes over a block it owns): the volume is not
	 * writable for recordings until MIN_FREE_DISK_PERCENT is free again. */
	if (m->cfg->min_free_disk_percent && statvfs(dir, &sv) == 0 && sv.f_blocks &&
	    sv.f_bavail * 100 / sv.f_blocks < m->cfg->min_free_disk_percent)
		return;
	n = t->recording_errors - m->recording_errors_cleared;
	m->recording_errors_cleared = t->recording_errors;
	snprintf(df, sizeof(df), "DIRECTORY=%s", dir);
	snprintf(nf, sizeof(nf), "WRITE_ERRORS=%llu", (unsigned long long)n);
	audit_emit(AUDIT_STORAGE_RECOVERED, fields,
		   "recording directory %s: a test write and fdatasync succeeded (and the free "
		   "space is above MIN_FREE_DISK_PERCENT) after %llu recording%s ended with write "
		   "errors: the volume writes again",
		   dir, (unsigned long long)n, n == 1 ? "" : "s");
}

void manager_disk_fault_check(struct manager *m)
{
	static const char *const names[DISK_FAULT_DIRS] = {"recording", "catalog"};
	uint64_t gen = disk_fault_generation();

	if (gen == m->disk_fault_gen)
		return;
	m->disk_fault_gen = gen;
	for (unsigned i = 0; i < DISK_FAULT_DIRS; i++) {
		struct disk_fault f;
		char dir[4096];

		if (!disk_fault_get(i, &f, dir, sizeof(dir)) || f.gen == m->disk_fault_seen[i])
			continue;
		m->disk_fault_seen[i] = f.gen;
		if (f.error)
			log_error(
				"%s directory %s: writes fail with %s (%s), first %s: new sessions "
				"are refused with 503 until a test write there succeeds",
				names[i], dir, disk_fault_errno_name(f.error), strerror(-f.error),
				f.what);
		else
			log_notice("%s directory %s: a test write succeeded: the fault is over, "
				   "new sessions are accepted",
				   names[i], dir);
	}
	manager_recordings_recovered(m);
	manager_update_status(m);
}

void manager_update_status(struct manager *m)
{
	/* "3 calls, 6 streams, kTLS off, disk 82% free" (+ the health state when not healthy) */
	control_status_line(m, m->status, sizeof(m->status));
	if (m->reload_status[0]) {
		size_t len = strlen(m->status);

		snprintf(m->status + len, sizeof(m->status) - len, "; %s", m->reload_status);
	}
	sd_notify_status(m->status);
}

static int open_listeners(struct manager *m)
{
	struct config *c = m->cfg;
	char *err = NULL;
	int r;

	r = sd_fds_take(&m->sd, &err);
	if (r < 0) {
		log_error("%s", err ? err : "socket activation failed");
		free(err);
		return r;
	}
	if (m->sd.total > 0) {
		static const enum sip_transport_kind kinds[] = {
			[SD_FD_SIP_UDP] = SIP_TRANSPORT_UDP,
			[SD_FD_SIP_TCP] = SIP_TRANSPORT_TCP,
			[SD_FD_SIPS] = SIP_TRANSPORT_TLS,
		};

		for (int role = SD_FD_SIP_UDP; role <= SD_FD_SIPS; role++) {
			for (unsigned i = 0; i < m->sd.n[role]; i++) {
				if (role == SD_FD_SIPS && !m->tls) {
					log_warning("socket-activated 'sips' fd ignored: "
						    "ENABLE_TLS=false");
					close(m->sd.fds[role][i]);
					continue;
				}
				r = sip_transport_add_listener(m->transport, kinds[role],
							       m->sd.fds[role][i], m->tls);
				if (r < 0)
					return r;
				log_info("listening on socket-activated fd %d (%s)",
					 m->sd.fds[role][i], sd_fd_role_name(role));
			}
		}
		return 0;
	}
	if (c->enable_udp) {
		r = sip_transport_bind(m->transport, SIP_TRANSPORT_UDP, c->sip_address, c->sip_port,
				       NULL);
		if (r < 0) {
			log_error("cannot listen on udp %s:%u: %s", c->sip_address, c->sip_port,
				  strerror(-r));
			return r;
		}
	}
	if (c->enable_tcp) {
		r = sip_transport_bind(m->transport, SIP_TRANSPORT_TCP, c->sip_address, c->sip_port,
				       NULL);
		if (r < 0) {
			log_error("cannot listen on tcp %s:%u: %s", c->sip_address, c->sip_port,
				  strerror(-r));
			return r;
		}
	}
	if (m->tls) {
		r = sip_transport_bind(m->transport, SIP_TRANSPORT_TLS, c->sip_address, c->tls_port,
				       m->tls);
		if (r < 0) {
			log_error("cannot listen on tls %s:%u: %s", c->sip_address, c->tls_port,
				  strerror(-r));
			return r;
		}
	}
	log_info("SIP on %s:%u (%s%s), SIPS on %s:%u (%s)", c->sip_address, c->sip_port,
		 c->enable_udp ? "udp " : "", c->enable_tcp ? "tcp" : "", c->sip_address,
		 c->tls_port, m->tls ? "tls" : "off");
	return 0;
}

static int tls_watch_start(struct manager *m);

/* On a media worker: a telephone-event into the catalog (its queue is thread-safe). */
static void media_dtmf_event(void *userdata, const struct media_dtmf_event *e)
{
	struct manager *m = userdata;

	catalog_dtmf_event(m->catalog, &(struct catalog_dtmf){
					       .session_uuid = e->session_uuid,
					       .label = e->label,
					       .recording_uuid = e->recording_uuid,
					       .event = e->event,
					       .volume = e->volume,
					       .ended = e->ended,
					       .payload_type = e->pt,
					       .ssrc = e->ssrc,
					       .rtp_timestamp = e->rtp_ts,
					       .duration = e->duration,
					       .duration_ms = e->duration_ms,
					       .started_at = e->started_ms,
				       });
}

static struct tls_server_params tls_params(const struct config *c)
{
	return (struct tls_server_params){
		.cert_path = c->tls_cert_path,
		.key_path = c->tls_key_path,
		.key_password =
			c->tls_key_password && *c->tls_key_password ? c->tls_key_password : NULL,
		.ca_path = c->tls_ca_path && *c->tls_ca_path ? c->tls_ca_path : NULL,
		.crl_path = c->tls_crl_path && *c->tls_crl_path ? c->tls_crl_path : NULL,
		.min_version = strcmp(c->tls_min_version, "1.3") == 0 ? 0x0304 : 0x0303,
		.verify = c->tls_verify_client == TLS_VERIFY_REQUIRE   ? TLS_VERIFY_MODE_REQUIRE
			  : c->tls_verify_client == TLS_VERIFY_REQUEST ? TLS_VERIFY_MODE_REQUEST
								       : TLS_VERIFY_MODE_NONE,
		.allowed_peers = c->tls_allowed_peers,
		.state_dir = c->state_dir,
	};
}

static int tls_setup(struct manager *m)
{
	struct config *c = m->cfg;
	struct tls_server_params p = tls_params(c);
	char *err = NULL, reason[256] = "";
	int r;

	if (!c->enable_tls)
		return 0;
	r = tls_server_ctx_new(&p, &m->tls, &err);
	if (r < 0) {
		log_error("TLS: %s", err ? err : strerror(-r));
		free(err);
		return r;
	}
	if (!c->tls_cert_path || !*c->tls_cert_path)
		log_warning(
			"TLS: no TLS_CERT_PATH configured, using the self-signed certificate %s",
			tls_server_ctx_cert_path(m->tls));
	/* Say once which record-layer mode is in effect. */
	if (tls_ktls_probe(reason, sizeof(reason)) > 0)
		log_info("TLS: kernel TLS available: records are offloaded after each handshake");
	else
		log_notice("TLS: kernel TLS unavailable (%s): OpenSSL handles TLS records in user "
			   "space",
			   reason);
	return tls_watch_start(m);
}

/* ---- TLS certificate files: automatic reload, expiry warning, sock_diag view ----
 *
 * The directories of TLS_CERT_PATH, TLS_KEY_PATH, TLS_CA_PATH and TLS_CRL_PATH are watched
 * with inotify,
 * read through io_uring (IORING_OP_READ on the inotify fd), so certbot, vault-agent or any ACME
 * client that writes or renames the files triggers a reload without SIGHUP. Events are
 * debounced (a deploy writes several files) and a reload happens only when one of the files'
 * identity (device, inode, size, mtime) changed. */

#define TLS_WATCH_FILES 4
#define TLS_RELOAD_DEBOUNCE_MS 500
#define TLS_DIAG_INTERVAL_MS (60 * 60 * 1000)
#define TLS_EXPIRY_WARN_DAYS 14
#define TLS_DIAG_LOG_MAX 32

struct tls_watch_file {
	char path[4096];
	const char *base; /* into path */
	int wd;
	struct stat st;
	bool st_ok;
};

struct tls_watch {
	struct manager *m;
	int fd; /* inotify, -1 when unavailable */
	struct loop_op read_op;
	struct loop_timer debounce_timer, diag_timer;
	struct tls_watch_file f[TLS_WATCH_FILES];
	unsigned nfiles;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
};

static bool tls_watch_snapshot(struct tls_watch *w)
{
	bool changed = false;

	for (unsigned i = 0; i < w->nfiles; i++) {
		struct tls_watch_file *f = &w->f[i];
		struct stat st;
		bool ok = stat(f->path, &st) == 0;

		if (ok != f->st_ok ||
		    (ok &&
		     (st.st_dev != f->st.st_dev || st.st_ino != f->st.st_ino ||
		      st.st_size != f->st.st_size || st.st_mtim.tv_sec != f->st.st_mtim.tv_sec ||
		      st.st_mtim.tv_nsec != f->st.st_mtim.tv_nsec)))
			changed = true;
		f->st_ok = ok;
		if (ok)
			f->st = st;
	}
	return changed;
}

static void tls_check_expiry(struct manager *m)
{
	int64_t na = tls_server_ctx_cert_expiry(m->tls);
	int64_t left;

	if (na < 0)
		return;
	left = na - (int64_t)time(NULL);
	if (left < 0)
		log_error("TLS: the certificate %s EXPIRED %lld days ago",
			  tls_server_ctx_cert_path(m->tls), (long long)(-left / 86400));
	else if (left < (int64_t)TLS_EXPIRY_WARN_DAYS * 86400)
		log_warning("TLS: the certificate %s expires in %lld days (%lld hours): renew it",
			    tls_server_ctx_cert_path(m->tls), (long long)(left / 86400),
			    (long long)(left / 3600));
	else
		log_debug("TLS: the certificate %s expires in %lld days",
			  tls_server_ctx_cert_path(m->tls), (long long)(left / 86400));
}

static const char *tls_conf_name(uint16_t conf)
{
	/* TLS_CONF_BASE, _SW, _HW, _HW_RECORD (linux/tls.h) */
	static const char *const names[] = {"none", "base", "sw", "hw", "hw-record"};

	return conf < ARRAY_SIZE(names) ? names[conf] : "?";
}

struct tls_diag_log {
	unsigned conns, ktls, logged;
};

static int tls_diag_log_one(const struct tls_diag_entry *e, void *userdata)
{
	struct tls_diag_log *d = userdata;
	char l[INET6_ADDRSTRLEN + 8], r[INET6_ADDRSTRLEN + 8];

	/* Listeners and half-open sockets have no peer port. */
	if ((e->remote.ss_family == AF_INET &&
	     ((const struct sockaddr_in *)&e->remote)->sin_port == 0) ||
	    (e->remote.ss_family == AF_INET6 &&
	     ((const struct sockaddr_in6 *)&e->remote)->sin6_port == 0))
		return 0;
	d->conns++;
	if (strcmp(e->ulp, "tls") == 0)
		d->ktls++;
	if (d->logged++ < TLS_DIAG_LOG_MAX)
		log_info("TLS sock_diag: %s <- %s ulp=%s version=0x%04x cipher=%u tx=%s rx=%s",
			 sockaddr_to_string(&e->local, l, sizeof(l)),
			 sockaddr_to_string(&e->remote, r, sizeof(r)), *e->ulp ? e->ulp : "none",
			 e->version, e->cipher, tls_conf_name(e->txconf), tls_conf_name(e->rxconf));
	return 0;
}

/* Logs what the kernel says about each SIPS connection (kTLS or not) and a summary. */
static void tls_diag_log(struct manager *m)
{
	struct tls_diag_log d = {0};
	int r = tls_diag_query(m->cfg->tls_port, tls_diag_log_one, &d);

	if (r < 0) {
		log_info("TLS sock_diag: query failed: %s", strerror(-r));
		return;
	}
	log_info("TLS sock_diag: %u SIPS connection%s on port %u, %u held by kernel TLS%s", d.conns,
		 d.conns == 1 ? "" : "s", m->cfg->tls_port, d.ktls,
		 d.logged > TLS_DIAG_LOG_MAX ? " (list truncated)" : "");
}

static void tls_reload(struct manager *m, const char *why)
{
	char *err = NULL;

	if (tls_server_ctx_reload(m->tls, &err) < 0) {
		log_error("TLS reload (%s) failed, keeping the old certificate: %s", why,
			  err ? err : "?");
		free(err);
	} else {
		log_info("TLS certificate reloaded from %s (%s)", tls_server_ctx_cert_path(m->tls),
			 why);
		tls_check_expiry(m);
	}
	tls_diag_log(m);
}

static void tls_watch_arm(struct tls_watch *w);

static void tls_watch_read_done(struct loop_op *op, int res, uint32_t flags)
{
	struct tls_watch *w = container_of(op, struct tls_watch, read_op);
	bool hit = false;

	if (res <= 0) {
		if (res != -ECANCELED && !w->m->stopping)
			log_warning("TLS: certificate watch stopped: %s",
				    strerror(res < 0 ? -res : EIO));
		return;
	}
	for (size_t off = 0; off + sizeof(struct inotify_event) <= (size_t)res;) {
		const struct inotify_event *ev = (const void *)(w->buf + off);

		off += sizeof(*ev) + ev->len;
		if (off > (size_t)res)
			break;
		if (ev->mask & IN_Q_OVERFLOW)
			hit = true;
		for (unsigned i = 0; i < w->nfiles && !hit; i++)
			if (ev->wd == w->f[i].wd && ev->len && strcmp(ev->name, w->f[i].base) == 0)
				hit = true;
	}
	if (hit && !w->m->stopping)
		loop_timer_arm(w->m->loop, &w->debounce_timer,
			       loop_now_ms(w->m->loop) + TLS_RELOAD_DEBOUNCE_MS);
	tls_watch_arm(w);
}

static void tls_watch_arm(struct tls_watch *w)
{
	struct io_uring_sqe *sqe;

	if (w->fd < 0 || w->m->stopping)
		return;
	sqe = loop_sqe(w->m->loop, &w->read_op);
	if (sqe)
		io_uring_prep_read(sqe, w->fd, w->buf, sizeof(w->buf), 0);
}

static void tls_watch_debounced(struct loop_timer *t)
{
	struct tls_watch *w = container_of(t, struct tls_watch, debounce_timer);

	if (tls_watch_snapshot(w))
		tls_reload(w->m, "certificate files changed");
}

static void tls_diag_fired(struct loop_timer *t)
{
	struct tls_watch *w = container_of(t, struct tls_watch, diag_timer);

	tls_check_expiry(w->m);
	tls_diag_log(w->m);
	loop_timer_arm(w->m->loop, t, loop_now_ms(w->m->loop) + TLS_DIAG_INTERVAL_MS);
}

static void tls_watch_add(struct tls_watch *w, const char *path)
{
	struct tls_watch_file *f;
	char dir[4096];
	char *slash;

	if (!path || !*path || w->nfiles >= TLS_WATCH_FILES)
		return;
	for (unsigned i = 0; i < w->nfiles; i++)
		if (strcmp(w->f[i].path, path) == 0)
			return;
	f = &w->f[w->nfiles];
	if (snprintf(f->path, sizeof(f->path), "%s", path) >= (int)sizeof(f->path))
		return;
	memcpy(dir, f->path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	slash = strrchr(f->path, '/');
	f->base = slash ? slash + 1 : f->path;
	/* The directory, not the file: a rename(2) over the file replaces its inode. */
	f->wd = w->fd >= 0 ? inotify_add_watch(w->fd, dir,
					       IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
						       IN_DELETE | IN_ATTRIB)
			   : -1;
	if (f->wd < 0 && w->fd >= 0)
		log_warning("TLS: cannot watch %s for certificate changes: %m (SIGHUP reloads)",
			    dir);
	w->nfiles++;
}

/* (Re)points the watch at the files the running configuration names. */
static void tls_watch_files(struct tls_watch *w, const struct config *c)
{
	bool armed = w->nfiles > 0 && w->fd >= 0;

	/* Several files in one directory share a watch descriptor: EINVAL on the second removal
	 * is expected. */
	for (unsigned i = 0; i < w->nfiles; i++)
		if (w->f[i].wd >= 0)
			inotify_rm_watch(w->fd, w->f[i].wd);
	w->nfiles = 0;
	if (c->tls_cert_path && *c->tls_cert_path) {
		tls_watch_add(w, c->tls_cert_path);
		tls_watch_add(w, c->tls_key_path);
	}
	tls_watch_add(w, c->tls_ca_path);
	tls_watch_add(w, c->tls_crl_path);
	tls_watch_snapshot(w);
	if (w->nfiles > 0 && w->fd >= 0) {
		/* The read stays armed once started (it is re-armed on each completion). */
		if (!armed)
			tls_watch_arm(w);
		log_info("TLS: watching %s%s%s for changes (automatic reload)", w->f[0].path,
			 w->nfiles > 1 ? " and " : "", w->nfiles > 1 ? "the key/CA/CRL files" : "");
	}
}

/* Starts the certificate watch, the expiry check and the periodic sock_diag log. */
static int tls_watch_start(struct manager *m)
{
	struct tls_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->m = m;
	w->read_op.fn = tls_watch_read_done;
	w->debounce_timer.fn = tls_watch_debounced;
	w->diag_timer.fn = tls_diag_fired;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		log_warning("TLS: inotify unavailable (%m): certificates reload on SIGHUP only");
	m->tls_watch = w;
	tls_watch_files(w, m->cfg);
	tls_check_expiry(m);
	loop_timer_arm(m->loop, &w->diag_timer, loop_now_ms(m->loop) + TLS_DIAG_INTERVAL_MS);
	return 0;
}

/* ---- key store changes (rotation thread -> loop) ---- */

struct key_change {
	char key_id[KEYS_KEY_ID_MAX + 1];
	uint32_t version;
	bool external;
	char backup[160];
};

static void key_change_log(void *arg)
{
	struct key_change *kc = arg;

	log_info("data key %s version %u is now used for new recordings (%s)%s%s", kc->key_id,
		 kc->version, kc->external ? "changed by siprecd-keys" : "rotated",
		 kc->backup[0] ? "; " : "", kc->backup);
	free(kc);
}

/* Runs on the keys thread: never blocks, the log line is written by the loop. */
static void keys_changed(void *userdata, const char *key_id, uint32_t version, bool external)
{
	struct manager *m = userdata;
	struct key_change *kc = calloc(1, sizeof(*kc));

	if (!kc)
		return;
	snprintf(kc->key_id, sizeof(kc->key_id), "%s", key_id);
	kc->version = version;
	kc->external = external;
	compliance_sign_request(m->compliance, "key-rotation");
	if (!external && m->cfg->key_backup_enabled)
		snprintf(kc->backup, sizeof(kc->backup), "key backup %s%s",
			 *keys_last_backup(m->keys) ? keys_last_backup(m->keys) : "FAILED: ",
			 *keys_last_backup(m->keys) ? "" : keys_error());
	if (loop_post(m->loop, key_change_log, kc) < 0)
		free(kc);
}

/* ---- routed source addresses (SDP c= when MEDIA_ADDRESS is unset) ---- */

/* Runs on the SIP loop for every address/route change (net_route has already dropped its
 * cache, so the next INVITE asks the kernel again). Sessions keep the address they answered
 * with: say how many of them advertise an address that just vanished. */
static void route_changed(void *arg, const struct net_route_change *c)
{
	struct manager *m = arg;
	struct session_info info;
	struct session *s = NULL;
	char a[INET6_ADDRSTRLEN] = "";
	unsigned n = 0;

	if (c->kind == NET_ROUTE_OVERRUN) {
		log_info("netlink address/route notifications overran; routed sources re-read");
		return;
	}
	if (c->kind != NET_ROUTE_ADDR_DEL || !c->addr.ss_family || !m->sessions)
		return;
	if (c->addr.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&c->addr)->sin6_addr, a,
			  sizeof(a));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&c->addr)->sin_addr, a, sizeof(a));
	while ((s = sessions_next(m->sessions, s))) {
		session_get_info(s, &info);
		if (info.media_address && !strcmp(info.media_address, a))
			n++;
	}
	if (n)
		log_warning("local address %s was deleted while %u active session(s) advertise it "
			    "in SDP c=; their media can no longer arrive, new calls use another "
			    "address",
			    a, n);
	else
		log_debug("local address %s deleted (no session advertises it)", a);
}

static int route_setup(struct manager *m)
{
	const char *ma = m->cfg->media_address;
	int r = net_route_new(&m->route);

	if (r < 0) {
		/* Only a wildcard SIP listener without MEDIA_ADDRESS needs it. */
		if (ma && *ma)
			return 0;
		log_error("netlink route socket: %s (set MEDIA_ADDRESS, or allow AF_NETLINK)",
			  strerror(-r));
		return r;
	}
	net_route_set_change_callback(m->route, route_changed, m);
	r = net_route_attach(m->route, m->loop);
	if (r < 0)
		log_error("netlink route subscription: %s", strerror(-r));
	return r;
}

/* ---- crash recovery: recordings a crash left open ---- */

static int recovery_key(void *userdata, const char *key_id, uint32_t key_version,
			const char *recording_id, uint8_t ret_key[STORE_KEY_SIZE])
{
	struct manager *m = userdata;
	struct recording_key rk;
	int r = keys_recording_key_get(m->keys, key_id, key_version, recording_id, &rk);

	if (r < 0)
		return r;
	memcpy(ret_key, rk.key, STORE_KEY_SIZE);
	recording_key_wipe(&rk);
	return 0;
}

static int file_sha256(const char *path, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[65536], md[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	ssize_t n;

	if (fd < 0 || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	if (n < 0 || EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
		r = n < 0 ? -errno : -EIO;
		goto out;
	}
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return r;
}

static int truncate_durably(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || fdatasync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/*
 * Makes path again as an empty file, durably (the file, then its directory, made too if the
 * crash lost it as well). 0 or -errno.
 */
static int create_empty_durably(const char *path)
{
	char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
	int fd, dfd, r = 0;

	if (!dir)
		return -ENOMEM;
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			free(dir);
			return r;
		}
	} else if (slash) {
		slash[1] = '\0';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fdatasync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	dfd = r == 0 ? open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (r == 0 && (dfd < 0 || fsync(dfd) < 0))
		r = -errno;
	if (dfd >= 0)
		close(dfd);
	free(dir);
	return r;
}

struct recovery {
	struct manager *m;
	unsigned empty; /* files that held nothing */
};

/* Checks one recording the catalog found 'writing' at open: readable up to its last intact
 * chunk, never complete unless its FINAL chunk made it to disk. */
static int recover_one(void *userdata, const struct catalog_recovered *rec)
{
	struct recovery *rcv = userdata;
	struct manager *m = rcv->m;
	struct store_key_lookup lookup = {recovery_key, m};
	struct store_check_result res = {.last_good_index = -1, .first_bad_index = -1};
	char hex[65] = "", sf[64], rf[64], pf[4200], szf[48], cf[48];
	const char *fields[] = {sf, rf, pf, szf, cf, NULL};
	int r = store_file_check(rec->path, &lookup, &res), recreated = -ENOENT;
	struct stat st;

	if (r < 0 && stat(rec->path, &st) == 0)
		res.file_size = (uint64_t)st.st_size;
	/* Created (its 200 OK waits for that), and the crash came before its first sync: the
	 * header is written without one (docs/FORMAT.md "Durability"), and the directory entry
	 * may have been made durable by another file's sync. Nothing of it is on disk: an
	 * interrupted recording with nothing in it, not a damaged file. Zeros (a size that
	 * reached the disk, its data not) are cut as after a last intact chunk. */
	if (r == -ENODATA && (res.file_size == 0 || truncate_durably(rec->path, 0) == 0)) {
		res.file_size = 0;
		rcv->empty++;
	}
	/* Its directory entry did not reach the disk: its header was no more durable than an
	 * empty file's (the same crash, another fsync's timing), so it is the same interrupted
	 * recording with nothing in it, and the file is made again, empty, as the row will say.
	 * Left missing, the trail's check (verify-trail) took it for a file deleted by hand. */
	if (r == -ENOENT) {
		recreated = create_empty_durably(rec->path);
		if (recreated == 0) {
			res.file_size = 0;
			rcv->empty++;
		}
	}
	/* Zeros the writer wrote ahead of its data (docs/FORMAT.md) are cut off, so the file
	 * ends at its last intact chunk as a file cut short by the crash would; after a FINAL
	 * chunk (its cut had not reached the disk) as a file finalized cleanly does. */
	if (r == 0 && !res.failed && res.data_end < res.file_size &&
	    truncate_durably(rec->path, res.data_end) == 0)
		res.file_size = res.data_end;
	file_sha256(rec->path, hex);
	catalog_recording_final(m->catalog, &(struct catalog_recording_final){
						    .uuid = rec->recording_uuid,
						    .size = res.file_size,
						    .chunks = res.chunks,
						    .frames = res.frames,
						    .sha256 = hex[0] ? hex : NULL,
						    .complete = r == 0 && res.complete,
						    .state = "interrupted",
						    .finalized_at = (uint64_t)time(NULL) * 1000,
					    });
	snprintf(sf, sizeof(sf), "SIPREC_SESSION_ID=%s", rec->session_uuid);
	snprintf(rf, sizeof(rf), "SIPREC_RECORDING_ID=%s", rec->recording_uuid);
	snprintf(pf, sizeof(pf), "RECORDING_PATH=%s", rec->path);
	snprintf(szf, sizeof(szf), "RECORDING_SIZE=%llu", (unsigned long long)res.file_size);
	snprintf(cf, sizeof(cf), "RECORDING_LAST_CHUNK=%lld", (long long)res.last_good_index);
	if (r == -ENODATA)
		audit_emit(AUDIT_RECORDING_INCOMPLETE, fields,
			   "recording %s interrupted by a crash before anything of it reached the "
			   "disk: %s holds nothing (no header, no audio)",
			   rec->recording_uuid, rec->path);
	else if (r == -ENOENT && recreated == 0)
		audit_emit(
			AUDIT_RECORDING_INCOMPLETE, fields,
			"recording %s interrupted by a crash before its file's directory entry "
			"reached the disk: %s did not exist: made again, empty (nothing of it had "
			"reached the disk)",
			rec->recording_uuid, rec->path);
	else if (r == -ENOENT)
		audit_emit(
			AUDIT_RECORDING_INCOMPLETE, fields,
			"recording %s interrupted by a crash before its file's directory entry "
			"reached the disk: %s does not exist, and cannot be made again empty: %s",
			rec->recording_uuid, rec->path, strerror(-recreated));
	else if (r == -EBADMSG || r == -EPROTONOSUPPORT)
		audit_emit(AUDIT_RECORDING_INCOMPLETE, fields,
			   "recording %s interrupted by a crash and unreadable: %s: damaged header",
			   rec->recording_uuid, rec->path);
	else if (r < 0)
		audit_emit(AUDIT_RECORDING_INCOMPLETE, fields,
			   "recording %s interrupted by a crash and unreadable: %s: %s",
			   rec->recording_uuid, rec->path, strerror(-r));
	else if (res.complete)
		audit_emit(AUDIT_RECORDING_FINALIZED, fields,
			   "recording %s complete on disk after a crash: %s, %llu frames",
			   rec->recording_uuid, rec->path, (unsigned long long)res.frames);
	else
		audit_emit(AUDIT_RECORDING_INCOMPLETE, fields,
			   "recording %s interrupted by a crash: %s readable up to chunk %lld "
			   "(%llu frames)%s",
			   rec->recording_uuid, rec->path, (long long)res.last_good_index,
			   (unsigned long long)res.frames,
			   res.failed ? ", then a damaged chunk" : ", then truncated");
	return 0;
}

/* Runs before the loop starts (blocking file reads are fine there), after the catalog thread
 * so the results are queued to it. */
static void recover_recordings(struct manager *m)
{
	unsigned sessions = catalog_recovered_sessions(m->catalog);
	struct recovery rcv = {m, 0};
	int n;

	if (sessions == 0)
		return;
	n = catalog_recovered_foreach(m->catalog, recover_one, &rcv);
	if (rcv.empty)
		log_notice("crash recovery: %u session%s marked interrupted, %d recording%s "
			   "checked, %u empty (created just before the crash: nothing of %s "
			   "reached the disk)",
			   sessions, sessions == 1 ? "" : "s", n, n == 1 ? "" : "s", rcv.empty,
			   rcv.empty == 1 ? "it" : "them");
	else
		log_notice(
			"crash recovery: %u session%s marked interrupted, %d recording%s checked",
			sessions, sessions == 1 ? "" : "s", n, n == 1 ? "" : "s");
}

/* Before the catalog thread and READY=1: the WAL's first pass would otherwise grow the file
 * under the first calls' commits (catalog_warm_wal). A failure only costs that, so it is a
 * warning. */
static void warm_catalog(struct manager *m)
{
	uint64_t t0 = lat_now_us(), bytes = 0;
	int r = catalog_warm_wal(m->catalog, &bytes);

	if (r < 0)
		log_warning("catalog: cannot write the WAL ahead: %s", strerror(-r));
	else if (bytes)
		log_info("catalog: WAL written ahead: %llu KiB in %llu ms",
			 (unsigned long long)(bytes >> 10),
			 (unsigned long long)((lat_now_us() - t0) / 1000));
}

int manager_start(struct manager *m)
{
	struct config *c = m->cfg;
	struct sip_transport_limits lim;
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* A signal ignored at exec (a shell's background job ignores SIGINT) is discarded before
	 * signalfd can see it: restore the defaults, then block them for the signalfd. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	m->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (m->signal_fd < 0) {
		log_error("signalfd: %m");
		return -errno;
	}
	m->signal_op.fn = signal_done;
	signal_arm(m);

	warm_catalog(m);
	r = catalog_start(m->catalog);
	if (r < 0) {
		log_error("catalog thread: %s", strerror(-r));
		return r;
	}
	recover_recordings(m);
	{
		/* The trail's signer and the retention sweeper (docs/COMPLIANCE.md). */
		char err[512] = "";

		r = compliance_new(
			&(struct compliance_config){
				.catalog_path = c->catalog_path,
				.signing_key = c->trail_signing_key,
				.retention_default = c->retention_default,
				.retention_interval_ms = c->retention_interval_ms,
				.sign_interval_ms = c->trail_sign_interval_ms,
				.keys = m->keys,
			},
			err, sizeof(err), &m->compliance);
		if (r == 0)
			r = compliance_start(m->compliance);
		if (r < 0) {
			log_error("compliance: %s", *err ? err : strerror(-r));
			return r;
		}
	}
	/* Rotation does its sqlite work on its own thread (started after the signal mask). */
	keys_set_change_callback(m->keys, keys_changed, m);
	r = keys_rotation_start(m->keys, c->key_rotation_interval_ms);
	if (r < 0) {
		log_error("key rotation thread: %s", strerror(-r));
		return r;
	}
	r = tls_setup(m);
	if (r < 0)
		return r;
	r = media_pool_new(
		&(struct media_pool_config){
			.sip_loop = m->loop,
			.workers = c->media_workers,
			.batch = c->media_batch,
			.batch_wait_us = (unsigned)(c->media_batch_wait_ms * 1000),
			.port_min = c->rtp_port_min,
			.port_max = c->rtp_port_max,
			.flush_ms = c->flush_interval_ms,
			.latch = c->media_latch,
			.max_packets = c->media_max_packets,
			.max_bytes = c->media_max_bytes,
			.dtmf_policy = c->dtmf_policy,
			.dtmf = media_dtmf_event,
			.dtmf_userdata = m,
		},
		&m->media);
	if (r < 0)
		return r;
	r = route_setup(m);
	if (r < 0)
		return r;
	{
		/* Signed event POSTs from the catalog's outbox, on their own thread. */
		char err[512] = "";

		r = webhook_start(&(struct webhook_config){.catalog_path = c->catalog_path,
							   .urls = c->webhook_urls,
							   .secret_file = c->webhook_secret_file,
							   .timeout_ms = c->webhook_timeout_ms,
							   .retry_min_ms = c->webhook_retry_min_ms,
							   .retry_max_ms = c->webhook_retry_max_ms},
				  err, sizeof(err));
		if (r < 0) {
			log_error("webhooks: %s", *err ? err : strerror(-r));
			return r;
		}
		/* Finalized recordings to object storage, from the catalog's outbox. */
		r = s3_upload_start(
			&(struct s3_upload_config){
				.target = {.endpoint = c->s3_endpoint,
					   .bucket = c->s3_bucket,
					   .region = c->s3_region,
					   .credentials = c->s3_credentials,
					   .timeout_ms = c->s3_timeout_ms,
					   .virtual_hosted = !strcmp(c->s3_addressing, "virtual")},
				.prefix = c->s3_prefix,
				.catalog_path = c->catalog_path,
				.retry_min_ms = c->s3_retry_min_ms,
				.retry_max_ms = c->s3_retry_max_ms,
				.delete_local_after_ms = c->s3_delete_local_after_ms},
			err, sizeof(err));
		if (r < 0) {
			log_error("s3: %s", *err ? err : strerror(-r));
			return r;
		}
	}
	r = sessions_new(m, &m->sessions);
	if (r < 0)
		return r;
	r = sipd_init(m);
	if (r < 0)
		return r;
	edge_transport_limits(c, &lim);
	r = sip_transport_new(m->loop, &lim, &sipd_transport_handler, m, &m->transport);
	if (r < 0) {
		log_error("SIP transport setup failed: %s%s", strerror(-r),
			  r == -EINVAL || r == -EOPNOTSUPP
				  ? " (io_uring provided buffer rings need Linux 5.19 or newer)"
				  : "");
		return r;
	}
	r = edge_apply(m, c);
	if (r < 0)
		return r;
	r = open_listeners(m);
	if (r < 0)
		return r;
	r = control_start(m);
	if (r < 0)
		return r;

	m->watchdog_ms = sd_watchdog_ping_ms();
	m->watchdog_timer.fn = watchdog_fired;
	if (m->watchdog_ms)
		loop_timer_arm(m->loop, &m->watchdog_timer, loop_now_ms(m->loop) + m->watchdog_ms);
	m->status_timer.fn = status_fired;
	loop_timer_arm(m->loop, &m->status_timer, loop_now_ms(m->loop) + STATUS_INTERVAL_MS);
	r = start_disk_probe(m);
	if (r < 0)
		return r;

	log_notice("siprecd ready: state %s, recordings %s, catalog %s, key %s", c->state_dir,
		   c->recording_dir, c->catalog_path, c->master_key_path);
	audit_emit(AUDIT_DAEMON_STARTED, NULL, "siprecd started");
	manager_update_status(m);
	sd_notify_ready(m->status);
	return 0;
}

int manager_run(struct manager *m)
{
	return loop_run(m->loop);
}

static void stop_fired(struct loop_timer *t)
{
	struct manager *m = container_of(t, struct manager, stop_timer);
	unsigned byes = sessions_byes_pending(m->sessions), calls = 0, streams = 0;

	sessions_count(m->sessions, &calls, &streams);
	if (byes)
		log_warning("stopping: %u BYE(s) unanswered after %llu ms (SHUTDOWN_BYE_TIMEOUT)",
			    byes, (unsigned long long)(loop_now_ms(m->loop) - m->stop_started_ms));
	if (calls)
		log_warning("stopping: %u session(s) not finalized in time", calls);
	sip_transport_shutdown(m->transport);
	loop_exit(m->loop, 0);
}

static void all_sessions_ended(struct manager *m)
{
	/* Every recording is sealed and durable and every SRC answered its BYE: leave now
	 * rather than at the time limit. */
	loop_timer_disarm(m->loop, &m->stop_timer);
	sip_transport_shutdown(m->transport);
	loop_exit(m->loop, 0);
}

void manager_stop(struct manager *m)
{
	if (m->stopping)
		return;
	m->stopping = true;
	sd_notify_stopping();
	audit_emit(AUDIT_DAEMON_STOPPING, NULL, "siprecd stopping");
	/* No new connection (listeners closed) and no new session (INVITEs get 503 while
	 * stopping), but the transports stay up: each session's BYE goes out on the socket or
	 * connection its call came in on, and the SRC's answer comes back on it (RFC 3261 §15).
	 * Closing them first would end the calls without telling the SRC. */
	sip_transport_stop_accepting(m->transport);
	/* End every session: BYE to the SRC, recordings sealed with their final chunk and
	 * fdatasync'ed by the media workers; wait for both, bounded by SHUTDOWN_BYE_TIMEOUT
	 * (at least the grace the sealing needs); then close the transport and leave. */
	m->stop_started_ms = loop_now_ms(m->loop);
	m->stop_timer.fn = stop_fired;
	loop_timer_arm(m->loop, &m->stop_timer,
		       m->stop_started_ms + MAX(STOP_GRACE_MS, m->cfg->shutdown_bye_timeout_ms));
	sessions_shutdown(m->sessions, all_sessions_ended);
}

/* ---- SIGHUP: configuration reload ----
 *
 * The file is read and validated as at start (config_load). An invalid file changes nothing.
 * Otherwise config_apply moves the value of every key the table marks reloadable into the
 * running configuration: modules that read m->cfg when they act (session limits, policies,
 * MEDIA_ADDRESS, MIN_FREE_DISK_PERCENT...) just see the new value; a module that copied a value
 * at start gets a hook below. A new reloadable key: set RELOAD in the key table, and add a hook
 * here only if its module keeps a copy. A hook that fails puts its keys' old values back. */

struct reload_hook {
	const char *keys; /* space-separated key names; the hook runs once if any changed */
	/* old holds the previous values of the changed keys. 0, or -errno with err filled. */
	int (*apply)(struct manager *m, const struct config *old, char *err, size_t errlen);
};

static int reload_log_level(struct manager *m, const struct config *old, char *err, size_t n)
{
	log_set_max_level(m->cfg->log_level);
	return 0;
}

static int reload_audit(struct manager *m, const struct config *old, char *err, size_t n)
{
	audit_set_rate_limit(m->cfg->audit_rate_interval_ms, m->cfg->audit_rate_burst);
	return 0;
}

static int reload_key_rotation(struct manager *m, const struct config *old, char *err, size_t n)
{
	keys_set_rotation_interval(m->keys, m->cfg->key_rotation_interval_ms);
	return 0;
}

static int reload_tls(struct manager *m, const struct config *old, char *err, size_t n)
{
	struct tls_server_params p = tls_params(m->cfg);
	char *e = NULL;
	int r;

	if (!m->tls)
		return 0; /* ENABLE_TLS=false: nothing listens, nothing to change */
	r = tls_server_ctx_reconfigure(m->tls, &p, &e);
	if (r < 0) {
		snprintf(err, n, "%s", e ? e : strerror(-r));
		free(e);
		return r;
	}
	if (m->tls_watch)
		tls_watch_files(m->tls_watch, m->cfg);
	log_info("TLS settings reloaded (certificate %s)", tls_server_ctx_cert_path(m->tls));
	tls_check_expiry(m);
	return 0;
}

/* Limits and allowlists (daemon/edge.c); the lists were validated by config_load already. */
static int reload_transport(struct manager *m, const struct config *old, char *err, size_t n)
{
	int r = m->transport ? edge_apply(m, m->cfg) : 0;

	if (r < 0)
		snprintf(err, n, "SIP allowlists: %s", strerror(-r));
	return r;
}

static int reload_metrics(struct manager *m, const struct config *old, char *err, size_t n)
{
	return control_metrics_reload(m, err, n);
}

#define EDGE_RELOAD_KEYS                                                                           \
	"MAX_CONNECTIONS MAX_HANDSHAKES TCP_IDLE_TIMEOUT TLS_HANDSHAKE_TIMEOUT "                   \
	"SIP_MESSAGE_TIMEOUT "                                                                     \
	"MAX_SEND_QUEUE MAX_SEND_QUEUE_MESSAGES SIP_ALLOW SIP_ALLOW_UDP SIP_ALLOW_TCP "            \
	"SIP_ALLOW_TLS "                                                                           \
	"MAX_CONNECTIONS_PER_SOURCE MAX_HANDSHAKES_PER_SOURCE SIP_DIGEST_AUTH SIP_AUTH_FILE "      \
	"SIP_AUTH_REALM SIP_AUTH_ALGORITHMS SIP_AUTH_NONCE_LIFETIME"

#define TLS_RELOAD_KEYS                                                                            \
	"TLS_CERT_PATH TLS_KEY_PATH TLS_KEY_PASSWORD TLS_CA_PATH TLS_CRL_PATH TLS_VERIFY_CLIENT "  \
	"TLS_MIN_VERSION TLS_ALLOWED_PEERS"

static const struct reload_hook reload_hooks[] = {
	{"LOG_LEVEL", reload_log_level},
	{"AUDIT_RATE_LIMIT_INTERVAL AUDIT_RATE_LIMIT_BURST", reload_audit},
	{TLS_RELOAD_KEYS, reload_tls},
	{"KEY_ROTATION_INTERVAL", reload_key_rotation},
	{"MAX_CONNECTIONS MAX_HANDSHAKES TCP_IDLE_TIMEOUT TLS_HANDSHAKE_TIMEOUT "
	 "SIP_MESSAGE_TIMEOUT "
	 "MAX_SEND_QUEUE MAX_SEND_QUEUE_MESSAGES SIP_ALLOW SIP_ALLOW_UDP SIP_ALLOW_TCP "
	 "SIP_ALLOW_TLS "
	 "MAX_CONNECTIONS_PER_SOURCE MAX_HANDSHAKES_PER_SOURCE SIP_DIGEST_AUTH SIP_AUTH_FILE "
	 "SIP_AUTH_REALM SIP_AUTH_ALGORITHMS SIP_AUTH_NONCE_LIFETIME",
	 reload_transport},
	{"METRICS_LISTEN", reload_metrics},
};

#define RELOAD_KEYS_MAX 128

struct reload_state {
	const char *applied[RELOAD_KEYS_MAX], *restart[RELOAD_KEYS_MAX];
	unsigned n_applied, n_restart;
};

static void reload_changed(void *userdata, const char *key, bool applied)
{
	struct reload_state *st = userdata;

	if (applied && st->n_applied < RELOAD_KEYS_MAX)
		st->applied[st->n_applied++] = key;
	else if (!applied && st->n_restart < RELOAD_KEYS_MAX)
		st->restart[st->n_restart++] = key;
}

/* Whether one of the space-separated names in list is among keys[0..n). */
static bool keys_listed(const char *list, const char *const *keys, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(keys[i]);

		for (const char *p = strstr(list, keys[i]); p; p = strstr(p + 1, keys[i]))
			if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
				return true;
	}
	return false;
}

/* Puts back the previous value of each changed key of list (a failed hook). */
static void reload_revert(struct manager *m, struct config *old, const char *list,
			  const struct reload_state *st)
{
	for (unsigned i = 0; i < st->n_applied; i++)
		if (keys_listed(list, &st->applied[i], 1))
			config_swap_key(m->cfg, old, st->applied[i]);
}

/* Logs each line config_load wrote (one problem a line); returns how many. */
static unsigned log_problems(char *text)
{
	unsigned n = 0;

	for (char *line = text, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		log_error("configuration reload: %s", line);
		n++;
	}
	return n;
}

void manager_reload(struct manager *m)
{
	struct reload_state st = {0};
	const char *path = m->cfg->config_explicit ? m->cfg->config_path : NULL;
	char pathf[4200], resf[64], err[512];
	const char *fields[] = {pathf, resf, NULL};
	struct config next;
	char *problems = NULL;
	size_t problems_len = 0;
	unsigned failed = 0;
	FILE *f;
	int r;

	sd_notify_reloading();
	f = open_memstream(&problems, &problems_len);
	r = config_load(&next, path, NULL, f);
	if (f)
		fclose(f);
	snprintf(pathf, sizeof(pathf), "CONFIG_PATH=%s",
		 path		       ? path
		 : m->cfg->config_path ? m->cfg->config_path
				       : "");
	if (r < 0) {
		unsigned n = problems ? log_problems(problems) : 0;

		snprintf(resf, sizeof(resf), "RESULT=invalid");
		snprintf(m->reload_status, sizeof(m->reload_status),
			 "reload failed: %u problem%s in the configuration, running one kept", n,
			 n == 1 ? "" : "s");
		audit_emit(
			AUDIT_CONFIG_RELOADED, fields,
			"configuration reload failed (%u problem%s): the running configuration is "
			"kept",
			n, n == 1 ? "" : "s");
		free(problems);
		manager_update_status(m);
		sd_notify_ready(m->status);
		return;
	}
	free(problems);

	config_apply(m->cfg, &next, reload_changed, &st);
	for (size_t i = 0; i < ARRAY_SIZE(reload_hooks); i++) {
		const struct reload_hook *h = &reload_hooks[i];

		if (!keys_listed(h->keys, st.applied, st.n_applied))
			continue;
		err[0] = '\0';
		r = h->apply(m, &next, err, sizeof(err));
		if (r < 0) {
			log_error("configuration reload: %s: %s; the previous value%s kept",
				  h->keys, err[0] ? err : strerror(-r),
				  strchr(h->keys, ' ') ? "s are" : " is");
			reload_revert(m, &next, h->keys, &st);
			failed++;
		}
	}
	for (unsigned i = 0; i < st.n_applied; i++)
		log_info("configuration reload: %s applied", st.applied[i]);
	for (unsigned i = 0; i < st.n_restart; i++)
		log_warning("configuration reload: %s changed but needs a restart; the running "
			    "value is kept until then",
			    st.restart[i]);
	/* Unchanged paths may name renewed files: re-read them as a SIGHUP always did. */
	if (m->tls && !keys_listed(TLS_RELOAD_KEYS, st.applied, st.n_applied))
		tls_reload(m, "SIGHUP");
	/* The digest credentials file may have changed under the same path: re-read it too. */
	if (m->transport && m->cfg->sip_digest_auth &&
	    !keys_listed(EDGE_RELOAD_KEYS, st.applied, st.n_applied) && edge_apply(m, m->cfg) < 0)
		failed++;
	/* Rotations and destructions made by siprecd-keys: re-read now (on the keys thread). */
	keys_refresh_request(m->keys);
	snprintf(resf, sizeof(resf), "RESULT=%s", failed ? "partial" : "applied");
	if (failed)
		snprintf(m->reload_status, sizeof(m->reload_status),
			 "reload partly failed: %u setting group%s kept", failed,
			 failed == 1 ? "" : "s");
	else if (st.n_restart)
		snprintf(m->reload_status, sizeof(m->reload_status),
			 "%u changed setting%s wait%s for a restart", st.n_restart,
			 st.n_restart == 1 ? "" : "s", st.n_restart == 1 ? "s" : "");
	else
		m->reload_status[0] = '\0';
	audit_emit(AUDIT_CONFIG_RELOADED, fields,
		   "configuration reloaded: %u setting%s applied, %u need%s a restart%s",
		   st.n_applied, st.n_applied == 1 ? "" : "s", st.n_restart,
		   st.n_restart == 1 ? "s" : "", failed ? ", some could not be applied" : "");
	config_free(&next);
	manager_update_status(m);
	sd_notify_ready(m->status);
}

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	control_stop(m);
	disk_fault_stop();
	sipd_done(m);
	sessions_free(m->sessions);
	media_pool_free(m->media);
	m->transport = sip_transport_free(m->transport);
	m->sip_auth = sip_auth_free(m->sip_auth);
	if (m->catalog) {
		catalog_stop(m->catalog);
		catalog_free(m->catalog);
	}
	/* After the catalog thread's last entries: the shutdown signature covers them. */
	m->compliance = compliance_free(m->compliance);
	tls_server_ctx_free(m->tls);
	keys_free(m->keys);
	if (m->signal_fd >= 0)
		close(m->signal_fd);
	if (m->tls_watch && m->tls_watch->fd >= 0)
		close(m->tls_watch->fd);
	loop_free(m->loop);
	webhook_stop(); /* after the sessions: their last events reach the outbox */
	s3_upload_stop();
	free(m->tls_watch); /* after the ring: its read may have been in flight */
	/* After the ring too: its poll may have been in flight. */
	net_route_free(m->route);
	free(m);
	return NULL;
}
