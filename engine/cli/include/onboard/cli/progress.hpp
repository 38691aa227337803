// onboard/cli/progress.hpp: what a long run shows while it works, and the account it gives at
// the end.
//
// On a terminal, one line redrawn a few times a second, never wider than the terminal (done/total,
// emails/s, ETA from the measured rate, in flight, throttled, retries, failures). Elsewhere (CI,
// pipes), a plain line every few seconds. `json` emits one `progress` event per interval for
// wrappers (run_events.hpp). `--stats INTERVAL` sets the plain and JSON cadence (5 s and 1 s
// without it) and that of the statistics line in the --log-file (1 min without it).
//
// The total is exact from the start for regular files (counted first). A stream (stdin, a pipe)
// is read once, as it is sent, so until it ends the display shows what is done and what has been
// read so far, without a percentage or an ETA ("total": null and "read" in JSON).
//
//   progress_display p{progress_mode::automatic, stats, std::cerr};
//   p.tick(now);            // from a timer; draws when it is time
//   p.finish(now);          // final line at 100% (or where the run stopped)
#pragma once

#include <onboard/cli/durations.hpp>
#include <onboard/core/text.hpp>
#include <onboard/dispatch/run_stats.hpp>

#include <chrono>
#include <deque>
#include <iosfwd>
#include <optional>
#include <string>

namespace onboard {

enum class progress_mode { automatic, bar, plain, json, off };

// parse_progress_mode: "auto|bar|plain|json|off".
std::optional<progress_mode> parse_progress_mode(std::string_view s);

// stats_interval_rules: --stats: a duration (durations.hpp: "500ms", "10s", "1.5m") or a bare
// number of seconds, from 100 ms to 24 h.
inline constexpr duration_rules stats_interval_rules{
    .min = std::chrono::milliseconds(100), .max = std::chrono::hours(24), .bare_seconds = true};

class progress_display {
 public:
  using clock = std::chrono::steady_clock;

  // progress_display: `automatic` picks `bar` when `is_tty` else `plain`. `tty_fd`: the
  // terminal `out` writes to, whose width the redrawn line is fitted to, read again at every
  // redraw so that a resized window is followed (-1: no fitting).
  progress_display(progress_mode mode, const run_stats& stats, std::ostream& out, bool is_tty,
                   int tty_fd = -1);

  // set_stats_interval: --stats: the cadence of plain lines, JSON events and the log file's line.
  void set_stats_interval(clock::duration d) { stats_interval_ = d; }

  // interval: how often tick() should be called.
  clock::duration interval() const;

  // tick: samples the counters and draws a line.
  void tick(clock::time_point now);

  // finish: draws the final state and ends the redrawn line.
  void finish(clock::time_point now);

  // rate: addresses per second over the last few seconds.
  double rate() const;

  // set_total_final: the total is final (counted, or the reader finished): a percentage and an
  // ETA mean something.
  void set_total_final(bool v) { total_final_ = v; }

 private:
  std::string line(clock::time_point now) const;
  std::string json_line(clock::time_point now) const;
  clock::duration shown_every() const;   // plain lines and JSON events
  clock::duration logged_every() const;  // the log file's statistics line
  void draw(clock::time_point now);
  progress_mode mode_;
  std::optional<clock::duration> stats_interval_;
  std::optional<clock::time_point> last_logged_;
  const run_stats& stats_;
  std::ostream& out_;
  clock::time_point start_;
  std::deque<std::pair<clock::time_point, std::uint64_t>> samples_;
  bool total_final_ = false;
  int tty_fd_ = -1;
};

// fit_line: `line` within `width` columns (ASCII): whole " | "-separated fields are dropped from
// the end until it fits, then what is left is cut. A line drawn in the last column of a terminal
// makes it wrap, so callers pass the terminal's width minus one.
std::string fit_line(std::string line, std::size_t width);

// terminal_columns: the width of the terminal on `fd`, 0 when it is none or does not say.
std::size_t terminal_columns(int fd);

}  // namespace onboard
