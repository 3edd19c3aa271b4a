"""test_queue.py: issue 4: `posthorn queue list [--json] | show | delete |
hold | release | requeue | flush` and the mailq layout, on real queue
files written here in the lib/queue_file.h record format (type byte,
4-byte big-endian length, payload) into a stopped instance's queue, and
one message submitted with sendmail (when it is built)."""
import grp
import json
import os
import pwd
import re
import socket
import stat
import struct
import subprocess
import time
import unittest

from harness import PosthornTestCase, BIN, BUILD, POSTHORN, wait_for

# lib/queue_layout.h: name, mode, owner (0 root, 1 mail_owner,
# 2 mail_owner:setgid_group), hashed.
LAYOUT = [("maildrop", 0o730, 2, False), ("incoming", 0o700, 1, False),
          ("active", 0o700, 1, False), ("deferred", 0o700, 1, True),
          ("hold", 0o700, 1, False), ("corrupt", 0o700, 1, False),
          ("bounce", 0o700, 1, True), ("defer", 0o700, 1, True),
          ("private", 0o700, 1, False), ("public", 0o710, 2, False),
          ("pid", 0o755, 0, False)]
HEX = "0123456789ABCDEF"
RCPT_INDENT = " " * 41


def rec(rtype, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return rtype.encode() + struct.pack(">I", len(payload)) + payload


def mailq_time(sec):
    """Postfix's "%a %b %e %H:%M:%S" in UTC (the tests run with TZ=UTC)."""
    return time.strftime("%a %b %e %H:%M:%S", time.gmtime(sec))


def owner_ids(owner):
    """uid, gid of mail_owner and gid of the setgid group."""
    pw = pwd.getpwnam(owner)
    try:
        sgid = grp.getgrnam("postdrop").gr_gid
    except KeyError:
        sgid = pw.pw_gid
    return pw.pw_uid, pw.pw_gid, sgid


def reason_line(reason):
    return " " * max(0, 76 - len(reason)) + "(" + reason + ")"


class Queue:
    """Writes queue files into an instance's queue directory."""

    def __init__(self, inst):
        self.inst = inst
        self.qdir = os.path.join(inst.dir, "queue")
        self.owner = self._main_cf("mail_owner")
        self.ensure_layout()

    def _main_cf(self, name):
        with open(os.path.join(self.inst.dir, "main.cf")) as f:
            m = re.search(r"^%s = (.*)$" % name, f.read(), re.M)
        return m.group(1).strip() if m else None

    def ids(self):
        return owner_ids(self.owner)

    def ensure_layout(self):
        """The queue tree as queue_layout_ensure makes it (master does it
        at start; a stopped, never started instance may lack it)."""
        uid, gid, sgid = self.ids()
        for name, mode, owner, hashed in LAYOUT:
            paths = [os.path.join(self.qdir, name)]
            if hashed:
                paths += [os.path.join(self.qdir, name, h) for h in HEX]
            for p in paths:
                if not os.path.isdir(p):
                    os.mkdir(p)
                    os.chmod(p, mode)
                    if os.geteuid() == 0:
                        os.chown(p, 0 if owner == 0 else uid,
                                 0 if owner == 0 else
                                 (sgid if owner == 2 else gid))

    def path(self, queue, qid):
        if queue in ("deferred", "defer", "bounce"):
            return os.path.join(self.qdir, queue, qid[12], qid)
        return os.path.join(self.qdir, queue, qid)

    def write(self, queue, sender="sender@example.com",
              rcpts=("rcpt@example.org",), arrival=None, usec=None,
              content=b"Subject: test\n\nhello\n", attrs=("protocol=local",),
              size_record=True, done=(), cut=None, raw=None):
        """Write one queue file the way cleanup does (temp name, inode
        based ID, rename); returns the queue ID."""
        arrival = int(time.time()) - 3600 if arrival is None else arrival
        usec = (os.getpid() * 7 + len(os.listdir(self.qdir))) % 1000000 \
            if usec is None else usec
        if isinstance(content, str):
            content = content.encode()
        data = raw
        if data is None:
            data = rec("V", "posthorn-queue-1")
            if size_record:
                data += rec("S", "%15d %15d" % (len(content), len(rcpts)))
            data += rec("T", "%d.%06d" % (arrival, usec))
            data += rec("F", sender if isinstance(sender, bytes)
                        else sender.encode())
            for a in attrs:
                data += rec("A", a)
            for r in rcpts:
                addr = r if isinstance(r, bytes) else r.encode()
                data += rec("D" if r in done else "R",
                            addr + b"\0\0" + b"0")
            data += rec("M", b"")
            for i in range(0, len(content), 65536):
                data += rec("B", content[i:i + 65536])
            data += rec("X", b"")
            if cut is not None:
                data = data[:cut]
        qdir = os.path.join(self.qdir, queue)
        tmp = os.path.join(qdir, ".tmp.%d.%d" % (os.getpid(), usec))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        ino = os.fstat(fd).st_ino
        os.close(fd)
        if os.geteuid() == 0:
            uid, gid, _ = self.ids()
            os.chown(tmp, uid, gid)
        qid = "%08X%05XQ%X" % (arrival & 0xffffffff, usec, ino)
        os.rename(tmp, self.path(queue, qid))
        return qid

    def defer_log(self, qid, lines):
        p = self.path("defer", qid)
        with open(p, "w") as f:
            for rcpt, reason in lines:
                f.write("%s\t%s\n" % (rcpt, reason))
        return p

    def exists(self, queue, qid):
        return os.path.exists(self.path(queue, qid))


def utc_env():
    env = dict(os.environ)
    env["TZ"] = "UTC"
    env.pop("MAIL_CONFIG", None)
    return env


class TestQueue(PosthornTestCase):
    def setUp(self):
        self.inst = self.make_instance()
        # Queue administration is tested on mail that stays queued.
        self.inst.disable_service("qmgr")
        self.q = Queue(self.inst)

    def queue(self, *args, check=True, user=None):
        kwargs = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid,
                      "extra_groups": []}
        proc = subprocess.run([POSTHORN, "-c", self.inst.dir, "queue"] +
                              list(args), capture_output=True,
                              env=utc_env(), timeout=60, **kwargs)
        proc.stdout = proc.stdout.decode("utf-8", errors="surrogateescape")
        proc.stderr = proc.stderr.decode("utf-8", errors="replace")
        if check and proc.returncode != 0:
            raise AssertionError("queue %s exited %d: %s%s" % (
                " ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def test_empty(self):
        self.assertEqual(self.queue("list").stdout, "Mail queue is empty\n")
        self.assertEqual(self.queue("list", "--json").stdout, "")

    def test_mailq_layout_deferred(self):
        """One deferred message with a reason, line by line."""
        arrival = 1700000000
        qid = self.q.write("deferred", sender="alice@example.com",
                           rcpts=("bob@example.net", "carol@example.net",
                                  "dave@example.org"),
                           done=("dave@example.org",), arrival=arrival,
                           content="Subject: x\n\n" + "y" * 1500 + "\n")
        reason = ("connect to example.net[192.0.2.1]:25: Connection "
                  "refused")
        self.q.defer_log(qid, [("bob@example.net", reason),
                               ("carol@example.net", reason)])
        size = len("Subject: x\n\n" + "y" * 1500 + "\n")
        out = self.queue("list").stdout
        self.assertEqual(out.split("\n"), [
            "-Queue ID-  --Size-- ----Arrival Time---- "
            "-Sender/Recipient-------",
            "%-10s  %7d %-20s %s" % (qid, size, mailq_time(arrival),
                                     "alice@example.com"),
            reason_line(reason),
            RCPT_INDENT + "bob@example.net",
            RCPT_INDENT + "carol@example.net",
            "",
            "-- 1 Kbytes in 1 Request.",
            ""])
        # The reason line is right-aligned the way Postfix does it.
        self.assertTrue(out.split("\n")[2].endswith(
            "Connection refused)"))

    def test_marks_order_and_json(self):
        now = int(time.time())
        ids = {}
        ids["incoming"] = self.q.write("incoming", arrival=now - 10,
                                       sender="")
        ids["active"] = self.q.write("active", arrival=now - 20)
        d2 = self.q.write("deferred", arrival=now - 40, usec=0xB)
        d1 = self.q.write("deferred", arrival=now - 50, usec=0x3)
        ids["hold"] = self.q.write("hold", arrival=now - 60)
        ids["maildrop"] = self.q.write("maildrop", sender="user",
                                       size_record=False,
                                       attrs=("submitter=user",))
        # Never listed: a file being written, a stray name.
        with open(os.path.join(self.q.qdir, "incoming", ".tmp.1.2"),
                  "wb") as f:
            f.write(b"partial")
        with open(os.path.join(self.q.qdir, "incoming", "junk"), "wb") as f:
            f.write(b"junk")
        out = self.queue("list").stdout
        lines = [l for l in out.split("\n") if re.match(r"^[0-9A-F]{13}Q", l)]
        self.assertEqual([l.split()[0] for l in lines], [
            ids["incoming"], ids["active"] + "*", d1, d2,
            ids["hold"] + "!", ids["maildrop"]])
        self.assertIn("MAILER-DAEMON", lines[0])
        self.assertRegex(out, r"\n-- \d+ Kbytes in 6 Requests\.\n$")
        self.assertNotIn("junk", out)
        self.assertNotIn(".tmp", out)
        objs = [json.loads(l) for l in
                self.queue("list", "--json").stdout.splitlines()]
        self.assertEqual([(o["queue_name"], o["queue_id"]) for o in objs], [
            ("incoming", ids["incoming"]), ("active", ids["active"]),
            ("deferred", d1), ("deferred", d2), ("hold", ids["hold"]),
            ("maildrop", ids["maildrop"])])
        self.assertEqual(objs[0]["sender"], "")
        self.assertEqual(objs[1]["sender"], "sender@example.com")
        self.assertEqual(objs[1]["arrival_time"], now - 20)
        self.assertEqual(objs[1]["message_size"],
                         len(b"Subject: test\n\nhello\n"))
        self.assertEqual(objs[1]["recipients"],
                         [{"address": "rcpt@example.org"}])
        # No size record (maildrop): the file size.
        self.assertEqual(objs[5]["message_size"], os.path.getsize(
            self.q.path("maildrop", ids["maildrop"])))

    def test_json_escaping_and_reasons(self):
        sender = b"we\"ird\\\x01\x1b[31m\xc3\xb6\xff@example.com"
        qid = self.q.write("deferred", sender=sender,
                           rcpts=("a@example.org", "b\tc@example.org"))
        self.q.defer_log(qid, [("a@example.org", "4.4.1 \"timed\" out")])
        objs = [json.loads(l) for l in
                self.queue("list", "--json").stdout.splitlines()]
        self.assertEqual(len(objs), 1)
        self.assertEqual(objs[0]["sender"],
                         "we\"ird\\\x01\x1b[31m\u00f6\ufffd@example.com")
        self.assertEqual(objs[0]["recipients"], [
            {"address": "a@example.org",
             "delay_reason": "4.4.1 \"timed\" out"},
            {"address": "b\tc@example.org"}])
        # The text form never prints control characters.
        out = self.queue("list").stdout
        self.assertNotIn("\x1b", out)
        self.assertNotIn("\x01", out)
        self.assertIn("we\"ird\\??[31m\u00f6?@example.com", out)
        self.assertIn(RCPT_INDENT + "b?c@example.org\n", out)

    def test_corrupt_file_listed_with_warning(self):
        good = self.q.write("deferred", arrival=1700000100)
        bad = self.q.write("deferred", arrival=1700000000, cut=60)
        huge = self.q.write("incoming", raw=rec("V", "posthorn-queue-1") +
                            b"F\xff\xff\xff\xff")
        proc = self.queue("list")
        self.assertIn(bad, proc.stdout)
        self.assertIn(good, proc.stdout)
        self.assertIn(huge, proc.stdout)
        self.assertIn("(truncated file)", proc.stdout)
        self.assertIn("too large", proc.stdout)
        self.assertIn("warning", proc.stderr)
        self.assertRegex(proc.stdout, r"in 3 Requests\.\n$")
        objs = [json.loads(l) for l in
                self.queue("list", "--json").stdout.splitlines()]
        self.assertEqual(len(objs), 3)
        self.assertIn("error", [o for o in objs if o["queue_id"] == bad][0])
        self.assertNotIn("error",
                         [o for o in objs if o["queue_id"] == good][0])

    def test_show(self):
        content = "Subject: hi\n\nline 1\nno newline"
        qid = self.q.write("deferred", sender="s@example.com",
                           rcpts=("r1@example.org", "r2@example.org"),
                           done=("r1@example.org",), arrival=1700000000,
                           attrs=("client_name=localhost",
                                  "protocol=ESMTP"),
                           content=content)
        out = self.queue("show", qid).stdout
        lines = out.split("\n")
        self.assertEqual(lines[0], "*** ENVELOPE RECORDS %s ***" % qid)
        for want in ("queue_name: deferred",
                     "message_size: %15d %15d" % (len(content), 2),
                     "message_arrival_time: " + time.strftime(
                         "%a %b %e %H:%M:%S %Y", time.gmtime(1700000000)),
                     "sender: s@example.com",
                     "named_attribute: client_name=localhost",
                     "named_attribute: protocol=ESMTP",
                     "done_recipient: r1@example.org",
                     "recipient: r2@example.org"):
            self.assertIn(want, lines)
        self.assertIn("*** MESSAGE CONTENTS %s ***\nSubject: hi\n\nline 1\n"
                      "no newline\n*** HEADER EXTRACTED %s ***\n"
                      "*** MESSAGE FILE END %s ***\n" % (qid, qid, qid), out)
        # Not there: exit 1; not an ID (path tricks): exit 2.
        proc = self.queue("show", "5FB9D93300001Q99", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no such message", proc.stderr)
        for bad in ("../../main.cf", "deferred/A/x", "", "5FB9D933000Q1/"):
            proc = self.queue("show", bad, check=False)
            self.assertEqual(proc.returncode, 2, bad)
        # A damaged file shows what it can and exits 1.
        bad = self.q.write("hold", cut=90)
        proc = self.queue("show", bad, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("*** ENVELOPE RECORDS %s ***" % bad, proc.stdout)
        self.assertIn("truncated", proc.stderr)

    def test_delete(self):
        a = self.q.write("deferred")
        b = self.q.write("hold", usec=2)
        self.q.defer_log(a, [("rcpt@example.org", "4.4.1 later")])
        self.queue("delete", a)
        self.assertFalse(self.q.exists("deferred", a))
        self.assertFalse(self.q.exists("defer", a))
        self.assertTrue(self.q.exists("hold", b))
        self.assertIn("%s: removed" % a, self.inst.log())
        proc = self.queue("delete", a, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no such message", proc.stderr)
        for queue in ("incoming", "active", "deferred", "maildrop"):
            self.q.write(queue, usec=7)
        self.queue("delete", "ALL")
        self.assertEqual(self.queue("list").stdout, "Mail queue is empty\n")
        self.assertEqual(self.inst.log().count(": removed"), 6)
        self.assertEqual(self.queue("delete", "ALL").returncode, 0)

    def test_hold_release(self):
        qid = self.q.write("deferred")
        future = time.time() + 7200
        os.utime(self.q.path("deferred", qid), (future, future))
        self.queue("hold", qid)
        self.assertFalse(self.q.exists("deferred", qid))
        self.assertTrue(self.q.exists("hold", qid))
        self.assertIn(qid + "!", self.queue("list").stdout)
        self.assertIn("%s: placed on hold" % qid, self.inst.log())
        # Holding again is harmless; releasing what is not held fails.
        self.assertEqual(self.queue("hold", qid).returncode, 0)
        other = self.q.write("incoming", usec=5)
        proc = self.queue("release", other, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("incoming", proc.stderr)
        before = time.time()
        self.queue("release", qid)
        self.assertFalse(self.q.exists("hold", qid))
        path = self.q.path("deferred", qid)
        self.assertTrue(os.path.exists(path))
        # Due now: a deferred file's mtime is its next attempt time.
        self.assertLess(abs(os.stat(path).st_mtime - before), 60)
        self.assertIn("%s: released from hold" % qid, self.inst.log())
        self.assertNotIn(qid + "!", self.queue("list").stdout)
        for verb in ("hold", "release"):
            proc = self.queue(verb, "5FB9D93300001Q99", check=False)
            self.assertEqual(proc.returncode, 1)
            proc = self.queue(verb, "ALL", check=False)
            self.assertEqual(proc.returncode, 2)

    def maildrop_ids(self):
        return sorted(n for n in os.listdir(os.path.join(self.q.qdir,
                                                         "maildrop"))
                      if not n.startswith("."))

    def test_requeue(self):
        a = self.q.write("deferred", rcpts=("r1@example.org",
                                            "r2@example.org"),
                         done=("r1@example.org",),
                         attrs=("client_name=localhost", "protocol=ESMTP"))
        self.q.defer_log(a, [("r2@example.org", "4.4.1 later")])
        self.queue("requeue", a)
        self.assertFalse(self.q.exists("deferred", a))
        self.assertFalse(self.q.exists("defer", a))
        self.assertIn("%s: requeued" % a, self.inst.log())
        # A new maildrop file for pickup: the undelivered recipients, the
        # content, no attributes (the maildrop rules), owned like the
        # original.
        dropped = self.maildrop_ids()
        self.assertEqual(len(dropped), 1)
        path = self.q.path("maildrop", dropped[0])
        self.assertEqual(os.stat(path).st_uid,
                         pwd.getpwnam(self.q.owner).pw_uid)
        out = self.queue("show", dropped[0]).stdout
        self.assertIn("queue_name: maildrop", out)
        self.assertIn("recipient: r2@example.org\n", out)
        self.assertNotIn("r1@example.org", out)
        self.assertNotIn("named_attribute", out)
        self.assertIn("message_size: %15d %15d\n" % (
            len(b"Subject: test\n\nhello\n"), 1), out)
        self.assertIn("Subject: test\n\nhello\n*** HEADER EXTRACTED", out)
        ids = [self.q.write(queue, usec=9) for queue in
               ("incoming", "active", "deferred", "hold")]
        self.queue("requeue", "ALL")
        for queue, qid in zip(("incoming", "active", "deferred", "hold"),
                              ids):
            self.assertFalse(self.q.exists(queue, qid), qid)
        self.assertEqual(len(self.maildrop_ids()), 5)
        objs = [json.loads(l) for l in
                self.queue("list", "--json").stdout.splitlines()]
        self.assertEqual({o["queue_name"] for o in objs}, {"maildrop"})
        self.assertEqual(len(objs), 5)
        proc = self.queue("requeue", "5FB9D93300001Q99", check=False)
        self.assertEqual(proc.returncode, 1)
        # Damaged or fully delivered files stay where they are.
        bad = self.q.write("deferred", cut=80, usec=4)
        done = self.q.write("deferred", usec=5, done=("rcpt@example.org",))
        for qid in (bad, done):
            proc = self.queue("requeue", qid, check=False)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertIn("left in place", proc.stderr)
            self.assertTrue(self.q.exists("deferred", qid))
        self.assertEqual(len(self.maildrop_ids()), 5)
        self.assertFalse([n for n in os.listdir(os.path.join(
            self.q.qdir, "maildrop")) if n.startswith(".")])

    def test_flush(self):
        ids = [self.q.write("deferred", usec=u) for u in (1, 2, 0xC)]
        future = time.time() + 7200
        for qid in ids:
            os.utime(self.q.path("deferred", qid), (future, future))
        before = time.time()
        self.queue("flush")
        for qid in ids:
            self.assertLess(abs(os.stat(self.q.path("deferred",
                                                    qid)).st_mtime -
                                before), 60)
        # An empty deferred queue is fine too.
        self.queue("delete", "ALL")
        self.queue("flush")

    def test_usage(self):
        for args in ([], ["bogus"], ["list", "--xml"], ["list", "a", "b"],
                     ["show"], ["delete"], ["flush", "x"],
                     ["requeue", "a", "b"]):
            proc = self.queue(*args, check=False)
            self.assertEqual(proc.returncode, 2, args)
            self.assertIn("usage", proc.stderr)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to become others")
    def test_permissions(self):
        """Root and mail_owner may; anybody else is refused."""
        qid = self.q.write("deferred")
        nobody = pwd.getpwnam("nobody")
        for args in (["list"], ["list", "--json"], ["show", qid],
                     ["delete", qid], ["flush"]):
            proc = self.queue(*args, check=False, user=nobody)
            self.assertEqual(proc.returncode, 1, args)
            self.assertIn("permission denied", proc.stderr)
            self.assertEqual(proc.stderr.count("\n"), 1, proc.stderr)
            self.assertNotIn(qid, proc.stdout)
        self.assertTrue(self.q.exists("deferred", qid))
        owner = pwd.getpwnam(self.q.owner)
        proc = self.queue("list", user=owner)
        self.assertIn(qid, proc.stdout)
        self.queue("hold", qid, user=owner)
        self.assertTrue(self.q.exists("hold", qid))
        self.queue("release", qid, user=owner)
        self.assertTrue(self.q.exists("deferred", qid))

    @unittest.skipUnless(all(os.path.exists(os.path.join(
        BUILD, "libexec", d)) for d in ("master", "pickup", "cleanup")),
        "pickup and cleanup are not built yet")
    def test_requeue_through_pickup(self):
        """A requeued message is taken by pickup and queued again by
        cleanup with a new ID: the undelivered recipients only."""
        qid = self.q.write("deferred", sender="orig@example.com",
                           rcpts=("r1@example.org", "r2@example.org"),
                           done=("r1@example.org",),
                           content="From: a@example.com\nSubject: rq\n\n"
                                   "body\n")
        self.queue("requeue", qid)
        self.inst.start()
        # Wake pickup now rather than at its next timer.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(os.path.join(self.q.qdir, "public", "pickup"))
            sock.sendall(b"W")
        incoming = os.path.join(self.q.qdir, "incoming")
        self.assertTrue(wait_for(lambda: not os.listdir(
            os.path.join(self.q.qdir, "maildrop")) and
            [n for n in os.listdir(incoming) if not n.startswith(".")],
            timeout=30), self.inst.log())
        objs = [json.loads(l) for l in
                self.queue("list", "--json").stdout.splitlines()]
        self.assertEqual(len(objs), 1, objs)
        self.assertEqual(objs[0]["queue_name"], "incoming")
        self.assertNotEqual(objs[0]["queue_id"], qid)
        self.assertEqual(objs[0]["sender"], "orig@example.com")
        self.assertEqual(objs[0]["recipients"],
                         [{"address": "r2@example.org"}])
        self.assertFalse(os.listdir(os.path.join(self.q.qdir, "corrupt")))

    def test_layout_after_start(self):
        """The tree master makes at start (queue_layout_ensure): modes,
        owners, and no way in for a normal user."""
        inst = self.make_instance()
        inst.start()
        qdir = os.path.join(inst.dir, "queue")
        if not os.path.isdir(os.path.join(qdir, "incoming")):
            self.skipTest("master does not create the queue tree yet")
        uid, gid, sgid = owner_ids(self.q.owner)
        for name, mode, owner, hashed in LAYOUT:
            paths = [os.path.join(qdir, name)]
            if hashed:
                paths += [os.path.join(qdir, name, h) for h in HEX]
            for p in paths:
                st = os.lstat(p)
                self.assertTrue(stat.S_ISDIR(st.st_mode), p)
                self.assertEqual(stat.S_IMODE(st.st_mode), mode, p)
                if os.geteuid() == 0:
                    self.assertEqual(st.st_uid, 0 if owner == 0 else uid, p)
                    self.assertEqual(st.st_gid, 0 if owner == 0 else
                                     (sgid if owner == 2 else gid), p)
        if os.geteuid() != 0:
            return
        # A normal user can neither write into nor list any queue
        # directory (maildrop only through the setgid postdrop).
        nobody = pwd.getpwnam("nobody")
        probe = ("import os, sys\n"
                 "bad = []\n"
                 "for d in sys.argv[1:]:\n"
                 "    try:\n"
                 "        os.close(os.open(os.path.join(d, 'probe'),\n"
                 "                         os.O_WRONLY | os.O_CREAT))\n"
                 "        bad.append('write ' + d)\n"
                 "    except OSError:\n"
                 "        pass\n"
                 "    try:\n"
                 "        os.listdir(d)\n"
                 "        if not d.endswith('/pid'):\n"
                 "            bad.append('list ' + d)\n"
                 "    except OSError:\n"
                 "        pass\n"
                 "print(' '.join(bad))\n")
        dirs = [os.path.join(qdir, name) for name, _, _, _ in LAYOUT]
        proc = subprocess.run(["python3", "-c", probe] + dirs,
                              capture_output=True, text=True, timeout=60,
                              user=nobody.pw_uid, group=nobody.pw_gid,
                              extra_groups=[])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), "")

    @unittest.skipUnless(os.path.exists(os.path.join(BIN, "sendmail")),
                         "sendmail is not built yet")
    def test_sendmail_message_listed(self):
        """A message submitted with sendmail while the instance is
        stopped sits in maildrop/ and is listed and shown."""
        env = utc_env()
        env["MAIL_CONFIG"] = self.inst.dir
        proc = subprocess.run(
            [os.path.join(BIN, "sendmail"), "-C", self.inst.dir, "-f",
             "script@example.com", "listed@example.org"],
            input=b"Subject: via sendmail\n\nbody\n", capture_output=True,
            env=env, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        objs = [json.loads(l) for l in
                self.queue("list", "--json").stdout.splitlines()]
        self.assertEqual(len(objs), 1)
        self.assertEqual(objs[0]["sender"], "script@example.com")
        self.assertEqual(objs[0]["recipients"],
                         [{"address": "listed@example.org"}])
        out = self.queue("show", objs[0]["queue_id"]).stdout
        self.assertIn("recipient: listed@example.org", out)
        self.assertIn("Subject: via sendmail\n", out)
        # mailq shows the same.
        proc = subprocess.run([os.path.join(BIN, "sendmail"), "-C",
                               self.inst.dir, "-bp"], capture_output=True,
                              env=env, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(objs[0]["queue_id"], proc.stdout.decode())
        self.assertIn(b"listed@example.org", proc.stdout)


if __name__ == "__main__":
    unittest.main()
