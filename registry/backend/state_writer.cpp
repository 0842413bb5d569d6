// The state file's writer thread.
#include "registry/backend/state_writer.hpp"

#include <exception>
#include <utility>
#include <vector>

namespace signpost::registry::backend {

StateWriter::StateWriter(std::string path, Log log, StateWriterSettings settings, Save save)
    : path_(std::move(path)),
      log_(std::move(log)),
      settings_(settings),
      save_(std::move(save)),
      thread_([this] { run(); }) {}

StateWriter::~StateWriter() { stop(); }

void StateWriter::submit(std::shared_ptr<const RegistryState> state) {
  hand_over(Pending{std::move(state), nullptr});
}

void StateWriter::submit_encoded(std::shared_ptr<const std::vector<std::uint8_t>> bytes) {
  hand_over(Pending{nullptr, std::move(bytes)});
}

void StateWriter::hand_over(Pending pending) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;
    std::swap(pending_, pending);  // `pending` now holds the one replaced, if any
    pending_generation_ = ++counters_.submitted;
  }
  wake_.notify_one();
  // A replaced state nothing else holds is freed here, after the lock.
}

bool StateWriter::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = counters_.submitted;
  if (written_ >= target) return true;
  const std::uint64_t failures_before = counters_.failures;
  flush_target_ = std::max(flush_target_, target);
  wake_.notify_one();
  done_.wait(lock, [&] {
    return written_ >= target || counters_.failures > failures_before || finished_;
  });
  return written_ >= target;
}

void StateWriter::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

StateWriterCounters StateWriter::counters() const {
  const std::lock_guard lock(mutex_);
  return counters_;
}

StateWriter::Pending StateWriter::next_due(std::unique_lock<std::mutex>& lock) {
  while (true) {
    if (stopping_) return std::exchange(pending_, Pending{});  // the last write, or none
    if (pending_ && (flush_target_ != 0 || Clock::now() >= next_write_)) {
      return std::exchange(pending_, Pending{});
    }
    if (pending_) {
      wake_.wait_until(lock, next_write_);
    } else {
      wake_.wait(lock);
    }
  }
}

void StateWriter::run() {
  std::unique_lock lock(mutex_);
  while (Pending state = next_due(lock)) {
    const std::uint64_t generation = pending_generation_;
    const Clock::time_point start = Clock::now();
    lock.unlock();
    std::chrono::microseconds took{0};
    const bool written = write(state, took);
    lock.lock();
    if (written) {
      written_ = std::max(written_, generation);
      ++counters_.writes;
      counters_.last_write_duration = took;
      next_write_ = start + settings_.min_interval;
    } else {
      ++counters_.failures;
      next_write_ = Clock::now() + settings_.retry_interval;
      // Tried again later, unless a newer state came meanwhile or the writer is stopping.
      if (!pending_ && !stopping_) {
        pending_ = std::move(state);
        pending_generation_ = generation;
      }
    }
    if (flush_target_ <= generation) flush_target_ = 0;  // that flush got its attempt
    done_.notify_all();
    lock.unlock();
    state = Pending{};  // a large state is freed without holding up submit()
    lock.lock();
  }
  finished_ = true;
  done_.notify_all();
}

bool StateWriter::write(const Pending& pending, std::chrono::microseconds& took) {
  const Clock::time_point start = Clock::now();
  try {
    if (pending.bytes) {
      save_(path_, *pending.bytes);
    } else {
      save_(path_, encode_state(*pending.state));
    }
  } catch (const std::exception& e) {  // std::system_error from the disk, StateError
    log_failure(e.what());
    return false;
  }
  took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  if (!logged_errors_.empty()) {
    log_(LogLevel::info, "state file " + path_ + ": written again");
    logged_errors_.clear();
  }
  return true;
}

void StateWriter::log_failure(const std::string& error) {
  // Once per distinct error until a write succeeds: a full disk is retried every
  // retry_interval and would otherwise fill the log it shares the disk with.
  if (!logged_errors_.insert(error).second) return;
  log_(LogLevel::error, "state file " + path_ + ": " + error + "; the registry is not saved " +
                            "until a write succeeds, retrying every " +
                            std::to_string(settings_.retry_interval.count()) + " ms");
}

}  // namespace signpost::registry::backend
