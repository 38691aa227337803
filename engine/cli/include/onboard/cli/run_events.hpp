// onboard/cli/run_events.hpp: `--progress json`'s stream. While a run with it lasts, stderr
// carries JSON objects only, one a line, each with an `event` field and a `time` (UTC), for a
// wrapper to read line by line:
//
//   started      the banner's facts, before the first email (the banner itself is not printed)
//   progress     the counters, every --stats interval (progress.hpp)
//   warning      every warning the run logs; `error` for errors, `log` for info and debug lines
//   message      any other line the run writes to stderr (the journal's path, a resume hint)
//   interrupted  a stop signal ended the run early; `resume` is the command that continues it
//   summary      last: the object --output json prints (summary.cpp) and the run's exit code
//
// Usage errors found before the run starts (exit 2) are plain text, as with every command.
//
//   json_event_scope events(opts.progress == progress_mode::json);
//   if (auto* ev = active_events()) ev->emit(started_event(banner, accounts));
#pragma once

#include <onboard/cli/banner.hpp>

#include <boost/json/object.hpp>

#include <iosfwd>
#include <memory>
#include <mutex>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace onboard {

// event_stream: whole lines onto one stream, from any thread.
class event_stream {
 public:
  explicit event_stream(std::ostream& out) : out_(out) {}
  // emit: `o` on a line, with "time" added first when it has none.
  void emit(boost::json::object o);
  // emit_line: an object already serialised (progress.cpp's), on a line as it is.
  void emit_line(std::string_view json_object);
  // keep_summary: the run's summary JSON, for the summary event json_event_scope::finish emits.
  void keep_summary(std::string json) { summary_ = std::move(json); }
  const std::string& kept_summary() const { return summary_; }

 private:
  std::mutex mu_;
  std::ostream& out_;
  std::string summary_;
};

// utc_now: the events' time, "2026-12-07T19:38:06.123Z".
std::string utc_now();

// active_events: the stream of the json_event_scope alive, or nullptr.
event_stream* active_events();

// event_account: an account of the run, for the started event.
struct event_account {
  std::string account_id, about, journal;
};

// The events' objects (pure; each has "event", and "time" is added by emit()).
boost::json::object started_event(const run_banner& b, const std::vector<event_account>& accounts);
boost::json::object log_event(std::string_view level, std::string_view text);
boost::json::object message_event(std::string_view text);
boost::json::object interrupted_event(std::string_view reason, std::string_view resume);
// summary_event: `summary_json` is print_summary's JSON text (null when the run ended before it
// had a summary: a refused pre-flight, a declined confirmation).
boost::json::object summary_event(std::string_view summary_json, int exit_code);

// json_event_scope: when `on`, for its lifetime, std::cerr's lines become message events, the
// default logger's stderr output becomes warning/error/log events (its --log-file is kept), and
// active_events() writes to the process's stderr. Nothing when off.
class json_event_scope {
 public:
  explicit json_event_scope(bool on);
  ~json_event_scope();
  // finish: the summary event, last, with the run's exit code; returns `exit_code`.
  int finish(int exit_code);
  json_event_scope(const json_event_scope&) = delete;
  json_event_scope& operator=(const json_event_scope&) = delete;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace onboard
