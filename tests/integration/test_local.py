"""test_local.py: issue 6 acceptance for local delivery (local/, lib/maildir.c,
lib/aliases.c): mail through the whole instance (sendmail and SMTP ->
cleanup -> qmgr -> local) into Maildirs, aliases, pipes, files, and the
local delivery agent's answers and log lines.

Covers: sendmail and SMTP to a virtual user give exactly one file in
new/ (Return-Path, Delivered-To, Date, Message-ID; Received over SMTP), a
Maildir name with its ,S= size, nothing in tmp/, and a Postfix-style
"status=sent (delivered to maildir)" log line; an alias to three users, a
pipe and a file delivers to all five, the pipe runs as default_privs
(checked from inside with `id -u`) and sees SENDER and RECIPIENT; the
file gets an mbox "From " line and ">From " quoting; :include: files,
nested aliases, an alias naming itself, an alias loop and an unknown
target (5.1.1), MAILER-DAEMON reaching postmaster@DOMAIN through init's
aliases; a deferring pipe retried until it succeeds; the DSN for an
unknown alias target (multipart/report, 5.1.1); recipient_delimiter (user+tag -> user's Maildir,
Delivered-To keeps the tag; aliases too); quota (4.2.2 deferred, 5.2.2
with mailbox_over_quota_bounce=yes); a message already carrying
Delivered-To for the address bounces (5.4.6); pipe exit codes (75 ->
deferred 4.3.0, 67 -> 5.1.1, other -> 5.3.0) and command_time_limit
(killed, deferred); allow_mail_to_commands/files; remote alias targets
forwarded through cleanup; `posthorn aliases`, `sendmail -bi` and
`newaliases` building the same table (a syntax error keeps the old one);
and the delivery protocol spoken directly (tests/integration/attrproto.py):
garbage is dropped, a request for a missing queue file is deferred.
"""
import email
import email.policy
import os
import pwd
import re
import smtplib
import stat

from harness import BIN, PosthornTestCase, run, wait_for
import attrproto

AS_ROOT = os.geteuid() == 0
LOG_TIMEOUT = 30


class LocalTestCase(PosthornTestCase):

    def instance(self, **conf):
        inst = self.make_instance(domain="example.test")
        if conf:
            inst.conf(**conf)
        return inst

    def add_user(self, inst, address, quota=None):
        args = ["user", "add", address, "--password-stdin"]
        if quota is not None:
            args += ["--quota", str(quota)]
        inst.posthorn(*args, input="secret\n")

    def add_aliases(self, inst, text):
        with open(os.path.join(inst.dir, "aliases"), "a") as f:
            f.write(text)
        inst.posthorn("aliases")

    def sendmail(self, inst, rcpts, message, sender="alice@example.org"):
        run([os.path.join(BIN, "sendmail"), "-C", inst.dir, "-f", sender,
             "--"] + list(rcpts), input=message)

    def maildir(self, inst, address, sub="new"):
        local, domain = address.split("@")
        return os.path.join(inst.dir, "mail", domain, local, sub)

    def files(self, inst, address, sub="new"):
        d = self.maildir(inst, address, sub)
        try:
            return sorted(os.path.join(d, n) for n in os.listdir(d)
                          if not n.startswith("."))
        except FileNotFoundError:
            return []

    def wait_files(self, inst, address, n):
        ok = wait_for(lambda: len(self.files(inst, address)) >= n,
                      timeout=LOG_TIMEOUT)
        self.assertTrue(ok, "no mail for %s" % address)
        return self.files(inst, address)

    def wait_log(self, inst, pattern):
        """The first match of the regular expression in the maillog."""
        found = wait_for(lambda: re.search(pattern, inst.log()),
                         timeout=LOG_TIMEOUT)
        self.assertTrue(found, "no log line matching %r" % pattern)
        return found

    def parse(self, path):
        with open(path, "rb") as f:
            return email.message_from_binary_file(f,
                                                  policy=email.policy.compat32)


class TestMaildirDelivery(LocalTestCase):

    def test_sendmail_and_smtp_to_virtual_user(self):
        inst = self.instance()
        self.add_user(inst, "bob@example.test")
        inst.start()
        self.sendmail(inst, ["bob@example.test"],
                      "Subject: by sendmail\n\nhello bob\n")
        line = self.wait_log(
            inst, r"local\[\d+\]: (\w+): to=<bob@example\.test>, "
            r"relay=virtual, delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+"
            r", dsn=2\.0\.0, status=sent \(delivered to maildir\)")
        files = self.wait_files(inst, "bob@example.test", 1)
        self.assertEqual(len(files), 1)
        msg = self.parse(files[0])
        self.assertEqual(msg["Delivered-To"], "bob@example.test")
        self.assertEqual(msg["Return-Path"], "<alice@example.org>")
        self.assertIsNotNone(msg["Date"])
        # pickup's trace field names the submitting uid and the queue ID.
        self.assertRegex(" ".join(msg["Received"].split()),
                         r"^by \S+ \(posthorn, from userid \d+\) id %s; "
                         % line.group(1))
        self.assertIn(line.group(1), msg["Message-ID"])
        self.assertEqual(msg.get_payload(), "hello bob\n")
        # Maildir name: time.M<usec>P<pid>Q<n>.<host>,S=<size>.
        name = os.path.basename(files[0])
        m = re.match(r"^\d+\.M\d+P\d+Q\d+\.[^/:,]+,S=(\d+)$", name)
        self.assertIsNotNone(m, name)
        st = os.stat(files[0])
        self.assertEqual(int(m.group(1)), st.st_size)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        if AS_ROOT:
            self.assertEqual(st.st_uid, pwd.getpwnam("vmail").pw_uid)
        self.assertEqual(self.files(inst, "bob@example.test", "tmp"), [])

        # The same over SMTP: one more file, with smtpd's Received.
        with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30) as s:
            s.sendmail("carol@example.org", ["bob@example.test"],
                       "Subject: by smtp\nMessage-ID: <smtp-1@example.org>"
                       "\n\nhello again\n")
        files = self.wait_files(inst, "bob@example.test", 2)
        self.assertEqual(len(files), 2)
        msgs = [self.parse(f) for f in files]
        smtp = [m for m in msgs if m["Message-ID"] == "<smtp-1@example.org>"]
        self.assertEqual(len(smtp), 1)
        self.assertIsNotNone(smtp[0]["Received"])
        self.assertEqual(smtp[0]["Delivered-To"], "bob@example.test")
        self.assertIsNotNone(smtp[0]["Date"])
        self.assertEqual(len(re.findall(
            r"to=<bob@example\.test>, relay=virtual, .*status=sent",
            inst.log())), 2)

    def test_recipient_delimiter(self):
        inst = self.instance(recipient_delimiter="+")
        self.add_user(inst, "bob@example.test")
        self.add_user(inst, "u1@example.test")
        self.add_aliases(inst, "sales: u1@example.test\n")
        inst.start()
        self.sendmail(inst, ["bob+lists@example.test",
                             "sales+spring@mail.example.test"],
                      "Subject: tagged\n\nx\n")
        files = self.wait_files(inst, "bob@example.test", 1)
        msg = self.parse(files[0])
        self.assertEqual(msg["Delivered-To"], "bob+lists@example.test")
        files = self.wait_files(inst, "u1@example.test", 1)
        msg = self.parse(files[0])
        self.assertEqual(msg["Delivered-To"], "u1@example.test")
        self.assertEqual(msg["X-Original-To"],
                         "sales+spring@mail.example.test")
        self.wait_log(inst, r"to=<bob\+lists@example\.test>, relay=virtual, "
                      r".*status=sent \(delivered to maildir\)")
        self.assertNotIn("bob+lists", os.listdir(
            os.path.join(inst.dir, "mail", "example.test")))

    def test_quota(self):
        inst = self.instance()
        self.add_user(inst, "small@example.test", quota=100)
        self.add_user(inst, "roomy@example.test", quota=100000)
        inst.start()
        body = "Subject: big\n\n" + "x" * 300 + "\n"
        self.sendmail(inst, ["small@example.test", "roomy@example.test"],
                      body)
        self.wait_log(inst, r"to=<small@example\.test>, relay=virtual, .*"
                      r"dsn=4\.2\.2, status=deferred \(mailbox full")
        self.wait_files(inst, "roomy@example.test", 1)
        self.assertEqual(self.files(inst, "small@example.test"), [])
        self.assertEqual(self.files(inst, "small@example.test", "tmp"), [])

        # With mailbox_over_quota_bounce=yes the answer is final.
        inst.conf(mailbox_over_quota_bounce="yes")
        inst.posthorn("reload")
        self.sendmail(inst, ["small@example.test"], body)
        self.wait_log(inst, r"to=<small@example\.test>, relay=virtual, .*"
                      r"dsn=5\.2\.2, status=bounced \(mailbox full")
        self.assertEqual(self.files(inst, "small@example.test"), [])

    def test_delivered_to_loop(self):
        inst = self.instance()
        self.add_user(inst, "bob@example.test")
        self.add_user(inst, "carol@example.test")
        inst.start()
        self.sendmail(inst, ["bob@example.test", "carol@example.test"],
                      "Delivered-To: other@example.net\n"
                      "Delivered-To: BOB@example.test\n"
                      "Subject: looping\n\nx\n")
        self.wait_log(inst, r"to=<bob@example\.test>, relay=virtual, .*"
                      r"dsn=5\.4\.6, status=bounced \(mail forwarding loop "
                      r"for bob@example\.test\)")
        self.wait_files(inst, "carol@example.test", 1)
        self.assertEqual(self.files(inst, "bob@example.test"), [])


class TestQueuePool(LocalTestCase):
    """Queue files are recycled (lib/queue_pool.c): qmgr moves a finished
    file into incoming/.pool.N and cleanup writes the next message over
    it, cut to its length, so the next queue ID carries the same inode."""

    def pool(self, inst):
        d = os.path.join(inst.dir, "queue", "incoming")
        return {n: os.stat(os.path.join(d, n))
                for n in os.listdir(d) if n.startswith(".pool.")}

    def test_finished_file_is_reused(self):
        inst = self.instance()
        self.add_user(inst, "bob@example.test")
        inst.start()
        port = inst.port("smtp")
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.sendmail("a@example.org", ["bob@example.test"],
                       b"Subject: one\r\n\r\n" + b"first\r\n" * 300)
        first = self.wait_log(inst, r"qmgr\[\d+\]: (\w+): removed").group(1)
        self.wait_files(inst, "bob@example.test", 1)
        ok = wait_for(lambda: len(self.pool(inst)) == 1, timeout=LOG_TIMEOUT)
        self.assertTrue(ok, "no file in the pool: %r" % self.pool(inst))
        (name, st), = self.pool(inst).items()
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertTrue(first.endswith("Q%X" % st.st_ino), first)
        # Nothing that lists the queue sees it.
        self.assertNotIn("pool", inst.posthorn("queue", "list").stdout)

        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.sendmail("a@example.org", ["bob@example.test"],
                       b"Subject: two\r\n\r\nsecond\r\n")
        self.wait_files(inst, "bob@example.test", 2)
        ids = wait_for(lambda: [i for i in re.findall(
            r"qmgr\[\d+\]: (\w+): removed", inst.log()) if i != first],
            timeout=LOG_TIMEOUT)
        self.assertTrue(ids)
        self.assertNotEqual(ids[0], first)
        self.assertTrue(ids[0].endswith("Q%X" % st.st_ino),
                        "%s did not reuse inode %X" % (ids[0], st.st_ino))
        bodies = sorted(self.parse(f).get_payload()
                        for f in self.files(inst, "bob@example.test"))
        # The second, shorter message did not inherit the first's tail
        # (qmgr's strict reader would also have sent it to corrupt/).
        self.assertEqual(bodies, ["first\n" * 300, "second\n"])
        self.assertNotIn("corrupt", inst.log())


class TestAliases(LocalTestCase):

    def out_dir(self, inst):
        """A directory default_privs may write to."""
        d = os.path.join(inst.dir, "out")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o1777)
        return d

    def script(self, inst, name, text):
        path = os.path.join(inst.dir, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + text)
        os.chmod(path, 0o755)
        return path

    def test_alias_to_users_pipe_and_file(self):
        inst = self.instance()
        out = self.out_dir(inst)
        for u in ("u1", "u2", "u3"):
            self.add_user(inst, u + "@example.test")
        pipe = self.script(inst, "pipe.sh",
                           '{ echo "uid=$(id -u)"; env; echo "---"; cat; } '
                           '> %s/pipe.out\nexit 0\n' % out)
        mbox = os.path.join(out, "team.mbox")
        self.add_aliases(inst, "team: u1@example.test, u2@example.test,\n"
                         "\tu3@example.test, \"|%s\", %s\n" % (pipe, mbox))
        inst.start()
        self.sendmail(inst, ["team@mail.example.test"],
                      "Subject: to the team\n\nFrom the start\nbye\n")
        for u in ("u1", "u2", "u3"):
            files = self.wait_files(inst, u + "@example.test", 1)
            self.assertEqual(len(files), 1)
            msg = self.parse(files[0])
            self.assertEqual(msg["Delivered-To"], u + "@example.test")
            self.assertEqual(msg["X-Original-To"], "team@mail.example.test")
            self.wait_log(inst, r"to=<%s@example\.test>, "
                          r"orig_to=<team@mail\.example\.test>, relay=local,"
                          r" .*status=sent \(delivered to maildir\)" % u)
        self.wait_log(inst, r"to=<team@mail\.example\.test>, relay=local, "
                      r".*dsn=2\.0\.0, status=sent \(delivered to command: "
                      + re.escape(pipe) + r"\)")
        self.wait_log(inst, r"to=<team@mail\.example\.test>, relay=local, "
                      r".*status=sent \(delivered to file: "
                      + re.escape(mbox) + r"\)")

        with open(os.path.join(out, "pipe.out")) as f:
            seen = f.read()
        head, _, stdin = seen.partition("---\n")
        env = dict(line.split("=", 1) for line in head.splitlines()
                   if "=" in line)
        self.assertEqual(env["SENDER"], "alice@example.org")
        self.assertEqual(env["RECIPIENT"], "team@mail.example.test")
        self.assertEqual(env["ORIGINAL_RECIPIENT"], "team@mail.example.test")
        self.assertEqual(env["USER"], "team")
        self.assertEqual(env["DOMAIN"], "mail.example.test")
        self.assertEqual(env["HOME"], "/")
        self.assertEqual(env["PATH"], "/usr/bin:/bin")
        self.assertEqual(env["SHELL"], "/bin/sh")
        self.assertEqual(env["PWD"], "/")
        self.assertNotIn("MAIL_CONFIG", env)
        if AS_ROOT:
            uid = int(env["uid"])
            self.assertEqual(uid, pwd.getpwnam("nobody").pw_uid)
            self.assertNotEqual(uid, 0)
            self.assertNotEqual(uid, pwd.getpwnam("vmail").pw_uid)
        self.assertTrue(stdin.startswith("From alice@example.org "), stdin)
        self.assertIn("\nDelivered-To: team@mail.example.test\n", stdin)
        self.assertIn("\n\nFrom the start\nbye\n", stdin)

        with open(mbox) as f:
            text = f.read()
        self.assertTrue(text.startswith("From alice@example.org "))
        self.assertIn("\nReturn-Path: <alice@example.org>\n", text)
        self.assertIn("\n\n>From the start\nbye\n\n", text)
        if AS_ROOT:
            self.assertEqual(os.stat(mbox).st_uid,
                             pwd.getpwnam("nobody").pw_uid)

    def test_expansion_rules(self):
        inst = self.instance()
        for u in ("u1", "u2", "u3"):
            self.add_user(inst, u + "@example.test")
        self.add_user(inst, "self@mail.example.test")
        inc = os.path.join(inst.dir, "staff.list")
        with open(inc, "w") as f:
            f.write("# staff\nu1@example.test, nested\n")
        os.chmod(inc, 0o644)
        self.add_aliases(inst, "staff: :include:%s\n"
                         "nested: u2@example.test\n"
                         "self: self, u3@example.test\n"
                         "loopa: loopb\nloopb: loopa\n"
                         "ghost: nosuchuser@example.test\n"
                         "dup: u1@example.test, u1@example.test\n" % inc)
        inst.start()
        self.sendmail(inst, ["staff@mail.example.test",
                             "self@mail.example.test",
                             "ghost@mail.example.test",
                             "loopa@mail.example.test"],
                      "Subject: rules\n\nx\n")
        self.wait_files(inst, "u1@example.test", 1)
        self.wait_files(inst, "u2@example.test", 1)
        self.wait_files(inst, "u3@example.test", 1)
        self.wait_files(inst, "self@mail.example.test", 1)
        self.wait_log(inst, r"to=<nosuchuser@example\.test>, "
                      r"orig_to=<ghost@mail\.example\.test>, relay=local, "
                      r".*dsn=5\.1\.1, status=bounced \(unknown user: "
                      r"\"nosuchuser@example\.test\"\)")
        # a -> b -> a: a is not expanded again; it has no mailbox.
        self.wait_log(inst, r"to=<loopa@mail\.example\.test>, relay=local, "
                      r".*dsn=5\.1\.1, status=bounced")
        # The same target twice in one alias: one copy.
        self.sendmail(inst, ["dup@mail.example.test"], "Subject: dup\n\nx\n")
        self.wait_files(inst, "u1@example.test", 2)
        self.wait_log(inst, r"to=<u1@example\.test>, "
                      r"orig_to=<dup@mail\.example\.test>, .*status=sent")
        self.assertEqual(len(re.findall(r"orig_to=<dup@", inst.log())), 1)
        self.assertEqual(len(self.files(inst, "u1@example.test")), 2)
        self.assertEqual(len(self.files(inst, "u3@example.test")), 1)

        # System accounts reach a mailbox only through init's aliases:
        # MAILER-DAEMON -> postmaster -> root -> postmaster@DOMAIN.
        self.add_user(inst, "postmaster@example.test")
        self.sendmail(inst, ["MAILER-DAEMON@mail.example.test"],
                      "Subject: for the postmaster\n\nx\n")
        files = self.wait_files(inst, "postmaster@example.test", 1)
        msg = self.parse(files[0])
        self.assertEqual(msg["Delivered-To"], "postmaster@example.test")
        self.assertEqual(msg["X-Original-To"],
                         "MAILER-DAEMON@mail.example.test")

    def test_pipe_exit_codes_and_time_limit(self):
        inst = self.instance(command_time_limit="2s")
        out = self.out_dir(inst)
        self.add_aliases(inst, "tf: |exit 75\n"
                         "nouser: \"|echo no such person; exit 67\"\n"
                         "crash: |exit 3\n"
                         "slow: \"|echo $$ > %s/sh.pid; sleep 60 & "
                         "echo $! > %s/bg.pid; wait\"\n" % (out, out))
        inst.start()
        self.sendmail(inst, ["tf@mail.example.test",
                             "nouser@mail.example.test",
                             "crash@mail.example.test",
                             "slow@mail.example.test"],
                      "Subject: pipes\n\nx\n")
        self.wait_log(inst, r"to=<tf@mail\.example\.test>, relay=local, .*"
                      r"dsn=4\.3\.0, status=deferred \(command \"exit 75\" "
                      r"exited with status 75 \(temporary failure\)\)")
        self.wait_log(inst, r"to=<nouser@mail\.example\.test>, relay=local, "
                      r".*dsn=5\.1\.1, status=bounced \(.*status 67 \(user "
                      r"unknown\)\. Command output: no such person\)")
        self.wait_log(inst, r"to=<crash@mail\.example\.test>, relay=local, "
                      r".*dsn=5\.3\.0, status=bounced \(command \"exit 3\" "
                      r"exited with status 3\)")
        m = self.wait_log(inst, r"to=<slow@mail\.example\.test>, "
                          r"relay=local, delay=[\d.]+, delays=[\d.]+/[\d.]+"
                          r"/[\d.]+/([\d.]+), dsn=4\.3\.0, status=deferred "
                          r"\(command time limit exceeded")
        self.assertLess(float(m.group(1)), 10)
        # The killed command's process group is gone: the shell and
        # what it started in the background.
        for name in ("sh.pid", "bg.pid"):
            with open(os.path.join(out, name)) as f:
                pid = int(f.read())
            gone = wait_for(lambda: not os.path.exists("/proc/%d" % pid),
                            timeout=5)
            self.assertTrue(gone, "%s %d still runs" % (name, pid))

    def test_tempfail_pipe_retried(self):
        inst = self.instance(minimal_backoff_time="1s",
                             maximal_backoff_time="2s",
                             queue_run_delay="1s")
        out = self.out_dir(inst)
        flag = os.path.join(out, "ready")
        pipe = self.script(inst, "flaky.sh",
                           "[ -e %s ] || exit 75\ncat > %s/got\n"
                           % (flag, out))
        self.add_aliases(inst, "flaky: |%s\n" % pipe)
        inst.start()
        self.sendmail(inst, ["flaky@mail.example.test"],
                      "Subject: retry me\n\nx\n")
        self.wait_log(inst, r"to=<flaky@mail\.example\.test>, relay=local, "
                      r".*dsn=4\.3\.0, status=deferred")
        with open(flag, "w"):
            pass
        self.wait_log(inst, r"to=<flaky@mail\.example\.test>, relay=local, "
                      r".*dsn=2\.0\.0, status=sent \(delivered to command")
        with open(os.path.join(out, "got")) as f:
            self.assertIn("Subject: retry me", f.read())

    def test_tempfail_until_lifetime_bounces_to_sender(self):
        """A pipe that keeps exiting 75 is retried until
        maximal_queue_lifetime; then the real bounce service returns the
        message to the sender's mailbox as a DSN."""
        inst = self.instance(minimal_backoff_time="1s",
                             maximal_backoff_time="1s",
                             queue_run_delay="1s",
                             maximal_queue_lifetime="4s")
        self.add_user(inst, "alice@example.test")
        pipe = self.script(inst, "never.sh", "exit 75\n")
        self.add_aliases(inst, "never: |%s\n" % pipe)
        inst.start()
        self.sendmail(inst, ["never@mail.example.test"],
                      "Subject: doomed\n\nx\n", sender="alice@example.test")
        self.wait_log(inst, r"to=<never@mail\.example\.test>, relay=local, "
                      r".*dsn=4\.3\.0, status=deferred")
        files = self.wait_files(inst, "alice@example.test", 1)
        msg = self.parse(files[0])
        self.assertEqual(msg.get_content_type(), "multipart/report")
        status = [p for p in msg.walk()
                  if p.get_content_type() == "message/delivery-status"]
        self.assertEqual(len(status), 1)
        fields = {}
        for block in status[0].get_payload():
            for k, v in block.items():
                fields.setdefault(k.lower(), v)
        self.assertEqual(fields.get("action"), "failed")
        self.assertTrue(fields.get("status", "").startswith("4.")
                        or fields.get("status", "").startswith("5."),
                        fields.get("status"))
        self.assertIn("never@mail.example.test",
                      fields.get("final-recipient", ""))

    def test_unknown_alias_target_dsn(self):
        inst = self.instance()
        self.add_user(inst, "alice@example.test")
        self.add_aliases(inst, "ghost: nosuchuser@example.test\n")
        inst.start()
        self.sendmail(inst, ["ghost@mail.example.test"],
                      "Subject: to a ghost\nMessage-ID: <ghost-1@x>\n\nx\n",
                      sender="alice@example.test")
        files = self.wait_files(inst, "alice@example.test", 1)
        msg = self.parse(files[0])
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        status = [p for p in msg.walk()
                  if p.get_content_type() == "message/delivery-status"]
        self.assertEqual(len(status), 1)
        fields = {}
        for block in status[0].get_payload():
            for k, v in block.items():
                fields.setdefault(k.lower(), v)
        self.assertEqual(fields.get("status"), "5.1.1")
        self.assertEqual(fields.get("action"), "failed")

    def test_commands_and_files_restricted(self):
        inst = self.instance(allow_mail_to_commands="forward",
                             allow_mail_to_files="forward")
        out = self.out_dir(inst)
        self.add_aliases(inst, "cmd: |/bin/true\nfile: %s/f.mbox\n" % out)
        inst.start()
        self.sendmail(inst, ["cmd@mail.example.test",
                             "file@mail.example.test"], "Subject: r\n\nx\n")
        self.wait_log(inst, r"to=<cmd@mail\.example\.test>, relay=local, .*"
                      r"dsn=5\.7\.1, status=bounced \(mail to command is "
                      r"restricted\)")
        self.wait_log(inst, r"to=<file@mail\.example\.test>, relay=local, .*"
                      r"dsn=5\.7\.1, status=bounced \(mail to file is "
                      r"restricted\)")
        self.assertFalse(os.path.exists(os.path.join(out, "f.mbox")))

    def test_remote_target_forwarded(self):
        inst = self.instance()
        self.add_user(inst, "u1@example.test")
        self.add_aliases(inst, "fw: u1@example.test, someone@remote.invalid\n")
        inst.start()
        self.sendmail(inst, ["fw@mail.example.test"], "Subject: fw\n\nx\n")
        m = self.wait_log(inst, r"to=<someone@remote\.invalid>, "
                          r"orig_to=<fw@mail\.example\.test>, relay=local, "
                          r".*dsn=2\.0\.0, status=sent \(forwarded as "
                          r"(\w+)\)")
        # The new message is in the queue, with our Delivered-To line.
        self.wait_log(inst, re.escape(m.group(1)) + r": message-id=")
        self.wait_files(inst, "u1@example.test", 1)


class TestAliasTable(LocalTestCase):

    def lookup(self, inst, key):
        p = inst.posthorn("map", "get", "lmdb:%s/aliases" % inst.dir, key,
                          check=False)
        return p.stdout.strip() if p.returncode == 0 else None

    def test_init_newaliases_and_sendmail_bi(self):
        inst = self.instance()
        # init built the table from its own aliases file.
        self.assertEqual(self.lookup(inst, "postmaster"), "root")
        self.assertEqual(self.lookup(inst, "MAILER-DAEMON"), "postmaster")
        path = os.path.join(inst.dir, "aliases")
        with open(path, "a") as f:
            f.write("team: a@example.test,\n  \"|/usr/bin/x a,b\"\n")
        run([os.path.join(BIN, "sendmail"), "-C", inst.dir, "-bi"])
        self.assertEqual(self.lookup(inst, "team"),
                         "a@example.test, \"|/usr/bin/x a,b\"")
        with open(path, "a") as f:
            f.write("second: b@example.test\n")
        run([os.path.join(BIN, "newaliases"), "-C", inst.dir])
        self.assertEqual(self.lookup(inst, "second"), "b@example.test")

        # A syntax error: exit status, file:line, the old table stays.
        with open(path, "a") as f:
            f.write("broken line without colon\nthird: c@example.test\n")
        p = inst.posthorn("aliases", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"aliases:\d+: missing ':'")
        p = run([os.path.join(BIN, "sendmail"), "-C", inst.dir, "-bi"],
                check=False)
        self.assertEqual(p.returncode, 73)  # EX_CANTCREAT
        self.assertIsNone(self.lookup(inst, "third"))
        self.assertEqual(self.lookup(inst, "second"), "b@example.test")


class TestProtocol(LocalTestCase):

    def socket(self, inst):
        return os.path.join(inst.dir, "queue", "private", "local")

    def test_direct_requests(self):
        inst = self.instance()
        inst.start()
        # Garbage: dropped without an answer.
        c = attrproto.Client(self.socket(inst), timeout=20)
        c.send_raw(b"\xa1\x07request\x00\x00\x00\x04ping\x00")
        self.assertIsNone(c.reply())
        c.close()
        # A well-formed request for a file that is not there: every
        # recipient deferred, then done.
        c = attrproto.Client(self.socket(inst), timeout=20)
        c.send([("request", "deliver"), ("queue_name", "active"),
                ("queue_id", "0000000000000Q1234"), ("sender", "a@b.c"),
                ("transport", "local"), ("nexthop", ""), ("envid", ""),
                ("ret", ""), ("client_address", ""), ("arrival_sec", 1),
                ("arrival_usec", 0), ("content_offset", 100),
                ("content_size", 10), ("rcpt_count", 2)])
        for i in range(2):
            c.send([("address", "x%d@example.test" % i), ("orcpt", ""),
                    ("notify", 0), ("offset", 50 + i)])
        answers = [c.reply() for _ in range(3)]
        c.close()
        self.assertEqual(sorted(a["index"] for a in answers[:2]), ["0", "1"])
        for a in answers[:2]:
            self.assertEqual(a["status"], "4")
            self.assertEqual(a["dsn"], "4.3.0")
            self.assertIn("cannot open queue file", a["reason"])
        self.assertEqual(answers[2], {"done": "1"})
