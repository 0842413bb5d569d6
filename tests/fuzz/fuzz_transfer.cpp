// libFuzzer target: zone transfer requests (AXFR, RFC 5936; IXFR, RFC 1995), with or
// without TSIG (RFC 8945): the request parser and the whole transfer service's answer from
// a small registry, with rules that let 127.0.0.1 transfer unsigned and signed. Every
// response must be framed messages that cover exactly what was written.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dns/wire/reader.hpp"
#include "dns/xfr/transfer_request.hpp"
#include "dns/xfr/transfer_server.hpp"
#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace {

using namespace signpost;

dns::xfr::TransferServer& server() {
  static dns::xfr::TransferServer* instance = [] {
    dns::xfr::TransferSettings settings;
    for (const char* zone : {"svc.internal.", "example.test."}) {
      dns::xfr::TransferPolicy policy;
      policy.zone = testing::wire_name(zone);
      policy.zone_text = zone;
      policy.allow.push_back(*dns::xfr::parse_prefix("127.0.0.1"));
      settings.policies.push_back(policy);
    }
    // The key of the seed corpus (make_corpus.py's agent-key).
    settings.keys.push_back(health::make_tsig_key(
        "agent-key", "hmac-sha256", "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==", {}));
    settings.journal_diffs = 4;
    auto* made = new dns::xfr::TransferServer(std::move(settings), [](const std::string&) {},
                                              [] { return std::uint64_t{1780272000}; });
    static testing::TestRegistry registry;
    registry.store.put_instance(testing::instance("web", "web-1", "host-a", 1, 1, true));
    registry.store.put_instance(testing::instance("web", "web-2", "host-b", 2));
    made->published(registry.publish());
    return made;
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> message(data, size);
  dns::xfr::TransferRequest request;
  (void)dns::xfr::parse_transfer_request(message, request);
  const std::vector<std::uint8_t> framed = server().respond(message, "127.0.0.1");
  std::size_t at = 0;
  while (at + 2 <= framed.size()) at += 2 + dns::wire::load_u16(framed.data() + at);
  if (at != framed.size()) std::abort();
  return 0;
}
