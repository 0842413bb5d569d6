#!/usr/bin/env python3
"""Zone transfer out, loopback: signpostd as the primary of NSD, Knot DNS and BIND.

  tests/bench/transfer_bench.py [--build-dir build] [--instances 100000] [--rate 100]
                                [--duration 10]

Needs signpostd built in the build folder and nsd, knotd and named (nsd, knot, bind9).
Prints two figures, each beside the same measure of the secondaries themselves:
(a) a full AXFR of the registry zone holding `--instances` static instances (100 services
    of instances/100 each, each instance on its own node): the seconds dig takes to
    receive it from signpostd (signed, every message's TSIG verified), and from each
    secondary once it holds the same zone (unsigned), median of three;
(b) following changes: `--rate` registrations per second by signed UPDATE for `--duration`
    seconds; each second the serial served by signpostd and by each secondary is read, and
    the largest lag in seconds (how long ago signpostd served the serial a secondary serves
    now) is printed, with the time each secondary takes, after the last UPDATE, to serve
    the final serial.
No figure is asserted: see README.md. Everything runs on 127.0.0.1 and is stopped by pid;
every wait is bounded.
"""
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))

import dns.query  # noqa: E402
import dns.tsig  # noqa: E402
import dns.tsigkeyring  # noqa: E402
import dns.update  # noqa: E402

import harness  # noqa: E402
from harness import LOOPBACK, Server  # noqa: E402
from secondaries import KEY_NAME, KEY_SECRET, Bind, Knot, Nsd, wait_serial  # noqa: E402

ZONE = "svc.internal."
AGENT_SECRET = "dHJhbnNmZXIgYmVuY2ggYWdlbnQga2V5IDAxMjM0NTY3OA=="


def config(instances, notify_ports):
    per_service = max(1, instances // 100)
    lines = [f"""
[health]
min_lease = 1
max_lease = 3600

[[key]]
name = "agent-key"
secret = "{AGENT_SECRET}"

[[key]]
name = "{KEY_NAME}"
secret = "{KEY_SECRET}"

[[transfer]]
zone = "{ZONE}"
allow = ["127.0.0.1"]
key = "{KEY_NAME}"
notify = [{", ".join(f'"{LOOPBACK}:{port}"' for port in notify_ports)}]
notify_interval = 0.2
"""]
    for s in range((instances + per_service - 1) // per_service):
        lines.append(f'[[service]]\nname = "s{s}"\nport = 8000\n')
        for i in range(min(per_service, instances - s * per_service)):
            n = s * per_service + i
            lines.append(f'[[service.instance]]\nid = "i{i}"\nnode = "n{n}"\n'
                         f'addresses = ["10.{n >> 16}.{(n >> 8) & 255}.{n & 255}"]\n')
    return "\n".join(lines)


def axfr_seconds(port, signed):
    args = ["dig", f"@{LOOPBACK}", "-p", str(port), "+noall", "+stats", ZONE, "AXFR"]
    if signed:
        args[1:1] = ["-y", f"hmac-sha256:{KEY_NAME}:{KEY_SECRET}"]
    times = []
    for _ in range(3):
        start = time.monotonic()
        out = subprocess.run(args, capture_output=True, text=True, timeout=120)
        times.append(time.monotonic() - start)
        if "XFR size" not in out.stdout:
            return None, out.stdout[-300:]
    size = [line for line in out.stdout.splitlines() if "XFR size" in line][0]
    return statistics.median(times), size.lstrip("; ")


def register(port, name, n):
    ring = dns.tsigkeyring.from_text({"agent-key": AGENT_SECRET})
    update = dns.update.UpdateMessage(ZONE, keyring=ring, keyname="agent-key",
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    update.add(f"{name}._web._tcp", 3600, "SRV", f"0 1 8080 {name}.node.{ZONE}")
    update.add(f"{name}._web._tcp", 3600, "TXT", '"health=passing"')
    update.add(f"{name}.node", 3600, "A", f"10.200.{(n >> 8) & 255}.{n & 255}")
    update.add("_web._tcp", 3600, "PTR", f"{name}._web._tcp.{ZONE}")
    dns.query.udp(update, LOOPBACK, port=port, timeout=3)


def send_at_rate(port, rate, duration, sent):
    """Registers `rate` new instances per second for `duration` seconds; sent[0] counts."""
    start = time.monotonic()
    while time.monotonic() - start < duration:
        due = min(int((time.monotonic() - start) * rate) + 1, int(rate * duration))
        while sent[0] < due:
            register(port, f"f{sent[0]}", sent[0])
            sent[0] += 1
        time.sleep(0.002)


def follow(server, secondaries, rate, duration):
    served_at = {}  # serial -> when signpostd first served it
    lag = {s.NAME: 0.0 for s in secondaries}
    sent = [0]
    # The changes go out from a thread of their own, so that reading the serials does not
    # slow them below the rate.
    sender = threading.Thread(target=send_at_rate, args=(server.port, rate, duration, sent))
    sender.start()
    while sender.is_alive():
        now = time.monotonic()
        served_at.setdefault(secondaries[0].serial(ZONE, port=server.port), now)
        for s in secondaries:
            serial = s.serial(ZONE)
            if serial in served_at:
                lag[s.NAME] = max(lag[s.NAME], now - served_at[serial])
        time.sleep(0.01)
    sender.join()
    last = time.monotonic()
    final = secondaries[0].serial(ZONE, port=server.port)
    catch_up = {}
    for s in secondaries:
        behind = wait_serial([s], ZONE, final, 60)
        catch_up[s.NAME] = None if behind else time.monotonic() - last
    return sent[0], lag, catch_up


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"))
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10)
    options = parser.parse_args()
    harness.START_TIMEOUT = 120  # loading a large registry takes seconds on a busy host
    os.environ.setdefault("SIGNPOSTD", os.path.join(options.build_dir, "dns", "daemon", "signpostd"))
    secondaries = [Nsd(None, [ZONE]), Knot(None, [ZONE]), Bind(None, [ZONE])]
    server = Server(extra=config(options.instances, [s.port for s in secondaries]))
    server.start()
    try:
        for s in secondaries:
            s.primary_port = server.port
            s.start()
        serial = secondaries[0].serial(ZONE, port=server.port)
        behind = wait_serial(secondaries, ZONE, serial, 300)
        print(f"(a) AXFR of {options.instances} instances")
        for name, port, signed in [("signpostd", server.port, True)] + \
                [(s.NAME, s.port, False) for s in secondaries if s not in behind]:
            seconds, size = axfr_seconds(port, signed)
            print(f"    {name:10} {seconds if seconds is None else round(seconds, 3)} s  {size}")
        sent, lag, catch_up = follow(server, secondaries, options.rate, options.duration)
        print(f"(b) {sent} registrations at {options.rate}/s")
        for s in secondaries:
            print(f"    {s.NAME:10} largest lag {lag[s.NAME]:.2f} s, final serial after "
                  f"{catch_up[s.NAME] if catch_up[s.NAME] is None else round(catch_up[s.NAME], 2)} s")
    finally:
        for s in secondaries:
            s.stop()
            s.cleanup()
        server.stop()
        server.cleanup()


if __name__ == "__main__":
    main()
