"""Zone transfer out: NSD, Knot DNS and BIND follow signpostd as secondaries.

The three real secondaries (secondaries.py) are started once for the module on free
loopback ports. They transfer the registry zone and a static zone with TSIG (AXFR, then
IXFR on each NOTIFY), and must serve what signpostd serves: a registered instance within
2 s, an expired one gone within its lease + 2 s, and after a burst of 1,000 changes zones
identical to signpostd's (full AXFRs compared). dig and kdig verify the TSIG of every
message of a multi-message AXFR; dnspython checks the refusals.
"""

import socket
import struct
import time
import unittest
import urllib.request

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rrset
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

from harness import LOOPBACK, Server, free_port, run, udp_exchange, wait_for
from secondaries import KEY_NAME, KEY_SECRET, Bind, Knot, Nsd, wait_serial

ZONE = "svc.internal."
STATIC_ZONE = "example.test."
CLOSED_ZONE = "closed.test."
AGENT_SECRET = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="
STATIC_INSTANCES = 400  # a registry zone of several 64 KiB messages

CLOSED_ZONE_TEXT = """$ORIGIN closed.test.
$TTL 300
@ IN SOA ns.closed.test. hostmaster.closed.test. 1 3600 600 86400 300
@ IN NS ns
ns IN A 192.0.2.53
"""


def static_services():
    lines = ['[[service]]\nname = "bulk"\nport = 9000\n']
    for i in range(STATIC_INSTANCES):
        lines.append(f'[[service.instance]]\nid = "bulk-{i}"\nnode = "bulk-node-{i}"\n'
                     f'addresses = ["10.1.{i // 256}.{i % 256}"]\n')
    return "\n".join(lines)


def server_config(notify, http_port):
    targets = ", ".join(f'"{LOOPBACK}:{port}"' for port in notify)
    return f"""
[http]
listen = ["{LOOPBACK}:{http_port}"]

[health]
min_lease = 1
max_lease = 600

[[key]]
name = "agent-key"
secret = "{AGENT_SECRET}"

[[key]]
name = "{KEY_NAME}"
secret = "{KEY_SECRET}"

[[transfer]]
zone = "{ZONE}"
allow = ["127.0.0.1/32"]
key = "{KEY_NAME}"
notify = [{targets}]
notify_interval = 0.2

[[transfer]]
zone = "{STATIC_ZONE}"
allow = ["127.0.0.1"]
key = "{KEY_NAME}"
notify = [{targets}]

{static_services()}
"""


SERVER = None
SECONDARIES = []
HTTP_PORT = None


def setUpModule():
    global SERVER, SECONDARIES, HTTP_PORT
    HTTP_PORT = free_port()
    SECONDARIES = [Nsd(None, [ZONE, STATIC_ZONE]), Knot(None, [ZONE, STATIC_ZONE]),
                   Bind(None, [ZONE, STATIC_ZONE])]
    SERVER = Server(extra=server_config([s.port for s in SECONDARIES], HTTP_PORT),
                    extra_zones={"closed.test.zone": CLOSED_ZONE_TEXT})
    SERVER.start()
    for secondary in SECONDARIES:
        secondary.primary_port = SERVER.port
        secondary.start()
    for zone in (ZONE, STATIC_ZONE):
        behind = wait_serial(SECONDARIES, zone, serial_of(zone), timeout=15)
        if behind:
            logs = "\n".join(f"--- {s.NAME}:\n{s.log()}" for s in behind)
            tearDownModule()
            raise AssertionError(f"{[s.NAME for s in behind]} did not transfer {zone}:\n{logs}")


def tearDownModule():
    for secondary in SECONDARIES:
        secondary.stop()
        secondary.cleanup()
    if SERVER is not None:
        code = SERVER.stop()
        log = SERVER.log()
        SERVER.cleanup()
        if code != 0:
            raise AssertionError(f"signpostd exited with {code} on SIGTERM:\n{log[-4000:]}")


def keyring(secret=KEY_SECRET):
    return dns.tsigkeyring.from_text({KEY_NAME: secret})


def serial_of(zone, port=None):
    response = udp_exchange(port or SERVER.port, dns.message.make_query(zone, "SOA").to_wire())
    return dns.message.from_wire(response).answer[0][0].serial


def axfr_records(port, zone, key=None):
    """Every RR of a full transfer, each as one normalised line, as a set. dig reads it: a
    secondary (Knot) drops a client slower than its TCP I/O timeout, as a parser in
    Python can be on a large zone."""
    args = ["dig", f"@{LOOPBACK}", "-p", str(port), "+noall", "+answer", "+tries=1", "+time=5"]
    if key:
        args += ["-y", f"hmac-sha256:{KEY_NAME}:{key}"]
    out = run(args + [zone, "AXFR"], timeout=30)
    lines = [line for line in out.stdout.splitlines() if line and not line.startswith(";")]
    if out.returncode != 0 or "Transfer failed" in out.stdout or not lines:
        raise TransferFailed(out.stdout[-500:] + out.stderr[-500:])
    return {" ".join(line.lower().split()) for line in lines}


class TransferFailed(Exception):
    """A full transfer that did not complete; the message has dig's output."""


def register(name, address, lease=None, tcp=False, port=None):
    ring = dns.tsigkeyring.from_text({"agent-key": AGENT_SECRET})
    update = dns.update.UpdateMessage(ZONE, keyring=ring, keyname="agent-key",
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    update.add(f"{name}._web._tcp", 30, "SRV", f"0 5 8080 {name}-node.node.svc.internal.")
    update.add(f"{name}._web._tcp", 30, "TXT", '"health=passing"')
    update.add(f"{name}-node.node", 30, "A", address)
    update.add("_web._tcp", 30, "PTR", f"{name}._web._tcp.svc.internal.")
    if lease is not None:
        update.use_edns(0, options=[dns.edns.GenericOption(2, struct.pack("!I", lease))])
    query = dns.query.tcp if tcp else dns.query.udp
    response = query(update, LOOPBACK, port=port or SERVER.port, timeout=3)
    if response.rcode() != dns.rcode.NOERROR:
        raise AssertionError(f"UPDATE for {name}: {dns.rcode.to_text(response.rcode())}")


def srv_served(port, name):
    """True when `port` answers the instance's SRV, False when not, None without answer."""
    response = udp_exchange(port, dns.message.make_query(
        f"{name}._web._tcp.{ZONE}", "SRV").to_wire(), timeout=0.3)
    if response is None:
        return None
    message = dns.message.from_wire(response)
    return any(rrset.rdtype == dns.rdatatype.SRV for rrset in message.answer)


def tcp_exchange(wire):
    """One framed request to signpostd over TCP; the first response message's octets."""
    with socket.create_connection((LOOPBACK, SERVER.port), timeout=3) as sock:
        sock.sendall(struct.pack("!H", len(wire)) + wire)
        length = struct.unpack("!H", sock.recv(2, socket.MSG_WAITALL))[0]
        return sock.recv(length, socket.MSG_WAITALL)


def metrics():
    """signpostd's /metrics samples, {series as written: value}."""
    url = f"http://{LOOPBACK}:{HTTP_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        lines = response.read().decode().splitlines()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in lines if line and not line.startswith("#")}


def wait_all(predicate, timeout):
    """Polls predicate(secondary) for each secondary until all hold; returns those that did
    not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pending = list(SECONDARIES)
    while pending and time.monotonic() < deadline:
        pending = [s for s in pending if not predicate(s)]
        if pending:
            time.sleep(0.02)
    return [s.NAME for s in pending]


class TransferTest(unittest.TestCase):
    maxDiff = None

    def assert_secondaries_match(self, zone, timeout=5):
        """Full AXFRs of `zone` from signpostd and each secondary hold the same records,
        once the secondaries have caught up (polled until `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            expected = axfr_records(SERVER.port, zone, KEY_SECRET)
            self.assertGreater(len(expected), 10)
            differ = {}
            for secondary in SECONDARIES:
                try:
                    got = axfr_records(secondary.port, zone)
                except TransferFailed as e:
                    differ[secondary.NAME] = f"AXFR failed: {e!r}\n{secondary.log()}"
                    continue
                if got != expected:
                    differ[secondary.NAME] = (f"missing {sorted(expected - got)[:5]}, "
                                              f"extra {sorted(got - expected)[:5]}")
            if not differ or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual({}, differ, f"secondaries differ from signpostd in {zone}")

    def test_secondaries_serve_both_zones_as_transferred(self):
        self.assertEqual([], wait_serial(SECONDARIES, ZONE, serial_of(ZONE), 5))
        self.assert_secondaries_match(ZONE)
        self.assert_secondaries_match(STATIC_ZONE)

    def test_every_message_of_a_large_axfr_is_signed_and_verifies(self):
        secret = f"hmac-sha256:{KEY_NAME}:{KEY_SECRET}"
        out = run(["dig", f"@{LOOPBACK}", "-p", str(SERVER.port), "-y", secret, ZONE, "AXFR"])
        self.assertEqual(0, out.returncode, out.stdout + out.stderr)
        self.assertNotIn("failed", out.stdout.lower())
        self.assertNotIn("tsig", out.stderr.lower())
        size = [line for line in out.stdout.splitlines() if line.startswith(";; XFR size")]
        self.assertEqual(1, len(size), out.stdout[-2000:])
        messages = int(size[0].split("messages ")[1].split(",")[0])
        self.assertGreater(messages, 1, size[0])
        out = run(["kdig", f"@{LOOPBACK}", "-p", str(SERVER.port), "-y", secret, ZONE, "AXFR"])
        self.assertEqual(0, out.returncode, out.stdout + out.stderr)
        self.assertNotIn("failed", (out.stdout + out.stderr).lower())
        received = [line for line in out.stdout.splitlines() if line.startswith(";; Received")]
        self.assertEqual(1, len(received), out.stdout[-2000:])
        self.assertIn(f"{messages} messages", received[0])

    def test_pipelined_transfers_on_a_half_closed_connection_all_arrive(self):
        # A client may send its requests and close its side at once (RFC 7766 §6.2.1.1):
        # each transfer is still answered whole, one after the other.
        out = run(["dig", f"@{LOOPBACK}", "-p", str(SERVER.port), "-y",
                   f"hmac-sha256:{KEY_NAME}:{KEY_SECRET}", ZONE, "AXFR"])
        size = [line for line in out.stdout.splitlines() if line.startswith(";; XFR size")]
        messages = int(size[0].split("messages ")[1].split(",")[0])
        wire = b""
        for _ in range(3):
            query = dns.message.make_query(ZONE, "AXFR")
            query.use_tsig(keyring(), KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
            data = query.to_wire()
            wire += struct.pack("!H", len(data)) + data
        frames = []
        with socket.create_connection((LOOPBACK, SERVER.port), timeout=5) as sock:
            sock.sendall(wire)
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        while len(data) >= 2:
            length = struct.unpack("!H", data[:2])[0]
            frames.append(data[2:2 + length])
            data = data[2 + length:]
        self.assertEqual(b"", data)
        self.assertEqual(3 * messages, len(frames))
        self.assertTrue(all(frame[3] & 0x0f == 0 for frame in frames))

    def test_transfers_without_the_key_or_address_are_refused(self):
        with self.assertRaises(dns.query.TransferError) as unsigned:
            list(dns.query.xfr(LOOPBACK, ZONE, port=SERVER.port, timeout=5))
        self.assertEqual(dns.rcode.REFUSED, unsigned.exception.rcode)
        with self.assertRaises(dns.query.TransferError) as closed:
            list(dns.query.xfr(LOOPBACK, CLOSED_ZONE, port=SERVER.port, timeout=5,
                               keyring=keyring(), keyname=KEY_NAME,
                               keyalgorithm=dns.tsig.HMAC_SHA256))
        self.assertEqual(dns.rcode.REFUSED, closed.exception.rcode)
        # A wrong secret: NOTAUTH with BADSIG, unsigned (RFC 8945 §5.3.2).
        query = dns.message.make_query(ZONE, "AXFR")
        query.use_tsig(keyring("d3Jvbmcgc2VjcmV0IGZvciB0aGUgdGVzdHMgMDEyMzQ1Ng=="), KEY_NAME,
                       algorithm=dns.tsig.HMAC_SHA256)
        response = tcp_exchange(query.to_wire())
        self.assertEqual(dns.rcode.NOTAUTH, response[3] & 0x0f)
        # Another source address than allowed.
        out = run(["dig", "-b", "127.0.0.2", f"@{LOOPBACK}", "-p", str(SERVER.port), "-y",
                   f"hmac-sha256:{KEY_NAME}:{KEY_SECRET}", ZONE, "AXFR"])
        self.assertIn("Transfer failed", out.stdout)

    def test_nsd_and_knot_take_notify_only_signed_with_the_key(self):
        # So the NOTIFYs that keep them within 2 s of signpostd (the tests below) are signed.
        for secondary in SECONDARIES:
            if secondary.NAME == "named":
                continue  # BIND takes a NOTIFY from a primary's address, signed or not
            unsigned = dns.message.make_query(ZONE, "SOA")
            unsigned.set_opcode(dns.opcode.NOTIFY)
            response = dns.message.from_wire(udp_exchange(secondary.port, unsigned.to_wire()))
            self.assertIn(response.rcode(), (dns.rcode.REFUSED, dns.rcode.NOTAUTH),
                          secondary.NAME)
            signed = dns.message.make_query(ZONE, "SOA")
            signed.set_opcode(dns.opcode.NOTIFY)
            signed.use_tsig(keyring(), KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
            response = dns.message.from_wire(udp_exchange(secondary.port, signed.to_wire()),
                                             keyring=signed.keyring, request_mac=signed.mac)
            self.assertEqual(dns.rcode.NOERROR, response.rcode(), secondary.NAME)

    def test_metrics_count_transfers_and_notifies(self):
        before = metrics()
        with self.assertRaises(dns.query.TransferError):
            list(dns.query.xfr(LOOPBACK, ZONE, port=SERVER.port, timeout=5))
        after = metrics()
        refused = 'signpost_transfers_total{type="axfr",result="refused"}'
        self.assertEqual(before[refused] + 1, after[refused])
        # The secondaries' first transfers, and the NOTIFYs that every serial sent.
        self.assertGreater(after['signpost_transfers_total{type="axfr",result="ok"}'], 0)
        self.assertGreater(after["signpost_notify_sent_total"], 0)
        self.assertIn("signpost_notify_failed_total", after)

    def test_ixfr_from_the_current_serial_is_the_soa_alone(self):
        serial = serial_of(ZONE)
        query = dns.message.make_query(ZONE, "IXFR")
        query.authority.append(dns.rrset.from_text(
            ZONE, 0, "IN", "SOA", f"ns.{ZONE} hostmaster.{ZONE} {serial} 1 1 1 1"))
        query.use_tsig(keyring(), KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
        response = dns.message.from_wire(tcp_exchange(query.to_wire()), keyring=query.keyring,
                                         request_mac=query.mac)
        self.assertEqual(dns.rcode.NOERROR, response.rcode())
        self.assertEqual(1, len(response.answer))
        self.assertEqual(dns.rdatatype.SOA, response.answer[0].rdtype)

    def test_ixfr_over_udp_is_the_soa_when_current_and_truncated_otherwise(self):
        serial = serial_of(ZONE)
        for client, truncated in ((serial, False), ((serial - 5) % 2**32, True)):
            query = dns.message.make_query(ZONE, "IXFR")
            query.authority.append(dns.rrset.from_text(
                ZONE, 0, "IN", "SOA", f"ns.{ZONE} hostmaster.{ZONE} {client} 1 1 1 1"))
            query.use_tsig(keyring(), KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
            response = dns.message.from_wire(udp_exchange(SERVER.port, query.to_wire()),
                                             keyring=query.keyring, request_mac=query.mac)
            self.assertEqual(dns.rcode.NOERROR, response.rcode())
            self.assertEqual(truncated, bool(response.flags & dns.flags.TC))
            self.assertEqual(0 if truncated else 1, len(response.answer))

    def test_notify_and_udp_axfr_are_answered_as_nsd_and_knot_answer(self):
        # A NOTIFY for a zone we serve (we follow no primary): REFUSED, as NSD answers; for
        # a zone we do not serve: NOTAUTH, as Knot answers. Opcode and question come back.
        for zone, rcode in ((ZONE, dns.rcode.REFUSED), ("elsewhere.example.", dns.rcode.NOTAUTH)):
            notify = dns.message.make_query(zone, "SOA")
            notify.flags = dns.flags.AA
            notify.set_opcode(dns.opcode.NOTIFY)
            response = dns.message.from_wire(udp_exchange(SERVER.port, notify.to_wire()))
            self.assertEqual(rcode, response.rcode(), zone)
            self.assertEqual(dns.opcode.NOTIFY, response.opcode())
            self.assertEqual(zone, response.question[0].name.to_text())
        # AXFR over UDP is not defined (RFC 5936 §4.2): NOTIMP, as NSD and Knot answer; kdig
        # reports it as such.
        response = dns.message.from_wire(udp_exchange(
            SERVER.port, dns.message.make_query(ZONE, "AXFR").to_wire()))
        self.assertEqual(dns.rcode.NOTIMP, response.rcode())
        self.assertEqual(1, len(response.question))
        out = run(["kdig", f"@{LOOPBACK}", "-p", str(SERVER.port), "+notcp", ZONE, "AXFR"])
        self.assertIn("NOTIMPL", out.stdout + out.stderr)
        self.assertTrue(SERVER.alive())

    def test_signed_notify_gets_its_error_signed(self):
        # The same REFUSED or NOTAUTH as unsigned, signed with the request's key over its MAC
        # (RFC 8945 §5.3): from_wire raises unless the response's TSIG verifies.
        for exchange in (lambda wire: udp_exchange(SERVER.port, wire), tcp_exchange):
            for zone, rcode in ((ZONE, dns.rcode.REFUSED),
                                ("elsewhere.example.", dns.rcode.NOTAUTH)):
                notify = dns.message.make_query(zone, "SOA")
                notify.flags = dns.flags.AA
                notify.set_opcode(dns.opcode.NOTIFY)
                notify.use_tsig(keyring(), KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
                wire = exchange(notify.to_wire())
                self.assertIsNotNone(wire, zone)
                response = dns.message.from_wire(wire, keyring=notify.keyring,
                                                 request_mac=notify.mac)
                self.assertTrue(response.had_tsig, zone)
                self.assertEqual(rcode, response.rcode(), zone)
                self.assertEqual(dns.opcode.NOTIFY, response.opcode())
                self.assertEqual(zone, response.question[0].name.to_text())
            # An unknown key: NOTAUTH with the TSIG error BADKEY (RFC 8945 §5.2.1).
            unknown = dns.message.make_query(ZONE, "SOA")
            unknown.flags = dns.flags.AA
            unknown.set_opcode(dns.opcode.NOTIFY)
            unknown.use_tsig(dns.tsigkeyring.from_text({"nobody.": KEY_SECRET}), "nobody.",
                             algorithm=dns.tsig.HMAC_SHA256)
            wire = exchange(unknown.to_wire())
            self.assertIsNotNone(wire)
            self.assertEqual(dns.rcode.NOTAUTH, wire[3] & 0x0f)
            self.assertEqual(dns.opcode.NOTIFY, dns.opcode.from_flags(wire[2] << 8))
            with self.assertRaises(dns.tsig.PeerBadKey):
                dns.message.from_wire(wire, keyring=unknown.keyring, request_mac=unknown.mac)
        self.assertTrue(SERVER.alive())

    def test_a_registered_instance_is_served_by_all_three_within_two_seconds(self):
        self.assertEqual([], wait_serial(SECONDARIES, ZONE, serial_of(ZONE), 10))
        register("follow-1", "10.9.0.1", lease=60)
        self.assertEqual([], wait_all(lambda s: srv_served(s.port, "follow-1"), 2.0))

    def test_an_expired_instance_disappears_within_its_lease_and_two_seconds(self):
        lease = 3
        self.assertEqual([], wait_serial(SECONDARIES, ZONE, serial_of(ZONE), 10))
        register("brief-1", "10.9.0.2", lease=lease)
        registered = time.monotonic()
        # Seen by all three while the lease runs, so that its going is what is measured.
        self.assertEqual([], wait_all(lambda s: srv_served(s.port, "brief-1"), lease))
        left = lease + 2 - (time.monotonic() - registered)
        self.assertEqual([], wait_all(lambda s: srv_served(s.port, "brief-1") is False, left))

    def test_a_burst_of_a_thousand_changes_ends_identical(self):
        for i in range(1000):
            register(f"burst-{i}", f"10.8.{i // 256}.{i % 256}", lease=600)
        self.assertTrue(wait_for(lambda: srv_served(SERVER.port, "burst-999"), 2))
        serial = serial_of(ZONE)
        self.assertEqual([], [s.NAME for s in wait_serial(SECONDARIES, ZONE, serial, 15)])
        self.assert_secondaries_match(ZONE, timeout=15)


class SerialTest(unittest.TestCase):
    def test_a_restart_after_a_crash_never_publishes_a_lower_serial(self):
        # RFC 1982: a secondary takes a lower serial for old data and keeps what it has.
        server = Server(extra=f"""
[[key]]
name = "agent-key"
secret = "{AGENT_SECRET}"
""")
        server.start()
        try:
            # Registrations faster than one a second take the serial past the clock, which
            # alone cannot keep it growing.
            for i in range(300):
                register(f"crash-{i}", f"10.6.{i // 256}.{i % 256}", lease=600, port=server.port)
            last = serial_of(ZONE, server.port)  # at least what secondaries may have seen
            server.process.kill()  # at once, with no final save: the state file is behind
            server.stop()
            server.start()
            restarted = serial_of(ZONE, server.port)
            self.assertGreater((restarted - last) % 2**32, 0)
            self.assertLess((restarted - last) % 2**32, 2**31, f"{restarted} is below {last}")
        finally:
            server.stop()
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
