// The server's HTTP endpoint: /readyz follows health (503 until the catalog is loaded), /metrics
// counts every RPC by method and status code, exports engine and storage state, and passes
// promtool.
#include <cstdio>
#include <fstream>

#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "core/storage/testing/temp_dir.h"
#include "semrec/v1/semrec.grpc.pb.h"
#include "server/testing/demo_server.h"
#include "tests/testing/http_get.h"

namespace semrec {
namespace {

using ::testing::HasSubstr;

TEST(MetricsEndpointTest, ReadinessFollowsTheCatalogAndMetricsCountEveryRpc) {
  ServerOptions options = DemoServerOptions();
  options.http_address = "127.0.0.1:0";
  ScopedTempDir data_dir;
  ASSERT_FALSE(data_dir.path().empty());
  options.durability.data_dir = data_dir.path();  // the storage metrics too
  auto created = ServerApp::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<ServerApp> app = std::move(created).value();
  ASSERT_GT(app->http_port(), 0);
  EXPECT_THAT(HttpGet(app->http_port(), "/readyz"), HasSubstr(" 503 "));
  EXPECT_THAT(HttpGet(app->http_port(), "/healthz"), HasSubstr(" 200 "));
  ASSERT_TRUE(app->LoadCatalog().ok());
  EXPECT_THAT(HttpGet(app->http_port(), "/readyz"), HasSubstr(" 200 "));

  auto stub = v1::Recommender::NewStub(
      grpc::CreateChannel(app->address(), grpc::InsecureChannelCredentials()));
  v1::RecommendRequest ok;
  ok.set_query("jazz saxophone");
  v1::RecommendRequest bad;
  bad.set_k(0);
  v1::RecommendResponse resp;
  for (const auto* req : {&ok, &ok, &bad}) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-request-id", "req-42");
    (void)stub->Recommend(&ctx, *req, &resp);
    // The request id is echoed back for correlating client and server logs.
    auto echoed = ctx.GetServerInitialMetadata().find("x-request-id");
    ASSERT_NE(echoed, ctx.GetServerInitialMetadata().end());
    EXPECT_EQ(std::string(echoed->second.data(), echoed->second.size()), "req-42");
  }

  const std::string response = HttpGet(app->http_port(), "/metrics");
  EXPECT_THAT(response, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(response, HasSubstr("semrec_grpc_requests_total{code=\"OK\",method=\"semrec.v1.Recommender/Recommend\"} 2"));
  EXPECT_THAT(response, HasSubstr("semrec_grpc_requests_total{code=\"INVALID_ARGUMENT\",method=\"semrec.v1.Recommender/Recommend\"} 1"));
  EXPECT_THAT(response, HasSubstr("semrec_grpc_request_duration_seconds_count{method=\"semrec.v1.Recommender/Recommend\"} 3"));
  EXPECT_THAT(response, HasSubstr("semrec_items 312"));
  EXPECT_THAT(response, HasSubstr("semrec_users 0"));
  EXPECT_THAT(response, HasSubstr("semrec_compact_users 0"));
  EXPECT_THAT(response, HasSubstr("semrec_embedding_cache_misses_total 1"));
  EXPECT_THAT(response, HasSubstr("semrec_build_info{version="));
  EXPECT_THAT(response, HasSubstr("semrec_stage_duration_seconds_count{stage=\"ann\"} 2"));
  EXPECT_THAT(response, HasSubstr("semrec_stage_duration_seconds_bucket{stage=\"encode\",le="));
  // The catalog import was logged (312 items in batches of 256: two records, each synced).
  EXPECT_THAT(response, HasSubstr("semrec_stage_duration_seconds_count{stage=\"log\"} 2"));
  EXPECT_THAT(response, HasSubstr("semrec_wal_fsync_duration_seconds_count 2"));
  EXPECT_THAT(response, HasSubstr("semrec_snapshot_age_seconds "));
  EXPECT_THAT(response, HasSubstr("semrec_wal_bytes "));
  EXPECT_THAT(response, HasSubstr("semrec_snapshot_failures_total 0"));
  app->Shutdown(absl::ZeroDuration());

  const std::string promtool = SEMREC_PROMTOOL;
  if (promtool.empty()) GTEST_SKIP() << "promtool not found (Debian package prometheus)";
  const std::string body = response.substr(response.find("\r\n\r\n") + 4);
  const std::string path = ::testing::TempDir() + "/semrec_metrics.txt";
  std::ofstream(path) << body;
  EXPECT_EQ(std::system((promtool + " check metrics < " + path).c_str()), 0);
}

}  // namespace
}  // namespace semrec
