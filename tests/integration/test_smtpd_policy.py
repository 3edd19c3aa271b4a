"""test_smtpd_policy.py: smtpd access policy end to end (issue 5): relay
control (a client bound to 127.0.0.2 outside mynetworks=127.0.0.1/32 gets
554 5.7.1, or 454 with defer_unauth_destination; the same from 127.0.0.1
is accepted), recipient validation (unknown local and virtual recipients
get 550 5.1.1 at RCPT, known users and user+tag are accepted),
check_recipient_access with an lmdb table, check_client/helo/sender_access,
reject_non_fqdn_* and reject_invalid_helo_hostname, the Postfix NOQUEUE
reject log line, and the anvil connection count/rate limits (421 4.7.0,
exceptions, fail open without anvil).
"""
import os
import re
import smtplib
import socket

from harness import PosthornTestCase, wait_for, wait_port

HOST = "127.0.0.1"


class Client:
    """A small raw SMTP client bound to a chosen source address."""

    def __init__(self, port, source="127.0.0.1", timeout=20):
        self.sock = socket.create_connection((HOST, port), timeout=timeout,
                                             source_address=(source, 0))
        self.buf = b""

    def reply(self):
        """One whole (possibly multi-line) reply: (code, text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                data = self.sock.recv(4096)
                if not data:
                    raise EOFError("connection closed; got %r" % self.buf)
                self.buf += data
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        return int(lines[-1][:3]), "\n".join(l[4:] for l in lines)

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
        self.sock.close()


class SmtpdPolicyTest(PosthornTestCase):

    def instance(self, users=(), **settings):
        inst = self.make_instance()
        base = {"smtpd_client_event_limit_exceptions": ""}
        base.update(settings)
        inst.conf(**base)
        for user in users:
            self.add_user(inst, user)
        inst.start()
        self.assertTrue(wait_port(inst.port("smtp")), "smtpd not listening")
        return inst

    def add_user(self, inst, address):
        """`posthorn user add` (users helper), else DIR/users + map build
        with a line per lib/users.h."""
        proc = inst.posthorn("user", "add", address, "--password-stdin",
                             input="secret-%s\n" % address, check=False)
        if proc.returncode == 0:
            return
        path = os.path.join(inst.dir, "users")
        with open(path, "a") as f:
            f.write("%s $6$saltsalt$notarealhash\n" % address)
        inst.posthorn("map", "build", path)

    def session(self, inst, source="127.0.0.1", helo="client.example.org",
                sender="a@example.org"):
        c = Client(inst.port("smtp"), source)
        self.addCleanup(c.close)
        code, _ = c.reply()
        self.assertEqual(code, 220)
        code, text = c.cmd("EHLO %s" % helo)
        self.assertEqual(code, 250, text)
        if sender is not None:
            code, text = c.cmd("MAIL FROM:<%s>" % sender)
            self.assertEqual(code, 250, text)
        return c

    def rcpt(self, c, address, code, text=None):
        """RCPT TO:<address> must get code (and exactly text)."""
        got, msg = c.cmd("RCPT TO:<%s>" % address)
        self.assertEqual(got, code, "%s: %s" % (address, msg))
        if text is not None:
            self.assertEqual(msg, text)

    def assert_log(self, inst, pattern, timeout=10):
        rx = re.compile(pattern)
        ok = wait_for(lambda: rx.search(inst.log()), timeout=timeout)
        self.assertTrue(ok, "no log line matching %r" % pattern)

    # Relay control.

    def test_relay_denied_outside_mynetworks(self):
        inst = self.instance(mynetworks="127.0.0.1/32")
        c = self.session(inst, source="127.0.0.2")
        self.rcpt(c, "x@outside.example", 554,
                  "5.7.1 <x@outside.example>: Relay access "
                  "denied")
        # Postfix's NOQUEUE reject line, word for word.
        self.assert_log(
            inst,
            r"posthorn/smtpd\[\d+\]: NOQUEUE: reject: RCPT from "
            r"[^\s\[]+\[127\.0\.0\.2\]: 554 5\.7\.1 <x@outside\.example>: "
            r"Relay access denied; from=<a@example\.org> "
            r"to=<x@outside\.example> proto=ESMTP "
            r"helo=<client\.example\.org>")
        # The session goes on: another recipient of ours is fine.
        self.rcpt(c, "postmaster@mail.example.test", 250)

        # From inside mynetworks the same relay is accepted, and queued.
        with smtplib.SMTP(HOST, inst.port("smtp"), timeout=20,
                          source_address=("127.0.0.1", 0)) as s:
            s.ehlo("inside.example.org")
            s.mail("a@example.org")
            code, text = s.rcpt("x@outside.example")
            self.assertEqual(code, 250, text)
            code, text = s.data(b"Subject: relay\r\n\r\nhello\r\n")
            self.assertEqual(code, 250, text)

    def test_relay_deferred(self):
        inst = self.instance(
            mynetworks="127.0.0.1/32",
            smtpd_relay_restrictions="permit_mynetworks, "
            "permit_sasl_authenticated, defer_unauth_destination")
        c = self.session(inst, source="127.0.0.2")
        self.rcpt(c, "x@outside.example", 454,
                  "4.7.1 <x@outside.example>: Relay access "
                  "denied")
        self.assert_log(inst, r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.2"
                              r"\]: 454 4\.7\.1 <x@outside\.example>: Relay "
                              r"access denied;")
        c2 = self.session(inst, source="127.0.0.1")
        self.rcpt(c2, "x@outside.example", 250)

    def test_relay_reject_code(self):
        inst = self.instance(mynetworks="127.0.0.1/32",
                             smtpd_relay_reject_code="454")
        c = self.session(inst, source="127.0.0.2")
        self.rcpt(c, "x@outside.example", 454,
                  "4.7.1 <x@outside.example>: Relay access "
                  "denied")
        # Sender-specified routing through us is no way around it.
        for rcpt in ("x%outside.example@localhost",
                     "x!outside.example@localhost",
                     '"x@outside.example"@localhost',
                     "x@[192.0.2.1]"):
            self.rcpt(c, rcpt, 454, "4.7.1 <%s>: Relay access denied"
                      % rcpt)

    # Recipient validation.

    def test_recipient_validation(self):
        inst = self.instance(users=["alice@localhost"],
                             recipient_delimiter="+",
                             mynetworks="127.0.0.1/32")
        for source in ("127.0.0.2", "127.0.0.1"):
            c = self.session(inst, source=source)
            self.rcpt(c, "nobody@localhost", 550,
                      "5.1.1 <nobody@localhost>: Recipient "
                      "address rejected: User unknown in "
                      "virtual mailbox table")
            self.rcpt(c, "nobody@mail.example.test", 550,
                      "5.1.1 <nobody@mail.example.test>: "
                      "Recipient address rejected: User "
                      "unknown in local recipient table")
            for ok in ("alice@localhost", "Alice@LOCALHOST",
                       "alice+tag@localhost",
                       "postmaster@mail.example.test"):
                self.rcpt(c, ok, 250)
            code, text = c.cmd("DATA")
            self.assertEqual(code, 354, text)
            c.sock.sendall(b"Subject: t\r\n\r\nbody\r\n.\r\n")
            code, text = c.reply()
            self.assertEqual(code, 250, text)
            c.close()
        self.assert_log(inst, r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.2"
                              r"\]: 550 5\.1\.1 <nobody@localhost>: Recipient "
                              r"address rejected: User unknown in virtual "
                              r"mailbox table; from=<a@example\.org> "
                              r"to=<nobody@localhost> proto=ESMTP "
                              r"helo=<client\.example\.org>")

    def test_check_recipient_access_lmdb(self):
        inst = self.make_instance()
        path = os.path.join(inst.dir, "recipient_access")
        with open(path, "w") as f:
            f.write("blocked@localhost REJECT no thanks\n"
                    "busy@localhost 450 4.2.1 try later\n"
                    "localhost DUNNO\n")
        inst.posthorn("map", "build", path)
        inst.conf(smtpd_recipient_restrictions="check_recipient_access "
                  "lmdb:%s" % path,
                  smtpd_client_event_limit_exceptions="")
        for u in ("alice@localhost", "blocked@localhost", "busy@localhost"):
            self.add_user(inst, u)
        inst.start()
        self.assertTrue(wait_port(inst.port("smtp")))
        c = self.session(inst)
        self.rcpt(c, "blocked@localhost", 554,
                  "5.7.1 <blocked@localhost>: Recipient "
                  "address rejected: no thanks")
        self.rcpt(c, "busy@localhost", 450,
                  "4.2.1 <busy@localhost>: Recipient address "
                  "rejected: try later")
        self.rcpt(c, "alice@localhost", 250)
        self.assert_log(inst, r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.1"
                              r"\]: 554 5\.7\.1 <blocked@localhost>: "
                              r"Recipient address rejected: no thanks; "
                              r"from=<a@example\.org> to=<blocked@localhost>")

    def test_client_helo_sender_access(self):
        inst = self.instance(
            users=["alice@localhost"],
            smtpd_client_restrictions="check_client_access "
            "inline:{127.0.0.3=REJECT}",
            smtpd_helo_restrictions="check_helo_access "
            "inline:{bad.example=REJECT}",
            smtpd_sender_restrictions="check_sender_access "
            "inline:{{spam@evil.example=550 go away}, "
            "{<>=DEFER no bounces now}}")
        # smtpd_delay_reject=yes: everything is refused at RCPT.
        c = self.session(inst, source="127.0.0.3")
        code, text = c.cmd("RCPT TO:<alice@localhost>")
        self.assertEqual(code, 554, text)
        self.assertRegex(text, r"^5\.7\.1 <\S+\[127\.0\.0\.3\]>: Client host "
                               r"rejected: Access denied$")
        c = self.session(inst, helo="mx.bad.example")
        self.rcpt(c, "alice@localhost", 554,
                  "5.7.1 <mx.bad.example>: Helo command "
                  "rejected: Access denied")
        c = self.session(inst, sender="spam@evil.example")
        self.rcpt(c, "alice@localhost", 550,
                  "5.7.1 <spam@evil.example>: Sender address "
                  "rejected: go away")
        c = self.session(inst, sender="")
        self.rcpt(c, "alice@localhost", 450,
                  "4.7.1 <>: Sender address rejected: no "
                  "bounces now")
        c = self.session(inst)
        self.rcpt(c, "alice@localhost", 250)
        self.assert_log(inst, r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.1"
                              r"\]: 550 5\.7\.1 <spam@evil\.example>: Sender "
                              r"address rejected: go away; "
                              r"from=<spam@evil\.example> "
                              r"to=<alice@localhost> proto=ESMTP")

    def test_client_reject_without_delay(self):
        inst = self.instance(
            smtpd_delay_reject="no",
            smtpd_client_restrictions="check_client_access "
            "inline:{127.0.0.3=REJECT}",
            smtpd_helo_restrictions="reject_invalid_helo_hostname")
        c = Client(inst.port("smtp"), "127.0.0.3")
        self.addCleanup(c.close)
        self.assertEqual(c.reply()[0], 220)
        c.cmd("EHLO client.example.org")
        code, text = c.cmd("MAIL FROM:<a@example.org>")
        self.assertEqual(code, 554, text)
        self.assertIn("Client host rejected: Access denied", text)
        c2 = Client(inst.port("smtp"), "127.0.0.1")
        self.addCleanup(c2.close)
        self.assertEqual(c2.reply()[0], 220)
        code, text = c2.cmd("HELO bad_name!")
        self.assertEqual(code, 501, text)
        self.assertEqual(text, "5.5.2 <bad_name!>: Helo command rejected: "
                               "Invalid name")

    def test_non_fqdn(self):
        inst = self.instance(
            users=["alice@localhost"],
            smtpd_recipient_restrictions="reject_invalid_helo_hostname, "
            "reject_non_fqdn_helo_hostname, reject_non_fqdn_sender, "
            "reject_non_fqdn_recipient")
        c = self.session(inst, helo="nodots")
        self.rcpt(c, "alice@localhost", 504,
                  "5.5.2 <nodots>: Helo command rejected: need "
                  "fully-qualified hostname")
        c = self.session(inst, helo="bad_name!")
        self.rcpt(c, "alice@localhost", 501,
                  "5.5.2 <bad_name!>: Helo command rejected: "
                  "Invalid name")
        c = self.session(inst, sender="someone@nodomain")
        self.rcpt(c, "alice@localhost", 504,
                  "5.5.2 <someone@nodomain>: Sender address "
                  "rejected: need fully-qualified address")
        # 127.0.0.1 may relay (mynetworks), so the recipient check is
        # reached for a dotless domain.
        c = self.session(inst)
        self.rcpt(c, "x@nodots", 504,
                  "5.5.2 <x@nodots>: Recipient address "
                  "rejected: need fully-qualified address")
        self.rcpt(c, "alice@localhost", 504)  # localhost is no FQDN
        c = self.session(inst, helo="[127.0.0.1]", sender="")
        self.rcpt(c, "x@example.org", 250)

    # Connection limits (anvil).

    def test_connection_count_limit(self):
        inst = self.instance(smtpd_client_connection_count_limit="2",
                             smtpd_client_event_limit_exceptions="127.0.0.3")
        port = inst.port("smtp")
        # From 127.0.0.4: the harness's port probe came from 127.0.0.1,
        # and its session may still be counted for a moment.
        src = "127.0.0.4"
        first = [Client(port, src), Client(port, src)]
        for c in first:
            self.addCleanup(c.close)
            self.assertEqual(c.reply()[0], 220)
        third = Client(port, src)
        self.addCleanup(third.close)
        code, text = third.reply()
        self.assertEqual(code, 421)
        self.assertEqual(text, "4.7.0 mail.example.test Error: too many "
                               "connections from 127.0.0.4")
        self.assert_log(inst, r"warning: Connection concurrency limit "
                              r"exceeded: 3 from \S+\[127\.0\.0\.4\] for "
                              r"service %d" % port)
        # The exception list is never limited.
        others = [Client(port, "127.0.0.3") for _ in range(4)]
        for c in others:
            self.addCleanup(c.close)
            self.assertEqual(c.reply()[0], 220)
        # A slot frees up when a session ends (asynchronously).
        first[0].close()

        def accepted():
            c = Client(port, src)
            try:
                code, _ = c.reply()
            finally:
                c.close()
            return code == 220
        self.assertTrue(wait_for(accepted, timeout=10, interval=0.2))

    def test_connection_rate_limit(self):
        inst = self.instance(smtpd_client_connection_count_limit="0",
                             smtpd_client_connection_rate_limit="3")
        port = inst.port("smtp")
        # From 127.0.0.2: the harness's port probe came from 127.0.0.1.
        for _ in range(3):
            c = Client(port, "127.0.0.2")
            self.addCleanup(c.close)
            self.assertEqual(c.reply()[0], 220)
            c.close()
        c = Client(port, "127.0.0.2")
        self.addCleanup(c.close)
        code, text = c.reply()
        self.assertEqual(code, 421, text)
        self.assertEqual(text, "4.7.0 mail.example.test Error: too many "
                               "connections from 127.0.0.2")
        self.assert_log(inst, r"warning: Connection rate limit exceeded: "
                              r"4 from \S+\[127\.0\.0\.2\] for service "
                              r"%d" % port)
        # Another address has its own rate.
        c = Client(port, "127.0.0.4")
        self.addCleanup(c.close)
        self.assertEqual(c.reply()[0], 220)

    def test_mynetworks_exempt_by_default(self):
        inst = self.make_instance()
        inst.conf(smtpd_client_connection_count_limit="1")
        inst.start()
        self.assertTrue(wait_port(inst.port("smtp")))
        clients = [Client(inst.port("smtp")) for _ in range(3)]
        for c in clients:
            self.addCleanup(c.close)
            self.assertEqual(c.reply()[0], 220)

    def test_anvil_missing_fails_open(self):
        inst = self.make_instance()
        master_cf = os.path.join(inst.dir, "master.cf")
        with open(master_cf) as f:
            lines = [l for l in f if not l.startswith("anvil ")]
        with open(master_cf, "w") as f:
            f.writelines(lines)
        inst.conf(smtpd_client_connection_count_limit="1",
                  smtpd_client_event_limit_exceptions="")
        inst.start()
        self.assertTrue(wait_port(inst.port("smtp")))
        clients = [Client(inst.port("smtp")) for _ in range(3)]
        for c in clients:
            self.addCleanup(c.close)
            self.assertEqual(c.reply()[0], 220)
        self.assert_log(inst, r"anvil: .*connection limits are not "
                              r"enforced")


if __name__ == "__main__":
    import unittest
    unittest.main()
