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
    STR("2bounce_notice_recipient", "postmaster",
        "Who gets a report about an undeliverable bounce (with the "
        "2bounce class in notify_classes)."),
    INT("access_map_defer_code", "450", 400, 599,
        "Reply code for DEFER results of check_*_access tables."),
    INT("access_map_reject_code", "554", 400, 599,
        "Reply code for REJECT results of check_*_access tables."),
    STR("alias_database", "lmdb:$config_directory/aliases",
        "Alias tables that `posthorn newaliases` rebuilds."),
    STR("alias_maps", "lmdb:$config_directory/aliases",
        "Alias tables used by local delivery (Postfix aliases(5) "
        "format)."),
    STR("allow_mail_to_commands", "alias, forward",
        "Where local delivery may run |command targets: alias, forward, "
        "include."),
    STR("allow_mail_to_files", "alias, forward",
        "Where local delivery may append to /file targets: alias, "
        "forward, include."),
    TIME("anvil_rate_time_unit", "60s", 's', 1, DAY_,
         "Time unit over which anvil counts connection and event rates."),
    STR("bounce_notice_recipient", "postmaster",
        "Who gets a copy of non-delivery reports (with the bounce class "
        "in notify_classes)."),
    TIME("bounce_queue_lifetime", "5d", 'd', 0, 100 * DAY_,
         "How long a bounce message is retried before it is given up."),
    SIZE("bounce_size_limit", "50000", 0, 64 * MIB_,
         "The most bytes of the original message attached to a "
         "non-delivery report; a larger one returns its headers only."),
    STR("canonical_maps", "",
        "Tables that rewrite sender and recipient addresses in envelope "
        "and headers."),
    INT("cleanup_recipient_limit", "10000", 1, 1000000,
        "posthorn: maximal number of envelope recipients of one message, "
        "after virtual alias expansion."),
    STR("command_directory", "/usr/local/sbin",
        "Where the posthorn and sendmail commands are installed."),
    TIME("command_time_limit", "1000s", 's', 1, DAY_,
         "Time limit for a |command delivery of local; the command is "
         "killed and the delivery deferred."),
    STR("config_directory", "/etc/posthorn",
        "Where main.cf and master.cf live (set by -c or MAIL_CONFIG)."),
    STR("daemon_directory", "/usr/local/libexec/posthorn",
        "Where the daemon programs named in master.cf are installed."),
    TIME("daemon_timeout", "18000s", 's', 1, 7 * DAY_,
         "How long qmgr waits for a delivery agent to answer one request "
         "(TRANSPORT_time_limit overrides it per transport)."),
    INT("default_destination_concurrency_limit", "20", 1, 1000,
        "Maximal number of parallel deliveries to one destination."),
    INT("default_destination_recipient_limit", "50", 1, 1000,
        "Maximal number of recipients per delivery request."),
    STR("default_privs", "nobody",
        "The account that runs pipe and file deliveries from aliases."),
    INT("default_process_limit", "100", 1, 10000,
        "Maximal number of processes per service when master.cf says "
        "'-'."),
    STR("default_transport", "smtp",
        "Transport for recipients in no local, virtual or relay domain."),
    INT("defer_code", "450", 400, 599, "Reply code for the defer restriction."),
    TIME("delay_warning_time", "0h", 'h', 0, 100 * DAY_,
         "After how long in the queue the sender of a message still not "
         "delivered gets a delay warning (0: never)."),
    BOOL("disable_vrfy_command", "yes",
         "Reject the SMTP VRFY command (it leaks valid addresses)."),
    STR("dns_resolver_address", "",
        "posthorn: DNS servers for mail routing (127.0.0.1:5353, "
        "[::1]:53; at most 3); empty: /etc/resolv.conf."),
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
    INT("invalid_hostname_reject_code", "501", 400, 599,
        "Reply code for reject_invalid_helo_hostname."),
    TIME("ipc_timeout", "3600s", 's', 1, DAY_,
         "Time limit for one internal IPC read or write."),
    INT("line_length_limit", "2048", 1000, 1048576,
        "Longer SMTP or message lines are split into pieces of this "
        "size."),
    INT("local_destination_concurrency_limit", "2", 1, 10000,
        "Maximal number of parallel local deliveries to one recipient."),
    INT("local_destination_recipient_limit", "1", 1, 1000,
        "Maximal number of recipients per local delivery request."),
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
    BOOL("mailbox_over_quota_bounce", "no",
         "posthorn: bounce (5.2.2) instead of defer (4.2.2) mail for a "
         "Maildir over its users-map quota."),
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
    INT("non_fqdn_reject_code", "504", 400, 599,
        "Reply code for reject_non_fqdn_sender, _recipient and "
        "_helo_hostname."),
    STR("notify_classes", "resource, software",
        "Which problems are reported to the postmaster (bounce, 2bounce, "
        "delay, resource, software, ...)."),
    STR("parent_domain_matches_subdomains",
        "debug_peer_list, fast_flush_domains, mynetworks, "
        "permit_mx_backup_networks, qmqpd_authorized_clients, "
        "relay_domains, smtpd_access_maps",
        "Lists (parameter names) where example.com also matches its "
        "subdomains; elsewhere only .example.com does."),
    STR("password_hash_method", "yescrypt",
        "posthorn: crypt(3) scheme of new password hashes (`posthorn user "
        "add|passwd`): yescrypt, sha512 or bcrypt."),
    INT("qmgr_message_active_limit", "20000", 1, 1000000,
        "Maximal number of messages in the active queue."),
    INT("qmgr_message_recipient_limit", "20000", 1, 10000000,
        "Maximal number of recipients of the messages in the active "
        "queue (in memory)."),
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
    INT("reject_code", "554", 400, 599,
        "Reply code for the reject restriction."),
    STR("relay_domains", "",
        "Domains this server relays mail to (besides local and virtual "
        "ones)."),
    INT("relay_domains_reject_code", "554", 400, 599,
        "Reply code for reject_unauth_destination (Relay access "
        "denied)."),
    STR("relay_recipient_maps", "",
        "Valid recipients in relay_domains; empty: accept every local "
        "part."),
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
    BOOL("smtp_8bitmime_downgrade", "yes",
         "posthorn: convert 8-bit mail to quoted-printable for servers "
         "without 8BITMIME; no: bounce it (5.6.3)."),
    STR("smtp_address_preference", "any",
        "Address family tried first when a host has both: any, ipv4 or "
        "ipv6."),
    STR("smtp_bind_address", "",
        "Local IPv4 address for outgoing SMTP connections; empty: any."),
    STR("smtp_bind_address6", "",
        "Local IPv6 address for outgoing SMTP connections; empty: any."),
    TIME("smtp_connect_timeout", "30s", 's', 1, HOUR_,
         "Time limit for an outgoing SMTP connection to be set up."),
    BOOL("smtp_connection_cache_on_demand", "yes",
         "Keep an SMTP session open for the next message to the same "
         "destination (per smtp process in posthorn)."),
    TIME("smtp_connection_cache_time_limit", "2s", 's', 0, HOUR_,
         "How long an idle cached SMTP session is kept open."),
    INT("smtp_connection_reuse_count_limit", "0", 0, 1000000,
        "Mail transactions per cached SMTP session; 0: no limit."),
    TIME("smtp_connection_reuse_time_limit", "300s", 's', 0, DAY_,
         "How long an SMTP session may be reused after it was opened."),
    TIME("smtp_data_done_timeout", "600s", 's', 1, DAY_,
         "Time limit for the reply to the end of the message "
         "(\".\")."),
    TIME("smtp_data_init_timeout", "120s", 's', 1, HOUR_,
         "Time limit for the reply to the SMTP DATA command."),
    TIME("smtp_data_xfer_timeout", "180s", 's', 1, HOUR_,
         "Time limit for sending one piece of the message content."),
    INT("smtp_destination_concurrency_limit",
        "$default_destination_concurrency_limit", 1, 10000,
        "Maximal number of parallel SMTP deliveries to one destination."),
    INT("smtp_destination_recipient_limit",
        "$default_destination_recipient_limit", 1, 1000,
        "Maximal number of recipients per SMTP delivery request."),
    STR("smtp_helo_name", "$myhostname",
        "The host name sent in the SMTP EHLO or HELO command."),
    TIME("smtp_helo_timeout", "300s", 's', 1, HOUR_,
         "Time limit for the greeting and the EHLO/HELO reply."),
    INT("smtp_line_length_limit", "998", 0, 1000000,
        "Longer message lines are broken with CRLF SPACE when sent over "
        "SMTP; 0: no limit."),
    TIME("smtp_mail_timeout", "300s", 's', 1, HOUR_,
         "Time limit for the reply to the SMTP MAIL FROM command."),
    INT("smtp_mx_address_limit", "5", 0, 1000,
        "Maximal number of MX addresses tried per delivery; 0: no "
        "limit."),
    INT("smtp_mx_session_limit", "2", 0, 1000,
        "Maximal number of SMTP sessions per delivery (failed "
        "handshakes not counted); 0: no limit."),
    TIME("smtp_quit_timeout", "300s", 's', 1, HOUR_,
         "Time limit for the reply to the SMTP QUIT command."),
    TIME("smtp_rcpt_timeout", "300s", 's', 1, HOUR_,
         "Time limit for the reply to an SMTP RCPT TO command."),
    TIME("smtp_rset_timeout", "20s", 's', 1, HOUR_,
         "Time limit for the reply to the SMTP RSET command."),
    BOOL("smtp_sasl_auth_enable", "no",
         "SMTP client: authenticate to servers (RFC 4954) with the "
         "credentials in smtp_sasl_password_maps."),
    STR("smtp_sasl_password_maps", "",
        "SMTP client: tables mapping a nexthop (relayhost or transport "
        "destination, then its host name) to user:password."),
    STR("smtp_sasl_security_options", "noplaintext, noanonymous",
        "SMTP client: SASL mechanism restrictions without TLS "
        "(noplaintext: no PLAIN or LOGIN over a plain-text session)."),
    STR("smtp_sasl_tls_security_options", "noanonymous",
        "SMTP client: SASL mechanism restrictions over TLS."),
    INT("smtp_tcp_port", "25", 1, 65535,
        "posthorn: the TCP port of remote SMTP servers when the nexthop "
        "names none (Postfix: the smtp service port)."),
    STR("smtp_tls_CAfile", "",
        "SMTP client: PEM file of trusted CA certificates (levels verify "
        "and secure)."),
    STR("smtp_tls_CApath", "",
        "SMTP client: directory of trusted CA certificates (c_rehash "
        "layout)."),
    INT("smtp_tls_loglevel", "0", 0, 4,
        "SMTP client TLS logging: 1 logs the \"TLS connection "
        "established\" line."),
    STR("smtp_tls_policy_maps", "",
        "SMTP client: tables mapping a nexthop domain to a TLS policy "
        "(\"none\", \"may\", \"encrypt\", \"verify match=...\", "
        "\"secure match=...\")."),
    STR("smtp_tls_protocols", ">=TLSv1.2",
        "TLS protocols the SMTP client uses (Postfix syntax)."),
    STR("smtp_tls_secure_cert_match", "nexthop, dot-nexthop",
        "SMTP client, level secure: names a server certificate must "
        "match (nexthop, dot-nexthop, hostname or literal names)."),
    STR("smtp_tls_security_level", "",
        "SMTP client TLS: none (empty), may (STARTTLS when offered), "
        "encrypt (STARTTLS or defer), verify (+ trusted certificate "
        "matching the MX name) or secure (+ matching the nexthop)."),
    STR("smtp_tls_verify_cert_match", "hostname",
        "SMTP client, level verify: names a server certificate must "
        "match (hostname: the MX host name)."),
    STR("smtpd_banner", "$myhostname ESMTP $mail_name",
        "Text after the 220 code in the SMTP greeting."),
    INT("smtpd_client_auth_rate_limit", "0", 0, 1000000,
        "AUTH commands one client address may send per "
        "anvil_rate_time_unit to one service (anvil); 0: no limit."),
    INT("smtpd_client_connection_count_limit", "50", 0, 1000000,
        "Simultaneous connections one client address may have to one "
        "smtpd service (anvil); 0: no limit."),
    INT("smtpd_client_connection_rate_limit", "0", 0, 1000000,
        "Connections one client address may make per "
        "anvil_rate_time_unit (anvil); 0: no limit."),
    STR("smtpd_client_event_limit_exceptions", "$mynetworks",
        "Client addresses (networks) exempt from the connection count "
        "and rate limits."),
    STR("smtpd_client_restrictions", "",
        "Access restrictions applied to the client address and name."),
    BOOL("smtpd_delay_reject", "yes",
         "Evaluate client, HELO and sender restrictions at RCPT TO time."),
    TIME("smtpd_error_sleep_time", "1s", 's', 0, 300,
         "Reply delay once a client has made smtpd_soft_error_limit "
         "errors; it grows with each further error (docs/smtpd.md)."),
    STR("smtpd_forbid_bare_newline", "reject",
        "Bare <LF> or <CR> in SMTP input: reject (also yes: 521 and "
        "disconnect), normalize or no (accepted); docs/smtpd.md."),
    STR("smtpd_forbid_bare_newline_exclusions", "",
        "Client networks (mynetworks syntax) for which "
        "smtpd_forbid_bare_newline=reject acts as normalize."),
    INT("smtpd_hard_error_limit", "20", 1, 1000,
        "Disconnect a client after this many errors in one session."),
    STR("smtpd_helo_restrictions", "",
        "Access restrictions applied to the HELO/EHLO argument."),
    INT("smtpd_junk_command_limit", "100", 1, 100000,
        "NOOP, RSET, VRFY, EXPN, HELP and ETRN commands per session before "
        "each one counts as an error."),
    STR("smtpd_null_access_lookup_key", "<>",
        "Key looked up in check_sender_access tables for the null "
        "sender."),
    BOOL("smtpd_peername_lookup", "yes",
         "Look up the client's name (reverse DNS, forward-confirmed); "
         "no: every client is \"unknown\"."),
    INT("smtpd_recipient_limit", "1000", 1, 1000000,
        "Maximal number of RCPT TO commands per message."),
    STR("smtpd_recipient_restrictions", "",
        "Access restrictions applied to RCPT TO, after the relay "
        "restrictions."),
    BOOL("smtpd_reject_unlisted_recipient", "yes",
         "Reject unknown recipients in local and virtual domains (550 "
         "5.1.1) even without reject_unlisted_recipient."),
    INT("smtpd_relay_reject_code", "$relay_domains_reject_code", 400, 599,
        "posthorn: alias of relay_domains_reject_code (Relay access "
        "denied reply code)."),
    STR("smtpd_relay_restrictions",
        "permit_mynetworks, permit_sasl_authenticated, "
        "reject_unauth_destination",
        "Relay control restrictions applied to RCPT TO."),
    BOOL("smtpd_sasl_auth_enable", "no",
         "Offer SMTP AUTH (RFC 4954) to clients."),
    BOOL("smtpd_sasl_auth_required", "no",
         "posthorn: refuse MAIL before AUTH with 530 5.7.0 "
         "Authentication required (RFC 4954 6); set for submission."),
    TIME("smtpd_sasl_failure_delay", "1s", 's', 0, 60,
         "posthorn: delay before a failed AUTH's 535 reply; it doubles "
         "with each failure of the session and of the client address."),
    STR("smtpd_sender_login_maps", "",
        "Tables mapping a sender address to the SASL login names that "
        "own it; empty: each user owns its address and the aliases that "
        "lead only to it."),
    STR("smtpd_sender_restrictions", "",
        "Access restrictions applied to MAIL FROM."),
    INT("smtpd_soft_error_limit", "10", 1, 1000,
        "After this many errors in a session, delay each reply by "
        "smtpd_error_sleep_time (growing)."),
    TIME("smtpd_starttls_timeout", "300s", 's', 1, HOUR_,
         "Time limit for the TLS handshake after STARTTLS or at connect "
         "in wrapper mode."),
    TIME("smtpd_timeout", "300s", 's', 1, HOUR_,
         "Time limit for a client to send a command or data (RFC 5321 "
         "4.5.3.2)."),
    BOOL("smtpd_tls_auth_only", "yes",
         "Offer SMTP AUTH only over a TLS-protected connection."),
    STR("smtpd_tls_cert_file", "",
        "PEM server certificate (chain) file for STARTTLS and "
        "wrapper mode."),
    STR("smtpd_tls_eccert_file", "",
        "A second (ECDSA) server certificate chain file, offered to "
        "clients that prefer it."),
    STR("smtpd_tls_eckey_file", "$smtpd_tls_eccert_file",
        "PEM private key file for smtpd_tls_eccert_file."),
    STR("smtpd_tls_key_file", "$smtpd_tls_cert_file",
        "PEM private key file for smtpd_tls_cert_file."),
    INT("smtpd_tls_loglevel", "0", 0, 4,
        "SMTP server TLS logging: 1 logs the \"TLS connection "
        "established\" line."),
    STR("smtpd_tls_mandatory_protocols", ">=TLSv1.2",
        "TLS protocols the SMTP server accepts when TLS is mandatory "
        "(smtpd_tls_security_level=encrypt, wrapper mode)."),
    STR("smtpd_tls_protocols", ">=TLSv1.2",
        "TLS protocols the SMTP server accepts with opportunistic TLS "
        "(\">=TLSv1.2\" or \"!SSLv2, !SSLv3, !TLSv1, !TLSv1.1\")."),
    BOOL("smtpd_tls_received_header", "no",
         "Record the TLS protocol and cipher in the Received: header."),
    STR("smtpd_tls_security_level", "may",
        "SMTP server TLS: none, may (offer STARTTLS) or encrypt "
        "(require it)."),
    TIME("smtpd_tls_session_cache_timeout", "3600s", 's', 0, DAY_,
         "Lifetime of TLS session tickets (resumption across smtpd "
         "processes); 0 disables resumption."),
    BOOL("smtpd_tls_wrappermode", "no",
         "Start TLS at connect (port 465, RFC 8314) instead of STARTTLS."),
    STR("syslog_facility", "mail", "The syslog facility for log lines."),
    STR("syslog_name", "posthorn",
        "The program name prefix in log lines (posthorn/smtpd)."),
    STR("transport_maps", "",
        "Tables mapping recipient addresses or domains to "
        "transport:nexthop."),
    TIME("transport_retry_time", "60s", 's', 1, DAY_,
         "How long qmgr defers mail for a transport it could not reach "
         "before it tries that transport again."),
    INT("unknown_local_recipient_reject_code", "550", 400, 599,
        "Reply code for unknown recipients in mydestination domains."),
    INT("unknown_relay_recipient_reject_code", "550", 400, 599,
        "Reply code for recipients not in relay_recipient_maps."),
    INT("unknown_virtual_alias_reject_code", "550", 400, 599,
        "Reply code for unknown recipients in virtual_alias_domains."),
    INT("unknown_virtual_mailbox_reject_code", "550", 400, 599,
        "Reply code for unknown recipients in virtual_mailbox_domains."),
    STR("virtual_alias_domains", "$virtual_alias_maps",
        "Domains whose every address is an alias (virtual_alias_maps)."),
    INT("virtual_alias_expansion_limit", "1000", 1, 1000000,
        "Maximal number of addresses one virtual alias expands to."),
    STR("virtual_alias_maps", "",
        "Tables that rewrite recipient addresses to other addresses."),
    INT("virtual_alias_recursion_limit", "1000", 1, 1000000,
        "Maximal nesting depth of virtual alias expansion."),
    INT("virtual_destination_concurrency_limit",
        "$default_destination_concurrency_limit", 1, 10000,
        "Parallel deliveries per virtual mailbox domain (the virtual "
        "transport)."),
    INT("virtual_destination_recipient_limit",
        "$default_destination_recipient_limit", 1, 1000,
        "Recipients per delivery request of the virtual transport."),
    STR("virtual_mailbox_domains", "$virtual_mailbox_maps",
        "Domains whose users have mailboxes under $mail_root."),
    STR("virtual_mailbox_maps", "",
        "Tables of valid mailbox users in virtual_mailbox_domains."),
    STR("virtual_transport", "virtual",
        "Transport for virtual_mailbox_domains: master.cf service "
        "virtual runs the local program (Maildirs under mail_root)."),
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
