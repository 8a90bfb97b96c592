// Security of the gRPC port: TLS and mutual TLS with certificates made by the openssl CLI at test
// time, and the API token that guards catalog writes and DeleteUser while reads stay open.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "semrec/v1/semrec.grpc.pb.h"
#include "server/testing/demo_server.h"

namespace semrec {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "s3cret-token";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class SecurityTest : public ::testing::Test {
 protected:
  // Makes a CA, a server certificate for localhost/127.0.0.1 and a client certificate. Failures
  // are recorded, not asserted: GoogleTest reports an assertion here as a skip.
  static void SetUpTestSuite() {
    // One directory per process: ctest runs each test in its own process, perhaps in parallel.
    dir_ =
        new std::string(::testing::TempDir() + "/semrec_security_test_" + std::to_string(getpid()));
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
      error_ = new std::string("openssl not found (Debian package openssl)");
      return;
    }
    const std::string& d = *dir_;
    if (std::system(("mkdir -p " + d).c_str()) != 0) {
      error_ = new std::string("cannot create " + d);
      return;
    }
    std::ofstream(d + "/server.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    std::ofstream(d + "/client.ext") << "extendedKeyUsage=clientAuth\n";
    std::ofstream(d + "/token") << "  " << kToken << "\n";
    std::ofstream(d + "/blank_token") << " \n";
    const std::string script =
        "set -e; cd " + d +
        "; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2"
        " -subj /CN=semrec-test-ca"
        "; openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "
        "/CN=localhost"
        "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        " -extfile server.ext -out server.pem"
        "; openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr"
        " -subj /CN=semrec-test-client"
        "; openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        " -extfile client.ext -out client.pem";
    if (std::system(("(" + script + ") >" + d + "/openssl.log 2>&1").c_str()) != 0) {
      error_ = new std::string("generating certificates failed: " + ReadFile(d + "/openssl.log"));
    }
  }

  void SetUp() override {
    if (error_ == nullptr) return;
    if (error_->rfind("openssl not found", 0) == 0) GTEST_SKIP() << *error_;
    FAIL() << *error_;
  }

  static std::string Path(const std::string& name) { return *dir_ + "/" + name; }

  static std::unique_ptr<ServerApp> Start(const ServerOptions& options) {
    auto app = ServerApp::Create(options);
    EXPECT_TRUE(app.ok()) << app.status();
    if (!app.ok()) return nullptr;
    EXPECT_TRUE((*app)->LoadCatalog().ok());
    return std::move(app).value();
  }

  static std::shared_ptr<grpc::ChannelCredentials> TlsClient(bool with_client_cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFile(Path("ca.pem"));
    if (with_client_cert) {
      ssl.pem_private_key = ReadFile(Path("client.key"));
      ssl.pem_cert_chain = ReadFile(Path("client.pem"));
    }
    return grpc::SslCredentials(ssl);
  }

  // Recommend over a channel with `credentials`; a short deadline so refused handshakes end.
  static grpc::Status Recommend(const ServerApp& app,
                                const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
    auto stub = v1::Recommender::NewStub(grpc::CreateChannel(app.address(), credentials));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::RecommendRequest req;
    req.set_query("jazz saxophone");
    v1::RecommendResponse resp;
    grpc::Status status = stub->Recommend(&ctx, req, &resp);
    if (status.ok()) EXPECT_GT(resp.items_size(), 0);
    return status;
  }

  static std::string* dir_;
  static std::string* error_;
};

std::string* SecurityTest::dir_ = nullptr;
std::string* SecurityTest::error_ = nullptr;

TEST_F(SecurityTest, TokenGuardsCatalogWritesAndDeleteUserWhileReadsStayOpen) {
  ServerOptions options = DemoServerOptions();
  options.api_token_file = Path("token");
  std::unique_ptr<ServerApp> app = Start(options);
  ASSERT_NE(app, nullptr);
  auto channel = grpc::CreateChannel(app->address(), grpc::InsecureChannelCredentials());
  auto catalog = v1::Catalog::NewStub(channel);
  auto recommender = v1::Recommender::NewStub(channel);

  v1::UpsertItemsRequest upsert;
  v1::Item* item = upsert.add_items();
  item->set_id("secured-1");
  item->set_text("a vinyl record of cool jazz");
  auto upsert_with = [&](const char* authorization) {
    grpc::ClientContext ctx;
    if (authorization) ctx.AddMetadata("authorization", authorization);
    v1::UpsertItemsResponse resp;
    return catalog->UpsertItems(&ctx, upsert, &resp);
  };
  grpc::Status missing = upsert_with(nullptr);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.error_message(), HasSubstr("authorization: Bearer <token>"));
  EXPECT_EQ(upsert_with("Basic s3cret-token").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(upsert_with("Bearer ").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(upsert_with("Bearer s3cret-tokeX").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(upsert_with("Bearer s3cret").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  {
    grpc::ClientContext ctx;
    v1::GetItemRequest req;
    req.set_id("secured-1");
    v1::GetItemResponse resp;
    EXPECT_EQ(catalog->GetItem(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND)
        << "a refused write must not be applied";
  }
  grpc::Status right = upsert_with("Bearer s3cret-token");
  EXPECT_TRUE(right.ok()) << right.error_message();

  // Reads need no token.
  EXPECT_TRUE(Recommend(*app, grpc::InsecureChannelCredentials()).ok());
  {
    grpc::ClientContext ctx;
    v1::GetItemRequest req;
    req.set_id("secured-1");
    v1::GetItemResponse resp;
    EXPECT_TRUE(catalog->GetItem(&ctx, req, &resp).ok());
    grpc::ClientContext stats_ctx;
    v1::StatsResponse stats;
    EXPECT_TRUE(catalog->Stats(&stats_ctx, v1::StatsRequest(), &stats).ok());
  }

  // DeleteItems and DeleteUser are writes.
  {
    grpc::ClientContext ctx;
    v1::DeleteItemsRequest req;
    req.add_ids("secured-1");
    v1::DeleteItemsResponse resp;
    EXPECT_EQ(catalog->DeleteItems(&ctx, req, &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext authorized;
    authorized.AddMetadata("authorization", "Bearer s3cret-token");
    EXPECT_TRUE(catalog->DeleteItems(&authorized, req, &resp).ok());
    EXPECT_EQ(resp.deleted(), 1);
  }
  {
    v1::DeleteUserRequest req;
    req.set_user_id("u1");
    v1::DeleteUserResponse resp;
    grpc::ClientContext ctx;
    EXPECT_EQ(recommender->DeleteUser(&ctx, req, &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext wrong;
    wrong.AddMetadata("authorization", "Bearer nope");
    EXPECT_EQ(recommender->DeleteUser(&wrong, req, &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    grpc::ClientContext authorized;
    authorized.AddMetadata("authorization", "bearer s3cret-token");  // the scheme is case-blind
    EXPECT_TRUE(recommender->DeleteUser(&authorized, req, &resp).ok());
  }
  app->Shutdown(absl::ZeroDuration());
}

TEST_F(SecurityTest, TlsServesTlsClientsAndRefusesPlaintext) {
  ServerOptions options = DemoServerOptions();
  options.tls.cert_file = Path("server.pem");
  options.tls.key_file = Path("server.key");
  std::unique_ptr<ServerApp> app = Start(options);
  ASSERT_NE(app, nullptr);
  grpc::Status tls = Recommend(*app, TlsClient(/*with_client_cert=*/false));
  EXPECT_TRUE(tls.ok()) << tls.error_message();
  EXPECT_FALSE(Recommend(*app, grpc::InsecureChannelCredentials()).ok());
  app->Shutdown(absl::ZeroDuration());
}

TEST_F(SecurityTest, MutualTlsRequiresAClientCertificateSignedByTheClientCa) {
  ServerOptions options = DemoServerOptions();
  options.tls.cert_file = Path("server.pem");
  options.tls.key_file = Path("server.key");
  options.tls.client_ca_file = Path("ca.pem");
  std::unique_ptr<ServerApp> app = Start(options);
  ASSERT_NE(app, nullptr);
  EXPECT_FALSE(Recommend(*app, TlsClient(/*with_client_cert=*/false)).ok());
  EXPECT_FALSE(Recommend(*app, grpc::InsecureChannelCredentials()).ok());
  grpc::Status mtls = Recommend(*app, TlsClient(/*with_client_cert=*/true));
  EXPECT_TRUE(mtls.ok()) << mtls.error_message();
  app->Shutdown(absl::ZeroDuration());
}

TEST_F(SecurityTest, BadSecurityOptionsFailStartUpNamingTheFlag) {
  auto create_error = [](const std::function<void(ServerOptions&)>& edit) {
    ServerOptions options = DemoServerOptions();
    edit(options);
    auto app = ServerApp::Create(options);
    EXPECT_FALSE(app.ok());
    if (app.ok()) return std::string("started");
    EXPECT_EQ(app.status().code(), absl::StatusCode::kInvalidArgument) << app.status();
    return std::string(app.status().message());
  };
  EXPECT_THAT(create_error([](ServerOptions& o) { o.tls.cert_file = Path("server.pem"); }),
              HasSubstr("--tls_key_file"));
  EXPECT_THAT(create_error([](ServerOptions& o) { o.tls.key_file = Path("server.key"); }),
              HasSubstr("--tls_cert_file"));
  EXPECT_THAT(create_error([](ServerOptions& o) { o.tls.client_ca_file = Path("ca.pem"); }),
              HasSubstr("--tls_client_ca_file"));
  EXPECT_THAT(create_error([](ServerOptions& o) {
                o.tls.cert_file = Path("missing.pem");
                o.tls.key_file = Path("server.key");
              }),
              HasSubstr(Path("missing.pem")));
  EXPECT_THAT(create_error([](ServerOptions& o) {
                o.tls.cert_file = Path("server.pem");
                o.tls.key_file = Path("token");  // not PEM
              }),
              HasSubstr("--tls_key_file"));
  EXPECT_THAT(create_error([](ServerOptions& o) { o.api_token_file = Path("blank_token"); }),
              HasSubstr("--api_token_file"));
  EXPECT_THAT(create_error([](ServerOptions& o) { o.api_token_file = Path("missing_token"); }),
              HasSubstr(Path("missing_token")));
}

}  // namespace
}  // namespace semrec
