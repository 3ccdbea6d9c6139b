// SPDX-License-Identifier: MIT
/*
 * siprec-export: verifies and decrypts .siprec recordings and writes them as WAV or FLAC (one
 * channel per stream, a mono mix, or one file per participant), as a pcap of the RTP packets,
 * or describes them (payload types, DTMF digits) as JSON. Streams can be named as files or by
 * session through the catalog. Exit status: 0 ok, 1 usage or I/O, 2 integrity failure, 3 incomplete
 * recording.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "export-s3.h"
#include "siprecd/compliance.h"
#include "siprecd/config.h"
#include "siprecd/keys.h"
#include "siprecd/macro.h"
#include "siprecd/s3.h"
#include "siprecd/storage.h"
#include "siprecd/str.h"

/* Half of a 20 ms packet: first-packet skew below it between two legs is jitter. */
#define START_JITTER_NS 10000000ULL

#define EXIT_USAGE 1
#define EXIT_INTEGRITY 2
#define EXIT_INCOMPLETE 3
#define MAX_INPUTS 64

struct input {
	char *path;
	char *label;
	struct store_header h;
	struct store_track *track;
	struct store_check_result res;
	/* The participant who sent the stream (catalog or the session's .metadata), or NULL. */
	char *part_id, *part_name, *part_aor;
	bool downloaded; /* path is a temporary copy of an object in a bucket: unlinked at exit */
	bool empty;	 /* holds nothing (--allow-incomplete): left out of the export */
};

/* Frees what an input holds, and unlinks its file when it is a temporary copy (tmp: a
 * downloaded object the caller fetched; in->downloaded: one this input fetched). */
static void input_release(struct input *in, bool tmp)
{
	if ((tmp || in->downloaded) && in->path)
		unlink(in->path);
	free(in->path);
	free(in->label);
	free(in->part_id);
	free(in->part_name);
	free(in->part_aor);
	store_track_free(in->track);
	in->path = in->label = in->part_id = in->part_name = in->part_aor = NULL;
	in->track = NULL;
}

static struct {
	const char *key_file;
	const char *wav;
	const char *pcap;
	enum store_audio_format format;
	bool format_set;
	bool mix;
	bool skip_undecodable;
	const char *per_participant;
	bool metadata_json;
	bool allow_incomplete;
	bool progress;
	bool by_label;
	const char *session;
	const char *catalog;
	const char *config;
	const char *private_key;
	const char *metadata_file;    /* --metadata: a sealed <session>.metadata file */
	const char *catalog_metadata; /* --catalog-metadata: a session's catalog snapshots */
	uint8_t priv[32];
	bool have_priv;
	char *catalog_owned; /* the config's catalog when --catalog is not given */
	struct keys *keys;
	bool verify_trail;     /* --verify-trail: the compliance trail of --catalog */
	const char *trail_key; /* --trail-key: its public key (default beside the catalog) */
} arg;

static void help(void)
{
	printf("Usage: siprec-export [OPTIONS] FILE.siprec [FILE2.siprec...]\n"
	       "       siprec-export [OPTIONS] --session UUID --catalog DB\n"
	       "       siprec-export [OPTIONS] s3://BUCKET/KEY.siprec...  (S3_* of --config,\n"
	       "                         checked against the manifest beside it)\n"
	       "\n"
	       "Verifies and decrypts siprecd recordings.\n"
	       "\n"
	       "  -k, --key-file PATH    key file the recordings were written with\n"
	       "  -c, --config PATH      use siprecd's key hierarchy (ENCRYPTION_KEY_STORE, the\n"
	       "                         KEK and the catalog of this configuration)\n"
	       "      --private-key PEM  X25519 private key of write-only recordings (their\n"
	       "                         envelopes are read from --catalog or the config's)\n"
	       "  -o, --output OUT.wav   write audio, one channel per stream (one stream mono,\n"
	       "                         two stereo, first stream left; N streams N channels,\n"
	       "                         WAVE_FORMAT_EXTENSIBLE); OUT.flac (or --format flac)\n"
	       "                         writes lossless FLAC (libFLAC, at most 8 channels)\n"
	       "      --mix              with -o: one mono channel, the sum of every stream\n"
	       "      --per-participant DIR\n"
	       "                         one mono file per participant in DIR (NN-NAME.wav or\n"
	       "                         .flac), the mix of the streams that participant sent\n"
	       "                         (catalog streams.participant_id, else the session's\n"
	       "                         .metadata; a stream of unknown sender gets its own)\n"
	       "      --format wav|flac  output format (default: from -o's extension, else wav)\n"
	       "                         Every RTP frame is decoded by its own payload type:\n"
	       "                         G.711, G.726, G.729(A/B), GSM, AMR at 8 kHz, G.722 and\n"
	       "                         AMR-WB at 16 kHz, opus at 48 kHz, mixed rates upsampled\n"
	       "                         to the highest; RFC 4733 DTMF is silence (digits in\n"
	       "                         --metadata-json). A stream whose codec has no decoder\n"
	       "                         (EVS, G.723.1, iLBC) fails the audio export with its\n"
	       "                         name: export it with --pcap, or:\n"
	       "      --skip-undecodable write the other streams, naming the one left out\n"
	       "      --pcap OUT.pcap    write the RTP/RTCP packets (raw IPv4/UDP, synthesised)\n"
	       "      --metadata-json    print the headers, verification results, payload types\n"
	       "                         seen, DTMF digits and the decrypted FILE.metadata (when\n"
	       "                         present) as JSON\n"
	       "      --metadata FILE    decrypt a session's FILE.metadata (named <session\n"
	       "                         uuid>.metadata, ENABLE_METADATA_ENCRYPTION) and print it\n"
	       "      --catalog-metadata UUID\n"
	       "                         print the session's metadata snapshots from the\n"
	       "                         catalog as JSON, decrypting sealed ones\n"
	       "      --by-label         order streams by label (numeric labels numerically)\n"
	       "                         instead of command-line order\n"
	       "      --session UUID     export every recording of a session (ordered by label)\n"
	       "      --catalog DB       the catalog to find --session in (opened read-only);\n"
	       "                         recordings offloaded to S3 are read from the bucket\n"
	       "      --allow-incomplete export an incomplete recording (no FINAL chunk) up to\n"
	       "                         its last intact chunk, with a warning, and exit 0; an\n"
	       "                         empty one (nothing reached the disk) is left out\n"
	       "      --progress         print progress on stderr (default when it is a tty)\n"
	       "      --verify-trail     verify the compliance trail of --catalog (or the\n"
	       "                         configuration's): chain, signed heads, and every file\n"
	       "                         it says exists, with its sha256; exit 2 when tampered\n"
	       "      --trail-key PUB    the trail's Ed25519 public key (default: the\n"
	       "                         TRAIL_SIGNING_KEY.pub of the configuration, else\n"
	       "                         trail-signing.key.pub beside the catalog)\n"
	       "  -h, --help             show this help\n"
	       "\n"
	       "Without -o, --per-participant, --pcap or --metadata-json the recordings are\n"
	       "only verified.\n"
	       "Exit status: 0 ok, 1 usage or I/O error, 2 integrity failure (the message names\n"
	       "the chunk and what failed), 3 incomplete (readable up to the chunk named, or\n"
	       "empty: nothing of it reached the disk before a crash).\n");
}

static int lookup_key(void *ud, const char *key_id, uint32_t key_version, const char *rec,
		      uint8_t ret_key[STORE_KEY_SIZE])
{
	struct recording_key rk;
	int r;

	if (arg.have_priv && strncmp(key_id, "pub:", 4) == 0) {
		const char *cat = arg.catalog ? arg.catalog : arg.catalog_owned;

		return cat ? keys_envelope_lookup(cat, arg.priv, rec, ret_key) : -ENOKEY;
	}
	if (strncmp(key_id, "pub:", 4) == 0)
		return -EKEYREJECTED; /* write-only: nothing but the private key opens it */
	if (!arg.keys)
		return -ENOKEY;
	r = keys_recording_key_get(arg.keys, key_id, key_version, rec, &rk);
	if (r < 0)
		return r;
	memcpy(ret_key, rk.key, STORE_KEY_SIZE);
	recording_key_wipe(&rk);
	return 0;
}

static const struct store_key_lookup lookup = {lookup_key, NULL};

/* --metadata: the file is <session uuid>.metadata, sealed with the session's key and its uuid
 * as associated data (docs/KEYS.md). */
static int print_metadata_file(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t l = strlen(base);
	char uuid[KEYS_RECORDING_ID_MAX + 1], *plain = NULL;
	int r;

	if (l <= 9 || strcmp(base + l - 9, ".metadata") != 0 || l - 9 > KEYS_RECORDING_ID_MAX) {
		fprintf(stderr, "siprec-export: %s: not a <session>.metadata file\n", path);
		return EXIT_USAGE;
	}
	snprintf(uuid, sizeof(uuid), "%.*s", (int)(l - 9), base);
	r = store_metadata_read(path, &lookup, uuid, &plain);
	if (r < 0) {
		fprintf(stderr, "siprec-export: %s: %s\n", path,
			r == -EKEYREVOKED ? "key destroyed: crypto-shredded, can never be read"
			: r == -EKEYREJECTED
				? "written in write-only mode: only its private key can open it"
				: strerror(-r));
		return r == -EBADMSG ? EXIT_INTEGRITY : EXIT_USAGE;
	}
	printf("%s\n", plain);
	free(plain);
	return 0;
}

/* The text of a snapshot column: opened when sealed (aad "<uuid>:<seq>:<what>"). */
static json_object *snapshot_text(const char *uuid, int seq, const char *what, const void *p, int n,
				  bool sealed, bool as_json, int *status)
{
	char aad[KEYS_RECORDING_ID_MAX + 32], *plain = NULL, *text = NULL;
	json_object *o;
	int r;

	if (!p)
		return NULL;
	if (!sealed) {
		text = strndup(p, (size_t)n);
	} else {
		snprintf(aad, sizeof(aad), "%s:%d:%s", uuid, seq, what);
		r = keys_metadata_open(p, (size_t)n, uuid, aad, &lookup, &plain, NULL);
		if (r < 0) {
			*status = r == -EBADMSG ? EXIT_INTEGRITY : EXIT_USAGE;
			return json_object_new_string(r == -EKEYREVOKED ? "error: key destroyed"
									: strerror(-r));
		}
		text = plain;
	}
	if (!text)
		return NULL;
	o = as_json ? json_tokener_parse(text) : NULL;
	if (!o)
		o = json_object_new_string(text);
	if (sealed)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
	return o;
}

/* --catalog-metadata: every metadata snapshot of a session, decrypted. */
static int print_catalog_metadata(const char *uuid)
{
	const char *cat = arg.catalog ? arg.catalog : arg.catalog_owned;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	json_object *arr;
	int status = 0;

	if (!cat || sqlite3_open_v2(cat, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT m.seq, m.received_at, m.datamode, m.body, m.body_encrypted, "
			       "m.json FROM metadata_snapshots m JOIN sessions s ON s.id = "
			       "m.session_id WHERE s.uuid = ? ORDER BY m.seq",
			       -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "siprec-export: %s: %s\n", cat ? cat : "no catalog (--catalog)",
			db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return EXIT_USAGE;
	}
	sqlite3_busy_timeout(db, 10000);
	arr = json_object_new_array();
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_object *o = json_object_new_object(), *v;
		int seq = sqlite3_column_int(st, 0);
		bool sealed = sqlite3_column_int(st, 4) != 0;
		const char *dm = (const char *)sqlite3_column_text(st, 2);

		json_object_object_add(o, "seq", json_object_new_int(seq));
		json_object_object_add(o, "received_at",
				       json_object_new_int64(sqlite3_column_int64(st, 1)));
		json_object_object_add(o, "datamode", dm ? json_object_new_string(dm) : NULL);
		json_object_object_add(o, "sealed", json_object_new_boolean(sealed));
		v = snapshot_text(uuid, seq, "body", sqlite3_column_blob(st, 3),
				  sqlite3_column_bytes(st, 3), sealed, false, &status);
		json_object_object_add(o, "body", v);
		v = snapshot_text(uuid, seq, "json", sqlite3_column_text(st, 5),
				  sqlite3_column_bytes(st, 5), sealed, true, &status);
		json_object_object_add(o, "metadata", v);
		json_object_array_add(arr, o);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return status;
}

/* ---- pcap ---- */

static bool put(FILE *f, const void *p, size_t n)
{
	return fwrite(p, 1, n, f) == n;
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

static bool pcap_header(FILE *f)
{
	uint8_t h[24] = {0};

	le32(h, 0xa1b23c4d); /* nanosecond timestamps */
	h[4] = 2;
	h[6] = 4;
	le32(h + 16, 65535);
	le32(h + 20, 101); /* LINKTYPE_RAW: packets start with the IPv4 header */
	return put(f, h, sizeof(h));
}

/* Stream idx is synthesised as 10.0.0.(idx+1):40000+2*idx -> 10.0.0.254:5004+2*idx (RTCP +1). */
static bool pcap_packet(FILE *f, unsigned idx, const struct store_frame *fr)
{
	uint8_t rec[16], ip[20] = {0}, udp[8], rtp[12];
	bool is_rtp = fr->type == STORE_FRAME_RTP;
	size_t plen = (is_rtp ? 12 : 0) + fr->len, total = 20 + 8 + plen;
	uint16_t sport = (uint16_t)(40000 + 2 * idx + !is_rtp),
		 dport = (uint16_t)(5004 + 2 * idx + !is_rtp);
	uint32_t sum = 0;

	le32(rec, (uint32_t)(fr->arrival_ns / 1000000000ull));
	le32(rec + 4, (uint32_t)(fr->arrival_ns % 1000000000ull));
	le32(rec + 8, (uint32_t)total);
	le32(rec + 12, (uint32_t)total);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = total & 0xff;
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 10;
	ip[15] = (uint8_t)(idx + 1);
	ip[16] = 10;
	ip[19] = 254;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = ~sum & 0xff;
	udp[0] = sport >> 8;
	udp[1] = sport & 0xff;
	udp[2] = dport >> 8;
	udp[3] = dport & 0xff;
	udp[4] = (uint8_t)((8 + plen) >> 8);
	udp[5] = (8 + plen) & 0xff;
	udp[6] = udp[7] = 0; /* no checksum: allowed over IPv4 (RFC 768) */
	if (is_rtp) {
		rtp[0] = 0x80;
		rtp[1] = (uint8_t)((fr->flags & STORE_FRAME_MARKER ? 0x80 : 0) | (fr->pt & 0x7f));
		rtp[2] = fr->seq >> 8;
		rtp[3] = fr->seq & 0xff;
		for (int i = 0; i < 4; i++) {
			rtp[4 + i] = (uint8_t)(fr->rtp_ts >> (24 - 8 * i));
			rtp[8 + i] = (uint8_t)(fr->ssrc >> (24 - 8 * i));
		}
	}
	return put(f, rec, 16) && put(f, ip, 20) && put(f, udp, 8) &&
	       (!is_rtp || put(f, rtp, 12)) && put(f, fr->payload, fr->len);
}

/* ---- audio ---- */

/*
 * Whether a stream can go into audio: false (after naming the codec) when it has audio frames
 * and none of them has a decoder. Frames of other undecodable payload types in a decodable
 * stream are left out as gaps, with a warning.
 */
static bool decodable(struct input *in)
{
	struct store_pt_info pi[128];
	size_t n = store_track_pts(in->track, pi, ARRAY_SIZE(pi));
	uint64_t ok = 0, bad = 0;
	const struct store_pt_info *worst = NULL;

	for (size_t i = 0; i < n; i++) {
		if (pi[i].decoded)
			ok += pi[i].frames;
		else if (!pi[i].event && !pi[i].silence) {
			bad += pi[i].frames;
			if (!worst || pi[i].frames > worst->frames)
				worst = &pi[i];
		}
	}
	for (size_t i = 0; ok && i < n; i++)
		if (!pi[i].decoded && !pi[i].event && !pi[i].silence)
			fprintf(stderr,
				"siprec-export: %s: warning: %llu frames of payload type %u (%s) "
				"have no decoder: exported as silence\n",
				in->path, (unsigned long long)pi[i].frames, pi[i].pt,
				pi[i].name ? pi[i].name : "not negotiated");
	if (ok || !bad)
		return true;
	if (worst->name)
		fprintf(stderr,
			"siprec-export: %s: stream \"%s\": cannot decode codec %s (payload type "
			"%u): no decoder for it; --pcap exports it\n",
			in->path, in->h.stream_label, worst->name, worst->pt);
	else
		fprintf(stderr,
			"siprec-export: %s: stream \"%s\": cannot decode payload type %u: it was "
			"not negotiated as a known codec; --pcap exports it\n",
			in->path, in->h.stream_label, worst->pt);
	return false;
}

/* A string member of a json object, or NULL. */
static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

/* The first string of an array member, or NULL. */
static const char *jfirst(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) == 0)
		return NULL;
	v = json_object_array_get_idx(v, 0);
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* The sender of in's stream in a session metadata model (docs/METADATA.md, JSON): the stream
 * with its label, the association that sends it, the participant of that association. */
static void sender_from_model(struct input *in, json_object *m)
{
	json_object *streams, *psas, *parts;
	const char *sid = NULL, *pid = NULL;

	if (!json_object_object_get_ex(m, "streams", &streams) ||
	    !json_object_object_get_ex(m, "participantstreamassoc", &psas) ||
	    !json_object_object_get_ex(m, "participants", &parts))
		return;
	for (size_t i = 0; !sid && i < json_object_array_length(streams); i++) {
		json_object *st = json_object_array_get_idx(streams, i);
		const char *l = jstr(st, "label");

		if (l && strcmp(l, in->h.stream_label) == 0)
			sid = jstr(st, "id");
	}
	for (size_t i = 0; sid && !pid && i < json_object_array_length(psas); i++) {
		json_object *a = json_object_array_get_idx(psas, i), *send;

		if (!json_object_object_get_ex(a, "send", &send))
			continue;
		for (size_t k = 0; k < json_object_array_length(send); k++) {
			const char *x = json_object_get_string(json_object_array_get_idx(send, k));

			if (x && strcmp(x, sid) == 0)
				pid = jstr(a, "participant_id");
		}
	}
	for (size_t i = 0; pid && i < json_object_array_length(parts); i++) {
		json_object *pa = json_object_array_get_idx(parts, i);
		const char *id = jstr(pa, "id");

		if (id && strcmp(id, pid) == 0) {
			in->part_id = dup_or_null(id);
			in->part_name = dup_or_null(jfirst(pa, "names"));
			in->part_aor = dup_or_null(jfirst(pa, "aors"));
			return;
		}
	}
}

/*
 * Who sent each stream, for inputs named as files: the catalog's streams.participant_id (by
 * the recording's uuid, when a catalog is at hand), else the session's sealed
 * <session>.metadata beside the recording. Streams with neither keep their own file.
 */
static void participants_from_metadata(struct input *in, unsigned nin)
{
	const char *cat = arg.catalog ? arg.catalog : arg.catalog_owned;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	if (cat && access(cat, R_OK) == 0 &&
	    sqlite3_open_v2(cat, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		sqlite3_prepare_v2(db,
				   "SELECT p.participant_id, p.name, p.aor FROM recordings r "
				   "JOIN streams s ON s.id = r.stream_id JOIN participants p ON "
				   "p.id = s.participant_id WHERE r.uuid = ?1",
				   -1, &st, NULL);
	for (unsigned i = 0; i < nin; i++) {
		_cleanup_free_ char *dir = NULL, *mpath = NULL, *plain = NULL;
		json_object *m;

		if (in[i].part_id)
			continue;
		if (st) {
			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, in[i].h.recording_id, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW) {
				in[i].part_id =
					dup_or_null((const char *)sqlite3_column_text(st, 0));
				in[i].part_name =
					dup_or_null((const char *)sqlite3_column_text(st, 1));
				in[i].part_aor =
					dup_or_null((const char *)sqlite3_column_text(st, 2));
				continue;
			}
		}
		if (!in[i].h.session_id[0] || strchr(in[i].h.session_id, '/'))
			continue;
		dir = strdup(in[i].path);
		if (!dir)
			continue;
		if (strrchr(dir, '/'))
			*strrchr(dir, '/') = 0;
		else
			strcpy(dir, ".");
		if (asprintf(&mpath, "%s/%s.metadata", dir, in[i].h.session_id) < 0) {
			mpath = NULL;
			continue;
		}
		if (access(mpath, R_OK) < 0 ||
		    store_metadata_read(mpath, &lookup, in[i].h.session_id, &plain) < 0)
			continue;
		m = json_tokener_parse(plain);
		if (m)
			sender_from_model(&in[i], m);
		json_object_put(m);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Participant files are named after what the metadata says: letters, digits and ._+-@ kept. */
static void sanitize(char *out, size_t cap, const char *in)
{
	size_t o = 0;

	for (; *in && o + 1 < cap; in++)
		out[o++] = (isalnum((unsigned char)*in) || strchr("._+-@", *in)) ? *in : '_';
	out[o] = 0;
}

static int write_audio(const char *path, int16_t *const *ch, const size_t *n, unsigned nch,
		       unsigned rate)
{
	int r = store_audio_write(path, arg.format, ch, n, nch, rate);

	if (r == -E2BIG)
		fprintf(stderr,
			"siprec-export: %s: FLAC holds at most 8 channels, the call has %u "
			"streams: use --mix, --per-participant or WAV\n",
			path, nch);
	else if (r < 0)
		fprintf(stderr, "siprec-export: %s: %s\n", path, strerror(-r));
	return r;
}

/* --per-participant DIR: one mono file per sender, the mix of the streams it sent. */
static int export_participants(struct input **sel, int16_t *const *pcm, const size_t *n,
			       unsigned ns, unsigned rate)
{
	bool done[MAX_INPUTS] = {0};
	unsigned file = 0;
	int r = 0;

	if (mkdir(arg.per_participant, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "siprec-export: %s: %s\n", arg.per_participant, strerror(errno));
		return -errno;
	}
	for (unsigned i = 0; i < ns && r >= 0; i++) {
		int16_t *grp[MAX_INPUTS], *mix = NULL;
		size_t gn[MAX_INPUTS], mn;
		unsigned ng = 0;
		char name[65], path[PATH_MAX], labels[256] = "";
		const char *who;

		if (done[i])
			continue;
		for (unsigned j = i; j < ns; j++) {
			bool same = sel[i]->part_id && sel[j]->part_id
					    ? strcmp(sel[i]->part_id, sel[j]->part_id) == 0
					    : i == j;

			if (!same)
				continue;
			done[j] = true;
			grp[ng] = pcm[j];
			gn[ng++] = n[j];
			if (strlen(labels) + 1 + strlen(sel[j]->h.stream_label) < sizeof(labels)) {
				if (labels[0])
					strcat(labels, ",");
				strcat(labels, sel[j]->h.stream_label);
			}
		}
		who = sel[i]->part_name	 ? sel[i]->part_name
		      : sel[i]->part_aor ? sel[i]->part_aor
		      : sel[i]->part_id	 ? sel[i]->part_id
					 : NULL;
		if (who) {
			sanitize(name, sizeof(name), who);
		} else {
			snprintf(path, sizeof(path), "stream-%.50s", sel[i]->h.stream_label);
			sanitize(name, sizeof(name), path);
		}
		snprintf(path, sizeof(path), "%s/%02u-%s.%s", arg.per_participant, ++file, name,
			 arg.format == STORE_AUDIO_FLAC ? "flac" : "wav");
		r = store_pcm_mix(grp, gn, ng, &mix, &mn);
		if (r >= 0)
			r = write_audio(path, &mix, &mn, 1, rate);
		free(mix);
		if (r >= 0)
			printf("%s\tparticipant=%s\tname=%s\taor=%s\tstreams=%s\n", path,
			       sel[i]->part_id ? sel[i]->part_id : "",
			       sel[i]->part_name ? sel[i]->part_name : "",
			       sel[i]->part_aor ? sel[i]->part_aor : "", labels);
	}
	return r;
}

static int export_audio(struct input *in, unsigned nin)
{
	struct input *sel[MAX_INPUTS];
	int16_t *pcm[MAX_INPUTS] = {0}, *up;
	size_t n[MAX_INPUTS] = {0};
	unsigned rate = 0, ns = 0;
	uint64_t origin = UINT64_MAX, latest = 0;
	int r = 0;
	bool same_start;

	for (unsigned i = 0; i < nin; i++) {
		if (!decodable(&in[i])) {
			if (!arg.skip_undecodable)
				return -EOPNOTSUPP;
			fprintf(stderr,
				"siprec-export: %s: stream \"%s\" left out of the audio "
				"(--skip-undecodable)\n",
				in[i].path, in[i].h.stream_label);
			continue;
		}
		sel[ns++] = &in[i];
	}
	if (ns == 0) {
		fprintf(stderr, "siprec-export: no stream can be decoded\n");
		return -EOPNOTSUPP;
	}
	for (unsigned i = 0; i < ns; i++) {
		rate = MAX(rate, store_track_rate(sel[i]->track));
		/* The channels are aligned on the arrival time of their first packet. */
		if (store_track_packets(sel[i]->track)) {
			origin = MIN(origin, store_track_first_arrival_ns(sel[i]->track));
			latest = MAX(latest, store_track_first_arrival_ns(sel[i]->track));
		}
	}
	if (origin == UINT64_MAX)
		origin = 0;
	/* First packets of the legs arriving less than half a packet time apart is network
	 * jitter, not a later start: those legs start together (sample 0 each), so a forked call
	 * is not skewed by a few samples. A later start is kept as silence. */
	same_start = latest >= origin && latest - origin < START_JITTER_NS;
	for (unsigned i = 0; i < ns && r >= 0; i++) {
		unsigned factor = rate / store_track_rate(sel[i]->track);
		uint64_t o = same_start && store_track_packets(sel[i]->track)
				     ? store_track_first_arrival_ns(sel[i]->track)
				     : origin;

		r = store_track_render(sel[i]->track, o, &pcm[i], &n[i]);
		if (r >= 0 && factor > 1) {
			r = store_pcm_upsample(pcm[i], n[i], factor, &up);
			if (r >= 0) {
				free(pcm[i]);
				pcm[i] = up;
				n[i] *= factor;
			}
		}
		if (r >= 0 && store_track_corrupt(sel[i]->track))
			fprintf(stderr,
				"siprec-export: %s: warning: %llu malformed payloads exported as "
				"silence\n",
				sel[i]->path,
				(unsigned long long)store_track_corrupt(sel[i]->track));
	}
	if (r < 0)
		fprintf(stderr, "siprec-export: %s\n", strerror(-r));
	if (r >= 0 && arg.wav && arg.mix) {
		int16_t *mix = NULL;
		size_t mn;

		r = store_pcm_mix(pcm, n, ns, &mix, &mn);
		if (r >= 0)
			r = write_audio(arg.wav, &mix, &mn, 1, rate);
		free(mix);
	} else if (r >= 0 && arg.wav) {
		r = write_audio(arg.wav, pcm, n, ns, rate);
	}
	if (r >= 0 && arg.per_participant)
		r = export_participants(sel, pcm, n, ns, rate);
	for (unsigned i = 0; i < ns; i++)
		free(pcm[i]);
	return r;
}

/* ---- reading ---- */

static void progress(const struct input *in, const struct store_reader *rd, int *last)
{
	int pct = (int)(store_reader_progress(rd) * 100.0);

	if (pct != *last) {
		fprintf(stderr, "\r%s: %3d%%", in->path, pct);
		*last = pct;
	}
}

/* Maps the payload types the catalog's stream_formats (sql/004-interop.sql) lists for the
 * recording's stream, when a catalog is at hand; an older catalog without it maps nothing. */
static void map_from_catalog(struct input *in)
{
	const char *cat = arg.catalog ? arg.catalog : arg.catalog_owned;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	if (!cat || access(cat, R_OK) < 0 ||
	    sqlite3_open_v2(cat, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT f.payload_type, f.encoding, f.clock_rate, f.fmtp FROM "
			       "stream_formats f JOIN recordings r ON r.stream_id = f.stream_id "
			       "WHERE r.uuid = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_bind_text(st, 1, in->h.recording_id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int pt = sqlite3_column_int(st, 0);
		const char *enc = (const char *)sqlite3_column_text(st, 1);

		if (pt >= 0 && pt < 128 && enc)
			store_track_map_pt(in->track, (uint8_t)pt, enc,
					   (uint32_t)sqlite3_column_int(st, 2),
					   (const char *)sqlite3_column_text(st, 3));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Reads one input fully; 0 or an exit status. pcap gets the packets when not NULL. */
static int read_input(struct input *in, unsigned idx, FILE *pcap)
{
	struct store_reader *rd;
	struct store_frame f;
	int r, last = -1;
	uint64_t count = 0;

	r = store_reader_open(in->path, &lookup, &rd);
	if (r == -ENOKEY) {
		fprintf(stderr, "siprec-export: %s: no key for it%s\n", in->path,
			arg.keys || arg.have_priv ? " in the key store"
						  : " (use --config, --key-file or --private-key)");
		return EXIT_USAGE;
	}
	if (r == -EKEYREVOKED) {
		fprintf(stderr,
			"siprec-export: %s: key destroyed: the recording was crypto-shredded "
			"and can never be read\n",
			in->path);
		return EXIT_USAGE;
	}
	if (r == -EKEYREJECTED) {
		fprintf(stderr,
			"siprec-export: %s: written in write-only mode or under another "
			"key: only its private key can export it (--private-key)\n",
			in->path);
		return EXIT_USAGE;
	}
	if (r == -ENODATA) {
		/* docs/FORMAT.md: created, and a crash came before its header reached the disk */
		fprintf(stderr,
			"siprec-export: %s: empty: nothing of the recording reached the disk, not "
			"even its header (created just before a crash)\n",
			in->path);
		if (!arg.allow_incomplete)
			return EXIT_INCOMPLETE;
		fprintf(stderr, "siprec-export: %s: warning: nothing to export from it, left out\n",
			in->path);
		in->empty = true;
		return 0;
	}
	if (r == -EBADMSG || r == -EPROTONOSUPPORT) {
		fprintf(stderr, "siprec-export: %s: not a siprec recording or a damaged header\n",
			in->path);
		return EXIT_INTEGRITY;
	}
	if (r < 0) {
		fprintf(stderr, "siprec-export: %s: %s\n", in->path, strerror(-r));
		return EXIT_USAGE;
	}
	in->h = *store_reader_header(rd);
	if ((arg.wav || arg.per_participant || arg.metadata_json) &&
	    store_track_new(in->h.codec, in->h.payload_type, &in->track) < 0) {
		store_reader_free(rd);
		fprintf(stderr, "siprec-export: %s: %s\n", in->path, strerror(ENOMEM));
		return EXIT_USAGE;
	}
	if (in->track) {
		/* Formats a re-offer added are only in the catalog; the header's payload map
		 * (docs/FORMAT.md) is applied after them and wins. */
		map_from_catalog(in);
	}
	if (in->track) {
		/* the header's payload map (docs/FORMAT.md): what each negotiated pt means */
		const char *cur = in->h.formats;
		struct store_format sf;

		while (store_formats_next(&cur, &sf) > 0)
			store_track_map_pt(in->track, sf.pt, sf.encoding, sf.clock_rate,
					   sf.fmtp[0] ? sf.fmtp : NULL);
	}
	while ((r = store_reader_next_frame(rd, &f)) > 0) {
		if (in->track && store_track_add(in->track, &f) < 0) {
			r = -ENOMEM;
			break;
		}
		if (pcap && f.type != STORE_FRAME_EVENT && !pcap_packet(pcap, idx, &f)) {
			r = -EIO;
			break;
		}
		if (arg.progress && (++count & 1023) == 0)
			progress(in, rd, &last);
	}
	if (arg.progress) {
		progress(in, rd, &last);
		fputc('\n', stderr);
	}
	store_reader_status(rd, &in->res);
	store_reader_free(rd);
	if (r == -EBADMSG) {
		fprintf(stderr, "siprec-export: %s: malformed frame inside authentic chunk %lld\n",
			in->path, (long long)in->res.last_good_index);
		return EXIT_INTEGRITY;
	}
	if (r < 0) {
		fprintf(stderr, "siprec-export: %s: %s\n", in->path, strerror(-r));
		return EXIT_USAGE;
	}
	if (in->res.failed) {
		fprintf(stderr, "siprec-export: %s: integrity failure at chunk %lld: %s\n",
			in->path, (long long)in->res.first_bad_index,
			store_chunk_status_to_string(in->res.reason));
		return EXIT_INTEGRITY;
	}
	if (!in->res.complete) {
		if (in->res.last_good_index < 0)
			fprintf(stderr, "siprec-export: %s: incomplete: no intact chunk\n",
				in->path);
		else
			fprintf(stderr,
				"siprec-export: %s: incomplete: readable up to chunk %lld\n",
				in->path, (long long)in->res.last_good_index);
		if (!arg.allow_incomplete)
			return EXIT_INCOMPLETE;
		fprintf(stderr, "siprec-export: %s: warning: exporting the incomplete recording\n",
			in->path);
	}
	return 0;
}

/* Numeric labels compare numerically, before others; others by strcmp. */
static int label_cmp(const void *a, const void *b)
{
	const struct input *x = a, *y = b;
	const char *lx = x->label ? x->label : x->h.stream_label;
	const char *ly = y->label ? y->label : y->h.stream_label;
	uint64_t nx, ny;
	bool dx = parse_u64(lx, UINT64_MAX, &nx) == 0, dy = parse_u64(ly, UINT64_MAX, &ny) == 0;

	if (dx && dy)
		return nx < ny ? -1 : nx > ny;
	if (dx != dy)
		return dx ? -1 : 1;
	return strcmp(lx, ly);
}

/* in->path is missing on disk: the copy of recording uuid in the bucket (docs/STORAGE.md). */
static int fetch_offloaded(struct input *in, const struct config *cfg, const char *uuid)
{
	char err[1024] = "", *path = NULL;
	bool tmp = false;
	int r;

	r = s3_recording_open(
		cfg ? &(struct s3_target){.endpoint = cfg->s3_endpoint,
					  .region = cfg->s3_region,
					  .credentials = cfg->s3_credentials,
					  .timeout_ms = cfg->s3_timeout_ms,
					  .virtual_hosted = !strcmp(cfg->s3_addressing, "virtual")}
		    : NULL,
		arg.catalog, uuid ? uuid : "", in->path, NULL, &path, &tmp, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "siprec-export: %s\n", err);
		return r;
	}
	free(in->path);
	in->path = path;
	in->downloaded = tmp;
	return 0;
}

static int load_session(struct input *in, unsigned *nin)
{
	static const char q[] = "SELECT r.path, s.label, p.participant_id, p.name, p.aor, r.uuid "
				"FROM recordings r "
				"JOIN sessions se ON se.id = r.session_id "
				"LEFT JOIN streams s ON s.id = r.stream_id "
				"LEFT JOIN participants p ON p.id = s.participant_id "
				"WHERE se.uuid = ?1 AND r.state != 'shredded' ORDER BY r.id";
	_cleanup_free_ char *uri = NULL, *dir = NULL;
	struct config cfg;
	bool have_cfg = false;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (asprintf(&uri, "file:%s?mode=ro", arg.catalog) < 0) {
		uri = NULL;
		return -ENOMEM;
	}
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "siprec-export: %s: %s\n", arg.catalog,
			db ? sqlite3_errmsg(db) : "cannot open");
		r = -EIO;
		goto out;
	}
	dir = strdup(arg.catalog);
	if (!dir) {
		r = -ENOMEM;
		goto out;
	}
	{
		char *slash = strrchr(dir, '/');

		if (slash)
			*slash = 0;
		else
			strcpy(dir, ".");
	}
	sqlite3_bind_text(st, 1, arg.session, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(st, 0);
		const char *l = (const char *)sqlite3_column_text(st, 1);

		if (!p)
			continue;
		if (*nin >= MAX_INPUTS) {
			r = -E2BIG;
			goto out;
		}
		/* Relative paths in the catalog are relative to its directory. */
		if (p[0] == '/')
			in[*nin].path = strdup(p);
		else if (asprintf(&in[*nin].path, "%s/%s", dir, p) < 0)
			in[*nin].path = NULL;
		in[*nin].label = l ? strdup(l) : NULL;
		for (int c = 2; c <= 4; c++) {
			const char *v = (const char *)sqlite3_column_text(st, c);
			char **dst = c == 2   ? &in[*nin].part_id
				     : c == 3 ? &in[*nin].part_name
					      : &in[*nin].part_aor;

			*dst = v ? strdup(v) : NULL;
		}
		if (!in[*nin].path) {
			r = -ENOMEM;
			goto out;
		}
		(*nin)++;
		if (access(in[*nin - 1].path, F_OK) < 0 && errno == ENOENT) {
			const char *uuid = (const char *)sqlite3_column_text(st, 5);

			/* Offloaded (S3_DELETE_LOCAL_AFTER): the bucket's copy, by the S3_* of the
			 * configuration, read once it matches the catalog's verified sha256. */
			if (!have_cfg && config_load(&cfg, arg.config, NULL, stderr) == 0)
				have_cfg = true;
			r = fetch_offloaded(&in[*nin - 1], have_cfg ? &cfg : NULL, uuid);
			if (r < 0)
				goto out;
		}
	}
	r = r == SQLITE_DONE ? 0 : -EIO;
	if (r < 0)
		fprintf(stderr, "siprec-export: %s: %s\n", arg.catalog, sqlite3_errmsg(db));
	else if (*nin == 0) {
		fprintf(stderr, "siprec-export: no recordings of session %s in %s\n", arg.session,
			arg.catalog);
		r = -ENOENT;
	}
out:
	if (have_cfg)
		config_free(&cfg);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r;
}

/* The payload types a stream carried, and what the export does with each. */
static json_object *json_pts(struct input *in)
{
	struct store_pt_info pi[128];
	size_t n = store_track_pts(in->track, pi, ARRAY_SIZE(pi));
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "payload_type", json_object_new_int(pi[i].pt));
		json_object_object_add(o, "encoding",
				       pi[i].name ? json_object_new_string(pi[i].name) : NULL);
		json_object_object_add(o, "frames", json_object_new_int64((int64_t)pi[i].frames));
		json_object_object_add(o, "export",
				       json_object_new_string(pi[i].decoded   ? "decoded"
							      : pi[i].event   ? "dtmf"
							      : pi[i].silence ? "silence"
									      : "no decoder"));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* RFC 4733 digits found in the recorded frames; start in seconds from origin (the first packet
 * of the exported streams, sample 0 of the audio). */
static void json_dtmf(struct input *in, uint64_t origin, json_object *all)
{
	const struct store_dtmf *d;
	size_t n;

	if (store_track_dtmf(in->track, &d, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		char digit[2] = {d[i].digit, 0}, num[32];

		json_object_object_add(o, "digit", json_object_new_string(digit));
		json_object_object_add(o, "stream", json_object_new_string(in->h.stream_label));
		snprintf(num, sizeof(num), "%.3f",
			 (double)(d[i].start_ns - MIN(origin, d[i].start_ns)) / 1e9);
		json_object_object_add(o, "start",
				       json_object_new_double_s(strtod(num, NULL), num));
		json_object_object_add(o, "start_ns",
				       json_object_new_int64((int64_t)d[i].start_ns));
		snprintf(num, sizeof(num), "%.3f", d[i].duration_ms / 1000.0);
		json_object_object_add(o, "duration",
				       json_object_new_double_s(strtod(num, NULL), num));
		json_object_object_add(o, "ended", json_object_new_boolean(d[i].ended));
		json_object_array_add(all, o);
	}
}

static void print_json(struct input *in, unsigned nin)
{
	struct json_object *arr = json_object_new_array();
	uint64_t origin = UINT64_MAX;

	for (unsigned i = 0; i < nin; i++)
		if (in[i].track && store_track_packets(in[i].track))
			origin = MIN(origin, store_track_first_arrival_ns(in[i].track));

	for (unsigned i = 0; i < nin; i++) {
		struct json_object *o = json_object_new_object();
		const struct store_header *h = &in[i].h;
		char *meta_path = NULL, *plain = NULL;
		size_t l = strlen(in[i].path);

		json_object_object_add(o, "file", json_object_new_string(in[i].path));
		json_object_object_add(o, "algorithm",
				       json_object_new_string(store_alg_to_string(h->alg)));
		json_object_object_add(o, "key_id", json_object_new_string(h->key_id));
		json_object_object_add(o, "key_version", json_object_new_int64(h->key_version));
		json_object_object_add(o, "recording_id", json_object_new_string(h->recording_id));
		json_object_object_add(o, "session_id", json_object_new_string(h->session_id));
		json_object_object_add(o, "label", json_object_new_string(h->stream_label));
		json_object_object_add(o, "codec", json_object_new_string(h->codec));
		json_object_object_add(o, "payload_type", json_object_new_int(h->payload_type));
		json_object_object_add(o, "clock_rate", json_object_new_int64(h->clock_rate));
		json_object_object_add(o, "created_ns",
				       json_object_new_int64((int64_t)h->created_ns));
		json_object_object_add(o, "chunk_size", json_object_new_int64(h->chunk_size));
		json_object_object_add(o, "complete", json_object_new_boolean(in[i].res.complete));
		json_object_object_add(o, "chunks",
				       json_object_new_int64((int64_t)in[i].res.chunks));
		json_object_object_add(o, "frames",
				       json_object_new_int64((int64_t)in[i].res.frames));
		json_object_object_add(o, "last_good_chunk",
				       json_object_new_int64(in[i].res.last_good_index));
		if (in[i].track) {
			json_object *dtmf = json_object_new_array();

			json_object_object_add(o, "payload_types", json_pts(&in[i]));
			json_dtmf(&in[i], origin, dtmf);
			json_object_object_add(o, "dtmf", dtmf);
		}
		if (l > 7 && strcmp(in[i].path + l - 7, ".siprec") == 0 &&
		    asprintf(&meta_path, "%.*s.metadata", (int)(l - 7), in[i].path) >= 0 &&
		    access(meta_path, F_OK) == 0) {
			int r = store_metadata_read(meta_path, &lookup, h->recording_id, &plain);

			if (r >= 0) {
				struct json_object *m = json_tokener_parse(plain);

				json_object_object_add(o, "metadata",
						       m ? m : json_object_new_string(plain));
			} else
				json_object_object_add(o, "metadata_error",
						       json_object_new_string(strerror(-r)));
		}
		free(meta_path);
		free(plain);
		json_object_array_add(arr, o);
	}
	printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
}

static void trail_problem(void *userdata, const char *problem)
{
	(void)userdata;
	printf("TAMPERED: %s\n", problem);
}

/* --verify-trail: needs no daemon, only read access to the catalog and the files. */
static int verify_trail(void)
{
	char err[512] = "", *cat = NULL, *key = NULL, *dir;
	struct trail_verify v;
	sqlite3 *db = NULL;
	void *pub;
	int r;

	if (arg.catalog)
		cat = strdup(arg.catalog);
	if (arg.trail_key)
		key = strdup(arg.trail_key);
	if (!cat || !key) {
		struct config cfg;

		if (config_load(&cfg, arg.config, NULL, stderr) == 0) {
			if (!cat)
				cat = strdup(cfg.catalog_path);
			if (!key && !arg.catalog &&
			    asprintf(&key, "%s.pub", cfg.trail_signing_key) < 0)
				key = NULL;
			config_free(&cfg);
		}
	}
	if (!cat) {
		fprintf(stderr, "siprec-export: --verify-trail: no catalog (--catalog)\n");
		free(key);
		return EXIT_USAGE;
	}
	dir = strdup(cat);
	if (dir && strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	else if (dir)
		strcpy(dir, ".");
	if (!key && asprintf(&key, "%s/trail-signing.key.pub", dir ? dir : ".") < 0)
		key = NULL;
	pub = key ? trail_pubkey_load(key, err, sizeof(err)) : NULL;
	if (!pub)
		fprintf(stderr, "siprec-export: trail key: %s\n", err);
	if (sqlite3_open_v2(cat, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "siprec-export: %s: %s\n", cat, sqlite3_errmsg(db));
		r = -EIO;
	} else
		r = trail_verify(db, pub, dir, trail_problem, NULL, &v);
	sqlite3_close(db);
	trail_key_free(pub);
	free(dir);
	free(key);
	if (r < 0) {
		if (r != -EIO)
			fprintf(stderr, "siprec-export: %s: cannot verify the trail: %s\n", cat,
				strerror(-r));
		free(cat);
		return EXIT_USAGE;
	}
	free(cat);
	printf("trail: %" PRIu64 " entries, %" PRIu64 " signed heads, %" PRIu64
	       " not yet signed, %" PRIu64 " recordings checked: %s\n",
	       v.entries, v.heads, v.unsigned_entries, v.files, r == 0 ? "OK" : "PROBLEMS FOUND");
	return r == 0 ? 0 : EXIT_INTEGRITY;
}

/* The compliance trail gets an 'exported' entry per recording exported, when the catalog is
 * writable by this user (else one line says it was not recorded). */
static void trail_exported(const struct input *in, unsigned nin)
{
	const char *cat = arg.catalog ? arg.catalog : arg.catalog_owned;
	char actor[64], object[128], sha[TRAIL_HASH_HEX + 1];
	sqlite3 *db = NULL;

	if (!cat)
		return;
	snprintf(actor, sizeof(actor), "siprec-export uid:%u", (unsigned)getuid());
	if (sqlite3_open_v2(cat, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "SELECT 1 FROM trail LIMIT 0", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr,
			"siprec-export: the export is not in the compliance trail (%s not "
			"writable, or no trail)\n",
			cat);
		sqlite3_close(db);
		return;
	}
	sqlite3_busy_timeout(db, 10000);
	for (unsigned i = 0; i < nin; i++) {
		snprintf(object, sizeof(object), "recording:%s", in[i].h.recording_id);
		if (trail_append_txn(db,
				     &(struct trail_entry){
					     .kind = "exported",
					     .actor = actor,
					     .object = object,
					     .reason = arg.wav ? arg.wav : arg.per_participant,
					     .sha256 = compliance_file_sha256(in[i].path, sha) == 0
							       ? sha
							       : NULL},
				     NULL) < 0) {
			fprintf(stderr,
				"siprec-export: the export of %s is not in the compliance "
				"trail: %s\n",
				in[i].h.recording_id, sqlite3_errmsg(db));
			break;
		}
	}
	sqlite3_close(db);
}

int main(int argc, char **argv)
{
	enum {
		OPT_PCAP = 256,
		OPT_META,
		OPT_SESSION,
		OPT_CATALOG,
		OPT_ALLOW,
		OPT_PROGRESS,
		OPT_LABEL,
		OPT_MDFILE,
		OPT_MDCAT,
		OPT_FORMAT,
		OPT_MIX,
		OPT_PARTICIPANT,
		OPT_SKIP,
		OPT_VERIFY_TRAIL,
		OPT_TRAIL_KEY,
	};
	static const struct option opts[] = {
		{"key-file", required_argument, NULL, 'k'},
		{"config", required_argument, NULL, 'c'},
		{"private-key", required_argument, NULL, 'K'},
		{"output", required_argument, NULL, 'o'},
		{"pcap", required_argument, NULL, OPT_PCAP},
		{"metadata-json", no_argument, NULL, OPT_META},
		{"session", required_argument, NULL, OPT_SESSION},
		{"catalog", required_argument, NULL, OPT_CATALOG},
		{"allow-incomplete", no_argument, NULL, OPT_ALLOW},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"by-label", no_argument, NULL, OPT_LABEL},
		{"metadata", required_argument, NULL, OPT_MDFILE},
		{"catalog-metadata", required_argument, NULL, OPT_MDCAT},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"mix", no_argument, NULL, OPT_MIX},
		{"per-participant", required_argument, NULL, OPT_PARTICIPANT},
		{"skip-undecodable", no_argument, NULL, OPT_SKIP},
		{"verify-trail", no_argument, NULL, OPT_VERIFY_TRAIL},
		{"trail-key", required_argument, NULL, OPT_TRAIL_KEY},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct input in[MAX_INPUTS] = {0};
	bool s3_tmp[MAX_INPUTS] = {0};
	unsigned nin = 0;
	char pcap_tmp[PATH_MAX] = "";
	FILE *pcap = NULL;
	int c, status = 0;

	arg.progress = isatty(STDERR_FILENO);
	while ((c = getopt_long(argc, argv, "k:c:o:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'k':
			arg.key_file = optarg;
			break;
		case 'c':
			arg.config = optarg;
			break;
		case 'K':
			arg.private_key = optarg;
			break;
		case 'o':
			arg.wav = optarg;
			break;
		case OPT_PCAP:
			arg.pcap = optarg;
			break;
		case OPT_META:
			arg.metadata_json = true;
			break;
		case OPT_SESSION:
			arg.session = optarg;
			break;
		case OPT_CATALOG:
			arg.catalog = optarg;
			break;
		case OPT_ALLOW:
			arg.allow_incomplete = true;
			break;
		case OPT_PROGRESS:
			arg.progress = true;
			break;
		case OPT_MDFILE:
			arg.metadata_file = optarg;
			break;
		case OPT_MDCAT:
			arg.catalog_metadata = optarg;
			break;
		case OPT_LABEL:
			arg.by_label = true;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "wav") != 0 && strcmp(optarg, "flac") != 0) {
				fprintf(stderr, "siprec-export: --format: wav or flac, not %s\n",
					optarg);
				return EXIT_USAGE;
			}
			arg.format = optarg[0] == 'f' ? STORE_AUDIO_FLAC : STORE_AUDIO_WAV;
			arg.format_set = true;
			break;
		case OPT_MIX:
			arg.mix = true;
			break;
		case OPT_PARTICIPANT:
			arg.per_participant = optarg;
			break;
		case OPT_SKIP:
			arg.skip_undecodable = true;
			break;
		case OPT_VERIFY_TRAIL:
			arg.verify_trail = true;
			break;
		case OPT_TRAIL_KEY:
			arg.trail_key = optarg;
			break;
		case 'h':
			help();
			return 0;
		default:
			fprintf(stderr, "Try 'siprec-export --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (arg.verify_trail)
		return verify_trail();
	if (!arg.metadata_file && !arg.catalog_metadata &&
	    ((arg.session && !arg.catalog) || (arg.session && optind < argc) ||
	     (!arg.session && optind >= argc))) {
		fprintf(stderr, "siprec-export: give FILE.siprec arguments, or --session with "
				"--catalog\nTry 'siprec-export --help'.\n");
		return EXIT_USAGE;
	}
	if (arg.mix && !arg.wav) {
		fprintf(stderr, "siprec-export: --mix needs -o\n");
		return EXIT_USAGE;
	}
	if (!arg.format_set && arg.wav && strlen(arg.wav) > 5 &&
	    strcasecmp(arg.wav + strlen(arg.wav) - 5, ".flac") == 0)
		arg.format = STORE_AUDIO_FLAC;
	if (arg.key_file) {
		int r;

		/* keys_open_file creates a missing key file; a reader must not. */
		if (access(arg.key_file, F_OK) < 0) {
			fprintf(stderr, "siprec-export: %s: %s\n", arg.key_file, strerror(errno));
			return EXIT_USAGE;
		}
		/* The key file is the KEK of the hierarchy in the catalog (--catalog, or the one of
		 * the configuration); without a catalog holding keys it is a legacy data key. */
		r = -ENOKEY;
		{
			struct config cfg;

			if (config_load(&cfg, arg.config, NULL, stderr) == 0) {
				const char *cat = arg.catalog ? arg.catalog : cfg.catalog_path;

				if (access(cat, F_OK) == 0)
					r = keys_open(
						&(struct keys_options){.store = "file",
								       .catalog_path = cat,
								       .key_path = arg.key_file,
								       .readonly = true},
						&arg.keys);
				if (r == -EKEYREJECTED) {
					fprintf(stderr, "siprec-export: %s\n", keys_error());
					config_free(&cfg);
					return EXIT_USAGE;
				}
				config_free(&cfg);
			}
		}
		if (r < 0)
			r = keys_open_file(arg.key_file, &arg.keys);
		if (r < 0) {
			fprintf(stderr, "siprec-export: %s\n", keys_error());
			return EXIT_USAGE;
		}
	}
	if (arg.config && !arg.key_file) {
		struct config cfg;
		int r;

		if (config_load(&cfg, arg.config, NULL, stderr) < 0)
			return EXIT_USAGE;
		arg.catalog_owned = strdup(cfg.catalog_path);
		if (strcmp(cfg.encryption_key_store, "public-key") != 0) {
			/* Read-only: a reader never creates or rotates keys. */
			r = keys_open(&(struct keys_options){.store = cfg.encryption_key_store,
							     .catalog_path = cfg.catalog_path,
							     .key_path = cfg.master_key_path,
							     .password = cfg.master_password,
							     .kdf = cfg.kdf,
							     .readonly = true},
				      &arg.keys);
			if (r < 0) {
				fprintf(stderr, "siprec-export: key store: %s\n", keys_error());
				config_free(&cfg);
				return EXIT_USAGE;
			}
		}
		config_free(&cfg);
	}
	if (arg.private_key) {
		if (keys_x25519_load(arg.private_key, true, arg.priv) < 0) {
			fprintf(stderr, "siprec-export: %s\n", keys_error());
			return EXIT_USAGE;
		}
		arg.have_priv = true;
	}
	if (arg.metadata_file || arg.catalog_metadata) {
		status = arg.metadata_file ? print_metadata_file(arg.metadata_file) : 0;
		if (!status && arg.catalog_metadata)
			status = print_catalog_metadata(arg.catalog_metadata);
		goto out;
	}
	if (arg.session) {
		int r = load_session(in, &nin);

		if (r < 0) {
			status = r == -EBADMSG ? EXIT_INTEGRITY : EXIT_USAGE;
			goto out;
		}
	} else {
		if (argc - optind > MAX_INPUTS) {
			fprintf(stderr, "siprec-export: at most %d files\n", MAX_INPUTS);
			status = EXIT_USAGE;
			goto out;
		}
		for (int i = optind; i < argc; i++)
			in[nin++].path = strdup(argv[i]);
		/* s3://bucket/key: fetched into a temporary file, then read like any file. */
		for (unsigned i = 0; i < nin; i++) {
			if (!in[i].path || strncmp(in[i].path, "s3://", 5) != 0)
				continue;
			status = export_s3_fetch(&in[i].path, arg.config);
			if (status)
				goto out;
			s3_tmp[i] = true;
		}
	}
	if (arg.pcap) {
		int fd;

		snprintf(pcap_tmp, sizeof(pcap_tmp), "%s.XXXXXX", arg.pcap);
		fd = mkstemp(pcap_tmp);
		if (fd < 0 || !(pcap = fdopen(fd, "wb")) || !pcap_header(pcap)) {
			fprintf(stderr, "siprec-export: %s: %s\n", arg.pcap, strerror(errno));
			if (fd >= 0)
				unlink(pcap_tmp);
			status = EXIT_USAGE;
			goto out;
		}
	}
	for (unsigned i = 0; i < nin; i++) {
		int s = read_input(&in[i], i, pcap);

		/* The worst verdict wins: integrity (2) over incomplete (3) over I/O (1). */
		if (s == EXIT_INTEGRITY || (s && status != EXIT_INTEGRITY))
			status = s;
	}
	if (!status) {
		/* Empty files (--allow-incomplete) hold no stream to export: left out. */
		unsigned k = 0;

		for (unsigned i = 0; i < nin; i++) {
			if (!in[i].empty) {
				in[k] = in[i];
				s3_tmp[k++] = s3_tmp[i];
				continue;
			}
			input_release(&in[i], s3_tmp[i]);
		}
		for (unsigned i = k; i < nin; i++) {
			memset(&in[i], 0, sizeof(in[i]));
			s3_tmp[i] = false;
		}
		if (k == 0 && nin > 0) {
			fprintf(stderr,
				"siprec-export: nothing to export: every recording is empty\n");
			status = EXIT_INCOMPLETE;
		}
		nin = k;
	}
	if (arg.metadata_json)
		print_json(in, nin);
	if (status)
		goto out;
	if (arg.session || arg.by_label)
		qsort(in, nin, sizeof(in[0]), label_cmp);
	if (arg.per_participant)
		participants_from_metadata(in, nin);
	if ((arg.wav || arg.per_participant) && export_audio(in, nin) < 0)
		status = EXIT_USAGE;
	else if (arg.wav || arg.per_participant)
		trail_exported(in, nin);
	if (pcap) {
		if (fclose(pcap) != 0 || (!status && rename(pcap_tmp, arg.pcap) < 0)) {
			fprintf(stderr, "siprec-export: %s: %s\n", arg.pcap, strerror(errno));
			status = EXIT_USAGE;
		}
		pcap = NULL;
	}
out:
	if (pcap)
		fclose(pcap);
	if (pcap_tmp[0] && status)
		unlink(pcap_tmp);
	for (unsigned i = 0; i < nin; i++)
		input_release(&in[i], s3_tmp[i]);
	keys_free(arg.keys);
	OPENSSL_cleanse(arg.priv, sizeof(arg.priv));
	free(arg.catalog_owned);
	return status;
}
