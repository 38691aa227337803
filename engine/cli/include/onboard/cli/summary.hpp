// onboard/cli/summary.hpp: the account a run gives at the end, as a table for people or one
// JSON object (`--output json`) for scripts.
#pragma once

#include <onboard/dispatch/run_stats.hpp>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace onboard {

// account_summary: one account's line: what this run did for it, or why it needs attention.
struct account_summary {
  std::string account_id;
  std::string about;          // the pre-flight's name, type and status ("" when refused)
  std::string problem;        // why it was refused or stopped ("" when all went well)
  std::uint64_t planned = 0;  // its addresses to send, counted before sending (0: not counted)
  std::uint64_t invited = 0, created = 0, exists = 0, failed = 0;
  std::uint64_t not_sent = 0;   // pending, but the service sent no email (EmailStatus NotSent)
  std::uint64_t held_back = 0;  // read, but not sent: its account was refused
  double elapsed_seconds = 0;   // from the start to its last outcome
};

// written_file: a file the run wrote, by what it holds.
struct written_file {
  std::string kind;  // journal, report, rejects, duplicates, timeline, html, log
  std::string path;
};

// summary_schema: the JSON summary's `schema`: raised when a field changes meaning or goes away
// (new fields keep it).
inline constexpr int summary_schema = 1;

struct summary {
  // How the run ended: its exit code, complete | interrupted | failed, and why it stopped
  // (nullopt when nothing stopped it).
  int exit_code = 0;
  std::string status = "complete";
  std::optional<std::string> error;
  std::string endpoint;
  std::vector<written_file> files;  // every file written, in the order the text lists them
  // Input.
  std::uint64_t lines = 0;
  std::uint64_t accepted = 0;
  std::map<std::string, std::uint64_t> rejected;  // reason -> count
  std::uint64_t rejected_total = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t already_done = 0;   // finished by an earlier run (journal)
  std::uint64_t outside_where = 0;  // CSV rows --where left for another wave
  std::uint64_t batches = 0;
  // Outcomes of this run.
  std::uint64_t invited = 0, created = 0, exists = 0, failed = 0, not_sent = 0, verified = 0;
  std::map<std::string, std::uint64_t> failed_by_code;
  std::uint64_t not_done = 0;  // accepted addresses left for a resume
  // A pilot (--limit): its cap, and the addresses left for the full run (nullopt: not counted).
  std::uint64_t limit = 0;
  std::optional<std::uint64_t> remaining;
  // Traffic.
  std::uint64_t requests = 0, throttled = 0, unavailable = 0, retries = 0, in_doubt = 0;
  std::uint64_t bisections = 0, reconnects = 0;
  double elapsed_seconds = 0;
  double emails_per_second = 0;
  // accounts: a line per account of the run (one for a single-account run).
  std::vector<account_summary> accounts;
};

// fill_outcomes: copies the dispatcher's counters and the elapsed time into `s`.
void fill_outcomes(summary& s, const run_stats& stats, std::chrono::steady_clock::duration elapsed);

// print_summary: a table (text) or one JSON object on a line.
void print_summary(const summary& s, bool json, std::ostream& out);

}  // namespace onboard
