// libFuzzer target: the state file's parser (parse_state), which reads a file the server did
// not necessarily write whole: a torn write, a bad disk, an edit by hand.
//
// Input: one mode byte, then the file. Mode bit 0 set: the file's last four octets are first
// replaced by the CRC32C of the rest, so that the input gets past the checksum and into the
// records behind it; clear: the file is taken as it is. A state that parses must encode
// and parse again to itself, since what the server loads it saves again.
//
// Mode bit 1 set: the bytes are one instance record instead, as the etcd backend stores it
// under an instance's key (parse_dynamic_instance), read from etcd where any client may have
// written it. An instance that parses must encode and parse again to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "registry/backend/state_file.hpp"

namespace {

using namespace signpost::registry::backend;

constexpr std::uint8_t kSealMode = 0x01;
constexpr std::uint8_t kRecordMode = 0x02;

void check_record(const std::vector<std::uint8_t>& bytes) {
  DynamicInstance dynamic;
  try {
    dynamic = parse_dynamic_instance(bytes);
  } catch (const StateError&) {
    return;
  }
  if (parse_dynamic_instance(encode_dynamic_instance(dynamic)) != dynamic) std::abort();
}

void seal(std::vector<std::uint8_t>& file) {
  if (file.size() < 4) return;
  const std::uint32_t checksum = state_checksum(std::span(file).first(file.size() - 4));
  for (std::size_t i = 0; i < 4; ++i) {
    file[file.size() - 4 + i] = static_cast<std::uint8_t>(checksum >> (24 - 8 * i));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::vector<std::uint8_t> file(data + 1, data + size);
  if ((data[0] & kRecordMode) != 0) {
    check_record(file);
    return 0;
  }
  if ((data[0] & kSealMode) != 0) seal(file);
  RegistryState state;
  try {
    state = parse_state(file);
  } catch (const StateError&) {
    return 0;  // the expected outcome for most inputs
  }
  if (parse_state(encode_state(state)) != state) std::abort();
  return 0;
}
