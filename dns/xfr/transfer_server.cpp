// Zone transfer out: the transfer thread, request handling and the zones' journals.
#include "dns/xfr/transfer_server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "dns/wire/reader.hpp"
#include "dns/wire/serial.hpp"
#include "dns/wire/types.hpp"
#include "dns/xfr/notifier.hpp"
#include "dns/xfr/transfer_request.hpp"
#include "dns/xfr/transfer_writer.hpp"
#include "dns/xfr/zone_journal.hpp"

namespace signpost::dns::xfr {

namespace {

namespace asio = boost::asio;
namespace rcode = wire::rcode;
using health::TsigCheck;

std::uint64_t system_seconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

void append_framed(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& message) {
  out.push_back(static_cast<std::uint8_t>(message.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(message.size()));
  out.insert(out.end(), message.begin(), message.end());
}

TransferType type_of(const TransferRequest& request) {
  return request.qtype == wire::rrtype::kIxfr ? TransferType::ixfr : TransferType::axfr;
}

TransferResult result_of(std::uint16_t code) {
  switch (code) {
    case rcode::kNotAuth: return TransferResult::notauth;
    case rcode::kFormErr: return TransferResult::formerr;
    case rcode::kNoError: return TransferResult::ok;
    default: return TransferResult::refused;
  }
}

// The zone of `snapshot` whose apex is exactly `origin`, or nullptr.
const zone::Zone* zone_at(const registry::Snapshot& snapshot, const std::string& origin) {
  const zone::Zone* zone = snapshot.find_zone(std::string_view(origin));
  return zone != nullptr && zone->origin() == origin ? zone : nullptr;
}

}  // namespace

std::string_view transfer_type_label(TransferType type) noexcept {
  return type == TransferType::ixfr ? "ixfr" : "axfr";
}

std::string_view transfer_result_label(TransferResult result) noexcept {
  switch (result) {
    case TransferResult::ok: return "ok";
    case TransferResult::refused: return "refused";
    case TransferResult::notauth: return "notauth";
    case TransferResult::formerr: return "formerr";
  }
  return "ok";
}

struct TransferServer::Impl {
  Impl(TransferSettings settings_in, Log log_in, WallClock clock)
      : settings(std::move(settings_in)),
        log(std::move(log_in)),
        wall_clock(clock ? std::move(clock) : WallClock(system_seconds)),
        signer(settings.keys),
        work(asio::make_work_guard(io)),
        notifier(io, log, signer, wall_clock) {
    for (const TransferPolicy& policy : settings.policies) {
      journals.emplace(policy.zone, ZoneJournal(settings.journal_diffs, settings.journal_octets));
    }
  }

  void refresh();
  std::vector<std::uint8_t> respond(std::span<const std::uint8_t> message, const std::string& from,
                                    bool datagram);
  std::vector<std::uint8_t> refuse(const TransferRequest& request, const TsigCheck& check,
                                   std::uint16_t code);
  std::vector<std::uint8_t> transfer(const TransferRequest& request, const TsigCheck& check,
                                     const ZoneJournal& journal, bool datagram);
  const TransferPolicy* policy_of(const std::string& zone) const {
    for (const TransferPolicy& policy : settings.policies) {
      if (policy.zone == zone) return &policy;
    }
    return nullptr;
  }

  TransferSettings settings;
  Log log;
  WallClock wall_clock;
  health::TsigSigner signer;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;
  Notifier notifier;

  std::mutex pending_mutex;
  registry::SnapshotPtr pending;  // the newest snapshot not yet looked at
  registry::SnapshotPtr collected;  // the last one looked at (the transfer thread)
  std::atomic<bool> refresh_posted{false};
  std::atomic<std::size_t> queued{0};

  // Counted with atomics, not under `mutex`: a /metrics scrape on the registry thread must
  // not wait while a large transfer is being built.
  void count(const TransferRequest& request, TransferResult result) {
    transfers[static_cast<std::size_t>(type_of(request))][static_cast<std::size_t>(result)]
        .fetch_add(1, std::memory_order_relaxed);
  }

  std::mutex mutex;  // the journals: the transfer thread, or a test's
  std::map<std::string, ZoneJournal> journals;  // by zone (wire)
  std::array<std::array<std::atomic<std::uint64_t>, kTransferResults>, kTransferTypes> transfers{};
};

void TransferServer::Impl::refresh() {
  registry::SnapshotPtr snapshot;
  {
    std::lock_guard lock(pending_mutex);
    snapshot.swap(pending);
  }
  if (!snapshot) return;
  for (const TransferPolicy& policy : settings.policies) {
    const zone::Zone* zone = zone_at(*snapshot, policy.zone);
    if (zone == nullptr) continue;
    // Zones and registry views are shared between snapshots until they change: a zone
    // that is the same object as in the last snapshot (kept alive below) has not changed.
    if (collected && zone == zone_at(*collected, policy.zone) &&
        (zone != snapshot->registry_zone() || snapshot->registry() == collected->registry())) {
      continue;
    }
    auto content = std::make_shared<const ZoneContent>(zone_version(snapshot, *zone));
    const std::string soa = content->soa;
    if (journals.at(policy.zone).record(std::move(content))) notifier.changed(policy, soa);
  }
  collected = std::move(snapshot);
}

std::vector<std::uint8_t> TransferServer::Impl::refuse(const TransferRequest& request,
                                                       const TsigCheck& check, std::uint16_t code) {
  count(request, result_of(code));
  std::vector<std::uint8_t> response = error_response(request, code, true);
  if (request.has_tsig) signer.sign_response(response, check, check.error(), wall_clock());
  std::vector<std::uint8_t> framed;
  append_framed(framed, response);
  return framed;
}

// The whole answer, framed. The checks run in the order BIND and Knot use: the request's
// form, its TSIG (RFC 8945 §5.2), then the zone's rules; a request that is not allowed
// learns nothing about the zone (REFUSED, RFC 5936 §4.2).
std::vector<std::uint8_t> TransferServer::Impl::respond(std::span<const std::uint8_t> message,
                                                        const std::string& from, bool datagram) {
  std::lock_guard lock(mutex);
  refresh();
  TransferRequest request;
  const RequestStatus status = parse_transfer_request(message, request);
  TsigCheck check;
  if (status != RequestStatus::ok) {
    request.has_tsig = false;
    count(request, TransferResult::formerr);
    std::vector<std::uint8_t> framed;
    append_framed(framed, error_response(request, rcode::kFormErr, false));
    return framed;
  }
  if (request.has_tsig) {
    check = signer.verify(message, wall_clock());
    if (check.status == TsigCheck::Status::malformed) {
      request.has_tsig = false;  // nothing to sign with (§5.2)
      return refuse(request, check, rcode::kFormErr);
    }
    if (check.status != TsigCheck::Status::ok) return refuse(request, check, rcode::kNotAuth);
  }
  const TransferPolicy* policy = policy_of(request.zone);
  if (policy == nullptr || !policy->allows(from)) return refuse(request, check, rcode::kRefused);
  // A zone that requires a key: unsigned, or signed with another key, is not allowed.
  if (!policy->key.empty() && (!request.has_tsig || check.key->name_wire != policy->key)) {
    return refuse(request, check, rcode::kRefused);
  }
  const ZoneJournal& journal = journals.at(policy->zone);
  if (!journal.latest()) return refuse(request, check, rcode::kRefused);
  return transfer(request, check, journal, datagram);
}

std::vector<std::uint8_t> TransferServer::Impl::transfer(const TransferRequest& request,
                                                         const TsigCheck& check,
                                                         const ZoneJournal& journal, bool datagram) {
  std::vector<std::uint8_t> framed;
  std::vector<std::uint8_t> prior_mac;
  const std::uint64_t now = wall_clock();
  const std::size_t reserve = request.has_tsig ? signer.response_size(check, 0) : 0;
  TransferWriter writer(request, reserve, [&](std::vector<std::uint8_t>& message) {
    if (request.has_tsig) signer.sign_next(message, check, prior_mac, now);
    append_framed(framed, message);
  });
  count(request, TransferResult::ok);
  const ZoneContent& latest = *journal.latest();
  const bool current = !wire::serial_greater(latest.serial, request.client_serial);
  if (datagram && !current) {
    // Changes do not go over UDP: TC, and the client asks again over TCP (RFC 1995 §2).
    std::vector<std::uint8_t> response = error_response(request, rcode::kNoError, true);
    wire::store_u16(response.data() + 2, static_cast<std::uint16_t>(
                                             wire::load_u16(response.data() + 2) | wire::flag::kTc));
    if (request.has_tsig) signer.sign_response(response, check, 0, now);
    append_framed(framed, response);
    return framed;
  }
  writer.add(latest.soa);
  if (request.qtype == wire::rrtype::kIxfr && current) {
    // The client is current (or ahead): the SOA alone says so (RFC 1995 §2).
    writer.finish();
    return framed;
  }
  const std::vector<const ZoneDiff*> chain = request.qtype == wire::rrtype::kIxfr
                                                 ? journal.changes_since(request.client_serial)
                                                 : std::vector<const ZoneDiff*>{};
  if (!chain.empty()) {
    // Each change: the old SOA, what it deleted, the new SOA, what it added (RFC 1995 §4).
    for (const ZoneDiff* diff : chain) {
      writer.add(diff->from_soa);
      for (const std::string& record : diff->deleted) writer.add(record);
      writer.add(diff->to_soa);
      for (const std::string& record : diff->added) writer.add(record);
    }
  } else {
    // AXFR, or an IXFR from a version the journal no longer reaches: the whole zone, in
    // the AXFR form that RFC 1995 §4 allows.
    for_each_record(latest, [&](const std::string& record) { writer.add(record); });
  }
  writer.add(latest.soa);
  writer.finish();
  return framed;
}

TransferServer::TransferServer(TransferSettings settings, Log log, WallClock wall_clock)
    : impl_(std::make_unique<Impl>(std::move(settings), std::move(log), std::move(wall_clock))) {}

TransferServer::~TransferServer() { stop(); }

void TransferServer::start() {
  impl_->thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "dns-xfr");
    impl_->io.run();
  });
}

void TransferServer::stop() {
  if (!impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] { impl_->notifier.stop(); });
  impl_->work.reset();
  impl_->io.stop();
  impl_->thread.join();
}

void TransferServer::published(registry::SnapshotPtr snapshot) {
  {
    std::lock_guard lock(impl_->pending_mutex);
    impl_->pending = std::move(snapshot);
  }
  if (impl_->refresh_posted.exchange(true)) return;
  asio::post(impl_->io, [this] {
    impl_->refresh_posted = false;
    std::lock_guard lock(impl_->mutex);
    impl_->refresh();
  });
}

void TransferServer::handle_later(std::vector<std::uint8_t> message, std::string from,
                                  net::TransferReply reply) {
  if (impl_->queued.fetch_add(1) >= impl_->settings.max_queued) {
    impl_->queued.fetch_sub(1);
    // Too many waiting: REFUSED now, built here (it is small), rather than queue more.
    TransferRequest request;
    if (parse_transfer_request(message, request) != RequestStatus::ok) return;
    impl_->count(request, TransferResult::refused);
    std::vector<std::uint8_t> framed;
    append_framed(framed, error_response(request, rcode::kRefused, true));
    reply(std::move(framed));
    return;
  }
  asio::post(impl_->io, [this, message = std::move(message), from = std::move(from),
                         reply = std::move(reply)]() mutable {
    std::vector<std::uint8_t> framed;
    try {
      framed = impl_->respond(message, from, false);
    } catch (const std::exception& e) {
      impl_->log("zone transfer to " + from + " failed: " + e.what());
    }
    impl_->queued.fetch_sub(1);
    reply(std::move(framed));
  });
}

std::vector<std::uint8_t> TransferServer::respond(std::span<const std::uint8_t> message,
                                                  const std::string& from, bool datagram) {
  return impl_->respond(message, from, datagram);
}

std::size_t TransferServer::answer_datagram(std::span<const std::uint8_t> query,
                                            std::span<std::uint8_t> out,
                                            const std::string& from) noexcept {
  try {
    const std::vector<std::uint8_t> framed = impl_->respond(query, from, true);
    // One message: the SOA alone, TC or an error, always far below a UDP slot.
    if (framed.size() < 2 || framed.size() - 2 > out.size()) return 0;
    std::copy(framed.begin() + 2, framed.end(), out.begin());
    return framed.size() - 2;
  } catch (const std::exception&) {
    return 0;
  }
}

TransferCounters TransferServer::counters() const {
  TransferCounters counters;
  for (std::size_t t = 0; t < kTransferTypes; ++t) {
    for (std::size_t r = 0; r < kTransferResults; ++r) {
      counters.transfers[t][r] = impl_->transfers[t][r].load(std::memory_order_relaxed);
    }
  }
  counters.notify_sent = impl_->notifier.sent();
  counters.notify_answered = impl_->notifier.answered();
  counters.notify_failed = impl_->notifier.failed();
  return counters;
}

}  // namespace signpost::dns::xfr
