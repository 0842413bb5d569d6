#!/usr/bin/env python3
"""RSS per instance: static instances against instances registered by UPDATE, in one run.

Starts signpostd three times on loopback: with no instances, with N static instances (each
on a node of its own) and with N instances registered by signed UPDATEs (each on a node of
its own, the same records). Prints the RSS each adds per instance and their ratio.

  SIGNPOSTD=build/dns/daemon/signpostd tests/bench/instance_memory.py [N]
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system"))

import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.tsig  # noqa: E402
import dns.tsigkeyring  # noqa: E402
import dns.update  # noqa: E402

from harness import LOOPBACK, Server  # noqa: E402

SECRET = "YnVsayBrZXkgZm9yIHRlc3RzIDAxMjM0NTY3ODlhYmNkZWY="
PER_UPDATE = 250


def config(count):
    return f"""
[health]
max_lease = 3600

[[key]]
name = "bulk-key"
secret = "{SECRET}"
max_instances = {count}
"""


def address(index):
    return f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"


def static_services(count):
    lines = ["[[service]]", 'name = "bulk"', "port = 80", ""]
    for index in range(count):
        lines += ["[[service.instance]]", f'id = "b{index}"', f'node = "n{index}"',
                  f'addresses = ["{address(index)}"]', ""]
    return "\n".join(lines) + "\n"


def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settled_rss(server):
    # The registry thread publishes and frees what it built, and once the registry has been
    # quiet for a second the server gives the freed heap back (dns/daemon/app.cpp).
    time.sleep(4)
    return rss_kib(server.process.pid)


def register(port, count):
    keyring = dns.tsigkeyring.from_text({"bulk-key": SECRET})
    for first in range(0, count, PER_UPDATE):
        message = dns.update.UpdateMessage("svc.internal.", keyring=keyring, keyname="bulk-key",
                                           keyalgorithm=dns.tsig.HMAC_SHA256)
        for index in range(first, min(count, first + PER_UPDATE)):
            message.add(f"b{index}._bulk._tcp", 3600, "SRV", f"0 1 80 n{index}.node.svc.internal.")
            message.add(f"n{index}.node", 3600, "A", address(index))
        response = dns.query.tcp(message, LOOPBACK, port=port, timeout=30)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"registration refused: {dns.rcode.to_text(response.rcode())}")


def measure(count):
    with Server(extra=config(count)) as empty:
        base = settled_rss(empty)
    with Server(extra=config(count) + static_services(count)) as static:
        static_kib = settled_rss(static) - base
    with Server(extra=config(count)) as dynamic:
        register(dynamic.port, count)
        dynamic_kib = settled_rss(dynamic) - base
    static_octets = static_kib * 1024 / count
    dynamic_octets = dynamic_kib * 1024 / count
    print(f"{count} instances, each on its own node: static {static_octets:.0f} B each, "
          f"registered by UPDATE {dynamic_octets:.0f} B each, ratio "
          f"{dynamic_octets / static_octets:.2f}")


if __name__ == "__main__":
    measure(int(sys.argv[1]) if len(sys.argv) > 1 else 50000)
