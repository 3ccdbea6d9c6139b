// SPDX-License-Identifier: MIT
/*
 * Counted-string helpers and checked number parsers (no atoi/strtol anywhere else).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/types.h>

#include "siprecd/str.h"

bool str_eq(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}

bool str_caseeq(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.s, b.s, a.len) == 0);
}

bool str_eq_cstr(struct str a, const char *b)
{
	return str_eq(a, str_from_cstr(b));
}

bool str_caseeq_cstr(struct str a, const char *b)
{
	return str_caseeq(a, str_from_cstr(b));
}

bool str_startswith_case(struct str a, const char *prefix)
{
	size_t n = strlen(prefix);

	return a.len >= n && strncasecmp(a.s, prefix, n) == 0;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct str str_trim(struct str a)
{
	while (a.len > 0 && is_ws(a.s[0])) {
		a.s++;
		a.len--;
	}
	while (a.len > 0 && is_ws(a.s[a.len - 1]))
		a.len--;
	return a;
}

ssize_t str_chr(struct str a, char c)
{
	const char *p = a.len ? memchr(a.s, c, a.len) : NULL;

	return p ? p - a.s : -1;
}

ssize_t str_casestr(struct str a, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return 0;
	for (size_t i = 0; i + n <= a.len; i++)
		if (strncasecmp(a.s + i, needle, n) == 0)
			return (ssize_t)i;
	return -1;
}

struct str str_split(struct str a, char c, struct str *ret_head)
{
	ssize_t i = str_chr(a, c);

	if (i < 0) {
		*ret_head = a;
		return STR_NULL;
	}
	*ret_head = str_make(a.s, (size_t)i);
	return str_make(a.s + i + 1, a.len - (size_t)i - 1);
}

char *str_dup(struct str a)
{
	char *p = malloc(a.len + 1);

	if (!p)
		return NULL;
	if (a.len)
		memcpy(p, a.s, a.len);
	p[a.len] = '\0';
	return p;
}

int str_copy(struct str a, char *buf, size_t n)
{
	if (a.len + 1 > n)
		return -ENAMETOOLONG;
	if (a.len)
		memcpy(buf, a.s, a.len);
	buf[a.len] = '\0';
	return 0;
}

int str_to_u64(struct str a, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (a.len == 0)
		return -EINVAL;
	for (size_t i = 0; i < a.len; i++) {
		unsigned d;

		if (a.s[i] < '0' || a.s[i] > '9')
			return -EINVAL;
		d = (unsigned)(a.s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int str_to_u32(struct str a, uint32_t max, uint32_t *ret)
{
	uint64_t v;
	int r = str_to_u64(a, max, &v);

	if (r < 0)
		return r;
	*ret = (uint32_t)v;
	return 0;
}

int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	return str_to_u64(str_from_cstr(s), max, ret);
}

int parse_duration_ms(const char *s, uint64_t *ret_ms)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000},
	};
	struct str a = str_from_cstr(s);
	size_t digits = 0;

	while (digits < a.len && a.s[digits] >= '0' && a.s[digits] <= '9')
		digits++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t v;
		int r;

		if (strcmp(s + digits, units[i].suffix) != 0)
			continue;
		r = str_to_u64(str_make(s, digits), UINT64_MAX / units[i].mult, &v);
		if (r < 0)
			return r;
		*ret_ms = v * units[i].mult;
		return 0;
	}
	return -EINVAL;
}

int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

struct str str_next_token(struct str *rest)
{
	struct str t;
	size_t i = 0;

	while (i < rest->len && (rest->s[i] == ' ' || rest->s[i] == '\t'))
		i++;
	if (i == rest->len) {
		*rest = str_make(rest->s + i, 0);
		return STR_NULL;
	}
	t.s = rest->s + i;
	while (i < rest->len && rest->s[i] != ' ' && rest->s[i] != '\t')
		i++;
	t.len = (size_t)(rest->s + i - t.s);
	*rest = str_make(rest->s + i, rest->len - i);
	return t;
}

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
