// NOTIFY out (RFC 1996): tells a zone's secondaries that its serial changed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <array>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dns/xfr/transfer_policy.hpp"
#include "health/protocol/tsig.hpp"

namespace signpost::dns::xfr {

/// Sends NOTIFY for each zone to its `notify` targets. Coalesced: at most one round per zone
/// per `notify_interval`; a change inside the interval is sent at its end, with the serial
/// then current. Retried: a target that does not answer gets the NOTIFY again after 1, 2,
/// 4 and 8 seconds (RFC 1996 §3.6 leaves the schedule to us), then is left until the next
/// change; a newer round replaces one still retrying. A zone whose policy names a `key` has
/// its NOTIFY signed with it (RFC 1996 §3.7 with RFC 8945 §4.2), and only an answer whose
/// TSIG verifies against that request counts (§5.3); an unsigned or bad one is ignored, so
/// the NOTIFY is retried as if lost. Runs on the transfer thread's
/// io_context; every function must be called there. Allocates.
class Notifier {
 public:
  using Log = std::function<void(const std::string&)>;
  /// Wall clock in seconds since the epoch, for TSIG.
  using WallClock = std::function<std::uint64_t()>;

  /// The wait before the first retry; each later one waits twice the one before.
  static constexpr std::chrono::milliseconds kFirstRetry{1000};

  /// `signer` holds the keys that policies name; it must outlive the notifier.
  /// `first_retry` replaces kFirstRetry (tests).
  Notifier(boost::asio::io_context& io, Log log, const health::TsigSigner& signer,
           WallClock wall_clock, std::chrono::milliseconds first_retry = kFirstRetry);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  /// The serial of `policy`'s zone changed to the one in `soa` (a whole SOA RR). `policy`
  /// must outlive the notifier.
  void changed(const TransferPolicy& policy, std::string soa);
  /// Cancels timers and closes the sockets.
  void stop();

  /// NOTIFY messages sent (retries included), answered, and given up on (no answer after
  /// the last retry's wait), for metrics and tests. Any thread.
  std::uint64_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }
  std::uint64_t answered() const noexcept { return answered_.load(std::memory_order_relaxed); }
  std::uint64_t failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

 private:
  struct Delivery;
  struct ZoneState;

  void send_round(ZoneState& zone);
  void send(Delivery& delivery, const std::vector<std::uint8_t>& message);
  void do_retry(Delivery& delivery);
  boost::asio::ip::udp::socket& socket_for(const boost::asio::ip::address& address);
  void do_receive(boost::asio::ip::udp::socket& socket);
  void on_response(std::span<const std::uint8_t> message, const boost::asio::ip::udp::endpoint& from);

  boost::asio::io_context& io_;
  Log log_;
  const health::TsigSigner& signer_;
  WallClock wall_clock_;
  std::chrono::milliseconds first_retry_;
  std::unique_ptr<boost::asio::ip::udp::socket> v4_;
  std::unique_ptr<boost::asio::ip::udp::socket> v6_;
  std::array<std::uint8_t, 4096> receive_buffer_{};
  boost::asio::ip::udp::endpoint receive_from_;
  std::map<std::string, std::unique_ptr<ZoneState>> zones_;  // by zone (wire)
  std::mt19937 random_{std::random_device{}()};
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> answered_{0};
  std::atomic<std::uint64_t> failed_{0};
  bool stopped_ = false;
};

/// The NOTIFY request for `zone` (wire form) carrying `soa` (a whole SOA RR) in its answer
/// section (RFC 1996 §3.7), with `id`. Any thread; allocates.
std::vector<std::uint8_t> build_notify(std::string_view zone, std::string_view soa, std::uint16_t id);

}  // namespace signpost::dns::xfr
