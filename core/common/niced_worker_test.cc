#include "core/common/niced_worker.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace semrec {
namespace {

int ThisThreadNice() {
  return ::getpriority(PRIO_PROCESS, static_cast<pid_t>(::syscall(SYS_gettid)));
}

TEST(NicedWorkerTest, RunsOnALowerPriorityThreadAndReturnsTheStatus) {
  NicedWorker worker(7);
  ASSERT_EQ(worker.nice(), 7);
  const int mine = ThisThreadNice();
  int seen = -100;
  std::thread::id where;
  absl::Status s = worker.Run([&] {
    seen = ThisThreadNice();
    where = std::this_thread::get_id();
    return absl::NotFoundError("from the worker");
  });
  EXPECT_EQ(s, absl::NotFoundError("from the worker"));
  EXPECT_EQ(seen, mine + 7);
  EXPECT_NE(where, std::this_thread::get_id());
  EXPECT_EQ(ThisThreadNice(), mine);  // the caller's own priority is untouched
}

TEST(NicedWorkerTest, ZeroRunsInPlace) {
  NicedWorker worker(0);
  EXPECT_EQ(worker.nice(), 0);
  std::thread::id where;
  EXPECT_TRUE(worker.Run([&] {
                where = std::this_thread::get_id();
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(NicedWorkerTest, ConcurrentCallersRunOneAtATimeAndEachGetsItsOwnResult) {
  NicedWorker worker(3);
  std::atomic<int> running{0}, overlaps{0}, wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const int code = (t * 1000 + i) % 16 + 1;  // a distinct status per call
        absl::Status s = worker.Run([&] {
          if (running.fetch_add(1) != 0) overlaps.fetch_add(1);
          running.fetch_sub(1);
          return absl::Status(static_cast<absl::StatusCode>(code), "call");
        });
        if (s.code() != static_cast<absl::StatusCode>(code)) wrong.fetch_add(1);
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace semrec
