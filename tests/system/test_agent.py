"""signpost-agent against the real signpostd: registration by signed UPDATE, an http check
against a real HTTP server, lease expiry after kill -9, deregistration on SIGTERM, reload on
SIGHUP, failover to a server that comes back, heartbeats to one server at a time (send_to =
"one") moving on when it stops answering, and the command line.

Intervals are short (check interval 0.5 s, lease 3 s) so that the file runs in well under a
minute. Answers are read with dnspython and dig.
"""

import os
import select
import signal
import socket
import threading
import time
import unittest

import dns.rdatatype

from harness import (LOOPBACK, AgentProcess, FixedPortServer, HttpHealthServer, Server, ask_udp,
                     dig, free_port, query_message, run, signpost_agent_path, wait_for)

SECRET = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="

SERVER_KEYS = f"""
[health]
min_lease = 2
max_lease = 3600

[[key]]
name = "agent-key"
algorithm = "hmac-sha256"
secret = "{SECRET}"
"""

LEASE = 3
INTERVAL = 0.5
FAILURES = 2
WEB = "web-host-1._web._tcp.svc.internal."
WEB_SRV = "0 1 8080 host-1.node.svc.internal."


def agent_config(servers, services, lease=LEASE, extra=""):
    """agent.toml for node host-1 at 127.0.0.10 and the given [[service]] blocks; `extra`
    adds lines to [agent]."""
    server_list = ", ".join(f'"{LOOPBACK}:{port}"' for port in servers)
    return f"""[agent]
node = "host-1"
addresses = ["127.0.0.10"]
servers = [{server_list}]
key_name = "agent-key"
key_secret = "{SECRET}"
lease = {lease}
{extra}""" + "".join(services)


def service(name, port=8080, check=None, extra=""):
    text = f'\n[[service]]\nname = "{name}"\nport = {port}\n{extra}'
    if check:
        text += f"\n[[service.check]]\n{check}"
    return text


def http_check(url):
    return (f'type = "http"\ntarget = "{url}"\ninterval = {INTERVAL}\ntimeout = 0.4\n'
            f"failures_before_critical = {FAILURES}\n")


def srv_records(port, name="_web._tcp.svc.internal"):
    """The SRV rdata signpostd hands out for `name`, as text; None when it does not answer."""
    response = ask_udp(port, query_message(name, "SRV"))
    if response is None:
        return None
    return {rdata.to_text() for rrset in response.answer if rrset.rdtype == dns.rdatatype.SRV
            for rdata in rrset}


def registered(port, srv=WEB_SRV, name="_web._tcp.svc.internal"):
    """True when an SRV record with the port and target of `srv` is handed out (its weight
    may differ: a warning instance keeps only a fraction)."""
    wanted = srv.split()[2:]
    return any(record.split()[2:] == wanted for record in srv_records(port, name) or set())


def timed_wait(predicate, timeout):
    """(became true, seconds it took)."""
    started = time.monotonic()
    ok = wait_for(predicate, timeout, interval=0.02)
    return ok, time.monotonic() - started


class AgentTestCase(unittest.TestCase):
    """A signpostd that accepts the agent's key, and the means to run agents against it."""

    def setUp(self):
        self.server = Server(extra=SERVER_KEYS)
        self.server.start()
        self.port = self.server.port
        self.agents = []
        self.cleanups = []

    def tearDown(self):
        for agent in self.agents:
            agent.stop()
            agent.cleanup()
        for cleanup in self.cleanups:
            cleanup()
        code = self.server.stop()
        log = self.server.log()
        self.server.cleanup()
        self.assertEqual(code, 0, "signpostd did not stop cleanly; log:\n" + log[-3000:])

    def start_agent(self, config_text):
        agent = AgentProcess(config_text).start()
        self.agents.append(agent)
        return agent

    def logs(self, agent):
        return "\nagent log:\n" + agent.log() + "\nserver log:\n" + self.server.log()[-3000:]


class AgentRegistrationTest(AgentTestCase):
    def test_registers_with_every_record(self):
        agent = self.start_agent(agent_config(
            [self.port], [service("web", extra='tags = ["v1", "canary"]\nweight = 5\n'
                                               'meta = { version = "1.2" }\n')]))
        srv = "0 5 8080 host-1.node.svc.internal."
        # The first registration comes within a second.
        ok, took = timed_wait(lambda: registered(self.port, srv), 3)
        self.assertTrue(ok, self.logs(agent))
        self.assertLess(took, 2.0)
        result = dig(self.port, "_web._tcp.svc.internal", "SRV")
        self.assertEqual(result.status, "NOERROR")
        self.assertEqual(result.rdata("answer", "SRV"), [srv])
        self.assertEqual(dig(self.port, "web.svc.internal", "A").rdata("answer", "A"),
                         ["127.0.0.10"])
        self.assertEqual(dig(self.port, "canary.web.svc.internal", "A").rdata("answer", "A"),
                         ["127.0.0.10"])
        self.assertEqual(dig(self.port, "_web._tcp.svc.internal", "PTR").rdata("answer", "PTR"),
                         [WEB])
        txt = " ".join(dig(self.port, WEB, "TXT").rdata("answer", "TXT"))
        self.assertIn('"version=1.2"', txt)
        self.assertIn("canary", txt)
        self.assertEqual(agent.log_count(f"registered {WEB} with {LOOPBACK}:{self.port} "
                                         f"(health passing, lease {LEASE} s)"), 1, agent.log())
        # Heartbeats renew the lease without a line each: still one line a lease later.
        time.sleep(LEASE + 0.5)
        self.assertTrue(registered(self.port, srv), self.logs(agent))
        self.assertEqual(agent.log_count("registered"), 1, agent.log())
        self.assertEqual(agent.log_count("\n"), 2, agent.log())  # started, registered

    def test_kill_9_leaves_within_the_lease(self):
        agent = self.start_agent(agent_config([self.port], [service("web")]))
        self.assertTrue(wait_for(lambda: registered(self.port), 3), self.logs(agent))
        time.sleep(1)  # a few heartbeats
        agent.process.kill()
        killed = time.monotonic()
        agent.wait()
        # The last heartbeat was at most a third of the lease ago: still there a second later.
        time.sleep(max(0.0, killed + 1.0 - time.monotonic()))
        self.assertTrue(registered(self.port), "gone before its lease ran out")
        ok, _ = timed_wait(lambda: not registered(self.port), killed + LEASE + 1 - time.monotonic())
        self.assertTrue(ok, f"still answered {LEASE + 1} s after kill -9" + self.logs(agent))

    def test_sigterm_deregisters_at_once(self):
        agent = self.start_agent(agent_config([self.port], [service("web"), service("db", 5432)]))
        self.assertTrue(wait_for(lambda: registered(self.port) and registered(
            self.port, "0 1 5432 host-1.node.svc.internal.", "_db._tcp.svc.internal"), 3),
            self.logs(agent))
        agent.signal(signal.SIGTERM)
        self.assertEqual(agent.wait(), 0, agent.log())
        # Gone right away, long before the lease would have run out.
        self.assertTrue(wait_for(lambda: not registered(self.port), 0.3), self.logs(agent))
        self.assertFalse(srv_records(self.port, "_db._tcp.svc.internal"))
        self.assertEqual(agent.log_count(f"deregistered {WEB} from {LOOPBACK}:{self.port}"), 1,
                         agent.log())
        self.assertEqual(agent.log_count("deregistered"), 2, agent.log())


class AgentCheckTest(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.http = HttpHealthServer()
        self.cleanups.append(self.http.cleanup)
        self.http.start()

    def test_http_check_takes_the_instance_out_and_back(self):
        agent = self.start_agent(agent_config([self.port],
                                              [service("web", check=http_check(self.http.url()))]))
        self.assertTrue(wait_for(lambda: registered(self.port), 3), self.logs(agent))

        self.http.stop()
        limit = FAILURES * INTERVAL + 1
        ok, took = timed_wait(lambda: not registered(self.port), limit)
        self.assertTrue(ok, f"still answered {limit} s after the HTTP server stopped"
                        + self.logs(agent))
        self.assertIn(f"{WEB} is critical", agent.log())
        # The change went out at once: the instance is still registered, only critical, so
        # its lease keeps being renewed and it stays out.
        time.sleep(LEASE / 3)
        self.assertFalse(registered(self.port))

        self.http.start()
        ok, took = timed_wait(lambda: registered(self.port), INTERVAL + 1)
        self.assertTrue(ok, "not back after the HTTP server returned" + self.logs(agent))
        self.assertIn(f"{WEB} is passing", agent.log())

    def test_http_status_decides(self):
        agent = self.start_agent(agent_config([self.port],
                                              [service("web", check=http_check(self.http.url()))]))
        self.assertTrue(wait_for(lambda: registered(self.port), 3), self.logs(agent))
        self.http.set_status(503)
        self.assertTrue(wait_for(lambda: not registered(self.port), FAILURES * INTERVAL + 1),
                        self.logs(agent))
        self.assertIn("(HTTP/1.1 503 Service Unavailable)", agent.log())
        self.http.set_status(429)  # warning: still handed out
        self.assertTrue(wait_for(lambda: registered(self.port), INTERVAL + 1), self.logs(agent))
        self.assertIn(f"{WEB} is warning", agent.log())
        self.http.set_status(200)
        self.assertTrue(wait_for(lambda: f"{WEB} is passing" in agent.log(), INTERVAL + 1),
                        self.logs(agent))


class AgentReloadTest(AgentTestCase):
    def test_sighup_adds_and_removes_services(self):
        agent = self.start_agent(agent_config([self.port], [service("web"), service("db", 5432)]))
        db_srv = "0 1 5432 host-1.node.svc.internal."
        self.assertTrue(wait_for(lambda: registered(self.port) and registered(
            self.port, db_srv, "_db._tcp.svc.internal"), 3), self.logs(agent))

        agent.write_config(agent_config([self.port], [service("web"), service("cache", 6379)]))
        agent.signal(signal.SIGHUP)
        cache_srv = "0 1 6379 host-1.node.svc.internal."
        self.assertTrue(wait_for(lambda: registered(self.port, cache_srv, "_cache._tcp.svc.internal")
                                 and not srv_records(self.port, "_db._tcp.svc.internal"), 2),
                        self.logs(agent))
        self.assertTrue(registered(self.port))
        self.assertIn("reloaded", agent.log())
        self.assertIn("1 added, 1 removed, 0 changed", agent.log())

        # A file that does not load leaves the agent running on what it had.
        agent.write_config("[agent]\nlease = 0\n")
        agent.signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "reload failed" in agent.log(), 2), agent.log())
        self.assertTrue(agent.alive())
        time.sleep(LEASE)
        self.assertTrue(registered(self.port, cache_srv, "_cache._tcp.svc.internal"))


class AgentFailoverTest(AgentTestCase):
    def test_registers_with_every_server_and_returns_to_one_that_restarts(self):
        second_port = free_port()
        second = FixedPortServer(second_port, extra=SERVER_KEYS)
        self.cleanups.append(lambda: (second.stop(), second.cleanup()))
        second.start()
        agent = self.start_agent(agent_config([self.port, second_port], [service("web")]))
        self.assertTrue(wait_for(lambda: registered(self.port) and registered(second_port), 3),
                        self.logs(agent))

        # The second server goes away: the agent says so once and keeps the first one fed.
        self.assertEqual(second.stop(), 0)
        self.assertTrue(wait_for(lambda: "is down" in agent.log(), 3), agent.log())
        time.sleep(LEASE + 1)
        self.assertTrue(registered(self.port), self.logs(agent))
        self.assertEqual(agent.log_count(f"server {LOOPBACK}:{second_port} is down"), 1,
                         agent.log())

        # It comes back with the instance's lease run out while it was down (kept in its
        # state file, out of the answers); the agent registers there again on its next
        # retry, which is never further away than a heartbeat.
        second.start()
        self.assertTrue(wait_for(lambda: registered(second_port), LEASE / 3 + 1.5),
                        self.logs(agent))
        self.assertEqual(agent.log_count(f"server {LOOPBACK}:{second_port} is back"), 1,
                         agent.log())
        self.assertEqual(agent.log_count(f"registered {WEB} with {LOOPBACK}:{second_port}"), 2,
                         agent.log())


class LossyRelay:
    """A UDP relay on loopback between the agent and signpostd that loses the first
    `lost_replies` replies on their way back, after signpostd has handled their UPDATEs.
    Records the message id of every request it passes, and when it passed each reply."""

    def __init__(self, server_port, lost_replies=1):
        self.server = (LOOPBACK, server_port)
        self.lost_replies = lost_replies
        self.request_ids = []
        self.reply_times = []  # time.monotonic()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()

    def _run(self):
        agent = None
        while not self.stopping:
            if not select.select([self.sock], [], [], 0.05)[0]:
                continue
            data, peer = self.sock.recvfrom(65535)
            if peer != self.server:
                agent = peer
                self.request_ids.append(int.from_bytes(data[:2], "big"))
                self.sock.sendto(data, self.server)
            elif self.lost_replies > 0:
                self.lost_replies -= 1
            elif agent is not None:
                self.reply_times.append(time.monotonic())
                self.sock.sendto(data, agent)


class AgentRetryTest(AgentTestCase):
    def test_retry_after_a_lost_reply_is_accepted(self):
        # signpostd applies the first UPDATE, and its reply is lost. The agent's retry must
        # not be the same signed message: signpostd would refuse it as a replay (NOTAUTH,
        # BADTIME) and the agent would log a failed registration.
        relay = LossyRelay(self.port).start()
        self.cleanups.append(relay.stop)
        agent = self.start_agent(agent_config([relay.port], [service("web")]))
        self.assertTrue(wait_for(lambda: agent.log_count("registered ") == 1, 4), self.logs(agent))
        self.assertTrue(registered(self.port), self.logs(agent))
        self.assertEqual(agent.log_count("failed"), 0, self.logs(agent))
        self.assertNotIn("replay", self.server.log(), self.logs(agent))
        self.assertGreaterEqual(len(relay.request_ids), 2)
        self.assertNotEqual(relay.request_ids[0], relay.request_ids[1])


class AgentOneAtATimeTest(AgentTestCase):
    """send_to = "one": two servers (each with its own memory registry here, so that where
    the heartbeats go shows in the answers), each behind a relay that times its replies."""

    def test_heartbeats_go_to_one_server_and_move_on_when_it_stops_answering(self):
        second = Server(extra=SERVER_KEYS)
        self.cleanups.append(lambda: (second.stop(), second.cleanup()))
        second.start()
        relays = [LossyRelay(port, lost_replies=0).start() for port in (self.port, second.port)]
        for relay in relays:
            self.cleanups.append(relay.stop)
        first_text, second_text = (f"{LOOPBACK}:{relay.port}" for relay in relays)
        agent = self.start_agent(agent_config([relay.port for relay in relays], [service("web")],
                                              extra='send_to = "one"\n'))
        self.assertTrue(wait_for(lambda: registered(self.port), 3), self.logs(agent))
        # A couple of heartbeats, every one to the first server.
        self.assertTrue(wait_for(lambda: len(relays[0].reply_times) >= 3, LEASE),
                        self.logs(agent))
        self.assertEqual(relays[1].request_ids, [])
        self.assertFalse(srv_records(second.port), self.logs(agent))

        # The first server hangs: the second gets the instance at once.
        pid = self.server.process.pid
        os.kill(pid, signal.SIGSTOP)
        self.cleanups.append(lambda: os.kill(pid, signal.SIGCONT))
        self.assertTrue(wait_for(lambda: registered(second.port), LEASE),
                        self.logs(agent) + "\nsecond server log:\n" + second.log())
        self.assertEqual(agent.log_count(f"server {first_text} is down (no reply); failing over "
                                         f"to {second_text}"), 1, agent.log())
        # No gap: had the servers shared a registry, the lease renewed last through the first
        # would not have run out before the second renewed it. The bound is the documented
        # one, a heartbeat and an UPDATE's timeout (two thirds of the lease), with some slack.
        gap = relays[1].reply_times[0] - relays[0].reply_times[-1]
        self.assertLess(gap, LEASE * 2 / 3 + 0.3, self.logs(agent))

        # The first answers again; heartbeats stay with the second. The first handles what
        # was queued while it hung, then hears nothing more, and the instance's lease there
        # runs out.
        sent_to_first = len(relays[0].request_ids)
        os.kill(pid, signal.SIGCONT)
        self.assertTrue(wait_for(lambda: not registered(self.port), LEASE + 1.5),
                        self.logs(agent))
        self.assertEqual(len(relays[0].request_ids), sent_to_first, agent.log())
        self.assertTrue(registered(second.port), self.logs(agent))
        self.assertGreaterEqual(len(relays[1].reply_times), 3)
        self.assertEqual(agent.log_count("failing over"), 1, agent.log())


class AgentCommandLineTest(unittest.TestCase):
    def setUp(self):
        self.agent = AgentProcess(agent_config([free_port()], [service("web")]))

    def tearDown(self):
        self.agent.cleanup()

    def test_check_config_accepts_a_good_file(self):
        result = run([signpost_agent_path(), "--check-config", self.agent.config_path])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("OK (node host-1 [127.0.0.10], 1 server, 1 service, 0 checks)",
                      result.stdout)

    def test_check_config_names_file_line_and_key(self):
        self.agent.write_config(agent_config([53], [service("web", port=0)]))
        result = run([signpost_agent_path(), "--check-config", self.agent.config_path])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{self.agent.config_path}:11: key 'service.port': must be between 1 "
                      "and 65535, not 0", result.stderr)
        self.agent.write_config(agent_config([53], []) + "colour = \"blue\"\n")
        result = run([signpost_agent_path(), "--check-config", self.agent.config_path])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("unknown key 'agent.colour'", result.stderr)

    def test_check_config_refuses_a_short_secret(self):
        short = agent_config([53], []).replace(SECRET, "ZmlmdGVlbiBvY3RldHMh")  # 15 octets
        self.agent.write_config(short)
        result = run([signpost_agent_path(), "--check-config", self.agent.config_path])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{self.agent.config_path}:6: key 'agent.key_secret': secret of key "
                      "\"agent-key\" is 15 octets; a TSIG key needs at least 16", result.stderr)

    def test_version_help_and_bad_arguments(self):
        result = run([signpost_agent_path(), "--version"])
        self.assertEqual(result.returncode, 0)
        self.assertRegex(result.stdout, r"^signpost-agent \d+\.\d+\.\d+\n$")
        result = run([signpost_agent_path(), "--help"])
        self.assertEqual(result.returncode, 0)
        self.assertIn("--check-config FILE", result.stdout)
        result = run([signpost_agent_path(), "--help-config"])
        self.assertIn("`agent.lease`", result.stdout)
        result = run([signpost_agent_path(), "--frobnicate"])
        self.assertEqual(result.returncode, 2)
        result = run([signpost_agent_path(), "--config", "/nonexistent/agent.toml"])
        self.assertEqual(result.returncode, 1)
        self.assertIn("/nonexistent/agent.toml: cannot be read", result.stderr)


if __name__ == "__main__":
    unittest.main()
