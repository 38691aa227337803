// onboard/cli/journal_views.hpp: what `status` and `report` make of a replayed journal. The
// journal library reads and writes records; how they are shown to a person is the CLI's.
#pragma once

#include <onboard/cli/report_writer.hpp>
#include <onboard/cli/run_picture.hpp>
#include <onboard/journal/journal.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace onboard {

// journal_holder: the process holding a journal's lock now, as /proc/locks shows it. A run holds
// it (flock, exclusive) from the journal's opening to its close; so does `journal repair`.
struct journal_holder {
  bool known = false;               // false: /proc/locks (or the journal) could not be read
  std::optional<std::int64_t> pid;  // nullopt: nobody holds it (or, with !known, unknown)
};

// journal_lock_holder: read-only: taking the lock to test it, even for a moment, would turn away
// a run starting at that moment.
journal_holder journal_lock_holder(const std::filesystem::path& journal);

// run_progress: where the journal's latest run stands: settled addresses against its plan (the
// timeline's start event: what the journal had settled, plus what that run set out to send),
// whether it is running, and at what recent rate.
struct run_progress {
  std::optional<bool> active;          // nullopt: unknown
  std::int64_t pid = 0;                // the running process (when active)
  std::int64_t started_unix_ms = 0;    // the latest run's start (0: no timeline)
  std::uint64_t done = 0;              // settled addresses in the journal
  std::optional<std::uint64_t> total;  // done + still to do in the latest run's plan
  std::optional<double> recent_rate;   // addresses/s over the last minute of samples (active)
  std::optional<double> eta_seconds;   // (total - done) / recent_rate (active)
  std::string last_status;             // the latest run's end: complete, interrupted, failed
  int last_exit_code = 0;
  std::int64_t last_end_unix_ms = 0;  // 0: it has not ended (running, or killed)
};

// progress_of: `t` is the timeline beside the journal (read_timeline), `h` its lock's holder.
run_progress progress_of(const replay_state& s, const timeline& t, const journal_holder& h);

// status_text / status_json: what `chime-onboard status` prints for a replayed journal
// (`now_unix_ms` makes "3m ago" testable); with `p`, the run's state, progress and ETA too.
std::string status_text(const replay_state& s, std::int64_t now_unix_ms,
                        const run_progress* p = nullptr);
std::string status_json(const replay_state& s, const run_progress* p = nullptr);
// report_source: where a run read an address, for a report's source and line columns.
struct report_source {
  std::string_view input;
  std::uint64_t line = 0;
};
// source_lookup: where this run read `email`, nullopt when it did not (an earlier run did).
using source_lookup = std::function<std::optional<report_source>(std::string_view email)>;

// write_report: one row per address, in first-mention order: its latest outcome, or "in_doubt"
// when it only has an intent. failed_only: rows whose latest outcome is failed. `source_of` fills
// the source columns of a writer that has them (else they stay empty). Returns the rows.
std::uint64_t write_report(const replay_state& s, report_writer& w, bool failed_only,
                           const source_lookup& source_of = {});

}  // namespace onboard
