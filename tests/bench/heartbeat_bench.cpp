// Heartbeat benchmark: signed renewals per second on one core with a large registry, and the
// time from an UPDATE's response to the change being visible in the published snapshot.
//
//   build/tests/bench/signpost_heartbeat_bench [instances=100000] [renewals=200000]
//
// The receiver's work is what is timed: TSIG verification, UPDATE parsing, the plan (or the
// recognition of a repeated renewal) and the response with its signature on the calling
// thread, as a DNS worker does it, and the lease renewals the registry thread makes of them
// at its ticks.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "health/heartbeat_receiver.hpp"
#include "registry/backend/state_file.hpp"
#include "registry/publisher.hpp"

namespace {

using namespace signpost;
using Clock = std::chrono::steady_clock;

constexpr const char* kSecret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==";
const std::string kDomain("\x03svc\x08internal\x00", 14);

void put_u16(std::vector<std::uint8_t>& out, unsigned value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_name(std::vector<std::uint8_t>& out, const std::vector<std::string>& labels) {
  for (const std::string& label : labels) {
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
  }
  out.insert(out.end(), kDomain.begin(), kDomain.end());
}

void put_record_header(std::vector<std::uint8_t>& out, unsigned type, unsigned ttl) {
  put_u16(out, type);
  put_u16(out, 1);  // IN
  put_u16(out, ttl >> 16);
  put_u16(out, ttl & 0xffff);
}

// The UPDATE an agent sends for instance `index` of service `s<index / 10>`: SRV, TXT, A.
std::vector<std::uint8_t> heartbeat(std::size_t index, unsigned weight) {
  const std::string service = "s" + std::to_string(index / 10);
  const std::string id = "i" + std::to_string(index);
  const std::string node = "n" + std::to_string(index);
  std::vector<std::uint8_t> out = {0x12, 0x34, 0x28, 0x00, 0, 1, 0, 0, 0, 3, 0, 0};
  put_name(out, {});
  put_u16(out, 6);  // SOA
  put_u16(out, 1);
  put_name(out, {id, "_" + service, "_tcp"});
  put_record_header(out, 33, 15);
  std::vector<std::uint8_t> srv;
  put_u16(srv, 0);
  put_u16(srv, weight);
  put_u16(srv, 8080);
  put_name(srv, {node, "node"});
  put_u16(out, static_cast<unsigned>(srv.size()));
  out.insert(out.end(), srv.begin(), srv.end());
  put_name(out, {id, "_" + service, "_tcp"});
  put_record_header(out, 16, 15);
  const std::string txt = "health=passing";
  put_u16(out, static_cast<unsigned>(txt.size() + 1));
  out.push_back(static_cast<std::uint8_t>(txt.size()));
  out.insert(out.end(), txt.begin(), txt.end());
  put_name(out, {node, "node"});
  put_record_header(out, 1, 15);
  put_u16(out, 4);
  const std::uint32_t address = 0x0a000000u + static_cast<std::uint32_t>(index);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(address >> shift));
  return out;
}

std::uint64_t wall_seconds() { return static_cast<std::uint64_t>(std::time(nullptr)); }

}  // namespace

int main(int argc, char** argv) {
  const std::size_t instances = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const std::size_t renewals = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200000;

  registry::Publisher::Settings settings;
  settings.apex.domain = kDomain;
  settings.build.domain = kDomain;
  registry::Publisher publisher(settings, {}, nullptr, nullptr);
  publisher.start();
  std::vector<health::TsigKey> keys{health::make_tsig_key("agent-key", "hmac-sha256", kSecret, {})};
  keys[0].max_instances = instances;
  const health::TsigSigner signer(keys);
  health::ReceiverSettings receiver_settings;
  receiver_settings.domain = "svc.internal.";
  receiver_settings.leases.max_lease = std::chrono::seconds(3600);
  health::HeartbeatReceiver receiver(receiver_settings, keys, publisher, [](const std::string&) {});

  // Registrations go the way a worker sends them: to the registry thread, a few thousand
  // queued at a time.
  std::printf("registering %zu instances...\n", instances);
  const std::uint64_t signed_at = wall_seconds();
  std::atomic<std::size_t> answered{0};
  for (std::size_t i = 0; i < instances; ++i) {
    std::vector<std::uint8_t> message = heartbeat(i, 1);
    signer.sign_request(message, signer.keys()[0], signed_at);
    receiver.handle_later(std::move(message), dns::answer::Transport::udp, "127.0.0.1",
                          [&answered](std::vector<std::uint8_t>) { answered.fetch_add(1); });
    if (i % 2000 == 1999) publisher.apply([](registry::Store&) {});
  }
  publisher.apply([](registry::Store&) {});  // wait for the registry thread to catch up
  if (answered.load() != instances || receiver.counters().accepted.load() != instances) {
    std::printf("only %llu of %zu registrations were accepted\n",
                static_cast<unsigned long long>(receiver.counters().accepted.load()), instances);
    return 1;
  }

  // Pre-signed renewals of every instance in turn, each round a second later than the last
  // (an UPDATE signed no later than the last one of its instance is a replay); signing is
  // the agent's cost, not ours.
  std::vector<std::vector<std::uint8_t>> batch;
  const std::size_t distinct = std::min(instances, renewals);
  for (std::size_t i = 0; i < renewals; ++i) {
    std::vector<std::uint8_t> message = heartbeat(i % distinct, 1);
    signer.sign_request(message, signer.keys()[0], signed_at + 1 + i / distinct);
    batch.push_back(std::move(message));
  }
  const std::uint64_t changes_signed_at = signed_at + 2 + renewals / distinct;
  const std::uint64_t generation = publisher.generation();
  // Workers answer renewals and mark them; the registry thread renews the leases at each
  // tick. A tick after each round of `distinct` renewals renews each lease once per
  // renewal, as ticks four times a second do for heartbeats a lease third apart: its time
  // is counted too.
  const auto start = Clock::now();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    receiver.process(batch[i]);
    if ((i + 1) % distinct == 0 || i + 1 == batch.size()) receiver.tick();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("signed heartbeat renewals: %zu in %.3f s = %.0f per second on one core "
              "(%.2f us each); snapshots published during renewals: %llu\n",
              renewals, seconds, static_cast<double>(renewals) / seconds,
              seconds * 1e6 / static_cast<double>(renewals),
              static_cast<unsigned long long>(publisher.generation() - generation));
  std::printf("renewals known as repeats: %llu, refused: %llu\n",
              static_cast<unsigned long long>(receiver.counters().repeated.load()),
              static_cast<unsigned long long>(receiver.counters().rejected.load()));

  // The memory backend's state: what the registry thread spends to encode it (every 2 s
  // or more while leases are renewed).
  {
    std::size_t octets = 0;
    const auto export_start = Clock::now();
    publisher.apply([&](registry::Store& store) { octets = receiver.encode_state(store, 1).size(); });
    const double export_ms = std::chrono::duration<double, std::milli>(Clock::now() - export_start).count();
    std::printf("state of %zu instances: encoded (%zu octets) in %.1f ms on the registry thread\n",
                instances, octets, export_ms);
  }

  // Visibility: a weight change, from the response to the snapshot that shows it.
  double total_ms = 0;
  double worst_ms = 0;
  constexpr int kChanges = 50;
  for (int k = 0; k < kChanges; ++k) {
    std::vector<std::uint8_t> message = heartbeat(static_cast<std::size_t>(k), 2 + static_cast<unsigned>(k));
    signer.sign_request(message, signer.keys()[0], changes_signed_at);
    const std::uint64_t before = publisher.generation();
    std::atomic<bool> done{false};
    Clock::time_point responded;
    receiver.handle_later(std::move(message), dns::answer::Transport::udp, "127.0.0.1",
                          [&](std::vector<std::uint8_t>) {
                            responded = Clock::now();
                            done.store(true);
                          });
    while (!done.load() || publisher.generation() == before) {
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - responded).count();
    total_ms += ms;
    worst_ms = std::max(worst_ms, ms);
  }
  std::printf("response to visible in answers: mean %.2f ms, worst %.2f ms over %d changes "
              "(registry of %zu instances)\n",
              total_ms / kChanges, worst_ms, kChanges, instances);
  publisher.stop();
  return 0;
}
