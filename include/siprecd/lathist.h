/* SPDX-License-Identifier: MIT */
/*
 * A latency histogram of fixed size: eight buckets per power of two of microseconds (about 12%
 * resolution), enough for a p50/p99 of a stage that runs once a call. Not locked: one thread
 * adds, and readers read it after that thread is done (or accept a torn count).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define LAT_HIST_BUCKETS 200

struct lat_hist {
	uint64_t count, sum_us, max_us;
	uint32_t b[LAT_HIST_BUCKETS];
};

/* CLOCK_MONOTONIC in microseconds: the clock the histograms' samples are taken with. */
uint64_t lat_now_us(void);

/* The bucket layout, shared with the recording writer's durable-write histogram
 * (src/storage/writer.c): the bucket of a sample of us microseconds among nbuckets (values
 * beyond the last land in it), and the largest value bucket i holds. */
unsigned lat_bucket_of(uint64_t us, unsigned nbuckets);
uint64_t lat_bucket_upper(unsigned i);

/* Adds one sample of us microseconds (values beyond the last bucket land in it). */
void lat_hist_add(struct lat_hist *h, uint64_t us);
/* Adds the samples of from to h. */
void lat_hist_merge(struct lat_hist *h, const struct lat_hist *from);
/* The q-quantile (0 <= q <= 1) in microseconds: the upper bound of the bucket holding it
 * (the exact maximum for q = 1); 0 for an empty histogram. */
uint64_t lat_hist_quantile(const struct lat_hist *h, double q);
/* "n N, p50 A, p99 B, max C ms" (milliseconds, two decimals) into buf; returns buf. */
const char *lat_hist_format(const struct lat_hist *h, char *buf, size_t len);
