"""Response rate limiting ([rrl]) under a bounded UDP flood on loopback.

One source sends 2,000 queries in about a second. With 50 responses per second per /24 and
slip 2, it gets at most 50 full answers in each second of the server's clock that the flood
touched, and about half of the rest come back truncated (TC=1, question only). Meanwhile a
client in another /24 (127.0.1.1) and the flooding address over TCP, or with a valid server
cookie, are answered in full; /metrics counts what was dropped and slipped. With [rrl] off,
every query of a smaller flood is answered.
"""

import socket
import struct
import time
import unittest
import urllib.request

import dns.edns
import dns.message
import dns.query

from harness import LOOPBACK, Server, free_port

NAME = "www.example.test."
RATE = 50
FLOOD = 2000
OTHER_SOURCE = "127.0.1.1"  # another /24 of the loopback network
TC = 0x0200
COOKIE = 10  # EDNS option code (RFC 7873 §8)


def wire_query(query_id):
    message = dns.message.make_query(NAME, "A")
    message.id = query_id
    return message.to_wire()


class Flood:
    """Sends `count` queries from `source` in ticks of `per_tick` every `tick` seconds and
    collects every response until `quiet` seconds pass without one (bounded by `limit`)."""

    def __init__(self, port, source, count, per_tick=20, tick=0.01):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sock.setblocking(False)
        self.port, self.count, self.per_tick, self.tick = port, count, per_tick, tick
        self.responses = {}
        self.first_send = self.last_send = None

    def drain(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return
            if len(data) >= 12:
                query_id, flags, _, ancount = struct.unpack(">HHHH", data[:8])
                self.responses[query_id] = (flags, ancount)

    def run(self, during=None, quiet=0.5, limit=10.0):
        self.first_send = time.time()
        sent = 0
        next_tick = time.monotonic()
        while sent < self.count:
            for _ in range(min(self.per_tick, self.count - sent)):
                self.sock.sendto(wire_query(sent), (LOOPBACK, self.port))
                sent += 1
            self.last_send = time.time()
            self.drain()
            if during is not None:
                during(sent)
            next_tick += self.tick
            time.sleep(max(0.0, next_tick - time.monotonic()))
        deadline = time.monotonic() + limit
        last = (time.monotonic(), len(self.responses))
        while time.monotonic() < deadline and time.monotonic() - last[0] < quiet:
            self.drain()
            if len(self.responses) != last[1]:
                last = (time.monotonic(), len(self.responses))
            time.sleep(0.01)
        self.sock.close()

    def windows(self):
        """Seconds of the wall clock the flood's sends touched."""
        return int(self.last_send) - int(self.first_send) + 1

    def full(self):
        return sum(1 for flags, ancount in self.responses.values() if not flags & TC and ancount)

    def truncated(self):
        return sum(1 for flags, ancount in self.responses.values() if flags & TC and not ancount)


def records(message):
    """Records in the answer section (dnspython groups them into RRsets)."""
    return sum(len(rrset) for rrset in message.answer)


def metric(http_port, name):
    with urllib.request.urlopen(f"http://{LOOPBACK}:{http_port}/metrics", timeout=5) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


class RateLimitTest(unittest.TestCase):
    def test_flood_is_limited_per_prefix_and_others_are_answered(self):
        http_port = free_port()
        extra = (f"[rrl]\nresponses_per_second = {RATE}\nslip = 2\n"
                 f'[http]\nlisten = ["{LOOPBACK}:{http_port}"]\n')
        with Server(extra=extra) as server:
            # A server cookie learned over TCP, which is never limited.
            cookie_query = dns.message.make_query(
                NAME, "A", use_edns=0, options=[dns.edns.GenericOption(COOKIE, b"\x01" * 8)])
            learned = dns.query.tcp(cookie_query, LOOPBACK, port=server.port, timeout=3)
            cookie = next(o.data for o in learned.options if o.otype == COOKIE)
            self.assertEqual(len(cookie), 24)

            checks = {"other": [], "tcp": [], "cookie": []}

            def during(sent):
                # Every 200 queries, in the middle of the flood: another /24, TCP from the
                # flooding address, and UDP from it with the valid cookie.
                if sent % 200 != 0:
                    return
                other = dns.query.udp(dns.message.make_query(NAME, "A"), LOOPBACK,
                                      port=server.port, source=OTHER_SOURCE, timeout=2)
                checks["other"].append((other.flags & TC, records(other)))
                tcp = dns.query.tcp(dns.message.make_query(NAME, "A"), LOOPBACK,
                                    port=server.port, timeout=3)
                checks["tcp"].append((tcp.flags & TC, records(tcp)))
                with_cookie = dns.message.make_query(
                    NAME, "A", use_edns=0,
                    options=[dns.edns.GenericOption(COOKIE, cookie)])
                answered = dns.query.udp(with_cookie, LOOPBACK, port=server.port,
                                         source=LOOPBACK, timeout=2)
                checks["cookie"].append((answered.flags & TC, records(answered)))

            flood = Flood(server.port, LOOPBACK, FLOOD)
            flood.run(during=during)

            windows = flood.windows()
            full, truncated = flood.full(), flood.truncated()
            report = (f"windows={windows} full={full} truncated={truncated} "
                      f"responses={len(flood.responses)}")
            # At most RATE full answers per second touched; at least the seconds wholly
            # inside the flood's span got their RATE.
            self.assertLessEqual(full, RATE * windows, report)
            self.assertGreaterEqual(full, RATE * (windows - 1), report)
            self.assertGreaterEqual(windows, 2, report)  # the flood spans about a second
            # Slip 2: every second limited response comes back truncated, the rest dropped.
            limited = FLOOD - full
            self.assertGreaterEqual(truncated, int(limited * 0.45), report)
            self.assertLessEqual(truncated, limited // 2 + windows, report)
            self.assertEqual(len(flood.responses), full + truncated, report)
            for what, results in checks.items():
                self.assertEqual(len(results), FLOOD // 200, what)
                for flags, answers in results:
                    self.assertEqual((flags, answers), (0, 2), f"{what}: {results}")

            # The server counted what it slipped and dropped. A datagram lost on a loaded
            # machine (a full socket buffer) may make the two sides differ by a little.
            dropped = metric(http_port, "signpost_dns_rate_limited_total")
            slipped = metric(http_port, "signpost_dns_rate_slipped_total")
            margin = FLOOD // 50
            self.assertLessEqual(abs(slipped - truncated), margin, (report, slipped))
            self.assertLessEqual(abs(dropped - (limited - truncated)), margin, (report, dropped))
            self.assertGreater(dropped, 0, report)

    def test_without_rrl_every_query_is_answered(self):
        with Server() as server:
            flood = Flood(server.port, LOOPBACK, 500)
            flood.run()
            self.assertEqual(flood.full(), 500)
            self.assertEqual(flood.truncated(), 0)


if __name__ == "__main__":
    unittest.main()
