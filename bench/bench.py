#!/usr/bin/env python3
"""bench.py: posthorn side by side with a private Postfix instance.

Both MTAs run from a temporary directory on loopback ports; nothing outside
that directory is touched (each Postfix instance has its own
config_directory, queue_directory and data_directory and is stopped at the
end). Scenarios (numbering of issue 10):

  1  smtp-source -s 20 -m N -l 4096 -> virtual Maildir, 1 recipient
  2  as 1 with -r 5 (5 recipients per message)
  3  as 1 with -l 102400 (100 KiB)
  4  smtp-source -> MTA -> smtp-sink (relay), until the queue is empty
  5  BENCH_SENDMAIL submissions through each MTA's sendmail, one by one
  6  BENCH_IDLE_CONNS (500) idle SMTP sessions (greeting read, EHLO sent)
     held open: PSS of the MTA's process tree per connection
  7  delivery latency at a fixed offered load (BENCH_LATENCY_RATE, 500
     msgs/s for BENCH_LATENCY_SECONDS, 10 s): time from the 250 reply to
     the end of DATA until the file is in new/ (median, p99)

MTAs ("columns"): postfix (stock tunables), postfix-ifd0 (the same with
in_flow_delay = 0; BENCH_POSTFIX_IFD0=0 leaves it out; not run for 6,
where it is identical to postfix) and posthorn. BENCH_MTA picks a subset.

End to end: the clock starts before the first connection and stops when the
last message file is in new/ (or smtp-sink has counted it and the queue is
empty). CPU is the user+sys of the MTA's daemons (the master process and its
descendants, including reaped children through cutime/cstime), sampled from
/proc. Peak RSS is the largest sum of RSS over those processes seen by the
sampler (every 100 ms; PSS every 0.5 s and at the end of the run).

Environment: BENCH_MESSAGES (10000), BENCH_SENDMAIL (2000), BENCH_RUNS (3),
BENCH_SCENARIOS ("1 4 5 6 7"; "1 2 3 4 5 6 7" for all),
BENCH_MTA ("postfix postfix-ifd0 posthorn", comma or space separated),
BENCH_POSTFIX_IFD0 (1), BENCH_IDLE_CONNS (500), BENCH_LATENCY_RATE (500),
BENCH_LATENCY_SECONDS (10), BENCH_LATENCY_SESSIONS (20),
BENCH_RESULTS_DIR (bench/results), BENCH_KEEP=1 keeps the temporary
directory.
"""
import ctypes
import ctypes.util
import datetime
import json
import math
import os
import random
import re
import resource
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
BIN = os.path.join(os.environ.get("BENCH_BUILD") or os.path.join(TOP, "build"), "bin")
POSTHORN = os.path.join(BIN, "posthorn")
PH_SENDMAIL = os.path.join(BIN, "sendmail")
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
PF_SENDMAIL = "/usr/sbin/sendmail"

N = int(os.environ.get("BENCH_MESSAGES", "10000"))
N_SENDMAIL = int(os.environ.get("BENCH_SENDMAIL", "2000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SETTLE_SECONDS = int(os.environ.get("BENCH_SETTLE_SECONDS", "35"))
SCENARIOS = os.environ.get("BENCH_SCENARIOS", "1 4 5 6 7").split()
KNOWN_SCENARIOS = ("1", "2", "3", "4", "5", "6", "7")
IFD0 = os.environ.get("BENCH_POSTFIX_IFD0", "1") not in ("0", "", "no")
ALL_MTAS = ["postfix"] + (["postfix-ifd0"] if IFD0 else []) + ["posthorn"]
MTAS = os.environ.get("BENCH_MTA", " ".join(ALL_MTAS)).replace(
    ",", " ").split()
IDLE_CONNS = int(os.environ.get("BENCH_IDLE_CONNS", "500"))
# smtpd's maxproc in both master.cf files: room for the idle sessions of
# scenario 6 (stock is default_process_limit, 100). default_process_limit
# itself stays stock: posthorn's qmgr uses it as its delivery concurrency.
SMTPD_MAXPROC = IDLE_CONNS + 100
LAT_RATE = float(os.environ.get("BENCH_LATENCY_RATE", "500"))
LAT_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "10"))
LAT_SESSIONS = int(os.environ.get("BENCH_LATENCY_SESSIONS", "20"))
# Where latest.json and history.md go (elsewhere for trial runs).
RESULTS_DIR = os.environ.get("BENCH_RESULTS_DIR",
                             os.path.join(HERE, "results"))
DOMAIN = "bench.test"
USER = "bench"
RCPT = "%s@%s" % (USER, DOMAIN)
RELAY_RCPT = "user@relay.test"
# smtp-source -r K sends to K recipients named by prepending a number to
# the -t address; 0..5 covers either numbering.
EXTRA_USERS = ["%d%s" % (i, USER) for i in range(6)]
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(args, check=True, input=None, env=None, timeout=120):
    p = subprocess.run(args, input=input, capture_output=True, text=True,
                       env=env, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s exited %d\n%s%s" % (" ".join(args),
                           p.returncode, p.stdout, p.stderr))
    return p


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    while True:
        p = random.randint(20000, 60000)
        if port_free(p):
            return p


def free_port_base():
    while True:
        b = random.randint(20, 640) * 100
        if all(port_free(b + o) for o in (25, 587, 465, 110, 995, 143, 993)):
            return b


def wait_port(port, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def count_files(d):
    try:
        return len(os.listdir(d))
    except FileNotFoundError:
        return 0


# Where clear_dir moves delivered files; set in main() (under the temp dir).
TRASH_DIR = None
_trash_seq = 0


def clear_dir(d):
    """Empties d by moving its files to TRASH_DIR, not deleting them: on
    ext4 without a journal (this machine) every inode freed in the last
    ~30 s is skipped one by one by the inode allocator, so deleting 10,000
    files right before a run would slow the next run's file creation in
    both MTAs alike with a cost that is the harness's, not theirs. The
    trash goes with the temp directory at the end."""
    global _trash_seq
    if not os.path.isdir(d):
        return
    _trash_seq += 1
    dest = os.path.join(TRASH_DIR or os.path.dirname(d), "trash-%d" % _trash_seq)
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(d):
        try:
            os.rename(os.path.join(d, name), os.path.join(dest, name))
        except OSError:
            pass


def spread_directories(root):
    """Marks root as a top of a directory hierarchy (chattr +T), so that
    ext4 places each MTA's directory in its own block group. Why: on an
    ext4 without a journal (this machine) the inode allocator skips, one
    by one, every free inode of a group deleted in the last 60 s (360 s
    while the inode table block is dirty); with every instance in one
    group, one MTA's deletions (Postfix removes a queue file per message)
    slowed the other's file creation. Each MTA still pays for its own."""
    meta_note = "chattr +T"
    try:
        subprocess.run(["chattr", "+T", root], check=True,
                       capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as e:
        meta_note = "chattr +T failed: %s" % e
    log("bench: %s on %s" % (meta_note, root))


def queue_files(qdir, subdirs):
    """Messages in the queue: files whose names do not start with a dot
    (posthorn's dot names are files being written and its pool of emptied
    queue files; no Postfix queue file starts with a dot)."""
    n = 0
    for sub in subdirs:
        for _root, _dirs, files in os.walk(os.path.join(qdir, sub)):
            n += sum(1 for f in files if not f.startswith("."))
    return n


def set_maxproc(path, is_smtpd, maxproc):
    """Rewrites the maxproc field (7th) of the master.cf service lines for
    which is_smtpd(fields) is true."""
    out = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            if line[:1] not in ("#", " ", "\t", "\n") and \
                    len(fields) >= 8 and is_smtpd(fields):
                fields[6] = str(maxproc)
                line = " ".join(fields) + "\n"
            out.append(line)
    with open(path, "w") as f:
        f.writelines(out)


# ---------------------------------------------------------------- sampling

def proc_table():
    """{pid: (ppid, cpu_ticks incl. reaped children, rss_bytes)}"""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        # rest[0] is field 3 (state)
        ppid = int(rest[1])
        cpu = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
        rss = int(rest[21]) * PAGE
        out[int(name)] = (ppid, cpu, rss)
    return out


def tree(table, root):
    kids = {}
    for pid, (ppid, _c, _r) in table.items():
        kids.setdefault(ppid, []).append(pid)
    seen, stack = [], [root]
    while stack:
        p = stack.pop()
        if p in table:
            seen.append(p)
            stack.extend(kids.get(p, ()))
    return seen


def pss(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


class Sampler(threading.Thread):
    """CPU and peak RSS of master_pid and its descendants."""

    def __init__(self, master_pid):
        super().__init__(daemon=True)
        self.master = master_pid
        self.stop_ev = threading.Event()
        self.peak_rss = 0
        self.start_cpu = self.snapshot()

    def snapshot(self, final=False):
        t = proc_table()
        pids = tree(t, self.master)
        rss = sum(t[p][2] for p in pids)
        self.peak_rss = max(getattr(self, "peak_rss", 0), rss)
        self.ticks = getattr(self, "ticks", 0) + 1
        # PSS (smaps_rollup) is dearer: every 0.5 s and at the end, so
        # that a run shorter than a second still gets a sample under load.
        if self.ticks % 5 == 1 or final:
            self.peak_pss = max(getattr(self, "peak_pss", 0), pss(pids))
        return {p: t[p][1] for p in pids}

    def run(self):
        while not self.stop_ev.wait(0.1):
            self.snapshot()

    def finish(self):
        self.stop_ev.set()
        self.join()
        end = self.snapshot(final=True)
        # master's cutime/cstime absorbs children that exited meanwhile
        # (with everything they had used, so subtract their start value).
        total = end.get(self.master, 0) - self.start_cpu.get(self.master, 0)
        for p, c in end.items():
            if p != self.master:
                total += c
        for p, c in self.start_cpu.items():
            if p != self.master:
                total -= c
        return total / CLK, self.peak_rss, self.peak_pss


# --------------------------------------------------------------- instances

class PosthornInst:
    name = "posthorn"

    def __init__(self, root, sink_port):
        self.dir = os.path.join(root, "posthorn")
        self.base = free_port_base()
        self.port = self.base + 25
        run([POSTHORN, "init", self.dir, "--port-base", str(self.base),
             "--hostname", "ph.bench.test", "--domain", DOMAIN])
        self.conf("dns_resolver_address=127.0.0.1:1",
                  "mynetworks=127.0.0.0/8",
                  # scenario 6: no anvil concurrency limit (loopback is in
                  # the mynetworks exceptions anyway)
                  "smtpd_client_connection_count_limit=0",
                  "relay_domains=relay.test",
                  "transport_maps=inline:{relay.test = smtp:[127.0.0.1]:%d}"
                  % sink_port)
        for u in [USER] + EXTRA_USERS:
            run([POSTHORN, "-c", self.dir, "user", "add",
                 "%s@%s" % (u, DOMAIN), "--password-stdin"],
                input="benchpass\n")
        set_maxproc(os.path.join(self.dir, "master.cf"),
                    lambda f: f[0] == str(self.port), SMTPD_MAXPROC)
        self.new = os.path.join(self.dir, "mail", DOMAIN, USER, "new")
        self.extra_new = [os.path.join(self.dir, "mail", DOMAIN, u, "new")
                          for u in EXTRA_USERS]
        self.qdir = os.path.join(self.dir, "queue")

    def conf(self, *kv):
        run([POSTHORN, "-c", self.dir, "conf"] + list(kv))

    def start(self):
        run([POSTHORN, "-c", self.dir, "start"], timeout=30)
        if not wait_port(self.port):
            raise RuntimeError("posthorn smtpd not listening")

    def stop(self):
        run([POSTHORN, "-c", self.dir, "stop"], check=False, timeout=60)

    def restart(self):
        self.stop()
        self.start()

    def master_pid(self):
        with open(os.path.join(self.qdir, "pid", "master.pid")) as f:
            return int(f.read().split()[0])

    def queued(self):
        return queue_files(self.qdir, ("maildrop", "incoming", "active",
                                       "deferred", "hold"))

    def sendmail_cmd(self):
        return [PH_SENDMAIL, "-C", self.dir, "-f", "sender@src.test", RCPT]

    def maillog(self):
        try:
            with open(os.path.join(self.dir, "log", "maillog"),
                      errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""


class PostfixInst:
    """A private Postfix instance; name "postfix-ifd0" sets in_flow_delay
    to 0, everything else is the same."""

    def __init__(self, root, sink_port, name="postfix"):
        self.name = name
        self.root = os.path.join(root, name)
        self.etc = os.path.join(self.root, "etc")
        self.qdir = os.path.join(self.root, "queue")
        self.vmail = os.path.join(self.root, "vmail")
        for d in (self.etc, self.qdir, self.vmail):
            os.makedirs(d)
        os.chmod(self.root, 0o755)
        data = os.path.join(self.root, "data")
        os.makedirs(data)
        shutil.chown(data, "postfix")
        shutil.chown(self.vmail, "nobody", "nogroup")
        self.port = free_port()
        uid = int(run(["id", "-u", "nobody"]).stdout)
        gid = int(run(["id", "-g", "nobody"]).stdout)
        self.maillog_path = os.path.join(self.root, "maillog")
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.qdir,
            "data_directory": data,
            "meta_directory": "/etc/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "pf.bench.test",
            "mydomain": "bench.test",
            "myorigin": "pf.bench.test",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "relay.test",
            "transport_maps":
                "inline:{relay.test=smtp:[127.0.0.1]:%d}" % sink_port,
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_base": self.vmail,
            "virtual_mailbox_maps": "inline:{" + ", ".join(
                "%s@%s=%s/%s/" % (u, DOMAIN, DOMAIN, u)
                for u in [USER] + EXTRA_USERS) + "}",
            "virtual_uid_maps": "static:%d" % uid,
            "virtual_gid_maps": "static:%d" % gid,
            "smtpd_relay_restrictions":
                "permit_mynetworks, reject_unauth_destination",
            "alias_maps": "",
            "alias_database": "",
            "smtp_dns_support_level": "disabled",
            "disable_dns_lookups": "yes",
            "maillog_file": self.maillog_path,
            "maillog_file_prefixes": self.root,
            "smtputf8_enable": "no",
            # scenario 6: no anvil concurrency limit (loopback is in the
            # mynetworks exceptions anyway)
            "smtpd_client_connection_count_limit": "0",
        }
        if name == "postfix-ifd0":
            settings["in_flow_delay"] = "0"
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            for k, v in settings.items():
                f.write("%s = %s\n" % (k, v))
        # Stock master.cf, smtpd on our port, nothing chrooted.
        out = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                fields = line.split()
                if line[:1] not in ("#", " ", "\t", "\n") and \
                        len(fields) >= 8:
                    if fields[0] == "smtp" and fields[1] == "inet":
                        fields[0] = "127.0.0.1:%d" % self.port
                        fields[6] = str(SMTPD_MAXPROC)
                    fields[4] = "n"
                    line = " ".join(fields[:8]) + " " + \
                        " ".join(fields[8:]) + "\n"
                out.append(line)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.writelines(out)
        self.new = os.path.join(self.vmail, DOMAIN, USER, "new")
        self.extra_new = [os.path.join(self.vmail, DOMAIN, u, "new")
                          for u in EXTRA_USERS]
        # virtual(8) creates a Maildir on first delivery; create them now so
        # that scenario 7 can watch new/ before anything is delivered.
        for u in [USER] + EXTRA_USERS:
            for d in (os.path.join(self.vmail, DOMAIN),
                      os.path.join(self.vmail, DOMAIN, u)) + tuple(
                          os.path.join(self.vmail, DOMAIN, u, x)
                          for x in ("tmp", "new", "cur")):
                if not os.path.isdir(d):
                    os.mkdir(d, 0o700)
                    shutil.chown(d, "nobody", "nogroup")
        self.env = dict(os.environ, MAIL_CONFIG=self.etc)

    def start(self):
        run([POSTFIX, "-c", self.etc, "check"], check=False)
        run([POSTFIX, "-c", self.etc, "start"], timeout=60)
        if not wait_port(self.port):
            raise RuntimeError("postfix smtpd not listening:\n" +
                               self.maillog())

    def stop(self):
        run([POSTFIX, "-c", self.etc, "stop"], check=False, timeout=60)
        # postfix stop returns before every daemon is gone
        end = time.monotonic() + 10
        while os.path.exists(os.path.join(self.qdir, "pid", "master.pid")) \
                and time.monotonic() < end:
            try:
                os.kill(self.master_pid(), 0)
            except (OSError, ValueError):
                break
            time.sleep(0.1)

    def restart(self):
        self.stop()
        self.start()

    def master_pid(self):
        with open(os.path.join(self.qdir, "pid", "master.pid")) as f:
            return int(f.read().split()[0])

    def queued(self):
        return queue_files(self.qdir, ("maildrop", "incoming", "active",
                                       "deferred", "hold"))

    def sendmail_cmd(self):
        return [PF_SENDMAIL, "-C", self.etc, "-f", "sender@src.test", RCPT]

    def maillog(self):
        try:
            with open(self.maillog_path, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""


class Sink:
    def __init__(self, root):
        self.port = free_port()
        self.out = os.path.join(root, "smtp-sink.out")
        self.fout = open(self.out, "wb")
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", "nobody", "-c", "127.0.0.1:%d" % self.port,
             "1024"], stdout=self.fout, stderr=subprocess.STDOUT)
        if not wait_port(self.port):
            raise RuntimeError("smtp-sink did not start")

    def messages(self):
        with open(self.out, "rb") as f:
            f.seek(max(0, os.path.getsize(self.out) - 4096))
            text = f.read().decode(errors="replace")
        m = re.findall(r"mesg=(\d+)", text)
        return int(m[-1]) if m else 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.fout.close()


# --------------------------------------------------------------- scenarios

def message_file(root, size):
    path = os.path.join(root, "msg-%d.eml" % size)
    if not os.path.exists(path):
        body = []
        line = "x" * 70 + "\n"
        while sum(map(len, body)) < size:
            body.append(line)
        with open(path, "w") as f:
            f.write("From: sender@src.test\nTo: %s\nSubject: bench\n\n"
                    % RCPT + "".join(body))
    return path


def one_run(inst, scenario, sink, root):
    """Returns dict(rate, cpu_ms, rss_mb, seconds) or raises."""
    clear_dir(inst.new)
    for d in inst.extra_new:
        clear_dir(d)
    while inst.queued():
        time.sleep(0.1)
    base_new = count_files(inst.new)
    base_sink = sink.messages()
    sampler = Sampler(inst.master_pid())
    if scenario == "5":
        n = N_SENDMAIL
    else:
        n = N
    # files expected in the Maildirs
    files = n * 5 if scenario == "2" else n
    timeout = max(120, files / 20)
    sampler.start()
    t0 = time.monotonic()
    if scenario in ("1", "2", "3", "4"):
        rcpt = RELAY_RCPT if scenario == "4" else RCPT
        size = "102400" if scenario == "3" else "4096"
        extra = ["-r", "5"] if scenario == "2" else []
        if scenario == "2":
            rcpt = "%s@%s" % (USER, DOMAIN)
        p = run([SMTP_SOURCE, "-s", "20", "-m", str(n), "-l", size] + extra +
                ["-f", "sender@src.test", "-t", rcpt,
                 "127.0.0.1:%d" % inst.port], timeout=timeout)
    elif scenario == "5":
        msg = message_file(root, 4096)
        cmd = inst.sendmail_cmd()
        for _ in range(n):
            with open(msg, "rb") as f:
                r = subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
            if r.returncode != 0:
                raise RuntimeError("sendmail: %r" % r.stderr)
    if scenario == "4":
        def done():
            return sink.messages() - base_sink >= n and inst.queued() == 0
    elif scenario == "2":
        def done():
            return sum(count_files(d) for d in
                       [inst.new] + inst.extra_new) >= files
    else:
        def done():
            return count_files(inst.new) - base_new >= n
    end = t0 + timeout
    # Listing a big new/ costs CPU on the same machine: poll rarely while
    # far from the end.
    if scenario == "4":
        def left():
            return n - (sink.messages() - base_sink)
    elif scenario == "2":
        def left():
            return files - sum(count_files(d) for d in
                               [inst.new] + inst.extra_new)
    else:
        def left():
            return n - (count_files(inst.new) - base_new)
    while left() > max(50, files // 50):
        if time.monotonic() > end:
            break
        time.sleep(0.2)
    while not done():
        if time.monotonic() > end:
            sampler.finish()
            raise RuntimeError("%s scenario %s: timeout (%d in new/, sink %d,"
                               " queued %d)\n%s" % (
                                   inst.name, scenario,
                                   count_files(inst.new) - base_new,
                                   sink.messages() - base_sink,
                                   inst.queued(), inst.maillog()))
        time.sleep(0.01)
    secs = time.monotonic() - t0
    cpu, rss, pss_ = sampler.finish()
    return {"msgs": n, "seconds": round(secs, 3),
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "rate": round(n / secs, 1),
            "cpu_ms_per_msg": round(cpu * 1000 / n, 3),
            "peak_rss_mb": round(rss / 2**20, 1),
            "peak_pss_mb": round(pss_ / 2**20, 1)}


# ------------------------------------------------ scenario 6: idle sessions

def smtp_read_reply(f):
    """Reads one (possibly multi-line) SMTP reply from a binary file object;
    returns (code, last line) or raises OSError on EOF."""
    while True:
        line = f.readline(1024)
        if not line:
            raise OSError("connection closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3] or b"0"), line.decode(errors="replace")


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        raise RuntimeError("scenario 6 needs %d file descriptors, ulimit -Hn "
                           "is %d" % (need, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def tree_memory(inst):
    """(total PSS bytes, number of processes, PSS of the smtpd processes,
    number of smtpd processes) over the MTA's master and descendants."""
    pids = tree(proc_table(), inst.master_pid())
    smtpd = []
    for p in pids:
        try:
            with open("/proc/%d/comm" % p) as f:
                if f.read().strip() == "smtpd":
                    smtpd.append(p)
        except OSError:
            pass
    return pss(pids), len(pids), pss(smtpd), len(smtpd)


def idle_run(inst):
    """Scenario 6: IDLE_CONNS sessions that read the greeting, send EHLO and
    stay idle. The MTA is restarted first so that no idle smtpd of an
    earlier scenario is in the baseline, and again at the end so that the
    idle smtpd processes do not linger into the next scenario."""
    raise_nofile(IDLE_CONNS + 256)
    inst.restart()
    time.sleep(2)
    samples = []
    for _ in range(3):
        samples.append(tree_memory(inst))
        time.sleep(0.5)
    base = min(samples, key=lambda m: m[0])
    conns = []
    t0 = time.monotonic()
    try:
        for i in range(IDLE_CONNS):
            sk = socket.create_connection(("127.0.0.1", inst.port), 60)
            f = sk.makefile("rb")
            conns.append((sk, f))
            code, line = smtp_read_reply(f)
            if code != 220:
                raise RuntimeError("%s: connection %d: greeting %r" % (
                    inst.name, i, line))
            sk.sendall(b"EHLO client%d.bench.test\r\n" % i)
            code, line = smtp_read_reply(f)
            if code != 250:
                raise RuntimeError("%s: connection %d: EHLO %r" % (
                    inst.name, i, line))
        open_secs = time.monotonic() - t0
        time.sleep(2)
        samples = []
        for _ in range(3):
            samples.append(tree_memory(inst))
            time.sleep(0.5)
        held = statistics.median_low(samples)
        # Every session must still be alive at the end of the measurement.
        alive = 0
        for sk, f in conns:
            try:
                sk.sendall(b"QUIT\r\n")
                if smtp_read_reply(f)[0] == 221:
                    alive += 1
            except OSError:
                pass
    finally:
        for sk, f in conns:
            f.close()
            sk.close()
    inst.restart()
    n = IDLE_CONNS
    return {"conns": n, "alive_at_end": alive,
            "open_seconds": round(open_secs, 2),
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "base_pss_mb": round(base[0] / 2**20, 1),
            "base_procs": base[1],
            "held_pss_mb": round(held[0] / 2**20, 1),
            "held_procs": held[1], "held_smtpd_procs": held[3],
            "kib_per_conn": round((held[0] - base[0]) / n / 1024, 1),
            "kib_per_conn_gross": round(held[0] / n / 1024, 1),
            "smtpd_kib_per_conn": round(held[2] / n / 1024, 1)}


# -------------------------------------------- scenario 7: delivery latency

IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_Q_OVERFLOW = 0x4000


class NewWatcher(threading.Thread):
    """Records (monotonic time, file name) for every file that appears in a
    Maildir new/: inotify through ctypes when the C library has it,
    otherwise a listing every 2 ms. Only names and times are taken here;
    the files are matched to messages afterwards."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.seen = {}
        self.stop_ev = threading.Event()
        self.method = "poll"
        self.fd = -1
        self.overflow = False
        self.error = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd >= 0:
                wd = libc.inotify_add_watch(fd, path.encode(),
                                            IN_CREATE | IN_MOVED_TO)
                if wd >= 0:
                    self.fd, self.method = fd, "inotify"
                else:
                    os.close(fd)
        except (OSError, AttributeError):
            pass

    def run(self):
        try:
            if self.fd >= 0:
                self.run_inotify()
            self.run_poll()
        except OSError as e:
            self.error = str(e)

    def run_inotify(self):
        while not self.stop_ev.is_set():
            r, _w, _x = select.select([self.fd], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                continue
            t = time.monotonic()
            off = 0
            while off + 16 <= len(data):
                _wd, mask, _cookie, ln = struct.unpack_from("iIII", data, off)
                name = data[off + 16:off + 16 + ln].rstrip(b"\0")
                off += 16 + ln
                if mask & IN_Q_OVERFLOW:
                    # events were lost: go on by listing (times of the
                    # files not seen yet are late by up to one listing)
                    self.overflow = True
                if name:
                    self.seen.setdefault(name.decode(errors="replace"), t)
            if self.overflow:
                break
        os.close(self.fd)

    def run_poll(self):
        if self.overflow:
            self.method = "inotify, then poll after a queue overflow"
        while not self.stop_ev.wait(0.002):
            t = time.monotonic()
            for e in os.scandir(self.path):
                if e.name not in self.seen:
                    self.seen[e.name] = t

    def finish(self):
        self.stop_ev.set()
        self.join()


def bench_id(path):
    """The X-Bench-Id header value of a delivered message, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError:
        return None
    m = re.search(rb"\nX-Bench-Id: (\S+)", head)
    return m.group(1).decode() if m else None


def percentile(sorted_vals, q):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return None
    k = max(0, math.ceil(q / 100 * len(sorted_vals)) - 1)
    return sorted_vals[k]


def latency_run(inst):
    """Scenario 7: LAT_RATE msgs/s for LAT_SECONDS over LAT_SESSIONS SMTP
    sessions (one thread each, MAIL/RCPT/DATA pipelined, RFC 2920); message
    i is due at t0 + i / LAT_RATE. Latency is from the 250 reply to the
    end of DATA until the message's file is in new/, matched by its
    X-Bench-Id header."""
    clear_dir(inst.new)
    while inst.queued():
        time.sleep(0.1)
    n = int(LAT_RATE * LAT_SECONDS)
    token = "%x" % random.getrandbits(40)
    filler = ("x" * 70 + "\r\n") * 56        # about 4 KiB like scenario 1
    accepted = {}
    errors = []
    late = [0]
    lags = []
    lock = threading.Lock()
    counter = iter(range(n))
    watcher = NewWatcher(inst.new)
    old_switch = sys.getswitchinterval()
    # Bound the time a thread waits for the GIL before it can take its
    # timestamp (the default is 5 ms).
    sys.setswitchinterval(0.0005)
    sessions = []
    for _ in range(LAT_SESSIONS):
        sk = socket.create_connection(("127.0.0.1", inst.port), 30)
        f = sk.makefile("rb")
        sessions.append((sk, f))
        if smtp_read_reply(f)[0] != 220:
            raise RuntimeError("%s: no greeting" % inst.name)
        sk.sendall(b"EHLO latency.bench.test\r\n")
        if smtp_read_reply(f)[0] != 250:
            raise RuntimeError("%s: EHLO refused" % inst.name)
    sampler = Sampler(inst.master_pid())
    watcher.start()
    sampler.start()
    client0 = os.times()
    t0 = time.monotonic() + 0.05

    def sender(sk, f):
        try:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                due = t0 + i / LAT_RATE
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                else:
                    # behind schedule: the offered load is not held
                    lags.append(-wait)
                    if wait < -0.01:
                        with lock:
                            late[0] += 1
                ident = "%s.%d" % (token, i)
                sk.sendall(("MAIL FROM:<sender@src.test>\r\n"
                            "RCPT TO:<%s>\r\nDATA\r\n" % RCPT).encode())
                codes = [smtp_read_reply(f)[0] for _ in range(3)]
                if codes != [250, 250, 354]:
                    raise RuntimeError("replies %r" % codes)
                sk.sendall(("From: sender@src.test\r\nTo: %s\r\n"
                            "Subject: latency %d\r\nMessage-ID: <%s@src.test>"
                            "\r\nX-Bench-Id: %s\r\n\r\n%s.\r\n" % (
                                RCPT, i, ident, ident, filler)).encode())
                code, line = smtp_read_reply(f)
                t = time.monotonic()
                if code != 250:
                    raise RuntimeError("end of DATA: %r" % line)
                accepted[ident] = t
        except (OSError, RuntimeError) as e:
            with lock:
                errors.append(str(e))

    threads = [threading.Thread(target=sender, args=c, daemon=True)
               for c in sessions]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(LAT_SECONDS * 3 + 60)
        t_sent = time.monotonic()
        for sk, f in sessions:
            try:
                sk.sendall(b"QUIT\r\n")
                smtp_read_reply(f)
            except OSError:
                pass
            f.close()
            sk.close()
        # Wait for the files, bounded: 30 s after the last reply.
        end = t_sent + 30
        while len(watcher.seen) < len(accepted) and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        sys.setswitchinterval(old_switch)
        watcher.finish()
    # Files the watcher missed would be a harness fault: count them.
    unseen = len(set(os.listdir(inst.new)) - set(watcher.seen))
    queued_at_end = inst.queued()
    cpu, rss, pss_ = sampler.finish()
    client1 = os.times()
    client_cpu = (client1.user - client0.user + client1.system -
                  client0.system)
    lat = []
    unmatched = 0
    for name, t in watcher.seen.items():
        ident = bench_id(os.path.join(inst.new, name))
        if ident in accepted:
            lat.append((t - accepted[ident]) * 1000)
        else:
            unmatched += 1
    lat.sort()
    if errors:
        log("%s scenario 7: %d session errors, first: %s" % (
            inst.name, len(errors), errors[0]))
    if not lat:
        raise RuntimeError("%s scenario 7: no message matched (%d accepted, "
                           "%d files)\n%s" % (inst.name, len(accepted),
                                              len(watcher.seen),
                                              inst.maillog()))
    return {"msgs": n, "accepted": len(accepted), "delivered": len(lat),
            "missing": len(accepted) - len(lat), "unmatched": unmatched,
            "errors": len(errors), "late_sends": late[0],
            "max_send_lag_ms": round(max(lags, default=0) * 1000, 1),
            "offered_rate": round(len(accepted) / max(t_sent - t0, 1e-3), 1),
            "watch": watcher.method, "watch_error": watcher.error,
            "unseen_files": unseen, "queued_at_end": queued_at_end,
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "median_ms": round(statistics.median(lat), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "max_ms": round(lat[-1], 2),
            "cpu_ms_per_msg": round(cpu * 1000 / max(len(accepted), 1), 3),
            # this process (senders, watcher, sampler): it shares the CPUs
            "client_cpu_ms_per_msg": round(client_cpu * 1000 /
                                           max(len(accepted), 1), 3),
            "peak_rss_mb": round(rss / 2**20, 1),
            "peak_pss_mb": round(pss_ / 2**20, 1)}


def git_revision():
    """HEAD of the checkout the binaries were built from, "-dirty" when
    tracked files differ from it (untracked files are not counted). Reads
    only: --no-optional-locks keeps git status from rewriting the index."""
    try:
        rev = run(["git", "-C", TOP, "rev-parse", "HEAD"]).stdout.strip()
        st = run(["git", "--no-optional-locks", "-C", TOP, "status",
                  "--porcelain", "--untracked-files=no"]).stdout
        return rev + ("-dirty" if st.strip() else "")
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return "unknown"


def mtas_for(scenario):
    # in_flow_delay only acts on message input, so postfix-ifd0 is the same
    # as postfix for idle sessions.
    return [m for m in MTAS if not (scenario == "6" and m == "postfix-ifd0")]


def main():
    for tool in (POSTHORN, SMTP_SOURCE, SMTP_SINK, POSTFIX):
        if not os.path.exists(tool):
            sys.exit("bench: missing %s (make all; make deps)" % tool)
    for sc in SCENARIOS:
        if sc not in KNOWN_SCENARIOS:
            sys.exit("bench: unknown scenario %r (BENCH_SCENARIOS: %s)" % (
                sc, " ".join(KNOWN_SCENARIOS)))
    for m in MTAS:
        if m not in ("postfix", "postfix-ifd0", "posthorn"):
            sys.exit("bench: unknown MTA %r (BENCH_MTA: postfix, "
                     "postfix-ifd0, posthorn)" % m)
    meta = {"git": git_revision(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}
    log("bench: %s, load %s, scenarios %s, MTAs %s" % (
        meta["git"], meta["loadavg_at_start"], " ".join(SCENARIOS),
        " ".join(MTAS)))
    global TRASH_DIR
    root = tempfile.mkdtemp(prefix="posthorn-bench-")
    os.chmod(root, 0o755)
    TRASH_DIR = os.path.join(root, "trash")
    meta["workdir"] = root
    spread_directories(root)
    sink = Sink(root)
    insts = []
    results = {}
    try:
        for m in MTAS:
            if m == "posthorn":
                insts.append(PosthornInst(root, sink.port))
            else:
                insts.append(PostfixInst(root, sink.port, m))
        for i in insts:
            i.start()
        # Files deleted shortly before a run (an earlier bench's temp
        # directory) slow inode allocation for ~30 s on this file system
        # (see clear_dir): let that pass first.
        if SETTLE_SECONDS > 0:
            log("bench: settling for %d s" % SETTLE_SECONDS)
            time.sleep(SETTLE_SECONDS)
        for sc in SCENARIOS:
            these = [i for i in insts if i.name in mtas_for(sc)]
            for r in range(RUNS):
                # alternate: forward in odd runs, backward in even runs
                order = these if r % 2 == 0 else these[::-1]
                for inst in order:
                    if sc == "6":
                        res = idle_run(inst)
                    elif sc == "7":
                        res = latency_run(inst)
                    else:
                        res = one_run(inst, sc, sink, root)
                    log("scenario %s run %d %-12s %s" % (sc, r + 1,
                                                        inst.name, res))
                    results.setdefault(sc, {}).setdefault(
                        inst.name, []).append(res)
    finally:
        for i in insts:
            i.stop()
        sink.stop()
        if os.environ.get("BENCH_KEEP"):
            log("bench: kept", root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    meta["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report(results, meta)


NAMES = {"1": "1 smtp 4KiB -> Maildir", "2": "2 smtp 4KiB x5 rcpt",
         "3": "3 smtp 100KiB -> Maildir", "4": "4 relay -> smtp-sink",
         "5": "5 sendmail -> Maildir",
         "6": "6 idle sessions: PSS/conn",
         "7": "7 latency at fixed load"}
SHORT = {"postfix": "pf", "postfix-ifd0": "pf0", "posthorn": "ph"}


def summarize(sc, runs):
    med = statistics.median
    if sc == "6":
        return {"kib_per_conn": med(r["kib_per_conn"] for r in runs),
                "kib_per_conn_gross": med(r["kib_per_conn_gross"]
                                          for r in runs),
                "smtpd_kib_per_conn": med(r["smtpd_kib_per_conn"]
                                          for r in runs),
                "alive_at_end": min(r["alive_at_end"] for r in runs),
                "runs": runs}
    if sc == "7":
        return {"median_ms": med(r["median_ms"] for r in runs),
                "p99_ms": med(r["p99_ms"] for r in runs),
                "max_ms": max(r["max_ms"] for r in runs),
                "offered_rate": med(r["offered_rate"] for r in runs),
                "missing": sum(r["missing"] for r in runs),
                "cpu_ms_per_msg": med(r["cpu_ms_per_msg"] for r in runs),
                "runs": runs}
    return {"rate": med(r["rate"] for r in runs),
            "cpu_ms_per_msg": med(r["cpu_ms_per_msg"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "peak_pss_mb": max(r["peak_pss_mb"] for r in runs),
            "runs": runs}


# The figure each scenario kind compares, and whether larger is better.
KEY = {"6": "kib_per_conn", "7": "p99_ms"}


def ratio(row, other):
    """posthorn's figure over other's (msgs/s, KiB/conn or p99 ms)."""
    key = KEY.get(row["sc"], "rate")
    a, b = row.get("posthorn"), row.get(other)
    if not a or not b or not b[key]:
        return None
    return round(a[key] / b[key], 2)


def fmt(v, spec):
    return "-" if v is None else spec % v


def cell(sc, s):
    """One MTA's summary as a short text, for history.md."""
    if s is None:
        return "-"
    if sc == "6":
        return "%.0f KiB/conn" % s["kib_per_conn"]
    if sc == "7":
        return "p50 %.1f ms, p99 %.1f ms @ %.0f/s" % (
            s["median_ms"], s["p99_ms"], s["offered_rate"])
    return "%.1f msg/s, %.2f ms CPU, %.0f/%.0f MiB RSS/PSS" % (
        s["rate"], s["cpu_ms_per_msg"], s["peak_rss_mb"], s["peak_pss_mb"])


def report(results, meta):
    now = datetime.datetime.now(datetime.timezone.utc)
    mtas = [m for m in ("postfix", "postfix-ifd0", "posthorn") if m in MTAS]
    table = []
    for sc, by in results.items():
        row = {"sc": sc, "scenario": NAMES.get(sc, sc)}
        first = next(iter(by.values()))[0]
        row["messages"] = first.get("msgs", first.get("conns"))
        for m in mtas:
            row[m] = summarize(sc, by[m]) if m in by else None
        row["ratio"] = ratio(row, "postfix")
        row["ratio_ifd0"] = ratio(row, "postfix-ifd0")
        table.append(row)
    out = []
    thr = [t for t in table if t["sc"] not in KEY]
    if thr:
        cols = ["%-26s" % "scenario"]
        cols += ["%9s" % (SHORT[m] + " msg/s") for m in mtas]
        cols += ["%7s" % "ph/pf", "%7s" % "ph/pf0"]
        cols += ["%10s" % (SHORT[m] + " cpu ms") for m in mtas]
        cols += ["%13s" % (SHORT[m] + " rss/pss") for m in mtas]
        out.append(" ".join(cols))
        for t in thr:
            c = ["%-26s" % t["scenario"]]
            c += ["%9s" % fmt(t[m] and t[m]["rate"], "%.1f") for m in mtas]
            c += ["%7s" % fmt(t["ratio"], "%.2f"),
                  "%7s" % fmt(t["ratio_ifd0"], "%.2f")]
            c += ["%10s" % fmt(t[m] and t[m]["cpu_ms_per_msg"], "%.3f")
                  for m in mtas]
            c += ["%13s" % ("-" if not t[m] else "%.0f/%.0f MiB" % (
                t[m]["peak_rss_mb"], t[m]["peak_pss_mb"])) for m in mtas]
            out.append(" ".join(c))
    for t in table:
        if t["sc"] == "6":
            out.append("")
            out.append("%s (%d connections; PSS of the whole process tree "
                       "while held, minus before, / conns)" % (
                           t["scenario"], t["messages"]))
            for m in mtas:
                s_ = t[m]
                if s_:
                    out.append("  %-13s %8.1f KiB/conn  (gross %.1f, smtpd "
                               "processes only %.1f; %d/%d alive at end)" % (
                                   m, s_["kib_per_conn"],
                                   s_["kib_per_conn_gross"],
                                   s_["smtpd_kib_per_conn"],
                                   s_["alive_at_end"], t["messages"]))
            out.append("  posthorn/postfix: %s" % fmt(t["ratio"], "%.2f"))
        if t["sc"] == "7":
            out.append("")
            out.append("%s (250 after DATA -> file in new/)" % t["scenario"])
            for m in mtas:
                s_ = t[m]
                if s_:
                    out.append("  %-13s median %7.2f ms  p99 %7.2f ms  max "
                               "%7.2f ms  offered %.0f msgs/s  missing %d  "
                               "cpu %.3f ms/msg" % (
                                   m, s_["median_ms"], s_["p99_ms"],
                                   s_["max_ms"], s_["offered_rate"],
                                   s_["missing"], s_["cpu_ms_per_msg"]))
            out.append("  posthorn/postfix p99: %s" % fmt(t["ratio"],
                                                          "%.2f"))
    out.append("")
    out.append("git %s; load average %s at start, %s at end" % (
        meta["git"], meta["loadavg_at_start"], meta["loadavg_at_end"]))
    print("\n".join(out))
    doc = {"date": now.isoformat(timespec="seconds"), "git": meta["git"],
           "runs": RUNS, "messages": N, "sendmail_messages": N_SENDMAIL,
           "idle_connections": IDLE_CONNS,
           "latency": {"rate": LAT_RATE, "seconds": LAT_SECONDS,
                       "sessions": LAT_SESSIONS},
           "mtas": mtas, "cpus": os.cpu_count(), "table": table,
           "loadavg_at_start": meta["loadavg_at_start"],
           "loadavg_at_end": meta["loadavg_at_end"],
           "workdir": meta.get("workdir"),
           "notes": "medians over runs; rates are end to end (files in new/ "
                    "or counted by smtp-sink with the queue empty); CPU is "
                    "the daemons' user+sys; peak RSS/PSS are the largest "
                    "sampled sums over the daemons (RSS counts shared pages "
                    "once per process, PSS shares them out); scenario 6: "
                    "(PSS of master and all descendants with the sessions "
                    "held - PSS before) / sessions; scenario 7: ms from the "
                    "250 to the end of DATA until the file is in new/; "
                    "ratio = posthorn / postfix (msgs/s, KiB per "
                    "connection, p99 ms), ratio_ifd0 = posthorn / "
                    "postfix-ifd0"}
    rdir = RESULTS_DIR
    os.makedirs(rdir, exist_ok=True)
    with open(os.path.join(rdir, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    hist = os.path.join(rdir, "history.md")
    header = ("| date (UTC) | git | load 1m start/end | N | runs | scenario |"
              " Postfix | Postfix in_flow_delay=0 | posthorn | ph/pf | "
              "ph/pf0 |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    try:
        with open(hist) as f:
            old = f.read()
    except FileNotFoundError:
        old = None
    with open(hist, "a") as f:
        if old is None:
            f.write("# Benchmark history\n\nOne row per scenario per "
                    "`make bench` run (medians; see latest.json for the "
                    "runs).\n")
        if old is None or header.split("\n")[0] not in old:
            f.write("\n## From %s: git revision, load and in_flow_delay=0 "
                    "column\n\nPer MTA: msgs/s, CPU ms per message, peak "
                    "RSS/PSS (1-5); PSS KiB per idle connection (6); "
                    "latency median/p99 and offered rate (7). Ratios are "
                    "posthorn over Postfix (for 6 and 7 lower is "
                    "better).\n\n" % now.strftime("%Y-%m-%d") + header)
        for t in table:
            n = t["messages"]
            f.write("| %s | %s | %.2f/%.2f | %s | %d | %s | %s | %s | %s | "
                    "%s | %s |\n" % (
                        now.strftime("%Y-%m-%d %H:%M"), meta["git"][:12] + (
                            "-dirty" if meta["git"].endswith("-dirty")
                            else ""),
                        meta["loadavg_at_start"][0],
                        meta["loadavg_at_end"][0], n, RUNS, t["scenario"],
                        cell(t["sc"], t.get("postfix")),
                        cell(t["sc"], t.get("postfix-ifd0")),
                        cell(t["sc"], t.get("posthorn")),
                        fmt(t["ratio"], "%.2f"),
                        fmt(t["ratio_ifd0"], "%.2f")))


def strace_count(n):
    """Per-message syscall counts on each MTA's path for scenario 1:
    strace -f -c attached to every daemon after startup, n messages."""
    root = tempfile.mkdtemp(prefix="posthorn-bench-strace-")
    os.chmod(root, 0o755)
    sink = Sink(root)
    insts = []
    out = {}
    try:
        insts = [PostfixInst(root, sink.port), PosthornInst(root, sink.port)]
        for inst in insts:
            inst.start()
            time.sleep(1)
            pids = tree(proc_table(), inst.master_pid())
            res = os.path.join(root, "strace-%s.txt" % inst.name)
            args = ["strace", "-f", "-c", "-o", res]
            for p in pids:
                args += ["-p", str(p)]
            tr = subprocess.Popen(args, stderr=subprocess.DEVNULL)
            time.sleep(1)
            base = count_files(inst.new)
            run([SMTP_SOURCE, "-s", "20", "-m", str(n), "-l", "4096",
                 "-f", "sender@src.test", "-t", RCPT,
                 "127.0.0.1:%d" % inst.port], timeout=600)
            end = time.monotonic() + 600
            while count_files(inst.new) - base < n and \
                    time.monotonic() < end:
                time.sleep(0.05)
            time.sleep(0.5)
            tr.send_signal(2)
            tr.wait(60)
            calls = {}
            with open(res) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) >= 5 and fields[-1].isidentifier() and \
                            fields[3].isdigit() and fields[-1] != "total":
                        calls[fields[-1]] = int(fields[3])
            out[inst.name] = calls
            inst.stop()
    finally:
        for i in insts:
            i.stop()
        sink.stop()
        shutil.rmtree(root, ignore_errors=True)
    names = sorted(set(out.get("postfix", {})) | set(out.get("posthorn", {})),
                   key=lambda k: -(out.get("posthorn", {}).get(k, 0)))
    print("syscalls per message, scenario 1 (%d messages), strace -f -c"
          % n)
    print("%-20s %10s %10s" % ("syscall", "postfix", "posthorn"))
    tot = {"postfix": 0, "posthorn": 0}
    for k in names:
        a = out.get("postfix", {}).get(k, 0)
        b = out.get("posthorn", {}).get(k, 0)
        tot["postfix"] += a
        tot["posthorn"] += b
        if (a + b) / n >= 0.05:
            print("%-20s %10.2f %10.2f" % (k, a / n, b / n))
    print("%-20s %10.2f %10.2f" % ("total", tot["postfix"] / n,
                                   tot["posthorn"] / n))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--strace"]:
        strace_count(int(sys.argv[2]) if len(sys.argv) > 2 else 500)
    else:
        main()
