"""test_users.py: issue 5 (users map) and issue 6 (mailbox owners):
`posthorn user add ADDRESS --password-stdin [--quota BYTES] | del | list |
passwd | disable | enable` on an instance made by `posthorn init`.

What is checked: init writes virtual_mailbox_maps = lmdb:DIR/users and an
empty users.lmdb; `add` takes the password from stdin only, stores a
crypt(3) hash ($y$ by default, $6$/$2b$ per password_hash_method) that
libcrypt verifies, creates the Maildir (cur/new/tmp, mode 0700, owned by
vmail when run as root) and rebuilds the table that `posthorn map get`
reads; `list` prints no hash; `passwd` changes the hash; `del` removes the
user (the Maildir stays); duplicates fail with exit 1; addresses that are
not RFC 5321 mailboxes or not safe as directory names fail with exit 2
(bad usage, like any bad argument) and touch nothing; the users file keeps
its comments; concurrent edits lose nothing.

Permissions: run as root, DIR/users and DIR/users.lmdb are root:(mail_owner's
group) 0640, so that smtpd, pop3d and imapd, which run as mail_owner, can
read the table and cannot change it; run as another user they are 0600.
"""
import ctypes
import ctypes.util
import os
import pwd
import stat
import subprocess
import threading

from harness import PosthornTestCase, POSTHORN, run

PASSWORD = "s3cret pass\u00e9"  # a space and a non-ASCII letter


def libcrypt_verify(password, hash_):
    """crypt(3) from libcrypt, independent of posthorn's code."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    out = lib.crypt(password.encode(), hash_.encode())
    return out is not None and out.decode() == hash_


class TestUsers(PosthornTestCase):

    def setUp(self):
        self.inst = self.make_instance(domain="example.test")
        self.users = os.path.join(self.inst.dir, "users")
        self.as_root = os.geteuid() == 0

    def add(self, address, password=PASSWORD, *extra, check=True):
        return self.inst.posthorn("user", "add", address, "--password-stdin",
                                  *extra, input=password + "\n", check=check)

    def entries(self):
        """address -> value, from the users text file."""
        out = {}
        with open(self.users) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    key, value = line.split(None, 1)
                    out[key] = value.strip()
        return out

    def map_get(self, key, check=True):
        return self.inst.posthorn("map", "get", "lmdb:" + self.users, key,
                                  check=check)

    def assert_table_perms(self):
        for path in (self.users, self.users + ".lmdb"):
            st = os.stat(path)
            if self.as_root:
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o640, path)
                self.assertEqual(st.st_uid, 0, path)
                self.assertEqual(st.st_gid,
                                 pwd.getpwnam("posthorn").pw_gid, path)
            else:
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, path)
                self.assertEqual(st.st_uid, os.geteuid(), path)

    def test_init_table(self):
        with open(os.path.join(self.inst.dir, "main.cf")) as f:
            self.assertIn("virtual_mailbox_maps = lmdb:%s\n" % self.users,
                          f.read())
        self.assertTrue(os.path.exists(self.users + ".lmdb"))
        self.assert_table_perms()
        # The empty table answers: not found (exit 1, no error text).
        proc = self.map_get("nobody@example.test", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stderr, "")
        proc = self.inst.posthorn("user", "list")
        self.assertEqual(proc.stdout, "")
        self.inst.posthorn("check")

    def test_add_list_get(self):
        proc = self.add("Alice@Example.Test", PASSWORD, "--quota", "1m")
        self.assertNotIn(PASSWORD, proc.stdout + proc.stderr)
        entries = self.entries()
        self.assertEqual(list(entries), ["alice@example.test"])
        value = entries["alice@example.test"]
        hash_ = value.split()[0]
        self.assertTrue(hash_.startswith("$y$"), value)
        self.assertEqual(value.split()[1:], ["quota=1048576"])
        self.assertTrue(libcrypt_verify(PASSWORD, hash_))
        self.assertFalse(libcrypt_verify(PASSWORD + "x", hash_))

        proc = self.inst.posthorn("user", "list")
        self.assertEqual(proc.stdout,
                         "alice@example.test quota=1048576 enabled=yes\n")
        self.assertNotIn("$", proc.stdout + proc.stderr)
        self.assertNotIn(hash_, proc.stdout + proc.stderr)

        self.assert_table_perms()
        with open(self.users) as f:
            self.assertTrue(f.read().startswith("# users: mailbox owners"))
        proc = self.map_get("ALICE@example.test")
        self.assertEqual(proc.stdout, value + "\n")

    def test_maildir_created(self):
        self.add("bob@example.test")
        maildir = os.path.join(self.inst.dir, "mail", "example.test", "bob")
        for sub in ("", "cur", "new", "tmp"):
            path = os.path.join(maildir, sub)
            st = os.lstat(path)
            self.assertTrue(stat.S_ISDIR(st.st_mode), path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, path)
            if self.as_root:
                vmail = pwd.getpwnam("vmail")
                self.assertEqual((st.st_uid, st.st_gid),
                                 (vmail.pw_uid, vmail.pw_gid), path)
        # A second domain: its directory is made too (0700, vmail).
        self.inst.conf(virtual_mailbox_domains="example.test, other.test")
        proc = self.add("carol@other.test")
        self.assertNotIn("warning", proc.stderr)
        domdir = os.path.join(self.inst.dir, "mail", "other.test")
        st = os.lstat(domdir)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        if self.as_root:
            self.assertEqual(st.st_uid, pwd.getpwnam("vmail").pw_uid)
        self.assertTrue(os.path.isdir(os.path.join(domdir, "carol", "new")))

    def test_passwd_disable_enable(self):
        self.add("dave@example.test", "first", "--quota", "5000")
        old = self.entries()["dave@example.test"].split()[0]
        proc = self.inst.posthorn("user", "passwd", "dave@example.test",
                                  input="second\n")
        self.assertNotIn("second", proc.stdout + proc.stderr)
        new = self.entries()["dave@example.test"]
        self.assertNotEqual(new.split()[0], old)
        self.assertTrue(libcrypt_verify("second", new.split()[0]))
        self.assertFalse(libcrypt_verify("first", new.split()[0]))
        self.assertIn("quota=5000", new)  # attributes survive
        self.assertEqual(self.map_get("dave@example.test").stdout,
                         new + "\n")

        self.inst.posthorn("user", "disable", "dave@example.test")
        self.assertIn("dave@example.test quota=5000 enabled=no",
                      self.inst.posthorn("user", "list").stdout)
        self.assertIn("enabled=no", self.map_get("dave@example.test").stdout)
        self.inst.posthorn("user", "enable", "dave@example.test")
        self.assertIn("dave@example.test quota=5000 enabled=yes",
                      self.inst.posthorn("user", "list").stdout)
        # The hash is untouched by disable/enable.
        self.assertEqual(self.entries()["dave@example.test"].split()[0],
                         new.split()[0])
        # passwd of an unknown user; empty new password.
        proc = self.inst.posthorn("user", "passwd", "nobody@example.test",
                                  input="x\n", check=False)
        self.assertEqual(proc.returncode, 1)
        proc = self.inst.posthorn("user", "passwd", "dave@example.test",
                                  input="\n", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertTrue(libcrypt_verify("second", self.entries()[
            "dave@example.test"].split()[0]))

    def test_del(self):
        self.add("erin@example.test")
        self.add("frank@example.test")
        self.inst.posthorn("user", "del", "Erin@example.test")
        self.assertEqual(list(self.entries()), ["frank@example.test"])
        self.assertEqual(self.map_get("erin@example.test",
                                      check=False).returncode, 1)
        self.assertEqual(self.map_get("frank@example.test",
                                      check=False).returncode, 0)
        # The mail stays until the administrator removes it.
        self.assertTrue(os.path.isdir(os.path.join(
            self.inst.dir, "mail", "example.test", "erin", "new")))
        proc = self.inst.posthorn("user", "del", "erin@example.test",
                                  check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no such user", proc.stderr)
        self.assert_table_perms()

    def test_duplicate_and_bad_passwords(self):
        self.add("gina@example.test")
        with open(self.users) as f:
            before = f.read()
        proc = self.add("GINA@example.test", "other", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("exists", proc.stderr)
        # Empty, NUL-containing, overlong: refused with 1.
        for pw in ("", "a\0b", "x" * 600):
            proc = self.add("henry@example.test", pw, check=False)
            self.assertEqual(proc.returncode, 1, repr(pw[:10]))
        # No --password-stdin, or a password on the command line: usage.
        for args in (["henry@example.test"],
                     ["henry@example.test", "hunter2"],
                     ["henry@example.test", "--password", "hunter2"],
                     ["--password-stdin"], []):
            proc = self.inst.posthorn("user", "add", *args, input="pw\n",
                                      check=False)
            self.assertEqual(proc.returncode, 2, args)
        with open(self.users) as f:
            self.assertEqual(f.read(), before)
        self.assertFalse(os.path.exists(os.path.join(
            self.inst.dir, "mail", "example.test", "henry")))

    def test_bad_addresses(self):
        """Not an RFC 5321 mailbox, or unsafe as a directory name: exit 2
        (bad usage) and nothing changes on disk."""
        with open(self.users) as f:
            before = f.read()
        mail = os.path.join(self.inst.dir, "mail")
        listing = sorted(os.listdir(mail))
        hostile = ["../x@example.test", "a@../../etc", "a/b@example.test",
                   ".hidden@example.test", "a@example.test/", "a@d/x",
                   "noat", "@example.test", "a@", "", "a b@example.test",
                   "a\tb@example.test", "a\x01@example.test",
                   "\"a b\"@example.test", "\"a.\"@example.test",
                   "#x@example.test",
                   "<a@example.test>", "a@example.test x",
                   "l" * 65 + "@example.test", "a@" + "d" * 300,
                   "a@-bad-.test", "a@example..test"]
        for addr in hostile:
            proc = self.add(addr, check=False)
            self.assertEqual(proc.returncode, 2, repr(addr))
            self.assertNotIn(PASSWORD, proc.stdout + proc.stderr)
        for verb in ("del", "passwd", "disable", "enable"):
            proc = self.inst.posthorn("user", verb, "../x@example.test",
                                      input="pw\n", check=False)
            self.assertEqual(proc.returncode, 2, verb)
        with open(self.users) as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(sorted(os.listdir(mail)), listing)
        self.assertEqual(os.listdir(os.path.join(mail, "example.test")), [])
        self.assertFalse(os.path.exists(os.path.join(self.inst.dir, "x")))
        # A quoted local part that is a dot-atom is the plain mailbox.
        self.add('"Nora"@example.test')
        self.assertIn("nora@example.test", self.entries())

    def test_usage_and_domain_warning(self):
        for args in (["user"], ["user", "frobnicate"], ["user", "list", "x"],
                     ["user", "del"], ["user", "del", "a@b", "c@d"]):
            proc = self.inst.posthorn(*args, check=False)
            self.assertEqual(proc.returncode, 2, args)
        # A domain this instance does not deliver: added, with a warning.
        proc = self.add("ivy@elsewhere.test")
        self.assertIn("warning: domain elsewhere.test", proc.stderr)
        self.assertIn("ivy@elsewhere.test", self.entries())
        # No instance at all.
        proc = run([POSTHORN, "-c", "/nonexistent", "user", "list"],
                   check=False)
        self.assertEqual(proc.returncode, 1)

    def test_hash_methods(self):
        for method, prefix in (("sha512", "$6$"), ("bcrypt", "$2b$"),
                               ("yescrypt", "$y$")):
            self.inst.conf(password_hash_method=method)
            addr = "%s@example.test" % method
            self.add(addr, "pw-" + method)
            hash_ = self.entries()[addr].split()[0]
            self.assertTrue(hash_.startswith(prefix), hash_)
            self.assertTrue(libcrypt_verify("pw-" + method, hash_))
        self.inst.conf(password_hash_method="md5")
        proc = self.add("md5@example.test", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("password_hash_method", proc.stderr)
        self.assertNotIn("md5@example.test", self.entries())

    def test_hand_edited_file(self):
        """Comments, blank lines and continuation lines written by hand are
        kept; an entry spread over continuation lines is removed whole."""
        self.add("jack@example.test")
        jack = self.entries()["jack@example.test"]
        with open(self.users, "a") as f:
            f.write("\n# Kate's mailbox, no login:\n"
                    "kate@example.test\n"
                    "    *\n"
                    "  # a comment inside the entry\n"
                    "    quota=100\n"
                    "# trailing comment\n")
        self.inst.posthorn("map", "build", self.users)
        self.assertEqual(self.map_get("kate@example.test").stdout,
                         "* quota=100\n")
        self.assertIn("kate@example.test quota=100 enabled=yes",
                      self.inst.posthorn("user", "list").stdout)
        self.inst.posthorn("user", "disable", "kate@example.test")
        self.assertEqual(self.map_get("kate@example.test").stdout,
                         "* quota=100 enabled=no\n")
        self.add("liam@example.test")
        self.inst.posthorn("user", "del", "kate@example.test")
        with open(self.users) as f:
            text = f.read()
        self.assertIn("# Kate's mailbox, no login:\n", text)
        self.assertIn("  # a comment inside the entry\n", text)
        self.assertIn("# trailing comment\n", text)
        self.assertNotIn("kate", text.replace("Kate's", ""))
        self.assertNotIn("quota=100", text)
        self.assertEqual(self.entries()["jack@example.test"], jack)
        self.assertIn("liam@example.test", self.entries())
        # A malformed entry is reported by list (exit 1), not printed.
        with open(self.users, "a") as f:
            f.write("mallory@example.test $6$x$y junk=1\n")
        proc = self.inst.posthorn("user", "list", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("mallory@example.test: malformed entry", proc.stderr)
        self.assertIn("jack@example.test", proc.stdout)
        self.assertNotIn("$", proc.stdout + proc.stderr)
        self.assert_table_perms()

    def test_concurrent_adds(self):
        """Edits lock the users file: ten parallel adds, ten users."""
        procs = []
        for i in range(10):
            procs.append(subprocess.Popen(
                [POSTHORN, "-c", self.inst.dir, "user", "add",
                 "user%d@example.test" % i, "--password-stdin"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True))
        threads = [threading.Thread(target=p.communicate,
                                    kwargs={"input": "pw%d\n" % i,
                                            "timeout": 60})
                   for i, p in enumerate(procs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([p.wait() for p in procs], [0] * 10)
        self.assertEqual(sorted(self.entries()),
                         sorted("user%d@example.test" % i for i in range(10)))
        for i in range(10):
            self.map_get("user%d@example.test" % i)

    def test_daemon_user_reads_table(self):
        """mail_owner (smtpd, pop3d, imapd) can read the table but not
        change it; vmail cannot read it."""
        if not self.as_root:
            self.skipTest("needs root")
        self.add("mike@example.test")
        owner = pwd.getpwnam("posthorn")

        def as_user(pw):
            def drop():
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
            return drop

        def get_as(pw):
            try:
                return subprocess.run(
                    [POSTHORN, "-c", self.inst.dir, "map", "get",
                     "lmdb:" + self.users, "mike@example.test"],
                    capture_output=True, text=True,
                    preexec_fn=as_user(pw), timeout=30)
            except PermissionError:
                self.skipTest("the build tree is not reachable by %s"
                              % pw.pw_name)

        proc = get_as(owner)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(proc.stdout.startswith("$y$"))
        for path in (self.users, self.users + ".lmdb"):
            st = os.stat(path)
            self.assertFalse(st.st_mode & stat.S_IWGRP, path)
            self.assertFalse(st.st_mode & stat.S_IROTH, path)
        vmail = pwd.getpwnam("vmail")
        if vmail.pw_gid != owner.pw_gid:
            proc = get_as(vmail)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("Permission denied", proc.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
