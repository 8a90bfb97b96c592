#include "core/metrics/text_format.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace semrec::metrics {
namespace {

bool IsNameStart(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}
bool IsNameChar(char c, bool allow_colon) {
  return IsNameStart(c, allow_colon) || (c >= '0' && c <= '9');
}
bool IsValidName(const std::string& name, bool allow_colon) {
  if (name.empty() || !IsNameStart(name[0], allow_colon)) return false;
  for (char c : name) {
    if (!IsNameChar(c, allow_colon)) return false;
  }
  return true;
}

void AppendLabels(const Labels& labels, const std::string* le, std::string* out) {
  if (labels.empty() && le == nullptr) return;
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, name, "=\"", text_format::EscapeLabelValue(value), "\"");
  }
  if (le != nullptr) absl::StrAppend(out, first ? "" : ",", "le=\"", *le, "\"");
  out->push_back('}');
}

void AppendSample(const std::string& name, const Labels& labels, const std::string* le,
                  double value, std::string* out) {
  out->append(name);
  AppendLabels(labels, le, out);
  absl::StrAppend(out, " ", text_format::FormatValue(value), "\n");
}

}  // namespace

absl::Status ValidateMetricName(const std::string& name) {
  if (IsValidName(name, /*allow_colon=*/true)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid metric name \"", name, "\": must match [a-zA-Z_:][a-zA-Z0-9_:]*"));
}

absl::Status ValidateLabels(const Labels& labels, MetricType type) {
  for (const auto& [name, value] : labels) {
    if (!IsValidName(name, /*allow_colon=*/false)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid label name \"", name, "\": must match [a-zA-Z_][a-zA-Z0-9_]*"));
    }
    if (name.rfind("__", 0) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid label name \"", name, "\": names starting with __ are reserved"));
    }
    if (type == MetricType::kHistogram && name == "le") {
      return absl::InvalidArgumentError("label name \"le\" is reserved for histogram buckets");
    }
  }
  return absl::OkStatus();
}

namespace text_format {

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendSeries(const std::string& name, const Labels& labels, const Counter& metric,
                  std::string* out) {
  AppendSample(name, labels, nullptr, metric.Value(), out);
}

void AppendSeries(const std::string& name, const Labels& labels, const Gauge& metric,
                  std::string* out) {
  AppendSample(name, labels, nullptr, metric.Value(), out);
}

void AppendSeries(const std::string& name, const Labels& labels, const Histogram& metric,
                  std::string* out) {
  const Histogram::Snapshot snapshot = metric.Collect();
  const std::string bucket_name = absl::StrCat(name, "_bucket");
  for (size_t i = 0; i <= snapshot.boundaries.size(); ++i) {
    const std::string le =
        i < snapshot.boundaries.size() ? FormatValue(snapshot.boundaries[i]) : "+Inf";
    AppendSample(bucket_name, labels, &le, static_cast<double>(snapshot.cumulative_counts[i]), out);
  }
  AppendSample(absl::StrCat(name, "_sum"), labels, nullptr, snapshot.sum, out);
  AppendSample(absl::StrCat(name, "_count"), labels, nullptr, static_cast<double>(snapshot.count),
               out);
}

}  // namespace text_format
}  // namespace semrec::metrics
