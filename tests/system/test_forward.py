"""Forwarding of names outside every served zone to upstream resolvers ([forward]).

An unbound on loopback is the upstream: it serves example.org. from local data and refuses
everything else, so nothing leaves the machine. Checked with dnspython (0x20-mixed case,
raw IDs), dig and c-ares: answers come back with RA, the client's ID and question case;
NXDOMAIN passes through; a closed first upstream is skipped; with every upstream down the
client gets SERVFAIL within timeout_ms while our own zones are answered meanwhile; a TCP
client is forwarded; an answer too big for UDP comes back truncated and whole over TCP;
RD=0 and forwarding off give REFUSED. Clients outside [forward] allow (sent from other
loopback addresses) get REFUSED with RA clear, over UDP, TCP and from dig, while clients
inside it are forwarded and everyone gets our own zones.
"""

import socket
import threading
import time
import unittest
import urllib.request

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.tsig

from harness import (LOOPBACK, Server, ask_tcp, ask_udp, cares_query, dig, frame, free_port,
                     query_message, read_framed, tcp_connect, udp_exchange)
from resolvers import Unbound

# Loopback addresses other than LOOPBACK, to send from: Linux answers all of 127.0.0.0/8.
SECOND_CLIENT = "127.0.0.2"
THIRD_CLIENT = "127.0.0.3"

KEY_NAME = "query-key"
KEY_SECRET = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="

# 40 A records: about 700 octets, over the 512 a client without EDNS takes.
BIG_COUNT = 40

# What the upstream serves, in unbound's server: clause: example.org. from local data, every
# other name refused, so that it never sends a query anywhere.
UPSTREAM_DATA = """    minimal-responses: yes
    local-zone: "." refuse
    local-zone: "example.org." static
    local-data: "example.org. 300 IN SOA ns.example.org. admin.example.org. 1 3600 600 86400 60"
    local-data: "example.org. 300 IN MX 10 mail.example.org."
    local-data: "www.example.org. 300 IN A 192.0.2.10"
    local-data: "www.example.org. 300 IN AAAA 2001:db8::10"
""" + "".join(f'    local-data: "big.example.org. 300 IN A 198.51.100.{i}"\n'
              for i in range(1, BIG_COUNT + 1))


def start_upstream():
    """A started unbound on a free loopback port that forwards nothing and serves
    UPSTREAM_DATA."""
    return Unbound(None, validate=False, extra=UPSTREAM_DATA,
                   ready_question=("www.example.org.", "A")).start()


def closed_port():
    """A loopback port nothing listens on: a query there gets ICMP port unreachable."""
    return free_port()


def forwarding(servers, timeout_ms=2000, extra=""):
    listed = ", ".join(f'"{server}"' for server in servers)
    return {"extra": f"[forward]\nservers = [{listed}]\ntimeout_ms = {timeout_ms}\n{extra}",
            "server": {"threads": 1}}


def metric(port, name):
    """The value of an unlabelled sample on signpostd's /metrics."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"/metrics has no {name}")


def question_bytes(wire):
    """The question name as sent, octet for octet (it starts at offset 12)."""
    end = 12
    while wire[end] != 0:
        end += wire[end] + 1
    return wire[12:end + 1]


class ForwardingServer:
    """For a test case: one upstream and one signpostd forwarding to it, with /metrics on
    `http_port`. FORWARD is more of the [forward] table, EXTRA more of the config."""

    FORWARD = ""
    EXTRA = ""

    @classmethod
    def setUpClass(cls):
        cls.upstream = start_upstream()
        cls.http_port = free_port()
        cls.server = Server(**forwarding([f"{LOOPBACK}:{cls.upstream.port}"], extra=(
            f'{cls.FORWARD}[http]\nlisten = ["{LOOPBACK}:{cls.http_port}"]\n{cls.EXTRA}')))
        try:
            cls.server.start()
        except BaseException:
            cls.upstream.stop()
            cls.upstream.cleanup()
            cls.server.cleanup()
            raise
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        log = cls.server.log()
        cls.server.cleanup()
        cls.upstream.stop()
        cls.upstream.cleanup()
        if code != 0:
            raise AssertionError(f"signpostd exited with status {code}; log:\n{log[-4000:]}")


class ForwardingTest(ForwardingServer, unittest.TestCase):
    """One upstream, one signpostd forwarding to it."""

    EXTRA = f'[[key]]\nname = "{KEY_NAME}"\nsecret = "{KEY_SECRET}"\n'

    def forwarded(self, name, rdtype, **kwargs):
        query = query_message(name, rdtype, **kwargs)
        wire = udp_exchange(self.port, query.to_wire(), timeout=3.0)
        self.assertIsNotNone(wire, f"no response to {name} {rdtype}")
        response = dns.message.from_wire(wire)
        self.assertEqual(response.id, query.id)
        self.assertEqual(question_bytes(wire), question_bytes(query.to_wire()),
                         "the question's letter case was not restored")
        self.assertTrue(response.flags & dns.flags.RA, "RA clear on a forwarded answer")
        return response

    def test_a_aaaa_and_mx_come_back_with_the_clients_id_and_case(self):
        for rdtype, expected in (("A", "192.0.2.10"), ("AAAA", "2001:db8::10")):
            response = self.forwarded("wWw.ExAmPlE.oRg.", rdtype)
            self.assertEqual(response.rcode(), dns.rcode.NOERROR)
            self.assertEqual([r.to_text() for rrset in response.answer for r in rrset],
                             [expected])
        response = self.forwarded("eXaMpLe.OrG.", "MX", use_edns=0)
        # The exchange's name is compressed against the question, so it takes its case.
        self.assertEqual([r.to_text().lower() for rrset in response.answer for r in rrset],
                         ["10 mail.example.org."])

    def test_nxdomain_is_passed_back(self):
        response = self.forwarded("NoSuch.example.org.", "A")
        self.assertEqual(response.rcode(), dns.rcode.NXDOMAIN)

    def test_tcp_client_is_forwarded(self):
        query = query_message("Www.Example.Org.", "A")
        response = ask_tcp(self.port, query)
        self.assertIsNotNone(response)
        self.assertEqual(response.id, query.id)
        self.assertTrue(response.flags & dns.flags.RA)
        self.assertEqual([r.to_text() for rrset in response.answer for r in rrset],
                         ["192.0.2.10"])

    def test_pipelined_tcp_queries_beyond_the_per_connection_limit_are_all_answered(self):
        # 100 queries on one connection: more than the 64 one connection may have upstream at
        # once, so the rest wait for answers to come back before they are read.
        queries = [query_message("www.example.org.", "A") for _ in range(100)]
        for number, query in enumerate(queries):
            query.id = number
        with tcp_connect(self.port, timeout=5.0) as connection:
            connection.sendall(b"".join(frame(query.to_wire()) for query in queries))
            seen = set()
            for _ in queries:
                wire = read_framed(connection, timeout=5.0)
                self.assertIsNotNone(wire, f"answers stopped after {len(seen)}")
                response = dns.message.from_wire(wire)
                self.assertEqual(response.rcode(), dns.rcode.NOERROR)
                seen.add(response.id)
        self.assertEqual(seen, set(range(100)))

    def test_too_big_for_udp_is_truncated_and_whole_over_tcp(self):
        query = query_message("big.example.org.", "A")  # no EDNS: 512 octets
        response = ask_udp(self.port, query, timeout=3.0)
        self.assertIsNotNone(response)
        self.assertTrue(response.flags & dns.flags.TC, "an answer over 512 octets was not cut")
        self.assertEqual(response.answer, [])
        # dig sees TC and asks again over TCP, where the whole answer comes.
        result = dig(self.port, "big.example.org", "A", "+noedns")
        self.assertEqual(result.status, "NOERROR", result.text)
        self.assertEqual(len(result.rdata(rtype="A")), BIG_COUNT, result.text)
        self.assertIn("ra", result.flags)

    def test_cares_resolves_through_signpostd(self):
        code, lines = cares_query(self.port, "www.example.org", "A")
        self.assertEqual(code, 0, lines)
        self.assertTrue(any("192.0.2.10" in line for line in lines), lines)
        self.assertTrue(any(line.startswith("flags") and " ra" in line for line in lines), lines)

    def test_metrics_count_forwarded_queries(self):
        before = metric(self.http_port, "signpost_forward_queries_total")
        self.forwarded("www.example.org.", "A")
        self.assertEqual(metric(self.http_port, "signpost_forward_queries_total"), before + 1)
        self.assertEqual(metric(self.http_port, "signpost_forward_dropped_total"), 0)

    def test_without_recursion_desired_other_names_are_refused(self):
        response = ask_udp(self.port, query_message("www.example.org.", "A", want_rd=False))
        self.assertIsNotNone(response)
        self.assertEqual(response.rcode(), dns.rcode.REFUSED)
        self.assertTrue(response.flags & dns.flags.RA)

    def test_signed_query_for_another_name_is_refused_signed(self):
        # Its answer would need our key, which no upstream has: refused, and signed.
        key = dns.tsig.Key(KEY_NAME + ".", KEY_SECRET, dns.tsig.HMAC_SHA256)
        query = query_message("www.example.org.", "A")
        query.use_tsig(key)
        wire = udp_exchange(self.port, query.to_wire(), timeout=3.0)
        self.assertIsNotNone(wire, "a signed query for another name got no response")
        response = dns.message.from_wire(wire, keyring={key.name: key}, request_mac=query.mac)
        self.assertEqual(response.rcode(), dns.rcode.REFUSED)
        self.assertTrue(response.had_tsig)

    def test_every_loopback_client_is_forwarded_by_default(self):
        # No allow key: 127.0.0.0/8 and ::1 may use the forwarder.
        for source in (LOOPBACK, THIRD_CLIENT):
            query = query_message("www.example.org.", "A")
            wire = udp_exchange(self.port, query.to_wire(), timeout=3.0, source=source)
            self.assertIsNotNone(wire, f"no response to a client at {source}")
            response = dns.message.from_wire(wire)
            self.assertEqual(response.rcode(), dns.rcode.NOERROR, source)
            self.assertEqual([r.to_text() for rrset in response.answer for r in rrset],
                             ["192.0.2.10"], source)

    def test_our_zones_are_answered_here_with_ra(self):
        response = ask_udp(self.port, query_message("www.example.test.", "A"))
        self.assertIsNotNone(response)
        self.assertEqual(response.rcode(), dns.rcode.NOERROR)
        self.assertTrue(response.flags & dns.flags.AA)
        self.assertTrue(response.flags & dns.flags.RA)
        self.assertTrue(response.answer)


class AccessTest(ForwardingServer, unittest.TestCase):
    """A signpostd that forwards for 127.0.0.2 only: 127.0.0.1 is outside."""

    FORWARD = f'allow = ["{SECOND_CLIENT}/32"]\n'

    def ask_from(self, source, name):
        query = query_message(name, "A")
        wire = udp_exchange(self.port, query.to_wire(), timeout=3.0, source=source)
        self.assertIsNotNone(wire, f"no response to {name} from {source}")
        response = dns.message.from_wire(wire)
        self.assertEqual(response.id, query.id)
        return response

    def test_the_allowed_client_is_forwarded(self):
        response = self.ask_from(SECOND_CLIENT, "www.example.org.")
        self.assertEqual(response.rcode(), dns.rcode.NOERROR)
        self.assertTrue(response.flags & dns.flags.RA)
        self.assertEqual([r.to_text() for rrset in response.answer for r in rrset],
                         ["192.0.2.10"])

    def test_other_clients_are_refused_with_ra_clear_and_never_forwarded(self):
        before = metric(self.http_port, "signpost_forward_queries_total")
        refused_before = metric(self.http_port, "signpost_forward_refused_total")
        for source in (LOOPBACK, THIRD_CLIENT):
            response = self.ask_from(source, "www.example.org.")
            self.assertEqual(response.rcode(), dns.rcode.REFUSED, source)
            self.assertFalse(response.flags & dns.flags.RA, source)
            self.assertEqual(response.answer, [])
        query = query_message("www.example.org.", "A")
        with tcp_connect(self.port, timeout=3.0, source=LOOPBACK) as connection:
            connection.sendall(frame(query.to_wire()))
            wire = read_framed(connection, timeout=3.0)
        self.assertIsNotNone(wire, "no response over TCP")
        response = dns.message.from_wire(wire)
        self.assertEqual(response.rcode(), dns.rcode.REFUSED)
        self.assertFalse(response.flags & dns.flags.RA)
        self.assertEqual(metric(self.http_port, "signpost_forward_queries_total"), before)
        # Three refused for forward.allow: two over UDP, one over TCP.
        self.assertEqual(metric(self.http_port, "signpost_forward_refused_total"),
                         refused_before + 3)

    def test_dig_from_outside_is_told_recursion_is_not_available(self):
        refused = dig(self.port, "www.example.org", "A", "-b", LOOPBACK)
        self.assertEqual(refused.status, "REFUSED", refused.text)
        self.assertNotIn("ra", refused.flags)
        self.assertIn("recursion requested but not available", refused.text)
        allowed = dig(self.port, "www.example.org", "A", "-b", SECOND_CLIENT)
        self.assertEqual(allowed.status, "NOERROR", allowed.text)
        self.assertIn("ra", allowed.flags)
        self.assertEqual(allowed.rdata(rtype="A"), ["192.0.2.10"], allowed.text)

    def test_our_zones_are_answered_for_every_client(self):
        for source in (LOOPBACK, SECOND_CLIENT):
            response = self.ask_from(source, "www.example.test.")
            self.assertEqual(response.rcode(), dns.rcode.NOERROR, source)
            self.assertTrue(response.flags & dns.flags.AA, source)
            self.assertTrue(response.answer, source)


class FailoverTest(unittest.TestCase):
    """Upstreams that are down: a closed port first, then unbound; and none that answers."""

    @classmethod
    def setUpClass(cls):
        cls.upstream = start_upstream()
        # Bound and never read: an upstream that does not answer at all.
        cls.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.silent.bind((LOOPBACK, 0))
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for server in cls.servers:
            server.stop()
            server.cleanup()
        cls.silent.close()
        cls.upstream.stop()
        cls.upstream.cleanup()

    def start_server(self, **kwargs):
        server = Server(**kwargs)
        self.servers.append(server)
        server.start()
        return server

    def test_a_closed_first_upstream_is_skipped(self):
        server = self.start_server(**forwarding(
            [f"{LOOPBACK}:{closed_port()}", f"{LOOPBACK}:{self.upstream.port}"]))
        response = ask_udp(server.port, query_message("www.example.org.", "A"), timeout=3.0)
        self.assertIsNotNone(response)
        self.assertEqual(response.rcode(), dns.rcode.NOERROR)
        self.assertEqual([r.to_text() for rrset in response.answer for r in rrset],
                         ["192.0.2.10"])

    def test_servfail_in_time_when_every_upstream_is_down_and_our_zone_still_answers(self):
        timeout_ms = 1500
        silent = f"{LOOPBACK}:{self.silent.getsockname()[1]}"
        server = self.start_server(**forwarding([f"{LOOPBACK}:{closed_port()}", silent],
                                                timeout_ms=timeout_ms))
        outcome = {}

        def ask_forwarded():
            started = time.monotonic()
            outcome["response"] = ask_udp(server.port, query_message("www.example.org.", "A"),
                                          timeout=5.0)
            outcome["seconds"] = time.monotonic() - started

        asker = threading.Thread(target=ask_forwarded)
        asker.start()
        try:
            # While that query waits on the silent upstream, our own zone is answered.
            response = ask_udp(server.port, query_message("www.example.test.", "A"), timeout=2.0)
            self.assertIsNotNone(response)
            self.assertEqual(response.rcode(), dns.rcode.NOERROR)
            self.assertTrue(asker.is_alive(), "the forwarded query did not wait for its upstreams")
        finally:
            asker.join(timeout=10)
        response = outcome.get("response")
        self.assertIsNotNone(response, "no SERVFAIL: the client was left without a response")
        self.assertEqual(response.rcode(), dns.rcode.SERVFAIL)
        self.assertTrue(response.flags & dns.flags.RA)
        # The deadline is timeout_ms; one second more is slack for a loaded machine.
        self.assertLess(outcome["seconds"], timeout_ms / 1000 + 1.0)
        self.assertTrue(server.alive())

    def test_forwarding_off_refuses_other_names(self):
        server = self.start_server(server={"threads": 1})
        response = ask_udp(server.port, query_message("www.example.org.", "A"))
        self.assertIsNotNone(response)
        self.assertEqual(response.rcode(), dns.rcode.REFUSED)
        self.assertFalse(response.flags & dns.flags.RA)


if __name__ == "__main__":
    unittest.main()
