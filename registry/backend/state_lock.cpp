// The state file's lock.
#include "registry/backend/state_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace signpost::registry::backend {

StateFileLock::StateFileLock(const std::string& state_file) {
  const std::string path = state_file + ".lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) {
    throw std::runtime_error("state file lock " + path + ": " + std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    if (error == EWOULDBLOCK) {
      throw std::runtime_error("state file " + state_file +
                               " is in use by another signpostd (it holds " + path + ")");
    }
    throw std::runtime_error("state file lock " + path + ": " + std::strerror(error));
  }
}

StateFileLock::~StateFileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace signpost::registry::backend
