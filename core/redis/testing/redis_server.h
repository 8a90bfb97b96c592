// RedisServer: a real redis-server child process (Debian's package) on a free loopback port, in a
// temporary directory, for tests. Without persistence unless asked: Stop() kills it as a crash
// would; Start() again brings it back on the same port (empty, or from its append-only file).
//
//   RedisServer redis;
//   if (RedisServer::Binary().empty()) GTEST_SKIP() << "redis-server is not installed";
//   ASSERT_TRUE(redis.Start());
//   redis.Command({"SET", "k", "v"});
//
// Thread-compatible.
#ifndef SEMREC_CORE_REDIS_TESTING_REDIS_SERVER_H_
#define SEMREC_CORE_REDIS_TESTING_REDIS_SERVER_H_

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace semrec {
namespace testing_redis {

inline std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

inline int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace testing_redis

class RedisServer {
 public:
  static std::string Binary() { return testing_redis::FindOnPath("redis-server"); }

  // `persistent`: an append-only file synced at every write, so a restart keeps the data.
  explicit RedisServer(bool persistent = false) : persistent_(persistent) {
    char dir[] = "/tmp/semrec_redis_XXXXXX";
    if (::mkdtemp(dir) != nullptr) dir_ = dir;
  }
  ~RedisServer() {
    Stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  bool Start() {
    if (port_ == 0) port_ = testing_redis::FreeLoopbackPort();
    const std::string binary = Binary();
    if (binary.empty() || dir_.empty() || port_ == 0) return false;
    const std::string port = std::to_string(port_);
    const std::string log = dir_ + "/redis.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(binary.c_str(), "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
              "--save", "", "--appendonly", persistent_ ? "yes" : "no", "--appendfsync", "always", "--dir", dir_.c_str(), "--logfile", log.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 250; ++i) {  // up to 5 s
      if (Command({"PING"}) == "PONG") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void Pause() { ::kill(pid_, SIGSTOP); }
  void Resume() { ::kill(pid_, SIGCONT); }

  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  // A raw command on a new connection: the reply as text ("(nil)", "(error) ...", integers as
  // decimal), or "" when there is no connection.
  std::string Command(const std::vector<std::string>& args) const {
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, {1, 0});
    if (c == nullptr || c->err) {
      if (c) redisFree(c);
      return "";
    }
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
    std::string out;
    if (r != nullptr) {
      if (r->type == REDIS_REPLY_NIL)
        out = "(nil)";
      else if (r->type == REDIS_REPLY_INTEGER)
        out = std::to_string(r->integer);
      else if (r->type == REDIS_REPLY_ERROR)
        out = "(error) " + std::string(r->str, r->len);
      else if (r->str != nullptr)
        out = std::string(r->str, r->len);
      freeReplyObject(r);
    }
    redisFree(c);
    return out;
  }

 private:
  std::string dir_;
  bool persistent_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace semrec

#endif  // SEMREC_CORE_REDIS_TESTING_REDIS_SERVER_H_
