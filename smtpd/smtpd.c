/*
 * smtpd.c: the SMTP server daemon (DESIGN.md; docs/smtpd.md): one client
 * per process call on the single_server skeleton. This file: the
 * parameters and the skeleton's callbacks. The session is in
 * smtpd_session.c, the command loop in smtpd_proto.c, the commands in
 * smtpd_cmd.c, smtpd_mail.c and smtpd_data.c, replies in smtpd_reply.c,
 * log lines in smtpd_log.c, the client's identity in smtpd_peer.c,
 * STARTTLS and wrapper mode in smtpd_tls.c, AUTH in smtpd_auth.c.
 * SECURITY: runs as mail_owner; everything from the client is untrusted
 * (see smtpd_proto.c and lib/smtp_command.c, lib/smtp_data.c for the
 * limits); policy decisions come from lib/policy.c.
 */
#include <limits.h>
#include <string.h>

#include "msg.h"
#include "server.h"
#include "smtpd.h"
#include "str.h"

struct smtpd_params smtpd_params;

static int smtpd_ms(long long seconds)
{
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)(seconds * 1000);
}

static enum smtpd_bare_newline smtpd_bare_parse(const char *v)
{
	if (str_eq_ci(v, "reject") || str_eq_ci(v, "yes"))
		return SMTPD_BARE_REJECT;
	if (str_eq_ci(v, "normalize"))
		return SMTPD_BARE_NORMALIZE;
	if (str_eq_ci(v, "no"))
		return SMTPD_BARE_NO;
	msg_warn("smtpd_forbid_bare_newline: unknown value \"%s\": using "
	         "reject",
	         v);
	return SMTPD_BARE_REJECT;
}

static void smtpd_post_init(const struct server_info *si)
{
	struct config *c = si->config;
	struct buf *err = buf_create(128, 1024);
	const char *excl;

	smtpd_params.config = c;
	smtpd_params.service = si->service;
	smtpd_params.myhostname = config_str(c, "myhostname");
	smtpd_params.mail_name = config_str(c, "mail_name");
	smtpd_params.banner = config_str(c, "smtpd_banner");
	smtpd_params.message_size_limit = config_size(c, "message_size_limit");
	smtpd_params.timeout_ms = smtpd_ms(config_time(c, "smtpd_timeout"));
	smtpd_params.recipient_limit = config_int(c, "smtpd_recipient_limit");
	smtpd_params.soft_error_limit = config_int(c, "smtpd_soft_error_limit");
	smtpd_params.hard_error_limit = config_int(c, "smtpd_hard_error_limit");
	smtpd_params.error_sleep_ms =
	    smtpd_ms(config_time(c, "smtpd_error_sleep_time"));
	smtpd_params.junk_command_limit =
	    config_int(c, "smtpd_junk_command_limit");
	smtpd_params.bare_newline =
	    smtpd_bare_parse(config_str(c, "smtpd_forbid_bare_newline"));
	excl = config_str(c, "smtpd_forbid_bare_newline_exclusions");
	smtpd_params.bare_newline_exclusions = cidr_list_create(excl, err);
	if (smtpd_params.bare_newline_exclusions == NULL) {
		/* Fail safe: nobody is excluded. */
		msg_warn("smtpd_forbid_bare_newline_exclusions: %s: ignored",
		         buf_str(err));
		smtpd_params.bare_newline_exclusions =
		    cidr_list_create("", err);
	}
	smtpd_params.disable_vrfy = config_bool(c, "disable_vrfy_command");
	smtpd_params.peername_lookup = config_bool(c, "smtpd_peername_lookup");
	smtpd_params.tls_required =
	    str_eq_ci(config_str(c, "smtpd_tls_security_level"), "encrypt");
	smtpd_params.tls_wrappermode = config_bool(c, "smtpd_tls_wrappermode");
	smtpd_params.starttls_timeout_ms =
	    smtpd_ms(config_time(c, "smtpd_starttls_timeout"));
	smtpd_params.tls_loglevel = config_int(c, "smtpd_tls_loglevel");
	smtpd_params.tls_received_header =
	    config_bool(c, "smtpd_tls_received_header");
	smtpd_auth_init(c);
	smtpd_params.policy = policy_create(c);
	smtpd_peer_init_resolver();
	buf_destroy(&err);
}

static void smtpd_pre_jail_init(const struct server_info *si)
{
	smtpd_tls_init(si->config);
	/* OpenSSL is otherwise loaded at the first handshake, which a
	 * chroot would make impossible (lib/tls_dl.h). */
	if (si->chroot_next && smtpd_tls_offered())
		tls_library_load();
}

static void smtpd_pre_exit(const struct server_info *si)
{
	policy_destroy(&smtpd_params.policy);
	smtpd_auth_deinit();
	cidr_list_destroy(&smtpd_params.bare_newline_exclusions);
	smtpd_tls_deinit();
}

static void smtpd_service(struct stream *client, const struct server_info *si)
{
	struct smtpd_session *s = smtpd_session_create(client);

	smtpd_proto_run(s);
	smtpd_session_destroy(&s);
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .pre_jail_init = smtpd_pre_jail_init,
	    .post_init = smtpd_post_init,
	    .service = smtpd_service,
	    .pre_exit = smtpd_pre_exit,
	};

	single_server_main(argc, argv, &cb);
}
