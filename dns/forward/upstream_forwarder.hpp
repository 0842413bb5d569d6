// Forwarding of queries for names outside every served zone to upstream resolvers, through
// one c-ares channel on a thread of its own.
//
// Design. The answer path only notices that a query is to be forwarded (answer_query sets
// `context.forward_query` where it would otherwise refuse it); the worker copies the query
// and hands it here with a reply, as it hands UPDATEs to the heartbeat receiver, so that no
// upstream delays the queries behind it. One thread drives one c-ares channel with poll():
// queries come in through a queue and an eventfd, each takes one of a fixed number of
// in-flight slots (none free: dropped and counted, as a datagram lost), and is sent with
// ares_send, which puts an ID of its own on it. c-ares asks the upstreams in the order
// configured, moves on to the next when one times out, is unreachable or answers SERVFAIL or
// REFUSED, and retries a truncated answer over TCP. Every query has a deadline of
// `timeout` from when it arrived; a query still unanswered then gets SERVFAIL at once,
// whatever c-ares is still trying, so that a client never waits longer than that.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dns/answer/message_handlers.hpp"

namespace signpost::dns::forward {

/// The forwarder could not be set up (c-ares refused its settings); the message says why.
class ForwardError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Fixed settings, from `[forward]` and `[dns]` at start-up.
struct ForwardSettings {
  /// Upstream resolvers in order of preference: "192.0.2.1:53", "[2001:db8::1]:53".
  std::vector<std::string> servers;
  /// How long a client may wait for its answer before it gets SERVFAIL (`forward.timeout_ms`).
  std::chrono::milliseconds timeout{2000};
  /// Our EDNS payload size (`dns.udp_payload`): the most a UDP response may take.
  std::uint16_t udp_payload = 1232;
  /// Queries queued or in flight at once; more are dropped.
  std::size_t max_in_flight = 1024;
};

/// What the forwarder counts. Any thread may read them at any time.
struct ForwardCounters {
  std::atomic<std::uint64_t> forwarded{0};  // handed to the upstreams
  std::atomic<std::uint64_t> answered{0};   // an upstream's answer passed back
  std::atomic<std::uint64_t> failed{0};     // SERVFAIL: no usable answer in time
  std::atomic<std::uint64_t> dropped{0};    // too many in flight: no response
};

/// The Forwarder of signpostd: see the design paragraph above.
class UpstreamForwarder final : public answer::Forwarder {
 public:
  /// Sets up the c-ares channel with `settings.servers`. Control thread; throws ForwardError
  /// when c-ares cannot start or does not take a server.
  explicit UpstreamForwarder(ForwardSettings settings);
  /// Stops the thread; queries still in flight get no response.
  ~UpstreamForwarder() override;
  UpstreamForwarder(const UpstreamForwarder&) = delete;
  UpstreamForwarder& operator=(const UpstreamForwarder&) = delete;

  /// Starts the thread ("dns-forward"). Control thread.
  void start();
  /// Stops the thread and calls every reply still waiting with nothing to send. Idempotent.
  /// Control thread, after the workers have stopped handing queries in.
  void stop();

  /// See answer::Forwarder. Any worker thread; a short lock; allocates.
  void forward(std::vector<std::uint8_t> query, answer::Transport transport,
               answer::UpdateReply reply) override;

  /// Counters; any thread.
  const ForwardCounters& counters() const noexcept { return counters_; }

 private:
  struct Impl;
  ForwardCounters counters_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signpost::dns::forward
