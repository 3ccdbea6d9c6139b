// SPDX-License-Identifier: MIT
/*
 * siprec-src's call schedule: call i's INVITE is due i / rate after the schedule's start, and
 * the loop sleeps until the next INVITE is due or the next 20 ms media tick, whichever is first
 * (woken by the ticks alone, the INVITEs due meanwhile would go out together, up to 20 a tick at
 * 1,000/s).
 */
#include "src.h"

uint64_t src_pace_due(const struct src_pace *p, unsigned i)
{
	return p->t0 + (uint64_t)((double)i * 1e6 / p->rate);
}

uint64_t src_pace_wait_us(const struct src_pace *p, unsigned next, uint64_t next_tick, uint64_t now)
{
	uint64_t at = next_tick;

	if (next < p->n) {
		uint64_t due = src_pace_due(p, next);

		if (due < at)
			at = due;
	}
	return at > now ? at - now : 0;
}
