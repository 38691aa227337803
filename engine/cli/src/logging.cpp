#include <onboard/cli/logging.hpp>

#include <onboard/cli/cli_args.hpp>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <sys/stat.h>

namespace onboard {

log_flags* add_log_options(cli::parser& p) {
  static log_flags f;
  f.level = &p.add_value("log-level", "LEVEL", "trace|debug|info|warn|error|off", "info");
  f.file = &p.add_value("log-file", "FILE", "also write logs to FILE (mode 0600)");
  f.quiet = &p.add_flag(
      "quiet", "no banner, journal line or progress: warnings, errors and the summary only");
  f.redact = &p.add_flag("redact", "replace email addresses in logs with a short hash");
  return &f;
}

bool apply_log_options(cli::parser& p, const log_flags& f) {
  auto level = spdlog::level::from_str(f.level->value());
  if (level == spdlog::level::off && f.level->value() != "off") {
    p.usage_error("--log-level must be trace, debug, info, warn, error or off");
    return false;
  }
  if (f.quiet->given() && level < spdlog::level::warn) level = spdlog::level::warn;
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>()};
  if (f.file->given()) {
    try {
      // Logs can hold addresses: the file is private to its owner, like the journal.
      mode_t old = ::umask(077);
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(f.file->value()));
      ::umask(old);
    } catch (const spdlog::spdlog_ex& e) {
      p.usage_error("--log-file: cannot open '" + f.file->value() + "': " + e.what());
      return false;
    }
  }
  auto logger = std::make_shared<spdlog::logger>("chime-onboard", sinks.begin(), sinks.end());
  logger->set_level(level);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  set_log_redaction(f.redact->given());
  return true;
}

}  // namespace onboard

namespace onboard {
void init_logging_defaults() {
  auto logger = std::make_shared<spdlog::logger>("chime-onboard",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
}
}  // namespace onboard
