"""DNS Cookies (RFC 7873, server cookies per RFC 9018) as dig sees them.

The server runs with a known `dns.cookie_secret`, so every server cookie it returns is checked
to the octet against an independent SipHash-2-4 (the openssl command). A query with a client
cookie only gets the answer and a fresh server cookie; sending that cookie back is accepted
and echoed; a wrong server cookie is answered with a fresh one; a malformed COOKIE option
gets FORMERR; over TCP the same holds.

With `dns.cookies = false` the server answers as one without cookies (RFC 7873 §5.2.1): no
COOKIE comes back, a malformed one is no FORMERR, and under rate limiting a client cookie
gets TC=1 rather than BADCOOKIE while a valid server cookie is limited like any query.
"""

import os
import re
import struct
import subprocess
import tempfile
import time
import unittest

import dns.edns
import dns.message
import dns.query
import dns.rcode

from harness import LOOPBACK, ServerTestCase, dig, run

SECRET = "e5e973e5a6b2a43f48e7dc849e37bfcf"
CLIENT_COOKIE = "2464c4abcf10c957"
NAME = "www.example.test."  # in the fixture zone (zones/), two A records
COOKIE = 10  # EDNS option code (RFC 7873 §8)
TC = 0x0200


def expected_hash(client_cookie, timestamp, address):
    """SipHash-2-4(client cookie | 1 | 0 0 0 | timestamp | address) under SECRET, as
    RFC 9018 §4.4 defines it, computed by openssl."""
    message = (bytes.fromhex(client_cookie) + bytes([1, 0, 0, 0]) + struct.pack(">I", timestamp)
               + bytes(int(part) for part in address.split(".")))
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(message)
    try:
        completed = subprocess.run(
            ["openssl", "mac", "-macopt", f"hexkey:{SECRET}", "-macopt", "size:8", "-in",
             f.name, "SIPHASH"], capture_output=True, text=True, timeout=10, check=True)
    finally:
        os.unlink(f.name)
    return completed.stdout.strip().lower()


def server_cookie(timestamp):
    """CLIENT_COOKIE and the server cookie SECRET makes for it at `timestamp` from LOOPBACK:
    what a server with cookies on accepts as valid (RFC 9018 §4)."""
    stamp = struct.pack(">I", timestamp).hex()
    return CLIENT_COOKIE + "01000000" + stamp + expected_hash(CLIENT_COOKIE, timestamp, LOOPBACK)


def returned_cookie(result):
    match = re.search(r"; COOKIE: ([0-9a-f]+)", result.text)
    return match.group(1) if match else None


class CookieTest(ServerTestCase):
    SERVER_ARGS = {"dns": {"cookie_secret": SECRET}}

    def ask(self, *options):
        result = dig(self.port, NAME, "A", *options)
        self.assertEqual(result.returncode, 0, result.text)
        return result

    def check_fresh(self, cookie, before, after):
        """`cookie` is CLIENT_COOKIE and a server cookie made between `before` and `after`."""
        self.assertIsNotNone(cookie)
        self.assertEqual(len(cookie), 48, cookie)
        self.assertEqual(cookie[:16], CLIENT_COOKIE)
        self.assertEqual(cookie[16:24], "01000000")  # version 1, reserved
        timestamp = int(cookie[24:32], 16)
        self.assertTrue(before - 1 <= timestamp <= after + 1, (before, timestamp, after))
        self.assertEqual(cookie[32:], expected_hash(CLIENT_COOKIE, timestamp, LOOPBACK))

    def test_cookies_are_on_by_default(self):
        self.assertIsNone(re.search(r"^cookies\b", self.server.config_text(), re.M))
        self.assertIsNotNone(returned_cookie(self.ask(f"+cookie={CLIENT_COOKIE}")))

    def test_client_cookie_gets_answer_and_server_cookie(self):
        before = int(time.time())
        result = self.ask(f"+cookie={CLIENT_COOKIE}")
        after = int(time.time())
        self.assertEqual(result.status, "NOERROR", result.text)
        self.assertEqual(len(result.answer), 2, result.text)
        self.check_fresh(returned_cookie(result), before, after)

    def test_returned_cookie_is_accepted_and_echoed(self):
        first = returned_cookie(self.ask(f"+cookie={CLIENT_COOKIE}"))
        self.assertIsNotNone(first)
        second = self.ask(f"+cookie={first}")
        self.assertEqual(second.status, "NOERROR", second.text)
        self.assertEqual(len(second.answer), 2, second.text)
        self.assertEqual(returned_cookie(second), first)
        self.assertIn("(good)", second.text)

    def test_bad_server_cookie_is_answered_with_a_fresh_one(self):
        bad = CLIENT_COOKIE + "0100000000000000deadbeefdeadbeef"
        before = int(time.time())
        result = self.ask(f"+cookie={bad}")
        after = int(time.time())
        self.assertEqual(result.status, "NOERROR", result.text)
        self.assertEqual(len(result.answer), 2, result.text)
        fresh = returned_cookie(result)
        self.assertNotEqual(fresh, bad)
        self.check_fresh(fresh, before, after)

    def test_malformed_cookie_is_formerr(self):
        for data in ("0102030405", "0102030405060708090a0b"):
            result = self.ask("+nocookie", f"+ednsopt=10:{data}")
            self.assertEqual(result.status, "FORMERR", result.text)
            self.assertEqual(len(result.answer), 0, result.text)
            self.assertIsNone(returned_cookie(result), result.text)

    def test_cookie_over_tcp(self):
        before = int(time.time())
        result = self.ask("+tcp", f"+cookie={CLIENT_COOKIE}")
        after = int(time.time())
        self.assertEqual(result.status, "NOERROR", result.text)
        self.assertEqual(len(result.answer), 2, result.text)
        self.check_fresh(returned_cookie(result), before, after)

    def test_kdig_cookie_round_trip(self):
        # kdig learns the server cookie and checks that its client cookie came back.
        completed = run(["kdig", f"@{LOOPBACK}", "-p", str(self.port), NAME, "A",
                         f"+cookie={CLIENT_COOKIE}", "+time=3", "+retry=0"])
        self.assertEqual(completed.returncode, 0, completed.stdout + completed.stderr)
        self.assertIn("NOERROR", completed.stdout)
        match = re.search(r"COOKIE: ([0-9a-f]{48})\b", completed.stdout, re.I)
        self.assertIsNotNone(match, completed.stdout)
        cookie = match.group(1).lower()
        self.assertEqual(cookie[:16], CLIENT_COOKIE)
        timestamp = int(cookie[24:32], 16)
        self.assertEqual(cookie[32:], expected_hash(CLIENT_COOKIE, timestamp, LOOPBACK))


class CookiesOffTest(ServerTestCase):
    SERVER_ARGS = {"dns": {"cookies": False, "cookie_secret": SECRET}}

    def ask(self, *options):
        result = dig(self.port, NAME, "A", *options)
        self.assertEqual(result.returncode, 0, result.text)
        self.assertEqual(result.status, "NOERROR", result.text)
        self.assertEqual(len(result.answer), 2, result.text)
        self.assertIsNone(returned_cookie(result), result.text)
        return result

    def test_no_cookie_comes_back(self):
        for cookie in (CLIENT_COOKIE, server_cookie(int(time.time()))):
            for transport in ("+notcp", "+tcp"):
                with self.subTest(cookie=cookie, transport=transport):
                    self.ask(transport, f"+cookie={cookie}")

    def test_start_up_log_says_so(self):
        self.assertIn("DNS Cookies off (dns.cookies = false): COOKIE options are ignored; "
                      "dns.cookie_secret is unused", self.server.log())

    def test_malformed_cookie_is_ignored(self):
        for data in ("0102030405", "0102030405060708090a0b"):
            with self.subTest(data=data):
                self.ask("+nocookie", f"+ednsopt=10:{data}")


class CookiesOffRateLimitTest(ServerTestCase):
    """One response per second per client prefix, every limited one slipped (slip 1)."""

    SERVER_ARGS = {"dns": {"cookies": False, "cookie_secret": SECRET},
                   "extra": "[rrl]\nresponses_per_second = 1\nslip = 1\n"}
    QUERIES = 6  # sent within a second or two: at most two of them answered in full

    def send(self, cookie_hex):
        """QUERIES UDP queries with the COOKIE `cookie_hex`: (rcode, TC, answers, COOKIE back)."""
        out = []
        for _ in range(self.QUERIES):
            query = dns.message.make_query(
                NAME, "A", use_edns=0,
                options=[dns.edns.GenericOption(COOKIE, bytes.fromhex(cookie_hex))])
            response = dns.query.udp(query, LOOPBACK, port=self.port, timeout=3)
            cookies = [o for o in response.options if o.otype == COOKIE]
            out.append((dns.rcode.to_text(response.rcode()), bool(response.flags & TC),
                        len(response.answer), bool(cookies)))
        return out

    def check_limited(self, results):
        for rcode, _, _, cookie_back in results:
            self.assertEqual(rcode, "NOERROR", results)  # never BADCOOKIE
            self.assertFalse(cookie_back, results)
        slipped = [r for r in results if r[1]]
        self.assertGreaterEqual(len(slipped), self.QUERIES - 2, results)
        for result in slipped:
            self.assertEqual(result[2], 0, results)  # the question only

    def test_client_cookie_gets_tc_not_badcookie(self):
        self.check_limited(self.send(CLIENT_COOKIE))

    def test_valid_server_cookie_is_limited(self):
        self.check_limited(self.send(server_cookie(int(time.time()))))


if __name__ == "__main__":
    unittest.main()
