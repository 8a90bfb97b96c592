// HttpGet: one plain HTTP/1.1 GET to 127.0.0.1, for tests that read the server's /metrics,
// /healthz and /readyz.
//
//   std::string response = HttpGet(app->http_port(), "/metrics");  // status line, headers, body
//   EXPECT_THAT(response, HasSubstr("semrec_items 312"));
//
// Thread-safe: a plain function.
#ifndef SEMREC_TESTS_TESTING_HTTP_GET_H_
#define SEMREC_TESTS_TESTING_HTTP_GET_H_

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace semrec {

// The whole response (status line, headers, body); empty when nothing listens on `port`.
inline std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  (void)send(fd, request.data(), request.size(), 0);
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) response.append(buf, n);
  close(fd);
  return response;
}

}  // namespace semrec

#endif  // SEMREC_TESTS_TESTING_HTTP_GET_H_
