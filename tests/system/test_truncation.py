"""Size limits: UDP answers fit 512 octets without EDNS and the smaller of the client's and
our own EDNS size (1232) with it; an RRset that does not fit is left out whole and TC is
set (RFC 2181 §9); additional data that does not fit is dropped without TC; TCP carries
everything.

big.example.test. (fixture zone) holds 100 A records, about 1.6 KB. The extra zone
trunc.test. holds an MX RRset of 14 exchanges that fits in 512 octets while the
exchanges' addresses do not.
"""

import struct
import unittest

import dns.flags
import dns.message
import dns.rcode

import harness
from harness import dig

# 14 MX records take at most 14 * 31 octets (rdata names written out in full), so with
# the header and question they fit in 512; their 14 addresses, at least 16 octets each,
# do not fit as well whether or not names are compressed.
EXCHANGES = 14


def trunc_zone():
    lines = [
        "$ORIGIN trunc.test.",
        "$TTL 300",
        "@ IN SOA ns.trunc.test. hostmaster.trunc.test. 1 3600 600 86400 300",
        "@ IN NS ns",
        "ns IN A 192.0.2.1",
    ]
    for i in range(1, EXCHANGES + 1):
        lines.append(f"mx IN MX 10 mx{i:02d}")
        lines.append(f"mx{i:02d} IN A 198.51.100.{i}")
    return "\n".join(lines) + "\n"


BIG_ADDRESSES = sorted(f"198.51.100.{i}" for i in range(1, 101))


class TruncationTest(harness.ServerTestCase):
    SERVER_ARGS = {"extra_zones": {"trunc.test.zone": trunc_zone()}}

    def udp(self, name, rdtype="A", use_edns=None, payload=1232):
        q = harness.query_message(name, rdtype, use_edns=use_edns, payload=payload)
        wire = harness.udp_exchange(self.port, q.to_wire())
        self.assertIsNotNone(wire, f"no response to {name} {rdtype} over UDP")
        return wire, dns.message.from_wire(wire)

    def assert_truncated_without_partial_rrset(self, wire, message, limit):
        self.assertLessEqual(len(wire), limit, "the response exceeds the size limit")
        self.assertTrue(message.flags & dns.flags.TC, "TC must be set when the answer is cut")
        self.assertEqual(message.rcode(), dns.rcode.NOERROR)
        _, _, qd, an, _, _ = harness.header_of(wire)
        self.assertEqual(qd, 1, "the question is kept in a truncated response")
        self.assertIn(an, (0, 100), "no partial RRset in the answer (RFC 2181 §9): "
                      f"got {an} of 100 records")
        self.assertEqual(an, 0, "100 records cannot fit, so none may be sent")

    def test_big_rrset_without_edns_is_truncated_at_512(self):
        wire, message = self.udp("big.example.test.")
        self.assert_truncated_without_partial_rrset(wire, message, 512)
        self.assertIsNone(message.opt)

    def test_big_rrset_with_edns_4096_is_capped_at_1232(self):
        wire, message = self.udp("big.example.test.", use_edns=0, payload=4096)
        self.assert_truncated_without_partial_rrset(wire, message, 1232)
        self.assertIsNotNone(message.opt, "the OPT record survives truncation")
        self.assertEqual(message.payload, 1232)

    def test_big_rrset_with_edns_1232(self):
        wire, message = self.udp("big.example.test.", use_edns=0, payload=1232)
        self.assert_truncated_without_partial_rrset(wire, message, 1232)

    def test_big_rrset_whole_over_tcp(self):
        for use_edns in (None, 0):
            with self.subTest(edns=use_edns):
                q = harness.query_message("big.example.test.", "A", use_edns=use_edns)
                r = harness.ask_tcp(self.port, q)
                self.assertIsNotNone(r, "no response over TCP")
                self.assertFalse(r.flags & dns.flags.TC, "TC over TCP")
                self.assertEqual(len(r.answer), 1)
                self.assertEqual(sorted(rr.to_text() for rr in r.answer[0]), BIG_ADDRESSES)

    def test_dig_falls_back_to_tcp(self):
        r = dig(self.port, "big.example.test", "A")
        self.assertEqual(r.status, "NOERROR", r.text)
        self.assertNotIn("tc", r.flags, r.text)
        self.assertEqual(sorted(r.rdata()), BIG_ADDRESSES, r.text)

    def test_dig_sees_tc_over_udp(self):
        for options in (("+noedns",), ("+bufsize=4096",), ("+bufsize=1232",)):
            with self.subTest(options=options):
                r = dig(self.port, "big.example.test", "A", "+ignore", *options)
                self.assertEqual(r.status, "NOERROR", r.text)
                self.assertIn("tc", r.flags, r.text)
                self.assertEqual(r.answer, [], r.text)

    def test_small_answer_not_truncated(self):
        wire, message = self.udp("www.example.test.")
        self.assertFalse(message.flags & dns.flags.TC)
        self.assertEqual(len(message.answer[0]), 2)

    def test_edns_payload_below_512_means_512(self):
        # RFC 6891 §6.2.5: values below 512 are treated as 512.
        wire, message = self.udp("mx.trunc.test.", "MX", use_edns=0, payload=256)
        self.assertLessEqual(len(wire), 512)
        self.assertFalse(message.flags & dns.flags.TC, "the MX RRset fits in 512 octets")
        self.assertEqual(len(message.answer[0]), EXCHANGES)

    def test_additional_left_out_without_tc(self):
        # The MX records fit in 512 octets; their addresses do not.
        wire, message = self.udp("mx.trunc.test.", "MX")
        self.assertLessEqual(len(wire), 512)
        self.assertFalse(message.flags & dns.flags.TC,
                         "additional data that does not fit must not set TC (RFC 2181 §9)")
        self.assertEqual(len(message.answer), 1)
        self.assertEqual(len(message.answer[0]), EXCHANGES)
        additional = sum(len(rrset) for rrset in message.additional)
        self.assertLess(additional, EXCHANGES, "not all addresses can fit in 512 octets")
        self.assertGreater(additional, 0, "the addresses that fit should be sent")

    def test_additional_complete_with_edns(self):
        wire, message = self.udp("mx.trunc.test.", "MX", use_edns=0, payload=1232)
        self.assertFalse(message.flags & dns.flags.TC)
        addresses = {rr.to_text() for rrset in message.additional for rr in rrset}
        self.assertEqual(addresses, {f"198.51.100.{i}" for i in range(1, EXCHANGES + 1)})

    def test_additional_complete_over_tcp(self):
        q = harness.query_message("mx.trunc.test.", "MX")
        r = harness.ask_tcp(self.port, q)
        addresses = {rr.to_text() for rrset in r.additional for rr in rrset}
        self.assertEqual(len(addresses), EXCHANGES)


class SmallPayloadTest(harness.ServerTestCase):
    """dns.udp_payload = 512: EDNS clients get at most 512 octets and see 512 in the OPT."""

    SERVER_ARGS = {"dns": {"udp_payload": 512}}

    def test_our_payload_size_caps_edns(self):
        q = harness.query_message("text.example.test.", "TXT", use_edns=0, payload=4096)
        wire = harness.udp_exchange(self.port, q.to_wire())
        message = dns.message.from_wire(wire)
        self.assertEqual(message.payload, 512)
        q = harness.query_message("big.example.test.", "A", use_edns=0, payload=4096)
        wire = harness.udp_exchange(self.port, q.to_wire())
        self.assertLessEqual(len(wire), 512)
        self.assertTrue(struct.unpack("!H", wire[2:4])[0] & 0x0200, "TC")


if __name__ == "__main__":
    unittest.main()
