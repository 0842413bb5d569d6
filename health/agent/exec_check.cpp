// The exec check: a command run by /bin/sh -c, its exit code deciding the health.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

#include "health/agent/check.hpp"

extern char** environ;

namespace signpost::health::agent {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxOutput = 4096;
// How long output may still arrive after the shell exited (a background child can hold the
// pipe open for ever, so we do not wait for its end).
constexpr std::chrono::milliseconds kOutputGrace{100};

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

class ExecRun final : public CheckRun, public std::enable_shared_from_this<ExecRun> {
 public:
  ExecRun(asio::io_context& io, const CheckConfig& check, CheckDone done)
      : output_pipe_(io),
        exit_watch_(io),
        timer_(io),
        command_(check.target),
        timeout_(check.timeout),
        done_(std::move(done)) {}

  ~ExecRun() override { reap(); }

  void start();
  void cancel() override {
    done_ = nullptr;
    finished_ = true;
    reap();
    close();
  }

 private:
  bool spawn(int output_fd);
  void do_read();
  void on_exit();
  void finish_when_drained();
  void finish(CheckResult result);
  void close();
  // Kills the process group if the shell still runs, and collects the shell.
  void reap();

  asio::posix::stream_descriptor output_pipe_;
  asio::posix::stream_descriptor exit_watch_;  // a pidfd: readable once the shell exits
  asio::steady_timer timer_;
  std::string command_;
  std::chrono::milliseconds timeout_;
  CheckDone done_;
  pid_t pid_ = -1;
  int wait_status_ = 0;
  bool exited_ = false;
  bool eof_ = false;
  bool timed_out_ = false;
  bool finished_ = false;
  std::string output_;
  std::array<char, 1024> chunk_{};
};

// The shell runs in its own process group (so that a timeout kills everything it started),
// with stdin from /dev/null, stdout and stderr into our pipe, default signal handling and no
// other descriptor of ours.
bool ExecRun::spawn(int output_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, output_fd, STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setsigmask(&attributes, &none);
  char sh[] = "sh";
  char dash_c[] = "-c";
  char* argv[] = {sh, dash_c, command_.data(), nullptr};
  const int error = posix_spawn(&pid_, "/bin/sh", &actions, &attributes, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) pid_ = -1;
  return error == 0;
}

void ExecRun::start() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    finish({registry::Health::critical, std::string("pipe: ") + std::strerror(errno)});
    return;
  }
  const bool spawned = spawn(fds[1]);
  ::close(fds[1]);
  output_pipe_.assign(fds[0]);
  if (!spawned) {
    finish({registry::Health::critical, "cannot run /bin/sh"});
    return;
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0) {
    finish({registry::Health::critical, std::string("pidfd_open: ") + std::strerror(errno)});
    return;
  }
  exit_watch_.assign(pidfd);
  auto self = shared_from_this();
  exit_watch_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [self](const boost::system::error_code& error) {
                           if (!error && !self->finished_) self->on_exit();
                         });
  timer_.expires_after(timeout_);
  timer_.async_wait([self](const boost::system::error_code& error) {
    if (error || self->finished_ || self->exited_) return;
    self->timed_out_ = true;
    ::kill(-self->pid_, SIGKILL);  // on_exit follows
  });
  do_read();
}

void ExecRun::do_read() {
  auto self = shared_from_this();
  output_pipe_.async_read_some(
      asio::buffer(chunk_), [self](const boost::system::error_code& error, std::size_t size) {
        if (self->finished_) return;
        const std::size_t room = kMaxOutput - std::min(kMaxOutput, self->output_.size());
        self->output_.append(self->chunk_.data(), std::min(size, room));
        if (error) {
          self->eof_ = true;
          if (self->exited_) self->finish_when_drained();
          return;
        }
        self->do_read();
      });
}

void ExecRun::on_exit() {
  if (::waitpid(pid_, &wait_status_, 0) == pid_) pid_ = -1;
  exited_ = true;
  if (eof_) {
    finish_when_drained();
    return;
  }
  auto self = shared_from_this();
  timer_.expires_after(kOutputGrace);
  timer_.async_wait([self](const boost::system::error_code& error) {
    if (!error && !self->finished_) self->finish_when_drained();
  });
}

void ExecRun::finish_when_drained() {
  std::string output = trimmed(output_);
  if (timed_out_) {
    finish({registry::Health::critical,
            "timed out after " + seconds_text(timeout_) + (output.empty() ? "" : ": " + output)});
  } else if (WIFEXITED(wait_status_)) {
    const int code = WEXITSTATUS(wait_status_);
    finish({exit_status_health(code),
            "exit " + std::to_string(code) + (output.empty() ? "" : ": " + output)});
  } else {
    finish({registry::Health::critical, "killed by signal " +
                                            std::to_string(WTERMSIG(wait_status_)) +
                                            (output.empty() ? "" : ": " + output)});
  }
}

void ExecRun::finish(CheckResult result) {
  if (finished_) return;
  finished_ = true;
  close();
  CheckDone done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(result));
}

void ExecRun::close() {
  boost::system::error_code ignored;
  timer_.cancel();
  output_pipe_.close(ignored);
  exit_watch_.close(ignored);
}

void ExecRun::reap() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);  // prompt: SIGKILL cannot be caught
  pid_ = -1;
}

}  // namespace

std::shared_ptr<CheckRun> start_exec_check(asio::io_context& io, const CheckConfig& check,
                                           CheckDone done) {
  auto run = std::make_shared<ExecRun>(io, check, std::move(done));
  run->start();
  return run;
}

}  // namespace signpost::health::agent
