// SPDX-License-Identifier: MIT
/*
 * Faults of the volumes siprecd writes to: the state machine of one directory (a fault set by a
 * failed write or probe, cleared only by a probe begun after it), and the process's probe thread
 * that tests each watched directory with a small write, so that a filesystem shut down or
 * remounted read-only is seen without a call, and its repair is seen without a restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "siprecd/diskfault.h"

#define PROBE_NAME ".siprecd-probe"
#define PROBE_SIZE 4096

bool disk_fault_is_fault(int error)
{
	/* The process's own limits (descriptors, memory) are not the volume's. */
	return error < 0 && error != -ENOSPC && error != -EDQUOT && error != -ENOMEM &&
	       error != -EMFILE && error != -ENFILE && error != -EAGAIN && error != -ECANCELED;
}

bool disk_fault_note(struct disk_fault *f, const char *what, int error, uint64_t now_ms)
{
	if (!disk_fault_is_fault(error))
		return false;
	if (f->error) {
		f->failures++;
		f->last_ms = now_ms;
		return false;
	}
	f->error = error;
	snprintf(f->what, sizeof(f->what), "%s", what ? what : "");
	f->since_ms = f->last_ms = now_ms;
	f->failures = 1;
	f->gen++;
	return true;
}

bool disk_fault_probe_done(struct disk_fault *f, const char *what, int result, uint64_t started_ms,
			   uint64_t now_ms)
{
	if (disk_fault_is_fault(result))
		return disk_fault_note(f, what, result, now_ms);
	/* A failure reported after the probe began may be newer than what the probe saw. */
	if (!f->error || f->last_ms >= started_ms)
		return false;
	f->error = 0;
	f->failures = 0;
	f->gen++;
	return true;
}

void disk_fault_write_error(struct disk_fault *f, uint64_t now_ms)
{
	f->write_errors = true;
	f->write_error_ms = now_ms;
}

bool disk_fault_synced(struct disk_fault *f, uint64_t started_ms)
{
	/* A failure at the probe's own millisecond may have followed its write. */
	if (!f->write_errors || f->write_error_ms >= started_ms)
		return false;
	f->write_errors = false;
	return true;
}

const char *disk_fault_errno_name(int error)
{
	const char *n = strerrorname_np(-error);

	return n ? n : "E?";
}

/* ---- the probe thread ---- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running, stop, kicked;
	unsigned interval_ms, retry_ms;
	char *dirs[DISK_FAULT_DIRS];
	struct disk_fault st[DISK_FAULT_DIRS];
} P = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static _Atomic bool any_fault;
static _Atomic uint64_t generation;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Under P.lock: publishes any_fault after a change. */
static void changed(void)
{
	bool any = false;

	for (unsigned i = 0; i < DISK_FAULT_DIRS; i++)
		any |= P.st[i].error != 0;
	atomic_store_explicit(&any_fault, any, memory_order_relaxed);
	/* write_errors alone is no fault (admission ignores it), but the manager looks at each
	 * change of the generation. */
	atomic_fetch_add_explicit(&generation, 1, memory_order_relaxed);
}

/*
 * One test write in dir: one block written with O_DIRECT where the filesystem has it (so a dead
 * device answers, not the page cache) over the block of ".siprecd-probe", a file made once
 * (written and synced, so that later writes change no extent) and kept: a file created and
 * removed at each probe was a directory change every few seconds beside the recordings'
 * (ext4 fast commits, directory fsyncs), and no fdatasync, which would add a journal commit to
 * theirs. With sync (after a recording's write failed, until one such probe succeeds) the block
 * is fdatasync'ed too: a write that reached the device is what proves the volume sound for the
 * recordings check. An xfs shut down fails the open with EIO, a read-only filesystem with
 * EROFS. 0 or -errno.
 */
static int probe(const char *dir, bool sync)
{
	static _Alignas(4096) const unsigned char block[PROBE_SIZE];
	int dfd, fd, r = 0, flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW;
	bool made = false;
	ssize_t n;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = openat(dfd, PROBE_NAME, flags | O_DIRECT);
	if (fd < 0 && errno == ENOENT) {
		fd = openat(dfd, PROBE_NAME, flags | O_CREAT | O_EXCL | O_DIRECT, 0600);
		made = fd >= 0;
	}
	if (fd < 0 && errno == EINVAL) { /* no O_DIRECT here (tmpfs) */
		fd = openat(dfd, PROBE_NAME, flags | O_CREAT, 0600);
		made = fd >= 0;
	}
	if (fd < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	n = pwrite(fd, block, sizeof(block), 0);
	if (n < 0)
		r = -errno;
	else if (n != (ssize_t)sizeof(block))
		r = -EIO;
	if (r == 0 && made && (fdatasync(fd) < 0 || fsync(dfd) < 0))
		r = -errno;
	else if (r == 0 && sync && fdatasync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	close(dfd);
	return r;
}

static void *probe_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&P.lock);
	while (!P.stop) {
		uint64_t started = mono_ms();
		int res[DISK_FAULT_DIRS] = {0};
		bool change = false, sync[DISK_FAULT_DIRS], waiting = false;

		P.kicked = false;
		for (unsigned i = 0; i < DISK_FAULT_DIRS; i++)
			sync[i] = P.st[i].write_errors || P.st[i].error;
		pthread_mutex_unlock(&P.lock);
		for (unsigned i = 0; i < DISK_FAULT_DIRS; i++)
			if (P.dirs[i])
				res[i] = probe(P.dirs[i], sync[i]);
		pthread_mutex_lock(&P.lock);
		for (unsigned i = 0; i < DISK_FAULT_DIRS; i++) {
			char what[4200];

			if (!P.dirs[i])
				continue;
			snprintf(what, sizeof(what), "%s/" PROBE_NAME, P.dirs[i]);
			change |= disk_fault_probe_done(&P.st[i], what, res[i], started, mono_ms());
			if (res[i] == 0 && sync[i])
				change |= disk_fault_synced(&P.st[i], started);
			waiting |= P.st[i].write_errors;
		}
		if (change)
			changed();
		if (!P.kicked && !P.stop) {
			unsigned wait =
				waiting || atomic_load_explicit(&any_fault, memory_order_relaxed)
					? P.retry_ms
					: P.interval_ms;
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (long)(wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			while (!P.kicked && !P.stop &&
			       pthread_cond_timedwait(&P.wake, &P.lock, &ts) != ETIMEDOUT)
				;
		}
	}
	pthread_mutex_unlock(&P.lock);
	return NULL;
}

int disk_fault_start(const char *const dirs[DISK_FAULT_DIRS], unsigned interval_ms,
		     unsigned retry_ms)
{
	pthread_condattr_t ca;
	int r;

	if (P.running)
		return -EALREADY;
	for (unsigned i = 0; i < DISK_FAULT_DIRS; i++) {
		free(P.dirs[i]);
		P.dirs[i] = dirs[i] ? strdup(dirs[i]) : NULL;
		if (dirs[i] && !P.dirs[i])
			return -ENOMEM;
	}
	P.interval_ms = interval_ms ? interval_ms : 1000;
	P.retry_ms = retry_ms ? retry_ms : P.interval_ms;
	P.stop = false;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&P.wake);
	pthread_cond_init(&P.wake, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&P.thread, NULL, probe_thread, NULL);
	if (r)
		return -r;
	pthread_setname_np(P.thread, "siprecd-probe");
	P.running = true;
	return 0;
}

void disk_fault_stop(void)
{
	if (!P.running)
		return;
	pthread_mutex_lock(&P.lock);
	P.stop = true;
	pthread_cond_signal(&P.wake);
	pthread_mutex_unlock(&P.lock);
	pthread_join(P.thread, NULL);
	P.running = false;
}

bool disk_fault_report(unsigned which, const char *path, int error)
{
	bool set;

	if (which >= DISK_FAULT_DIRS || !disk_fault_is_fault(error))
		return false;
	pthread_mutex_lock(&P.lock);
	set = disk_fault_note(&P.st[which], path, error, mono_ms());
	if (set)
		changed();
	P.kicked = true;
	pthread_cond_signal(&P.wake);
	pthread_mutex_unlock(&P.lock);
	return set;
}

void disk_fault_write_failed(unsigned which)
{
	if (which >= DISK_FAULT_DIRS)
		return;
	pthread_mutex_lock(&P.lock);
	disk_fault_write_error(&P.st[which], mono_ms());
	changed();
	P.kicked = true;
	pthread_cond_signal(&P.wake);
	pthread_mutex_unlock(&P.lock);
}

void disk_fault_kick(void)
{
	pthread_mutex_lock(&P.lock);
	P.kicked = true;
	pthread_cond_signal(&P.wake);
	pthread_mutex_unlock(&P.lock);
}

bool disk_fault_get(unsigned which, struct disk_fault *ret, char *dir, size_t n)
{
	bool watched;

	if (which >= DISK_FAULT_DIRS)
		return false;
	pthread_mutex_lock(&P.lock);
	watched = P.dirs[which] != NULL;
	if (ret)
		*ret = P.st[which];
	if (dir && n)
		snprintf(dir, n, "%s", P.dirs[which] ? P.dirs[which] : "");
	pthread_mutex_unlock(&P.lock);
	return watched;
}

bool disk_fault_any(void)
{
	return atomic_load_explicit(&any_fault, memory_order_relaxed);
}

uint64_t disk_fault_generation(void)
{
	return atomic_load_explicit(&generation, memory_order_relaxed);
}

const char *disk_fault_reason_phrase(void)
{
	static const char *const phrases[DISK_FAULT_DIRS][3] = {
		{"Recording Storage I/O Error", "Recording Storage Read-Only",
		 "Recording Storage Failing"},
		{"Catalog Storage I/O Error", "Catalog Storage Read-Only",
		 "Catalog Storage Failing"},
	};
	const char *p = NULL;

	if (!disk_fault_any())
		return NULL;
	pthread_mutex_lock(&P.lock);
	for (unsigned i = 0; i < DISK_FAULT_DIRS && !p; i++) {
		int e = P.st[i].error;

		if (e)
			p = phrases[i][e == -EIO ? 0 : e == -EROFS ? 1 : 2];
	}
	pthread_mutex_unlock(&P.lock);
	return p;
}
