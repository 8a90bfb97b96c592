// Starts the real semrec server in-process on 127.0.0.1 (port 0) with the generated test encoder
// and the demo catalog, then drives it through SemrecClient (calls, status codes, deadline,
// retries) and through the built `semrec` binary (exit codes, output).
#include "client/semrec_client.h"

#include <google/protobuf/util/json_util.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/demo_server.h"

namespace semrec {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class InProcessServerTest : public ::testing::Test {
 protected:
  // A failed ASSERT here would make GoogleTest report every test as skipped: keep the status
  // and fail each test in SetUp instead.
  static void SetUpTestSuite() {
    auto app = StartDemoServer();
    if (!app.ok()) {
      *setup_status_ = app.status();
      return;
    }
    app_ = app->release();
  }
  static void TearDownTestSuite() {
    delete app_;
    app_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(app_ != nullptr && setup_status_->ok()) << *setup_status_; }

  static std::string Target() { return absl::StrCat("127.0.0.1:", app_->port()); }

  static ServerApp* app_;
  static absl::Status* setup_status_;
};
ServerApp* InProcessServerTest::app_ = nullptr;
absl::Status* InProcessServerTest::setup_status_ = new absl::Status();

class SemrecClientTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    ClientOptions options;
    options.target = Target();
    auto client = SemrecClient::Create(options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(client).value();
  }

  static v1::Item MakeItem(const std::string& id, const std::string& text) {
    v1::Item item;
    item.set_id(id);
    item.set_text(text);
    item.add_categories("client-test");
    (*item.mutable_attributes())["title"] = "Title of " + id;
    return item;
  }

  std::unique_ptr<SemrecClient> client_;
};

// A 127.0.0.1 port that refuses connections: bound (so nobody else takes it) but not listening.
class RefusedPort {
 public:
  RefusedPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~RefusedPort() { close(fd_); }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(SemrecClientTest, UpsertItemsThenGetItemReturnsThemAndRepeatsAreUnchanged) {
  v1::UpsertItemsRequest upsert;
  *upsert.add_items() =
      MakeItem("client-a", "A quiet lighthouse keeper writes letters to the sea.");
  *upsert.add_items() = MakeItem("client-b", "Spicy noodle soup with ginger and lime.");
  auto created = client_->UpsertItems(upsert);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->created(), 2);

  auto repeated = client_->UpsertItems(upsert);
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  EXPECT_EQ(repeated->unchanged(), 2);
  EXPECT_EQ(repeated->created(), 0);

  v1::GetItemRequest get;
  get.set_id("client-b");
  auto item = client_->GetItem(get);
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->item().text(), "Spicy noodle soup with ginger and lime.");
  EXPECT_THAT(item->item().categories(), Contains("client-test"));
  EXPECT_EQ(item->item().attributes().at("title"), "Title of client-b");

  auto stats = client_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->items(), 314);
}

TEST_F(SemrecClientTest, FeedbackChangesTheNextRecommendation) {
  v1::RecommendRequest recommend;
  recommend.set_user_id("client-feedback-user");
  recommend.set_k(5);
  recommend.set_explain(true);
  auto before = client_->Recommend(recommend);
  ASSERT_TRUE(before.ok()) << before.status();

  v1::FeedbackRequest feedback;
  feedback.set_user_id("client-feedback-user");
  v1::Event* like = feedback.add_events();
  like->set_item_id("book-004");
  like->set_type(v1::LIKE);
  auto applied = client_->Feedback(feedback);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->applied(), 1);
  ASSERT_EQ(applied->results_size(), 1);
  EXPECT_EQ(applied->results(0).outcome(), v1::APPLIED);

  auto after = client_->Recommend(recommend);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_FALSE(after->items().empty());
  std::vector<std::string> ids;
  for (const auto& item : after->items()) ids.push_back(item.item_id());
  EXPECT_THAT(ids, Not(Contains("book-004")));  // seen items are excluded by default
  EXPECT_EQ(after->items(0).reason(), v1::REASON_USER_INTEREST);
  EXPECT_EQ(after->items(0).source_item_id(), "book-004");
  EXPECT_THAT(after->items(0).explanation(), HasSubstr("The Quiet Between Suns"));
  EXPECT_NE(before->items(0).reason(), v1::REASON_USER_INTEREST);
}

TEST_F(SemrecClientTest, ErrorsKeepTheGrpcCodeAndMessage) {
  v1::RecommendRequest zero_k;
  zero_k.set_k(0);
  auto recommend = client_->Recommend(zero_k);
  EXPECT_EQ(recommend.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(recommend.status().message()), HasSubstr("k must be"));

  v1::GetUserRequest unknown;
  unknown.set_user_id("client-nobody");
  auto user = client_->GetUser(unknown);
  EXPECT_EQ(user.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(user.status().message()), HasSubstr("client-nobody"));

  v1::GetItemRequest missing;
  missing.set_id("client-no-such-item");
  EXPECT_EQ(client_->GetItem(missing).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SemrecClientTest, DeadlineFromOptionsIsApplied) {
  ClientOptions options;
  options.target = Target();
  options.deadline = absl::Milliseconds(5);
  auto hurried = SemrecClient::Create(options);
  ASSERT_TRUE(hurried.ok()) << hurried.status();
  // Embedding 64 texts of 128 tokens each (the model's maximum) takes far longer than 5 ms.
  v1::EmbedRequest slow;
  std::string words;
  for (int i = 0; i < 200; ++i) words += "space opera fleet ";
  for (int i = 0; i < 64; ++i) slow.add_texts(words + std::to_string(i));
  EXPECT_EQ((*hurried)->Embed(slow).status().code(), absl::StatusCode::kDeadlineExceeded);
  // The same call with the default deadline works.
  EXPECT_TRUE(client_->Stats().ok());
}

TEST_F(SemrecClientTest, CreateRejectsInvalidOptions) {
  ClientOptions no_target;
  no_target.target = "";
  EXPECT_EQ(SemrecClient::Create(no_target).status().code(), absl::StatusCode::kInvalidArgument);
  ClientOptions no_deadline;
  no_deadline.deadline = absl::ZeroDuration();
  EXPECT_EQ(SemrecClient::Create(no_deadline).status().code(), absl::StatusCode::kInvalidArgument);
  ClientOptions negative_retries;
  negative_retries.max_retries = -1;
  EXPECT_EQ(SemrecClient::Create(negative_retries).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SemrecClientRetryTest, UnreachableServerIsRetriedWithBackoffThenUnavailable) {
  RefusedPort port;
  ASSERT_NE(port.port(), 0);
  ClientOptions options;
  options.target = port.target();
  options.max_retries = 3;
  options.initial_backoff = absl::Milliseconds(50);
  auto client = SemrecClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();

  const absl::Time start = absl::Now();
  auto stats = (*client)->Stats();
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kUnavailable) << stats.status();
  EXPECT_GE(elapsed, absl::Milliseconds(50 + 100 + 200));  // three back-offs: four attempts
  EXPECT_LT(elapsed, options.deadline);
}

TEST(SemrecClientRetryTest, FeedbackIsRetriedOnlyWhenEveryEventHasAnId) {
  RefusedPort port;
  ASSERT_NE(port.port(), 0);
  ClientOptions options;
  options.target = port.target();
  options.max_retries = 1;
  options.initial_backoff = absl::Seconds(1);

  v1::FeedbackRequest request;
  request.set_user_id("u");
  request.add_events()->set_item_id("i");
  request.mutable_events(0)->set_type(v1::CLICK);
  {
    auto client = SemrecClient::Create(options);
    ASSERT_TRUE(client.ok()) << client.status();
    const absl::Time start = absl::Now();
    EXPECT_EQ((*client)->Feedback(request).status().code(), absl::StatusCode::kUnavailable);
    EXPECT_LT(absl::Now() - start, options.initial_backoff) << "retried without event ids";
  }
  request.mutable_events(0)->set_event_id("e-1");
  {
    auto client = SemrecClient::Create(options);
    ASSERT_TRUE(client.ok()) << client.status();
    const absl::Time start = absl::Now();
    EXPECT_EQ((*client)->Feedback(request).status().code(), absl::StatusCode::kUnavailable);
    EXPECT_GE(absl::Now() - start, options.initial_backoff);
  }
}

TEST(SemrecClientRetryTest, RetriesStopAtTheDeadline) {
  RefusedPort port;
  ASSERT_NE(port.port(), 0);
  ClientOptions options;
  options.target = port.target();
  options.deadline = absl::Seconds(1);
  options.max_retries = 100;
  options.initial_backoff = absl::Milliseconds(100);  // attempts at 0, 0.1, 0.3, 0.7 s
  auto client = SemrecClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  const absl::Time start = absl::Now();
  EXPECT_EQ((*client)->Stats().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, options.deadline);
}

TEST(SemrecClientRetryTest, RetriesReachAServerThatComesUpLate) {
  auto port = std::make_unique<RefusedPort>();
  ASSERT_NE(port->port(), 0);
  ClientOptions options;
  options.target = port->target();
  options.deadline = absl::Seconds(30);
  options.max_retries = 10;
  options.initial_backoff = absl::Milliseconds(50);
  auto client = SemrecClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();

  // The server starts on the refused port once the first attempts have failed.
  std::unique_ptr<ServerApp> app;
  absl::Status app_status;
  std::thread starter([&] {
    absl::SleepFor(absl::Milliseconds(300));
    ServerOptions server_options;
    server_options.listen_address = port->target();
    server_options.encoder.model_dir = TestDataDir() + "/encoder";
    port.reset();
    auto created = ServerApp::Create(server_options);
    app_status = created.status();
    if (created.ok()) app = std::move(created).value();
  });
  auto stats = (*client)->Stats();
  starter.join();
  ASSERT_TRUE(app_status.ok()) << app_status;
  EXPECT_TRUE(stats.ok()) << stats.status();
}

// ---------------------------------------------------------------------------------------------
// The `semrec` binary against the same in-process server.

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class SemrecCliTest : public InProcessServerTest {
 protected:
  // Runs `semrec --target=<the server> args...`; stdout and stderr captured apart.
  static CliResult RunCli(const std::vector<std::string>& args) {
    const std::string err_path = TempPath("stderr.txt");
    std::string command = ShellQuote(SEMREC_CLI_PATH) + " --target=" + Target();
    for (const std::string& a : args) command += " " + ShellQuote(a);
    command += " 2>" + ShellQuote(err_path);
    CliResult result;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.err = ReadFile(err_path);
    return result;
  }

  static std::string TempPath(const std::string& name) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return absl::StrCat(::testing::TempDir(), "/semrec_cli_", info->name(), "_", getpid(), "_",
                        name);
  }

  static std::string WriteTempFile(const std::string& name, const std::string& contents) {
    const std::string path = TempPath(name);
    std::ofstream(path) << contents;
    return path;
  }
};

TEST_F(SemrecCliTest, ImportItemsThenRecommendJson) {
  const std::string items = WriteTempFile(
      "items.jsonl",
      R"({"id": "cli-1", "text": "A haunted lighthouse on a stormy coast.", "categories": ["cli-test"], "attributes": {"title": "Storm Light"}}
{"id": "cli-2", "text": "Grilled peaches with honey and thyme.", "categories": ["cli-test"], "attributes": {"title": "Summer Peaches"}}

{"id": "cli-3", "text": "A chess prodigy's first tournament abroad.", "categories": ["cli-test"], "attributes": {"title": "Opening Moves", "year": 2001}}
)");
  CliResult import = RunCli({"import", "items", items, "--batch=2"});
  ASSERT_EQ(import.exit_code, 0) << import.err;
  EXPECT_THAT(import.out, AllOf(StartsWith("imported 3 items"), HasSubstr("3 created")));
  EXPECT_THAT(import.err, HasSubstr("100%"));  // progress, one line per 10% when not a TTY

  CliResult recommend = RunCli({"recommend", "--json", "--query=stormy lighthouse", "--k=3",
                                "--include-categories=cli-test", "--explain"});
  ASSERT_EQ(recommend.exit_code, 0) << recommend.err;
  v1::RecommendResponse response;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(recommend.out, &response).ok())
      << recommend.out;
  ASSERT_EQ(response.items_size(), 3);
  for (const auto& item : response.items()) {
    EXPECT_THAT(item.item_id(), StartsWith("cli-"));
    EXPECT_FALSE(item.item().attributes().at("title").empty());
  }

  CliResult table =
      RunCli({"recommend", "--query=stormy lighthouse", "--k=3", "--include-categories=cli-test"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, AllOf(HasSubstr("Storm Light"), HasSubstr("Opening Moves")));
}

TEST_F(SemrecCliTest, ImportItemsWithEmbeddingsSkipsTheEncoderAndNamesABadLine) {
  CliResult embed = RunCli({"embed", "--json", "probe"});
  ASSERT_EQ(embed.exit_code, 0) << embed.err;
  v1::EmbedResponse probe;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(embed.out, &probe).ok()) << embed.out;
  const int dim = probe.dimension();
  ASSERT_GT(dim, 1);
  // Two items with unrelated texts and one vector: only the given embeddings make them twins.
  std::string vector = "[";
  for (int i = 0; i < dim; ++i) absl::StrAppend(&vector, i ? "," : "", i % 7 == 0 ? 3 : -0.5);
  vector += "]";
  const std::string good = WriteTempFile(
      "vectors.jsonl",
      absl::StrCat(R"({"id":"vec-a","text":"a lighthouse keeper's diary","categories":["vec"],"embedding":)",
                   vector, "}\n",
                   R"({"id":"vec-b","text":"peach cobbler for twelve","categories":["vec"],"embedding":)",
                   vector, "}\n",
                   R"({"id":"vec-c","text":"chess openings explained","categories":["vec"]})", "\n"));
  CliResult import = RunCli({"import", "items", good, "--batch=2"});
  ASSERT_EQ(import.exit_code, 0) << import.err;
  EXPECT_THAT(import.out, AllOf(StartsWith("imported 3 items"), HasSubstr("3 created")));
  CliResult similar = RunCli({"similar", "vec-a", "--json", "--k=1"});
  ASSERT_EQ(similar.exit_code, 0) << similar.err;
  v1::RecommendResponse twins;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(similar.out, &twins).ok()) << similar.out;
  ASSERT_EQ(twins.items_size(), 1);
  EXPECT_EQ(twins.items(0).item_id(), "vec-b");
  EXPECT_NEAR(twins.items(0).score(), 1.0, 1e-3);

  // A malformed embedding on line 3 stops the import after the first batch, and says so.
  const std::string bad = WriteTempFile(
      "bad_vectors.jsonl",
      absl::StrCat(R"({"id":"vec-d","text":"d","embedding":)", vector, "}\n",
                   R"({"id":"vec-e","text":"e"})", "\n",
                   R"({"id":"vec-f","text":"f","embedding":[1,"two"]})", "\n"));
  CliResult failed = RunCli({"import", "items", bad, "--batch=2"});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_THAT(failed.err, AllOf(HasSubstr("bad_vectors.jsonl:3: \"embedding\""),
                                HasSubstr("2 items were imported before it")));
  // A wrong dimension is the server's INVALID_ARGUMENT, naming the item.
  const std::string short_vector = WriteTempFile(
      "short.jsonl", R"({"id":"vec-g","text":"g","embedding":[1,2,3]})" "\n");
  CliResult rejected = RunCli({"import", "items", short_vector});
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_THAT(rejected.err, AllOf(HasSubstr("INVALID_ARGUMENT"), HasSubstr("has 3 values"),
                                  HasSubstr("vec-g")));
}

TEST_F(SemrecCliTest, ImportItemsRateSpacesTheCalls) {
  const std::string items = WriteTempFile(
      "paced.jsonl", R"({"id":"paced-1","text":"one"}
{"id":"paced-2","text":"two"}
{"id":"paced-3","text":"three"}
)");
  // 10 items/s, one per call: the second call starts at 0.1 s, the third at 0.2 s.
  const absl::Time start = absl::Now();
  CliResult import = RunCli({"import", "items", items, "--batch=1", "--rate=10"});
  ASSERT_EQ(import.exit_code, 0) << import.err;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_THAT(import.out, StartsWith("imported 3 items"));
  EXPECT_EQ(RunCli({"import", "items", items, "--rate=-1"}).exit_code, 2);
}

TEST_F(SemrecCliTest, FeedbackIsAppliedAndShowsInTheUserProfile) {
  CliResult feedback = RunCli({"feedback", "cli-user", "book-002", "like"});
  ASSERT_EQ(feedback.exit_code, 0) << feedback.err;
  EXPECT_THAT(feedback.out, StartsWith("APPLIED"));

  CliResult user = RunCli({"--json", "user", "cli-user"});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  v1::GetUserResponse profile;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(user.out, &profile).ok()) << user.out;
  EXPECT_EQ(profile.event_count(), 1);
  ASSERT_EQ(profile.recent_events_size(), 1);
  EXPECT_EQ(profile.recent_events(0).item_id(), "book-002");
  EXPECT_EQ(profile.recent_events(0).type(), v1::LIKE);
}

TEST_F(SemrecCliTest, TokenizeShowsTheModelsTokens) {
  CliResult tok = RunCli({"tokenize", "Space opera"});
  ASSERT_EQ(tok.exit_code, 0) << tok.err;
  EXPECT_THAT(tok.out, HasSubstr("4 tokens: [CLS] space opera [SEP]"));
  EXPECT_THAT(tok.out, HasSubstr("ids: "));
}

TEST_F(SemrecCliTest, ImportEventsReportsEachOutcome) {
  const std::string events = WriteTempFile(
      "events.jsonl",
      R"({"user_id": "cli-e1", "item_id": "book-001", "type": "RATING", "value": 4, "ts": 874724710}
{"user_id": "cli-e1", "item_id": "no-such-item", "type": "CLICK", "ts": 874724720}
{"user_id": "cli-e2", "item_id": "book-003", "type": "like", "ts": 874724730, "event_id": "x"}
{"user_id": "cli-e2", "item_id": "book-003", "type": "LIKE", "ts": 874724730, "event_id": "x"}
)");
  CliResult import = RunCli({"import", "events", events});
  ASSERT_EQ(import.exit_code, 0) << import.err;
  EXPECT_THAT(import.out, AllOf(HasSubstr("replayed 4 of 4 events in 2 calls"),
                                HasSubstr("2 applied"), HasSubstr("1 item not found"),
                                HasSubstr("1 duplicates"), HasSubstr("0 errors")));

  const std::string malformed = WriteTempFile("bad.jsonl", "{\"user_id\": \"u\", \"type\": 3}\n");
  CliResult bad = RunCli({"import", "events", malformed});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, AllOf(StartsWith("error: INVALID_ARGUMENT: "), HasSubstr(":1: ")));
}

TEST_F(SemrecCliTest, UsageErrorsExitWith2AndPrintUsage) {
  CliResult none = RunCli({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("usage: semrec"));

  CliResult bad_type = RunCli({"feedback", "cli-user", "book-001", "LOVE"});
  EXPECT_EQ(bad_type.exit_code, 2);
  EXPECT_THAT(bad_type.err, AllOf(HasSubstr("unknown event type 'LOVE'"), HasSubstr("LIKE"),
                                  HasSubstr("PURCHASE")));

  EXPECT_EQ(RunCli({"recommend", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(RunCli({"recommend", "--k=many"}).exit_code, 2);
  EXPECT_EQ(RunCli({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(RunCli({"similar"}).exit_code, 2);
}

TEST_F(SemrecCliTest, RpcErrorsExitWith1WithCodeAndMessage) {
  CliResult user = RunCli({"user", "cli-nobody"});
  EXPECT_EQ(user.exit_code, 1);
  EXPECT_THAT(user.err, StartsWith("error: NOT_FOUND: "));
  EXPECT_THAT(user.err, HasSubstr("cli-nobody"));

  CliResult k0 = RunCli({"recommend", "--k=0"});
  EXPECT_EQ(k0.exit_code, 1);
  EXPECT_THAT(k0.err, StartsWith("error: INVALID_ARGUMENT: "));
}

TEST_F(SemrecCliTest, EvalScoresEveryStrategyAndWritesJsonAndChart) {
  // Twelve items of the demo catalog, and 31 events: five for each of six users, one for a
  // seventh (no test case).
  std::ifstream catalog(TestSourceDir() + "/examples/catalog.jsonl");
  std::string items, line;
  std::vector<std::string> ids;
  while (ids.size() < 12 && std::getline(catalog, line)) {
    items += line + "\n";
    ids.push_back(nlohmann::json::parse(line).at("id").get<std::string>());
  }
  ASSERT_EQ(ids.size(), 12u);
  std::string events;
  int64_t ts = 1700000000;
  for (int round = 0; round < 5; ++round) {
    for (int u = 0; u < 6; ++u) {
      events += nlohmann::json{{"user_id", absl::StrCat("eval-u", u)},
                               {"item_id", ids[(u * 2 + round * 3) % ids.size()]},
                               {"type", "RATING"},
                               {"value", 1 + (u + round) % 5},
                               {"ts", ts++}}
                    .dump() +
                "\n";
    }
  }
  events += R"({"user_id": "eval-once", "item_id": ")" + ids[0] +
            R"(", "type": "LIKE", "ts": 1700000100})" + "\n";
  const std::string items_path = WriteTempFile("items.jsonl", items);
  const std::string events_path = WriteTempFile("events.jsonl", events);
  const std::string json_path = TempPath("eval.json");
  const std::string chart_path = TempPath("eval.png");

  CliResult eval = RunCli({"eval", "--items=" + items_path, "--events=" + events_path, "--k=5",
                           "--json_out=" + json_path, "--chart=" + chart_path, "--parallel=2"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_THAT(eval.out, AllOf(HasSubstr("HR@5"), HasSubstr("NDCG@5"), HasSubstr("POPULAR")));
  EXPECT_THAT(eval.err, HasSubstr("100%"));  // progress of the replay

  const nlohmann::json report = nlohmann::json::parse(ReadFile(json_path), nullptr, false);
  ASSERT_TRUE(report.is_object()) << ReadFile(json_path);
  EXPECT_EQ(report["parameters"]["k"], 5);
  EXPECT_EQ(report["dataset"]["events"], 31);
  EXPECT_EQ(report["dataset"]["users"], 7);
  EXPECT_EQ(report["dataset"]["single_event_users"], 1);
  EXPECT_EQ(report["dataset"]["test_cases"], 6);
  EXPECT_EQ(report["dataset"]["catalog_items"], 12);
  EXPECT_EQ(report["replay"]["applied"], 25);
  EXPECT_EQ(report["import"]["items"], 12);
  std::vector<std::string> strategies;
  for (const auto& s : report["strategies"]) {
    strategies.push_back(s["strategy"]);
    EXPECT_EQ(s["test_cases"], 6);
    EXPECT_GE(s["hr"].get<double>(), 0);
    EXPECT_LE(s["hr"].get<double>(), 1);
    EXPECT_GE(s["ndcg"].get<double>(), 0);
    EXPECT_LE(s["ndcg"].get<double>(), s["hr"].get<double>());
    EXPECT_GE(s["coverage"].get<double>(), 0);
    EXPECT_LE(s["coverage"].get<double>(), 1);
    EXPECT_GE(s["long_tail_share"].get<double>(), 0);
    EXPECT_LE(s["long_tail_share"].get<double>(), 1);
    EXPECT_GT(s["recommended_slots"].get<int>(), 0);
    EXPECT_GT(s["latency_ms"]["p50"].get<double>(), 0);
    EXPECT_FALSE(s.contains("error")) << s.dump();
  }
  EXPECT_THAT(strategies, ElementsAre("HYBRID", "CONTENT", "COLLABORATIVE", "POPULAR"));

  const std::string png = ReadFile(chart_path);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST_F(SemrecCliTest, EvalFailsClearlyOnAMissingFileOrAnUnreachableServer) {
  const std::string events = WriteTempFile(
      "events.jsonl", R"({"user_id": "u", "item_id": "book-001", "type": "LIKE", "ts": 1})");
  CliResult missing = RunCli({"eval", "--items=/nonexistent/items.jsonl", "--events=" + events});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, AllOf(StartsWith("error: NOT_FOUND: "), HasSubstr("/nonexistent")));

  const std::string items = TestSourceDir() + "/examples/catalog.jsonl";
  RefusedPort port;
  ASSERT_NE(port.port(), 0);
  CliResult down =
      RunCli({"--target=" + port.target(), "eval", "--items=" + items, "--events=" + events});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_THAT(down.err, StartsWith("error: UNAVAILABLE: "));

  EXPECT_EQ(RunCli({"eval", "--items=" + items}).exit_code, 2);
  EXPECT_EQ(
      RunCli({"eval", "--items=" + items, "--events=" + events, "--strategies=BEST"}).exit_code, 2);
}

}  // namespace
}  // namespace semrec
