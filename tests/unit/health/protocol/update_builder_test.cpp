// UPDATE building, with ldns as the oracle: every section, record, the OPT and the TSIG read
// back by ldns; then the server's own parser and verifier take what was built.
#include "health/protocol/update_builder.hpp"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "dns/wire/types.hpp"
#include "health/protocol/update_request.hpp"

namespace signpost::health {
namespace {

namespace wire = dns::wire;

constexpr const char* kSecret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==";
constexpr const char* kOtherSecret = "b3RoZXIgc2VjcmV0IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU=";
constexpr std::uint64_t kNow = 1'800'000'000;

struct PktFree {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

Pkt parse(const std::vector<std::uint8_t>& message) {
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, message.data(), message.size()) != LDNS_STATUS_OK) return nullptr;
  return Pkt(pkt);
}

std::string text_of(const ldns_rdf* rdf) {
  char* text = ldns_rdf2str(rdf);
  std::string out = text != nullptr ? text : "";
  std::free(text);
  return out;
}

std::vector<std::string> rrs_of(ldns_rr_list* list) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
    char* text = ldns_rr2str(ldns_rr_list_rr(list, i));
    std::string line = text != nullptr ? text : "";
    std::free(text);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    out.push_back(line);
  }
  return out;
}

bool ldns_verifies(const std::vector<std::uint8_t>& message, const char* secret) {
  Pkt pkt = parse(message);
  return pkt && ldns_pkt_tsig_verify(pkt.get(), message.data(), message.size(), "agent-key.",
                                     secret, nullptr);
}

TsigSigner signer(const char* algorithm = "hmac-sha256", const char* secret = kSecret) {
  return TsigSigner({make_tsig_key("agent-key", algorithm, secret, {})});
}

std::vector<std::uint8_t> bytes(std::initializer_list<std::uint8_t> list) { return list; }

std::vector<std::uint8_t> srv(std::string_view target) {
  std::vector<std::uint8_t> out;
  EXPECT_EQ(encode_srv_rdata(1, 5, 8080, target, out), UpdateBuildError::ok);
  return out;
}

// A registration with every kind of record the agent sends, a prerequisite of each form
// (RFC 2136 §2.4.4 and §2.4.2), names in mixed case and an IPv6 address.
SignedRequest build_full(const TsigSigner& with, std::uint16_t id = 0xBEEF) {
  UpdateBuilder update(id, "Svc.Internal.");
  const auto add = [&](UpdateSection section, const char* owner, std::uint16_t type,
                       std::uint16_t rrclass, std::uint32_t ttl,
                       const std::vector<std::uint8_t>& rdata) {
    EXPECT_TRUE(update.add(section, owner, type, rrclass, ttl, rdata)) << owner;
  };
  add(UpdateSection::prerequisite, "Host-1.Node.Svc.Internal.", wire::rrtype::kAny,
      wire::rrclass::kAny, 0, {});
  add(UpdateSection::prerequisite, "host-1.node.svc.internal.", wire::rrtype::kA,
      wire::rrclass::kIn, 0, bytes({127, 0, 0, 10}));
  add(UpdateSection::update, "Web-1._web._tcp.svc.internal.", wire::rrtype::kAny,
      wire::rrclass::kAny, 0, {});
  add(UpdateSection::update, "Web-1._web._tcp.svc.internal.", wire::rrtype::kSrv,
      wire::rrclass::kIn, 30, srv("Host-1.Node.Svc.Internal."));
  std::vector<std::uint8_t> txt;
  const std::vector<std::string> strings{"health=passing", "tags=a,b", ""};
  EXPECT_EQ(encode_txt_rdata(strings, txt), UpdateBuildError::ok);
  add(UpdateSection::update, "Web-1._web._tcp.svc.internal.", wire::rrtype::kTxt,
      wire::rrclass::kIn, 30, txt);
  for (const char* address : {"127.0.0.10", "2001:db8::1:0:0:10", "::ffff:10.0.0.1"}) {
    std::vector<std::uint8_t> rdata;
    std::uint16_t type = 0;
    EXPECT_EQ(encode_address_rdata(address, type, rdata), UpdateBuildError::ok) << address;
    add(UpdateSection::update, "Host-1.Node.Svc.Internal.", type, wire::rrclass::kIn, 30, rdata);
  }
  std::vector<std::uint8_t> ptr;
  EXPECT_EQ(encode_name_rdata("Web-1._web._tcp.svc.internal.", ptr), UpdateBuildError::ok);
  add(UpdateSection::update, "_web._tcp.svc.internal.", wire::rrtype::kPtr, wire::rrclass::kNone,
      0, ptr);
  update.set_lease(3600);
  SignedRequest out;
  EXPECT_EQ(update.finish(with, with.keys().front(), kNow, out), UpdateBuildError::ok);
  return out;
}

TEST(UpdateBuilder, LdnsReadsEverySection) {
  const TsigSigner key = signer();
  const SignedRequest request = build_full(key);
  Pkt pkt = parse(request.wire);
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), 0xBEEF);
  EXPECT_EQ(ldns_pkt_get_opcode(pkt.get()), LDNS_PACKET_UPDATE);
  EXPECT_FALSE(ldns_pkt_qr(pkt.get()));
  EXPECT_EQ(ldns_pkt_get_rcode(pkt.get()), 0);
  // Zone, prerequisite and update sections (RFC 2136 §2.3-2.5), the case kept as given.
  EXPECT_EQ(rrs_of(ldns_pkt_question(pkt.get())),
            std::vector<std::string>{"Svc.Internal.\tIN\tSOA"});
  EXPECT_EQ(rrs_of(ldns_pkt_answer(pkt.get())),
            (std::vector<std::string>{"Host-1.Node.Svc.Internal.\t0\tANY\tANY\t\\# 0",
                                      "host-1.node.svc.internal.\t0\tIN\tA\t127.0.0.10"}));
  EXPECT_EQ(rrs_of(ldns_pkt_authority(pkt.get())),
            (std::vector<std::string>{
                "Web-1._web._tcp.svc.internal.\t0\tANY\tANY\t\\# 0",
                "Web-1._web._tcp.svc.internal.\t30\tIN\tSRV\t1 5 8080 Host-1.Node.Svc.Internal.",
                "Web-1._web._tcp.svc.internal.\t30\tIN\tTXT\t\"health=passing\" \"tags=a,b\" \"\"",
                "Host-1.Node.Svc.Internal.\t30\tIN\tA\t127.0.0.10",
                "Host-1.Node.Svc.Internal.\t30\tIN\tAAAA\t2001:db8::1:0:0:10",
                "Host-1.Node.Svc.Internal.\t30\tIN\tAAAA\t::ffff:10.0.0.1",
                "_web._tcp.svc.internal.\t0\tNONE\tPTR\tWeb-1._web._tcp.svc.internal.",
            }));
  // ARCOUNT 2 on the wire: the OPT, then the TSIG (RFC 8945 §4.2: last).
  EXPECT_EQ(request.wire[10] << 8 | request.wire[11], 2);
  EXPECT_EQ(ldns_pkt_arcount(pkt.get()), 0);  // ldns takes both out of the section
}

TEST(UpdateBuilder, LdnsReadsTheLeaseOption) {
  const TsigSigner key = signer();
  Pkt pkt = parse(build_full(key).wire);
  ASSERT_TRUE(pkt);
  ASSERT_TRUE(ldns_pkt_edns(pkt.get()));
  EXPECT_EQ(ldns_pkt_edns_udp_size(pkt.get()), 1232);
  EXPECT_EQ(ldns_pkt_edns_version(pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_edns_extended_rcode(pkt.get()), 0);
  EXPECT_FALSE(ldns_pkt_edns_do(pkt.get()));
  const ldns_edns_option_list* options = ldns_pkt_edns_get_option_list(pkt.get());
  ASSERT_NE(options, nullptr);
  ASSERT_EQ(ldns_edns_option_list_get_count(options), 1u);
  const ldns_edns_option* lease = ldns_edns_option_list_get_option(options, 0);
  EXPECT_EQ(ldns_edns_get_code(lease), kUpdateLeaseOption);
  ASSERT_EQ(ldns_edns_get_size(lease), 4u);
  const std::uint8_t* data = ldns_edns_get_data(lease);
  EXPECT_EQ(data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3], 3600);
}

TEST(UpdateBuilder, LdnsReadsAndVerifiesTheTsig) {
  for (const char* algorithm : {"hmac-sha256", "hmac-sha512"}) {
    const TsigSigner key = signer(algorithm);
    const SignedRequest request = build_full(key, 4242);
    Pkt pkt = parse(request.wire);
    ASSERT_TRUE(pkt);
    const ldns_rr* tsig = ldns_pkt_tsig(pkt.get());
    ASSERT_NE(tsig, nullptr);
    EXPECT_EQ(ldns_rr_get_class(tsig), LDNS_RR_CLASS_ANY);
    EXPECT_EQ(ldns_rr_ttl(tsig), 0u);
    EXPECT_EQ(text_of(ldns_rr_owner(tsig)), "agent-key.");
    EXPECT_EQ(text_of(ldns_rr_rdf(tsig, 0)), std::string(algorithm) + ".");
    const std::uint8_t* time = ldns_rdf_data(ldns_rr_rdf(tsig, 1));
    std::uint64_t signed_at = 0;
    for (int i = 0; i < 6; ++i) signed_at = signed_at << 8 | time[i];
    EXPECT_EQ(signed_at, kNow);
    EXPECT_EQ(ldns_rdf2native_int16(ldns_rr_rdf(tsig, 2)), kTsigFudge);
    const ldns_rdf* mac = ldns_rr_rdf(tsig, 3);
    ASSERT_EQ(ldns_rdf_size(mac), 2 + request.mac.size());
    EXPECT_EQ(request.mac.size(), std::string(algorithm) == "hmac-sha256" ? 32u : 64u);
    EXPECT_TRUE(std::equal(request.mac.begin(), request.mac.end(), ldns_rdf_data(mac) + 2));
    EXPECT_EQ(ldns_rdf2native_int16(ldns_rr_rdf(tsig, 4)), 4242);  // original id
    EXPECT_EQ(ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5)), 0);     // error
    EXPECT_EQ(ldns_rdf_size(ldns_rr_rdf(tsig, 6)), 2u);           // other data: length 0
    // ldns checks its time against its own clock: sign at the current time for it.
    SignedRequest current;
    UpdateBuilder update(4242, "svc.internal.");
    update.set_lease(30);
    ASSERT_EQ(update.finish(key, key.keys().front(), static_cast<std::uint64_t>(std::time(nullptr)),
                            current),
              UpdateBuildError::ok);
    EXPECT_TRUE(ldns_verifies(current.wire, kSecret)) << algorithm;
    EXPECT_FALSE(ldns_verifies(current.wire, kOtherSecret)) << algorithm;
  }
}

// The round trip: what is built, the server parses to the same records and verifies with
// the same key; one octet changed anywhere before the MAC and it is BADSIG.
TEST(UpdateBuilder, TheServerParsesAndVerifiesIt) {
  const TsigSigner key = signer();
  const SignedRequest request = build_full(key);
  const TsigCheck check = key.verify(request.wire, kNow + 10);
  ASSERT_EQ(check.status, TsigCheck::Status::ok);
  EXPECT_EQ(check.mac, request.mac);
  EXPECT_EQ(check.original_id, 0xBEEF);
  UpdateRequest parsed;
  ASSERT_EQ(parse_update(request.wire, check.tsig_offset, parsed), wire::rcode::kNoError);
  EXPECT_EQ(parsed.id, 0xBEEF);
  EXPECT_EQ(parsed.zone, std::string("\x03svc\x08internal\x00", 14));  // folded by the server
  ASSERT_EQ(parsed.prerequisites.size(), 2u);
  EXPECT_EQ(parsed.prerequisites[0].rrclass, wire::rrclass::kAny);
  ASSERT_EQ(parsed.updates.size(), 7u);
  EXPECT_EQ(parsed.updates[1].type, wire::rrtype::kSrv);
  EXPECT_EQ(parsed.updates[1].target, std::string("\x06host-1\x04node\x03svc\x08internal\x00", 26));
  EXPECT_EQ(parsed.updates[4].type, wire::rrtype::kAaaa);
  EXPECT_EQ(parsed.updates[4].rdata,
            bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x10}));
  EXPECT_EQ(parsed.updates[6].rrclass, wire::rrclass::kNone);
  EXPECT_TRUE(parsed.edns);
  EXPECT_EQ(parsed.lease, 3600u);

  for (std::size_t at = 12; at < check.tsig_offset; at += 7) {
    std::vector<std::uint8_t> tampered = request.wire;
    tampered[at] ^= 0x20;
    const TsigCheck bad = key.verify(tampered, kNow);
    // A changed octet may break the structure (malformed) or not (BADSIG); never ok.
    EXPECT_NE(bad.status, TsigCheck::Status::ok) << "octet " << at;
    if (at > 40 && at < 60) {
      EXPECT_EQ(bad.status, TsigCheck::Status::bad_sig) << "octet " << at;
    }
  }
  EXPECT_EQ(signer("hmac-sha256", kOtherSecret).verify(request.wire, kNow).status,
            TsigCheck::Status::bad_sig);
}

TEST(UpdateBuilder, TxtStringsUpTo255Octets) {
  std::vector<std::uint8_t> rdata;
  const std::vector<std::string> longest{std::string(255, 'x'), "k=" + std::string(253, 'v')};
  ASSERT_EQ(encode_txt_rdata(longest, rdata), UpdateBuildError::ok);
  EXPECT_EQ(rdata.size(), 512u);
  UpdateBuilder update(1, "svc.internal.");
  ASSERT_TRUE(update.add(UpdateSection::update, "web-1._web._tcp.svc.internal.",
                         wire::rrtype::kTxt, wire::rrclass::kIn, 30, rdata));
  const TsigSigner key = signer();
  SignedRequest request;
  ASSERT_EQ(update.finish(key, key.keys().front(), kNow, request), UpdateBuildError::ok);
  Pkt pkt = parse(request.wire);
  ASSERT_TRUE(pkt);
  const ldns_rr* txt = ldns_rr_list_rr(ldns_pkt_authority(pkt.get()), 0);
  ASSERT_EQ(ldns_rr_rd_count(txt), 2u);
  EXPECT_EQ(text_of(ldns_rr_rdf(txt, 0)), "\"" + longest[0] + "\"");
  EXPECT_EQ(text_of(ldns_rr_rdf(txt, 1)), "\"" + longest[1] + "\"");

  std::vector<std::uint8_t> unchanged = {9};
  EXPECT_EQ(encode_txt_rdata(std::vector<std::string>{std::string(256, 'x')}, unchanged),
            UpdateBuildError::bad_string);
  EXPECT_EQ(unchanged, bytes({9}));
  std::vector<std::uint8_t> empty;
  EXPECT_EQ(encode_txt_rdata({}, empty), UpdateBuildError::ok);
  EXPECT_EQ(empty, bytes({0}));  // TXT holds at least one string
}

// TXT rdata of `octets` octets: strings of 255, then the rest (`octets` % 256 > 0).
std::vector<std::uint8_t> txt_of_size(std::size_t octets) {
  std::vector<std::string> strings(octets / 256, std::string(255, 't'));
  strings.push_back(std::string(octets % 256 - 1, 'r'));
  std::vector<std::uint8_t> rdata;
  EXPECT_EQ(encode_txt_rdata(strings, rdata), UpdateBuildError::ok);
  EXPECT_EQ(rdata.size(), octets);
  return rdata;
}

TEST(UpdateBuilder, RefusesMessagesOver65535Octets) {
  const TsigSigner key = signer();
  SignedRequest request;
  {
    // Records that do not fit: the second is refused, and so is everything after it.
    UpdateBuilder update(1, "svc.internal.");
    const auto big = txt_of_size(65'000);
    EXPECT_TRUE(update.add(UpdateSection::update, "a.svc.internal.", wire::rrtype::kTxt,
                           wire::rrclass::kIn, 30, big));
    EXPECT_FALSE(update.add(UpdateSection::update, "b.svc.internal.", wire::rrtype::kTxt,
                            wire::rrclass::kIn, 30, big));
    EXPECT_EQ(update.error(), UpdateBuildError::too_large);
    EXPECT_EQ(update.error_text(), "b.svc.internal.");
    EXPECT_FALSE(update.add(UpdateSection::update, "c.svc.internal.", wire::rrtype::kA,
                            wire::rrclass::kIn, 30, bytes({1, 2, 3, 4})));
    EXPECT_EQ(update.finish(key, key.keys().front(), kNow, request), UpdateBuildError::too_large);
    EXPECT_TRUE(request.wire.empty());
  }
  {
    // Records that fit with 20 octets to spare, which neither the OPT (23) nor the TSIG does.
    // Header 12, zone 18, owner 16 and fixed fields 10: the rdata has the rest.
    const std::size_t rdata = 65'535 - 20 - 12 - 18 - 16 - 10;
    for (const bool lease : {true, false}) {
      UpdateBuilder update(1, "svc.internal.");
      EXPECT_TRUE(update.add(UpdateSection::update, "a.svc.internal.", wire::rrtype::kTxt,
                             wire::rrclass::kIn, 30, txt_of_size(rdata)));
      if (lease) update.set_lease(30);
      EXPECT_EQ(update.finish(key, key.keys().front(), kNow, request), UpdateBuildError::too_large);
      EXPECT_TRUE(request.wire.empty());
    }
  }
  // Rdata over 65,535 octets cannot be given a length at all.
  UpdateBuilder update(1, "svc.internal.");
  EXPECT_FALSE(update.add(UpdateSection::update, "a.svc.internal.", wire::rrtype::kTxt,
                          wire::rrclass::kIn, 30, std::vector<std::uint8_t>(70'000, 1)));
  EXPECT_EQ(update.error(), UpdateBuildError::too_large);
}

TEST(UpdateBuilder, BadInputIsAnErrorNamingIt) {
  const TsigSigner key = signer();
  SignedRequest request;
  UpdateBuilder bad_zone(1, "svc..internal.");
  EXPECT_EQ(bad_zone.error(), UpdateBuildError::bad_name);
  EXPECT_EQ(bad_zone.error_text(), "svc..internal.");
  EXPECT_EQ(bad_zone.finish(key, key.keys().front(), kNow, request), UpdateBuildError::bad_name);

  UpdateBuilder update(1, "svc.internal.");
  EXPECT_FALSE(update.add(UpdateSection::update, std::string(64, 'a') + ".svc.internal.",
                          wire::rrtype::kA, wire::rrclass::kIn, 30, bytes({1, 2, 3, 4})));
  EXPECT_EQ(update.error(), UpdateBuildError::bad_name);

  UpdateBuilder order(1, "svc.internal.");
  EXPECT_TRUE(order.add(UpdateSection::update, "a.svc.internal.", wire::rrtype::kAny,
                        wire::rrclass::kAny, 0, {}));
  EXPECT_FALSE(order.add(UpdateSection::prerequisite, "b.svc.internal.", wire::rrtype::kAny,
                         wire::rrclass::kAny, 0, {}));
  EXPECT_EQ(order.error(), UpdateBuildError::section_order);

  UpdateBuilder foreign(1, "svc.internal.");
  const TsigSigner other = signer();
  EXPECT_EQ(foreign.finish(key, other.keys().front(), kNow, request), UpdateBuildError::bad_key);

  UpdateBuilder twice(1, "svc.internal.");
  ASSERT_EQ(twice.finish(key, key.keys().front(), kNow, request), UpdateBuildError::ok);
  EXPECT_EQ(twice.finish(key, key.keys().front(), kNow, request), UpdateBuildError::finished);

  std::vector<std::uint8_t> rdata;
  std::uint16_t type = 0;
  for (const char* address : {"300.1.1.1", "host.example", "1.2.3", "::1::2", "", "10.0.0.1 "}) {
    EXPECT_EQ(encode_address_rdata(address, type, rdata), UpdateBuildError::bad_address)
        << address;
  }
  EXPECT_EQ(encode_address_rdata(std::string("10.0.0.1\0x", 10), type, rdata),
            UpdateBuildError::bad_address);
  EXPECT_TRUE(rdata.empty());
  EXPECT_EQ(encode_srv_rdata(0, 0, 1, "a..b.", rdata), UpdateBuildError::bad_name);
  EXPECT_TRUE(rdata.empty());
  EXPECT_EQ(encode_name_rdata("", rdata), UpdateBuildError::bad_name);
}

}  // namespace
}  // namespace signpost::health
