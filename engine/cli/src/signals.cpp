// signals.cpp: the stop signals travel from an async-signal-safe handler through a pipe to a
// thread that may do anything (lock, print, post to an io_context, sync the journal), so no part
// of the program has to be written to be interrupted.
#include <onboard/cli/signals.hpp>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace onboard {

namespace {

int signal_pipe_write = -1;

std::mutex& handlers_mutex() {
  static std::mutex mu;
  return mu;
}
std::function<void(int)>* current_handler = nullptr;  // guarded by handlers_mutex()

extern "C" void on_stop_signal(int sig) {
  const int saved = errno;
  const auto b = static_cast<unsigned char>(sig);
  // Non-blocking: a flood of signals fills the pipe and the rest are dropped, never blocking here.
  [[maybe_unused]] ssize_t w = ::write(signal_pipe_write, &b, 1);
  errno = saved;
}

extern "C" void on_sigpipe(int) {}

void catch_signal(int sig, void (*handler)(int), bool keep_ignored) {
  struct sigaction old {};
  if (::sigaction(sig, nullptr, &old) == 0 && keep_ignored && old.sa_handler == SIG_IGN) return;
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(sig, &sa, nullptr);
}

void watch_signals(int fd) {
  for (;;) {
    unsigned char b = 0;
    ssize_t n = ::read(fd, &b, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    const int sig = b;
    std::unique_lock lk(handlers_mutex());
    if (current_handler) {
      (*current_handler)(sig);
      continue;
    }
    lk.unlock();
    // Nobody is listening: what the signal would have done uncaught.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

// open_standard_descriptors: a descriptor 0-2 the process was started without (`2>&-`) would be
// the next file opened, and whatever is written as stdout or stderr would land in that file.
void open_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int got = ::open("/dev/null", O_RDWR);
    if (got >= 0 && got != fd) ::close(got);  // cannot happen: open takes the lowest free number
  }
}

}  // namespace

void install_stop_signals() {
  static std::once_flag once;
  std::call_once(once, [] {
    open_standard_descriptors();
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;  // signals keep their default actions
    ::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    signal_pipe_write = fds[1];
    std::thread(watch_signals, fds[0]).detach();
    // SIGINT and SIGTERM always: a script that starts a run with `&` (which ignores SIGINT) and
    // later sends it one means it. SIGHUP only when not ignored: nohup means "keep going".
    catch_signal(SIGINT, on_stop_signal, false);
    catch_signal(SIGTERM, on_stop_signal, false);
    catch_signal(SIGHUP, on_stop_signal, true);
    catch_signal(SIGPIPE, on_sigpipe, true);
  });
}

stop_signal_scope::stop_signal_scope(std::function<void(int)> handler)
    : handler_(std::move(handler)) {
  std::lock_guard lk(handlers_mutex());
  previous_ = current_handler;
  current_handler = &handler_;
}

stop_signal_scope::~stop_signal_scope() {
  std::lock_guard lk(handlers_mutex());
  current_handler = previous_;
}

}  // namespace onboard
