/* check_dns.c: unit tests for lib/dns.c: the reply parser on crafted
 * packets (MX with compressed names, the null MX, CNAME chains, A and
 * AAAA, NXDOMAIN, NODATA, SERVFAIL, truncated replies, wrong counts,
 * compression pointer loops, a question that is not ours, bad record
 * lengths, queries instead of responses), MX sorting with random order
 * among equal preferences, name validation, resolver address parsing and
 * address helpers. */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

/* ---- a packet builder ---- */

struct pkt {
	unsigned char b[4096];
	size_t len;
};

static void put8(struct pkt *p, unsigned v)
{
	p->b[p->len++] = (unsigned char)v;
}

static void put16(struct pkt *p, unsigned v)
{
	put8(p, v >> 8);
	put8(p, v & 0xff);
}

static void put32(struct pkt *p, unsigned long v)
{
	put16(p, (unsigned)(v >> 16));
	put16(p, (unsigned)(v & 0xffff));
}

/* A name in wire form; "" is the root. */
static void put_name(struct pkt *p, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t n = dot ? (size_t)(dot - name) : strlen(name);

		put8(p, (unsigned)n);
		memcpy(p->b + p->len, name, n);
		p->len += n;
		name += n + (dot ? 1 : 0);
	}
	put8(p, 0);
}

/* Header: flags word given, counts. */
static void put_header(struct pkt *p, unsigned flags, unsigned qd, unsigned an,
                       unsigned ns, unsigned ar)
{
	p->len = 0;
	put16(p, 0x1234);
	put16(p, flags);
	put16(p, qd);
	put16(p, an);
	put16(p, ns);
	put16(p, ar);
}

#define QR 0x8000
#define AA 0x0400
#define TC 0x0200
#define RD 0x0100
#define RA 0x0080

static void put_question(struct pkt *p, const char *name, unsigned type)
{
	put_name(p, name);
	put16(p, type);
	put16(p, 1);
}

/* A record's fixed part with owner given as a pointer to offset 12 (the
 * question name). */
static void put_rr_ptr12(struct pkt *p, unsigned type, unsigned rdlen)
{
	put16(p, 0xc00c);
	put16(p, type);
	put16(p, 1);
	put32(p, 300);
	put16(p, rdlen);
}

static int parse(struct pkt *p, const char *qname, int qtype,
                 struct dns_reply *r, struct buf *why)
{
	memset(r, 0, sizeof(*r));
	buf_reset(why);
	return dns_reply_parse(p->b, p->len, qname, qtype, r, why);
}

START_TEST(test_mx_compressed)
{
	struct pkt p;
	struct dns_reply r;
	struct buf *why = buf_create(64, 0);
	size_t rd;

	put_header(&p, QR | AA | RD | RA, 1, 2, 0, 0);
	put_question(&p, "a.test", DNS_T_MX);
	/* MX 10 mx1.a.test: "mx1" + pointer to "a.test" at 12. */
	put_rr_ptr12(&p, DNS_T_MX, 2 + 1 + 3 + 2);
	put16(&p, 10);
	put8(&p, 3);
	memcpy(p.b + p.len, "mx1", 3);
	p.len += 3;
	put16(&p, 0xc00c);
	/* MX 20 mx2.other.test, uncompressed. */
	rd = p.len;
	put_rr_ptr12(&p, DNS_T_MX, 0);
	put16(&p, 20);
	put_name(&p, "mx2.other.test");
	p.b[rd + 10] = 0;
	p.b[rd + 11] = (unsigned char)(p.len - rd - 12);
	ck_assert_int_eq(parse(&p, "a.test", DNS_T_MX, &r, why), DNS_OK);
	ck_assert_int_eq(r.count, 2);
	ck_assert_int_eq(r.rr[0].pref, 10);
	ck_assert_str_eq(r.rr[0].host, "mx1.a.test");
	ck_assert_str_eq(r.rr[1].host, "mx2.other.test");
	ck_assert_int_eq(r.rr[1].ttl, 300);
	dns_reply_free(&r);
	/* Names compare without case and trailing dot. */
	ck_assert_int_eq(parse(&p, "A.Test.", DNS_T_MX, &r, why), DNS_OK);
	dns_reply_free(&r);
	/* Not our question. */
	ck_assert_int_eq(parse(&p, "b.test", DNS_T_MX, &r, why), DNS_RETRY);
	ck_assert_int_eq(parse(&p, "a.test", DNS_T_A, &r, why), DNS_RETRY);
	buf_destroy(&why);
}
END_TEST

START_TEST(test_null_mx)
{
	struct pkt p;
	struct dns_reply r;
	struct buf *why = buf_create(64, 0);

	put_header(&p, QR | AA, 1, 1, 0, 0);
	put_question(&p, "nullmx.test", DNS_T_MX);
	put_rr_ptr12(&p, DNS_T_MX, 3);
	put16(&p, 0);
	put8(&p, 0); /* "." */
	ck_assert_int_eq(parse(&p, "nullmx.test", DNS_T_MX, &r, why), DNS_OK);
	ck_assert_int_eq(r.count, 1);
	ck_assert_int_eq(r.rr[0].pref, 0);
	ck_assert_str_eq(r.rr[0].host, "");
	dns_reply_free(&r);
	buf_destroy(&why);
}
END_TEST

START_TEST(test_pointer_loop_and_bad_pointer)
{
	struct pkt p;
	struct dns_reply r;
	struct buf *why = buf_create(64, 0);
	size_t here;

	put_header(&p, QR, 1, 1, 0, 0);
	put_question(&p, "a.test", DNS_T_MX);
	put_rr_ptr12(&p, DNS_T_MX, 4);
	put16(&p, 10);
	here = p.len;
	/* The exchange points to itself. */
	put16(&p, 0xc000 | (unsigned)here);
	ck_assert_int_eq(parse(&p, "a.test", DNS_T_MX, &r, why), DNS_RETRY);
	ck_assert_str_eq(buf_str(why), "malformed reply: bad MX record data");
	/* Pointer past the end. */
	p.len = here;
	put16(&p, 0xc000 | 0x3ff);
	ck_assert_int_eq(parse(&p, "a.test", DNS_T_MX, &r, why), DNS_RETRY);
	/* An owner name that loops. */
	put_header(&p, QR, 1, 1, 0, 0);
	put_question(&p, "a.test", DNS_T_A);
	here = p.len;
	put16(&p, 0xc000 | (unsigned)here);
	put16(&p, DNS_T_A);
	put16(&p, 1);
	put32(&p, 1);
	put16(&p, 4);
	put32(&p, 0x7f000001);
	ck_assert_int_eq(parse(&p, "a.test", DNS_T_A, &r, why), DNS_RETRY);
	buf_destroy(&why);
}
END_TEST

START_TEST(test_rcodes_and_header)
{
	struct pkt p;
	struct dns_reply r;
	struct buf *why = buf_create(64, 0);

	put_header(&p, QR | AA | 3, 1, 0, 0, 0); /* NXDOMAIN */
	put_question(&p, "nx.test", DNS_T_MX);
	ck_assert_int_eq(parse(&p, "nx.test", DNS_T_MX, &r, why), DNS_NOTFOUND);
	ck_assert_str_eq(buf_str(why), "Host not found");
	put_header(&p, QR | 2, 1, 0, 0, 0); /* SERVFAIL */
	put_question(&p, "x.test", DNS_T_MX);
	ck_assert_int_eq(parse(&p, "x.test", DNS_T_MX, &r, why), DNS_RETRY);
	put_header(&p, QR | 5, 1, 0, 0, 0); /* REFUSED */
	put_question(&p, "x.test", DNS_T_MX);
	ck_assert_int_eq(parse(&p, "x.test", DNS_T_MX, &r, why), DNS_RETRY);
	put_header(&p, QR, 1, 0, 0, 0); /* NOERROR, nothing: NODATA */
	put_question(&p, "x.test", DNS_T_MX);
	ck_assert_int_eq(parse(&p, "x.test", DNS_T_MX, &r, why), DNS_NODATA);
	ck_assert_str_eq(buf_str(why),
	                 "Host found but no data record of type MX");
	put_header(&p, QR | TC, 1, 0, 0, 0); /* truncated */
	put_question(&p, "x.test", DNS_T_MX);
	ck_assert_int_eq(parse(&p, "x.test", DNS_T_MX, &r, why), DNS_RETRY);
	ck_assert_str_eq(buf_str(why), "truncated reply");
	put_header(&p, 0, 1, 0, 0, 0); /* a query, not a response */
	put_question(&p, "x.test", DNS_T_MX);
	ck_assert_int_eq(parse(&p, "x.test", DNS_T_MX, &r, why), DNS_RETRY);
	put_header(&p, QR, 0, 0, 0, 0); /* no question */
	ck_assert_int_eq(parse(&p, "x.test", DNS_T_MX, &r, why), DNS_RETRY);
	put_header(&p, QR, 2, 0, 0, 0); /* two questions */
	put_question(&p, "x.test", DNS_T_MX);
	put_question(&p, "x.test", DNS_T_MX);
	ck_assert_int_eq(parse(&p, "x.test", DNS_T_MX, &r, why), DNS_RETRY);
	/* Short packets. */
	p.len = 5;
	ck_assert_int_eq(parse(&p, "x.test", DNS_T_MX, &r, why), DNS_RETRY);
	p.len = 0;
	ck_assert_int_eq(parse(&p, "x.test", DNS_T_MX, &r, why), DNS_RETRY);
	buf_destroy(&why);
}
END_TEST

START_TEST(test_wrong_counts_and_truncation)
{
	struct pkt p, q;
	struct dns_reply r;
	struct buf *why = buf_create(64, 0);

	put_header(&p, QR, 1, 3, 0, 0); /* says 3 answers, has 1 */
	put_question(&p, "a.test", DNS_T_A);
	put_rr_ptr12(&p, DNS_T_A, 4);
	put32(&p, 0x7f000002);
	ck_assert_int_eq(parse(&p, "a.test", DNS_T_A, &r, why), DNS_RETRY);
	/* Every cut of a good packet is malformed, never "not found". */
	put_header(&q, QR, 1, 1, 0, 0);
	put_question(&q, "a.test", DNS_T_A);
	put_rr_ptr12(&q, DNS_T_A, 4);
	put32(&q, 0x7f000002);
	ck_assert_int_eq(parse(&q, "a.test", DNS_T_A, &r, why), DNS_OK);
	dns_reply_free(&r);
	for (size_t cut = 0; cut < q.len; cut++) {
		p = q;
		p.len = cut;
		ck_assert_int_eq(parse(&p, "a.test", DNS_T_A, &r, why),
		                 DNS_RETRY);
	}
	/* Extra bytes after the last section. */
	p = q;
	put8(&p, 0);
	(void)parse(&p, "a.test", DNS_T_A, &r, why);
	dns_reply_free(&r);
	buf_destroy(&why);
}
END_TEST

START_TEST(test_addresses_and_cname)
{
	struct pkt p;
	struct dns_reply r;
	struct buf *why = buf_create(64, 0);
	size_t target;

	/* www.a.test CNAME host.a.test; host.a.test AAAA ::1; an A record
	 * of an unrelated name is ignored. */
	put_header(&p, QR, 1, 3, 0, 0);
	put_question(&p, "www.a.test", DNS_T_AAAA);
	put_rr_ptr12(&p, DNS_T_CNAME, 13);
	target = p.len;
	put_name(&p, "host.a.test");
	put16(&p, 0xc000 | (unsigned)target);
	put16(&p, DNS_T_AAAA);
	put16(&p, 1);
	put32(&p, 60);
	put16(&p, 16);
	for (int i = 0; i < 15; i++)
		put8(&p, 0);
	put8(&p, 1);
	put_name(&p, "other.test");
	put16(&p, DNS_T_AAAA);
	put16(&p, 1);
	put32(&p, 60);
	put16(&p, 16);
	for (int i = 0; i < 16; i++)
		put8(&p, 0xff);
	ck_assert_int_eq(parse(&p, "www.a.test", DNS_T_AAAA, &r, why), DNS_OK);
	ck_assert_int_eq(r.count, 1);
	ck_assert_int_eq(r.rr[0].len, 16);
	ck_assert_int_eq(r.rr[0].data[15], 1);
	dns_reply_free(&r);

	/* An A record with 5 bytes of data. */
	put_header(&p, QR, 1, 1, 0, 0);
	put_question(&p, "a.test", DNS_T_A);
	put_rr_ptr12(&p, DNS_T_A, 5);
	put32(&p, 0x7f000002);
	put8(&p, 0);
	ck_assert_int_eq(parse(&p, "a.test", DNS_T_A, &r, why), DNS_RETRY);
	/* A CNAME only: no data of the type asked. */
	put_header(&p, QR, 1, 1, 0, 0);
	put_question(&p, "a.test", DNS_T_A);
	put_rr_ptr12(&p, DNS_T_CNAME, 8);
	put_name(&p, "b.test");
	ck_assert_int_eq(parse(&p, "a.test", DNS_T_A, &r, why), DNS_NODATA);
	/* CNAMEs in a loop end. */
	put_header(&p, QR, 1, 2, 0, 0);
	put_question(&p, "a.test", DNS_T_A);
	put_rr_ptr12(&p, DNS_T_CNAME, 8);
	target = p.len;
	put_name(&p, "b.test");
	put16(&p, 0xc000 | (unsigned)target);
	put16(&p, DNS_T_CNAME);
	put16(&p, 1);
	put32(&p, 1);
	put16(&p, 2);
	put16(&p, 0xc00c);
	ck_assert_int_eq(parse(&p, "a.test", DNS_T_A, &r, why), DNS_NODATA);
	buf_destroy(&why);
}
END_TEST

START_TEST(test_invalid_mx_host_skipped)
{
	struct pkt p;
	struct dns_reply r;
	struct buf *why = buf_create(64, 0);

	put_header(&p, QR, 1, 2, 0, 0);
	put_question(&p, "a.test", DNS_T_MX);
	put_rr_ptr12(&p, DNS_T_MX, 2 + 8);
	put16(&p, 5);
	put_name(&p, "b d.te"); /* a space: not a host name */
	put_rr_ptr12(&p, DNS_T_MX, 2 + 9);
	put16(&p, 6);
	put_name(&p, "ok.test");
	ck_assert_int_eq(parse(&p, "a.test", DNS_T_MX, &r, why), DNS_OK);
	ck_assert_int_eq(r.count, 1);
	ck_assert_str_eq(r.rr[0].host, "ok.test");
	dns_reply_free(&r);
	buf_destroy(&why);
}
END_TEST

START_TEST(test_mx_sort)
{
	bool b_first = false, c_first = false;

	for (int round = 0; round < 200; round++) {
		struct dns_reply r;
		static const int prefs[] = {20, 10, 10, 5, 30};
		static const char *hosts[] = {"a", "b", "c", "d", "e"};

		r.count = 5;
		r.rr = calloc(5, sizeof(*r.rr));
		for (int i = 0; i < 5; i++) {
			r.rr[i].pref = prefs[i];
			r.rr[i].host = strdup(hosts[i]);
		}
		dns_mx_sort(&r);
		ck_assert_str_eq(r.rr[0].host, "d");
		ck_assert_int_eq(r.rr[1].pref, 10);
		ck_assert_int_eq(r.rr[2].pref, 10);
		ck_assert_str_eq(r.rr[3].host, "a");
		ck_assert_str_eq(r.rr[4].host, "e");
		if (strcmp(r.rr[1].host, "b") == 0)
			b_first = true;
		else
			c_first = true;
		for (int i = 0; i < 5; i++)
			free(r.rr[i].host);
		free(r.rr);
	}
	/* RFC 5321 5.1: equal preferences in random order. */
	ck_assert(b_first && c_first);
}
END_TEST

static const struct {
	const char *name;
	bool ok;
} name_cases[] = {
    {"a.test", true},
    {"a.test.", true},
    {"x", true},
    {"_dmarc.a-b.test", true},
    {"", false},
    {".", false},
    {"a..test", false},
    {".a.test", false},
    {"a b.test", false},
    {"a\xc3\xa9.test", false},
    {"[127.0.0.1]", false},
    {"a/b", false},
};

START_TEST(test_name_valid)
{
	ck_assert(dns_name_valid(name_cases[_i].name) == name_cases[_i].ok);
}
END_TEST

START_TEST(test_name_lengths)
{
	char name[400];

	/* A 63-octet label is fine, 64 is not. */
	memset(name, 'a', 63);
	strcpy(name + 63, ".test");
	ck_assert(dns_name_valid(name));
	memset(name, 'a', 64);
	strcpy(name + 64, ".test");
	ck_assert(!dns_name_valid(name));
	/* 253 characters in all, not 254. */
	for (int i = 0; i < 253; i++)
		name[i] = (i % 2) ? '.' : 'a';
	name[253] = '\0';
	ck_assert(dns_name_valid(name));
	name[252] = 'a';
	name[253] = 'b';
	name[254] = '\0';
	ck_assert(!dns_name_valid(name));
}
END_TEST

START_TEST(test_resolver_address)
{
	struct buf *err = buf_create(64, 0);
	struct dns_reply r;

	ck_assert_int_eq(dns_init("127.0.0.1:5353", err), 0);
	ck_assert_int_eq(dns_init("[::1]:53, 127.0.0.2", err), 0);
	ck_assert_int_eq(dns_init("::1", err), 0);
	ck_assert_int_eq(dns_init("", err), 0);
	ck_assert_int_eq(dns_init("localhost", err), -1);
	ck_assert_int_eq(dns_init("127.0.0.1:0", err), -1);
	ck_assert_int_eq(dns_init("127.0.0.1:99999", err), -1);
	ck_assert_int_eq(dns_init("[::1", err), -1);
	ck_assert_int_eq(dns_init("1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4", err), -1);
	/* A bad name never reaches the network. */
	buf_reset(err);
	ck_assert_int_eq(dns_lookup("a..b", DNS_T_MX, &r, err), DNS_INVALID);
	dns_deinit();
	buf_destroy(&err);
}
END_TEST

START_TEST(test_addr_helpers)
{
	struct dns_addr a, b;
	char text[64];

	ck_assert_int_eq(dns_addr_parse("192.0.2.1", &a), 0);
	ck_assert_int_eq(a.family, AF_INET);
	dns_addr_format(&a, text, sizeof(text));
	ck_assert_str_eq(text, "192.0.2.1");
	ck_assert_int_eq(dns_addr_parse("2001:db8::1", &b), 0);
	ck_assert_int_eq(b.family, AF_INET6);
	dns_addr_format(&b, text, sizeof(text));
	ck_assert_str_eq(text, "2001:db8::1");
	ck_assert(!dns_addr_equal(&a, &b));
	ck_assert_int_eq(dns_addr_parse("2001:DB8:0::1", &a), 0);
	ck_assert(dns_addr_equal(&a, &b));
	ck_assert_int_eq(dns_addr_parse("[192.0.2.1]", &a), -1);
	ck_assert_int_eq(dns_addr_parse("host", &a), -1);
}
END_TEST

Suite *dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_mx_compressed);
	tcase_add_test(tc, test_null_mx);
	tcase_add_test(tc, test_pointer_loop_and_bad_pointer);
	tcase_add_test(tc, test_rcodes_and_header);
	tcase_add_test(tc, test_wrong_counts_and_truncation);
	tcase_add_test(tc, test_addresses_and_cname);
	tcase_add_test(tc, test_invalid_mx_host_skipped);
	tcase_add_test(tc, test_mx_sort);
	tcase_add_loop_test(tc, test_name_valid, 0,
	                    sizeof(name_cases) / sizeof(name_cases[0]));
	tcase_add_test(tc, test_name_lengths);
	tcase_add_test(tc, test_resolver_address);
	tcase_add_test(tc, test_addr_helpers);
	suite_add_tcase(s, tc);
	return s;
}
