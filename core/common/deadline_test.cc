#include "core/common/deadline.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

using ::testing::HasSubstr;

TEST(DeadlineTest, OutsideAnyScopeThereIsNoDeadline) {
  EXPECT_EQ(ScopedDeadline::Current(), nullptr);
  EXPECT_EQ(CurrentDeadline(), absl::InfiniteFuture());
  EXPECT_TRUE(CheckDeadline("encode").ok());
}

TEST(DeadlineTest, APassedDeadlineNamesTheStageItStopsBefore) {
  ScopedDeadline scope(absl::Now() - absl::Milliseconds(1));
  const absl::Status s = CheckDeadline("ann");
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.message(), "deadline exceeded before ann");
}

TEST(DeadlineTest, TimeLeftIsOkAndTheScopeEndsWithItsBlock) {
  {
    ScopedDeadline scope(absl::Now() + absl::Hours(1));
    EXPECT_TRUE(CheckDeadline("rank").ok());
    EXPECT_EQ(ScopedDeadline::Current(), &scope);
  }
  EXPECT_EQ(ScopedDeadline::Current(), nullptr);
}

TEST(DeadlineTest, ACancelledCallerIsReportedAsCancelled) {
  std::atomic<bool> gone{false};
  ScopedDeadline scope(absl::InfiniteFuture(), [&] { return gone.load(); });
  EXPECT_TRUE(CheckDeadline("encode").ok());
  gone = true;
  const absl::Status s = CheckDeadline("encode");
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(s.message(), HasSubstr("before encode"));
}

TEST(DeadlineTest, ANestedScopeNeverExtendsTheEnclosingOne) {
  std::atomic<bool> gone{false};
  const absl::Time soon = absl::Now() + absl::Seconds(5);
  ScopedDeadline outer(soon, [&] { return gone.load(); });
  {
    ScopedDeadline inner(absl::Now() + absl::Hours(1));
    EXPECT_EQ(CurrentDeadline(), soon);
    gone = true;
    EXPECT_EQ(CheckDeadline("rank").code(), absl::StatusCode::kCancelled);
  }
  EXPECT_EQ(ScopedDeadline::Current(), &outer);
}

TEST(DeadlineTest, ScopesArePerThreadButCheckableFromAnother) {
  ScopedDeadline scope(absl::Now() - absl::Seconds(1));
  const ScopedDeadline* request = ScopedDeadline::Current();
  std::thread([request] {
    EXPECT_EQ(ScopedDeadline::Current(), nullptr);  // another thread has no scope of its own
    EXPECT_EQ(request->Check("encode").code(), absl::StatusCode::kDeadlineExceeded);
  }).join();
}

}  // namespace
}  // namespace semrec
