// The state file on disk: its atomic save and its forgiving load.
#include "registry/backend/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

namespace signpost::registry::backend {

namespace {

// A file descriptor closed when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const noexcept { return fd_; }
  // Closes now; returns close()'s result, as a delayed write error may surface there.
  int close() noexcept { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

[[noreturn]] void fail(const std::string& step) {
  throw std::system_error(errno, std::generic_category(), step);
}

void write_all(int fd, std::span<const std::uint8_t> bytes, const std::string& file) {
  while (!bytes.empty()) {
    const std::size_t chunk = std::min<std::size_t>(bytes.size(), std::size_t{1} << 30);
    const ::ssize_t written = ::write(fd, bytes.data(), chunk);
    if (written < 0) {
      if (errno == EINTR) continue;
      fail("write " + file);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
}

// Makes a rename in the folder of `path` durable: the rename is a change to the folder.
void sync_folder(const std::string& path) {
  std::string folder = std::filesystem::path(path).parent_path().string();
  if (folder.empty()) folder = ".";
  FileDescriptor fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) fail("open folder " + folder);
  if (::fsync(fd.get()) != 0) fail("sync folder " + folder);
}

// The whole file at `path`, or nothing when there is none. Throws std::system_error or
// StateError.
std::optional<std::vector<std::uint8_t>> read_state_bytes(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail("cannot open it");
  }
  struct ::stat status {};
  if (::fstat(fd.get(), &status) != 0) fail("cannot stat it");
  if (!S_ISREG(status.st_mode)) throw StateError("not a regular file");
  // The header (12 octets), the largest body a u32 length can give, the checksum (4).
  constexpr std::uint64_t kLargest = 12 + 0xFFFFFFFFull + 4;
  if (static_cast<std::uint64_t>(status.st_size) > kLargest) throw StateError("larger than 4 GiB");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(status.st_size));
  std::size_t filled = 0;
  while (true) {
    if (filled == bytes.size()) bytes.resize(filled + 4096);  // it grew since fstat
    const ::ssize_t got = ::read(fd.get(), bytes.data() + filled, bytes.size() - filled);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("cannot read it");
    }
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  bytes.resize(filled);
  return bytes;
}

// Renames a bad state file out of the way, so that it is kept for a post-mortem and the
// next save does not overwrite it, and logs why.
void move_aside(const std::string& path, const std::string& reason, const Log& log,
                std::chrono::system_clock::time_point now) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  const std::string aside = path + ".corrupt-" + std::to_string(seconds.count());
  std::string line = "state file " + path + ": " + reason;
  if (::rename(path.c_str(), aside.c_str()) == 0) {
    line += "; moved aside to " + aside;
  } else {
    line += "; could not move it aside to " + aside + ": " + std::strerror(errno);
  }
  log(LogLevel::error, line + "; starting with no dynamic instances");
}

}  // namespace

void save_state_file(const std::string& path, std::span<const std::uint8_t> bytes) {
  const std::string temporary = path + ".tmp";
  {
    // O_NOFOLLOW: a link planted at the temporary name is refused, not written through.
    FileDescriptor fd(::open(temporary.c_str(),
                             O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0) fail("create " + temporary);
    try {
      write_all(fd.get(), bytes, temporary);
      if (::fsync(fd.get()) != 0) fail("sync " + temporary);
      if (fd.close() != 0) fail("close " + temporary);
      if (::rename(temporary.c_str(), path.c_str()) != 0) {
        fail("rename " + temporary + " to " + path);
      }
    } catch (...) {
      ::unlink(temporary.c_str());
      throw;
    }
  }
  sync_folder(path);
}

RegistryState load_state_file(const std::string& path, const Log& log,
                              std::chrono::system_clock::time_point now) {
  try {
    std::optional<std::vector<std::uint8_t>> bytes = read_state_bytes(path);
    if (!bytes) {
      log(LogLevel::info, "state file " + path + ": none yet; starting with no dynamic instances");
      return {};
    }
    RegistryState state = parse_state(*bytes);
    log(LogLevel::info, "state file " + path + ": " + std::to_string(state.instances.size()) +
                            " instances and " + std::to_string(state.deleted.size()) +
                            " deleted instances' replay guards, serial " +
                            std::to_string(state.serial));
    return state;
  } catch (const std::exception& e) {  // StateError, std::system_error, std::bad_alloc
    move_aside(path, e.what(), log, now);
    return {};
  }
}
}  // namespace signpost::registry::backend
