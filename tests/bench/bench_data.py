"""The benchmark's data: the registry as signpostd static registrations, the same names
and records as a zone file for Knot DNS and NSD, and the dnsperf query files.

Service `sNNNN` has instances i0..i9, each on its own node of the service, so that an A
question gets ten addresses and an SRV question ten SRV records with ten A records of
glue. Nodes are shared between services (1,000 nodes, 100 instances each), and an
instance's address is its node's. Weights vary from 1 to 10; every priority is 0.

signpostd also gets a TSIG key for the heartbeat load (signpost_bench_heartbeats), which
registers instances of services h0000.. of its own by DNS UPDATE.
"""

import base64
import os
import random

DOMAIN = "svc.internal."
SERVICES = 10_000
INSTANCES = 10
NODES = 1_000
TTL = 5
NEGATIVE_TTL = 5
SOA_RDATA = f"ns.{DOMAIN} hostmaster.{DOMAIN} 1 3600 600 86400 {NEGATIVE_TTL}"
SEED = 20240605

# The heartbeat load: instances registered by UPDATE, renewals and changes per second, the
# lease asked for (longer than the whole comparison, so that none expires), and the key.
HEARTBEAT_INSTANCES = 30_000
HEARTBEAT_RATE = 10_000
HEARTBEAT_CHANGE_RATE = 100
HEARTBEAT_LEASE = 3600
HEARTBEAT_KEY_NAME = "bench-key"
HEARTBEAT_SECRET = base64.b64encode(b"signpost benchmark key, loopback only").decode()

# The changes the "xfr" comparison runs under (compare): the same generator with instances
# of its own and changes (a weight toggled) at CHANGE_RATE a second. It needs a renewal
# rate: one per 100 s sends none in a run. (A renewal resends an instance's last message,
# which after a change is that change, TSIG MAC and all: signpostd refuses it as a replay.)
CHANGE_INSTANCES = 1_000
CHANGE_RENEWAL_RATE = 0.01
CHANGE_RATE = 100


def service_name(service):
    return f"s{service:04d}"


def node_of(service, instance):
    """The node of an instance: ten distinct nodes per service, spread over all nodes."""
    return (service + instance * (NODES // INSTANCES)) % NODES


def node_name(node):
    return f"n{node:03d}"


def node_address(node):
    return f"10.1.{node >> 8}.{node & 0xFF}"


def weight_of(service, instance):
    return 1 + (service * 3 + instance) % 10


def port_of(service):
    return 20_000 + service


def signpost_config(port, zones_dir, services=SERVICES, threads=1, state_file="",
                    http_port=None, extra=""):
    """signpostd.toml text: `threads` workers, all records in every answer, the heartbeat
    key, the registry given as static registrations, heartbeat instances kept in
    `state_file` ("" = none), the HTTP API on loopback `http_port` (None: off, the
    default), and `extra` (more tables) before the registrations."""
    lines = [
        "[server]",
        f'listen = ["127.0.0.1:{port}"]',
        f"threads = {threads}",
        "",
        "[dns]",
        f'domain = "{DOMAIN}"',
        f'zones_dir = "{zones_dir}"',
        "answer_limit = 0",
        f"ttl = {TTL}",
        f"negative_ttl = {NEGATIVE_TTL}",
        "",
        "[health]",
        f"max_lease = {HEARTBEAT_LEASE}",
        "",
        "[registry]",
        f'state_file = "{state_file}"',
        "",
    ]
    if http_port is not None:
        lines += ["[http]", f'listen = ["127.0.0.1:{http_port}"]', ""]
    lines += [
        "[[key]]",
        f'name = "{HEARTBEAT_KEY_NAME}"',
        'algorithm = "hmac-sha256"',
        f'secret = "{HEARTBEAT_SECRET}"',
        "max_instances = 1000000",  # the heartbeat load registers more than the default 10,000
        "",
        extra,
    ]
    for s in range(services):
        lines += ["[[service]]", f'name = "{service_name(s)}"', f"port = {port_of(s)}", ""]
        for i in range(INSTANCES):
            node = node_of(s, i)
            lines += [
                "[[service.instance]]",
                f'id = "i{i}"',
                f'node = "{node_name(node)}"',
                f'addresses = ["{node_address(node)}"]',
                f"weight = {weight_of(s, i)}",
                "",
            ]
    return "\n".join(lines)


def transfer_config(key_name, secret, notify_ports):
    """[[key]] and [[transfer]] tables for the registry zone (docs/transfer.md): signed
    transfers from loopback, NOTIFY to each of `notify_ports` on 127.0.0.1."""
    notify = ", ".join(f'"127.0.0.1:{port}"' for port in notify_ports)
    return "\n".join([
        "[[key]]", f'name = "{key_name}"', 'algorithm = "hmac-sha256"', f'secret = "{secret}"',
        "", "[[transfer]]", f'zone = "{DOMAIN}"', 'allow = ["127.0.0.1"]',
        f'key = "{key_name}"', f"notify = [{notify}]", ""])


def zone_text(services=SERVICES):
    """Every name and record signpostd serves for the registry, as an RFC 1035 zone file:
    the A and SRV names with their glue, and the DNS-SD names (RFC 6763): the service
    type enumeration, each service's browse PTRs, and each instance's SRV and TXT."""
    lines = [
        f"$ORIGIN {DOMAIN}",
        f"$TTL {TTL}",
        f"@ SOA {SOA_RDATA}",
        f"@ NS ns.{DOMAIN}",
        "ns A 127.0.0.1",
    ]
    for node in range(NODES):
        lines.append(f"{node_name(node)}.node A {node_address(node)}")
    for s in range(services):
        name = service_name(s)
        lines.append(f"_services._dns-sd._udp PTR _{name}._tcp.{DOMAIN}")
        for i in range(INSTANCES):
            lines.append(f"{name} A {node_address(node_of(s, i))}")
        for i in range(INSTANCES):
            srv = f"SRV 0 {weight_of(s, i)} {port_of(s)} {node_name(node_of(s, i))}.node.{DOMAIN}"
            lines.append(f"_{name}._tcp {srv}")
            lines.append(f"_{name}._tcp PTR i{i}._{name}._tcp.{DOMAIN}")
            lines.append(f"i{i}._{name}._tcp {srv}")
            lines.append(f'i{i}._{name}._tcp TXT ""')
    return "\n".join(lines) + "\n"


def query_lines(kind, count=SERVICES, seed=SEED):
    """dnsperf input lines ("name type"): kind is "a", "srv", or "mix" (47.5% A, 47.5%
    SRV, 5% names that do not exist), over every service in a shuffled order."""
    rng = random.Random(seed)
    lines = []
    for q in range(count):
        s = rng.randrange(SERVICES)
        if kind == "a":
            lines.append(f"{service_name(s)}.{DOMAIN} A")
        elif kind == "srv":
            lines.append(f"_{service_name(s)}._tcp.{DOMAIN} SRV")
        elif q % 20 == 0:
            lines.append(f"x{s:04d}.{DOMAIN} A")
        elif q % 2 == 0:
            lines.append(f"{service_name(s)}.{DOMAIN} A")
        else:
            lines.append(f"_{service_name(s)}._tcp.{DOMAIN} SRV")
    if kind == "mix":
        rng.shuffle(lines)
    return lines


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def generate(workdir):
    """Writes the zone file and the query files under `workdir`; returns their paths.
    signpostd's config is written by the caller, once its port is known."""
    paths = {"zone": os.path.join(workdir, "svc.internal.zone"),
             "empty_zones": os.path.join(workdir, "empty-zones")}
    os.makedirs(paths["empty_zones"], exist_ok=True)
    write(paths["zone"], zone_text())
    for kind in ("a", "srv", "mix"):
        paths[kind] = os.path.join(workdir, f"queries-{kind}.txt")
        write(paths[kind], "\n".join(query_lines(kind)) + "\n")
    return paths
