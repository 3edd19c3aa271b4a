/* check_qmgr.c: unit tests for qmgr's pure decisions (qmgr/qmgr_calc.c,
 * compiled into this file since daemon code is not in the library):
 * backoff times, expiry, the DSN of an error: transport's text, and
 * per-transport limits (TRANSPORT_name from main.cf, the table's own
 * rows, bad values falling back). */
#include <check.h>
#include <string.h>

#include "../../qmgr/qmgr_calc.c"

struct backoff_case {
	long long arrival, now, min, max, expect;
};

static const struct backoff_case backoff_cases[] = {
    /* Young message: the minimum. */
    {1000, 1000, 300, 4000, 300},
    {1000, 1100, 300, 4000, 300},
    /* Then its age: each attempt roughly doubles the interval. */
    {1000, 1300, 300, 4000, 300},
    {1000, 1600, 300, 4000, 600},
    {1000, 2200, 300, 4000, 1200},
    {1000, 3400, 300, 4000, 2400},
    /* Capped at the maximum. */
    {1000, 5800, 300, 4000, 4000},
    {1000, 1000000, 300, 4000, 4000},
    /* A clock that went back: still the minimum. */
    {1000, 500, 300, 4000, 300},
    /* max below min (bad settings): min wins. */
    {1000, 9000, 300, 100, 300},
    /* The test settings: 2 s minimum. */
    {0, 1, 2, 10, 2},
    {0, 5, 2, 10, 5},
};

START_TEST(test_backoff)
{
	const struct backoff_case *c = &backoff_cases[_i];

	ck_assert_int_eq(qmgr_backoff(c->arrival, c->now, c->min, c->max),
	                 c->expect);
}
END_TEST

START_TEST(test_expired)
{
	/* Lifetime 0: expired at the first failed attempt (Postfix). */
	ck_assert(qmgr_expired(1000, 1000, 0));
	ck_assert(!qmgr_expired(1000, 1000 + 5 * 86400 - 1, 5 * 86400));
	ck_assert(qmgr_expired(1000, 1000 + 5 * 86400, 5 * 86400));
	ck_assert(!qmgr_expired(1000, 999, 0));
}
END_TEST

struct error_case {
	const char *text, *dsn, *rest;
};

static const struct error_case error_cases[] = {
    {"5.1.1 User unknown", "5.1.1", "User unknown"},
    {"5.7.1\tgo  away", "5.7.1", "go  away"},
    {"5.7.1", "5.7.1", ""},
    {"mail for this domain is rejected", "5.0.0",
     "mail for this domain is rejected"},
    /* Only class 5 is taken: the error transport always bounces. */
    {"4.1.1 later", "5.0.0", "4.1.1 later"},
    {"2.0.0 fine", "5.0.0", "2.0.0 fine"},
    {"5.1000.1 x", "5.0.0", "5.1000.1 x"},
    {"5.1.1x", "5.0.0", "5.1.1x"},
    {"", "5.0.0", ""},
};

START_TEST(test_error_text)
{
	const struct error_case *c = &error_cases[_i];
	char dsn[16];
	const char *rest = qmgr_error_text(c->text, dsn, sizeof(dsn));

	ck_assert_str_eq(dsn, c->dsn);
	ck_assert_str_eq(rest, c->rest);
}
END_TEST

START_TEST(test_transport_param)
{
	struct config *cf = config_create();
	struct buf *err = buf_create(0, 1000);
	static const char text[] =
	    "fake_destination_concurrency_limit = 5\n"
	    "fake_destination_recipient_limit = $five\n"
	    "five = 7\n"
	    "bad_destination_concurrency_limit = many\n"
	    "huge_destination_concurrency_limit = 100000\n"
	    "fake_time_limit = 2m\n"
	    "default_destination_concurrency_limit = 9\n";

	ck_assert_int_eq(config_parse(cf, text, strlen(text), "t", err), 0);
	ck_assert_int_eq(qmgr_transport_param(cf, "fake",
	                                      "destination_concurrency_limit",
	                                      false, 1, 1000, 20),
	                 5);
	ck_assert_int_eq(qmgr_transport_param(cf, "fake",
	                                      "destination_recipient_limit",
	                                      false, 1, 1000, 50),
	                 7);
	ck_assert_int_eq(qmgr_transport_param(cf, "fake", "time_limit", true, 1,
	                                      86400, 18000),
	                 120);
	/* Unset: the fallback. */
	ck_assert_int_eq(qmgr_transport_param(cf, "other",
	                                      "destination_concurrency_limit",
	                                      false, 1, 1000, 20),
	                 20);
	/* Bad or out of range: the fallback. */
	ck_assert_int_eq(qmgr_transport_param(cf, "bad",
	                                      "destination_concurrency_limit",
	                                      false, 1, 1000, 20),
	                 20);
	ck_assert_int_eq(qmgr_transport_param(cf, "huge",
	                                      "destination_concurrency_limit",
	                                      false, 1, 1000, 20),
	                 20);
	/* Rows of the table: their defaults (Postfix's local limits), and
	 * smtp's follow default_destination_concurrency_limit. */
	ck_assert_int_eq(qmgr_transport_param(cf, "local",
	                                      "destination_recipient_limit",
	                                      false, 1, 1000, 50),
	                 1);
	ck_assert_int_eq(qmgr_transport_param(cf, "local",
	                                      "destination_concurrency_limit",
	                                      false, 1, 1000, 20),
	                 2);
	ck_assert_int_eq(qmgr_transport_param(cf, "smtp",
	                                      "destination_concurrency_limit",
	                                      false, 1, 1000, 20),
	                 9);
	buf_destroy(&err);
	config_destroy(&cf);
}
END_TEST

Suite *qmgr_suite(void)
{
	Suite *s = suite_create("qmgr");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_backoff, 0,
	                    sizeof(backoff_cases) / sizeof(backoff_cases[0]));
	tcase_add_test(tc, test_expired);
	tcase_add_loop_test(tc, test_error_text, 0,
	                    sizeof(error_cases) / sizeof(error_cases[0]));
	tcase_add_test(tc, test_transport_param);
	suite_add_tcase(s, tc);
	return s;
}
