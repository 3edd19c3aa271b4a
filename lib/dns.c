/*
 * dns.c: DNS lookups for mail routing (RFC 1035, RFC 5321 5.1, RFC 7505
 * null MX, RFC 3596 AAAA) over libresolv with one reentrant resolver state
 * per process (res_ninit / res_nmkquery / res_nsend). Replies are parsed
 * by dns_reply_parse (ns_initparse / ns_parserr), which takes raw packets
 * so that it is unit-tested with crafted packets and fuzzed. Owns the
 * resolver state and struct dns_reply's records.
 * SECURITY: replies come from the network (or a resolver that relays
 * them): the packet is walked only through libresolv's bounded parsers
 * (compression pointers checked, pointer loops refused), section counts
 * must match the packet, the question must be the one asked, record data
 * lengths are checked per type, names are length-checked, at most
 * DNS_MAX_RR records are kept, and MX host names must be valid domain
 * names. A truncated or malformed reply is a temporary error, never a
 * "not found".
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "dns.h"
#include "mem.h"
#include "number.h"
#include "str.h"

/* Largest reply taken (TCP replies may be up to 64 KiB). */
#define DNS_ANSWER_MAX 65535
/* CNAME chains in one answer are followed this deep. */
#define DNS_CNAME_DEPTH 8

static struct __res_state dns_res;
static bool dns_ready;

bool dns_name_valid(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > DNS_LABEL_MAX)
			return false;
	}
	return true;
}

/* Compare two names, ASCII case-insensitive, ignoring a trailing dot. */
static bool dns_name_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

void dns_reply_free(struct dns_reply *r)
{
	for (size_t i = 0; r->rr != NULL && i < r->count; i++) {
		mem_free(r->rr[i].host);
		mem_free(r->rr[i].data);
	}
	mem_free(r->rr);
	memset(r, 0, sizeof(*r));
}

static const char *dns_type_name(int type)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_MX:
		return "MX";
	case DNS_T_CNAME:
		return "CNAME";
	case DNS_T_TLSA:
		return "TLSA";
	}
	return "other";
}

/* Append the record to out if it is one we keep; -1 if malformed. */
static int dns_take_rr(ns_msg *msg, ns_rr *rr, struct dns_reply *out)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t rdlen = ns_rr_rdlen(*rr);
	struct dns_rr *o;
	char host[NS_MAXDNAME];
	int n;

	if (out->count >= DNS_MAX_RR)
		return 0;
	switch ((int)ns_rr_type(*rr)) {
	case DNS_T_A:
		if (rdlen != 4)
			return -1;
		break;
	case DNS_T_AAAA:
		if (rdlen != 16)
			return -1;
		break;
	case DNS_T_MX:
		/* RFC 1035 3.3.9: PREFERENCE (16 bits) EXCHANGE (a name). */
		if (rdlen < 3)
			return -1;
		n = dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), rd + 2, host,
		              sizeof(host));
		if (n < 0 || (size_t)n > rdlen - 2)
			return -1;
		/* RFC 7505: "." (dn_expand gives "") is the null MX; other
		 * invalid names are skipped, as Postfix does. */
		if (host[0] != '\0' && !dns_name_valid(host))
			return 0;
		break;
	}
	out->rr = mem_realloc(out->rr, (out->count + 1) * sizeof(*out->rr));
	o = &out->rr[out->count++];
	memset(o, 0, sizeof(*o));
	o->type = (int)ns_rr_type(*rr);
	o->ttl = ns_rr_ttl(*rr);
	if (o->type == DNS_T_MX) {
		o->pref = ns_get16(rd);
		o->host = mem_strdup(host);
	} else {
		o->data = (unsigned char *)mem_memdup(rd, rdlen);
		o->len = rdlen;
	}
	return 0;
}

int dns_reply_parse(const unsigned char *pkt, size_t len, const char *qname,
                    int qtype, struct dns_reply *out, struct buf *why)
{
	ns_msg msg;
	ns_rr rr;
	struct dns_reply res;
	/* The owner names whose records answer the question: qname and the
	 * targets of CNAMEs reached from it. */
	char names[DNS_CNAME_DEPTH + 1][NS_MAXDNAME];
	int nnames = 1, nans, rcode;

	memset(&res, 0, sizeof(res));
	if (len > DNS_ANSWER_MAX || len < NS_HFIXEDSZ ||
	    ns_initparse(pkt, (int)len, &msg) < 0) {
		buf_set_str(why, "malformed reply");
		return DNS_RETRY;
	}
	if (!ns_msg_getflag(msg, ns_f_qr) ||
	    ns_msg_getflag(msg, ns_f_opcode) != ns_o_query) {
		buf_set_str(why, "malformed reply: not a query response");
		return DNS_RETRY;
	}
	if (ns_msg_getflag(msg, ns_f_tc)) {
		buf_set_str(why, "truncated reply");
		return DNS_RETRY;
	}
	/* RFC 1035 4.1.2: the question we asked comes back. */
	if (ns_msg_count(msg, ns_s_qd) != 1 ||
	    ns_parserr(&msg, ns_s_qd, 0, &rr) < 0 ||
	    !dns_name_equal(ns_rr_name(rr), qname) ||
	    (int)ns_rr_type(rr) != qtype || ns_rr_class(rr) != ns_c_in) {
		buf_set_str(why, "malformed reply: not an answer to the query");
		return DNS_RETRY;
	}
	rcode = ns_msg_getflag(msg, ns_f_rcode);
	if (rcode == ns_r_nxdomain) {
		buf_set_str(why, "Host not found");
		return DNS_NOTFOUND;
	}
	if (rcode != ns_r_noerror) {
		buf_sprintf(why, "Host not found, try again (rcode %d)", rcode);
		return DNS_RETRY;
	}
	res.authentic = ns_msg_getflag(msg, ns_f_ad) != 0;
	if (str_copy(names[0], sizeof(names[0]), qname) < 0) {
		buf_set_str(why, "malformed reply: name too long");
		return DNS_RETRY;
	}
	nans = ns_msg_count(msg, ns_s_an);
	/* Follow CNAMEs first (they may come in any order). */
	for (int pass = 0; pass < DNS_CNAME_DEPTH; pass++) {
		bool grew = false;

		for (int i = 0; i < nans; i++) {
			char target[NS_MAXDNAME];
			bool known = false;

			if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
				buf_set_str(why, "malformed reply: bad record");
				return DNS_RETRY;
			}
			if ((int)ns_rr_type(rr) != DNS_T_CNAME ||
			    ns_rr_class(rr) != ns_c_in)
				continue;
			for (int k = 0; k < nnames && !known; k++)
				known =
				    dns_name_equal(ns_rr_name(rr), names[k]);
			if (!known)
				continue;
			if (dn_expand(ns_msg_base(msg), ns_msg_end(msg),
			              ns_rr_rdata(rr), target,
			              sizeof(target)) < 0) {
				buf_set_str(why, "malformed reply: bad CNAME");
				return DNS_RETRY;
			}
			known = false;
			for (int k = 0; k < nnames && !known; k++)
				known = dns_name_equal(target, names[k]);
			if (known || nnames > DNS_CNAME_DEPTH)
				continue;
			memcpy(names[nnames++], target, sizeof(target));
			grew = true;
		}
		if (!grew)
			break;
	}
	for (int i = 0; i < nans; i++) {
		bool ours = false;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
			buf_set_str(why, "malformed reply: bad record");
			dns_reply_free(&res);
			return DNS_RETRY;
		}
		if ((int)ns_rr_type(rr) != qtype || ns_rr_class(rr) != ns_c_in)
			continue;
		for (int k = 0; k < nnames && !ours; k++)
			ours = dns_name_equal(ns_rr_name(rr), names[k]);
		if (!ours)
			continue;
		if (dns_take_rr(&msg, &rr, &res) < 0) {
			buf_sprintf(why, "malformed reply: bad %s record data",
			            dns_type_name(qtype));
			dns_reply_free(&res);
			return DNS_RETRY;
		}
	}
	if (res.count == 0) {
		buf_sprintf(why, "Host found but no data record of type %s",
		            dns_type_name(qtype));
		return DNS_NODATA;
	}
	*out = res;
	return DNS_OK;
}

/* One "addr", "addr:port", "[addr]" or "[addr]:port" server. */
static int dns_parse_server(const char *spec, struct sockaddr_in *v4,
                            struct sockaddr_in6 *v6, int *family,
                            struct buf *err)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL, *why;
	long long portnum = 53;
	size_t hl;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			goto bad;
		hl = (size_t)(close - spec - 1);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, hl);
		host[hl] = '\0';
		if (close[1] == ':')
			port = close + 2;
	} else {
		const char *colon = strchr(spec, ':');

		/* A bare IPv6 address has several colons: no port then. */
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hl = (size_t)(colon - spec);
			port = colon + 1;
		} else {
			hl = strlen(spec);
		}
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, spec, hl);
		host[hl] = '\0';
	}
	if (port != NULL && number_parse(port, 1, 65535, &portnum, &why) < 0)
		goto bad;
	memset(v4, 0, sizeof(*v4));
	memset(v6, 0, sizeof(*v6));
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((unsigned short)portnum);
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((unsigned short)portnum);
		*family = AF_INET6;
		return 0;
	}
bad:
	buf_sprintf(err, "dns_resolver_address: bad server '%s'", spec);
	return -1;
}

/* Forget the servers res_ninit found (glibc keeps IPv6 ones in _u._ext,
 * allocated; it frees them in res_nclose). */
static void dns_clear_servers(void)
{
	for (int i = 0; i < MAXNS; i++) {
		free(dns_res._u._ext.nsaddrs[i]);
		dns_res._u._ext.nsaddrs[i] = NULL;
		dns_res._u._ext.nssocks[i] = -1;
		memset(&dns_res.nsaddr_list[i], 0,
		       sizeof(dns_res.nsaddr_list[i]));
	}
	dns_res._u._ext.nscount = 0;
	dns_res.nscount = 0;
}

int dns_init(const char *resolver, struct buf *err)
{
	char *copy, *cursor, *tok;
	int n = 0;

	dns_deinit();
	memset(&dns_res, 0, sizeof(dns_res));
	if (res_ninit(&dns_res) < 0) {
		buf_set_str(err, "res_ninit failed");
		return -1;
	}
	dns_ready = true;
	/* Never append search domains: names are fully qualified. */
	dns_res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	if (resolver == NULL || *resolver == '\0')
		return 0;
	cursor = copy = mem_strdup(resolver);
	dns_clear_servers();
	while ((tok = str_token(&cursor, ", \t")) != NULL) {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
		int family;

		if (n >= MAXNS) {
			buf_sprintf(err,
			            "dns_resolver_address: more than %d "
			            "servers",
			            MAXNS);
			goto fail;
		}
		if (dns_parse_server(tok, &v4, &v6, &family, err) < 0)
			goto fail;
		if (family == AF_INET) {
			dns_res.nsaddr_list[n] = v4;
		} else {
			/* glibc's convention for an IPv6 server: family 0
			 * in nsaddr_list, the address in _u._ext. */
			struct sockaddr_in6 *sa6 = malloc(sizeof(*sa6));

			if (sa6 == NULL) {
				buf_set_str(err, "out of memory");
				goto fail;
			}
			*sa6 = v6;
			dns_res.nsaddr_list[n].sin_family = 0;
			dns_res._u._ext.nsaddrs[n] = sa6;
		}
		n++;
	}
	if (n == 0) {
		buf_set_str(err, "dns_resolver_address: no server");
		goto fail;
	}
	dns_res.nscount = n;
	mem_free(copy);
	return 0;
fail:
	mem_free(copy);
	dns_deinit();
	return -1;
}

void dns_deinit(void)
{
	if (dns_ready)
		res_nclose(&dns_res);
	dns_ready = false;
}

int dns_lookup(const char *name, int type, struct dns_reply *out,
               struct buf *why)
{
	unsigned char query[NS_PACKETSZ];
	unsigned char *answer;
	int qlen, alen, rc;

	if (!dns_name_valid(name)) {
		buf_set_str(why, "invalid domain name");
		return DNS_INVALID;
	}
	if (!dns_ready) {
		struct buf *err = buf_create(64, 0);

		rc = dns_init(NULL, err);
		buf_destroy(&err);
		if (rc < 0) {
			buf_set_str(why, "resolver unavailable");
			return DNS_RETRY;
		}
	}
	qlen = res_nmkquery(&dns_res, ns_o_query, name, ns_c_in, type, NULL, 0,
	                    NULL, query, sizeof(query));
	if (qlen < 0) {
		buf_set_str(why, "invalid domain name");
		return DNS_INVALID;
	}
	answer = mem_alloc(DNS_ANSWER_MAX);
	errno = 0;
	alen = res_nsend(&dns_res, query, qlen, answer, DNS_ANSWER_MAX);
	if (alen < 0) {
		/* Timeout, unreachable server, or a SERVFAIL/REFUSED that
		 * libresolv turned into an error. */
		buf_sprintf(why, "Host not found, try again%s%s%s",
		            errno ? " (" : "", errno ? strerror(errno) : "",
		            errno ? ")" : "");
		rc = DNS_RETRY;
	} else {
		rc =
		    dns_reply_parse(answer, (size_t)alen, name, type, out, why);
	}
	mem_free(answer);
	return rc;
}

static int dns_mx_compare(const void *a, const void *b)
{
	const struct dns_rr *x = a, *y = b;

	return x->pref - y->pref;
}

void dns_mx_sort(struct dns_reply *r)
{
	if (r->count < 2)
		return;
	/* RFC 5321 5.1: randomize among equal preferences: shuffle, then
	 * a stable ordering by preference (insertion sort: lists are
	 * short). */
	for (size_t i = r->count - 1; i > 0; i--) {
		unsigned int rnd;
		struct dns_rr t;
		size_t j;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(rnd))
			rnd = (unsigned int)random();
		j = rnd % (i + 1);
		t = r->rr[i];
		r->rr[i] = r->rr[j];
		r->rr[j] = t;
	}
	for (size_t i = 1; i < r->count; i++) {
		struct dns_rr t = r->rr[i];
		size_t j = i;

		while (j > 0 && dns_mx_compare(&r->rr[j - 1], &t) > 0) {
			r->rr[j] = r->rr[j - 1];
			j--;
		}
		r->rr[j] = t;
	}
}

int dns_lookup_mx(const char *domain, struct dns_reply *out, struct buf *why)
{
	int rc = dns_lookup(domain, DNS_T_MX, out, why);

	if (rc == DNS_OK)
		dns_mx_sort(out);
	return rc;
}

/* Rank failures: the most telling one wins. */
static int dns_rank(int status)
{
	switch (status) {
	case DNS_RETRY:
		return 3;
	case DNS_NODATA:
		return 2;
	case DNS_NOTFOUND:
		return 1;
	}
	return 0;
}

int dns_lookup_addr(const char *name, int families, struct dns_addr **addrs,
                    size_t *count, size_t max, struct buf *why)
{
	static const struct {
		int want, type, family;
		size_t len;
	} kinds[] = {
	    {DNS_WANT_V6, DNS_T_AAAA, AF_INET6, 16},
	    {DNS_WANT_V4, DNS_T_A, AF_INET, 4},
	};
	struct buf *one = buf_create(128, 1024);
	int worst = DNS_NOTFOUND;
	bool found = false;

	buf_reset(why);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct dns_reply r;
		int rc;

		if (!(families & kinds[k].want))
			continue;
		buf_reset(one);
		rc = dns_lookup(name, kinds[k].type, &r, one);
		if (rc == DNS_INVALID) {
			buf_set_str(why, buf_str(one));
			buf_destroy(&one);
			return DNS_INVALID;
		}
		if (rc != DNS_OK) {
			if (buf_len(why) == 0 ||
			    dns_rank(rc) > dns_rank(worst)) {
				worst = rc;
				buf_sprintf(why, "%s", buf_str(one));
			}
			continue;
		}
		found = true;
		for (size_t i = 0; i < r.count && *count < max; i++) {
			struct dns_addr *a;

			if (r.rr[i].len != kinds[k].len)
				continue;
			*addrs =
			    mem_realloc(*addrs, (*count + 1) * sizeof(**addrs));
			a = &(*addrs)[(*count)++];
			memset(a, 0, sizeof(*a));
			a->family = kinds[k].family;
			memcpy(&a->u, r.rr[i].data, kinds[k].len);
		}
		dns_reply_free(&r);
	}
	buf_destroy(&one);
	return found ? DNS_OK : worst;
}

void dns_addr_format(const struct dns_addr *a, char *out, size_t outlen)
{
	if (inet_ntop(a->family, &a->u, out, (socklen_t)outlen) == NULL)
		(void)str_copy(out, outlen, "?");
}

int dns_addr_parse(const char *text, struct dns_addr *out)
{
	struct dns_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, &a.u.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, text, &a.u.v6) == 1)
		a.family = AF_INET6;
	else
		return -1;
	*out = a;
	return 0;
}

bool dns_addr_equal(const struct dns_addr *a, const struct dns_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->u.v4.s_addr == b->u.v4.s_addr;
	return memcmp(&a->u.v6, &b->u.v6, sizeof(a->u.v6)) == 0;
}

socklen_t dns_addr_sockaddr(const struct dns_addr *a, int port,
                            struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = a->u.v4;
		sin->sin_port = htons((unsigned short)port);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = a->u.v6;
		sin6->sin6_port = htons((unsigned short)port);
		return sizeof(*sin6);
	}
}
