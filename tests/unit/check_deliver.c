/* check_deliver.c: unit tests for lib/deliver.c: a request and its
 * answers round trip over a socketpair (stream and event-loop decoders),
 * hostile requests in a table (missing, extra, duplicate attributes, bad
 * queue names and IDs, counts out of range, control characters, short
 * input, garbage, a stalled peer), hostile answers (index out of range,
 * a recipient answered twice, done too early, bad dsn codes), the
 * cleaning of agent text, and the Postfix delay format. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "deliver.h"
#include "queue_file.h"
#include "stream.h"

#define GOOD_ID "6B0268B0149A5QA79F17"

static void make_pair(struct stream **a, struct stream **b, int timeout_ms)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	*a = stream_open(sv[0]);
	*b = stream_open(sv[1]);
	stream_set_timeouts(*a, timeout_ms, timeout_ms);
	stream_set_timeouts(*b, timeout_ms, timeout_ms);
}

static struct deliver_rcpt sample_rcpts[] = {
    {"ann@example.com", "rfc822;Ann@Example.com", QUEUE_NOTIFY_SUCCESS, 120},
    {"bob@example.com", "", 0, 180},
    {"carl+tag@example.com", "", QUEUE_NOTIFY_NEVER, 240},
};

static void sample_request(struct deliver_request *r)
{
	memset(r, 0, sizeof(*r));
	r->queue_name = "active";
	r->queue_id = GOOD_ID;
	r->sender = "";
	r->transport = "local";
	r->nexthop = "example.com";
	r->envid = "env-1";
	r->ret = "HDRS";
	r->client_address = "192.0.2.7";
	r->arrival_sec = 1700000000;
	r->arrival_usec = 250000;
	r->content_offset = 300;
	r->content_size = 1234;
	r->rcpts = sample_rcpts;
	r->nrcpts = 3;
}

START_TEST(test_round_trip)
{
	struct stream *q, *a;
	struct deliver_request in, out;
	struct deliver_status st;
	struct buf *err = buf_create(0, 1000);
	unsigned char answered[3] = {0, 0, 0};
	struct attr_list *l = attr_list_create();

	make_pair(&q, &a, 2000);
	sample_request(&in);
	ck_assert_int_eq(deliver_request_write(q, &in), 0);
	ck_assert_int_eq(deliver_request_read(a, &out, err), 0);
	ck_assert_str_eq(out.queue_name, "active");
	ck_assert_str_eq(out.queue_id, GOOD_ID);
	ck_assert_str_eq(out.sender, "");
	ck_assert_str_eq(out.transport, "local");
	ck_assert_str_eq(out.nexthop, "example.com");
	ck_assert_str_eq(out.envid, "env-1");
	ck_assert_str_eq(out.ret, "HDRS");
	ck_assert_str_eq(out.client_address, "192.0.2.7");
	ck_assert_int_eq(out.arrival_sec, 1700000000);
	ck_assert_int_eq(out.arrival_usec, 250000);
	ck_assert_int_eq(out.content_offset, 300);
	ck_assert_int_eq(out.content_size, 1234);
	ck_assert_uint_eq(out.nrcpts, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(out.rcpts[i].address, sample_rcpts[i].address);
		ck_assert_str_eq(out.rcpts[i].orcpt, sample_rcpts[i].orcpt);
		ck_assert_int_eq(out.rcpts[i].notify, sample_rcpts[i].notify);
		ck_assert_int_eq(out.rcpts[i].offset, sample_rcpts[i].offset);
	}
	deliver_request_free(&out);
	ck_assert_ptr_null(out.rcpts);

	/* Answers in any order, then done. */
	ck_assert_int_eq(
	    deliver_status_write(a, 2, 5, "5.1.1", "local", "unknown user"), 0);
	ck_assert_int_eq(deliver_status_write(a, 0, 2, "2.0.0", "local",
	                                      "delivered to maildir"),
	                 0);
	ck_assert_int_eq(
	    deliver_status_write(a, 1, 4, "4.2.2", NULL, "mailbox full\r\nX"),
	    0);
	ck_assert_int_eq(deliver_done_write(a), 0);

	ck_assert_int_eq(deliver_status_read(q, &st, 3, err), 1);
	ck_assert_uint_eq(st.index, 2);
	ck_assert_int_eq(st.status, 5);
	ck_assert_str_eq(st.dsn, "5.1.1");
	ck_assert_str_eq(st.relay, "local");
	ck_assert_str_eq(st.reason, "unknown user");
	deliver_status_free(&st);
	ck_assert_ptr_null(st.reason);
	answered[2] = 1;

	/* The event-loop path: attr_read stands in for a buffered decode. */
	ck_assert_int_eq(attr_read(q, l, &deliver_status_limits, err), 0);
	ck_assert_int_eq(deliver_status_decode(l, &st, 3, answered, err), 1);
	ck_assert_uint_eq(st.index, 0);
	ck_assert_int_eq(st.status, 2);
	deliver_status_free(&st);
	ck_assert_int_eq(attr_read(q, l, &deliver_status_limits, err), 0);
	ck_assert_int_eq(deliver_status_decode(l, &st, 3, answered, err), 1);
	ck_assert_uint_eq(st.index, 1);
	ck_assert_int_eq(st.status, 4);
	ck_assert_str_eq(st.dsn, "4.2.2");
	ck_assert_str_eq(st.relay, "");
	/* Control characters from the agent became spaces. */
	ck_assert_str_eq(st.reason, "mailbox full  X");
	deliver_status_free(&st);
	ck_assert_int_eq(attr_read(q, l, &deliver_status_limits, err), 0);
	ck_assert_int_eq(deliver_status_decode(l, &st, 3, answered, err), 0);

	attr_list_destroy(&l);
	buf_destroy(&err);
	stream_close(&q);
	stream_close(&a);
}
END_TEST

/* The encoder gives the same bytes as the stream writer. */
START_TEST(test_encode_matches_write)
{
	struct stream *q, *a;
	struct deliver_request in;
	struct buf *enc = buf_create(0, 0);
	char got[4096];
	ssize_t n;

	make_pair(&q, &a, 2000);
	sample_request(&in);
	deliver_request_encode(&in, enc);
	ck_assert_int_eq(deliver_request_write(q, &in), 0);
	ck_assert_uint_lt(buf_len(enc), sizeof(got));
	ck_assert_int_eq(stream_read_exact(a, got, buf_len(enc)), 0);
	ck_assert_int_eq(memcmp(got, buf_str(enc), buf_len(enc)), 0);
	stream_close(&q);
	n = stream_read(a, got, sizeof(got));
	ck_assert_int_eq(n, 0);
	buf_destroy(&enc);
	stream_close(&a);
}
END_TEST

/* A request built attribute by attribute, with one change. */
struct req_case {
	const char *target; /* "req", "rcpt" (the first recipient), "raw" */
	const char *name; /* attribute to change */
	const char *value; /* NULL: drop it */
	bool add; /* add another one instead of replacing */
	int nrcpt_msgs; /* recipient messages actually sent */
	const char *expect; /* substring of the error */
};

static const struct req_case req_cases[] = {
    {"req", "request", "bounce", false, 1, "not a delivery request"},
    {"req", "queue_id", NULL, false, 1, "queue_id"},
    {"req", "queue_id", "../../etc/passwd", false, 1, "queue_id"},
    {"req", "queue_id", "", false, 1, "queue_id"},
    {"req", "queue_name", "maildrop", false, 1, "queue_name"},
    {"req", "queue_name", "../active", false, 1, "queue_name"},
    {"req", "transport", "lo/cal", false, 1, "transport"},
    {"req", "transport", "", false, 1, "transport"},
    {"req", "sender", "a\nb@example.com", false, 1, "sender"},
    {"req", "nexthop", "x\ry", false, 1, "nexthop"},
    {"req", "ret", "ALL", false, 1, "ret"},
    {"req", "arrival_usec", "1000000", false, 1, "arrival_usec"},
    {"req", "arrival_sec", "-1", false, 1, "arrival_sec"},
    {"req", "content_offset", "12x", false, 1, "content_offset"},
    {"req", "rcpt_count", "0", false, 0, "rcpt_count"},
    {"req", "rcpt_count", "1001", false, 1, "rcpt_count"},
    {"req", "rcpt_count", "2", false, 1, "unexpected end"},
    {"req", "sender", "dup@example.com", true, 1, "attributes"},
    {"req", "spare", "x", true, 1, "attributes"},
    {"rcpt", "address", "", false, 1, "address"},
    {"rcpt", "address", NULL, false, 1, "address"},
    {"rcpt", "notify", "16", false, 1, "notify"},
    {"rcpt", "notify", "-1", false, 1, "notify"},
    {"rcpt", "offset", "-5", false, 1, "offset"},
    {"rcpt", "orcpt", "a\001b", false, 1, "orcpt"},
    {"rcpt", "extra", "1", true, 1, "attributes"},
    {"raw", "garbage", NULL, false, 0, "request"},
    {"raw", "empty", NULL, false, 0, "unexpected end"},
};

static void add_with_change(struct attr_list *l, const char *const *nv,
                            const struct req_case *c, bool mine)
{
	for (size_t i = 0; nv[i] != NULL; i += 2) {
		if (mine && !c->add && strcmp(nv[i], c->name) == 0) {
			if (c->value != NULL)
				attr_add_str(l, nv[i], c->value);
			continue;
		}
		attr_add_str(l, nv[i], nv[i + 1]);
	}
	if (mine && c->add)
		attr_add_str(l, c->name, c->value);
}

START_TEST(test_request_hostile)
{
	static const char *const req[] = {"request",
	                                  "deliver",
	                                  "queue_name",
	                                  "active",
	                                  "queue_id",
	                                  GOOD_ID,
	                                  "sender",
	                                  "s@example.com",
	                                  "transport",
	                                  "local",
	                                  "nexthop",
	                                  "example.com",
	                                  "envid",
	                                  "",
	                                  "ret",
	                                  "",
	                                  "client_address",
	                                  "",
	                                  "arrival_sec",
	                                  "1700000000",
	                                  "arrival_usec",
	                                  "0",
	                                  "content_offset",
	                                  "100",
	                                  "content_size",
	                                  "10",
	                                  "rcpt_count",
	                                  "1",
	                                  NULL};
	static const char *const rcpt[] = {
	    "address", "a@example.com", "orcpt", "",  "notify",
	    "0",       "offset",        "50",    NULL};
	const struct req_case *c = &req_cases[_i];
	struct stream *q, *a;
	struct attr_list *l = attr_list_create();
	struct deliver_request r;
	struct buf *err = buf_create(0, 1000);

	make_pair(&q, &a, 500);
	if (strcmp(c->target, "raw") == 0) {
		if (strcmp(c->name, "garbage") == 0)
			ck_assert_int_eq(stream_puts(q, "HELO there\r\n"), 0);
	} else {
		add_with_change(l, req, c, strcmp(c->target, "req") == 0);
		ck_assert_int_eq(attr_write(q, l), 0);
		for (int i = 0; i < c->nrcpt_msgs; i++) {
			attr_list_reset(l);
			add_with_change(l, rcpt, c,
			                strcmp(c->target, "rcpt") == 0);
			ck_assert_int_eq(attr_write(q, l), 0);
		}
	}
	ck_assert_int_eq(stream_flush(q), 0);
	stream_close(&q);
	memset(&r, 0x55, sizeof(r));
	ck_assert_int_eq(deliver_request_read(a, &r, err), -1);
	ck_assert_msg(strstr(buf_str(err), c->expect) != NULL,
	              "case %d: error '%s', expected '%s'", _i, buf_str(err),
	              c->expect);
	attr_list_destroy(&l);
	buf_destroy(&err);
	stream_close(&a);
}
END_TEST

/* A peer that sends half a request and stalls: the read deadline ends it. */
START_TEST(test_request_stall)
{
	struct stream *q, *a;
	struct deliver_request in, r;
	struct buf *enc = buf_create(0, 0), *err = buf_create(0, 1000);

	make_pair(&q, &a, 200);
	sample_request(&in);
	deliver_request_encode(&in, enc);
	ck_assert_int_eq(stream_write(q, buf_str(enc), buf_len(enc) - 10), 0);
	ck_assert_int_eq(stream_flush(q), 0);
	ck_assert_int_eq(deliver_request_read(a, &r, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "timeout"));
	buf_destroy(&enc);
	buf_destroy(&err);
	stream_close(&q);
	stream_close(&a);
}
END_TEST

/* Answers as name/value lists ("|" separated), for 3 recipients, after
 * recipient 0 was answered already. */
struct answer_case {
	const char *nv;
	int expect; /* 1, 0 or -1 */
	const char *why;
};

static const struct answer_case answer_cases[] = {
    {"index|1|status|2|dsn|2.0.0|relay|local|reason|ok", 1, NULL},
    {"index|2|status|4|dsn|4.123.456|relay||reason|", 1, NULL},
    {"index|0|status|2|dsn|2.0.0|relay|local|reason|ok", -1, "twice"},
    {"index|3|status|2|dsn|2.0.0|relay|local|reason|ok", -1, "out of range"},
    {"index|1000|status|2|dsn|2.0.0|relay|local|reason|ok", -1, "index"},
    {"index|-1|status|2|dsn|2.0.0|relay|local|reason|ok", -1, "index"},
    {"index|1|status|3|dsn|3.0.0|relay|local|reason|ok", -1, "status"},
    {"index|1|status|6|dsn|6.0.0|relay|local|reason|ok", -1, "status"},
    {"index|1|status|2|dsn|4.0.0|relay|local|reason|ok", -1, "dsn"},
    {"index|1|status|2|dsn|2.0|relay|local|reason|ok", -1, "dsn"},
    {"index|1|status|2|dsn|2.0.0.0|relay|local|reason|ok", -1, "dsn"},
    {"index|1|status|2|dsn|2.1000.0|relay|local|reason|ok", -1, "dsn"},
    {"index|1|status|2|dsn|2..0|relay|local|reason|ok", -1, "dsn"},
    {"index|1|status|2|dsn|2.0.0|relay|local|reason|a\nb", -1, "reason"},
    {"index|1|status|2|dsn|2.0.0|relay|local", -1, "reason"},
    {"index|1|status|2|dsn|2.0.0|relay|local|reason|ok|x|y", -1, "attributes"},
    {"index|1|index|2|dsn|2.0.0|relay|local|reason|ok", -1, "status"},
    {"done|1", -1, "done before"},
    {"done|yes", -1, "done"},
    {"done|1|index|1", -1, "missing"},
};

static void fill_list(struct attr_list *l, const char *spec)
{
	char *copy = strdup(spec), *p = copy;
	char *name, *value;

	while ((name = strsep(&p, "|")) != NULL) {
		value = strsep(&p, "|");
		ck_assert_ptr_nonnull(value);
		attr_add_str(l, name, value);
	}
	free(copy);
}

START_TEST(test_answer_table)
{
	const struct answer_case *c = &answer_cases[_i];
	struct attr_list *l = attr_list_create();
	unsigned char answered[3] = {1, 0, 0};
	struct deliver_status st;
	struct buf *err = buf_create(0, 1000);
	int rc;

	fill_list(l, c->nv);
	rc = deliver_status_decode(l, &st, 3, answered, err);
	ck_assert_msg(rc == c->expect, "case %d: %d, expected %d (%s)", _i, rc,
	              c->expect, buf_str(err));
	if (rc == 1) {
		ck_assert_int_eq(answered[st.index], 1);
		deliver_status_free(&st);
	} else {
		ck_assert_msg(strstr(buf_str(err), c->why) != NULL,
		              "case %d: '%s' lacks '%s'", _i, buf_str(err),
		              c->why);
		ck_assert_int_eq(answered[1] + answered[2], 0);
	}
	attr_list_destroy(&l);
	buf_destroy(&err);
}
END_TEST

/* The stream reader: a dropped connection, an oversized answer. */
START_TEST(test_answer_stream_errors)
{
	struct stream *q, *a;
	struct deliver_status st;
	struct buf *err = buf_create(0, 1000);
	struct attr_list *l = attr_list_create();
	char big[5000];

	make_pair(&q, &a, 500);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fill_list(l, "index|0|status|2|dsn|2.0.0|relay|local");
	attr_add_str(l, "reason", big);
	ck_assert_int_eq(attr_write(a, l), 0);
	ck_assert_int_eq(stream_flush(a), 0);
	ck_assert_int_eq(deliver_status_read(q, &st, 1, err), -1);
	stream_close(&q);
	stream_close(&a);

	/* The agent dies before answering. */
	make_pair(&q, &a, 500);
	stream_close(&a);
	ck_assert_int_eq(deliver_status_read(q, &st, 1, err), -1);
	ck_assert_ptr_nonnull(strstr(buf_str(err), "end of input"));
	stream_close(&q);

	/* A long reason is cut by the writer, not refused by the reader. */
	make_pair(&q, &a, 500);
	ck_assert_int_eq(deliver_status_write(a, 0, 5, "5.0.0", "x", big), 0);
	ck_assert_int_eq(stream_flush(a), 0);
	ck_assert_int_eq(deliver_status_read(q, &st, 1, err), 1);
	ck_assert_uint_eq(strlen(st.reason), 4000);
	deliver_status_free(&st);
	/* A code of another class (or none) becomes the class's generic
	 * one: the status stands. */
	ck_assert_int_eq(deliver_status_write(a, 0, 5, "4.2.2", "x", "r"), 0);
	ck_assert_int_eq(deliver_status_write(a, 0, 4, NULL, "x", "r"), 0);
	ck_assert_int_eq(stream_flush(a), 0);
	ck_assert_int_eq(deliver_status_read(q, &st, 1, err), 1);
	ck_assert_int_eq(st.status, 5);
	ck_assert_str_eq(st.dsn, "5.0.0");
	deliver_status_free(&st);
	ck_assert_int_eq(deliver_status_read(q, &st, 1, err), 1);
	ck_assert_str_eq(st.dsn, "4.0.0");
	deliver_status_free(&st);
	stream_close(&q);
	stream_close(&a);
	attr_list_destroy(&l);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_delays)
{
	struct deliver_request r;
	struct buf *out = buf_create(0, 1000);
	double t0 = 1700000000.25;

	sample_request(&r);
	deliver_format_delays(&r, t0 + 0.04, t0 + 0.05, t0 + 0.05, t0 + 0.12,
	                      out);
	ck_assert_str_eq(buf_str(out), "delay=0.12, delays=0.04/0.01/0/0.07");
	buf_reset(out);
	deliver_format_delays(&r, t0 + 0.09, t0 + 0.09, t0 + 4.29, t0 + 14,
	                      out);
	ck_assert_str_eq(buf_str(out), "delay=14, delays=0.09/0/4.2/9.7");
	buf_reset(out);
	/* Times out of order (a clock step) never give negative numbers. */
	deliver_format_delays(&r, t0 - 5, t0 - 6, t0 + 1.5, t0 + 1, out);
	ck_assert_str_eq(buf_str(out), "delay=1.5, delays=0/0/1.5/0");
	buf_destroy(&out);
}
END_TEST

Suite *deliver_suite(void)
{
	Suite *s = suite_create("deliver");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_encode_matches_write);
	tcase_add_loop_test(tc, test_request_hostile, 0,
	                    sizeof(req_cases) / sizeof(req_cases[0]));
	tcase_add_test(tc, test_request_stall);
	tcase_add_loop_test(tc, test_answer_table, 0,
	                    sizeof(answer_cases) / sizeof(answer_cases[0]));
	tcase_add_test(tc, test_answer_stream_errors);
	tcase_add_test(tc, test_delays);
	suite_add_tcase(s, tc);
	return s;
}
