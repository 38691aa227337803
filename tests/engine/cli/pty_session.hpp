// pty_session.hpp: a command run on a real pseudo-terminal of a chosen size, as a person at a
// terminal runs it: its stdin, stdout and stderr are the terminal (isatty, TIOCGWINSZ and the
// line discipline all real), what it writes is read back (with the terminal's "\r\n"), and keys
// are typed into it: Enter is "\r", Ctrl-C "\x03" (the terminal turns it into SIGINT for the
// foreground process group), Ctrl-D "\x04".
//
//   pty_session s({cli(), "invite", ...}, client_env(home), /*cols=*/80);
//   ASSERT_TRUE(s.wait_for("[y/N] ", 20s)) << s.output();
//   s.type("y\r");
//   auto status = s.wait(30s);   // exit code, 128+signal, nullopt on timeout
#pragma once

#include <onboard/testkit/testkit.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <poll.h>
#include <pty.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace onboard::testkit {

class pty_session {
 public:
  pty_session(const std::vector<std::string>& argv, const child_process::options& opts,
              unsigned short cols, unsigned short rows = 24) {
    // Built before the fork: the child only calls async-signal-safe functions.
    env_strings_ = child_environment(opts);
    std::vector<char*> envp, args;
    for (auto& s : env_strings_) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& a : argv_copy) args.push_back(a.data());
    args.push_back(nullptr);
    winsize ws{};
    ws.ws_col = cols;
    ws.ws_row = rows;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ < 0) throw std::runtime_error("forkpty failed");
    if (pid_ == 0) {
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
  }

  ~pty_session() {
    if (!status_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    if (master_ >= 0) ::close(master_);
  }

  pty_session(const pty_session&) = delete;
  pty_session& operator=(const pty_session&) = delete;

  // wait_for: reads until the output so far contains `text`; false on timeout or end of output.
  bool wait_for(std::string_view text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_.find(text) == std::string::npos) {
      if (!pump(deadline)) return false;
    }
    return true;
  }

  // type: keys for the terminal, as if typed.
  void type(std::string_view keys) {
    while (!keys.empty()) {
      ssize_t n = ::write(master_, keys.data(), keys.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("cannot write to the pseudo-terminal");
      keys.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // wait: reads the output to its end (the program and its children gone), then reaps the
  // program: its exit code, 128+signal, or nullopt when `timeout` passes first.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_)
      if (!pump(deadline) && !eof_) return std::nullopt;
    int st = 0;
    if (::waitpid(pid_, &st, 0) != pid_) return std::nullopt;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }

  const std::string& output() const { return out_; }

 private:
  // pump: reads what comes before `deadline`; false on timeout or at the end of the output
  // (EIO once the last descriptor on the terminal's side is closed).
  bool pump(std::chrono::steady_clock::time_point deadline) {
    if (eof_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{master_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) return true;
    if (r <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(master_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    out_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  std::vector<std::string> env_strings_;
  pid_t pid_ = -1;
  int master_ = -1;
  std::string out_;
  bool eof_ = false;
  std::optional<int> status_;
};

}  // namespace onboard::testkit
