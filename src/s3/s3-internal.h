/* SPDX-License-Identifier: MIT */
/*
 * What the S3 module's files share and nobody else needs (client.c, upload.c, fetch.c).
 */
#pragma once

#include <stddef.h>

#include "siprecd/macro.h"

/* Writes the formatted reason into err (errlen bytes); nothing when err is NULL or errlen 0. */
void s3_set_err(char *err, size_t errlen, const char *fmt, ...) _printf_(3, 4);
