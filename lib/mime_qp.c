/*
 * mime_qp.c: 8-bit to 7-bit MIME downgrade for SMTP servers without
 * 8BITMIME (RFC 6152 3: the client converts the message or returns it),
 * in two passes over the message lines: a scan that records, per MIME
 * entity (RFC 2045 2.4; multipart per RFC 2046 5.1, message/rfc822 per
 * RFC 2046 5.2.1), its kind, its Content-Transfer-Encoding and whether
 * its body holds 8-bit bytes; then a conversion that encodes such leaf
 * bodies as quoted-printable (RFC 2045 6.7) and rewrites or adds the
 * Content-Transfer-Encoding field, and marks containers declared 8bit or
 * binary as 7bit (RFC 2045 6.4: a multipart or message/rfc822 entity may
 * only be 7bit, 8bit or binary). Base64 and quoted-printable bodies are
 * already 7-bit and pass unchanged; so do headers.
 * Owns struct mime_qp.
 * SECURITY: the message is untrusted input: header fields are parsed
 * only up to MIME_QP_FIELD_MAX bytes, boundaries up to RFC 2046's 70
 * characters, multipart nesting up to MIME_QP_MAX_DEPTH (deeper parts
 * pass unchanged) and at most MIME_QP_MAX_ENTITIES entities are tracked
 * (the rest pass unchanged). Memory use is bounded by these constants.
 */
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "mime_qp.h"

/* RFC 2046 5.1.1: boundaries are 1 to 70 characters. */
#define MIME_QP_BOUNDARY_MAX 70

/* Per-entity facts from the scan. */
#define ENT_LEAF 0x01 /* a body of its own (not multipart/message) */
#define ENT_PLAIN_CTE 0x02 /* none, 7bit, 8bit or binary */
#define ENT_8BIT 0x04 /* its body holds 8-bit (or NUL) bytes */
#define ENT_CONTAINER 0x08 /* multipart or message/rfc822 */
#define ENT_8BIT_CTE 0x10 /* declared 8bit or binary */

enum mime_ctype { CT_TEXT, CT_MULTIPART, CT_MESSAGE, CT_OTHER };
enum mime_cte {
	CTE_NONE,
	CTE_7BIT,
	CTE_8BIT,
	CTE_BINARY,
	CTE_QP,
	CTE_BASE64,
	CTE_OTHER
};
enum mime_state { MQ_HEADERS, MQ_BODY };

struct mime_frame {
	char boundary[MIME_QP_BOUNDARY_MAX + 1];
	size_t len;
	bool digest; /* multipart/digest: parts default to message/rfc822 */
};

struct mime_qp {
	bool converting; /* pass 2 */
	enum mime_state state;
	bool leaf_body; /* in MQ_BODY: a leaf's body (else preamble or
			  * epilogue of a multipart) */
	int entity; /* index of the current entity */
	int next_entity;
	unsigned char ent[MIME_QP_MAX_ENTITIES];
	/* The current entity's header section. */
	struct buf *field; /* the header field being read, unfolded */
	bool field_open;
	bool skip_cont; /* pass 2: dropping the continuation lines of a
			 * replaced field */
	enum mime_ctype ctype;
	char boundary[MIME_QP_BOUNDARY_MAX + 1];
	size_t boundary_len;
	enum mime_cte cte;
	bool top;
	bool seen_mime_version;
	bool default_message; /* in a multipart/digest */
	struct mime_frame stack[MIME_QP_MAX_DEPTH];
	int depth;
	bool any8bit, hdr8bit;
};

static void mime_qp_start_entity(struct mime_qp *m, bool top,
                                 bool default_message)
{
	m->state = MQ_HEADERS;
	m->leaf_body = false;
	m->entity = m->next_entity < MIME_QP_MAX_ENTITIES ? m->next_entity : -1;
	if (m->next_entity <= MIME_QP_MAX_ENTITIES)
		m->next_entity++;
	buf_reset(m->field);
	m->field_open = false;
	m->skip_cont = false;
	m->ctype = default_message ? CT_MESSAGE : CT_TEXT;
	m->boundary_len = 0;
	m->cte = CTE_NONE;
	m->top = top;
	m->seen_mime_version = false;
	m->default_message = default_message;
}

static void mime_qp_restart(struct mime_qp *m)
{
	m->depth = 0;
	m->next_entity = 0;
	mime_qp_start_entity(m, true, false);
}

struct mime_qp *mime_qp_create(void)
{
	struct mime_qp *m = mem_zalloc(sizeof(*m));

	m->field = buf_create(256, MIME_QP_FIELD_MAX);
	mime_qp_restart(m);
	return m;
}

void mime_qp_destroy(struct mime_qp **mp)
{
	if (*mp == NULL)
		return;
	buf_destroy(&(*mp)->field);
	mem_free(*mp);
	*mp = NULL;
}

bool mime_qp_has_8bit(const struct mime_qp *m)
{
	return m->any8bit;
}

bool mime_qp_headers_8bit(const struct mime_qp *m)
{
	return m->hdr8bit;
}

static bool mime_qp_8bit(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80 || p[i] == '\0')
			return true;
	return false;
}

/* Length of the field name if line starts a header field ("Name:"),
 * else 0. */
static size_t mime_qp_field_name(const char *line, size_t len)
{
	size_t i = 0, name;

	while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
		i++;
	name = i;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (name == 0 || i >= len || line[i] != ':')
		return 0;
	return name;
}

static bool mime_qp_is_field(const char *field, size_t len, const char *name)
{
	size_t nl = strlen(name);

	return mime_qp_field_name(field, len) == nl &&
	       strncasecmp(field, name, nl) == 0;
}

/* The value of a field (after the colon, leading white space skipped). */
static const char *mime_qp_value(const char *field, size_t len, size_t *vlen)
{
	const char *colon = memchr(field, ':', len);
	const char *p = colon ? colon + 1 : field + len;
	const char *end = field + len;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*vlen = (size_t)(end - p);
	return p;
}

/* A token at p (RFC 2045 5.1), lowercased into out; returns its end. */
static const char *mime_qp_token(const char *p, const char *end, char *out,
                                 size_t outlen)
{
	size_t n = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (p<end && * p> 32 && *p < 127 &&
	       !strchr("()<>@,;:\\\"/[]?=", *p)) {
		if (n + 1 < outlen) {
			char c = *p;

			out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		p++;
	}
	out[n] = '\0';
	return p;
}

static void mime_qp_parse_ctype(struct mime_qp *m, const char *v, size_t len)
{
	const char *p = v, *end = v + len;
	char type[32], sub[64];

	p = mime_qp_token(p, end, type, sizeof(type));
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p != '/')
		return; /* unparsable: keep the default (RFC 2045 5.2) */
	p = mime_qp_token(p + 1, end, sub, sizeof(sub));
	if (strcmp(type, "multipart") == 0)
		m->ctype = CT_MULTIPART;
	else if (strcmp(type, "message") == 0 && strcmp(sub, "rfc822") == 0)
		m->ctype = CT_MESSAGE;
	else if (strcmp(type, "text") == 0)
		m->ctype = CT_TEXT;
	else
		m->ctype = CT_OTHER;
	if (m->ctype == CT_MULTIPART && strcmp(sub, "digest") == 0)
		m->default_message = true; /* for its parts, see push */
	else
		m->default_message = false;
	/* Parameters: ; name=value or ; name="quoted". */
	while (p < end) {
		char name[32], val[MIME_QP_BOUNDARY_MAX + 2];
		size_t n = 0;
		bool bad = false;

		while (p < end && *p != ';')
			p++;
		if (p >= end)
			break;
		p = mime_qp_token(p + 1, end, name, sizeof(name));
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || *p != '=')
			continue;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (n + 1 < sizeof(val))
					val[n++] = *p;
				else
					bad = true;
			}
			if (p < end)
				p++;
		} else {
			while (p < end && *p != ';' && *p != ' ' &&
			       *p != '\t') {
				if (n + 1 < sizeof(val))
					val[n++] = *p;
				else
					bad = true;
				p++;
			}
		}
		val[n] = '\0';
		if (strcmp(name, "boundary") == 0 && !bad && n > 0 &&
		    n <= MIME_QP_BOUNDARY_MAX) {
			memcpy(m->boundary, val, n + 1);
			m->boundary_len = n;
		}
	}
}

static void mime_qp_parse_cte(struct mime_qp *m, const char *v, size_t len)
{
	char tok[32];

	mime_qp_token(v, v + len, tok, sizeof(tok));
	if (strcmp(tok, "7bit") == 0)
		m->cte = CTE_7BIT;
	else if (strcmp(tok, "8bit") == 0)
		m->cte = CTE_8BIT;
	else if (strcmp(tok, "binary") == 0)
		m->cte = CTE_BINARY;
	else if (strcmp(tok, "quoted-printable") == 0)
		m->cte = CTE_QP;
	else if (strcmp(tok, "base64") == 0)
		m->cte = CTE_BASE64;
	else
		m->cte = CTE_OTHER;
}

/* A whole header field was read: note what matters. */
static void mime_qp_end_field(struct mime_qp *m)
{
	const char *f = buf_str(m->field), *v;
	size_t len = buf_len(m->field), vlen;

	if (!m->field_open)
		return;
	m->field_open = false;
	v = mime_qp_value(f, len, &vlen);
	if (mime_qp_is_field(f, len, "Content-Type"))
		mime_qp_parse_ctype(m, v, vlen);
	else if (mime_qp_is_field(f, len, "Content-Transfer-Encoding"))
		mime_qp_parse_cte(m, v, vlen);
	else if (mime_qp_is_field(f, len, "MIME-Version"))
		m->seen_mime_version = true;
}

/* Flags of the current entity (0 when untracked). */
static unsigned mime_qp_flags(const struct mime_qp *m)
{
	return m->entity >= 0 ? m->ent[m->entity] : 0;
}

static bool mime_qp_encode_this(const struct mime_qp *m)
{
	unsigned f = mime_qp_flags(m);

	return (f & (ENT_LEAF | ENT_PLAIN_CTE | ENT_8BIT)) ==
	       (ENT_LEAF | ENT_PLAIN_CTE | ENT_8BIT);
}

static bool mime_qp_seven_this(const struct mime_qp *m)
{
	unsigned f = mime_qp_flags(m);

	return (f & (ENT_CONTAINER | ENT_8BIT_CTE)) ==
	       (ENT_CONTAINER | ENT_8BIT_CTE);
}

/* The header section ended (blank line, or a line that is no header:
 * then blank is false). Decide how the body is read. */
static void mime_qp_end_headers(struct mime_qp *m, bool blank, struct buf *out)
{
	unsigned flags = 0;

	mime_qp_end_field(m);
	if (m->converting && out != NULL) {
		/* Add what the body's new encoding needs. */
		if (mime_qp_encode_this(m) && m->cte == CTE_NONE) {
			if (m->top && !m->seen_mime_version)
				buf_append_str(out, "MIME-Version: 1.0\n");
			buf_append_str(out, "Content-Transfer-Encoding: "
			                    "quoted-printable\n");
		}
		if (blank || mime_qp_encode_this(m))
			buf_append_str(out, "\n");
	}
	if (m->cte == CTE_8BIT || m->cte == CTE_BINARY)
		flags |= ENT_8BIT_CTE;
	if (m->ctype == CT_MULTIPART && m->boundary_len > 0 &&
	    m->depth < MIME_QP_MAX_DEPTH) {
		struct mime_frame *fr = &m->stack[m->depth++];

		memcpy(fr->boundary, m->boundary, m->boundary_len + 1);
		fr->len = m->boundary_len;
		fr->digest = m->default_message;
		flags |= ENT_CONTAINER;
		if (!m->converting && m->entity >= 0)
			m->ent[m->entity] |= (unsigned char)flags;
		m->state = MQ_BODY;
		m->leaf_body = false;
		return;
	}
	if (m->ctype == CT_MESSAGE) {
		flags |= ENT_CONTAINER;
		if (!m->converting && m->entity >= 0)
			m->ent[m->entity] |= (unsigned char)flags;
		/* RFC 2046 5.2.1: the body is a message of its own. */
		mime_qp_start_entity(m, false, false);
		return;
	}
	if (m->ctype != CT_MULTIPART &&
	    (m->cte == CTE_NONE || m->cte == CTE_7BIT || m->cte == CTE_8BIT ||
	     m->cte == CTE_BINARY))
		flags |= ENT_PLAIN_CTE;
	/* A multipart without a usable boundary, or nested too deep, is an
	 * opaque leaf that is never encoded (ENT_PLAIN_CTE unset). */
	flags |= ENT_LEAF;
	if (!m->converting && m->entity >= 0)
		m->ent[m->entity] |= (unsigned char)flags;
	m->state = MQ_BODY;
	m->leaf_body = true;
}

/* Is line a boundary of an open multipart? Sets *level and *close. */
static bool mime_qp_boundary(const struct mime_qp *m, const char *line,
                             size_t len, int *level, bool *close)
{
	if (m->depth == 0 || len < 3 || line[0] != '-' || line[1] != '-')
		return false;
	/* RFC 2046 5.1.1: transport padding (white space) may follow. */
	while (len > 2 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	for (int i = m->depth - 1; i >= 0; i--) {
		const struct mime_frame *fr = &m->stack[i];

		if (len < 2 + fr->len ||
		    memcmp(line + 2, fr->boundary, fr->len) != 0)
			continue;
		if (len == 2 + fr->len) {
			*level = i;
			*close = false;
			return true;
		}
		if (len == 4 + fr->len && line[2 + fr->len] == '-' &&
		    line[3 + fr->len] == '-') {
			*level = i;
			*close = true;
			return true;
		}
	}
	return false;
}

static void mime_qp_emit(struct buf *out, const char *line, size_t len)
{
	if (out == NULL)
		return;
	buf_append(out, line, len);
	buf_append_char(out, '\n');
}

/* One line through the parser; out is NULL in pass 1. */
static void mime_qp_line(struct mime_qp *m, const char *line, size_t len,
                         struct buf *out)
{
	if (m->state == MQ_HEADERS) {
		size_t name;

		if (len == 0 || (len == 1 && line[0] == '\r')) {
			mime_qp_end_headers(m, true, out);
			return;
		}
		if (mime_qp_8bit(line, len)) {
			m->hdr8bit = true;
			m->any8bit = true;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (m->field_open)
				(void)buf_append(m->field, line, len);
			if (!m->skip_cont)
				mime_qp_emit(out, line, len);
			return;
		}
		name = mime_qp_field_name(line, len);
		if (name > 0) {
			mime_qp_end_field(m);
			buf_reset(m->field);
			/* A field longer than the cap is cut: enough for the
			 * values that matter here. */
			(void)buf_append(
			    m->field, line,
			    len < MIME_QP_FIELD_MAX ? len : MIME_QP_FIELD_MAX);
			m->field_open = true;
			m->skip_cont = false;
			if (out != NULL &&
			    mime_qp_is_field(line, len,
			                     "Content-Transfer-Encoding")) {
				if (mime_qp_encode_this(m)) {
					buf_append_str(out,
					               "Content-Transfer-"
					               "Encoding: "
					               "quoted-printable\n");
					m->skip_cont = true;
					return;
				}
				if (mime_qp_seven_this(m)) {
					buf_append_str(out, "Content-Transfer-"
					                    "Encoding: 7bit\n");
					m->skip_cont = true;
					return;
				}
			}
			mime_qp_emit(out, line, len);
			return;
		}
		/* Not a header line: the header section ended without its
		 * blank line; this line is the first of the body. */
		mime_qp_end_headers(m, false, out);
		/* fall through to the body handling */
	}
	{
		int level;
		bool close;

		if (mime_qp_boundary(m, line, len, &level, &close)) {
			bool digest = m->stack[level].digest;

			mime_qp_emit(out, line, len);
			if (close) {
				/* The multipart ends; what follows is its
				 * epilogue (then the parent's body). */
				m->depth = level;
				m->state = MQ_BODY;
				m->leaf_body = false;
			} else {
				m->depth = level + 1;
				mime_qp_start_entity(m, false, digest);
			}
			return;
		}
	}
	if (!m->converting) {
		if (mime_qp_8bit(line, len)) {
			m->any8bit = true;
			if (m->leaf_body && m->entity >= 0)
				m->ent[m->entity] |= ENT_8BIT;
		}
		return;
	}
	if (m->leaf_body && mime_qp_encode_this(m))
		mime_qp_encode_line(line, len, out);
	else
		mime_qp_emit(out, line, len);
}

void mime_qp_scan(struct mime_qp *m, const char *line, size_t len)
{
	if (m->converting)
		return;
	mime_qp_line(m, line, len, NULL);
}

void mime_qp_convert(struct mime_qp *m, const char *line, size_t len,
                     struct buf *out)
{
	if (!m->converting) {
		m->converting = true;
		mime_qp_restart(m);
	}
	mime_qp_line(m, line, len, out);
}

void mime_qp_encode_line(const char *line, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		char enc[3];
		size_t n;
		bool last = i + 1 == len;

		/* RFC 2045 6.7 (2): printable ASCII but '=' is literal;
		 * (3): SP and TAB are literal except at the end of a line. */
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !last)) {
			enc[0] = (char)c;
			n = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			n = 3;
		}
		/* (5): at most 76 characters, the soft break "=" included;
		 * the last chunk of the line may use the whole 76. */
		if (col + n > MIME_QP_LINE_MAX - 1 &&
		    !(last && col + n <= MIME_QP_LINE_MAX)) {
			buf_append_str(out, "=\n");
			col = 0;
		}
		buf_append(out, enc, n);
		col += n;
	}
	buf_append_char(out, '\n');
}
