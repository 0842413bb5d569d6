"""The servers the benchmark compares: signpostd, Knot DNS, NSD and the bare UDP echo,
signpostd and Knot with two UDP workers ("signpost-2w", "knot-2w"), and signpostd with its
HTTP API, status page and metrics on ("signpost-api"), and the pair of the zone transfer
comparison: signpostd as it is ("xfr-base") and with a [[transfer]] for the registry zone
and NSD, Knot and BIND following it as secondaries ("xfr"), both measured under changes.

Each is started on 127.0.0.1 with a free port, pinned with taskset (to one core, or as
many as it has workers), waited for until it gives the full answer for the last service
(so start-up time includes loading the whole registry or zone), and stopped by pid:
SIGTERM, then SIGKILL.
"""

import http.client
import os
import signal
import socket
import struct
import subprocess
import time

import bench_data
import bench_measure
import bench_secondaries

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 120  # seconds a server may take to load 100,000 instances or records
STOP_TIMEOUT = 10


def free_port():
    """A loopback port free for both UDP and TCP right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind((LOOPBACK, 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no loopback port free for both UDP and TCP")


def encode_query(name, qtype, qid=0x5150):
    """A query with EDNS (payload 1232) for `name`, RD clear."""
    wire = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 1)
    for label in name.rstrip(".").split("."):
        wire += bytes([len(label)]) + label.encode()
    wire += b"\0" + struct.pack("!HH", qtype, 1)
    return wire + b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)


def answer_size(port, name, qtype, timeout=1.0):
    """(rcode, ANCOUNT, octets) of the server's UDP answer, or None without one."""
    query = encode_query(name, qtype)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(query, (LOOPBACK, port))
            answer = s.recv(65535)
        except OSError:
            return None
    if len(answer) < 12 or answer[:2] != query[:2]:
        return None
    return answer[3] & 0x0F, struct.unpack("!H", answer[6:8])[0], len(answer)


class Server:
    """One server process. Subclasses say how to configure and launch it."""

    name = "server"
    full_answer = 10  # ANCOUNT of the readiness question's answer
    workers = 1  # UDP workers, each on a core of its own

    def __init__(self, workdir, data, build_dir, core):
        """`core`: the taskset CPU list ("0", or "0,1" for two workers)."""
        self.workdir = os.path.join(workdir, self.name)
        os.makedirs(self.workdir, exist_ok=True)
        self.data = data
        self.build_dir = build_dir
        self.core = core
        self.port = None
        self.process = None
        self.startup_seconds = None
        self.start_rss_mib = None  # VmRSS once it answers, before any load
        self.log_path = os.path.join(self.workdir, "server.log")
        # Set by the comparison: the heartbeat generator of a signpostd (bench_measure.
        # Heartbeats), its registration time, and the thread found busiest in the A test.
        self.heartbeats = None
        self.heartbeat_register_seconds = None
        self.heartbeat_cpu_per_second = None  # the heartbeat load alone (compare)
        self.worker_thread = None
        self.scraper = None  # bench_measure.Scraper of a server with the HTTP API
        # The transfer comparison's changes (bench_measure.Heartbeats) and the serials'
        # bench_secondaries.Follower.
        self.changes = None
        self.follower = None

    def command(self):
        raise NotImplementedError

    def prepare(self):
        """Writes the config for self.port."""

    def stop_all(self):
        """Stops the server and whatever it started besides; returns its exit status."""
        return self.stop()

    def start(self):
        self.port = free_port()
        self.prepare()
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                bench_measure.pinned(self.core, self.command()), cwd=self.workdir,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.wait_ready(started)
        self.startup_seconds = time.monotonic() - started
        self.start_rss_mib = bench_measure.memory_mib(self.process.pid)[0]
        return self

    def wait_ready(self, started):
        last = f"s{bench_data.SERVICES - 1:04d}.{bench_data.DOMAIN}"
        while time.monotonic() - started < START_TIMEOUT:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.process.returncode}; "
                                   f"log: {self.log_path}\n{self.log_tail()}")
            got = answer_size(self.port, last, 1, timeout=0.2)
            if got is not None and got[0] == 0 and got[1] == self.full_answer:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {last} within {START_TIMEOUT}s; "
                           f"log: {self.log_path}\n{self.log_tail()}")

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; returns the exit status."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=STOP_TIMEOUT)


class Signpost(Server):
    name = "signpost"
    http_port = None  # the HTTP API's port; None: the API is off (the default)

    def prepare(self, extra=""):
        self.config = os.path.join(self.workdir, "signpostd.toml")
        bench_data.write(self.config, bench_data.signpost_config(
            self.port, self.data["empty_zones"], threads=self.workers,
            state_file=os.path.join(self.workdir, "signpostd.state"),
            http_port=self.http_port, extra=extra))

    def command(self):
        return [os.path.join(self.build_dir, "dns", "daemon", "signpostd"),
                "--config", self.config]


class SignpostTwoWorkers(Signpost):
    name = "signpost-2w"
    workers = 2


class SignpostApi(Signpost):
    """The same signpostd with `[http] listen` on a loopback port of its own: the HTTP API,
    status page and metrics on their thread. Started once /metrics answers too."""

    name = "signpost-api"

    def prepare(self):
        self.http_port = free_port()
        while self.http_port == self.port:
            self.http_port = free_port()
        super().prepare()

    def wait_ready(self, started):
        super().wait_ready(started)
        while time.monotonic() - started < START_TIMEOUT and self.process.poll() is None:
            connection = http.client.HTTPConnection(LOOPBACK, self.http_port, timeout=1)
            try:
                status, body = bench_measure.http_get(connection, "/metrics")
            except (OSError, http.client.HTTPException):
                status, body = None, b""
            finally:
                connection.close()
            if bench_measure.api_answer_ok("/metrics", status, body):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name}: no metrics on port {self.http_port} within "
                           f"{START_TIMEOUT}s; log: {self.log_path}\n{self.log_tail()}")


class SignpostChanges(Signpost):
    """signpostd as "signpost", the side of the transfer comparison without [[transfer]]:
    measured under the same changes as "xfr" (compare)."""

    name = "xfr-base"


class SignpostTransfer(SignpostChanges):
    """signpostd with a [[transfer]] for the registry zone (signed with the key of
    tests/system/secondaries.py, NOTIFY to three secondaries): once start_secondaries()
    has run, NSD, Knot and BIND, pinned to `secondary_core`, follow the zone."""

    name = "xfr"
    secondary_core = None  # the CPU the secondaries run on, set before start()

    def __init__(self, workdir, data, build_dir, core):
        super().__init__(workdir, data, build_dir, core)
        self.secondaries = []
        self.left_out = {}  # the secondaries that did not load the zone: {secondary: why}
        self.load_seconds = {}

    def prepare(self, extra=""):
        # Each secondary's port is free now, as is signpostd's, which none may take.
        while not self.secondaries or self.port in {s.port for s in self.secondaries}:
            bench_secondaries.stop(self.secondaries)
            self.secondaries = bench_secondaries.create(self.secondary_core, bench_data.DOMAIN)
        super().prepare(extra + bench_data.transfer_config(
            bench_secondaries.KEY_NAME, bench_secondaries.KEY_SECRET,
            [s.port for s in self.secondaries]))

    def start_secondaries(self):
        """Starts the secondaries and waits (bounded) for each to serve the zone; the ones
        that did not are stopped and kept in self.left_out, with the reason."""
        self.left_out, self.load_seconds = bench_secondaries.load(
            self.secondaries, self.port, bench_data.DOMAIN)
        self.secondaries = [s for s in self.secondaries if s not in self.left_out]
        return self.secondaries

    def stop_all(self):
        bench_secondaries.stop(self.secondaries + list(self.left_out))
        return self.stop()


class Knot(Server):
    name = "knot"

    def prepare(self):
        self.config = os.path.join(self.workdir, "knot.conf")
        d = self.workdir
        bench_data.write(self.config, f"""server:
    listen: {LOOPBACK}@{self.port}
    rundir: "{d}"
    pidfile: "{d}/knot.pid"
    udp-workers: {self.workers}
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "{d}"
template:
  - id: default
    storage: "{d}"
    journal-content: none
    zonefile-sync: -1
    semantic-checks: off
zone:
  - domain: {bench_data.DOMAIN}
    file: "{self.data['zone']}"
""")

    def command(self):
        return ["knotd", "-c", self.config]


class KnotTwoWorkers(Knot):
    name = "knot-2w"
    workers = 2


class Nsd(Server):
    name = "nsd"

    def prepare(self):
        # minimal-responses stays at its default (no): with it NSD would also leave out the
        # SRV targets' addresses; without it NSD adds the apex NS and its address.
        self.config = os.path.join(self.workdir, "nsd.conf")
        d = self.workdir
        bench_data.write(self.config, f"""server:
    ip-address: {LOOPBACK}@{self.port}
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: {bench_data.DOMAIN}
    zonefile: "{self.data['zone']}"
""")

    def command(self):
        return ["nsd", "-d", "-c", self.config]


class Echo(Server):
    """The floor: a fixed 100-octet answer (four A records) to every query."""

    name = "echo"
    full_answer = 4

    def command(self):
        return [os.path.join(self.build_dir, "tests", "bench", "signpost_bench_echo"),
                "--port", str(self.port)]


SERVERS = {cls.name: cls for cls in (Signpost, Knot, Nsd, Echo)}
# The servers measured again with two workers, and their two-worker form.
TWO_WORKERS = {"signpost": SignpostTwoWorkers, "knot": KnotTwoWorkers}
# signpostd with the HTTP API on, measured against "signpost" on some tests (compare).
API = SignpostApi
# The transfer comparison's pair (compare), chosen together as "xfr".
XFR = (SignpostChanges, SignpostTransfer)
