"""Every common resolver in front of signpostd, asked with dig the way a client would.

One signpostd serves the module; each resolver in resolvers.ALL (unbound, BIND, PowerDNS
Recursor, Knot Resolver, dnsmasq) is started once with the recipe of docs/resolvers.md and
goes through the same checks: A, AAAA, SRV with the targets' addresses, an SRV answer too
big for UDP, NXDOMAIN, NODATA, an instance whose heartbeats stop leaving the resolver's
answers within its lease and TTL, and DNSSEC validation left on in the resolver.
"""

import struct
import sys
import time
import unittest

import dns.edns
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update

import harness
import resolvers
from harness import LOOPBACK, REGISTRY_DOMAIN, dig, wait_for
from test_dns_basics import WEB_SERVICE

KEY_NAME = "resolver-test-key"
SECRET = "cmVzb2x2ZXIgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="
LEASE = 3          # seconds; heartbeat instances get a third of it as TTL (1 s)
EXPIRY_SLACK = 2.5  # seconds beyond lease + TTL, for the expiry timer and a loaded machine
BIG_INSTANCES = 60  # SRV records: more than a 1232-octet UDP answer holds

BIG_SERVICE = "\n".join(
    ["[[service]]", 'name = "big"', 'protocol = "tcp"', "port = 9000", "answer_limit = 0", ""]
    + [f'[[service.instance]]\nid = "big-{i}"\nnode = "big-{i}"\n'
       f'addresses = ["198.51.100.{i}"]\n' for i in range(1, BIG_INSTANCES + 1)])

SETTINGS = f"""
[health]
min_lease = 1

[[key]]
name = "{KEY_NAME}"
algorithm = "hmac-sha256"
secret = "{SECRET}"
"""

SERVER = None


def setUpModule():
    global SERVER
    SERVER = harness.Server(extra=WEB_SERVICE + "\n" + BIG_SERVICE + SETTINGS)
    try:
        SERVER.start()
    except BaseException:
        SERVER.cleanup()
        raise


def tearDownModule():
    code = SERVER.stop()
    log = SERVER.log()
    SERVER.cleanup()
    if code != 0:
        raise AssertionError(f"signpostd exited with status {code} on SIGTERM; log:\n"
                             + log[-4000:])


def register(service, instance, node, address, lease=LEASE):
    """Registers (or renews) one instance of _<service>._tcp with a signed UPDATE asking for
    `lease` seconds (RFC 9664); returns the rcode."""
    keyring = dns.tsigkeyring.from_text({KEY_NAME: SECRET})
    update = dns.update.UpdateMessage(REGISTRY_DOMAIN, keyring=keyring, keyname=KEY_NAME,
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    update.add(f"{instance}._{service}._tcp", lease, "SRV", f"0 1 7000 {node}.node.svc.internal.")
    update.add(f"{node}.node", lease, "A", address)
    update.use_edns(0, options=[dns.edns.GenericOption(2, struct.pack("!I", lease))])
    return dns.query.udp(update, LOOPBACK, port=SERVER.port, timeout=3).rcode()


class ResolverChecks:
    """The checks every resolver goes through; RESOLVER is a class of resolvers.py."""

    RESOLVER = None

    @classmethod
    def setUpClass(cls):
        # example.test (the fixture zone) is forwarded to signpostd without the recipe's
        # DNSSEC exemption, to show that validation is on.
        cls.resolver = cls.RESOLVER(SERVER.port, upstream_zones=("example.test.",))
        try:
            cls.resolver.start()
            cls.register_expiring_instance()
        except BaseException:
            cls.resolver.stop()
            cls.resolver.cleanup()
            raise

    @classmethod
    def register_expiring_instance(cls):
        """An instance of a service of this resolver's own, on a short lease that is never
        renewed: test_expired_instance_leaves watches it go. Registered before the checks
        so that its lease runs out while they run."""
        cls.expiring_service = "exp-" + cls.RESOLVER.NAME
        cls.expiring_srv = f"_{cls.expiring_service}._tcp.{REGISTRY_DOMAIN}"
        cls.expiring_target = f"exp-{cls.RESOLVER.NAME}.node.{REGISTRY_DOMAIN}"
        cls.register_rcode = register(cls.expiring_service, "one", f"exp-{cls.RESOLVER.NAME}",
                                      "192.0.2.77")
        cls.registered_at = time.monotonic()
        # The registry publishes a change within milliseconds; the resolver has not asked
        # for the name before, so it has nothing negative cached.
        cls.seen_before_expiry = wait_for(lambda: cls.srv_targets(cls.expiring_srv), 2.0)

    @classmethod
    def tearDownClass(cls):
        code = cls.resolver.stop()
        log = cls.resolver.log()
        cls.resolver.cleanup()
        # pdns_recursor leaves on SIGTERM's default action; the others exit 0.
        if code not in (0, -15):
            raise AssertionError(f"{cls.RESOLVER.NAME} exited with status {code}:\n{log[-3000:]}")

    @classmethod
    def srv_targets(cls, name):
        """The SRV targets the resolver answers for `name`; None without an answer (or with
        an error), so that a silent resolver never counts as an empty answer."""
        r = dig(cls.resolver.port, name, "SRV")
        if r.status not in ("NOERROR", "NXDOMAIN"):
            return None
        return sorted(x.split()[3] for x in r.rdata(rtype="SRV"))

    def resolve(self, name, rtype="A", *options):
        r = dig(self.resolver.port, name, rtype, *options)
        r.text = (f"dig @{self.RESOLVER.NAME} {name} {rtype} {' '.join(options)}\n{r.text}\n"
                  f"{self.RESOLVER.NAME} log:\n{self.resolver.log()[-3000:]}")
        return r

    def assert_recursive(self, r, status):
        self.assertEqual(r.status, status, r.text)
        self.assertIn("qr", r.flags, r.text)
        self.assertIn("ra", r.flags, "the resolver sets RA\n" + r.text)

    def assert_negative(self, r, status):
        self.assert_recursive(r, status)
        self.assertEqual(r.answer, [], r.text)
        self.assertEqual(r.types("authority"), ["SOA"], r.text)
        self.assertEqual(r.authority[0].name.lower(), REGISTRY_DOMAIN, r.text)

    def test_a(self):
        r = self.resolve("web.svc.internal", "A")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(sorted(r.rdata()), ["192.0.2.21", "192.0.2.22"], r.text)
        self.assertTrue(all(x.ttl <= 5 for x in r.answer), r.text)

    def test_aaaa(self):
        r = self.resolve("web.svc.internal", "AAAA")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(r.rdata(), ["2001:db8::21"], r.text)

    def test_srv_and_its_targets(self):
        # The first query for the name in this resolver, so the answer is built from
        # signpostd's (dnsmasq passes the additional section on only then, not from cache).
        r = self.resolve("_web._tcp.svc.internal", "SRV")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(sorted(x.split(None, 2)[2] for x in r.rdata()),
                         ["8080 node-1.node.svc.internal.", "8080 node-2.node.svc.internal."],
                         r.text)
        addresses = {("node-1.node.svc.internal.", "A"): ["192.0.2.21"],
                     ("node-1.node.svc.internal.", "AAAA"): ["2001:db8::21"],
                     ("node-2.node.svc.internal.", "A"): ["192.0.2.22"]}
        if self.RESOLVER.PASSES_ADDITIONAL:
            additional = {}
            for record in r.additional:
                additional.setdefault((record.name.lower(), record.rtype), []).append(record.rdata)
            self.assertEqual(additional, addresses, "the targets' addresses come in the "
                             "additional section\n" + r.text)
        # Whatever the additional section held, the targets resolve through the resolver.
        for (target, rtype), expected in addresses.items():
            t = self.resolve(target, rtype)
            self.assert_recursive(t, "NOERROR")
            self.assertEqual(t.rdata(), expected, t.text)

    def test_big_srv_answer_comes_whole(self):
        # signpostd answers the resolver with TC over UDP; the resolver asks again over TCP.
        # dig asks over UDP and, when the resolver's answer to it is truncated too, over TCP.
        direct = dig(SERVER.port, "_big._tcp.svc.internal", "SRV", "+bufsize=1232", "+ignore")
        self.assertIn("tc", direct.flags, "the answer does not fit in UDP\n" + direct.text)
        r = self.resolve("_big._tcp.svc.internal", "SRV")
        self.assert_recursive(r, "NOERROR")
        ports_and_targets = sorted(x.split(None, 2)[2] for x in r.rdata(rtype="SRV"))
        self.assertEqual(ports_and_targets, sorted(
            f"9000 big-{i}.node.svc.internal." for i in range(1, BIG_INSTANCES + 1)),
            r.text[:4000])

    def test_nxdomain(self):
        self.assert_negative(self.resolve("nosuchservice.svc.internal", "A"), "NXDOMAIN")

    def test_nodata(self):
        self.assert_negative(self.resolve("web.svc.internal", "TXT"), "NOERROR")

    def test_expired_instance_leaves(self):
        self.assertEqual(self.register_rcode, dns.rcode.NOERROR)
        self.assertEqual(self.seen_before_expiry, [self.expiring_target],
                         "the new instance is seen through the resolver")
        deadline = self.registered_at + LEASE + LEASE // 3 + EXPIRY_SLACK
        gone = wait_for(lambda: self.srv_targets(self.expiring_srv) == [],
                        max(0.0, deadline - time.monotonic()), interval=0.2)
        r = self.resolve(self.expiring_srv, "SRV")
        self.assertTrue(gone, "still answered after its lease and TTL\n" + r.text)
        self.assertIn(r.status, ("NOERROR", "NXDOMAIN"), r.text)

    def test_dnssec_validation_on_and_registry_exempt(self):
        r = self.resolve("web.svc.internal", "A", "+dnssec")
        self.assert_recursive(r, "NOERROR")
        self.assertEqual(sorted(r.rdata()), ["192.0.2.21", "192.0.2.22"], r.text)
        self.assertNotIn("ad", r.flags, "an unsigned zone is not authenticated\n" + r.text)
        # example.test is forwarded to signpostd as well, without the exemption: a validating
        # resolver cannot prove it insecure (the root trust anchor cannot be checked) and
        # refuses the answer, which shows that validation is on.
        r = self.resolve("www.example.test", "A", "+dnssec")
        self.assertEqual(r.status, "SERVFAIL", "validation is on for other zones\n" + r.text)


def _test_class(resolver_class):
    name = "".join(part.capitalize() for part in resolver_class.NAME.split("-")) + "Test"
    return type(name, (ResolverChecks, unittest.TestCase), {
        "RESOLVER": resolver_class, "__doc__": f"{resolver_class.NAME} in front of signpostd."})


for _resolver in resolvers.ALL:
    _class = _test_class(_resolver)
    setattr(sys.modules[__name__], _class.__name__, _class)
del _resolver, _class  # so that unittest does not find the last class twice


if __name__ == "__main__":
    unittest.main()
