// DNS UPDATE requests (RFC 2136 §2) built section by section, with the Update Lease option
// (RFC 9664) and a TSIG signature (RFC 8945): the encoder of the agent's registrations.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/wire/types.hpp"
#include "dns/wire/writer.hpp"
#include "health/protocol/tsig.hpp"

namespace signpost::health {

/// The sections of an UPDATE that hold records (RFC 2136 §2.4, §2.5).
enum class UpdateSection : std::uint8_t { prerequisite, update };

/// Why an UPDATE could not be built.
enum class UpdateBuildError : std::uint8_t {
  ok,
  bad_name,       // not a domain name in presentation format (RFC 1035 §2.3.4, §5.1)
  bad_address,    // not a numeric IPv4 or IPv6 address
  bad_string,     // a character-string over 255 octets (RFC 1035 §3.3)
  section_order,  // a prerequisite after an update record (RFC 2136 §2: sections in order)
  too_large,      // the message would pass 65,535 octets (RFC 1035 §4.2.2)
  bad_key,        // the key is not one of the signer's
  finished,       // finish() was called already
};

/// What went wrong, in words ("not a domain name"). Any thread; no allocation.
std::string_view to_string(UpdateBuildError error) noexcept;

/// A signed request, and the MAC that the response's signature covers (RFC 8945 §5.3).
struct SignedRequest {
  std::vector<std::uint8_t> wire;
  std::vector<std::uint8_t> mac;
};

/// Builds one UPDATE: the header and zone section first, then prerequisite records, then
/// update records, and at finish() the OPT with the lease and the TSIG record, last (RFC 8945
/// §4.2). Names are written uncompressed and in the case given (RFC 2136 §1.4 lets a sender
/// compress, none has to). The first error sticks: later calls do nothing and finish()
/// returns it. Nothing is written past 65,535 octets. One thread; allocates.
class UpdateBuilder {
 public:
  /// Starts an UPDATE with message id `id` whose zone section is `zone` (presentation
  /// format, absolute) SOA `zone_class` (RFC 2136 §2.3). Allocates 64 KiB, not zeroed.
  UpdateBuilder(std::uint16_t id, std::string_view zone,
                std::uint16_t zone_class = dns::wire::rrclass::kIn);
  UpdateBuilder(const UpdateBuilder&) = delete;
  UpdateBuilder& operator=(const UpdateBuilder&) = delete;

  /// Appends a record with owner `owner` (presentation format) and `rdata` (wire form, empty
  /// for the deletes and prerequisites that carry none, RFC 2136 §2.4, §2.5). False once an
  /// error has occurred.
  bool add(UpdateSection section, std::string_view owner, std::uint16_t type,
           std::uint16_t rrclass, std::uint32_t ttl, std::span<const std::uint8_t> rdata);

  /// Asks for a lease of `lease` seconds: finish() adds an OPT record (RFC 6891 §6.1.2) with
  /// payload size `udp_payload` and the 4-octet Update Lease option (RFC 9664 §4).
  void set_lease(std::uint32_t lease, std::uint16_t udp_payload = 1232) noexcept;

  /// Completes the message: counts, the OPT when a lease was asked for, then TSIG with `key`
  /// (one of signer.keys()) at `now`, seconds since the epoch (RFC 8945 §4.2, §4.3). On
  /// success `out` holds the message and its MAC. The builder is spent afterwards.
  UpdateBuildError finish(const TsigSigner& signer, const TsigKey& key, std::uint64_t now,
                          SignedRequest& out);

  /// The first error, ok while there is none.
  UpdateBuildError error() const noexcept { return error_; }
  /// The text that caused the first error (a name, an address), or empty.
  const std::string& error_text() const noexcept { return error_text_; }

 private:
  bool fail(UpdateBuildError error, std::string_view text);
  bool put_name(std::string_view text);

  // Room for the largest message, left uninitialized: a registration uses a few hundred
  // octets of it, and zeroing 64 KiB per UPDATE would cost more than writing it.
  std::unique_ptr<std::uint8_t[]> buffer_;
  dns::wire::Writer writer_;
  std::uint16_t counts_[2] = {0, 0};  // prerequisites, updates
  bool has_lease_ = false;
  std::uint32_t lease_ = 0;
  std::uint16_t udp_payload_ = 0;
  UpdateBuildError error_ = UpdateBuildError::ok;
  std::string error_text_;
};

/// RDATA of a name (PTR, RFC 1035 §3.3.12): `name` in presentation format, uncompressed.
/// Appends to `out`. Any thread; allocates.
UpdateBuildError encode_name_rdata(std::string_view name, std::vector<std::uint8_t>& out);

/// RDATA of SRV (RFC 2782): priority, weight, port, target. Appends to `out`. Any thread;
/// allocates.
UpdateBuildError encode_srv_rdata(std::uint16_t priority, std::uint16_t weight,
                                  std::uint16_t port, std::string_view target,
                                  std::vector<std::uint8_t>& out);

/// RDATA of TXT (RFC 1035 §3.3.14): one character-string per entry, each at most 255
/// octets; no entries give one empty string, as TXT needs at least one (RFC 6763 §6.1).
/// Appends to `out`. Any thread; allocates.
UpdateBuildError encode_txt_rdata(std::span<const std::string> strings,
                                  std::vector<std::uint8_t>& out);

/// RDATA of A or AAAA (RFC 1035 §3.4.1, RFC 3596 §2.2) from numeric text; `type` becomes
/// rrtype::kA or rrtype::kAaaa. Appends to `out`. Any thread; allocates.
UpdateBuildError encode_address_rdata(std::string_view address, std::uint16_t& type,
                                      std::vector<std::uint8_t>& out);

}  // namespace signpost::health
