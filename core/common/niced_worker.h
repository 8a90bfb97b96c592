// NicedWorker: one thread, at a lower CPU priority (a higher nice value), that runs the closures
// handed to it one at a time while each caller waits. For CPU-heavy background writes that should
// give way to latency-bound threads on a busy machine: HNSW inserts, about 2 ms each into a 1M
// graph, beside Recommend searches. The kernel's scheduler then runs a woken search ahead of the
// insert instead of splitting the core between them; on an idle machine the insert still gets a
// whole core. nice 0 runs each closure in the caller's thread.
//
//   NicedWorker worker(10);
//   absl::Status s = worker.Run([&] { return index->Upsert(id, vector); });
//
// Thread-safe: Run may be called from any thread; calls run one after another, in no set order.
#ifndef SEMREC_CORE_COMMON_NICED_WORKER_H_
#define SEMREC_CORE_COMMON_NICED_WORKER_H_

#include <thread>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace semrec {

class NicedWorker {
 public:
  // `nice`: 1..19 above the process's own; 0 (or less): no thread, Run calls in place.
  explicit NicedWorker(int nice);
  ~NicedWorker();  // waits for the closure running, if any
  NicedWorker(const NicedWorker&) = delete;
  NicedWorker& operator=(const NicedWorker&) = delete;

  // Runs `fn` on the worker thread and returns its status.
  absl::Status Run(absl::FunctionRef<absl::Status()> fn);

  // How much nicer than the process the worker thread runs: the constructor's `nice`, or 0 when
  // there is no thread or the kernel refused.
  int nice() const;

 private:
  void Loop();

  absl::Mutex run_mu_;  // one Run at a time
  mutable absl::Mutex mu_;
  const absl::FunctionRef<absl::Status()>* task_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Status result_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int nice_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_COMMON_NICED_WORKER_H_
