// Registry: the set of metric families a process exports, and its Prometheus text (format 0.0.4)
// for /metrics. Builders mirror prometheus-cpp; Register returns an error instead of throwing.
//
//   Registry registry;
//   ASSIGN_OR_RETURN(auto* rpcs, BuildCounter().Name("semrec_requests_total").Help("RPCs.")
//                                    .Register(registry));
//   rpcs->Add({{"method", "Recommend"}, {"code", "OK"}}).Increment();
//   registry.AddCollector([&] { index_size->Add({}).Set(index.size()); });  // at scrape time
//   std::string text = registry.Serialize();
//
// Thread-safe. Families live as long as the registry.
#ifndef SEMREC_CORE_METRICS_REGISTRY_H_
#define SEMREC_CORE_METRICS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/metrics/family.h"
#include "core/metrics/metric.h"

namespace semrec::metrics {

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The family called `name`, created on first use. InvalidArgument for a malformed name;
  // AlreadyExists when the name is taken by a family of another type. Registering the same name
  // and type again returns the existing family (its first HELP text is kept).
  template <typename T>
  absl::StatusOr<Family<T>*> Register(const std::string& name, const std::string& help) {
    absl::Status status = ValidateMetricName(name);
    if (!status.ok()) return status;
    absl::MutexLock lock(&mu_);
    std::unique_ptr<FamilyBase>& slot = families_[name];
    if (slot == nullptr) {
      slot = std::make_unique<Family<T>>(name, help);
    } else if (slot->type() != T::kType) {
      return absl::AlreadyExistsError(absl::StrCat("metric \"", name,
                                                   "\" is already registered as a ",
                                                   text_format::TypeName(slot->type())));
    }
    return static_cast<Family<T>*>(slot.get());
  }

  // Runs `collector` at the start of every Serialize(), before any family is read, so it can Set
  // gauges from state owned elsewhere (index size, cache stats). Collectors run one scrape at a
  // time, in the order added, without registry locks held (they may Register and Add).
  void AddCollector(std::function<void()> collector);

  // Runs the collectors, then writes every non-empty family, sorted by name; series within a
  // family sorted by label set.
  std::string Serialize() const;

 private:
  mutable absl::Mutex scrape_mu_;  // one scrape at a time; taken before mu_
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(mu_);
};

// prometheus-cpp style: BuildCounter().Name("x_total").Help("...").Register(registry).
template <typename T>
class Builder {
 public:
  Builder& Name(std::string name) {
    name_ = std::move(name);
    return *this;
  }
  Builder& Help(std::string help) {
    help_ = std::move(help);
    return *this;
  }
  absl::StatusOr<Family<T>*> Register(Registry& registry) const {
    return registry.Register<T>(name_, help_);
  }

 private:
  std::string name_;
  std::string help_;
};

inline Builder<Counter> BuildCounter() { return {}; }
inline Builder<Gauge> BuildGauge() { return {}; }
inline Builder<Histogram> BuildHistogram() { return {}; }

}  // namespace semrec::metrics

#endif  // SEMREC_CORE_METRICS_REGISTRY_H_
