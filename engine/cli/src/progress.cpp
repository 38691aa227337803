#include <onboard/cli/progress.hpp>

#include <onboard/cli/logging.hpp>
#include <onboard/cli/run_events.hpp>

#include <cstdio>
#include <ostream>
#include <sys/ioctl.h>

namespace onboard {

std::optional<progress_mode> parse_progress_mode(std::string_view s) {
  if (s == "auto") return progress_mode::automatic;
  if (s == "bar") return progress_mode::bar;
  if (s == "plain") return progress_mode::plain;
  if (s == "json") return progress_mode::json;
  if (s == "off") return progress_mode::off;
  return std::nullopt;
}

progress_display::progress_display(progress_mode mode, const run_stats& stats, std::ostream& out,
                                   bool is_tty, int tty_fd)
    : mode_(mode == progress_mode::automatic ? (is_tty ? progress_mode::bar : progress_mode::plain)
                                             : mode),
      stats_(stats), out_(out), start_(clock::now()), tty_fd_(tty_fd) {}

std::string fit_line(std::string line, std::size_t width) {
  while (line.size() > width) {
    auto bar = line.rfind(" | ");
    if (bar == std::string::npos || bar == 0) {
      line.resize(width);
      break;
    }
    line.resize(bar);
  }
  return line;
}

std::size_t terminal_columns(int fd) {
  winsize ws{};
  if (fd < 0 || ::ioctl(fd, TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

progress_display::clock::duration progress_display::shown_every() const {
  if (stats_interval_) return *stats_interval_;
  return mode_ == progress_mode::json ? std::chrono::seconds(1) : std::chrono::seconds(5);
}

progress_display::clock::duration progress_display::logged_every() const {
  return stats_interval_.value_or(std::chrono::minutes(1));
}

progress_display::clock::duration progress_display::interval() const {
  clock::duration d =
      mode_ == progress_mode::bar ? clock::duration(std::chrono::milliseconds(250)) : shown_every();
  if (log_file_open()) d = std::min(d, logged_every());
  return d;
}

double progress_display::rate() const {
  if (samples_.size() < 2) return 0;
  const auto& [t0, d0] = samples_.front();
  const auto& [t1, d1] = samples_.back();
  double secs = std::chrono::duration<double>(t1 - t0).count();
  return secs > 0 ? static_cast<double>(d1 - d0) / secs : 0;
}

std::string progress_display::line(clock::time_point now) const {
  const auto done = load(stats_.done), total = load(stats_.total);
  const double r = rate();
  char head[160];
  if (total_final_) {
    const double pct = total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 0;
    std::string eta = "?";
    if (r > 0 && total >= done) eta = format_duration(static_cast<double>(total - done) / r);
    if (total == done) eta = "0s";
    std::snprintf(head, sizeof head, "%5.1f%% %llu/%llu | %.0f emails/s | ETA %s", pct,
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), r,
                  eta.c_str());
  } else {
    // A stream (stdin, a pipe) is read once, as it is sent: until it ends, what has been read
    // so far is no total, and a percentage or an ETA from it would be made up.
    std::snprintf(head, sizeof head,
                  "%llu done, %llu read so far (total when the input ends) | %.0f emails/s",
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), r);
  }
  char buf[384];
  std::snprintf(buf, sizeof buf,
                "%s | in flight %llu | throttled %llu | retries %llu | failed %llu | %s", head,
                static_cast<unsigned long long>(load(stats_.in_flight)),
                static_cast<unsigned long long>(load(stats_.throttled)),
                static_cast<unsigned long long>(load(stats_.retries)),
                static_cast<unsigned long long>(load(stats_.failed)),
                format_duration(std::chrono::duration<double>(now - start_).count()).c_str());
  return buf;
}

std::string progress_display::json_line(clock::time_point now) const {
  // Until a stream ends its total is unknown: "total" is null and "read" says how many addresses
  // have been read so far; from then on "total" is the number to reach.
  char total[48];
  if (total_final_)
    std::snprintf(total, sizeof total, "%llu", static_cast<unsigned long long>(load(stats_.total)));
  else
    std::snprintf(total, sizeof total, "null,\"read\":%llu",
                  static_cast<unsigned long long>(load(stats_.total)));
  char buf[512];
  std::snprintf(
      buf, sizeof buf,
      "{\"event\":\"progress\",\"time\":\"%s\",\"elapsed_s\":%.1f,\"done\":%llu,\"total\":%s,"
      "\"total_final\":%s,\"rate\":%.1f,\"in_flight\":%llu,\"requests\":%llu,"
      "\"throttled\":%llu,\"retries\":%llu,\"failed\":%llu}",
      utc_now().c_str(), std::chrono::duration<double>(now - start_).count(),
      static_cast<unsigned long long>(load(stats_.done)), total, total_final_ ? "true" : "false",
      rate(), static_cast<unsigned long long>(load(stats_.in_flight)),
      static_cast<unsigned long long>(load(stats_.requests)),
      static_cast<unsigned long long>(load(stats_.throttled)),
      static_cast<unsigned long long>(load(stats_.retries)),
      static_cast<unsigned long long>(load(stats_.failed)));
  return buf;
}

void progress_display::tick(clock::time_point now) {
  samples_.emplace_back(now, load(stats_.done));
  // A 10-second window: long enough to smooth throttling episodes, short enough to follow them.
  while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(10))
    samples_.pop_front();
  // The log file's line may be due less often than the ticks (the bar's, or a plain line every
  // 5 s beside a line a minute in the file). A timer never fires exactly on time: a tick a little
  // early still counts.
  if (log_file_open()) {
    const auto every = logged_every();
    if (!last_logged_ || now - *last_logged_ >= every - every / 10) {
      last_logged_ = now;
      log_file_text("stats: " + line(now));
    }
  }
  draw(now);
}

void progress_display::draw(clock::time_point now) {
  switch (mode_) {
    case progress_mode::off:
    case progress_mode::automatic: return;
    case progress_mode::bar: {
      std::string l = line(now);
      // One column short of the width: a character in the last one leaves some terminals
      // waiting to wrap, and the next '\r' would then redraw on a new line.
      if (std::size_t cols = terminal_columns(tty_fd_); cols > 1)
        l = fit_line(std::move(l), cols - 1);
      // "\x1b[K" clears what a longer earlier line left to the right of this one.
      out_ << '\r' << l << "\x1b[K" << std::flush;
      return;
    }
    case progress_mode::plain: out_ << line(now) << '\n' << std::flush; return;
    case progress_mode::json:
      if (event_stream* ev = active_events())
        ev->emit_line(json_line(now));
      else
        out_ << json_line(now) << '\n' << std::flush;
      return;
  }
}

void progress_display::finish(clock::time_point now) {
  // The final state is always logged, however soon after the last line.
  last_logged_.reset();
  tick(now);
  if (mode_ == progress_mode::bar) out_ << '\n' << std::flush;
}

}  // namespace onboard
