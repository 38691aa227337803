#include <onboard/engine/run.hpp>

#include <onboard/engine/aws_settings.hpp>
#include <onboard/engine/cli_args.hpp>
#include <onboard/engine/commands.hpp>
#include <onboard/engine/exit_codes.hpp>
#include <onboard/engine/https_transport.hpp>
#include <onboard/engine/rate_gate.hpp>
#include <onboard/engine/report_writer.hpp>
#include <onboard/engine/summary.hpp>
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
      : in_(in),
        writer_([this](std::string_view b) { file_.append(b); },
                path.ends_with(".jsonl") ? report_format::jsonl : report_format::csv,
                /*with_source=*/true) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    file_ = io::durable_file::open(path);
  }
  void write(const work_item& item, const address_outcome& o) {
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
  if (!fs::is_directory(dir, ec)) return "no directory '" + dir.string() + "' to write '" + path + "' in";
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
    if (st.kind && !st.in_doubt && !retry) done->insert(key_of(st.email, iopts.case_sensitive_local));
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

}  // namespace

int run_onboarding(const run_options& opts) {
  const auto started = std::chrono::steady_clock::now();
  run_stats stats;
  ingest_options iopts = opts.ingest;
  dispatch_config dcfg = opts.dispatch;

  // Configuration first: a bad profile, endpoint or CA bundle stops the run before anything is
  // read, written or sent.
  auto ep = io::try_parse_endpoint(opts.endpoint_url);
  if (!ep) {
    std::cerr << "chime-onboard " << opts.command << ": --endpoint-url: " << ep.error << "\n";
    return exit_usage;
  }
  std::optional<signing::credentials> creds;
  std::optional<net::ssl::context> tls;
  std::unique_ptr<journal> jrnl;
  std::string journal_path = opts.journal_path.empty() ? default_journal_path(opts.ingest.inputs)
                                                       : opts.journal_path;
  if (!opts.dry_run) {
    auto r = signing::resolve_credentials(opts.credentials, signing::process_environment());
    if (!r) {
      std::cerr << "chime-onboard " << opts.command << ": " << r.error << "\n";
      return exit_config;
    }
    creds = *r.value;
    spdlog::debug("credentials from {}", creds->source);
    try {
      tls.emplace(io::make_client_tls_context({opts.ca_bundle, opts.verify_ssl}));
    } catch (const std::exception& e) {
      std::cerr << "chime-onboard " << opts.command << ": " << e.what() << "\n";
      return exit_config;
    }
    if (!opts.verify_ssl)
      spdlog::warn("--no-verify-ssl: the server's certificate is NOT checked; anyone on the path "
                   "can read and change this run's traffic");
    if (!opts.report_path.empty()) {
      if (auto why = report_path_problem(opts.report_path); !why.empty()) {
        std::cerr << "chime-onboard " << opts.command << ": --report: " << why << "\n";
        return exit_usage;
      }
    }
    jrnl = open_journal(opts, journal_path, iopts, dcfg);
    if (!jrnl) return exit_config;
  }
  // The total only feeds the progress display: without one, the counting pass is wasted work.
  const std::optional<std::uint64_t> exact_total =
      opts.dry_run || opts.progress == progress_mode::off ? std::nullopt : count_addresses(iopts);

  // Sending paces a real run, far below what one ingest thread reads: a second reading thread
  // would only add hand-offs beside the I/O thread. `plan` and --dry-run keep it (ingest is all
  // they do).
  if (!opts.dry_run) iopts.parallel_min_bytes = std::numeric_limits<std::uint64_t>::max();
  std::unique_ptr<ingest> reader;
  try {
    reader = std::make_unique<ingest>(iopts);
  } catch (const std::exception& e) {
    std::cerr << "chime-onboard " << opts.command << ": " << e.what() << "\n";
    return exit_usage;
  }

  if (opts.dry_run) {
    batch b;
    while (reader->next_batch(b)) {
    }
    summary s = input_summary(reader->stats());
    fill_outcomes(s, stats, std::chrono::steady_clock::now() - started);
    print_summary(s, opts.json_output, std::cout);
    return s.rejected_total ? exit_rejected_inputs : exit_ok;
  }

  std::unique_ptr<live_report> report;
  if (!opts.report_path.empty()) {
    try {
      report = std::make_unique<live_report>(opts.report_path, *reader);
    } catch (const std::exception& e) {
      std::cerr << "chime-onboard " << opts.command << ": --report: " << e.what() << "\n";
      return exit_usage;
    }
  }

  const int threads = opts.threads > 0 ? opts.threads
                                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  net::io_context ioc(threads);
  auto work = net::make_work_guard(ioc);

  engine::rate_limiter_config lcfg;
  lcfg.adaptive = opts.adaptive;
  lcfg.rate = opts.rate;
  lcfg.burst = opts.burst;
  engine::rate_gate gate(lcfg);
  signing::signer signer(*creds, opts.region, "chime");
  dispatcher disp(dcfg, signer, gate, jrnl.get(), stats,
                  [&](const work_item& item, const address_outcome& o) {
                    if (report) report->write(item, o);
                  });

  // Ingest on its own thread: reading (even a slow stdin) never blocks an io thread, and the
  // bounded queue keeps it from running far ahead of the senders.
  async_queue<work_batch> queue(static_cast<std::size_t>(opts.connections) * 4);
  if (exact_total) stats.total.store(*exact_total);
  std::atomic<bool> ingest_done{exact_total.has_value()};
  std::string ingest_failure;
  std::thread ingest_thread([&] {
    try {
      // Each batch is filled over one a sender has finished with, and moved to the senders.
      for (batch b = disp.spent_batch(); reader->next_batch(b); b = disp.spent_batch()) {
        if (!exact_total) bump(stats.total, b.items.size());
        if (!queue.push(std::move(b))) break;
      }
    } catch (const std::exception& e) {
      ingest_failure = e.what();
      disp.request_stop();
    }
    if (!exact_total) ingest_done.store(true);
    queue.close();
  });

  std::vector<std::unique_ptr<https_transport>> transports;
  io::connection_options copts;
  std::atomic<int> senders_left{opts.connections};
  progress_display progress(opts.progress, stats, std::cerr, isatty(STDERR_FILENO) != 0);
  net::steady_timer progress_timer(ioc);
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  net::steady_timer drain_timer(ioc);
  // control: serialises the signal handler with the end-of-run clean-up, both of which touch the
  // timers and the signal set (neither is safe to use from two threads at once).
  auto control = net::make_strand(ioc);
  bool interrupted = false;

  // When the last sender ends, everything else that keeps the io_context alive is released.
  auto on_sender_done = [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("sender stopped: {}", ex.what());
        disp.request_stop();
      }
    }
    if (--senders_left == 0) {
      net::post(control, [&] {
        progress_timer.cancel();
        drain_timer.cancel();
        boost::system::error_code ignored;
        signals.cancel(ignored);
        work.reset();
      });
    }
  };
  for (int i = 0; i < opts.connections; ++i) {
    net::any_io_executor ex = io::connection_executor(ioc, threads);
    transports.push_back(std::make_unique<https_transport>(ex, *ep.value, *tls, copts));
    disp.spawn_sender(ex, *transports.back(), queue, on_sender_done);
  }

  // Progress ticks until the last sender ends (on `control`, beside the clean-up that cancels it).
  net::co_spawn(control, [&]() -> net::awaitable<void> {
    for (;;) {
      progress.set_total_final(ingest_done.load());
      progress.tick(std::chrono::steady_clock::now());
      if (spdlog::should_log(spdlog::level::debug)) {
        auto l = gate.snapshot(iopts.account_id);
        spdlog::debug("limiter {}: rate {:.1f}/s w_max {:.1f} goodput {:.1f} in flight {}/{} "
                      "sent {} throttles {} cuts {}",
                      iopts.account_id, l.rate, l.w_max, l.goodput, l.in_flight, l.in_flight_cap,
                      l.sent, l.throttles, l.cuts);
      }
      progress_timer.expires_after(progress.interval());
      auto [ec] = co_await progress_timer.async_wait(net::as_tuple(net::use_awaitable));
      if (ec || senders_left.load() == 0) co_return;
    }
  }, net::detached);

  // First SIGINT/SIGTERM: stop taking batches, let exchanges in hand finish (bounded). Second:
  // make the journal durable and leave at once; its framing keeps it consistent either way.
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (interrupted) {
          std::cerr << "\nchime-onboard: second signal, stopping now\n";
          if (jrnl) jrnl->commit();
          std::_Exit(exit_interrupted);
        }
        interrupted = true;
        std::cerr << "\nchime-onboard: " << (sig == SIGINT ? "interrupted" : "terminated")
                  << "; finishing requests in flight (again to stop at once)\n";
        if (senders_left.load() == 0) return;  // the run is ending anyway
        // Armed before the stop is requested: the clean-up that cancels them runs on this strand
        // after the last sender ends, which may be moments after request_stop().
        drain_timer.expires_after(opts.drain_timeout);
        drain_timer.async_wait([&](const boost::system::error_code& e) {
          if (!e) ioc.stop();  // requests still in flight stay in doubt in the journal
        });
        signals.async_wait(net::bind_executor(control, on_signal));
        disp.request_stop();
        queue.close(/*discard=*/true);
      };
  signals.async_wait(net::bind_executor(control, on_signal));

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  // A run stopped by a fatal error or a signal must release a reader blocked on a full queue.
  queue.close(/*discard=*/true);
  ingest_thread.join();
  progress.set_total_final(ingest_done.load());
  progress.finish(std::chrono::steady_clock::now());

  int rc = exit_ok;
  if (jrnl) {
    try {
      jrnl->close();
    } catch (const std::exception& e) {
      std::cerr << "chime-onboard: " << e.what() << "\n";
      rc = exit_interrupted;
    }
  }
  if (report) report->close();

  summary s = input_summary(reader->stats());
  fill_outcomes(s, stats, std::chrono::steady_clock::now() - started);
  for (const auto& t : transports) s.reconnects += t->connection().stats().reconnects;
  print_summary(s, opts.json_output, std::cout);
  std::cerr << "journal: " << journal_path << "\n";
  if (!opts.report_path.empty()) std::cerr << "report:  " << opts.report_path << "\n";

  auto fatal = disp.fatal();
  if (fatal) {
    std::cerr << "chime-onboard " << opts.command << ": " << fatal->message << "\n";
    std::cerr << "fix the cause, then resume with:\n  " << resume_command(opts) << "\n";
    return fatal->exit_code;
  }
  if (!ingest_failure.empty()) {
    std::cerr << "chime-onboard " << opts.command << ": " << ingest_failure << "\n";
    return exit_usage;
  }
  if (interrupted || rc == exit_interrupted) {
    std::cerr << "interrupted; nothing is lost. Resume with:\n  " << resume_command(opts) << "\n";
    return exit_interrupted;
  }
  if (load(stats.failed) > 0) return exit_failed_addresses;
  if (s.rejected_total > 0) return exit_rejected_inputs;
  return exit_ok;
}

}  // namespace onboard
