// Reading responses to UPDATEs: from the server's own receiver, and from ldns for the forms
// our server does not send (extended rcodes, responses to another request, garbage).
#include "health/protocol/update_response.hpp"

#include <gtest/gtest.h>

#include "tests/unit/support/test_receiver.hpp"
#include <ldns/ldns.h>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "dns/wire/types.hpp"
#include "health/heartbeat_receiver.hpp"
#include "health/protocol/update_builder.hpp"
#include "registry/publisher.hpp"

namespace signpost::health {
namespace {

namespace wire = dns::wire;

constexpr const char* kSecret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==";
constexpr const char* kOtherSecret = "b3RoZXIgc2VjcmV0IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU=";

std::uint64_t now() { return static_cast<std::uint64_t>(std::time(nullptr)); }

struct PktFree {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

TsigSigner signer(const char* secret = kSecret) {
  return TsigSigner({make_tsig_key("agent-key", "hmac-sha256", secret, {})});
}

// A registration of web-1 with a lease of 30 s, signed at `at`.
SignedRequest registration(const TsigSigner& key, std::uint16_t id, std::uint64_t at = now()) {
  UpdateBuilder update(id, "svc.internal.");
  std::vector<std::uint8_t> rdata;
  EXPECT_EQ(encode_srv_rdata(0, 5, 8080, "host-1.node.svc.internal.", rdata), UpdateBuildError::ok);
  update.add(UpdateSection::update, "web-1._web._tcp.svc.internal.", wire::rrtype::kSrv,
             wire::rrclass::kIn, 30, rdata);
  rdata.clear();
  const std::vector<std::string> txt{"health=passing"};
  EXPECT_EQ(encode_txt_rdata(txt, rdata), UpdateBuildError::ok);
  update.add(UpdateSection::update, "web-1._web._tcp.svc.internal.", wire::rrtype::kTxt,
             wire::rrclass::kIn, 30, rdata);
  rdata.clear();
  std::uint16_t type = 0;
  EXPECT_EQ(encode_address_rdata("::10", type, rdata), UpdateBuildError::ok);
  update.add(UpdateSection::update, "host-1.node.svc.internal.", type, wire::rrclass::kIn, 30,
             rdata);
  update.set_lease(30);
  SignedRequest out;
  EXPECT_EQ(update.finish(key, key.keys().front(), at, out), UpdateBuildError::ok);
  return out;
}

// A response built and signed by ldns over `request`'s MAC: `rcode` (above 15 through the
// OPT), an optional lease, QR as given.
std::vector<std::uint8_t> ldns_response(const SignedRequest& request, std::uint16_t rcode,
                                        std::optional<std::uint32_t> lease, bool qr = true,
                                        const char* secret = kSecret) {
  ldns_pkt* query = nullptr;
  EXPECT_EQ(ldns_wire2pkt(&query, request.wire.data(), request.wire.size()), LDNS_STATUS_OK);
  Pkt owned_query(query);
  Pkt reply(ldns_pkt_new());
  ldns_pkt_set_id(reply.get(), ldns_pkt_id(query));
  ldns_pkt_set_qr(reply.get(), qr);
  ldns_pkt_set_opcode(reply.get(), LDNS_PACKET_UPDATE);
  ldns_pkt_set_rcode(reply.get(), static_cast<std::uint8_t>(rcode & 0x0f));
  ldns_pkt_push_rr(reply.get(), LDNS_SECTION_QUESTION,
                   ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(query), 0)));
  if (lease || rcode > 15) {
    ldns_pkt_set_edns_udp_size(reply.get(), 1232);
    ldns_pkt_set_edns_extended_rcode(reply.get(), static_cast<std::uint8_t>(rcode >> 4));
  }
  if (lease) {
    const std::uint8_t data[4] = {
        static_cast<std::uint8_t>(*lease >> 24), static_cast<std::uint8_t>(*lease >> 16),
        static_cast<std::uint8_t>(*lease >> 8), static_cast<std::uint8_t>(*lease)};
    ldns_edns_option_list* list = ldns_edns_option_list_new();
    ldns_edns_option_list_push(list, ldns_edns_new_from_data(static_cast<ldns_edns_option_code>(2),
                                                             4, data));
    ldns_pkt_set_edns_option_list(reply.get(), list);
  }
  std::vector<std::uint8_t> request_mac = request.mac;
  ldns_rdf* mac = ldns_native2rdf_int16_data(request_mac.size(), request_mac.data());
  EXPECT_EQ(ldns_pkt_tsig_sign(reply.get(), "agent-key.", secret, 300, "hmac-sha256.", mac),
            LDNS_STATUS_OK);
  ldns_rdf_deep_free(mac);
  std::uint8_t* bytes = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&bytes, reply.get(), &size), LDNS_STATUS_OK);
  std::vector<std::uint8_t> out(bytes, bytes + size);
  std::free(bytes);
  return out;
}

TEST(UpdateResponse, FromTheServersReceiver) {
  signpost::testing::ReceiverRig rig({make_tsig_key("agent-key", "hmac-sha256", kSecret, {"web"})}, std::chrono::seconds(20));
  auto& receiver = rig.receiver;
  const TsigSigner key = signer();

  const SignedRequest request = registration(key, 101);
  UpdateResponse response =
      parse_update_response(receiver.process(request.wire), 101, request.mac, key, now());
  EXPECT_EQ(response.status, UpdateResponse::Status::ok);
  EXPECT_EQ(response.rcode, wire::rcode::kNoError);
  EXPECT_EQ(response.lease, 20u);  // capped at the server's max_lease
  EXPECT_EQ(response.tsig.status, TsigCheck::Status::ok);
  EXPECT_EQ(response.tsig.tsig_error, 0);

  // The same bytes again: a replay, NOTAUTH with TSIG error BADTIME, signed.
  response = parse_update_response(receiver.process(request.wire), 101, request.mac, key, now());
  EXPECT_EQ(response.rcode, wire::rcode::kNotAuth);
  EXPECT_EQ(response.tsig.tsig_error, wire::rcode::kBadTime);
  EXPECT_EQ(response.tsig.status, TsigCheck::Status::ok);

  // Signed with another secret: the server cannot verify it and says so unsigned (RFC 8945
  // §5.3.2).
  const TsigSigner other = signer(kOtherSecret);
  const SignedRequest forged = registration(other, 102);
  response = parse_update_response(receiver.process(forged.wire), 102, forged.mac, other, now());
  EXPECT_EQ(response.status, UpdateResponse::Status::ok);
  EXPECT_EQ(response.rcode, wire::rcode::kNotAuth);
  EXPECT_EQ(response.tsig.tsig_error, wire::rcode::kBadSig);
  EXPECT_EQ(response.tsig.status, TsigCheck::Status::bad_sig);
  receiver.stop();
}

TEST(UpdateResponse, FromLdns) {
  const TsigSigner key = signer();
  const SignedRequest request = registration(key, 7);
  UpdateResponse response =
      parse_update_response(ldns_response(request, 0, 45), 7, request.mac, key, now());
  EXPECT_EQ(response.status, UpdateResponse::Status::ok);
  EXPECT_EQ(response.lease, 45u);
  EXPECT_EQ(response.tsig.status, TsigCheck::Status::ok);
  // An extended rcode: BADVERS, 16, has its upper bits in the OPT (RFC 6891 §6.1.3).
  response = parse_update_response(ldns_response(request, 16, std::nullopt), 7, request.mac, key,
                                   now());
  EXPECT_EQ(response.rcode, wire::rcode::kBadVers);
  EXPECT_FALSE(response.lease.has_value());
  // Signed over another MAC, or with another secret, or checked too late.
  const SignedRequest other = registration(key, 7, now() - 1);
  ASSERT_NE(other.mac, request.mac);
  response = parse_update_response(ldns_response(other, 0, 45), 7, request.mac, key, now());
  EXPECT_EQ(response.tsig.status, TsigCheck::Status::bad_sig);
  response = parse_update_response(ldns_response(request, 0, 45, true, kOtherSecret), 7,
                                   request.mac, key, now());
  EXPECT_EQ(response.tsig.status, TsigCheck::Status::bad_sig);
  response = parse_update_response(ldns_response(request, 0, 45), 7, request.mac, key,
                                   now() + 2 * kTsigFudge);
  EXPECT_EQ(response.tsig.status, TsigCheck::Status::bad_time);
}

TEST(UpdateResponse, NotAResponseToThisRequest) {
  const TsigSigner key = signer();
  const SignedRequest request = registration(key, 7);
  const std::vector<std::uint8_t> good = ldns_response(request, 0, 45);
  EXPECT_EQ(parse_update_response(good, 8, request.mac, key, now()).status,
            UpdateResponse::Status::not_this_request);
  EXPECT_EQ(parse_update_response(ldns_response(request, 0, 45, false), 7, request.mac, key, now())
                .status,
            UpdateResponse::Status::not_this_request);
  std::vector<std::uint8_t> query_opcode = good;
  query_opcode[2] &= 0x87;
  EXPECT_EQ(parse_update_response(query_opcode, 7, request.mac, key, now()).status,
            UpdateResponse::Status::not_this_request);
  // Cut short anywhere, or with octets after the last record: not a DNS message.
  for (std::size_t size = 0; size < good.size(); ++size) {
    const std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_EQ(parse_update_response(cut, 7, request.mac, key, now()).status,
              UpdateResponse::Status::malformed)
        << size;
  }
  std::vector<std::uint8_t> trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(parse_update_response(trailing, 7, request.mac, key, now()).status,
            UpdateResponse::Status::malformed);
}

}  // namespace
}  // namespace signpost::health
