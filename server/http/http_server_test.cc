#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>

#include "core/metrics/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  timeval timeout{10, 0};  // a hung server fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// Sends `raw` on a fresh connection and returns everything the server wrote before closing.
std::string RoundTrip(int port, const std::string& raw) {
  const int fd = Connect(port);
  if (fd < 0) return "connect failed";
  send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  std::string response = ReadAll(fd);
  close(fd);
  return response;
}

std::string Get(int port, const std::string& path) {
  return RoundTrip(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

std::string Body(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::unique_ptr<HttpServer> Start(HttpServer::Options options) {
  options.address = "127.0.0.1:0";
  auto server = HttpServer::Create(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(HttpServerTest, MetricsServesRegistryTextWithPrometheusContentType) {
  metrics::Registry registry;
  auto requests =
      metrics::BuildCounter().Name("semrec_requests_total").Help("RPCs.").Register(registry);
  ASSERT_TRUE(requests.ok());
  (*requests)->Add({{"method", "Recommend"}, {"code", "OK"}}).Increment(3);
  HttpServer::Options options;
  options.metrics = [&registry] { return registry.Serialize(); };
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->port(), 0);

  const std::string response = Get(server->port(), "/metrics");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_EQ(Body(response), registry.Serialize());
  EXPECT_THAT(Body(response),
              HasSubstr("semrec_requests_total{code=\"OK\",method=\"Recommend\"} 3"));
}

TEST(HttpServerTest, HealthzAndReadyzFollowTheCallback) {
  std::atomic<bool> ready{false};
  HttpServer::Options options;
  options.ready = [&ready] { return ready.load(); };
  auto server = Start(options);
  ASSERT_NE(server, nullptr);

  const std::string health = Get(server->port(), "/healthz");
  EXPECT_THAT(health, StartsWith("HTTP/1.1 200 "));
  EXPECT_EQ(Body(health), "ok\n");
  EXPECT_THAT(Get(server->port(), "/readyz"), StartsWith("HTTP/1.1 503 "));
  ready = true;
  EXPECT_THAT(Get(server->port(), "/readyz"), StartsWith("HTTP/1.1 200 "));
}

TEST(HttpServerTest, UnknownPathMethodAndMalformedRequests) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(Get(server->port(), "/nope"), StartsWith("HTTP/1.1 404 "));
  EXPECT_THAT(Get(server->port(), "/metrics"), StartsWith("HTTP/1.1 404 "));  // no callback
  const std::string post =
      RoundTrip(server->port(), "POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_THAT(post, StartsWith("HTTP/1.1 405 "));
  EXPECT_THAT(post, HasSubstr("Allow: GET, HEAD\r\n"));
  EXPECT_THAT(RoundTrip(server->port(), "garbage\r\n\r\n"), StartsWith("HTTP/1.1 400 "));

  const std::string head = RoundTrip(server->port(), "HEAD /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(head, HasSubstr("Content-Length: 3\r\n"));
  EXPECT_EQ(Body(head), "");
  EXPECT_THAT(Get(server->port(), "/healthz?verbose=1"), StartsWith("HTTP/1.1 200 "));
}

TEST(HttpServerTest, OversizedHeaderGets431) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  const std::string huge =
      "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_THAT(RoundTrip(server->port(), huge), StartsWith("HTTP/1.1 431 "));
  // Still serving.
  EXPECT_THAT(Get(server->port(), "/healthz"), StartsWith("HTTP/1.1 200 "));
}

TEST(HttpServerTest, SilentClientDoesNotBlockOthersAndTimesOut) {
  HttpServer::Options options;
  options.read_timeout = absl::Milliseconds(1500);
  auto server = Start(options);
  ASSERT_NE(server, nullptr);

  const int silent = Connect(server->port());
  ASSERT_GE(silent, 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(Get(server->port(), "/healthz"), StartsWith("HTTP/1.1 200 "));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));

  EXPECT_THAT(ReadAll(silent), StartsWith("HTTP/1.1 408 "));
  close(silent);
}

TEST(HttpServerTest, ConnectionsBeyondTheCapGet503) {
  HttpServer::Options options;
  options.max_connections = 1;
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  const int silent = Connect(server->port());
  ASSERT_GE(silent, 0);
  // The silent connection holds the only slot until its read timeout.
  std::string response;
  for (int i = 0; i < 50 && response.rfind("HTTP/1.1 503", 0) != 0; ++i) {
    response = Get(server->port(), "/healthz");
  }
  EXPECT_THAT(response, StartsWith("HTTP/1.1 503 "));
  close(silent);
}

TEST(HttpServerTest, ShutdownReturnsPromptlyWithIdleClients) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  const int idle1 = Connect(server->port());
  const int idle2 = Connect(server->port());
  ASSERT_GE(idle1, 0);
  ASSERT_GE(idle2, 0);
  EXPECT_THAT(Get(server->port(), "/healthz"), StartsWith("HTTP/1.1 200 "));
  const auto start = std::chrono::steady_clock::now();
  server->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  server->Shutdown();  // idempotent
  EXPECT_EQ(Connect(server->port()), -1);
  close(idle1);
  close(idle2);
}

TEST(HttpServerTest, CreateRejectsBadAddresses) {
  HttpServer::Options options;
  options.address = "127.0.0.1";
  EXPECT_EQ(HttpServer::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.address = "127.0.0.1:99999";
  EXPECT_EQ(HttpServer::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.address = "127.0.0.1:0";
  auto first = HttpServer::Create(options);
  ASSERT_TRUE(first.ok());
  options.address = "127.0.0.1:" + std::to_string((*first)->port());
  EXPECT_EQ(HttpServer::Create(options).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace semrec
