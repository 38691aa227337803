// The parser's contract beyond the command line: the environment and the config file fill what
// the command line left unset, in that order; bad values name where they came from; typos get
// the nearest name; --help is grouped.
#include <onboard/cli/cli_args.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <cstdlib>

namespace onboard::cli {
namespace {

namespace tk = onboard::testkit;

// settings_env: CHIME_ONBOARD_* and the config file as a test sets them, restored afterwards.
class settings_env : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"CHIME_ONBOARD_RATE", "CHIME_ONBOARD_CONNECTIONS", "CHIME_ONBOARD_YES",
                          "CHIME_ONBOARD_INPUT", "CHIME_ONBOARD_CONFIG", "XDG_CONFIG_HOME"})
      ::unsetenv(v);
    ::setenv("HOME", dir_.path().c_str(), 1);
  }
  void config(const std::string& text) {
    tk::write_file(dir_ / "config", text);
    ::setenv("CHIME_ONBOARD_CONFIG", (dir_ / "config").c_str(), 1);
  }
  tk::temp_dir dir_;
};

struct invite_like {
  parser p{"invite", "test", ""};
  option& rate = p.add_value("rate", "R", "rate", "0");
  option& connections = p.add_value("connections", "N", "connections", "8");
  option& input = p.add_list("input", "FILE", "inputs");
  option& yes = p.add_flag("yes", "yes");
  invite_like() { yes.file_allowed = false; }
};

TEST_F(settings_env, the_command_line_beats_the_environment_which_beats_the_file) {
  config("rate = 5\nconnections = 3\ninput = from-file.csv\n");
  ::setenv("CHIME_ONBOARD_RATE", "7", 1);
  ::setenv("CHIME_ONBOARD_CONNECTIONS", "4", 1);
  invite_like a;
  ASSERT_EQ(a.p.parse({"--connections", "2"}), std::nullopt);
  EXPECT_EQ(a.connections.value(), "2");
  EXPECT_EQ(a.connections.source, value_source::command_line);
  EXPECT_EQ(a.rate.value(), "7");
  EXPECT_EQ(a.rate.source, value_source::environment);
  EXPECT_EQ(a.rate.source_detail, "CHIME_ONBOARD_RATE");
  EXPECT_EQ(a.input.values, std::vector<std::string>{"from-file.csv"});
  EXPECT_EQ(a.input.source, value_source::config_file);
  EXPECT_EQ(a.input.source_detail, (dir_ / "config").string() + " line 3");
}

TEST_F(settings_env, a_list_from_the_command_line_replaces_the_files_instead_of_adding_to_it) {
  config("input = a.csv\ninput = b.csv\n");
  invite_like from_file;
  ASSERT_EQ(from_file.p.parse({}), std::nullopt);
  EXPECT_EQ(from_file.input.values, (std::vector<std::string>{"a.csv", "b.csv"}));
  invite_like given;
  ASSERT_EQ(given.p.parse({"--input", "c.csv"}), std::nullopt);
  EXPECT_EQ(given.input.values, std::vector<std::string>{"c.csv"});
}

TEST_F(settings_env,
       the_commands_own_section_beats_the_shared_lines_and_other_sections_are_ignored) {
  config("# shared\nrate = 5\n[plan]\nrate = 9\nunknown-to-invite = x\n[invite]\nrate = 6\n");
  invite_like a;
  ASSERT_EQ(a.p.parse({}), std::nullopt);
  EXPECT_EQ(a.rate.value(), "6");
  EXPECT_EQ(a.rate.source_detail, (dir_ / "config").string() + " line 7");
}

TEST_F(settings_env, a_typo_in_the_commands_section_is_an_error_naming_the_line_and_the_nearest) {
  config("[invite]\nconections = 3\n");
  invite_like a;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(a.p.parse({}), 2);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("line 2"), std::string::npos) << err;
  EXPECT_NE(err.find("did you mean '--connections'?"), std::string::npos) << err;
}

TEST_F(settings_env, yes_may_come_from_the_environment_but_never_from_the_file) {
  ::setenv("CHIME_ONBOARD_YES", "true", 1);
  invite_like from_env;
  ASSERT_EQ(from_env.p.parse({}), std::nullopt);
  EXPECT_TRUE(from_env.yes.given());
  ::unsetenv("CHIME_ONBOARD_YES");

  config("yes = true\n");
  invite_like from_file;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(from_file.p.parse({}), 2);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("cannot be set in the config file"), std::string::npos) << err;
  EXPECT_FALSE(from_file.yes.given());
}

TEST_F(settings_env, a_bad_value_names_the_variable_it_came_from) {
  ::setenv("CHIME_ONBOARD_RATE", "fast", 1);
  invite_like a;
  ASSERT_EQ(a.p.parse({}), std::nullopt);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(a.p.number(a.rate, 0, 1e9), std::nullopt);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("'--rate' (from CHIME_ONBOARD_RATE): 'fast'"), std::string::npos) << err;

  ::setenv("CHIME_ONBOARD_YES", "maybe", 1);
  invite_like b;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(b.p.parse({}), 2);
  err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("CHIME_ONBOARD_YES: 'maybe' is not a yes/no value"), std::string::npos) << err;
}

TEST_F(settings_env, a_named_config_file_must_exist_and_malformed_lines_are_errors) {
  ::setenv("CHIME_ONBOARD_CONFIG", (dir_ / "absent").c_str(), 1);
  invite_like a;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(a.p.parse({}), 2);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("CHIME_ONBOARD_CONFIG"),
            std::string::npos);

  config("rate 5\n");
  invite_like b;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(b.p.parse({}), 2);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("line 1: expected 'name = value'"),
            std::string::npos);
}

TEST_F(settings_env, without_a_config_file_the_defaults_hold) {
  invite_like a;
  ASSERT_EQ(a.p.parse({}), std::nullopt);
  EXPECT_EQ(a.rate.value(), "0");
  EXPECT_EQ(a.rate.source, value_source::default_value);
}

TEST_F(settings_env, show_config_lists_each_non_default_value_with_its_source) {
  config("connections = 3\n");
  ::setenv("CHIME_ONBOARD_RATE", "7", 1);
  invite_like a;
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(a.p.parse({"--show-config", "--input", "x.csv"}), 0);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("--rate 7"), std::string::npos) << out;
  EXPECT_NE(out.find("environment CHIME_ONBOARD_RATE"), std::string::npos) << out;
  EXPECT_NE(out.find("--connections 3"), std::string::npos) << out;
  EXPECT_NE(out.find("config file " + (dir_ / "config").string() + " line 1"), std::string::npos)
      << out;
  EXPECT_NE(out.find("--input x.csv"), std::string::npos) << out;
  EXPECT_EQ(out.find("--yes"), std::string::npos) << out;
}

TEST(closest, suggests_near_typos_and_unique_prefixes_but_not_unrelated_words) {
  std::vector<std::string> names{"account-id", "access-key", "connections", "input", "report"};
  EXPECT_EQ(closest("acount-id", names), "account-id");
  EXPECT_EQ(closest("account-di", names), "account-id");  // a transposition is one typo
  EXPECT_EQ(closest("conn", names), "connections");
  EXPECT_EQ(closest("inptu", names), "input");
  EXPECT_EQ(closest("acc", names), std::nullopt);  // two options start with it
  EXPECT_EQ(closest("zebra", names), std::nullopt);
}

TEST(parser_help, options_are_listed_under_their_groups_in_declaration_order) {
  parser p{"invite", "test", ""};
  p.group("input");
  p.add_list("input", "FILE", "inputs");
  p.group("pacing");
  p.add_value("rate", "R", "rate", "0");
  p.group("input");
  p.add_value("email-column", "NAME", "column", "email");
  std::string h = p.help_text();
  auto input = h.find("\ninput:\n"), pacing = h.find("\npacing:\n"),
       general = h.find("\ngeneral:\n");
  ASSERT_NE(input, std::string::npos) << h;
  ASSERT_NE(pacing, std::string::npos) << h;
  ASSERT_NE(general, std::string::npos) << h;
  EXPECT_LT(input, h.find("--email-column"));
  EXPECT_LT(h.find("--email-column"), pacing);
  EXPECT_LT(pacing, general);
  EXPECT_GT(h.find("--help"), general);
}

TEST(parser_describe, the_sink_receives_the_table_and_nothing_is_parsed) {
  std::vector<std::string> seen;
  parser::set_describe_sink([&](const parser& p) {
    for (const auto& o : p.options()) seen.push_back(o.name);
  });
  parser p{"x", "test", ""};
  auto& rate = p.add_value("rate", "R", "rate", "0");
  auto rc = p.parse({"--no-such-flag"});
  parser::set_describe_sink(nullptr);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(seen, (std::vector<std::string>{"help", "show-config", "rate"}));
  EXPECT_FALSE(rate.given());
}

}  // namespace
}  // namespace onboard::cli
