/* SPDX-License-Identifier: MIT */
/*
 * Room in the process's descriptor table (RLIMIT_NOFILE) for a new session, which takes several
 * descriptors on more than one thread (each stream's RTP and RTCP sockets, its recording file).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * False when the process's open descriptors reach within a reserve of RLIMIT_NOFILE (an eighth
 * of it, 32 to 256). Cheap in the common case: the kernel hands out the lowest free number, so
 * while the number limit - reserve is free fewer than that are open (one fcntl). When it is
 * open, that many may be, or one opened at a peak may still be held after most below it were
 * closed: the open descriptors are then counted (/proc/self/fd), at most once per 100 ms of
 * now_ms (the caller's clock; the verdict is kept in between, per thread). Sets *ret_limit to
 * the limit read (0 when unlimited).
 */
bool fds_room(uint64_t now_ms, unsigned long *ret_limit);
