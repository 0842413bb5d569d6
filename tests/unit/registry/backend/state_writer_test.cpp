// The state file's writer thread: coalescing, flush, stop, and write errors.
#include "registry/backend/state_writer.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tests/unit/support/eventually.hpp"
#include "tests/unit/registry/backend/sample_state.hpp"
#include "tests/unit/support/log_capture.hpp"

namespace signpost::registry::backend {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::sample_state;

// So long that no test sees a timed write or retry: writes after the first come from
// flush() and stop() only.
constexpr StateWriterSettings kNeverOnItsOwn{std::chrono::hours(1), std::chrono::hours(1)};

using signpost::testing::LogCapture;

// Saves by keeping the bytes; a save may be made to wait, or to fail with given errors.
class FakeDisk {
 public:
  StateWriter::Save save() {
    return [this](const std::string&, std::span<const std::uint8_t> bytes) {
      std::shared_future<void> gate;
      int error = 0;
      {
        std::lock_guard lock(mutex_);
        gate = gate_;
        if (!errors_.empty()) error = errors_[std::min(calls_, errors_.size() - 1)];
        ++calls_;
        if (entered_) std::exchange(entered_, std::nullopt)->set_value();
      }
      if (gate.valid()) gate.wait();
      if (error != 0) throw std::system_error(error, std::generic_category(), "write x.tmp");
      std::lock_guard lock(mutex_);
      saved_.emplace_back(bytes.begin(), bytes.end());
    };
  }
  // The next save signals the returned future, then waits for release().
  std::future<void> hold_next() {
    std::lock_guard lock(mutex_);
    entered_.emplace();
    gate_ = release_.get_future().share();
    return entered_->get_future();
  }
  void release() { release_.set_value(); }
  // Save number i fails with errors[i] (0: succeeds); later ones as the last.
  void fail_with(std::vector<int> errors) {
    std::lock_guard lock(mutex_);
    errors_ = std::move(errors);
  }
  std::vector<std::vector<std::uint8_t>> saved() const {
    std::lock_guard lock(mutex_);
    return saved_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<std::promise<void>> entered_;
  std::promise<void> release_;
  std::shared_future<void> gate_;
  std::vector<int> errors_;
  std::size_t calls_ = 0;
  std::vector<std::vector<std::uint8_t>> saved_;
};

std::shared_ptr<const RegistryState> state_with_serial(std::uint32_t serial) {
  auto state = std::make_shared<RegistryState>(sample_state(2));
  state->serial = serial;
  return state;
}

// Waits for the writer thread to get somewhere (not for time to pass).
bool eventually(const std::function<bool()>& done) {
  return signpost::testing::eventually(done, std::chrono::seconds(10));
}

TEST(StateWriter, ManySubmitsCoalesceAndTheNewestIsWritten) {
  FakeDisk disk;
  LogCapture log;
  StateWriter writer("test.state", log.log(), kNeverOnItsOwn, disk.save());
  std::future<void> entered = disk.hold_next();
  writer.submit(state_with_serial(1));  // written at once, the writer having been idle
  entered.wait();
  for (std::uint32_t serial = 2; serial <= 1000; ++serial) writer.submit(state_with_serial(serial));
  disk.release();
  ASSERT_TRUE(eventually([&] { return writer.counters().writes == 1; }));
  EXPECT_EQ(disk.saved().size(), 1u);  // the rest waits for min_interval...
  EXPECT_TRUE(writer.flush());          // ...or a flush
  const auto saved = disk.saved();
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(parse_state(saved[0]).serial, 1u);
  EXPECT_EQ(parse_state(saved[1]).serial, 1000u);
  const StateWriterCounters counters = writer.counters();
  EXPECT_EQ(counters.submitted, 1000u);
  EXPECT_EQ(counters.writes, 2u);
  EXPECT_EQ(counters.failures, 0u);
  EXPECT_GT(counters.last_write_duration.count(), 0);
  EXPECT_TRUE(writer.flush());  // nothing new: no write
  EXPECT_EQ(disk.saved().size(), 2u);
  EXPECT_TRUE(log.lines().empty());
}

TEST(StateWriter, WritesWithoutAFlushOncePerInterval) {
  FakeDisk disk;
  LogCapture log;
  StateWriter writer("test.state", log.log(), StateWriterSettings{1ms, 1ms}, disk.save());
  writer.submit(state_with_serial(1));
  ASSERT_TRUE(eventually([&] { return writer.counters().writes == 1; }));
  writer.submit(state_with_serial(2));
  ASSERT_TRUE(eventually([&] { return writer.counters().writes == 2; }));
  EXPECT_EQ(parse_state(disk.saved().back()).serial, 2u);
}

TEST(StateWriter, StopWritesWhatIsPending) {
  FakeDisk disk;
  LogCapture log;
  StateWriter writer("test.state", log.log(), kNeverOnItsOwn, disk.save());
  writer.submit(state_with_serial(1));
  ASSERT_TRUE(eventually([&] { return writer.counters().writes == 1; }));
  writer.submit(state_with_serial(2));
  writer.stop();
  ASSERT_EQ(disk.saved().size(), 2u);
  EXPECT_EQ(parse_state(disk.saved().back()).serial, 2u);
  writer.submit(state_with_serial(3));  // after stop: ignored
  writer.stop();
  EXPECT_TRUE(writer.flush());  // stopped with nothing unwritten
  EXPECT_EQ(disk.saved().size(), 2u);
}

TEST(StateWriter, WriteErrorsAreLoggedOncePerErrorAndRetried) {
  FakeDisk disk;
  LogCapture log;
  disk.fail_with({ENOSPC, ENOSPC, ENOSPC, EACCES, 0});
  StateWriter writer("/var/lib/signpost/test.state", log.log(), kNeverOnItsOwn, disk.save());
  writer.submit(state_with_serial(1));
  ASSERT_TRUE(eventually([&] { return writer.counters().failures == 1; }));
  EXPECT_FALSE(writer.flush());  // ENOSPC again
  writer.submit(state_with_serial(2));
  EXPECT_FALSE(writer.flush());  // ENOSPC
  EXPECT_FALSE(writer.flush());  // EACCES
  EXPECT_TRUE(writer.flush());
  EXPECT_EQ(parse_state(disk.saved().at(0)).serial, 2u);
  const StateWriterCounters counters = writer.counters();
  EXPECT_EQ(counters.failures, 4u);
  EXPECT_EQ(counters.writes, 1u);

  const auto lines = log.lines();
  ASSERT_EQ(lines.size(), 3u);
  const std::string prefix = "state file /var/lib/signpost/test.state: write x.tmp: ";
  const std::string suffix = "; the registry is not saved until a write succeeds, retrying "
                             "every 3600000 ms";
  EXPECT_EQ(lines[0], std::pair(LogLevel::error, prefix + "No space left on device" + suffix));
  EXPECT_EQ(lines[1], std::pair(LogLevel::error, prefix + "Permission denied" + suffix));
  EXPECT_EQ(lines[2],
            std::pair(LogLevel::info, std::string("state file /var/lib/signpost/test.state: "
                                                  "written again")));
}

TEST(StateWriter, FailedWriteIsRetriedOnItsOwn) {
  FakeDisk disk;
  LogCapture log;
  disk.fail_with({EIO, 0});
  StateWriter writer("test.state", log.log(), StateWriterSettings{1ms, 1ms}, disk.save());
  writer.submit(state_with_serial(7));
  ASSERT_TRUE(eventually([&] { return writer.counters().writes == 1; }));
  EXPECT_EQ(writer.counters().failures, 1u);
  EXPECT_EQ(parse_state(disk.saved().at(0)).serial, 7u);
}

class StateWriterOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string folder = (fs::temp_directory_path() / "signpost-writer-XXXXXX").string();
    ASSERT_NE(::mkdtemp(folder.data()), nullptr);
    folder_ = folder;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(folder_, fs::perms::owner_all, ignored);
    fs::remove_all(folder_, ignored);
  }
  fs::path folder_;
};

TEST_F(StateWriterOnDisk, WritesTheStateFile) {
  LogCapture log;
  const std::string path = (folder_ / "signpostd.state").string();
  StateWriter writer(path, log.log());
  writer.submit(state_with_serial(42));
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(load_state_file(path, log.log()), *state_with_serial(42));
}

// A folder the process may not write to. Root writes anyway, so there the folder is a file
// instead: the save fails as well, on a path that cannot be created.
TEST_F(StateWriterOnDisk, UnwritableFolderIsLoggedNotFatal) {
  LogCapture log;
  std::string path = (folder_ / "signpostd.state").string();
  fs::permissions(folder_, fs::perms::owner_read | fs::perms::owner_exec);
  if (::access(folder_.c_str(), W_OK) == 0) {
    fs::permissions(folder_, fs::perms::owner_all);
    std::ofstream(folder_ / "file") << "x";
    path = (folder_ / "file" / "signpostd.state").string();
  }
  StateWriter writer(path, log.log(), StateWriterSettings{1ms, 1ms});
  writer.submit(state_with_serial(1));
  EXPECT_FALSE(writer.flush());
  ASSERT_TRUE(eventually([&] { return writer.counters().failures >= 3; }));  // retried
  const auto lines = log.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, LogLevel::error);
  EXPECT_EQ(lines[0].second.rfind("state file " + path + ": create " + path + ".tmp: ", 0), 0u)
      << lines[0].second;
  writer.stop();
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace signpost::registry::backend
