// A metric family: one name, one HELP text, one type, and one time series per label set.
// Built and owned by a Registry (registry.h); never destroyed before it.
//
//   ASSIGN_OR_RETURN(Family<Counter>* requests, BuildCounter().Name("semrec_requests_total")
//                                                   .Help("RPCs by method and code.").Register(r));
//   requests->Add({{"method", "Recommend"}, {"code", "OK"}}).Increment();
//
// Thread-safe. References returned by Add stay valid for the registry's lifetime.
#ifndef SEMREC_CORE_METRICS_FAMILY_H_
#define SEMREC_CORE_METRICS_FAMILY_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/metrics/metric.h"
#include "core/metrics/text_format.h"

namespace semrec::metrics {

// Type-erased view of a family, for the registry.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  virtual MetricType type() const = 0;
  // Appends HELP, TYPE and every series; nothing when the family has no series yet.
  virtual void AppendText(std::string* out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}

 private:
  const std::string name_;
  const std::string help_;
};

template <typename T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help) : FamilyBase(std::move(name), std::move(help)) {}

  MetricType type() const override { return T::kType; }

  // The series for `labels`, created from `args` (a Histogram's BucketBoundaries) on first use;
  // later calls with the same labels return the same metric and ignore `args`. Invalid labels
  // (see ValidateLabels) fail with InvalidArgument.
  template <typename... Args>
  absl::StatusOr<T*> TryAdd(const Labels& labels, Args&&... args) {
    absl::Status status = ValidateLabels(labels, T::kType);
    if (!status.ok()) return status;
    absl::MutexLock lock(&mu_);
    std::unique_ptr<T>& slot = metrics_[labels];
    if (slot == nullptr) slot = std::make_unique<T>(std::forward<Args>(args)...);
    return slot.get();
  }

  // As TryAdd, but never fails: with invalid labels it returns a detached metric that is never
  // exported (so instrumentation code cannot crash the server), and counts it in
  // invalid_label_sets().
  template <typename... Args>
  T& Add(const Labels& labels, Args&&... args) {
    absl::StatusOr<T*> metric = TryAdd(labels, args...);
    if (metric.ok()) return **metric;
    absl::MutexLock lock(&mu_);
    detached_.push_back(std::make_unique<T>(std::forward<Args>(args)...));
    return *detached_.back();
  }

  size_t invalid_label_sets() const {
    absl::MutexLock lock(&mu_);
    return detached_.size();
  }

  void AppendText(std::string* out) const override {
    absl::MutexLock lock(&mu_);
    if (metrics_.empty()) return;
    if (!help().empty()) {
      out->append("# HELP ").append(name()).append(" ").append(text_format::EscapeHelp(help()));
      out->push_back('\n');
    }
    out->append("# TYPE ").append(name()).append(" ").append(text_format::TypeName(T::kType));
    out->push_back('\n');
    for (const auto& [labels, metric] : metrics_) {
      text_format::AppendSeries(name(), labels, *metric, out);
    }
  }

 private:
  mutable absl::Mutex mu_;
  std::map<Labels, std::unique_ptr<T>> metrics_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<T>> detached_ ABSL_GUARDED_BY(mu_);
};

}  // namespace semrec::metrics

#endif  // SEMREC_CORE_METRICS_FAMILY_H_
