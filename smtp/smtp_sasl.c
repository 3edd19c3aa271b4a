/*
 * smtp_sasl.c: the smtp agent authenticates to the server (RFC 4954) when
 * smtp_sasl_auth_enable = yes and smtp_sasl_password_maps has credentials
 * for the destination: after EHLO (and after STARTTLS and the second
 * EHLO), with SASL PLAIN (RFC 4616, as an initial response, RFC 4954 4)
 * or LOGIN (334 dialogue), whichever the EHLO AUTH line offers and
 * smtp_sasl_security_options (plain-text sessions) or
 * smtp_sasl_tls_security_options (TLS sessions) allow. Any failure
 * defers the recipients (as Postfix does; never a bounce): "SASL
 * authentication failed; server H[A] said: 535 5.7.8 ...", or "SASL
 * authentication failed: cannot authenticate to server H[A]: no mechanism
 * available". Owns the password maps (opened once per process, as root
 * before any chroot, like Postfix) and the security flags. The pure
 * parts are in lib/sasl_client (options, choice, keys, value) and
 * lib/sasl (the PLAIN and LOGIN responses).
 * SECURITY: the password is never logged; it lives in buffers that are
 * allocated once at full size and wiped after use (the encoded command
 * line too). Replies are read by lib/smtp_reply under its limits within
 * smtp_helo_timeout. The server's reply text goes into the reason as
 * for every other command.
 */
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "sasl_client.h"
#include "smtp.h"
#include "str.h"

static struct {
	bool enabled;
	struct maps *maps;
	unsigned flags; /* smtp_sasl_security_options */
	unsigned tls_flags; /* smtp_sasl_tls_security_options */
} smtp_sasl;

void smtp_sasl_init(struct config *c)
{
	struct buf *err = buf_create(128, 4096);

	smtp_sasl.enabled = config_bool(c, "smtp_sasl_auth_enable");
	if (!smtp_sasl.enabled) {
		buf_destroy(&err);
		return;
	}
	if (sasl_client_security_parse(
	        config_str(c, "smtp_sasl_security_options"), &smtp_sasl.flags,
	        err) < 0)
		msg_fatal("main.cf: smtp_sasl_security_options: %s",
		          buf_str(err));
	if (sasl_client_security_parse(
	        config_str(c, "smtp_sasl_tls_security_options"),
	        &smtp_sasl.tls_flags, err) < 0)
		msg_fatal("main.cf: smtp_sasl_tls_security_options: %s",
		          buf_str(err));
	/* Opened here, as root and before a chroot, so the table may be
	 * readable only by root and mail_owner's group; a rebuilt file is
	 * reopened by the unprivileged process (lib/map_lmdb). */
	smtp_sasl.maps =
	    maps_open(config_str(c, "smtp_sasl_password_maps"), err);
	if (smtp_sasl.maps == NULL)
		msg_fatal("smtp_sasl_password_maps: %s", buf_str(err));
	if (maps_count(smtp_sasl.maps) == 0)
		msg_warn("smtp_sasl_auth_enable = yes, but "
		         "smtp_sasl_password_maps is empty: no credentials");
	buf_destroy(&err);
}

void smtp_sasl_deinit(void)
{
	maps_close(&smtp_sasl.maps);
}

/* The credentials for this session into user/pass: 1 found, 0 none, -1
 * with out set (lookup error or a malformed value). */
static int smtp_sasl_lookup(struct smtp_state *st, struct smtp_session *s,
                            struct buf *user, struct buf *pass,
                            struct smtp_outcome *out)
{
	struct buf *key = buf_create(128, 4096), *err = buf_create(128, 4096),
	           *value = sasl_client_secret_create(SASL_CLIENT_VALUE_MAX),
	           *nexthop = buf_create(128, 4096);
	int rc = 0, found = 0;

	buf_set_str(nexthop, st->req->nexthop);
	if (buf_len(nexthop) == 0) {
		/* No nexthop: the recipient domain is the destination. */
		struct buf *local = buf_create(64, 4096);

		if (address_split(st->req->rcpts[0].address, local, nexthop) <
		    0)
			buf_reset(nexthop);
		buf_destroy(&local);
	}
	for (int i = 0; found == 0 &&
	                sasl_client_key(buf_str(nexthop), s->host, i, key) == 0;
	     i++)
		found = maps_lookup(smtp_sasl.maps, buf_str(key), value, err);
	if (found < 0) {
		smtp_outcome_set(out, 4, "4.3.0", s->namaddr,
		                 "SASL authentication failed: cannot look up "
		                 "the credentials for server %s: %s",
		                 s->hostaddr, buf_str(err));
		rc = -1;
	} else if (found > 0) {
		if (sasl_client_split(buf_data(value), buf_len(value), user,
		                      pass) < 0) {
			/* Never quote the value: it holds the password. */
			smtp_outcome_set(
			    out, 4, "4.3.0", s->namaddr,
			    "SASL authentication failed: malformed "
			    "smtp_sasl_password_maps entry '%s' for "
			    "server %s (expected user:password)",
			    buf_str(key), s->hostaddr);
			rc = -1;
		} else {
			rc = 1;
		}
	}
	sasl_client_secret_destroy(&value);
	buf_destroy(&key);
	buf_destroy(&err);
	buf_destroy(&nexthop);
	return rc;
}

/* Send one line holding a secret and read the reply. */
static int smtp_sasl_send(struct smtp_session *s, struct buf *line,
                          struct smtp_reply *r)
{
	int rc = smtp_session_write(s, buf_str(line), smtp_params.helo_ms);

	buf_reset(line);
	/* The stream's write buffer still holds the line. */
	stream_wipe(s->stream);
	if (rc == 0)
		rc = smtp_session_reply(s, r, smtp_params.helo_ms);
	return rc;
}

/* The exchange: 0 after 235, -1 with out set. */
static int smtp_sasl_exchange(struct smtp_session *s, enum sasl_mech mech,
                              const char *user, const char *pass,
                              struct smtp_outcome *out)
{
	struct buf *line = sasl_client_secret_create(SASL_CLIENT_LINE_MAX);
	struct smtp_reply r;
	const char *during = "authenticating";
	int rc, step = 0;
	bool cancelled = false;

	smtp_reply_init(&r);
	if (mech == SASL_MECH_PLAIN) {
		/* RFC 4954 4: the initial response saves a round trip. */
		buf_set_str(line, "AUTH PLAIN ");
		rc = sasl_client_plain(user, pass, line);
		step = 2;
	} else {
		rc = buf_set_str(line, "AUTH LOGIN");
	}
	if (rc < 0)
		msg_panic("smtp_sasl_exchange: response does not fit");
	rc = smtp_sasl_send(s, line, &r);
	/* LOGIN: the first 334 asks for the user name, the second for the
	 * password ("Username:"/"Password:" prompts are honoured, others
	 * go by the step). */
	while (rc == SMTP_REPLY_DONE && r.code == 334 && step < 2) {
		buf_reset(line);
		if (sasl_client_login_step(buf_str(r.lines), buf_len(r.lines),
		                           (unsigned)step, user, pass,
		                           line) < 0)
			break; /* not base64: cancel below */
		step++;
		rc = smtp_sasl_send(s, line, &r);
	}
	if (rc == SMTP_REPLY_DONE && r.code == 334) {
		/* A challenge after all was sent, or one we cannot
		 * answer: RFC 4954 4, cancel. */
		cancelled = true;
		buf_set_str(line, "*");
		rc = smtp_sasl_send(s, line, &r);
	}
	if (rc != SMTP_REPLY_DONE) {
		smtp_session_error(s, rc, during, out);
		rc = -1;
	} else if (!cancelled && smtp_reply_class(&r) == 2) {
		/* RFC 4954 6: 235 2.7.0 Authentication Succeeded. */
		rc = 0;
	} else if (cancelled) {
		smtp_outcome_set(out, 4, "4.7.0", s->namaddr,
		                 "SASL authentication failed; server %s sent "
		                 "an unexpected challenge",
		                 s->hostaddr);
		rc = -1;
	} else {
		/* 535 5.7.8 and every other 4xx/5xx: defer (the class
		 * of the reason's DSN follows the outcome). */
		smtp_outcome_set(out, 4, r.dsn, s->namaddr,
		                 "SASL authentication failed; server %s said: "
		                 "%s",
		                 s->hostaddr, buf_str(r.text));
		rc = -1;
	}
	smtp_reply_deinit(&r);
	sasl_client_secret_destroy(&line);
	return rc;
}

int smtp_sasl_authenticate(struct smtp_state *st, struct smtp_session *s,
                           const struct smtp_reply *ehlo,
                           struct smtp_outcome *out)
{
	struct buf *user, *pass, *mechs;
	enum sasl_mech mech;
	int rc = -1;

	if (!smtp_sasl.enabled || smtp_sasl.maps == NULL)
		return 0;
	user = sasl_client_secret_create(SASL_AUTHCID_MAX);
	pass = sasl_client_secret_create(SASL_PASSWD_MAX);
	mechs = buf_create(128, 1024);
	switch (smtp_sasl_lookup(st, s, user, pass, out)) {
	case 0:
		/* No credentials for this destination: no AUTH. */
		rc = 0;
		goto out;
	case 1:
		break;
	default:
		goto fail;
	}
	if (s->features & SMTP_EXT_AUTH)
		(void)smtp_reply_ehlo_auth(ehlo, mechs);
	if (sasl_client_choose(buf_str(mechs),
	                       s->tls ? smtp_sasl.tls_flags : smtp_sasl.flags,
	                       &mech) < 0) {
		/* Postfix sends without AUTH when the server offers none;
		 * posthorn defers: credentials for a destination mean it
		 * wants them (docs/smtp.md). */
		smtp_outcome_set(out, 4, "4.7.0", s->namaddr,
		                 "SASL authentication failed: cannot "
		                 "authenticate to server %s: no mechanism "
		                 "available%s",
		                 s->hostaddr,
		                 !(s->features & SMTP_EXT_AUTH)
		                     ? " (the server offers no AUTH)"
		                 : !s->tls ? " (PLAIN and LOGIN need TLS under "
		                             "smtp_sasl_security_options)"
		                           : "");
		goto fail;
	}
	if (smtp_sasl_exchange(s, mech, buf_str(user), buf_str(pass), out) < 0)
		goto fail;
	if (msg_verbose)
		msg_info("%s: authenticated to %s with %s", st->req->queue_id,
		         s->namaddr, sasl_mech_name(mech));
	rc = 0;
	goto out;
fail:
	msg_info("%s: %s", st->req->queue_id, buf_str(out->reason));
out:
	sasl_client_secret_destroy(&user);
	sasl_client_secret_destroy(&pass);
	buf_destroy(&mechs);
	return rc;
}
