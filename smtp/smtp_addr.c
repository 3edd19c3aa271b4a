/*
 * smtp_addr.c: from a nexthop to the addresses to try, the Postfix way
 * (RFC 5321 5.1): "domain" or "domain:port" is looked up as MX (sorted
 * by preference, random among equals), without MX records the domain's
 * own A/AAAA is used (implicit MX), a null MX (RFC 7505) bounces with
 * 5.1.10, NXDOMAIN with 5.1.2, a temporary DNS failure defers with 4.4.3;
 * "[host]" / "[host]:port" / "[192.0.2.1]" / "[IPv6:2001:db8::1]" skip the
 * MX lookup. On the SMTP port, an MX list naming this host (myhostname or
 * one of its addresses) is cut to the more preferred MX hosts; when none
 * is left the mail "loops back to myself" (5.4.6). smtp_mx_address_limit
 * caps the addresses, inet_protocols and smtp_address_preference choose
 * the families and their order.
 * SECURITY: names come from recipient addresses, qmgr and DNS replies;
 * they are length- and syntax-checked by lib/dns before any query, ports
 * are parsed with a bound, the lists have fixed caps.
 */
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "mem.h"
#include "msg.h"
#include "number.h"
#include "smtp.h"
#include "str.h"

/* At most this many MX hosts are looked up. */
#define SMTP_MAX_MX 32
/* Hard cap on addresses gathered before smtp_mx_address_limit. */
#define SMTP_MAX_ADDRS 100

/* A parsed nexthop. */
struct smtp_dest {
	char host[DNS_NAME_MAX + 16];
	int port;
	bool bracket; /* no MX lookup */
	bool literal; /* host is a numeric address */
	struct dns_addr addr;
};

/* Parse "[host]:port", "host:port", "[IPv6:addr]", ...; -1 if bad. */
static int smtp_dest_parse(const char *nexthop, struct smtp_dest *d)
{
	const char *host = nexthop, *port = NULL, *end;
	size_t hl;

	memset(d, 0, sizeof(*d));
	d->port = smtp_params.port;
	if (*nexthop == '[') {
		const char *close = strchr(nexthop, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		d->bracket = true;
		host = nexthop + 1;
		end = close;
		if (close[1] == ':')
			port = close + 2;
	} else {
		const char *colon = strrchr(nexthop, ':');

		end = colon ? colon : nexthop + strlen(nexthop);
		if (colon)
			port = colon + 1;
	}
	hl = (size_t)(end - host);
	if (hl == 0 || hl >= sizeof(d->host))
		return -1;
	memcpy(d->host, host, hl);
	d->host[hl] = '\0';
	if (port != NULL && strcmp(port, "smtp") != 0) {
		long long n;
		const char *why;

		if (number_parse(port, 1, 65535, &n, &why) < 0)
			return -1;
		d->port = (int)n;
	}
	if (d->bracket) {
		const char *a = d->host;

		/* RFC 5321 4.1.3: "IPv6:" tags an IPv6 address literal. */
		if (str_has_prefix_ci(a, "IPv6:"))
			a += 5;
		if (dns_addr_parse(a, &d->addr) == 0)
			d->literal = true;
		else if (a != d->host)
			return -1;
	}
	return 0;
}

void smtp_route_key(const char *nexthop, const char *rcpt_domain,
                    struct buf *out)
{
	struct smtp_dest d;
	const char *nh = *nexthop ? nexthop : rcpt_domain;

	if (smtp_dest_parse(nh, &d) < 0) {
		buf_set_str(out, nh);
		return;
	}
	buf_sprintf(out, "%s%s%s:%d", d.bracket ? "[" : "", d.host,
	            d.bracket ? "]" : "", d.port);
	str_lower(buf_data(out));
}

bool smtp_addr_is_local(const struct dns_addr *a)
{
	for (size_t i = 0; i < smtp_params.nlocal; i++)
		if (dns_addr_equal(a, &smtp_params.local[i]))
			return true;
	return false;
}

static void smtp_add_local(const struct dns_addr *a)
{
	if (smtp_addr_is_local(a))
		return;
	smtp_params.local =
	    mem_realloc(smtp_params.local,
	                (smtp_params.nlocal + 1) * sizeof(*smtp_params.local));
	smtp_params.local[smtp_params.nlocal++] = *a;
}

/* All addresses of the interfaces (inet_interfaces = all). */
static void smtp_add_interfaces(void)
{
	struct ifaddrs *ifa, *p;

	if (getifaddrs(&ifa) < 0) {
		msg_warn("getifaddrs: %m");
		return;
	}
	for (p = ifa; p != NULL; p = p->ifa_next) {
		struct dns_addr a;

		if (p->ifa_addr == NULL)
			continue;
		memset(&a, 0, sizeof(a));
		if (p->ifa_addr->sa_family == AF_INET) {
			a.family = AF_INET;
			a.u.v4 = ((struct sockaddr_in *)(void *)p->ifa_addr)
			             ->sin_addr;
		} else if (p->ifa_addr->sa_family == AF_INET6) {
			a.family = AF_INET6;
			a.u.v6 = ((struct sockaddr_in6 *)(void *)p->ifa_addr)
			             ->sin6_addr;
		} else {
			continue;
		}
		smtp_add_local(&a);
	}
	freeifaddrs(ifa);
}

void smtp_addr_init(struct config *c)
{
	char *copy, *cursor, *tok;
	const char *protos = config_str(c, "inet_protocols");

	smtp_params.families = 0;
	cursor = copy = mem_strdup(protos);
	while ((tok = str_token(&cursor, ", \t")) != NULL) {
		if (str_eq_ci(tok, "all"))
			smtp_params.families |= DNS_WANT_V4 | DNS_WANT_V6;
		else if (str_eq_ci(tok, "ipv4"))
			smtp_params.families |= DNS_WANT_V4;
		else if (str_eq_ci(tok, "ipv6"))
			smtp_params.families |= DNS_WANT_V6;
		else
			msg_fatal("main.cf: inet_protocols: bad value '%s'",
			          tok);
	}
	mem_free(copy);
	if (smtp_params.families == 0)
		msg_fatal("main.cf: inet_protocols: no protocol");

	/* This host's addresses: those the inet services listen on (Postfix:
	 * inet_interfaces), all interfaces for "all". */
	cursor = copy = mem_strdup(config_str(c, "inet_interfaces"));
	while ((tok = str_token(&cursor, ", \t")) != NULL) {
		struct dns_addr a;
		size_t len = strlen(tok);

		if (str_eq_ci(tok, "all")) {
			smtp_add_interfaces();
			continue;
		}
		if (str_eq_ci(tok, "loopback-only")) {
			dns_addr_parse("127.0.0.1", &a);
			smtp_add_local(&a);
			dns_addr_parse("::1", &a);
			smtp_add_local(&a);
			continue;
		}
		if (tok[0] == '[' && len > 2 && tok[len - 1] == ']') {
			tok[len - 1] = '\0';
			tok++;
		}
		if (dns_addr_parse(tok, &a) == 0)
			smtp_add_local(&a);
		else
			msg_warn("inet_interfaces: '%s' is not an address: "
			         "not used for mail loop detection",
			         tok);
	}
	mem_free(copy);
}

void smtp_route_free(struct smtp_route *route)
{
	for (size_t i = 0; i < route->n; i++)
		mem_free(route->t[i].host);
	mem_free(route->t);
	route->t = NULL;
	route->n = 0;
	if (route->err.reason != NULL)
		smtp_outcome_free(&route->err);
}

static void smtp_route_fail(struct smtp_route *route, int status,
                            const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void smtp_route_fail(struct smtp_route *route, int status,
                            const char *dsn, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (route->err.reason == NULL)
		smtp_outcome_init(&route->err);
	smtp_outcome_set(&route->err, status, dsn, "none", "%s", text);
	route->failed = true;
}

static bool smtp_family_ok(int family)
{
	return (family == AF_INET && (smtp_params.families & DNS_WANT_V4)) ||
	       (family == AF_INET6 && (smtp_params.families & DNS_WANT_V6));
}

/* Order one host's addresses by smtp_address_preference. */
static void smtp_order_families(struct dns_addr *a, size_t n)
{
	int first = smtp_params.prefer;

	if (n < 2)
		return;
	if (first == 0) {
		unsigned char r = 0;

		if (getrandom(&r, 1, GRND_NONBLOCK) != 1)
			r = 0;
		first = (r & 1) ? AF_INET : AF_INET6;
	}
	/* Stable partition: the preferred family first. */
	for (size_t i = 1; i < n; i++) {
		struct dns_addr t = a[i];
		size_t j = i;

		if (t.family != first)
			continue;
		while (j > 0 && a[j - 1].family != first) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = t;
	}
}

static void smtp_route_add(struct smtp_route *route, const char *host, int pref,
                           const struct dns_addr *a, int port)
{
	struct smtp_target *t;

	route->t = mem_realloc(route->t, (route->n + 1) * sizeof(*route->t));
	t = &route->t[route->n++];
	t->host = mem_strdup(host);
	t->pref = pref;
	t->addr = *a;
	t->port = port;
}

/* A/AAAA of host (pref given) onto the route. Returns the DNS status. */
static int smtp_route_host(struct smtp_route *route, const char *host, int pref,
                           int port, struct buf *why)
{
	struct dns_addr *addrs = NULL;
	size_t n = 0;
	int rc = dns_lookup_addr(host, smtp_params.families, &addrs, &n,
	                         SMTP_MAX_ADDRS, why);

	smtp_order_families(addrs, n);
	for (size_t i = 0; i < n && route->n < SMTP_MAX_ADDRS; i++)
		smtp_route_add(route, host, pref, &addrs[i], port);
	mem_free(addrs);
	return rc;
}

static const char *smtp_dns_type(void)
{
	return (smtp_params.families & DNS_WANT_V6) ? "AAAA" : "A";
}

/* Lookup failure of a host: bounce for "not found", defer otherwise. */
static void smtp_route_host_fail(struct smtp_route *route, const char *name,
                                 const char *type, int rc, struct buf *why)
{
	if (rc == DNS_RETRY)
		smtp_route_fail(route, 4, "4.4.3",
		                "Host or domain name not found. Name service "
		                "error for name=%s type=%s: %s",
		                name, type, buf_str(why));
	else if (rc == DNS_NODATA)
		smtp_route_fail(route, 5, "5.4.4",
		                "Host or domain name not found. Name service "
		                "error for name=%s type=%s: %s",
		                name, type, buf_str(why));
	else
		smtp_route_fail(route, 5, "5.1.2",
		                "Host or domain name not found. Name service "
		                "error for name=%s type=%s: %s",
		                name, type, buf_str(why));
}

/* Keep only targets preferred over this host (RFC 5321 5.1: a relay
 * that is itself an MX only sends to more preferred ones). */
static void smtp_route_cut_self(struct smtp_route *route, const char *name)
{
	int self = -1, best = -1;
	size_t keep = 0;

	for (size_t i = 0; i < route->n; i++) {
		struct smtp_target *t = &route->t[i];

		if (best < 0 || t->pref < best)
			best = t->pref;
		if ((str_eq_ci(t->host, smtp_params.myhostname) ||
		     smtp_addr_is_local(&t->addr)) &&
		    (self < 0 || t->pref < self))
			self = t->pref;
	}
	if (self < 0)
		return;
	for (size_t i = 0; i < route->n; i++) {
		if (route->t[i].pref < self)
			route->t[keep++] = route->t[i];
		else
			mem_free(route->t[i].host);
	}
	route->n = keep;
	if (keep > 0)
		return;
	if (best < self)
		smtp_route_fail(route, 4, "4.4.4",
		                "unable to find primary relay for %s", name);
	else
		smtp_route_fail(route, 5, "5.4.6",
		                "mail for %s loops back to myself", name);
}

static void smtp_route_mx(struct smtp_route *route, const struct smtp_dest *d)
{
	struct buf *why = buf_create(128, 1024);
	struct dns_reply mx;
	int rc = dns_lookup_mx(d->host, &mx, why);
	bool soft = false;

	switch (rc) {
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX: the domain itself, preference 0. */
		buf_reset(why);
		rc = smtp_route_host(route, d->host, 0, d->port, why);
		if (rc != DNS_OK) {
			smtp_route_host_fail(route, d->host, smtp_dns_type(),
			                     rc, why);
			goto out;
		}
		goto check;
	case DNS_OK:
		break;
	case DNS_RETRY:
		smtp_route_fail(route, 4, "4.4.3",
		                "Host or domain name not found. Name service "
		                "error for name=%s type=%s: %s",
		                d->host, "MX", buf_str(why));
		goto out;
	default: /* NOTFOUND, INVALID */
		smtp_route_fail(route, 5, "5.1.2",
		                "Host or domain name not found. Name service "
		                "error for name=%s type=%s: %s",
		                d->host, "MX", buf_str(why));
		goto out;
	}
	/* RFC 7505 3: a null MX says the domain accepts no mail. */
	for (size_t i = 0; i < mx.count; i++) {
		if (mx.rr[i].host[0] == '\0') {
			smtp_route_fail(route, 5, "5.1.10",
			                "Domain %s does not accept mail "
			                "(nullMX)",
			                d->host);
			dns_reply_free(&mx);
			goto out;
		}
	}
	for (size_t i = 0; i < mx.count && i < SMTP_MAX_MX; i++) {
		buf_reset(why);
		rc = smtp_route_host(route, mx.rr[i].host, mx.rr[i].pref,
		                     d->port, why);
		if (rc == DNS_RETRY) {
			soft = true;
			msg_warn("%s: MX host %s: %s", d->host, mx.rr[i].host,
			         buf_str(why));
		}
	}
	dns_reply_free(&mx);
	if (route->n == 0) {
		if (soft)
			smtp_route_fail(route, 4, "4.4.3",
			                "Host or domain name not found. Name "
			                "service error for MX hosts of %s: "
			                "try again",
			                d->host);
		else
			smtp_route_fail(route, 5, "5.4.4",
			                "Host or domain name not found: no "
			                "MX host for %s has a valid address "
			                "record",
			                d->host);
		goto out;
	}
check:
	if (route->loop_check)
		smtp_route_cut_self(route, d->host);
out:
	buf_destroy(&why);
}

void smtp_route_resolve(const char *nexthop, const char *rcpt_domain,
                        struct smtp_route *route)
{
	struct smtp_dest d;
	const char *nh = *nexthop ? nexthop : rcpt_domain;

	memset(route, 0, sizeof(*route));
	if (smtp_dest_parse(nh, &d) < 0) {
		smtp_route_fail(route, 5, "5.1.2", "bad destination '%s'", nh);
		return;
	}
	route->loop_check = d.port == smtp_params.port;
	if (d.literal) {
		if (!smtp_family_ok(d.addr.family)) {
			smtp_route_fail(route, 5, "5.4.4",
			                "%s: address family disabled by "
			                "inet_protocols",
			                nh);
			return;
		}
		smtp_route_add(route, d.host, 0, &d.addr, d.port);
	} else if (d.bracket) {
		struct buf *why = buf_create(128, 1024);
		int rc = smtp_route_host(route, d.host, 0, d.port, why);

		if (rc != DNS_OK)
			smtp_route_host_fail(route, d.host, smtp_dns_type(), rc,
			                     why);
		buf_destroy(&why);
		if (route->failed)
			return;
	} else {
		smtp_route_mx(route, &d);
		if (route->failed)
			return;
		if (route->n == 0) {
			smtp_route_fail(route, 4, "4.4.3",
			                "no addresses for %s", d.host);
			return;
		}
		/* smtp_route_mx cut the list already when looping. */
		goto limit;
	}
	if (route->loop_check) {
		for (size_t i = 0; i < route->n; i++) {
			if (str_eq_ci(route->t[i].host,
			              smtp_params.myhostname) ||
			    smtp_addr_is_local(&route->t[i].addr)) {
				smtp_route_fail(route, 5, "5.4.6",
				                "mail for %s loops back to "
				                "myself",
				                nh);
				return;
			}
		}
	}
limit:
	if (smtp_params.mx_address_limit > 0 &&
	    route->n > (size_t)smtp_params.mx_address_limit) {
		for (size_t i = (size_t)smtp_params.mx_address_limit;
		     i < route->n; i++)
			mem_free(route->t[i].host);
		route->n = (size_t)smtp_params.mx_address_limit;
	}
}
