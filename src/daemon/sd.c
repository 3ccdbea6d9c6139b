// SPDX-License-Identifier: MIT
/*
 * systemd integration: socket activation (sd_listen_fds_with_names) mapped onto the fd roles
 * siprecd knows, sd_notify messages (READY, STATUS, RELOADING, STOPPING, WATCHDOG) and the
 * watchdog ping period.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "siprecd/sd.h"

static const char *const role_names[_SD_FD_ROLE_MAX] = {
	[SD_FD_SIP_UDP] = "sip-udp", [SD_FD_SIP_TCP] = "sip-tcp", [SD_FD_SIPS] = "sips",
	[SD_FD_VARLINK] = "varlink", [SD_FD_METRICS] = "metrics",
};

const char *sd_fd_role_name(enum sd_fd_role r)
{
	return r < _SD_FD_ROLE_MAX ? role_names[r] : "?";
}

static int sock_type(int fd)
{
	int type = 0;
	socklen_t l = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
		return -errno;
	return type;
}

int sd_fds_take(struct sd_fds *ret, char **ret_error)
{
	char **names = NULL;
	int n, r = 0;
	struct sd_fds f = {0};

	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		if (asprintf(ret_error, "socket activation: %s", strerror(-n)) < 0)
			*ret_error = NULL;
		return n;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names ? names[i] : "unknown";
		int want, role = -1, type = sock_type(fd);

		for (int k = 0; k < _SD_FD_ROLE_MAX; k++)
			if (strcmp(name, role_names[k]) == 0)
				role = k;
		want = role == SD_FD_SIP_UDP ? SOCK_DGRAM : SOCK_STREAM;
		if (role < 0) {
			if (asprintf(ret_error,
				     "socket activation: fd %d has unknown name '%s' (expected "
				     "sip-udp, sip-tcp, sips, varlink or metrics: set "
				     "FileDescriptorName=)",
				     fd, name) < 0)
				*ret_error = NULL;
			r = -EINVAL;
			break;
		}
		if (type != want) {
			if (asprintf(ret_error,
				     "socket activation: fd %d named '%s' is a %s socket", fd, name,
				     type == SOCK_DGRAM ? "datagram" : "stream") < 0)
				*ret_error = NULL;
			r = -EINVAL;
			break;
		}
		if (f.n[role] >= SD_MAX_FDS_PER_ROLE) {
			if (asprintf(ret_error,
				     "socket activation: more than %d sockets named '%s'",
				     SD_MAX_FDS_PER_ROLE, name) < 0)
				*ret_error = NULL;
			r = -EINVAL;
			break;
		}
		f.fds[role][f.n[role]++] = fd;
		f.total++;
	}
	if (names) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	if (r < 0) {
		for (int i = 0; i < n; i++)
			close(SD_LISTEN_FDS_START + i);
		return r;
	}
	*ret = f;
	return 0;
}

int sd_notify_ready(const char *status)
{
	return sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "");
}

int sd_notify_status(const char *status)
{
	return sd_notifyf(0, "STATUS=%s", status ? status : "");
}

int sd_notify_reloading(void)
{
	struct timespec ts;
	char buf[64];

	/* systemd 253+ wants MONOTONIC_USEC with RELOADING=1 for Type=notify-reload; harmless
	 * before. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000);
	return sd_notify(0, buf);
}

int sd_notify_stopping(void)
{
	return sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
}

int sd_notify_watchdog(void)
{
	return sd_notify(0, "WATCHDOG=1");
}

uint64_t sd_watchdog_ping_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	return usec / 2000;
}
