"""Every registry name form, asked with dig, kdig and the c-ares library over UDP and TCP:
services (A, AAAA, SRV), tags, RFC 2782 SRV and DNS-SD browse names (RFC 6763), instance
SRV and TXT, nodes, service type enumeration; no-healthy-instance NODATA with an Extended
DNS Error (RFC 8914), NXDOMAIN, letter case, and an answer of 500 records over TCP and UDP.
"""

import ipaddress
import unittest

import dns.flags
import dns.message
import dns.rdatatype

import harness
from harness import cares_query, dig, kdig

DOMAIN = "svc.internal"

# web: three instances, two of them on node host-1, one with its own port and priority.
# dns: a UDP service. db: known, but every instance is drained (weight 0).
# Api: names in mixed case. big: 500 instances, all in every answer.
WEB = {"name": "web", "protocol": "tcp", "port": 8080, "tags": ["v1"], "ttl": 30, "instances": [
    {"id": "web-1", "node": "host-1", "addresses": ["127.0.0.11", "::11"], "weight": 3,
     "priority": 0, "tags": ["canary"], "meta": {"version": "15", "zone": "eu"}},
    {"id": "web-2", "node": "host-2", "addresses": ["127.0.0.12", "::12"], "port": 8081,
     "weight": 1, "priority": 1},
    {"id": "web-3", "node": "host-1", "addresses": ["127.0.0.13"], "weight": 2, "priority": 0},
]}
DNS_SERVICE = {"name": "dns", "protocol": "udp", "port": 53, "instances": [
    {"id": "dns-1", "node": "host-3", "addresses": ["127.0.0.31"]},
]}
DB = {"name": "db", "port": 5432, "instances": [
    {"id": "db-1", "node": "host-4", "addresses": ["127.0.0.41"], "weight": 0},
    {"id": "db-2", "node": "host-4", "addresses": ["127.0.0.42"], "weight": 0},
]}
# Names written in mixed case in the config are matched case-insensitively too.
MIXED = {"name": "Api", "port": 80, "instances": [
    {"id": "Api-1", "node": "Host-X", "addresses": ["127.0.0.51"], "tags": ["Blue"]},
]}
BIG_ADDRESSES = [f"10.9.{i // 250}.{i % 250 + 1}" for i in range(500)]
BIG = {"name": "big", "port": 80, "answer_limit": 0, "instances": [
    {"id": f"big-{i}", "node": f"rack-{i % 5}", "addresses": [address]}
    for i, address in enumerate(BIG_ADDRESSES)]}

WEB_SRV = ["0 2 8080 host-1.node.svc.internal", "0 3 8080 host-1.node.svc.internal",
           "1 1 8081 host-2.node.svc.internal"]
WEB_GLUE = [("host-1.node.svc.internal", "A", "127.0.0.11"),
            ("host-1.node.svc.internal", "A", "127.0.0.13"),
            ("host-1.node.svc.internal", "AAAA", "::11"),
            ("host-2.node.svc.internal", "A", "127.0.0.12"),
            ("host-2.node.svc.internal", "AAAA", "::12")]
WEB_INSTANCES = ["web-1._web._tcp.svc.internal", "web-2._web._tcp.svc.internal",
                 "web-3._web._tcp.svc.internal"]

# cares_query's exit statuses.
CARES_STATUS = {0: "NOERROR", 2: "NOERROR", 3: "NXDOMAIN", 4: "REFUSED", 5: "SERVFAIL"}

CLIENTS = ("dig", "dig+tcp", "kdig", "kdig+tcp", "c-ares", "c-ares+tcp", "c-ares+edns")


def plain(name):
    return name.lower().rstrip(".")


def canonical(rtype, rdata):
    """One text form of an RDATA for every client: names lower case without the final dot,
    addresses in their compressed form."""
    if rtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(rdata))
    if rtype == "SRV":
        priority, weight, port, target = rdata.split()
        return f"{priority} {weight} {port} {plain(target)}"
    if rtype in ("PTR", "CNAME", "NS"):
        return plain(rdata)
    return rdata


class Answer:
    """One client's response, reduced to what every client reports."""

    def __init__(self, client, status, answer, ttls=(), additional=None, flags=None, text=""):
        self.client = client
        self.status = status
        self.answer = sorted(answer)       # [(type, canonical rdata)]
        self.ttls = set(ttls)
        self.additional = additional       # [(owner, type, rdata)] or None (c-ares)
        self.flags = flags                 # set or None
        self.text = text

    def rdata(self, rtype):
        return sorted(r for t, r in self.answer if t == rtype)


def from_result(client, result):
    answer = [(r.rtype, canonical(r.rtype, r.rdata)) for r in result.answer]
    additional = [(plain(r.name), r.rtype, canonical(r.rtype, r.rdata)) for r in result.additional
                  if r.rtype != "OPT"]
    return Answer(client, result.status, answer, [r.ttl for r in result.answer], additional,
                  set(result.flags), f"{client}:\n{result.text[:4000]}")


def from_cares(client, code, lines):
    answer = []
    ttls = []
    for line in lines[2:]:
        rtype, _, rest = line.partition(" ")
        if rtype in ("A", "AAAA"):
            address, ttl = rest.split()
            answer.append((rtype, canonical(rtype, address)))
            ttls.append(int(ttl))
        elif rtype in ("SRV", "PTR", "TXT"):
            answer.append((rtype, canonical(rtype, rest)))
    flags = set(lines[1].split()[1:]) if len(lines) > 1 else set()
    return Answer(client, CARES_STATUS.get(code, f"exit {code}"), answer, ttls, None, flags,
                  f"{client} (exit {code}):\n" + "\n".join(lines[:40]))


class RegistryNamesTest(harness.ServerTestCase):
    SERVER_ARGS = {"extra": harness.render_services([WEB, DNS_SERVICE, DB, MIXED, BIG])}

    def ask(self, name, rtype, clients=CLIENTS):
        """The same question from each client: [Answer]."""
        out = []
        for client in clients:
            if client.startswith("c-ares"):
                options = {"c-ares": (), "c-ares+tcp": ("--tcp",), "c-ares+edns": ("--edns",)}
                code, lines = cares_query(self.port, name, rtype, *options[client])
                out.append(from_cares(client, code, lines))
            else:
                run = dig if client.startswith("dig") else kdig
                extra = ("+tcp",) if client.endswith("+tcp") else ()
                out.append(from_result(client, run(self.port, name, rtype, *extra)))
        return out

    def assert_answer(self, name, rtype, expected, ttl=None, clients=CLIENTS):
        """Every client gets NOERROR, AA and exactly `expected` ({type: [rdata]}) in the
        answer section; returns the Answers."""
        answers = self.ask(name, rtype, clients)
        for a in answers:
            context = f"{name} {rtype}\n{a.text}"
            self.assertEqual(a.status, "NOERROR", context)
            self.assertIn("aa", a.flags, context)
            self.assertNotIn("tc", a.flags, context)
            self.assertEqual(a.answer, sorted((t, r) for t, rs in expected.items() for r in rs),
                             context)
            if ttl is not None and (a.ttls or not a.client.startswith("c-ares")):
                self.assertEqual(a.ttls, {ttl}, context)  # c-ares reports no SRV TTL
        return answers

    def assert_status(self, name, rtype, status, clients=CLIENTS):
        for a in self.ask(name, rtype, clients):
            context = f"{name} {rtype}\n{a.text}"
            self.assertEqual(a.status, status, context)
            self.assertEqual(a.answer, [], context)

    # <service>.<domain>

    def test_service_a(self):
        self.assert_answer("web.svc.internal", "A",
                           {"A": ["127.0.0.11", "127.0.0.12", "127.0.0.13"]}, ttl=30)

    def test_service_aaaa(self):
        self.assert_answer("web.svc.internal", "AAAA", {"AAAA": ["::11", "::12"]}, ttl=30)

    def test_service_srv_targets_nodes_with_glue_once(self):
        answers = self.assert_answer("web.svc.internal", "SRV", {"SRV": WEB_SRV}, ttl=30)
        for a in answers:
            if a.additional is None:
                continue  # c-ares reports the answer section only
            # web-1 and web-3 share host-1: its addresses still appear once each.
            self.assertEqual(sorted(a.additional), WEB_GLUE, a.text)

    def test_srv_priorities_ascending(self):
        for _ in range(20):
            r = dig(self.port, "web.svc.internal", "SRV")
            priorities = [int(x.split()[0]) for x in r.rdata(rtype="SRV")]
            self.assertEqual(priorities, sorted(priorities), r.text)
            self.assertEqual(len(priorities), 3, r.text)

    # <tag>.<service>.<domain>

    def test_instance_tag(self):
        self.assert_answer("canary.web.svc.internal", "A", {"A": ["127.0.0.11"]})
        self.assert_answer("canary.web.svc.internal", "AAAA", {"AAAA": ["::11"]})
        answers = self.assert_answer("canary.web.svc.internal", "SRV",
                                     {"SRV": ["0 3 8080 host-1.node.svc.internal"]})
        for a in answers:
            if a.additional is not None:
                self.assertEqual(sorted(a.additional), WEB_GLUE[:3], a.text)

    def test_service_tag_covers_every_instance(self):
        self.assert_answer("v1.web.svc.internal", "A",
                           {"A": ["127.0.0.11", "127.0.0.12", "127.0.0.13"]})

    def test_unknown_tag_is_nxdomain(self):
        self.assert_status("blue.web.svc.internal", "A", "NXDOMAIN")

    # _<service>._<proto>.<domain>

    def test_service_type_srv(self):
        answers = self.assert_answer("_web._tcp.svc.internal", "SRV", {"SRV": WEB_SRV})
        for a in answers:
            if a.additional is not None:
                self.assertEqual(sorted(a.additional), WEB_GLUE, a.text)
        self.assert_answer("_dns._udp.svc.internal", "SRV",
                           {"SRV": ["0 1 53 host-3.node.svc.internal"]})

    def test_service_type_with_wrong_protocol_is_nxdomain(self):
        self.assert_status("_web._udp.svc.internal", "SRV", "NXDOMAIN")
        self.assert_status("_dns._tcp.svc.internal", "SRV", "NXDOMAIN")

    def test_browse_ptr(self):
        self.assert_answer("_web._tcp.svc.internal", "PTR", {"PTR": WEB_INSTANCES})
        self.assert_answer("_dns._udp.svc.internal", "PTR",
                           {"PTR": ["dns-1._dns._udp.svc.internal"]})

    # <instance>._<service>._<proto>.<domain>

    def test_instance_srv(self):
        answers = self.assert_answer("web-1._web._tcp.svc.internal", "SRV",
                                     {"SRV": ["0 3 8080 host-1.node.svc.internal"]})
        for a in answers:
            if a.additional is not None:
                self.assertEqual(sorted(a.additional), WEB_GLUE[:3], a.text)
        self.assert_answer("web-2._web._tcp.svc.internal", "SRV",
                           {"SRV": ["1 1 8081 host-2.node.svc.internal"]})

    def test_instance_txt_key_value(self):
        # RFC 6763 §6: one key=value per character-string.
        self.assert_answer("web-1._web._tcp.svc.internal", "TXT",
                           {"TXT": ['"tags=canary" "version=15" "zone=eu"']})
        # An instance without tags or metadata: one empty string (RFC 6763 §6.1).
        self.assert_answer("web-2._web._tcp.svc.internal", "TXT", {"TXT": ['""']})

    def test_instance_txt_parsed_by_dnspython(self):
        response = harness.ask_udp(self.port, harness.query_message(
            "web-1._web._tcp.svc.internal", "TXT", use_edns=0))
        self.assertIsNotNone(response)
        strings = [s for rrset in response.answer for rr in rrset for s in rr.strings]
        pairs = dict(s.decode().split("=", 1) for s in strings)
        self.assertEqual(pairs, {"tags": "canary", "version": "15", "zone": "eu"})

    def test_unknown_instance_is_nxdomain(self):
        self.assert_status("web-9._web._tcp.svc.internal", "SRV", "NXDOMAIN")

    # <node>.node.<domain>

    def test_node_addresses(self):
        self.assert_answer("host-1.node.svc.internal", "A", {"A": ["127.0.0.11", "127.0.0.13"]})
        self.assert_answer("host-1.node.svc.internal", "AAAA", {"AAAA": ["::11"]})
        self.assert_answer("host-3.node.svc.internal", "A", {"A": ["127.0.0.31"]})

    def test_node_without_ipv6_is_nodata(self):
        self.assert_status("host-3.node.svc.internal", "AAAA", "NOERROR")

    def test_unknown_node_is_nxdomain(self):
        self.assert_status("host-9.node.svc.internal", "A", "NXDOMAIN")

    # _services._dns-sd._udp.<domain>

    def test_service_type_enumeration(self):
        answers = self.ask("_services._dns-sd._udp.svc.internal", "PTR")
        for a in answers:
            self.assertEqual(a.status, "NOERROR", a.text)
            types = set(a.rdata("PTR"))
            self.assertEqual(len(types), len(a.rdata("PTR")), "no duplicates\n" + a.text)
            # db has no healthy instance; listing its type or not is both fine.
            healthy = {f"_{s}.svc.internal"
                       for s in ("web._tcp", "dns._udp", "api._tcp", "big._tcp")}
            self.assertLessEqual(healthy, types, a.text)
            self.assertLessEqual(types, healthy | {"_db._tcp.svc.internal"}, a.text)

    # DNS-SD browsing the way a user does it.

    def test_browse_then_resolve_each_instance(self):
        browse = dig(self.port, "_web._tcp.svc.internal", "PTR")
        self.assertEqual(browse.status, "NOERROR", browse.text)
        instances = browse.rdata(rtype="PTR")
        self.assertEqual(sorted(plain(i) for i in instances), WEB_INSTANCES, browse.text)
        expected = {i["id"]: i for i in WEB["instances"]}
        for instance in instances:
            srv = dig(self.port, instance, "SRV")
            self.assertEqual(srv.status, "NOERROR", srv.text)
            self.assertEqual(len(srv.answer), 1, srv.text)
            _, weight, port, target = srv.answer[0].rdata.split()
            config = expected[plain(instance).split(".")[0]]
            self.assertEqual(int(port), config.get("port", WEB["port"]), srv.text)
            self.assertEqual(int(weight), config["weight"], srv.text)
            self.assertEqual(plain(target), f"{config['node']}.node.svc.internal", srv.text)
            # The target's address from the additional section, and asked directly.
            glue = {r.rdata for r in srv.additional
                    if r.rtype == "A" and plain(r.name) == plain(target)}
            direct = dig(self.port, target, "A")
            self.assertEqual(set(direct.rdata(rtype="A")), glue, direct.text)
            self.assertIn(config["addresses"][0], glue, srv.text)
            txt = dig(self.port, instance, "TXT")
            self.assertEqual(txt.status, "NOERROR", txt.text)
            self.assertEqual(len(txt.answer), 1, txt.text)
            if "meta" in config:
                for key, value in config["meta"].items():
                    self.assertIn(f'"{key}={value}"', txt.answer[0].rdata, txt.text)

    # No healthy instance, unknown names.

    def test_no_healthy_instance_is_nodata_with_ede(self):
        for name, rtype in (("db.svc.internal", "A"), ("db.svc.internal", "AAAA"),
                            ("db.svc.internal", "SRV"), ("_db._tcp.svc.internal", "SRV")):
            for options in ((), ("+tcp",)):
                r = dig(self.port, name, rtype, *options)
                context = f"{name} {rtype} {options}\n{r.text}"
                self.assertEqual(r.status, "NOERROR", context)
                self.assertEqual(r.answer, [], context)
                self.assertEqual(r.types("authority"), ["SOA"], context)
                self.assertEqual(plain(r.authority[0].name), DOMAIN, context)
                self.assertIn("EDE", r.text, context)
                self.assertIn("no healthy instance", r.text, context)
            # kdig prints the option in its text output (EDNS on: the option needs an OPT).
            text = harness.run(["kdig", "@" + harness.LOOPBACK, "-p", str(self.port), "-q", name,
                                "-t", rtype, "+edns", "+time=3", "+retry=0"]).stdout
            self.assertIn("EDE", text, text)
            self.assertIn("no healthy instance", text, text)
            code, lines = cares_query(self.port, name, rtype, "--edns")
            self.assertEqual(code, 2, "c-ares sees NODATA\n" + "\n".join(lines))

    def test_no_healthy_instance_ede_with_dnspython(self):
        query = harness.query_message("db.svc.internal", "A", use_edns=0)
        for ask in (harness.ask_udp, harness.ask_tcp):
            response = ask(self.port, query)
            self.assertIsNotNone(response)
            self.assertEqual(response.rcode(), 0)
            self.assertEqual(response.answer, [])
            self.assertEqual([rrset.rdtype for rrset in response.authority], [dns.rdatatype.SOA])
            edes = harness.ede_options(response)
            self.assertEqual(len(edes), 1, response.to_text())
            info_code, text = edes[0]
            self.assertEqual(info_code, 0, "EDE code 0, Other (RFC 8914 §4.1)")
            self.assertIn("no healthy instance", text)
            self.assertIn("db", text)
        # Without an OPT in the query there is no OPT, and so no EDE, in the response.
        response = harness.ask_udp(self.port, harness.query_message("db.svc.internal", "A"))
        self.assertEqual(response.edns, -1, response.to_text())
        self.assertEqual(response.rcode(), 0)

    def test_healthy_service_has_no_ede(self):
        response = harness.ask_udp(self.port, harness.query_message("web.svc.internal", "A",
                                                                    use_edns=0))
        self.assertEqual(harness.ede_options(response), [], response.to_text())
        response = harness.ask_udp(self.port, harness.query_message("web.svc.internal", "MX",
                                                                    use_edns=0))
        self.assertEqual(response.answer, [])
        self.assertEqual(harness.ede_options(response), [],
                         "NODATA for a type a service never has is not an error\n"
                         + response.to_text())

    def test_unknown_service_is_nxdomain(self):
        for name, rtype in (("nosuch.svc.internal", "A"), ("_nosuch._tcp.svc.internal", "SRV"),
                            ("_nosuch._tcp.svc.internal", "PTR"),
                            ("x._nosuch._tcp.svc.internal", "TXT")):
            self.assert_status(name, rtype, "NXDOMAIN")
            r = dig(self.port, name, rtype)
            self.assertEqual(r.types("authority"), ["SOA"], r.text)
            self.assertNotIn("EDE", r.text, r.text)

    # Letter case.

    def test_names_are_case_insensitive_and_echoed(self):
        cases = [("WeB.SVC.internal", "A", {"A": ["127.0.0.11", "127.0.0.12", "127.0.0.13"]}),
                 ("CANARY.web.Svc.Internal", "A", {"A": ["127.0.0.11"]}),
                 ("_WEB._TCP.svc.internal", "SRV", {"SRV": WEB_SRV}),
                 ("_Web._Tcp.svc.internal", "PTR", {"PTR": WEB_INSTANCES}),
                 ("Web-1._web._TCP.svc.internal", "TXT",
                  {"TXT": ['"tags=canary" "version=15" "zone=eu"']}),
                 ("HOST-1.Node.svc.internal", "A", {"A": ["127.0.0.11", "127.0.0.13"]}),
                 ("_Services._DNS-SD._udp.svc.internal", "PTR", None)]
        for name, rtype, expected in cases:
            if expected is not None:
                self.assert_answer(name, rtype, expected)
            # dig sends the name as written; the owners echo its case.
            r = dig(self.port, name, rtype)
            self.assertEqual(r.status, "NOERROR", r.text)
            self.assertTrue(r.answer, r.text)
            self.assertEqual({x.name for x in r.answer}, {name + "."},
                             "the owner echoes the question's case\n" + r.text)
            query = harness.query_message(name, rtype)
            wire = harness.udp_exchange(self.port, query.to_wire())
            question = query.to_wire()[12:]
            self.assertEqual(wire[12:12 + len(question)], question, "question echoed byte for byte")

    def test_config_names_in_mixed_case(self):
        for name in ("api.svc.internal", "API.svc.internal", "blue.api.svc.internal",
                     "BLUE.Api.svc.internal"):
            self.assert_answer(name, "A", {"A": ["127.0.0.51"]})
        self.assert_answer("_Api._tcp.svc.internal", "PTR",
                           {"PTR": ["api-1._api._tcp.svc.internal"]})
        self.assert_answer("api-1._api._tcp.svc.internal", "SRV",
                           {"SRV": ["0 1 80 host-x.node.svc.internal"]})
        self.assert_answer("Host-X.node.svc.internal", "A", {"A": ["127.0.0.51"]})

    # 500 instances.

    def test_500_records_over_tcp(self):
        for client, run in (("dig", dig), ("kdig", kdig)):
            r = run(self.port, "big.svc.internal", "A", "+tcp")
            self.assertEqual(r.status, "NOERROR", r.text[:2000])
            self.assertNotIn("tc", r.flags, r.text[:2000])
            self.assertEqual(sorted(r.rdata(rtype="A")), sorted(BIG_ADDRESSES),
                             f"{client} +tcp: all 500 addresses once each")
        code, lines = cares_query(self.port, "big.svc.internal", "A", "--tcp")
        self.assertEqual(code, 0, "\n".join(lines[:10]))
        self.assertEqual(sorted(line.split()[1] for line in lines[2:]), sorted(BIG_ADDRESSES))

    def test_500_records_over_udp_fit_the_payload(self):
        # Over UDP the answer keeps as many whole records as fit the payload size (or sets
        # TC); it never exceeds the size, never repeats a record, never cuts one in half.
        for use_edns, payload, limit in ((None, 512, 512), (0, 1232, 1232), (0, 4096, 1232)):
            query = harness.query_message("big.svc.internal", "A", use_edns=use_edns,
                                          payload=payload)
            wire = harness.udp_exchange(self.port, query.to_wire())
            self.assertIsNotNone(wire)
            context = f"EDNS {use_edns} payload {payload}: {len(wire)} octets"
            self.assertLessEqual(len(wire), limit, context)
            response = dns.message.from_wire(wire)
            addresses = [rr.address for rrset in response.answer for rr in rrset]
            self.assertEqual(len(addresses), len(set(addresses)), context)
            self.assertLessEqual(set(addresses), set(BIG_ADDRESSES), context)
            if not response.flags & dns.flags.TC:
                self.assertGreater(len(addresses), 0, context)
            # A record more would not have fitted: 16 octets per A record with a pointer owner.
            self.assertGreater(len(wire) + 16, limit, context)
        # dig over UDP without TCP fallback gets that partial answer; kdig and dig with
        # their default fallback end up with an answer too.
        r = dig(self.port, "big.svc.internal", "A", "+ignore", "+bufsize=1232")
        self.assertEqual(r.status, "NOERROR", r.text[:2000])
        self.assertTrue(0 < len(r.answer) < 500, r.text[:2000])
        r = kdig(self.port, "big.svc.internal", "A")
        self.assertEqual(r.status, "NOERROR", r.text[:2000])
        self.assertTrue(r.answer, r.text[:2000])


if __name__ == "__main__":
    unittest.main()
