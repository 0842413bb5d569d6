// The state file: its format round trip, every way bytes can be wrong, and save and load.
#include "registry/backend/state_file.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tests/unit/registry/backend/sample_state.hpp"

namespace signpost::registry::backend {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;
using testing::sample_instance;
using testing::sample_state;

// Offsets in an encoded state (state_file.hpp).
constexpr std::size_t kVersionAt = 4;
constexpr std::size_t kBodyLengthAt = 8;
constexpr std::size_t kInstanceCountAt = 24;
constexpr std::size_t kOverrideCountAt = 32;
constexpr std::size_t kFirstRecordAt = 36;

std::string error_of(const Bytes& bytes) {
  try {
    parse_state(bytes);
  } catch (const StateError& e) {
    return e.what();
  }
  return "(parsed)";
}

void put_u32(Bytes& bytes, std::size_t at, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) {
    bytes[at + i] = static_cast<std::uint8_t>(value >> (24 - 8 * i));
  }
}

// Writes the checksum of changed bytes, as a forger (or the fuzzer's helper) would.
void reseal(Bytes& bytes) {
  const std::uint32_t checksum = state_checksum(std::span(bytes).first(bytes.size() - 4));
  put_u32(bytes, bytes.size() - 4, checksum);
}

// Encodes `state` and parses it back: what a restart sees of it.
RegistryState round_trip(const RegistryState& state) { return parse_state(encode_state(state)); }

TEST(StateFile, RoundTripsEveryField) {
  RegistryState state = sample_state(30, 3);
  DynamicInstance& v6_only = state.instances[2];
  ASSERT_TRUE(v6_only.instance.ipv4.empty());
  ASSERT_FALSE(v6_only.instance.ipv6.empty());
  state.instances[0].lease_end_unix_ms = -5;  // before 1970: still a number
  state.instances[0].instance.meta.push_back({"empty", ""});
  state.instances[1].instance.tags.clear();
  state.instances[1].key_name.clear();  // registered through the API: no key
  ASSERT_EQ(state.instances[13].weight_override, std::optional<std::uint16_t>(0));
  ASSERT_EQ(state.instances[6].weight_override, std::optional<std::uint16_t>(3));
  ASSERT_TRUE(state.instances[4].drained);
  ASSERT_TRUE(state.instances[7].suppressed);

  EXPECT_EQ(round_trip(state), state);
  EXPECT_EQ(round_trip(RegistryState{}), RegistryState{});
  EXPECT_EQ(encode_state(RegistryState{}).size(), 40u);  // header, the body's fixed part, CRC
}

TEST(StateFile, ParsingNormalizesAsRegistrationDoes) {
  RegistryState state = sample_state(1);
  state.instances[0].instance.node = "Node-A";
  state.instances[0].instance.tags = {"v1", "Blue", "v1"};
  const RegistryState parsed = round_trip(state);
  EXPECT_EQ(parsed.instances[0].instance.node, "node-a");
  EXPECT_EQ(parsed.instances[0].instance.tags, (std::vector<std::string>{"blue", "v1"}));
}

TEST(StateFile, OneRecordIsTheStateFilesRecord) {
  const RegistryState state = sample_state(30);
  const Bytes file = encode_state(state);
  std::size_t at = kFirstRecordAt;
  for (const DynamicInstance& dynamic : state.instances) {
    const Bytes record = encode_dynamic_instance(dynamic);
    ASSERT_LE(at + record.size(), file.size());
    EXPECT_TRUE(std::equal(record.begin(), record.end(), file.begin() + static_cast<long>(at)));
    EXPECT_EQ(parse_dynamic_instance(record), dynamic);
    at += record.size();
  }
}

TEST(StateFile, OneRecordIsCheckedAsInAFile) {
  Bytes record = encode_dynamic_instance(sample_instance(3));
  for (std::size_t size = 0; size < record.size(); ++size) {
    EXPECT_THROW(parse_dynamic_instance(std::span(record).first(size)), StateError) << size;
  }
  Bytes longer = record;
  longer.push_back(0);
  EXPECT_THROW(parse_dynamic_instance(longer), StateError);
  DynamicInstance bad_node = sample_instance(3);
  bad_node.instance.node = "-bad";
  EXPECT_THROW(parse_dynamic_instance(encode_dynamic_instance(bad_node)), StateError);
}

TEST(StateFile, ChecksumIsCrc32c) {
  const std::string check = "123456789";  // RFC 3720 §B.4's check value
  EXPECT_EQ(state_checksum(std::span(reinterpret_cast<const std::uint8_t*>(check.data()),
                                     check.size())),
            0xE3069283u);
  EXPECT_EQ(state_checksum({}), 0u);
}

TEST(StateFile, EveryTruncationFailsCleanly) {
  const Bytes bytes = encode_state(sample_state(3, 2));
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    const std::string error = error_of(Bytes(bytes.begin(), bytes.begin() + size));
    const std::string expected = "truncated at byte " + std::to_string(size);
    EXPECT_TRUE(error == expected || error.rfind(expected + " of ", 0) == 0) << error;
  }
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(error_of(longer), "1 bytes after the checksum");
}

TEST(StateFile, EveryFlippedBitIsCaught) {
  const Bytes bytes = encode_state(sample_state(3, 2));
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    for (const std::uint8_t bit : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
      Bytes flipped = bytes;
      flipped[at] ^= bit;
      const std::string error = error_of(flipped);
      EXPECT_NE(error, "(parsed)") << "byte " << at;
      if (at >= 12) {
        EXPECT_EQ(error, "bad checksum") << "byte " << at;
      }
    }
  }
}

TEST(StateFile, HeaderErrorsSayWhatIsWrong) {
  Bytes bytes = encode_state(sample_state(1));
  Bytes version = bytes;
  version[kVersionAt + 1] = 7;
  EXPECT_EQ(error_of(version), "unknown version 7");
  Bytes magic = bytes;
  magic[0] = 'X';
  EXPECT_EQ(error_of(magic), "not a state file (no SPST magic)");
  EXPECT_EQ(error_of(Bytes{'{', '}'}), "not a state file (no SPST magic)");
}

// Parses `bytes` under an address space limit of what is mapped now and 256 MiB more, and
// exits 0 after a StateError, 1 after parsing, 2 when the limit cannot be set; it dies on a
// failed allocation if it reserves what a length claims.
[[noreturn]] void parse_in_small_address_space(const Bytes& bytes) {
  std::ifstream status("/proc/self/status");
  std::string line;
  std::uint64_t mapped_kib = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmSize:", 0) == 0) mapped_kib = std::stoull(line.substr(7));
  }
  rlimit limit{};
  limit.rlim_cur = (mapped_kib << 10) + (std::uint64_t{256} << 20);
  limit.rlim_max = RLIM_INFINITY;
  if (mapped_kib == 0 || ::setrlimit(RLIMIT_AS, &limit) != 0) std::_Exit(2);
  try {
    parse_state(bytes);
  } catch (const StateError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::_Exit(0);
  }
  std::_Exit(1);
}

// Expects parse_in_small_address_space to refuse `bytes` with an error matching `pattern`.
void expect_refused_in_small_space(const Bytes& bytes, const std::string& pattern) {
  EXPECT_EXIT(parse_in_small_address_space(bytes), ::testing::ExitedWithCode(0), pattern);
}

TEST(StateFile, LengthsClaimingFourGigabytesFailWithoutAllocating) {
  const Bytes bytes = encode_state(sample_state(2, 1));
  const std::uint32_t huge = std::numeric_limits<std::uint32_t>::max();

  Bytes body_length = bytes;  // no reseal needed: the length is checked first
  put_u32(body_length, kBodyLengthAt, huge);
  expect_refused_in_small_space(body_length, "truncated at byte [0-9]+ of 4294967311");

  Bytes instance_count = bytes;
  put_u32(instance_count, kInstanceCountAt, huge);
  reseal(instance_count);
  expect_refused_in_small_space(instance_count, "instance count 4294967295 exceeds");

  Bytes record_length = bytes;
  put_u32(record_length, kFirstRecordAt, huge);
  reseal(record_length);
  expect_refused_in_small_space(record_length, "record 1: length 4294967295 exceeds");

  // The first record's IPv4 count (after its names and fixed fields), as 65,535.
  Bytes ipv4_count = bytes;
  const std::size_t names = 4 + 1 + 5 + 1 + 3 + 1 + 6 + 1 + 10;  // web-1 web node-1 other-key.
  ipv4_count[kFirstRecordAt + names + 4 + 8 + 8 + 24 + 24] = 0xFF;
  ipv4_count[kFirstRecordAt + names + 4 + 8 + 8 + 24 + 24 + 1] = 0xFF;
  reseal(ipv4_count);
  expect_refused_in_small_space(ipv4_count, "record 1: IPv4 address count 65535 exceeds");
}

// Encodes a state with one bad field (encode_state does not validate) and says what
// parsing it reports.
template <typename Change>
std::string error_with(Change change, std::uint32_t instances = 12) {
  RegistryState state = sample_state(instances, 1);
  change(state);
  return error_of(encode_state(state));
}

// Overrides of static instances (the operator's drains and weights) are kept beside the
// dynamic instances, which carry their own in their records.
TEST(StateFile, OverridesOfStaticInstancesRoundTripAndAreChecked) {
  RegistryState state = sample_state(3, 1);
  state.overrides.push_back({.service = "db", .id = "db-1", .drained = true, .weight = std::nullopt});
  state.overrides.push_back({.service = "web", .id = "static-2", .drained = false, .weight = 0});
  state.overrides.push_back({.service = "web", .id = "static-3", .drained = true, .weight = 9});
  EXPECT_EQ(round_trip(state), state);

  RegistryState repeated = state;
  repeated.overrides.push_back(repeated.overrides[1]);
  EXPECT_EQ(error_of(encode_state(repeated)),
            "override record 4: a second record of overridden instance web/static-2");
  RegistryState nothing = state;
  nothing.overrides[0].drained = false;  // neither drained nor a weight: no override at all
  EXPECT_EQ(error_of(encode_state(nothing)), "override record 1: override flags 0 out of range");
  RegistryState bad_name = state;
  bad_name.overrides[2].id = "a_b";
  EXPECT_EQ(error_of(encode_state(bad_name)).rfind("override record 3: instance id 'a_b'", 0), 0u);

  Bytes count = encode_state(state);
  put_u32(count, kOverrideCountAt, 1000);
  reseal(count);
  EXPECT_EQ(error_of(count).rfind("override count 1000 exceeds", 0), 0u);
}

// A file written before overrides were kept (version 1: no override count) still loads.
TEST(StateFile, VersionOneFilesStillLoad) {
  const RegistryState state = sample_state(5, 2);
  Bytes bytes = encode_state(state);
  ASSERT_EQ(bytes[kVersionAt + 1], 2);
  bytes[kVersionAt + 1] = 1;
  bytes.erase(bytes.begin() + kOverrideCountAt, bytes.begin() + kOverrideCountAt + 4);
  put_u32(bytes, kBodyLengthAt, static_cast<std::uint32_t>(bytes.size() - 12 - 4));
  reseal(bytes);
  EXPECT_EQ(parse_state(bytes), state);
}

TEST(StateFile, EveryRecordIsValidated) {
  EXPECT_EQ(error_with([](RegistryState& s) { s.instances[11].instance.port = 0; }),
            "record 12: port 0 out of range (1-65535)");
  EXPECT_EQ(error_with([](RegistryState& s) { s.instances[0].instance.id = "web_1"; }),
            "record 1: instance id 'web_1' may contain only letters, digits and hyphens "
            "(a DNS label)");
  EXPECT_EQ(error_with([](RegistryState& s) { s.instances[1].instance.service = "ns"; }),
            "record 2: service name 'ns' is reserved");
  EXPECT_EQ(error_with([](RegistryState& s) {
              s.instances[3].instance.ipv4.clear();
              s.instances[3].instance.ipv6.clear();
            }),
            "record 4: instance 'web-4' of service 'web' has no address");
  EXPECT_EQ(error_with([](RegistryState& s) { s.instances[4].instance.health = Health{7}; }),
            "record 5: unknown health 7");
  EXPECT_EQ(error_with([](RegistryState& s) { s.instances[4].protocol = Protocol{2}; }),
            "record 5: unknown protocol 2");
  EXPECT_EQ(error_with([](RegistryState& s) { s.instances[2].flap_penalty = -1; }),
            "record 3: flap penalty -1.000000 out of range");
  EXPECT_EQ(error_with([](RegistryState& s) {
              s.instances[2].flap_penalty = std::numeric_limits<double>::quiet_NaN();
            }).rfind("record 3: flap penalty", 0),
            0u);
  EXPECT_EQ(error_with([](RegistryState& s) { s.instances[5].instance.meta[0].first = "a=b"; }),
            "record 6: metadata key 'a=b' of instance 'web-6' is empty, contains '=' or is too "
            "long for a TXT string");
  EXPECT_EQ(error_with([](RegistryState& s) { s.instances[9] = s.instances[2]; }),
            "record 10: a second record of instance web/web-3");
  EXPECT_EQ(error_with([](RegistryState& s) { s.deleted[0].id = "-db"; }),
            "deleted record 1: instance id '-db' may not start or end with a hyphen");
  EXPECT_EQ(error_with([](RegistryState& s) { s.deleted.push_back(s.deleted[0]); }),
            "deleted record 2: a second record of deleted instance db/db-1");
}

TEST(StateFile, RecordFlagsAndLengthsMustAddUp) {
  Bytes bytes = encode_state(sample_state(1));
  const std::size_t flags_at = kFirstRecordAt + 4 + 1 + 5 + 1 + 3 + 1 + 6 + 1 + 10 + 3;
  Bytes flags = bytes;
  flags[flags_at] = 0x40;
  reseal(flags);
  EXPECT_EQ(error_of(flags), "record 1: unknown flags 64");

  // A record one byte longer than its fields, the state's length grown to match.
  Bytes longer = bytes;
  longer.insert(longer.end() - 4, 0);
  put_u32(longer, kBodyLengthAt, static_cast<std::uint32_t>(longer.size() - 16));
  const std::size_t record_end = longer.size() - 4;
  put_u32(longer, kFirstRecordAt, static_cast<std::uint32_t>(record_end - kFirstRecordAt - 4));
  reseal(longer);
  EXPECT_EQ(error_of(longer), "record 1: 1 bytes after its fields");

  Bytes extra = bytes;  // the same byte after the last record
  extra.insert(extra.end() - 4, 0);
  put_u32(extra, kBodyLengthAt, static_cast<std::uint32_t>(extra.size() - 16));
  reseal(extra);
  EXPECT_EQ(error_of(extra), "1 bytes after the last record");
}

// Linear in the size: the suite's CTest TIMEOUT (tests/CMakeLists.txt) catches anything
// slower; the times are printed for the record, not asserted.
TEST(StateFile, ParsesAHundredThousandInstances) {
  const RegistryState state = sample_state(100000, 1000);
  const auto t0 = std::chrono::steady_clock::now();
  const Bytes bytes = encode_state(state);
  const auto t1 = std::chrono::steady_clock::now();
  const RegistryState parsed = parse_state(bytes);
  const auto t2 = std::chrono::steady_clock::now();
  const auto checksum = state_checksum(bytes);
  const auto t3 = std::chrono::steady_clock::now();
  EXPECT_EQ(parsed, state);
  EXPECT_NE(checksum, 0u);
  using Ms = std::chrono::duration<double, std::milli>;
  std::printf("[ timing ] 100,000 instances, %.1f MB: encode %.1f ms, parse %.1f ms "
              "(of which CRC32C %.1f ms)\n",
              static_cast<double>(bytes.size()) / 1e6, Ms(t1 - t0).count(), Ms(t2 - t1).count(),
              Ms(t3 - t2).count());
}

class StateFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string folder = (fs::temp_directory_path() / "signpost-state-XXXXXX").string();
    ASSERT_NE(::mkdtemp(folder.data()), nullptr);
    folder_ = folder;
    path_ = (folder_ / "signpostd.state").string();
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(folder_, fs::perms::owner_all, ignored);
    fs::remove_all(folder_, ignored);
  }

  RegistryState load(std::chrono::system_clock::time_point now = kNow) {
    return load_state_file(path_, [this](LogLevel level, const std::string& line) {
      logged_.emplace_back(level, line);
    }, now);
  }
  void write_file(const std::string& path, const Bytes& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }
  Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
  }

  static constexpr std::chrono::system_clock::time_point kNow{std::chrono::seconds(1780272000)};
  fs::path folder_;
  std::string path_;
  std::vector<std::pair<LogLevel, std::string>> logged_;
};

TEST_F(StateFileOnDisk, SavedStateLoadsBack) {
  const RegistryState state = sample_state(20, 2);
  save_state_file(path_, encode_state(state));
  EXPECT_EQ(load(), state);
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_EQ(logged_[0].first, LogLevel::info);
  EXPECT_EQ(logged_[0].second, "state file " + path_ +
                                   ": 20 instances and 2 deleted instances' replay guards, "
                                   "serial 2026120601");
  EXPECT_EQ(fs::status(path_).permissions(), fs::perms::owner_read | fs::perms::owner_write);

  const RegistryState next = sample_state(5);
  save_state_file(path_, encode_state(next));
  EXPECT_EQ(load(), next);
}

TEST_F(StateFileOnDisk, MissingFileIsAnEmptyStateLoggedOnceAsInfo) {
  EXPECT_EQ(load(), RegistryState{});
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_EQ(logged_[0].first, LogLevel::info);
  EXPECT_EQ(logged_[0].second,
            "state file " + path_ + ": none yet; starting with no dynamic instances");
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(StateFileOnDisk, CorruptFileIsMovedAsideAndAnEmptyStateLoaded) {
  Bytes bytes = encode_state(sample_state(4));
  bytes[40] ^= 0x10;
  write_file(path_, bytes);
  EXPECT_EQ(load(), RegistryState{});
  const std::string aside = path_ + ".corrupt-1780272000";
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_EQ(logged_[0].first, LogLevel::error);
  EXPECT_EQ(logged_[0].second, "state file " + path_ + ": bad checksum; moved aside to " + aside +
                                   "; starting with no dynamic instances");
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_EQ(read_file(aside), bytes);  // kept whole for a post-mortem
}

TEST_F(StateFileOnDisk, UnreadableFileIsMovedAside) {
  fs::create_directory(path_);  // read() fails on it
  EXPECT_EQ(load(), RegistryState{});
  ASSERT_EQ(logged_.size(), 1u);
  const std::string aside = path_ + ".corrupt-1780272000";
  EXPECT_EQ(logged_[0].second, "state file " + path_ + ": not a regular file; moved aside to " +
                                   aside + "; starting with no dynamic instances");
  EXPECT_TRUE(fs::is_directory(aside));
}

TEST_F(StateFileOnDisk, TemporaryFileLeftByACrashIsIgnored) {
  const RegistryState old_state = sample_state(3);
  save_state_file(path_, encode_state(old_state));
  // A crash while the next state was being written: its .tmp half done.
  const Bytes next = encode_state(sample_state(9));
  write_file(path_ + ".tmp", Bytes(next.begin(), next.begin() + next.size() / 2));
  EXPECT_EQ(load(), old_state);
  EXPECT_EQ(logged_.size(), 1u);
  EXPECT_EQ(logged_[0].first, LogLevel::info);

  save_state_file(path_, next);  // the leftover is overwritten, not appended to
  EXPECT_EQ(load(), sample_state(9));
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

// kill -9 at any moment of a save: the file that remains is one of the states, whole. A
// child saves two states in turn; it is killed after its third save and a delay that moves
// the kill across the steps of a save (one save, with its two syncs, takes some milliseconds).
TEST_F(StateFileOnDisk, KilledWriterLeavesAWholeFile) {
  const std::vector<Bytes> states = {encode_state(sample_state(50)),
                                     encode_state(sample_state(300, 20))};
  for (int round = 0; round < 12; ++round) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        for (std::size_t saves = 0;; ++saves) {
          save_state_file(path_, states[saves % 2]);
          if (saves == 2 && ::write(ready[1], "x", 1) != 1) std::_Exit(1);
        }
      } catch (...) {
        std::_Exit(1);
      }
    }
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    std::this_thread::sleep_for(std::chrono::microseconds(round * 1300));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status)) << "the writer stopped on its own: " << status;
    ::close(ready[0]);
    ::close(ready[1]);
    const Bytes left = read_file(path_);
    EXPECT_TRUE(left == states[0] || left == states[1]) << "round " << round;
    EXPECT_NO_THROW(parse_state(left));
  }
}

TEST_F(StateFileOnDisk, FailedSaveLeavesTheOldFile) {
  const Bytes old_bytes = encode_state(sample_state(3));
  save_state_file(path_, old_bytes);
  // A link planted at the temporary name is refused, not written through.
  fs::create_symlink(folder_ / "elsewhere", path_ + ".tmp");
  try {
    save_state_file(path_, encode_state(sample_state(4)));
    FAIL() << "saved through a link";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("create " + path_ + ".tmp: ", 0), 0u) << e.what();
  }
  EXPECT_EQ(read_file(path_), old_bytes);
  EXPECT_FALSE(fs::exists(folder_ / "elsewhere"));

  try {
    save_state_file((folder_ / "missing" / "x.state").string(), old_bytes);
    FAIL() << "saved into a missing folder";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
  }
}

}  // namespace
}  // namespace signpost::registry::backend
