// journal_bench.cpp: how fast the journal replays and appends.
//
//   (a) replay: write a journal of N addresses (batches of 50: one intent + one outcome record
//       each, realistic ids), then replay it 5 times; prints each time and the median
//       (target: 1,000,000 addresses in <= 0.5 s).
//   (b) append: W writer threads, each looping intent -> wait durable -> outcomes, for
//       durability off / batched / strict; prints batches/s, addresses/s.
//
//   bench_journal --addresses 1000000 --threads 4 --seconds 3 --dir /var/tmp [--max-delay-ms 20]
#include <onboard/journal/journal.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace onboard;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

// cpu_seconds: this process's CPU time: meaningful when other builds share the cores.
double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::string uuid_like(std::uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-4f2a-4c1b-9d3e-%012llx",
                static_cast<unsigned long long>(n * 2654435761u % 0xFFFFFFFFu),
                static_cast<unsigned long long>(n));
  return buf;
}

std::vector<std::string> batch_emails(std::uint64_t batch, int per) {
  std::vector<std::string> v;
  v.reserve(static_cast<std::size_t>(per));
  for (int i = 0; i < per; ++i)
    v.push_back("first.last" + std::to_string(batch * 50 + static_cast<std::uint64_t>(i)) +
                "@example-corp.com");
  return v;
}

std::vector<address_outcome> batch_outcomes(std::uint64_t batch,
                                            const std::vector<std::string>& e) {
  std::vector<address_outcome> out(e.size());
  std::string request_id = uuid_like(batch + 7'000'000'000ULL);
  for (std::size_t i = 0; i < e.size(); ++i) {
    out[i].email = e[i];
    out[i].kind = outcome_kind::invited;
    out[i].id = uuid_like(batch * 50 + i);
    out[i].status = "Pending";
    out[i].email_status = "Sent";
    out[i].request_id = request_id;
    out[i].attempts = 1;
  }
  return out;
}

journal_header bench_header() {
  journal_header h;
  h.account_id = "12a3456b-7c89-012d-3456-78901e23fg45";
  h.type = user_type::private_user;
  return h;
}

void replay_bench(const fs::path& dir, std::uint64_t addresses) {
  auto path = dir / "bench-replay.journal";
  fs::remove(path);
  const std::uint64_t batches = addresses / 50;
  auto t0 = clock_type::now();
  {
    journal_options o;
    o.mode = durability::off;
    auto j = journal::open(path, bench_header(), o);
    for (std::uint64_t b = 0; b < batches; ++b) {
      auto e = batch_emails(b, 50);
      j->record_intent(b, e);
      j->record_outcomes(b, batch_outcomes(b, e));
    }
    j->close();
  }
  std::printf("(a) wrote %llu addresses (%llu batches) in %.2f s: %s, %.1f MB\n",
              static_cast<unsigned long long>(batches * 50),
              static_cast<unsigned long long>(batches), seconds_since(t0), path.c_str(),
              static_cast<double>(fs::file_size(path)) / 1e6);
  std::vector<double> times, cpu;
  for (int run = 0; run < 5; ++run) {
    auto t = clock_type::now();
    double c = cpu_seconds();
    auto s = replay_journal(path);
    double took = seconds_since(t);
    times.push_back(took);
    cpu.push_back(cpu_seconds() - c);
    std::printf(
        "    replay %d: %.3f s wall, %.3f s cpu  (%llu addresses, %llu invited, %llu in doubt)\n",
        run + 1, took, cpu.back(), static_cast<unsigned long long>(s.size()),
        static_cast<unsigned long long>(s.counts().invited),
        static_cast<unsigned long long>(s.counts().in_doubt));
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu.begin(), cpu.end());
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "    replay median of 5: %.3f s wall, %.3f s cpu (target <= 0.5 s); max RSS %.0f MB "
      "(includes the mapped file)\n",
      times[2], cpu[2], static_cast<double>(ru.ru_maxrss) / 1024.0);
  if (!std::getenv("BENCH_JOURNAL_KEEP")) fs::remove(path);
}

void append_bench(const fs::path& dir, durability mode, int threads, double seconds,
                  int max_delay_ms) {
  auto path = dir / "bench-append.journal";
  fs::remove(path);
  journal_options o;
  o.mode = mode;
  o.max_delay = std::chrono::milliseconds(max_delay_ms);
  auto j = journal::open(path, bench_header(), o);
  std::atomic<std::uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::vector<double> intent_wait_us;
  std::vector<std::thread> ts;
  std::vector<std::vector<double>> waits(static_cast<std::size_t>(threads));
  auto t0 = clock_type::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (std::uint64_t b = static_cast<std::uint64_t>(t) << 40; !stop; ++b) {
        auto e = batch_emails(b, 50);
        auto w = clock_type::now();
        j->wait_durable(j->record_intent(b, e));  // the dispatcher awaits this before sending
        waits[static_cast<std::size_t>(t)].push_back(seconds_since(w) * 1e6);
        j->record_outcomes(b, batch_outcomes(b, e));
        ++done;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : ts) t.join();
  j->close();
  double took = seconds_since(t0);
  for (auto& w : waits) intent_wait_us.insert(intent_wait_us.end(), w.begin(), w.end());
  std::sort(intent_wait_us.begin(), intent_wait_us.end());
  auto pct = [&](double p) {
    return intent_wait_us.empty() ? 0.0
                                  : intent_wait_us[static_cast<std::size_t>(
                                        p * static_cast<double>(intent_wait_us.size() - 1))];
  };
  double b = static_cast<double>(done.load());
  std::printf(
      "(b) %-7s %d threads: %9.0f batches/s %11.0f addresses/s   intent durable wait "
      "p50 %7.0f us  p99 %7.0f us\n",
      std::string(to_string(mode)).c_str(), threads, b / took, b * 50 / took, pct(0.5), pct(0.99));
  fs::remove(path);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t addresses = 1'000'000;
  int threads = 4;
  double seconds = 3;
  int max_delay_ms = 20;
  bool skip_replay = false;
  fs::path dir = fs::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--addresses")
      addresses = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (a == "--seconds")
      seconds = std::atof(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else if (a == "--max-delay-ms")
      max_delay_ms = std::atoi(argv[i + 1]);
    else if (a == "--skip-replay")
      skip_replay = std::atoi(argv[i + 1]) != 0;
    else {
      std::fprintf(stderr,
                   "usage: bench_journal [--addresses N] [--threads W] [--seconds S] [--dir D] "
                   "[--max-delay-ms M] [--skip-replay 1]\n");
      return 2;
    }
  }
  std::printf("journal bench: dir %s, %u cores\n", dir.c_str(),
              std::thread::hardware_concurrency());
  if (!skip_replay) replay_bench(dir, addresses);
  for (auto mode : {durability::off, durability::batched, durability::strict})
    append_bench(dir, mode, threads, seconds, max_delay_ms);
  return 0;
}
