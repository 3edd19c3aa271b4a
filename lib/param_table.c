/*
 * param_table.c: the one table of main.cf parameters: name, type, default
 * text and one line of documentation each. `posthorn conf -d` and
 * docs/parameters.md are generated from it. Names and defaults follow
 * Postfix where the concept is the same; posthorn's own parameters are
 * marked as such in their documentation.
 * The table MUST stay sorted by name (strcmp order): param_find uses
 * bsearch, and tests/unit/check_config.c checks the order.
 * SECURITY: no input; defaults are trusted text.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MIN_ 60LL
#define HOUR_ 3600LL
#define DAY_ 86400LL
#define WEEK_ (7 * DAY_)
#define KIB_ 1024LL
#define MIB_ (1024LL * 1024)
#define GIB_ (1024LL * 1024 * 1024)

#define STR(name, def, doc)                                                    \
	{                                                                      \
		name, PARAM_STR, def, 0, 0, 0, doc                             \
	}
#define INT(name, def, min, max, doc)                                          \
	{                                                                      \
		name, PARAM_INT, def, min, max, 0, doc                         \
	}
#define BOOL(name, def, doc)                                                   \
	{                                                                      \
		name, PARAM_BOOL, def, 0, 0, 0, doc                            \
	}
#define TIME(name, def, unit, min, max, doc)                                   \
	{                                                                      \
		name, PARAM_TIME, def, min, max, unit, doc                     \
	}
#define SIZE(name, def, min, max, doc)                                         \
	{                                                                      \
		name, PARAM_SIZE, def, min, max, 0, doc                        \
	}

const struct param_def param_table[] = {
    STR("alias_database", "lmdb:$config_directory/aliases",
        "Alias tables that `posthorn newaliases` rebuilds."),
    STR("alias_maps", "lmdb:$config_directory/aliases",
        "Alias tables used by local delivery (Postfix aliases(5) "
        "format)."),
    TIME("bounce_queue_lifetime", "5d", 'd', 0, 100 * DAY_,
         "How long a bounce message is retried before it is given up."),
    STR("canonical_maps", "",
        "Tables that rewrite sender and recipient addresses in envelope "
        "and headers."),
    INT("cleanup_recipient_limit", "10000", 1, 1000000,
        "posthorn: maximal number of envelope recipients of one message, "
        "after virtual alias expansion."),
    STR("command_directory", "/usr/local/sbin",
        "Where the posthorn and sendmail commands are installed."),
    STR("config_directory", "/etc/posthorn",
        "Where main.cf and master.cf live (set by -c or MAIL_CONFIG)."),
    STR("daemon_directory", "/usr/local/libexec/posthorn",
        "Where the daemon programs named in master.cf are installed."),
    INT("default_destination_concurrency_limit", "20", 1, 1000,
        "Maximal number of parallel deliveries to one destination."),
    STR("default_privs", "nobody",
        "The account that runs pipe and file deliveries from aliases."),
    INT("default_process_limit", "100", 1, 10000,
        "Maximal number of processes per service when master.cf says "
        "'-'."),
    STR("default_transport", "smtp",
        "Transport for recipients in no local, virtual or relay domain."),
    BOOL("disable_vrfy_command", "yes",
         "Reject the SMTP VRFY command (it leaks valid addresses)."),
    SIZE("header_size_limit", "102400", 1024, 64 * MIB_,
         "Maximal size of one message header field; the excess is "
         "discarded."),
    INT("hopcount_limit", "50", 1, 1000,
        "Maximal number of Received: headers before a message bounces "
        "as looping."),
    STR("import_environment", "MAIL_CONFIG MAIL_DEBUG TZ LANG=C",
        "Environment variables that daemons keep (NAME or NAME=VALUE)."),
    STR("inet_interfaces", "all",
        "Addresses the inet services listen on: all, loopback-only or a "
        "list."),
    STR("inet_protocols", "all",
        "IP versions to use: all, ipv4, ipv6 or ipv4, ipv6."),
    TIME("ipc_timeout", "3600s", 's', 1, DAY_,
         "Time limit for one internal IPC read or write."),
    INT("line_length_limit", "2048", 1000, 1048576,
        "Longer SMTP or message lines are split into pieces of this "
        "size."),
    STR("local_recipient_maps", "$alias_maps",
        "Valid recipients in $mydestination domains; empty: accept all "
        "local parts."),
    STR("mail_name", "posthorn",
        "The mail system name shown in the SMTP banner and bounces."),
    STR("mail_owner", "posthorn",
        "The unprivileged account that owns the queue and runs most "
        "daemons."),
    STR("mail_root", "$config_directory/mail",
        "posthorn: root of the mailstore (mail_root/DOMAIN/USER/ "
        "Maildir++)."),
    SIZE("mailbox_size_limit", "51200000", 0, 1024 * GIB_,
         "Maximal size of one mailbox in bytes; 0: no limit."),
    STR("maillog_file", "",
        "Log to this file instead of syslog when set (e.g. "
        "/var/log/posthorn.log)."),
    TIME("master_stop_timeout", "10s", 's', 1, HOUR_,
         "posthorn: how long master waits for children to exit on stop."),
    TIME("max_idle", "100s", 's', 1, DAY_,
         "How long an idle daemon process waits for work before it "
         "exits."),
    INT("max_use", "100", 1, 1000000000,
        "How many clients a daemon process serves before it exits."),
    TIME("maximal_backoff_time", "4000s", 's', 1, 10 * DAY_,
         "Longest time between delivery attempts of a deferred message."),
    TIME("maximal_queue_lifetime", "5d", 'd', 0, 100 * DAY_,
         "How long a message is retried before it bounces."),
    SIZE("message_size_limit", "10240000", 0, 4 * GIB_,
         "Maximal message size in bytes; 0: no limit (not recommended)."),
    TIME("minimal_backoff_time", "300s", 's', 1, 10 * DAY_,
         "Shortest time between delivery attempts of a deferred message."),
    STR("mydestination", "$myhostname, localhost.$mydomain, localhost",
        "Domains delivered locally (through aliases to mailboxes)."),
    STR("mydomain", "",
        "This system's domain; empty: $myhostname after its first dot, "
        "else localdomain."),
    STR("myhostname", "",
        "This system's host name (FQDN); empty: the name from "
        "gethostname()."),
    STR("mynetworks", "127.0.0.0/8 [::1]/128",
        "Trusted client networks (permit_mynetworks)."),
    STR("mynetworks_style", "host",
        "How to compute mynetworks when it is not set: host, subnet or "
        "class."),
    STR("myorigin", "$myhostname",
        "Domain appended to locally posted mail with a bare user name."),
    STR("queue_directory", "/var/spool/posthorn",
        "Root of the mail queue (incoming, active, deferred, ...)."),
    TIME("queue_run_delay", "300s", 's', 1, DAY_,
         "How often the queue manager scans the deferred queue."),
    STR("recipient_canonical_maps", "",
        "Tables that rewrite envelope recipient addresses (before "
        "canonical_maps)."),
    STR("recipient_delimiter", "",
        "Characters that separate a user name from an extension "
        "(user+tag)."),
    STR("relay_domains", "",
        "Domains this server relays mail to (besides local and virtual "
        "ones)."),
    STR("relayhost", "",
        "Default next hop for non-local mail ([host]:port); empty: "
        "direct MX delivery."),
    STR("sender_canonical_maps", "",
        "Tables that rewrite envelope sender addresses (before "
        "canonical_maps)."),
    TIME("service_throttle_time", "60s", 's', 1, HOUR_,
         "How long master waits before restarting a failing service."),
    STR("setgid_group", "postdrop",
        "Group that owns the maildrop queue and the setgid posting "
        "command."),
    STR("smtpd_banner", "$myhostname ESMTP $mail_name",
        "Text after the 220 code in the SMTP greeting."),
    STR("smtpd_client_restrictions", "",
        "Access restrictions applied to the client address and name."),
    INT("smtpd_hard_error_limit", "20", 1, 1000,
        "Disconnect a client after this many errors in one session."),
    STR("smtpd_helo_restrictions", "",
        "Access restrictions applied to the HELO/EHLO argument."),
    INT("smtpd_recipient_limit", "1000", 1, 1000000,
        "Maximal number of RCPT TO commands per message."),
    STR("smtpd_recipient_restrictions", "",
        "Access restrictions applied to RCPT TO, after the relay "
        "restrictions."),
    STR("smtpd_relay_restrictions",
        "permit_mynetworks, permit_sasl_authenticated, "
        "reject_unauth_destination",
        "Relay control restrictions applied to RCPT TO."),
    BOOL("smtpd_sasl_auth_enable", "no",
         "Offer SMTP AUTH (RFC 4954) to clients."),
    STR("smtpd_sender_restrictions", "",
        "Access restrictions applied to MAIL FROM."),
    INT("smtpd_soft_error_limit", "10", 1, 1000,
        "After this many errors in a session, delay each reply by one "
        "second."),
    TIME("smtpd_timeout", "300s", 's', 1, HOUR_,
         "Time limit for a client to send a command or data (RFC 5321 "
         "4.5.3.2)."),
    BOOL("smtpd_tls_auth_only", "yes",
         "Offer SMTP AUTH only over a TLS-protected connection."),
    STR("smtpd_tls_cert_file", "",
        "PEM server certificate (chain) file for STARTTLS and "
        "wrapper mode."),
    STR("smtpd_tls_key_file", "$smtpd_tls_cert_file",
        "PEM private key file for smtpd_tls_cert_file."),
    STR("smtpd_tls_security_level", "may",
        "SMTP server TLS: none, may (offer STARTTLS) or encrypt "
        "(require it)."),
    BOOL("smtpd_tls_wrappermode", "no",
         "Start TLS at connect (port 465, RFC 8314) instead of STARTTLS."),
    STR("syslog_facility", "mail", "The syslog facility for log lines."),
    STR("syslog_name", "posthorn",
        "The program name prefix in log lines (posthorn/smtpd)."),
    STR("transport_maps", "",
        "Tables mapping recipient addresses or domains to "
        "transport:nexthop."),
    STR("virtual_alias_domains", "$virtual_alias_maps",
        "Domains whose every address is an alias (virtual_alias_maps)."),
    INT("virtual_alias_expansion_limit", "1000", 1, 1000000,
        "Maximal number of addresses one virtual alias expands to."),
    STR("virtual_alias_maps", "",
        "Tables that rewrite recipient addresses to other addresses."),
    INT("virtual_alias_recursion_limit", "1000", 1, 1000000,
        "Maximal nesting depth of virtual alias expansion."),
    STR("virtual_mailbox_domains", "$virtual_mailbox_maps",
        "Domains whose users have mailboxes under $mail_root."),
    STR("virtual_mailbox_maps", "",
        "Tables of valid mailbox users in virtual_mailbox_domains."),
    STR("vmail_owner", "vmail",
        "posthorn: the account that owns every mailbox file."),
};

const size_t param_table_count = sizeof(param_table) / sizeof(param_table[0]);

static int param_compare(const void *key, const void *elem)
{
	const struct param_def *p = elem;

	return strcmp(key, p->name);
}

const struct param_def *param_find(const char *name)
{
	if (name == NULL)
		return NULL;
	return bsearch(name, param_table, param_table_count,
	               sizeof(param_table[0]), param_compare);
}
