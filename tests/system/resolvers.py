"""Recursive resolvers in front of signpostd, for the system tests.

Each class starts one resolver (unbound, BIND named, PowerDNS Recursor, Knot Resolver,
dnsmasq) on a free loopback port with a config of its own in a temporary folder, waits until
it answers through signpostd, and stops it by pid. The part of each config that forwards
the registry zone is the recipe printed in docs/resolvers.md, read from there with
127.0.0.1 and signpostd's port put in place of 192.0.2.53 and 53, so the page shows what the
tests run. The rest only concerns the test setup: where the resolver listens, and the root
pointed at signpostd as well (which refuses it), so that no resolver ever tries the
internet. DNSSEC validation stays on, with Debian's root trust anchor (dns-root-data).

unbound is also the one unbound of the other tests, with options for what they change: no
validation (test_clients, behind the fixture zone's stub), the subnet cache (test_ecs and
the resolver benchmark), or no forwarding at all and local data only (the upstream of
test_forward).

`upstream_zones` are further zones to forward to signpostd WITHOUT the recipe's DNSSEC
exemption: the tests use one to show that validation is really on (SERVFAIL there).
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import dns.message
import dns.rcode

from harness import (ChildProcess, LOOPBACK, REGISTRY_DOMAIN, SOURCE_DIR, START_TIMEOUT,
                     free_port, run, udp_exchange)

RECIPES_PAGE = os.path.join(SOURCE_DIR, "docs", "resolvers.md")
ROOT_KEY = "/usr/share/dns/root.key"  # Debian's dns-root-data: the root zone's trust anchor
DOC_ADDRESS = "192.0.2.53"


def recipe(name, upstream_port):
    """The block marked `<!-- recipe:name -->` in docs/resolvers.md, with signpostd's
    address and port put in place of the page's 192.0.2.53 and 53 (a block may name
    neither)."""
    with open(RECIPES_PAGE, encoding="utf-8") as f:
        text = f.read()
    match = re.search(rf"^<!-- recipe:{re.escape(name)} -->\n```[a-z]*\n(.*?)^```", text,
                      re.S | re.M)
    if match is None:
        raise AssertionError(f"docs/resolvers.md has no block marked recipe:{name}")
    block = re.sub(rf"{re.escape(DOC_ADDRESS)}(@| port |:|#)53\b",
                   rf"{LOOPBACK}\g<1>{upstream_port}", match.group(1))
    if DOC_ADDRESS in block:
        raise AssertionError(f"recipe:{name} does not name {DOC_ADDRESS} with port 53 "
                             f"everywhere:\n{match.group(1)}")
    return block


class Resolver(ChildProcess):
    """One resolver process. Subclasses set NAME and BINARY and write their config in
    write_config(); command() is how the process starts, in the foreground."""

    NAME = ""
    BINARY = ""
    # Whether the resolver passes the additional section of signpostd's SRV answer on to
    # clients, with the recipe's settings.
    PASSES_ADDITIONAL = True
    # What start() asks until the answer is NOERROR.
    ready_question = (REGISTRY_DOMAIN, "SOA")

    def __init__(self, upstream_port, upstream_zones=()):
        self.upstream_port = upstream_port
        self.upstream_zones = tuple(upstream_zones)
        self.port = None
        self.process = None
        self.workdir = tempfile.mkdtemp(prefix=f"signpost-{self.NAME}-")
        self.log_path = os.path.join(self.workdir, f"{self.NAME}.log")
        self._log_file = None

    def path(self, name):
        return os.path.join(self.workdir, name)

    def write(self, name, text):
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(text)

    def write_config(self):
        raise NotImplementedError

    def command(self):
        raise NotImplementedError

    def check_config(self):
        """Runs the resolver's own config checker, where it has one."""

    def start(self):
        """Starts the resolver and waits until it answers `ready_question` with NOERROR (by
        default the registry zone's SOA: signpostd is reachable through it). A port taken between choosing
        it and binding it is retried on another port."""
        if shutil.which(self.BINARY) is None:
            raise AssertionError(f"{self.BINARY} is not installed (.ci/setup --test)")
        for attempt in range(3):
            self.port = free_port()
            self.write_config()
            self.check_config()
            self._log_file = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=self._log_file,
                stderr=self._log_file, cwd=self.workdir)
            if self.wait_ready():
                return self
            code = self.stop()
            if attempt < 2 and code is not None and "in use" in self.log().lower():
                continue
            raise AssertionError(f"{self.NAME} did not answer on port {self.port} within "
                                 f"{START_TIMEOUT}s (exit status {code}):\n{self.log()[-4000:]}")
        raise AssertionError("unreachable")

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        query = dns.message.make_query(*self.ready_question)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            wire = udp_exchange(self.port, query.to_wire(), timeout=0.3)
            if wire is not None and dns.message.from_wire(wire).rcode() == dns.rcode.NOERROR:
                return True
            time.sleep(0.05)
        return False

    def upstream(self, separator):
        return f"{LOOPBACK}{separator}{self.upstream_port}"


# ---------------------------------------------------------------------------------------
# unbound

UNBOUND_SETUP = """server:
    interface: {address}
    port: {port}
    do-ip4: yes
    do-ip6: no
    do-daemonize: no
    use-syslog: no
    logfile: ""
    verbosity: 1
    username: ""
    chroot: ""
    directory: "{workdir}"
    pidfile: "{workdir}/unbound.pid"
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    outgoing-interface: {address}
    num-threads: 1
    outgoing-range: 64
    so-reuseport: no
    local-zone: "test." nodefault
"""

# The subnet cache of docs/weighting.md: the client's /24 goes to signpostd (and to no other
# server), and the tree holds more prefixes than the tests use (the default, 100 nodes per
# name, made 100 client /24s asking for one name all cache misses).
UNBOUND_SUBNET_CACHE = """    send-client-subnet: {address}
    max-client-subnet-ipv4: 24
    max-ecs-tree-size-ipv4: 65536
"""


class Unbound(Resolver):
    """unbound with the recipe's stub zone, the root and `upstream_zones` pointed at
    signpostd as well.

    validate      the validator module with Debian's root trust anchor (the recipe's setting);
                  off, unbound checks no signatures at all
    tcp_upstream  unbound asks signpostd over TCP only
    subnet_cache  the subnetcache module sending the client's /24 (EDNS Client Subnet)
    extra         more lines for the server: clause, indented
    With upstream_port None, unbound forwards nothing and serves only what `extra` declares
    (local-zone, local-data); `ready_question` is then a name it answers.
    """

    NAME = "unbound"
    BINARY = "unbound"

    def __init__(self, upstream_port, upstream_zones=(), validate=True, tcp_upstream=False,
                 subnet_cache=False, extra="", ready_question=None):
        super().__init__(upstream_port, upstream_zones)
        self.validate = validate
        self.tcp_upstream = tcp_upstream
        self.subnet_cache = subnet_cache
        self.extra = extra
        if ready_question is not None:
            self.ready_question = ready_question

    def server_options(self):
        """The server: clause: the test setup, then the modules and what they need."""
        text = UNBOUND_SETUP.format(address=LOOPBACK, port=self.port, workdir=self.workdir)
        modules = ["iterator"]
        if self.validate:
            modules.insert(0, "validator")
            text += f'    trust-anchor-file: "{ROOT_KEY}"\n'
        if self.subnet_cache:
            modules.insert(0, "subnetcache")
            text += UNBOUND_SUBNET_CACHE.format(address=LOOPBACK)
        text += f'    module-config: "{" ".join(modules)}"\n'
        if self.tcp_upstream:
            text += "    tcp-upstream: yes\n"
        return text + self.extra

    def write_config(self):
        text = self.server_options() + "remote-control:\n    control-enable: no\n"
        if self.upstream_port is not None:
            # The root goes to signpostd too, which refuses it: nothing leaves the machine.
            for zone in (".", *self.upstream_zones):
                text += f'stub-zone:\n    name: "{zone}"\n    stub-addr: {self.upstream("@")}\n'
            text += recipe("unbound", self.upstream_port)
        self.write("unbound.conf", text)

    def check_config(self):
        check = run(["unbound-checkconf", self.path("unbound.conf")])
        if check.returncode != 0:
            raise AssertionError("unbound-checkconf: " + check.stdout + check.stderr)

    def command(self):
        return ["unbound", "-d", "-c", self.path("unbound.conf")]


# ---------------------------------------------------------------------------------------
# BIND named

BIND_OPTIONS = """    directory "{workdir}";
    pid-file "{workdir}/named.pid";
    session-keyfile "{workdir}/session.key";
    managed-keys-directory "{workdir}";
    listen-on port {port} {{ {address}; }};
    listen-on-v6 {{ none; }};
    query-source address {address};
    recursion yes;
    allow-query {{ 127.0.0.0/8; }};
    allow-recursion {{ 127.0.0.0/8; }};
    notify no;
    // The root goes to signpostd too, which refuses it: nothing leaves the machine.
    forward only;
    forwarders {{ {upstream}; }};
"""


class Bind(Resolver):
    """BIND named with the recipe's forward zone and validate-except."""

    NAME = "bind"
    BINARY = "named"

    def write_config(self):
        block = recipe("bind", self.upstream_port)
        options = BIND_OPTIONS.format(workdir=self.workdir, port=self.port, address=LOOPBACK,
                                      upstream=self.upstream(" port "))
        if "    // ...\n" not in block:
            raise AssertionError("recipe:bind has no `// ...` line in its options")
        text = block.replace("    // ...\n", options, 1)
        text += "controls { };\n"
        for zone in self.upstream_zones:
            text += (f'zone "{zone}" {{ type forward; forward only; '
                     f'forwarders {{ {self.upstream(" port ")}; }}; }};\n')
        self.write("named.conf", text)

    def check_config(self):
        check = run(["named-checkconf", self.path("named.conf")])
        if check.returncode != 0:
            raise AssertionError("named-checkconf: " + check.stdout + check.stderr)

    def command(self):
        return ["named", "-g", "-4", "-n", "1", "-c", self.path("named.conf")]


# ---------------------------------------------------------------------------------------
# PowerDNS Recursor

PDNS_SETUP = """config-dir={workdir}
socket-dir={workdir}
local-address={address}
local-port={port}
query-local-address={address}
daemon=no
disable-syslog=yes
log-timestamp=no
threads=1
# No security status queries to secpoll.powerdns.com.
security-poll-suffix=
# The root goes to signpostd too, which refuses it: nothing leaves the machine.
forward-zones-recurse=.={upstream}
"""


class PdnsRecursor(Resolver):
    """PowerDNS Recursor with the recipe's forward zone, negative trust anchor and
    additional processing for SRV."""

    NAME = "pdns-recursor"
    BINARY = "pdns_recursor"

    def write_config(self):
        lua_path = self.path("signpost.lua")
        self.write("signpost.lua", recipe("pdns-recursor-lua", self.upstream_port))
        conf = recipe("pdns-recursor", self.upstream_port)
        if "/etc/powerdns/signpost.lua" not in conf:
            raise AssertionError("recipe:pdns-recursor names no /etc/powerdns/signpost.lua")
        conf = conf.replace("/etc/powerdns/signpost.lua", lua_path)
        # The extra zones join the recipe's forward-zones, without a negative trust anchor.
        zones = "".join(f", {zone}={self.upstream(':')}" for zone in self.upstream_zones)
        conf, count = re.subn(r"^(forward-zones=.*)$", lambda m: m.group(1) + zones, conf,
                              flags=re.M)
        if count != 1:
            raise AssertionError("recipe:pdns-recursor has no forward-zones= line")
        self.write("recursor.conf", PDNS_SETUP.format(
            workdir=self.workdir, address=LOOPBACK, port=self.port,
            upstream=self.upstream(":")) + conf)

    def command(self):
        return ["pdns_recursor", f"--config-dir={self.workdir}"]


# ---------------------------------------------------------------------------------------
# Knot Resolver

KRESD_SETUP = """net.ipv6 = false
net.listen('{address}', {port}, {{ kind = 'dns' }})
cache.open(10 * MB, 'lmdb://{workdir}/cache')
"""

# After the recipe, since the first matching rule wins.
KRESD_CATCH_ALL = """-- The root goes to signpostd too, which refuses it: nothing leaves the machine.
policy.add(policy.all(policy.STUB({{'{upstream}'}})))
"""


class KnotResolver(Resolver):
    """Knot Resolver (kresd) with the recipe's policy.STUB rule and insecure mark; the root
    trust anchor is the one Debian's kresd loads by default."""

    NAME = "knot-resolver"
    BINARY = "kresd"
    PASSES_ADDITIONAL = False  # kresd answers clients with the answer section only

    def write_config(self):
        text = KRESD_SETUP.format(address=LOOPBACK, port=self.port, workdir=self.workdir)
        text += recipe("knot-resolver", self.upstream_port)
        for zone in self.upstream_zones:
            # FORWARD validates what it forwards (STUB does not), so this zone shows that
            # validation is on.
            text += (f"policy.add(policy.suffix(policy.FORWARD({{'{self.upstream('@')}'}}), "
                     f"{{todname('{zone}')}}))\n")
        text += KRESD_CATCH_ALL.format(upstream=self.upstream("@"))
        self.write("kresd.conf", text)

    def command(self):
        return ["kresd", "-n", "-c", self.path("kresd.conf"), self.workdir]


# ---------------------------------------------------------------------------------------
# dnsmasq

DNSMASQ_SETUP = """port={port}
listen-address={address}
bind-interfaces
no-resolv
no-hosts
no-poll
user=
pid-file={workdir}/dnsmasq.pid
log-facility=-
# The root goes to signpostd too, which refuses it: nothing leaves the machine.
server={upstream}
"""


class Dnsmasq(Resolver):
    """dnsmasq with DNSSEC validation on and the recipe's server=/svc.internal/ line.

    Its default server (for the root) is signpostd, so every other zone signpostd serves is
    already forwarded there without an exemption: upstream_zones need no line of their own.
    """

    NAME = "dnsmasq"
    BINARY = "dnsmasq"

    def write_config(self):
        text = DNSMASQ_SETUP.format(port=self.port, address=LOOPBACK, workdir=self.workdir,
                                    upstream=self.upstream("#"))
        text += recipe("dnsmasq", self.upstream_port)
        self.write("dnsmasq.conf", text)

    def check_config(self):
        check = run(["dnsmasq", "--test", f"--conf-file={self.path('dnsmasq.conf')}"])
        if check.returncode != 0:
            raise AssertionError("dnsmasq --test: " + check.stdout + check.stderr)

    def command(self):
        return ["dnsmasq", "--keep-in-foreground", f"--conf-file={self.path('dnsmasq.conf')}"]


ALL = (Unbound, Bind, PdnsRecursor, KnotResolver, Dnsmasq)
