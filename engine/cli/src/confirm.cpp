#include <onboard/cli/confirm.hpp>

#include <cerrno>
#include <cctype>
#include <ostream>
#include <poll.h>
#include <string>
#include <unistd.h>

namespace onboard {

bool is_yes(std::string_view line) {
  auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!line.empty() && blank(line.front())) line.remove_prefix(1);
  while (!line.empty() && blank(line.back())) line.remove_suffix(1);
  std::string lower;
  for (char c : line) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "y" || lower == "yes";
}

confirm_answer ask_yes_no(std::string_view question, int in_fd, int cancel_fd, std::ostream& out) {
  out << question << " [y/N] " << std::flush;
  std::string line;
  // A terminal in canonical mode hands over whole lines; a longer one is no "yes" anyway.
  constexpr std::size_t max_line = 256;
  for (;;) {
    pollfd fds[2] = {{in_fd, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    const int n = ::poll(fds, cancel_fd >= 0 ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return confirm_answer::end_of_input;
    }
    if (cancel_fd >= 0 && fds[1].revents) {
      out << "\n" << std::flush;
      return confirm_answer::cancelled;
    }
    char c = 0;
    const ssize_t r = ::read(in_fd, &c, 1);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) {
      out << "\n" << std::flush;  // Ctrl-D leaves the cursor after the question
      return confirm_answer::end_of_input;
    }
    if (c == '\n') return is_yes(line) ? confirm_answer::yes : confirm_answer::no;
    if (line.size() < max_line) line += c;
  }
}

std::string group_thousands(unsigned long long n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace onboard
