"""harness.py: the integration test harness.

Every integration test makes its own instance with `posthorn init` in a
temporary directory on a free port base, starts it, drives it with real
clients (python's smtplib/imaplib/poplib, swaks, openssl s_client, ...) and
stops it. On failure the instance's maillog is printed. Loopback only.

    from harness import PosthornTestCase, BUILD, wait_port
    class TestX(PosthornTestCase):
        def test_y(self):
            inst = self.make_instance()
            inst.start()
            ...
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BUILD = os.environ.get("POSTHORN_BUILD") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build"))
BIN = os.path.join(BUILD, "bin")
POSTHORN = os.path.join(BIN, "posthorn")
TEST_LIBEXEC = os.path.join(BUILD, "tests", "libexec")
# A loopback UDP port with nothing behind it: the default resolver of every
# test instance.
DNS_BLACKHOLE_PORT = 1
# The port offsets of CONTRACT.md.
PORT_OFFSETS = {"smtp": 25, "submission": 587, "smtps": 465, "pop3": 110,
                "pop3s": 995, "imap": 143, "imaps": 993}


def port_is_free(port):
    for family, addr in ((socket.AF_INET, "127.0.0.1"),
                         (socket.AF_INET6, "::1")):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port():
    """A TCP port free on 127.0.0.1 and ::1."""
    for _ in range(200):
        port = random.randint(20000, 60000)
        if port_is_free(port):
            return port
    raise RuntimeError("no free port found")


def free_port_base():
    """A base N such that every N+offset port is free."""
    for _ in range(200):
        base = random.randint(20, 640) * 100
        if all(port_is_free(base + off) for off in PORT_OFFSETS.values()):
            return base
    raise RuntimeError("no free port base found")


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    """Wait until host:port accepts a TCP connection; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll predicate() until it is true; returns its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def run(args, check=True, input=None, env=None, timeout=60):
    """Run a command (never through a shell); returns CompletedProcess."""
    proc = subprocess.run(args, input=input, capture_output=True, text=True,
                          env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


class Instance:
    """One posthorn instance made by `posthorn init` in a temp dir."""

    def __init__(self, root, port_base=None, hostname="mail.example.test",
                 domain="localhost"):
        self.port_base = port_base if port_base is not None \
            else free_port_base()
        self.dir = os.path.join(root, "inst")
        self.hostname = hostname
        self.domain = domain
        run([POSTHORN, "init", self.dir, "--port-base", str(self.port_base),
             "--hostname", hostname, "--domain", domain])
        # Tests never send traffic off this machine: DNS goes to a loopback
        # port where nothing listens (queries fail at once, mail to remote
        # domains is deferred) unless a test starts its own dnsmasq and
        # points dns_resolver_address at it.
        self.conf(dns_resolver_address="127.0.0.1:%d" % DNS_BLACKHOLE_PORT)

    def port(self, service):
        return self.port_base + PORT_OFFSETS[service]

    def posthorn(self, *args, check=True, input=None, timeout=60):
        return run([POSTHORN, "-c", self.dir] + list(args), check=check,
                   input=input, timeout=timeout)

    def conf(self, **settings):
        self.posthorn("conf", *["%s=%s" % kv for kv in settings.items()])

    def disable_service(self, name):
        """Take a service out of master.cf (with its continuation lines),
        e.g. "qmgr" so that queued mail stays where a test can look."""
        path = os.path.join(self.dir, "master.cf")
        with open(path) as f:
            lines = f.readlines()
        out, skipping = [], False
        for line in lines:
            if line[:1] in (" ", "\t") and line.strip() and \
                    not line.lstrip().startswith("#"):
                if not skipping:
                    out.append(line)
                continue
            skipping = line.split()[:1] == [name]
            if not skipping:
                out.append(line)
        with open(path, "w") as f:
            f.writelines(out)

    def append_master_cf(self, line):
        with open(os.path.join(self.dir, "master.cf"), "a") as f:
            f.write(line.rstrip("\n") + "\n")

    def start(self):
        return self.posthorn("start", timeout=30)

    def stop(self, check=True):
        return self.posthorn("stop", check=check, timeout=60)

    def master_pid(self):
        try:
            with open(os.path.join(self.dir, "queue", "pid",
                                   "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def log(self):
        try:
            with open(os.path.join(self.dir, "log", "maillog"),
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def kill_leftovers(self):
        """Kill any process still running from this instance (by its
        config directory on the command line)."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().decode(errors="replace")
            except OSError:
                continue
            if self.dir in cmd and int(pid) != os.getpid():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass


class PosthornTestCase(unittest.TestCase):
    """Base class: make_instance() with cleanup and log dump on failure."""

    def make_instance(self, **kwargs):
        root = tempfile.mkdtemp(prefix="posthorn-test-")
        os.chmod(root, 0o755)
        inst = Instance(root, **kwargs)
        self.addCleanup(self._cleanup_instance, inst, root)
        return inst

    def _cleanup_instance(self, inst, root):
        failed = self._outcome_failed()
        if os.path.exists(os.path.join(inst.dir, "queue", "pid",
                                       "master.pid")):
            try:
                inst.stop(check=False)
            except Exception:
                pass
        inst.kill_leftovers()
        if failed:
            print("\n----- maillog of %s -----\n%s-----" % (inst.dir,
                                                         inst.log()))
        if failed and os.environ.get("POSTHORN_KEEP"):
            print("kept instance at", inst.dir)
        else:
            shutil.rmtree(root, ignore_errors=True)

    def _outcome_failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        result = getattr(outcome, "result", None)
        if result is not None:
            errors = list(getattr(result, "errors", [])) + \
                list(getattr(result, "failures", []))
            return any(test is self for test, _ in errors)
        return not getattr(outcome, "success", True)
