"""Answer ordering measured on the running signpostd: weighted first records (chi-square),
answer_limit spreading, SRV priorities and weights, smooth round robin, drained instances.

Queries go out as raw UDP over one socket with a few in flight (harness.udp_stream), so
tens of thousands of answers take a few seconds. One worker thread and a fixed dns.seed
make every run draw the same orders.
"""

import ipaddress
import unittest

import dns.message
import dns.rdatatype

import harness

SEED = 20261128

# Chi-square critical values at p = 0.001 (upper tail), by degrees of freedom.
CHI2_CRITICAL_P001 = {1: 10.828, 3: 16.266}


def chi_square(observed, expected):
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected))


def address_instances(prefix, weights, **extra):
    """Instances <prefix>-<i> with the given weights on 10.x addresses, one node each."""
    return [dict({"id": f"{prefix}-{i}", "node": f"{prefix}-node-{i}",
                  "addresses": [address], "weight": weight}, **extra)
            for i, (address, weight) in enumerate(weights, start=1)]


WEIGHTED = {"name": "weighted", "port": 80, "answer_limit": 0, "instances": address_instances(
    "weighted", [("10.1.0.1", 1), ("10.1.0.2", 2), ("10.1.0.3", 3), ("10.1.0.4", 4),
                 ("10.1.0.99", 0)])}
EVEN = {"name": "even", "port": 80, "answer_limit": 2, "instances": address_instances(
    "even", [(f"10.2.0.{i}", 1) for i in range(1, 11)])}
# SRV: two priority groups plus a drained instance in the first; each instance has its own
# port, so an SRV record names its instance.
PRIORITIES = {"name": "prio", "port": 80, "answer_limit": 0, "instances": [
    {"id": f"p-{key}", "node": f"p{key}", "addresses": [f"10.3.0.{octet}"], "port": 1000 + octet,
     "priority": priority, "weight": weight}
    for key, octet, priority, weight in (("a", 1, 10, 10), ("b", 2, 10, 30), ("z", 9, 10, 0),
                                         ("c", 3, 20, 1), ("d", 4, 20, 2), ("e", 5, 5, 7))]}
PORT_WEIGHT = {i["port"]: (i["priority"], i["weight"]) for i in PRIORITIES["instances"]}
ROUND_ROBIN = {"name": "rr", "port": 80, "instances": address_instances(
    "rr", [("10.4.0.1", 1), ("10.4.0.2", 2), ("10.4.0.3", 3), ("10.4.0.99", 0)])}


def address_of(rdata):
    return str(ipaddress.ip_address(rdata))


class OrderTestCase(harness.ServerTestCase):
    def stream(self, name, rdtype, count):
        """`count` answers to one question: [(query wire, response wire)]; every query must
        be answered NOERROR."""
        wire = dns.message.make_query(name, rdtype).to_wire()
        responses = harness.udp_stream(self.port, [wire] * count)
        missing = sum(1 for r in responses if r is None)
        self.assertEqual(missing, 0, f"{missing} of {count} queries for {name} got no answer")
        for response in responses:
            self.assertEqual(response[3] & 0x0F, 0, f"rcode of {name} {rdtype}")
        return wire, responses

    def first_addresses(self, name, count):
        wire, responses = self.stream(name, "A", count)
        return [[address_of(r) for r in harness.answer_rdata(wire, response)]
                for response in responses]


class WeightedOrderTest(OrderTestCase):
    SERVER_ARGS = {"server": {"threads": 1}, "dns": {"seed": SEED},
                   "extra": harness.render_services([WEIGHTED, EVEN, PRIORITIES])}

    def test_first_record_follows_weights_chi_square(self):
        answers = self.first_addresses("weighted.svc.internal", 40000)
        addresses = ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"]
        counts = {a: 0 for a in addresses}
        for records in answers:
            # Four eligible instances, all of them in every answer (answer_limit 0), once each.
            self.assertEqual(sorted(records), addresses, records)
            counts[records[0]] += 1
        observed = [counts[a] for a in addresses]
        expected = [40000 * w / 10 for w in (1, 2, 3, 4)]
        statistic = chi_square(observed, expected)
        self.assertLess(statistic, CHI2_CRITICAL_P001[3],
                        f"first-record counts {observed} vs expected {expected}: "
                        f"chi-square {statistic:.2f} (df 3) rejects the weights at p=0.001")
        # The same counts are far from an unweighted rotation.
        self.assertGreater(chi_square(observed, [10000] * 4), 1000, observed)

    def test_drained_instance_never_appears(self):
        for records in self.first_addresses("weighted.svc.internal", 2000):
            self.assertNotIn("10.1.0.99", records)
        wire, responses = self.stream("prio.svc.internal", "SRV", 500)
        for response in responses:
            ports = {parse_srv(r)[2] for r in harness.answer_rdata(wire, response)}
            self.assertNotIn(1009, ports)

    def test_answer_limit_spreads_equal_weights(self):
        answers = self.first_addresses("even.svc.internal", 10000)
        seen = {f"10.2.0.{i}": 0 for i in range(1, 11)}
        for records in answers:
            self.assertEqual(len(records), 2, records)
            self.assertEqual(len(set(records)), 2, records)
            for address in records:
                seen[address] += 1
        for address, count in seen.items():
            share = count / len(answers)
            self.assertTrue(0.17 <= share <= 0.23,
                            f"{address} is in {share:.1%} of the answers, not about 20%: {seen}")

    def test_srv_priorities_ascending_weights_in_weight_field(self):
        wire, responses = self.stream("prio.svc.internal", "SRV", 4000)
        first_in_group_10 = {1001: 0, 1002: 0}
        for response in responses:
            records = [parse_srv(r) for r in harness.answer_rdata(wire, response)]
            priorities = [priority for priority, _, _ in records]
            self.assertEqual(priorities, sorted(priorities), records)
            self.assertEqual(sorted(port for _, _, port in records), [1001, 1002, 1003, 1004, 1005])
            for priority, weight, port in records:
                self.assertEqual((priority, weight), PORT_WEIGHT[port], records)
            group_10 = [port for priority, _, port in records if priority == 10]
            first_in_group_10[group_10[0]] += 1
        # Inside a priority the order is weighted too: 10:30.
        observed = [first_in_group_10[1001], first_in_group_10[1002]]
        statistic = chi_square(observed, [1000, 3000])
        self.assertLess(statistic, CHI2_CRITICAL_P001[1],
                        f"first SRV of priority 10: {observed}, expected [1000, 3000]")

    def test_srv_additional_holds_each_target_once(self):
        response = harness.ask_udp(self.port, harness.query_message(
            "_prio._tcp.svc.internal", "SRV", use_edns=0))
        self.assertIsNotNone(response)
        targets = sorted(str(rr.target) for rrset in response.answer for rr in rrset)
        self.assertEqual(targets, [f"{n}.node.svc.internal."
                                   for n in ("pa", "pb", "pc", "pd", "pe")])
        glue = sorted((str(rrset.name), rr.address) for rrset in response.additional
                      if rrset.rdtype == dns.rdatatype.A for rr in rrset)
        self.assertEqual(glue, [(f"p{c}.node.svc.internal.", f"10.3.0.{n}")
                                for c, n in zip("abcde", range(1, 6))])


def parse_srv(rdata):
    """(priority, weight, port) of an SRV RDATA."""
    return (int.from_bytes(rdata[0:2], "big"), int.from_bytes(rdata[2:4], "big"),
            int.from_bytes(rdata[4:6], "big"))


class SeedTest(unittest.TestCase):
    """dns.seed makes the orders reproducible: two servers with one seed agree."""

    def orders(self, seed):
        services = harness.render_services([WEIGHTED])
        with harness.Server(server={"threads": 1}, dns={"seed": seed}, extra=services) as server:
            wire = dns.message.make_query("weighted.svc.internal", "A").to_wire()
            responses = harness.udp_stream(server.port, [wire] * 300)
            self.assertNotIn(None, responses)
            return [tuple(harness.answer_rdata(wire, r)) for r in responses]

    def test_same_seed_same_orders(self):
        first = self.orders(SEED)
        self.assertEqual(first, self.orders(SEED))
        self.assertNotEqual(first, self.orders(SEED + 1))


class RoundRobinTest(OrderTestCase):
    SERVER_ARGS = {"server": {"threads": 1}, "dns": {"order": "round-robin", "seed": SEED},
                   "extra": harness.render_services([ROUND_ROBIN])}

    def test_exact_proportions(self):
        # Smooth weighted round robin repeats every Σw = 6 answers, so 60 consecutive
        # answers start with each instance exactly 10, 20 and 30 times, whatever came before.
        for _ in range(2):
            counts = {"10.4.0.1": 0, "10.4.0.2": 0, "10.4.0.3": 0}
            for records in self.first_addresses("rr.svc.internal", 60):
                self.assertNotIn("10.4.0.99", records)
                self.assertEqual(sorted(records), sorted(counts), records)
                counts[records[0]] += 1
            self.assertEqual([counts[a] for a in sorted(counts)], [10, 20, 30], counts)

    def test_spread_within_each_period(self):
        answers = self.first_addresses("rr.svc.internal", 60)
        for start in range(0, 60, 6):
            firsts = sorted(records[0] for records in answers[start:start + 6])
            self.assertEqual(firsts, ["10.4.0.1"] + ["10.4.0.2"] * 2 + ["10.4.0.3"] * 3,
                             f"answers {start}..{start + 5}")


if __name__ == "__main__":
    unittest.main()
