// libFuzzer target: an upstream resolver's answer, as forwarding takes it back (untrusted
// bytes from the network), made the response to fixed client queries over UDP (with and
// without EDNS) and TCP; the input is also taken as a client query for the SERVFAIL path.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dns/forward/forward_response.hpp"

namespace {

using signpost::dns::answer::Transport;

// www.example.org. A, ID 0x1234, RD; the second with an OPT record (payload 4096).
const std::vector<std::uint8_t> kPlain = {
    0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'W', 'w', 'W', 7, 'e', 'X', 'a',
    'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0, 0, 1, 0, 1};
const std::vector<std::uint8_t> kEdns = [] {
  std::vector<std::uint8_t> query = kPlain;
  query[11] = 1;
  const std::uint8_t opt[] = {0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0};
  query.insert(query.end(), std::begin(opt), std::end(opt));
  return query;
}();

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace forward = signpost::dns::forward;
  // Exactly sized, so that AddressSanitizer sees a write past the end.
  static std::vector<std::uint8_t> out(65535);
  const std::span<const std::uint8_t> input(data, size);
  forward::restore_response(kPlain, input, Transport::udp, 1232, out);
  forward::restore_response(kEdns, input, Transport::udp, 1232, out);
  forward::restore_response(kEdns, input, Transport::tcp, 1232, out);
  forward::response_limit(input, Transport::udp, 1232);
  forward::failure_response(input, 2, 1232, out);
  return 0;
}
