// Zone transfer responses: records packed into as few messages as fit (RFC 5936 §2.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/wire/rrset.hpp"

#include "dns/xfr/transfer_request.hpp"

namespace signpost::dns::xfr {

/// Packs whole RRs (as zone_content.hpp makes them) into response messages of up to 16 KiB
/// less `reserve` octets (room for the TSIG each message may carry), and hands each one, when
/// full or finished, to `sink`. Every message echoes the request's ID and opcode and sets
/// QR and AA; the first carries the question (RFC 5936 §2.2.1), later ones none. Owner
/// names are compressed (RFC 1035 §4.1.4) against the names already in the message: a
/// zone's owners share their suffixes, and an uncompressed transfer is near twice the
/// size. A compression pointer reaches only the first 16 KiB of a message (14 bits), so
/// messages are no larger, as NSD's: 64 KiB ones came out 15 % bigger in all.
/// The RDATA names of NS, CNAME and PTR are compressed too; other RDATA goes as given
/// (RFC 3597 §4: no compression inside newer types' RDATA, SRV's included, RFC 2782).
/// Control plane (the transfer thread); allocates.
class TransferWriter {
 public:
  /// Takes a finished message (header counts set); it may append to it (TSIG).
  using Sink = std::function<void(std::vector<std::uint8_t>& message)>;

  TransferWriter(const TransferRequest& request, std::size_t reserve, Sink sink);

  /// Appends one RR, starting a new message when it does not fit in this one.
  void add(std::string_view record);
  /// Sends the message being filled. Call once, after the last add.
  void finish();

  std::size_t messages() const noexcept { return messages_; }

 private:
  void start_message();
  void flush();
  // Writes an uncompressed lower-case wire name, ending in a pointer to the longest suffix
  // already in the message, and remembers the new suffixes it writes.
  void write_name(std::string_view name);
  // Writes the rest of an NS, CNAME or PTR record with its RDATA name compressed.
  bool write_name_rdata(std::string_view rest);

  const TransferRequest& request_;
  std::size_t limit_;
  Sink sink_;
  std::vector<std::uint8_t> message_;
  // The message's name suffixes that a pointer can reach (offset below 0x4000).
  std::unordered_map<std::string, std::uint16_t, wire::NameHash, std::equal_to<>> suffixes_;
  std::uint16_t answers_ = 0;
  std::size_t messages_ = 0;
};

/// A response that carries no records: the header with `rcode`, the question echoed when
/// it parsed (REFUSED, NOTAUTH, FORMERR, NOTIMP). Any thread; allocates.
std::vector<std::uint8_t> error_response(const TransferRequest& request, std::uint16_t rcode,
                                         bool with_question);

}  // namespace signpost::dns::xfr
