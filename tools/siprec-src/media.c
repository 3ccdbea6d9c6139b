// SPDX-License-Identifier: MIT
/*
 * siprec-src media: WAV input (16-bit PCM, 8 kHz, mono or stereo) encoded once to G.711 with
 * spandsp, and the pacer's packet path: a small pool of UDP sockets shared by all streams, each
 * collecting one tick's packets into a sendmmsg() batch so thousands of streams cost a few
 * syscalls per 20 ms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include "siprecd/macro.h"
#include "src.h"

#define MAX_SOCKS 64
#define BATCH 128
#define PKT_CAP (12 + SRC_SAMPLES + SRTP_TX_OVERHEAD + 16)
#define WAV_MAX (64u << 20) /* bytes of a WAV file we read */

struct sock {
	int fd;
	uint16_t port;
	unsigned n;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint8_t pkts[BATCH][PKT_CAP];
	struct src_stream *owner[BATCH];
};

static struct sock *socks;
static unsigned n_socks;
static bool no_send; /* --ceiling's build/protect phases: batches are dropped, not sent */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t encode(int pt, int16_t v)
{
	return pt == 8 ? linear_to_alaw(v) : linear_to_ulaw(v);
}

/* Reads a RIFF/WAVE file: returns the samples of each channel (1 or 2) as malloc'ed int16. */
static int wav_read(const char *path, int16_t **ret_ch0, int16_t **ret_ch1, size_t *ret_n)
{
	uint8_t *d = NULL;
	size_t len = 0, cap = 0, off = 12;
	uint16_t fmt = 0, channels = 0, bits = 0;
	uint32_t rate = 0;
	const uint8_t *data = NULL;
	size_t data_len = 0;
	int16_t *c0 = NULL, *c1 = NULL;
	FILE *f = fopen(path, "re");
	int r = -EBADMSG;

	if (!f)
		return -errno;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > WAV_MAX) {
				r = -EFBIG;
				goto out;
			}
			uint8_t *nd = realloc(d, cap);
			if (!nd) {
				r = -ENOMEM;
				goto out;
			}
			d = nd;
		}
		size_t n = fread(d + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	if (len < 12 || memcmp(d, "RIFF", 4) || memcmp(d + 8, "WAVE", 4))
		goto out;
	while (off + 8 <= len) {
		uint32_t sz = rd32(d + off + 4);

		if (sz > len - off - 8)
			sz = (uint32_t)(len - off - 8); /* tolerate a truncated last chunk */
		if (!memcmp(d + off, "fmt ", 4) && sz >= 16) {
			fmt = rd16(d + off + 8);
			channels = rd16(d + off + 10);
			rate = rd32(d + off + 12);
			bits = rd16(d + off + 22);
		} else if (!memcmp(d + off, "data", 4)) {
			data = d + off + 8;
			data_len = sz;
		}
		off += 8 + sz + (sz & 1);
	}
	if (fmt != 1 || bits != 16 || rate != 8000 || (channels != 1 && channels != 2) || !data) {
		fprintf(stderr, "siprec-src: %s: need 16-bit PCM at 8000 Hz, mono or stereo\n",
			path);
		r = -ENOTSUP;
		goto out;
	}
	size_t n = data_len / (2u * channels);
	if (n < SRC_SAMPLES)
		goto out;
	c0 = malloc(n * sizeof(int16_t));
	c1 = channels == 2 ? malloc(n * sizeof(int16_t)) : NULL;
	if (!c0 || (channels == 2 && !c1)) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		c0[i] = (int16_t)rd16(data + i * 2u * channels);
		if (c1)
			c1[i] = (int16_t)rd16(data + i * 4 + 2);
	}
	*ret_ch0 = c0;
	*ret_ch1 = c1;
	*ret_n = n;
	c0 = c1 = NULL;
	r = 0;
out:
	free(c0);
	free(c1);
	free(d);
	fclose(f);
	return r;
}

/* Without --wav: 10 s of two syllable-like tone bursts, a different pitch per leg. */
static void builtin(int16_t **c0, int16_t **c1, size_t *n)
{
	size_t len = 8000 * 10;

	*c0 = malloc(len * sizeof(int16_t));
	*c1 = malloc(len * sizeof(int16_t));
	*n = len;
	if (!*c0 || !*c1)
		return;
	for (size_t i = 0; i < len; i++) {
		double t = (double)i / 8000.0;
		double env0 = 0.5 + 0.5 * sin(2 * M_PI * 3.0 * t);
		double env1 = 0.5 + 0.5 * sin(2 * M_PI * 2.5 * t + 1.0);

		(*c0)[i] = (int16_t)(8000 * env0 * sin(2 * M_PI * 440 * t));
		(*c1)[i] = (int16_t)(8000 * env1 * sin(2 * M_PI * 660 * t));
	}
}

int src_audio_load(const struct src_opts *o, struct src_audio *ret)
{
	int16_t *pcm[SRC_STREAMS] = {NULL, NULL}, *extra = NULL, *tmp = NULL;
	size_t n = 0, n2 = 0;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!o->wav) {
		builtin(&pcm[0], &pcm[1], &n);
		if (!pcm[0] || !pcm[1]) {
			r = -ENOMEM;
			goto out;
		}
		ret->loop = true;
	} else {
		r = wav_read(o->wav, &pcm[0], &pcm[1], &n);
		if (r < 0) {
			fprintf(stderr, "siprec-src: cannot read %s: %s\n", o->wav, strerror(-r));
			goto out;
		}
		if (o->wav2) {
			r = wav_read(o->wav2, &extra, &tmp, &n2);
			if (r < 0) {
				fprintf(stderr, "siprec-src: cannot read %s: %s\n", o->wav2,
					strerror(-r));
				goto out;
			}
			free(pcm[1]);
			pcm[1] = extra;
			extra = NULL;
			n = MIN(n, n2);
		}
		ret->loop = o->loop;
	}
	for (int i = 0; i < SRC_STREAMS; i++) {
		/* Mono and no --wav2: both legs carry the same audio. */
		const int16_t *src = pcm[i] ? pcm[i] : pcm[0];

		ret->ch[i] = malloc(n);
		if (!ret->ch[i]) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t k = 0; k < n; k++)
			ret->ch[i][k] = encode(o->pt, src[k]);
	}
	ret->n = n;
out:
	free(pcm[0]);
	free(pcm[1]);
	free(extra);
	free(tmp);
	if (r < 0)
		src_audio_free(ret);
	return r;
}

void src_audio_free(struct src_audio *a)
{
	for (int i = 0; i < SRC_STREAMS; i++) {
		free(a->ch[i]);
		a->ch[i] = NULL;
	}
}

uint64_t src_audio_duration_ms(const struct src_audio *a)
{
	return a->n / 8;
}

int src_media_open(unsigned want, const char *local_ip, int family)
{
	want = MAX(2u, MIN(want, (unsigned)MAX_SOCKS));
	socks = calloc(want, sizeof(*socks));
	if (!socks)
		return -ENOMEM;
	for (unsigned i = 0; i < want; i++) {
		struct sockaddr_storage ss = {0};
		socklen_t sl;
		int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int sz = 4 << 20;

		if (fd < 0)
			return -errno;
		/* Room for a whole tick's batch without EAGAIN. */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		if (family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			a->sin6_family = AF_INET6;
			inet_pton(AF_INET6, local_ip, &a->sin6_addr);
			sl = sizeof(*a);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			a->sin_family = AF_INET;
			inet_pton(AF_INET, local_ip, &a->sin_addr);
			sl = sizeof(*a);
		}
		if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
		    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
			int e = -errno;

			close(fd);
			return e;
		}
		socks[i].fd = fd;
		socks[i].port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
		n_socks = i + 1;
	}
	return 0;
}

unsigned src_media_nsocks(void)
{
	return n_socks;
}

int src_media_sock_fd(unsigned i)
{
	return socks[i].fd;
}

uint16_t src_media_sock_port(unsigned i)
{
	return socks[i].port;
}

static void flush_sock(struct sock *k)
{
	unsigned done = 0;

	if (no_send) {
		k->n = 0;
		return;
	}
	while (done < k->n) {
		int n = sendmmsg(k->fd, k->msgs + done, k->n - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Count the packet as not sent and move past it. */
			k->owner[done]->send_errors++;
			k->owner[done]->packets--;
			k->owner[done]->bytes -= k->iov[done].iov_len;
			done++;
			continue;
		}
		done += (unsigned)n;
	}
	k->n = 0;
}

static uint8_t *queue(struct src_stream *s)
{
	struct sock *k = &socks[s->sock];

	if (k->n == BATCH)
		flush_sock(k);
	k->owner[k->n] = s;
	return k->pkts[k->n];
}

static void commit(struct src_stream *s, size_t len)
{
	struct sock *k = &socks[s->sock];
	unsigned i = k->n++;

	k->iov[i].iov_base = k->pkts[i];
	k->iov[i].iov_len = len;
	memset(&k->msgs[i], 0, sizeof(k->msgs[i]));
	k->msgs[i].msg_hdr.msg_name = &s->dst;
	k->msgs[i].msg_hdr.msg_namelen = s->dst_len;
	k->msgs[i].msg_hdr.msg_iov = &k->iov[i];
	k->msgs[i].msg_hdr.msg_iovlen = 1;
	s->packets++;
	s->bytes += len;
	if (s->n_phases)
		s->phases[s->n_phases - 1].packets++;
}

void src_media_tick_stream(const struct src_opts *o, const struct src_audio *a,
			   struct src_stream *s, bool paused)
{
	size_t len = 12 + SRC_SAMPLES;
	uint8_t *p;

	/* The RTP clock runs on while paused (RFC 3550 §5.1: timestamp follows sampling time). */
	if (!s->active || s->finished)
		return;
	/* The call's length is a number of packets, whatever the pacing jitter. */
	if (s->max_ticks && s->ticks >= s->max_ticks) {
		s->finished = true;
		return;
	}
	s->ticks++;
	if (paused) {
		s->ts += SRC_SAMPLES;
		return;
	}
	if (s->pos + SRC_SAMPLES > a->n) {
		if (!a->loop) {
			s->finished = true;
			return;
		}
		s->pos = 0;
	}
	p = queue(s);
	p[0] = 0x80;
	p[1] = (uint8_t)((s->first ? 0x80 : 0) | o->pt);
	p[2] = (uint8_t)(s->seq >> 8);
	p[3] = (uint8_t)s->seq;
	p[4] = (uint8_t)(s->ts >> 24);
	p[5] = (uint8_t)(s->ts >> 16);
	p[6] = (uint8_t)(s->ts >> 8);
	p[7] = (uint8_t)s->ts;
	p[8] = (uint8_t)(s->ssrc >> 24);
	p[9] = (uint8_t)(s->ssrc >> 16);
	p[10] = (uint8_t)(s->ssrc >> 8);
	p[11] = (uint8_t)s->ssrc;
	memcpy(p + 12, a->ch[s->chan] + s->pos, SRC_SAMPLES);
	s->pos += SRC_SAMPLES;
	s->seq++;
	s->ts += SRC_SAMPLES;
	s->first = false;
	if (s->tx) {
		int r = srtp_tx_protect_rtp(s->tx, p, &len, PKT_CAP);

		if (r < 0) {
			s->send_errors++;
			return;
		}
		/* --tamper N: every Nth packet gets a flipped tag bit, to be rejected. */
		if (o->tamper && (s->packets + 1) % o->tamper == 0) {
			p[len - 1] ^= 0x01;
			s->tampered++;
		}
	}
	commit(s, len);
	/* --replay N: every Nth packet goes out twice, byte for byte. */
	if (o->replay && s->packets % o->replay == 0) {
		/* p stays valid: a flush inside queue() sends but does not clear buffers. */
		uint8_t *q = queue(s);

		memcpy(q, p, len);
		commit(s, len);
		s->replayed++;
	}
}

void src_media_flush(void)
{
	for (unsigned i = 0; i < n_socks; i++)
		if (socks[i].n)
			flush_sock(&socks[i]);
}

void src_media_drain(unsigned i)
{
	uint8_t buf[2048];

	/* RTCP or stray RTP from the server: not needed by a sendonly client. */
	while (recv(socks[i].fd, buf, sizeof(buf), 0) > 0)
		;
}

void src_media_close(void)
{
	for (unsigned i = 0; i < n_socks; i++)
		close(socks[i].fd);
	free(socks);
	socks = NULL;
	n_socks = 0;
}

/* ------------------------------------------------------------------ --ceiling ---- */

static uint64_t cpu_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

/* A UDP socket that drops every datagram in its socket filter: the kernel still routes, looks
 * up and filters each packet (the receive path a server's socket would start with) but queues
 * nothing, so the figure is the generator's, not a receiver's. */
static int discard_open(const char *local_ip, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = {.len = 1, .filter = &drop};
	struct sockaddr_in *a = (struct sockaddr_in *)ret;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(ret, 0, sizeof(*ret));
	a->sin_family = AF_INET;
	*ret_len = sizeof(*a);
	if (inet_pton(AF_INET, local_ip, &a->sin_addr) != 1 ||
	    setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    bind(fd, (struct sockaddr *)ret, *ret_len) < 0 ||
	    getsockname(fd, (struct sockaddr *)ret, ret_len) < 0) {
		int e = errno ? -errno : -EINVAL;

		close(fd);
		return e;
	}
	return fd;
}

int src_media_ceiling(const struct src_opts *o, const struct src_audio *audio, unsigned n_streams,
		      uint64_t ms, const char *local_ip, FILE *f)
{
	static const char *const phase[] = {"build", "protect", "send"};
	struct src_audio a = *audio;
	struct src_stream *st = calloc(n_streams, sizeof(*st));
	struct sockaddr_storage dst;
	socklen_t dst_len;
	int dfd, r = 0;

	if (!st)
		return -ENOMEM;
	dfd = discard_open(local_ip, &dst, &dst_len);
	if (dfd < 0) {
		free(st);
		return dfd;
	}
	a.loop = true;
	for (unsigned i = 0; i < n_streams; i++) {
		struct src_stream *s = &st[i];
		uint8_t key[SRTP_KEY_SALT_MAX];

		s->chan = (int)(i % SRC_STREAMS);
		s->active = true;
		s->first = true;
		s->sock = (int)(i % n_socks);
		src_random(&s->ssrc, sizeof(s->ssrc));
		s->dst = dst;
		s->dst_len = dst_len;
		if (o->srtp) {
			const struct srtp_suite_info *su = o->suites[0];

			src_random(key, su->key_len + su->salt_len);
			r = srtp_tx_new(su, key, su->key_len + su->salt_len, false, false, false,
					&s->tx);
			if (r < 0)
				goto out;
		}
	}
	fprintf(f,
		"ceiling: %u streams, %s, %u sockets, sendmmsg batches of up to %u, %.1f s a "
		"phase, no pacing\n",
		n_streams, o->srtp ? o->suites[0]->name : "plain RTP", n_socks, BATCH,
		(double)ms / 1000);
	for (int ph = 0; ph < 3; ph++) {
		uint64_t w0 = cpu_ns(CLOCK_MONOTONIC), c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), w1,
			 c1;
		uint64_t pk = 0, ticks = 0;
		struct srtp_tx **parked = NULL;
		struct rusage u0, u1;
		double div;

		getrusage(RUSAGE_SELF, &u0);
		no_send = ph < 2;
		for (unsigned i = 0; i < n_streams; i++)
			st[i].packets = 0;
		/* build only: the tx contexts are parked and restored after */
		if (ph == 0 && o->srtp) {
			parked = calloc(n_streams, sizeof(*parked));
			if (!parked) {
				r = -ENOMEM;
				goto out;
			}
			for (unsigned i = 0; i < n_streams; i++) {
				parked[i] = st[i].tx;
				st[i].tx = NULL;
			}
		}
		do {
			for (unsigned i = 0; i < n_streams; i++)
				src_media_tick_stream(o, &a, &st[i], false);
			src_media_flush();
			ticks++;
			w1 = cpu_ns(CLOCK_MONOTONIC);
		} while (w1 - w0 < ms * 1000000ULL);
		c1 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
		getrusage(RUSAGE_SELF, &u1);
		if (parked) {
			for (unsigned i = 0; i < n_streams; i++)
				st[i].tx = parked[i];
			free(parked);
		}
		for (unsigned i = 0; i < n_streams; i++)
			pk += st[i].packets;
		div = pk ? (double)pk : 1; /* no packet at all: costs read as per one packet */
		fprintf(f,
			"ceiling: %-7s %10.0f packets/s  %7.0f ns CPU/packet (user %.0f, system "
			"%.0f)  %llu ticks\n",
			phase[ph], (double)pk * 1e9 / (double)(w1 - w0), (double)(c1 - c0) / div,
			(double)(tv_ns(&u1.ru_utime) - tv_ns(&u0.ru_utime)) / div,
			(double)(tv_ns(&u1.ru_stime) - tv_ns(&u0.ru_stime)) / div,
			(unsigned long long)ticks);
	}
out:
	no_send = false;
	for (unsigned i = 0; i < n_streams; i++)
		srtp_tx_free(st[i].tx);
	free(st);
	close(dfd);
	return r;
}
