"""test_smtp_sasl.py: issue 9, the smtp client side: the smtp agent
authenticates to a relayhost (RFC 4954) with SASL PLAIN (RFC 4616) or
LOGIN using smtp_sasl_password_maps (smtp/smtp_sasl.c, lib/sasl_client.c).

First against AuthPeer, a scripted server on 127.0.0.1 (STARTTLS with the
instance's self-signed certificate, AUTH PLAIN/LOGIN, records every line):
the exact AUTH bytes, PLAIN preferred, LOGIN's 334 dialogue with the old
"AUTH=" keyword, no AUTH in plain text under the default
smtp_sasl_security_options (deferred, "no mechanism available"), AUTH in
plain text when the options allow it, a 535 deferred (never bounced) with
the server's reply in `posthorn queue` and mailq, the password-map key
order, a map readable only by root and mail_owner's group, one AUTH per
cached session. Then the acceptance test: a second posthorn instance is the
relayhost (its submission service: smtpd_sasl_auth_enable=yes,
smtpd_tls_security_level=encrypt); the right password delivers into its
Maildir, a wrong one defers with its 535 in mailq. Every test greps all
the logs for the passwords it used.
"""
import base64
import grp
import os
import pwd
import re
import socket
import ssl
import threading
import unittest

from harness import BIN, PosthornTestCase, run, wait_for, wait_port
from peers import LineReader, free_port_on

TIMEOUT = 30
USER = "relayuser@example.test"
PASSWORD = "Pl41n-S3cret:with:colons"
WRONG = "Wr0ng-Guess-77"


def have(*daemons):
    return all(os.path.exists(os.path.join(os.path.dirname(BIN), "libexec",
                                           d)) for d in daemons)


class AuthPeer:
    """A scripted SMTP server on 127.0.0.1:port that may offer STARTTLS and
    AUTH. Records each session as a list of the lines it received (the
    AUTH lines raw, bytes) and each message's recipients.

      starttls      offer STARTTLS (cert/key: PEM files)
      mechs         the AUTH mechanisms, e.g. "PLAIN LOGIN" ("" none)
      mechs_plain   the same for the plain-text EHLO (default: mechs)
      old_form      also send the old "AUTH=..." keyword line
      accept        {user: password} that authenticate
      auth_reply    the failure reply
    """

    def __init__(self, port, cert=None, key=None, mechs="PLAIN LOGIN",
                 starttls=True):
        self.port = port
        self.starttls = starttls
        self.mechs = mechs
        self.mechs_plain = None
        self.old_form = False
        self.accept = {}
        self.auth_reply = "535 5.7.8 Error: authentication failed: " \
                          "authentication failure"
        self.sessions = []
        self.messages = []
        self.lock = threading.Lock()
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _check_plain(self, b64):
        try:
            raw = base64.b64decode(b64, validate=True)
            authz, user, pw = raw.split(b"\0")
        except ValueError:
            return False
        return authz == b"" and \
            self.accept.get(user.decode()) == pw.decode()

    def _serve(self, conn):
        conn.settimeout(TIMEOUT)
        log = []
        with self.lock:
            self.sessions.append(log)
        f = LineReader(conn)
        tls = False
        authed = False

        def send(text):
            conn.sendall((text + "\r\n").encode())

        try:
            send("220 peer.test ESMTP auth peer")
            msg = None
            while not self.stopping:
                raw = f.readline()
                if not raw:
                    return
                log.append(raw)
                cmd = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    kw = ["peer.test", "PIPELINING", "8BITMIME",
                          "ENHANCEDSTATUSCODES"]
                    mechs = self.mechs if tls or self.mechs_plain is None \
                        else self.mechs_plain
                    if self.starttls and not tls:
                        kw.append("STARTTLS")
                    if mechs:
                        kw.append("AUTH " + mechs)
                        if self.old_form:
                            kw.append("AUTH=" + mechs)
                    for k in kw[:-1]:
                        send("250-" + k)
                    send("250 " + kw[-1])
                elif verb == "STARTTLS" and self.starttls and not tls:
                    send("220 2.0.0 Ready to start TLS")
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                    f = LineReader(conn)
                    tls = True
                    log.append(b"<TLS>")
                elif verb == "AUTH":
                    parts = cmd.split(" ")
                    mech = parts[1].upper() if len(parts) > 1 else ""
                    ok = False
                    if mech == "PLAIN" and len(parts) == 3:
                        ok = self._check_plain(parts[2])
                    elif mech == "LOGIN" and len(parts) == 2:
                        send("334 VXNlcm5hbWU6")
                        u = f.readline()
                        log.append(u)
                        send("334 UGFzc3dvcmQ6")
                        p = f.readline()
                        log.append(p)
                        try:
                            user = base64.b64decode(u.strip()).decode()
                            pw = base64.b64decode(p.strip()).decode()
                            ok = self.accept.get(user) == pw
                        except ValueError:
                            ok = False
                    if ok:
                        authed = True
                        send("235 2.7.0 Authentication successful")
                    else:
                        send(self.auth_reply)
                elif verb == "MAIL":
                    msg = {"from": cmd, "rcpts": [], "authed": authed,
                           "tls": tls}
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    msg["rcpts"].append(cmd)
                    send("250 2.1.5 Ok")
                elif verb == "DATA":
                    send("354 End data with <CR><LF>.<CR><LF>")
                    while True:
                        line = f.readline()
                        if not line or line == b".\r\n":
                            break
                    with self.lock:
                        self.messages.append(msg)
                        n = len(self.messages)
                    send("250 2.0.0 Ok: queued as AUTHPEER%d" % n)
                elif verb in ("RSET", "NOOP"):
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("502 5.5.2 Error: command not recognized")
        except (OSError, ssl.SSLError, AttributeError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def auth_lines(self):
        """Every line received from AUTH on (AUTH and its responses)."""
        out = []
        with self.lock:
            for s in self.sessions:
                on = False
                for line in s:
                    if line.upper().startswith(b"AUTH"):
                        on = True
                    elif line.upper().startswith((b"MAIL", b"QUIT",
                                                  b"RSET")):
                        on = False
                    if on:
                        out.append(line)
        return out


def plain_line(user, password):
    return b"AUTH PLAIN " + base64.b64encode(
        b"\0" + user.encode() + b"\0" + password.encode()) + b"\r\n"


def secrets_of(*passwords):
    """The passwords and every encoding of them a log could hold."""
    out = []
    for p in passwords:
        out.append(p)
        out.append(base64.b64encode(p.encode()).decode())
        out.append(base64.b64encode(("\0%s\0%s" % (USER, p)).encode())
                   .decode())
    return out


class SaslTestCase(PosthornTestCase):

    def mail_group(self, inst):
        with open(os.path.join(inst.dir, "main.cf")) as f:
            owner = re.search(r"^mail_owner\s*=\s*(\S+)", f.read(),
                              re.M).group(1)
        return pwd.getpwnam(owner).pw_gid

    def password_map(self, inst, entries, name="sasl_passwd"):
        """Write and build lmdb:DIR/name, 0640 root:<mail_owner group>
        (the recommended setting); returns the map spec."""
        path = os.path.join(inst.dir, name)
        with open(path, "w") as f:
            for k, v in entries:
                f.write("%s %s\n" % (k, v))
        if os.geteuid() == 0:
            os.chown(path, 0, self.mail_group(inst))
        os.chmod(path, 0o640)
        inst.posthorn("map", "build", path)
        return "lmdb:" + path

    def sendmail(self, inst, rcpt, sender="sender@example.test"):
        run([os.path.join(BIN, "sendmail"), "-C", inst.dir, "-f", sender,
             rcpt], input="Subject: sasl\n\nhello\n")

    def wait_log(self, inst, pattern):
        found = wait_for(lambda: re.search(pattern, inst.log()),
                         timeout=TIMEOUT)
        self.assertTrue(found, "no log line matching %r\n%s" %
                        (pattern, inst.log()))
        return found

    def queue_text(self, inst):
        """`posthorn queue` and mailq (sendmail -bp) output."""
        q = inst.posthorn("queue", "list").stdout
        m = run([os.path.join(BIN, "sendmail"), "-C", inst.dir, "-bp"],
                check=False).stdout
        return q, m

    def assert_no_secrets(self, insts, passwords):
        for inst in insts:
            log = inst.log()
            for s in secrets_of(*passwords):
                self.assertNotIn(s, log, "a secret in %s's log" % inst.dir)

    def assert_clean_exit(self, inst):
        inst.stop()
        bad = [l for l in inst.log().splitlines()
               if re.search(r"warning: process \S*/smtpd? ", l) or
               "AddressSanitizer" in l or "runtime error" in l]
        self.assertEqual(bad, [])


@unittest.skipUnless(have("qmgr", "smtp", "cleanup", "pickup"),
                     "needs qmgr, smtp, cleanup and pickup")
class TestScriptedPeer(SaslTestCase):
    """The smtp agent against AuthPeer, through relayhost."""

    def setup(self, mechs="PLAIN LOGIN", starttls=True, tls_level="may",
              entries=None, **conf):
        self.inst = inst = self.make_instance(domain="example.test")
        self.port = free_port_on(["127.0.0.1"])
        self.peer = AuthPeer(self.port,
                             cert=os.path.join(inst.dir, "tls", "cert.pem"),
                             key=os.path.join(inst.dir, "tls", "key.pem"),
                             mechs=mechs, starttls=starttls)
        self.addCleanup(self.peer.stop)
        self.peer.accept = {USER: PASSWORD}
        self.nexthop = "[127.0.0.1]:%d" % self.port
        # entries: fn(nexthop) -> [(key, value)]
        entries = (entries or (lambda nh: [(nh, "%s:%s" % (USER,
                                                        PASSWORD))]))(
            self.nexthop)
        settings = {"relayhost": self.nexthop,
                    "smtp_tls_security_level": tls_level,
                    "smtp_sasl_auth_enable": "yes",
                    "smtp_sasl_password_maps":
                        self.password_map(inst, entries),
                    "smtp_connect_timeout": "5s",
                    "smtp_helo_timeout": "10s"}
        settings.update(conf)
        inst.conf(**settings)
        inst.start()
        return inst

    def delivered(self, n=1):
        ok = wait_for(lambda: len(self.peer.messages) >= n, timeout=TIMEOUT)
        self.assertTrue(ok, self.inst.log())
        return self.peer.messages

    def finish(self):
        self.assert_no_secrets([self.inst], [PASSWORD, WRONG])
        self.assert_clean_exit(self.inst)

    def test_plain_over_tls_exact_bytes(self):
        inst = self.setup()
        self.sendmail(inst, "user@remote.test")
        msgs = self.delivered()
        self.assertTrue(msgs[0]["authed"] and msgs[0]["tls"])
        # PLAIN preferred, as an initial response (RFC 4954 4), only
        # after STARTTLS, right before MAIL.
        self.assertEqual(self.peer.auth_lines(), [plain_line(USER,
                                                             PASSWORD)])
        s = self.peer.sessions[0]
        self.assertLess(s.index(b"<TLS>"), s.index(plain_line(USER,
                                                              PASSWORD)))
        self.wait_log(inst, r"to=<user@remote\.test>, relay=127\.0\.0\.1"
                      r"\[127\.0\.0\.1\]:%d, .*status=sent" % self.port)
        self.finish()

    def test_login_dialogue_old_keyword(self):
        inst = self.setup(mechs="")
        self.peer.mechs = "LOGIN CRAM-MD5"
        self.peer.old_form = True
        self.sendmail(inst, "user@remote.test")
        self.assertTrue(self.delivered()[0]["authed"])
        self.assertEqual(self.peer.auth_lines(), [
            b"AUTH LOGIN\r\n",
            base64.b64encode(USER.encode()) + b"\r\n",
            base64.b64encode(PASSWORD.encode()) + b"\r\n"])
        self.finish()

    def test_no_auth_in_plain_text_by_default(self):
        # The server offers PLAIN and LOGIN but no STARTTLS: the default
        # smtp_sasl_security_options (noplaintext) forbids both.
        inst = self.setup(starttls=False)
        self.sendmail(inst, "user@remote.test")
        self.wait_log(inst, r"to=<user@remote\.test>, .*dsn=4\.7\.0, "
                      r"status=deferred \(SASL authentication failed: "
                      r"cannot authenticate to server 127\.0\.0\.1"
                      r"\[127\.0\.0\.1\]: no mechanism available")
        self.assertEqual(self.peer.auth_lines(), [])
        self.assertEqual(self.peer.messages, [])
        for text in self.queue_text(inst):
            self.assertIn("SASL authentication failed: cannot "
                          "authenticate to server 127.0.0.1[127.0.0.1]: "
                          "no mechanism available", text)
        self.finish()

    def test_auth_offered_only_before_tls_is_not_used_in_plain(self):
        # smtp_tls_security_level=none: never STARTTLS, so never AUTH.
        inst = self.setup(tls_level="none")
        self.sendmail(inst, "user@remote.test")
        self.wait_log(inst, r"status=deferred \(SASL authentication "
                      r"failed: cannot authenticate.*no mechanism")
        self.assertEqual(self.peer.auth_lines(), [])
        self.finish()

    def test_plain_text_allowed_by_options(self):
        inst = self.setup(starttls=False,
                          smtp_sasl_security_options="noanonymous")
        self.sendmail(inst, "user@remote.test")
        msgs = self.delivered()
        self.assertTrue(msgs[0]["authed"])
        self.assertFalse(msgs[0]["tls"])
        self.assertEqual(self.peer.auth_lines(), [plain_line(USER,
                                                             PASSWORD)])
        self.finish()

    def test_tls_options_can_forbid_plain(self):
        inst = self.setup(smtp_sasl_tls_security_options="noplaintext")
        self.sendmail(inst, "user@remote.test")
        self.wait_log(inst, r"status=deferred \(SASL authentication "
                      r"failed: cannot authenticate.*no mechanism")
        self.assertEqual(self.peer.auth_lines(), [])
        self.finish()

    def test_535_defers_with_reason(self):
        inst = self.setup(entries=lambda nh: [(nh, "%s:%s" % (USER,
                                                              WRONG))])
        self.sendmail(inst, "user@remote.test")
        reason = ("SASL authentication failed; server 127.0.0.1"
                  "[127.0.0.1] said: 535 5.7.8 Error: authentication "
                  "failed: authentication failure")
        self.wait_log(inst, r"to=<user@remote\.test>, .*dsn=4\.7\.8, "
                      r"status=deferred \(%s\)" % re.escape(reason))
        self.assertEqual(self.peer.auth_lines(), [plain_line(USER, WRONG)])
        self.assertEqual(self.peer.messages, [])
        for text in self.queue_text(inst):
            self.assertIn(reason, text)
        self.assertNotIn("status=bounced", inst.log())
        self.finish()

    def test_other_auth_failures_defer(self):
        inst = self.setup()
        self.peer.auth_reply = "454 4.7.0 Temporary authentication failure"
        self.peer.accept = {}
        self.sendmail(inst, "user@remote.test")
        self.wait_log(inst, r"dsn=4\.7\.0, status=deferred \(SASL "
                      r"authentication failed; server 127\.0\.0\.1"
                      r"\[127\.0\.0\.1\] said: 454 4\.7\.0 Temporary")
        self.finish()

    def test_no_credentials_no_auth(self):
        inst = self.setup(entries=lambda nh: [("[other.example]:587",
                                               "u:p")])
        self.sendmail(inst, "user@remote.test")
        msgs = self.delivered()
        self.assertFalse(msgs[0]["authed"])
        self.assertEqual(self.peer.auth_lines(), [])
        self.finish()

    def test_key_order_nexthop_before_host(self):
        # Both the nexthop as written and the host name have an entry:
        # the nexthop's wins.
        inst = self.setup(entries=lambda nh: [
            ("127.0.0.1", "%s:%s" % (USER, WRONG)),
            (nh, "%s:%s" % (USER, PASSWORD))])
        self.sendmail(inst, "user@remote.test")
        self.assertTrue(self.delivered()[0]["authed"])
        self.assertEqual(self.peer.auth_lines(), [plain_line(USER,
                                                             PASSWORD)])
        self.finish()

    def test_key_host_name(self):
        # Only the server's host name has an entry.
        inst = self.setup(entries=lambda nh: [("127.0.0.1", "%s:%s" % (
            USER, PASSWORD))])
        self.sendmail(inst, "user@remote.test")
        self.assertTrue(self.delivered()[0]["authed"])
        self.finish()

    def test_map_readable_by_mail_owner_group_only(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to chown the map")
        # No session cache: the second message needs a new session.
        inst = self.setup(smtp_connection_cache_on_demand="no")
        path = os.path.join(inst.dir, "sasl_passwd.lmdb")
        st = os.stat(path)
        # posthorn map build keeps the source's mode and owner.
        self.assertEqual(st.st_mode & 0o777, 0o640)
        self.assertEqual((st.st_uid, st.st_gid), (0, self.mail_group(inst)))
        self.sendmail(inst, "user@remote.test")
        self.assertTrue(self.delivered()[0]["authed"])
        # A rebuilt map is reopened by the unprivileged smtp process.
        self.peer.accept = {"second@example.test": "An0ther-pass"}
        self.password_map(inst, [(self.nexthop,
                                  "second@example.test:An0ther-pass")])
        self.sendmail(inst, "user2@remote.test")
        self.assertEqual(len(self.delivered(2)), 2)
        self.assertTrue(self.peer.messages[1]["authed"])
        self.assertIn(plain_line("second@example.test", "An0ther-pass"),
                      self.peer.auth_lines())
        self.assert_no_secrets([inst], ["An0ther-pass"])
        self.finish()

    def test_cached_session_one_auth(self):
        inst = self.setup(smtp_connection_cache_time_limit="10s")
        for i in range(3):
            self.sendmail(inst, "user%d@remote.test" % i)
            self.delivered(i + 1)
        self.assertTrue(all(m["authed"] for m in self.peer.messages))
        # Sessions are kept per nexthop: each one authenticated once.
        self.assertEqual(len(self.peer.auth_lines()),
                         len(self.peer.sessions))
        self.finish()

    def test_cache_is_per_nexthop(self):
        # Two nexthops on two ports with their own credentials: an
        # authenticated session is never reused for the other one.
        port2 = free_port_on(["127.0.0.1"])
        inst = self.make_instance(domain="example.test")
        self.inst = inst
        cert = os.path.join(inst.dir, "tls", "cert.pem")
        key = os.path.join(inst.dir, "tls", "key.pem")
        self.port = free_port_on(["127.0.0.1"])
        self.peer = p1 = AuthPeer(self.port, cert=cert, key=key)
        p2 = AuthPeer(port2, cert=cert, key=key)
        self.addCleanup(p1.stop)
        self.addCleanup(p2.stop)
        p1.accept = {"one@example.test": "pass-one-111"}
        p2.accept = {"two@example.test": "pass-two-222"}
        tpath = os.path.join(inst.dir, "transport")
        with open(tpath, "w") as f:
            f.write("a.test smtp:[127.0.0.1]:%d\n" % self.port)
            f.write("b.test smtp:[127.0.0.1]:%d\n" % port2)
        inst.posthorn("map", "build", tpath)
        inst.conf(transport_maps="lmdb:" + tpath,
                  smtp_tls_security_level="may",
                  smtp_sasl_auth_enable="yes",
                  smtp_connection_cache_time_limit="10s",
                  smtp_sasl_password_maps=self.password_map(inst, [
                      ("[127.0.0.1]:%d" % self.port,
                       "one@example.test:pass-one-111"),
                      ("[127.0.0.1]:%d" % port2,
                       "two@example.test:pass-two-222")]))
        inst.start()
        for i, rcpt in enumerate(["x@a.test", "y@b.test", "z@a.test",
                                  "w@b.test"]):
            self.sendmail(inst, rcpt)
            peer = p1 if rcpt.endswith("a.test") else p2
            self.assertTrue(wait_for(lambda: len(peer.messages) >= i // 2
                                     + 1, timeout=TIMEOUT), inst.log())
        self.assertTrue(all(m["authed"] for m in p1.messages + p2.messages))
        self.assertEqual(set(p1.auth_lines()),
                         {plain_line("one@example.test", "pass-one-111")})
        self.assertEqual(set(p2.auth_lines()),
                         {plain_line("two@example.test", "pass-two-222")})
        self.assert_no_secrets([inst], ["pass-one-111", "pass-two-222"])
        self.assert_clean_exit(inst)


def smtpd_has_auth():
    d = os.path.join(os.path.dirname(__file__), "..", "..", "smtpd")
    try:
        return any("AUTH" in open(os.path.join(d, f)).read()
                   for f in os.listdir(d) if f == "smtpd_auth.c")
    except OSError:
        return False


@unittest.skipUnless(have("qmgr", "smtp", "smtpd", "local", "cleanup"),
                     "needs qmgr, smtp, smtpd, local and cleanup")
@unittest.skipUnless(smtpd_has_auth(), "needs smtpd AUTH (smtpd_auth.c)")
class TestSecondInstance(SaslTestCase):
    """Acceptance: tx's smtp agent authenticates to rx's submission
    service (relayhost) and delivers into rx's Maildir."""

    def pair(self, password):
        rx = self.make_instance(hostname="mx.a.test", domain="a.test")
        rx.posthorn("user", "add", "user@a.test", "--password-stdin",
                    input="unused-Mailbox-pw\n")
        rx.posthorn("user", "add", USER, "--password-stdin",
                    input=PASSWORD + "\n")
        rx.conf(smtpd_tls_loglevel="1")
        rx.start()
        self.assertTrue(wait_port(rx.port("submission")))
        tx = self.make_instance(domain="example.test")
        nexthop = "[127.0.0.1]:%d" % rx.port("submission")
        tx.conf(relayhost=nexthop, smtp_tls_security_level="encrypt",
                smtp_sasl_auth_enable="yes",
                smtp_sasl_password_maps=self.password_map(
                    tx, [(nexthop, "%s:%s" % (USER, password))]),
                smtp_connect_timeout="5s", smtp_helo_timeout="10s")
        tx.start()
        # The smarthost checks that the login owns the sender address
        # (smtpd_sender_login_maps).
        self.sendmail(tx, "user@a.test", sender=USER)
        return tx, rx

    def maildir(self, rx):
        return os.path.join(rx.dir, "mail", "a.test", "user", "new")

    def test_relayhost_auth_delivers(self):
        tx, rx = self.pair(PASSWORD)
        d = self.maildir(rx)
        ok = wait_for(lambda: os.path.isdir(d) and os.listdir(d),
                      timeout=TIMEOUT)
        self.assertTrue(ok, "tx:\n%s\nrx:\n%s" % (tx.log(), rx.log()))
        with open(os.path.join(d, os.listdir(d)[0]), "rb") as f:
            text = f.read().decode(errors="replace")
        # RFC 3848: authenticated and over TLS.
        self.assertIn("with ESMTPSA id", text)
        self.wait_log(tx, r"to=<user@a\.test>, relay=127\.0\.0\.1"
                      r"\[127\.0\.0\.1\]:%d, .*status=sent"
                      % rx.port("submission"))
        self.wait_log(rx, r"sasl_method=PLAIN, sasl_username=%s"
                      % re.escape(USER))
        self.assert_no_secrets([tx, rx], [PASSWORD])
        self.assert_clean_exit(tx)
        self.assert_clean_exit(rx)

    def test_wrong_password_defers_with_535(self):
        tx, rx = self.pair(WRONG)
        m = self.wait_log(tx, r"to=<user@a\.test>, .*status=deferred "
                          r"\((SASL authentication failed; server "
                          r"127\.0\.0\.1\[127\.0\.0\.1\] said: 535 "
                          r"5\.7\.8[^)]*)\)")
        reason = m.group(1)
        q, mailq = self.queue_text(tx)
        self.assertIn(reason, mailq)
        self.assertIn(reason, q)
        self.assertNotIn("status=bounced", tx.log())
        d = self.maildir(rx)
        self.assertFalse(os.path.isdir(d) and os.listdir(d))
        self.assert_no_secrets([tx, rx], [PASSWORD, WRONG])
        self.assert_clean_exit(tx)
        self.assert_clean_exit(rx)


if __name__ == "__main__":
    unittest.main()
