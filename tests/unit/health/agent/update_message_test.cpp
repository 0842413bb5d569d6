// The agent's UPDATEs, read back with ldns record by record, their TSIG verified with ldns,
// taken by the server's own receiver; and the reading of replies signed by ldns.
#include "health/agent/update_message.hpp"

#include <gtest/gtest.h>

#include "tests/unit/support/test_receiver.hpp"

#include <ctime>

#include "fake_server.hpp"
#include "health/heartbeat_receiver.hpp"
#include "registry/publisher.hpp"

namespace signpost::health::agent {
namespace {

using namespace testing;

std::uint64_t now() { return static_cast<std::uint64_t>(std::time(nullptr)); }

InstanceRecords web_instance() {
  InstanceRecords out;
  out.domain = "svc.internal.";
  out.id = "web-1";
  out.service = "web";
  out.node = "host-1";
  out.addresses = {"127.0.0.10", "::10"};
  out.port = 8080;
  out.priority = 1;
  out.weight = 5;
  out.tags = {"v1", "canary"};
  out.meta = {{"version", "1.2"}, {"note", "a b=c"}};
  out.health = registry::Health::warning;
  return out;
}

std::vector<std::string> rrs_of(ldns_pkt* pkt, ldns_pkt_section section) {
  std::vector<std::string> out;
  const ldns_rr_list* list = ldns_pkt_get_section_clone(pkt, section);
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
    out.push_back(text_of(ldns_rr_list_rr(list, i)));
  }
  ldns_rr_list_deep_free(const_cast<ldns_rr_list*>(list));
  return out;
}

// The offset after the name at `at` (labels, ending in a root label or a pointer).
std::size_t skip_name(const std::vector<std::uint8_t>& wire, std::size_t at) {
  while (at < wire.size()) {
    const std::uint8_t length = wire[at];
    if (length == 0) return at + 1;
    if (length >= 0xc0) return at + 2;
    at += 1 + length;
  }
  return at;
}

bool verifies(const std::vector<std::uint8_t>& wire, const char* secret) {
  Pkt pkt = parse(wire);
  return pkt &&
         ldns_pkt_tsig_verify(pkt.get(), wire.data(), wire.size(), "agent-key.", secret, nullptr);
}

TEST(UpdateMessage, NamesAndTxt) {
  InstanceRecords web = web_instance();
  EXPECT_EQ(web.instance_name(), "web-1._web._tcp.svc.internal.");
  EXPECT_EQ(web.service_type_name(), "_web._tcp.svc.internal.");
  EXPECT_EQ(web.node_name(), "host-1.node.svc.internal.");
  EXPECT_EQ(web.txt_strings(), (std::vector<std::string>{"health=warning", "tags=v1,canary",
                                                         "version=1.2", "note=a b=c"}));
  web.udp = true;
  web.tags.clear();
  web.meta.clear();
  EXPECT_EQ(web.service_type_name(), "_web._udp.svc.internal.");
  EXPECT_EQ(web.txt_strings(), std::vector<std::string>{"health=warning"});
}

TEST(UpdateMessage, RegistrationHasEveryRecordInOrder) {
  const SignedUpdate update = encode_registration(web_instance(), 30, test_key(), 4242);
  Pkt pkt = parse(update.wire);
  ASSERT_TRUE(pkt);
  EXPECT_EQ(update.id, 4242);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), 4242);
  EXPECT_EQ(ldns_pkt_get_opcode(pkt.get()), LDNS_PACKET_UPDATE);
  EXPECT_FALSE(ldns_pkt_qr(pkt.get()));
  // Zone section: one SOA question for the domain (RFC 2136 §2.3).
  EXPECT_EQ(rrs_of(pkt.get(), LDNS_SECTION_QUESTION),
            std::vector<std::string>{"svc.internal.\tIN\tSOA"});
  EXPECT_EQ(ldns_pkt_ancount(pkt.get()), 0);  // no prerequisites
  EXPECT_EQ(rrs_of(pkt.get(), LDNS_SECTION_AUTHORITY),
            (std::vector<std::string>{
                "web-1._web._tcp.svc.internal.\t0\tANY\tANY\t\\# 0",  // RFC 3597: no rdata
                "web-1._web._tcp.svc.internal.\t30\tIN\tSRV\t1 5 8080 host-1.node.svc.internal.",
                "web-1._web._tcp.svc.internal.\t30\tIN\tTXT\t\"health=warning\" "
                "\"tags=v1,canary\" \"version=1.2\" \"note=a b=c\"",
                "host-1.node.svc.internal.\t30\tIN\tA\t127.0.0.10",
                "host-1.node.svc.internal.\t30\tIN\tAAAA\t::10",
                "_web._tcp.svc.internal.\t30\tIN\tPTR\tweb-1._web._tcp.svc.internal.",
            }));
}

TEST(UpdateMessage, DeleteAllHasNoRdata) {
  const SignedUpdate update = encode_registration(web_instance(), 30, test_key(), 1);
  Pkt pkt = parse(update.wire);
  ASSERT_TRUE(pkt);
  const ldns_rr* first = ldns_rr_list_rr(ldns_pkt_authority(pkt.get()), 0);
  EXPECT_EQ(ldns_rr_get_class(first), LDNS_RR_CLASS_ANY);
  EXPECT_EQ(ldns_rr_get_type(first), LDNS_RR_TYPE_ANY);
  EXPECT_EQ(ldns_rr_ttl(first), 0u);
  EXPECT_EQ(ldns_rr_rd_count(first), 0u);
  // And on the wire: the first record after the zone section is owner, type ANY, class ANY,
  // TTL 0, RDLENGTH 0 (RFC 2136 §2.5.3).
  std::size_t at = 12;
  at = skip_name(update.wire, at) + 4;  // zone name, type, class
  at = skip_name(update.wire, at);
  const std::vector<std::uint8_t> fields(
      update.wire.begin() + static_cast<std::ptrdiff_t>(at),
      update.wire.begin() + static_cast<std::ptrdiff_t>(at + 10));
  EXPECT_EQ(fields, (std::vector<std::uint8_t>{0, 255, 0, 255, 0, 0, 0, 0, 0, 0}));
}

TEST(UpdateMessage, LeaseOptionAndTsigAreLast) {
  const SignedUpdate update = encode_registration(web_instance(), 30, test_key(), 7);
  Pkt pkt = parse(update.wire);
  ASSERT_TRUE(pkt);
  // OPT with the 4-octet Update Lease (RFC 9664 §4).
  ASSERT_TRUE(ldns_pkt_edns(pkt.get()));
  const ldns_edns_option_list* options = ldns_pkt_edns_get_option_list(pkt.get());
  ASSERT_NE(options, nullptr);
  ASSERT_EQ(ldns_edns_option_list_get_count(options), 1u);
  const ldns_edns_option* lease = ldns_edns_option_list_get_option(options, 0);
  EXPECT_EQ(ldns_edns_get_code(lease), 2);
  ASSERT_EQ(ldns_edns_get_size(lease), 4u);
  const std::uint8_t* data = ldns_edns_get_data(lease);
  EXPECT_EQ((data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3], 30);
  // ARCOUNT 2: OPT, then TSIG (RFC 8945 §4.2: TSIG is the last record).
  EXPECT_EQ((update.wire[10] << 8) | update.wire[11], 2);
  const ldns_rr* tsig = ldns_pkt_tsig(pkt.get());
  ASSERT_NE(tsig, nullptr);
  EXPECT_EQ(text_of(ldns_rr_owner(tsig)), "agent-key.");
  EXPECT_EQ(text_of(ldns_rr_rdf(tsig, 0)), "hmac-sha256.");
  EXPECT_EQ(ldns_rdf2native_int16(ldns_rr_rdf(tsig, 2)), 300);  // fudge
  const std::uint8_t* time = ldns_rdf_data(ldns_rr_rdf(tsig, 1));
  std::uint64_t signed_at = 0;
  for (int i = 0; i < 6; ++i) signed_at = (signed_at << 8) | time[i];
  EXPECT_LE(signed_at > now() ? signed_at - now() : now() - signed_at, 5u);
  EXPECT_EQ(update.mac.size(), 32u);  // SHA-256
  EXPECT_TRUE(
      std::equal(update.mac.begin(), update.mac.end(), ldns_rdf_data(ldns_rr_rdf(tsig, 3)) + 2));
  // The TSIG verifies with the key, and not with another secret.
  EXPECT_TRUE(verifies(update.wire, kSecret));
  EXPECT_FALSE(verifies(update.wire, kOtherSecret));
  std::vector<std::uint8_t> tampered = update.wire;
  tampered[40] ^= 1;
  EXPECT_FALSE(verifies(tampered, kSecret));
}

TEST(UpdateMessage, SignsWithHmacSha512) {
  const SignedUpdate update = encode_registration(web_instance(), 30, test_key("hmac-sha512"), 7);
  Pkt pkt = parse(update.wire);
  ASSERT_TRUE(pkt);
  EXPECT_EQ(text_of(ldns_rr_rdf(ldns_pkt_tsig(pkt.get()), 0)), "hmac-sha512.");
  EXPECT_EQ(update.mac.size(), 64u);
  EXPECT_TRUE(verifies(update.wire, kSecret));
}

TEST(UpdateMessage, SignedWithTheServersTsigCode) {
  // The agent signs through health/tsig: the server's verifier takes its UPDATEs as they
  // are, and ldns (the tests above) agrees.
  for (const char* algorithm : {"hmac-sha256", "hmac-sha512"}) {
    const SignedUpdate update = encode_registration(web_instance(), 30, test_key(algorithm), 8);
    const TsigSigner server({make_tsig_key("agent-key", algorithm, kSecret, {})});
    const TsigCheck check = server.verify(update.wire, now());
    EXPECT_EQ(check.status, TsigCheck::Status::ok) << algorithm;
    EXPECT_EQ(check.mac, update.mac);
    EXPECT_EQ(check.original_id, 8);
    EXPECT_EQ(check.fudge, kTsigFudge);
  }
  EXPECT_THROW(encode_registration(web_instance(), 30, test_key("hmac-md5"), 9), UpdateError);
  EXPECT_THROW(encode_deregistration(web_instance(), test_key("hmac-sha256", "aGVsbG8="), 9),
               UpdateError);
}

TEST(UpdateMessage, DeregistrationDeletesNameAndPtrWithoutLease) {
  const SignedUpdate update = encode_deregistration(web_instance(), test_key(), 99);
  Pkt pkt = parse(update.wire);
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_get_opcode(pkt.get()), LDNS_PACKET_UPDATE);
  EXPECT_EQ(rrs_of(pkt.get(), LDNS_SECTION_QUESTION),
            std::vector<std::string>{"svc.internal.\tIN\tSOA"});
  EXPECT_EQ(rrs_of(pkt.get(), LDNS_SECTION_AUTHORITY),
            (std::vector<std::string>{
                "web-1._web._tcp.svc.internal.\t0\tANY\tANY\t\\# 0",  // RFC 3597: no rdata
                "_web._tcp.svc.internal.\t0\tNONE\tPTR\tweb-1._web._tcp.svc.internal.",
            }));
  EXPECT_FALSE(ldns_pkt_edns(pkt.get()));
  EXPECT_EQ((update.wire[10] << 8) | update.wire[11], 1);  // the TSIG alone
  EXPECT_TRUE(verifies(update.wire, kSecret));
}

TEST(UpdateMessage, UpperCaseNamesAndIpv6) {
  InstanceRecords web = web_instance();
  web.domain = "Svc.Internal.";
  web.id = "Web-1";
  web.node = "Host-1";
  web.addresses = {"2001:db8::10", "fe80::1:2:3:4", "10.0.0.1"};
  const SignedUpdate update = encode_registration(web, 30, test_key(), 3);
  Pkt pkt = parse(update.wire);
  ASSERT_TRUE(pkt);
  EXPECT_EQ(rrs_of(pkt.get(), LDNS_SECTION_QUESTION),
            std::vector<std::string>{"Svc.Internal.\tIN\tSOA"});
  const std::vector<std::string> updates = rrs_of(pkt.get(), LDNS_SECTION_AUTHORITY);
  ASSERT_EQ(updates.size(), 7u);
  EXPECT_EQ(updates[1],
            "Web-1._web._tcp.Svc.Internal.\t30\tIN\tSRV\t1 5 8080 Host-1.node.Svc.Internal.");
  EXPECT_EQ(updates[3], "Host-1.node.Svc.Internal.\t30\tIN\tAAAA\t2001:db8::10");
  EXPECT_EQ(updates[4], "Host-1.node.Svc.Internal.\t30\tIN\tAAAA\tfe80::1:2:3:4");
  EXPECT_EQ(updates[5], "Host-1.node.Svc.Internal.\t30\tIN\tA\t10.0.0.1");
  EXPECT_EQ(updates[6], "_web._tcp.Svc.Internal.\t30\tIN\tPTR\tWeb-1._web._tcp.Svc.Internal.");
  EXPECT_TRUE(verifies(update.wire, kSecret));
}

TEST(UpdateMessage, ManyTagsAndMeta) {
  InstanceRecords web = web_instance();
  web.tags.clear();
  for (int i = 0; i < 40; ++i) web.tags.push_back("t" + std::to_string(i));
  web.meta.clear();
  for (int i = 0; i < 60; ++i) {
    web.meta.emplace_back("k" + std::to_string(i), "v" + std::to_string(i));
  }
  const SignedUpdate update = encode_registration(web, 30, test_key(), 4);
  Pkt pkt = parse(update.wire);
  ASSERT_TRUE(pkt);
  const ldns_rr* txt = ldns_rr_list_rr(ldns_pkt_authority(pkt.get()), 2);
  ASSERT_EQ(ldns_rr_get_type(txt), LDNS_RR_TYPE_TXT);
  const std::vector<std::string> strings = web.txt_strings();
  ASSERT_EQ(ldns_rr_rd_count(txt), strings.size());
  for (std::size_t i = 0; i < strings.size(); ++i) {
    EXPECT_EQ(text_of(ldns_rr_rdf(txt, i)), "\"" + strings[i] + "\"");
  }
  EXPECT_TRUE(verifies(update.wire, kSecret));
}

TEST(UpdateMessage, TxtStringsOf255OctetsAndNoMore) {
  InstanceRecords web = web_instance();
  web.meta = {{"long", std::string(250, 'v')}};  // "long=" + 250: 255 octets
  const SignedUpdate update = encode_registration(web, 30, test_key(), 5);
  Pkt pkt = parse(update.wire);
  ASSERT_TRUE(pkt);
  const ldns_rr* txt = ldns_rr_list_rr(ldns_pkt_authority(pkt.get()), 2);
  EXPECT_EQ(text_of(ldns_rr_rdf(txt, 2)), "\"long=" + std::string(250, 'v') + "\"");
  web.meta = {{"long", std::string(251, 'v')}};
  try {
    encode_registration(web, 30, test_key(), 5);
    ADD_FAILURE() << "a 256-octet TXT string was encoded";
  } catch (const UpdateError& e) {
    EXPECT_NE(std::string(e.what()).find("255"), std::string::npos) << e.what();
  }
}

TEST(UpdateMessage, MessageOver65535OctetsIsAnError) {
  InstanceRecords web = web_instance();
  for (int i = 0; i < 300; ++i) {
    web.meta.emplace_back("k" + std::to_string(i), std::string(240, 'v'));
  }
  try {
    encode_registration(web, 30, test_key(), 6);
    ADD_FAILURE() << "an UPDATE of more than 65535 octets was encoded";
  } catch (const UpdateError& e) {
    EXPECT_NE(std::string(e.what()).find("65535"), std::string::npos) << e.what();
  }
  web.addresses = {"10.0.0.300"};
  web.meta.clear();
  EXPECT_THROW(encode_registration(web, 30, test_key(), 6), UpdateError);
  web.addresses = {"10.0.0.1"};
  web.node = "bad..node";
  EXPECT_THROW(encode_registration(web, 30, test_key(), 6), UpdateError);
}

// What the agent builds, the server's receiver takes with the same key; a changed octet makes
// it NOTAUTH with BADSIG, unsigned, which the agent reads as such (RFC 8945 §5.3.2).
TEST(UpdateMessage, TheServersReceiverAcceptsIt) {
  signpost::testing::ReceiverRig rig({make_tsig_key("agent-key", "hmac-sha256", kSecret, {})});
  auto& receiver = rig.receiver;
  InstanceRecords web = web_instance();
  web.domain = "SVC.internal.";
  web.addresses = {"10.0.0.1", "2001:db8::1"};
  const SignedUpdate update = encode_registration(web, 30, test_key(), 21);
  UpdateReply reply = parse_update_reply(receiver.process(update.wire), update, test_key(), now());
  EXPECT_TRUE(reply.accepted()) << reply.describe();
  EXPECT_EQ(reply.lease, 30u);
  std::optional<registry::Instance> found;
  rig.publisher.apply([&](registry::Store& store) { found = store.find_instance("web", "web-1"); });
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->ipv6.size(), 1u);
  EXPECT_EQ(found->health, registry::Health::warning);

  SignedUpdate tampered = encode_registration(web, 31, test_key(), 22);
  tampered.wire[40] ^= 0x01;
  reply = parse_update_reply(receiver.process(tampered.wire), tampered, test_key(), now());
  EXPECT_FALSE(reply.accepted());
  EXPECT_EQ(reply.describe(), "NOTAUTH (BADSIG)");

  const SignedUpdate gone = encode_deregistration(web, test_key(), 23);
  reply = parse_update_reply(receiver.process(gone.wire), gone, test_key(), now());
  EXPECT_TRUE(reply.accepted()) << reply.describe();
  rig.publisher.apply([&](registry::Store& store) { found = store.find_instance("web", "web-1"); });
  EXPECT_FALSE(found.has_value());
  receiver.stop();
}

TEST(UpdateReply, AcceptedWithGrantedLease) {
  const SignedUpdate update = encode_registration(web_instance(), 30, test_key(), 11);
  const auto wire = make_reply(update.wire, Answer{.lease = 20});
  const UpdateReply reply = parse_update_reply(wire, update, test_key(), now());
  EXPECT_TRUE(reply.well_formed);
  EXPECT_TRUE(reply.signed_ok) << reply.problem;
  EXPECT_TRUE(reply.accepted());
  EXPECT_EQ(reply.lease, 20u);
  EXPECT_EQ(reply.describe(), "NOERROR");
}

TEST(UpdateReply, SignatureMustVerifyOverTheRequestMac) {
  const SignedUpdate update = encode_registration(web_instance(), 30, test_key(), 12);
  // Signed with another secret.
  UpdateReply reply =
      parse_update_reply(make_reply(update.wire, Answer{.lease = 20, .secret = kOtherSecret}),
                         update, test_key(), now());
  EXPECT_FALSE(reply.accepted());
  EXPECT_EQ(reply.describe(), "NOERROR, but reply signature does not verify");
  // Unsigned.
  reply =
      parse_update_reply(make_reply(update.wire, Answer{.sign = false}), update, test_key(), now());
  EXPECT_FALSE(reply.accepted());
  EXPECT_EQ(reply.describe(), "NOERROR, but reply is not signed");
  // Signed over another request's MAC.
  const SignedUpdate other = encode_registration(web_instance(), 31, test_key(), 12);
  reply = parse_update_reply(make_reply(other.wire, Answer{}), update, test_key(), now());
  EXPECT_FALSE(reply.signed_ok);
  // Signed too long ago (RFC 8945 §5.4).
  reply = parse_update_reply(make_reply(update.wire, Answer{}), update, test_key(), now() + 400);
  EXPECT_FALSE(reply.accepted());
  EXPECT_NE(reply.problem.find("away from our clock"), std::string::npos) << reply.problem;
}

TEST(UpdateReply, ErrorsAndMismatches) {
  const SignedUpdate update = encode_registration(web_instance(), 30, test_key(), 13);
  UpdateReply reply =
      parse_update_reply(make_reply(update.wire, Answer{.rcode = 5}), update, test_key(), now());
  EXPECT_TRUE(reply.well_formed);
  EXPECT_FALSE(reply.accepted());
  EXPECT_EQ(reply.describe(), "REFUSED");
  // A reply for another id is not this request's.
  const SignedUpdate other = encode_registration(web_instance(), 30, test_key(), 14);
  reply = parse_update_reply(make_reply(other.wire, Answer{}), update, test_key(), now());
  EXPECT_FALSE(reply.well_formed);
  EXPECT_EQ(reply.describe(), "reply does not answer the UPDATE");
  reply = parse_update_reply(std::vector<std::uint8_t>{1, 2, 3}, update, test_key(), now());
  EXPECT_FALSE(reply.well_formed);
  EXPECT_EQ(reply.describe(), "reply is not a DNS message");
}

// NOTAUTH with TSIG error BADSIG: the server could not verify us, so its TSIG carries an
// empty MAC (RFC 8945 §5.3.2); the error still shows in the log.
TEST(UpdateReply, NotAuthShowsTheTsigError) {
  const SignedUpdate update = encode_registration(web_instance(), 30, test_key(), 15);
  Pkt reply = parse(make_reply(update.wire, Answer{.rcode = 9, .sign = false}));
  Pkt request = parse(update.wire);
  ldns_rr* tsig = ldns_rr_clone(ldns_pkt_tsig(request.get()));
  ldns_rdf_deep_free(ldns_rr_set_rdf(tsig, ldns_native2rdf_int16_data(0, nullptr), 3));
  ldns_rdf_deep_free(ldns_rr_set_rdf(tsig, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 16), 5));
  ldns_pkt_set_tsig(reply.get(), tsig);
  const UpdateReply parsed = parse_update_reply(to_wire(reply.get()), update, test_key(), now());
  EXPECT_EQ(parsed.rcode, 9);
  EXPECT_EQ(parsed.tsig_error, 16);
  EXPECT_FALSE(parsed.accepted());
  EXPECT_EQ(parsed.describe(), "NOTAUTH (BADSIG)");
}

TEST(UpdateReply, RcodeNames) {
  EXPECT_EQ(rcode_name(0), "NOERROR");
  EXPECT_EQ(rcode_name(4), "NOTIMP");
  EXPECT_EQ(rcode_name(18), "BADTIME");
  EXPECT_EQ(rcode_name(300), "RCODE300");
}

}  // namespace
}  // namespace signpost::health::agent
