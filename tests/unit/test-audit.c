// SPDX-License-Identifier: MIT
/*
 * Unit tests for audit events: the event table agrees with systemd/siprecd.catalog and
 * docs/AUDIT.md (same ids, unique ids, every event present), and audit_emit sends the
 * MESSAGE_ID, SIPREC_EVENT= and the caller's fields, whatever the log level, and calls the
 * observer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "siprecd/audit.h"
#include "siprecd/log.h"

/* Files of the source tree, found from this file's path (the build runs from the top). */
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

static bool is_id(const char *s)
{
	for (int i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void test_table(void **state)
{
	for (int i = 0; i < _AUDIT_EVENT_MAX; i++) {
		const struct audit_event_info *a = audit_event_info(i);

		assert_non_null(a);
		assert_non_null(a->name);
		assert_non_null(a->fields);
		assert_int_equal(strlen(a->message_id), 32);
		assert_true(is_id(a->message_id));
		assert_true(a->level >= LOG_ERR && a->level <= LOG_DEBUG);
		assert_int_equal(audit_event_from_name(a->name), i);
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(a->message_id, audit_event_info(j)->message_id);
			assert_string_not_equal(a->name, audit_event_info(j)->name);
		}
	}
	assert_null(audit_event_info(_AUDIT_EVENT_MAX));
	assert_int_equal(audit_event_from_name("no-such-event"), -EINVAL);
}

static void test_catalog(void **state)
{
	char *cat = read_source_file("systemd/siprecd.catalog");
	int entries = 0;

	/* every "-- <id>" line in the catalog belongs to exactly one event, and back */
	for (char *p = cat; (p = strstr(p, "\n-- ")); p += 4) {
		char id[33];
		int found = 0;

		memcpy(id, p + 4, 32);
		id[32] = '\0';
		assert_true(is_id(id));
		assert_true(p[36] == '\n');
		for (int i = 0; i < _AUDIT_EVENT_MAX; i++)
			found += strcmp(audit_event_info(i)->message_id, id) == 0;
		if (found != 1)
			fail_msg("catalog id %s matches %d events", id, found);
		entries++;
		assert_non_null(strstr(p, "Defined-By: siprecd"));
	}
	assert_int_equal(entries, _AUDIT_EVENT_MAX);
	for (int i = 0; i < _AUDIT_EVENT_MAX; i++) {
		char needle[40];
		const struct audit_event_info *a = audit_event_info(i);

		snprintf(needle, sizeof(needle), "\n-- %s\n", a->message_id);
		if (!strstr(cat, needle))
			fail_msg("event %s (%s) missing from the catalog", a->name, a->message_id);
		/* each field the event carries is explained with @FIELD@ */
		for (const char *f = a->fields; *f;) {
			size_t n = strcspn(f, " ");
			char tag[64];
			char *entry = strstr(cat, needle), *next;

			snprintf(tag, sizeof(tag), "@%.*s@", (int)n, f);
			next = strstr(entry + 1, "\n-- ");
			if (next)
				*next = '\0';
			if (!strstr(entry, tag))
				fail_msg("catalog entry of %s does not mention %s", a->name, tag);
			if (next)
				*next = '\n';
			f += n;
			while (*f == ' ')
				f++;
		}
	}
	free(cat);
}

static void test_doc(void **state)
{
	char *doc = read_source_file("docs/AUDIT.md");

	for (int i = 0; i < _AUDIT_EVENT_MAX; i++) {
		const struct audit_event_info *a = audit_event_info(i);

		if (!strstr(doc, a->message_id) || !strstr(doc, a->name))
			fail_msg("docs/AUDIT.md lacks %s / %s", a->name, a->message_id);
	}
	free(doc);
}

static int observed;
static enum audit_event observed_ev;
static char observed_msg[128];

static void observer(void *userdata, enum audit_event ev, const char *const *fields,
		     const char *message)
{
	assert_ptr_equal(userdata, &observed);
	observed++;
	observed_ev = ev;
	assert_string_equal(fields[0], "SIPREC_SESSION_ID=s1");
	snprintf(observed_msg, sizeof(observed_msg), "%s", message);
}

static void test_emit(void **state)
{
	static const char *const fields[] = {"SIPREC_SESSION_ID=s1", "SIP_CALL_ID=c1@h",
					     "PEER=[::1]:5060", NULL};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/test-audit-XXXXXX", buf[4096];
	const struct audit_event_info *a = audit_event_info(AUDIT_SESSION_STARTED);
	char want[64];
	ssize_t n;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/socket", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* LOG_LEVEL=err must not hide an info-level audit event */
	log_setup(LOG_TARGET_JOURNAL, LOG_ERR, sa.sun_path);
	audit_set_observer(observer, &observed);

	assert_int_equal(audit_emit(AUDIT_SESSION_STARTED, fields, "Session %s started", "s1"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "\nMESSAGE_ID=%s\n", a->message_id);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "MESSAGE=Session s1 started\n"));
	assert_non_null(strstr(buf, "\nPRIORITY=6\n"));
	assert_non_null(strstr(buf, "\nSIPREC_EVENT=session-started\n"));
	assert_non_null(strstr(buf, "\nSIPREC_SESSION_ID=s1\n"));
	assert_non_null(strstr(buf, "\nSIP_CALL_ID=c1@h\n"));
	assert_non_null(strstr(buf, "\nPEER=[::1]:5060\n"));
	assert_int_equal(observed, 1);
	assert_int_equal(observed_ev, AUDIT_SESSION_STARTED);
	assert_string_equal(observed_msg, "Session s1 started");

	audit_set_observer(NULL, NULL);
	audit_emit(AUDIT_SESSION_ENDED, fields, "ended");
	assert_int_equal(observed, 1);
	assert_true(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0);
	assert_int_equal(audit_emit(_AUDIT_EVENT_MAX, NULL, "x"), -EINVAL);

	log_setup(LOG_TARGET_STDERR, LOG_INFO, NULL);
	close(fd);
	unlink(sa.sun_path);
	rmdir(dir);
}

static uint64_t fake_now;
static uint64_t fake_clock(void)
{
	return fake_now;
}

struct seen {
	unsigned by_event[_AUDIT_EVENT_MAX];
	char last_summary[256];
	char last_fields[3][64];
};

static void count_observer(void *userdata, enum audit_event ev, const char *const *fields,
			   const char *message)
{
	struct seen *s = userdata;

	s->by_event[ev]++;
	if (ev == AUDIT_EVENTS_SUPPRESSED) {
		snprintf(s->last_summary, sizeof(s->last_summary), "%s", message);
		for (int i = 0; i < 3; i++)
			snprintf(s->last_fields[i], sizeof(s->last_fields[i]), "%s", fields[i]);
	}
}

/* A flood of peer-triggered events: the burst per kind gets through, the rest is counted and
 * summarised once the window is over; other kinds (a session start) are never limited, and
 * one kind's flood does not eat another kind's burst. */
static void test_rate_limit(void **state)
{
	static const char *const pf[] = {"PEER=192.0.2.1:5060", NULL};
	struct seen seen = {0};

	log_setup(LOG_TARGET_STDERR, LOG_EMERG, NULL); /* audit goes out whatever the level */
	fake_now = 1000;
	audit_set_clock(fake_clock);
	audit_set_rate_limit(10000, 20);
	audit_set_observer(count_observer, &seen);

	for (int i = 0; i < 1000; i++)
		audit_emit(AUDIT_TLS_HANDSHAKE_FAILED, pf, "garbage %d", i);
	assert_int_equal(seen.by_event[AUDIT_TLS_HANDSHAKE_FAILED], 20);
	assert_int_equal(audit_emit(AUDIT_TLS_HANDSHAKE_FAILED, pf, "one more"), -EAGAIN);
	for (int i = 0; i < 100; i++)
		audit_emit(AUDIT_SESSION_STARTED, NULL, "session %d", i);
	assert_int_equal(seen.by_event[AUDIT_SESSION_STARTED], 100);
	for (int i = 0; i < 30; i++)
		audit_emit(AUDIT_SRC_REFUSED, pf, "refused %d", i);
	assert_int_equal(seen.by_event[AUDIT_SRC_REFUSED], 20);
	/* within the window: no summary yet */
	fake_now += 9999;
	audit_flush_suppressed();
	assert_int_equal(seen.by_event[AUDIT_EVENTS_SUPPRESSED], 0);
	/* the window is over: one summary per kind that lost events */
	fake_now += 1;
	audit_flush_suppressed();
	assert_int_equal(seen.by_event[AUDIT_EVENTS_SUPPRESSED], 2);
	audit_flush_suppressed();
	assert_int_equal(seen.by_event[AUDIT_EVENTS_SUPPRESSED], 2);
	/* a new window: the burst is available again; a summary is also emitted by the next
	 * event itself, without a flush */
	for (int i = 0; i < 25; i++)
		audit_emit(AUDIT_TLS_HANDSHAKE_FAILED, pf, "again %d", i);
	assert_int_equal(seen.by_event[AUDIT_TLS_HANDSHAKE_FAILED], 40);
	fake_now += 20000;
	audit_emit(AUDIT_TLS_HANDSHAKE_FAILED, pf, "later");
	assert_int_equal(seen.by_event[AUDIT_EVENTS_SUPPRESSED], 3);
	assert_string_equal(
		seen.last_summary,
		"5 tls-handshake-failed events suppressed in the last 20 s (rate limit)");
	assert_string_equal(seen.last_fields[0], "SUPPRESSED_EVENT=tls-handshake-failed");
	assert_string_equal(seen.last_fields[1], "COUNT=5");
	assert_string_equal(seen.last_fields[2], "INTERVAL_SEC=20");
	assert_int_equal(seen.by_event[AUDIT_TLS_HANDSHAKE_FAILED], 41);
	/* burst 0: no limit */
	audit_set_rate_limit(10000, 0);
	for (int i = 0; i < 500; i++)
		audit_emit(AUDIT_AUTH_FAILURE, pf, "auth %d", i);
	assert_int_equal(seen.by_event[AUDIT_AUTH_FAILURE], 500);

	audit_set_observer(NULL, NULL);
	audit_set_rate_limit(AUDIT_RATE_INTERVAL_DEFAULT_MS, AUDIT_RATE_BURST_DEFAULT);
	audit_set_clock(NULL);
	log_setup(LOG_TARGET_STDERR, LOG_INFO, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),	   cmocka_unit_test(test_catalog),
		cmocka_unit_test(test_doc),	   cmocka_unit_test(test_emit),
		cmocka_unit_test(test_rate_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
