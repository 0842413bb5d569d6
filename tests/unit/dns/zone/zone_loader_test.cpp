// Tests for loading master files into zones.
#include "dns/zone/zone_loader.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dns/wire/name.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::zone {
namespace {

namespace fs = std::filesystem;
namespace rrtype = wire::rrtype;

std::string wire_name(std::string_view text) {
  std::string out;
  EXPECT_TRUE(wire::name_from_text(text, out)) << text;
  return out;
}

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<std::uint8_t> rdata_of(const RRset& rrset, std::size_t i) {
  const auto r = rrset.rdata(i);
  return {r.begin(), r.end()};
}

const std::string kSoa =
    "@ 3600 IN SOA ns hostmaster 7 3600 600 86400 300\n"
    "@ 3600 IN NS ns\n"
    "ns IN A 192.0.2.1\n";

class ZoneLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "signpost-zone-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  // Loads `text` as `name` and returns the error message, or "" when it loaded.
  std::string load_error(const std::string& name, const std::string& text) {
    const std::string path = write(name, text);
    try {
      load_zone_file(path);
    } catch (const ZoneError& e) {
      return e.what();
    }
    return "";
  }

  const RRset* rrset(const Zone& zone, std::string_view name, std::uint16_t type) {
    const Node* node = zone.find(wire_name(name));
    return node == nullptr ? nullptr : node->find(type);
  }

  fs::path dir_;
};

TEST_F(ZoneLoaderTest, ResolvesRelativeNamesAndTtls) {
  const std::string path = write("any.zone",
                                 "$ORIGIN example.test.\n"
                                 "$TTL 600\n" +
                                     kSoa +
                                     "www IN A 192.0.2.10\n"
                                     "www.example.test. 60 IN AAAA 2001:db8::10\n"
                                     "    IN TXT \"same owner as the line above\"\n"
                                     "$ORIGIN sub.example.test.\n"
                                     "host A 192.0.2.20\n");
  const auto zone = load_zone_file(path);
  EXPECT_EQ(zone->origin(), wire_name("example.test."));
  ASSERT_NE(rrset(*zone, "www.example.test.", rrtype::kA), nullptr);
  EXPECT_EQ(rrset(*zone, "www.example.test.", rrtype::kA)->ttl, 600u);
  EXPECT_EQ(rrset(*zone, "www.example.test.", rrtype::kAaaa)->ttl, 60u);
  EXPECT_NE(rrset(*zone, "www.example.test.", rrtype::kTxt), nullptr);
  ASSERT_NE(rrset(*zone, "host.sub.example.test.", rrtype::kA), nullptr);
  EXPECT_EQ(rdata_of(*rrset(*zone, "host.sub.example.test.", rrtype::kA), 0),
            (std::vector<std::uint8_t>{192, 0, 2, 20}));
}

TEST_F(ZoneLoaderTest, OriginComesFromFileNameWithoutOriginDirective) {
  const auto zone = load_zone_file(write("example.org.zone", kSoa));
  EXPECT_EQ(zone->origin(), wire_name("example.org."));
  EXPECT_NE(rrset(*zone, "ns.example.org.", rrtype::kA), nullptr);
}

TEST_F(ZoneLoaderTest, OriginDirectiveOverridesFileName) {
  const auto zone = load_zone_file(write("example.org.zone", "$ORIGIN Other.TEST.\n" + kSoa));
  EXPECT_EQ(zone->origin(), wire_name("other.test."));
}

TEST_F(ZoneLoaderTest, DefaultTtlIs3600WithoutTtlDirective) {
  const auto zone = load_zone_file(write("example.test.zone", kSoa));
  EXPECT_EQ(rrset(*zone, "ns.example.test.", rrtype::kA)->ttl, 3600u);
}

TEST_F(ZoneLoaderTest, LoadsUnknownTypesInRfc3597Form) {
  const auto zone = load_zone_file(write("example.test.zone", kSoa +
                                                                  "x TYPE65280 \\# 4 0A000001\n"
                                                                  "y A \\# 4 C0000263\n"
                                                                  "z TYPE4660 \\# 0\n"));
  const RRset* unknown = rrset(*zone, "x.example.test.", 65280);
  ASSERT_NE(unknown, nullptr);
  EXPECT_EQ(rdata_of(*unknown, 0), (std::vector<std::uint8_t>{0x0A, 0, 0, 1}));
  ASSERT_NE(rrset(*zone, "y.example.test.", rrtype::kA), nullptr);
  EXPECT_EQ(rdata_of(*rrset(*zone, "y.example.test.", rrtype::kA), 0),
            (std::vector<std::uint8_t>{192, 0, 2, 99}));
  ASSERT_NE(rrset(*zone, "z.example.test.", 4660), nullptr);
  EXPECT_TRUE(rrset(*zone, "z.example.test.", 4660)->rdata(0).empty());
}

TEST_F(ZoneLoaderTest, EncodesRdataUncompressedWithItsCase) {
  const auto zone = load_zone_file(write("example.test.zone", kSoa +
                                                                  "mx MX 10 Mail\n"
                                                                  "_s._tcp SRV 1 2 3 www\n"
                                                                  "t TXT \"a b\" c\n"));
  std::vector<std::uint8_t> mx{0, 10};
  const auto exchange = bytes(wire_name("Mail.example.test."));
  mx.insert(mx.end(), exchange.begin(), exchange.end());
  EXPECT_EQ(rdata_of(*rrset(*zone, "mx.example.test.", rrtype::kMx), 0), mx);
  EXPECT_EQ(rrset(*zone, "mx.example.test.", rrtype::kMx)->targets[0], wire_name("mail.example.test."));

  std::vector<std::uint8_t> srv{0, 1, 0, 2, 0, 3};
  const auto target = bytes(wire_name("www.example.test."));
  srv.insert(srv.end(), target.begin(), target.end());
  EXPECT_EQ(rdata_of(*rrset(*zone, "_s._tcp.example.test.", rrtype::kSrv), 0), srv);

  EXPECT_EQ(rdata_of(*rrset(*zone, "t.example.test.", rrtype::kTxt), 0),
            (std::vector<std::uint8_t>{3, 'a', ' ', 'b', 1, 'c'}));
}

TEST_F(ZoneLoaderTest, CreatesEmptyNonTerminals) {
  const auto zone = load_zone_file(write("example.test.zone", kSoa + "a.b.c TXT \"deep\"\n"));
  for (const char* name : {"b.c.example.test.", "c.example.test."}) {
    const Node* node = zone->find(wire_name(name));
    ASSERT_NE(node, nullptr) << name;
    EXPECT_TRUE(node->empty()) << name;
  }
  EXPECT_EQ(zone->find(wire_name("x.example.test.")), nullptr);
}

TEST_F(ZoneLoaderTest, NotesWildcardsAndDelegations) {
  const auto plain = load_zone_file(write("plain.test.zone", kSoa));
  EXPECT_FALSE(plain->has_wildcards());
  EXPECT_FALSE(plain->has_delegations());
  EXPECT_FALSE(plain->apex().delegation);

  const auto zone = load_zone_file(write("example.test.zone", kSoa +
                                                                  "*.wild A 192.0.2.99\n"
                                                                  "sub NS ns.sub\n"
                                                                  "ns.sub A 192.0.2.53\n"));
  EXPECT_TRUE(zone->has_wildcards());
  EXPECT_TRUE(zone->has_delegations());
  EXPECT_TRUE(zone->find(wire_name("sub.example.test."))->delegation);
  EXPECT_FALSE(zone->apex().delegation);
}

TEST_F(ZoneLoaderTest, NegativeTtlIsMinOfSoaTtlAndMinimum) {
  const auto by_minimum = load_zone_file(write("a.test.zone", kSoa));
  EXPECT_EQ(by_minimum->negative_ttl(), 300u);
  EXPECT_EQ(by_minimum->serial(), 7u);
  const auto by_ttl =
      load_zone_file(write("b.test.zone", "@ 100 IN SOA ns hostmaster 1 3600 600 86400 300\n"));
  EXPECT_EQ(by_ttl->negative_ttl(), 100u);
}

TEST_F(ZoneLoaderTest, DropsDuplicateRecords) {
  const auto zone = load_zone_file(write("example.test.zone", kSoa +
                                                                  "www A 192.0.2.10\n"
                                                                  "WWW A 192.0.2.10\n"
                                                                  "www.example.test. A 192.0.2.10\n"
                                                                  "www A 192.0.2.11\n"));
  EXPECT_EQ(rrset(*zone, "www.example.test.", rrtype::kA)->size(), 2u);
}

// A large RRset loads in time proportional to its size: each record's duplicate check is
// a hash lookup, not a scan of the records added before it (which took 25 s for 100,000).
// The suite has a CTest TIMEOUT of its own (tests/CMakeLists.txt) that only the quadratic
// check exceeds; here it is checked that every record arrives once, duplicates still dropped.
TEST_F(ZoneLoaderTest, LoadsAHundredThousandRecordRRset) {
  constexpr int kRecords = 100000;
  std::string text = "$ORIGIN example.test.\n$TTL 600\n" + kSoa;
  text.reserve(text.size() + kRecords * 30);
  for (int i = 0; i < kRecords; ++i) {
    const std::string address = "10." + std::to_string(i >> 16) + "." +
                                std::to_string((i >> 8) & 0xff) + "." + std::to_string(i & 0xff);
    text += "many A " + address + "\n";
    // Every hundredth record twice, the second time with its owner in another case.
    if (i % 100 == 0) text += "MANY.example.test. A " + address + "\n";
  }
  const auto zone = load_zone_file(write("example.test.zone", text));
  const RRset* many = rrset(*zone, "many.example.test.", rrtype::kA);
  ASSERT_NE(many, nullptr);
  ASSERT_EQ(many->size(), static_cast<std::size_t>(kRecords));
  EXPECT_EQ(many->ttl, 600u);
  EXPECT_EQ(rdata_of(*many, 0), (std::vector<std::uint8_t>{10, 0, 0, 0}));
  EXPECT_EQ(rdata_of(*many, kRecords - 1), (std::vector<std::uint8_t>{10, 1, 0x86, 0x9f}));
}

TEST_F(ZoneLoaderTest, RejectsCnameAndOtherData) {
  const std::string error =
      load_error("example.test.zone", kSoa + "www CNAME other\nwww A 192.0.2.1\n");
  EXPECT_EQ(error.rfind((dir_ / "example.test.zone").string() + ": ", 0), 0u) << error;
  EXPECT_NE(error.find("CNAME and other data at www.example.test."), std::string::npos) << error;
}

TEST_F(ZoneLoaderTest, SyntaxErrorsNameFileAndLine) {
  const std::string path = (dir_ / "example.test.zone").string();
  const std::string error = load_error("example.test.zone", kSoa +
                                                                "; a comment\n"
                                                                "\n"
                                                                "www A 192.0.2\n");
  EXPECT_EQ(error.rfind(path + ":6: ", 0), 0u) << error;
}

TEST_F(ZoneLoaderTest, MultiLineEntryErrorsNameTheFirstLine) {
  const std::string path = (dir_ / "example.test.zone").string();
  const std::string error = load_error("example.test.zone", kSoa +
                                                                "www MX (\n"
                                                                "  10\n"
                                                                "  bad..name )\n");
  EXPECT_EQ(error.rfind(path + ":4: ", 0), 0u) << error;
}

TEST_F(ZoneLoaderTest, RejectsOtherClasses) {
  const std::string path = (dir_ / "example.test.zone").string();
  const std::string error = load_error("example.test.zone", kSoa + "txt CH TXT \"chaos\"\n");
  EXPECT_EQ(error.rfind(path + ":4: ", 0), 0u) << error;
  EXPECT_NE(error.find("class CH"), std::string::npos) << error;
}

TEST_F(ZoneLoaderTest, RejectsRecordsOutsideTheZone) {
  const std::string path = (dir_ / "example.test.zone").string();
  const std::string error = load_error("example.test.zone", kSoa + "www.example.org. A 192.0.2.1\n");
  EXPECT_EQ(error.rfind(path + ":4: ", 0), 0u) << error;
  EXPECT_NE(error.find("www.example.org."), std::string::npos) << error;
  EXPECT_NE(error.find("outside"), std::string::npos) << error;
}

TEST_F(ZoneLoaderTest, RejectsSoaBelowTheApex) {
  const std::string error =
      load_error("example.test.zone", kSoa + "sub SOA ns hostmaster 1 2 3 4 5\n");
  EXPECT_NE(error.find(":4: SOA record at sub.example.test."), std::string::npos) << error;
}

TEST_F(ZoneLoaderTest, RejectsZoneWithoutSoa) {
  const std::string path = (dir_ / "example.test.zone").string();
  const std::string error = load_error("example.test.zone", "www A 192.0.2.1\n");
  EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
  EXPECT_NE(error.find("no SOA"), std::string::npos) << error;
}

TEST_F(ZoneLoaderTest, RejectsEmptyFile) {
  const std::string error = load_error("example.test.zone", "; nothing here\n\n");
  EXPECT_NE(error.find("no records"), std::string::npos) << error;
}

TEST_F(ZoneLoaderTest, RejectsInclude) {
  const std::string error = load_error("example.test.zone", kSoa + "$INCLUDE other.zone\n");
  EXPECT_NE(error.find(":4: $INCLUDE"), std::string::npos) << error;
}

TEST_F(ZoneLoaderTest, ReadsLastEntryWithoutFinalNewline) {
  const auto zone = load_zone_file(write("example.test.zone", kSoa + "last A 192.0.2.9"));
  EXPECT_NE(rrset(*zone, "last.example.test.", rrtype::kA), nullptr);
  const auto trailing =
      load_zone_file(write("b.test.zone", kSoa + "last A 192.0.2.9\n\n; the end\n   \n"));
  EXPECT_NE(rrset(*trailing, "last.b.test.", rrtype::kA), nullptr);
}

TEST_F(ZoneLoaderTest, MissingFileIsAnError) {
  const std::string path = (dir_ / "absent.zone").string();
  try {
    load_zone_file(path);
    FAIL() << "loaded a missing file";
  } catch (const ZoneError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST_F(ZoneLoaderTest, DirectoryLoadsZoneFilesInNameOrder) {
  write("b.test.zone", kSoa);
  write("a.test.zone", kSoa);
  write("notes.txt", "not a zone");
  write("c.test.zone~", "an editor backup");
  const auto zones = load_zone_directory(dir_.string());
  ASSERT_EQ(zones.size(), 2u);
  EXPECT_EQ(zones[0]->origin(), wire_name("a.test."));
  EXPECT_EQ(zones[1]->origin(), wire_name("b.test."));
}

TEST_F(ZoneLoaderTest, EmptyDirectoryLoadsNothing) {
  EXPECT_TRUE(load_zone_directory(dir_.string()).empty());
}

TEST_F(ZoneLoaderTest, MissingDirectoryIsAnError) {
  const std::string missing = (dir_ / "nope").string();
  try {
    load_zone_directory(missing);
    FAIL() << "loaded a missing directory";
  } catch (const ZoneError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
}

TEST_F(ZoneLoaderTest, DirectoryRejectsTwoFilesForOneZone) {
  write("a.zone", "$ORIGIN same.test.\n" + kSoa);
  write("b.zone", "$ORIGIN same.test.\n" + kSoa);
  try {
    load_zone_directory(dir_.string());
    FAIL() << "loaded one zone twice";
  } catch (const ZoneError& e) {
    EXPECT_NE(std::string(e.what()).find("same.test."), std::string::npos) << e.what();
  }
}

TEST_F(ZoneLoaderTest, DirectoryErrorNamesTheBadFile) {
  write("a.test.zone", kSoa);
  const std::string bad = write("b.test.zone", kSoa + "www A not-an-address\n");
  try {
    load_zone_directory(dir_.string());
    FAIL() << "loaded a bad file";
  } catch (const ZoneError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(bad + ":4: ", 0), 0u) << e.what();
  }
}

// The zones shipped in zones/ load, and hold what zones/README.md promises.
TEST(ZoneLoaderShippedTest, ZonesDirectoryLoads) {
  const auto zones = load_zone_directory(std::string(SIGNPOST_SOURCE_DIR) + "/zones");
  const Zone* example = nullptr;
  for (const auto& zone : zones) {
    if (zone->origin() == wire_name("example.test.")) example = zone.get();
  }
  ASSERT_NE(example, nullptr);
  auto find = [&](std::string_view name, std::uint16_t type) -> const RRset* {
    const Node* node = example->find(wire_name(name));
    return node == nullptr ? nullptr : node->find(type);
  };
  EXPECT_EQ(example->negative_ttl(), 300u);
  EXPECT_NE(find("example.test.", rrtype::kNs), nullptr);
  EXPECT_NE(find("ns.example.test.", rrtype::kA), nullptr);
  EXPECT_EQ(find("www.example.test.", rrtype::kA)->size(), 2u);
  EXPECT_NE(find("www.example.test.", rrtype::kAaaa), nullptr);
  EXPECT_NE(find("mx.example.test.", rrtype::kMx), nullptr);
  EXPECT_NE(find("mail.example.test.", rrtype::kA), nullptr);
  EXPECT_EQ(find("text.example.test.", rrtype::kTxt)->size(), 2u);
  EXPECT_NE(find("_http._tcp.example.test.", rrtype::kSrv), nullptr);
  EXPECT_NE(find("alias.example.test.", rrtype::kCname), nullptr);
  EXPECT_NE(find("chain1.example.test.", rrtype::kCname), nullptr);
  EXPECT_NE(find("outside.example.test.", rrtype::kCname), nullptr);
  EXPECT_NE(find("*.wild.example.test.", rrtype::kA), nullptr);
  ASSERT_NE(example->find(wire_name("wild.example.test.")), nullptr);
  EXPECT_TRUE(example->find(wire_name("wild.example.test."))->empty());
  EXPECT_TRUE(example->has_wildcards());
  EXPECT_NE(find("a.b.example.test.", rrtype::kTxt), nullptr);
  ASSERT_NE(example->find(wire_name("b.example.test.")), nullptr);
  EXPECT_TRUE(example->find(wire_name("b.example.test."))->empty());
  EXPECT_TRUE(example->find(wire_name("sub.example.test."))->delegation);
  EXPECT_NE(find("ns.sub.example.test.", rrtype::kA), nullptr);
  EXPECT_EQ(rdata_of(*find("unknown.example.test.", 65280), 0),
            (std::vector<std::uint8_t>{0x0A, 0, 0, 1}));
  const RRset* big = find("big.example.test.", rrtype::kA);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->size(), 100u);
  // Each record costs 16 octets with a compressed owner: the set cannot fit in 1232.
  EXPECT_GT(big->size() * 16, 1232u);
}

}  // namespace
}  // namespace signpost::dns::zone
