"""test_qmgr.py: the queue manager (issue 6, qmgr part), driven through
test-only services: tests/services/fakeagent.c as the delivery transport
"fake" (default_transport, so every remote domain goes there; it answers
by the recipient's local part: ok-, defer-, fail-, crash-, hang-, slow-)
and tests/services/fakebounce.c in place of the bounce service. Both
record what they were asked in files the tests read.

One test per acceptance point: immediate delivery on cleanup's trigger,
deferral with backoff then success, expiry (maximal_queue_lifetime,
bounce_queue_lifetime) with a bounce request, hard failures and a bounce
service that is down, crash recovery from active/, kill -9 of qmgr during
500 deliveries (none lost; duplicates reported), 2,000 messages under
qmgr_message_active_limit=100, `posthorn queue flush` and `sendmail -q`,
error: and discard: transports, an agent that crashes or hangs,
per-destination concurrency and recipient limits, NOTIFY=SUCCESS, one
delay warning after delay_warning_time.
"""
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness
from harness import PosthornTestCase, wait_for
from test_pickup import processes_of
from test_queue import Queue

FAKEAGENT = os.path.join(harness.TEST_LIBEXEC, "fakeagent")
FAKEBOUNCE = os.path.join(harness.TEST_LIBEXEC, "fakebounce")
SENDMAIL = os.path.join(harness.BIN, "sendmail")
QMGR = os.path.join(harness.BUILD, "libexec", "qmgr")


def poke(inst, what=b"A"):
    """Write a trigger to public/qmgr (master starts qmgr on it); False
    when nobody listens (the instance is stopping or stopped)."""
    path = os.path.join(inst.dir, "queue", "public", "qmgr")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(path)
            s.sendall(what)
        return True
    except OSError:
        return False


def have_build():
    return all(os.path.exists(p) for p in (FAKEAGENT, FAKEBOUNCE, QMGR))


@unittest.skipUnless(have_build(), "qmgr or the fake services not built")
class TestQmgr(PosthornTestCase):

    # ---- set-up ----

    inst = None
    may_die = ()

    def tearDown(self):
        # qmgr and the fakes must never die by themselves (sanitizer
        # builds: a report makes the process exit abnormally); may_die
        # names the programs a test kills on purpose.
        if self.inst is None:
            return
        bad = [line for line in self.inst.log().splitlines()
               if "warning: process " in line and
               any("/%s pid" % p in line for p in
                   ("qmgr", "fakeagent", "fakebounce")
                   if p not in self.may_die)]
        self.assertEqual(bad, [])

    def instance(self, start=True, extra_cf="", **settings):
        inst = self.make_instance(hostname="mail.example.test",
                                  domain="example.test")
        self.inst = inst
        root = os.path.dirname(inst.dir)
        self.rec = os.path.join(root, "rec")
        os.mkdir(self.rec)
        os.chmod(self.rec, 0o777)
        self.agent_rec = os.path.join(self.rec, "agent")
        self.bounce_rec = os.path.join(self.rec, "bounce")
        path = os.path.join(inst.dir, "master.cf")
        with open(path) as f:
            lines = f.read().splitlines()
        out = []
        for line in lines:
            # The real bounce service makes DSNs through cleanup: here a
            # fake records the request. smtp and local are not needed.
            if line.split()[:1] in (["bounce"], ["smtp"], ["local"]):
                continue
            out.append(line)
        out.append("bounce unix - - n - 0 %s %s %s" % (
            FAKEBOUNCE, self.bounce_rec, self.rec))
        out.append("fake unix - - n - - %s %s %s" % (
            FAKEAGENT, self.agent_rec, self.rec))
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        base = dict(default_transport="fake", minimal_backoff_time="2s",
                    maximal_backoff_time="10s", queue_run_delay="1s")
        base.update(settings)
        inst.conf(**base)
        if extra_cf:
            with open(os.path.join(inst.dir, "main.cf"), "a") as f:
                f.write(extra_cf)
        self.q = Queue(inst)
        if start:
            inst.start()
        return inst

    def sendmail(self, inst, rcpts, sender="sender@example.org",
                 subject="test", args=()):
        msg = "From: %s\nSubject: %s\n\nbody\n" % (sender or "x@y", subject)
        proc = subprocess.run(
            [SENDMAIL, "-C", inst.dir, "-f", sender] + list(args) +
            list(rcpts), input=msg.encode(), capture_output=True,
            timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def touch(self, name):
        with open(os.path.join(self.rec, name), "w"):
            pass

    def records(self):
        """The fake agent's lines as dicts."""
        out = []
        try:
            with open(self.agent_rec) as f:
                for line in f:
                    w = line.split()
                    if len(w) != 9:
                        continue
                    out.append(dict(id=w[0], rcpt=w[1], status=w[2],
                                    transport=w[3], nexthop=w[4],
                                    nrcpt=int(w[5]), start=float(w[6]),
                                    end=float(w[7]), pid=int(w[8])))
        except FileNotFoundError:
            pass
        return out

    def bounces(self):
        try:
            with open(self.bounce_rec) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def queue_files(self, inst, queues=("incoming", "active", "deferred",
                                        "hold")):
        found = []
        for q in queues:
            top = os.path.join(inst.dir, "queue", q)
            for dirpath, _, files in os.walk(top):
                found += [(q, n) for n in files if not n.startswith(".")]
        return found

    def drained(self, inst):
        """No message left in the queue. A file moving between two
        queues can be missed by one listing: ask twice."""
        if self.queue_files(inst):
            return False
        time.sleep(0.1)
        return not self.queue_files(inst)

    def sent(self, rcpt=None):
        return [r for r in self.records() if r["status"] == "sent" and
                (rcpt is None or r["rcpt"] == rcpt)]

    # ---- acceptance points ----

    def test_trigger_delivers_at_once(self):
        """cleanup's trigger starts delivery at once: no scan interval
        (queue_run_delay is long here), then the file is removed."""
        inst = self.instance(queue_run_delay="300s")
        # Let master's first wakeup pass, so only the trigger can act.
        time.sleep(1.5)
        t0 = time.monotonic()
        self.sendmail(inst, ["ok-1@example.net", "ok-2@example.net"])
        self.assertTrue(wait_for(lambda: len(self.sent()) == 2, 10))
        self.assertLess(time.monotonic() - t0, 3.0)
        r = self.sent()
        # One request for both (same transport and nexthop).
        self.assertEqual([x["nrcpt"] for x in r], [2, 2])
        self.assertEqual(r[0]["nexthop"], "example.net")
        qid = r[0]["id"]
        self.assertTrue(wait_for(
            lambda: "%s: removed" % qid in inst.log(), 10), inst.log())
        log = inst.log()
        self.assertRegex(
            log, r"qmgr\[\d+\]: %s: from=<sender@example.org>, size=\d+, "
                 r"nrcpt=2 \(queue active\)" % qid)
        self.assertRegex(log, r"%s: to=<ok-1@example.net>, relay=fake, "
                              r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/"
                              r"[\d.]+, dsn=2.0.0, status=sent" % qid)
        self.assertEqual(self.queue_files(inst), [])
        self.assertEqual(self.bounces(), "")

    def test_defer_backoff_then_success(self):
        """A temporary failure defers the message: deferred/H/ID with
        mtime = next attempt, a defer log line, retries after
        minimal_backoff_time, delivery once the agent accepts."""
        inst = self.instance()
        self.sendmail(inst, ["defer-1@example.net", "ok-2@example.net"])
        self.assertTrue(wait_for(lambda: self.queue_files(
            inst, ("deferred",)), 10))
        qid = self.queue_files(inst, ("deferred",))[0][1]
        path = self.q.path("deferred", qid)
        try:
            mtime = os.stat(path).st_mtime
            self.assertGreater(mtime, time.time() + 0.5)
            self.assertLess(mtime, time.time() + 3)
        except FileNotFoundError:
            pass  # already being retried
        with open(self.q.path("defer", qid)) as f:
            self.assertIn("defer-1@example.net\t4.2.0 try again (fake)",
                          f.read())
        # ok-2 was delivered once and is not retried.
        self.assertTrue(wait_for(lambda: len(
            [r for r in self.records() if r["rcpt"] ==
             "defer-1@example.net"]) >= 3, 15))
        tries = [r["start"] for r in self.records()
                 if r["rcpt"] == "defer-1@example.net"]
        # Backoff: at least minimal_backoff_time between attempts.
        for a, b in zip(tries, tries[1:]):
            self.assertGreaterEqual(b - a, 1.8)
        self.assertEqual(len(self.sent("ok-2@example.net")), 1)
        self.touch("accept")
        self.assertTrue(wait_for(
            lambda: self.sent("defer-1@example.net"), 15))
        self.assertTrue(wait_for(
            lambda: "%s: removed" % qid in inst.log(), 10))
        self.assertFalse(os.path.exists(self.q.path("defer", qid)))
        self.assertEqual(len(self.sent("ok-2@example.net")), 1)
        self.assertEqual(self.queue_files(inst), [])

    def test_lifetime_expiry_bounces(self):
        """Past maximal_queue_lifetime (bounce_queue_lifetime for the
        null sender) the deferred recipients are returned: bounce log
        lines 5.4.7 with the last error, a bounce request, removal."""
        inst = self.instance(maximal_queue_lifetime="0",
                             bounce_queue_lifetime="0")
        self.sendmail(inst, ["defer-1@example.net", "ok-2@example.net"])
        self.assertTrue(wait_for(lambda: "status=expired" in inst.log(), 10),
                        inst.log())
        qid = self.records()[0]["id"]
        self.assertIn("%s: from=<sender@example.org>, status=expired, "
                      "returned to sender" % qid, inst.log())
        self.assertTrue(wait_for(
            lambda: "%s: removed" % qid in inst.log(), 10))
        b = self.bounces()
        self.assertIn("bounce %s active 0" % qid, b)
        self.assertIn("log defer-1@example.net\t5.4.7 message expired "
                      "(last error: try again (fake))", b)
        self.assertNotIn("ok-2", b)
        self.assertEqual(self.queue_files(inst), [])

    def test_null_sender_uses_bounce_queue_lifetime(self):
        inst = self.instance(maximal_queue_lifetime="1d",
                             bounce_queue_lifetime="0")
        self.sendmail(inst, ["defer-1@example.net"], sender="")
        self.sendmail(inst, ["defer-2@example.net"])
        self.assertTrue(wait_for(lambda: "status=expired" in inst.log(), 10))
        self.assertTrue(wait_for(lambda: len(self.queue_files(
            inst, ("deferred",))) == 1 and "removed" in inst.log(), 10))
        log = inst.log()
        self.assertIn("from=<>, status=expired", log)
        self.assertNotIn("from=<sender@example.org>, status=expired", log)

    def test_hard_failure_and_bounce_service_down(self):
        """A 5xx answer goes to the bounce log and the recipient is done;
        while the bounce service refuses, the message is kept (deferred)
        with its log; once it answers, the message is removed."""
        inst = self.instance()
        self.touch("bounce-fail")
        self.sendmail(inst, ["fail-1@example.net", "ok-2@example.net"])
        self.assertTrue(wait_for(lambda: "non-delivery notification" in
                                 inst.log(), 10))
        qid = self.records()[0]["id"]
        self.assertTrue(wait_for(lambda: self.q.exists("deferred", qid), 10))
        with open(self.q.path("bounce", qid)) as f:
            self.assertIn("fail-1@example.net\t5.1.1 no such user (fake)",
                          f.read())
        self.assertIn("will try again later", inst.log())
        os.unlink(os.path.join(self.rec, "bounce-fail"))
        self.assertTrue(wait_for(
            lambda: "%s: removed" % qid in inst.log(), 20), inst.log())
        self.assertFalse(os.path.exists(self.q.path("bounce", qid)))
        # Neither recipient was delivered again.
        self.assertEqual(len([r for r in self.records()
                              if r["rcpt"] == "fail-1@example.net"]), 1)
        self.assertEqual(len(self.sent("ok-2@example.net")), 1)
        self.assertGreaterEqual(self.bounces().count("bounce %s" % qid), 2)

    def test_restart_redelivers_active_skips_done_and_hold(self):
        """Files left in active/ by a crash are delivered again, except
        recipients already marked done; hold/ is never touched."""
        inst = self.instance(start=False)
        now = int(time.time())
        a = self.q.write("active", rcpts=("ok-a1@example.net",
                                          "ok-a2@example.net"),
                         done=("ok-a1@example.net",), arrival=now)
        b = self.q.write("incoming", rcpts=("ok-b@example.net",),
                         arrival=now)
        h = self.q.write("hold", rcpts=("ok-h@example.net",), arrival=now)
        inst.start()
        self.assertTrue(wait_for(lambda: len(self.sent()) >= 2, 10))
        self.assertTrue(wait_for(lambda: "%s: removed" % a in inst.log() and
                                 "%s: removed" % b in inst.log(), 10))
        time.sleep(1.5)
        got = sorted(r["rcpt"] for r in self.sent())
        self.assertEqual(got, ["ok-a2@example.net", "ok-b@example.net"])
        self.assertIn("left in active by an earlier run", inst.log())
        self.assertTrue(self.q.exists("hold", h))
        self.assertEqual(self.queue_files(inst), [("hold", h)])

    def test_named_trigger_takes_the_file_without_a_scan(self):
        """cleanup's trigger names the new file ("N" ID newline): qmgr
        takes incoming/ID at once without listing incoming/
        (queue_run_delay is long here and no I or A trigger is sent);
        incoming/ is listed a second later, which finds a file whose
        trigger was lost (here: cut off before its newline). Names that
        are not queue IDs and too long ones are ignored."""
        inst = self.instance(queue_run_delay="300s")
        # Let master's first wakeup pass, so only the trigger can act.
        time.sleep(1.5)
        qid = self.q.write("incoming", rcpts=("ok-n@example.net",),
                           arrival=int(time.time()))
        other = self.q.write("incoming", rcpts=("ok-o@example.net",),
                             arrival=int(time.time()))
        self.assertTrue(poke(inst, b"N../../etc/passwd\nNZZ\nN" +
                             b"B" * 300 + b"\n"))
        self.assertTrue(poke(inst, b"N" + qid.encode() + b"\nN" +
                             other.encode()))
        self.assertTrue(wait_for(lambda: self.sent("ok-n@example.net") and
                                 self.sent("ok-o@example.net"), 10))
        (n,) = self.sent("ok-n@example.net")
        (o,) = self.sent("ok-o@example.net")
        # The named file at once, the other one by the listing 1 s later.
        self.assertGreaterEqual(float(o["start"]) - float(n["start"]), 0.5,
                                (n, o))
        self.assertTrue(wait_for(
            lambda: "%s: removed" % other in inst.log(), 10), inst.log())
        self.assertTrue(processes_of(inst, "qmgr"))
        self.assertNotIn("panic", inst.log())

    def test_restart_finds_the_logs_of_a_recovered_file(self):
        """A file recovered from active/ may have defer and bounce logs
        from the attempt the crash cut short (qmgr looks for them only
        for such files and deferred ones, never for new mail): the bounce
        log still gets its notice and both logs go with the file."""
        inst = self.instance(start=False)
        now = int(time.time())
        a = self.q.write("active", rcpts=("fail-1@example.net",
                                          "ok-2@example.net"),
                         done=("fail-1@example.net",), arrival=now)
        st = os.stat(self.q.path("active", a))
        for queue, line in (
                ("bounce", "fail-1@example.net\t5.1.1 no such user\n"),
                ("defer", "ok-2@example.net\t4.2.0 try again\n")):
            path = self.q.path(queue, a)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(line)
            os.chown(path, st.st_uid, st.st_gid)
        inst.start()
        self.assertTrue(wait_for(lambda: "%s: removed" % a in inst.log(),
                                 15), inst.log())
        self.assertIn("bounce %s" % a, self.bounces())
        self.assertIn("fail-1@example.net\t5.1.1 no such user",
                      self.bounces())
        self.assertEqual(len(self.sent("ok-2@example.net")), 1)
        self.assertFalse(os.path.exists(self.q.path("bounce", a)))
        self.assertFalse(os.path.exists(self.q.path("defer", a)))

    def test_kill9_qmgr_during_500_messages(self):
        """kill -9 of qmgr again and again while 500 messages to 5 users
        are delivered: after restart every message was delivered at
        least once. Duplicates are possible and reported."""
        inst = self.instance(start=False)
        self.may_die = ("qmgr",)
        now = int(time.time())
        ids = [self.q.write("incoming",
                            rcpts=("ok-user%d@example.net" % (i % 5),),
                            arrival=now) for i in range(500)]
        inst.start()
        kills = 0
        for _ in range(6):
            time.sleep(0.3)
            for pid in processes_of(inst, "qmgr"):
                os.kill(pid, signal.SIGKILL)
                kills += 1
            # A trigger brings qmgr back (master starts it on demand).
            time.sleep(0.2)
            poke(inst)

        def all_done():
            poke(inst, b"I")
            return self.drained(inst)
        self.assertTrue(wait_for(all_done, 60, interval=0.5),
                        self.queue_files(inst)[:5])
        counts = {}
        for r in self.sent():
            counts[r["id"]] = counts.get(r["id"], 0) + 1
        missing = [i for i in ids if i not in counts]
        self.assertEqual(missing, [])
        dups = sum(c - 1 for c in counts.values())
        print("\nkill -9 qmgr %d times during 500 messages: %d delivered "
              "twice or more (%d extra deliveries)" % (
                  kills, len([c for c in counts.values() if c > 1]), dups))
        self.assertGreater(kills, 0)

    def test_active_limit_2000_messages(self):
        """2,000 queued messages with qmgr_message_active_limit=100:
        active/ never holds more than 100 files, and all are delivered."""
        inst = self.instance(start=False, qmgr_message_active_limit="100")
        now = int(time.time())
        for i in range(2000):
            self.q.write("incoming", rcpts=("ok-%d@example.net" % (i % 7),),
                         arrival=now)
        active = os.path.join(inst.dir, "queue", "active")
        peak = [0]
        stop = threading.Event()

        def sampler():
            while not stop.is_set():
                try:
                    n = len(os.listdir(active))
                except OSError:
                    n = 0
                peak[0] = max(peak[0], n)
                time.sleep(0.005)
        t = threading.Thread(target=sampler)
        t.start()
        try:
            inst.start()
            ok = wait_for(lambda: len(self.sent()) >= 2000, 90, 0.2)
        finally:
            stop.set()
            t.join()
        self.assertTrue(ok, "%d delivered" % len(self.sent()))
        self.assertTrue(wait_for(lambda: self.drained(inst), 20))
        self.assertLessEqual(peak[0], 100)
        self.assertGreater(peak[0], 10)
        self.assertEqual(len({r["id"] for r in self.sent()}), 2000)

    def test_flush_makes_deferred_due(self):
        """`posthorn queue flush` and `sendmail -q` deliver deferred mail
        now, long before its backoff ends."""
        inst = self.instance(minimal_backoff_time="300s",
                             maximal_backoff_time="600s",
                             queue_run_delay="300s")
        self.sendmail(inst, ["defer-1@example.net"])
        self.assertTrue(wait_for(lambda: self.queue_files(
            inst, ("deferred",)), 10))
        time.sleep(1)
        self.assertEqual(len(self.records()), 1)
        # Still deferred: not due for 5 minutes.
        poke(inst, b"A")
        time.sleep(1.5)
        self.assertEqual(len(self.records()), 1)
        # flush: due now, delivered (still failing: deferred again).
        inst.posthorn("queue", "flush")
        self.assertTrue(wait_for(lambda: len(self.records()) == 2, 10))
        self.touch("accept")
        self.assertTrue(wait_for(lambda: self.queue_files(
            inst, ("deferred",)) and not self.queue_files(
                inst, ("active",)), 10))
        proc = subprocess.run([SENDMAIL, "-C", inst.dir, "-q"],
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(wait_for(lambda: self.sent("defer-1@example.net"),
                                 10))
        self.assertTrue(wait_for(lambda: self.drained(inst), 10))

    def test_error_and_discard_transports(self):
        """transport_maps results error:TEXT (bounce with TEXT, its code
        or 5.0.0) and discard: (done, logged status=discarded)."""
        inst = self.instance(
            transport_maps="inline:{ {err.example = error:5.7.1 go away}, "
                           "err2.example = error:, disc.example = discard: }")
        self.sendmail(inst, ["a@err.example", "b@err2.example",
                             "c@disc.example", "ok-d@example.net"])
        self.assertTrue(wait_for(lambda: " removed" in inst.log(), 10))
        log = inst.log()
        self.assertRegex(log, r"to=<a@err.example>, relay=none, delay=[\d.]+,"
                              r" delays=[\d./]+, dsn=5.7.1, status=bounced "
                              r"\(go away\)")
        self.assertRegex(log, r"to=<b@err2.example>, .*dsn=5.0.0, "
                              r"status=bounced \(mail is rejected\)")
        self.assertRegex(log, r"to=<c@disc.example>, relay=none, .*"
                              r"dsn=2.0.0, status=discarded")
        self.assertEqual([r["rcpt"] for r in self.records()],
                         ["ok-d@example.net"])
        b = self.bounces()
        self.assertIn("log a@err.example\t5.7.1 go away", b)
        self.assertIn("log b@err2.example\t5.0.0 mail is rejected", b)
        self.assertNotIn("disc.example", b)
        self.assertEqual(self.queue_files(inst), [])

    def test_agent_crash_and_hang_defer(self):
        """An agent that dies or hangs: every recipient it did not answer
        is deferred (4.3.0) and delivered later; answers given before the
        crash stand."""
        inst = self.instance(extra_cf="fake_time_limit = 2s\n")
        self.may_die = ("fakeagent",)
        self.sendmail(inst, ["ok-1@example.net", "crash-2@example.net",
                             "ok-3@example.net"])
        self.sendmail(inst, ["hang-4@example.org"])
        self.assertTrue(wait_for(
            lambda: "status=deferred (delivery agent crashed)" in inst.log()
            and "status=deferred (delivery agent timed out)" in inst.log(),
            15), inst.log())
        log = inst.log()
        self.assertRegex(log, r"to=<crash-2@example.net>, relay=fake, "
                              r".*dsn=4.3.0, status=deferred \(delivery "
                              r"agent crashed\)")
        self.assertRegex(log, r"to=<ok-3@example.net>, .*dsn=4.3.0, "
                              r"status=deferred")
        self.assertNotRegex(log, r"to=<ok-1@example.net>, .*dsn=4.3.0")
        self.touch("accept")
        self.assertTrue(wait_for(
            lambda: self.sent("crash-2@example.net") and
            self.sent("hang-4@example.org"), 20), inst.log())
        self.assertTrue(wait_for(lambda: self.drained(inst), 10))
        self.assertEqual(len(self.sent("ok-1@example.net")), 1)
        self.assertEqual(len(self.sent("crash-2@example.net")), 1)
        self.assertEqual(len(self.sent("hang-4@example.org")), 1)

    def test_kept_connection_failing_unanswered_is_tried_once_anew(self):
        """An agent that dies on a kept connection before answering looks
        like one that ended the connection as the request went out: qmgr
        sends the request once more, on a new connection (a new agent
        process), and only that second failure defers it."""
        inst = self.instance(minimal_backoff_time="30s")
        self.may_die = ("fakeagent",)
        self.sendmail(inst, ["ok-1@example.net"])
        self.assertTrue(wait_for(lambda: self.sent("ok-1@example.net"), 10))
        # Within qmgr's 2 s idle limit: the kept connection carries it.
        self.sendmail(inst, ["crash-2@example.net"])
        self.assertTrue(wait_for(
            lambda: "status=deferred (delivery agent crashed)" in
            inst.log(), 15), inst.log())
        crashes = [r for r in self.records()
                   if r["rcpt"] == "crash-2@example.net"]
        (ok,) = self.sent("ok-1@example.net")
        self.assertEqual(len(crashes), 2, crashes)
        self.assertEqual(crashes[0]["pid"], ok["pid"])  # the kept one
        self.assertNotEqual(crashes[1]["pid"], crashes[0]["pid"])
        time.sleep(1)  # and no third attempt (backoff is 30 s)
        self.assertEqual(len([r for r in self.records()
                              if r["rcpt"] == "crash-2@example.net"]), 2)

    def test_concurrency_and_recipient_limits(self):
        """TRANSPORT_destination_concurrency_limit and
        TRANSPORT_destination_recipient_limit: requests carry at most 3
        recipients, at most 2 run at once per destination, and another
        destination is not held up."""
        inst = self.instance(
            extra_cf="fake_destination_concurrency_limit = 2\n"
                     "fake_destination_recipient_limit = 3\n")
        for i in range(4):
            self.sendmail(inst, ["slow-%d-%d@one.example" % (i, j)
                                 for j in range(5)])
        self.sendmail(inst, ["slow-x@two.example"])
        self.assertTrue(wait_for(lambda: len(self.sent()) == 21, 30))
        recs = self.sent()
        self.assertLessEqual(max(r["nrcpt"] for r in recs), 3)
        reqs = {(r["pid"], r["start"]): r for r in recs
                if r["nexthop"] == "one.example"}
        events = sorted([(r["start"], 1) for r in reqs.values()] +
                        [(r["end"], -1) for r in reqs.values()],
                        key=lambda e: (e[0], e[1]))
        now = peak = 0
        for _, d in events:
            now += d
            peak = max(peak, now)
        self.assertLessEqual(peak, 2)
        self.assertEqual(peak, 2)
        two = [r for r in recs if r["nexthop"] == "two.example"][0]
        last_one = max(r["end"] for r in reqs.values())
        self.assertLess(two["end"], last_one)

    def test_unavailable_transport(self):
        """A transport without a socket: its mail is deferred ("mail
        transport unavailable"), one warning, no retry for
        transport_retry_time unless `queue flush` (F) forgets it."""
        inst = self.instance(transport_maps="inline:{nowhere.example = "
                                            "nosuch:}",
                             transport_retry_time="300s")
        for i in range(3):
            self.sendmail(inst, ["x%d@nowhere.example" % i])
        self.assertTrue(wait_for(lambda: len(self.queue_files(
            inst, ("deferred",))) == 3, 10), inst.log())
        log = inst.log()
        self.assertEqual(log.count("connect to transport private/nosuch"),
                         1, log)
        self.assertRegex(log, r"to=<x0@nowhere.example>, relay=none, .*"
                              r"dsn=4.3.0, status=deferred \(mail "
                              r"transport unavailable\)")
        # Due again after 2 s, still dead: deferred without a new try.
        self.assertTrue(wait_for(lambda: inst.log().count(
            "status=deferred (mail transport unavailable)") >= 6, 15))
        self.assertEqual(inst.log().count(
            "connect to transport private/nosuch"), 1)
        inst.posthorn("queue", "flush")
        self.assertTrue(wait_for(lambda: inst.log().count(
            "connect to transport private/nosuch") == 2, 10))

    def test_delay_warning_once(self):
        """delay_warning_time: one delay notice, at the first attempt
        after the message is that old; later attempts send none."""
        inst = self.instance(delay_warning_time="3s")
        self.sendmail(inst, ["defer-1@example.net"])
        self.assertTrue(wait_for(lambda: len(self.records()) >= 4, 20))
        qid = self.records()[0]["id"]
        b = self.bounces()
        self.assertEqual(b.count("delay %s active 0" % qid), 1, b)
        self.assertIn("log defer-1@example.net\t4.2.0 try again (fake)", b)
        self.assertNotIn("bounce %s" % qid, b)

    def test_notify_success(self):
        """NOTIFY=SUCCESS: a success notice is requested for that
        recipient only."""
        inst = self.instance()
        self.sendmail(inst, ["ok-1@example.net"], args=["-N", "success"])
        self.sendmail(inst, ["ok-2@example.net"])
        self.assertTrue(wait_for(lambda: "success" in self.bounces() and
                                 inst.log().count(" removed") == 2, 10))
        b = self.bounces()
        self.assertIn("success %s active 1" % self.sent(
            "ok-1@example.net")[0]["id"], b)
        self.assertIn("rcpt ok-1@example.net 2.0.0", b)
        self.assertNotIn("ok-2", b)


if __name__ == "__main__":
    unittest.main()


LOCAL = os.path.join(harness.BUILD, "libexec", "local")
BOUNCE = os.path.join(harness.BUILD, "libexec", "bounce")


@unittest.skipUnless(have_build() and os.path.exists(LOCAL) and
                     os.path.exists(BOUNCE), "local or bounce not built")
class TestQmgrEndToEnd(PosthornTestCase):
    """qmgr with the real local agent and bounce service."""

    def instance(self, users):
        inst = self.make_instance(hostname="mail.example.test",
                                  domain="example.test")
        for u in users:
            inst.posthorn("user", "add", u, "--password-stdin",
                          input="secret\n")
        inst.conf(minimal_backoff_time="2s", maximal_backoff_time="10s",
                  queue_run_delay="1s")
        return inst

    def maildir_files(self, inst, user, domain="example.test"):
        new = os.path.join(inst.dir, "mail", domain, user, "new")
        try:
            return [os.path.join(new, n) for n in os.listdir(new)]
        except FileNotFoundError:
            return []

    def test_local_delivery_and_bounce(self):
        inst = self.instance(["bob@example.test", "alice@example.test"])
        inst.start()
        proc = subprocess.run(
            [SENDMAIL, "-C", inst.dir, "-f", "alice@example.test",
             "bob@example.test", "nobody@example.test"],
            input=b"Subject: e2e\n\nhello\n", capture_output=True,
            timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(wait_for(lambda: self.maildir_files(inst, "bob") and
                                 self.maildir_files(inst, "alice"), 20),
                        inst.log())
        self.assertEqual(len(self.maildir_files(inst, "bob")), 1)
        with open(self.maildir_files(inst, "alice")[0], "rb") as f:
            dsn = f.read().decode(errors="replace")
        self.assertIn("multipart/report", dsn)
        self.assertIn("Status: 5.1.1", dsn)
        self.assertTrue(wait_for(
            lambda: inst.log().count(": removed") >= 2, 10))
        self.assertRegex(inst.log(), r"local\[\d+\]: \w+: "
                                     r"to=<bob@example.test>, relay=virtual")

    def test_kill9_qmgr_and_local_500_messages(self):
        """Issue 6 crash test: 500 messages to 5 users, kill -9 of qmgr
        and local several times during delivery; after restart every
        Message-ID is in a mailbox. Duplicates are counted and shown."""
        users = ["u%d@example.test" % i for i in range(5)]
        inst = self.instance(users)
        q = Queue(inst)
        now = int(time.time())
        for i in range(500):
            q.write("incoming", sender="s@example.org",
                    rcpts=(users[i % 5],), arrival=now,
                    content="Message-ID: <crash-%d@test>\nSubject: %d\n\n"
                            "body %d\n" % (i, i, i))
        inst.start()
        kills = 0
        for round_ in range(6):
            time.sleep(0.4)
            for prog in ("qmgr", "local"):
                for pid in processes_of(inst, prog):
                    try:
                        os.kill(pid, signal.SIGKILL)
                        kills += 1
                    except OSError:
                        pass
            time.sleep(0.2)
            poke(inst)

        def count():
            seen = {}
            for u in range(5):
                for p in self.maildir_files(inst, "u%d" % u):
                    try:
                        with open(p, "rb") as f:
                            head = f.read(4096).decode(errors="replace")
                    except OSError:
                        continue
                    for line in head.splitlines():
                        if line.lower().startswith("message-id:"):
                            mid = line.split(":", 1)[1].strip()
                            seen[mid] = seen.get(mid, 0) + 1
                            break
            return seen

        def done():
            poke(inst)
            return len(count()) == 500
        self.assertTrue(wait_for(done, 90, interval=0.5),
                        "%d of 500 delivered" % len(count()))
        seen = count()
        missing = [i for i in range(500) if "<crash-%d@test>" % i not in seen]
        self.assertEqual(missing, [])
        extra = sum(c - 1 for c in seen.values())
        print("\nkill -9 of qmgr/local %d times during 500 local "
              "deliveries: %d messages delivered more than once (%d extra)"
              % (kills, len([c for c in seen.values() if c > 1]), extra))
