// SPDX-License-Identifier: MIT
/*
 * A SQLite VFS over the default one that gathers the catalog's WAL writes of one commit into one
 * write(2). SQLite writes each WAL frame as two writes (its 24-byte header, then the page): ~50
 * system calls a commit at 1,000 setups/s, each a pass through ext4's buffered write path. Here
 * the frames are copied into a buffer as they come and written together when the commit frame
 * (the frame whose header carries the database size) is complete, inside that frame's own
 * xWrite: before SQLite publishes the new frames in the wal-index, and with its error returned
 * to SQLite as a failed write would be. A write that does not continue the buffer, a read of what
 * it holds, and a sync, truncation, size or file control of the WAL write it first, so SQLite
 * never sees the file differ from what it wrote; what a transaction rolled back leaves in it is
 * dropped when the write lock is released. The database file and the shared memory go straight
 * to the default VFS.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "catalog/catalog-internal.h"
#include "siprecd/log.h"
#include "siprecd/macro.h"

#define WALBUF_VFS "siprecd-walbuf"
/* A commit of up to 30 frames (4 KiB pages) in one write; a larger one in pieces this size.
 * Below 128 KiB: the unix VFS's write takes 17 bits of the length (seekAndWrite: nBuf &= 0x1ffff).
 */
#define WALBUF_CAP (124u << 10)
#define WAL_FRAME_HDR 24

struct walbuf_file {
	sqlite3_file base; /* pMethods: &walbuf_io */
	sqlite3_file *real;
	bool is_wal;
	bool commit_page_next; /* the last write was a commit frame's header */
	uint8_t *buf;
	size_t len;
	sqlite3_int64 at; /* the file offset of buf[0] */
};

static sqlite3_vfs walbuf_vfs;
static sqlite3_vfs *real_vfs;
static atomic_ullong n_asked, n_issued, n_late, n_dropped;

/* The WAL file of this thread's connection holding buffered frames, if any: the database file's
 * shared-memory calls (the barrier that publishes a commit, the write lock's release) see to it. */
static __thread struct walbuf_file *pending;

/* SQLite's WAL-index lock slots (the WAL format's locking protocol): 0 is the write lock. */
#define WAL_WRITE_LOCK 0

static int flush(struct walbuf_file *w)
{
	int rc;

	if (!w->len)
		return SQLITE_OK;
	rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->len, w->at);
	atomic_fetch_add_explicit(&n_issued, 1, memory_order_relaxed);
	w->len = 0;
	if (pending == w)
		pending = NULL;
	return rc;
}

/* At a shared-memory barrier: SQLite is about to publish frames (a commit) or read the
 * wal-index. A commit's frames were written with its commit frame, so anything still here is a
 * commit frame not recognised (a defect): written now, counted. */
static void flush_pending(void)
{
	struct walbuf_file *w = pending;

	if (!w || !w->len)
		return;
	atomic_fetch_add_explicit(&n_late, 1, memory_order_relaxed);
	if (flush(w) != SQLITE_OK) {
		/* The wal-index is about to show frames that are not in the file: a reader, the
		 * checkpointer first, would copy stale pages into the database. A crash instead
		 * leaves the WAL as written, which SQLite recovers from. */
		log_error("catalog: WAL write failed before its frames were published");
		abort();
	}
}

/* When the write lock is released: a commit left nothing, so what is here belongs to a
 * transaction rolled back (frames SQLite spilled from its cache before the commit). SQLite will
 * not read them and writes the next transaction's frames over them: dropped, not written. */
static void drop_pending(void)
{
	struct walbuf_file *w = pending;

	if (!w || !w->len)
		return;
	atomic_fetch_add_explicit(&n_dropped, 1, memory_order_relaxed);
	w->len = 0;
	w->commit_page_next = false;
	pending = NULL;
}

static int wb_close(sqlite3_file *f)
{
	struct walbuf_file *w = (struct walbuf_file *)f;
	int rc = flush(w), rc2 = w->real->pMethods->xClose(w->real);

	free(w->buf);
	w->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	struct walbuf_file *w = (struct walbuf_file *)f;
	int rc = SQLITE_OK;

	/* Only a read of what is held needs it written (SQLite reads back its own frames to
	 * checksum them again; a rollback reads older ones, committed). */
	if (w->len && off < w->at + (sqlite3_int64)w->len && off + n > w->at)
		rc = flush(w);
	return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, p, n, off);
}

static int wb_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	struct walbuf_file *w = (struct walbuf_file *)f;
	bool commit_page;
	int rc;

	if (!w->is_wal || !w->buf || n <= 0)
		return w->real->pMethods->xWrite(w->real, p, n, off);
	atomic_fetch_add_explicit(&n_asked, 1, memory_order_relaxed);
	if (w->len && (off != w->at + (sqlite3_int64)w->len || w->len + (size_t)n > WALBUF_CAP)) {
		rc = flush(w);
		if (rc != SQLITE_OK)
			return rc;
	}
	if ((size_t)n > WALBUF_CAP) {
		atomic_fetch_add_explicit(&n_issued, 1, memory_order_relaxed);
		return w->real->pMethods->xWrite(w->real, p, n, off);
	}
	if (!w->len)
		w->at = off;
	memcpy(w->buf + w->len, p, (size_t)n);
	w->len += (size_t)n;
	pending = w;
	/* A frame header: page number, then the database size in pages, which only the commit
	 * frame has (big-endian, bytes 4-7). The WAL's own header is 32 bytes. */
	commit_page = w->commit_page_next;
	w->commit_page_next = n == WAL_FRAME_HDR && memcmp((const uint8_t *)p + 4, "\0\0\0\0", 4);
	return commit_page ? flush(w) : SQLITE_OK;
}

static int wb_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct walbuf_file *w = (struct walbuf_file *)f;
	int rc = flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int wb_sync(sqlite3_file *f, int flags)
{
	struct walbuf_file *w = (struct walbuf_file *)f;
	int rc = flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int wb_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct walbuf_file *w = (struct walbuf_file *)f;
	int rc = flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int wb_lock(sqlite3_file *f, int level)
{
	struct walbuf_file *w = (struct walbuf_file *)f;

	return w->real->pMethods->xLock(w->real, level);
}

static int wb_unlock(sqlite3_file *f, int level)
{
	struct walbuf_file *w = (struct walbuf_file *)f;

	return w->real->pMethods->xUnlock(w->real, level);
}

static int wb_check_reserved(sqlite3_file *f, int *out)
{
	struct walbuf_file *w = (struct walbuf_file *)f;

	return w->real->pMethods->xCheckReservedLock(w->real, out);
}

static int wb_file_control(sqlite3_file *f, int op, void *arg)
{
	struct walbuf_file *w = (struct walbuf_file *)f;
	int rc = flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xFileControl(w->real, op, arg);
}

static int wb_sector_size(sqlite3_file *f)
{
	struct walbuf_file *w = (struct walbuf_file *)f;

	return w->real->pMethods->xSectorSize(w->real);
}

static int wb_device_characteristics(sqlite3_file *f)
{
	struct walbuf_file *w = (struct walbuf_file *)f;

	return w->real->pMethods->xDeviceCharacteristics(w->real);
}

static int wb_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
	struct walbuf_file *w = (struct walbuf_file *)f;

	return w->real->pMethods->xShmMap(w->real, region, size, extend, pp);
}

static int wb_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	struct walbuf_file *w = (struct walbuf_file *)f;

	if (offset == WAL_WRITE_LOCK && (flags & SQLITE_SHM_UNLOCK))
		drop_pending();
	return w->real->pMethods->xShmLock(w->real, offset, n, flags);
}

static void wb_shm_barrier(sqlite3_file *f)
{
	struct walbuf_file *w = (struct walbuf_file *)f;

	flush_pending();
	w->real->pMethods->xShmBarrier(w->real);
}

static int wb_shm_unmap(sqlite3_file *f, int delete)
{
	struct walbuf_file *w = (struct walbuf_file *)f;

	return w->real->pMethods->xShmUnmap(w->real, delete);
}

static int wb_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	struct walbuf_file *w = (struct walbuf_file *)f;
	int rc = flush(w);

	if (rc != SQLITE_OK)
		return rc;
	if (w->real->pMethods->iVersion < 2) {
		*pp = NULL; /* no memory map: SQLite reads instead */
		return SQLITE_OK;
	}
	return w->real->pMethods->xFetch(w->real, off, n, pp);
}

static int wb_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	struct walbuf_file *w = (struct walbuf_file *)f;

	if (w->real->pMethods->iVersion < 3)
		return SQLITE_OK;
	return w->real->pMethods->xUnfetch(w->real, off, p);
}

static const sqlite3_io_methods walbuf_io = {
	.iVersion = 3,
	.xClose = wb_close,
	.xRead = wb_read,
	.xWrite = wb_write,
	.xTruncate = wb_truncate,
	.xSync = wb_sync,
	.xFileSize = wb_file_size,
	.xLock = wb_lock,
	.xUnlock = wb_unlock,
	.xCheckReservedLock = wb_check_reserved,
	.xFileControl = wb_file_control,
	.xSectorSize = wb_sector_size,
	.xDeviceCharacteristics = wb_device_characteristics,
	.xShmMap = wb_shm_map,
	.xShmLock = wb_shm_lock,
	.xShmBarrier = wb_shm_barrier,
	.xShmUnmap = wb_shm_unmap,
	.xFetch = wb_fetch,
	.xUnfetch = wb_unfetch,
};

static int wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
		   int *out_flags)
{
	struct walbuf_file *w = (struct walbuf_file *)f;
	int rc;

	memset(w, 0, sizeof(*w));
	w->real = (sqlite3_file *)((uint8_t *)w + ALIGN_UP(sizeof(*w), 8));
	rc = real_vfs->xOpen(real_vfs, name, w->real, flags, out_flags);
	/* version 2: shared memory, which WAL needs; 3 adds the memory map (xFetch) */
	if (rc != SQLITE_OK || !w->real->pMethods || w->real->pMethods->iVersion < 2) {
		if (rc == SQLITE_OK) {
			w->real->pMethods->xClose(w->real);
			rc = SQLITE_CANTOPEN;
		}
		w->base.pMethods = NULL;
		return rc;
	}
	w->is_wal = flags & SQLITE_OPEN_WAL;
	/* Without the buffer the WAL is written as SQLite asks, write by write. */
	if (w->is_wal)
		w->buf = malloc(WALBUF_CAP);
	w->base.pMethods = &walbuf_io;
	return SQLITE_OK;
}

/*
 * Over the default VFS of the moment: the tests put a counting VFS in as the default between
 * catalogs. Each file keeps the VFS file it was opened on (w->real), so a connection open over
 * the previous one goes on as it was.
 */
const char *catalog_walbuf_vfs(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	sqlite3_vfs *d;
	const char *name = WALBUF_VFS;

	pthread_mutex_lock(&lock);
	d = sqlite3_vfs_find(NULL);
	if (d && d != real_vfs && d != &walbuf_vfs) {
		if (real_vfs)
			sqlite3_vfs_unregister(&walbuf_vfs);
		real_vfs = d;
		walbuf_vfs = *d;
		walbuf_vfs.pNext = NULL;
		walbuf_vfs.zName = WALBUF_VFS;
		walbuf_vfs.szOsFile = (int)ALIGN_UP(sizeof(struct walbuf_file), 8) + d->szOsFile;
		walbuf_vfs.xOpen = wb_open;
		if (sqlite3_vfs_register(&walbuf_vfs, 0) != SQLITE_OK)
			real_vfs = NULL;
	}
	if (!real_vfs)
		name = NULL;
	pthread_mutex_unlock(&lock);
	return name;
}

void catalog_walbuf_counts(struct catalog_walbuf_counts *ret)
{
	ret->asked = atomic_load_explicit(&n_asked, memory_order_relaxed);
	ret->issued = atomic_load_explicit(&n_issued, memory_order_relaxed);
	ret->late = atomic_load_explicit(&n_late, memory_order_relaxed);
	ret->dropped = atomic_load_explicit(&n_dropped, memory_order_relaxed);
}
