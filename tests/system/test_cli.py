"""The `signpost` CLI against the real signpostd: every command, tables and --json, resolve
through c-ares (A, SRV, the RFC 2782 pick), writes with a bearer token, watch, and the exit
codes scripts rely on (3 not found, 4 not authorized, 5 unreachable).

One server for the class: a static service `web` (web-1 weight 3 on host-1, web-2 weight 1
on host-2) and `api-1` of service `api` registered with a signed DNS UPDATE. Tests that
change an instance put it back before they end.
"""

import json
import os
import struct
import subprocess
import tempfile
import time
import unittest

import dns.edns
import dns.query
import dns.tsig
import dns.tsigkeyring
import dns.update

import harness
from harness import LOOPBACK, free_port

SECRET = "c2lnbnBvc3QgY2xpIHRlc3Qga2V5IDAxMjM0NTY3ODlhYg=="
TOKEN = "cli-test-token-6f1e2d"
ZONE = "svc.internal."
WAIT = 5  # seconds a change may take to show in answers

WEB = {"name": "web", "protocol": "tcp", "port": 8080, "instances": [
    {"id": "web-1", "node": "host-1", "addresses": ["127.0.0.11"], "weight": 3},
    {"id": "web-2", "node": "host-2", "addresses": ["127.0.0.12"], "weight": 1},
]}


def signpost_path():
    path = os.environ.get("SIGNPOST_CLI")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError(f"SIGNPOST_CLI does not name an executable: {path!r}")
    return path


def register_api(port):
    """api-1 of service api on node host-9, with a lease of 600 s."""
    keyring = dns.tsigkeyring.from_text({"cli-key": SECRET})
    update = dns.update.UpdateMessage(ZONE, keyring=keyring, keyname="cli-key",
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    update.add("api-1._api._tcp", 30, "SRV", "0 1 9000 host-9.node.svc.internal.")
    update.add("api-1._api._tcp", 30, "TXT", '"health=passing"')
    update.add("host-9.node", 30, "A", "127.0.0.99")
    update.add("_api._tcp", 30, "PTR", "api-1._api._tcp.svc.internal.")
    update.use_edns(0, options=[dns.edns.GenericOption(2, struct.pack("!I", 600))])
    response = dns.query.udp(update, LOOPBACK, port=port, timeout=3)
    if response.rcode() != 0:
        raise AssertionError(f"the UPDATE registering api-1 got rcode {response.rcode()}")


def wait_for(predicate, timeout=WAIT, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="signpost-cli-")
        cls.token_file = os.path.join(cls.workdir, "token")
        with open(cls.token_file, "w", encoding="utf-8") as f:
            f.write(f"# the operators' token\n\n{TOKEN}\n")
        cls.wrong_token_file = os.path.join(cls.workdir, "wrong-token")
        with open(cls.wrong_token_file, "w", encoding="utf-8") as f:
            f.write("not-the-token\n")
        cls.http_port = free_port()
        extra = harness.render_services([WEB]) + f"""
[health]
min_lease = 1
max_lease = 600

[http]
listen = ["{LOOPBACK}:{cls.http_port}"]
token_file = "{cls.token_file}"

[[key]]
name = "cli-key"
algorithm = "hmac-sha256"
secret = "{SECRET}"
"""
        cls.server = harness.Server(extra=extra)
        try:
            cls.server.start()
            register_api(cls.server.port)
        except BaseException:
            cls.server.stop()
            cls.server.cleanup()
            raise
        cls.url = f"http://{LOOPBACK}:{cls.http_port}"
        cls.dns = f"{LOOPBACK}:{cls.server.port}"
        if not wait_for(lambda: cls.api_ready(), timeout=10):
            log = cls.server.log()
            cls.server.stop()
            cls.server.cleanup()
            raise AssertionError(f"the HTTP API did not list api on {cls.url}; log:\n{log}")

    @classmethod
    def api_ready(cls):
        result = cls.signpost_run(["list", "--json"])
        return result.returncode == 0 and '"api"' in result.stdout

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        log = cls.server.log()
        cls.server.cleanup()
        subprocess.run(["rm", "-rf", cls.workdir], check=False)
        if code != 0:
            raise AssertionError(f"signpostd exited with {code}; log:\n{log[-3000:]}")

    @classmethod
    def signpost_run(cls, args, env=None, timeout=20):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
        environment.update(env or {})
        argv = [signpost_path(), "--server", cls.url, "--timeout", "3", *args]
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, env=environment)

    def signpost(self, *args, env=None, expect=0):
        result = self.signpost_run(list(args), env=env)
        self.assertEqual(result.returncode, expect,
                         f"signpost {' '.join(args)}\nstdout:\n{result.stdout}\n"
                         f"stderr:\n{result.stderr}")
        return result

    def write(self, *args, expect=0):
        return self.signpost(*args, "--token-file", self.token_file, expect=expect)

    def resolve(self, *args, expect=0):
        return self.signpost("resolve", "--dns", self.dns, *args, expect=expect)

    def addresses(self):
        result = self.resolve("web.svc.internal", "--json")
        return {a["address"] for a in json.loads(result.stdout)["addresses"]}

    def instance(self, service, ident):
        body = json.loads(self.signpost("show", service, "--json").stdout)
        return next(i for i in body["instances"] if i["id"] == ident)

    # -- reads ------------------------------------------------------------------------------

    def test_list_prints_an_aligned_table_and_json(self):
        lines = self.signpost("list").stdout.splitlines()
        self.assertTrue(lines[0].startswith("SERVICE"), lines)
        rows = {line.split()[0]: line for line in lines[1:]}
        self.assertEqual(set(rows), {"api", "web"})
        # Columns line up: every row's PORT column ends where the header's does.
        end = lines[0].index("PORT") + len("PORT")
        self.assertEqual(rows["web"][end - 4:end], "8080")
        body = json.loads(self.signpost("list", "--json").stdout)
        self.assertEqual([s["name"] for s in body["services"]], ["api", "web"])
        self.assertEqual(body["services"][1]["counts"]["total"], 2)

    def test_show_lists_instances(self):
        out = self.signpost("show", "web").stdout
        self.assertIn("web  tcp/8080", out)
        for text in ("web-1", "host-1", "127.0.0.11", "web-2", "127.0.0.12", "passing", "static"):
            self.assertIn(text, out)
        body = json.loads(self.signpost("show", "api", "--json").stdout)
        self.assertEqual([i["id"] for i in body["instances"]], ["api-1"])
        self.assertEqual(body["instances"][0]["source"], "update")
        self.assertIn("/", self.signpost("show", "api").stdout.splitlines()[2])  # lease x/y

    def test_unknown_service_exits_3(self):
        result = self.signpost("show", "nope", expect=3)
        self.assertIn("404", result.stderr)
        self.signpost("drain", "web", "web-9", "--token-file", self.token_file, expect=3)

    def test_status(self):
        out = self.signpost("status").stdout
        for key in ("version", "serial", "services", "instances", "backend"):
            self.assertRegex(out, rf"(?m)^{key}\s+\S")
        body = json.loads(self.signpost("status", "--json").stdout)
        self.assertEqual(body["services"], 2)
        self.assertEqual(body["instances"], 3)

    def test_environment_names_the_server(self):
        result = subprocess.run([signpost_path(), "status", "--json"], capture_output=True,
                                text=True, timeout=20, env={"SIGNPOST_SERVER": self.url})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("serial", json.loads(result.stdout))

    # -- resolve ----------------------------------------------------------------------------

    def test_resolve_addresses(self):
        out = self.resolve("web.svc.internal").stdout
        self.assertTrue(out.startswith("TYPE"), out)
        self.assertIn("127.0.0.11", out)
        self.assertIn("127.0.0.12", out)
        pick = self.resolve("web.svc.internal", "--pick").stdout.strip()
        self.assertIn(pick, {"127.0.0.11", "127.0.0.12"})

    def test_resolve_srv_with_target_addresses(self):
        out = self.resolve("_web._tcp.svc.internal", "--srv").stdout
        self.assertRegex(out, r"0\s+3\s+8080\s+host-1\.node\.svc\.internal\s+127\.0\.0\.11")
        self.assertRegex(out, r"0\s+1\s+8080\s+host-2\.node\.svc\.internal\s+127\.0\.0\.12")
        body = json.loads(self.resolve("_web._tcp.svc.internal", "--srv", "--json").stdout)
        self.assertEqual(len(body["srv"]), 2)

    def test_resolve_pick_follows_rfc_2782_weights(self):
        picks = [self.resolve("_web._tcp.svc.internal", "--srv", "--pick", "--seed",
                              str(seed)).stdout.strip() for seed in range(40)]
        self.assertLessEqual(set(picks), {"host-1.node.svc.internal:8080",
                                          "host-2.node.svc.internal:8080"})
        # Weights 3 and 1: host-1 three times as often. Forty seeded picks put host-1 well
        # above half (a pick ignoring weights lands near 20).
        self.assertGreater(picks.count("host-1.node.svc.internal:8080"), 22, picks)
        again = self.resolve("_web._tcp.svc.internal", "--srv", "--pick", "--seed", "7")
        self.assertEqual(again.stdout.strip(), picks[7])

    def test_resolve_unknown_name_exits_3(self):
        result = self.resolve("nope.svc.internal", expect=3)
        self.assertIn("NXDOMAIN", result.stderr)

    # -- writes -----------------------------------------------------------------------------

    def test_drain_takes_an_instance_out_of_answers_and_undrain_puts_it_back(self):
        out = self.write("drain", "web", "web-2").stdout
        self.assertIn("web/web-2 drained", out)
        try:
            self.assertTrue(wait_for(lambda: self.addresses() == {"127.0.0.11"}),
                            self.addresses())
            self.assertTrue(self.instance("web", "web-2")["drained"])
            self.assertRegex(self.signpost("show", "web").stdout, r"(?m)^web-2 .*drained$")
        finally:
            self.write("undrain", "web", "web-2")
        self.assertTrue(wait_for(lambda: self.addresses() == {"127.0.0.11", "127.0.0.12"}))
        self.assertFalse(self.instance("web", "web-2")["drained"])

    def test_weight_sets_and_clears_an_override(self):
        out = self.write("weight", "web", "web-1", "7").stdout
        self.assertIn("web/web-1 weight 7", out)
        try:
            self.assertEqual(self.instance("web", "web-1")["weight_override"], 7)
            self.assertTrue(wait_for(lambda: "0 7 8080 host-1" in " ".join(
                self.resolve("_web._tcp.svc.internal", "--srv").stdout.split())))
        finally:
            self.write("weight", "web", "web-1", "--clear")
        self.assertIsNone(self.instance("web", "web-1")["weight_override"])
        self.write("weight", "web", "web-1", "reset")

    def test_deregister(self):
        self.write("deregister", "web", "web-1", expect=1)  # static: 409
        try:
            out = self.write("deregister", "api", "api-1").stdout
            self.assertIn("api/api-1 deregistered", out)
            body = self.signpost_run(["show", "api", "--json"])
            if body.returncode == 0:
                self.assertEqual(json.loads(body.stdout)["instances"], [])
            else:
                self.assertEqual(body.returncode, 3)
            self.resolve("api.svc.internal", expect=3)
        finally:
            register_api(self.server.port)
        self.assertTrue(wait_for(lambda: self.api_ready()))

    def test_watch_once_sees_a_drain(self):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
        watch = subprocess.Popen([signpost_path(), "--server", self.url, "watch", "--once"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=environment)
        try:
            # The watch reads the registry before it waits; until it has, a change may be in
            # what it starts from. Toggle the drain until the watch reports a change.
            drained = False
            deadline = time.monotonic() + 20
            while watch.poll() is None and time.monotonic() < deadline:
                drained = not drained
                self.write("drain" if drained else "undrain", "web", "web-2")
                wait_for(lambda: watch.poll() is not None, timeout=1)
            out, err = watch.communicate(timeout=5)
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.wait(timeout=5)
            self.write("undrain", "web", "web-2")
        self.assertEqual(watch.returncode, 0, err)
        self.assertRegex(out, r"^serial \d+  \d{4}-\d\d-\d\dT[\d:]+Z  .*web/web-2 (un)?drained")

    # -- failures ---------------------------------------------------------------------------

    def test_wrong_or_missing_token_exits_4(self):
        result = self.signpost("drain", "web", "web-2", "--token-file", self.wrong_token_file,
                               expect=4)
        self.assertIn(f"refused the token from {self.wrong_token_file} (403", result.stderr)
        result = self.signpost("drain", "web", "web-2", expect=4)
        self.assertIn("needs a token", result.stderr)
        self.assertFalse(self.instance("web", "web-2")["drained"])

    def test_server_down_exits_5(self):
        port = free_port()
        result = subprocess.run([signpost_path(), "--server", f"http://{LOOPBACK}:{port}",
                                 "list"], capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 5, result.stderr)
        self.assertIn(f"cannot reach http://{LOOPBACK}:{port}: connection refused",
                      result.stderr)
        result = subprocess.run([signpost_path(), "resolve", "web.svc.internal", "--dns",
                                 f"{LOOPBACK}:{port}", "--timeout", "1"],
                                capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 5, result.stderr)

    def test_usage_errors_exit_2(self):
        self.signpost("frobnicate", expect=2)
        self.signpost("weight", "web", "web-1", "70000", expect=2)
        self.assertIn("Exit codes", self.signpost("--help").stdout)


if __name__ == "__main__":
    unittest.main()
