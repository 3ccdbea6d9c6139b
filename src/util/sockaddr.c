// SPDX-License-Identifier: MIT
/* Socket addresses as text (include/siprecd/sockaddr.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "siprecd/sockaddr.h"

const char *sockaddr_to_string(const struct sockaddr_storage *sa, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(buf, n, "%s:%u", ip, ntohs(s->sin_port));
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(buf, n, "[%s]:%u", ip, ntohs(s->sin6_port));
	} else {
		snprintf(buf, n, "?");
	}
	return buf;
}
