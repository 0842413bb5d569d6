// [[transfer]]'s options: each value checked and stored as the transfer service takes it.
#include <cmath>

#include "dns/daemon/config_schema.hpp"
#include "dns/wire/name.hpp"

namespace signpost::dns::daemon::schema {

namespace {

const std::string& text_of(const Value& value) { return std::get<std::string>(value); }

// A name in text ("xfr.", "svc.internal") as lower-case wire form; throws Invalid.
std::string name_wire(std::string_view what, const std::string& text) {
  std::string absolute = text;
  if (!absolute.empty() && absolute.back() != '.') absolute += '.';
  std::string wire;
  if (absolute.size() < 2 || !wire::name_from_text(absolute, wire)) {
    throw Invalid("'" + text + "' is not " + std::string(what));
  }
  wire::fold_name({reinterpret_cast<std::uint8_t*>(wire.data()), wire.size()});
  return wire;
}

}  // namespace

void set_transfer_zone(Target& target, const Value& value) {
  target.transfer->zone = name_wire("a zone name such as \"svc.internal.\"", text_of(value));
  target.transfer->zone_text = wire::name_to_text(target.transfer->zone);
}

void set_transfer_allow(Target& target, const Value& value) {
  target.transfer->allow.clear();
  for (const std::string& text : std::get<StringList>(value)) {
    const auto prefix = xfr::parse_prefix(text);
    if (!prefix) {
      throw Invalid("'" + text + "' is not an address or prefix (\"127.0.0.1\", \"10.0.0.0/8\", "
                    "\"::1/128\")");
    }
    target.transfer->allow.push_back(*prefix);
  }
}

void set_transfer_key(Target& target, const Value& value) {
  const std::string& text = text_of(value);
  target.transfer->key = text.empty() ? std::string() : name_wire("a key name", text);
}

void set_transfer_notify(Target& target, const Value& value) {
  target.transfer->notify.clear();
  for (const std::string& text : std::get<StringList>(value)) {
    const auto notify = xfr::parse_notify_target(text);
    if (!notify) {
      throw Invalid("'" + text + "' is not host:port with a numeric host (\"127.0.0.1:53\", "
                    "\"[::1]:53\")");
    }
    target.transfer->notify.push_back(*notify);
  }
}

void set_transfer_notify_interval(Target& target, const Value& value) {
  target.transfer->notify_interval =
      std::chrono::milliseconds(std::llround(std::get<double>(value) * 1000.0));
}

}  // namespace signpost::dns::daemon::schema
