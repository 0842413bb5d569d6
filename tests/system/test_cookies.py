"""DNS Cookies (RFC 7873, server cookies per RFC 9018) as dig sees them.

The server runs with a known `dns.cookie_secret`, so every server cookie it returns is checked
to the octet against an independent SipHash-2-4 (the openssl command). A query with a client
cookie only gets the answer and a fresh server cookie; sending that cookie back is accepted
and echoed; a wrong server cookie is answered with a fresh one; a malformed COOKIE option
gets FORMERR; over TCP the same holds.
"""

import os
import re
import struct
import subprocess
import tempfile
import time
import unittest

from harness import LOOPBACK, ServerTestCase, dig, run

SECRET = "e5e973e5a6b2a43f48e7dc849e37bfcf"
CLIENT_COOKIE = "2464c4abcf10c957"
NAME = "www.example.test."  # in the fixture zone (zones/), two A records


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


if __name__ == "__main__":
    unittest.main()
