// Proves the answer path never touches the heap: global operator new is replaced by a
// counting one, and answering every kind of query must leave the count unchanged.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "dns/answer/responder.hpp"
#include "dns/wire/types.hpp"
#include "registry/snapshot.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

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

}  // namespace
}  // namespace signpost::dns::answer
