/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the rs-metadata parser (metadata.c), the model operations
 * (metadata-model.c: free, copy, merge, lookups, consistency warnings) and the JSON writer.
 */
#pragma once

#include "siprecd/macro.h"
#include "siprecd/siprec.h"

/* Appends a copy of s[0..len) to v. Returns 0 or -ENOMEM. */
int siprec_strv_add(struct siprec_strv *v, const char *s, size_t len);
bool siprec_strv_contains(const struct siprec_strv *v, const char *s);
void siprec_strv_clear(struct siprec_strv *v);

/* Grows *arr (of *n elements of size bytes) by one zeroed element; returns it or NULL. */
void *siprec_array_push(void *arr_ptr, size_t *n, size_t size);

/* Adds a formatted warning, or counts it as dropped past md->lim.max_warnings. */
int siprec_md_warn(struct siprec_metadata *md, const char *fmt, ...) _printf_(2, 3);

/* Appends the cross-reference warnings of a complete model (labels, undefined ids). */
int siprec_md_validate(struct siprec_metadata *md);

struct siprec_session_md *siprec_md_session_find(struct siprec_metadata *md, const char *id);
struct siprec_participant *siprec_md_participant_find(struct siprec_metadata *md, const char *id);
struct siprec_stream_md *siprec_md_stream_find(struct siprec_metadata *md, const char *id);
struct siprec_group *siprec_md_group_find(struct siprec_metadata *md, const char *id);
struct siprec_psa *siprec_md_psa_find(struct siprec_metadata *md, const char *participant_id);

/* Frees the contents of md (not md itself) and zeroes it. */
void siprec_md_clear(struct siprec_metadata *md);
