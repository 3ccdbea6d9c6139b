// SPDX-License-Identifier: MIT
/*
 * A UDP flooder for tests/integration/sip-flood.sh: random datagrams (random length and bytes)
 * at a paced rate, spread over one or more port ranges of one address, sent with sendmmsg in
 * batches. Prints how many it sent. Usage:
 *   udp-flood -d ADDR -p PORT[-PORT] [-p ...] -r PER_SECOND -t SECONDS [-s SOURCE_ADDR]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_RANGES 8
#define MAX_LEN 1200

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast bytes that need not be good, only varied. */
static uint64_t rng_state;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

int main(int argc, char **argv)
{
	const char *dst = "127.0.0.1", *src = NULL;
	unsigned lo[MAX_RANGES], hi[MAX_RANGES], n_ranges = 0, total_ports = 0;
	double rate = 1000, seconds = 1;
	static uint8_t bufs[BATCH][MAX_LEN];
	struct sockaddr_in addrs[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t sent = 0, errors = 0, start, end;
	int opt, fd;

	while ((opt = getopt(argc, argv, "d:p:r:t:s:")) != -1) {
		switch (opt) {
		case 'd':
			dst = optarg;
			break;
		case 's':
			src = optarg;
			break;
		case 'p':
			if (n_ranges == MAX_RANGES)
				return 1;
			if (sscanf(optarg, "%u-%u", &lo[n_ranges], &hi[n_ranges]) != 2)
				hi[n_ranges] = lo[n_ranges] = (unsigned)atoi(optarg);
			if (!lo[n_ranges] || hi[n_ranges] < lo[n_ranges] || hi[n_ranges] > 65535)
				return 1;
			total_ports += hi[n_ranges] - lo[n_ranges] + 1;
			n_ranges++;
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: %s -d ADDR -p PORT[-PORT]... -r RATE -t SECONDS "
				"[-s SRC]\n",
				argv[0]);
			return 1;
		}
	}
	if (!n_ranges || rate <= 0 || seconds <= 0)
		return 1;
	if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state) || !rng_state)
		rng_state = 88172645463325252ULL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 1;
	if (src) {
		struct sockaddr_in s = {.sin_family = AF_INET};

		if (inet_pton(AF_INET, src, &s.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0) {
			perror("bind");
			return 1;
		}
	}
	for (int i = 0; i < BATCH; i++) {
		addrs[i].sin_family = AF_INET;
		if (inet_pton(AF_INET, dst, &addrs[i].sin_addr) != 1)
			return 1;
		iov[i].iov_base = bufs[i];
		msgs[i].msg_hdr = (struct msghdr){.msg_name = &addrs[i],
						  .msg_namelen = sizeof(addrs[i]),
						  .msg_iov = &iov[i],
						  .msg_iovlen = 1};
	}
	start = now_ns();
	end = start + (uint64_t)(seconds * 1e9);
	for (;;) {
		uint64_t t = now_ns(), due;
		int n;

		if (t >= end)
			break;
		/* Pace: the datagrams due by now, a batch at most. */
		due = (uint64_t)((double)(t - start) * rate / 1e9);
		if (due <= sent + errors) {
			struct timespec ts = {0, 200000};

			nanosleep(&ts, NULL);
			continue;
		}
		n = (int)(due - sent - errors < BATCH ? due - sent - errors : BATCH);
		for (int i = 0; i < n; i++) {
			unsigned k = (unsigned)(rng() % total_ports), r = 0;
			size_t len = 12 + (size_t)(rng() % (MAX_LEN - 12));

			while (k > hi[r] - lo[r]) {
				k -= hi[r] - lo[r] + 1;
				r++;
			}
			addrs[i].sin_port = htons((uint16_t)(lo[r] + k));
			for (size_t j = 0; j < len; j += 8) {
				uint64_t v = rng();

				memcpy(bufs[i] + j, &v, (len - j < 8 ? len - j : 8));
			}
			iov[i].iov_len = len;
		}
		n = sendmmsg(fd, msgs, (unsigned)n, 0);
		if (n < 0) {
			/* A full socket buffer or an ICMP error from a closed port: count, go on.
			 */
			errors++;
			continue;
		}
		sent += (uint64_t)n;
	}
	printf("sent %llu datagrams in %.1f s (%llu send errors)\n", (unsigned long long)sent,
	       (double)(now_ns() - start) / 1e9, (unsigned long long)errors);
	close(fd);
	return 0;
}
