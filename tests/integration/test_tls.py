"""test_tls.py: issue 8 acceptance for TLS in smtpd (lib/tls.c,
smtpd/smtpd_tls.c).

Drives the instance made by `posthorn init` (its self-signed cert) with
python ssl/smtplib, `openssl s_client` and swaks: STARTTLS delivers to a
virtual user with the TLS Received: line and the Postfix log line; implicit
TLS on the smtps port (smtpd_tls_wrappermode=yes from master.cf); the
CVE-2011-0411 injection ("STARTTLS\\r\\nRSET\\r\\n" in one write: no reply
to RSET, EHLO required again); STARTTLS inside TLS (554 5.5.1); TLS 1.0
and 1.1 refused, 1.2 and 1.3 accepted; smtpd_tls_security_level=encrypt
(the submission port): MAIL before STARTTLS is 530 5.7.0; a client stalled
in the handshake is dropped after smtpd_starttls_timeout; 200 handshakes
in a row end with every smtpd exiting normally (with the sanitizer build:
no ASan/LSan report, which would make the exit status non-zero).
"""
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time

from harness import PosthornTestCase, wait_for, wait_port

TIMEOUT = 30
TLS_RECEIVED = re.compile(
    r"\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ \((\d+)/(\d+) bits\)\)")


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw:
    """A raw SMTP client that can switch to TLS in place."""

    def __init__(self, port, timeout=TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def reply(self):
        """One whole (multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed")
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\n")
            line = line.rstrip(b"\r").decode()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self):
        self.sock = client_context().wrap_socket(self.sock)

    def close(self):
        self.sock.close()


class TlsTestCase(PosthornTestCase):

    def setUp(self):
        self.inst = self.make_instance(domain="example.test")
        self.inst.conf(smtpd_tls_received_header="yes",
                       smtpd_tls_loglevel="1")

    def start(self, **conf):
        if conf:
            self.inst.conf(**conf)
        self.inst.posthorn("user", "add", "bob@example.test",
                           "--password-stdin", input="secret\n")
        self.inst.start()
        for svc in ("smtp", "submission", "smtps"):
            self.assertTrue(wait_port(self.inst.port(svc)))

    def port(self, svc="smtp"):
        return self.inst.port(svc)

    def mails(self, address="bob@example.test"):
        local, domain = address.split("@")
        d = os.path.join(self.inst.dir, "mail", domain, local, "new")
        try:
            return sorted(os.path.join(d, n) for n in os.listdir(d)
                          if not n.startswith("."))
        except FileNotFoundError:
            return []

    def wait_mails(self, n):
        self.assertTrue(wait_for(lambda: len(self.mails()) >= n,
                                 timeout=TIMEOUT), "no mail delivered")
        return self.mails()

    def read(self, path):
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, pattern):
        found = wait_for(lambda: re.search(pattern, self.inst.log()),
                         timeout=TIMEOUT)
        self.assertTrue(found, "no log line matching %r" % pattern)
        return found

    def s_client(self, args, data="", timeout=TIMEOUT):
        return subprocess.run(
            ["openssl", "s_client", "-nocommands"] + args,
            input=data.encode(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=timeout)

    def assert_tls_received(self, text, proto="ESMTPS"):
        head = text.split("\n\n", 1)[0]
        self.assertRegex(head, TLS_RECEIVED)
        self.assertIn("with %s id" % proto, head)
        self.assertIn("(No client certificate requested)", head)


class TestStarttls(TlsTestCase):

    def test_smtplib_starttls_delivers(self):
        self.start()
        with smtplib.SMTP("127.0.0.1", self.port(), timeout=TIMEOUT) as c:
            c.ehlo("client.example")
            self.assertTrue(c.has_extn("starttls"))
            code, _ = c.starttls(context=client_context())
            self.assertEqual(code, 220)
            c.ehlo("client.example")
            self.assertFalse(c.has_extn("starttls"))
            c.sendmail("alice@example.org", ["bob@example.test"],
                       "Subject: smtplib tls\r\n\r\nhello\r\n")
        text = self.read(self.wait_mails(1)[0])
        self.assert_tls_received(text)
        self.assertIn("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
                      "(256/256 bits)", text)
        self.wait_log(r"smtpd\[\d+\]: Anonymous TLS connection established "
                      r"from \S+\[127\.0\.0\.1\]: TLSv1\.3 with cipher "
                      r"TLS_AES_256_GCM_SHA384 \(256/256 bits\)")

    def test_received_header_off(self):
        self.start(smtpd_tls_received_header="no", smtpd_tls_loglevel="0")
        with smtplib.SMTP("127.0.0.1", self.port(), timeout=TIMEOUT) as c:
            c.starttls(context=client_context())
            c.sendmail("alice@example.org", ["bob@example.test"],
                       "Subject: plain header\r\n\r\nhello\r\n")
        text = self.read(self.wait_mails(1)[0])
        self.assertNotRegex(text, TLS_RECEIVED)
        self.assertIn("with ESMTPS id", text)
        self.assertNotIn("Anonymous TLS connection", self.inst.log())

    def test_openssl_s_client_starttls_delivers(self):
        self.start()
        data = ("EHLO client.example\r\n"
                "MAIL FROM:<alice@example.org>\r\n"
                "RCPT TO:<bob@example.test>\r\n"
                "DATA\r\n"
                "Subject: s_client\r\n\r\nhello\r\n.\r\n"
                "QUIT\r\n")
        p = self.s_client(["-starttls", "smtp", "-quiet", "-connect",
                           "127.0.0.1:%d" % self.port()], data)
        out = p.stdout.decode(errors="replace")
        self.assertIn("250 2.0.0 Ok: queued", out)
        self.assertIn("221 2.0.0", out)
        self.assert_tls_received(self.read(self.wait_mails(1)[0]))

    def test_injection_discarded(self):
        self.start()
        r = Raw(self.port())
        self.assertEqual(r.reply()[0], 220)
        self.assertEqual(r.cmd("EHLO client.example")[0], 250)
        # CVE-2011-0411: plaintext after STARTTLS in the same packet.
        r.send("STARTTLS\r\nRSET\r\n")
        code, lines = r.reply()
        self.assertEqual(code, 220)
        self.assertEqual(lines, ["220 2.0.0 Ready to start TLS"])
        self.assertEqual(r.buf, b"")
        r.starttls()
        r.sock.settimeout(1.5)
        with self.assertRaises((socket.timeout, TimeoutError)):
            r.reply()
        r.sock.settimeout(TIMEOUT)
        # The session started over: EHLO first.
        self.assertEqual(r.cmd("MAIL FROM:<alice@example.org>")[0], 503)
        code, lines = r.cmd("EHLO client.example")
        self.assertEqual(code, 250)
        self.assertNotIn("250-STARTTLS", lines)
        code, lines = r.cmd("STARTTLS")
        self.assertEqual(lines, ["554 5.5.1 Error: TLS already active"])
        self.assertEqual(r.cmd("MAIL FROM:<alice@example.org>")[0], 250)
        self.assertEqual(r.cmd("QUIT")[0], 221)
        r.close()
        self.wait_log(r"improper command pipelining after STARTTLS from "
                      r"\S+\[127\.0\.0\.1\]")
        self.wait_log(r"disconnect from \S+\[127\.0\.0\.1\] ehlo=2 "
                      r"starttls=1/2 mail=1/2")

    def test_starttls_syntax_and_level_none(self):
        self.start()
        r = Raw(self.port())
        r.reply()
        self.assertEqual(r.cmd("STARTTLS now")[1],
                         ["501 5.5.4 Syntax: STARTTLS"])
        r.close()
        self.inst.stop()
        self.inst.conf(smtpd_tls_security_level="none")
        self.inst.start()
        self.assertTrue(wait_port(self.port()))
        r = Raw(self.port())
        r.reply()
        code, lines = r.cmd("EHLO client.example")
        self.assertNotIn("250-STARTTLS", lines)
        self.assertEqual(r.cmd("STARTTLS")[0], 502)
        r.close()

    def test_encrypt_level(self):
        # The submission port has -o smtpd_tls_security_level=encrypt.
        self.start()
        r = Raw(self.port("submission"))
        r.reply()
        code, lines = r.cmd("EHLO client.example")
        self.assertIn("250-STARTTLS", lines)
        self.assertEqual(r.cmd("MAIL FROM:<alice@example.org>")[1],
                         ["530 5.7.0 Must issue a STARTTLS command first"])
        self.assertEqual(r.cmd("STARTTLS")[0], 220)
        r.starttls()
        self.assertEqual(r.cmd("EHLO client.example")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<alice@example.org>")[0], 250)
        r.cmd("QUIT")
        r.close()


class TestWrapperMode(TlsTestCase):

    def test_smtps_s_client_and_swaks(self):
        self.start()
        data = ("EHLO client.example\r\n"
                "MAIL FROM:<alice@example.org>\r\n"
                "RCPT TO:<bob@example.test>\r\n"
                "DATA\r\n"
                "Subject: smtps s_client\r\n\r\nhello\r\n.\r\n"
                "QUIT\r\n")
        p = self.s_client(["-quiet", "-connect",
                           "127.0.0.1:%d" % self.port("smtps")], data)
        out = p.stdout.decode(errors="replace")
        self.assertIn("220 ", out)
        self.assertIn("250 2.0.0 Ok: queued", out)
        p = subprocess.run(
            ["swaks", "--tlsc", "--server", "127.0.0.1",
             "--port", str(self.port("smtps")), "--from",
             "alice@example.org", "--to", "bob@example.test",
             "--helo", "client.example", "--header", "Subject: swaks",
             "--timeout", str(TIMEOUT)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=TIMEOUT * 2)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("250 2.0.0 Ok: queued", out)
        files = self.wait_mails(2)
        for f in files:
            self.assert_tls_received(self.read(f))
        self.wait_log(r"posthorn/smtps/smtpd\[\d+\]: Anonymous TLS "
                      r"connection established from")

    def test_smtps_plaintext_client(self):
        self.start()
        r = Raw(self.port("smtps"), timeout=10)
        # RFC 8314: no plain greeting on an implicit TLS port.
        r.send("EHLO client.example\r\n")
        with self.assertRaises((EOFError, ConnectionResetError)):
            r.reply()
        r.close()


class TestProtocols(TlsTestCase):

    def handshake(self, flag, svc="smtp"):
        args = ["-brief", flag, "-cipher", "DEFAULT@SECLEVEL=0",
                "-connect", "127.0.0.1:%d" % self.port(svc)]
        if svc != "smtps":
            args = ["-starttls", "smtp"] + args
        if flag == "-tls1_3":
            args.remove("-cipher")
            args.remove("DEFAULT@SECLEVEL=0")
        p = self.s_client(args, "QUIT\r\n")
        return p.returncode, p.stdout.decode(errors="replace")

    def test_old_protocols_refused(self):
        self.start()
        for svc in ("smtp", "smtps"):
            for flag in ("-tls1", "-tls1_1"):
                rc, out = self.handshake(flag, svc)
                self.assertNotEqual(rc, 0, "%s %s: %s" % (svc, flag, out))
                self.assertNotIn("Protocol version: TLSv1", out)
            for flag, name in (("-tls1_2", "TLSv1.2"),
                               ("-tls1_3", "TLSv1.3")):
                rc, out = self.handshake(flag, svc)
                self.assertEqual(rc, 0, "%s %s: %s" % (svc, flag, out))
                self.assertIn("Protocol version: %s" % name, out)

    def test_configured_floor(self):
        self.start(smtpd_tls_protocols="!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, "
                                       "!TLSv1.2")
        rc, out = self.handshake("-tls1_2")
        self.assertNotEqual(rc, 0, out)
        rc, out = self.handshake("-tls1_3")
        self.assertEqual(rc, 0, out)


class TestHostile(TlsTestCase):

    def test_stalled_handshake_dropped(self):
        self.start(smtpd_starttls_timeout="2s")
        r = Raw(self.port())
        r.reply()
        self.assertEqual(r.cmd("STARTTLS")[0], 220)
        t0 = time.monotonic()
        r.send(b"\x16\x03\x01")  # a record header, then nothing
        self.assertEqual(r.sock.recv(100), b"")
        self.assertLess(time.monotonic() - t0, 15)
        r.close()
        # Implicit TLS: the client says nothing at all.
        r = Raw(self.port("smtps"))
        t0 = time.monotonic()
        self.assertEqual(r.sock.recv(100), b"")
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        self.assertLess(time.monotonic() - t0, 15)
        r.close()
        self.wait_log(r"SSL_accept error from \S+\[127\.0\.0\.1\]: "
                      r"handshake timeout")

    def test_many_handshakes(self):
        self.start()
        ctx = client_context()
        for i in range(200):
            with smtplib.SMTP("127.0.0.1", self.port(),
                              timeout=TIMEOUT) as c:
                c.starttls(context=ctx)
                c.ehlo("client%d.example" % i)
                c.noop()
        self.assertTrue(wait_for(
            lambda: len(re.findall(r"smtpd\[\d+\]: disconnect from",
                                   self.inst.log())) >= 200,
            timeout=TIMEOUT))
        self.inst.stop()
        log = self.inst.log()
        self.assertEqual(re.findall(r".*smtpd pid \d+ (?:exit status|"
                                    r"killed by signal).*", log), [])
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("runtime error", log)


class TestSmtpClient(PosthornTestCase):
    """The smtp agent of one instance (tx) relays to a second one (rx)
    through relayhost=[127.0.0.1]:PORT per smtp_tls_security_level."""

    def pair(self, level, rx_level="may"):
        rx = self.make_instance(hostname="mx.a.test", domain="a.test")
        rx.conf(smtpd_tls_security_level=rx_level,
                smtpd_tls_received_header="yes")
        rx.posthorn("user", "add", "user@a.test", "--password-stdin",
                    input="secret\n")
        rx.start()
        self.assertTrue(wait_port(rx.port("smtp")))
        tx = self.make_instance(domain="example.test")
        tx.conf(relayhost="[127.0.0.1]:%d" % rx.port("smtp"),
                smtp_tls_security_level=level, smtp_tls_loglevel="1",
                smtp_connect_timeout="5s", smtp_helo_timeout="10s")
        tx.start()
        from harness import BIN, run
        run([os.path.join(BIN, "sendmail"), "-C", tx.dir, "-f",
             "a@example.test", "user@a.test"],
            input="Subject: over tls\n\nhello\n")
        return tx, rx

    def delivered(self, rx):
        d = os.path.join(rx.dir, "mail", "a.test", "user", "new")
        ok = wait_for(lambda: os.path.isdir(d) and os.listdir(d),
                      timeout=TIMEOUT)
        self.assertTrue(ok, rx.log())
        with open(os.path.join(d, os.listdir(d)[0]), "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, inst, pattern):
        found = wait_for(lambda: re.search(pattern, inst.log()),
                         timeout=TIMEOUT)
        self.assertTrue(found, "no log line matching %r" % pattern)

    def no_bad_exits(self, inst):
        inst.stop()
        bad = [l for l in inst.log().splitlines()
               if re.search(r"warning: process \S*/smtpd? ", l)]
        self.assertEqual(bad, [])

    def test_encrypt_delivers_over_tls(self):
        tx, rx = self.pair("encrypt")
        text = self.delivered(rx)
        self.assertRegex(text, TLS_RECEIVED)
        self.assertIn("with ESMTPS id", text)
        self.wait_log(tx, r"smtp\[\d+\]: Untrusted TLS connection "
                      r"established to 127\.0\.0\.1\[127\.0\.0\.1\]:%d: "
                      r"TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)"
                      % rx.port("smtp"))
        self.wait_log(tx, r"to=<user@a\.test>, relay=127\.0\.0\.1"
                      r"\[127\.0\.0\.1\]:\d+, .*status=sent")
        self.no_bad_exits(tx)
        self.no_bad_exits(rx)

    def test_may_delivers_over_tls(self):
        tx, rx = self.pair("may")
        self.assertIn("with ESMTPS id", self.delivered(rx))

    def test_encrypt_without_starttls_defers(self):
        tx, rx = self.pair("encrypt", rx_level="none")
        self.wait_log(tx, r"to=<user@a\.test>, .*status=deferred \(TLS is "
                      r"required, but was not offered by host "
                      r"127\.0\.0\.1\[127\.0\.0\.1\]\)")
        d = os.path.join(rx.dir, "mail", "a.test", "user", "new")
        self.assertFalse(os.path.isdir(d) and os.listdir(d))

    def test_may_without_starttls_plain(self):
        tx, rx = self.pair("may", rx_level="none")
        text = self.delivered(rx)
        self.assertIn("with ESMTP id", text)
        self.assertNotRegex(text, TLS_RECEIVED)
        self.assertNotIn("TLS connection established", tx.log())
