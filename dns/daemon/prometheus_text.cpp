// The Prometheus text format 0.0.4 (Prometheus' "Exposition formats", text-based format).
#include "dns/daemon/prometheus_text.hpp"

#include <charconv>
#include <cmath>

namespace signpost::dns::daemon {

namespace {

bool name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

// Metric names may hold colons; label names may not, and those starting with "__" are
// reserved for Prometheus itself.
bool valid_name(std::string_view name, bool metric) {
  if (name.empty() || !name_start(name[0], metric)) return false;
  if (!metric && name.starts_with("__")) return false;
  for (const char c : name) {
    if (!name_start(c, metric) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

void check_name(std::string_view name, bool metric) {
  if (!valid_name(name, metric)) {
    throw std::logic_error(std::string(metric ? "metric" : "label") + " name '" +
                           std::string(name) + "' is not allowed in the Prometheus format");
  }
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[400];  // room for the longest fixed form below
  // The shortest digits that read back as the same double, in fixed notation where that
  // stays readable (0.0001 rather than 1e-04, so that bucket bounds read as people write
  // them; a Unix time in full), in scientific notation beyond.
  const double magnitude = std::fabs(value);
  const bool fixed = magnitude == 0 || (magnitude >= 1e-5 && magnitude < 1e15);
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value,
                                    fixed ? std::chars_format::fixed
                                          : std::chars_format::scientific);
  return std::string(buffer, result.ptr);
}

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  check_name(name, true);
  if (type != "counter" && type != "gauge" && type != "histogram") {
    throw std::logic_error("metric family " + std::string(name) + ": unknown type " +
                           std::string(type));
  }
  if (!families_.emplace(name).second) {
    throw std::logic_error("metric family " + std::string(name) + " written twice");
  }
  open_ = name;
  open_type_ = type;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void PrometheusText::check_sample_name(std::string_view name) const {
  if (open_.empty() || !name.starts_with(open_)) {
    throw std::logic_error("metric sample " + std::string(name) + " outside its family");
  }
  const std::string_view suffix = name.substr(open_.size());
  const bool allowed = open_type_ == "histogram"
                           ? suffix == "_bucket" || suffix == "_sum" || suffix == "_count"
                           : suffix.empty();
  if (!allowed) {
    throw std::logic_error("metric sample " + std::string(name) + " does not belong to " +
                           open_type_ + " family " + open_);
  }
}

void PrometheusText::write_labels(MetricLabels labels, std::string_view le) {
  if (labels.size() == 0 && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [label, value] : labels) {
    check_name(label, false);
    if (!first) out_ += ',';
    first = false;
    out_ += label;
    out_ += "=\"";
    out_ += escape_label_value(value);
    out_ += '"';
  }
  if (!le.empty()) {
    if (!first) out_ += ',';
    out_ += "le=\"";
    out_ += le;
    out_ += '"';
  }
  out_ += '}';
}

void PrometheusText::sample(std::string_view name, MetricLabels labels, std::uint64_t value) {
  check_sample_name(name);
  out_ += name;
  write_labels(labels, {});
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void PrometheusText::sample(std::string_view name, MetricLabels labels, double value) {
  check_sample_name(name);
  out_ += name;
  write_labels(labels, {});
  out_ += ' ';
  out_ += format_sample_value(value);
  out_ += '\n';
}

void PrometheusText::counter(std::string_view name, std::string_view help, std::uint64_t value) {
  family(name, "counter", help);
  sample(name, {}, value);
}

void PrometheusText::gauge(std::string_view name, std::string_view help, double value) {
  family(name, "gauge", help);
  sample(name, {}, value);
}

void PrometheusText::histogram(std::string_view name, MetricLabels labels,
                               std::span<const double> bounds,
                               std::span<const std::uint64_t> bucket_counts, double sum) {
  if (open_type_ != "histogram" || name != open_) {
    throw std::logic_error("histogram " + std::string(name) + " outside its family");
  }
  if (bucket_counts.size() != bounds.size() + 1) {
    throw std::logic_error("histogram " + std::string(name) + ": one count per bound and one more");
  }
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += bucket_counts[i];
    out_ += bucket;
    write_labels(labels, i < bounds.size() ? format_sample_value(bounds[i]) : "+Inf");
    out_ += ' ';
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  sample(std::string(name) + "_sum", labels, sum);
  sample(std::string(name) + "_count", labels, cumulative);
}

}  // namespace signpost::dns::daemon
