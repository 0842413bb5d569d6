"""The status page at GET /, rendered by headless Chromium against the real signpostd.

Instances registered with signed DNS UPDATEs show up in the page's DOM with their health,
weights and lease countdowns; one registered after the page loaded appears without a reload
and leaves the page once its short lease runs out; when the server stops, the page says so.
The page must pull nothing from anywhere but the server. A screenshot is saved under
$SIGNPOST_TEST_OUTPUT (default tests/system/output/).
"""

import json
import os
import struct
import time
import unittest
import urllib.request

import dns.edns
import dns.query
import dns.tsig
import dns.tsigkeyring
import dns.update

import harness
from harness import LOOPBACK, free_port
from headless_chromium import Browser

SECRET = "c2lnbnBvc3Qgc3RhdHVzIHBhZ2Uga2V5IDAxMjM0NTY3OA=="
ZONE = "svc.internal."
SHORT_LEASE = 4  # seconds

OUTPUT_DIR = os.environ.get("SIGNPOST_TEST_OUTPUT",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "output"))

# What the tests read from the page: its state, serial, sections and rows.
PAGE_VIEW = """(() => !document.getElementById("banner") ? {state: "not loaded", instances: {}} : ({
  state: document.body.dataset.state,
  serial: document.body.dataset.serial,
  version: document.getElementById("version").textContent,
  banner: document.getElementById("banner").hidden ? "" : document.getElementById("banner").textContent,
  services: [...document.querySelectorAll("section[data-service]")].map(s => s.dataset.service),
  instances: Object.fromEntries([...document.querySelectorAll("tr[data-instance]")].map(r => [
    r.dataset.instance, {
      health: r.dataset.health,
      badge: r.querySelector(".badge").textContent,
      badgeColour: getComputedStyle(r.querySelector(".badge")).color,
      weight: r.querySelector("td.weight").textContent,
      lease: r.querySelector("td.lease").textContent,
      drained: r.dataset.drained,
    }])),
}))()"""


def register(port, service, instance, node, address, lease, weight=1):
    keyring = dns.tsigkeyring.from_text({"page-key": SECRET})
    update = dns.update.UpdateMessage(ZONE, keyring=keyring, keyname="page-key",
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    update.add(f"{instance}._{service}._tcp", 30, "SRV",
               f"0 {weight} 8080 {node}.node.svc.internal.")
    update.add(f"{instance}._{service}._tcp", 30, "TXT", '"health=passing"')
    update.add(f"{node}.node", 30, "A", address)
    update.add(f"_{service}._tcp", 30, "PTR", f"{instance}._{service}._tcp.svc.internal.")
    update.use_edns(0, options=[dns.edns.GenericOption(2, struct.pack("!I", lease))])
    response = dns.query.udp(update, LOOPBACK, port=port, timeout=3)
    if response.rcode() != 0:
        raise AssertionError(f"the UPDATE registering {instance} got rcode {response.rcode()}")


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode()


class StatusPageTest(unittest.TestCase):
    def setUp(self):
        self.http_port = free_port()
        extra = f"""
[health]
min_lease = 1
max_lease = 600
deregister_after = 1
preservation_threshold = 0

[http]
listen = ["{LOOPBACK}:{self.http_port}"]

[[key]]
name = "page-key"
algorithm = "hmac-sha256"
secret = "{SECRET}"
"""
        self.server = harness.Server(extra=extra)
        self.server.start()
        self.addCleanup(self.stop_server)
        self.url = f"http://{LOOPBACK}:{self.http_port}/"
        register(self.server.port, "web", "web-1", "host-1", "127.0.0.11", 600, weight=5)
        register(self.server.port, "db", "db-1", "host-2", "127.0.0.21", 600)

    def stop_server(self):
        self.server.stop()
        self.server.cleanup()

    def view(self, browser):
        return browser.evaluate(PAGE_VIEW)

    def wait_view(self, browser, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        view = self.view(browser)
        while not predicate(view) and time.monotonic() < deadline:
            time.sleep(0.1)
            view = self.view(browser)
        self.assertTrue(predicate(view), f"{what}; the page shows:\n{json.dumps(view, indent=1)}\n"
                                         f"server log:\n{self.server.log()[-2000:]}")
        return view

    def test_page_is_self_contained(self):
        status, content_type, page = http_get(self.url)
        self.assertEqual(status, 200)
        self.assertTrue(content_type.startswith("text/html"), content_type)
        # No script, style, font, image or frame from anywhere else, not even the same host
        # by absolute URL: everything is inline.
        self.assertNotRegex(page, r"(?i)<script[^>]+src\s*=")
        self.assertNotRegex(page, r"(?i)<link[^>]+(stylesheet|preload|icon)")
        self.assertNotRegex(page, r"(?i)@import|url\(\s*['\"]?(https?:)?//")
        self.assertNotRegex(page, r"(?i)(src|href)\s*=\s*['\"]?(https?:)?//")
        self.assertIn("/v1/watch", page)

    def test_page_follows_the_registry_live(self):
        with Browser() as browser:
            browser.navigate(self.url)
            view = self.wait_view(
                browser, lambda v: v["state"] == "ready" and {"web/web-1", "db/db-1"} <= set(v["instances"]),
                15, "the page did not list web-1 and db-1")
            self.assertEqual(view["services"], ["db", "web"])
            web1 = view["instances"]["web/web-1"]
            self.assertEqual((web1["health"], web1["badge"]), ("passing", "passing"))
            self.assertEqual(web1["badgeColour"], "rgb(31, 122, 58)")  # the passing green
            self.assertTrue(web1["weight"].startswith("5 / 5"), web1)
            self.assertRegex(web1["lease"], r"^\d+m \d+s / 10m 0s$")
            self.assertTrue(view["version"].startswith("v"), view)
            first_serial = int(view["serial"])

            # Registered after the page loaded: it appears through the watch, no reload.
            register(self.server.port, "web", "web-2", "host-3", "127.0.0.12", SHORT_LEASE)
            view = self.wait_view(browser, lambda v: "web/web-2" in v["instances"], 3,
                                  "web-2 did not appear")
            self.assertGreater(int(view["serial"]), first_serial)
            self.assertRegex(view["instances"]["web/web-2"]["lease"], rf"^\d+s / {SHORT_LEASE}s$")
            first_lease = view["instances"]["web/web-2"]["lease"]
            self.wait_view(browser, lambda v: v["instances"].get("web/web-2", {}).get(
                "lease", first_lease) != first_lease, 3, "the lease countdown did not tick")
            os.makedirs(OUTPUT_DIR, exist_ok=True)
            shot = browser.screenshot(os.path.join(OUTPUT_DIR, "status_page.png"))
            self.assertGreater(os.path.getsize(shot), 10000)

            # No heartbeat: the lease runs out, the instance is forgotten and leaves the page.
            self.wait_view(browser, lambda v: "web/web-2" not in v["instances"],
                           SHORT_LEASE + 10, "web-2 stayed on the page after its lease")
            self.assertIn("web/web-1", self.view(browser)["instances"])

            # The server goes away: the banner says so, and the last data stays.
            self.server.stop()
            view = self.wait_view(browser, lambda v: v["state"] == "unreachable", 40,
                                  "the page did not notice the server stopped")
            self.assertIn("Cannot reach signpostd", view["banner"])
            self.assertIn("web/web-1", view["instances"])


if __name__ == "__main__":
    unittest.main()
