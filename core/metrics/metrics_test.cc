#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "core/metrics/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTextTest, CounterWithLabelsAndHelp) {
  Registry registry;
  auto family = BuildCounter()
                    .Name("semrec_requests_total")
                    .Help("RPCs by method and code.")
                    .Register(registry);
  ASSERT_TRUE(family.ok()) << family.status();
  (*family)->Add({{"method", "Recommend"}, {"code", "OK"}}).Increment();
  (*family)->Add({{"method", "Recommend"}, {"code", "OK"}}).Increment(2);
  (*family)->Add({{"method", "Embed"}, {"code", "INVALID_ARGUMENT"}}).Increment(0.5);
  EXPECT_EQ(registry.Serialize(),
            "# HELP semrec_requests_total RPCs by method and code.\n"
            "# TYPE semrec_requests_total counter\n"
            "semrec_requests_total{code=\"INVALID_ARGUMENT\",method=\"Embed\"} 0.5\n"
            "semrec_requests_total{code=\"OK\",method=\"Recommend\"} 3\n");
}

TEST(MetricsTextTest, CounterIgnoresNegativeAndNaN) {
  Counter counter;
  counter.Increment(2);
  counter.Increment(-1);
  counter.Increment(std::nan(""));
  EXPECT_EQ(counter.Value(), 2);
}

TEST(MetricsTextTest, GaugeSetIncrementDecrement) {
  Registry registry;
  auto family = BuildGauge().Name("semrec_queue_depth").Help("Queued requests.").Register(registry);
  ASSERT_TRUE(family.ok());
  Gauge& gauge = (*family)->Add({});
  gauge.Set(10);
  gauge.Increment();
  gauge.Decrement(3.5);
  EXPECT_EQ(gauge.Value(), 7.5);
  EXPECT_EQ(registry.Serialize(),
            "# HELP semrec_queue_depth Queued requests.\n"
            "# TYPE semrec_queue_depth gauge\n"
            "semrec_queue_depth 7.5\n");
}

TEST(MetricsTextTest, HistogramBucketsAreCumulativeWithInfSumCount) {
  Registry registry;
  auto family = BuildHistogram()
                    .Name("semrec_stage_duration_seconds")
                    .Help("Stage latency.")
                    .Register(registry);
  ASSERT_TRUE(family.ok());
  Histogram& h = (*family)->Add({{"stage", "encode"}}, BucketBoundaries{0.1, 0.5, 1});
  h.Observe(0.05);
  h.Observe(0.1);  // le is inclusive
  h.Observe(0.3);
  h.Observe(2);
  EXPECT_EQ(registry.Serialize(),
            "# HELP semrec_stage_duration_seconds Stage latency.\n"
            "# TYPE semrec_stage_duration_seconds histogram\n"
            "semrec_stage_duration_seconds_bucket{stage=\"encode\",le=\"0.1\"} 2\n"
            "semrec_stage_duration_seconds_bucket{stage=\"encode\",le=\"0.5\"} 3\n"
            "semrec_stage_duration_seconds_bucket{stage=\"encode\",le=\"1\"} 3\n"
            "semrec_stage_duration_seconds_bucket{stage=\"encode\",le=\"+Inf\"} 4\n"
            "semrec_stage_duration_seconds_sum{stage=\"encode\"} 2.45\n"
            "semrec_stage_duration_seconds_count{stage=\"encode\"} 4\n");
}

TEST(MetricsTextTest, HistogramBoundariesSortedAndDeduplicated) {
  Histogram h({1, 0.5, 1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.boundaries(), (BucketBoundaries{0.5, 1}));
}

TEST(MetricsTextTest, ExponentialAndDefaultBuckets) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (BucketBoundaries{1, 2, 4, 8}));
  EXPECT_TRUE(ExponentialBuckets(0, 2, 4).empty());
  EXPECT_TRUE(ExponentialBuckets(1, 1, 4).empty());
  const BucketBoundaries latency = DefaultLatencyBuckets();
  ASSERT_EQ(latency.size(), 19u);
  EXPECT_DOUBLE_EQ(latency.front(), 0.0001);
  EXPECT_GT(latency.back(), 10.0);
}

TEST(MetricsTextTest, LabelValuesEscaped) {
  Registry registry;
  auto family =
      BuildCounter().Name("x_total").Help("Back\\slash\nnewline \"q\"").Register(registry);
  ASSERT_TRUE(family.ok());
  (*family)->Add({{"path", "a\\b\"c\nd"}}).Increment();
  EXPECT_EQ(registry.Serialize(),
            "# HELP x_total Back\\\\slash\\nnewline \"q\"\n"
            "# TYPE x_total counter\n"
            "x_total{path=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(MetricsTextTest, FamiliesSortedByNameAndEmptyFamiliesOmitted) {
  Registry registry;
  auto b = BuildGauge().Name("b_gauge").Help("B.").Register(registry);
  auto a = BuildCounter().Name("a_total").Help("A.").Register(registry);
  auto empty = BuildCounter().Name("c_total").Help("Never used.").Register(registry);
  ASSERT_TRUE(a.ok() && b.ok() && empty.ok());
  (*b)->Add({}).Set(1);
  (*a)->Add({}).Increment();
  const std::string text = registry.Serialize();
  EXPECT_LT(text.find("a_total"), text.find("b_gauge"));
  EXPECT_EQ(text.find("c_total"), std::string::npos);
}

TEST(MetricsTextTest, ValueFormatting) {
  EXPECT_EQ(text_format::FormatValue(0.1), "0.1");
  EXPECT_EQ(text_format::FormatValue(3), "3");
  EXPECT_EQ(text_format::FormatValue(1e21), "1e+21");
  EXPECT_EQ(text_format::FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(text_format::FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(text_format::FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(std::strtod(text_format::FormatValue(1.0 / 3).c_str(), nullptr), 1.0 / 3);
}

TEST(MetricsFamilyTest, SameLabelsReturnSameMetric) {
  Registry registry;
  auto family = BuildCounter().Name("x_total").Help("X.").Register(registry);
  ASSERT_TRUE(family.ok());
  Counter& first = (*family)->Add({{"a", "1"}, {"b", "2"}});
  Counter& again = (*family)->Add({{"b", "2"}, {"a", "1"}});
  Counter& other = (*family)->Add({{"a", "1"}});
  EXPECT_EQ(&first, &again);
  EXPECT_NE(&first, &other);
}

TEST(MetricsFamilyTest, RegisterSameNameAndTypeReturnsSameFamily) {
  Registry registry;
  auto first = BuildCounter().Name("x_total").Help("X.").Register(registry);
  auto again = BuildCounter().Name("x_total").Help("X.").Register(registry);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(*first, *again);
  auto gauge = BuildGauge().Name("x_total").Help("X.").Register(registry);
  EXPECT_EQ(gauge.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(gauge.status().message()), HasSubstr("counter"));
}

TEST(MetricsValidationTest, MetricNames) {
  Registry registry;
  for (const char* good : {"a", "_x", "ns:sub_total", "A9_:b"}) {
    EXPECT_TRUE(BuildCounter().Name(good).Register(registry).ok()) << good;
  }
  for (const char* bad : {"", "9abc", "a-b", "a b", "é"}) {
    auto status = BuildGauge().Name(bad).Register(registry).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()), HasSubstr("invalid metric name")) << bad;
  }
}

TEST(MetricsValidationTest, LabelNames) {
  Registry registry;
  auto counters = BuildCounter().Name("x_total").Register(registry);
  auto histograms = BuildHistogram().Name("h_seconds").Register(registry);
  ASSERT_TRUE(counters.ok() && histograms.ok());
  EXPECT_TRUE((*counters)->TryAdd({{"_ok", "v"}, {"le", "fine on a counter"}}).ok());
  for (const char* bad : {"", "1a", "a:b", "a-b", "__reserved"}) {
    auto metric = (*counters)->TryAdd({{bad, "v"}});
    EXPECT_EQ(metric.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ((*histograms)->TryAdd({{"le", "1"}}, BucketBoundaries{1}).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Add never fails: the metric is detached, counted, and not exported.
  (*counters)->Add({{"__bad", "v"}}).Increment();
  EXPECT_EQ((*counters)->invalid_label_sets(), 1u);
  EXPECT_EQ(registry.Serialize().find("__bad"), std::string::npos);
}

TEST(MetricsCollectorTest, CollectorsRunBeforeEachSerialize) {
  Registry registry;
  auto family = BuildGauge().Name("semrec_index_items").Help("Items.").Register(registry);
  ASSERT_TRUE(family.ok());
  Gauge& items = (*family)->Add({});
  int size = 10;
  registry.AddCollector([&] { items.Set(size); });
  EXPECT_THAT(registry.Serialize(), HasSubstr("semrec_index_items 10\n"));
  size = 42;
  EXPECT_THAT(registry.Serialize(), HasSubstr("semrec_index_items 42\n"));
}

TEST(MetricsConcurrencyTest, ConcurrentIncrementsAndObservationsAreExact) {
  Registry registry;
  auto counters = BuildCounter().Name("x_total").Help("X.").Register(registry);
  auto histograms = BuildHistogram().Name("h_seconds").Help("H.").Register(registry);
  ASSERT_TRUE(counters.ok() && histograms.ok());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Looked up every time, to race Add as well as Increment.
        (*counters)->Add({{"k", "shared"}}).Increment();
        (*histograms)->Add({}, BucketBoundaries{1, 2}).Observe(i % 2 == 0 ? 0.5 : 1.5);
        if (i % 1000 == 0 && t == 0) registry.Serialize();  // scrapes race writers
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ((*counters)->Add({{"k", "shared"}}).Value(), kThreads * kPerThread);
  const Histogram::Snapshot snap = (*histograms)->Add({}, BucketBoundaries{}).Collect();
  EXPECT_EQ(snap.count, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(snap.cumulative_counts[0], uint64_t{kThreads * kPerThread / 2});
  EXPECT_EQ(snap.cumulative_counts[1], uint64_t{kThreads * kPerThread});
  EXPECT_DOUBLE_EQ(snap.sum, kThreads * kPerThread / 2 * (0.5 + 1.5));
}

// promtool (Debian package `prometheus`) must accept what we export.
TEST(PromtoolTest, CheckMetricsAcceptsEveryMetricKind) {
  const std::string promtool = SEMREC_PROMTOOL;
  if (promtool.empty()) {
    GTEST_SKIP() << "promtool not found at configure time; apt-get install prometheus";
  }
  Registry registry;
  auto requests = BuildCounter()
                      .Name("semrec_requests_total")
                      .Help("RPCs by method and status code.")
                      .Register(registry);
  auto queue = BuildGauge().Name("semrec_queue_depth").Help("Queued requests.").Register(registry);
  auto latency = BuildHistogram()
                     .Name("semrec_stage_duration_seconds")
                     .Help("Latency per stage.")
                     .Register(registry);
  ASSERT_TRUE(requests.ok() && queue.ok() && latency.ok());
  (*requests)->Add({{"method", "Recommend"}, {"code", "OK"}}).Increment(7);
  (*requests)->Add({{"method", "Recommend"}, {"code", "INTERNAL"}}).Increment();
  (*requests)->Add({{"method", "Embed"}, {"code", "OK"}, {"note", "quote\" slash\\ nl\n"}});
  (*queue)->Add({}).Set(3);
  for (const char* stage : {"tokenize", "encode", "ann"}) {
    Histogram& h = (*latency)->Add({{"stage", stage}}, DefaultLatencyBuckets());
    for (double v : {0.00005, 0.0012, 0.03, 0.4, 30.0}) h.Observe(v);
  }
  const std::string text = registry.Serialize();

  char path[] = "/tmp/semrec_metrics_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream file(path);
    file << text;
  }
  const std::string command = "'" + promtool + "' check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  std::remove(path);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "promtool exit status " << status << ":\n"
      << output << "\ninput:\n"
      << text;
  if (!output.empty()) std::printf("promtool says:\n%s", output.c_str());
}

}  // namespace
}  // namespace semrec::metrics
