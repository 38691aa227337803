// Roles from STS through the run's credential chain, against the STS responder
// (aws_responders.hpp): AssumeRole signed with the source profile's keys (checked by the
// project's verifier), a role of a role, credential_source, the refusals botocore makes
// (mfa_serial, loops, both or neither source), and AssumeRoleWithWebIdentity with its token
// file read at every refresh.
#include "aws_responders.hpp"
#include "cli_env.hpp"

#include <onboard/cli/credential_chain.hpp>

#include <gtest/gtest.h>

namespace {

using namespace onboard;
using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;

signing::credentials base_keys() {
  signing::credentials c;
  c.access_key_id = "AKIABASE";
  c.secret_access_key = signing::secret_string("baseSecret/K7MDENG");
  return c;
}

// role_setup: a HOME with the given config and base's keys in the credentials file, and an
// STS responder; env() points the chain at both.
struct role_setup {
  temp_dir home;
  sts_service sts{base_keys()};
  credential_responder server{sts.handler()};
  explicit role_setup(const std::string& config) {
    write_file(home / "config", config);
    write_file(
        home / "credentials",
        "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = baseSecret/K7MDENG\n");
  }
  std::map<std::string, std::string> vars() const {
    return {{"HOME", home.path().string()},
            {"AWS_CONFIG_FILE", (home / "config").string()},
            {"AWS_SHARED_CREDENTIALS_FILE", (home / "credentials").string()},
            {"AWS_EC2_METADATA_DISABLED", "true"},
            {"AWS_ENDPOINT_URL_STS", server.url("/")}};
  }
  signing::resolve_result resolve(const std::string& profile,
                                  std::map<std::string, std::string> extra = {}) const {
    auto v = vars();
    for (auto& [k, val] : extra) v[k] = val;
    signing::resolve_options o;
    o.profile = profile;
    return resolve_run_credentials(o, signing::map_environment(v));
  }
};

TEST(assume_role, a_source_profile_signs_the_call_and_every_refresh) {
  role_setup s(
      "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/Deploy\nsource_profile = base\n"
      "role_session_name = night-run\nexternal_id = ext-7\nduration_seconds = 3600\n");
  auto r = s.resolve("deploy");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "ASIADEPLOY1");
  EXPECT_EQ(r->session_token.reveal(), "token-ASIADEPLOY1");
  EXPECT_EQ(r->source, "assume-role (profile deploy via source_profile base)");
  ASSERT_TRUE(r->expiration.has_value());
  auto calls = s.sts.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["_verdict"], "ok");
  EXPECT_EQ(calls[0]["_signed_by"], "AKIABASE");
  EXPECT_EQ(calls[0]["RoleArn"], "arn:aws:iam::123456789012:role/Deploy");
  EXPECT_EQ(calls[0]["RoleSessionName"], "night-run");
  EXPECT_EQ(calls[0]["ExternalId"], "ext-7");
  EXPECT_EQ(calls[0]["DurationSeconds"], "3600");

  ASSERT_TRUE(r.refetch);
  auto again = r.refetch();
  ASSERT_TRUE(again) << again.error;
  EXPECT_EQ(again->access_key_id, "ASIADEPLOY2");
  EXPECT_EQ(s.sts.calls().back()["_verdict"], "ok");
}

// A role whose source is another role: the inner role's temporary keys (and session token)
// sign the outer call; the default session name is botocore's.
TEST(assume_role, a_role_of_a_role_is_signed_with_the_inner_role_keys) {
  role_setup s(
      "[profile outer]\nrole_arn = arn:aws:iam::111111111111:role/Outer\nsource_profile = inner\n"
      "[profile inner]\nrole_arn = arn:aws:iam::222222222222:role/Inner\nsource_profile = base\n");
  auto r = s.resolve("outer");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "ASIAOUTER1");
  auto calls = s.sts.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0]["RoleArn"], "arn:aws:iam::222222222222:role/Inner");
  EXPECT_EQ(calls[0]["_signed_by"], "AKIABASE");
  EXPECT_EQ(calls[1]["_signed_by"], "ASIAINNER1");
  EXPECT_EQ(calls[1]["_verdict"], "ok");
  EXPECT_EQ(calls[1]["RoleSessionName"].rfind("botocore-session-", 0), 0u)
      << calls[1]["RoleSessionName"];
}

TEST(assume_role, credential_source_environment_signs_with_the_environment_keys) {
  role_setup s(
      "[default]\nrole_arn = arn:aws:iam::123456789012:role/FromEnv\n"
      "credential_source = Environment\n");
  // With --profile the environment is not a source of its own, but credential_source still
  // reads it, as botocore's does.
  auto r = s.resolve("default", {{"AWS_ACCESS_KEY_ID", "AKIABASE"},
                                 {"AWS_SECRET_ACCESS_KEY", "baseSecret/K7MDENG"}});
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "ASIAFROMENV1");
  EXPECT_EQ(r->source, "assume-role (profile default via credential_source Environment)");
}

TEST(assume_role, refusals_name_the_profile) {
  role_setup s(
      "[profile mfa]\nrole_arn = arn:aws:iam::1:role/M\nsource_profile = base\n"
      "mfa_serial = arn:aws:iam::1:mfa/me\n"
      "[profile both]\nrole_arn = arn:aws:iam::1:role/B\nsource_profile = base\n"
      "credential_source = Environment\n"
      "[profile neither]\nrole_arn = arn:aws:iam::1:role/N\n"
      "[profile loop-a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = loop-b\n"
      "[profile loop-b]\nrole_arn = arn:aws:iam::1:role/B\nsource_profile = loop-a\n"
      "[profile odd]\nrole_arn = arn:aws:iam::1:role/O\ncredential_source = Laptop\n"
      "[profile short]\nrole_arn = arn:aws:iam::1:role/S\nsource_profile = base\n"
      "duration_seconds = 60s\n"
      "[profile orphan]\nrole_arn = arn:aws:iam::1:role/O\nsource_profile = nobody\n");
  const std::map<std::string, std::string> expected{
      {"mfa", "mfa_serial"},
      {"both", "both source_profile and credential_source"},
      {"neither", "neither"},
      {"loop-a", "already on the chain"},
      {"odd", "'Laptop'"},
      {"short", "duration_seconds '60s'"},
      {"orphan", "'nobody' does not exist"}};
  for (const auto& [profile, says] : expected) {
    auto r = s.resolve(profile);
    ASSERT_FALSE(r) << profile;
    EXPECT_NE(r.error.find("profile '" + profile + "'"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find(says), std::string::npos) << r.error;
  }
  EXPECT_TRUE(s.sts.calls().empty());
}

TEST(assume_role, sts_refusing_is_an_error_naming_the_role_and_the_code) {
  role_setup s("[profile deploy]\nrole_arn = arn:aws:iam::1:role/Deploy\nsource_profile = base\n");
  write_file(s.home / "credentials",
             "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = wrong\n");
  auto r = s.resolve("deploy");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("arn:aws:iam::1:role/Deploy"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("SignatureDoesNotMatch"), std::string::npos) << r.error;
  EXPECT_EQ(s.sts.calls().at(0)["_verdict"], "signature_mismatch");
}

TEST(web_identity, the_environment_form_rereads_the_token_file_at_every_refresh) {
  role_setup s("");
  write_file(s.home / "token", "first-jwt\n");
  s.sts.set_web_token("first-jwt");
  std::map<std::string, std::string> env{
      {"AWS_WEB_IDENTITY_TOKEN_FILE", (s.home / "token").string()},
      {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/Pod"},
      {"AWS_ROLE_SESSION_NAME", "pod-7"}};
  auto v = s.vars();
  v.insert(env.begin(), env.end());
  auto r = resolve_run_credentials({}, signing::map_environment(v));
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "ASIAPOD1");
  EXPECT_NE(r->source.find("web-identity"), std::string::npos) << r->source;
  auto calls = s.sts.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["_verdict"], "unsigned");
  EXPECT_EQ(calls[0]["RoleSessionName"], "pod-7");

  write_file(s.home / "token", "rotated-jwt");
  s.sts.set_web_token("rotated-jwt");
  ASSERT_TRUE(r.refetch);
  auto again = r.refetch();
  ASSERT_TRUE(again) << again.error;
  EXPECT_EQ(again->access_key_id, "ASIAPOD2");
  EXPECT_EQ(s.sts.calls().back()["WebIdentityToken"], "rotated-jwt");
}

TEST(web_identity, a_profile_form_without_role_arn_is_an_error) {
  role_setup s("[profile pod]\nweb_identity_token_file = /nonexistent/token\n");
  auto r = s.resolve("pod");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("role_arn"), std::string::npos) << r.error;
}

}  // namespace
