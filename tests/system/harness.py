"""Shared helpers of the system tests.

They start the real signpostd on a free loopback port with a temporary config, query it
with real clients (dig, kdig, c-ares, unbound) and with raw packets built by dnspython,
and stop it by pid. Every subprocess runs under a timeout, every wait is bounded, and
nothing binds or sends anywhere but 127.0.0.1.

Environment (set by CTest, see CMakeLists.txt):
  SIGNPOSTD            path of the signpostd binary
  CARES_QUERY          path of the cares_query client
  SIGNPOST_SOURCE_DIR  the source tree; its zones/ holds the fixture zone example.test.
"""

import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

LOOPBACK = "127.0.0.1"
SOURCE_DIR = os.environ.get(
    "SIGNPOST_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
ZONES_DIR = os.path.join(SOURCE_DIR, "zones")
CLIENT_TIMEOUT = 15      # seconds any one client process may take
START_TIMEOUT = 10       # seconds signpostd may take to answer its first query
STOP_TIMEOUT = 5         # seconds between SIGTERM and SIGKILL
REGISTRY_DOMAIN = "svc.internal."


def signpostd_path():
    """The signpostd binary under test; fails the test clearly when it is not there."""
    path = os.environ.get("SIGNPOSTD")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError(f"SIGNPOSTD does not name an executable: {path!r}")
    return path


def cares_query_path():
    path = os.environ.get("CARES_QUERY")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError(f"CARES_QUERY does not name an executable: {path!r}")
    return path


def free_port():
    """A loopback port that is free for both UDP and TCP right now."""
    for _ in range(100):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            tcp.bind((LOOPBACK, 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
        finally:
            tcp.close()
            udp.close()
    raise RuntimeError("no loopback port free for both UDP and TCP")


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def render_config(sections, extra=""):
    """TOML text from {"server": {...}, "dns": {...}} plus raw `extra` text at the end."""
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        for key, value in options.items():
            lines.append(f"{key} = {toml_value(value)}")
        lines.append("")
    return "\n".join(lines) + extra


def make_zones_dir(parent, extra_zones=None, with_fixture=True):
    """A zones directory under `parent`: copies of the zone files in zones/ (unless
    with_fixture is False) plus {file name: text} from extra_zones."""
    path = os.path.join(parent, "zones")
    os.makedirs(path, exist_ok=True)
    if with_fixture:
        for name in sorted(os.listdir(ZONES_DIR)):
            if name.endswith(".zone"):
                shutil.copy(os.path.join(ZONES_DIR, name), path)
    for name, text in (extra_zones or {}).items():
        with open(os.path.join(path, name), "w", encoding="utf-8") as f:
            f.write(text)
    return path


class ChildProcess:
    """A program a test started and stops by pid: subclasses set `process` (a Popen),
    `log_path`, `workdir` (their temporary folder) and `_log_file` when they opened the log."""

    process = None
    _log_file = None
    workdir = None
    log_path = None

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self.process.returncode

    def cleanup(self):
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""


class Server(ChildProcess):
    """signpostd on a free loopback port with a temporary config.

    `server` and `dns` add or override keys of those tables; `extra_zones` adds zone files
    next to a copy of the fixture zone; `extra` is appended to the config verbatim.
    Use as a context manager, or call start() and stop().
    """

    def __init__(self, server=None, dns=None, extra_zones=None, extra="", zones_dir=None):
        self.server_options = dict(server or {})
        self.dns_options = dict(dns or {})
        self.extra_zones = extra_zones
        self.extra = extra
        self.zones_dir = zones_dir
        self.port = None
        self.process = None
        self.workdir = tempfile.mkdtemp(prefix="signpost-system-")
        self.config_path = os.path.join(self.workdir, "signpostd.toml")
        self.log_path = os.path.join(self.workdir, "signpostd.log")
        self.state_path = os.path.join(self.workdir, "signpostd.state")
        self._log_file = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()
        return False

    def write_config(self):
        zones = self.zones_dir
        if zones is None:
            zones = ZONES_DIR
            if self.extra_zones:
                zones = make_zones_dir(self.workdir, self.extra_zones)
        server = {"listen": [f"{LOOPBACK}:{self.port}"], "threads": 2}
        server.update(self.server_options)
        dns_options = {"zones_dir": zones}
        dns_options.update(self.dns_options)
        sections = {"server": server, "dns": dns_options}
        # Each server keeps its registry in its own folder (the default is the working
        # directory, which tests running at once share).
        if "[registry]" not in self.extra:
            sections["registry"] = {"state_file": self.state_path}
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(render_config(sections, self.extra))

    def start(self):
        """Starts signpostd and waits until it answers a SOA query for the registry apex.
        A port taken between choosing it and binding it is retried on another port."""
        binary = signpostd_path()
        for attempt in range(3):
            self.port = free_port()
            self.write_config()
            self._log_file = open(self.log_path, "wb")
            self.process = subprocess.Popen(
                [binary, "--config", self.config_path],
                stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=self._log_file)
            if self.wait_ready():
                return self
            code = self.stop()
            log = self.log()
            if code is not None and "in use" in log.lower() and attempt < 2:
                continue
            raise AssertionError(
                f"signpostd did not answer on port {self.port} within {START_TIMEOUT}s "
                f"(exit status {code}); config:\n{self.config_text()}\nlog:\n{log}")
        raise AssertionError("unreachable")

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        query = dns.message.make_query(REGISTRY_DOMAIN, "SOA")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            response = udp_exchange(self.port, query.to_wire(), timeout=0.2)
            if response is not None:
                return True
            time.sleep(0.05)
        return False

    def config_text(self):
        try:
            with open(self.config_path, encoding="utf-8") as f:
                return f.read()
        except OSError:
            return ""


class ServerTestCase(unittest.TestCase):
    """One signpostd for the whole class; subclasses set SERVER_ARGS."""

    SERVER_ARGS = {}

    @classmethod
    def setUpClass(cls):
        cls.server = Server(**cls.SERVER_ARGS)
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        # Whatever the tests did, SIGTERM must still stop the server cleanly.
        code = cls.server.stop()
        log = cls.server.log()
        cls.server.cleanup()
        if code != 0:
            raise AssertionError(f"signpostd exited with status {code} on SIGTERM; log:\n"
                                 + log[-4000:])


def run(args, timeout=CLIENT_TIMEOUT, check=False):
    """Runs a client program; returns the CompletedProcess (text mode)."""
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, check=check)


# ---------------------------------------------------------------------------------------
# Raw DNS I/O with dnspython messages.

def udp_exchange(port, wire, timeout=2.0, host=LOOPBACK, source=None):
    """Sends one datagram and returns the first reply from the server, or None. `source`
    is the client address to send from (another loopback address, say)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        if source is not None:
            s.bind((source, 0))
        s.connect((host, port))
        s.send(wire)
        try:
            return s.recv(65535)
        except (socket.timeout, ConnectionRefusedError):
            return None


def recv_exact(sock, count, deadline):
    """Reads exactly `count` octets before `deadline` (monotonic); None on EOF or time."""
    data = bytearray()
    while len(data) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(count - len(data))
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_framed(sock, timeout=3.0):
    """One length-prefixed DNS message from a TCP stream (RFC 1035 §4.2.2), or None."""
    deadline = time.monotonic() + timeout
    prefix = recv_exact(sock, 2, deadline)
    if prefix is None:
        return None
    (length,) = struct.unpack("!H", prefix)
    return recv_exact(sock, length, deadline)


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def tcp_connect(port, timeout=3.0, host=LOOPBACK, source=None):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source is not None:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def tcp_exchange(port, wire, timeout=3.0):
    with tcp_connect(port, timeout) as s:
        s.sendall(frame(wire))
        return read_framed(s, timeout)


def query_message(name, rdtype="A", rdclass="IN", use_edns=None, payload=1232, want_rd=True,
                  **kwargs):
    """A dnspython query; use_edns None means no OPT record."""
    if use_edns is not None:
        kwargs["payload"] = payload
    q = dns.message.make_query(name, rdtype, rdclass, use_edns=use_edns, **kwargs)
    if not want_rd:
        q.flags &= ~dns.flags.RD
    return q


def ask_udp(port, message, timeout=2.0):
    """Sends a dnspython message over UDP; returns the parsed response or None."""
    wire = udp_exchange(port, message.to_wire(), timeout)
    if wire is None:
        return None
    return dns.message.from_wire(wire, ignore_trailing=False)


def ask_tcp(port, message, timeout=3.0):
    wire = tcp_exchange(port, message.to_wire(), timeout)
    if wire is None:
        return None
    return dns.message.from_wire(wire)


def header_of(wire):
    """(id, flags, qdcount, ancount, nscount, arcount) of a raw message."""
    return struct.unpack("!HHHHHH", wire[:12])


# ---------------------------------------------------------------------------------------
# dig and kdig, parsed into one shape.

@dataclass
class Record:
    name: str
    ttl: int
    rclass: str
    rtype: str
    rdata: str


@dataclass
class Result:
    """A client's view of one response. `status` is None when no response came."""
    status: str = None
    id: int = None
    flags: set = field(default_factory=set)
    counts: dict = field(default_factory=dict)
    question: list = field(default_factory=list)  # (name, class, type) as printed
    answer: list = field(default_factory=list)
    authority: list = field(default_factory=list)
    additional: list = field(default_factory=list)
    edns: dict = None  # {"version": int, "udp": int} when an OPT came back
    text: str = ""
    returncode: int = None

    def rdata(self, section="answer", rtype=None):
        """The rdata strings of one section, optionally of one type."""
        return [r.rdata for r in getattr(self, section)
                if rtype is None or r.rtype == rtype]

    def types(self, section="answer"):
        return [r.rtype for r in getattr(self, section)]


DIG_SECTIONS = {
    ";; QUESTION SECTION:": "question",
    ";; ANSWER SECTION:": "answer",
    ";; AUTHORITY SECTION:": "authority",
    ";; ADDITIONAL SECTION:": "additional",
    ";; OPT PSEUDOSECTION:": "opt",
}


def parse_dig(text):
    """Parses `dig +noall +comments +question +answer +authority +additional` output of
    one response."""
    result = Result(text=text)
    section = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:
            section = None
            continue
        if line in DIG_SECTIONS:
            section = DIG_SECTIONS[line]
            continue
        if line.startswith(";; ->>HEADER<<-"):
            for part in line.split("->>HEADER<<-", 1)[1].split(","):
                key, _, value = part.strip().partition(":")
                if key == "status":
                    result.status = value.strip()
                elif key == "id":
                    result.id = int(value)
            continue
        if line.startswith(";; flags:"):
            flags_part, _, counts_part = line[len(";; flags:"):].partition(";")
            result.flags = set(flags_part.split())
            for part in counts_part.split(","):
                key, _, value = part.strip().partition(":")
                if value.strip():
                    result.counts[key.strip()] = int(value)
            continue
        if section == "opt":
            if line.startswith("; EDNS:"):
                edns = {}
                for part in line[len("; EDNS:"):].split(","):
                    part = part.strip()
                    if part.startswith("version:"):
                        edns["version"] = int(part.split(":")[1].split(";")[0])
                    elif part.startswith("udp:"):
                        edns["udp"] = int(part.split(":")[1])
                    elif part.startswith("flags:"):
                        flags_text, _, rest = part[len("flags:"):].partition(";")
                        edns["flags"] = flags_text.split()
                        if rest.strip().startswith("udp:"):
                            edns["udp"] = int(rest.split(":")[1])
                result.edns = edns
            continue
        if section == "question":
            parts = line.lstrip(";").split()
            result.question.append(tuple(parts))
            continue
        if line.startswith(";"):
            continue
        if section in ("answer", "authority", "additional"):
            parts = line.split(None, 4)
            if len(parts) < 4:
                continue
            rdata = parts[4] if len(parts) > 4 else ""
            getattr(result, section).append(
                Record(parts[0], int(parts[1]), parts[2], parts[3], rdata))
    return result


def dig(port, name, rtype="A", *options, rclass="IN", timeout=CLIENT_TIMEOUT, server=LOOPBACK):
    """Runs dig against the server and parses the response. `options` are dig options
    such as "+tcp", "+norec", "+bufsize=4096". dig gives up after one try of 3 s."""
    args = ["dig", f"@{server}", "-p", str(port), "-q", name, "-t", rtype, "-c", rclass,
            "+time=3", "+tries=1", "+noall", "+comments", "+question", "+answer",
            "+authority", "+additional", *options]
    completed = run(args, timeout=timeout)
    result = parse_dig(completed.stdout)
    result.returncode = completed.returncode
    result.text = completed.stdout + completed.stderr
    return result


def _kdig_records(records):
    out = []
    for rr in records or []:
        rdata = None
        for key, value in rr.items():
            if key.startswith("rdata"):
                rdata = value if isinstance(value, str) else json.dumps(value)
        if rdata is None:
            rdata = f"\\# {rr.get('RDLENGTH', 0)} {rr.get('RDATAHEX', '')}".strip()
        out.append(Record(rr["NAME"], rr.get("TTL", 0), rr.get("CLASSname", str(rr.get("CLASS"))),
                          rr.get("TYPEname", str(rr.get("TYPE"))), rdata))
    return out


def kdig(port, name, rtype="A", *options, rclass="IN", timeout=CLIENT_TIMEOUT, server=LOOPBACK):
    """Runs kdig +json (RFC 8427) and converts it to a Result. Options like "+tcp"."""
    args = ["kdig", f"@{server}", "-p", str(port), "-q", name, "-t", rtype, "-c", rclass,
            "+json", "+time=3", "+retry=0", *options]
    completed = run(args, timeout=timeout)
    result = Result(text=completed.stdout + completed.stderr, returncode=completed.returncode)
    try:
        data = json.loads(completed.stdout)
    except ValueError:
        return result
    result.status = dns.rcode.to_text(data["RCODE"])
    result.id = data["ID"]
    result.flags = {f.lower() for f in ("QR", "AA", "TC", "RD", "RA", "AD", "CD") if data.get(f)}
    result.counts = {"QUERY": data.get("QDCOUNT"), "ANSWER": data.get("ANCOUNT"),
                     "AUTHORITY": data.get("NSCOUNT"), "ADDITIONAL": data.get("ARCOUNT")}
    if "QNAME" in data:
        result.question.append((data["QNAME"], data.get("QCLASSname"), data.get("QTYPEname")))
    result.answer = _kdig_records(data.get("answerRRs"))
    result.authority = _kdig_records(data.get("authorityRRs"))
    additional = _kdig_records(data.get("additionalRRs"))
    for rr in data.get("additionalRRs") or []:
        if rr.get("TYPE") == 41:
            result.edns = {"udp": rr.get("CLASS"), "version": (rr.get("TTL", 0) >> 16) & 0xFF}
    result.additional = [r for r in additional if r.rtype != "OPT"]
    return result


def cares_query(port, name, rtype, *options, timeout=CLIENT_TIMEOUT):
    """Runs tests/system/cares_query; returns (exit status, output lines)."""
    completed = run([cares_query_path(), LOOPBACK, str(port), name, rtype, *options],
                    timeout=timeout)
    return completed.returncode, completed.stdout.splitlines()


def wait_for(predicate, timeout, interval=0.05):
    """Polls predicate() until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def name_lower(name):
    return name.lower().rstrip(".") + "."


# ---------------------------------------------------------------------------------------
# Static registrations and fast raw queries for the registry tests.

def toml_inline_table(table):
    """A TOML inline table of strings, e.g. meta = { version = "15" }."""
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()) + " }"


def render_services(services):
    """[[service]] and [[service.instance]] tables from a list of dicts. Each service dict
    holds the service keys plus "instances", a list of instance dicts; "meta" is rendered as
    an inline table."""
    lines = []
    for service in services:
        lines.append("[[service]]")
        for key, value in service.items():
            if key != "instances":
                lines.append(f"{key} = {toml_value(value)}")
        lines.append("")
        for instance in service.get("instances", ()):
            lines.append("[[service.instance]]")
            for key, value in instance.items():
                text = toml_inline_table(value) if key == "meta" else toml_value(value)
                lines.append(f"{key} = {text}")
            lines.append("")
    return "\n".join(lines) + "\n"


def soa_serial(port, zone=REGISTRY_DOMAIN):
    """The SOA serial of `zone`, asked over UDP; None without an answer."""
    response = ask_udp(port, query_message(zone, "SOA"))
    if response is None or not response.answer:
        return None
    return response.answer[0][0].serial


def ede_options(message):
    """(info code, text) of each Extended DNS Error option (RFC 8914) in a dnspython
    response."""
    out = []
    for option in message.options:
        if option.otype == 15:
            data = option.to_wire()
            out.append((struct.unpack("!H", data[:2])[0], data[2:].decode("utf-8", "replace")))
    return out


def udp_stream(port, wires, window=8, timeout=1.0, retries=3):
    """Sends each query wire over one UDP socket with up to `window` queries in flight and
    returns the responses in query order. Query i goes out with ID i % 65536, which is how
    its response is matched (at most 65536 wires); a query without a response within
    `timeout` is sent again up to `retries` times, then its response is None."""
    if len(wires) > 65536:
        raise ValueError("udp_stream matches responses by ID: at most 65536 queries")
    responses = [None] * len(wires)
    pending = {}  # id -> (deadline, tries)
    next_index = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((LOOPBACK, port))
        s.setblocking(False)

        def send(index, tries):
            s.send(struct.pack("!H", index) + wires[index][2:])
            pending[index] = (time.monotonic() + timeout, tries)

        while next_index < len(wires) or pending:
            while len(pending) < window and next_index < len(wires):
                send(next_index, 0)
                next_index += 1
            now = time.monotonic()
            soonest = min(deadline for deadline, _ in pending.values())
            ready, _, _ = select.select([s], [], [], max(0.0, soonest - now))
            if ready:
                try:
                    wire = s.recv(65535)
                except (BlockingIOError, ConnectionRefusedError):
                    continue
                index = struct.unpack("!H", wire[:2])[0]
                if index in pending:
                    del pending[index]
                    responses[index] = wire
                continue
            now = time.monotonic()
            for index, (deadline, tries) in list(pending.items()):
                if deadline <= now:
                    if tries < retries:
                        send(index, tries + 1)
                    else:
                        del pending[index]
    return responses


def answer_rdata(query_wire, response_wire):
    """The RDATA of each answer record of a response to `query_wire` (a query without
    OPT), read straight from the wire: the question is echoed and every answer owner must be
    a pointer to it (RFC 1035 §4.1.4), otherwise this raises. Much faster than a full parse,
    for tests that read tens of thousands of answers."""
    ancount = struct.unpack("!H", response_wire[6:8])[0]
    at = len(query_wire)
    out = []
    for _ in range(ancount):
        if response_wire[at:at + 2] != b"\xc0\x0c":
            raise AssertionError(f"answer owner at offset {at} is not a pointer to the question")
        (length,) = struct.unpack("!H", response_wire[at + 10:at + 12])
        out.append(response_wire[at + 12:at + 12 + length])
        at += 12 + length
    return out


# ---------------------------------------------------------------------------------------
# signpost-agent, and what its tests need around it.

def signpost_agent_path():
    """The signpost-agent binary under test (SIGNPOST_AGENT); fails the test clearly."""
    path = os.environ.get("SIGNPOST_AGENT")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError(f"SIGNPOST_AGENT does not name an executable: {path!r}")
    return path


class FixedPortServer(Server):
    """signpostd on a port chosen by the caller, so that it can be stopped and started again
    where its clients expect it."""

    def __init__(self, port, **kwargs):
        super().__init__(**kwargs)
        self.fixed_port = port

    def start(self):
        self.port = self.fixed_port
        self.write_config()
        self._log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [signpostd_path(), "--config", self.config_path],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=self._log_file)
        if not self.wait_ready():
            code = self.stop()
            raise AssertionError(f"signpostd did not answer on port {self.port} "
                                 f"(exit status {code}); log:\n{self.log()}")
        return self


class AgentProcess(ChildProcess):
    """signpost-agent with `config_text` as its agent.toml, in a temporary directory; its
    stderr (the event log) goes to a file. Stopped by pid."""

    def __init__(self, config_text):
        self.workdir = tempfile.mkdtemp(prefix="signpost-agent-")
        self.config_path = os.path.join(self.workdir, "agent.toml")
        self.log_path = os.path.join(self.workdir, "agent.log")
        self.process = None
        self._log_file = None
        self.write_config(config_text)

    def write_config(self, text):
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(text)

    def start(self):
        self._log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [signpost_agent_path(), "--config", self.config_path],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=self._log_file)
        return self

    def signal(self, number):
        self.process.send_signal(number)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for the agent to exit; returns its status, or None if it still runs."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_count(self, text):
        return self.log().count(text)

HTTP_HEALTH_SCRIPT = r"""
import http.server, sys
port, status_file = int(sys.argv[1]), sys.argv[2]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        try:
            with open(status_file) as f:
                status = int(f.read().strip() or "200")
        except (OSError, ValueError):
            status = 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, *args):
        pass

http.server.HTTPServer.allow_reuse_address = True
server = http.server.HTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()
"""


class HttpHealthServer:
    """A small HTTP server (python http.server in a subprocess) on a fixed loopback port that
    answers every GET with the status written by set_status() (200 at first). stop() and
    start() take it away and bring it back on the same port."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.workdir = tempfile.mkdtemp(prefix="signpost-http-")
        self.status_path = os.path.join(self.workdir, "status")
        self.process = None

    def set_status(self, status):
        with open(self.status_path, "w", encoding="utf-8") as f:
            f.write(str(status))

    def url(self, path="/health"):
        return f"http://{LOOPBACK}:{self.port}{path}"

    def start(self):
        self.process = subprocess.Popen(
            ["python3", "-c", HTTP_HEALTH_SCRIPT, str(self.port), self.status_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        if not ready or self.process.stdout.readline().strip() != b"ready":
            self.stop()
            raise AssertionError(f"the HTTP health server did not start on port {self.port}")
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        if self.process is not None:
            self.process.stdout.close()
        self.process = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
