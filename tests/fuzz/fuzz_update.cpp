// libFuzzer target: DNS UPDATE heartbeats (RFC 2136) with TSIG (RFC 8945) and the Update
// Lease option (RFC 9664): TSIG verification, the UPDATE parser, and the heartbeat receiver
// with one key, a fixed wall clock and a fresh registry for every input.
//
// Input: one mode byte, then the message. Mode bit 0 set: the message is first signed with
// the receiver's key at the receiver's time, so that the input gets past TSIG and into the
// parser and the registration behind it. Clear: the message is taken as it is (the corpus's
// signed seeds carry the same key and time). The receiver handles the message twice, so that
// the second is a renewal (repeat) of what the first registered. The message is also read as
// the agent reads a server's response to its UPDATE.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "health/heartbeat_receiver.hpp"
#include "health/protocol/tsig.hpp"
#include "health/protocol/update_request.hpp"
#include "health/protocol/update_response.hpp"
#include "registry/publisher.hpp"
#include "tests/unit/support/test_receiver.hpp"

namespace {

using namespace signpost;

// The key of the seed corpus (tests/fuzz/make_corpus.py): "agent-key", hmac-sha256.
constexpr const char* kKeyName = "agent-key";
constexpr const char* kSecret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==";
// The receiver's wall clock: 2026-06-01 00:00:00 UTC, the time the seeds are signed at.
constexpr std::uint64_t kNow = 1780272000;
constexpr std::uint8_t kSignMode = 0x01;

std::vector<health::TsigKey> keys() {
  std::vector<health::TsigKey> out;
  out.push_back(health::make_tsig_key(kKeyName, "hmac-sha256", kSecret, {"web", "db-*"}));
  return out;
}

// The receiver's own steps, called one by one on the message.
void parse(const health::TsigSigner& signer, std::span<const std::uint8_t> message) {
  const health::TsigCheck check = signer.verify(message, kNow);
  const bool signed_message = check.status != health::TsigCheck::Status::unsigned_message &&
                              check.status != health::TsigCheck::Status::malformed;
  health::UpdateRequest request;
  health::parse_update(message, signed_message ? check.tsig_offset : message.size(), request);
}

// The agent's side: the message read as the response to an UPDATE with its id, signed with
// the key at the fixed time (a response signed over another MAC is as good an input).
void read_as_response(const health::TsigSigner& signer, std::span<const std::uint8_t> message) {
  static const std::vector<std::uint8_t> request_mac(32, 0x5a);
  const std::uint16_t id =
      message.size() >= 2 ? static_cast<std::uint16_t>(message[0] << 8 | message[1]) : 0;
  health::parse_update_response(message, id, request_mac, signer, kNow);
}

// The whole receiver: the message handled twice (the second time it is a replay), on the
// registry thread as the workers hand it there, then the lease tick's changes applied.
void receive(std::span<const std::uint8_t> message) {
  using Rig = signpost::testing::ReceiverRig;
  registry::Publisher publisher(Rig::publisher_settings(), {}, nullptr, nullptr);
  publisher.start();
  {
    health::HeartbeatReceiver receiver(Rig::receiver_settings(std::chrono::seconds(600)), keys(),
                                       publisher, [](const std::string&) {}, [] { return kNow; });
    receiver.process(message);
    receiver.process(message);
    receiver.tick();
  }
  // The registry thread applies what was posted and publishes before it stops.
  publisher.stop();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const health::TsigSigner signer(keys());
  if (size == 0) return 0;
  std::vector<std::uint8_t> message(data + 1, data + size);
  // Signing needs a whole header: it raises ARCOUNT.
  if ((data[0] & kSignMode) != 0 && message.size() >= 12) {
    signer.sign_request(message, signer.keys().front(), kNow);
  }
  parse(signer, message);
  read_as_response(signer, message);
  receive(message);
  return 0;
}
