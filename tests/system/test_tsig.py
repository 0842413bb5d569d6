"""TSIG (RFC 8945) on queries and UPDATEs: signed queries get signed answers, bad ones the
TSIG error RFC 8945 §5.2 asks for.

The real signpostd with one key; dig and kdig check the signatures as clients do, and
dnspython builds the signed messages (and the broken ones) and reads the TSIG fields.
"""

import struct
import time
import unittest
from unittest import mock

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.tsig
import dns.update

from harness import LOOPBACK, ServerTestCase, query_message, run, tcp_exchange, udp_exchange

SECRET = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="
WRONG_SECRET = "b3RoZXIgc2VjcmV0IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU="
KEY = "agent-key."
ZONE = "svc.internal."
SERVER_WINDOW = 300  # seconds, RFC 8945 §10

KEYS = f"""
[[key]]
name = "agent-key"
algorithm = "hmac-sha256"
secret = "{SECRET}"
"""


def key(name=KEY, secret=SECRET):
    return dns.tsig.Key(name, secret, dns.tsig.HMAC_SHA256)


def signed_query(name, rdtype="A", tsig_key=None, fudge=300, signed_at=None, **kwargs):
    """A query signed with `tsig_key`, at `signed_at` (seconds since the epoch) if given;
    returns (message, wire). The message keeps the request MAC for checking the answer."""
    query = query_message(name, rdtype, **kwargs)
    query.use_tsig(tsig_key or key(), fudge=fudge)
    if signed_at is None:
        return query, query.to_wire()
    with mock.patch("time.time", return_value=signed_at):
        return query, query.to_wire()


def with_mac_size(wire, size):
    """`wire`, whose last record is an hmac-sha256 TSIG without other data, with the MAC
    cut to its first `size` octets (as a truncating signer sends it, RFC 8945 §5.2.2.1)."""
    mac_end = len(wire) - 6  # original ID, error, other length follow the MAC
    size_at = mac_end - 32 - 2
    rdlength_at = size_at - 8 - len(dns.tsig.HMAC_SHA256.to_wire()) - 2
    (rdlength,) = struct.unpack("!H", wire[rdlength_at:rdlength_at + 2])
    return (wire[:rdlength_at] + struct.pack("!H", rdlength - (32 - size))
            + wire[rdlength_at + 2:size_at] + struct.pack("!H", size)
            + wire[size_at + 2:size_at + 2 + size] + wire[mac_end:])


def tsig_of(wire):
    """The TSIG record's RDATA at the end of `wire`, read without checking the MAC."""
    with mock.patch("dns.tsig.validate", return_value=None):
        message = dns.message.from_wire(wire, keyring=lambda _message, name: key(name))
    if message.tsig is None:
        raise AssertionError("the response carries no TSIG")
    return message.tsig[0]


def our_time(tsig):
    """The server's clock in a BADTIME response's Other Data (RFC 8945 §5.2.3)."""
    high, low = struct.unpack("!HI", tsig.other)
    return high << 32 | low


def rcode_of(wire):
    return wire[3] & 0x0F


def arcount_of(wire):
    return struct.unpack("!H", wire[10:12])[0]


class SignedQueryTest(ServerTestCase):
    SERVER_ARGS = {"extra": KEYS}

    def exchange(self, wire, tcp=False):
        response = (tcp_exchange if tcp else udp_exchange)(self.port, wire)
        self.assertIsNotNone(response, "no response")
        return response

    def dig(self, *args):
        return run(["dig", f"@{LOOPBACK}", "-p", str(self.port), "+norecurse", "+time=2",
                    "+tries=2", *args])

    def test_dig_verifies_the_signed_answer(self):
        for transport in ("+notcp", "+tcp"):
            result = self.dig("-y", f"hmac-sha256:agent-key:{SECRET}", transport,
                              "www.example.test", "A")
            out = result.stdout + result.stderr
            self.assertIn("status: NOERROR", out)
            self.assertIn("ANSWER: 2", out)
            self.assertIn("TSIG PSEUDOSECTION", out)
            self.assertNotIn("Couldn't verify", out)
            self.assertNotIn("WARNING", out)

    def test_kdig_verifies_the_signed_answer(self):
        result = run(["kdig", f"@{LOOPBACK}", "-p", str(self.port), "+norecurse", "+timeout=2",
                      "+retry=1", "-y", f"hmac-sha256:agent-key:{SECRET}", "www.example.test", "A"])
        out = result.stdout + result.stderr
        self.assertIn("status: NOERROR", out)
        self.assertIn("TSIG PSEUDOSECTION", out)
        self.assertNotIn("WARNING", out)
        self.assertNotIn("failed", out)

    def test_dig_sees_errors_for_unknown_key_and_wrong_secret(self):
        unknown = self.dig("-y", f"hmac-sha256:nobody:{SECRET}", "www.example.test", "A").stdout
        self.assertIn("status: NOTAUTH", unknown)
        self.assertIn("BADKEY", unknown)
        self.assertIn("ANSWER: 0", unknown)
        wrong = self.dig("-y", f"hmac-sha256:agent-key:{WRONG_SECRET}", "www.example.test",
                         "A").stdout
        self.assertIn("status: NOTAUTH", wrong)
        self.assertIn("BADSIG", wrong)

    def test_answer_is_signed_over_the_request_mac(self):
        for tcp in (False, True):
            for edns in (None, 0):
                query, wire = signed_query("www.example.test.", use_edns=edns)
                response = self.exchange(wire, tcp)
                # dnspython checks the MAC (RFC 8945 §5.3) and the time while parsing.
                parsed = dns.message.from_wire(response, keyring=query.keyring,
                                               request_mac=query.mac)
                self.assertTrue(parsed.had_tsig)
                self.assertEqual(parsed.rcode(), dns.rcode.NOERROR)
                self.assertEqual(len(parsed.answer[0]), 2)
                self.assertEqual(tsig_of(response).error, 0)

    def test_every_rcode_is_signed(self):
        for name, rcode in (("nothere.example.test.", dns.rcode.NXDOMAIN),
                            ("www.example.org.", dns.rcode.REFUSED)):
            query, wire = signed_query(name)
            parsed = dns.message.from_wire(self.exchange(wire), keyring=query.keyring,
                                           request_mac=query.mac)
            self.assertEqual(parsed.rcode(), rcode)
            self.assertTrue(parsed.had_tsig)

    def test_unknown_key_gets_badkey_unsigned(self):
        _, wire = signed_query("www.example.test.", tsig_key=key("nobody."))
        response = self.exchange(wire)
        self.assertEqual(rcode_of(response), dns.rcode.NOTAUTH)
        tsig = tsig_of(response)
        self.assertEqual(tsig.error, dns.rcode.BADKEY)
        self.assertEqual(tsig.mac, b"")  # RFC 8945 §5.3.2: unsigned
        self.assertEqual(struct.unpack("!H", response[6:8])[0], 0)  # no answer
        with self.assertRaises(dns.tsig.PeerBadKey):
            dns.message.from_wire(response, keyring=lambda _m, name: key(name))

    def test_wrong_secret_gets_badsig_unsigned(self):
        _, wire = signed_query("www.example.test.", tsig_key=key(secret=WRONG_SECRET))
        response = self.exchange(wire)
        self.assertEqual(rcode_of(response), dns.rcode.NOTAUTH)
        tsig = tsig_of(response)
        self.assertEqual(tsig.error, dns.rcode.BADSIG)
        self.assertEqual(tsig.mac, b"")
        self.assertEqual(struct.unpack("!H", response[6:8])[0], 0)

    def test_tampered_query_gets_badsig(self):
        _, wire = signed_query("www.example.test.")
        tampered = bytearray(wire)
        tampered[2] ^= 0x01  # RD
        response = self.exchange(bytes(tampered))
        self.assertEqual(rcode_of(response), dns.rcode.NOTAUTH)
        self.assertEqual(tsig_of(response).error, dns.rcode.BADSIG)

    def test_outside_the_time_window_gets_badtime_signed(self):
        client_time = int(time.time()) - 1000
        query, wire = signed_query("www.example.test.", signed_at=client_time)
        response = self.exchange(wire)
        self.assertEqual(rcode_of(response), dns.rcode.NOTAUTH)
        self.assertEqual(struct.unpack("!H", response[6:8])[0], 0)
        tsig = tsig_of(response)
        self.assertEqual(tsig.error, dns.rcode.BADTIME)
        self.assertEqual(len(tsig.mac), 32)  # signed (RFC 8945 §5.2.3)
        self.assertEqual(tsig.time_signed, client_time)  # the client's time...
        self.assertLess(abs(our_time(tsig) - time.time()), 60)  # ...and ours
        with self.assertRaises(dns.tsig.PeerBadTime):
            dns.message.from_wire(response, keyring=query.keyring, request_mac=query.mac)

    def test_client_fudge_is_capped_at_the_server_window(self):
        # A fudge of 65,535 s would accept a query signed 18 hours ago; ours is 300 s.
        _, wire = signed_query("www.example.test.", fudge=65535,
                               signed_at=int(time.time()) - 3600)
        response = self.exchange(wire)
        self.assertEqual(rcode_of(response), dns.rcode.NOTAUTH)
        self.assertEqual(tsig_of(response).error, dns.rcode.BADTIME)
        # Within both windows it is answered.
        query, wire = signed_query("www.example.test.", fudge=65535,
                                   signed_at=int(time.time()) - SERVER_WINDOW // 2)
        parsed = dns.message.from_wire(self.exchange(wire), keyring=query.keyring,
                                       request_mac=query.mac)
        self.assertEqual(parsed.rcode(), dns.rcode.NOERROR)

    def test_truncated_mac_gets_badtrunc_or_formerr(self):
        # RFC 8945 §5.2.2.1: 16 octets is half of SHA-256's 32, allowed by the rules, but our
        # policy takes no truncated MAC: BADTRUNC (§5.2.4), signed (§5.3.2).
        _, wire = signed_query("www.example.test.")
        response = self.exchange(with_mac_size(wire, 16))
        self.assertEqual(rcode_of(response), dns.rcode.NOTAUTH)
        tsig = tsig_of(response)
        self.assertEqual(tsig.error, dns.rcode.BADTRUNC)
        self.assertEqual(len(tsig.mac), 32)
        self.assertEqual(struct.unpack("!H", response[6:8])[0], 0)
        # Below max(10, 16) octets: FORMERR, without TSIG (§5.2.2.1 rule 3).
        response = self.exchange(with_mac_size(wire, 12))
        self.assertEqual(rcode_of(response), dns.rcode.FORMERR)
        self.assertEqual(arcount_of(response), 0)

    def test_signed_answer_still_fits_the_udp_size(self):
        # 100 A records do not fit: TC, and the TSIG still inside the size asked for.
        for edns, limit in ((None, 512), (0, 1232)):
            query, wire = signed_query("big.example.test.", use_edns=edns, payload=limit)
            response = self.exchange(wire)
            self.assertLessEqual(len(response), limit)
            parsed = dns.message.from_wire(response, keyring=query.keyring,
                                           request_mac=query.mac)
            self.assertTrue(parsed.flags & dns.flags.TC)
            self.assertTrue(parsed.had_tsig)
        query, wire = signed_query("big.example.test.")
        parsed = dns.message.from_wire(self.exchange(wire, tcp=True), keyring=query.keyring,
                                       request_mac=query.mac)
        self.assertFalse(parsed.flags & dns.flags.TC)
        self.assertEqual(len(parsed.answer[0]), 100)

    def test_unsigned_queries_stay_unsigned(self):
        response = self.exchange(query_message("www.example.test.").to_wire())
        self.assertEqual(rcode_of(response), dns.rcode.NOERROR)
        self.assertFalse(dns.message.from_wire(response).had_tsig)


class SignedUpdateTest(ServerTestCase):
    SERVER_ARGS = {"extra": KEYS}

    def update(self, fudge=300, signed_at=None):
        update = dns.update.UpdateMessage(ZONE)
        update.add("host-9.node", 30, "A", "127.0.0.99")
        update.use_tsig(key(), fudge=fudge)
        if signed_at is None:
            return update.to_wire()
        with mock.patch("time.time", return_value=signed_at):
            return update.to_wire()

    def test_truncated_mac_gets_badtrunc(self):
        response = udp_exchange(self.port, with_mac_size(self.update(), 16))
        self.assertIsNotNone(response)
        self.assertEqual(rcode_of(response), dns.rcode.NOTAUTH)
        tsig = tsig_of(response)
        self.assertEqual(tsig.error, dns.rcode.BADTRUNC)
        self.assertEqual(len(tsig.mac), 32)

    def test_client_fudge_is_capped_at_the_server_window(self):
        wire = self.update(fudge=65535, signed_at=int(time.time()) - 3600)
        response = udp_exchange(self.port, wire)
        self.assertIsNotNone(response)
        self.assertEqual(rcode_of(response), dns.rcode.NOTAUTH)
        self.assertEqual(tsig_of(response).error, dns.rcode.BADTIME)


if __name__ == "__main__":
    unittest.main()
