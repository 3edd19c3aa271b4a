/* check_anvil.c: unit tests for lib/anvil_client.c: the counting table
 * (counts, fixed-window rates, events, owners that vanish, bounds, key
 * validation, expiry) and the client against a small in-test server
 * speaking the anvil protocol over a UNIX socket: counts across clients,
 * a dropped client's connections undone, fail-open when the service is
 * gone or answers garbage, reconnect after a restart; and the smtpd
 * connection limits of lib/policy.c (421 4.7.0, exceptions, rate). */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "anvil_client.h"
#include "attr.h"
#include "buf.h"
#include "config.h"
#include "mem.h"
#include "policy.h"
#include "stream.h"

START_TEST(test_table_counts)
{
	struct anvil_table *t = anvil_table_create(60000, 100);
	struct anvil_owner *a = anvil_owner_create(t);
	struct anvil_owner *b = anvil_owner_create(t);
	int count = -1, rate = -1;

	for (int i = 1; i <= 3; i++) {
		ck_assert_int_eq(anvil_table_connect(a, "smtp", "192.0.2.1",
		                                     1000, &count, &rate),
		                 0);
		ck_assert_int_eq(count, i);
		ck_assert_int_eq(rate, i);
	}
	/* Another service or address is another key. */
	ck_assert_int_eq(anvil_table_connect(b, "submission", "192.0.2.1", 1000,
	                                     &count, &rate),
	                 0);
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(
	    anvil_table_connect(b, "smtp", "192.0.2.2", 1000, &count, &rate),
	    0);
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(
	    anvil_table_connect(b, "smtp", "192.0.2.1", 1000, &count, &rate),
	    0);
	ck_assert_int_eq(count, 4);
	ck_assert_int_eq(rate, 4);

	anvil_table_disconnect(a, "smtp", "192.0.2.1", 2000);
	anvil_table_lookup(t, "smtp", "192.0.2.1", 2000, &count, &rate);
	ck_assert_int_eq(count, 3);
	ck_assert_int_eq(rate, 4); /* rates do not go down on disconnect */
	/* An owner cannot undo what it did not count. */
	anvil_table_disconnect(b, "smtp", "192.0.2.99", 2000);
	anvil_table_disconnect(a, "smtp", "192.0.2.2", 2000);
	anvil_table_lookup(t, "smtp", "192.0.2.2", 2000, &count, &rate);
	ck_assert_int_eq(count, 1);
	/* A vanished owner's connections go with it. */
	anvil_owner_destroy(&a);
	ck_assert_ptr_null(a);
	anvil_table_lookup(t, "smtp", "192.0.2.1", 2000, &count, &rate);
	ck_assert_int_eq(count, 1);
	anvil_owner_destroy(&b);
	anvil_table_lookup(t, "smtp", "192.0.2.1", 2000, &count, &rate);
	ck_assert_int_eq(count, 0);
	anvil_table_lookup(t, "smtp", "unknown.key", 2000, &count, &rate);
	ck_assert_int_eq(count, 0);
	ck_assert_int_eq(rate, 0);
	anvil_table_destroy(&t);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_table_rates)
{
	struct anvil_table *t = anvil_table_create(60000, 100);
	struct anvil_owner *o = anvil_owner_create(t);
	int count, rate;

	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(anvil_table_connect(o, "smtp", "a", 1000 + i,
		                                     &count, &rate),
		                 0);
		anvil_table_disconnect(o, "smtp", "a", 1000 + i);
	}
	ck_assert_int_eq(rate, 5);
	ck_assert_int_eq(count, 1);
	/* Still inside the window. */
	ck_assert_int_eq(
	    anvil_table_connect(o, "smtp", "a", 60999, &count, &rate), 0);
	ck_assert_int_eq(rate, 6);
	/* A new window starts over. */
	ck_assert_int_eq(
	    anvil_table_connect(o, "smtp", "a", 61000, &count, &rate), 0);
	ck_assert_int_eq(rate, 1);
	ck_assert_int_eq(count, 2);
	/* A clock that goes back also starts a new window. */
	ck_assert_int_eq(anvil_table_connect(o, "smtp", "a", 10, &count, &rate),
	                 0);
	ck_assert_int_eq(rate, 1);

	/* Events: per name, independent of connections. */
	for (int i = 1; i <= 3; i++) {
		ck_assert_int_eq(
		    anvil_table_event(t, "smtp", "a", "auth", 20 + i, &rate),
		    0);
		ck_assert_int_eq(rate, i);
	}
	ck_assert_int_eq(anvil_table_event(t, "smtp", "a", "rcpt", 30, &rate),
	                 0);
	ck_assert_int_eq(rate, 1);
	ck_assert_int_eq(
	    anvil_table_event(t, "smtp", "a", "auth", 60100, &rate), 0);
	ck_assert_int_eq(rate, 1);
	/* At most 8 event names per key. */
	for (int i = 0; i < 6; i++) {
		char name[16];

		snprintf(name, sizeof(name), "e%d", i);
		ck_assert_int_eq(
		    anvil_table_event(t, "smtp", "a", name, 40, &rate), 0);
	}
	ck_assert_int_eq(anvil_table_event(t, "smtp", "a", "ninth", 40, &rate),
	                 -1);
	ck_assert_int_eq(anvil_table_event(t, "smtp", "a",
	                                   "an-event-name-much-longer-than-32-"
	                                   "bytes",
	                                   40, &rate),
	                 -1);
	anvil_owner_destroy(&o);
	anvil_table_destroy(&t);
}
END_TEST

START_TEST(test_table_bounds)
{
	struct anvil_table *t = anvil_table_create(1000, 2);
	struct anvil_owner *o = anvil_owner_create(t);
	int count, rate;

	ck_assert_int_eq(anvil_table_connect(o, "s", "a", 0, &count, &rate), 0);
	ck_assert_int_eq(anvil_table_connect(o, "s", "b", 0, &count, &rate), 0);
	/* Full: a third key is not counted (the caller fails open). */
	ck_assert_int_eq(anvil_table_connect(o, "s", "c", 10, &count, &rate),
	                 -1);
	ck_assert_int_eq(anvil_table_event(t, "s", "c", "auth", 10, &rate), -1);
	/* Known keys still count. */
	ck_assert_int_eq(anvil_table_connect(o, "s", "a", 10, &count, &rate),
	                 0);
	ck_assert_int_eq(count, 2);
	/* Keys with open connections never expire... */
	ck_assert_uint_eq(anvil_table_expire(t, 100000), 2);
	anvil_table_disconnect(o, "s", "b", 100000);
	/* ...idle ones do, after a time unit. */
	ck_assert_uint_eq(anvil_table_expire(t, 100500), 2);
	ck_assert_uint_eq(anvil_table_expire(t, 101000), 1);
	ck_assert_int_eq(
	    anvil_table_connect(o, "s", "c", 101000, &count, &rate), 0);
	ck_assert_int_eq(count, 1);
	/* Expiry while full makes room by itself. */
	anvil_table_disconnect(o, "s", "c", 101000);
	ck_assert_int_eq(
	    anvil_table_connect(o, "s", "d", 300000, &count, &rate), 0);
	anvil_owner_destroy(&o);
	ck_assert_uint_eq(anvil_table_expire(t, 1000000), 0);
	anvil_table_destroy(&t);
}
END_TEST

START_TEST(test_key_ok)
{
	char big[100];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert(anvil_key_ok("smtp", "192.0.2.1"));
	ck_assert(anvil_key_ok("10025", "2001:db8::1"));
	ck_assert(!anvil_key_ok("", "192.0.2.1"));
	ck_assert(!anvil_key_ok("smtp", ""));
	ck_assert(!anvil_key_ok(NULL, "x"));
	ck_assert(!anvil_key_ok("smtp", NULL));
	ck_assert(!anvil_key_ok("sm tp", "x"));
	ck_assert(!anvil_key_ok("smtp", "a\nb"));
	ck_assert(!anvil_key_ok("smtp", "a\x7f"));
	ck_assert(!anvil_key_ok(big, "x"));
	ck_assert(!anvil_key_ok("smtp", big));
	big[64] = 0;
	ck_assert(anvil_key_ok(big, big));
}
END_TEST

/* The in-test server. */

static char tmpdir[256];
static pid_t server_pid;

static void server_serve(int lfd, int mode)
{
	struct anvil_table *t = anvil_table_create(60000, 1000);
	struct pollfd fds[32];
	struct stream *streams[32];
	struct anvil_owner *owners[32];
	struct attr_list *req = attr_list_create(), *rep = attr_list_create();
	struct buf *err = buf_create(0, 4096);
	long long now = 1000;
	int n = 1;

	fds[0].fd = lfd;
	fds[0].events = POLLIN;
	for (;;) {
		if (poll(fds, (nfds_t)n, -1) < 0)
			_exit(1);
		if ((fds[0].revents & POLLIN) && n < 32) {
			int cfd = accept(lfd, NULL, NULL);

			if (cfd >= 0) {
				fds[n].fd = cfd;
				fds[n].events = POLLIN;
				fds[n].revents = 0;
				streams[n] = stream_open(cfd);
				owners[n] = anvil_owner_create(t);
				n++;
			}
		}
		for (int i = 1; i < n; i++) {
			const char *r, *svc, *addr;
			int count = 0, rate = 0;

			if (fds[i].revents == 0)
				continue;
			if (attr_read(streams[i], req, NULL, err) < 0) {
				stream_close(&streams[i]);
				anvil_owner_destroy(&owners[i]);
				fds[i] = fds[n - 1];
				streams[i] = streams[n - 1];
				owners[i] = owners[n - 1];
				n--;
				i--;
				continue;
			}
			if (mode == 1) {
				/* Garbage instead of a reply. */
				(void)stream_puts(streams[i], "garbage\n");
				(void)stream_flush(streams[i]);
				continue;
			}
			r = attr_get(req, "request", NULL);
			svc = attr_get(req, "service", NULL);
			addr = attr_get(req, "address", NULL);
			attr_list_reset(rep);
			now += 10;
			if (r && strcmp(r, "connect") == 0) {
				anvil_table_connect(owners[i], svc, addr, now,
				                    &count, &rate);
			} else if (r && strcmp(r, "disconnect") == 0) {
				anvil_table_disconnect(owners[i], svc, addr,
				                       now);
			} else if (r && strcmp(r, "event") == 0) {
				anvil_table_event(t, svc, addr,
				                  attr_get(req, "event", NULL),
				                  now, &rate);
			} else {
				anvil_table_lookup(t, svc, addr, now, &count,
				                   &rate);
			}
			attr_add_int(rep, "status", 0);
			attr_add_int(rep, "count", count);
			attr_add_int(rep, "rate", rate);
			(void)attr_write(streams[i], rep);
			(void)stream_flush(streams[i]);
		}
		for (int i = 0; i < n; i++)
			fds[i].revents = 0;
	}
}

/* Start the server on tmpdir/private/anvil; mode 1: answers garbage. */
static void server_start(int mode)
{
	struct sockaddr_un sun;
	char path[300];
	int lfd;

	snprintf(path, sizeof(path), "%s/private", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/private/anvil", tmpdir);
	unlink(path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0)
		server_serve(lfd, mode);
	close(lfd);
}

static void server_stop(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
}

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/posthorn-anvil-XXXXXX",
	         base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	signal(SIGPIPE, SIG_IGN);
}

static void teardown(void)
{
	char cmd[400];

	server_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "teardown: %s failed\n", cmd);
}

static struct config *anvil_config(const char *extra_name,
                                   const char *extra_value)
{
	struct config *c = config_create();

	ck_assert_int_eq(config_set(c, "queue_directory", tmpdir), 0);
	ck_assert_int_eq(config_set(c, "myhostname", "mx.example.com"), 0);
	if (extra_name)
		ck_assert_int_eq(config_set(c, extra_name, extra_value), 0);
	return c;
}

START_TEST(test_client)
{
	struct config *c = anvil_config(NULL, NULL);
	struct anvil_client *a = anvil_client_create(c);
	struct anvil_client *b = anvil_client_create(c);
	int count = -1, rate = -1;

	/* Not there yet: fail open, outputs untouched. */
	ck_assert_int_eq(anvil_connect(a, "smtp", "192.0.2.1", &count, &rate),
	                 -1);
	ck_assert_int_eq(count, -1);
	server_start(0);
	ck_assert_int_eq(anvil_connect(a, "smtp", "192.0.2.1", &count, &rate),
	                 0);
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(anvil_connect(a, "smtp", "192.0.2.1", &count, &rate),
	                 0);
	ck_assert_int_eq(count, 2);
	ck_assert_int_eq(anvil_connect(b, "smtp", "192.0.2.1", &count, &rate),
	                 0);
	ck_assert_int_eq(count, 3);
	ck_assert_int_eq(rate, 3);
	ck_assert_int_eq(anvil_event(b, "smtp", "192.0.2.1", "auth", &rate), 0);
	ck_assert_int_eq(rate, 1);
	/* a goes away: its two connections are undone. */
	anvil_client_destroy(&a);
	ck_assert_ptr_null(a);
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(
		    anvil_lookup(b, "smtp", "192.0.2.1", &count, &rate), 0);
		if (count == 1)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(anvil_disconnect(b, "smtp", "192.0.2.1"), 0);
	ck_assert_int_eq(anvil_lookup(b, "smtp", "192.0.2.1", &count, &rate),
	                 0);
	ck_assert_int_eq(count, 0);
	/* anvil restarts: the next request reconnects. */
	server_stop();
	ck_assert_int_eq(anvil_connect(b, "smtp", "192.0.2.1", &count, &rate),
	                 -1);
	server_start(0);
	ck_assert_int_eq(anvil_connect(b, "smtp", "192.0.2.1", &count, &rate),
	                 0);
	ck_assert_int_eq(count, 1);
	server_stop();
	/* A server that answers garbage counts as unreachable. */
	server_start(1);
	count = -1;
	ck_assert_int_eq(anvil_connect(b, "smtp", "192.0.2.1", &count, &rate),
	                 -1);
	ck_assert_int_eq(count, -1);
	anvil_client_destroy(&b);
	config_destroy(&c);
}
END_TEST

START_TEST(test_policy_count_limit)
{
	struct config *c =
	    anvil_config("smtpd_client_connection_count_limit", "2");
	struct policy *p[4];
	struct policy_facts f = {.client_address = "192.0.2.10",
	                         .client_name = "unknown"};
	struct policy_result out;

	ck_assert_int_eq(
	    config_set(c, "smtpd_client_event_limit_exceptions", ""), 0);
	server_start(0);
	for (int i = 0; i < 4; i++)
		p[i] = policy_create(c);
	ck_assert_int_eq(policy_connect_limits(p[0], &f, "smtp", &out),
	                 POLICY_OK);
	ck_assert_int_eq(policy_connect_limits(p[1], &f, "smtp", &out),
	                 POLICY_OK);
	ck_assert_int_eq(policy_connect_limits(p[2], &f, "smtp", &out),
	                 POLICY_DEFER);
	ck_assert_str_eq(out.reply, "421 4.7.0 mx.example.com Error: too many "
	                            "connections from 192.0.2.10");
	ck_assert_int_eq(out.code, 421);
	/* Other services and addresses have their own counts. */
	ck_assert_int_eq(policy_connect_limits(p[3], &f, "submission", &out),
	                 POLICY_OK);
	policy_disconnect(p[3], &f, "submission");
	f.client_address = "192.0.2.11";
	ck_assert_int_eq(policy_connect_limits(p[3], &f, "smtp", &out),
	                 POLICY_OK);
	policy_disconnect(p[3], &f, "smtp");
	f.client_address = "192.0.2.10";
	/* Ending a session frees its slot (also the refused one's). */
	policy_disconnect(p[2], &f, "smtp");
	policy_disconnect(p[2], &f, "smtp"); /* twice is harmless */
	policy_disconnect(p[0], &f, "smtp");
	ck_assert_int_eq(policy_connect_limits(p[0], &f, "smtp", &out),
	                 POLICY_OK);
	/* A policy process that dies drops its count. */
	policy_destroy(&p[1]);
	ck_assert_int_eq(policy_connect_limits(p[2], &f, "smtp", &out),
	                 POLICY_OK);
	for (int i = 0; i < 4; i++)
		policy_destroy(&p[i]);
	config_destroy(&c);
}
END_TEST

START_TEST(test_policy_rate_and_exceptions)
{
	struct config *c =
	    anvil_config("smtpd_client_connection_rate_limit", "2");
	struct policy *p;
	struct policy_facts f = {.client_address = "127.0.0.1"};
	struct policy_result out;

	server_start(0);
	p = policy_create(c);
	/* $mynetworks (the default exceptions) is never limited. */
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(policy_connect_limits(p, &f, "smtp", &out),
		                 POLICY_OK);
		policy_disconnect(p, &f, "smtp");
	}
	f.client_address = "192.0.2.7";
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(policy_connect_limits(p, &f, "smtp", &out),
		                 POLICY_OK);
		policy_disconnect(p, &f, "smtp");
	}
	ck_assert_int_eq(policy_connect_limits(p, &f, "smtp", &out),
	                 POLICY_DEFER);
	ck_assert_str_eq(out.reply, "421 4.7.0 mx.example.com Error: too many "
	                            "connections from 192.0.2.7");
	policy_disconnect(p, &f, "smtp");
	policy_destroy(&p);

	/* Both limits off: anvil is not asked at all. */
	ck_assert_int_eq(
	    config_set(c, "smtpd_client_connection_rate_limit", "0"), 0);
	ck_assert_int_eq(
	    config_set(c, "smtpd_client_connection_count_limit", "0"), 0);
	server_stop();
	p = policy_create(c);
	ck_assert_int_eq(policy_connect_limits(p, &f, "smtp", &out), POLICY_OK);
	policy_disconnect(p, &f, "smtp");
	policy_destroy(&p);
	config_destroy(&c);
}
END_TEST

Suite *anvil_suite(void)
{
	Suite *s = suite_create("anvil");
	TCase *tc = tcase_create("table");
	TCase *tn = tcase_create("client");

	tcase_add_test(tc, test_table_counts);
	tcase_add_test(tc, test_table_rates);
	tcase_add_test(tc, test_table_bounds);
	tcase_add_test(tc, test_key_ok);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tn, setup, teardown);
	tcase_add_test(tn, test_client);
	tcase_add_test(tn, test_policy_count_limit);
	tcase_add_test(tn, test_policy_rate_and_exceptions);
	suite_add_tcase(s, tn);
	return s;
}
