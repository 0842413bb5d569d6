// NOTIFY out: coalesced rounds, retried with backoff until each secondary answers.
#include "dns/xfr/notifier.hpp"

#include <boost/asio/buffer.hpp>

#include "dns/wire/message.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::xfr {

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Retries after 1, 2, 4 and 8 seconds: five sends in all, then 16 s more for the last
// answer, about 31 s, before giving up.
constexpr int kMaxAttempts = 5;

}  // namespace

struct Notifier::Delivery {
  explicit Delivery(asio::io_context& io) : retry(io) {}
  asio::ip::udp::endpoint target;
  std::string text;
  std::uint16_t id = 0;
  int attempts = 0;
  bool answered = true;
  asio::steady_timer retry;
  std::vector<std::uint8_t> message;
  std::vector<std::uint8_t> request_mac;  // the MAC of a signed message; empty: unsigned
};

struct Notifier::ZoneState {
  explicit ZoneState(asio::io_context& io) : interval_timer(io) {}
  const TransferPolicy* policy = nullptr;
  std::string soa;
  Clock::time_point last_round{};
  bool waiting = false;  // a round is due when interval_timer fires
  asio::steady_timer interval_timer;
  std::vector<std::unique_ptr<Delivery>> deliveries;  // one per target
};

std::vector<std::uint8_t> build_notify(std::string_view zone, std::string_view soa, std::uint16_t id) {
  std::vector<std::uint8_t> message(wire::kHeaderSize);
  wire::Header header;
  header.id = id;
  header.flags = static_cast<std::uint16_t>(wire::opcode::kNotify << 11 | wire::flag::kAa);
  header.qdcount = 1;
  header.ancount = soa.empty() ? 0 : 1;
  wire::encode_header(message.data(), header);
  message.insert(message.end(), zone.begin(), zone.end());
  const std::uint8_t question[4] = {0, wire::rrtype::kSoa, 0, wire::rrclass::kIn};
  message.insert(message.end(), question, question + 4);
  message.insert(message.end(), soa.begin(), soa.end());
  return message;
}

Notifier::Notifier(asio::io_context& io, Log log, const health::TsigSigner& signer,
                   WallClock wall_clock, std::chrono::milliseconds first_retry)
    : io_(io),
      log_(std::move(log)),
      signer_(signer),
      wall_clock_(std::move(wall_clock)),
      first_retry_(first_retry) {}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
  stopped_ = true;
  for (auto& [name, zone] : zones_) {
    zone->interval_timer.cancel();
    for (auto& delivery : zone->deliveries) delivery->retry.cancel();
  }
  boost::system::error_code ignored;
  if (v4_) v4_->close(ignored);
  if (v6_) v6_->close(ignored);
}

void Notifier::changed(const TransferPolicy& policy, std::string soa) {
  if (stopped_ || policy.notify.empty()) return;
  auto& slot = zones_[policy.zone];
  if (!slot) {
    slot = std::make_unique<ZoneState>(io_);
    slot->policy = &policy;
    for (const NotifyTarget& target : policy.notify) {
      auto delivery = std::make_unique<Delivery>(io_);
      delivery->target = {asio::ip::make_address(target.address), target.port};
      delivery->text = target.text;
      slot->deliveries.push_back(std::move(delivery));
    }
  }
  ZoneState& zone = *slot;
  zone.soa = std::move(soa);
  if (zone.waiting) return;  // the round already due carries this serial too
  const Clock::time_point due = zone.last_round + policy.notify_interval;
  if (Clock::now() >= due) {
    send_round(zone);
    return;
  }
  zone.waiting = true;
  zone.interval_timer.expires_at(due);
  zone.interval_timer.async_wait([this, &zone](const boost::system::error_code& error) {
    zone.waiting = false;
    if (!error && !stopped_) send_round(zone);
  });
}

void Notifier::send_round(ZoneState& zone) {
  zone.last_round = Clock::now();
  for (auto& delivery : zone.deliveries) {
    delivery->retry.cancel();  // a newer serial replaces the one still being retried
    delivery->id = static_cast<std::uint16_t>(random_());
    delivery->attempts = 0;
    delivery->answered = false;
    delivery->message = build_notify(zone.policy->zone, zone.soa, delivery->id);
    delivery->request_mac.clear();
    // Signed once per round: the retries, within 15 s, stay inside the fudge (RFC 8945 §5.2.3).
    if (const health::TsigKey* key = zone.policy->key.empty() ? nullptr
                                                               : signer_.find(zone.policy->key)) {
      delivery->request_mac = signer_.sign_request(delivery->message, *key, wall_clock_());
    }
    send(*delivery, delivery->message);
  }
}

void Notifier::send(Delivery& delivery, const std::vector<std::uint8_t>& message) {
  ++delivery.attempts;
  sent_.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code error;
  socket_for(delivery.target.address()).send_to(asio::buffer(message), delivery.target, 0, error);
  // A send that failed (no route yet) is retried as a lost one is.
  do_retry(delivery);
}

// The last attempt gets its wait too: a NOTIFY fails only when that passes unanswered.
void Notifier::do_retry(Delivery& delivery) {
  delivery.retry.expires_after(first_retry_ * (1 << (delivery.attempts - 1)));
  delivery.retry.async_wait([this, &delivery](const boost::system::error_code& error) {
    if (error || stopped_ || delivery.answered) return;
    if (delivery.attempts < kMaxAttempts) {
      send(delivery, delivery.message);
      return;
    }
    failed_.fetch_add(1, std::memory_order_relaxed);
    log_("NOTIFY to " + delivery.text + " not answered after " + std::to_string(kMaxAttempts) +
         " attempts; the secondary will poll at its SOA refresh");
  });
}

asio::ip::udp::socket& Notifier::socket_for(const asio::ip::address& address) {
  auto& socket = address.is_v6() ? v6_ : v4_;
  if (!socket) {
    socket = std::make_unique<asio::ip::udp::socket>(
        io_, address.is_v6() ? asio::ip::udp::v6() : asio::ip::udp::v4());
    do_receive(*socket);
  }
  return *socket;
}

void Notifier::do_receive(asio::ip::udp::socket& socket) {
  socket.async_receive_from(
      asio::buffer(receive_buffer_), receive_from_,
      [this, &socket](const boost::system::error_code& error, std::size_t length) {
        if (stopped_ || error == asio::error::operation_aborted) return;
        if (!error) on_response({receive_buffer_.data(), length}, receive_from_);
        do_receive(socket);
      });
}

// A response matches a delivery by source and ID (RFC 1996 §4.8); its rcode does not
// matter: a secondary that answers at all has heard us. To a signed NOTIFY, only an answer
// signed over our MAC counts (RFC 8945 §5.3): anyone can send an unsigned one.
void Notifier::on_response(std::span<const std::uint8_t> message,
                           const asio::ip::udp::endpoint& from) {
  wire::Header header;
  if (!wire::parse_header(message, header) || !header.has(wire::flag::kQr) ||
      header.opcode() != wire::opcode::kNotify) {
    return;
  }
  for (auto& [name, zone] : zones_) {
    for (auto& delivery : zone->deliveries) {
      if (delivery->answered || delivery->id != header.id || delivery->target != from) continue;
      if (!delivery->request_mac.empty() &&
          signer_.verify_response(message, delivery->request_mac, wall_clock_()).status !=
              health::TsigCheck::Status::ok) {
        continue;
      }
      delivery->answered = true;
      delivery->retry.cancel();
      answered_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace signpost::dns::xfr
