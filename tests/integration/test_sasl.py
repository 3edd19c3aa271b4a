"""test_sasl.py: issue 9 acceptance, the server side: SMTP AUTH (RFC 4954)
with SASL PLAIN (RFC 4616) and LOGIN in smtpd (smtpd/smtpd_auth.c,
lib/sasl.c, lib/auth.c), the sender login checks (lib/sender_login.c,
reject_sender_login_mismatch) and the submission/smtps services that
`posthorn init` writes.

Every test starts its own instance (users u1..u3 hashed with yescrypt,
sha512-crypt and bcrypt by `posthorn user add`, a disabled user, an alias
of u1) and drives it with swaks and python's smtplib over loopback:
- swaks --auth PLAIN --tls on 587 and --tlsc on 465 relay to an outside
  domain, which transport_maps sends to a second instance (its Maildir);
  without AUTH: 554 5.7.1 relay denied on 25, 530 5.7.0 on 587;
- AUTH before STARTTLS on 587: not in EHLO, refused with 538 5.7.11;
- wrong passwords: 535 5.7.8, each reply later than the one before, 421
  and close at smtpd_hard_error_limit; 20 parallel guessers from one
  address slowed as one (anvil);
- MAIL FROM another user's address: 553 5.7.1; own address and own alias
  accepted; disabled user refused; $y$, $6$ and $2b$ users log in;
- PLAIN initial response, PLAIN and LOGIN challenges, "*" cancel, bad
  base64, AUTH twice, AUTH inside a transaction;
- the Received: header says ESMTPSA, the log "sasl_method=PLAIN,
  sasl_username=u1@example.test";
- after each test no log file of any instance holds a password used.
"""
import base64
import os
import re
import smtplib
import socket
import ssl
import subprocess
import threading
import time

from harness import PosthornTestCase, wait_for, wait_port

TIMEOUT = 30
DOMAIN = "example.test"
OUTSIDE = "outside.test"
USERS = {
    # address: (password, password_hash_method, hash prefix)
    "u1@example.test": ("Pw-u1-yes-Q7zr9", "yescrypt", "$y$"),
    "u2@example.test": ("Pw-u2-sha-K3mx8", "sha512", "$6$"),
    "u3@example.test": ("Pw-u3-bcr-W5pt2", "bcrypt", "$2b$"),
    "off@example.test": ("Pw-off-dis-H8vn4", "yescrypt", "$y$"),
}
WRONG = ["Wrong-guess-%02d-Zx" % i for i in range(60)]
ALIAS = "alias1@example.test"  # -> u1 only


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def plain_ir(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" +
                            password.encode()).decode()


def b64(s):
    return base64.b64encode(s.encode()).decode()


class SaslTestCase(PosthornTestCase):

    def setUp(self):
        self.instances = []
        self.passwords = [p for p, _, _ in USERS.values()] + WRONG
        # Runs before the instances are removed (cleanups are LIFO).
        self.addCleanup(self.check_logs_hold_no_password)

    def new_instance(self, **kw):
        inst = self.make_instance(**kw)
        self.instances.append(inst)
        return inst

    def check_logs_hold_no_password(self):
        """Acceptance: no password (nor its base64 or PLAIN forms) in any
        log file of any instance."""
        needles = []
        for addr, (pw, _, _) in USERS.items():
            needles += [pw, b64(pw), plain_ir(addr, pw)]
        needles += WRONG + [b64(w) for w in WRONG]
        for inst in self.instances:
            logdir = os.path.join(inst.dir, "log")
            for root, _, files in os.walk(logdir):
                for name in files:
                    with open(os.path.join(root, name), "rb") as f:
                        text = f.read().decode(errors="replace")
                    for n in needles:
                        self.assertNotIn(n, text, "password in %s" % name)

    def submission_instance(self, start=True, **conf):
        """The sending instance: users, an alias, loopback NOT in
        mynetworks (so relaying needs AUTH)."""
        inst = self.new_instance(domain=DOMAIN)
        settings = dict(mynetworks="192.0.2.0/24",
                        virtual_alias_maps="inline:{%s=u1@%s}" %
                        (ALIAS, DOMAIN))
        settings.update(conf)
        inst.conf(**settings)
        for addr, (pw, method, prefix) in USERS.items():
            inst.conf(password_hash_method=method)
            inst.posthorn("user", "add", addr, "--password-stdin",
                          input=pw + "\n")
        inst.conf(password_hash_method="yescrypt")
        inst.posthorn("user", "disable", "off@example.test")
        with open(os.path.join(inst.dir, "users")) as f:
            text = f.read()
        for addr, (_, _, prefix) in USERS.items():
            self.assertRegex(text, r"(?m)^%s %s" % (re.escape(addr),
                                                    re.escape(prefix)))
        if start:
            self.start(inst)
        return inst

    def start(self, inst):
        inst.start()
        for svc in ("smtp", "submission", "smtps"):
            self.assertTrue(wait_port(inst.port(svc)))

    def submit(self, inst, port="submission"):
        """smtplib over STARTTLS (587) or implicit TLS (465), EHLO'd."""
        if port == "smtps":
            s = smtplib.SMTP_SSL("127.0.0.1", inst.port(port),
                                 timeout=TIMEOUT, context=tls_context())
        else:
            s = smtplib.SMTP("127.0.0.1", inst.port(port), timeout=TIMEOUT)
            s.ehlo("client.example")
            if port == "submission":
                s.starttls(context=tls_context())
        s.ehlo("client.example")
        return s

    def maildir(self, inst, address):
        local, domain = address.split("@")
        d = os.path.join(inst.dir, "mail", domain, local, "new")
        try:
            return sorted(os.path.join(d, n) for n in os.listdir(d))
        except FileNotFoundError:
            return []

    def swaks(self, *args):
        p = subprocess.run(["swaks", "--server", "127.0.0.1",
                            "--helo", "client.example",
                            "--timeout", str(TIMEOUT)] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=TIMEOUT * 2)
        return p.returncode, p.stdout.decode(errors="replace")


class TestRelayWithAuth(SaslTestCase):

    def test_swaks_auth_relays_to_second_instance(self):
        # The outside domain's MX is a second instance, reached through
        # transport_maps.
        rx = self.new_instance(hostname="mx.outside.test", domain=OUTSIDE)
        rx.posthorn("user", "add", "bob@" + OUTSIDE, "--password-stdin",
                    input="Pw-bob-rx-L2kd7\n")
        self.passwords.append("Pw-bob-rx-L2kd7")
        self.start(rx)
        tx = self.submission_instance(
            start=False,
            transport_maps="inline:{%s=smtp:[127.0.0.1]:%d}" %
            (OUTSIDE, rx.port("smtp")))
        self.start(tx)
        u1pw = USERS["u1@example.test"][0]
        # 587: STARTTLS, then AUTH PLAIN.
        rc, out = self.swaks("--port", str(tx.port("submission")), "--tls",
                             "--auth", "PLAIN", "--auth-user",
                             "u1@example.test", "--auth-password", u1pw,
                             "--from", "u1@example.test", "--to",
                             "bob@" + OUTSIDE, "--header",
                             "Subject: via 587")
        self.assertEqual(rc, 0, out)
        self.assertIn("235 2.7.0 Authentication successful", out)
        # 465: implicit TLS.
        rc, out = self.swaks("--port", str(tx.port("smtps")), "--tlsc",
                             "--auth", "PLAIN", "--auth-user",
                             "u1@example.test", "--auth-password", u1pw,
                             "--from", "u1@example.test", "--to",
                             "bob@" + OUTSIDE, "--header",
                             "Subject: via 465")
        self.assertEqual(rc, 0, out)
        self.assertIn("235 2.7.0", out)
        self.assertTrue(wait_for(lambda: len(self.maildir(
            rx, "bob@" + OUTSIDE)) >= 2, timeout=TIMEOUT),
            tx.log() + rx.log())
        texts = []
        for path in self.maildir(rx, "bob@" + OUTSIDE):
            with open(path, errors="replace") as f:
                texts.append(f.read())
        self.assertTrue(any("Subject: via 587" in t for t in texts))
        self.assertTrue(any("Subject: via 465" in t for t in texts))
        # RFC 4954 7 / RFC 3848: ESMTPSA in the submission Received:.
        for t in texts:
            self.assertRegex(t, r"with ESMTPSA id")
        log = tx.log()
        self.assertRegex(log, r"posthorn/submission/smtpd\[\d+\]: \w+: "
                         r"client=\S+\[127\.0\.0\.1\], sasl_method=PLAIN, "
                         r"sasl_username=u1@example\.test")
        self.assertRegex(log, r"posthorn/smtps/smtpd\[\d+\]: \w+: "
                         r"client=\S+\[127\.0\.0\.1\], sasl_method=PLAIN, "
                         r"sasl_username=u1@example\.test")
        self.assertRegex(tx.log(), r"to=<bob@outside\.test>, "
                         r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*"
                         r"status=sent" % rx.port("smtp"))

    def test_without_auth_refused(self):
        tx = self.submission_instance()
        # 25: no AUTH, loopback not in mynetworks: relay denied.
        s = smtplib.SMTP("127.0.0.1", tx.port("smtp"), timeout=TIMEOUT)
        s.ehlo("client.example")
        self.assertEqual(s.mail("u1@example.test")[0], 250)
        code, msg = s.rcpt("bob@" + OUTSIDE)
        self.assertEqual(code, 554)
        self.assertIn(b"5.7.1 <bob@outside.test>: Relay access denied", msg)
        s.quit()
        # 587 after STARTTLS, no AUTH: 530 5.7.0 (RFC 4954 6).
        s = self.submit(tx)
        code, msg = s.mail("u1@example.test")
        self.assertEqual((code, msg), (530, b"5.7.0 Authentication required"))
        s.quit()
        # swaks agrees.
        rc, out = self.swaks("--port", str(tx.port("submission")), "--tls",
                             "--from", "u1@example.test", "--to",
                             "bob@" + OUTSIDE)
        self.assertNotEqual(rc, 0)
        self.assertIn("530 5.7.0 Authentication required", out)

    def test_auth_before_starttls_on_587(self):
        tx = self.submission_instance()
        s = smtplib.SMTP("127.0.0.1", tx.port("submission"), timeout=TIMEOUT)
        code, msg = s.ehlo("client.example")
        self.assertEqual(code, 250)
        self.assertNotIn(b"AUTH", msg)
        self.assertIn(b"STARTTLS", msg)
        u1pw = USERS["u1@example.test"][0]
        # RFC 4954 6: 538 5.7.11 Encryption required.
        code, msg = s.docmd("AUTH", "PLAIN " +
                            plain_ir("u1@example.test", u1pw))
        self.assertEqual(code, 538)
        self.assertIn(b"5.7.11", msg)
        s.starttls(context=tls_context())
        code, msg = s.ehlo("client.example")
        self.assertIn(b"AUTH PLAIN LOGIN", msg)
        code, msg = s.docmd("AUTH", "PLAIN " +
                            plain_ir("u1@example.test", u1pw))
        self.assertEqual(code, 235, msg)
        s.quit()
        # The plain port does not offer AUTH at all (not enabled there).
        s = smtplib.SMTP("127.0.0.1", tx.port("smtp"), timeout=TIMEOUT)
        code, msg = s.ehlo("client.example")
        self.assertNotIn(b"AUTH", msg)
        self.assertEqual(s.docmd("AUTH", "PLAIN")[0], 503)
        s.quit()


class TestBruteForce(SaslTestCase):

    def test_wrong_password_slower_each_time_then_closed(self):
        tx = self.submission_instance(
            start=False, smtpd_sasl_failure_delay="1s",
            smtpd_hard_error_limit="3")
        self.start(tx)
        s = self.submit(tx)
        times = []
        for i in range(3):
            t0 = time.monotonic()
            code, msg = s.docmd("AUTH", "PLAIN " +
                                plain_ir("u1@example.test", WRONG[i]))
            times.append(time.monotonic() - t0)
            self.assertEqual(code, 535, msg)
            self.assertIn(b"5.7.8", msg)
        # 1 s, 2 s, 4 s: each retry slower than the last.
        self.assertGreaterEqual(times[0], 0.9)
        self.assertGreater(times[1], times[0] + 0.5, times)
        self.assertGreater(times[2], times[1] + 1.0, times)
        # The third failure reached smtpd_hard_error_limit: 421, close.
        code, msg = s.getreply()
        self.assertEqual(code, 421, msg)
        with self.assertRaises(smtplib.SMTPServerDisconnected):
            s.noop()
        log = tx.log()
        self.assertRegex(log, r"warning: \S+\[127\.0\.0\.1\]: SASL PLAIN "
                         r"authentication failed: wrong password, "
                         r"sasl_username=u1@example\.test")
        self.assertIn("too many errors after AUTH", log)

    def test_parallel_guessers_slowed_as_one(self):
        # smtpd_timeout 10s caps each delay at 5s.
        tx = self.submission_instance(
            start=False, smtpd_sasl_failure_delay="1s",
            smtpd_timeout="10s", smtpd_tls_auth_only="no",
            smtpd_sasl_auth_enable="yes")
        self.start(tx)
        n = 20
        barrier = threading.Barrier(n)
        times, errors = [], []
        lock = threading.Lock()

        def guesser(i):
            try:
                s = smtplib.SMTP("127.0.0.1", tx.port("smtp"),
                                 timeout=TIMEOUT)
                s.ehlo("client.example")
                barrier.wait(timeout=TIMEOUT)
                t0 = time.monotonic()
                code, _ = s.docmd("AUTH", "PLAIN " +
                                  plain_ir("u2@example.test", WRONG[10 + i]))
                dt = time.monotonic() - t0
                s.close()
                with lock:
                    times.append((dt, code))
            except Exception as e:  # reported below
                with lock:
                    errors.append(repr(e))

        threads = [threading.Thread(target=guesser, args=(i,))
                   for i in range(n)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT * 2)
        total = time.monotonic() - t0
        self.assertEqual(errors, [])
        self.assertEqual(len(times), n)
        self.assertTrue(all(c == 535 for _, c in times), times)
        delays = sorted(dt for dt, _ in times)
        # One guesser alone would wait 1 s; together they share the
        # address's failure count: 1, 2, 4, then the 5 s cap.
        self.assertGreaterEqual(delays[0], 0.9, delays)
        self.assertGreaterEqual(delays[-1], 4.5, delays)
        self.assertGreaterEqual(sum(1 for d in delays if d >= 3.5),
                                n - 4, delays)
        self.assertLess(total, 25)

    def test_auth_rate_limit(self):
        tx = self.submission_instance(
            start=False, smtpd_client_auth_rate_limit="2",
            smtpd_client_event_limit_exceptions="",
            smtpd_sasl_failure_delay="0")
        self.start(tx)
        u1pw = USERS["u1@example.test"][0]
        for i in range(2):
            s = self.submit(tx)
            self.assertEqual(s.docmd("AUTH", "PLAIN " + plain_ir(
                "u1@example.test", u1pw))[0], 235)
            s.quit()
        s = self.submit(tx)
        code, msg = s.docmd("AUTH", "PLAIN " +
                            plain_ir("u1@example.test", u1pw))
        self.assertEqual(code, 450, msg)
        self.assertIn(b"4.7.1 Error: too many AUTH commands from 127.0.0.1",
                      msg)
        s.quit()
        self.assertRegex(tx.log(), r"AUTH command rate limit exceeded: 3 "
                         r"from \S+\[127\.0\.0\.1\] for service")


class TestSenderLogin(SaslTestCase):

    def login(self, inst, user, port="submission"):
        s = self.submit(inst, port)
        code, msg = s.docmd("AUTH", "PLAIN " +
                            plain_ir(user, USERS[user][0]))
        self.assertEqual(code, 235, msg)
        return s

    def test_sender_must_be_owned(self):
        tx = self.submission_instance()
        s = self.login(tx, "u1@example.test")
        # Another user's address: 553 5.7.1 (smtpd_delay_reject=yes: the
        # sender restrictions answer at RCPT, as in Postfix).
        code, msg = s.mail("u2@example.test")
        if code == 250:
            code, msg = s.rcpt("u3@example.test")
        self.assertEqual(code, 553, msg)
        self.assertIn(b"5.7.1 <u2@example.test>: Sender address rejected: "
                      b"not owned by user u1@example.test", msg)
        s.rset()
        # Its own address and its own alias: accepted and delivered.
        for sender in ("u1@example.test", ALIAS, "U1@Example.Test"):
            self.assertEqual(s.mail(sender)[0], 250)
            self.assertEqual(s.rcpt("u3@example.test")[0], 250, sender)
            code, msg = s.data(("Subject: from %s\r\n\r\nhi\r\n" %
                                sender).encode())
            self.assertEqual(code, 250, msg)
        s.quit()
        self.assertTrue(wait_for(lambda: len(self.maildir(
            tx, "u3@example.test")) >= 3, timeout=TIMEOUT), tx.log())
        self.assertRegex(tx.log(), r"NOQUEUE: reject: RCPT from \S+: 553 "
                         r"5\.7\.1 <u2@example\.test>: Sender address "
                         r"rejected: not owned by user u1@example\.test")

    def test_disabled_user_refused(self):
        tx = self.submission_instance()
        s = self.submit(tx)
        code, msg = s.docmd("AUTH", "PLAIN " + plain_ir(
            "off@example.test", USERS["off@example.test"][0]))
        self.assertEqual(code, 535, msg)
        s.close()
        rc, out = self.swaks("--port", str(tx.port("submission")), "--tls",
                             "--auth", "LOGIN", "--auth-user",
                             "off@example.test", "--auth-password",
                             USERS["off@example.test"][0], "--from",
                             "off@example.test", "--to", "u1@example.test")
        self.assertNotEqual(rc, 0)
        self.assertIn("535 5.7.8 Error: authentication failed", out)
        self.assertIn("authentication failed: user disabled, "
                      "sasl_username=off@example.test", tx.log())

    def test_all_hash_schemes_log_in(self):
        tx = self.submission_instance()
        for user in ("u1@example.test", "u2@example.test",
                     "u3@example.test"):
            # smtplib's own login (it picks PLAIN or LOGIN).
            s = self.submit(tx)
            s.login(user, USERS[user][0])
            s.quit()
            # swaks with LOGIN on 465.
            rc, out = self.swaks("--port", str(tx.port("smtps")), "--tlsc",
                                 "--auth", "LOGIN", "--auth-user", user,
                                 "--auth-password", USERS[user][0],
                                 "--from", user, "--to", "u1@example.test")
            self.assertEqual(rc, 0, out)
            self.assertIn("235 2.7.0", out)


class TestProtocol(SaslTestCase):

    def test_exchanges(self):
        tx = self.submission_instance()
        user, pw = "u1@example.test", USERS["u1@example.test"][0]
        # PLAIN without initial response: empty 334, then the message.
        s = self.submit(tx)
        code, msg = s.docmd("AUTH", "PLAIN")
        self.assertEqual((code, msg), (334, b""))
        code, msg = s.docmd(plain_ir(user, pw))
        self.assertEqual(code, 235, msg)
        # RFC 4954 4: AUTH after success is 503.
        self.assertEqual(s.docmd("AUTH", "PLAIN")[0], 503)
        s.quit()
        # LOGIN with its two challenges.
        s = self.submit(tx)
        self.assertEqual(s.docmd("AUTH", "LOGIN"), (334, b"VXNlcm5hbWU6"))
        self.assertEqual(s.docmd(b64(user)), (334, b"UGFzc3dvcmQ6"))
        self.assertEqual(s.docmd(b64(pw))[0], 235)
        s.quit()
        s = self.submit(tx)
        # "*" cancels: 501 5.7.0.
        self.assertEqual(s.docmd("AUTH", "LOGIN")[0], 334)
        code, msg = s.docmd("*")
        self.assertEqual((code, msg[:5]), (501, b"5.7.0"))
        # Not base64: 501.
        self.assertEqual(s.docmd("AUTH", "PLAIN")[0], 334)
        self.assertEqual(s.docmd("!!notbase64!!")[0], 501)
        # authzid other than authcid: refused.
        bad = base64.b64encode(b"u2@example.test\0" + user.encode() +
                               b"\0" + pw.encode()).decode()
        self.assertEqual(s.docmd("AUTH", "PLAIN " + bad)[0], 501)
        # "=": an empty initial response (no NULs: refused).
        self.assertEqual(s.docmd("AUTH", "PLAIN =")[0], 501)
        # Unknown mechanism.
        self.assertEqual(s.docmd("AUTH", "CRAM-MD5")[0], 504)
        # Unknown user: the same 535 as a wrong password.
        code, msg = s.docmd("AUTH", "PLAIN " + plain_ir(
            "nobody@example.test", WRONG[40]))
        self.assertEqual((code, msg),
                         (535, b"5.7.8 Error: authentication failed"))
        s.close()
        # An overlong response line: 500 5.5.6.
        s = self.submit(tx)
        self.assertEqual(s.docmd("AUTH", "PLAIN")[0], 334)
        code, msg = s.docmd("A" * 13000)
        self.assertEqual((code, msg[:5]), (500, b"5.5.6"))
        # The session goes on.
        self.assertEqual(s.docmd("AUTH", "PLAIN " + plain_ir(user, pw))[0],
                         235)
        # MAIL with AUTH= (RFC 4954 5), then AUTH inside the transaction.
        code, msg = s.docmd("MAIL", "FROM:<%s> AUTH=<%s>" % (user, user))
        self.assertEqual(code, 250, msg)
        self.assertEqual(s.docmd("MAIL", "FROM:<%s> AUTH=bad+ZZ" % user)[0],
                         503)
        self.assertEqual(s.docmd("RSET")[0], 250)
        code, msg = s.docmd("MAIL", "FROM:<%s> AUTH=bad+ZZ" % user)
        self.assertEqual(code, 501, msg)
        s.quit()

    def test_auth_during_transaction(self):
        tx = self.submission_instance(start=False,
                                      smtpd_tls_auth_only="no",
                                      smtpd_sasl_auth_enable="yes",
                                      mynetworks="127.0.0.0/8")
        self.start(tx)
        s = smtplib.SMTP("127.0.0.1", tx.port("smtp"), timeout=TIMEOUT)
        code, msg = s.ehlo("client.example")
        self.assertIn(b"AUTH PLAIN LOGIN", msg)
        self.assertEqual(s.mail("x@example.org")[0], 250)
        code, msg = s.docmd("AUTH", "PLAIN " + plain_ir(
            "u1@example.test", USERS["u1@example.test"][0]))
        self.assertEqual(code, 503, msg)
        s.quit()
