"""Real clients against signpostd: the c-ares library (tests/system/cares_query) over UDP
and TCP, and unbound as a recursive resolver with stub zones pointing at signpostd, asked
with dig the way an application's resolver would be."""

import unittest

import harness
import resolvers
from harness import cares_query, dig
from test_dns_basics import WEB_SERVICE

# cares_query's exit statuses.
ANSWER, NODATA, NXDOMAIN, REFUSED = 0, 2, 3, 4

BIG_ADDRESSES = sorted(f"198.51.100.{i}" for i in range(1, 101))


class CaresTest(harness.ServerTestCase):
    SERVER_ARGS = {"extra": WEB_SERVICE}
    TRANSPORTS = ((), ("--tcp",), ("--edns",))

    def query(self, name, rtype, expected_exit=ANSWER):
        """cares_query over each transport; returns {transport: records}, where records are
        the output lines after rcode and flags."""
        out = {}
        for options in self.TRANSPORTS:
            code, lines = cares_query(self.port, name, rtype, *options)
            context = f"cares_query {name} {rtype} {' '.join(options)}:\n" + "\n".join(lines)
            self.assertEqual(code, expected_exit, context)
            self.assertTrue(lines and lines[0].startswith("rcode "), context)
            flags = lines[1].split()[1:] if len(lines) > 1 else []
            self.assertIn("qr", flags, context)
            self.assertIn("aa", flags, context)
            out[options] = lines[2:]
        return out

    def test_a(self):
        for records in self.query("www.example.test", "A").values():
            self.assertEqual(sorted(records), ["A 192.0.2.10 300", "A 192.0.2.11 300"])

    def test_aaaa(self):
        for records in self.query("www.example.test", "AAAA").values():
            self.assertEqual(records, ["AAAA 2001:db8::10 300"])

    def test_mx(self):
        for records in self.query("mx.example.test", "MX").values():
            self.assertEqual(records, ["MX 10 mail.example.test"])

    def test_srv(self):
        for records in self.query("_http._tcp.example.test", "SRV").values():
            self.assertEqual(records, ["SRV 10 60 80 www.example.test"])

    def test_txt(self):
        for records in self.query("text.example.test", "TXT").values():
            self.assertEqual(sorted(records),
                             ['TXT "hello world"', 'TXT "v=demo1" "second string"'])

    def test_soa(self):
        for records in self.query("example.test", "SOA").values():
            self.assertEqual(records, [
                "SOA ns.example.test hostmaster.example.test 2026112801 3600 600 86400 300"])

    def test_cname_chain(self):
        for records in self.query("chain1.example.test", "A").values():
            addresses = sorted(r for r in records if r.startswith("A "))
            self.assertEqual(addresses, ["A 192.0.2.10 300", "A 192.0.2.11 300"], records)
            aliases = {r.lower() for r in records if r.startswith("CNAME ")}
            self.assertTrue(aliases, f"c-ares saw no CNAME: {records}")

    def test_wildcard(self):
        for records in self.query("anything.wild.example.test", "A").values():
            self.assertEqual(records, ["A 192.0.2.99 300"])

    def test_nxdomain(self):
        for records in self.query("nothere.example.test", "A", NXDOMAIN).values():
            self.assertEqual(records, ["status Domain name not found"])

    def test_nodata(self):
        self.query("b.example.test", "A", NODATA)

    def test_refused_outside_the_zones(self):
        for options in self.TRANSPORTS:
            code, lines = cares_query(self.port, "www.elsewhere.invalid", "A", *options)
            self.assertEqual(code, REFUSED, "\n".join(lines))

    def test_truncated_answer_retried_over_tcp(self):
        # Without EDNS the 100 records cannot come over UDP; c-ares sees TC and asks again
        # over TCP.
        for records in self.query("big.example.test", "A").values():
            self.assertEqual(sorted(r.split()[1] for r in records), BIG_ADDRESSES)

    def test_registry_service(self):
        for records in self.query("web.svc.internal", "A").values():
            self.assertEqual(sorted(records), ["A 192.0.2.21 5", "A 192.0.2.22 5"])
        for records in self.query("_web._tcp.svc.internal", "SRV").values():
            targets = sorted((r.split()[3], r.split()[4]) for r in records)
            self.assertEqual(targets, [("8080", "node-1.node.svc.internal"),
                                       ("8080", "node-2.node.svc.internal")], records)


class UnboundTest(unittest.TestCase):
    """unbound resolves the served zones through stub zones pointing at signpostd: the
    recipe's for the registry zone and one for the fixture zone, without DNSSEC validation
    (the fixture zone is unsigned and has no exemption)."""

    TCP_UPSTREAM = False

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(extra=WEB_SERVICE)
        cls.server.start()
        cls.unbound = resolvers.Unbound(cls.server.port, upstream_zones=("example.test.",),
                                        validate=False, tcp_upstream=cls.TCP_UPSTREAM)
        try:
            cls.unbound.start()
        except BaseException:
            cls.server.stop()
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.unbound.stop()
        cls.unbound.cleanup()
        cls.server.stop()
        cls.server.cleanup()

    def resolve(self, name, rtype="A", *options):
        r = dig(self.unbound.port, name, rtype, *options)
        r.text = f"dig @unbound {name} {rtype}\n{r.text}\nunbound log:\n{self.unbound.log()}"
        return r

    def assert_recursive(self, r, status):
        self.assertEqual(r.status, status, r.text)
        self.assertIn("ra", r.flags, "the resolver sets RA\n" + r.text)
        self.assertIn("rd", r.flags, r.text)
        self.assertNotIn("aa", r.flags, "a resolver's answer is not authoritative\n" + r.text)

    def test_a(self):
        r = self.resolve("www.example.test")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(sorted(r.rdata()), ["192.0.2.10", "192.0.2.11"], r.text)

    def test_cname_chain(self):
        r = self.resolve("chain1.example.test")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(sorted(r.rdata(rtype="A")), ["192.0.2.10", "192.0.2.11"], r.text)
        self.assertEqual(len(r.rdata(rtype="CNAME")), 2, r.text)
        self.assertEqual(r.answer[0].name.lower(), "chain1.example.test.", r.text)

    def test_nxdomain(self):
        r = self.resolve("nothere.example.test")
        self.assert_recursive(r, "NXDOMAIN")
        self.assertEqual(r.types("authority"), ["SOA"], r.text)

    def test_nodata_at_empty_non_terminal(self):
        r = self.resolve("b.example.test")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(r.answer, [], r.text)

    def test_wildcard(self):
        r = self.resolve("x.wild.example.test")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual([(x.name, x.rdata) for x in r.answer],
                         [("x.wild.example.test.", "192.0.2.99")], r.text)

    def test_srv(self):
        r = self.resolve("_http._tcp.example.test", "SRV")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(r.rdata(), ["10 60 80 www.example.test."], r.text)

    def test_mx(self):
        r = self.resolve("mx.example.test", "MX")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(r.rdata(), ["10 mail.example.test."], r.text)

    def test_registry_service(self):
        r = self.resolve("web.svc.internal")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(sorted(r.rdata()), ["192.0.2.21", "192.0.2.22"], r.text)
        r = self.resolve("_web._tcp.svc.internal", "SRV")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(sorted(x.split()[3] for x in r.rdata()),
                         ["node-1.node.svc.internal.", "node-2.node.svc.internal."], r.text)

    def test_registry_nxdomain(self):
        r = self.resolve("nosuchservice.svc.internal")
        self.assert_recursive(r, "NXDOMAIN")

    def test_big_rrset(self):
        # unbound gets TC over UDP (unless it already uses TCP) and fetches it over TCP.
        r = self.resolve("big.example.test", "A", "+tcp")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(sorted(r.rdata()), BIG_ADDRESSES, r.text[:3000])


class UnboundTcpUpstreamTest(UnboundTest):
    """The same through an unbound that talks to signpostd over TCP only."""

    TCP_UPSTREAM = True


if __name__ == "__main__":
    unittest.main()
