// Secret leaks: the secret access key and the session token must never reach stdout, stderr, the
// log file (even at --log-level trace), the report, the rejects file or the journal, neither on a
// successful run nor on one the service refuses, nor from `report` / `status` afterwards.
#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace onboard::testkit;
using namespace std::chrono_literals;

constexpr const char* access_key = "AKIDLEAKTEST0000";
// Distinctive values, so a hit can only be a leak. (Both are valid for their headers/config.)
constexpr const char* secret_key = "Lk9sEcReT/zQ+leakcheck7vWq2XbN4mPa8dYhUfJ";
constexpr const char* wrong_secret = "WrOnGsEcReT/aa+leakcheck0000000000000000";
constexpr const char* session_token = "FwoGZXIvYXdzEleakcheckTOKEN//7c1e9b4d2a0f86e35";

child_process::options client_env(const temp_dir& home, const std::string& secret) {
  child_process::options o;
  o.env_set = {{"AWS_ACCESS_KEY_ID", access_key},
               {"AWS_SECRET_ACCESS_KEY", secret},
               {"AWS_SESSION_TOKEN", session_token},
               {"HOME", home.path().string()},
               {"AWS_CONFIG_FILE", (home / "no-config").string()},
               {"AWS_SHARED_CREDENTIALS_FILE", (home / "no-credentials").string()}};
  o.env_unset = {"AWS_PROFILE",      "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CHIME", "AWS_CA_BUNDLE",
                 "AWS_MAX_ATTEMPTS", "AWS_REGION",       "AWS_DEFAULT_REGION"};
  return o;
}

// needles: the whole secrets and a distinctive piece of each (a truncated or partly masked leak).
const std::vector<std::string>& needles() {
  static const std::vector<std::string> n = {secret_key,
                                             std::string(secret_key).substr(0, 12),
                                             std::string(secret_key).substr(20),
                                             wrong_secret,
                                             std::string(wrong_secret).substr(0, 12),
                                             session_token,
                                             std::string(session_token).substr(0, 14),
                                             std::string(session_token).substr(24)};
  return n;
}

void expect_no_secret(const std::string& what, const std::string& text) {
  for (const auto& s : needles()) {
    EXPECT_EQ(text.find(s), std::string::npos) << what << " contains secret material '" << s << "'";
  }
}

void expect_no_secret_in(const run_result& r, const std::string& what) {
  expect_no_secret(what + " stdout", r.out);
  expect_no_secret(what + " stderr", r.err);
}

// expect_no_secret_in_files: every regular file the runs wrote in `dir` (log, report, rejects,
// journal, ...), read as bytes.
void expect_no_secret_in_files(const fs::path& dir) {
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    ++files;
    expect_no_secret(e.path().string(), read_file(e.path()));
  }
  EXPECT_GE(files, 4);
}

TEST(secrets, never_written_anywhere_by_invite_report_or_status) {
  emulator_process emu({"--accounts", "acct-1", "--access-key", access_key, "--secret-key",
                        secret_key, "--session-token", session_token, "--seed", "3",
                        "--p-failed-invite", "0.2"});
  temp_dir home;
  temp_dir dir;
  write_file(dir / "users.txt",
             "alice@example.com\nBob@Example.org\nnot-an-address\ncarol@corp.example.com\n"
             "dave@example.com\n\"quoted\"@example.com\n");

  auto invite = [&](const std::string& secret, const std::string& tag) {
    return run({cli(),
                "invite",
                "--account-id",
                "acct-1",
                "--input",
                (dir / "users.txt").string(),
                "--endpoint-url",
                emu.url(),
                "--ca-bundle",
                emu.ca_path().string(),
                "--journal",
                (dir / (tag + ".journal")).string(),
                "--report",
                (dir / (tag + "-report.csv")).string(),
                "--rejects",
                (dir / (tag + "-rejects.csv")).string(),
                "--log-level",
                "trace",
                "--log-file",
                (dir / (tag + ".log")).string(),
                "--progress",
                "off",
                "--output",
                "json",
                "--yes"},
               client_env(home, secret), 2min);
  };

  // A run that works (rejected lines and failed invites: exit 3 or 4).
  auto ok = invite(secret_key, "ok");
  ASSERT_TRUE(ok.status == 0 || ok.status == 3 || ok.status == 4) << ok.status << "\n" << ok.err;
  EXPECT_GT(emu.stat("invites_applied"), 0u);
  ASSERT_TRUE(fs::exists(dir / "ok.log"));
  EXPECT_GT(fs::file_size(dir / "ok.log"), 0u);
  expect_no_secret_in(ok, "invite");

  // A run the service refuses: wrong secret (401 UnauthorizedClientException -> exit 6).
  auto bad = invite(wrong_secret, "bad");
  EXPECT_EQ(bad.status, 6) << bad.out << "\n" << bad.err;
  EXPECT_GT(emu.stat("auth_failures"), 0u);
  expect_no_secret_in(bad, "failed invite");

  // report and status afterwards, still with the credentials in the environment.
  for (const std::string tag : {"ok", "bad"}) {
    const auto journal = (dir / (tag + ".journal")).string();
    if (!fs::exists(journal)) continue;
    for (const std::string format : {"csv", "jsonl"}) {
      auto r = run({cli(), "report", "--journal", journal, "--format", format},
                   client_env(home, secret_key));
      EXPECT_TRUE(r.status == 0 || r.status == 4) << r.status << "\n" << r.err;
      expect_no_secret_in(r, tag + " report " + format);
    }
    for (const std::string format : {"text", "json"}) {
      auto r = run({cli(), "status", "--journal", journal, "--output", format},
                   client_env(home, secret_key));
      EXPECT_TRUE(r.status == 0 || r.status == 4 || r.status == 5) << r.status << "\n" << r.err;
      expect_no_secret_in(r, tag + " status " + format);
    }
  }
  EXPECT_EQ(emu.stop(), 0);
  expect_no_secret_in_files(dir.path());
}

}  // namespace
