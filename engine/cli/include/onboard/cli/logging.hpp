// onboard/cli/logging.hpp: logs go to stderr (and optionally a file) through spdlog, never to
// stdout, which belongs to the summary and JSON output. Addresses are PII: `--redact` replaces
// them in logs with a short stable hash, so a support ticket can still correlate lines.
#pragma once

#include <onboard/core/log.hpp>

#include <string>
#include <string_view>

namespace onboard {

namespace cli {
class parser;
struct option;
}  // namespace cli

struct log_flags {
  cli::option* level = nullptr;
  cli::option* file = nullptr;
  cli::option* quiet = nullptr;
  cli::option* redact = nullptr;
};

// add_log_options: --log-level, --log-file, --quiet, --redact.
log_flags* add_log_options(cli::parser& p);

// apply_log_options: configures the default spdlog logger; false after a usage error.
bool apply_log_options(cli::parser& p, const log_flags& f);

}  // namespace onboard

namespace onboard {
// init_logging_defaults: before any flag is parsed, logs already go to stderr at info level.
void init_logging_defaults();
}  // namespace onboard
