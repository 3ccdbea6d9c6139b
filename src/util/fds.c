// SPDX-License-Identifier: MIT
/* Room in the descriptor table for a new session, and the table grown once before any thread
 * starts (include/siprecd/fds.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <unistd.h>

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

int fds_table_reserve(unsigned long cap, unsigned long *ret_size)
{
	struct rlimit rl;
	unsigned long n;
	int base, fd;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > cap ? cap : (unsigned long)rl.rlim_cur;
	if (n > INT_MAX)
		n = INT_MAX;
	if (n < 2) {
		*ret_size = 0;
		return 0;
	}
	base = open("/", O_PATH | O_CLOEXEC);
	if (base < 0)
		return -errno;
	/* the lowest free number from n - 1 on: the kernel grows the table to hold it, once */
	fd = fcntl(base, F_DUPFD_CLOEXEC, (int)(n - 1));
	if (fd < 0 && errno != EMFILE) {
		int r = -errno;

		close(base);
		return r;
	}
	/* EMFILE: n - 1 is open already, so the table holds it */
	if (fd >= 0)
		close(fd);
	close(base);
	*ret_size = n;
	return 0;
}
