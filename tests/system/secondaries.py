"""Real secondaries for the zone transfer tests: NSD, Knot DNS and BIND, each started on a
free loopback port with a config and working folder of its own, unprivileged in the way
each allows (no chroot, no user switch, no control socket it does not need), following
signpostd by TSIG-signed transfers and NOTIFY. NSD and Knot take NOTIFY only signed with
the key; BIND always takes one from a primary's address, and from others only signed. docs/transfer.md shows the same configs."""

import os
import subprocess
import tempfile
import time

from harness import ChildProcess, LOOPBACK, free_port, udp_exchange

import dns.message
import dns.rdatatype

KEY_NAME = "xfr."
KEY_SECRET = "eGZyIGtleSBmb3IgdGhlIHNlY29uZGFyeSB0ZXN0cyAwMTI="


class Secondary(ChildProcess):
    """One secondary server: subclasses write its config and name its command."""

    NAME = "secondary"

    def __init__(self, primary_port, zones):
        self.primary_port = primary_port
        self.zones = list(zones)
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix=f"signpost-{self.NAME}-")
        self.log_path = os.path.join(self.workdir, f"{self.NAME}.log")
        self.process = None
        self._log_file = None

    def command(self):
        raise NotImplementedError

    def write_config(self):
        raise NotImplementedError

    def start(self):
        self.write_config()
        self._log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                        stdout=self._log_file, stderr=self._log_file,
                                        cwd=self.workdir)

    def serial(self, zone, port=None):
        """The zone's SOA serial as this secondary (or the server on `port`) serves it, or
        None."""
        response = udp_exchange(port or self.port, dns.message.make_query(zone, "SOA").to_wire(),
                                timeout=0.3)
        if response is None:
            return None
        message = dns.message.from_wire(response)
        for rrset in message.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset[0].serial
        return None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def path(self, name):
        return os.path.join(self.workdir, name)

    def write(self, name, text):
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(text)


class Nsd(Secondary):
    NAME = "nsd"

    def command(self):
        return ["nsd", "-d", "-c", self.path("nsd.conf")]

    def write_config(self):
        zones = "".join(f"""
zone:
  name: "{zone}"
  zonefile: "{self.path(zone + 'zone')}"
  request-xfr: {LOOPBACK}@{self.primary_port} {KEY_NAME}
  allow-notify: {LOOPBACK} {KEY_NAME}
  provide-xfr: {LOOPBACK} NOKEY
""" for zone in self.zones)
        self.write("nsd.conf", f"""server:
  ip-address: {LOOPBACK}@{self.port}
  port: {self.port}
  username: ""
  chroot: ""
  zonesdir: "{self.workdir}"
  database: ""
  pidfile: "{self.path('nsd.pid')}"
  xfrdfile: "{self.path('xfrd.state')}"
  zonelistfile: "{self.path('zone.list')}"
  xfrdir: "{self.workdir}"
  server-count: 1
  verbosity: 2
  xfrd-reload-timeout: 0  # serve each transfer at once (the default waits up to 1 s)
remote-control:
  control-enable: no
key:
  name: "{KEY_NAME}"
  algorithm: hmac-sha256
  secret: "{KEY_SECRET}"
{zones}""")


class Knot(Secondary):
    NAME = "knot"

    def command(self):
        return ["knotd", "-c", self.path("knot.conf")]

    def write_config(self):
        zones = "".join(f"""  - domain: {zone}
    master: primary
    acl: notify_from_primary
""" for zone in self.zones)
        self.write("knot.conf", f"""server:
  listen: {LOOPBACK}@{self.port}
  rundir: "{self.workdir}"
log:
  - target: stderr
    any: info
control:
  listen: "{self.path('knot.sock')}"
database:
  storage: "{self.workdir}"
key:
  - id: {KEY_NAME}
    algorithm: hmac-sha256
    secret: {KEY_SECRET}
remote:
  - id: primary
    address: {LOOPBACK}@{self.primary_port}
    key: {KEY_NAME}
acl:
  - id: notify_from_primary
    address: {LOOPBACK}
    key: {KEY_NAME}
    action: notify
  - id: transfer_out
    address: {LOOPBACK}
    action: transfer
template:
  - id: default
    storage: "{self.workdir}"
    zonefile-sync: -1
    zonefile-load: none
    journal-content: none
zone:
{zones}""".replace("acl: notify_from_primary", "acl: [notify_from_primary, transfer_out]"))


class Bind(Secondary):
    NAME = "named"

    def command(self):
        return ["named", "-g", "-c", self.path("named.conf")]

    def write_config(self):
        zones = "".join(f"""
zone "{zone}" {{
  type secondary;
  primaries port {self.primary_port} {{ {LOOPBACK} key "{KEY_NAME}"; }};
  file "{self.path(zone + 'db')}";
  allow-notify {{ key "{KEY_NAME}"; }};
  allow-transfer {{ {LOOPBACK}; }};
}};
""" for zone in self.zones)
        self.write("named.conf", f"""options {{
  directory "{self.workdir}";
  listen-on port {self.port} {{ {LOOPBACK}; }};
  listen-on-v6 {{ none; }};
  pid-file "{self.path('named.pid')}";
  session-keyfile "{self.path('session.key')}";
  managed-keys-directory "{self.workdir}";
  recursion no;
  notify no;
  dnssec-validation no;
  allow-query {{ any; }};
  max-records-per-type 0;  # a service has as many A records as instances
}};
controls {{ }};
key "{KEY_NAME}" {{
  algorithm hmac-sha256;
  secret "{KEY_SECRET}";
}};
{zones}""")


def wait_serial(secondaries, zone, serial, timeout):
    """Polls until every secondary serves `zone` at `serial` (or later); returns the ones
    that did not in time."""
    deadline = time.monotonic() + timeout
    behind = list(secondaries)
    while behind and time.monotonic() < deadline:
        behind = [s for s in behind
                  if (current := s.serial(zone)) is None or
                  not (current == serial or 0 < (current - serial) % 2**32 < 2**31)]
        if behind:
            time.sleep(0.05)
    return behind
