// SPDX-License-Identifier: MIT
/*
 * Test helper: sends a sine tone as RTP in a wideband codec, encoded by the codec's own library
 * (spandsp's G.722 encoder, libopus), so that a test can record it and check what siprec-export
 * decodes against the tone that went in (tests/integration/codec-roundtrip.sh).
 *
 * usage: codec-rtp g722|opus PT PORT SRC_PORT SSRC SECONDS TONE_HZ AMPLITUDE
 * Sends to 127.0.0.1:PORT from 127.0.0.1:SRC_PORT, one packet per 20 ms (paced), G.722 at
 * 16 kHz input (RTP clock 8000, RFC 3551 §4.5.2), opus mono at 48 kHz (RTP clock 48000). Prints
 * the number of packets sent. Exit 0 ok, 1 error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <opus/opus.h>
#include <spandsp/telephony.h>
#include <spandsp/g722.h>

static long arg_num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max) {
		fprintf(stderr, "codec-rtp: bad number '%s'\n", s);
		exit(1);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = {.sin_family = AF_INET}, src = {.sin_family = AF_INET};
	uint8_t pkt[12 + 1500];
	int16_t pcm[960];
	struct timespec next;
	g722_encode_state_t *g722 = NULL;
	OpusEncoder *opus = NULL;
	long pt, secs, hz, amp;
	uint32_t ssrc, ts = 1000;
	uint16_t seq = 100;
	unsigned rate, spp, ts_step, npkt;
	size_t pos = 0;
	int fd, err;
	bool is_g722;

	if (argc != 9) {
		fprintf(stderr, "usage: codec-rtp g722|opus PT PORT SRC_PORT SSRC SECONDS TONE_HZ "
				"AMPLITUDE\n");
		return 1;
	}
	is_g722 = strcmp(argv[1], "g722") == 0;
	if (!is_g722 && strcmp(argv[1], "opus") != 0) {
		fprintf(stderr, "codec-rtp: codec '%s' is not g722 or opus\n", argv[1]);
		return 1;
	}
	pt = arg_num(argv[2], 0, 127);
	dst.sin_port = htons((uint16_t)arg_num(argv[3], 1, 65535));
	src.sin_port = htons((uint16_t)arg_num(argv[4], 0, 65535));
	ssrc = (uint32_t)arg_num(argv[5], 0, 0x7fffffffL);
	secs = arg_num(argv[6], 1, 60);
	hz = arg_num(argv[7], 50, 7000);
	amp = arg_num(argv[8], 1, 32767);
	dst.sin_addr.s_addr = src.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rate = is_g722 ? 16000 : 48000;
	spp = rate / 50;
	ts_step = is_g722 ? 160 : 960;
	if (is_g722)
		g722 = g722_encode_init(NULL, 64000, 0);
	else
		opus = opus_encoder_create(48000, 1, OPUS_APPLICATION_AUDIO, &err);
	if (!g722 && !opus) {
		fprintf(stderr, "codec-rtp: cannot create the %s encoder\n", argv[1]);
		return 1;
	}
	if (opus)
		opus_encoder_ctl(opus, OPUS_SET_BITRATE(64000));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		perror("codec-rtp: socket");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	npkt = (unsigned)secs * 50;
	for (unsigned n = 0; n < npkt; n++) {
		int len;

		for (unsigned i = 0; i < spp; i++, pos++)
			pcm[i] = (int16_t)lrint((double)amp *
						sin(2.0 * M_PI * (double)hz * (double)pos / rate));
		len = is_g722 ? g722_encode(g722, pkt + 12, pcm, (int)spp)
			      : opus_encode(opus, pcm, (int)spp, pkt + 12, 1500);
		if (len <= 0) {
			fprintf(stderr, "codec-rtp: encoding failed (%d)\n", len);
			return 1;
		}
		pkt[0] = 0x80;
		pkt[1] = (uint8_t)(pt | (n == 0 ? 0x80 : 0));
		pkt[2] = (uint8_t)(seq >> 8);
		pkt[3] = (uint8_t)seq;
		pkt[4] = (uint8_t)(ts >> 24);
		pkt[5] = (uint8_t)(ts >> 16);
		pkt[6] = (uint8_t)(ts >> 8);
		pkt[7] = (uint8_t)ts;
		pkt[8] = (uint8_t)(ssrc >> 24);
		pkt[9] = (uint8_t)(ssrc >> 16);
		pkt[10] = (uint8_t)(ssrc >> 8);
		pkt[11] = (uint8_t)ssrc;
		if (sendto(fd, pkt, 12 + (size_t)len, 0, (struct sockaddr *)&dst, sizeof(dst)) <
		    0) {
			perror("codec-rtp: sendto");
			return 1;
		}
		seq++;
		ts += ts_step;
		/* Paced like a real source: 20 ms a packet, on an absolute clock. */
		next.tv_nsec += 20000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	printf("%u\n", npkt);
	if (g722)
		g722_encode_free(g722);
	if (opus)
		opus_encoder_destroy(opus);
	close(fd);
	return 0;
}
