// The Prometheus text writer: family headers once, escaping, histogram shape, misuse.
#include "dns/daemon/prometheus_text.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>

namespace signpost::dns::daemon {
namespace {

TEST(PrometheusText, WritesHelpAndTypeOncePerFamily) {
  PrometheusText text;
  text.family("x_requests_total", "counter", "Requests.");
  text.sample("x_requests_total", {{"code", "200"}}, std::uint64_t{3});
  text.sample("x_requests_total", {{"code", "500"}}, std::uint64_t{1});
  text.gauge("x_up", "Up.", 1.0);
  EXPECT_EQ(text.text(),
            "# HELP x_requests_total Requests.\n"
            "# TYPE x_requests_total counter\n"
            "x_requests_total{code=\"200\"} 3\n"
            "x_requests_total{code=\"500\"} 1\n"
            "# HELP x_up Up.\n"
            "# TYPE x_up gauge\n"
            "x_up 1\n");
}

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  PrometheusText text;
  text.family("x_info", "gauge", "Back\\slash and\nnewline; \"quotes\" stay.");
  text.sample("x_info", {{"path", "C:\\dir \"x\"\n"}, {"empty", ""}}, std::uint64_t{1});
  EXPECT_EQ(text.text(),
            "# HELP x_info Back\\\\slash and\\nnewline; \"quotes\" stay.\n"
            "# TYPE x_info gauge\n"
            "x_info{path=\"C:\\\\dir \\\"x\\\"\\n\",empty=\"\"} 1\n");
}

TEST(PrometheusText, FormatsValues) {
  EXPECT_EQ(format_sample_value(0.0001), "0.0001");
  EXPECT_EQ(format_sample_value(1.0), "1");
  EXPECT_EQ(format_sample_value(2.5), "2.5");
  EXPECT_EQ(format_sample_value(1780000000.25), "1780000000.25");
  EXPECT_EQ(format_sample_value(1e-9), "1e-09");
  EXPECT_EQ(format_sample_value(0), "0");
  EXPECT_EQ(format_sample_value(-0.5), "-0.5");
  EXPECT_EQ(format_sample_value(1e20), "1e+20");
  EXPECT_EQ(format_sample_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_sample_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_sample_value(std::nan("")), "NaN");
}

TEST(PrometheusText, WritesCumulativeHistogramBucketsEndingInInf) {
  PrometheusText text;
  text.family("x_duration_seconds", "histogram", "Durations.");
  const std::array<double, 3> bounds{0.001, 0.01, 0.1};
  const std::array<std::uint64_t, 4> counts{2, 0, 3, 1};  // the last: above 0.1
  text.histogram("x_duration_seconds", {{"job", "a"}}, bounds, counts, 0.75);
  EXPECT_EQ(text.text(),
            "# HELP x_duration_seconds Durations.\n"
            "# TYPE x_duration_seconds histogram\n"
            "x_duration_seconds_bucket{job=\"a\",le=\"0.001\"} 2\n"
            "x_duration_seconds_bucket{job=\"a\",le=\"0.01\"} 2\n"
            "x_duration_seconds_bucket{job=\"a\",le=\"0.1\"} 5\n"
            "x_duration_seconds_bucket{job=\"a\",le=\"+Inf\"} 6\n"
            "x_duration_seconds_sum{job=\"a\"} 0.75\n"
            "x_duration_seconds_count{job=\"a\"} 6\n");
}

TEST(PrometheusText, HistogramWithoutLabelsHasOnlyLe) {
  PrometheusText text;
  text.family("x_seconds", "histogram", "D.");
  const std::array<double, 1> bounds{1};
  const std::array<std::uint64_t, 2> counts{0, 0};
  text.histogram("x_seconds", {}, bounds, counts, 0);
  EXPECT_NE(text.text().find("x_seconds_bucket{le=\"1\"} 0\n"), std::string::npos);
  EXPECT_NE(text.text().find("x_seconds_bucket{le=\"+Inf\"} 0\n"), std::string::npos);
  EXPECT_NE(text.text().find("x_seconds_sum 0\nx_seconds_count 0\n"), std::string::npos);
}

TEST(PrometheusText, RefusesMisuse) {
  PrometheusText text;
  EXPECT_THROW(text.sample("x_total", {}, std::uint64_t{1}), std::logic_error);  // no family
  text.family("x_total", "counter", "X.");
  EXPECT_THROW(text.family("x_total", "counter", "Again."), std::logic_error);
  EXPECT_THROW(text.sample("y_total", {}, std::uint64_t{1}), std::logic_error);
  EXPECT_THROW(text.sample("x_total_bucket", {}, std::uint64_t{1}), std::logic_error);
  EXPECT_THROW(text.sample("x_total", {{"bad-label", "v"}}, std::uint64_t{1}), std::logic_error);
  EXPECT_THROW(text.sample("x_total", {{"__reserved", "v"}}, std::uint64_t{1}), std::logic_error);
  EXPECT_THROW(text.family("9starts_with_digit", "gauge", "X."), std::logic_error);
  EXPECT_THROW(text.family("x_summary", "summary", "X."), std::logic_error);
  text.family("x_seconds", "histogram", "X.");
  const std::array<double, 2> bounds{1, 2};
  const std::array<std::uint64_t, 2> too_few{0, 0};
  EXPECT_THROW(text.histogram("x_seconds", {}, bounds, too_few, 0), std::logic_error);
}

}  // namespace
}  // namespace signpost::dns::daemon
