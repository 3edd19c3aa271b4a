/* check_server_proto.c: unit tests for lib/server_proto.c: status records,
 * child command lines (hostile ones included), master's spawn and throttle
 * decisions, status file lines. */
#include <check.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "buf.h"
#include "mem.h"
#include "server_proto.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_status_roundtrip)
{
	unsigned char rec[SERVER_STATUS_SIZE];
	struct server_status in = {12345, SERVER_BUSY}, out = {0};

	server_status_encode(&in, rec);
	ck_assert_int_eq(server_status_decode(rec, sizeof(rec), &out), 0);
	ck_assert_int_eq(out.pid, 12345);
	ck_assert_int_eq(out.state, SERVER_BUSY);
	in.state = SERVER_IDLE;
	server_status_encode(&in, rec);
	ck_assert_int_eq(server_status_decode(rec, sizeof(rec), &out), 0);
	ck_assert_int_eq(out.state, SERVER_IDLE);
}
END_TEST

START_TEST(test_status_hostile)
{
	unsigned char rec[SERVER_STATUS_SIZE], bad[SERVER_STATUS_SIZE];
	struct server_status in = {77, SERVER_IDLE}, out = {4242, SERVER_BUSY};
	uint32_t v;

	server_status_encode(&in, rec);
	/* Wrong lengths. */
	ck_assert_int_eq(server_status_decode(rec, 0, &out), -1);
	ck_assert_int_eq(server_status_decode(rec, sizeof(rec) - 1, &out), -1);
	/* Bad magic. */
	memcpy(bad, rec, sizeof(bad));
	bad[0] ^= 0xff;
	ck_assert_int_eq(server_status_decode(bad, sizeof(bad), &out), -1);
	/* pid 0 and a negative pid. */
	memcpy(bad, rec, sizeof(bad));
	v = 0;
	memcpy(bad + 4, &v, 4);
	ck_assert_int_eq(server_status_decode(bad, sizeof(bad), &out), -1);
	v = 0x80000000u;
	memcpy(bad + 4, &v, 4);
	ck_assert_int_eq(server_status_decode(bad, sizeof(bad), &out), -1);
	/* Unknown states. */
	for (uint32_t s = 0; s < 5; s++) {
		if (s == SERVER_IDLE || s == SERVER_BUSY)
			continue;
		memcpy(bad, rec, sizeof(bad));
		memcpy(bad + 8, &s, 4);
		ck_assert_int_eq(server_status_decode(bad, sizeof(bad), &out),
		                 -1);
	}
	/* Output untouched on failure. */
	ck_assert_int_eq(out.pid, 4242);
	ck_assert_int_eq(out.state, SERVER_BUSY);
}
END_TEST

START_TEST(test_args_roundtrip)
{
	const char *overrides[] = {"syslog_name=posthorn/submission",
	                           "smtpd_tls_security_level=encrypt"};
	const char *args[] = {"-x", "crash", "--", ""};
	struct server_args a = {0}, b;
	struct buf *err = buf_create(0, 0);
	char **v;
	int argc = 0;

	a.program = "smtpd";
	a.config_dir = "/etc/posthorn";
	a.service = "127.0.0.1:25";
	a.type = MASTER_PASS;
	a.listen_count = 3;
	a.unpriv = true;
	a.chroot = true;
	a.verbose = 2;
	a.overrides = overrides;
	a.noverrides = 2;
	a.args = args;
	a.nargs = NELEM(args);
	v = server_args_build(&a);
	while (v[argc])
		argc++;
	ck_assert_int_eq(server_args_parse(argc, v, &b, err), 0);
	ck_assert_str_eq(b.program, "smtpd");
	ck_assert_str_eq(b.config_dir, "/etc/posthorn");
	ck_assert_str_eq(b.service, "127.0.0.1:25");
	ck_assert_int_eq(b.type, MASTER_PASS);
	ck_assert_int_eq(b.listen_count, 3);
	ck_assert(b.unpriv && b.chroot);
	ck_assert_int_eq(b.verbose, 2);
	ck_assert_uint_eq(b.noverrides, 2);
	ck_assert_str_eq(b.overrides[0], overrides[0]);
	ck_assert_str_eq(b.overrides[1], overrides[1]);
	/* Arguments that look like options survive behind "--". */
	ck_assert_uint_eq(b.nargs, NELEM(args));
	for (size_t i = 0; i < NELEM(args); i++)
		ck_assert_str_eq(b.args[i], args[i]);
	server_args_release(&b);
	server_argv_free(&v);
	ck_assert_ptr_null(v);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_args_minimal)
{
	char *argv[] = {"echo", "-c",   "/d", "-n", "svc",
	                "-t",   "fifo", "-s", "1",  NULL};
	struct server_args a;
	struct buf *err = buf_create(0, 0);

	ck_assert_int_eq(server_args_parse(9, argv, &a, err), 0);
	ck_assert(!a.unpriv && !a.chroot);
	ck_assert_int_eq(a.type, MASTER_FIFO);
	ck_assert_uint_eq(a.nargs, 0);
	ck_assert_uint_eq(a.noverrides, 0);
	server_args_release(&a);
	buf_destroy(&err);
}
END_TEST

/* Command lines the skeleton must refuse. */
static const char *const bad_argv[][12] = {
    {"x", NULL},
    {"x", "-c", "/d", "-n", "s", "-t", "inet", NULL}, /* no -s */
    {"x", "-n", "s", "-t", "inet", "-s", "1", NULL}, /* no -c */
    {"x", "-c", "/d", "-t", "inet", "-s", "1", NULL}, /* no -n */
    {"x", "-c", "/d", "-n", "s", "-t", "tcp", "-s", "1", NULL},
    {"x", "-c", "/d", "-n", "s", "-t", "inet", "-s", "-1", NULL},
    {"x", "-c", "/d", "-n", "s", "-t", "inet", "-s", "65", NULL},
    {"x", "-c", "/d", "-n", "s", "-t", "inet", "-s", "1x", NULL},
    {"x", "-c", "/d", "-n", "s", "-t", "inet", "-s", "1", "-o", "novalue",
     NULL},
    {"x", "-c", "/d", "-n", "s", "-t", "inet", "-s", "1", "-o", "=v", NULL},
    {"x", "-c", "/d", "-n", "s", "-t", "inet", "-s", "1", "-q", NULL},
    {"x", "-c", "/d", "-n", "s", "-t", "inet", "-s", NULL}, /* no value */
    {"x", "-c", "", "-n", "s", "-t", "inet", "-s", "1", NULL},
};

START_TEST(test_args_hostile)
{
	struct server_args a;
	struct buf *err = buf_create(0, 0);
	int argc = 0;

	memset(&a, 0x5a, sizeof(a));
	while (bad_argv[_i][argc])
		argc++;
	ck_assert_msg(server_args_parse(argc, (char **)bad_argv[_i], &a, err) ==
	                  -1,
	              "case %d accepted", _i);
	ck_assert_msg(buf_len(err) > 0, "case %d: no reason", _i);
	/* Output untouched. */
	ck_assert(a.listen_count == 0x5a5a5a5a);
	buf_destroy(&err);
}
END_TEST

static const struct {
	int total, idle, maxproc;
	bool throttled, listener, want;
} listen_cases[] = {
    {0, 0, 5, false, true, true}, /* nobody there: start one */
    {1, 1, 5, false, true, false}, /* one idle: it takes the client */
    {4, 0, 5, false, true, true}, /* all busy, room for one more */
    {5, 0, 5, false, true, false}, /* at the limit */
    {6, 0, 5, false, true, false}, /* over (after a reload) */
    {1000, 0, 0, false, true, true}, /* 0: no limit */
    {0, 0, 5, true, true, false}, /* throttled */
    {0, 0, 5, false, false, false}, /* no listener */
    {3, 2, 0, false, true, false},
};

START_TEST(test_should_listen)
{
	ck_assert_int_eq(server_should_listen(listen_cases[_i].total,
	                                      listen_cases[_i].idle,
	                                      listen_cases[_i].maxproc,
	                                      listen_cases[_i].throttled,
	                                      listen_cases[_i].listener),
	                 listen_cases[_i].want);
}
END_TEST

static const struct {
	int status;
	bool signalled;
	int use_count;
	bool normal, throttles;
	const char *text;
} exit_cases[] = {
    {W_EXITCODE(0, 0), false, 0, true, false, "exit status 0"},
    {W_EXITCODE(1, 0), false, 0, false, true, "exit status 1"},
    {W_EXITCODE(1, 0), false, 3, false, false, "exit status 1"},
    {W_EXITCODE(127, 0), false, 0, false, true, "exit status 127"},
    {W_EXITCODE(0, SIGKILL), false, 1, false, false, "killed by signal 9"},
    {W_EXITCODE(0, SIGKILL), false, 0, false, true, "killed by signal 9"},
    {W_EXITCODE(0, SIGKILL), true, 0, true, false, "killed by signal 9"},
    {W_EXITCODE(0, SIGTERM), true, 0, true, false, "killed by signal 15"},
    {W_EXITCODE(0, SIGSEGV), true, 0, false, true, "killed by signal 11"},
    {W_EXITCODE(0, SIGABRT), false, 2, false, false, "killed by signal 6"},
};

START_TEST(test_exit_decisions)
{
	char text[64];

	ck_assert_int_eq(
	    server_exit_normal(exit_cases[_i].status, exit_cases[_i].signalled),
	    exit_cases[_i].normal);
	ck_assert_int_eq(server_exit_throttles(exit_cases[_i].status,
	                                       exit_cases[_i].signalled,
	                                       exit_cases[_i].use_count),
	                 exit_cases[_i].throttles);
	server_describe_exit(exit_cases[_i].status, text, sizeof(text));
	ck_assert_str_eq(text, exit_cases[_i].text);
}
END_TEST

START_TEST(test_status_line_roundtrip)
{
	struct server_status_line in = {0}, out;
	struct buf *b = buf_create(0, 0);

	strcpy(in.name, "127.0.0.1:10025");
	strcpy(in.type, "inet");
	in.maxproc = 100;
	in.total = 7;
	in.busy = 5;
	in.idle = 2;
	in.throttled = true;
	server_status_line_format(&in, b);
	ck_assert_str_eq(buf_str(b),
	                 "service 127.0.0.1:10025 inet 100 7 5 2 1\n");
	buf_truncate(b, buf_len(b) - 1);
	ck_assert_int_eq(server_status_line_parse(buf_str(b), &out), 0);
	ck_assert_str_eq(out.name, in.name);
	ck_assert_str_eq(out.type, in.type);
	ck_assert_int_eq(out.maxproc, 100);
	ck_assert_int_eq(out.total, 7);
	ck_assert_int_eq(out.busy, 5);
	ck_assert_int_eq(out.idle, 2);
	ck_assert(out.throttled);
	buf_destroy(&b);
}
END_TEST

static const char *const bad_status_lines[] = {
    "",
    "service",
    "service a inet 1 2 3 4",
    "service a inet 1 2 3 4 0 extra",
    "servic a inet 1 2 3 4 0",
    "service a inet -1 2 3 4 0",
    "service a inet 1 2 3 4 2",
    "service a inet 1 2 3 x 0",
    "service a toolongtype 1 2 3 4 0",
    "service a inet 99999999999999999999 2 3 4 0",
    "generation 5",
};

START_TEST(test_status_line_hostile)
{
	struct server_status_line out;
	char huge[600];

	ck_assert_int_eq(server_status_line_parse(bad_status_lines[_i], &out),
	                 -1);
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = 0;
	memcpy(huge, "service ", 8);
	ck_assert_int_eq(server_status_line_parse(huge, &out), -1);
}
END_TEST

START_TEST(test_type_parse)
{
	enum master_type t;

	ck_assert_int_eq(server_type_parse("inet", &t), 0);
	ck_assert_int_eq(t, MASTER_INET);
	ck_assert_int_eq(server_type_parse("unix", &t), 0);
	ck_assert_int_eq(t, MASTER_UNIX);
	ck_assert_int_eq(server_type_parse("pass", &t), 0);
	ck_assert_int_eq(t, MASTER_PASS);
	ck_assert_int_eq(server_type_parse("fifo", &t), 0);
	ck_assert_int_eq(t, MASTER_FIFO);
	ck_assert_int_eq(server_type_parse("INET", &t), -1);
	ck_assert_int_eq(server_type_parse("", &t), -1);
}
END_TEST

Suite *server_proto_suite(void)
{
	Suite *s = suite_create("server_proto");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_status_roundtrip);
	tcase_add_test(tc, test_status_hostile);
	tcase_add_test(tc, test_args_roundtrip);
	tcase_add_test(tc, test_args_minimal);
	tcase_add_loop_test(tc, test_args_hostile, 0, NELEM(bad_argv));
	tcase_add_loop_test(tc, test_should_listen, 0, NELEM(listen_cases));
	tcase_add_loop_test(tc, test_exit_decisions, 0, NELEM(exit_cases));
	tcase_add_test(tc, test_status_line_roundtrip);
	tcase_add_loop_test(tc, test_status_line_hostile, 0,
	                    NELEM(bad_status_lines));
	tcase_add_test(tc, test_type_parse);
	suite_add_tcase(s, tc);
	return s;
}
