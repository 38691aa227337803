// onboard/cli/signals.hpp: the stop signals of a process that sends, from its first instruction
// to its last.
//
// install_stop_signals(), first thing in main (and again, harmlessly, wherever a run starts):
//   - SIGINT, SIGTERM and SIGHUP (a closed SSH session) are caught for the rest of the process's
//     life and handed, on a thread of their own, to the innermost stop_signal_scope's handler.
//     With no scope open the signal does what it would have done uncaught: the process ends.
//     A SIGHUP the process was started with ignored (nohup) stays ignored.
//   - SIGPIPE no longer kills: a write to a closed pipe (stderr piped into `head`) fails with
//     EPIPE, which the output streams absorb. Caught by a handler that does nothing rather than
//     ignored, so that programs started from here (credential_process) get the default back.
//   - a standard descriptor (0, 1, 2) the process was started without is opened on /dev/null, so
//     that no journal or report ever becomes "stderr" and receives its text.
//
//   onboard::install_stop_signals();
//   onboard::stop_signal_scope scope([&](int sig) { ... });  // runs on the signal thread
#pragma once

#include <functional>

namespace onboard {

void install_stop_signals();

// stop_signal_scope: while it exists, stop signals go to `handler` (on the signal thread, one at
// a time). The handler may post work, set flags or end the process (std::_Exit); it must not wait
// for the thread that destroys the scope. Once the destructor returns, the handler is not running
// and will not run again.
class stop_signal_scope {
 public:
  explicit stop_signal_scope(std::function<void(int sig)> handler);
  ~stop_signal_scope();
  stop_signal_scope(const stop_signal_scope&) = delete;
  stop_signal_scope& operator=(const stop_signal_scope&) = delete;

 private:
  std::function<void(int)> handler_;
  std::function<void(int)>* previous_;
};

}  // namespace onboard
