// credentials_test.cpp: the AWS CLI credential chain against temporary HOME folders.
#include <onboard/signing/credentials.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

namespace {

namespace sg = onboard::signing;
using onboard::testkit::temp_dir;
using onboard::testkit::write_file;

const std::string env_secret = "ENVSECRETxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
const std::string cred_secret = "CREDFILESECRETyyyyyyyyyyyyyyyyyyyyyyyyyy";
const std::string cfg_secret = "CONFIGSECRETzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
const std::string proc_secret = "PROCESSSECRETwwwwwwwwwwwwwwwwwwwwwwwwwww";

// home: a temporary HOME with ~/.aws/credentials and ~/.aws/config.
struct home {
  temp_dir dir;
  home(const std::string& credentials, const std::string& config) {
    std::filesystem::create_directories(dir.path() / ".aws");
    if (!credentials.empty()) write_file(dir.path() / ".aws/credentials", credentials);
    if (!config.empty()) write_file(dir.path() / ".aws/config", config);
  }
  std::map<std::string, std::string> env(std::map<std::string, std::string> extra = {}) const {
    extra["HOME"] = dir.path().string();
    return extra;
  }
  std::string script(const std::string& name, const std::string& body) const {
    auto p = dir.path() / name;
    write_file(p, "#!/bin/sh\n" + body);
    chmod(p.c_str(), 0755);
    return p.string();
  }
};

const std::string standard_credentials =
    "# comment\n"
    "[default]\n"
    "aws_access_key_id = AKIDCREDDEFAULT\n"
    "aws_secret_access_key=" +
    cred_secret +
    "\n"
    "\n"
    "; another comment\n"
    "[work]\n"
    "  aws_access_key_id   =   AKIDCREDWORK  \n"
    "aws_secret_access_key = " +
    cred_secret +
    "\n"
    "aws_session_token = TOKENWORK\n";

const std::string standard_config =
    "[default]\n"
    "region = us-east-1\n"
    "[profile work]\n"
    "region = eu-west-1\n"
    "aws_access_key_id = AKIDCONFIGWORK\n"
    "aws_secret_access_key = " +
    cfg_secret +
    "\n"
    "[profile cfgonly]\n"
    "aws_access_key_id = AKIDCONFIGONLY\n"
    "aws_secret_access_key = " +
    cfg_secret +
    "\n"
    "chime =\n"
    "    endpoint_url = https://127.0.0.1:18443\n"
    "    max_attempts = 3\n"
    "output = json\n";

sg::resolve_options with_profile(std::string profile) {
  sg::resolve_options o;
  o.profile = std::move(profile);
  return o;
}

sg::resolve_options explicit_keys(std::string id, std::string secret, std::string token) {
  sg::resolve_options o;
  o.access_key_id = std::move(id);
  o.secret_access_key = std::move(secret);
  o.session_token = std::move(token);
  return o;
}

sg::resolve_result resolve(const home& h, std::map<std::string, std::string> env,
                           sg::resolve_options opts = {}) {
  return sg::resolve_credentials(opts, sg::map_environment(h.env(std::move(env))));
}

void expect_no_secret(const std::string& message) {
  for (const auto& s : {env_secret, cred_secret, cfg_secret, proc_secret})
    EXPECT_EQ(message.find(s), std::string::npos) << message;
}

TEST(credentials, explicit_keys_win) {
  home h(standard_credentials, standard_config);
  auto r = resolve(h, {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", env_secret}},
                   explicit_keys("AKIDFLAG", "s", "t"));
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "AKIDFLAG");
  EXPECT_EQ(r->session_token.reveal(), "t");
  auto half = resolve(h, {}, explicit_keys("AKIDFLAG", "", ""));
  EXPECT_FALSE(half);
}

TEST(credentials, environment_over_files) {
  home h(standard_credentials, standard_config);
  auto r = resolve(h, {{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                       {"AWS_SECRET_ACCESS_KEY", env_secret},
                       {"AWS_SESSION_TOKEN", "ENVTOKEN"}});
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "AKIDENV");
  EXPECT_EQ(r->secret_access_key.reveal(), env_secret);
  EXPECT_EQ(r->session_token.reveal(), "ENVTOKEN");
  EXPECT_EQ(r->source, "environment");
  // AWS_PROFILE does not override environment keys (as the AWS CLI).
  auto p = resolve(h, {{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                       {"AWS_SECRET_ACCESS_KEY", env_secret},
                       {"AWS_PROFILE", "work"}});
  ASSERT_TRUE(p) << p.error;
  EXPECT_EQ(p->access_key_id, "AKIDENV");
}

TEST(credentials, partial_environment_is_an_error) {
  home h(standard_credentials, standard_config);
  auto r = resolve(h, {{"AWS_ACCESS_KEY_ID", "AKIDENV"}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << r.error;
}

TEST(credentials, profile_flag_selects_the_profile_even_over_environment_keys) {
  home h(standard_credentials, standard_config);
  auto r = resolve(h, {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", env_secret}},
                   with_profile("work"));
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "AKIDCREDWORK");  // credentials file before config file
  EXPECT_EQ(r->session_token.reveal(), "TOKENWORK");
  EXPECT_NE(r->source.find("work"), std::string::npos);
}

TEST(credentials, profile_flag_over_aws_profile_over_default_profile) {
  home h(standard_credentials, standard_config);
  EXPECT_EQ(sg::profile_name("flag", sg::map_environment({{"AWS_PROFILE", "env"}})), "flag");
  EXPECT_EQ(sg::profile_name(
                "", sg::map_environment({{"AWS_PROFILE", "env"}, {"AWS_DEFAULT_PROFILE", "d"}})),
            "env");
  EXPECT_EQ(sg::profile_name("", sg::map_environment({{"AWS_DEFAULT_PROFILE", "d"}})), "d");
  EXPECT_EQ(sg::profile_name("", sg::map_environment({})), "default");

  auto by_env = resolve(h, {{"AWS_PROFILE", "work"}});
  ASSERT_TRUE(by_env) << by_env.error;
  EXPECT_EQ(by_env->access_key_id, "AKIDCREDWORK");
  auto by_flag = resolve(h, {{"AWS_PROFILE", "work"}}, with_profile("cfgonly"));
  ASSERT_TRUE(by_flag) << by_flag.error;
  EXPECT_EQ(by_flag->access_key_id, "AKIDCONFIGONLY");
  auto by_default = resolve(h, {});
  ASSERT_TRUE(by_default) << by_default.error;
  EXPECT_EQ(by_default->access_key_id, "AKIDCREDDEFAULT");
}

TEST(credentials, config_profile_section_holds_static_keys) {
  home h("", standard_config);
  auto r = resolve(h, {}, with_profile("work"));
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "AKIDCONFIGWORK");  // `[profile work]`, no credentials file
  EXPECT_EQ(r->secret_access_key.reveal(), cfg_secret);
}

TEST(credentials, file_locations_from_environment) {
  home h("", "");
  temp_dir other;
  write_file(other.path() / "creds.ini",
             "[alt]\naws_access_key_id=AKIDALT\naws_secret_access_key=" + cred_secret + "\n");
  write_file(other.path() / "config.ini",
             "[profile alt2]\naws_access_key_id=AKIDALT2\naws_secret_access_key=" + cfg_secret +
                 "\nregion = ap-south-1\n");
  std::map<std::string, std::string> env{
      {"AWS_SHARED_CREDENTIALS_FILE", (other.path() / "creds.ini").string()},
      {"AWS_CONFIG_FILE", (other.path() / "config.ini").string()}};
  auto a = resolve(h, env, with_profile("alt"));
  ASSERT_TRUE(a) << a.error;
  EXPECT_EQ(a->access_key_id, "AKIDALT");
  auto b = resolve(h, env, with_profile("alt2"));
  ASSERT_TRUE(b) << b.error;
  EXPECT_EQ(b->access_key_id, "AKIDALT2");
  EXPECT_EQ(sg::config_value("alt2", "region", sg::map_environment(h.env(env))), "ap-south-1");
}

TEST(credentials, unknown_profile_is_named) {
  home h(standard_credentials, standard_config);
  auto r = resolve(h, {}, with_profile("nosuch"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("'nosuch'"), std::string::npos) << r.error;
  auto e = resolve(h, {{"AWS_PROFILE", "nosuch2"}});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error.find("'nosuch2'"), std::string::npos) << e.error;
}

TEST(credentials, nothing_found_says_what_was_tried) {
  home h("", "");
  auto r = resolve(h, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find(".aws/credentials"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(".aws/config"), std::string::npos) << r.error;
}

TEST(credentials, half_keys_in_a_file_name_the_file_not_the_secret) {
  home h("[default]\naws_secret_access_key = " + cred_secret + "\n", "");
  auto r = resolve(h, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("credentials"), std::string::npos) << r.error;
  expect_no_secret(r.error);
}

TEST(credentials, config_value_reads_nested_sections) {
  home h("", standard_config);
  auto env = sg::map_environment(h.env());
  EXPECT_EQ(sg::config_value("cfgonly", "chime.endpoint_url", env), "https://127.0.0.1:18443");
  EXPECT_EQ(sg::config_value("cfgonly", "chime.max_attempts", env), "3");
  EXPECT_EQ(sg::config_value("cfgonly", "output", env), "json");  // nesting ended
  EXPECT_EQ(sg::config_value("default", "region", env), "us-east-1");
  EXPECT_EQ(sg::config_value("work", "region", env), "eu-west-1");
  EXPECT_FALSE(sg::config_value("work", "nothing", env));
  EXPECT_FALSE(sg::config_value("nosuch", "region", env));
}

class credential_process_test : public ::testing::Test {
 protected:
  sg::resolve_result run_with(const std::string& script_body) {
    std::string path = h_.script("creds.sh", script_body);
    write_file(h_.dir.path() / ".aws/config",
               "[profile proc]\ncredential_process = " + path + " --flag\n");
    return resolve(h_, {}, with_profile("proc"));
  }
  home h_{"", ""};
};

TEST_F(credential_process_test, parses_the_json) {
  auto r = run_with(
      "[ \"$1\" = --flag ] || exit 9\n"
      "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"" +
      proc_secret +
      "\", \"SessionToken\": \"PTOKEN\", \"Expiration\": \"2999-01-01T00:00:00Z\"}'\n");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "AKIDPROC");
  EXPECT_EQ(r->secret_access_key.reveal(), proc_secret);
  EXPECT_EQ(r->session_token.reveal(), "PTOKEN");
  ASSERT_TRUE(r->expiration);
  EXPECT_GT(*r->expiration, std::chrono::system_clock::now());
}

TEST_F(credential_process_test, refuses_expired_credentials) {
  auto r =
      run_with("echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"" +
               proc_secret + "\", \"Expiration\": \"2001-01-01T00:00:00.000+00:00\"}'\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("expired"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("'proc'"), std::string::npos) << r.error;
  expect_no_secret(r.error);
}

TEST_F(credential_process_test, bad_json_does_not_leak_the_output) {
  auto r = run_with("echo '{\"Version\": 1, \"SecretAccessKey\": \"" + proc_secret + "\" oops'\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("JSON"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("config"), std::string::npos) << r.error;
  expect_no_secret(r.error);
}

TEST_F(credential_process_test, wrong_version_and_missing_fields) {
  auto v2 = run_with("echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"" +
                     proc_secret + "\"}'\n");
  ASSERT_FALSE(v2);
  EXPECT_NE(v2.error.find("Version"), std::string::npos) << v2.error;
  auto no_secret = run_with("echo '{\"Version\": 1, \"AccessKeyId\": \"A\"}'\n");
  ASSERT_FALSE(no_secret);
  EXPECT_NE(no_secret.error.find("SecretAccessKey"), std::string::npos) << no_secret.error;
}

TEST_F(credential_process_test, failing_command_reports_status) {
  auto r = run_with("echo '" + proc_secret + "'\nexit 7\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("status 7"), std::string::npos) << r.error;
  expect_no_secret(r.error);
}

// A helper that hangs (and a child it started that holds the pipe) is killed at the limit, and
// the error names the profile and the command: a run never waits on it forever.
TEST_F(credential_process_test, a_hung_command_is_killed_at_the_timeout_naming_it) {
  std::string path = h_.script("hang.sh", "sleep 30 &\nsleep 30\n");
  write_file(h_.dir.path() / ".aws/config", "[profile proc]\ncredential_process = " + path + "\n");
  const auto started = std::chrono::steady_clock::now();
  auto r = resolve(h_, {{"CHIME_ONBOARD_CREDENTIAL_PROCESS_TIMEOUT", "0.5"}}, with_profile("proc"));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r);
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_GE(took, std::chrono::milliseconds(500));
  EXPECT_NE(r.error.find("'proc'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(path), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("killed"), std::string::npos) << r.error;
}

TEST(secret_string, copies_and_moves_keep_the_value) {
  sg::secret_string a("abc");
  sg::secret_string b = a;
  sg::secret_string c = std::move(a);
  EXPECT_EQ(b.reveal(), "abc");
  EXPECT_EQ(c.reveal(), "abc");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is wiped
  b = sg::secret_string("longer-than-the-small-string-buffer-of-std-string");
  EXPECT_EQ(b.reveal(), "longer-than-the-small-string-buffer-of-std-string");
}

}  // namespace
