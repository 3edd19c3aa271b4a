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

The smtp client (issue 8, second part), against a second instance whose
certificate a CA made here with the openssl CLI signed (SAN mx.peer.test;
a dnsmasq on 127.0.0.1 maps the names to 127.0.0.1, nothing leaves the
machine): encrypt delivers and logs the TLS line; verify defers 4.7.5
against the self-signed peer and delivers once smtp_tls_CAfile names the
CA (after `posthorn queue flush`); a scripted peer without STARTTLS defers
at encrypt and gets plain text at may; secure matches the nexthop
(dot-nexthop) and defers on a match= that the certificate does not have;
smtp_tls_policy_maps overrides the global level for one destination.
The server: resumption across two smtpd processes (max_use=1) with the
instance's shared ticket key; the ECDSA second pair for an ECDSA-only
TLS 1.2 client; `posthorn check` warnings for an expired certificate and
a key that does not match.
"""
import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time

from harness import BIN, PosthornTestCase, run, wait_for, wait_port
from peers import DnsServer, ScriptedPeer, free_port_on

TIMEOUT = 30
# RFC 4616 PLAIN for bob@example.test / secret (the submission and smtps
# ports of `posthorn init` require AUTH since issue 9).
AUTH_BOB = base64.b64encode(b"\0bob@example.test\0secret").decode()
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

    def serving_pid(self, sock):
        """The pid of the process holding the server end of sock (a
        127.0.0.1 TCP connection), from /proc/net/tcp socket inodes."""
        port = sock.getsockname()[1]
        inode = None
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[2] == "0100007F:%04X" % port:
                    inode = fields[9]
        self.assertIsNotNone(inode, "server end of the connection")
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                fds = os.listdir("/proc/%s/fd" % name)
                for fd in fds:
                    if os.readlink("/proc/%s/fd/%s" % (name, fd)) == \
                            "socket:[%s]" % inode:
                        return int(name)
            except OSError:
                continue
        self.fail("no process holds the server end")

    def maps_openssl(self, pid):
        with open("/proc/%d/maps" % pid) as f:
            return "libcrypto.so" in f.read()

    def test_openssl_loaded_at_first_handshake(self):
        """smtpd maps libssl/libcrypto only once a handshake needs them
        (lib/tls_dl.h): a plain-text session costs ~460 KiB less."""
        self.start()
        r = Raw(self.port())
        self.assertEqual(r.reply()[0], 220)
        code, lines = r.cmd("EHLO client.example")
        self.assertIn("250-STARTTLS", lines)
        pid = self.serving_pid(r.sock)
        self.assertFalse(self.maps_openssl(pid),
                         "smtpd %d mapped OpenSSL before any TLS" % pid)
        self.assertEqual(r.cmd("STARTTLS")[0], 220)
        r.starttls()
        self.assertEqual(r.cmd("EHLO client.example")[0], 250)
        self.assertTrue(self.maps_openssl(pid),
                        "smtpd %d did not map OpenSSL for TLS" % pid)
        self.assertEqual(r.cmd("QUIT")[0], 221)
        r.close()

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
        # Submission also requires AUTH (issue 9; posthorn init's
        # master.cf) and the login as sender.
        self.assertEqual(r.cmd("AUTH PLAIN " + AUTH_BOB)[0], 235)
        self.assertEqual(r.cmd("MAIL FROM:<bob@example.test>")[0], 250)
        r.cmd("QUIT")
        r.close()


class TestWrapperMode(TlsTestCase):

    def test_smtps_s_client_and_swaks(self):
        self.start()
        data = ("EHLO client.example\r\n"
                "AUTH PLAIN %s\r\n"
                "MAIL FROM:<bob@example.test>\r\n"
                "RCPT TO:<bob@example.test>\r\n" % AUTH_BOB +
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
             "bob@example.test", "--to", "bob@example.test",
             "--auth", "PLAIN", "--auth-user", "bob@example.test",
             "--auth-password", "secret",
             "--helo", "client.example", "--header", "Subject: swaks",
             "--timeout", str(TIMEOUT)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=TIMEOUT * 2)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("250 2.0.0 Ok: queued", out)
        files = self.wait_mails(2)
        for f in files:
            # RFC 3848: ESMTPSA, TLS and AUTH.
            self.assert_tls_received(self.read(f), proto="ESMTPSA")
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


# ---- the smtp client's verify/secure levels and policy maps ----

def openssl(cwd, *args):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                   timeout=60)


def make_pki(d):
    """A CA, a server certificate it signed for mx.peer.test, and a
    second, unrelated CA. Files in d."""
    os.chmod(d, 0o755)
    for ca, cn in (("ca", "Posthorn Test CA"), ("otherca", "Other CA")):
        openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "30",
                "-subj", "/CN=" + cn,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(d, "srv.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:mx.peer.test\n")
    openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key",
            "-out", "srv.csr", "-subj", "/CN=mx.peer.test")
    openssl(d, "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem",
            "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem",
            "-days", "30", "-extfile", "srv.ext")


class TestClientPolicy(PosthornTestCase):
    """tx (sendmail -> qmgr -> smtp) relays to rx, an instance named
    mx.peer.test with a CA-signed certificate, found through dnsmasq."""

    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="posthorn-pki-")
        make_pki(cls.pki)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki, ignore_errors=True)

    def pkifile(self, name):
        return os.path.join(self.pki, name)

    def dns(self):
        tmp = tempfile.mkdtemp(prefix="posthorn-dns-")
        self.addCleanup(shutil.rmtree, tmp, True)
        dns = DnsServer(os.path.join(tmp, "dns"),
                        mx=[("peer.test", "mx.peer.test", 10)],
                        hosts=[("mx.peer.test", ["127.0.0.1"])])
        dns.start()
        self.addCleanup(dns.stop)
        return dns

    def receiver(self, signed=True):
        rx = self.make_instance(hostname="mx.peer.test", domain="peer.test")
        if signed:
            rx.conf(smtpd_tls_cert_file=self.pkifile("srv.pem"),
                    smtpd_tls_key_file=self.pkifile("srv.key"))
        rx.conf(smtpd_tls_received_header="yes")
        rx.posthorn("user", "add", "user@peer.test", "--password-stdin",
                    input="secret\n")
        rx.start()
        self.assertTrue(wait_port(rx.port("smtp")))
        return rx

    def sender(self, dns, nexthop, **conf):
        tx = self.make_instance(domain="example.test")
        settings = {"dns_resolver_address": dns.address,
                    "inet_protocols": "ipv4", "smtp_tls_loglevel": "1",
                    "smtp_connect_timeout": "5s", "smtp_helo_timeout": "10s",
                    "transport_maps": "inline:{peer.test=smtp:%s}" % nexthop}
        settings.update(conf)
        tx.conf(**settings)
        tx.start()
        return tx

    def send(self, tx, rcpt="user@peer.test"):
        run([os.path.join(BIN, "sendmail"), "-C", tx.dir, "-f",
             "a@example.test", rcpt], input="Subject: tls policy\n\nhi\n")

    def maildir(self, rx):
        d = os.path.join(rx.dir, "mail", "peer.test", "user", "new")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def delivered(self, rx, tx, n=1):
        ok = wait_for(lambda: len(self.maildir(rx)) >= n, timeout=TIMEOUT)
        self.assertTrue(ok, tx.log())
        d = os.path.join(rx.dir, "mail", "peer.test", "user", "new")
        with open(os.path.join(d, self.maildir(rx)[-1]), "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, inst, pattern):
        found = wait_for(lambda: re.search(pattern, inst.log()),
                         timeout=TIMEOUT)
        self.assertTrue(found, "no log line matching %r in\n%s"
                        % (pattern, inst.log()))
        return found

    def no_bad_exits(self, inst):
        inst.stop()
        bad = [l for l in inst.log().splitlines()
               if re.search(r"warning: process \S*/smtpd? ", l)
               or "AddressSanitizer" in l or "runtime error" in l]
        self.assertEqual(bad, [])

    def test_encrypt_delivers_and_logs(self):
        """(a) encrypt: delivered over TLS, the Untrusted line logged."""
        dns = self.dns()
        rx = self.receiver()
        port = rx.port("smtp")
        tx = self.sender(dns, "[mx.peer.test]:%d" % port,
                         smtp_tls_security_level="encrypt")
        self.send(tx)
        text = self.delivered(rx, tx)
        self.assertRegex(text, TLS_RECEIVED)
        self.wait_log(tx, r"smtp\[\d+\]: Untrusted TLS connection "
                      r"established to mx\.peer\.test\[127\.0\.0\.1\]:%d: "
                      r"TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)" % port)
        self.no_bad_exits(tx)
        self.no_bad_exits(rx)

    def test_verify_defers_then_delivers_with_cafile(self):
        """(b) verify: 4.7.5 against the self-signed peer (shown by the
        queue listing), delivered after smtp_tls_CAfile names the CA
        that signed the peer's certificate and a flush."""
        dns = self.dns()
        rx = self.receiver(signed=False)
        port = rx.port("smtp")
        tx = self.sender(dns, "[mx.peer.test]:%d" % port,
                         smtp_tls_security_level="verify")
        self.send(tx)
        self.wait_log(tx, r"to=<user@peer\.test>, .*dsn=4\.7\.5, "
                      r"status=deferred \(Server certificate not trusted: "
                      r"self-signed certificate")
        listing = tx.posthorn("queue", "list").stdout
        self.assertIn("Server certificate not trusted", listing)
        self.assertIn("user@peer.test", listing)
        self.assertEqual(self.maildir(rx), [])
        self.assertRegex(tx.log(), r"Untrusted TLS connection established "
                         r"to mx\.peer\.test")
        rx.stop()

        # The peer gets its CA-signed certificate; tx learns the CA.
        rx.conf(smtpd_tls_cert_file=self.pkifile("srv.pem"),
                smtpd_tls_key_file=self.pkifile("srv.key"))
        rx.start()
        self.assertTrue(wait_port(port))
        tx.conf(smtp_tls_CAfile=self.pkifile("ca.pem"))
        tx.posthorn("reload")
        time.sleep(1)
        tx.posthorn("queue", "flush")
        text = self.delivered(rx, tx)
        self.assertRegex(text, TLS_RECEIVED)
        self.wait_log(tx, r"smtp\[\d+\]: Verified TLS connection "
                      r"established to mx\.peer\.test\[127\.0\.0\.1\]:%d: "
                      r"TLSv1\.3 with cipher" % port)
        self.wait_log(tx, r"to=<user@peer\.test>, .*status=sent")
        self.no_bad_exits(tx)

    def test_verify_wrong_name_and_wrong_ca(self):
        """verify: a trusted chain whose name does not match
        smtp_tls_verify_cert_match defers "not verified"; a CAfile of
        another CA defers "not trusted"."""
        dns = self.dns()
        rx = self.receiver()
        port = rx.port("smtp")
        tx = self.sender(dns, "[mx.peer.test]:%d" % port,
                         smtp_tls_security_level="verify",
                         smtp_tls_CAfile=self.pkifile("ca.pem"),
                         smtp_tls_verify_cert_match="other.peer.test",
                         smtp_tls_loglevel="2")
        self.send(tx)
        self.wait_log(tx, r"dsn=4\.7\.5, status=deferred \(Server "
                      r"certificate not verified: the certificate of host "
                      r"mx\.peer\.test\[127\.0\.0\.1\] matches none of: "
                      r"other\.peer\.test")
        self.wait_log(tx, r"Trusted TLS connection established to "
                      r"mx\.peer\.test\[127\.0\.0\.1\]")
        self.wait_log(tx, r"mx\.peer\.test\[127\.0\.0\.1\]:%d: "
                      r"subject_CN=mx\.peer\.test, issuer_CN=Posthorn "
                      r"Test CA" % port)
        tx.conf(smtp_tls_CAfile=self.pkifile("otherca.pem"),
                smtp_tls_verify_cert_match="hostname")
        tx.posthorn("reload")
        time.sleep(1)
        tx.posthorn("queue", "flush")
        self.wait_log(tx, r"status=deferred \(Server certificate not "
                      r"trusted: unable to get local issuer certificate")
        self.assertEqual(self.maildir(rx), [])

    def test_secure_matches_nexthop(self):
        """(d) secure through an MX lookup: the nexthop is peer.test,
        the certificate says mx.peer.test: dot-nexthop matches."""
        dns = self.dns()
        rx = self.receiver()
        port = rx.port("smtp")
        tx = self.sender(dns, "peer.test:%d" % port,
                         smtp_tls_security_level="secure",
                         smtp_tls_CAfile=self.pkifile("ca.pem"))
        self.send(tx)
        self.delivered(rx, tx)
        self.wait_log(tx, r"Verified TLS connection established to "
                      r"mx\.peer\.test\[127\.0\.0\.1\]:%d" % port)
        self.wait_log(tx, r"to=<user@peer\.test>, relay=mx\.peer\.test"
                      r"\[127\.0\.0\.1\]:%d, .*status=sent" % port)

    def test_secure_nexthop_only_defers(self):
        """(d) secure with smtp_tls_secure_cert_match=nexthop: the
        certificate names mx.peer.test, not peer.test: deferred."""
        dns = self.dns()
        rx = self.receiver()
        port = rx.port("smtp")
        tx = self.sender(dns, "peer.test:%d" % port,
                         smtp_tls_security_level="secure",
                         smtp_tls_CAfile=self.pkifile("ca.pem"),
                         smtp_tls_secure_cert_match="nexthop")
        self.send(tx)
        self.wait_log(tx, r"dsn=4\.7\.5, status=deferred \(Server "
                      r"certificate not verified: .* matches none of: "
                      r"peer\.test \(TLS level secure\)")
        self.assertEqual(self.maildir(rx), [])

    def test_policy_map_overrides_level(self):
        """(e) global verify (would defer: no CAfile), but the policy map
        says encrypt for this nexthop: delivered; another entry for the
        parent domain says secure with a foreign name: deferred."""
        dns = self.dns()
        rx = self.receiver()
        port = rx.port("smtp")
        nexthop = "[mx.peer.test]:%d" % port
        tx = self.sender(
            dns, nexthop, smtp_tls_security_level="verify",
            smtp_tls_policy_maps="inline:{ {%s = encrypt} }" % nexthop)
        self.send(tx)
        self.delivered(rx, tx)
        self.wait_log(tx, r"Untrusted TLS connection established to "
                      r"mx\.peer\.test\[127\.0\.0\.1\]:%d" % port)
        self.wait_log(tx, r"to=<user@peer\.test>, .*status=sent")
        # The parent-domain key, and an entry that is stricter.
        tx.conf(smtp_tls_security_level="may",
                smtp_tls_CAfile=self.pkifile("ca.pem"),
                smtp_tls_policy_maps="inline:{ {.peer.test = secure "
                                     "match=nomatch.peer.test} }")
        tx.posthorn("reload")
        time.sleep(1)
        self.send(tx)
        self.wait_log(tx, r"status=deferred \(Server certificate not "
                      r"verified: .* matches none of: nomatch\.peer\.test")
        self.assertEqual(len(self.maildir(rx)), 1)
        # A broken entry defers, it never weakens the policy.
        tx.conf(smtp_tls_policy_maps="inline:{ {mx.peer.test = secure "
                                     "ciphers=high} }")
        tx.posthorn("reload")
        time.sleep(1)
        tx.posthorn("queue", "flush")
        self.wait_log(tx, r"status=deferred \(invalid TLS policy for "
                      r"\[mx\.peer\.test\]:%d \(smtp_tls_policy_maps key "
                      r"mx\.peer\.test\): unsupported TLS policy attribute"
                      % port)
        self.assertEqual(len(self.maildir(rx)), 1)
        self.no_bad_exits(tx)

    def test_no_starttls_peer(self):
        """(c) a scripted peer without STARTTLS: encrypt defers, may
        delivers in plain text."""
        dns = self.dns()
        port = free_port_on(["127.0.0.1"])
        peer = ScriptedPeer("127.0.0.1", port)
        self.addCleanup(peer.stop)
        tx = self.sender(dns, "[mx.peer.test]:%d" % port,
                         smtp_tls_security_level="encrypt")
        self.send(tx)
        self.wait_log(tx, r"to=<user@peer\.test>, .*dsn=4\.7\.4, "
                      r"status=deferred \(TLS is required, but was not "
                      r"offered by host mx\.peer\.test\[127\.0\.0\.1\]\)")
        self.assertEqual(peer.messages, [])
        self.assertIn("TLS is required",
                      tx.posthorn("queue", "list").stdout)
        tx.conf(smtp_tls_security_level="may")
        tx.posthorn("reload")
        time.sleep(1)
        tx.posthorn("queue", "flush")
        self.assertTrue(wait_for(lambda: len(peer.messages) == 1,
                                 timeout=TIMEOUT), tx.log())
        self.wait_log(tx, r"to=<user@peer\.test>, .*status=sent")
        self.assertNotIn("TLS connection established", tx.log())


# ---- the server: resumption, the ECDSA pair, posthorn check ----

class TestServerTls(TlsTestCase):

    def one_smtpd_per_client(self):
        """smtpd on the smtp port serves one client and exits."""
        path = os.path.join(self.inst.dir, "master.cf")
        with open(path) as f:
            lines = f.read().split("\n")
        out = []
        for l in lines:
            out.append(l)
            if re.match(r"%d\s+inet\b.*\bsmtpd\s*$" % self.port(), l):
                out.append("  -o max_use=1")
        with open(path, "w") as f:
            f.write("\n".join(out))

    def tls_session(self, ctx, session=None):
        """STARTTLS with ctx (resuming session), EHLO, QUIT: (reused,
        session)."""
        r = Raw(self.port())
        r.reply()
        r.cmd("EHLO client.example")
        self.assertEqual(r.cmd("STARTTLS")[0], 220)
        r.sock = ctx.wrap_socket(r.sock, session=session)
        self.assertEqual(r.cmd("EHLO client.example")[0], 250)
        r.cmd("NOOP")
        reused, sess = r.sock.session_reused, r.sock.session
        r.cmd("QUIT")
        r.close()
        return reused, sess

    def smtpd_pids(self):
        return re.findall(r"smtpd\[(\d+)\]: Anonymous TLS connection "
                          r"established", self.inst.log())

    def test_resumption_across_processes(self):
        """(f) a ticket from one smtpd resumes with another one."""
        self.one_smtpd_per_client()
        self.start(smtpd_tls_loglevel="2")
        key = os.path.join(self.inst.dir, "queue", "pid",
                           "smtpd_ticket.key")
        st = os.stat(key)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(st.st_size, 80)
        for proto in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            ctx = client_context()
            ctx.minimum_version = ctx.maximum_version = proto
            reused, sess = self.tls_session(ctx)
            self.assertFalse(reused)
            self.assertIsNotNone(sess)
            reused, _ = self.tls_session(ctx, sess)
            self.assertTrue(reused, "%s: not resumed" % proto)
        self.assertTrue(wait_for(lambda: len(self.smtpd_pids()) >= 4,
                                 timeout=TIMEOUT))
        pids = self.smtpd_pids()
        self.assertEqual(len(set(pids)), len(pids),
                         "one smtpd per connection: %r" % pids)
        self.wait_log(r"smtpd\[%s\]: \S+\[127\.0\.0\.1\]: TLS session "
                      r"resumed" % pids[1])
        # Control: a new key file (as master writes at start) makes the
        # next process unable to open the old ticket.
        with open(key, "r+b") as f:
            f.write(os.urandom(80))
        ctx = client_context()
        reused, sess = self.tls_session(ctx)
        self.assertTrue(self.tls_session(ctx, sess)[0])
        with open(key, "r+b") as f:
            f.write(os.urandom(80))
        self.assertFalse(self.tls_session(ctx, sess)[0])

    def test_no_resumption_when_timeout_zero(self):
        self.start(smtpd_tls_session_cache_timeout="0")
        ctx = client_context()
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        reused, sess = self.tls_session(ctx)
        if sess is not None:
            reused, _ = self.tls_session(ctx, sess)
        self.assertFalse(reused)

    def peer_key_type(self, cipher):
        ctx = client_context()
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(cipher)
        r = Raw(self.port())
        r.reply()
        r.cmd("EHLO client.example")
        self.assertEqual(r.cmd("STARTTLS")[0], 220)
        r.sock = ctx.wrap_socket(r.sock)
        der = r.sock.getpeercert(binary_form=True)
        self.assertEqual(r.cmd("EHLO client.example")[0], 250)
        r.cmd("QUIT")
        r.close()
        text = subprocess.run(["openssl", "x509", "-inform", "DER",
                               "-noout", "-text"], input=der,
                              stdout=subprocess.PIPE, check=True).stdout
        text = text.decode()
        if "id-ecPublicKey" in text:
            return "ec"
        if "rsaEncryption" in text:
            return "rsa"
        return text

    def test_ecdsa_second_pair(self):
        """(g) an ECDSA-only TLS 1.2 client gets the EC certificate, an
        RSA-only one the RSA certificate."""
        d = os.path.join(self.inst.dir, "tls")
        openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ec.key",
                "-out", "ec.pem", "-days", "30", "-subj",
                "/CN=mail.example.test")
        self.start(smtpd_tls_eccert_file=os.path.join(d, "ec.pem"),
                   smtpd_tls_eckey_file=os.path.join(d, "ec.key"))
        self.assertEqual(self.peer_key_type("ECDHE-ECDSA-AES256-GCM-SHA384"),
                         "ec")
        self.assertEqual(self.peer_key_type("ECDHE-RSA-AES256-GCM-SHA384"),
                         "rsa")
        # TLS 1.3 clients get one of the two; the session works.
        with smtplib.SMTP("127.0.0.1", self.port(), timeout=TIMEOUT) as c:
            c.starttls(context=client_context())
            self.assertEqual(c.noop()[0], 250)
        self.assertNotIn("cannot load TLS server settings", self.inst.log())


class TestCheck(PosthornTestCase):
    """(h) posthorn check warns about the certificate, exit status 0."""

    def check(self, inst):
        p = inst.posthorn("check", check=False)
        return p.returncode, p.stdout + p.stderr

    def test_init_cert_is_fine(self):
        inst = self.make_instance(hostname="mx.init.test")
        rc, out = self.check(inst)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("smtpd_tls_cert_file", out)
        der = subprocess.run(
            ["openssl", "x509", "-in",
             os.path.join(inst.dir, "tls", "cert.pem"), "-noout", "-ext",
             "subjectAltName"], stdout=subprocess.PIPE, check=True).stdout
        self.assertIn(b"DNS:mx.init.test", der)

    def test_expired_and_mismatched(self):
        inst = self.make_instance()
        d = os.path.join(inst.dir, "tls")
        # An expired certificate: valid for one day, two days ago.
        openssl(d, "req", "-new", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", "old.key",
                "-out", "old.csr", "-subj", "/CN=old.example.test")
        openssl(d, "x509", "-req", "-in", "old.csr", "-signkey", "old.key",
                "-out", "old.pem", "-not_before", "20200101000000Z",
                "-not_after", "20200102000000Z") \
            if self.has_not_before() else \
            openssl(d, "ca", "-batch", "-selfsign", "-keyfile", "old.key",
                    "-in", "old.csr", "-out", "old.pem", "-startdate",
                    "20200101000000Z", "-enddate", "20200102000000Z",
                    "-config", self.ca_config(d))
        inst.conf(smtpd_tls_cert_file=os.path.join(d, "old.pem"),
                  smtpd_tls_key_file=os.path.join(d, "old.key"))
        rc, out = self.check(inst)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"warning: smtpd_tls_cert_file: certificate "
                         r"\S+/old\.pem has expired")
        # The instance's own cert with the expired cert's key.
        inst.conf(smtpd_tls_cert_file=os.path.join(d, "cert.pem"),
                  smtpd_tls_key_file=os.path.join(d, "old.key"))
        rc, out = self.check(inst)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"warning: smtpd_tls_cert_file: key \S+/old"
                         r"\.key does not match certificate \S+/cert\.pem")
        self.assertNotIn("expired", out)
        # The ECDSA pair is checked too; an unreadable file is named.
        inst.conf(smtpd_tls_key_file=os.path.join(d, "key.pem"),
                  smtpd_tls_eccert_file=os.path.join(d, "nosuch.pem"))
        rc, out = self.check(inst)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"warning: smtpd_tls_eccert_file: cannot read "
                         r"certificate: \S+/nosuch\.pem: No such file")
        self.assertNotIn("smtpd_tls_cert_file", out)

    @staticmethod
    def has_not_before():
        out = subprocess.run(["openssl", "x509", "-help"],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT).stdout
        return b"-not_before" in out

    @staticmethod
    def ca_config(d):
        os.makedirs(os.path.join(d, "ca"), exist_ok=True)
        open(os.path.join(d, "ca", "index.txt"), "w").close()
        path = os.path.join(d, "ca.cnf")
        with open(path, "w") as f:
            f.write("[ca]\ndefault_ca = c\n[c]\ndir = %s/ca\n"
                    "database = $dir/index.txt\nnew_certs_dir = $dir\n"
                    "serial = $dir/serial\ndefault_md = sha256\n"
                    "policy = p\n[p]\ncommonName = supplied\n" % d)
        with open(os.path.join(d, "ca", "serial"), "w") as f:
            f.write("01\n")
        return path
