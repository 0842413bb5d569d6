#!/usr/bin/python3
"""Writes the fuzz targets' seed corpus into corpus/<target>/ next to this script.

Queries and UPDATEs come from dnspython; the UPDATEs that carry TSIG are signed with the
key and at the time that fuzz_update.cpp uses, so they verify. Run it again after changing
a seed; the output is deterministic.
"""
import pathlib
import shutil
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import dns.update

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
KEY = dns.tsigkeyring.from_text(
    {"agent-key.": ("hmac-sha256", "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==")})
WRONG_KEY = dns.tsigkeyring.from_text(
    {"agent-key.": ("hmac-sha256", "b3RoZXIgc2VjcmV0IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU=")})
NOW = 1780272000  # fuzz_update.cpp's kNow
LEASE_OPTION = 2  # Update Lease, RFC 9664


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def query(name, rdtype, edns=False, **options):
    message = dns.message.make_query(name, rdtype, use_edns=0 if edns else None, **options)
    message.id = 0x1234
    return message.to_wire()


def queries():
    seeds = {
        "a_service": query("web.svc.internal.", "A"),
        "aaaa_service": query("web.svc.internal.", "AAAA", edns=True),
        "srv_edns": query("_web._tcp.svc.internal.", "SRV", edns=True, payload=4096),
        "ptr_browse": query("_web._tcp.svc.internal.", "PTR"),
        "txt_instance": query("web-1._web._tcp.svc.internal.", "TXT"),
        "tag_mixed_case": query("Primary.WEB.svc.internal.", "A"),
        "node": query("host-a.node.svc.internal.", "A"),
        "soa_apex": query("svc.internal.", "SOA", edns=True),
        "static_cname": query("chain1.example.test.", "A"),
        "static_wildcard": query("x.wild.example.test.", "MX"),
        "static_referral": query("www.sub.example.test.", "A"),
        "static_big": query("big.example.test.", "A"),
        "nxdomain": query("nope.svc.internal.", "A"),
        "refused": query("example.org.", "A"),
        "any": query("web.svc.internal.", "ANY"),
    }
    cookie = dns.message.make_query("web.svc.internal.", "SRV", use_edns=0, options=[
        dns.edns.GenericOption(10, bytes(range(8)))])
    cookie.id = 0x1234
    seeds["edns_cookie"] = cookie.to_wire()
    # EDNS Client Subnet (RFC 7871): an IPv4 /24, an IPv6 /56, and a scope set in a query.
    for name, rdtype, data in (("ecs_ipv4", "A", bytes([0, 1, 24, 0, 198, 51, 100])),
                               ("ecs_ipv6", "AAAA", bytes([0, 2, 56, 0, 0x20, 1, 0xd, 0xb8, 1, 2, 3])),
                               ("ecs_bad_scope", "A", bytes([0, 1, 24, 8, 198, 51, 100]))):
        subnet = dns.message.make_query("web.svc.internal.", rdtype, use_edns=0, options=[
            dns.edns.GenericOption(8, data)])
        subnet.id = 0x1234
        seeds[name] = subnet.to_wire()
    # COOKIE options (RFC 7873 §4): client and server cookie, the longest, malformed
    # lengths, two in one OPT, and one on an answer that does not fit.
    cookies = {
        "cookie_client_server": ("web.svc.internal.", "A", [
            bytes(range(8)) + bytes([1, 0, 0, 0, 0x65, 0x53, 0xF1, 0x00]) + bytes(8)]),
        "cookie_malformed_short": ("web.svc.internal.", "A", [bytes(5)]),
        "cookie_malformed_long": ("www.example.test.", "A", [bytes(41)]),
        "cookie_longest": ("_web._tcp.svc.internal.", "SRV", [bytes(40)]),
        "cookie_twice": ("web.svc.internal.", "A", [bytes(8), bytes(range(24))]),
        "cookie_big_answer": ("big.example.test.", "A", [bytes(range(8))]),
    }
    for seed, (name, rdtype, data) in cookies.items():
        seeds[seed] = query(name, rdtype, edns=True,
                            options=[dns.edns.GenericOption(10, d) for d in data])
    notify = dns.message.make_query("svc.internal.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    notify.id = 0x1234
    seeds["notify"] = notify.to_wire()
    for name, data in seeds.items():
        write("fuzz_query", name, data)


REGISTER = [
    ("web-1._web._tcp", 30, "SRV", "0 5 8080 host-1.node.svc.internal."),
    ("web-1._web._tcp", 30, "TXT", '"health=passing" "tags=v1" "version=2"'),
    ("host-1.node", 30, "A", "127.0.0.10"),
    ("host-1.node", 30, "AAAA", "fd00::10"),
    ("_web._tcp", 30, "PTR", "web-1._web._tcp.svc.internal."),
]


def update(records=(), deletes=(), prerequisites=(), lease=None, keyring=None):
    message = dns.update.UpdateMessage("svc.internal.")
    message.id = 777
    for owner, ttl, rdtype, rdata in records:
        message.add(owner, ttl, rdtype, rdata)
    for owner, rdtype in deletes:
        message.delete(owner, rdtype) if rdtype else message.delete(owner)
    for owner, rdtype in prerequisites:
        message.present(owner, rdtype) if rdtype else message.absent(owner)
    if lease is not None:
        message.use_edns(0, options=[dns.edns.GenericOption(LEASE_OPTION, lease.to_bytes(4, "big"))])
    if keyring is None:
        return message.to_wire()
    message.use_tsig(keyring, keyname="agent-key.")
    real_time = time.time
    time.time = lambda: NOW  # dnspython signs at time.time()
    try:
        return message.to_wire()
    finally:
        time.time = real_time


def updates():
    sign, as_is = b"\x01", b"\x00"
    write("fuzz_update", "register_signed_here", sign + update(REGISTER, lease=15))
    write("fuzz_update", "register_signed", as_is + update(REGISTER, lease=15, keyring=KEY))
    write("fuzz_update", "register_bad_sig", as_is + update(REGISTER, keyring=WRONG_KEY))
    write("fuzz_update", "register_unsigned", as_is + update(REGISTER))
    write("fuzz_update", "deregister", sign + update(deletes=[("web-1._web._tcp", None)]))
    write("fuzz_update", "drain", sign + update(
        [("web-1._web._tcp", 30, "SRV", "0 0 8080 host-1.node.svc.internal."),
         ("web-1._web._tcp", 30, "TXT", '"health=warning"')],
        deletes=[("web-1._web._tcp", "SRV")], lease=60))
    write("fuzz_update", "prerequisites", sign + update(
        REGISTER[:3], prerequisites=[("web-1._web._tcp", "SRV"), ("host-9.node", None)]))
    write("fuzz_update", "not_allowed", sign + update(
        [("x-1._other._udp", 30, "SRV", "0 1 53 host-2.node.svc.internal."),
         ("host-2.node", 30, "A", "127.0.0.11")], lease=5))


def zones():
    shutil.copy(HERE.parents[1] / "zones" / "example.test.zone",
                CORPUS / "fuzz_zone" / "example.test.zone")
    write("fuzz_zone", "relative", "$TTL 300\n"
          "@ IN SOA ns hostmaster ( 7 3600 600 86400 300 )\n"
          "  IN NS ns\n"
          "ns IN A 192.0.2.1\n"
          "www IN AAAA 2001:db8::1\n"
          "*.wild IN TXT \"a b\" c ; comment\n"
          "sub IN NS ns.sub\n"
          "ns.sub IN A 192.0.2.2\n")
    write("fuzz_zone", "origin", "$ORIGIN example.org.\n"
          "example.org. 3600 IN SOA ns.example.org. h.example.org. 1 2 3 4 5\n"
          "example.org. 3600 IN NS ns\n"
          "mail 60 IN MX 10 ns\n"
          "_sip._udp 60 IN SRV 0 1 5060 ns\n"
          "alias 60 IN CNAME www\n"
          "raw 60 IN TYPE65280 \\# 3 abcdef\n")
    write("fuzz_zone", "no_soa", "www 300 IN A 192.0.2.1\n")


def configs():
    write("fuzz_server_config", "empty", "")
    write("fuzz_server_config", "full", """\
[server]
listen = ["127.0.0.1:8053", "[::1]:0"]
threads = 2
tcp_idle_timeout = 10

[dns]
domain = "svc.internal."
ttl = 5
answer_limit = 3
order = "round_robin"
zones_dir = "zones"

[health]
min_lease = 2
max_lease = 600
warning_weight = 0.5

[[service]]
name = "web"
protocol = "tcp"
port = 8080
tags = ["v1"]

[[service.instance]]
id = "web-1"
node = "node-1"
addresses = ["192.0.2.21", "2001:db8::21"]
weight = 3

[[key]]
name = "demo-key"
algorithm = "hmac-sha256"
secret = "c2lnbnBvc3QgZGVtbyBrZXksIGxvb3BiYWNrIG9ubHk="
allow = ["web", "db-*"]
""")
    write("fuzz_server_config", "cookies_rrl", """\
[dns]
cookie_secret = "e5e973e5a6b2a43f48e7dc849e37bfcf"

[rrl]
responses_per_second = 50
slip = 2
ipv4_prefix = 24
ipv6_prefix = 56
""")
    write("fuzz_server_config", "cookies_off", """\
[dns]
cookies = false

[rrl]
responses_per_second = 50
slip = 1
""")
    write("fuzz_server_config", "cookies_not_boolean", "[dns]\ncookies = \"no\"\n")
    write("fuzz_server_config", "unknown_key", "[dns]\ndomian = \"x.\"\nttl = 0\n")
    write("fuzz_agent_config", "readme", """\
[agent]
node = "host-1"
addresses = ["127.0.0.10"]
servers = ["127.0.0.1:8053", "[::1]:53"]
send_to = "one"
key_name = "demo-key"
key_secret = "c2lnbnBvc3QgZGVtbyBrZXksIGxvb3BiYWNrIG9ubHk="
lease = 15

[[service]]
name = "web"
port = 8080
tags = ["v1"]
weight = 2
meta = { version = "2" }

[[service.check]]
type = "http"
target = "http://127.0.0.1:8080/health"
interval = 2

[[service]]
name = "dns"
protocol = "udp"
port = 53

[[service.check]]
type = "tcp"
target = "[::1]:53"
timeout = 0.5
failures_before_critical = 3
""")
    write("fuzz_agent_config", "minimal", """\
[agent]
servers = ["127.0.0.1:8053"]
key_name = "k"
key_file = "key.b64"
""")
    write("fuzz_agent_config", "exec_check", """\
[agent]
servers = ["127.0.0.1:8053"]
key_name = "k"
key_secret = "AAAA"
algorithm = "hmac-sha512"
[[service]]
name = "db"
id = "db-a"
port = 5432
[[service.check]]
type = "exec"
target = "pg_isready"
""")


def transfers():
    """AXFR and IXFR requests for fuzz_transfer, unsigned and signed at NOW."""
    write("fuzz_transfer", "axfr", query("svc.internal.", "AXFR"))
    write("fuzz_transfer", "axfr_static", query("example.test.", "AXFR"))
    ixfr = dns.message.make_query("svc.internal.", "IXFR")
    ixfr.authority.append(dns.rrset.from_text(
        "svc.internal.", 0, "IN", "SOA", "ns.svc.internal. hostmaster.svc.internal. 1 1 1 1 1"))
    write("fuzz_transfer", "ixfr", ixfr.to_wire())
    signed = dns.message.make_query("svc.internal.", "AXFR")
    signed.use_tsig(KEY, "agent-key.")
    write("fuzz_transfer", "axfr_signed", sign_at(signed))
    write("fuzz_transfer", "ixfr_without_soa", query("svc.internal.", "IXFR"))


def sign_at(message):
    """The message signed at NOW, as fuzz_transfer's clock reads."""
    real = time.time
    time.time = lambda: NOW
    try:
        return message.to_wire()
    finally:
        time.time = real


def main():
    # fuzz_state_file's seeds come from the server's own encoder (make_state_corpus).
    for target in ("fuzz_query", "fuzz_update", "fuzz_zone", "fuzz_server_config",
                   "fuzz_agent_config", "fuzz_transfer"):
        shutil.rmtree(CORPUS / target, ignore_errors=True)
    queries()
    updates()
    CORPUS.joinpath("fuzz_zone").mkdir(parents=True)
    zones()
    configs()
    transfers()


if __name__ == "__main__":
    main()
