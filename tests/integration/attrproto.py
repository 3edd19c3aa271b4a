"""attrproto.py: a minimal client of posthorn's internal attribute
protocol (docs/ipc.md), for integration tests that talk to a daemon's
UNIX socket directly (bounce, delivery agents, cleanup).

    from attrproto import Client, encode, decode
    c = Client("/path/queue/private/bounce")
    c.send([("request", "bounce"), ("queue_id", qid), ...])
    reply = c.reply()          # dict name -> str (first value), or None
    c.close()

Values may be str, bytes or int (sent as decimal text). Replies are
decoded as UTF-8 with errors replaced; reply_pairs() keeps bytes and
duplicates.
"""
import socket
import struct

MAGIC = 0xA1


def encode(pairs):
    """One message from (name, value) pairs."""
    out = bytearray([MAGIC])
    for name, value in pairs:
        if isinstance(value, int):
            value = str(value)
        if isinstance(value, str):
            value = value.encode()
        name = name.encode()
        if not 1 <= len(name) <= 255:
            raise ValueError("bad attribute name length")
        out.append(len(name))
        out += name
        out += struct.pack(">I", len(value))
        out += value
    out.append(0)
    return bytes(out)


def decode(data):
    """One message from the start of data: (list of (name, bytes) pairs,
    bytes used), or None when data holds only part of it. ValueError on a
    bad magic byte."""
    if not data:
        return None
    if data[0] != MAGIC:
        raise ValueError("bad magic %r" % data[:1])
    pos, pairs = 1, []
    while True:
        if pos >= len(data):
            return None
        nlen = data[pos]
        pos += 1
        if nlen == 0:
            return pairs, pos
        if pos + nlen + 4 > len(data):
            return None
        name = data[pos:pos + nlen].decode()
        pos += nlen
        (vlen,) = struct.unpack(">I", data[pos:pos + 4])
        pos += 4
        if pos + vlen > len(data):
            return None
        pairs.append((name, data[pos:pos + vlen]))
        pos += vlen


class Client:
    """One connection to a daemon's UNIX socket."""

    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, pairs):
        self.sock.sendall(encode(pairs))

    def send_raw(self, data):
        self.sock.sendall(data)

    def reply_pairs(self):
        """The next message as a list of (name, bytes), or None when the
        peer closed (or reset) the connection first."""
        while True:
            got = decode(self.buf)
            if got is not None:
                pairs, used = got
                self.buf = self.buf[used:]
                return pairs
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self.buf += chunk

    def reply(self):
        """The next message as a dict (first value of each name, text),
        or None."""
        pairs = self.reply_pairs()
        if pairs is None:
            return None
        out = {}
        for k, v in pairs:
            out.setdefault(k, v.decode(errors="replace"))
        return out

    def close(self):
        self.sock.close()
