"""peers.py: the outside world of the smtp client tests, on loopback.

- DnsServer: a real DNS server (dnsmasq) on 127.0.0.1:<free port> with a
  config file of its own (--no-resolv, --no-hosts, local=/test/ so that
  unknown names under .test are NXDOMAIN), MX records (--mx-host, the
  null MX as "mx-host=d,.,0") and A/AAAA records (--host-record). It can
  be stopped and started again on the same port.
- ScriptedPeer: a small SMTP server (python stdlib, one thread per
  connection) bound to 127.0.0.N:port whose answers a test scripts: the
  greeting, the EHLO keywords, per-RCPT replies, stalls. It records each
  connection and each message (envelope, parameters, raw DATA bytes).
- SmtpSink: Postfix's smtp-sink (package postfix, test-only) for fast
  acceptance and counting sessions and messages.

Every server here binds to a 127.0.0.0/8 address only and stops itself
when the test ends.
"""
import os
import re
import shutil
import socket
import subprocess
import threading
import time

from harness import wait_port

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def stop_process(proc):
    """Terminate a child, kill it when it does not go within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def port_free_on(addrs, port):
    for addr in addrs:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((addr, port))
            except OSError:
                return False
            finally:
                s.close()
    return True


def free_port_on(addrs):
    """A port free for TCP and UDP on every address of addrs."""
    import random
    for _ in range(200):
        port = random.randint(20000, 60000)
        if port_free_on(addrs, port):
            return port
    raise RuntimeError("no free port")


class DnsServer:
    """dnsmasq serving the records given, on 127.0.0.1:port."""

    def __init__(self, workdir, mx=(), hosts=(), port=None):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.port = port or free_port_on(["127.0.0.1"])
        self.conf = os.path.join(workdir, "dnsmasq.conf")
        self.log = os.path.join(workdir, "dnsmasq.log")
        lines = ["no-resolv", "no-hosts", "port=%d" % self.port,
                 "listen-address=127.0.0.1", "bind-interfaces",
                 "local=/test/", "log-queries",
                 "log-facility=%s" % self.log, "user=root"]
        for domain, host, pref in mx:
            lines.append("mx-host=%s,%s,%d" % (domain, host, pref))
        for name, addrs in hosts:
            lines.append("host-record=%s,%s" % (name, ",".join(addrs)))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.proc = subprocess.Popen(
            [DNSMASQ, "--keep-in-foreground", "--conf-file=" + self.conf,
             "--pid-file="],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_port(self.port, timeout=10):
            err = self.proc.stderr.read() if self.proc.poll() is not None \
                else b""
            self.stop()
            raise RuntimeError("dnsmasq did not start: %r" % err)

    def stop(self):
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc.stderr.close()
        self.proc = None


class LineReader:
    """Lines from a socket, with a look at what is already buffered."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = b""

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def buffered(self):
        return len(self.buf)

    def close(self):
        pass


class Message:
    def __init__(self):
        self.mail_from = None
        self.mail_args = ""
        self.rcpts = []        # (address, args)
        self.data = b""


class ScriptedPeer:
    """A scripted SMTP server on (addr, port).

    Options (attributes, set before or while running):
      greeting      reply line(s) to the connection ("220 ..." default)
      ehlo_ok       False: answer EHLO with 502 (the client must HELO)
      keywords      EHLO keywords after the first line
      rcpt_reply    fn(address, index_in_transaction, message) -> reply
                    line or None for "250 2.1.5 Ok"
      data_reply    reply after the final dot
      stall         "greeting", "data": never answer at that point
    """

    def __init__(self, addr, port, keywords=("PIPELINING", "SIZE 10240000",
                                             "8BITMIME", "DSN",
                                             "ENHANCEDSTATUSCODES"),
                 greeting="220 peer.test ESMTP scripted"):
        self.addr, self.port = addr, port
        self.greeting = greeting
        self.ehlo_ok = True
        self.keywords = list(keywords)
        self.rcpt_reply = None
        self.data_reply = "250 2.0.0 Ok: queued as PEER%d"
        self.stall = None
        self.connections = 0
        self.quits = 0
        self.clients = []
        self.helos = []
        self.messages = []
        self.pipelined = []    # per transaction: RCPT/DATA already sent
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _accept(self):
        while not self.stopping:
            try:
                conn, client = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.clients.append(client[0])
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(30)
        f = LineReader(conn)

        def send(text):
            conn.sendall((text + "\r\n").encode())

        try:
            if self.stall == "greeting":
                while not self.stopping and f.readline():
                    pass
                return
            send(self.greeting)
            if self.greeting.startswith(("4", "5")):
                # RFC 5321 3.1: the client QUITs (or just goes).
                line = f.readline()
                if line.upper().startswith(b"QUIT"):
                    send("221 2.0.0 Bye")
                return
            msg = None
            while not self.stopping:
                line = f.readline()
                if not line:
                    return
                cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    self.helos.append(cmd)
                    if not self.ehlo_ok:
                        send("502 5.5.2 Error: command not recognized")
                        continue
                    lines = ["peer.test"] + self.keywords
                    for k in lines[:-1]:
                        send("250-" + k)
                    send("250 " + lines[-1])
                elif verb == "HELO":
                    self.helos.append(cmd)
                    send("250 peer.test")
                elif verb == "MAIL":
                    msg = Message()
                    m = re.match(r"MAIL FROM:<([^>]*)>(.*)", cmd, re.I)
                    msg.mail_from = m.group(1) if m else None
                    msg.mail_args = m.group(2).strip() if m else ""
                    # RFC 2920: with PIPELINING the RCPTs and DATA come
                    # in the same packet; note whether they are here.
                    self.pipelined.append(f.buffered() > 0)
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    m = re.match(r"RCPT TO:<([^>]*)>(.*)", cmd, re.I)
                    addr = m.group(1) if m else ""
                    reply = None
                    if self.rcpt_reply and msg is not None:
                        reply = self.rcpt_reply(addr, len(msg.rcpts), msg)
                    if msg is None:
                        send("503 5.5.1 Error: need MAIL command")
                    elif reply is None or reply.startswith("2"):
                        msg.rcpts.append((addr, m.group(2).strip()))
                        send(reply or "250 2.1.5 Ok")
                    else:
                        msg.rcpts.append((addr, "REJECTED"))
                        send(reply)
                elif verb == "DATA":
                    ok = [r for r in (msg.rcpts if msg else [])
                          if r[1] != "REJECTED"]
                    if not ok:
                        send("554 5.5.1 Error: no valid recipients")
                        continue
                    send("354 End data with <CR><LF>.<CR><LF>")
                    data = bytearray()
                    while True:
                        l = f.readline()
                        if not l:
                            return
                        if l == b".\r\n":
                            break
                        data += l
                    msg.data = bytes(data)
                    msg.rcpts = ok
                    with self.lock:
                        self.messages.append(msg)
                        n = len(self.messages)
                    if self.stall == "data":
                        time.sleep(60)
                        return
                    send(self.data_reply % n if "%d" in self.data_reply
                         else self.data_reply)
                    msg = None
                elif verb == "RSET":
                    msg = None
                    send("250 2.0.0 Ok")
                elif verb == "NOOP":
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    with self.lock:
                        self.quits += 1
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("502 5.5.2 Error: command not recognized")
        except OSError:
            pass
        finally:
            try:
                f.close()
                conn.close()
            except OSError:
                pass


class SmtpSink:
    """Postfix's smtp-sink on addr:port; counts sessions and messages."""

    def __init__(self, workdir, addr, port, options=()):
        self.out = os.path.join(workdir, "smtp-sink.out")
        self.fout = open(self.out, "wb")
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", "nobody", "-c"] + list(options) +
            ["%s:%d" % (addr, port), "256"],
            stdout=self.fout, stderr=subprocess.STDOUT)
        if not wait_port(port, host=addr, timeout=10):
            self.stop()
            raise RuntimeError("smtp-sink did not start")
        # wait_port's probe connection may count as a session.
        time.sleep(0.3)
        self.probe_sessions = 0
        self.probe_sessions = self.counters()[0]

    def counters(self):
        """(sessions, messages) from smtp-sink's last counter line."""
        with open(self.out, "rb") as f:
            text = f.read().decode(errors="replace")
        last = re.findall(r"sess=(\d+) quit=\d+ mesg=(\d+)", text)
        if not last:
            return 0, 0
        s, m = last[-1]
        return int(s) - self.probe_sessions, int(m)

    def stop(self):
        stop_process(self.proc)
        self.fout.close()
