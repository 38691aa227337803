// onboard/cli/logging.hpp: logs go to stderr (and optionally a file) through spdlog, never to
// stdout, which belongs to the summary and JSON output. Addresses are PII: `--redact` replaces
// them in logs with a short stable hash, so a support ticket can still correlate lines.
#pragma once

#include <onboard/core/log.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace onboard {

namespace cli {
class parser;
struct option;
}  // namespace cli

struct log_flags {
  cli::option* level = nullptr;
  cli::option* debug = nullptr;
  cli::option* file = nullptr;
  cli::option* quiet = nullptr;
  cli::option* redact = nullptr;
  cli::option* stats = nullptr;
  // stats_interval: --stats, read by apply_log_options (nullopt: not given).
  std::optional<std::chrono::milliseconds> stats_interval;
};

// add_log_options: --log-level, --debug, --log-file, --quiet, --redact, --stats.
log_flags* add_log_options(cli::parser& p);

// apply_log_options: configures the default spdlog logger; false after a usage error. `--debug`
// is `--log-level debug`: one line per request (dispatch/request_log.hpp).
bool apply_log_options(cli::parser& p, log_flags& f);

// log_file_text: `text` in the --log-file only, one info record a line, whatever the level and
// --quiet (the file is the run's record: its banner, statistics and summary, which the terminal
// shows its own way); nothing without a log file.
void log_file_text(std::string_view text);
bool log_file_open();

}  // namespace onboard

namespace onboard {
// init_logging_defaults: before any flag is parsed, logs already go to stderr at info level.
void init_logging_defaults();
}  // namespace onboard
