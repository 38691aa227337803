// onboard/cli/confirm.hpp: the question a sending command asks on a terminal before its first
// email, as Terraform's apply does: only "y" or "yes" goes ahead; anything else, the end of the
// input or a stop signal means no.
//
//   int cancel_fd = -1;  // or a pipe's read end, written to by a stop signal
//   auto a = ask_yes_no("Send " + group_thousands(1000) + " invitation emails to account X?",
//                       STDIN_FILENO, cancel_fd, std::cerr);
//   if (a != confirm_answer::yes) return 5;  // nothing sent, nothing written
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

namespace onboard {

enum class confirm_answer {
  yes,           // "y" or "yes", any case, blanks around ignored
  no,            // any other line
  end_of_input,  // the input ended (Ctrl-D) or failed before a line came
  cancelled,     // `cancel_fd` became readable (a stop signal)
};

// is_yes: whether one typed line means yes.
bool is_yes(std::string_view line);

// ask_yes_no: writes `question` and " [y/N] " to `out`, then waits for one line on `in_fd`, or
// for `cancel_fd` (-1: none) to become readable, whichever comes first. The signals that stop a
// run reach their own thread (signals.hpp), never this read: `cancel_fd` is how such a signal
// interrupts the question.
confirm_answer ask_yes_no(std::string_view question, int in_fd, int cancel_fd, std::ostream& out);

// group_thousands: 987654 -> "987,654", for counts a person reads at a glance.
std::string group_thousands(unsigned long long n);

}  // namespace onboard
