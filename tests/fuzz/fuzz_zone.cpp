// libFuzzer target: the zone loader (ldns underneath, then our checks and encoding) on
// fuzzed master-file text. The loader reads files, so each input is written to one file in
// a private temporary folder first; its name gives the origin "fuzz." when the text has no
// $ORIGIN.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "dns/zone/zone.hpp"
#include "dns/zone/zone_loader.hpp"

namespace {

namespace fs = std::filesystem;

// The file every input is written to, in a folder made once and removed at exit.
const std::string& zone_path() {
  static const std::string path = [] {
    std::string folder = (fs::temp_directory_path() / "signpost-fuzz-zone-XXXXXX").string();
    if (::mkdtemp(folder.data()) == nullptr) std::abort();
    static const std::string removed_at_exit = folder;
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(removed_at_exit, ignored);
    });
    return folder + "/fuzz.zone";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = zone_path();
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!file) std::abort();
  }
  try {
    signpost::dns::zone::load_zone_file(path);
  } catch (const signpost::dns::zone::ZoneError&) {
    // A rejected zone is the expected outcome for most inputs.
  }
  return 0;
}
