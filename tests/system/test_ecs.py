"""EDNS Client Subnet (RFC 7871) on the running signpostd: dig +subnet sees one address per
client prefix and its option echoed with a scope; malformed options get FORMERR; a real
unbound with its subnet cache hands clients in many prefixes first addresses that follow the
weights; and a [[service]] without instances sets TTL and answer limit for heartbeat
instances.

Weights 1:2:3:4. The per-prefix choice is a hash, not a draw, so every figure here is the
same on every run; the chi-square bound (p = 0.001 for 3 degrees of freedom) is only there
to say what "follows the weights" means.
"""

import os
import select
import socket
import struct
import sys
import time
import unittest

import dns.edns
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

import harness

# The resolver starters live with the resolver benchmark, next to the other four.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from resolver_weighting import UnboundSubnet, a_queries  # noqa: E402

CHI2_P001_3DOF = 16.266
WEIGHTS = {"10.7.0.1": 1, "10.7.0.2": 2, "10.7.0.3": 3, "10.7.0.4": 4}
SECRET = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="
WEB = {"name": "web", "port": 80, "instances": [
    {"id": f"web-{i}", "node": f"web-node-{i}", "addresses": [address], "weight": weight}
    for i, (address, weight) in enumerate(WEIGHTS.items(), start=1)]}
# Settings only: its instances come by heartbeat.
SETTINGS_ONLY = '[[service]]\nname = "api"\nttl = 0\nanswer_limit = 1\n'
KEYS = f'[[key]]\nname = "agent-key"\nalgorithm = "hmac-sha256"\nsecret = "{SECRET}"\n'


def chi_square(counts, weights):
    total = sum(counts.get(a, 0) for a in weights)
    weight_sum = sum(weights.values())
    return sum((counts.get(a, 0) - total * w / weight_sum) ** 2 / (total * w / weight_sum)
               for a, w in weights.items())


def ecs_query(name, rdtype, data):
    return dns.message.make_query(name, rdtype, use_edns=0,
                                  options=[dns.edns.GenericOption(8, data)])


def ecs_option(message):
    """(family, source, scope, address octets) of the response's ECS option, or None."""
    for option in message.options:
        if option.otype == 8:
            data = option.to_wire()
            family, source, scope = struct.unpack("!HBB", data[:4])
            return family, source, scope, data[4:]
    return None


def first_addresses(port, name, sources, window=64, timeout=3.0):
    """The first A record of the answer to `name` asked of 127.0.0.1:`port` from each source
    address (a socket bound to it), up to `window` at once; one try each, None for none."""
    out = {}
    pending = {}
    queue = list(sources)
    deadline = time.monotonic() + timeout + len(queue) * 0.01
    try:
        while (queue or pending) and time.monotonic() < deadline:
            while queue and len(pending) < window:
                source = queue.pop()
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((source, 0))
                s.sendto(dns.message.make_query(name, "A").to_wire(), (harness.LOOPBACK, port))
                pending[s] = source
            ready, _, _ = select.select(list(pending), [], [], 0.5)
            for s in ready:
                source = pending.pop(s)
                response = dns.message.from_wire(s.recv(65535))
                rrsets = [r for r in response.answer if r.rdtype == dns.rdatatype.A]
                out[source] = str(list(rrsets[0])[0]) if rrsets else None
                s.close()
    finally:
        for s in pending:
            s.close()
    return out


class EcsTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.http_port = harness.free_port()
        cls.SERVER_ARGS = {"extra": harness.render_services([WEB]) + SETTINGS_ONLY + KEYS +
                           f'[http]\nlisten = ["{harness.LOOPBACK}:{cls.http_port}"]\n'}
        super().setUpClass()
        if not harness.wait_for(lambda: cls.metrics_reachable(), timeout=harness.START_TIMEOUT):
            raise AssertionError("no /metrics:\n" + cls.server.log()[-3000:])

    @classmethod
    def metrics_reachable(cls):
        try:
            a_queries(cls.http_port)
            return True
        except OSError:
            return False

    def dig_subnet(self, subnet, rdtype="A", name="web.svc.internal."):
        text = harness.run(["dig", f"@{harness.LOOPBACK}", "-p", str(self.port), "+norecurse",
                            "+time=2", "+tries=2", f"+subnet={subnet}", name, rdtype]).stdout
        return text, harness.parse_dig(text)

    def test_dig_subnet_gets_one_address_and_the_option_with_its_scope(self):
        text, result = self.dig_subnet("198.51.100.0/24")
        self.assertEqual(result.status, "NOERROR", text)
        self.assertEqual(len(result.rdata()), 1, text)
        self.assertIn(result.rdata()[0], WEIGHTS)
        self.assertIn("CLIENT-SUBNET: 198.51.100.0/24/24", text)
        # The same prefix gets the same address, from any host in it.
        for host in ("198.51.100.7/32", "198.51.100.200/32"):
            text, other = self.dig_subnet(host)
            self.assertEqual(other.rdata(), result.rdata(), text)
            self.assertIn(f"CLIENT-SUBNET: {host}/24", text)

    def test_answers_that_suit_every_client_have_scope_zero(self):
        for name, rdtype in (("_web._tcp.svc.internal.", "SRV"), ("nope.svc.internal.", "A"),
                             ("www.example.test.", "A")):
            text, _ = self.dig_subnet("198.51.100.0/24", rdtype, name)
            self.assertIn("CLIENT-SUBNET: 198.51.100.0/24/0", text, name)

    def test_malformed_options_get_formerr(self):
        for data in (b"\x00\x01\x18", b"\x00\x03\x08\x00\x0a", b"\x00\x01\x18\x08\xc6\x33\x64",
                     b"\x00\x01\x18\x00\xc6\x33", b"\x00\x01\x14\x00\xc6\x33\x6f"):
            response = harness.ask_udp(self.port, ecs_query("web.svc.internal.", "A", data))
            self.assertIsNotNone(response)
            self.assertEqual(response.rcode(), dns.rcode.FORMERR, data.hex())
            self.assertIsNone(ecs_option(response))

    def test_shares_of_prefixes_follow_the_weights(self):
        counts = {}
        for p in range(2048):
            data = struct.pack("!HBB3s", 1, 24, 0, bytes([10, p >> 8, p & 0xFF]))
            response = harness.ask_udp(self.port, ecs_query("web.svc.internal.", "A", data))
            self.assertEqual(ecs_option(response), (1, 24, 24, bytes([10, p >> 8, p & 0xFF])))
            (address,) = [str(r) for r in response.answer[0]]
            counts[address] = counts.get(address, 0) + 1
        self.assertEqual(set(counts), set(WEIGHTS))
        self.assertLess(chi_square(counts, WEIGHTS), CHI2_P001_3DOF, counts)

    def test_through_unbound_first_addresses_follow_the_weights(self):
        resolver = UnboundSubnet(self.port)
        try:
            resolver.start()
            # 2,000 clients, each in a /24 of its own: 127.a.b.1.
            sources = [f"127.{1 + p // 250}.{p % 250}.1" for p in range(2000)]
            first = first_addresses(resolver.port, "web.svc.internal.", sources)
            answered = [a for a in first.values() if a is not None]
            self.assertGreaterEqual(len(answered), 1990, resolver.log()[-2000:])
            counts = {}
            for address in answered:
                counts[address] = counts.get(address, 0) + 1
            self.assertLess(chi_square(counts, WEIGHTS), CHI2_P001_3DOF, counts)
            # Clients in one /24 share its cache entry and its address: no upstream query
            # while it lasts (TTL 5; the second round is asked well within it).
            before = a_queries(self.http_port)
            again = first_addresses(resolver.port, "web.svc.internal.",
                                    [s[:-1] + "77" for s in sources[:50]])
            upstream = a_queries(self.http_port) - before
            for source in sources[:50]:
                self.assertEqual(again[source[:-1] + "77"], first[source], source)
            self.assertLessEqual(upstream, 5, "the subnet cache should have answered")
        finally:
            resolver.stop()
            resolver.cleanup()

    def test_a_settings_only_service_shapes_heartbeat_instances(self):
        keyring = dns.tsigkeyring.from_text({"agent-key": SECRET})
        update = dns.update.UpdateMessage("svc.internal.", keyring=keyring, keyname="agent-key",
                                          keyalgorithm=dns.tsig.HMAC_SHA256)
        for i in range(1, 4):
            update.add(f"api-{i}._api._tcp", 30, "SRV", f"0 {i} 8080 api-node-{i}.node.svc.internal.")
            update.add(f"api-{i}._api._tcp", 30, "TXT", '"health=passing"')
            update.add(f"api-node-{i}.node", 30, "A", f"10.8.0.{i}")
            update.add("_api._tcp", 30, "PTR", f"api-{i}._api._tcp.svc.internal.")
        response = dns.query.udp(update, harness.LOOPBACK, port=self.port, timeout=2)
        self.assertEqual(response.rcode(), dns.rcode.NOERROR)

        def answer():
            message = harness.ask_udp(self.port, harness.query_message("api.svc.internal.", "A"))
            return message.answer[0] if message is not None and message.answer else None

        self.assertTrue(harness.wait_for(lambda: answer() is not None, timeout=5))
        seen = set()
        for _ in range(60):
            rrset = answer()
            self.assertEqual(len(rrset), 1)  # answer_limit = 1 from [[service]]
            self.assertEqual(rrset.ttl, 0)   # ttl = 0 from [[service]]
            seen.add(str(list(rrset)[0]))
        self.assertEqual(seen, {"10.8.0.1", "10.8.0.2", "10.8.0.3"})


if __name__ == "__main__":
    unittest.main()
