// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the SIP edge parsers a peer reaches: the Authorization header parser and
 * digest verifier (the input's first line is the header value, put into an INVITE), and the
 * address[/prefix] list parser and matcher behind SIP_ALLOW* (on the same bytes).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/acl.h"
#include "siprecd/auth.h"
#include "siprecd/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sip_auth *auth;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char msgbuf[8192];
	static struct sip_msg msg;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl ? (size_t)(nl - data) : size;
	struct str user;
	int n;

	if (!auth) {
		char err[128];
		static const char creds[] = "src1:pw\nsrc2:other\n";

		if (sip_auth_new("siprecd", "SHA-256,MD5", 300000, 64, creds, sizeof(creds) - 1,
				 &auth, err, sizeof(err)) < 0)
			abort();
	}
	if (hlen > 4096)
		return 0;
	n = snprintf(msgbuf, sizeof(msgbuf),
		     "INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		     "From: <sip:a@b>;tag=1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: c\r\n"
		     "CSeq: 1 INVITE\r\nAuthorization: %.*s\r\nContent-Length: 0\r\n\r\n",
		     (int)hlen, (const char *)data);
	if (n > 0 && (size_t)n < sizeof(msgbuf) &&
	    sip_msg_parse(&msg, msgbuf, (size_t)n, NULL) == 0)
		sip_auth_check(auth, &msg, 1000, &user);

	{
		char *list = strndup((const char *)data, size);
		struct sip_acl *acl = NULL;
		char err[160];

		if (list && sip_acl_parse(list, &acl, err, sizeof(err)) == 0) {
			struct sockaddr_storage ss = {0};
			struct sockaddr_in6 *s6 = (void *)&ss;

			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, data, size < 16 ? size : 16);
			sip_acl_allows(acl, &ss);
			ss.ss_family = AF_INET;
			sip_acl_allows(acl, &ss);
			sip_acl_free(acl);
		}
		free(list);
	}
	return 0;
}
