// Replays every `grpcurl -plaintext -d '<json>' HOST SERVICE/METHOD` line of README.md, in order,
// against the real server started as `make run` starts it (demo encoder, demo catalog): the JSON
// is parsed exactly as grpcurl does (proto3 JSON mapping, unknown fields rejected), sent through
// the method's real path, and must succeed. A few answers are checked for what the README says.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <fstream>
#include <map>
#include <regex>

#include "core/common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "grpc_wire.pb.h"
#include "gtest/gtest.h"
#include "semrec/v1/semrec.pb.h"
#include "server/testing/demo_server.h"

namespace semrec {
namespace {

using google::protobuf::Message;

struct Example {
  std::string json;    // empty when the line has no -d
  std::string method;  // e.g. semrec.v1.Recommender/Recommend
  int line = 0;
};

std::vector<Example> ReadExamples(const std::string& path) {
  std::ifstream in(path);
  std::vector<Example> out;
  std::string line;
  const std::regex with_data(R"(^grpcurl -plaintext -d '([^']*)' \S+ (\S+/\S+)\s*$)");
  const std::regex without_data(R"(^grpcurl -plaintext \S+ (\S+/\S+)\s*$)");
  for (int n = 1; std::getline(in, line); ++n) {
    std::smatch m;
    if (std::regex_match(line, m, with_data)) {
      out.push_back({m[1], m[2], n});
    } else if (std::regex_match(line, m, without_data)) {
      out.push_back({"", m[1], n});
    }
  }
  return out;
}

// Request and response prototypes for a method: the generated semrec.v1 types, and the test's
// wire-compatible copies for grpc.health.v1 (whose C++ types Debian does not ship).
std::pair<const Message*, const Message*> Prototypes(const std::string& method) {
  if (method == "grpc.health.v1.Health/Check") {
    return {&testing::HealthCheckRequest::default_instance(),
            &testing::HealthCheckResponse::default_instance()};
  }
  std::string dotted = method;
  dotted[dotted.find('/')] = '.';
  const auto* m = google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(dotted);
  if (m == nullptr) return {nullptr, nullptr};
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  return {factory->GetPrototype(m->input_type()), factory->GetPrototype(m->output_type())};
}

TEST(ReadmeExamplesTest, EveryGrpcurlExampleWorksAsWritten) {
  const std::vector<Example> examples = ReadExamples(TestSourceDir() + "/README.md");
  ASSERT_GE(examples.size(), 15u) << "README.md grpcurl examples not found";

  auto app = StartDemoServer();  // as `make run`: the demo encoder and catalog
  ASSERT_TRUE(app.ok()) << app.status();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*app)->port()),
                                     grpc::InsecureChannelCredentials());

  std::map<std::string, std::string> last_answer;  // request json -> response json
  for (const Example& ex : examples) {
    SCOPED_TRACE("README.md:" + std::to_string(ex.line) + " " + ex.method);
    auto [request_proto, response_proto] = Prototypes(ex.method);
    ASSERT_NE(request_proto, nullptr) << "unknown method " << ex.method;
    std::unique_ptr<Message> request(request_proto->New());
    std::unique_ptr<Message> response(response_proto->New());
    if (!ex.json.empty()) {
      google::protobuf::util::JsonParseOptions strict;
      strict.ignore_unknown_fields = false;
      auto parsed = google::protobuf::util::JsonStringToMessage(ex.json, request.get(), strict);
      ASSERT_TRUE(parsed.ok()) << parsed.ToString();
    }
    grpc::ClientContext ctx;
    grpc::Status status = grpc::internal::BlockingUnaryCall<Message, Message>(
        channel.get(),
        grpc::internal::RpcMethod(("/" + ex.method).c_str(), grpc::internal::RpcMethod::NORMAL_RPC),
        &ctx, *request, response.get());
    ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(*response, &json).ok());
    last_answer[ex.json] = json;
  }

  // What the README promises about some of the answers.
  const std::string alice =
      last_answer[R"({"user_id": "alice", "k": 5, "explain": true})"];
  EXPECT_THAT(alice, ::testing::HasSubstr("because you liked"));
  EXPECT_THAT(alice, ::testing::Not(::testing::HasSubstr("\"itemId\":\"book-001\"")));  // seen
  EXPECT_THAT(last_answer[R"({"query": "brass lighthouse lamp", "k": 1})"],
              ::testing::HasSubstr("\"itemId\":\"lamp-1\""));
  EXPECT_THAT(last_answer[R"({"service": "semrec.v1.Recommender"})"],
              ::testing::HasSubstr("SERVING"));
  (*app)->Shutdown(absl::ZeroDuration());
}

}  // namespace
}  // namespace semrec
