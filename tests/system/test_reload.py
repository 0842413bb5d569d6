"""SIGHUP reloads the config's static registrations and zones/ while queries keep flowing:
a thread asks continuously over UDP, one query at a time, and none may fail or time out
while the config and the zone files change under it, including broken versions of both
(which keep the old data and log why). The registry zone's serial grows with each change.
"""

import os
import random
import signal
import socket
import struct
import threading
import time
import unittest

import dns.message
import dns.rcode

import harness

POLL = 10          # seconds a reload may take to show in the answers
QUERY_TIMEOUT = 2  # seconds one query of the querying thread may take
MIN_QUERIES = 3000

EXTRA_ZONE = """$ORIGIN extra.test.
$TTL 300
@ IN SOA ns.extra.test. hostmaster.extra.test. {serial} 3600 600 86400 300
@ IN NS ns
ns IN A 192.0.2.1
www IN A {address}
"""

BAD_ZONE = """$ORIGIN bad.test.
$TTL 300
@ IN SOA ns.bad.test. hostmaster.bad.test. 1 3600 600 86400 300
www IN A 192.0.2.300
"""  # line 4: not an IPv4 address


def web(*instances):
    """The service web with instances given as (id, last octet, weight)."""
    return {"name": "web", "port": 8080, "instances": [
        {"id": id_, "node": f"node-{octet}", "addresses": [f"127.0.0.{octet}"], "weight": weight}
        for id_, octet, weight in instances]}


OLD = {"name": "old", "port": 9000, "instances": [
    {"id": "old-1", "node": "node-31", "addresses": ["127.0.0.31"]}]}


class Querier(threading.Thread):
    """Asks a few names over and over over UDP, one query at a time, each with its own ID,
    and records every query that got no answer in time or a wrong one. It opens a new
    socket (a new source port, so possibly another worker) every 50 queries."""

    QUESTIONS = (("web.svc.internal", "A"), ("www.example.test", "A"), ("svc.internal", "SOA"))

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop_event = threading.Event()
        self.count = 0
        self.failures = []
        self.ids = random.Random(7)

    def run(self):
        sock = None
        try:
            while not self.stop_event.is_set():
                if self.count % 50 == 0:
                    if sock is not None:
                        sock.close()
                    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    sock.connect((harness.LOOPBACK, self.port))
                name, rtype = self.QUESTIONS[self.count % len(self.QUESTIONS)]
                problem = self.ask(sock, name, rtype)
                if problem is not None:
                    self.failures.append(f"query {self.count} {name} {rtype}: {problem}")
                self.count += 1
        finally:
            if sock is not None:
                sock.close()

    def ask(self, sock, name, rtype):
        query = dns.message.make_query(name, rtype, id=self.ids.randrange(65536))
        sock.send(query.to_wire())
        deadline = time.monotonic() + QUERY_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return f"no answer within {QUERY_TIMEOUT}s"
            sock.settimeout(remaining)
            try:
                wire = sock.recv(65535)
            except socket.timeout:
                return f"no answer within {QUERY_TIMEOUT}s"
            except ConnectionRefusedError:
                return "connection refused"
            if struct.unpack("!H", wire[:2])[0] == query.id:
                break  # a late answer to an earlier query would have another ID
        response = dns.message.from_wire(wire)
        if response.rcode() != dns.rcode.NOERROR:
            return "rcode " + dns.rcode.to_text(response.rcode())
        if not response.answer:
            return "empty answer"
        return None


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.server = harness.Server(dns={"answer_limit": 0})
        self.addCleanup(self.server.cleanup)
        self.zones = harness.make_zones_dir(self.server.workdir)
        self.server.zones_dir = self.zones
        self.server.extra = harness.render_services([web(("web-1", 21, 1), ("web-2", 22, 1)), OLD])
        self.server.start()
        self.addCleanup(self.stop_server)
        self.port = self.server.port

    def stop_server(self):
        code = self.server.stop()
        self.assertEqual(code, 0, "signpostd did not stop cleanly\n" + self.server.log()[-3000:])

    # Helpers.

    def reload(self, services=None, config_text=None):
        """Rewrites the config (from `services`, or verbatim `config_text`) and sends SIGHUP;
        waits, bounded, until the server logged the outcome. Returns True when it reloaded,
        False when it logged a failed reload."""
        done_before = self.server.log().count("reloaded:")
        failed_before = self.server.log().count("reload failed")
        if config_text is not None:
            with open(self.server.config_path, "w", encoding="utf-8") as f:
                f.write(config_text)
        else:
            self.server.extra = harness.render_services(services)
            self.server.write_config()
        self.server.process.send_signal(signal.SIGHUP)
        outcome = harness.wait_for(
            lambda: self.server.log().count("reloaded:") > done_before
            or self.server.log().count("reload failed") > failed_before, timeout=POLL)
        self.assertTrue(outcome, "no reload logged after SIGHUP\n" + self.server.log()[-3000:])
        self.assertTrue(self.server.alive(), "SIGHUP stopped the server\n" + self.server.log())
        return self.server.log().count("reloaded:") > done_before

    def addresses(self, name):
        response = harness.ask_udp(self.port, harness.query_message(name, "A"))
        if response is None:
            return None
        return sorted(rr.address for rrset in response.answer for rr in rrset)

    def status(self, name, rtype="A"):
        response = harness.ask_udp(self.port, harness.query_message(name, rtype))
        return None if response is None else dns.rcode.to_text(response.rcode())

    def srv_weight(self, instance_name):
        response = harness.ask_udp(self.port, harness.query_message(instance_name, "SRV"))
        if response is None or not response.answer:
            return None
        return response.answer[0][0].weight

    def await_answer(self, what, probe, expected):
        value = harness.wait_for(lambda: probe() == expected, timeout=POLL)
        self.assertTrue(value, f"after the reload, {what} is {probe()!r}, not {expected!r}\n"
                        + self.server.log()[-3000:])

    def stable_serial(self):
        """The registry SOA serial once it stopped changing (every worker has the latest
        snapshot), bounded."""
        previous = [harness.soa_serial(self.port)]

        def settled():
            time.sleep(0.2)
            current = harness.soa_serial(self.port)
            same = current == previous[0]
            previous[0] = current
            return same

        self.assertTrue(harness.wait_for(settled, timeout=POLL), "the serial kept changing")
        return previous[0]

    def snapshot_of_answers(self):
        return {"web": self.addresses("web.svc.internal"),
                "web-1 weight": self.srv_weight("web-1._web._tcp.svc.internal"),
                "old": self.status("old.svc.internal"),
                "extra": self.addresses("www.extra.test"),
                "example": self.addresses("www.example.test")}

    def write_zone(self, name, text):
        with open(os.path.join(self.zones, name), "w", encoding="utf-8") as f:
            f.write(text)

    # The test.

    def test_reloads_under_continuous_queries(self):
        querier = Querier(self.port)
        querier.start()
        try:
            serials = [self.stable_serial()]
            self.assertEqual(self.addresses("web.svc.internal"), ["127.0.0.21", "127.0.0.22"])

            # 1. An instance more.
            web3 = web(("web-1", 21, 1), ("web-2", 22, 1), ("web-3", 23, 1))
            self.assertTrue(self.reload([web3, OLD]), self.server.log())
            self.await_answer("web A", lambda: self.addresses("web.svc.internal"),
                              ["127.0.0.21", "127.0.0.22", "127.0.0.23"])
            serials.append(self.stable_serial())

            # 2. A weight changes (the SRV weight field carries it).
            weighted = web(("web-1", 21, 5), ("web-2", 22, 1), ("web-3", 23, 1))
            self.assertTrue(self.reload([weighted, OLD]), self.server.log())
            self.await_answer("web-1's SRV weight",
                              lambda: self.srv_weight("web-1._web._tcp.svc.internal"), 5)
            serials.append(self.stable_serial())

            # 3. A service goes away.
            self.assertEqual(self.status("old.svc.internal"), "NOERROR")
            self.assertTrue(self.reload([weighted]), self.server.log())
            self.await_answer("old A", lambda: self.status("old.svc.internal"), "NXDOMAIN")
            self.await_answer("_old._tcp PTR", lambda: self.status("_old._tcp.svc.internal", "PTR"),
                              "NXDOMAIN")
            serials.append(self.stable_serial())

            # 4. A zone file more.
            self.assertEqual(self.status("www.extra.test"), "REFUSED")
            self.write_zone("extra.test.zone", EXTRA_ZONE.format(serial=1, address="192.0.2.77"))
            self.assertTrue(self.reload([weighted]), self.server.log())
            self.await_answer("www.extra.test", lambda: self.addresses("www.extra.test"),
                              ["192.0.2.77"])

            # 5. Broken TOML: everything stays as it was, and the log says where.
            before = self.snapshot_of_answers()
            serial = self.stable_serial()
            good_text = self.server.config_text()
            broken = good_text.replace('name = "web"', 'name = "web', 1)
            self.assertNotEqual(broken, good_text)
            self.assertFalse(self.reload(config_text=broken), self.server.log())
            self.assertEqual(self.snapshot_of_answers(), before)
            self.assertEqual(harness.soa_serial(self.port), serial,
                             "a failed reload changes nothing")
            failure = self.last_log_line("reload failed")
            self.assertIn(os.path.basename(self.server.config_path), failure)
            self.assertRegex(failure, r"\.toml:\d+", "the message names the line")

            # 6. A good config with a change, but a broken zone file: the whole reload is
            # refused, the registration change included.
            self.write_zone("bad.test.zone", BAD_ZONE)
            web4 = web(("web-1", 21, 5), ("web-2", 22, 1), ("web-3", 23, 1), ("web-4", 24, 1))
            self.assertFalse(self.reload([web4]), self.server.log())
            self.assertEqual(self.snapshot_of_answers(), before)
            self.assertEqual(self.status("www.bad.test"), "REFUSED")
            self.assertEqual(harness.soa_serial(self.port), serial)
            failure = self.last_log_line("reload failed")
            self.assertIn("bad.test.zone:4", failure)

            # 7. The zone file fixed: the pending registration change goes live.
            os.remove(os.path.join(self.zones, "bad.test.zone"))
            self.assertTrue(self.reload([web4]), self.server.log())
            self.await_answer("web A", lambda: self.addresses("web.svc.internal"),
                              ["127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"])
            serials.append(self.stable_serial())

            # 8. A zone file's content changes.
            self.write_zone("extra.test.zone", EXTRA_ZONE.format(serial=2, address="192.0.2.78"))
            self.assertTrue(self.reload([web4]), self.server.log())
            self.await_answer("www.extra.test", lambda: self.addresses("www.extra.test"),
                              ["192.0.2.78"])
            self.assertEqual(self.addresses("web.svc.internal"),
                             ["127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"])

            self.assertEqual(serials, sorted(set(serials)),
                             "the registry serial must grow with every registration change")
            # Thousands of queries across the reloads.
            harness.wait_for(lambda: querier.count >= MIN_QUERIES, timeout=30, interval=0.1)
        finally:
            querier.stop_event.set()
            querier.join(timeout=QUERY_TIMEOUT + 5)
        self.assertFalse(querier.is_alive())
        self.assertEqual(querier.failures, [], f"{len(querier.failures)} of {querier.count} "
                         "queries failed during the reloads")
        self.assertGreaterEqual(querier.count, MIN_QUERIES)
        self.assertEqual(self.server.log().count("SIGHUP"), 8, self.server.log())

    def last_log_line(self, fragment):
        lines = [line for line in self.server.log().splitlines() if fragment in line]
        self.assertTrue(lines, f"no log line with {fragment!r}\n" + self.server.log())
        return lines[-1]


if __name__ == "__main__":
    unittest.main()
