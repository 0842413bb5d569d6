"""Heartbeats: DNS UPDATE signed with TSIG registers, renews and deregisters instances.

The real signpostd with two keys; nsupdate (bind9-dnsutils) and dnspython send the UPDATEs,
dig and dnspython look at the answers.
"""

import random
import socket
import struct
import subprocess
import time
import unittest

import dns.edns
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

from harness import LOOPBACK, Server, ask_udp, query_message, run

SECRET = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="
WRONG_SECRET = "b3RoZXIgc2VjcmV0IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU="
DB_SECRET = "ZGIgb25seSBrZXkgZm9yIHRlc3RzIDAxMjM0NTY3ODlhYmM="
ZONE = "svc.internal."

KEYS = f"""
[health]
min_lease = 1
max_lease = 600

[[key]]
name = "agent-key"
algorithm = "hmac-sha256"
secret = "{SECRET}"

[[key]]
name = "db-key"
secret = "{DB_SECRET}"
allow = ["db"]
"""


def nsupdate(port, commands, key="agent-key", secret=SECRET, tcp=False):
    script = f"server {LOOPBACK} {port}\nzone {ZONE}\n" + commands + "\nsend\n"
    args = ["nsupdate", "-y", f"hmac-sha256:{key}:{secret}", "-t", "3", "-u", "1", "-r", "1"]
    if tcp:
        args.append("-v")
    return subprocess.run(args, input=script, capture_output=True, text=True, timeout=20)


REGISTER_WEB1 = """update add web-1._web._tcp.svc.internal. 30 SRV 0 5 8080 host-1.node.svc.internal.
update add web-1._web._tcp.svc.internal. 30 TXT "health=passing" "tags=v1,canary" "version=1.2"
update add host-1.node.svc.internal. 30 A 127.0.0.10
update add host-1.node.svc.internal. 30 AAAA ::10
update add _web._tcp.svc.internal. 30 PTR web-1._web._tcp.svc.internal."""


def dig(port, name, rdtype, *extra):
    result = run(["dig", f"@{LOOPBACK}", "-p", str(port), "+norecurse", "+time=2", "+tries=2",
                  *extra, name, rdtype])
    return result.stdout


def answer(port, name, rdtype):
    response = ask_udp(port, query_message(name, rdtype))
    return response


def records(port, name, rdtype):
    response = answer(port, name, rdtype)
    if response is None:
        return None
    out = set()
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.from_text(rdtype):
            out.update(r.to_text() for r in rrset)
    return out


def wait_for(predicate, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def signed_update(commands_fn, key_name="agent-key", secret=SECRET, lease=None):
    keyring = dns.tsigkeyring.from_text({key_name: secret})
    update = dns.update.UpdateMessage(ZONE, keyring=keyring, keyname=key_name,
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    commands_fn(update)
    if lease is not None:
        update.use_edns(0, options=[dns.edns.GenericOption(2, struct.pack("!I", lease))])
    return update


def register_web1(update):
    """The records of REGISTER_WEB1, through dnspython."""
    update.add("web-1._web._tcp", 30, "SRV", "0 5 8080 host-1.node.svc.internal.")
    update.add("web-1._web._tcp", 30, "TXT", '"health=passing" "tags=v1,canary" "version=1.2"')
    update.add("host-1.node", 30, "A", "127.0.0.10")
    update.add("host-1.node", 30, "AAAA", "::10")
    update.add("_web._tcp", 30, "PTR", "web-1._web._tcp.svc.internal.")


def drain(sock):
    """Reads whatever answers are waiting, without blocking."""
    sock.setblocking(False)
    try:
        while True:
            sock.recvfrom(65535)
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)


def add_instance(update, instance="web-2", node="host-2", address="127.0.0.20", ttl=30):
    update.add(f"{instance}._web._tcp", ttl, "SRV", f"0 1 8080 {node}.node.svc.internal.")
    update.add(f"{instance}._web._tcp", ttl, "TXT", '"health=passing"')
    update.add(f"{node}.node", ttl, "A", address)
    update.add("_web._tcp", ttl, "PTR", f"{instance}._web._tcp.svc.internal.")


class HeartbeatTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(extra=KEYS)
        self.server.start()
        self.port = self.server.port

    def tearDown(self):
        code = self.server.stop()
        log = self.server.log()
        self.server.cleanup()
        self.assertEqual(code, 0, "signpostd did not stop cleanly; log:\n" + log[-3000:])

    def test_nsupdate_registers_and_deletes_an_instance(self):
        result = nsupdate(self.port, REGISTER_WEB1)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(wait_for(lambda: records(self.port, "web.svc.internal", "A") == {"127.0.0.10"}, 2),
                        self.server.log())
        self.assertEqual(records(self.port, "web.svc.internal", "AAAA"), {"::10"})
        self.assertEqual(records(self.port, "_web._tcp.svc.internal", "SRV"),
                         {"0 5 8080 host-1.node.svc.internal."})
        self.assertEqual(records(self.port, "_web._tcp.svc.internal", "PTR"),
                         {"web-1._web._tcp.svc.internal."})
        txt = records(self.port, "web-1._web._tcp.svc.internal", "TXT")
        self.assertEqual(len(txt), 1)
        self.assertIn('"version=1.2"', next(iter(txt)))
        self.assertIn('"tags=canary,v1"', next(iter(txt)))  # tags are sorted
        self.assertEqual(records(self.port, "canary.web.svc.internal", "A"), {"127.0.0.10"})
        self.assertIn("127.0.0.10", dig(self.port, "host-1.node.svc.internal", "A"))

        result = nsupdate(self.port, "update delete web-1._web._tcp.svc.internal.\n"
                                     "update delete _web._tcp.svc.internal. PTR web-1._web._tcp.svc.internal.")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(wait_for(
            lambda: answer(self.port, "web.svc.internal", "A").rcode() == dns.rcode.NXDOMAIN, 2))

    def test_over_tcp_too(self):
        result = nsupdate(self.port, REGISTER_WEB1, tcp=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(wait_for(lambda: records(self.port, "web.svc.internal", "A") == {"127.0.0.10"}, 2))

    def test_wrong_key_unknown_key_and_unsigned_change_nothing(self):
        result = nsupdate(self.port, REGISTER_WEB1, secret=WRONG_SECRET)
        self.assertNotEqual(result.returncode, 0)
        result = nsupdate(self.port, REGISTER_WEB1, key="nobody")
        self.assertNotEqual(result.returncode, 0)

        update = dns.update.UpdateMessage(ZONE)
        add_instance(update)
        response = dns.query.udp(update, LOOPBACK, port=self.port, timeout=2)
        self.assertEqual(response.rcode(), dns.rcode.REFUSED)

        bad = signed_update(add_instance, secret=WRONG_SECRET)
        with self.assertRaises(dns.tsig.PeerBadSignature):
            dns.query.udp(bad, LOOPBACK, port=self.port, timeout=2)
        time.sleep(0.2)
        self.assertEqual(answer(self.port, "web.svc.internal", "A").rcode(), dns.rcode.NXDOMAIN)

    def test_tampered_packet_is_rejected(self):
        wire = bytearray(signed_update(add_instance).to_wire())
        wire[32] ^= 0x20  # "e" of "web-2", the first update record's owner: still well formed
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2)
        try:
            sock.sendto(bytes(wire), (LOOPBACK, self.port))
            data, _ = sock.recvfrom(65535)
        finally:
            sock.close()
        self.assertEqual(data[3] & 0x0F, dns.rcode.NOTAUTH)
        time.sleep(0.2)
        self.assertEqual(answer(self.port, "web.svc.internal", "A").rcode(), dns.rcode.NXDOMAIN)

    def test_response_is_signed_and_carries_the_granted_lease(self):
        update = signed_update(add_instance, lease=100000)
        response = dns.query.udp(update, LOOPBACK, port=self.port, timeout=2)  # verifies TSIG
        self.assertEqual(response.rcode(), dns.rcode.NOERROR)
        self.assertTrue(response.had_tsig)
        leases = [o for o in response.options if o.otype == 2]
        self.assertEqual(len(leases), 1)
        self.assertEqual(struct.unpack("!I", leases[0].data[:4])[0], 600)  # max_lease

    def test_key_may_only_touch_allowed_services(self):
        update = signed_update(add_instance, key_name="db-key", secret=DB_SECRET)
        response = dns.query.udp(update, LOOPBACK, port=self.port, timeout=2)
        self.assertEqual(response.rcode(), dns.rcode.REFUSED)
        self.assertEqual(answer(self.port, "web.svc.internal", "A").rcode(), dns.rcode.NXDOMAIN)

    def test_prerequisites_are_honoured(self):
        def register_if_absent(update):
            update.absent("web-2._web._tcp")
            add_instance(update)
        response = dns.query.udp(signed_update(register_if_absent), LOOPBACK, port=self.port, timeout=2)
        self.assertEqual(response.rcode(), dns.rcode.NOERROR)
        response = dns.query.udp(signed_update(register_if_absent), LOOPBACK, port=self.port, timeout=2)
        self.assertEqual(response.rcode(), dns.rcode.YXDOMAIN)

        def register_if_present(update):
            update.present("web-3._web._tcp")
            add_instance(update, "web-3", "host-3", "127.0.0.30")
        response = dns.query.udp(signed_update(register_if_present), LOOPBACK, port=self.port, timeout=2)
        self.assertEqual(response.rcode(), dns.rcode.NXDOMAIN)
        time.sleep(0.2)
        self.assertEqual(records(self.port, "web.svc.internal", "A"), {"127.0.0.20"})

    def test_lease_expiry_and_renewal(self):
        update = signed_update(lambda u: add_instance(u, ttl=2))
        self.assertEqual(dns.query.udp(update, LOOPBACK, port=self.port, timeout=2).rcode(), 0)
        self.assertTrue(wait_for(lambda: records(self.port, "web.svc.internal", "A") == {"127.0.0.20"}, 2))
        # Renewals (the same UPDATE again) keep it for longer than one lease.
        start = time.monotonic()
        while time.monotonic() - start < 3.5:
            renewal = signed_update(lambda u: add_instance(u, ttl=2))
            self.assertEqual(dns.query.udp(renewal, LOOPBACK, port=self.port, timeout=2).rcode(), 0)
            self.assertEqual(records(self.port, "web.svc.internal", "A"), {"127.0.0.20"})
            time.sleep(0.5)
        last = time.monotonic()
        # Then it stops: it must leave within lease + 1 s.
        self.assertTrue(wait_for(
            lambda: answer(self.port, "web.svc.internal", "A").rcode() != dns.rcode.NOERROR
            or not answer(self.port, "web.svc.internal", "A").answer, 4))
        self.assertLess(time.monotonic() - last, 3.0 + 0.5)

    def test_mutated_updates_change_nothing(self):
        nsupdate(self.port, REGISTER_WEB1)
        self.assertTrue(wait_for(lambda: records(self.port, "web.svc.internal", "A") == {"127.0.0.10"}, 2))
        # The base is a renewal of what is registered: a mutation that still verifies (the
        # header ID is outside the MAC, RFC 8945 §4.3.1) must change nothing either.
        base = signed_update(register_web1).to_wire()
        rng = random.Random(7)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for i in range(10000):
                wire = bytearray(base)
                for _ in range(rng.randint(1, 4)):
                    wire[rng.randrange(len(wire))] = rng.randrange(256)
                if rng.random() < 0.1:
                    wire = wire[:rng.randrange(len(wire))]
                sock.sendto(bytes(wire), (LOOPBACK, self.port))
                if i % 50 == 49:
                    drain(sock)
                    time.sleep(0.002)
        finally:
            sock.close()
        self.assertTrue(self.server.alive())
        time.sleep(0.3)
        self.assertEqual(records(self.port, "web.svc.internal", "A"), {"127.0.0.10"})
        self.assertEqual(records(self.port, "_web._tcp.svc.internal", "PTR"),
                         {"web-1._web._tcp.svc.internal."})
        result = nsupdate(self.port, REGISTER_WEB1.replace("127.0.0.10", "127.0.0.11"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(wait_for(lambda: records(self.port, "web.svc.internal", "A") == {"127.0.0.11"}, 2))


if __name__ == "__main__":
    unittest.main()
