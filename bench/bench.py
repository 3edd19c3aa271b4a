#!/usr/bin/env python3
"""bench.py: posthorn side by side with a private Postfix instance.

Both MTAs run from a temporary directory on loopback ports; nothing outside
that directory is touched (the Postfix instance has its own
config_directory, queue_directory and data_directory and is stopped at the
end). Scenarios (numbering of issue 10):

  1  smtp-source -s 20 -m N -l 4096 -> virtual Maildir, 1 recipient
  2  as 1 with -r 5 (5 recipients per message)
  3  as 1 with -l 102400 (100 KiB)
  4  smtp-source -> MTA -> smtp-sink (relay), until the queue is empty
  5  BENCH_SENDMAIL submissions through each MTA's sendmail, one by one

End to end: the clock starts before the first connection and stops when the
last message file is in new/ (or smtp-sink has counted it and the queue is
empty). CPU is the user+sys of the MTA's daemons (the master process and its
descendants, including reaped children through cutime/cstime), sampled from
/proc. Peak RSS is the largest sum of RSS over those processes seen by the
sampler (every 100 ms; PSS every second).

Environment: BENCH_MESSAGES (10000), BENCH_SENDMAIL (2000), BENCH_RUNS (3),
BENCH_SCENARIOS ("1 4 5"; "1 2 3 4 5" for all), BENCH_KEEP=1 keeps the temporary directory.
"""
import datetime
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
BIN = os.path.join(TOP, "build", "bin")
POSTHORN = os.path.join(BIN, "posthorn")
PH_SENDMAIL = os.path.join(BIN, "sendmail")
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
PF_SENDMAIL = "/usr/sbin/sendmail"

N = int(os.environ.get("BENCH_MESSAGES", "10000"))
N_SENDMAIL = int(os.environ.get("BENCH_SENDMAIL", "2000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SCENARIOS = os.environ.get("BENCH_SCENARIOS", "1 4 5").split()
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


def clear_dir(d):
    if os.path.isdir(d):
        for name in os.listdir(d):
            try:
                os.unlink(os.path.join(d, name))
            except OSError:
                pass


def queue_files(qdir, subdirs):
    n = 0
    for sub in subdirs:
        for _root, _dirs, files in os.walk(os.path.join(qdir, sub)):
            n += len(files)
    return n


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

    def snapshot(self):
        t = proc_table()
        pids = tree(t, self.master)
        rss = sum(t[p][2] for p in pids)
        self.peak_rss = max(getattr(self, "peak_rss", 0), rss)
        self.ticks = getattr(self, "ticks", 0) + 1
        if self.ticks % 10 == 1:
            self.peak_pss = max(getattr(self, "peak_pss", 0), pss(pids))
        return {p: t[p][1] for p in pids}

    def run(self):
        while not self.stop_ev.wait(0.1):
            self.snapshot()

    def finish(self):
        self.stop_ev.set()
        self.join()
        end = self.snapshot()
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
                  "relay_domains=relay.test",
                  "transport_maps=inline:{relay.test = smtp:[127.0.0.1]:%d}"
                  % sink_port)
        for u in [USER] + EXTRA_USERS:
            run([POSTHORN, "-c", self.dir, "user", "add",
                 "%s@%s" % (u, DOMAIN), "--password-stdin"],
                input="benchpass\n")
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
    name = "postfix"

    def __init__(self, root, sink_port):
        self.root = os.path.join(root, "postfix")
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
        }
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
                    fields[4] = "n"
                    line = " ".join(fields[:8]) + " " + \
                        " ".join(fields[8:]) + "\n"
                out.append(line)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.writelines(out)
        self.new = os.path.join(self.vmail, DOMAIN, USER, "new")
        self.extra_new = [os.path.join(self.vmail, DOMAIN, u, "new")
                          for u in EXTRA_USERS]
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


def main():
    for tool in (POSTHORN, SMTP_SOURCE, SMTP_SINK, POSTFIX):
        if not os.path.exists(tool):
            sys.exit("bench: missing %s (make all; make deps)" % tool)
    root = tempfile.mkdtemp(prefix="posthorn-bench-")
    os.chmod(root, 0o755)
    sink = Sink(root)
    insts = []
    results = {}
    try:
        pf = PostfixInst(root, sink.port)
        ph = PosthornInst(root, sink.port)
        insts = [pf, ph]
        for i in insts:
            i.start()
        for sc in SCENARIOS:
            for r in range(RUNS):
                order = insts if r % 2 == 0 else insts[::-1]
                for inst in order:
                    res = one_run(inst, sc, sink, root)
                    log("scenario %s run %d %-8s %s" % (sc, r + 1, inst.name,
                                                      res))
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
    report(results)


NAMES = {"1": "1 smtp 4KiB -> Maildir", "2": "2 smtp 4KiB x5 rcpt",
         "3": "3 smtp 100KiB -> Maildir", "4": "4 relay -> smtp-sink",
         "5": "5 sendmail -> Maildir"}


def summarize(runs):
    return {"rate": statistics.median(r["rate"] for r in runs),
            "cpu_ms_per_msg": statistics.median(r["cpu_ms_per_msg"]
                                                for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "peak_pss_mb": max(r["peak_pss_mb"] for r in runs),
            "runs": runs}


def report(results):
    now = datetime.datetime.now(datetime.timezone.utc)
    table = []
    for sc, by in results.items():
        pf, ph = summarize(by["postfix"]), summarize(by["posthorn"])
        table.append({
            "scenario": NAMES.get(sc, sc),
            "messages": by["postfix"][0]["msgs"],
            "postfix": pf, "posthorn": ph,
            "ratio": round(ph["rate"] / pf["rate"], 2) if pf["rate"] else None,
        })
    hdr = ("%-26s %9s %9s %6s %8s %8s %8s %8s %8s %8s" % (
        "scenario", "pf msg/s", "ph msg/s", "ratio", "pf cpu", "ph cpu",
        "pf rss", "ph rss", "pf pss", "ph pss"))
    lines = [hdr, "%-26s %9s %9s %6s %8s %8s %8s %8s %8s %8s" % (
        "", "", "", "", "ms/msg", "ms/msg", "MiB", "MiB", "MiB", "MiB")]
    for t in table:
        lines.append("%-26s %9.1f %9.1f %6.2f %8.3f %8.3f %8.1f %8.1f "
                     "%8.1f %8.1f" % (
            t["scenario"], t["postfix"]["rate"], t["posthorn"]["rate"],
            t["ratio"] or 0, t["postfix"]["cpu_ms_per_msg"],
            t["posthorn"]["cpu_ms_per_msg"], t["postfix"]["peak_rss_mb"],
            t["posthorn"]["peak_rss_mb"], t["postfix"]["peak_pss_mb"],
            t["posthorn"]["peak_pss_mb"]))
    print("\n".join(lines))
    doc = {"date": now.isoformat(timespec="seconds"), "runs": RUNS,
           "messages": N, "sendmail_messages": N_SENDMAIL,
           "cpus": os.cpu_count(), "table": table,
           "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
           "notes": "medians over runs; rates are end to end (files in new/ "
                    "or counted by smtp-sink with the queue empty); CPU is "
                    "the daemons' user+sys; peak RSS/PSS are the largest sampled "
                    "sums over the daemons (RSS counts shared pages once per "
                    "process, PSS shares them out)"}
    rdir = os.path.join(HERE, "results")
    os.makedirs(rdir, exist_ok=True)
    with open(os.path.join(rdir, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    hist = os.path.join(rdir, "history.md")
    new = not os.path.exists(hist)
    with open(hist, "a") as f:
        if new:
            f.write("# Benchmark history\n\nOne row per scenario per "
                    "`make bench` run (medians; see latest.json for the "
                    "runs).\n\n| date (UTC) | N | runs | scenario | Postfix "
                    "msgs/s | posthorn msgs/s | ratio | Postfix CPU ms/msg |"
                    " posthorn CPU ms/msg | Postfix peak RSS MiB | posthorn "
                    "peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|"
                    "---|---|\n")
        for t in table:
            f.write("| %s | %d | %d | %s | %.1f | %.1f | %.2f | %.3f | %.3f |"
                    " %.1f | %.1f |\n" % (
                        now.strftime("%Y-%m-%d %H:%M"), t["messages"], RUNS,
                        t["scenario"], t["postfix"]["rate"],
                        t["posthorn"]["rate"], t["ratio"] or 0,
                        t["postfix"]["cpu_ms_per_msg"],
                        t["posthorn"]["cpu_ms_per_msg"],
                        t["postfix"]["peak_rss_mb"],
                        t["posthorn"]["peak_rss_mb"]))


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
