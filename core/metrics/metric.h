// Metric value types: Counter, Gauge, Histogram. Each is one time series; a Family<T> (family.h)
// owns them, one per label set.
//
//   Counter& c = requests->Add({{"method", "Recommend"}, {"code", "OK"}});
//   c.Increment();
//   latency->Add({{"stage", "encode"}}, DefaultLatencyBuckets()).Observe(0.0031);
//
// Thread-safe: all methods are lock-free atomics.
#ifndef SEMREC_CORE_METRICS_METRIC_H_
#define SEMREC_CORE_METRICS_METRIC_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace semrec::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// A monotonically increasing value. Increment() ignores negative and NaN amounts (a counter that
// went down would make rate() wrong), rather than aborting.
class Counter {
 public:
  static constexpr MetricType kType = MetricType::kCounter;
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Increment(double amount = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that can go up and down (queue depth, index size).
class Gauge {
 public:
  static constexpr MetricType kType = MetricType::kGauge;
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Increment(double amount = 1.0);
  void Decrement(double amount = 1.0) { Increment(-amount); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Upper bounds ("le") of a histogram's finite buckets; +Inf is implicit.
using BucketBoundaries = std::vector<double>;

// `count` boundaries start, start*factor, start*factor^2, ... Empty if start <= 0, factor <= 1
// or count <= 0.
BucketBoundaries ExponentialBuckets(double start, double factor, int count);

// Request/stage latencies in seconds (Prometheus convention; name such families `*_seconds`):
// 100 us .. ~26 s, factor 2 (19 buckets).
BucketBoundaries DefaultLatencyBuckets();

// Counts observations into buckets with cumulative upper bounds, and tracks their sum.
class Histogram {
 public:
  static constexpr MetricType kType = MetricType::kHistogram;

  // Boundaries are sorted and de-duplicated; NaN and infinite ones are dropped (+Inf is implicit).
  explicit Histogram(BucketBoundaries boundaries);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Counts `value` in the first bucket whose bound is >= value. NaN is ignored.
  void Observe(double value);

  struct Snapshot {
    BucketBoundaries boundaries;              // finite upper bounds
    std::vector<uint64_t> cumulative_counts;  // boundaries.size() + 1 entries, last is +Inf
    double sum = 0.0;
    uint64_t count = 0;  // == cumulative_counts.back()
  };
  // Not atomic across buckets: a concurrent Observe may show in one bucket and not yet in sum.
  Snapshot Collect() const;

  const BucketBoundaries& boundaries() const { return boundaries_; }

 private:
  BucketBoundaries boundaries_;
  std::unique_ptr<std::atomic<uint64_t>[]>
      bucket_counts_;  // boundaries_.size() + 1, not cumulative
  std::atomic<double> sum_{0.0};
};

}  // namespace semrec::metrics

#endif  // SEMREC_CORE_METRICS_METRIC_H_
