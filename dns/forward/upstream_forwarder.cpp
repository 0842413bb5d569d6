// Forwarding through one c-ares channel on a thread of its own.
#include "dns/forward/upstream_forwarder.hpp"

#include <ares.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "dns/forward/forward_response.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::forward {

namespace {

using Clock = std::chrono::steady_clock;

// The longest poll() waits when c-ares has nothing timed, so that a lost wake-up costs at
// most this much.
constexpr int kMaxPollMs = 1000;
// The shortest time c-ares waits for one upstream before it asks the next.
constexpr std::chrono::milliseconds kMinTryTimeout{50};

// A query handed in by a worker, waiting for the forwarder's thread.
struct Incoming {
  std::vector<std::uint8_t> query;
  answer::Transport transport = answer::Transport::udp;
  answer::UpdateReply reply;
  Clock::time_point deadline;
};

std::string server_list(const std::vector<std::string>& servers) {
  std::string csv;
  for (const std::string& server : servers) csv += (csv.empty() ? "" : ",") + server;
  return csv;
}

}  // namespace

struct UpstreamForwarder::Impl {
  // One query in flight at c-ares. c-ares holds a pointer to it from ares_send until its
  // callback, so the slots never move and a slot is reused only after that callback.
  struct Slot {
    Impl* owner = nullptr;
    std::uint32_t generation = 0;  // which query the slot holds, for its Deadline
    bool replied = true;           // the client has had its response (or nothing)
    std::vector<std::uint8_t> query;
    answer::Transport transport = answer::Transport::udp;
    answer::UpdateReply reply;
  };
  // When a query gets SERVFAIL if c-ares has not answered it. Every query has the same
  // timeout, so deadlines come in arrival order and a FIFO keeps them sorted.
  struct Deadline {
    Clock::time_point at;
    std::uint32_t slot;
    std::uint32_t generation;
  };

  Impl(ForwardSettings forward_settings, ForwardCounters& forward_counters);
  ~Impl();
  void open_channel();
  void run();
  int poll_timeout(Clock::time_point now);
  void process(const std::vector<pollfd>& polled);
  void take_incoming();
  void send(Incoming& item);
  void expire(Clock::time_point now);
  void pass_answer(Slot& slot, std::span<const std::uint8_t> answer);
  void fail(Slot& slot);
  void respond(Slot& slot, std::size_t length);
  void release(Slot& slot);
  void drain();
  static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable);

  ForwardSettings settings;
  ForwardCounters& counters;
  ares_channel channel = nullptr;
  bool library_ready = false;
  int wake_fd = -1;
  std::atomic<std::size_t> outstanding{0};  // queued, plus slots held by c-ares
  std::atomic<bool> stopping{false};
  std::mutex incoming_mutex;
  std::vector<Incoming> incoming;  // guarded by incoming_mutex

  // The thread's own from here on.
  std::vector<Slot> slots;
  std::vector<std::uint32_t> free_slots;
  std::deque<Deadline> deadlines;
  std::vector<pollfd> sockets;  // c-ares's sockets, as on_socket_state reports them
  std::vector<std::uint8_t> scratch;
  std::thread thread;
};

UpstreamForwarder::Impl::Impl(ForwardSettings forward_settings, ForwardCounters& forward_counters)
    : settings(std::move(forward_settings)),
      counters(forward_counters),
      slots(std::max<std::size_t>(settings.max_in_flight, 1)),
      scratch(wire::kMaxMessageSize) {
  if (settings.servers.empty()) throw ForwardError("forwarding needs at least one upstream resolver");
  free_slots.reserve(slots.size());
  for (std::size_t i = slots.size(); i-- > 0;) {
    slots[i].owner = this;
    free_slots.push_back(static_cast<std::uint32_t>(i));
  }
  sockets.reserve(4 * settings.servers.size() + 4);
  try {
    open_channel();
  } catch (...) {
    if (channel != nullptr) ares_destroy(channel);
    if (library_ready) ares_library_cleanup();
    if (wake_fd >= 0) ::close(wake_fd);
    throw;
  }
}

// Each upstream gets an equal share of the client's timeout, so that c-ares reaches the last
// one before the deadline; one that refuses at once (ICMP port unreachable) passes the query
// on at once. One try each: the client's own retry is the next round.
void UpstreamForwarder::Impl::open_channel() {
  if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
    throw ForwardError("cannot start the c-ares library");
  }
  library_ready = true;
  ares_options options{};
  options.flags = ARES_FLAG_NOSEARCH;
  const auto share = settings.timeout / static_cast<long>(settings.servers.size());
  options.timeout = static_cast<int>(std::max(share, kMinTryTimeout).count());
  options.tries = 1;
  options.sock_state_cb = &Impl::on_socket_state;
  options.sock_state_cb_data = this;
  const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
                   ARES_OPT_SOCK_STATE_CB | ARES_OPT_NOROTATE;
  if (const int status = ares_init_options(&channel, &options, mask); status != ARES_SUCCESS) {
    channel = nullptr;
    throw ForwardError(std::string("cannot start a c-ares channel: ") + ares_strerror(status));
  }
  const std::string csv = server_list(settings.servers);
  if (const int status = ares_set_servers_ports_csv(channel, csv.c_str()); status != ARES_SUCCESS) {
    throw ForwardError("c-ares does not take the upstream resolvers " + csv + ": " +
                       ares_strerror(status));
  }
  wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) throw ForwardError("cannot create an eventfd for the forwarder");
}

UpstreamForwarder::Impl::~Impl() {
  ares_destroy(channel);  // calls back what is still in flight: nothing is sent
  ares_library_cleanup();
  ::close(wake_fd);
}

void UpstreamForwarder::Impl::run() {
  std::vector<pollfd> polled;
  while (!stopping.load(std::memory_order_relaxed)) {
    polled.clear();
    polled.push_back(pollfd{wake_fd, POLLIN, 0});
    polled.insert(polled.end(), sockets.begin(), sockets.end());
    const int ready = ::poll(polled.data(), polled.size(), poll_timeout(Clock::now()));
    if (ready < 0 && errno != EINTR) {
      // Out of kernel memory for the poll: try again in a moment rather than spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (ready > 0 && (polled[0].revents & POLLIN) != 0) {
      std::uint64_t ignored = 0;
      [[maybe_unused]] const ssize_t read = ::read(wake_fd, &ignored, sizeof ignored);
      take_incoming();
    }
    if (ready > 0) process(polled);
    ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // c-ares's own timeouts
    expire(Clock::now());
  }
}

// Until the sooner of c-ares's next timeout and the first client deadline.
int UpstreamForwarder::Impl::poll_timeout(Clock::time_point now) {
  timeval most{kMaxPollMs / 1000, 0};
  timeval buffer{};
  const timeval* next = ares_timeout(channel, &most, &buffer);
  long wait = static_cast<long>(next->tv_sec) * 1000 + (next->tv_usec + 999) / 1000;
  if (!deadlines.empty()) {
    const auto until =
        std::chrono::ceil<std::chrono::milliseconds>(deadlines.front().at - now).count();
    wait = std::min<long>(wait, std::max<long>(until, 0));
  }
  return static_cast<int>(wait);
}

void UpstreamForwarder::Impl::process(const std::vector<pollfd>& polled) {
  for (std::size_t i = 1; i < polled.size(); ++i) {
    const short events = polled[i].revents;
    if (events == 0) continue;
    // An error or hang-up is seen by c-ares when it reads.
    const bool readable = (events & (POLLIN | POLLERR | POLLHUP)) != 0;
    const bool writable = (events & POLLOUT) != 0;
    ares_process_fd(channel, readable ? polled[i].fd : ARES_SOCKET_BAD,
                    writable ? polled[i].fd : ARES_SOCKET_BAD);
  }
}

void UpstreamForwarder::Impl::take_incoming() {
  std::vector<Incoming> taken;
  {
    std::lock_guard lock(incoming_mutex);
    taken.swap(incoming);
  }
  for (Incoming& item : taken) send(item);
}

void UpstreamForwarder::Impl::send(Incoming& item) {
  // `outstanding` admits no more than there are slots; this is only a safeguard.
  if (free_slots.empty()) {
    ++counters.dropped;
    outstanding.fetch_sub(1, std::memory_order_relaxed);
    item.reply({});
    return;
  }
  const std::uint32_t index = free_slots.back();
  free_slots.pop_back();
  Slot& slot = slots[index];
  ++slot.generation;
  slot.replied = false;
  slot.query = std::move(item.query);
  slot.transport = item.transport;
  slot.reply = std::move(item.reply);
  deadlines.push_back(Deadline{item.deadline, index, slot.generation});
  ++counters.forwarded;
  // c-ares puts an ID of its own on its copy; the callback may come before this returns.
  ares_send(channel, slot.query.data(), static_cast<int>(slot.query.size()), &Impl::on_answer,
            &slot);
}

void UpstreamForwarder::Impl::expire(Clock::time_point now) {
  while (!deadlines.empty()) {
    const Deadline due = deadlines.front();
    Slot& slot = slots[due.slot];
    const bool waiting = slot.generation == due.generation && !slot.replied;
    if (waiting && due.at > now) return;
    deadlines.pop_front();
    if (waiting) fail(slot);  // c-ares goes on with it; its callback only frees the slot
  }
}

void UpstreamForwarder::Impl::on_answer(void* arg, int status, int /*timeouts*/,
                                        unsigned char* abuf, int alen) {
  Slot& slot = *static_cast<Slot*>(arg);
  Impl& impl = *slot.owner;
  if (!slot.replied) {
    if (status == ARES_SUCCESS && abuf != nullptr && alen > 0) {
      impl.pass_answer(slot, {abuf, static_cast<std::size_t>(alen)});
    } else if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
      // Stopping: the client gets nothing, as from a server that went away.
      slot.replied = true;
      answer::UpdateReply reply = std::move(slot.reply);
      try {
        reply({});
      } catch (const std::exception&) {
        // Out of memory to hand the nothing back: the reply is dropped here.
      }
    } else {
      // Timed out, unreachable, or SERVFAIL/REFUSED from every upstream.
      impl.fail(slot);
    }
  }
  impl.release(slot);
}

void UpstreamForwarder::Impl::pass_answer(Slot& slot, std::span<const std::uint8_t> answer) {
  const std::size_t length =
      restore_response(slot.query, answer, slot.transport, settings.udp_payload, scratch);
  if (length == 0) {
    fail(slot);  // not an answer to the client's question
    return;
  }
  ++counters.answered;
  respond(slot, length);
}

void UpstreamForwarder::Impl::fail(Slot& slot) {
  ++counters.failed;
  respond(slot, failure_response(slot.query, wire::rcode::kServFail, settings.udp_payload, scratch));
}

void UpstreamForwarder::Impl::respond(Slot& slot, std::size_t length) {
  slot.replied = true;
  answer::UpdateReply reply = std::move(slot.reply);
  try {
    reply(std::vector<std::uint8_t>(scratch.begin(), scratch.begin() + static_cast<long>(length)));
  } catch (const std::exception&) {
    // Out of memory for the response: lost, as a datagram; the client retries.
  }
}

void UpstreamForwarder::Impl::release(Slot& slot) {
  slot.query = {};
  slot.reply = nullptr;
  free_slots.push_back(static_cast<std::uint32_t>(&slot - slots.data()));
  outstanding.fetch_sub(1, std::memory_order_relaxed);
}

// Called by c-ares whenever it opens, closes or changes what it waits for on a socket.
void UpstreamForwarder::Impl::on_socket_state(void* data, ares_socket_t fd, int readable,
                                              int writable) {
  std::vector<pollfd>& sockets = static_cast<Impl*>(data)->sockets;
  const auto it = std::find_if(sockets.begin(), sockets.end(),
                               [fd](const pollfd& socket) { return socket.fd == fd; });
  if (readable == 0 && writable == 0) {
    if (it != sockets.end()) sockets.erase(it);
    return;
  }
  const auto events = static_cast<short>((readable != 0 ? POLLIN : 0) | (writable != 0 ? POLLOUT : 0));
  if (it != sockets.end()) {
    it->events = events;
    return;
  }
  try {
    sockets.push_back(pollfd{fd, events, 0});
  } catch (const std::exception&) {
    // Out of memory: the socket is not polled, and its queries end at their deadline.
  }
}

// What is left once the thread has stopped: c-ares's queries and the queue get nothing.
void UpstreamForwarder::Impl::drain() {
  ares_cancel(channel);
  std::vector<Incoming> left;
  {
    std::lock_guard lock(incoming_mutex);
    left.swap(incoming);
  }
  for (Incoming& item : left) {
    outstanding.fetch_sub(1, std::memory_order_relaxed);
    try {
      item.reply({});
    } catch (const std::exception&) {
      // Out of memory: the reply is dropped here.
    }
  }
}

UpstreamForwarder::UpstreamForwarder(ForwardSettings settings)
    : impl_(std::make_unique<Impl>(std::move(settings), counters_)) {}

UpstreamForwarder::~UpstreamForwarder() { stop(); }

void UpstreamForwarder::start() {
  if (impl_->thread.joinable() || impl_->stopping) return;
  impl_->thread = std::thread([impl = impl_.get()] {
    pthread_setname_np(pthread_self(), "dns-forward");
    impl->run();
  });
}

void UpstreamForwarder::stop() {
  if (impl_->stopping.exchange(true)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(impl_->wake_fd, &one, sizeof one);
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->drain();
}

void UpstreamForwarder::forward(std::vector<std::uint8_t> query, answer::Transport transport,
                                answer::UpdateReply reply) {
  Impl& impl = *impl_;
  const std::size_t before = impl.outstanding.fetch_add(1, std::memory_order_relaxed);
  if (before >= impl.slots.size() || impl.stopping.load(std::memory_order_relaxed)) {
    impl.outstanding.fetch_sub(1, std::memory_order_relaxed);
    ++counters_.dropped;
    reply({});
    return;
  }
  try {
    std::lock_guard lock(impl.incoming_mutex);
    impl.incoming.push_back(
        Incoming{std::move(query), transport, std::move(reply), Clock::now() + impl.settings.timeout});
  } catch (...) {
    impl.outstanding.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(impl.wake_fd, &one, sizeof one);
}

}  // namespace signpost::dns::forward
