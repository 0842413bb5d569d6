"""A real etcd cluster for the tests of signpostd's etcd backend.

Three members of /usr/bin/etcd (Debian's etcd-server, 3.4) on free loopback ports, each
with a data directory in one temporary directory, started together with
`--initial-cluster`, and stopped by pid. Members can be frozen (SIGSTOP: the process
holds its sockets but answers nothing, as a member cut off by the network would),
thawed, killed and started again; /health and /metrics are read over HTTP on a member's
client URL. Nothing binds or sends anywhere but 127.0.0.1.

Election settings are short (heartbeat 50 ms, election 500 ms): a cluster elects a leader
in about a second, leases of 1 s are allowed (etcd's minimum TTL is 1.5 election
timeouts), and a member that is thawed catches up with its leader within a few heartbeats.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from harness import LOOPBACK, STOP_TIMEOUT, free_port

ETCD = "/usr/bin/etcd"
ETCDCTL = "/usr/bin/etcdctl"
HEALTH_TIMEOUT = 20      # seconds a cluster may take to elect a leader and answer
HTTP_TIMEOUT = 1.0       # seconds one /health or /metrics request may take
HEARTBEAT_MS = 50
ELECTION_MS = 500


def http_get(url, timeout=HTTP_TIMEOUT):
    """The body of a GET, or None when the server does not answer in time."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def metric_value(text, name):
    """The value of an unlabelled metric in Prometheus text format, or None."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class EtcdMember:
    """One member: its name, ports and data directory; its process once started."""

    def __init__(self, index, root):
        self.index = index
        self.name = f"signpost-etcd-{index}"
        self.client_port = free_port()
        self.peer_port = free_port()
        self.data_dir = os.path.join(root, self.name)
        self.log_path = os.path.join(root, self.name + ".log")
        self.process = None
        self.frozen = False
        self._log_file = None

    @property
    def endpoint(self):
        """"127.0.0.1:port" of the client listener, as signpostd's etcd_endpoints take it."""
        return f"{LOOPBACK}:{self.client_port}"

    @property
    def client_url(self):
        return f"http://{self.endpoint}"

    @property
    def peer_url(self):
        return f"http://{LOOPBACK}:{self.peer_port}"

    def start(self, initial_cluster, state="new"):
        self._log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [ETCD, "--name", self.name, "--data-dir", self.data_dir,
             "--listen-client-urls", self.client_url,
             "--advertise-client-urls", self.client_url,
             "--listen-peer-urls", self.peer_url,
             "--initial-advertise-peer-urls", self.peer_url,
             "--initial-cluster", initial_cluster,
             "--initial-cluster-state", state,
             "--initial-cluster-token", "signpost-test",
             "--heartbeat-interval", str(HEARTBEAT_MS),
             "--election-timeout", str(ELECTION_MS),
             "--logger", "zap", "--log-outputs", "stderr"],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=self._log_file)
        self.frozen = False

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def freeze(self):
        """SIGSTOP: the member keeps its connections open and answers nothing."""
        self.process.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        self.process.send_signal(signal.SIGCONT)
        self.frozen = False

    def kill(self):
        """SIGKILL and reap: a crash."""
        if self.alive():
            self.process.kill()
        self._reap()

    def stop(self):
        """SIGTERM (after SIGCONT, so that a frozen member can take it), then SIGKILL after
        STOP_TIMEOUT; returns the exit status."""
        if self.process is None:
            return None
        if self.alive():
            if self.frozen:
                self.thaw()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reap()
        return self.process.returncode

    def _reap(self):
        if self.process is not None:
            self.process.wait(timeout=STOP_TIMEOUT)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self.frozen = False

    def healthy(self):
        """Whether /health says true: the member has a leader and a quorum read works."""
        body = http_get(self.client_url + "/health")
        if body is None:
            return False
        try:
            return json.loads(body).get("health") == "true"
        except ValueError:
            return False

    def metric(self, name):
        """A metric from the member's /metrics, or None when it does not answer."""
        text = http_get(self.client_url + "/metrics", timeout=3.0)
        return None if text is None else metric_value(text, name)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class EtcdCluster:
    """`size` etcd members on loopback forming one cluster, their data directories in a
    temporary directory under `parent` (default: the system's). Use as a context manager,
    or call start() and then stop() and cleanup()."""

    def __init__(self, size=3, parent=None):
        self.root = tempfile.mkdtemp(prefix="signpost-etcd-cluster-", dir=parent)
        self.size = size
        self.members = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()
        return False

    def initial_cluster(self):
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    def start(self):
        """Starts every member and waits until each reports itself healthy. A port taken
        between choosing it and binding it is retried with fresh ports."""
        for attempt in range(3):
            self.members = [EtcdMember(i, self.root) for i in range(self.size)]
            ports = {p for m in self.members for p in (m.client_port, m.peer_port)}
            if len(ports) < 2 * self.size:
                continue  # the same free port handed out twice
            for member in self.members:
                member.start(self.initial_cluster())
            if self.wait_healthy():
                return self
            logs = self.logs()
            self.stop()
            if "address already in use" in logs and attempt < 2:
                for member in self.members:
                    shutil.rmtree(member.data_dir, ignore_errors=True)
                continue
            raise AssertionError(
                f"etcd cluster not healthy within {HEALTH_TIMEOUT}s; logs:\n{logs[-6000:]}")
        raise AssertionError("no free loopback ports for the etcd cluster")

    def wait_healthy(self, members=None, timeout=HEALTH_TIMEOUT):
        """Waits until each of `members` (default: all) is healthy; False on timeout or
        when one has exited."""
        members = self.members if members is None else members
        deadline = time.monotonic() + timeout
        waiting = list(members)
        while waiting and time.monotonic() < deadline:
            if any(not m.alive() for m in waiting):
                return False
            waiting = [m for m in waiting if not m.healthy()]
            if waiting:
                time.sleep(0.05)
        return not waiting

    def restart(self, member):
        """Starts a killed or stopped member again on its ports and data directory."""
        member.start(self.initial_cluster(), state="existing")

    def endpoints(self):
        return [m.endpoint for m in self.members]

    def proposals_committed(self, member=None):
        """etcd_server_proposals_committed_total as a member sees it (the first one not
        frozen, by default): every member commits the same log, so any one serves."""
        candidates = [member] if member is not None else [
            m for m in self.members if m.alive() and not m.frozen]
        for candidate in candidates:
            value = candidate.metric("etcd_server_proposals_committed_total")
            if value is not None:
                return int(value)
        raise AssertionError("no etcd member answered /metrics")

    def leader(self):
        """The member that says it leads (etcd_server_is_leader), among those not frozen; None
        when none does."""
        for member in self.members:
            if member.alive() and not member.frozen and member.metric("etcd_server_is_leader"):
                return member
        return None

    def make_leader(self, member):
        """Moves the leadership to `member` (etcdctl move-leader, sent to the current
        leader) and waits until it leads."""
        listed = self.etcdctl("member", "list", "-w", "json")
        if listed.returncode != 0:
            raise AssertionError("etcdctl member list: " + listed.stderr)
        ids = {m["name"]: m["ID"] for m in json.loads(listed.stdout)["members"]}
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is member:
                return
            if leader is not None:
                self.etcdctl("move-leader", format(ids[member.name], "x"), member=leader)
            time.sleep(0.05)
        raise AssertionError(f"{member.name} did not become the leader\n" + self.logs())

    def etcdctl(self, *args, member=None, timeout=30):
        """Runs etcdctl (API v3) against one member (default: all endpoints); returns the
        CompletedProcess."""
        endpoints = [member.endpoint] if member is not None else self.endpoints()
        env = dict(os.environ, ETCDCTL_API="3")
        return subprocess.run(
            [ETCDCTL, "--endpoints", ",".join(endpoints), "--dial-timeout", "2s", *args],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=env)

    def count_keys(self, prefix):
        """How many keys etcd holds under `prefix` (a linearizable read; a range response counts
        every key in range, not only the one it returns)."""
        completed = self.etcdctl("get", prefix, "--prefix", "--keys-only", "--limit", "1", "-w", "json")
        if completed.returncode != 0:
            raise AssertionError("etcdctl get: " + completed.stderr)
        return int(json.loads(completed.stdout).get("count", 0))

    def keys(self, prefix):
        """Every key etcd holds under `prefix` (a linearizable read)."""
        completed = self.etcdctl("get", prefix, "--prefix", "--keys-only")
        if completed.returncode != 0:
            raise AssertionError("etcdctl get: " + completed.stderr)
        return [line for line in completed.stdout.splitlines() if line]

    def stop(self):
        """Stops every member by pid (thawing frozen ones first)."""
        for member in self.members:
            member.stop()

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self):
        return "\n".join(f"--- {m.name}\n{m.log()[-3000:]}" for m in self.members)
