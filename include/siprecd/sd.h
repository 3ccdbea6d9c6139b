/* SPDX-License-Identifier: MIT */
/*
 * systemd integration: socket activation by fd name, sd_notify state and status lines, and
 * the watchdog period. Without systemd every function is a harmless no-op.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum sd_fd_role {
	SD_FD_SIP_UDP,
	SD_FD_SIP_TCP,
	SD_FD_SIPS,
	SD_FD_VARLINK,
	SD_FD_METRICS,
	_SD_FD_ROLE_MAX,
};

#define SD_MAX_FDS_PER_ROLE 8

struct sd_fds {
	int fds[_SD_FD_ROLE_MAX][SD_MAX_FDS_PER_ROLE];
	unsigned n[_SD_FD_ROLE_MAX];
	unsigned total;
};

/* Takes the sockets passed by systemd (LISTEN_FDS/LISTEN_FDNAMES), sorted by name:
 * sip-udp, sip-tcp, sips, varlink, metrics. An unknown name or a socket of the wrong type is
 * an error naming it (-EINVAL), as is a name with too many sockets. The fds are owned by the
 * caller on success. ret->total is 0 when not socket-activated. */
int sd_fds_take(struct sd_fds *ret, char **ret_error);
const char *sd_fd_role_name(enum sd_fd_role r);

/* sd_notify wrappers; they return what sd_notify returns and are safe without systemd. */
int sd_notify_ready(const char *status);
int sd_notify_status(const char *status);
int sd_notify_reloading(void);
int sd_notify_stopping(void);
int sd_notify_watchdog(void);
/* Watchdog interval in ms at which to ping (half of WATCHDOG_USEC), or 0 when disabled. */
uint64_t sd_watchdog_ping_ms(void);
