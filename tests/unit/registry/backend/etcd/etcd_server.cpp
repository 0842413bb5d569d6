// A real etcd for the etcd client's tests.
#include "tests/unit/registry/backend/etcd/etcd_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "registry/backend/etcd/etcd_client.hpp"

extern char** environ;

namespace signpost::test {

namespace {

using namespace std::chrono_literals;

std::string loopback_url(std::uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

}  // namespace

std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

EtcdServer::EtcdServer() : client_port_(free_loopback_port()), peer_port_(free_loopback_port()) {
  std::string pattern = (std::filesystem::temp_directory_path() / "signpost-etcd-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = pattern;
}

EtcdServer::~EtcdServer() {
  kill();
  std::error_code ignored;
  std::filesystem::remove_all(root_, ignored);
}

std::string EtcdServer::endpoint() const {
  return "127.0.0.1:" + std::to_string(client_port_);
}

registry::etcd::EtcdOptions EtcdServer::client_options(std::chrono::milliseconds request_timeout) const {
  registry::etcd::EtcdOptions options;
  options.endpoints = {endpoint()};
  options.dial_timeout = std::chrono::milliseconds(300);
  options.request_timeout = request_timeout;
  return options;
}

void EtcdServer::start() {
  // A short heartbeat and election timeout: a single member elects itself in well under a
  // second, and leases of 1 s are allowed (etcd's minimum TTL is 1.5 election timeouts).
  const std::vector<std::string> arguments = {
      "etcd", "--name", "signpost-test", "--data-dir", root_ + "/data",
      "--listen-client-urls", loopback_url(client_port_),
      "--advertise-client-urls", loopback_url(client_port_),
      "--listen-peer-urls", loopback_url(peer_port_),
      "--initial-advertise-peer-urls", loopback_url(peer_port_),
      "--initial-cluster", "signpost-test=" + loopback_url(peer_port_),
      "--heartbeat-interval", "50", "--election-timeout", "250"};
  std::vector<char*> argv;
  for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = root_ + "/etcd.log";
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const int failed = ::posix_spawnp(&pid_, "etcd", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (failed != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start etcd from PATH (install etcd-server: .ci/setup --test)");
  }
  registry::etcd::EtcdOptions options;
  options.endpoints = {endpoint()};
  options.dial_timeout = 200ms;
  registry::etcd::EtcdClient probe(options);
  const auto give_up = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < give_up) {
    try {
      probe.range("signpost-test-ready", {}, 500ms);
      return;
    } catch (const registry::etcd::EtcdError&) {
      std::this_thread::sleep_for(50ms);
    }
  }
  throw std::runtime_error("etcd on " + endpoint() + " not ready after 15 s; its log ends:\n" +
                           log_tail());
}

void EtcdServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int EtcdServer::etcdctl(const std::string& arguments) const {
  const std::string command = "ETCDCTL_API=3 etcdctl --endpoints=" + endpoint() + " " +
                              arguments + " >>" + root_ + "/etcdctl.log 2>&1";
  return std::system(command.c_str());
}

std::string EtcdServer::log_tail() const {
  std::ifstream in(root_ + "/etcd.log");
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace signpost::test
