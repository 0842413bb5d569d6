// Transparent huge pages for the registry's memory.
#include "dns/daemon/huge_pages.hpp"

#include <sys/mman.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1; older headers lack it
#endif

namespace signpost::dns::daemon {

namespace {

constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;

struct Mapping {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  std::string permissions;
  unsigned long inode = 0;
  std::string path;

  // Private memory of no file: malloc's heap and arenas, and their reserved rest.
  bool anonymous() const { return inode == 0 && (path.empty() || path == "[heap]"); }
};

// One line of /proc/self/maps: "start-end perms offset dev inode [path]".
bool parse_mapping(const std::string& line, Mapping& out) {
  std::istringstream in(line);
  char dash = 0;
  std::string offset;
  std::string device;
  in >> std::hex >> out.start >> dash >> out.end >> out.permissions >> offset >> device >> std::dec >>
      out.inode;
  if (!in || dash != '-') return false;
  in >> std::ws;
  std::getline(in, out.path);
  return true;
}

std::vector<Mapping> read_mappings() {
  std::vector<Mapping> mappings;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    Mapping mapping;
    if (parse_mapping(line, mapping)) mappings.push_back(std::move(mapping));
  }
  return mappings;
}

// The bracketed choice in /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise]
// never"), or empty when the kernel has no transparent huge pages.
std::string system_setting() {
  std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string text;
  std::getline(file, text);
  const std::size_t open = text.find('[');
  const std::size_t close = text.find(']', open);
  if (open == std::string::npos || close == std::string::npos) return {};
  return text.substr(open + 1, close - open - 1);
}

std::string mib(std::size_t octets) { return std::to_string(octets >> 20) + " MiB"; }

}  // namespace

HugePages back_with_huge_pages(const void* address, std::size_t from) {
  HugePages result;
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  const std::vector<Mapping> mappings = read_mappings();
  std::size_t i = 0;
  while (i < mappings.size() && !(mappings[i].start <= at && at < mappings[i].end)) ++i;
  if (i == mappings.size() || !mappings[i].anonymous() || mappings[i].permissions.rfind("rw", 0) != 0) {
    result.problem = "the registry is not in an anonymous mapping";
    return result;
  }
  const Mapping& used = mappings[i];
  if (used.end - used.start < from) {
    result.small = true;
    return result;
  }
  const std::string setting = system_setting();
  if (setting.empty()) {
    result.problem = "the kernel has no transparent huge pages";
    return result;
  }
  if (setting == "never") {
    result.problem = "transparent huge pages are set to never";
    return result;
  }
  if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1) {
    result.problem = "transparent huge pages are disabled for this process";
    return result;
  }
  std::uintptr_t end = used.end;
  if (i + 1 < mappings.size()) {
    const Mapping& next = mappings[i + 1];
    if (next.start == used.end && next.anonymous() && next.permissions.rfind("---", 0) == 0) {
      end = next.end;  // the arena's reserved rest: it keeps the advice as it is taken into use
    }
  }
  if (madvise(reinterpret_cast<void*>(used.start), end - used.start, MADV_HUGEPAGE) != 0) {
    result.problem = std::string("madvise(MADV_HUGEPAGE): ") + std::strerror(errno);
    return result;
  }
  result.advised = end - used.start;
  const std::uintptr_t first = (used.start + kHugePage - 1) & ~(kHugePage - 1);
  std::size_t failed = 0;
  int error = 0;
  for (std::uintptr_t page = first; page + kHugePage <= used.end; page += kHugePage) {
    if (madvise(reinterpret_cast<void*>(page), kHugePage, MADV_COLLAPSE) == 0) {
      result.collapsed += kHugePage;
      continue;
    }
    error = errno;
    if (error == EINVAL && result.collapsed == 0) {
      result.problem = "resident pages not merged now (MADV_COLLAPSE needs Linux 6.1); "
                       "khugepaged merges them later";
      return result;
    }
    ++failed;
  }
  if (failed != 0) {
    result.problem = mib(failed * kHugePage) + " not merged now (MADV_COLLAPSE: " +
                     std::strerror(error) + "); khugepaged merges them later";
  }
  return result;
}

}  // namespace signpost::dns::daemon
