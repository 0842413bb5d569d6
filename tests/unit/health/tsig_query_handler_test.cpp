// Signed queries end to end through the handler: ldns signs the queries and checks the
// responses' TSIG (RFC 8945 §5.2-§5.3).
#include "health/tsig_query_handler.hpp"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dns/answer/responder.hpp"
#include "dns/wire/types.hpp"
#include "registry/snapshot.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::health {
namespace {

namespace answer = dns::answer;
namespace rcode = dns::wire::rcode;

constexpr const char* kSecret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==";
constexpr const char* kOtherSecret = "b3RoZXIgc2VjcmV0IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU=";

struct PacketDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Packet = std::unique_ptr<ldns_pkt, PacketDeleter>;

std::uint64_t wall_now() { return static_cast<std::uint64_t>(std::time(nullptr)); }

struct SignedQuery {
  std::vector<std::uint8_t> wire;
  ldns_rdf* mac = nullptr;  // the request's MAC as ldns verifies a response with it
  ~SignedQuery() { ldns_rdf_deep_free(mac); }
};

// A query for `name`/`type` (with EDNS when `udp_size` is not 0) signed by ldns; with
// opcode NOTIFY and AA set, as a primary sends it (RFC 1996 §3.7), when `notify`.
std::unique_ptr<SignedQuery> signed_query(const char* name, ldns_rr_type type,
                                          const char* key_name, const char* secret,
                                          std::uint16_t udp_size = 0, bool notify = false) {
  Packet packet(ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN,
                                   notify ? LDNS_AA : LDNS_RD));
  if (notify) ldns_pkt_set_opcode(packet.get(), LDNS_PACKET_NOTIFY);
  ldns_pkt_set_id(packet.get(), 777);
  if (udp_size != 0) ldns_pkt_set_edns_udp_size(packet.get(), udp_size);
  EXPECT_EQ(ldns_pkt_tsig_sign(packet.get(), key_name, secret, 300, "hmac-sha256.", nullptr),
            LDNS_STATUS_OK);
  auto query = std::make_unique<SignedQuery>();
  query->mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(packet.get()), 3));
  std::uint8_t* bytes = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&bytes, packet.get(), &size), LDNS_STATUS_OK);
  query->wire.assign(bytes, bytes + size);
  std::free(bytes);
  return query;
}

class TsigQueryHandlerTest : public ::testing::Test {
 protected:
  TsigQueryHandlerTest()
      : snapshot_({testing::example_zone()}, 1),
        handler_(keys(), [this] { return wall_now() + clock_offset_; }),
        out_(65535) {}

  static std::vector<TsigKey> keys() {
    std::vector<TsigKey> out;
    out.push_back(make_tsig_key("agent-key", "hmac-sha256", kSecret, {}));
    return out;
  }

  std::vector<std::uint8_t> handle(const std::vector<std::uint8_t>& query,
                                   answer::Transport transport = answer::Transport::udp) {
    // As the workers do: the answer path leaves the query to the signed path.
    EXPECT_EQ(answer::answer_query(snapshot_, query, out_, transport, context_), 0u);
    EXPECT_TRUE(context_.signed_query);
    const std::size_t n = handler_.handle(query, out_, transport, snapshot_, context_);
    return {out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n)};
  }

  static Packet parse(const std::vector<std::uint8_t>& response) {
    ldns_pkt* packet = nullptr;
    EXPECT_EQ(ldns_wire2pkt(&packet, response.data(), response.size()), LDNS_STATUS_OK);
    return Packet(packet);
  }

  static bool verifies(const std::vector<std::uint8_t>& response, const SignedQuery& query,
                       const char* secret = kSecret) {
    Packet packet = parse(response);
    return packet && ldns_pkt_tsig_verify(packet.get(), response.data(), response.size(),
                                          "agent-key.", secret, query.mac);
  }

  // The TSIG error field and MAC size of the response's TSIG record.
  static std::pair<std::uint16_t, std::size_t> tsig_error(const std::vector<std::uint8_t>& response) {
    Packet packet = parse(response);
    const ldns_rr* tsig = packet ? ldns_pkt_tsig(packet.get()) : nullptr;
    if (tsig == nullptr) return {0xFFFF, 0};
    return {ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5)),
            ldns_rdf_size(ldns_rr_rdf(tsig, 3)) - 2};
  }

  registry::Snapshot snapshot_;
  std::uint64_t clock_offset_ = 0;
  TsigQueryHandler handler_;
  std::vector<std::uint8_t> out_;
  answer::AnswerContext context_{answer::AnswerOptions{}, 0, 42};
};

TEST_F(TsigQueryHandlerTest, SignedQueryGetsTheAnswerSigned) {
  const auto query = signed_query("www.example.test.", LDNS_RR_TYPE_A, "agent-key.", kSecret);
  const auto response = handle(query->wire);
  Packet packet = parse(response);
  ASSERT_TRUE(packet);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_NOERROR);
  EXPECT_TRUE(ldns_pkt_aa(packet.get()));
  EXPECT_EQ(ldns_pkt_id(packet.get()), 777);
  EXPECT_EQ(ldns_pkt_ancount(packet.get()), 2);
  EXPECT_EQ(tsig_error(response), (std::pair<std::uint16_t, std::size_t>{0, 32}));
  EXPECT_TRUE(verifies(response, *query));
  EXPECT_FALSE(verifies(response, *query, kOtherSecret));
  EXPECT_EQ(context_.counters.signed_queries, 1u);
  EXPECT_EQ(context_.counters.queries(), 1u);
  EXPECT_EQ(context_.counters.with_rcode(dns::wire::rcode::kNoError), 1u);

  // Every rcode of the ladder is answered signed too: here REFUSED, outside every zone.
  const auto outside = signed_query("www.example.org.", LDNS_RR_TYPE_A, "agent-key.", kSecret);
  const auto refused = handle(outside->wire, answer::Transport::tcp);
  EXPECT_EQ(ldns_pkt_get_rcode(parse(refused).get()), LDNS_RCODE_REFUSED);
  EXPECT_TRUE(verifies(refused, *outside));
}

TEST_F(TsigQueryHandlerTest, UnknownKeyGetsBadKeyUnsigned) {
  const auto query = signed_query("www.example.test.", LDNS_RR_TYPE_A, "nobody.", kSecret);
  const auto response = handle(query->wire);
  Packet packet = parse(response);
  ASSERT_TRUE(packet);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_NOTAUTH);
  EXPECT_EQ(ldns_pkt_ancount(packet.get()), 0);
  EXPECT_EQ(tsig_error(response), (std::pair<std::uint16_t, std::size_t>{rcode::kBadKey, 0}));
  EXPECT_EQ(context_.counters.with_rcode(dns::wire::rcode::kNotAuth), 1u);
}

TEST_F(TsigQueryHandlerTest, WrongSecretGetsBadSigUnsigned) {
  const auto query = signed_query("www.example.test.", LDNS_RR_TYPE_A, "agent-key.", kOtherSecret);
  const auto response = handle(query->wire);
  EXPECT_EQ(ldns_pkt_get_rcode(parse(response).get()), LDNS_RCODE_NOTAUTH);
  EXPECT_EQ(ldns_pkt_ancount(parse(response).get()), 0);
  EXPECT_EQ(tsig_error(response), (std::pair<std::uint16_t, std::size_t>{rcode::kBadSig, 0}));
}

TEST_F(TsigQueryHandlerTest, OutsideTheTimeWindowGetsBadTimeSigned) {
  const auto query = signed_query("www.example.test.", LDNS_RR_TYPE_A, "agent-key.", kSecret);
  clock_offset_ = 1000;
  const auto response = handle(query->wire);
  EXPECT_EQ(ldns_pkt_get_rcode(parse(response).get()), LDNS_RCODE_NOTAUTH);
  EXPECT_EQ(ldns_pkt_ancount(parse(response).get()), 0);
  EXPECT_EQ(tsig_error(response), (std::pair<std::uint16_t, std::size_t>{rcode::kBadTime, 32}));
  EXPECT_TRUE(verifies(response, *query));
}

TEST_F(TsigQueryHandlerTest, TruncatedMacGetsBadTruncOrFormerr) {
  auto query = signed_query("www.example.test.", LDNS_RR_TYPE_A, "agent-key.", kSecret);
  // Cut the MAC to its first 16 octets (what a truncating signer sends, RFC 8945 §5.2.2.1):
  // the last 6 octets are original ID, error, other length; the MAC's 32 octets come before,
  // after its size field.
  std::vector<std::uint8_t>& wire = query->wire;
  const std::size_t mac_end = wire.size() - 6;
  const std::size_t size_at = mac_end - 32 - 2;
  const std::size_t rdlength_at = size_at - 8 - 13 - 2;  // time, fudge; "hmac-sha256."
  wire.erase(wire.begin() + static_cast<std::ptrdiff_t>(mac_end - 16),
             wire.begin() + static_cast<std::ptrdiff_t>(mac_end));
  wire[size_at + 1] = 16;
  wire[rdlength_at + 1] = static_cast<std::uint8_t>(wire[rdlength_at + 1] - 16);
  ldns_rdf_deep_free(query->mac);
  std::vector<std::uint8_t> mac_field{0, 16};
  mac_field.insert(mac_field.end(), wire.begin() + static_cast<std::ptrdiff_t>(size_at + 2),
                   wire.begin() + static_cast<std::ptrdiff_t>(size_at + 18));
  query->mac = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, mac_field.size(), mac_field.data());
  const auto response = handle(wire);
  EXPECT_EQ(ldns_pkt_get_rcode(parse(response).get()), LDNS_RCODE_NOTAUTH);
  EXPECT_EQ(tsig_error(response), (std::pair<std::uint16_t, std::size_t>{rcode::kBadTrunc, 32}));
  EXPECT_TRUE(verifies(response, *query));

  // Below max(10, 16) octets the MAC size itself is an error: FORMERR, no TSIG.
  wire.erase(wire.begin() + static_cast<std::ptrdiff_t>(size_at + 2 + 12),
             wire.begin() + static_cast<std::ptrdiff_t>(size_at + 2 + 16));
  wire[size_at + 1] = 12;
  wire[rdlength_at + 1] = static_cast<std::uint8_t>(wire[rdlength_at + 1] - 4);
  const auto formerr = handle(wire);
  Packet packet = parse(formerr);
  ASSERT_TRUE(packet);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_FORMERR);
  EXPECT_EQ(ldns_pkt_tsig(packet.get()), nullptr);
}

// A NOTIFY to us (we follow no primary) gets the same REFUSED or NOTAUTH as an unsigned one,
// signed when the key and MAC verify (RFC 8945 §5.3), with the TSIG error when they do not
// (§5.2); over UDP and TCP alike.
TEST_F(TsigQueryHandlerTest, SignedNotifyGetsItsErrorSigned) {
  for (const auto transport : {answer::Transport::udp, answer::Transport::tcp}) {
    for (const auto& [zone, code] : {std::pair{"example.test.", LDNS_RCODE_REFUSED},
                                     std::pair{"example.org.", LDNS_RCODE_NOTAUTH}}) {
      const auto notify = signed_query(zone, LDNS_RR_TYPE_SOA, "agent-key.", kSecret, 0, true);
      const auto response = handle(notify->wire, transport);
      Packet packet = parse(response);
      ASSERT_TRUE(packet);
      EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), code) << zone;
      EXPECT_EQ(ldns_pkt_get_opcode(packet.get()), LDNS_PACKET_NOTIFY);
      EXPECT_EQ(ldns_pkt_qdcount(packet.get()), 1);
      EXPECT_EQ(ldns_pkt_ancount(packet.get()), 0);
      EXPECT_EQ(tsig_error(response), (std::pair<std::uint16_t, std::size_t>{0, 32}));
      EXPECT_TRUE(verifies(response, *notify)) << zone;
    }
  }
  const auto unknown =
      signed_query("example.test.", LDNS_RR_TYPE_SOA, "nobody.", kSecret, 0, true);
  const auto badkey = handle(unknown->wire);
  EXPECT_EQ(ldns_pkt_get_rcode(parse(badkey).get()), LDNS_RCODE_NOTAUTH);
  EXPECT_EQ(ldns_pkt_get_opcode(parse(badkey).get()), LDNS_PACKET_NOTIFY);
  EXPECT_EQ(tsig_error(badkey), (std::pair<std::uint16_t, std::size_t>{rcode::kBadKey, 0}));
  const auto forged =
      signed_query("example.test.", LDNS_RR_TYPE_SOA, "agent-key.", kOtherSecret, 0, true);
  const auto badsig = handle(forged->wire, answer::Transport::tcp);
  EXPECT_EQ(ldns_pkt_get_rcode(parse(badsig).get()), LDNS_RCODE_NOTAUTH);
  EXPECT_EQ(tsig_error(badsig), (std::pair<std::uint16_t, std::size_t>{rcode::kBadSig, 0}));
  const auto late =
      signed_query("example.test.", LDNS_RR_TYPE_SOA, "agent-key.", kSecret, 0, true);
  clock_offset_ = 1000;
  const auto badtime = handle(late->wire);
  EXPECT_EQ(ldns_pkt_get_rcode(parse(badtime).get()), LDNS_RCODE_NOTAUTH);
  EXPECT_EQ(tsig_error(badtime), (std::pair<std::uint16_t, std::size_t>{rcode::kBadTime, 32}));
  EXPECT_TRUE(verifies(badtime, *late));
  EXPECT_EQ(context_.counters.signed_queries, 7u);
  EXPECT_EQ(context_.counters.with_rcode(rcode::kRefused), 2u);
  EXPECT_EQ(context_.counters.with_rcode(rcode::kNotAuth), 5u);
}

TEST_F(TsigQueryHandlerTest, SignedAnswerStillFitsTheUdpSize) {
  // 100 A records: over UDP the answer does not fit, and TC goes out signed, within the size.
  for (const std::uint16_t udp_size : {std::uint16_t{0}, std::uint16_t{1232}}) {
    const auto query = signed_query("big.example.test.", LDNS_RR_TYPE_A, "agent-key.", kSecret, udp_size);
    const auto response = handle(query->wire);
    EXPECT_LE(response.size(), udp_size == 0 ? 512u : 1232u);
    Packet packet = parse(response);
    ASSERT_TRUE(packet);
    EXPECT_TRUE(ldns_pkt_tc(packet.get()));
    EXPECT_TRUE(verifies(response, *query));
    const auto tcp = handle(query->wire, answer::Transport::tcp);
    EXPECT_FALSE(ldns_pkt_tc(parse(tcp).get()));
    EXPECT_EQ(ldns_pkt_ancount(parse(tcp).get()), 100);
    EXPECT_TRUE(verifies(tcp, *query));
  }
}

TEST_F(TsigQueryHandlerTest, EveryRowSignsWithItsOwnSignerAtOnce) {
  // Answering threads on different rows use different signers, so they can verify and sign
  // at the same time; each answer verifies whichever signer made it.
  std::vector<std::thread> threads;
  std::atomic<int> verified{0};
  for (std::size_t row = 0; row < TsigQueryHandler::kSigners + 2; ++row) {
    threads.emplace_back([this, row, &verified] {
      answer::AnswerContext context(answer::AnswerOptions{}, row, 42);
      std::vector<std::uint8_t> out(65535);
      for (int i = 0; i < 50; ++i) {
        const auto query = signed_query("www.example.test.", LDNS_RR_TYPE_A, "agent-key.", kSecret);
        const std::size_t n = handler_.handle(query->wire, out, answer::Transport::udp, snapshot_, context);
        if (verifies({out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)}, *query)) ++verified;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(verified.load(), static_cast<int>((TsigQueryHandler::kSigners + 2) * 50));
}

TEST_F(TsigQueryHandlerTest, NoKeysMeansBadKey) {
  TsigQueryHandler none({}, [] { return wall_now(); });
  const auto query = signed_query("www.example.test.", LDNS_RR_TYPE_A, "agent-key.", kSecret);
  const std::size_t n = none.handle(query->wire, out_, answer::Transport::udp, snapshot_, context_);
  const std::vector<std::uint8_t> response(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n));
  EXPECT_EQ(ldns_pkt_get_rcode(parse(response).get()), LDNS_RCODE_NOTAUTH);
  EXPECT_EQ(tsig_error(response), (std::pair<std::uint16_t, std::size_t>{rcode::kBadKey, 0}));
}

}  // namespace
}  // namespace signpost::health
