/* SPDX-License-Identifier: MIT */
/*
 * Recording files (.siprec, see docs/FORMAT.md): header encoding, frame and chunk sealing, the
 * O_DIRECT io_uring writer, the verifying reader used by siprec-export and the start-up crash
 * check, and the encrypted .metadata side file. Everything on disk is little-endian.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_uring_sqe;

#define STORE_MAGIC "SIPREC\0\1"
#define STORE_MAGIC_LEN 8
#define STORE_VERSION 1
#define STORE_BLOCK 4096u
#define STORE_HEADER_SIZE STORE_BLOCK
#define STORE_CHUNK_MAGIC "SRCK"
#define STORE_CHUNK_HDR_SIZE 32u
#define STORE_NONCE_SIZE 12u
#define STORE_TAG_SIZE 16u
#define STORE_FRAME_HDR_SIZE 24u
#define STORE_CHUNK_SIZE_MIN STORE_BLOCK
#define STORE_CHUNK_SIZE_MAX (16u * 1024 * 1024)
#define STORE_CHUNK_SIZE_DEFAULT (64u * 1024)
#define STORE_KEY_SIZE 32u

/* Limits of the header's strings (bytes, without NUL). */
#define STORE_KEY_ID_MAX 63u
#define STORE_RECORDING_ID_MAX 63u
#define STORE_SESSION_ID_MAX 255u
#define STORE_LABEL_MAX 255u
#define STORE_CODEC_MAX 31u
#define STORE_FORMATS_MAX 2048u /* payload map, docs/FORMAT.md */

#define STORE_CHUNK_FINAL 0x1u

enum store_alg {
	STORE_ALG_NONE = 0,
	STORE_ALG_AES_256_GCM = 1,
	STORE_ALG_CHACHA20_POLY1305 = 2,
};

enum store_frame_type {
	STORE_FRAME_RTP = 1,
	STORE_FRAME_RTCP = 2,
	STORE_FRAME_EVENT = 3,
};

/* First payload byte of an EVENT frame. */
enum store_event {
	STORE_EVENT_GAP = 1,
	STORE_EVENT_SSRC_CHANGE = 2,
	STORE_EVENT_HOLD = 3,
	STORE_EVENT_RESUME = 4,
};

#define STORE_FRAME_MARKER 0x1u

struct store_frame {
	uint16_t type;	     /* enum store_frame_type */
	uint16_t len;	     /* payload length */
	uint64_t arrival_ns; /* CLOCK_REALTIME */
	uint32_t ssrc;
	uint16_t seq;
	uint32_t rtp_ts;
	uint8_t pt;
	uint8_t flags; /* STORE_FRAME_MARKER */
	const uint8_t
		*payload; /* a view; the writer copies it, the reader points into its buffer */
};

/* The decoded file header; strings are NUL-terminated copies. */
struct store_header {
	uint16_t version;
	uint8_t alg; /* enum store_alg */
	uint8_t nonce_size;
	uint8_t tag_size;
	uint32_t chunk_size;
	uint32_t key_version;
	uint32_t clock_rate;
	uint8_t payload_type;
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint8_t nonce_prefix[4];
	char key_id[STORE_KEY_ID_MAX + 1];
	char recording_id[STORE_RECORDING_ID_MAX + 1];
	char session_id[STORE_SESSION_ID_MAX + 1];
	char stream_label[STORE_LABEL_MAX + 1];
	char codec[STORE_CODEC_MAX + 1];
	/* Payload map: every negotiated format, "<pt> <enc>/<clock>[/<ch>][ <fmtp>]" lines joined
	 * by '\n'; "" in files written before it existed (then only codec/payload_type). */
	char formats[STORE_FORMATS_MAX + 1];
};

/* One entry of a payload map. */
struct store_format {
	uint8_t pt;
	char encoding[STORE_CODEC_MAX + 1];
	uint32_t clock_rate;
	uint8_t channels; /* 1 when the map says none */
	char fmtp[256];	  /* "" when none */
};

/*
 * Looks pt up in a payload map (store_header.formats). Returns 0 and fills *ret, -ENOENT when
 * the map has no entry for pt, -EBADMSG for a malformed entry of pt. A header without a map
 * falls back to h->codec/h->payload_type/h->clock_rate: see store_header_format().
 */
int store_formats_find(const char *formats, uint8_t pt, struct store_format *ret);
/* Iterates a payload map: *cursor starts at the map; returns 1 and the next well-formed entry
 * (malformed ones are skipped), 0 at the end. */
int store_formats_next(const char **cursor, struct store_format *ret);
/* The format of pt in the recording h: its map entry, else (old files, empty map) the header's
 * single codec when pt is h->payload_type. 0, or -ENOENT. */
int store_header_format(const struct store_header *h, uint8_t pt, struct store_format *ret);

const char *store_alg_to_string(enum store_alg alg);
/* Accepts "AES-256-GCM", "ChaCha20-Poly1305", "none" (case-insensitive); -EINVAL otherwise. */
int store_alg_from_string(const char *s, enum store_alg *ret);

/* Encodes h into out (STORE_HEADER_SIZE bytes, zero padded). -EINVAL if a field is out of range. */
int store_header_encode(const struct store_header *h, uint8_t out[STORE_HEADER_SIZE]);
/* Decodes and validates a header block; -EBADMSG if malformed, -EPROTONOSUPPORT for another
 * version. */
int store_header_decode(const uint8_t *buf, size_t len, struct store_header *ret);

/* Largest plaintext a chunk of chunk_size bytes on disk holds. */
static inline size_t store_chunk_capacity(uint32_t chunk_size)
{
	return chunk_size - STORE_CHUNK_HDR_SIZE - STORE_TAG_SIZE;
}
/* Bytes a chunk with plain_len bytes of plaintext takes on disk (a multiple of STORE_BLOCK). */
static inline size_t store_chunk_disk_size(size_t plain_len)
{
	return (STORE_CHUNK_HDR_SIZE + plain_len + STORE_TAG_SIZE + STORE_BLOCK - 1) &
	       ~(size_t)(STORE_BLOCK - 1);
}

/* Appends frame f (header + payload) at buf[*off]; -ENOBUFS if it does not fit in cap. */
int store_frame_encode(const struct store_frame *f, uint8_t *buf, size_t cap, size_t *off);
/* Decodes the frame at buf[*off] and advances *off. Returns 1 with *ret filled (payload points
 * into buf), 0 at the end of buf, -EBADMSG if the frame runs past the end. */
int store_frame_decode(const uint8_t *buf, size_t len, size_t *off, struct store_frame *ret);

/* AEAD state of one file: the algorithm, the key and the SHA-256 of the header block. */
struct store_cipher;
/* Copies key (32 bytes; ignored for STORE_ALG_NONE) and wipes its copy on free. */
int store_cipher_new(enum store_alg alg, const uint8_t *key,
		     const uint8_t header[STORE_HEADER_SIZE], struct store_cipher **ret);
struct store_cipher *store_cipher_free(struct store_cipher *c);
/*
 * Seals plain (len <= capacity of the chunk size) as chunk index with flags into out, which must
 * hold store_chunk_disk_size(len) bytes; the padding is zeroed. Returns the bytes written.
 * plain may be out + STORE_CHUNK_HDR_SIZE: the chunk is then sealed in place (the writer does;
 * on failure the plaintext may be partly encrypted). Otherwise the two must not overlap.
 */
int store_chunk_seal(struct store_cipher *c, const uint8_t nonce_prefix[4], uint64_t index,
		     uint32_t flags, const uint8_t *plain, size_t len, uint8_t *out);

/* Outcome of reading one chunk. */
enum store_chunk_status {
	STORE_CHUNK_OK = 0,
	STORE_CHUNK_AUTH_FAILED,   /* tag mismatch: modified, or copied from another file */
	STORE_CHUNK_OUT_OF_ORDER,  /* stored index is not the expected one: dropped or reordered */
	STORE_CHUNK_BAD_HEADER,	   /* chunk magic, length, nonce or padding malformed */
	STORE_CHUNK_TRUNCATED,	   /* the file ends inside the chunk */
	STORE_CHUNK_TRAILING_DATA, /* bytes after the FINAL chunk */
};
const char *store_chunk_status_to_string(enum store_chunk_status s);

/*
 * Opens the chunk at in[0..avail) expected to be number index: verifies and decrypts into plain
 * (capacity of the file's chunk size). Returns the status; on STORE_CHUNK_OK fills the plaintext
 * length, the flags and the chunk's bytes on disk.
 */
enum store_chunk_status store_chunk_open(struct store_cipher *c, const struct store_header *h,
					 uint64_t index, const uint8_t *in, size_t avail,
					 uint8_t *plain, size_t *ret_len, uint32_t *ret_flags,
					 size_t *ret_disk);

/* ---- writer ---- */

struct store_params {
	const char *path; /* created with O_CREAT|O_EXCL, mode 0600 */
	enum store_alg alg;
	const uint8_t *key; /* STORE_KEY_SIZE bytes (copied); NULL for STORE_ALG_NONE */
	const char *key_id; /* may be "" for STORE_ALG_NONE */
	uint32_t key_version;
	const char *recording_id;
	const char *session_id;
	const char *stream_label;
	const char *codec; /* "PCMU", "PCMA", "G722", "opus", ... */
	uint8_t payload_type;
	uint32_t clock_rate;
	const char *formats; /* payload map (sdp_media_format_map), NULL = none */
	uint32_t chunk_size; /* 0 = STORE_CHUNK_SIZE_DEFAULT; a multiple of STORE_BLOCK */
	uint64_t created_ns; /* 0 = now */
	/* The media worker's sync group, or NULL. With it, the file is created with openat() in a
	 * directory the group keeps open (opened and its filesystem checked once per directory),
	 * an O_DIRECT file on ext4/xfs joins the group at once (store_writer_join is then
	 * -EALREADY), and the directory's fsync is shared: one covers every file created in the
	 * directory before it began. */
	struct store_sync_group *group;
};

struct store_writer;

/* Obtains n SQEs for one linked chain, all or nothing: 0 and ret[0..n-1], or -EBUSY. The
 * daemon passes a wrapper of loop_sqes(); tests use a plain io_uring. */
typedef int (*store_get_sqes_fn)(void *userdata, unsigned n, struct io_uring_sqe **ret);

#define STORE_LAT_BUCKETS 128

struct store_writer_stats {
	uint64_t frames;	  /* frames added (first: the writer keeps it in its hot line) */
	uint64_t bytes_written;	  /* completed writes, header included */
	uint64_t chunks;	  /* chunks sealed */
	uint64_t last_durable_ns; /* CLOCK_REALTIME of the last fdatasync completion, 0 = never */
	uint64_t lat_count;
	uint64_t lat_hist[STORE_LAT_BUCKETS]; /* see store_lat_bucket_upper_us() */
};

/*
 * Creates params->path (O_DIRECT, falling back to buffered I/O where the filesystem refuses it:
 * store_writer_direct() tells which) and queues the header block for the first submit. This is
 * blocking (open, fcntl), meant for session setup. On success *ret owns the fd and a copy of
 * the key; params is not referenced afterwards.
 */
int store_writer_open(const struct store_params *params, struct store_writer **ret);
/* Appends a frame (payload copied) to the open chunk, sealing it first when the frame does not
 * fit. -EMSGSIZE if the frame can never fit a chunk, -EPIPE after finish, or the writer's error
 * once it has failed. */
int store_writer_add(struct store_writer *w, const struct store_frame *f);
/* Starts loading what the next store_writer_add touches (the writer's fields and the open
 * chunk's end); only a hint, for a caller that knows a frame is coming. */
void store_writer_prefetch(const struct store_writer *w);
/* Seals the open chunk if it holds anything (it is then written by the next submit). */
int store_writer_flush(struct store_writer *w);
/* Seals the open chunk (possibly empty) with the FINAL flag; no more frames afterwards. */
int store_writer_finish(struct store_writer *w);
/*
 * Prepares every sealed, unwritten block as 4 KiB aligned writes linked with IOSQE_IO_LINK,
 * followed by a linked fdatasync when sync (or when the FINAL chunk is among them). A new file's
 * first chain (its header, submitted at open) carries no fdatasync unless sync: the file's first
 * sync, which also makes its header, the zeros written ahead and its directory entry durable,
 * is deferred to its next submit, made with nothing else if nothing is sealed. Does not call
 * io_uring_submit(). Each SQE's user_data is a struct loop_op * (see loop.h): the caller
 * dispatches the CQE to op->fn(op, res, flags). Buffers stay owned by the writer until their CQE.
 * Returns the number of SQEs prepared (0 if nothing was to do), -EBUSY if get_sqes had no room
 * (nothing is lost; retry later), or the writer's error once it has failed.
 */
int store_writer_submit(struct store_writer *w, store_get_sqes_fn get_sqes, void *userdata,
			bool sync);
/*
 * fn(userdata) runs when the writer's last request in flight completes (store_writer_in_flight()
 * drops to 0 and no further chain was started), from that request's CQE handler: the caller
 * learns when store_writer_closable() may have become true without polling every writer. fn
 * must not close the writer (it runs inside the writer's own handler). NULL: none.
 */
void store_writer_set_idle_fn(struct store_writer *w, void (*fn)(void *userdata), void *userdata);
/* Requests whose CQE has not arrived yet. */
unsigned store_writer_in_flight(const struct store_writer *w);
/* Bytes of chunk blocks the writer holds besides its requests in flight: the block its next
 * frames go to (none once finished) and a spare. */
size_t store_writer_blocks_held(const struct store_writer *w);
/* Sealed blocks not yet submitted. */
unsigned store_writer_pending(const struct store_writer *w);
/*
 * Whether store_writer_close may run now: no request in flight, and nothing sealed left to write
 * (or the writer failed, or error, the caller's own error for the stream, is set: what is left
 * will never be written). The caller of a finished stream waits (polls) until it is true.
 */
bool store_writer_closable(const struct store_writer *w, int error);
/* 0, or the -errno that put the writer in the failed state (EIO, short write = -EIO, ...). */
int store_writer_error(const struct store_writer *w);
bool store_writer_direct(const struct store_writer *w);
/* True when the FINAL chunk was written and its fdatasync completed. */
bool store_writer_durable_final(const struct store_writer *w);
const struct store_writer_stats *store_writer_stats(const struct store_writer *w);
/* After finish: SHA-256 of the whole file as it is on disk; -EAGAIN before finish. */
int store_writer_sha256(const struct store_writer *w, uint8_t ret[32]);
/* Bytes the file will have once everything sealed is written. */
uint64_t store_writer_file_size(const struct store_writer *w);
/* Closes the fd and frees w (wiping the key). Refuses with -EBUSY (w untouched) while requests
 * are in flight. NULL ok. */
int store_writer_close(struct store_writer *w);

/*
 * Durability batched per media worker: instead of one fdatasync per file per flush interval,
 * one fdatasync per group covers every member's chunks written before it was prepared (the
 * reason it may, and the writes that still take a sync of their own file, are in writer.c).
 * A group is used by one thread, like its writers.
 */
struct store_sync_group;
int store_sync_group_new(struct store_sync_group **ret);
/* Frees g unless it has members or a sync in flight (then it is left for the process's end). */
struct store_sync_group *store_sync_group_free(struct store_sync_group *g);
/*
 * Makes w a member of g: store_writer_submit(..., sync = true) then writes without a linked
 * fdatasync where the file's metadata is durable, and the chunks become durable with the
 * group's next sync. -EOPNOTSUPP for a buffered (non-O_DIRECT) writer or a filesystem other than
 * ext4 and xfs, -EXDEV for a file on
 * another device than the group's: the writer keeps syncing its own file. w leaves g when
 * closed.
 */
int store_writer_join(struct store_writer *w, struct store_sync_group *g);
/*
 * Asks for the group's sync: prepared (one IORING_OP_FSYNC with IORING_FSYNC_DATASYNC, through
 * get_sqes, not submitted) once every member's chunks sealed at its last sync submit are
 * written; at once if they are. Call after submitting every member with sync = true.
 */
void store_sync_group_request(struct store_sync_group *g, store_get_sqes_fn get_sqes,
			      void *userdata);
/* True while the group's sync is in flight (its CQE names g: keep g and its loop until then). */
/*
 * At most n of the members' own fdatasyncs (first syncs, zeros written ahead, FINAL chunks) in
 * flight at once; a chain that would sync beyond that waits (counted as a request in flight)
 * for one to complete. 0: the default, io-wq's own limit (4 per online CPU), so no fewer run but
 * none waits in io-wq's list, which every cancellation walks (writer.c, slot_take). The
 * stretches of zeros written ahead in chains without an fdatasync: at most 4 x n in flight.
 */
void store_sync_group_set_max_syncs(struct store_sync_group *g, unsigned n);
bool store_sync_group_in_flight(const struct store_sync_group *g);
/* Closes the directories the group keeps open that no member waits on (a failing volume's:
 * an open directory keeps it from being unmounted, and after a remount would still name the
 * old one); they are opened again by the next file created in them. */
void store_sync_group_close_dirs(struct store_sync_group *g);
/* Group syncs completed so far. */
uint64_t store_sync_group_syncs(const struct store_sync_group *g);
/* Shared directory fsyncs (store_params.group) completed so far. */
uint64_t store_sync_group_dir_syncs(const struct store_sync_group *g);
/* Shared FINAL fdatasyncs (writer.c, final_try) completed so far. */
uint64_t store_sync_group_final_syncs(const struct store_sync_group *g);
/*
 * Whether the directories the group opens from now on are taken as on a journaled filesystem,
 * whose members' FINAL chunks then share one fdatasync (writer.c, "FINAL syncs shared"): 1 yes,
 * 2 yes after a directory's fsync (STORE_FINAL_COMMIT: ext4 with fast_commit), 0 no, < 0 found
 * out (the default: store_final_sync). For tests, whose directories may be on either.
 */
void store_sync_group_set_journaled(struct store_sync_group *g, int journaled);
/* Shared FINAL fdatasyncs preceded by a directory's fsync (STORE_FINAL_COMMIT) so far. */
uint64_t store_sync_group_final_commits(const struct store_sync_group *g);

/* How the FINAL chunks of files in a directory are made durable (writer.c, store_final_sync). */
enum store_final_sync {
	STORE_FINAL_OWN,    /* each file's own fdatasync (no ext4, or no journal) */
	STORE_FINAL_SHARED, /* one fdatasync of the file cut last (ext4, a journal, no fast commits)
			     */
	STORE_FINAL_COMMIT, /* the same after an fsync of a directory (ext4 with fast_commit) */
};
/*
 * How the FINAL chunks of files in the directory dir_fd may share a sync (writer.c, "FINAL syncs
 * shared"). proc is "/proc" (tests pass a tree of their own: fs/jbd2/<device>-<n>,
 * fs/ext4/<device>/fc_info). Without fast commits counted yet on an ext4 with a journal, it syncs
 * a nameless file's size change in dir_fd to find out (blocking: a journal commit).
 */
enum store_final_sync store_final_sync(int dir_fd, const char *proc);
/*
 * The text of /proc/fs/ext4/<device>/fc_info: 1 when it counts a fast commit or one that fell
 * back to a full commit (the volume has fast_commit), 0 when it counts neither, -1 when it has
 * not both counts.
 */
int store_fc_info_used(const char *text);

/* Upper bound (microseconds) of latency histogram bucket i. */
uint64_t store_lat_bucket_upper_us(unsigned i);
/* Latency at quantile q (0..1) as a bucket upper bound in microseconds; 0 when no samples. */
uint64_t store_lat_quantile_us(const struct store_writer_stats *s, double q);

/* ---- reader ---- */

/* Fills the 32-byte key for a file's key id/version/recording id: 0 or -errno (-ENOKEY). */
struct store_key_lookup {
	int (*fn)(void *userdata, const char *key_id, uint32_t key_version,
		  const char *recording_id, uint8_t ret_key[STORE_KEY_SIZE]);
	void *userdata;
};

struct store_reader;

/* Opens and validates the header; finds the key through lookup (may be NULL for unencrypted
 * files). -ENODATA for a file that holds nothing (empty, or every byte zero: created, and a
 * crash came before its header's write reached the disk, docs/FORMAT.md), -EBADMSG for a bad
 * header, -ENOKEY / lookup's error when the key is unavailable. */
int store_reader_open(const char *path, const struct store_key_lookup *lookup,
		      struct store_reader **ret);
/* The same over a memory buffer (not copied; must outlive the reader). */
int store_reader_open_mem(const uint8_t *buf, size_t len, const struct store_key_lookup *lookup,
			  struct store_reader **ret);
struct store_reader *store_reader_free(struct store_reader *r);
const struct store_header *store_reader_header(const struct store_reader *r);
/*
 * Next frame in file order. Returns 1 with *ret (its payload valid until the next call), 0 at
 * the end: store_reader_status() then says whether the end was clean (FINAL seen), the file was
 * incomplete, or a chunk failed verification. -EBADMSG for a malformed frame inside an
 * authenticated chunk, -errno on I/O error.
 */
int store_reader_next_frame(struct store_reader *r, struct store_frame *ret);

struct store_check_result {
	bool complete;		 /* FINAL chunk seen, nothing after it, every chunk intact */
	bool failed;		 /* a chunk failed: first_bad_index and reason say which */
	uint64_t chunks;	 /* intact chunks */
	uint64_t frames;	 /* frames in intact chunks */
	int64_t last_good_index; /* -1 if none */
	int64_t first_bad_index; /* -1 if none */
	enum store_chunk_status reason;
	uint64_t file_size;
	uint64_t data_end; /* end of the last intact chunk (of the header if none): below file_size
			    * when written-ahead zeros follow, docs/FORMAT.md */
};
/* The reader's state so far (final once next_frame returned 0). */
void store_reader_status(const struct store_reader *r, struct store_check_result *ret);
/* Fraction (0..1) of the file consumed, for progress output. */
double store_reader_progress(const struct store_reader *r);

/* Reads the whole of path: 0 and *ret (a truncated, incomplete or tampered file is still a 0
 * return, described in *ret), or -errno when it cannot be opened or the header is bad
 * (store_reader_open's: -ENODATA when the file holds nothing). */
int store_file_check(const char *path, const struct store_key_lookup *lookup,
		     struct store_check_result *ret);

/* ---- .metadata ---- */

/*
 * Writes path (O_EXCL via a temporary file, fsync, rename; mode 0600) with the JSON envelope of
 * docs/FORMAT.md: json_plaintext sealed with alg under key, associated data = ad (the recording
 * or session id). Blocking: for the catalog thread or session setup, never the ring thread.
 */
int store_metadata_write(const char *path, enum store_alg alg, const uint8_t key[STORE_KEY_SIZE],
			 const char *key_id, uint32_t key_version, const char *ad,
			 const char *json_plaintext, uint64_t created_ns);
/* Reads and opens a .metadata file: *ret_plain (malloc'ed, NUL-terminated) on success;
 * -EBADMSG for a malformed or unauthentic file. The key is found through lookup with ad as the
 * recording id. */
int store_metadata_read(const char *path, const struct store_key_lookup *lookup, const char *ad,
			char **ret_plain);

/* ---- audio: one stream's frames back to linear PCM (for siprec-export) ---- */

struct store_track;
/*
 * A track whose negotiated codec is codec (an SDP encoding name, the recording header's) on
 * payload type pt. Every frame is decoded by its own payload type (see store_track_map_pt);
 * a codec without a decoder (EVS, G.723.1, iLBC, ...) is accepted: its frames are counted and
 * reported by store_track_pts(), never decoded as something else.
 */
int store_track_new(const char *codec, uint8_t pt, struct store_track **ret);
struct store_track *store_track_free(struct store_track *t);
/*
 * Maps payload type pt to an SDP encoding (name, clock rate, a=fmtp parameters or NULL when
 * unknown), overriding RFC 3551's static table; "telephone-event" marks RFC 4733 events.
 * -EOPNOTSUPP (the mapping is kept) when no decoder exists for name; -EINVAL for pt > 127.
 */
int store_track_map_pt(struct store_track *t, uint8_t pt, const char *name, uint32_t clock_rate,
		       const char *fmtp);
/* Copies an RTP frame's payload into the track (other frame types are ignored). -E2BIG past the
 * packet limit. */
int store_track_add(struct store_track *t, const struct store_frame *f);
/* Output sample rate: the highest of the decodable codecs present (8000 G.711, G.729, GSM,
 * G.726, AMR; 16000 G.722, AMR-WB; 48000 opus), else the negotiated codec's, else 8000. */
unsigned store_track_rate(struct store_track *t);
size_t store_track_packets(const struct store_track *t);
/* CLOCK_REALTIME arrival of the first packet, 0 if none. */
uint64_t store_track_first_arrival_ns(const struct store_track *t);

/* One payload type seen in a track. */
struct store_pt_info {
	uint8_t pt;
	const char *name; /* encoding name, NULL for an unmapped dynamic type; valid with t */
	uint64_t frames;
	bool decoded; /* a decoder exists: in the audio */
	bool event;   /* RFC 4733 telephone-event: out of the audio, see store_track_dtmf */
	bool silence; /* RFC 3389 comfort noise: exported as silence */
};
/* Fills ret with up to max payload types seen, in numeric order; returns how many. */
size_t store_track_pts(struct store_track *t, struct store_pt_info *ret, size_t max);
/* Payloads the last store_track_render() found malformed (each a gap of silence). */
uint64_t store_track_corrupt(const struct store_track *t);

/* One RFC 4733 event (DTMF 0-15, flash 16) as recorded. */
struct store_dtmf {
	char digit; /* '0'-'9', '*', '#', 'A'-'D', 'F' (flash) */
	uint8_t event;
	uint64_t start_ns; /* CLOCK_REALTIME, on the same time line as the audio */
	uint32_t duration_ms;
	bool ended; /* an end packet was received */
};
/* The events of the track, one per digit press (retransmitted end packets merged), in time
 * order; *ret points into the track until the next call or store_track_free(). */
int store_track_dtmf(struct store_track *t, const struct store_dtmf **ret, size_t *ret_n);
/*
 * Decodes the track into mono PCM at store_track_rate(), sample 0 being the instant origin_ns:
 * packets placed by RTP timestamp (reordered and duplicate packets handled, gaps are silence),
 * each SSRC or timestamp discontinuity anchored by its arrival time. *ret (malloc'ed) and
 * *ret_n on success; -EFBIG beyond a day of audio.
 */
int store_track_render(struct store_track *t, uint64_t origin_ns, int16_t **ret, size_t *ret_n);
/* ---- audio output (siprec-export) ---- */

enum store_audio_format { STORE_AUDIO_WAV, STORE_AUDIO_FLAC };
#define STORE_AUDIO_MAX_CHANNELS 64u

/*
 * Writes nch channels of 16-bit PCM at rate to path, a new file of mode 0600 (-EEXIST if it
 * exists): ch[c] holds n[c] samples, shorter channels end in silence. WAV of more than two
 * channels is WAVE_FORMAT_EXTENSIBLE with no speaker mask; FLAC (libFLAC, lossless) takes at
 * most 8 channels (-E2BIG). -EFBIG for a WAV past 4 GiB. Nothing is left behind on failure.
 */
int store_audio_write(const char *path, enum store_audio_format fmt, int16_t *const *ch,
		      const size_t *n, unsigned nch, unsigned rate);
/* Mixes nch channels into one (sum, saturated at the 16-bit range): *ret (malloc'ed) has as
 * many samples as the longest channel. */
int store_pcm_mix(int16_t *const *ch, const size_t *n, unsigned nch, int16_t **ret, size_t *ret_n);
/* Linear-interpolation upsampling by an integer factor: *ret (malloc'ed) has n * factor samples. */
int store_pcm_upsample(const int16_t *in, size_t n, unsigned factor, int16_t **ret);
