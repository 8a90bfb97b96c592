// Prometheus text exposition format 0.0.4: value formatting, escaping and one series per metric
// kind. Internal to core/metrics (Family<T> calls it); tests use it for exact expectations.
//
//   std::string out;
//   text_format::AppendSeries("semrec_requests_total", {{"code", "OK"}}, counter, &out);
//
// Thread-safe: pure functions (metric values are read atomically).
#ifndef SEMREC_CORE_METRICS_TEXT_FORMAT_H_
#define SEMREC_CORE_METRICS_TEXT_FORMAT_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "core/metrics/metric.h"

namespace semrec::metrics {

// Label name -> value. Ordered, so a label set has one canonical form and series sort stably.
using Labels = std::map<std::string, std::string>;

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. InvalidArgument otherwise.
absl::Status ValidateMetricName(const std::string& name);
// Label names: [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__" (reserved); histograms may not
// use "le". InvalidArgument otherwise.
absl::Status ValidateLabels(const Labels& labels, MetricType type);

namespace text_format {

// Shortest text that parses back to `value`; "+Inf", "-Inf", "NaN" as Prometheus writes them.
std::string FormatValue(double value);
// Label values: backslash, double quote and newline escaped. HELP text: backslash and newline.
std::string EscapeLabelValue(const std::string& value);
std::string EscapeHelp(const std::string& help);
const char* TypeName(MetricType type);

void AppendSeries(const std::string& name, const Labels& labels, const Counter& metric,
                  std::string* out);
void AppendSeries(const std::string& name, const Labels& labels, const Gauge& metric,
                  std::string* out);
// _bucket{...,le="..."} cumulative including le="+Inf", then _sum and _count.
void AppendSeries(const std::string& name, const Labels& labels, const Histogram& metric,
                  std::string* out);

}  // namespace text_format
}  // namespace semrec::metrics

#endif  // SEMREC_CORE_METRICS_TEXT_FORMAT_H_
