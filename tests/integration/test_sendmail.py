"""test_sendmail.py: the sendmail wrapper (issue 4): messages through
sendmail -> postdrop -> maildrop/ -> pickup -> cleanup -> incoming/, with
the envelopes checked in the queue (`posthorn queue list --json`, `queue
show`, and the queue files themselves); -t, -i, -f, -F, -N/-R/-V, -bs,
-bp/mailq, -bi/newaliases, -q, input normalization, and the sysexits.h
exit codes.

Each instance runs without qmgr and the delivery agents (removed from its
master.cf), so accepted mail stays in incoming/ where the test can look.
"""
import concurrent.futures
import json
import os
import socket
import subprocess
import time
import unittest

import harness
from harness import PosthornTestCase, wait_for

SENDMAIL = os.path.join(harness.BIN, "sendmail")
MAILQ = os.path.join(harness.BIN, "mailq")
NEWALIASES = os.path.join(harness.BIN, "newaliases")

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOUSER = 67
EX_SOFTWARE = 70
EX_OSFILE = 72
EX_TEMPFAIL = 75
EX_CONFIG = 78

# Queues where an accepted message can be (no qmgr: incoming only).
QUEUES = ("incoming", "active", "deferred", "hold")
# Services that would move or deliver mail: left out of test instances.
DELIVERY_SERVICES = ("qmgr", "bounce", "smtp", "local")

NOTIFY_FLAGS = {"NEVER": 1, "SUCCESS": 2, "FAILURE": 4, "DELAY": 8}


def sendmail(inst, *args, input=b"", timeout=60, **kwargs):
    """Run sendmail -C inst.dir ARGS with input (bytes) on stdin."""
    if isinstance(input, str):
        input = input.encode()
    return subprocess.run([SENDMAIL, "-C", inst.dir] + list(args),
                          input=input, capture_output=True,
                          timeout=timeout, **kwargs)


def intake_only(inst):
    """Drop the services that would move mail out of incoming/."""
    path = os.path.join(inst.dir, "master.cf")
    with open(path) as f:
        lines = f.read().splitlines()
    out, skip = [], False
    for line in lines:
        if line and not line[0].isspace() and not line.startswith("#"):
            skip = line.split()[0] in DELIVERY_SERVICES
        elif line.startswith("#"):
            skip = False
        if not skip:
            out.append(line)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def parse_queue_file(path):
    """Parse a queue file (docs/queue-format.md) into a dict."""
    with open(path, "rb") as f:
        data = f.read()
    env = {"sender": None, "rcpts": [], "attrs": {}, "envid": None,
           "ret": None, "content": b"", "types": ""}
    pos = 0
    while pos < len(data):
        if pos + 5 > len(data):
            raise ValueError("%s: truncated record header" % path)
        rtype = chr(data[pos])
        n = int.from_bytes(data[pos + 1:pos + 5], "big")
        payload = data[pos + 5:pos + 5 + n]
        if len(payload) != n:
            raise ValueError("%s: truncated record" % path)
        pos += 5 + n
        env["types"] += rtype
        if rtype == "F":
            env["sender"] = payload.decode("utf-8", "replace")
        elif rtype in "RD":
            addr, orcpt, notify = payload.split(b"\0")
            env["rcpts"].append((addr.decode("utf-8", "replace"),
                                 orcpt.decode("utf-8", "replace"),
                                 int(notify)))
        elif rtype == "A":
            key, _, value = payload.decode("utf-8", "replace").partition("=")
            env["attrs"][key] = value
        elif rtype == "E":
            env["envid"] = payload.decode()
        elif rtype == "N":
            env["ret"] = payload.decode()
        elif rtype == "B":
            env["content"] += payload
    return env


def queue_dir(inst, name=""):
    return os.path.join(inst.dir, "queue", name)


def queued_files(inst, queues=QUEUES):
    """{queue ID: path} of every message file in the given queues."""
    found = {}
    for q in queues:
        top = queue_dir(inst, q)
        if not os.path.isdir(top):
            continue
        for root, _dirs, files in os.walk(top):
            for name in files:
                if not name.startswith("."):
                    found[name] = os.path.join(root, name)
    return found


def maildrop_files(inst):
    d = queue_dir(inst, "maildrop")
    return [n for n in os.listdir(d) if not n.startswith(".")] \
        if os.path.isdir(d) else []


def queued_messages(inst):
    """Parsed queue files of every accepted message."""
    return [parse_queue_file(p) for p in queued_files(inst).values()]


def wait_queued(inst, count, timeout=60):
    """Wait until count messages are in the queue and maildrop is empty."""
    return wait_for(lambda: len(queued_files(inst)) >= count and
                    not maildrop_files(inst), timeout=timeout, interval=0.2)


def poke_pickup(inst):
    """Send pickup a wakeup trigger, as postdrop does."""
    path = os.path.join(queue_dir(inst, "public"), "pickup")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1)
        s.connect(path)
        s.sendall(b"W")
    except OSError:
        pass
    finally:
        s.close()


def one_message(msgs, marker):
    """The one queued message whose content holds marker."""
    found = [m for m in msgs if marker.encode() in m["content"]]
    if len(found) != 1:
        raise AssertionError("%d messages hold %r" % (len(found), marker))
    return found[0]


class SendmailCase(PosthornTestCase):
    def started(self, **settings):
        inst = self.make_instance()
        intake_only(inst)
        if settings:
            inst.conf(**settings)
        inst.start()
        return inst

    def submit(self, inst, *args, input=b"", want=EX_OK):
        proc = sendmail(inst, *args, input=input)
        self.assertEqual(proc.returncode, want,
                         "sendmail %s exited %d: %s" % (
                             " ".join(args), proc.returncode,
                             proc.stderr.decode(errors="replace")))
        return proc


class TestSendmailQueue(SendmailCase):
    def test_thousand_messages(self):
        """1,000 messages land in the queue with the right envelopes and
        distinct queue IDs."""
        inst = self.started()
        count = 1000

        def one(i):
            return sendmail(inst, "-f", "sender%d@example.com" % i,
                            "rcpt%d@example.net" % i,
                            input="Subject: message %d\n\nbody %d\n" % (i, i))

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
            results = list(ex.map(one, range(count)))
        bad = [(i, r.returncode, r.stderr) for i, r in enumerate(results)
               if r.returncode != 0]
        self.assertEqual(bad, [])
        self.assertTrue(wait_queued(inst, count, timeout=300),
                        "%d queued, %d in maildrop" % (
                            len(queued_files(inst)),
                            len(maildrop_files(inst))))
        listing = inst.posthorn("queue", "list", "--json").stdout
        items = [json.loads(line) for line in listing.splitlines() if line]
        self.assertEqual(len(items), count)
        ids = [it["queue_id"] for it in items]
        self.assertEqual(len(set(ids)), count)
        seen = set()
        for it in items:
            self.assertTrue(it["sender"].startswith("sender"), it)
            i = int(it["sender"][len("sender"):].split("@")[0])
            self.assertEqual(it["sender"], "sender%d@example.com" % i)
            self.assertEqual([r["address"] for r in it["recipients"]],
                             ["rcpt%d@example.net" % i])
            seen.add(i)
        self.assertEqual(seen, set(range(count)))
        # The content, spot-checked with `queue show`.
        for it in items[:: count // 5]:
            i = int(it["sender"][len("sender"):].split("@")[0])
            shown = inst.posthorn("queue", "show", it["queue_id"]).stdout
            self.assertIn("Subject: message %d" % i, shown)
            self.assertIn("body %d" % i, shown)
        picked = [line for line in inst.log().splitlines()
                  if "/pickup[" in line and ": uid=" in line]
        self.assertEqual(len(picked), count)

    def test_extract_recipients(self):
        """-t: To, Cc and Bcc recipients (and those on the command line)
        in the envelope; the Bcc header is gone."""
        inst = self.started()
        msg = ("From: Alice <alice@example.com>\n"
               "To: a@example.com, \"Bee\" <b@example.com>\n"
               "Cc: c@example.com,\n"
               "  (folded) d@example.com\n"
               "Bcc: secret@example.com\n"
               "Subject: extract\n"
               "\n"
               "Bcc: this body line stays\n")
        self.submit(inst, "-t", "-f", "alice@example.com",
                    "extra@example.com", input=msg)
        self.assertTrue(wait_queued(inst, 1))
        m = queued_messages(inst)[0]
        self.assertEqual(sorted(r[0] for r in m["rcpts"]),
                         ["a@example.com", "b@example.com", "c@example.com",
                          "d@example.com", "extra@example.com",
                          "secret@example.com"])
        self.assertNotIn(b"secret@example.com", m["content"])
        header, _, body = m["content"].partition(b"\n\n")
        self.assertNotIn(b"\nBcc:", b"\n" + header)
        self.assertIn(b"To: a@example.com", header)
        self.assertIn(b"Cc: c@example.com", header)
        self.assertIn(b"Bcc: this body line stays", body)

    def test_resent_headers(self):
        """-t with Resent- headers takes the Resent- recipients only."""
        inst = self.started()
        msg = ("To: original@example.com\n"
               "Resent-To: now@example.com\n"
               "Resent-Bcc: hidden@example.com\n"
               "Subject: resent\n\nbody\n")
        self.submit(inst, "-t", input=msg)
        self.assertTrue(wait_queued(inst, 1))
        m = queued_messages(inst)[0]
        self.assertEqual(sorted(r[0] for r in m["rcpts"]),
                         ["hidden@example.com", "now@example.com"])
        self.assertNotIn(b"hidden@example.com", m["content"])

    def test_input_normalization(self):
        """CRLF and bare LF become LF; 8-bit bytes and long lines survive;
        without -i a "." line ends the input, with -i/-oi it does not."""
        inst = self.started()
        long_line = b"x" * 300000
        eight_bit = b"caf\xc3\xa9 \xff\xfe\x80 raw"
        msg = (b"Subject: norm-1\r\n\r\nline one\r\nline two\n" +
               long_line + b"\r\n" + eight_bit + b"\r\n.\r\nafter dot\r\n")
        self.submit(inst, "r1@example.com", input=msg)
        for flag, marker in (("-i", "norm-2"), ("-oi", "norm-3")):
            self.submit(inst, flag, "r1@example.com",
                        input=b"Subject: " + marker.encode() +
                        b"\n\nbefore\n.\n..two dots\nno final newline")
        self.assertTrue(wait_queued(inst, 3))
        msgs = queued_messages(inst)
        m1 = one_message(msgs, "norm-1")
        self.assertNotIn(b"\r", m1["content"])
        self.assertIn(b"\n\nline one\nline two\n" + long_line + b"\n" +
                      eight_bit + b"\n", m1["content"])
        self.assertTrue(m1["content"].endswith(eight_bit + b"\n"))
        self.assertNotIn(b"after dot", m1["content"])
        for marker in ("norm-2", "norm-3"):
            m = one_message(msgs, marker)
            self.assertTrue(m["content"].endswith(
                b"\n\nbefore\n.\n..two dots\nno final newline\n"),
                m["content"][-80:])

    def test_mbox_from_line(self):
        """An mbox "From " first line is dropped (as in Postfix)."""
        inst = self.started()
        self.submit(inst, "r@example.com",
                    input="From someone Sat Jan  3 01:05:34 1996\n"
                          "Subject: mbox\n\nFrom the body, kept\n")
        self.assertTrue(wait_queued(inst, 1))
        m = queued_messages(inst)[0]
        self.assertNotIn(b"1996", m["content"])
        self.assertIn(b"\nFrom the body, kept\n", m["content"])

    def test_sender_and_full_name(self):
        """-f / -r set the sender (also "<>"); -F adds From: only when
        there is none; without -f the sender is the login name."""
        inst = self.started()
        self.submit(inst, "-F", "Joe Q. User", "r@example.com",
                    input="Subject: fullname-1\n\nbody\n")
        self.submit(inst, "-fbounces@example.com", "-F", "Ignored",
                    "r@example.com",
                    input="From: Real <real@example.com>\n"
                          "Subject: fullname-2\n\nbody\n")
        self.submit(inst, "-r", "<>", "r@example.com",
                    input="Subject: fullname-3\n\nbody\n")
        self.submit(inst, "-f", "Some One <one@example.com>",
                    "r@example.com", input="Subject: fullname-4\n\nbody\n")
        self.assertTrue(wait_queued(inst, 4))
        msgs = queued_messages(inst)
        login = __import__("pwd").getpwuid(os.getuid()).pw_name
        m1 = one_message(msgs, "fullname-1")
        self.assertTrue(m1["sender"] == login or
                        m1["sender"].startswith(login + "@"), m1["sender"])
        self.assertIn(b'From: "Joe Q. User" <' + login.encode() + b"@",
                      m1["content"])
        m2 = one_message(msgs, "fullname-2")
        self.assertEqual(m2["sender"], "bounces@example.com")
        self.assertEqual(m2["content"].count(b"From:"), 1)
        self.assertIn(b"From: Real <real@example.com>", m2["content"])
        self.assertEqual(one_message(msgs, "fullname-3")["sender"], "")
        self.assertEqual(one_message(msgs, "fullname-4")["sender"],
                         "one@example.com")
        self.assertEqual(m1["attrs"].get("submitter"), login)
        self.assertEqual(m1["attrs"].get("protocol"), "local")

    def test_dsn_options(self):
        """-N, -R, -V become NOTIFY, RET and ENVID; -B and -v are
        accepted; -o options other than -oi are ignored with a warning."""
        inst = self.started()
        proc = self.submit(inst, "-N", "success,delay", "-R", "hdrs",
                           "-V", "envid-42", "-B", "8BITMIME", "-v",
                           "-oem", "-U", "r1@example.com", "r2@example.com",
                           input="Subject: dsn\n\nbody\n")
        self.assertIn(b"-oem ignored", proc.stderr)
        self.submit(inst, "-N", "never", "r3@example.com",
                    input="Subject: dsn-never\n\nbody\n")
        self.assertTrue(wait_queued(inst, 2))
        msgs = queued_messages(inst)
        m = one_message(msgs, "Subject: dsn\n")
        self.assertEqual(m["envid"], "envid-42")
        self.assertEqual(m["ret"], "HDRS")
        self.assertEqual([r[2] for r in m["rcpts"]],
                         [NOTIFY_FLAGS["SUCCESS"] | NOTIFY_FLAGS["DELAY"]] * 2)
        m = one_message(msgs, "dsn-never")
        self.assertEqual(m["rcpts"][0][2], NOTIFY_FLAGS["NEVER"])

    def test_recipient_lists_on_command_line(self):
        """An argument may hold an address list; "--" ends the options;
        unqualified names are left to cleanup."""
        inst = self.started()
        self.submit(inst, "--", "a@example.com, B <b@example.com>",
                    "-dash@example.com",
                    input="Subject: args\n\nbody\n")
        self.assertTrue(wait_queued(inst, 1))
        m = queued_messages(inst)[0]
        self.assertEqual(sorted(r[0] for r in m["rcpts"]),
                         ["-dash@example.com", "a@example.com",
                          "b@example.com"])

    def test_bs_smtp_dialogue(self):
        """-bs: an SMTP session on stdin/stdout; each DATA is queued
        through postdrop; dot-stuffing is undone."""
        inst = self.started(message_size_limit="100000")
        p = subprocess.Popen([SENDMAIL, "-C", inst.dir, "-bs"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())

        def reply():
            lines = []
            while True:
                line = p.stdout.readline().decode()
                self.assertTrue(line.endswith("\r\n"), repr(line))
                lines.append(line)
                if len(line) < 4 or line[3] != "-":
                    return lines

        def cmd(text):
            p.stdin.write(text.encode() + b"\r\n")
            p.stdin.flush()
            return reply()

        self.assertTrue(reply()[0].startswith("220 "))
        self.assertTrue(cmd("RCPT TO:<x@example.com>")[0].startswith("503"))
        ehlo = "".join(cmd("EHLO client.example"))
        for ext in ("SIZE 100000", "8BITMIME", "DSN", "PIPELINING"):
            self.assertIn(ext, ehlo)
        self.assertTrue(cmd("MAIL FROM:<big@example.com> SIZE=200000")[0]
                        .startswith("552"))
        self.assertTrue(cmd("MAIL FROM:<s@example.com> SIZE=100 "
                            "BODY=8BITMIME RET=HDRS ENVID=e+2Bid")[0]
                        .startswith("250"))
        self.assertTrue(cmd("RCPT TO:<r@example.com> NOTIFY=FAILURE "
                            "ORCPT=rfc822;R@example.com")[0]
                        .startswith("250"))
        self.assertTrue(cmd("DATA")[0].startswith("354"))
        p.stdin.write(b"Subject: bs-1\r\n\r\n..leading dot\r\n"
                      b"\xc3\xa9t\xc3\xa9\r\n.\r\n")
        p.stdin.flush()
        r = reply()[0]
        self.assertTrue(r.startswith("250 2.0.0 Ok: queued as "), r)
        # Pipelined second transaction after RSET.
        p.stdin.write(b"RSET\r\nMAIL FROM:<>\r\nRCPT TO:<r2@example.com>\r\n"
                      b"DATA\r\n")
        p.stdin.flush()
        self.assertTrue(reply()[0].startswith("250"))
        self.assertTrue(reply()[0].startswith("250"))
        self.assertTrue(reply()[0].startswith("250"))
        self.assertTrue(reply()[0].startswith("354"))
        p.stdin.write(b"Subject: bs-2\r\n\r\nsecond\r\n.\r\n")
        p.stdin.flush()
        self.assertTrue(reply()[0].startswith("250"))
        self.assertTrue(cmd("DATA")[0].startswith("503"))
        self.assertTrue(cmd("VRFY root")[0].startswith("502"))
        self.assertTrue(cmd("QUIT")[0].startswith("221"))
        p.stdin.close()
        self.assertEqual(p.wait(timeout=30), 0)
        self.assertTrue(wait_queued(inst, 2))
        msgs = queued_messages(inst)
        m1 = one_message(msgs, "bs-1")
        self.assertEqual(m1["sender"], "s@example.com")
        self.assertEqual(m1["rcpts"], [("r@example.com",
                                        "rfc822;R@example.com",
                                        NOTIFY_FLAGS["FAILURE"])])
        self.assertEqual(m1["envid"], "e+id")
        self.assertEqual(m1["ret"], "HDRS")
        self.assertIn(b"\n\n.leading dot\n\xc3\xa9t\xc3\xa9\n", m1["content"])
        m2 = one_message(msgs, "bs-2")
        self.assertEqual(m2["sender"], "")
        self.assertEqual(m2["rcpts"][0][0], "r2@example.com")

    def test_mailq_and_flush(self):
        """-bp and mailq list the queue; -q triggers a flush."""
        inst = self.started()
        self.submit(inst, "-f", "lister@example.com", "r@example.com",
                    input="Subject: listed\n\nbody\n")
        self.assertTrue(wait_queued(inst, 1))
        qid = list(queued_files(inst))[0]
        for cmd in ([SENDMAIL, "-C", inst.dir, "-bp"],
                    [MAILQ, "-C", inst.dir]):
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=30)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn(qid, proc.stdout)
            self.assertIn("lister@example.com", proc.stdout)
            self.assertIn("1 Request.", proc.stdout)
        env = dict(os.environ, MAIL_CONFIG=inst.dir)
        proc = subprocess.run([MAILQ], capture_output=True, text=True,
                              env=env, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(qid, proc.stdout)
        proc = sendmail(inst, "-q")
        self.assertEqual(proc.returncode, 0, proc.stderr)


class TestSendmailExitCodes(SendmailCase):
    def test_usage_errors(self):
        inst = self.make_instance()
        msg = "Subject: x\n\nbody\n"
        cases = [
            (["-Z", "r@example.com"], EX_USAGE),
            ([], EX_USAGE),
            (["-i"], EX_USAGE),
            (["-f"], EX_USAGE),
            (["-N", "sometimes", "r@example.com"], EX_USAGE),
            (["-R", "maybe", "r@example.com"], EX_USAGE),
            (["-V", "", "r@example.com"], EX_USAGE),
            (["-B", "9BIT", "r@example.com"], EX_USAGE),
            (["-bz"], EX_USAGE),
            (["-bp", "r@example.com"], EX_USAGE),
            (["-f", "a@@b", "r@example.com"], EX_USAGE),
            (["a@@example.com"], EX_DATAERR),
            (["-bi", "r@example.com"], EX_USAGE),
        ]
        for args, want in cases:
            proc = sendmail(inst, *args, input=msg)
            self.assertEqual(proc.returncode, want,
                             "%s: %s" % (args, proc.stderr))
            self.assertTrue(proc.stderr, args)
        proc = subprocess.run([NEWALIASES, "-C", inst.dir],
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = subprocess.run([SENDMAIL, "-C", inst.dir + "/nope",
                               "r@example.com"], input=b"x\n",
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, EX_CONFIG)

    def test_header_errors(self):
        """-t without recipients is EX_USAGE, with a malformed address
        header EX_DATAERR; nothing is queued."""
        inst = self.started()
        proc = sendmail(inst, "-t", input="Subject: none\n\nbody\n")
        self.assertEqual(proc.returncode, EX_USAGE, proc.stderr)
        proc = sendmail(inst, "-t",
                        input="To: <unterminated@example.com\n\nbody\n")
        self.assertEqual(proc.returncode, EX_DATAERR, proc.stderr)
        proc = sendmail(inst, "-t", input="To: a@@example.com\n\nx\n")
        self.assertEqual(proc.returncode, EX_DATAERR, proc.stderr)
        time.sleep(1)
        self.assertEqual(maildrop_files(inst), [])
        self.assertEqual(queued_files(inst), {})

    def test_too_large(self):
        inst = self.started(message_size_limit="2000")
        proc = sendmail(inst, "r@example.com",
                        input="Subject: big\n\n" + "y" * 5000 + "\n")
        self.assertEqual(proc.returncode, EX_DATAERR, proc.stderr)
        self.submit(inst, "r@example.com",
                    input="Subject: small\n\n" + "y" * 500 + "\n")
        self.assertTrue(wait_queued(inst, 1))
        self.assertEqual(len(queued_files(inst)), 1)
        self.assertEqual(maildrop_files(inst), [])

    def test_maildrop_unwritable(self):
        """EX_TEMPFAIL when maildrop cannot be written; EX_OSFILE when
        postdrop is missing."""
        inst = self.make_instance()
        inst.conf(queue_directory=os.path.join(inst.dir, "no-such-queue"))
        proc = sendmail(inst, "r@example.com", input="Subject: x\n\nx\n")
        self.assertEqual(proc.returncode, EX_TEMPFAIL, proc.stderr)
        inst.conf(queue_directory=queue_dir(inst).rstrip("/"),
                  command_directory=os.path.join(inst.dir, "no-bin"))
        proc = sendmail(inst, "r@example.com", input="Subject: x\n\nx\n")
        self.assertEqual(proc.returncode, EX_OSFILE, proc.stderr)


if __name__ == "__main__":
    unittest.main()
