// Domain names in wire form: parsing with decompression, case folding, text conversion.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "dns/wire/types.hpp"

namespace signpost::dns::wire {

/// Why a name in a message could not be read (RFC 1035 §4.1.4, RFC 9267).
enum class NameError : std::uint8_t {
  ok,
  truncated,       // the message ends inside the name
  label_too_long,  // a label over 63 octets
  name_too_long,   // more than 255 octets once expanded
  bad_label_type,  // label type 0b01 or 0b10 (RFC 6891 §5 retired them)
  forward_pointer, // a compression pointer that does not point strictly backwards
};

/// A domain name in uncompressed wire form (length-prefixed labels, final root octet),
/// held inline so that parsing never allocates. `label_offsets[i]` is where label i starts.
/// Only the first `length` octets and `labels` offsets are ever read, so the arrays are left
/// uninitialized: a query's names cost no zeroing.
struct Name {
  std::array<std::uint8_t, kMaxNameLength> bytes;
  std::array<std::uint8_t, kMaxLabels> label_offsets;
  std::uint16_t length = 0;  // octets including the root octet
  std::uint8_t labels = 0;   // labels excluding the root

  std::span<const std::uint8_t> wire() const noexcept { return {bytes.data(), length}; }
  /// The name as a string_view of its wire octets, usable as a hash-map key.
  std::string_view key() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), length};
  }
  /// The wire form of the suffix that starts at label `index` (index == labels gives the root).
  std::string_view suffix_key(std::size_t index) const noexcept {
    const std::size_t start = index < labels ? label_offsets[index] : length - 1u;
    return key().substr(start);
  }
  /// Becomes a copy of `other`, copying only the octets and offsets in use.
  void assign(const Name& other) noexcept {
    std::memcpy(bytes.data(), other.bytes.data(), other.length);
    std::memcpy(label_offsets.data(), other.label_offsets.data(), other.labels);
    length = other.length;
    labels = other.labels;
  }
};

/// Reads the name at `position` in `message`, following compression pointers, into `out`
/// in lower case when `fold_case` is set. `position` moves past the name as it is stored
/// in place. Pointers must point strictly backwards, which rules out loops.
/// Any thread; no allocation.
NameError parse_name(std::span<const std::uint8_t> message, std::size_t& position, Name& out,
                     bool fold_case) noexcept;

/// Like parse_name, but only validates and moves `position` past the name.
NameError skip_name(std::span<const std::uint8_t> message, std::size_t& position) noexcept;

/// ASCII lower case of one octet; DNS case-insensitivity covers only A-Z (RFC 4343).
inline std::uint8_t fold_octet(std::uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + 32) : c;
}

/// Lowercases every label of a wire name in place.
void fold_name(std::span<std::uint8_t> wire) noexcept;

/// Case-insensitive equality of two uncompressed wire names.
bool names_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept;

/// True when `name` equals `origin` or lies below it (both uncompressed, lower case).
bool is_at_or_below(std::string_view name, std::string_view origin) noexcept;

/// Counts the labels of an uncompressed wire name, root excluded.
std::size_t count_labels(std::string_view wire) noexcept;

/// Converts presentation format ("www.Example.com.", with \. and \DDD escapes) to wire form.
/// Relative names (no final dot) are completed with `origin` (wire form). Returns false for
/// empty labels, labels over 63 octets or names over 255. Control plane; allocates.
bool name_from_text(std::string_view text, std::string& out, std::string_view origin = {});

/// Converts an uncompressed wire name to presentation format with a final dot. Allocates.
std::string name_to_text(std::string_view wire);

}  // namespace signpost::dns::wire
