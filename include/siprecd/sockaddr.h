/* SPDX-License-Identifier: MIT */
/* Socket addresses as log lines and messages show them (the SIP transport, the media workers). */
#pragma once

#include <stddef.h>
#include <sys/socket.h>

/* Formats "ip:port" (IPv6 as [ip]:port, "?" for another family) into buf of size n; returns buf. */
const char *sockaddr_to_string(const struct sockaddr_storage *sa, char *buf, size_t n);
