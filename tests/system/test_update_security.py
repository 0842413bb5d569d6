"""UPDATEs as an attacker holding one key would send them.

The real signpostd; dnspython and nsupdate send the UPDATEs, dnspython and dig look at the
answers. Each test names the defect it guards against: node addresses injected by a key
allowed another service, a flood of heavy UPDATEs stalling answers or other clients, an
UPDATE replacing a static registration, replayed UPDATEs, no quota, and a TTL that outlives
the lease.
"""

import select
import socket
import struct
import time
import unittest

import dns.edns
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.renderer
import dns.tsig
import dns.tsigkeyring
import dns.update

from harness import LOOPBACK, Server, ask_udp, query_message, render_services, wait_for

ZONE = "svc.internal."
WEB_SECRET = "d2ViIG9ubHkga2V5IGZvciB0ZXN0cyAwMTIzNDU2Nzg5YWI="
DB_SECRET = "ZGIgb25seSBrZXkgZm9yIHRlc3RzIDAxMjM0NTY3ODlhYmM="
BULK_SECRET = "YnVsayBrZXkgZm9yIHRlc3RzIDAxMjM0NTY3ODlhYmNkZWY="

WEB_KEY = dns.tsig.Key("web-key.", WEB_SECRET, dns.tsig.HMAC_SHA256)
OTHER_CLIENT = "127.0.0.2"  # another loopback address to send from

KEYS = f"""
[health]
min_lease = 1
max_lease = 600

[[key]]
name = "web-key"
secret = "{WEB_SECRET}"
allow = ["web"]
max_instances = 3

[[key]]
name = "db-key"
secret = "{DB_SECRET}"
allow = ["db"]

[[key]]
name = "bulk-key"
secret = "{BULK_SECRET}"
allow = ["bulk"]
max_instances = 100000
"""

STATIC_WEB1 = render_services([{
    "name": "web", "port": 8080,
    "instances": [{"id": "web-1", "node": "static-1", "addresses": ["192.0.2.21"], "weight": 3}],
}])


def update(key_name, secret, build, lease=None):
    keyring = dns.tsigkeyring.from_text({key_name: secret})
    message = dns.update.UpdateMessage(ZONE, keyring=keyring, keyname=key_name,
                                       keyalgorithm=dns.tsig.HMAC_SHA256)
    build(message)
    if lease is not None:
        message.use_edns(0, options=[dns.edns.GenericOption(2, struct.pack("!I", lease))])
    return message


def signed(key, wire, message_id):
    """An unsigned message's `wire` with ID `message_id`, signed with `key` (a dns.tsig.Key;
    TSIG, RFC 8945 §4). dnspython signs; a flood of distinct UPDATEs is made by changing the
    bytes of one rendered message, as rendering 180 prerequisites takes dnspython 7 ms."""
    (flags, qdcount, ancount, nscount, arcount) = struct.unpack("!5H", wire[2:12])
    renderer = dns.renderer.Renderer(id=message_id, flags=flags)
    renderer.output.write(wire[12:])
    renderer.counts = [qdcount, ancount, nscount, arcount]
    renderer.write_header()  # the header is signed too
    renderer.add_tsig(key.name, key, 300, message_id, 0, b"", b"", key.algorithm)
    renderer.write_header()
    return renderer.get_wire()


def send_raw(port, wire, timeout=3.0):
    """Sends wire bytes over UDP; returns the response's rcode (None without one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.sendto(wire, (LOOPBACK, port))
        data, _ = sock.recvfrom(65535)
    except socket.timeout:
        return None
    finally:
        sock.close()
    return data[3] & 0x0F


def address(index):
    return f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"


def rrset(port, name, qtype, section="answer", rdtype=None):
    """The records of type `rdtype` (default: the qtype) in a section of the answer."""
    response = ask_udp(port, query_message(name, qtype))
    if response is None:
        return None
    out = set()
    for found in getattr(response, section):
        if found.rdtype == dns.rdatatype.from_text(rdtype or qtype):
            out.update(r.to_text() for r in found)
    return out


class Flood:
    """One client's flood of UPDATEs (`wires`, IDs 0 to len - 1) on one socket, at most
    `window` ahead of their answers, with a query after every `probe_every` UPDATEs once the
    window is full; halfway, another client (OTHER_CLIENT) sends the UPDATE `other` and a
    query. Records the probes as (query ID, ID of the UPDATE sent just before it), the order
    in which the flood socket's answers came ({ID: position}), the flood's rcodes, and for
    the other client {"update"/"query": (response, flood UPDATEs unanswered then)}."""

    def __init__(self, port, wires, other, window, probe_every):
        self.wires, self.other, self.window, self.probe_every = wires, other, window, probe_every
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.socket.connect((LOOPBACK, port))
        self.other_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other_socket.bind((OTHER_CLIENT, 0))
        self.other_socket.connect((LOOPBACK, port))
        self.probe_wire = query_message("n7.node.svc.internal", "A").to_wire()
        self.sent = 0
        self.probes, self.arrival, self.rcodes = [], {}, {}
        self.other_sent, self.seen_by_other = {}, {}

    def close(self):
        self.socket.close()
        self.other_socket.close()

    def done(self):
        return (len(self.rcodes) == len(self.wires)
                and len(self.arrival) == len(self.wires) + len(self.probes)
                and len(self.seen_by_other) == len(self.other_sent))

    def send_ahead(self):
        """Sends UPDATEs (and the probes and the other client's messages due) while fewer
        than `window` wait for an answer."""
        while self.sent < len(self.wires) and self.sent - len(self.rcodes) < self.window:
            self.socket.send(self.wires[self.sent])
            self.sent += 1
            # Probes once the window is full: each has `window` UPDATEs ahead of it.
            if self.sent >= self.window and self.sent % self.probe_every == 0:
                query_id = len(self.wires) + len(self.probes)
                self.socket.send(struct.pack("!H", query_id) + self.probe_wire[2:])
                self.probes.append((query_id, self.sent - 1))
            if self.sent == len(self.wires) // 2:
                self.send_other()

    def send_other(self):
        other_query = query_message("n8.node.svc.internal", "A")
        for kind, wire in (("update", self.other.to_wire()), ("query", other_query.to_wire())):
            self.other_socket.send(wire)
            self.other_sent[kind] = struct.unpack("!H", wire[:2])[0]

    def receive(self, timeout):
        """Reads the answers that came, waiting at most `timeout` seconds for one."""
        ready, _, _ = select.select([self.socket, self.other_socket], [], [], timeout)
        if self.socket in ready:
            data = self.socket.recv(65535)
            response_id = struct.unpack("!H", data[:2])[0]
            self.arrival.setdefault(response_id, len(self.arrival))
            if response_id < len(self.wires):
                self.rcodes[response_id] = data[3] & 0x0F
        if self.other_socket in ready:
            data = self.other_socket.recv(65535)
            for kind, message_id in self.other_sent.items():
                if struct.unpack("!H", data[:2])[0] == message_id:
                    self.seen_by_other[kind] = (data, self.sent - len(self.rcodes))


class UpdateSecurityTest(unittest.TestCase):
    SERVICES = ""

    def setUp(self):
        self.server = Server(extra=KEYS + self.SERVICES)
        self.server.start()
        self.port = self.server.port

    def tearDown(self):
        code = self.server.stop()
        log = self.server.log()
        self.server.cleanup()
        self.assertEqual(code, 0, "signpostd did not stop cleanly; log:\n" + log[-3000:])

    def udp(self, message):
        return dns.query.udp(message, LOOPBACK, port=self.port, timeout=3)

    def tcp(self, message):
        return dns.query.tcp(message, LOOPBACK, port=self.port, timeout=10)


class NodeInjectionTest(UpdateSecurityTest):
    def test_a_web_key_cannot_add_an_address_to_a_db_node(self):
        def db1(m):
            m.add("db-1._db._tcp", 30, "SRV", "0 1 5432 db-host-1.node.svc.internal.")
            m.add("db-host-1.node", 30, "A", "127.0.0.5")
        self.assertEqual(self.udp(update("db-key", DB_SECRET, db1)).rcode(), dns.rcode.NOERROR)

        def inject(m):
            m.add("web-1._web._tcp", 30, "SRV", "0 1 80 db-host-1.node.svc.internal.")
            m.add("db-host-1.node", 30, "A", "6.6.6.6")
        self.assertEqual(self.udp(update("web-key", WEB_SECRET, inject)).rcode(), dns.rcode.REFUSED)
        time.sleep(0.2)
        self.assertEqual(rrset(self.port, "db-host-1.node.svc.internal", "A"), {"127.0.0.5"})
        self.assertEqual(rrset(self.port, "_db._tcp.svc.internal", "SRV"),
                         {"0 1 5432 db-host-1.node.svc.internal."})
        self.assertEqual(rrset(self.port, "_db._tcp.svc.internal", "SRV", "additional", "A"), {"127.0.0.5"})
        self.assertIn("may not add addresses to node db-host-1", self.server.log())


class StaticInstanceTest(UpdateSecurityTest):
    SERVICES = STATIC_WEB1

    def test_an_update_cannot_replace_or_delete_a_static_instance(self):
        def web1(m):
            m.add("web-1._web._tcp", 2, "SRV", "0 5 8080 host-1.node.svc.internal.")
            m.add("host-1.node", 2, "A", "127.0.0.10")
        self.assertEqual(self.udp(update("web-key", WEB_SECRET, web1, lease=2)).rcode(),
                         dns.rcode.REFUSED)
        self.assertEqual(self.udp(update("web-key", WEB_SECRET,
                                         lambda m: m.delete("web-1._web._tcp"))).rcode(),
                         dns.rcode.REFUSED)
        # Past the lease the UPDATE asked for, the static instance still answers.
        time.sleep(3)
        self.assertEqual(rrset(self.port, "web.svc.internal", "A"), {"192.0.2.21"})
        self.assertEqual(rrset(self.port, "_web._tcp.svc.internal", "SRV"),
                         {"0 3 8080 static-1.node.svc.internal."})
        self.assertIn("instance web-1 of web: it is declared in the config", self.server.log())


class ReplayTest(UpdateSecurityTest):
    def test_recorded_updates_sent_again_change_nothing(self):
        def web2(m):
            m.add("web-2._web._tcp", 30, "SRV", "0 1 80 host-2.node.svc.internal.")
            m.add("host-2.node", 30, "A", "127.0.0.20")
        registration = update("web-key", WEB_SECRET, web2).to_wire()
        deletion = update("web-key", WEB_SECRET, lambda m: m.delete("web-2._web._tcp")).to_wire()
        self.assertEqual(send_raw(self.port, registration), dns.rcode.NOERROR)
        self.assertEqual(send_raw(self.port, deletion), dns.rcode.NOERROR)
        # The registration's bytes again: refused, and the instance stays deleted.
        self.assertEqual(send_raw(self.port, registration), dns.rcode.NOTAUTH)
        time.sleep(0.2)
        self.assertEqual(ask_udp(self.port, query_message("web.svc.internal", "A")).rcode(),
                         dns.rcode.NXDOMAIN)
        # Registered again, the recorded delete cannot take it out.
        self.assertEqual(self.udp(update("web-key", WEB_SECRET, web2)).rcode(), dns.rcode.NOERROR)
        self.assertEqual(send_raw(self.port, deletion), dns.rcode.NOTAUTH)
        time.sleep(0.2)
        self.assertEqual(rrset(self.port, "web.svc.internal", "A"), {"127.0.0.20"})


class QuotaTest(UpdateSecurityTest):
    def test_a_key_registers_no_more_than_its_max_instances(self):
        def web(index):
            def build(m):
                m.add(f"web-{index}._web._tcp", 30, "SRV", f"0 1 80 host-{index}.node.svc.internal.")
                m.add(f"host-{index}.node", 30, "A", f"127.0.0.{20 + index}")
            return update("web-key", WEB_SECRET, build)
        for index in range(3):
            self.assertEqual(self.udp(web(index)).rcode(), dns.rcode.NOERROR)
        self.assertEqual(self.udp(web(3)).rcode(), dns.rcode.REFUSED)
        self.assertEqual(self.udp(web(0)).rcode(), dns.rcode.NOERROR)  # renewals go on
        time.sleep(0.2)
        self.assertEqual(rrset(self.port, "web.svc.internal", "A"),
                         {"127.0.0.20", "127.0.0.21", "127.0.0.22"})
        self.assertIn("key.max_instances is 3", self.server.log())


class TtlTest(UpdateSecurityTest):
    def test_no_answer_is_cached_past_the_lease(self):
        def web5(m):
            m.add("web-5._web._tcp", 30, "SRV", "0 1 80 host-5.node.svc.internal.")
            m.add("host-5.node", 30, "A", "127.0.0.25")
        registered = time.monotonic()
        self.assertEqual(self.udp(update("web-key", WEB_SECRET, web5, lease=6)).rcode(),
                         dns.rcode.NOERROR)
        seen = []
        while time.monotonic() - registered < 8:
            asked = time.monotonic()
            response = ask_udp(self.port, query_message("web.svc.internal", "A"))
            if response is not None and response.answer:
                remaining = 6 - (asked - registered)
                ttl = response.answer[0].ttl
                seen.append((round(asked - registered, 2), ttl))
                self.assertLessEqual(ttl, max(1.0, remaining + 0.5),
                                     f"TTL {ttl} with {remaining:.2f} s of lease left; {seen}")
            time.sleep(0.1)
        self.assertGreater(len(seen), 10)
        # Gone within a second of the lease running out.
        self.assertTrue(all(at <= 7.0 for at, _ in seen), seen)


class UpdateFloodTest(UpdateSecurityTest):
    """One client floods the server with UPDATEs that each carry 180 prerequisites (as many
    as fit a datagram) naming the records of a 2,000-instance service, while it and another
    client query and register. One worker, so that everything arrives at one socket.

    An order, not a time, so that it holds on a loaded machine: the flood is sent WINDOW
    UPDATEs ahead of its answers, so that at any moment hundreds wait for the registry
    thread, and a query goes out after every PROBE_EVERY of them on the same socket. Its
    answer must come before the answer to the UPDATE sent just before it: a server whose
    queries waited for UPDATE work would answer them after. Counted, not timed: FLOOD
    UPDATEs in all, every wait bounded by a deadline."""

    INSTANCES = 2000
    FLOOD = 3000
    WINDOW = 400       # UPDATEs sent and not yet answered, at most (well under max_queued)
    PROBE_EVERY = 100
    DEADLINE = 30      # seconds for the whole flood: a bound, not an expectation

    def setUp(self):
        self.server = Server(server={"threads": 1}, extra=KEYS)
        self.server.start()
        self.port = self.server.port

    def register_bulk(self):
        per_update = 250
        for first in range(0, self.INSTANCES, per_update):
            def build(m, first=first):
                for index in range(first, first + per_update):
                    m.add(f"b{index}._bulk._tcp", 600, "SRV", f"0 1 80 n{index}.node.svc.internal.")
                    m.add(f"n{index}.node", 600, "A", address(index))
            response = self.tcp(update("bulk-key", BULK_SECRET, build))
            self.assertEqual(response.rcode(), dns.rcode.NOERROR)

    def flood_wires(self):
        """FLOOD UPDATEs of web-key with IDs 0 to FLOOD - 1: prerequisites only (RFC 2136
        §2.4), all of which hold, value-dependent and not. Each names absent names of its own,
        so that no two are alike and none is answered as a repeated renewal."""
        template = dns.update.UpdateMessage(ZONE)
        for index in range(60):
            template.present(f"b{index}._bulk._tcp")
            template.present(f"n{index}.node", "A", address(index))
            template.absent(f"x00000-{index}.node")
        wire = template.to_wire()
        return [signed(WEB_KEY, wire.replace(b"x00000-", b"x%05d-" % serial), serial)
                for serial in range(self.FLOOD)]

    def other_client_update(self):
        def db1(m):
            m.add("db-1._db._tcp", 30, "SRV", "0 1 5432 db-host-1.node.svc.internal.")
            m.add("db-host-1.node", 30, "A", "127.0.0.5")
        return update("db-key", DB_SECRET, db1)

    def run_flood(self, wires, other):
        """Sends the flood with its probe queries and `other`'s UPDATE and query halfway,
        reading answers as they come until all are in or DEADLINE passes."""
        flood = Flood(self.port, wires, other, self.WINDOW, self.PROBE_EVERY)
        deadline = time.monotonic() + self.DEADLINE
        try:
            while not flood.done() and time.monotonic() < deadline:
                flood.send_ahead()
                flood.receive(max(0.0, deadline - time.monotonic()))
        finally:
            flood.close()
        return flood

    def test_queries_and_other_clients_are_not_held_up_by_update_work(self):
        self.register_bulk()
        self.assertTrue(wait_for(
            lambda: rrset(self.port, f"n{self.INSTANCES - 1}.node.svc.internal", "A")
            == {address(self.INSTANCES - 1)}, 10))
        wires = self.flood_wires()
        self.assertLess(max(len(w) for w in wires), 4000)
        other = self.other_client_update()
        flood = self.run_flood(wires, other)
        probes, arrival, rcodes = flood.probes, flood.arrival, flood.rcodes
        seen_by_other = flood.seen_by_other
        log = self.server.log()[-2000:]
        unanswered = [query_id for query_id, _ in probes if query_id not in arrival]
        self.assertEqual(unanswered, [], "queries sent during the UPDATE flood went unanswered")
        behind = [j for j, (query_id, update_id) in enumerate(probes)
                  if update_id in arrival and arrival[update_id] < arrival[query_id]]
        self.assertEqual(behind, [], "queries answered only after the UPDATEs sent before "
                                     f"them (probes {behind} of {len(probes)})\n" + log)
        # The flood was handled, not dropped: every UPDATE answered, its prerequisites held.
        self.assertEqual(len(rcodes), len(wires), log)
        self.assertEqual({dns.rcode.to_text(r) for r in rcodes.values()}, {"NOERROR"}, log)
        # The other client was served while the flood went on, its UPDATE in its turn.
        self.assertEqual(set(seen_by_other), {"update", "query"}, log)
        response = dns.message.from_wire(seen_by_other["update"][0], keyring=other.keyring,
                                         request_mac=other.mac)
        self.assertEqual(response.rcode(), dns.rcode.NOERROR)
        self.assertGreater(seen_by_other["update"][1], 0,
                           "the other client's UPDATE waited for the whole flood")
        response = dns.message.from_wire(seen_by_other["query"][0])
        self.assertEqual([r.to_text() for rrset_ in response.answer for r in rrset_],
                         [address(8)])
        self.assertEqual(rrset(self.port, "db-host-1.node.svc.internal", "A"), {"127.0.0.5"})


if __name__ == "__main__":
    unittest.main()
