// The memory backend's state file: the registry's dynamic part, encoded and kept on disk.
//
// Design. Instances registered by heartbeats live only in memory; the memory backend keeps
// a copy of them in one file so that a restart, even after `kill -9`, resumes with every
// lease, replay guard and flap state where it was. The file is rewritten whole: a new file
// is written next to the old one, synced and renamed over it, so a crash at any moment
// leaves the old file or the new one, never a mix. The format is compact binary, every
// integer big-endian:
//
//   header   "SPST" | version u16 (2) | flags u16 (0) | body length u32
//   body     serial u32 | saved_unix_ms i64 | instance count u32 | deleted count u32 |
//            override count u32 | instance records | deleted records | override records
//
// (Version 1, still read, has no override count and no override records.)
//   trailer  CRC32C (Castagnoli) u32 of header and body
//
// Each record starts with its own u32 length; strings carry a u8 length, lists a u16
// count (see encode_instance in state_file.cpp for the fields' order). A reader trusts
// nothing in it: the checksum catches torn and flipped bytes, every length and count is
// checked against the bytes that remain before anything is allocated for it, and every
// instance passes registry::validate as a registration would. A file that fails any check
// is moved aside whole and the server starts empty: the heartbeats of the next lease
// period register every live instance again.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "registry/log/log.hpp"
#include "registry/model.hpp"

namespace signpost::registry::backend {

/// Raised for bytes that are not a valid state file, with the reason ("truncated at byte
/// 40", "bad checksum", "unknown version 7", "record 12: port 0 out of range").
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The replay guard of an instance (health::ReplayGuard) as its 24 raw octets.
using ReplayOctets = std::array<std::uint8_t, 24>;

/// An instance registered at run time, with everything the server keeps about it beside
/// the model: its lease, flap damping state, the TSIG key it counts against, its replay
/// guard and the operator's overrides. Times are wall clock (Unix milliseconds), as a
/// steady clock means nothing after a restart.
struct DynamicInstance {
  Instance instance;  // its health is the health the agent reported
  Protocol protocol = Protocol::tcp;
  std::uint32_t lease_seconds = 0;     // granted (RFC 9664 Update Lease)
  std::int64_t lease_end_unix_ms = 0;  // when the lease runs out
  double flap_penalty = 0;             // as of flap_updated_unix_ms
  std::int64_t flap_updated_unix_ms = 0;
  bool suppressed = false;  // flap damping holds it out of answers
  std::string key_name;     // the TSIG key it counts against
  ReplayOctets replay{};
  bool drained = false;                          // operator override: weight 0
  std::optional<std::uint16_t> weight_override;  // operator override of the weight

  bool operator==(const DynamicInstance&) const = default;
};

/// The replay guard of an instance deleted recently, kept until `forget_at_unix_ms` so that
/// a recorded registration sent again cannot bring it back.
struct DeletedGuard {
  std::string service;
  std::string id;
  ReplayOctets replay{};
  std::int64_t forget_at_unix_ms = 0;

  bool operator==(const DeletedGuard&) const = default;
};

/// The operator's override (drain, weight) of an instance the server's config declares: a
/// dynamic instance carries its own in its record.
struct StaticOverride {
  std::string service;
  std::string id;
  bool drained = false;
  std::optional<std::uint16_t> weight;

  bool operator==(const StaticOverride&) const = default;
};

/// What the state file holds: the registry zone's serial, when it was saved, the dynamic
/// instances, the guards of deleted ones and the overrides of static instances.
struct RegistryState {
  std::uint32_t serial = 0;
  std::int64_t saved_unix_ms = 0;
  std::vector<DynamicInstance> instances;
  std::vector<DeletedGuard> deleted;
  std::vector<StaticOverride> overrides;

  bool operator==(const RegistryState&) const = default;
};

/// The state file format's version written by encode_state and read by parse_state.
inline constexpr std::uint16_t kStateVersion = 2;

/// Encodes `state` in the state file format. Any thread; allocates the result. Throws
/// StateError for what the format cannot hold (a string over 255 octets, a list over
/// 65,535 items, a file over 4 GiB), which validated registry data never has.
std::vector<std::uint8_t> encode_state(const RegistryState& state);

/// Encodes a state file record by record into one buffer, as encode_state does, so that a
/// large registry is written without first being copied whole into a RegistryState: add
/// every instance, then every deleted guard, then every override, then finish(). One thread; allocates; add and
/// finish throw StateError as encode_state does.
class StateEncoder {
 public:
  StateEncoder(std::uint32_t serial, std::int64_t saved_unix_ms, std::size_t expected_instances);
  ~StateEncoder();
  StateEncoder(const StateEncoder&) = delete;
  StateEncoder& operator=(const StateEncoder&) = delete;

  void add(const DynamicInstance& dynamic);
  void add(const DeletedGuard& deleted);
  void add(const StaticOverride& override);
  /// The file's bytes: the counts and length filled in, the checksum appended.
  std::vector<std::uint8_t> finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Parses and checks a state file's bytes; instances come out normalized by
/// registry::validate. Any thread; allocates only what the checked bytes hold. Throws
/// StateError with the reason.
RegistryState parse_state(std::span<const std::uint8_t> bytes);

/// Encodes one instance as the state file's instance record (its u32 length, then its
/// fields): the value the etcd backend stores under the instance's key, so that disk and
/// etcd share one codec. Any thread; allocates the result. Throws StateError as
/// encode_state does.
std::vector<std::uint8_t> encode_dynamic_instance(const DynamicInstance& dynamic);

/// Parses and checks one instance record written by encode_dynamic_instance, with every
/// check parse_state makes of a record (lengths, flags, ranges, registry::validate); the
/// instance comes out normalized. Any thread; allocates only what the checked bytes hold.
/// Throws StateError with the reason.
DynamicInstance parse_dynamic_instance(std::span<const std::uint8_t> bytes);

/// CRC32C (Castagnoli, RFC 3720 §B.4) of `bytes`: the trailer of a state file is this of
/// everything before it. Any thread; no allocation.
std::uint32_t state_checksum(std::span<const std::uint8_t> bytes) noexcept;

/// Replaces the file at `path` with `bytes` atomically: writes `<path>.tmp`, syncs it,
/// renames it over `path` and syncs the folder, so that after a crash `path` holds the old
/// bytes or the new, whole. Any thread (one writer per path); blocks on the disk. Throws
/// std::system_error naming the step and file ("write signpostd.state.tmp: No space left
/// on device"); `path` still holds the old bytes then, or the new ones when only the
/// folder's sync failed (and the rename may not survive a power cut).
void save_state_file(const std::string& path, std::span<const std::uint8_t> bytes);

/// Reads the state file at `path`. A missing file is an empty state (logged as info); an
/// unreadable or invalid one is logged as an error with the reason, renamed to
/// `<path>.corrupt-<unix seconds of now>` and read as an empty state. A leftover
/// `<path>.tmp` is never read. Never throws for the file's content or its absence; control
/// thread at start-up; allocates.
RegistryState load_state_file(const std::string& path, const Log& log,
                              std::chrono::system_clock::time_point now =
                                  std::chrono::system_clock::now());

}  // namespace signpost::registry::backend
