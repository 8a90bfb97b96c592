#include "server/http/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace semrec {
namespace {

constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr char kTextContentType[] = "text/plain; charset=utf-8";

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = kTextContentType;
  std::string extra_headers;
};

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
  }
  return "Unknown";
}

std::string SerializeResponse(const Response& response, bool head_only) {
  std::string out = absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status),
                                 "\r\nContent-Type: ", response.content_type,
                                 "\r\nContent-Length: ", response.body.size(),
                                 "\r\nConnection: close\r\n", response.extra_headers, "\r\n");
  if (!head_only) out += response.body;
  return out;
}

int RemainingMillis(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

// Waits for `events` on fd, or the wake pipe, or the deadline. True when fd is ready.
bool WaitFor(int fd, short events, int wake_fd, absl::Time deadline) {
  while (true) {
    const int timeout_ms = RemainingMillis(deadline);
    if (timeout_ms == 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    const int n = poll(fds, 2, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (fds[1].revents != 0) return false;  // shutting down
    if (fds[0].revents != 0) return true;   // ready, or error/hang-up that recv/send will report
  }
}

bool SendAll(int fd, const std::string& data, int wake_fd, absl::Time deadline) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFor(fd, POLLOUT, wake_fd, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

absl::Status SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address \"", address, "\" must be host:port"));
  }
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  int port_number = 0;
  if (!absl::SimpleAtoi(*port, &port_number) || port_number < 0 || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("HTTP address \"", address, "\": bad port"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(Options options) {
  if (options.max_connections < 1 || options.max_header_bytes < 64) {
    return absl::InvalidArgumentError("HTTP max_connections must be >= 1, max_header_bytes >= 64");
  }
  std::string host, port;
  if (absl::Status s = SplitHostPort(options.address, &host, &port); !s.ok()) return s;

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* resolved = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &resolved);
      rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address \"", options.address, "\": ", gai_strerror(rc)));
  }
  int listen_fd = -1;
  std::string last_error = "no addresses";
  for (addrinfo* ai = resolved; ai != nullptr; ai = ai->ai_next) {
    listen_fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (listen_fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(listen_fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(listen_fd, 64) == 0) break;
    last_error = std::strerror(errno);
    close(listen_fd);
    listen_fd = -1;
  }
  freeaddrinfo(resolved);
  if (listen_fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("HTTP server cannot listen on ", options.address, ": ", last_error));
  }
  fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);

  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(listen_fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  const int bound_port = bound.ss_family == AF_INET6
                             ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                             : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  int wake[2];
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    close(listen_fd);
    return absl::InternalError(absl::StrCat("HTTP server pipe: ", std::strerror(errno)));
  }
  return std::unique_ptr<HttpServer>(
      new HttpServer(std::move(options), listen_fd, wake[0], wake[1], bound_port));
}

HttpServer::HttpServer(Options options, int listen_fd, int wake_read_fd, int wake_write_fd,
                       int port)
    : options_(std::move(options)),
      listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      port_(port) {
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Shutdown() {
  absl::MutexLock shutdown_lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  shutting_down_.store(true);
  const char byte = 1;
  while (write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  accept_thread_.join();  // no new connections after this
  std::list<Connection> connections;
  {
    absl::MutexLock lock(&mu_);
    connections.swap(connections_);
  }
  for (Connection& connection : connections) connection.thread.join();
  close(listen_fd_);
  close(wake_read_fd_);
  close(wake_write_fd_);
}

void HttpServer::ReapFinishedConnections() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->done.load()) {
      it->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void HttpServer::AcceptLoop() {
  while (!shutting_down_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    const int n = poll(fds, 2, /*timeout_ms=*/1000);  // periodic wake-up reaps finished threads
    if (n < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) break;
    {
      absl::MutexLock lock(&mu_);
      ReapFinishedConnections();
    }
    if (n <= 0 || fds[0].revents == 0) continue;
    while (true) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;  // EAGAIN: drained; other errors (EMFILE...) retried on next poll
      absl::MutexLock lock(&mu_);
      ReapFinishedConnections();
      if (static_cast<int>(connections_.size()) >= options_.max_connections) {
        Response busy{503, "too many connections\n"};
        SendAll(fd, SerializeResponse(busy, false), wake_read_fd_,
                absl::Now() + absl::Milliseconds(100));
        close(fd);
        continue;
      }
      Connection& connection = connections_.emplace_back();
      connection.thread = std::thread([this, fd, &connection] {
        ServeConnection(fd);
        connection.done.store(true);
      });
    }
  }
}

void HttpServer::ServeConnection(int fd) {
  const absl::Time read_deadline = absl::Now() + options_.read_timeout;
  std::string request;
  Response response;
  bool head_only = false;
  bool complete = false;
  while (!complete) {
    if (request.size() > options_.max_header_bytes) {
      response = Response{431, "request header too large\n"};
      break;
    }
    if (!WaitFor(fd, POLLIN, wake_read_fd_, read_deadline)) {
      if (shutting_down_.load()) {
        close(fd);
        return;
      }
      response = Response{408, "request timeout\n"};
      break;
    }
    char buf[2048];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) {  // peer closed or error before a full request: nothing to answer
      close(fd);
      return;
    }
    const size_t scan_from = request.size() >= 3 ? request.size() - 3 : 0;
    request.append(buf, static_cast<size_t>(n));
    const size_t end = request.find("\r\n\r\n", scan_from);
    if (end != std::string::npos) {
      if (end + 4 > options_.max_header_bytes) {
        response = Response{431, "request header too large\n"};
        break;
      }
      complete = true;
    }
  }

  if (complete) {
    // Request line: METHOD SP target SP HTTP/x.y
    const std::string line = request.substr(0, request.find("\r\n"));
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string::npos || line.compare(sp2 + 1, 5, "HTTP/") != 0) {
      response = Response{400, "bad request\n"};
    } else {
      const std::string method = line.substr(0, sp1);
      std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
      path = path.substr(0, path.find('?'));
      head_only = method == "HEAD";
      if (method != "GET" && method != "HEAD") {
        response = Response{405, "method not allowed\n"};
        response.extra_headers = "Allow: GET, HEAD\r\n";
      } else if (path == "/healthz") {
        response = Response{200, "ok\n"};
      } else if (path == "/readyz") {
        const bool ready = !options_.ready || options_.ready();
        response = ready ? Response{200, "ready\n"} : Response{503, "not ready\n"};
      } else if (path == "/metrics" && options_.metrics) {
        response = Response{200, options_.metrics(), kMetricsContentType};
      } else {
        response = Response{404, "not found\n"};
      }
    }
  }
  SendAll(fd, SerializeResponse(response, head_only), wake_read_fd_,
          absl::Now() + options_.write_timeout);
  // Half-close, then drain briefly so the peer reads the response instead of a reset caused by
  // unread request bytes (e.g. an oversized header we stopped reading).
  shutdown(fd, SHUT_WR);
  const absl::Time drain_deadline = absl::Now() + absl::Milliseconds(200);
  char sink[1024];
  while (WaitFor(fd, POLLIN, wake_read_fd_, drain_deadline) &&
         recv(fd, sink, sizeof(sink), 0) > 0) {
  }
  close(fd);
}

}  // namespace semrec
