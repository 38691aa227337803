// endpoint_botocore_test.cpp: the same config files, environment and flags give the same
// endpoint URL and signing region in `chime-onboard endpoint` and in Debian's botocore
// (botocore_endpoint.py, which catches the request botocore would send).
//
// Debian's python3-botocore (1.29) predates service-specific endpoints (AWS_ENDPOINT_URL*,
// `[services]` sections, ignore_configured_endpoint_urls: botocore 1.31); those are held to
// botocore's documented order by aws_settings_test. What 1.29 does know is checked here: the
// region's sources, the endpoint rules in every partition, and an explicit endpoint URL.
#include "cli_env.hpp"

#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

struct resolved {
  std::string endpoint_url;
  std::string signing_region;
};

struct endpoint_case {
  std::string what;
  std::string config;
  std::map<std::string, std::string> env;
  std::vector<std::string> flags;  // --profile / --region / --endpoint-url, as both take them
};

std::optional<resolved> parse(const std::string& out) {
  auto j = parse_json_object(out);
  if (!j) return std::nullopt;
  return resolved{std::string(j->at("endpoint_url").as_string()),
                  std::string(j->at("signing_region").as_string())};
}

TEST(endpoint_botocore, the_same_files_give_the_same_endpoint_and_signing_region) {
  const std::string script = ONBOARD_SOURCE_DIR "/tests/engine/cli/botocore_endpoint.py";
  const std::string config =
      "[default]\nregion = eu-west-1\n"
      "[profile cn]\nregion = cn-north-1\n"
      "[profile gov]\nregion = us-gov-west-1\n"
      "[profile iso]\nregion = us-iso-east-1\n";
  const std::vector<endpoint_case> cases = {
      {"default profile in aws", config, {}, {}},
      {"AWS_REGION", config, {{"AWS_REGION", "ap-southeast-2"}}, {}},
      {"AWS_DEFAULT_REGION", config, {{"AWS_DEFAULT_REGION", "sa-east-1"}}, {}},
      {"--region", config, {{"AWS_REGION", "ap-southeast-2"}}, {"--region", "eu-central-1"}},
      {"aws-global", config, {}, {"--region", "aws-global"}},
      {"aws-cn by AWS_PROFILE", config, {{"AWS_PROFILE", "cn"}}, {}},
      {"aws-us-gov by --profile", config, {}, {"--profile", "gov"}},
      {"aws-iso", config, {}, {"--profile", "iso"}},
      {"explicit endpoint keeps the region",
       config,
       {},
       {"--endpoint-url", "https://127.0.0.1:8443"}},
      {"explicit endpoint with a path, in aws-cn",
       config,
       {{"AWS_PROFILE", "cn"}},
       {"--endpoint-url", "https://chime.example.com/base"}},
  };
  for (const auto& c : cases) {
    temp_dir home;
    write_file(home / "config", c.config);
    auto env = clean_env(home.path());
    env.env_set["AWS_CONFIG_FILE"] = (home / "config").string();
    env.env_set["AWS_SHARED_CREDENTIALS_FILE"] = (home / "credentials").string();
    for (const auto& [k, v] : c.env) env.env_set[k] = v;

    std::vector<std::string> ours = {cli(), "endpoint", "--output", "json"};
    ours.insert(ours.end(), c.flags.begin(), c.flags.end());
    auto r1 = run(ours, env, 30s);
    ASSERT_EQ(r1.status, 0) << c.what << ": " << r1.err;

    std::vector<std::string> theirs = {"/usr/bin/python3", script};
    theirs.insert(theirs.end(), c.flags.begin(), c.flags.end());
    auto r2 = run(theirs, env, 60s);
    if (r2.status == 3) GTEST_SKIP() << r2.err;
    ASSERT_EQ(r2.status, 0) << c.what << ": " << r2.err;

    auto a = parse(r1.out), b = parse(r2.out);
    ASSERT_TRUE(a && b) << c.what << ": " << r1.out << " / " << r2.out;
    EXPECT_EQ(a->endpoint_url, b->endpoint_url) << c.what;
    EXPECT_EQ(a->signing_region, b->signing_region) << c.what;
  }
}

}  // namespace
