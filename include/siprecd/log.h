/* SPDX-License-Identifier: MIT */
/*
 * Logging: journald native protocol with structured fields when the journal socket exists,
 * otherwise one human-readable line per message on stderr. Library layers log at debug only;
 * paths a peer can trigger use the rate-limited forms.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

#include "siprecd/macro.h"

enum log_target {
	LOG_TARGET_AUTO, /* journal if $JOURNAL_STREAM or the journal socket exists, else stderr */
	LOG_TARGET_JOURNAL, /* journald native socket */
	LOG_TARGET_STDERR,
};

/* Sets up the target and maximum level (LOG_ERR..LOG_DEBUG). journal_socket may be NULL for
 * the default /run/systemd/journal/socket (tests point it at their own socket). */
void log_setup(enum log_target target, int max_level, const char *journal_socket);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Parses "err", "warning", "notice", "info", "debug" (or 0..7); returns the level or -EINVAL. */
int log_level_from_string(const char *s);
/* "err", "warning", ...; NULL for a level out of range. */
const char *log_level_to_string(int level);
/* Parses "auto", "journal", "stderr" into enum log_target; -EINVAL otherwise. */
int log_target_from_string(const char *s);
/* The target in use after log_setup resolved AUTO (STDERR before log_setup is called). */
enum log_target log_get_target(void);
/* Journal entries bigger than max bytes go through a memfd without trying a datagram first
 * (0 = no limit but the socket's). For tests of the memfd path. */
void log_set_datagram_max(size_t max);

/* Emits one message. Returns -errno of the (ignored) send so callers may propagate. */
int log_internal(int level, const char *file, int line, const char *func, const char *fmt, ...)
	_printf_(5, 6);

/*
 * Emits a structured message: MESSAGE_ID (32 hex digits, or NULL), then extra fields as
 * "NAME=value" strings terminated by NULL, then the human MESSAGE. On stderr the fields are
 * appended as " NAME=value".
 */
int log_struct(int level, const char *message_id, const char *const *fields, const char *fmt, ...)
	_printf_(4, 5);
int log_structv(int level, const char *message_id, const char *const *fields, const char *fmt,
		va_list ap) _printf_(4, 0);
/* As log_struct, but ignores the maximum level: audit events reach the journal whatever
 * LOG_LEVEL says, because an audit trail must not depend on verbosity. */
int log_struct_unfiltered(int level, const char *message_id, const char *const *fields,
			  const char *fmt, ...) _printf_(4, 5);

#define log_full(level, ...)                                                                       \
	({                                                                                         \
		int _l = (level);                                                                  \
		_l <= log_get_max_level()                                                          \
			? log_internal(_l, __FILE__, __LINE__, __func__, __VA_ARGS__)              \
			: 0;                                                                       \
	})
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)

/* Rate limit: at most burst messages per interval; the next message after a suppressed run
 * says how many were dropped. One static instance per call site. */
struct log_ratelimit {
	uint64_t interval_usec;
	unsigned burst;
	uint64_t begin_usec;
	unsigned num;
	unsigned suppressed;
};
#define LOG_RATELIMIT_INIT(interval_sec, burst_n)                                                  \
	{                                                                                          \
		(interval_sec) * 1000000ULL, (burst_n), 0, 0, 0                                    \
	}
/* Returns true if a message may be emitted now; *ret_suppressed gets the count dropped before. */
bool log_ratelimit_test(struct log_ratelimit *rl, unsigned *ret_suppressed);

/* Rate-limited message against an explicit struct log_ratelimit (tests, shared limits). */
#define log_ratelimited_rl(rl, level, ...)                                                         \
	({                                                                                         \
		unsigned _supp = 0;                                                                \
		int _r = 0;                                                                        \
		if ((level) <= log_get_max_level() && log_ratelimit_test((rl), &_supp)) {          \
			if (_supp)                                                                 \
				log_internal((level), __FILE__, __LINE__, __func__,                \
					     "(%u similar messages suppressed)", _supp);           \
			_r = log_internal((level), __FILE__, __LINE__, __func__, __VA_ARGS__);     \
		}                                                                                  \
		_r;                                                                                \
	})
#define log_ratelimited(level, ...)                                                                \
	({                                                                                         \
		static struct log_ratelimit _rl = LOG_RATELIMIT_INIT(10, 10);                      \
		log_ratelimited_rl(&_rl, level, __VA_ARGS__);                                      \
	})
