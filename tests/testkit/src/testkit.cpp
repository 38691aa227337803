#include <onboard/testkit/testkit.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace onboard::testkit {

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/onboard-test-XXXXXX";
  if (!mkdtemp(tmpl.data()))
    throw std::runtime_error("mkdtemp failed: " + std::string(strerror(errno)));
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& p, const std::string& content) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot write " + p.string());
  f << content;
  if (!f.flush()) throw std::runtime_error("cannot write " + p.string());
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

namespace {

// write_all: `data` into a pipe, until done or the reader is gone.
void write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::vector<std::string> child_environment(const child_process::options& opts) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    auto name = std::string(kv.substr(0, kv.find('=')));
    bool drop = opts.env_set.count(name) != 0;
    for (const auto& u : opts.env_unset) drop = drop || u == name;
    if (!drop) env_strings.emplace_back(kv);
  }
  for (const auto& [k, v] : opts.env_set) env_strings.push_back(k + "=" + v);
  return env_strings;
}

child_process child_process::spawn(const std::vector<std::string>& argv, const options& opts) {
  int out[2], err[2], in[2];
  if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(in, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  std::vector<std::string> env_strings = child_environment(opts);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(opts.merge_stderr ? out[1] : err[1], 2);
    if (opts.output_closed) {
      close(1);
      close(2);
    }
    if (opts.max_open_files) {
      rlimit lim{*opts.max_open_files, *opts.max_open_files};
      if (setrlimit(RLIMIT_NOFILE, &lim) != 0) _exit(125);
    }
    if (!opts.cwd.empty() && chdir(opts.cwd.c_str()) != 0) _exit(126);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  close(in[0]);
  child_process p;
  if (opts.stdin_data || opts.stdin_stays_open) {
    // Written from its own thread: a child that answers while still reading would otherwise
    // deadlock with us once both pipes are full.
    ::signal(SIGPIPE, SIG_IGN);
    const bool stays_open = opts.stdin_stays_open;
    if (stays_open) p.in_fd_ = in[1];
    p.stdin_writer_ =
        std::thread([fd = in[1], data = opts.stdin_data.value_or(std::string()), stays_open] {
          write_all(fd, data);
          if (!stays_open) close(fd);
        });
  } else {
    close(in[1]);
  }
  p.pid_ = pid;
  p.out_fd_ = out[0];
  p.err_fd_ = err[0];
  return p;
}

child_process::child_process(child_process&& o) noexcept
    : pid_(o.pid_), out_fd_(o.out_fd_), err_fd_(o.err_fd_), out_(std::move(o.out_)),
      err_(std::move(o.err_)), out_consumed_(o.out_consumed_), status_(o.status_),
      stdin_writer_(std::move(o.stdin_writer_)), in_fd_(o.in_fd_) {
  o.pid_ = -1;
  o.out_fd_ = o.err_fd_ = o.in_fd_ = -1;
}

child_process::~child_process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  // After the child is gone, a writer still blocked on a full pipe gets EPIPE and ends.
  if (stdin_writer_.joinable()) stdin_writer_.join();
  if (in_fd_ >= 0) close(in_fd_);
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void child_process::write_stdin(std::string data) {
  if (stdin_writer_.joinable()) stdin_writer_.join();
  if (in_fd_ < 0) return;
  stdin_writer_ = std::thread([fd = in_fd_, data = std::move(data)] { write_all(fd, data); });
}

void child_process::close_stdin() {
  if (stdin_writer_.joinable()) stdin_writer_.join();
  if (in_fd_ >= 0) close(in_fd_);
  in_fd_ = -1;
}

void child_process::close_stderr() {
  if (err_fd_ >= 0) close(err_fd_);
  err_fd_ = -1;
}

bool child_process::pump(std::chrono::milliseconds timeout) {
  pollfd fds[2];
  int n = 0;
  if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
  if (n == 0) return true;
  int r = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(timeout.count()));
  if (r <= 0) return false;
  char buf[65536];
  for (int i = 0; i < n; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
    bool is_out = fds[i].fd == out_fd_;
    if (got > 0) {
      (is_out ? out_ : err_).append(buf, static_cast<std::size_t>(got));
    } else {
      close(fds[i].fd);
      (is_out ? out_fd_ : err_fd_) = -1;
    }
  }
  return true;
}

std::optional<std::string> child_process::read_stdout_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto nl = out_.find('\n', out_consumed_);
    if (nl != std::string::npos) {
      std::string line = out_.substr(out_consumed_, nl - out_consumed_);
      out_consumed_ = nl + 1;
      return line;
    }
    if (out_fd_ < 0) return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pump(left);
  }
}

void child_process::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (out_fd_ < 0 && err_fd_ < 0) {
      ::usleep(2000);
    } else {
      pump(std::min(left, std::chrono::milliseconds(20)));
    }
  }
  while (out_fd_ >= 0 || err_fd_ >= 0)
    if (!pump(std::chrono::milliseconds(1000))) break;
  return status_;
}

run_result run(const std::vector<std::string>& argv, const child_process::options& opts,
               std::chrono::milliseconds timeout) {
  auto p = child_process::spawn(argv, opts);
  auto st = p.wait(timeout);
  if (!st) {
    p.signal(SIGKILL);
    p.wait(std::chrono::seconds(5));
    throw std::runtime_error("timed out: " + argv.front() + "\nstdout: " + p.stdout_text() +
                             "\nstderr: " + p.stderr_text());
  }
  return {*st, p.stdout_text(), p.stderr_text()};
}

}  // namespace onboard::testkit
