"""DNS over TCP (RFC 1035 §4.2.2, RFC 7766): framing, pipelining, the idle timeout, the
connection limit, and answers far larger than any UDP payload."""

import socket
import struct
import time
import unittest

import dns.flags
import dns.message
import dns.rcode

import harness
from harness import dig, frame, kdig, read_framed, tcp_connect

HUGE_COUNT = 1500  # A records at many.huge.test.: 24 KB or more of answer


def huge_zone():
    lines = [
        "$ORIGIN huge.test.",
        "$TTL 300",
        "@ IN SOA ns.huge.test. hostmaster.huge.test. 1 3600 600 86400 300",
        "@ IN NS ns",
        "ns IN A 192.0.2.1",
    ]
    lines += [f"many IN A 10.0.{i // 256}.{i % 256}" for i in range(HUGE_COUNT)]
    return "\n".join(lines) + "\n"


HUGE_ADDRESSES = sorted(f"10.0.{i // 256}.{i % 256}" for i in range(HUGE_COUNT))


def query_wire(name, rdtype="A", query_id=None):
    q = harness.query_message(name, rdtype)
    if query_id is not None:
        q.id = query_id
    return q.to_wire()


def closed_by_peer(sock, timeout):
    """Seconds until the peer closes `sock` (EOF or reset), or None if it stays open."""
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        if not data:
            return time.monotonic() - start
    return None


class FramingTest(harness.ServerTestCase):
    SERVER_ARGS = {"extra_zones": {"huge.test.zone": huge_zone()}}

    def test_length_prefixed_response(self):
        with tcp_connect(self.port) as s:
            s.sendall(frame(query_wire("www.example.test.", query_id=77)))
            prefix = harness.recv_exact(s, 2, time.monotonic() + 3)
            self.assertIsNotNone(prefix, "no response")
            (length,) = struct.unpack("!H", prefix)
            body = harness.recv_exact(s, length, time.monotonic() + 3)
            self.assertIsNotNone(body, f"the prefix promised {length} octets")
            r = dns.message.from_wire(body)
            self.assertEqual(r.id, 77)
            self.assertEqual(sorted(rr.to_text() for rr in r.answer[0]),
                             ["192.0.2.10", "192.0.2.11"])

    def test_query_split_across_writes(self):
        wire = frame(query_wire("mx.example.test.", "MX", query_id=78))
        with tcp_connect(self.port) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for piece in (wire[:1], wire[1:2], wire[2:10], wire[10:]):
                s.sendall(piece)
                time.sleep(0.05)
            body = read_framed(s)
            self.assertIsNotNone(body, "no response to a query sent in pieces")
            r = dns.message.from_wire(body)
            self.assertEqual(r.id, 78)
            self.assertEqual(r.answer[0][0].to_text(), "10 mail.example.test.")

    def test_pipelined_queries_in_one_write(self):
        names = ["www.example.test.", "mx.example.test.", "nothere.example.test.",
                 "text.example.test.", "_http._tcp.example.test."]
        types = ["A", "MX", "A", "TXT", "SRV"]
        sent = {}
        data = b""
        for i in range(25):
            query_id = 1000 + i
            name, rdtype = names[i % len(names)], types[i % len(types)]
            sent[query_id] = (name, rdtype)
            data += frame(query_wire(name, rdtype, query_id))
        with tcp_connect(self.port) as s:
            s.sendall(data)
            got = {}
            for _ in range(len(sent)):
                body = read_framed(s, timeout=5)
                self.assertIsNotNone(body, f"only {len(got)} of {len(sent)} answers came back")
                r = dns.message.from_wire(body)
                got[r.id] = r
        self.assertEqual(set(got), set(sent), "every pipelined query gets its answer")
        for query_id, (name, rdtype) in sent.items():
            r = got[query_id]
            self.assertEqual(r.question[0].name.to_text(), name)
            expected = dns.rcode.NXDOMAIN if name.startswith("nothere") else dns.rcode.NOERROR
            self.assertEqual(r.rcode(), expected, name)

    def test_several_queries_one_after_another(self):
        with tcp_connect(self.port) as s:
            for i in range(10):
                s.sendall(frame(query_wire("www.example.test.", query_id=2000 + i)))
                body = read_framed(s)
                self.assertIsNotNone(body, f"no answer to query {i} on the same connection")
                self.assertEqual(dns.message.from_wire(body).id, 2000 + i)

    def test_answer_larger_than_16k(self):
        with tcp_connect(self.port) as s:
            s.sendall(frame(query_wire("many.huge.test.", query_id=3000)))
            body = read_framed(s, timeout=5)
        self.assertIsNotNone(body, "no answer to the huge RRset over TCP")
        self.assertGreater(len(body), 16 * 1024)
        r = dns.message.from_wire(body)
        self.assertFalse(r.flags & dns.flags.TC)
        self.assertEqual(sorted(rr.to_text() for rr in r.answer[0]), HUGE_ADDRESSES)

    def test_huge_rrset_over_udp_is_truncated(self):
        q = harness.query_message("many.huge.test.", use_edns=0, payload=4096)
        wire = harness.udp_exchange(self.port, q.to_wire())
        self.assertIsNotNone(wire)
        self.assertLessEqual(len(wire), 1232)
        self.assertTrue(dns.message.from_wire(wire).flags & dns.flags.TC)

    def test_dig_tcp_huge(self):
        r = dig(self.port, "many.huge.test", "A", "+tcp")
        self.assertEqual(r.status, "NOERROR", r.text[:2000])
        self.assertEqual(sorted(r.rdata()), HUGE_ADDRESSES)

    def test_kdig_tcp(self):
        r = kdig(self.port, "www.example.test", "A", "+tcp")
        self.assertEqual(r.status, "NOERROR", r.text)
        self.assertTrue({"qr", "aa"} <= r.flags, r.text)
        self.assertEqual(sorted(r.rdata()), ["192.0.2.10", "192.0.2.11"], r.text)
        r = kdig(self.port, "chain1.example.test", "A", "+tcp")
        self.assertEqual(r.types(), ["CNAME", "CNAME", "A", "A"], r.text)
        r = kdig(self.port, "nothere.example.test", "A", "+tcp")
        self.assertEqual(r.status, "NXDOMAIN", r.text)
        r = kdig(self.port, "many.huge.test", "A", "+tcp")
        self.assertEqual(len(r.answer), HUGE_COUNT, r.text[:2000])

    def test_client_closing_early_is_harmless(self):
        # Half a message, then close; the server must carry on.
        for cut in (1, 2, 7):
            s = tcp_connect(self.port)
            s.sendall(frame(query_wire("www.example.test."))[:cut])
            s.close()
        s = tcp_connect(self.port)
        s.sendall(frame(query_wire("www.example.test."))[:5])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # a reset
        r = harness.ask_tcp(self.port, harness.query_message("www.example.test."))
        self.assertIsNotNone(r)
        self.assertEqual(len(r.answer[0]), 2)


class IdleTimeoutTest(harness.ServerTestCase):
    SERVER_ARGS = {"server": {"tcp_idle_timeout": 1}}

    def test_idle_connection_closed(self):
        with tcp_connect(self.port) as s:
            elapsed = closed_by_peer(s, timeout=5)
        self.assertIsNotNone(elapsed, "an idle connection stayed open for 5 s with a 1 s timeout")
        self.assertGreaterEqual(elapsed, 0.5, "closed long before the idle timeout")
        self.assertLessEqual(elapsed, 3.5)

    def test_idle_after_a_query_closed(self):
        with tcp_connect(self.port) as s:
            s.sendall(frame(query_wire("www.example.test.")))
            self.assertIsNotNone(read_framed(s))
            elapsed = closed_by_peer(s, timeout=5)
        self.assertIsNotNone(elapsed, "connection stayed open after the idle timeout")
        self.assertGreaterEqual(elapsed, 0.5)
        self.assertLessEqual(elapsed, 3.5)

    def test_busy_connection_stays_open(self):
        # Queries every 0.3 s for 2.4 s: never idle for a whole second.
        with tcp_connect(self.port) as s:
            for i in range(8):
                s.sendall(frame(query_wire("www.example.test.", query_id=4000 + i)))
                body = read_framed(s)
                self.assertIsNotNone(body, f"a busy connection was closed after {i} queries")
                time.sleep(0.3)


class ConnectionLimitTest(harness.ServerTestCase):
    SERVER_ARGS = {"server": {"tcp_max_clients": 3}}

    def served(self, sock, query_id, timeout=2.0):
        try:
            sock.sendall(frame(query_wire("www.example.test.", query_id=query_id)))
        except OSError:
            return False
        body = read_framed(sock, timeout)
        return body is not None and dns.message.from_wire(body).id == query_id

    def test_fourth_connection_not_served(self):
        held = [tcp_connect(self.port) for _ in range(3)]
        try:
            for i, s in enumerate(held):
                self.assertTrue(self.served(s, 5000 + i), f"connection {i + 1} of 3 not served")
            try:
                extra = tcp_connect(self.port)
            except OSError:
                extra = None  # refused outright: also fine
            if extra is not None:
                with extra:
                    self.assertFalse(self.served(extra, 5100, timeout=1.5),
                                     "a 4th connection was served with tcp_max_clients = 3")
            # The three held connections still work.
            for i, s in enumerate(held):
                self.assertTrue(self.served(s, 5200 + i), f"held connection {i + 1} stopped")
            # Closing one makes room for another.
            held.pop().close()

            def new_connection_served():
                try:
                    with tcp_connect(self.port) as s:
                        return self.served(s, 5300, timeout=1.0)
                except OSError:
                    return False

            self.assertTrue(harness.wait_for(new_connection_served, timeout=5, interval=0.2),
                            "no room for a new connection after one closed")
        finally:
            for s in held:
                s.close()


if __name__ == "__main__":
    unittest.main()
