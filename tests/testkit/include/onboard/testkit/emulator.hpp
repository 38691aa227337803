// onboard/testkit/emulator.hpp: the `chime-emulator` binary as a real child process for tests.
// Started on an ephemeral port with a generated CA written to a temporary folder; stopped with
// SIGTERM (which must give exit 0 and a flushed ledger).
//
//   onboard::testkit::emulator_process emu({"--accounts", "acct-1", "--seed", "7"},
//                                          onboard::testkit::emulator_process::with_ledger());
//   run_client(emu.url(), emu.ca_path());
//   EXPECT_EQ(emu.stat("invites_applied"), 3u);
//   EXPECT_EQ(emu.stop(), 0);
//   auto lines = onboard::testkit::read_file(emu.ledger_path());
//
// stats() fetches GET /_emulator/stats with /usr/bin/python3 (its ssl module), so this library
// stays free of Boost and OpenSSL.
#pragma once

#include <onboard/testkit/testkit.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onboard::testkit {

class emulator_process {
 public:
  struct options {
    bool ledger = false;  // pass --ledger <tmp>/ledger.tsv
    std::map<std::string, std::string> env_set;
    std::chrono::milliseconds start_timeout{20000};
  };

  // Starts `chime-emulator --listen 127.0.0.1:0 --write-ca <tmp>/ca.pem [--ledger ...] extra...`
  // and waits for its `listening on https://...` line. Throws std::runtime_error (with the
  // emulator's stderr) if it does not come up.
  static options with_ledger() {
    options o;
    o.ledger = true;
    return o;
  }

  explicit emulator_process(const std::vector<std::string>& extra_flags, const options& opts);
  explicit emulator_process(const std::vector<std::string>& extra_flags = {})
      : emulator_process(extra_flags, options{}) {}
  ~emulator_process();  // SIGTERM (then SIGKILL) if still running
  emulator_process(const emulator_process&) = delete;
  emulator_process& operator=(const emulator_process&) = delete;

  const std::string& url() const { return url_; }
  int port() const { return port_; }
  fs::path ca_path() const { return dir_.path() / "ca.pem"; }
  fs::path ledger_path() const { return dir_.path() / "ledger.tsv"; }  // with options::ledger
  const fs::path& dir() const { return dir_.path(); }

  // stats: the JSON of GET /_emulator/stats (throws on failure).
  std::string stats();
  // stat: one top-level counter ("invites_applied"), or a status count ("status.429").
  std::uint64_t stat(std::string_view name);

  // stop: SIGTERM, wait (20 s); the exit status (0 expected), or -1 on timeout (then killed).
  int stop();
  bool running() const { return !stopped_; }
  child_process& process() { return *proc_; }
  // stderr_text: what the emulator wrote on stderr so far (complete once stopped): the reason to
  // print when stop() is not 0.
  const std::string& stderr_text() const { return proc_->stderr_text(); }

 private:
  temp_dir dir_;
  std::unique_ptr<child_process> proc_;
  std::string url_;
  int port_ = 0;
  bool stopped_ = false;
};

// json_counter: a number from the stats JSON: a top-level key, or "status.NNN" for
// requests_by_status (0 when absent).
std::uint64_t json_counter(const std::string& stats_json, std::string_view name);

}  // namespace onboard::testkit
