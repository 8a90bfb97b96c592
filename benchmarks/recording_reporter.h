// RecordingReporter: Google Benchmark's console table, plus each benchmark's items_per_second
// kept by name and thread count, so a benchmark's main can print ratios against its baseline
// measured in the same run. One repetition's figure, or the median of --benchmark_repetitions.
// Thread-compatible: Google Benchmark reports from one thread.
#ifndef SEMREC_BENCHMARKS_RECORDING_REPORTER_H_
#define SEMREC_BENCHMARKS_RECORDING_REPORTER_H_

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace semrec {

class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  RecordingReporter() : ConsoleReporter(OO_None) {}  // counters inline: one table, no colours

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.error_occurred || (run.run_type != Run::RT_Iteration && !median)) continue;
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      const benchmark::BenchmarkName& name = run.run_name;
      const std::string key =
          name.args.empty() ? name.function_name : name.function_name + "/" + name.args;
      per_second_[{key, run.threads}] = it->second.value;
    }
  }
  // items_per_second of `name` ("BM_X" or "BM_X/10" with arguments) at `threads`; 0 when absent.
  double PerSecond(const std::string& name, int64_t threads = 1) const {
    auto it = per_second_.find({name, threads});
    return it == per_second_.end() ? 0 : it->second;
  }

 private:
  std::map<std::pair<std::string, int64_t>, double> per_second_;
};

}  // namespace semrec

#endif  // SEMREC_BENCHMARKS_RECORDING_REPORTER_H_
