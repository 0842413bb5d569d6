"""GET /metrics: signpostd's counters in the Prometheus text format, as promtool checks them
and as a real Prometheus server scrapes and stores them.

Needs /usr/bin/promtool and /usr/bin/prometheus (Debian's prometheus package,
.ci/setup --test). Prometheus runs on a free loopback port with its own config and
storage in a temporary directory, scrapes signpostd every second, and is stopped by pid.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.parse
import urllib.request

import harness

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
HTTP_TIMEOUT = 5          # seconds for one HTTP request
SCRAPE_TIMEOUT = 60       # seconds until Prometheus has stored a scrape with our queries
A_QUERIES_UDP = 5
A_QUERIES_TCP = 2
NXDOMAIN_QUERIES = 3

WEB = {"name": "web", "port": 8080, "instances": [
    {"id": "w1", "node": "n1", "addresses": ["10.9.0.1"]},
    {"id": "w2", "node": "n2", "addresses": ["10.9.0.2"]},
]}


def http_get(port, path):
    """(status, content type, body text) of GET http://127.0.0.1:port/path."""
    url = f"http://{harness.LOOPBACK}:{port}{path}"
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


def sample(text, series):
    """The value of the sample written exactly as `series` (name{labels}), or None."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line[len(series) + 1:])
    return None


def promtool_check(text):
    """promtool check metrics on `text`: (exit status, output)."""
    completed = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=harness.CLIENT_TIMEOUT)
    return completed.returncode, completed.stdout + completed.stderr


class Prometheus:
    """A Prometheus server on a free loopback port scraping `target` every second."""

    def __init__(self, target):
        self.workdir = tempfile.mkdtemp(prefix="signpost-prometheus-")
        self.port = harness.free_port()
        self.log_path = os.path.join(self.workdir, "prometheus.log")
        config = os.path.join(self.workdir, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: signpost\n"
                    f"    static_configs:\n      - targets: ['{target}']\n")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(self.workdir, 'data')}",
             f"--web.listen-address={harness.LOOPBACK}:{self.port}"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)

    def query(self, expression):
        """The instant vector of `expression` through /api/v1/query: [(labels, value)]."""
        path = "/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        try:
            _, _, body = http_get(self.port, path)
        except OSError:
            return []
        answer = json.loads(body)
        if answer.get("status") != "success":
            return []
        return [(item["metric"], float(item["value"][1])) for item in answer["data"]["result"]]

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=harness.STOP_TIMEOUT * 2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=harness.STOP_TIMEOUT)
        self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.http_port = harness.free_port()
        extra = harness.render_services([WEB]) + (
            f'[http]\nlisten = ["{harness.LOOPBACK}:{cls.http_port}"]\n')
        cls.server = harness.Server(extra=extra)
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise
        cls.port = cls.server.port
        if not harness.wait_for(cls.metrics_reachable, timeout=harness.START_TIMEOUT):
            log = cls.server.log()
            cls.server.stop()
            cls.server.cleanup()
            raise AssertionError(f"no /metrics on port {cls.http_port}; log:\n{log[-4000:]}")
        # The only A and AAAA questions this server gets (the harness asks SOA).
        asked = [("web.svc.internal.", "A", (), "NOERROR")] * A_QUERIES_UDP
        asked += [("web.svc.internal.", "A", ("+tcp",), "NOERROR")] * A_QUERIES_TCP
        asked += [("nope.svc.internal.", "AAAA", (), "NXDOMAIN")] * NXDOMAIN_QUERIES
        for name, rtype, options, expected in asked:
            result = harness.dig(cls.port, name, rtype, *options)
            if result.status != expected:
                cls.tearDownClass()
                raise AssertionError(f"dig {name} {rtype}: {result.text}")

    @classmethod
    def metrics_reachable(cls):
        try:
            return http_get(cls.http_port, "/metrics")[0] == 200
        except OSError:
            return False

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        log = cls.server.log()
        cls.server.cleanup()
        if code != 0:
            raise AssertionError(f"signpostd exited with status {code}; log:\n{log[-4000:]}")

    def test_metrics_count_the_queries_and_pass_promtool(self):
        status, content_type, text = http_get(self.http_port, "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(content_type.startswith("text/plain; version=0.0.4"), content_type)
        code, output = promtool_check(text)
        self.assertEqual(code, 0, output)
        self.assertEqual(output.strip(), "")
        a_udp = 'signpost_dns_queries_total{qtype="A",rcode="NOERROR",transport="udp"}'
        a_tcp = 'signpost_dns_queries_total{qtype="A",rcode="NOERROR",transport="tcp"}'
        nx = 'signpost_dns_queries_total{qtype="AAAA",rcode="NXDOMAIN",transport="udp"}'
        self.assertEqual(sample(text, a_udp), A_QUERIES_UDP)
        self.assertEqual(sample(text, a_tcp), A_QUERIES_TCP)
        self.assertEqual(sample(text, nx), NXDOMAIN_QUERIES)
        self.assertGreaterEqual(sample(text, "signpost_tcp_connections_total"), A_QUERIES_TCP)
        self.assertEqual(sample(text, 'signpost_instances{service="web",health="passing"}'), 2)
        self.assertGreaterEqual(sample(text, "signpost_snapshot_publishes_total"), 1)
        self.assertEqual(sample(text, "signpost_registry_serial"),
                         harness.soa_serial(self.port))
        self.assertEqual(sample(text, 'signpost_backend_info{kind="memory"}'), 1)
        self.assertIsNotNone(re.search(r'^signpost_build_info\{version="[^"]+"\} 1$', text,
                                       re.MULTILINE))

    def test_prometheus_scrapes_what_signpostd_counted(self):
        series = 'signpost_dns_queries_total{qtype="A",rcode="NOERROR",transport="udp"}'
        prometheus = Prometheus(f"{harness.LOOPBACK}:{self.http_port}")
        try:
            def scraped():
                if prometheus.process.poll() is not None:
                    return True  # exited: reported below
                return prometheus.query(series)
            result = harness.wait_for(scraped, timeout=SCRAPE_TIMEOUT, interval=0.25)
            self.assertIsNone(prometheus.process.poll(), prometheus.log()[-4000:])
            self.assertTrue(result, "Prometheus stored no scrape of /metrics within "
                            f"{SCRAPE_TIMEOUT}s; log:\n{prometheus.log()[-4000:]}")
            self.assertEqual(len(result), 1, result)
            labels, value = result[0]
            self.assertEqual(labels.get("job"), "signpost")
            _, _, text = http_get(self.http_port, "/metrics")
            self.assertEqual(value, sample(text, series))
            self.assertEqual(value, A_QUERIES_UDP)
            self.assertEqual(prometheus.query('up{job="signpost"}')[0][1], 1)
        finally:
            prometheus.stop()


if __name__ == "__main__":
    unittest.main()
