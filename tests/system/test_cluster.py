"""The etcd backend: three signpostd sharing one registry in a three-member etcd cluster.

Server i lists only etcd member i as its endpoint, so that freezing one member (SIGSTOP)
cuts one server off, and freezing two takes the cluster's quorum away from all three. Which
member leads is set before each freeze (etcdctl move-leader): losing the leader and losing a
follower are different cases, and each run tests the same one. Instances are registered and renewed with signed UPDATEs (dnspython, TSIG) and read back
with SRV queries on every server. Each test uses a service of its own, with leases long
enough (600 s) to outlive the class where a test does not mean them to expire.

Timings are printed, not asserted tightly: the bounds are the cluster's promises
(200 ms to reach every server, lease + 1.5 s to leave them) with generous slack for a
loaded two-core machine.
"""

import json
import os
import signal
import socket
import struct
import threading
import time
import unittest
import urllib.error
import urllib.request

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update

from etcd_cluster import EtcdCluster
from harness import (LOOPBACK, REGISTRY_DOMAIN, AgentProcess, FixedPortServer, free_port,
                     udp_exchange)

SECRET = "Y2x1c3RlciB0ZXN0IGtleSAwMTIzNDU2Nzg5YWJjZGVm"
KEY_NAME = "cluster-key"
PREFIX = "/signpost-test/"
API_TOKEN = "cluster-operator-token"
LONG_LEASE = 600
PROPAGATION_BOUND = 2.0   # seconds; the promise is 200 ms
EXPIRY_SLACK = 1.5        # seconds beyond lease + 1.5 s
ELECTION_SLACK = 1.0      # a new leader's election and its lease extension (one election timeout)


def server_config(endpoint, http_port, token_file, state_file):
    return f"""
[http]
listen = ["{LOOPBACK}:{http_port}"]
token_file = "{token_file}"

[registry]
backend = "etcd"
etcd_endpoints = ["{endpoint}"]
etcd_prefix = "{PREFIX}"
etcd_dial_timeout = 1
state_file = "{state_file}"

[health]
min_lease = 1
max_lease = {LONG_LEASE}

[[key]]
name = "{KEY_NAME}"
secret = "{SECRET}"
"""


def node_of(service, instance):
    return f"{instance}-{service}.node.{REGISTRY_DOMAIN}"


def registration(service, instance, lease, address="10.77.0.1"):
    """A signed UPDATE that registers (or, sent again, renews) `instance` of
    _<service>._tcp on a node of its own. Signed when it is turned into wire form, so each
    call to to_wire() is a fresh message the replay guard accepts."""
    keyring = dns.tsigkeyring.from_text({KEY_NAME: SECRET})
    message = dns.update.UpdateMessage(REGISTRY_DOMAIN, keyring=keyring, keyname=KEY_NAME,
                                       keyalgorithm=dns.tsig.HMAC_SHA256)
    node = node_of(service, instance)
    message.add(f"{instance}._{service}._tcp", lease, "SRV", f"0 1 9000 {node}")
    message.add(node, lease, "A", address)
    message.use_edns(0, options=[dns.edns.GenericOption(2, struct.pack("!I", lease))])
    return message


def register_bulk(port, service, count, lease=LONG_LEASE, per_update=250):
    """Registers instances b0..b<count-1> of _<service>._tcp, `per_update` to a signed
    UPDATE over TCP."""
    keyring = dns.tsigkeyring.from_text({KEY_NAME: SECRET})
    for first in range(0, count, per_update):
        message = dns.update.UpdateMessage(REGISTRY_DOMAIN, keyring=keyring, keyname=KEY_NAME,
                                           keyalgorithm=dns.tsig.HMAC_SHA256)
        for index in range(first, min(count, first + per_update)):
            node = node_of(service, f"b{index}")
            message.add(f"b{index}._{service}._tcp", lease, "SRV", f"0 1 9000 {node}")
            message.add(node, lease, "A", f"10.78.{index >> 8}.{index & 255}")
        response = dns.query.tcp(message, LOOPBACK, port=port, timeout=30)
        if response.rcode() != dns.rcode.NOERROR:
            raise AssertionError(f"bulk registration: {dns.rcode.to_text(response.rcode())}")


def register(port, service, instance, lease=LONG_LEASE):
    """Sends the registration and returns its rcode (raises on no answer)."""
    response = dns.query.udp(registration(service, instance, lease), LOOPBACK, port=port,
                             timeout=3)
    return response.rcode()


def srv_answer(port, service, timeout=0.3):
    """(rcode, set of SRV targets) for _<service>._tcp, or None when no answer came."""
    query = dns.message.make_query(f"_{service}._tcp.{REGISTRY_DOMAIN}", "SRV", use_edns=0,
                                   payload=4096)
    wire = udp_exchange(port, query.to_wire(), timeout=timeout)
    if wire is None:
        return None
    response = dns.message.from_wire(wire)
    if response.flags & dns.flags.TC:
        raise AssertionError(f"the SRV answer for {service} is truncated: too many instances")
    return response.rcode(), {str(rr.target) for rrset in response.answer for rr in rrset}


def srv_targets_tcp(port, service):
    query = dns.message.make_query(f"_{service}._tcp.{REGISTRY_DOMAIN}", "SRV")
    response = dns.query.tcp(query, LOOPBACK, port=port, timeout=5)
    return {str(rr.target) for rrset in response.answer for rr in rrset}


def lists(answer, targets):
    """Whether an srv_answer() is NOERROR and holds every target in `targets`."""
    return answer is not None and answer[0] == dns.rcode.NOERROR and set(targets) <= answer[1]


def absent(answer, target):
    """Whether an srv_answer() leaves `target` out (NXDOMAIN, nodata, or other targets)."""
    return answer is not None and target not in answer[1]


def soa_serial(port):
    """The registry zone's SOA serial in a server's answer (an AssertionError without one)."""
    query = dns.message.make_query(REGISTRY_DOMAIN, "SOA")
    wire = udp_exchange(port, query.to_wire(), timeout=2)
    if wire is None:
        raise AssertionError(f"no answer to SOA {REGISTRY_DOMAIN} from port {port}")
    return dns.message.from_wire(wire).answer[0][0].serial


def serial_greater(a, b):
    """Serial arithmetic (RFC 1982 §3.2): whether serial a is greater than serial b."""
    return a != b and (a - b) % 2**32 < 2**31


def per_server(seconds):
    """"s0, s1, s2" from {server index: seconds}, "never" for a server not in it."""
    return ", ".join(f"{seconds[i]:.2f}" if i in seconds else "never" for i in range(3))


def wait_until(predicate, timeout, interval=0.005):
    """Polls predicate() until it holds; returns the seconds it took, or None on timeout."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(interval)


class RecordingServer(FixedPortServer):
    """Asks for _<probe>._tcp SRV from the moment the process is started, keeping every
    answer, until the first one arrives: a server must not answer before its registry is
    loaded, so even the first answer must hold everything."""

    probe = None

    def wait_ready(self):
        self.answers = []
        self.started = time.monotonic()
        if self.probe is None:
            return super().wait_ready()
        deadline = self.started + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            answer = srv_answer(self.port, self.probe, timeout=0.1)
            if answer is not None:
                self.answers.append(answer)
                return True
            time.sleep(0.005)
        return False


class Heartbeats:
    """An agent in a thread: renews one instance every `interval` seconds, its k-th renewal
    sent to ports[k % len(ports)] (an agent going round the servers), keeping each rcode
    (None for no answer, the text of anything else that went wrong)."""

    def __init__(self, ports, service, instance, lease, interval):
        self.ports, self.service, self.instance = ports, service, instance
        self.lease, self.interval = lease, interval
        self.rcodes = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self):
        count = 0
        while not self._stop.is_set():
            port = self.ports[count % len(self.ports)]
            try:
                self.rcodes.append(register(port, self.service, self.instance, self.lease))
            except dns.exception.Timeout:
                self.rcodes.append(None)
            except Exception as error:  # noqa: BLE001 - kept for the test to report
                self.rcodes.append(repr(error))
            count += 1
            self._stop.wait(self.interval)


def api_status(http_port, method, path):
    """(status, body) of a request to a server's HTTP API with the operators' token."""
    request = urllib.request.Request(f"http://{LOOPBACK}:{http_port}{path}", method=method,
                                     headers={"Authorization": f"Bearer {API_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def api_put(http_port, path):
    """PUT on a server's HTTP API with the operators' token; returns the status."""
    return api_status(http_port, "PUT", path)[0]


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = EtcdCluster(3)
        cls.servers = []
        try:
            cls.cluster.start()
            cls.token_file = os.path.join(cls.cluster.root, "api.token")
            with open(cls.token_file, "w", encoding="utf-8") as f:
                f.write(API_TOKEN + "\n")
            cls.http_ports = []
            for member in cls.cluster.members:
                cls.http_ports.append(free_port())
                # Set, though the etcd backend keeps no state file (test_serials_... checks).
                state_file = os.path.join(cls.cluster.root, f"server-{member.index}.state")
                server = RecordingServer(free_port(), dns={"answer_limit": 0},
                                         extra=server_config(member.endpoint, cls.http_ports[-1],
                                                             cls.token_file, state_file))
                cls.servers.append(server)
                server.start()
        except BaseException:
            cls.tearDownClass(check=False)
            raise
        cls.ports = [server.port for server in cls.servers]

    @classmethod
    def tearDownClass(cls, check=True):
        failures = []
        for i, server in enumerate(cls.servers):
            code = server.stop()
            if code not in (0, None):
                failures.append(f"server {i} exited with status {code} on SIGTERM; log:\n"
                                + server.log()[-3000:])
            server.cleanup()
        cls.cluster.stop()
        cls.cluster.cleanup()
        if check and failures:
            raise AssertionError("\n".join(failures))

    def logs(self):
        return "\n".join(f"--- server {i} (etcd {m.endpoint})\n{s.log()[-2500:]}"
                         for i, (s, m) in enumerate(zip(self.servers, self.cluster.members)))

    def freeze(self, *indexes):
        for i in indexes:
            self.cluster.members[i].freeze()
            self.addCleanup(self.thaw, i)

    def thaw(self, i):
        if self.cluster.members[i].frozen:
            self.cluster.members[i].thaw()

    def poll(self, service, seconds, until=lambda: False):
        """Asks each server in turn for _<service>._tcp SRV for `seconds` or until `until()`
        holds, yielding (server index, srv_answer())."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until():
            for i, port in enumerate(self.ports):
                yield i, srv_answer(port, service)
            time.sleep(0.01)

    def poll_one(self, i, service, seconds):
        """Asks server i for _<service>._tcp SRV every 10 ms for `seconds`, yielding
        (i, srv_answer())."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            yield i, srv_answer(self.ports[i], service)
            time.sleep(0.01)

    def stored_serial(self):
        """The serial etcd holds in <prefix>serial, or None."""
        completed = self.cluster.etcdctl("get", PREFIX + "serial", "--print-value-only")
        if completed.returncode != 0:
            raise AssertionError("etcdctl get: " + completed.stderr)
        value = completed.stdout.strip()
        return int(value) if value else None

    def serials_kept(self):
        """Whether etcd's serial is at or past every server's: none has one left to write."""
        stored = self.stored_serial()
        return stored is not None and not any(serial_greater(soa_serial(port), stored)
                                              for port in self.ports)

    def register_everywhere(self, service, instances, lease=LONG_LEASE, via=0):
        """Registers each instance via server `via` and waits until all three servers list
        them all."""
        for instance in instances:
            self.assertEqual(register(self.ports[via], service, instance, lease),
                             dns.rcode.NOERROR)
        targets = {node_of(service, i) for i in instances}
        for i, port in enumerate(self.ports):
            took = wait_until(lambda: lists(srv_answer(port, service), targets), 5)
            self.assertIsNotNone(took, f"server {i} did not list {sorted(targets)}\n" + self.logs())
        return targets

    def test_a_registration_reaches_every_server(self):
        figures = []
        for k in range(5):
            target = node_of("prop", f"p{k}")
            sent = time.monotonic()
            self.assertEqual(register(self.ports[0], "prop", f"p{k}"), dns.rcode.NOERROR)
            seen = {}
            while len(seen) < 2 and time.monotonic() - sent < PROPAGATION_BOUND:
                for i in (1, 2):
                    if i not in seen and lists(srv_answer(self.ports[i], "prop"), {target}):
                        seen[i] = time.monotonic() - sent
            self.assertEqual(sorted(seen), [1, 2],
                             f"p{k} not on every server within {PROPAGATION_BOUND}s: {seen}\n"
                             + self.logs())
            figures.append(max(seen.values()))
        print(f"\nregistration via server 0 listed by servers 1 and 2 after "
              f"{', '.join(f'{s * 1000:.1f}' for s in figures)} ms (promise: 200 ms)")

    def test_a_drain_through_one_server_applies_on_all(self):
        drained, other = node_of("drn", "d1"), node_of("drn", "d2")
        self.assertEqual(register(self.ports[0], "drn", "d1"), dns.rcode.NOERROR)
        self.assertEqual(register(self.ports[0], "drn", "d2"), dns.rcode.NOERROR)
        everywhere = lambda check: all(check(srv_answer(port, "drn")) for port in self.ports)
        self.assertIsNotNone(wait_until(lambda: everywhere(lambda a: lists(a, {drained, other})),
                                        PROPAGATION_BOUND), self.logs())
        # Drained through server 1's API; server 0 tracks the instance (its agent is there).
        self.assertEqual(api_put(self.http_ports[1], "/v1/services/drn/instances/d1/drain"), 200)
        took = wait_until(lambda: everywhere(lambda a: absent(a, drained) and lists(a, {other})),
                          PROPAGATION_BOUND)
        self.assertIsNotNone(took, "the drain did not reach every server\n" + self.logs())
        # Its agent's heartbeat on server 0, and a change of its health there, keep it drained.
        self.assertEqual(register(self.ports[0], "drn", "d1"), dns.rcode.NOERROR)
        time.sleep(0.3)  # what a lost drain would need to come back on a server
        self.assertTrue(everywhere(lambda a: absent(a, drained)), self.logs())
        self.assertEqual(api_put(self.http_ports[2], "/v1/services/drn/instances/d1/undrain"), 200)
        self.assertIsNotNone(wait_until(lambda: everywhere(lambda a: lists(a, {drained, other})),
                                        PROPAGATION_BOUND), self.logs())
        print(f"\ndrain through server 1 in the answers of all three after {took * 1000:.1f} ms")

    def test_a_server_killed_and_restarted_answers_only_the_full_registry(self):
        # 2,000 more instances in etcd give the restarted server something to load.
        register_bulk(self.ports[0], "killbulk", 2000)
        instances = [f"k{i}" for i in range(10)]  # their SRV answer fits a 1232-octet datagram
        targets = self.register_everywhere("kill", instances)
        in_etcd = wait_until(lambda: sum("kill" in key for key in
                                         self.cluster.keys(PREFIX + "instances/")) == 2010,
                             30, interval=0.2)
        self.assertIsNotNone(in_etcd, self.logs())
        server = self.servers[1]
        server.process.kill()
        server.process.wait(timeout=5)
        server.stop()  # closes the log
        server.probe = "kill"
        try:
            server.start()
        finally:
            server.probe = None
        first = time.monotonic() - server.started
        answers = list(server.answers)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            answers.append(srv_answer(server.port, "kill"))
        print(f"\nrestarted server 1 answered {first * 1000:.0f} ms after its start, with "
              f"over 2,010 instances in etcd; {len(answers)} answers checked")
        bad = [a for a in answers if a is None or a[0] != dns.rcode.NOERROR or a[1] != targets]
        self.assertEqual(bad[:3], [], f"{len(bad)} of {len(answers)} answers wrong\n"
                         + server.log()[-3000:])
        # And it follows the watch again.
        self.register_everywhere("kill", ["k-after"], via=2)

    def test_an_expired_lease_leaves_every_server(self):
        lease = 3
        response = dns.query.udp(registration("expiry", "e1", lease), LOOPBACK,
                                 port=self.ports[0], timeout=3)
        registered = time.monotonic()
        self.assertEqual(response.rcode(), dns.rcode.NOERROR)
        granted = [o for o in response.options if o.otype == 2]
        self.assertEqual(struct.unpack("!I", granted[0].data[:4])[0], lease)
        target = node_of("expiry", "e1")
        for i, port in enumerate(self.ports):
            self.assertIsNotNone(wait_until(lambda: lists(srv_answer(port, "expiry"), {target}),
                                            PROPAGATION_BOUND), f"server {i}\n" + self.logs())
        gone = {}
        bound = lease + 1.5 + EXPIRY_SLACK
        for i, answer in self.poll("expiry", bound + 2 - (time.monotonic() - registered),
                                   until=lambda: len(gone) == 3):
            if i not in gone and absent(answer, target):
                gone[i] = time.monotonic() - registered
        print(f"\nlease {lease} s: gone from servers 0, 1, 2 after {per_server(gone)} s "
              f"(promise: {lease + 1.5} s)")
        self.assertEqual(sorted(gone), [0, 1, 2], self.logs())
        self.assertLess(max(gone.values()), bound, self.logs())

    def test_quorum_lost_and_back(self):
        lease = 3
        keep, stop, new = (node_of("quorum", i) for i in ("keep", "stop", "new"))
        self.register_everywhere("quorum", ["keep", "stop"], lease=lease)
        # The agent of "keep" heartbeats every lease/3, going round the three servers; the
        # agent of "stop" is gone from now on.
        agent = Heartbeats(self.ports, "quorum", "keep", lease, lease / 3).start()
        self.addCleanup(agent.stop)
        # The member left running leads until it finds it has lost the quorum.
        self.cluster.make_leader(self.cluster.members[0])
        self.freeze(1, 2)
        # A registration during the outage, at a server that is cut off as well.
        self.assertEqual(register(self.ports[1], "quorum", "new"), dns.rcode.NOERROR)
        wrong, answers, stop_missing = [], 0, set()
        for i, answer in self.poll("quorum", lease + 2):
            answers += 1
            if not lists(answer, {keep}):
                wrong.append((i, answer))
            elif stop not in answer[1]:
                stop_missing.add(i)
        outage_rcodes = list(agent.rcodes)
        self.thaw(1)
        self.thaw(2)
        back = time.monotonic()
        self.assertEqual(wrong[:3], [], f"{len(wrong)} of {answers} answers during the outage "
                         "were wrong\n" + self.logs())
        # Each server kept answering its last registry: no lease runs out without a leader.
        self.assertEqual(stop_missing, set(), self.logs())
        self.assertTrue(outage_rcodes and all(r == dns.rcode.NOERROR for r in outage_rcodes),
                        f"renewals during the outage: {outage_rcodes}\n" + self.logs())
        self.assertTrue(self.cluster.wait_healthy(timeout=10), self.cluster.logs())
        healthy = time.monotonic() - back
        # Then "stop" goes (reconciled away, or expired by etcd, which gives every lease a
        # full TTL when a new leader takes over), "new" comes, and "keep" never leaves.
        bound = healthy + lease + 1.5 + ELECTION_SLACK + EXPIRY_SLACK
        gone, came, wrong = self.reconciled("quorum", back, bound, lease, keep, stop, new)
        print(f"\nquorum back: cluster healthy {healthy:.2f} s after SIGCONT; 'stop' gone from "
              f"servers 0, 1, 2 after {per_server(gone)} s, 'new' there after "
              f"{per_server(came)} s; {len(outage_rcodes)} renewals in the outage, all NOERROR")
        self.assertEqual(wrong[:3], [], "'keep' missing after the outage\n" + self.logs())
        self.assertEqual(sorted(gone), [0, 1, 2],
                         "'stop' still listed after the outage\n" + self.logs())
        self.assertLess(max(gone.values()), bound, self.logs())
        self.assertEqual(sorted(came), [0, 1, 2],
                         "'new' (registered during the outage) not listed\n" + self.logs())
        agent.stop()
        self.assertNotIn(None, agent.rcodes)

    def reconciled(self, service, back, bound, lease, keep, stop, new):
        """Polls every server after an outage until `stop` has left and `new` has come on
        all three and a lease has passed since, or `bound` + `lease` seconds after `back`.
        Returns ({server: seconds until stop left}, {server: seconds until new came},
        [answers without keep])."""
        gone, came, wrong = {}, {}, []

        def settled():
            last = max([*gone.values(), *came.values()], default=0)
            return len(gone) == len(came) == 3 and time.monotonic() - back > last + lease
        for i, answer in self.poll(service, bound + lease - (time.monotonic() - back),
                                   until=settled):
            if not lists(answer, {keep}):
                wrong.append((i, answer))
                continue
            if i not in gone and stop not in answer[1]:
                gone[i] = time.monotonic() - back
            if i not in came and new in answer[1]:
                came[i] = time.monotonic() - back
        return gone, came, wrong

    def test_a_server_cut_off_from_a_follower_keeps_answering_and_catches_up(self):
        self.cluster.make_leader(self.cluster.members[0])
        self.cut_off("cutf", "a follower")

    def test_a_server_cut_off_from_the_leader_keeps_answering_and_catches_up(self):
        self.cluster.make_leader(self.cluster.members[2])
        self.cut_off("cutl", "the leader")

    def cut_off(self, service, role):
        """Freezes etcd member 2, server 2's only endpoint, for at least 4 s, while an agent
        heartbeats server 2 alone with a lease of 2 s (which etcd lets run out meanwhile)."""
        before, during = node_of(service, "before"), node_of(service, "during")
        agent_node = node_of(service, "agent")
        self.register_everywhere(service, ["before"])
        self.register_everywhere(service, ["agent"], lease=2, via=2)
        agent = Heartbeats([self.ports[2]], service, "agent", 2, 2 / 3).start()
        self.addCleanup(agent.stop)
        outage = "etcd registry: etcd unreachable"
        outages_before = self.servers[2].log().count(outage)
        self.freeze(2)
        frozen = time.monotonic()
        # A registration at another server reaches the servers that still reach etcd (when
        # the frozen member led, once the other two have a leader again).
        self.assertEqual(register(self.ports[0], service, "during"), dns.rcode.NOERROR)
        reached = wait_until(lambda: lists(srv_answer(self.ports[1], service), {during}), 10)
        self.assertIsNotNone(reached, "a registration during the cut-off did not reach "
                             "server 1\n" + self.logs())
        # The cut-off server answers what it had, its agent's instance included.
        cut_end = frozen + max(5, reached + 1)
        wrong, answers, expired = [], 0, False
        while time.monotonic() < cut_end:
            answer = srv_answer(self.ports[2], service)
            answers += 1
            if not lists(answer, {before, agent_node}):
                wrong.append(answer)
            expired = expired or absent(srv_answer(self.ports[0], service), agent_node)
            time.sleep(0.01)
        # The outage is logged once, though the server only renewed leases: the stream to
        # a member that hangs breaks nowhere, its renewals just go unanswered.
        outage_lines = self.servers[2].log().count(outage) - outages_before
        # Its API refuses a write it could not keep (503), and says why in its status.
        drain = api_status(self.http_ports[2], "PUT",
                           f"/v1/services/{service}/instances/before/drain")
        status = json.loads(api_status(self.http_ports[2], "GET", "/v1/status")[1])
        self.thaw(2)
        self.assertEqual(drain[0], 503, drain)
        self.assertIn("etcd", json.loads(drain[1])["error"])
        self.assertFalse(status["backend"]["healthy"], status)
        self.assertEqual(outage_lines, 1, "the cut-off server did not log its outage once\n"
                         + self.logs())
        self.assertEqual(wrong[:3], [], f"{len(wrong)} of {answers} answers of the cut-off "
                         "server were wrong\n" + self.logs())
        caught_up = wait_until(lambda: lists(srv_answer(self.ports[2], service),
                                             {before, during}), 10)
        # etcd expired the agent's lease meanwhile (no renewal reached it); server 2 writes
        # the instance again, and every server lists it.
        revived = wait_until(lambda: all(lists(srv_answer(port, service), {agent_node})
                                         for port in self.ports), 10)
        agent.stop()
        print(f"\nwith {role} frozen, a registration via server 0 reached server 1 after "
              f"{reached:.2f} s; after SIGCONT the cut-off server listed it after "
              f"{'never' if caught_up is None else f'{caught_up:.2f} s'}; its agent's "
              f"instance {'left' if expired else 'stayed on'} server 0 during the cut and was "
              f"on every server {'never' if revived is None else f'{revived:.2f} s'} later")
        self.assertIsNotNone(caught_up, self.logs())
        self.assertIsNotNone(revived, self.logs())
        ends = "etcd registry: etcd reachable again"
        self.assertIsNotNone(
            wait_until(lambda: self.servers[2].log().count(ends) > outages_before, 5),
            "the end of the outage was not logged\n" + self.logs())
        self.assertTrue(all(r == dns.rcode.NOERROR for r in agent.rcodes),
                        f"renewals at the cut-off server: {agent.rcodes}\n" + self.logs())

    def test_an_agent_fails_over_to_another_server_without_a_gap(self):
        """A real signpost-agent with send_to = "one" heartbeats server 0; server 0 hangs
        (SIGSTOP of signpostd itself): the agent moves to server 1, which renews the etcd
        lease server 0 granted without a write, and the instance never leaves the answers
        of the servers that still answer."""
        lease = 3
        target = f"failover-host.node.{REGISTRY_DOMAIN}"
        agent = AgentProcess(f"""[agent]
node = "failover-host"
addresses = ["127.0.0.21"]
servers = ["{LOOPBACK}:{self.ports[0]}", "{LOOPBACK}:{self.ports[1]}"]
send_to = "one"
key_name = "{KEY_NAME}"
key_secret = "{SECRET}"
lease = {lease}

[[service]]
name = "failover"
port = 8080
""").start()
        self.addCleanup(agent.cleanup)
        self.addCleanup(agent.stop)
        for i, port in enumerate(self.ports):
            self.assertIsNotNone(wait_until(lambda: lists(srv_answer(port, "failover"), {target}),
                                            5), f"server {i}\n" + agent.log() + self.logs())
        # Each server writes the serial of its publishes to etcd within 100 ms: counted from
        # when all are written, so that only the failover's own writes count below.
        self.assertIsNotNone(wait_until(self.serials_kept, 5, interval=0.05), self.logs())
        proposals = self.cluster.proposals_committed()
        process = self.servers[0].process
        process.send_signal(signal.SIGSTOP)
        self.addCleanup(lambda: process.poll() is None and process.send_signal(signal.SIGCONT))
        missing, answers = [], 0
        end = time.monotonic() + 3 * lease
        while time.monotonic() < end:
            for i in (1, 2):
                answer = srv_answer(self.ports[i], "failover")
                answers += 1
                if not lists(answer, {target}):
                    missing.append((i, answer))
            time.sleep(0.01)
        written = self.cluster.proposals_committed() - proposals
        process.send_signal(signal.SIGCONT)
        self.assertEqual(agent.log_count("failing over"), 1, agent.log())
        self.assertEqual(missing[:3], [], f"{len(missing)} of {answers} answers of servers 1 "
                         "and 2 lacked the instance while its agent failed over\n"
                         + agent.log() + self.logs())
        # The takeover renews the etcd lease server 0 granted: no Raft write.
        self.assertLessEqual(written, 2, f"{written} etcd proposals during the failover")
        # Server 0, back, finds its own lease of the instance run out (it hung for three
        # leases) and lets go of it at its next lease tick (every 250 ms): through that, it
        # keeps answering the instance that etcd keeps alive.
        gaps = [answer for _, answer in self.poll_one(0, "failover", seconds=1)
                if not lists(answer, {target})]
        self.assertEqual(gaps[:3], [], agent.log() + self.logs())
        print(f"\nagent failover: {answers} answers of servers 1 and 2, none without the "
              f"instance; {written} etcd proposals meanwhile")

    def test_renewals_are_not_raft_writes(self):
        count, rounds, lease = 200, 8, 60
        instances = [f"r{i}" for i in range(count)]
        for k, instance in enumerate(instances):
            self.assertEqual(register(self.ports[k % 3], "renew", instance, lease),
                             dns.rcode.NOERROR)
        targets = {node_of("renew", i) for i in instances}
        self.assertIsNotNone(wait_until(lambda: srv_targets_tcp(self.ports[1], "renew") ==
                                        targets, 10, interval=0.1), self.logs())
        # The registrations' writes are done once the count of proposals stands still.
        before = self.cluster.proposals_committed()
        while True:
            time.sleep(0.5)
            now = self.cluster.proposals_committed()
            if now == before:
                break
            before = now
        sent, noerror = 0, 0
        started = time.monotonic()
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in self.ports]
        try:
            for s, port in zip(sockets, self.ports):
                s.connect((LOOPBACK, port))
                s.settimeout(2)
            for round_number in range(rounds):
                round_end = started + (round_number + 1) * 0.5
                for k, instance in enumerate(instances):
                    sockets[k % 3].send(registration("renew", instance, lease).to_wire())
                    sent += 1
                for k in range(count):
                    try:
                        wire = sockets[k % 3].recv(65535)
                    except socket.timeout:
                        continue
                    noerror += (wire[3] & 0x0F) == dns.rcode.NOERROR
                time.sleep(max(0.0, round_end - time.monotonic()))
        finally:
            for s in sockets:
                s.close()
        seconds = time.monotonic() - started
        time.sleep(1.0)  # coalesced keep-alives go out within 500 ms
        proposals = self.cluster.proposals_committed() - before
        print(f"\n{sent} renewals of {count} instances in {seconds:.1f} s "
              f"({noerror} NOERROR): {proposals} etcd proposals committed")
        self.assertGreaterEqual(noerror, sent * 0.95, self.logs())
        self.assertLess(proposals, sent * 0.10, self.logs())

    def test_serials_never_go_backwards_across_a_kill(self):
        """500 registrations at server 2, one publish each, run its registry zone serial
        ahead of the clock. Killed (SIGKILL) and restarted, it must start past the serial it
        served (RFC 1982), from the one the cluster keeps in etcd (<prefix>serial), not from
        the clock: a secondary that saw the higher serial would take the new data for old."""
        i, count = 2, 500
        port = self.ports[i]
        served = soa_serial(port)
        started = time.monotonic()
        for k in range(count):
            self.assertEqual(register(port, "serial", f"s{k}"), dns.rcode.NOERROR)
            # The answer comes before the snapshot that carries the registration: waiting for
            # it makes each registration a publish of its own.
            deadline = time.monotonic() + 5
            while not serial_greater(now := soa_serial(port), served):
                self.assertLess(time.monotonic(), deadline,
                                f"registration {k} not published\n" + self.logs())
            served = now
        burst = time.monotonic() - started
        # The etcd backend writes no state file, even one configured: no saved serial to
        # start past. etcd is where the serial survives.
        self.assertEqual([name for name in os.listdir(self.cluster.root)
                          if name.startswith("server-")], [])
        ahead = (served - int(time.time())) % 2**32
        # Otherwise the clock alone would pass it after the restart, and this proved nothing.
        self.assertTrue(10 < ahead < 2**31, f"serial {served} is not ahead of the clock")
        server = self.servers[i]
        server.process.kill()
        server.process.wait(timeout=5)
        server.stop()  # closes the log
        server.start()
        restarted = soa_serial(port)
        print(f"\n{count} registrations, one publish each, in {burst:.1f} s ran server {i}'s "
              f"serial {ahead} ahead of the clock; served {served} before the kill, "
              f"{restarted} after the restart")
        self.assertTrue(serial_greater(restarted, served),
                        f"restarted at serial {restarted}, served {served} before the kill\n"
                        + server.log()[-3000:])
        self.assertIn("registry zone serial starts at", server.log())
        # Its first serial is kept in turn: another kill right now would start past it too.
        self.assertIsNotNone(wait_until(lambda: not serial_greater(restarted, self.stored_serial()
                                                                   or 0), 5, interval=0.05),
                             f"etcd holds {self.stored_serial()}, below {restarted}")


if __name__ == "__main__":
    unittest.main()
