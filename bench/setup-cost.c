// SPDX-License-Identifier: MIT
/*
 * The per-call work of a SIPREC setup that runs outside io_uring, one piece at a time, for
 * callgrind (bench/setup-cost.sh): valgrind 3.19 holds its big lock across a blocking
 * io_uring_enter, so siprecd's threads deadlock under it and the daemon as a whole cannot be
 * counted. Pieces: "catalog" (the rows, trail entries and barriers of one call, as session.c
 * queues them, applied by catalog_sync GROUP calls to a batch), "sdp" (the offer siprec-src
 * sends, parsed), "metadata" (its RFC 7865 document parsed and turned into JSON), "stream" (the
 * media worker's part of a call's two streams: a UDP socket bound, the recording file created
 * through the storage writer, 10 frames each (200 ms of 20 ms packets), the FINAL chunk sealed,
 * written and fdatasync'd through a plain io_uring, the file's SHA-256, close). callgrind counts
 * user-space instructions only: the kernel's side of bind, open, the writes and fdatasync is not
 * in the figure. The io_uring here is one thread's, waited on directly, which valgrind runs.
 * "keys": the SIP thread's per-recording key derivation for the call's two streams
 * (keys_recording_key_new derives each recording's key from the data key by HKDF-SHA256 with
 * "siprecd recording" + the recording's id as info, as keys_derive_recording does).
 *
 * usage: setup-cost catalog|sdp|metadata|stream|keys CALLS [GROUP]
 * SETUP_COST_KEEP=1: "catalog" keeps its catalog (the directory is printed), e.g. to map the WAL
 * frames an strace of its pwrite64s shows to the tables and indexes they belong to (dbstat).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "siprecd/catalog.h"
#include "siprecd/keys.h"
#include "siprecd/loop.h"
#include "siprecd/sdp.h"
#include "siprecd/siprec.h"
#include "siprecd/storage.h"

static const char offer[] =
	"v=0\r\no=siprec-src 1000 1 IN IP4 127.0.0.1\r\ns=SIPREC\r\nc=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\n"
	"m=audio 40000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=label:1\r\n"
	"a=sendonly\r\na=rtcp-mux\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
	"m=audio 40002 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=label:2\r\n"
	"a=sendonly\r\na=rtcp-mux\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk\r\n";

static const char metadata[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
	"<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">\r\n"
	"  <datamode>complete</datamode>\r\n"
	"  <group group_id=\"7+OTCyoxTmqmqyA/1weDAg==\">\r\n"
	"    <associate-time>2026-12-04T14:00:00Z</associate-time>\r\n"
	"  </group>\r\n"
	"  <session session_id=\"hVpd7YQgRW2nD22h7q60JQ==\">\r\n"
	"    <group-ref>7+OTCyoxTmqmqyA/1weDAg==</group-ref>\r\n"
	"    <start-time>2026-12-04T14:00:00Z</start-time>\r\n"
	"  </session>\r\n"
	"  <participant participant_id=\"srfBElmCRp2QB23b7Mpk0w==\">\r\n"
	"    <nameID aor=\"sip:alice@example.com\">\r\n"
	"      <name xml:lang=\"en\">Caller</name>\r\n"
	"    </nameID>\r\n"
	"  </participant>\r\n"
	"  <participant participant_id=\"zSfPoSvdSDCmU3A3TRDxAw==\">\r\n"
	"    <nameID aor=\"sip:bob@example.com\">\r\n"
	"      <name xml:lang=\"en\">Callee</name>\r\n"
	"    </nameID>\r\n"
	"  </participant>\r\n"
	"  <stream stream_id=\"UAAMm5GRQKSCMVvLyl4rFw==\" "
	"session_id=\"hVpd7YQgRW2nD22h7q60JQ==\">\r\n"
	"    <label>1</label>\r\n"
	"  </stream>\r\n"
	"  <stream stream_id=\"i1Pz3to5hGk8fuXl+PbwCw==\" "
	"session_id=\"hVpd7YQgRW2nD22h7q60JQ==\">\r\n"
	"    <label>2</label>\r\n"
	"  </stream>\r\n"
	"  <participantstreamassoc participant_id=\"srfBElmCRp2QB23b7Mpk0w==\">\r\n"
	"    <send>UAAMm5GRQKSCMVvLyl4rFw==</send>\r\n"
	"    <recv>i1Pz3to5hGk8fuXl+PbwCw==</recv>\r\n"
	"  </participantstreamassoc>\r\n"
	"  <participantstreamassoc participant_id=\"zSfPoSvdSDCmU3A3TRDxAw==\">\r\n"
	"    <send>i1Pz3to5hGk8fuXl+PbwCw==</send>\r\n"
	"    <recv>UAAMm5GRQKSCMVvLyl4rFw==</recv>\r\n"
	"  </participantstreamassoc>\r\n"
	"</recording>\r\n";

static void barrier_done(void *userdata, int result)
{
	int *failed = userdata;

	if (result < 0)
		(*failed)++;
}

/* What session.c queues for a call (19 operations): at the INVITE the session, its metadata
 * snapshot, per stream a participant, the stream, its format and its recording (with a trail
 * entry), the session again with the metadata's session id, then a barrier before the 200 OK;
 * at the BYE per stream its statistics and its recording's final state (with a trail entry) and
 * a barrier before its recording-finalized, and the session's end. */
static void call_invite(struct catalog *c, unsigned i, int *failed)
{
	char uuid[40], rec[2][48], path[2][160], cid[48], label[2][4], part[2][8];

	snprintf(uuid, sizeof(uuid), "s-%08u", i);
	snprintf(cid, sizeof(cid), "call-%u@127.0.0.1", i);
	catalog_session_begin(c, &(struct catalog_session){.uuid = uuid,
							   .call_id = cid,
							   .src_addr = "127.0.0.1:5061",
							   .transport = "tls",
							   .started_at = 1764856800000u + i});
	catalog_metadata_snapshot(c, &(struct catalog_metadata){.session_uuid = uuid,
								.seq = 1,
								.received_at = 1764856800000u,
								.datamode = "complete",
								.body = metadata,
								.body_len = sizeof(metadata) - 1,
								.json = "{}",
								.dialect = "rfc7865"});
	for (unsigned k = 0; k < 2; k++) {
		snprintf(label[k], sizeof(label[k]), "%u", k + 1);
		snprintf(part[k], sizeof(part[k]), "p%u", k);
		snprintf(rec[k], sizeof(rec[k]), "r-%08u-%u", i, k);
		snprintf(path[k], sizeof(path[k]), "/var/lib/siprecd/recordings/%s.siprec", rec[k]);
		catalog_participant_upsert(
			c, &(struct catalog_participant){.session_uuid = uuid,
							 .participant_id = part[k],
							 .name = k ? "Callee" : "Caller",
							 .aor = k ? "sip:bob@example.com"
								  : "sip:alice@example.com"});
		catalog_stream_upsert(
			c, &(struct catalog_stream){.session_uuid = uuid,
						    .label = label[k],
						    .participant_id = part[k],
						    .direction = "sendonly",
						    .codec = "PCMU",
						    .payload_type = 0,
						    .clock_rate = 8000,
						    .srtp_suite = "AES_CM_128_HMAC_SHA1_80",
						    .local_port = (uint16_t)(20000 + k)});
		catalog_stream_format_add(c, &(struct catalog_stream_format){.session_uuid = uuid,
									     .label = label[k],
									     .payload_type = 0,
									     .encoding = "PCMU",
									     .clock_rate = 8000});
		catalog_recording_begin(c,
					&(struct catalog_recording){.uuid = rec[k],
								    .session_uuid = uuid,
								    .stream_label = label[k],
								    .path = path[k],
								    .algorithm = "AES-256-GCM",
								    .created_at = 1764856800000u});
	}
	catalog_session_begin(
		c, &(struct catalog_session){.uuid = uuid,
					     .call_id = cid,
					     .siprec_session_id = "hVpd7YQgRW2nD22h7q60JQ==",
					     .src_addr = "127.0.0.1:5061",
					     .transport = "tls",
					     .started_at = 1764856800000u + i});
	catalog_barrier(c, barrier_done, failed);
}

static void call_bye(struct catalog *c, unsigned i, int *failed)
{
	char uuid[40], rec[48], label[4];

	snprintf(uuid, sizeof(uuid), "s-%08u", i);
	for (unsigned k = 0; k < 2; k++) {
		snprintf(label, sizeof(label), "%u", k + 1);
		snprintf(rec, sizeof(rec), "r-%08u-%u", i, k);
		catalog_stream_stats(c, &(struct catalog_stream_stats){.session_uuid = uuid,
								       .label = label,
								       .packets = 10,
								       .bytes = 1720,
								       .state = "ended",
								       .first_packet_at = 1,
								       .last_packet_at = 2});
		catalog_recording_final(c, &(struct catalog_recording_final){
						   .uuid = rec,
						   .size = 8192,
						   .chunks = 2,
						   .frames = 10,
						   .sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae4"
							     "1e4649b934ca495991b7852b855",
						   .complete = true,
						   .state = "final",
						   .finalized_at = 3});
		catalog_barrier(c, barrier_done, failed);
	}
	catalog_session_end(c, uuid, 4, "ended", "bye");
}

static int run_catalog(unsigned calls, unsigned group)
{
	char dir[] = "/tmp/setup-cost.XXXXXX", path[96], err[256] = "";
	struct catalog *c = NULL;
	int failed = 0, r;

	if (!mkdtemp(dir))
		return -errno;
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	r = catalog_open(path, err, sizeof(err), &c);
	if (r < 0) {
		fprintf(stderr, "setup-cost: %s\n", err);
		return r;
	}
	/* no catalog thread: catalog_sync applies what is queued as one batch, here */
	for (unsigned i = 0; i < calls; i += group) {
		for (unsigned j = i; j < i + group && j < calls; j++)
			call_invite(c, j, &failed);
		catalog_sync(c);
		for (unsigned j = i; j < i + group && j < calls; j++)
			call_bye(c, j, &failed);
		catalog_sync(c);
	}
	catalog_free(c);
	if (getenv("SETUP_COST_KEEP")) {
		fprintf(stderr, "setup-cost: catalog kept in %s\n", dir);
		return failed ? -EIO : 0;
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/catalog.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/catalog.db-shm", dir);
	unlink(path);
	rmdir(dir);
	if (failed) {
		fprintf(stderr, "setup-cost: %d barriers failed\n", failed);
		return -EIO;
	}
	return 0;
}

static int run_sdp(unsigned calls)
{
	static struct sdp_session s;

	for (unsigned i = 0; i < calls; i++)
		if (sdp_parse(offer, sizeof(offer) - 1, NULL, &s) < 0 || s.n_media != 2)
			return -EBADMSG;
	return 0;
}

static int run_metadata(unsigned calls)
{
	for (unsigned i = 0; i < calls; i++) {
		struct siprec_metadata *md = NULL;
		char *json = NULL;

		if (siprec_metadata_parse(metadata, sizeof(metadata) - 1, NULL, &md) < 0)
			return -EBADMSG;
		if (siprec_metadata_to_json(md, &json) < 0)
			return -ENOMEM;
		free(json);
		siprec_metadata_free(md);
	}
	return 0;
}

static int run_keys(unsigned calls)
{
	static const uint8_t dek[32] = {7, 7, 7};
	uint8_t out[32];

	for (unsigned i = 0; i < calls; i++)
		for (unsigned k = 0; k < 2; k++) {
			char info[64];
			int n = snprintf(info, sizeof(info), "siprecd recordingr-%08u-%u", i, k);

			if (keys_hkdf_sha256(dek, sizeof(dek), NULL, 0, (const uint8_t *)info,
					     (size_t)n, out, sizeof(out)) < 0)
				return -EIO;
		}
	return 0;
}

static int ring_get_sqes(void *userdata, unsigned n, struct io_uring_sqe **ret)
{
	struct io_uring *ring = userdata;

	if (io_uring_sq_space_left(ring) < n)
		return -EBUSY;
	for (unsigned i = 0; i < n; i++)
		ret[i] = io_uring_get_sqe(ring);
	return 0;
}

/* As the worker's loop does: submit, then dispatch each CQE to its struct loop_op. */
static int ring_run(struct io_uring *ring, struct store_writer *w)
{
	while (store_writer_in_flight(w) || io_uring_sq_ready(ring)) {
		struct io_uring_cqe *cqe;
		struct loop_op *op;
		uint32_t flags;
		int res, r;

		r = io_uring_submit_and_wait(ring, 1);
		if (r < 0)
			return r;
		if ((r = io_uring_wait_cqe(ring, &cqe)) < 0)
			return r;
		op = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		flags = cqe->flags;
		io_uring_cqe_seen(ring, cqe);
		op->fn(op, res, flags);
	}
	return store_writer_error(w);
}

/* One stream of a call, between its two halves (stream_open, stream_end). */
struct live_stream {
	struct store_writer *w;
	int fd;
	char path[160];
};

/* The worker's side of one stream, from worker_stream_start to its receives armed. */
static int stream_open(struct io_uring *ring, const char *dir, unsigned i, unsigned k,
		       struct live_stream *ls)
{
	static const uint8_t key[STORE_KEY_SIZE] = {1, 2, 3};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char rec[48], label[4];
	int r;

	snprintf(rec, sizeof(rec), "r-%08u-%u", i, k);
	snprintf(label, sizeof(label), "%u", k + 1);
	snprintf(ls->path, sizeof(ls->path), "%s/%s.siprec", dir, rec);
	ls->w = NULL;
	ls->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls->fd < 0)
		return -errno;
	if (bind(ls->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	r = store_writer_open(&(struct store_params){.path = ls->path,
						     .alg = STORE_ALG_AES_256_GCM,
						     .key = key,
						     .key_id = "bench:key",
						     .key_version = 1,
						     .recording_id = rec,
						     .session_id = "s",
						     .stream_label = label,
						     .codec = "PCMU",
						     .clock_rate = 8000},
			      &ls->w);
	if (r < 0)
		return r;
	if ((r = store_writer_submit(ls->w, ring_get_sqes, ring, false)) < 0)
		return r;
	return ring_run(ring, ls->w);
}

/* Its 10 frames, the FINAL chunk written and made durable, to stream_finish_done. */
static int stream_end(struct io_uring *ring, unsigned k, struct live_stream *ls)
{
	uint8_t payload[160], sha[32];
	int r = 0;

	memset(payload, 0xd5, sizeof(payload));
	for (unsigned n = 0; ls->w && n < 10; n++) {
		r = store_writer_add(ls->w,
				     &(struct store_frame){.type = STORE_FRAME_RTP,
							   .len = sizeof(payload),
							   .arrival_ns = 1764856800000000000ull +
									 n * 20000000ull,
							   .ssrc = 0x11223344 + k,
							   .seq = (uint16_t)n,
							   .rtp_ts = n * 160,
							   .payload = payload});
		if (r < 0)
			goto out;
	}
	if (!ls->w || (r = store_writer_finish(ls->w)) < 0 ||
	    (r = store_writer_submit(ls->w, ring_get_sqes, ring, true)) < 0 ||
	    (r = ring_run(ring, ls->w)) < 0 || (r = store_writer_sha256(ls->w, sha)) < 0)
		goto out;
	r = store_writer_durable_final(ls->w) ? 0 : -EIO;
out:
	if (ls->w && store_writer_close(ls->w) < 0 && r == 0)
		r = -EBUSY;
	if (ls->fd >= 0)
		close(ls->fd);
	unlink(ls->path);
	return r;
}

/* LIVE calls are open at once (1: one after the other): each new call's streams are opened,
 * then the oldest call's ended, as a worker's streams overlap under load. */
static int run_stream(unsigned calls, unsigned live)
{
	char dir[] = "/var/tmp/setup-cost.XXXXXX";
	struct live_stream *ls = calloc((size_t)live * 2, sizeof(*ls));
	struct io_uring ring;
	int r = 0;

	if (!ls)
		return -ENOMEM;
	if (!mkdtemp(dir)) {
		free(ls);
		return -errno;
	}
	if ((r = io_uring_queue_init(64, &ring, 0)) < 0) {
		rmdir(dir);
		free(ls);
		return r;
	}
	for (unsigned i = 0; i < calls + live && r == 0; i++) {
		struct live_stream *slot = &ls[(i % live) * 2];

		for (unsigned k = 0; k < 2 && r == 0; k++)
			if (i >= live)
				r = stream_end(&ring, k, &slot[k]);
		for (unsigned k = 0; k < 2 && r == 0; k++)
			if (i < calls)
				r = stream_open(&ring, dir, i, k, &slot[k]);
	}
	io_uring_queue_exit(&ring);
	rmdir(dir);
	free(ls);
	return r;
}

int main(int argc, char **argv)
{
	unsigned calls, group = 1;
	int r;

	if (argc < 3 || (calls = (unsigned)strtoul(argv[2], NULL, 10)) == 0 ||
	    (argc > 3 && (group = (unsigned)strtoul(argv[3], NULL, 10)) == 0)) {
		fprintf(stderr,
			"usage: setup-cost catalog|sdp|metadata|stream|keys CALLS [GROUP]\n");
		return 1;
	}
	if (strcmp(argv[1], "catalog") == 0)
		r = run_catalog(calls, group);
	else if (strcmp(argv[1], "sdp") == 0)
		r = run_sdp(calls);
	else if (strcmp(argv[1], "metadata") == 0)
		r = run_metadata(calls);
	else if (strcmp(argv[1], "stream") == 0)
		r = run_stream(calls, group);
	else if (strcmp(argv[1], "keys") == 0)
		r = run_keys(calls);
	else
		r = -EINVAL;
	if (r < 0) {
		fprintf(stderr, "setup-cost %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	return 0;
}
