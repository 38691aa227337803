// The generated references, checked with the tools that read them: man renders the page without
// warnings, bash completes from the script, zsh parses it; the unknown-command hint; the
// environment and config file reaching a real process.
#include "cli_env.hpp"

#include <gtest/gtest.h>

namespace onboard::testkit::cli_test {
namespace {

fs::path generated(const std::string& rel) { return fs::path(ONBOARD_BINARY_DIR) / "share" / rel; }

TEST(reference, the_man_page_renders_with_man_and_groff_without_warnings) {
  auto page = generated("man/man1/chime-onboard.1");
  ASSERT_TRUE(fs::exists(page)) << page;
  auto child = clean_env(temp_dir().path());
  child.env_set["MANWIDTH"] = "100";
  child.env_set["MANPAGER"] = "cat";
  child.env_set["PAGER"] = "cat";
  auto man = run({"/usr/bin/man", "-l", page.string()}, child);
  ASSERT_EQ(man.status, 0) << man.err;
  for (const char* s : {"NAME", "SYNOPSIS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT",
                        "chime-onboard invite [options]", "--account-id", "CHIME_ONBOARD_CONFIG"})
    EXPECT_NE(man.out.find(s), std::string::npos) << s;
  auto groff = run({"/usr/bin/groff", "-man", "-Tutf8", "-ww", "-z", page.string()}, child);
  EXPECT_EQ(groff.status, 0);
  EXPECT_EQ(groff.err, "");
  // It is what the binary prints now: the build regenerates it whenever the binary changes.
  EXPECT_EQ(read_file(page), run({cli(), "man"}).out);
}

TEST(reference, bash_completes_commands_and_each_commands_own_options) {
  auto script = generated("bash-completion/completions/chime-onboard");
  ASSERT_TRUE(fs::exists(script)) << script;
  auto complete = [&](const std::string& words, int cword) {
    std::string cmd = "source '" + script.string() + "'; COMP_WORDS=(" + words +
                      "); COMP_CWORD=" + std::to_string(cword) +
                      "; _chime_onboard; printf '%s\\n' \"${COMPREPLY[@]}\"";
    auto r = run({"/bin/bash", "--norc", "-c", cmd}, clean_env(temp_dir().path()));
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  };
  EXPECT_EQ(complete("chime-onboard invite --acc", 2), "--account-id\n");
  EXPECT_EQ(complete("chime-onboard sign --acc", 2), "--access-key\n");
  EXPECT_EQ(complete("chime-onboard inv", 1), "invite\n");
  EXPECT_EQ(complete("chime-onboard journal r", 2), "repair\n");
  EXPECT_EQ(complete("chime-onboard journal repair --jo", 3), "--journal\n");
}

TEST(reference, zsh_parses_the_completion_and_it_names_every_invite_option) {
  auto script = generated("zsh/vendor-completions/_chime-onboard");
  ASSERT_TRUE(fs::exists(script)) << script;
  auto r = run({"/usr/bin/zsh", "-n", script.string()}, clean_env(temp_dir().path()));
  EXPECT_EQ(r.status, 0) << r.err;
  std::string text = read_file(script);
  auto help = run({cli(), "invite", "--help"}).out;
  std::size_t named = 0;
  for (std::size_t at = 0; (at = help.find("  --", at)) != std::string::npos; ++at) {
    std::string name = help.substr(at + 4, help.find_first_of(" \n", at + 4) - at - 4);
    ++named;
    // A repeatable option is spelt '*--name' (zsh offers it again).
    EXPECT_TRUE(text.find("'--" + name) != std::string::npos ||
                text.find("'*--" + name) != std::string::npos)
        << name;
  }
  EXPECT_GT(named, 20u);
}

TEST(reference, an_unknown_command_or_flag_suggests_the_nearest) {
  auto r = run({cli(), "invitee"}, clean_env(temp_dir().path()));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("did you mean 'invite'?"), std::string::npos) << r.err;
  r = run({cli(), "plan", "--input", "x", "--emial-column", "e"}, clean_env(temp_dir().path()));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("did you mean '--email-column'?"), std::string::npos) << r.err;
}

TEST(reference, a_run_reads_its_flags_from_the_environment_and_the_config_file) {
  temp_dir home;
  fs::create_directories(home / ".config/chime-onboard");
  write_file(home / "list.txt", "a@example.com\nb@example.com\nc@example.com\n");
  write_file(home / ".config/chime-onboard/config",
             "[plan]\ninput = " + (home / "list.txt").string() + "\noutput = json\n");
  auto env = clean_env(home.path());
  env.env_set["CHIME_ONBOARD_RATE"] = "0.5";
  auto r = run({cli(), "plan"}, env);
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = boost::json::parse(r.out).as_object();
  EXPECT_EQ(j.at("accepted").to_number<std::int64_t>(), 3) << r.out;
  EXPECT_EQ(j.at("rate").to_number<double>(), 0.5) << r.out;
  auto shown = run({cli(), "plan", "--show-config"}, env);
  EXPECT_EQ(shown.status, 0) << shown.err;
  EXPECT_NE(shown.out.find("--rate 0.5"), std::string::npos) << shown.out;
  EXPECT_NE(
      shown.out.find("config file " + (home / ".config/chime-onboard/config").string() + " line 2"),
      std::string::npos)
      << shown.out;
}

}  // namespace
}  // namespace onboard::testkit::cli_test
