"""test_master.py: master, the daemon skeletons and `posthorn start/stop/
reload/status` (issue 3), driven through the test-only echo service
(tests/services/echo.c) on free loopback ports.

One test per acceptance point, plus start-up failures, --foreground,
graceful stop and the multi/trigger skeletons. Every wait is bounded.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import PosthornTestCase, free_port, wait_for, wait_port

ECHO = os.path.join(harness.TEST_LIBEXEC, "echo")
MECHO = os.path.join(harness.TEST_LIBEXEC, "mecho")
TLOG = os.path.join(harness.TEST_LIBEXEC, "tlog")


def service_line(name, command, type_="inet", private="n", unpriv="-",
                 chroot="n", wakeup="-", maxproc="-"):
    return "%s %s %s %s %s %s %s %s" % (name, type_, private, unpriv, chroot,
                                        wakeup, maxproc, command)


class Client:
    """A line-oriented client of the echo service."""

    def __init__(self, port, host="127.0.0.1", timeout=20, sock=None):
        self.sock = sock or socket.create_connection((host, port),
                                                     timeout=timeout)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile("rw", encoding="utf-8", newline="\n")
        self.greeting = self.readline()
        # "echo ready SERVICE pid PID"
        words = self.greeting.split()
        assert words[:2] == ["echo", "ready"], self.greeting
        self.pid = int(words[-1])

    def readline(self):
        return self.file.readline().rstrip("\n")

    def ask(self, line):
        self.file.write(line + "\n")
        self.file.flush()
        return self.readline()

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass


def proc_status(pid):
    """/proc/PID/status as a dict of lists of words; None if gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return {k: v.split() for k, v in
                    (line.split(":", 1) for line in f if ":" in line)}
    except OSError:
        return None


def alive(pid):
    """Running (not gone, not a zombie)."""
    st = proc_status(pid)
    return st is not None and st.get("State", ["Z"])[0] != "Z"


def children_of(ppid, comm=None):
    """Live pids whose parent is ppid (optionally with this comm)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z" or int(fields[1]) != ppid:
            continue
        if comm is None or name == comm:
            found.append(int(entry))
    return found


def service_counts(inst, name):
    """(procs, busy, idle) of a service from `posthorn status`."""
    for line in inst.posthorn("status").stdout.splitlines():
        words = line.split()
        if words and words[0] == name:
            return tuple(int(w) for w in words[3:6])
    return None


def refused(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


class TestMaster(PosthornTestCase):

    def assertNoAbnormalExits(self, inst, allowed=()):
        """No test service process died abnormally (a sanitizer report in
        a child shows up here as an exit status), except the allowed
        pids. The instance's real daemons are other tests' business."""
        bad = [line for line in inst.log().splitlines()
               if "warning: process %s/" % harness.TEST_LIBEXEC in line and
               not any(" pid %d " % pid in line for pid in allowed)]
        self.assertEqual(bad, [])

    def instance_with_echo(self, maxproc="-", extra=""):
        inst = self.make_instance()
        # Not one of the instance's own ports (free until it starts).
        taken = {inst.port_base + off
                 for off in harness.PORT_OFFSETS.values()}
        port = free_port()
        while port in taken:
            port = free_port()
        inst.append_master_cf(service_line(str(port), ECHO + extra,
                                           maxproc=maxproc))
        return inst, port

    # Acceptance: start -> status running -> stop -> status not running,
    # no process left (checked by pid).
    def test_start_status_stop_leaves_no_process(self):
        inst, port = self.instance_with_echo()
        inst.start()
        self.assertTrue(wait_port(port, 10))
        master = inst.master_pid()
        self.assertIsNotNone(master)
        st = inst.posthorn("status")
        self.assertIn("posthorn is running (pid %d)" % master, st.stdout)
        self.assertIn(str(port), st.stdout)
        a, b = Client(port), Client(port)
        self.assertEqual(a.ask("hello"), "echo: hello")
        pids = [master, a.pid, b.pid]
        self.assertEqual(sorted(children_of(master, "echo")),
                         sorted([a.pid, b.pid]))
        a.close()
        b.close()
        inst.stop()
        for pid in pids:
            self.assertFalse(alive(pid), "pid %d still running" % pid)
        st = inst.posthorn("status", check=False)
        self.assertEqual(st.returncode, 1)
        self.assertIn("posthorn is not running", st.stdout)
        self.assertTrue(refused(port))
        self.assertIn("terminating on signal 15", inst.log())
        self.assertNoAbnormalExits(inst)

    # Acceptance: a second start fails with a clear message and leaves the
    # first instance untouched.
    def test_second_start_fails_clearly(self):
        inst, port = self.instance_with_echo()
        inst.start()
        master = inst.master_pid()
        before = Client(port)
        second = inst.posthorn("start", check=False)
        self.assertEqual(second.returncode, 1)
        self.assertEqual(
            second.stderr.strip(),
            "posthorn: fatal: the posthorn mail system is already running "
            "(pid %d)" % master)
        self.assertEqual(len(second.stderr.strip().splitlines()), 1)
        # The first one is untouched: same master, same session, new
        # clients served.
        self.assertEqual(inst.master_pid(), master)
        self.assertTrue(alive(master))
        self.assertEqual(before.ask("still there"), "echo: still there")
        after = Client(port)
        self.assertEqual(after.ask("x"), "echo: x")
        before.close()
        after.close()
        self.assertIn("posthorn is running (pid %d)" % master,
                      inst.posthorn("status").stdout)
        self.assertNoAbnormalExits(inst)

    # Acceptance: kill -9 of a child: master logs it and the service keeps
    # answering.
    def test_kill9_child_is_logged_and_service_answers(self):
        inst, port = self.instance_with_echo()
        inst.start()
        victim = Client(port)
        self.assertEqual(victim.ask("pid"), "pid %d" % victim.pid)
        os.kill(victim.pid, signal.SIGKILL)
        self.assertEqual(victim.readline(), "")  # connection dropped
        victim.close()
        line = "pid %d killed by signal 9" % victim.pid
        self.assertTrue(wait_for(lambda: line in inst.log(), 10), line)
        for _ in range(3):
            c = Client(port)
            self.assertNotEqual(c.pid, victim.pid)
            self.assertEqual(c.ask("ping"), "echo: ping")
            c.close()
        self.assertNotIn("throttling", inst.log())
        self.assertNoAbnormalExits(inst, allowed=[victim.pid])

    # Acceptance: a service whose command exits immediately is restarted at
    # most once per service_throttle_time (log lines counted over 10 s).
    def test_crashing_service_is_throttled(self):
        inst = self.make_instance()
        inst.conf(service_throttle_time="2s")
        port = free_port()
        inst.append_master_cf(service_line(str(port), ECHO + " crash",
                                           maxproc="1"))
        inst.start()
        exits = "%s pid" % ECHO

        def count():
            return sum(1 for line in inst.log().splitlines()
                       if exits in line and "exit status 1" in line)

        # A client waits in the backlog the whole time: master is asked
        # to start a process again and again.
        waiting = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            self.assertTrue(wait_for(lambda: count() >= 1, 10))
            first = count()
            time.sleep(10)
            restarts = count() - first
        finally:
            waiting.close()
        # 10 s / 2 s: 5 restarts; never a fork storm.
        self.assertGreaterEqual(restarts, 3)
        self.assertLessEqual(restarts, 6)
        self.assertIn("throttling for 2 seconds", inst.log())
        st = inst.posthorn("status").stdout
        self.assertTrue(alive(inst.master_pid()), st)

    # Acceptance: maxproc = 5 with 20 concurrent clients: never more than
    # 5 processes, all 20 served.
    def test_maxproc_limits_processes_and_serves_everyone(self):
        inst, port = self.instance_with_echo(maxproc="5")
        inst.start()
        master = inst.master_pid()
        served, errors, seen_max = [], [], [0]
        stop_sampling = threading.Event()

        def sampler():
            while not stop_sampling.is_set():
                seen_max[0] = max(seen_max[0],
                                  len(children_of(master, "echo")))
                time.sleep(0.01)

        def client(i):
            try:
                c = Client(port, timeout=60)
                if c.ask("sleep 300") != "slept 300":
                    raise AssertionError("bad sleep reply")
                if c.ask("client %d" % i) != "echo: client %d" % i:
                    raise AssertionError("bad echo")
                if c.ask("quit") != "bye":
                    raise AssertionError("bad quit")
                c.close()
                served.append(c.pid)
            except Exception as e:  # collected, asserted below
                errors.append("client %d: %r" % (i, e))

        t = threading.Thread(target=sampler)
        t.start()
        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(20)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(90)
        stop_sampling.set()
        t.join(10)
        self.assertEqual(errors, [])
        self.assertEqual(len(served), 20)
        self.assertLessEqual(len(set(served)), 5)
        self.assertLessEqual(seen_max[0], 5)
        self.assertGreaterEqual(seen_max[0], 2)  # it did start more
        self.assertNoAbnormalExits(inst)

    # Acceptance: reload after adding a service: the new port accepts;
    # after removing it, the port refuses; a client connected during
    # reload finishes its session.
    def test_reload_adds_and_removes_services(self):
        inst, port = self.instance_with_echo()
        inst.start()
        master = inst.master_pid()
        old = Client(port)
        new_port = free_port()
        self.assertTrue(refused(new_port))
        with open(os.path.join(inst.dir, "master.cf")) as f:
            base = f.read()
        inst.append_master_cf(service_line(str(new_port), ECHO))
        inst.posthorn("reload")
        self.assertTrue(wait_port(new_port, 10))
        self.assertTrue(wait_port(new_port, 10, host="::1"))
        added = Client(new_port)
        self.assertIn("posthorn is running (pid %d)" % master,
                      inst.posthorn("status").stdout)
        self.assertIn(str(new_port), inst.posthorn("status").stdout)
        # The session from before the reload carries on to its end.
        self.assertEqual(old.ask("after reload"), "echo: after reload")
        self.assertEqual(old.ask("quit"), "bye")
        old.close()
        # Remove it again, while a client is connected to it.
        with open(os.path.join(inst.dir, "master.cf"), "w") as f:
            f.write(base)
        inst.posthorn("reload")
        self.assertTrue(refused(new_port))
        self.assertTrue(refused(new_port, "::1"))
        self.assertEqual(added.ask("still here"), "echo: still here")
        self.assertEqual(added.ask("quit"), "bye")
        added.close()
        # The unchanged service kept answering; master is the same.
        c = Client(port)
        self.assertEqual(c.ask("x"), "echo: x")
        c.close()
        self.assertEqual(inst.master_pid(), master)
        self.assertEqual(inst.log().count("reload -- version"), 2)
        inst.stop()
        self.assertNoAbnormalExits(inst)

    # Acceptance: run as root, every service process runs as mail_owner,
    # master alone is root; chroot honoured where set.
    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_privileges_as_root(self):
        inst = self.make_instance()
        plain, jailed = free_port(), free_port()
        inst.append_master_cf(service_line(str(plain), ECHO))
        inst.append_master_cf(service_line(str(jailed), ECHO, chroot="y"))
        inst.start()
        master = inst.master_pid()
        owner = inst.posthorn("conf", "mail_owner").stdout.split("=")[1]
        pw = pwd.getpwnam(owner.strip())
        self.assertNotEqual(pw.pw_uid, 0)
        a, b = Client(plain), Client(jailed)
        queue = os.path.realpath(os.path.join(inst.dir, "queue"))
        st = proc_status(master)
        self.assertEqual(st["Uid"], ["0"] * 4)
        for client, root in ((a, "/"), (b, queue)):
            st = proc_status(client.pid)
            self.assertEqual(st["Uid"], [str(pw.pw_uid)] * 4)
            self.assertEqual(st["Gid"], [str(pw.pw_gid)] * 4)
            self.assertEqual(st.get("Groups", []), [str(pw.pw_gid)])
            self.assertEqual(os.readlink("/proc/%d/root" % client.pid),
                             root)
        self.assertEqual(a.ask("id"), "id %d %d /" % (pw.pw_uid, pw.pw_gid))
        self.assertEqual(b.ask("id"),
                         "id %d %d jail" % (pw.pw_uid, pw.pw_gid))
        # Every process of the instance other than master is mail_owner.
        for pid in children_of(master):
            self.assertEqual(proc_status(pid)["Uid"][0], str(pw.pw_uid))
        a.close()
        b.close()
        inst.stop()
        self.assertNoAbnormalExits(inst)

    # Started by any other user, everything runs as that user and chroot
    # is ignored with a warning.
    @unittest.skipUnless(os.geteuid() == 0, "needs root to become nobody")
    def test_unprivileged_instance_runs_as_invoking_user(self):
        nobody = pwd.getpwnam("nobody")
        root = tempfile.mkdtemp(prefix="posthorn-test-")
        os.chmod(root, 0o755)
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        inst_dir = os.path.join(root, "inst")

        def run(*args, check=True, env=None):
            r = subprocess.run([harness.POSTHORN] + list(args),
                               capture_output=True, text=True, timeout=60,
                               user=nobody.pw_uid, group=nobody.pw_gid,
                               extra_groups=[], env=env)
            if check and r.returncode != 0:
                raise AssertionError("%s: %s" % (args, r.stderr))
            return r

        def cleanup():
            if os.path.exists(os.path.join(inst_dir, "queue", "pid",
                                           "master.pid")):
                run("-c", inst_dir, "stop", check=False)
            for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        if inst_dir.encode() in f.read():
                            os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            shutil.rmtree(root, ignore_errors=True)

        self.addCleanup(cleanup)
        run("init", inst_dir, "--port-base", str(harness.free_port_base()))
        port = free_port()
        with open(os.path.join(inst_dir, "master.cf"), "a") as f:
            f.write(service_line(str(port), ECHO, chroot="y") + "\n")
        started = run("-c", inst_dir, "start")
        self.assertIn("chroot needs root: ignored", started.stderr)
        master = int(open(os.path.join(inst_dir, "queue", "pid",
                                       "master.pid")).read())
        c = Client(port)
        self.assertEqual(c.ask("id"), "id %d %d /" % (nobody.pw_uid,
                                                     nobody.pw_gid))
        for pid in [master, c.pid]:
            self.assertEqual(proc_status(pid)["Uid"],
                             [str(nobody.pw_uid)] * 4)
        self.assertEqual(os.readlink("/proc/%d/root" % c.pid), "/")
        c.close()
        run("-c", inst_dir, "stop")
        self.assertFalse(alive(master))
        self.assertFalse(alive(c.pid))

    # start fails with the reason when a port is taken, and leaves nothing.
    def test_start_fails_when_port_in_use(self):
        inst, port = self.instance_with_echo()
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", port))
        blocker.listen(1)
        try:
            r = inst.posthorn("start", check=False)
        finally:
            blocker.close()
        self.assertEqual(r.returncode, 1)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("127.0.0.1 port %d: Address already in use" % port,
                      lines[0])
        self.assertEqual(inst.posthorn("status", check=False).returncode, 1)
        self.assertFalse(os.path.exists(
            os.path.join(inst.dir, "queue", "pid", "master.pid")))
        # And it starts once the port is free.
        inst.start()
        self.assertTrue(wait_port(port, 10))

    def test_start_fails_on_bad_master_cf(self):
        inst = self.make_instance()
        inst.append_master_cf("broken inet n")
        r = inst.posthorn("start", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("master.cf", r.stderr)
        self.assertEqual(inst.posthorn("status", check=False).returncode, 1)

    def test_reload_with_bad_master_cf_keeps_running(self):
        inst, port = self.instance_with_echo()
        inst.start()
        inst.append_master_cf("broken inet n")
        r = inst.posthorn("reload", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("master.cf", r.stderr)
        c = Client(port)
        self.assertEqual(c.ask("x"), "echo: x")
        c.close()

    def test_foreground_logs_to_stderr_and_stops_on_sigterm(self):
        inst, port = self.instance_with_echo()
        proc = subprocess.Popen(
            [harness.POSTHORN, "-c", inst.dir, "start", "--foreground"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            self.assertTrue(wait_port(port, 10))
            c = Client(port)
            self.assertEqual(c.ask("fg"), "echo: fg")
            c.close()
            self.assertEqual(inst.master_pid(), proc.pid)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0)
        self.assertIn("posthorn/master: daemon started -- version", err)
        self.assertIn("terminating on signal 15", err)
        self.assertNotIn("Sanitizer", err)
        self.assertNoAbnormalExits(inst)
        self.assertEqual(inst.posthorn("status", check=False).returncode, 1)

    # stop: no new connections, the client in hand finishes; one that
    # does not finish is killed after master_stop_timeout.
    def test_stop_lets_clients_finish_then_kills_stragglers(self):
        inst, port = self.instance_with_echo()
        inst.conf(master_stop_timeout="3s")
        inst.start()
        polite, stubborn = Client(port), Client(port)
        result = {}

        def stop():
            t0 = time.monotonic()
            result["r"] = inst.posthorn("stop", check=False)
            result["t"] = time.monotonic() - t0

        th = threading.Thread(target=stop)
        th.start()
        self.assertTrue(wait_for(lambda: refused(port), 5))
        self.assertEqual(polite.ask("finishing"), "echo: finishing")
        self.assertEqual(polite.ask("quit"), "bye")
        polite.close()
        th.join(60)
        self.assertEqual(result["r"].returncode, 0, result["r"].stderr)
        self.assertGreaterEqual(result["t"], 2.5)
        self.assertFalse(alive(stubborn.pid))
        self.assertFalse(alive(polite.pid))
        stubborn.close()
        self.assertIn("killing 1 process that did not stop", inst.log())

    def test_idle_process_exits_after_max_idle_and_max_use(self):
        inst, port = self.instance_with_echo()
        inst.conf(max_idle="1s", max_use="2")
        inst.start()
        master = inst.master_pid()
        a = Client(port)
        self.assertEqual(a.ask("quit"), "bye")
        a.close()
        self.assertTrue(wait_for(
            lambda: service_counts(inst, str(port)) == (1, 0, 1), 10))
        b = Client(port)
        self.assertEqual(b.pid, a.pid)  # reused for a second client
        b.close()
        # max_use 2: that process is done.
        self.assertTrue(wait_for(lambda: not alive(a.pid), 5))
        c = Client(port)
        self.assertNotEqual(c.pid, a.pid)
        c.close()
        # max_idle 1 s: the idle process goes away by itself.
        self.assertTrue(wait_for(
            lambda: children_of(master, "echo") == [], 10))
        self.assertNoAbnormalExits(inst)

    def test_pass_service_receives_client_descriptor(self):
        inst = self.make_instance()
        inst.append_master_cf(service_line("passecho", ECHO, type_="pass"))
        inst.start()
        path = os.path.join(inst.dir, "queue", "public", "passecho")
        ours, theirs = socket.socketpair()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as u:
            u.connect(path)
            socket.send_fds(u, [b"x"], [theirs.fileno()])
        theirs.close()
        c = Client(None, sock=ours)
        self.assertEqual(c.ask("passed"), "echo: passed")
        self.assertEqual(c.ask("quit"), "bye")
        c.close()
        inst.stop()
        self.assertNoAbnormalExits(inst)

    # A master killed outright leaves no service behind: idle children
    # exit at once, busy ones after their client; a new start works.
    def test_children_exit_when_master_dies(self):
        inst, port = self.instance_with_echo()
        inst.start()
        master = inst.master_pid()
        busy, done = Client(port), Client(port)
        self.assertEqual(done.ask("quit"), "bye")
        done.close()
        os.kill(master, signal.SIGKILL)
        self.assertTrue(wait_for(lambda: not alive(master), 5))
        self.assertTrue(wait_for(lambda: not alive(done.pid), 10))
        self.assertTrue(alive(busy.pid))
        self.assertEqual(busy.ask("orphaned"), "echo: orphaned")
        self.assertEqual(busy.ask("quit"), "bye")
        busy.close()
        self.assertTrue(wait_for(lambda: not alive(busy.pid), 10))
        self.assertEqual(inst.posthorn("status", check=False).returncode, 1)
        inst.start()
        c = Client(port)
        self.assertEqual(c.ask("again"), "echo: again")
        c.close()

    @unittest.skipUnless(os.path.exists(MECHO), "no mecho test service")
    def test_multi_server_serves_many_clients_in_one_process(self):
        inst = self.make_instance()
        port = free_port()
        inst.append_master_cf(service_line(str(port), MECHO))
        inst.start()
        master = inst.master_pid()
        socks = []
        for i in range(10):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            f = s.makefile("rw", encoding="utf-8", newline="\n")
            socks.append((s, f))
        for i, (s, f) in enumerate(socks):
            f.write("line %d\n" % i)
            f.flush()
        pids = set()
        for i, (s, f) in enumerate(socks):
            reply = f.readline().split()
            self.assertEqual(reply[:3], ["mecho", "line", str(i)])
            pids.add(int(reply[-1]))
        for s, f in socks:
            f.close()
            s.close()
        self.assertEqual(len(pids), 1)
        self.assertEqual(children_of(master, "mecho"), list(pids))
        inst.stop()
        self.assertNoAbnormalExits(inst)

    @unittest.skipUnless(os.path.exists(TLOG), "no tlog test service")
    def test_trigger_server_wakeup_and_triggers(self):
        inst = self.make_instance()
        inst.append_master_cf(service_line("tlogu", TLOG, type_="unix",
                                           wakeup="1", maxproc="1"))
        inst.append_master_cf(service_line("tlogf", TLOG, type_="fifo",
                                           maxproc="1"))
        inst.start()
        log = inst.log
        # master's wakeup every second.
        self.assertTrue(wait_for(
            lambda: log().count("tlog: tlogu: trigger W") >= 2, 10))
        # A trigger into the FIFO (public/: the service is not private).
        fifo = os.path.join(inst.dir, "queue", "public", "tlogf")
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"hello")
        os.close(fd)
        self.assertTrue(wait_for(
            lambda: "tlog: tlogf: trigger hello" in log(), 10))
        inst.stop()
        self.assertNoAbnormalExits(inst)


if __name__ == "__main__":
    unittest.main()
