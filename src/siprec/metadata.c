// SPDX-License-Identifier: MIT
/*
 * rs-metadata (RFC 7865) parser: expat in namespace mode feeds a small state machine that
 * builds struct siprec_metadata. It is liberal about the dialects real SRCs send (older draft
 * attribute and element names, any or no prefix, with or without the ":1" namespace) and strict
 * about limits and well-formedness. No DTD is ever processed.
 */
#include <errno.h>
#include <expat.h>
#include <iconv.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "siprecd/log.h"
#include "siprec/metadata-internal.h"

/* Cannot occur in XML 1.0 text, not even as a character reference. */
#define NS_SEP '\x01'

static const char *const recording_ns[] = {
	"urn:ietf:params:xml:ns:recording:1", /* RFC 7865 §11.1 */
	"urn:ietf:params:xml:ns:recording",   /* drafts, still sent by older SBCs */
	"urn:ietf:params:xml:ns:siprec",      /* pre-RFC <recording_metadata> (BroadWorks) */
};

/*
 * Call-correlation ids vendors put in extension elements (RFC 7865 §6.10), by local name
 * (case-insensitive), wherever they sit inside an extension: the catalog keeps them so a
 * recording can be found by the id the contact centre knows the call by (docs/METADATA.md).
 */
static const struct {
	const char *element;
	const char *name;
} vendor_ids[] = {
	{"ucid", "ucid"},		 /* Avaya UCID: Oracle/Acme apkt:ucid, Avaya SBCE */
	{"AvayaUCID", "ucid"},		 /* AudioCodes ac:AvayaUCID */
	{"UniversalCallID", "ucid"},	 /* Avaya Aura */
	{"GenesysUUID", "genesys-uuid"}, /* Genesys SIP Server */
	{"CallUUID", "genesys-uuid"},	 /* Genesys Engage X-Genesys-CallUUID in metadata */
	{"ConnID", "genesys-connid"},	 /* Genesys connection id */
	{"extTrackingID", "broadworks-tracking-id"}, /* BroadWorks external tracking id */
	{"callID", "vendor-call-id"},		     /* BroadWorks, Sonus: the PBX's own call id */
	{"GUID", "cisco-guid"},			     /* Cisco CUBE / CUCM call GUID */
	{"CiscoGUID", "cisco-guid"},
	{"UUI", "uui"}, /* User-to-User information */
	{"UserToUser", "uui"},
};

enum kind {
	K_SKIP, /* ignored subtree (or inside an extension being captured) */
	K_ROOT,
	K_GROUP,
	K_SESSION,
	K_PARTICIPANT,
	K_NAMEID,
	K_STREAM,
	K_SRA,	 /* sessionrecordingassoc */
	K_PSESS, /* participantsessionassoc */
	K_PSA,	 /* participantstreamassoc */
	K_TEXT,	 /* a leaf whose text we keep */
	K_EXTENSION,
};

enum text_field {
	T_DATAMODE,
	T_SIP_SESSION_ID,
	T_GROUP_REF,
	T_START,
	T_STOP,
	T_ASSOC,
	T_DISASSOC,
	T_NAME,
	T_AOR,
	T_SEND,
	T_RECV,
	T_LABEL,
};

struct frame {
	enum kind kind;
	enum text_field field; /* K_TEXT */
	size_t idx;	       /* index of the object in its array (K_GROUP..K_PSA) */
	bool nested;	       /* K_TEXT send/recv whose stream ids came in <id> children */
	int vendor_id;	       /* 1 + index in vendor_ids of an extension leaf, else 0 */
};

struct parser {
	XML_Parser xp;
	const char *input;
	size_t input_len;
	const struct siprec_limits *lim;
	struct siprec_metadata *md;
	int err;
	struct frame *stack; /* lim->max_depth entries */
	size_t depth;
	size_t n_elements;
	bool seen_datamode;
	bool root_ok;  /* the root is <recording> */
	char *root_ns; /* namespace of <recording> when it is none of ours, accepted too */
	char *text;
	size_t text_len;
	char *vtext; /* text of the vendor id leaf being read */
	size_t vtext_len;
	/* extension being captured */
	size_t ext_depth; /* depth of its element, 0 if none */
	XML_Index ext_start;
	size_t ext_idx;
};

/* The limit the last parse on this thread went over (siprec_metadata_limit()). */
static __thread const char *limit_hit;

static int over(const char *what)
{
	limit_hit = what;
	return -E2BIG;
}

const char *siprec_metadata_limit(void)
{
	return limit_hit ? limit_hit : "size";
}

static void fail(struct parser *p, int err)
{
	if (p->err == 0)
		p->err = err;
	XML_StopParser(p->xp, XML_FALSE);
}

static const char *local_name(const char *name)
{
	const char *sep = strrchr(name, NS_SEP);

	return sep ? sep + 1 : name;
}

/* Is the element's namespace one we read the RFC 7865 vocabulary from? */
static bool is_recording_ns(const struct parser *p, const char *name)
{
	const char *sep = strrchr(name, NS_SEP);
	size_t n;

	/* liberal: SRCs that forget xmlns send elements in no namespace */
	if (!sep)
		return true;
	n = (size_t)(sep - name);
	for (size_t i = 0; i < ARRAY_SIZE(recording_ns); i++)
		if (strlen(recording_ns[i]) == n && memcmp(name, recording_ns[i], n) == 0)
			return true;
	return p->root_ns && strlen(p->root_ns) == n && memcmp(name, p->root_ns, n) == 0;
}

/* First attribute whose local name is one of names (in that order of preference). */
static const char *attr_get(const char **atts, const char *const *names)
{
	for (; *names; names++)
		for (size_t i = 0; atts[i]; i += 2)
			if (strcasecmp(local_name(atts[i]), *names) == 0)
				return atts[i + 1];
	return NULL;
}

#define ATTR(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Copies an attribute value or text with XML white space trimmed; NULL if empty. */
static int dup_trimmed(const char *s, size_t len, char **ret)
{
	struct str t = str_trim(str_make(s, len));

	if (t.len == 0) {
		*ret = NULL;
		return 0;
	}
	*ret = str_dup(t);
	return *ret ? 0 : -ENOMEM;
}

static int set_field(char **field, const char *s, size_t len)
{
	char *v;
	int r = dup_trimmed(s, len, &v);

	if (r < 0 || !v)
		return r;
	free(*field);
	*field = v;
	return 0;
}

static int add_unique(struct siprec_strv *v, const char *s, size_t len, size_t max)
{
	struct str t = str_trim(str_make(s, len));

	if (t.len == 0)
		return 0;
	for (size_t i = 0; i < v->n; i++)
		if (str_eq_cstr(t, v->v[i]))
			return 0;
	if (v->n >= max)
		return over("names or references in one element");
	return siprec_strv_add(v, t.s, t.len);
}

static int warn(struct parser *p, const char *fmt, ...) _printf_(2, 3);
static int warn(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = siprec_md_warn(p->md, "%s", msg);
	free(msg);
	return r;
}

static int group_get(struct parser *p, const char *id, size_t *ret_idx)
{
	struct siprec_metadata *md = p->md;
	struct siprec_group *g = siprec_md_group_find(md, id);

	if (!g) {
		if (md->n_groups + md->n_sessions >= p->lim->max_sessions)
			return over("sessions and groups");
		g = siprec_array_push(&md->groups, &md->n_groups, sizeof(*g));
		if (!g || !(g->id = strdup(id)))
			return -ENOMEM;
	}
	*ret_idx = (size_t)(g - md->groups);
	return 0;
}

static int session_get(struct parser *p, const char *id, size_t *ret_idx)
{
	struct siprec_metadata *md = p->md;
	struct siprec_session_md *s = siprec_md_session_find(md, id);

	if (!s) {
		if (md->n_groups + md->n_sessions >= p->lim->max_sessions)
			return over("sessions and groups");
		s = siprec_array_push(&md->sessions, &md->n_sessions, sizeof(*s));
		if (!s || !(s->id = strdup(id)))
			return -ENOMEM;
	}
	*ret_idx = (size_t)(s - md->sessions);
	return 0;
}

static int participant_get(struct parser *p, const char *id, size_t *ret_idx)
{
	struct siprec_metadata *md = p->md;
	struct siprec_participant *pa = siprec_md_participant_find(md, id);

	if (!pa) {
		if (md->n_participants >= p->lim->max_participants)
			return over("participants");
		pa = siprec_array_push(&md->participants, &md->n_participants, sizeof(*pa));
		if (!pa || !(pa->id = strdup(id)))
			return -ENOMEM;
	}
	*ret_idx = (size_t)(pa - md->participants);
	return 0;
}

static int stream_get(struct parser *p, const char *id, size_t *ret_idx)
{
	struct siprec_metadata *md = p->md;
	struct siprec_stream_md *s = siprec_md_stream_find(md, id);

	if (!s) {
		if (md->n_streams >= p->lim->max_streams)
			return over("streams");
		s = siprec_array_push(&md->streams, &md->n_streams, sizeof(*s));
		if (!s || !(s->id = strdup(id)))
			return -ENOMEM;
	} else {
		warn(p, "stream '%.64s' is described twice", id);
	}
	*ret_idx = (size_t)(s - md->streams);
	return 0;
}

static int psa_get(struct parser *p, const char *participant_id, size_t *ret_idx)
{
	struct siprec_metadata *md = p->md;
	struct siprec_psa *a = siprec_md_psa_find(md, participant_id);

	if (!a) {
		if (md->n_psas >= p->lim->max_participants)
			return over("participants");
		a = siprec_array_push(&md->psas, &md->n_psas, sizeof(*a));
		if (!a || !(a->participant_id = strdup(participant_id)))
			return -ENOMEM;
	}
	*ret_idx = (size_t)(a - md->psas);
	return 0;
}

/* Trimmed id attribute or NULL; empty ids count as missing. */
static const char *id_attr(const char **atts, const char *const *names, struct str *ret)
{
	const char *v = attr_get(atts, names);

	*ret = str_trim(str_from_cstr(v));
	return ret->len ? v : NULL;
}

/* Opens an object element of the model; on a missing id the subtree is skipped. */
static int open_object(struct parser *p, const char *lname, const char **atts, struct frame *f)
{
	struct str id;
	_cleanup_free_ char *idc = NULL;
	int r = 0;

	if (strcasecmp(lname, "group") == 0) {
		if (!id_attr(atts, ATTR("group_id", "id"), &id))
			return warn(p, "<group> without group_id ignored");
		if (!(idc = str_dup(id)))
			return -ENOMEM;
		f->kind = K_GROUP;
		return group_get(p, idc, &f->idx);
	}
	if (strcasecmp(lname, "session") == 0) {
		if (!id_attr(atts, ATTR("session_id", "id"), &id))
			return warn(p, "<session> without session_id ignored");
		if (!(idc = str_dup(id)))
			return -ENOMEM;
		f->kind = K_SESSION;
		r = session_get(p, idc, &f->idx);
		if (r < 0)
			return r;
		p->md->sessions[f->idx].defined = true;
		if (!p->md->session_id && !(p->md->session_id = strdup(idc)))
			return -ENOMEM;
		return 0;
	}
	if (strcasecmp(lname, "participant") == 0) {
		const char *sess;
		struct siprec_participant *pa;

		if (!id_attr(atts, ATTR("participant_id", "id"), &id))
			return warn(p, "<participant> without participant_id ignored");
		if (!(idc = str_dup(id)))
			return -ENOMEM;
		f->kind = K_PARTICIPANT;
		r = participant_get(p, idc, &f->idx);
		if (r < 0)
			return r;
		pa = &p->md->participants[f->idx];
		pa->defined = true;
		/* draft-ietf-siprec-metadata before -05: <participant session=> */
		sess = attr_get(atts, ATTR("session_id", "session"));
		if (sess)
			r = set_field(&pa->session_id, sess, strlen(sess));
		return r;
	}
	if (strcasecmp(lname, "stream") == 0) {
		const char *sess, *label;
		struct siprec_stream_md *s;

		if (!id_attr(atts, ATTR("stream_id", "id"), &id))
			return warn(p, "<stream> without stream_id ignored");
		if (!(idc = str_dup(id)))
			return -ENOMEM;
		f->kind = K_STREAM;
		r = stream_get(p, idc, &f->idx);
		if (r < 0)
			return r;
		s = &p->md->streams[f->idx];
		sess = attr_get(atts, ATTR("session_id", "session"));
		if (sess && (r = set_field(&s->session_id, sess, strlen(sess))) < 0)
			return r;
		/* a few SRCs put the label in an attribute */
		label = attr_get(atts, ATTR("label"));
		if (label)
			r = set_field(&s->label, label, strlen(label));
		return r;
	}
	if (strcasecmp(lname, "sessionrecordingassoc") == 0) {
		if (!id_attr(atts, ATTR("session_id", "session"), &id))
			return warn(p, "<sessionrecordingassoc> without session_id ignored");
		if (!(idc = str_dup(id)))
			return -ENOMEM;
		f->kind = K_SRA;
		return session_get(p, idc, &f->idx);
	}
	if (strcasecmp(lname, "participantsessionassoc") == 0) {
		const char *sess;

		if (!id_attr(atts, ATTR("participant_id", "participant"), &id))
			return warn(p, "<participantsessionassoc> without participant_id ignored");
		if (!(idc = str_dup(id)))
			return -ENOMEM;
		f->kind = K_PSESS;
		r = participant_get(p, idc, &f->idx);
		if (r < 0)
			return r;
		sess = attr_get(atts, ATTR("session_id", "session"));
		if (sess)
			r = set_field(&p->md->participants[f->idx].session_id, sess, strlen(sess));
		return r;
	}
	if (strcasecmp(lname, "participantstreamassoc") == 0) {
		if (!id_attr(atts, ATTR("participant_id", "participant"), &id))
			return warn(p, "<participantstreamassoc> without participant_id ignored");
		if (!(idc = str_dup(id)))
			return -ENOMEM;
		f->kind = K_PSA;
		return psa_get(p, idc, &f->idx);
	}
	return 1; /* not an object */
}

static const struct {
	const char *name;
	enum text_field field;
	unsigned parents; /* bit mask of enum kind */
} text_elements[] = {
#define B(k) (1u << (k))
	{"datamode", T_DATAMODE, B(K_ROOT)},
	{"sipSessionID", T_SIP_SESSION_ID, B(K_SESSION)},
	{"group-ref", T_GROUP_REF, B(K_SESSION)},
	{"start-time", T_START, B(K_SESSION) | B(K_PARTICIPANT) | B(K_STREAM)},
	{"stop-time", T_STOP, B(K_SESSION) | B(K_PARTICIPANT) | B(K_STREAM)},
	{"associate-time", T_ASSOC,
	 B(K_GROUP) | B(K_SESSION) | B(K_PARTICIPANT) | B(K_STREAM) | B(K_SRA) | B(K_PSESS) |
		 B(K_PSA)},
	{"disassociate-time", T_DISASSOC,
	 B(K_GROUP) | B(K_SESSION) | B(K_PARTICIPANT) | B(K_STREAM) | B(K_SRA) | B(K_PSESS) |
		 B(K_PSA)},
	{"name", T_NAME, B(K_PARTICIPANT) | B(K_NAMEID)},
	{"aor", T_AOR, B(K_PARTICIPANT)},
	{"send", T_SEND, B(K_PARTICIPANT) | B(K_PSA)},
	{"recv", T_RECV, B(K_PARTICIPANT) | B(K_PSA)},
	{"label", T_LABEL, B(K_STREAM)},
#undef B
};

static bool is_object_kind(enum kind k)
{
	return k == K_ROOT || k == K_GROUP || k == K_SESSION || k == K_PARTICIPANT ||
	       k == K_STREAM || k == K_SRA || k == K_PSESS || k == K_PSA;
}

static const char *kind_name(enum kind k)
{
	switch (k) {
	case K_ROOT:
		return "recording";
	case K_GROUP:
		return "group";
	case K_SESSION:
		return "session";
	case K_PARTICIPANT:
		return "participant";
	case K_STREAM:
		return "stream";
	case K_SRA:
		return "sessionrecordingassoc";
	case K_PSESS:
		return "participantsessionassoc";
	case K_PSA:
		return "participantstreamassoc";
	default:
		return "?";
	}
}

static const char *object_id(struct parser *p, const struct frame *f)
{
	struct siprec_metadata *md = p->md;

	switch (f->kind) {
	case K_GROUP:
		return md->groups[f->idx].id;
	case K_SESSION:
	case K_SRA:
		return md->sessions[f->idx].id;
	case K_PARTICIPANT:
	case K_PSESS:
		return md->participants[f->idx].id;
	case K_STREAM:
		return md->streams[f->idx].id;
	case K_PSA:
		return md->psas[f->idx].participant_id;
	default:
		return NULL;
	}
}

/* Starts capturing an element we do not model (RFC 7865 §6.10 extensions) verbatim. */
static int open_extension(struct parser *p, const char *name, const char **atts,
			  const struct frame *parent, struct frame *f)
{
	struct siprec_metadata *md = p->md;
	struct siprec_extension *e;
	const char *sep = strrchr(name, NS_SEP), *parent_attr;

	if (md->n_extensions >= p->lim->max_extensions)
		return over("extension elements");
	e = siprec_array_push(&md->extensions, &md->n_extensions, sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (!(e->parent = strdup(kind_name(parent->kind))) || !(e->name = strdup(local_name(name))))
		return -ENOMEM;
	if (sep && !(e->ns = str_dup(str_make(name, (size_t)(sep - name)))))
		return -ENOMEM;
	/* Oracle/Acme <extensiondata parent="id"> names its owner itself */
	parent_attr =
		strcasecmp(e->name, "extensiondata") == 0 ? attr_get(atts, ATTR("parent")) : NULL;
	if (parent_attr) {
		if (!(e->parent_id = strdup(parent_attr)))
			return -ENOMEM;
	} else if (object_id(p, parent) && !(e->parent_id = strdup(object_id(p, parent)))) {
		return -ENOMEM;
	}
	f->kind = K_EXTENSION;
	p->ext_depth = p->depth;
	p->ext_start = XML_GetCurrentByteIndex(p->xp);
	p->ext_idx = md->n_extensions - 1;
	return 0;
}

static int check_attrs(struct parser *p, const char **atts)
{
	for (size_t i = 0; atts[i]; i += 2)
		if (strlen(atts[i + 1]) > p->lim->max_attr_len)
			return over("length of an attribute value");
	return 0;
}

static int start_element(struct parser *p, const char *name, const char **atts, struct frame *f)
{
	const struct frame *parent = p->depth >= 2 ? &p->stack[p->depth - 2] : NULL;
	const char *lname = local_name(name);
	bool ours;
	int r;

	f->kind = K_SKIP;
	if (!parent) {
		const char *sep = strrchr(name, NS_SEP);

		/* the pre-RFC document of BroadWorks and Webex Calling is <recording_metadata
		 * xmlns="urn:ietf:params:xml:ns:siprec"> with the same vocabulary of the drafts */
		if (strcasecmp(lname, "recording_metadata") == 0)
			p->md->dialect = "recording_metadata";
		else if (strcasecmp(lname, "recording") == 0)
			p->md->dialect = "rfc7865";
		else
			return warn(p, "root element is <%.32s>, not <recording>: ignored", lname);
		if (!is_recording_ns(p, name)) {
			r = warn(p, "unexpected namespace '%.*s' accepted",
				 (int)MIN(64, sep - name), name);
			if (r < 0)
				return r;
			if (!(p->root_ns = str_dup(str_make(name, (size_t)(sep - name)))))
				return -ENOMEM;
		}
		f->kind = K_ROOT;
		p->root_ok = true;
		return 0;
	}
	/* BroadWorks' <recording_metadata>: <send><id>stream</id></send>, one id per child */
	if (parent->kind == K_TEXT && (parent->field == T_SEND || parent->field == T_RECV) &&
	    strcasecmp(lname, "id") == 0) {
		p->stack[p->depth - 2].nested = true;
		f->kind = K_TEXT;
		f->field = parent->field;
		p->text_len = 0;
		return 0;
	}
	if (parent->kind == K_SKIP || parent->kind == K_EXTENSION || parent->kind == K_TEXT)
		return 0;

	ours = is_recording_ns(p, name);
	if (ours) {
		if (parent->kind == K_ROOT) {
			r = open_object(p, lname, atts, f);
			if (r <= 0)
				return r;
		}
		if (parent->kind == K_PARTICIPANT && strcasecmp(lname, "nameID") == 0) {
			const char *aor = attr_get(atts, ATTR("aor"));

			f->kind = K_NAMEID;
			f->idx = parent->idx;
			if (aor)
				return add_unique(&p->md->participants[parent->idx].aors, aor,
						  strlen(aor), p->lim->max_names);
			return 0;
		}
		for (size_t i = 0; i < ARRAY_SIZE(text_elements); i++) {
			if (strcasecmp(lname, text_elements[i].name) != 0 ||
			    !(text_elements[i].parents & (1u << parent->kind)))
				continue;
			f->kind = K_TEXT;
			f->field = text_elements[i].field;
			p->text_len = 0;
			return 0;
		}
	}
	if (is_object_kind(parent->kind))
		return open_extension(p, name, atts, parent, f);
	return 0;
}

static void on_start(void *userdata, const XML_Char *name, const XML_Char **atts)
{
	struct parser *p = userdata;
	struct frame *f;
	int r;

	if (p->err < 0)
		return;
	if (++p->n_elements > p->lim->max_elements) {
		fail(p, over("elements"));
		return;
	}
	if (p->depth >= p->lim->max_depth) {
		fail(p, over("element nesting"));
		return;
	}
	r = check_attrs(p, atts);
	if (r < 0) {
		fail(p, r);
		return;
	}
	f = &p->stack[p->depth++];
	*f = (struct frame){.kind = K_SKIP};
	r = start_element(p, name, atts, f);
	if (r < 0) {
		fail(p, r);
		return;
	}
	if (p->ext_depth && (f->kind == K_EXTENSION || f->kind == K_SKIP)) {
		const char *ln = local_name(name);

		for (size_t i = 0; i < ARRAY_SIZE(vendor_ids); i++)
			if (strcasecmp(ln, vendor_ids[i].element) == 0) {
				f->vendor_id = (int)i + 1;
				p->vtext_len = 0;
				break;
			}
	}
}

/* The text of a vendor id leaf becomes "name=value" in md->context. */
static int end_vendor_id(struct parser *p, const struct frame *f)
{
	struct siprec_metadata *md = p->md;
	struct str v = str_trim(str_make(p->vtext ? p->vtext : "", p->vtext_len));
	const char *name = vendor_ids[f->vendor_id - 1].name;
	char *kv;
	int r = 0;

	p->vtext_len = 0;
	if (v.len == 0)
		return 0;
	if (asprintf(&kv, "%s=%.*s", name, (int)v.len, v.s) < 0)
		return -ENOMEM;
	if (!siprec_strv_contains(&md->context, kv)) {
		if (md->context.n >= p->lim->max_extensions)
			r = over("extension elements");
		else
			r = siprec_strv_add(&md->context, kv, strlen(kv));
	}
	free(kv);
	return r;
}

static int set_datamode(struct parser *p, const char *t, size_t len)
{
	struct str v = str_trim(str_make(t, len));

	p->seen_datamode = true;
	if (str_caseeq_cstr(v, "complete"))
		p->md->datamode = SIPREC_DATAMODE_COMPLETE;
	else if (str_caseeq_cstr(v, "partial"))
		p->md->datamode = SIPREC_DATAMODE_PARTIAL;
	else
		return warn(p, "unknown datamode '%.*s', assuming complete", (int)MIN(v.len, 32),
			    v.s);
	return 0;
}

/* Stores the text of a leaf element into the object of its parent frame. */
static int end_text(struct parser *p, const struct frame *f, const struct frame *parent)
{
	struct siprec_metadata *md = p->md;
	const char *t = p->text ? p->text : "";
	size_t n = p->text_len, i = parent->idx;
	char **assoc = NULL, **disassoc = NULL;

	switch (parent->kind) {
	case K_GROUP:
		assoc = &md->groups[i].associate_time;
		disassoc = &md->groups[i].disassociate_time;
		break;
	case K_SESSION:
	case K_SRA:
		assoc = &md->sessions[i].associate_time;
		disassoc = &md->sessions[i].disassociate_time;
		break;
	case K_PARTICIPANT:
	case K_PSESS:
	case K_NAMEID:
		assoc = &md->participants[i].associate_time;
		disassoc = &md->participants[i].disassociate_time;
		break;
	case K_STREAM:
		assoc = &md->streams[i].associate_time;
		disassoc = &md->streams[i].disassociate_time;
		break;
	case K_PSA:
		assoc = &md->psas[i].associate_time;
		disassoc = &md->psas[i].disassociate_time;
		break;
	default:
		break;
	}

	switch (f->field) {
	case T_DATAMODE:
		return set_datamode(p, t, n);
	case T_SIP_SESSION_ID:
		return add_unique(&md->sessions[i].sip_session_ids, t, n, p->lim->max_names);
	case T_GROUP_REF:
		return set_field(&md->sessions[i].group_ref, t, n);
	case T_START:
		/* older drafts put start-time/stop-time on participants and streams */
		if (parent->kind == K_SESSION)
			return set_field(&md->sessions[i].start_time, t, n);
		return set_field(assoc, t, n);
	case T_STOP:
		if (parent->kind == K_SESSION)
			return set_field(&md->sessions[i].stop_time, t, n);
		return set_field(disassoc, t, n);
	case T_ASSOC:
		return set_field(assoc, t, n);
	case T_DISASSOC:
		return set_field(disassoc, t, n);
	case T_NAME:
		return add_unique(&md->participants[i].names, t, n, p->lim->max_names);
	case T_AOR:
		return add_unique(&md->participants[i].aors, t, n, p->lim->max_names);
	case T_SEND:
	case T_RECV: {
		/* older drafts: <send>/<recv> directly in <participant> */
		const char *pid =
			parent->kind == K_PSA ? md->psas[i].participant_id : md->participants[i].id;
		size_t ai = i;
		int r;

		if (parent->kind != K_PSA) {
			r = psa_get(p, pid, &ai);
			if (r < 0)
				return r;
		}
		return add_unique(f->field == T_SEND ? &md->psas[ai].send : &md->psas[ai].recv, t,
				  n, p->lim->max_streams);
	}
	case T_LABEL:
		return set_field(&md->streams[i].label, t, n);
	}
	return 0;
}

static int end_extension(struct parser *p)
{
	struct siprec_extension *e = &p->md->extensions[p->ext_idx];
	XML_Index end = XML_GetCurrentByteIndex(p->xp) + XML_GetCurrentByteCount(p->xp);

	p->ext_depth = 0;
	if (p->ext_start < 0 || end < p->ext_start || (size_t)end > p->input_len)
		return -EBADMSG;
	e->xml = str_dup(str_make(p->input + p->ext_start, (size_t)(end - p->ext_start)));
	return e->xml ? 0 : -ENOMEM;
}

static void on_end(void *userdata, const XML_Char *name)
{
	struct parser *p = userdata;
	struct frame *f;
	int r = 0;

	/* after XML_StopParser expat may still report the end of an empty element whose
	 * start we refused (and never pushed) */
	if (p->err < 0 || p->depth == 0)
		return;
	f = &p->stack[p->depth - 1];
	if (f->vendor_id)
		r = end_vendor_id(p, f);
	if (r < 0) {
		fail(p, r);
		return;
	}
	if (f->kind == K_TEXT && f->nested)
		p->text_len = 0; /* its ids were stored by its <id> children */
	else if (f->kind == K_TEXT && p->stack[p->depth - 2].kind == K_TEXT)
		r = end_text(p, f, &p->stack[p->depth - 3]); /* <id> inside <send>/<recv> */
	else if (f->kind == K_TEXT)
		r = end_text(p, f, &p->stack[p->depth - 2]);
	else if (f->kind == K_EXTENSION && p->ext_depth == p->depth)
		r = end_extension(p);
	p->depth--;
	if (r < 0)
		fail(p, r);
}

static void on_text(void *userdata, const XML_Char *s, int len)
{
	struct parser *p = userdata;
	char *n;

	if (p->err < 0 || p->depth == 0 || len <= 0)
		return;
	if (p->stack[p->depth - 1].vendor_id) {
		if (p->vtext_len + (size_t)len > p->lim->max_text_len) {
			fail(p, over("length of an element's text"));
			return;
		}
		if (!p->vtext && !(p->vtext = malloc(p->lim->max_text_len + 1))) {
			fail(p, -ENOMEM);
			return;
		}
		memcpy(p->vtext + p->vtext_len, s, (size_t)len);
		p->vtext_len += (size_t)len;
		return;
	}
	if (p->stack[p->depth - 1].kind != K_TEXT)
		return;
	if (p->text_len + (size_t)len > p->lim->max_text_len) {
		fail(p, over("length of an element's text"));
		return;
	}
	if (!p->text) {
		/* one buffer of the largest size for every leaf */
		n = malloc(p->lim->max_text_len + 1);
		if (!n) {
			fail(p, -ENOMEM);
			return;
		}
		p->text = n;
	}
	memcpy(p->text + p->text_len, s, (size_t)len);
	p->text_len += (size_t)len;
}

/* A DOCTYPE could declare entities (expansion bombs, external entities): refuse them all. */
static void on_doctype(void *userdata, const XML_Char *name, const XML_Char *sysid,
		       const XML_Char *pubid, int has_internal_subset)
{
	fail(userdata, -EBADMSG);
}

static void on_entity_decl(void *userdata, const XML_Char *name, int is_param,
			   const XML_Char *value, int value_len, const XML_Char *base,
			   const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	fail(userdata, -EBADMSG);
}

/*
 * Expat reads UTF-8, UTF-16, ISO-8859-1 and US-ASCII by itself; SRCs also declare the single-byte
 * code pages of their platform (windows-1252, ISO-8859-15). For those, iconv tells what each
 * byte is (XML_SetUnknownEncodingHandler's map); a byte the code page leaves undefined is -1, an
 * error if it occurs. Multi-byte encodings, and any that does not keep ASCII's letters and
 * markup characters where ASCII has them (expat's condition: EBCDIC), stay unsupported, so the
 * document is not well-formed as before.
 */
static int on_unknown_encoding(void *data, const XML_Char *name, XML_Encoding *info)
{
	iconv_t cd;
	int ok = XML_STATUS_ERROR;

	(void)data;
	cd = iconv_open("UTF-32LE", name);
	if (cd == (iconv_t)-1)
		return XML_STATUS_ERROR;
	for (int b = 0; b < 256; b++) {
		char in = (char)b, *ip = &in;
		unsigned char out[8];
		char *op = (char *)out;
		size_t il = 1, ol = sizeof(out);

		iconv(cd, NULL, NULL, NULL, NULL);
		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
			if (errno != EILSEQ)
				goto out; /* EINVAL: a lead byte, a multi-byte encoding */
			info->map[b] = -1;
		} else if (ol != sizeof(out) - 4) {
			goto out; /* a shift sequence or several characters */
		} else {
			info->map[b] =
				(int)(out[0] | out[1] << 8 | out[2] << 16 | (unsigned)out[3] << 24);
		}
		if (b >= 0x20 && b < 0x7f && info->map[b] != b && !strchr("$@\\^'{}~", b))
			goto out;
	}
	info->data = NULL;
	info->convert = NULL;
	info->release = NULL;
	ok = XML_STATUS_OK;
out:
	iconv_close(cd);
	return ok;
}

/* Why the last parse on this thread was not well-formed (expat's words and the line). */
static __thread char last_xml_error[128];

/*
 * One expat parser per thread, reset between documents: creating one allocates its hash
 * tables, tag stack and input buffer (~20 blocks) that XML_ParserReset keeps for the next
 * document (a SIPREC INVITE's metadata costs a third fewer instructions). A reset parser is
 * a new one to expat (handlers, user data, parameter entity parsing, accounting and hash salt
 * are all set anew); what it keeps is memory, at most the largest document parsed
 * (max_body_size). Freed when the thread ends.
 */
static pthread_key_t parser_key;
static pthread_once_t parser_once = PTHREAD_ONCE_INIT;
static int parser_key_err;

static void parser_destroy(void *xp)
{
	XML_ParserFree(xp);
}

static void parser_key_init(void)
{
	parser_key_err = -pthread_key_create(&parser_key, parser_destroy);
}

/* This thread's parser, reset; NULL when none can be made (out of memory). */
static XML_Parser parser_get(void)
{
	XML_Parser xp;

	pthread_once(&parser_once, parser_key_init);
	if (parser_key_err < 0)
		return XML_ParserCreateNS(NULL, NS_SEP);
	xp = pthread_getspecific(parser_key);
	if (xp && XML_ParserReset(xp, NULL))
		return xp;
	if (xp) {
		pthread_setspecific(parser_key, NULL);
		XML_ParserFree(xp);
	}
	xp = XML_ParserCreateNS(NULL, NS_SEP);
	if (xp && pthread_setspecific(parser_key, xp) != 0) {
		XML_ParserFree(xp);
		xp = NULL;
	}
	return xp;
}

/* Gives the parser back: kept for the next document unless this thread could not keep one. */
static void parser_put(XML_Parser xp)
{
	if (parser_key_err < 0 || pthread_getspecific(parser_key) != xp)
		XML_ParserFree(xp);
}

int siprec_metadata_parse(const char *xml, size_t len, const struct siprec_limits *lim,
			  struct siprec_metadata **ret)
{
	struct siprec_limits def = SIPREC_LIMITS_DEFAULT;
	struct parser p = {.input = xml, .input_len = len};
	struct siprec_metadata *md;
	enum XML_Status st;
	int r;

	if (!lim)
		lim = &def;
	limit_hit = NULL;
	if (len > lim->max_body_size || len > INT_MAX)
		return over("size (MAX_METADATA_SIZE)");
	if (lim->max_depth == 0)
		return over("element nesting");

	md = calloc(1, sizeof(*md));
	if (!md)
		return -ENOMEM;
	md->lim = *lim;
	p.lim = &md->lim;
	p.md = md;
	p.stack = calloc(lim->max_depth, sizeof(*p.stack));
	p.xp = parser_get();
	if (!p.stack || !p.xp) {
		r = -ENOMEM;
		goto out;
	}
	XML_SetUserData(p.xp, &p);
	XML_SetElementHandler(p.xp, on_start, on_end);
	XML_SetCharacterDataHandler(p.xp, on_text);
	XML_SetStartDoctypeDeclHandler(p.xp, on_doctype);
	XML_SetEntityDeclHandler(p.xp, on_entity_decl);
	XML_SetUnknownEncodingHandler(p.xp, on_unknown_encoding, NULL);
	if (!XML_SetParamEntityParsing(p.xp, XML_PARAM_ENTITY_PARSING_NEVER)) {
		r = -EIO;
		goto out;
	}

	st = XML_Parse(p.xp, xml ? xml : "", (int)len, XML_TRUE);
	if (p.err < 0) {
		r = p.err;
		goto out;
	}
	if (st != XML_STATUS_OK) {
		enum XML_Error e = XML_GetErrorCode(p.xp);

		snprintf(last_xml_error, sizeof(last_xml_error), "%s at line %lu",
			 XML_ErrorString(e), (unsigned long)XML_GetCurrentLineNumber(p.xp));
		log_debug("rs-metadata: %s", last_xml_error);
		r = e == XML_ERROR_NO_MEMORY ? -ENOMEM : -EBADMSG;
		goto out;
	}

	if (p.root_ok && !p.seen_datamode &&
	    (r = siprec_md_warn(md, "no <datamode>, assuming complete")) < 0)
		goto out;
	if (p.root_ok && md->datamode == SIPREC_DATAMODE_COMPLETE &&
	    (r = siprec_md_validate(md)) < 0)
		goto out;
	*ret = TAKE_PTR(md);
	r = 0;
out:
	if (p.xp)
		parser_put(p.xp);
	free(p.stack);
	free(p.text);
	free(p.vtext);
	free(p.root_ns);
	siprec_metadata_free(md);
	return r;
}

/* An '&' that starts "&name;" or "&#digits;" / "&#xhex;" is a reference; any other is stray
 * (a vendor writing "AT&T" in a name). */
static bool amp_is_reference(const char *s, size_t len)
{
	size_t i = 1;

	if (i < len && s[i] == '#') {
		i++;
		if (i < len && (s[i] == 'x' || s[i] == 'X'))
			i++;
	}
	for (size_t start = i; i < len && i < 40; i++) {
		char c = s[i];

		if (c == ';')
			return i > start;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return false;
}

/*
 * The repairs of the lenient pass, in one scan: a stray '&' becomes "&amp;", and an attribute
 * value without quotes inside a start tag (Oracle/Acme's <apkt:header label=P-Asserted-Identity>)
 * gets double quotes. Comments, CDATA, processing instructions and quoted values are copied as
 * they are. out holds at least 5 * len + 1 bytes. Returns the output length.
 */
static size_t repair(const char *in, size_t len, char *out, size_t *ret_amp, size_t *ret_attr)
{
	size_t n = 0, amp = 0, attr = 0;
	bool in_tag = false;
	char quote = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (!in_tag && c == '<' && i + 1 < len && in[i + 1] != '!' && in[i + 1] != '?' &&
		    in[i + 1] != '/') {
			in_tag = true;
		} else if (!in_tag && c == '<' && i + 3 < len && memcmp(in + i, "<!--", 4) == 0) {
			const char *end = memmem(in + i, len - i, "-->", 3);
			size_t k = end ? (size_t)(end - (in + i)) + 3 : len - i;

			memcpy(out + n, in + i, k);
			n += k;
			i += k - 1;
			continue;
		} else if (in_tag && quote) {
			if (c == quote)
				quote = 0;
		} else if (in_tag && (c == '"' || c == '\'')) {
			quote = c;
		} else if (in_tag && c == '>') {
			in_tag = false;
		} else if (in_tag && c == '=') {
			size_t j = i + 1, k;

			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && in[j] != '"' && in[j] != '\'' && in[j] != '>') {
				k = j;
				while (k < len && !strchr(" \t\r\n>", in[k]) &&
				       !(in[k] == '/' && k + 1 < len && in[k + 1] == '>'))
					k++;
				out[n++] = '=';
				out[n++] = '"';
				for (size_t m = j; m < k; m++) {
					if (in[m] == '"') {
						memcpy(out + n, "&quot;", 6);
						n += 6;
					} else {
						out[n++] = in[m];
					}
				}
				out[n++] = '"';
				attr++;
				i = k - 1;
				continue;
			}
		}
		out[n++] = c;
		if (c == '&' && !amp_is_reference(in + i, len - i)) {
			memcpy(out + n, "amp;", 4);
			n += 4;
			amp++;
		}
	}
	*ret_amp = amp;
	*ret_attr = attr;
	return n;
}

int siprec_metadata_parse_lenient(const char *xml, size_t len, const struct siprec_limits *lim,
				  struct siprec_metadata **ret)
{
	struct siprec_limits l = lim ? *lim : SIPREC_LIMITS_DEFAULT;
	struct siprec_metadata *md = NULL;
	char why[sizeof(last_xml_error)], what[96];
	size_t amp = 0, attr = 0, n;
	char *fixed;
	int r;

	r = siprec_metadata_parse(xml, len, &l, &md);
	if (r != -EBADMSG) {
		if (r == 0)
			*ret = md;
		return r;
	}
	snprintf(why, sizeof(why), "%s", last_xml_error[0] ? last_xml_error : "DOCTYPE refused");
	/* worst case: every byte an '&' (5 bytes) or a quoted '"' (6 + 2 quotes per value) */
	fixed = malloc(len * 8 + 1);
	if (!fixed)
		return -ENOMEM;
	n = repair(xml, len, fixed, &amp, &attr);
	if (amp || attr) {
		l.max_body_size = MAX(l.max_body_size, n);
		r = siprec_metadata_parse(fixed, n, &l, &md);
		free(fixed);
		if (r == 0) {
			if (amp && attr)
				snprintf(what, sizeof(what),
					 "escaping %zu stray '&' and quoting %zu attribute values",
					 amp, attr);
			else if (amp)
				snprintf(what, sizeof(what), "escaping %zu stray '&'", amp);
			else
				snprintf(what, sizeof(what), "quoting %zu attribute values", attr);
			r = siprec_md_warn(md, "not well-formed (%s): recovered by %s", why, what);
			if (r < 0) {
				siprec_metadata_free(md);
				return r;
			}
			*ret = md;
			return 0;
		}
		if (r != -EBADMSG)
			return r;
	} else {
		free(fixed);
	}
	md = calloc(1, sizeof(*md));
	if (!md)
		return -ENOMEM;
	md->lim = l;
	md->dialect = "unparsed";
	r = siprec_md_warn(md, "not well-formed (%s): nothing recovered, raw document kept", why);
	if (r < 0) {
		siprec_metadata_free(md);
		return r;
	}
	*ret = md;
	return 0;
}
