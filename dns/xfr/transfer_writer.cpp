// Zone transfer responses.
#include "dns/xfr/transfer_writer.hpp"

#include <algorithm>

#include "dns/wire/message.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::xfr {

namespace {

// Where compression pointers reach (see the header).
constexpr std::size_t kMessageSize = 0x4000;

std::vector<std::uint8_t> header_and_question(const TransferRequest& request, std::uint16_t rcode,
                                              bool with_question) {
  std::vector<std::uint8_t> message(wire::kHeaderSize);
  wire::Header header;
  header.id = request.id;
  // Opcode and RD copied; AA for data of our own zones (RFC 1035 §4.1.1).
  header.flags = static_cast<std::uint16_t>(wire::flag::kQr | (request.flags & (0x7800 | wire::flag::kRd)) |
                                            (rcode == wire::rcode::kNoError ? wire::flag::kAa : 0) |
                                            (rcode & 0x0f));
  header.qdcount = with_question ? 1 : 0;
  wire::encode_header(message.data(), header);
  if (with_question) {
    const auto name = request.qname.wire();
    message.insert(message.end(), name.begin(), name.end());
    const std::uint8_t fixed[4] = {static_cast<std::uint8_t>(request.qtype >> 8),
                                   static_cast<std::uint8_t>(request.qtype),
                                   static_cast<std::uint8_t>(request.qclass >> 8),
                                   static_cast<std::uint8_t>(request.qclass)};
    message.insert(message.end(), fixed, fixed + 4);
  }
  return message;
}

}  // namespace

std::vector<std::uint8_t> error_response(const TransferRequest& request, std::uint16_t rcode,
                                         bool with_question) {
  return header_and_question(request, rcode, with_question);
}

TransferWriter::TransferWriter(const TransferRequest& request, std::size_t reserve, Sink sink)
    : request_(request), limit_(kMessageSize - reserve), sink_(std::move(sink)) {
  start_message();
}

void TransferWriter::start_message() {
  message_ = header_and_question(request_, wire::rcode::kNoError, messages_ == 0);
  suffixes_.clear();
  answers_ = 0;
  if (messages_ != 0) return;
  // The question's name: the zone's apex, the suffix of every owner.
  const auto qname = request_.qname.wire();
  const std::string_view name(reinterpret_cast<const char*>(qname.data()), qname.size());
  for (std::size_t at = 0; at < name.size() && name[at] != 0; at += 1 + std::size_t(std::uint8_t(name[at]))) {
    suffixes_.emplace(name.substr(at), static_cast<std::uint16_t>(wire::kHeaderSize + at));
  }
}

void TransferWriter::write_name(std::string_view name) {
  std::size_t at = 0;
  while (at < name.size() && name[at] != 0) {
    const std::string_view suffix = name.substr(at);
    const auto found = suffixes_.find(suffix);
    if (found != suffixes_.end()) {
      message_.push_back(static_cast<std::uint8_t>(0xc0 | (found->second >> 8)));
      message_.push_back(static_cast<std::uint8_t>(found->second));
      return;
    }
    if (message_.size() < kMessageSize) suffixes_.emplace(suffix, static_cast<std::uint16_t>(message_.size()));
    const std::size_t label_end = at + 1 + std::size_t(std::uint8_t(name[at]));
    message_.insert(message_.end(), name.begin() + static_cast<std::ptrdiff_t>(at),
                    name.begin() + static_cast<std::ptrdiff_t>(label_end));
    at = label_end;
  }
  message_.push_back(0);
}

void TransferWriter::add(std::string_view record) {
  // A full message, or one at the ANCOUNT limit, goes out first. A record alone always
  // fits: an RR is at most 255 + 10 + 65,535 octets only in theory; ours are far smaller.
  // Its compressed size is at most its size.
  if (answers_ != 0 && (message_.size() + record.size() > limit_ || answers_ == 0xffff)) flush();
  std::size_t owner_size = 0;
  while (owner_size < record.size() && record[owner_size] != 0) {
    owner_size += 1 + std::size_t(std::uint8_t(record[owner_size]));
  }
  ++owner_size;  // the root label
  write_name(record.substr(0, owner_size));
  const std::string_view rest = record.substr(std::min(owner_size, record.size()));
  if (!write_name_rdata(rest)) message_.insert(message_.end(), rest.begin(), rest.end());
  ++answers_;
}

// NS, CNAME and PTR: RDATA that is one name, of RFC 1035's types, so it may be compressed
// (RFC 3597 §4); the DNS-SD PTRs are a sixth of a registry zone's records. `rest` is the
// record after its owner: type, class, TTL, RDLENGTH, RDATA. False, writing nothing, for any
// other record.
bool TransferWriter::write_name_rdata(std::string_view rest) {
  if (rest.size() < 10) return false;
  const auto* fixed = reinterpret_cast<const std::uint8_t*>(rest.data());
  const std::uint16_t type = wire::load_u16(fixed);
  if (type != wire::rrtype::kNs && type != wire::rrtype::kCname && type != wire::rrtype::kPtr) {
    return false;
  }
  const std::string_view rdata = rest.substr(10);
  std::size_t name_size = 0;
  while (name_size < rdata.size() && rdata[name_size] != 0) {
    name_size += 1 + std::size_t(std::uint8_t(rdata[name_size]));
  }
  if (name_size + 1 != rdata.size() || wire::load_u16(fixed + 8) != rdata.size()) return false;
  message_.insert(message_.end(), rest.begin(), rest.begin() + 8);  // type, class, TTL
  const std::size_t rdlength_at = message_.size();
  message_.resize(message_.size() + 2);
  write_name(rdata);
  wire::store_u16(message_.data() + rdlength_at,
                  static_cast<std::uint16_t>(message_.size() - rdlength_at - 2));
  return true;
}

void TransferWriter::flush() {
  wire::store_u16(message_.data() + 6, answers_);  // ANCOUNT
  ++messages_;
  sink_(message_);
  start_message();
}

void TransferWriter::finish() {
  if (answers_ != 0 || messages_ == 0) flush();
}

}  // namespace signpost::dns::xfr
