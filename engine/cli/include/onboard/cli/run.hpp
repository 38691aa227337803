// onboard/cli/run.hpp: one whole onboarding run (`invite`, `create-users`, the demo): ingest on
// its own thread, senders on the io_context, the journal, the report, progress, signals, summary.
//
//   run_options o; o.ingest.inputs = {"users.csv"}; o.account_id = "acct"; ...
//   int rc = run_onboarding(o);   // an exit code from exit_codes.hpp
#pragma once

#include <onboard/dispatch/dispatcher.hpp>
#include <onboard/ingest/ingest.hpp>
#include <onboard/journal/journal.hpp>
#include <onboard/cli/progress.hpp>
#include <onboard/cli/run_window.hpp>
#include <onboard/signing/credentials.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onboard {

namespace cli {
class parser;
}

struct run_options {
  std::string command = "invite";  // for messages and the resume hint
  std::vector<std::string> argv;   // the command line, echoed in the resume hint
  ingest_options ingest;
  operation op = operation::invite;

  // Before the first email. Without assume_yes, a terminal on stdin must answer "y" to a question
  // naming the account and the count (confirm.hpp); without a terminal the run refuses to start.
  bool assume_yes = false;  // --yes: no question (scripts, the demo)
  bool quiet = false;       // --quiet: errors and the summary only (no banner, no progress)
  std::uint64_t limit = 0;  // --limit N: a pilot of the first N pending addresses (0: all)
  // The run's window (run_window.hpp): it stops by itself, as on Ctrl-C, at the earlier of
  // `max_duration` after it started and `stop_at`. The texts are the flags' values, for messages.
  std::chrono::milliseconds max_duration{0};  // --max-duration (0: none)
  std::string max_duration_text;
  std::optional<stop_time> stop_at;  // --stop-at HH:MM
  std::string stop_at_text;

  // Where and who.
  std::string endpoint_url;
  std::string region = "us-east-1";            // the signing region (aws_settings::signing_region)
  std::string endpoint_source, region_source;  // where each came from ("--region", "AWS_REGION")
  std::string ca_bundle;
  bool verify_ssl = true;
  signing::resolve_options credentials;

  // Sending.
  int connections = 8;
  // One I/O thread drives thousands of requests a second, far beyond any account's limit; more
  // threads only add cross-thread hand-offs (malloc arenas, the scheduler's lock).
  int threads = 1;  // 0: one per core
  double rate = 0;  // requests/s ceiling; 0: learn the service's limit
  double burst = 0;
  bool adaptive = true;
  dispatch_config dispatch;
  // skip_existing: list every account's users before sending, and record an address already
  // there as `exists` without sending it.
  bool skip_existing = false;

  // Records.
  std::string journal_path;  // empty: default_journal_path, shared by every input
  bool new_journal = false;  // set the existing journal aside (kept, renamed) and start afresh
  durability journal_mode = durability::batched;
  std::string report_path;
  std::string log_file;  // --log-file, listed among the files written
  progress_mode progress = progress_mode::automatic;
  // --stats: the cadence of plain progress lines, JSON events and the log file's statistics line
  // (nullopt: progress.hpp's defaults).
  std::optional<std::chrono::milliseconds> stats_interval;
  bool json_output = false;
  bool dry_run = false;
  std::chrono::seconds drain_timeout{20};
};

// add_run_options / run_options_from_flags: the flags `invite` and `create-users` share.
struct run_flags;
run_flags* add_run_options(cli::parser& p, operation op);
// run_options_from_flags: nullopt after printing a usage error (exit 2).
std::optional<run_options> run_options_from_flags(cli::parser& p, run_flags& f, operation op);

// state_directory: chime-onboard's folder for what must outlive a run (journals):
// $XDG_STATE_HOME/chime-onboard when XDG_STATE_HOME is an absolute path (the XDG rule), else
// $HOME/.local/state/chime-onboard, HOME being the password database's when unset. Empty when
// there is no home at all.
std::filesystem::path state_directory(const signing::environment& env);

// default_journal_path: state_directory(env) / journal_file_name(op, account_id): one journal per
// (account, operation), whatever the input is called, in whichever order the inputs come, from
// a file or stdin. Empty without a state directory.
std::filesystem::path default_journal_path(operation op, std::string_view account_id,
                                           const signing::environment& env);

int run_onboarding(const run_options& opts);

}  // namespace onboard
