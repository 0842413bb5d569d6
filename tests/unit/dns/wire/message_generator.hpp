// Test messages for the wire parser: ldns-built seeds, mutations and random messages.
#pragma once

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "dns/wire/types.hpp"

namespace signpost::testing::messages {

using Bytes = std::vector<std::uint8_t>;

// Deleters for ldns objects, so that every test path frees what ldns allocated.
struct PktFree {
  void operator()(ldns_pkt* p) const noexcept { ldns_pkt_free(p); }
};
struct RrFree {
  void operator()(ldns_rr* rr) const noexcept { ldns_rr_free(rr); }
};
struct BufferFree {
  void operator()(ldns_buffer* b) const noexcept { ldns_buffer_free(b); }
};
struct RdfFree {
  void operator()(ldns_rdf* rdf) const noexcept { ldns_rdf_deep_free(rdf); }
};
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;
using RrPtr = std::unique_ptr<ldns_rr, RrFree>;
using BufferPtr = std::unique_ptr<ldns_buffer, BufferFree>;

namespace rrtype = dns::wire::rrtype;
using dns::wire::kHeaderSize;

/// Lower-case hex of a message, for failure output.
inline std::string hex(const Bytes& m) {
  std::string out;
  char buf[4];
  for (const std::uint8_t b : m) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

/// Octets from hex digits; spaces are ignored.
inline Bytes from_hex(std::string_view text) {
  Bytes out;
  std::string digits;
  for (const char c : text) {
    if (c != ' ') digits.push_back(c);
  }
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

/// The single seeded random source of the generators, so every run sees the same messages.
class Rng {
 public:
  explicit Rng(std::uint32_t seed) : engine_(seed) {}
  std::size_t below(std::size_t n) { return n == 0 ? 0 : engine_() % n; }
  bool chance(unsigned percent) { return engine_() % 100 < percent; }
  std::uint8_t octet() { return static_cast<std::uint8_t>(engine_()); }

 private:
  std::mt19937 engine_;
};

/// A record from presentation format, absolute names only.
inline ldns_rr* rr_from(const char* text) {
  ldns_rr* rr = nullptr;
  EXPECT_EQ(ldns_rr_new_frm_str(&rr, text, 0, nullptr, nullptr), LDNS_STATUS_OK) << text;
  return rr;
}

/// The wire form ldns gives a packet, names compressed.
inline Bytes to_wire(const ldns_pkt* p) {
  std::uint8_t* data = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&data, p, &size), LDNS_STATUS_OK);
  Bytes out(data, data + size);
  std::free(data);
  return out;
}

/// A recursive query for one name and type.
inline PktPtr query(const char* qname, ldns_rr_type qtype, std::uint16_t id) {
  PktPtr p(ldns_pkt_query_new(ldns_dname_new_frm_str(qname), qtype, LDNS_RR_CLASS_IN, LDNS_RD));
  ldns_pkt_set_id(p.get(), id);
  return p;
}

/// Adds an OPT record (1232 octets, DO), optionally with COOKIE and NSID options.
inline void add_edns(ldns_pkt* p, bool with_options) {
  ldns_pkt_set_edns_udp_size(p, 1232);
  ldns_pkt_set_edns_do(p, true);
  if (with_options) {
    // COOKIE (10) with an 8-octet client cookie, then an empty NSID (3).
    const std::uint8_t options[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 0, 0};
    ldns_pkt_set_edns_data(p, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, sizeof options, options));
  }
}

/// An authoritative response with the given records in each section.
inline PktPtr response(const char* question, std::initializer_list<const char*> answers,
                       std::initializer_list<const char*> authority,
                       std::initializer_list<const char*> additional) {
  PktPtr p(ldns_pkt_new());
  ldns_pkt_set_id(p.get(), 0xA5A5);
  ldns_pkt_set_qr(p.get(), true);
  ldns_pkt_set_aa(p.get(), true);
  ldns_rr* q = nullptr;
  EXPECT_EQ(ldns_rr_new_question_frm_str(&q, question, nullptr, nullptr), LDNS_STATUS_OK);
  ldns_pkt_push_rr(p.get(), LDNS_SECTION_QUESTION, q);
  for (const char* text : answers) ldns_pkt_push_rr(p.get(), LDNS_SECTION_ANSWER, rr_from(text));
  for (const char* text : authority) ldns_pkt_push_rr(p.get(), LDNS_SECTION_AUTHORITY, rr_from(text));
  for (const char* text : additional) ldns_pkt_push_rr(p.get(), LDNS_SECTION_ADDITIONAL, rr_from(text));
  return p;
}

/// A query signed with a TSIG record (RFC 8945 §4.2), appended by hand as the last record.
inline Bytes tsig_query() {
  Bytes m = to_wire(query("www.example.test.", LDNS_RR_TYPE_A, 0x7777).get());
  const Bytes tsig = {
      3, 'k', 'e', 'y', 0,              // owner key.
      0, 250, 0, 255, 0, 0, 0, 0,       // TSIG, class ANY, TTL 0
      0, 26,                            // RDLENGTH
      4, 'h', 'm', 'a', 'c', 0,         // algorithm
      0, 0, 0x65, 0, 0, 0, 1, 44,       // time signed, fudge 300
      0, 4, 1, 2, 3, 4,                 // MAC
      0x77, 0x77, 0, 0, 0, 0,           // original id, error, no other data
  };
  m.insert(m.end(), tsig.begin(), tsig.end());
  m[11] = 1;  // arcount
  return m;
}

/// Valid messages built with ldns: queries with and without EDNS, responses with
/// compressed names and many record types, a negative answer and a TSIG-signed query.
inline std::vector<Bytes> make_seeds() {
  std::vector<Bytes> seeds;
  seeds.push_back(to_wire(query("www.example.test.", LDNS_RR_TYPE_A, 0x1234).get()));
  auto edns = query("_http._tcp.Web.SVC.internal.", LDNS_RR_TYPE_SRV, 0x2345);
  add_edns(edns.get(), true);
  seeds.push_back(to_wire(edns.get()));
  auto plain_edns = query("a.b.c.d.e.f.g.example.test.", LDNS_RR_TYPE_AAAA, 0x3456);
  add_edns(plain_edns.get(), false);
  seeds.push_back(to_wire(plain_edns.get()));
  auto answer = response("web.svc.internal. IN A",
                         {"web.svc.internal. 30 IN A 192.0.2.1", "web.svc.internal. 30 IN A 192.0.2.2",
                          "web.svc.internal. 30 IN A 192.0.2.3"},
                         {"svc.internal. 3600 IN NS ns1.svc.internal."},
                         {"ns1.svc.internal. 3600 IN A 192.0.2.53", "ns1.svc.internal. 3600 IN AAAA 2001:db8::53"});
  add_edns(answer.get(), false);
  seeds.push_back(to_wire(answer.get()));
  seeds.push_back(to_wire(
      response("_web._tcp.svc.internal. IN SRV",
               {"_web._tcp.svc.internal. 30 IN SRV 10 60 8080 n1.node.svc.internal.",
                "_web._tcp.svc.internal. 30 IN SRV 10 40 8080 n2.node.svc.internal."},
               {}, {"n1.node.svc.internal. 30 IN A 192.0.2.11", "n2.node.svc.internal. 30 IN A 192.0.2.12"})
          .get()));
  seeds.push_back(to_wire(
      response("mixed.example.test. IN ANY",
               {"mixed.example.test. 60 IN CNAME target.example.test.",
                "mixed.example.test. 60 IN MX 10 mail.example.test.",
                "mixed.example.test. 60 IN TXT \"v=demo\" \"second string\"",
                "mixed.example.test. 60 IN PTR host.example.test.",
                "mixed.example.test. 60 IN HINFO \"cpu\" \"os\"",
                "mixed.example.test. 60 IN CAA 0 issue \"ca.example\"",
                "mixed.example.test. 60 IN NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:x@example.test!\" .",
                "mixed.example.test. 60 IN DS 12345 13 2 "
                "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE7D2E2E2E2E2E2E2E2E2E2E2E",
                "mixed.example.test. 60 IN TYPE65280 \\# 4 0A000001"},
               {}, {})
          .get()));
  seeds.push_back(to_wire(
      response("missing.example.test. IN A", {},
               {"example.test. 300 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 300"},
               {})
          .get()));
  seeds.push_back(tsig_query());
  return seeds;
}

/// Writes a compression pointer somewhere: to offset 0, into the header, backwards, to
/// itself, forwards or anywhere.
inline void plant_pointer(Bytes& m, Rng& rng) {
  if (m.size() < 2) return;
  const std::size_t at = rng.below(m.size() - 1);
  std::size_t target = 0;
  switch (rng.below(5)) {
    case 0: target = 0; break;
    case 1: target = rng.below(kHeaderSize); break;
    case 2: target = rng.below(at + 1); break;                   // backwards, or itself
    case 3: target = at + 1 + rng.below(m.size() - at); break;   // forwards
    default: target = rng.below(0x4000); break;
  }
  m[at] = static_cast<std::uint8_t>(0xC0 | ((target >> 8) & 0x3F));
  m[at + 1] = static_cast<std::uint8_t>(target);
}

/// Applies one random damage: a bit flip, a new octet, truncation, insertion, deletion,
/// a planted pointer, a changed count, a boundary value or trailing octets.
inline void mutate(Bytes& m, Rng& rng) {
  static constexpr std::uint8_t kInteresting[] = {0, 1, 63, 64, 0x7F, 0x80, 0xBF, 0xC0, 0xFF};
  const std::size_t at = rng.below(m.size());
  const auto pos = m.begin() + static_cast<std::ptrdiff_t>(at);
  switch (rng.below(9)) {
    case 0: if (!m.empty()) m[at] ^= static_cast<std::uint8_t>(1u << rng.below(8)); break;
    case 1: if (!m.empty()) m[at] = rng.octet(); break;
    case 2: m.resize(rng.below(m.size() + 1)); break;
    case 3: m.insert(pos, 1 + rng.below(4), rng.octet()); break;
    case 4: m.erase(pos, pos + static_cast<std::ptrdiff_t>(std::min(m.size() - at, 1 + rng.below(4)))); break;
    case 5: plant_pointer(m, rng); break;
    case 6:
      if (m.size() >= kHeaderSize) {
        const std::size_t field = 4 + 2 * rng.below(4);  // one of the four counts
        m[field] = 0;
        m[field + 1] = static_cast<std::uint8_t>(rng.chance(50) ? m[field + 1] + 1 : rng.below(5));
      }
      break;
    case 7: if (!m.empty()) m[at] = kInteresting[rng.below(sizeof kInteresting)]; break;
    default: for (std::size_t n = 1 + rng.below(6); n > 0; --n) m.push_back(rng.octet()); break;
  }
}

/// Appends a name of random labels ending in the root or in a pointer to an earlier name.
inline void put_name(Bytes& m, Rng& rng, std::vector<std::size_t>& starts) {
  starts.push_back(m.size());
  auto put_label = [&m, &rng](std::size_t length) {
    m.push_back(static_cast<std::uint8_t>(length));
    for (std::size_t i = 0; i < length; ++i) m.push_back(static_cast<std::uint8_t>('A' + rng.below(58)));
  };
  if (rng.chance(8)) {
    // Around the 255-octet limit: 200 to 263 octets of labels before the end.
    for (std::size_t budget = 200 + rng.below(64); budget > 1;) {
      const std::size_t length = std::min(budget - 1, 1 + rng.below(63));
      put_label(length);
      budget -= length + 1;
    }
  } else {
    for (std::size_t labels = rng.below(4); labels > 0; --labels) put_label(1 + rng.below(8));
  }
  if (starts.size() > 1 && rng.chance(50)) {
    const std::size_t target = starts[rng.below(starts.size() - 1)];
    m.push_back(static_cast<std::uint8_t>(0xC0 | (target >> 8)));
    m.push_back(static_cast<std::uint8_t>(target));
  } else {
    m.push_back(0);
  }
}

/// Appends a big-endian 16-bit value.
inline void put_u16(Bytes& m, std::size_t v) {
  m.push_back(static_cast<std::uint8_t>(v >> 8));
  m.push_back(static_cast<std::uint8_t>(v));
}

/// Appends RDLENGTH and RDATA: random octets, or data shaped for `type`.
inline void put_rdata(Bytes& m, Rng& rng, std::uint16_t type, std::vector<std::size_t>& starts) {
  const std::size_t length_at = m.size();
  put_u16(m, 0);
  if (rng.chance(50)) {
    for (std::size_t n = rng.below(24); n > 0; --n) m.push_back(rng.octet());
  } else if (type == rrtype::kA || type == rrtype::kAaaa) {
    for (std::size_t n = type == rrtype::kA ? 4 : 16; n > 0; --n) m.push_back(rng.octet());
  } else if (type == rrtype::kMx || type == rrtype::kSrv || type == rrtype::kNs || type == rrtype::kCname) {
    for (std::size_t n = type == rrtype::kMx ? 2 : type == rrtype::kSrv ? 6 : 0; n > 0; --n) m.push_back(rng.octet());
    put_name(m, rng, starts);
  } else {
    for (std::size_t n = rng.below(3); n > 0; --n) {  // character-strings, as in TXT
      const std::size_t length = rng.below(10);
      m.push_back(static_cast<std::uint8_t>(length));
      for (std::size_t i = 0; i < length; ++i) m.push_back(rng.octet());
    }
  }
  const std::size_t length = m.size() - length_at - 2;
  m[length_at] = static_cast<std::uint8_t>(length >> 8);
  m[length_at + 1] = static_cast<std::uint8_t>(length);
}

/// A message of random names, types and RDATA with consistent counts; sometimes OPT.
inline Bytes random_structured(Rng& rng) {
  static constexpr std::uint16_t kTypes[] = {1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 43, 46, 257, 65280, 4660};
  Bytes m;
  const std::size_t counts[] = {rng.below(3), rng.below(4), rng.below(3), rng.below(4)};
  put_u16(m, rng.below(0x10000));
  put_u16(m, rng.below(0x10000));
  for (const std::size_t c : counts) put_u16(m, c);
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < counts[0]; ++i) {
    put_name(m, rng, starts);
    put_u16(m, kTypes[rng.below(std::size(kTypes))]);
    put_u16(m, 1);
  }
  for (std::size_t i = 0; i < counts[1] + counts[2] + counts[3]; ++i) {
    const bool opt = i >= counts[1] + counts[2] && rng.chance(30);
    if (opt && rng.chance(80)) {
      m.push_back(0);
    } else {
      put_name(m, rng, starts);
    }
    const std::uint16_t type = opt ? rrtype::kOpt : kTypes[rng.below(std::size(kTypes))];
    put_u16(m, type);
    put_u16(m, opt ? 512 + rng.below(4096) : 1);
    put_u16(m, rng.below(0x10000));
    put_u16(m, rng.below(0x10000));
    put_rdata(m, rng, type, starts);
  }
  return m;
}

/// Random octets with small counts in the header, when there is one.
inline Bytes random_octets(Rng& rng) {
  Bytes m(rng.below(48));
  for (std::uint8_t& b : m) b = rng.octet();
  if (m.size() >= kHeaderSize) {
    for (std::size_t field = 4; field < kHeaderSize; field += 2) {
      m[field] = 0;
      m[field + 1] = static_cast<std::uint8_t>(rng.below(3));
    }
  }
  return m;
}

}  // namespace signpost::testing::messages
