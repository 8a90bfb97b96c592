// A minimal HTTP/1.1 server for operational endpoints, on plain POSIX sockets:
//   GET /metrics  -> Options::metrics() as text/plain; version=0.0.4 (404 when unset)
//   GET /healthz  -> 200 "ok" while the process serves
//   GET /readyz   -> 200 "ready" when Options::ready() is true (or unset), else 503
// Other paths 404; methods other than GET/HEAD 405; request heads over max_header_bytes 431;
// a request not fully received within read_timeout 408. One response per connection
// (Connection: close).
//
//   HttpServer::Options options;  // options.address = "127.0.0.1:0" for any free port
//   options.metrics = [&registry] { return registry.Serialize(); };
//   ASSIGN_OR_RETURN(auto server, HttpServer::Create(options));  // server->port()
//
// Thread-safe. One accept thread plus one thread per connection, at most max_connections (more
// are answered 503 at once). Callbacks run on connection threads, concurrently: they must be
// thread-safe. Shutdown() (also run by the destructor) stops accepting, wakes every connection
// and joins all threads.
#ifndef SEMREC_SERVER_HTTP_HTTP_SERVER_H_
#define SEMREC_SERVER_HTTP_HTTP_SERVER_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace semrec {

class HttpServer {
 public:
  struct Options {
    // "host:port" (IPv4, or "[v6]:port"); port 0 picks a free port, see port().
    std::string address = "127.0.0.1:9090";
    std::function<std::string()> metrics;             // body of /metrics; unset -> 404
    std::function<bool()> ready;                      // /readyz; unset -> always ready
    absl::Duration read_timeout = absl::Seconds(5);   // whole request head, per connection
    absl::Duration write_timeout = absl::Seconds(5);  // whole response
    size_t max_header_bytes = 8192;
    int max_connections = 16;
  };

  // Binds and starts serving. InvalidArgument for a bad address or options, Unavailable when the
  // socket cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(Options options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // Idempotent; returns once every thread has exited (within a poll interval of the slowest write).
  void Shutdown();

 private:
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  HttpServer(Options options, int listen_fd, int wake_read_fd, int wake_write_fd, int port);
  void AcceptLoop();
  void ServeConnection(int fd);
  void ReapFinishedConnections() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const int listen_fd_;
  const int wake_read_fd_;  // readable once Shutdown() starts; polled by every thread
  const int wake_write_fd_;
  const int port_;
  std::thread accept_thread_;
  std::atomic<bool> shutting_down_{false};

  absl::Mutex shutdown_mu_;  // serializes Shutdown()
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  absl::Mutex mu_;
  std::list<Connection> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace semrec

#endif  // SEMREC_SERVER_HTTP_HTTP_SERVER_H_
