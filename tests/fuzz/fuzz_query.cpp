// libFuzzer target: one DNS message through the whole answer path (validation ladder,
// lookup, ordering, encoding) over UDP and over TCP, against a registry with a few services
// and instances plus the static zone example.test. The input is the raw message.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dns/answer/responder.hpp"
#include "tests/unit/support/test_registry.hpp"

namespace {

using namespace signpost;

// web: three instances on two nodes, one with IPv6, one tagged; db over TCP; dns over UDP;
// idle: every instance critical (the empty answer).
registry::SnapshotPtr make_snapshot() {
  testing::TestRegistry registry(2);
  registry::Store& store = registry.store;
  store.put_instance(testing::instance("web", "web-1", "host-a", 1, 3, true));
  store.put_instance(testing::instance("web", "web-2", "host-a", 2));
  registry::Instance tagged = testing::instance("web", "web-3", "host-b", 3, 0);
  tagged.tags = {"primary"};
  tagged.meta = {{"version", "1.2"}};
  store.put_instance(tagged);
  store.put_instance(testing::instance("db", "db-1", "host-c", 9), registry::Protocol::tcp);
  store.put_instance(testing::instance("dns", "dns-1", "host-c", 9, 1, true),
                     registry::Protocol::udp);
  registry::Instance critical = testing::instance("idle", "idle-1", "host-d", 20);
  critical.health = registry::Health::critical;
  store.put_instance(critical);
  return registry.publish();
}

// The buffers the workers answer into: a UDP slot and a TCP message (net/worker.hpp).
constexpr std::size_t kUdpOut = 4096;
constexpr std::size_t kTcpOut = 65535;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const registry::SnapshotPtr snapshot = make_snapshot();
  static dns::answer::AnswerContext context(dns::answer::AnswerOptions{}, 0, 1);
  // Exactly sized heap buffers, so that AddressSanitizer sees a write past either end.
  static std::vector<std::uint8_t> udp_out(kUdpOut);
  static std::vector<std::uint8_t> tcp_out(kTcpOut);

  const std::span<const std::uint8_t> query(data, size);
  dns::answer::prefetch_answers(*snapshot, {&query, 1});
  // Cookies are checked against an IPv4 client; UDP answers go through each rate-limit
  // decision in turn (picked by the input's length, so that the corpus keeps its meaning).
  static const std::uint8_t client[] = {192, 0, 2, 1};
  context.client = dns::answer::ipv4_client(client);
  context.now = 1700000000;
  context.rate_action = static_cast<dns::answer::RateAction>(size % 3);
  const std::size_t udp = dns::answer::answer_query(*snapshot, query, udp_out,
                                                    dns::answer::Transport::udp, context);
  context.rate_action = dns::answer::RateAction::answer;  // TCP is never limited
  const std::size_t tcp = dns::answer::answer_query(*snapshot, query, tcp_out,
                                                    dns::answer::Transport::tcp, context);
  if (udp > udp_out.size() || tcp > tcp_out.size()) __builtin_trap();
  return 0;
}
