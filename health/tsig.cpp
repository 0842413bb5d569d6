// TSIG (RFC 8945): HMAC (RFC 2104) over OpenSSL's digests.
#include "health/tsig.hpp"

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

constexpr std::uint16_t kDefaultFudge = 300;  // seconds, RFC 8945 §10

std::string_view algorithm_wire(TsigAlgorithm algorithm) noexcept {
  using namespace std::string_view_literals;
  return algorithm == TsigAlgorithm::hmac_sha256 ? "\x0bhmac-sha256\x00"sv
                                                 : "\x0bhmac-sha512\x00"sv;
}

const char* digest_name(TsigAlgorithm algorithm) noexcept {
  return algorithm == TsigAlgorithm::hmac_sha256 ? "SHA256" : "SHA512";
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

// TSIG's 48-bit time (RFC 8945 §4.2), big-endian.
void store_u48(std::uint8_t* p, std::uint64_t value) {
  wire::store_u16(p, static_cast<std::uint16_t>(value >> 32));
  wire::store_u32(p + 2, static_cast<std::uint32_t>(value));
}

void put_u48(std::vector<std::uint8_t>& out, std::uint64_t value) {
  std::array<std::uint8_t, 6> bytes;
  store_u48(bytes.data(), value);
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void put_bytes(std::vector<std::uint8_t>& out, std::string_view bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

// Appends the TSIG resource record and raises ARCOUNT.
void append_tsig_record(std::vector<std::uint8_t>& message, std::string_view key_name,
                        std::string_view algorithm, std::uint64_t time, std::uint16_t fudge,
                        std::span<const std::uint8_t> mac, std::uint16_t original_id,
                        std::uint16_t error, std::span<const std::uint8_t> other) {
  message.reserve(message.size() + key_name.size() + algorithm.size() + 26 + mac.size() + other.size());
  put_bytes(message, key_name);
  put_u16(message, wire::rrtype::kTsig);
  put_u16(message, wire::rrclass::kAny);
  put_u16(message, 0);
  put_u16(message, 0);
  const std::size_t rdlength_at = message.size();
  put_u16(message, 0);
  put_bytes(message, algorithm);
  put_u48(message, time);
  put_u16(message, fudge);
  put_u16(message, static_cast<std::uint16_t>(mac.size()));
  message.insert(message.end(), mac.begin(), mac.end());
  put_u16(message, original_id);
  put_u16(message, error);
  put_u16(message, static_cast<std::uint16_t>(other.size()));
  message.insert(message.end(), other.begin(), other.end());
  wire::store_u16(message.data() + rdlength_at,
                  static_cast<std::uint16_t>(message.size() - rdlength_at - 2));
  wire::store_u16(message.data() + 10, static_cast<std::uint16_t>(wire::load_u16(message.data() + 10) + 1));
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
  key.secret = decode_base64(secret_base64, "secret of key \"" + std::string(name) + "\"");
  if (key.secret.empty()) throw KeyError("secret of key \"" + std::string(name) + "\" is empty");
  key.allow = std::move(allow);
  return key;
}

// One key's HMAC (RFC 2104): H((K ^ opad) || H((K ^ ipad) || message)), over one digest
// context reused for every message. OpenSSL's own HMAC duplicates a digest context (and
// allocates) at every start and end of a message; re-initialising a digest does not.
struct TsigSigner::Hmac {
  explicit Hmac(const TsigKey& key) {
    md = EVP_MD_fetch(nullptr, digest_name(key.algorithm), nullptr);
    ctx = EVP_MD_CTX_new();
    if (md == nullptr || ctx == nullptr) {
      EVP_MD_free(md);
      EVP_MD_CTX_free(ctx);
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
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  void begin() const {
    EVP_DigestInit_ex2(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, inner_pad.data(), inner_pad.size());
  }
  void update(const std::uint8_t* data, std::size_t length) const {
    EVP_DigestUpdate(ctx, data, length);
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
  EVP_MD_CTX* ctx = nullptr;
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

TsigCheck TsigSigner::verify(std::span<const std::uint8_t> message, std::uint64_t now) const {
  TsigCheck check;
  wire::Header header;
  if (!wire::parse_header(message, header)) {
    check.status = TsigCheck::Status::malformed;
    return check;
  }
  // Find the last record; a TSIG anywhere but there is an error (RFC 8945 §5.1).
  std::size_t position = 12;
  for (std::uint16_t i = 0; i < header.qdcount; ++i) {
    if (wire::skip_name(message, position) != wire::NameError::ok || position + 4 > message.size()) {
      check.status = TsigCheck::Status::malformed;
      return check;
    }
    position += 4;
  }
  const std::size_t records = std::size_t{header.ancount} + header.nscount + header.arcount;
  wire::RecordView record;
  std::size_t last_start = 0;
  for (std::size_t i = 0; i < records; ++i) {
    last_start = position;
    wire::NameError name_error;
    if (wire::parse_record(message, position, record, name_error) != wire::MessageError::ok ||
        (record.type == wire::rrtype::kTsig && i + 1 != records)) {
      check.status = TsigCheck::Status::malformed;
      return check;
    }
  }
  if (records == 0 || record.type != wire::rrtype::kTsig) return check;
  if (header.arcount == 0 || record.rrclass != wire::rrclass::kAny || record.ttl != 0) {
    check.status = TsigCheck::Status::malformed;
    return check;
  }
  check.tsig_offset = last_start;
  bool ok = true;
  std::size_t at = last_start;
  check.key_name_wire = folded_name(message, at, ok);
  at = record.rdata_offset;
  const std::size_t end = record.rdata_offset + record.rdlength;
  if (ok) check.algorithm_wire = folded_name(message, at, ok);
  if (!ok || at + 10 > end) {
    check.status = TsigCheck::Status::malformed;
    return check;
  }
  const std::uint8_t* p = message.data() + at;
  check.time_signed = std::uint64_t{wire::load_u16(p)} << 32 | wire::load_u32(p + 2);
  check.fudge = wire::load_u16(p + 6);
  const std::size_t mac_size = wire::load_u16(p + 8);
  at += 10;
  if (at + mac_size + 6 > end) {
    check.status = TsigCheck::Status::malformed;
    return check;
  }
  check.mac.assign(message.data() + at, message.data() + at + mac_size);
  at += mac_size;
  check.original_id = wire::load_u16(message.data() + at);
  const std::size_t other_length = wire::load_u16(message.data() + at + 4);
  if (at + 6 + other_length != end) {
    check.status = TsigCheck::Status::malformed;
    return check;
  }
  const std::span<const std::uint8_t> other(message.data() + at + 6, other_length);

  check.key = find(check.key_name_wire);
  if (check.key == nullptr || algorithm_wire(check.key->algorithm) != check.algorithm_wire) {
    check.key = nullptr;
    check.status = TsigCheck::Status::bad_key;
    return check;
  }
  const Hmac& hmac = *hmacs_[static_cast<std::size_t>(check.key - keys_.data())];
  // RFC 8945 §5.2.2.1: a truncated MAC must keep at least half, and 10 octets.
  if (mac_size > hmac.size || mac_size < std::max<std::size_t>(10, hmac.size / 2)) {
    check.status = TsigCheck::Status::bad_sig;
    return check;
  }
  // The digest covers the message as it was before TSIG was added: original ID, ARCOUNT
  // one less (§4.3.1), then the TSIG variables (§4.3.3).
  std::array<std::uint8_t, 12> original_header;
  std::memcpy(original_header.data(), message.data(), 12);
  wire::store_u16(original_header.data(), check.original_id);
  wire::store_u16(original_header.data() + 10, static_cast<std::uint16_t>(header.arcount - 1));
  hmac.begin();
  hmac.update(original_header.data(), original_header.size());
  hmac.update(message.data() + 12, last_start - 12);
  hmac.update_variables(check.key_name_wire, check.algorithm_wire, check.time_signed, check.fudge,
                        wire::load_u16(message.data() + at + 2), other);
  const Hmac::Mac expected = hmac.finish();
  if (CRYPTO_memcmp(expected.bytes.data(), check.mac.data(), mac_size) != 0) {
    check.status = TsigCheck::Status::bad_sig;
    return check;
  }
  // Time is checked only after the MAC (§5.2.3).
  const std::uint64_t distance = now > check.time_signed ? now - check.time_signed : check.time_signed - now;
  check.status = distance > check.fudge ? TsigCheck::Status::bad_time : TsigCheck::Status::ok;
  return check;
}

void TsigSigner::sign_response(std::vector<std::uint8_t>& response, const TsigCheck& request,
                               std::uint16_t error, std::uint64_t now) const {
  const std::uint16_t id = wire::load_u16(response.data());
  if (request.key == nullptr || request.status == TsigCheck::Status::bad_sig) {
    // Unsigned error response: the request's key and algorithm, empty MAC (§5.3.2).
    append_tsig_record(response, request.key_name_wire, request.algorithm_wire, now,
                       request.fudge, {}, id, error, {});
    return;
  }
  const Hmac& hmac = *hmacs_[static_cast<std::size_t>(request.key - keys_.data())];
  std::array<std::uint8_t, 6> our_time;  // with BADTIME, our clock, for the client
  store_u48(our_time.data(), now);
  const std::span<const std::uint8_t> other =
      error == wire::rcode::kBadTime ? std::span<const std::uint8_t>(our_time) : std::span<const std::uint8_t>();
  std::array<std::uint8_t, 2> mac_size;
  wire::store_u16(mac_size.data(), static_cast<std::uint16_t>(request.mac.size()));
  hmac.begin();
  hmac.update(mac_size.data(), mac_size.size());
  hmac.update(request.mac.data(), request.mac.size());
  hmac.update(response.data(), response.size());
  hmac.update_variables(request.key_name_wire, request.algorithm_wire, now, request.fudge, error, other);
  const Hmac::Mac mac = hmac.finish();
  append_tsig_record(response, request.key_name_wire, request.algorithm_wire, now,
                     request.fudge, mac.view(), id, error, other);
}

void TsigSigner::sign_request(std::vector<std::uint8_t>& message, const TsigKey& key,
                              std::uint64_t now) const {
  const Hmac& hmac = *hmacs_[static_cast<std::size_t>(&key - keys_.data())];
  const std::string_view algorithm = algorithm_wire(key.algorithm);
  hmac.begin();
  hmac.update(message.data(), message.size());
  hmac.update_variables(key.name_wire, algorithm, now, kDefaultFudge, 0, {});
  const Hmac::Mac mac = hmac.finish();
  append_tsig_record(message, key.name_wire, algorithm, now, kDefaultFudge, mac.view(),
                     wire::load_u16(message.data()), 0, {});
}

}  // namespace signpost::health
