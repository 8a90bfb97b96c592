// Write-ahead log appends with fdatasync before each acknowledgement (WalSync::kAlways), from
// 1 to 32 writer threads: records/s and records per fdatasync (group commit). Writes under
// $SEMREC_BENCH_DIR (default /tmp): the disk decides the figures, so run the sizes side by side.
//   build/benchmarks/wal_benchmark
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/storage/record_file.h"
#include "core/storage/write_ahead_log.h"

namespace semrec {
namespace {

std::string BenchDir() {
  const char* dir = std::getenv("SEMREC_BENCH_DIR");
  return std::string(dir ? dir : "/tmp") + "/semrec-wal-bench-" + std::to_string(::getpid());
}

std::unique_ptr<WriteAheadLog> wal;
std::atomic<uint64_t> syncs{0};
std::atomic<uint64_t> synced_records{0};

void BM_AppendAlwaysSync(benchmark::State& state) {
  if (state.thread_index() == 0) {
    (void)RemoveTree(BenchDir());
    WalOptions options;
    options.dir = BenchDir();
    options.sync = WalSync::kAlways;
    options.on_sync = [](absl::Duration, uint64_t records) {
      syncs.fetch_add(1, std::memory_order_relaxed);
      synced_records.fetch_add(records, std::memory_order_relaxed);
    };
    auto opened = WriteAheadLog::Open(options, 0, nullptr, nullptr);
    if (!opened.ok()) state.SkipWithError(std::string(opened.status().message()).c_str());
    wal = std::move(opened).value();
    syncs = 0;
    synced_records = 0;
  }
  const std::string record(120, 'x');  // about one Feedback event
  for (auto _ : state) {
    if (!wal->Append(record).ok()) state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    wal.reset();
    state.counters["records_per_sync"] =
        syncs ? static_cast<double>(synced_records) / static_cast<double>(syncs) : 0;
    (void)RemoveTree(BenchDir());
  }
}
BENCHMARK(BM_AppendAlwaysSync)->ThreadRange(1, 32)->UseRealTime()->MinTime(2.0);

}  // namespace
}  // namespace semrec

BENCHMARK_MAIN();
