// Domain names in wire form.
#include "dns/wire/name.hpp"

#include <cstdio>
#include <cstring>

#include "dns/wire/reader.hpp"

namespace signpost::dns::wire {

namespace {

// Walks a possibly compressed name; stores the labels when `out` is non-null.
NameError walk_name(std::span<const std::uint8_t> message, std::size_t& position, Name* out,
                    bool fold_case) noexcept {
  std::size_t cursor = position;
  std::size_t end_in_place = 0;  // where the name ends in the message, once known
  std::size_t length = 0;
  std::size_t labels = 0;
  // Each pointer must point before the previous one, so the walk always ends (RFC 9267 §2).
  std::size_t pointer_limit = position;
  for (;;) {
    if (cursor >= message.size()) return NameError::truncated;
    const std::uint8_t octet = message[cursor];
    const std::uint8_t kind = octet & 0xC0;
    if (kind == 0xC0) {
      if (cursor + 1 >= message.size()) return NameError::truncated;
      const std::size_t target = static_cast<std::size_t>(((octet & 0x3F) << 8) | message[cursor + 1]);
      if (end_in_place == 0) end_in_place = cursor + 2;
      if (target >= pointer_limit) return NameError::forward_pointer;
      pointer_limit = target;
      cursor = target;
      continue;
    }
    if (kind != 0) return NameError::bad_label_type;
    if (octet == 0) {
      length += 1;
      if (length > kMaxNameLength) return NameError::name_too_long;
      if (out != nullptr) {
        out->bytes[length - 1] = 0;
        out->length = static_cast<std::uint16_t>(length);
        out->labels = static_cast<std::uint8_t>(labels);
        if (fold_case) fold_name({out->bytes.data(), length});
      }
      position = end_in_place != 0 ? end_in_place : cursor + 1;
      return NameError::ok;
    }
    // octet is 1..63 here: the two top bits are clear.
    if (cursor + 1 + octet > message.size()) return NameError::truncated;
    if (length + 1 + octet + 1 > kMaxNameLength) return NameError::name_too_long;
    if (out != nullptr) {
      out->label_offsets[labels] = static_cast<std::uint8_t>(length);
      copy_octets(out->bytes.data() + length, message.data() + cursor, 1u + octet);
    }
    length += 1u + octet;
    labels += 1;
    cursor += 1u + octet;
  }
}

}  // namespace

NameError parse_name(std::span<const std::uint8_t> message, std::size_t& position, Name& out,
                     bool fold_case) noexcept {
  return walk_name(message, position, &out, fold_case);
}

NameError skip_name(std::span<const std::uint8_t> message, std::size_t& position) noexcept {
  return walk_name(message, position, nullptr, false);
}

// Length octets are at most 63, below 'A', so folding every octet of the name leaves them
// as they are: no label walk is needed, and eight octets are folded at a time.
void fold_name(std::span<std::uint8_t> wire) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x80 * kOnes;
  std::size_t i = 0;
  for (; i + 8 <= wire.size(); i += 8) {
    std::uint64_t x;
    std::memcpy(&x, wire.data() + i, 8);
    // Per octet, with the top bit cleared so that no sum carries into the next octet:
    // its top bit is set in `ge_a` when it is at least 'A', in `gt_z` when above 'Z'.
    const std::uint64_t low = x & ~kHigh;
    const std::uint64_t ge_a = low + (0x80 - 'A') * kOnes;
    const std::uint64_t gt_z = low + (0x7F - 'Z') * kOnes;
    const std::uint64_t upper = (ge_a ^ gt_z) & ~x & kHigh;  // 'A'..'Z', top bit clear
    x |= upper >> 2;                                          // + 0x20
    std::memcpy(wire.data() + i, &x, 8);
  }
  for (; i < wire.size(); ++i) wire[i] = fold_octet(wire[i]);
}

bool names_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (fold_octet(a[i]) != fold_octet(b[i])) return false;
  }
  return true;
}

bool is_at_or_below(std::string_view name, std::string_view origin) noexcept {
  if (origin.size() > name.size()) return false;
  // Walk label boundaries of `name` until the remaining suffix has origin's length.
  std::size_t i = 0;
  while (name.size() - i > origin.size()) {
    i += static_cast<std::uint8_t>(name[i]) + 1u;
  }
  return name.size() - i == origin.size() && name.substr(i) == origin;
}

std::size_t count_labels(std::string_view wire) noexcept {
  std::size_t labels = 0;
  std::size_t i = 0;
  while (i < wire.size() && wire[i] != 0) {
    i += static_cast<std::uint8_t>(wire[i]) + 1u;
    ++labels;
  }
  return labels;
}

namespace {

bool close_label(std::string& out, std::size_t label_start) {
  const std::size_t len = out.size() - label_start - 1;
  if (len == 0 || len > kMaxLabelLength) return false;
  out[label_start] = static_cast<char>(len);
  return true;
}

}  // namespace

bool name_from_text(std::string_view text, std::string& out, std::string_view origin) {
  out.clear();
  if (text == "." || text.empty()) {
    if (text.empty() && !origin.empty()) {
      out.assign(origin);
      return true;
    }
    out.push_back('\0');
    return true;
  }
  if (text == "@") {
    out.assign(origin.empty() ? std::string_view("\0", 1) : origin);
    return true;
  }
  std::size_t label_start = 0;
  out.push_back('\0');
  bool absolute = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (!close_label(out, label_start)) return false;
      if (i + 1 == text.size()) {
        absolute = true;
        break;
      }
      label_start = out.size();
      out.push_back('\0');
      continue;
    }
    if (c == '\\') {
      if (i + 1 == text.size()) return false;
      const char n = text[i + 1];
      if (n >= '0' && n <= '9') {
        if (i + 3 >= text.size()) return false;
        int value = 0;
        for (std::size_t k = 1; k <= 3; ++k) {
          if (text[i + k] < '0' || text[i + k] > '9') return false;
          value = value * 10 + (text[i + k] - '0');
        }
        if (value > 255) return false;
        c = static_cast<char>(value);
        i += 3;
      } else {
        c = n;
        i += 1;
      }
    }
    out.push_back(c);
  }
  if (!absolute) {
    if (!close_label(out, label_start)) return false;
    if (origin.empty()) {
      out.push_back('\0');
    } else {
      out.append(origin);
    }
  } else {
    out.push_back('\0');
  }
  return out.size() <= kMaxNameLength;
}

std::string name_to_text(std::string_view wire) {
  std::string text;
  std::size_t i = 0;
  while (i < wire.size() && wire[i] != 0) {
    const std::size_t len = static_cast<std::uint8_t>(wire[i]);
    for (std::size_t j = 1; j <= len && i + j < wire.size(); ++j) {
      const auto c = static_cast<unsigned char>(wire[i + j]);
      if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '$' || c == '@') {
        text.push_back('\\');
        text.push_back(static_cast<char>(c));
      } else if (c <= 0x20 || c >= 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(c));
        text.append(buf);
      } else {
        text.push_back(static_cast<char>(c));
      }
    }
    text.push_back('.');
    i += len + 1;
  }
  if (text.empty()) text = ".";
  return text;
}

}  // namespace signpost::dns::wire
