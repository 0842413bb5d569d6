// A writer of the Prometheus text exposition format, version 0.0.4.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace signpost::dns::daemon {

/// One sample's labels: name and value pairs, in the order they are written.
using MetricLabels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

/// Writes metric families in the Prometheus text format 0.0.4: per family one `# HELP` and
/// one `# TYPE` line, then its samples; label values escaped (backslash, double quote, line
/// feed), HELP text escaped (backslash, line feed); histograms as cumulative `_bucket{le}`
/// samples ending in `le="+Inf"`, then `_sum` and `_count`. A family is opened once: opening
/// one twice, a sample outside its family, or a name or label name the format does not allow
/// throws std::logic_error, since each is a mistake in the code that renders, not in data.
/// One thread at a time; allocates.
class PrometheusText {
 public:
  /// Opens family `name` of `type` ("counter", "gauge", "histogram") with `help`.
  void family(std::string_view name, std::string_view type, std::string_view help);
  /// Writes one sample of the open family. `name` is the family's name, or for a histogram
  /// its name with `_bucket`, `_sum` or `_count`.
  void sample(std::string_view name, MetricLabels labels, std::uint64_t value);
  void sample(std::string_view name, MetricLabels labels, double value);

  /// A family with one unlabelled sample.
  void counter(std::string_view name, std::string_view help, std::uint64_t value);
  void gauge(std::string_view name, std::string_view help, double value);

  /// Writes one histogram of the open histogram family: `bucket_counts` holds one count per
  /// upper bound in `bounds` (ascending, not cumulative) and a last one for what exceeded
  /// them all; `sum` is the sum of every observation. _count is the total of the buckets, so
  /// it always equals the `+Inf` bucket.
  void histogram(std::string_view name, MetricLabels labels, std::span<const double> bounds,
                 std::span<const std::uint64_t> bucket_counts, double sum);

  /// The text written so far.
  const std::string& text() const noexcept { return out_; }

 private:
  void check_sample_name(std::string_view name) const;
  void write_labels(MetricLabels labels, std::string_view le);
  void write_value(double value);

  std::string out_;
  std::string open_;       // the open family's name
  std::string open_type_;  // and type
  std::set<std::string, std::less<>> families_;
};

/// `value` with backslash, double quote and line feed escaped, as a label value must be.
/// Any thread; allocates.
std::string escape_label_value(std::string_view value);

/// `value` as a sample value: shortest round-trip decimal, `+Inf`, `-Inf` or `NaN`.
/// Any thread; allocates.
std::string format_sample_value(double value);

}  // namespace signpost::dns::daemon
