// Test support for the agent: ldns functions and a loopback DNS server that records the
// UPDATEs it gets and answers them as a policy says (signed with ldns, RFC 8945 §5.3).
#pragma once

#include <ldns/ldns.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "health/agent/agent_config.hpp"

namespace signpost::health::agent::testing {

inline constexpr const char* kSecret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==";
inline constexpr const char* kOtherSecret = "b3RoZXIgc2VjcmV0IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU=";

inline KeyConfig test_key(const std::string& algorithm = "hmac-sha256",
                          const std::string& secret = kSecret) {
  return KeyConfig{"agent-key.", algorithm, secret};
}

struct PktFree {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

/// The message parsed by ldns, or null.
inline Pkt parse(const std::vector<std::uint8_t>& wire) {
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, wire.data(), wire.size()) != LDNS_STATUS_OK) return nullptr;
  return Pkt(pkt);
}

inline std::vector<std::uint8_t> to_wire(ldns_pkt* pkt) {
  std::uint8_t* bytes = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&bytes, pkt, &size) != LDNS_STATUS_OK) return {};
  std::vector<std::uint8_t> out(bytes, bytes + size);
  std::free(bytes);
  return out;
}

inline std::string text_of(const ldns_rdf* rdf) {
  char* text = ldns_rdf2str(rdf);
  std::string out = text != nullptr ? text : "";
  std::free(text);
  return out;
}

inline std::string text_of(const ldns_rr* rr) {
  char* text = ldns_rr2str(rr);
  std::string out = text != nullptr ? text : "";
  std::free(text);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

/// How the fake server answers one request.
struct Answer {
  bool drop = false;                     // send nothing
  std::uint16_t rcode = 0;               // the reply's rcode
  std::optional<std::uint32_t> lease{};  // Update Lease option in the reply
  bool sign = true;                      // sign with the request's key, over its MAC
  std::string secret = kSecret;          // the secret to sign with
  bool truncate = false;                 // over UDP: an empty reply with TC set
  std::vector<std::uint8_t> bytes{};     // when not empty, the reply as is (another server's)
};

/// The reply to `request` that `answer` describes, built and signed with ldns.
inline std::vector<std::uint8_t> make_reply(const std::vector<std::uint8_t>& request,
                                            const Answer& answer) {
  if (!answer.bytes.empty()) return answer.bytes;
  Pkt query = parse(request);
  if (!query) return {};
  Pkt reply(ldns_pkt_new());
  ldns_pkt_set_id(reply.get(), ldns_pkt_id(query.get()));
  ldns_pkt_set_qr(reply.get(), true);
  ldns_pkt_set_opcode(reply.get(), LDNS_PACKET_UPDATE);
  ldns_pkt_set_rcode(reply.get(), static_cast<std::uint8_t>(answer.rcode));
  ldns_pkt_set_tc(reply.get(), answer.truncate);
  ldns_rr_list* zone = ldns_pkt_question(query.get());
  if (ldns_rr_list_rr_count(zone) == 1) {
    ldns_pkt_push_rr(reply.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(ldns_rr_list_rr(zone, 0)));
  }
  if (answer.lease) {
    const std::uint32_t lease = *answer.lease;
    const std::uint8_t data[4] = {
        static_cast<std::uint8_t>(lease >> 24), static_cast<std::uint8_t>(lease >> 16),
        static_cast<std::uint8_t>(lease >> 8), static_cast<std::uint8_t>(lease)};
    ldns_edns_option_list* list = ldns_edns_option_list_new();
    ldns_edns_option_list_push(
        list, ldns_edns_new_from_data(static_cast<ldns_edns_option_code>(2), 4, data));
    ldns_pkt_set_edns_udp_size(reply.get(), 1232);
    ldns_pkt_set_edns_option_list(reply.get(), list);
  }
  const ldns_rr* tsig = ldns_pkt_tsig(query.get());
  if (answer.sign && tsig != nullptr) {
    const std::string key_name = text_of(ldns_rr_owner(tsig));
    const std::string algorithm = text_of(ldns_rr_rdf(tsig, 0));
    ldns_pkt_tsig_sign(reply.get(), key_name.c_str(), answer.secret.c_str(), 300, algorithm.c_str(),
                       ldns_rr_rdf(tsig, 3));
  }
  return to_wire(reply.get());
}

/// A DNS server on 127.0.0.1 (UDP and TCP, same port) that records every request and answers
/// as `policy` says. Runs on the test's io_context.
class FakeServer {
 public:
  using Policy = std::function<Answer(const std::vector<std::uint8_t>& request, bool tcp)>;

  explicit FakeServer(boost::asio::io_context& io, Policy policy = {})
      : udp_(io), acceptor_(io), policy_(std::move(policy)) {
    using namespace boost::asio::ip;
    // A port free for both transports.
    for (int attempt = 0; attempt < 50; ++attempt) {
      udp_ = udp::socket(io, udp::endpoint(make_address("127.0.0.1"), 0));
      boost::system::error_code error;
      acceptor_ = tcp::acceptor(io);
      acceptor_.open(tcp::v4());
      acceptor_.set_option(tcp::acceptor::reuse_address(true));
      acceptor_.bind(tcp::endpoint(make_address("127.0.0.1"), port()), error);
      if (!error) break;
    }
    acceptor_.listen();
    do_receive();
    do_accept();
  }

  std::uint16_t port() const { return udp_.local_endpoint().port(); }
  ServerAddress address() const { return ServerAddress{"127.0.0.1", port(), false}; }
  void set_policy(Policy policy) { policy_ = std::move(policy); }

  std::vector<std::vector<std::uint8_t>> requests;  // in arrival order
  std::vector<bool> over_tcp;                       // same order

 private:
  Answer decide(const std::vector<std::uint8_t>& request, bool tcp) {
    requests.push_back(request);
    over_tcp.push_back(tcp);
    return policy_ ? policy_(request, tcp) : Answer{};
  }

  void do_receive() {
    udp_.async_receive_from(boost::asio::buffer(buffer_), peer_,
                            [this](const boost::system::error_code& error, std::size_t size) {
                              if (error) return;
                              std::vector<std::uint8_t> request(buffer_.begin(),
                                                                buffer_.begin() + size);
                              const Answer answer = decide(request, false);
                              if (!answer.drop) {
                                const auto reply = make_reply(request, answer);
                                boost::system::error_code ignored;
                                udp_.send_to(boost::asio::buffer(reply), peer_, 0, ignored);
                              }
                              do_receive();
                            });
  }

  void do_accept() {
    acceptor_.async_accept(
        [this](const boost::system::error_code& error, boost::asio::ip::tcp::socket socket) {
          if (error) return;
          serve_tcp(std::make_shared<boost::asio::ip::tcp::socket>(std::move(socket)));
          do_accept();
        });
  }

  void serve_tcp(std::shared_ptr<boost::asio::ip::tcp::socket> socket) {
    auto length = std::make_shared<std::array<std::uint8_t, 2>>();
    boost::asio::async_read(
        *socket, boost::asio::buffer(*length),
        [this, socket, length](const boost::system::error_code& error, std::size_t) {
          if (error) return;
          auto body =
              std::make_shared<std::vector<std::uint8_t>>(((*length)[0] << 8) | (*length)[1]);
          boost::asio::async_read(
              *socket, boost::asio::buffer(*body),
              [this, socket, body](const boost::system::error_code& failure, std::size_t) {
                if (failure) return;
                Answer answer = decide(*body, true);
                answer.truncate = false;
                if (answer.drop) return;
                auto reply = std::make_shared<std::vector<std::uint8_t>>(make_reply(*body, answer));
                reply->insert(reply->begin(), {static_cast<std::uint8_t>(reply->size() >> 8),
                                               static_cast<std::uint8_t>(reply->size())});
                boost::asio::async_write(
                    *socket, boost::asio::buffer(*reply),
                    [socket, reply](const boost::system::error_code&, std::size_t) {});
              });
        });
  }

  boost::asio::ip::udp::socket udp_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::udp::endpoint peer_;
  std::array<std::uint8_t, 65535> buffer_{};
  Policy policy_;
};

/// Runs `io` until `done()` or `limit` passes; returns done(). Every wait in the agent's
/// tests is bounded by this.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (io.run_one_for(std::chrono::milliseconds(10)) == 0 && io.stopped()) {
      // Nothing pending: what we wait for happens outside the loop (another process).
      io.restart();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return done();
}

}  // namespace signpost::health::agent::testing
