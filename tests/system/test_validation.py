"""The validation ladder, seen from the wire: raw packets over UDP, checked response by
response. Drop, NOTIMP, FORMERR, BADVERS, REFUSED and the EDNS rules of RFC 6891."""

import struct
import unittest

import dns.message
import dns.rcode

import harness

NO_RESPONSE_WAIT = 0.5  # seconds to wait before deciding a packet was dropped

# RCODEs, RFC 1035 §4.1.1 and RFC 6891 §9.
NOERROR, FORMERR, NOTIMP, REFUSED, BADVERS = 0, 1, 4, 5, 16

TYPE_A, TYPE_OPT, CLASS_IN = 1, 41, 1


def header(query_id=0x5150, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", query_id, flags, qd, an, ns, ar)


def wire_name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def question(name="www.example.test.", qtype=TYPE_A, qclass=CLASS_IN):
    return wire_name(name) + struct.pack("!HH", qtype, qclass)


def opt_record(payload=1232, version=0, ext_rcode=0, do=False, options=b""):
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return b"\x00" + struct.pack("!HHIH", TYPE_OPT, payload, ttl, len(options)) + options


def edns_option(code, data):
    return struct.pack("!HH", code, len(data)) + data


class ValidationTest(harness.ServerTestCase):
    def send(self, packet, timeout=2.0):
        """The raw response to `packet`, or None when nothing came back."""
        return harness.udp_exchange(self.port, packet, timeout=timeout)

    def expect_rcode(self, packet, rcode, query_id=0x5150):
        wire = self.send(packet)
        self.assertIsNotNone(wire, f"no response; expected rcode {rcode}")
        self.assertGreaterEqual(len(wire), 12)
        got_id, flags, *_ = harness.header_of(wire)
        self.assertEqual(got_id, query_id, "the ID must be echoed")
        self.assertTrue(flags & 0x8000, "QR must be set")
        self.assertEqual((flags >> 11) & 0x0F, (packet[2] >> 3) & 0x0F, "the opcode is echoed")
        if rcode < 16 and (flags >> 11) & 0x0F not in (0, 1, 2, 4, 5):
            # dnspython cannot read unassigned opcodes: check the header alone.
            self.assertEqual(flags & 0x0F, rcode, f"expected rcode {rcode}, got {flags & 0x0F}")
            self.assertEqual(harness.header_of(wire)[3], 0, "an error response carries no answer")
            return wire, None
        message = dns.message.from_wire(wire)
        self.assertEqual(message.rcode(), rcode,
                         f"expected {dns.rcode.to_text(rcode)}, got "
                         f"{dns.rcode.to_text(message.rcode())}")
        self.assertEqual(len(message.answer), 0, "an error response carries no answer")
        return wire, message

    def expect_drop(self, packet):
        self.assertIsNone(self.send(packet, NO_RESPONSE_WAIT), "expected no response (dropped)")
        # And the server is still there.
        self.assertIsNotNone(self.send(header() + question()), "server stopped answering")

    # Drop.

    def test_shorter_than_header_dropped(self):
        for length in (0, 1, 5, 11):
            with self.subTest(length=length):
                self.expect_drop((header() + question())[:length])

    def test_response_dropped(self):
        self.expect_drop(header(flags=0x8100) + question())
        self.expect_drop(header(flags=0x8400) + question())

    # NOTIMP.

    def test_status_opcode_notimp(self):
        for opcode in (1, 2, 3):
            with self.subTest(opcode=opcode):
                self.expect_rcode(header(flags=(opcode << 11) | 0x0100) + question(), NOTIMP)

    def test_status_opcode_notimp_without_question(self):
        self.expect_rcode(header(flags=2 << 11, qd=0), NOTIMP)

    def test_meta_qtype_maila_notimp(self):
        self.expect_rcode(header() + question(qtype=254), NOTIMP)

    # FORMERR.

    def test_no_question_formerr(self):
        self.expect_rcode(header(qd=0), FORMERR)

    def test_two_questions_formerr(self):
        self.expect_rcode(header(qd=2) + question() + question("mx.example.test."), FORMERR)

    def test_label_longer_than_63_formerr(self):
        name = bytes([64]) + b"a" * 64 + wire_name("example.test.")
        self.expect_rcode(header() + name + struct.pack("!HH", TYPE_A, CLASS_IN), FORMERR)

    def test_label_of_63_is_fine(self):
        wire = self.send(header() + question("a" * 63 + ".example.test."))
        self.assertIsNotNone(wire)
        self.assertEqual(dns.message.from_wire(wire).rcode(), dns.rcode.NXDOMAIN)

    def test_name_longer_than_255_formerr(self):
        name = ".".join(["a" * 63] * 4) + ".example.test."  # 4*64 + 14 = 270 octets
        self.expect_rcode(header() + wire_name(name) + struct.pack("!HH", TYPE_A, CLASS_IN),
                          FORMERR)

    def test_name_of_255_is_fine(self):
        # 3*64 + 62 + 1 = 255 octets, the longest legal name: not ours, so REFUSED.
        name = ".".join(["a" * 63] * 3 + ["b" * 61]) + "."
        self.assertEqual(len(wire_name(name)), 255)
        self.expect_rcode(header() + question(name), REFUSED)

    def test_compression_loop_formerr(self):
        # The qname is a pointer to itself (offset 12).
        self.expect_rcode(header() + b"\xc0\x0c" + struct.pack("!HH", TYPE_A, CLASS_IN), FORMERR)

    def test_compression_loop_through_label_formerr(self):
        # "www" then a pointer back to "www" at offset 12: an endless name.
        packet = header() + b"\x03www\xc0\x0c" + struct.pack("!HH", TYPE_A, CLASS_IN)
        self.expect_rcode(packet, FORMERR)

    def test_forward_pointer_formerr(self):
        # The qname points to the end of the packet, where a name follows; pointers must
        # point to earlier data (RFC 1035 §4.1.4: "a prior occurrence").
        tail_offset = 12 + 2 + 4
        packet = (header() + struct.pack("!H", 0xC000 | tail_offset)
                  + struct.pack("!HH", TYPE_A, CLASS_IN) + wire_name("www.example.test."))
        self.expect_rcode(packet, FORMERR)

    def test_pointer_past_end_formerr(self):
        self.expect_rcode(header() + b"\xc0\xff" + struct.pack("!HH", TYPE_A, CLASS_IN), FORMERR)

    def test_question_cut_short_formerr(self):
        self.expect_rcode(header() + question()[:-2], FORMERR)

    def test_trailing_garbage_formerr(self):
        self.expect_rcode(header() + question() + b"\x00\x01\x02", FORMERR)

    def test_counts_beyond_packet_formerr(self):
        self.expect_rcode(header(an=1) + question(), FORMERR)
        self.expect_rcode(header(ar=0xFFFF) + question(), FORMERR)

    def test_two_opt_records_formerr(self):
        self.expect_rcode(header(ar=2) + question() + opt_record() + opt_record(), FORMERR)

    def test_opt_in_answer_section_formerr(self):
        self.expect_rcode(header(an=1) + question() + opt_record(), FORMERR)

    def test_opt_not_at_root_formerr(self):
        opt = wire_name("example.test.") + opt_record()[1:]
        self.expect_rcode(header(ar=1) + question() + opt, FORMERR)

    def test_qtype_opt_formerr(self):
        self.expect_rcode(header() + question(qtype=TYPE_OPT), FORMERR)

    # EDNS (RFC 6891).

    def test_edns_version_1_badvers(self):
        wire, message = self.expect_rcode(header(ar=1) + question() + opt_record(version=1),
                                          BADVERS)
        _, flags, *_ = harness.header_of(wire)
        self.assertEqual(flags & 0x0F, 0, "BADVERS is 16: low bits 0 in the header")
        self.assertIsNotNone(message.opt, "BADVERS travels in the OPT record")
        self.assertEqual(message.edns, 0, "the response's OPT says version 0")

    def test_opt_echoed_with_our_payload_size(self):
        for payload in (512, 1232, 4096, 65535):
            with self.subTest(payload=payload):
                wire = self.send(header(ar=1) + question() + opt_record(payload=payload))
                self.assertIsNotNone(wire)
                message = dns.message.from_wire(wire)
                self.assertEqual(message.rcode(), dns.rcode.NOERROR)
                self.assertIsNotNone(message.opt, "an EDNS query gets an OPT back")
                self.assertEqual(message.edns, 0)
                self.assertEqual(message.payload, 1232, "we advertise dns.udp_payload (1232)")
                self.assertEqual(len(message.answer), 1)

    def test_no_opt_without_edns(self):
        wire = self.send(header() + question())
        message = dns.message.from_wire(wire)
        self.assertIsNone(message.opt, "a query without EDNS gets no OPT (RFC 6891 §7)")

    def test_unknown_edns_option_ignored(self):
        options = edns_option(65001, b"\x01\x02\x03") + edns_option(65002, b"")
        wire = self.send(header(ar=1) + question() + opt_record(options=options))
        self.assertIsNotNone(wire)
        message = dns.message.from_wire(wire)
        self.assertEqual(message.rcode(), dns.rcode.NOERROR)
        self.assertEqual(sorted(rr.to_text() for rr in message.answer[0]),
                         ["192.0.2.10", "192.0.2.11"])
        self.assertNotIn(65001, [option.otype for option in message.options],
                         "unknown options are not echoed")

    def test_do_bit_accepted(self):
        wire = self.send(header(ar=1) + question() + opt_record(do=True))
        message = dns.message.from_wire(wire)
        self.assertEqual(message.rcode(), dns.rcode.NOERROR)
        self.assertEqual(len(message.answer), 1)

    # REFUSED.

    def test_class_chaos_refused(self):
        self.expect_rcode(header() + question("version.bind.", 16, 3), REFUSED)

    def test_class_any_refused(self):
        self.expect_rcode(header() + question(qclass=255), REFUSED)

    # Header bits of a good query.

    def test_header_bits_of_an_answer(self):
        wire = self.send(header(query_id=0xBEEF, flags=0x0000) + question())
        query_id, flags, qd, an, ns, ar = harness.header_of(wire)
        self.assertEqual(query_id, 0xBEEF)
        self.assertTrue(flags & 0x8000, "QR")
        self.assertEqual((flags >> 11) & 0x0F, 0, "opcode QUERY")
        self.assertTrue(flags & 0x0400, "AA")
        self.assertFalse(flags & 0x0200, "TC")
        self.assertFalse(flags & 0x0100, "RD was clear in the query")
        self.assertFalse(flags & 0x0080, "RA")
        self.assertEqual(flags & 0x0070, 0, "Z, AD and CD clear")
        self.assertEqual((qd, an), (1, 2))

    def test_cd_bit_copied(self):
        # RFC 4035 §3.1.6: CD is copied into the response.
        wire = self.send(header(flags=0x0110) + question())
        _, flags, *_ = harness.header_of(wire)
        self.assertTrue(flags & 0x0010, "CD must be copied")


if __name__ == "__main__":
    unittest.main()
