"""signpostd's command line, configuration checking, start-up failures, signals and
reloads: the operator's side of the binary."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import dig

GOOD_ZONE = """$ORIGIN extra.test.
$TTL 300
@ IN SOA ns.extra.test. hostmaster.extra.test. 1 3600 600 86400 300
@ IN NS ns
ns IN A 192.0.2.1
www IN A 192.0.2.77
"""

BAD_ZONE = """$ORIGIN bad.test.
$TTL 300
@ IN SOA ns.bad.test. hostmaster.bad.test. 1 3600 600 86400 300
www IN A 192.0.2.300
"""  # line 4: not an IPv4 address


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.binary = harness.signpostd_path()
        self.tmp = tempfile.mkdtemp(prefix="signpost-config-")
        self.addCleanup(lambda: shutil.rmtree(self.tmp, ignore_errors=True))

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def signpostd(self, *args, timeout=15):
        completed = harness.run([self.binary, *args], timeout=timeout)
        return completed.returncode, completed.stdout + completed.stderr

    def check(self, text):
        """--check-config on a file holding `text`: (path, exit status, output)."""
        path = self.write("signpostd.toml", text)
        code, output = self.signpostd("--check-config", path)
        return path, code, output

    def assert_error(self, code, output, *fragments):
        self.assertNotEqual(code, 0, "expected a failure\n" + output)
        self.assertLess(code, 128, "crashed instead of failing cleanly\n" + output)
        for fragment in fragments:
            self.assertIn(fragment, output, "the message must name it\n" + output)

    def good_config(self, zones_dir=harness.ZONES_DIR):
        return harness.render_config({
            "server": {"listen": ["127.0.0.1:5353"], "threads": 1, "tcp_idle_timeout": 5},
            "dns": {"domain": "svc.internal.", "ttl": 30, "zones_dir": zones_dir},
        })

    def test_help(self):
        code, output = self.signpostd("--help")
        self.assertEqual(code, 0, output)
        self.assertIn("--config", output)
        self.assertIn("--check-config", output)

    def test_version(self):
        code, output = self.signpostd("--version")
        self.assertEqual(code, 0, output)
        self.assertRegex(output, r"\d+\.\d+\.\d+")

    def test_help_config_lists_options(self):
        code, output = self.signpostd("--help-config")
        self.assertEqual(code, 0, output)
        for key in ("listen", "tcp_idle_timeout", "tcp_max_clients", "udp_payload",
                    "negative_ttl", "zones_dir"):
            self.assertIn(key, output)

    def test_unknown_argument(self):
        code, output = self.signpostd("--no-such-flag")
        self.assert_error(code, output, "--no-such-flag")

    def test_check_config_good(self):
        _, code, output = self.check(self.good_config())
        self.assertEqual(code, 0, output)

    def test_check_config_unknown_key(self):
        path, code, output = self.check("[server]\nthreads = 1\n\n[dns]\nttl = 30\nbogus = 1\n")
        self.assert_error(code, output, path, ":6", "bogus")

    def test_check_config_unknown_table(self):
        path, code, output = self.check("[server]\nthreads = 1\n[nosuch]\nx = 1\n")
        self.assert_error(code, output, path, ":3", "nosuch")

    def test_check_config_out_of_range(self):
        path, code, output = self.check("[dns]\nttl = 30\nudp_payload = 100\n")
        self.assert_error(code, output, path, ":3", "udp_payload")
        path, code, output = self.check("[server]\ntcp_idle_timeout = 0\n")
        self.assert_error(code, output, path, ":2", "tcp_idle_timeout")

    def test_check_config_wrong_type(self):
        path, code, output = self.check('[dns]\n\nttl = "thirty"\n')
        self.assert_error(code, output, path, ":3", "ttl")

    def test_check_config_bad_listen(self):
        path, code, output = self.check('[server]\nlisten = ["localhost:53"]\n')
        self.assert_error(code, output, path, ":2", "listen")

    def test_check_config_short_key_secret(self):
        # "fifteen octets!": shorter than the 16 octets a TSIG key needs.
        text = self.good_config() + '\n[[key]]\nname = "short-key"\nsecret = "ZmlmdGVlbiBvY3RldHMh"\n'
        line = text.splitlines().index('secret = "ZmlmdGVlbiBvY3RldHMh"') + 1
        path, code, output = self.check(text)
        self.assert_error(code, output, path, f":{line}", "key.secret", '"short-key"',
                          "15 octets", "at least 16")
        # Sixteen octets are enough.
        _, code, output = self.check(text.replace("ZmlmdGVlbiBvY3RldHMh",
                                                  "c2l4dGVlbiBvY3RldHMhIQ=="))
        self.assertEqual(code, 0, output)

    def test_check_config_syntax_error(self):
        path, code, output = self.check("[dns]\nttl = 30\nnegative_ttl = = 3\n")
        self.assert_error(code, output, path, ":3")

    def test_check_config_missing_file(self):
        path = os.path.join(self.tmp, "missing.toml")
        code, output = self.signpostd("--check-config", path)
        self.assert_error(code, output, path)

    def test_check_config_bad_zone_file(self):
        zones = harness.make_zones_dir(self.tmp, {"bad.test.zone": BAD_ZONE})
        _, code, output = self.check(self.good_config(zones))
        self.assert_error(code, output, "bad.test.zone", ":4")

    def test_check_config_missing_zones_dir(self):
        missing = os.path.join(self.tmp, "no-such-dir")
        _, code, output = self.check(self.good_config(missing))
        self.assert_error(code, output, "no-such-dir")

    def test_start_with_bad_zone_file_fails(self):
        zones = harness.make_zones_dir(self.tmp, {"bad.test.zone": BAD_ZONE})
        path = self.write("signpostd.toml", harness.render_config({
            "server": {"listen": [f"127.0.0.1:{harness.free_port()}"]},
            "dns": {"zones_dir": zones},
            "registry": {"state_file": os.path.join(self.tmp, "signpostd.state")}}))
        code, output = self.signpostd("--config", path)
        self.assert_error(code, output, "bad.test.zone", ":4")

    def test_start_with_bad_config_fails(self):
        path = self.write("signpostd.toml", "[server]\nthreads = -1\n")
        code, output = self.signpostd("--config", path)
        self.assert_error(code, output, path, ":2", "threads")


class LifecycleTest(unittest.TestCase):
    def test_sigterm_exits_cleanly_and_quickly(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=signum.name):
                server = harness.Server()
                server.start()
                try:
                    # Leave a TCP connection open: it must not hold up the exit.
                    held = harness.tcp_connect(server.port)
                    start = time.monotonic()
                    server.process.send_signal(signum)
                    try:
                        code = server.process.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        self.fail(f"signpostd did not exit within 5 s of {signum.name}")
                    held.close()
                    self.assertEqual(code, 0, server.log())
                    self.assertLess(time.monotonic() - start, 3)
                finally:
                    server.stop()
                    server.cleanup()

    def test_udp_receive_buffer(self):
        """server.udp_receive_buffer sizes every UDP socket; where the process may not pass
        net.core.rmem_max it says so in its log."""
        wanted = 3 << 20
        with harness.Server(server={"udp_receive_buffer": wanted}) as server:
            listing = harness.run(["ss", "-u", "-a", "-n", "-m", "-p", f"sport = :{server.port}"],
                                  check=True).stdout
            buffers = [int(size) for size in re.findall(r"\brb(\d+)", listing)]
            self.assertEqual(len(buffers), 2, listing)  # threads = 2: one socket each
            for size in buffers:
                if size < 2 * wanted:
                    self.assertIn("receive buffer is", server.log())
                else:
                    self.assertEqual(size, 2 * wanted, listing)  # Linux doubles it
            self.assertEqual(sorted(dig(server.port, "www.example.test").rdata()),
                             ["192.0.2.10", "192.0.2.11"])

    def test_registry_memory_on_huge_pages(self):
        """A registry of tens of megabytes goes on transparent huge pages once the server
        answers, unless the system has them set to never; either way the log says so, and
        the answers are unchanged."""
        services = harness.render_services([
            {"name": f"s{i}", "port": 8000,
             "instances": [{"id": f"i{j}", "node": f"n{i}-{j}",
                            "addresses": [f"10.{i // 256}.{i % 256}.{j + 1}"]} for j in range(10)]}
            for i in range(3000)])
        try:
            with open("/sys/kernel/mm/transparent_hugepage/enabled", encoding="utf-8") as f:
                setting = re.search(r"\[(\w+)\]", f.read()).group(1)
        except FileNotFoundError:
            setting = None  # a kernel without transparent huge pages
        with harness.Server(server={"threads": 1}, dns={"answer_limit": 0}, extra=services) as server:
            deadline = time.monotonic() + 10
            while "registry memory:" not in server.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            line = re.search(r"registry memory: (\d+) MiB on huge pages.*", server.log())
            self.assertIsNotNone(line, server.log())
            if setting is None:
                self.assertEqual(line.group(1), "0", line.group(0))
                self.assertIn("the kernel has no transparent huge pages", line.group(0))
            elif setting == "never":
                self.assertEqual(line.group(1), "0", line.group(0))
                self.assertIn("set to never", line.group(0))
            else:
                self.assertGreaterEqual(int(line.group(1)), 4, line.group(0))
                with open(f"/proc/{server.process.pid}/smaps_rollup", encoding="utf-8") as f:
                    huge_kb = int(re.search(r"AnonHugePages:\s+(\d+) kB", f.read()).group(1))
                self.assertGreaterEqual(huge_kb, int(line.group(1)) * 1024)
            self.assertEqual(sorted(dig(server.port, "s2999.svc.internal").rdata()),
                             sorted(f"10.11.183.{j + 1}" for j in range(10)))
        # A registry within the TLB's reach stays on small pages, and nothing is logged.
        with harness.Server(server={"threads": 1}) as server:
            self.assertEqual(dig(server.port, "svc.internal", "SOA").status, "NOERROR")
            self.assertNotIn("registry memory", server.log())

    def test_port_in_use_fails(self):
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with self.subTest(kind=kind.name):
                blocker = socket.socket(socket.AF_INET, kind)
                blocker.bind((harness.LOOPBACK, 0))
                if kind == socket.SOCK_STREAM:
                    blocker.listen()
                port = blocker.getsockname()[1]
                tmp = tempfile.mkdtemp(prefix="signpost-config-")
                try:
                    path = os.path.join(tmp, "signpostd.toml")
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(harness.render_config({
                            "server": {"listen": [f"127.0.0.1:{port}"]},
                            "dns": {"zones_dir": harness.ZONES_DIR},
                            "registry": {"state_file": os.path.join(tmp, "signpostd.state")}}))
                    try:
                        completed = harness.run([harness.signpostd_path(), "--config", path],
                                                timeout=10)
                    except subprocess.TimeoutExpired:
                        self.fail(f"signpostd kept running although port {port} was taken")
                    output = completed.stdout + completed.stderr
                    self.assertNotEqual(completed.returncode, 0, output)
                    self.assertLess(completed.returncode, 128, output)
                    self.assertIn(str(port), output, "the message must name the address")
                finally:
                    blocker.close()
                    shutil.rmtree(tmp, ignore_errors=True)

    @unittest.skipUnless(ipv6_loopback_available(), "no IPv6 loopback")
    def test_serves_every_listen_address(self):
        port6 = harness.free_port()
        server = harness.Server()
        # The second address is added to the one the harness picks.
        original = server.write_config

        def write_config():
            server.server_options["listen"] = [f"127.0.0.1:{server.port}", f"[::1]:{port6}"]
            original()

        server.write_config = write_config
        server.start()
        try:
            for address, port in (("127.0.0.1", server.port), ("::1", port6)):
                for options in ((), ("+tcp",)):
                    r = dig(port, "www.example.test", "A", *options, server=address)
                    self.assertEqual(r.status, "NOERROR", f"{address} {options}\n{r.text}")
                    self.assertEqual(len(r.answer), 2)
        finally:
            server.stop()
            server.cleanup()


class ReloadTest(unittest.TestCase):
    """SIGHUP re-reads zones_dir; a broken zone leaves the running zones in place."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="signpost-reload-")
        self.zones = harness.make_zones_dir(self.tmp)
        self.server = harness.Server(zones_dir=self.zones)
        self.server.start()

    def tearDown(self):
        self.server.stop()
        self.server.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def status(self, name):
        return dig(self.server.port, name, "A").status

    def test_sighup_loads_new_zone(self):
        self.assertEqual(self.status("www.extra.test"), "REFUSED")
        with open(os.path.join(self.zones, "extra.test.zone"), "w", encoding="utf-8") as f:
            f.write(GOOD_ZONE)
        self.server.process.send_signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: self.status("www.extra.test") == "NOERROR",
                                         timeout=5, interval=0.1),
                        "the new zone was not served after SIGHUP\n" + self.server.log())
        r = dig(self.server.port, "www.extra.test", "A")
        self.assertEqual(r.rdata(), ["192.0.2.77"], r.text)
        self.assertEqual(self.status("www.example.test"), "NOERROR")

    def test_sighup_with_bad_zone_keeps_serving(self):
        with open(os.path.join(self.zones, "bad.test.zone"), "w", encoding="utf-8") as f:
            f.write(BAD_ZONE)
        self.server.process.send_signal(signal.SIGHUP)
        # Give the reload time to happen (and fail), bounded.
        harness.wait_for(lambda: "bad.test.zone" in self.server.log(), timeout=3, interval=0.1)
        self.assertTrue(self.server.alive(), "a bad zone on reload stopped the server\n"
                        + self.server.log())
        self.assertIn("bad.test.zone", self.server.log(), "the failed reload must be logged")
        self.assertEqual(self.status("www.example.test"), "NOERROR")
        self.assertEqual(self.status("www.bad.test"), "REFUSED")


if __name__ == "__main__":
    unittest.main()
