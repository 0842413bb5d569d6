"""Malformed input over the network: at least 10,000 mutated or random packets over UDP
and 10,000 framed messages over TCP (with broken framing too), after which signpostd
must still run and answer correctly. Every response seen on the way must be a
well-formed DNS response. Seeded, so a failure can be replayed."""

import random
import select
import socket
import struct
import time
import unittest

import dns.edns
import dns.exception
import dns.message

import harness
from harness import frame
from test_dns_basics import WEB_SERVICE

SEED = 20261128
UDP_PACKETS = 12_000
TCP_MESSAGES = 12_000
UDP_BATCH = 200            # packets sent before reading what came back
TCP_CHUNK = 50             # framed messages per write on one connection
TCP_PER_CONNECTION = 500   # messages before the connection ends, with broken framing
QUIET = 0.02               # seconds without a response that end a drain
TIME_BUDGET = 50           # seconds for both floods together
MAX_LOG_BYTES = 64 * 1024  # the data plane never logs per packet

QUESTIONS = [
    ("www.example.test.", "A"), ("www.example.test.", "AAAA"), ("mx.example.test.", "MX"),
    ("text.example.test.", "TXT"), ("_http._tcp.example.test.", "SRV"),
    ("chain1.example.test.", "A"), ("foo.wild.example.test.", "TXT"), ("b.example.test.", "A"),
    ("nothere.example.test.", "A"), ("www.sub.example.test.", "A"), ("big.example.test.", "A"),
    ("unknown.example.test.", "TYPE65280"), ("example.test.", "ANY"), ("example.test.", "NS"),
    ("svc.internal.", "SOA"), ("web.svc.internal.", "A"), ("_web._tcp.svc.internal.", "SRV"),
    ("node-1.node.svc.internal.", "AAAA"), ("www.elsewhere.invalid.", "A"),
]


def seed_messages():
    """Valid queries in several shapes: with and without EDNS, options, DO, odd case."""
    out = []
    for name, rdtype in QUESTIONS:
        out.append(harness.query_message(name, rdtype).to_wire())
        out.append(harness.query_message(name.upper(), rdtype, use_edns=0, payload=4096,
                                         want_dnssec=True).to_wire())
        q = harness.query_message(name, rdtype, use_edns=0, payload=1232,
                                  options=[dns.edns.GenericOption(65001, b"\x01\x02")])
        out.append(q.to_wire())
    return out


def flip_bits(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return bytes(data)


def truncate(rng, data):
    return data[:rng.randrange(len(data))]


def random_bytes(rng, data):
    return rng.randbytes(rng.randrange(0, 600))


def random_header(rng, data):
    return rng.randbytes(12) + data[12:]


def bad_pointer(rng, data):
    data = bytearray(data)
    i = rng.randrange(12, len(data))
    pointer = 0xC000 | rng.choice([0, 12, i, i + 2, len(data), rng.randrange(0x4000)])
    data[i:i + 2] = struct.pack("!H", pointer)
    return bytes(data)


def bad_label_length(rng, data):
    data = bytearray(data)
    data[12 + rng.randrange(min(8, len(data) - 12))] = rng.choice([0x3F, 0x40, 0x80, 0xBF, 0xFF])
    return bytes(data)


def huge_counts(rng, data):
    counts = [rng.choice([0, 1, 2, 0x7FFF, 0xFFFF, rng.randrange(0x10000)]) for _ in range(4)]
    return data[:4] + struct.pack("!HHHH", *counts) + data[12:]


def append_garbage(rng, data):
    return data + rng.randbytes(rng.randrange(1, 64))


def repeat_body(rng, data):
    return data + data[12:] * rng.randint(1, 3)


def odd_opcode_or_flags(rng, data):
    flags = rng.randrange(0x10000) & ~0x8000  # keep QR clear so it reaches the ladder
    return data[:2] + struct.pack("!H", flags) + data[4:]


MUTATIONS = [flip_bits, truncate, random_bytes, random_header, bad_pointer, bad_label_length,
             huge_counts, append_garbage, repeat_body, odd_opcode_or_flags]


def mutated(rng, seeds):
    data = rng.choice(seeds)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if len(data) < 13:
            data = rng.choice(seeds)
        data = rng.choice(MUTATIONS)(rng, data)
    return data


class ResponseChecker:
    """Every response must be a DNS response that parses."""

    def __init__(self):
        self.responses = 0
        self.bad = []

    def check(self, wire):
        self.responses += 1
        problem = None
        if len(wire) < 12:
            problem = "shorter than a header"
        elif not wire[2] & 0x80:
            problem = "QR clear"
        elif (wire[2] >> 3) & 0x0F in (0, 1, 2, 4, 5):
            try:
                dns.message.from_wire(wire)
            except (dns.exception.DNSException, ValueError) as e:
                problem = f"does not parse: {e!r}"
        if problem is not None and len(self.bad) < 5:
            self.bad.append(f"{problem}: {wire[:64].hex()}")


class RobustnessTest(harness.ServerTestCase):
    SERVER_ARGS = {"extra": WEB_SERVICE, "server": {"tcp_idle_timeout": 2}}

    def setUp(self):
        self.rng = random.Random(SEED)
        self.seeds = seed_messages()
        self.checker = ResponseChecker()
        self.deadline = time.monotonic() + TIME_BUDGET

    def assert_still_serving(self):
        self.assertTrue(self.server.alive(), "signpostd died\n" + self.server.log()[-4000:])
        for options in ((), ("+tcp",)):
            r = harness.dig(self.port, "www.example.test", "A", *options)
            self.assertEqual(r.status, "NOERROR", r.text)
            self.assertEqual(sorted(r.rdata()), ["192.0.2.10", "192.0.2.11"], r.text)
        r = harness.dig(self.port, "chain1.example.test", "A")
        self.assertEqual(r.types(), ["CNAME", "CNAME", "A", "A"], r.text)
        self.assertEqual(self.checker.bad, [], "malformed responses seen")
        size = len(self.server.log().encode())
        self.assertLess(size, MAX_LOG_BYTES, "signpostd logged per packet:\n"
                        + self.server.log()[-2000:])

    # UDP.

    def drain_udp(self, sockets):
        """Reads responses until none came for QUIET seconds."""
        for _ in range(100_000):
            ready, _, _ = select.select(sockets, [], [], QUIET)
            if not ready:
                return
            for s in ready:
                try:
                    self.checker.check(s.recv(65535))
                except (BlockingIOError, ConnectionRefusedError):
                    pass

    def test_udp_flood(self):
        sockets = []
        for _ in range(4):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            s.connect((harness.LOOPBACK, self.port))
            sockets.append(s)
        try:
            sent = 0
            while sent < UDP_PACKETS and time.monotonic() < self.deadline:
                for i in range(UDP_BATCH):
                    try:
                        sockets[i % len(sockets)].send(mutated(self.rng, self.seeds))
                    except (BlockingIOError, ConnectionRefusedError):
                        pass
                    sent += 1
                self.drain_udp(sockets)
                if not self.server.alive():
                    break
        finally:
            for s in sockets:
                s.close()
        self.assertGreaterEqual(sent, UDP_PACKETS, "ran out of time")
        self.assertGreater(self.checker.responses, UDP_PACKETS // 20,
                           "hardly any responses came back")
        self.assert_still_serving()

    # TCP.

    def tcp_chunk(self, count):
        """`count` well-framed messages, most of them mutated."""
        parts = []
        for _ in range(count):
            if self.rng.random() < 0.9:
                message = mutated(self.rng, self.seeds) or b"\x00"
            else:
                message = self.rng.choice(self.seeds)
            parts.append(frame(message))
        return b"".join(parts)

    def bad_framing(self):
        """How a connection ends: broken framing of one kind or another."""
        kind = self.rng.randrange(5)
        if kind == 0:
            return struct.pack("!H", 0)  # an empty frame
        if kind == 1:
            # A length a little off, then more frames: the stream loses its framing.
            message = self.rng.choice(self.seeds)
            wrong = max(1, len(message) + self.rng.choice([-9, -3, -1, 1, 3, 9]))
            return struct.pack("!H", wrong) + message + self.tcp_chunk(10)
        if kind == 2:
            return b"\xff\xff" + self.rng.randbytes(100)  # promises 65,535 octets
        if kind == 3:
            return frame(self.rng.choice(self.seeds))[:7]  # stops inside a frame
        return b"\x00"  # half a length

    def exchange_tcp(self, sock, data, buffer):
        """Writes `data` while reading responses; returns False when the server closed."""
        sock.setblocking(False)
        view = memoryview(data)
        quiet_since = None
        limit = time.monotonic() + 5
        while time.monotonic() < limit:
            writers = [sock] if view else []
            readable, writable, _ = select.select([sock], writers, [], QUIET)
            if writable:
                try:
                    view = view[sock.send(view):]
                except BlockingIOError:
                    pass
                except OSError:
                    return False
            if readable:
                quiet_since = None
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    return False
                if not chunk:
                    return False
                buffer.extend(chunk)
                self.take_frames(buffer)
            elif not view:
                if quiet_since is None:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= QUIET:
                    return True
        return True

    def take_frames(self, buffer):
        while len(buffer) >= 2:
            (length,) = struct.unpack("!H", buffer[:2])
            if len(buffer) < 2 + length:
                return
            self.checker.check(bytes(buffer[2:2 + length]))
            del buffer[:2 + length]

    def test_tcp_flood(self):
        delivered = 0  # messages on connections the server kept open until they were read
        connections = 0
        while delivered < TCP_MESSAGES and time.monotonic() < self.deadline:
            sock = harness.tcp_connect(self.port)
            connections += 1
            buffer = bytearray()
            try:
                for _ in range(TCP_PER_CONNECTION // TCP_CHUNK):
                    if not self.exchange_tcp(sock, self.tcp_chunk(TCP_CHUNK), buffer):
                        break  # the server closed it: count nothing of this chunk
                    delivered += TCP_CHUNK
                else:
                    self.exchange_tcp(sock, self.bad_framing(), buffer)
            finally:
                sock.close()
            if not self.server.alive():
                break
        self.assertGreaterEqual(delivered, TCP_MESSAGES, "ran out of time or the server "
                                f"closed connections early ({connections} connections)")
        self.assertGreater(self.checker.responses, TCP_MESSAGES // 20,
                           "hardly any responses came back")
        self.assertGreater(connections, 1)
        self.assert_still_serving()


if __name__ == "__main__":
    unittest.main()
