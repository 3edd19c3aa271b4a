"""test_smtp_client.py: issue 7 acceptance for the smtp delivery agent.

A real DNS server (dnsmasq, tests/integration/peers.py) on 127.0.0.1 and
a free port serves the test domains; the instance's smtp agent uses it
through dns_resolver_address. Peer MTAs listen on other loopback
addresses (127.0.0.2, ...) on one free port that the instance knows as
smtp_tcp_port: python scripted servers (452 on one RCPT, 421 greeting,
stall, no 8BITMIME, no PIPELINING), Postfix's smtp-sink for counting
sessions, and (when smtpd, qmgr and local are built) a second posthorn
instance.

The agent is driven directly with the delivery protocol of docs/ipc.md
("delivery", tests/integration/attrproto.py), against real queue files
that the instance's own cleanup service writes; qmgr is taken out of
master.cf so that nothing else touches them. When qmgr, bounce and
local exist, end-to-end tests send with sendmail and look at mailboxes.
"""
import email
import email.policy
import os
import re
import struct
import tempfile
import threading
import time
import unittest

from attrproto import Client
from harness import BUILD, PosthornTestCase, wait_for
from peers import DnsServer, ScriptedPeer, SmtpSink, free_port_on

HOST = "mail.example.test"
PEER_ADDRS = ["127.0.0.%d" % i for i in range(2, 12)]
NOTIFY_SUCCESS, NOTIFY_FAILURE = 2, 4


def have(*daemons):
    return all(os.path.exists(os.path.join(BUILD, "libexec", d))
               for d in daemons)


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    pos, recs = 0, []
    while pos < len(data):
        t = chr(data[pos])
        (n,) = struct.unpack(">I", data[pos + 1:pos + 5])
        recs.append((t, pos, data[pos + 5:pos + 5 + n]))
        pos += 5 + n
    return recs


class World:
    """dnsmasq + a posthorn instance whose smtp agent uses it."""

    def __init__(self, test, mx=(), hosts=(), conf=None, keep_qmgr=False):
        self.test = test
        self.tmp = tempfile.mkdtemp(prefix="posthorn-smtp-")
        self.port = free_port_on(["127.0.0.1"] + PEER_ADDRS)
        self.dns = DnsServer(os.path.join(self.tmp, "dns"), mx=mx,
                             hosts=hosts)
        self.dns.start()
        test.addCleanup(self.dns.stop)
        self.inst = inst = test.make_instance(hostname=HOST,
                                              domain="example.test")
        if not keep_qmgr:
            path = os.path.join(inst.dir, "master.cf")
            with open(path) as f:
                lines = f.read().splitlines()
            with open(path, "w") as f:
                f.write("\n".join(l for l in lines
                                  if not re.match(r"qmgr\s+unix\b", l))
                        + "\n")
        settings = {"dns_resolver_address": self.dns.address,
                    "smtp_tcp_port": str(self.port),
                    "inet_protocols": "ipv4",
                    "smtp_connect_timeout": "5s",
                    "smtp_helo_timeout": "10s"}
        settings.update(conf or {})
        inst.conf(**settings)
        inst.start()
        self.qdir = os.path.join(inst.dir, "queue")
        self.stopped = False
        test.addCleanup(self.finish)

    def finish(self):
        """Stop the instance (cached sessions end) and check that no smtp
        process died abnormally: with SANITIZE=1 a sanitizer report, a
        leak included, shows up as an exit status."""
        self.stop()
        bad = [l for l in self.inst.log().splitlines()
               if re.search(r"warning: process \S*/smtp ", l)]
        self.test.assertEqual(bad, [])

    def stop(self):
        if not self.stopped:
            self.stopped = True
            self.inst.stop()

    def peer(self, n, **kw):
        p = ScriptedPeer("127.0.0.%d" % n, self.port, **kw)
        self.test.addCleanup(p.stop)
        return p

    def socket(self, service):
        for d in ("private", "public"):
            p = os.path.join(self.qdir, d, service)
            if os.path.exists(p):
                return p
        raise AssertionError("no %s socket" % service)

    def submit(self, sender, rcpts, content, envid=None, ret=None,
               attrs=()):
        """Queue a message through cleanup; rcpts: addresses or
        (address, orcpt, notify). Returns the queue ID."""
        c = Client(self.socket("cleanup"))
        try:
            c.send([("request", "begin"), ("flags", 0)])
            c.send([("sender", sender)])
            if envid:
                c.send([("attr_name", "envid"), ("attr_value", envid)])
            if ret:
                c.send([("attr_name", "ret"), ("attr_value", ret)])
            for name, value in attrs:
                c.send([("attr_name", name), ("attr_value", value)])
            for r in rcpts:
                addr, orcpt, notify = (r, "", 0) if isinstance(r, str) \
                    else r
                c.send([("rcpt", addr), ("orcpt", orcpt),
                        ("notify", notify)])
            if isinstance(content, str):
                content = content.encode()
            for i in range(0, len(content), 65536):
                c.send([("chunk", content[i:i + 65536])])
            c.send([("request", "end")])
            r = c.reply()
        finally:
            c.close()
        assert r and r["status"] == "0", r
        return r["queue_id"]

    def request(self, qid, nexthop="", only=None):
        """The delivery request for queue file qid (recipients: all, or
        the indexes in only): (header pairs, recipient pair lists)."""
        path = os.path.join(self.qdir, "incoming", qid)
        head = {"sender": "", "envid": "", "ret": ""}
        rcpts = []
        for t, pos, p in read_records(path):
            if t == "S":
                head["content_size"] = int(p.split()[0])
            elif t == "T":
                sec, usec = p.decode().split(".")
                head["arrival_sec"], head["arrival_usec"] = sec, \
                    str(int(usec))
            elif t == "F":
                head["sender"] = p.decode()
            elif t == "E":
                head["envid"] = p.decode()
            elif t == "N":
                head["ret"] = p.decode()
            elif t == "R":
                addr, orcpt, notify = p.split(b"\0")
                rcpts.append([("address", addr), ("orcpt", orcpt),
                              ("notify", int(notify or b"0")),
                              ("offset", pos)])
            elif t == "M":
                head["content_offset"] = pos + 5
        if only is not None:
            rcpts = [rcpts[i] for i in only]
        pairs = [("request", "deliver"), ("queue_name", "incoming"),
                 ("queue_id", qid), ("sender", head["sender"]),
                 ("transport", "smtp"), ("nexthop", nexthop),
                 ("envid", head["envid"]), ("ret", head["ret"]),
                 ("client_address", ""),
                 ("arrival_sec", head["arrival_sec"]),
                 ("arrival_usec", head["arrival_usec"]),
                 ("content_offset", head["content_offset"]),
                 ("content_size", head["content_size"]),
                 ("rcpt_count", len(rcpts))]
        return pairs, rcpts

    def deliver(self, qid, nexthop="", only=None, timeout=60):
        """Run one delivery; returns the answers in recipient order as
        dicts (status, dsn, relay, reason)."""
        pairs, rcpts = self.request(qid, nexthop, only)
        c = Client(self.socket("smtp"), timeout=timeout)
        try:
            c.send(pairs)
            for r in rcpts:
                c.send(r)
            answers = {}
            while True:
                r = c.reply()
                self.test.assertIsNotNone(r, "agent closed the connection")
                if "done" in r:
                    break
                answers[int(r["index"])] = r
        finally:
            c.close()
        self.test.assertEqual(sorted(answers), list(range(len(rcpts))))
        return [answers[i] for i in range(len(rcpts))]

    def log_lines(self, pattern):
        return [l for l in self.inst.log().splitlines()
                if "/smtp[" in l and re.search(pattern, l)]


def text_message(body="Hello.\n", subject="test", extra=""):
    return ("From: a@example.test\nTo: b@a.test\nSubject: %s\n%s\n%s"
            % (subject, extra, body))


class TestRouting(PosthornTestCase):
    """MX order, null MX, NXDOMAIN, DNS failures, loops, nexthops."""

    def test_second_mx_when_first_is_dead(self):
        w = World(self, mx=[("a.test", "mx1.a.test", 10),
                            ("a.test", "mx2.a.test", 20)],
                  hosts=[("mx1.a.test", ["127.0.0.2"]),
                         ("mx2.a.test", ["127.0.0.3"])])
        peer = w.peer(3)
        qid = w.submit("a@example.test", ["user@a.test"], text_message())
        (r,) = w.deliver(qid)
        self.assertEqual(r["status"], "2", r)
        self.assertEqual(r["dsn"], "2.0.0")
        self.assertEqual(r["relay"], "mx2.a.test[127.0.0.3]:%d" % w.port)
        self.assertIn("250 2.0.0 Ok: queued as PEER1", r["reason"])
        self.assertEqual(len(peer.messages), 1)
        self.assertEqual(peer.messages[0].rcpts[0][0], "user@a.test")
        # The first MX was tried (and logged), then the second.
        self.assertTrue(w.log_lines(
            r"connect to mx1\.a\.test\[127\.0\.0\.2\]:%d: Connection "
            r"refused" % w.port))
        sent = w.log_lines(r"%s: to=<user@a\.test>, relay=mx2\.a\.test"
                           r"\[127\.0\.0\.3\]:%d, delay=[\d.]+, "
                           r"delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, "
                           r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok"
                           % (qid, w.port))
        self.assertEqual(len(sent), 1, w.inst.log())

    def test_null_mx_bounces(self):
        w = World(self, mx=[("nullmx.test", ".", 0)])
        qid = w.submit("a@example.test", ["x@nullmx.test"], text_message())
        (r,) = w.deliver(qid)
        self.assertEqual((r["status"], r["dsn"]), ("5", "5.1.10"), r)
        self.assertIn("nullMX", r["reason"])
        self.assertTrue(w.log_lines(r"to=<x@nullmx\.test>, relay=none, .*"
                                    r"dsn=5\.1\.10, status=bounced"))

    def test_nxdomain_bounces(self):
        w = World(self)
        qid = w.submit("a@example.test", ["x@nosuch.test"], text_message())
        (r,) = w.deliver(qid)
        self.assertEqual((r["status"], r["dsn"]), ("5", "5.1.2"), r)
        self.assertIn("Host or domain name not found. Name service error "
                      "for name=nosuch.test type=MX: Host not found",
                      r["reason"])

    def test_dns_down_defers_then_delivers(self):
        w = World(self, mx=[("a.test", "mx.a.test", 10)],
                  hosts=[("mx.a.test", ["127.0.0.2"])])
        peer = w.peer(2)
        qid = w.submit("a@example.test", ["u@a.test"], text_message())
        w.dns.stop()
        (r,) = w.deliver(qid)
        self.assertEqual((r["status"], r["dsn"]), ("4", "4.4.3"), r)
        self.assertIn("try again", r["reason"])
        self.assertEqual(peer.messages, [])
        w.dns.start()
        (r,) = w.deliver(qid)
        self.assertEqual(r["status"], "2", r)
        self.assertEqual(len(peer.messages), 1)

    def test_mx_loop_back_to_myself(self):
        w = World(self, mx=[("loop.test", HOST, 10),
                            ("loop2.test", "self.loop2.test", 10),
                            ("backup.test", "primary.backup.test", 10),
                            ("backup.test", HOST, 20)],
                  hosts=[(HOST, ["127.0.0.1"]),
                         ("self.loop2.test", ["127.0.0.1"]),
                         ("primary.backup.test", ["127.0.0.2"])])
        peer = w.peer(2)
        qid = w.submit("a@example.test",
                       ["x@loop.test", "y@loop2.test", "z@backup.test"],
                       text_message())
        r1, = w.deliver(qid, only=[0])
        self.assertEqual((r1["status"], r1["dsn"]), ("5", "5.4.6"), r1)
        self.assertEqual(r1["reason"],
                         "mail for loop.test loops back to myself")
        # An MX whose address is one this host listens on.
        r2, = w.deliver(qid, only=[1])
        self.assertEqual((r2["status"], r2["dsn"]), ("5", "5.4.6"), r2)
        # This host as a backup MX: only the primary is tried.
        r3, = w.deliver(qid, only=[2])
        self.assertEqual(r3["status"], "2", r3)
        self.assertEqual(len(peer.messages), 1)

    def test_implicit_mx_and_bracketed_nexthops(self):
        w = World(self, hosts=[("plain.test", ["127.0.0.4"]),
                               ("relay.test", ["127.0.0.4"])])
        peer = w.peer(4)
        qid = w.submit("a@example.test", ["u@plain.test"], text_message())
        # RFC 5321 5.1: no MX record: the domain's own address.
        (r,) = w.deliver(qid)
        self.assertEqual(r["status"], "2", r)
        # relayhost/transport style: [host]:port skips the MX lookup.
        (r,) = w.deliver(qid, nexthop="[relay.test]:%d" % w.port)
        self.assertEqual(r["status"], "2", r)
        self.assertEqual(r["relay"], "relay.test[127.0.0.4]:%d" % w.port)
        (r,) = w.deliver(qid, nexthop="[127.0.0.4]")
        self.assertEqual(r["status"], "2", r)
        self.assertEqual(len(peer.messages), 3)
        with open(w.dns.log) as f:
            log = f.read()
        self.assertIn("query[MX] plain.test", log)
        self.assertNotIn("query[MX] relay.test", log)
        # A nexthop on another port than smtp_tcp_port, in brackets.
        other = ScriptedPeer("127.0.0.5", free_port_on(["127.0.0.5"]))
        self.addCleanup(other.stop)
        (r,) = w.deliver(qid, nexthop="[127.0.0.5]:%d" % other.port)
        self.assertEqual(r["status"], "2", r)
        self.assertEqual(len(other.messages), 1)

    def test_421_greeting_and_stall_try_next_mx(self):
        w = World(self, mx=[("a.test", "mx1.a.test", 10),
                            ("a.test", "mx2.a.test", 20),
                            ("b.test", "mx1.b.test", 10),
                            ("b.test", "mx2.b.test", 20)],
                  hosts=[("mx1.a.test", ["127.0.0.5"]),
                         ("mx2.a.test", ["127.0.0.6"]),
                         ("mx1.b.test", ["127.0.0.7"]),
                         ("mx2.b.test", ["127.0.0.6"])],
                  conf={"smtp_helo_timeout": "2s"})
        w.peer(5, greeting="421 4.3.2 mx1 busy, try later")
        good = w.peer(6)
        staller = w.peer(7)
        staller.stall = "greeting"
        qid = w.submit("a@example.test", ["u@a.test", "v@b.test"],
                       text_message())
        (r,) = w.deliver(qid, only=[0])
        self.assertEqual(r["status"], "2", r)
        self.assertTrue(w.log_lines(r"host mx1\.a\.test\[127\.0\.0\.5\] "
                                    r"refused to talk to me: 421 4\.3\.2"))
        t0 = time.monotonic()
        (r,) = w.deliver(qid, only=[1])
        self.assertEqual(r["status"], "2", r)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertTrue(w.log_lines(r"conversation with mx1\.b\.test"
                                    r"\[127\.0\.0\.7\] timed out while "
                                    r"receiving the initial server "
                                    r"greeting"))
        self.assertEqual(len(good.messages), 2)

    def test_inet_protocols_and_bind_address(self):
        w = World(self, mx=[("a.test", "mx.a.test", 10),
                            ("six.test", "mx.six.test", 10)],
                  hosts=[("mx.a.test", ["127.0.0.2"]),
                         ("mx.six.test", ["127.0.0.2"])],
                  conf={"smtp_bind_address": "127.0.0.9"})
        peer = w.peer(2)
        qid = w.submit("a@example.test", ["u@a.test"], text_message())
        (r,) = w.deliver(qid)
        self.assertEqual(r["status"], "2", r)
        self.assertEqual(peer.clients, ["127.0.0.9"])
        with open(w.dns.log) as f:
            log = f.read()
        self.assertIn("query[A] mx.a.test", log)
        self.assertNotIn("query[AAAA]", log)
        # IPv6 only: an MX host with just an A record is no use.
        w.inst.conf(inet_protocols="ipv6")
        w.inst.posthorn("reload")
        time.sleep(0.5)
        qid = w.submit("a@example.test", ["u@six.test"], text_message())
        (r,) = w.deliver(qid)
        self.assertEqual((r["status"], r["dsn"]), ("5", "5.4.4"), r)
        self.assertIn("no MX host for six.test has a valid address record",
                      r["reason"])

    def test_all_mx_down_defers(self):
        w = World(self, mx=[("a.test", "mx1.a.test", 10)],
                  hosts=[("mx1.a.test", ["127.0.0.2"])])
        qid = w.submit("a@example.test", ["u@a.test"], text_message())
        (r,) = w.deliver(qid)
        self.assertEqual((r["status"], r["dsn"]), ("4", "4.4.1"), r)
        self.assertIn("connect to mx1.a.test[127.0.0.2]:%d: Connection "
                      "refused" % w.port, r["reason"])


class TestTransaction(PosthornTestCase):
    """Per-recipient results, extensions, content."""

    def world(self, **kw):
        return World(self, mx=[("a.test", "mx.a.test", 10)],
                     hosts=[("mx.a.test", ["127.0.0.2"])], **kw)

    def test_452_on_one_of_three_recipients(self):
        w = self.world()
        peer = w.peer(2)
        first = [True]

        def rcpt(addr, index, msg):
            if index == 1 and first[0]:
                first[0] = False
                return "452 4.5.3 Too many recipients for now"
            return None
        peer.rcpt_reply = rcpt
        qid = w.submit("a@example.test",
                       ["r1@a.test", "r2@a.test", "r3@a.test"],
                       text_message())
        res = w.deliver(qid)
        self.assertEqual([r["status"] for r in res], ["2", "4", "2"], res)
        self.assertEqual(res[1]["dsn"], "4.5.3")
        self.assertEqual(res[1]["reason"],
                         "host mx.a.test[127.0.0.2] said: 452 4.5.3 Too "
                         "many recipients for now (in reply to RCPT TO "
                         "command)")
        self.assertEqual([a for a, _ in peer.messages[0].rcpts],
                         ["r1@a.test", "r3@a.test"])
        # The retry (qmgr would send just the deferred one).
        (r,) = w.deliver(qid, only=[1])
        self.assertEqual(r["status"], "2", r)
        self.assertEqual([a for a, _ in peer.messages[1].rcpts],
                         ["r2@a.test"])
        self.assertTrue(w.log_lines(r"to=<r2@a\.test>, .*dsn=4\.5\.3, "
                                    r"status=deferred \(host mx\.a\.test"))

    def test_5xx_recipient_bounces_with_remote_reply(self):
        w = self.world()
        peer = w.peer(2)
        peer.rcpt_reply = lambda a, i, m: (
            "550 5.1.1 <%s>: Recipient address rejected" % a
            if a.startswith("bad") else None)
        qid = w.submit("a@example.test", ["bad@a.test", "good@a.test"],
                       text_message())
        bad, good = w.deliver(qid)
        self.assertEqual((bad["status"], bad["dsn"]), ("5", "5.1.1"))
        self.assertEqual(bad["reason"],
                         "host mx.a.test[127.0.0.2] said: 550 5.1.1 "
                         "<bad@a.test>: Recipient address rejected (in "
                         "reply to RCPT TO command)")
        self.assertEqual(good["status"], "2")

    def test_4xx_to_mail_and_data_defer_everything(self):
        w = self.world()
        peer = w.peer(2)
        peer.data_reply = "451 4.3.0 Temporary trouble"
        qid = w.submit("a@example.test", ["r1@a.test", "r2@a.test"],
                       text_message())
        res = w.deliver(qid)
        self.assertEqual([(r["status"], r["dsn"]) for r in res],
                         [("4", "4.3.0")] * 2)
        self.assertIn("(in reply to end of DATA command)", res[0]["reason"])

    def test_pipelining_and_dsn_parameters(self):
        w = self.world()
        peer = w.peer(2)
        qid = w.submit("a@example.test",
                       [("r1@a.test", "rfc822;orig+1@a.test",
                         NOTIFY_SUCCESS | NOTIFY_FAILURE),
                        ("r2@a.test", "", 0)],
                       text_message(), envid="env id=1", ret="HDRS")
        res = w.deliver(qid)
        self.assertEqual([r["status"] for r in res], ["2", "2"])
        m = peer.messages[0]
        self.assertEqual(peer.pipelined, [True])
        self.assertIn("RET=HDRS", m.mail_args)
        self.assertIn("ENVID=env+20id+3D1", m.mail_args)
        self.assertRegex(m.mail_args, r"SIZE=\d+")
        self.assertEqual(m.rcpts[0], ("r1@a.test", "NOTIFY=SUCCESS,FAILURE "
                                      "ORCPT=rfc822;orig+2B1@a.test"))
        self.assertEqual(m.rcpts[1], ("r2@a.test", ""))
        self.assertTrue(peer.helos[0].startswith("EHLO " + HOST))

    def test_no_pipelining_no_dsn_helo_fallback(self):
        w = self.world(conf={"smtp_helo_name": "out.example.test"})
        peer = w.peer(2, keywords=())
        peer.ehlo_ok = False
        qid = w.submit("a@example.test",
                       [("r1@a.test", "rfc822;r1@a.test", NOTIFY_SUCCESS)],
                       text_message(), ret="FULL")
        (r,) = w.deliver(qid)
        self.assertEqual(r["status"], "2", r)
        self.assertEqual(peer.helos, ["EHLO out.example.test",
                                      "HELO out.example.test"])
        self.assertEqual(peer.pipelined, [False])
        self.assertEqual(peer.messages[0].mail_args, "")
        self.assertEqual(peer.messages[0].rcpts[0][1], "")

    def test_size_limit_of_server(self):
        w = self.world()
        w.peer(2, keywords=("PIPELINING", "SIZE 100"))
        qid = w.submit("a@example.test", ["r@a.test"],
                       text_message(body="x" * 500 + "\n"))
        (r,) = w.deliver(qid)
        self.assertEqual((r["status"], r["dsn"]), ("5", "5.3.4"), r)
        self.assertIn("exceeds size limit 100 of server mx.a.test"
                      "[127.0.0.2]", r["reason"])

    def test_content_dot_stuffing_and_long_lines(self):
        w = self.world()
        peer = w.peer(2)
        body = ".starts with a dot\n..two dots\n.\n" + "y" * 2500 + "\nend\n"
        qid = w.submit("a@example.test", ["r@a.test"], text_message(body))
        (r,) = w.deliver(qid)
        self.assertEqual(r["status"], "2", r)
        data = peer.messages[0].data
        self.assertIn(b"\r\n..starts with a dot\r\n...two dots\r\n..\r\n",
                      data)
        self.assertNotIn(b"\n", data.replace(b"\r\n", b""))
        # Longer lines than smtp_line_length_limit (998) are broken.
        for line in data.split(b"\r\n"):
            self.assertLessEqual(len(line), 998)
        self.assertIn(b"y" * 998 + b"\r\n " + b"y" * 997 + b"\r\n "
                      + b"y" * 505 + b"\r\n", data)

    def test_8bit_to_server_without_8bitmime(self):
        w = self.world()
        peer = w.peer(2, keywords=("PIPELINING",))
        body_text = ("Gr\u00fc\u00dfe aus K\u00f6ln = sch\u00f6n  \n"
                     + "\u00e9" * 60 + "\nplain line\n")
        msg = ("From: a@example.test\nTo: r@a.test\nSubject: 8bit\n"
               "MIME-Version: 1.0\n"
               "Content-Type: text/plain; charset=utf-8\n"
               "Content-Transfer-Encoding: 8bit\n\n").encode() + \
            body_text.encode()
        qid = w.submit("a@example.test", ["r@a.test"], msg)
        (r,) = w.deliver(qid)
        self.assertEqual(r["status"], "2", r)
        m = peer.messages[0]
        self.assertNotIn("BODY=8BITMIME", m.mail_args)
        data = m.data.replace(b"\r\n", b"\n")
        self.assertTrue(all(b < 0x80 for b in data), data)
        got = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(got["Content-Transfer-Encoding"],
                         "quoted-printable")
        self.assertEqual(got.get_payload(decode=True), body_text.encode())
        for line in data.split(b"\n"):
            self.assertLessEqual(len(line), 76 if b"=" in line else 998)

    def test_8bit_multipart_downgrade(self):
        w = self.world()
        peer = w.peer(2, keywords=())
        text = "Stra\u00dfe\n".encode()
        msg = (b"From: a@example.test\nTo: r@a.test\nSubject: mp\n"
               b"MIME-Version: 1.0\n"
               b"Content-Type: multipart/mixed; boundary=\"b1\"\n"
               b"Content-Transfer-Encoding: 8bit\n\npreamble\n"
               b"--b1\nContent-Type: text/plain; charset=utf-8\n\n" + text +
               b"--b1\nContent-Type: application/octet-stream\n"
               b"Content-Transfer-Encoding: base64\n\nAAEC\n--b1--\n")
        qid = w.submit("a@example.test", ["r@a.test"], msg)
        (r,) = w.deliver(qid)
        self.assertEqual(r["status"], "2", r)
        data = peer.messages[0].data.replace(b"\r\n", b"\n")
        self.assertTrue(all(b < 0x80 for b in data), data)
        got = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(got["Content-Transfer-Encoding"], "7bit")
        parts = got.get_payload()
        self.assertEqual(parts[0]["Content-Transfer-Encoding"],
                         "quoted-printable")
        # RFC 2046 5.1.1: the last line end belongs to the boundary.
        self.assertEqual(parts[0].get_payload(decode=True),
                         text.rstrip(b"\n"))
        self.assertEqual(parts[1].get_payload(decode=True), b"\x00\x01\x02")

    def test_8bit_with_8bitmime_and_bounce_when_downgrade_off(self):
        w = self.world(conf={"smtp_8bitmime_downgrade": "no",
                             "smtp_connection_cache_on_demand": "no"})
        peer = w.peer(2)
        msg = "Subject: x\n\nK\u00e4se\n".encode()
        qid = w.submit("a@example.test", ["r@a.test"], msg)
        (r,) = w.deliver(qid)
        self.assertEqual(r["status"], "2", r)
        self.assertIn("BODY=8BITMIME", peer.messages[0].mail_args)
        self.assertIn("K\u00e4se".encode(), peer.messages[0].data)
        peer.keywords = ["PIPELINING"]
        (r,) = w.deliver(qid)
        self.assertEqual((r["status"], r["dsn"]), ("5", "5.6.3"), r)

    def test_smtputf8_required_but_missing(self):
        w = self.world()
        w.peer(2)
        qid = w.submit("a@example.test", ["j\u00f6rg@a.test"],
                       text_message())
        (r,) = w.deliver(qid)
        self.assertEqual((r["status"], r["dsn"]), ("5", "5.6.7"), r)
        self.assertIn("SMTPUTF8 is required", r["reason"])
        # Received with SMTPUTF8 (smtpd's protocol UTF8SMTP) and a UTF-8
        # header: needs it too; the same header without: goes as is.
        msg = "Subject: gr\u00fc\u00dfe\n\nhi\n".encode()
        qid = w.submit("a@example.test", ["u@a.test"], msg,
                       attrs=[("protocol", "UTF8SMTP")])
        (r,) = w.deliver(qid)
        self.assertEqual((r["status"], r["dsn"]), ("5", "5.6.7"), r)
        qid = w.submit("a@example.test", ["u@a.test"], msg,
                       attrs=[("protocol", "ESMTP")])
        (r,) = w.deliver(qid)
        self.assertEqual(r["status"], "2", r)


class TestConnectionReuse(PosthornTestCase):

    def test_500_messages_few_connections(self):
        w = World(self, mx=[("sink.test", "mx.sink.test", 10)],
                  hosts=[("mx.sink.test", ["127.0.0.4"])],
                  conf={"max_use": "100"})
        sink = SmtpSink(w.tmp, "127.0.0.4", w.port)
        self.addCleanup(sink.stop)
        qids = [w.submit("a@example.test", ["u%d@sink.test" % i],
                         text_message(subject="m%d" % i)) for i in range(5)]
        results, errors = [], []

        def worker(k):
            try:
                for i in range(125):
                    (r,) = w.deliver(qids[(k + i) % len(qids)])
                    results.append(r["status"])
            except Exception as e:  # noqa: reported below
                errors.append(e)
        threads = [threading.Thread(target=worker, args=(k,))
                   for k in range(4)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 500)
        self.assertEqual(set(results), {"2"})
        elapsed = time.monotonic() - t0
        reused = len(w.log_lines(r"conn_use=\d+"))
        self.assertGreater(reused, 400)
        w.stop()   # cached sessions end with QUIT
        self.assertTrue(wait_for(lambda: sink.counters()[1] == 500,
                                 timeout=10), sink.counters())
        sessions = wait_for(lambda: sink.counters()[0] or None, timeout=5)
        # A handful: one per agent process (4 in parallel, each serving
        # max_use=100 requests), plus a few reopened on races.
        self.assertLessEqual(sessions, 24, (sessions, elapsed))

    def test_cache_time_limit_closes_idle_sessions(self):
        w = World(self, mx=[("a.test", "mx.a.test", 10)],
                  hosts=[("mx.a.test", ["127.0.0.2"])],
                  conf={"smtp_connection_cache_time_limit": "1s"})
        peer = w.peer(2)
        qid = w.submit("a@example.test", ["u@a.test"], text_message())
        w.deliver(qid)
        w.deliver(qid)
        self.assertEqual(peer.connections, 1)
        # After the idle limit the agent says QUIT by itself.
        self.assertEqual(peer.quits, 0)
        self.assertTrue(wait_for(lambda: peer.quits == 1, timeout=4))
        w.deliver(qid)
        self.assertEqual(peer.connections, 2)
        self.assertTrue(w.log_lines(r"conn_use=2"))


@unittest.skipUnless(have("smtpd", "qmgr", "local", "bounce"),
                     "needs smtpd, qmgr, local and bounce")
class TestEndToEnd(PosthornTestCase):
    """sendmail -> qmgr -> smtp -> a second posthorn instance; bounces
    into the sender's mailbox; retry after a flush."""

    def test_relay_to_second_instance_via_second_mx(self):
        import harness
        port = free_port_on(["127.0.0.1"] + PEER_ADDRS)
        while not harness.port_is_free(port - 25 + 587):
            port = free_port_on(["127.0.0.1"] + PEER_ADDRS)
        rx = self.make_instance(port_base=port - 25, hostname="mx2.a.test",
                                domain="a.test")
        rx.conf(inet_interfaces="127.0.0.3")
        rx.posthorn("user", "add", "user@a.test", "--password-stdin",
                    input="secret\n")
        rx.start()
        tmp = tempfile.mkdtemp(prefix="posthorn-smtp-")
        dns = DnsServer(os.path.join(tmp, "dns"),
                        mx=[("a.test", "mx1.a.test", 10),
                            ("a.test", "mx2.a.test", 20)],
                        hosts=[("mx1.a.test", ["127.0.0.2"]),
                               ("mx2.a.test", ["127.0.0.3"])])
        dns.start()
        self.addCleanup(dns.stop)
        tx = self.make_instance(hostname=HOST, domain="example.test")
        tx.conf(dns_resolver_address=dns.address, smtp_tcp_port=str(port),
                inet_protocols="ipv4")
        tx.start()
        from harness import run, BIN
        run([os.path.join(BIN, "sendmail"), "-C", tx.dir, "-f",
             "a@example.test", "user@a.test"],
            input="Subject: over the wire\n\nhello\n")
        maildir = os.path.join(rx.dir, "mail", "a.test", "user", "new")
        self.assertTrue(wait_for(lambda: os.path.isdir(maildir) and
                                 os.listdir(maildir), timeout=30),
                        tx.log() + rx.log())
        self.assertRegex(tx.log(), r"connect to mx1\.a\.test\[127\.0\.0\.2\]")
        self.assertRegex(tx.log(), r"to=<user@a\.test>, relay=mx2\.a\.test"
                         r"\[127\.0\.0\.3\]:%d, .*status=sent" % port)


@unittest.skipUnless(have("qmgr", "local", "bounce"),
                     "needs qmgr, local and bounce")
class TestWithQmgr(PosthornTestCase):
    """sendmail -> qmgr -> smtp, bounces in the sender's mailbox, retries
    after `posthorn queue flush`."""

    def world(self, **kw):
        w = World(self, keep_qmgr=True, **kw)
        w.inst.posthorn("user", "add", "sender@example.test",
                        "--password-stdin", input="secret\n")
        return w

    def send(self, w, rcpts, text="Subject: t\n\nhello\n"):
        from harness import run, BIN
        run([os.path.join(BIN, "sendmail"), "-C", w.inst.dir, "-f",
             "sender@example.test"] + rcpts, input=text)

    def mailbox(self, w):
        d = os.path.join(w.inst.dir, "mail", "example.test", "sender",
                         "new")
        out = []
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                out.append(f.read().decode(errors="replace"))
        return out

    def test_bounces_reach_the_sender(self):
        w = self.world(mx=[("nullmx.test", ".", 0),
                           ("a.test", "mx.a.test", 10)],
                       hosts=[("mx.a.test", ["127.0.0.2"])])
        peer = w.peer(2)
        peer.rcpt_reply = lambda a, i, m: (
            "550 5.1.1 <%s>: Recipient address rejected: User unknown" % a
            if a.startswith("bad") else None)
        self.send(w, ["x@nullmx.test", "y@nosuch.test", "bad@a.test",
                      "good@a.test"])

        def reported():
            text = "\n".join(self.mailbox(w))
            return all(k in text for k in ("5.1.10", "5.1.2", "5.1.1"))
        self.assertTrue(wait_for(reported, timeout=30),
                        (self.mailbox(w), w.inst.log()))
        text = "\n".join(self.mailbox(w))
        self.assertIn("Diagnostic-Code: smtp; 550 5.1.1 <bad@a.test>: "
                      "Recipient address rejected", text)
        self.assertIn("Remote-MTA: dns; mx.a.test", text)
        self.assertEqual([a for m in peer.messages for a, _ in m.rcpts],
                         ["good@a.test"])

    def test_deferred_then_delivered_after_flush(self):
        w = self.world(mx=[("a.test", "mx.a.test", 10)],
                       hosts=[("mx.a.test", ["127.0.0.2"])])
        peer = w.peer(2)
        first = [True]

        def rcpt(addr, index, msg):
            if addr == "r2@a.test" and first[0]:
                first[0] = False
                return "452 4.5.3 Too many recipients for now"
            return None
        peer.rcpt_reply = rcpt
        # DNS down: the whole message waits (4.4.3).
        w.dns.stop()
        self.send(w, ["r1@a.test", "r2@a.test", "r3@a.test"])
        self.assertTrue(wait_for(lambda: len(w.log_lines(
            r"dsn=4\.4\.3, status=deferred")) >= 3, timeout=30),
            w.inst.log())
        self.assertEqual(peer.messages, [])
        w.dns.start()
        w.inst.posthorn("queue", "flush")
        # Two recipients go through; the 452 one is deferred...
        self.assertTrue(wait_for(lambda: len(peer.messages) >= 1,
                                 timeout=30), w.inst.log())
        self.assertEqual(sorted(a for a, _ in peer.messages[0].rcpts),
                         ["r1@a.test", "r3@a.test"])
        self.assertTrue(wait_for(lambda: w.log_lines(
            r"to=<r2@a\.test>.*dsn=4\.5\.3, status=deferred"),
            timeout=10))
        # ... and delivered on the retry.
        w.inst.posthorn("queue", "flush")
        self.assertTrue(wait_for(lambda: len(peer.messages) >= 2,
                                 timeout=30), w.inst.log())
        self.assertEqual([a for a, _ in peer.messages[1].rcpts],
                         ["r2@a.test"])


if __name__ == "__main__":
    unittest.main()
