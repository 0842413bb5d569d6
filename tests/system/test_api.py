"""The HTTP API end to end: the real signpostd with [http] on loopback, driven with plain
HTTP requests (urllib and raw sockets), its effect read back with DNS queries.

Registrations are signed UPDATEs with a lease (dnspython), as agents send them; the writes
(drain, weight, deregister) carry the bearer token from http.token_file.
"""

import json
import os
import socket
import struct
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

import dns.edns
import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update

from harness import (LOOPBACK, REGISTRY_DOMAIN, Server, free_port, signpostd_path, udp_exchange,
                     wait_for)

SECRET = "YXBpIHRlc3Qga2V5IDAxMjM0NTY3ODlhYmNkZWYwMTI="
TOKEN = "s3cret-operator-token"


def config(http_port, token_file):
    token_line = f'token_file = "{token_file}"' if token_file else ""
    return f"""
[health]
min_lease = 2
max_lease = 600

[http]
listen = ["{LOOPBACK}:{http_port}"]
{token_line}

[[key]]
name = "api-key"
secret = "{SECRET}"
allow = ["api"]

[[service]]
name = "web"
port = 8080

[[service.instance]]
id = "web-1"
node = "static-1"
addresses = ["192.0.2.11"]
"""


def register(port, instance, node, address, lease=60, weight=1):
    keyring = dns.tsigkeyring.from_text({"api-key": SECRET})
    message = dns.update.UpdateMessage(REGISTRY_DOMAIN, keyring=keyring, keyname="api-key",
                                       keyalgorithm=dns.tsig.HMAC_SHA256)
    message.add(f"{instance}._api._tcp", lease, "SRV",
                f"0 {weight} 9000 {node}.node.{REGISTRY_DOMAIN}")
    message.add(f"{node}.node", lease, "A", address)
    message.use_edns(0, options=[dns.edns.GenericOption(2, struct.pack("!I", lease))])
    response = dns.query.udp(message, LOOPBACK, port=port, timeout=3)
    if response.rcode() != dns.rcode.NOERROR:
        raise AssertionError(f"registration of {instance}: {dns.rcode.to_text(response.rcode())}")


def srv_answer(port, name=f"_api._tcp.{REGISTRY_DOMAIN}"):
    """{target node label: SRV weight} of the SRV answer."""
    query = dns.message.make_query(name, "SRV", use_edns=0, payload=4096)
    wire = udp_exchange(port, query.to_wire(), timeout=2)
    assert wire is not None, "no DNS answer"
    response = dns.message.from_wire(wire)
    return {str(rr.target).split(".")[0]: rr.weight for rrset in response.answer for rr in rrset}


class ApiServer(Server):
    def __init__(self, token=TOKEN, **kwargs):
        super().__init__(**kwargs)
        self.http_port = free_port()
        self.token_file = None
        if token is not None:
            self.token_file = os.path.join(self.workdir, "api.token")
            with open(self.token_file, "w", encoding="utf-8") as f:
                f.write(f"# the operators' token\n{token}\n")
        self.extra = config(self.http_port, self.token_file)

    def request(self, method, path, body=None, token=TOKEN, headers=None, timeout=10):
        """(status, parsed JSON or text, headers)."""
        request = urllib.request.Request(f"http://{LOOPBACK}:{self.http_port}{path}",
                                         method=method, data=body)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, data, found = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, data, found = error.code, error.read(), error.headers
        text = data.decode("utf-8", "replace")
        if "json" in (found.get("Content-Type") or ""):
            return status, json.loads(text), found
        return status, text, found


class ApiTest(unittest.TestCase):
    def setUp(self):
        self.server = ApiServer()
        self.server.start()
        self.addCleanup(self.server.cleanup)
        self.addCleanup(self.server.stop)

    def test_reads_list_services_instances_nodes_and_status(self):
        register(self.server.port, "api-1", "host-1", "127.0.0.21", lease=30)
        status, body, headers = self.server.request("GET", "/v1/services")
        self.assertEqual(status, 200)
        self.assertEqual(int(headers["X-Signpost-Index"]), body["serial"])
        names = {service["name"]: service for service in body["services"]}
        self.assertEqual(set(names), {"api", "web"})
        self.assertEqual(names["api"]["counts"]["total"], 1)
        self.assertEqual(names["api"]["counts"]["passing"], 1)
        self.assertEqual(names["web"]["port"], 8080)

        status, body, _ = self.server.request("GET", "/v1/services/api")
        self.assertEqual(status, 200)
        [instance] = body["instances"]
        self.assertEqual(instance["id"], "api-1")
        self.assertEqual(instance["node"], "host-1")
        self.assertEqual(instance["addresses"], ["127.0.0.21"])
        self.assertEqual(instance["source"], "update")
        self.assertEqual(instance["lease_seconds"], 30)
        self.assertTrue(0 < instance["lease_remaining"] <= 30)
        self.assertFalse(instance["drained"])
        self.assertEqual(instance["flap"]["state"], "stable")
        status, body, _ = self.server.request("GET", "/v1/services/web")
        self.assertEqual(body["instances"][0]["source"], "static")
        self.assertIsNone(body["instances"][0]["lease_seconds"])

        status, body, _ = self.server.request("GET", "/v1/nodes")
        self.assertEqual({node["name"]: node["services"] for node in body["nodes"]},
                         {"host-1": ["api"], "static-1": ["web"]})
        status, body, _ = self.server.request("GET", "/v1/status")
        self.assertEqual(status, 200)
        self.assertEqual(body["instances"], 2)
        self.assertEqual(body["instances_by_source"], {"static": 1, "update": 1, "api": 0})
        self.assertEqual(body["backend"]["kind"], "memory")
        self.assertTrue(body["backend"]["healthy"])
        self.assertEqual(self.server.request("GET", "/v1/services/nothing")[0], 404)

    def test_drain_is_in_the_answers_when_the_reply_comes_and_outlasts_heartbeats_and_restarts(self):
        port = self.server.port
        register(port, "api-1", "host-1", "127.0.0.21")
        register(port, "api-2", "host-2", "127.0.0.22")
        # An UPDATE's answer comes before the snapshot that carries it is published.
        self.assertTrue(wait_for(lambda: set(srv_answer(port)) == {"host-1", "host-2"}, 5))
        status, body, _ = self.server.request("PUT", "/v1/services/api/instances/api-1/drain")
        self.assertEqual(status, 200, body)
        self.assertTrue(body["instance"]["drained"])
        self.assertEqual(body["instance"]["effective_weight"], 0)
        # The reply waits for the snapshot that carries the drain: the next answer has it.
        self.assertEqual(set(srv_answer(port)), {"host-2"})
        self.assertIn("audit drain service=api id=api-1 who=token:", self.server.log())

        register(port, "api-1", "host-1", "127.0.0.21")  # its agent's heartbeat
        self.assertEqual(set(srv_answer(port)), {"host-2"})

        self.server.stop()
        self.server.start()  # on the same state file
        self.assertEqual(set(srv_answer(self.server.port)), {"host-2"})
        _, body, _ = self.server.request("GET", "/v1/services/api")
        self.assertEqual([i["drained"] for i in body["instances"]], [True, False])

        status, body, _ = self.server.request("PUT", "/v1/services/api/instances/api-1/undrain")
        self.assertEqual(status, 200, body)
        self.assertEqual(set(srv_answer(self.server.port)), {"host-1", "host-2"})

    def test_a_drained_static_instance_stays_drained_across_a_restart(self):
        web = f"_web._tcp.{REGISTRY_DOMAIN}"
        self.assertEqual(set(srv_answer(self.server.port, web)), {"static-1"})
        status, body, _ = self.server.request("PUT", "/v1/services/web/instances/web-1/drain")
        self.assertEqual(status, 200, body)
        self.assertEqual(srv_answer(self.server.port, web), {})
        self.server.stop()
        self.server.start()  # the static instance comes from the config, its drain from the state
        self.assertEqual(srv_answer(self.server.port, web), {})
        _, body, _ = self.server.request("GET", "/v1/services/web")
        self.assertTrue(body["instances"][0]["drained"])
        self.assertEqual(self.server.request("PUT", "/v1/services/web/instances/web-1/undrain")[0],
                         200)
        self.assertEqual(set(srv_answer(self.server.port, web)), {"static-1"})

    def test_weight_override_replaces_the_registered_weight_until_cleared(self):
        port = self.server.port
        register(port, "api-1", "host-1", "127.0.0.21", weight=2)
        register(port, "api-2", "host-2", "127.0.0.22", weight=2)
        status, body, _ = self.server.request("PUT", "/v1/services/api/instances/api-1/weight",
                                              body=b'{"weight": 7}')
        self.assertEqual(status, 200, body)
        self.assertEqual(body["instance"]["weight"], 2)
        self.assertEqual(body["instance"]["weight_override"], 7)
        self.assertEqual(srv_answer(port), {"host-1": 7, "host-2": 2})
        register(port, "api-1", "host-1", "127.0.0.21", weight=2)  # a heartbeat
        self.assertEqual(srv_answer(port)["host-1"], 7)
        status, body, _ = self.server.request("PUT", "/v1/services/api/instances/api-1/weight",
                                              body=b'{"weight": null}')
        self.assertEqual(status, 200, body)
        self.assertIsNone(body["instance"]["weight_override"])
        self.assertEqual(srv_answer(port), {"host-1": 2, "host-2": 2})
        for bad in (b'{"weight": 70000}', b'{"weight": -1}', b'{"weight": "x"}', b"not json"):
            status, body, _ = self.server.request(
                "PUT", "/v1/services/api/instances/api-1/weight", body=bad)
            self.assertEqual(status, 400, bad)
            self.assertIn("error", body)

    def test_deregister_removes_an_update_instance_and_refuses_a_static_one(self):
        port = self.server.port
        register(port, "api-1", "host-1", "127.0.0.21")
        register(port, "api-2", "host-2", "127.0.0.22")
        status, body, _ = self.server.request("DELETE", "/v1/services/api/instances/api-1")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["deregistered"], {"service": "api", "id": "api-1"})
        self.assertEqual(set(srv_answer(port)), {"host-2"})
        self.assertEqual(self.server.request("DELETE", "/v1/services/api/instances/api-1")[0], 404)
        status, body, _ = self.server.request("DELETE", "/v1/services/web/instances/web-1")
        self.assertEqual(status, 409)
        self.assertIn("config", body["error"])

    def test_writes_need_the_token(self):
        register(self.server.port, "api-1", "host-1", "127.0.0.21")
        path = "/v1/services/api/instances/api-1/drain"
        status, body, headers = self.server.request("PUT", path, token=None)
        self.assertEqual(status, 401)
        self.assertIn("Bearer", headers.get("WWW-Authenticate", ""))
        self.assertEqual(self.server.request("PUT", path, token="wrong")[0], 403)
        self.assertEqual(self.server.request("PUT", path, token=TOKEN + "x")[0], 403)
        self.assertEqual(self.server.request("POST", "/v1/services")[0], 405)
        self.assertEqual(set(srv_answer(self.server.port)), {"host-1"})  # nothing changed

    def test_watch_returns_when_the_serial_moves_or_after_wait(self):
        _, body, _ = self.server.request("GET", "/v1/status")
        serial = body["serial"]
        started = time.monotonic()
        status, body, _ = self.server.request("GET", f"/v1/watch?index={serial}&wait=1")
        self.assertEqual(status, 200)
        self.assertEqual(body["index"], serial)
        self.assertGreaterEqual(time.monotonic() - started, 0.9)

        result = {}

        def watch():
            result["answer"] = self.server.request("GET", f"/v1/watch?index={serial}&wait=30")
            result["at"] = time.monotonic()

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(0.3)  # the watch is waiting (it cannot be observed from outside)
        self.assertNotIn("answer", result)
        registered = time.monotonic()
        register(self.server.port, "api-1", "host-1", "127.0.0.21")
        watcher.join(timeout=10)
        status, body, _ = result["answer"]
        self.assertEqual(status, 200)
        self.assertNotEqual(body["index"], serial)
        self.assertLess(result["at"] - registered, 5)  # it did not wait its 30 s out

    def test_abusive_http_clients_do_not_disturb_dns_answers(self):
        port = self.server.port
        # Headers too large, a body too large: refused with their status.
        status, _, _ = self.server.request("GET", "/v1/services", headers={"X-Big": "a" * 20000})
        self.assertEqual(status, 431)
        status, _, _ = self.server.request("PUT", "/v1/services/api/instances/a/weight",
                                           body=b"{" + b" " * 200000 + b"}")
        self.assertEqual(status, 413)
        # Slow clients hold connections open with half a request; DNS keeps answering and
        # another API client is still served.
        slow = []
        for _ in range(50):
            sock = socket.create_connection((LOOPBACK, self.server.http_port), timeout=5)
            sock.sendall(b"GET /v1/services HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        try:
            for _ in range(20):
                self.assertEqual(set(srv_answer(port, f"_web._tcp.{REGISTRY_DOMAIN}")),
                                 {"static-1"})
            self.assertEqual(self.server.request("GET", "/v1/status")[0], 200)
            # Garbage is answered 400 (or the connection closed), never a crash.
            with socket.create_connection((LOOPBACK, self.server.http_port), timeout=5) as sock:
                sock.sendall(b"\x00\x01 garbage \r\n\r\n")
                reply = sock.recv(100)
                self.assertTrue(reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply)
        finally:
            for sock in slow:
                sock.close()
        self.assertTrue(self.server.alive())


class NoTokenTest(unittest.TestCase):
    def test_a_token_file_that_cannot_be_read_stops_the_start_naming_the_key(self):
        server = ApiServer()
        self.addCleanup(server.cleanup)
        server.port = free_port()
        server.token_file = os.path.join(server.workdir, "missing.token")
        server.extra = config(server.http_port, server.token_file)
        server.write_config()
        result = subprocess.run([signpostd_path(), "--config", server.config_path],
                                capture_output=True, text=True, timeout=30)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("http.token_file", result.stderr)
        self.assertIn("missing.token", result.stderr)

    def test_without_a_token_file_writes_are_refused_and_reads_work(self):
        server = ApiServer(token=None)
        server.start()
        self.addCleanup(server.cleanup)
        self.addCleanup(server.stop)
        register(server.port, "api-1", "host-1", "127.0.0.21")
        status, body, _ = server.request("PUT", "/v1/services/api/instances/api-1/drain")
        self.assertEqual(status, 403)
        self.assertIn("token_file", body["error"])
        self.assertEqual(server.request("GET", "/v1/services/api")[0], 200)
        self.assertIn("writes refused", server.log())


if __name__ == "__main__":
    unittest.main()
