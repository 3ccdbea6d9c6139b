// SPDX-License-Identifier: MIT
/*
 * Logging back end: the journald native protocol (one datagram of FIELD=value records per
 * message, or a sealed memfd when the message is too big for a datagram) and a one-line stderr
 * format. Thread-safe: every message is built in its own buffer and leaves in one syscall.
 *
 * Why not sd_journal_sendv(): it hard-codes /run/systemd/journal/socket, and the unit tests must
 * capture the datagrams on a socket they own; the protocol is small and documented ("Native
 * Journal Protocol", systemd.io/JOURNAL_NATIVE_PROTOCOL), so we speak it ourselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "siprecd/log.h"
#include "siprecd/str.h"

#define JOURNAL_SOCKET_DEFAULT "/run/systemd/journal/socket"
/* A peer-influenced message (a header value in a warning) must not grow the log without bound. */
#define LOG_MESSAGE_MAX (64 * 1024)
#define LOG_ENTRY_MAX (1024 * 1024)
#define LOG_FIELDS_MAX 64

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",	  [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

static int max_level = LOG_INFO;
/* Guards the target and the journal socket: senders read-lock, log_setup write-locks. */
static pthread_rwlock_t state_lock = PTHREAD_RWLOCK_INITIALIZER;
static enum log_target active_target = LOG_TARGET_STDERR;
static int journal_fd = -1;
static struct sockaddr_un journal_addr;
static socklen_t journal_addr_len;
/* Under systemd stderr goes to the journal anyway: prefix "<N>" so journald keeps the priority
 * (SyslogLevelPrefix=), and no timestamp since the journal adds one. */
static bool stderr_under_systemd;
static pthread_mutex_t stderr_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;
/* Entries larger than this skip the datagram attempt (tests force the memfd path with it). */
static size_t datagram_max = SIZE_MAX;

/* A growing byte buffer for one entry; on allocation failure it stops growing and is marked.
 * It starts in its own inline bytes (an entry of a few fields fits: a call's audit entries
 * took four to five reallocs each when it started empty) and moves to the heap past them. */
struct buf {
	char *p;
	size_t len, cap;
	bool failed;
	bool heap; /* p was malloc'ed */
	char inl[2048];
};

static void buf_init(struct buf *b)
{
	b->p = b->inl;
	b->len = 0;
	b->cap = sizeof(b->inl);
	b->failed = false;
	b->heap = false;
}

static void buf_free(struct buf *b)
{
	if (b->heap)
		free(b->p);
}

static void buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return;
	if (b->len + n > LOG_ENTRY_MAX) {
		b->failed = true;
		return;
	}
	if (b->len + n <= b->cap)
		return;
	cap = MAX(b->cap * 2, b->len + n + 256);
	p = b->heap ? realloc(b->p, cap) : malloc(cap);
	if (!p) {
		b->failed = true;
		return;
	}
	if (!b->heap)
		memcpy(p, b->p, b->len);
	b->heap = true;
	b->p = p;
	b->cap = cap;
}

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (n == 0)
		return;
	buf_reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/*
 * One journal field. Values with a newline use the binary form: NAME '\n' le64(len) value '\n'
 * (Native Journal Protocol); everything else is NAME=value '\n'.
 */
static void journal_field(struct buf *b, const char *name, size_t name_len, const char *value,
			  size_t value_len)
{
	buf_add(b, name, name_len);
	if (value_len && memchr(value, '\n', value_len)) {
		uint8_t le[8];
		uint64_t v = value_len;

		for (int i = 0; i < 8; i++)
			le[i] = (uint8_t)(v >> (8 * i));
		buf_add(b, "\n", 1);
		buf_add(b, le, sizeof(le));
	} else {
		buf_add(b, "=", 1);
	}
	buf_add(b, value, value_len);
	buf_add(b, "\n", 1);
}

/* journald accepts only A-Z, 0-9 and '_', not starting with '_' (trusted fields) or a digit. */
static bool field_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > 64 || s[0] == '_' || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int journal_send_memfd(int fd, const struct buf *b)
{
	_cleanup_close_ int mfd = -1;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr mh = {0};
	struct cmsghdr *cmsg;
	size_t off = 0;

	mfd = memfd_create("siprecd-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	while (off < b->len) {
		ssize_t n = write(mfd, b->p + off, b->len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	/* journald only trusts a memfd that can no longer change under it. */
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -errno;

	memset(&control, 0, sizeof(control));
	mh.msg_name = &journal_addr;
	mh.msg_namelen = journal_addr_len;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	cmsg = CMSG_FIRSTHDR(&mh);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &mfd, sizeof(int));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

static int journal_send(int fd, const struct buf *b)
{
	struct iovec iov = {.iov_base = b->p, .iov_len = b->len};
	struct msghdr mh = {
		.msg_name = &journal_addr,
		.msg_namelen = journal_addr_len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};

	if (b->len > __atomic_load_n(&datagram_max, __ATOMIC_RELAXED))
		return journal_send_memfd(fd, b);
	for (;;) {
		if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* Bigger than the socket's send buffer: hand over a memfd instead (as sd-journal).
		 */
		if (errno == EMSGSIZE || errno == ENOBUFS)
			return journal_send_memfd(fd, b);
		return -errno;
	}
}

/* Control bytes become \n or \xHH so an entry stays one line; the plain runs between them are
 * copied whole: byte by byte, escaping was ~19,000 instructions per audit line. */
static void stderr_escape(struct buf *b, const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];

		if (c >= 0x20 && c != 0x7f)
			continue;
		buf_add(b, s + run, i - run);
		run = i + 1;
		if (c == '\n') {
			buf_add(b, "\\n", 2);
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			buf_adds(b, tmp);
		}
	}
	buf_add(b, s + run, n - run);
}

static int stderr_send(int level, const char *message, size_t message_len,
		       const char *const *fields)
{
	struct buf b;
	char prefix[80];
	ssize_t n;
	int r = 0;

	if (stderr_under_systemd) {
		snprintf(prefix, sizeof(prefix), "<%d>", level);
	} else {
		struct timespec ts;
		struct tm tm;
		char tbuf[40] = "";

		clock_gettime(CLOCK_REALTIME, &ts);
		if (localtime_r(&ts.tv_sec, &tm))
			strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(prefix, sizeof(prefix), "%s.%03ld %s: ", tbuf, ts.tv_nsec / 1000000L,
			 level_names[level]);
	}
	buf_init(&b);
	buf_adds(&b, prefix);
	stderr_escape(&b, message, message_len);
	for (size_t i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++) {
		buf_add(&b, " ", 1);
		stderr_escape(&b, fields[i], strlen(fields[i]));
	}
	buf_add(&b, "\n", 1);
	if (b.failed) {
		buf_free(&b);
		return -ENOMEM;
	}
	pthread_mutex_lock(&stderr_lock);
	for (size_t off = 0; off < b.len;) {
		n = write(STDERR_FILENO, b.p + off, b.len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	pthread_mutex_unlock(&stderr_lock);
	buf_free(&b);
	return r;
}

static int log_dispatch(int level, const char *file, int line, const char *func,
			const char *message_id, const char *const *fields, const char *fmt,
			va_list ap)
{
	char stackbuf[1024];
	_cleanup_free_ char *heap = NULL;
	const char *message = stackbuf;
	size_t message_len;
	int n, r;

	if (level < LOG_EMERG || level > LOG_DEBUG)
		level = LOG_ERR;

	{
		va_list aq;

		va_copy(aq, ap);
		n = vsnprintf(stackbuf, sizeof(stackbuf), fmt, aq);
		va_end(aq);
	}
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(stackbuf)) {
		size_t sz = MIN((size_t)n, (size_t)LOG_MESSAGE_MAX) + 1;

		heap = malloc(sz);
		if (heap) {
			vsnprintf(heap, sz, fmt, ap);
			message = heap;
			n = (int)(sz - 1);
		} else {
			n = sizeof(stackbuf) - 1;
		}
	}
	message_len = (size_t)n;

	pthread_rwlock_rdlock(&state_lock);
	if (active_target == LOG_TARGET_JOURNAL && journal_fd >= 0) {
		struct buf b;
		char num[32];

		buf_init(&b);
		journal_field(&b, "MESSAGE", 7, message, message_len);
		snprintf(num, sizeof(num), "%d", level);
		journal_field(&b, "PRIORITY", 8, num, strlen(num));
		journal_field(&b, "SYSLOG_IDENTIFIER", 17, "siprecd", 7);
		if (message_id)
			journal_field(&b, "MESSAGE_ID", 10, message_id, strlen(message_id));
		if (file) {
			journal_field(&b, "CODE_FILE", 9, file, strlen(file));
			snprintf(num, sizeof(num), "%d", line);
			journal_field(&b, "CODE_LINE", 9, num, strlen(num));
		}
		if (func)
			journal_field(&b, "CODE_FUNC", 9, func, strlen(func));
		for (size_t i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++) {
			const char *eq = strchr(fields[i], '=');

			if (!eq || !field_name_valid(fields[i], (size_t)(eq - fields[i])))
				continue;
			journal_field(&b, fields[i], (size_t)(eq - fields[i]), eq + 1,
				      strlen(eq + 1));
		}
		r = b.failed ? -ENOMEM : journal_send(journal_fd, &b);
		buf_free(&b);
		pthread_rwlock_unlock(&state_lock);
		/* The journal went away (restart, tests): the message still goes somewhere. */
		if (r < 0)
			stderr_send(level, message, message_len, fields);
		return r;
	}
	pthread_rwlock_unlock(&state_lock);
	return stderr_send(level, message, message_len, fields);
}

int log_internal(int level, const char *file, int line, const char *func, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_dispatch(level, file, line, func, NULL, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int log_struct(int level, const char *message_id, const char *const *fields, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (level > log_get_max_level())
		return 0;
	va_start(ap, fmt);
	r = log_dispatch(level, NULL, 0, NULL, message_id, fields, fmt, ap);
	va_end(ap);
	return r;
}

int log_struct_unfiltered(int level, const char *message_id, const char *const *fields,
			  const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_dispatch(level, NULL, 0, NULL, message_id, fields, fmt, ap);
	va_end(ap);
	return r;
}

int log_structv(int level, const char *message_id, const char *const *fields, const char *fmt,
		va_list ap)
{
	if (level > log_get_max_level())
		return 0;
	return log_dispatch(level, NULL, 0, NULL, message_id, fields, fmt, ap);
}

/* $JOURNAL_STREAM is "dev:ino" of the stream systemd connected our stderr to (systemd.exec(5)). */
static bool stderr_is_journal_stream(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	struct str dev, ino;
	uint64_t d, i;
	struct stat st;

	if (!e || !*e)
		return false;
	ino = str_split(str_from_cstr(e), ':', &dev);
	if (!ino.s || str_to_u64(dev, UINT64_MAX, &d) < 0 || str_to_u64(ino, UINT64_MAX, &i) < 0)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (uint64_t)st.st_dev == d && (uint64_t)st.st_ino == i;
}

static int journal_open(const char *path)
{
	int fd, sndbuf = 8 * 1024 * 1024;

	if (strlen(path) >= sizeof(journal_addr.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Larger datagrams avoid the memfd path for ordinary big messages; capped by wmem_max. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	memset(&journal_addr, 0, sizeof(journal_addr));
	journal_addr.sun_family = AF_UNIX;
	strcpy(journal_addr.sun_path, path);
	journal_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	return fd;
}

void log_setup(enum log_target target, int level, const char *journal_socket)
{
	const char *path = journal_socket ? journal_socket : JOURNAL_SOCKET_DEFAULT;
	bool under_systemd = getenv("INVOCATION_ID") || getenv("JOURNAL_STREAM");

	log_set_max_level(level);
	pthread_rwlock_wrlock(&state_lock);
	if (journal_fd >= 0) {
		close(journal_fd);
		journal_fd = -1;
	}
	stderr_under_systemd = under_systemd;
	if (target == LOG_TARGET_AUTO) {
		if (stderr_is_journal_stream() ||
		    (getenv("INVOCATION_ID") && access(path, W_OK) == 0))
			target = LOG_TARGET_JOURNAL;
		else
			target = LOG_TARGET_STDERR;
	}
	if (target == LOG_TARGET_JOURNAL) {
		journal_fd = journal_open(path);
		if (journal_fd < 0)
			target = LOG_TARGET_STDERR;
	}
	active_target = target;
	pthread_rwlock_unlock(&state_lock);
}

void log_set_datagram_max(size_t max)
{
	__atomic_store_n(&datagram_max, max ? max : SIZE_MAX, __ATOMIC_RELAXED);
}

enum log_target log_get_target(void)
{
	enum log_target t;

	pthread_rwlock_rdlock(&state_lock);
	t = active_target;
	pthread_rwlock_unlock(&state_lock);
	return t;
}

int log_target_from_string(const char *s)
{
	static const char *const names[] = {
		[LOG_TARGET_AUTO] = "auto",
		[LOG_TARGET_JOURNAL] = "journal",
		[LOG_TARGET_STDERR] = "stderr",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcasecmp(s, names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

void log_set_max_level(int level)
{
	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	__atomic_store_n(&max_level, level, __ATOMIC_RELAXED);
}

int log_get_max_level(void)
{
	return __atomic_load_n(&max_level, __ATOMIC_RELAXED);
}

int log_level_from_string(const char *s)
{
	uint64_t v;

	if (!s)
		return -EINVAL;
	if (parse_u64(s, LOG_DEBUG, &v) == 0)
		return (int)v;
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "error") == 0)
		return LOG_ERR;
	if (strcasecmp(s, "warn") == 0)
		return LOG_WARNING;
	return -EINVAL;
}

const char *log_level_to_string(int level)
{
	if (level < LOG_EMERG || level > LOG_DEBUG)
		return NULL;
	return level_names[level];
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

bool log_ratelimit_test(struct log_ratelimit *rl, unsigned *ret_suppressed)
{
	uint64_t now = now_usec();
	unsigned reported = 0;
	bool ok;

	pthread_mutex_lock(&ratelimit_lock);
	if (rl->begin_usec == 0 || now - rl->begin_usec >= rl->interval_usec) {
		reported = rl->suppressed;
		rl->begin_usec = now;
		rl->num = 0;
		rl->suppressed = 0;
	}
	ok = rl->num < rl->burst;
	if (ok)
		rl->num++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&ratelimit_lock);
	if (ok && ret_suppressed)
		*ret_suppressed = reported;
	return ok;
}
