// Zone transfer out: AXFR and IXFR answers checked record by record with ldns as the
// oracle, the transfer rules, TSIG on every message, and the journal's bounds.
#include "dns/xfr/transfer_server.hpp"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"
#include "dns/xfr/transfer_request.hpp"
#include "dns/xfr/zone_journal.hpp"
#include "registry/registry_zone.hpp"
#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::xfr {
namespace {

using testing::TestRegistry;
using testing::instance;
using testing::wire_name;

const char* kSecret = "eGZyIGtleSBmb3IgdGhlIHNlY29uZGFyeSB0ZXN0cyAwMTI=";

// A snapshot of `registry` whose registry zone has `serial`.
registry::SnapshotPtr snapshot_at(TestRegistry& registry, std::uint32_t serial) {
  const registry::SnapshotPtr base = registry.publish();
  registry::RegistryZoneSettings apex;
  apex.domain = wire_name("svc.internal.");
  apex.serial = serial;
  apex.ns_addresses.push_back({127, 0, 0, 1});
  return std::make_shared<const registry::Snapshot>(
      std::vector<std::shared_ptr<const zone::Zone>>{registry::build_registry_zone(apex),
                                                     testing::example_zone()},
      serial, base->registry_ptr());
}

TransferPolicy policy(const std::string& zone, const std::string& key = "") {
  TransferPolicy out;
  out.zone = wire_name(zone);
  out.zone_text = zone;
  out.allow.push_back(*parse_prefix("127.0.0.0/8"));
  if (!key.empty()) out.key = wire_name(key);
  return out;
}

TransferSettings settings(std::vector<TransferPolicy> policies, std::size_t diffs = 100) {
  TransferSettings out;
  out.policies = std::move(policies);
  out.keys.push_back(health::make_tsig_key("xfr.", "hmac-sha256", kSecret, {}));
  out.journal_diffs = diffs;
  return out;
}

std::vector<std::uint8_t> request(const std::string& zone, std::uint16_t qtype,
                                  std::uint32_t client_serial = 0) {
  ldns_pkt* pkt = nullptr;
  ldns_pkt_query_new_frm_str(&pkt, zone.c_str(), static_cast<ldns_rr_type>(qtype), LDNS_RR_CLASS_IN, 0);
  if (qtype == wire::rrtype::kIxfr) {
    ldns_rr* soa = nullptr;
    const std::string text = zone + " 0 IN SOA ns." + zone + " h." + zone + " " +
                             std::to_string(client_serial) + " 1 1 1 1";
    ldns_rr_new_frm_str(&soa, text.c_str(), 0, nullptr, nullptr);
    ldns_pkt_push_rr(pkt, LDNS_SECTION_AUTHORITY, soa);
  }
  ldns_pkt_set_id(pkt, 4242);
  std::uint8_t* data = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&data, pkt, &size), LDNS_STATUS_OK);
  std::vector<std::uint8_t> out(data, data + size);
  LDNS_FREE(data);
  ldns_pkt_free(pkt);
  return out;
}

// The messages of a framed response, each parsed by ldns.
struct Parsed {
  std::vector<std::vector<std::uint8_t>> messages;
  std::vector<std::string> records;  // every answer RR, in order, as ldns prints it
  std::uint16_t rcode = 0;
  std::size_t octets = 0;               // of the messages
  std::size_t uncompressed_octets = 0;  // of the answer RRs, each written out in full
};

Parsed parse(const std::vector<std::uint8_t>& framed) {
  Parsed out;
  std::size_t at = 0;
  while (at + 2 <= framed.size()) {
    const std::size_t length = wire::load_u16(framed.data() + at);
    EXPECT_LE(at + 2 + length, framed.size());
    out.messages.emplace_back(framed.begin() + at + 2, framed.begin() + at + 2 + length);
    out.octets += length;
    at += 2 + length;
    ldns_pkt* pkt = nullptr;
    EXPECT_EQ(ldns_wire2pkt(&pkt, out.messages.back().data(), length), LDNS_STATUS_OK);
    if (pkt == nullptr) break;
    EXPECT_EQ(ldns_pkt_id(pkt), 4242);
    EXPECT_TRUE(ldns_pkt_qr(pkt));
    out.rcode = ldns_pkt_get_rcode(pkt);
    const ldns_rr_list* answer = ldns_pkt_answer(pkt);
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
      out.uncompressed_octets += ldns_rr_uncompressed_size(ldns_rr_list_rr(answer, i));
      char* text = ldns_rr2str(ldns_rr_list_rr(answer, i));
      out.records.emplace_back(text);
      out.records.back().pop_back();  // the newline
      free(text);
    }
    ldns_pkt_free(pkt);
  }
  EXPECT_EQ(at, framed.size());
  return out;
}

bool is_soa(const std::string& record, std::uint32_t serial) {
  return record.find("\tSOA\t") != std::string::npos &&
         record.find(" " + std::to_string(serial) + " ") != std::string::npos;
}

std::size_t count_containing(const std::vector<std::string>& records, const std::string& part) {
  std::size_t n = 0;
  for (const auto& r : records) n += r.find(part) != std::string::npos;
  return n;
}

TEST(TransferServer, AxfrOfTheRegistryHasEveryNameBetweenTwoSoas) {
  TestRegistry registry;
  registry.store.put_instance(instance("web", "web-1", "host-a", 1, 1, true));
  registry.store.put_instance(instance("web", "web-2", "host-b", 2));
  TransferServer server(settings({policy("svc.internal.")}), [](const std::string&) {});
  server.published(snapshot_at(registry, 7));
  const Parsed out = parse(server.respond(request("svc.internal.", wire::rrtype::kAxfr), "127.0.0.1"));
  ASSERT_EQ(out.rcode, 0);
  ASSERT_GE(out.records.size(), 3u);
  EXPECT_TRUE(is_soa(out.records.front(), 7));
  EXPECT_TRUE(is_soa(out.records.back(), 7));
  EXPECT_EQ(count_containing(out.records, "\tSOA\t"), 2u);
  const auto& r = out.records;
  EXPECT_EQ(count_containing(r, "web.svc.internal.\t5\tIN\tA\t10.0.0."), 2u);
  EXPECT_EQ(count_containing(r, "web.svc.internal.\t5\tIN\tAAAA\t"), 1u);
  EXPECT_EQ(count_containing(r, "_web._tcp.svc.internal.\t5\tIN\tPTR\tweb-1._web._tcp.svc.internal."), 1u);
  EXPECT_EQ(count_containing(r, "web-2._web._tcp.svc.internal.\t5\tIN\tSRV\t"), 1u);
  EXPECT_EQ(count_containing(r, "web-2._web._tcp.svc.internal.\t5\tIN\tTXT\t"), 1u);
  EXPECT_EQ(count_containing(r, "host-a.node.svc.internal.\t5\tIN\tA\t10.0.0.1"), 1u);
  EXPECT_EQ(count_containing(r, "_services._dns-sd._udp.svc.internal.\t5\tIN\tPTR\t_web._tcp"), 1u);
  EXPECT_EQ(count_containing(r, "svc.internal.\t5\tIN\tNS\t"), 1u);
  EXPECT_EQ(server.counters().of(TransferType::axfr, TransferResult::ok), 1u);
}

TEST(TransferServer, LargeZoneTakesSeveralMessagesEachWithinSixteenKiB) {
  TestRegistry registry;
  for (int i = 0; i < 3000; ++i) {
    registry.store.put_instance(instance("bulk", "b" + std::to_string(i), "n" + std::to_string(i),
                                         static_cast<std::uint8_t>(i % 250 + 1)));
  }
  TransferServer server(settings({policy("svc.internal.")}), [](const std::string&) {});
  server.published(snapshot_at(registry, 9));
  const Parsed out = parse(server.respond(request("svc.internal.", wire::rrtype::kAxfr), "127.0.0.1"));
  EXPECT_GT(out.messages.size(), 2u);
  for (const auto& message : out.messages) EXPECT_LE(message.size(), 16384u);
  EXPECT_EQ(count_containing(out.records, "._bulk._tcp.svc.internal.\t5\tIN\tTXT"), 3000u);
  const std::set<std::string> unique(out.records.begin() + 1, out.records.end() - 1);
  EXPECT_EQ(unique.size(), out.records.size() - 2);  // no record twice
  EXPECT_TRUE(is_soa(out.records.back(), 9));
  // Owners are compressed: every one ends in the apex, most share more (RFC 1035 §4.1.4).
  EXPECT_LT(out.octets * 10, out.uncompressed_octets * 7);
}

// The end of the (possibly compressed) name at `at`: past its root label or its pointer.
std::size_t skip_name(const std::vector<std::uint8_t>& message, std::size_t at) {
  while (at < message.size() && message[at] != 0 && (message[at] & 0xc0) == 0) at += 1 + message[at];
  return at < message.size() && (message[at] & 0xc0) == 0xc0 ? at + 2 : at + 1;
}

TEST(TransferServer, PtrTargetsAreCompressedAndSrvTargetsAreNot) {
  TestRegistry registry;
  for (int i = 0; i < 50; ++i) {
    registry.store.put_instance(instance("web", "w" + std::to_string(i), "n" + std::to_string(i),
                                         static_cast<std::uint8_t>(i + 1)));
  }
  TransferServer server(settings({policy("svc.internal.")}), [](const std::string&) {});
  server.published(snapshot_at(registry, 9));
  const Parsed out = parse(server.respond(request("svc.internal.", wire::rrtype::kAxfr), "127.0.0.1"));
  EXPECT_EQ(count_containing(out.records, "\tPTR\tw"), 50u);  // ldns reads them back whole
  std::size_t ptrs = 0;
  std::size_t srvs = 0;
  for (std::size_t m = 0; m < out.messages.size(); ++m) {
    const std::vector<std::uint8_t>& message = out.messages[m];
    std::size_t at = wire::kHeaderSize;
    if (m == 0) at = skip_name(message, at) + 4;  // the question
    for (std::uint16_t rr = 0; rr < wire::load_u16(message.data() + 6); ++rr) {
      at = skip_name(message, at);
      const std::uint16_t type = wire::load_u16(message.data() + at);
      const std::uint16_t rdlength = wire::load_u16(message.data() + at + 8);
      const std::uint8_t* rdata = message.data() + at + 10;
      if (type == wire::rrtype::kPtr) {
        // Its name ends in a pointer to one already in the message (RFC 1035 §4.1.4).
        ++ptrs;
        const std::size_t end = skip_name(message, at + 10);
        EXPECT_EQ(end, at + 10 + rdlength);
        EXPECT_EQ(message[end - 2] & 0xc0, 0xc0);
      }
      if (type == wire::rrtype::kSrv) {
        ++srvs;
        // Priority, weight, port, then the target in full (RFC 2782): it ends in a root label.
        EXPECT_EQ(rdata[rdlength - 1], 0);
      }
      at += 10 + rdlength;
    }
    EXPECT_EQ(at, message.size());
  }
  EXPECT_EQ(ptrs, 51u);  // the 50 instances, and _web._tcp in the service type list
  EXPECT_EQ(srvs, 150u);  // at web, at _web._tcp and at each instance
}

TEST(TransferServer, RulesRefuseOtherAddressesZonesAndUnsignedRequests) {
  TestRegistry registry;
  TransferServer server(settings({policy("svc.internal.", "xfr.")}), [](const std::string&) {});
  server.published(snapshot_at(registry, 7));
  const auto refused = [&](const std::vector<std::uint8_t>& message, const std::string& from) {
    return parse(server.respond(message, from)).rcode;
  };
  EXPECT_EQ(refused(request("svc.internal.", wire::rrtype::kAxfr), "127.0.0.1"), wire::rcode::kRefused);
  EXPECT_EQ(refused(request("example.test.", wire::rrtype::kAxfr), "127.0.0.1"), wire::rcode::kRefused);
  health::TsigSigner signer({health::make_tsig_key("xfr.", "hmac-sha256", kSecret, {})});
  auto signed_request = request("svc.internal.", wire::rrtype::kAxfr);
  signer.sign_request(signed_request, signer.keys()[0], static_cast<std::uint64_t>(std::time(nullptr)));
  EXPECT_EQ(refused(signed_request, "192.0.2.1"), wire::rcode::kRefused);
  EXPECT_EQ(refused(signed_request, "127.0.0.1"), wire::rcode::kNoError);
  signed_request[signed_request.size() - 10] ^= 1;  // inside the MAC
  EXPECT_EQ(refused(signed_request, "127.0.0.1"), wire::rcode::kNotAuth);
  EXPECT_EQ(server.counters().of(TransferType::axfr, TransferResult::refused), 3u);
  EXPECT_EQ(server.counters().of(TransferType::axfr, TransferResult::notauth), 1u);
  EXPECT_EQ(server.counters().of(TransferType::axfr, TransferResult::ok), 1u);
}

TEST(TransferServer, EveryMessageOfASignedTransferCarriesATsig) {
  TestRegistry registry;
  for (int i = 0; i < 2000; ++i) {
    registry.store.put_instance(instance("bulk", "b" + std::to_string(i), "n" + std::to_string(i), 1));
  }
  TransferServer server(settings({policy("svc.internal.", "xfr.")}), [](const std::string&) {});
  server.published(snapshot_at(registry, 7));
  health::TsigSigner signer({health::make_tsig_key("xfr.", "hmac-sha256", kSecret, {})});
  auto message = request("svc.internal.", wire::rrtype::kAxfr);
  const auto request_mac = signer.sign_request(message, signer.keys()[0], static_cast<std::uint64_t>(std::time(nullptr)));
  const Parsed out = parse(server.respond(message, "127.0.0.1"));
  ASSERT_GT(out.messages.size(), 1u);
  for (const auto& m : out.messages) EXPECT_EQ(wire::load_u16(m.data() + 10), 1u);  // ARCOUNT: TSIG
  // The first verifies as a response to the request (RFC 8945 §5.3).
  const auto check = signer.verify_response(out.messages.front(), request_mac,
                                            static_cast<std::uint64_t>(std::time(nullptr)));
  EXPECT_EQ(check.status, health::TsigCheck::Status::ok);
}

TEST(TransferServer, IxfrSendsTheJournalsDiffsOrTheSoaOrTheWholeZone) {
  TestRegistry registry;
  registry.store.put_instance(instance("web", "web-1", "host-a", 1));
  TransferServer server(settings({policy("svc.internal.")}), [](const std::string&) {});
  server.published(snapshot_at(registry, 7));
  EXPECT_EQ(parse(server.respond(request("svc.internal.", wire::rrtype::kAxfr), "127.0.0.1")).rcode, 0);
  registry.store.put_instance(instance("web", "web-2", "host-b", 2));
  server.published(snapshot_at(registry, 8));
  // A request looks at the newest snapshot first: 8 is journaled before 9 is published
  // (snapshots published between two looks make one change).
  EXPECT_EQ(parse(server.respond(request("svc.internal.", wire::rrtype::kIxfr, 8), "127.0.0.1")).rcode, 0);
  registry.store.remove_instance("web", "web-1");
  server.published(snapshot_at(registry, 9));

  const Parsed current = parse(server.respond(request("svc.internal.", wire::rrtype::kIxfr, 9), "127.0.0.1"));
  ASSERT_EQ(current.records.size(), 1u);
  EXPECT_TRUE(is_soa(current.records[0], 9));

  const Parsed diff = parse(server.respond(request("svc.internal.", wire::rrtype::kIxfr, 7), "127.0.0.1"));
  ASSERT_GE(diff.records.size(), 6u);
  // SOA 9, then SOA 7, deleted, SOA 8, added, SOA 8, deleted, SOA 9, added, and SOA 9.
  std::vector<std::uint32_t> soas;
  for (const auto& r : diff.records) {
    for (std::uint32_t s : {7u, 8u, 9u}) {
      if (is_soa(r, s)) soas.push_back(s);
    }
  }
  EXPECT_EQ(soas, (std::vector<std::uint32_t>{9, 7, 8, 8, 9, 9}));
  EXPECT_EQ(count_containing(diff.records, "web-2._web._tcp.svc.internal.\t5\tIN\tSRV"), 1u);
  EXPECT_EQ(count_containing(diff.records, "web-1._web._tcp.svc.internal.\t5\tIN\tSRV"), 1u);

  const Parsed whole = parse(server.respond(request("svc.internal.", wire::rrtype::kIxfr, 3), "127.0.0.1"));
  EXPECT_EQ(count_containing(whole.records, "\tSOA\t"), 2u);  // AXFR form (RFC 1995 §4)
  EXPECT_EQ(count_containing(whole.records, "web-1._web"), 0u);
  EXPECT_EQ(count_containing(whole.records, "web-2._web._tcp.svc.internal.\t5\tIN\tSRV"), 1u);
}

TEST(TransferServer, IxfrOverUdpIsTheSoaWhenCurrentAndTruncatedOtherwise) {
  TestRegistry registry;
  TransferServer server(settings({policy("svc.internal.")}), [](const std::string&) {});
  server.published(snapshot_at(registry, 7));
  std::vector<std::uint8_t> out(512);
  const auto answer = [&](std::uint32_t serial, const std::string& from) {
    const std::size_t length =
        server.answer_datagram(request("svc.internal.", wire::rrtype::kIxfr, serial), out, from);
    std::vector<std::uint8_t> framed{static_cast<std::uint8_t>(length >> 8),
                                     static_cast<std::uint8_t>(length)};
    framed.insert(framed.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(length));
    return parse(framed);
  };
  const Parsed current = answer(7, "127.0.0.1");
  ASSERT_EQ(current.records.size(), 1u);
  EXPECT_TRUE(is_soa(current.records[0], 7));
  EXPECT_EQ(wire::load_u16(current.messages[0].data() + 2) & wire::flag::kTc, 0);
  const Parsed behind = answer(5, "127.0.0.1");
  EXPECT_TRUE(behind.records.empty());
  EXPECT_NE(wire::load_u16(behind.messages[0].data() + 2) & wire::flag::kTc, 0);
  EXPECT_EQ(answer(7, "192.0.2.1").rcode, wire::rcode::kRefused);
}

TEST(ZoneJournal, DropsTheOldestDiffsPastItsBound) {
  TestRegistry registry;
  ZoneJournal journal(2, std::size_t{1} << 20);
  for (std::uint32_t serial = 1; serial <= 5; ++serial) {
    registry.store.put_instance(instance("web", "r" + std::to_string(serial),
                                         "host-" + std::to_string(serial),
                                         static_cast<std::uint8_t>(serial)));
    const registry::SnapshotPtr snapshot = snapshot_at(registry, serial);
    EXPECT_TRUE(journal.record(
        std::make_shared<const ZoneContent>(zone_version(snapshot, *snapshot->registry_zone()))));
  }
  EXPECT_EQ(journal.diff_count(), 2u);
  EXPECT_TRUE(journal.changes_since(2).empty());  // dropped: the whole zone instead
  const auto chain = journal.changes_since(3);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0]->from_serial(), 3u);
  EXPECT_EQ(chain[1]->from_serial(), 4u);
  EXPECT_TRUE(chain[1]->deleted.empty());
  // r5: A and SRV at web, SRV and PTR at _web._tcp, SRV and TXT as a DNS-SD instance, and
  // its node's A.
  EXPECT_EQ(chain[1]->added.size(), 7u);
}

TEST(TransferRequest, MalformedRequestsAreFormerrAndNeverRead) {
  TransferRequest out;
  auto axfr = request("svc.internal.", wire::rrtype::kAxfr);
  EXPECT_EQ(parse_transfer_request(axfr, out), RequestStatus::ok);
  EXPECT_EQ(out.zone, wire_name("svc.internal."));
  auto cut = axfr;
  cut.pop_back();
  EXPECT_EQ(parse_transfer_request(cut, out), RequestStatus::formerr);
  auto trailing = axfr;
  trailing.push_back(0);
  EXPECT_EQ(parse_transfer_request(trailing, out), RequestStatus::formerr);
  auto ixfr_without_soa = request("svc.internal.", wire::rrtype::kIxfr, 5);
  ixfr_without_soa[9] = 0;  // NSCOUNT 0: the SOA is now trailing data
  EXPECT_EQ(parse_transfer_request(ixfr_without_soa, out), RequestStatus::formerr);
  auto ixfr = request("svc.internal.", wire::rrtype::kIxfr, 5);
  EXPECT_EQ(parse_transfer_request(ixfr, out), RequestStatus::ok);
  EXPECT_EQ(out.client_serial, 5u);
  EXPECT_EQ(parse_transfer_request(request("svc.internal.", wire::rrtype::kA), out),
            RequestStatus::not_transfer);
}

TEST(TransferPolicy, PrefixesMatchTheirAddressesOnly) {
  EXPECT_FALSE(parse_prefix("10.0.0.1/8"));  // host bits set
  EXPECT_FALSE(parse_prefix("10.0.0.0/33"));
  EXPECT_FALSE(parse_prefix("nope"));
  const auto net = *parse_prefix("10.0.0.0/8");
  EXPECT_TRUE(net.contains("10.200.1.1"));
  EXPECT_FALSE(net.contains("11.0.0.1"));
  EXPECT_FALSE(net.contains("::ffff:10.0.0.1"));
  const auto one = *parse_prefix("::1");
  EXPECT_TRUE(one.contains("::1"));
  EXPECT_FALSE(one.contains("::2"));
  EXPECT_TRUE(parse_notify_target("[::1]:5301"));
  EXPECT_FALSE(parse_notify_target("::1:5301"));
  EXPECT_FALSE(parse_notify_target("127.0.0.1:0"));
  EXPECT_EQ(parse_notify_target("127.0.0.1:5301")->port, 5301);
}

}  // namespace
}  // namespace signpost::dns::xfr
