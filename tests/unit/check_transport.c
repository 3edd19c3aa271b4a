/* check_transport.c: unit tests for lib/transport.c: transport(5) result
 * rules (transport_apply), and recipient resolution in tables: address
 * classes (mydestination, localhost forms, virtual mailbox and alias
 * domains, default), transport_maps search order (full address, address
 * without the extension, domain, .parent, "*"), relayhost and
 * default_transport with a nexthop, error: and discard:, and a table
 * that cannot be opened. */
#include <check.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "transport.h"

struct apply_case {
	const char *result;
	const char *transport, *nexthop; /* expected, from smtp / old.hop */
};

static const struct apply_case apply_cases[] = {
    {":", "smtp", "old.hop"},
    {"", "smtp", "old.hop"},
    {":[gw.example]", "smtp", "[gw.example]"},
    {"relay", "relay", "dom.example"},
    {"relay:", "relay", "dom.example"},
    {"relay:[10.0.0.1]:2525", "relay", "[10.0.0.1]:2525"},
    {" relay :x", "relay", "x"},
    {"error:", "error", ""},
    {"error:5.7.1 go away", "error", "5.7.1 go away"},
    {"discard:", "discard", ""},
    {"discard:silently", "discard", "silently"},
};

START_TEST(test_apply)
{
	const struct apply_case *c = &apply_cases[_i];
	struct buf *t = buf_create(0, 1000), *n = buf_create(0, 1000);

	buf_set_str(t, "smtp");
	buf_set_str(n, "old.hop");
	transport_apply(c->result, "dom.example", t, n);
	ck_assert_msg(strcmp(buf_str(t), c->transport) == 0 &&
	                  strcmp(buf_str(n), c->nexthop) == 0,
	              "'%s': %s:%s, expected %s:%s", c->result, buf_str(t),
	              buf_str(n), c->transport, c->nexthop);
	buf_destroy(&t);
	buf_destroy(&n);
}
END_TEST

static const char *const base_cf =
    "myhostname = mail.example.test\n"
    "mydomain = example.test\n"
    "mydestination = $myhostname, localhost.$mydomain\n"
    "virtual_mailbox_domains = example.com\n"
    "virtual_alias_domains = alias.example\n"
    "recipient_delimiter = +\n";

static const char *const maps_cf =
    "transport_maps = inline:{ special@remote.example = fake:[10.0.0.1], "
    "tagged@remote.example = relay:, "
    "{ errdom.example = error:5.7.1 go away }, "
    "bare.example = error:, "
    "discard.example = discard:, "
    "sub.parent.example = :[gw.example], "
    ".parent.example = slow:, "
    "example.com = lmtp: }\n";

struct resolve_case {
	const char *extra_cf; /* after base_cf */
	const char *address;
	const char *transport, *nexthop;
};

static const struct resolve_case resolve_cases[] = {
    /* Address classes. */
    {"", "u@mail.example.test", "local", "mail.example.test"},
    {"", "u@MAIL.Example.Test.", "local", "mail.example.test"},
    {"", "u@localhost.example.test", "local", "localhost.example.test"},
    {"", "u@LOCALHOST", "local", "localhost"},
    {"", "u@[127.0.0.1]", "local", "[127.0.0.1]"},
    {"", "u@[IPv6:::1]", "local", "[ipv6:::1]"},
    {"", "u", "local", "mail.example.test"},
    {"", "u@example.com", "virtual", "example.com"},
    {"", "u@alias.example", "error",
     "5.1.1 User unknown in virtual alias table"},
    {"", "u@remote.example", "smtp", "remote.example"},
    {"", "u@sub.example.com", "smtp", "sub.example.com"},
    /* relayhost and default_transport. */
    {"relayhost = [relay.example]:2525\n", "u@remote.example", "smtp",
     "[relay.example]:2525"},
    {"relayhost = [relay.example]:2525\n", "u@example.com", "virtual",
     "example.com"},
    /* virtual_transport, with and without its own nexthop. */
    {"virtual_transport = lmtp\n", "u@example.com", "lmtp", "example.com"},
    {"virtual_transport = lmtp:[store.example]\n", "u@example.com", "lmtp",
     "[store.example]"},
    {"default_transport = fake\n", "u@remote.example", "fake",
     "remote.example"},
    {"default_transport = fake:[gw]\nrelayhost = [relay.example]\n",
     "u@remote.example", "fake", "[gw]"},
    {"default_transport = :[gw]\n", "u@remote.example", "smtp", "[gw]"},
    /* transport_maps: full address, then without the extension. */
    {NULL, "special@remote.example", "fake", "[10.0.0.1]"},
    {NULL, "Special@Remote.Example", "fake", "[10.0.0.1]"},
    {NULL, "tagged+foo@remote.example", "relay", "remote.example"},
    {NULL, "other@remote.example", "smtp", "remote.example"},
    /* error: and discard:. */
    {NULL, "x@errdom.example", "error", "5.7.1 go away"},
    {NULL, "x@bare.example", "error", ""},
    {NULL, "x@discard.example", "discard", ""},
    /* domain, .parent (transport_maps is not in
     * parent_domain_matches_subdomains by default). */
    {NULL, "x@sub.parent.example", "smtp", "[gw.example]"},
    {NULL, "x@deep.parent.example", "slow", "deep.parent.example"},
    {NULL, "x@a.b.parent.example", "slow", "a.b.parent.example"},
    {NULL, "x@parent.example", "smtp", "parent.example"},
    /* transport_maps override the local classes too (transport(5)). */
    {NULL, "u@example.com", "lmtp", "example.com"},
    /* Parent style: "parent.example" also matches subdomains. */
    {"transport_maps = inline:{parent.example = slow:}\n"
     "parent_domain_matches_subdomains = transport_maps\n",
     "x@a.parent.example", "slow", "a.parent.example"},
    /* The wildcard. */
    {"transport_maps = inline:{ * = catchall:, keep.example = : }\n",
     "u@mail.example.test", "catchall", "mail.example.test"},
    {"transport_maps = inline:{ * = catchall:, keep.example = : }\n",
     "u@keep.example", "smtp", "keep.example"},
};

START_TEST(test_resolve)
{
	const struct resolve_case *c = &resolve_cases[_i];
	struct config *cf = config_create();
	struct buf *err = buf_create(0, 1000);
	struct buf *t = buf_create(0, 1000), *n = buf_create(0, 1000);
	struct transport_resolver *r;
	const char *extra = c->extra_cf ? c->extra_cf : maps_cf;

	ck_assert_int_eq(
	    config_parse(cf, base_cf, strlen(base_cf), "base", err), 0);
	ck_assert_msg(config_parse(cf, extra, strlen(extra), "extra", err) == 0,
	              "%s", buf_str(err));
	r = transport_resolver_create(cf, err);
	ck_assert_msg(r != NULL, "%s", buf_str(err));
	ck_assert_int_eq(transport_resolve(r, c->address, t, n, err), 0);
	ck_assert_msg(strcmp(buf_str(t), c->transport) == 0 &&
	                  strcmp(buf_str(n), c->nexthop) == 0,
	              "case %d %s: %s:%s, expected %s:%s", _i, c->address,
	              buf_str(t), buf_str(n), c->transport, c->nexthop);
	transport_resolver_destroy(&r);
	ck_assert_ptr_null(r);
	buf_destroy(&t);
	buf_destroy(&n);
	buf_destroy(&err);
	config_destroy(&cf);
}
END_TEST

START_TEST(test_bad_table)
{
	struct config *cf = config_create();
	struct buf *err = buf_create(0, 1000);
	static const char text[] =
	    "transport_maps = lmdb:/nonexistent/posthorn/transport\n";

	ck_assert_int_eq(config_parse(cf, text, strlen(text), "t", err), 0);
	ck_assert_ptr_null(transport_resolver_create(cf, err));
	ck_assert_ptr_nonnull(strstr(buf_str(err), "transport_maps"));
	buf_destroy(&err);
	config_destroy(&cf);
}
END_TEST

Suite *transport_suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_apply, 0,
	                    sizeof(apply_cases) / sizeof(apply_cases[0]));
	tcase_add_loop_test(tc, test_resolve, 0,
	                    sizeof(resolve_cases) / sizeof(resolve_cases[0]));
	tcase_add_test(tc, test_bad_table);
	suite_add_tcase(s, tc);
	return s;
}
