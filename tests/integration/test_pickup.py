"""test_pickup.py: maildrop/ and the pickup daemon (issue 4): mail
submitted while posthorn is stopped is picked up after start; crafted
corrupt maildrop files land in corrupt/ and pickup goes on; kill -9 of
cleanup while 50 sendmails run loses nothing; and, run as root, the
privilege split: a normal user writes only into maildrop/ and only through
the set-gid postdrop, cannot read other users' queued mail, and the
submitter recorded is the file owner.

Root tests copy sendmail and postdrop into the test's own directory and
make that postdrop set-gid postdrop (chgrp postdrop; chmod 2755) there,
with command_directory pointing at it: the build tree is left alone.
"""
import grp
import os
import pwd
import random
import shutil
import signal
import stat
import subprocess
import threading
import time
import unittest

import harness
from harness import PosthornTestCase, wait_for
from test_sendmail import (EX_OK, EX_TEMPFAIL, SENDMAIL, intake_only,
                           maildrop_files, one_message, parse_queue_file,
                           poke_pickup, queue_dir, queued_files,
                           queued_messages, sendmail, wait_queued)

POSTDROP = os.path.join(harness.BIN, "postdrop")


def record(rtype, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return rtype.encode() + len(payload).to_bytes(4, "big") + payload


def stream_head(sender="crafted@example.com"):
    """The V, S, T and F records every maildrop file starts with."""
    return (record("V", "posthorn-queue-1") +
            record("S", "%15d %15d" % (0, 1)) +
            record("T", "1700000000.000001") +
            record("F", sender))


def good_stream(marker, sender="crafted@example.com",
                rcpt="r@example.com"):
    """A well-formed maildrop file (claiming a submitter that pickup must
    not believe)."""
    return (stream_head(sender) +
            record("A", "submitter=mallory") +
            record("R", rcpt.encode() + b"\0\0" + b"0") +
            record("M", "") +
            record("B", "Subject: %s\n\nbody\n" % marker) +
            record("X", ""))


def fake_id(seq):
    """A well-formed queue ID, older than anything postdrop makes now."""
    return "%08X%05XQ%X" % (0x60000000 + seq, random.randrange(0x100000),
                            random.randrange(1, 1 << 30))


def processes_of(inst, program):
    """PIDs of the instance's processes running program."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 2 and os.path.basename(argv[0]) == program.encode() \
                and inst.dir.encode() in argv:
            pids.append(int(pid))
    return pids


class PickupCase(PosthornTestCase):
    def started(self, **settings):
        inst = self.make_instance()
        intake_only(inst)
        if settings:
            inst.conf(**settings)
        inst.start()
        return inst


class TestPickup(PickupCase):
    def test_submitted_while_stopped(self):
        """Messages submitted while the instance is stopped wait in
        maildrop/ and are picked up after start."""
        inst = self.started()
        inst.stop()
        for i in range(5):
            proc = sendmail(inst, "-f", "early@example.com",
                            "r%d@example.com" % i,
                            input="Subject: stopped-%d\n\nbody\n" % i)
            self.assertEqual(proc.returncode, EX_OK, proc.stderr)
        self.assertEqual(len(maildrop_files(inst)), 5)
        self.assertEqual(queued_files(inst), {})
        inst.start()
        self.assertTrue(wait_queued(inst, 5, timeout=90),
                        "maildrop still holds %s" % maildrop_files(inst))
        msgs = queued_messages(inst)
        for i in range(5):
            m = one_message(msgs, "stopped-%d" % i)
            self.assertEqual(m["rcpts"][0][0], "r%d@example.com" % i)
            self.assertEqual(m["sender"], "early@example.com")

    def test_corrupt_maildrop_files(self):
        """Truncated files, wrong record types, huge declared lengths and
        other junk land in corrupt/ with a log line; pickup goes on with
        the next good file."""
        inst = self.started()
        inst.stop()
        good = good_stream("crafted-good")
        crafted = {
            "truncated": good[:len(good) // 2],
            "truncated-header": good[:len(good) - 3],
            "wrong-type-in-envelope": (stream_head() +
                                       record("B", "early block") +
                                       good[len(stream_head()):]),
            "rcpt-in-content": good.replace(
                record("X", ""),
                record("R", b"evil@example.com\0\0" b"0") + record("X", "")),
            "unknown-type": good.replace(record("M", ""),
                                         record("Z", "?") + record("M", "")),
            "huge-length": (stream_head() + b"R\xff\xff\xff\xff" +
                            b"x" * 100),
            "huge-block": good.replace(record("X", ""),
                                       b"B\x00\x10\x00\x00" + b"y" * 64),
            "data-after-end": good + record("B", "smuggled"),
            "no-recipient": good.replace(
                record("R", b"r@example.com\0\0" b"0"), b""),
            "forbidden-attribute": good.replace(
                record("A", "submitter=mallory"),
                record("A", "client_address=10.9.8.7")),
            "garbage": b"hello, I am not a queue file\n",
            "empty": b"",
        }
        md = queue_dir(inst, "maildrop")
        names = {}
        for seq, (what, data) in enumerate(sorted(crafted.items())):
            qid = fake_id(seq)
            names[qid] = what
            with open(os.path.join(md, qid), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(md, qid), 0o644)
        link_id = fake_id(100)
        os.symlink("/etc/passwd", os.path.join(md, link_id))
        names[link_id] = "symlink"
        good_id = fake_id(200)
        with open(os.path.join(md, good_id), "wb") as f:
            f.write(good)
        os.chmod(os.path.join(md, good_id), 0o644)
        # Dot files: postdrop's temporary files; a day-old one is left
        # over from a killed postdrop and removed, the others stay.
        for name, age in ((".tmp.1.stale", 2 * 86400), (".tmp.2.fresh", 0),
                          (".keep", 2 * 86400)):
            path = os.path.join(md, name)
            with open(path, "wb") as f:
                f.write(b"partial")
            then = time.time() - age
            os.utime(path, (then, then))
        inst.start()
        # One more message through sendmail after the junk.
        proc = sendmail(inst, "after@example.com",
                        input="Subject: after-junk\n\nbody\n")
        self.assertEqual(proc.returncode, EX_OK, proc.stderr)
        self.assertTrue(wait_queued(inst, 2, timeout=90),
                        "maildrop still holds %s" % maildrop_files(inst))
        msgs = queued_messages(inst)
        self.assertEqual(len(msgs), 2)
        one_message(msgs, "after-junk")
        crafted_msg = one_message(msgs, "crafted-good")
        # The submitter is the file's owner, not what the file says.
        self.assertEqual(crafted_msg["attrs"]["submitter"],
                         pwd.getpwuid(os.getuid()).pw_name)
        corrupt = set(os.listdir(queue_dir(inst, "corrupt")))
        self.assertEqual(corrupt, set(names), "corrupt/ holds %s" % corrupt)
        log = inst.log()
        for qid, what in names.items():
            self.assertIn("%s: corrupt maildrop file:" % qid, log, what)
        self.assertTrue(os.path.islink(os.path.join(
            queue_dir(inst, "corrupt"), link_id)))
        self.assertNotIn("root:x:0:0", log)
        self.assertEqual(sorted(os.listdir(md)), [".keep", ".tmp.2.fresh"])
        self.assertIn(".tmp.1.stale: removed stale temporary file", log)

    def test_rejected_message(self):
        """A message cleanup rejects for good (here a mail loop: 60
        Received: headers) is logged and moved to corrupt/ (until bounces
        exist); pickup goes on."""
        inst = self.started()
        loop = "".join("Received: from hop%d.example by x.example; "
                       "Sat, 1 Jan 2000 00:00:00 +0000\n" % i
                       for i in range(60))
        proc = sendmail(inst, "r@example.com",
                        input=loop + "Subject: looping\n\nbody\n")
        self.assertEqual(proc.returncode, EX_OK, proc.stderr)
        proc = sendmail(inst, "r@example.com",
                        input="Subject: fine\n\nbody\n")
        self.assertEqual(proc.returncode, EX_OK, proc.stderr)
        self.assertTrue(wait_queued(inst, 1))
        self.assertTrue(wait_for(
            lambda: os.listdir(queue_dir(inst, "corrupt")), timeout=30))
        msgs = queued_messages(inst)
        self.assertEqual(len(msgs), 1)
        one_message(msgs, "Subject: fine")
        bad = os.listdir(queue_dir(inst, "corrupt"))
        self.assertEqual(len(bad), 1)
        self.assertIn("%s: reject: 5.4.6" % bad[0], inst.log())

    def test_kill_cleanup_during_submissions(self):
        """kill -9 of cleanup while 50 sendmails run: every sendmail that
        exited 0 has its message in the queue afterwards; the others
        exited EX_TEMPFAIL."""
        inst = self.started(service_throttle_time="1s")
        stop = threading.Event()
        kills = []

        def killer():
            while not stop.is_set():
                for pid in processes_of(inst, "cleanup"):
                    try:
                        os.kill(pid, signal.SIGKILL)
                        kills.append(pid)
                    except OSError:
                        pass
                time.sleep(0.02)

        results = {}

        def submit(i):
            results[i] = sendmail(inst, "-f", "k@example.com",
                                  "r%d@example.com" % i,
                                  input="Subject: kill-%d\n\n%s\n" % (
                                      i, "z" * (i * 997)))

        t = threading.Thread(target=killer)
        t.start()
        workers = [threading.Thread(target=submit, args=(i,))
                   for i in range(50)]
        for w in workers:
            w.start()
        started = time.monotonic()
        for w in workers:
            w.join(120)
        # Keep killing while pickup hands the files over.
        time.sleep(max(0.0, 3 - (time.monotonic() - started)))
        stop.set()
        t.join()
        codes = {i: r.returncode for i, r in results.items()}
        self.assertEqual(len(codes), 50)
        self.assertTrue(all(c in (EX_OK, EX_TEMPFAIL)
                            for c in codes.values()), codes)
        accepted = [i for i, c in codes.items() if c == EX_OK]

        def all_there():
            poke_pickup(inst)
            if maildrop_files(inst):
                return False
            content = [m["content"] for m in queued_messages(inst)]
            return all(any(b"Subject: kill-%d\n" % i in c for c in content)
                       for i in accepted)

        self.assertTrue(wait_for(all_there, timeout=120, interval=1),
                        "maildrop: %d files, queued: %d, accepted: %d" % (
                            len(maildrop_files(inst)),
                            len(queued_files(inst)), len(accepted)))
        # Messages may be queued twice (cleanup killed after its fsync,
        # before its reply), never lost, never damaged.
        for m in queued_messages(inst):
            self.assertEqual(m["types"][-1], "X")
        print("\n  %d sendmails exited 0, %d kills of cleanup, %d queued" % (
            len(accepted), len(kills), len(queued_files(inst))))


@unittest.skipUnless(os.geteuid() == 0, "needs root")
class TestPrivileges(PickupCase):
    """Run as root: the instance runs as mail_owner; a normal user
    (nobody) submits through a set-gid postdrop."""

    def setUp(self):
        try:
            self.user = pwd.getpwnam("nobody")
            self.postdrop_gid = grp.getgrnam("postdrop").gr_gid
        except KeyError as e:
            self.skipTest("missing account: %s" % e)

    def setup_bin(self, inst):
        """Copies of sendmail and a set-gid postdrop for this test."""
        bindir = os.path.join(os.path.dirname(inst.dir), "bin")
        os.mkdir(bindir)
        os.chmod(bindir, 0o755)
        for prog in (SENDMAIL, POSTDROP):
            shutil.copy(prog, bindir)
        pd = os.path.join(bindir, "postdrop")
        os.chown(pd, 0, self.postdrop_gid)
        os.chmod(pd, 0o2755)
        inst.conf(command_directory=bindir)
        return os.path.join(bindir, "sendmail")

    def as_user(self, args, input=b"", env=None):
        env = dict(env or {}, PATH="/usr/bin:/bin")
        return subprocess.run(args, input=input, capture_output=True,
                              user=self.user.pw_uid,
                              group=self.user.pw_gid, extra_groups=[],
                              env=env, timeout=60, cwd="/")

    def probe(self, *paths):
        """As nobody: what open/create/list of each path gives."""
        code = (
            "import os, sys\n"
            "for p in sys.argv[1:]:\n"
            "    what, _, path = p.partition(':')\n"
            "    try:\n"
            "        if what == 'create':\n"
            "            os.close(os.open(path, os.O_WRONLY | os.O_CREAT,"
            " 0o644))\n"
            "        elif what == 'read':\n"
            "            open(path, 'rb').read(1)\n"
            "        else:\n"
            "            os.listdir(path)\n"
            "        print(p, 'ok')\n"
            "    except OSError as e:\n"
            "        print(p, 'denied' if e.errno in (1, 13) else e.errno)\n")
        python = shutil.which("python3", path="/usr/bin:/bin")
        if python is None:
            self.skipTest("no system python3 for the user probe")
        proc = self.as_user([python, "-c", code] + list(paths))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return dict(line.rsplit(" ", 1)
                    for line in proc.stdout.decode().splitlines())

    def test_normal_user_submission(self):
        inst = self.started()
        sm = self.setup_bin(inst)
        qd = queue_dir(inst)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(qd, "maildrop"))
                                      .st_mode), 0o730)
        proc = self.as_user([sm, "-C", inst.dir, "r1@example.com"],
                            input=b"Subject: from-nobody\n\nbody\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = self.as_user([sm, "-C", inst.dir, "-f", "ceo@example.com",
                             "r2@example.com"],
                            input=b"Subject: forged-by-nobody\n\nbody\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(wait_queued(inst, 2))
        msgs = queued_messages(inst)
        m = one_message(msgs, "from-nobody")
        self.assertEqual(m["attrs"]["submitter"], "nobody")
        self.assertTrue(m["sender"] == "nobody" or
                        m["sender"].startswith("nobody@"), m["sender"])
        m = one_message(msgs, "forged-by-nobody")
        self.assertEqual(m["attrs"]["submitter"], "nobody")
        self.assertEqual(m["sender"], "ceo@example.com")
        log = inst.log()
        self.assertIn("uid=%d from=<nobody>" % self.user.pw_uid, log)
        self.assertIn("sender <ceo@example.com> set by uid %d (nobody)" %
                      self.user.pw_uid, log)
        # Without the set-gid helper nobody cannot write maildrop/.
        os.chmod(os.path.join(os.path.dirname(sm), "postdrop"), 0o755)
        proc = self.as_user([sm, "-C", inst.dir, "r3@example.com"],
                            input=b"Subject: no-setgid\n\nbody\n")
        self.assertEqual(proc.returncode, EX_TEMPFAIL, proc.stderr)

    def test_queue_is_closed_to_normal_users(self):
        inst = self.started()
        sm = self.setup_bin(inst)
        qd = queue_dir(inst)
        # A message of root's waiting in maildrop (instance stopped),
        # and one in incoming.
        proc = sendmail(inst, "r@example.com",
                        input="Subject: private-1\n\nsecret\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(wait_queued(inst, 1))
        incoming_id = list(queued_files(inst))[0]
        inst.stop()
        proc = sendmail(inst, "r@example.com",
                        input="Subject: private-2\n\nsecret\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        drop_id = maildrop_files(inst)[0]
        dirs = ["maildrop", "incoming", "active", "deferred", "hold",
                "corrupt", "bounce", "defer", "private", "public"]
        probes = ["create:%s/%s/x" % (qd, d) for d in dirs]
        probes += ["list:%s/%s" % (qd, d) for d in dirs]
        probes += ["read:%s/maildrop/%s" % (qd, drop_id),
                   "read:%s/incoming/%s" % (qd, incoming_id)]
        result = self.probe(*probes)
        self.assertEqual({p: r for p, r in result.items() if r != "denied"},
                         {})
        # mailq as nobody shows nothing of root's mail.
        proc = self.as_user([sm, "-C", inst.dir, "-bp"])
        self.assertNotIn(incoming_id.encode(), proc.stdout)
        self.assertNotIn(drop_id.encode(), proc.stdout)
        # nobody's own submission works while stopped, only via postdrop.
        proc = self.as_user([sm, "-C", inst.dir, "r@example.com"],
                            input=b"Subject: nobody-stopped\n\nbody\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        owners = {os.stat(os.path.join(qd, "maildrop", n)).st_uid
                  for n in maildrop_files(inst)}
        self.assertEqual(owners, {0, self.user.pw_uid})
        inst.start()
        # (test_submitted_while_stopped waits for master's wakeup; here a
        # trigger like postdrop's saves the minute.)
        self.assertTrue(wait_for(lambda: poke_pickup(inst) or
                                 wait_queued(inst, 3, timeout=1),
                                 timeout=90))
        m = one_message(queued_messages(inst), "nobody-stopped")
        self.assertEqual(m["attrs"]["submitter"], "nobody")

    def test_postdrop_refuses_junk(self):
        """postdrop run directly by a user checks its input: junk is
        EX_DATAERR and leaves nothing in maildrop/."""
        inst = self.started()
        sm = self.setup_bin(inst)
        pd = os.path.join(os.path.dirname(sm), "postdrop")
        inst.stop()
        for junk in (b"", b"garbage", good_stream("x")[:30],
                     good_stream("x") + b"more"):
            proc = self.as_user([pd, "-c", inst.dir], input=junk)
            self.assertEqual(proc.returncode, 65, (junk, proc.stderr))
        proc = self.as_user([pd, "-c", inst.dir, "-x"], input=b"")
        self.assertEqual(proc.returncode, 64)
        self.assertEqual(os.listdir(queue_dir(inst, "maildrop")), [])
        # A well-formed stream is accepted; the caller's attributes are
        # replaced by the real submitter.
        proc = self.as_user([pd, "-c", inst.dir],
                            input=good_stream("direct"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        qid = proc.stdout.decode().strip()
        path = os.path.join(queue_dir(inst, "maildrop"), qid)
        env = parse_queue_file(path)
        self.assertEqual(env["attrs"], {"submitter": "nobody"})
        st = os.stat(path)
        self.assertEqual(st.st_uid, self.user.pw_uid)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644)


if __name__ == "__main__":
    unittest.main()
