/* SPDX-License-Identifier: MIT */
/*
 * Private to src/catalog: the embedded schema migrations (generated from sql/NNN-*.sql into
 * BUILD/catalog-migrations.h by a Makefile rule) and the function that applies them.
 */
#pragma once

#include <stddef.h>
#include <sqlite3.h>

#include "siprecd/macro.h"

struct catalog_migration {
	const char *name; /* "001-initial.sql" */
	const char *sql;
};

/* The embedded migrations, in order; migration i (0-based) brings user_version to i + 1. */
const struct catalog_migration *catalog_migrations(size_t *ret_n);

/*
 * Brings db to the newest schema: each pending migration runs in its own BEGIN IMMEDIATE
 * transaction together with its PRAGMA user_version bump. Returns 0, -EPROTONOSUPPORT if the
 * database is newer than the code, -EIO on a failed migration (errbuf gets the reason).
 */
int catalog_migrate(sqlite3 *db, char *errbuf, size_t errlen);

/* Formats an error message into errbuf (may be NULL or errlen 0: then nothing is written). */
void catalog_set_err(char *errbuf, size_t errlen, const char *fmt, ...) _printf_(3, 4);

/* fdatasync(2), the syncer's call on the WAL; a test replaces it to hold or fail the sync. */
extern int (*catalog_wal_fdatasync)(int fd);

/* The checkpointer's write-back of the database file's dirty pages after each pass (a
 * sync_file_range(2) that waits for the writes, no flush); a test replaces it to count them. */
extern int (*catalog_db_writeback)(int fd);

/* Puts the page cache of pcache.c (SQLite's default one, without the whole-cache scan at commits
 * after a page split) in for every connection of the process. Only before SQLite initializes;
 * returns 0, or -EBUSY (then SQLite's default cache serves, as before). */
int catalog_pcache_install(void);
/* Its methods once installed (NULL before), and how many truncations it passed on and skipped:
 * for the tests. */
const sqlite3_pcache_methods2 *catalog_pcache_methods(void);
void catalog_pcache_counts(unsigned long long *ret_skipped, unsigned long long *ret_passed);

/* The name of the VFS that writes each commit's WAL frames in one write(2) (walbuf.c), registered
 * at the first call; NULL if it could not be (then the default VFS serves, as before). */
const char *catalog_walbuf_vfs(void);

/* WAL writes SQLite asked for through that VFS, writes it issued, buffers written only at a
 * shared-memory barrier (a commit frame not recognised) and buffers dropped at the write lock's
 * release (a transaction rolled back): process-wide, for the tests. */
struct catalog_walbuf_counts {
	unsigned long long asked, issued, late, dropped;
};
void catalog_walbuf_counts(struct catalog_walbuf_counts *ret);
