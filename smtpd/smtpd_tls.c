/*
 * smtpd_tls.c: STARTTLS (RFC 3207) and wrapper mode (RFC 8314 3.3) for
 * smtpd over lib/tls: the server context (built in pre_jail_init, as
 * root), the STARTTLS command, the handshake before the greeting on an
 * implicit TLS port, the Postfix-style log line and the Received: comment.
 * SECURITY: RFC 3207 4.2 and CVE-2011-0411: every byte the client sent
 * with or after STARTTLS is plaintext that an attacker may have injected:
 * it is thrown away before the handshake, and the session starts over
 * (HELO/EHLO required again, no transaction, nothing learned before TLS
 * kept). The handshake has its own deadline (smtpd_starttls_timeout).
 * The optional ECDSA pair (smtpd_tls_eccert_file) sits beside the RSA one;
 * session tickets use the key master wrote to queue_directory/
 * pid/smtpd_ticket.key (read here as root, before the privilege drop), so
 * a client resumes with any smtpd process of the instance, for
 * smtpd_tls_session_cache_timeout seconds (0: no resumption).
 */
#include <string.h>

#include "mem.h"
#include "msg.h"
#include "smtpd.h"
#include "str.h"

/* smtpd_tls_security_level is not "none" (or wrapper mode is on). */
static bool smtpd_tls_wanted;

/* What the server context is built from, read as root in
 * smtpd_tls_init. The context itself is built on first use (STARTTLS or
 * a wrapper-mode connection): OpenSSL's set-up costs about 350 KiB of
 * private memory per process, which the many smtpd processes that hold
 * plain-text sessions never need (docs/performance.md, scenario 6). */
static struct tls_server_params smtpd_tls_params;
static struct buf *smtpd_tls_pem[4]; /* cert, key, eccert, eckey */
static unsigned char smtpd_tls_ticket_key[TLS_TICKET_KEY_LEN];
static bool smtpd_tls_failed; /* the build failed: logged once */

/* Read one PEM file of the pair into smtpd_tls_pem[i]; NULL for "". */
static const struct buf *smtpd_tls_read(int i, const char *path, bool *bad)
{
	struct buf *err;

	if (path == NULL || *path == 0)
		return NULL;
	err = buf_create(128, 1024);
	smtpd_tls_pem[i] = buf_create(4096, TLS_PEM_MAX + 8192);
	if (tls_pem_read(path, smtpd_tls_pem[i], err) < 0) {
		msg_warn("cannot load TLS server settings: %s: TLS disabled",
		         buf_str(err));
		*bad = true;
	}
	buf_destroy(&err);
	return smtpd_tls_pem[i];
}

void smtpd_tls_init(struct config *c)
{
	const char *level = config_str(c, "smtpd_tls_security_level");
	bool wrapper = config_bool(c, "smtpd_tls_wrappermode");
	bool mandatory = wrapper || str_eq_ci(level, "encrypt");
	struct tls_server_params *p = &smtpd_tls_params;
	struct buf *err, *path;
	bool bad = false;

	if (!wrapper && (str_eq_ci(level, "none") || *level == 0))
		return;
	if (!wrapper && !mandatory && !str_eq_ci(level, "may"))
		msg_warn("smtpd_tls_security_level: unknown value \"%s\": "
		         "using may",
		         level);
	smtpd_tls_wanted = true;
	err = buf_create(128, 1024);
	memset(p, 0, sizeof(*p));
	p->cert_file = config_str(c, "smtpd_tls_cert_file");
	if (*p->cert_file == 0) {
		msg_warn("cannot load TLS server settings: no certificate "
		         "file configured: TLS disabled");
		smtpd_tls_failed = true;
		buf_destroy(&err);
		return;
	}
	p->cert_pem = smtpd_tls_read(0, p->cert_file, &bad);
	p->key_pem =
	    smtpd_tls_read(1, config_str(c, "smtpd_tls_key_file"), &bad);
	p->eccert_pem =
	    smtpd_tls_read(2, config_str(c, "smtpd_tls_eccert_file"), &bad);
	p->eckey_pem =
	    smtpd_tls_read(3, config_str(c, "smtpd_tls_eckey_file"), &bad);
	if (bad)
		smtpd_tls_failed = true;
	p->ticket_lifetime =
	    (long)config_time(c, "smtpd_tls_session_cache_timeout");
	if (p->ticket_lifetime > 0) {
		path = buf_create(128, 4096);
		buf_sprintf(path, "%s/%s", config_str(c, "queue_directory"),
		            TLS_TICKET_KEY_FILE);
		if (tls_ticket_key_read(buf_str(path), smtpd_tls_ticket_key,
		                        err) == 0)
			p->ticket_key = smtpd_tls_ticket_key;
		else
			msg_warn("TLS session ticket key: %s: tickets are "
			         "resumable by this process only",
			         buf_str(err));
		buf_destroy(&path);
	}
	/* Postfix: the mandatory list applies where TLS is required. */
	p->protocols = config_str(c, mandatory ? "smtpd_tls_mandatory_protocols"
	                                       : "smtpd_tls_protocols");
	buf_destroy(&err);
}

/* The server context, built on first use; NULL when TLS cannot work
 * (logged once). */
static struct tls_ctx *smtpd_tls_context(void)
{
	struct buf *err;

	if (smtpd_params.tls != NULL || !smtpd_tls_wanted || smtpd_tls_failed)
		return smtpd_params.tls;
	err = buf_create(128, 1024);
	smtpd_params.tls = tls_server_create(&smtpd_tls_params, err);
	if (smtpd_params.tls == NULL) {
		msg_warn("cannot load TLS server settings: %s: TLS disabled",
		         buf_str(err));
		smtpd_tls_failed = true;
	}
	buf_destroy(&err);
	return smtpd_params.tls;
}

bool smtpd_tls_offered(void)
{
	return smtpd_tls_wanted && !smtpd_tls_failed;
}

void smtpd_tls_deinit(void)
{
	tls_ctx_destroy(&smtpd_params.tls);
	for (size_t i = 0; i < 4; i++) {
		if (smtpd_tls_pem[i] != NULL)
			explicit_bzero(buf_data(smtpd_tls_pem[i]),
			               buf_len(smtpd_tls_pem[i]));
		buf_destroy(&smtpd_tls_pem[i]);
	}
	explicit_bzero(smtpd_tls_ticket_key, sizeof(smtpd_tls_ticket_key));
}

/* "Anonymous TLS connection established from NAME[ADDR]: ..." */
static void smtpd_tls_log(const struct smtpd_session *s)
{
	int alg = 0, bits = tls_cipher_bits(s->client, &alg);

	if (smtpd_params.tls_loglevel < 1)
		return;
	msg_info("Anonymous TLS connection established from %s[%s]: %s with "
	         "cipher %s (%d/%d bits)",
	         s->name, s->addr, tls_protocol(s->client),
	         tls_cipher(s->client), bits, alg);
	if (smtpd_params.tls_loglevel >= 2 && tls_session_reused(s->client))
		msg_info("%s[%s]: TLS session resumed", s->name, s->addr);
}

/* The handshake; -1 logged (the session should end). */
static int smtpd_tls_handshake(struct smtpd_session *s)
{
	struct buf *err = buf_create(128, 1024);
	int r = tls_server_start(smtpd_params.tls, s->client,
	                         smtpd_params.starttls_timeout_ms, err);

	/* The context exists: callers checked smtpd_tls_context(). */

	if (r < 0)
		msg_info("SSL_accept error from %s[%s]: %s", s->name, s->addr,
		         buf_str(err));
	buf_destroy(&err);
	if (r < 0)
		return -1;
	s->tls = true;
	smtpd_tls_log(s);
	return 0;
}

void smtpd_cmd_starttls(struct smtpd_session *s, const struct smtp_command *c)
{
	size_t left;

	if (s->tls) {
		/* RFC 3207 4.2: not again inside TLS. */
		smtpd_reply(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (!smtpd_tls_wanted) {
		smtpd_reply(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (c->arglen > 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (smtpd_tls_context() == NULL) {
		smtpd_reply(s, "454 4.7.0 TLS not available due to local "
		               "problem");
		return;
	}
	if (s->state != SMTPD_IDLE) {
		/* Nothing of a transaction may span the switch. */
		smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	smtpd_flush(s);
	if (s->quit)
		return;
	/* CVE-2011-0411: drop plaintext pipelined after STARTTLS. */
	(void)smtpd_in_peek(s, &left);
	if (left > 0 || stream_buffered(s->client) > 0) {
		msg_info("improper command pipelining after STARTTLS from "
		         "%s[%s]",
		         s->name, s->addr);
		smtpd_in_consume(s, left);
	}
	stream_discard_input(s->client);
	if (smtpd_tls_handshake(s) < 0) {
		s->quit = true;
		return;
	}
	/* RFC 3207 4.2: forget everything learned before TLS. */
	smtpd_set_state(s, SMTPD_IDLE);
	mem_free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	mem_free(s->sasl_method);
	mem_free(s->sasl_username);
	s->sasl_method = s->sasl_username = NULL;
	s->helo_required = true;
}

int smtpd_tls_wrapper(struct smtpd_session *s)
{
	if (smtpd_tls_context() == NULL) {
		msg_warn("smtpd_tls_wrappermode: TLS is not available: "
		         "disconnecting %s[%s]",
		         s->name, s->addr);
		return -1;
	}
	return smtpd_tls_handshake(s);
}

void smtpd_tls_received(const struct smtpd_session *s, struct buf *out)
{
	int alg = 0, bits;

	if (!s->tls || !smtpd_params.tls_received_header)
		return;
	bits = tls_cipher_bits(s->client, &alg);
	buf_printf(out,
	           "\t(using %s with cipher %s (%d/%d bits))\n"
	           "\t(No client certificate requested)\n",
	           tls_protocol(s->client), tls_cipher(s->client), bits, alg);
}
