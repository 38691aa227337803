// `chime-onboard invite` and `chime-onboard create-users`: flags to run_options, then run.
#include "ingest_flags.hpp"

#include <onboard/cli/aws_settings.hpp>
#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/cli/logging.hpp>
#include <onboard/cli/run.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <sys/resource.h>
#include <thread>

namespace onboard {

namespace {

// open_descriptors: how many file descriptors the process holds now (inherited ones included).
std::size_t open_descriptors() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++n;
  return n > 0 ? n - 1 : 3;  // the listing's own descriptor; without /proc, stdio
}

// connections_within_open_file_limit: every connection holds a socket, and a connection the
// system refuses a descriptor for cannot send what its sender took. Besides what is open now,
// a run opens the journal, the report, the rejects and duplicates files, one input at a time,
// the io_context's own descriptors and a credential_process pipe: `reserve` covers them with
// room to spare. The soft limit is raised as far as the hard one allows; past that, fewer
// connections, with a warning naming both numbers.
int connections_within_open_file_limit(int wanted, std::size_t inputs) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return wanted;
  const rlim_t reserve = static_cast<rlim_t>(open_descriptors() + inputs + 24);
  const rlim_t needed = reserve + static_cast<rlim_t>(wanted);
  if (lim.rlim_cur < needed && lim.rlim_max > lim.rlim_cur) {
    rlimit raised = lim;
    raised.rlim_cur = std::min(lim.rlim_max, needed);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  if (lim.rlim_cur >= needed) return wanted;
  const int fit = lim.rlim_cur > reserve ? static_cast<int>(lim.rlim_cur - reserve) : 1;
  const int capped = std::max(1, std::min(wanted, fit));
  spdlog::warn(
      "--connections {}: the open-file limit is {} (ulimit -n), too low for that many; using {} "
      "connection{} (raise the limit to {} or more for {})",
      wanted, static_cast<unsigned long long>(lim.rlim_cur), capped, capped == 1 ? "" : "s",
      static_cast<unsigned long long>(needed), wanted);
  return capped;
}

}  // namespace

struct run_flags {
  ingest_flags* ingest = nullptr;
  cli::option *profile, *region, *endpoint_url, *ca_bundle, *no_verify_ssl;
  cli::option *connections, *threads, *rate, *burst, *fixed_rate, *max_attempts;
  cli::option *journal, *new_journal, *durability, *in_doubt, *retry_failed, *max_failures, *report;
  cli::option* skip_existing;
  cli::option *progress, *output, *dry_run, *yes, *limit, *max_duration, *stop_at;
  log_flags* log = nullptr;
};

run_flags* add_run_options(cli::parser& p, operation op) {
  static run_flags f;  // one command line per process
  f.ingest = add_ingest_options(p, op);
  p.group("service");
  f.profile = &p.add_value("profile", "NAME", "AWS profile (else AWS_PROFILE, else default)");
  f.region =
      &p.add_value("region", "REGION",
                   "signing region (else AWS_REGION, AWS_DEFAULT_REGION, config; us-east-1)");
  f.endpoint_url = &p.add_value(
      "endpoint-url", "URL",
      "API endpoint (else AWS_ENDPOINT_URL_CHIME, AWS_ENDPOINT_URL, config; the public endpoint)");
  f.ca_bundle =
      &p.add_value("ca-bundle", "PEM", "trusted CAs (else AWS_CA_BUNDLE, config; system CAs)");
  f.no_verify_ssl = &p.add_flag("no-verify-ssl", "do not check the server's certificate (warns)");
  p.group("pacing");
  f.connections = &p.add_value(
      "connections", "N",
      "most persistent HTTPS connections per account: 8 at first, more while the round trip, "
      "not the service's limit, holds the run back",
      "64");
  f.threads = &p.add_value("threads", "N", "I/O threads (0: one per core)", "1");
  f.rate = &p.add_value(
      "rate", "R",
      "ceiling in requests/s per API, all accounts together (0: none; the engine learns the "
      "service's limit)",
      "0");
  f.burst = &p.add_value("burst", "B", "token-bucket burst (0: automatic)", "0");
  f.fixed_rate = &p.add_flag("fixed-rate", "send at exactly --rate, without adapting to 429s");
  f.max_attempts =
      &p.add_value("max-attempts", "N",
                   "attempts per batch on 5xx and network errors (else "
                   "AWS_MAX_ATTEMPTS, config max_attempts; 10); 429s are paced, not counted");
  p.group("journal");
  f.journal = &p.add_value("journal", "FILE",
                           "write-ahead journal (default: one per account and operation in "
                           "$XDG_STATE_HOME/chime-onboard, else ~/.local/state/chime-onboard, "
                           "shared by every input)");
  f.new_journal = &p.add_flag("new-journal",
                              "start a new journal: the existing one is kept, renamed "
                              "<name>.old-<UTC time>.journal, and its addresses are sent again");
  f.durability =
      &p.add_value("durability", "MODE", "journal fsync policy: strict|batched|off", "batched");
  f.in_doubt = &p.add_value(
      "in-doubt", "POLICY",
      "requests that may have been applied: verify (ListUsers first)|resend|skip", "verify");
  f.skip_existing = &p.add_flag(
      "skip-existing",
      "before sending, list each account's users (ListUsers, 200 a page) and send nothing to an "
      "address already a member or invited: it is recorded as `exists` (for next week's export "
      "of the same people)");
  f.retry_failed = &p.add_flag("retry-failed",
                               "retry addresses the service marked Failed (this "
                               "run and earlier ones) once more");
  f.max_failures = &p.add_value(
      "max-failures", "N|P%",
      "stop the run (exit 7, resumable) once N addresses have failed, or P% of those settled "
      "(judged after 50); default: no limit");
  p.group("output");
  f.report = &p.add_value("report", "FILE",
                          "per-address results of every run on the journal (.csv or .jsonl, "
                          "mode 0600), written when the run ends");
  f.progress = &p.add_value("progress", "MODE", "auto|bar|plain|json|off", "auto");
  f.output = &p.add_value("output", "FORMAT", "summary on stdout: text|json", "text");
  p.group("run");
  f.dry_run = &p.add_flag("dry-run", "read and plan only, send nothing (same as `plan`)");
  f.yes = &p.add_flag("yes",
                      "send without asking (needed when stdin is not a terminal, or an input is "
                      "stdin or a pipe, whose addresses cannot be counted first)");
  f.yes->short_name = 'y';
  f.yes->file_allowed = false;
  f.limit = &p.add_value("limit", "N",
                         "a pilot: send only the first N addresses not yet done, on the same "
                         "journal (the full run later skips them; 0: all)",
                         "0");
  f.max_duration = &p.add_value("max-duration", "DURATION",
                                "stop cleanly after this long (90s, 45m, 1.5h, 1h30m), as on "
                                "Ctrl-C: exit 5, and the same command resumes");
  f.stop_at = &p.add_value("stop-at", "HH:MM",
                           "stop cleanly at this local time (today, or tomorrow once it has "
                           "passed), as on Ctrl-C: exit 5, and the same command resumes");
  p.group("output");
  f.log = add_log_options(p);
  p.add_epilog(exit_codes_help);
  return &f;
}

std::optional<run_options> run_options_from_flags(cli::parser& p, run_flags& f, operation op) {
  run_options o;
  o.op = op;
  o.dispatch.op = op;
  auto ing = ingest_options_from_flags(p, *f.ingest);
  if (!ing) return std::nullopt;
  o.ingest = std::move(*ing);
  o.ingest.op = op;
  if (o.ingest.inputs.empty()) {
    p.usage_error("at least one --input is needed (a file, or - for stdin)");
    return std::nullopt;
  }
  if (o.ingest.account_id.empty()) {
    p.usage_error("--account-id is required");
    return std::nullopt;
  }

  aws_flags af{f.profile->value(), f.region->value(), f.endpoint_url->value(), f.ca_bundle->value(),
               f.max_attempts->given() ? f.max_attempts->value() : ""};
  auto env = signing::process_environment();
  aws_settings s = resolve_aws_settings(af, env);
  o.credentials.profile = f.profile->value();
  o.region = s.signing_region.value;
  o.region_source = s.signing_region.source;
  o.endpoint_url = s.endpoint_url.value;
  o.endpoint_source = s.endpoint_url.source;
  o.ca_bundle = s.ca_bundle.value;
  o.verify_ssl = !f.no_verify_ssl->given();

  auto conns = p.integer(*f.connections, 1, 1024);
  auto threads = p.integer(*f.threads, 0, 256);
  auto limit = p.integer(*f.limit, 0, std::numeric_limits<std::int64_t>::max());
  if (!limit) return std::nullopt;
  o.limit = static_cast<std::uint64_t>(*limit);
  if (f.max_duration->given()) {
    auto d = parse_duration(f.max_duration->value(), max_duration_rules);
    if (!d) {
      p.usage_error("option " + p.named(*f.max_duration) + ": '" + f.max_duration->value() +
                    "' is not a duration such as 90s, 45m, 1.5h or 1h30m (1s to 366d)");
      return std::nullopt;
    }
    o.max_duration = *d;
    o.max_duration_text = f.max_duration->value();
  }
  if (f.stop_at->given()) {
    o.stop_at = next_stop_at(f.stop_at->value(), std::chrono::system_clock::now());
    if (!o.stop_at) {
      p.usage_error("option " + p.named(*f.stop_at) + ": '" + f.stop_at->value() +
                    "' is not a local time HH:MM (00:00 to 23:59)");
      return std::nullopt;
    }
    o.stop_at_text = f.stop_at->value();
  }
  o.assume_yes = f.yes->given();
  o.quiet = f.log->quiet->given();
  auto rate = p.number(*f.rate, 0, 1e6);
  auto burst = p.number(*f.burst, 0, 1e6);
  if (!conns || !threads || !rate || !burst) return std::nullopt;
  o.connections = static_cast<int>(*conns);
  o.threads = static_cast<int>(*threads);
  o.rate = *rate;
  o.burst = *burst;
  o.adaptive = !f.fixed_rate->given();
  if (!o.adaptive && o.rate <= 0) {
    p.usage_error("--fixed-rate needs --rate R");
    return std::nullopt;
  }
  cli::option attempts_opt = *f.max_attempts;
  attempts_opt.values = {s.max_attempts.value};
  if (s.max_attempts.source != "--max-attempts")
    attempts_opt.name += " (from " + s.max_attempts.source + ")";
  auto attempts = p.integer(attempts_opt, 1, 1000);
  if (!attempts) return std::nullopt;
  o.dispatch.max_attempts = static_cast<int>(*attempts);

  auto mode = parse_durability(f.durability->value());
  if (!mode) {
    p.usage_error("--durability must be strict, batched or off");
    return std::nullopt;
  }
  o.journal_mode = *mode;
  const std::string& doubt = f.in_doubt->value();
  if (doubt == "verify")
    o.dispatch.in_doubt = in_doubt_policy::verify;
  else if (doubt == "resend")
    o.dispatch.in_doubt = in_doubt_policy::resend;
  else if (doubt == "skip")
    o.dispatch.in_doubt = in_doubt_policy::skip;
  else {
    p.usage_error("--in-doubt must be verify, resend or skip");
    return std::nullopt;
  }
  o.dispatch.retry_failed = f.retry_failed->given();
  o.skip_existing = f.skip_existing->given();
  if (f.max_failures->given()) {
    std::string why;
    auto max_failures = engine::parse_failure_limit(f.max_failures->value(), why);
    if (!max_failures) {
      p.usage_error(why);
      return std::nullopt;
    }
    o.dispatch.max_failures = *max_failures;
  }
  o.journal_path = f.journal->value();
  o.new_journal = f.new_journal->given();
  o.report_path = f.report->value();
  o.log_file = f.log->file->value();
  // The format follows the name: a name that says neither would get a format the user did not
  // choose (and a later `report` might be fed the wrong kind of file).
  if (!o.report_path.empty() && !o.report_path.ends_with(".csv") &&
      !o.report_path.ends_with(".jsonl")) {
    p.usage_error("option " + p.named(*f.report) + ": '" + o.report_path +
                  "' must end in .csv or .jsonl (the report's format follows its name)");
    return std::nullopt;
  }
  auto pm = parse_progress_mode(f.progress->value());
  if (!pm) {
    p.usage_error("--progress must be auto, bar, plain, json or off");
    return std::nullopt;
  }
  o.progress = *pm;
  if (f.output->value() != "text" && f.output->value() != "json") {
    p.usage_error("--output must be text or json");
    return std::nullopt;
  }
  o.json_output = f.output->value() == "json";
  o.dry_run = f.dry_run->given();
  if (!apply_log_options(p, *f.log)) return std::nullopt;
  o.stats_interval = f.log->stats_interval;
  if (!o.dry_run)
    o.connections = connections_within_open_file_limit(o.connections, o.ingest.inputs.size());
  return o;
}

namespace {

int run_command(const args_t& args, operation op) {
  const bool invite = op == operation::invite;
  cli::parser p(
      invite ? "invite" : "create-users",
      invite ? "Invite every address of the inputs to a Chime Team account (InviteUsers, "
               "50 a request), journalled and resumable."
             : "Create one Chime user per input row (CreateUser: email, username, "
               "user_type columns), journalled and resumable.",
      invite ? "chime-onboard invite --account-id 12a3456b-7c89-012d-3456-78901e23fg45 "
               "--input staff.csv --report staff-report.csv"
             : "chime-onboard create-users --account-id 12a3456b-7c89-012d-3456-78901e23fg45 "
               "--input devices.csv --user-type SharedDevice --report devices.csv.report.csv");
  run_flags* f = add_run_options(p, op);
  if (auto rc = p.parse(args)) return *rc;
  auto o = run_options_from_flags(p, *f, op);
  if (!o) return exit_usage;
  o->command = invite ? "invite" : "create-users";
  o->argv = args;
  return run_onboarding(*o);
}

}  // namespace

int cmd_invite(const args_t& args) { return run_command(args, operation::invite); }
int cmd_create_users(const args_t& args) { return run_command(args, operation::create); }

}  // namespace onboard
