// SPDX-License-Identifier: MIT
/*
 * Latency histograms (include/siprecd/lathist.h): bucket i < 8 holds i us; above, bucket
 * 8 + 8 * (e - 3) + s holds [(8 + s) << (e - 3), (9 + s) << (e - 3)) for a sample whose highest
 * set bit is e; the recording writer's durable-write histogram uses the same layout.
 */
#include <stdio.h>
#include <time.h>

#include "siprecd/lathist.h"
#include "siprecd/macro.h"

uint64_t lat_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

unsigned lat_bucket_of(uint64_t us, unsigned nbuckets)
{
	unsigned e, b;

	if (us < 8)
		return (unsigned)us;
	e = 63 - (unsigned)__builtin_clzll(us);
	b = (e - 3) * 8 + 8 + (unsigned)((us >> (e - 3)) & 7);
	return MIN(b, nbuckets - 1);
}

uint64_t lat_bucket_upper(unsigned i)
{
	unsigned e, sub;

	if (i < 8)
		return i;
	e = (i - 8) / 8 + 3;
	sub = (i - 8) % 8;
	return ((uint64_t)(9 + sub) << (e - 3)) - 1;
}

void lat_hist_add(struct lat_hist *h, uint64_t us)
{
	h->b[lat_bucket_of(us, LAT_HIST_BUCKETS)]++;
	h->count++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
}

void lat_hist_merge(struct lat_hist *h, const struct lat_hist *from)
{
	for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++)
		h->b[i] += from->b[i];
	h->count += from->count;
	h->sum_us += from->sum_us;
	if (from->max_us > h->max_us)
		h->max_us = from->max_us;
}

uint64_t lat_hist_quantile(const struct lat_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	if (q >= 1)
		return h->max_us;
	want = q <= 0 ? 0 : (uint64_t)(q * (double)h->count);
	if (want >= h->count)
		want = h->count - 1;
	for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++) {
		seen += h->b[i];
		/* the last bucket holds everything above its lower bound */
		if (seen > want)
			return i == LAT_HIST_BUCKETS - 1 ? h->max_us
							 : MIN(lat_bucket_upper(i), h->max_us);
	}
	return h->max_us;
}

const char *lat_hist_format(const struct lat_hist *h, char *buf, size_t len)
{
	snprintf(buf, len, "n %llu, p50 %.2f, p99 %.2f, max %.2f ms", (unsigned long long)h->count,
		 (double)lat_hist_quantile(h, 0.5) / 1000,
		 (double)lat_hist_quantile(h, 0.99) / 1000, (double)h->max_us / 1000);
	return buf;
}
