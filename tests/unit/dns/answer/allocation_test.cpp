// Proves the answer path never touches the heap: global operator new is replaced by a
// counting one, and answering every kind of query must leave the count unchanged.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "dns/answer/responder.hpp"
#include "dns/wire/types.hpp"
#include "registry/snapshot.hpp"
#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
// With -fsanitize, GCC inlines these into `new T` and takes free() of what the replaced
// operator new returned for a mismatch; both sides are the malloc and free above and below.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace signpost::dns::answer {
namespace {

namespace rrtype = wire::rrtype;

TEST(AnswerAllocation, AnswerPathAllocatesNothing) {
  const registry::Snapshot snapshot({testing::example_zone()}, 1);
  testing::QueryOptions edns;
  edns.edns = true;
  std::vector<std::vector<std::uint8_t>> queries;
  for (const char* name : {"www.example.test.", "nope.example.test.", "chain1.example.test.",
                           "a.wild.example.test.", "b.example.test.", "x.sub.example.test.",
                           "big.example.test.", "mx.example.test.", "example.org."}) {
    for (const std::uint16_t type : {rrtype::kA, rrtype::kMx, rrtype::kAny, rrtype::kNs}) {
      queries.push_back(testing::make_query(name, type));
      queries.push_back(testing::make_query(name, type, edns));
    }
  }
  queries.push_back({1, 2, 3});
  std::vector<std::uint8_t> out(65535);
  AnswerContext context(AnswerOptions{}, 0, 7);
  const std::size_t before = g_allocations.load();
  std::size_t bytes = 0;
  for (const auto& q : queries) {
    bytes += answer_query(snapshot, q, out, Transport::udp, context);
    bytes += answer_query(snapshot, q, out, Transport::tcp, context);
  }
  const std::size_t after = g_allocations.load();
  EXPECT_GT(bytes, 0u);
  EXPECT_EQ(after - before, 0u);
}

TEST(AnswerAllocation, RegistryAnswersAllocateNothing) {
  testing::TestRegistry registry(0);
  for (int i = 0; i < 40; ++i) {
    auto inst = testing::instance("web", "web-" + std::to_string(i), "node-" + std::to_string(i % 7),
                                  static_cast<std::uint8_t>(i + 1), 1, i % 2 == 0);
    if (i % 3 == 0) inst.tags.emplace_back("blue");
    inst.priority = static_cast<std::uint16_t>(i % 2);
    registry.store.put_instance(inst);
  }
  const auto snapshot = registry.publish();
  testing::QueryOptions edns;
  edns.edns = true;
  std::vector<std::vector<std::uint8_t>> queries;
  for (const char* name : {"web.svc.internal.", "blue.web.svc.internal.", "_web._tcp.svc.internal.",
                           "web-3._web._tcp.svc.internal.", "node-2.node.svc.internal.",
                           "nothing.svc.internal.", "red.web.svc.internal.", "svc.internal.",
                           "_services._dns-sd._udp.svc.internal."}) {
    for (const std::uint16_t type : {rrtype::kA, rrtype::kAaaa, rrtype::kSrv, rrtype::kPtr,
                                     rrtype::kTxt, rrtype::kAny, rrtype::kMx}) {
      queries.push_back(testing::make_query(name, type));
      queries.push_back(testing::make_query(name, type, edns));
      // With EDNS Client Subnet (RFC 7871): an IPv4 /24, answered by rendezvous hashing.
      auto subnet = testing::make_query(name, type, edns);
      const std::uint8_t option[] = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
      subnet[subnet.size() - 1] = sizeof option;
      subnet.insert(subnet.end(), option, option + sizeof option);
      queries.push_back(std::move(subnet));
    }
  }
  // The batch hint reads the queries before they are checked: it must take these too.
  std::vector<std::vector<std::uint8_t>> malformed = {
      {}, std::vector<std::uint8_t>(12), std::vector<std::uint8_t>(13, 0x3f),
      testing::make_query("WEB.svc.internal.", rrtype::kA), testing::make_query("_WEB._tcp.svc.internal.", rrtype::kSrv)};
  malformed.push_back(malformed[3]);
  malformed.back().resize(14);  // a label longer than what is left
  std::vector<std::span<const std::uint8_t>> batch(queries.begin(), queries.end());
  batch.insert(batch.end(), malformed.begin(), malformed.end());
  std::vector<std::uint8_t> out(65535);
  for (const OrderMode mode : {OrderMode::weighted, OrderMode::round_robin}) {
    AnswerOptions options;
    options.order = mode;
    AnswerContext context(options, 0, 7);
    const std::size_t before = g_allocations.load();
    std::size_t bytes = 0;
    for (std::size_t at = 0; at < batch.size(); at += 32) {
      prefetch_answers(*snapshot, std::span(batch).subspan(at, std::min<std::size_t>(32, batch.size() - at)));
    }
    for (const auto& q : queries) {
      bytes += answer_query(*snapshot, q, out, Transport::udp, context);
      bytes += answer_query(*snapshot, q, out, Transport::tcp, context);
    }
    const std::size_t after = g_allocations.load();
    EXPECT_GT(bytes, 0u);
    EXPECT_EQ(after - before, 0u);
  }
}

// COOKIE options (fresh, echoed, invalid, malformed) and every rate-limit decision.
TEST(AnswerAllocation, CookiesAndRateLimitingAllocateNothing) {
  const registry::Snapshot snapshot({testing::example_zone()}, 1);
  testing::QueryOptions edns;
  edns.edns = true;
  std::vector<std::vector<std::uint8_t>> queries;
  for (const std::size_t length : {8u, 24u, 5u, 40u}) {
    std::vector<std::uint8_t> q = testing::make_query("www.example.test.", rrtype::kA, edns);
    q[q.size() - 1] = static_cast<std::uint8_t>(4 + length);  // OPT RDLENGTH
    const std::uint8_t header[] = {0, 10, 0, static_cast<std::uint8_t>(length)};
    q.insert(q.end(), header, header + 4);
    q.insert(q.end(), length, 0x42);
    queries.push_back(std::move(q));
  }
  std::vector<std::uint8_t> out(65535);
  AnswerContext context(AnswerOptions{}, 0, 7);
  const std::uint8_t client[] = {192, 0, 2, 1};
  context.client = ipv4_client(client);
  context.now = 1700000000;
  const std::size_t before = g_allocations.load();
  std::size_t bytes = 0;
  for (const RateAction action : {RateAction::answer, RateAction::drop, RateAction::slip}) {
    context.rate_action = action;
    for (const auto& q : queries) bytes += answer_query(snapshot, q, out, Transport::udp, context);
  }
  const std::size_t after = g_allocations.load();
  EXPECT_GT(bytes, 0u);
  EXPECT_EQ(after - before, 0u);
  EXPECT_GT(context.counters.rate_limited, 0u);
  EXPECT_GT(context.counters.rate_slipped, 0u);
}

// The forwarding decision: clients in and out of forward.allow, of both families.
TEST(AnswerAllocation, ForwardAccessCheckAllocatesNothing) {
  const registry::Snapshot snapshot({testing::example_zone()}, 1);
  AnswerOptions options;
  options.forward = true;
  std::string why;
  for (const char* text : {"10.0.0.0/8", "2001:db8::/32", "127.0.0.0/8", "::1/128"}) {
    options.forward_allow.push_back(parse_client_prefix(text, why).value());
  }
  AnswerContext context(options, 0, 7);
  const std::vector<std::uint8_t> query = testing::make_query("www.example.org.", rrtype::kA);
  const std::uint8_t allowed[] = {127, 0, 0, 1};
  const std::uint8_t denied[] = {192, 0, 2, 1};
  ClientAddress ipv6_denied{};
  ipv6_denied[0] = 0x20;
  std::vector<std::uint8_t> out(65535);
  std::size_t forwarded = 0;
  std::size_t bytes = 0;
  const std::size_t before = g_allocations.load();
  for (const ClientAddress& client : {ipv4_client(allowed), ipv4_client(denied), ipv6_denied}) {
    context.client = client;
    bytes += answer_query(snapshot, query, out, Transport::udp, context);
    forwarded += context.forward_query ? 1 : 0;
  }
  const std::size_t after = g_allocations.load();
  EXPECT_EQ(forwarded, 1u);
  EXPECT_GT(bytes, 0u);
  EXPECT_EQ(after - before, 0u);
}

}  // namespace
}  // namespace signpost::dns::answer
