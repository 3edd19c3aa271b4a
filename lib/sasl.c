/*
 * sasl.c: SASL PLAIN and LOGIN exchanges (sasl.h), server and client
 * side, pure (no I/O, no logging). Owns struct sasl_server: the exchange
 * state and the credentials once complete.
 * RFC 4954 4 (AUTH: initial response, "=" for an empty one, "*" cancel,
 * 12288-octet lines, base64 per RFC 4648 4); RFC 4616 2 (PLAIN message:
 * [authzid] NUL authcid NUL passwd); LOGIN (draft-murchison-sasl-login:
 * "Username:" and "Password:" challenges).
 * SECURITY: every server input is client data: lines longer than
 * SASL_LINE_MAX are refused before decoding; base64 is decoded strictly
 * into a buffer sized once (no reallocation leaves copies behind);
 * identities are bounded (SASL_AUTHCID_MAX) and may not hold NUL, control
 * characters or white space (they reach log lines); passwords are bounded
 * (SASL_PASSWD_MAX), may not hold NUL, and every buffer that held clear
 * text is wiped with explicit_bzero. Error reasons are static texts,
 * never the client's data.
 */
#include "sasl.h"

#include <string.h>
#include <strings.h>

#include "base64.h"
#include "mem.h"

/* The decoded size of a SASL_LINE_MAX line, plus slack for the NUL. */
#define SASL_DECODED_MAX (SASL_LINE_MAX / 4 * 3 + 4)

/* The LOGIN challenges: base64 of "Username:" and "Password:". */
#define SASL_LOGIN_USER "VXNlcm5hbWU6"
#define SASL_LOGIN_PASS "UGFzc3dvcmQ6"

enum sasl_server_state {
	SASL_S_START, /* sasl_server_start not called yet */
	SASL_S_PLAIN, /* sent the empty PLAIN challenge */
	SASL_S_LOGIN_USER, /* sent "Username:" */
	SASL_S_LOGIN_PASS, /* sent "Password:" */
	SASL_S_OVER, /* done, cancelled or failed */
};

struct sasl_server {
	enum sasl_mech mech;
	enum sasl_server_state state;
	bool done;
	const char *why;
	char authcid[SASL_AUTHCID_MAX + 1];
	char passwd[SASL_PASSWD_MAX + 1];
	size_t plen;
	struct buf *decoded; /* sized once: SASL_DECODED_MAX */
};

void sasl_buf_wipe(struct buf *b)
{
	if (b == NULL)
		return;
	/* buf_str always has a NUL after the contents: wipe that too. */
	explicit_bzero(buf_data(b), buf_len(b));
	buf_reset(b);
}

int sasl_mech_parse(const char *name, size_t len, enum sasl_mech *out)
{
	if (len == 5 && strncasecmp(name, "PLAIN", 5) == 0) {
		*out = SASL_MECH_PLAIN;
		return 0;
	}
	if (len == 5 && strncasecmp(name, "LOGIN", 5) == 0) {
		*out = SASL_MECH_LOGIN;
		return 0;
	}
	return -1;
}

const char *sasl_mech_name(enum sasl_mech m)
{
	return m == SASL_MECH_PLAIN ? "PLAIN" : "LOGIN";
}

struct sasl_server *sasl_server_create(enum sasl_mech m)
{
	struct sasl_server *s = mem_zalloc(sizeof(*s));

	s->mech = m;
	s->state = SASL_S_START;
	s->decoded = buf_create(SASL_DECODED_MAX, SASL_DECODED_MAX);
	return s;
}

void sasl_server_destroy(struct sasl_server **sp)
{
	struct sasl_server *s = *sp;

	if (s == NULL)
		return;
	sasl_buf_wipe(s->decoded);
	buf_destroy(&s->decoded);
	explicit_bzero(s, sizeof(*s));
	mem_free(s);
	*sp = NULL;
}

/* Is an identity byte acceptable? Not NUL, control, DEL or white space:
 * login names are addresses and are logged. */
static bool sasl_id_byte_ok(unsigned char ch)
{
	return ch > 0x20 && ch != 0x7f;
}

/* Copy an identity of len bytes into dst (SASL_AUTHCID_MAX + 1). */
static int sasl_id_copy(char *dst, const char *src, size_t len,
                        const char **why)
{
	if (len == 0) {
		*why = "empty authentication identity";
		return -1;
	}
	if (len > SASL_AUTHCID_MAX) {
		*why = "authentication identity too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!sasl_id_byte_ok((unsigned char)src[i])) {
			*why = "bad character in authentication identity";
			return -1;
		}
	}
	memcpy(dst, src, len);
	dst[len] = 0;
	return 0;
}

/* Copy a password of len bytes into dst (SASL_PASSWD_MAX + 1). */
static int sasl_pass_copy(char *dst, size_t *plen, const char *src, size_t len,
                          const char **why)
{
	if (len == 0) {
		*why = "empty password";
		return -1;
	}
	if (len > SASL_PASSWD_MAX) {
		*why = "password too long";
		return -1;
	}
	/* RFC 4616 2: passwd is 1*SAFE, SAFE excluding NUL. */
	if (memchr(src, 0, len) != NULL) {
		*why = "NUL in password";
		return -1;
	}
	memcpy(dst, src, len);
	dst[len] = 0;
	*plen = len;
	return 0;
}

int sasl_plain_decode(const char *msg, size_t len,
                      char authcid[SASL_AUTHCID_MAX + 1],
                      char passwd[SASL_PASSWD_MAX + 1], size_t *plen,
                      const char **why)
{
	const char *nul1, *nul2, *id;
	size_t zlen, clen;

	/* RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
	if ((nul1 = memchr(msg, 0, len)) == NULL) {
		*why = "missing NUL separator";
		return -1;
	}
	zlen = (size_t)(nul1 - msg);
	id = nul1 + 1;
	if ((nul2 = memchr(id, 0, len - zlen - 1)) == NULL) {
		*why = "missing second NUL separator";
		return -1;
	}
	clen = (size_t)(nul2 - id);
	if (sasl_id_copy(authcid, id, clen, why) < 0)
		return -1;
	if (zlen > 0) {
		/* Acting as someone else is not offered: the authzid may
		 * only repeat the authcid (RFC 4616 2: the server decides
		 * whether the authcid may act as the authzid). */
		if (zlen > SASL_AUTHCID_MAX || zlen != clen ||
		    strncasecmp(msg, authcid, clen) != 0) {
			*why = "authorization identity differs from "
			       "authentication identity";
			return -1;
		}
	}
	return sasl_pass_copy(passwd, plen, nul2 + 1, len - zlen - clen - 2,
	                      why);
}

/* The credentials are complete: the exchange is over. */
static enum sasl_status sasl_server_done(struct sasl_server *s)
{
	s->state = SASL_S_OVER;
	s->done = true;
	return SASL_DONE;
}

/* Fail the exchange with reason why. */
static enum sasl_status sasl_server_fail(struct sasl_server *s, const char *why)
{
	s->why = why;
	s->state = SASL_S_OVER;
	explicit_bzero(s->authcid, sizeof(s->authcid));
	explicit_bzero(s->passwd, sizeof(s->passwd));
	s->plen = 0;
	sasl_buf_wipe(s->decoded);
	return SASL_ERROR;
}

/* Decode a base64 response into s->decoded. ir: "=" stands for the empty
 * response (RFC 4954 4, initial responses only). */
static int sasl_server_decode(struct sasl_server *s, const char *text,
                              size_t len, bool ir)
{
	sasl_buf_wipe(s->decoded);
	if (len > SASL_LINE_MAX) {
		s->why = "response too long";
		return -1;
	}
	if (ir && len == 1 && text[0] == '=')
		return 0;
	if (base64_decode(text, len, s->decoded) < 0) {
		s->why = "malformed base64";
		return -1;
	}
	return 0;
}

static enum sasl_status sasl_server_challenge(struct sasl_server *s,
                                              enum sasl_server_state next,
                                              const char *text,
                                              struct buf *challenge)
{
	s->state = next;
	buf_reset(challenge);
	(void)buf_append_str(challenge, text);
	return SASL_CONTINUE;
}

/* Handle decoded response bytes in the current state. */
static enum sasl_status sasl_server_input(struct sasl_server *s,
                                          struct buf *challenge)
{
	const char *d = buf_str(s->decoded);
	size_t n = buf_len(s->decoded);
	const char *why = NULL;
	int r;

	switch (s->state) {
	case SASL_S_PLAIN:
		r = sasl_plain_decode(d, n, s->authcid, s->passwd, &s->plen,
		                      &why);
		sasl_buf_wipe(s->decoded);
		if (r < 0)
			return sasl_server_fail(s, why);
		return sasl_server_done(s);
	case SASL_S_LOGIN_USER:
		r = sasl_id_copy(s->authcid, d, n, &why);
		sasl_buf_wipe(s->decoded);
		if (r < 0)
			return sasl_server_fail(s, why);
		return sasl_server_challenge(s, SASL_S_LOGIN_PASS,
		                             SASL_LOGIN_PASS, challenge);
	case SASL_S_LOGIN_PASS:
		r = sasl_pass_copy(s->passwd, &s->plen, d, n, &why);
		sasl_buf_wipe(s->decoded);
		if (r < 0)
			return sasl_server_fail(s, why);
		return sasl_server_done(s);
	case SASL_S_START:
	case SASL_S_OVER:
		break;
	}
	return sasl_server_fail(s, "exchange is over");
}

enum sasl_status sasl_server_start(struct sasl_server *s, const char *ir,
                                   size_t len, struct buf *challenge)
{
	if (s->state != SASL_S_START)
		return sasl_server_fail(s, "exchange already started");
	if (ir == NULL) {
		/* PLAIN: an empty challenge asks for the message (RFC 4954
		 * 4: "334 " then the client's response); LOGIN asks for the
		 * user name. */
		if (s->mech == SASL_MECH_PLAIN)
			return sasl_server_challenge(s, SASL_S_PLAIN, "",
			                             challenge);
		return sasl_server_challenge(s, SASL_S_LOGIN_USER,
		                             SASL_LOGIN_USER, challenge);
	}
	/* RFC 4954 4: "*" cancels, also as the initial response. */
	if (len == 1 && ir[0] == '*') {
		s->state = SASL_S_OVER;
		return SASL_CANCEL;
	}
	if (sasl_server_decode(s, ir, len, true) < 0)
		return sasl_server_fail(s, s->why);
	/* LOGIN with an initial response: it carries the user name (what
	 * common clients send with AUTH LOGIN <b64 user>). */
	s->state =
	    s->mech == SASL_MECH_PLAIN ? SASL_S_PLAIN : SASL_S_LOGIN_USER;
	return sasl_server_input(s, challenge);
}

enum sasl_status sasl_server_step(struct sasl_server *s, const char *line,
                                  size_t len, struct buf *challenge)
{
	if (s->state == SASL_S_START || s->state == SASL_S_OVER)
		return sasl_server_fail(s, "no exchange in progress");
	if (len == 1 && line[0] == '*') {
		s->state = SASL_S_OVER;
		sasl_buf_wipe(s->decoded);
		explicit_bzero(s->authcid, sizeof(s->authcid));
		return SASL_CANCEL;
	}
	if (sasl_server_decode(s, line, len, false) < 0)
		return sasl_server_fail(s, s->why);
	return sasl_server_input(s, challenge);
}

const char *sasl_server_error(const struct sasl_server *s)
{
	return s->why ? s->why : "no error";
}

const char *sasl_server_authcid(const struct sasl_server *s)
{
	return s->done ? s->authcid : NULL;
}

const char *sasl_server_password(const struct sasl_server *s, size_t *len)
{
	*len = s->done ? s->plen : 0;
	return s->done ? s->passwd : NULL;
}

/* Client side. */

int sasl_client_plain(const char *user, const char *pass, struct buf *out)
{
	char msg[1 + SASL_AUTHCID_MAX + 1 + SASL_PASSWD_MAX];
	size_t ulen = strlen(user), plen = strlen(pass);
	int r;

	if (ulen == 0 || ulen > SASL_AUTHCID_MAX || plen == 0 ||
	    plen > SASL_PASSWD_MAX)
		return -1;
	/* RFC 4616 2: empty authzid, NUL, authcid, NUL, passwd. */
	msg[0] = 0;
	memcpy(msg + 1, user, ulen);
	msg[1 + ulen] = 0;
	memcpy(msg + 2 + ulen, pass, plen);
	r = base64_encode(msg, 2 + ulen + plen, out);
	explicit_bzero(msg, sizeof(msg));
	return r;
}

int sasl_client_login_step(const char *challenge, size_t len, unsigned step,
                           const char *user, const char *pass, struct buf *out)
{
	struct buf *d;
	const char *what;
	size_t wlen;
	int r;

	if (len > SASL_LINE_MAX)
		return -1;
	d = buf_create(SASL_DECODED_MAX, SASL_DECODED_MAX);
	if (base64_decode(challenge, len, d) < 0) {
		buf_destroy(&d);
		return -1;
	}
	if (buf_len(d) >= 4 && strncasecmp(buf_str(d), "user", 4) == 0)
		what = user;
	else if (buf_len(d) >= 4 && strncasecmp(buf_str(d), "pass", 4) == 0)
		what = pass;
	else if (step == 0)
		what = user;
	else if (step == 1)
		what = pass;
	else
		what = NULL;
	buf_destroy(&d);
	if (what == NULL)
		return -1;
	wlen = strlen(what);
	if (wlen == 0 ||
	    wlen > (what == user ? SASL_AUTHCID_MAX : SASL_PASSWD_MAX))
		return -1;
	r = base64_encode(what, wlen, out);
	return r;
}
