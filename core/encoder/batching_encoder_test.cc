#include "core/encoder/batching_encoder.h"

#include <atomic>
#include <thread>

#include "core/common/deadline.h"
#include "core/encoder/testing/fake_encoder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

using ::testing::FloatEq;
using ::testing::HasSubstr;
using ::testing::Pointwise;

constexpr int kDim = 16;

struct Fixture {
  FakeEncoder* fake;
  std::unique_ptr<BatchingEncoder> batcher;
};

Fixture Make(BatchingEncoder::Options options, std::chrono::microseconds delay) {
  auto fake = std::make_unique<FakeEncoder>(kDim);
  fake->set_delay(delay);
  Fixture f{fake.get(), nullptr};
  auto b = BatchingEncoder::Create(options, std::move(fake));
  EXPECT_TRUE(b.ok()) << b.status();
  f.batcher = std::move(b).value();
  return f;
}

// 16 concurrent callers against a slow model: they share forward passes, and each gets exactly
// its own text's embedding back.
TEST(BatchingEncoderTest, ConcurrentCallsShareForwardPassesAndGetTheirOwnResults) {
  BatchingEncoder::Options o;
  o.workers = 1;
  o.max_batch_size = 8;
  Fixture f = Make(o, std::chrono::milliseconds(20));
  FakeEncoder reference(kDim);
  constexpr int kCallers = 16;
  std::vector<std::thread> threads;
  // A byte per caller, each written by its own thread (std::vector<bool> would share words).
  std::vector<char> ok(kCallers, false);
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      const std::string text = "query number " + std::to_string(i);
      auto v = f.batcher->Encode({text}, TextKind::kQuery);
      ok[i] = v.ok() && v->size() == 1 && (*v)[0] == reference.Embed(text);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kCallers; ++i) EXPECT_TRUE(ok[i]) << "caller " << i;
  const auto log = f.fake->call_log();
  EXPECT_LT(log.size(), 8u);  // without batching: 16 passes
  for (const auto& [kind, n] : log) EXPECT_LE(n, 8u);
  EXPECT_EQ(f.batcher->stats().batched_texts, kCallers);
  EXPECT_EQ(f.batcher->stats().batches, static_cast<int64_t>(log.size()));
}

TEST(BatchingEncoderTest, BulkCallsBypassTheQueue) {
  BatchingEncoder::Options o;
  o.bulk_threshold = 10;
  Fixture f = Make(o, std::chrono::microseconds(0));
  std::vector<std::string> texts(25, "catalog item text");
  auto v = f.batcher->Encode(texts, TextKind::kDocument);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->size(), 25u);
  EXPECT_EQ(f.batcher->stats().bulk_calls, 1);
  EXPECT_EQ(f.batcher->stats().batches, 0);
  ASSERT_EQ(f.fake->call_log().size(), 1u);
  EXPECT_EQ(f.fake->call_log()[0].second, 25u);
}

TEST(BatchingEncoderTest, QueriesAndDocumentsAreNeverMixedInOnePass) {
  BatchingEncoder::Options o;
  o.workers = 1;
  Fixture f = Make(o, std::chrono::milliseconds(10));
  std::vector<std::thread> threads;
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&, i] {
      const TextKind kind = i % 2 ? TextKind::kQuery : TextKind::kDocument;
      EXPECT_TRUE(f.batcher->Encode({"text " + std::to_string(i)}, kind).ok());
    });
  }
  for (auto& t : threads) t.join();
  size_t total = 0;
  for (const auto& [kind, n] : f.fake->call_log()) total += n;
  EXPECT_EQ(total, 12u);  // each pass has a single kind by construction; all texts accounted for
  EXPECT_LT(f.fake->call_log().size(), 12u);
}

TEST(BatchingEncoderTest, MaxWaitGroupsCallsThatArriveWithinTheWindow) {
  BatchingEncoder::Options o;
  o.workers = 1;
  o.max_batch_size = 4;
  o.max_wait = absl::Milliseconds(200);
  Fixture f = Make(o, std::chrono::microseconds(0));
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      std::this_thread::sleep_for(std::chrono::milliseconds(10 * i));
      EXPECT_TRUE(f.batcher->Encode({"t" + std::to_string(i)}, TextKind::kQuery).ok());
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(f.fake->call_log().size(), 1u);  // the batch filled up before the window closed
  EXPECT_EQ(f.fake->call_log()[0].second, 4u);
}

TEST(BatchingEncoderTest, FullQueueAnswersResourceExhaustedQuickly) {
  BatchingEncoder::Options o;
  o.workers = 1;
  o.max_batch_size = 1;
  o.max_queued_texts = 2;
  Fixture f = Make(o, std::chrono::milliseconds(100));
  std::atomic<int> exhausted{0}, ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto v = f.batcher->Encode({"x"}, TextKind::kQuery);
      if (v.ok()) ++ok;
      if (v.status().code() == absl::StatusCode::kResourceExhausted) ++exhausted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(exhausted.load(), 1);
  EXPECT_GE(ok.load(), 1);
  EXPECT_EQ(exhausted + ok, 8);
  EXPECT_EQ(f.batcher->stats().rejected, exhausted.load());
}

// Texts the wrapped model has encoded so far, over all its passes.
size_t EncodedTexts(const FakeEncoder& fake) {
  size_t total = 0;
  for (const auto& [kind, n] : fake.call_log()) total += n;
  return total;
}

// Starts an unscoped call that keeps the only worker busy for the fake's delay; returns once the
// pass has begun.
std::thread OccupyTheWorker(Fixture& f) {
  std::thread busy([&f] { EXPECT_TRUE(f.batcher->Encode({"slow pass"}, TextKind::kQuery).ok()); });
  while (f.fake->calls() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return busy;
}

// A caller whose deadline passes while it waits behind a slow pass gets DEADLINE_EXCEEDED at its
// deadline, not when the pass ends, and its text is never encoded.
TEST(BatchingEncoderTest, ACallWhoseDeadlinePassesInTheQueueIsAnsweredOnTimeAndNotEncoded) {
  BatchingEncoder::Options o;
  o.workers = 1;
  Fixture f = Make(o, std::chrono::milliseconds(500));
  std::thread busy = OccupyTheWorker(f);
  const absl::Time start = absl::Now();
  {
    ScopedDeadline scope(start + absl::Milliseconds(50));
    auto v = f.batcher->Encode({"too late"}, TextKind::kQuery);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDeadlineExceeded) << v.status();
    EXPECT_THAT(std::string(v.status().message()), HasSubstr("deadline exceeded before encode"));
  }
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(400));  // did not wait for the slow pass
  EXPECT_EQ(f.batcher->stats().queued_texts, 0);
  busy.join();
  // Another call proves the worker has moved past the queue; the late text was never in a pass.
  ASSERT_TRUE(f.batcher->Encode({"next"}, TextKind::kQuery).ok());
  EXPECT_EQ(EncodedTexts(*f.fake), 2u);
  EXPECT_EQ(f.batcher->stats().expired, 1);
  EXPECT_EQ(f.batcher->stats().batched_texts, 2);
}

TEST(BatchingEncoderTest, AnAlreadyExpiredCallIsNotEncodedEvenInBulk) {
  BatchingEncoder::Options o;
  o.bulk_threshold = 4;
  Fixture f = Make(o, std::chrono::microseconds(0));
  ScopedDeadline scope(absl::Now() - absl::Milliseconds(1));
  EXPECT_EQ(f.batcher->Encode({"q"}, TextKind::kQuery).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  std::vector<std::string> bulk(8, "catalog text");
  EXPECT_EQ(f.batcher->Encode(bulk, TextKind::kDocument).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(f.fake->calls(), 0);
  EXPECT_EQ(f.batcher->stats().expired, 2);
}

// A queued caller that goes away (the client cancelled) is dropped when the next batch forms.
TEST(BatchingEncoderTest, ACancelledCallerIsDroppedWhenTheBatchForms) {
  BatchingEncoder::Options o;
  o.workers = 1;
  Fixture f = Make(o, std::chrono::milliseconds(200));
  std::thread busy = OccupyTheWorker(f);
  std::atomic<bool> gone{false};
  absl::Status status;
  std::thread caller([&] {
    ScopedDeadline scope(absl::InfiniteFuture(), [&] { return gone.load(); });
    status = f.batcher->Encode({"abandoned"}, TextKind::kQuery).status();
  });
  while (f.batcher->stats().queued_texts == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  gone = true;
  caller.join();
  busy.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_EQ(EncodedTexts(*f.fake), 1u);
  EXPECT_EQ(f.batcher->stats().cancelled, 1);
}

// Calls with time left are encoded as usual, and batching never holds one for more than half the
// time its caller has left.
TEST(BatchingEncoderTest, MaxWaitNeverSpendsMostOfACallersTimeLeft) {
  BatchingEncoder::Options o;
  o.workers = 1;
  o.max_batch_size = 8;
  o.max_wait = absl::Seconds(5);
  Fixture f = Make(o, std::chrono::microseconds(0));
  const absl::Time start = absl::Now();
  ScopedDeadline scope(start + absl::Milliseconds(400));
  auto v = f.batcher->Encode({"alone"}, TextKind::kQuery);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(390));
  EXPECT_EQ(f.batcher->stats().expired, 0);
}

TEST(BatchingEncoderTest, OptionsAreValidated) {
  BatchingEncoder::Options o;
  o.workers = 0;
  EXPECT_EQ(BatchingEncoder::Create(o, std::make_unique<FakeEncoder>(kDim)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BatchingEncoder::Create(BatchingEncoder::Options{}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace semrec
