// The real server under more work than it can do: a request whose deadline passes while it waits
// for a saturated encoder is answered DEADLINE_EXCEEDED and never encoded, and beyond
// --max_inflight_requests expensive calls are refused with RESOURCE_EXHAUSTED at once while cheap
// ones still work.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "semrec/v1/semrec.grpc.pb.h"
#include "server/testing/demo_server.h"
#include "tests/testing/http_get.h"

namespace semrec {
namespace {

using ::testing::HasSubstr;

constexpr int kTextsPerPass = 64;

// One encoder worker that takes whole Embed calls through the batcher (no bulk bypass), so that
// a 64-text Embed occupies it for one long pass (the test encoder truncates at 128 tokens).
ServerOptions SaturableServerOptions() {
  ServerOptions options = DemoServerOptions();
  options.http_address = "127.0.0.1:0";
  options.batching.workers = 1;
  options.batching.max_batch_size = kTextsPerPass;
  options.batching.bulk_threshold = 1000;
  return options;
}

// An Embed of 64 distinct texts of at least 128 tokens each: one full-length forward pass.
v1::EmbedRequest LongEmbed(const std::string& tag) {
  v1::EmbedRequest req;
  std::string words;
  for (int i = 0; i < 40; ++i) words += " space opera jazz saxophone lamp";
  for (int i = 0; i < kTextsPerPass; ++i) req.add_texts(tag + std::to_string(i) + words);
  return req;
}

std::chrono::system_clock::time_point In(std::chrono::milliseconds ms) {
  return std::chrono::system_clock::now() + ms;
}

// Polls `done` every 2 ms for up to 20 s.
template <typename Predicate>
bool WaitUntil(Predicate done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

v1::StatsResponse Stats(v1::Catalog::Stub& catalog) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(std::chrono::seconds(5)));
  v1::StatsResponse resp;
  EXPECT_TRUE(catalog.Stats(&ctx, v1::StatsRequest(), &resp).ok());
  return resp;
}

TEST(OverloadTest, AShortDeadlineBehindASaturatedEncoderIsAnsweredUnencoded) {
  auto created = ServerApp::Create(SaturableServerOptions());
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<ServerApp> app = std::move(created).value();
  ASSERT_TRUE(app->LoadCatalog().ok());
  auto channel = grpc::CreateChannel(app->address(), grpc::InsecureChannelCredentials());
  auto recommender = v1::Recommender::NewStub(channel);
  auto catalog = v1::Catalog::NewStub(channel);
  const int64_t encoded_before = Stats(*catalog).encoder().batched_texts();

  // Two long Embeds: one in the worker's pass, the other queued behind it.
  std::vector<std::thread> busy;
  for (const char* tag : {"first ", "second "}) {
    busy.emplace_back([&recommender, tag] {
      grpc::ClientContext ctx;
      v1::EmbedResponse resp;
      EXPECT_TRUE(recommender->Embed(&ctx, LongEmbed(tag), &resp).ok());
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return Stats(*catalog).encoder().queued_texts() >= kTextsPerPass; }))
      << "the encoder never saturated";

  // A query behind them with 150 ms to live: its caller gives up long before its turn.
  v1::RecommendRequest query;
  query.set_query("a query nobody has asked before");
  grpc::ClientContext ctx;
  ctx.set_deadline(In(std::chrono::milliseconds(150)));
  v1::RecommendResponse resp;
  EXPECT_EQ(recommender->Recommend(&ctx, query, &resp).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  for (auto& t : busy) t.join();

  // The server answered it DEADLINE_EXCEEDED itself, and the encoder ran only the two Embeds.
  EXPECT_EQ(Stats(*catalog).encoder().batched_texts() - encoded_before, 2 * kTextsPerPass);
  const std::string metrics = HttpGet(app->http_port(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("semrec_encoder_expired_total 1\n"));
  EXPECT_THAT(metrics, HasSubstr("semrec_grpc_requests_total{code=\"DEADLINE_EXCEEDED\","
                                 "method=\"semrec.v1.Recommender/Recommend\"} 1\n"));
  app->Shutdown(absl::ZeroDuration());
}

TEST(OverloadTest, BeyondMaxInflightRequestsExpensiveCallsAreRefusedAtOnce) {
  ServerOptions options = SaturableServerOptions();
  options.max_inflight_requests = 1;
  auto created = ServerApp::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<ServerApp> app = std::move(created).value();
  ASSERT_TRUE(app->LoadCatalog().ok());
  auto channel = grpc::CreateChannel(app->address(), grpc::InsecureChannelCredentials());
  auto recommender = v1::Recommender::NewStub(channel);
  auto catalog = v1::Catalog::NewStub(channel);

  // A long Embed takes the only slot.
  std::thread busy([&recommender] {
    grpc::ClientContext ctx;
    v1::EmbedResponse resp;
    EXPECT_TRUE(recommender->Embed(&ctx, LongEmbed("slot holder "), &resp).ok());
  });
  ASSERT_TRUE(WaitUntil([&] {
    return HttpGet(app->http_port(), "/metrics").find("semrec_inflight_requests 1\n") !=
           std::string::npos;
  }));

  v1::RecommendRequest popular;
  popular.set_strategy(v1::POPULAR);
  grpc::ClientContext ctx;
  ctx.set_deadline(In(std::chrono::seconds(10)));
  v1::RecommendResponse resp;
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status refused = recommender->Recommend(&ctx, popular, &resp);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("overloaded"));
  EXPECT_THAT(refused.error_message(), HasSubstr("retry with backoff"));
  EXPECT_LT(took, std::chrono::milliseconds(250)) << "refused, but not at once";
  // Cheap reads are not counted against the limit.
  EXPECT_EQ(Stats(*catalog).items(), 312);
  busy.join();

  grpc::ClientContext again;
  EXPECT_TRUE(recommender->Recommend(&again, popular, &resp).ok()) << "the slot was not freed";
  const std::string metrics = HttpGet(app->http_port(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("semrec_overload_rejected_total 1\n"));
  EXPECT_THAT(metrics, HasSubstr("semrec_max_inflight_requests 1\n"));
  EXPECT_THAT(metrics, HasSubstr("semrec_inflight_requests 0\n"));
  app->Shutdown(absl::ZeroDuration());
}

}  // namespace
}  // namespace semrec
