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

/*
 * Grows the process's descriptor table, once, to hold min(RLIMIT_NOFILE's soft limit, cap)
 * descriptors; call it before the process starts any thread. The kernel grows the table by
 * doubling when a new descriptor's number does not fit, and while more than one task shares it
 * (threads, io_uring's workers) each growth first waits for an RCU grace period (fs/file.c,
 * expand_fdtable: synchronize_rcu()), and every other thread opening a descriptor meanwhile
 * waits for it (expand_files: resize_wait). Grown while single-threaded, the table never needs
 * to grow again below the limit (the kernel never shrinks it); no descriptor is left open. Sets
 * *ret_size to the count reserved (0 for a limit below 2). Returns 0, or -errno.
 */
int fds_table_reserve(unsigned long cap, unsigned long *ret_size);
