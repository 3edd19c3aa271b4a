"""test_handoff.py: connections kept between the daemons of the mail path
(issue 10): qmgr keeps its connection to a delivery agent for the next
request (qmgr/qmgr_conn.c, single_server_next_request) and smtpd keeps
its connection to cleanup for the next message (lib/cleanup_client.c,
cleanup/cleanup_session.c), each closed after about 2 s without use;
each request or message on a kept connection counts against max_use.

Observed from outside with iproute2's `ss -xp` (the accepted end of a
connection is the agent's or cleanup's socket, named after the service
path, with its inode) and driven by python's smtplib; the instance is
started with `posthorn init` + `start`.

Covers: two messages in a row travel over one qmgr -> virtual connection
and one smtpd -> cleanup connection (same socket inode), both closed
after the idle limit; with max_use=2 every agent process serves at most 2
requests and every cleanup process at most 2 messages, and nothing is
deferred although the kept connections end under qmgr and smtpd; kill -9
of the agent or of cleanup holding a kept connection between two messages
loses nothing and the SMTP client sees only 250s.
"""
import os
import re
import signal
import smtplib
import subprocess

from harness import PosthornTestCase, wait_for
from test_master import children_of

TIMEOUT = 30


def kept(inst, service, comm):
    """{socket inode: pid} of the established connections that comm (a
    child of the instance's master) accepted on queue/.../service."""
    pids = set(children_of(inst.master_pid(), comm))
    out = subprocess.run(["ss", "-xpnH", "state", "established"],
                         capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        words = line.split()
        # u_str  Recv-Q Send-Q  Local-path inode  Peer-path inode  users
        addr = [w for w in words
                if w == service or w.endswith("/" + service)]
        m = re.search(r'\("%s",pid=(\d+),' % re.escape(comm), line)
        if not addr or not m or int(m.group(1)) not in pids:
            continue
        inode = words[words.index(addr[0]) + 1]
        found[inode] = int(m.group(1))
    return found


class HandoffTestCase(PosthornTestCase):

    def setUp(self):
        super().setUp()
        self.inst = self.make_instance(domain="example.test")
        self.inst.posthorn("user", "add", "bob@example.test",
                           "--password-stdin", input="secret\n")

    def send(self, n=1, tag="m"):
        port = self.inst.port("smtp")
        for i in range(n):
            with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as s:
                s.sendmail("a@example.org", ["bob@example.test"],
                           ("Subject: %s%d\r\n\r\nhello\r\n"
                            % (tag, i)).encode())

    def delivered(self):
        d = os.path.join(self.inst.dir, "mail", "example.test", "bob", "new")
        try:
            return len(os.listdir(d))
        except FileNotFoundError:
            return 0

    def wait_delivered(self, n):
        self.assertTrue(wait_for(lambda: self.delivered() >= n,
                                 timeout=TIMEOUT),
                        "%d of %d delivered" % (self.delivered(), n))

    def assertNothingDeferred(self):
        log = self.inst.log()
        self.assertNotIn("status=deferred", log)
        self.assertNotIn("crashed", log)
        self.assertNotIn("protocol error", log)


class TestKeptConnections(HandoffTestCase):

    def test_next_message_uses_the_same_connections(self):
        self.inst.start()
        self.send(1, "first")
        self.wait_delivered(1)
        agent = kept(self.inst, "private/virtual", "local")
        cleanup = kept(self.inst, "public/cleanup", "cleanup")
        self.assertEqual(len(agent), 1, agent)
        self.assertEqual(len(cleanup), 1, cleanup)
        self.send(1, "second")
        self.wait_delivered(2)
        # Same sockets: the second message went over both kept
        # connections (a new connection is a new inode).
        self.assertEqual(kept(self.inst, "private/virtual", "local"), agent)
        self.assertEqual(kept(self.inst, "public/cleanup", "cleanup"),
                         cleanup)
        # Idle for ~2 s: qmgr and cleanup close them.
        self.assertTrue(wait_for(
            lambda: not kept(self.inst, "private/virtual", "local") and
            not kept(self.inst, "public/cleanup", "cleanup"), timeout=10))
        # And the next message simply connects anew.
        self.send(1, "third")
        self.wait_delivered(3)
        self.assertNothingDeferred()

    def test_max_use_counts_requests_on_a_kept_connection(self):
        self.inst.conf(max_use="2")
        # smtpd itself lives on (its kept cleanup connection would end
        # with it every 2 sessions): only cleanup's count can end it.
        path = os.path.join(self.inst.dir, "master.cf")
        with open(path) as f:
            lines = f.read().splitlines()
        port = str(self.inst.port("smtp"))
        i = [n for n, l in enumerate(lines) if l.split()[:1] == [port]][0]
        lines.insert(i + 1, "  -o max_use=100")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.inst.start()
        self.send(9)
        self.wait_delivered(9)
        pids = re.findall(r"local\[(\d+)\]: \w+: to=<bob@example\.test>",
                          self.inst.log())
        self.assertEqual(len(pids), 9)
        per_process = {p: pids.count(p) for p in set(pids)}
        self.assertLessEqual(max(per_process.values()), 2, per_process)
        # cleanup too: each message on smtpd's kept connection is a use.
        pids = re.findall(r"cleanup\[(\d+)\]: \w+: message-id=",
                          self.inst.log())
        self.assertEqual(len(pids), 9)
        per_process = {p: pids.count(p) for p in set(pids)}
        self.assertLessEqual(max(per_process.values()), 2, per_process)
        self.assertNothingDeferred()


class TestKilledWhileKept(HandoffTestCase):

    def kill_holder_then_send(self, service, comm, n):
        """One message, kill -9 the process holding the kept connection
        on service, then n more: all delivered, none deferred (smtplib
        raises on anything but 2xx/3xx, so the SMTP client saw no trace
        of the dead connection either)."""
        self.inst.start()
        self.send(1)
        self.wait_delivered(1)
        (pid,) = kept(self.inst, service, comm).values()
        os.kill(pid, signal.SIGKILL)
        self.send(n, "after")
        self.wait_delivered(1 + n)
        self.assertNothingDeferred()

    def test_agent_killed_between_messages(self):
        self.kill_holder_then_send("private/virtual", "local", 1)

    def test_cleanup_killed_between_messages(self):
        self.kill_holder_then_send("public/cleanup", "cleanup", 3)
