#!/usr/bin/python3
"""Do weights hold behind caching resolvers? Clients spread over many loopback prefixes ask a
real resolver for a service with weights 1:2:3:4, over time; per resolver and service setting
this reports the chi-square of the first address against the weights and the upstream query
rate (A queries signpostd answered, from its /metrics, per client query).

Services (all four instances on 10.7.0.1-4, weights 1:2:3:4):
  web       default settings (dns.ttl 5, dns.answer_limit 8)
  web-once  [[service]] ttl = 0, answer_limit = 1 (for resolvers that send no ECS)

Resolvers (Debian packages, started on free loopback ports, stopped by pid):
  unbound   subnetcache module, send-client-subnet: 127.0.0.1, /24
  pdns      PowerDNS Recursor, ecs-add-for 127.0.0.0/8, edns-subnet-allow-list svc.internal
  dnsmasq   add-subnet=24
  bind      named, forward zone (no ECS to authoritatives)
  knot      Knot Resolver, STUB policy (no ECS to authoritatives)

Each client query comes from a socket bound to 127.a.b.1, a /24 of its own among
--prefixes, picked at random (seeded), paced evenly over --duration seconds. Bounded: at
most --queries queries, each waiting at most 2 s, loopback only.

  SIGNPOSTD=build/dns/daemon/signpostd tests/bench/resolver_weighting.py
  ... --resolvers unbound,bind --queries 2000 --duration 5
"""

import argparse
import os
import random
import re
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import dns.message
import dns.rdatatype

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
import harness  # noqa: E402  (signpostd starter, free ports)
import resolvers  # noqa: E402  (the unbound starter)

WEIGHTS = {"10.7.0.1": 1, "10.7.0.2": 2, "10.7.0.3": 3, "10.7.0.4": 4}
LOOPBACK = harness.LOOPBACK
DOMAIN = "svc.internal"


def services():
    instances = [{"id": f"i{n}", "node": f"n{n}", "addresses": [a], "weight": w}
                 for n, (a, w) in enumerate(WEIGHTS.items(), start=1)]
    return [{"name": "web", "port": 80, "instances": instances},
            {"name": "web-once", "port": 80, "ttl": 0, "answer_limit": 1, "instances": instances}]


class Process(harness.ChildProcess):
    """A resolver started from a config in its own temporary folder, stopped by pid."""

    name = "?"

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.port = None
        self.process = None
        self.workdir = tempfile.mkdtemp(prefix=f"signpost-bench-{self.name}-")
        self.log_path = os.path.join(self.workdir, "log")

    def command(self):
        raise NotImplementedError

    def start(self):
        for _ in range(3):
            self.port = harness.free_port()
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                                stdout=log, stderr=log, cwd=self.workdir)
            if self.wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{self.log()[-3000:]}")

    def wait_ready(self):
        query = dns.message.make_query(f"web.{DOMAIN}.", "A").to_wire()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if harness.udp_exchange(self.port, query, timeout=0.3) is not None:
                return True
            time.sleep(0.1)
        return False

    def write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path


class UnboundSubnet(resolvers.Unbound):
    """unbound with its subnet cache, sending the client's /24 to signpostd; the recipe of
    docs/resolvers.md, no DNSSEC validation."""

    def __init__(self, upstream_port):
        super().__init__(upstream_port, validate=False, subnet_cache=True)


class PowerDns(Process):
    name = "pdns"

    def command(self):
        conf = self.write("recursor.conf", "\n".join([
            f"local-address={LOOPBACK}", f"local-port={self.port}", "daemon=no",
            f"socket-dir={self.workdir}", "threads=1", "allow-from=127.0.0.0/8",
            f"forward-zones={DOMAIN}={LOOPBACK}:{self.upstream_port}", "dont-query=",
            "dnssec=off", "ecs-add-for=127.0.0.0/8", f"edns-subnet-allow-list={DOMAIN}",
            "ecs-ipv4-bits=24", "minimum-ttl-override=0", "loglevel=4", "quiet=yes", ""]))
        return ["pdns_recursor", f"--config-dir={os.path.dirname(conf)}"]


class Dnsmasq(Process):
    name = "dnsmasq"

    def command(self):
        return ["dnsmasq", "-k", "--conf-file=/dev/null", f"--port={self.port}",
                f"--listen-address={LOOPBACK}", "--bind-interfaces", "--no-resolv", "--no-hosts",
                f"--server=/{DOMAIN}/{LOOPBACK}#{self.upstream_port}", "--add-subnet=24",
                "--cache-size=10000", "--user=root", f"--pid-file={self.workdir}/pid"]


class Bind(Process):
    name = "bind"

    def command(self):
        conf = self.write("named.conf", f"""
options {{
  directory "{self.workdir}";
  pid-file "{self.workdir}/named.pid";
  listen-on port {self.port} {{ {LOOPBACK}; }};
  listen-on-v6 {{ none; }};
  recursion yes;
  allow-query {{ 127.0.0.0/8; }};
  allow-recursion {{ 127.0.0.0/8; }};
  dnssec-validation no;
  query-source address {LOOPBACK};
}};
zone "{DOMAIN}" {{ type forward; forward only; forwarders {{ {LOOPBACK} port {self.upstream_port}; }}; }};
""")
        return ["named", "-g", "-n", "1", "-c", conf]


class KnotResolver(Process):
    name = "knot"

    def command(self):
        conf = self.write("kresd.conf", f"""
net.listen('{LOOPBACK}', {self.port}, {{ kind = 'dns' }})
cache.size = 20 * MB
cache.min_ttl(0)
trust_anchors.remove('.')
-- TTL 0 is kept to the end of the second it came in: web-once goes around the cache.
policy.add(policy.suffix(policy.FLAGS({{'NO_CACHE'}}), {{todname('web-once.{DOMAIN}.')}}))
policy.add(policy.suffix(policy.STUB({{'{LOOPBACK}@{self.upstream_port}'}}),
                         {{todname('{DOMAIN}.')}}))
""")
        return ["kresd", "-n", "-q", "-c", conf, self.workdir]


RESOLVERS = {"unbound": UnboundSubnet, "pdns": PowerDns, "dnsmasq": Dnsmasq, "bind": Bind,
             "knot": KnotResolver}


def a_queries(http_port):
    """A queries signpostd has answered, summed over rcodes and transports."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{http_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(m.group(1)) for m in re.finditer(
        r'^signpost_dns_queries_total\{[^}]*qtype="A"[^}]*\} (\S+)$', text, re.M))


def run_clients(port, name, prefixes, queries, duration, seed):
    """Sends `queries` A queries for `name` paced over `duration` seconds, each from a
    random one of `prefixes` source /24s; returns {first address: count}, the unanswered
    count, and {source: the first address it got last}."""
    rng = random.Random(seed)
    sources = [f"127.{1 + p // 250}.{p % 250}.1" for p in range(prefixes)]
    wire = dns.message.make_query(name, "A").to_wire()
    counts = {}
    by_source = {}
    lost = 0
    pending = {}
    start = time.monotonic()
    sent = 0
    while sent < queries or pending:
        now = time.monotonic()
        while sent < queries and now >= start + sent * duration / queries and len(pending) < 512:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            source = rng.choice(sources)
            s.bind((source, 0))
            s.sendto(wire, (LOOPBACK, port))
            pending[s] = (now + 2.0, source)
            sent += 1
        next_send = start + sent * duration / queries if sent < queries else now + 0.05
        ready, _, _ = select.select(list(pending), [], [], max(0.0, min(next_send - now, 0.05)))
        for s in ready:
            response = dns.message.from_wire(s.recv(65535))
            rrsets = [r for r in response.answer if r.rdtype == dns.rdatatype.A]
            if rrsets:
                first = str(list(rrsets[0])[0])
                counts[first] = counts.get(first, 0) + 1
                by_source[pending[s][1]] = first
            else:
                lost += 1
            del pending[s]
            s.close()
        now = time.monotonic()
        for s, (deadline, _) in list(pending.items()):
            if deadline < now:
                lost += 1
                del pending[s]
                s.close()
    return counts, lost, by_source


def chi_square(counts):
    total = sum(counts.get(a, 0) for a in WEIGHTS)
    weight_sum = sum(WEIGHTS.values())
    return sum((counts.get(a, 0) - total * w / weight_sum) ** 2 / (total * w / weight_sum)
               for a, w in WEIGHTS.items())


def measure(resolver_name, service, server, http_port, args):
    resolver = RESOLVERS[resolver_name](server.port)
    try:
        resolver.start()
        before = a_queries(http_port)
        counts, lost, by_source = run_clients(resolver.port, f"{service}.{DOMAIN}.", args.prefixes,
                                   args.queries, args.duration, args.seed)
        upstream = a_queries(http_port) - before
    finally:
        resolver.stop()
        resolver.cleanup()
    total = sum(counts.values())
    per_prefix = {}
    for address in by_source.values():
        per_prefix[address] = per_prefix.get(address, 0) + 1
    shares = "/".join(f"{counts.get(a, 0) / max(total, 1):.2f}" for a in WEIGHTS)
    return {"resolver": resolver_name, "service": service, "answered": total, "lost": lost,
            "chi2": chi_square(counts), "prefix_chi2": chi_square(per_prefix), "shares": shares,
            "upstream_per_query": upstream / max(args.queries, 1),
            "upstream_per_s": upstream / args.duration}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolvers", default=",".join(RESOLVERS))
    parser.add_argument("--prefixes", type=int, default=1000, help="client /24s (<= 60000)")
    parser.add_argument("--queries", type=int, default=4000, help="client queries per run")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.queries = min(args.queries, 100000)
    args.prefixes = max(1, min(args.prefixes, 60000))
    args.duration = max(0.1, min(args.duration, 120.0))
    http_port = harness.free_port()
    extra = harness.render_services(services()) + f'[http]\nlisten = ["{LOOPBACK}:{http_port}"]\n'
    server = harness.Server(extra=extra, server={"threads": 1})
    server.start()
    try:
        print(f"{args.queries} queries over {args.duration:g} s from {args.prefixes} /24s, "
              "weights 1:2:3:4 (chi-square 3 dof: p = 0.001 at 16.3)")
        print("| resolver | service | chi-square | per prefix | first-address shares "
              "| upstream A / client query | upstream A / s | unanswered |")
        print("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |")
        for name in args.resolvers.split(","):
            for service in ("web", "web-once"):
                row = measure(name, service, server, http_port, args)
                print(f"| {row['resolver']} | {row['service']} | {row['chi2']:.1f} "
                      f"| {row['prefix_chi2']:.1f} | {row['shares']} "
                      f"| {row['upstream_per_query']:.3f} | {row['upstream_per_s']:.1f} "
                      f"| {row['lost']} |", flush=True)
    finally:
        server.stop()
        server.cleanup()


if __name__ == "__main__":
    main()
