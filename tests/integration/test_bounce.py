"""test_bounce.py: issue 6 acceptance for the bounce service (DSNs).

The bounce service is driven directly with a client of the attribute
protocol written from docs/ipc.md ("bounce"; tests/integration/
attrproto.py), against real queue files: the originals are handed to
the real cleanup service (so qmgr, smtp and local are taken out of
master.cf: nothing moves or delivers them), the bounce and defer logs
are written in the documented format (docs/queue-admin.md, bounce log
reason "D.S.N text"). The notice cleanup queues from the bounce service
is read back from incoming/ with a record parser written here from
docs/queue-format.md, and its content is taken apart with python's email
package.

Covers: a non-delivery report (multipart/report, message/delivery-status
with Reporting-MTA, Original-Envelope-Id, Arrival-Date, per recipient
Final-Recipient/Original-Recipient/Action/Status 5.1.1/Remote-MTA/
Diagnostic-Code, the whole original attached, RFC 3834 Auto-Submitted,
null envelope sender, NOTIFY=NEVER and SUCCESS-only recipients left
out); RET=HDRS and a message over bounce_size_limit (headers only); a
null-sender original (nothing sent, or the postmaster's copy with
notify_classes=2bounce) and notify_classes=bounce; delay warnings
(Will-Retry-Until, delivered recipients left out); success notices;
an empty or missing log; a missing queue file (status 4); malformed
requests dropped without an answer and the service still working.

When qmgr and local exist, end to end: mail to an alias whose expansion
holds an unknown user comes back to the sender's mailbox as a DSN with
Status 5.1.1 (the other alias target still gets the message), and a
NOTIFY=SUCCESS message brings a success notice to the sender's mailbox.
"""
import email
import email.policy
import email.utils
import glob
import os
import re
import struct
import time
import unittest

from attrproto import Client
from harness import BIN, BUILD, PosthornTestCase, run, wait_for

NOTIFY_NEVER, NOTIFY_SUCCESS, NOTIFY_FAILURE, NOTIFY_DELAY = 1, 2, 4, 8
HOST = "mail.example.test"


def log_escape(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\r", "\\r").replace("\n", "\\n"))


def log_line(rcpt, reason):
    return "%s\t%s\n" % (log_escape(rcpt), log_escape(reason))


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    pos, recs = 0, []
    while pos < len(data):
        t = chr(data[pos])
        (n,) = struct.unpack(">I", data[pos + 1:pos + 5])
        recs.append((t, data[pos + 5:pos + 5 + n]))
        pos += 5 + n
    return recs


def parse_queue_file(path):
    q = {"rcpts": [], "content": b""}
    for t, p in read_records(path):
        if t == "F":
            q["sender"] = p.decode()
        elif t in "RD":
            addr, orcpt, notify = p.split(b"\0")
            q["rcpts"].append(addr.decode())
        elif t == "B":
            q["content"] += p
        elif t == "T":
            q["time"] = float(p.decode())
    return q


class Bounce:
    """An instance without qmgr and delivery agents, and helpers to make
    originals, logs and requests."""

    def __init__(self, test, **conf):
        self.inst = inst = test.make_instance(hostname=HOST)
        path = os.path.join(inst.dir, "master.cf")
        with open(path) as f:
            lines = f.read().splitlines()
        keep = [l for l in lines
                if not re.match(r"(qmgr|smtp|local)\s+unix\b", l)]
        with open(path, "w") as f:
            f.write("\n".join(keep) + "\n")
        # One client per process: each bounce process exits (and is
        # reaped and checked by master) right after its request.
        conf.setdefault("max_use", "1")
        inst.conf(**conf)
        inst.start()
        self.qdir = os.path.join(inst.dir, "queue")
        self.seen = set(self.incoming())

    def finish(self, test):
        """Stop the instance; no bounce or cleanup process may have died
        abnormally (with SANITIZE=1 a sanitizer report, leaks included,
        shows up as an exit status)."""
        time.sleep(0.3)  # let master reap the last process
        self.inst.stop()
        bad = [l for l in self.inst.log().splitlines()
               if re.search(r"warning: process \S*/(bounce|cleanup) ", l)]
        test.assertEqual(bad, [])

    def incoming(self):
        return sorted(os.path.basename(p) for p in
                      glob.glob(os.path.join(self.qdir, "incoming", "*")))

    def socket(self, service):
        for d in ("private", "public"):
            p = os.path.join(self.qdir, d, service)
            if os.path.exists(p):
                return p
        raise AssertionError("no %s socket" % service)

    def submit(self, sender, rcpts, content, envid=None, ret=None):
        """Queue an original through cleanup; returns its queue ID.
        rcpts: (address, orcpt, notify) tuples."""
        c = Client(self.socket("cleanup"))
        try:
            c.send([("request", "begin"), ("flags", 0)])
            c.send([("sender", sender)])
            if envid:
                c.send([("attr_name", "envid"), ("attr_value", envid)])
            if ret:
                c.send([("attr_name", "ret"), ("attr_value", ret)])
            for addr, orcpt, notify in rcpts:
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
        self.seen.add(r["queue_id"])
        return r["queue_id"]

    def write_log(self, kind, qid, lines):
        path = os.path.join(self.qdir, kind, qid[12], qid)
        with open(path, "a") as f:
            for rcpt, reason in lines:
                f.write(log_line(rcpt, reason))
        os.chmod(path, 0o644)

    def request(self, kind, qid, queue="incoming", rcpts=()):
        c = Client(self.socket("bounce"), timeout=30)
        try:
            c.send([("request", kind), ("queue_id", qid),
                    ("queue_name", queue), ("nrcpt", len(rcpts))])
            for r in rcpts:
                c.send(r)
            return c.reply()
        finally:
            c.close()

    def new_files(self):
        """Queue files that appeared since the last call."""
        now = [i for i in self.incoming() if i not in self.seen]
        self.seen.update(now)
        return now

    def notice(self, qid):
        """(envelope dict, parsed email) of a queued notice."""
        q = parse_queue_file(os.path.join(self.qdir, "incoming", qid))
        msg = email.message_from_bytes(q["content"],
                                       policy=email.policy.default)
        return q, msg


def report_parts(test, msg):
    """Check the multipart/report frame; returns (text, status blocks,
    third part or None)."""
    for part in msg.walk():
        test.assertEqual(part.defects, [], part.get_content_type())
    test.assertEqual(msg.get_content_type(), "multipart/report")
    test.assertEqual(msg.get_param("report-type"), "delivery-status")
    test.assertEqual(msg["MIME-Version"], "1.0")
    test.assertEqual(msg["Auto-Submitted"], "auto-replied")
    test.assertEqual(msg["From"].addresses[0].addr_spec,
                     "MAILER-DAEMON@" + HOST)
    test.assertEqual(msg["From"].addresses[0].display_name,
                     "Mail Delivery System")
    test.assertIsNotNone(msg["Date"])
    test.assertIsNotNone(msg["Message-ID"])
    parts = msg.get_payload()
    test.assertIn(len(parts), (2, 3))
    test.assertEqual(parts[0].get_content_type(), "text/plain")
    test.assertEqual(parts[1].get_content_type(), "message/delivery-status")
    blocks = parts[1].get_payload()
    return parts[0].get_content(), blocks, parts[2] if len(parts) > 2 \
        else None


def by_rcpt(blocks):
    return {b["Final-Recipient"].split(";", 1)[1].strip(): b
            for b in blocks[1:]}


ORIGINAL = ("From: Alice <alice@example.com>\n"
            "To: bob@example.org\n"
            "Subject: the original\n"
            "Message-ID: <orig-1@example.com>\n"
            "\n"
            "Hello Bob,\n"
            "this is the body.\n")


class TestBounce(PosthornTestCase):
    def test_failure_full(self):
        b = Bounce(self)
        qid = b.submit("alice@example.com", [
            ("bob@example.org", "rfc822;bob@example.org", NOTIFY_FAILURE),
            ("carol@example.net", "rfc822;list@example.org", 0),
            ("dave@example.org", "", NOTIFY_NEVER),
            ("erin@example.org", "", NOTIFY_SUCCESS),
        ], ORIGINAL, envid="ENV-4711")
        b.new_files()
        b.write_log("bounce", qid, [
            ("bob@example.org", "5.1.1 unknown user: \"bob\""),
            ("carol@example.net", "5.1.1 host mx.example.net[192.0.2.7] "
             "said: 550 5.1.1 <carol@example.net>: Recipient address "
             "rejected (in reply to RCPT TO command)"),
            ("dave@example.org", "5.1.1 unknown user: \"dave\""),
            ("erin@example.org", "5.1.1 unknown user: \"erin\""),
        ])
        r = b.request("bounce", qid)
        self.assertEqual(r["status"], "0", r)
        new = b.new_files()
        self.assertEqual(new, [r["queue_id"]])
        q, msg = b.notice(new[0])
        self.assertEqual(q["sender"], "")
        self.assertEqual(q["rcpts"], ["alice@example.com"])
        self.assertEqual(msg["Subject"],
                         "Undelivered Mail Returned to Sender")
        self.assertEqual(msg["To"].addresses[0].addr_spec,
                         "alice@example.com")
        text, blocks, orig = report_parts(self, msg)
        self.assertIn("<bob@example.org>: unknown user", text)
        self.assertIn(HOST, text)
        self.assertEqual(blocks[0]["Reporting-MTA"], "dns; " + HOST)
        self.assertEqual(blocks[0]["Original-Envelope-Id"], "ENV-4711")
        self.assertEqual(blocks[0]["X-Posthorn-Queue-ID"], qid)
        self.assertIsNotNone(blocks[0]["Arrival-Date"])
        rc = by_rcpt(blocks)
        # NOTIFY=NEVER and NOTIFY=SUCCESS recipients get no report.
        self.assertEqual(sorted(rc), ["bob@example.org",
                                      "carol@example.net"])
        bob = rc["bob@example.org"]
        self.assertEqual(bob["Action"], "failed")
        self.assertEqual(bob["Status"], "5.1.1")
        self.assertEqual(bob["Original-Recipient"], "rfc822;bob@example.org")
        self.assertEqual(bob["Diagnostic-Code"],
                         "x-posthorn; unknown user: \"bob\"")
        carol = rc["carol@example.net"]
        self.assertEqual(carol["Status"], "5.1.1")
        self.assertEqual(carol["Original-Recipient"],
                         "rfc822;list@example.org")
        self.assertEqual(carol["Remote-MTA"], "dns; mx.example.net")
        self.assertTrue(carol["Diagnostic-Code"].startswith(
            "smtp; 550 5.1.1 <carol@example.net>"))
        # RET not given: the whole message comes back.
        self.assertEqual(orig.get_content_type(), "message/rfc822")
        inner = orig.get_payload()[0]
        self.assertEqual(inner["Subject"], "the original")
        self.assertIn("this is the body.", inner.get_content())
        self.assertTrue(wait_for(lambda: re.search(
            r"bounce\[\d+\]: %s: sender non-delivery notification: %s"
            % (qid, new[0]), b.inst.log())))
        # The bounce service never changes the logs or the original.
        self.assertTrue(os.path.exists(os.path.join(
            b.qdir, "bounce", qid[12], qid)))
        self.assertTrue(os.path.exists(os.path.join(
            b.qdir, "incoming", qid)))
        b.finish(self)

    def test_headers_only(self):
        b = Bounce(self)
        # RET=HDRS.
        qid = b.submit("alice@example.com",
                       [("bob@example.org", "", 0)], ORIGINAL, ret="HDRS")
        b.write_log("bounce", qid, [("bob@example.org", "5.1.1 no")])
        b.new_files()
        r = b.request("bounce", qid)
        self.assertEqual(r["status"], "0", r)
        _, msg = b.notice(b.new_files()[0])
        text, blocks, third = report_parts(self, msg)
        self.assertEqual(third.get_content_type(), "text/rfc822-headers")
        self.assertIn("Subject: the original", third.get_content())
        self.assertNotIn("this is the body", third.get_content())
        # Bigger than bounce_size_limit (50000 by default).
        big = ORIGINAL + ("x" * 70 + "\n") * 1000
        qid = b.submit("alice@example.com",
                       [("bob@example.org", "", 0)], big)
        b.write_log("bounce", qid, [("bob@example.org", "5.2.3 too big")])
        b.new_files()
        r = b.request("bounce", qid)
        self.assertEqual(r["status"], "0", r)
        _, msg = b.notice(b.new_files()[0])
        text, blocks, third = report_parts(self, msg)
        self.assertEqual(third.get_content_type(), "text/rfc822-headers")
        self.assertNotIn("xxxx", third.get_content())
        self.assertEqual(by_rcpt(blocks)["bob@example.org"]["Status"],
                         "5.2.3")
        b.finish(self)

    def test_null_sender(self):
        b = Bounce(self)
        qid = b.submit("", [("bob@example.org", "", 0)], ORIGINAL)
        b.write_log("bounce", qid, [("bob@example.org", "5.1.1 unknown")])
        b.new_files()
        r = b.request("bounce", qid)
        self.assertEqual(r["status"], "0", r)
        self.assertNotIn("queue_id", r)
        self.assertEqual(b.new_files(), [])
        self.assertTrue(wait_for(lambda: "%s: undeliverable bounce "
                                 "discarded" % qid in b.inst.log()))
        # Delay and success notices never go to <> either.
        b.write_log("defer", qid, [("bob@example.org", "4.4.1 later")])
        self.assertEqual(b.request("delay", qid)["status"], "0")
        self.assertEqual(b.request("success", qid, rcpts=[[
            ("rcpt", "bob@example.org"), ("dsn", "2.0.0"),
            ("relay", "local"), ("reason", "delivered"),
            ("action", "delivered")]])["status"], "0")
        self.assertEqual(b.new_files(), [])
        b.finish(self)

    def test_postmaster_copies(self):
        b = Bounce(self, notify_classes="2bounce, bounce")
        # A failed bounce goes to 2bounce_notice_recipient.
        qid = b.submit("", [("bob@example.org", "", 0)], ORIGINAL)
        b.write_log("bounce", qid, [("bob@example.org", "5.1.1 unknown")])
        b.new_files()
        r = b.request("bounce", qid)
        self.assertEqual(r["status"], "0", r)
        new = b.new_files()
        self.assertEqual(len(new), 1)
        q, msg = b.notice(new[0])
        self.assertEqual(q["sender"], "")
        self.assertTrue(q["rcpts"][0].startswith("postmaster@"), q)
        self.assertEqual(msg["Subject"], "Postmaster Copy: Undelivered Mail")
        _, _, third = report_parts(self, msg)
        self.assertEqual(third.get_content_type(), "text/rfc822-headers")
        # An ordinary bounce: the sender's report and a postmaster copy.
        qid = b.submit("alice@example.com", [("bob@example.org", "", 0)],
                       ORIGINAL)
        b.write_log("bounce", qid, [("bob@example.org", "5.1.1 unknown")])
        b.new_files()
        self.assertEqual(b.request("bounce", qid)["status"], "0")
        got = sorted(b.notice(i)[0]["rcpts"][0] for i in b.new_files())
        self.assertEqual(len(got), 2)
        self.assertEqual(got[0], "alice@example.com")
        self.assertTrue(got[1].startswith("postmaster@"))
        b.finish(self)

    def test_delay(self):
        b = Bounce(self, maximal_queue_lifetime="2d")
        qid = b.submit("alice@example.com", [
            ("bob@example.org", "", 0),
            ("carol@example.net", "", NOTIFY_FAILURE),
            ("dave@example.org", "", NOTIFY_DELAY | NOTIFY_FAILURE),
        ], ORIGINAL)
        b.write_log("defer", qid, [
            ("bob@example.org", "4.4.1 connect to mx.example.org"
             "[192.0.2.1]:25: Connection refused"),
            ("carol@example.net", "4.4.1 connect to x: refused"),
            ("dave@example.org", "host mx.example.org[192.0.2.1] said: "
             "450 4.2.0 mailbox busy (in reply to RCPT TO command)"),
        ])
        b.new_files()
        r = b.request("delay", qid)
        self.assertEqual(r["status"], "0", r)
        q, msg = b.notice(b.new_files()[0])
        self.assertEqual(q["sender"], "")
        self.assertEqual(msg["Subject"], "Delayed Mail (still being retried)")
        text, blocks, third = report_parts(self, msg)
        self.assertIn("warning", text.lower())
        rc = by_rcpt(blocks)
        # carol asked for failures only.
        self.assertEqual(sorted(rc), ["bob@example.org", "dave@example.org"])
        self.assertEqual(rc["bob@example.org"]["Action"], "delayed")
        self.assertEqual(rc["bob@example.org"]["Status"], "4.4.1")
        self.assertEqual(rc["dave@example.org"]["Status"], "4.2.0")
        self.assertEqual(rc["dave@example.org"]["Remote-MTA"],
                         "dns; mx.example.org")
        until = email.utils.parsedate_to_datetime(
            rc["bob@example.org"]["Will-Retry-Until"]).timestamp()
        arrival = email.utils.parsedate_to_datetime(
            blocks[0]["Arrival-Date"]).timestamp()
        self.assertAlmostEqual(until - arrival, 2 * 86400, delta=2)
        self.assertEqual(third.get_content_type(), "text/rfc822-headers")
        self.assertTrue(wait_for(lambda: "%s: sender delay notification: "
                                 "%s" % (qid, r["queue_id"])
                                 in b.inst.log()))
        b.finish(self)

    def test_success(self):
        b = Bounce(self)
        qid = b.submit("alice@example.com", [
            ("bob@example.org", "rfc822;bob@example.org", NOTIFY_SUCCESS),
            ("dave@example.net", "", NOTIFY_SUCCESS | NOTIFY_FAILURE),
        ], ORIGINAL)
        b.new_files()
        r = b.request("success", qid, rcpts=[
            [("rcpt", "bob@example.org"), ("dsn", "2.0.0"),
             ("relay", "local"), ("reason", "delivered to maildir"),
             ("action", "delivered")],
            [("rcpt", "dave@example.net"), ("dsn", "2.0.0"),
             ("relay", "mx.example.net[192.0.2.8]:25"),
             ("reason", "250 2.0.0 Ok: queued as 4711"),
             ("action", "relayed")],
        ])
        self.assertEqual(r["status"], "0", r)
        q, msg = b.notice(b.new_files()[0])
        self.assertEqual(msg["Subject"], "Successful Mail Delivery Report")
        self.assertEqual(q["rcpts"], ["alice@example.com"])
        text, blocks, third = report_parts(self, msg)
        rc = by_rcpt(blocks)
        self.assertEqual(rc["bob@example.org"]["Action"], "delivered")
        self.assertEqual(rc["bob@example.org"]["Status"], "2.0.0")
        # ORCPT from the queue file.
        self.assertEqual(rc["bob@example.org"]["Original-Recipient"],
                         "rfc822;bob@example.org")
        self.assertEqual(rc["dave@example.net"]["Action"], "relayed")
        self.assertEqual(rc["dave@example.net"]["Remote-MTA"],
                         "dns; mx.example.net")
        self.assertEqual(third.get_content_type(), "text/rfc822-headers")
        self.assertTrue(wait_for(lambda: "%s: sender delivery status "
                                 "notification: %s" % (qid, r["queue_id"])
                                 in b.inst.log()))
        b.finish(self)

    def test_nothing_to_send_and_errors(self):
        b = Bounce(self)
        qid = b.submit("alice@example.com", [("bob@example.org", "", 0)],
                       ORIGINAL)
        b.new_files()
        # No log at all, and a log with only malformed lines.
        r = b.request("bounce", qid)
        self.assertEqual(r, {"status": "0"})
        path = os.path.join(b.qdir, "bounce", qid[12], qid)
        with open(path, "w") as f:
            f.write("no tab here\nbad\\qescape\tx\n\tempty rcpt\n"
                    "partial\tline without LF")
        self.assertEqual(b.request("bounce", qid), {"status": "0"})
        self.assertEqual(b.new_files(), [])
        # A missing queue file: try again later.
        r = b.request("bounce", qid[:-1] + ("0" if qid[-1] != "0" else
                                              "1"))
        self.assertEqual(r["status"], "4", r)
        self.assertTrue(r["reason"].startswith("4.3.0 "), r)
        # Malformed requests: dropped without an answer.
        bad = [
            [("request", "bounce"), ("queue_id", "../../etc/passwd"),
             ("queue_name", "incoming"), ("nrcpt", 0)],
            [("request", "explode"), ("queue_id", qid),
             ("queue_name", "incoming"), ("nrcpt", 0)],
            [("request", "bounce"), ("queue_id", qid),
             ("queue_name", "corrupt"), ("nrcpt", 0)],
            [("request", "bounce"), ("queue_id", qid),
             ("queue_name", "incoming"), ("nrcpt", 3)],
            [("request", "success"), ("queue_id", qid),
             ("queue_name", "incoming"), ("nrcpt", 99999999)],
            [("request", "bounce"), ("queue_id", qid)],
        ]
        for req in bad:
            c = Client(b.socket("bounce"), timeout=30)
            try:
                c.send(req)
                self.assertIsNone(c.reply(), req)
            finally:
                c.close()
        # A success request cut short, and garbage.
        c = Client(b.socket("bounce"), timeout=30)
        c.send([("request", "success"), ("queue_id", qid),
                ("queue_name", "incoming"), ("nrcpt", 2)])
        c.send([("rcpt", "bob@example.org"), ("dsn", "2.0.0"),
                ("relay", ""), ("reason", ""), ("action", "exploded")])
        self.assertIsNone(c.reply())
        c.close()
        c = Client(b.socket("bounce"), timeout=30)
        c.send_raw(b"GET / HTTP/1.0\r\n\r\n")
        self.assertIsNone(c.reply())
        c.close()
        # Still serving (a fresh log: the partial line above would
        # swallow the next one).
        os.unlink(path)
        b.write_log("bounce", qid, [("bob@example.org", "5.1.1 x")])
        r = b.request("bounce", qid)
        self.assertEqual(r["status"], "0", r)
        self.assertEqual(len(b.new_files()), 1)
        self.assertIn("bounce protocol error", b.inst.log())
        b.finish(self)


def have(*names):
    return all(os.path.exists(os.path.join(BUILD, "libexec", n))
               for n in names)


def mailbox_reports(inst, user, domain="localhost"):
    """The multipart/report messages in a user's Maildir new/."""
    out = []
    for p in glob.glob(os.path.join(inst.dir, "mail", domain, user, "new",
                                    "*")):
        with open(p, "rb") as f:
            m = email.message_from_bytes(f.read(),
                                         policy=email.policy.default)
        if m.get_content_type() == "multipart/report":
            out.append(m)
    return out


class TestBounceEndToEnd(PosthornTestCase):
    def instance(self):
        inst = self.make_instance(hostname=HOST)
        for user in ("alice", "bob"):
            inst.posthorn("user", "add", user + "@localhost",
                          "--password-stdin", input="secret\n")
        with open(os.path.join(inst.dir, "aliases"), "a") as f:
            f.write("team: alice@localhost, nosuchuser\n")
        inst.posthorn("aliases")
        inst.conf(minimal_backoff_time="2s", queue_run_delay="2s")
        inst.start()
        return inst

    @unittest.skipUnless(have("qmgr", "local"),
                         "needs the qmgr and local daemons")
    def test_alias_to_unknown_user(self):
        """Issue 6: mail to an unknown recipient produced by alias
        expansion comes back as a DSN in the sender's mailbox."""
        inst = self.instance()
        msg = ("From: bob@localhost\nTo: team@%s\n"
               "Subject: to the team\n\nhello team\n" % HOST)
        run([os.path.join(BIN, "sendmail"), "-C", inst.dir, "-f",
             "bob@localhost", "team@" + HOST], input=msg)
        got = wait_for(lambda: mailbox_reports(inst, "bob"), timeout=60,
                       interval=0.2)
        self.assertEqual(len(got), 1, "no DSN in bob's mailbox")
        m = got[0]
        self.assertEqual(m["Subject"], "Undelivered Mail Returned to Sender")
        text, blocks, third = report_parts(self, m)
        self.assertEqual([b["Status"] for b in blocks[1:]], ["5.1.1"])
        self.assertEqual(blocks[1]["Action"], "failed")
        self.assertIn("nosuchuser", blocks[1]["Diagnostic-Code"])
        self.assertEqual(third.get_content_type(), "message/rfc822")
        self.assertEqual(third.get_payload()[0]["Subject"], "to the team")
        # The other alias target got the message; nothing bounced to it.
        self.assertEqual(len(glob.glob(os.path.join(
            inst.dir, "mail", "localhost", "alice", "new", "*"))), 1)
        self.assertEqual(mailbox_reports(inst, "alice"), [])

    @unittest.skipUnless(have("qmgr", "local"),
                         "needs the qmgr and local daemons")
    def test_notify_success(self):
        """Issue 6: a NOTIFY=SUCCESS message produces a success DSN."""
        inst = self.instance()
        c = Client(os.path.join(inst.dir, "queue", "public", "cleanup")
                   if os.path.exists(os.path.join(inst.dir, "queue",
                                                  "public", "cleanup"))
                   else os.path.join(inst.dir, "queue", "private",
                                     "cleanup"))
        try:
            c.send([("request", "begin"), ("flags", 0)])
            c.send([("sender", "bob@localhost")])
            c.send([("rcpt", "alice@localhost"),
                    ("orcpt", "rfc822;alice@localhost"),
                    ("notify", NOTIFY_SUCCESS | NOTIFY_FAILURE)])
            c.send([("chunk", ORIGINAL.encode())])
            c.send([("request", "end")])
            self.assertEqual(c.reply()["status"], "0")
        finally:
            c.close()
        got = wait_for(lambda: mailbox_reports(inst, "bob"), timeout=60,
                       interval=0.2)
        self.assertEqual(len(got), 1, "no success DSN in bob's mailbox")
        m = got[0]
        self.assertEqual(m["Subject"], "Successful Mail Delivery Report")
        text, blocks, third = report_parts(self, m)
        self.assertEqual(blocks[1]["Action"], "delivered")
        self.assertEqual(blocks[1]["Status"][:2], "2.")
        self.assertEqual(blocks[1]["Original-Recipient"],
                         "rfc822;alice@localhost")
