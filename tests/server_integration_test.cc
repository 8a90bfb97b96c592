// Starts the real semrec server on 127.0.0.1 (port 0) with the generated test encoder and the demo
// catalog, and exercises every RPC through real channels and the generated client stubs, plus
// grpc.health.v1 and server reflection through their real method paths.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/sync_stream.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "google/protobuf/descriptor.pb.h"
#include "core/common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "grpc_wire.pb.h"
#include "gtest/gtest.h"
#include "semrec/v1/semrec.grpc.pb.h"
#include "server/testing/demo_server.h"

namespace semrec {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

class ServerIntegrationTest : public ::testing::Test {
 protected:
  // A failed ASSERT here would make GoogleTest report every test as skipped: keep the status
  // and fail each test in SetUp instead.
  static void SetUpTestSuite() {
    auto app = StartDemoServer([](ServerApp& listening) {
      channel_ = new std::shared_ptr<grpc::Channel>(grpc::CreateChannel(
          "127.0.0.1:" + std::to_string(listening.port()), grpc::InsecureChannelCredentials()));
      // Before the catalog is loaded the server listens but reports NOT_SERVING.
      not_serving_before_load_ = HealthStatus("") == testing::HealthCheckResponse::NOT_SERVING;
    });
    if (!app.ok()) {
      *setup_status_ = app.status();
      return;
    }
    app_ = app->release();
  }
  static void TearDownTestSuite() {
    delete channel_;
    delete app_;
  }

  void SetUp() override {
    ASSERT_TRUE(app_ != nullptr && setup_status_->ok()) << *setup_status_;
    recommender_ = v1::Recommender::NewStub(*channel_);
    catalog_ = v1::Catalog::NewStub(*channel_);
  }

  static testing::HealthCheckResponse::ServingStatus HealthStatus(const std::string& service) {
    grpc::ClientContext ctx;
    testing::HealthCheckRequest req;
    req.set_service(service);
    testing::HealthCheckResponse resp;
    grpc::Status s = grpc::internal::BlockingUnaryCall(
        channel_->get(),
        grpc::internal::RpcMethod("/grpc.health.v1.Health/Check",
                                  grpc::internal::RpcMethod::NORMAL_RPC),
        &ctx, req, &resp);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      return testing::HealthCheckResponse::SERVICE_UNKNOWN;
    }
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status();
  }

  static std::vector<testing::ServerReflectionResponse> Reflect(
      const std::vector<testing::ServerReflectionRequest>& requests) {
    grpc::ClientContext ctx;
    grpc::internal::RpcMethod method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                     grpc::internal::RpcMethod::BIDI_STREAMING);
    std::unique_ptr<grpc::ClientReaderWriter<testing::ServerReflectionRequest,
                                             testing::ServerReflectionResponse>>
        stream(grpc::internal::ClientReaderWriterFactory<
               testing::ServerReflectionRequest,
               testing::ServerReflectionResponse>::Create(channel_->get(), method, &ctx));
    std::vector<testing::ServerReflectionResponse> out;
    for (const auto& r : requests) {
      EXPECT_TRUE(stream->Write(r));
      testing::ServerReflectionResponse resp;
      EXPECT_TRUE(stream->Read(&resp));
      out.push_back(resp);
    }
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
    return out;
  }

  v1::RecommendResponse Recommend(const v1::RecommendRequest& req, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    v1::RecommendResponse resp;
    grpc::Status s = recommender_->Recommend(&ctx, req, &resp);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp;
  }

  static std::vector<std::string> Ids(const v1::RecommendResponse& resp) {
    std::vector<std::string> ids;
    for (const auto& i : resp.items()) ids.push_back(i.item_id());
    return ids;
  }

  static v1::Event MakeEvent(const std::string& item, v1::EventType type, int64_t seconds = 0) {
    v1::Event e;
    e.set_item_id(item);
    e.set_type(type);
    if (seconds) e.mutable_timestamp()->set_seconds(seconds);
    return e;
  }

  static ServerApp* app_;
  static absl::Status* setup_status_;
  static bool not_serving_before_load_;
  static std::shared_ptr<grpc::Channel>* channel_;
  std::unique_ptr<v1::Recommender::Stub> recommender_;
  std::unique_ptr<v1::Catalog::Stub> catalog_;
};
ServerApp* ServerIntegrationTest::app_ = nullptr;
absl::Status* ServerIntegrationTest::setup_status_ = new absl::Status();
bool ServerIntegrationTest::not_serving_before_load_ = false;
std::shared_ptr<grpc::Channel>* ServerIntegrationTest::channel_ = nullptr;

TEST_F(ServerIntegrationTest, HealthIsNotServingUntilLoadedThenServingForBothServices) {
  EXPECT_TRUE(not_serving_before_load_);
  EXPECT_EQ(HealthStatus(""), testing::HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthStatus("semrec.v1.Recommender"), testing::HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthStatus("semrec.v1.Catalog"), testing::HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthStatus("no.such.Service"), testing::HealthCheckResponse::SERVICE_UNKNOWN);
}

TEST_F(ServerIntegrationTest, ReflectionListsBothServicesAndDescribesThem) {
  testing::ServerReflectionRequest list;
  list.set_list_services("*");
  testing::ServerReflectionRequest symbol;
  symbol.set_file_containing_symbol("semrec.v1.Recommender");
  auto responses = Reflect({list, symbol});
  ASSERT_EQ(responses.size(), 2u);
  std::set<std::string> names;
  for (const auto& s : responses[0].list_services_response().service()) names.insert(s.name());
  EXPECT_THAT(names, Contains("semrec.v1.Recommender"));
  EXPECT_THAT(names, Contains("semrec.v1.Catalog"));
  EXPECT_THAT(names, Contains("grpc.health.v1.Health"));

  // What grpcurl needs to build requests without .proto files: the file descriptor.
  ASSERT_TRUE(responses[1].has_file_descriptor_response()) << responses[1].DebugString();
  bool found = false;
  for (const auto& bytes : responses[1].file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    if (file.package() != "semrec.v1") continue;
    for (const auto& service : file.service()) {
      if (service.name() != "Recommender") continue;
      std::set<std::string> methods;
      for (const auto& m : service.method()) methods.insert(m.name());
      EXPECT_EQ(methods, (std::set<std::string>{"Recommend", "Feedback", "SimilarItems", "Embed",
                                                "GetUser", "DeleteUser"}));
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(ServerIntegrationTest, EmptyRequestGetsPopularItemsAndKDefaultsToTen) {
  v1::RecommendRequest req;
  auto resp = Recommend(req);
  EXPECT_EQ(resp.items_size(), 10);
  req.set_k(3);
  req.set_include_items(true);
  req.set_explain(true);
  resp = Recommend(req);
  ASSERT_EQ(resp.items_size(), 3);
  EXPECT_FALSE(resp.items(0).item().text().empty());
  EXPECT_EQ(resp.items(0).reason(), v1::REASON_POPULAR);
}

TEST_F(ServerIntegrationTest, FeedbackChangesTheNextRecommendationForThatUser) {
  v1::RecommendRequest req;
  req.set_user_id("alice");
  req.set_k(5);
  req.set_explain(true);
  req.set_include_items(true);
  auto before = Recommend(req);

  v1::FeedbackRequest fb;
  fb.set_user_id("alice");
  for (const char* id : {"book-001", "book-005", "movie-001"}) {
    *fb.add_events() = MakeEvent(id, v1::LIKE);
  }
  grpc::ClientContext ctx;
  v1::FeedbackResponse fb_resp;
  ASSERT_TRUE(recommender_->Feedback(&ctx, fb, &fb_resp).ok());
  EXPECT_EQ(fb_resp.applied(), 3);

  auto after = Recommend(req);
  ASSERT_EQ(after.items_size(), 5);
  EXPECT_NE(Ids(before), Ids(after));
  EXPECT_THAT(Ids(after), Not(Contains("book-001")));  // seen
  // Recommendations now follow the liked space operas and say which liked item they come from.
  const auto& top = after.items(0);
  EXPECT_EQ(top.reason(), v1::REASON_USER_INTEREST);
  EXPECT_THAT(std::vector<std::string>({"book-001", "book-005", "movie-001"}),
              Contains(top.source_item_id()));
  EXPECT_THAT(top.explanation(), HasSubstr("because you liked"));
  // Most of them are about space, like what she liked (the demo encoder's similarity is lexical).
  int spacey = 0;
  for (const auto& rec : after.items()) {
    std::string text = rec.item().text();
    std::transform(text.begin(), text.end(), text.begin(), ::tolower);
    for (const char* word : {"space", "star", "galaxy", "planet", "orbit", "alien", "mars", "moon",
                             "astronaut", "fleet", "interstellar", "colony"}) {
      if (text.find(word) != std::string::npos) {
        ++spacey;
        break;
      }
    }
  }
  EXPECT_GE(spacey, 3) << after.DebugString();

  req.mutable_filter()->set_include_seen(true);
  req.set_k(50);
  EXPECT_THAT(Ids(Recommend(req)), Contains("book-001"));
}

TEST_F(ServerIntegrationTest, UnknownItemIsReportedPerEventAndTheRestApplied) {
  v1::FeedbackRequest fb;
  fb.set_user_id("bob");
  *fb.add_events() = MakeEvent("recipe-001", v1::CLICK);
  *fb.add_events() = MakeEvent("no-such-item", v1::CLICK);
  v1::Event rating = MakeEvent("recipe-002", v1::RATING, 1700000000);
  rating.set_value(5);
  rating.set_event_id("evt-1");
  *fb.add_events() = rating;
  grpc::ClientContext ctx;
  v1::FeedbackResponse resp;
  ASSERT_TRUE(recommender_->Feedback(&ctx, fb, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).outcome(), v1::APPLIED);
  EXPECT_EQ(resp.results(1).outcome(), v1::ITEM_NOT_FOUND);
  EXPECT_THAT(resp.results(1).message(), HasSubstr("no-such-item"));
  EXPECT_EQ(resp.results(2).outcome(), v1::APPLIED);
  EXPECT_EQ(resp.results(2).event_id(), "evt-1");
  EXPECT_EQ(resp.applied(), 2);

  // A retried event with the same event_id is applied once.
  v1::FeedbackRequest retry;
  retry.set_user_id("bob");
  *retry.add_events() = rating;
  grpc::ClientContext retry_ctx;
  ASSERT_TRUE(recommender_->Feedback(&retry_ctx, retry, &resp).ok());
  EXPECT_EQ(resp.results(0).outcome(), v1::DUPLICATE);

  grpc::ClientContext user_ctx;
  v1::GetUserRequest get;
  get.set_user_id("bob");
  v1::GetUserResponse user;
  ASSERT_TRUE(recommender_->GetUser(&user_ctx, get, &user).ok());
  EXPECT_EQ(user.event_count(), 2);
  EXPECT_EQ(user.seen_count(), 2);
  ASSERT_GE(user.recent_events_size(), 1);
  EXPECT_EQ(user.interest_nearest_items_size(), 5);

  grpc::ClientContext del_ctx;
  v1::DeleteUserRequest del;
  del.set_user_id("bob");
  v1::DeleteUserResponse deleted;
  ASSERT_TRUE(recommender_->DeleteUser(&del_ctx, del, &deleted).ok());
  EXPECT_TRUE(deleted.deleted());
  grpc::ClientContext gone_ctx;
  EXPECT_EQ(recommender_->GetUser(&gone_ctx, get, &user).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerIntegrationTest, BadInputGetsInvalidArgumentWithAClearMessage) {
  grpc::Status s;
  v1::RecommendRequest req;
  req.set_k(0);
  Recommend(req, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("k must be between 1 and 1000 (got 0)"));
  req.set_k(1001);
  Recommend(req, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto feedback_status = [&](v1::Event e, const std::string& user = "carol") {
    v1::FeedbackRequest fb;
    fb.set_user_id(user);
    *fb.add_events() = MakeEvent("recipe-001", v1::CLICK);
    *fb.add_events() = std::move(e);
    grpc::ClientContext ctx;
    v1::FeedbackResponse resp;
    return recommender_->Feedback(&ctx, fb, &resp);
  };
  v1::Event unknown_type = MakeEvent("recipe-001", static_cast<v1::EventType>(42));
  s = feedback_status(unknown_type);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("events[1].type is unknown (42)"));
  s = feedback_status(MakeEvent("recipe-001", v1::EVENT_TYPE_UNSPECIFIED));
  EXPECT_THAT(s.error_message(), HasSubstr("events[1].type is unset"));
  s = feedback_status(MakeEvent("", v1::LIKE));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("events[1] (LIKE): item_id is empty"));
  s = feedback_status(MakeEvent("recipe-001", v1::LIKE), "");
  EXPECT_THAT(s.error_message(), HasSubstr("user_id is empty"));
  // Nothing of a rejected request was applied.
  grpc::ClientContext ctx;
  v1::GetUserRequest get;
  get.set_user_id("carol");
  v1::GetUserResponse user;
  EXPECT_EQ(recommender_->GetUser(&ctx, get, &user).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext sim_ctx;
  v1::SimilarItemsRequest sim;
  sim.set_item_id("no-such-item");
  v1::RecommendResponse sim_resp;
  EXPECT_EQ(recommender_->SimilarItems(&sim_ctx, sim, &sim_resp).error_code(),
            grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext up_ctx;
  v1::UpsertItemsRequest up;
  up.add_items()->set_id("no-text");
  v1::UpsertItemsResponse up_resp;
  s = catalog_->UpsertItems(&up_ctx, up, &up_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("items[0].text is empty"));
}

TEST_F(ServerIntegrationTest, CatalogRpcsAndANewItemIsReachableByItsText) {
  v1::UpsertItemsRequest up;
  v1::Item* item = up.add_items();
  item->set_id("test-lamp");
  item->set_text("Tidewater Lamp. A brass reading lamp shaped like a lighthouse, with a warm dimmable glow.");
  item->add_categories("home");
  (*item->mutable_attributes())["title"] = "Tidewater Lamp";
  grpc::ClientContext ctx;
  v1::UpsertItemsResponse up_resp;
  ASSERT_TRUE(catalog_->UpsertItems(&ctx, up, &up_resp).ok());
  EXPECT_EQ(up_resp.created(), 1);

  v1::RecommendRequest req;
  req.set_query("brass lighthouse reading lamp");
  req.set_k(1);
  req.set_explain(true);
  auto resp = Recommend(req);
  ASSERT_EQ(resp.items_size(), 1);
  EXPECT_EQ(resp.items(0).item_id(), "test-lamp");
  EXPECT_EQ(resp.items(0).explanation(), "matches your search 'brass lighthouse reading lamp'");

  grpc::ClientContext sim_ctx;
  v1::SimilarItemsRequest sim;
  sim.set_item_id("book-001");
  sim.set_k(4);
  sim.mutable_filter()->add_include_categories("books");
  v1::RecommendResponse sim_resp;
  ASSERT_TRUE(recommender_->SimilarItems(&sim_ctx, sim, &sim_resp).ok());
  ASSERT_EQ(sim_resp.items_size(), 4);
  EXPECT_THAT(Ids(sim_resp), Not(Contains("book-001")));

  grpc::ClientContext embed_ctx;
  v1::EmbedRequest embed;
  embed.add_texts("Hello, world!");
  embed.set_return_tokens(true);
  v1::EmbedResponse embed_resp;
  ASSERT_TRUE(recommender_->Embed(&embed_ctx, embed, &embed_resp).ok());
  ASSERT_EQ(embed_resp.embeddings_size(), 1);
  EXPECT_EQ(embed_resp.embeddings(0).values_size(), embed_resp.dimension());
  EXPECT_EQ(embed_resp.embeddings(0).tokens(0), "[CLS]");
  EXPECT_EQ(embed_resp.embeddings(0).token_ids_size(), embed_resp.embeddings(0).tokens_size());

  grpc::ClientContext stats_ctx;
  v1::StatsResponse stats;
  ASSERT_TRUE(catalog_->Stats(&stats_ctx, v1::StatsRequest(), &stats).ok());
  EXPECT_GE(stats.items(), 300);
  EXPECT_EQ(stats.dimension(), embed_resp.dimension());

  grpc::ClientContext del_ctx;
  v1::DeleteItemsRequest del;
  del.add_ids("test-lamp");
  del.add_ids("never-existed");
  v1::DeleteItemsResponse del_resp;
  ASSERT_TRUE(catalog_->DeleteItems(&del_ctx, del, &del_resp).ok());
  EXPECT_EQ(del_resp.deleted(), 1);
  EXPECT_THAT(del_resp.not_found(), ::testing::ElementsAre("never-existed"));
  grpc::ClientContext get_ctx;
  v1::GetItemRequest get;
  get.set_id("test-lamp");
  v1::GetItemResponse got;
  EXPECT_EQ(catalog_->GetItem(&get_ctx, get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace semrec
