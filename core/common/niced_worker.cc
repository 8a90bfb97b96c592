#include "core/common/niced_worker.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace semrec {

NicedWorker::NicedWorker(int nice) {
  if (nice <= 0) return;
  {
    absl::MutexLock lock(&mu_);
    nice_ = nice;
  }
  thread_ = std::thread([this] { Loop(); });
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&started_));
}

NicedWorker::~NicedWorker() {
  if (!thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

int NicedWorker::nice() const {
  absl::MutexLock lock(&mu_);
  return nice_;
}

void NicedWorker::Loop() {
  // Linux gives each thread its own nice value: PRIO_PROCESS with a thread id sets this thread's.
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  errno = 0;
  const int base = ::getpriority(PRIO_PROCESS, tid);
  absl::MutexLock lock(&mu_);
  if (errno != 0 || ::setpriority(PRIO_PROCESS, tid, base + nice_) != 0) nice_ = 0;
  started_ = true;
  auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || (task_ != nullptr && !done_);
  };
  while (true) {
    mu_.Await(absl::Condition(&has_work));
    if (stop_) return;
    const absl::FunctionRef<absl::Status()>& fn = *task_;
    mu_.Unlock();
    absl::Status result = fn();
    mu_.Lock();
    result_ = std::move(result);
    done_ = true;
  }
}

absl::Status NicedWorker::Run(absl::FunctionRef<absl::Status()> fn) {
  if (!thread_.joinable()) return fn();
  absl::MutexLock serial(&run_mu_);
  absl::MutexLock lock(&mu_);
  task_ = &fn;
  done_ = false;
  mu_.Await(absl::Condition(&done_));
  task_ = nullptr;
  return std::move(result_);
}

}  // namespace semrec
