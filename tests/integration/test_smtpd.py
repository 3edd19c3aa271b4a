"""test_smtpd.py: issue 5 acceptance for the smtpd protocol core.

smtpd is driven with python's smtplib, raw sockets and swaks on the
instance's smtp port. The queue manager's master.cf line is removed before
start, so accepted messages stay in queue/incoming where the test reads
them with the queue file parser of test_cleanup.py (written from
docs/queue-format.md) and `posthorn queue list --json`.
smtpd_reject_unlisted_recipient=no: recipient validation and relay control
are tested in the policy helper's files; here every recipient in
example.test is fine (the client is in mynetworks).

Covers: every command and its reply codes with enhanced status codes,
sequence errors, EHLO keywords; the envelope with DSN parameters and the
Received: header in the queue file; pipelined transactions (several
messages, MAIL/RCPT/DATA in one write); BDAT with binary content, a
refused BDAT still read, DATA after BDAT; SMTPUTF8; SIZE at MAIL and an
undeclared 20 MB body; the four smuggling payloads with the default policy
(521, nothing queued) and with normalize (one message); smtpd_timeout;
200 junk commands; the error limits with the growing delay; line length
limits; smtpd_recipient_limit; cleanup verdicts (554 5.4.6, 451 4.3.0);
10 concurrent clients x 100 messages; the Postfix log lines.
"""
import json
import os
import re
import shutil
import smtplib
import socket
import subprocess
import threading
import time

from harness import PosthornTestCase, wait_for
from test_cleanup import (CleanupClient, parse_queue_file, queue_files,
                          temp_files)

HOST = "mail.example.test"
ESC = re.compile(r"^[245]\.[0-9]{1,3}\.[0-9]{1,3} ")


class Raw:
    """A raw SMTP client: exact bytes out, replies parsed."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, [text lines]) of one reply."""
        texts = []
        while True:
            line = self._line()
            code, sep, text = line[:3], line[3:4], line[4:]
            texts.append(text)
            if sep != "-":
                return int(code), texts

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self):
        """True when the server closed the connection (after any
        pending replies)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        self.sock.close()


class TestSmtpd(PosthornTestCase):

    def instance(self, **settings):
        inst = self.make_instance(hostname=HOST, domain="example.test")
        # No queue manager: accepted mail stays in incoming/.
        path = os.path.join(inst.dir, "master.cf")
        with open(path) as f:
            lines = [ln for ln in f if not ln.startswith("qmgr ")]
        with open(path, "w") as f:
            f.writelines(lines)
        base = {"smtpd_reject_unlisted_recipient": "no"}
        base.update(settings)
        inst.conf(**base)
        inst.start()
        self.inst = inst
        self.addCleanup(self.no_abnormal_exits, inst)
        return inst

    def no_abnormal_exits(self, inst):
        """No smtpd or cleanup process died abnormally (with SANITIZE=1
        a sanitizer report, leaks included, shows up as an exit status
        in master's log)."""
        time.sleep(0.3)  # let master reap the last process
        inst.stop()
        bad = [ln for ln in inst.log().splitlines()
               if re.search(r"warning: process \S*/(smtpd|cleanup) ", ln)]
        self.assertEqual(bad, [])

    def port(self):
        return self.inst.port("smtp")

    def raw(self, greet=True, ehlo=True):
        r = Raw(self.port())
        self.addCleanup(r.close)
        if greet:
            code, text = r.reply()
            self.assertEqual(code, 220)
        if ehlo:
            self.assertEqual(r.cmd("EHLO client.example")[0], 250)
        return r

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.port(), timeout=60)
        self.addCleanup(self._close_smtp, s)
        return s

    @staticmethod
    def _close_smtp(s):
        try:
            s.close()
        except Exception:
            pass

    def queued(self):
        return queue_files(self.inst)

    def queue_file(self, qid):
        files = self.queued()
        self.assertIn(qid, files)
        return parse_queue_file(files[qid])

    def log_has(self, pattern, timeout=5):
        return wait_for(lambda: re.search(pattern, self.inst.log(), re.M),
                        timeout)

    def assert_esc(self, code, texts):
        """RFC 2034: an enhanced status code on every reply line."""
        for t in texts:
            self.assertRegex(t, ESC, "%d %s" % (code, t))

    # ---- commands, sequence, enhanced status codes ----

    def test_commands_and_reply_codes(self):
        # Many errors on purpose: no delay, no disconnect for them here.
        self.instance(smtpd_error_sleep_time="0",
                      smtpd_hard_error_limit="100")
        r = self.raw(ehlo=False)
        code, lines = r.cmd("EHLO client.example")
        self.assertEqual(code, 250)
        self.assertEqual(lines[0], HOST)
        for kw in ("PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES",
                   "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING", "STARTTLS"):
            self.assertIn(kw, lines)
        self.assertNotIn("VRFY", lines)  # disable_vrfy_command=yes
        self.assertEqual(r.cmd("HELO client.example"), (250, [HOST]))
        cases = [
            ("NOOP", 250, "2.0.0"), ("NOOP whatever", 250, "2.0.0"),
            ("RSET", 250, "2.0.0"), ("RSET x", 501, "5.5.4"),
            ("VRFY postmaster", 252, "2.0.0"), ("HELP", 214, "2.0.0"),
            ("EXPN list", 502, "5.5.1"), ("ETRN x", 502, "5.5.1"),
            # STARTTLS itself: test_tls.py.
            ("STARTTLS x", 501, "5.5.4"), ("AUTH PLAIN", 503, "5.5.1"),
            ("FOO bar", 500, "5.5.2"), ("", 500, "5.5.2"),
            ("HELO", 501, "5.5.4"), ("EHLO", 501, "5.5.4"),
            ("RCPT TO:<b@example.test>", 503, "5.5.1"),
            ("DATA", 503, "5.5.1"), ("BDAT 0 LAST", 503, "5.5.1"),
            ("MAIL FROM <a@example.org>", 501, "5.5.4"),
            ("MAIL FROM:<a@@example.org>", 501, "5.1.7"),
            ("MAIL FROM:<a@example.org> XFOO=1", 555, "5.5.4"),
            ("MAIL FROM:<a@example.org> BODY=BINARYMIME", 501, "5.5.4"),
            ("MAIL FROM:<a@example.org>", 250, "2.1.0"),
            ("MAIL FROM:<a@example.org>", 503, "5.5.1"),
            ("DATA", 503, "5.5.1"),
            ("RCPT TO:<>", 501, "5.1.3"),
            ("RCPT TO:<b@example.test> NOTIFY=NEVER,DELAY", 501, "5.5.4"),
            ("RCPT TO:<b@example.test> ORCPT=b", 501, "5.5.4"),
            ("DATA", 554, "5.5.1"),  # RCPTs came, none valid
            ("RCPT TO:<b@example.test>", 250, "2.1.5"),
            ("DATA x", 501, "5.5.4"),
            ("RSET", 250, "2.0.0"),
            ("QUIT", 221, "2.0.0"),
        ]
        for line, want, esc in cases:
            code, texts = r.cmd(line)
            self.assertEqual(code, want, "%r -> %d %s" % (line, code,
                                                          texts))
            self.assert_esc(code, texts)
            self.assertTrue(texts[0].startswith(esc), (line, texts))
        self.assertTrue(r.closed())
        self.assertTrue(self.log_has(
            r"disconnect from localhost\[127\.0\.0\.1\] helo=1/2 "
            r"ehlo=1/2 starttls=0/1 auth=0/1 mail=1/6 rcpt=1/5 data=0/4 "
            r"bdat=0/1 rset=2/3 noop=2 vrfy=1 expn=0/1 help=1 etrn=0/1 "
            r"quit=1 unknown=0/2 commands=11/34$"), self.inst.log())
        self.assertTrue(self.log_has(
            r"connect from localhost\[127\.0\.0\.1\]$"))
        self.assertEqual(self.queued(), {})

    def test_vrfy_enabled(self):
        self.instance(disable_vrfy_command="no")
        r = self.raw(ehlo=False)
        code, lines = r.cmd("EHLO client.example")
        self.assertIn("VRFY", lines)
        self.assertEqual(r.cmd("VRFY <b@example.test>"),
                         (252, ["2.0.0 <b@example.test>"]))
        self.assertEqual(r.cmd("VRFY b@example.test")[0], 252)
        self.assertEqual(r.cmd("VRFY <<>")[0], 501)

    # ---- one message: envelope, DSN, Received, log lines ----

    def test_message_envelope_received_and_logs(self):
        self.instance()
        s = self.smtp()
        s.ehlo("client.example")
        self.assertEqual(s.mail("a@example.org", [
            "SIZE=100", "BODY=8BITMIME", "RET=HDRS",
            "ENVID=QQ+2B1"])[0], 250)
        self.assertEqual(s.rcpt("b@example.test", [
            "NOTIFY=SUCCESS,FAILURE",
            "ORCPT=rfc822;b+2Bx@example.test"])[0], 250)
        body = (b"Subject: one\r\n\r\n.leading dot\r\n..two dots\r\n"
                b"\xe9 8-bit\r\nlast")
        code, text = s.data(body)
        self.assertEqual(code, 250)
        m = re.match(rb"2\.0\.0 Ok: queued as ([0-9A-F]+Q[0-9A-F]+)$", text)
        self.assertIsNotNone(m, text)
        qid = m.group(1).decode()
        s.quit()
        q = self.queue_file(qid)
        self.assertEqual(q["sender"], "a@example.org")
        self.assertEqual(q["rcpts"], [("b@example.test",
                                       "rfc822;b+x@example.test", 6)])
        self.assertEqual(q["envid"], "QQ+1")
        self.assertEqual(q["ret"], "HDRS")
        self.assertEqual(q["attrs"]["client_name"], "localhost")
        self.assertEqual(q["attrs"]["client_address"], "127.0.0.1")
        self.assertEqual(q["attrs"]["helo_name"], "client.example")
        self.assertEqual(q["attrs"]["protocol"], "ESMTP")
        self.assertTrue(q["attrs"]["client_port"].isdigit())
        content = q["content"]
        received = re.match(
            rb"Received: from client\.example \(localhost \[127\.0\.0\.1\]"
            rb"\)\n\tby mail\.example\.test \(posthorn\) with ESMTP id "
            + qid.encode() + rb"\n\tfor <b@example\.test>; "
            rb"[A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} "
            rb"[0-9:]{8} [+-][0-9]{4}\n", content)
        self.assertIsNotNone(received, content[:300])
        # smtplib dot-stuffs and smtpd unstuffs: the lines come back as
        # sent; CRLF -> LF, 8-bit kept, a last line without line end
        # gets one.
        self.assertTrue(content.endswith(
            b"\n\n.leading dot\n..two dots\n\xe9 8-bit\nlast\n"),
            content)
        self.assertNotIn(b"\r", content)
        self.assertTrue(self.log_has(
            r"^.*posthorn/smtpd\[[0-9]+\]: %s: client=localhost"
            r"\[127\.0\.0\.1\]$" % qid))
        self.assertTrue(self.log_has(
            r"disconnect from localhost\[127\.0\.0\.1\] ehlo=1 mail=1 "
            r"rcpt=1 data=1 quit=1 commands=5$"))
        # The JSON listing agrees.
        out = self.inst.posthorn("queue", "list", "--json").stdout
        msgs = [json.loads(ln) for ln in out.splitlines() if ln.strip()]
        self.assertEqual([(m["queue_id"], m["sender"]) for m in msgs],
                         [(qid, "a@example.org")])

    def test_received_with_helo_and_several_recipients(self):
        self.instance()
        r = self.raw(ehlo=False)
        self.assertEqual(r.cmd("HELO old.client")[0], 250)
        r.cmd("MAIL FROM:<>")
        r.cmd("RCPT TO:<x@example.test>")
        r.cmd("RCPT TO:<y@example.test>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        code, texts = r.cmd("Subject: two\r\n\r\nx\r\n..dotted\r\n"
                            "...\r\n.")
        self.assertEqual(code, 250)
        qid = texts[0].split()[-1]
        q = self.queue_file(qid)
        self.assertEqual(q["sender"], "")
        self.assertEqual([x[0] for x in q["rcpts"]],
                         ["x@example.test", "y@example.test"])
        self.assertRegex(
            q["content"].decode(),
            r"^Received: from old\.client \(localhost \[127\.0\.0\.1\]\)\n"
            r"\tby mail\.example\.test \(posthorn\) with SMTP id %s;\n"
            r"\t[A-Z][a-z]{2}, " % qid)
        self.assertEqual(q["attrs"]["protocol"], "SMTP")
        # RFC 5321 4.5.2: one leading dot removed.
        self.assertTrue(q["content"].endswith(b"\n\nx\n.dotted\n..\n"))

    def test_ipv6_client_and_peername_lookup(self):
        self.instance()
        s = smtplib.SMTP("::1", self.port(), timeout=60)
        self.addCleanup(self._close_smtp, s)
        s.ehlo("v6.example")
        s.sendmail("a@example.org", ["b@example.test"], b"Subject: 6\r\n\r\nx")
        s.quit()
        (qid,) = self.queued()
        q = self.queue_file(qid)
        self.assertTrue(q["content"].startswith(
            b"Received: from v6.example (localhost [IPv6:::1])\n"),
            q["content"][:100])
        self.assertEqual(q["attrs"]["client_address"], "::1")
        self.assertTrue(self.log_has(r"connect from localhost\[::1\]$"))
        # Without lookups every client is "unknown".
        self.inst.conf(smtpd_peername_lookup="no")
        self.inst.posthorn("reload")
        self.assertTrue(wait_for(lambda: self._unknown_client(), 10))

    def _unknown_client(self):
        try:
            r = Raw(self.port(), timeout=5)
            r.reply()
            r.cmd("QUIT")
            r.close()
        except OSError:
            return False
        return re.search(r"connect from unknown\[127\.0\.0\.1\]$",
                         self.inst.log(), re.M)

    # ---- pipelining ----

    def test_pipelined_transactions(self):
        self.instance()
        r = self.raw(ehlo=False)
        # One write: EHLO, two transactions' envelopes, DATA last.
        r.send("EHLO client.example\r\nMAIL FROM:<p1@example.org>\r\n"
               "RCPT TO:<q1@example.test>\r\nRCPT TO:<bad>\r\n"
               "RCPT TO:<q2@example.test>\r\nDATA\r\n")
        self.assertEqual(r.reply()[0], 250)  # EHLO
        self.assertEqual([r.reply()[0] for _ in range(5)],
                         [250, 250, 501, 250, 354])
        # The content, its end, the next transaction and its DATA in one
        # write (RFC 2920: DATA ends a group).
        r.send("Subject: m1\r\n\r\nfirst\r\n.\r\n"
               "MAIL FROM:<p2@example.org>\r\nRCPT TO:<q3@example.test>\r\n"
               "DATA\r\n")
        codes = [r.reply() for _ in range(4)]
        self.assertEqual([c for c, _ in codes], [250, 250, 250, 354])
        qid1 = codes[0][1][0].split()[-1]
        r.send("Subject: m2\r\n\r\nsecond\r\n.\r\nMAIL FROM:<p3@example.org>"
               "\r\nRCPT TO:<q4@example.test>\r\nDATA\r\n")
        codes = [r.reply() for _ in range(4)]
        self.assertEqual([c for c, _ in codes], [250, 250, 250, 354])
        qid2 = codes[0][1][0].split()[-1]
        r.send("Subject: m3\r\n\r\nthird\r\n.\r\nQUIT\r\n")
        code, texts = r.reply()
        self.assertEqual(code, 250)
        qid3 = texts[0].split()[-1]
        self.assertEqual(r.reply()[0], 221)
        self.assertTrue(r.closed())
        want = {qid1: ("p1@example.org", ["q1@example.test",
                                          "q2@example.test"], b"first"),
                qid2: ("p2@example.org", ["q3@example.test"], b"second"),
                qid3: ("p3@example.org", ["q4@example.test"], b"third")}
        self.assertEqual(set(self.queued()), set(want))
        for qid, (sender, rcpts, body) in want.items():
            q = self.queue_file(qid)
            self.assertEqual(q["sender"], sender)
            self.assertEqual([x[0] for x in q["rcpts"]], rcpts)
            self.assertTrue(q["content"].endswith(b"\n\n" + body + b"\n"))

    def test_pipelined_replies_come_in_one_write(self):
        """A whole pipelined group is answered at once, in order."""
        self.instance()
        r = self.raw()
        group = "".join("NOOP %d\r\n" % i for i in range(50)) + \
            "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n" \
            "RSET\r\n"
        r.send(group)
        replies = [r.reply() for _ in range(53)]
        self.assertEqual([c for c, _ in replies], [250] * 53)
        self.assertEqual(replies[50][1], ["2.1.0 Ok"])
        self.assertEqual(replies[51][1], ["2.1.5 Ok"])

    # ---- BDAT ----

    def test_bdat_binary(self):
        self.instance()
        r = self.raw()
        r.send("MAIL FROM:<a@example.org> BODY=8BITMIME\r\n"
               "RCPT TO:<b@example.test>\r\n")
        self.assertEqual([r.reply()[0] for _ in range(2)], [250, 250])
        head = b"Subject: binary\r\n\r\n"
        blob = bytes(range(256)) * 4 + b"\r\n.\r\nQUIT\r\n\r\r\n\n.\n\r"
        chunk1 = head + blob[:500]
        chunk2 = blob[500:]
        # Two chunks pipelined in one write, binary bytes and a CRLF
        # split across the boundary included.
        r.send(b"BDAT %d\r\n" % len(chunk1) + chunk1 +
               b"BDAT %d LAST\r\n" % len(chunk2) + chunk2)
        code, texts = r.reply()
        self.assertEqual((code, texts), (250, ["2.0.0 Ok: %d bytes" %
                                               len(chunk1)]))
        code, texts = r.reply()
        self.assertEqual(code, 250, texts)
        qid = texts[0].split()[-1]
        # DATA after BDAT in one transaction is refused; the session goes
        # on in step.
        self.assertEqual(r.cmd("MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<b@example.test>")[0], 250)
        r.send(b"BDAT 3\r\nabc")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.cmd("DATA"), (503, ["5.5.1 Error: DATA after "
                                               "BDAT"]))
        self.assertEqual(r.cmd("RCPT TO:<c@example.test>")[0], 503)
        r.send(b"BDAT 0 LAST\r\n")
        code, texts = r.reply()
        self.assertEqual(code, 250)
        qid2 = texts[0].split()[-1]
        # A refused BDAT (no transaction) is still read to its end.
        r.send(b"BDAT 10\r\nNOOP\r\nNOOP")
        self.assertEqual(r.reply(), (503, ["5.5.1 Error: need MAIL "
                                           "command"]))
        self.assertEqual(r.cmd("NOOP"), (250, ["2.0.0 Ok"]))
        self.assertEqual(r.cmd("BDAT 1x")[0], 501)
        self.assertEqual(r.cmd("QUIT")[0], 221)
        q = self.queue_file(qid)
        want = blob.replace(b"\r\n", b"\n")
        content = q["content"]
        self.assertTrue(content.startswith(b"Received: "), content[:100])
        self.assertIn(b"\nSubject: binary\n", content)
        # Every byte as sent, CRLF as LF (a last line end added).
        self.assertTrue(content.endswith(b"\n\n" + want + b"\n"))
        self.assertTrue(self.queue_file(qid2)["content"].endswith(
            b"\nabc\n"))
        self.assertTrue(self.log_has(
            r"disconnect from localhost\[127\.0\.0\.1\] ehlo=1 mail=2 "
            r"rcpt=2/3 data=0/1 bdat=4/6 noop=1 quit=1 commands=11/15$"))

    # ---- SMTPUTF8 ----

    def test_smtputf8(self):
        self.instance()
        r = self.raw()
        code, texts = r.cmd("MAIL FROM:<j\u00f6rg@example.org>")
        self.assertEqual((code, texts[0][:5]), (553, "5.6.7"))
        self.assertEqual(r.cmd("MAIL FROM:<j\u00f6rg@example.org> "
                               "SMTPUTF8")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<\u00e9l\u00e8ve@example.test>")[0],
                         250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        code, texts = r.cmd("Subject: utf8\r\n\r\nhi\r\n.")
        self.assertEqual(code, 250)
        q = self.queue_file(texts[0].split()[-1])
        self.assertEqual(q["sender"], "j\u00f6rg@example.org")
        self.assertEqual(q["rcpts"][0][0], "\u00e9l\u00e8ve@example.test")
        self.assertIn(b"with UTF8SMTP id", q["content"])
        # Without SMTPUTF8 in MAIL, a UTF-8 recipient is refused.
        r.cmd("MAIL FROM:<a@example.org>")
        code, texts = r.cmd("RCPT TO:<\u00e9l\u00e8ve@example.test>")
        self.assertEqual((code, texts[0][:5]), (553, "5.6.7"))

    # ---- SIZE ----

    def test_size_limits(self):
        self.instance(message_size_limit="10240000")
        r = self.raw()
        code, texts = r.cmd("MAIL FROM:<a@example.org> SIZE=20000000")
        self.assertEqual((code, texts[0][:5]), (552, "5.3.4"))
        self.assertTrue(self.log_has(
            r"NOQUEUE: reject: MAIL from localhost\[127\.0\.0\.1\]: 552 "
            r"5\.3\.4 Message size exceeds fixed limit; from=<a@example"
            r"\.org> proto=ESMTP helo=<client\.example>"))
        # Undeclared 20 MB body: 552 after the end, nothing queued, the
        # session goes on.
        self.assertEqual(r.cmd("MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<b@example.test>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        line = b"x" * 998 + b"\r\n"
        block = line * 1000
        r.send(b"Subject: big\r\n\r\n")
        for _ in range(21):
            r.send(block)
        code, texts = r.cmd(".")
        self.assertEqual((code, texts[0][:5]), (552, "5.3.4"))
        self.assertEqual(self.queued(), {})
        self.assertEqual(r.cmd("NOOP")[0], 250)
        # Over the limit with BDAT too.
        r.cmd("MAIL FROM:<a@example.org>")
        r.cmd("RCPT TO:<b@example.test>")
        r.send(b"BDAT 11000000 LAST\r\n")
        for _ in range(11):
            r.send(b"y" * 1000000)
        code, texts = r.reply()
        self.assertEqual((code, texts[0][:5]), (552, "5.3.4"))
        self.assertEqual(r.cmd("NOOP")[0], 250)
        # Just under the limit is fine.
        r.cmd("MAIL FROM:<a@example.org> SIZE=9000000")
        r.cmd("RCPT TO:<b@example.test>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(b"Subject: ok\r\n\r\n" + line * 9000)
        code, texts = r.cmd(".")
        self.assertEqual(code, 250, texts)
        self.assertEqual(len(self.queued()), 1)

    # ---- smuggling (CVE-2023-51764) ----

    SMUGGLE = {
        "lf_dot_lf": b"\n.\n",
        "lf_dot_crlf": b"\n.\r\n",
        "cr_dot_cr": b"\r.\r",
        "crlf_dot_lf": b"\r\n.\n",
    }

    def smuggle(self, r, end):
        r.cmd("MAIL FROM:<a@example.org>")
        r.cmd("RCPT TO:<b@example.test>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(b"Subject: outer\r\n\r\nouter body" + end +
               b"MAIL FROM:<evil@example.org>\r\n"
               b"RCPT TO:<victim@example.test>\r\nDATA\r\n"
               b"Subject: smuggled\r\n\r\nevil\r\n.\r\n")
        return r.reply()

    def test_smuggling_default_rejects(self):
        self.instance()
        for name, end in self.SMUGGLE.items():
            r = self.raw()
            code, texts = self.smuggle(r, end)
            self.assertEqual(code, 521, name)
            self.assertRegex(texts[0], r"^5\.5\.2 %s Error: bare <(LF|CR)> "
                             r"received$" % re.escape(HOST))
            self.assertTrue(r.closed(), name)
            self.assertEqual(self.queued(), {}, name)
        self.assertTrue(self.log_has(
            r"[0-9A-F]+Q[0-9A-F]+: reject: DATA from localhost"
            r"\[127\.0\.0\.1\]: 521 5\.5\.2 "))
        # A command line ending in a bare LF is refused too.
        r = self.raw(ehlo=False)
        r.send(b"EHLO client.example\n")
        self.assertEqual(r.reply()[0], 521)
        self.assertTrue(r.closed())

    def test_smuggling_normalize_one_message(self):
        self.instance(smtpd_forbid_bare_newline="normalize")
        for name, end in self.SMUGGLE.items():
            before = set(self.queued())
            r = self.raw()
            code, texts = self.smuggle(r, end)
            self.assertEqual(code, 250, (name, texts))
            self.assertEqual(r.cmd("QUIT")[0], 221)
            new = set(self.queued()) - before
            self.assertEqual(len(new), 1, name)
            q = self.queue_file(new.pop())
            self.assertEqual(q["sender"], "a@example.org")
            self.assertEqual([x[0] for x in q["rcpts"]], ["b@example.test"])
            self.assertIn(b"MAIL FROM:<evil@example.org>", q["content"])
            self.assertIn(b"evil\n", q["content"])
        # Bare LF in commands is accepted with normalize.
        r = self.raw(ehlo=False)
        r.send(b"EHLO client.example\nNOOP\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 250)

    # ---- timeouts, junk, errors, line lengths, limits ----

    def test_timeout(self):
        self.instance(smtpd_timeout="2s")
        r = self.raw(ehlo=False)
        start = time.monotonic()
        code, texts = r.reply()
        self.assertEqual(code, 421)
        self.assertEqual(texts, ["4.4.2 %s Error: timeout exceeded" % HOST])
        self.assertTrue(r.closed())
        self.assertLess(time.monotonic() - start, 10)
        self.assertTrue(self.log_has(
            r"timeout after CONNECT from localhost\[127\.0\.0\.1\]$"))
        # In the middle of DATA: dropped, nothing queued.
        r = self.raw()
        r.cmd("MAIL FROM:<a@example.org>")
        r.cmd("RCPT TO:<b@example.test>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(b"Subject: slow\r\n\r\npart")
        self.assertEqual(r.reply()[0], 421)
        self.assertTrue(r.closed())
        self.assertEqual(self.queued(), {})
        self.assertTrue(self.log_has(r"timeout after END-OF-MESSAGE from"))

    def test_200_junk_commands(self):
        self.instance(smtpd_error_sleep_time="0")
        r = self.raw()
        r.send("".join("NOOP\r\n" for _ in range(200)))
        codes = []
        try:
            while True:
                codes.append(r.reply()[0])
        except (EOFError, ConnectionResetError):
            pass
        # 100 junk commands are free; each one after that is an error,
        # and the 20th error (smtpd_hard_error_limit) ends the session.
        self.assertEqual(codes, [250] * 120 + [421])
        self.assertTrue(self.log_has(
            r"too many errors after NOOP from localhost\[127\.0\.0\.1\]"))

    def test_error_limits_and_growing_delay(self):
        self.instance(smtpd_soft_error_limit="2",
                      smtpd_hard_error_limit="4",
                      smtpd_error_sleep_time="1s")
        r = self.raw()
        start = time.monotonic()
        times = []
        for _ in range(4):
            code, _ = r.cmd("BOGUS")
            self.assertEqual(code, 500)
            times.append(time.monotonic() - start)
        code, texts = r.reply()
        self.assertEqual((code, texts[0][:5]), (421, "4.7.0"))
        self.assertTrue(r.closed())
        # Delays 0, 1, 2, 3 seconds: growing.
        self.assertLess(times[0], 0.8)
        self.assertGreater(times[1], 0.9)
        self.assertGreater(times[2] - times[1], 1.8)
        self.assertGreater(times[3] - times[2], 2.8)

    def test_line_length(self):
        self.instance()
        r = self.raw()
        self.assertEqual(r.cmd("NOOP " + "x" * 505)[0], 250)  # 512 octets
        self.assertEqual(r.cmd("NOOP " + "x" * 506),
                         (500, ["5.5.2 Error: line too long"]))
        self.assertEqual(r.cmd("X" * 100000),
                         (500, ["5.5.2 Error: line too long"]))
        # RCPT with a 500-octet ORCPT is within the RFC 3461 allowance.
        r.cmd("MAIL FROM:<a@example.org>")
        code, _ = r.cmd("RCPT TO:<b@example.test> ORCPT=rfc822;" +
                        "o" * 490)
        self.assertEqual(code, 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        # Text lines longer than 998 octets are kept whole.
        long_line = b"L" * 5000
        code, texts = r.cmd(b"Subject: long\r\n\r\n".decode() +
                            long_line.decode() + "\r\n.")
        self.assertEqual(code, 250)
        q = self.queue_file(texts[0].split()[-1])
        self.assertIn(b"\n" + long_line + b"\n", q["content"])

    def test_recipient_limit(self):
        self.instance(smtpd_recipient_limit="3")
        r = self.raw()
        r.cmd("MAIL FROM:<a@example.org>")
        for i in range(3):
            self.assertEqual(r.cmd("RCPT TO:<r%d@example.test>" % i)[0],
                             250)
        self.assertEqual(r.cmd("RCPT TO:<r9@example.test>"),
                         (452, ["4.5.3 Error: too many recipients"]))
        self.assertEqual(r.cmd("DATA")[0], 354)
        code, texts = r.cmd("Subject: x\r\n\r\nx\r\n.")
        self.assertEqual(code, 250)
        self.assertEqual(len(self.queue_file(texts[0].split()[-1])["rcpts"]),
                         3)

    # ---- cleanup's verdicts ----

    def test_cleanup_temporary_verdict(self):
        self.instance(sender_canonical_maps="lmdb:/nonexistent/table")
        r = self.raw()
        # Temporary: cleanup cannot open sender_canonical_maps.
        r.cmd("MAIL FROM:<a@example.org>")
        r.cmd("RCPT TO:<b@example.test>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        code, texts = r.cmd("Subject: x\r\n\r\nx\r\n.")
        self.assertEqual((code, texts[0][:4]), (451, "4.3."), texts)
        self.assertEqual(self.queued(), {})

    def test_cleanup_permanent_verdict(self):
        self.instance(hopcount_limit="2")
        r = self.raw()
        r.cmd("MAIL FROM:<a@example.org>")
        r.cmd("RCPT TO:<b@example.test>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        # Two Received: headers plus smtpd's own: a loop for cleanup.
        code, texts = r.cmd("Received: from a\r\nReceived: from b\r\n"
                            "Subject: loop\r\n\r\nx\r\n.")
        self.assertEqual((code, texts[0]), (554, "5.4.6 Too many hops"))
        self.assertEqual(self.queued(), {})
        self.assertEqual(r.cmd("QUIT")[0], 221)

    def test_cleanup_queue_id_up_front(self):
        """The cleanup protocol's CLEANUP_FLAG_QUEUE_ID (docs/ipc.md)."""
        self.instance()
        c = CleanupClient(self.inst)
        c.send([("request", "begin"), ("flags", 2)])
        early = c.reply()
        self.assertEqual(early["status"], "0", early)
        c.send([("sender", "a@example.org")])
        c.send([("rcpt", "b@example.test"), ("orcpt", ""), ("notify", 0)])
        c.send([("chunk", b"Subject: early\n\nx\n")])
        c.send([("request", "end")])
        final = c.reply()
        c.close()
        self.assertEqual(final, {"status": "0",
                                 "queue_id": early["queue_id"]})
        self.assertEqual(list(self.queued()), [early["queue_id"]])
        # A client that leaves after the early answer leaves nothing.
        c = CleanupClient(self.inst)
        c.send([("request", "begin"), ("flags", 3)])
        self.assertEqual(c.reply()["status"], "0")
        c.close()
        self.assertTrue(wait_for(lambda: temp_files(self.inst) == [], 5))
        self.assertEqual(list(self.queued()), [early["queue_id"]])

    # ---- load ----

    def test_10_clients_x_100_messages(self):
        self.instance()
        errors = []
        ids = {}
        lock = threading.Lock()

        def client(n):
            try:
                s = smtplib.SMTP("127.0.0.1", self.port(), timeout=120)
                s.ehlo("c%d.example" % n)
                for i in range(100):
                    sender = "s%d.%d@example.org" % (n, i)
                    rcpt = "r%d.%d@example.test" % (n, i)
                    s.mail(sender)
                    s.rcpt(rcpt)
                    code, text = s.data(("Subject: %d.%d\r\n\r\nbody %d.%d"
                                         "\r\n" % (n, i, n, i)).encode())
                    if code != 250:
                        raise AssertionError((code, text))
                    with lock:
                        ids[text.decode().split()[-1]] = (sender, rcpt)
                s.quit()
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(n,))
                   for n in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        self.assertEqual(errors, [])
        self.assertEqual(len(ids), 1000)
        out = self.inst.posthorn("queue", "list", "--json").stdout
        listed = {}
        for ln in out.splitlines():
            m = json.loads(ln)
            listed[m["queue_id"]] = (m["sender"],
                                     [x["address"] for x in
                                      m["recipients"]])
        self.assertEqual(len(listed), 1000)
        for qid, (sender, rcpt) in ids.items():
            self.assertEqual(listed.get(qid), (sender, [rcpt]), qid)

    # ---- swaks ----

    def test_swaks_pipelining(self):
        if shutil.which("swaks") is None:
            self.skipTest("swaks not installed")
        self.instance()
        proc = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(self.port()),
             "--from", "sw@example.org", "--to",
             "t1@example.test,t2@example.test", "--pipeline",
             "--helo", "swaks.example", "--header", "Subject: swaks"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        m = re.search(r"250 2\.0\.0 Ok: queued as (\S+)", proc.stdout)
        self.assertIsNotNone(m, proc.stdout)
        q = self.queue_file(m.group(1))
        self.assertEqual(q["sender"], "sw@example.org")
        self.assertEqual([x[0] for x in q["rcpts"]],
                         ["t1@example.test", "t2@example.test"])
