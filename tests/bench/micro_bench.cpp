// Micro benchmarks of the answer path and of publishing a snapshot.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <filesystem>
#include <string>
#include <vector>

#include "dns/answer/query.hpp"
#include "dns/answer/responder.hpp"
#include "dns/wire/types.hpp"
#include "registry/backend/state_file.hpp"
#include "registry/registry_zone.hpp"
#include "registry/snapshot.hpp"
#include "registry/store.hpp"
#include "tests/unit/registry/backend/sample_state.hpp"
#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace {

using namespace signpost;
namespace rrtype = dns::wire::rrtype;
namespace backend = registry::backend;

void BM_ParseQuery(benchmark::State& state) {
  testing::QueryOptions o;
  o.edns = true;
  const auto query = testing::make_query("_web._tcp.svc.internal.", rrtype::kSrv, o);
  dns::answer::Query parsed;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dns::answer::parse_query(query, parsed));
  }
}
BENCHMARK(BM_ParseQuery);

// A registry of `services` services with 10 instances each, like the load benchmark's.
registry::SnapshotPtr registry_snapshot(testing::TestRegistry& r, int services) {
  for (int s = 0; s < services; ++s) {
    for (int i = 0; i < 10; ++i) {
      auto inst = testing::instance("svc" + std::to_string(s), "i" + std::to_string(i),
                                    "node" + std::to_string((s * 10 + i) % 5000),
                                    static_cast<std::uint8_t>(i + 1),
                                    static_cast<std::uint16_t>(1 + i % 4));
      r.store.put_instance(inst);
    }
  }
  return r.publish();
}

void answer_loop(benchmark::State& state, const registry::Snapshot& snapshot,
                 const std::vector<std::uint8_t>& query) {
  std::vector<std::uint8_t> out(65535);
  dns::answer::AnswerContext context(dns::answer::AnswerOptions{}, 0, 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        dns::answer::answer_query(snapshot, query, out, dns::answer::Transport::udp, context));
  }
}

void BM_AnswerStaticA(benchmark::State& state) {
  const registry::Snapshot snapshot({testing::example_zone()}, 1);
  answer_loop(state, snapshot, testing::make_query("www.example.test.", rrtype::kA));
}
BENCHMARK(BM_AnswerStaticA);

void BM_AnswerRegistryA(benchmark::State& state) {
  testing::TestRegistry r(0);
  const auto snapshot = registry_snapshot(r, 1000);
  answer_loop(state, *snapshot, testing::make_query("svc517.svc.internal.", rrtype::kA));
}
BENCHMARK(BM_AnswerRegistryA);

// With EDNS Client Subnet (RFC 7871): one address by rendezvous hashing over the ten.
void BM_AnswerRegistryAClientSubnet(benchmark::State& state) {
  testing::TestRegistry r(0);
  const auto snapshot = registry_snapshot(r, 1000);
  testing::QueryOptions o;
  o.edns = true;
  auto query = testing::make_query("svc517.svc.internal.", rrtype::kA, o);
  const std::uint8_t option[] = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
  query.back() = sizeof option;  // OPT RDLENGTH, the query's last octet
  query.insert(query.end(), option, option + sizeof option);
  answer_loop(state, *snapshot, query);
}
BENCHMARK(BM_AnswerRegistryAClientSubnet);

void BM_AnswerRegistrySrv(benchmark::State& state) {
  testing::TestRegistry r(0);
  const auto snapshot = registry_snapshot(r, 1000);
  testing::QueryOptions o;
  o.edns = true;
  answer_loop(state, *snapshot, testing::make_query("_svc517._tcp.svc.internal.", rrtype::kSrv, o));
}
BENCHMARK(BM_AnswerRegistrySrv);

void BM_AnswerRegistryNxdomain(benchmark::State& state) {
  testing::TestRegistry r(0);
  const auto snapshot = registry_snapshot(r, 1000);
  testing::QueryOptions o;
  o.edns = true;
  answer_loop(state, *snapshot, testing::make_query("x517.svc.internal.", rrtype::kA, o));
}
BENCHMARK(BM_AnswerRegistryNxdomain);

// Heap in use by this process, allocator bookkeeping included.
std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// Heap held per instance by the store and by one view, for the load benchmark's registry:
// 10,000 services of 10 instances on 1,000 shared nodes, one address per node.
void BM_RegistryMemory(benchmark::State& state) {
  for (auto _ : state) {
    const std::size_t before = heap_in_use();
    testing::TestRegistry r(0);
    constexpr int kServices = 10000;
    constexpr int kNodes = 1000;
    for (int s = 0; s < kServices; ++s) {
      for (int i = 0; i < 10; ++i) {
        const int node = (s + i * (kNodes / 10)) % kNodes;
        auto inst = testing::instance("s" + std::to_string(s), "i" + std::to_string(i),
                                      "n" + std::to_string(node), 1,
                                      static_cast<std::uint16_t>(1 + (s * 3 + i) % 10));
        inst.ipv4.front() = {10, 1, static_cast<std::uint8_t>(node >> 8),
                             static_cast<std::uint8_t>(node & 0xFF)};
        r.store.put_instance(inst);
      }
    }
    const std::size_t stored = heap_in_use();
    const auto snapshot = r.publish();
    const std::size_t published = heap_in_use();
    benchmark::DoNotOptimize(snapshot);
    const double instances = kServices * 10.0;
    state.counters["store_B_per_instance"] = static_cast<double>(stored - before) / instances;
    state.counters["view_B_per_instance"] = static_cast<double>(published - stored) / instances;
  }
}
BENCHMARK(BM_RegistryMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

// One instance changes health; the next view and snapshot are built. The cost must not
// grow with the registry: compare /10 (100 instances) with /10000 (100,000 instances).
void BM_PublishOneChange(benchmark::State& state) {
  testing::TestRegistry r(8);
  registry_snapshot(r, static_cast<int>(state.range(0)));
  registry::RegistryZoneSettings apex;
  apex.domain = r.store.settings().domain;
  auto view = r.store.build_view(registry::RegistryView{});
  bool warning = false;
  std::uint32_t serial = 1;
  for (auto _ : state) {
    warning = !warning;
    r.store.set_health("svc3", "i3", warning ? registry::Health::warning : registry::Health::passing);
    view = r.store.build_view(*view);
    apex.serial = ++serial;
    auto snapshot = std::make_shared<const registry::Snapshot>(
        std::vector<std::shared_ptr<const dns::zone::Zone>>{registry::build_registry_zone(apex)}, serial,
        view);
    benchmark::DoNotOptimize(snapshot);
  }
}
BENCHMARK(BM_PublishOneChange)->Arg(10)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The memory backend's state file with N dynamic instances (each with two tags, two
// metadata entries and one or two addresses): encoded, parsed (with every check), and
// saved (written, synced and renamed, in the temporary folder).
void BM_EncodeState(benchmark::State& state) {
  const auto registry = backend::testing::sample_state(static_cast<std::uint32_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(backend::encode_state(registry));
}
BENCHMARK(BM_EncodeState)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_ParseState(benchmark::State& state) {
  const auto bytes = backend::encode_state(
      backend::testing::sample_state(static_cast<std::uint32_t>(state.range(0))));
  for (auto _ : state) benchmark::DoNotOptimize(backend::parse_state(bytes));
  state.counters["MB"] = static_cast<double>(bytes.size()) / 1e6;
}
BENCHMARK(BM_ParseState)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_SaveState(benchmark::State& state) {
  const auto bytes = backend::encode_state(
      backend::testing::sample_state(static_cast<std::uint32_t>(state.range(0))));
  const std::string path =
      (std::filesystem::temp_directory_path() / "signpost-bench.state").string();
  for (auto _ : state) backend::save_state_file(path, bytes);
  std::filesystem::remove(path);
}
BENCHMARK(BM_SaveState)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
