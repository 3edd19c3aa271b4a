/* check_policy.c: unit tests for lib/policy.c, table-driven: each
 * restriction, each access-table result, relay control (the defaults never
 * relay; a configuration without a relay guard refuses everything),
 * recipient validation (local, virtual mailbox, virtual alias, relay
 * recipient tables, recipient_delimiter), smtpd_delay_reject, lookup
 * failures (451, never accept), hostile facts (control characters, long
 * names) and the Postfix reject log line. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "map.h"
#include "mem.h"
#include "policy.h"

/* Every row starts from this configuration. */
static const char *const base_settings[] = {
    "myhostname=mx.example.com",
    "mydomain=example.com",
    "myorigin=example.com",
    "virtual_mailbox_domains=virt.example",
    "virtual_mailbox_maps=inline:{user@virt.example=h1, "
    "other@virt.example=h2}",
    "alias_maps=inline:{postmaster=root, root=user@virt.example}",
    "recipient_delimiter=+",
    "queue_directory=/nonexistent/posthorn-policy-test",
    NULL,
};

/* A fact given as NUL_ is NULL; NULL in a row means the default. */
#define NUL_ "(null)"

enum { V_OK = POLICY_OK, V_DEFER = POLICY_DEFER, V_REJECT = POLICY_REJECT };

struct row {
	const char *settings; /* "name=value" lines, '\n' separated */
	enum policy_stage stage;
	const char *client, *name, *helo, *sender, *rcpt, *sasl;
	int verdict;
	const char *reply; /* exact reply for non-OK rows */
};

#define RCPT POLICY_STAGE_RCPT
#define CONN POLICY_STAGE_CONNECT
#define HELO POLICY_STAGE_HELO
#define MAIL POLICY_STAGE_MAIL
#define RA "554 5.7.1 <x@outside.example>: Relay access denied"
#define OUT "x@outside.example"
#define U "user@virt.example"
#define CRA(t) "check_recipient_access inline:{" t "}"
#define RR "smtpd_recipient_restrictions="

static const struct row rows[] = {
    /* Relay control with the defaults. */
    {"", RCPT, NULL, NULL, NULL, NULL, OUT, NULL, V_REJECT, RA},
    {"", RCPT, "127.0.0.1", NULL, NULL, NULL, OUT, NULL, V_OK, NULL},
    {"", RCPT, "127.255.0.9", NULL, NULL, NULL, OUT, NULL, V_OK, NULL},
    {"", RCPT, "::1", NULL, NULL, NULL, OUT, NULL, V_OK, NULL},
    {"", RCPT, "::ffff:127.0.0.1", NULL, NULL, NULL, OUT, NULL, V_OK, NULL},
    {"", RCPT, "::2", NULL, NULL, NULL, OUT, NULL, V_REJECT, RA},
    {"", RCPT, "garbage", NULL, NULL, NULL, OUT, NULL, V_REJECT, RA},
    {"", RCPT, NULL, NULL, NULL, NULL, OUT, "bob", V_OK, NULL},
    {"", RCPT, NULL, NULL, NULL, NULL, OUT, "", V_REJECT, RA},
    {"", RCPT, NULL, NULL, NULL, NULL, "X@Outside.Example.", NULL, V_REJECT,
     "554 5.7.1 <X@Outside.Example.>: Relay access denied"},
    {"mynetworks=127.0.0.1/32", RCPT, "127.0.0.2", NULL, NULL, NULL, OUT, NULL,
     V_REJECT, RA},
    {"mynetworks=127.0.0.1/32", RCPT, "127.0.0.1", NULL, NULL, NULL, OUT, NULL,
     V_OK, NULL},
    {"mynetworks=192.0.2.0/24", RCPT, NULL, NULL, NULL, NULL, OUT, NULL, V_OK,
     NULL},
    /* Our own domains need no relay permission. */
    {"", RCPT, NULL, NULL, NULL, NULL, U, NULL, V_OK, NULL},
    {"", RCPT, NULL, NULL, NULL, NULL, "User@VIRT.Example", NULL, V_OK, NULL},
    {"", RCPT, NULL, NULL, NULL, NULL, "user+tag@virt.example", NULL, V_OK,
     NULL},
    {"", RCPT, NULL, NULL, NULL, NULL, "postmaster@mx.example.com", NULL, V_OK,
     NULL},
    {"", RCPT, NULL, NULL, NULL, NULL, "root+x@localhost", NULL, V_OK, NULL},
    {"", RCPT, NULL, NULL, NULL, NULL, "postmaster", NULL, V_OK, NULL},
    {"", RCPT, NULL, NULL, NULL, NULL, "PostMaster", NULL, V_OK, NULL},
    /* Sender-specified routing is never relayed. */
    {"", RCPT, NULL, NULL, NULL, NULL, "x%outside.example@virt.example", NULL,
     V_REJECT,
     "554 5.7.1 <x%outside.example@virt.example>: Relay access denied"},
    {"", RCPT, NULL, NULL, NULL, NULL, "x!outside.example@virt.example", NULL,
     V_REJECT,
     "554 5.7.1 <x!outside.example@virt.example>: Relay access denied"},
    {"", RCPT, NULL, NULL, NULL, NULL, "\"x@outside.example\"@virt.example",
     NULL, V_REJECT,
     "554 5.7.1 <\"x@outside.example\"@virt.example>: Relay access "
     "denied"},
    {"", RCPT, NULL, NULL, NULL, NULL, "x@[192.0.2.1]", NULL, V_REJECT,
     "554 5.7.1 <x@[192.0.2.1]>: Relay access denied"},
    {"", RCPT, NULL, NULL, NULL, NULL, "x@virt.example.evil", NULL, V_REJECT,
     "554 5.7.1 <x@virt.example.evil>: Relay access denied"},
    {"", RCPT, NULL, NULL, NULL, NULL, "x@sub.virt.example", NULL, V_REJECT,
     "554 5.7.1 <x@sub.virt.example>: Relay access denied"},
    /* Reply codes. */
    {"smtpd_relay_reject_code=454", RCPT, NULL, NULL, NULL, NULL, OUT, NULL,
     V_DEFER, "454 4.7.1 <x@outside.example>: Relay access denied"},
    {"relay_domains_reject_code=550", RCPT, NULL, NULL, NULL, NULL, OUT, NULL,
     V_REJECT, "550 5.7.1 <x@outside.example>: Relay access denied"},
    {"smtpd_relay_restrictions=permit_mynetworks defer_unauth_destination",
     RCPT, NULL, NULL, NULL, NULL, OUT, NULL, V_DEFER,
     "454 4.7.1 <x@outside.example>: Relay access denied"},
    {"smtpd_relay_restrictions=permit_mynetworks defer_unauth_destination",
     RCPT, "127.0.0.1", NULL, NULL, NULL, OUT, NULL, V_OK, NULL},
    /* relay_domains (parent style by default), relay_recipient_maps. */
    {"relay_domains=relay.example", RCPT, NULL, NULL, NULL, NULL,
     "a@relay.example", NULL, V_OK, NULL},
    {"relay_domains=relay.example", RCPT, NULL, NULL, NULL, NULL,
     "a@sub.relay.example", NULL, V_OK, NULL},
    {"relay_domains=relay.example\nparent_domain_matches_subdomains=", RCPT,
     NULL, NULL, NULL, NULL, "a@sub.relay.example", NULL, V_REJECT,
     "554 5.7.1 <a@sub.relay.example>: Relay access denied"},
    {"relay_domains=relay.example\n"
     "relay_recipient_maps=inline:{a@relay.example=x}",
     RCPT, NULL, NULL, NULL, NULL, "a@relay.example", NULL, V_OK, NULL},
    {"relay_domains=relay.example\n"
     "relay_recipient_maps=inline:{a@relay.example=x}",
     RCPT, NULL, NULL, NULL, NULL, "b@relay.example", NULL, V_REJECT,
     "550 5.1.1 <b@relay.example>: Recipient address rejected: User "
     "unknown in relay recipient table"},
    /* No relay guard anywhere: nothing is accepted (451 4.3.5). */
    {"smtpd_relay_restrictions=\n" RR "permit_mynetworks", RCPT, "127.0.0.1",
     NULL, NULL, NULL, U, NULL, V_DEFER,
     "451 4.3.5 Server configuration "
     "error"},
    {"smtpd_relay_restrictions=permit", RCPT, NULL, NULL, NULL, NULL, OUT, NULL,
     V_DEFER, "451 4.3.5 Server configuration error"},
    {"smtpd_relay_restrictions=permit_sasl_authenticated", RCPT, NULL, NULL,
     NULL, NULL, OUT, "bob", V_DEFER, "451 4.3.5 Server configuration error"},
    /* Postfix before 2.10: the guard in smtpd_recipient_restrictions. */
    {"smtpd_relay_restrictions=\n" RR
     "permit_mynetworks, reject_unauth_destination",
     RCPT, NULL, NULL, NULL, NULL, OUT, NULL, V_REJECT, RA},
    {"smtpd_relay_restrictions=\n" RR
     "permit_mynetworks, reject_unauth_destination",
     RCPT, "127.0.0.1", NULL, NULL, NULL, OUT, NULL, V_OK, NULL},
    {"smtpd_relay_restrictions=\n" RR "permit_auth_destination, reject", RCPT,
     NULL, NULL, NULL, NULL, U, NULL, V_OK, NULL},
    {"smtpd_relay_restrictions=\n" RR "permit_auth_destination, reject", RCPT,
     NULL, NULL, NULL, NULL, OUT, NULL, V_REJECT,
     "554 5.7.1 <x@outside.example>: Recipient address rejected: Access "
     "denied"},
    /* Configuration errors. */
    {"smtpd_relay_restrictions=permit_mynetworks, reject_foo", RCPT,
     "127.0.0.1", NULL, NULL, NULL, OUT, NULL, V_DEFER,
     "451 4.3.5 Server configuration error"},
    {RR "check_recipient_access", RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_DEFER, "451 4.3.5 Server configuration error"},
    {RR "check_recipient_access reject", RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_DEFER, "451 4.3.5 Server configuration error"},
    {"mynetworks=127.0.0.1/33", RCPT, "127.0.0.1", NULL, NULL, NULL, OUT, NULL,
     V_DEFER, "451 4.3.5 Server configuration error"},
    {"mynetworks=127.0.0.1/8", RCPT, "127.0.0.1", NULL, NULL, NULL, OUT, NULL,
     V_DEFER, "451 4.3.5 Server configuration error"},
    {"mydestination=inline:{broken", RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_DEFER, "451 4.3.5 Server configuration error"},
    {RR "check_recipient_access lmdb:/nonexistent/posthorn/access", RCPT, NULL,
     NULL, NULL, NULL, U, NULL, V_DEFER,
     "451 4.3.0 <user@virt.example>: Temporary lookup failure"},

    /* Recipient validation (smtpd_reject_unlisted_recipient=yes). */
    {"", RCPT, NULL, NULL, NULL, NULL, "nobody@virt.example", NULL, V_REJECT,
     "550 5.1.1 <nobody@virt.example>: Recipient address rejected: User "
     "unknown in virtual mailbox table"},
    {"", RCPT, "127.0.0.1", NULL, NULL, NULL, "nobody@virt.example", NULL,
     V_REJECT,
     "550 5.1.1 <nobody@virt.example>: Recipient address rejected: User "
     "unknown in virtual mailbox table"},
    {"", RCPT, NULL, NULL, NULL, NULL, "nobody+user@virt.example", NULL,
     V_REJECT,
     "550 5.1.1 <nobody+user@virt.example>: Recipient address rejected: "
     "User unknown in virtual mailbox table"},
    {"recipient_delimiter=", RCPT, NULL, NULL, NULL, NULL,
     "user+tag@virt.example", NULL, V_REJECT,
     "550 5.1.1 <user+tag@virt.example>: Recipient address rejected: User "
     "unknown in virtual mailbox table"},
    {"recipient_delimiter=-+", RCPT, NULL, NULL, NULL, NULL,
     "user-tag@virt.example", NULL, V_OK, NULL},
    {"", RCPT, NULL, NULL, NULL, NULL, "+user@virt.example", NULL, V_REJECT,
     "550 5.1.1 <+user@virt.example>: Recipient address rejected: User "
     "unknown in virtual mailbox table"},
    {"", RCPT, NULL, NULL, NULL, NULL, "nobody@mx.example.com", NULL, V_REJECT,
     "550 5.1.1 <nobody@mx.example.com>: Recipient address rejected: User "
     "unknown in local recipient table"},
    /* Unqualified: nobody@$myorigin, not ours here (as Postfix). */
    {"", RCPT, NULL, NULL, NULL, NULL, "nobody", NULL, V_REJECT,
     "554 5.7.1 <nobody>: Relay access denied"},
    {"mydestination=$myhostname, $myorigin", RCPT, NULL, NULL, NULL, NULL,
     "nobody", NULL, V_REJECT,
     "550 5.1.1 <nobody>: Recipient address rejected: User unknown in "
     "local recipient table"},
    {"local_recipient_maps=", RCPT, NULL, NULL, NULL, NULL,
     "nobody@mx.example.com", NULL, V_OK, NULL},
    {"smtpd_reject_unlisted_recipient=no", RCPT, NULL, NULL, NULL, NULL,
     "nobody@virt.example", NULL, V_OK, NULL},
    {"smtpd_reject_unlisted_recipient=no\n" RR "reject_unlisted_recipient",
     RCPT, NULL, NULL, NULL, NULL, "nobody@virt.example", NULL, V_REJECT,
     "550 5.1.1 <nobody@virt.example>: Recipient address rejected: User "
     "unknown in virtual mailbox table"},
    {"unknown_virtual_mailbox_reject_code=450", RCPT, NULL, NULL, NULL, NULL,
     "nobody@virt.example", NULL, V_DEFER,
     "450 4.1.1 <nobody@virt.example>: Recipient address rejected: User "
     "unknown in virtual mailbox table"},
    {"unknown_local_recipient_reject_code=450", RCPT, NULL, NULL, NULL, NULL,
     "nobody@localhost", NULL, V_DEFER,
     "450 4.1.1 <nobody@localhost>: Recipient address rejected: User "
     "unknown in local recipient table"},
    /* virtual_alias_maps make any address valid; alias domains. */
    {"virtual_alias_maps=inline:{alias@virt.example=user@virt.example}", RCPT,
     NULL, NULL, NULL, NULL, "alias@virt.example", NULL, V_OK, NULL},
    {"virtual_alias_maps=inline:{@virt.example=user@virt.example}", RCPT, NULL,
     NULL, NULL, NULL, "anyone@virt.example", NULL, V_OK, NULL},
    {"virtual_alias_domains=valias.example\n"
     "virtual_alias_maps=inline:{a@valias.example=user@virt.example}",
     RCPT, NULL, NULL, NULL, NULL, "a@valias.example", NULL, V_OK, NULL},
    {"virtual_alias_domains=valias.example\n"
     "virtual_alias_maps=inline:{a@valias.example=user@virt.example}",
     RCPT, NULL, NULL, NULL, NULL, "b@valias.example", NULL, V_REJECT,
     "550 5.1.1 <b@valias.example>: Recipient address rejected: User "
     "unknown in virtual alias table"},
    {"virtual_alias_maps=inline:{valias.example=x, "
     "a@valias.example=user@virt.example}",
     RCPT, NULL, NULL, NULL, NULL, "b@valias.example", NULL, V_REJECT,
     "550 5.1.1 <b@valias.example>: Recipient address rejected: User "
     "unknown in virtual alias table"},
    {"canonical_maps=inline:{old@virt.example=user@virt.example}", RCPT, NULL,
     NULL, NULL, NULL, "old@virt.example", NULL, V_OK, NULL},
    {"virtual_mailbox_maps=lmdb:/nonexistent/posthorn/users", RCPT, NULL, NULL,
     NULL, NULL, "nobody@virt.example", NULL, V_DEFER,
     "451 4.3.0 <nobody@virt.example>: Temporary lookup failure"},
    {"virtual_mailbox_domains=lmdb:/nonexistent/posthorn/domains", RCPT, NULL,
     NULL, NULL, NULL, OUT, NULL, V_DEFER,
     "451 4.3.5 Server configuration error"},

    /* Access tables: every result. */
    {RR CRA("user@virt.example=REJECT"), RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},
    {RR CRA("{user@virt.example=REJECT go away}"), RCPT, NULL, NULL, NULL, NULL,
     U, NULL, V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: go away"},
    {RR CRA("{user@virt.example=reject 5.2.1 mailbox disabled}"), RCPT, NULL,
     NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.2.1 <user@virt.example>: Recipient address rejected: mailbox "
     "disabled"},
    {RR CRA("user@virt.example=DEFER"), RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_DEFER,
     "450 4.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},
    {RR CRA("{user@virt.example=DEFER try later}"), RCPT, NULL, NULL, NULL,
     NULL, U, NULL, V_DEFER,
     "450 4.7.1 <user@virt.example>: Recipient address rejected: try "
     "later"},
    {"access_map_reject_code=550\naccess_map_defer_code=451\n" RR CRA(
         "user@virt.example=REJECT"),
     RCPT, NULL, NULL, NULL, NULL, U, NULL, V_REJECT,
     "550 5.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},
    {RR CRA("{user@virt.example=550 go away}"), RCPT, NULL, NULL, NULL, NULL, U,
     NULL, V_REJECT,
     "550 5.7.1 <user@virt.example>: Recipient address rejected: go away"},
    {RR CRA("{user@virt.example=550 5.1.1 no such user}"), RCPT, NULL, NULL,
     NULL, NULL, U, NULL, V_REJECT,
     "550 5.1.1 <user@virt.example>: Recipient address rejected: no such "
     "user"},
    {RR CRA("{user@virt.example=550 5.1 not a code}"), RCPT, NULL, NULL, NULL,
     NULL, U, NULL, V_REJECT,
     "550 5.7.1 <user@virt.example>: Recipient address rejected: 5.1 not a "
     "code"},
    {RR CRA("{user@virt.example=REJECT 5.1.1x text}"), RCPT, NULL, NULL, NULL,
     NULL, U, NULL, V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: 5.1.1x "
     "text"},
    {RR CRA("{user@virt.example=REJECT 5.1234.1 text}"), RCPT, NULL, NULL, NULL,
     NULL, U, NULL, V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: 5.1234.1 "
     "text"},
    {RR CRA("{user@virt.example=REJECT 4.123.456}"), RCPT, NULL, NULL, NULL,
     NULL, U, NULL, V_REJECT,
     "554 5.123.456 <user@virt.example>: Recipient address rejected: "
     "Access denied"},
    {RR CRA("{user@virt.example=450 5.2.2 full}"), RCPT, NULL, NULL, NULL, NULL,
     U, NULL, V_DEFER,
     "450 4.2.2 <user@virt.example>: Recipient address rejected: full"},
    {RR CRA("user@virt.example=421"), RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_OK, NULL}, /* all digits: OK, as Postfix */
    {RR CRA("{user@virt.example=250 fine}"), RCPT, NULL, NULL, NULL, NULL, U,
     NULL, V_DEFER, "451 4.3.5 Server configuration error"},
    {RR CRA("user@virt.example=OK"), RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_OK, NULL},
    {RR CRA("user@virt.example=ok") ", reject", RCPT, NULL, NULL, NULL, NULL, U,
     NULL, V_OK, NULL},
    /* OK does not bypass recipient validation or relay control. */
    {RR CRA("nobody@virt.example=OK"), RCPT, NULL, NULL, NULL, NULL,
     "nobody@virt.example", NULL, V_REJECT,
     "550 5.1.1 <nobody@virt.example>: Recipient address rejected: User "
     "unknown in virtual mailbox table"},
    {RR CRA("x@outside.example=OK"), RCPT, NULL, NULL, NULL, NULL, OUT, NULL,
     V_REJECT, RA},
    {RR CRA("user@virt.example=DUNNO") ", reject", RCPT, NULL, NULL, NULL, NULL,
     U, NULL, V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},
    /* DUNNO stops the lookups in that table (the domain is not tried). */
    {RR CRA("user@virt.example=DUNNO, virt.example=REJECT"), RCPT, NULL, NULL,
     NULL, NULL, U, NULL, V_OK, NULL},
    {RR CRA("user@virt.example=12345"), RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_OK, NULL},
    {RR CRA("user@virt.example=bogus_action"), RCPT, NULL, NULL, NULL, NULL, U,
     NULL, V_DEFER, "451 4.3.5 Server configuration error"},
    {RR CRA("{user@virt.example=permit_mynetworks, reject}"), RCPT, NULL, NULL,
     NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},
    {RR CRA("{user@virt.example=permit_mynetworks, reject}"), RCPT, "127.0.0.1",
     NULL, NULL, NULL, U, NULL, V_OK, NULL},
    /* Lookup keys: unextended address, domain, parents, user@. */
    {RR CRA("user@virt.example=REJECT"), RCPT, NULL, NULL, NULL, NULL,
     "user+tag@virt.example", NULL, V_REJECT,
     "554 5.7.1 <user+tag@virt.example>: Recipient address rejected: "
     "Access denied"},
    {RR CRA("virt.example=REJECT"), RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},
    {RR CRA("example=REJECT"), RCPT, NULL, NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},
    {"parent_domain_matches_subdomains=\n" RR CRA("example=REJECT"), RCPT, NULL,
     NULL, NULL, NULL, U, NULL, V_OK, NULL},
    {"parent_domain_matches_subdomains=\n" RR CRA(".example=REJECT"), RCPT,
     NULL, NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},
    {RR CRA("user@=REJECT"), RCPT, NULL, NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},
    {RR CRA("user@=REJECT"), RCPT, NULL, NULL, NULL, NULL,
     "user+x@virt.example", NULL, V_REJECT,
     "554 5.7.1 <user+x@virt.example>: Recipient address rejected: Access "
     "denied"},
    {RR CRA("other@=REJECT"), RCPT, NULL, NULL, NULL, NULL, U, NULL, V_OK,
     NULL},
    /* Client access: name and parents, address and networks. */
    {"smtpd_client_restrictions=check_client_access "
     "inline:{192.0.2.10=REJECT}",
     RCPT, NULL, NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied"},
    {"smtpd_client_restrictions=check_client_access inline:{192.0.2=REJECT}",
     RCPT, NULL, NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied"},
    {"smtpd_client_restrictions=check_client_access inline:{192=REJECT}", RCPT,
     NULL, NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied"},
    {"smtpd_client_restrictions=check_client_access inline:{192.0.2.1=REJECT}",
     RCPT, NULL, NULL, NULL, NULL, U, NULL, V_OK, NULL},
    {"smtpd_client_restrictions=check_client_access "
     "inline:{bad.example=REJECT}",
     RCPT, NULL, "host.bad.example", NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <host.bad.example[192.0.2.10]>: Client host rejected: "
     "Access denied"},
    {"smtpd_client_restrictions=check_client_access "
     "inline:{unknown=REJECT}",
     RCPT, NULL, NULL, NULL, NULL, U, NULL, V_OK, NULL},
    {"smtpd_client_restrictions=check_client_access "
     "inline:{2001:db8:0:0:0:0:0:1=REJECT}",
     RCPT, "2001:db8::1", NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <unknown[2001:db8::1]>: Client host rejected: Access "
     "denied"},
    {"smtpd_client_restrictions=check_client_access "
     "inline:{2001:db8::1=REJECT}",
     RCPT, "2001:DB8::1", NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <unknown[2001:DB8::1]>: Client host rejected: Access "
     "denied"},
    {"smtpd_client_restrictions=check_client_access "
     "inline:{2001:db8=REJECT}",
     RCPT, "2001:db8::1", NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <unknown[2001:db8::1]>: Client host rejected: Access "
     "denied"},
    {"smtpd_client_restrictions=check_client_access "
     "inline:{{192.0.2.10=550 go away}}",
     RCPT, NULL, NULL, NULL, NULL, U, NULL, V_REJECT,
     "550 5.7.1 <unknown[192.0.2.10]>: Client host rejected: go away"},
    /* OK ends only its own list. */
    {"smtpd_client_restrictions=check_client_access "
     "inline:{192.0.2.10=OK}, reject",
     RCPT, NULL, NULL, NULL, NULL, OUT, NULL, V_REJECT, RA},
    /* Helo and sender access. */
    {"smtpd_helo_restrictions=check_helo_access inline:{bad.example=REJECT}",
     RCPT, NULL, NULL, "bad.example", NULL, U, NULL, V_REJECT,
     "554 5.7.1 <bad.example>: Helo command rejected: Access denied"},
    {"smtpd_helo_restrictions=check_helo_access inline:{bad.example=REJECT}",
     RCPT, NULL, NULL, "mx.bad.example", NULL, U, NULL, V_REJECT,
     "554 5.7.1 <mx.bad.example>: Helo command rejected: Access denied"},
    {"smtpd_helo_restrictions=check_helo_access inline:{bad.example=REJECT}",
     RCPT, NULL, NULL, NUL_, NULL, U, NULL, V_OK, NULL},
    {"smtpd_sender_restrictions=check_sender_access "
     "inline:{spam@evil.example=REJECT}",
     RCPT, NULL, NULL, NULL, "spam@evil.example", U, NULL, V_REJECT,
     "554 5.7.1 <spam@evil.example>: Sender address rejected: Access "
     "denied"},
    {"smtpd_sender_restrictions=check_sender_access "
     "inline:{evil.example=REJECT}",
     RCPT, NULL, NULL, NULL, "ham@evil.example", U, NULL, V_REJECT,
     "554 5.7.1 <ham@evil.example>: Sender address rejected: Access "
     "denied"},
    {"smtpd_sender_restrictions=check_sender_access "
     "inline:{{<>=550 no bounces here}}",
     RCPT, NULL, NULL, NULL, "", U, NULL, V_REJECT,
     "550 5.7.1 <>: Sender address rejected: no bounces here"},
    {"smtpd_sender_restrictions=check_sender_access "
     "inline:{evil.example=REJECT}",
     RCPT, NULL, NULL, NULL, "", U, NULL, V_OK, NULL},
    {"smtpd_sender_restrictions=check_recipient_access "
     "inline:{user@virt.example=REJECT}",
     RCPT, NULL, NULL, NULL, NULL, U, NULL, V_REJECT,
     "554 5.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},

    /* Generic permit/reject/defer and their reply context. */
    {"smtpd_client_restrictions=reject", RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_REJECT,
     "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied"},
    {"smtpd_client_restrictions=permit_mynetworks, reject", RCPT, "127.0.0.1",
     NULL, NULL, NULL, U, NULL, V_OK, NULL},
    {"smtpd_helo_restrictions=defer", RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_DEFER,
     "450 4.3.2 <mail.example.net>: Helo command rejected: Try again later"},
    {"smtpd_sender_restrictions=reject", RCPT, NULL, NULL, NULL, "", U, NULL,
     V_REJECT, "554 5.7.1 <>: Sender address rejected: Access denied"},
    {"reject_code=550\n" RR "reject", RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_REJECT,
     "550 5.7.1 <user@virt.example>: Recipient address rejected: Access "
     "denied"},
    {"defer_code=451\n" RR "DEFER", RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_DEFER,
     "451 4.3.2 <user@virt.example>: Recipient address rejected: Try again "
     "later"},
    {RR "dunno, permit", RCPT, NULL, NULL, NULL, NULL, U, NULL, V_OK, NULL},

    /* reject_non_fqdn_*. */
    {RR "reject_non_fqdn_sender", RCPT, NULL, NULL, NULL, "user@localhost", U,
     NULL, V_REJECT,
     "504 5.5.2 <user@localhost>: Sender address rejected: need "
     "fully-qualified address"},
    {RR "reject_non_fqdn_sender", RCPT, NULL, NULL, NULL, "user", U, NULL,
     V_REJECT,
     "504 5.5.2 <user>: Sender address rejected: need fully-qualified "
     "address"},
    {RR "reject_non_fqdn_sender", RCPT, NULL, NULL, NULL, "", U, NULL, V_OK,
     NULL},
    {RR "reject_non_fqdn_sender", RCPT, NULL, NULL, NULL, "u@[192.0.2.1]", U,
     NULL, V_OK, NULL},
    {RR "reject_non_fqdn_sender", RCPT, NULL, NULL, NULL, "u@[bogus]", U, NULL,
     V_REJECT,
     "504 5.5.2 <u@[bogus]>: Sender address rejected: need fully-qualified "
     "address"},
    {RR "reject_non_fqdn_sender", RCPT, NULL, NULL, NULL, "u@example.com.", U,
     NULL, V_OK, NULL},
    {RR "reject_non_fqdn_sender", RCPT, NULL, NULL, NULL, NUL_, U, NULL, V_OK,
     NULL},
    {"non_fqdn_reject_code=550\n" RR "reject_non_fqdn_recipient", RCPT, NULL,
     NULL, NULL, NULL, "root@localhost", NULL, V_REJECT,
     "550 5.5.2 <root@localhost>: Recipient address rejected: need "
     "fully-qualified address"},
    {RR "reject_non_fqdn_recipient", RCPT, NULL, NULL, NULL, NULL, "postmaster",
     NULL, V_OK, NULL},
    {RR "reject_non_fqdn_recipient", RCPT, NULL, NULL, NULL, NULL, U, NULL,
     V_OK, NULL},
    {RR "reject_non_fqdn_helo_hostname", RCPT, NULL, NULL, "localhost", NULL, U,
     NULL, V_REJECT,
     "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified "
     "hostname"},
    {RR "reject_non_fqdn_hostname", RCPT, NULL, NULL, "[192.0.2.1]", NULL, U,
     NULL, V_OK, NULL},
    {RR "reject_non_fqdn_helo_hostname", RCPT, NULL, NULL, "192.0.2.1", NULL, U,
     NULL, V_OK, NULL},
    {RR "reject_non_fqdn_helo_hostname", RCPT, NULL, NULL, "mail.example.com",
     NULL, U, NULL, V_OK, NULL},
    {RR "reject_non_fqdn_helo_hostname", RCPT, NULL, NULL, NUL_, NULL, U, NULL,
     V_OK, NULL},
    /* reject_invalid_helo_hostname. */
    {RR "reject_invalid_helo_hostname", RCPT, NULL, NULL, "bad_host!", NULL, U,
     NULL, V_REJECT,
     "501 5.5.2 <bad_host!>: Helo command rejected: Invalid name"},
    {RR "reject_invalid_hostname", RCPT, NULL, NULL, "-bad.example", NULL, U,
     NULL, V_REJECT,
     "501 5.5.2 <-bad.example>: Helo command rejected: Invalid name"},
    {RR "reject_invalid_helo_hostname", RCPT, NULL, NULL, "a..b", NULL, U, NULL,
     V_REJECT, "501 5.5.2 <a..b>: Helo command rejected: Invalid name"},
    {RR "reject_invalid_helo_hostname", RCPT, NULL, NULL, "123.456", NULL, U,
     NULL, V_REJECT,
     "501 5.5.2 <123.456>: Helo command rejected: Invalid name"},
    {RR "reject_invalid_helo_hostname", RCPT, NULL, NULL, "[bogus]", NULL, U,
     NULL, V_REJECT,
     "501 5.5.2 <[bogus]>: Helo command rejected: Invalid name"},
    {RR "reject_invalid_helo_hostname", RCPT, NULL, NULL, "a\r\nb", NULL, U,
     NULL, V_REJECT, "501 5.5.2 <a??b>: Helo command rejected: Invalid name"},
    {RR "reject_invalid_helo_hostname", RCPT, NULL, NULL, "", NULL, U, NULL,
     V_REJECT, "501 5.5.2 <>: Helo command rejected: Invalid name"},
    {RR "reject_invalid_helo_hostname", RCPT, NULL, NULL,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x", NULL,
     U, NULL, V_REJECT,
     "501 5.5.2 "
     "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x>: "
     "Helo command rejected: Invalid name"},
    {RR "reject_invalid_helo_hostname", RCPT, NULL, NULL, "localhost", NULL, U,
     NULL, V_OK, NULL},
    {RR "reject_invalid_helo_hostname", RCPT, NULL, NULL, "[IPv6:::1]", NULL, U,
     NULL, V_OK, NULL},
    {RR "reject_invalid_helo_hostname", RCPT, NULL, NULL, "my_host.x-y.ex",
     NULL, U, NULL, V_OK, NULL},

    /* smtpd_delay_reject. */
    {"smtpd_client_restrictions=reject", CONN, NULL, NULL, NUL_, NUL_, NUL_,
     NULL, V_OK, NULL},
    {"smtpd_client_restrictions=reject", HELO, NULL, NULL, NULL, NUL_, NUL_,
     NULL, V_OK, NULL},
    {"smtpd_client_restrictions=reject", MAIL, NULL, NULL, NULL, NULL, NUL_,
     NULL, V_OK, NULL},
    {"smtpd_delay_reject=no\nsmtpd_client_restrictions=reject", CONN, NULL,
     NULL, NUL_, NUL_, NUL_, NULL, V_REJECT,
     "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied"},
    {"smtpd_delay_reject=no\nsmtpd_client_restrictions=reject", RCPT, NULL,
     NULL, NULL, NULL, U, NULL, V_OK, NULL},
    {"smtpd_delay_reject=no\nsmtpd_helo_restrictions="
     "reject_invalid_helo_hostname",
     HELO, NULL, NULL, "bad!", NUL_, NUL_, NULL, V_REJECT,
     "501 5.5.2 <bad!>: Helo command rejected: Invalid name"},
    {"smtpd_helo_restrictions=reject_invalid_helo_hostname", HELO, NULL, NULL,
     "bad!", NUL_, NUL_, NULL, V_OK, NULL},
    {"smtpd_helo_restrictions=reject_invalid_helo_hostname", RCPT, NULL, NULL,
     "bad!", NULL, U, NULL, V_REJECT,
     "501 5.5.2 <bad!>: Helo command rejected: Invalid name"},
    {"smtpd_delay_reject=no\nsmtpd_sender_restrictions=reject_non_fqdn_"
     "sender",
     MAIL, NULL, NULL, NULL, "u@localhost", NUL_, NULL, V_REJECT,
     "504 5.5.2 <u@localhost>: Sender address rejected: need "
     "fully-qualified address"},
    {"smtpd_delay_reject=no\nsmtpd_client_restrictions="
     "reject_unauth_destination",
     CONN, NULL, NULL, NUL_, NUL_, NUL_, NULL, V_OK, NULL},
    /* Client restrictions come first at RCPT time. */
    {"smtpd_client_restrictions=reject\nsmtpd_helo_restrictions=defer", RCPT,
     NULL, NULL, NULL, NULL, OUT, NULL, V_REJECT,
     "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied"},
    {"smtpd_sender_restrictions=defer", RCPT, NULL, NULL, NULL, NULL, OUT, NULL,
     V_DEFER,
     "450 4.3.2 <s@example.net>: Sender address rejected: Try again later"},
    /* Relay restrictions before recipient restrictions. */
    {RR "defer", RCPT, NULL, NULL, NULL, NULL, OUT, NULL, V_REJECT, RA},
};

static struct config *make_config(const char *settings)
{
	struct config *c = config_create();
	char *copy = mem_strdup(settings), *line, *p = copy;

	for (size_t i = 0; base_settings[i]; i++) {
		char *s = mem_strdup(base_settings[i]), *eq = strchr(s, '=');

		*eq = 0;
		ck_assert_int_eq(config_set(c, s, eq + 1), 0);
		mem_free(s);
	}
	while ((line = strsep(&p, "\n")) != NULL) {
		char *eq = strchr(line, '=');

		if (*line == 0)
			continue;
		ck_assert_ptr_nonnull(eq);
		*eq = 0;
		ck_assert_msg(config_set(c, line, eq + 1) == 0, "set %s", line);
	}
	mem_free(copy);
	return c;
}

static const char *fact(const char *given, const char *def)
{
	if (given == NULL)
		return def;
	return strcmp(given, NUL_) == 0 ? NULL : given;
}

START_TEST(test_rows)
{
	const struct row *r = &rows[_i];
	struct config *c = make_config(r->settings);
	struct policy *p = policy_create(c);
	struct policy_facts f = {
	    .client_address = fact(r->client, "192.0.2.10"),
	    .client_name = fact(r->name, "unknown"),
	    .helo = fact(r->helo, "mail.example.net"),
	    .protocol = "ESMTP",
	    .sender = fact(r->sender, "s@example.net"),
	    .recipient = fact(r->rcpt, U),
	    .sasl_username = r->sasl,
	};
	struct policy_result out;
	enum policy_verdict v;

	/* Twice: tables are kept open and results must not change. */
	for (int round = 0; round < 2; round++) {
		v = policy_check(p, r->stage, &f, &out);
		ck_assert_msg((int)v == r->verdict,
		              "row %d: verdict %d, want %d (%s)", _i, (int)v,
		              r->verdict, out.reply);
		ck_assert_int_eq((int)out.verdict, (int)v);
		if (r->verdict == V_OK) {
			ck_assert_str_eq(out.reply, "");
			ck_assert_int_eq(out.code, 0);
		} else {
			ck_assert_msg(strcmp(out.reply, r->reply) == 0,
			              "row %d: reply \"%s\", want \"%s\"", _i,
			              out.reply, r->reply);
			ck_assert_int_eq(out.code, atoi(r->reply));
		}
	}
	policy_destroy(&p);
	ck_assert_ptr_null(p);
	config_destroy(&c);
}
END_TEST

/* With no settings at all (the parameter table's defaults) the server is
 * no open relay, whoever asks. */
START_TEST(test_defaults_never_relay)
{
	struct config *c = config_create();
	struct policy *p = policy_create(c);
	static const char *const clients[] = {"192.0.2.1",
	                                      "10.0.0.1",
	                                      "172.16.0.1",
	                                      "192.168.1.1",
	                                      "2001:db8::1",
	                                      "fe80::1",
	                                      "::ffff:192.0.2.1",
	                                      "0.0.0.0",
	                                      "255.255.255.255",
	                                      "unknown",
	                                      "",
	                                      "[127.0.0.1]x"};
	static const char *const rcpts[] = {
	    "x@outside.example", "x@outside.example.",
	    "\"x@y\"@localhost", "x%outside.example@localhost",
	    "x!y@localhost",     "x@[192.0.2.1]",
	    "x@localhost.evil",  "@x:y@outside.example"};
	struct policy_result out;

	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		for (size_t j = 0; j < sizeof(rcpts) / sizeof(rcpts[0]); j++) {
			struct policy_facts f = {.client_address = clients[i],
			                         .client_name = "unknown",
			                         .helo = "x.example",
			                         .sender = "a@example.com",
			                         .recipient = rcpts[j]};

			ck_assert_msg(policy_check(p, POLICY_STAGE_RCPT, &f,
			                           &out) == POLICY_REJECT,
			              "%s -> %s: %s", clients[i], rcpts[j],
			              out.reply);
			ck_assert_msg(strstr(out.reply, "Relay access denied"),
			              "%s", out.reply);
		}
	}
	ck_assert(policy_delay_reject(p));
	policy_destroy(&p);
	config_destroy(&c);
}
END_TEST

START_TEST(test_log_format)
{
	struct config *c = make_config("");
	struct policy *p = policy_create(c);
	struct policy_facts f = {.client_address = "192.0.2.10",
	                         .client_name = "unknown",
	                         .helo = "mail.example.net",
	                         .protocol = "ESMTP",
	                         .sender = "s@example.net",
	                         .recipient = OUT};
	struct policy_result out;
	struct buf *log = buf_create(0, 0);

	ck_assert_int_eq(policy_check(p, POLICY_STAGE_RCPT, &f, &out),
	                 POLICY_REJECT);
	policy_log_format(&f, "RCPT", &out, log);
	ck_assert_str_eq(buf_str(log),
	                 "reject: RCPT from unknown[192.0.2.10]: 554 5.7.1 "
	                 "<x@outside.example>: Relay access denied; "
	                 "from=<s@example.net> to=<x@outside.example> "
	                 "proto=ESMTP helo=<mail.example.net>");
	f.sender = "";
	f.helo = NULL;
	f.protocol = NULL;
	f.client_name = "mail.example.org";
	policy_log_format(&f, "RCPT", &out, log);
	ck_assert_str_eq(buf_str(log),
	                 "reject: RCPT from mail.example.org[192.0.2.10]: 554 "
	                 "5.7.1 <x@outside.example>: Relay access denied; "
	                 "from=<> to=<x@outside.example>");
	f.recipient = NULL;
	f.sender = NULL;
	policy_log_format(&f, "CONNECT", &out, log);
	ck_assert_str_eq(buf_str(log),
	                 "reject: CONNECT from mail.example.org[192.0.2.10]: "
	                 "554 5.7.1 <x@outside.example>: Relay access denied;");
	buf_destroy(&log);
	policy_destroy(&p);
	config_destroy(&c);
}
END_TEST

/* Overlong text from a table or a client is cut, never overrun. */
START_TEST(test_long_reply)
{
	char settings[3000], rcpt[300];
	struct config *c;
	struct policy *p;
	struct policy_result out;
	struct policy_facts f = {.client_address = "192.0.2.10",
	                         .sender = "s@example.net"};
	int n;

	memset(rcpt, 'r', 240);
	strcpy(rcpt + 240, "@virt.example");
	n = snprintf(settings, sizeof(settings),
	             RR "check_recipient_access inline:{{%s=REJECT ", rcpt);
	memset(settings + n, 't', 1000);
	strcpy(settings + n + 1000, "}}");
	c = make_config(settings);
	p = policy_create(c);
	f.recipient = rcpt;
	ck_assert_int_eq(policy_check(p, POLICY_STAGE_RCPT, &f, &out),
	                 POLICY_REJECT);
	ck_assert_uint_eq(strlen(out.reply), POLICY_REPLY_MAX);
	ck_assert(strncmp(out.reply, "554 5.7.1 <rrr", 14) == 0);
	policy_destroy(&p);
	config_destroy(&c);
}
END_TEST

START_TEST(test_valid_hostname)
{
	static const struct {
		const char *name;
		bool ok;
	} v[] = {
	    {"localhost", true},
	    {"mail.example.com", true},
	    {"a", true},
	    {"a-b.c_d.e1", true},
	    {"1a.example", true},
	    {"1.2.3.4", false},
	    {"", false},
	    {".", false},
	    {"a.", false},
	    {".a", false},
	    {"a..b", false},
	    {"-a", false},
	    {"a-", false},
	    {"a-.b", false},
	    {"a b", false},
	    {"a\nb", false},
	    {"\xc3\xa9.example", false},
	    {"[1.2.3.4]", false},
	};
	char big[300];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		ck_assert_msg(policy_valid_hostname(v[i].name) == v[i].ok,
		              "\"%s\"", v[i].name);
	ck_assert(!policy_valid_hostname(NULL));
	memset(big, 'a', 63);
	big[63] = 0;
	ck_assert(policy_valid_hostname(big));
	memset(big, 'a', 64);
	big[64] = 0;
	ck_assert(!policy_valid_hostname(big));
	for (int i = 0; i < 128; i++)
		memcpy(big + 2 * i, "a.", 2);
	big[255] = 0; /* 255 octets, ends in 'a' */
	ck_assert(policy_valid_hostname(big));
	big[255] = 'a';
	big[256] = 0;
	ck_assert(!policy_valid_hostname(big));
}
END_TEST

/* A fresh temporary directory (dir holds 256 bytes). */
static void tmp_make(char *dir)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, 256, "%s/posthorn-policy-XXXXXX",
	         base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void tmp_remove(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write text to path and compile it to path.lmdb: n entries. */
static void build_table(const char *path, const char *text, long n)
{
	struct buf *err = buf_create(0, 4096);
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_msg(map_build_text(path, err) == n, "%s", buf_str(err));
	buf_destroy(&err);
}

/* The users map (DIR/users compiled by `posthorn map build`, lmdb) as
 * virtual_mailbox_maps; check_recipient_access with an lmdb table. */
START_TEST(test_lmdb_maps)
{
	char dir[256], users[300], access[300], settings[1000];
	struct config *c;
	struct policy *p;
	struct policy_result out;
	struct policy_facts f = {.client_address = "192.0.2.10",
	                         .sender = "s@example.net"};

	tmp_make(dir);
	snprintf(users, sizeof(users), "%s/users", dir);
	snprintf(access, sizeof(access), "%s/access", dir);
	build_table(users,
	            "alice@virt.example $6$salt$hash quota=1000\n"
	            "bob@virt.example $2b$05$xyz enabled=no\n",
	            2);
	build_table(access, "bob@virt.example REJECT mailbox closed\n", 1);
	snprintf(settings, sizeof(settings),
	         "virtual_mailbox_maps=lmdb:%s\n" RR
	         "check_recipient_access lmdb:%s",
	         users, access);
	c = make_config(settings);
	p = policy_create(c);
	f.recipient = "alice@virt.example";
	ck_assert_int_eq(policy_check(p, POLICY_STAGE_RCPT, &f, &out),
	                 POLICY_OK);
	f.recipient = "Alice+box@Virt.Example";
	ck_assert_int_eq(policy_check(p, POLICY_STAGE_RCPT, &f, &out),
	                 POLICY_OK);
	f.recipient = "carol@virt.example";
	ck_assert_int_eq(policy_check(p, POLICY_STAGE_RCPT, &f, &out),
	                 POLICY_REJECT);
	ck_assert_str_eq(out.reply, "550 5.1.1 <carol@virt.example>: Recipient "
	                            "address rejected: User unknown in "
	                            "virtual mailbox table");
	f.recipient = "bob@virt.example";
	ck_assert_int_eq(policy_check(p, POLICY_STAGE_RCPT, &f, &out),
	                 POLICY_REJECT);
	ck_assert_str_eq(out.reply, "554 5.7.1 <bob@virt.example>: Recipient "
	                            "address rejected: mailbox closed");
	/* A rebuilt users map is noticed without a new policy. */
	build_table(users, "carol@virt.example x\n", 1);
	f.recipient = "carol@virt.example";
	ck_assert_int_eq(policy_check(p, POLICY_STAGE_RCPT, &f, &out),
	                 POLICY_OK);
	policy_destroy(&p);
	config_destroy(&c);
	tmp_remove(dir);
}
END_TEST

/* A table that cannot be opened is retried on the next check. */
START_TEST(test_table_retry)
{
	char dir[256], access[300], settings[1000];
	struct config *c;
	struct policy *p;
	struct policy_result out;
	struct policy_facts f = {.client_address = "192.0.2.10",
	                         .sender = "s@example.net",
	                         .recipient = U};

	tmp_make(dir);
	snprintf(access, sizeof(access), "%s/access", dir);
	snprintf(settings, sizeof(settings),
	         RR "check_recipient_access lmdb:%s", access);
	c = make_config(settings);
	p = policy_create(c);
	ck_assert_int_eq(policy_check(p, POLICY_STAGE_RCPT, &f, &out),
	                 POLICY_DEFER);
	ck_assert_str_eq(out.reply, "451 4.3.0 <user@virt.example>: Temporary "
	                            "lookup failure");
	build_table(access, "user@virt.example REJECT\n", 1);
	ck_assert_int_eq(policy_check(p, POLICY_STAGE_RCPT, &f, &out),
	                 POLICY_REJECT);
	policy_destroy(&p);
	config_destroy(&c);
	tmp_remove(dir);
}
END_TEST

/* Access-table results that name restriction lists nest only so deep. */
START_TEST(test_nesting)
{
	struct config *c = make_config(
	    RR "check_recipient_access inline:{{user@virt.example="
	       "check_recipient_access inline:{{user@virt.example=reject}}}}");
	struct policy *p = policy_create(c);
	struct policy_facts f = {.client_address = "192.0.2.10",
	                         .sender = "s@example.net",
	                         .recipient = U};
	struct policy_result out;

	ck_assert_int_eq(policy_check(p, POLICY_STAGE_RCPT, &f, &out),
	                 POLICY_REJECT);
	ck_assert_str_eq(out.reply, "554 5.7.1 <user@virt.example>: Recipient "
	                            "address rejected: Access denied");
	policy_destroy(&p);
	config_destroy(&c);
}
END_TEST

/* Connection limits without an anvil service: fail open. */
START_TEST(test_limits_fail_open)
{
	struct config *c = make_config("smtpd_client_event_limit_exceptions=\n"
	                               "smtpd_client_connection_count_limit=1");
	struct policy *p = policy_create(c);
	struct policy_facts f = {.client_address = "192.0.2.10"};
	struct policy_result out;

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(policy_connect_limits(p, &f, "smtp", &out),
		                 POLICY_OK);
		ck_assert_str_eq(out.reply, "");
	}
	policy_disconnect(p, &f, "smtp");
	policy_disconnect(p, &f, "smtp");
	policy_destroy(&p);
	config_destroy(&c);
}
END_TEST

Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_rows, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_defaults_never_relay);
	tcase_add_test(tc, test_log_format);
	tcase_add_test(tc, test_long_reply);
	tcase_add_test(tc, test_valid_hostname);
	tcase_add_test(tc, test_lmdb_maps);
	tcase_add_test(tc, test_table_retry);
	tcase_add_test(tc, test_nesting);
	tcase_add_test(tc, test_limits_fail_open);
	suite_add_tcase(s, tc);
	return s;
}
