// TSIG verification and signing, checked against ldns in both directions.
#include "health/protocol/tsig.hpp"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <ctime>
#include <string>
#include <vector>

#include "dns/wire/types.hpp"

namespace signpost::health {
namespace {

constexpr const char* kSecret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==";
constexpr const char* kOtherSecret = "b3RoZXIgc2VjcmV0IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU=";

std::uint64_t now() { return static_cast<std::uint64_t>(std::time(nullptr)); }

// An UPDATE for svc.internal. adding one A record, as ldns builds it.
ldns_pkt* make_update() {
  ldns_rdf* zone = ldns_dname_new_frm_str("svc.internal.");
  ldns_rr_list* updates = ldns_rr_list_new();
  ldns_rr* rr = nullptr;
  ldns_rr_new_frm_str(&rr, "host-1.node.svc.internal. 30 IN A 127.0.0.10", 0, nullptr, nullptr);
  ldns_rr_list_push_rr(updates, rr);
  ldns_pkt* packet = ldns_update_pkt_new(zone, LDNS_RR_CLASS_IN, nullptr, updates, nullptr);
  ldns_rr_list_deep_free(updates);  // the packet took copies
  ldns_pkt_set_id(packet, 4242);
  return packet;
}

std::vector<std::uint8_t> to_wire(ldns_pkt* packet) {
  std::uint8_t* bytes = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&bytes, packet, &size), LDNS_STATUS_OK);
  std::vector<std::uint8_t> out(bytes, bytes + size);
  std::free(bytes);
  return out;
}

std::vector<std::uint8_t> signed_by_ldns(const char* key_name, const char* secret,
                                         const char* algorithm, std::uint16_t fudge = 300) {
  ldns_pkt* packet = make_update();
  EXPECT_EQ(ldns_pkt_tsig_sign(packet, key_name, secret, fudge, algorithm, nullptr), LDNS_STATUS_OK);
  std::vector<std::uint8_t> out = to_wire(packet);
  ldns_pkt_free(packet);
  return out;
}

// Skips an uncompressed name (ldns writes the TSIG names uncompressed).
std::size_t skip_name(const std::vector<std::uint8_t>& message, std::size_t at) {
  while (message[at] != 0) at += message[at] + 1u;
  return at + 1;
}

// Where the TSIG record's MAC Size field stands.
std::size_t mac_size_at(const std::vector<std::uint8_t>& message, std::size_t tsig_offset) {
  const std::size_t rdata = skip_name(message, tsig_offset) + 10;
  return skip_name(message, rdata) + 8;
}

// `message` with its TSIG MAC cut to the first `size` octets (or, when `size` is larger, with
// zeros added), MAC Size and RDLENGTH to match: what a signer that truncates sends (RFC 8945
// §5.2.2.1 rule 4: "taking initial octets").
std::vector<std::uint8_t> with_mac_size(std::vector<std::uint8_t> message, std::size_t size) {
  const TsigCheck parsed = TsigSigner({}).verify(message, 0);
  const std::size_t at = mac_size_at(message, parsed.tsig_offset);
  const std::size_t old_size = message[at] << 8 | message[at + 1];
  const std::size_t rdlength_at = skip_name(message, parsed.tsig_offset) + 8;
  const std::size_t rdlength = (message[rdlength_at] << 8 | message[rdlength_at + 1]) + size - old_size;
  message[rdlength_at] = static_cast<std::uint8_t>(rdlength >> 8);
  message[rdlength_at + 1] = static_cast<std::uint8_t>(rdlength);
  message[at] = static_cast<std::uint8_t>(size >> 8);
  message[at + 1] = static_cast<std::uint8_t>(size);
  const auto mac = message.begin() + static_cast<std::ptrdiff_t>(at + 2);
  if (size < old_size) {
    message.erase(mac + static_cast<std::ptrdiff_t>(size), mac + static_cast<std::ptrdiff_t>(old_size));
  } else {
    message.insert(mac + static_cast<std::ptrdiff_t>(old_size), size - old_size, 0);
  }
  return message;
}

// The request's MAC as ldns takes it for verifying a response: two-octet length, then the MAC.
ldns_rdf* mac_rdf(const std::vector<std::uint8_t>& mac) {
  std::vector<std::uint8_t> field{static_cast<std::uint8_t>(mac.size() >> 8),
                                  static_cast<std::uint8_t>(mac.size())};
  field.insert(field.end(), mac.begin(), mac.end());
  return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, field.size(), field.data());
}

// True when ldns verifies `response` as signed with `secret` over the request MAC of `request`.
bool ldns_verifies_response(const std::vector<std::uint8_t>& response, const TsigCheck& request,
                            const char* secret) {
  ldns_pkt* parsed = nullptr;
  if (ldns_wire2pkt(&parsed, response.data(), response.size()) != LDNS_STATUS_OK) return false;
  ldns_rdf* mac = mac_rdf(request.mac);
  const bool ok = ldns_pkt_tsig_verify(parsed, response.data(), response.size(), "agent-key.",
                                       secret, mac);
  ldns_rdf_deep_free(mac);
  ldns_pkt_free(parsed);
  return ok;
}

// The fields of the TSIG record at the end of `response` after the MAC.
struct TsigTail {
  std::uint64_t time_signed = 0;
  std::uint16_t error = 0;
  std::vector<std::uint8_t> other;
};

TsigTail tsig_tail(const std::vector<std::uint8_t>& response, std::size_t tsig_offset) {
  TsigTail tail;
  const std::size_t at = mac_size_at(response, tsig_offset);
  for (std::size_t i = at - 8; i < at - 2; ++i) tail.time_signed = tail.time_signed << 8 | response[i];
  const std::size_t after_mac = at + 2 + (response[at] << 8 | response[at + 1]);
  tail.error = static_cast<std::uint16_t>(response[after_mac + 2] << 8 | response[after_mac + 3]);
  tail.other.assign(response.begin() + static_cast<std::ptrdiff_t>(after_mac + 6), response.end());
  return tail;
}

// A response header for `request`: its ID, QR set, no records.
std::vector<std::uint8_t> response_header(const std::vector<std::uint8_t>& request) {
  std::vector<std::uint8_t> response(request.begin(), request.begin() + 12);
  response[2] |= 0x80;
  for (std::size_t i = 4; i < 12; ++i) response[i] = 0;
  return response;
}

TsigSigner signer() {
  std::vector<TsigKey> keys;
  keys.push_back(make_tsig_key("agent-key", "hmac-sha256", kSecret, {}));
  keys.push_back(make_tsig_key("big-key.", "hmac-sha512", kOtherSecret, {"web", "db-*"}));
  return TsigSigner(std::move(keys));
}

TEST(TsigTest, VerifiesWhatLdnsSigned) {
  const TsigSigner tsig = signer();
  const auto message = signed_by_ldns("agent-key.", kSecret, "hmac-sha256.");
  const TsigCheck check = tsig.verify(message, now());
  EXPECT_EQ(check.status, TsigCheck::Status::ok);
  ASSERT_NE(check.key, nullptr);
  EXPECT_EQ(check.key->name, "agent-key");
  EXPECT_EQ(check.mac.size(), 32u);
  EXPECT_EQ(check.original_id, 4242);
  EXPECT_LT(check.tsig_offset, message.size());

  const auto sha512 = signed_by_ldns("BIG-key.", kOtherSecret, "hmac-sha512.");
  EXPECT_EQ(tsig.verify(sha512, now()).status, TsigCheck::Status::ok);
}

TEST(TsigTest, KeysLongerThanADigestBlockAreHashedFirst) {
  // RFC 2104 §2: a key longer than the digest's block (64 octets for SHA-256, 128 for
  // SHA-512) is replaced by its digest. 100 and 200 octets here.
  constexpr const char* kLong256 = "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBceJSwzOkFIT1ZdZGtyeYCHjpWco6qxuA==";
  constexpr const char* kLong512 = "BRAbJjE8R1JdaHN+iZSfqrXAy9bh7PcCDRgjLjlET1plcHuGkZynsr3I097p9P8KFSArNkFMV2JteIOOmaSvusXQ2+bx/AcSHSgzPklUX2p1gIuWoay3ws3Y4+75BA8aJTA7RlFcZ3J9iJOeqbS/ytXg6/YBDBciLThDTllkb3qFkJumsbzH0t3o8/4JFB8qNUBLVmFsd4KNmKOuucTP2uXw+wYRHCcyPUhTXml0f4qVoKu2wczX4u34Aw4ZJC86RVBbZnF8h5I=";
  std::vector<TsigKey> keys;
  keys.push_back(make_tsig_key("long-256.", "hmac-sha256", kLong256, {}));
  keys.push_back(make_tsig_key("long-512.", "hmac-sha512", kLong512, {}));
  const TsigSigner tsig(std::move(keys));
  EXPECT_EQ(tsig.verify(signed_by_ldns("long-256.", kLong256, "hmac-sha256."), now()).status,
            TsigCheck::Status::ok);
  EXPECT_EQ(tsig.verify(signed_by_ldns("long-512.", kLong512, "hmac-sha512."), now()).status,
            TsigCheck::Status::ok);
  EXPECT_EQ(tsig.verify(signed_by_ldns("long-256.", kSecret, "hmac-sha256."), now()).status,
            TsigCheck::Status::bad_sig);
}

TEST(TsigTest, RejectsWrongSecretTamperingUnknownKeyAndTime) {
  const TsigSigner tsig = signer();
  EXPECT_EQ(tsig.verify(signed_by_ldns("agent-key.", kOtherSecret, "hmac-sha256."), now()).status,
            TsigCheck::Status::bad_sig);
  EXPECT_EQ(tsig.verify(signed_by_ldns("nobody.", kSecret, "hmac-sha256."), now()).status,
            TsigCheck::Status::bad_key);
  // The right key name with another algorithm is an unknown key too (RFC 8945 §5.2.1).
  EXPECT_EQ(tsig.verify(signed_by_ldns("agent-key.", kSecret, "hmac-sha512."), now()).status,
            TsigCheck::Status::bad_key);

  auto tampered = signed_by_ldns("agent-key.", kSecret, "hmac-sha256.");
  tampered[40] ^= 0x01;  // inside the update section's A record
  EXPECT_EQ(tsig.verify(tampered, now()).status, TsigCheck::Status::bad_sig);

  // ldns signs at its own reading of the clock: a second may pass before ours (302, not 301).
  const auto message = signed_by_ldns("agent-key.", kSecret, "hmac-sha256.");
  EXPECT_EQ(tsig.verify(message, now() + 302).status, TsigCheck::Status::bad_time);
  EXPECT_EQ(tsig.verify(message, now() - 302).status, TsigCheck::Status::bad_time);
}

TEST(TsigTest, UnsignedAndMalformed) {
  const TsigSigner tsig = signer();
  ldns_pkt* packet = make_update();
  const auto plain = to_wire(packet);
  ldns_pkt_free(packet);
  EXPECT_EQ(tsig.verify(plain, now()).status, TsigCheck::Status::unsigned_message);

  auto cut = signed_by_ldns("agent-key.", kSecret, "hmac-sha256.");
  cut.resize(cut.size() - 3);
  EXPECT_EQ(tsig.verify(cut, now()).status, TsigCheck::Status::malformed);
  EXPECT_EQ(tsig.verify(std::vector<std::uint8_t>(5, 0), now()).status,
            TsigCheck::Status::malformed);
}

TEST(TsigTest, LdnsVerifiesOurRequestAndResponseSignatures) {
  const TsigSigner tsig = signer();
  ldns_pkt* packet = make_update();
  std::vector<std::uint8_t> request = to_wire(packet);
  ldns_pkt_free(packet);
  tsig.sign_request(request, tsig.keys()[0], now());

  ldns_pkt* parsed = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&parsed, request.data(), request.size()), LDNS_STATUS_OK);
  EXPECT_TRUE(ldns_pkt_tsig_verify(parsed, request.data(), request.size(), "agent-key.", kSecret,
                                   nullptr));
  ldns_pkt_free(parsed);

  const TsigCheck check = tsig.verify(request, now());
  ASSERT_EQ(check.status, TsigCheck::Status::ok);
  // A response: the request's header with QR set, signed with the request's MAC.
  std::vector<std::uint8_t> response(request.begin(), request.begin() + 12);
  response[2] |= 0x80;
  for (std::size_t i = 4; i < 12; ++i) response[i] = 0;
  tsig.sign_response(response, check, 0, now());
  ASSERT_EQ(ldns_wire2pkt(&parsed, response.data(), response.size()), LDNS_STATUS_OK);
  // ldns takes the request MAC as its TSIG rdata field: two-octet length, then the MAC.
  std::vector<std::uint8_t> mac_field{static_cast<std::uint8_t>(check.mac.size() >> 8),
                                      static_cast<std::uint8_t>(check.mac.size())};
  mac_field.insert(mac_field.end(), check.mac.begin(), check.mac.end());
  ldns_rdf* mac = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, mac_field.size(), mac_field.data());
  EXPECT_TRUE(ldns_pkt_tsig_verify(parsed, response.data(), response.size(), "agent-key.",
                                   kSecret, mac));
  ldns_rdf_deep_free(mac);
  ldns_pkt_free(parsed);
}

TEST(TsigTest, ErrorResponsesCarryTheErrorAndAnEmptyMacWhenUnsigned) {
  const TsigSigner tsig = signer();
  const auto message = signed_by_ldns("agent-key.", kOtherSecret, "hmac-sha256.");
  const TsigCheck check = tsig.verify(message, now());
  ASSERT_EQ(check.status, TsigCheck::Status::bad_sig);
  std::vector<std::uint8_t> response(message.begin(), message.begin() + 12);
  for (std::size_t i = 4; i < 12; ++i) response[i] = 0;
  tsig.sign_response(response, check, dns::wire::rcode::kBadSig, now());
  // The TSIG record ends with: MAC size 0, original ID, error 16, other length 0.
  const std::size_t n = response.size();
  EXPECT_EQ(response[11], 1);  // ARCOUNT
  EXPECT_EQ(response[n - 2], 0);
  EXPECT_EQ(response[n - 1], 0);
  EXPECT_EQ(response[n - 4] << 8 | response[n - 3], dns::wire::rcode::kBadSig);
  EXPECT_EQ(response[n - 8] << 8 | response[n - 7], 0);  // MAC size
}

TEST(TsigTest, MacSizeFollowsRfc8945Truncation) {
  const TsigSigner tsig = signer();
  const auto full = signed_by_ldns("agent-key.", kSecret, "hmac-sha256.");
  ASSERT_EQ(tsig.verify(full, now()).status, TsigCheck::Status::ok);
  // §5.2.2.1 rule 4: half of SHA-256's 32 octets verifies, but we accept no truncation:
  // BADTRUNC (§5.2.4), after the MAC and the time were found good.
  const auto half = with_mac_size(full, 16);
  const TsigCheck truncated = tsig.verify(half, now());
  EXPECT_EQ(truncated.status, TsigCheck::Status::bad_trunc);
  EXPECT_EQ(truncated.error(), dns::wire::rcode::kBadTrunc);
  EXPECT_EQ(truncated.mac.size(), 16u);
  EXPECT_EQ(tsig.verify(with_mac_size(full, 31), now()).status, TsigCheck::Status::bad_trunc);
  // Rules 1 and 3: longer than the hash, or shorter than max(10, half of it): FORMERR.
  EXPECT_EQ(tsig.verify(with_mac_size(full, 15), now()).status, TsigCheck::Status::malformed);
  EXPECT_EQ(tsig.verify(with_mac_size(full, 9), now()).status, TsigCheck::Status::malformed);
  EXPECT_EQ(tsig.verify(with_mac_size(full, 0), now()).status, TsigCheck::Status::malformed);
  EXPECT_EQ(tsig.verify(with_mac_size(full, 33), now()).status, TsigCheck::Status::malformed);
  // The checks go key, MAC, time, truncation (§5.2.1-§5.2.4).
  auto forged = half;
  forged[mac_size_at(forged, truncated.tsig_offset) + 2] ^= 0x01;
  EXPECT_EQ(tsig.verify(forged, now()).status, TsigCheck::Status::bad_sig);
  EXPECT_EQ(tsig.verify(half, now() + 400).status, TsigCheck::Status::bad_time);

  const auto sha512 = signed_by_ldns("big-key.", kOtherSecret, "hmac-sha512.");
  EXPECT_EQ(tsig.verify(with_mac_size(sha512, 32), now()).status, TsigCheck::Status::bad_trunc);
  EXPECT_EQ(tsig.verify(with_mac_size(sha512, 31), now()).status, TsigCheck::Status::malformed);
  EXPECT_EQ(tsig.verify(with_mac_size(sha512, 65), now()).status, TsigCheck::Status::malformed);
}

TEST(TsigTest, FudgeIsCappedAtOurWindow) {
  const TsigSigner tsig = signer();
  // A client may not widen the window past ours (RFC 8945 §10 recommends 300 s).
  const auto wide = signed_by_ldns("agent-key.", kSecret, "hmac-sha256.", 65535);
  EXPECT_EQ(tsig.verify(wide, now() + kTsigFudge - 1).status, TsigCheck::Status::ok);
  EXPECT_EQ(tsig.verify(wide, now() + kTsigFudge + 2).status, TsigCheck::Status::bad_time);
  EXPECT_EQ(tsig.verify(wide, now() - kTsigFudge - 2).status, TsigCheck::Status::bad_time);
  EXPECT_EQ(tsig.verify(wide, now() + 18 * 3600).status, TsigCheck::Status::bad_time);
  // It may narrow it: |now - time signed| <= min(its fudge, ours).
  const auto narrow = signed_by_ldns("agent-key.", kSecret, "hmac-sha256.", 10);
  EXPECT_EQ(tsig.verify(narrow, now() + 8).status, TsigCheck::Status::ok);
  EXPECT_EQ(tsig.verify(narrow, now() + 12).status, TsigCheck::Status::bad_time);
}

TEST(TsigTest, BadTimeResponseSignsTheClientsTimeAndCarriesOurs) {
  const TsigSigner tsig = signer();
  const auto request = signed_by_ldns("agent-key.", kSecret, "hmac-sha256.");
  const std::uint64_t late = now() + 1000;
  const TsigCheck check = tsig.verify(request, late);
  ASSERT_EQ(check.status, TsigCheck::Status::bad_time);
  EXPECT_EQ(check.error(), dns::wire::rcode::kBadTime);
  auto response = response_header(request);
  const std::size_t tsig_at = response.size();
  tsig.sign_response(response, check, check.error(), late);
  // RFC 8945 §5.2.3: Time Signed is the client's, Other Data our time, 6 octets.
  const TsigTail tail = tsig_tail(response, tsig_at);
  EXPECT_EQ(tail.time_signed, check.time_signed);
  EXPECT_EQ(tail.error, dns::wire::rcode::kBadTime);
  std::uint64_t ours = 0;
  ASSERT_EQ(tail.other.size(), 6u);
  for (const std::uint8_t octet : tail.other) ours = ours << 8 | octet;
  EXPECT_EQ(ours, late);
  EXPECT_TRUE(ldns_verifies_response(response, check, kSecret));
}

TEST(TsigTest, BadTruncResponseIsSignedOverTheTruncatedMac) {
  const TsigSigner tsig = signer();
  const auto request = with_mac_size(signed_by_ldns("agent-key.", kSecret, "hmac-sha256."), 20);
  const TsigCheck check = tsig.verify(request, now());
  ASSERT_EQ(check.status, TsigCheck::Status::bad_trunc);
  auto response = response_header(request);
  const std::size_t tsig_at = response.size();
  tsig.sign_response(response, check, check.error(), now());
  EXPECT_EQ(tsig_tail(response, tsig_at).error, dns::wire::rcode::kBadTrunc);
  // §5.3.2: an error over the MAC's length is signed; §5.2.2.1: with the truncated MAC.
  EXPECT_TRUE(ldns_verifies_response(response, check, kSecret));
}

TEST(TsigTest, SignsIntoABufferAndSaysHowMuchRoomItTakes) {
  const TsigSigner tsig = signer();
  const auto request = signed_by_ldns("agent-key.", kSecret, "hmac-sha256.");
  const TsigCheck check = tsig.verify(request, now());
  ASSERT_EQ(check.status, TsigCheck::Status::ok);
  const auto header = response_header(request);
  const std::size_t room = tsig.response_size(check, 0);
  std::vector<std::uint8_t> buffer(header.size() + room, 0xEE);
  std::copy(header.begin(), header.end(), buffer.begin());
  EXPECT_EQ(tsig.sign_response(std::span(buffer).first(buffer.size() - 1), header.size(), check, 0,
                               now()),
            0u);  // one octet short: nothing written
  EXPECT_EQ(buffer[11], 0);
  EXPECT_EQ(tsig.sign_response(buffer, header.size(), check, 0, now()), buffer.size());
  EXPECT_TRUE(ldns_verifies_response(buffer, check, kSecret));
  auto appended = header;
  tsig.sign_response(appended, check, 0, now());
  EXPECT_EQ(appended, buffer);
  // Unsigned errors carry no MAC; BADTIME adds our time.
  EXPECT_EQ(tsig.response_size(check, dns::wire::rcode::kBadTime), room + 6);
  TsigCheck unknown = check;
  unknown.key = nullptr;
  unknown.status = TsigCheck::Status::bad_key;
  EXPECT_EQ(tsig.response_size(unknown, dns::wire::rcode::kBadKey), room - 32);
}

TEST(TsigTest, VerifiesResponsesOverTheRequestMac) {
  const TsigSigner tsig = signer();
  ldns_pkt* packet = make_update();
  std::vector<std::uint8_t> request = to_wire(packet);
  ldns_pkt_free(packet);
  const std::vector<std::uint8_t> request_mac = tsig.sign_request(request, tsig.keys()[0], now());
  const TsigCheck check = tsig.verify(request, now());
  ASSERT_EQ(check.status, TsigCheck::Status::ok);
  EXPECT_EQ(check.mac, request_mac);

  // Signed by ldns over the request MAC: the oracle.
  ldns_pkt* reply = nullptr;
  auto header = response_header(request);
  ASSERT_EQ(ldns_wire2pkt(&reply, header.data(), header.size()), LDNS_STATUS_OK);
  ldns_rdf* mac = mac_rdf(request_mac);
  ASSERT_EQ(ldns_pkt_tsig_sign(reply, "agent-key.", kSecret, 300, "hmac-sha256.", mac),
            LDNS_STATUS_OK);
  ldns_rdf_deep_free(mac);
  const std::vector<std::uint8_t> by_ldns = to_wire(reply);
  ldns_pkt_free(reply);
  EXPECT_EQ(tsig.verify_response(by_ldns, request_mac, now()).status, TsigCheck::Status::ok);
  // Over another request's MAC, or later than the window: not accepted.
  auto other_mac = request_mac;
  other_mac[0] ^= 1;
  EXPECT_EQ(tsig.verify_response(by_ldns, other_mac, now()).status, TsigCheck::Status::bad_sig);
  EXPECT_EQ(tsig.verify_response(by_ldns, request_mac, now() + 400).status,
            TsigCheck::Status::bad_time);
  // Our own responses, and the errors in them.
  auto ours = header;
  tsig.sign_response(ours, check, 0, now());
  EXPECT_EQ(tsig.verify_response(ours, request_mac, now()).status, TsigCheck::Status::ok);
  TsigCheck refused = check;
  refused.status = TsigCheck::Status::bad_sig;  // answered unsigned, with an empty MAC
  auto unsigned_error = header;
  tsig.sign_response(unsigned_error, refused, dns::wire::rcode::kBadSig, now());
  const TsigCheck error = tsig.verify_response(unsigned_error, request_mac, now());
  EXPECT_EQ(error.status, TsigCheck::Status::bad_sig);
  EXPECT_EQ(error.tsig_error, dns::wire::rcode::kBadSig);
  EXPECT_EQ(tsig.verify_response(header, request_mac, now()).status,
            TsigCheck::Status::unsigned_message);
}

TEST(TsigTest, KeysValidateAndAllowPatterns) {
  EXPECT_THROW(make_tsig_key("k", "hmac-md5", kSecret, {}), KeyError);
  EXPECT_THROW(make_tsig_key("k", "hmac-sha256", "not base64!", {}), KeyError);
  EXPECT_THROW(make_tsig_key("k", "hmac-sha256", "", {}), KeyError);
  // 15 octets ("fifteen octets!") is too short; 16 ("sixteen octets!!") is enough.
  EXPECT_THROW(make_tsig_key("k", "hmac-sha256", "ZmlmdGVlbiBvY3RldHMh", {}), KeyError);
  EXPECT_EQ(make_tsig_key("k", "hmac-sha256", "c2l4dGVlbiBvY3RldHMhIQ==", {}).secret.size(),
            kMinTsigSecret);
  const TsigKey key = make_tsig_key("k", "hmac-sha256", kSecret, {"web", "db-*"});
  EXPECT_TRUE(key.allows("web"));
  EXPECT_TRUE(key.allows("db-main"));
  EXPECT_FALSE(key.allows("webx"));
  EXPECT_FALSE(key.allows("cache"));
  EXPECT_TRUE(make_tsig_key("k", "hmac-sha256", kSecret, {}).allows("anything"));
  EXPECT_EQ(decode_base64("aGVsbG8=", "x"), (std::vector<std::uint8_t>{'h', 'e', 'l', 'l', 'o'}));
}

}  // namespace
}  // namespace signpost::health

namespace signpost::health {
namespace {

// The DNS workers verify and sign with one signer at once, without a lock: every thread's
// MACs must come out right however the threads interleave.
TEST(TsigTest, ThreadsVerifyAndSignWithOneSignerAtOnce) {
  const TsigSigner tsig = signer();
  ldns_pkt* packet = make_update();
  const std::vector<std::uint8_t> unsigned_request = to_wire(packet);
  ldns_pkt_free(packet);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 3000; ++i) {
        std::vector<std::uint8_t> request = unsigned_request;
        tsig.sign_request(request, tsig.keys()[0], now());
        const TsigCheck check = tsig.verify(request, now());
        if (check.status != TsigCheck::Status::ok) ++wrong;
        std::vector<std::uint8_t> response(request.begin(), request.begin() + 12);
        tsig.sign_response(response, check, 0, now());
        if (response.size() <= 12) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace signpost::health
