// Where region, endpoint, CA bundle and attempt limit come from, as the AWS CLI does it: a flag
// beats the environment, which beats the config file (of the selected profile), which beats the
// default. Unit level through resolve_aws_settings with an injected environment, then once with
// the real binary: the environment alone points `invite` at the emulator, and a flag overrides it.
#include "cli_env.hpp"

#include <onboard/cli/aws_settings.hpp>
#include <onboard/signing/credentials.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace onboard::testkit;
using namespace std::chrono_literals;
using onboard::aws_flags;
using onboard::resolve_aws_settings;
using onboard::signing::map_environment;

// A config file with values for every setting in [default], and different ones in [profile x]
// (whose Chime endpoint comes from its `[services xs]` section, next to a plain endpoint_url).
// [profile nested] has the per-service form inside the profile, which botocore does not read.
constexpr const char* config_text =
    "[default]\n"
    "region = eu-west-1\n"
    "endpoint_url = https://default-config.example:1001\n"
    "ca_bundle = /config/default-ca.pem\n"
    "max_attempts = 3\n"
    "\n"
    "# a comment\n"
    "[profile x]\n"
    "region = ap-southeast-2\n"
    "endpoint_url = https://x-generic.example:1002\n"
    "services = xs\n"
    "ca_bundle = /config/x-ca.pem\n"
    "max_attempts = 4\n"
    "\n"
    "[services xs]\n"
    "sts =\n"
    "  endpoint_url = https://x-sts.example:1004\n"
    "chime =\n"
    "  endpoint_url = https://x-chime.example:1003\n"
    "\n"
    "[profile nested]\n"
    "region = eu-north-1\n"
    "chime =\n"
    "  endpoint_url = https://nested.example:1005\n"
    "\n"
    "[profile ignoring]\n"
    "region = eu-west-3\n"
    "endpoint_url = https://ignored.example:1006\n"
    "ignore_configured_endpoint_urls = true\n";

constexpr const char* public_endpoint = "https://chime.us-east-1.amazonaws.com";

struct settings_fixture : ::testing::Test {
  temp_dir home;
  std::map<std::string, std::string> vars;
  void SetUp() override {
    write_file(home / "config", config_text);
    vars = {{"HOME", home.path().string()}, {"AWS_CONFIG_FILE", (home / "config").string()}};
  }
  onboard::aws_settings resolve(const aws_flags& flags = {}) {
    return resolve_aws_settings(flags, map_environment(vars));
  }
};

TEST_F(settings_fixture, defaults_when_nothing_is_configured) {
  vars["AWS_CONFIG_FILE"] = (home / "missing").string();
  auto s = resolve();
  EXPECT_EQ(s.profile, "default");
  EXPECT_EQ(s.region.value, "us-east-1");
  EXPECT_EQ(s.region.source, "default");
  EXPECT_EQ(s.endpoint_url.value, public_endpoint);
  EXPECT_EQ(s.endpoint_url.source, "endpoint rules for region us-east-1");
  EXPECT_EQ(s.signing_region.value, "us-east-1");
  EXPECT_EQ(s.ca_bundle.value, "");
  EXPECT_EQ(s.max_attempts.value, "10");
}

TEST_F(settings_fixture, config_file_of_the_default_profile) {
  auto s = resolve();
  EXPECT_EQ(s.region.value, "eu-west-1");
  EXPECT_EQ(s.endpoint_url.value, "https://default-config.example:1001");
  EXPECT_EQ(s.ca_bundle.value, "/config/default-ca.pem");
  EXPECT_EQ(s.max_attempts.value, "3");
  EXPECT_EQ(s.region.source, "config region");
  EXPECT_EQ(s.endpoint_url.source, "config endpoint_url");
  // A configured endpoint keeps the configured region for signing.
  EXPECT_EQ(s.signing_region.value, "eu-west-1");
  EXPECT_EQ(s.signing_region.source, "config region");
}

TEST_F(settings_fixture, the_services_section_beats_the_profile_endpoint) {
  vars["AWS_PROFILE"] = "x";
  auto s = resolve();
  EXPECT_EQ(s.profile, "x");
  EXPECT_EQ(s.region.value, "ap-southeast-2");
  EXPECT_EQ(s.endpoint_url.value, "https://x-chime.example:1003");
  EXPECT_EQ(s.endpoint_url.source, "config [services xs] chime.endpoint_url");
  EXPECT_EQ(s.signing_region.value, "ap-southeast-2");
  EXPECT_EQ(s.ca_bundle.value, "/config/x-ca.pem");
  EXPECT_EQ(s.max_attempts.value, "4");
}

TEST_F(settings_fixture, a_services_section_without_chime_leaves_the_profile_endpoint) {
  write_file(home / "config",
             "[default]\nservices = s\nendpoint_url = https://generic.example\n"
             "[services s]\nsts =\n  endpoint_url = https://sts.example\n");
  EXPECT_EQ(resolve().endpoint_url.value, "https://generic.example");
  // A `services` name with no such section: the same.
  write_file(home / "config",
             "[default]\nservices = missing\nendpoint_url = https://generic.example\n");
  EXPECT_EQ(resolve().endpoint_url.value, "https://generic.example");
}

// The same rules for the services the credential chain calls: STS and the SSO portal.
TEST_F(settings_fixture, other_services_follow_the_same_endpoint_rules) {
  auto sts = [&](const std::string& profile) {
    return onboard::configured_endpoint_url("sts", "", profile, map_environment(vars));
  };
  EXPECT_EQ(sts("x").value, "https://x-sts.example:1004");
  EXPECT_EQ(sts("x").source, "config [services xs] sts.endpoint_url");
  EXPECT_EQ(sts("default").value, "https://default-config.example:1001");
  EXPECT_EQ(sts("ignoring").value, "");
  vars["AWS_ENDPOINT_URL"] = "https://all.example";
  EXPECT_EQ(sts("x").value, "https://all.example");
  vars["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9000";
  EXPECT_EQ(sts("x").value, "http://127.0.0.1:9000");
  EXPECT_EQ(sts("x").source, "AWS_ENDPOINT_URL_STS");
  EXPECT_EQ(onboard::configured_endpoint_url("sso", "", "x", map_environment(vars)).value,
            "https://all.example");
}

TEST_F(settings_fixture, the_per_service_form_inside_a_profile_is_not_read_as_botocore_does_not) {
  vars["AWS_PROFILE"] = "nested";
  auto s = resolve();
  EXPECT_EQ(s.endpoint_url.value, public_endpoint);
  EXPECT_EQ(s.signing_region.value, "us-east-1");
}

TEST_F(settings_fixture, the_public_endpoint_is_signed_with_us_east_1_whatever_the_region) {
  vars["AWS_CONFIG_FILE"] = (home / "missing").string();
  vars["AWS_REGION"] = "eu-west-1";
  auto s = resolve();
  EXPECT_EQ(s.region.value, "eu-west-1");
  EXPECT_EQ(s.endpoint_url.value, public_endpoint);
  EXPECT_EQ(s.signing_region.value, "us-east-1");
  EXPECT_EQ(s.signing_region.source, "endpoint rules for region eu-west-1");
  // Outside the `aws` partition the endpoint is regional, and so is the signature.
  vars["AWS_REGION"] = "cn-northwest-1";
  s = resolve();
  EXPECT_EQ(s.endpoint_url.value, "https://chime.cn-northwest-1.amazonaws.com.cn");
  EXPECT_EQ(s.signing_region.value, "cn-northwest-1");
  // An explicit endpoint keeps the configured region.
  vars["AWS_REGION"] = "eu-west-1";
  aws_flags f;
  f.endpoint_url = public_endpoint;
  s = resolve(f);
  EXPECT_EQ(s.signing_region.value, "eu-west-1");
  EXPECT_EQ(s.signing_region.source, "AWS_REGION");
}

TEST_F(settings_fixture, ignoring_configured_endpoints_leaves_only_the_flag) {
  vars["AWS_PROFILE"] = "x";
  vars["AWS_ENDPOINT_URL_CHIME"] = "https://env-chime.example:2002";
  vars["AWS_ENDPOINT_URL"] = "https://env-generic.example:2001";
  vars["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "TRUE";
  auto s = resolve();
  EXPECT_EQ(s.endpoint_url.value, public_endpoint);
  EXPECT_EQ(s.signing_region.value, "us-east-1");
  aws_flags f;
  f.endpoint_url = "https://flag.example:3001";
  EXPECT_EQ(resolve(f).endpoint_url.value, "https://flag.example:3001");
  // Only "true" is true (botocore's ensure_boolean).
  vars["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "1";
  EXPECT_EQ(resolve().endpoint_url.value, "https://env-chime.example:2002");

  // The profile's setting, when the environment says nothing; the environment's word wins.
  vars.erase("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  vars.erase("AWS_ENDPOINT_URL_CHIME");
  vars.erase("AWS_ENDPOINT_URL");
  vars["AWS_PROFILE"] = "ignoring";
  s = resolve();
  EXPECT_EQ(s.endpoint_url.value, public_endpoint);
  vars["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "false";
  s = resolve();
  EXPECT_EQ(s.endpoint_url.value, "https://ignored.example:1006");
  EXPECT_EQ(s.signing_region.value, "eu-west-3");
}

TEST_F(settings_fixture, environment_beats_config) {
  vars["AWS_PROFILE"] = "x";
  vars["AWS_REGION"] = "us-west-2";
  vars["AWS_ENDPOINT_URL"] = "https://env-generic.example:2001";
  vars["AWS_CA_BUNDLE"] = "/env/ca.pem";
  vars["AWS_MAX_ATTEMPTS"] = "5";
  auto s = resolve();
  EXPECT_EQ(s.region.value, "us-west-2");
  EXPECT_EQ(s.region.source, "AWS_REGION");
  // The generic environment variable beats even the service-specific config key.
  EXPECT_EQ(s.endpoint_url.value, "https://env-generic.example:2001");
  EXPECT_EQ(s.endpoint_url.source, "AWS_ENDPOINT_URL");
  EXPECT_EQ(s.ca_bundle.value, "/env/ca.pem");
  EXPECT_EQ(s.ca_bundle.source, "AWS_CA_BUNDLE");
  EXPECT_EQ(s.max_attempts.value, "5");
  EXPECT_EQ(s.max_attempts.source, "AWS_MAX_ATTEMPTS");

  // The Chime-specific variable beats the generic one; AWS_REGION beats AWS_DEFAULT_REGION.
  vars["AWS_ENDPOINT_URL_CHIME"] = "https://env-chime.example:2002";
  vars["AWS_DEFAULT_REGION"] = "sa-east-1";
  s = resolve();
  EXPECT_EQ(s.endpoint_url.value, "https://env-chime.example:2002");
  EXPECT_EQ(s.endpoint_url.source, "AWS_ENDPOINT_URL_CHIME");
  EXPECT_EQ(s.region.value, "us-west-2");
  vars.erase("AWS_REGION");
  EXPECT_EQ(resolve().region.value, "sa-east-1");
  EXPECT_EQ(resolve().region.source, "AWS_DEFAULT_REGION");
}

TEST_F(settings_fixture, flags_beat_environment_and_config) {
  vars["AWS_PROFILE"] = "x";
  vars["AWS_REGION"] = "us-west-2";
  vars["AWS_ENDPOINT_URL_CHIME"] = "https://env-chime.example:2002";
  vars["AWS_CA_BUNDLE"] = "/env/ca.pem";
  vars["AWS_MAX_ATTEMPTS"] = "5";
  aws_flags f;
  f.region = "eu-central-1";
  f.endpoint_url = "https://flag.example:3001";
  f.ca_bundle = "/flag/ca.pem";
  f.max_attempts = "6";
  auto s = resolve(f);
  EXPECT_EQ(s.region.value, "eu-central-1");
  EXPECT_EQ(s.region.source, "--region");
  EXPECT_EQ(s.endpoint_url.value, "https://flag.example:3001");
  EXPECT_EQ(s.endpoint_url.source, "--endpoint-url");
  EXPECT_EQ(s.ca_bundle.value, "/flag/ca.pem");
  EXPECT_EQ(s.ca_bundle.source, "--ca-bundle");
  EXPECT_EQ(s.max_attempts.value, "6");
  EXPECT_EQ(s.max_attempts.source, "--max-attempts");
}

TEST_F(settings_fixture, profile_flag_beats_aws_profile_and_selects_the_config_section) {
  vars["AWS_PROFILE"] = "x";
  aws_flags f;
  f.profile = "default";
  auto s = resolve(f);
  EXPECT_EQ(s.profile, "default");
  EXPECT_EQ(s.region.value, "eu-west-1");
  EXPECT_EQ(s.endpoint_url.value, "https://default-config.example:1001");

  vars.erase("AWS_PROFILE");
  f.profile = "x";
  s = resolve(f);
  EXPECT_EQ(s.profile, "x");
  EXPECT_EQ(s.region.value, "ap-southeast-2");
  EXPECT_EQ(s.endpoint_url.value, "https://x-chime.example:1003");

  // A profile with no section: nothing from the file, defaults.
  f.profile = "nobody";
  s = resolve(f);
  EXPECT_EQ(s.region.value, "us-east-1");
  EXPECT_EQ(s.endpoint_url.value, public_endpoint);
}

// The real binary: with no endpoint or CA flag, the environment points it at the emulator; an
// --endpoint-url flag overrides that environment (and then fails to connect: port 1).
TEST(aws_settings_process, environment_points_invite_at_the_emulator_and_a_flag_overrides_it) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", cli_test::numbered_addresses(60));
  auto env = cli_test::client_env(dir.path());
  env.env_set["AWS_ENDPOINT_URL_CHIME"] = emu.url();
  env.env_set["AWS_CA_BUNDLE"] = emu.ca_path().string();
  std::vector<std::string> argv = {cli(),          "invite",
                                   "--account-id", "acct-1",
                                   "--input",      (dir / "users.txt").string(),
                                   "--journal",    (dir / "run.journal").string(),
                                   "--progress",   "off",
                                   "--output",     "json",
                                   "--yes"};
  auto r = run(argv, env, 1min);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(emu.stat("invites_applied"), 60u);

  argv.insert(argv.end(),
              {"--endpoint-url", "https://127.0.0.1:1", "--max-attempts", "1", "--journal",
               (dir / "other.journal").string(), "--report", (dir / "other-report.csv").string()});
  auto start = std::chrono::steady_clock::now();
  r = run(argv, env, 1min);
  // Nothing listens on port 1: the pre-flight gets no answer, exit 7, saying where it tried.
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_TRUE(cli_test::contains(r.err, "cannot connect to 127.0.0.1:1"))
      << "names where it tried: " << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_EQ(emu.stat("invites_applied"), 60u) << "the flag won: nothing more reached the emulator";
}

}  // namespace
