#include <onboard/cli/logging.hpp>

#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/progress.hpp>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <sys/stat.h>

namespace onboard {

namespace {

constexpr const char* log_pattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";

// file_logger: the --log-file's sink alone, for what only the file records.
std::shared_ptr<spdlog::logger>& file_logger() {
  static std::shared_ptr<spdlog::logger> l;
  return l;
}

}  // namespace

log_flags* add_log_options(cli::parser& p) {
  static log_flags f;
  f.level = &p.add_value("log-level", "LEVEL", "trace|debug|info|warn|error|off", "info");
  f.debug = &p.add_flag("debug",
                        "--log-level debug: adds a line per request (method, path, status, "
                        "request id, latency, attempt, retry reason; never a secret)");
  f.file = &p.add_value("log-file", "FILE", "also write logs to FILE (mode 0600)");
  f.quiet = &p.add_flag(
      "quiet", "no banner, journal line or progress: warnings, errors and the summary only");
  f.redact = &p.add_flag("redact", "replace email addresses in logs with a short hash");
  f.stats = &p.add_value("stats", "INTERVAL",
                         "how often plain progress lines and JSON progress events are written, "
                         "and the statistics line in the --log-file (500ms, 10s, 1.5m, 1m30s; a "
                         "bare number is seconds; default: 5s plain, 1s json, 1m in the log file)");
  return &f;
}

bool apply_log_options(cli::parser& p, log_flags& f) {
  auto level = spdlog::level::from_str(f.level->value());
  if (level == spdlog::level::off && f.level->value() != "off") {
    p.usage_error("--log-level must be trace, debug, info, warn, error or off");
    return false;
  }
  if (f.stats->given()) {
    f.stats_interval = parse_duration(f.stats->value(), stats_interval_rules);
    if (!f.stats_interval) {
      p.usage_error("option " + p.named(*f.stats) + ": '" + f.stats->value() +
                    "' is not an interval from 100ms to 24h (500ms, 10s, 1.5m, 1m30s, or a "
                    "number of seconds)");
      return false;
    }
  }
  if (f.debug->given() && level > spdlog::level::debug) level = spdlog::level::debug;
  if (f.quiet->given() && level < spdlog::level::warn) level = spdlog::level::warn;
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>()};
  file_logger().reset();
  if (f.file->given()) {
    // Logs can hold addresses: the file is private to its owner, like the journal.
    mode_t old = ::umask(077);
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(f.file->value()));
      ::umask(old);
    } catch (const spdlog::spdlog_ex& e) {
      ::umask(old);
      p.usage_error("--log-file: cannot open '" + f.file->value() + "': " + e.what());
      return false;
    }
    file_logger() = std::make_shared<spdlog::logger>("chime-onboard-file", sinks.back());
    file_logger()->set_level(spdlog::level::info);
    file_logger()->set_pattern(log_pattern);
  }
  auto logger = std::make_shared<spdlog::logger>("chime-onboard", sinks.begin(), sinks.end());
  logger->set_level(level);
  logger->set_pattern(log_pattern);
  // A warning can be the last thing before a crash: it must not wait in a buffer.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  set_log_redaction(f.redact->given());
  return true;
}

void log_file_text(std::string_view text) {
  const auto& l = file_logger();
  if (!l) return;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (auto line = text.substr(0, nl); !line.empty()) l->info("{}", line);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  l->flush();
}

bool log_file_open() { return file_logger() != nullptr; }

}  // namespace onboard

namespace onboard {
void init_logging_defaults() {
  auto logger = std::make_shared<spdlog::logger>("chime-onboard",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern(log_pattern);
  spdlog::set_default_logger(logger);
}
}  // namespace onboard
