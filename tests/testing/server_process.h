// ServerProcess: the real semrec-server binary (SEMREC_SERVER_BINARY) as a child process on
// 127.0.0.1 with a free port, on the test encoder and the demo catalog; Start returns once it
// prints "listening on" (after recovery, catch-up and the catalog import), nullptr otherwise.
//
//   auto server = ServerProcess::Start({"--data_dir=" + dir});
//   auto stub = v1::Recommender::NewStub(grpc::CreateChannel(server->address(), ...));
//   EXPECT_EQ(server->Stop(SIGTERM), 0);
//
// Thread-compatible.
#ifndef SEMREC_TESTS_TESTING_SERVER_PROCESS_H_
#define SEMREC_TESTS_TESTING_SERVER_PROCESS_H_

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/common/testing/test_paths.h"

namespace semrec {

// A semrec-server child process on 127.0.0.1 (a free port), its stdout read for the address.
class ServerProcess {
 public:
  static std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& extra_flags,
                                               absl::Duration timeout = absl::Seconds(90)) {
    int out[2];
    if (::pipe(out) != 0) return nullptr;
    std::vector<std::string> args = {SEMREC_SERVER_BINARY,
                                     "--listen=127.0.0.1:0",
                                     "--http_listen=",
                                     "--model_dir=" + TestDataDir() + "/encoder",
                                     "--catalog_file=" + TestSourceDir() + "/examples/catalog.jsonl",
                                     "--log_level=warn"};
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    auto p = std::unique_ptr<ServerProcess>(new ServerProcess(pid, out[0]));
    if (!p->ReadAddress(timeout)) return nullptr;
    return p;
  }

  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(stdout_fd_);
  }

  // True (and the exit status, or -signal, in *code) once the process has exited.
  bool Exited(int* code) {
    int status = 0;
    if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return true;
  }

  // Sends `sig` and returns the exit status (or -signal).
  int Stop(int sig) {
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  const std::string& address() const { return address_; }

 private:
  ServerProcess(pid_t pid, int fd) : pid_(pid), stdout_fd_(fd) {}

  bool ReadAddress(absl::Duration timeout) {
    const std::string marker = "listening on ";
    std::string text;
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      pollfd p{stdout_fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(stdout_fd_, buf, sizeof(buf));
      if (n <= 0) return false;  // exited
      text.append(buf, static_cast<size_t>(n));
      const size_t at = text.find(marker);
      const size_t end = at == std::string::npos ? at : text.find('\n', at);
      if (end != std::string::npos) {
        address_ = text.substr(at + marker.size(), end - at - marker.size());
        return true;
      }
    }
    return false;
  }

  pid_t pid_;
  int stdout_fd_;
  std::string address_;
};

}  // namespace semrec

#endif  // SEMREC_TESTS_TESTING_SERVER_PROCESS_H_
