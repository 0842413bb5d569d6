"""`[log] format = "json"`: signpostd and signpost-agent write every stderr line as one JSON
object with time, level and msg (audit lines add event and their fields); queries write
nothing; an unknown format is an error naming `log.format`."""

import json
import re
import signal
import subprocess
import tempfile
import unittest

import dns.query
import dns.tsig
import dns.tsigkeyring
import dns.update

from harness import (LOOPBACK, SOURCE_DIR, AgentProcess, Server, ask_udp, query_message,
                     signpost_agent_path, signpostd_path, wait_for)

SECRET = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="
KEYS = f"""
[[key]]
name = "agent-key"
secret = "{SECRET}"
"""
JSON_LOG = '\n[log]\nformat = "json"\n'
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
POLL = 10


def json_lines(raw, test):
    """Every line of `raw` (bytes) parsed as a JSON object with time, level and msg."""
    text = raw.decode("utf-8")  # strict: a JSON line is UTF-8
    test.assertTrue(text.endswith("\n"), f"the log does not end with a newline:\n{text}")
    objects = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"not a JSON line ({e}): {line!r}") from None
        test.assertIsInstance(value, dict, line)
        test.assertRegex(value.get("time", ""), TIME, line)
        test.assertIn(value.get("level"), ("info", "warning", "error"), line)
        test.assertIsInstance(value.get("msg"), str, line)
        if value["msg"].startswith("audit "):
            test.assertEqual(value.get("event"), value["msg"][len("audit "):], line)
        objects.append(value)
    return objects


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def register(port):
    keyring = dns.tsigkeyring.from_text({"agent-key": SECRET})
    update = dns.update.UpdateMessage("svc.internal.", keyring=keyring, keyname="agent-key",
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    update.add("web-9._web._tcp", 30, "SRV", "0 5 8080 host-9.node.svc.internal.")
    update.add("web-9._web._tcp", 30, "TXT", '"health=passing"')
    update.add("host-9.node", 30, "A", "127.0.0.19")
    update.add("_web._tcp", 30, "PTR", "web-9._web._tcp.svc.internal.")
    response = dns.query.udp(update, LOOPBACK, port=port, timeout=2)
    return response.rcode() == 0


def answers(port, name):
    response = ask_udp(port, query_message(name, "A"))
    return response is not None and len(response.answer) > 0


class ServerJsonLogTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(extra=KEYS + JSON_LOG)
        self.server.start()
        self.port = self.server.port

    def tearDown(self):
        self.server.stop()
        self.server.cleanup()

    def lines(self):
        return read_bytes(self.server.log_path).count(b"\n")

    def test_every_line_is_a_json_object(self):
        self.assertTrue(register(self.port), self.server.log())
        # A reload that fails logs the file's error, quotes and all.
        with open(self.server.config_path, "a", encoding="utf-8") as f:
            f.write('"odd\\"key" = 1\n')
        before = self.server.log().count("reload")
        self.server.process.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: self.server.log().count("reload") > before, POLL),
                        "no reload logged after SIGHUP:\n" + self.server.log())
        self.assertEqual(self.server.stop(), 0, self.server.log())
        objects = json_lines(read_bytes(self.server.log_path), self)
        self.assertGreaterEqual(len(objects), 3, self.server.log())
        failed = [o for o in objects if "odd" in o["msg"]]
        self.assertEqual(len(failed), 1, self.server.log())
        self.assertIn('odd"key', failed[0]["msg"])  # the quote came through escaped

    def test_queries_write_no_log_line(self):
        # The start-up lines end with the dig hint, which may come after the first answers.
        self.assertTrue(wait_for(lambda: "try: dig" in self.server.log(), POLL),
                        "no start-up lines logged:\n" + self.server.log())
        before = self.lines()
        for i in range(200):
            name = "web.svc.internal." if i % 2 else f"nothing-{i}.svc.internal."
            self.assertIsNotNone(ask_udp(self.port, query_message(name, "A")))
        self.assertEqual(self.lines(), before, self.server.log())


class AgentJsonLogTest(unittest.TestCase):
    def test_agent_writes_json_lines(self):
        with Server(extra=KEYS) as server:
            agent = AgentProcess(f"""[agent]
node = "host-1"
addresses = ["127.0.0.10"]
servers = ["127.0.0.1:{server.port}"]
key_name = "agent-key"
key_secret = "{SECRET}"
lease = 3

[log]
format = "json"

[[service]]
name = "api"
port = 9000
""").start()
            try:
                self.assertTrue(wait_for(lambda: answers(server.port, "api.svc.internal."), POLL),
                                agent.log())
                self.assertEqual(agent.stop(), 0, agent.log())
                objects = json_lines(read_bytes(agent.log_path), self)
                self.assertTrue(any(o["msg"] == "stopped" for o in objects), agent.log())
            finally:
                agent.stop()
                agent.cleanup()


class FormatValuesTest(unittest.TestCase):
    def check(self, program, text):
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write(text)
            f.flush()
            # From the source tree, where the default zones_dir is.
            return subprocess.run([program, "--check-config", f.name], cwd=SOURCE_DIR,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=15)

    def test_unknown_format_is_an_error_naming_the_key(self):
        result = self.check(signpostd_path(), '[log]\nformat = "xml"\n')
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("log.format", result.stderr)
        self.assertIn('"text" or "json"', result.stderr)
        self.assertEqual(self.check(signpostd_path(), '[log]\nformat = "json"\n').returncode, 0)

    def test_agent_unknown_format_is_an_error_naming_the_key(self):
        agent = f"""[agent]
addresses = ["192.0.2.1"]
servers = ["127.0.0.1:53"]
key_name = "k"
key_secret = "{SECRET}"
[log]
format = "%s"
"""
        result = self.check(signpost_agent_path(), agent % "syslog")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("log.format", result.stderr)
        self.assertEqual(self.check(signpost_agent_path(), agent % "json").returncode, 0,
                         "json is a format the agent takes")


if __name__ == "__main__":
    unittest.main()
