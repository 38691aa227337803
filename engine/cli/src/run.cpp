#include <onboard/cli/run.hpp>

#include <onboard/cli/aws_settings.hpp>
#include <onboard/cli/banner.hpp>
#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/credential_chain.hpp>
#include <onboard/cli/confirm.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/cli/journal_views.hpp>
#include <onboard/cli/preflight.hpp>
#include <onboard/dispatch/clock_skew.hpp>
#include <onboard/dispatch/https_transport.hpp>
#include <onboard/dispatch/rate_gate.hpp>
#include <onboard/cli/report_writer.hpp>
#include <onboard/cli/signals.hpp>
#include <onboard/cli/summary.hpp>
#include <onboard/io/durable_file.hpp>
#include <onboard/io/endpoint.hpp>
#include <onboard/io/proxy.hpp>
#include <onboard/io/https_connection.hpp>
#include <onboard/io/tls_context.hpp>
#include <onboard/core/text.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <pwd.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace onboard {

namespace net = boost::asio;

std::filesystem::path state_directory(const signing::environment& env) {
  namespace fs = std::filesystem;
  if (auto xdg = env("XDG_STATE_HOME"); xdg && fs::path(*xdg).is_absolute())
    return fs::path(*xdg) / "chime-onboard";
  std::string home;
  if (auto h = env("HOME"); h && !h->empty()) {
    home = *h;
  } else {
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found &&
        found->pw_dir)
      home = found->pw_dir;
  }
  if (home.empty()) return {};
  return fs::path(home) / ".local" / "state" / "chime-onboard";
}

std::filesystem::path default_journal_path(operation op, std::string_view account_id,
                                           const signing::environment& env) {
  auto dir = state_directory(env);
  if (dir.empty()) return {};
  return dir / journal_file_name(op, account_id);
}

namespace {

// shell_quote: the resume hint must be copy-pasteable even with spaces in paths.
std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=:@,+") == std::string::npos)
    return s;
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

// full_run_command: the command line without --limit: after a pilot, the run that sends the rest.
std::string full_run_command(const run_options& o) {
  std::string cmd = "chime-onboard " + o.command;
  for (std::size_t i = 0; i < o.argv.size(); ++i) {
    const auto& a = o.argv[i];
    if (a == "--limit") {
      ++i;
      continue;
    }
    if (a.starts_with("--limit=") || a == "--new-journal") continue;
    cmd += " " + shell_quote(a);
  }
  return cmd;
}

std::string resume_command(const run_options& o) {
  std::string cmd = "chime-onboard " + o.command;
  // Resuming must continue this run's journal, not set it aside as --new-journal did.
  for (const auto& a : o.argv)
    if (a != "--new-journal") cmd += " " + shell_quote(a);
  return cmd;
}

// run_report: `--report FILE`, written from the journal when the run ends, so that after a resume
// it holds every address of every run on that journal (the rows `chime-onboard report` writes,
// with the same columns). The source and line columns come from this run's input: write(), the
// dispatcher's sink, notes where each address this run settled was read (32 bytes an address);
// an address only earlier runs settled has an empty source and line 0. CSV unless the name ends
// in .jsonl; created 0600 under a temporary name and renamed into place, so an interrupted run
// never leaves half a report.
class run_report {
 public:
  run_report(std::string path, const ingest& in, bool case_sensitive_local)
      : path_(std::move(path)), in_(in), case_sensitive_local_(case_sensitive_local) {}

  // write: called once per address settled, from any sender thread.
  void write(const planned_address& item, const address_outcome&) {
    auto key = key_of(item.email, case_sensitive_local_);
    std::lock_guard lk(mu_);
    read_at_.push_back({key, item.source, item.line});
    ++settled_;
  }

  // finish: writes the report from the journal at `journal` (closed); the rows written. Throws
  // journal_error or std::system_error.
  std::uint64_t finish(const std::filesystem::path& journal) {
    std::lock_guard lk(mu_);
    auto by_key = [](const read_at& a, const read_at& b) {
      return a.key.hi != b.key.hi ? a.key.hi < b.key.hi : a.key.lo < b.key.lo;
    };
    std::sort(read_at_.begin(), read_at_.end(), by_key);
    auto state = replay_journal(journal);
    io::atomic_file f(path_);
    report_writer w([&f](std::string_view b) { f.append(b); },
                    path_.ends_with(".jsonl") ? report_format::jsonl : report_format::csv,
                    /*with_source=*/true);
    auto rows = write_report(state, w, /*failed_only=*/false,
                             [&](std::string_view email) -> std::optional<report_source> {
                               read_at want{key_of(email, case_sensitive_local_), 0, 0};
                               auto it =
                                   std::lower_bound(read_at_.begin(), read_at_.end(), want, by_key);
                               if (it == read_at_.end() || !(it->key == want.key))
                                 return std::nullopt;
                               return report_source{in_.input_name(it->source), it->line};
                             });
    f.commit();
    return rows;
  }

  std::uint64_t settled() const {
    std::lock_guard lk(mu_);
    return settled_;
  }

 private:
  struct read_at {
    dedupe_key key;
    std::uint32_t source = 0;
    std::uint64_t line = 0;
  };
  mutable std::mutex mu_;
  std::string path_;
  const ingest& in_;
  bool case_sensitive_local_;
  std::vector<read_at> read_at_;
  std::uint64_t settled_ = 0;
};

// report_path_problem: why `path` cannot be created as the report, "" when it probably can. Checked
// before the journal is created, so that a mistyped --report costs nothing; the report itself is
// only opened once the input is (it names the input files), and truncated then.
std::string report_path_problem(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return "'" + path + "' is a directory";
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec))
    return "no directory '" + dir.string() + "' to write '" + path + "' in";
  if (::access(dir.c_str(), W_OK) != 0)
    return "cannot write in '" + dir.string() + "': " + std::strerror(errno);
  return {};
}

summary input_summary(const ingest_stats& st) {
  summary s;
  s.lines = st.lines;
  s.accepted = st.accepted + st.already_done;
  s.rejected = st.rejected_by_reason;
  s.rejected_total = st.rejected;
  s.duplicates = st.duplicates;
  s.already_done = st.already_done;
  s.batches = st.batches;
  return s;
}

// journal_header_for: the header this run's journal has, or gets when it is new.
journal_header journal_header_for(const run_options& opts, const ingest_options& iopts) {
  journal_header h;
  h.op = opts.op;
  h.account_id = iopts.account_id;
  h.type = iopts.type;
  h.case_sensitive_local = iopts.case_sensitive_local;
  h.tool_version = version;
  return h;
}

// print_journal_error: why the journal cannot be used, and for a damaged one how to repair it.
void print_journal_error(const run_options& opts, const std::string& path, const journal_error& e) {
  std::cerr << "chime-onboard " << opts.command << ": " << e.what() << "\n";
  if (dynamic_cast<const journal_damaged*>(&e))
    std::cerr << "repair it (the damaged file is kept beside it) with:\n  chime-onboard journal "
                 "repair --journal "
              << shell_quote(path)
              << "\nthen run this command again: the addresses whose records were lost are "
                 "checked with ListUsers before anything is sent again\n";
}

// seed_from_prior: what earlier runs settled, as the reader skips it: their finished addresses
// are not sent again (the failed and not-sent ones are with --retry-failed); their in-doubt ones
// are sent, once verified, and listed in `in_doubt` when given.
void seed_from_prior(const replay_state& prior, bool retry_failed, ingest_options& iopts,
                     std::unordered_set<std::string>* in_doubt) {
  auto done = std::make_shared<dedupe_set>();
  done->reserve(prior.size());
  for (std::size_t i = 0; i < prior.size(); ++i) {
    auto st = prior.at(i);
    if (st.in_doubt && in_doubt) in_doubt->emplace(st.email);
    const bool retry = retry_failed && st.kind && retried_by_retry_failed(*st.kind);
    if (st.kind && !st.in_doubt && !retry)
      done->insert(key_of(st.email, iopts.case_sensitive_local));
  }
  if (!done->empty()) iopts.already_done_keys = std::move(done);
}

// open_journal: opens (or resumes) the run's journal and seeds what earlier runs settled: their
// finished addresses are skipped by ingest, their in-doubt ones verified before sending. Progress
// is keyed by the normalised address (the dedupe key), not by line, so an edited, re-sorted or
// appended corpus still resumes correctly. nullptr after printing why it cannot be used.
std::unique_ptr<journal> open_journal(const run_options& opts, const std::string& path,
                                      ingest_options& iopts, dispatch_config& dcfg) {
  std::unique_ptr<journal> jrnl;
  try {
    jrnl = journal::open(path, journal_header_for(opts, iopts), {.mode = opts.journal_mode});
  } catch (const journal_error& e) {
    print_journal_error(opts, path, e);
    return nullptr;
  }
  for (const auto& n : jrnl->notes()) std::cerr << "journal: " << n << "\n";
  const replay_state& prior = jrnl->prior();
  if (!opts.quiet)
    std::cerr << "journal: " << path
              << (prior.size() ? " (resuming: " + std::to_string(prior.size()) +
                                     " addresses known from earlier runs)"
                               : " (new)")
              << "\n";
  seed_from_prior(prior, dcfg.retry_failed, iopts, &dcfg.in_doubt_addresses);
  return jrnl;
}

// count_addresses: with regular files, one counting pass first (about a second per 10 million
// lines) gives the exact number of addresses to send (and the rejects and duplicates), for the
// confirmation, the banner and a real ETA from the first second; it writes nothing. nullopt when
// an input is a stream (stdin, a FIFO, /dev/fd/N: its bytes can be read only once, by the real
// pass), when the inputs cannot be read (`error` says why, when given), or when a stop signal
// cuts the count short.
std::optional<ingest_stats> count_addresses(ingest_options iopts,
                                            const std::atomic<bool>& stop_requested,
                                            std::string* error = nullptr) {
  if (!std::all_of(iopts.inputs.begin(), iopts.inputs.end(), io::regular_file_input))
    return std::nullopt;
  try {
    iopts.rejects_path.clear();
    iopts.duplicates_path.clear();
    ingest counter(std::move(iopts));
    batch b;
    while (counter.next_batch(b))
      if (stop_requested.load()) return std::nullopt;
    return counter.stats();
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

class execution;

// stop_request: what the stop signals (SIGINT, SIGTERM, SIGHUP) ask of a run, from the signal
// thread: the first stops taking work (before sending: at the next step; while sending: the
// drain); the second makes the journal durable and leaves at once, whatever the run is doing.
class stop_request {
 public:
  void on_signal(int sig) {
    if (count_.fetch_add(1) == 0) {
      std::lock_guard lk(mu_);
      requested_.store(true);
      std::cerr << "\nchime-onboard: " << what(sig)
                << (exec_ ? "; finishing requests in flight" : "; stopping before sending more")
                << " (again to stop at once)\n"
                << std::flush;
      stop_execution();
      if (!exec_ && reader_) reader_->cancel();
      if (wake_fd_ >= 0) {
        [[maybe_unused]] ssize_t w = ::write(wake_fd_, "", 1);
      }
      return;
    }
    std::cerr << "\nchime-onboard: second signal, stopping now\n" << std::flush;
    std::lock_guard lk(mu_);  // waits for a journal being opened or closed
    if (jrnl_) {
      try {
        jrnl_->commit();
      } catch (const std::exception&) {
        // Its framing keeps the journal consistent: at worst the last outcomes come back in doubt.
      }
    }
    std::_Exit(exit_interrupted);
  }

  const std::atomic<bool>& requested() const { return requested_; }

  // guard: held while the journal is opened or closed, so that a second signal never leaves it
  // half-written, and while the pointers below change.
  std::unique_lock<std::mutex> guard() { return std::unique_lock(mu_); }
  void set_journal(journal* j) { jrnl_ = j; }  // under guard()
  void set_reader(ingest* r) { reader_ = r; }  // under guard()
  void set_execution(execution* e);            // under guard()
  // set_wake: a descriptor the first signal writes a byte to (-1: none), so that a blocking wait
  // such as the confirmation prompt ends at once.
  void set_wake(int fd) { wake_fd_ = fd; }  // under guard()

 private:
  static const char* what(int sig) {
    switch (sig) {
      case SIGINT: return "interrupted";
      case SIGHUP: return "hung up (SIGHUP)";
      default: return "terminated";
    }
  }
  void stop_execution();  // under mu_

  std::atomic<int> count_{0};
  std::atomic<bool> requested_{false};
  std::mutex mu_;
  journal* jrnl_ = nullptr;
  ingest* reader_ = nullptr;
  execution* exec_ = nullptr;
  int wake_fd_ = -1;
};

// prepared_run: everything a run needs before its first request, each piece checked: the
// endpoint, credentials and TLS context, the journal (and what earlier runs settled), the reader
// and the report.
struct prepared_run {
  io::endpoint endpoint;
  std::optional<io::proxy> proxy;  // HTTPS_PROXY for the endpoint (none: direct or NO_PROXY)
  std::shared_ptr<signing::credential_provider> creds;
  std::chrono::milliseconds clock_offset{0};  // learnt by the pre-flight from the service's Date
  std::string account_about;                  // the pre-flight's account: name, type, status
  std::optional<net::ssl::context> tls;
  std::string journal_path;
  std::unique_ptr<journal> jrnl;
  ingest_options iopts;
  dispatch_config dcfg;
  std::optional<std::uint64_t> exact_total;  // feeds the progress display only
  // ahead: the counting pass before anything is written (confirmation, banner); nullopt for a
  // stream, or when nothing needs it.
  std::optional<ingest_stats> ahead;
  bool declined = false;  // the confirmation was not given: nothing sent or written
  std::unique_ptr<ingest> reader;
  std::unique_ptr<run_report> report;
};

// fail: prints the command's error line and returns `code`, for prepare's early exits.
int fail(const run_options& opts, int code, const std::string& what) {
  std::cerr << "chime-onboard " << opts.command << ": " << what << "\n";
  return code;
}

// make_private_directories: creates `dir` and its missing parents with mode 0700 (the XDG rule for
// state folders; journals hold addresses), each new one made durable in its parent, so that a
// journal created in it survives power loss with its folder. "" on success, else why not.
std::string make_private_directories(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec)) return {};
  fs::path parent = dir.parent_path();
  if (parent != dir)
    if (auto why = make_private_directories(parent); !why.empty()) return why;
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST && fs::is_directory(dir, ec)) return {};
    return "cannot create " + dir.string() + ": " + std::strerror(errno);
  }
  try {
    io::sync_directory(parent.empty() ? fs::path(".") : parent);
  } catch (const std::system_error& e) {
    return e.what();
  }
  return {};
}

// old_default_journal: where versions before the state folder kept a run's journal by default:
// beside the first input, or chime-onboard.journal in the working folder for stdin.
std::string old_default_journal(const std::vector<std::string>& inputs) {
  if (inputs.empty() || inputs.front() == "-") return "chime-onboard.journal";
  return inputs.front() + ".journal";
}

// place_journal: readies the journal's place before it is opened: the state folder (0700) for the
// default journal; --new-journal's setting aside of the existing one; and a refusal when the
// default journal is new but an earlier version's journal for this account and operation lies
// beside the input, whose addresses a new journal would send again. exit_ok, or the exit code
// after printing why not.
int place_journal(const run_options& opts, const std::string& path) {
  namespace fs = std::filesystem;
  const bool by_default = opts.journal_path.empty();
  if (by_default)
    if (auto why = make_private_directories(fs::path(path).parent_path()); !why.empty())
      return fail(opts, exit_config, "journal folder: " + why + " (or choose --journal FILE)");
  std::error_code ec;
  if (opts.new_journal) {
    try {
      if (auto aside = set_aside_journal(path))
        std::cerr << "journal: --new-journal: the earlier journal is kept as " << aside->string()
                  << " (chime-onboard status --journal " << shell_quote(aside->string())
                  << " shows it); this run starts a new one\n";
    } catch (const journal_error& e) {
      return fail(opts, exit_config, e.what());
    }
    return exit_ok;
  }
  if (!by_default || fs::exists(path, ec)) return exit_ok;
  const std::string old = old_default_journal(opts.ingest.inputs);
  if (!fs::is_regular_file(old, ec)) return exit_ok;
  try {
    auto h = replay_journal(old).header();
    if (h.account_id != opts.ingest.account_id || h.op != opts.op) return exit_ok;
  } catch (const journal_error&) {
    return exit_ok;  // not a journal of ours: nothing to carry on
  }
  return fail(opts, exit_config,
              old + " holds this account's " + std::string(to_string(opts.op)) +
                  " journal from an earlier chime-onboard, which kept journals beside the input. "
                  "Journals now live in " +
                  fs::path(path).parent_path().string() +
                  ", one per account and operation, shared by every input; a new one would send "
                  "its addresses again. To carry on with it:\n  mv " +
                  shell_quote(old) + " " + shell_quote(path) +
                  "\nthen run this command again (or keep it where it is with --journal " +
                  shell_quote(old) + "); to start afresh anyway: --new-journal");
}

// make_credential_provider: the run's credentials, announced once (their source and the last
// four characters of the key id: enough to tell which key signed, never a secret).
std::shared_ptr<signing::credential_provider> make_credential_provider(signing::resolve_result r) {
  signing::credentials& c = *r.value;
  std::string expiry;
  if (c.expiration && *c.expiration != std::chrono::system_clock::time_point::max())
    expiry = fmt::format(", temporary: valid for {}{}",
                         format_duration(std::chrono::duration<double>(
                                             *c.expiration - std::chrono::system_clock::now())
                                             .count()),
                         r.refetch ? ", refreshed before they expire" : "");
  spdlog::info("credentials from {}: key id {}{}", c.source, signing::key_id_hint(c.access_key_id),
               expiry);
  return signing::make_provider(std::move(r));
}

// progress_shown: whether the run draws progress at all (--quiet silences it).
bool progress_shown(const run_options& opts) {
  return opts.progress != progress_mode::off && !opts.quiet;
}

// can_confirm: without --yes, a person at a terminal answers the question before the first email;
// checked first, so that a run nobody can confirm stops before it reads, writes or sends anything.
// A stream input (stdin, a pipe) is read once, as it is sent: its addresses cannot be counted
// for the question, so it needs --yes even on a terminal.
int can_confirm(const run_options& opts) {
  if (opts.dry_run || opts.assume_yes) return exit_ok;
  for (const auto& in : opts.ingest.inputs)
    if (!io::regular_file_input(in))
      return fail(opts, exit_usage,
                  "--input " + in +
                      " is a stream (stdin or a pipe), read once as it is sent: its addresses "
                      "cannot be counted for the confirmation. Pass --yes to send without one");
  if (::isatty(STDIN_FILENO) == 0)
    return fail(opts, exit_usage,
                "stdin is not a terminal, so nobody can confirm the sending. Pass --yes to send "
                "without a confirmation (as Terraform's -auto-approve)");
  return exit_ok;
}

// look_ahead: what the run will send, before anything is written: the journal (when it exists)
// is read, not opened for writing, and the inputs counted without their rejects and duplicates
// files. Skipped when neither the question nor the banner needs it. exit_ok, exit_interrupted,
// or the exit code after printing why not (the same errors the journal's opening would give).
int look_ahead(const run_options& opts, prepared_run& p, stop_request& stop) {
  if (opts.dry_run || (opts.assume_yes && opts.quiet)) return exit_ok;
  ingest_options io = p.iopts;
  std::error_code ec;
  if (!opts.new_journal && std::filesystem::file_size(p.journal_path, ec) > 0 && !ec) {
    try {
      auto prior = replay_journal(p.journal_path);
      if (auto diff = header_mismatch(p.journal_path, prior.header(), journal_header_for(opts, io));
          !diff.empty())
        throw journal_error(diff + " (use another --journal, or the original options)");
      if (prior.tail() == tail_state::damaged)
        throw journal_damaged(prior.tail_note() +
                              ". Refusing to append: the records after the damage would be lost "
                              "and their addresses sent again; repair the journal first");
      seed_from_prior(prior, p.dcfg.retry_failed, io, nullptr);
    } catch (const journal_error& e) {
      print_journal_error(opts, p.journal_path, e);
      return exit_config;
    }
  }
  std::string error;
  p.ahead = count_addresses(std::move(io), stop.requested(), &error);
  if (stop.requested().load()) return exit_interrupted;
  if (!error.empty()) return fail(opts, exit_usage, error);
  return exit_ok;
}

// banner_of: the banner's facts, from the options and the look ahead.
run_banner banner_of(const run_options& opts, const prepared_run& p) {
  run_banner b;
  b.operation = opts.command;
  b.account_id = opts.ingest.account_id;
  b.account_about = p.account_about;
  b.endpoint = opts.endpoint_url;
  b.endpoint_source = opts.endpoint_source;
  b.region = opts.region;
  b.region_source = opts.region_source;
  if (p.creds) b.identity = "credentials from " + p.creds->current()->source;
  if (p.ahead) {
    b.pending = p.ahead->accepted;
    b.rejected = p.ahead->rejected;
    b.duplicates = p.ahead->duplicates;
    b.already_done = p.ahead->already_done;
  }
  b.limit = opts.limit;
  b.journal = p.journal_path + (opts.new_journal ? " (--new-journal: a new one)" : "");
  b.report = opts.report_path;
  b.rejects = opts.ingest.rejects_path;
  b.duplicates_file = opts.ingest.duplicates_path;
  return b;
}

// to_email: how many addresses this run will send (--limit caps it), when counted.
std::optional<std::uint64_t> to_email(const run_options& opts, const prepared_run& p) {
  if (!p.ahead) return std::nullopt;
  std::uint64_t n = p.ahead->accepted;
  return opts.limit ? std::min(n, opts.limit) : n;
}

// confirm: the question, on the terminal can_confirm found. "y" goes on; anything else, the end
// of the input or a stop signal leaves with exit_interrupted and nothing sent or written (the
// run can be started again as it was: exit 5's meaning).
int confirm(const run_options& opts, prepared_run& p, stop_request& stop) {
  if (opts.dry_run || opts.assume_yes) return exit_ok;
  const auto n = to_email(opts, p);
  if (!n || *n == 0) return exit_ok;  // nothing to send: nothing to confirm
  std::string question = opts.op == operation::invite
                             ? "Send " + group_thousands(*n) + " invitation email" +
                                   (*n == 1 ? "" : "s") + " to account " + opts.ingest.account_id +
                                   "?"
                             : "Create " + group_thousands(*n) + " user" + (*n == 1 ? "" : "s") +
                                   " in account " + opts.ingest.account_id + "?";
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) return fail(opts, exit_internal, std::strerror(errno));
  {
    auto lk = stop.guard();
    stop.set_wake(wake[1]);
  }
  const auto answer = stop.requested().load()
                          ? confirm_answer::cancelled
                          : ask_yes_no(question, STDIN_FILENO, wake[0], std::cerr);
  {
    auto lk = stop.guard();
    stop.set_wake(-1);
  }
  ::close(wake[0]);
  ::close(wake[1]);
  if (answer == confirm_answer::yes) return exit_ok;
  p.declined = true;
  std::cerr << "chime-onboard " << opts.command << ": "
            << (answer == confirm_answer::cancelled ? "interrupted at the confirmation"
                                                    : "not confirmed")
            << "; nothing was sent or written\n";
  return exit_interrupted;
}

// check_account: the pre-flight, before the journal is placed or anything sent: the account must
// exist, be Active and take the operation; in-doubt verification needs chime:ListUsers.
int check_account(const run_options& opts, prepared_run& p) {
  preflight_request q;
  q.op = opts.op;
  q.account_id = opts.ingest.account_id;
  q.endpoint = p.endpoint;
  q.tls = &*p.tls;
  q.creds = p.creds;
  q.region = opts.region;
  q.proxy = p.proxy;
  q.probe_list_users = opts.dispatch.in_doubt == in_doubt_policy::verify;
  auto f = run_preflight(q);
  p.clock_offset = f.clock_offset;
  if (auto w = engine::skew_warning(f.clock_offset); !w.empty()) spdlog::warn("{}", w);
  if (f.exit != exit_ok) return fail(opts, f.exit, f.problem + "; nothing was written or sent");
  if (!f.problem.empty()) spdlog::warn("pre-flight: {}", f.problem);
  p.account_about =
      "\"" + f.account->name + "\", " + f.account->account_type + ", " + f.account->account_status;
  spdlog::info("account {} ({})", f.account->account_id, p.account_about);
  return exit_ok;
}

// prepare: configuration first, so a bad profile, endpoint or CA bundle stops the run before
// anything is read, written or sent. Returns exit_ok, exit_interrupted when a stop signal came
// (before anything was sent), or the exit code after printing why not.
int prepare(const run_options& opts, prepared_run& p, stop_request& stop) {
  p.iopts = opts.ingest;
  p.dcfg = opts.dispatch;
  if (int rc = can_confirm(opts); rc != exit_ok) return rc;
  auto ep = io::try_parse_endpoint(opts.endpoint_url);
  if (!ep) return fail(opts, exit_usage, "--endpoint-url: " + ep.error);
  p.endpoint = *ep.value;
  const auto env = signing::process_environment();
  auto px = io::proxy_from_environment(p.endpoint, env);
  if (!px) return fail(opts, exit_config, px.error);
  p.proxy = px.value;
  if (p.proxy) spdlog::info("connecting through the proxy {} (HTTPS_PROXY)", p.proxy->display);
  if (!opts.journal_path.empty()) {
    p.journal_path = opts.journal_path;
  } else {
    p.journal_path =
        default_journal_path(opts.op, opts.ingest.account_id, signing::process_environment())
            .string();
    if (p.journal_path.empty() && !opts.dry_run)
      return fail(opts, exit_config,
                  "no folder for the journal: neither XDG_STATE_HOME nor a home directory is "
                  "set; choose one with --journal FILE");
  }
  if (!opts.dry_run) {
    auto r = resolve_run_credentials(opts.credentials, signing::process_environment());
    if (!r) return fail(opts, exit_config, r.error);
    p.creds = make_credential_provider(std::move(r));
    try {
      p.tls.emplace(io::make_client_tls_context({opts.ca_bundle, opts.verify_ssl}));
    } catch (const std::exception& e) {
      return fail(opts, exit_config, e.what());
    }
    if (!opts.verify_ssl)
      spdlog::warn(
          "--no-verify-ssl: the server's certificate is NOT checked; anyone on the path "
          "can read and change this run's traffic");
    if (!opts.report_path.empty()) {
      if (auto why = report_path_problem(opts.report_path); !why.empty())
        return fail(opts, exit_usage, "--report: " + why);
    }
    if (stop.requested().load()) return exit_interrupted;
    if (int rc = check_account(opts, p); rc != exit_ok) return rc;
    if (stop.requested().load()) return exit_interrupted;
    if (int rc = look_ahead(opts, p, stop); rc != exit_ok) return rc;
    if (!opts.quiet) print_banner(banner_of(opts, p), std::cerr);
    if (int rc = confirm(opts, p, stop); rc != exit_ok) return rc;
    if (int rc = place_journal(opts, p.journal_path); rc != exit_ok) return rc;
    {
      auto lk = stop.guard();
      p.jrnl = open_journal(opts, p.journal_path, p.iopts, p.dcfg);
      stop.set_journal(p.jrnl.get());
    }
    if (!p.jrnl) return exit_config;
  }
  // The total only feeds the progress display: without one, the counting pass is wasted work.
  if (p.ahead)
    p.exact_total = p.ahead->accepted;
  else if (!opts.dry_run && progress_shown(opts))
    if (auto counted = count_addresses(p.iopts, stop.requested()))
      p.exact_total = counted->accepted;
  if (stop.requested().load()) return exit_interrupted;

  // Sending paces a real run, far below what one ingest thread reads: a second reading thread
  // would only add hand-offs beside the I/O thread. `plan` and --dry-run keep it (ingest is all
  // they do).
  if (!opts.dry_run) p.iopts.parallel_min_bytes = std::numeric_limits<std::uint64_t>::max();
  try {
    auto reader = std::make_unique<ingest>(p.iopts);
    auto lk = stop.guard();
    p.reader = std::move(reader);
    stop.set_reader(p.reader.get());
  } catch (const std::exception& e) {
    return fail(opts, exit_usage, e.what());
  }
  if (!opts.dry_run && !opts.report_path.empty())
    p.report =
        std::make_unique<run_report>(opts.report_path, *p.reader, p.iopts.case_sensitive_local);
  return exit_ok;
}

// run_result: what the execution leaves for conclude.
struct run_result {
  bool interrupted = false;
  bool input_complete = false;  // the reader reached the end of every input
  bool limit_reached = false;   // --limit stopped the reading: a pilot
  std::uint64_t taken = 0;      // addresses handed to the senders
  std::string ingest_failure;
  std::optional<fatal_stop> fatal;
  std::uint64_t reconnects = 0;
};

// execution: the sending half of a run: the io_context and its threads, the ingest thread that
// feeds the senders through a bounded queue, the senders (one per connection), progress, and the
// stop the signals ask for. Built and run once per run.
class execution {
 public:
  execution(const run_options& opts, prepared_run& p, run_stats& stats, stop_request& stop)
      : opts_(opts), p_(p), stats_(stats), stop_(stop),
        threads_(opts.threads > 0
                     ? opts.threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        ioc_(threads_), work_(net::make_work_guard(ioc_)), gate_(limiter_config(opts)),
        signer_(p.creds, opts.region, "chime"),
        disp_(p.dcfg, signer_, gate_, p.jrnl.get(), stats,
              [this](const planned_address& item, const address_outcome& o) {
                if (p_.report) p_.report->write(item, o);
              }),
        queue_(static_cast<std::size_t>(opts.connections) * 4), senders_left_(opts.connections),
        progress_(opts.quiet ? progress_mode::off : opts.progress, stats, std::cerr,
                  isatty(STDERR_FILENO) != 0, STDERR_FILENO),
        progress_timer_(ioc_), drain_timer_(ioc_), control_(net::make_strand(ioc_)) {
    signer_.set_clock_offset(p.clock_offset);
  }

  run_result run() {
    p_.creds->start_refresher();
    start_ingest();
    spawn_senders();
    spawn_progress();
    {
      auto lk = stop_.guard();
      stop_.set_execution(this);  // a signal that came meanwhile stops it at once
    }

    std::vector<std::thread> pool;
    for (int i = 1; i < threads_; ++i) pool.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : pool) t.join();
    {
      auto lk = stop_.guard();
      stop_.set_execution(nullptr);
    }
    // The senders are gone (done, stopped by a signal or a fatal error): a reader blocked on a
    // full queue is released, and one waiting for a stream that has nothing more to say (a stdin
    // that never ends) is told to give up, or joining it would wait for ever.
    queue_.close(/*discard=*/true);
    if (!input_read_.load()) {
      reader_cancelled_.store(true);
      p_.reader->cancel();
    }
    ingest_thread_.join();
    progress_.set_total_final(ingest_done_.load());
    progress_.finish(std::chrono::steady_clock::now());

    run_result r;
    r.interrupted = stop_.requested().load();
    r.input_complete = input_read_.load();
    r.limit_reached = limit_reached_.load();
    r.taken = taken_;
    r.ingest_failure = ingest_failure_;
    r.fatal = disp_.fatal();
    for (const auto& t : transports_) r.reconnects += t->connection().stats().reconnects;
    return r;
  }

  // stop_soon: the first stop signal, from the signal thread: the stop itself runs on `control_`.
  void stop_soon() {
    net::post(control_, [this] { on_stop(); });
  }

 private:
  static engine::rate_limiter_config limiter_config(const run_options& opts) {
    engine::rate_limiter_config l;
    l.adaptive = opts.adaptive;
    l.rate = opts.rate;
    l.burst = opts.burst;
    return l;
  }

  // start_ingest: ingest on its own thread, so that reading (even a slow stdin) never blocks an
  // io thread, and the bounded queue keeps it from running far ahead of the senders.
  void start_ingest() {
    const std::uint64_t limit =
        opts_.limit ? opts_.limit : std::numeric_limits<std::uint64_t>::max();
    if (p_.exact_total) stats_.total.store(std::min(*p_.exact_total, limit));
    ingest_done_.store(p_.exact_total.has_value());
    ingest_thread_ = std::thread([this, limit] {
      bool ended = false;
      try {
        // Each batch is filled over one a sender has finished with, and moved to the senders.
        for (batch b = disp_.spent_batch();; b = disp_.spent_batch()) {
          if (!p_.reader->next_batch(b)) {
            ended = true;
            break;
          }
          // --limit: the pilot's last batch is cut short; the addresses cut off stay unsent and
          // out of the journal, so the next run sends them.
          const std::uint64_t room = limit - taken_;
          const bool last = b.items.size() >= room;
          if (last) b.items.resize(static_cast<std::size_t>(room));
          taken_ += b.items.size();
          if (!p_.exact_total) bump(stats_.total, b.items.size());
          if (!b.items.empty() && !queue_.push(std::move(b))) break;
          if (last) {
            limit_reached_.store(true);
            ingest_done_.store(true);
            break;
          }
        }
      } catch (const std::exception& e) {
        // A reader told to give up (the run is stopping) is no input failure.
        if (!reader_cancelled_.load() && !stop_.requested().load()) {
          ingest_failure_ = e.what();
          disp_.request_stop();
        }
      }
      // Only an input read to its end makes the total final: a stopped one may have more.
      if (ended) {
        input_read_.store(true);
        ingest_done_.store(true);
      }
      queue_.close();
    });
  }

  // spawn_senders: one sender per connection. When the last one ends, everything else that
  // keeps the io_context alive is released.
  void spawn_senders() {
    auto on_sender_done = [this](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("sender stopped: {}", ex.what());
          disp_.request_stop();
        }
      }
      if (--senders_left_ == 0) {
        net::post(control_, [this] {
          progress_timer_.cancel();
          drain_timer_.cancel();
          work_.reset();
        });
      }
    };
    io::connection_options copts;
    copts.proxy = p_.proxy;
    for (int i = 0; i < opts_.connections; ++i) {
      net::any_io_executor ex = io::connection_executor(ioc_, threads_);
      transports_.push_back(std::make_unique<https_transport>(ex, p_.endpoint, *p_.tls, copts));
      disp_.spawn_sender(ex, *transports_.back(), queue_, on_sender_done);
    }
  }

  // spawn_progress: ticks until the last sender ends (on `control_`, beside the clean-up that
  // cancels it).
  void spawn_progress() {
    net::co_spawn(
        control_,
        [this]() -> net::awaitable<void> {
          for (;;) {
            progress_.set_total_final(ingest_done_.load());
            progress_.tick(std::chrono::steady_clock::now());
            if (spdlog::should_log(spdlog::level::debug)) log_limiter();
            progress_timer_.expires_after(progress_.interval());
            auto [ec] = co_await progress_timer_.async_wait(net::as_tuple(net::use_awaitable));
            if (ec || senders_left_.load() == 0) co_return;
          }
        },
        net::detached);
  }

  void log_limiter() {
    const std::string& account = p_.iopts.account_id;
    auto l = gate_.snapshot(account);
    spdlog::debug(
        "limiter {}: rate {:.1f}/s w_max {:.1f} goodput {:.1f} in flight {}/{} "
        "sent {} throttles {} cuts {}",
        account, l.rate, l.w_max, l.goodput, l.in_flight, l.in_flight_cap, l.sent, l.throttles,
        l.cuts);
  }

  // on_stop: the first stop signal stops taking batches and lets exchanges in hand finish
  // (bounded by the drain timeout); the second never comes here (stop_request ends the process).
  // Runs on `control_`.
  void on_stop() {
    if (stopping_) return;
    stopping_ = true;
    if (senders_left_.load() == 0) return;  // the run is ending anyway
    // Armed before the stop is requested: the clean-up that cancels it runs on this strand
    // after the last sender ends, which may be moments after request_stop().
    drain_timer_.expires_after(opts_.drain_timeout);
    drain_timer_.async_wait([this](const boost::system::error_code& e) {
      if (!e) ioc_.stop();  // requests still in flight stay in doubt in the journal
    });
    disp_.request_stop();
    queue_.close(/*discard=*/true);
  }

  const run_options& opts_;
  prepared_run& p_;
  run_stats& stats_;
  stop_request& stop_;
  const int threads_;
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  engine::rate_gate gate_;
  signing::signer signer_;
  dispatcher disp_;
  async_queue<batch> queue_;
  std::atomic<bool> ingest_done_{false};  // the total is final (counted, or the input read)
  std::atomic<bool> input_read_{false};   // the reader reached the end of every input
  std::atomic<bool> reader_cancelled_{false};
  std::uint64_t taken_ = 0;  // addresses handed to the senders (ingest thread; read after join)
  std::atomic<bool> limit_reached_{false};  // --limit stopped the reading
  std::string ingest_failure_;
  std::thread ingest_thread_;
  std::vector<std::unique_ptr<https_transport>> transports_;
  std::atomic<int> senders_left_;
  progress_display progress_;
  net::steady_timer progress_timer_;
  net::steady_timer drain_timer_;
  // control_: serialises the stop with the end-of-run clean-up, both of which touch the timers
  // (not safe to use from two threads at once).
  net::strand<net::io_context::executor_type> control_;
  bool stopping_ = false;  // on control_
};

void stop_request::set_execution(execution* e) {
  exec_ = e;
  if (requested_.load()) stop_execution();
}

void stop_request::stop_execution() {
  if (exec_) exec_->stop_soon();
}

// close_journal: closes the run's journal, out of the reach of a second signal (which waits for
// the close, then leaves). False after printing why the close failed.
bool close_journal(prepared_run& p, stop_request& stop) {
  if (!p.jrnl) return true;
  auto lk = stop.guard();
  stop.set_journal(nullptr);
  try {
    p.jrnl->close();
  } catch (const std::exception& e) {
    std::cerr << "chime-onboard: " << e.what() << "\n";
    return false;
  }
  return true;
}

// conclude: closes the journal, writes the report from it, prints the summary and what to do
// next, and decides the exit code. An exit code says "done" (0, 3, 4) only when every address
// accepted for sending has an outcome; otherwise it says how many have none and how to resume.
int conclude(const run_options& opts, prepared_run& p, run_stats& stats, const run_result& r,
             stop_request& stop, std::chrono::steady_clock::time_point started) {
  const bool journal_failed = !close_journal(p, stop);
  std::string report_line;
  if (p.report) {
    // From the journal, whatever stopped the run: it holds every run's results, durable or not.
    try {
      auto rows = p.report->finish(p.journal_path);
      report_line = opts.report_path + " (" + std::to_string(rows) + " addresses, " +
                    std::to_string(p.report->settled()) + " settled by this run)";
    } catch (const std::exception& e) {
      std::cerr << "chime-onboard " << opts.command << ": --report " << opts.report_path << ": "
                << e.what() << "; the journal has every result: chime-onboard report --journal "
                << shell_quote(p.journal_path) << " --output-file " << shell_quote(opts.report_path)
                << "\n";
      report_line = opts.report_path + " (not written)";
    }
  }

  summary s = input_summary(p.reader->stats());
  if (r.limit_reached) {
    // A pilot: the reader went past its last address (a batch is filled whole); what it read
    // beyond is for the next run, not this one's to settle.
    s.accepted = s.already_done + r.taken;
    s.limit = opts.limit;
    if (p.exact_total && *p.exact_total >= r.taken) s.remaining = *p.exact_total - r.taken;
  }
  fill_outcomes(s, stats, std::chrono::steady_clock::now() - started);
  s.reconnects += r.reconnects;
  print_summary(s, opts.json_output, std::cout);
  std::cerr << "journal: " << p.journal_path << "\n";
  if (!report_line.empty()) std::cerr << "report:  " << report_line << "\n";

  // What a resume has to do: the addresses read for sending that have no outcome, and those not
  // read yet (counted beforehand for regular files; unknown for the rest of a stream).
  std::uint64_t to_send = s.accepted - s.already_done;
  std::uint64_t left = s.not_done;
  bool rest_unknown = !r.input_complete && !r.limit_reached;
  if (rest_unknown && p.exact_total && *p.exact_total >= to_send) {
    left += *p.exact_total - to_send;
    to_send = *p.exact_total;
    rest_unknown = false;
  }
  auto say_left = [&] {
    if (left == 0 && !rest_unknown) return;
    if (to_send == 0 && rest_unknown) {
      std::cerr << "no address had been read from the input yet\n";
      return;
    }
    std::cerr << left << " of the " << to_send
              << (rest_unknown ? " addresses read so far" : " addresses to send")
              << " have no outcome yet"
              << (rest_unknown ? "; the rest of the input was not read" : "") << "\n";
  };
  if (r.fatal) {
    std::cerr << "chime-onboard " << opts.command << ": " << r.fatal->message << "\n";
    say_left();
    std::cerr << "fix the cause, then resume with:\n  " << resume_command(opts) << "\n";
    return exit_code_of(r.fatal->kind);
  }
  if (!r.ingest_failure.empty()) {
    std::cerr << "chime-onboard " << opts.command << ": " << r.ingest_failure << "\n";
    say_left();
    std::cerr << "fix the input, then resume with:\n  " << resume_command(opts) << "\n";
    return exit_usage;
  }
  if (r.interrupted || journal_failed) {
    say_left();
    std::cerr << "interrupted; nothing is lost. Resume with:\n  " << resume_command(opts) << "\n";
    return exit_interrupted;
  }
  if (s.not_done > 0) {
    // Nothing asked the run to stop, yet it ended with addresses unsettled: never report that as
    // done, whatever ended it.
    std::cerr << "chime-onboard " << opts.command << ": the run ended with " << s.not_done
              << " of the " << to_send
              << " addresses to send not settled (never sent, or sent without an answer: "
                 "the journal keeps them in doubt); nothing is lost. Resume with:\n  "
              << resume_command(opts) << "\n";
    return exit_interrupted;
  }
  if (r.limit_reached) {
    std::cerr << "pilot done: " << group_thousands(r.taken) << " address"
              << (r.taken == 1 ? "" : "es") << " sent (--limit " << opts.limit << "); "
              << (s.remaining ? group_thousands(*s.remaining) + " remain"
                              : std::string("the rest of the input was not read"))
              << ". The full run skips what the pilot did:\n  " << full_run_command(opts) << "\n";
  }
  if (load(stats.failed) > 0 || load(stats.not_sent) > 0) return exit_failed_addresses;
  if (s.rejected_total > 0) return exit_rejected_inputs;
  return exit_ok;
}

// conclude_before_sending: a stop signal came while the run was being prepared.
int conclude_before_sending(const run_options& opts, prepared_run& p, stop_request& stop) {
  close_journal(p, stop);
  std::cerr << "interrupted before anything was sent; nothing is lost. Resume with:\n  "
            << resume_command(opts) << "\n";
  return exit_interrupted;
}

// conclude_dry_run: --dry-run reads everything and sends nothing.
int conclude_dry_run(const run_options& opts, prepared_run& p, run_stats& stats,
                     const stop_request& stop, std::chrono::steady_clock::time_point started) {
  batch b;
  try {
    while (p.reader->next_batch(b)) {
      if (stop.requested().load()) break;
    }
  } catch (const std::exception& e) {
    if (!stop.requested().load()) return fail(opts, exit_usage, e.what());
  }
  if (stop.requested().load()) {
    std::cerr << "interrupted\n";
    return exit_interrupted;
  }
  summary s = input_summary(p.reader->stats());
  fill_outcomes(s, stats, std::chrono::steady_clock::now() - started);
  print_summary(s, opts.json_output, std::cout);
  return s.rejected_total ? exit_rejected_inputs : exit_ok;
}

}  // namespace

int run_onboarding(const run_options& opts) {
  install_stop_signals();  // main has done so already; a run embedded elsewhere needs it too
  const auto started = std::chrono::steady_clock::now();
  run_stats stats;
  prepared_run p;
  // After `p`, so that the signal thread lets go of the journal before it is destroyed.
  stop_request stop;
  stop_signal_scope signals([&stop](int sig) { stop.on_signal(sig); });
  int rc = prepare(opts, p, stop);
  if (p.declined) return rc;
  if (rc == exit_interrupted) return conclude_before_sending(opts, p, stop);
  if (rc != exit_ok) return rc;
  if (opts.dry_run) return conclude_dry_run(opts, p, stats, stop, started);
  run_result r = execution(opts, p, stats, stop).run();
  return conclude(opts, p, stats, r, stop, started);
}

}  // namespace onboard
