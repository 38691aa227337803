// onboard/cli/run_picture.hpp: a run as a picture. While a run sends, a timeline of its counters
// (one JSON line a second: addresses settled, requests, 429s, 5xx, the limiter's rate) is appended
// beside its journal; at the end, and with `report --html`, the journal and the timeline become
// one self-contained HTML page: the summary, charts over time as inline SVG (resumes and
// interruptions marked), outcomes by reason and the failed addresses with the service's words.
// No external assets and no JavaScript.
//
// The journal stays the record of who was invited; the timeline is telemetry: a lost or torn
// timeline costs charts, never an address.
#pragma once

#include <onboard/dispatch/run_stats.hpp>
#include <onboard/journal/journal.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onboard {

// timeline_path / picture_path: beside the journal, named after it.
std::filesystem::path timeline_path(const std::filesystem::path& journal);  // <journal>.timeline
std::filesystem::path picture_path(const std::filesystem::path& journal);   // <stem>.html

// run_plan: an account's share of a run as it starts: what its journal had settled (less what
// the run sends again), and what the run has to send to it (nullopt: not counted, a stream).
// `status` reads it back for done/total and the ETA.
struct run_plan {
  std::string account;
  std::uint64_t settled_before = 0;
  std::optional<std::uint64_t> to_send;
};

// timeline_recorder: appends to a timeline (created 0600). A timeline that cannot be written
// is a warning, not a failed run.
class timeline_recorder {
 public:
  explicit timeline_recorder(const std::filesystem::path& path);
  timeline_recorder(const timeline_recorder&) = delete;
  timeline_recorder& operator=(const timeline_recorder&) = delete;
  ~timeline_recorder();

  void started(std::string_view command, const std::vector<run_plan>& plan = {});
  void sample(const run_stats& s, double limiter_rate);
  // ended: status is complete, interrupted or failed.
  void ended(int exit_code, std::string_view status);

 private:
  void append(const std::string& line);
  int fd_ = -1;
};

struct timeline_sample {
  std::int64_t unix_ms = 0;
  std::uint64_t done = 0, requests = 0, throttled = 0, unavailable = 0;
  double rate = 0;        // the limiter's rate, requests/s
  std::uint32_t run = 0;  // which run (1-based): counters restart with each
};
struct timeline_event {
  std::int64_t unix_ms = 0;
  std::uint32_t run = 0;
  bool start = true;
  int exit_code = 0;
  std::string status;          // for an end: complete, interrupted, failed
  std::int64_t pid = 0;        // for a start: the process
  std::vector<run_plan> plan;  // for a start: its accounts
};
struct timeline {
  std::vector<timeline_sample> samples;
  std::vector<timeline_event> events;
  std::uint64_t unreadable_lines = 0;  // a torn last line after a kill -9, say
};

// read_timeline: an absent file is an empty timeline.
timeline read_timeline(const std::filesystem::path& path);

// render_html_report: the page for a replayed journal and its timeline.
std::string render_html_report(const replay_state& s, const timeline& t);

// write_html_report: the page for a replayed journal and the timeline beside it, written to `page`
// (0600, atomically). Throws on failure.
void write_html_report(const replay_state& s, const std::filesystem::path& page);
// write_html_report: the same for the journal at `journal`, replayed a window at a time: the
// memory is the address table's, not also the file's (a run's end, after a million addresses).
void write_html_report(const std::filesystem::path& journal, const std::filesystem::path& page);
// picture_is_current: whether `page` exists and a run that settled no address and sent nothing
// can leave it as it is (its counts cannot have changed).
bool picture_is_current(const std::filesystem::path& page, std::uint64_t addresses_handled);

// run_status: complete (exit 0, 3, 4), interrupted (5) or failed.
std::string_view run_status(int exit_code);

}  // namespace onboard
