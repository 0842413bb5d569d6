// Transparent huge pages for the memory that holds the registry.
//
// Design. An answer reads a few cache lines scattered over a registry of tens of megabytes,
// far beyond what the TLB maps with 4 KiB pages, so most of those reads also pay a page
// walk. With 2 MiB pages the whole registry fits the TLB. The registry is built on the
// publisher thread, so it lives in that thread's malloc arena: one anonymous mapping, with
// the arena's reserved, not yet usable rest right after it. back_with_huge_pages finds the
// mapping that holds a given address (in /proc/self/maps), marks it and that reserved rest
// for huge pages (MADV_HUGEPAGE: the kernel then backs new pages there with huge pages, and
// khugepaged merges old ones), and merges what is already resident at once (MADV_COLLAPSE,
// Linux 6.1). It respects the system's choice: with transparent huge pages set to `never`,
// or disabled for the process, it does nothing.
#pragma once

#include <cstddef>
#include <string>

namespace signpost::dns::daemon {

struct HugePages {
  std::size_t advised = 0;    // octets marked for huge pages
  std::size_t collapsed = 0;  // octets now on huge pages
  bool small = false;         // the mapping is under `from` octets: nothing was done
  std::string problem;        // why nothing or not everything was done; empty when all was
};

/// Backs the anonymous mapping that holds `address` (and the reserved range right after it)
/// with transparent huge pages, once that mapping has `from` octets or more: below what
/// the TLB maps with small pages (a few MiB), huge pages gain nothing and cost up to 2 MiB
/// of unused memory each. Control plane: reads /proc/self/maps; merging pages copies them
/// (about a millisecond per 4 MiB).
HugePages back_with_huge_pages(const void* address, std::size_t from);

}  // namespace signpost::dns::daemon
