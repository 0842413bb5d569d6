// Repeated renewals on the workers: the published table and the per-instance slots.
#include "health/renewal_board.hpp"

namespace signpost::health {

namespace {

struct TableCache {
  std::uint64_t board = 0;
  std::uint64_t version = 0;
  std::shared_ptr<const void> table;
};
thread_local TableCache table_cache;

// The registry thread holds a slot's try-lock only to copy or change its 24-octet guard, and
// a worker only to check and record one renewal: a wait here is a few spins.
class SlotLock {
 public:
  explicit SlotLock(std::atomic_flag& flag) : flag_(flag) {
    while (flag_.test_and_set(std::memory_order_acquire)) {
    }
  }
  ~SlotLock() { flag_.clear(std::memory_order_release); }
  SlotLock(const SlotLock&) = delete;
  SlotLock& operator=(const SlotLock&) = delete;

 private:
  std::atomic_flag& flag_;
};

}  // namespace

std::atomic<std::uint64_t> next_board_id{1};

RenewalBoard::RenewalBoard(std::size_t capacity)
    : id_(next_board_id.fetch_add(1, std::memory_order_relaxed)),
      capacity_(capacity),
      chunks_(new std::atomic<Slot*>[(capacity + kChunk - 1) / kChunk]),
      chunk_count_((capacity + kChunk - 1) / kChunk),
      published_(std::make_shared<const Table>()) {
  for (std::size_t i = 0; i < chunk_count_; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
}

RenewalBoard::~RenewalBoard() {
  for (std::size_t i = 0; i < chunk_count_; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
}

RenewalBoard::Slot* RenewalBoard::slot_at(std::uint32_t index) const noexcept {
  if (index >= capacity_) return nullptr;
  Slot* chunk = chunks_[index / kChunk].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : &chunk[index % kChunk];
}

RenewalBoard::Slot& RenewalBoard::slot_for(std::uint32_t index) {
  std::atomic<Slot*>& chunk = chunks_[index / kChunk];
  if (chunk.load(std::memory_order_relaxed) == nullptr) {
    chunk.store(new Slot[kChunk], std::memory_order_release);
  }
  return chunk.load(std::memory_order_relaxed)[index % kChunk];
}

const RenewalBoard::Table* RenewalBoard::current_table() const noexcept {
  const std::uint64_t version = version_.load(std::memory_order_acquire);
  if (table_cache.board != id_ || table_cache.version != version) {
    table_cache = {id_, version, published_.load(std::memory_order_acquire)};
  }
  return static_cast<const Table*>(table_cache.table.get());
}

std::optional<Renewal> RenewalBoard::renew(std::uint64_t hash, std::uint32_t length,
                                           const TsigKey* key, std::uint64_t time_signed,
                                           std::span<const std::uint8_t> mac) const noexcept {
  // A table a version behind is harmless: a renewal forgotten since is refused by its slot.
  const Renewal* found = current_table()->find(hash);
  if (found == nullptr || found->length != length || found->tsig_key != key) return std::nullopt;
  Slot* slot = slot_at(found->lease.slot);
  if (slot == nullptr || slot->renewal.load(std::memory_order_acquire) != hash) return std::nullopt;
  if (slot->busy.test_and_set(std::memory_order_acquire)) return std::nullopt;
  // Under the slot's lock, so that the registry thread closing the slot sees this renewal
  // either marked or not taken.
  const bool taken = slot->open.load(std::memory_order_relaxed) &&
                     slot->guard.accepts(time_signed, mac);
  if (taken) {
    slot->guard.accept(time_signed, mac);
    slot->renewed.store(true, std::memory_order_relaxed);
  }
  slot->busy.clear(std::memory_order_release);
  if (!taken) return std::nullopt;
  return *found;
}

RenewalBoard::Shard& RenewalBoard::writable(std::uint64_t hash) {
  if (!draft_) draft_ = std::make_shared<Table>(*published_.load(std::memory_order_relaxed));
  const std::size_t index = hash >> 56;
  if (!copied_[index]) {
    const auto& shared = draft_->shards[index];
    copied_[index] = shared ? std::make_shared<Shard>(*shared) : std::make_shared<Shard>();
    draft_->shards[index] = copied_[index];
  }
  return *copied_[index];
}

const Renewal* RenewalBoard::find(std::uint64_t hash) const noexcept {
  if (draft_) return draft_->find(hash);
  return published_.load(std::memory_order_relaxed)->find(hash);
}

void RenewalBoard::remember(std::uint64_t hash, const Renewal& renewal) {
  writable(hash).assign(hash, renewal);
  slot_for(renewal.lease.slot).renewal.store(hash, std::memory_order_release);
}

void RenewalBoard::forget(std::uint64_t hash) {
  const Renewal* found = find(hash);
  if (found == nullptr) return;
  if (Slot* slot = slot_at(found->lease.slot)) {
    std::uint64_t expected = hash;
    slot->renewal.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
  }
  writable(hash).erase(hash);
}

void RenewalBoard::publish() {
  if (!draft_) return;
  published_.store(std::shared_ptr<const Table>(std::move(draft_)), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_acq_rel);
  draft_.reset();
  copied_.fill(nullptr);
}

bool RenewalBoard::set_open(std::uint32_t slot_index, bool open) {
  if (!holds(slot_index)) return false;
  Slot& slot = slot_for(slot_index);
  const SlotLock lock(slot.busy);
  slot.open.store(open, std::memory_order_relaxed);
  return slot.renewed.exchange(false, std::memory_order_relaxed);
}

bool RenewalBoard::take_renewed(std::uint32_t slot_index) noexcept {
  Slot* slot = slot_at(slot_index);
  if (slot == nullptr || !slot->renewed.load(std::memory_order_relaxed)) return false;
  return slot->renewed.exchange(false, std::memory_order_acquire);
}

ReplayGuard RenewalBoard::guard(std::uint32_t slot_index) {
  if (!holds(slot_index)) return {};
  Slot& slot = slot_for(slot_index);
  const SlotLock lock(slot.busy);
  return slot.guard;
}

bool RenewalBoard::guard_accepts(std::uint32_t slot_index, std::uint64_t time_signed,
                                 std::span<const std::uint8_t> mac) {
  if (!holds(slot_index)) return true;
  Slot& slot = slot_for(slot_index);
  const SlotLock lock(slot.busy);
  return slot.guard.accepts(time_signed, mac);
}

void RenewalBoard::guard_accept(std::uint32_t slot_index, std::uint64_t time_signed,
                                std::span<const std::uint8_t> mac) {
  if (!holds(slot_index)) return;
  Slot& slot = slot_for(slot_index);
  const SlotLock lock(slot.busy);
  slot.guard.accept(time_signed, mac);
}

void RenewalBoard::set_guard(std::uint32_t slot_index, const ReplayGuard& guard) {
  if (!holds(slot_index)) return;
  Slot& slot = slot_for(slot_index);
  const SlotLock lock(slot.busy);
  slot.guard = guard;
}

void RenewalBoard::reset(std::uint32_t slot_index) {
  if (!holds(slot_index)) return;
  Slot& slot = slot_for(slot_index);
  const SlotLock lock(slot.busy);
  slot.renewal.store(0, std::memory_order_release);
  slot.open.store(false, std::memory_order_relaxed);
  slot.renewed.store(false, std::memory_order_relaxed);
  slot.guard = ReplayGuard{};
}

}  // namespace signpost::health
