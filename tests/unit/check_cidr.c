/* check_cidr.c: unit tests for lib/cidr.c: address parsing (IPv4, IPv6,
 * IPv4-mapped, literals) and mynetworks-style lists: table-driven good and
 * hostile patterns, matching rows, negation, first match wins. */
#include <check.h>
#include <string.h>

#include "buf.h"
#include "cidr.h"

static const struct {
	const char *text;
	int family; /* 0: must fail */
	const char *formatted;
} addr_rows[] = {
    {"192.0.2.1", 4, "192.0.2.1"},
    {"0.0.0.0", 4, "0.0.0.0"},
    {"255.255.255.255", 4, "255.255.255.255"},
    {"::1", 6, "::1"},
    {"2001:DB8::1", 6, "2001:db8::1"},
    {"[2001:db8::1]", 6, "2001:db8::1"},
    {"[IPv6:2001:db8::1]", 6, "2001:db8::1"},
    {"[ipv6:::1]", 6, "::1"},
    {"[192.0.2.1]", 4, "192.0.2.1"},
    {"::ffff:127.0.0.1", 4, "127.0.0.1"},
    {"::FFFF:7f00:1", 4, "127.0.0.1"},
    {"[IPv6:::ffff:10.1.2.3]", 4, "10.1.2.3"},
    {"::ffff:0:7f00:1", 6, "::ffff:0:7f00:1"}, /* not mapped */
    {"", 0, NULL},
    {"[]", 0, NULL},
    {"[", 0, NULL},
    {"]", 0, NULL},
    {"127.1", 0, NULL},
    {"127.0.0.01", 0, NULL},
    {"256.0.0.1", 0, NULL},
    {"1.2.3.4.5", 0, NULL},
    {" 1.2.3.4", 0, NULL},
    {"1.2.3.4 ", 0, NULL},
    {"fe80::1%eth0", 0, NULL},
    {"[IPv6:1.2.3.4]", 0, NULL},
    {"[IPv6:]", 0, NULL},
    {"[1.2.3.4", 0, NULL},
    {"1.2.3.4]", 0, NULL},
    {"1:2:3:4:5:6:7:8:9", 0, NULL},
    {"::g", 0, NULL},
    {"localhost", 0, NULL},
    {"1.2.3.4/32", 0, NULL},
    {"[1.2.3.4]/32", 0, NULL},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaa",
     0, NULL},
};

START_TEST(test_addr_parse)
{
	struct cidr_addr a;
	char out[64];
	int r = cidr_addr_parse(addr_rows[_i].text, &a);

	if (addr_rows[_i].family == 0) {
		ck_assert_msg(r == -1, "accepted \"%s\"", addr_rows[_i].text);
		return;
	}
	ck_assert_msg(r == 0, "refused \"%s\"", addr_rows[_i].text);
	ck_assert_int_eq(a.family, addr_rows[_i].family);
	ck_assert_int_eq(cidr_addr_format(&a, out, sizeof(out)), 0);
	ck_assert_str_eq(out, addr_rows[_i].formatted);
}
END_TEST

START_TEST(test_addr_null)
{
	struct cidr_addr a;

	ck_assert_int_eq(cidr_addr_parse(NULL, &a), -1);
}
END_TEST

/* Lists that must be refused, with a word expected in the reason. */
static const struct {
	const char *list;
	const char *why;
} bad_rows[] = {
    {"10.0.0.0/33", "bad prefix length"},
    {"10.0.0.0/-1", "bad prefix length"},
    {"10.0.0.0/", "bad prefix length"},
    {"10.0.0.0/8/8", "bad prefix length"},
    {"10.0.0.0/08", "bad prefix length"},
    {"10.0.0.0/+8", "bad prefix length"},
    {"10.0.0.0/ 8", "bad"},
    {"10.0.0.0/8x", "bad prefix length"},
    {"10.0.0.0/99999999999999999999", "bad prefix length"},
    {"[::1]/129", "bad prefix length"},
    {"[::ffff:127.0.0.0]/129", "bad prefix length"},
    {"::1/200", "bad prefix length"},
    {"192.168.1.5/24", "non-null host address bits"},
    {"[2001:db8::1]/64", "non-null host address bits"},
    {"[::ffff:127.0.0.1]/104", "non-null host address bits"},
    {"[::ffff:0.0.0.0]/80", "non-null host address bits"},
    {"127.1/8", "bad address pattern"},
    {"300.0.0.0/8", "bad address pattern"},
    {"[::1", "bad address pattern"},
    {"[::1]x", "bad address pattern"},
    {"[::1]]/128", "bad address pattern"},
    {"[]/8", "bad address pattern"},
    {"/8", "pattern files"},
    {"/etc/postfix/networks", "pattern files"},
    {"lmdb:/etc/networks", "lookup tables"},
    {"cidr:/etc/networks", "lookup tables"},
    {"hostname.example.com", "bad address pattern"},
    {"127.0.0.0/8, bogus", "bad address pattern"},
    {"!", "empty pattern"},
    {"127.0.0.1 !", "empty pattern"},
    {"fe80::1%lo/128", "bad address pattern"},
};

START_TEST(test_list_bad)
{
	struct buf *err = buf_create(0, 4096);
	struct cidr_list *l = cidr_list_create(bad_rows[_i].list, err);

	ck_assert_msg(l == NULL, "accepted \"%s\"", bad_rows[_i].list);
	ck_assert_msg(strstr(buf_str(err), bad_rows[_i].why) != NULL,
	              "\"%s\": reason \"%s\"", bad_rows[_i].list, buf_str(err));
	buf_destroy(&err);
}
END_TEST

/* list, address, expected (1 match, 0 no, -1 not an address). */
static const struct {
	const char *list;
	const char *addr;
	int match;
} match_rows[] = {
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "127.0.0.1", 1},
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "127.255.255.255", 1},
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "128.0.0.1", 0},
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "::1", 1},
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "::2", 0},
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "192.168.1.5", 1},
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "192.168.1.6", 0},
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "::ffff:127.0.0.1", 1},
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "::ffff:192.168.1.5", 1},
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "garbage", -1},
    {"127.0.0.0/8, [::1]/128, 192.168.1.5", "", -1},
    {"127.0.0.1/32", "127.0.0.2", 0},
    {"127.0.0.1/32", "127.0.0.1", 1},
    {"127.0.0.1", "127.0.0.1", 1},
    {"127.0.0.1", "127.0.0.2", 0},
    {"[::ffff:127.0.0.0]/104", "127.9.9.9", 1},
    {"[::ffff:127.0.0.0]/104", "128.0.0.1", 0},
    {"[::ffff:127.0.0.0]/104", "::ffff:127.0.0.9", 1},
    {"::ffff:10.0.0.0/104", "10.1.1.1", 1},
    {"::ffff:10.0.0.1", "10.0.0.1", 1},
    /* Wider than the mapped space: an IPv6 network only. */
    {"[::]/80", "::ffff:10.0.0.1", 0},
    {"[::]/80", "::1", 1},
    {"[::]/0", "10.0.0.1", 0},
    {"[::]/0", "2001:db8::1", 1},
    {"0.0.0.0/0", "10.0.0.1", 1},
    {"0.0.0.0/0", "2001:db8::1", 0},
    {"[2001:db8::]/32", "2001:db8:ffff::1", 1},
    {"[2001:db8::]/32", "2001:db9::1", 0},
    {"2001:db8::/32", "[IPv6:2001:db8::5]", 1},
    {"[2001:db8::]/33", "2001:db8:8000::1", 0},
    {"[2001:db8::]/33", "2001:db8:7fff::1", 1},
    {"10.0.0.0/9", "10.127.0.1", 1},
    {"10.0.0.0/9", "10.128.0.1", 0},
    {"10.0.0.0/31", "10.0.0.1", 1},
    {"10.0.0.0/31", "10.0.0.2", 0},
    /* First match wins; negation. */
    {"!10.0.0.1, 10.0.0.0/8", "10.0.0.1", 0},
    {"!10.0.0.1, 10.0.0.0/8", "10.0.0.2", 1},
    {"10.0.0.0/8, !10.0.0.1", "10.0.0.1", 1},
    {"!!10.0.0.1", "10.0.0.1", 1},
    {"", "127.0.0.1", 0},
    {" ,, \t", "127.0.0.1", 0},
    {"127.0.0.0/8\n\t[::1]/128", "::1", 1},
};

START_TEST(test_list_match)
{
	struct buf *err = buf_create(0, 4096);
	struct cidr_list *l = cidr_list_create(match_rows[_i].list, err);

	ck_assert_msg(l != NULL, "\"%s\": %s", match_rows[_i].list,
	              buf_str(err));
	ck_assert_msg(
	    cidr_list_match(l, match_rows[_i].addr) == match_rows[_i].match,
	    "\"%s\" against \"%s\"", match_rows[_i].addr, match_rows[_i].list);
	cidr_list_destroy(&l);
	ck_assert_ptr_null(l);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_list_count)
{
	struct buf *err = buf_create(0, 4096);
	struct cidr_list *l =
	    cidr_list_create("127.0.0.0/8 [::1]/128, !10.0.0.1", err);

	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(cidr_list_count(l), 3);
	cidr_list_destroy(&l);
	l = cidr_list_create(NULL, err);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(cidr_list_count(l), 0);
	cidr_list_destroy(&l);
	cidr_list_destroy(&l); /* NULL is fine */
	buf_destroy(&err);
}
END_TEST

Suite *cidr_suite(void)
{
	Suite *s = suite_create("cidr");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_addr_parse, 0,
	                    sizeof(addr_rows) / sizeof(addr_rows[0]));
	tcase_add_test(tc, test_addr_null);
	tcase_add_loop_test(tc, test_list_bad, 0,
	                    sizeof(bad_rows) / sizeof(bad_rows[0]));
	tcase_add_loop_test(tc, test_list_match, 0,
	                    sizeof(match_rows) / sizeof(match_rows[0]));
	tcase_add_test(tc, test_list_count);
	suite_add_tcase(s, tc);
	return s;
}
