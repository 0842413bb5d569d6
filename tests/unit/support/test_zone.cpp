// Builds small zones and raw queries for unit tests.
#include "tests/unit/support/test_zone.hpp"

#include <stdexcept>

#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::testing {

namespace rrtype = dns::wire::rrtype;

std::string wire_name(std::string_view text) {
  std::string out;
  if (!dns::wire::name_from_text(text, out)) throw std::invalid_argument(std::string(text));
  return out;
}

std::vector<std::uint8_t> a_rdata(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return {a, b, c, d};
}

std::vector<std::uint8_t> name_rdata(std::string_view text, std::uint16_t prefix_u16,
                                     bool with_prefix) {
  std::vector<std::uint8_t> out;
  if (with_prefix) {
    out.push_back(static_cast<std::uint8_t>(prefix_u16 >> 8));
    out.push_back(static_cast<std::uint8_t>(prefix_u16));
  }
  const std::string name = wire_name(text);
  out.insert(out.end(), name.begin(), name.end());
  return out;
}

std::vector<std::uint8_t> soa_rdata(std::string_view origin, std::uint32_t serial,
                                    std::uint32_t minimum) {
  std::vector<std::uint8_t> out = name_rdata("ns." + std::string(origin));
  const auto rname = name_rdata("hostmaster." + std::string(origin));
  out.insert(out.end(), rname.begin(), rname.end());
  for (const std::uint32_t v : {serial, 3600u, 600u, 86400u, minimum}) {
    std::uint8_t b[4];
    dns::wire::store_u32(b, v);
    out.insert(out.end(), b, b + 4);
  }
  return out;
}

std::shared_ptr<const dns::zone::Zone> example_zone() {
  dns::zone::ZoneBuilder b(wire_name("example.test."));
  auto add = [&b](std::string_view owner, std::uint16_t type, std::uint32_t ttl,
                  const std::vector<std::uint8_t>& rdata) { b.add(wire_name(owner), type, ttl, rdata); };
  add("example.test.", rrtype::kSoa, 3600, soa_rdata("example.test.", 2026112801, 300));
  add("example.test.", rrtype::kNs, 3600, name_rdata("ns.example.test."));
  add("ns.example.test.", rrtype::kA, 3600, a_rdata(192, 0, 2, 1));
  add("www.example.test.", rrtype::kA, 300, a_rdata(192, 0, 2, 10));
  add("www.example.test.", rrtype::kA, 300, a_rdata(192, 0, 2, 11));
  add("www.example.test.", rrtype::kAaaa, 300,
      {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10});
  add("alias.example.test.", rrtype::kCname, 300, name_rdata("www.example.test."));
  add("chain1.example.test.", rrtype::kCname, 300, name_rdata("Alias.example.test."));
  add("outside.example.test.", rrtype::kCname, 300, name_rdata("www.elsewhere.invalid."));
  add("mx.example.test.", rrtype::kMx, 300, name_rdata("mail.example.test.", 10, true));
  add("mail.example.test.", rrtype::kA, 300, a_rdata(192, 0, 2, 25));
  add("*.wild.example.test.", rrtype::kA, 300, a_rdata(192, 0, 2, 99));
  add("a.b.example.test.", rrtype::kTxt, 300, {5, 'h', 'e', 'l', 'l', 'o'});
  add("sub.example.test.", rrtype::kNs, 3600, name_rdata("ns.sub.example.test."));
  add("ns.sub.example.test.", rrtype::kA, 3600, a_rdata(192, 0, 2, 53));
  for (int i = 0; i < 100; ++i) {
    add("big.example.test.", rrtype::kA, 300, a_rdata(10, 0, static_cast<std::uint8_t>(i / 256),
                                                      static_cast<std::uint8_t>(i % 256)));
  }
  return b.build();
}

std::vector<std::uint8_t> make_query(std::string_view name, std::uint16_t qtype,
                                     const QueryOptions& options) {
  std::vector<std::uint8_t> q(12, 0);
  dns::wire::store_u16(q.data(), options.id);
  dns::wire::store_u16(q.data() + 2, options.flags);
  dns::wire::store_u16(q.data() + 4, 1);
  dns::wire::store_u16(q.data() + 10, options.edns ? 1 : 0);
  const std::string wire = wire_name(name);
  q.insert(q.end(), wire.begin(), wire.end());
  for (const std::uint16_t v : {qtype, options.qclass}) {
    q.push_back(static_cast<std::uint8_t>(v >> 8));
    q.push_back(static_cast<std::uint8_t>(v));
  }
  if (options.edns) {
    const std::uint8_t opt[] = {0, 0, 41, static_cast<std::uint8_t>(options.udp_size >> 8),
                                static_cast<std::uint8_t>(options.udp_size), 0, options.edns_version,
                                0, 0, 0, 0};
    q.insert(q.end(), opt, opt + sizeof opt);
  }
  return q;
}

std::vector<std::uint8_t> with_tsig(std::vector<std::uint8_t> message) {
  const std::uint8_t record[] = {
      3, 'k', 'e', 'y', 0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 29,  // key., TSIG, ANY, TTL 0
      11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0,
      0, 0, 0, 0, 0, 1, 1, 44, 0, 0,                       // time, fudge 300, MAC size 0
      message[0], message[1], 0, 0, 0, 0};                 // original ID, error, other length
  message.insert(message.end(), record, record + sizeof record);
  dns::wire::store_u16(message.data() + 10,
                       static_cast<std::uint16_t>(dns::wire::load_u16(message.data() + 10) + 1));
  return message;
}

}  // namespace signpost::testing
