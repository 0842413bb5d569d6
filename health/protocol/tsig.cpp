// TSIG (RFC 8945): HMAC (RFC 2104) over OpenSSL's digests.
#include "health/protocol/tsig.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cstring>

#include "dns/wire/base64.hpp"
#include "dns/wire/message.hpp"
#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::health {

namespace {

namespace wire = dns::wire;

std::string_view algorithm_wire(TsigAlgorithm algorithm) noexcept {
  using namespace std::string_view_literals;
  return algorithm == TsigAlgorithm::hmac_sha256 ? "\x0bhmac-sha256\x00"sv
                                                 : "\x0bhmac-sha512\x00"sv;
}

const char* digest_name(TsigAlgorithm algorithm) noexcept {
  return algorithm == TsigAlgorithm::hmac_sha256 ? "SHA256" : "SHA512";
}

// TSIG's 48-bit time (RFC 8945 §4.2), big-endian.
void store_u48(std::uint8_t* p, std::uint64_t value) noexcept {
  wire::store_u16(p, static_cast<std::uint16_t>(value >> 32));
  wire::store_u32(p + 2, static_cast<std::uint32_t>(value));
}

// Octets of a TSIG record: owner, type, class, TTL, RDLENGTH; algorithm, time (48 bits),
// fudge, MAC size, MAC, original ID, error, other length, other data (RFC 8945 §4.2).
std::size_t tsig_record_size(std::size_t key_name, std::size_t algorithm, std::size_t mac,
                             std::size_t other) noexcept {
  return key_name + 10 + algorithm + 16 + mac + other;
}

// The fields of one TSIG record.
struct TsigFields {
  std::string_view key_name;   // uncompressed wire
  std::string_view algorithm;  // uncompressed wire
  std::uint64_t time = 0;
  std::uint16_t fudge = 0;
  std::span<const std::uint8_t> mac;
  std::uint16_t original_id = 0;
  std::uint16_t error = 0;
  std::span<const std::uint8_t> other;

  std::size_t size() const noexcept {
    return tsig_record_size(key_name.size(), algorithm.size(), mac.size(), other.size());
  }
};

// Writes the TSIG record at `at`, which has room for fields.size() octets.
void write_tsig_record(std::uint8_t* at, const TsigFields& fields) noexcept {
  const auto put = [&at](const void* bytes, std::size_t size) {
    if (size != 0) std::memcpy(at, bytes, size);
    at += size;
  };
  const auto put16 = [&at](std::uint16_t value) {
    wire::store_u16(at, value);
    at += 2;
  };
  put(fields.key_name.data(), fields.key_name.size());
  put16(wire::rrtype::kTsig);
  put16(wire::rrclass::kAny);
  put16(0);  // TTL, 32 bits
  put16(0);
  put16(static_cast<std::uint16_t>(fields.size() - fields.key_name.size() - 10));
  put(fields.algorithm.data(), fields.algorithm.size());
  store_u48(at, fields.time);
  at += 6;
  put16(fields.fudge);
  put16(static_cast<std::uint16_t>(fields.mac.size()));
  put(fields.mac.data(), fields.mac.size());
  put16(fields.original_id);
  put16(fields.error);
  put16(static_cast<std::uint16_t>(fields.other.size()));
  put(fields.other.data(), fields.other.size());
}

// Appends the TSIG record to the message of `length` octets in `buffer` and raises ARCOUNT;
// returns the new length, or 0 when it does not fit.
std::size_t append_tsig_record(std::span<std::uint8_t> buffer, std::size_t length,
                               const TsigFields& fields) noexcept {
  if (length < wire::kHeaderSize || buffer.size() < length ||
      buffer.size() - length < fields.size()) {
    return 0;
  }
  write_tsig_record(buffer.data() + length, fields);
  std::uint8_t* arcount = buffer.data() + 10;
  wire::store_u16(arcount, static_cast<std::uint16_t>(wire::load_u16(arcount) + 1));
  return length + fields.size();
}

// Appends to a message held in a vector.
void append_tsig_record(std::vector<std::uint8_t>& message, const TsigFields& fields) {
  const std::size_t length = message.size();
  message.resize(length + fields.size());
  append_tsig_record(message, length, fields);
}

std::string folded_name(std::span<const std::uint8_t> message, std::size_t& position,
                        bool& ok) {
  wire::Name name;
  ok = wire::parse_name(message, position, name, true) == wire::NameError::ok;
  return ok ? std::string(name.key()) : std::string();
}

}  // namespace

TsigAlgorithm parse_tsig_algorithm(std::string_view text) {
  if (text == "hmac-sha256") return TsigAlgorithm::hmac_sha256;
  if (text == "hmac-sha512") return TsigAlgorithm::hmac_sha512;
  throw KeyError("unknown TSIG algorithm \"" + std::string(text) +
                 "\" (expected hmac-sha256 or hmac-sha512)");
}

std::string_view to_string(TsigAlgorithm algorithm) noexcept {
  return algorithm == TsigAlgorithm::hmac_sha256 ? "hmac-sha256" : "hmac-sha512";
}

std::vector<std::uint8_t> decode_base64(std::string_view text, std::string_view what) {
  std::vector<std::uint8_t> out;
  switch (wire::decode_base64(text, out)) {
    case wire::Base64Error::ok: return out;
    case wire::Base64Error::bad_character: throw KeyError(std::string(what) + " is not base64");
    case wire::Base64Error::data_after_padding:
      throw KeyError(std::string(what) + " is not base64 (data after '=')");
    default: throw KeyError(std::string(what) + " is not base64 (bad length)");
  }
}

std::uint16_t TsigCheck::error() const noexcept {
  switch (status) {
    case Status::bad_key: return wire::rcode::kBadKey;
    case Status::bad_sig: return wire::rcode::kBadSig;
    case Status::bad_time: return wire::rcode::kBadTime;
    case Status::bad_trunc: return wire::rcode::kBadTrunc;
    default: return 0;
  }
}

std::vector<std::uint8_t> decode_tsig_secret(std::string_view name,
                                             std::string_view secret_base64) {
  const std::string what = "secret of key \"" + std::string(name) + "\"";
  std::vector<std::uint8_t> secret = decode_base64(secret_base64, what);
  if (secret.empty()) throw KeyError(what + " is empty");
  if (secret.size() < kMinTsigSecret) {
    throw KeyError(what + " is " + std::to_string(secret.size()) + " octets; a TSIG key needs at least " +
                   std::to_string(kMinTsigSecret));
  }
  return secret;
}

bool TsigKey::allows(std::string_view service) const noexcept {
  if (allow.empty()) return true;
  for (const std::string& pattern : allow) {
    if (pattern == "*" || pattern == service) return true;
    // "prefix*": every service whose name starts with prefix.
    if (!pattern.empty() && pattern.back() == '*' &&
        service.substr(0, pattern.size() - 1) == std::string_view(pattern).substr(0, pattern.size() - 1)) {
      return true;
    }
  }
  return false;
}

TsigKey make_tsig_key(std::string_view name, std::string_view algorithm,
                      std::string_view secret_base64, std::vector<std::string> allow) {
  TsigKey key;
  key.name = std::string(name);
  if (name.empty() || !wire::name_from_text(name, key.name_wire)) {
    throw KeyError("key name \"" + std::string(name) + "\" is not a domain name");
  }
  wire::fold_name({reinterpret_cast<std::uint8_t*>(key.name_wire.data()), key.name_wire.size()});
  key.algorithm = parse_tsig_algorithm(algorithm);
  key.secret = decode_tsig_secret(name, secret_base64);
  key.allow = std::move(allow);
  return key;
}

namespace {

// The digest context of the calling thread, for every key: an HMAC runs from begin() to
// finish() on one thread without interruption, so one context per thread serves all keys,
// and any number of threads may verify and sign with one TsigSigner at once, without a lock.
EVP_MD_CTX* thread_context() {
  struct Owner {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Owner() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Owner owner;
  return owner.ctx;
}

}  // namespace

// One key's HMAC (RFC 2104): H((K ^ opad) || H((K ^ ipad) || message)), over the thread's
// digest context, reused for every message. OpenSSL's own HMAC duplicates a digest context
// (and allocates) at every start and end of a message; re-initialising a digest does not.
struct TsigSigner::Hmac {
  explicit Hmac(const TsigKey& key) {
    md = EVP_MD_fetch(nullptr, digest_name(key.algorithm), nullptr);
    if (md == nullptr || thread_context() == nullptr) {
      EVP_MD_free(md);
      throw KeyError("cannot set up HMAC for key \"" + key.name + "\"");
    }
    size = static_cast<std::size_t>(EVP_MD_get_size(md));
    const auto block = static_cast<std::size_t>(EVP_MD_get_block_size(md));
    // A key longer than a block is replaced by its digest; shorter ones are padded with zeros.
    std::vector<std::uint8_t> padded(key.secret.begin(), key.secret.end());
    if (padded.size() > block) {
      std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
      unsigned int length = 0;
      EVP_Digest(padded.data(), padded.size(), digest.data(), &length, md, nullptr);
      padded.assign(digest.begin(), digest.begin() + length);
    }
    padded.resize(block, 0);
    inner_pad.resize(block);
    outer_pad.resize(block);
    for (std::size_t i = 0; i < block; ++i) {
      inner_pad[i] = static_cast<std::uint8_t>(padded[i] ^ 0x36);
      outer_pad[i] = static_cast<std::uint8_t>(padded[i] ^ 0x5c);
    }
    OPENSSL_cleanse(padded.data(), padded.size());
  }
  ~Hmac() {
    OPENSSL_cleanse(inner_pad.data(), inner_pad.size());
    OPENSSL_cleanse(outer_pad.data(), outer_pad.size());
    EVP_MD_free(md);
  }
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  void begin() const {
    EVP_MD_CTX* ctx = thread_context();
    EVP_DigestInit_ex2(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, inner_pad.data(), inner_pad.size());
  }
  void update(const std::uint8_t* data, std::size_t length) const {
    EVP_DigestUpdate(thread_context(), data, length);
  }
  /// Digests the TSIG variables that follow the message (RFC 8945 §4.3.3).
  void update_variables(std::string_view key_name, std::string_view algorithm, std::uint64_t time,
                        std::uint16_t fudge, std::uint16_t error,
                        std::span<const std::uint8_t> other) const {
    // Names are at most 255 octets each: the fixed part always fits.
    std::array<std::uint8_t, 2 * 255 + 18> fixed;
    std::uint8_t* p = fixed.data();
    const auto put = [&p](std::string_view bytes) {
      std::memcpy(p, bytes.data(), bytes.size());
      p += bytes.size();
    };
    const auto put16 = [&p](std::uint16_t value) {
      wire::store_u16(p, value);
      p += 2;
    };
    put(key_name);
    put16(wire::rrclass::kAny);
    put16(0);  // TTL, 32 bits
    put16(0);
    put(algorithm);
    store_u48(p, time);  // time signed
    p += 6;
    put16(fudge);
    put16(error);
    put16(static_cast<std::uint16_t>(other.size()));
    update(fixed.data(), static_cast<std::size_t>(p - fixed.data()));
    if (!other.empty()) update(other.data(), other.size());
  }
  struct Mac {
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> bytes{};
    std::size_t size = 0;
    std::span<const std::uint8_t> view() const noexcept { return {bytes.data(), size}; }
  };
  Mac finish() const {
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> inner{};
    unsigned int inner_size = 0;
    EVP_MD_CTX* ctx = thread_context();
    EVP_DigestFinal_ex(ctx, inner.data(), &inner_size);
    EVP_DigestInit_ex2(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, outer_pad.data(), outer_pad.size());
    EVP_DigestUpdate(ctx, inner.data(), inner_size);
    Mac mac;
    unsigned int mac_size = 0;
    EVP_DigestFinal_ex(ctx, mac.bytes.data(), &mac_size);
    mac.size = mac_size;
    return mac;
  }

  EVP_MD* md = nullptr;
  std::size_t size = 0;
  std::vector<std::uint8_t> inner_pad;  // the key, padded to a block, ^ 0x36
  std::vector<std::uint8_t> outer_pad;  // ^ 0x5c
};

TsigSigner::TsigSigner(std::vector<TsigKey> keys) : keys_(std::move(keys)) {
  for (const TsigKey& key : keys_) hmacs_.push_back(std::make_unique<Hmac>(key));
}

TsigSigner::~TsigSigner() = default;

const TsigKey* TsigSigner::find(std::string_view name_wire) const noexcept {
  for (const TsigKey& key : keys_) {
    if (key.name_wire == name_wire) return &key;
  }
  return nullptr;
}

namespace {

// What a TSIG record says besides the fields TsigCheck keeps.
struct TsigTail {
  std::uint16_t arcount = 0;  // the message's, TSIG included
  std::uint16_t error = 0;
  std::span<const std::uint8_t> other;
};

// Skips the question and every record but the last, which it leaves in `record`; false when
// the message does not parse or a TSIG stands anywhere but last (RFC 8945 §5.1).
bool find_last_record(std::span<const std::uint8_t> message, const wire::Header& header,
                      wire::RecordView& record, std::size_t& last_start) {
  std::size_t position = wire::kHeaderSize;
  for (std::uint16_t i = 0; i < header.qdcount; ++i) {
    if (wire::skip_name(message, position) != wire::NameError::ok || position + 4 > message.size()) {
      return false;
    }
    position += 4;
  }
  const std::size_t records = std::size_t{header.ancount} + header.nscount + header.arcount;
  for (std::size_t i = 0; i < records; ++i) {
    last_start = position;
    wire::NameError name_error;
    if (wire::parse_record(message, position, record, name_error) != wire::MessageError::ok ||
        (record.type == wire::rrtype::kTsig && i + 1 != records)) {
      return false;
    }
  }
  return true;
}

// Reads the fields of the TSIG record (RFC 8945 §4.2) that starts at `start` into `check`
// and `tail`; false when they run out or past the record.
bool read_tsig_fields(std::span<const std::uint8_t> message, const wire::RecordView& record,
                      std::size_t start, TsigCheck& check, TsigTail& tail) {
  bool ok = true;
  std::size_t at = start;
  check.key_name_wire = folded_name(message, at, ok);
  at = record.rdata_offset;
  const std::size_t end = record.rdata_offset + record.rdlength;
  if (ok) check.algorithm_wire = folded_name(message, at, ok);
  if (!ok || at + 10 > end) return false;
  const std::uint8_t* p = message.data() + at;
  check.time_signed = std::uint64_t{wire::load_u16(p)} << 32 | wire::load_u32(p + 2);
  check.fudge = wire::load_u16(p + 6);
  const std::size_t mac_size = wire::load_u16(p + 8);
  at += 10;
  if (at + mac_size + 6 > end) return false;
  check.mac.assign(message.data() + at, message.data() + at + mac_size);
  at += mac_size;
  check.original_id = wire::load_u16(message.data() + at);
  tail.error = wire::load_u16(message.data() + at + 2);
  const std::size_t other_length = wire::load_u16(message.data() + at + 4);
  if (at + 6 + other_length != end) return false;
  tail.other = message.subspan(at + 6, other_length);
  return true;
}

// Reads the TSIG record that ends `message` into `check` and `tail`. False when there is
// nothing more to check: check.status is then unsigned_message or malformed.
bool read_tsig(std::span<const std::uint8_t> message, TsigCheck& check, TsigTail& tail) {
  wire::Header header;
  wire::RecordView record;
  std::size_t last_start = 0;
  check.status = TsigCheck::Status::malformed;
  if (!wire::parse_header(message, header) || !find_last_record(message, header, record, last_start)) {
    return false;
  }
  const std::size_t records = std::size_t{header.ancount} + header.nscount + header.arcount;
  if (records == 0 || record.type != wire::rrtype::kTsig) {
    check.status = TsigCheck::Status::unsigned_message;
    return false;
  }
  if (header.arcount == 0 || record.rrclass != wire::rrclass::kAny || record.ttl != 0 ||
      !read_tsig_fields(message, record, last_start, check, tail)) {
    return false;
  }
  check.tsig_offset = last_start;
  tail.arcount = header.arcount;
  return true;
}

// After the MAC, the time (RFC 8945 §5.2.3), within the signer's fudge but never more than
// our own window: a client must not open an 18-hour window with a fudge of 65,535. Then the
// length: a truncated MAC that verified (§5.2.2.1 rule 4) is still refused, as our policy
// takes none and a full MAC costs a few octets (§5.2.4).
TsigCheck::Status time_and_length(const TsigCheck& check, std::size_t full_mac,
                                  std::uint64_t now) noexcept {
  const std::uint64_t distance = now > check.time_signed ? now - check.time_signed : check.time_signed - now;
  if (distance > std::min(check.fudge, kTsigFudge)) return TsigCheck::Status::bad_time;
  return check.mac.size() < full_mac ? TsigCheck::Status::bad_trunc : TsigCheck::Status::ok;
}

}  // namespace

std::size_t TsigSigner::check_mac(std::span<const std::uint8_t> message, TsigCheck& check,
                                  std::uint16_t error, std::span<const std::uint8_t> other,
                                  std::span<const std::uint8_t> request_mac) const {
  check.key = find(check.key_name_wire);
  if (check.key == nullptr || algorithm_wire(check.key->algorithm) != check.algorithm_wire) {
    check.key = nullptr;
    check.status = TsigCheck::Status::bad_key;
    return 0;
  }
  const Hmac& hmac = *hmacs_[static_cast<std::size_t>(check.key - keys_.data())];
  // RFC 8945 §5.2.2.1 rules 1 and 3: a MAC longer than the hash, or shorter than the larger
  // of 10 octets and half the hash, is a format error.
  const std::size_t mac_size = check.mac.size();
  if (mac_size > hmac.size || mac_size < std::max<std::size_t>(10, hmac.size / 2)) {
    check.status = TsigCheck::Status::malformed;
    return 0;
  }
  // A response's digest starts with the request's MAC (§5.3). The message is digested as it
  // was before TSIG was added: original ID, ARCOUNT one less (§4.3.1), then the TSIG
  // variables (§4.3.3).
  std::array<std::uint8_t, 12> original_header;
  std::memcpy(original_header.data(), message.data(), 12);
  wire::store_u16(original_header.data(), check.original_id);
  wire::store_u16(original_header.data() + 10,
                  static_cast<std::uint16_t>(wire::load_u16(message.data() + 10) - 1));
  hmac.begin();
  if (!request_mac.empty()) {
    std::array<std::uint8_t, 2> request_mac_size;
    wire::store_u16(request_mac_size.data(), static_cast<std::uint16_t>(request_mac.size()));
    hmac.update(request_mac_size.data(), request_mac_size.size());
    hmac.update(request_mac.data(), request_mac.size());
  }
  hmac.update(original_header.data(), original_header.size());
  hmac.update(message.data() + 12, check.tsig_offset - 12);
  hmac.update_variables(check.key_name_wire, check.algorithm_wire, check.time_signed, check.fudge,
                        error, other);
  const Hmac::Mac expected = hmac.finish();
  if (CRYPTO_memcmp(expected.bytes.data(), check.mac.data(), mac_size) != 0) {
    check.status = TsigCheck::Status::bad_sig;
    return 0;
  }
  return hmac.size;
}

TsigCheck TsigSigner::verify(std::span<const std::uint8_t> message, std::uint64_t now) const {
  TsigCheck check;
  TsigTail tail;
  if (!read_tsig(message, check, tail)) return check;
  check.tsig_error = tail.error;
  const std::size_t full_mac = check_mac(message, check, tail.error, tail.other, {});
  if (full_mac != 0) check.status = time_and_length(check, full_mac, now);
  return check;
}

TsigCheck TsigSigner::verify_response(std::span<const std::uint8_t> response,
                                      std::span<const std::uint8_t> request_mac,
                                      std::uint64_t now) const {
  TsigCheck check;
  TsigTail tail;
  if (!read_tsig(response, check, tail)) return check;
  check.tsig_error = tail.error;
  if (check.mac.empty() && tail.error != 0) {
    // The server could not verify us and says so unsigned (§5.3.2): nothing to check.
    check.status = TsigCheck::Status::bad_sig;
    return check;
  }
  const std::size_t full_mac = check_mac(response, check, tail.error, tail.other, request_mac);
  if (full_mac != 0) check.status = time_and_length(check, full_mac, now);
  return check;
}

// Unsigned error responses (unknown key, MAC that does not verify) carry an empty MAC
// (RFC 8945 §5.3.2); every other response to a signed request is signed.
std::size_t TsigSigner::response_size(const TsigCheck& request, std::uint16_t error) const noexcept {
  const bool signs = request.key != nullptr && request.status != TsigCheck::Status::bad_sig;
  const std::size_t mac = signs ? hmacs_[static_cast<std::size_t>(request.key - keys_.data())]->size : 0;
  const std::size_t other = signs && error == wire::rcode::kBadTime ? 6 : 0;
  return tsig_record_size(request.key_name_wire.size(), request.algorithm_wire.size(), mac, other);
}

std::size_t TsigSigner::sign_response(std::span<std::uint8_t> buffer, std::size_t length,
                                      const TsigCheck& request, std::uint16_t error,
                                      std::uint64_t now) const noexcept {
  if (length < wire::kHeaderSize || length > buffer.size()) return 0;
  TsigFields fields{.key_name = request.key_name_wire,
                    .algorithm = request.algorithm_wire,
                    .time = now,
                    .fudge = request.fudge,
                    .mac = {},
                    .original_id = wire::load_u16(buffer.data()),
                    .error = error,
                    .other = {}};
  if (request.key == nullptr || request.status == TsigCheck::Status::bad_sig) {
    // Unsigned error response: the request's key and algorithm, empty MAC (§5.3.2).
    return append_tsig_record(buffer, length, fields);
  }
  const Hmac& hmac = *hmacs_[static_cast<std::size_t>(request.key - keys_.data())];
  std::array<std::uint8_t, 6> our_time;
  store_u48(our_time.data(), now);
  if (error == wire::rcode::kBadTime) {
    // The client's time, so that it can verify the response whatever its clock says, and
    // ours in Other Data (§5.2.3).
    fields.time = request.time_signed;
    fields.other = our_time;
  }
  if (buffer.size() - length < response_size(request, error)) return 0;
  std::array<std::uint8_t, 2> mac_size;
  wire::store_u16(mac_size.data(), static_cast<std::uint16_t>(request.mac.size()));
  hmac.begin();
  hmac.update(mac_size.data(), mac_size.size());
  hmac.update(request.mac.data(), request.mac.size());
  hmac.update(buffer.data(), length);
  hmac.update_variables(request.key_name_wire, request.algorithm_wire, fields.time, fields.fudge,
                        error, fields.other);
  const Hmac::Mac mac = hmac.finish();
  fields.mac = mac.view();
  return append_tsig_record(buffer, length, fields);
}

void TsigSigner::sign_response(std::vector<std::uint8_t>& response, const TsigCheck& request,
                               std::uint16_t error, std::uint64_t now) const {
  const std::size_t length = response.size();
  response.resize(length + response_size(request, error));
  const std::size_t signed_length = sign_response(response, length, request, error, now);
  response.resize(signed_length != 0 ? signed_length : length);
}

void TsigSigner::sign_next(std::vector<std::uint8_t>& message, const TsigCheck& request,
                           std::vector<std::uint8_t>& prior_mac, std::uint64_t now) const {
  const Hmac& hmac = *hmacs_[static_cast<std::size_t>(request.key - keys_.data())];
  const bool first = prior_mac.empty();
  const std::span<const std::uint8_t> before = first ? std::span<const std::uint8_t>(request.mac)
                                                     : std::span<const std::uint8_t>(prior_mac);
  std::array<std::uint8_t, 2> mac_size;
  wire::store_u16(mac_size.data(), static_cast<std::uint16_t>(before.size()));
  hmac.begin();
  hmac.update(mac_size.data(), mac_size.size());
  hmac.update(before.data(), before.size());
  hmac.update(message.data(), message.size());
  if (first) {
    hmac.update_variables(request.key_name_wire, request.algorithm_wire, now, request.fudge, 0, {});
  } else {
    // Later messages cover only the timers (§5.3.1): time signed and fudge.
    std::array<std::uint8_t, 8> timers;
    store_u48(timers.data(), now);
    wire::store_u16(timers.data() + 6, request.fudge);
    hmac.update(timers.data(), timers.size());
  }
  const Hmac::Mac mac = hmac.finish();
  append_tsig_record(message, TsigFields{.key_name = request.key_name_wire,
                                         .algorithm = request.algorithm_wire,
                                         .time = now,
                                         .fudge = request.fudge,
                                         .mac = mac.view(),
                                         .original_id = wire::load_u16(message.data()),
                                         .error = 0,
                                         .other = {}});
  prior_mac.assign(mac.bytes.begin(), mac.bytes.begin() + static_cast<std::ptrdiff_t>(mac.size));
}

std::vector<std::uint8_t> TsigSigner::sign_request(std::vector<std::uint8_t>& message,
                                                   const TsigKey& key, std::uint64_t now) const {
  const Hmac& hmac = *hmacs_[static_cast<std::size_t>(&key - keys_.data())];
  const std::string_view algorithm = algorithm_wire(key.algorithm);
  hmac.begin();
  hmac.update(message.data(), message.size());
  hmac.update_variables(key.name_wire, algorithm, now, kTsigFudge, 0, {});
  const Hmac::Mac mac = hmac.finish();
  append_tsig_record(message, TsigFields{.key_name = key.name_wire,
                                         .algorithm = algorithm,
                                         .time = now,
                                         .fudge = kTsigFudge,
                                         .mac = mac.view(),
                                         .original_id = wire::load_u16(message.data()),
                                         .error = 0,
                                         .other = {}});
  return {mac.bytes.begin(), mac.bytes.begin() + static_cast<std::ptrdiff_t>(mac.size)};
}

}  // namespace signpost::health
