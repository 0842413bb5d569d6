// Tests for the message structure: header, question, records and the OPT record.
#include "dns/wire/message.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace signpost::dns::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Appends big-endian fields and names to a message under construction.
struct Packet {
  Bytes bytes;

  Packet& u8(std::uint8_t v) {
    bytes.push_back(v);
    return *this;
  }
  Packet& u16(std::uint16_t v) {
    bytes.push_back(static_cast<std::uint8_t>(v >> 8));
    bytes.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  Packet& u32(std::uint32_t v) { return u16(static_cast<std::uint16_t>(v >> 16)).u16(static_cast<std::uint16_t>(v)); }
  Packet& raw(const Bytes& b) {
    bytes.insert(bytes.end(), b.begin(), b.end());
    return *this;
  }
  Packet& name(std::string_view text) {
    std::string wire;
    EXPECT_TRUE(name_from_text(text, wire)) << text;
    bytes.insert(bytes.end(), wire.begin(), wire.end());
    return *this;
  }
  Packet& header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an,
                 std::uint16_t ns, std::uint16_t ar) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  std::size_t size() const { return bytes.size(); }
};

TEST(MessageHeaderTest, ReadsAllFields) {
  Packet p;
  p.header(0xBEEF, 0x8000 | (5u << 11) | flag::kAa | flag::kRd | flag::kCd | 3, 1, 2, 3, 4);
  Header h;
  ASSERT_TRUE(parse_header(p.bytes, h));
  EXPECT_EQ(h.id, 0xBEEF);
  EXPECT_EQ(h.qdcount, 1);
  EXPECT_EQ(h.ancount, 2);
  EXPECT_EQ(h.nscount, 3);
  EXPECT_EQ(h.arcount, 4);
  EXPECT_EQ(h.opcode(), opcode::kUpdate);
  EXPECT_EQ(h.rcode(), 3);
  EXPECT_TRUE(h.has(flag::kQr));
  EXPECT_TRUE(h.has(flag::kAa));
  EXPECT_TRUE(h.has(flag::kCd));
  EXPECT_FALSE(h.has(flag::kTc));
  EXPECT_FALSE(h.has(flag::kRa));
}

TEST(MessageHeaderTest, RejectsShortMessage) {
  const Bytes eleven(11, 0);
  Header h;
  EXPECT_FALSE(parse_header(eleven, h));
  EXPECT_FALSE(parse_header({}, h));
  EXPECT_TRUE(parse_header(Bytes(12, 0), h));
}

TEST(MessageHeaderTest, EncodeRoundTrips) {
  Header h;
  h.id = 0x0102;
  h.flags = 0x8583;
  h.qdcount = 1;
  h.ancount = 0x0304;
  h.nscount = 0x0506;
  h.arcount = 0xFFFF;
  Bytes out(12, 0);
  encode_header(out.data(), h);
  EXPECT_EQ(out, (Bytes{1, 2, 0x85, 0x83, 0, 1, 3, 4, 5, 6, 0xFF, 0xFF}));
  Header back;
  ASSERT_TRUE(parse_header(out, back));
  EXPECT_EQ(back.flags, h.flags);
  EXPECT_EQ(back.arcount, h.arcount);
}

TEST(MessageQuestionTest, ReadsQuestionKeepingCase) {
  Packet p;
  p.header(1, 0, 1, 0, 0, 0).name("WWW.Example.test.").u16(rrtype::kAaaa).u16(rrclass::kIn);
  std::size_t position = kHeaderSize;
  Name qname;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  NameError name_error = NameError::truncated;
  ASSERT_EQ(parse_question(p.bytes, position, qname, qtype, qclass, name_error), MessageError::ok);
  EXPECT_EQ(name_error, NameError::ok);
  EXPECT_EQ(position, p.size());
  EXPECT_EQ(name_to_text(qname.key()), "WWW.Example.test.");
  EXPECT_EQ(qtype, rrtype::kAaaa);
  EXPECT_EQ(qclass, rrclass::kIn);
}

TEST(MessageQuestionTest, ReadsCompressedSecondQuestion) {
  Packet p;
  p.header(1, 0, 2, 0, 0, 0).name("example.test.").u16(1).u16(1);
  p.u8(3).raw({'w', 'w', 'w'}).u8(0xC0).u8(12).u16(rrtype::kTxt).u16(rrclass::kAny);
  std::size_t position = kHeaderSize;
  Name qname;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  NameError name_error{};
  ASSERT_EQ(parse_question(p.bytes, position, qname, qtype, qclass, name_error), MessageError::ok);
  ASSERT_EQ(parse_question(p.bytes, position, qname, qtype, qclass, name_error), MessageError::ok);
  EXPECT_EQ(position, p.size());
  EXPECT_EQ(name_to_text(qname.key()), "www.example.test.");
  EXPECT_EQ(qtype, rrtype::kTxt);
  EXPECT_EQ(qclass, rrclass::kAny);
}

TEST(MessageQuestionTest, ReportsTruncatedFixedFields) {
  Packet full;
  full.header(1, 0, 1, 0, 0, 0).name("a.test.").u16(1).u16(1);
  for (std::size_t cut = 1; cut <= 4; ++cut) {
    const Bytes part(full.bytes.begin(), full.bytes.end() - static_cast<std::ptrdiff_t>(cut));
    std::size_t position = kHeaderSize;
    Name qname;
    std::uint16_t qtype = 0;
    std::uint16_t qclass = 0;
    NameError name_error{};
    EXPECT_EQ(parse_question(part, position, qname, qtype, qclass, name_error), MessageError::truncated)
        << cut;
    EXPECT_EQ(name_error, NameError::ok);
  }
}

TEST(MessageQuestionTest, ReportsBadNameWithReason) {
  Packet p;
  p.header(1, 0, 1, 0, 0, 0).u8(0xC0).u8(12).u16(1).u16(1);
  std::size_t position = kHeaderSize;
  Name qname;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  NameError name_error{};
  EXPECT_EQ(parse_question(p.bytes, position, qname, qtype, qclass, name_error), MessageError::bad_name);
  EXPECT_EQ(name_error, NameError::forward_pointer);
}

// A response: question www.example.test/A, one answer with a compressed owner.
Packet response_with_answer(std::uint16_t rdlength, const Bytes& rdata) {
  Packet p;
  p.header(7, 0x8400, 1, 1, 0, 0).name("www.example.test.").u16(1).u16(1);
  p.u8(0xC0).u8(12).u16(rrtype::kA).u16(rrclass::kIn).u32(0x01020304).u16(rdlength).raw(rdata);
  return p;
}

TEST(MessageRecordTest, ReadsRecordFields) {
  const Packet p = response_with_answer(4, {192, 0, 2, 1});
  std::size_t position = kHeaderSize + 18 + 4;
  const std::size_t owner = position;
  RecordView record;
  NameError name_error{};
  ASSERT_EQ(parse_record(p.bytes, position, record, name_error), MessageError::ok);
  EXPECT_EQ(position, p.size());
  EXPECT_EQ(record.owner_offset, owner);
  EXPECT_EQ(record.type, rrtype::kA);
  EXPECT_EQ(record.rrclass, rrclass::kIn);
  EXPECT_EQ(record.ttl, 0x01020304u);
  EXPECT_EQ(record.rdlength, 4);
  EXPECT_EQ(record.rdata_offset, p.size() - 4);
  EXPECT_EQ(p.bytes[record.rdata_offset], 192);
}

TEST(MessageRecordTest, AcceptsEmptyRdata) {
  const Packet p = response_with_answer(0, {});
  std::size_t position = kHeaderSize + 22;
  RecordView record;
  NameError name_error{};
  ASSERT_EQ(parse_record(p.bytes, position, record, name_error), MessageError::ok);
  EXPECT_EQ(record.rdlength, 0);
  EXPECT_EQ(position, p.size());
}

TEST(MessageRecordTest, ReportsRdataPastTheEnd) {
  const Packet p = response_with_answer(5, {192, 0, 2, 1});
  std::size_t position = kHeaderSize + 22;
  RecordView record;
  NameError name_error{};
  EXPECT_EQ(parse_record(p.bytes, position, record, name_error), MessageError::truncated);
}

TEST(MessageRecordTest, ReportsTruncatedFixedFields) {
  const Packet full = response_with_answer(0, {});
  for (std::size_t cut = 1; cut <= 10; ++cut) {
    const Bytes part(full.bytes.begin(), full.bytes.end() - static_cast<std::ptrdiff_t>(cut));
    std::size_t position = kHeaderSize + 22;
    RecordView record;
    NameError name_error{};
    EXPECT_EQ(parse_record(part, position, record, name_error), MessageError::truncated) << cut;
  }
}

TEST(MessageRecordTest, ReportsBadOwner) {
  Packet p = response_with_answer(4, {192, 0, 2, 1});
  p.bytes[kHeaderSize + 22] = 0x80;  // owner starts with a reserved label type
  std::size_t position = kHeaderSize + 22;
  RecordView record;
  NameError name_error{};
  EXPECT_EQ(parse_record(p.bytes, position, record, name_error), MessageError::bad_name);
  EXPECT_EQ(name_error, NameError::bad_label_type);
}

// A query for a.test/A carrying an OPT record with `rdata` as its options.
Packet query_with_opt(std::uint32_t ttl, const Bytes& rdata, bool root_owner = true) {
  Packet p;
  p.header(9, 0x0100, 1, 0, 0, 1).name("a.test.").u16(1).u16(1);
  if (root_owner) {
    p.u8(0);
  } else {
    p.u8(0xC0).u8(12);
  }
  p.u16(rrtype::kOpt).u16(1232).u32(ttl).u16(static_cast<std::uint16_t>(rdata.size())).raw(rdata);
  return p;
}

MessageError parse_last_opt(const Packet& p, Edns& edns, std::size_t opt_at) {
  std::size_t position = opt_at;
  RecordView record;
  NameError name_error{};
  EXPECT_EQ(parse_record(p.bytes, position, record, name_error), MessageError::ok);
  return parse_opt(p.bytes, record, edns);
}

constexpr std::size_t kOptAt = kHeaderSize + 8 + 4;

TEST(MessageOptTest, ReadsEdnsFields) {
  const Packet p = query_with_opt(0x12018000, {});
  Edns edns;
  ASSERT_EQ(parse_last_opt(p, edns, kOptAt), MessageError::ok);
  EXPECT_TRUE(edns.present);
  EXPECT_EQ(edns.udp_size, 1232);
  EXPECT_EQ(edns.extended_rcode, 0x12);
  EXPECT_EQ(edns.version, 1);
  EXPECT_TRUE(edns.dnssec_ok);
  EXPECT_EQ(edns.options_length, 0);
}

TEST(MessageOptTest, FindsOptions) {
  // NSID (3) empty, then COOKIE (10) with 8 octets of client cookie.
  const Packet p = query_with_opt(0, {0, 3, 0, 0, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
  Edns edns;
  ASSERT_EQ(parse_last_opt(p, edns, kOptAt), MessageError::ok);
  EXPECT_FALSE(edns.dnssec_ok);
  std::span<const std::uint8_t> value;
  ASSERT_TRUE(find_edns_option(p.bytes, edns, 10, value));
  EXPECT_EQ(Bytes(value.begin(), value.end()), (Bytes{1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_TRUE(find_edns_option(p.bytes, edns, 3, value));
  EXPECT_TRUE(value.empty());
  EXPECT_FALSE(find_edns_option(p.bytes, edns, 12, value));
  EXPECT_FALSE(find_edns_option(p.bytes, Edns{}, 10, value));
}

TEST(MessageOptTest, RejectsMalformedOptions) {
  const std::vector<Bytes> cases = {
      {0, 10},                 // half an option header
      {0, 10, 0},              // three octets of header
      {0, 10, 0, 9, 1, 2, 3},  // option longer than the rdata
  };
  for (const Bytes& options : cases) {
    const Packet p = query_with_opt(0, options);
    Edns edns;
    EXPECT_EQ(parse_last_opt(p, edns, kOptAt), MessageError::bad_opt) << options.size();
  }
}

TEST(MessageOptTest, OptionLengthIsBoundedByRdataNotMessage) {
  // The option claims 4 octets; the message has them only because a record follows.
  Packet p = query_with_opt(0, {0, 10, 0, 4});
  p.raw({1, 2, 3, 4});
  Edns edns;
  EXPECT_EQ(parse_last_opt(p, edns, kOptAt), MessageError::bad_opt);
}

TEST(MessageOptTest, RejectsOwnerOtherThanRoot) {
  // RFC 6891 §6.1.2: the owner MUST be 0 (root); even a pointer to a name is refused.
  const Packet p = query_with_opt(0, {}, false);
  Edns edns;
  EXPECT_EQ(parse_last_opt(p, edns, kOptAt), MessageError::bad_opt);
}

}  // namespace
}  // namespace signpost::dns::wire
