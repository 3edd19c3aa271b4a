"""test_foundation.py: issue 2 acceptance: `posthorn init`, `conf`, `map`,
`check` on a real instance directory."""
import os
import re
import stat
import subprocess
import threading

from harness import PosthornTestCase, POSTHORN, run

HERE = os.path.dirname(os.path.abspath(__file__))
PARAM_TABLE = os.path.join(HERE, "..", "..", "lib", "param_table.c")


def table_names():
    """Parameter names as written in lib/param_table.c (independent of the
    binary that prints them)."""
    with open(PARAM_TABLE) as f:
        text = f.read()
    return re.findall(r'(?:\{\s*|\b(?:STR|INT|BOOL|TIME|SIZE)\(\s*)'
                      r'"([A-Za-z0-9_]+)"\s*,', text)


class TestInit(PosthornTestCase):
    def test_layout_and_absolute_paths(self):
        inst = self.make_instance()
        for name in ("main.cf", "master.cf", "aliases", "users",
                     "tls/cert.pem", "tls/key.pem", "log/maillog"):
            self.assertTrue(os.path.isfile(os.path.join(inst.dir, name)),
                            name)
        for name in ("queue", "mail", "mail/localhost"):
            self.assertTrue(os.path.isdir(os.path.join(inst.dir, name)),
                            name)
        key_mode = stat.S_IMODE(os.stat(os.path.join(inst.dir,
                                                     "tls/key.pem")).st_mode)
        self.assertEqual(key_mode, 0o600)
        with open(os.path.join(inst.dir, "main.cf")) as f:
            main_cf = f.read()
        for m in re.finditer(r"^(\w+_directory|mail_root|maillog_file)"
                             r" = (.*)$", main_cf, re.M):
            self.assertTrue(m.group(2).startswith("/"), m.group(0))
        with open(os.path.join(inst.dir, "master.cf")) as f:
            master_cf = f.read()
        for off in (25, 587, 465, 110, 995, 143, 993):
            self.assertIn("%d " % (inst.port_base + off), master_cf)

    def test_certificate_is_valid_x509(self):
        inst = self.make_instance()
        out = run(["openssl", "x509", "-noout", "-subject", "-ext",
                   "subjectAltName", "-in",
                   os.path.join(inst.dir, "tls/cert.pem")]).stdout
        self.assertIn("mail.example.test", out)
        # The key matches the certificate.
        pub_cert = run(["openssl", "x509", "-noout", "-pubkey", "-in",
                        os.path.join(inst.dir, "tls/cert.pem")]).stdout
        pub_key = run(["openssl", "pkey", "-pubout", "-in",
                       os.path.join(inst.dir, "tls/key.pem")]).stdout
        self.assertEqual(pub_cert, pub_key)

    def test_init_refuses_existing_instance(self):
        inst = self.make_instance()
        proc = run([POSTHORN, "init", inst.dir], check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("already", proc.stderr)

    def test_init_bad_usage(self):
        proc = run([POSTHORN, "init"], check=False)
        self.assertEqual(proc.returncode, 2)
        proc = run([POSTHORN, "init", "/tmp/x", "--port-base", "abc"],
                   check=False)
        self.assertEqual(proc.returncode, 2)


class TestConf(PosthornTestCase):
    def test_nondefaults(self):
        inst = self.make_instance()
        out = inst.posthorn("conf", "-n").stdout
        self.assertIn("myhostname = mail.example.test\n", out)
        self.assertIn("queue_directory = %s/queue\n" % inst.dir, out)
        # Sorted like postconf -n, and nothing but main.cf's settings.
        names = [line.split(" = ")[0] for line in out.splitlines()]
        self.assertEqual(names, sorted(names))
        self.assertNotIn("hopcount_limit", names)

    def test_edit_keeps_comments_and_order(self):
        inst = self.make_instance()
        path = os.path.join(inst.dir, "main.cf")
        with open(path, "a") as f:
            f.write("# a comment that must survive\n"
                    "relayhost = [old.example]\n"
                    "    # indented comment\n"
                    "message_size_limit = 1000\n")
        inst.posthorn("conf", "myhostname=foo")
        self.assertEqual(inst.posthorn("conf", "myhostname").stdout,
                         "myhostname = foo\n")
        inst.posthorn("conf", "relayhost=[new.example]:587",
                      "recipient_delimiter=+")
        with open(path) as f:
            text = f.read()
        self.assertIn("# a comment that must survive\n"
                      "relayhost = [new.example]:587\n"
                      "    # indented comment\n"
                      "message_size_limit = 1000\n", text)
        self.assertTrue(text.endswith("recipient_delimiter = +\n"))
        self.assertEqual(text.count("myhostname ="), 1)
        self.assertIn("# main.cf: posthorn instance", text)

    def test_defaults_count_matches_table(self):
        inst = self.make_instance()
        out = inst.posthorn("conf", "-d").stdout
        names = table_names()
        self.assertGreater(len(names), 40)
        self.assertEqual(len(out.splitlines()), len(names))
        self.assertEqual(sorted(l.split(" = ")[0] for l in out.splitlines()),
                         sorted(names))

    def test_unknown_parameter(self):
        inst = self.make_instance()
        proc = inst.posthorn("conf", "bogus_param", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1)
        self.assertIn("bogus_param", proc.stderr)
        with open(os.path.join(inst.dir, "main.cf")) as f:
            before = f.read()
        proc = inst.posthorn("conf", "bogus_param=1", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("warning", proc.stderr)
        with open(os.path.join(inst.dir, "main.cf")) as f:
            self.assertEqual(f.read(), before)

    def test_bad_value_refused(self):
        inst = self.make_instance()
        proc = inst.posthorn("conf", "message_size_limit=lots", check=False)
        self.assertEqual(proc.returncode, 1)
        proc = inst.posthorn("conf", "maximal_queue_lifetime=5x",
                             check=False)
        self.assertEqual(proc.returncode, 1)

    def test_expansion_visible_in_raw_form(self):
        inst = self.make_instance()
        inst.posthorn("conf", "myorigin=$mydomain")
        self.assertEqual(inst.posthorn("conf", "myorigin").stdout,
                         "myorigin = $mydomain\n")


class TestCheck(PosthornTestCase):
    def test_clean_instance_passes(self):
        inst = self.make_instance()
        proc = inst.posthorn("check", check=False)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_unknown_warned_with_line_bad_value_error(self):
        inst = self.make_instance()
        path = os.path.join(inst.dir, "main.cf")
        with open(path) as f:
            nlines = len(f.read().splitlines())
        with open(path, "a") as f:
            f.write("bogus_thing = 1\n")
        proc = inst.posthorn("check", check=False)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("main.cf:%d" % (nlines + 1), proc.stderr)
        self.assertIn("bogus_thing", proc.stderr)
        with open(path, "a") as f:
            f.write("smtpd_timeout = forever\n")
        proc = inst.posthorn("check", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("smtpd_timeout", proc.stderr)

    def test_expansion_loop_is_an_error(self):
        inst = self.make_instance()
        inst.posthorn("conf", "myorigin=$relayhost", "relayhost=$myorigin")
        proc = inst.posthorn("check", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("loop", proc.stderr)


class TestMap(PosthornTestCase):
    def test_build_100k_and_get(self):
        inst = self.make_instance()
        path = os.path.join(inst.dir, "big")
        with open(path, "w") as f:
            f.write("# a comment\n\n")
            for i in range(100000):
                f.write("Key%d@Example.COM value-%d\n" % (i, i))
        inst.posthorn("map", "build", path)
        self.assertTrue(os.path.exists(path + ".lmdb"))
        for i in list(range(0, 100000, 997)) + [99999]:
            out = inst.posthorn("map", "get", "lmdb:" + path,
                                "key%d@example.com" % i).stdout
            self.assertEqual(out, "value-%d\n" % i)
        proc = inst.posthorn("map", "get", "lmdb:" + path, "missing",
                             check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stdout, "")

    def test_bad_source_line(self):
        inst = self.make_instance()
        path = os.path.join(inst.dir, "bad")
        with open(path, "w") as f:
            f.write("good value\nlonely\n")
        proc = inst.posthorn("map", "build", path, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(":2", proc.stderr)
        self.assertFalse(os.path.exists(path + ".lmdb"))

    def test_other_table_types(self):
        inst = self.make_instance()
        self.assertEqual(inst.posthorn("map", "get", "static:relay",
                                       "anything").stdout, "relay\n")
        self.assertEqual(inst.posthorn("map", "get", "inline:{a=1, b=2}",
                                       "b").stdout, "2\n")
        rx = os.path.join(inst.dir, "rx")
        with open(rx, "w") as f:
            f.write("/^(.*)@old\\.example$/ $1@new.example\n")
        self.assertEqual(inst.posthorn("map", "get", "regexp:" + rx,
                                       "joe@old.example").stdout,
                         "joe@new.example\n")
        proc = inst.posthorn("map", "get", "nosuch:x", "k", check=False)
        self.assertEqual(proc.returncode, 1)

    def test_concurrent_reader_during_rebuild(self):
        inst = self.make_instance()
        path = os.path.join(inst.dir, "flip")

        def write(version):
            with open(path, "w") as f:
                for i in range(5000):
                    f.write("k%d v%d-%d\n" % (i, version, i))

        write(0)
        inst.posthorn("map", "build", path)
        stop = threading.Event()
        bad = []
        seen = set()

        def reader():
            n = 0
            while not stop.is_set() and n < 2000:
                n += 1
                p = subprocess.run([POSTHORN, "-c", inst.dir, "map", "get",
                                    "lmdb:" + path, "k4321"],
                                   capture_output=True, text=True)
                if p.returncode != 0 or \
                        p.stdout not in ("v0-4321\n", "v1-4321\n"):
                    bad.append((p.returncode, p.stdout, p.stderr))
                seen.add(p.stdout)

        t = threading.Thread(target=reader)
        t.start()
        try:
            for n in range(1, 11):
                write(n % 2)
                inst.posthorn("map", "build", path)
        finally:
            stop.set()
            t.join(60)
        self.assertEqual(bad, [])
        self.assertTrue(seen)
