/*
 * address.h: mail address parsers. SMTP paths (RFC 5321 4.1.2) for
 * MAIL FROM / RCPT TO, and header address lists (RFC 5322 3.4) for From:,
 * To:, Cc: (sendmail -t). Both return mailboxes in one canonical form,
 * "local@domain", where the local part keeps its quotes only when it is not
 * a dot-atom ("\"a b\"@example.com"); the domain keeps its case.
 */
#ifndef POSTHORN_ADDRESS_H
#define POSTHORN_ADDRESS_H

#include <stddef.h>

struct buf;

/* Flags for address_parse_path (and ADDRESS_ALLOW_UTF8,
 * ADDRESS_ALLOW_BARE_LOCAL for address_list_parse). */
#define ADDRESS_ALLOW_UTF8 0x01u /* RFC 6531/6532: UTF-8 in addresses */
#define ADDRESS_ALLOW_NULL 0x02u /* "<>" (MAIL FROM) */
#define ADDRESS_ALLOW_NO_BRACKETS 0x04u /* lax "MAIL FROM:user@x" */
#define ADDRESS_ALLOW_POSTMASTER 0x08u /* "<Postmaster>" (RCPT TO) */
#define ADDRESS_ALLOW_BARE_LOCAL 0x10u /* header lists: "To: john" */

/* RFC 5321 4.5.3.1: size limits in octets. */
#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 255
#define ADDRESS_PATH_MAX 256 /* "<" ... ">", source route included */
#define ADDRESS_MAILBOX_MAX (ADDRESS_PATH_MAX - 2)

/* Header address lists: input bound (Postfix header_size_limit default)
 * and comment nesting bound. */
#define ADDRESS_LIST_INPUT_MAX 102400
#define ADDRESS_COMMENT_DEPTH_MAX 32

/*
 * Parse an SMTP reverse-path or forward-path: in[0..len) starts at the '<'
 * (leading SP/HTAB are skipped) and may hold anything after the path, e.g.
 * ESMTP parameters; it need not be NUL-terminated and may contain NULs.
 *
 * On success returns 0, replaces addr with the mailbox ("local@domain",
 * "" for the null path "<>", "postmaster" for "<Postmaster>" when
 * ADDRESS_ALLOW_POSTMASTER is set) and sets *consumed to the number of
 * bytes through the closing '>' (through the mailbox without brackets).
 * What follows must be the end of the input or SP/HTAB (the caller parses
 * the parameters there); the caller strips the CRLF beforehand.
 *
 * Source routes ("<@a,@b:user@c>") are accepted and dropped (RFC 5321
 * 4.1.2, Appendix C). Domains are sub-domains (labels of letters, digits,
 * hyphens, at most 63 octets; UTF-8 U-labels with ADDRESS_ALLOW_UTF8) or
 * address literals ([IPv4], [IPv6:...], [tag:content]). UTF-8 must be well
 * formed (no overlongs, surrogates or C1 controls) and needs
 * ADDRESS_ALLOW_UTF8.
 *
 * On failure returns -1, sets *why (if why is not NULL) to a short reason
 * ("bad address syntax", "local part too long", ...) and leaves addr and
 * *consumed untouched.
 */
int address_parse_path(const char *in, size_t len, unsigned flags,
                       struct buf *addr, size_t *consumed, const char **why);

/* Split a canonical address at the last '@' outside quotes: replace local
 * (still quoted if it was) and domain. -1 (outputs untouched) if there is
 * no such '@' or a part does not fit its buffer. */
int address_split(const char *addr, struct buf *local, struct buf *domain);

/* Append local to out, quoted ("\"a b\"", with '"' and '\' escaped) unless
 * it is a dot-atom. -1 (out untouched) if local holds a control character
 * (which no SMTP quoting can carry) or out's limit is reached. Bytes >= 0x80
 * count as atext (RFC 6531); the caller has validated them. */
int address_quote_local(const char *local, struct buf *out);

/* Replace out with local, unquoted if it is a quoted string ("\"a b\"" ->
 * "a b"); -1 (out untouched) on a malformed quoted string or out's limit. */
int address_unquote_local(const char *local, struct buf *out);

/* Lowercase the ASCII letters of the domain (after the last '@' outside
 * quotes) of a NUL-terminated address, in place. */
void address_lowercase_domain(char *addr);

/* A parsed header address list; opaque. */
struct address_list;

/*
 * Parse an RFC 5322 3.4 address-list (a header value, folding allowed,
 * CRLF or bare LF): mailboxes with or without display names, groups,
 * comments (nested at most ADDRESS_COMMENT_DEPTH_MAX), quoted strings,
 * obsolete routes in angle addresses, empty list elements. flags: 0 or
 * ADDRESS_ALLOW_UTF8 (UTF-8 in addresses) and ADDRESS_ALLOW_BARE_LOCAL (an
 * address without "@domain" is returned as its local part only; the caller
 * adds its own domain). Display names may hold any 8-bit bytes; RFC 2047
 * encoded-words are not decoded. Addresses obey the same limits as SMTP
 * paths, since they become envelope addresses.
 *
 * Returns a list (possibly empty) to free with address_list_destroy, or
 * NULL with *why set (if why is not NULL) on a syntax error, more than
 * max_addresses mailboxes, or more than ADDRESS_LIST_INPUT_MAX bytes.
 */
struct address_list *address_list_parse(const char *in, size_t len,
                                        unsigned flags, size_t max_addresses,
                                        const char **why);
/* Free the list and set *lp to NULL. */
void address_list_destroy(struct address_list **lp);
/* Number of mailboxes (members of groups included; empty groups add none). */
size_t address_list_count(const struct address_list *l);
/* Mailbox i as "local@domain" (i < count, else msg_panic). */
const char *address_list_addr(const struct address_list *l, size_t i);
/* Display name of mailbox i: its words unquoted, joined by one space where
 * the input had white space or comments; "" if none. */
const char *address_list_display_name(const struct address_list *l, size_t i);
/* Name of the group holding mailbox i, or NULL if it is not in a group. */
const char *address_list_group(const struct address_list *l, size_t i);

#endif
