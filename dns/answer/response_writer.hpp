// Builds a response in place: header, echoed question, whole RRsets per section, OPT.
//
// Design. Records come pre-encoded from the snapshot (everything after the owner), so
// writing one is an owner plus one memcpy. Owners are compressed against names already
// in the message: the question name sits uncompressed at offset 12, so an owner equal to
// the question (the common case) is the two octets C0 0C, and any owner sharing a suffix
// with it (the zone apex, SRV targets' nodes) is its leading labels plus a pointer. Names
// written out in full are remembered in a small fixed table so that later owners can point
// at them too. The one record whose RDATA is rewritten is the SOA: its MNAME and RNAME,
// which in negative answers end in the apex like the question, go through the same
// compression (24 octets fewer for a typical zone). Counts are raised only once a whole
// RRset fits; a set that does not fit is rolled back, so the message never carries a
// partial RRset (RFC 2181 §9). Room for the OPT record is held back from the start, so the
// EDNS answer always fits.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dns/answer/query.hpp"
#include "dns/wire/writer.hpp"
#include "dns/wire/rrset.hpp"

namespace signpost::dns::answer {

/// The three record sections of a response (RFC 1035 §4.1).
enum class Section : std::uint8_t { answer = 0, authority = 1, additional = 2 };

/// An owner name to write: a lower-case wire name, and once known, where it already stands
/// in full in the message (0 = not yet).
struct Owner {
  std::string_view key;
  std::uint16_t offset = 0;
};

/// Writes one response into a caller buffer. Per query, on the stack; noexcept; no
/// allocation.
class ResponseWriter {
 public:
  /// Starts a response to `query`, limited to `limit` octets. Writes the question when the
  /// query had one that parsed, and holds back room for OPT when it had EDNS.
  ResponseWriter(std::span<std::uint8_t> out, std::size_t limit, const Query& query) noexcept;

  /// Appends every record of `rrset` in stored order, owned by `owner`. All or nothing:
  /// false (and nothing written) when they do not all fit.
  bool put_rrset(Section section, Owner& owner, const wire::RRset& rrset) noexcept;

  /// Appends the records of `rrset` in the order given by `order` (indexes into rrset).
  bool put_records(Section section, Owner& owner, const wire::RRset& rrset,
                   std::span<const std::uint16_t> order) noexcept;

  /// Appends one pre-encoded record (type, class, TTL, RDLENGTH, RDATA), owned by `owner`.
  /// False (and nothing written) when it does not fit.
  bool put_record(Section section, Owner& owner, std::span<const std::uint8_t> record) noexcept {
    return put_each(section, owner, 1, [record](std::size_t) { return record; });
  }

  /// Appends `count` pre-encoded records, record i being `record_at(i)`, all owned by
  /// `owner`. All or nothing, as put_rrset.
  template <typename RecordAt>
  bool put_each(Section section, Owner& owner, std::size_t count, RecordAt&& record_at) noexcept;

  /// Appends `count` records whose RDATA is a name one label under the owner's (DNS-SD
  /// browse PTRs, RFC 6763 §4.1), each pre-encoded with only that label as its RDATA: it
  /// goes out as the label and a pointer to the owner (PTR is a well-known type whose RDATA
  /// may be compressed, RFC 3597 §4). All or nothing, as put_each.
  template <typename RecordAt>
  bool put_children(Section section, Owner& owner, std::size_t count, RecordAt&& record_at) noexcept;

  /// Appends the SOA `rrset` (one record) with its TTL replaced by `ttl`, its MNAME and
  /// RNAME compressed against the names already in the message (RFC 1035 §3.3.13, §4.1.4;
  /// SOA is a well-known type whose RDATA names may be compressed, RFC 3597 §4). All or
  /// nothing.
  bool put_soa(Section section, Owner& owner, const wire::RRset& rrset, std::uint32_t ttl) noexcept;

  /// Offset where the RDATA of the last record written starts.
  std::size_t last_rdata_offset() const noexcept { return last_rdata_offset_; }

  /// Octets still free for records (room for OPT already held back).
  std::size_t room() const noexcept { return writer_.room(); }

  /// Adds an Extended DNS Error (RFC 8914) to the OPT record: INFO-CODE `code` and
  /// EXTRA-TEXT `text` followed by `detail`. Only with EDNS and when it fits.
  void set_extended_error(std::uint16_t code, std::string_view text, std::string_view detail) noexcept;

  /// Sets the SCOPE PREFIX-LENGTH of the ECS option echoed to a query that carried one
  /// (RFC 7871 §7.2.1): how many leading bits of the client's address the answer depends
  /// on. It stays 0 (the answer suits every client) unless set. Its room was held back.
  void set_client_subnet_scope(std::uint8_t scope) noexcept { subnet_scope_ = scope; }
  /// Adds a COOKIE option (RFC 7873 §4) with data `cookie` (at most kMaxCookie octets) to the
  /// OPT record, holding back its room now so that records that follow cannot take it: call
  /// it before any record. Only with EDNS and when it fits; false when it did not.
  bool set_cookie(std::span<const std::uint8_t> cookie) noexcept;

  std::uint16_t count(Section section) const noexcept {
    return counts_[static_cast<std::size_t>(section)];
  }

  /// Closes the message: OPT (when the query had EDNS) and the header with `flags` and
  /// `rcode` (extended bits go into OPT, RFC 6891 §6.1.3). Returns the message length.
  std::size_t finish(std::uint16_t flags, std::uint16_t rcode, std::uint16_t udp_payload) noexcept;

 private:
  bool put_owner(Owner& owner) noexcept;
  // Appends `count` records to `section`, each its owner then what `write_rest(i)` writes
  // after it (false: it did not fit). All or nothing: on failure the message, the names
  // for compression and `owner` are as they were.
  template <typename WriteRest>
  bool put_all(Section section, Owner& owner, std::size_t count, WriteRest&& write_rest) noexcept;
  bool put_soa_rdata(std::span<const std::uint8_t> rdata) noexcept;
  bool put_name(std::string_view key, std::uint16_t& written_at) noexcept;
  std::uint16_t find_name(std::string_view key) const noexcept;
  void remember(std::string_view key, std::size_t offset) noexcept;

  static constexpr std::size_t kOptSize = 11;
  static constexpr std::size_t kNameSlots = 24;

  wire::Writer writer_;
  const Query& query_;
  std::array<std::uint16_t, 3> counts_{};
  std::size_t last_rdata_offset_ = 0;
  std::size_t reserved_ = 0;
  static constexpr std::size_t kMaxErrorText = 96;
  std::array<char, kMaxErrorText> error_text_;  // the first error_text_length_ are set
  std::size_t error_text_length_ = 0;
  std::uint16_t error_code_ = 0;
  bool has_error_ = false;
  std::uint8_t subnet_scope_ = 0;
  static constexpr std::size_t kMaxCookie = 40;  // RFC 7873 §4
  std::array<std::uint8_t, kMaxCookie> cookie_;   // the first cookie_length_ are set
  std::size_t cookie_length_ = 0;
  // A name written in full (its wire octets, as compared) and where it stands. Plain
  // fields, so the table needs no initialization per message; only the first name_count_
  // are read.
  struct NameSlot {
    const char* key;
    std::uint16_t size;
    std::uint16_t offset;
  };
  std::array<NameSlot, kNameSlots> names_;
  std::size_t name_count_ = 0;
};

template <typename WriteRest>
bool ResponseWriter::put_all(Section section, Owner& owner, std::size_t count,
                             WriteRest&& write_rest) noexcept {
  if (count == 0) return true;  // an empty set (a node without AAAA) costs nothing
  const std::size_t mark = writer_.size();
  const std::size_t names = name_count_;
  const Owner saved = owner;
  for (std::size_t i = 0; i < count; ++i) {
    if (!put_owner(owner) || !write_rest(i)) {
      writer_.rewind(mark);
      name_count_ = names;
      owner = saved;
      return false;
    }
  }
  counts_[static_cast<std::size_t>(section)] += static_cast<std::uint16_t>(count);
  return true;
}

template <typename RecordAt>
bool ResponseWriter::put_each(Section section, Owner& owner, std::size_t count,
                              RecordAt&& record_at) noexcept {
  return put_all(section, owner, count, [&](std::size_t i) {
    const std::span<const std::uint8_t> record = record_at(i);
    if (!writer_.put_bytes(record)) return false;
    last_rdata_offset_ = writer_.size() - record.size() + 10;
    return true;
  });
}

template <typename RecordAt>
bool ResponseWriter::put_children(Section section, Owner& owner, std::size_t count,
                                  RecordAt&& record_at) noexcept {
  return put_all(section, owner, count, [&](std::size_t i) {
    const std::span<const std::uint8_t> record = record_at(i);
    const std::span<const std::uint8_t> label = record.subspan(10, 1 + std::size_t{record[10]});
    if (!writer_.put_bytes(record.first(8)) ||
        !writer_.put_u16(static_cast<std::uint16_t>(label.size() + 2)) ||
        !writer_.put_bytes(label) || !writer_.put_u16(static_cast<std::uint16_t>(0xC000 | owner.offset))) {
      return false;
    }
    last_rdata_offset_ = writer_.size() - label.size() - 2;
    return true;
  });
}

}  // namespace signpost::dns::answer
