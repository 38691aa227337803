// cli_env.hpp: what the process-level CLI tests (demo, progress, exit codes, AWS settings,
// report round trip) share: a clean environment (no AWS_* variable of the machine running the
// tests leaks in), the emulator's default keys, the `invite` command line against an
// emulator_process, and readers for the ledger, the report and JSON output.
// Processes themselves are testkit's (run(), child_process, emulator_process).
#pragma once

#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <boost/json.hpp>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

extern char** environ;

namespace onboard::testkit::cli_test {

inline constexpr const char* access_key = "AKIDEXAMPLE";
inline constexpr const char* secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// clean_env: HOME in `home` (so no ~/.aws of the machine is read, and default journals go to
// `home`/.local/state/chime-onboard, not to the machine's state folder) and every AWS_* and
// CHIME_ONBOARD_* variable, XDG_STATE_HOME and XDG_CONFIG_HOME of this process removed, the
// instance metadata service turned off: whatever the child sees is what the test sets.
inline child_process::options clean_env(const fs::path& home) {
  child_process::options o;
  o.env_set["HOME"] = home.string();
  o.env_unset.push_back("XDG_STATE_HOME");
  o.env_unset.push_back("XDG_CONFIG_HOME");
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string name = kv.substr(0, kv.find('='));
    if (name.rfind("AWS_", 0) == 0 || name.rfind("CHIME_ONBOARD_", 0) == 0)
      o.env_unset.push_back(name);
  }
  // Nor may a test that finds no credentials ask a real instance metadata service (and wait
  // for its timeouts off EC2).
  o.env_set["AWS_EC2_METADATA_DISABLED"] = "true";
  return o;
}

// client_env: clean_env plus the emulator's default keys in the environment.
inline child_process::options client_env(const fs::path& home) {
  auto o = clean_env(home);
  o.env_set["AWS_ACCESS_KEY_ID"] = access_key;
  o.env_set["AWS_SECRET_ACCESS_KEY"] = secret_key;
  return o;
}

// invite_argv: `chime-onboard invite` against `emu` for account acct-1, journal and report in
// `dir`, no progress, JSON summary; `extra` appended.
inline std::vector<std::string> invite_argv(const emulator_process& emu, const fs::path& input,
                                            const fs::path& dir,
                                            std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {cli(),
                                   "invite",
                                   "--account-id",
                                   "acct-1",
                                   "--input",
                                   input.string(),
                                   "--endpoint-url",
                                   emu.url(),
                                   "--ca-bundle",
                                   emu.ca_path().string(),
                                   "--journal",
                                   (dir / "run.journal").string(),
                                   "--report",
                                   (dir / "report.csv").string(),
                                   "--progress",
                                   "off",
                                   "--output",
                                   "json",
                                   "--yes"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// create_users_argv: invite_argv's command line for `create-users`.
inline std::vector<std::string> create_users_argv(const emulator_process& emu,
                                                  const fs::path& input, const fs::path& dir,
                                                  std::vector<std::string> extra = {}) {
  auto argv = invite_argv(emu, input, dir, std::move(extra));
  argv[1] = "create-users";
  return argv;
}

// check_argv: `chime-onboard check` against `emu` for `account`; `extra` appended.
inline std::vector<std::string> check_argv(const emulator_process& emu, const std::string& account,
                                           std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {
      cli(),     "check",       "--account-id",        account, "--endpoint-url",
      emu.url(), "--ca-bundle", emu.ca_path().string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// numbered_addresses: `n` distinct valid addresses, one a line.
inline std::string numbered_addresses(std::size_t n, const std::string& prefix = "user") {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += prefix + std::to_string(i) + "@example.com\n";
  return s;
}

// ledger_counts: address -> times applied, for one operation ("invite"), from an emulator ledger
// (op TAB account TAB address).
inline std::map<std::string, int> ledger_counts(const fs::path& ledger,
                                                std::string_view op = "invite") {
  std::map<std::string, int> m;
  std::istringstream in(read_file(ledger));
  std::string line;
  while (std::getline(in, line)) {
    auto t1 = line.find('\t'), t2 = line.rfind('\t');
    if (t1 == std::string::npos || line.substr(0, t1) != op) continue;
    ++m[line.substr(t2 + 1)];
  }
  return m;
}

// csv_lines: the lines of a file after its header.
inline std::vector<std::string> csv_lines(const fs::path& p) {
  std::vector<std::string> v;
  std::istringstream in(read_file(p));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(line);
  return v;
}

// file_mode: permission bits, or -1 when the file does not exist.
inline int file_mode(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 0777);
}

// parse_json_object: the object on `text` (one JSON document), or an empty optional.
inline std::optional<boost::json::object> parse_json_object(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

// u64: an unsigned counter of a JSON object (throws when absent or not a number).
inline std::uint64_t u64(const boost::json::object& o, std::string_view key) {
  return boost::json::value_to<std::uint64_t>(o.at(key));
}

inline bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace onboard::testkit::cli_test
