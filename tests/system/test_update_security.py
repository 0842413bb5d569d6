"""UPDATEs as an attacker holding one key would send them.

The real signpostd; dnspython and nsupdate send the UPDATEs, dnspython and dig look at the
answers. Each test names the defect it guards against: node addresses injected by a key
allowed another service, one heavy UPDATE stalling every answer, an UPDATE replacing a static
registration, replayed UPDATEs, no quota, and a TTL that outlives the lease.
"""

import socket
import struct
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

from harness import LOOPBACK, Server, ask_udp, query_message, render_services, wait_for

ZONE = "svc.internal."
WEB_SECRET = "d2ViIG9ubHkga2V5IGZvciB0ZXN0cyAwMTIzNDU2Nzg5YWI="
DB_SECRET = "ZGIgb25seSBrZXkgZm9yIHRlc3RzIDAxMjM0NTY3ODlhYmM="
BULK_SECRET = "YnVsayBrZXkgZm9yIHRlc3RzIDAxMjM0NTY3ODlhYmNkZWY="

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
    """A key allowed one service sends UPDATEs with hundreds of prerequisites while the
    registry holds 20,000 instances: answers must not wait for them. One worker, so that the
    UPDATEs and the queries arrive at the same socket."""

    INSTANCES = 20000

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

    def heavy_update(self, serial):
        def build(m):
            # 180 prerequisites (as many as fit a datagram) naming the big service's
            # records, value-dependent and not.
            for index in range(60):
                m.present(f"b{index}._bulk._tcp")
                m.present(f"n{index}.node", "A", address(index))
                m.absent(f"x{serial}-{index}.node")
            m.add(f"web-{serial % 3}._web._tcp", 30, "SRV", "0 1 80 flood.node.svc.internal.")
            m.add("flood.node", 30, "A", "127.0.0.99")
        return update("web-key", WEB_SECRET, build).to_wire()

    def test_queries_are_not_delayed_by_update_work(self):
        """Queries go past the UPDATE work queued before them. After each burst of heavy
        UPDATEs a query is sent on the same socket: the worker reads it after the burst, and
        its answer must come before the answer to the burst's last UPDATE, which waits for
        every UPDATE queued before it. A server whose queries waited for UPDATE work would
        answer them after. An order, not a time: it holds on a loaded machine too."""
        self.register_bulk()
        self.assertTrue(wait_for(
            lambda: ask_udp(self.port, query_message("b19999._bulk._tcp.svc.internal", "SRV"))
            .rcode() == dns.rcode.NOERROR, 10))
        bursts = [[self.heavy_update(serial) for serial in range(first, first + size)]
                  for first, size in ((0, 300), *((300 + 100 * i, 100) for i in range(12)))]
        self.assertLess(max(len(w) for burst in bursts for w in burst), 4000)
        update_ids = {struct.unpack("!H", w[:2])[0] for burst in bursts for w in burst}
        last_of_burst = [struct.unpack("!H", burst[-1][:2])[0] for burst in bursts]
        query_ids = [i for i in range(1, 65536) if i not in update_ids][:len(bursts)]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        arrival = {}
        try:
            query = query_message("web.svc.internal", "A")
            for burst, query_id in zip(bursts, query_ids):
                for wire in burst:
                    sock.sendto(wire, (LOOPBACK, self.port))
                query.id = query_id
                sock.sendto(query.to_wire(), (LOOPBACK, self.port))
            sock.settimeout(10)
            wanted = set(query_ids) | set(last_of_burst)
            while not wanted <= arrival.keys():
                try:
                    data, _ = sock.recvfrom(65535)
                except socket.timeout:
                    break
                arrival.setdefault(struct.unpack("!H", data[:2])[0], len(arrival))
        finally:
            sock.close()
        unanswered = [i for i in query_ids if i not in arrival]
        self.assertEqual(unanswered, [], "queries sent during the UPDATE flood went unanswered")
        behind = [j for j, (query_id, update_id) in enumerate(zip(query_ids, last_of_burst))
                  if update_id in arrival and arrival[update_id] < arrival[query_id]]
        self.assertEqual(behind, [], "queries answered only after the UPDATEs queued before "
                                     f"them (bursts {behind} of {len(bursts)})\n"
                                     + self.server.log()[-2000:])
        # The flood was handled, not only dropped: the heavy UPDATEs' prerequisites hold.
        self.assertTrue(wait_for(
            lambda: rrset(self.port, "flood.node.svc.internal", "A") == {"127.0.0.99"}, 10),
            self.server.log()[-2000:])


if __name__ == "__main__":
    unittest.main()
