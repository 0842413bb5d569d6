// NOTIFY out over real loopback UDP: a zone with a key sends NOTIFY signed with it; only an
// answer signed over that request counts; one never answered is retried, then failed.
#include "dns/xfr/notifier.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::xfr {
namespace {

using Bytes = std::vector<std::uint8_t>;
const char* kSecret = "bm90aWZ5IGtleSBmb3IgdGhlIHVuaXQgdGVzdHMgMDEyMzQ=";
const char* kForged = "Zm9yZ2VkIGtleSBmb3IgdGhlIHVuaXQgdGVzdHMgMDEyMzQ=";
constexpr std::chrono::milliseconds kRetry{5};

std::uint64_t now() { return static_cast<std::uint64_t>(std::time(nullptr)); }

// A secondary: a UDP socket on 127.0.0.1 that the test reads and answers from.
class Secondary {
 public:
  Secondary() : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~Secondary() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

  // The next datagram, polling `io` meanwhile (the notifier runs there); empty after 5 s.
  Bytes receive(boost::asio::io_context& io) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(2));
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 0) != 1) continue;
      Bytes message(4096);
      socklen_t length = sizeof from_;
      const ssize_t n = ::recvfrom(fd_, message.data(), message.size(), 0,
                                   reinterpret_cast<sockaddr*>(&from_), &length);
      message.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
      return message;
    }
    return {};
  }
  void reply(const Bytes& message) {
    ::sendto(fd_, message.data(), message.size(), 0, reinterpret_cast<const sockaddr*>(&from_),
             sizeof from_);
  }

 private:
  int fd_;
  std::uint16_t port_ = 0;
  sockaddr_in from_{};
};

class NotifierTest : public ::testing::Test {
 protected:
  NotifierTest() {
    policy_.zone = testing::wire_name("svc.internal.");
    policy_.zone_text = "svc.internal.";
    policy_.key = testing::wire_name("xfr.");
    policy_.notify.push_back({"127.0.0.1", secondary_.port(), "secondary"});
  }

  // The answer to `notify` (its ID and question, QR set), signed over its MAC when `check`
  // verified it.
  Bytes answer(const Bytes& notify, const health::TsigCheck* check) {
    Bytes response = build_notify(policy_.zone, "", wire::load_u16(notify.data()));
    response[2] |= 0x80;  // QR
    if (check != nullptr) signer_.sign_response(response, *check, 0, now());
    return response;
  }

  // Runs the notifier until `done` holds or 5 s pass.
  template <typename Done>
  bool run_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(2));
    }
    return done();
  }

  boost::asio::io_context io_;
  health::TsigSigner signer_{{health::make_tsig_key("xfr.", "hmac-sha256", kSecret, {})}};
  Secondary secondary_;
  TransferPolicy policy_;
  std::vector<std::string> logged_;
  Notifier notifier_{io_, [this](const std::string& line) { logged_.push_back(line); }, signer_,
                     now, kRetry};
};

TEST_F(NotifierTest, SignedNotifyCountsOnlyASignedAnswer) {
  notifier_.changed(policy_, "");
  const Bytes notify = secondary_.receive(io_);
  ASSERT_GE(notify.size(), 12u);
  EXPECT_EQ((notify[2] >> 3) & 0x0F, wire::opcode::kNotify);
  const health::TsigCheck check = signer_.verify(notify, now());
  ASSERT_EQ(check.status, health::TsigCheck::Status::ok);  // signed with the zone's key
  // An unsigned answer (anyone could send it) is not taken: the NOTIFY comes again.
  secondary_.reply(answer(notify, nullptr));
  const Bytes again = secondary_.receive(io_);
  ASSERT_GE(again.size(), 12u);
  EXPECT_EQ(notifier_.answered(), 0u);
  // Nor one signed with another secret under the key's name.
  health::TsigSigner forger({health::make_tsig_key("xfr.", "hmac-sha256", kForged, {})});
  Bytes forged = build_notify(policy_.zone, "", wire::load_u16(again.data()));
  forged[2] |= 0x80;
  forger.sign_response(forged, forger.verify(again, now()), 0, now());
  secondary_.reply(forged);
  const Bytes third = secondary_.receive(io_);
  ASSERT_GE(third.size(), 12u);
  EXPECT_EQ(notifier_.answered(), 0u);
  const health::TsigCheck third_check = signer_.verify(third, now());
  ASSERT_EQ(third_check.status, health::TsigCheck::Status::ok);
  secondary_.reply(answer(third, &third_check));
  EXPECT_TRUE(run_until([&] { return notifier_.answered() == 1; }));
  EXPECT_EQ(notifier_.failed(), 0u);
}

TEST_F(NotifierTest, NotifyNeverAnsweredIsRetriedThenFailed) {
  policy_.key.clear();  // unsigned: a zone without a key
  notifier_.changed(policy_, "");
  for (int attempt = 0; attempt < 5; ++attempt) {
    const Bytes notify = secondary_.receive(io_);
    ASSERT_GE(notify.size(), 12u) << "attempt " << attempt;
    EXPECT_EQ(notify[11], 0);  // no TSIG
  }
  EXPECT_EQ(notifier_.failed(), 0u);  // the last one is still waited for
  EXPECT_TRUE(run_until([&] { return notifier_.failed() == 1; }));
  EXPECT_EQ(notifier_.sent(), 5u);
  EXPECT_EQ(notifier_.answered(), 0u);
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_NE(logged_[0].find("not answered"), std::string::npos);
}

}  // namespace
}  // namespace signpost::dns::xfr
