// SPDX-License-Identifier: MIT
/*
 * Operations on the rs-metadata model: freeing, deep copies, applying a complete or partial
 * update (RFC 7865 §6 "datamode"), lookups by id and by SDP label, and the consistency
 * warnings of a complete snapshot.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "siprec/metadata-internal.h"

int siprec_strv_add(struct siprec_strv *v, const char *s, size_t len)
{
	char **n = realloc(v->v, (v->n + 1) * sizeof(*n));
	char *c;

	if (!n)
		return -ENOMEM;
	v->v = n;
	c = str_dup(str_make(s, len));
	if (!c)
		return -ENOMEM;
	v->v[v->n++] = c;
	return 0;
}

bool siprec_strv_contains(const struct siprec_strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->v[i], s) == 0)
			return true;
	return false;
}

void siprec_strv_clear(struct siprec_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	*v = (struct siprec_strv){};
}

void *siprec_array_push(void *arr_ptr, size_t *n, size_t size)
{
	void **arr = arr_ptr;
	char *a = realloc(*arr, (*n + 1) * size);

	if (!a)
		return NULL;
	*arr = a;
	memset(a + *n * size, 0, size);
	return a + (*n)++ * size;
}

int siprec_md_warn(struct siprec_metadata *md, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int r;

	if (md->warnings.n >= md->lim.max_warnings) {
		md->n_warnings_dropped++;
		return 0;
	}
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = siprec_strv_add(&md->warnings, msg, (size_t)r);
	free(msg);
	return r;
}

#define FIND(arr, n, field, id)                                                                    \
	({                                                                                         \
		__typeof__(&(arr)[0]) _found = NULL;                                               \
		for (size_t _i = 0; id && _i < (n); _i++)                                          \
			if ((arr)[_i].field && strcmp((arr)[_i].field, id) == 0) {                 \
				_found = &(arr)[_i];                                               \
				break;                                                             \
			}                                                                          \
		_found;                                                                            \
	})

struct siprec_session_md *siprec_md_session_find(struct siprec_metadata *md, const char *id)
{
	return FIND(md->sessions, md->n_sessions, id, id);
}

struct siprec_participant *siprec_md_participant_find(struct siprec_metadata *md, const char *id)
{
	return FIND(md->participants, md->n_participants, id, id);
}

struct siprec_stream_md *siprec_md_stream_find(struct siprec_metadata *md, const char *id)
{
	return FIND(md->streams, md->n_streams, id, id);
}

struct siprec_group *siprec_md_group_find(struct siprec_metadata *md, const char *id)
{
	return FIND(md->groups, md->n_groups, id, id);
}

struct siprec_psa *siprec_md_psa_find(struct siprec_metadata *md, const char *participant_id)
{
	return FIND(md->psas, md->n_psas, participant_id, participant_id);
}

int siprec_md_validate(struct siprec_metadata *md)
{
	int r = 0;

	if (md->n_sessions == 0)
		r = siprec_md_warn(md, "no <session>");
	for (size_t i = 0; r >= 0 && i < md->n_sessions; i++)
		if (!md->sessions[i].defined)
			r = siprec_md_warn(md, "session '%.64s' referenced but not defined",
					   md->sessions[i].id);
	for (size_t i = 0; r >= 0 && i < md->n_participants; i++)
		if (!md->participants[i].defined)
			r = siprec_md_warn(md, "participant '%.64s' referenced but not defined",
					   md->participants[i].id);
	for (size_t i = 0; r >= 0 && i < md->n_streams; i++) {
		const struct siprec_stream_md *s = &md->streams[i];

		if (!s->label) {
			r = siprec_md_warn(md, "stream '%.64s' has no label", s->id);
			continue;
		}
		if (s->session_id && !siprec_md_session_find(md, s->session_id))
			r = siprec_md_warn(md, "stream '%.64s' refers to undefined session '%.64s'",
					   s->id, s->session_id);
		for (size_t j = 0; r >= 0 && j < i; j++)
			if (md->streams[j].label && strcmp(md->streams[j].label, s->label) == 0)
				r = siprec_md_warn(
					md, "streams '%.64s' and '%.64s' share label '%.32s'",
					md->streams[j].id, s->id, s->label);
	}
	for (size_t i = 0; r >= 0 && i < md->n_psas; i++) {
		const struct siprec_psa *a = &md->psas[i];

		if (!siprec_md_participant_find(md, a->participant_id))
			r = siprec_md_warn(md, "participant '%.64s' referenced but not defined",
					   a->participant_id);
		for (size_t k = 0; r >= 0 && k < 2; k++) {
			const struct siprec_strv *v = k == 0 ? &a->send : &a->recv;

			for (size_t j = 0; r >= 0 && j < v->n; j++)
				if (!siprec_md_stream_find(md, v->v[j]))
					r = siprec_md_warn(
						md, "stream '%.64s' referenced but not defined",
						v->v[j]);
		}
	}
	return r;
}

static void group_clear(struct siprec_group *g)
{
	free(g->id);
	free(g->associate_time);
	free(g->disassociate_time);
}

static void session_clear(struct siprec_session_md *s)
{
	free(s->id);
	siprec_strv_clear(&s->sip_session_ids);
	free(s->group_ref);
	free(s->start_time);
	free(s->stop_time);
	free(s->associate_time);
	free(s->disassociate_time);
}

static void participant_clear(struct siprec_participant *p)
{
	free(p->id);
	siprec_strv_clear(&p->names);
	siprec_strv_clear(&p->aors);
	free(p->session_id);
	free(p->associate_time);
	free(p->disassociate_time);
}

static void stream_clear(struct siprec_stream_md *s)
{
	free(s->id);
	free(s->label);
	free(s->session_id);
	free(s->associate_time);
	free(s->disassociate_time);
}

static void psa_clear(struct siprec_psa *a)
{
	free(a->participant_id);
	siprec_strv_clear(&a->send);
	siprec_strv_clear(&a->recv);
	free(a->associate_time);
	free(a->disassociate_time);
}

static void extension_clear(struct siprec_extension *e)
{
	free(e->parent);
	free(e->parent_id);
	free(e->ns);
	free(e->name);
	free(e->xml);
}

void siprec_md_clear(struct siprec_metadata *md)
{
	for (size_t i = 0; i < md->n_groups; i++)
		group_clear(&md->groups[i]);
	for (size_t i = 0; i < md->n_sessions; i++)
		session_clear(&md->sessions[i]);
	for (size_t i = 0; i < md->n_participants; i++)
		participant_clear(&md->participants[i]);
	for (size_t i = 0; i < md->n_streams; i++)
		stream_clear(&md->streams[i]);
	for (size_t i = 0; i < md->n_psas; i++)
		psa_clear(&md->psas[i]);
	for (size_t i = 0; i < md->n_extensions; i++)
		extension_clear(&md->extensions[i]);
	free(md->groups);
	free(md->sessions);
	free(md->participants);
	free(md->streams);
	free(md->psas);
	free(md->extensions);
	free(md->session_id);
	siprec_strv_clear(&md->warnings);
	siprec_strv_clear(&md->context);
	*md = (struct siprec_metadata){.lim = md->lim};
}

struct siprec_metadata *siprec_metadata_free(struct siprec_metadata *md)
{
	if (md) {
		siprec_md_clear(md);
		free(md);
	}
	return NULL;
}

/* Replaces *dst with a copy of src when src is set (partial updates carry only changes). */
static int str_update(char **dst, const char *src)
{
	char *c;

	if (!src)
		return 0;
	c = strdup(src);
	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

static int strv_union(struct siprec_strv *dst, const struct siprec_strv *src, size_t max)
{
	for (size_t i = 0; i < src->n; i++) {
		int r;

		if (siprec_strv_contains(dst, src->v[i]))
			continue;
		if (dst->n >= max)
			return -E2BIG;
		r = siprec_strv_add(dst, src->v[i], strlen(src->v[i]));
		if (r < 0)
			return r;
	}
	return 0;
}

static int strv_replace(struct siprec_strv *dst, const struct siprec_strv *src, size_t max)
{
	struct siprec_strv n = {};
	int r = strv_union(&n, src, max);

	if (r < 0) {
		siprec_strv_clear(&n);
		return r;
	}
	siprec_strv_clear(dst);
	*dst = n;
	return 0;
}

static int group_apply(struct siprec_metadata *md, const struct siprec_group *u)
{
	struct siprec_group *g = siprec_md_group_find(md, u->id);
	int r;

	if (!g) {
		if (md->n_groups + md->n_sessions >= md->lim.max_sessions)
			return -E2BIG;
		g = siprec_array_push(&md->groups, &md->n_groups, sizeof(*g));
		if (!g)
			return -ENOMEM;
	}
	if ((r = str_update(&g->id, u->id)) < 0 ||
	    (r = str_update(&g->associate_time, u->associate_time)) < 0)
		return r;
	return str_update(&g->disassociate_time, u->disassociate_time);
}

static int session_apply(struct siprec_metadata *md, const struct siprec_session_md *u)
{
	struct siprec_session_md *s = siprec_md_session_find(md, u->id);
	int r;

	if (!s) {
		if (md->n_groups + md->n_sessions >= md->lim.max_sessions)
			return -E2BIG;
		s = siprec_array_push(&md->sessions, &md->n_sessions, sizeof(*s));
		if (!s)
			return -ENOMEM;
	}
	s->defined |= u->defined;
	if ((r = str_update(&s->id, u->id)) < 0 ||
	    (r = strv_union(&s->sip_session_ids, &u->sip_session_ids, md->lim.max_names)) < 0 ||
	    (r = str_update(&s->group_ref, u->group_ref)) < 0 ||
	    (r = str_update(&s->start_time, u->start_time)) < 0 ||
	    (r = str_update(&s->stop_time, u->stop_time)) < 0 ||
	    (r = str_update(&s->associate_time, u->associate_time)) < 0)
		return r;
	return str_update(&s->disassociate_time, u->disassociate_time);
}

static int participant_apply(struct siprec_metadata *md, const struct siprec_participant *u)
{
	struct siprec_participant *p = siprec_md_participant_find(md, u->id);
	int r;

	if (!p) {
		if (md->n_participants >= md->lim.max_participants)
			return -E2BIG;
		p = siprec_array_push(&md->participants, &md->n_participants, sizeof(*p));
		if (!p)
			return -ENOMEM;
	}
	p->defined |= u->defined;
	if ((r = str_update(&p->id, u->id)) < 0 ||
	    (r = strv_union(&p->names, &u->names, md->lim.max_names)) < 0 ||
	    (r = strv_union(&p->aors, &u->aors, md->lim.max_names)) < 0 ||
	    (r = str_update(&p->session_id, u->session_id)) < 0 ||
	    (r = str_update(&p->associate_time, u->associate_time)) < 0)
		return r;
	return str_update(&p->disassociate_time, u->disassociate_time);
}

static int stream_apply(struct siprec_metadata *md, const struct siprec_stream_md *u)
{
	struct siprec_stream_md *s = siprec_md_stream_find(md, u->id);
	int r;

	if (!s) {
		if (md->n_streams >= md->lim.max_streams)
			return -E2BIG;
		s = siprec_array_push(&md->streams, &md->n_streams, sizeof(*s));
		if (!s)
			return -ENOMEM;
	}
	if ((r = str_update(&s->id, u->id)) < 0 || (r = str_update(&s->label, u->label)) < 0 ||
	    (r = str_update(&s->session_id, u->session_id)) < 0 ||
	    (r = str_update(&s->associate_time, u->associate_time)) < 0)
		return r;
	return str_update(&s->disassociate_time, u->disassociate_time);
}

static int psa_apply(struct siprec_metadata *md, const struct siprec_psa *u)
{
	struct siprec_psa *a = siprec_md_psa_find(md, u->participant_id);
	int r;

	if (!a) {
		if (md->n_psas >= md->lim.max_participants)
			return -E2BIG;
		a = siprec_array_push(&md->psas, &md->n_psas, sizeof(*a));
		if (!a)
			return -ENOMEM;
	}
	if ((r = str_update(&a->participant_id, u->participant_id)) < 0)
		return r;
	/* an association that lists streams states the whole current set (RFC 7865 §6.9);
	 * one that carries only times keeps the streams it had */
	if (u->send.n + u->recv.n > 0) {
		if ((r = strv_replace(&a->send, &u->send, md->lim.max_streams)) < 0 ||
		    (r = strv_replace(&a->recv, &u->recv, md->lim.max_streams)) < 0)
			return r;
	}
	if ((r = str_update(&a->associate_time, u->associate_time)) < 0)
		return r;
	return str_update(&a->disassociate_time, u->disassociate_time);
}

static bool extension_eq(const struct siprec_extension *a, const struct siprec_extension *b)
{
	return strcmp(a->parent, b->parent) == 0 && strcmp(a->xml, b->xml) == 0 &&
	       (a->parent_id == b->parent_id ||
		(a->parent_id && b->parent_id && strcmp(a->parent_id, b->parent_id) == 0));
}

static int extension_apply(struct siprec_metadata *md, const struct siprec_extension *u)
{
	struct siprec_extension *e;

	if (!u->xml || !u->parent)
		return 0;
	for (size_t i = 0; i < md->n_extensions; i++)
		if (md->extensions[i].xml && extension_eq(&md->extensions[i], u))
			return 0;
	if (md->n_extensions >= md->lim.max_extensions)
		return -E2BIG;
	e = siprec_array_push(&md->extensions, &md->n_extensions, sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (str_update(&e->parent, u->parent) < 0 || str_update(&e->parent_id, u->parent_id) < 0 ||
	    str_update(&e->ns, u->ns) < 0 || str_update(&e->name, u->name) < 0 ||
	    str_update(&e->xml, u->xml) < 0)
		return -ENOMEM;
	return 0;
}

/* Adds or updates, by id, every object of u in md. */
static int apply_all(struct siprec_metadata *md, const struct siprec_metadata *u)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < u->n_groups; i++)
		r = group_apply(md, &u->groups[i]);
	for (size_t i = 0; r >= 0 && i < u->n_sessions; i++)
		r = session_apply(md, &u->sessions[i]);
	for (size_t i = 0; r >= 0 && i < u->n_participants; i++)
		r = participant_apply(md, &u->participants[i]);
	for (size_t i = 0; r >= 0 && i < u->n_streams; i++)
		r = stream_apply(md, &u->streams[i]);
	for (size_t i = 0; r >= 0 && i < u->n_psas; i++)
		r = psa_apply(md, &u->psas[i]);
	for (size_t i = 0; r >= 0 && i < u->n_extensions; i++)
		r = extension_apply(md, &u->extensions[i]);
	if (r >= 0 && !md->session_id)
		r = str_update(&md->session_id, u->session_id);
	if (r >= 0)
		r = strv_union(&md->context, &u->context, md->lim.max_extensions);
	if (u->dialect)
		md->dialect = u->dialect;
	return r;
}

int siprec_metadata_merge(struct siprec_metadata *base, const struct siprec_metadata *update)
{
	struct siprec_metadata n = {.lim = base->lim};
	int r;

	/* work on a copy so that base is untouched on failure */
	if (update->datamode == SIPREC_DATAMODE_PARTIAL) {
		n.datamode = base->datamode;
		r = apply_all(&n, base);
		if (r >= 0)
			r = apply_all(&n, update);
	} else {
		/* a complete snapshot replaces everything we knew */
		r = apply_all(&n, update);
	}
	for (size_t i = 0; r >= 0 && i < update->warnings.n; i++)
		r = siprec_md_warn(&n, "%s", update->warnings.v[i]);
	if (r >= 0 && update->datamode == SIPREC_DATAMODE_PARTIAL &&
	    base->datamode == SIPREC_DATAMODE_COMPLETE)
		r = siprec_md_validate(&n);
	if (r < 0) {
		siprec_md_clear(&n);
		return r;
	}
	n.n_warnings_dropped += update->n_warnings_dropped;
	siprec_md_clear(base);
	*base = n;
	return 0;
}

const struct siprec_stream_md *siprec_metadata_stream_by_label(const struct siprec_metadata *md,
							       struct str label)
{
	label = str_trim(label);
	for (size_t i = 0; i < md->n_streams; i++)
		if (md->streams[i].label && str_eq_cstr(label, md->streams[i].label))
			return &md->streams[i];
	return NULL;
}

const struct siprec_stream_md *siprec_metadata_stream_by_id(const struct siprec_metadata *md,
							    const char *stream_id)
{
	return siprec_md_stream_find((struct siprec_metadata *)md, stream_id);
}

const struct siprec_participant *siprec_metadata_participant_by_id(const struct siprec_metadata *md,
								   const char *participant_id)
{
	return siprec_md_participant_find((struct siprec_metadata *)md, participant_id);
}

const struct siprec_participant *siprec_metadata_sender_of(const struct siprec_metadata *md,
							   const char *stream_id)
{
	const struct siprec_participant *fallback = NULL;

	/* A participant (or association) with a disassociate-time (RFC 7865 §6.2; a transfer,
	 * RFC 8068 §3.4) counts only when nobody else sends the stream. */
	for (size_t i = 0; stream_id && i < md->n_psas; i++) {
		const struct siprec_participant *p;

		if (!siprec_strv_contains(&md->psas[i].send, stream_id))
			continue;
		p = siprec_metadata_participant_by_id(md, md->psas[i].participant_id);
		if (!p)
			continue;
		if (!md->psas[i].disassociate_time && !p->disassociate_time)
			return p;
		if (!fallback)
			fallback = p;
	}
	return fallback;
}
