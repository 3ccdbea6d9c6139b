// SPDX-License-Identifier: MIT
/*
 * JSON form of the rs-metadata model (json-c), used for the catalog snapshot and for exports.
 * The layout is documented in docs/METADATA.md; absent fields are left out, never null.
 */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "siprec/metadata-internal.h"

static void json_putp(struct json_object **o)
{
	json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

/* Adds value under key (a string literal, each added once per object: json-c neither copies
 * it nor looks for an earlier value under it), taking ownership of value even on failure. */
static int add(struct json_object *o, const char *key, struct json_object *value)
{
	if (!value)
		return -ENOMEM;
	if (json_object_object_add_ex(o, key, value,
				      JSON_C_OBJECT_ADD_KEY_IS_NEW |
					      JSON_C_OBJECT_KEY_IS_CONSTANT) < 0) {
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}

static int add_str(struct json_object *o, const char *key, const char *s)
{
	if (!s)
		return 0;
	return add(o, key, json_object_new_string(s));
}

static int append(struct json_object *a, struct json_object *value)
{
	if (!value)
		return -ENOMEM;
	if (json_object_array_add(a, value) < 0) {
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *strv_json(const struct siprec_strv *v)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < v->n; i++)
		if (append(a, json_object_new_string(v->v[i])) < 0) {
			json_object_put(a);
			return NULL;
		}
	return a;
}

static int add_times(struct json_object *o, const char *assoc, const char *disassoc)
{
	int r = add_str(o, "associate_time", assoc);

	return r < 0 ? r : add_str(o, "disassociate_time", disassoc);
}

static struct json_object *group_json(const struct siprec_group *g)
{
	struct json_object *o = json_object_new_object();

	if (o && (add_str(o, "id", g->id) < 0 ||
		  add_times(o, g->associate_time, g->disassociate_time) < 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *session_json(const struct siprec_session_md *s)
{
	struct json_object *o = json_object_new_object();

	if (o && (add_str(o, "id", s->id) < 0 ||
		  add(o, "defined", json_object_new_boolean(s->defined)) < 0 ||
		  add(o, "sip_session_ids", strv_json(&s->sip_session_ids)) < 0 ||
		  add_str(o, "group_ref", s->group_ref) < 0 ||
		  add_str(o, "start_time", s->start_time) < 0 ||
		  add_str(o, "stop_time", s->stop_time) < 0 ||
		  add_times(o, s->associate_time, s->disassociate_time) < 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *participant_json(const struct siprec_participant *p)
{
	struct json_object *o = json_object_new_object();

	if (o &&
	    (add_str(o, "id", p->id) < 0 ||
	     add(o, "defined", json_object_new_boolean(p->defined)) < 0 ||
	     add(o, "names", strv_json(&p->names)) < 0 || add(o, "aors", strv_json(&p->aors)) < 0 ||
	     add_str(o, "session_id", p->session_id) < 0 ||
	     add_times(o, p->associate_time, p->disassociate_time) < 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *stream_json(const struct siprec_stream_md *s)
{
	struct json_object *o = json_object_new_object();

	if (o && (add_str(o, "id", s->id) < 0 || add_str(o, "label", s->label) < 0 ||
		  add_str(o, "session_id", s->session_id) < 0 ||
		  add_times(o, s->associate_time, s->disassociate_time) < 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *psa_json(const struct siprec_psa *a)
{
	struct json_object *o = json_object_new_object();

	if (o &&
	    (add_str(o, "participant_id", a->participant_id) < 0 ||
	     add(o, "send", strv_json(&a->send)) < 0 || add(o, "recv", strv_json(&a->recv)) < 0 ||
	     add_times(o, a->associate_time, a->disassociate_time) < 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *extension_json(const struct siprec_extension *e)
{
	struct json_object *o = json_object_new_object();

	if (o && (add_str(o, "parent", e->parent) < 0 ||
		  add_str(o, "parent_id", e->parent_id) < 0 || add_str(o, "ns", e->ns) < 0 ||
		  add_str(o, "name", e->name) < 0 || add_str(o, "xml", e->xml) < 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

#define ADD_ARRAY(o, key, arr, n, fn)                                                              \
	({                                                                                         \
		struct json_object *_a = json_object_new_array();                                  \
		int _r = 0;                                                                        \
		for (size_t _i = 0; _a && _r >= 0 && _i < (n); _i++)                               \
			_r = append(_a, fn(&(arr)[_i]));                                           \
		if (_r < 0) {                                                                      \
			json_object_put(_a);                                                       \
			_a = NULL;                                                                 \
		}                                                                                  \
		add(o, key, _a);                                                                   \
	})

int siprec_metadata_to_json(const struct siprec_metadata *md, char **ret_json)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	const char *s;
	char *c;

	if (!o)
		return -ENOMEM;
	if (add_str(o, "datamode",
		    md->datamode == SIPREC_DATAMODE_PARTIAL ? "partial" : "complete") < 0 ||
	    add_str(o, "dialect", md->dialect) < 0 ||
	    add_str(o, "session_id", md->session_id) < 0 ||
	    ADD_ARRAY(o, "groups", md->groups, md->n_groups, group_json) < 0 ||
	    ADD_ARRAY(o, "sessions", md->sessions, md->n_sessions, session_json) < 0 ||
	    ADD_ARRAY(o, "participants", md->participants, md->n_participants, participant_json) <
		    0 ||
	    ADD_ARRAY(o, "streams", md->streams, md->n_streams, stream_json) < 0 ||
	    ADD_ARRAY(o, "participantstreamassoc", md->psas, md->n_psas, psa_json) < 0 ||
	    ADD_ARRAY(o, "extensions", md->extensions, md->n_extensions, extension_json) < 0 ||
	    add(o, "context", strv_json(&md->context)) < 0 ||
	    add(o, "warnings", strv_json(&md->warnings)) < 0)
		return -ENOMEM;
	if (md->n_warnings_dropped &&
	    add(o, "warnings_dropped", json_object_new_int64((int64_t)md->n_warnings_dropped)) < 0)
		return -ENOMEM;

	s = json_object_to_json_string_ext(o,
					   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	c = strdup(s);
	if (!c)
		return -ENOMEM;
	*ret_json = c;
	return 0;
}
