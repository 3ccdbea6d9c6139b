// SPDX-License-Identifier: MIT
/*
 * How fast the CPU it runs on is right now, for bench/capacity.sh's rounds: the VM exposes no
 * cycle counters, so a per-packet figure in CPU time moves with the core's clock and with what
 * else uses the shared caches and memory. Run pinned to the measured CPU just before a run, it
 * prints the time of a dependent ALU chain (the clock, and an SMT sibling's load on the host)
 * and of a random pointer chase over 4 MiB (beyond the core's L2: the shared L3) and 64 MiB
 * (memory).
 *
 * usage: cpu-probe     prints "probe alu_ns=A l3_ns=B mem_ns=C" (ns per step, medians of 5)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define REPS 5

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, REPS, sizeof(*v), cmp_double);
	return v[REPS / 2];
}

/* one multiply-add per step, each depending on the last */
static double alu_ns(void)
{
	const unsigned steps = 10000000;
	volatile uint64_t sink;
	uint64_t x = 1;
	uint64_t t0 = now_ns();

	for (unsigned i = 0; i < steps; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	sink = x;
	(void)sink;
	return (double)(now_ns() - t0) / steps;
}

/* a random cycle through every line of BYTES, one dependent load per step; REPS timings */
static void chase_ns(size_t bytes, double *ret)
{
	size_t n = bytes / 64, steps = 1000000;
	uint64_t *lines = aligned_alloc(64, n * 64), *p;
	size_t *order = malloc(n * sizeof(*order));
	uint64_t seed = 88172645463325252ull, t0;

	for (int r = 0; r < REPS; r++)
		ret[r] = -1;
	if (!lines || !order) {
		free(lines);
		free(order);
		return;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j, t;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		j = seed % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		lines[order[i] * 8] = (uint64_t)(uintptr_t)&lines[order[(i + 1) % n] * 8];
	p = &lines[order[0] * 8];
	for (size_t i = 0; i < n; i++) /* warm: the pages faulted in, the TLB as it will be */
		p = (uint64_t *)(uintptr_t)*p;
	for (int r = 0; r < REPS; r++) {
		t0 = now_ns();
		for (size_t i = 0; i < steps; i++)
			p = (uint64_t *)(uintptr_t)*p;
		ret[r] = (double)(now_ns() - t0) / (double)steps;
	}
	if (!p)
		puts("");
	free(lines);
	free(order);
}

int main(void)
{
	double a[REPS], l[REPS], m[REPS];

	for (int i = 0; i < REPS; i++)
		a[i] = alu_ns();
	chase_ns(4u << 20, l);
	chase_ns(64u << 20, m);
	printf("probe alu_ns=%.3f l3_ns=%.1f mem_ns=%.1f\n", median(a), median(l), median(m));
	return 0;
}
