// SPDX-License-Identifier: MIT
/*
 * The recording writer: frames are collected into a chunk's plaintext, sealed, and written with
 * O_DIRECT through io_uring as one linked chain of 4 KiB aligned writes per submit, with a linked
 * fdatasync when the caller asks for durability, or, for a member of a sync group, one
 * fdatasync per group (the end of this file). One chain per file is in flight at a time, so
 * an fdatasync always covers every write before it; the next chain starts from the last CQE.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "siprecd/lathist.h"
#include "siprecd/loop.h"
#include "siprecd/macro.h"
#include "siprecd/storage.h"

/* Writes in one linked chain, and sealed blocks that may wait for the disk before frames are
 * refused (a stalled disk must not eat the memory of the whole server). */
#define CHAIN_MAX 32u
#define PENDING_MAX 256u

/*
 * Written ahead: an O_DIRECT write that appends to a file, or fills a hole or an unwritten
 * (fallocated) extent, allocates blocks and changes the inode; ext4 then refuses to issue it
 * without blocking and io_uring punts it to an io-wq thread. A write over blocks already written
 * inside the file size changes no metadata and is issued inline. So the writer keeps a stretch of
 * written zeros ahead of the data (first PREALLOC_FIRST bytes, doubling up to PREALLOC_MAX), one
 * appending write per stretch instead of one per chunk, and cuts the file to its data at finish.
 */
#define PREALLOC_FIRST (64u * 1024)
#define PREALLOC_MAX (1024u * 1024)

struct slot_pool;

struct wop {
	struct loop_op op;
	struct store_writer *w;
	struct wop *next;
	uint8_t *buf; /* NULL for the fdatasync, and once the write completed */
	size_t len;
	size_t cap; /* buf's allocated size (>= len: a recycled block may be larger) */
	uint64_t off;
	uint64_t first_mono_ns; /* first frame's arrival in this chunk; 0 for the header */
	uint64_t gen;		/* written before the group's sync number gen was prepared */
	bool final;
	bool zero; /* a stretch written ahead: buf is the shared zero block */
	bool is_sync;
	struct slot_pool *slot; /* the group's slot it holds (slot_take), or NULL */
	bool is_dirsync;
	bool done_ok;
};

/*
 * A recordings directory a sync group keeps open for its members (store_params.group): opened,
 * and its filesystem checked, once per directory instead of once per file, and fsync'd once for
 * every file created in it since the last fsync began (see "durability batched" at the end).
 * Files are created with openat() on fd, so the directory synced is the one holding the file.
 */
#define GROUP_DIRS 4

struct store_dir {
	struct loop_op op;
	struct store_sync_group *g;
	char *path; /* NULL: free slot, or stale (refs still held) */
	int fd;
	dev_t dev;
	bool fs_ok;    /* ext4 or xfs: members may join the group's sync */
	uint8_t final; /* enum store_final_sync: how its files' FINAL syncs are shared */
	bool in_flight;
	unsigned refs;		      /* writers whose entry here is not durable yet */
	uint64_t created;	      /* files created in it: the next file's dir_seq */
	uint64_t covered;	      /* entries with dir_seq < covered are durable */
	uint64_t flight_upto;	      /* the fsync in flight covers dir_seq < flight_upto */
	struct store_writer *waiters; /* first sync done or in flight, entry not yet durable */
	store_get_sqes_fn get_sqes;   /* a waiter's, for the next fsync */
	void *get_sqes_userdata;
};

struct store_writer {
	/* What a packet touches (store_writer_add, store_writer_pending): the first line (the
	 * object is 64-byte aligned, and the media worker's prefetch hook loads its first line);
	 * stats starts with its frame counter, in this line too. */
	int error;
	bool finished;
	unsigned npending;
	size_t cap;
	uint8_t *plain;
	size_t plain_len;
	uint64_t plain_first_mono;
	struct store_writer_stats stats;

	int fd;
	int dir_fd; /* the directory, until its entry for the file is durable; -1 after */
	/* Or the group's directory (dir_fd is then -1): the entry is durable once gdir->covered
	 * passes dir_seq; while dir_waiting the wait counts as one request in flight. */
	struct store_dir *gdir;
	uint64_t dir_seq;
	bool dir_waiting;
	struct store_writer *dw_next;
	bool direct;
	bool final_durable;
	bool have_sha;
	bool sync_wanted;
	bool chain_synced; /* the chain in flight carried an fdatasync that succeeded */
	bool group_waiting;
	bool shared_final;  /* the FINAL chunk takes the group's shared FINAL sync */
	bool final_commit;  /* ... which must commit the journal first (STORE_FINAL_COMMIT) */
	bool fin_chain;	    /* the chain in flight is a shared FINAL's (no fdatasync) */
	bool final_waiting; /* cut and written: waits for a shared FINAL sync (one in flight) */
	uint64_t cut_seq;   /* the group's cut number of its FINAL cut (final_try) */
	struct store_writer *fin_next;
	bool slot_waiting; /* in its group's slot queue (counted as one request in flight) */
	struct store_writer *slot_next;
	char *path;

	struct store_cipher *cipher;
	uint8_t nonce_prefix[4];
	uint32_t chunk_size;
	/* The open chunk is sealed in place: its plaintext is collected at plain = block +
	 * STORE_CHUNK_HDR_SIZE (above) in a block of chunk_size bytes (store_chunk_disk_size(cap)),
	 * which the seal turns into the chunk as written (header, ciphertext over the plaintext,
	 * tag, zeros) and hands to the write; the spare becomes the next block. No second buffer
	 * per chunk to fill from cold memory, and no plaintext left behind to wipe. */
	uint8_t *block;
	size_t block_cap;
	uint64_t next_index;
	uint64_t file_off;
	uint64_t init_end;    /* bytes of the file already written (data or zeros ahead) */
	uint32_t ahead;	      /* size of the next stretch written ahead */
	uint64_t written_end; /* end of the last data write that completed */
	/* The block of the last write that completed, for the next seal (block_get): one
	 * allocation per writer in steady state instead of a posix_memalign/free per chunk, whose
	 * freed megabytes glibc trimmed and the next flush faulted in again. */
	uint8_t *spare;
	size_t spare_cap;

	/* Batched durability (store_sync_group): chunks written but not yet covered by an
	 * fdatasync wait in landed; the group's next sync waits until written_end reaches
	 * group_until (what was sealed when the sync was asked for). */
	struct store_sync_group *group;
	struct store_writer *g_prev, *g_next;
	struct wop *landed, *landed_tail;
	uint64_t group_until;

	struct wop *pending, *pending_tail;
	struct wop *chain; /* the chain in flight, kept until its last CQE */
	unsigned in_flight;

	store_get_sqes_fn get_sqes;
	void *get_sqes_userdata;
	void (*idle_fn)(void *userdata); /* store_writer_set_idle_fn */
	void *idle_ud;

	EVP_MD_CTX *sha;
	uint8_t sha256[32];
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct store_writer, stats.frames) + sizeof(uint64_t) <= 64,
	       "what a packet touches shares the writer's first line");

/* Requests of a group's members that io-wq runs: at most max in flight, and the writers whose
 * chains wait for one, in order. */
struct slot_pool {
	unsigned out, max;
	struct store_writer *head, *tail;
};

struct store_sync_group {
	struct loop_op op;
	struct store_writer *members;
	dev_t dev;
	bool have_dev;
	bool requested, in_flight;
	unsigned waiting; /* members whose writes the requested sync must wait for */
	int fd;		  /* a duplicate of a member's fd, for the sync in flight */
	uint64_t gen, sync_gen;
	store_get_sqes_fn get_sqes;
	void *get_sqes_userdata;
	uint64_t syncs;
	struct store_dir dirs[GROUP_DIRS];
	uint64_t dir_syncs;
	/* Members' requests that io-wq runs: their own fdatasyncs, and the zeros written ahead
	 * in chains without one (slot_take). */
	struct slot_pool sync_slots, ahead_slots;
	/* Shared FINAL syncs: members cut and written, waiting for the next one; those the one in
	 * flight covers; the cuts numbered in order. */
	struct loop_op fin_op;
	struct store_writer *fin_wait, *fin_flight;
	bool fin_in_flight;
	int journaled; /* store_sync_group_set_journaled */
	/* store_final_sync's answer for the device the group's directories are on, found once
	 * (its fast_commit probe syncs on the worker's thread): a new day's directory reuses it */
	bool final_known;
	dev_t final_dev;
	enum store_final_sync final_sync;
	uint64_t cuts, fin_syncs, fin_commits;
	/* STORE_FINAL_COMMIT: a directory on the members' device (its fsync commits the journal),
	 * linked before the shared fdatasync; the error of that fsync (its CQE is posted only on
	 * failure) */
	int commit_fd;
	struct loop_op fin_dir_op;
	int fin_dir_res;
	store_get_sqes_fn fin_get_sqes;
	void *fin_get_sqes_userdata;
};

/* The file's directory entry is not durable yet (its first sync takes the directory's). */
static bool dir_unsynced(const struct store_writer *w)
{
	return w->dir_fd >= 0 || w->gdir;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t store_lat_bucket_upper_us(unsigned i)
{
	return lat_bucket_upper(i);
}

uint64_t store_lat_quantile_us(const struct store_writer_stats *s, double q)
{
	uint64_t want, seen = 0;

	if (!s->lat_count)
		return 0;
	want = (uint64_t)(q * (double)s->lat_count);
	if (want >= s->lat_count)
		want = s->lat_count - 1;
	for (unsigned i = 0; i < STORE_LAT_BUCKETS; i++) {
		seen += s->lat_hist[i];
		if (seen > want)
			return store_lat_bucket_upper_us(i);
	}
	return store_lat_bucket_upper_us(STORE_LAT_BUCKETS - 1);
}

static uint8_t *zero_block; /* PREALLOC_MAX zero bytes, aligned; never written to */
static pthread_once_t zero_once = PTHREAD_ONCE_INIT;

static void zero_block_init(void)
{
	void *p;

	if (posix_memalign(&p, STORE_BLOCK, PREALLOC_MAX) == 0) {
		memset(p, 0, PREALLOC_MAX);
		zero_block = p;
	}
}

/*
 * Blocks recycled per thread, across writers. A media worker opens and closes writers at the
 * call rate, and each took its blocks (the header's, the open chunk's, the next chunk's) from
 * posix_memalign: aligned requests, which glibc serves by splitting chunks out of a heap
 * fragmented by thousands of live streams, and which grew the heap (page faults) while the
 * streams waiting for their FINAL fdatasync piled up (bench/RESULTS.md, setupmedia2). The
 * writer's thread keeps up to CACHE_SMALL blocks of STORE_BLOCK bytes and CACHE_LARGE of the
 * default chunk size for its next writers, and frees them when it exits. A block is handed
 * back with no plaintext in it (the open chunk's is wiped at close; sealed chunks hold
 * ciphertext) and is overwritten before use (header encoding and chunk sealing write every
 * byte they hand to the disk, padding included).
 */
#define CACHE_SMALL 256u
#define CACHE_LARGE 64u

struct buf_cache {
	unsigned nsmall, nlarge;
	void *small[CACHE_SMALL];
	void *large[CACHE_LARGE];
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_key_ok;
static __thread struct buf_cache *cache;

static void cache_destroy(void *p)
{
	struct buf_cache *c = p;

	for (unsigned i = 0; i < c->nsmall; i++)
		free(c->small[i]);
	for (unsigned i = 0; i < c->nlarge; i++)
		free(c->large[i]);
	free(c);
	cache = NULL;
}

static void cache_key_init(void)
{
	cache_key_ok = pthread_key_create(&cache_key, cache_destroy) == 0;
}

/* This thread's cache, or NULL (no memory: blocks then go straight to malloc and free). */
static struct buf_cache *cache_get(void)
{
	if (cache)
		return cache;
	pthread_once(&cache_once, cache_key_init);
	if (!cache_key_ok)
		return NULL;
	cache = calloc(1, sizeof(*cache));
	if (cache && pthread_setspecific(cache_key, cache) != 0) {
		free(cache);
		cache = NULL;
	}
	return cache;
}

/* A STORE_BLOCK aligned buffer of len bytes (a multiple of STORE_BLOCK), or NULL. */
static uint8_t *cache_alloc(size_t len)
{
	struct buf_cache *c =
		len == STORE_BLOCK || len == STORE_CHUNK_SIZE_DEFAULT ? cache_get() : NULL;
	void *p;

	if (c && len == STORE_BLOCK && c->nsmall)
		return c->small[--c->nsmall];
	if (c && len == STORE_CHUNK_SIZE_DEFAULT && c->nlarge)
		return c->large[--c->nlarge];
	if (posix_memalign(&p, STORE_BLOCK, len) != 0)
		return NULL;
	return p;
}

/* Takes a buffer of cap bytes from cache_alloc (NULL ok), holding no plaintext. */
static void cache_free(uint8_t *buf, size_t cap)
{
	struct buf_cache *c =
		buf && (cap == STORE_BLOCK || cap == STORE_CHUNK_SIZE_DEFAULT) ? cache_get() : NULL;

	if (c && cap == STORE_BLOCK && c->nsmall < CACHE_SMALL)
		c->small[c->nsmall++] = buf;
	else if (c && cap == STORE_CHUNK_SIZE_DEFAULT && c->nlarge < CACHE_LARGE)
		c->large[c->nlarge++] = buf;
	else
		free(buf);
}

/* A block of at least len bytes, STORE_BLOCK aligned, of *ret_cap bytes: the spare if it is
 * large enough. Its old contents (ciphertext) are overwritten whole by store_chunk_seal. */
static uint8_t *block_get(struct store_writer *w, size_t len, size_t *ret_cap)
{
	uint8_t *buf;

	if (w->spare && w->spare_cap >= len) {
		*ret_cap = w->spare_cap;
		return TAKE_PTR(w->spare);
	}
	cache_free(TAKE_PTR(w->spare), w->spare_cap);
	buf = cache_alloc(len);
	if (!buf)
		return NULL;
	*ret_cap = len;
	return buf;
}

/* A block no longer used: kept as the spare (the larger of the two), else freed. */
static void block_put(struct store_writer *w, uint8_t *buf, size_t cap)
{
	if (!w->spare || cap > w->spare_cap) {
		cache_free(w->spare, w->spare_cap);
		w->spare = buf;
		w->spare_cap = cap;
	} else {
		cache_free(buf, cap);
	}
}

/* Frames moved back into a block whose write completed (block_done), at most. */
#define BLOCK_SWAP_MAX 1024u

/*
 * A block whose write completed. The frames that came since its seal went to the other block;
 * when they are few (a flush's writes complete within milliseconds: a frame or two per stream),
 * they move into this block, which the seal went through last, and the other becomes the spare.
 * So a stream's frames keep going to the lines its previous chunk used one flush ago, not two:
 * the caches hold one flush interval of every stream's frames instead of two.
 */
static void block_done(struct store_writer *w, uint8_t *buf, size_t cap)
{
	if (w->block && cap == w->block_cap && w->plain_len <= BLOCK_SWAP_MAX) {
		uint8_t *old = w->block;

		if (w->plain_len) {
			memcpy(buf + STORE_CHUNK_HDR_SIZE, w->plain, w->plain_len);
			OPENSSL_cleanse(w->plain, w->plain_len);
		}
		w->block = buf;
		w->plain = buf + STORE_CHUNK_HDR_SIZE;
		buf = old;
	}
	block_put(w, buf, cap);
}

static struct wop *wop_free(struct wop *o)
{
	if (o) {
		if (!o->zero)
			cache_free(o->buf, o->cap);
		free(o);
	}
	return NULL;
}

static void free_list(struct wop *o)
{
	while (o) {
		struct wop *next = o->next;

		wop_free(o);
		o = next;
	}
}

static void group_release(struct store_writer *w);

static void set_error(struct store_writer *w, int err)
{
	if (!w->error)
		w->error = err;
	/* a failed writer must not hold the other members' sync back */
	group_release(w);
}

/* Takes ownership of buf (aligned, len a multiple of STORE_BLOCK) and queues it at file_off. */
static int queue_block(struct store_writer *w, uint8_t *buf, size_t len, uint64_t first_mono,
		       bool final)
{
	struct wop *o = calloc(1, sizeof(*o));

	if (!o) {
		free(buf);
		return -ENOMEM;
	}
	if (EVP_DigestUpdate(w->sha, buf, len) != 1) {
		free(buf);
		free(o);
		return -EIO;
	}
	o->w = w;
	o->buf = buf;
	o->len = len;
	o->cap = len;
	o->off = w->file_off;
	o->first_mono_ns = first_mono;
	o->final = final;
	w->file_off += len;
	if (w->pending_tail)
		w->pending_tail->next = o;
	else
		w->pending = o;
	w->pending_tail = o;
	w->npending++;
	return 0;
}

static int seal(struct store_writer *w, uint32_t flags)
{
	size_t disk = store_chunk_disk_size(w->plain_len), next_cap = 0, cap = w->block_cap;
	uint64_t first_mono = w->plain_first_mono ? w->plain_first_mono : now_ns(CLOCK_MONOTONIC);
	uint8_t *next = NULL, *buf = w->block;
	int r;

	/* Nothing is sealed without the block the next frames go to; after the FINAL chunk none
	 * come, and a block of chunk_size taken there (a short call's second, as large as its
	 * first) would only wait for the close to be given back. */
	if (!(flags & STORE_CHUNK_FINAL)) {
		next = block_get(w, w->chunk_size, &next_cap);
		if (!next)
			return -ENOMEM;
	}
	r = store_chunk_seal(w->cipher, w->nonce_prefix, w->next_index, flags, w->plain,
			     w->plain_len, buf);
	/* The index is used up even if nothing else works: a nonce is never sealed twice. */
	w->next_index++;
	w->block = next;
	w->block_cap = next_cap;
	w->plain = next ? next + STORE_CHUNK_HDR_SIZE : NULL;
	w->plain_len = 0;
	w->plain_first_mono = 0;
	if (r >= 0) {
		r = queue_block(w, TAKE_PTR(buf), disk, first_mono, flags & STORE_CHUNK_FINAL);
		if (r >= 0)
			w->pending_tail->cap = cap;
	}
	if (r < 0) {
		/* The chunk's frames are gone (encrypted in place, partly or whole): the file
		 * cannot go on without a gap, so the writer fails. */
		if (buf) {
			OPENSSL_cleanse(buf, disk);
			block_put(w, buf, cap);
		}
		set_error(w, r);
		return r;
	}
	w->stats.chunks++;
	return 0;
}

static int open_file(int dir_fd, const char *path, bool *ret_direct)
{
	int fd;

	fd = openat(dir_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	/* Set O_DIRECT afterwards: an open() with O_DIRECT on a filesystem without it (tmpfs on
	 * older kernels) creates the file and then fails, and O_EXCL would refuse the retry.
	 * F_SETFL replaces only O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME and O_NONBLOCK, none of
	 * which open() set: no F_GETFL needed. */
	*ret_direct = fcntl(fd, F_SETFL, O_DIRECT) == 0;
	return fd;
}

/* ext4 or xfs: there an fdatasync ends with a flush of the device's cache, so one file's sync
 * makes every O_DIRECT write completed before it durable (see store_sync_group below): only
 * there may files share a group's sync. */
static bool group_fs(const struct statfs *sf)
{
	return sf->f_type == EXT4_SUPER_MAGIC || sf->f_type == XFS_SUPER_MAGIC;
}

/* An ext4 whose block device has a journal: jbd2 lists each journal in PROC/fs/jbd2 as
 * "<device>-<journal inode>". An ext4 without a journal syncs each inode by itself; unknown is
 * taken as no journal. Not xfs, although its log is always on: the crash test
 * (tests/integration/crash-final-sync.sh: the volume shut down without a log flush while
 * recordings were being finalized) found there, twice in about 75 runs on a loaded machine, a
 * recording announced finalized whose cut had not survived (its FINAL chunk had: the file read
 * complete, followed by the zeros written ahead); never on xfs with each file's own FINAL
 * fdatasync. Until that is understood, xfs files keep theirs. */
static bool fs_journaled(const char *proc, const char *name)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool found = false;
	size_t len = strlen(name);
	DIR *jd;

	snprintf(path, sizeof(path), "%s/fs/jbd2", proc);
	jd = opendir(path);
	if (!jd)
		return false;
	while (!found && (de = readdir(jd)))
		found = strncmp(de->d_name, name, len) == 0 && de->d_name[len] == '-';
	closedir(jd);
	return found;
}

int store_fc_info_used(const char *text)
{
	unsigned long long n;
	unsigned seen = 0;
	const char *line;
	bool used = false;
	char *end;

	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (*line < '0' || *line > '9')
			continue;
		errno = 0;
		n = strtoull(line, &end, 10);
		if (errno)
			continue;
		if (strncmp(end, " commits\n", 9) == 0 || strncmp(end, " ineligible\n", 12) == 0) {
			seen++;
			used = used || n > 0;
		}
	}
	return seen == 2 ? used : -1;
}

/* PROC/fs/ext4/NAME/fc_info read by store_fc_info_used: -1 when it cannot be read. */
static int fc_used(const char *proc, const char *name)
{
	char path[PATH_MAX], buf[2048];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/fs/ext4/%s/fc_info", proc, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return store_fc_info_used(buf);
}

/* A size change synced in a file with no name in dir_fd (O_TMPFILE: no directory entry made or
 * removed): on an ext4 with fast_commit its fdatasync goes through a fast commit, which
 * fc_info counts (as a commit, or as ineligible when it fell back to a full commit); on an ext4
 * without, it is a jbd2 commit, which fc_info does not count. */
static bool fc_probe(int dir_fd)
{
	bool ok;
	int fd;

	fd = openat(dir_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	ok = ftruncate(fd, STORE_BLOCK) == 0 && fdatasync(fd) == 0;
	close(fd);
	return ok;
}

/*
 * How the FINAL syncs of files in dir_fd may be shared ("FINAL syncs shared" below). On an ext4
 * with a journal and without fast commits, one fdatasync of the file cut last commits the
 * journal up to every cut (STORE_FINAL_SHARED). With fast_commit (mkfs.ext4 -O fast_commit) an
 * fdatasync ends with a fast commit of the inodes queued for it, not a commit of the journal:
 * an inode changed while another fast commit runs waits in a queue of its own for the next one,
 * and an fdatasync that waited for a fast commit in progress returns once it is done, whether
 * or not it held the file (ext4_fc_commit, s_fc_subtid). tests/integration/crash-final-sync.sh
 * found there, on a loaded machine, recordings announced finalized whose cut had not survived:
 * 1 run in 25 with the file cut last's fdatasync shared, 2 in 12 with each file's own; none
 * in 68 with the directory's fsync below (bench/RESULTS.md, finalsync). There
 * an fsync of a directory commits the journal (ext4_fsync_journal: ext4_force_commit for a file
 * that is not regular), which covers every cut made before it; it flushes the device only if
 * it commits something, so the fdatasync of the file cut last follows it, linked: its
 * transaction committed, that fdatasync ends with the device's flush (STORE_FINAL_COMMIT).
 * Neither the mount options nor /proc/fs/jbd2 tell a fast_commit volume from another, and the
 * superblock is not readable without root; fc_info counts fast commits on the volume since it
 * was mounted (and none without fast_commit): when it counts none yet, a synced size change of
 * a nameless file (fc_probe, once per directory the group opens: a journal commit) settles it,
 * twice if the first is not counted (a fast commit that finds its change committed already by
 * the journal's own commit counts nothing). Unknown (fc_info unreadable, the probe failed) is
 * taken as fast_commit. Not ext4, or no journal: STORE_FINAL_OWN. A file without a cut keeps
 * its own FINAL fdatasync (prepare_ahead), there a fast commit with the same fault: not covered.
 */
enum store_final_sync store_final_sync(int dir_fd, const char *proc)
{
	char link[64], target[PATH_MAX];
	const char *name;
	struct statfs sf;
	struct stat st;
	ssize_t n;
	int used;

	if (fstatfs(dir_fd, &sf) < 0 || fstat(dir_fd, &st) < 0 || sf.f_type != EXT4_SUPER_MAGIC)
		return STORE_FINAL_OWN;
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return STORE_FINAL_OWN;
	target[n] = '\0';
	name = strrchr(target, '/');
	name = name ? name + 1 : target;
	if (!fs_journaled(proc, name))
		return STORE_FINAL_OWN;
	used = fc_used(proc, name);
	for (int i = 0; i < 2 && used == 0; i++) {
		if (!fc_probe(dir_fd))
			return STORE_FINAL_COMMIT;
		used = fc_used(proc, name);
	}
	return used == 0 ? STORE_FINAL_SHARED : STORE_FINAL_COMMIT;
}

/* The group's open directory for dir (opened and checked on first use), or NULL: no free slot,
 * or it cannot be opened (the caller then does as a writer without a group does). */
static struct store_dir *group_dir(struct store_sync_group *g, const char *dir)
{
	struct store_dir *d, *slot = NULL;
	struct statfs sf;
	struct stat st;
	int fd;

	for (unsigned i = 0; i < GROUP_DIRS; i++) {
		d = &g->dirs[i];
		if (d->path && strcmp(d->path, dir) == 0)
			return d;
		/* a directory no file is waiting on (the day before's): its slot may be reused */
		if (!slot && !d->refs && !d->in_flight)
			slot = d;
	}
	if (!slot)
		return NULL;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0) {
		close(fd);
		return NULL;
	}
	d = slot;
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	d->path = strdup(dir);
	if (!d->path) {
		close(fd);
		d->fd = -1;
		return NULL;
	}
	d->g = g;
	d->fd = fd;
	d->dev = st.st_dev;
	d->fs_ok = group_fs(&sf);
	if (!d->fs_ok)
		d->final = STORE_FINAL_OWN;
	else if (g->journaled >= 0)
		d->final = g->journaled == 0   ? STORE_FINAL_OWN
			   : g->journaled == 1 ? STORE_FINAL_SHARED
					       : STORE_FINAL_COMMIT;
	else {
		if (!g->final_known || g->final_dev != st.st_dev) {
			g->final_sync = store_final_sync(fd, "/proc");
			g->final_dev = st.st_dev;
			g->final_known = true;
		}
		d->final = g->final_sync;
	}
	d->created = d->covered = d->flight_upto = 0;
	return d;
}

static void group_link(struct store_writer *w, struct store_sync_group *g)
{
	w->group = g;
	w->g_prev = NULL;
	w->g_next = g->members;
	if (g->members)
		g->members->g_prev = w;
	g->members = w;
}

/*
 * Creates the file. With a group whose directory is on ext4/xfs and the file O_DIRECT, the
 * writer joins the group here: the directory fd, device and filesystem type are the group's
 * (no open, fstat or fstatfs per file) and the directory's fsync is shared. Otherwise the writer
 * keeps its own directory fd, synced after its first fdatasync.
 */
static int create_file(struct store_writer *w, const struct store_params *p)
{
	char *dir = strdup(p->path), *slash = dir ? strrchr(dir, '/') : NULL;
	struct store_dir *d = NULL;
	int r;

	if (!dir)
		return -ENOMEM;
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	if (p->group && slash && slash[1] != '\0')
		d = group_dir(p->group, dir);
	if (d) {
		r = open_file(d->fd, strrchr(p->path, '/') + 1, &w->direct);
		if (r == -ENOENT) {
			/* the directory was removed under us: forget it, and go by the path */
			free(d->path);
			d->path = NULL;
			d = NULL;
		} else if (r < 0) {
			free(dir);
			return r;
		}
	}
	if (!d) {
		r = open_file(AT_FDCWD, p->path, &w->direct);
		if (r < 0) {
			free(dir);
			return r;
		}
	}
	w->fd = r;
	if (d && w->direct && d->fs_ok && (!p->group->have_dev || p->group->dev == d->dev)) {
		p->group->dev = d->dev;
		p->group->have_dev = true;
		group_link(w, p->group);
		if (d->final == STORE_FINAL_COMMIT && p->group->commit_fd < 0)
			p->group->commit_fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 0);
		w->final_commit = d->final == STORE_FINAL_COMMIT;
		w->shared_final = d->final == STORE_FINAL_SHARED ||
				  (w->final_commit && p->group->commit_fd >= 0);
		w->gdir = d;
		w->dir_seq = d->created++;
		d->refs++;
	} else if (d) {
		w->dir_fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 0);
	} else {
		/* Without the directory (permissions), the file is still written. */
		w->dir_fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	free(dir);
	return 0;
}

int store_writer_open(const struct store_params *p, struct store_writer **ret)
{
	struct store_header h = {0};
	struct store_writer *w;
	uint8_t *hdr = NULL;
	int r;

	if (!p || !p->path || !p->recording_id || !*p->recording_id)
		return -EINVAL;
	if (p->alg != STORE_ALG_NONE && !p->key)
		return -EINVAL;
	h.alg = p->alg;
	h.chunk_size = p->chunk_size ? p->chunk_size : STORE_CHUNK_SIZE_DEFAULT;
	h.key_version = p->key_version;
	h.clock_rate = p->clock_rate;
	h.payload_type = p->payload_type;
	h.created_ns = p->created_ns ? p->created_ns : now_ns(CLOCK_REALTIME);
	if (RAND_bytes(h.nonce_prefix, sizeof(h.nonce_prefix)) != 1)
		return -EIO;
#define COPY(dst, src)                                                                             \
	do {                                                                                       \
		const char *_s = (src) ? (src) : "";                                               \
		if (strlen(_s) >= sizeof(dst))                                                     \
			return -EINVAL;                                                            \
		strcpy(dst, _s);                                                                   \
	} while (0)
	COPY(h.key_id, p->key_id);
	COPY(h.recording_id, p->recording_id);
	COPY(h.session_id, p->session_id);
	COPY(h.stream_label, p->stream_label);
	COPY(h.codec, p->codec);
	COPY(h.formats, p->formats);
#undef COPY

	w = aligned_alloc(_Alignof(struct store_writer), sizeof(*w));
	if (!w)
		return -ENOMEM;
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->dir_fd = -1;
	hdr = cache_alloc(STORE_HEADER_SIZE);
	if (!hdr) {
		free(w);
		return -ENOMEM;
	}
	r = store_header_encode(&h, hdr);
	if (r < 0)
		goto fail;
	w->chunk_size = h.chunk_size;
	w->cap = store_chunk_capacity(h.chunk_size);
	memcpy(w->nonce_prefix, h.nonce_prefix, 4);
	r = -ENOMEM;
	w->block = block_get(w, w->chunk_size, &w->block_cap);
	w->plain = w->block ? w->block + STORE_CHUNK_HDR_SIZE : NULL;
	w->sha = EVP_MD_CTX_new();
	w->path = strdup(p->path);
	if (!w->block || !w->sha || !w->path)
		goto fail;
	r = -EIO;
	if (EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1)
		goto fail;
	r = store_cipher_new(p->alg, p->key, hdr, &w->cipher);
	if (r < 0)
		goto fail;
	/* The new directory entry is made durable by an fsync of the directory before the file's
	 * first sync is complete: without it a crash can lose a file whose chunks were durable. */
	r = create_file(w, p);
	if (r < 0)
		goto fail;
	w->ahead = PREALLOC_FIRST;
	if (w->direct)
		pthread_once(&zero_once, zero_block_init);
	r = queue_block(w, TAKE_PTR(hdr), STORE_HEADER_SIZE, 0, false);
	if (r < 0) {
		unlink(p->path);
		goto fail;
	}
	*ret = w;
	return 0;
fail:
	free(hdr);
	if (w->fd >= 0)
		unlink(p->path);
	store_writer_close(w);
	return r;
}

void store_writer_prefetch(const struct store_writer *w)
{
	const uint8_t *end;

	if (!w->plain)
		return; /* finished */
	end = w->plain + w->plain_len;

	/* a frame header and a G.711 payload: up to three lines, written */
	__builtin_prefetch(end, 1);
	__builtin_prefetch(end + 64, 1);
	__builtin_prefetch(end + 128, 1);
}

int store_writer_add(struct store_writer *w, const struct store_frame *f)
{
	int r;

	if (w->error)
		return w->error;
	if (w->finished)
		return -EPIPE;
	if (STORE_FRAME_HDR_SIZE + (size_t)f->len > w->cap)
		return -EMSGSIZE;
	if (w->plain_len + STORE_FRAME_HDR_SIZE + f->len > w->cap) {
		if (w->npending >= PENDING_MAX)
			return -ENOBUFS;
		r = seal(w, 0);
		if (r < 0)
			return r;
	}
	if (w->plain_len == 0)
		w->plain_first_mono = now_ns(CLOCK_MONOTONIC);
	r = store_frame_encode(f, w->plain, w->cap, &w->plain_len);
	if (r < 0)
		return r;
	w->stats.frames++;
	return 0;
}

int store_writer_flush(struct store_writer *w)
{
	if (w->error)
		return w->error;
	if (w->finished || w->plain_len == 0)
		return 0;
	return seal(w, 0);
}

int store_writer_finish(struct store_writer *w)
{
	uint8_t md[32];
	unsigned n = 0;
	int r;

	if (w->error)
		return w->error;
	if (w->finished)
		return 0;
	r = seal(w, STORE_CHUNK_FINAL);
	if (r < 0)
		return r;
	w->finished = true;
	if (EVP_DigestFinal_ex(w->sha, md, &n) == 1 && n == 32) {
		memcpy(w->sha256, md, 32);
		w->have_sha = true;
	}
	return 0;
}

static int submit_chain(struct store_writer *w);
static void slot_release(struct slot_pool *p);
static void group_try(struct store_sync_group *g);
static void final_try(struct store_sync_group *g);
static void chain_done(struct store_writer *w);

/* The writer's directory entry is durable (or failed): it no longer needs the group's dir. */
static void dir_release(struct store_writer *w)
{
	if (!w->gdir)
		return;
	w->gdir->refs--;
	w->gdir = NULL;
}

static void dir_on_cqe(struct loop_op *op, int res, uint32_t flags);

/* Prepares the directory's fsync into sqe: it covers every file created in it until now. */
static void dir_prep(struct store_dir *d, struct io_uring_sqe *sqe)
{
	d->op.fn = dir_on_cqe;
	io_uring_prep_fsync(sqe, d->fd, 0);
	io_uring_sqe_set_data(sqe, &d->op);
	d->flight_upto = d->created;
	d->in_flight = true;
}

/* Starts the fsync the waiters need, if none is in flight; retried at the group's next request
 * when there is no room for it now. */
static void dir_start(struct store_dir *d)
{
	struct io_uring_sqe *sqe;

	if (d->in_flight || !d->waiters || !d->get_sqes)
		return;
	if (d->get_sqes(d->get_sqes_userdata, 1, &sqe) < 0)
		return;
	dir_prep(d, sqe);
}

static void dir_on_cqe(struct loop_op *op, int res, uint32_t flags)
{
	struct store_dir *d = container_of(op, struct store_dir, op);
	struct store_writer *w = d->waiters, *next;

	(void)flags;
	d->in_flight = false;
	d->g->dir_syncs++;
	if (res >= 0)
		d->covered = d->flight_upto;
	d->waiters = NULL;
	for (; w; w = next) {
		next = w->dw_next;
		w->dw_next = NULL;
		if (res < 0 && w->dir_seq < d->flight_upto)
			set_error(w, res);
		else if (d->covered <= w->dir_seq) {
			/* created after this fsync began: the next one covers it */
			w->dw_next = d->waiters;
			d->waiters = w;
			continue;
		}
		dir_release(w);
		w->dir_waiting = false;
		if (--w->in_flight == 0)
			chain_done(w);
	}
	dir_start(d);
}

/* Chunks up to sync number gen (all: UINT64_MAX) of landed are durable: latency, FINAL. */
static void landed_durable(struct store_writer *w, uint64_t gen, uint64_t mono)
{
	while (w->landed && w->landed->gen <= gen) {
		struct wop *o = w->landed;

		w->landed = o->next;
		if (o->first_mono_ns) {
			w->stats.lat_hist[lat_bucket_of((mono - o->first_mono_ns) / 1000,
							STORE_LAT_BUCKETS)]++;
			w->stats.lat_count++;
		}
		wop_free(o);
	}
	if (!w->landed)
		w->landed_tail = NULL;
}

/* The member no longer holds the group's sync back (its writes are done, or it failed). */
static void group_release(struct store_writer *w)
{
	if (!w->group_waiting)
		return;
	w->group_waiting = false;
	w->group->waiting--;
	group_try(w->group);
}

/* Nothing in flight any more (and none waiting for a sync slot): tells store_writer_set_idle_fn's
 * callback. */
static void idle_check(struct store_writer *w)
{
	if (!w->in_flight && w->idle_fn)
		w->idle_fn(w->idle_ud);
}

/* A shared FINAL's chain is written: the writer waits for the next shared FINAL sync (counted as
 * one request in flight). */
static void final_wait(struct store_writer *w)
{
	struct store_sync_group *g = w->group;

	w->final_waiting = true;
	w->fin_next = g->fin_wait;
	g->fin_wait = w;
	w->in_flight++;
	g->fin_get_sqes = w->get_sqes;
	g->fin_get_sqes_userdata = w->get_sqes_userdata;
	final_try(g);
}

static void chain_done(struct store_writer *w)
{
	struct wop *o = w->chain;

	/* Chunks this chain wrote without an fdatasync of its own wait for the group's. */
	while (o) {
		struct wop *next = o->next;

		if (!w->chain_synced && w->group && o->done_ok && !o->is_sync) {
			o->next = NULL;
			o->gen = w->group->gen;
			if (w->landed_tail)
				w->landed_tail->next = o;
			else
				w->landed = o;
			w->landed_tail = o;
		} else
			wop_free(o);
		o = next;
	}
	w->chain = NULL;
	if (w->fin_chain) {
		w->fin_chain = false;
		if (!w->error)
			final_wait(w);
	}
	if (w->group_waiting && (w->error || w->written_end >= w->group_until))
		group_release(w);
	/* The loop submits what this prepares on its next iteration. */
	if (!w->error && w->pending && w->get_sqes)
		submit_chain(w);
	idle_check(w);
}

static void on_cqe(struct loop_op *op, int res, uint32_t flags)
{
	struct wop *o = container_of(op, struct wop, op);
	struct store_writer *w = o->w;

	if (o->is_dirsync) {
		/* -ECANCELED: a write before it failed, which set the error already. */
		if (res < 0 && res != -ECANCELED)
			set_error(w, res);
		else if (res >= 0) {
			close(w->dir_fd);
			w->dir_fd = -1;
		}
	} else if (o->is_sync) {
		if (o->slot)
			slot_release(o->slot);
		if (res < 0)
			set_error(w, res);
		else {
			uint64_t mono = now_ns(CLOCK_MONOTONIC);

			w->chain_synced = true;
			w->stats.last_durable_ns = now_ns(CLOCK_REALTIME);
			/* an fdatasync of the file covers its earlier writes too */
			landed_durable(w, UINT64_MAX, mono);
			for (struct wop *c = w->chain; c; c = c->next) {
				if (!c->done_ok || !c->first_mono_ns)
					continue;
				w->stats.lat_hist[lat_bucket_of((mono - c->first_mono_ns) / 1000,
								STORE_LAT_BUCKETS)]++;
				w->stats.lat_count++;
				if (c->final)
					w->final_durable = true;
			}
		}
	} else {
		if (o->slot)
			slot_release(o->slot);
		if (res < 0)
			set_error(w, res);
		else if ((size_t)res != o->len)
			set_error(w,
				  -EIO); /* a short O_DIRECT write: the device is full or failing */
		else if (!o->zero) {
			o->done_ok = true;
			w->stats.bytes_written += o->len;
			w->written_end = o->off + o->len;
		}
		if (!o->zero)
			block_done(w, o->buf, o->cap);
		o->buf = NULL;
	}
	if (--w->in_flight == 0)
		chain_done(w);
}

/*
 * A member's own fdatasyncs (first sync, zeros written ahead, FINAL) are punted by io_uring to
 * its io-wq workers, at most 4 per CPU at a time; the others wait in io-wq's list, which every
 * IORING_OP_ASYNC_CANCEL walks, and the media worker cancels each stream's receive at its close:
 * with hundreds of FINAL fdatasyncs queued at 1,000 setups/s that walk was a third of the media
 * thread (bench/RESULTS.md, setupmedia2). So the group keeps at most max_syncs of them in
 * flight (as many as io-wq runs at once: no fewer run) and the chains that would sync beyond
 * that wait here, in order, for a slot. A stretch of zeros written ahead is punted too (it
 * appends: ext4 allocates the blocks and waits for the write): two a call, in new files' first
 * chains, which carry no fdatasync. When the volume fell behind they queued in io-wq's list by
 * the hundred, and the walk was a fifth of the media thread again (bench/RESULTS.md, sipcpu);
 * but held back to io-wq's limit, each would wake a worker that has gone to sleep (a queued one
 * is taken by the worker that finishes, awake). So a chain without an fdatasync that writes
 * zeros ahead takes a slot of a larger pool (ahead_slots, four times max_syncs): a short queue
 * in io-wq, as in normal operation, and a bound on it when the volume falls behind. A waiting
 * writer counts one request in flight (it waits in one pool at a time).
 */
static bool slot_take(struct store_writer *w, struct slot_pool *p)
{
	if (p->out < p->max) {
		p->out++;
		return true;
	}
	if (!w->slot_waiting) {
		w->slot_waiting = true;
		w->slot_next = NULL;
		if (p->tail)
			p->tail->slot_next = w;
		else
			p->head = w;
		p->tail = w;
		w->in_flight++;
	}
	return false;
}

/* A slot is free: the waiting chains take it, in order (one that cannot be prepared, for lack
 * of room in the ring, gives its slot back and is retried by its caller, as an -EBUSY is). */
static void slot_release(struct slot_pool *p)
{
	struct store_writer *w;

	p->out--;
	while (p->out < p->max && (w = p->head)) {
		p->head = w->slot_next;
		if (!p->head)
			p->tail = NULL;
		w->slot_waiting = false;
		w->slot_next = NULL;
		w->in_flight--;
		if (!w->error && w->get_sqes)
			submit_chain(w);
		idle_check(w);
	}
}

/*
 * Makes the chain's writes overwrites where it can: a stretch of zeros written ahead when they
 * would pass the written part of the file, and at the FINAL chunk the file cut back to its data
 * (nothing is in flight here, so no write ahead can land after the cut). Returns the zero write
 * to put first in the chain (NULL: none) in *ret, or -errno.
 */
static int prepare_ahead(struct store_writer *w, uint64_t end, bool final, struct wop **ret)
{
	uint64_t need, len;
	struct wop *z;

	*ret = NULL;
	if (!w->direct)
		return 0;
	if (final) {
		/* A short metadata operation, as open() is; the FINAL fdatasync makes it durable.
		 * A shared FINAL sync (final_try) stands for files whose last metadata change is
		 * this cut: one without a cut (its data reaches exactly the zeros written ahead)
		 * syncs itself. */
		if (w->init_end > w->file_off) {
			if (ftruncate(w->fd, (off_t)w->file_off) < 0) {
				set_error(w, -errno);
				return w->error;
			}
			if (w->shared_final)
				w->cut_seq = ++w->group->cuts;
		} else
			w->shared_final = false;
		w->init_end = w->file_off;
		return 0;
	}
	if (end <= w->init_end)
		return 0;
	need = end - w->init_end;
	if (!zero_block || need > PREALLOC_MAX) {
		/* More than one stretch at once (huge chunks): plain appending writes, which
		 * change the inode and so take an fdatasync of the file. */
		w->init_end = end;
		w->sync_wanted = true;
		return 0;
	}
	len = MAX(need, (uint64_t)w->ahead);
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->w = w;
	z->zero = true;
	z->buf = zero_block;
	z->len = (size_t)len;
	z->off = w->init_end;
	w->init_end += len;
	w->ahead = (uint32_t)MIN((uint64_t)w->ahead * 2, (uint64_t)PREALLOC_MAX);
	*ret = z;
	return 0;
}

static int submit_chain(struct store_writer *w)
{
	struct io_uring_sqe
		*sqes[CHAIN_MAX + 3]; /* zeros ahead, writes, fdatasync, directory fsync */
	unsigned nw = MIN(w->npending, CHAIN_MAX), n, i = 0, k = 0;
	bool sync = false, final = false, dir_wait = false, dir_new = false;
	struct slot_pool *pool = NULL;
	struct wop *o, *last = NULL, *sop = NULL, *dop = NULL, *zop = NULL;
	uint64_t end = 0;
	int r;

	/* The FINAL chunk is always made durable: it is what tells a complete file. */
	for (o = w->pending; o && i < nw; o = o->next, i++) {
		if (o->final)
			final = sync = true;
		end = o->off + o->len;
	}
	r = prepare_ahead(w, end, final, &zop);
	if (r < 0)
		return r;
	w->chain_synced = false;
	if (final && w->shared_final) {
		/* The FINAL chunk, the cut and a first sync still owed (the file's and its
		 * directory entry's) are made durable by the group's shared FINAL sync once this
		 * chain's writes are done (chain_done, final_try). */
		sync = false;
		w->sync_wanted = false;
		w->fin_chain = true;
	} else
		sync = sync || w->sync_wanted;
	/* Zeros written ahead change the inode: make them durable with this chain, so that later
	 * chunks overwriting them need no metadata. Except in a new file's first chain when
	 * nothing asked for durability (its header, at open): the file's first sync (with its
	 * directory's) is then carried by its next chain, with its first flush interval's chunk
	 * or its FINAL chunk, or alone (store_writer_submit) if there is nothing to write. A call
	 * shorter than a flush interval takes one fdatasync per file instead of two; until that
	 * sync the file's chunks take no group sync (dir_unsynced). */
	if (zop && !sync && dir_unsynced(w))
		w->sync_wanted = true;
	else if (zop)
		sync = true;
	n = (zop ? 1 : 0) + nw + (sync ? 1 : 0) + (sync && w->dir_fd >= 0 ? 1 : 0);
	/* A member's chain that syncs, or else writes zeros ahead (both run in io-wq), waits for
	 * one of the group's slots (slot_take); the fdatasync holds it, else the zero write. */
	if (w->group)
		pool = sync ? &w->group->sync_slots : zop ? &w->group->ahead_slots : NULL;
	if (pool && !slot_take(w, pool)) {
		if (zop) {
			/* Not written: the stretch is asked for again by the chain, later. */
			w->init_end = zop->off;
			free(zop);
		}
		return 0;
	}
	/* The group's directory: its entry is durable already, or an fsync of the directory that
	 * began after the file was created is in flight (wait for it), or one is started now
	 * beside the chain, or (one that does not cover it is in flight) it waits for the next. */
	if (sync && w->gdir) {
		struct store_dir *d = w->gdir;

		if (d->covered > w->dir_seq)
			dir_release(w);
		else {
			dir_wait = true;
			dir_new = !d->in_flight;
		}
	}
	if (sync) {
		sop = calloc(1, sizeof(*sop));
		if (!sop)
			goto nomem;
		sop->w = w;
		sop->is_sync = true;
		sop->slot = pool;
	}
	if (sync && w->dir_fd >= 0) {
		dop = calloc(1, sizeof(*dop));
		if (!dop)
			goto nomem;
		dop->w = w;
		dop->is_dirsync = true;
	}
	r = w->get_sqes(w->get_sqes_userdata, n + (dir_new ? 1 : 0), sqes);
	if (r < 0)
		goto undo;
	if (dir_new)
		dir_prep(w->gdir, sqes[n]); /* not linked: sqes[n - 1] has no IOSQE_IO_LINK */
	if (zop) {
		zop->slot = sop ? NULL : pool;
		zop->op.fn = on_cqe;
		io_uring_prep_write(sqes[k], w->fd, zop->buf, (unsigned)zop->len, zop->off);
		io_uring_sqe_set_data(sqes[k], &zop->op);
		sqes[k++]->flags |= IOSQE_IO_LINK;
	}
	o = w->pending;
	for (i = 0; i < nw; i++, k++) {
		o->op.fn = on_cqe;
		io_uring_prep_write(sqes[k], w->fd, o->buf, (unsigned)o->len, o->off);
		io_uring_sqe_set_data(sqes[k], &o->op);
		if (k + 1 < n)
			sqes[k]->flags |= IOSQE_IO_LINK;
		last = o;
		o = o->next;
	}
	/* Move the submitted prefix of pending to the chain (the zero write first); nothing for
	 * a chain of the deferred first sync alone. */
	w->chain = nw ? w->pending : NULL;
	if (nw) {
		w->pending = last->next;
		last->next = NULL;
		if (!w->pending)
			w->pending_tail = NULL;
		w->npending -= nw;
	}
	if (zop) {
		zop->next = w->chain;
		w->chain = zop;
	}
	if (sop) {
		sop->op.fn = on_cqe;
		io_uring_prep_fsync(sqes[k], w->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data(sqes[k], &sop->op);
		if (last)
			last->next = sop;
		else
			w->chain = sop;
		w->sync_wanted = false;
	}
	if (dop) {
		sqes[k]->flags |= IOSQE_IO_LINK;
		dop->op.fn = on_cqe;
		io_uring_prep_fsync(sqes[k + 1], w->dir_fd, 0);
		io_uring_sqe_set_data(sqes[k + 1], &dop->op);
		sop->next = dop;
	}
	w->in_flight = n;
	if (dir_wait) {
		w->dir_waiting = true;
		w->dw_next = w->gdir->waiters;
		w->gdir->waiters = w;
		w->gdir->get_sqes = w->get_sqes;
		w->gdir->get_sqes_userdata = w->get_sqes_userdata;
		w->in_flight++;
	}
	return (int)(n + (dir_new ? 1 : 0));
nomem:
	r = -ENOMEM;
undo:
	/* Given back without waking the queue: it is empty (a slot was free), or this is
	 * slot_release's own loop, which goes on. */
	if (pool)
		pool->out--;
	w->fin_chain = false;
	free(sop);
	free(dop);
	if (zop) {
		/* Not written: the stretch is asked for again by the next chain. */
		w->init_end = zop->off;
		free(zop);
	}
	return r;
}

int store_writer_submit(struct store_writer *w, store_get_sqes_fn get_sqes, void *userdata,
			bool sync)
{
	if (w->error)
		return w->error;
	w->get_sqes = get_sqes;
	w->get_sqes_userdata = userdata;
	if (sync && w->group && w->direct && !dir_unsynced(w) && !w->finished) {
		/* The group's next sync covers what is sealed now, once it is written. */
		if (w->written_end < w->file_off) {
			w->group_until = w->file_off;
			if (!w->group_waiting) {
				w->group_waiting = true;
				w->group->waiting++;
			}
		}
	} else if (sync)
		w->sync_wanted = true;
	/* One chain at a time: the running chain's last CQE starts the next one. */
	if (w->in_flight)
		return 0;
	/* Something to write, or a new file's first sync, deferred from its first chain, with
	 * nothing to write beside it. */
	if (!w->pending && !(w->sync_wanted && dir_unsynced(w) && !w->finished))
		return 0;
	return submit_chain(w);
}

void store_writer_set_idle_fn(struct store_writer *w, void (*fn)(void *userdata), void *userdata)
{
	w->idle_fn = fn;
	w->idle_ud = userdata;
}

unsigned store_writer_in_flight(const struct store_writer *w)
{
	return w->in_flight;
}

size_t store_writer_blocks_held(const struct store_writer *w)
{
	return (w->block ? w->block_cap : 0) + (w->spare ? w->spare_cap : 0);
}

unsigned store_writer_pending(const struct store_writer *w)
{
	return w->npending;
}

bool store_writer_closable(const struct store_writer *w, int error)
{
	/* Never while a request is in flight, even after an error: its CQE names this writer's
	 * buffers, and closing early leaked the fd, the buffers and the key (-EBUSY ignored). */
	if (w->in_flight)
		return false;
	return error || w->error || w->npending == 0;
}

int store_writer_error(const struct store_writer *w)
{
	return w->error;
}

bool store_writer_direct(const struct store_writer *w)
{
	return w->direct;
}

bool store_writer_durable_final(const struct store_writer *w)
{
	return w->final_durable && !w->error;
}

const struct store_writer_stats *store_writer_stats(const struct store_writer *w)
{
	return &w->stats;
}

int store_writer_sha256(const struct store_writer *w, uint8_t ret[32])
{
	if (!w->have_sha)
		return -EAGAIN;
	memcpy(ret, w->sha256, 32);
	return 0;
}

uint64_t store_writer_file_size(const struct store_writer *w)
{
	return w->file_off;
}

int store_writer_close(struct store_writer *w)
{
	if (!w)
		return 0;
	if (w->in_flight)
		return -EBUSY;
	if (w->group) {
		struct store_sync_group *g = w->group;

		if (w->g_prev)
			w->g_prev->g_next = w->g_next;
		else
			g->members = w->g_next;
		if (w->g_next)
			w->g_next->g_prev = w->g_prev;
		group_release(w);
		w->group = NULL;
	}
	free_list(w->landed);
	free_list(w->pending);
	free_list(w->chain);
	if (w->fd >= 0)
		close(w->fd);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	dir_release(w);
	store_cipher_free(w->cipher);
	if (w->block) {
		/* Plaintext only ever lies in plain[0, plain_len): frames are appended there and
		 * each seal encrypts what it took in place. Wiping all of cap (64 KiB by default)
		 * on every stream's close cost 43,000 instructions and a cold sweep of the cache
		 * per stream. */
		OPENSSL_cleanse(w->plain, w->plain_len);
		cache_free(w->block, w->block_cap);
	}
	cache_free(w->spare, w->spare_cap);
	EVP_MD_CTX_free(w->sha);
	free(w->path);
	free(w);
	return 0;
}

/* ---- durability batched per worker ---- */

/*
 * Why one fdatasync can stand for many files: on ext4 and xfs an fdatasync ends with a flush of
 * the block device's volatile cache (REQ_PREFLUSH) even when the file's metadata is clean
 * (ext4_sync_file, xfs_file_fsync), which makes durable every write the device completed before
 * it, whichever file it belongs to. An O_DIRECT
 * write has reached the device when its CQE arrives, and a write over blocks already written
 * inside the file size (the zeros written ahead) leaves no metadata that a data sync would have
 * to commit. So a member's chunk writes are durable after any fdatasync on the same device
 * prepared after their CQEs. Every write that does change metadata (zeros written ahead, plain
 * appends, the cut at FINAL) still takes an fdatasync of its own file, in its own chain, as
 * does the first sync (with the directory's) and everything of a buffered (non-O_DIRECT) file.
 * Other filesystems are not assumed to do the same (btrfs skips the flush for a clean inode, and
 * its O_DIRECT writes are copy-on-write): their files keep syncing themselves.
 *
 * FINAL syncs shared: at 1,000 calls/s a FINAL fdatasync per file (two a call) kept hundreds of
 * finished files open waiting for a device that does one flush at a time (bench/RESULTS.md,
 * finalsync). A file's FINAL chain cuts it to its data (ftruncate, prepare_ahead) and then only
 * overwrites blocks inside its size, so the cut is its last metadata change, after its creation,
 * its directory entry and its zeros written ahead. On an ext4 with a journal an fdatasync of a
 * file commits the journal up to that file's last such change (the transaction of its last size
 * change, i_datasync_tid), and jbd2 commits transactions in order, so it covers every metadata
 * change made before that one, whichever inode it touched, and ends with the device's flush.
 * So once every waiting member's FINAL writes completed, one fdatasync of the member cut last
 * stands for all of them, their first syncs and directory entries included. A member cut after
 * that sync was prepared waits for the next. With fast_commit an fdatasync commits the inodes a
 * fast commit finds queued, not the journal: there the shared fdatasync is linked after an fsync
 * of a directory, which commits the journal (store_final_sync says why and what the crash test
 * found). An ext4 without a journal syncs only the inode asked for, xfs is not trusted with it
 * (fs_journaled says why), and a file without a cut has an older last change: those keep their
 * own fdatasync (store_final_sync, prepare_ahead).
 * tests/integration/crash-final-sync.sh checks the outcome after a crash.
 */

int store_sync_group_new(struct store_sync_group **ret)
{
	struct store_sync_group *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->fd = g->commit_fd = -1;
	for (unsigned i = 0; i < GROUP_DIRS; i++)
		g->dirs[i].fd = -1;
	store_sync_group_set_max_syncs(g, 0);
	g->journaled = -1;
	*ret = g;
	return 0;
}

void store_sync_group_set_max_syncs(struct store_sync_group *g, unsigned n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	/* io-wq's limit of workers for regular files: 4 per CPU (and the ring's SQ size) */
	g->sync_slots.max = n ? n : (unsigned)MAX(4 * (cpus > 0 ? cpus : 1), 1L);
	g->ahead_slots.max = 4 * g->sync_slots.max;
}

struct store_sync_group *store_sync_group_free(struct store_sync_group *g)
{
	/* the CQE of a sync in flight names g: then it is kept (the process is ending) */
	if (!g || g->in_flight || g->fin_in_flight || g->members)
		return NULL;
	for (unsigned i = 0; i < GROUP_DIRS; i++)
		if (g->dirs[i].in_flight)
			return NULL;
	for (unsigned i = 0; i < GROUP_DIRS; i++) {
		if (g->dirs[i].fd >= 0)
			close(g->dirs[i].fd);
		free(g->dirs[i].path);
	}
	if (g->commit_fd >= 0)
		close(g->commit_fd);
	free(g);
	return NULL;
}

void store_sync_group_close_dirs(struct store_sync_group *g)
{
	for (unsigned i = 0; i < GROUP_DIRS; i++) {
		struct store_dir *d = &g->dirs[i];

		if (d->fd < 0 || d->refs || d->in_flight || d->waiters)
			continue;
		close(d->fd);
		d->fd = -1;
		free(d->path);
		d->path = NULL;
	}
	/* the next member may be on another device (a volume mounted anew) */
	if (!g->members) {
		g->have_dev = false;
		g->final_known = false;
		if (g->commit_fd >= 0 && !g->fin_in_flight) {
			close(g->commit_fd);
			g->commit_fd = -1;
		}
	}
}

int store_writer_join(struct store_writer *w, struct store_sync_group *g)
{
	struct statfs sf;
	struct stat st;

	if (w->group)
		return -EALREADY;
	if (!w->direct)
		return -EOPNOTSUPP; /* buffered data is in the page cache: it needs its own sync */
	if (fstat(w->fd, &st) < 0 || fstatfs(w->fd, &sf) < 0)
		return -errno;
	if (!group_fs(&sf))
		return -EOPNOTSUPP;
	if (g->have_dev && g->dev != st.st_dev)
		return -EXDEV; /* one device per group: a flush covers its own device only */
	g->dev = st.st_dev;
	g->have_dev = true;
	group_link(w, g);
	return 0;
}

static void group_on_cqe(struct loop_op *op, int res, uint32_t flags)
{
	struct store_sync_group *g = container_of(op, struct store_sync_group, op);
	uint64_t mono = now_ns(CLOCK_MONOTONIC), real = now_ns(CLOCK_REALTIME);

	(void)flags;
	close(g->fd);
	g->fd = -1;
	g->in_flight = false;
	g->syncs++;
	for (struct store_writer *w = g->members; w; w = w->g_next) {
		if (!w->landed || w->landed->gen > g->sync_gen)
			continue;
		if (res < 0) {
			/* the device failed the flush: those chunks may be lost */
			set_error(w, res);
			free_list(w->landed);
			w->landed = w->landed_tail = NULL;
			continue;
		}
		landed_durable(w, g->sync_gen, mono);
		w->stats.last_durable_ns = real;
	}
	group_try(g);
}

static void group_try(struct store_sync_group *g)
{
	struct store_writer *w, *fd_of = NULL;
	struct io_uring_sqe *sqe;
	bool any = false;

	if (!g->requested || g->in_flight || g->waiting || !g->get_sqes)
		return;
	for (w = g->members; w; w = w->g_next) {
		if (w->landed)
			any = true;
		/* a file whose metadata is durable: its fdatasync is the device flush alone */
		if (!fd_of && !w->finished && !w->error && !dir_unsynced(w))
			fd_of = w;
	}
	if (!any || !fd_of) {
		/* nothing to make durable, or only finished files, whose FINAL fdatasync will */
		g->requested = false;
		return;
	}
	g->fd = fcntl(fd_of->fd, F_DUPFD_CLOEXEC, 0);
	if (g->fd < 0)
		return; /* tried again at the next request */
	if (g->get_sqes(g->get_sqes_userdata, 1, &sqe) < 0) {
		close(g->fd);
		g->fd = -1;
		return;
	}
	g->op.fn = group_on_cqe;
	io_uring_prep_fsync(sqe, g->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, &g->op);
	g->sync_gen = g->gen++;
	g->in_flight = true;
	g->requested = false;
}

static void final_on_cqe(struct loop_op *op, int res, uint32_t flags)
{
	struct store_sync_group *g = container_of(op, struct store_sync_group, fin_op);
	uint64_t mono = now_ns(CLOCK_MONOTONIC), real = now_ns(CLOCK_REALTIME);
	struct store_writer *w = g->fin_flight, *next;

	(void)flags;
	/* the directory's fsync failed: the fdatasync linked after it was not run */
	if (res == -ECANCELED && g->fin_dir_res < 0)
		res = g->fin_dir_res;
	g->fin_dir_res = 0;
	g->fin_in_flight = false;
	g->fin_flight = NULL;
	g->fin_syncs++;
	for (; w; w = next) {
		next = w->fin_next;
		w->fin_next = NULL;
		w->final_waiting = false;
		if (res < 0) {
			set_error(w, res);
			free_list(w->landed);
			w->landed = w->landed_tail = NULL;
		} else {
			landed_durable(w, UINT64_MAX, mono);
			w->final_durable = true;
			w->stats.last_durable_ns = real;
			dir_release(w);
		}
		if (--w->in_flight == 0)
			chain_done(w);
	}
	final_try(g);
}

/* The CQE of a STORE_FINAL_COMMIT directory fsync: posted only when it failed. */
static void final_dir_on_cqe(struct loop_op *op, int res, uint32_t flags)
{
	struct store_sync_group *g = container_of(op, struct store_sync_group, fin_dir_op);

	(void)flags;
	if (res < 0)
		g->fin_dir_res = res;
}

/* Prepares one fdatasync of the waiting member cut last, for every waiting member (see "FINAL
 * syncs shared" above), after an fsync of the group's directory when one of them is on an
 * ext4 with fast commits (STORE_FINAL_COMMIT); retried at the next wait or request when there
 * is no room for it. */
static void final_try(struct store_sync_group *g)
{
	struct store_writer *w, *last = NULL;
	struct io_uring_sqe *sqe[2];
	bool commit = false;

	if (g->fin_in_flight || !g->fin_wait || !g->fin_get_sqes)
		return;
	for (w = g->fin_wait; w; w = w->fin_next) {
		if (!last || w->cut_seq > last->cut_seq)
			last = w;
		commit = commit || w->final_commit;
	}
	/* (a member with final_commit joined the shared syncs only with commit_fd open) */
	if (g->fin_get_sqes(g->fin_get_sqes_userdata, commit ? 2 : 1, sqe) < 0)
		return;
	if (commit) {
		g->fin_dir_op.fn = final_dir_on_cqe;
		g->fin_dir_res = 0;
		io_uring_prep_fsync(sqe[0], g->commit_fd, 0);
		io_uring_sqe_set_data(sqe[0], &g->fin_dir_op);
		sqe[0]->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
		sqe[0] = sqe[1];
		g->fin_commits++;
	}
	/* last's fd stays open: a waiting writer is in flight, so not closable */
	g->fin_op.fn = final_on_cqe;
	io_uring_prep_fsync(sqe[0], last->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe[0], &g->fin_op);
	g->fin_flight = g->fin_wait;
	g->fin_wait = NULL;
	g->fin_in_flight = true;
}

void store_sync_group_request(struct store_sync_group *g, store_get_sqes_fn get_sqes,
			      void *userdata)
{
	g->get_sqes = get_sqes;
	g->get_sqes_userdata = userdata;
	g->requested = true;
	group_try(g);
	if (!g->fin_get_sqes) {
		g->fin_get_sqes = get_sqes;
		g->fin_get_sqes_userdata = userdata;
	}
	final_try(g);
	/* a directory fsync that found no room when it was due */
	for (unsigned i = 0; i < GROUP_DIRS; i++)
		dir_start(&g->dirs[i]);
}

bool store_sync_group_in_flight(const struct store_sync_group *g)
{
	return g->in_flight || g->fin_in_flight;
}

uint64_t store_sync_group_final_syncs(const struct store_sync_group *g)
{
	return g->fin_syncs;
}

uint64_t store_sync_group_final_commits(const struct store_sync_group *g)
{
	return g->fin_commits;
}

void store_sync_group_set_journaled(struct store_sync_group *g, int journaled)
{
	g->journaled = journaled;
}

uint64_t store_sync_group_syncs(const struct store_sync_group *g)
{
	return g->syncs;
}

uint64_t store_sync_group_dir_syncs(const struct store_sync_group *g)
{
	return g->dir_syncs;
}
