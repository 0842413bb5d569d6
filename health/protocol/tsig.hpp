// TSIG (RFC 8945): verifying signed requests and signing their responses.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace signpost::health {

/// A key that cannot be used: bad name, unknown algorithm, secret not base64.
class KeyError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// The HMAC algorithms we accept (RFC 8945 §6).
enum class TsigAlgorithm : std::uint8_t { hmac_sha256, hmac_sha512 };

/// "hmac-sha256" -> TsigAlgorithm; throws KeyError for anything else.
TsigAlgorithm parse_tsig_algorithm(std::string_view text);
/// The algorithm's name in text ("hmac-sha256").
std::string_view to_string(TsigAlgorithm algorithm) noexcept;

/// Decodes RFC 4648 base64 (whitespace ignored); throws KeyError naming `what` when it is not.
std::vector<std::uint8_t> decode_base64(std::string_view text, std::string_view what);

/// The shortest secret a key may have, in octets. HMAC keys shorter than the hash's output
/// are "strongly discouraged" (RFC 2104 §3); 16 octets is the floor we enforce for both
/// algorithms, so that a typo or a placeholder ("hello") never becomes a key.
inline constexpr std::size_t kMinTsigSecret = 16;

/// Decodes the base64 secret of key `name`; throws KeyError naming the key when it is not
/// base64 or shorter than kMinTsigSecret octets.
std::vector<std::uint8_t> decode_tsig_secret(std::string_view name, std::string_view secret_base64);

/// A shared secret and what it may touch.
struct TsigKey {
  std::string name;           // text, as configured ("agent-key")
  std::string name_wire;      // lower-case uncompressed wire form, the lookup key
  TsigAlgorithm algorithm = TsigAlgorithm::hmac_sha256;
  std::vector<std::uint8_t> secret;
  std::vector<std::string> allow;  // service-name patterns ("web", "db-*", "*"); empty = all
  std::size_t max_instances = 10'000;  // instances registered with this key at once

  /// True when the key may register instances of `service` (lower case).
  bool allows(std::string_view service) const noexcept;
};

/// Builds a key from its configuration; throws KeyError naming the problem (see also
/// decode_tsig_secret).
TsigKey make_tsig_key(std::string_view name, std::string_view algorithm,
                      std::string_view secret_base64, std::vector<std::string> allow);

/// Our time window in seconds (RFC 8945 §10 recommends 300): the fudge we sign with, and the
/// most we accept from a client, whatever fudge it asks for.
inline constexpr std::uint16_t kTsigFudge = 300;

/// What verification found. For every status but `unsigned_message` and `malformed`, the
/// request's TSIG fields are kept for the response.
struct TsigCheck {
  enum class Status : std::uint8_t {
    unsigned_message,  // no TSIG record
    ok,
    bad_key,           // unknown key or algorithm (RFC 8945 §5.2.1)
    bad_sig,           // MAC does not verify (§5.2.2)
    bad_time,          // outside the fudge window (§5.2.3)
    bad_trunc,         // a truncated MAC that verifies: we accept none (§5.2.4)
    malformed,         // TSIG not last, repeated, its fields run out, or a MAC size that
                       // §5.2.2.1 forbids: FORMERR (§5.2)
  };
  /// The TSIG error field of the response (RFC 8945 §5.3.2): BADKEY, BADSIG, BADTIME or
  /// BADTRUNC for those statuses, 0 otherwise.
  std::uint16_t error() const noexcept;

  Status status = Status::unsigned_message;
  const TsigKey* key = nullptr;
  std::size_t tsig_offset = 0;      // the message without its TSIG is [0, tsig_offset)
  std::string key_name_wire;        // as sent (lower case)
  std::string algorithm_wire;       // as sent (lower case)
  std::vector<std::uint8_t> mac;    // the request's MAC
  std::uint16_t original_id = 0;
  std::uint64_t time_signed = 0;
  std::uint16_t fudge = 300;
  std::uint16_t tsig_error = 0;     // the record's error field as sent (in a response: what
                                    // the server found wrong with our request)
};

/// Verifies TSIG on requests and signs responses with a set of keys. Its HMACs run in a
/// digest context of the calling thread, so any number of threads may use one signer at
/// once without a lock (the DNS workers do); allocates.
class TsigSigner {
 public:
  explicit TsigSigner(std::vector<TsigKey> keys);
  ~TsigSigner();
  TsigSigner(const TsigSigner&) = delete;
  TsigSigner& operator=(const TsigSigner&) = delete;

  /// Checks the TSIG record of a request, `message`, at time `now` (seconds since the
  /// epoch), RFC 8945 §5.2: key, then MAC, then time, then truncation.
  TsigCheck verify(std::span<const std::uint8_t> message, std::uint64_t now) const;

  /// Checks the TSIG of `response`, the answer to a request we signed with MAC
  /// `request_mac`, at time `now`: the MAC covers the request's MAC, the response and its
  /// TSIG variables (RFC 8945 §5.3), then time and length as verify() checks them. An error
  /// sent with an empty MAC (§5.3.2: the server could not verify us) is bad_sig, with the
  /// error in `tsig_error`. The agent; allocates.
  TsigCheck verify_response(std::span<const std::uint8_t> response,
                            std::span<const std::uint8_t> request_mac, std::uint64_t now) const;

  /// Appends a TSIG record to `response` (a complete message; its ARCOUNT is raised) that
  /// answers `request`: signed with the request's MAC for ok, bad_time and bad_trunc (§5.3,
  /// §5.3.2; bad_time signs the client's time and carries ours in other data, §5.2.3),
  /// unsigned with an empty MAC for bad_key and bad_sig (§5.3.2). `error` goes in the TSIG
  /// error field. Allocates.
  void sign_response(std::vector<std::uint8_t>& response, const TsigCheck& request,
                     std::uint16_t error, std::uint64_t now) const;

  /// As above, for the message of `length` octets at the start of `buffer`: appends the TSIG
  /// record there and returns the new length, or 0 (and writes nothing) when the record
  /// does not fit in `buffer`. No allocation.
  std::size_t sign_response(std::span<std::uint8_t> buffer, std::size_t length,
                            const TsigCheck& request, std::uint16_t error,
                            std::uint64_t now) const noexcept;

  /// Signs one message of a response that takes several, as a zone transfer does (RFC 8945
  /// §5.3.1), to a request that verified (`request.status` ok): the first message (empty
  /// `prior_mac`) over the request's MAC, the message and all TSIG variables, as
  /// sign_response; each later one over the previous message's MAC, the message and the
  /// timers (time signed, fudge) only. Every message is signed, which §5.3.1 allows.
  /// `prior_mac` becomes this message's MAC. Any thread; allocates.
  void sign_next(std::vector<std::uint8_t>& message, const TsigCheck& request,
                 std::vector<std::uint8_t>& prior_mac, std::uint64_t now) const;

  /// Octets the TSIG record that sign_response appends for `request` and `error` takes, so
  /// that a response can hold that much back (a signed answer must still fit, RFC 8945 §5.3).
  std::size_t response_size(const TsigCheck& request, std::uint16_t error) const noexcept;

  /// Signs a request: appends TSIG with `key` (one of keys()), time `now` and our fudge
  /// (RFC 8945 §4.2, §4.3), and raises ARCOUNT. Returns the MAC, which the response's MAC
  /// covers (§5.3). The agent's UPDATEs, tests and tools; allocates.
  std::vector<std::uint8_t> sign_request(std::vector<std::uint8_t>& message, const TsigKey& key,
                                         std::uint64_t now) const;

  const std::vector<TsigKey>& keys() const noexcept { return keys_; }
  const TsigKey* find(std::string_view name_wire) const noexcept;

 private:
  struct Hmac;
  // Finds the key and checks the MAC of the TSIG that verify() or verify_response() read
  // into `check` (RFC 8945 §5.2.1, §5.2.2): returns the full MAC size of the key's
  // algorithm, or 0 with check.status set.
  std::size_t check_mac(std::span<const std::uint8_t> message, TsigCheck& check,
                        std::uint16_t error, std::span<const std::uint8_t> other,
                        std::span<const std::uint8_t> request_mac) const;

  std::vector<TsigKey> keys_;
  std::vector<std::unique_ptr<Hmac>> hmacs_;  // one per key, same order
};

}  // namespace signpost::health
