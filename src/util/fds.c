// SPDX-License-Identifier: MIT
/* Room in the descriptor table for a new session (include/siprecd/fds.h). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>

#include "siprecd/fds.h"

#define FDS_COUNT_EVERY_MS 100

/* Open descriptors of this process, or -1 when they cannot be counted (opening the directory
 * takes one: at the limit that fails). */
static long count_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

bool fds_room(uint64_t now_ms, unsigned long *ret_limit)
{
	static _Thread_local uint64_t counted_ms;
	static _Thread_local bool counted, counted_ok;
	unsigned long lim, reserve;
	struct rlimit rl;
	long n;

	*ret_limit = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > INT_MAX)
		return true;
	lim = (unsigned long)rl.rlim_cur;
	*ret_limit = lim;
	reserve = lim / 8 < 32 ? 32 : lim / 8 > 256 ? 256 : lim / 8;
	if (lim <= reserve)
		return true;
	if (fcntl((int)(lim - reserve), F_GETFD) < 0)
		return true;
	if (counted && now_ms - counted_ms < FDS_COUNT_EVERY_MS)
		return counted_ok;
	n = count_open();
	counted = true;
	counted_ms = now_ms;
	counted_ok = n >= 0 && (unsigned long)n < lim - reserve;
	return counted_ok;
}
