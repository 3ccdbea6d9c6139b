// SPDX-License-Identifier: MIT
/*
 * siprecctl: the operator's command line for siprecd's varlink control socket: status, sessions,
 * session ID, keys, rotate-keys, reload, watch, stop ID. Human tables by default, --json for
 * scripts. Exit codes: 0 ok, 1 usage, 2 the call failed, 3 cannot connect or permission denied.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "siprecd/config.h"

#define EXIT_USAGE 1
#define EXIT_CALL 2
#define EXIT_CONNECT 3
#define REPLY_MAX (16 * 1024 * 1024)

static bool opt_json;
static const char *socket_path;
static int sock = -1;
static char *rbuf;
static size_t rlen, rcap;

#include "siprecctl.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: siprecctl [--socket PATH] [--json] COMMAND [ARG]\n"
		"\n"
		"Commands:\n"
		"  status          health checks, version and features\n"
		"  sessions        recording sessions in progress\n"
		"  session ID      one session: participants, streams, counters\n"
		"  stop ID         end a session's recording (BYE to the SRC)\n"
		"  keys            keys in the key store\n"
		"  rotate-keys     rotate the data key (--kek: the key-encryption key)\n"
		"  reload          reload configuration and certificates\n"
		"  drain           take no new sessions (INVITE and OPTIONS get 503); those in\n"
		"                  progress record to their end\n"
		"  resume          take new sessions again after drain\n"
		"  watch           follow session and audit events (Ctrl-C to stop)\n"
		"\n"
		"Compliance commands (on the catalog: --catalog DB, else the configuration's):\n"
		"  verify-trail [--trail-key PUB]  check the trail's chain, signatures and files\n"
		"  retention run [--dry-run]       delete what the retention policies expire\n"
		"  retention add NAME --match all|aor|domain|src|context [--pattern GLOB]\n"
		"                [--context-name NAME] --keep forever|DURATION (90d, 7y)\n"
		"  hold add (--session UUID | --aor AOR | --from MS --to MS) --case REF\n"
		"  hold list | hold release ID [--reason TEXT]\n"
		"  erase --aor AOR [--dry-run]     erase every recording of one participant\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH  control socket (default: $SIPRECD_CONTROL, else the "
		"daemon's\n"
		"                     CONTROL_SOCKET from its configuration)\n"
		"  -c, --config PATH  read CONTROL_SOCKET from this configuration file\n"
		"  -j, --json         print the varlink reply parameters as JSON\n"
		"      --kek          with rotate-keys: rotate the key-encryption key (KEK):\n"
		"                     every data key is re-wrapped under the new KEK\n"
		"      --store STORE  the new KEK's store: file, password or credential\n"
		"                     (default: the daemon's ENCRYPTION_KEY_STORE)\n"
		"      --key-file PATH       file store: the new key file (created 0600 if "
		"missing)\n"
		"      --password-file PATH  password store: a file holding the new password\n"
		"      --kdf KDF      password store: argon2id (default) or pbkdf2\n"
		"  -h, --help         this text\n"
		"\n"
		"Exit status: 0 ok, 1 usage, 2 the call failed, 3 cannot connect or permission "
		"denied.\n");
}

/* The daemon's CONTROL_SOCKET as its configuration (file and environment) derives it. */
static char *default_socket(const char *config_path)
{
	struct config c;
	char *path = NULL;
	FILE *devnull = fopen("/dev/null", "w");

	if (devnull && config_load(&c, config_path, NULL, devnull) == 0) {
		if (c.control_socket)
			path = strdup(c.control_socket);
		config_free(&c);
	}
	if (devnull)
		fclose(devnull);
	if (!path && getenv("RUNTIME_DIRECTORY") &&
	    asprintf(&path, "%s/control", getenv("RUNTIME_DIRECTORY")) < 0)
		path = NULL;
	return path ? path : strdup("/run/siprecd/control");
}

static int connect_socket(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "siprecctl: socket path too long: %s\n", socket_path);
		return EXIT_USAGE;
	}
	strcpy(sa.sun_path, socket_path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == EACCES || e == EPERM)
			fprintf(stderr,
				"siprecctl: permission denied on %s: run as root, as siprecd's "
				"user, or as a member of its CONTROL_GROUP\n",
				socket_path);
		else if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr,
				"siprecctl: cannot connect to %s: %s (is siprecd running? "
				"--socket or SIPRECD_CONTROL select another socket)\n",
				socket_path, strerror(e));
		else
			fprintf(stderr, "siprecctl: cannot connect to %s: %s\n", socket_path,
				strerror(e));
		return EXIT_CONNECT;
	}
	return 0;
}

static int send_call(const char *method, struct json_object *params, bool more)
{
	struct json_object *o = json_object_new_object();
	const char *s;
	size_t len, off = 0;

	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "parameters", params ? params : json_object_new_object());
	if (more)
		json_object_object_add(o, "more", json_object_new_boolean(true));
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	len++; /* the NUL delimiter */
	while (off < len) {
		ssize_t n = send(sock, s + off, len - off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "siprecctl: %s: send: %m\n", socket_path);
			json_object_put(o);
			return EXIT_CONNECT;
		}
		off += (size_t)n;
	}
	json_object_put(o);
	return 0;
}

/* Reads one reply into *ret (owned by the caller). */
static int read_reply(struct json_object **ret)
{
	for (;;) {
		char *nul = rlen ? memchr(rbuf, '\0', rlen) : NULL;

		if (nul) {
			size_t mlen = (size_t)(nul - rbuf);
			struct json_object *o = json_tokener_parse(rbuf);

			memmove(rbuf, nul + 1, rlen - mlen - 1);
			rlen -= mlen + 1;
			if (!o || !json_object_is_type(o, json_type_object)) {
				fprintf(stderr, "siprecctl: malformed reply from %s\n",
					socket_path);
				json_object_put(o);
				return EXIT_CALL;
			}
			*ret = o;
			return 0;
		}
		if (rlen == rcap) {
			if (rcap >= REPLY_MAX) {
				fprintf(stderr, "siprecctl: reply from %s too large\n",
					socket_path);
				return EXIT_CALL;
			}
			rcap = rcap ? rcap * 2 : 65536;
			rbuf = realloc(rbuf, rcap);
			if (!rbuf)
				abort();
		}
		ssize_t n = recv(sock, rbuf + rlen, rcap - rlen, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "siprecctl: %s closed the connection%s%s\n", socket_path,
				n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			return EXIT_CONNECT;
		}
		rlen += (size_t)n;
	}
}

/* Prints a varlink error reply and returns the exit code it maps to. */
static int report_error(const char *method, struct json_object *reply)
{
	struct json_object *e = NULL, *p = NULL;
	const char *err;

	json_object_object_get_ex(reply, "error", &e);
	json_object_object_get_ex(reply, "parameters", &p);
	err = json_object_get_string(e);
	if (strcmp(err, "org.varlink.service.PermissionDenied") == 0) {
		fprintf(stderr,
			"siprecctl: %s: permission denied by siprecd on %s: this needs root, "
			"siprecd's user, or membership in its CONTROL_GROUP\n",
			method, socket_path);
		return EXIT_CONNECT;
	}
	if (opt_json) {
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY));
	} else {
		struct json_object *reason;

		if (p && json_object_object_get_ex(p, "reason", &reason))
			fprintf(stderr, "siprecctl: %s: %s\n", err, json_object_get_string(reason));
		else
			fprintf(stderr, "siprecctl: %s: %s %s\n", method, err,
				p ? json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN) : "");
	}
	return EXIT_CALL;
}

/* Calls method and returns the reply's parameters in *ret (owned) or an exit code. */
static int call(const char *method, struct json_object *params, struct json_object **ret)
{
	struct json_object *reply = NULL, *p;
	int r;

	r = send_call(method, params, false);
	if (r)
		return r;
	r = read_reply(&reply);
	if (r)
		return r;
	if (json_object_object_get_ex(reply, "error", NULL)) {
		r = report_error(method, reply);
		json_object_put(reply);
		return r;
	}
	if (!json_object_object_get_ex(reply, "parameters", &p))
		p = NULL;
	*ret = p ? json_object_get(p) : json_object_new_object();
	json_object_put(reply);
	return 0;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return "-";
	return json_object_get_string(v);
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void age(int64_t usec, char *buf, size_t n)
{
	int64_t s = (int64_t)time(NULL) - usec / 1000000;

	if (s < 0)
		s = 0;
	if (s < 3600)
		snprintf(buf, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
}

static int cmd_status(void)
{
	struct json_object *h = NULL, *v = NULL, *checks;
	int r = call("io.siprecd.Health", NULL, &h);

	if (r)
		return r;
	r = call("io.siprecd.Version", NULL, &v);
	if (r) {
		json_object_put(h);
		return r;
	}
	if (opt_json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "health", h);
		json_object_object_add(o, "version", v);
		print_json(o);
		json_object_put(o);
		return 0;
	}
	printf("siprecd %s (%s), socket %s\n", jstr(v, "version"), jstr(v, "git"), socket_path);
	printf("status: %s\n", jstr(h, "status"));
	printf("libsrtp2 backend: %s, kTLS: %s (tx %lld, rx %lld connections)\n",
	       jstr(v, "srtp_backend"), jstr(v, "ktls_mode"),
	       (long long)jint(v, "ktls_tx_connections"),
	       (long long)jint(v, "ktls_rx_connections"));
	printf("io_uring:");
	json_object_object_foreach(jget(v, "io_uring_features"), k, fv)
	{
		printf(" %s%s", json_object_get_boolean(fv) ? "+" : "-", k);
	}
	printf("\n\n%-16s %-9s %s\n", "CHECK", "STATUS", "DETAIL");
	checks = jget(h, "checks");
	for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
		struct json_object *c = json_object_array_get_idx(checks, i);

		printf("%-16s %-9s %s\n", jstr(c, "name"), jstr(c, "status"), jstr(c, "message"));
	}
	json_object_put(h);
	json_object_put(v);
	return 0;
}

static void stream_totals(struct json_object *s, int64_t *pk, int64_t *lost)
{
	struct json_object *streams = jget(s, "streams");

	*pk = *lost = 0;
	for (size_t i = 0; streams && i < json_object_array_length(streams); i++) {
		struct json_object *st = jget(json_object_array_get_idx(streams, i), "stats");

		*pk += jint(st, "packets");
		*lost += jint(st, "lost");
	}
}

static int cmd_sessions(void)
{
	struct json_object *p = NULL, *a;
	int r = call("io.siprecd.ListSessions", NULL, &p);

	if (r)
		return r;
	if (opt_json) {
		print_json(p);
		json_object_put(p);
		return 0;
	}
	a = jget(p, "sessions");
	printf("%-36s %-10s %-21s %-7s %7s %9s %6s %s\n", "ID", "STATE", "PEER", "STREAMS", "AGE",
	       "PACKETS", "LOST", "CALL-ID");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *s = json_object_array_get_idx(a, i);
		int64_t pk, lost;
		char ag[32];

		stream_totals(s, &pk, &lost);
		age(jint(s, "started_usec"), ag, sizeof(ag));
		printf("%-36s %-10s %-21s %-7zu %7s %9lld %6lld %s\n", jstr(s, "id"),
		       jstr(s, "state"), jstr(s, "peer"),
		       jget(s, "streams") ? json_object_array_length(jget(s, "streams")) : 0, ag,
		       (long long)pk, (long long)lost, jstr(s, "call_id"));
	}
	printf("%zu session%s\n", a ? json_object_array_length(a) : 0,
	       a && json_object_array_length(a) == 1 ? "" : "s");
	json_object_put(p);
	return 0;
}

static int cmd_session(const char *id)
{
	struct json_object *params = json_object_new_object(), *p = NULL, *s, *a;
	int r;

	json_object_object_add(params, "id", json_object_new_string(id));
	r = call("io.siprecd.GetSession", params, &p);
	if (r)
		return r;
	if (opt_json) {
		print_json(p);
		json_object_put(p);
		return 0;
	}
	s = jget(p, "session");
	printf("session:    %s\ncall-id:    %s\nsiprec id:  %s\npeer:       %s (%s)\nstate:      "
	       "%s\n",
	       jstr(s, "id"), jstr(s, "call_id"), jstr(s, "siprec_session_id"), jstr(s, "peer"),
	       jstr(s, "transport"), jstr(s, "state"));
	a = jget(s, "participants");
	printf("\n%-24s %-24s %s\n", "PARTICIPANT", "NAME", "AOR");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *pt = json_object_array_get_idx(a, i), *n = jget(pt, "names"),
				   *ao = jget(pt, "aors");

		printf("%-24s %-24s %s\n", jstr(pt, "id"),
		       n && json_object_array_length(n)
			       ? json_object_get_string(json_object_array_get_idx(n, 0))
			       : "-",
		       ao && json_object_array_length(ao)
			       ? json_object_get_string(json_object_array_get_idx(ao, 0))
			       : "-");
	}
	a = jget(s, "streams");
	printf("\n%-12s %-6s %-6s %-5s %-20s %9s %10s %6s %5s %s\n", "LABEL", "CODEC", "PORT",
	       "SRTP", "PARTICIPANT", "PACKETS", "BYTES", "LOST", "AUTH!", "RECORDING");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *st = json_object_array_get_idx(a, i), *c = jget(st, "stats");

		printf("%-12s %-6s %-6lld %-5s %-20s %9lld %10lld %6lld %5lld %s\n",
		       jstr(st, "label"), jstr(st, "codec"), (long long)jint(st, "port"),
		       json_object_get_boolean(jget(st, "srtp")) ? "yes" : "no",
		       jstr(st, "participant_id"), (long long)jint(c, "packets"),
		       (long long)jint(c, "bytes"), (long long)jint(c, "lost"),
		       (long long)jint(c, "srtp_auth_failures"), jstr(st, "path"));
	}
	json_object_put(p);
	return 0;
}

static int cmd_simple(const char *method, const char *id, const char *done)
{
	struct json_object *params = NULL, *p = NULL;
	int r;

	if (id) {
		params = json_object_new_object();
		json_object_object_add(params, "id", json_object_new_string(id));
	}
	r = call(method, params, &p);
	if (r)
		return r;
	if (opt_json)
		print_json(p);
	else
		printf("%s\n", done);
	json_object_put(p);
	return 0;
}

static int cmd_drain(bool enable)
{
	struct json_object *params = json_object_new_object(), *p = NULL;
	int64_t n;
	int r;

	json_object_object_add(params, "enable", json_object_new_boolean(enable));
	r = call("io.siprecd.Drain", params, &p);
	if (r)
		return r;
	n = jint(p, "active_sessions");
	if (opt_json)
		print_json(p);
	else if (enable)
		printf("draining: new sessions refused with 503; %lld session%s still recording\n",
		       (long long)n, n == 1 ? "" : "s");
	else
		printf("taking new sessions; %lld session%s recording\n", (long long)n,
		       n == 1 ? "" : "s");
	json_object_put(p);
	return 0;
}

static void print_time(int64_t usec, char *buf, size_t n)
{
	time_t t = (time_t)(usec / 1000000);
	struct tm tm;

	if (usec <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, n, "-");
}

static int cmd_keys(void)
{
	struct json_object *p = NULL, *a;
	int r = call("io.siprecd.ListKeys", NULL, &p);

	if (r)
		return r;
	if (opt_json) {
		print_json(p);
		json_object_put(p);
		return 0;
	}
	a = jget(p, "keys");
	printf("%-24s %-7s %-9s %-7s %-18s %-20s %s\n", "KEY-ID", "VERSION", "STATE", "CURRENT",
	       "ALGORITHM", "CREATED", "KEK");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *k = json_object_array_get_idx(a, i);
		char created[32];

		print_time(jint(k, "created_usec"), created, sizeof(created));
		printf("%-24s %-7s %-9s %-7s %-18s %-20s %s\n", jstr(k, "id"), jstr(k, "version"),
		       jstr(k, "state"), json_object_get_boolean(jget(k, "current")) ? "yes" : "no",
		       jstr(k, "algorithm"), created, jstr(k, "kek_id"));
	}
	json_object_put(p);
	return 0;
}

/* The current data key's version per ListKeys, or -1. */
static int64_t current_version(void)
{
	struct json_object *p = NULL, *a;
	int64_t v = -1;

	if (call("io.siprecd.ListKeys", NULL, &p))
		return -1;
	a = jget(p, "keys");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *k = json_object_array_get_idx(a, i);

		if (json_object_get_boolean(jget(k, "current")))
			v = jint(k, "version");
	}
	json_object_put(p);
	return v;
}

/* RotateDataKey only asks the rotation thread: wait (up to 10 s) until the new version is the
 * current one, so that "rotated" means rotated. */
/* The daemon's working directory is not ours: hand it absolute paths. */
static struct json_object *abs_path(const char *path)
{
	char cwd[4096], *s;
	struct json_object *o;

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return json_object_new_string(path);
	if (asprintf(&s, "%s/%s", cwd, path) < 0)
		abort();
	o = json_object_new_string(s);
	free(s);
	return o;
}

struct kek_args {
	const char *store, *key_file, *password_file, *kdf;
};

/* RotateKeyEncryptionKey answers once every data key is re-wrapped (a KDF may take a second). */
static int cmd_rotate_kek(const struct kek_args *a)
{
	struct json_object *params = json_object_new_object(), *p = NULL, *cfg;
	int r;

	if (a->store)
		json_object_object_add(params, "store", json_object_new_string(a->store));
	if (a->key_file)
		json_object_object_add(params, "keyFile", abs_path(a->key_file));
	if (a->password_file)
		json_object_object_add(params, "passwordFile", abs_path(a->password_file));
	if (a->kdf)
		json_object_object_add(params, "kdf", json_object_new_string(a->kdf));
	r = call("io.siprecd.RotateKeyEncryptionKey", params, &p);
	if (r)
		return r;
	if (opt_json) {
		print_json(p);
	} else {
		printf("every data key is now wrapped by KEK %s (%s store%s%s; was %s)\n",
		       jstr(p, "kek_id"), jstr(p, "store"),
		       json_object_object_get_ex(p, "key_path", NULL) ? " " : "",
		       json_object_object_get_ex(p, "key_path", NULL) ? jstr(p, "key_path") : "",
		       jstr(p, "previous_kek_id"));
		printf("the old KEK no longer opens the catalog: before the next restart, set\n");
		cfg = jget(p, "configuration");
		for (size_t i = 0; cfg && i < json_object_array_length(cfg); i++)
			printf("  %s\n", json_object_get_string(json_object_array_get_idx(cfg, i)));
		printf("in siprecd's configuration (or its credential)\n");
	}
	json_object_put(p);
	return 0;
}

static int cmd_rotate(void)
{
	struct json_object *p = NULL;
	int64_t prev, now = -1;
	int r;

	r = call("io.siprecd.RotateDataKey", NULL, &p);
	if (r)
		return r;
	prev = jint(p, "previous_version");
	for (int i = 0; i < 100; i++) {
		now = current_version();
		if (now != prev && now >= 0)
			break;
		usleep(100 * 1000);
	}
	if (opt_json) {
		json_object_object_add(p, "current_version", json_object_new_int64(now));
		print_json(p);
	} else if (now != prev && now >= 0) {
		printf("data key %s rotated: version %lld -> %lld\n", jstr(p, "previous_id"),
		       (long long)prev, (long long)now);
	} else {
		fprintf(stderr,
			"siprecctl: rotation requested but version %lld is still current after 10 "
			"s; "
			"see siprecd's log\n",
			(long long)prev);
		json_object_put(p);
		return EXIT_CALL;
	}
	json_object_put(p);
	return 0;
}

static int cmd_watch(void)
{
	int r = send_call("io.siprecd.Subscribe", NULL, true);

	if (r)
		return r;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		struct json_object *reply = NULL, *p;

		r = read_reply(&reply);
		if (r)
			return r;
		if (json_object_object_get_ex(reply, "error", NULL)) {
			r = report_error("io.siprecd.Subscribe", reply);
			json_object_put(reply);
			return r;
		}
		p = jget(reply, "parameters");
		if (opt_json) {
			printf("%s\n",
			       json_object_to_json_string_ext(
				       p, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		} else if (strcmp(jstr(p, "event"), "subscribed") == 0) {
			fprintf(stderr, "watching %s (Ctrl-C to stop)\n", socket_path);
		} else {
			time_t t = (time_t)(jint(p, "time_usec") / 1000000);
			struct tm tm;
			char ts[32];

			localtime_r(&t, &tm);
			strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
			printf("%s %-22s %s\n", ts, jstr(p, "event"), jstr(p, "message"));
		}
		if (!json_object_get_boolean(jget(reply, "continues"))) {
			json_object_put(reply);
			return 0;
		}
		json_object_put(reply);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"kek", no_argument, NULL, 'K'},
		{"store", required_argument, NULL, 'S'},
		{"key-file", required_argument, NULL, 'F'},
		{"password-file", required_argument, NULL, 'P'},
		{"kdf", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	const char *config_path = NULL, *cmd;
	char *def = NULL;
	bool kek = false;
	struct kek_args ka = {0};
	int c, r;

	/* The compliance commands work on the catalog, not the socket, and take their own
	 * options after the command (compliance.c): find them before getopt permutes. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0 ||
		    strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0) {
			if (argv[i][1] == 'c' || argv[i][2] == 'c')
				config_path = i + 1 < argc ? argv[i + 1] : NULL;
			i++;
			continue;
		}
		if (argv[i][0] == '-')
			continue;
		if (strcmp(argv[i], "verify-trail") == 0 || strcmp(argv[i], "retention") == 0 ||
		    strcmp(argv[i], "hold") == 0 || strcmp(argv[i], "erase") == 0)
			return siprecctl_compliance(argv[i], argc - i - 1, argv + i + 1,
						    config_path);
		break;
	}
	while ((c = getopt_long(argc, argv, "s:c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'j':
			opt_json = true;
			break;
		case 'K':
			kek = true;
			break;
		case 'S':
			ka.store = optarg;
			break;
		case 'F':
			ka.key_file = optarg;
			break;
		case 'P':
			ka.password_file = optarg;
			break;
		case 'D':
			ka.kdf = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("siprecctl %s\n", SIPRECD_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	/* Commands taking an ID need exactly one; the others none. */
	bool needs_id = strcmp(cmd, "session") == 0 || strcmp(cmd, "stop") == 0;

	if ((needs_id && argc - optind != 1) || (!needs_id && argc - optind != 0)) {
		fprintf(stderr, "siprecctl: %s takes %s\n", cmd,
			needs_id ? "one session ID" : "no argument");
		return EXIT_USAGE;
	}
	if ((ka.store || ka.key_file || ka.password_file || ka.kdf) &&
	    (strcmp(cmd, "rotate-keys") != 0 || !kek)) {
		fprintf(stderr, "siprecctl: --store, --key-file, --password-file and --kdf go with "
				"rotate-keys --kek\n");
		return EXIT_USAGE;
	}
	if (!socket_path)
		socket_path = getenv("SIPRECD_CONTROL");
	if (!socket_path || !*socket_path)
		socket_path = def = default_socket(config_path);
	if (strcmp(cmd, "status") && strcmp(cmd, "sessions") && strcmp(cmd, "session") &&
	    strcmp(cmd, "stop") && strcmp(cmd, "keys") && strcmp(cmd, "rotate-keys") &&
	    strcmp(cmd, "reload") && strcmp(cmd, "watch") && strcmp(cmd, "drain") &&
	    strcmp(cmd, "resume")) {
		fprintf(stderr, "siprecctl: unknown command '%s'\n", cmd);
		usage(stderr);
		free(def);
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	r = connect_socket();
	if (r) {
		free(def);
		return r;
	}
	if (strcmp(cmd, "status") == 0)
		r = cmd_status();
	else if (strcmp(cmd, "sessions") == 0)
		r = cmd_sessions();
	else if (strcmp(cmd, "session") == 0)
		r = cmd_session(argv[optind]);
	else if (strcmp(cmd, "stop") == 0)
		r = cmd_simple("io.siprecd.StopSession", argv[optind], "stopping: BYE sent");
	else if (strcmp(cmd, "keys") == 0)
		r = cmd_keys();
	else if (strcmp(cmd, "rotate-keys") == 0)
		r = kek ? cmd_rotate_kek(&ka) : cmd_rotate();
	else if (strcmp(cmd, "reload") == 0)
		r = cmd_simple("io.siprecd.Reload", NULL, "reloaded");
	else if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "resume") == 0)
		r = cmd_drain(strcmp(cmd, "drain") == 0);
	else
		r = cmd_watch();
	close(sock);
	free(rbuf);
	free(def);
	return r;
}
