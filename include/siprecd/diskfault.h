// SPDX-License-Identifier: MIT
/*
 * Faults of the volumes siprecd writes to (the recording directory, the catalog's directory):
 * an I/O error, a filesystem shut down (xfs) or remounted read-only. Known from the writes' own
 * errors (at once) and from a probe thread's test writes (which also sees the fault clear).
 * A full disk is not a fault here: MIN_FREE_DISK_PERCENT and ENOSPC have their own handling.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The state of one directory: a pure state machine (no clock, no threads), for tests. */
struct disk_fault {
	int error;	   /* -errno of the fault in force; 0 when none */
	char what[4200];   /* the file (or probe) whose write failed first */
	uint64_t since_ms; /* when the fault was seen (monotonic ms) */
	uint64_t last_ms;  /* the last failure seen while it lasts */
	uint64_t failures; /* failures seen since it was set */
	uint64_t gen;	   /* bumped at each set and each clear */
	/* A recording's write failed (with any error, a full disk too) and no probe begun after it
	 * has written and fdatasync'ed its block yet: the recordings check stays degraded. */
	bool write_errors;
	uint64_t write_error_ms; /* the last such failure (monotonic ms) */
};

/* Whether error (-errno) is a fault of the volume: not 0, not a full disk or quota (-ENOSPC,
 * -EDQUOT), not the process's limits (-ENOMEM, -EMFILE, -ENFILE). */
bool disk_fault_is_fault(int error);
/* A write of what failed with error at now_ms. Returns true when the fault was set by it (it was
 * clear); a second failure only counts. Errors that are not faults are ignored (false). */
bool disk_fault_note(struct disk_fault *f, const char *what, int error, uint64_t now_ms);
/* A probe begun at started_ms ended with result: a fault error notes it; success (or a full
 * disk) clears a fault seen before started_ms (a probe older than the fault proves nothing).
 * Returns true when the state changed. */
bool disk_fault_probe_done(struct disk_fault *f, const char *what, int result, uint64_t started_ms,
			   uint64_t now_ms);

/* ---- the process's instance: directories watched by a probe thread ---- */

enum { DISK_FAULT_RECORDINGS, DISK_FAULT_CATALOG, DISK_FAULT_DIRS };

/*
 * Starts the probe thread for dirs[DISK_FAULT_RECORDINGS] and dirs[DISK_FAULT_CATALOG] (copied;
 * NULL skips one). Every interval_ms (every retry_ms while a fault lasts, and at once after
 * disk_fault_report) it writes one block (O_DIRECT where it can: the device answers, not the
 * page cache) over ".siprecd-probe" in each, a file it makes once and keeps. Returns 0 or -errno.
 */
int disk_fault_start(const char *const dirs[DISK_FAULT_DIRS], unsigned interval_ms,
		     unsigned retry_ms);
/* Stops and joins the thread; the state is kept (readable). */
void disk_fault_stop(void);
/* A write of path (under directory which) failed with error (-errno), from any thread: notes
 * it (when a fault) and wakes the probe. Returns true when this set the fault. */
bool disk_fault_report(unsigned which, const char *path, int error);
/* Wakes the probe now (a write failed whose error does not tell: SQLite's). */
void disk_fault_kick(void);
/* A copy of directory which's state and its path; false when it is not watched. */
bool disk_fault_get(unsigned which, struct disk_fault *ret, char *dir, size_t n);
/* True while any directory has a fault (one relaxed load: for periodic checks). */
bool disk_fault_any(void);
/* Bumped at every set and clear of any directory's fault (relaxed load). */
uint64_t disk_fault_generation(void);
/* A short SIP reason phrase for the worst fault ("Recording Storage I/O Error", "Catalog
 * Storage Read-Only", ...), or NULL when there is none. */
const char *disk_fault_reason_phrase(void);
/* "EIO" for -EIO (the errno's name), or "E?" */
const char *disk_fault_errno_name(int error);
/* A write failed at now_ms (any error): write_errors is set until a probe begun after now_ms
 * writes and syncs (disk_fault_synced). */
void disk_fault_write_error(struct disk_fault *f, uint64_t now_ms);
/* A probe begun at started_ms wrote its block and fdatasync'ed it: clears write_errors when the
 * last failure is older than the probe. Returns true when that changed it. */
bool disk_fault_synced(struct disk_fault *f, uint64_t started_ms);
/* For the process's instance: a recording under directory which ended with a write error (any
 * error, counted by the caller). Sets its write_errors and wakes the probe, which then also
 * fdatasyncs its block until one such probe succeeds. From any thread. */
void disk_fault_write_failed(unsigned which);
