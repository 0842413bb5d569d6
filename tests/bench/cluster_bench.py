#!/usr/bin/env python3
"""The etcd backend under load: three signpostd on one three-member etcd cluster, loopback.

  tests/bench/cluster_bench.py [--build-dir build] [--quick] [--data-parent /dev/shm]

Needs signpostd and signpost_bench_heartbeats built in the build folder, /usr/bin/etcd and
etcdctl (etcd-server, etcd-client). Prints three figures:

(a) registrations per second through the etcd backend: `--registrations` distinct
    instances registered by signed UPDATE at server 0 (the heartbeat generator, 64 in
    flight), timed from the first UPDATE until server 1 answers every one of them;
(b) etcd proposals per second under `--rate` renewals per second: one generator per
    server renews a run of instances of its own (none changes) for `--duration` seconds;
    etcd_server_proposals_committed_total from a member's /metrics before and after, with
    the renewals per second achieved and etcd's CPU;
(c) time to serve `--instances` instances after start: the registry is preloaded by
    registering it through server 0 (leases of an hour), the three servers are stopped,
    and a fresh signpostd is timed from its process start until it answers the SRV query of
    the last service in full.

A renewal is signed once, before the timed phase, and a signed UPDATE is accepted once
(the replay guard), so each instance is renewed at most once: --rate x --duration may not
exceed --instances. Everything runs on 127.0.0.1 and is stopped by pid; every wait is
bounded. --quick: 2,000 registrations, 20,000 instances, 2 s of renewals.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))

import dns.message  # noqa: E402

import bench_measure  # noqa: E402
from etcd_cluster import EtcdCluster  # noqa: E402
from harness import Server, header_of, udp_stream  # noqa: E402

KEY_NAME = "bench-key"
SECRET = "Y2x1c3RlciBiZW5jaCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="
PREFIX = "/signpost-bench/"
PER_SERVICE = 10        # the heartbeat generator's instances per service (h0000: i0..i9)
LEASE = 3600            # long enough that nothing expires during the run
VISIBLE_TIMEOUT = 300   # seconds a server may take to list every registration
SERVE_TIMEOUT = 120     # seconds a fresh server may take to load the registry


def config(endpoints, instances):
    listed = ", ".join(f'"{e}"' for e in endpoints)
    return f"""
[registry]
backend = "etcd"
etcd_endpoints = [{listed}]
etcd_prefix = "{PREFIX}"

[health]
max_lease = {LEASE}

[[key]]
name = "{KEY_NAME}"
secret = "{SECRET}"
max_instances = {instances}
"""


def srv_query(service):
    """The SRV query of the generator's service number `service`, with EDNS (ten SRV
    records and their glue take more than 512 octets)."""
    name = f"_h{service:04d}._tcp.svc.internal."
    return dns.message.make_query(name, "SRV", use_edns=0, payload=1232).to_wire()


def complete(port, services):
    """The services among `services` whose SRV answer on `port` holds all ten instances."""
    wires = [srv_query(s) for s in services]
    done = set()
    for service, wire in zip(services, udp_stream(port, wires, window=64, retries=1)):
        if wire is not None and wire[3] & 0x0F == 0 and header_of(wire)[3] == PER_SERVICE:
            done.add(service)
    return done


def wait_all_listed(port, services, timeout):
    """Polls until `port` lists every instance of `services` services; returns the monotonic
    time it first did, or raises."""
    pending = set(range(services))
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} services still incomplete after {timeout} s")
        pending -= complete(port, sorted(pending))
        if pending:
            time.sleep(0.05)
    return time.monotonic()


class ServedServer(Server):
    """signpostd timed from its process start until it answers the last service in full."""

    last_service = 0

    def wait_ready(self):
        self.started = time.monotonic()
        wire = srv_query(self.last_service)
        deadline = self.started + SERVE_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            answer = udp_stream(self.port, [wire], timeout=0.2, retries=0)[0]
            if answer is not None:
                self.first_answer = time.monotonic() - self.started
                self.first_complete = header_of(answer)[3] == PER_SERVICE
                return True
            time.sleep(0.005)
        return False


def next_second():
    """Waits until the wall clock's second changes: an UPDATE the generator signs in the
    same second as an earlier one of the same instance has the same bytes (its ID is 0 as
    signed), so the server would refuse it as a replay."""
    now = time.time()
    time.sleep(int(now) + 1.05 - now)


def generator(binary, port, instances, rate=1):
    cores = f"0-{os.cpu_count() - 1}"  # not pinned: the cluster shares every core
    return bench_measure.Heartbeats(binary, port, cores, KEY_NAME, SECRET, instances, rate, 0)


def start_servers(cluster, count, instances):
    servers = []
    endpoints = cluster.endpoints()
    for i in range(count):
        # Each server lists every member, its own first.
        rotated = endpoints[i:] + endpoints[:i]
        server = ServedServer(dns={"answer_limit": 0}, extra=config(rotated, instances))
        servers.append(server)
        server.start()
    return servers


def registrations(binary, servers, cluster, count):
    """(a): returns (registrations/s until listed by server 1, seconds the UPDATEs took,
    proposals per registration)."""
    before = cluster.proposals_committed()
    started = time.monotonic()
    sent = generator(binary, servers[0].port, count).register()
    listed = wait_all_listed(servers[1].port, count // PER_SERVICE, VISIBLE_TIMEOUT)
    seconds = listed - started
    proposals = cluster.proposals_committed() - before
    print(f"(a) {count} registrations at server 0: UPDATEs answered in {sent:.2f} s, all "
          f"listed by server 1 after {seconds:.2f} s: {count / seconds:,.0f} registrations/s; "
          f"{proposals / count:.2f} etcd proposals each")
    return count / seconds


def preload(binary, servers, cluster, count):
    """Registers `count` instances at server 0 and waits until etcd holds every key."""
    next_second()
    started = time.monotonic()
    generator(binary, servers[0].port, count).register()
    deadline = started + VISIBLE_TIMEOUT
    while cluster.count_keys(PREFIX + "instances/") < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"etcd holds fewer than {count} instances after "
                               f"{VISIBLE_TIMEOUT} s")
        time.sleep(0.5)
    seconds = time.monotonic() - started
    print(f"    preload: {count} instances in etcd after {seconds:.1f} s "
          f"({count / seconds:,.0f} registrations/s)")


def renewals(binary, servers, cluster, instances, rate, duration):
    """(b): returns (proposals/s, renewals/s achieved)."""
    generators = []
    share = instances // len(servers)
    for i, server in enumerate(servers):
        g = generator(binary, server.port, instances, rate / len(servers))
        g.command += ["--renew-from", str(i * share), "--lease", str(LEASE)]
        generators.append(g)
    pids = [m.process.pid for m in cluster.members]
    etcd_cpu = sum(bench_measure.cpu_seconds(p) for p in pids)
    server_cpu = sum(bench_measure.cpu_seconds(s.process.pid) for s in servers)
    next_second()
    before = cluster.proposals_committed()
    try:
        for g in generators:
            g.start(duration)
        figures = [g.finish(duration + 30) for g in generators]
    finally:
        for g in generators:
            g.kill()
    time.sleep(1.0)  # keep-alives deferred by the coalescing window
    proposals = cluster.proposals_committed() - before
    etcd_cpu = sum(bench_measure.cpu_seconds(p) for p in pids) - etcd_cpu
    server_cpu = sum(bench_measure.cpu_seconds(s.process.pid) for s in servers) - server_cpu
    achieved = sum(f["hb_rate_achieved"] for f in figures)
    noerror = sum(f["hb_noerror"] for f in figures)
    sent = sum(f["hb_sent"] for f in figures)
    lost = sum(f["hb_lost"] for f in figures)
    print(f"(b) {sent:.0f} renewals in {duration:g} s over three servers "
          f"({achieved:,.0f}/s achieved, {noerror:.0f} NOERROR, {lost:.0f} lost): "
          f"{proposals} etcd proposals, {proposals / duration:.1f}/s; CPU over the run: etcd "
          f"{etcd_cpu / duration:.0%} of a core (three members), signpostd "
          f"{server_cpu / duration:.0%} (three servers)")
    return proposals / duration, achieved


def serve_time(cluster, instances):
    """(c): a fresh signpostd, timed from its start until it serves the last service."""
    server = ServedServer(dns={"answer_limit": 0}, extra=config(cluster.endpoints(), instances))
    server.last_service = instances // PER_SERVICE - 1
    try:
        server.start()
        print(f"(c) a fresh signpostd answered _h{server.last_service:04d}._tcp "
              f"{'in full' if server.first_complete else 'INCOMPLETE'} "
              f"{server.first_answer:.2f} s after its start ({instances} instances in etcd)")
        for line in server.log().splitlines():
            if "etcd" in line:
                print("    log: " + line.split(" ", 1)[1])
        return server.first_answer
    finally:
        server.stop()
        server.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--registrations", type=int, default=10000)
    parser.add_argument("--instances", type=int, default=100000)
    parser.add_argument("--rate", type=float, default=10000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data-parent", default=None,
                        help="where etcd's data directories go (default: the temp folder)")
    args = parser.parse_args()
    if args.quick:
        args.registrations, args.instances, args.duration = 2000, 20000, 2
    if args.instances % PER_SERVICE or args.registrations % PER_SERVICE:
        parser.error("--instances and --registrations must be multiples of 10")
    if args.rate * args.duration > args.instances:
        parser.error("each instance is renewed at most once: --rate x --duration must not "
                     "exceed --instances (a renewal signed once and sent again is a replay)")
    os.environ.setdefault("SIGNPOSTD", os.path.join(args.build_dir, "dns/daemon/signpostd"))
    binary = os.path.join(args.build_dir, "tests/bench/signpost_bench_heartbeats")
    if not os.access(binary, os.X_OK):
        parser.error(f"{binary} not built (cmake --build --target signpost_bench_heartbeats)")

    cluster = EtcdCluster(3, parent=args.data_parent)
    servers = []
    try:
        cluster.start()
        servers = start_servers(cluster, 3, args.instances)
        registrations(binary, servers, cluster, args.registrations)
        preload(binary, servers, cluster, args.instances)
        renewals(binary, servers, cluster, args.instances, args.rate, args.duration)
        for server in servers:
            server.stop()
        serve_time(cluster, args.instances)
    finally:
        for server in servers:
            server.stop()
            server.cleanup()
        cluster.stop()
        cluster.cleanup()


if __name__ == "__main__":
    main()
