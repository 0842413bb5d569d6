// signpost-agent as a process: one io_context on the main thread, signals as events.
#include "health/agent/agent_process.hpp"

#include <signal.h>

#include <boost/asio/signal_set.hpp>

#include "health/agent/agent.hpp"

namespace signpost::health::agent {

namespace {

class Process {
 public:
  Process(AgentConfig config, std::string path)
      : path_(std::move(path)),
        signals_(io_, SIGTERM, SIGINT, SIGHUP),
        agent_(io_, std::move(config), log_line) {}

  int run() {
    agent_.start();
    do_wait();
    io_.run();
    return 0;
  }

 private:
  void do_wait() {
    signals_.async_wait([this](const boost::system::error_code& error, int number) {
      if (error) return;
      if (number == SIGHUP) {
        reload();
      } else if (!stopping_) {
        stopping_ = true;
        log_line(LogLevel::info, std::string("stopping on ") +
                                          (number == SIGINT ? "SIGINT" : "SIGTERM") +
                                          ": deregistering");
        agent_.shutdown([this] {
          log_line(LogLevel::info, "stopped");
          io_.stop();
        });
      } else {
        io_.stop();  // a second signal does not wait for the servers
      }
      do_wait();
    });
  }

  void reload() {
    if (stopping_) return;
    try {
      AgentConfig config = load_agent_config(path_, read_host_facts());
      set_log_format(config.log_format);  // the agent's one thread is the only one logging
      agent_.reload(std::move(config));
    } catch (const std::exception& e) {
      log_line(LogLevel::error, std::string("reload failed, running on: ") + e.what());
    }
  }

  std::string path_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  Agent agent_;
  bool stopping_ = false;
};

}  // namespace

int run_agent(const std::string& config_path) {
  // Writes to closed sockets fail with EPIPE instead of killing us; exec checks get default
  // signal handling back (exec_check.cpp); we reap exec checks ourselves, so SIGCHLD must not
  // be ignored.
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGCHLD, SIG_DFL);
  try {
    AgentConfig config = load_agent_config(config_path, read_host_facts());
    set_log_format(config.log_format);
    Process process(std::move(config), config_path);
    return process.run();
  } catch (const std::exception& e) {
    log_line(LogLevel::error, e.what());
    return 1;
  }
}

}  // namespace signpost::health::agent
