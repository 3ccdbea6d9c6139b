// SPDX-License-Identifier: MIT
/*
 * Unit tests for the SDP offer parser and answer builder: offer -> answer pairs compared byte for
 * byte (the random SDES key is matched by shape), malformed offers with their error, and the
 * parsed fields and helpers the session layer relies on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "siprecd/sdp.h"

/* Table strings use "\n"; this makes the CRLF form the wire has. */
static char *crlf(const char *s)
{
	size_t n = strlen(s), j = 0;
	char *out = malloc(2 * n + 1);

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			out[j++] = '\r';
		out[j++] = s[i];
	}
	out[j] = '\0';
	return out;
}

/* Replaces the base64 after every "inline:" with "<KEY>" after checking its shape. */
static void mask_keys(char *s)
{
	char *p = s;

	while ((p = strstr(p, "inline:"))) {
		size_t n;

		p += 7;
		n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
		assert_true(n == 40 || n == 64); /* 30 bytes (AES_CM_128) or 44/46 */
		memmove(p + 5, p + n, strlen(p + n) + 1);
		memcpy(p, "<KEY>", 5);
	}
}

/* What the session layer does: choose a codec and a key per m= line, reject what we can't use. */
static int answer_offer(const char *offer_text, const char *address, char *out, size_t cap)
{
	struct sdp_session *offer = calloc(1, sizeof(*offer));
	struct sdp_answer_media am[SDP_MAX_MEDIA] = {0};
	struct sdp_crypto_answer *ca[SDP_MAX_MEDIA] = {0};
	struct sdp_answer_params p = {"siprecd", 1234, 1, address};
	int r;

	assert_non_null(offer);
	r = sdp_parse(offer_text, strlen(offer_text), NULL, offer);
	if (r < 0) {
		free(offer);
		return r;
	}
	for (unsigned i = 0; i < offer->n_media; i++) {
		const struct sdp_media *m = &offer->media[i];
		int pt, dtmf;

		am[i] = (struct sdp_answer_media){0, -1, -1, true, NULL};
		if (m->port == 0 || m->invalid || sdp_choose_codec(m, &pt, &dtmf) < 0)
			continue;
		if (sdp_media_is_srtp(m)) {
			struct sdp_crypto c;

			if (sdp_crypto_choose(m, NULL, 0, &c) < 0)
				continue;
			assert_int_equal(
				sdp_crypto_answer_make(c.suite->id, c.tag, &c.params, &ca[i]), 0);
			sdp_crypto_wipe(&c);
			am[i].crypto = ca[i];
		}
		am[i].port = (uint16_t)(40000 + 2 * i);
		am[i].pt = pt;
		am[i].dtmf_pt = dtmf;
	}
	r = sdp_answer_build(offer, &p, am, offer->n_media, out, cap);
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		sdp_crypto_answer_free(ca[i]);
	free(offer);
	return r;
}

static const struct {
	const char *name;
	const char *address;
	const char *offer;
	const char *answer;
} pairs[] = {
	{"two-stream G.711 SIPREC", "192.0.2.10",
	 "v=0\no=SRC 1 1 IN IP4 198.51.100.1\ns=SIPREC\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 0 8\na=label:1\na=sendonly\n"
	 "m=audio 10002 RTP/AVP 8 0\na=rtpmap:8 PCMA/8000\na=label:2\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 0 8\na=label:1\na=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\n"
	 "a=recvonly\n"
	 "m=audio 40002 RTP/AVP 8 0\na=label:2\na=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000\n"
	 "a=recvonly\n"},
	{"string labels, session sendonly", "192.0.2.10",
	 "v=0\no=- 7 9 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\na=sendonly\n"
	 "m=audio 10000 RTP/AVP 8\na=label:caller-leg_A\n"
	 "m=audio 10002 RTP/AVP 8\na=label:callee-leg_B\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 8\na=label:caller-leg_A\na=rtpmap:8 PCMA/8000\na=recvonly\n"
	 "m=audio 40002 RTP/AVP 8\na=label:callee-leg_B\na=rtpmap:8 PCMA/8000\na=recvonly\n"},
	{"port-zero m-line", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 0\na=label:1\na=sendonly\n"
	 "m=audio 0 RTP/AVP 0 8\na=label:2\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 0\na=label:1\na=rtpmap:0 PCMU/8000\na=recvonly\n"
	 "m=audio 0 RTP/AVP 0 8\na=label:2\n"},
	{"inactive and recvonly", "192.0.2.10",
	 "v=0\no=- 1 2 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 0\na=label:1\na=inactive\n"
	 "m=audio 10002 RTP/AVP 0\na=label:2\na=recvonly\n"
	 "m=audio 10004 RTP/AVP 0\na=label:3\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 0\na=label:1\na=rtpmap:0 PCMU/8000\na=inactive\n"
	 "m=audio 40002 RTP/AVP 0\na=label:2\na=rtpmap:0 PCMU/8000\na=inactive\n"
	 "m=audio 40004 RTP/AVP 0\na=label:3\na=rtpmap:0 PCMU/8000\na=recvonly\n"},
	{"c=0.0.0.0 hold", "192.0.2.10",
	 "v=0\no=- 1 3 IN IP4 h\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 8\na=label:1\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 8\na=label:1\na=rtpmap:8 PCMA/8000\na=recvonly\n"},
	{"media c= only; m= without any c= is accepted (OpenSIPS)", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 0\nc=IN IP4 198.51.100.7\na=label:1\na=sendonly\n"
	 "m=audio 10002 RTP/AVP 0\na=label:2\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 0\na=label:1\na=rtpmap:0 PCMU/8000\na=recvonly\n"
	 "m=audio 40002 RTP/AVP 0\na=label:2\na=rtpmap:0 PCMU/8000\na=recvonly\n"},
	{"no c= line at all (OpenSIPS siprec module)", "192.0.2.10",
	 "v=0\no=OpenSIPS 1 1 IN IP4 198.51.100.7\ns=-\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 8\na=label:1\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 8\na=label:1\na=rtpmap:8 PCMA/8000\na=recvonly\n"},
	{"IPv6", "2001:db8::10",
	 "v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nc=IN IP6 2001:db8::1\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 0\na=label:1\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP6 2001:db8::10\ns=-\nc=IN IP6 2001:db8::10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 0\na=label:1\na=rtpmap:0 PCMU/8000\na=recvonly\n"},
	{"rtcp-mux and a=rtcp", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 0\na=rtcp:10001\na=rtcp-mux\na=label:1\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 0\na=label:1\na=rtpmap:0 PCMU/8000\na=rtcp-mux\na=recvonly\n"},
	{"opus with fmtp and ptime", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 96 0\na=rtpmap:96 opus/48000/2\n"
	 "a=fmtp:96 useinbandfec=1; stereo=0\na=ptime:20\na=label:1\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 96 0\na=label:1\na=rtpmap:96 opus/48000/2\n"
	 "a=fmtp:96 useinbandfec=1; stereo=0\na=rtpmap:0 PCMU/8000\na=ptime:20\na=recvonly\n"},
	{"G.729 with annexb, every format answered", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 18 9 0\na=rtpmap:18 G729/8000\na=fmtp:18 annexb=no\n"
	 "a=label:1\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 18 9 0\na=label:1\na=rtpmap:18 G729/8000\na=fmtp:18 annexb=no\n"
	 "a=rtpmap:9 G722/8000\na=rtpmap:0 PCMU/8000\na=recvonly\n"},
	{"AMR-WB octet-aligned, EVS and an unknown dynamic type", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 98 97 120 101\na=rtpmap:98 AMR-WB/16000\n"
	 "a=fmtp:98 octet-align=1; mode-change-capability=2\na=rtpmap:97 EVS/16000\n"
	 "a=rtpmap:101 telephone-event/16000\na=fmtp:101 0-15\na=label:1\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 98 97 120 101\na=label:1\na=rtpmap:98 AMR-WB/16000\n"
	 "a=fmtp:98 octet-align=1; mode-change-capability=2\na=rtpmap:97 EVS/16000\n"
	 "a=rtpmap:101 telephone-event/16000\na=fmtp:101 0-15\na=recvonly\n"},
	{"static G.723.1, GSM, G.728 without rtpmap", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 4 3 15\na=label:1\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 4 3 15\na=label:1\na=rtpmap:4 G723/8000\na=rtpmap:3 GSM/8000\n"
	 "a=rtpmap:15 G728/8000\na=recvonly\n"},
	{"telephone-event at the codec's clock", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/AVP 96 8 101 100\na=rtpmap:96 opus/48000/2\n"
	 "a=rtpmap:101 telephone-event/48000\na=rtpmap:100 telephone-event/8000\n"
	 "a=fmtp:101 0-16\na=label:1\na=sendonly\n"
	 "m=audio 10002 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\n"
	 "a=fmtp:101 0-15\na=label:2\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVP 96 8 101 100\na=label:1\na=rtpmap:96 opus/48000/2\n"
	 "a=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/48000\na=fmtp:101 0-16\n"
	 "a=rtpmap:100 telephone-event/8000\na=recvonly\n"
	 "m=audio 40002 RTP/AVP 0 101\na=label:2\na=rtpmap:0 PCMU/8000\n"
	 "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=recvonly\n"},
	{"RTP/SAVP with crypto: first supported suite in offer order", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/SAVP 0\n"
	 "a=crypto:1 AES_256_CM_HMAC_SHA1_80 "
	 "inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAw\n"
	 "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\n"
	 "a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\n"
	 "a=label:1\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/SAVP 0\na=label:1\na=rtpmap:0 PCMU/8000\n"
	 "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:<KEY>\na=recvonly\n"},
	{"SAVP without a usable key is rejected", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/SAVP 0\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:short\n"
	 "a=label:1\na=sendonly\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 0 RTP/SAVP 0\na=label:1\n"},
	{"RTP/AVPF, sendrecv", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 RTP/AVPF 8\na=label:1\na=sendrecv\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 40000 RTP/AVPF 8\na=label:1\na=rtpmap:8 PCMA/8000\na=recvonly\n"},
	{"video, DTLS-SRTP and unknown proto rejected", "192.0.2.10",
	 "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n"
	 "m=audio 10000 UDP/TLS/RTP/SAVPF 0\na=label:1\n"
	 "m=video 10002 RTP/AVP 96\na=rtpmap:96 H264/90000\na=label:2\n"
	 "m=application 10004 UDP/BFCP *\na=label:3\n",
	 "v=0\no=siprecd 1234 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n"
	 "m=audio 0 UDP/TLS/RTP/SAVPF 0\na=label:1\nm=video 0 RTP/AVP 96\na=label:2\n"
	 "m=application 0 UDP/BFCP *\na=label:3\n"},
};

static void test_answers(void **state)
{
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char out[4096], out_lf[4096];
		char *offer = crlf(pairs[i].offer), *want = crlf(pairs[i].answer);
		int r;

		print_message("case %zu: %s\n", i, pairs[i].name);
		r = answer_offer(offer, pairs[i].address, out, sizeof(out));
		assert_true(r > 0);
		assert_int_equal((size_t)r, strlen(out));
		mask_keys(out);
		assert_string_equal(out, want);
		/* LF-only offers (RFC 8866 §5 tolerance) give the same answer */
		r = answer_offer(pairs[i].offer, pairs[i].address, out_lf, sizeof(out_lf));
		assert_true(r > 0);
		mask_keys(out_lf);
		assert_string_equal(out_lf, want);
		free(offer);
		free(want);
	}
}

#define HDR "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n"

static void test_malformed(void **state)
{
	static char big[SDP_MAX_SIZE + 10], longline[SDP_MAX_LINE + 100];
	static const struct sdp_limits small = {.max_media = 2, .max_formats = 3, .max_attrs = 4};
	static const struct {
		const char *sdp;
		size_t len; /* 0 = strlen */
		const struct sdp_limits *lim;
		int ret;
		const char *reason;
	} t[] = {
		{"", 0, NULL, -EBADMSG, "empty SDP"},
		{"\r\n\r\n", 0, NULL, -EBADMSG, "empty SDP"},
		{"o=- 1 1 IN IP4 h\r\nv=0\r\n", 0, NULL, -EBADMSG, "first SDP line is not v="},
		{"v=1\r\no=- 1 1 IN IP4 h\r\n", 0, NULL, -EBADMSG, "unsupported SDP version"},
		{"v=0\r\ns=-\r\n", 0, NULL, -EBADMSG, "no o= line"},
		{"v=0\r\nm=audio 1 RTP/AVP 0\r\n", 0, NULL, -EBADMSG, "no o= line before m="},
		{"v=0\r\no=- 1 1 IN IP4\r\n", 0, NULL, -EBADMSG, "malformed o= line"},
		{HDR "m=audio 70000 RTP/AVP 0\r\n", 0, NULL, -EBADMSG, "bad port in m= line"},
		{HDR "m=audio -1 RTP/AVP 0\r\n", 0, NULL, -EBADMSG, "bad port in m= line"},
		{HDR "m=audio abc RTP/AVP 0\r\n", 0, NULL, -EBADMSG, "bad port in m= line"},
		{HDR "m=audio 10000/0 RTP/AVP 0\r\n", 0, NULL, -EBADMSG,
		 "bad port count in m= line"},
		{HDR "m=audio 10000\r\n", 0, NULL, -EBADMSG, "m= line too short"},
		{HDR "m=audio 10000 RTP/AVP \r\n", 0, NULL, -EBADMSG, "m= line has no format"},
		{HDR "m=audio 10000 RTP/AVP 128\r\n", 0, NULL, -EBADMSG,
		 "bad RTP payload type in m= line"},
		{HDR "m=audio 10000 RTP/AVP x\r\n", 0, NULL, -EBADMSG,
		 "bad RTP payload type in m= line"},
		{HDR "c=IN IP4 198.51.100.2\r\n", 0, NULL, -EBADMSG, "duplicate c= line"},
		{"v=0\r\no=- 1 1 IN IP4 h\r\nc=IN IP4 999.1.1.1\r\n", 0, NULL, -EBADMSG,
		 "malformed c= line"},
		{"v=0\r\no=- 1 1 IN IP4 h\r\nc=IN IP4 -host.example\r\n", 0, NULL, -EBADMSG,
		 "malformed c= line"},
		{"v=0\r\no=- 1 1 IN IP4 h\r\nc=IN IP4 host-.example\r\n", 0, NULL, -EBADMSG,
		 "malformed c= line"},
		{"v=0\r\no=- 1 1 IN IP4 h\r\nc=IN IP4 host..example\r\n", 0, NULL, -EBADMSG,
		 "malformed c= line"},
		{"v=0\r\no=- 1 1 IN IP4 h\r\nc=IN IP4 host_1.example\r\n", 0, NULL, -EBADMSG,
		 "malformed c= line"},
		{"v=0\r\no=- 1 1 IN IP6 h\r\nc=IN IP6 2001:db8::zz\r\n", 0, NULL, -EBADMSG,
		 "malformed c= line"},
		{"v=0\r\no=- 1 1 IN IP4 h\r\nc=IN IP6 1.2.3.4\r\n", 0, NULL, -EBADMSG,
		 "malformed c= line"},
		{"v=0\r\no=- 1 1 IN IP4 h\r\nc=ATM IP4 1.2.3.4\r\n", 0, NULL, -EBADMSG,
		 "malformed c= line"},
		{HDR "hello\r\n", 0, NULL, -EBADMSG, "malformed SDP line"},
		{HDR "A=b\r\n", 0, NULL, -EBADMSG, "malformed SDP line"},
		{HDR "a=x\0y\r\n", sizeof(HDR "a=x\0y\r\n") - 1, NULL, -EBADMSG,
		 "control character in SDP line"},
		{HDR "a=x\ry\r\n", 0, NULL, -EBADMSG, "control character in SDP line"},
		{HDR "m=audio 1 RTP/AVP 0\r\na=label:\r\n", 0, NULL, -EBADMSG, "empty a=label"},
		{HDR "m=audio 1 RTP/AVP 0\r\nm=audio 2 RTP/AVP 0\r\nm=audio 3 RTP/AVP 0\r\n", 0,
		 &small, -E2BIG, "too many m= lines"},
		{HDR "m=audio 1 RTP/AVP 0 8 9 18\r\n", 0, &small, -E2BIG,
		 "too many formats in m= line"},
		{HDR "m=audio 1 RTP/AVP 0\r\na=a\r\na=b\r\na=c\r\na=d\r\na=e\r\n", 0, &small,
		 -E2BIG, "too many a= lines"},
		{big, sizeof(big), NULL, -E2BIG, "SDP body too large"},
		{longline, 0, NULL, -E2BIG, "SDP line too long"},
	};

	memset(big, 'a', sizeof(big));
	snprintf(longline, sizeof(longline), HDR "a=");
	memset(longline + strlen(longline), 'x', SDP_MAX_LINE + 10);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sdp_session *s = calloc(1, sizeof(*s));
		size_t len = t[i].len ? t[i].len : strlen(t[i].sdp);

		assert_non_null(s);
		s->n_media = 77;
		print_message("malformed %zu: %s\n", i, t[i].reason);
		assert_int_equal(sdp_parse(t[i].sdp, len, t[i].lim, s), t[i].ret);
		assert_string_equal(sdp_error(), t[i].reason);
		assert_int_equal(s->n_media, 77); /* untouched on failure */
		free(s);
	}
}

static void test_fields(void **state)
{
	static const char sdp[] =
		"v=0\r\no=alice 2890844526 2890844527 IN IP4 198.51.100.1\r\ns=rec\r\n"
		"c=IN IP4 224.2.1.1/127\r\nt=0 0\r\na=recvonly\r\n"
		"m=audio 49170/2 RTP/SAVPF 0 96 97\r\n"
		"a=rtpmap:96 opus/48000/2\r\na=rtpmap:97 L16/16000/2\r\na=rtpmap:bad\r\n"
		"a=fmtp:96 minptime=10\r\na=rtcp:53020 IN IP4 198.51.100.1\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\na=crypto:2 FOO inline:y\r\n"
		"a=ptime:20\r\na=label:main\r\na=label:second\r\nb=AS:64\r\nx=unknown\r\n"
		"m=audio 5000 RTP/AVP 0\r\nc=IN IP6 ::\r\n"
		"m=text 0 RTP/AVP 98\r\n";
	struct sdp_session *s = calloc(1, sizeof(*s));
	const struct sdp_media *m;
	const struct sdp_rtpmap *rm;
	int pt, dtmf;

	assert_non_null(s);
	assert_int_equal(sdp_parse(sdp, sizeof(sdp) - 1, NULL, s), 0);
	assert_true(str_eq_cstr(s->origin_user, "alice"));
	assert_true(str_eq_cstr(s->origin_sess_id, "2890844526"));
	assert_true(str_eq_cstr(s->origin_version, "2890844527"));
	assert_true(str_eq_cstr(s->origin_address, "198.51.100.1"));
	assert_int_equal(s->origin_family, AF_INET);
	assert_true(str_eq_cstr(s->session_name, "rec"));
	assert_true(str_eq_cstr(s->conn.address, "224.2.1.1"));
	assert_int_equal(s->direction, SDP_DIR_RECVONLY);
	assert_int_equal(s->n_media, 3);

	m = &s->media[0];
	assert_int_equal(m->type, SDP_MEDIA_AUDIO);
	assert_int_equal(m->port, 49170);
	assert_int_equal(m->port_count, 2);
	assert_int_equal(m->proto, SDP_PROTO_RTP_SAVPF);
	assert_int_equal(m->n_formats, 3);
	assert_int_equal(m->pts[2], 97);
	assert_int_equal(m->n_rtpmaps, 2);
	rm = sdp_media_rtpmap(m, 97);
	assert_non_null(rm);
	assert_true(str_eq_cstr(rm->encoding, "L16"));
	assert_int_equal(rm->clock, 16000);
	assert_int_equal(rm->channels, 2);
	assert_null(sdp_media_rtpmap(m, 0));
	assert_true(str_eq_cstr(sdp_media_fmtp(m, 96)->params, "minptime=10"));
	assert_true(m->has_rtcp);
	assert_int_equal(m->rtcp_port, 53020);
	assert_false(m->rtcp_mux);
	assert_int_equal(m->n_crypto, 2);
	assert_true(str_eq_cstr(m->crypto[1], "2 FOO inline:y"));
	assert_true(str_eq_cstr(m->ptime, "20"));
	assert_true(str_eq_cstr(m->label, "main"));
	assert_true(m->conn_from_session);
	assert_false(m->direction_explicit);
	assert_int_equal(sdp_media_direction(m), SDP_DIR_RECVONLY);
	assert_true(sdp_media_is_srtp(m));
	assert_true(sdp_media_proto_supported(m));
	assert_false(sdp_media_is_hold(m));
	assert_null(m->invalid);
	assert_int_equal(sdp_choose_codec(m, &pt, &dtmf), 0);
	assert_int_equal(pt, 0);
	assert_int_equal(dtmf, -1);

	m = &s->media[1];
	assert_false(m->conn_from_session);
	assert_int_equal(sdp_media_address(m)->family, AF_INET6);
	assert_true(sdp_media_is_hold(m));
	assert_false(sdp_media_is_srtp(m));

	m = &s->media[2];
	assert_int_equal(m->type, SDP_MEDIA_TEXT);
	pt = dtmf = 55;
	assert_int_equal(sdp_choose_codec(m, &pt, &dtmf), -ENOTSUP);
	assert_int_equal(pt, 55);
	free(s);
}

/* RFC 8866 §9: a unicast connection address may be a host name. It is kept as written, marked
 * fqdn, not hold, and gives the stream no literal to latch to. */
static void test_fqdn_connection(void **state)
{
	static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 src-0.pbx.svc.cluster.local\r\ns=-\r\n"
				  "c=IN IP4 media.example.net\r\nt=0 0\r\na=sendonly\r\n"
				  "m=audio 5000 RTP/AVP 0\r\na=label:a\r\n"
				  "m=audio 5002 RTP/AVP 0\r\nc=IN IP6 9media-1.example.net\r\n"
				  "m=audio 5004 RTP/AVP 0\r\nc=IN IP4 198.51.100.7\r\n";
	struct sdp_session *s = calloc(1, sizeof(*s));
	const struct sdp_connection *c;

	(void)state;
	assert_non_null(s);
	assert_int_equal(sdp_parse(sdp, sizeof(sdp) - 1, NULL, s), 0);
	assert_int_equal(s->n_media, 3);
	c = sdp_media_address(&s->media[0]);
	assert_non_null(c);
	assert_true(c->fqdn);
	assert_int_equal(c->family, AF_INET);
	assert_true(str_eq_cstr(c->address, "media.example.net"));
	assert_false(sdp_media_is_hold(&s->media[0]));
	assert_int_equal(sdp_media_direction(&s->media[0]), SDP_DIR_SENDONLY);
	c = sdp_media_address(&s->media[1]);
	assert_true(c->fqdn);
	assert_int_equal(c->family, AF_INET6);
	assert_true(str_eq_cstr(c->address, "9media-1.example.net"));
	c = sdp_media_address(&s->media[2]);
	assert_false(c->fqdn);
	assert_true(str_eq_cstr(c->address, "198.51.100.7"));
	free(s);
}

static void test_codec_choice(void **state)
{
	static const struct {
		const char *media; /* the m= section */
		int ret, pt, dtmf;
	} t[] = {
		{"m=audio 1 RTP/AVP 8 0\r\n", 0, 8, -1},
		/* never refused for its codec: the first format carrying audio is primary */
		{"m=audio 1 RTP/AVP 3 18 9\r\n", 0, 3, -1},
		{"m=audio 1 RTP/AVP 18\r\na=fmtp:18 annexb=yes\r\n", 0, 18, -1},
		{"m=audio 1 RTP/AVP 13 18\r\n", 0, 18, -1},
		{"m=audio 1 RTP/AVP 96 8\r\na=rtpmap:96 opus/48000\r\n", 0, 96, -1},
		{"m=audio 1 RTP/AVP 97 101\r\na=rtpmap:97 AMR/8000\r\n"
		 "a=rtpmap:101 telephone-event/8000\r\n",
		 0, 97, 101},
		{"m=audio 1 RTP/AVP 120\r\n", 0, 120, -1},
		{"m=audio 1 RTP/AVP 111\r\na=rtpmap:111 OPUS/48000/2\r\n", 0, 111, -1},
		/* an rtpmap overrides the static meaning of a number */
		{"m=audio 1 RTP/AVP 13 0\r\na=rtpmap:0 CN/8000\r\n", 0, 13, -1},
		{"m=audio 1 RTP/AVP 96\r\na=rtpmap:96 pcmu/8000\r\n", 0, 96, -1},
		{"m=audio 1 RTP/AVP 101 0\r\na=rtpmap:101 telephone-event/8000\r\n", 0, 0, 101},
		/* only telephone-event: still recorded (digits are what there is) */
		{"m=audio 1 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n", 0, 101, -1},
		{"m=audio 1 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/16000\r\n", 0, 0, 101},
		{"m=audio 1 UDP/TLS/RTP/SAVP 0\r\n", -ENOTSUP, 0, 0},
		{"m=video 1 RTP/AVP 0\r\n", -ENOTSUP, 0, 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char buf[512];
		struct sdp_session *s = calloc(1, sizeof(*s));
		int pt = -7, dtmf = -7;

		assert_non_null(s);
		snprintf(buf, sizeof(buf), "%s%s", HDR, t[i].media);
		assert_int_equal(sdp_parse(buf, strlen(buf), NULL, s), 0);
		assert_int_equal(sdp_choose_codec(&s->media[0], &pt, &dtmf), t[i].ret);
		if (t[i].ret == 0) {
			assert_int_equal(pt, t[i].pt);
			assert_int_equal(dtmf, t[i].dtmf);
		} else {
			assert_int_equal(pt, -7);
		}
		free(s);
	}
}

static void test_answer_errors(void **state)
{
	static const char sdp[] = HDR "m=audio 1000 RTP/AVP 0 8\r\n"
				      "m=audio 1002 RTP/SAVP 0\r\n";
	struct sdp_session *s = calloc(1, sizeof(*s));
	struct sdp_answer_params p = {NULL, 1, 2, "192.0.2.1"};
	struct sdp_answer_media am[2] = {{4000, 0, -1, false, NULL}, {0, -1, -1, false, NULL}};
	char buf[512];
	int r;

	assert_non_null(s);
	assert_int_equal(sdp_parse(sdp, sizeof(sdp) - 1, NULL, s), 0);
	r = sdp_answer_build(s, &p, am, 2, buf, sizeof(buf));
	assert_true(r > 0);
	assert_non_null(strstr(buf, "o=siprecd 1 2 IN IP4 192.0.2.1\r\n"));
	/* every cap below the length fails, cleanly */
	for (size_t cap = 0; cap <= (size_t)r; cap++)
		assert_int_equal(sdp_answer_build(s, &p, am, 2, buf, cap), -ENOBUFS);
	assert_int_equal(sdp_answer_build(s, &p, am, 2, buf, (size_t)r + 1), r);
	assert_int_equal(sdp_answer_build(s, &p, am, 1, buf, sizeof(buf)), -EINVAL);
	/* a re-offer may drop the format a stream started with: still every offered format */
	am[0].pt = 9;
	assert_true(sdp_answer_build(s, &p, am, 2, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "m=audio 4000 RTP/AVP 0 8\r\n"));
	am[0].pt = -1; /* port without a format: inconsistent */
	assert_int_equal(sdp_answer_build(s, &p, am, 2, buf, sizeof(buf)), -EINVAL);
	am[0].pt = 0;
	am[1] = (struct sdp_answer_media){4002, 0, -1, false, NULL}; /* SAVP without a key */
	assert_int_equal(sdp_answer_build(s, &p, am, 2, buf, sizeof(buf)), -EINVAL);
	am[1].port = 0;
	p.address = "bad address";
	assert_int_equal(sdp_answer_build(s, &p, am, 2, buf, sizeof(buf)), -EINVAL);
	free(s);
}

/* The payload map that goes into the recording header and the catalog (docs/FORMAT.md). */
static void test_format_map(void **state)
{
	static const char sdp[] =
		HDR "m=audio 1 RTP/AVP 18 98 0 96 101 120 97\r\n"
		    "a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n"
		    "a=rtpmap:98 AMR-WB/16000/1\r\na=fmtp:98 octet-align=1;mode-set=0,1,2\r\n"
		    "a=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n"
		    "a=fmtp:101 0-15\r\na=rtpmap:97 bad name/8000\r\n";
	static const char want[] = "18 G729/8000 annexb=no\n"
				   "98 AMR-WB/16000 octet-align=1;mode-set=0,1,2\n"
				   "0 PCMU/8000\n96 opus/48000/2\n101 telephone-event/8000 0-15";
	struct sdp_session *s = calloc(1, sizeof(*s));
	char buf[512];
	int r;

	assert_non_null(s);
	assert_int_equal(sdp_parse(sdp, sizeof(sdp) - 1, NULL, s), 0);
	/* 120 (no rtpmap) and 97 (a name with a space) say nothing usable: left out */
	r = sdp_media_format_map(&s->media[0], buf, sizeof(buf));
	assert_int_equal(r, (int)strlen(want));
	assert_string_equal(buf, want);
	/* too small: whole entries from the front, the fmtp of one that fits only bare dropped */
	r = sdp_media_format_map(&s->media[0], buf, 20);
	assert_string_equal(buf, "18 G729/8000");
	assert_int_equal(r, 12);
	r = sdp_media_format_map(&s->media[0], buf, 5);
	assert_string_equal(buf, "");
	assert_int_equal(r, 0);
	assert_int_equal(sdp_media_format_map(&s->media[0], buf, 0), -ENOBUFS);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),	     cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_fields),	     cmocka_unit_test(test_fqdn_connection),
		cmocka_unit_test(test_codec_choice), cmocka_unit_test(test_answer_errors),
		cmocka_unit_test(test_format_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
