// SPDX-License-Identifier: MIT
/*
 * Unit tests for configuration loading: a table of (file, environment) -> (result, messages)
 * covering syntax, every value type, environment override, cross-field checks and reporting of
 * all errors at once; derived directories; secret masking; and that docs/CONFIG.md and
 * docs/siprecd.conf.example list exactly the keys of the table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "siprecd/config.h"
#include "siprecd/log.h"

static char tmpdir[64];
static char conf[128];

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/test-config-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(conf, sizeof(conf), "%s/siprecd.conf", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	char path[160];

	unlink(conf);
	snprintf(path, sizeof(path), "%s/ca.pem", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

static void write_conf(const char *text, mode_t mode)
{
	int fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Loads text (NULL: no file, the path names a missing file) with env; returns the result and
 * the messages printed, in *ret_err (caller frees). */
static int load(struct config *c, const char *text, mode_t mode, const char *const *env,
		char **ret_err)
{
	char *const envp[16] = {0};
	char **e = (char **)envp;
	size_t errlen = 0;
	FILE *err;
	int r, n = 0;

	e[n++] = (char *)"HOME=/home/t";
	for (size_t i = 0; env && env[i]; i++)
		e[n++] = (char *)env[i];
	if (text)
		write_conf(text, mode);
	else
		unlink(conf);
	err = open_memstream(ret_err, &errlen);
	assert_non_null(err);
	r = config_load(c, conf, envp, err);
	fclose(err);
	return r;
}

static void test_table(void **state)
{
	static const struct {
		const char *file;
		const char *env[4];
		int ret;
		const char *errs[5];
	} t[] = {
		/* syntax */
		{"", {NULL}, 0, {NULL}},
		{"# comment\n\n   \n  SIP_PORT = 5070  \r\nTLS_ALLOWED_PEERS='a b'\n"
		 "TLS_CA_PATH=/etc/hostname\n",
		 {NULL},
		 0,
		 {NULL}},
		{"SIP_PROT=5060\n",
		 {NULL},
		 -EINVAL,
		 {"conf:1: unknown key 'SIP_PROT' (did you mean SIP_PORT?)"}},
		{"sip_port=5060\n",
		 {NULL},
		 -EINVAL,
		 {"unknown key 'sip_port' (did you mean SIP_PORT?)"}},
		{"COMPLETELY_UNRELATED=1\n",
		 {NULL},
		 -EINVAL,
		 {"unknown key 'COMPLETELY_UNRELATED'\n"}},
		{"SIP_PORT\n", {NULL}, -EINVAL, {"conf:1: expected KEY=value, got 'SIP_PORT'"}},
		{"SIP_PORT=5060\n#\nSIP_PORT=5062\n",
		 {NULL},
		 -EINVAL,
		 {"conf:3: duplicate key SIP_PORT (first set on line 1)"}},
		/* values */
		{"MAX_SESSIONS=12x\n", {NULL}, -EINVAL, {"MAX_SESSIONS: '12x' is not a number"}},
		{"MAX_SESSIONS=-1\n", {NULL}, -EINVAL, {"MAX_SESSIONS: '-1' is not a number"}},
		{"MAX_SESSIONS=0\n",
		 {NULL},
		 -EINVAL,
		 {"MAX_SESSIONS: 0 is out of range (1..1000000)"}},
		{"SIP_PORT=0\n", {NULL}, -EINVAL, {"SIP_PORT: 0 is out of range (port 1..65535)"}},
		{"TLS_PORT=65536\n",
		 {NULL},
		 -EINVAL,
		 {"TLS_PORT: 65536 is out of range (port 1..65535)"}},
		{"SIP_PORT=99999999999999999999999\n",
		 {NULL},
		 -EINVAL,
		 {"SIP_PORT: 99999999999999999999999 is out of range"}},
		{"RTP_TIMEOUT=10 s\n", {NULL}, -EINVAL, {"RTP_TIMEOUT: '10 s' is not a duration"}},
		{"RTP_TIMEOUT=5x\n", {NULL}, -EINVAL, {"RTP_TIMEOUT: '5x' is not a duration"}},
		{"FLUSH_INTERVAL=2h\n", {NULL}, -EINVAL, {"FLUSH_INTERVAL: 2h is out of range"}},
		{"ENABLE_TCP=maybe\n", {NULL}, -EINVAL, {"ENABLE_TCP: 'maybe' is not a boolean"}},
		{"SRTP_POLICY=sometimes\n",
		 {NULL},
		 -EINVAL,
		 {"SRTP_POLICY: 'sometimes' is not one of: off, optional, required"}},
		{"ENCRYPTION_ALGORITHM=chacha20-poly1305\nLOG_LEVEL=debug\n", {NULL}, 0, {NULL}},
		{"LOG_LEVEL=loud\n", {NULL}, -EINVAL, {"LOG_LEVEL: 'loud' is not a log level"}},
		{"RECORDING_DIR=recordings\n",
		 {NULL},
		 -EINVAL,
		 {"RECORDING_DIR: 'recordings' is not an absolute path"}},
		{"SIP_LISTEN_ADDRESS=localhost\n",
		 {NULL},
		 -EINVAL,
		 {"SIP_LISTEN_ADDRESS: 'localhost' is not an IPv4 or IPv6 address"}},
		{"METRICS_LISTEN=[::1]:9090\nMEDIA_ADDRESS=::1\n", {NULL}, 0, {NULL}},
		{"METRICS_LISTEN=127.0.0.1\n",
		 {NULL},
		 -EINVAL,
		 {"METRICS_LISTEN: '127.0.0.1' is not address:port"}},
		/* explicit file that does not exist */
		{NULL,
		 {NULL},
		 -EINVAL,
		 {"cannot read configuration file", "No such file or directory"}},
		/* environment: overrides the file, bad values are errors too, others ignored */
		{"SIP_PORT=5070\n", {"SIP_PORT=5080", "PATH=/bin", "SIPPORT=1"}, 0, {NULL}},
		{"", {"SIP_PORT=http"}, -EINVAL, {"environment: SIP_PORT: 'http' is not a number"}},
		/* cross-field checks */
		{"RTP_PORT_MIN=30000\nRTP_PORT_MAX=20000\n",
		 {NULL},
		 -EINVAL,
		 {"RTP_PORT_MIN (30000) must be below RTP_PORT_MAX (20000)"}},
		{"RTP_PORT_MIN=20000\nRTP_PORT_MAX=20010\n",
		 {NULL},
		 -EINVAL,
		 {"holds 11 ports, fewer than 2 * MAX_STREAMS_PER_SESSION (32)"}},
		{"RTP_PORT_MIN=20000\nRTP_PORT_MAX=20010\nMAX_STREAMS_PER_SESSION=4\n",
		 {NULL},
		 0,
		 {NULL}},
		{"CHUNK_SIZE=5000\n",
		 {NULL},
		 -EINVAL,
		 {"CHUNK_SIZE: 5000 must be a multiple of 4096"}},
		{"CHUNK_SIZE=0\n", {NULL}, -EINVAL, {"CHUNK_SIZE: 0 must be"}},
		{"CHUNK_SIZE=33554432\n", {NULL}, -EINVAL, {"CHUNK_SIZE: 33554432 must be"}},
		{"CHUNK_SIZE=16777216\n", {NULL}, 0, {NULL}},
		{"RECORD_SIP_HEADERS=X-Customer-Id, X-Agent,P-Asserted-Identity\n",
		 {NULL},
		 0,
		 {NULL}},
		{"RECORD_SIP_HEADERS=X-Ok,Bad:Name\n",
		 {NULL},
		 -EINVAL,
		 {"RECORD_SIP_HEADERS: 'Bad:Name' is not a header name"}},
		{"RECORD_SIP_HEADERS=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n",
		 {NULL},
		 -EINVAL,
		 {"RECORD_SIP_HEADERS: 17 names, at most 16"}},
		{"TLS_CERT_PATH=/etc/hostname\n",
		 {NULL},
		 -EINVAL,
		 {"TLS_CERT_PATH and TLS_KEY_PATH must be set together (TLS_KEY_PATH is empty)"}},
		{"TLS_CA_PATH=/nonexistent/ca.pem\n",
		 {NULL},
		 -EINVAL,
		 {"TLS_CA_PATH: '/nonexistent/ca.pem': No such file or directory"}},
		{"TLS_CA_PATH=/nonexistent/ca.pem\nENABLE_TLS=no\n", {NULL}, 0, {NULL}},
		{"TLS_VERIFY_CLIENT=require\n",
		 {NULL},
		 -EINVAL,
		 {"TLS_VERIFY_CLIENT=require needs TLS_CA_PATH"}},
		/* never the system trust store for client certificates */
		{"TLS_VERIFY_CLIENT=request\n",
		 {NULL},
		 -EINVAL,
		 {"TLS_VERIFY_CLIENT=request needs TLS_CA_PATH"}},
		{"TLS_ALLOWED_PEERS=sbc.example.net\n",
		 {NULL},
		 -EINVAL,
		 {"TLS_ALLOWED_PEERS needs TLS_CA_PATH"}},
		{"TLS_CRL_PATH=/etc/hostname\nTLS_CA_PATH=/etc/hostname\n",
		 {NULL},
		 -EINVAL,
		 {"TLS_CRL_PATH is set but TLS_VERIFY_CLIENT=none"}},
		{"TLS_CRL_PATH=/nonexistent/crl.pem\nTLS_CA_PATH=/etc/hostname\n"
		 "TLS_VERIFY_CLIENT=require\n",
		 {NULL},
		 -EINVAL,
		 {"TLS_CRL_PATH: '/nonexistent/crl.pem': No such file or directory"}},
		{"TLS_CRL_PATH=/etc/hostname\nTLS_CA_PATH=/etc/"
		 "hostname\nTLS_VERIFY_CLIENT=require\n",
		 {NULL},
		 0,
		 {NULL}},
		{"TLS_PORT=5060\n", {NULL}, -EINVAL, {"TLS_PORT and SIP_PORT are both 5060"}},
		{"ENABLE_UDP=0\nENABLE_TCP=off\nENABLE_TLS=no\n",
		 {NULL},
		 -EINVAL,
		 {"nothing to listen on"}},
		/* every problem is reported, not only the first */
		{"SIP_PORT=0\nBOGUS=1\nENABLE_TLS=perhaps\nCHUNK_SIZE=100\n",
		 {"RTP_TIMEOUT=never"},
		 -EINVAL,
		 {"conf:1: SIP_PORT", "conf:2: unknown key 'BOGUS'", "conf:3: ENABLE_TLS",
		  "environment: RTP_TIMEOUT", "CHUNK_SIZE: 100"}},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct config c;
		char *err = NULL;
		int r = load(&c, t[i].file, 0600, t[i].env, &err);

		if (r != t[i].ret)
			fail_msg("case %zu: got %d, expected %d; messages:\n%s", i, r, t[i].ret,
				 err);
		if (r == 0) {
			if (*err)
				fail_msg("case %zu: unexpected messages:\n%s", i, err);
			config_free(&c);
		}
		for (size_t j = 0; j < 5 && t[i].errs[j]; j++)
			if (!strstr(err, t[i].errs[j]))
				fail_msg("case %zu: '%s' not in:\n%s", i, t[i].errs[j], err);
		free(err);
	}
}

static void test_values(void **state)
{
	static const char *const env[] = {"SIP_PORT=5080", "LOG_LEVEL=", NULL};
	struct config c;
	char *err;

	assert_int_equal(load(&c,
			      "SIP_PORT=5070\nTLS_ALLOWED_PEERS=\"sbc-*.example.com, pbx\"\n"
			      "RTP_TIMEOUT=1500ms\nKEY_ROTATION_INTERVAL=7d\n"
			      "ENCRYPTION_ALGORITHM=chacha20-poly1305\nTLS_VERIFY_CLIENT=request\n"
			      "TLS_CA_PATH=/etc/hostname\n"
			      "LOG_LEVEL=debug\nENABLE_METADATA_ENCRYPTION=yes\n",
			      0600, env, &err),
			 0);
	free(err);
	assert_int_equal(c.sip_port, 5080); /* the environment wins */
	assert_string_equal(c.tls_allowed_peers, "sbc-*.example.com, pbx");
	assert_int_equal(c.rtp_timeout_ms, 1500);
	assert_int_equal(c.key_rotation_interval_ms, 7ULL * 86400000);
	assert_int_equal(c.encryption_algorithm, SEAL_CHACHA20_POLY1305);
	assert_int_equal(c.tls_verify_client, TLS_VERIFY_REQUEST);
	assert_int_equal(c.log_level, LOG_INFO); /* empty in the environment resets to default */
	/* the default: at 100,000 packets/s a worker wakes once per MEDIA_BATCH_WAIT (1 ms), not
	 * per 32 packets (bench/RESULTS.md, pktcost: 3.73 -> 3.26 us a packet) */
	assert_int_equal(c.media_batch, 128);
	assert_true(c.enable_metadata_encryption);
	assert_string_equal(c.config_path, conf);
	config_free(&c);
	assert_null(c.tls_allowed_peers);
	assert_null(config_free(NULL));
}

static void test_srtp_compat(void **state)
{
	static const struct {
		const char *file;
		const char *env[2];
		enum srtp_policy want;
	} t[] = {
		{"", {NULL}, SRTP_POLICY_OPTIONAL},
		{"ENABLE_SRTP=false\n", {NULL}, SRTP_POLICY_OFF},
		{"ENABLE_SRTP=true\n", {NULL}, SRTP_POLICY_OPTIONAL},
		{"ENABLE_SRTP=false\nSRTP_POLICY=required\n", {NULL}, SRTP_POLICY_REQUIRED},
		{"SRTP_POLICY=required\n", {"ENABLE_SRTP=false"}, SRTP_POLICY_REQUIRED},
		{"", {"ENABLE_SRTP=no"}, SRTP_POLICY_OFF},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct config c;
		char *err;

		assert_int_equal(load(&c, t[i].file, 0600, t[i].env, &err), 0);
		free(err);
		if (c.srtp_policy != t[i].want)
			fail_msg("case %zu: policy %d, expected %d", i, c.srtp_policy, t[i].want);
		config_free(&c);
	}
}

static void test_dirs(void **state)
{
	static const struct {
		const char *env[3];
		const char *state, *runtime;
	} t[] = {
		{{NULL}, "/home/t/.local/state/siprecd", "/home/t/.local/state/siprecd/run"},
		{{"XDG_STATE_HOME=/x/state", "XDG_RUNTIME_DIR=/run/user/1000"},
		 "/x/state/siprecd",
		 "/run/user/1000/siprecd"},
		{{"XDG_STATE_HOME=relative/ignored"}, "/home/t/.local/state/siprecd", NULL},
		{{"STATE_DIRECTORY=/var/lib/siprecd:/var/lib/other",
		  "RUNTIME_DIRECTORY=/run/siprecd"},
		 "/var/lib/siprecd",
		 "/run/siprecd"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct config c;
		char *err, want[256];

		assert_int_equal(load(&c, "", 0600, t[i].env, &err), 0);
		free(err);
		assert_string_equal(c.state_dir, t[i].state);
		if (t[i].runtime)
			assert_string_equal(c.runtime_dir, t[i].runtime);
		snprintf(want, sizeof(want), "%s/recordings", t[i].state);
		assert_string_equal(c.recording_dir, want);
		snprintf(want, sizeof(want), "%s/catalog.db", t[i].state);
		assert_string_equal(c.catalog_path, want);
		snprintf(want, sizeof(want), "%s/keys/master.key", t[i].state);
		assert_string_equal(c.master_key_path, want);
		snprintf(want, sizeof(want), "%s/control", c.runtime_dir);
		assert_string_equal(c.control_socket, want);
		config_free(&c);
	}
}

static void test_default_path(void **state)
{
	struct config c;
	char env1[160], env2[160];
	char *const envp1[] = {(char *)"HOME=/h", env1, NULL};
	char *const envp2[] = {(char *)"HOME=/h", env2, NULL};

	/* the default file may be missing */
	snprintf(env1, sizeof(env1), "CONFIGURATION_DIRECTORY=%s/missing", tmpdir);
	assert_int_equal(config_load(&c, NULL, envp1, NULL), 0);
	assert_null(c.config_path);
	config_free(&c);

	/* systemd's ConfigurationDirectory= is where the default file lives */
	write_conf("SIP_PORT=5999\n", 0644);
	snprintf(env2, sizeof(env2), "CONFIGURATION_DIRECTORY=%s", tmpdir);
	assert_int_equal(config_load(&c, NULL, envp2, NULL), 0);
	assert_int_equal(c.sip_port, 5999);
	assert_string_equal(c.config_path, conf);
	config_free(&c);
}

static void test_secrets(void **state)
{
	static const char *const env[] = {"TLS_KEY_PASSWORD=tls-pass-123", NULL};
	struct config c, c2;
	char *err, *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0;
	FILE *f;

	/* a secret in a file everyone can read is refused */
	assert_int_equal(load(&c, "MASTER_PASSWORD=hunter22\n", 0644, NULL, &err), -EINVAL);
	assert_non_null(strstr(err, "contains a secret but is readable by everyone"));
	assert_null(strstr(err, "hunter22"));
	free(err);

	assert_int_equal(
		load(&c, "MASTER_PASSWORD=hunter22\nCONTROL_GROUP=siprec ops\n", 0640, env, &err),
		0);
	free(err);
	assert_string_equal(c.master_password, "hunter22");
	f = open_memstream(&out, &len);
	config_print(&c, f);
	fclose(f);
	assert_non_null(strstr(out, "\nMASTER_PASSWORD=********\n"));
	assert_non_null(strstr(out, "\nTLS_KEY_PASSWORD=********\n"));
	assert_null(strstr(out, "hunter22"));
	assert_null(strstr(out, "tls-pass-123"));
	assert_non_null(strstr(out, "\nCONTROL_GROUP=\"siprec ops\"\n"));
	assert_non_null(strstr(out, "\nKEY_ROTATION_INTERVAL=1d\n"));
	assert_non_null(strstr(out, "\nENCRYPTION_ALGORITHM=AES-256-GCM\n"));
	config_free(&c);

	/* what config_print writes (secrets emptied) reads back to the same thing */
	for (char *p; (p = strstr(out, "=********\n"));)
		memmove(p + 1, p + 9, strlen(p + 9) + 1);
	assert_int_equal(load(&c2, out, 0600, NULL, &err), 0);
	free(err);
	f = open_memstream(&out2, &len2);
	config_print(&c2, f);
	fclose(f);
	config_free(&c2);
	assert_string_equal(strchr(out, '\n'), strchr(out2, '\n'));
	free(out);
	free(out2);
}

static char *read_source_file(const char *rel)
{
	char path[512], *p, *buf;
	const char *top = getenv("SIPRECD_SRCDIR");
	FILE *f;
	long n;

	if (top) {
		snprintf(path, sizeof(path), "%s/%s", top, rel);
	} else {
		snprintf(path, sizeof(path), "%s", __FILE__);
		p = strstr(path, "tests/unit/");
		assert_non_null(p);
		snprintf(p, sizeof(path) - (size_t)(p - path), "%s", rel);
	}
	f = fopen(path, "re");
	if (!f)
		fail_msg("cannot open %s (set SIPRECD_SRCDIR)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* docs/CONFIG.md's key table lists exactly the keys of the table, in the same order, and is
 * exactly what config_print_doc prints (so the "on reload" column cannot drift). */
static void test_doc(void **state)
{
	char *doc = read_source_file("docs/CONFIG.md");
	char *p = strstr(doc, "<!-- keys:begin -->"), *end = strstr(doc, "<!-- keys:end -->");
	char *gen = NULL;
	size_t i = 0, gen_len = 0;
	FILE *f;

	assert_non_null(p);
	assert_non_null(end);
	*end = '\0';
	f = open_memstream(&gen, &gen_len);
	assert_non_null(f);
	config_print_doc(f);
	fclose(f);
	if (strcmp(p + strlen("<!-- keys:begin -->\n"), gen) != 0)
		fail_msg("docs/CONFIG.md's key table differs from the code: regenerate it with "
			 "build/tests/test-config --print-doc");
	free(gen);
	while ((p = strstr(p, "\n| `"))) {
		char name[64];
		size_t n;

		p += 4;
		n = strcspn(p, "`");
		assert_true(n < sizeof(name));
		memcpy(name, p, n);
		name[n] = '\0';
		if (!config_key_name(i))
			fail_msg("docs/CONFIG.md lists %s, which is not in the key table", name);
		if (strcmp(name, config_key_name(i)) != 0)
			fail_msg("docs/CONFIG.md row %zu is %s, the table has %s", i, name,
				 config_key_name(i));
		i++;
	}
	if (i != config_key_count())
		fail_msg("docs/CONFIG.md lists %zu keys, the table has %zu (first missing: %s)", i,
			 config_key_count(), config_key_name(i));
	free(doc);
}

struct changes {
	char names[16][64];
	bool applied[16];
	unsigned n;
};

static void record_change(void *userdata, const char *key, bool applied)
{
	struct changes *ch = userdata;

	assert_true(ch->n < 16);
	snprintf(ch->names[ch->n], sizeof(ch->names[0]), "%s", key);
	ch->applied[ch->n++] = applied;
}

/* SIGHUP: reloadable keys move into the running configuration, restart-only ones stay and are
 * reported, unchanged keys are not reported, and a failed hook can put a value back. */
static void test_apply(void **state)
{
	struct config cur, next;
	struct changes ch = {0};
	char *err = NULL;

	assert_int_equal(load(&cur,
			      "SIP_PORT=5070\nMAX_SESSIONS=10\nLOG_LEVEL=info\n"
			      "TLS_ALLOWED_PEERS=a.example\nTLS_CA_PATH=/etc/passwd\n",
			      0640, NULL, &err),
			 0);
	free(err);
	assert_int_equal(load(&next,
			      "SIP_PORT=5080\nMAX_SESSIONS=20\nLOG_LEVEL=debug\n"
			      "TLS_ALLOWED_PEERS=b.example\nTLS_CA_PATH=/etc/hostname\n",
			      0640, NULL, &err),
			 0);
	free(err);
	assert_int_equal(config_apply(&cur, &next, record_change, &ch), 5);
	assert_int_equal(ch.n, 5);
	/* table order: SIP_PORT, TLS_CA_PATH, TLS_ALLOWED_PEERS, MAX_SESSIONS, LOG_LEVEL */
	assert_string_equal(ch.names[0], "SIP_PORT");
	assert_false(ch.applied[0]);
	assert_string_equal(ch.names[1], "TLS_CA_PATH");
	assert_true(ch.applied[1]);
	assert_string_equal(ch.names[2], "TLS_ALLOWED_PEERS");
	assert_true(ch.applied[2]);
	assert_string_equal(ch.names[3], "MAX_SESSIONS");
	assert_true(ch.applied[3]);
	assert_string_equal(ch.names[4], "LOG_LEVEL");
	assert_true(ch.applied[4]);
	assert_int_equal(cur.sip_port, 5070);
	assert_int_equal(cur.max_sessions, 20);
	assert_int_equal(cur.log_level, LOG_DEBUG);
	assert_string_equal(cur.tls_allowed_peers, "b.example");
	/* next now holds the previous values of what was applied */
	assert_int_equal(next.max_sessions, 10);
	assert_string_equal(next.tls_allowed_peers, "a.example");
	assert_int_equal(config_swap_key(&cur, &next, "TLS_ALLOWED_PEERS"), 0);
	assert_string_equal(cur.tls_allowed_peers, "a.example");
	assert_int_equal(config_swap_key(&cur, &next, "NO_SUCH_KEY"), -ENOENT);
	assert_int_equal(config_key_reloadable("LOG_LEVEL"), 1);
	assert_int_equal(config_key_reloadable("SIP_PORT"), 0);
	/* siprec-web's keys: siprecd does not use them, a SIGHUP must not say they wait for its
	 * restart */
	assert_int_equal(config_key_reloadable("WEB_MAX_CONNECTIONS_PER_ADDRESS"), 1);
	assert_int_equal(config_key_reloadable("WEB_REQUEST_TIMEOUT"), 1);
	assert_int_equal(config_key_reloadable("NO_SUCH_KEY"), -ENOENT);
	config_free(&next);
	/* Nothing differs: nothing reported. */
	assert_int_equal(load(&next,
			      "SIP_PORT=5070\nMAX_SESSIONS=20\nLOG_LEVEL=debug\n"
			      "TLS_ALLOWED_PEERS=a.example\nTLS_CA_PATH=/etc/hostname\n",
			      0640, NULL, &err),
			 0);
	free(err);
	assert_int_equal(config_apply(&cur, &next, NULL, NULL), 0);
	config_free(&next);
	config_free(&cur);
}

/* The example file loads cleanly and mentions every key. */
static void test_example(void **state)
{
	char *ex = read_source_file("docs/siprecd.conf.example");
	struct config c;
	char *err;

	for (size_t i = 0; i < config_key_count(); i++) {
		char needle[80];

		snprintf(needle, sizeof(needle), "%s=", config_key_name(i));
		if (!strstr(ex, needle))
			fail_msg("docs/siprecd.conf.example does not mention %s",
				 config_key_name(i));
	}
	if (load(&c, ex, 0640, NULL, &err) != 0)
		fail_msg("example does not load:\n%s", err);
	free(err);
	config_free(&c);
	free(ex);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),	     cmocka_unit_test(test_values),
		cmocka_unit_test(test_srtp_compat),  cmocka_unit_test(test_dirs),
		cmocka_unit_test(test_default_path), cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_doc),	     cmocka_unit_test(test_example),
		cmocka_unit_test(test_apply),
	};

	/* --print-doc regenerates the key table of docs/CONFIG.md */
	if (argc > 1 && strcmp(argv[1], "--print-doc") == 0) {
		config_print_doc(stdout);
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
