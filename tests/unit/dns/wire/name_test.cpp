// Tests for wire-form names: decompression, limits, case folding and text conversion.
#include "dns/wire/name.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace signpost::dns::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

// A message whose first 12 octets are a zeroed header, followed by `body`.
Bytes message(const Bytes& body) {
  Bytes out(kHeaderSize, 0);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes labels(std::initializer_list<std::string_view> parts) {
  Bytes out;
  for (const std::string_view part : parts) {
    out.push_back(static_cast<std::uint8_t>(part.size()));
    out.insert(out.end(), part.begin(), part.end());
  }
  out.push_back(0);
  return out;
}

std::string as_string(const Bytes& b) { return {b.begin(), b.end()}; }

NameError parse_at(const Bytes& msg, std::size_t& position, Name& out, bool fold = false) {
  return parse_name(msg, position, out, fold);
}

TEST(NameParseTest, ReadsUncompressedName) {
  const Bytes msg = message(labels({"www", "Example", "com"}));
  std::size_t position = kHeaderSize;
  Name name;
  ASSERT_EQ(parse_at(msg, position, name), NameError::ok);
  EXPECT_EQ(position, msg.size());
  EXPECT_EQ(name.key(), as_string(labels({"www", "Example", "com"})));
  EXPECT_EQ(name.length, 17);
  EXPECT_EQ(name.labels, 3);
  EXPECT_EQ(name.label_offsets[0], 0);
  EXPECT_EQ(name.label_offsets[1], 4);
  EXPECT_EQ(name.label_offsets[2], 12);
  EXPECT_EQ(name.suffix_key(1), as_string(labels({"Example", "com"})));
  EXPECT_EQ(name.suffix_key(3), std::string(1, '\0'));
}

TEST(NameParseTest, ReadsRoot) {
  const Bytes msg = message({0});
  std::size_t position = kHeaderSize;
  Name name;
  ASSERT_EQ(parse_at(msg, position, name), NameError::ok);
  EXPECT_EQ(position, kHeaderSize + 1);
  EXPECT_EQ(name.length, 1);
  EXPECT_EQ(name.labels, 0);
  EXPECT_EQ(name.suffix_key(0), std::string(1, '\0'));
}

TEST(NameParseTest, FollowsBackwardPointer) {
  // www.example.com at 12; ftp + pointer to example.com (offset 16) at 29.
  Bytes body = labels({"www", "example", "com"});
  body.insert(body.end(), {3, 'f', 't', 'p', 0xC0, 16});
  const Bytes msg = message(body);
  std::size_t position = 29;
  Name name;
  ASSERT_EQ(parse_at(msg, position, name), NameError::ok);
  EXPECT_EQ(position, 35u);  // past the pointer, not past the name it points to
  EXPECT_EQ(name.key(), as_string(labels({"ftp", "example", "com"})));
  EXPECT_EQ(name.labels, 3);
  EXPECT_EQ(name.label_offsets[1], 4);
}

TEST(NameParseTest, FollowsChainOfPointers) {
  // 12: example.com; 25: "a" -> 12; 29: "b" -> 25; 33: pointer -> 29.
  Bytes body = labels({"example", "com"});
  body.insert(body.end(), {1, 'a', 0xC0, 12, 1, 'b', 0xC0, 25, 0xC0, 29});
  const Bytes msg = message(body);
  std::size_t position = 33;
  Name name;
  ASSERT_EQ(parse_at(msg, position, name), NameError::ok);
  EXPECT_EQ(position, 35u);
  EXPECT_EQ(name.key(), as_string(labels({"b", "a", "example", "com"})));
}

TEST(NameParseTest, PointerToRootIsAllowed) {
  const Bytes msg = message({0, 0xC0, 12});
  std::size_t position = 13;
  Name name;
  ASSERT_EQ(parse_at(msg, position, name), NameError::ok);
  EXPECT_EQ(name.length, 1);
  EXPECT_EQ(position, 15u);
}

TEST(NameParseTest, RejectsPointerToItself) {
  const Bytes msg = message({0xC0, 12});
  std::size_t position = kHeaderSize;
  Name name;
  EXPECT_EQ(parse_at(msg, position, name), NameError::forward_pointer);
}

TEST(NameParseTest, RejectsPointerIntoOwnLabels) {
  // "a" then a pointer back to the start of the same name: a loop.
  const Bytes msg = message({1, 'a', 0xC0, 12});
  std::size_t position = kHeaderSize;
  Name name;
  EXPECT_EQ(parse_at(msg, position, name), NameError::forward_pointer);
}

TEST(NameParseTest, RejectsTwoPointerLoop) {
  // 12 -> 14 and 14 -> 12: whichever end the walk starts from, it comes back.
  const Bytes msg = message({0xC0, 14, 0xC0, 12});
  for (const std::size_t start : {std::size_t{12}, std::size_t{14}}) {
    std::size_t position = start;
    Name name;
    EXPECT_EQ(parse_at(msg, position, name), NameError::forward_pointer) << start;
  }
}

TEST(NameParseTest, RejectsLoopThroughLabels) {
  // 12: "x" -> 16; 16: "y" -> 12. Started at 16 the first hop goes backwards, the
  // second would go forwards again.
  const Bytes msg = message({1, 'x', 0xC0, 16, 1, 'y', 0xC0, 12});
  std::size_t position = 16;
  Name name;
  EXPECT_EQ(parse_at(msg, position, name), NameError::forward_pointer);
}

TEST(NameParseTest, RejectsForwardPointerEvenToValidName) {
  // RFC 9267 §2: a pointer must point to an earlier occurrence.
  Bytes body{0xC0, 14};
  const Bytes tail = labels({"later"});
  body.insert(body.end(), tail.begin(), tail.end());
  const Bytes msg = message(body);
  std::size_t position = kHeaderSize;
  Name name;
  EXPECT_EQ(parse_at(msg, position, name), NameError::forward_pointer);
}

TEST(NameParseTest, RejectsRetiredLabelTypes) {
  // 0b01 (extended, RFC 6891 §5) and 0b10 (reserved); also covers length octets over 63.
  for (const int octet : {0x40, 0x41, 0x7F, 0x80, 0xBF}) {
    const Bytes msg = message({static_cast<std::uint8_t>(octet), 'a', 0});
    std::size_t position = kHeaderSize;
    Name name;
    EXPECT_EQ(parse_at(msg, position, name), NameError::bad_label_type) << octet;
  }
}

TEST(NameParseTest, AcceptsLabelOf63) {
  const std::string label(63, 'x');
  const Bytes msg = message(labels({label}));
  std::size_t position = kHeaderSize;
  Name name;
  EXPECT_EQ(parse_at(msg, position, name), NameError::ok);
  EXPECT_EQ(name.length, 65);
}

TEST(NameParseTest, NameOf255IsAcceptedAnd256Rejected) {
  const std::string l63(63, 'a');
  const Bytes at_limit = message(labels({l63, l63, l63, std::string(61, 'b')}));
  std::size_t position = kHeaderSize;
  Name name;
  ASSERT_EQ(parse_at(at_limit, position, name), NameError::ok);
  EXPECT_EQ(name.length, 255);

  const Bytes over = message(labels({l63, l63, l63, std::string(62, 'b')}));
  position = kHeaderSize;
  EXPECT_EQ(parse_at(over, position, name), NameError::name_too_long);
}

TEST(NameParseTest, MostLabelsFit) {
  // 127 one-octet labels plus the root make exactly 255 octets.
  Bytes body;
  for (int i = 0; i < 127; ++i) body.insert(body.end(), {1, 'x'});
  body.push_back(0);
  const Bytes msg = message(body);
  std::size_t position = kHeaderSize;
  Name name;
  ASSERT_EQ(parse_at(msg, position, name), NameError::ok);
  EXPECT_EQ(name.labels, 127);
  EXPECT_EQ(name.label_offsets[126], 252);
}

TEST(NameParseTest, RejectsNameTooLongOnlyOnceExpanded) {
  // Each piece is short in place; the pointers make the expanded name 257 octets.
  const std::string l63(63, 'a');
  Bytes body = labels({l63, l63});                     // 12..141: 129 octets
  body.insert(body.end(), {63});                       // 141: a third label of 63 ...
  body.insert(body.end(), l63.begin(), l63.end());
  body.insert(body.end(), {0xC0, 12});                 // ... followed by the first name
  const std::size_t second = kHeaderSize + body.size();
  body.insert(body.end(), {62});
  const std::string l62(62, 'c');
  body.insert(body.end(), l62.begin(), l62.end());
  body.insert(body.end(), {0xC0, 141});
  const Bytes msg = message(body);
  std::size_t position = 141;
  Name name;
  ASSERT_EQ(parse_at(msg, position, name), NameError::ok);  // 64 + 129 = 193
  position = second;
  EXPECT_EQ(parse_at(msg, position, name), NameError::name_too_long);  // 63 + 193 = 256
}

TEST(NameParseTest, RejectsTruncatedNames) {
  const std::vector<Bytes> cases = {
      {},                    // nothing at all
      {3, 'w', 'w'},         // label runs past the end
      {3, 'w', 'w', 'w'},    // no root octet
      {0xC0},                // half a pointer
  };
  for (const Bytes& body : cases) {
    const Bytes msg = message(body);
    std::size_t position = kHeaderSize;
    Name name;
    EXPECT_EQ(parse_at(msg, position, name), NameError::truncated) << body.size();
  }
}

TEST(NameParseTest, PositionPastTheEndIsTruncated) {
  const Bytes msg = message({0});
  std::size_t position = msg.size();
  Name name;
  EXPECT_EQ(parse_at(msg, position, name), NameError::truncated);
}

TEST(NameParseTest, FoldsCaseOnlyWhenAsked) {
  const Bytes msg = message(labels({"WwW", "Ex@[Z]", "\xC4Z"}));
  std::size_t position = kHeaderSize;
  Name kept;
  ASSERT_EQ(parse_at(msg, position, kept, false), NameError::ok);
  EXPECT_EQ(kept.key(), as_string(labels({"WwW", "Ex@[Z]", "\xC4Z"})));
  position = kHeaderSize;
  Name folded;
  ASSERT_EQ(parse_at(msg, position, folded, true), NameError::ok);
  // Only A-Z fold (RFC 4343 §3); '@', '[' and octets above 0x7F stay as they are.
  EXPECT_EQ(folded.key(), as_string(labels({"www", "ex@[z]", "\xC4z"})));
}

TEST(NameParseTest, FoldsCaseThroughPointers) {
  Bytes body = labels({"EXAMPLE"});
  body.insert(body.end(), {3, 'W', 'W', 'W', 0xC0, 12});
  const Bytes msg = message(body);
  std::size_t position = 21;
  Name name;
  ASSERT_EQ(parse_at(msg, position, name, true), NameError::ok);
  EXPECT_EQ(name.key(), as_string(labels({"www", "example"})));
}

TEST(NameParseTest, SkipNameMatchesParseName) {
  Bytes body = labels({"www", "example"});
  body.insert(body.end(), {1, 'a', 0xC0, 12, 0xC0, 30, 0x40, 0});
  const Bytes msg = message(body);
  for (std::size_t start = kHeaderSize; start <= msg.size(); ++start) {
    std::size_t parse_position = start;
    std::size_t skip_position = start;
    Name name;
    const NameError parsed = parse_at(msg, parse_position, name);
    EXPECT_EQ(skip_name(msg, skip_position), parsed) << start;
    if (parsed == NameError::ok) {
      EXPECT_EQ(skip_position, parse_position) << start;
    }
  }
}

TEST(NameHelpersTest, FoldNameLowersLabelsOnly) {
  std::string wire = as_string(labels({"AbC", "DEF"}));
  fold_name({reinterpret_cast<std::uint8_t*>(wire.data()), wire.size()});
  EXPECT_EQ(wire, as_string(labels({"abc", "def"})));
}

TEST(NameHelpersTest, FoldNameFoldsEveryOctetValueAsFoldOctetDoes) {
  // Eight octets at a time and the rest one by one: every value, at every position of a
  // name whose length is not a multiple of eight.
  for (int value = 0; value < 256; ++value) {
    for (std::size_t at = 0; at < 21; ++at) {
      std::vector<std::uint8_t> wire(21, 'Q');
      wire[at] = static_cast<std::uint8_t>(value);
      fold_name(wire);
      for (std::size_t i = 0; i < wire.size(); ++i) {
        const std::uint8_t expected = i == at ? fold_octet(static_cast<std::uint8_t>(value)) : 'q';
        ASSERT_EQ(wire[i], expected) << "value " << value << " at " << at << ", octet " << i;
      }
    }
  }
}

TEST(NameHelpersTest, NamesEqualIgnoresCase) {
  const Bytes a = labels({"WWW", "example"});
  const Bytes b = labels({"www", "EXAMPLE"});
  const Bytes c = labels({"www", "example", "com"});
  EXPECT_TRUE(names_equal(a, b));
  EXPECT_FALSE(names_equal(a, c));
  EXPECT_FALSE(names_equal(labels({"wwx", "example"}), b));
}

TEST(NameHelpersTest, IsAtOrBelowComparesWholeLabels) {
  const std::string origin = as_string(labels({"example", "test"}));
  EXPECT_TRUE(is_at_or_below(origin, origin));
  EXPECT_TRUE(is_at_or_below(as_string(labels({"a", "b", "example", "test"})), origin));
  EXPECT_FALSE(is_at_or_below(as_string(labels({"notexample", "test"})), origin));
  EXPECT_FALSE(is_at_or_below(as_string(labels({"test"})), origin));
  EXPECT_FALSE(is_at_or_below(as_string(labels({"example", "org"})), origin));
  EXPECT_TRUE(is_at_or_below(origin, std::string(1, '\0')));
}

TEST(NameHelpersTest, CountsLabels) {
  EXPECT_EQ(count_labels(std::string(1, '\0')), 0u);
  EXPECT_EQ(count_labels(as_string(labels({"a", "bb", "ccc"}))), 3u);
}

TEST(NameTextTest, ConvertsAbsoluteNamesKeepingCase) {
  std::string wire;
  ASSERT_TRUE(name_from_text("www.Example.com.", wire));
  EXPECT_EQ(wire, as_string(labels({"www", "Example", "com"})));
  EXPECT_EQ(name_to_text(wire), "www.Example.com.");
}

TEST(NameTextTest, RootAndApex) {
  std::string wire;
  ASSERT_TRUE(name_from_text(".", wire));
  EXPECT_EQ(wire, std::string(1, '\0'));
  EXPECT_EQ(name_to_text(wire), ".");
  const std::string origin = as_string(labels({"example", "test"}));
  ASSERT_TRUE(name_from_text("@", wire, origin));
  EXPECT_EQ(wire, origin);
  ASSERT_TRUE(name_from_text(".", wire, origin));
  EXPECT_EQ(wire, std::string(1, '\0'));
}

TEST(NameTextTest, CompletesRelativeNamesWithOrigin) {
  const std::string origin = as_string(labels({"example", "test"}));
  std::string wire;
  ASSERT_TRUE(name_from_text("www.sub", wire, origin));
  EXPECT_EQ(wire, as_string(labels({"www", "sub", "example", "test"})));
  ASSERT_TRUE(name_from_text("www.other.", wire, origin));
  EXPECT_EQ(wire, as_string(labels({"www", "other"})));
  ASSERT_TRUE(name_from_text("host", wire));  // no origin: taken as absolute
  EXPECT_EQ(wire, as_string(labels({"host"})));
}

TEST(NameTextTest, ReadsEscapes) {
  std::string wire;
  ASSERT_TRUE(name_from_text("a\\.b.c\\\\d.\\065\\032\\255.", wire));
  EXPECT_EQ(wire, as_string(labels({"a.b", "c\\d", std::string("A \xFF")})));
}

TEST(NameTextTest, WritesEscapes) {
  const std::string wire =
      as_string(labels({"a.b", "c\\d", std::string("\0 \x7F\xFF", 4), "q\"(;)$@"}));
  EXPECT_EQ(name_to_text(wire), "a\\.b.c\\\\d.\\000\\032\\127\\255.q\\\"\\(\\;\\)\\$\\@.");
}

TEST(NameTextTest, RejectsBadText) {
  std::string wire;
  EXPECT_FALSE(name_from_text("a..b.", wire));
  EXPECT_FALSE(name_from_text(".a.", wire));
  EXPECT_FALSE(name_from_text(std::string(64, 'x') + ".", wire));
  EXPECT_TRUE(name_from_text(std::string(63, 'x') + ".", wire));
  EXPECT_FALSE(name_from_text("\\256.", wire));
  EXPECT_FALSE(name_from_text("\\12", wire));
  EXPECT_FALSE(name_from_text("\\1x3.", wire));
  const std::string l63(63, 'a');
  EXPECT_TRUE(name_from_text(l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b') + ".", wire));
  EXPECT_EQ(wire.size(), 255u);
  EXPECT_FALSE(name_from_text(l63 + "." + l63 + "." + l63 + "." + std::string(62, 'b') + ".", wire));
  // Too long only once the origin is appended.
  const std::string origin = as_string(labels({l63, l63}));
  EXPECT_FALSE(name_from_text(l63 + "." + l63, wire, origin));
}

TEST(NameTextTest, RandomNamesRoundTrip) {
  std::mt19937 rng(20261128);
  for (int round = 0; round < 2000; ++round) {
    Bytes wire;
    const int label_count = static_cast<int>(rng() % 6);
    for (int i = 0; i < label_count; ++i) {
      const std::size_t length = 1 + rng() % 20;
      wire.push_back(static_cast<std::uint8_t>(length));
      for (std::size_t j = 0; j < length; ++j) wire.push_back(static_cast<std::uint8_t>(rng()));
    }
    wire.push_back(0);
    const std::string text = name_to_text(as_string(wire));
    std::string back;
    ASSERT_TRUE(name_from_text(text, back)) << text;
    EXPECT_EQ(back, as_string(wire)) << text;
  }
}

}  // namespace
}  // namespace signpost::dns::wire
