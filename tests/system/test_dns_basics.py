"""Authoritative answers of signpostd, asked with dig over UDP and TCP.

Runs against the fixture zone example.test. (zones/README.md lists its names) and the
registry zone svc.internal. with two static instances of a service "web".
"""

import unittest

import dns.flags
import dns.message
import dns.rcode

import harness
from harness import dig

TRANSPORTS = (("udp", ()), ("tcp", ("+tcp",)))

WEB_SERVICE = """
[[service]]
name = "web"
protocol = "tcp"
port = 8080

[[service.instance]]
id = "web-1"
node = "node-1"
addresses = ["192.0.2.21", "2001:db8::21"]
weight = 3

[[service.instance]]
id = "web-2"
node = "node-2"
addresses = ["192.0.2.22"]
weight = 1
"""

EXAMPLE_SOA = "ns.example.test. hostmaster.example.test. 2026112801 3600 600 86400 300"


class DigTestCase(harness.ServerTestCase):
    SERVER_ARGS = {"extra": WEB_SERVICE}

    def ask(self, name, rtype="A", *options, rclass="IN"):
        """dig over each transport: [(transport, result)]. Each result's text starts with
        the query, so that a failure names it."""
        results = []
        for transport, extra in TRANSPORTS:
            r = dig(self.port, name, rtype, *extra, *options, rclass=rclass)
            r.text = f"[{transport}] {name} {rclass} {rtype} {' '.join(options)}\n{r.text}"
            results.append((transport, r))
        return results

    def assert_response(self, result, status, aa=True):
        self.assertEqual(result.status, status, result.text)
        self.assertIn("qr", result.flags, result.text)
        if aa is not None:
            self.assertEqual("aa" in result.flags, aa, result.text)
        self.assertNotIn("ra", result.flags, "RA must be clear: no recursion\n" + result.text)
        self.assertNotIn("tc", result.flags, result.text)

    def assert_negative_soa(self, result, zone):
        """One SOA of `zone` in authority, with TTL min(SOA TTL, MINIMUM) (RFC 2308 §5)."""
        soas = [r for r in result.authority if r.rtype == "SOA"]
        self.assertEqual(len(soas), 1, result.text)
        self.assertEqual(harness.name_lower(soas[0].name), zone, result.text)
        apex = dig(self.port, zone, "SOA")
        self.assertEqual(len(apex.answer), 1, apex.text)
        minimum = int(apex.answer[0].rdata.split()[-1])
        self.assertEqual(soas[0].ttl, min(apex.answer[0].ttl, minimum),
                         "negative TTL must be min(SOA TTL, MINIMUM)\n" + result.text)


class HeaderTest(DigTestCase):
    def test_flags_with_recursion_desired(self):
        for _, r in self.ask("www.example.test", "A"):
            self.assert_response(r, "NOERROR")
            self.assertIn("rd", r.flags, "RD must be copied from the query\n" + r.text)

    def test_flags_without_recursion_desired(self):
        for _, r in self.ask("www.example.test", "A", "+norec"):
            self.assert_response(r, "NOERROR")
            self.assertNotIn("rd", r.flags, "RD must be copied from the query\n" + r.text)

    def test_id_echoed(self):
        for query_id in (0, 1, 0x1234, 0xFFFF):
            q = harness.query_message("www.example.test.", "A")
            q.id = query_id
            for transport, ask in (("udp", harness.ask_udp), ("tcp", harness.ask_tcp)):
                with self.subTest(transport=transport, id=query_id):
                    r = ask(self.port, q)
                    self.assertIsNotNone(r, "no response")
                    self.assertEqual(r.id, query_id)
                    self.assertEqual(r.opcode(), 0)

    def test_question_echoed_in_client_case(self):
        # 0x20: resolvers randomise the case of the qname and expect it back verbatim.
        for qname, rtype in (("WwW.ExAmPlE.TeSt.", "A"), ("ExAmPlE.TeSt.", "SOA"),
                             ("fOo.WiLd.ExAmPlE.tEsT.", "A"), ("WEB.Svc.Internal.", "A")):
            q = harness.query_message(qname, rtype)
            for transport, exchange in (("udp", harness.udp_exchange),
                                        ("tcp", harness.tcp_exchange)):
                with self.subTest(transport=transport, qname=qname):
                    wire = exchange(self.port, q.to_wire())
                    self.assertIsNotNone(wire, "no response")
                    r = dns.message.from_wire(wire)
                    self.assertEqual(r.rcode(), dns.rcode.NOERROR)
                    # dnspython compares names case-insensitively: compare the text.
                    self.assertEqual(r.question[0].name.to_text(), qname)
                    # The question section's octets are the query's, case and all.
                    end = 12 + len(q.question[0].name.to_wire()) + 4
                    self.assertEqual(wire[12:end], q.to_wire()[12:end])
                    self.assertTrue(r.answer, "no answer")
                    self.assertEqual(r.answer[0].name.to_text(), qname,
                                     "the answer's owner must carry the client's case")

    def test_question_section_present(self):
        for _, r in self.ask("www.example.test", "A"):
            self.assertEqual(r.question, [("www.example.test.", "IN", "A")], r.text)


class ApexTest(DigTestCase):
    def test_registry_apex_soa(self):
        for _, r in self.ask("svc.internal", "SOA"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.types(), ["SOA"], r.text)
            self.assertEqual(harness.name_lower(r.answer[0].name), "svc.internal.")
            fields = r.answer[0].rdata.split()
            self.assertEqual(len(fields), 7, r.text)
            self.assertEqual(int(fields[6]), 5, "SOA MINIMUM must be dns.negative_ttl (5)")

    def test_registry_apex_ns_with_glue(self):
        for _, r in self.ask("svc.internal", "NS"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(rtype="NS"), ["ns.svc.internal."], r.text)
            glue = [(x.name, x.rdata) for x in r.additional if x.rtype == "A"]
            self.assertIn(("ns.svc.internal.", harness.LOOPBACK), glue,
                          "the NS target's A (the first listen address) belongs in additional\n"
                          + r.text)

    def test_registry_ns_address(self):
        for _, r in self.ask("ns.svc.internal", "A"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(), [harness.LOOPBACK], r.text)

    def test_example_apex_soa(self):
        for _, r in self.ask("example.test", "SOA"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(), [EXAMPLE_SOA], r.text)
            self.assertEqual(r.answer[0].ttl, 3600)

    def test_example_apex_ns_with_glue(self):
        for _, r in self.ask("example.test", "NS"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(rtype="NS"), ["ns.example.test."], r.text)
            glue = {(x.name, x.rtype, x.rdata) for x in r.additional}
            self.assertIn(("ns.example.test.", "A", "192.0.2.1"), glue, r.text)
            self.assertIn(("ns.example.test.", "AAAA", "2001:db8::1"), glue, r.text)


class RecordTypesTest(DigTestCase):
    def test_a(self):
        for _, r in self.ask("www.example.test", "A"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(sorted(r.rdata()), ["192.0.2.10", "192.0.2.11"], r.text)
            self.assertEqual({x.ttl for x in r.answer}, {300})
            self.assertEqual({x.name for x in r.answer}, {"www.example.test."})

    def test_aaaa(self):
        for _, r in self.ask("www.example.test", "AAAA"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(), ["2001:db8::10"], r.text)

    def test_mx_with_additional(self):
        for _, r in self.ask("mx.example.test", "MX"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(), ["10 mail.example.test."], r.text)
            self.assertIn(("mail.example.test.", "A", "192.0.2.25"),
                          {(x.name, x.rtype, x.rdata) for x in r.additional},
                          "the exchange's address belongs in additional\n" + r.text)

    def test_txt(self):
        for _, r in self.ask("text.example.test", "TXT"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(sorted(r.rdata()), ['"hello world"', '"v=demo1" "second string"'],
                             r.text)

    def test_srv_with_additional(self):
        for _, r in self.ask("_http._tcp.example.test", "SRV"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(), ["10 60 80 www.example.test."], r.text)
            additional = {(x.name, x.rtype, x.rdata) for x in r.additional}
            for address in ("192.0.2.10", "192.0.2.11"):
                self.assertIn(("www.example.test.", "A", address), additional,
                              "the target's addresses belong in additional\n" + r.text)

    def test_unknown_type_rfc3597(self):
        for _, r in self.ask("unknown.example.test", "TYPE65280"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.types(), ["TYPE65280"], r.text)
            self.assertEqual(r.rdata(), ["\\# 4 0A000001"], r.text)

    def test_any_is_minimal(self):
        # RFC 8482: ANY gets one RRset of those at the name (or a synthesized HINFO).
        for _, r in self.ask("www.example.test", "ANY"):
            self.assert_response(r, "NOERROR")
            self.assertTrue(r.answer, "ANY at a name with data must not be empty\n" + r.text)
            self.assertEqual(len({(x.name, x.rtype) for x in r.answer}), 1,
                             "ANY must return at most one RRset (RFC 8482)\n" + r.text)
            rtype = r.answer[0].rtype
            self.assertIn(rtype, ("A", "AAAA", "HINFO"), r.text)
            if rtype == "A":
                self.assertEqual(sorted(r.rdata()), ["192.0.2.10", "192.0.2.11"], r.text)


class LookupTest(DigTestCase):
    def test_cname_chain_followed(self):
        for _, r in self.ask("chain1.example.test", "A"):
            self.assert_response(r, "NOERROR")
            records = [(harness.name_lower(x.name), x.rtype, x.rdata.lower()) for x in r.answer]
            self.assertEqual(records[:2], [
                ("chain1.example.test.", "CNAME", "alias.example.test."),
                ("alias.example.test.", "CNAME", "www.example.test."),
            ], r.text)
            self.assertEqual(sorted(records[2:]), [
                ("www.example.test.", "A", "192.0.2.10"),
                ("www.example.test.", "A", "192.0.2.11"),
            ], r.text)

    def test_cname_queried_directly(self):
        for _, r in self.ask("alias.example.test", "CNAME"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(), ["www.example.test."], r.text)

    def test_cname_leaving_the_zones(self):
        for _, r in self.ask("outside.example.test", "A"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(), ["www.elsewhere.invalid."], r.text)
            self.assertEqual(r.types(), ["CNAME"], r.text)

    def test_wildcard_synthesis(self):
        for qname in ("foo.wild.example.test.", "a.b.c.wild.example.test."):
            for _, r in self.ask(qname, "A"):
                self.assert_response(r, "NOERROR")
                self.assertEqual([(x.name, x.rtype, x.rdata) for x in r.answer],
                                 [(qname, "A", "192.0.2.99")],
                                 "the wildcard's owner must be the qname (RFC 4592)\n" + r.text)
            for _, r in self.ask(qname, "TXT"):
                self.assert_response(r, "NOERROR")
                self.assertEqual(r.rdata(), ['"wildcard"'], r.text)

    def test_wildcard_nodata(self):
        for _, r in self.ask("foo.wild.example.test", "MX"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.answer, [], r.text)
            self.assert_negative_soa(r, "example.test.")

    def test_wildcard_parent_is_empty_non_terminal(self):
        for _, r in self.ask("wild.example.test", "A"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.answer, [], r.text)
            self.assert_negative_soa(r, "example.test.")

    def test_empty_non_terminal_is_nodata(self):
        for _, r in self.ask("b.example.test", "A"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.answer, [], r.text)
            self.assert_negative_soa(r, "example.test.")
        for _, r in self.ask("a.b.example.test", "TXT"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(), ['"hello"'], r.text)

    def test_nodata_at_existing_name(self):
        for _, r in self.ask("www.example.test", "MX"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.answer, [], r.text)
            self.assert_negative_soa(r, "example.test.")

    def test_nxdomain(self):
        for _, r in self.ask("nothere.example.test", "A"):
            self.assert_response(r, "NXDOMAIN")
            self.assertEqual(r.answer, [], r.text)
            self.assert_negative_soa(r, "example.test.")
            self.assertEqual(r.authority[0].ttl, 300, r.text)

    def test_nxdomain_below_existing_name(self):
        for _, r in self.ask("deeper.www.example.test", "A"):
            self.assert_response(r, "NXDOMAIN")
            self.assert_negative_soa(r, "example.test.")

    def test_delegation_is_a_referral(self):
        for qname in ("www.sub.example.test", "sub.example.test", "ns.sub.example.test"):
            for _, r in self.ask(qname, "A"):
                self.assert_response(r, "NOERROR", aa=False)
                self.assertEqual(r.answer, [], r.text)
                self.assertEqual([(x.name, x.rtype, x.rdata) for x in r.authority],
                                 [("sub.example.test.", "NS", "ns.sub.example.test.")], r.text)
                self.assertIn(("ns.sub.example.test.", "A", "192.0.2.53"),
                              {(x.name, x.rtype, x.rdata) for x in r.additional},
                              "the referral's glue belongs in additional\n" + r.text)

    def test_names_outside_the_zones_are_refused(self):
        for qname in ("www.elsewhere.invalid", "test", "internal", "example.org", "."):
            for _, r in self.ask(qname, "A"):
                self.assertEqual(r.status, "REFUSED", r.text)
                self.assertEqual(r.answer, [], r.text)
                self.assertNotIn("ra", r.flags, r.text)

    def test_class_chaos_is_refused(self):
        for qname in ("version.bind", "www.example.test"):
            for _, r in self.ask(qname, "TXT", rclass="CH"):
                self.assertEqual(r.status, "REFUSED", r.text)
                self.assertEqual(r.answer, [], r.text)


class RegistryTest(DigTestCase):
    """Names of the registry zone, from the static service in the config."""

    def test_service_addresses(self):
        for _, r in self.ask("web.svc.internal", "A"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(sorted(r.rdata()), ["192.0.2.21", "192.0.2.22"], r.text)
            self.assertEqual({x.ttl for x in r.answer}, {5}, "registry TTL is dns.ttl (5)")
        for _, r in self.ask("web.svc.internal", "AAAA"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(), ["2001:db8::21"], r.text)

    def test_service_srv_with_addresses(self):
        for _, r in self.ask("_web._tcp.svc.internal", "SRV"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(len(r.answer), 2, r.text)
            targets = set()
            for record in r.answer:
                priority, weight, port, target = record.rdata.split()
                self.assertEqual(port, "8080", r.text)
                targets.add(target)
            self.assertEqual(targets, {"node-1.node.svc.internal.", "node-2.node.svc.internal."})
            additional = {(x.name, x.rtype, x.rdata) for x in r.additional}
            self.assertIn(("node-1.node.svc.internal.", "A", "192.0.2.21"), additional, r.text)
            self.assertIn(("node-2.node.svc.internal.", "A", "192.0.2.22"), additional, r.text)

    def test_node_address(self):
        for _, r in self.ask("node-2.node.svc.internal", "A"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.rdata(), ["192.0.2.22"], r.text)

    def test_registry_nxdomain(self):
        for _, r in self.ask("nosuchservice.svc.internal", "A"):
            self.assert_response(r, "NXDOMAIN")
            self.assert_negative_soa(r, "svc.internal.")

    def test_registry_nodata(self):
        for _, r in self.ask("web.svc.internal", "MX"):
            self.assert_response(r, "NOERROR")
            self.assertEqual(r.answer, [], r.text)
            self.assert_negative_soa(r, "svc.internal.")


class KdigTest(DigTestCase):
    """A second client library (libknot) reads the same answers, over UDP and TCP."""

    def test_kdig_sees_the_same_answers(self):
        cases = [("www.example.test", "A", "NOERROR"),
                 ("_http._tcp.example.test", "SRV", "NOERROR"),
                 ("foo.wild.example.test", "TXT", "NOERROR"),
                 ("b.example.test", "A", "NOERROR"),
                 ("nothere.example.test", "A", "NXDOMAIN"),
                 ("web.svc.internal", "A", "NOERROR"),
                 ("www.elsewhere.invalid", "A", "REFUSED")]
        for name, rtype, status in cases:
            expected = dig(self.port, name, rtype)
            for options in ((), ("+tcp",)):
                with self.subTest(qname=name, qtype=rtype, options=options):
                    r = harness.kdig(self.port, name, rtype, *options)
                    self.assertEqual(r.status, status, r.text)
                    self.assertEqual(sorted(r.rdata()), sorted(expected.rdata()), r.text)
                    self.assertEqual(r.types("authority"), expected.types("authority"), r.text)
                    if status != "REFUSED":
                        self.assertIn("aa", r.flags, r.text)


class NegativeTtlTest(harness.ServerTestCase):
    """dns.negative_ttl sets the registry SOA's MINIMUM and so the negative TTL."""

    SERVER_ARGS = {"dns": {"negative_ttl": 2, "ttl": 30}}

    def test_negative_ttl_from_config(self):
        soa = dig(self.port, "svc.internal", "SOA")
        self.assertEqual(soa.status, "NOERROR", soa.text)
        self.assertEqual(int(soa.answer[0].rdata.split()[-1]), 2, soa.text)
        r = dig(self.port, "nosuchservice.svc.internal", "A")
        self.assertEqual(r.status, "NXDOMAIN", r.text)
        self.assertEqual([x.ttl for x in r.authority if x.rtype == "SOA"], [2], r.text)


if __name__ == "__main__":
    unittest.main()
