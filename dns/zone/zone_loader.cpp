// Loads RFC 1035 master files with ldns into pre-encoded zones.
#include "dns/zone/zone_loader.hpp"

#include <ldns/ldns.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <string_view>
#include <system_error>

#include "dns/wire/name.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::zone {

namespace {

namespace fs = std::filesystem;

// TTL of records that give none when the file has no $TTL either (RFC 2308 §4 makes
// $TTL the rule; this is the fallback for older files).
constexpr std::uint32_t kDefaultTtl = 3600;
constexpr std::string_view kZoneSuffix = ".zone";

struct FileCloser {
  void operator()(std::FILE* file) const noexcept { std::fclose(file); }
};
struct RrFree {
  void operator()(ldns_rr* rr) const noexcept { ldns_rr_free(rr); }
};
struct BufferFree {
  void operator()(ldns_buffer* buffer) const noexcept { ldns_buffer_free(buffer); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;
using RrPtr = std::unique_ptr<ldns_rr, RrFree>;
using BufferPtr = std::unique_ptr<ldns_buffer, BufferFree>;

std::string_view rdf_wire(const ldns_rdf* rdf) {
  return {reinterpret_cast<const char*>(ldns_rdf_data(rdf)), ldns_rdf_size(rdf)};
}

std::string lower(std::string_view wire_name) {
  std::string out(wire_name);
  wire::fold_name({reinterpret_cast<std::uint8_t*>(out.data()), out.size()});
  return out;
}

std::string class_text(ldns_rr_class rrclass) {
  char* text = ldns_rr_class2str(rrclass);
  std::string out = text != nullptr ? text : "CLASS" + std::to_string(rrclass);
  std::free(text);
  return out;
}

// The origin a file gets when it has no $ORIGIN: its name without ".zone", made absolute.
// Null when that is not a valid domain name.
ldns_rdf* origin_from_file_name(const std::string& path) {
  std::string stem = fs::path(path).filename().string();
  if (stem.size() > kZoneSuffix.size() && stem.ends_with(kZoneSuffix)) {
    stem.resize(stem.size() - kZoneSuffix.size());
  }
  if (!stem.ends_with('.')) stem.push_back('.');
  return ldns_dname_new_frm_str(stem.c_str());
}

std::string read_all(std::FILE* file) {
  std::string text;
  char chunk[4096];
  std::size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof chunk, file)) > 0) text.append(chunk, got);
  return text;
}

// Reads one master file entry by entry. ldns does the RFC 1035 §5 syntax ($ORIGIN,
// $TTL, relative names, parentheses, RFC 3597 \# rdata); this class keeps the state
// ldns threads between entries, numbers lines and feeds records to a ZoneBuilder.
class MasterFileReader {
 public:
  MasterFileReader(const std::string& path, std::FILE* file)
      : path_(path), file_(file), text_(read_all(file)),
        origin_rdf_(origin_from_file_name(path)), rdata_(ldns_buffer_new(512)) {
    std::rewind(file_);
  }
  MasterFileReader(const MasterFileReader&) = delete;
  MasterFileReader& operator=(const MasterFileReader&) = delete;
  ~MasterFileReader() {
    if (origin_rdf_ != nullptr) ldns_rdf_deep_free(origin_rdf_);
    if (previous_owner_ != nullptr) ldns_rdf_deep_free(previous_owner_);
  }

  std::shared_ptr<const Zone> read();

 private:
  [[noreturn]] void fail(std::size_t line, const std::string& reason) const {
    throw ZoneError(path_ + ":" + std::to_string(line) + ": " + reason);
  }
  std::size_t next_entry(std::size_t offset) const;
  std::size_t line_of(std::size_t offset);
  void start_zone(std::size_t line);
  void add_record(const ldns_rr* rr, std::size_t line);
  std::span<const std::uint8_t> encode_rdata(const ldns_rr* rr, std::size_t line);

  std::string path_;
  std::FILE* file_;
  std::string text_;
  // State ldns carries from one entry to the next; it replaces (and frees) these.
  ldns_rdf* origin_rdf_ = nullptr;
  ldns_rdf* previous_owner_ = nullptr;
  std::uint32_t default_ttl_ = kDefaultTtl;
  // Line numbering: newlines counted in text_[0, counted_to_).
  std::size_t counted_to_ = 0;
  std::size_t newlines_ = 0;
  BufferPtr rdata_;
  std::string origin_;  // lower-case wire form, set by the first record
  std::unique_ptr<ZoneBuilder> builder_;
};

// Where the next entry starts at or after `offset`: blanks and ";" comments skipped.
// Returns text_.size() when only blanks and comments remain.
std::size_t MasterFileReader::next_entry(std::size_t offset) const {
  while (offset < text_.size()) {
    const char c = text_[offset];
    if (c == ';') {
      const std::size_t eol = text_.find('\n', offset);
      offset = eol == std::string::npos ? text_.size() : eol + 1;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++offset;
    } else {
      break;
    }
  }
  return offset;
}

// The 1-based line of `offset`; offsets only grow, so counting is incremental.
std::size_t MasterFileReader::line_of(std::size_t offset) {
  newlines_ += static_cast<std::size_t>(
      std::count(text_.begin() + static_cast<std::ptrdiff_t>(counted_to_),
                 text_.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
  counted_to_ = offset;
  return newlines_ + 1;
}

std::shared_ptr<const Zone> MasterFileReader::read() {
  for (;;) {
    const long position = std::ftell(file_);
    const std::size_t entry = next_entry(position < 0 ? 0 : static_cast<std::size_t>(position));
    if (entry >= text_.size()) break;
    const std::size_t line = line_of(entry);
    ldns_rr* parsed = nullptr;
    // Lines are numbered here from the file position, which also finds where a
    // multi-line entry starts; ldns's own counter gives where it ends.
    const ldns_status status =
        ldns_rr_new_frm_fp_l(&parsed, file_, &default_ttl_, &origin_rdf_, &previous_owner_, nullptr);
    const RrPtr rr(status == LDNS_STATUS_OK ? parsed : nullptr);
    switch (status) {
      case LDNS_STATUS_OK:
        add_record(rr.get(), line);
        break;
      case LDNS_STATUS_SYNTAX_EMPTY:
      case LDNS_STATUS_SYNTAX_TTL:
      case LDNS_STATUS_SYNTAX_ORIGIN:
        break;
      case LDNS_STATUS_SYNTAX_INCLUDE:
        fail(line, "$INCLUDE is not supported; put each zone in one file");
      default:
        fail(line, ldns_get_errorstr_by_id(status));
    }
    if (std::feof(file_) != 0) break;
  }
  if (!builder_) throw ZoneError(path_ + ": no records; a zone needs an SOA record at its apex");
  try {
    return builder_->build();
  } catch (const ZoneError& e) {
    throw ZoneError(path_ + ": " + e.what());
  }
}

// The zone's origin is the one in force at its first record: a leading $ORIGIN, else the
// file name.
void MasterFileReader::start_zone(std::size_t line) {
  if (origin_rdf_ == nullptr) {
    fail(line, "no $ORIGIN before the first record, and the file name is not a domain name");
  }
  origin_ = lower(rdf_wire(origin_rdf_));
  builder_ = std::make_unique<ZoneBuilder>(origin_);
}

std::span<const std::uint8_t> MasterFileReader::encode_rdata(const ldns_rr* rr, std::size_t line) {
  ldns_buffer_clear(rdata_.get());
  const ldns_status status = ldns_rr_rdata2buffer_wire(rdata_.get(), rr);
  if (status != LDNS_STATUS_OK) fail(line, ldns_get_errorstr_by_id(status));
  return {ldns_buffer_begin(rdata_.get()), ldns_buffer_position(rdata_.get())};
}

void MasterFileReader::add_record(const ldns_rr* rr, std::size_t line) {
  if (!builder_) start_zone(line);
  const std::string owner = lower(rdf_wire(ldns_rr_owner(rr)));
  const std::string owner_text = wire::name_to_text(owner);
  const ldns_rr_class rrclass = ldns_rr_get_class(rr);
  if (rrclass != LDNS_RR_CLASS_IN) {
    fail(line, "record " + owner_text + " has class " + class_text(rrclass) + "; only IN is served");
  }
  if (!wire::is_at_or_below(owner, origin_)) {
    fail(line, "record " + owner_text + " is outside the zone " + wire::name_to_text(origin_));
  }
  const auto type = static_cast<std::uint16_t>(ldns_rr_get_type(rr));
  if (type == wire::rrtype::kSoa && owner != origin_) {
    fail(line, "SOA record at " + owner_text + ", which is not the zone apex " +
                   wire::name_to_text(origin_));
  }
  const auto rdata = encode_rdata(rr, line);
  try {
    builder_->add(owner, type, ldns_rr_ttl(rr), rdata);
  } catch (const ZoneError& e) {
    fail(line, e.what());
  }
}

}  // namespace

std::shared_ptr<const Zone> load_zone_file(const std::string& path) {
  const FilePtr file(std::fopen(path.c_str(), "r"));
  if (!file) throw ZoneError(path + ": cannot open: " + std::strerror(errno));
  MasterFileReader reader(path, file.get());
  return reader.read();
}

std::vector<std::shared_ptr<const Zone>> load_zone_directory(const std::string& directory) {
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    throw ZoneError("zone directory " + directory + " does not exist or is not a directory");
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    const fs::path& path = it->path();
    std::error_code type_error;
    if (path.extension() == kZoneSuffix && it->is_regular_file(type_error)) files.push_back(path);
  }
  if (error) throw ZoneError("cannot read zone directory " + directory + ": " + error.message());
  std::sort(files.begin(), files.end());

  std::vector<std::shared_ptr<const Zone>> zones;
  std::map<std::string, std::string> loaded_from;  // origin -> file
  for (const fs::path& path : files) {
    auto zone = load_zone_file(path.string());
    const auto [it, inserted] = loaded_from.try_emplace(zone->origin(), path.string());
    if (!inserted) {
      throw ZoneError(path.string() + ": zone " + wire::name_to_text(zone->origin()) +
                      " is already loaded from " + it->second);
    }
    zones.push_back(std::move(zone));
  }
  return zones;
}

}  // namespace signpost::dns::zone
