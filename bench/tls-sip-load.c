// SPDX-License-Identifier: MIT
/*
 * tls-sip-load: load generator for bench/tls-ktls.sh. THREADS threads each open one TLS
 * connection (OpenSSL client, records in user space) to siprecd and keep DEPTH SIP OPTIONS in
 * flight for SECONDS, counting 200 responses. Prints one line: "msgs N secs S".
 * Usage: tls-sip-load HOST PORT THREADS DEPTH SECONDS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static const char *host;
static int port, depth;
static double seconds;
static SSL_CTX *ctx;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Counts "SIP/2.0 200" in a stream cut at arbitrary points (state carried in *m). */
static unsigned count_200(const char *p, size_t n, unsigned *m)
{
	static const char pat[] = "SIP/2.0 200";
	unsigned hits = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == pat[*m])
			(*m)++;
		else
			*m = p[i] == pat[0];
		if (*m == sizeof(pat) - 1) {
			hits++;
			*m = 0;
		}
	}
	return hits;
}

static void *worker(void *arg)
{
	unsigned long id = (unsigned long)arg, sent = 0, got = 0, *ret = malloc(sizeof(*ret));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[512], buf[16384];
	unsigned m = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	double end;
	SSL *s;

	*ret = 0;
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return ret;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	if (SSL_connect(s) != 1) {
		ERR_print_errors_fp(stderr);
		return ret;
	}
	end = now() + seconds;
	while (now() < end) {
		while (sent - got < (unsigned long)depth) {
			int n = snprintf(
				req, sizeof(req),
				"OPTIONS sip:srs@%s SIP/2.0\r\n"
				"Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-%lu-%lu\r\n"
				"Max-Forwards: 70\r\nFrom: <sip:bench@127.0.0.1>;tag=%lu\r\n"
				"To: <sip:srs@%s>\r\nCall-ID: bench-%lu-%lu@127.0.0.1\r\n"
				"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
				host, id, sent, id, host, id, sent);

			if (SSL_write(s, req, n) != n)
				goto out;
			sent++;
		}
		int n = SSL_read(s, buf, sizeof(buf));

		if (n <= 0)
			goto out;
		got += count_200(buf, (size_t)n, &m);
	}
	/* Drain what is in flight so every counted request had its answer. */
	while (got < sent) {
		int n = SSL_read(s, buf, sizeof(buf));

		if (n <= 0)
			break;
		got += count_200(buf, (size_t)n, &m);
	}
out:
	*ret = got;
	SSL_shutdown(s);
	SSL_free(s);
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long total = 0;
	int threads;
	pthread_t th[64];
	double t0;

	if (argc != 6) {
		fprintf(stderr, "usage: tls-sip-load HOST PORT THREADS DEPTH SECONDS\n");
		return 1;
	}
	host = argv[1];
	port = atoi(argv[2]);
	threads = atoi(argv[3]);
	depth = atoi(argv[4]);
	seconds = atof(argv[5]);
	if (threads < 1 || threads > 64 || depth < 1 || seconds <= 0)
		return 1;
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	t0 = now();
	for (long i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < threads; i++) {
		unsigned long *r;

		pthread_join(th[i], (void **)&r);
		total += *r;
		free(r);
	}
	printf("msgs %lu secs %.3f\n", total, now() - t0);
	SSL_CTX_free(ctx);
	return total ? 0 : 1;
}
