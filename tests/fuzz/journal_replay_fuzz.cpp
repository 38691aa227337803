// fuzz_journal_replay: replay_journal on arbitrary file contents. It must throw journal_error or
// return a state whose accessors (status, report, lookups) all work; never crash or hang.
#include "fuzz_common.hpp"

#include <onboard/cli/journal_views.hpp>
#include <onboard/journal/journal.hpp>
#include <onboard/cli/report_writer.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}

const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    auto d =
        std::filesystem::temp_directory_path() / ("fuzz_journal_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = work_dir() / "run.journal";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    auto s = onboard::replay_journal(path);
    check(s.valid_bytes() + s.bad_bytes() <= size);
    const auto n = s.size();
    for (std::size_t i = 0; i < n; ++i) {
      auto a = s.at(i);
      auto found = s.find(a.email);
      check(found.has_value());
      (void)s.outcome_at(i);
    }
    (void)s.find("someone@example.com");
    (void)onboard::status_text(s, 1'700'000'000'000);
    (void)onboard::status_json(s);
    std::size_t report_bytes = 0;
    onboard::report_writer w([&](std::string_view chunk) { report_bytes += chunk.size(); },
                             onboard::report_format::csv);
    const auto rows = onboard::write_report(s, w, false);
    w.finish();
    check(rows <= n);
    (void)s.rate_per_second();
    (void)s.active_seconds();
  } catch (const onboard::journal_error&) {
  }
  return 0;
}
