/*
 * policy.c: smtpd access policy (policy.h, docs/policy.md): Postfix's
 * restriction lists (smtpd_{client,helo,sender,relay,recipient}_
 * restrictions), relay control, access tables, recipient validation and
 * the anvil connection limits. Owns struct policy: the parsed lists, the
 * domain lists, mynetworks, and every table it opened (kept for the
 * process's life; a table that fails to open is retried on next use).
 * RFC 5321 4.2.2/4.2.3 (reply codes), RFC 3463 (enhanced status codes),
 * RFC 5321 4.1.4 (<Postmaster> is always accepted), RFC 4954 5 (the
 * sender login checks, ownership in lib/sender_login.c).
 * SECURITY: restriction lists and tables are trusted (main.cf, built by
 * root). Facts come from the SMTP client (already parsed and bounded by
 * smtpd: addresses per RFC 5321 4.5.3.1, HELO by the command length);
 * here they are only compared and used as lookup keys (bounded below) and
 * copied into replies, where control characters are replaced and the line
 * is cut at POLICY_REPLY_MAX. Access-table results may name restriction
 * lists; their nesting is bounded (POLICY_DEPTH_MAX).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "anvil_client.h"
#include "cidr.h"
#include "domain_list.h"
#include "map.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "policy.h"
#include "sender_login.h"
#include "str.h"

/* Nesting of restriction lists named by access-table results. */
#define POLICY_DEPTH_MAX 10
/* Longest lookup key built here (address + a few bytes). */
#define POLICY_KEY_MAX 600

enum restriction_kind {
	R_PERMIT,
	R_REJECT,
	R_DEFER,
	R_DUNNO,
	R_PERMIT_MYNETWORKS,
	R_PERMIT_SASL_AUTHENTICATED,
	R_PERMIT_AUTH_DESTINATION,
	R_REJECT_UNAUTH_DESTINATION,
	R_DEFER_UNAUTH_DESTINATION,
	R_REJECT_UNLISTED_RECIPIENT,
	R_REJECT_NON_FQDN_SENDER,
	R_REJECT_NON_FQDN_RECIPIENT,
	R_REJECT_NON_FQDN_HELO,
	R_REJECT_INVALID_HELO,
	R_CHECK_CLIENT_ACCESS,
	R_CHECK_HELO_ACCESS,
	R_CHECK_SENDER_ACCESS,
	R_CHECK_RECIPIENT_ACCESS,
	R_REJECT_SENDER_LOGIN_MISMATCH,
	R_REJECT_AUTH_SENDER_LOGIN_MISMATCH,
	R_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH,
};

static const struct {
	const char *name;
	enum restriction_kind kind;
} policy_names[] = {
    {"permit", R_PERMIT},
    {"reject", R_REJECT},
    {"defer", R_DEFER},
    {"dunno", R_DUNNO},
    {"permit_mynetworks", R_PERMIT_MYNETWORKS},
    {"permit_sasl_authenticated", R_PERMIT_SASL_AUTHENTICATED},
    {"permit_auth_destination", R_PERMIT_AUTH_DESTINATION},
    {"reject_unauth_destination", R_REJECT_UNAUTH_DESTINATION},
    {"defer_unauth_destination", R_DEFER_UNAUTH_DESTINATION},
    {"reject_unlisted_recipient", R_REJECT_UNLISTED_RECIPIENT},
    {"reject_unknown_recipient", R_REJECT_UNLISTED_RECIPIENT},
    {"reject_non_fqdn_sender", R_REJECT_NON_FQDN_SENDER},
    {"reject_non_fqdn_recipient", R_REJECT_NON_FQDN_RECIPIENT},
    {"reject_non_fqdn_helo_hostname", R_REJECT_NON_FQDN_HELO},
    {"reject_non_fqdn_hostname", R_REJECT_NON_FQDN_HELO},
    {"reject_invalid_helo_hostname", R_REJECT_INVALID_HELO},
    {"reject_invalid_hostname", R_REJECT_INVALID_HELO},
    {"check_client_access", R_CHECK_CLIENT_ACCESS},
    {"check_helo_access", R_CHECK_HELO_ACCESS},
    {"check_sender_access", R_CHECK_SENDER_ACCESS},
    {"check_recipient_access", R_CHECK_RECIPIENT_ACCESS},
    {"reject_sender_login_mismatch", R_REJECT_SENDER_LOGIN_MISMATCH},
    {"reject_authenticated_sender_login_mismatch",
     R_REJECT_AUTH_SENDER_LOGIN_MISMATCH},
    {"reject_unauthenticated_sender_login_mismatch",
     R_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH},
};

struct restriction {
	enum restriction_kind kind;
	char *table; /* check_*_access */
};

struct rlist {
	struct restriction *v;
	size_t n;
	char *broken; /* why the list is unusable, or NULL */
};

/* A domain list parameter, created on first use and kept. */
struct lazy_domains {
	const char *param;
	struct domain_list *list;
	bool warned;
};

/* A maps parameter, opened on first use and kept. */
struct lazy_maps {
	const char *param;
	struct maps *maps;
	bool warned;
};

struct policy_table {
	char *spec;
	struct map *map;
};

enum {
	LD_MYDESTINATION,
	LD_VIRTUAL_ALIAS,
	LD_VIRTUAL_MAILBOX,
	LD_RELAY,
	LD_COUNT
};

enum {
	LM_LOCAL_RCPT,
	LM_VIRTUAL_ALIAS,
	LM_VIRTUAL_MAILBOX,
	LM_RELAY_RCPT,
	LM_CANONICAL,
	LM_RCPT_CANONICAL,
	LM_COUNT
};

enum { L_CLIENT, L_HELO, L_SENDER, L_RELAY, L_RECIPIENT, L_COUNT };

static const char *const policy_list_params[L_COUNT] = {
    "smtpd_client_restrictions",    "smtpd_helo_restrictions",
    "smtpd_sender_restrictions",    "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions",
};

struct policy {
	struct config *c;
	bool delay_reject;
	bool reject_unlisted;
	bool access_parent_style;
	bool no_relay_guard; /* neither relay nor recipient list stops relay */
	bool guard_warned;
	const char *delimiters;
	const char *myhostname;
	const char *myorigin;
	const char *null_key;
	struct rlist lists[L_COUNT];
	struct cidr_list *mynetworks;
	char *mynetworks_error;
	struct lazy_domains domains[LD_COUNT];
	struct lazy_maps maps[LM_COUNT];
	struct policy_table *tables;
	size_t ntables;
	struct buf *err;
	struct buf *value;
	/* Connection limits. */
	struct anvil_client *anvil;
	struct cidr_list *limit_exceptions;
	bool counted;
	char *counted_service, *counted_address;
	char *warned_table; /* last table whose failure was logged */
	struct sender_login *sender_login; /* created on first use */
};

/* One evaluation: the facts and the reply context (Postfix's reply_name
 * and reply_class, e.g. "<x@y>: Recipient address rejected: ..."). */
struct policy_eval {
	struct policy *p;
	const struct policy_facts *f;
	struct policy_result *out;
	const char *reply_name;
	const char *reply_class;
	char client[320]; /* NAME[ADDR] */
	int depth;
};

enum eval_status {
	EVAL_DUNNO, /* go on with the next restriction */
	EVAL_OK, /* permit: this list is done */
	EVAL_STOP, /* out holds a reject/defer */
};

/* Replies. */

/* Fill out with "CODE DSN TEXT" (DSN class follows the code's first
 * digit, as Postfix does); control characters become '?'. */
static enum eval_status policy_reply(struct policy_result *out, int code,
                                     const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum eval_status policy_reply(struct policy_result *out, int code,
                                     const char *dsn, const char *fmt, ...)
{
	char text[POLICY_REPLY_MAX + 1];
	va_list ap;
	size_t hlen, tlen;

	if (code < 400 || code > 599)
		code = 554;
	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* "554 5.7.1 ": the DSN's class follows the code (RFC 3463 2). */
	(void)snprintf(out->reply, sizeof(out->reply), "%d %c%.8s ", code,
	               '0' + code / 100, dsn + 1);
	hlen = strlen(out->reply);
	tlen = strlen(text);
	if (tlen > sizeof(out->reply) - 1 - hlen)
		tlen = sizeof(out->reply) - 1 - hlen; /* cut, never overrun */
	memcpy(out->reply + hlen, text, tlen);
	out->reply[hlen + tlen] = 0;
	for (char *s = out->reply; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	out->code = code;
	out->verdict = code >= 500 ? POLICY_REJECT : POLICY_DEFER;
	return EVAL_STOP;
}

static enum eval_status policy_config_error(struct policy_eval *ev)
{
	return policy_reply(ev->out, 451, "4.3.5",
	                    "Server configuration error");
}

static enum eval_status policy_lookup_error(struct policy_eval *ev,
                                            const char *name)
{
	return policy_reply(ev->out, 451, "4.3.0",
	                    "<%s>: Temporary lookup failure", name);
}

/* A table problem is logged once per table in a row. */
static void policy_warn_table(struct policy *p, const char *what,
                              const char *why)
{
	if (p->warned_table && strcmp(p->warned_table, what) == 0)
		return;
	mem_free(p->warned_table);
	p->warned_table = mem_strdup(what);
	msg_warn("%s: %s", what, why);
}

/* Parsing restriction lists. */

static int policy_kind(const char *name, enum restriction_kind *kind)
{
	for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]);
	     i++) {
		if (str_eq_ci(name, policy_names[i].name)) {
			*kind = policy_names[i].kind;
			return 0;
		}
	}
	return -1;
}

static bool policy_needs_table(enum restriction_kind k)
{
	return k == R_CHECK_CLIENT_ACCESS || k == R_CHECK_HELO_ACCESS ||
	       k == R_CHECK_SENDER_ACCESS || k == R_CHECK_RECIPIENT_ACCESS;
}

static void rlist_free(struct rlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		mem_free(l->v[i].table);
	mem_free(l->v);
	mem_free(l->broken);
	memset(l, 0, sizeof(*l));
}

/* Parse text into l; on error l->broken says why (l stays usable as
 * "always 451"). */
static void rlist_parse(struct rlist *l, const char *text)
{
	const char *p = text;
	char *w;

	memset(l, 0, sizeof(*l));
	while ((w = domain_list_next_word(&p)) != NULL) {
		struct restriction r = {0};
		char errbuf[200];

		if (policy_kind(w, &r.kind) < 0) {
			(void)snprintf(errbuf, sizeof(errbuf),
			               "unknown smtpd restriction: \"%s\"", w);
			l->broken = mem_strdup(errbuf);
			mem_free(w);
			return;
		}
		if (policy_needs_table(r.kind)) {
			char *t = domain_list_next_word(&p);

			if (t == NULL || strchr(t, ':') == NULL) {
				(void)snprintf(errbuf, sizeof(errbuf),
				               "restriction \"%s\" needs a "
				               "type:table argument",
				               w);
				l->broken = mem_strdup(errbuf);
				mem_free(t);
				mem_free(w);
				return;
			}
			r.table = t;
		}
		mem_free(w);
		l->v = mem_realloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = r;
	}
}

/* Does l hold something that stops relaying when reached? */
static bool rlist_has_relay_guard(const struct rlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		switch (l->v[i].kind) {
		case R_REJECT:
		case R_DEFER:
		case R_REJECT_UNAUTH_DESTINATION:
		case R_DEFER_UNAUTH_DESTINATION:
			return true;
		default:
			break;
		}
	}
	return false;
}

/* Lazily opened things. */

static struct domain_list *policy_domains(struct policy *p, int which)
{
	struct lazy_domains *d = &p->domains[which];

	if (d->list == NULL) {
		buf_reset(p->err);
		d->list = domain_list_from_config(p->c, d->param, p->err);
		if (d->list == NULL) {
			if (!d->warned)
				msg_warn("%s", buf_str(p->err));
			d->warned = true;
		}
	}
	return d->list;
}

static struct maps *policy_maps(struct policy *p, int which)
{
	struct lazy_maps *m = &p->maps[which];

	if (m->maps == NULL) {
		buf_reset(p->err);
		m->maps = maps_open(config_str(p->c, m->param), p->err);
		if (m->maps == NULL) {
			if (!m->warned)
				msg_warn("%s: %s", m->param, buf_str(p->err));
			m->warned = true;
		}
	}
	return m->maps;
}

static struct map *policy_table(struct policy *p, const char *spec)
{
	struct map *m;

	for (size_t i = 0; i < p->ntables; i++)
		if (strcmp(p->tables[i].spec, spec) == 0)
			return p->tables[i].map;
	buf_reset(p->err);
	if ((m = map_open(spec, p->err)) == NULL) {
		policy_warn_table(p, spec, buf_str(p->err));
		return NULL;
	}
	p->tables =
	    mem_realloc(p->tables, (p->ntables + 1) * sizeof(*p->tables));
	p->tables[p->ntables].spec = mem_strdup(spec);
	p->tables[p->ntables++].map = m;
	return m;
}

/* Life cycle. */

struct policy *policy_create(struct config *c)
{
	struct policy *p = mem_zalloc(sizeof(*p));
	static const char *const dparams[LD_COUNT] = {
	    "mydestination", "virtual_alias_domains", "virtual_mailbox_domains",
	    "relay_domains"};
	static const char *const mparams[LM_COUNT] = {
	    "local_recipient_maps", "virtual_alias_maps",
	    "virtual_mailbox_maps", "relay_recipient_maps",
	    "canonical_maps",       "recipient_canonical_maps"};

	p->c = c;
	p->err = buf_create(256, 4096);
	p->value = buf_create(256, 0);
	p->delay_reject = config_bool(c, "smtpd_delay_reject");
	p->reject_unlisted = config_bool(c, "smtpd_reject_unlisted_recipient");
	p->access_parent_style =
	    domain_list_parent_style(c, "smtpd_access_maps");
	p->delimiters = config_str(c, "recipient_delimiter");
	p->myhostname = config_str(c, "myhostname");
	p->myorigin = config_str(c, "myorigin");
	p->null_key = config_str(c, "smtpd_null_access_lookup_key");
	for (int i = 0; i < L_COUNT; i++) {
		rlist_parse(&p->lists[i], config_str(c, policy_list_params[i]));
		if (p->lists[i].broken)
			msg_warn("%s: %s", policy_list_params[i],
			         p->lists[i].broken);
	}
	p->no_relay_guard = !rlist_has_relay_guard(&p->lists[L_RELAY]) &&
	                    !rlist_has_relay_guard(&p->lists[L_RECIPIENT]);
	if (p->no_relay_guard)
		msg_warn("in parameter smtpd_relay_restrictions or "
		         "smtpd_recipient_restrictions, specify at least one "
		         "working instance of: reject_unauth_destination, "
		         "defer_unauth_destination, reject or defer; every "
		         "recipient gets 451 4.3.5 until then");
	buf_reset(p->err);
	p->mynetworks = cidr_list_create(config_str(c, "mynetworks"), p->err);
	if (p->mynetworks == NULL) {
		p->mynetworks_error = mem_strdup(buf_str(p->err));
		msg_warn("mynetworks: %s", p->mynetworks_error);
	}
	buf_reset(p->err);
	p->limit_exceptions = cidr_list_create(
	    config_str(c, "smtpd_client_event_limit_exceptions"), p->err);
	if (p->limit_exceptions == NULL)
		msg_warn("smtpd_client_event_limit_exceptions: %s "
		         "(no exceptions apply)",
		         buf_str(p->err));
	for (int i = 0; i < LD_COUNT; i++)
		p->domains[i].param = dparams[i];
	for (int i = 0; i < LM_COUNT; i++)
		p->maps[i].param = mparams[i];
	return p;
}

void policy_destroy(struct policy **pp)
{
	struct policy *p = *pp;

	if (p == NULL)
		return;
	for (int i = 0; i < L_COUNT; i++)
		rlist_free(&p->lists[i]);
	cidr_list_destroy(&p->mynetworks);
	cidr_list_destroy(&p->limit_exceptions);
	mem_free(p->mynetworks_error);
	for (int i = 0; i < LD_COUNT; i++)
		domain_list_destroy(&p->domains[i].list);
	for (int i = 0; i < LM_COUNT; i++)
		maps_close(&p->maps[i].maps);
	for (size_t i = 0; i < p->ntables; i++) {
		mem_free(p->tables[i].spec);
		map_close(&p->tables[i].map);
	}
	mem_free(p->tables);
	anvil_client_destroy(&p->anvil);
	sender_login_destroy(&p->sender_login);
	mem_free(p->counted_service);
	mem_free(p->counted_address);
	mem_free(p->warned_table);
	buf_destroy(&p->err);
	buf_destroy(&p->value);
	mem_free(p);
	*pp = NULL;
}

bool policy_delay_reject(const struct policy *p)
{
	return p->delay_reject;
}

/* Names and addresses. */

bool policy_valid_hostname(const char *name)
{
	size_t len, label = 0;
	bool non_numeric = false;

	if (name == NULL || (len = strlen(name)) == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch == '.') {
			/* No empty label, none ending in '-'. */
			if (label == 0 || name[i - 1] == '-' || i == len - 1)
				return false;
			label = 0;
			continue;
		}
		if (isalpha(ch) || ch == '_') {
			non_numeric = true;
		} else if (ch == '-') {
			if (label == 0)
				return false;
			non_numeric = true;
		} else if (!isdigit(ch)) {
			return false;
		}
		if (++label > 63)
			return false;
	}
	return name[len - 1] != '-' && non_numeric;
}

/* An address literal "[...]" or a bare IP address? */
static bool policy_is_addr(const char *name)
{
	struct cidr_addr a;

	return cidr_addr_parse(name, &a) == 0;
}

/* Split an address (local@domain) into local and domain copies; no '@':
 * domain is NULL. Returns -1 when it does not fit. */
struct policy_addr {
	char local[POLICY_KEY_MAX];
	char domain[POLICY_KEY_MAX];
	bool has_domain;
	char base[POLICY_KEY_MAX]; /* local without extension */
	bool has_ext;
};

static int policy_addr_split(struct policy *p, const char *addr,
                             struct policy_addr *a)
{
	const char *at = NULL;
	bool quoted = false;
	size_t llen;

	memset(a, 0, sizeof(*a));
	/* The last '@' outside quotes (address.h canonical form). */
	for (const char *s = addr; *s; s++) {
		if (*s == '\\' && quoted && s[1]) {
			s++;
			continue;
		}
		if (*s == '"')
			quoted = !quoted;
		else if (*s == '@' && !quoted)
			at = s;
	}
	llen = at ? (size_t)(at - addr) : strlen(addr);
	if (llen >= sizeof(a->local) ||
	    (at && strlen(at + 1) >= sizeof(a->domain)))
		return -1;
	memcpy(a->local, addr, llen);
	a->local[llen] = 0;
	if (at) {
		a->has_domain = true;
		(void)str_copy(a->domain, sizeof(a->domain), at + 1);
		str_lower(a->domain);
		llen = strlen(a->domain);
		if (llen > 0 && a->domain[llen - 1] == '.')
			a->domain[llen - 1] = 0;
	}
	/* recipient_delimiter: user+ext -> user (any of the characters;
	 * not when the local part starts with one: "+foo" stays). */
	(void)str_copy(a->base, sizeof(a->base), a->local);
	if (p->delimiters[0] && a->local[0] != '"') {
		size_t cut = strcspn(a->local, p->delimiters);

		if (cut > 0 && a->local[cut] != 0) {
			a->base[cut] = 0;
			a->has_ext = true;
		}
	}
	return 0;
}

/* Table lookups. */

/* Look key up in a single access table: 1 found (value in p->value),
 * 0 not found, -1 error. */
static int policy_get(struct policy *p, struct map *m, const char *key)
{
	buf_reset(p->err);
	return map_lookup(m, key, p->value, p->err);
}

/* Domain and its parents (Postfix check_domain_access order). */
static int policy_get_domain(struct policy *p, struct map *m,
                             const char *domain)
{
	int r = policy_get(p, m, domain);

	for (const char *dot = strchr(domain, '.'); r == 0 && dot != NULL;
	     dot = strchr(dot + 1, '.')) {
		if (dot[1] == 0)
			break;
		r = policy_get(p, m, p->access_parent_style ? dot + 1 : dot);
	}
	return r;
}

static enum eval_status policy_eval_list(struct policy_eval *ev,
                                         const struct rlist *l);

/* Longest RFC 3463 code kept: "5.123.123". */
#define POLICY_DSN_MAX 10

/* An RFC 3463 code ("5.7.1": class 2/4/5, then 1-3 digits twice) at the
 * start of *textp, followed by white space or the end: copied into dsn
 * and skipped with the white space after it. */
static void policy_take_dsn(const char **textp, char dsn[POLICY_DSN_MAX])
{
	const char *t = *textp, *s = t + 2;
	size_t a, b;

	if ((t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.')
		return;
	a = strspn(s, "0123456789");
	if (a < 1 || a > 3 || s[a] != '.')
		return;
	b = strspn(s + a + 1, "0123456789");
	if (b < 1 || b > 3 ||
	    (s[a + 1 + b] != 0 && s[a + 1 + b] != ' ' && s[a + 1 + b] != '\t'))
		return;
	memcpy(dsn, t, (size_t)(s + a + 1 + b - t));
	dsn[s + a + 1 + b - t] = 0;
	t = s + a + 1 + b;
	*textp = t + strspn(t, " \t");
}

/* The reply code of an access result's first word (wlen bytes): REJECT,
 * DEFER, or 4NN/5NN; 0 for anything else. */
static int policy_access_code(struct policy *p, const char *v, size_t wlen)
{
	if (wlen == 6 && str_has_prefix_ci(v, "REJECT"))
		return (int)config_int(p->c, "access_map_reject_code");
	if (wlen == 5 && str_has_prefix_ci(v, "DEFER"))
		return (int)config_int(p->c, "access_map_defer_code");
	if (wlen == 3 && (v[0] == '4' || v[0] == '5') &&
	    isdigit((unsigned char)v[1]) && isdigit((unsigned char)v[2]))
		return (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
	return 0;
}

/* Act on an access-table result (Postfix access(5)). */
static enum eval_status policy_access_result(struct policy_eval *ev,
                                             const char *table,
                                             const char *reply_name,
                                             const char *reply_class)
{
	struct policy *p = ev->p;
	char *value = mem_strdup(buf_str(p->value));
	char *v = str_trim(value);
	const char *text;
	size_t wlen = strcspn(v, " \t");
	enum eval_status st;
	struct rlist sub;
	int code;

	text = v + wlen;
	text += strspn(text, " \t");
	if ((wlen == 2 && str_has_prefix_ci(v, "OK")) ||
	    (wlen > 0 && strspn(v, "0123456789") == strlen(v))) {
		st = EVAL_OK;
	} else if (wlen == 5 && str_has_prefix_ci(v, "DUNNO")) {
		st = EVAL_DUNNO;
	} else if ((code = policy_access_code(p, v, wlen)) > 0) {
		char dsn[POLICY_DSN_MAX] = "5.7.1";

		policy_take_dsn(&text, dsn);
		st = policy_reply(ev->out, code, dsn, "<%s>: %s rejected: %s",
		                  reply_name, reply_class,
		                  *text ? text : "Access denied");
	} else {
		/* A restriction list ("permit_mynetworks, reject"). */
		rlist_parse(&sub, v);
		if (sub.broken || ev->depth >= POLICY_DEPTH_MAX) {
			char why[300];

			(void)snprintf(why, sizeof(why),
			               "unknown access table result \"%.200s\"",
			               v);
			policy_warn_table(p, table,
			                  sub.broken ? why
			                             : "restriction nesting "
			                               "too deep");
			st = policy_config_error(ev);
		} else {
			const char *saved_name = ev->reply_name;
			const char *saved_class = ev->reply_class;

			ev->depth++;
			ev->reply_name = reply_name;
			ev->reply_class = reply_class;
			st = policy_eval_list(ev, &sub);
			ev->reply_name = saved_name;
			ev->reply_class = saved_class;
			ev->depth--;
		}
		rlist_free(&sub);
	}
	mem_free(value);
	return st;
}

/* Lookup result r of an access table: act on it. */
static enum eval_status policy_access_outcome(struct policy_eval *ev, int r,
                                              const char *table,
                                              const char *reply_name,
                                              const char *reply_class)
{
	if (r < 0) {
		policy_warn_table(ev->p, table, buf_str(ev->p->err));
		return policy_lookup_error(ev, reply_name);
	}
	return policy_access_result(ev, table, reply_name, reply_class);
}

/* check_sender_access / check_recipient_access: Postfix's lookup order
 * for an address: user+ext@domain, user@domain, domain and its parents,
 * user+ext@, user@. The first key found decides (DUNNO included). */
static enum eval_status policy_check_mail_access(struct policy_eval *ev,
                                                 const char *table,
                                                 const char *addr,
                                                 const char *reply_class)
{
	struct policy *p = ev->p;
	struct map *m = policy_table(p, table);
	struct policy_addr a;
	char key[POLICY_KEY_MAX * 2];
	int r;

	if (m == NULL)
		return policy_lookup_error(ev, addr);
	if (*addr == 0) {
		r = policy_get(p, m, p->null_key);
		return r == 0 ? EVAL_DUNNO
		              : policy_access_outcome(ev, r, table, "",
		                                      reply_class);
	}
	if (policy_addr_split(p, addr, &a) < 0)
		return EVAL_DUNNO;
	if ((r = policy_get(p, m, addr)) != 0)
		goto found;
	if (a.has_ext && a.has_domain) {
		(void)snprintf(key, sizeof(key), "%s@%s", a.base, a.domain);
		if ((r = policy_get(p, m, key)) != 0)
			goto found;
	}
	if (a.has_domain && a.domain[0] && a.domain[0] != '[' &&
	    (r = policy_get_domain(p, m, a.domain)) != 0)
		goto found;
	if (a.has_domain && a.domain[0] == '[' &&
	    (r = policy_get(p, m, a.domain)) != 0)
		goto found;
	(void)snprintf(key, sizeof(key), "%s@", a.local);
	if ((r = policy_get(p, m, key)) != 0)
		goto found;
	if (a.has_ext) {
		(void)snprintf(key, sizeof(key), "%s@", a.base);
		if ((r = policy_get(p, m, key)) != 0)
			goto found;
	}
	return EVAL_DUNNO;
found:
	return policy_access_outcome(ev, r, table, addr, reply_class);
}

/* check_client_access: the client name and its parents (unless
 * "unknown"), then the address and its networks: 192.0.2.1, 192.0.2,
 * 192.0, 192; IPv6 as given, then its full form cut one group at a time. */
static enum eval_status policy_check_client_access(struct policy_eval *ev,
                                                   const char *table)
{
	struct policy *p = ev->p;
	const struct policy_facts *f = ev->f;
	struct map *m = policy_table(p, table);
	struct cidr_addr ca;
	char key[64];
	int r;

	if (m == NULL)
		return policy_lookup_error(ev, ev->client);
	if (f->client_name && *f->client_name &&
	    strcmp(f->client_name, "unknown") != 0 &&
	    strlen(f->client_name) < POLICY_KEY_MAX &&
	    (r = policy_get_domain(p, m, f->client_name)) != 0)
		goto found;
	if (f->client_address == NULL ||
	    cidr_addr_parse(f->client_address, &ca) < 0)
		return EVAL_DUNNO;
	if (cidr_addr_format(&ca, key, sizeof(key)) < 0)
		return EVAL_DUNNO;
	if ((r = policy_get(p, m, key)) != 0)
		goto found;
	if (ca.family == 4) {
		for (char *dot; (dot = strrchr(key, '.')) != NULL;) {
			*dot = 0;
			if ((r = policy_get(p, m, key)) != 0)
				goto found;
		}
	} else {
		int n = 0;

		for (int i = 0; i < 8; i++)
			n += snprintf(
			    key + n, sizeof(key) - (size_t)n, i ? ":%x" : "%x",
			    (ca.bytes[2 * i] << 8) | ca.bytes[2 * i + 1]);
		if ((r = policy_get(p, m, key)) != 0)
			goto found;
		for (char *colon; (colon = strrchr(key, ':')) != NULL;) {
			*colon = 0;
			if ((r = policy_get(p, m, key)) != 0)
				goto found;
		}
	}
	return EVAL_DUNNO;
found:
	return policy_access_outcome(ev, r, table, ev->client, "Client host");
}

static enum eval_status policy_check_helo_access(struct policy_eval *ev,
                                                 const char *table)
{
	struct policy *p = ev->p;
	const char *helo = ev->f->helo;
	struct map *m = policy_table(p, table);
	int r;

	if (m == NULL)
		return policy_lookup_error(ev, helo);
	if (strlen(helo) >= POLICY_KEY_MAX)
		return EVAL_DUNNO;
	r = helo[0] == '[' ? policy_get(p, m, helo)
	                   : policy_get_domain(p, m, helo);
	if (r == 0)
		return EVAL_DUNNO;
	return policy_access_outcome(ev, r, table, helo, "Helo command");
}

/* Relay control and recipient validation. */

/* Does the recipient's local part carry sender-specified routing
 * (user%host@, user!host@, user@host@)? Postfix refuses to relay those. */
static bool policy_has_routing(const char *local)
{
	struct buf *u = buf_create(POLICY_KEY_MAX, POLICY_KEY_MAX);
	bool routed;

	if (address_unquote_local(local, u) < 0)
		routed = true;
	else
		routed = strpbrk(buf_str(u), "@!%") != NULL;
	buf_destroy(&u);
	return routed;
}

/* Which of our domain classes holds domain: LD_* index, LD_COUNT for
 * none, -1 on a lookup error (out filled). */
static int policy_domain_class(struct policy_eval *ev, const char *domain)
{
	for (int i = 0; i < LD_COUNT; i++) {
		struct domain_list *l = policy_domains(ev->p, i);
		int r;

		if (l == NULL) {
			policy_config_error(ev);
			return -1;
		}
		buf_reset(ev->p->err);
		r = domain_list_match(l, domain, ev->p->err);
		if (r < 0) {
			policy_warn_table(ev->p, ev->p->domains[i].param,
			                  buf_str(ev->p->err));
			policy_lookup_error(ev, ev->f->recipient);
			return -1;
		}
		if (r == 1)
			return i;
	}
	return LD_COUNT;
}

/* permit_auth_destination's question: is the recipient ours or a relay
 * domain's, without sender-specified routing? 1 yes, 0 no, -1 error. */
static int policy_auth_destination(struct policy_eval *ev)
{
	struct policy_addr a;
	int cls;

	if (policy_addr_split(ev->p, ev->f->recipient, &a) < 0)
		return 0;
	if (!a.has_domain) {
		/* RFC 5321 4.1.4 <Postmaster>, or an unqualified name that
		 * becomes local@$myorigin. */
		if (str_eq_ci(a.local, "postmaster"))
			return 1;
		(void)str_copy(a.domain, sizeof(a.domain), ev->p->myorigin);
	}
	if (policy_has_routing(a.local))
		return 0;
	if ((cls = policy_domain_class(ev, a.domain)) < 0)
		return -1;
	return cls < LD_COUNT ? 1 : 0;
}

static enum eval_status policy_unauth_destination(struct policy_eval *ev,
                                                  bool defer)
{
	int code = (int)config_int(ev->p->c, "smtpd_relay_reject_code");
	int r = policy_auth_destination(ev);

	if (r < 0)
		return EVAL_STOP;
	if (r == 1)
		return EVAL_DUNNO;
	/* defer_unauth_destination: the same reply as a 4xx. */
	if (defer && code >= 500)
		code -= 100;
	return policy_reply(ev->out, code, "5.7.1", "<%s>: Relay access denied",
	                    ev->f->recipient);
}

/* Look the recipient up in maps the way Postfix's mail_addr_find does:
 * user+ext@domain, user@domain, then (local domains) user+ext and user,
 * then @domain. 1 found, 0 not, -1 error. */
static int policy_rcpt_in_maps(struct policy *p, struct maps *m,
                               const struct policy_addr *a, bool local)
{
	char key[POLICY_KEY_MAX * 2];
	int r;

	buf_reset(p->err);
	(void)snprintf(key, sizeof(key), "%s@%s", a->local, a->domain);
	if ((r = maps_lookup(m, key, p->value, p->err)) != 0)
		return r;
	if (a->has_ext) {
		(void)snprintf(key, sizeof(key), "%s@%s", a->base, a->domain);
		if ((r = maps_lookup(m, key, p->value, p->err)) != 0)
			return r;
	}
	if (local) {
		if ((r = maps_lookup(m, a->local, p->value, p->err)) != 0)
			return r;
		if (a->has_ext &&
		    (r = maps_lookup(m, a->base, p->value, p->err)) != 0)
			return r;
	}
	(void)snprintf(key, sizeof(key), "@%s", a->domain);
	return maps_lookup(m, key, p->value, p->err);
}

/* Helper: lookup in one lazily opened maps parameter. */
static int policy_rcpt_lookup(struct policy_eval *ev, int which,
                              const struct policy_addr *a, bool local)
{
	struct maps *m = policy_maps(ev->p, which);
	int r;

	if (m == NULL) {
		policy_lookup_error(ev, ev->f->recipient);
		return -1;
	}
	r = policy_rcpt_in_maps(ev->p, m, a, local);
	if (r < 0) {
		policy_warn_table(ev->p, ev->p->maps[which].param,
		                  buf_str(ev->p->err));
		policy_lookup_error(ev, ev->f->recipient);
	}
	return r;
}

/* Recipient validation per domain class (indexed by LD_*): the table of
 * valid recipients, the reply code parameter and the table's name in the
 * reply. "optional": an empty table means every local part is valid. */
static const struct {
	int maps;
	const char *code_param;
	const char *table;
	bool optional;
} policy_rcpt_classes[LD_COUNT] = {
    [LD_MYDESTINATION] = {LM_LOCAL_RCPT, "unknown_local_recipient_reject_code",
                          "local recipient table", true},
    [LD_VIRTUAL_ALIAS] = {LM_VIRTUAL_ALIAS, "unknown_virtual_alias_reject_code",
                          "virtual alias table", false},
    [LD_VIRTUAL_MAILBOX] = {LM_VIRTUAL_MAILBOX,
                            "unknown_virtual_mailbox_reject_code",
                            "virtual mailbox table", false},
    [LD_RELAY] = {LM_RELAY_RCPT, "unknown_relay_recipient_reject_code",
                  "relay recipient table", true},
};

/* reject_unlisted_recipient (and smtpd_reject_unlisted_recipient). */
static enum eval_status policy_unlisted_recipient(struct policy_eval *ev)
{
	struct policy *p = ev->p;
	struct policy_addr a;
	/* Rewriting may turn the address into a valid one; the class's own
	 * table comes last (for alias domains it is one of these). */
	int order[] = {LM_RCPT_CANONICAL, LM_CANONICAL, LM_VIRTUAL_ALIAS, -1};
	int cls, r;

	if (policy_addr_split(p, ev->f->recipient, &a) < 0)
		return EVAL_DUNNO;
	if (!a.has_domain) {
		if (str_eq_ci(a.local, "postmaster"))
			return EVAL_DUNNO;
		(void)str_copy(a.domain, sizeof(a.domain), p->myorigin);
		str_lower(a.domain);
	}
	if (a.domain[0] == 0)
		return EVAL_DUNNO;
	if ((cls = policy_domain_class(ev, a.domain)) < 0)
		return EVAL_STOP;
	if (cls >= LD_COUNT)
		return EVAL_DUNNO; /* not ours to validate */
	if (policy_rcpt_classes[cls].optional &&
	    *config_str(p->c, p->maps[policy_rcpt_classes[cls].maps].param) ==
	        0)
		return EVAL_DUNNO;
	if (policy_rcpt_classes[cls].maps != LM_VIRTUAL_ALIAS)
		order[3] = policy_rcpt_classes[cls].maps;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (order[i] < 0 ||
		    *config_str(p->c, p->maps[order[i]].param) == 0)
			continue;
		r = policy_rcpt_lookup(ev, order[i], &a,
		                       cls == LD_MYDESTINATION);
		if (r < 0)
			return EVAL_STOP;
		if (r == 1)
			return EVAL_DUNNO;
	}
	return policy_reply(
	    ev->out, (int)config_int(p->c, policy_rcpt_classes[cls].code_param),
	    "5.1.1", "<%s>: Recipient address rejected: User unknown in %s",
	    ev->f->recipient, policy_rcpt_classes[cls].table);
}

/* reject_non_fqdn_sender/recipient: the domain must be a FQDN or an
 * address literal. */
static bool policy_fqdn_address(struct policy *p, const char *addr)
{
	struct policy_addr a;

	if (policy_addr_split(p, addr, &a) < 0)
		return true; /* too long to be ours to judge */
	if (!a.has_domain || a.domain[0] == 0)
		return false;
	if (a.domain[0] == '[')
		return policy_is_addr(a.domain);
	return strchr(a.domain, '.') != NULL && policy_valid_hostname(a.domain);
}

/* reject_non_fqdn_*: "504 5.5.2 <x>: Sender address rejected: need
 * fully-qualified address". */
static enum eval_status policy_non_fqdn(struct policy_eval *ev,
                                        const char *name, const char *cls,
                                        const char *what)
{
	return policy_reply(
	    ev->out, (int)config_int(ev->p->c, "non_fqdn_reject_code"), "5.5.2",
	    "<%s>: %s rejected: need fully-qualified %s", name, cls, what);
}

/* reject_{,authenticated_,unauthenticated_}sender_login_mismatch
 * (Postfix semantics; RFC 4954 5): an authenticated client may only use
 * a sender address its login owns; an unauthenticated one may not use an
 * address some login owns. The null sender is not checked. */
static enum eval_status policy_sender_login(struct policy_eval *ev,
                                            bool check_auth, bool check_unauth)
{
	struct policy *p = ev->p;
	const struct policy_facts *f = ev->f;
	bool authed = f->sasl_username != NULL && *f->sasl_username != 0;
	int r;

	if (f->sender == NULL || *f->sender == 0)
		return EVAL_DUNNO;
	if (authed ? !check_auth : !check_unauth)
		return EVAL_DUNNO;
	if (p->sender_login == NULL)
		p->sender_login = sender_login_create(p->c);
	buf_reset(p->err);
	if (authed) {
		r = sender_login_owns(p->sender_login, f->sender,
		                      f->sasl_username, p->err);
		if (r == 1)
			return EVAL_DUNNO;
	} else {
		r = sender_login_owners(p->sender_login, f->sender, p->value,
		                        p->err);
		if (r == 0)
			return EVAL_DUNNO;
	}
	if (r < 0) {
		policy_warn_table(p, "smtpd_sender_login_maps",
		                  buf_str(p->err));
		return policy_lookup_error(ev, f->sender);
	}
	if (authed)
		return policy_reply(ev->out, 553, "5.7.1",
		                    "<%s>: Sender address rejected: not owned "
		                    "by user %s",
		                    f->sender, f->sasl_username);
	return policy_reply(ev->out, 553, "5.7.1",
	                    "<%s>: Sender address rejected: not logged in",
	                    f->sender);
}

static enum eval_status policy_eval_one(struct policy_eval *ev,
                                        const struct restriction *r)
{
	struct policy *p = ev->p;
	const struct policy_facts *f = ev->f;
	int code;

	switch (r->kind) {
	case R_PERMIT:
		return EVAL_OK;
	case R_DUNNO:
		return EVAL_DUNNO;
	case R_REJECT:
		return policy_reply(ev->out,
		                    (int)config_int(p->c, "reject_code"),
		                    "5.7.1", "<%s>: %s rejected: Access denied",
		                    ev->reply_name, ev->reply_class);
	case R_DEFER:
		return policy_reply(
		    ev->out, (int)config_int(p->c, "defer_code"), "4.3.2",
		    "<%s>: %s rejected: Try again later", ev->reply_name,
		    ev->reply_class);
	case R_PERMIT_MYNETWORKS:
		if (p->mynetworks == NULL)
			return policy_config_error(ev);
		return f->client_address &&
		               cidr_list_match(p->mynetworks,
		                               f->client_address) == 1
		           ? EVAL_OK
		           : EVAL_DUNNO;
	case R_PERMIT_SASL_AUTHENTICATED:
		return f->sasl_username && *f->sasl_username ? EVAL_OK
		                                             : EVAL_DUNNO;
	case R_PERMIT_AUTH_DESTINATION:
		if (f->recipient == NULL)
			return EVAL_DUNNO;
		switch (policy_auth_destination(ev)) {
		case 1:
			return EVAL_OK;
		case 0:
			return EVAL_DUNNO;
		default:
			return EVAL_STOP;
		}
	case R_REJECT_UNAUTH_DESTINATION:
	case R_DEFER_UNAUTH_DESTINATION:
		if (f->recipient == NULL)
			return EVAL_DUNNO;
		return policy_unauth_destination(
		    ev, r->kind == R_DEFER_UNAUTH_DESTINATION);
	case R_REJECT_UNLISTED_RECIPIENT:
		if (f->recipient == NULL)
			return EVAL_DUNNO;
		return policy_unlisted_recipient(ev);
	case R_REJECT_NON_FQDN_SENDER:
		if (f->sender == NULL || *f->sender == 0 ||
		    policy_fqdn_address(p, f->sender))
			return EVAL_DUNNO;
		return policy_non_fqdn(ev, f->sender, "Sender address",
		                       "address");
	case R_REJECT_NON_FQDN_RECIPIENT:
		if (f->recipient == NULL ||
		    str_eq_ci(f->recipient, "postmaster") ||
		    policy_fqdn_address(p, f->recipient))
			return EVAL_DUNNO;
		return policy_non_fqdn(ev, f->recipient, "Recipient address",
		                       "address");
	case R_REJECT_NON_FQDN_HELO:
		if (f->helo == NULL || policy_is_addr(f->helo) ||
		    (strchr(f->helo, '.') != NULL &&
		     policy_valid_hostname(f->helo)))
			return EVAL_DUNNO;
		return policy_non_fqdn(ev, f->helo, "Helo command", "hostname");
	case R_REJECT_INVALID_HELO:
		if (f->helo == NULL || policy_is_addr(f->helo) ||
		    policy_valid_hostname(f->helo))
			return EVAL_DUNNO;
		code = (int)config_int(p->c, "invalid_hostname_reject_code");
		return policy_reply(ev->out, code, "5.5.2",
		                    "<%s>: Helo command rejected: Invalid name",
		                    f->helo);
	case R_CHECK_CLIENT_ACCESS:
		return policy_check_client_access(ev, r->table);
	case R_CHECK_HELO_ACCESS:
		if (f->helo == NULL)
			return EVAL_DUNNO;
		return policy_check_helo_access(ev, r->table);
	case R_CHECK_SENDER_ACCESS:
		if (f->sender == NULL)
			return EVAL_DUNNO;
		return policy_check_mail_access(ev, r->table, f->sender,
		                                "Sender address");
	case R_CHECK_RECIPIENT_ACCESS:
		if (f->recipient == NULL)
			return EVAL_DUNNO;
		return policy_check_mail_access(ev, r->table, f->recipient,
		                                "Recipient address");
	case R_REJECT_SENDER_LOGIN_MISMATCH:
		return policy_sender_login(ev, true, true);
	case R_REJECT_AUTH_SENDER_LOGIN_MISMATCH:
		return policy_sender_login(ev, true, false);
	case R_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH:
		return policy_sender_login(ev, false, true);
	}
	msg_panic("policy_eval_one: restriction kind %d", (int)r->kind);
}

static enum eval_status policy_eval_list(struct policy_eval *ev,
                                         const struct rlist *l)
{
	if (l->broken)
		return policy_config_error(ev);
	for (size_t i = 0; i < l->n; i++) {
		enum eval_status st = policy_eval_one(ev, &l->v[i]);

		if (st != EVAL_DUNNO)
			return st;
	}
	return EVAL_DUNNO;
}

/* The object each list's generic reject/defer names (Postfix's
 * reply_class), by L_*. */
static const char *const policy_list_class[L_COUNT] = {
    "Client host", "Helo command", "Sender address", "Recipient address",
    "Recipient address"};

/* Run list `which` with its reply context; true if it stopped (out
 * filled). Lists whose object is unknown yet are skipped. */
static bool policy_run(struct policy_eval *ev, int which)
{
	const struct policy_facts *f = ev->f;
	const char *name = which == L_CLIENT   ? ev->client
	                   : which == L_HELO   ? f->helo
	                   : which == L_SENDER ? f->sender
	                                       : f->recipient;

	if (name == NULL)
		return false;
	ev->reply_name = name;
	ev->reply_class = policy_list_class[which];
	return policy_eval_list(ev, &ev->p->lists[which]) == EVAL_STOP;
}

enum policy_verdict policy_check(struct policy *p, enum policy_stage stage,
                                 const struct policy_facts *f,
                                 struct policy_result *out)
{
	struct policy_eval ev;

	memset(out, 0, sizeof(*out));
	out->verdict = POLICY_OK;
	memset(&ev, 0, sizeof(ev));
	ev.p = p;
	ev.f = f;
	ev.out = out;
	(void)snprintf(ev.client, sizeof(ev.client), "%s[%s]",
	               f->client_name && *f->client_name ? f->client_name
	                                                 : "unknown",
	               f->client_address ? f->client_address : "unknown");

	switch (stage) {
	case POLICY_STAGE_CONNECT:
		if (!p->delay_reject)
			(void)policy_run(&ev, L_CLIENT);
		break;
	case POLICY_STAGE_HELO:
		if (!p->delay_reject)
			(void)policy_run(&ev, L_HELO);
		break;
	case POLICY_STAGE_MAIL:
		if (!p->delay_reject)
			(void)policy_run(&ev, L_SENDER);
		break;
	case POLICY_STAGE_RCPT:
		if (f->recipient == NULL)
			msg_panic("policy_check: RCPT stage without a "
			          "recipient");
		if (p->delay_reject &&
		    (policy_run(&ev, L_CLIENT) || policy_run(&ev, L_HELO) ||
		     policy_run(&ev, L_SENDER)))
			break;
		if (p->no_relay_guard) {
			(void)policy_config_error(&ev);
			break;
		}
		if (policy_run(&ev, L_RELAY) || policy_run(&ev, L_RECIPIENT))
			break;
		if (p->reject_unlisted)
			(void)policy_unlisted_recipient(&ev);
		break;
	}
	return out->verdict;
}

void policy_log_format(const struct policy_facts *f, const char *command,
                       const struct policy_result *r, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "reject: %s from %s[%s]: %s;", command,
	           f->client_name && *f->client_name ? f->client_name
	                                             : "unknown",
	           f->client_address ? f->client_address : "unknown", r->reply);
	if (f->sender)
		buf_printf(out, " from=<%s>", f->sender);
	if (f->recipient)
		buf_printf(out, " to=<%s>", f->recipient);
	if (f->protocol)
		buf_printf(out, " proto=%s", f->protocol);
	if (f->helo)
		buf_printf(out, " helo=<%s>", f->helo);
}

/* Connection limits. */

enum policy_verdict policy_connect_limits(struct policy *p,
                                          const struct policy_facts *f,
                                          const char *service,
                                          struct policy_result *out)
{
	long long count_limit =
	    config_int(p->c, "smtpd_client_connection_count_limit");
	long long rate_limit =
	    config_int(p->c, "smtpd_client_connection_rate_limit");
	int count, rate;
	const char *what = NULL;
	int n = 0;

	memset(out, 0, sizeof(*out));
	out->verdict = POLICY_OK;
	if (p->counted)
		policy_disconnect(p, f, service);
	if ((count_limit == 0 && rate_limit == 0) || f->client_address == NULL)
		return POLICY_OK;
	if (p->limit_exceptions &&
	    cidr_list_match(p->limit_exceptions, f->client_address) == 1)
		return POLICY_OK;
	if (p->anvil == NULL)
		p->anvil = anvil_client_create(p->c);
	if (anvil_connect(p->anvil, service, f->client_address, &count, &rate) <
	    0)
		return POLICY_OK; /* fail open; anvil_client logged it */
	p->counted = true;
	p->counted_service = mem_strdup(service);
	p->counted_address = mem_strdup(f->client_address);
	if (count_limit > 0 && count > count_limit) {
		what = "concurrency";
		n = count;
	} else if (rate_limit > 0 && rate > rate_limit) {
		what = "rate";
		n = rate;
	}
	if (what == NULL)
		return POLICY_OK;
	msg_warn("Connection %s limit exceeded: %d from %s[%s] for service %s",
	         what, n,
	         f->client_name && *f->client_name ? f->client_name : "unknown",
	         f->client_address, service);
	(void)snprintf(out->reply, sizeof(out->reply),
	               "421 4.7.0 %s Error: too many connections from %s",
	               p->myhostname, f->client_address);
	out->code = 421;
	out->verdict = POLICY_DEFER;
	return POLICY_DEFER;
}

void policy_disconnect(struct policy *p, const struct policy_facts *f,
                       const char *service)
{
	if (!p->counted)
		return;
	(void)anvil_disconnect(p->anvil, p->counted_service,
	                       p->counted_address);
	p->counted = false;
	mem_free(p->counted_service);
	mem_free(p->counted_address);
	p->counted_service = p->counted_address = NULL;
}
