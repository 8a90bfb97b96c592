#include "core/metrics/metric.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace semrec::metrics {
namespace {

void AtomicAdd(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

}  // namespace

void Counter::Increment(double amount) {
  if (!(amount >= 0.0)) return;  // negative or NaN
  AtomicAdd(value_, amount);
}

void Gauge::Increment(double amount) { AtomicAdd(value_, amount); }

BucketBoundaries ExponentialBuckets(double start, double factor, int count) {
  BucketBoundaries bounds;
  if (!(start > 0.0) || !(factor > 1.0) || count <= 0) return bounds;
  bounds.reserve(count);
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

BucketBoundaries DefaultLatencyBuckets() { return ExponentialBuckets(0.0001, 2.0, 19); }

Histogram::Histogram(BucketBoundaries boundaries) : boundaries_(std::move(boundaries)) {
  boundaries_.erase(std::remove_if(boundaries_.begin(), boundaries_.end(),
                                   [](double b) { return !std::isfinite(b); }),
                    boundaries_.end());
  std::sort(boundaries_.begin(), boundaries_.end());
  boundaries_.erase(std::unique(boundaries_.begin(), boundaries_.end()), boundaries_.end());
  bucket_counts_ = std::make_unique<std::atomic<uint64_t>[]>(boundaries_.size() + 1);
  for (size_t i = 0; i <= boundaries_.size(); ++i) bucket_counts_[i].store(0);
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  const size_t bucket =
      std::lower_bound(boundaries_.begin(), boundaries_.end(), value) - boundaries_.begin();
  bucket_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

Histogram::Snapshot Histogram::Collect() const {
  Snapshot snapshot;
  snapshot.boundaries = boundaries_;
  snapshot.cumulative_counts.resize(boundaries_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= boundaries_.size(); ++i) {
    running += bucket_counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts[i] = running;
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

}  // namespace semrec::metrics
