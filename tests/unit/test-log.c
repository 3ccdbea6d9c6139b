// SPDX-License-Identifier: MIT
/*
 * Unit tests for the logging back end: journald native protocol entries captured on a
 * test-owned AF_UNIX datagram socket (fields, binary framing of multi-line values, the memfd
 * path), the rate limit, level parsing and the stderr line format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "siprecd/log.h"

#define ENTRY_MAX (2 * 1024 * 1024)

static char tmpdir[64];
static char sockpath[128];
static int sock = -1;
static char *entry;
static size_t entry_len;

static int setup(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	strcpy(tmpdir, "/tmp/test-log-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sockpath, sizeof(sockpath), "%s/socket", tmpdir);
	strcpy(sa.sun_path, sockpath);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	entry = malloc(ENTRY_MAX);
	if (!entry)
		return -1;
	log_setup(LOG_TARGET_JOURNAL, LOG_INFO, sockpath);
	return log_get_target() == LOG_TARGET_JOURNAL ? 0 : -1;
}

static int teardown(void **state)
{
	close(sock);
	unlink(sockpath);
	rmdir(tmpdir);
	free(entry);
	return 0;
}

/* Receives one entry (datagram or sealed memfd); returns 1 if it came as a memfd, 0 if not,
 * -1 if nothing is queued. */
static int recv_entry(void)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = entry, .iov_len = ENTRY_MAX};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -1;
	entry_len = (size_t)n;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int fd, seals;
		off_t size;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
		assert_int_equal(n, 0);
		seals = fcntl(fd, F_GET_SEALS);
		assert_true(seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SHRINK));
		size = lseek(fd, 0, SEEK_END);
		assert_true(size > 0 && size <= ENTRY_MAX);
		assert_int_equal(pread(fd, entry, (size_t)size, 0), size);
		entry_len = (size_t)size;
		close(fd);
		return 1;
	}
	return 0;
}

/* Finds field name in the captured entry (either framing); returns its value and length. */
static const char *field(const char *name, size_t *ret_len)
{
	size_t nl = strlen(name);
	size_t i = 0;

	while (i < entry_len) {
		const char *line = entry + i;
		const char *eol = memchr(line, '\n', entry_len - i);
		const char *eq = memchr(line, '=', entry_len - i);

		assert_non_null(eol);
		if (eq && eq < eol) {
			if ((size_t)(eq - line) == nl && memcmp(line, name, nl) == 0) {
				*ret_len = (size_t)(eol - eq - 1);
				return eq + 1;
			}
			i = (size_t)(eol - entry) + 1;
		} else {
			/* binary: NAME '\n' le64 value '\n' */
			uint64_t len = 0;
			const uint8_t *p = (const uint8_t *)eol + 1;

			for (int k = 0; k < 8; k++)
				len |= (uint64_t)p[k] << (8 * k);
			if ((size_t)(eol - line) == nl && memcmp(line, name, nl) == 0) {
				*ret_len = len;
				return (const char *)p + 8;
			}
			i = (size_t)((const char *)p + 8 + len - entry) + 1;
		}
	}
	return NULL;
}

static void assert_field(const char *name, const char *value)
{
	size_t len = 0;
	const char *v = field(name, &len);

	if (!v)
		fail_msg("field %s missing", name);
	if (len != strlen(value) || memcmp(v, value, len) != 0)
		fail_msg("field %s is '%.*s', expected '%s'", name, (int)len, v, value);
}

static void test_fields(void **state)
{
	size_t len;
	int line;

	line = __LINE__ + 1;
	log_info("hello %d", 42);
	assert_int_equal(recv_entry(), 0);
	assert_field("MESSAGE", "hello 42");
	assert_field("PRIORITY", "6");
	assert_field("SYSLOG_IDENTIFIER", "siprecd");
	assert_field("CODE_FUNC", "test_fields");
	assert_non_null(field("CODE_FILE", &len));
	{
		char buf[16];

		snprintf(buf, sizeof(buf), "%d", line);
		assert_field("CODE_LINE", buf);
	}
	assert_null(field("MESSAGE_ID", &len));

	/* below the maximum level: nothing is sent */
	log_debug("not sent");
	assert_int_equal(recv_entry(), -1);
}

static void test_struct_binary(void **state)
{
	static const char *const fields[] = {
		"SIP_CALL_ID=abc@host",
		"MULTI=line1\nline2",
		"bad name=dropped",
		"_PID=1",
		"NOEQUALS",
		NULL,
	};
	static const char expect[] = "MULTI\n\x0b\0\0\0\0\0\0\0line1\nline2\n";
	size_t len;

	log_struct(LOG_WARNING, "0123456789abcdef0123456789abcdef", fields, "two\nlines");
	assert_int_equal(recv_entry(), 0);
	assert_field("MESSAGE", "two\nlines");
	assert_field("PRIORITY", "4");
	assert_field("MESSAGE_ID", "0123456789abcdef0123456789abcdef");
	assert_field("SIP_CALL_ID", "abc@host");
	assert_field("MULTI", "line1\nline2");
	/* the exact bytes of the binary framing */
	assert_non_null(memmem(entry, entry_len, expect, sizeof(expect) - 1));
	/* invalid names and trusted (underscore) fields are not passed on */
	assert_null(field("_PID", &len));
	assert_null(memmem(entry, entry_len, "dropped", 7));
	assert_null(memmem(entry, entry_len, "NOEQUALS", 8));
}

static void test_memfd(void **state)
{
	static const char *const fields[] = {
		"BIG=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", NULL};

	log_set_datagram_max(64);
	log_struct(LOG_NOTICE, NULL, fields, "big entry");
	log_set_datagram_max(0);
	assert_int_equal(recv_entry(), 1);
	assert_field("MESSAGE", "big entry");
	assert_field("BIG", fields[0] + 4);

	log_struct(LOG_NOTICE, NULL, fields, "small entry");
	assert_int_equal(recv_entry(), 0);
	assert_field("MESSAGE", "small entry");
}

static void test_ratelimit(void **state)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(1, 3);
	int got = 0;

	for (int i = 0; i < 10; i++)
		log_ratelimited_rl(&rl, LOG_WARNING, "flood %d", i);
	while (recv_entry() >= 0)
		got++;
	assert_int_equal(got, 3);
	assert_int_equal(rl.suppressed, 7);

	/* the interval has passed: the count of dropped messages comes first */
	rl.begin_usec -= 2000000;
	log_ratelimited_rl(&rl, LOG_WARNING, "flood %d", 10);
	assert_int_equal(recv_entry(), 0);
	assert_field("MESSAGE", "(7 similar messages suppressed)");
	assert_int_equal(recv_entry(), 0);
	assert_field("MESSAGE", "flood 10");
	assert_int_equal(recv_entry(), -1);
}

static void test_ratelimit_plain(void **state)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 2);
	unsigned supp = 99;

	assert_true(log_ratelimit_test(&rl, &supp));
	assert_int_equal(supp, 0);
	assert_true(log_ratelimit_test(&rl, &supp));
	supp = 99;
	assert_false(log_ratelimit_test(&rl, &supp));
	assert_int_equal(supp, 99); /* not written when refused */
	assert_false(log_ratelimit_test(&rl, &supp));
	rl.begin_usec -= 11000000;
	assert_true(log_ratelimit_test(&rl, &supp));
	assert_int_equal(supp, 2);
	assert_true(log_ratelimit_test(&rl, &supp));
	assert_int_equal(supp, 0);
}

static void test_levels(void **state)
{
	static const struct {
		const char *in;
		int ret;
	} t[] = {
		{"err", LOG_ERR},      {"error", LOG_ERR},     {"WARNING", LOG_WARNING},
		{"warn", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO},
		{"debug", LOG_DEBUG},  {"7", LOG_DEBUG},       {"3", LOG_ERR},
		{"8", -EINVAL},	       {"", -EINVAL},	       {"verbose", -EINVAL},
		{"-1", -EINVAL},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(log_level_from_string(t[i].in), t[i].ret);
	assert_string_equal(log_level_to_string(LOG_NOTICE), "notice");
	assert_null(log_level_to_string(8));
	assert_int_equal(log_target_from_string("journal"), LOG_TARGET_JOURNAL);
	assert_int_equal(log_target_from_string("syslog"), -EINVAL);
}

/* Runs fn with stderr redirected to a file and returns what was written. */
static char *capture_stderr(void (*fn)(void))
{
	char path[160], *out = calloc(1, 4096);
	int saved = dup(STDERR_FILENO), fd;

	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0 && saved >= 0 && out);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_true(pread(fd, out, 4095, 0) >= 0);
	close(fd);
	unlink(path);
	return out;
}

static void emit_stderr(void)
{
	static const char *const fields[] = {"SIP_CALL_ID=x1", "NOTE=a\nb", "RAW=\t\x7fx\x01",
					     NULL};

	log_struct(LOG_ERR, NULL, fields, "disk %s", "full\x1b");
}

static void test_stderr(void **state)
{
	char *out;

	unsetenv("INVOCATION_ID");
	unsetenv("JOURNAL_STREAM");
	log_setup(LOG_TARGET_STDERR, LOG_INFO, sockpath);
	out = capture_stderr(emit_stderr);
	/* "YYYY-MM-DDTHH:MM:SS.mmm err: disk full SIP_CALL_ID=x1 NOTE=a\nb" on one line */
	assert_true(strlen(out) > 24 && out[4] == '-' && out[10] == 'T');
	assert_string_equal(out + 24,
			    "err: disk full\\x1b SIP_CALL_ID=x1 NOTE=a\\nb RAW=\\x09\\x7fx\\x01\n");
	free(out);

	setenv("INVOCATION_ID", "0123", 1);
	log_setup(LOG_TARGET_STDERR, LOG_INFO, sockpath);
	out = capture_stderr(emit_stderr);
	assert_string_equal(out,
			    "<3>disk full\\x1b SIP_CALL_ID=x1 NOTE=a\\nb RAW=\\x09\\x7fx\\x01\n");
	free(out);

	/* auto under systemd with a reachable journal socket picks the journal */
	log_setup(LOG_TARGET_AUTO, LOG_INFO, sockpath);
	assert_int_equal(log_get_target(), LOG_TARGET_JOURNAL);
	unsetenv("INVOCATION_ID");
	log_setup(LOG_TARGET_AUTO, LOG_INFO, sockpath);
	assert_int_equal(log_get_target(), LOG_TARGET_STDERR);
	log_setup(LOG_TARGET_JOURNAL, LOG_INFO, sockpath);
}

/* A field of 3,000 bytes: past a buffer's inline bytes (2 KiB) the entry moves to the heap;
 * what was written before the move and what comes after both arrive (journal and stderr). */
static char big_field[5 + 3000 + 1];

static void emit_big(void)
{
	const char *const fields[] = {"FIRST=one", big_field, "LAST=two", NULL};

	log_struct(LOG_WARNING, NULL, fields, "big %s", "entry");
}

static void test_large_entry(void **state)
{
	char *out, *want;

	(void)state;
	memcpy(big_field, "BIG=", 4);
	for (size_t i = 0; i < 3000; i++)
		big_field[4 + i] = (char)('a' + i % 26);
	big_field[4 + 3000] = '\0';
	emit_big();
	assert_int_equal(recv_entry(), 0);
	assert_field("MESSAGE", "big entry");
	assert_field("FIRST", "one");
	assert_field("BIG", big_field + 4);
	assert_field("LAST", "two");

	unsetenv("INVOCATION_ID");
	unsetenv("JOURNAL_STREAM");
	log_setup(LOG_TARGET_STDERR, LOG_INFO, sockpath);
	out = capture_stderr(emit_big);
	log_setup(LOG_TARGET_JOURNAL, LOG_INFO, sockpath);
	assert_true(asprintf(&want, "warning: big entry FIRST=one %s LAST=two\n", big_field) > 0);
	assert_true(strlen(out) > 24);
	assert_string_equal(out + 24, want);
	free(want);
	free(out);
}

static void *thread_logger(void *arg)
{
	for (int i = 0; i < 50; i++)
		log_notice("thread %d message %d", (int)(intptr_t)arg, i);
	return NULL;
}

/* Concurrent writers: every entry arrives whole (one datagram each, never interleaved). */
static void test_threads(void **state)
{
	pthread_t th[4];
	int got = 0, per[4] = {0};

	for (intptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_logger, (void *)i), 0);
	while (got < 200) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		int t, m;
		size_t len;
		const char *v;
		char msg[64];

		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(recv_entry(), 0);
		v = field("MESSAGE", &len);
		assert_non_null(v);
		assert_true(len < sizeof(msg));
		memcpy(msg, v, len);
		msg[len] = '\0';
		assert_int_equal(sscanf(msg, "thread %d message %d", &t, &m), 2);
		assert_true(t >= 0 && t < 4);
		assert_int_equal(m, per[t]); /* each thread's entries stay in order */
		per[t]++;
		assert_field("PRIORITY", "5");
		got++;
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(recv_entry(), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),	  cmocka_unit_test(test_struct_binary),
		cmocka_unit_test(test_memfd),	  cmocka_unit_test(test_large_entry),
		cmocka_unit_test(test_ratelimit), cmocka_unit_test(test_ratelimit_plain),
		cmocka_unit_test(test_levels),	  cmocka_unit_test(test_threads),
		cmocka_unit_test(test_stderr),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
