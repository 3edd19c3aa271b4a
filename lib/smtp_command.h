/* smtp_command.h: pure parsers for SMTP server command lines (RFC 5321
 * 4.1): the verb and its argument, the MAIL FROM and RCPT TO paths with
 * their ESMTP parameters (RFC 1869/5321 4.1.2 syntax; SIZE RFC 1870,
 * BODY RFC 6152, SMTPUTF8 RFC 6531, RET/ENVID/NOTIFY/ORCPT RFC 3461,
 * AUTH RFC 4954), BDAT arguments (RFC 3030) and xtext (RFC 3461 4). No
 * I/O, no configuration: smtpd applies its limits and policy to the
 * results. Fuzzed by tests/fuzz/fuzz_smtp_command.c. */
#ifndef POSTHORN_SMTP_COMMAND_H
#define POSTHORN_SMTP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its
 * CRLF. Extensions raise that for MAIL and RCPT: RFC 1870 (SIZE, 26),
 * RFC 6152 (BODY, 14), RFC 6531 (SMTPUTF8, 10), RFC 3461 5 (ENVID and RET
 * 100; NOTIFY and ORCPT 500), RFC 4954 5 (AUTH=, 500). */
#define SMTP_LINE_MAX 512
#define SMTP_MAIL_LINE_MAX (SMTP_LINE_MAX + 26 + 14 + 10 + 100 + 500)
#define SMTP_RCPT_LINE_MAX (SMTP_LINE_MAX + 500)
/* RFC 4954 4: AUTH with an initial response, 12288 octets. */
#define SMTP_AUTH_LINE_MAX 12288
/* The longest line any command may have (what a reader must buffer). */
#define SMTP_LINE_MAX_ANY SMTP_AUTH_LINE_MAX

/* RFC 3461 4.4 / 4.2: ENVID at most 100 characters, ORCPT 500. */
#define SMTP_ENVID_MAX 100
#define SMTP_ORCPT_MAX 500
/* At most this many ESMTP parameters on one MAIL or RCPT. */
#define SMTP_PARAMS_MAX 16

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_ETRN,
	SMTP_VERB_QUIT,
	SMTP_VERB_COUNT
};

/* One command line split in two. arg points into the line (not
 * NUL-terminated there: use arglen); leading and trailing SP/HTAB are
 * not part of it. */
struct smtp_command {
	enum smtp_verb verb;
	const char *arg;
	size_t arglen;
};

/* Split line[0..len) (without its line end) into verb and argument. The
 * verb is the first word, matched ASCII case-insensitively; the argument
 * follows one or more SP/HTAB. Returns 0, or -1 (cmd untouched) when the
 * line holds a NUL or another control character besides HTAB: such a
 * line is refused whatever its verb. An empty line or an unknown word
 * gives SMTP_VERB_UNKNOWN. */
int smtp_command_parse(const char *line, size_t len, struct smtp_command *cmd);
/* The verb in lower case for log lines ("ehlo", "unknown"). */
const char *smtp_verb_name(enum smtp_verb verb);
/* The longest line (octets, line end included) the verb may have. */
size_t smtp_verb_line_max(enum smtp_verb verb);

/* A refusal by a parser: the reply code, the enhanced status code (RFC
 * 3463) and a short text, ready for "CODE DSN TEXT". */
struct smtp_parse_error {
	int code; /* 501, 552, 553, 555 */
	const char *dsn; /* "5.5.4" */
	char text[160];
};

/* RFC 6152 BODY= values. */
enum smtp_body {
	SMTP_BODY_NONE = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

/* What MAIL FROM said. */
struct smtp_mail_args {
	long long size; /* SIZE=, -1 when absent */
	enum smtp_body body; /* BODY= */
	bool smtputf8; /* SMTPUTF8 */
	const char *ret; /* RET=: "FULL", "HDRS" or NULL */
	bool have_envid;
	char envid[SMTP_ENVID_MAX + 1]; /* ENVID=, xtext-decoded */
	bool have_auth;
	char auth[SMTP_ORCPT_MAX + 1]; /* AUTH=, xtext-decoded ("<>" kept) */
};

/* Parse the argument of MAIL ("FROM:<path> [params]"): replace sender with
 * the mailbox ("" for <>), fill args. A path with non-ASCII bytes needs
 * the SMTPUTF8 parameter (553 5.6.7). size_limit > 0: a SIZE= above it is
 * 552 5.3.4. Returns 0, or -1 with err filled (sender and args may then
 * hold partial results). */
int smtp_mail_parse(const char *arg, size_t len, long long size_limit,
                    struct buf *sender, struct smtp_mail_args *args,
                    struct smtp_parse_error *err);

/* What RCPT TO said. */
struct smtp_rcpt_args {
	int notify; /* QUEUE_NOTIFY_* flags, 0 when absent */
	bool have_orcpt;
	/* ORCPT= as "addr-type;decoded" (e.g. "rfc822;a@example.org") */
	char orcpt[SMTP_ORCPT_MAX + 1];
};

/* Parse the argument of RCPT ("TO:<path> [params]"): replace rcpt with the
 * mailbox ("postmaster" for <Postmaster>). smtputf8: whether MAIL said
 * SMTPUTF8 (else a non-ASCII path is 553 5.6.7). 0, or -1 with err. */
int smtp_rcpt_parse(const char *arg, size_t len, bool smtputf8,
                    struct buf *rcpt, struct smtp_rcpt_args *args,
                    struct smtp_parse_error *err);

/* The largest BDAT chunk size the parser accepts (a larger number is a
 * syntax error; smtpd enforces message_size_limit by reading and
 * discarding). */
#define SMTP_BDAT_SIZE_MAX (1LL << 50)

/* Parse the argument of BDAT ("SIZE [LAST]", RFC 3030 2): the chunk size
 * (decimal, at most SMTP_BDAT_SIZE_MAX) and whether it is the last. 0, or
 * -1 with err (501 5.5.4: the chunk boundary is then unknown). */
int smtp_bdat_parse(const char *arg, size_t len, long long *size, bool *last,
                    struct smtp_parse_error *err);

/* RFC 3461 4: decode xtext in[0..len) ("+HH" for the bytes outside
 * "!".."~", '+' and '='), replacing out. -1 (out undefined) when
 * malformed (bad or lower-case hex, a byte not allowed raw) or past out's
 * limit; decoded NUL bytes are refused too. */
int smtp_xtext_decode(const char *in, size_t len, struct buf *out);
/* Append the xtext form of in[0..len) to out; -1 past out's limit. */
int smtp_xtext_encode(const char *in, size_t len, struct buf *out);

#endif
