// Writes fuzz_state_file's seeds with the server's own encoder, so that they never drift
// from the format: `make_state_corpus <folder>` (see README.md). Each seed is fuzz_state_file's
// mode byte, then a state file.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "registry/backend/state_file.hpp"
#include "tests/unit/registry/backend/sample_state.hpp"

namespace {

using namespace signpost::registry::backend;

void write_seed(const std::filesystem::path& folder, const std::string& name, std::uint8_t mode,
                const std::vector<std::uint8_t>& file) {
  std::ofstream out(folder / name, std::ios::binary | std::ios::trunc);
  out.put(static_cast<char>(mode));
  out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_state_corpus <folder>\n");
    return 2;
  }
  const std::filesystem::path folder = argv[1];
  std::filesystem::create_directories(folder);
  constexpr std::uint8_t kAsIs = 0;
  constexpr std::uint8_t kSeal = 1;
  constexpr std::uint8_t kRecord = 2;
  write_seed(folder, "empty", kAsIs, encode_state(RegistryState{}));
  write_seed(folder, "one_instance", kAsIs, encode_state(testing::sample_state(1)));
  write_seed(folder, "full", kAsIs, encode_state(testing::sample_state(16, 3)));
  write_seed(folder, "deleted_only", kAsIs, encode_state(testing::sample_state(0, 2)));
  RegistryState overrides = testing::sample_state(2, 1);
  overrides.overrides.push_back(
      {.service = "web", .id = "static-1", .drained = true, .weight = std::nullopt});
  overrides.overrides.push_back(
      {.service = "db", .id = "static-2", .drained = false, .weight = 4});
  write_seed(folder, "overrides", kAsIs, encode_state(overrides));
  write_seed(folder, "sealed", kSeal, encode_state(testing::sample_state(4, 1)));
  std::vector<std::uint8_t> torn = encode_state(testing::sample_state(3));
  torn.resize(torn.size() / 2);
  write_seed(folder, "torn", kAsIs, torn);
  write_seed(folder, "record", kRecord, encode_dynamic_instance(testing::sample_instance(7)));
  write_seed(folder, "record_v6_only", kRecord,
             encode_dynamic_instance(testing::sample_instance(9)));
  return 0;
}
