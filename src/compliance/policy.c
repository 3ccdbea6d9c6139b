// SPDX-License-Identifier: MIT
/*
 * Retention policy logic, free of I/O so it is unit-tested on its own: parsing "7y" or
 * "forever", which policies apply to a recording, and the longest one winning.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "siprecd/compliance.h"

int compliance_parse_keep(const char *s, int64_t *ret_seconds)
{
	static const struct {
		char unit;
		int64_t mul;
	} units[] = {{'s', 1},	   {'m', 60},	     {'h', 3600},
		     {'d', 86400}, {'w', 7 * 86400}, {'y', 365 * 86400}};
	int64_t v = 0, mul = 1;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "forever") == 0) {
		*ret_seconds = COMPLIANCE_FOREVER;
		return 0;
	}
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (INT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (*p) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (units[i].unit == *p)
				break;
		if (i == sizeof(units) / sizeof(units[0]) || p[1])
			return -EINVAL;
		mul = units[i].mul;
	}
	if (v > INT64_MAX / mul / 1000) /* kept in milliseconds later */
		return -EINVAL;
	*ret_seconds = v * mul;
	return 0;
}

const char *compliance_aor_domain(const char *aor, char *buf, size_t n)
{
	const char *at, *end;
	size_t len;

	if (!aor || !n)
		return NULL;
	at = strchr(aor, '@');
	if (!at) {
		/* sip:example.com, tel: has no domain */
		at = strchr(aor, ':');
		if (!at || strncasecmp(aor, "tel:", 4) == 0)
			return NULL;
	}
	at++;
	end = at;
	if (*end == '[') {
		end = strchr(end, ']');
		if (!end)
			return NULL;
		end++;
	} else
		end += strcspn(end, ":;?>");
	len = (size_t)(end - at);
	if (!len || len >= n)
		return NULL;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)tolower((unsigned char)at[i]);
	buf[len] = '\0';
	return buf;
}

/* Whether one of a policy's blind indexes is among the subject's. */
static bool index_match(const struct retention_policy *p, const char *const *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; idx[i] && j < p->n_indexes; j++)
			if (p->indexes[j] && strcmp(idx[i], p->indexes[j]) == 0)
				return true;
	return false;
}

bool retention_policy_applies(const struct retention_policy *p, const struct retention_subject *s)
{
	char dom[256];

	if (!p->match)
		return false;
	if (strcmp(p->match, "all") == 0)
		return true;
	if (!p->pattern)
		return false;
	if (strcmp(p->match, "aor") == 0) {
		for (size_t i = 0; i < s->n_aors; i++)
			if (s->aors[i] && fnmatch(p->pattern, s->aors[i], FNM_CASEFOLD) == 0)
				return true;
		return index_match(p, s->aor_indexes, s->n_aor_indexes);
	}
	if (strcmp(p->match, "domain") == 0) {
		for (size_t i = 0; i < s->n_aors; i++)
			if (compliance_aor_domain(s->aors[i], dom, sizeof(dom)) &&
			    fnmatch(p->pattern, dom, FNM_CASEFOLD) == 0)
				return true;
		return index_match(p, s->domain_indexes, s->n_domain_indexes);
	}
	if (strcmp(p->match, "src") == 0)
		return s->src && fnmatch(p->pattern, s->src, 0) == 0;
	if (strcmp(p->match, "context") == 0) {
		if (!p->context_name)
			return false;
		for (size_t i = 0; i < s->n_context; i++)
			if (s->context_names[i] && s->context_values[i] &&
			    strcasecmp(s->context_names[i], p->context_name) == 0 &&
			    fnmatch(p->pattern, s->context_values[i], 0) == 0)
				return true;
		return false;
	}
	return false;
}

int64_t retention_keep(const struct retention_policy *p, size_t n,
		       const struct retention_subject *s, int64_t default_keep, int *ret_policy)
{
	int64_t best = 0;
	int which = -1;

	for (size_t i = 0; i < n; i++) {
		if (!retention_policy_applies(&p[i], s))
			continue;
		if (which >= 0 && best == COMPLIANCE_FOREVER)
			continue;
		if (which < 0 || p[i].keep_seconds == COMPLIANCE_FOREVER ||
		    p[i].keep_seconds > best) {
			best = p[i].keep_seconds;
			which = (int)i;
		}
	}
	if (ret_policy)
		*ret_policy = which;
	return which < 0 ? default_keep : best;
}
