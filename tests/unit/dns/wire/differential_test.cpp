// Differential test: dns/wire and ldns must read the same messages the same way.
//
// Messages come from a seeded generator: valid queries and responses built with ldns
// (compressed names, EDNS, many record types) and then damaged by bit flips, truncation,
// inserted and deleted octets, planted compression pointers and wrong counts, plus
// structured random messages and plain random octets. Each message is read by our code
// (parse_header, parse_question per question, parse_record per record, parse_opt for OPT
// in the additional section, no octets left over) and by ldns_wire2pkt. Both must accept
// or both reject, and what both accept must read the same: id, flags, counts, questions,
// and each record's owner, type, class, TTL and RDATA.
//
// The two libraries follow different policies in a few places. Each such case is
// classified as exactly one Outcome below, with the reason beside it; anything else is
// a mismatch and fails the test.
#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <cstdio>
#include <string>
#include <vector>

#include "dns/wire/message.hpp"
#include "dns/wire/name.hpp"
#include "tests/unit/dns/wire/message_generator.hpp"

namespace signpost::dns::wire {
namespace {

using namespace signpost::testing::messages;

enum class Outcome {
  agree_accept,
  agree_reject,
  // ldns reads RDATA field by field for the types it knows (an A is 4 octets, an MX a
  // preference and a name that may be compressed, ...) and then carries on from wherever
  // that walk ended, which need not be RDLENGTH. Our parser treats RDATA as opaque
  // octets bounded by RDLENGTH. Once ldns's walk of some record fails or ends elsewhere,
  // everything it reads afterwards is a different message: the whole-message comparison
  // stops there (records before it must agree), and every later name is still read
  // again on its own at the offset our parser found (reread_each).
  rdata_walk,
  // ldns_wire2dname refuses a pointer to offset 0 (the header). Our parser accepts any
  // pointer that points backwards, and reads the header octets as labels like ldns does
  // for pointers to offsets 1..11.
  pointer_to_zero,
  // Our parser refuses pointers that do not point strictly backwards (RFC 9267 §2); ldns
  // follows forward pointers and only stops loops by counting hops.
  forward_pointer,
  // Octets after the last counted record: we refuse them (FORMERR), ldns ignores them.
  trailing_data,
  // Our parse_opt refuses an OPT record whose owner is not the root or whose options
  // overrun its RDATA (RFC 6891 §6.1.2); ldns 1.8.3 keeps OPT RDATA opaque.
  opt_record,
  // ldns lowers the additional count it loops against each time it meets a TSIG, so it
  // never reads that many records at the end of the section; our parser reads them all.
  after_tsig,
  mismatch,
};

constexpr const char* kOutcomeNames[] = {"agree_accept",    "agree_reject",  "rdata_walk",
                                         "pointer_to_zero", "forward_pointer", "trailing_data",
                                         "opt_record",      "after_tsig",    "mismatch"};

// ---- our side ----

struct OurQuestion {
  Name name;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  std::size_t offset = 0;
  std::size_t name_end = 0;
};

struct OurRecord {
  std::size_t section = 0;  // 0 answer, 1 authority, 2 additional
  RecordView view;
  Name owner;
  Edns edns;
};

enum class Stage { none, header, question, record, opt, trailing, overrun };

struct OurParse {
  Stage failed = Stage::none;
  std::size_t failed_offset = 0;  // where the question or record we refused starts
  NameError name_error = NameError::ok;
  Header header;
  std::vector<OurQuestion> questions;
  std::vector<OurRecord> records;
  bool accepted() const { return failed == Stage::none; }
};

OurParse parse_ours(const Bytes& m) {
  OurParse out;
  if (!parse_header(m, out.header)) {
    out.failed = Stage::header;
    return out;
  }
  std::size_t position = kHeaderSize;
  for (std::size_t i = 0; i < out.header.qdcount; ++i) {
    OurQuestion q;
    q.offset = position;
    if (parse_question(m, position, q.name, q.qtype, q.qclass, out.name_error) != MessageError::ok) {
      out.failed = Stage::question;
      out.failed_offset = q.offset;
      return out;
    }
    q.name_end = position - 4;
    out.questions.push_back(q);
  }
  const std::size_t an = out.header.ancount;
  const std::size_t ns = out.header.nscount;
  for (std::size_t i = 0; i < an + ns + out.header.arcount; ++i) {
    OurRecord r;
    r.section = i < an ? 0 : i < an + ns ? 1 : 2;
    const std::size_t start = position;
    if (parse_record(m, position, r.view, out.name_error) != MessageError::ok) {
      out.failed = Stage::record;
      out.failed_offset = start;
      return out;
    }
    std::size_t owner_position = r.view.owner_offset;
    parse_name(m, owner_position, r.owner, false);  // parse_record has validated it
    if (r.section == 2 && r.view.type == rrtype::kOpt &&
        parse_opt(m, r.view, r.edns) != MessageError::ok) {
      out.failed = Stage::opt;
      return out;
    }
    out.records.push_back(r);
  }
  if (position < m.size()) out.failed = Stage::trailing;
  if (position > m.size()) out.failed = Stage::overrun;  // a bug: read past the end
  return out;
}

// ---- ldns side ----

// How many records (answer, authority, additional together) ldns_wire2pkt reads, given
// the types our parser found: its additional loop runs `for (i = 0; i < arcount; i++)`
// and decrements arcount at every TSIG.
std::size_t ldns_read_range(const OurParse& ours) {
  const std::size_t first_additional = std::size_t{ours.header.ancount} + ours.header.nscount;
  std::size_t limit = first_additional + ours.header.arcount;
  std::size_t i = first_additional;
  while (i < limit) {
    // Past the records we read, the types are unknown; ldns reads at least this far.
    if (i >= ours.records.size()) return limit;
    if (ours.records[i].view.type == rrtype::kTsig) --limit;
    ++i;
  }
  return i;
}

// Whether ldns's field-by-field RDATA walk of `record` ends exactly at RDLENGTH.
bool ldns_walk_aligned(const Bytes& m, const RecordView& record) {
  const RrPtr rr(ldns_rr_new());
  ldns_rr_set_type(rr.get(), static_cast<ldns_rr_type>(record.type));
  std::size_t position = record.rdata_offset - 2;  // ldns_wire2rdf starts at RDLENGTH
  const ldns_status status = ldns_wire2rdf(rr.get(), m.data(), m.size(), &position);
  return status == LDNS_STATUS_OK && position == record.rdata_offset + record.rdlength;
}

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

std::size_t first_divergence(const Bytes& m, const OurParse& ours, std::size_t range) {
  for (std::size_t i = 0; i < ours.records.size() && i < range; ++i) {
    if (!ldns_walk_aligned(m, ours.records[i].view)) return i;
  }
  return kNone;
}

std::string_view rdf_bytes(const ldns_rdf* rdf) {
  return {reinterpret_cast<const char*>(ldns_rdf_data(rdf)), ldns_rdf_size(rdf)};
}

bool uses_pointer_to_zero(const Bytes& m, std::size_t position) {
  // Only called on names our parser accepted, so the walk ends.
  for (;;) {
    const std::uint8_t octet = m[position];
    if ((octet & 0xC0) == 0xC0) {
      position = static_cast<std::size_t>(((octet & 0x3F) << 8) | m[position + 1]);
      if (position == 0) return true;
    } else if (octet == 0) {
      return false;
    } else {
      position += octet + 1u;
    }
  }
}

bool any_pointer_to_zero(const Bytes& m, const OurParse& ours, std::size_t range) {
  for (const OurQuestion& q : ours.questions) {
    if (uses_pointer_to_zero(m, q.offset)) return true;
  }
  for (std::size_t i = 0; i < ours.records.size() && i < range; ++i) {
    if (uses_pointer_to_zero(m, ours.records[i].view.owner_offset)) return true;
  }
  return false;
}

// Reads each name again with ldns_wire2dname at the offset where our parser found it,
// and the item we refused with ldns_wire2rr. This holds even where the whole-message
// comparison stops (rdata_walk, after_tsig), so no record goes unchecked.
std::string reread_each(const Bytes& m, const OurParse& ours) {
  auto check_name = [&m](std::size_t offset, std::size_t end, std::string_view mine) -> std::string {
    ldns_rdf* raw = nullptr;
    std::size_t position = offset;
    const ldns_status status = ldns_wire2dname(&raw, m.data(), m.size(), &position);
    const RdfPtr name(status == LDNS_STATUS_OK ? raw : nullptr);
    if (!name) {
      if (status == LDNS_STATUS_INVALID_POINTER && uses_pointer_to_zero(m, offset)) return "";
      return "ldns refuses the name at " + std::to_string(offset) + ": " + ldns_get_errorstr_by_id(status);
    }
    if (rdf_bytes(name.get()) != mine) return "name at " + std::to_string(offset) + " reads differently";
    if (position != end) return "name at " + std::to_string(offset) + " ends elsewhere in ldns";
    return "";
  };
  for (const OurQuestion& q : ours.questions) {
    const std::string diff = check_name(q.offset, q.name_end, q.name.key());
    if (!diff.empty()) return diff;
  }
  for (const OurRecord& r : ours.records) {
    const std::string diff = check_name(r.view.owner_offset, r.view.rdata_offset - 10, r.owner.key());
    if (!diff.empty()) return diff;
  }
  if (ours.failed != Stage::question && ours.failed != Stage::record) return "";
  if (ours.name_error == NameError::forward_pointer) return "";  // ldns follows those
  ldns_rr* raw = nullptr;
  std::size_t position = ours.failed_offset;
  const ldns_pkt_section section = ours.failed == Stage::question ? LDNS_SECTION_QUESTION : LDNS_SECTION_ANSWER;
  const ldns_status status = ldns_wire2rr(&raw, m.data(), m.size(), &position, section);
  const RrPtr rr(status == LDNS_STATUS_OK ? raw : nullptr);
  if (rr) return "ldns reads the item we refuse at " + std::to_string(ours.failed_offset);
  return "";
}

// ---- comparing what both accepted ----

std::uint16_t ldns_flags(const ldns_pkt* p) {
  unsigned f = static_cast<unsigned>(ldns_pkt_get_opcode(p) & 0x0F) << 11;
  f |= ldns_pkt_qr(p) ? flag::kQr : 0u;
  f |= ldns_pkt_aa(p) ? flag::kAa : 0u;
  f |= ldns_pkt_tc(p) ? flag::kTc : 0u;
  f |= ldns_pkt_rd(p) ? flag::kRd : 0u;
  f |= ldns_pkt_ra(p) ? flag::kRa : 0u;
  f |= ldns_pkt_ad(p) ? flag::kAd : 0u;
  f |= ldns_pkt_cd(p) ? flag::kCd : 0u;
  f |= ldns_pkt_get_rcode(p) & 0x0Fu;
  return static_cast<std::uint16_t>(f);
}

bool has_name_field(const ldns_rr* rr) {
  for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    if (ldns_rdf_get_type(ldns_rr_rdf(rr, i)) == LDNS_RDF_TYPE_DNAME) return true;
  }
  return false;
}

std::string compare_record(const Bytes& m, const OurRecord& ours, const ldns_rr* rr) {
  if (rdf_bytes(ldns_rr_owner(rr)) != ours.owner.key()) return "owner differs";
  if (ldns_rr_get_type(rr) != ours.view.type) return "type differs";
  if (ldns_rr_get_class(rr) != ours.view.rrclass) return "class differs";
  if (ldns_rr_ttl(rr) != ours.view.ttl) return "ttl differs";
  // ldns expands compressed names inside RDATA, so octets are compared only without them;
  // RDLENGTH itself is checked by the aligned walk.
  if (has_name_field(rr)) return "";
  const BufferPtr buffer(ldns_buffer_new(256));
  if (ldns_rr_rdata2buffer_wire(buffer.get(), rr) != LDNS_STATUS_OK) return "ldns cannot encode rdata";
  const Bytes theirs(ldns_buffer_begin(buffer.get()),
                     ldns_buffer_begin(buffer.get()) + ldns_buffer_position(buffer.get()));
  const auto start = m.begin() + static_cast<std::ptrdiff_t>(ours.view.rdata_offset);
  if (theirs != Bytes(start, start + ours.view.rdlength)) return "rdata differs";
  return "";
}

// The records of one section that ldns keeps in its list (it moves OPT and TSIG out of
// the additional section), limited to the first `upto` records of the message.
std::vector<const OurRecord*> listed(const OurParse& ours, std::size_t section, std::size_t upto) {
  std::vector<const OurRecord*> out;
  for (std::size_t i = 0; i < ours.records.size() && i < upto; ++i) {
    const OurRecord& r = ours.records[i];
    if (r.section != section) continue;
    if (section == 2 && (r.view.type == rrtype::kOpt || r.view.type == rrtype::kTsig)) continue;
    out.push_back(&r);
  }
  return out;
}

std::string compare_sections(const Bytes& m, const OurParse& ours, const ldns_pkt* p,
                             std::size_t upto, bool complete) {
  const ldns_rr_list* lists[] = {ldns_pkt_answer(p), ldns_pkt_authority(p), ldns_pkt_additional(p)};
  for (std::size_t s = 0; s < 3; ++s) {
    const auto mine = listed(ours, s, upto);
    const std::size_t theirs = ldns_rr_list_rr_count(lists[s]);
    if (complete ? theirs != mine.size() : theirs < mine.size()) {
      return "section " + std::to_string(s) + " has " + std::to_string(theirs) + " records in ldns, " +
             std::to_string(mine.size()) + " in ours";
    }
    for (std::size_t i = 0; i < mine.size(); ++i) {
      const std::string diff = compare_record(m, *mine[i], ldns_rr_list_rr(lists[s], i));
      if (!diff.empty()) return "section " + std::to_string(s) + " record " + std::to_string(i) + ": " + diff;
    }
  }
  return "";
}

std::string compare_edns_and_tsig(const OurParse& ours, const ldns_pkt* p, std::size_t range) {
  const OurRecord* opt = nullptr;
  const OurRecord* tsig = nullptr;
  std::size_t moved = 0;  // OPT and TSIG records ldns takes out of the additional count
  for (std::size_t i = 0; i < ours.records.size() && i < range; ++i) {
    const OurRecord& r = ours.records[i];
    if (r.section != 2) continue;
    if (r.view.type == rrtype::kOpt) opt = &r;
    if (r.view.type == rrtype::kTsig) tsig = &r;
    if (r.view.type == rrtype::kOpt || r.view.type == rrtype::kTsig) ++moved;
  }
  if (ldns_pkt_arcount(p) != ours.header.arcount - moved) return "arcount differs";
  if (ldns_pkt_edns(p) != (opt != nullptr)) return "EDNS presence differs";
  if (opt != nullptr) {
    // With several OPT records both sides keep the values of the last one.
    if (ldns_pkt_edns_udp_size(p) != opt->edns.udp_size) return "EDNS udp size differs";
    if (ldns_pkt_edns_extended_rcode(p) != opt->edns.extended_rcode) return "EDNS rcode differs";
    if (ldns_pkt_edns_version(p) != opt->edns.version) return "EDNS version differs";
    if (ldns_pkt_edns_do(p) != opt->edns.dnssec_ok) return "EDNS DO differs";
  }
  if ((ldns_pkt_tsig(p) != nullptr) != (tsig != nullptr)) return "TSIG presence differs";
  if (tsig != nullptr && ldns_rr_ttl(ldns_pkt_tsig(p)) != tsig->view.ttl) return "TSIG differs";
  return "";
}

// Compares header, questions and the first `upto` records; `upto` is kNone when ldns's
// walk stayed aligned throughout, and then everything must match.
std::string compare(const Bytes& m, const OurParse& ours, const ldns_pkt* p, std::size_t range,
                    std::size_t upto) {
  const Header& h = ours.header;
  if (ldns_pkt_id(p) != h.id) return "id differs";
  // ldns has no accessor for the Z bit (0x0040), so it is left out.
  if (ldns_flags(p) != (h.flags & ~0x0040u)) return "flags differ";
  if (ldns_pkt_qdcount(p) != h.qdcount || ldns_pkt_ancount(p) != h.ancount ||
      ldns_pkt_nscount(p) != h.nscount) {
    return "counts differ";
  }
  const ldns_rr_list* questions = ldns_pkt_question(p);
  if (ldns_rr_list_rr_count(questions) != ours.questions.size()) return "question count differs";
  for (std::size_t i = 0; i < ours.questions.size(); ++i) {
    const ldns_rr* q = ldns_rr_list_rr(questions, i);
    const OurQuestion& mine = ours.questions[i];
    // Both keep the letter case as sent, so names must match octet for octet.
    if (rdf_bytes(ldns_rr_owner(q)) != mine.name.key()) return "qname differs";
    if (ldns_rr_get_type(q) != mine.qtype || ldns_rr_get_class(q) != mine.qclass) return "qtype/qclass differ";
  }
  const bool complete = upto == kNone;
  const std::string sections = compare_sections(m, ours, p, complete ? range : upto, complete);
  if (!sections.empty() || !complete) return sections;
  return compare_edns_and_tsig(ours, p, range);
}

// ---- classification ----

struct Verdict {
  Outcome outcome = Outcome::mismatch;
  std::string detail;
};

Verdict classify(const Bytes& m) {
  const OurParse ours = parse_ours(m);
  ldns_pkt* raw = nullptr;
  const ldns_status status = ldns_wire2pkt(&raw, m.data(), m.size());
  const PktPtr theirs(status == LDNS_STATUS_OK ? raw : nullptr);
  const std::size_t range = ldns_read_range(ours);
  const std::size_t divergence = first_divergence(m, ours, range);
  if (ours.failed == Stage::overrun) return {Outcome::mismatch, "our parser read past the end"};
  const std::string reread = reread_each(m, ours);
  if (!reread.empty()) return {Outcome::mismatch, reread};

  if (ours.accepted() && theirs) {
    const std::string diff = compare(m, ours, theirs.get(), range, divergence);
    if (!diff.empty()) return {Outcome::mismatch, diff};
    return {divergence == kNone ? Outcome::agree_accept : Outcome::rdata_walk, ""};
  }
  if (!ours.accepted() && !theirs) return {Outcome::agree_reject, ""};
  const std::string ldns_said = ldns_get_errorstr_by_id(status);
  if (ours.accepted()) {
    if (divergence != kNone) return {Outcome::rdata_walk, ""};
    if (status == LDNS_STATUS_INVALID_POINTER && any_pointer_to_zero(m, ours, range)) {
      return {Outcome::pointer_to_zero, ""};
    }
    return {Outcome::mismatch, "only ldns rejects: " + ldns_said};
  }
  // Only we reject. Our failure is at record `failed_at` (questions come before all).
  const std::size_t failed_at = ours.failed == Stage::question ? 0 : ours.records.size();
  if (divergence != kNone && divergence < failed_at) return {Outcome::rdata_walk, ""};
  if (ours.name_error == NameError::forward_pointer) return {Outcome::forward_pointer, ""};
  if (ours.failed == Stage::trailing) return {Outcome::trailing_data, ""};
  if (ours.failed == Stage::opt) return {Outcome::opt_record, ""};
  if (ours.failed == Stage::record && failed_at >= range) return {Outcome::after_tsig, ""};
  return {Outcome::mismatch, "only we reject, stage " + std::to_string(static_cast<int>(ours.failed)) +
                                 " name error " + std::to_string(static_cast<int>(ours.name_error))};
}

// ---- tests ----

struct Tally {
  std::size_t counts[std::size(kOutcomeNames)] = {};
  int reported = 0;

  void check(const Bytes& m) {
    const Verdict verdict = classify(m);
    ++counts[static_cast<std::size_t>(verdict.outcome)];
    if (verdict.outcome == Outcome::mismatch && reported++ < 10) {
      ADD_FAILURE() << verdict.detail << "\n  message: " << hex(m);
    }
  }
  std::size_t operator[](Outcome o) const { return counts[static_cast<std::size_t>(o)]; }
};

TEST(DifferentialTest, SeedsReadTheSame) {
  for (const Bytes& seed : make_seeds()) {
    const Verdict verdict = classify(seed);
    EXPECT_EQ(verdict.outcome, Outcome::agree_accept) << verdict.detail << "\n  " << hex(seed);
  }
}

// Each exemption, shown on a message made by hand, and nothing broader.
TEST(DifferentialTest, ExemptionsAreRecognised) {
  const std::string question = "0161 00 0001 0001";  // a./A/IN at offset 12
  const std::string tsig =
      "036b657900 00fa 00ff 00000000 001a 04686d616300 000065000000 012c 0004 01020304 7777 0000 0000";
  const struct {
    const char* what;
    std::string hex;
    Outcome expected;
  } cases[] = {
      {"valid query", "0001 0000 0001 0000 0000 0000" + question, Outcome::agree_accept},
      {"short header", "0001 0000 0001", Outcome::agree_reject},
      {"forward pointer", "0001 0000 0002 0000 0000 0000 c012 0001 0001 0162 00 0001 0001",
       Outcome::forward_pointer},
      {"trailing octets", "0001 0000 0001 0000 0000 0000" + question + "ffff", Outcome::trailing_data},
      {"OPT owned by a.", "0001 0000 0001 0000 0000 0001" + question + "c00c 0029 1000 00000000 0000",
       Outcome::opt_record},
      {"OPT option overruns", "0001 0000 0001 0000 0000 0001" + question + "00 0029 1000 00000000 0003 000a00",
       Outcome::opt_record},
      {"pointer to offset 0", "0000 0000 0001 0000 0000 0000 c000 0001 0001", Outcome::pointer_to_zero},
      {"A of 6 octets, then a record",
       "0001 8000 0001 0002 0000 0000" + question + "c00c 0001 0001 00000005 0006 010203040506" +
           "c00c 0001 0001 00000005 0004 01020304",
       Outcome::rdata_walk},
      {"A of 6 octets, last", "0001 8000 0001 0001 0000 0000" + question + "c00c 0001 0001 00000005 0006 010203040506",
       Outcome::rdata_walk},
      {"MX with octets after its exchange",
       "0001 8000 0001 0001 0000 0000" + question + "c00c 000f 0001 00000005 0005 000a 00 ffff",
       Outcome::rdata_walk},
      {"truncated record after TSIG", "0001 0000 0001 0000 0000 0002" + question + tsig + "c00c 0001",
       Outcome::after_tsig},
      {"TSIG last", "0001 0000 0001 0000 0000 0001" + question + tsig, Outcome::agree_accept},
  };
  for (const auto& c : cases) {
    const Verdict verdict = classify(from_hex(c.hex));
    EXPECT_EQ(kOutcomeNames[static_cast<std::size_t>(verdict.outcome)],
              std::string(kOutcomeNames[static_cast<std::size_t>(c.expected)]))
        << c.what << ": " << verdict.detail;
  }
}

// Every prefix of every seed, and every octet of every seed set to boundary values.
TEST(DifferentialTest, SeedPrefixesAndOctetSweepsReadTheSame) {
  static constexpr std::uint8_t kValues[] = {0, 1, 2, 12, 63, 64, 0x7F, 0x80, 0xBF, 0xC0, 0xFF};
  Tally tally;
  for (const Bytes& seed : make_seeds()) {
    for (std::size_t length = 0; length <= seed.size(); ++length) {
      tally.check(Bytes(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(length)));
    }
    for (std::size_t at = 0; at < seed.size(); ++at) {
      for (const std::uint8_t value : kValues) {
        Bytes m = seed;
        m[at] = value;
        tally.check(m);
      }
    }
  }
  EXPECT_EQ(tally[Outcome::mismatch], 0u);
}

TEST(DifferentialTest, RandomAndMutatedMessagesReadTheSame) {
  Rng rng(0x51676E70);
  const std::vector<Bytes> seeds = make_seeds();
  Tally tally;
  for (int i = 0; i < 60000; ++i) {
    Bytes m = seeds[rng.below(seeds.size())];
    for (std::size_t n = 1 + rng.below(3); n > 0; --n) mutate(m, rng);
    tally.check(m);
  }
  for (int i = 0; i < 40000; ++i) {
    Bytes m = random_structured(rng);
    if (rng.chance(30)) mutate(m, rng);
    tally.check(m);
  }
  for (int i = 0; i < 10000; ++i) tally.check(random_octets(rng));

  std::string summary;
  for (std::size_t o = 0; o < std::size(kOutcomeNames); ++o) {
    summary += std::string(" ") + kOutcomeNames[o] + "=" + std::to_string(tally.counts[o]);
    ::testing::Test::RecordProperty(kOutcomeNames[o], std::to_string(tally.counts[o]));
  }
  std::printf("outcomes:%s\n", summary.c_str());
  EXPECT_EQ(tally[Outcome::mismatch], 0u);
  // The generator must keep exercising both verdicts, or the test proves little.
  EXPECT_GT(tally[Outcome::agree_accept], 10000u);
  EXPECT_GT(tally[Outcome::agree_reject], 10000u);
}

}  // namespace
}  // namespace signpost::dns::wire
