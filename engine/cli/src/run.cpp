#include <onboard/cli/run.hpp>
#include <onboard/cli/run_picture.hpp>

#include <onboard/cli/aws_settings.hpp>
#include <onboard/cli/banner.hpp>
#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/credential_chain.hpp>
#include <onboard/cli/confirm.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/cli/journal_views.hpp>
#include <onboard/cli/logging.hpp>
#include <onboard/cli/preflight.hpp>
#include <onboard/dispatch/clock_skew.hpp>
#include <onboard/dispatch/https_transport.hpp>
#include <onboard/dispatch/rate_gate.hpp>
#include <onboard/cli/report_writer.hpp>
#include <onboard/cli/run_events.hpp>
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
#include <condition_variable>
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
#include <sstream>
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

// run_keys: the identity of an address in this run, (account, address), as ingest keys it: the
// default account's addresses by key_of alone, every other account's with dedupe's in_account.
struct run_keys {
  std::string default_account;
  bool case_sensitive_local = false;
  dedupe_key of(std::string_view account, std::string_view email) const {
    auto k = key_of(email, case_sensitive_local);
    return account == default_account ? k : in_account(k, hash128(account.data(), account.size()));
  }
};

// run_report: `--report FILE`, written from the journal when the run ends, so that after a resume
// it holds every address of every run on that journal (the rows `chime-onboard report` writes,
// with the same columns). The source and line columns come from this run's input: write(), the
// dispatcher's sink, notes where each address this run settled was read (32 bytes an address);
// an address only earlier runs settled has an empty source and line 0. CSV unless the name ends
// in .jsonl; created 0600 under a temporary name and renamed into place, so an interrupted run
// never leaves half a report.
class run_report {
 public:
  run_report(std::string path, const ingest& in, const run_keys& keys)
      : path_(std::move(path)), in_(in), keys_(keys) {}

  // write: called once per address settled, from any sender thread.
  void write(std::string_view account, const planned_address& item, const address_outcome&) {
    auto key = keys_.of(account, item.email);
    std::lock_guard lk(mu_);
    read_at_.push_back({key, item.source, item.line});
    ++settled_;
  }

  // finish: writes the report from the journals at `journals` (closed), one per account, in
  // turn; the rows written. Throws journal_error or std::system_error.
  std::uint64_t finish(const std::vector<std::string>& journals) {
    std::lock_guard lk(mu_);
    auto by_key = [](const read_at& a, const read_at& b) {
      return a.key.hi != b.key.hi ? a.key.hi < b.key.hi : a.key.lo < b.key.lo;
    };
    std::sort(read_at_.begin(), read_at_.end(), by_key);
    io::atomic_file f(path_);
    report_writer w([&f](std::string_view b) { f.append(b); },
                    path_.ends_with(".jsonl") ? report_format::jsonl : report_format::csv,
                    /*with_source=*/true);
    std::uint64_t rows = 0;
    for (const auto& journal : journals) {
      auto state = replay_journal(journal);
      const std::string account = state.header().account_id;
      rows += write_report(state, w, /*failed_only=*/false,
                           [&](std::string_view email) -> std::optional<report_source> {
                             read_at want{keys_.of(account, email), 0, 0};
                             auto it =
                                 std::lower_bound(read_at_.begin(), read_at_.end(), want, by_key);
                             if (it == read_at_.end() || !(it->key == want.key))
                               return std::nullopt;
                             return report_source{in_.input_name(it->source), it->line};
                           });
    }
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
  const run_keys& keys_;
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
  s.outside_where = st.outside_where;
  return s;
}

// journal_header_for: the header this run's journal has, or gets when it is new.
journal_header journal_header_for(const run_options& opts, const ingest_options& iopts,
                                  std::string_view account) {
  journal_header h;
  h.op = opts.op;
  h.account_id = std::string(account);
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

// seed_from_prior: what earlier runs settled in one account's journal, as the reader skips it:
// their finished addresses go into `done` under that account's keys and are not sent again (the
// failed and not-sent ones are with --retry-failed); their in-doubt ones are sent, once verified,
// and listed in `in_doubt` when given.
void seed_from_prior(const replay_state& prior, bool retry_failed, const run_keys& keys,
                     dedupe_set& done, std::unordered_set<std::string>* in_doubt) {
  const std::string& account = prior.header().account_id;
  done.reserve(done.size() + prior.size());
  for (std::size_t i = 0; i < prior.size(); ++i) {
    auto st = prior.at(i);
    if (st.in_doubt && in_doubt) in_doubt->emplace(st.email);
    const bool retry = retry_failed && st.kind && retried_by_retry_failed(*st.kind);
    if (st.kind && !st.in_doubt && !retry) done.insert(keys.of(account, st.email));
  }
}

// open_journal: opens (or resumes) the run's journal and seeds what earlier runs settled: their
// finished addresses are skipped by ingest, their in-doubt ones verified before sending. Progress
// is keyed by the normalised address (the dedupe key), not by line, so an edited, re-sorted or
// appended corpus still resumes correctly. nullptr after printing why it cannot be used.
std::unique_ptr<journal> open_journal(const run_options& opts, const std::string& path,
                                      std::string_view account, const ingest_options& iopts,
                                      const run_keys& keys, dedupe_set& done,
                                      dispatch_config& dcfg) {
  std::unique_ptr<journal> jrnl;
  try {
    jrnl =
        journal::open(path, journal_header_for(opts, iopts, account), {.mode = opts.journal_mode});
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
  seed_from_prior(prior, dcfg.retry_failed, keys, done, &dcfg.in_doubt_addresses);
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
      signal_.store(sig);
      first_stop(what(sig), "again");
      return;
    }
    std::cerr << "\nchime-onboard: second signal, stopping now\n" << std::flush;
    std::lock_guard lk(mu_);  // waits for a journal being opened or closed
    for (journal* j : journals_) {
      try {
        j->commit();
      } catch (const std::exception&) {
        // Its framing keeps the journal consistent: at worst the last outcomes come back in doubt.
      }
    }
    std::_Exit(exit_interrupted);
  }

  // on_window_end: the run's window (--max-duration, --stop-at) is over: the first signal's stop,
  // from the deadline's thread. A signal after it stops at once, as a second one does.
  void on_window_end(const std::string& why) {
    if (count_.fetch_add(1) != 0) return;  // a signal is stopping the run already
    {
      std::lock_guard lk(mu_);
      window_ended_ = why;
    }
    first_stop("the run's window ended (" + why + ")", "Ctrl-C");
  }

  const std::atomic<bool>& requested() const { return requested_; }
  // reason: what asked for the stop, for --progress json's interrupted event.
  std::string reason() {
    if (std::string w = window_ended(); !w.empty()) return "window ended (" + w + ")";
    switch (signal_.load()) {
      case 0: return "stop requested";
      case SIGINT: return "SIGINT";
      case SIGHUP: return "SIGHUP";
      case SIGTERM: return "SIGTERM";
      default: return "signal " + std::to_string(signal_.load());
    }
  }

  // window_ended: the window that stopped the run ("--max-duration 2h"), "" when none did.
  std::string window_ended() {
    std::lock_guard lk(mu_);
    return window_ended_;
  }

  // guard: held while the journal is opened or closed, so that a second signal never leaves it
  // half-written, and while the pointers below change.
  std::unique_lock<std::mutex> guard() { return std::unique_lock(mu_); }
  // add_journal / clear_journals: the journals open for writing, one per account.
  void add_journal(journal* j) { journals_.push_back(j); }  // under guard()
  void clear_journals() { journals_.clear(); }              // under guard()
  void set_reader(ingest* r) { reader_ = r; }               // under guard()
  void set_execution(execution* e);                         // under guard()
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

  // first_stop: stops taking work: before sending, at the next step (a prompt waiting for an
  // answer is woken, the counting reader cancelled); while sending, the drain.
  void first_stop(const std::string& what, std::string_view again) {
    std::lock_guard lk(mu_);
    requested_.store(true);
    std::cerr << "\nchime-onboard: " << what
              << (exec_ ? "; finishing requests in flight" : "; stopping before sending more")
              << " (" << again << " to stop at once)\n"
              << std::flush;
    stop_execution();
    if (!exec_ && reader_) reader_->cancel();
    if (wake_fd_ >= 0) {
      [[maybe_unused]] ssize_t w = ::write(wake_fd_, "", 1);
    }
  }

  std::atomic<int> count_{0};
  std::atomic<int> signal_{0};
  std::atomic<bool> requested_{false};
  std::mutex mu_;
  std::vector<journal*> journals_;
  ingest* reader_ = nullptr;
  execution* exec_ = nullptr;
  int wake_fd_ = -1;
  std::string window_ended_;  // under mu_
};

// deadline_watch: ends the run's window at its deadline through the stop a signal takes, from a
// thread of its own; destroying it (the run is over) cancels it.
class deadline_watch {
 public:
  deadline_watch(stop_request& stop, std::optional<run_deadline> d) {
    if (!d) return;
    thread_ = std::thread([this, &stop, d = std::move(*d)] {
      std::unique_lock lk(mu_);
      // A wall-clock deadline (--stop-at names one): a clock set forward ends the window sooner.
      while (!cancelled_ && std::chrono::system_clock::now() < d.at)
        cv_.wait_until(lk,
                       std::min(d.at, std::chrono::system_clock::now() + std::chrono::seconds(1)));
      if (cancelled_) return;
      lk.unlock();
      stop.on_window_end(d.why);
    });
  }
  ~deadline_watch() {
    {
      std::lock_guard lk(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  deadline_watch(const deadline_watch&) = delete;
  deadline_watch& operator=(const deadline_watch&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  std::thread thread_;
};

// account_lane: one account of the run (docs/architecture.md, "Many accounts in one run"): its
// pre-flight, its journal and, while sending, its own queue and dispatcher, so that an account the
// service throttles, or refuses, holds back only itself.
struct account_lane {
  std::string account;
  std::string about;    // the pre-flight's account: name, type, status
  std::string refused;  // why its pre-flight refused it: nothing of it is written or sent
  int refused_exit = exit_ok;
  std::string journal_path;
  std::unique_ptr<journal> jrnl;
  dispatch_config dcfg;       // the run's, with this journal's in-doubt addresses
  std::uint64_t planned = 0;  // addresses counted for it before sending (0: not counted)
  // existing: --skip-existing: the keys of the account's users (ListUsers), not sent to.
  std::unique_ptr<dedupe_set> existing;
  // What happened to its addresses in this run (the dispatcher's sink and the reader's thread).
  std::atomic<std::uint64_t> invited{0}, created{0}, exists{0}, failed{0}, not_sent{0};
  std::atomic<std::uint64_t> held_back{0};       // read, but not sent: the account was refused
  std::atomic<std::int64_t> last_outcome_ns{0};  // since the run started
};

// prepared_run: everything a run needs before its first request, each piece checked: the
// endpoint, credentials and TLS context, each account's pre-flight and journal (and what earlier
// runs settled), the reader and the report.
struct prepared_run {
  io::endpoint endpoint;
  std::optional<io::proxy> proxy;  // HTTPS_PROXY for the endpoint (none: direct or NO_PROXY)
  std::shared_ptr<signing::credential_provider> creds;
  std::chrono::milliseconds clock_offset{0};  // learnt by the pre-flight from the service's Date
  std::optional<net::ssl::context> tls;
  std::string journal_path;  // the default account's (--journal FILE, or the state folder's)
  // lanes: every account with addresses in the input, the default first; stable addresses.
  std::vector<std::unique_ptr<account_lane>> lanes;
  run_keys keys;
  // timeline: the run's counters over time, beside the default account's journal.
  std::unique_ptr<timeline_recorder> timeline;
  ingest_options iopts;
  dispatch_config dcfg;
  std::optional<std::uint64_t> exact_total;  // feeds the progress display only
  // ahead: the counting pass before anything is written (confirmation, banner); nullopt for a
  // stream, or when nothing needs it.
  std::optional<ingest_stats> ahead;
  bool declined = false;                 // the confirmation was not given: nothing sent or written
  std::optional<run_deadline> deadline;  // the run's window (--max-duration, --stop-at)
  std::unique_ptr<ingest> reader;
  std::unique_ptr<run_report> report;

  account_lane* lane_of(std::string_view account) const {
    for (const auto& l : lanes)
      if (l->account == account) return l.get();
    return nullptr;
  }
  // admitted: the lanes whose pre-flight passed.
  std::vector<account_lane*> admitted() const {
    std::vector<account_lane*> v;
    for (const auto& l : lanes)
      if (l->refused.empty()) v.push_back(l.get());
    return v;
  }
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
int place_journal(const run_options& opts, const std::string& path, std::string_view account) {
  namespace fs = std::filesystem;
  const bool by_default = opts.journal_path.empty();
  if (by_default)
    if (auto why = make_private_directories(fs::path(path).parent_path()); !why.empty())
      return fail(opts, exit_config, "journal folder: " + why + " (or choose --journal FILE)");
  std::error_code ec;
  if (opts.new_journal) {
    try {
      if (auto aside = set_aside_journal(path)) {
        std::cerr << "journal: --new-journal: the earlier journal is kept as " << aside->string()
                  << " (chime-onboard status --journal " << shell_quote(aside->string())
                  << " shows it); this run starts a new one\n";
        // Its timeline goes with it: the new journal's picture starts from this run.
        fs::rename(timeline_path(path), timeline_path(*aside), ec);
      }
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
    if (h.account_id != account || h.op != opts.op) return exit_ok;
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
  // As Terraform's `apply -json` needs -auto-approve: a stream of events is read by a program,
  // which cannot answer a question asked in the middle of it.
  if (active_events())
    return fail(opts, exit_usage,
                "--progress json writes events for a program, which cannot answer the "
                "confirmation: pass --yes");
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
// files. Skipped when neither the question nor the banner (on stderr or in a --log-file) needs it.
// exit_ok, exit_interrupted, or the exit code after printing why not (the same errors the journal's
// opening would give).
int look_ahead(const run_options& opts, prepared_run& p, stop_request& stop) {
  if (opts.dry_run || (opts.assume_yes && opts.quiet && !log_file_open())) return exit_ok;
  ingest_options io = p.iopts;
  auto done = std::make_shared<dedupe_set>();
  for (account_lane* lane : p.admitted()) {
    std::error_code ec;
    if (opts.new_journal || std::filesystem::file_size(lane->journal_path, ec) == 0 || ec) continue;
    try {
      auto prior = replay_journal(lane->journal_path);
      if (auto diff = header_mismatch(lane->journal_path, prior.header(),
                                      journal_header_for(opts, io, lane->account));
          !diff.empty())
        throw journal_error(diff + " (use another --journal, or the original options)");
      if (prior.tail() == tail_state::damaged)
        throw journal_damaged(prior.tail_note() +
                              ". Refusing to append: the records after the damage would be lost "
                              "and their addresses sent again; repair the journal first");
      seed_from_prior(prior, p.dcfg.retry_failed, p.keys, *done, nullptr);
    } catch (const journal_error& e) {
      print_journal_error(opts, lane->journal_path, e);
      return exit_config;
    }
  }
  if (!done->empty()) io.already_done_keys = std::move(done);
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
  for (account_lane* lane : p.admitted()) {
    b.account_id += (b.account_id.empty() ? "" : ", ") + lane->account;
    if (!b.account_about.empty()) b.account_about += "; ";
    b.account_about += lane->about;
  }
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
    b.outside_where = p.ahead->outside_where;
  }
  b.limit = opts.limit;
  for (const auto& [column, value] : opts.ingest.where)
    b.where += (b.where.empty() ? "" : " and ") + column + "=" + value;
  for (account_lane* lane : p.admitted())
    b.journal += (b.journal.empty() ? "" : ", ") + lane->journal_path;
  if (opts.new_journal) b.journal += " (--new-journal: a new one)";
  if (p.deadline) b.window = window_text(*p.deadline, std::chrono::system_clock::now());
  b.report = opts.report_path;
  b.rejects = opts.ingest.rejects_path;
  b.duplicates_file = opts.ingest.duplicates_path;
  return b;
}

// planned_totals: each account's share of the run as it starts, for `status` to tell done from
// total: what its journal had settled (less what --retry-failed sends again), and what this run
// sends to it, when counted.
std::vector<run_plan> planned_totals(const run_options& opts, const prepared_run& p) {
  std::vector<run_plan> v;
  const auto lanes = p.admitted();
  for (account_lane* lane : lanes) {
    if (!lane->jrnl) continue;
    run_plan r;
    r.account = lane->account;
    const auto& t = lane->jrnl->prior().counts();
    r.settled_before = t.invited + t.created + t.exists + t.failed + t.not_sent;
    if (p.dcfg.retry_failed) r.settled_before -= std::min(r.settled_before, t.failed + t.not_sent);
    if (p.ahead) {
      auto it = p.ahead->accepted_by_account.find(lane->account);
      r.to_send = it == p.ahead->accepted_by_account.end() ? 0 : it->second;
    } else if (p.exact_total && lanes.size() == 1) {
      r.to_send = *p.exact_total;
    }
    if (r.to_send && opts.limit) r.to_send = std::min(*r.to_send, opts.limit);
    v.push_back(std::move(r));
  }
  return v;
}

// show_banner: the banner on stderr (unless --quiet), or the started event in its place under
// --progress json; and in the --log-file either way.
void show_banner(const run_options& opts, const prepared_run& p) {
  const run_banner b = banner_of(opts, p);
  std::ostringstream text;
  print_banner(b, text);
  log_file_text(text.str());
  if (event_stream* ev = active_events()) {
    std::vector<event_account> accounts;
    for (account_lane* lane : p.admitted())
      accounts.push_back({lane->account, lane->about, lane->journal_path});
    ev->emit(started_event(b, accounts));
  } else if (!opts.quiet) {
    std::cerr << text.str() << std::flush;
  }
}

// note_interrupted: --progress json's interrupted event, with the command that resumes.
void note_interrupted(const run_options& opts, std::string_view reason) {
  if (event_stream* ev = active_events()) ev->emit(interrupted_event(reason, resume_command(opts)));
}

// show_summary: the summary on stdout, kept as JSON for the summary event, and in the log file.
void show_summary(const run_options& opts, const summary& s) {
  print_summary(s, opts.json_output, std::cout);
  std::ostringstream json, text;
  print_summary(s, true, json);
  if (event_stream* ev = active_events()) ev->keep_summary(json.str());
  if (log_file_open()) {
    print_summary(s, false, text);
    log_file_text(text.str());
  }
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
  const auto lanes = p.admitted();
  std::string where = lanes.size() == 1 ? "account " + lanes.front()->account
                                        : std::to_string(lanes.size()) + " accounts (";
  if (lanes.size() > 1) {
    for (std::size_t i = 0; i < lanes.size(); ++i) where += (i ? ", " : "") + lanes[i]->account;
    where += ")";
  }
  std::string question =
      opts.op == operation::invite
          ? "Send " + group_thousands(*n) + " invitation email" + (*n == 1 ? "" : "s") + " to " +
                where + "?"
          : "Create " + group_thousands(*n) + " user" + (*n == 1 ? "" : "s") + " in " + where + "?";
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

// check_account: one account's pre-flight, before its journal is placed or anything sent: the
// account must exist, be Active and take the operation; in-doubt verification needs
// chime:ListUsers. A refusal is the lane's (`refused`, `refused_exit`): the other accounts go on.
preflight_request preflight_request_for(const run_options& opts, prepared_run& p,
                                        const std::string& account) {
  preflight_request q;
  q.op = opts.op;
  q.account_id = account;
  q.endpoint = p.endpoint;
  q.tls = &*p.tls;
  q.creds = p.creds;
  q.region = opts.region;
  q.proxy = p.proxy;
  q.probe_list_users = opts.dispatch.in_doubt == in_doubt_policy::verify;
  return q;
}

void check_account(const run_options& opts, prepared_run& p, account_lane& lane) {
  auto f = run_preflight(preflight_request_for(opts, p, lane.account));
  if (f.clock_offset != std::chrono::milliseconds(0)) {
    if (auto w = engine::skew_warning(f.clock_offset);
        !w.empty() && p.clock_offset != f.clock_offset)
      spdlog::warn("{}", w);
    p.clock_offset = f.clock_offset;
  }
  if (f.exit != exit_ok) {
    lane.refused = f.problem;
    lane.refused_exit = f.exit;
    return;
  }
  if (!f.problem.empty()) spdlog::warn("pre-flight: {}", f.problem);
  lane.about =
      "\"" + f.account->name + "\", " + f.account->account_type + ", " + f.account->account_status;
  spdlog::info("account {} ({})", f.account->account_id, lane.about);
}

// scan_members: --skip-existing: the account's users, listed once (ListUsers, 200 a page), as
// keys of this run; a scan that fails refuses the account (the others go on).
void scan_members(const run_options& opts, prepared_run& p, account_lane& lane) {
  auto existing = std::make_unique<dedupe_set>();
  auto m = list_members(preflight_request_for(opts, p, lane.account), [&](std::string_view email) {
    existing->insert(p.keys.of(lane.account, email));
  });
  if (m.exit != exit_ok) {
    lane.refused = m.problem;
    lane.refused_exit = m.exit;
    return;
  }
  if (!opts.quiet)
    std::cerr << "--skip-existing: account " << lane.account << " has " << group_thousands(m.users)
              << " user" << (m.users == 1 ? "" : "s") << " (" << m.pages << " ListUsers request"
              << (m.pages == 1 ? "" : "s") << "); none of them is sent to\n";
  lane.existing = std::move(existing);
}

// lane_journal_path: where account `account`'s journal goes: the default account's is
// `default_path` (--journal FILE, or the state folder's); another account's is its own file of
// the state folder, or beside --journal FILE as FILE's stem + "." + its file name there.
std::string lane_journal_path(const run_options& opts, const std::string& default_path,
                              const std::string& account) {
  namespace fs = std::filesystem;
  if (account == opts.ingest.account_id) return default_path;
  if (opts.journal_path.empty())
    return default_journal_path(opts.op, account, signing::process_environment()).string();
  fs::path base(opts.journal_path);
  return (base.parent_path() / (base.stem().string() + "." + journal_file_name(opts.op, account)))
      .string();
}

// plan_accounts: the run's accounts, each pre-flighted: the default, unless the input names its
// own account on every row, and every account a CSV account_id column names. They are known
// before anything is sent only when every input is a regular file (one counting pass, which
// writes nothing); rows of another account in a stream are not sent (its account is refused at
// the reader). exit_ok with at least one account admitted; else the first refusal's exit code,
// after printing every refusal (nothing was written or sent); exit_interrupted on a stop signal.
int plan_accounts(const run_options& opts, prepared_run& p, stop_request& stop) {
  std::vector<std::pair<std::string, std::uint64_t>> accounts;
  ingest_options io = p.iopts;
  std::string error;
  if (auto counted = count_addresses(io, stop.requested(), &error)) {
    if (auto it = counted->accepted_by_account.find(opts.ingest.account_id);
        it != counted->accepted_by_account.end())
      accounts.emplace_back(it->first, it->second);
    for (const auto& [account, n] : counted->accepted_by_account)
      if (account != opts.ingest.account_id) accounts.emplace_back(account, n);
  }
  if (stop.requested().load()) return exit_interrupted;
  if (!error.empty()) return fail(opts, exit_usage, error);
  if (accounts.empty()) accounts.emplace_back(opts.ingest.account_id, 0);
  for (const auto& [account, n] : accounts) {
    auto lane = std::make_unique<account_lane>();
    lane->account = account;
    lane->planned = n;
    lane->dcfg = p.dcfg;
    lane->journal_path = lane_journal_path(opts, p.journal_path, account);
    check_account(opts, p, *lane);
    if (opts.skip_existing && lane->refused.empty()) scan_members(opts, p, *lane);
    p.lanes.push_back(std::move(lane));
    if (stop.requested().load()) return exit_interrupted;
  }
  const bool several = p.lanes.size() > 1;
  for (const auto& lane : p.lanes)
    if (!lane->refused.empty())
      std::cerr << "chime-onboard " << opts.command << ": " << lane->refused
                << (several ? "; its " + group_thousands(lane->planned) +
                                  " addresses are not sent, the other accounts go on"
                            : "; nothing was written or sent")
                << "\n";
  if (!p.admitted().empty()) return exit_ok;
  if (several)
    std::cerr << "chime-onboard " << opts.command
              << ": no account can be sent to; nothing was written or sent\n";
  return p.lanes.front()->refused_exit;
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
    auto r = resolve_run_credentials(opts.credentials, signing::process_environment(),
                                     {opts.ca_bundle, opts.verify_ssl});
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
    p.keys = run_keys{opts.ingest.account_id, opts.ingest.case_sensitive_local};
    if (int rc = plan_accounts(opts, p, stop); rc != exit_ok) return rc;
    if (stop.requested().load()) return exit_interrupted;
    if (int rc = look_ahead(opts, p, stop); rc != exit_ok) return rc;
    show_banner(opts, p);
    if (int rc = confirm(opts, p, stop); rc != exit_ok) return rc;
    auto done = std::make_shared<dedupe_set>();
    for (account_lane* lane : p.admitted()) {
      if (int rc = place_journal(opts, lane->journal_path, lane->account); rc != exit_ok) return rc;
      auto lk = stop.guard();
      lane->jrnl =
          open_journal(opts, lane->journal_path, lane->account, p.iopts, p.keys, *done, lane->dcfg);
      if (!lane->jrnl) return exit_config;
      stop.add_journal(lane->jrnl.get());
    }
    if (!done->empty()) p.iopts.already_done_keys = std::move(done);
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
    p.report = std::make_unique<run_report>(opts.report_path, *p.reader, p.keys);
  return exit_ok;
}

// run_result: what the execution leaves for conclude.
struct run_result {
  bool interrupted = false;
  bool input_complete = false;  // the reader reached the end of every input
  bool limit_reached = false;   // --limit stopped the reading: a pilot
  std::uint64_t taken = 0;      // addresses handed to the senders
  std::string ingest_failure;
  // fatal: each account's reason to stop (first reason of its dispatcher), in lane order.
  std::vector<std::pair<std::string, fatal_stop>> fatal;
  std::uint64_t reconnects = 0;
};

// execution: the sending half of a run: the io_context and its threads, the ingest thread that
// feeds the senders, the senders, progress, and the stop the signals ask for. Each admitted
// account has its own bounded queue, dispatcher and senders (one per connection), sharing the
// io_context, the signer, the rate gate (a limiter per account) and the counters: a throttled or
// failing account's senders wait for its own batches only. Built and run once per run.
class execution {
 public:
  execution(const run_options& opts, prepared_run& p, run_stats& stats, stop_request& stop)
      : opts_(opts), p_(p), stats_(stats), stop_(stop),
        threads_(opts.threads > 0
                     ? opts.threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        ioc_(threads_), work_(net::make_work_guard(ioc_)), gate_(limiter_config(opts)),
        signer_(p.creds, opts.region, "chime"),
        progress_(opts.quiet ? progress_mode::off : opts.progress, stats, std::cerr,
                  isatty(STDERR_FILENO) != 0, STDERR_FILENO),
        progress_timer_(ioc_), timeline_timer_(ioc_), drain_timer_(ioc_), sizer_timer_(ioc_),
        control_(net::make_strand(ioc_)), started_(std::chrono::steady_clock::now()) {
    signer_.set_clock_offset(p.clock_offset);
    if (opts.stats_interval) progress_.set_stats_interval(*opts.stats_interval);
    const auto admitted = p.admitted();
    // One account: the queue holds a few batches per sender, the reader's backpressure. Several:
    // the reader must not wait on one account's full queue while the others starve, so each
    // buffers more (a slow account's backlog of up to queue_depth batches, ~4 KB each), and
    // reading waits only once that is full.
    const std::size_t depth = admitted.size() == 1
                                  ? static_cast<std::size_t>(opts.connections) * 4
                                  : std::max<std::size_t>(256, std::size_t(opts.connections) * 4);
    for (account_lane* lane : admitted) {
      auto l = std::make_unique<lane_run>(depth);
      l->lane = lane;
      l->partition = send_partition(opts.op, lane->account);
      l->disp = std::make_unique<dispatcher>(
          lane->dcfg, signer_, gate_, lane->jrnl.get(), stats,
          [this, lane](const planned_address& item, const address_outcome& o) {
            note_outcome(*lane, o);
            if (p_.report) p_.report->write(lane->account, item, o);
          });
      lanes_.push_back(std::move(l));
    }
  }

  run_result run() {
    p_.creds->start_refresher();
    start_ingest();
    spawn_senders();
    spawn_sizer();
    spawn_progress();
    spawn_timeline();
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
    for (auto& l : lanes_) l->queue.close(/*discard=*/true);
    if (!input_read_.load()) {
      reader_cancelled_.store(true);
      p_.reader->cancel();
    }
    ingest_thread_.join();
    progress_.set_total_final(ingest_done_.load());
    progress_.finish(std::chrono::steady_clock::now());
    if (p_.timeline) p_.timeline->sample(stats_, limiter_rate());

    run_result r;
    r.interrupted = stop_.requested().load();
    r.input_complete = input_read_.load();
    r.limit_reached = limit_reached_.load();
    r.taken = taken_;
    r.ingest_failure = ingest_failure_;
    for (auto& l : lanes_)
      if (auto f = l->disp->fatal()) r.fatal.emplace_back(l->lane->account, *f);
    for (const auto& t : transports_) r.reconnects += t->connection().stats().reconnects;
    return r;
  }

  // stop_soon: the first stop signal, from the signal thread: the stop itself runs on `control_`.
  void stop_soon() {
    net::post(control_, [this] { on_stop(); });
  }

 private:
  // lane_run: an admitted account while sending.
  struct lane_run {
    explicit lane_run(std::size_t depth) : queue(depth) {}
    account_lane* lane = nullptr;
    std::string partition;  // the rate gate's, for the account's requests (send_partition)
    std::unique_ptr<dispatcher> disp;
    async_queue<batch> queue;
    std::atomic<int> senders_left{0};
    int spawned = 0;  // senders started (on control_ once the run has begun)
    std::chrono::steady_clock::time_point
        next_growth{};  // spawn_sizer's next step, at the earliest
    std::function<void(std::exception_ptr)> on_sender_done;
  };

  static engine::rate_limiter_config limiter_config(const run_options& opts) {
    engine::rate_limiter_config l;
    l.adaptive = opts.adaptive;
    l.rate = opts.rate;
    l.burst = opts.burst;
    return l;
  }

  // note_outcome: an account's counters, for its line in the summary (any sender thread).
  void note_outcome(account_lane& lane, const address_outcome& o) {
    switch (o.kind) {
      case outcome_kind::invited: bump(lane.invited); break;
      case outcome_kind::created: bump(lane.created); break;
      case outcome_kind::exists: bump(lane.exists); break;
      case outcome_kind::failed: bump(lane.failed); break;
      case outcome_kind::not_sent: bump(lane.not_sent); break;
    }
    lane.last_outcome_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now() - started_)
                                   .count());
  }

  lane_run* lane_run_of(std::string_view account) {
    for (auto& l : lanes_)
      if (l->lane->account == account) return l.get();
    return nullptr;
  }

  // spent_batch: a batch some sender has finished with, for the reader to refill.
  batch spent_batch() {
    for (auto& l : lanes_)
      if (batch b = l->disp->spent_batch(); b.items.capacity()) return b;
    return {};
  }

  // start_ingest: ingest on its own thread, so that reading (even a slow stdin) never blocks an
  // io thread, and the bounded queues keep it from running far ahead of the senders.
  void start_ingest() {
    const std::uint64_t limit =
        opts_.limit ? opts_.limit : std::numeric_limits<std::uint64_t>::max();
    if (p_.exact_total) stats_.total.store(std::min(*p_.exact_total, limit));
    ingest_done_.store(p_.exact_total.has_value());
    ingest_thread_ = std::thread([this, limit] {
      bool ended = false;
      try {
        // Each batch is filled over one a sender has finished with, and moved to the senders.
        for (batch b = spent_batch();; b = spent_batch()) {
          if (!p_.reader->next_batch(b)) {
            ended = true;
            break;
          }
          // An account refused by its pre-flight (or first seen in a stream, never checked):
          // its addresses are not sent, and its line in the summary says so.
          lane_run* l = lane_run_of(b.account_id);
          if (!l) {
            if (account_lane* refused = refused_lane(b.account_id))
              bump(refused->held_back, b.items.size());
            continue;
          }
          if (l->lane->existing) settle_members(*l, b);
          // --limit: the pilot's last batch is cut short; the addresses cut off stay unsent and
          // out of the journal, so the next run sends them.
          const std::uint64_t room = limit - taken_;
          const bool last = b.items.size() >= room;
          if (last) b.items.resize(static_cast<std::size_t>(room));
          taken_ += b.items.size();
          if (!p_.exact_total) bump(stats_.total, b.items.size());
          if (!b.items.empty() && !l->queue.push(std::move(b))) {
            // Its queue is closed: the run is stopping, or this account's senders stopped (its
            // dispatcher's fatal says why) and the others go on.
            if (stop_.requested().load() || all_lanes_stopped()) break;
          }
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
          for (auto& l : lanes_) l->disp->request_stop();
        }
      }
      // Only an input read to its end makes the total final: a stopped one may have more.
      if (ended) {
        input_read_.store(true);
        ingest_done_.store(true);
      }
      for (auto& l : lanes_) l->queue.close();
    });
  }

  // settle_members: --skip-existing: the batch's addresses already in the account are settled as
  // `exists` (journal, report, counters) and taken out of it; nothing is sent for them.
  void settle_members(lane_run& l, batch& b) {
    account_lane& lane = *l.lane;
    std::vector<address_outcome> members;
    std::erase_if(b.items, [&](const planned_address& item) {
      if (!lane.existing->contains(p_.keys.of(lane.account, item.email))) return false;
      address_outcome o;
      o.email = item.email;
      o.kind = outcome_kind::exists;
      o.message = "already in the account (--skip-existing: ListUsers before sending)";
      note_outcome(lane, o);
      if (p_.report) p_.report->write(lane.account, item, o);
      members.push_back(std::move(o));
      return true;
    });
    if (members.empty()) return;
    lane.jrnl->record_outcomes(b.id, members);
    bump(stats_.exists, members.size());
    bump(stats_.done, members.size());
  }

  // refused_lane: the account's lane when it was refused, made on first sight for an account
  // that appears only in a stream (not counted, so never pre-flighted).
  account_lane* refused_lane(std::string_view account) {
    // p_.lanes grows here, on the reader's thread, and is read by conclude after it is joined.
    if (account_lane* l = p_.lane_of(account)) return l;
    auto lane = std::make_unique<account_lane>();
    lane->account = std::string(account);
    lane->refused = "account '" + lane->account +
                    "' is named only in a stream input, so it was not checked before sending "
                    "(give its rows as a file, or run it on its own with --account-id)";
    lane->refused_exit = exit_config;
    p_.lanes.push_back(std::move(lane));
    return p_.lanes.back().get();
  }

  bool all_lanes_stopped() const {
    return std::all_of(lanes_.begin(), lanes_.end(),
                       [](const auto& l) { return l->senders_left.load() == 0; });
  }

  // spawn_senders: one sender per connection and account. When an account's last one ends, its
  // queue is closed (a reader waiting on it goes on with the others); when the run's last one
  // ends, everything else that keeps the io_context alive is released.
  void spawn_senders() {
    senders_left_.store(static_cast<int>(lanes_.size()) * initial_senders());
    for (auto& lp : lanes_) {
      lane_run* l = lp.get();
      l->senders_left.store(initial_senders());
      l->on_sender_done = [this, l](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::error("sender stopped: {}", ex.what());
            l->disp->request_stop();
          }
        }
        if (--l->senders_left == 0) l->queue.close(/*discard=*/true);
        if (--senders_left_ == 0) {
          net::post(control_, [this] {
            progress_timer_.cancel();
            timeline_timer_.cancel();
            drain_timer_.cancel();
            sizer_timer_.cancel();
            work_.reset();
          });
        }
      };
      for (int i = 0; i < initial_senders(); ++i) spawn_sender(*l);
    }
  }

  // initial_senders: each account starts with a few connections; spawn_sizer adds more when the
  // round trip, not the rate, is what holds the account back.
  int initial_senders() const { return std::min(opts_.connections, 8); }

  // spawn_sender: one more sender and connection for the account. The counters are the caller's.
  void spawn_sender(lane_run& l) {
    io::connection_options copts;
    copts.proxy = p_.proxy;
    net::any_io_executor ex = io::connection_executor(ioc_, threads_);
    transports_.push_back(std::make_unique<https_transport>(ex, p_.endpoint, *p_.tls, copts));
    l.disp->spawn_sender(ex, *transports_.back(), l.queue, l.on_sender_done);
    ++l.spawned;
  }

  // spawn_sizer: every 100 ms, an account whose senders all have a request in flight while
  // batches wait, and whose limiter would allow more in flight (its rate x p95 round trip x 1.5),
  // gets more senders, at most doubling once per round trip (so each step is seen before the
  // next) and never past --connections. With 8 senders and 400 ms round trips an account cannot
  // pass 20 requests/s however high its limit; sized this way it reaches a 40/s limit with ~20
  // connections, while near the service (a few ms) it stays at 8. Senders are not taken away: an
  // idle one costs a socket and a parked coroutine.
  void spawn_sizer() {
    if (opts_.connections <= initial_senders()) return;
    spawn_every(sizer_timer_, std::chrono::milliseconds(100), [this] {
      if (stopping_) return false;
      for (auto& lp : lanes_) {
        lane_run& l = *lp;
        const auto now = std::chrono::steady_clock::now();
        if (now < l.next_growth) continue;
        const auto snap = gate_.snapshot(l.partition);
        const int more = senders_wanted(l, snap, senders_sharing(l)) - l.spawned;
        if (more <= 0 || l.senders_left.load() == 0) continue;
        l.next_growth = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(snap.latency_p95));
        l.senders_left += more;
        senders_left_ += more;
        for (int i = 0; i < more; ++i) spawn_sender(l);
        spdlog::debug("{}: {} connections (round trips, not the rate, were the limit)",
                      l.lane->account, l.spawned);
      }
      return true;
    });
  }

  // senders_wanted: how many senders the account should have now (see spawn_sizer). `sharing`:
  // the live senders of every account paced by the same limiter as this one (accounts sharing
  // one limit share its in-flight allowance).
  int senders_wanted(const lane_run& l, const engine::limiter_snapshot& snap, int sharing) const {
    if (l.spawned >= opts_.connections || l.queue.size() == 0 || l.disp->stopping()) return 0;
    if (snap.in_flight < sharing || snap.in_flight_cap <= sharing) return 0;
    return std::min({opts_.connections, l.spawned + (snap.in_flight_cap - sharing), 2 * l.spawned});
  }

  // senders_sharing: the live senders of the accounts whose requests `l`'s limiter paces.
  int senders_sharing(const lane_run& l) const {
    int n = 0;
    for (const auto& other : lanes_)
      if (other.get() == &l || gate_.shares_limit(l.partition, other->partition))
        n += other->senders_left.load();
    return n;
  }

  // spawn_progress: a line at once and one every interval until the last sender ends; run()
  // draws the last one (progress_display::finish) once the senders are gone.
  void spawn_progress() {
    auto tick = [this] {
      progress_.set_total_final(ingest_done_.load());
      progress_.tick(std::chrono::steady_clock::now());
      if (spdlog::should_log(spdlog::level::debug)) log_limiters();
      return true;
    };
    // Before the io threads start: nothing else touches the display yet.
    tick();
    spawn_every(progress_timer_, progress_.interval(), std::move(tick));
  }

  // spawn_timeline: a sample of the counters every second for the run's picture (run_picture.hpp);
  // run() takes the final one once the senders are gone.
  void spawn_timeline() {
    if (!p_.timeline) return;
    spawn_every(timeline_timer_, std::chrono::seconds(1), [this] {
      p_.timeline->sample(stats_, limiter_rate());
      return true;
    });
  }

  // spawn_every: `step` on `control_` every `period`, the first one a period from now, until it
  // returns false, `timer` is cancelled or the run's last sender has ended. The clean-up that
  // cancels the timers runs on `control_` too, so no step runs after it.
  void spawn_every(net::steady_timer& timer, std::chrono::steady_clock::duration period,
                   std::function<bool()> step) {
    net::co_spawn(
        control_,
        [this, &timer, period, step = std::move(step)]() -> net::awaitable<void> {
          for (;;) {
            timer.expires_after(period);
            auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
            if (ec || senders_left_.load() == 0 || !step()) co_return;
          }
        },
        net::detached);
  }

  // limiter_rate: what the run may send, requests/s: the rate of each limiter its accounts'
  // requests meet, each counted once (not ListUsers').
  double limiter_rate() {
    double r = 0;
    std::vector<const std::string*> counted;
    for (const auto& lr : lanes_) {
      const std::string& p = lr->partition;
      if (std::any_of(counted.begin(), counted.end(),
                      [&](const std::string* c) { return gate_.shares_limit(*c, p); }))
        continue;
      r += gate_.snapshot(p).rate;
      counted.push_back(&p);
    }
    return r;
  }

  void log_limiters() {
    for (const auto& lr : lanes_) {
      const std::string& account = lr->lane->account;
      auto l = gate_.snapshot(lr->partition);
      spdlog::debug(
          "limiter {}: rate {:.1f}/s w_max {:.1f} goodput {:.1f} in flight {}/{} "
          "sent {} throttles {} cuts {}",
          account, l.rate, l.w_max, l.goodput, l.in_flight, l.in_flight_cap, l.sent, l.throttles,
          l.cuts);
    }
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
    for (auto& l : lanes_) {
      l->disp->request_stop();
      l->queue.close(/*discard=*/true);
    }
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
  std::vector<std::unique_ptr<lane_run>> lanes_;
  std::atomic<bool> ingest_done_{false};  // the total is final (counted, or the input read)
  std::atomic<bool> input_read_{false};   // the reader reached the end of every input
  std::atomic<bool> reader_cancelled_{false};
  std::uint64_t taken_ = 0;  // addresses handed to the senders (ingest thread; read after join)
  std::atomic<bool> limit_reached_{false};  // --limit stopped the reading
  std::string ingest_failure_;
  std::thread ingest_thread_;
  std::vector<std::unique_ptr<https_transport>> transports_;
  std::atomic<int> senders_left_{0};
  progress_display progress_;
  net::steady_timer progress_timer_;
  net::steady_timer timeline_timer_;
  net::steady_timer drain_timer_;
  net::steady_timer sizer_timer_;
  // control_: serialises the stop with the end-of-run clean-up, both of which touch the timers
  // (not safe to use from two threads at once).
  net::strand<net::io_context::executor_type> control_;
  bool stopping_ = false;  // on control_
  std::chrono::steady_clock::time_point started_;
};

void stop_request::set_execution(execution* e) {
  exec_ = e;
  if (requested_.load()) stop_execution();
}

void stop_request::stop_execution() {
  if (exec_) exec_->stop_soon();
}

// close_journal: closes the run's journals, out of the reach of a second signal (which waits for
// the close, then leaves). False after printing why a close failed.
bool close_journal(prepared_run& p, stop_request& stop) {
  auto lk = stop.guard();
  stop.clear_journals();
  bool ok = true;
  for (const auto& lane : p.lanes) {
    if (!lane->jrnl) continue;
    try {
      lane->jrnl->close();
    } catch (const std::exception& e) {
      std::cerr << "chime-onboard: " << e.what() << "\n";
      ok = false;
    }
  }
  return ok;
}

// journal_paths: the journals this run wrote, one per admitted account.
std::vector<std::string> journal_paths(const prepared_run& p) {
  std::vector<std::string> v;
  for (const auto& lane : p.lanes)
    if (lane->jrnl) v.push_back(lane->journal_path);
  return v;
}

// account_lines: the summary's line per account: what this run did for it, or why it was not
// sent to.
std::vector<account_summary> account_lines(const prepared_run& p, const run_result& r) {
  std::vector<account_summary> v;
  for (const auto& lane : p.lanes) {
    account_summary a;
    a.account_id = lane->account;
    a.about = lane->about;
    a.planned = lane->planned;
    a.invited = load(lane->invited);
    a.created = load(lane->created);
    a.exists = load(lane->exists);
    a.failed = load(lane->failed);
    a.held_back = load(lane->held_back);
    a.not_sent = load(lane->not_sent);
    if (!lane->refused.empty()) a.problem = lane->refused;
    for (const auto& [account, f] : r.fatal)
      if (account == lane->account && a.problem.empty()) a.problem = f.message;
    a.elapsed_seconds = static_cast<double>(lane->last_outcome_ns.load()) / 1e9;
    v.push_back(std::move(a));
  }
  return v;
}

// run_end: how a run ended, for the summary and stderr: the exit code, why it stopped (nullopt:
// nothing stopped it), the summary, and what stderr says after it (the journal, the report, what
// is left and the command that resumes).
struct run_end {
  int exit_code = exit_ok;
  std::optional<std::string> error;
  summary s;
  std::string advice;
};

// conclude: closes the journal, writes the report from it, and decides the exit code. An exit
// code says "done" (0, 3, 4) only when every address accepted for sending has an outcome;
// otherwise it says how many have none and how to resume.
run_end conclude(const run_options& opts, prepared_run& p, run_stats& stats, const run_result& r,
                 stop_request& stop, std::chrono::steady_clock::time_point started) {
  run_end end;
  std::ostringstream advice;
  const bool journal_failed = !close_journal(p, stop);
  std::string report_line;
  bool report_written = false;
  if (p.report) {
    // From the journal, whatever stopped the run: it holds every run's results, durable or not.
    try {
      auto rows = p.report->finish(journal_paths(p));
      report_line = opts.report_path + " (" + std::to_string(rows) + " addresses, " +
                    std::to_string(p.report->settled()) + " settled by this run)";
      report_written = true;
    } catch (const std::exception& e) {
      std::cerr << "chime-onboard " << opts.command << ": --report " << opts.report_path << ": "
                << e.what() << "; the journal has every result: chime-onboard report --journal "
                << shell_quote(p.journal_path) << " --output-file " << shell_quote(opts.report_path)
                << "\n";
      report_line = opts.report_path + " (not written)";
    }
  }

  summary& s = end.s;
  s = input_summary(p.reader->stats());
  if (r.limit_reached) {
    // A pilot: the reader went past its last address (a batch is filled whole); what it read
    // beyond is for the next run, not this one's to settle.
    s.accepted = s.already_done + r.taken;
    s.limit = opts.limit;
    if (p.exact_total && *p.exact_total >= r.taken) s.remaining = *p.exact_total - r.taken;
  }
  fill_outcomes(s, stats, std::chrono::steady_clock::now() - started);
  s.reconnects += r.reconnects;
  s.accounts = account_lines(p, r);
  // A refused account's addresses were never to be sent by this run: they are its line's
  // `held_back`, not addresses left for a resume of the others.
  std::uint64_t refused = 0;
  for (const auto& a : s.accounts) refused += a.held_back;
  s.not_done -= std::min(s.not_done, refused);
  for (const auto& path : journal_paths(p)) {
    advice << "journal: " << path << "\n";
    s.files.push_back({"journal", path});
  }
  if (!report_line.empty()) advice << "report:  " << report_line << "\n";
  if (report_written) s.files.push_back({"report", opts.report_path});

  // What a resume has to do: the addresses read for sending that have no outcome, and those not
  // read yet (counted beforehand for regular files; unknown for the rest of a stream).
  std::uint64_t to_send =
      s.accepted - s.already_done - std::min(s.accepted - s.already_done, refused);
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
      advice << "no address had been read from the input yet\n";
      return;
    }
    advice << left << " of the " << to_send
           << (rest_unknown ? " addresses read so far" : " addresses to send")
           << " have no outcome yet" << (rest_unknown ? "; the rest of the input was not read" : "")
           << "\n";
  };
  auto stopped = [&](int code, std::string why) {
    end.exit_code = code;
    end.error = std::move(why);
    end.advice = advice.str();
    return std::move(end);
  };
  if (!r.fatal.empty()) {
    const bool several = p.lanes.size() > 1;
    std::string why;
    for (const auto& [account, f] : r.fatal) {
      const std::string line = (several ? "account " + account + ": " : std::string()) + f.message;
      advice << "chime-onboard " << opts.command << ": " << line << "\n";
      why += (why.empty() ? "" : "; ") + line;
    }
    say_left();
    advice << "fix the cause, then resume with:\n  " << resume_command(opts) << "\n";
    return stopped(exit_code_of(r.fatal.front().second.kind), why);
  }
  if (!r.ingest_failure.empty()) {
    advice << "chime-onboard " << opts.command << ": " << r.ingest_failure << "\n";
    say_left();
    advice << "fix the input, then resume with:\n  " << resume_command(opts) << "\n";
    return stopped(exit_usage, r.ingest_failure);
  }
  if (r.interrupted || journal_failed) {
    note_interrupted(opts, r.interrupted ? stop.reason() : "the journal could not be closed");
    say_left();
    const std::string window = stop.window_ended();
    std::string why = journal_failed && !r.interrupted ? "the journal could not be closed"
                      : window.empty()                 ? "interrupted by a signal"
                                                       : "the run's window ended (" + window + ")";
    advice << (window.empty() ? "interrupted" : "stopped: " + window + " reached")
           << "; nothing is lost. Resume with:\n  " << resume_command(opts) << "\n";
    return stopped(exit_interrupted, why);
  }
  if (s.not_done > 0) {
    // Nothing asked the run to stop, yet it ended with addresses unsettled: never report that as
    // done, whatever ended it.
    advice << "chime-onboard " << opts.command << ": the run ended with " << s.not_done
           << " of the " << to_send
           << " addresses to send not settled (never sent, or sent without an answer: "
              "the journal keeps them in doubt); nothing is lost. Resume with:\n  "
           << resume_command(opts) << "\n";
    return stopped(exit_interrupted, std::to_string(s.not_done) + " addresses not settled");
  }
  if (r.limit_reached) {
    advice << "pilot done: " << group_thousands(r.taken) << " address" << (r.taken == 1 ? "" : "es")
           << " sent (--limit " << opts.limit << "); "
           << (s.remaining ? group_thousands(*s.remaining) + " remain"
                           : std::string("the rest of the input was not read"))
           << ". The full run skips what the pilot did:\n  " << full_run_command(opts) << "\n";
  }
  // An account refused by its pre-flight needs attention: the others are done, it is not.
  for (const auto& lane : p.lanes)
    if (!lane->refused.empty()) {
      advice << "chime-onboard " << opts.command << ": account " << lane->account
             << " needs attention: " << lane->refused
             << "; its addresses were not sent. Once fixed, the same command sends them (the "
                "others are in their journals and are not sent again)\n";
      return stopped(lane->refused_exit, "account " + lane->account + ": " + lane->refused);
    }
  if (load(stats.failed) > 0 || load(stats.not_sent) > 0)
    end.exit_code = exit_failed_addresses;
  else if (s.rejected_total > 0)
    end.exit_code = exit_rejected_inputs;
  end.advice = advice.str();
  return end;
}

// write_picture: the HTML page of every run on the journal, beside it; its path, or "" when it
// could not be written (a warning: the journal and the report hold the results).
std::string write_picture(const std::string& journal_path, std::uint64_t handled) {
  const auto page = picture_path(journal_path);
  // A run that had nothing to do leaves the page as it was: replaying a journal of a million
  // addresses for the same numbers cost as much as the rest of such a run.
  if (picture_is_current(page, handled)) return page.string();
  try {
    write_html_report(std::filesystem::path(journal_path), page);
    std::cerr << "picture: " << page.string() << "\n";
    return page.string();
  } catch (const std::exception& e) {
    spdlog::warn("the HTML report {} was not written: {}", page.string(), e.what());
    return {};
  }
}

// finish_summary: the end's facts every summary carries, whichever way the run ended.
void finish_summary(const run_options& opts, summary& s, int exit_code,
                    std::optional<std::string> error) {
  s.exit_code = exit_code;
  s.status = std::string(run_status(exit_code));
  s.error = std::move(error);
  s.endpoint = opts.endpoint_url;
  // Only what was written: a run stopped before its reader started has no rejects file.
  auto add = [&s](const char* kind, const std::string& path) {
    std::error_code ec;
    if (path.empty() || !std::filesystem::exists(path, ec)) return;
    for (const auto& f : s.files)
      if (f.path == path) return;
    s.files.push_back({kind, path});
  };
  add("rejects", opts.ingest.rejects_path);
  add("duplicates", opts.ingest.duplicates_path);
  add("log", opts.log_file);
}

// print_end: the summary on stdout, then what stderr says after it.
int print_end(const run_options& opts, run_end& end) {
  finish_summary(opts, end.s, end.exit_code, end.error);
  show_summary(opts, end.s);
  std::cout.flush();
  std::cerr << end.advice << std::flush;
  return end.exit_code;
}

// conclude_before_sending: a stop came while the run was being prepared (a signal, or a window
// that ended before the first request).
int conclude_before_sending(const run_options& opts, prepared_run& p, stop_request& stop) {
  close_journal(p, stop);
  note_interrupted(opts, stop.reason());
  run_end end;
  end.exit_code = exit_interrupted;
  const std::string window = stop.window_ended();
  end.error = window.empty() ? "interrupted by a signal before sending"
                             : "the run's window ended (" + window + ") before sending";
  for (const auto& path : journal_paths(p)) end.s.files.push_back({"journal", path});
  end.advice = (window.empty() ? std::string("interrupted") : "stopped: " + window + " reached") +
               " before anything was sent; nothing is lost. Resume with:\n  " +
               resume_command(opts) + "\n";
  return print_end(opts, end);
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
  run_end end;
  end.s = input_summary(p.reader->stats());
  fill_outcomes(end.s, stats, std::chrono::steady_clock::now() - started);
  end.exit_code = end.s.rejected_total ? exit_rejected_inputs : exit_ok;
  return print_end(opts, end);
}

// run_steps: the run, from its preparation to its picture; returns its exit code.
int run_steps(const run_options& opts) {
  install_stop_signals();  // main has done so already; a run embedded elsewhere needs it too
  const auto started = std::chrono::steady_clock::now();
  run_stats stats;
  prepared_run p;
  // After `p`, so that the signal thread lets go of the journal before it is destroyed.
  stop_request stop;
  stop_signal_scope signals([&stop](int sig) { stop.on_signal(sig); });
  p.deadline = earliest_deadline(opts.max_duration, opts.max_duration_text, opts.stop_at,
                                 opts.stop_at_text, std::chrono::system_clock::now());
  deadline_watch window(stop, p.deadline);
  int rc = prepare(opts, p, stop);
  if (p.declined) return rc;
  if (rc == exit_interrupted) return conclude_before_sending(opts, p, stop);
  if (rc != exit_ok) return rc;
  if (opts.dry_run) return conclude_dry_run(opts, p, stats, stop, started);
  // The picture lives beside the first journal the run writes (the default account's, unless its
  // pre-flight refused it); its charts count every account's requests.
  std::string picture_journal;
  for (const auto& l : p.lanes)
    if (l->jrnl && picture_journal.empty()) picture_journal = l->journal_path;
  if (!picture_journal.empty()) {
    p.timeline = std::make_unique<timeline_recorder>(timeline_path(picture_journal));
    p.timeline->started(opts.command, planned_totals(opts, p));
  }
  run_result r = execution(opts, p, stats, stop).run();
  run_end end = conclude(opts, p, stats, r, stop, started);
  if (p.timeline) {
    p.timeline->ended(end.exit_code, run_status(end.exit_code));
    end.s.files.push_back({"timeline", timeline_path(picture_journal).string()});
    // The reader's tables (every address seen) are not needed any more: the picture's are.
    p.reader.reset();
    if (auto page = write_picture(picture_journal, load(stats.total) + load(stats.done));
        !page.empty())
      end.s.files.push_back({"html", page});
  }
  return print_end(opts, end);
}

}  // namespace

int run_onboarding(const run_options& opts) {
  json_event_scope events(opts.progress == progress_mode::json && !opts.quiet);
  return events.finish(run_steps(opts));
}

}  // namespace onboard
