/*
 * smtp_tls.c: TLS policy of the smtp agent (RFC 3207 STARTTLS; RFC 6125
 * for the certificate name checks): the client context (as root, before
 * the privilege drop: smtp_tls_CAfile / smtp_tls_CApath may be private),
 * the policy of one request (smtp_tls_security_level, or the
 * smtp_tls_policy_maps entry for the nexthop: as written, bare domain,
 * parent domains ".example.com"), and STARTTLS on a session: none, may
 * (TLS when offered, plain text only when STARTTLS is not offered; a
 * failed handshake defers, the next MX is tried), encrypt (TLS or defer),
 * verify (encrypt + chain trusted + smtp_tls_verify_cert_match, default
 * the MX host name) and secure (encrypt + chain trusted +
 * smtp_tls_secure_cert_match, default the nexthop domain and its
 * subdomains). Failures defer with 4.7.4 (not offered) or 4.7.5 (TLS or
 * certificate failure); nothing is ever sent in plain text after a
 * failed handshake. Logs "Untrusted|Trusted|Verified TLS connection
 * established to host[addr]:port: ..." as Postfix does.
 * Owns struct smtp_tls_policy.
 * SECURITY: policy values are parsed by lib/tls_policy (errors defer the
 * mail: a bad entry never means a weaker policy); the server certificate
 * is remote input judged by OpenSSL (lib/tls); names reach the log cut to
 * printable ASCII.
 */
#include <string.h>

#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "smtp.h"
#include "str.h"

static struct {
	struct tls_match_list verify_match; /* smtp_tls_verify_cert_match */
	struct tls_match_list secure_match; /* smtp_tls_secure_cert_match */
	struct maps *policy_maps; /* smtp_tls_policy_maps */
} smtp_tls;

void smtp_tls_init(struct config *c)
{
	const char *level = config_str(c, "smtp_tls_security_level");
	struct tls_client_params p;
	struct buf *err = buf_create(128, 4096);
	enum tls_level lev;

	if (tls_level_parse(level, &lev) < 0)
		msg_fatal("main.cf: smtp_tls_security_level: unsupported "
		          "value '%s' (none, may, encrypt, verify or secure)",
		          level);
	smtp_params.tls_level = (int)lev;
	smtp_params.tls_loglevel = config_int(c, "smtp_tls_loglevel");
	if (tls_match_parse(config_str(c, "smtp_tls_verify_cert_match"),
	                    &smtp_tls.verify_match, err) < 0)
		msg_fatal("main.cf: smtp_tls_verify_cert_match: %s",
		          buf_str(err));
	if (tls_match_parse(config_str(c, "smtp_tls_secure_cert_match"),
	                    &smtp_tls.secure_match, err) < 0)
		msg_fatal("main.cf: smtp_tls_secure_cert_match: %s",
		          buf_str(err));
	/* Opened as root: the table may be private (lib/map_lmdb reopens a
	 * rebuilt file later). */
	smtp_tls.policy_maps =
	    maps_open(config_str(c, "smtp_tls_policy_maps"), err);
	if (smtp_tls.policy_maps == NULL)
		msg_fatal("smtp_tls_policy_maps: %s", buf_str(err));
	if (lev == TLS_LEV_NONE && maps_count(smtp_tls.policy_maps) == 0) {
		buf_destroy(&err);
		return;
	}
	p.protocols = config_str(c, "smtp_tls_protocols");
	p.CAfile = config_str(c, "smtp_tls_CAfile");
	p.CApath = config_str(c, "smtp_tls_CApath");
	smtp_params.tls = tls_client_create(&p, err);
	if (smtp_params.tls == NULL)
		msg_warn("cannot set up the TLS client: %s: mail that needs "
		         "TLS is deferred",
		         buf_str(err));
	buf_destroy(&err);
}

void smtp_tls_deinit(void)
{
	tls_match_free(&smtp_tls.verify_match);
	tls_match_free(&smtp_tls.secure_match);
	maps_close(&smtp_tls.policy_maps);
	tls_ctx_destroy(&smtp_params.tls);
}

void smtp_tls_policy_free(struct smtp_tls_policy *p)
{
	tls_match_free(&p->match);
	mem_free(p->protocols);
	mem_free(p->nexthop);
	memset(p, 0, sizeof(*p));
}

/* Copy a match list. */
static void smtp_tls_match_copy(struct tls_match_list *to,
                                const struct tls_match_list *from)
{
	to->n = from->n;
	for (size_t i = 0; i < from->n; i++)
		to->names[i] = mem_strdup(from->names[i]);
}

int smtp_tls_policy_get(const char *nexthop, struct smtp_tls_policy *p,
                        struct buf *err)
{
	struct buf *keys = buf_create(256, 8192),
	           *value = buf_create(128, 4096);
	char dom[TLS_MATCH_NAME_MAX];
	struct tls_policy tp;
	bool bracketed;
	size_t n = tls_policy_keys(nexthop, keys);
	const char *key = buf_str(keys);
	int found = 0, rc = -1;

	memset(p, 0, sizeof(*p));
	p->level = smtp_params.tls_level;
	if (tls_nexthop_domain(nexthop, dom, sizeof(dom), &bracketed) == 0)
		p->nexthop = mem_strdup(dom);
	for (size_t i = 0; i < n && found == 0; i++) {
		found = maps_lookup(smtp_tls.policy_maps, key, value, err);
		if (found == 0)
			key += strlen(key) + 1;
	}
	if (found < 0) {
		buf_printf(err, " (TLS policy lookup for %s)", nexthop);
		goto out;
	}
	memset(&tp, 0, sizeof(tp));
	if (found > 0) {
		struct buf *why = buf_create(128, 1024);

		if (tls_policy_parse(buf_str(value), &tp, why) < 0) {
			buf_sprintf(err,
			            "invalid TLS policy for %s "
			            "(smtp_tls_policy_maps key %s): %s",
			            nexthop, key, buf_str(why));
			buf_destroy(&why);
			goto out;
		}
		buf_destroy(&why);
		p->level = (int)tp.level;
		p->protocols = tp.protocols;
		tp.protocols = NULL;
		if (tp.have_match) {
			p->match = tp.match;
			memset(&tp.match, 0, sizeof(tp.match));
		}
		p->from_map = true;
		tls_policy_free(&tp);
	}
	if (p->match.n == 0 && p->level == SMTP_TLS_VERIFY)
		smtp_tls_match_copy(&p->match, &smtp_tls.verify_match);
	else if (p->match.n == 0 && p->level == SMTP_TLS_SECURE)
		smtp_tls_match_copy(&p->match, &smtp_tls.secure_match);
	rc = 0;
out:
	if (rc < 0)
		smtp_tls_policy_free(p);
	buf_destroy(&keys);
	buf_destroy(&value);
	return rc;
}

void smtp_tls_policy_key(const struct smtp_tls_policy *p, struct buf *key)
{
	/* Sessions are cached per nexthop and per TLS policy: a session
	 * made under a weaker policy never serves a stricter one. */
	buf_printf(key, " tls=%s", tls_level_name((enum tls_level)p->level));
	if (p->protocols)
		buf_printf(key, " protocols=%s", p->protocols);
	for (size_t i = 0; i < p->match.n; i++)
		buf_printf(key, "%s%s", i ? ":" : " match=", p->match.names[i]);
}

/* Judge the server certificate per level; 0 ok, -1 with out set. Logs
 * the "... TLS connection established" line either way. */
static int smtp_tls_check_peer(struct smtp_state *st, struct smtp_session *s,
                               struct smtp_outcome *out)
{
	const struct smtp_tls_policy *p = &st->tls;
	struct buf *why = buf_create(128, 1024);
	char *names[TLS_MATCH_MAX];
	size_t n = 0;
	bool trusted = tls_peer_trusted(s->stream, why);
	bool checked = p->level >= SMTP_TLS_VERIFY;
	int matched = -1, alg = 0, bits = tls_cipher_bits(s->stream, &alg);
	int rc = 0;

	if (checked) {
		n = tls_match_expand(&p->match, s->host, p->nexthop, names,
		                     TLS_MATCH_MAX);
		matched = tls_peer_match(s->stream, names, n);
	}
	if (smtp_params.tls_loglevel >= 2) {
		struct buf *sub = buf_create(64, 1024),
		           *iss = buf_create(64, 1024);

		tls_peer_cn(s->stream, sub, iss);
		msg_info("%s: subject_CN=%s, issuer_CN=%s%s%s", s->namaddr,
		         buf_str(sub), buf_str(iss),
		         trusted ? "" : ", untrusted: ",
		         trusted ? "" : buf_str(why));
		buf_destroy(&sub);
		buf_destroy(&iss);
	}
	if (smtp_params.tls_loglevel >= 1)
		msg_info("%s TLS connection established to %s: %s with "
		         "cipher %s (%d/%d bits)",
		         trusted && matched >= 0 ? "Verified"
		         : trusted               ? "Trusted"
		                                 : "Untrusted",
		         s->namaddr, tls_protocol(s->stream),
		         tls_cipher(s->stream), bits, alg);
	if (checked && !trusted) {
		smtp_outcome_set(out, 4, "4.7.5", s->namaddr,
		                 "Server certificate not trusted: %s (TLS "
		                 "level %s, host %s)",
		                 buf_str(why),
		                 tls_level_name((enum tls_level)p->level),
		                 s->hostaddr);
		rc = -1;
	} else if (checked && matched < 0) {
		struct buf *list = buf_create(64, 2048);

		for (size_t i = 0; i < n; i++)
			buf_printf(list, "%s%s", i ? ", " : "", names[i]);
		smtp_outcome_set(out, 4, "4.7.5", s->namaddr,
		                 "Server certificate not verified: the "
		                 "certificate of host %s matches none of: %s "
		                 "(TLS level %s)",
		                 s->hostaddr, n ? buf_str(list) : "(no names)",
		                 tls_level_name((enum tls_level)p->level));
		buf_destroy(&list);
		rc = -1;
	}
	for (size_t i = 0; i < n; i++)
		mem_free(names[i]);
	buf_destroy(&why);
	return rc;
}

int smtp_tls_starttls(struct smtp_state *st, struct smtp_session *s,
                      struct smtp_reply *r, struct buf *cmd,
                      struct smtp_outcome *out)
{
	const struct smtp_tls_policy *p = &st->tls;
	const char *during = "sending STARTTLS";
	struct tls_client_opts opts;
	struct buf *err;
	int rc;

	if (p->level == SMTP_TLS_NONE)
		return 0;
	if (!(s->features & SMTP_EXT_STARTTLS)) {
		/* "may": the one case for plain text. */
		if (p->level == SMTP_TLS_MAY)
			return 0;
		smtp_outcome_set(out, 4, "4.7.4", s->namaddr,
		                 "TLS is required, but was not offered by "
		                 "host %s",
		                 s->hostaddr);
		goto fail;
	}
	if (smtp_params.tls == NULL) {
		if (p->level == SMTP_TLS_MAY)
			return 0;
		smtp_outcome_set(out, 4, "4.7.5", s->namaddr,
		                 "TLS is required, but our TLS engine is "
		                 "unavailable");
		goto fail;
	}
	if ((rc = smtp_session_write(s, "STARTTLS", smtp_params.helo_ms)) < 0 ||
	    (rc = smtp_session_reply(s, r, smtp_params.helo_ms)) !=
	        SMTP_REPLY_DONE) {
		smtp_session_error(s, rc, during, out);
		goto fail;
	}
	if (smtp_reply_class(r) != 2) {
		smtp_session_said(s, r, "STARTTLS", 4, out);
		goto fail;
	}
	/* Nothing the server sent before the handshake counts. */
	stream_discard_input(s->stream);
	err = buf_create(128, 1024);
	opts.sni = s->host;
	opts.protocols = p->protocols;
	if (tls_client_start(smtp_params.tls, s->stream, &opts,
	                     smtp_params.helo_ms, err) < 0) {
		/* Even at "may": never plain text after a failed handshake
		 * (an attacker could force it); the next MX is tried. */
		smtp_outcome_set(out, 4, "4.7.5", s->namaddr,
		                 "Cannot start TLS: handshake failure with %s: "
		                 "%s",
		                 s->hostaddr, buf_str(err));
		buf_destroy(&err);
		s->broken = true;
		goto fail;
	}
	buf_destroy(&err);
	s->tls = true;
	if (smtp_tls_check_peer(st, s, out) < 0) {
		/* Nothing more goes to a server we do not trust. */
		s->broken = true;
		goto fail;
	}
	/* RFC 3207 4.2: the server's extensions may differ now. */
	buf_sprintf(cmd, "EHLO %s", smtp_params.helo_name);
	during = "performing the EHLO handshake";
	if ((rc = smtp_session_write(s, buf_str(cmd), smtp_params.helo_ms)) <
	        0 ||
	    (rc = smtp_session_reply(s, r, smtp_params.helo_ms)) !=
	        SMTP_REPLY_DONE) {
		smtp_session_error(s, rc, during, out);
		goto fail;
	}
	if (smtp_reply_class(r) != 2) {
		smtp_session_said(s, r, "EHLO", 4, out);
		goto fail;
	}
	s->features = smtp_reply_ehlo_features(r, &s->size_limit);
	return 0;
fail:
	msg_info("%s: %s", st->req->queue_id, buf_str(out->reason));
	return -1;
}
