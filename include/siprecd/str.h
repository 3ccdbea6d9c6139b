/* SPDX-License-Identifier: MIT */
/*
 * Counted strings: a view {s, len} into a buffer someone else owns. Parsers hand these out
 * instead of NUL-terminated copies; only what outlives the message is copied (str_dup).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

struct str {
	const char *s;
	size_t len;
};

#define STR_NULL ((struct str){NULL, 0})
#define STR_LIT(lit) ((struct str){(lit), sizeof(lit) - 1})
/* printf("%.*s", STR_FMT(x)) */
#define STR_FMT(x) (int)(x).len, (x).s

static inline struct str str_make(const char *s, size_t len)
{
	return (struct str){s, len};
}

static inline struct str str_from_cstr(const char *s)
{
	return (struct str){s, s ? strlen(s) : 0};
}

static inline bool str_empty(struct str a)
{
	return a.len == 0;
}

bool str_eq(struct str a, struct str b);
bool str_caseeq(struct str a, struct str b);
bool str_eq_cstr(struct str a, const char *b);
bool str_caseeq_cstr(struct str a, const char *b);
bool str_startswith_case(struct str a, const char *prefix);
/* Trims spaces and tabs (and CR/LF) on both sides. */
struct str str_trim(struct str a);
/* Index of the first c in a, or -1. */
ssize_t str_chr(struct str a, char c);
/* Case-insensitive search of needle in a; index or -1. */
ssize_t str_casestr(struct str a, const char *needle);
/* Splits a at the first c: *ret_head gets what is before, the return value what is after
 * (STR_NULL with .s == NULL when c is absent, and then *ret_head is the whole of a). */
struct str str_split(struct str a, char c, struct str *ret_head);
/* Next token separated by spaces or tabs, advancing *rest past it; .s == NULL when none is left. */
struct str str_next_token(struct str *rest);
/* Value of a hex digit, or -1. */
int hex_digit(char c);
/* The n bytes at in as 2n lowercase hex digits and a NUL at out (2n + 1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Returns a malloc'ed NUL-terminated copy, or NULL on allocation failure. */
char *str_dup(struct str a);
/* Copies into buf of size n with NUL; returns -ENAMETOOLONG (and copies nothing) if it does not
 * fit. */
int str_copy(struct str a, char *buf, size_t n);

/*
 * Checked number parsing: the whole of a must be decimal digits (no sign, no spaces), the value
 * at most max. Returns 0 and writes *ret, or -EINVAL (junk, empty) / -ERANGE (over max).
 */
int str_to_u64(struct str a, uint64_t max, uint64_t *ret);
int str_to_u32(struct str a, uint32_t max, uint32_t *ret);
/* The same for NUL-terminated strings (configuration values). */
int parse_u64(const char *s, uint64_t max, uint64_t *ret);
/* Parses "30", "30s", "500ms", "5m", "24h", "7d" into milliseconds. */
int parse_duration_ms(const char *s, uint64_t *ret_ms);
/* Parses "yes/no/true/false/1/0/on/off" (case-insensitive). */
int parse_bool(const char *s, bool *ret);
