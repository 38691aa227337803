#include <onboard/cli/run.hpp>

#include <onboard/cli/aws_settings.hpp>
#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/dispatch/https_transport.hpp>
#include <onboard/dispatch/rate_gate.hpp>
#include <onboard/cli/report_writer.hpp>
#include <onboard/cli/summary.hpp>
#include <onboard/io/durable_file.hpp>
#include <onboard/io/endpoint.hpp>
#include <onboard/io/https_connection.hpp>
#include <onboard/io/tls_context.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
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
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <thread>
#include <unistd.h>

namespace onboard {

namespace net = boost::asio;

std::string default_journal_path(const std::vector<std::string>& inputs) {
  if (inputs.empty() || inputs.front() == "-") return "chime-onboard.journal";
  return inputs.front() + ".journal";
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

std::string resume_command(const run_options& o) {
  std::string cmd = "chime-onboard " + o.command;
  for (const auto& a : o.argv) cmd += " " + shell_quote(a);
  return cmd;
}

// live_report: `--report FILE` written while the run goes (this run's addresses, with the input
// line each came from; `chime-onboard report --journal` gives every run's). CSV unless the name
// ends in .jsonl. Mode 0600: it holds addresses.
class live_report {
 public:
  live_report(const std::string& path, const ingest& in)
      : in_(in), writer_([this](std::string_view b) { file_.append(b); },
                         path.ends_with(".jsonl") ? report_format::jsonl : report_format::csv,
                         /*with_source=*/true) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    file_ = io::durable_file::open(path);
  }
  void write(const planned_address& item, const address_outcome& o) {
    std::lock_guard lk(mu_);
    writer_.write(report_row::from(o).with_source(in_.input_name(item.source), item.line));
  }
  void close() {
    std::lock_guard lk(mu_);
    writer_.finish();
    file_.flush();
    file_.sync();
    file_.close();
  }

 private:
  std::mutex mu_;
  const ingest& in_;
  io::durable_file file_;
  report_writer writer_;
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

// open_journal: opens (or resumes) the run's journal and seeds what earlier runs settled: their
// finished addresses are skipped by ingest, their in-doubt ones verified before sending. Progress
// is keyed by the normalised address (the dedupe key), not by line, so an edited, re-sorted or
// appended corpus still resumes correctly. nullptr after printing why it cannot be used.
std::unique_ptr<journal> open_journal(const run_options& opts, const std::string& path,
                                      ingest_options& iopts, dispatch_config& dcfg) {
  journal_header h;
  h.op = opts.op;
  h.account_id = iopts.account_id;
  h.type = iopts.type;
  h.case_sensitive_local = iopts.case_sensitive_local;
  h.tool_version = version;
  std::unique_ptr<journal> jrnl;
  try {
    jrnl = journal::open(path, h, {.mode = opts.journal_mode});
  } catch (const journal_error& e) {
    std::cerr << "chime-onboard " << opts.command << ": " << e.what() << "\n";
    return nullptr;
  }
  for (const auto& n : jrnl->notes()) std::cerr << "journal: " << n << "\n";
  const replay_state& prior = jrnl->prior();
  std::cerr << "journal: " << path
            << (prior.size() ? " (resuming: " + std::to_string(prior.size()) +
                                   " addresses known from earlier runs)"
                             : " (new)")
            << "\n";
  auto done = std::make_shared<dedupe_set>();
  done->reserve(prior.size());
  for (std::size_t i = 0; i < prior.size(); ++i) {
    auto st = prior.at(i);
    if (st.in_doubt) dcfg.in_doubt_addresses.emplace(st.email);
    const bool retry = dcfg.retry_failed && st.kind == outcome_kind::failed;
    if (st.kind && !st.in_doubt && !retry)
      done->insert(key_of(st.email, iopts.case_sensitive_local));
  }
  if (!done->empty()) iopts.already_done_keys = std::move(done);
  return jrnl;
}

// count_addresses: with regular files, one counting pass first (about a second per 10 million
// lines) gives the exact number of addresses to send, so progress shows a real ETA from the first
// second. nullopt for stdin, or when the inputs cannot be read (the real pass says why).
std::optional<std::uint64_t> count_addresses(ingest_options iopts) {
  if (std::any_of(iopts.inputs.begin(), iopts.inputs.end(),
                  [](const std::string& i) { return i == "-"; }))
    return std::nullopt;
  try {
    iopts.rejects_path.clear();
    iopts.duplicates_path.clear();
    ingest counter(std::move(iopts));
    batch b;
    while (counter.next_batch(b)) {
    }
    return counter.stats().accepted;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// prepared_run: everything a run needs before its first request, each piece checked: the
// endpoint, credentials and TLS context, the journal (and what earlier runs settled), the reader
// and the report.
struct prepared_run {
  io::endpoint endpoint;
  std::optional<signing::credentials> creds;
  std::optional<net::ssl::context> tls;
  std::string journal_path;
  std::unique_ptr<journal> jrnl;
  ingest_options iopts;
  dispatch_config dcfg;
  std::optional<std::uint64_t> exact_total;  // feeds the progress display only
  std::unique_ptr<ingest> reader;
  std::unique_ptr<live_report> report;
};

// fail: prints the command's error line and returns `code`, for prepare's early exits.
int fail(const run_options& opts, int code, const std::string& what) {
  std::cerr << "chime-onboard " << opts.command << ": " << what << "\n";
  return code;
}

// prepare: configuration first, so a bad profile, endpoint or CA bundle stops the run before
// anything is read, written or sent. Returns exit_ok, or the exit code after printing why not.
int prepare(const run_options& opts, prepared_run& p) {
  p.iopts = opts.ingest;
  p.dcfg = opts.dispatch;
  auto ep = io::try_parse_endpoint(opts.endpoint_url);
  if (!ep) return fail(opts, exit_usage, "--endpoint-url: " + ep.error);
  p.endpoint = *ep.value;
  p.journal_path =
      opts.journal_path.empty() ? default_journal_path(opts.ingest.inputs) : opts.journal_path;
  if (!opts.dry_run) {
    auto r = signing::resolve_credentials(opts.credentials, signing::process_environment());
    if (!r) return fail(opts, exit_config, r.error);
    p.creds = *r.value;
    spdlog::debug("credentials from {}", p.creds->source);
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
    p.jrnl = open_journal(opts, p.journal_path, p.iopts, p.dcfg);
    if (!p.jrnl) return exit_config;
  }
  // The total only feeds the progress display: without one, the counting pass is wasted work.
  if (!opts.dry_run && opts.progress != progress_mode::off)
    p.exact_total = count_addresses(p.iopts);

  // Sending paces a real run, far below what one ingest thread reads: a second reading thread
  // would only add hand-offs beside the I/O thread. `plan` and --dry-run keep it (ingest is all
  // they do).
  if (!opts.dry_run) p.iopts.parallel_min_bytes = std::numeric_limits<std::uint64_t>::max();
  try {
    p.reader = std::make_unique<ingest>(p.iopts);
  } catch (const std::exception& e) {
    return fail(opts, exit_usage, e.what());
  }
  if (!opts.dry_run && !opts.report_path.empty()) {
    try {
      p.report = std::make_unique<live_report>(opts.report_path, *p.reader);
    } catch (const std::exception& e) {
      return fail(opts, exit_usage, std::string("--report: ") + e.what());
    }
  }
  return exit_ok;
}

// run_result: what the execution leaves for conclude.
struct run_result {
  bool interrupted = false;
  std::string ingest_failure;
  std::optional<fatal_stop> fatal;
  std::uint64_t reconnects = 0;
};

// execution: the sending half of a run: the io_context and its threads, the ingest thread that
// feeds the senders through a bounded queue, the senders (one per connection), progress, and the
// signals. Built and run once per run.
class execution {
 public:
  execution(const run_options& opts, prepared_run& p, run_stats& stats)
      : opts_(opts), p_(p), stats_(stats),
        threads_(opts.threads > 0
                     ? opts.threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        ioc_(threads_), work_(net::make_work_guard(ioc_)), gate_(limiter_config(opts)),
        signer_(*p.creds, opts.region, "chime"),
        disp_(p.dcfg, signer_, gate_, p.jrnl.get(), stats,
              [this](const planned_address& item, const address_outcome& o) {
                if (p_.report) p_.report->write(item, o);
              }),
        queue_(static_cast<std::size_t>(opts.connections) * 4), senders_left_(opts.connections),
        progress_(opts.progress, stats, std::cerr, isatty(STDERR_FILENO) != 0),
        progress_timer_(ioc_), signals_(ioc_, SIGINT, SIGTERM), drain_timer_(ioc_),
        control_(net::make_strand(ioc_)) {}

  run_result run() {
    start_ingest();
    spawn_senders();
    spawn_progress();
    signals_.async_wait(
        net::bind_executor(control_, [this](auto ec, int sig) { on_signal(ec, sig); }));

    std::vector<std::thread> pool;
    for (int i = 1; i < threads_; ++i) pool.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : pool) t.join();
    // A run stopped by a fatal error or a signal must release a reader blocked on a full queue.
    queue_.close(/*discard=*/true);
    ingest_thread_.join();
    progress_.set_total_final(ingest_done_.load());
    progress_.finish(std::chrono::steady_clock::now());

    run_result r;
    r.interrupted = interrupted_;
    r.ingest_failure = ingest_failure_;
    r.fatal = disp_.fatal();
    for (const auto& t : transports_) r.reconnects += t->connection().stats().reconnects;
    return r;
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
    if (p_.exact_total) stats_.total.store(*p_.exact_total);
    ingest_done_.store(p_.exact_total.has_value());
    ingest_thread_ = std::thread([this] {
      try {
        // Each batch is filled over one a sender has finished with, and moved to the senders.
        for (batch b = disp_.spent_batch(); p_.reader->next_batch(b); b = disp_.spent_batch()) {
          if (!p_.exact_total) bump(stats_.total, b.items.size());
          if (!queue_.push(std::move(b))) break;
        }
      } catch (const std::exception& e) {
        ingest_failure_ = e.what();
        disp_.request_stop();
      }
      if (!p_.exact_total) ingest_done_.store(true);
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
          boost::system::error_code ignored;
          signals_.cancel(ignored);
          work_.reset();
        });
      }
    };
    io::connection_options copts;
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

  // on_signal: the first SIGINT/SIGTERM stops taking batches and lets exchanges in hand finish
  // (bounded by the drain timeout). The second makes the journal durable and leaves at once; its
  // framing keeps it consistent either way. Runs on `control_`.
  void on_signal(const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (interrupted_) {
      std::cerr << "\nchime-onboard: second signal, stopping now\n";
      if (p_.jrnl) p_.jrnl->commit();
      std::_Exit(exit_interrupted);
    }
    interrupted_ = true;
    std::cerr << "\nchime-onboard: " << (sig == SIGINT ? "interrupted" : "terminated")
              << "; finishing requests in flight (again to stop at once)\n";
    if (senders_left_.load() == 0) return;  // the run is ending anyway
    // Armed before the stop is requested: the clean-up that cancels them runs on this strand
    // after the last sender ends, which may be moments after request_stop().
    drain_timer_.expires_after(opts_.drain_timeout);
    drain_timer_.async_wait([this](const boost::system::error_code& e) {
      if (!e) ioc_.stop();  // requests still in flight stay in doubt in the journal
    });
    signals_.async_wait(net::bind_executor(control_, [this](auto e, int s) { on_signal(e, s); }));
    disp_.request_stop();
    queue_.close(/*discard=*/true);
  }

  const run_options& opts_;
  prepared_run& p_;
  run_stats& stats_;
  const int threads_;
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  engine::rate_gate gate_;
  signing::signer signer_;
  dispatcher disp_;
  async_queue<batch> queue_;
  std::atomic<bool> ingest_done_{false};
  std::string ingest_failure_;
  std::thread ingest_thread_;
  std::vector<std::unique_ptr<https_transport>> transports_;
  std::atomic<int> senders_left_;
  progress_display progress_;
  net::steady_timer progress_timer_;
  net::signal_set signals_;
  net::steady_timer drain_timer_;
  // control_: serialises the signal handler with the end-of-run clean-up, both of which touch
  // the timers and the signal set (neither is safe to use from two threads at once).
  net::strand<net::io_context::executor_type> control_;
  bool interrupted_ = false;
};

// conclude: closes the journal and the report, prints the summary and what to do next, and
// decides the exit code.
int conclude(const run_options& opts, prepared_run& p, run_stats& stats, const run_result& r,
             std::chrono::steady_clock::time_point started) {
  bool journal_failed = false;
  if (p.jrnl) {
    try {
      p.jrnl->close();
    } catch (const std::exception& e) {
      std::cerr << "chime-onboard: " << e.what() << "\n";
      journal_failed = true;
    }
  }
  if (p.report) p.report->close();

  summary s = input_summary(p.reader->stats());
  fill_outcomes(s, stats, std::chrono::steady_clock::now() - started);
  s.reconnects += r.reconnects;
  print_summary(s, opts.json_output, std::cout);
  std::cerr << "journal: " << p.journal_path << "\n";
  if (!opts.report_path.empty()) std::cerr << "report:  " << opts.report_path << "\n";

  if (r.fatal) {
    std::cerr << "chime-onboard " << opts.command << ": " << r.fatal->message << "\n";
    std::cerr << "fix the cause, then resume with:\n  " << resume_command(opts) << "\n";
    return exit_code_of(r.fatal->kind);
  }
  if (!r.ingest_failure.empty()) return fail(opts, exit_usage, r.ingest_failure);
  if (r.interrupted || journal_failed) {
    std::cerr << "interrupted; nothing is lost. Resume with:\n  " << resume_command(opts) << "\n";
    return exit_interrupted;
  }
  if (load(stats.failed) > 0) return exit_failed_addresses;
  if (s.rejected_total > 0) return exit_rejected_inputs;
  return exit_ok;
}

// conclude_dry_run: --dry-run reads everything and sends nothing.
int conclude_dry_run(const run_options& opts, prepared_run& p, run_stats& stats,
                     std::chrono::steady_clock::time_point started) {
  batch b;
  while (p.reader->next_batch(b)) {
  }
  summary s = input_summary(p.reader->stats());
  fill_outcomes(s, stats, std::chrono::steady_clock::now() - started);
  print_summary(s, opts.json_output, std::cout);
  return s.rejected_total ? exit_rejected_inputs : exit_ok;
}

}  // namespace

int run_onboarding(const run_options& opts) {
  const auto started = std::chrono::steady_clock::now();
  run_stats stats;
  prepared_run p;
  if (int rc = prepare(opts, p); rc != exit_ok) return rc;
  if (opts.dry_run) return conclude_dry_run(opts, p, stats, started);
  run_result r = execution(opts, p, stats).run();
  return conclude(opts, p, stats, r, started);
}

}  // namespace onboard
